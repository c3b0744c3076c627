"""gpu-select through the reusable workflow, run by act: the default branch's unit leg keeps the
CPU test map, and a pull request's plan leaves the gpu leg out when no gpu test reaches its
change (the required check stays green, the plan says why), and keeps it when one does.

act has no GPU, so the gpu run's map is put in the cache as a GPU runner's run would have left
it; every other step is the workflow's own, on act's runner, with the stand-in cache
(tests/e2e/github-stand-ins/cache.py) that mirrors actions/cache's branch scope.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlci.session.test_map import TestMap
from tests.e2e.act_harness import KIT_REF, ActRun, kit_copy, run_act, sample_copy
from tests.sample import commit_all

pytestmark = pytest.mark.integ

FALLBACK = {"mlci-repository": "acme/mlci", "mlci-ref": KIT_REF}
GPU = {**FALLBACK, "sessions": "gpu", "gpu-runner": "'[\"gpu-box\"]'", "gpu-backends": "cu126"}
GPU_TEST = "tests/test_gpu.py::test_forward_backward_on_cuda_matches_cpu"


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kit_copy(tmp_path_factory.mktemp("kit"))


def opt_in_both(sample: Path) -> None:
    opt_in(sample)
    pyproject = sample / "pyproject.toml"
    text = pyproject.read_text().replace("[tool.mlci]\n", '[tool.mlci]\nunit-select = "affected"\n')
    pyproject.write_text(text)


def opt_in(sample: Path) -> None:
    pyproject = sample / "pyproject.toml"
    text = pyproject.read_text().replace("[tool.mlci]\n", '[tool.mlci]\ngpu-select = "all"\n')
    pyproject.write_text(text)


def keep_gpu_map(cache: Path) -> None:
    """The entry a green gpu leg on the default branch saves (path and key as the plan names
    them): its gpu test reached nn.py."""
    key = "mlci-test-map-gpu-cu126-0000000"
    entry = cache / key
    entry.mkdir(parents=True)
    recorded = TestMap(
        {GPU_TEST: frozenset({"src/sample_model/nn.py"})},
        "0000000",
        datetime.now(timezone.utc) - timedelta(hours=1),  # older than the CPU map: it names
        marker_tests={"gpu": frozenset({GPU_TEST})},
    )
    recorded.dump(entry / "data")
    record = {"key": key, "path": ".mlci-test-maps/gpu.json", "ref": "refs/heads/main"}
    (entry / "entry.json").write_text(json.dumps({**record, "time": time.time()}))


def pull_request(
    tmp_path: Path, kit: Path, changed: str, cache: Path, sessions: str = "gpu"
) -> ActRun:
    """A pull request whose one commit changes `changed`, on top of the sample."""
    caller = sample_copy(tmp_path / "sample", {**GPU, "sessions": sessions}, edit=opt_in_both)
    with (caller / changed).open("a") as handle:
        handle.write("\n# changed by the pull request\n")
    commit_all(caller, "the pull request's change")
    event: dict[str, object] = {
        "pull_request": {"number": 7, "head": {"ref": "change"}, "base": {"ref": "main"}}
    }
    return run_act(
        caller,
        kit,
        tmp_path / "act",
        ("ubuntu-latest", "gpu-box"),
        event=event,
        event_name="pull_request",
        cache=cache,
    )


def test_the_default_branch_keeps_the_cpu_map_and_a_pull_request_skips_or_runs_gpu(
    tmp_path: Path, kit: Path
) -> None:
    cache = tmp_path / "cache"
    main = sample_copy(tmp_path / "main" / "sample", {**FALLBACK, "sessions": "unit"}, edit=opt_in)
    first = run_act(main, kit, tmp_path / "main" / "act", cache=cache)
    assert first.job_results() == {"plan": "success", "unit (3.11)": "success", "mlci": "success"}
    assert "mlci: " in first.text and "tests and the files they ran" in first.text
    assert "Cache saved with key: mlci-test-map-unit-3.11-" in first.text
    keep_gpu_map(cache)

    # With unit beside it: act, unlike GitHub, does not skip a job whose `if:` is false when its
    # matrix is empty (GitHub evaluates a job's `if:` before its matrix, which `if:` cannot
    # read), so a plan left with no legs at all is covered by test_gpu_selection.py instead.
    docs = pull_request(tmp_path / "docs", kit, "README.md", cache, sessions="unit,gpu")
    assert docs.job_results() == {
        "plan": "success",
        "unit (3.11)": "success",
        "mlci": "success",
    }, docs.text[-4000:]
    assert "Cache restored from key: mlci-test-map-unit-3.11-" in docs.text
    assert "Cache restored from key: mlci-test-map-gpu-cu126-0000000" in docs.text
    assert "(gpu: skipped, no gpu test reaches the 1 file changed; last full run 0000000)" in (
        docs.text
    )
    # unit-select through the workflow's matrix: the unit leg is green, skipping unit.
    assert "(unit: skipped, no unit test reaches the 1 file changed" in docs.text
    assert "unit-select found no unit test the change can reach" in docs.text

    model = pull_request(tmp_path / "model", kit, "src/sample_model/nn.py", cache)
    results = model.job_results()
    assert results["gpu (cu126)"] == "failure"  # it ran: act has no GPU, so it fails there
    assert "(gpu: all 1 gpu tests, 1 reach the 1 file changed)" in model.text

    lock = pull_request(tmp_path / "lock", kit, "uv.lock", cache)
    assert lock.job_results()["gpu (cu126)"] == "failure"  # planned: uv.lock runs everything
    assert "(gpu: all tests, uv.lock changed)" in lock.text


# --- GitLab, run by gitlab-ci-local -----------------------------------------------------------
# gitlab-ci-local runs a branch pipeline of the checked-out branch; a merge request pipeline is
# given to it as GitLab's predefined variables (--variable), with the ref kept (`main`), so the
# plan restores the test maps the main pipeline kept under the ref's cache key. It has one shared
# cache for every job, where GitLab keeps one per runner unless they share a distributed cache:
# test_gitlab_files.py shows that a map on another runner's own disk runs everything.

GITLAB_GPU = {"gpu-runner": ["gpu-box"], "gpu-backends": ["cu126"]}
# gitlab-ci-local's closing line of a green unit job, with the coverage GitLab's regex read.
UNIT_PASSED = r"^ PASS +mlci-unit: \[3.11\]( +[0-9.]+% coverage)?$"


@pytest.fixture(scope="module")
def remotes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.e2e.gitlab_harness import bare_kit

    return bare_kit(tmp_path_factory.mktemp("gitlab"))


def keep_gitlab_gpu_map(project: Path) -> None:
    """The entry a green gpu job of the main pipeline keeps (gitlab-ci-local's cache folder is
    named by the key, and holds the paths from the project root)."""
    entry = project / ".gitlab-ci-local" / "cache" / "mlci-test-map-gpu-protected-false-main"
    recorded = TestMap(
        {GPU_TEST: frozenset({"src/sample_model/nn.py"})},
        "0000000",
        datetime.now(timezone.utc) - timedelta(hours=1),
        marker_tests={"gpu": frozenset({GPU_TEST})},
    )
    (entry / ".mlci-test-maps").mkdir(parents=True)
    recorded.dump(entry / ".mlci-test-maps" / "gpu.json")


def merge_request(
    project: Path, remotes: Path, work: Path, changed: str, sessions: str = "gpu"
) -> str:
    """A merge request pipeline (of `sessions`) for one commit on top of main changing
    `changed`; the output of gitlab-ci-local, the child pipeline included."""
    from tests.e2e.gitlab_harness import run_pipeline
    from tests.sample import git

    base = git(project, "rev-parse", "HEAD").strip()
    with (project / changed).open("a") as handle:
        handle.write("\n# changed by the merge request\n")
    # Only that file: gitlab-ci-local's own folder in the project is no part of the change.
    git(project, "add", "--", changed)
    git(project, "commit", "-q", "-m", "the merge request's change", "--", changed)
    work.mkdir()
    variables = {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_EVENT_TYPE": "detached",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
        "MLCI_MERGE_REQUEST_PIPELINES": "true",
        "MLCI_SESSIONS": sessions,
    }
    args = [arg for key, value in variables.items() for arg in ("--variable", f"{key}={value}")]
    pipeline = run_pipeline(project, remotes, work, *args)
    git(project, "reset", "-q", "--hard", base)  # the next merge request starts from main
    return pipeline.output


def test_on_gitlab_a_merge_request_skips_or_runs_the_gpu_jobs_by_the_kept_maps(
    tmp_path: Path, remotes: Path
) -> None:
    from tests.e2e.gitlab_harness import caller, run_pipeline

    inputs = {"python-versions": ["3.11"], "sessions": ["unit", "gpu"]}
    project = caller(tmp_path / "sample", inputs, gpu_inputs=GITLAB_GPU, edit=opt_in_both)
    (tmp_path / "main").mkdir()
    main = run_pipeline(project, remotes, tmp_path / "main")
    status = main.status()
    assert status["mlci-unit: [3.11]"] == "PASS", main.output[-4000:]
    assert status["mlci-gpu: [cu126]"] == "FAIL"  # it ran: there is no GPU here
    kept = project / ".gitlab-ci-local" / "cache" / "mlci-test-map-unit-protected-false-main"
    assert TestMap.load(kept / ".mlci-test-maps" / "unit.json").tests  # the CPU map, kept
    keep_gitlab_gpu_map(project)

    docs = merge_request(project, remotes, tmp_path / "docs", "README.md", "unit,gpu")
    reason = "gpu: skipped, no gpu test reaches the 1 file changed; last full run 0000000"
    assert f"mlci: {reason}" in docs  # the child's one job says why
    assert re.search(r"^ PASS +(\[mlci-gpu\] -> )?mlci-gpu: none$", docs, re.M), docs[-3000:]
    assert "mlci-gpu: [cu126]" not in docs  # no job for the GPU runner at all
    # unit-select: the unit job skips unit, with the reason in the plan.
    assert "(unit: skipped, no unit test reaches the 1 file changed" in docs
    assert "unit-select found no unit test the change can reach" in docs
    assert re.search(UNIT_PASSED, docs, re.M)

    model = merge_request(
        project, remotes, tmp_path / "model", "src/sample_model/nn.py", "unit,gpu"
    )
    assert "(gpu: all 1 gpu tests, 1 reach the 1 file changed)" in model
    assert re.search(
        r"^ FAIL +(\[mlci-gpu\] -> )?mlci-gpu: \[cu126\]$", model, re.M
    )  # planned, and it ran
    chosen = re.search(r"\(unit: (\d+) of (\d+) unit tests reach the 1 file changed\)", model)
    assert chosen and 0 < int(chosen[1]) < int(chosen[2]), model[-3000:]
    assert re.search(UNIT_PASSED, model, re.M)

    lock = merge_request(project, remotes, tmp_path / "lock", "uv.lock")
    assert "(gpu: all tests, uv.lock changed)" in lock
    assert re.search(r"^ FAIL +(\[mlci-gpu\] -> )?mlci-gpu: \[cu126\]$", lock, re.M)
