"""`mlci init --measure`: run the sessions once, one progress line each, and judge each one.

nox's whole log goes to a file (`LOG`); the terminal gets one line per session. From nox's
JSON report and that log, each session gets a state: green (it passed, or failed today only on
what init records: pylint's score, mypy's errors, the coverage), or red with its cause in one
line, including "could not run" (an install that failed, a tool's config error, a session the
noxfile does not have). What it records is returned as settings for [tool.mlci].
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from mlci.config.settings import Settings, resolve
from mlci.project.files import REPORTS
from mlci.session import lint_baseline
from mlci.session.junit import ReportError, parse, totals
from mlci.session.registry import BY_NAME, Run
from mlci.session.summary import total_coverage
from mlci.session.validation import check

# Beside the sessions' reports, so out of `git status` and never behind a link (reports.py).
LOG = Path(REPORTS) / "mlci-init.log"  # nox's whole output, for the user to read
REPORT = Path(REPORTS) / "mlci-init.json"  # nox's --report: each session's result
IGNORE = "# Written by mlci: session reports are not sources.\n*\n"  # as the sessions write it
MYPY_BASELINE = "mypy-baseline.txt"
PYLINT_BASELINE = "pylint-baseline.txt"
NOX = [sys.executable, "-m", "nox"]
# Colour codes, also as pytest writes them into a JUnit report (`#x1B[31m`: XML has no ESC).
ANSI = re.compile(r"(?:\x1b|#x1B)\[[0-9;]*[A-Za-z]")
PREFIX = "nox > "
RUNNING = re.compile(r"Running session (\S+)$")
ENDED = re.compile(r"Session (\S+) (was successful|failed|aborted|skipped|interrupted)")
COMMAND_FAILED = re.compile(r"Command (.+) failed with exit code (-?\d+):?$")
COVERAGE_UNDER = re.compile(r"coverage ([0-9.]+)% is under coverage-fail-under")
PYLINT_CONFIG = "Command line or configuration file"  # pylint's "module" for config messages
PYLINT_CANNOT_RUN = 1 | 32  # pylint's exit bits: a fatal message, a usage error
PYTEST_CODES = {
    2: "pytest was interrupted or could not collect the tests",
    3: "pytest had an internal error",
    4: "pytest was called wrongly (a bad option or config)",
    5: "pytest collected no tests",
}


@dataclass
class SessionRun:
    """What nox said about one session."""

    name: str
    status: str = ""  # success, failed, aborted, skipped; "" when it never ran
    reason: str = ""  # an aborted session's message (mlci's one line)
    program: str = ""  # the command that failed, and its exit code
    code: int = 0
    cause: str = ""  # the line of that command's output that says why


@dataclass
class NoxRun:
    sessions: dict[str, SessionRun]
    code: int
    error: str = ""  # nox's own complaint when it stopped before running (any) sessions


@dataclass
class Outcome:
    """A session's state once init has recorded what it measured."""

    session: str
    green: bool
    why: str


@dataclass
class Measurement:
    updates: dict[str, Any] = field(default_factory=dict)  # [tool.mlci] keys it measured
    notes: dict[str, str] = field(default_factory=dict)  # key -> what was measured
    outcomes: list[Outcome] = field(default_factory=list)
    recorded: list[Path] = field(default_factory=list)  # files it wrote besides pyproject

    @property
    def red(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.green]


# --- running nox --------------------------------------------------------------------------------


def session_names(settings: Settings) -> list[str]:
    """The nox sessions a plain `nox` runs on this machine's CPU, as the noxfile registers them
    for the settings in effect (a kept [tool.mlci] may list fewer)."""
    return [
        name
        for definition in check(settings).sessions
        if not definition.gpu and definition.default
        for name in definition.nox_names(settings)
    ]


