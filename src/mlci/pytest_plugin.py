"""pytest plugin shipped with mlci: the `integ`, `gpu` and `slow` markers, and gpu-test gating.

Registered through the `pytest11` entry point, so projects using `--strict-markers` need no
marker boilerplate.  gpu tests run only in the gpu session (or with `--run-gpu`); elsewhere they
are skipped with a reason that says so.
"""

from __future__ import annotations

import os

import pytest

MARKERS = {
    "integ": "integration test: slower, runs in the integ session (pytest -m integ)",
    "gpu": "needs a CUDA device: runs only in the gpu session (nox -s gpu) or with --run-gpu",
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-gpu") or os.environ.get("MLCI_SESSION") == "gpu":
        return
    skip = pytest.mark.skip(reason=GPU_SKIP_REASON)
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)
