from __future__ import annotations

from pathlib import Path

import pytest

from mlci.cli import main
from mlci.session.summary import needs_verdict, session_summary, total_coverage

JUNIT = '<testsuite tests="5" failures="{f}" errors="0" skipped="1"></testsuite>'
COBERTURA = (
    '<coverage line-rate="0.9" branch-rate="0.5" lines-valid="90" lines-covered="81"'
    ' branches-valid="10" branches-covered="5"></coverage>'
)


def reports(tmp_path: Path, failures: int = 0, coverage: bool = True) -> Path:
    (tmp_path / "junit.xml").write_text(JUNIT.format(f=failures))
    if coverage:
        (tmp_path / "coverage.xml").write_text(COBERTURA)
    return tmp_path


def test_session_summary_counts_and_coverage(tmp_path: Path) -> None:
    assert session_summary("unit-3.11", reports(tmp_path)) == (
        # The one coverage number: lines and branches together, as the gate counts them.
        "### ✅ unit-3.11\n4 passed, 0 failed, 0 errors, 1 skipped · coverage 86.00%\n"
    )


def test_failures_and_outcome_mark_the_summary_failed(tmp_path: Path) -> None:
    assert session_summary("unit", reports(tmp_path, failures=2)).startswith(
        "### ❌ unit\n2 passed, 2 failed"
    )
    passed_tests_failed_session = session_summary("unit", reports(tmp_path), outcome="failure")
    assert passed_tests_failed_session.startswith("### ❌ unit")


def test_sessions_without_a_test_report(tmp_path: Path) -> None:
    assert (
        session_summary("lint", tmp_path, outcome="success")
        == "### ✅ lint\nsession success; no test report\n"
    )
    assert session_summary("lint", tmp_path).startswith("### ❔ lint\nno test report")


def test_total_coverage_counts_lines_and_branches(tmp_path: Path) -> None:
    assert total_coverage(reports(tmp_path) / "coverage.xml") == pytest.approx(86.0)
    assert total_coverage(tmp_path / "absent.xml") is None


@pytest.mark.parametrize(
    ("needs", "ok", "line"),
    [
        (
            '{"plan": {"result": "success"}, "session": {"result": "skipped"}}',
            False,  # a skip is allowed only by name
            "❌ session: skipped (not allowed to skip)",
        ),
        (
            '{"plan": {"result": "skipped"}, "session": {"result": "skipped"}}',
            False,  # everything skipped is not green
            "❌ plan: skipped (not allowed to skip)",
        ),
        (
            '{"plan": {"result": "success"}, "session": {"result": "failure"}}',
            False,
            "❌ session: failure",
        ),
        ('{"plan": {"result": "cancelled"}}', False, "❌ plan: cancelled"),
        ("{}", False, "the needs context names no job"),
        ("not json", False, "the needs context is not JSON"),
    ],
)
def test_needs_verdict(needs: str, ok: bool, line: str) -> None:
    verdict, text = needs_verdict(needs)
    assert verdict is ok
    assert line in text


def test_an_allowed_skip_passes_and_only_that_one() -> None:
    needs = '{"plan": {"result": "success"}, "combine": {"result": "skipped"}}'
    assert needs_verdict(needs, ["combine"]) == (True, "✅ plan: success\n⏭️ combine: skipped")
    assert not needs_verdict(needs.replace('"success"', '"skipped"'), ["combine"])[0]


@pytest.mark.parametrize(
    "content", ['<testsuite tests="3"', "garbage", '<testsuite tests="²"/>'], ids=str
)
def test_a_broken_report_is_summarised_not_a_traceback(tmp_path: Path, content: str) -> None:
    (tmp_path / "junit.xml").write_text(content)
    text = session_summary("unit", tmp_path)
    assert text.startswith("### ❌ unit\n") and "junit.xml" in text
    assert main(["summary", str(tmp_path)]) == 0


def test_cli_summary_and_check_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["summary", str(reports(tmp_path)), "--session", "unit-3.12"]) == 0
    assert capsys.readouterr().out.startswith("### ✅ unit-3.12")
    monkeypatch.setenv("MLCI_NEEDS", '{"plan": {"result": "failure"}}')
    assert main(["check-needs"]) == 1
    assert main(["check-needs", "--needs", '{"plan": {"result": "success"}}']) == 0
    skipped = '{"plan": {"result": "success"}, "combine": {"result": "skipped"}}'
    assert main(["check-needs", "--needs", skipped]) == 1
    assert main(["check-needs", "--needs", skipped, "--allow-skipped", "combine"]) == 0
