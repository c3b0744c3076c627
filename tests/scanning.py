"""Splitting an expression into regex matches, for the small CI-semantics evaluators."""

from __future__ import annotations

import re
from collections.abc import Iterator


def scan(token: re.Pattern[str], expression: str) -> Iterator[re.Match[str]]:
    """Each match of `token` in turn; anything it cannot read is a test error."""
    text = expression.strip()
    position = 0
    while position < len(text):
        match = token.match(text, position)
        assert match and match.end() > position, f"cannot read {text[position:]!r} in {text!r}"
        position = match.end()
        yield match
