"""The GitLab template, run by gitlab-ci-local on a copy of the sample project, included as users
include it (`include: project: acme/mlci`, `ref:` a tag, `file:`, `inputs:`)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from mlci._version import __version__
from mlci.session.junit import totals
from tests.e2e.gitlab_harness import bare_kit, caller, run_pipeline
from tests.hostile import payloads
from tests.sample import FLAKY_ID, add_a_flaky_test, git
from tests.torch_setups import as_the_guide_writes_it

pytestmark = pytest.mark.integ

JOBS = ("mlci-plan", "mlci-lint", "mlci-mypy", "mlci-unit: [3.11]", "mlci-integ", "mlci-nbmake")


@pytest.fixture(scope="module")
def remotes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bare_kit(tmp_path_factory.mktemp("gitlab"), extra_tags=("v9.9.9",))


def test_the_matrix_has_one_unit_job_per_python_and_the_expanded_pipeline_is_valid(
    tmp_path: Path, remotes: Path
) -> None:
    project = caller(tmp_path / "sample", {"python-versions": ["3.11", "3.12", "3.13"]})
    listed = run_pipeline(project, remotes, tmp_path, "--list")
    assert listed.returncode == 0, listed.output
    units = sorted(
        line.split()[1] for line in listed.output.splitlines() if line.startswith("mlci-unit: ")
    )
    assert units == ["[3.11]", "[3.12]", "[3.13]"]
    # gitlab-ci-local writes the pipeline it expanded (includes and inputs resolved).
    expanded = project / ".gitlab-ci-local" / "expanded-gitlab-ci.yml"
    done = subprocess.run(
        ["check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(expanded)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_every_session_runs_for_real_and_passes(tmp_path: Path, remotes: Path) -> None:
    """The whole sample, its two-process DDP test included, and a test that passes only on its
    rerun: flaky in the JUnit report GitLab's test report reads."""
    project = caller(tmp_path / "sample", edit=add_a_flaky_test)
    pipeline = run_pipeline(project, remotes, tmp_path, quick=False)
    assert pipeline.returncode == 0, pipeline.output[-5000:]
    assert pipeline.status() == dict.fromkeys(JOBS, "PASS")
    for session in ("lint", "mypy", "unit-3.11", "integ", "nbmake"):
        assert f"nox > Session {session} was successful" in pipeline.output
    unit = pipeline.artifacts("mlci-unit") / "mlci-reports" / "unit-3.11"
    assert totals(unit / "junit.xml").tests > 20
    assert "line-rate" in (unit / "coverage.xml").read_text()
    junit = (unit / "junit.xml").read_text()
    assert 'name="mlci.flaky"' in junit and "mlci: FLAKY: failed 1 time(s)" in junit
    assert f"mlci: unit: 1 flaky (failed, then passed on a rerun): {FLAKY_ID}" in (pipeline.output)
    assert re.search(r'<testcase classname="tests.test_ddp" name="[^"]+"[^>]*/>', junit)
    # The template's coverage: regex found the figure (GitLab shows it in merge requests).
    assert re.search(r"PASS +mlci-unit: \[3\.11\] +\d+(\.\d+)?% coverage", pipeline.output)
    dotenv = pipeline.artifacts("mlci-plan") / ".gitlab-ci-reports" / "dotenv" / "mlci-plan.env"
    plan_env = dotenv.read_text()
    assert "MLCI_PYTHON_VERSIONS=3.11\n" in plan_env


def break_a_test(sample: Path) -> None:
    (sample / "tests" / "test_broken.py").write_text("def test_broken():\n    assert 1 + 1 == 3\n")


def test_a_project_with_its_own_cuda_torch_index_runs_unit_with_the_jobs_cpu_build(
    tmp_path: Path, remotes: Path
) -> None:
    """uv's PyTorch guide setup (an explicit CUDA index for torch on Linux): the CPU job
    replaces that index with its own build instead of failing on conflicting indexes."""
    inputs = {"python-versions": ["3.11"], "sessions": ["unit"]}
    project = caller(tmp_path / "sample", inputs, edit=as_the_guide_writes_it)
    pipeline = run_pipeline(project, remotes, tmp_path)
    assert pipeline.status() == {"mlci-plan": "PASS", "mlci-unit: [3.11]": "PASS"}, pipeline.output[
        -3000:
    ]
    assert "its torch index pytorch-cu128 replaced by the job's" in pipeline.output


