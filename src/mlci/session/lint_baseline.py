"""`mlci lint-baseline`: pylint, where only messages not in a recorded baseline fail.

No maintained library keeps a pylint baseline (mypy has mypy-baseline; pylint's own
`--fail-under` is a score, which a new problem can leave above the floor, or even raise), so
this one is small: pylint runs with its JSON report (`json2`), and each
message is reduced to a fingerprint that survives moved lines: file, message symbol, the
function or class it is in, and its text with numbers blanked (`duplicate-code` names line
ranges). The baseline is the sorted list of today's fingerprints, one a line, repeats kept.

- A message not in the baseline (one more than it counts) fails, named.
- Messages fixed since: the baseline is rewritten without them (commit it), and the run passes;
  not when the run was narrowed (`nox -s lint -- --disable=W`): then nothing counts as fixed.
- pylint's own failure (exit bits 1 fatal, 32 usage error) and a file it cannot parse
  (`syntax-error`) fail whatever the baseline says, and are never recorded.
- The score floor stays, optional: `--fail-under`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from mlci.errors import ConfigError

PYLINT_BROKE = 1 | 32  # exit bits: a fatal message, a usage error
NEVER_KNOWN = (
    "fatal",
    "syntax-error",
    "astroid-error",
    "parse-error",
)  # types and symbols no baseline hides
SHOWN = 20


def fingerprint(message: dict[str, Any]) -> str:
    """What stays the same when lines move: file, symbol, enclosing object, text sans numbers."""
    lines = str(message.get("message") or "").splitlines()
    text = re.sub(r"\d+", "#", lines[0] if lines else "")
    path = str(message.get("path", "")).replace("\\", "/")
    return f"{path}: {message.get('symbol', '')}: {message.get('obj', '') or '-'}: {text}"


def read_report(report: Path) -> tuple[Counter[str], float | None]:
    """The fingerprints of a pylint json2 report, and its score."""
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"lint-baseline: cannot read pylint's report {report} ({err})") from None
    messages = data.get("messages", []) if isinstance(data, dict) else []
    score = data.get("statistics", {}).get("score") if isinstance(data, dict) else None
    found = Counter(fingerprint(m) for m in messages if isinstance(m, dict))
    return found, float(score) if isinstance(score, (int, float)) else None


def read_baseline(path: Path) -> Counter[str]:
    if not path.is_file():
        return Counter()
    lines = path.read_text(encoding="utf-8").splitlines()
    return Counter(line for line in lines if line.strip() and not line.startswith("#"))


def write_baseline(path: Path, found: Counter[str]) -> None:
    lines = sorted(found.elements())
    header = "# pylint messages the code had when recorded (mlci lint-baseline); new ones fail\n"
    path.write_text(header + "".join(f"{line}\n" for line in lines), encoding="utf-8")


def run(
    pylint: list[str],
    baseline: Path,
    report: Path,
    *,
    fail_under: float | None = None,
    record: bool = False,
    narrowed: bool = False,
) -> int:
    """Run pylint; 0 when it found nothing the baseline lacks and the score holds."""
    try:
        done = subprocess.run(pylint, check=False)
    except OSError as error:
        raise ConfigError(f"lint-baseline: cannot run {pylint[0]!r}: {error.strerror}") from error
    if done.returncode & PYLINT_BROKE:
        print(f"mlci: pylint itself failed (exit {done.returncode}); see above", file=sys.stderr)
        return done.returncode or 1
    found, score = read_report(report)
    broken = sorted(f for f in found if any(f": {word}: " in f for word in NEVER_KNOWN))
    if broken:
        print("\n".join(broken[:SHOWN]))
        print(
            f"mlci: lint: pylint could not check {len(broken)} place(s): see above", file=sys.stderr
        )
        return 1
    if record:
        write_baseline(baseline, found)
        print(f"mlci: recorded pylint's {sum(found.values())} messages in {baseline}")
        return 0
    known = read_baseline(baseline)
    new = found - known
    fixed = known - found
    problems = []
    if new:
        listed = sorted(new.elements())
        more = f" (and {len(listed) - SHOWN} more)" if len(listed) > SHOWN else ""
        print("\n".join(listed[:SHOWN]) + more)
        problems.append(f"{sum(new.values())} new pylint message(s), not in {baseline}")
    if fail_under is not None and score is not None and score + 1e-9 < fail_under:
        problems.append(f"pylint's score {score:.2f} is under pylint-fail-under {fail_under:g}")
    if problems:
        print(f"mlci: lint: {'; '.join(problems)}", file=sys.stderr)
        return 1
    if fixed and not narrowed:
        write_baseline(baseline, known - fixed)
        print(
            f"mlci: {sum(fixed.values())} baseline message(s) fixed:"
            f" {baseline} rewritten (commit it)"
        )
    print(f"mlci: pylint: no new messages ({sum(found.values())} known, in {baseline})")
    return 0
