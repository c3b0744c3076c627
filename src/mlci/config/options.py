"""The option machinery: what an option is, where a value came from, and how raw values
(TOML values, environment strings, CI inputs, flags) become typed ones.

The options themselves are data, in `option_table.py`.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["str", "list", "bool", "number", "int"]
Value = str | bool | float | int | tuple[str, ...]

# No setting needs more; CI inputs end up in job outputs and environment files.
MAX_CHARS = 1000


class OptionError(ValueError):
    """A setting has a value it cannot take; the message names the setting and the choices."""


class Origin(enum.Enum):
    """Where a setting's value came from, highest precedence first."""

    FLAG = "flag or CI input"
    ENV = "environment"
    PYPROJECT = "pyproject.toml"
    TOOL = "the project's tool configuration"  # pytest's, pylint's, coverage's own (tool_config)
    DEFAULT = "default"


def env_var(name: str) -> str:
    """`python-versions` -> `MLCI_PYTHON_VERSIONS`: the one place this name is built."""
    return "MLCI_" + name.upper().replace("-", "_")


@dataclass(frozen=True)
class Option:
    """One setting: its name everywhere, its type, default and meaning."""

    name: str
    kind: Kind
    default: Value
    description: str
    # Shown in the docs instead of the default when the default is computed at run time.
    default_doc: str = ""
    check: Callable[[Value], str | None] | None = None
    # Also an input of the GitHub workflow and the GitLab template (same name).
    ci: bool = False
    # May be set in [tool.mlci]. Off for what chooses where CI jobs run (runners, images): a
    # pull request's own pyproject.toml must not move jobs onto other machines.
    project: bool = True

    @property
    def env_var(self) -> str:
        return env_var(self.name)

    @property
    def attribute(self) -> str:
        """The typed attribute on `Settings` (`python-versions` -> `python_versions`)."""
        return self.name.replace("-", "_")

    @property
    def flag(self) -> str:
        return "--" + self.name

    def parse(self, raw: object, where: str) -> Value:
        """Turn a raw value (TOML value or environment string) into this option's type."""
        problem = _raw_problem(raw)
        if problem:
            raise OptionError(f"{where}: {problem}")
        value = _convert(self.kind, raw, where)
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise OptionError(f"{where}: {problem}")
        return value


def _raw_problem(raw: object) -> str | None:
    """Refuse what no option accepts before reading it: huge values and control characters
    (a newline would start a new line in $GITHUB_ENV / $GITHUB_OUTPUT or a dotenv report)."""
    texts: list[str] = []
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list | tuple):
        texts = [item for item in raw if isinstance(item, str)]
    for text in texts:
        if len(text) > MAX_CHARS:
            return f"the value is {len(text)} characters long (at most {MAX_CHARS})"
        # Line breaks around a value (a YAML block scalar) are harmless; inside, they are not.
        control = sorted({c for c in text.strip() if ord(c) < 32 or ord(c) == 127})
        if control:
            shown = ", ".join(repr(c) for c in control)
            return f"the value contains control characters ({shown}), e.g. a line break"
    return None


# ASCII digits only: Python's int() and float() also read '²' or Arabic-Indic digits.
_INT = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def _convert(kind: Kind, raw: object, where: str) -> Value:
    if kind == "list":
        return parse_list(raw, where)
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _BOOLS:
            return _BOOLS[raw.strip().lower()]
        raise OptionError(f"{where}: {raw!r} is not a boolean (use true or false)")
    if kind == "number":
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        if isinstance(raw, str) and _NUMBER.fullmatch(raw.strip()):
            return float(raw.strip())
        raise OptionError(f"{where}: {raw!r} is not a number")
    if kind == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and _INT.fullmatch(raw.strip()):
            return int(raw.strip())
        raise OptionError(f"{where}: {raw!r} is not a whole number")
    if not isinstance(raw, str):
        raise OptionError(f"{where}: {raw!r} is not a string")
    return raw.strip()


_BOOLS = {"1": True, "true": True, "yes": True, "on": True}
_BOOLS.update({"0": False, "false": False, "no": False, "off": False, "": False})


def parse_list(raw: object, where: str) -> tuple[str, ...]:
    """Accept a TOML/JSON list, a JSON array in a string (GitHub passes strings) or a comma list."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as err:
                raise OptionError(f"{where}: malformed JSON array {text!r} ({err.msg})") from None
        else:
            return tuple(part.strip() for part in text.split(",") if part.strip())
    if not isinstance(raw, list | tuple):
        raise OptionError(f"{where}: {raw!r} is not a list")
    items: list[str] = []
    for item in raw:
        if isinstance(item, float):
            # TOML reads 3.10 as the number 3.1: a version must be quoted to keep its zero.
            raise OptionError(
                f'{where}: {item!r} is a number, not text: quote versions ("3.10", not 3.10)'
            )
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise OptionError(f"{where}: list item {item!r} is not a string")
        items.append(str(item).strip())
    return tuple(items)
