"""Unit tests split over several CI jobs, balanced by recorded durations (pytest-split).

The splitting is pytest-split's; mlci gives each shard its arguments, keeps every shard's raw
coverage data and durations with its reports, and merges the durations afterwards (pytest-split
has no merge). Each shard reads the carried durations from a copy and writes only its own tests
(`--clean-durations`), so the shards' files are disjoint and the merge is a plain union.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

DURATIONS = ".test_durations"  # pytest-split's own default name, carried between CI runs
_SHARD = re.compile(r"([1-9][0-9]*)/([1-9][0-9]*)")


@dataclass(frozen=True)
class Shard:
    index: int
    total: int

    @property
    def text(self) -> str:
        return f"{self.index}/{self.total}"


def parse(text: str) -> Shard | None:
    match = _SHARD.fullmatch(text.strip())
    if match is None:
        return None
    shard = Shard(int(match[1]), int(match[2]))
    return shard if shard.index <= shard.total else None


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


def seed(carried: Path, copy: Path) -> None:
    """Give the shard the carried durations to split by (none yet: pytest-split splits by
    count), in its own copy, which it then overwrites with its own tests' durations."""
    copy.parent.mkdir(parents=True, exist_ok=True)
    if carried.is_file():
        shutil.copyfile(carried, copy)
    else:
        copy.unlink(missing_ok=True)


def merge(files: list[Path], output: Path) -> tuple[int, list[str]]:
    """Merge the shards' durations (disjoint: a union) into `output`: the number of tests, and
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
    output.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return len(merged), skipped
