"""Whether a session passed, judged from its report files alone: no nox here."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.session import verdicts
from mlci.session.registry import BY_NAME
from tests.conftest import WriteProject


def reports(tmp_path: Path, suite: str = "", coverage: str = "") -> Path:
    if suite:
        (tmp_path / "junit.xml").write_text(f"<testsuites>{suite}</testsuites>")
    if coverage:
        (tmp_path / "coverage.xml").write_text(coverage)
    return tmp_path


def judge(session: str, folder: Path, threshold: float = 80, coverage: bool = True) -> list[str]:
    return verdicts.problems(
        BY_NAME[session], folder, coverage_fail_under=threshold, coverage_expected=coverage
    )


EMPTY = '<testsuite tests="0" failures="0" errors="0" skipped="0"/>'


def test_a_session_that_must_run_tests_fails_without_any(tmp_path: Path) -> None:
    folder = reports(tmp_path, EMPTY)
    assert judge("integ", folder) == [
        "integ: no tests ran (mark tests with @pytest.mark.integ, or leave integ out of sessions)"
    ]
    assert judge("nbmake", folder)[0].startswith("nbmake: no tests ran")
    assert judge("mypy", folder) == []  # mypy's exit code is its verdict


def test_a_gpu_session_with_skips_fails(tmp_path: Path) -> None:
    folder = reports(
        tmp_path,
        '<testsuite tests="2" failures="0" errors="0" skipped="1">'
        '<testcase classname="t" name="a"><skipped message="CUDA not available"/></testcase>'
        '<testcase classname="t" name="b"/></testsuite>',
    )
    assert judge("gpu", folder) == [
        "gpu: 1 test(s) skipped, this session must run them all: t::a: CUDA not available"
    ]


def test_a_gpu_session_accepts_only_the_multi_device_skip(tmp_path: Path) -> None:
    skip = (
        '<testcase classname="t" name="ddp"><skipped message="needs 2 CUDA devices,'
        ' this machine has 1"/></testcase>'
    )
    allowed = reports(
        tmp_path,
        f'<testsuite tests="2" failures="0" errors="0" skipped="1">{skip}'
        '<testcase classname="t" name="b"/></testsuite>',
    )
    assert judge("gpu", allowed) == []
    only_skips = reports(
        tmp_path, f'<testsuite tests="1" failures="0" errors="0" skipped="1">{skip}</testsuite>'
    )
    assert judge("gpu", only_skips) == ["gpu: every test was skipped; it must run at least one"]


def test_unit_fails_below_the_threshold_even_if_pytest_passed(tmp_path: Path) -> None:
    suite = '<testsuite tests="3" failures="0" errors="0" skipped="0"/>'
    lines_and_branches = (
        '<coverage lines-valid="80" lines-covered="70" branches-valid="20" branches-covered="10"/>'
    )
    folder = reports(tmp_path, suite, lines_and_branches)
    # One number: lines and branches together (80 of 100), as coverage.py's total counts them.
    assert judge("unit", folder, 90) == ["unit: coverage 80.00% is under coverage-fail-under 90%"]
    assert judge("unit", folder, 80) == []
    assert judge("unit", folder, 90, coverage=False) == []  # testmon, or --no-cov
    (folder / "coverage.xml").unlink()
    assert judge("unit", folder, 90)[0].startswith("unit: no coverage report at")


@pytest.mark.parametrize(
    "broken",
    ['<testsuites><testsuite tests="3"', '<testsuite tests="x"/>'],
    ids=["truncated", "not a count"],
)
def test_a_broken_report_is_one_line_not_a_traceback(tmp_path: Path, broken: str) -> None:
    (tmp_path / "junit.xml").write_text(broken)
    [problem] = judge("integ", tmp_path)
    assert problem.startswith("integ: ") and "junit.xml" in problem


def test_a_whole_unit_run_that_ran_nothing_is_not_green(tmp_path: Path) -> None:
    """A tests folder of conftest.py alone used to pass at "Total coverage: 0.00%"."""
    folder = reports(tmp_path, EMPTY)
    found = judge("unit", folder, threshold=0, coverage=False)
    assert found and found[0].startswith("unit: no tests ran")
    # A shard or testmon's selection may run none: the shards' combine, or testmon, decides.
    partial = verdicts.problems(
        BY_NAME["unit"], folder, coverage_fail_under=0, coverage_expected=False, partial=True
    )
    assert partial == []


def test_unit_has_nothing_to_check_in_a_folder_of_conftest_alone(
    write_project: WriteProject,
) -> None:
    from mlci.config.settings import resolve

    root = write_project("")
    (root / "tests").mkdir()
    (root / "tests" / "conftest.py").write_text("import pytest\n\n@pytest.fixture\ndef x(): ...\n")
    settings = resolve(root, environ={})
    assert BY_NAME["unit"].why_nothing(settings) == (
        "no test functions under tests/ (only conftest.py or helpers)"
    )
    (root / "tests" / "test_a.py").write_text("class TestA:\n    def test_a(self): ...\n")
    assert BY_NAME["unit"].why_nothing(settings) is None
