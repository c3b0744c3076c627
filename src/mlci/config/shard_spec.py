"""A shard of the unit tests, as the `shard` setting names it: `2/3` is the second of three."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
