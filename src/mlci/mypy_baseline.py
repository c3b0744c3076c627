"""`mlci mypy-baseline`: mypy, where only errors not in a recorded baseline fail.

The baseline itself (its format, matching errors across moved lines) is mypy-baseline's
(PyPI); this only runs mypy, keeps its report, and hands mypy's output to mypy-baseline, which
reads it from standard input. mypy's own exit status is checked first: 2 (a crash, a bad flag)
is a failure whatever the baseline says, since mypy-baseline would see no error in it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlci.errors import ConfigError

# mypy's exit statuses: 0 clean, 1 type errors (the baseline judges those), 2 mypy itself failed.
MYPY_FOUND_ERRORS = 1


def run(mypy: list[str], baseline: Path, output: Path, *, record: bool = False) -> int:
    """Run mypy; 0 when it found no error that the baseline lacks (or, recording, always)."""
    try:
        done = subprocess.run(mypy, capture_output=True, text=True, check=False)
    except OSError as error:  # not installed, not executable
        raise ConfigError(f"mypy-baseline: cannot run {mypy[0]!r}: {error.strerror}") from error
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(done.stdout)
    if done.returncode not in (0, MYPY_FOUND_ERRORS):
        print(f"mlci: mypy itself failed (exit {done.returncode}); see above", file=sys.stderr)
        return done.returncode
    command = "sync" if record else "filter"
    judged = subprocess.run(
        [sys.executable, "-m", "mypy_baseline", command, "--baseline-path", str(baseline)],
        input=done.stdout,
        text=True,
        check=False,
    )
    if record:
        print(f"mlci: recorded mypy's {done.stdout.count(': error:')} errors in {baseline}")
        return 0
    return judged.returncode
