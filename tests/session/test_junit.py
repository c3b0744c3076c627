from __future__ import annotations

from pathlib import Path

from mlci.session.junit import Totals, skip_reasons, totals

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="pytest" tests="4" failures="1" errors="0" skipped="1">
    <testcase classname="tests.test_gpu" name="test_fit"><skipped message="no CUDA"/></testcase>
    <testcase classname="tests.test_gpu" name="test_mp"><failure message="boom"/></testcase>
    <testcase classname="tests.test_gpu" name="test_a"/>
    <testcase classname="tests.test_gpu" name="test_b"/>
  </testsuite>
  <testsuite name="more" tests="2" failures="0" errors="1" skipped="0"/>
</testsuites>
"""


def test_totals_sum_every_suite(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(REPORT)
    counts = totals(path)
    assert counts == Totals(tests=6, failures=1, errors=1, skipped=1)
    assert counts.passed == 3


def test_single_suite_root_and_missing_report(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text('<testsuite tests="3" failures="0" errors="0" skipped="2"></testsuite>')
    assert totals(path) == Totals(3, 0, 0, 2)
    assert totals(tmp_path / "absent.xml") == Totals(0, 0, 0, 0)
    assert skip_reasons(tmp_path / "absent.xml") == []


def test_skip_reasons_name_the_test(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(REPORT)
    assert skip_reasons(path) == ["tests.test_gpu::test_fit: no CUDA"]
