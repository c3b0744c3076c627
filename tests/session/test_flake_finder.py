"""flake-finder: each test repeated, and the ones whose outcome changed named in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlci.session import flake_finder
from mlci.session.flake_finder import Nondeterministic, base_id

TESTS = """
import pathlib

import pytest

COUNTER = pathlib.Path(__file__).with_suffix(".runs")


def test_steady():
    assert True


def test_every_third_run_fails():
    runs = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
    COUNTER.write_text(str(runs))
    assert runs % 3 != 0


@pytest.mark.parametrize("p", ["a-b", "c"])
def test_always_fails(p):
    assert p == "never"
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real pytest run of the repeats (pytest-repeat), its JUnit report."""
    root = tmp_path_factory.mktemp("flakes")
    (root / "test_flakes.py").write_text(TESTS)
    junit = root / "junit.xml"
    pytest_run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*pytest_run, f"--junitxml={junit}", *flake_finder.pytest_args(6)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # some repeats failed
    return junit


def test_a_test_that_both_passed_and_failed_is_named_with_its_counts(report: Path) -> None:
    found, tests = flake_finder.find(report)
    assert found == [Nondeterministic("test_flakes::test_every_third_run_fails", 2, 6)]
    assert tests == 4  # steady, every third, and the two parameters of always-fails


def test_the_line_names_them_or_says_none_changed(report: Path, tmp_path: Path) -> None:
    line = flake_finder.verdict_line("unit-3.11", report, 6)
    assert line == (
        "mlci: unit-3.11: flake-finder: 1 of 4 tests are nondeterministic over 6 runs:"
        " test_flakes::test_every_third_run_fails (2 of 6 failed)"
    )
    steady = tmp_path / "junit.xml"
    steady.write_text(
        '<testsuite><testcase classname="t" name="test_a[1-2]"/>'
        '<testcase classname="t" name="test_a[2-2]"/></testsuite>'
    )
    assert flake_finder.verdict_line("unit-3.11", steady, 2) == (
        "mlci: unit-3.11: flake-finder: none of 1 tests changed outcome in 2 runs"
    )


@pytest.mark.parametrize(
    ("case", "base"),
    [
        ("t::test_a[3-20]", "t::test_a"),
        ("t::test_b[x-y-3-20]", "t::test_b[x-y]"),
        ("t::test_c[p]", "t::test_c[p]"),  # no repeat: as it is
        ("t::test_d", "t::test_d"),
    ],
)
def test_the_repeat_is_taken_off_the_id(case: str, base: str) -> None:
    assert base_id(case) == base
