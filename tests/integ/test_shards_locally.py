"""Shards run one after the other on this machine, as a CI job runs each: `MLCI_SHARD=i/n nox -s
unit-3.11`, then `nox -s coverage-3.11` proves the run complete and combines it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_shards import FILES, PER_FILE, generated_suite
from tests.integ.conftest import RunNox

pytestmark = pytest.mark.integ


def run_shards(run_nox: RunNox, root: Path, durations: dict[int, str | None]) -> None:
    """Each shard in turn, given its own `.test_durations` (None: none at all)."""
    for index, text in durations.items():
        carried = root / ".test_durations"
        if text is None:
            carried.unlink(missing_ok=True)
        else:
            carried.write_text(text)
        run_nox(root, "-s", "unit-3.11", env={"MLCI_SHARD": f"{index}/2", "MLCI_UNIT_SHARDS": "2"})


def test_two_local_shards_that_split_alike_combine_green(tmp_path: Path, run_nox: RunNox) -> None:
    root = generated_suite(tmp_path / "project")
    (root / "tests" / "test_part3.py").write_text(
        (root / "tests" / "test_part3.py")
        .read_text()
        .replace("assert False, 'broken on purpose'", "assert True")
    )
    run_shards(run_nox, root, {1: None, 2: None})
    done = run_nox(root, "-s", "coverage-3.11", env={"MLCI_UNIT_SHARDS": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    merged = json.loads((root / ".test_durations").read_text())
    assert len(merged) == FILES * PER_FILE  # the next run splits by every test's time
    assert (root / "mlci-reports" / "coverage-3.11" / "durations.json").is_file()


def test_a_local_shard_given_other_durations_makes_the_combine_red(
    tmp_path: Path, run_nox: RunNox
) -> None:
    """The issue's reproduction: one shard had durations, the other none; 4 of 6 tests ran and
    the combine was green. Now it is red and names what never ran."""
    root = generated_suite(tmp_path / "project")
    slow = {
        f"tests/test_part{p}.py::test_case_{c}": 10.0 * (p + 1) for p in range(6) for c in range(5)
    }
    run_shards(run_nox, root, {1: json.dumps(slow), 2: None})
    done = run_nox(root, "-s", "coverage-3.11", env={"MLCI_UNIT_SHARDS": "2"})
    assert done.returncode != 0
    assert "the unit shards did not run every test once: 60 tests collected" in done.stderr
    assert "never ran: tests.test_part" in done.stderr or "ran more than once" in done.stderr
    assert "they split by different durations (1/2: " in done.stderr and "2/2: none)" in done.stderr
