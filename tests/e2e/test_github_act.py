"""The reusable workflow, run by act on a copy of the sample project, called as users call it.

The caller is the sample's own `.github/workflows/ci.yml` (`uses: acme/mlci/...test.yml@v0`),
with act's `--local-repository acme/mlci@v0=<a copy of this kit tagged v0>`. act leaves
`job.workflow_repository`/`job.workflow_sha` empty, so each run also passes the documented
fallback inputs `mlci-repository` and `mlci-ref` (except the test that checks they are needed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci.session.junit import totals
from tests.e2e.act_harness import KIT_REF, ActRun, kit_copy, run_act, sample_copy
from tests.hostile import CI_OPTIONS, payloads
from tests.hub_stand_in import serving
from tests.sample import FLAKY_ID, add_a_flaky_test
from tests.torch_setups import as_the_guide_writes_it

pytestmark = pytest.mark.integ

FALLBACK = {"mlci-repository": "acme/mlci", "mlci-ref": KIT_REF}
LEGS = ("lint", "mypy", "unit (3.11)", "integ", "nbmake")


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kit_copy(tmp_path_factory.mktemp("kit"))


def results(run: ActRun) -> dict[str, str]:
    return run.job_results()


def act(
    tmp_path: Path,
    kit: Path,
    with_lines: dict[str, str],
    *,
    edit: Callable[[Path], None] | None = None,
    labels: tuple[str, ...] = ("ubuntu-latest",),
    event: dict[str, object] | None = None,
    cache: Path | None = None,
    quick: bool = True,
) -> ActRun:
    caller = sample_copy(tmp_path / "sample", with_lines, edit=edit)
    return run_act(caller, kit, tmp_path / "act", labels, event=event, cache=cache, quick=quick)


def test_every_session_runs_for_real_and_the_required_check_passes(
    tmp_path: Path, kit: Path
) -> None:
    """The whole sample, its two-process DDP test included, and a test that passes only on its
    rerun: reported flaky in the log, the job summary and the JUnit report."""
    inputs = {**FALLBACK, "python-versions": "'[\"3.11\"]'"}
    run = act(tmp_path, kit, inputs, edit=add_a_flaky_test, quick=False)
    assert run.returncode == 0, run.text[-5000:]
    assert results(run) == {
        "plan": "success",
        **{leg: "success" for leg in LEGS},
        "mlci": "success",
    }
    log = run.text
    assert f"checkout stand-in: acme/mlci at {KIT_REF}" in log  # the kit at the workflow's own ref
    for session in ("lint", "mypy", "unit-3.11", "integ", "nbmake"):
        assert f"nox > Session {session} was successful" in log
    unit = run.artifacts / "mlci-reports-unit-3.11"
    assert totals(unit / "junit.xml").tests > 20
    assert (unit / "coverage.xml").is_file()
    assert {p.name for p in run.artifacts.iterdir()} == {
        f"mlci-reports-{name}" for name in ("lint", "mypy", "unit-3.11", "integ", "nbmake")
    }
    assert "### ✅ unit-3.11" in log and "· coverage " in log  # the job summary
    assert "✅ session: success" in log  # the required check's verdict
    flaky = f"1 flaky (failed, then passed on a rerun): {FLAKY_ID}"
    assert f"mlci: unit: {flaky}" in log  # the session's verdict line
    assert f"- ⚠️ {flaky}" in log  # the job summary's
    junit = (unit / "junit.xml").read_text()
    assert 'name="mlci.flaky"' in junit and "mlci: FLAKY: failed 1 time(s)" in junit
    ddp = re.search(r'<testcase classname="tests.test_ddp" name="([^"]+)"[^>]*/>', junit)
    assert ddp is not None, "the DDP test ran and passed"


def test_a_project_with_its_own_cuda_torch_index_runs_unit_with_the_jobs_cpu_build(
    tmp_path: Path, kit: Path
) -> None:
    """uv's PyTorch guide setup (an explicit CUDA index for torch on Linux): the CPU job
    replaces that index with its own build instead of failing on conflicting indexes."""
    run = act(tmp_path, kit, {**FALLBACK, "sessions": "unit"}, edit=as_the_guide_writes_it)
    assert run.returncode == 0, run.text[-5000:]
    assert results(run) == {"plan": "success", "unit (3.11)": "success", "mlci": "success"}
    assert "its torch index pytorch-cu128 replaced by the job's" in run.text
    assert "nox > Session unit-3.11 was successful" in run.text


def break_a_test(sample: Path) -> None:
    (sample / "tests" / "test_broken.py").write_text("def test_broken():\n    assert 1 + 1 == 3\n")


def test_a_failing_test_fails_unit_and_the_required_check(tmp_path: Path, kit: Path) -> None:
    run = act(tmp_path, kit, {**FALLBACK, "sessions": "unit"}, edit=break_a_test)
    assert run.returncode != 0
    assert results(run) == {"plan": "success", "unit (3.11)": "failure", "mlci": "failure"}
    assert "FAILED tests/test_broken.py::test_broken" in run.text
    report = run.artifacts / "mlci-reports-unit-3.11" / "junit.xml"
    assert totals(report).failures == 1  # uploaded although the job failed
    assert "❌ session: failure" in run.text


def test_a_bad_input_fails_in_the_plan_job_with_the_planners_message(
    tmp_path: Path, kit: Path
) -> None:
    run = act(
        tmp_path, kit, {**FALLBACK, "python-versions": "'[\"3.99\"]'", "sessions": "unit,docs"}
    )
    assert run.returncode != 0
    assert results(run) == {"plan": "failure", "mlci": "failure"}  # no session job started
    assert "python-versions: 3.99 is not available for torch" in run.text
    assert "sessions (from MLCI_SESSIONS): 'docs' is not a session (choose from lint" in run.text
    assert "mlci plan rejected the inputs" in run.text  # in the job summary too


def test_without_the_workflow_commit_the_plan_fails_loudly(tmp_path: Path, kit: Path) -> None:
    run = act(tmp_path, kit, {"sessions": "lint"})
    assert results(run)["plan"] == "failure"
    assert "cannot tell which mlci commit to use" in run.text


@pytest.mark.parametrize(
    ("gpu_torch", "more", "leg"),
    [
        ("build", {}, "gpu (cu126)"),
        # On the runner itself, image mode is for runners thrown away after each job only.
        ("image", {"gpu-runner-ephemeral": "'true'"}, "gpu (image)"),
    ],
)
def test_gpu_leg_runs_on_the_gpu_runner_and_fails_without_a_device(
    tmp_path: Path, kit: Path, gpu_torch: str, more: dict[str, str], leg: str
) -> None:
    inputs = {
        **FALLBACK,
        "sessions": "gpu",
        "gpu-runner": "'[\"gpu-box\"]'",
        "gpu-backends": "cu126",
        "gpu-torch": gpu_torch,
        **more,
    }
    run = act(tmp_path, kit, inputs, labels=("ubuntu-latest", "gpu-box"))
    assert results(run) == {"plan": "success", leg: "failure", "mlci": "failure"}
    assert "gpu: no CUDA device visible (nvidia-smi not found on PATH)" in run.text
    assert re.search(rf'gpu-torch +"{gpu_torch}" +environment \(MLCI_GPU_TORCH\)', run.text)
    # Refused before anything is installed, in either mode.
    [job] = {str(line["job"]) for line in run.lines if leg in str(line.get("job"))}
    log = run.job_log(job)
    assert "no CUDA device visible" in log and "uv pip install" not in log


# act, unlike GitHub, evaluates a `${{ }}` found in an expression's result, so that payload never
# reaches the workflow as text under act; the `mlci` command's test covers it as text.
ACT_EVALUATES = "GitHub expression"


@pytest.mark.parametrize("kind", [k for k in payloads(Path("marker")) if k != ACT_EVALUATES])
def test_hostile_event_data_in_every_input_is_rejected_naming_each_and_never_runs(
    tmp_path: Path, kit: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack: event data an outsider controls (a commit message, a PR title) wired into
    the inputs. Here every input gets the push event's `mlci_hostile` field."""
    # act's --env-file would override the torch-index input with this machine's wheel folder.
    monkeypatch.delenv("MLCI_TORCH_INDEX", raising=False)
    marker = tmp_path / "marker"
    hostile = dict.fromkeys((o.name for o in CI_OPTIONS), "${{ github.event.mlci_hostile }}")
    run = act(
        tmp_path, kit, {**FALLBACK, **hostile}, event={"mlci_hostile": payloads(marker)[kind]}
    )
    assert run.returncode != 0
    assert results(run) == {"plan": "failure", "mlci": "failure"}  # no session job started
    for option in CI_OPTIONS:
        assert run.text.count(f"::error title=mlci::{option.name} (from {option.env_var}):") == 1
    assert not marker.exists()
    assert "MLCI_INJECTED" not in run.text.replace("\\nMLCI_INJECTED", "")