class LogReader:
    """Follows nox's output line by line: one progress line per session, the facts kept."""

    def __init__(self, names: list[str], progress: TextIO) -> None:
        self.sessions = {name: SessionRun(name) for name in names}
        self.progress = progress
        self.current: SessionRun | None = None
        self.output: list[str] = []  # the running command's output, so far
        self.before: list[str] = []  # what nox or the noxfile said before any session ran
        self.started = 0.0

    def feed(self, raw: str) -> None:
        """One line of nox's output: a session starts or ends, a command failed, or output."""
        line = ANSI.sub("", raw).rstrip()
        if not line.startswith(PREFIX):
            self.output = [*self.output[-199:], line]
            if self.current is None:
                self.before.append(line)
            return
        message = line[len(PREFIX) :]
        if (match := RUNNING.match(message)) is not None:
            self._start(match[1])
        elif (match := COMMAND_FAILED.match(message)) is not None and self.current is not None:
            self.current.program = _program(match[1])
            self.current.code = int(match[2])
            self.current.cause = _cause(self.output)
        elif (match := ENDED.match(message)) is not None and self.current is not None:
            self._end(match[2], message)
        elif self.current is None and not self.sessions_ran():
            self.before.append(message)
        self.output = []

    def sessions_ran(self) -> bool:
        return any(run.status for run in self.sessions.values())

    def _start(self, name: str) -> None:
        self.current = self.sessions.setdefault(name, SessionRun(name))
        self.started = time.monotonic()
        done = sum(1 for run in self.sessions.values() if run.status)
        print(
            f"mlci init: [{done + 1}/{len(self.sessions)}] {name} ...",
            end=" ",
            file=self.progress,
            flush=True,
        )

    def _end(self, status: str, message: str) -> None:
        assert self.current is not None
        run = self.current
        run.status = "success" if status == "was successful" else status
        if run.program and not run.cause:
            run.cause = _cause(self.output)  # a silent command's output follows its line
        seconds = time.monotonic() - self.started
        said = "passed" if run.status == "success" else run.status
        print(f"{said} ({seconds:.0f} s)", file=self.progress, flush=True)
        if run.status == "aborted" and ": " in message:
            run.reason = message.split(": ", 1)[1].removesuffix(".")
        self.current = None

    def nox_error(self, code: int) -> str:
        """Why nox ran nothing (or less than asked): the noxfile's or nox's own line."""
        mlci = [line.removeprefix("mlci: error: ") for line in self.before if "error:" in line]
        if mlci:
            return mlci[0]
        said = [line for line in self.before if line.strip()]
        return said[-1] if said else f"nox exited {code}"


def _program(command: str) -> str:
    try:
        first = shlex.split(command)[0]
    except (ValueError, IndexError):
        first = command.split(" ", 1)[0]
    return Path(first).name


def _cause(lines: list[str]) -> str:
    """The line of a tool's output that says what went wrong."""
    said = [line.strip() for line in lines if line.strip()]
    for line in said:
        # `fatal:` is git's (a pre-commit hook repository it cannot clone); pre-commit's own
        # "An unexpected error has occurred:" names only a log file, so it is passed over.
        if (
            re.search(r"(?i)(\berror\b:|^fatal:)", line)
            and "unexpected error has occurred" not in line
        ):
            return line[:300]
    errors = [line for line in said if line.startswith("ERROR ")]
    found = errors[-1] if errors else (said[-1] if said else "")
    return found[:300]


def run_nox(root: Path, names: list[str], progress: TextIO) -> NoxRun:
    """Run the sessions once; their output goes to LOG, a line per session to `progress`."""
    log, report = root / LOG, root / REPORT
    log.parent.mkdir(parents=True, exist_ok=True)
    if not (log.parent / ".gitignore").exists():
        (log.parent / ".gitignore").write_text(IGNORE, encoding="utf-8")
    report.unlink(missing_ok=True)
    command = [*NOX, "--noxfile", str(root / "noxfile.py"), "--no-color"]
    command += ["--report", str(report), "-s", *names]
    # COLUMNS: pytest cuts its summary lines (the cause init reports) to the terminal's width.
    env = {**os.environ, "NO_COLOR": "1", "PY_COLORS": "0", "COLUMNS": "400"}
    env.pop("FORCE_COLOR", None)  # the log is read as text
    reader = LogReader(names, progress)
    with (
        log.open("w", encoding="utf-8") as out,
        subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process,
    ):
        assert process.stdout is not None
        out.write(f"$ {shlex.join(command)}\n")
        for line in process.stdout:
            out.write(line)
            reader.feed(line)
    if reader.current is not None:  # nox itself died inside a session
        reader.current.status = "aborted"
        reader.current.reason = f"nox stopped during the session (exit {process.returncode})"
        print("stopped", file=progress, flush=True)
    _read_report(report, reader.sessions)
    return NoxRun(reader.sessions, process.returncode, reader.nox_error(process.returncode))


