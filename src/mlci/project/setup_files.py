"""What setup.py and setup.cfg declare, read without running either."""

from __future__ import annotations

import ast
import configparser
import contextlib
import re
from pathlib import Path


def setup_py(root: Path) -> dict[str, str]:
    """name=, python_requires= from a setup.py, read without running it."""
    path = root / "setup.py"
    if not path.is_file():
        return {}
    found: dict[str, str] = {}
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError, OSError):  # ValueError: NUL bytes
        return {}
    # `name = "p"` at the top, then `setup(name=name)`: a module-level text, assigned once.
    texts: dict[str, str | None] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    value = statement.value
                    text = value.value if isinstance(value, ast.Constant) else None
                    once = target.id not in texts and isinstance(text, str)
                    texts[target.id] = text if once and isinstance(text, str) else None
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in ("name", "python_requires"):
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found[node.arg] = value.value
            elif isinstance(value, ast.Name) and texts.get(value.id):
                found[node.arg] = str(texts[value.id])
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and re.search(r"(^|[\"' ,\[])torch([<>=!~ ;\"',]|$)", text):
            found["torch"] = "yes"
    return found


def setup_cfg(root: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    with contextlib.suppress(configparser.Error, UnicodeDecodeError, OSError):
        parser.read(root / "setup.cfg", encoding="utf-8")
    return parser


def declared_name(root: Path) -> str:
    """The distribution name setup.cfg's [metadata] or a literal `setup(name=...)` gives."""
    name = setup_cfg(root).get("metadata", "name", fallback="")
    return name or setup_py(root).get("name", "")