def test_values_of_the_wrong_type_fail_the_plan_naming_each_input(
    tmp_path: Path, kit: Path
) -> None:
    """Every input is a string on GitHub's side; mlci checks what the string holds."""
    wrong = {
        "coverage-fail-under": "ninety",
        "testmon": "maybe",
        "python-versions": "'{\"3.11\": true}'",
    }
    run = act(tmp_path, kit, {**FALLBACK, **wrong})
    assert results(run) == {"plan": "failure", "mlci": "failure"}
    assert (
        "coverage-fail-under (from MLCI_COVERAGE_FAIL_UNDER): 'ninety' is not a number" in run.text
    )
    assert "testmon (from MLCI_TESTMON): 'maybe' is not a boolean" in run.text
    assert (
        "python-versions (from MLCI_PYTHON_VERSIONS): '{\"3.11\": true}' is not a Python"
        in run.text
    )


FETCHING_TEST = """import os
import urllib.request
from pathlib import Path


def test_the_weights_are_there():
    target = Path(os.environ["MLCI_DOWNLOADS"]) / "weights.bin"
    if not target.exists():
        url = (Path(__file__).parent / "hub_url.txt").read_text().strip()
        urllib.request.urlretrieve(url, target)
    assert target.read_bytes() == b"w" * 4096
"""