def _read_report(path: Path, sessions: dict[str, SessionRun]) -> None:
    """nox's own word on each session's result and reason, where it wrote a report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = [entry for entry in data["sessions"] if isinstance(entry, dict)]
    except (OSError, ValueError, KeyError, TypeError):
        return
    for entry in entries:
        run = sessions.setdefault(str(entry.get("name")), SessionRun(str(entry.get("name"))))
        run.status = str(entry.get("result") or run.status)
        run.reason = str(entry.get("reason") or run.reason)


# --- what it measured ---------------------------------------------------------------------------


def measure(root: Path, progress: TextIO | None = None) -> Measurement:
    """Run the CPU sessions once; record pylint's score, mypy's errors and the coverage."""
    progress = progress or sys.stderr
    settings = resolve(root)
    names = session_names(settings)
    result = Measurement()
    if not names:
        return result
    print(f"mlci init: measuring {', '.join(names)} (nox's log: {LOG})", file=progress, flush=True)
    ran = run_nox(root, names, progress)
    reports = root / REPORTS
    pylint = _record_pylint(root, reports / "lint" / "pylint.json", result)
    mypy = "mypy" in names and _record_mypy(root, settings, ran.sessions["mypy"], result)
    units = [n for n in names if n.startswith("unit-")]
    green = [name for name in units if _tests_passed(ran.sessions[name])]
    coverage = _record_coverage(reports, green, result, settings.coverage_margin)
    if units and not green:
        result.notes["coverage-fail-under"] = (
            "not measured: no unit session passed its tests today (a red run's coverage is"
            " not the suite's); measure again once they pass"
        )
    if not settings.given("xdist-workers"):
        _propose_xdist(reports, units, result)
    for name in names:
        facts = Facts(pylint, mypy, coverage, reports / name)
        outcome = judge(ran.sessions[name], facts, ran)
        if name == "nbmake" and not outcome.green:
            outcome = _leave_out_notebooks(settings, reports / name, outcome, result)
        result.outcomes.append(outcome)
    return result


def _leave_out_notebooks(
    settings: Settings, reports: Path, outcome: Outcome, result: Measurement
) -> Outcome:
    """Notebooks that fail today are most often demos that need data, a GPU or packages the
    project does not declare: left out of `sessions` with the reason, so the first `nox` is
    green; unit's failing tests, by contrast, stay red."""
    cause = notebook_cause(reports / "junit.xml") or outcome.why
    chosen = check(settings).names  # what runs today, as the sessions' own names
    result.updates["sessions"] = [name for name in chosen if name != "nbmake"]
    result.notes["sessions"] = (
        f"nbmake left out: {cause}; add it back once they run (`nox -s nbmake`)"
    )
    return Outcome(outcome.session, True, f"left out of sessions: {cause}")


_NO_MODULE = re.compile(r"No module named '([A-Za-z0-9_.]+)'")


def notebook_cause(junit: Path) -> str:
    """Why the notebooks failed, in a few words: the modules they import that are not
    installed, else how many failed ("" without a report)."""
    try:
        root = parse(junit)
    except ReportError:
        return ""
    if root is None:
        return ""
    failed, modules, others = 0, Counter[str](), []
    for case in root.iter("testcase"):
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is None:
            continue
        failed += 1
        found = _NO_MODULE.search((problem.text or "") + problem.get("message", ""))
        if found:
            modules[found[1].split(".")[0]] += 1
        else:
            others.append(_short_error(problem.get("message", "") or problem.text or ""))
    if not failed:
        return ""
    parts = []
    if modules:
        named = ", ".join(f"{module} ({count})" for module, count in modules.most_common())
        parts.append(f"{sum(modules.values())} import what is not installed: {named}")
    if others:
        first = f" ({others[0]})" if others[0] else ""
        parts.append(f"{len(others)} fail otherwise{first}")
    return f"{failed} notebook(s) fail today: {'; '.join(parts)}"


def _short_error(text: str) -> str:
    """The last line that names an exception (`RuntimeError: x`), cut to a readable length."""
    text = ANSI.sub("", text)
    lines = [
        line.strip() for line in text.splitlines() if re.match(r"\s*\w+(Error|Exception)\b", line)
    ]
    found = lines[-1] if lines else text.strip().splitlines()[0] if text.strip() else ""
    return found if len(found) <= 120 else found[:117] + "..."


SLOW_UNIT_SECONDS = 60  # a unit suite slower than this is worth splitting
XDIST_MIN_CORES = 4  # fewer, and xdist's workers (each importing torch) cost more than they save


