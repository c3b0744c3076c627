"""pytest plugin shipped with mlci: the `integ`, `gpu`, `slow` and `distributed` markers, gpu-test
gating, a free MASTER_PORT for each distributed test, and flaky-test evidence.

Registered through the `pytest11` entry point, so projects using `--strict-markers` need no
marker boilerplate.  gpu tests run only in the gpu session (or with `--run-gpu`); elsewhere they
are skipped with a reason that says so.  A test marked `gpu(devices=2)` is skipped, with a
reason the gpu session accepts, on a machine with fewer CUDA devices. In a unit shard it
records the tests collected before pytest-split keeps the shard's part (shards.py).
"""

from __future__ import annotations

import importlib
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from mlci.envs.gpu import MULTI_DEVICE_SKIP
from mlci.session import flaky, shards

MARKERS = {
    "integ": "integration test: slower, runs in the integ session (pytest -m integ)",
    "gpu(devices=1)": "needs CUDA devices: runs only in the gpu session (nox -s gpu) or with"
    " --run-gpu; skipped there when the machine has fewer than `devices`",
    "slow": "slow test",
    "distributed": "starts several processes (DDP on CPU with gloo); runs in unit, each test"
    " with a free MASTER_PORT of its own",
}
GPU_SKIP_REASON = "gpu test: runs only in the gpu session (nox -s gpu) or with --run-gpu"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("mlci").addoption(
        "--run-gpu", action="store_true", default=False, help="run tests marked gpu"
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


@pytest.fixture(autouse=True)
def _mlci_master_port(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test marked `distributed` gets a free port of its own for its process group, so two
    such tests running side by side (xdist, two jobs on one runner) never meet."""
    if request.node.get_closest_marker("distributed") is None:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))


# trylast: after marker and keyword deselection. pytest-split's own trylast hook is registered
# later (in its pytest_configure), and pluggy calls later trylast hooks after earlier ones, so
# this one still sees every test before the split.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip gpu tests outside the gpu session, and multi-device tests on too few devices;
    in a unit shard, record what was collected."""
    record = os.environ.get(shards.COLLECTED_ENV)
    if record:
        nodeids = [item.nodeid for item in items]
        shards.add_collected(Path(record), nodeids, _junit_names(config, nodeids))
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


def _junit_names(config: pytest.Config, nodeids: list[str]) -> list[str] | None:
    """`classname::name` as this pytest's JUnit report writes them (its own function, and its
    --junit-prefix); None where that function is not there (shards.junit_id mirrors it)."""
    try:
        from _pytest.junitxml import mangle_test_address
    except ImportError:
        return None
    prefix = config.getoption("junitprefix", None)
    names = []
    for nodeid in nodeids:
        parts = mangle_test_address(nodeid)
        if prefix:
            parts.insert(0, prefix)
        names.append(f"{'.'.join(parts[:-1])}::{parts[-1]}")
    return names


def _cuda_devices() -> int:
    """Imported here only: torch is there in a gpu session, and only multi-device tests ask."""
    try:
        torch: Any = importlib.import_module("torch")
    except ImportError:
        return 0
    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


# --- flaky and quarantined tests (flaky.py) -----------------------------------------------------

_FAILURES: dict[str, list[str]] = {}  # node id -> each failed attempt's first line (this process)
_SEEN: dict[str, list[dict[str, Any]]] = {"flaky": []}
_QUARANTINED: dict[str, str] = {}  # node id -> failed / passed


def _first_line(report: pytest.TestReport) -> str:
    text = str(report.longreprtext or "").strip().splitlines()
    errors = [line for line in text if line.startswith("E ")]
    return (errors[0][1:].strip() if errors else (text[-1] if text else ""))[:300]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A quarantined test's failure becomes an xfail (reported, not counted); a test that
    passes after failed attempts (pytest-rerunfailures' reruns) carries the flaky property."""
    del call
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    entry = flaky.quarantined_here().get(item.nodeid)
    if report.when != "call":
        if entry is not None and report.failed:  # a quarantined test's fixture failed
            _mark(item, report, "mlci.quarantined", "failed")
            report.outcome = "skipped"
            report.wasxfail = f"quarantined until {entry['until']}: {entry['reason']}"
        return
    if entry is not None:
        _mark(item, report, "mlci.quarantined", "failed" if report.failed else "passed")
        if report.failed:
            report.outcome = "skipped"
            report.wasxfail = f"quarantined until {entry['until']}: {entry['reason']}"
        return
    if report.failed:
        _FAILURES.setdefault(item.nodeid, []).append(_first_line(report))
    elif report.passed and item.nodeid in _FAILURES:
        failures = _FAILURES.pop(item.nodeid)
        evidence = {"failures": len(failures), "first_failure": failures[0]}
        _mark(item, report, flaky.PROPERTY, json.dumps(evidence))


def _mark(item: pytest.Item, report: pytest.TestReport, name: str, value: str) -> None:
    """On the report (gathered below) and on the item: pytest's JUnit report writes the item's
    properties, from its teardown report."""
    report.user_properties.append((name, value))
    item.user_properties.append((name, value))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Gather what the makereport hook marked (xdist workers send their reports here)."""
    for name, value in report.user_properties:
        if report.when != "call" and name != "mlci.quarantined":
            continue
        if name == flaky.PROPERTY and report.passed:
            evidence = json.loads(str(value))
            _SEEN["flaky"].append(
                {
                    "test": report.nodeid,
                    "junit": shards.junit_id(report.nodeid),
                    "attempts": evidence["failures"] + 1,
                    **evidence,
                }
            )
        elif name == "mlci.quarantined":
            # Later phases' reports carry the item's properties again: one entry per test.
            _QUARANTINED[report.nodeid] = str(value)


def pytest_sessionfinish(session: pytest.Session) -> None:
    folder = os.environ.get(flaky.REPORTS_ENV)
    if folder and not hasattr(session.config, "workerinput"):  # the controller writes it
        quarantined = [{"test": test, "outcome": out} for test, out in _QUARANTINED.items()]
        flaky.write_report(Path(folder), _SEEN["flaky"], quarantined)