def test_a_failing_test_fails_the_pipeline(tmp_path: Path, remotes: Path) -> None:
    project = caller(
        tmp_path / "sample", {"python-versions": ["3.11"], "sessions": ["unit"]}, edit=break_a_test
    )
    pipeline = run_pipeline(project, remotes, tmp_path)
    assert pipeline.returncode != 0
    assert pipeline.status() == {"mlci-plan": "PASS", "mlci-unit: [3.11]": "FAIL"}
    assert "FAILED tests/test_broken.py::test_broken" in pipeline.output
    junit = pipeline.artifacts("mlci-unit") / "mlci-reports" / "unit-3.11" / "junit.xml"
    assert totals(junit).failures == 1  # kept: artifacts are collected when: always


def test_a_bad_input_fails_in_the_plan_job(tmp_path: Path, remotes: Path) -> None:
    project = caller(tmp_path / "sample", {"python-versions": ["3.99"], "sessions": ["unit"]})
    pipeline = run_pipeline(project, remotes, tmp_path)
    assert pipeline.returncode != 0
    assert pipeline.status()["mlci-plan"] == "FAIL"
    assert "mlci-unit: [3.99]" not in pipeline.status()  # never started
    assert "python-versions: 3.99 is not available for torch" in pipeline.output


def test_the_template_refuses_another_mlci_release(tmp_path: Path, remotes: Path) -> None:
    """v9.9.9 is a tag on this same commit: the installed mlci is not the release asked for."""
    project = caller(
        tmp_path / "sample",
        {"python-versions": ["3.11"], "sessions": ["lint"], "mlci-version": "v9.9.9"},
    )
    pipeline = run_pipeline(project, remotes, tmp_path)
    assert pipeline.status()["mlci-plan"] == "FAIL"
    assert "the CI template asks for mlci v9.9.9 but mlci" in pipeline.output


@pytest.mark.parametrize(
    ("gpu_torch", "backends"),
    # Image mode: one job per image (the image's torch decides the CUDA build).
    [("build", ["cu126", "cu130"]), ("image", ["cu130"])],
)
def test_gpu_include_adds_one_job_per_cuda_build_that_fails_without_a_device(
    tmp_path: Path, remotes: Path, gpu_torch: str, backends: list[str]
) -> None:
    gpu = {"gpu-runner": ["gpu-box"], "gpu-backends": backends, "gpu-torch": gpu_torch}
    project = caller(
        tmp_path / "sample", {"python-versions": ["3.11"], "sessions": ["gpu"]}, gpu_inputs=gpu
    )
    pipeline = run_pipeline(project, remotes, tmp_path)
    names = [f"mlci-gpu: [{backend}]" for backend in backends] if gpu_torch == "build" else []
    # The gpu jobs are the child pipeline's that mlci-plan wrote; gitlab-ci-local passes the
    # trigger job whatever its child did, where GitLab's `strategy: depend` fails it
    # (test_gitlab_files.py checks that from GitLab's documentation).
    jobs = {name: state for name, state in pipeline.status().items() if state != "WARN"}
    assert jobs == {
        "mlci-plan": "PASS",
        "mlci-gpu": "PASS",
        **{name: "FAIL" for name in names or ["mlci-gpu: [image]"]},
    }
    assert "gpu: no CUDA device visible (nvidia-smi not found on PATH)" in pipeline.output
    assert re.search(rf'gpu-torch +"{gpu_torch}" +environment \(MLCI_GPU_TORCH\)', pipeline.output)
    assert " pip install " not in pipeline.output  # refused before any install, either mode


# Inputs GitLab itself checks (type, `options:` or `regex:` in the template's spec); the others
# reach the jobs as variables, where `mlci plan` checks them.
GITLAB_CHECKED = (
    "torch-version",
    "torch-backend",
    "working-directory",
    "coverage-fail-under",
    "testmon",
    "resolution",
    "mlci-repository",
    "mlci-version",
)