def test_what_the_tests_download_is_cached_and_the_next_run_fetches_nothing(
    tmp_path: Path, kit: Path
) -> None:
    """downloads-key: the first run fetches from a stand-in hub on the loopback address and
    its green unit leg saves the folder; the next run restores it, finds it complete for the
    same list, and makes no request."""
    with serving({"acme/tiny/weights.bin": b"w" * 4096}) as hub:

        def fetching(sample: Path) -> None:
            pyproject = sample / "pyproject.toml"
            text = pyproject.read_text().replace(
                "[tool.mlci]\n", "[tool.mlci]\ndownloads-key = 'tests/downloads.txt'\n", 1
            )
            pyproject.write_text(text)
            (sample / "tests" / "downloads.txt").write_text("acme/tiny weights.bin\n")
            url = f"{hub.url}/acme/tiny/resolve/main/weights.bin"
            (sample / "tests" / "hub_url.txt").write_text(url + "\n")
            (sample / "tests" / "test_fetching.py").write_text(FETCHING_TEST)

        inputs = {**FALLBACK, "sessions": "unit"}
        cache = tmp_path / "cache"
        first = act(tmp_path / "first", kit, inputs, edit=fetching, cache=cache)
        assert results(first) == {"plan": "success", "unit (3.11)": "success", "mlci": "success"}
        assert hub.requests == ["GET /acme/tiny/resolve/main/weights.bin"]
        assert "fetched 4.1 kB: weights.bin (4.1 kB)" in first.text
        assert "Cache saved with key: mlci-downloads-unit-3.11-" in first.text
        hub.requests.clear()

        second = act(tmp_path / "second", kit, inputs, edit=fetching, cache=cache)
        assert results(second)["unit (3.11)"] == "success"
        assert "Cache restored from key: mlci-downloads-unit-3.11-" in second.text
        assert "mlci: downloads: offline, the cache in .mlci-downloads/ matches" in second.text
        assert hub.requests == []


def test_testmon_data_is_carried_to_the_next_run(tmp_path: Path, kit: Path) -> None:
    """testmon on: the unit leg restores its data, runs only what changed, and saves it."""
    inputs = {**FALLBACK, "sessions": "unit", "testmon": "'true'"}
    cache = tmp_path / "cache"
    first = act(tmp_path / "first", kit, inputs, cache=cache)
    assert results(first) == {"plan": "success", "unit (3.11)": "success", "mlci": "success"}
    assert "Cache not found for input keys: mlci-carry-unit-3.11-" in first.text
    assert "Cache saved with key: mlci-carry-unit-3.11-" in first.text
    assert re.search(r"collected \d+ items / \d+ deselected / [1-9]\d* selected", first.text)

    second = act(tmp_path / "second", kit, inputs, cache=cache)  # the next commit: no change
    assert results(second)["unit (3.11)"] == "success"
    assert "Cache restored from key: mlci-carry-unit-3.11-" in second.text
    assert re.search(r"collected \d+ items / \d+ deselected / 0 selected", second.text)


def one_minute_sessions(kit: Path) -> None:
    """The kit under test gives sessions one minute (60 - 5 in the release), so a hang ends soon."""
    planner = kit / "src" / "mlci" / "ci" / "planner.py"
    text = planner.read_text()
    assert 'TIMEOUT_MINUTES = {"cpu": 60,' in text
    planner.write_text(
        text.replace('TIMEOUT_MINUTES = {"cpu": 60,', 'TIMEOUT_MINUTES = {"cpu": 6,')
    )


def hang_a_test(sample: Path) -> None:
    (sample / "tests" / "test_hangs.py").write_text(
        "import time\n\n\ndef test_hangs():\n    time.sleep(3600)\n"
    )


def test_a_session_that_times_out_fails_the_required_check_and_still_reports(
    tmp_path: Path,
) -> None:
    kit = kit_copy(tmp_path / "kit", edit=one_minute_sessions)
    run = act(tmp_path, kit, {**FALLBACK, "sessions": "unit"}, edit=hang_a_test)
    assert run.returncode != 0
    assert results(run) == {"plan": "success", "unit (3.11)": "failure", "mlci": "failure"}
    assert "❌ session: failure" in run.text  # the required check's verdict
    # The step was stopped at its limit (act's words), and the summary step still ran after it.
    assert "this step has been cancelled: signal: killed" in run.text
    assert "### ❌ unit-3.11" in run.text
