"""gpu-select through the reusable workflow, run by act: the default branch's unit leg keeps the
CPU test map, and a pull request's plan leaves the gpu leg out when no gpu test reaches its
change (the required check stays green, the plan says why), and keeps it when one does.

act has no GPU, so the gpu run's map is put in the cache as a GPU runner's run would have left
it; every other step is the workflow's own, on act's runner, with the stand-in cache
(tests/e2e/github-stand-ins/cache.py) that mirrors actions/cache's branch scope.
"""

from __future__ import annotations

import json
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
    caller = sample_copy(tmp_path / "sample", {**GPU, "sessions": sessions}, edit=opt_in)
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

    model = pull_request(tmp_path / "model", kit, "src/sample_model/nn.py", cache)
    results = model.job_results()
    assert results["gpu (cu126)"] == "failure"  # it ran: act has no GPU, so it fails there
    assert "(gpu: all 1 gpu tests, 1 reach the 1 file changed)" in model.text