def _propose_xdist(reports: Path, units: list[str], result: Measurement) -> None:
    """A unit suite of more than a minute: xdist's workers, with the time measured as the
    reason (the tests' own time, from the JUnit report, not the install)."""
    seconds = max((_suite_seconds(reports / name / "junit.xml") for name in units), default=0.0)
    cores = os.cpu_count() or 1
    if seconds > SLOW_UNIT_SECONDS and cores < XDIST_MIN_CORES:
        # Each worker imports torch again: on a few cores the workers cost more than they save.
        result.notes["xdist-workers"] = (
            f"unit's tests took {seconds:.0f} s today; xdist not proposed: {cores} cores here"
            f" (it pays from {XDIST_MIN_CORES}); in CI, unit-shards spreads them over jobs"
        )
    elif seconds > SLOW_UNIT_SECONDS:
        result.updates["xdist-workers"] = "auto"
        result.notes["xdist-workers"] = (
            f"unit's tests took {seconds:.0f} s today: pytest-xdist spreads them over the cores;"
            " in CI, unit-shards spreads them over jobs"
        )


def _suite_seconds(junit: Path) -> float:
    try:
        root = parse(junit)
    except ReportError:
        return 0.0
    if root is None:
        return 0.0
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    try:
        return sum(float(suite.get("time", "0")) for suite in suites)
    except ValueError:
        return 0.0


def _record_pylint(root: Path, path: Path, result: Measurement) -> float | str | None:
    """Today's score, recorded (rounded down) when it is under 10, with today's messages as a
    pylint baseline (so a new message fails even where the score would hold); pylint's complaint
    about its own configuration instead (then the score says nothing about the code); None: no
    report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        score = float(data["statistics"]["score"])
        messages = [m for m in data.get("messages", []) if isinstance(m, dict)]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for message in messages:
        if message.get("module") == PYLINT_CONFIG and message.get("type") in ("error", "fatal"):
            return f"{message.get('messageId')}: {message.get('message')} (pylint's configuration)"
    if score < 10:
        floor = math.floor(score * 10) / 10
        result.updates["pylint-fail-under"] = floor
        result.notes["pylint-fail-under"] = f"pylint's score today: {score:.2f}"
    if messages:
        found, _ = lint_baseline.read_report(path)
        lint_baseline.write_baseline(root / PYLINT_BASELINE, found)
        result.recorded.append(root / PYLINT_BASELINE)
        result.updates["pylint-baseline"] = PYLINT_BASELINE
        result.notes["pylint-baseline"] = f"pylint's {len(messages)} messages today"
    return score


def _tests_passed(run: SessionRun) -> bool:
    """Did the session's tests all pass? Green, or stopped by the coverage floor alone: only
    then is its coverage the suite's (a failing test or a collection error stops early)."""
    if run.status == "success":
        return True
    problems = [part.strip() for part in run.reason.split("; ") if part.strip()]
    return run.status == "aborted" and bool(problems) and all(map(COVERAGE_UNDER.search, problems))


def _record_coverage(
    reports: Path, units: list[str], result: Measurement, margin: float
) -> float | None:
    """The lowest total of the unit sessions that measured one, less `coverage-margin`,
    rounded down: every Python's unit is then green on coverage, and stays green when a rerun
    measures a little less (a timing branch); a real drop is still red."""
    found: dict[str, float] = {}
    for name in units:
        try:
            total = total_coverage(reports / name / "coverage.xml")
        except ReportError:
            total = None
        if total is not None:
            found[name] = total
    if not found:
        return None
    lowest = min(found.values())
    result.updates["coverage-fail-under"] = max(0, math.floor(lowest - margin))
    where = f" (the lowest of {', '.join(found)})" if len(found) > 1 else ""
    result.notes["coverage-fail-under"] = (
        f"coverage today: {lowest:.2f}%{where}, less coverage-margin {margin:g}"
    )
    return lowest


