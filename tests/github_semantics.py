"""A small evaluator of the GitHub Actions semantics act does not implement: `concurrency`.

act ignores `concurrency:`, so it cannot show the deadlock GitHub reports ("Canceling since a
deadlock was detected for concurrency group ... between a top level workflow and ...") when a
called workflow computes the same group as its caller. Built from GitHub's documentation:

- docs.github.com/actions/sharing-automations/reusing-workflows: "When a reusable workflow is
  triggered by a caller workflow, the github context is always associated with the caller
  workflow", and "A called workflow uses the name of its caller workflow in
  ${{ github.workflow }}" (the warning about equal groups of a caller and a callee);
- docs.github.com/actions/learn-github-actions/expressions: literals, property access (a
  missing property is null), `||` and `&&` return an operand (falsy: null, false, 0, ''),
  `==`/`!=`; a value is written into a string as '' (null), true/false or its number/text;
- workflow-level `concurrency` may use the github, inputs and vars contexts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tests.scanning import scan

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^']|'')*')
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<word>true|false|null)\b
      | (?P<path>[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)
      | (?P<op>==|!=|&&|\|\||\(|\)|!)
    )""",
    re.X,
)


def _tokens(expression: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for match in scan(_TOKEN, expression):
        if match["str"]:
            found.append(("value", match["str"][1:-1].replace("''", "'")))
        elif match["num"]:
            found.append(("value", float(match["num"])))
        elif match["word"]:
            found.append(("value", {"true": True, "false": False, "null": None}[match["word"]]))
        elif match["path"]:
            found.append(("path", match["path"].split(".")))
        else:
            found.append(("op", match["op"]))
    return found


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "")


class _Parser:
    def __init__(self, expression: str, context: Mapping[str, Any]) -> None:
        self.tokens = _tokens(expression)
        self.context = context
        self.expression = expression

    def parse(self) -> Any:
        value = self._or()
        assert not self.tokens, f"trailing {self.tokens} in {self.expression!r}"
        return value

    def _next_is(self, op: str) -> bool:
        return bool(self.tokens) and self.tokens[0] == ("op", op)

    def _or(self) -> Any:
        value = self._and()
        while self._next_is("||"):
            self.tokens.pop(0)
            right = self._and()
            value = value if _truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._compare()
        while self._next_is("&&"):
            self.tokens.pop(0)
            right = self._compare()
            value = right if _truthy(value) else value
        return value

    def _compare(self) -> Any:
        left = self._unary()
        for op in ("==", "!="):
            if self._next_is(op):
                self.tokens.pop(0)
                right = self._unary()
                return (left == right) is (op == "==")
        return left

    def _unary(self) -> Any:
        if self._next_is("!"):
            self.tokens.pop(0)
            return not _truthy(self._unary())
        if self._next_is("("):
            self.tokens.pop(0)
            value = self._or()
            assert self.tokens.pop(0) == ("op", ")"), self.expression
            return value
        kind, value = self.tokens.pop(0)
        if kind == "value":
            return value
        assert kind == "path", f"unexpected {value!r} in {self.expression!r}"
        target: Any = self.context
        for key in value:
            target = target.get(key) if isinstance(target, Mapping) else None
        return target


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(template: str, context: Mapping[str, Any]) -> str:
    """A string with `${{ expression }}` parts, as GitHub renders it."""
    return re.sub(
        r"\$\{\{(.*?)\}\}", lambda m: _text(_Parser(m[1], context).parse()), template, flags=re.S
    )
