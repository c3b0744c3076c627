"""Edits of pyproject.toml that keep the user's file: other keys, comments, layout, line endings.

`mlci init` adds its table or changes a few keys of it; everything else comes back byte for
byte (tomlkit keeps what it parsed). Only init imports this: the session path never needs
tomlkit.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.toml_document import TOMLDocument

from mlci.errors import ConfigError

CRLF = "\r\n"


def read_text(path: Path) -> str | None:
    """The file as it is on disk (line endings untouched); None when there is none.

    Bytes that are not UTF-8 come back as U+FFFD: the text then differs from anything init
    writes, so such a file is kept (or replaced with --force), never a traceback.
    """
    if not path.is_file():
        return None
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None


def newline(text: str | None) -> str:
    """CRLF when every line of `text` ends so (a Windows checkout), else LF."""
    if text and CRLF in text and text.count("\n") == text.count(CRLF):
        return CRLF
    return "\n"


def parse(text: str | None, where: Path) -> TOMLDocument:
    if text is None:
        return tomlkit.document()
    try:
        return tomlkit.parse(text)
    except TOMLKitError as err:
        raise ConfigError(f"{where}: invalid TOML ({err})") from None


def dumps(document: TOMLDocument, ending: str) -> str:
    """The document with the file's line endings: tomlkit writes LF for what it adds."""
    text = tomlkit.dumps(document)
    return text.replace(CRLF, "\n").replace("\n", CRLF) if ending == CRLF else text


def tool_table(document: TOMLDocument) -> Any:
    """The document's [tool] table, made when missing (a super table: no empty `[tool]`)."""
    if "tool" not in document:
        document["tool"] = tomlkit.table(is_super_table=True)
    tool = document["tool"]
    if not isinstance(tool, Mapping):
        raise ConfigError("pyproject.toml: `tool` must be a table ([tool.mlci], [tool.ruff], ...)")
    return tool


def mlci_table(document: TOMLDocument) -> Any:
    """[tool.mlci] as tomlkit has it (a table, an inline table or dotted keys), or None."""
    table = tool_table(document).get("mlci")
    if table is not None and not isinstance(table, Mapping):
        raise ConfigError("pyproject.toml: [tool.mlci] must be a table")
    return table


def set_keys(table: Any, values: Mapping[str, Any]) -> None:
    """Set each key in place: a key that is there keeps its place and its comment, a new one
    goes at the end; every other key is left as it is."""
    for key, value in values.items():
        current = table.get(key)
        if current is not None and _plain(current) == value:
            continue  # as it is written (`66.0` stays, for 66)
        table[key] = value


def _plain(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def merge(text: str | None, where: Path, values: Mapping[str, Any]) -> str:
    """`text` (a pyproject.toml) with `values` set in [tool.mlci], the rest as it was."""
    document = parse(text, where)
    table = mlci_table(document)
    if table is None:
        table = tomlkit.table()
        tool_table(document)["mlci"] = table
    set_keys(table, values)
    return dumps(document, newline(text))
