"""Flaky tests with evidence: a test that failed and then passed is reported as flaky in the
JUnit report, flaky.json, the session's line and the job summary; quarantined tests run, are
reported, and do not fail the session until their date has passed."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from mlci.errors import ConfigError
from mlci.session import flaky
from mlci.session.junit import parse
from mlci.session.summary import session_summary

FLAKY_TEST = """
import pathlib

def test_second_time_lucky(tmp_path_factory):
    marker = pathlib.Path(__file__).with_suffix(".attempted")
    if not marker.exists():
        marker.write_text("1")
        assert 1 == 2, "the first attempt fails"

def test_steady():
    assert True

def test_broken():
    assert False, "always"
"""


def run(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    entries: list[flaky.Entry],
    *args: str,
) -> tuple[pytest.RunResult, Path]:
    reports = pytester.path / "reports" / "unit-3.11"
    for key, value in flaky.environment(entries, reports).items():
        monkeypatch.setenv(key, value)
    result = pytester.runpytest_subprocess(f"--junitxml={reports / 'junit.xml'}", *args)
    return result, reports


def test_a_test_that_failed_then_passed_is_reported_flaky_everywhere(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_m=FLAKY_TEST)
    result, reports = run(pytester, monkeypatch, [], "--reruns", "2", "-p", "no:cacheprovider")
    assert result.parseoutcomes() == {"failed": 1, "passed": 2, "rerun": 3}
    found = flaky.read_report(reports)
    [entry] = found["flaky"]
    assert entry["test"] == "test_m.py::test_second_time_lucky" and entry["attempts"] == 2
    assert "the first attempt fails" in entry["first_failure"]
    # The JUnit report: pytest's property from the plugin, and a line GitLab's report shows.
    flaky.annotate_junit(reports / "junit.xml", found["flaky"])
    root = parse(reports / "junit.xml")
    assert root is not None
    # One case per test: the rerun attempts' empty cases (shown as passes) are gone.
    [case] = [c for c in root.iter("testcase") if c.get("name") == "test_second_time_lucky"]
    assert len(list(root.iter("testcase"))) == 3
    assert any(p.get("name") == flaky.PROPERTY for p in case.iter("property"))
    out = case.find("system-out")
    assert out is not None and (out.text or "").startswith("mlci: FLAKY: failed 1 time(s)")
    line = flaky.verdict_line("unit", reports, Path("reports/unit-3.11"))
    assert line is not None and "1 flaky (failed, then passed on a rerun): test_m.py::" in line
    summary = session_summary("unit-3.11", reports)
    assert "⚠️ 1 flaky" in summary and "`test_m.py::test_second_time_lucky`" in summary
    # The always-failing test is a failure, not flaky.
    assert all(e["test"] != "test_m.py::test_broken" for e in found["flaky"])


def test_without_reruns_nothing_is_called_flaky(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_m=FLAKY_TEST)
    result, reports = run(pytester, monkeypatch, [], "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    assert flaky.read_report(reports)["flaky"] == []


def test_a_quarantined_failure_runs_is_reported_and_does_not_count(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_m=FLAKY_TEST)
    until = datetime.date.today() + datetime.timedelta(days=30)
    entries = [flaky.Entry("test_m.py::test_broken", "known: issue 12", until)]
    result, reports = run(
        pytester, monkeypatch, entries, "-p", "no:cacheprovider", "-k", "broken or steady"
    )
    assert result.ret == 0
    result.assert_outcomes(passed=1, xfailed=1)
    assert flaky.read_report(reports)["quarantined"] == [
        {"test": "test_m.py::test_broken", "outcome": "failed"}
    ]
    line = flaky.verdict_line("unit", reports, Path("reports/unit-3.11"))
    assert line is not None and "1 quarantined ran, 1 failed and did not count" in line


def test_quarantine_files_are_read_and_expired_entries_refused(tmp_path: Path) -> None:
    path = tmp_path / "quarantine.toml"
    path.write_text(
        '[[test]]\nid = "tests/test_a.py::test_x"\nreason = "flaky sampler, #3"\n'
        "until = 2026-11-30\n"
        '[[test]]\nid = "tests/test_a.py::test_y"\nreason = "r"\nuntil = "2027-01-31"\n'
    )
    entries = flaky.read_quarantine(path)
    assert [e.until for e in entries] == [datetime.date(2026, 11, 30), datetime.date(2027, 1, 31)]
    [late] = flaky.expired(entries, today=datetime.date(2026, 12, 1))
    assert late == (
        "quarantine: tests/test_a.py::test_x was quarantined until 2026-11-30 (flaky sampler,"
        " #3): fix it, or extend the date"
    )
    path.write_text('[[test]]\nid = "tests/test_a.py::test_x"\nreason = "r"\n')
    with pytest.raises(ConfigError, match="needs `until`, the date its quarantine ends"):
        flaky.read_quarantine(path)
    path.write_text("not toml ==")
    with pytest.raises(ConfigError, match="is not TOML"):
        flaky.read_quarantine(path)


def test_reruns_are_asked_for_with_the_plugin_they_need(tmp_path: Path) -> None:
    from mlci.config.settings import resolve
    from mlci.session.registry import BY_NAME, Run

    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'p'\n[tool.mlci]\nflaky-reruns = 2\n"
    )
    (tmp_path / "tests").mkdir()
    settings = resolve(tmp_path, environ={})
    for name in ("unit", "integ", "gpu"):
        assert "pytest-rerunfailures>=14" in BY_NAME[name].tools(settings)
        command = BY_NAME[name].commands(Run(settings, name, Path("reports/x")))[-1]
        assert command[command.index("--reruns") + 1] == "2"
    plain = resolve(tmp_path, {"flaky-reruns": "0"}, environ={})
    assert "pytest-rerunfailures>=14" not in BY_NAME["unit"].tools(plain)
    assert json.loads(flaky.environment([], tmp_path)[flaky.QUARANTINE_ENV]) == []


def test_a_quarantined_test_whose_fixture_fails_does_not_count_either(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_f="import pytest\n\n@pytest.fixture\ndef broken():\n    raise RuntimeError('down')\n\n"
        "def test_needs_it(broken): ...\n"
    )
    until = datetime.date.today() + datetime.timedelta(days=3)
    entries = [flaky.Entry("test_f.py::test_needs_it", "service down", until)]
    result, reports = run(pytester, monkeypatch, entries, "-p", "no:cacheprovider")
    assert result.ret == 0
    result.assert_outcomes(xfailed=1)
    assert flaky.read_report(reports)["quarantined"] == [
        {"test": "test_f.py::test_needs_it", "outcome": "failed"}
    ]


def test_passes_in_a_row_count_runs_and_a_repeat_that_failed_starts_again(tmp_path: Path) -> None:
    listed = {"tests/test_q.py::test_q"}

    def one_run(*outcomes: str) -> dict[str, int]:
        entries = [{"test": "tests/test_q.py::test_q", "outcome": o} for o in outcomes]
        return flaky.record_streaks(tmp_path, "unit-3.11", entries, listed)

    assert one_run("passed") == {"tests/test_q.py::test_q": 1}
    assert one_run("passed", "passed", "passed") == {"tests/test_q.py::test_q": 2}  # one run
    # flake-finder's repeats: its first run failed, its last passed; not a pass.
    assert one_run("failed", "passed") == {"tests/test_q.py::test_q": 0}
    assert one_run() == {"tests/test_q.py::test_q": 0}  # did not run: kept
    line = flaky.ready_line("unit-3.11", {"tests/test_q.py::test_q": 20}, 20, "quarantine.toml")
    assert line is not None and "tests/test_q.py::test_q" in line