@pytest.mark.parametrize("kind", list(payloads(Path("marker"))))
def test_hostile_values_are_rejected_naming_each_input_and_never_run(
    tmp_path: Path, remotes: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLCI_TORCH_INDEX", raising=False)  # the harness would override the input
    marker = tmp_path / "marker"
    value = payloads(marker)[kind]
    hostile = {"python-versions": [value], "sessions": [value], "torch-index": value}
    pipeline = run_pipeline(caller(tmp_path / "sample", hostile), remotes, tmp_path)
    assert pipeline.returncode != 0
    assert not marker.exists()
    if kind == "very long value":  # GitLab's CI schema refuses it before any job exists
        assert "Invalid .gitlab-ci.yml configuration" in pipeline.output
        assert pipeline.status() == {}
        return
    assert pipeline.status() == {"mlci-plan": "FAIL"}, pipeline.output[-3000:]
    for name in hostile:
        assert f"{name} (from MLCI_{name.upper().replace('-', '_')}):" in pipeline.output, name


@pytest.mark.parametrize("name", GITLAB_CHECKED)
def test_inputs_gitlab_checks_refuse_a_hostile_value_by_name(
    tmp_path: Path, remotes: Path, name: str
) -> None:
    marker = tmp_path / "marker"
    inputs = {"python-versions": ["3.11"], name: payloads(marker)["command substitution"]}
    pipeline = run_pipeline(caller(tmp_path / "sample", inputs), remotes, tmp_path)
    assert pipeline.returncode != 0
    assert pipeline.status() == {}  # refused while the include is read: no job at all
    assert f"`{name}` input:" in pipeline.output
    assert not marker.exists()


@pytest.mark.parametrize(
    ("inputs", "refusal"),
    [
        ({"python-versions": "3.11"}, "`python-versions` input:"),  # a string for an array
        ({"python-versions": ["3.11"], "testmon": True}, "`testmon` input:"),  # not a string
    ],
    # An unknown input name is not in this table: GitLab refuses it, gitlab-ci-local ignores it.
    ids=["string for array", "boolean for string"],
)
def test_unknown_names_and_wrong_types_are_refused_by_name(
    tmp_path: Path, remotes: Path, inputs: dict[str, object], refusal: str
) -> None:
    pipeline = run_pipeline(caller(tmp_path / "sample", inputs), remotes, tmp_path)
    assert pipeline.returncode != 0
    assert pipeline.status() == {}
    assert refusal in pipeline.output, pipeline.output[-2000:]


def test_testmon_data_is_carried_to_the_next_pipeline(tmp_path: Path, remotes: Path) -> None:
    """testmon on: the unit job's cache keeps its data, so the next pipeline runs only what
    changed (here: nothing)."""
    inputs = {"python-versions": ["3.11"], "sessions": ["unit"], "testmon": "true"}
    project = caller(tmp_path / "sample", inputs)
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = run_pipeline(project, remotes, tmp_path / "first")
    assert first.status() == {"mlci-plan": "PASS", "mlci-unit: [3.11]": "PASS"}, first.output[
        -3000:
    ]
    assert re.search(r"collected \d+ items / \d+ deselected / [1-9]\d* selected", first.output)

    second = run_pipeline(project, remotes, tmp_path / "second")
    assert second.status() == {"mlci-plan": "PASS", "mlci-unit: [3.11]": "PASS"}
    assert "imported cache 'mlci-testmon-mlci-unit-3-11-" in second.output  # not the project
    assert re.search(r"collected \d+ items / \d+ deselected / 0 selected", second.output)


def test_the_catalog_component_runs_the_same_pipeline(tmp_path: Path, remotes: Path) -> None:
    """`include: component:` as a catalog user writes it, resolved by gitlab-ci-local from the
    kit's tag (git archive over its ssh remote, rewritten to the local bare clone)."""
    import yaml

    def as_component(sample: Path) -> None:
        path = sample / ".gitlab-ci.yml"
        path.write_text(
            yaml.safe_dump(
                {
                    "include": [
                        {
                            "component": f"$CI_SERVER_FQDN/acme/mlci/mlci@v{__version__}",
                            "inputs": {"python-versions": ["3.11"], "sessions": ["unit"]},
                        }
                    ]
                }
            )
        )

    pipeline = run_pipeline(caller(tmp_path / "sample", edit=as_component), remotes, tmp_path)
    assert pipeline.returncode == 0, pipeline.output[-4000:]
    assert pipeline.status() == {"mlci-plan": "PASS", "mlci-unit: [3.11]": "PASS"}
    # The component installed the mlci of its own commit, and the plan checked it.
    commit = git(Path(remotes / "acme" / "mlci.git"), "rev-parse", f"v{__version__}^{{commit}}")
    assert f"git+https://gitlab.com/acme/mlci.git@{commit.strip()}" in pipeline.output


def test_the_kits_own_pipeline_includes_its_component_from_this_commit(tmp_path: Path) -> None:
    """gitlab-ci-local resolves `component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/mlci@$CI_COMMIT_SHA`
    offline from the working tree (the project's own component at HEAD)."""
    from tests.e2e.act_harness import kit_copy
    from tests.e2e.gitlab_harness import gitlab_ci_local

    kit = kit_copy(tmp_path / "kit")  # committed; a GitLab clone also has its origin
    git(kit, "remote", "add", "origin", "git@gitlab.com:acme/mlci.git")
    done = subprocess.run(
        [gitlab_ci_local(), "--list"], cwd=kit, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines()[1:] if line.strip()}
    assert {"mlci-plan", "mlci-lint", "mlci-unit:"} <= listed
    assert "catalog-release" not in listed  # a branch pipeline: no release
