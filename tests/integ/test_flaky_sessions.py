"""Flaky and quarantined tests through real nox sessions: the verdict line, the JUnit report
and flaky.json, a quarantined failure that leaves the session green, an expired entry that
turns it red."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from tests.integ.conftest import RunNox

pytestmark = pytest.mark.integ

TESTS = """
import pathlib

def test_second_time_lucky():
    marker = pathlib.Path(__file__).parent / "attempted"
    if not marker.exists():
        marker.write_text("1")
        raise AssertionError("the first attempt fails")

def test_broken_for_now():
    assert False, "known, quarantined"

def test_steady():
    from gen import f
    assert f(2) == 3
"""


def project(root: Path, until: datetime.date) -> Path:
    (root / "src" / "gen").mkdir(parents=True)
    (root / "src" / "gen" / "__init__.py").write_text(
        '"""Generated."""\n\n\ndef f(x):\n    return x + 1\n'
    )
    (root / "tests").mkdir()
    (root / "tests" / "test_gen.py").write_text(TESTS)
    (root / "noxfile.py").write_text("import mlci\n\nmlci.sessions()\n")
    (root / "quarantine.toml").write_text(
        '[[test]]\nid = "tests/test_gen.py::test_broken_for_now"\n'
        f'reason = "issue 7"\nuntil = {until}\n'
    )
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'gen'\nversion = '0.1'\n\n"
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n\n"
        "[tool.mlci]\npython-versions = ['3.11']\ntorch-backend = 'none'\nsessions = ['unit']\n"
        "coverage-fail-under = 50\nflaky-reruns = 2\nquarantine = 'quarantine.toml'\n"
    )
    return root


def test_flaky_and_quarantined_tests_are_reported_and_judged(
    tmp_path: Path, run_nox: RunNox
) -> None:
    later = datetime.date.today() + datetime.timedelta(days=30)
    root = project(tmp_path / "gen", later)
    done = run_nox(root, "-s", "unit-3.11")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        "mlci: unit: 1 flaky (failed, then passed on a rerun):"
        " tests/test_gen.py::test_second_time_lucky" in done.stderr
    )
    assert "1 quarantined ran, 1 failed and did not count" in done.stderr
    reports = root / "mlci-reports" / "unit-3.11"
    found = json.loads((reports / "flaky.json").read_text())
    assert found["flaky"][0]["first_failure"].endswith("the first attempt fails")
    junit = (reports / "junit.xml").read_text()
    assert "mlci: FLAKY: failed 1 time(s)" in junit and 'name="mlci.flaky"' in junit

    (root / "tests" / "attempted").unlink()
    (root / "quarantine.toml").write_text(
        (root / "quarantine.toml").read_text().replace(str(later), "2026-01-01")
    )
    expired = run_nox(root, "-s", "unit-3.11")
    assert expired.returncode != 0
    assert (
        "quarantine: tests/test_gen.py::test_broken_for_now was quarantined until 2026-01-01"
        " (issue 7): fix it, or extend the date" in expired.stderr
    )


def test_a_quarantined_test_that_keeps_passing_is_ready_to_leave(
    tmp_path: Path, run_nox: RunNox
) -> None:
    later = datetime.date.today() + datetime.timedelta(days=30)
    root = project(tmp_path / "gen", later)
    (root / "quarantine.toml").write_text(
        (root / "quarantine.toml").read_text()
        + '\n[[test]]\nid = "tests/test_gen.py::test_steady"\nreason = "issue 8"\n'
        + f"until = {later}\n"
    )
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "quarantine-ready-after = 2\n")
    ready = "ready to leave the quarantine, passed 2 runs in a row: tests/test_gen.py::test_steady"
    first = run_nox(root, "-s", "unit-3.11")
    assert first.returncode == 0, first.stderr[-3000:]
    assert ready not in first.stderr
    second = run_nox(root, "-s", "unit-3.11")
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"mlci: unit: {ready} (remove them from quarantine.toml)" in second.stderr
    history = json.loads((root / ".mlci-carry" / "quarantine.json").read_text())
    # The failing one starts again from 0 each run; only what is quarantined is kept.
    assert history == {
        "unit-3.11": {
            "tests/test_gen.py::test_broken_for_now": 0,
            "tests/test_gen.py::test_steady": 2,
        }
    }
