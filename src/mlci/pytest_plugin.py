"""pytest plugin shipped with mlci: the `integ`, `gpu` and `slow` markers, and gpu-test gating.

Registered through the `pytest11` entry point, so projects using `--strict-markers` need no
marker boilerplate.  gpu tests run only in the gpu session (or with `--run-gpu`); elsewhere they
are skipped with a reason that says so.  A test marked `gpu(devices=2)` is skipped, with a
reason the gpu session accepts, on a machine with fewer CUDA devices. In a unit shard it
records the tests collected before pytest-split keeps the shard's part (shards.py).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pytest

from mlci import shards
from mlci.gpu import MULTI_DEVICE_SKIP

MARKERS = {
    "integ": "integration test: slower, runs in the integ session (pytest -m integ)",
    "gpu(devices=1)": "needs CUDA devices: runs only in the gpu session (nox -s gpu) or with"
    " --run-gpu; skipped there when the machine has fewer than `devices`",
    "slow": "slow test",
}
GPU_SKIP_REASON = "gpu test: runs only in the gpu session (nox -s gpu) or with --run-gpu"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("mlci").addoption(
        "--run-gpu", action="store_true", default=False, help="run tests marked gpu"
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


# trylast: after marker and keyword deselection. pytest-split's own trylast hook is registered
# later (in its pytest_configure), and pluggy calls later trylast hooks after earlier ones, so
# this one still sees every test before the split.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip gpu tests outside the gpu session, and multi-device tests on too few devices;
    in a unit shard, record what was collected."""
    record = os.environ.get(shards.COLLECTED_ENV)
    if record:
        shards.add_collected(Path(record), [item.nodeid for item in items])
    gpu = os.environ.get("MLCI_GPU_MARKER") or "gpu"  # the project's gpu-marker
    gpu_items = [item for item in items if item.get_closest_marker(gpu) is not None]
    if not (config.getoption("--run-gpu") or os.environ.get("MLCI_SESSION") == "gpu"):
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason=GPU_SKIP_REASON))
        return
    found: int | None = None
    for item in gpu_items:
        marker = item.get_closest_marker(gpu)
        needed = int(marker.kwargs.get("devices", 1)) if marker is not None else 1
        if needed > 1:
            found = _cuda_devices() if found is None else found
            if found < needed:
                reason = MULTI_DEVICE_SKIP.format(needed=needed, found=found)
                item.add_marker(pytest.mark.skip(reason=reason))


def _cuda_devices() -> int:
    """Imported here only: torch is there in a gpu session, and only multi-device tests ask."""
    try:
        torch: Any = importlib.import_module("torch")
    except ImportError:
        return 0
    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