def _record_mypy(root: Path, settings: Settings, run: SessionRun, result: Measurement) -> bool:
    """Record today's mypy errors as the baseline, with the environment's own mlci and mypy,
    when mypy ran and found errors (exit 1); True when recorded."""
    if not (run.status == "failed" and run.program == "mypy" and run.code == 1):
        return False
    environment = (
        root / ".nox" / ".cache" / "mlci" / f"py{settings.main_python}-{settings.torch_backend}"
    )
    binaries = environment / ("Scripts" if os.name == "nt" else "bin")
    [mypy] = BY_NAME["mypy"].commands(Run(settings, "mypy", Path(REPORTS) / "mypy"))
    if not (binaries / "mypy").exists() or mypy[0] != "mypy":
        return False  # no environment, or a baseline is already in use
    output = Path(REPORTS) / "mypy" / "mypy.txt"
    command = [str(binaries / "mlci"), "mypy-baseline", "--record", "--baseline", MYPY_BASELINE]
    command += ["--output", str(output), "--", str(binaries / "mypy")]
    command += [arg for arg in mypy[1:] if not arg.startswith("--junit-xml")][: len(mypy) - 3]
    env = {**os.environ, "PATH": f"{binaries}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env, check=False)
    try:
        errors = (root / output).read_text(encoding="utf-8").count(": error:")
    except OSError:
        errors = 0
    if done.returncode != 0 or not errors:
        (root / MYPY_BASELINE).unlink(missing_ok=True)
        return False
    result.updates["mypy-baseline"] = MYPY_BASELINE
    result.notes["mypy-baseline"] = f"{errors} mypy error(s) today, recorded: only new ones fail"
    result.recorded.append(root / MYPY_BASELINE)
    return True


# --- each session's state -----------------------------------------------------------------------


@dataclass
class Facts:
    """What init recorded, for judging whether a session is green with it."""

    pylint: float | str | None  # pylint's score, or what was wrong with its configuration
    mypy: bool  # mypy's errors were recorded as the baseline
    coverage: float | None  # the coverage recorded
    reports: Path  # the session's report folder


def judge(run: SessionRun, facts: Facts, ran: NoxRun) -> Outcome:
    """Green, or red with the cause, once what init measured is recorded."""
    name = run.name
    if run.status == "success":
        return Outcome(name, True, "passed")
    if not run.status:
        return Outcome(name, False, f"did not run: {ran.error}")
    if run.status == "aborted":
        return _aborted(run, facts)
    if run.status == "failed" and run.program:
        return _failed(run, facts)
    return Outcome(name, False, f"{run.status}: {run.reason or 'see the log'}")


def _aborted(run: SessionRun, facts: Facts) -> Outcome:
    """mlci stopped the session with one line: a verdict (coverage, no tests) or a failure to
    install or prepare it."""
    problems = [part.strip() for part in run.reason.split("; ") if part.strip()]
    under = [COVERAGE_UNDER.search(part) for part in problems]
    # The coverage recorded is the lowest any unit measured: at or under each one's total.
    if problems and facts.coverage is not None and all(under):
        return Outcome(run.name, True, "its coverage is recorded (coverage-fail-under)")
    rest = [part for part, match in zip(problems, under, strict=True) if match is None]
    return Outcome(run.name, False, "; ".join(rest or problems) or "aborted")


def _failed(run: SessionRun, facts: Facts) -> Outcome:
    """A command of the session exited non-zero: today's code, or a tool that could not run."""
    name, program, code = run.name, run.program, run.code
    if program == "pylint" and isinstance(facts.pylint, str):
        return Outcome(name, False, f"could not run: {facts.pylint}")
    if program == "pylint" and facts.pylint is not None and not code & PYLINT_CANNOT_RUN:
        return Outcome(name, True, "its pylint score is recorded (pylint-fail-under)")
    if program == "mypy" and code == 1 and facts.mypy:
        return Outcome(name, True, "today's errors are recorded (mypy-baseline)")
    if program == "pre-commit" and code == 1:
        return Outcome(
            name, False, "pre-commit hooks fail today: `pre-commit run --all-files`, fix, measure"
        )
    if program == "pytest" and code == 1:
        return Outcome(name, False, f"{_failing(facts.reports)} fail today: fix them")
    if program == "mlci" and code == 1:  # mypy-baseline found errors the baseline lacks
        return Outcome(name, False, "mypy errors not in the baseline: fix them")
    what = PYTEST_CODES.get(code, f"{program} exited {code}") if program == "pytest" else ""
    what = what or f"{program} exited {code}"
    return Outcome(name, False, f"could not run: {what}: {run.cause or 'see the log'}")


def _failing(reports: Path) -> str:
    """How many tests fail, and the modules they miss when that is why (the most common cause
    in a project just cloned: a test dependency it never declares)."""
    try:
        counts = totals(reports / "junit.xml")
    except ReportError:
        return "tests"
    missing = _missing_modules(reports / "junit.xml")
    named = ", ".join(f"{module} ({count})" for module, count in missing.most_common())
    why = f" (they import what is not installed: {named})" if named else ""
    return f"{counts.failures + counts.errors} test(s){why}"


def _missing_modules(junit: Path) -> Counter[str]:
    """The top-level modules the failed cases of a JUnit report could not import."""
    found = Counter[str]()
    try:
        root = parse(junit)
    except ReportError:
        return found
    for case in root.iter("testcase") if root is not None else ():
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            match = _NO_MODULE.search((problem.text or "") + problem.get("message", ""))
            if match:
                found[match[1].split(".")[0]] += 1
    return found
