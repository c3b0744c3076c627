"""Unit tests split over several CI jobs, balanced by recorded durations (pytest-split).

The splitting is pytest-split's; mlci gives each shard its arguments, keeps every shard's raw
coverage data and durations with its reports, and merges the durations afterwards (pytest-split
has no merge). Each shard reads the carried durations from a copy and writes only its own tests
(`--clean-durations`), so the shards' files are disjoint and the merge is a plain union.

A split is only right if every shard computed it from the same durations and the same tests, so
each shard leaves a record (`shard.json`: which shard, the digest of the durations it split by,
every test it collected before the split) and the combine proves the run complete: the shards'
JUnit reports hold every collected test exactly once (`check_complete`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path

from mlci.config.shard_spec import Shard, parse
from mlci.errors import ConfigError
from mlci.session import junit

DURATIONS = ".test_durations"  # pytest-split's own default name, carried between CI runs
RECORD = "shard.json"  # in each shard's report folder: what the combine proves complete
COLLECTED_ENV = "MLCI_SHARD_RECORD"  # tells mlci's pytest plugin where the record is
NO_DURATIONS = "none"  # the digest of a split made without durations (by count)
SHOWN = 10  # test ids named in a failure line, at most


def pytest_args(shard: Shard, durations: Path) -> list[str]:
    """pytest-split's arguments for one shard; `durations` is this shard's copy (`=`: a path
    given as a separate argument would move pytest's rootdir)."""
    return [
        f"--splits={shard.total}",
        f"--group={shard.index}",
        "--splitting-algorithm=least_duration",
        f"--durations-path={durations}",
        "--store-durations",
        "--clean-durations",
    ]


def seed(carried: Path, copy: Path) -> str:
    """Give the shard the carried durations to split by (none yet: pytest-split splits by
    count), in its own copy, which it then overwrites with its own tests' durations. Returns
    the digest of what the split reads (`NO_DURATIONS` for none)."""
    copy.parent.mkdir(parents=True, exist_ok=True)
    if carried.is_file():
        shutil.copyfile(carried, copy)
        return hashlib.sha256(copy.read_bytes()).hexdigest()[:12]
    copy.unlink(missing_ok=True)
    return NO_DURATIONS


def write_record(folder: Path, shard: Shard, durations: str) -> Path:
    """The shard's record, before pytest runs; mlci's pytest plugin adds the collected tests."""
    path = folder / RECORD
    record = {"shard": shard.text, "durations": durations, "collected": None}
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


def add_collected(path: Path, nodeids: list[str], junit_ids: list[str] | None = None) -> None:
    """Called by the pytest plugin after marker selection, before pytest-split's own split,
    with the names pytest's JUnit report will give those tests. Written whole then renamed:
    xdist workers each collect, and write the same list."""
    record = json.loads(path.read_text(encoding="utf-8"))
    record["collected"] = nodeids
    record["junit"] = junit_ids
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    partial.replace(path)


def junit_id(nodeid: str) -> str:
    """A pytest node id as pytest's JUnit report names it (`classname::name`), the way
    `_pytest.junitxml.mangle_test_address` does: the file path dotted and without `.py`,
    parameters kept on the name. (A `junit_prefix` would not match: the check then fails,
    never passes.)"""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return f"{'.'.join(names[:-1])}::{names[-1]}"


def _ran(report: Path) -> list[str]:
    root = junit.parse(report)
    if root is None:
        return []
    return [
        f"{case.get('classname', '')}::{case.get('name', '')}" for case in root.iter("testcase")
    ]


def _listed(ids: list[str] | set[str]) -> str:
    shown = sorted(ids)[:SHOWN]
    more = len(ids) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _read(folders: list[Path]) -> tuple[dict[int, dict[str, object]], list[str], list[str]]:
    """Each shard's record by index, every test id its JUnit report holds, and problems."""
    records: dict[int, dict[str, object]] = {}
    ran: list[str] = []
    problems: list[str] = []
    for folder in folders:
        try:
            record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
            shard = parse(str(record["shard"]))
            if shard is None:
                raise ValueError(f"bad shard {record['shard']!r}")
            # Once per shard: a rerun (flaky-reruns) is the same test run again, not twice.
            ran += sorted(set(_ran(folder / "junit.xml")))
        except FileNotFoundError:
            problems.append(f"{folder.name} has no {RECORD} (made by an older mlci?)")
            continue
        except (OSError, ValueError, KeyError, TypeError, junit.ReportError) as err:
            problems.append(f"{folder.name}: unreadable shard reports ({err})")
            continue
        if shard.index in records:
            problems.append(f"shard {shard.text} reported twice")
        records[shard.index] = {**record, "total": shard.total}
    totals = {int(str(record["total"])) for record in records.values()}
    if len(totals) > 1:
        problems.append(
            f"reports of splits into {' and '.join(map(str, sorted(totals)))} shards are mixed"
            " (remove the stale mlci-reports/unit-*-shard-* folders)"
        )
    return records, ran, problems


def check_complete(folders: list[Path]) -> str | None:
    """None when the shards in `folders` (one Python's) ran every collected test exactly once;
    else one line: the counts, then up to ten missing and duplicated ids, and why if known."""
    records, ran, problems = _read(folders)
    if problems or not records:
        return "; ".join(problems) or "no shard reports"
    total = int(str(next(iter(records.values()))["total"]))
    collected_sets: list[set[str]] = []
    for index, record in sorted(records.items()):
        nodeids = record.get("collected")
        if not isinstance(nodeids, list):
            return (
                f"shard {index}/{total} stopped before its tests were collected (see its job's"
                " log): the run cannot be proven complete"
            )
        named = record.get("junit")  # pytest's own names, when the plugin could ask for them
        if isinstance(named, list) and len(named) == len(nodeids):
            collected_sets.append({str(name) for name in named})
        else:
            collected_sets.append({junit_id(str(nodeid)) for nodeid in nodeids})
    collected = collected_sets[0]
    if not collected and not ran:
        return (
            f"the unit shards collected no test at all ({len(records)} shards): nothing was checked"
        )
    counts = Counter(ran)
    digests = {f"{i}/{total}": str(r.get("durations")) for i, r in sorted(records.items())}
    missing_shards = [f"{i}/{total}" for i in range(1, total + 1) if i not in records]
    parts = [f"shard(s) {', '.join(missing_shards)} left no reports"] if missing_shards else []
    for label, ids in (
        ("never ran", collected - set(counts)),
        ("ran more than once", {test for test, n in counts.items() if n > 1}),
        ("ran but were not collected", set(counts) - collected),
    ):
        if ids:
            parts.append(f"{len(ids)} {label}: {_listed(ids)}")
    if any(other != collected for other in collected_sets):
        parts.append("the shards collected different tests")
    if not parts:
        return None
    if len(set(digests.values())) > 1:
        shown = ", ".join(f"{shard}: {digest}" for shard, digest in digests.items())
        parts.append(f"they split by different durations ({shown})")
    head = f"{len(collected)} tests collected, {len(counts)} ran in {len(records)} shards"
    return f"the unit shards did not run every test once: {head}; " + "; ".join(parts)


def merge(files: list[Path], outputs: list[Path]) -> tuple[int, list[str]]:
    """Merge the shards' durations (disjoint: a union) into each output: the number of tests, and
    one line per file left out. A shard's unreadable file is skipped, not fatal: durations only
    balance the next run's split, and its tests are split by count until they are recorded."""
    merged: dict[str, float] = {}
    skipped: list[str] = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            merged.update({str(k): float(v) for k, v in data.items()})
        except (OSError, ValueError, TypeError) as error:
            skipped.append(f"{path}: left out, not pytest-split durations ({error})")
    text = json.dumps(merged, indent=2, sort_keys=True) + "\n"
    for output in outputs:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"merge-durations: cannot write {output}: {err.strerror}") from None
    return len(merged), skipped
