"""Whether a session passed, from its reports: pure functions of the files it wrote.

A session's tools may all exit 0 and the session still not pass: an integ run that found no
test, a gpu run that skipped, coverage under the threshold. The rules per session are data in
the registry (`SessionDef.verdict`); this module applies them. No nox here.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlci.session.junit import ReportError, skip_reasons, totals
from mlci.session.registry import SessionDef
from mlci.session.summary import total_coverage


def problems(
    session: SessionDef,
    reports: Path,
    *,
    coverage_fail_under: float,
    coverage_expected: bool,
    partial: bool = False,
) -> list[str]:
    """One line per reason the session has not passed (empty: it passed).

    coverage_expected: the coverage gate applies to this run (not testmon, not --no-cov).
    partial: the run is a part of the tests by design (a shard, testmon's selection).
    """
    rules = session.verdict
    found: list[str] = []
    junit = reports / "junit.xml"
    try:
        counts = totals(junit)
        skipped = skip_reasons(junit)
    except ReportError as err:
        return [f"{session.name}: {err}"]
    if rules.tests_must_run and counts.tests == 0:
        found.append(
            f"{session.name}: no tests ran (mark tests with @pytest.mark.{session.name},"
            f" or leave {session.name} out of sessions)"
        )
    elif rules.whole_run_must_test and not partial and counts.tests == 0:
        found.append(
            f"{session.name}: no tests ran: pytest collected none, or every test was deselected"
            " (-m, -k); a session that checked nothing is not green"
        )
    if rules.no_skips_except is not None and counts.tests:
        accepted = re.compile(rules.no_skips_except)
        if counts.tests == counts.skipped:
            found.append(f"{session.name}: every test was skipped; it must run at least one")
        refused = [reason for reason in skipped if not accepted.search(reason)]
        if refused:
            found.append(
                f"{session.name}: {len(refused)} test(s) skipped, this session must run them"
                f" all: {'; '.join(refused)}"
            )
    if rules.coverage_gate and coverage_expected:
        report = reports / "coverage.xml"
        try:
            total = total_coverage(report)
        except ReportError as err:
            return [*found, f"{session.name}: {err}"]
        if total is None:
            found.append(f"{session.name}: no coverage report at {report}")
        elif total + 1e-9 < coverage_fail_under:
            found.append(
                f"{session.name}: coverage {total:.2f}% is under coverage-fail-under"
                f" {coverage_fail_under:g}%"
            )
    return found
