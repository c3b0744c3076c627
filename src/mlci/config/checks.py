"""Checks of option values: each returns the problem in a few words, or None.

Patterns use ASCII classes only (`[0-9]`, not `\\d`, which also matches other scripts' digits).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable

from mlci.config.options import Value
from mlci.config.shard_spec import parse as parse_shard

PYTHON = re.compile(r"3\.[0-9]{1,2}")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_RELATIVE_PATH = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._/-]*")
_TORCH_VERSION = re.compile(r"[0-9]+\.[0-9]+(\.[0-9]+)?")
_BACKEND = re.compile(r"none|cpu|cu[0-9]{3}|rocm[0-9]+(\.[0-9]+)*|xpu")
_CUDA = re.compile(r"cu[0-9]{3}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_IMAGE = re.compile(r"[a-z0-9][a-z0-9._/:@-]*")
_INDEX_URL = re.compile(r"(https?|file)://[A-Za-z0-9._~:/?#@%+=,!-]+")
_GLOB = re.compile(r"[A-Za-z0-9._*?\[\]!][A-Za-z0-9._*?\[\]!/-]*")
_REVISION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/^~-]*")
_FOLDER = re.compile(r"[A-Za-z0-9._~/+=,@%-]+")


def _text(value: Value) -> str:
    assert isinstance(value, str)  # the table pairs each check with a str option
    return value


def _items(value: Value) -> tuple[str, ...]:
    assert isinstance(value, tuple)  # the table pairs each check with a list option
    return value


def _each(values: Value, ok: Callable[[str], bool], what: str) -> str | None:
    bad = [v for v in _items(values) if not ok(v)]
    if not bad:
        return None
    return f"{', '.join(map(repr, bad))} {'is' if len(bad) == 1 else 'are'} not {what}"


def pythons(value: Value) -> str | None:
    if not value:
        return "the list is empty (give at least one Python version, e.g. 3.12)"
    return _each(value, lambda v: bool(PYTHON.fullmatch(v)), "a Python version like 3.12")


def backend(value: Value) -> str | None:
    if _BACKEND.fullmatch(_text(value)):
        return None
    return f"{value!r} is not a torch backend (use cpu, cu126, cu128, ..., or none)"


def gpu_backends(value: Value) -> str | None:
    problem = _each(value, lambda v: bool(_CUDA.fullmatch(v)), "a CUDA build")
    if problem is None:
        return None
    return f"{problem} (use cu126, cu128, cu130, ...; ROCm builds are not supported yet)"


def one_of(choices: tuple[str, ...]) -> Callable[[Value], str | None]:
    """Every item is one of `choices` (sessions), and there is at least one."""

    def check(value: Value) -> str | None:
        if not value:
            return f"the list is empty (choose from {', '.join(choices)})"
        problem = _each(value, lambda v: v in choices, "a session")
        return f"{problem} (choose from {', '.join(choices)})" if problem else None

    return check


def choice(choices: tuple[str, ...]) -> Callable[[Value], str | None]:
    def check(value: Value) -> str | None:
        if _text(value) in choices:
            return None
        return f"{value!r} is not one of {', '.join(choices)}"

    return check


def percent(value: Value) -> str | None:
    assert isinstance(value, float)
    return None if 0 <= value <= 100 else f"{value:g} is outside 0-100"


def score(value: Value) -> str | None:
    assert isinstance(value, float)
    return None if 0 <= value <= 10 else f"{value:g} is outside 0-10 (pylint's score)"


def workers(value: Value) -> str | None:
    text = _text(value)
    if text in ("auto", "logical") or (re.fullmatch(r"[0-9]{1,3}", text) and int(text) <= 256):
        return None
    return f"{value!r} is not a worker count (use 0 for no xdist, a number up to 256, or auto)"


def package(value: Value) -> str | None:
    text = _text(value)
    return None if not text or _IDENT.fullmatch(text) else f"{value!r} is not a Python package name"


def marker(value: Value) -> str | None:
    text = _text(value)
    return None if _IDENT.fullmatch(text) else f"{value!r} is not a pytest marker name"


def markers(value: Value) -> str | None:
    return _each(value, lambda v: bool(_IDENT.fullmatch(v)), "a pytest marker name")


def names(value: Value) -> str | None:
    return _each(value, lambda v: bool(_NAME.fullmatch(v)), "a valid name")


def label(value: Value) -> str | None:
    text = _text(value)
    return (
        None
        if not text or _LABEL.fullmatch(text)
        else f"{value!r} is not a name (letters, digits, . _ -)"
    )


def labels(value: Value) -> str | None:
    return _each(
        value, lambda v: bool(_LABEL.fullmatch(v)), "a runner label (letters, digits, . _ -)"
    )


def relative_folder(value: Value) -> str | None:
    """A folder inside the project or repository, written relative to it (no `..`, no `/x`)."""
    text = _text(value)
    if _RELATIVE_PATH.fullmatch(text) and ".." not in text.split("/"):
        return None
    return (
        f"{value!r} is not a relative folder inside the project (letters, digits, . _ - /; no ..)"
    )


def globs(value: Value) -> str | None:
    return _each(
        value,
        lambda v: bool(_GLOB.fullmatch(v)) and ".." not in v.split("/"),
        "a path glob inside the project (letters, digits, . _ - / * ? [ ])",
    )


def revision(value: Value) -> str | None:
    """Empty, or a git revision that cannot be read as an option (`HEAD^1`, a commit, a ref)."""
    text = _text(value)
    if not text or _REVISION.fullmatch(text):
        return None
    return f"{value!r} is not a git revision (letters, digits, . _ / ^ ~ -, not starting with -)"


def relative_path(value: Value) -> str | None:
    """Empty, or a file inside the project written relative to it."""
    text = _text(value)
    if not text or (_RELATIVE_PATH.fullmatch(text) and ".." not in text.split("/")):
        return None
    return f"{value!r} is not a relative file path inside the project (letters, digits, . _ - /)"


def relative_files(value: Value) -> str | None:
    return _each(
        value,
        lambda v: bool(_RELATIVE_PATH.fullmatch(v)) and ".." not in v.split("/"),
        "a relative file path inside the project",
    )


def unit_tests(value: Value) -> str | None:
    """Empty, `none`, or test files inside the project, comma-separated (never a `-` option)."""
    text = _text(value)
    if text in ("", "none"):
        return None
    return relative_files(tuple(part.strip() for part in text.split(",")))


def image(value: Value) -> str | None:
    text = _text(value)
    if not text or _IMAGE.fullmatch(text):
        return None
    example = "nvidia/cuda:12.8.1-runtime-ubuntu24.04"
    return f"{value!r} is not a container image reference (e.g. {example})"


def index(value: Value) -> str | None:
    """An index URL (https, or file://) or a folder path; plain http only where allowed
    (`allow-insecure-index`, checked with the other settings)."""
    text = _text(value)
    if not text or _INDEX_URL.fullmatch(text) or _FOLDER.fullmatch(text):
        return None
    return (
        f"{redact(text)!r} is not an index URL (https://...) or a folder path"
        " (letters, digits and . _ ~ / + = , @ % -)"
    )


def redact(url: str) -> str:
    """The URL with any user name and password replaced by `***`: safe to print."""
    parts = urllib.parse.urlsplit(url) if "://" in url else None
    if parts is None or "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def torch_version(value: Value) -> str | None:
    text = _text(value)
    return (
        None
        if not text or _TORCH_VERSION.fullmatch(text)
        else f"{value!r} is not a torch release like 2.13"
    )


def positive_number(value: Value) -> str | None:
    assert isinstance(value, float)  # the table pairs this check with a number option
    return None if value > 0 else f"{value:g} is not above 0"


def positive(value: Value) -> str | None:
    assert isinstance(value, int)
    return None if value > 0 else f"{value} must be above 0"


def at_least_zero(value: Value) -> str | None:
    assert isinstance(value, int)
    return None if value >= 0 else f"{value} must be 0 (off) or more"


def shards(value: Value) -> str | None:
    assert isinstance(value, int)
    return None if 1 <= value <= 64 else f"{value} is not a shard count from 1 to 64"


def shard(value: Value) -> str | None:
    text = _text(value)
    if not text or parse_shard(text) is not None:
        return None
    return f"{text!r} is not a shard like 2/3 (this shard / how many, from 1)"
