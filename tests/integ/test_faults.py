"""Faults a CI run meets, caused on purpose: each ends in a bounded time with a clear failure."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integ.conftest import RunNox
from tests.integ.test_sample_sessions import output

pytestmark = pytest.mark.integ


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def insecure(url: str) -> dict[str, str]:
    """A local http index: plain http must be allowed explicitly."""
    return {"MLCI_TORCH_INDEX": url, "MLCI_ALLOW_INSECURE_INDEX": "true"}


def mlci_error(text: str) -> str:
    return next(line for line in text.splitlines() if "installing into" in line)


def test_an_unreachable_torch_source_fails_in_seconds_naming_it(
    sample: Path, run_nox: RunNox
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/simple"
    started = time.monotonic()
    done = run_nox(sample, "-s", "unit-3.11", env=insecure(url))
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    assert "Connection refused" in output(done)  # uv's reason
    assert url in mlci_error(output(done))  # mlci's line names the source
    assert elapsed < 120, f"took {elapsed:.0f} s"


@pytest.fixture
def flaky_index() -> Iterator[tuple[str, list[str]]]:
    """An index that answers every request with 503, recording what was asked."""
    hits: list[str] = []

    class Unavailable(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple", hits
    server.shutdown()


def test_a_flaky_index_is_retried_a_bounded_number_of_times_then_fails_clearly(
    sample: Path, run_nox: RunNox, flaky_index: tuple[str, list[str]]
) -> None:
    url, hits = flaky_index
    started = time.monotonic()
    done = run_nox(sample, "-s", "unit-3.11", env=insecure(url))
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    assert hits, "uv never asked the index"
    # uv's retries (UV_HTTP_RETRIES, 3 by default): four tries of the same page, no more.
    assert hits.count(hits[0]) == 4, hits
    assert "503" in output(done) and url in mlci_error(output(done))
    assert elapsed < 180, f"took {elapsed:.0f} s"


def test_a_hanging_notebook_cell_is_stopped_by_the_cell_timeout(
    sample: Path, run_nox: RunNox
) -> None:
    cell: dict[str, object] = {
        "cell_type": "code",
        "id": "hangs",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": ["import time\n", "time.sleep(3600)  # a cell that never returns"],
    }
    notebook = {
        "cells": [cell],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (sample / "notebooks" / "hangs.ipynb").write_text(json.dumps(notebook))
    started = time.monotonic()
    done = run_nox(sample, "-s", "nbmake", env={"MLCI_NOTEBOOK_TIMEOUT": "10"})
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    text = output(done)
    assert "timed out" in text and "hangs.ipynb" in text
    assert "FAILED notebooks/hangs.ipynb::hangs.ipynb - A cell timed out" in text
    assert elapsed < 300, f"took {elapsed:.0f} s"


def test_a_plain_http_index_is_refused_before_anything_is_installed(
    sample: Path, run_nox: RunNox
) -> None:
    done = run_nox(sample, "-s", "unit-3.11", env={"MLCI_TORCH_INDEX": "http://mirror.invalid/x"})
    assert done.returncode == 2  # refused while the noxfile registers the sessions
    assert "torch-index: http://mirror.invalid/x is plain http" in output(done)


def test_a_hanging_test_fails_by_name_in_seconds(sample: Path, run_nox: RunNox) -> None:
    (sample / "tests" / "test_hangs.py").write_text(
        "import time\n\n\ndef test_never_returns():\n    time.sleep(3600)\n"
    )
    started = time.monotonic()
    done = run_nox(
        sample,
        "-s",
        "unit-3.11",
        "--",
        "-k",
        "test_never_returns",
        "--no-cov",
        env={"MLCI_TEST_TIMEOUT": "5"},
    )
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    text = output(done)
    assert "FAILED tests/test_hangs.py::test_never_returns - Failed: Timeout" in text
    assert elapsed < 120, f"took {elapsed:.0f} s"
