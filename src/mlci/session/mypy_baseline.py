"""`mlci mypy-baseline`: mypy, where only errors not in a recorded baseline fail.

The baseline itself (its format, matching errors across moved lines) is mypy-baseline's
(PyPI); this only runs mypy, keeps its report, and hands mypy's output to mypy-baseline, which
reads it from standard input. mypy's own exit status is checked first: 2 (a crash, a bad flag)
is a failure whatever the baseline says, since mypy-baseline would see no error in it.

Notes are left out of the baseline and of the judgement: mypy prints some once per run at
whichever file comes first (the "See ...#missing-imports" hint), so they move between runs and
would count as new. `--ignore-categories note` covers notes without an error code only;
mypy-baseline files a coded note (`[annotation-unchecked]`, printed for any annotation in an
untyped function) under its code, so note lines are taken out of mypy's output first.

A green run prints the verdict, not the baseline's known errors; the whole output is in
`--output`, and `--junit` gets one test case that fails with the new errors, so the session's
JUnit report exists with a baseline too.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from mlci.errors import ConfigError

# mypy's exit statuses: 0 clean, 1 type errors (the baseline judges those), 2 mypy itself failed.
MYPY_FOUND_ERRORS = 1
BASELINE = [sys.executable, "-m", "mypy_baseline"]
NO_NOTES = ["--ignore-categories", "note"]
NOTE_LINE = re.compile(r"^[^\n:]+:[0-9]+(?::[0-9]+)?: note: ")


def run(
    mypy: list[str],
    baseline: Path,
    output: Path,
    *,
    record: bool = False,
    junit: Path | None = None,
) -> int:
    """Run mypy; 0 when it found no error that the baseline lacks (or, recording, always)."""
    try:
        done = subprocess.run(mypy, capture_output=True, text=True, check=False)
    except OSError as error:  # not installed, not executable
        raise ConfigError(f"mypy-baseline: cannot run {mypy[0]!r}: {error.strerror}") from error
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(done.stdout)
    errors = without_notes(done.stdout)
    if done.returncode not in (0, MYPY_FOUND_ERRORS):
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        why = (done.stdout + done.stderr).strip().splitlines()
        line = f"mypy itself failed (exit {done.returncode}): {why[-1] if why else 'no output'}"
        print(f"mlci: {line}", file=sys.stderr)
        _write_junit(junit, line)
        return done.returncode
    if record:
        synced = subprocess.run(
            [*BASELINE, "sync", *NO_NOTES, "--baseline-path", str(baseline)],
            input=errors,
            text=True,
            capture_output=True,
            check=False,
        )
        if synced.returncode != 0:
            said = (synced.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"mlci: mypy-baseline could not record {baseline}: {said}", file=sys.stderr)
            return synced.returncode
        print(f"mlci: recorded mypy's {done.stdout.count(': error:')} errors in {baseline}")
        return 0
    judged = subprocess.run(
        # --allow-unsynced: a fixed error is good news, not a failure (the lint baseline's rule).
        [
            *BASELINE,
            "filter",
            *NO_NOTES,
            "--allow-unsynced",
            "--no-colors",
            "--baseline-path",
            str(baseline),
        ],
        input=errors,
        text=True,
        capture_output=True,
        check=False,
    )
    known = done.stdout.count(": error:")
    unchecked = done.stdout.count("[annotation-unchecked]")
    if unchecked:  # left out with the notes, yet a reason a type error can pass unseen
        print(
            f"mlci: mypy: {unchecked} annotated line(s) inside untyped functions are not"
            " checked (mypy's annotation-unchecked note); set check_untyped_defs = true in your"
            " mypy configuration to check those bodies"
        )
    if judged.returncode == 0:
        print(f"mlci: mypy: no new errors ({known} known, in {baseline}; all of them in {output})")
        _write_junit(junit, None)
    else:
        sys.stdout.write(judged.stdout)  # the new errors and mypy-baseline's tally
        sys.stderr.write(judged.stderr)
        _write_junit(junit, judged.stdout.strip() or "mypy-baseline failed")
    return judged.returncode


def without_notes(output: str) -> str:
    """mypy's output without its `note:` lines (`file:line: note: ...`, `file:line:col: ...`)."""
    return "".join(line for line in output.splitlines(keepends=True) if not NOTE_LINE.match(line))


def _write_junit(path: Path | None, failure: str | None) -> None:
    """One test case, `mypy against the baseline`, failing with `failure` when given."""
    if path is None:
        return
    suite = ET.Element("testsuite", name="mypy", tests="1", failures="1" if failure else "0")
    case = ET.SubElement(suite, "testcase", classname="mypy", name="against the baseline")
    if failure is not None:
        ET.SubElement(case, "failure", message=failure.splitlines()[0]).text = failure
    path.parent.mkdir(parents=True, exist_ok=True)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
