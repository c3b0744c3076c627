"""Every mlci setting, defined once as data.

The code reads settings from this table, the `mlci` flags are built from it, the README's option
table is generated from it, and the CI input lists are checked against it.  A setting is looked
up, highest precedence first, in: a command-line flag or CI input, the `MLCI_<NAME>` environment
variable, `[tool.mlci]` in pyproject.toml, then the default below.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["str", "list", "bool", "number", "int"]
Value = str | bool | float | int | tuple[str, ...]

SESSION_NAMES: tuple[str, ...] = ("lint", "mypy", "unit", "integ", "nbmake", "gpu")


class OptionError(ValueError):
    """A setting has a value it cannot take; the message names the setting and the choices."""


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

    @property
    def env_var(self) -> str:
        return "MLCI_" + self.name.upper().replace("-", "_")

    @property
    def toml_key(self) -> str:
        return self.name

    @property
    def flag(self) -> str:
        return "--" + self.name

    def parse(self, raw: object, where: str) -> Value:
        """Turn a raw value (TOML value or environment string) into this option's type."""
        problem = _raw_problem(raw)
        if problem:
            raise OptionError(f"{where}: {problem}")
        value = _convert(self, raw, where)
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise OptionError(f"{where}: {problem}")
        return value


# No setting needs more; CI inputs end up in job outputs and environment files.
MAX_CHARS = 1000


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


def _convert(option: Option, raw: object, where: str) -> Value:
    kind = option.kind
    if kind == "list":
        return parse_list(raw, where)
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _BOOLS:
            return _BOOLS[raw.strip().lower()]
        raise OptionError(f"{where}: {raw!r} is not a boolean (use true or false)")
    if kind == "number":
        if isinstance(raw, bool):
            raise OptionError(f"{where}: {raw!r} is not a number")
        try:
            return float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise OptionError(f"{where}: {raw!r} is not a number") from None
    if kind == "int":
        if isinstance(raw, bool):
            raise OptionError(f"{where}: {raw!r} is not a whole number")
        try:
            return int(str(raw).strip())
        except ValueError:
            raise OptionError(f"{where}: {raw!r} is not a whole number") from None
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
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise OptionError(f"{where}: list item {item!r} is not a string")
        items.append(str(item).strip())
    return tuple(items)


# --- checks: each returns a problem sentence or None -------------------------------------------

_PYTHON = re.compile(r"3\.\d{1,2}")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_RELATIVE_PATH = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._/-]*")
_TORCH_VERSION = re.compile(r"\d+\.\d+(\.\d+)?")
_BACKEND = re.compile(r"none|cpu|cu\d{3}|rocm\d+(\.\d+)*|xpu")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _each(values: Value, ok: Callable[[str], bool], what: str) -> str | None:
    assert isinstance(values, tuple)
    bad = [v for v in values if not ok(v)]
    return (
        f"{', '.join(map(repr, bad))} {'is' if len(bad) == 1 else 'are'} not {what}"
        if bad
        else None
    )


def _check_pythons(value: Value) -> str | None:
    if not value:
        return "the list is empty (give at least one Python version, e.g. 3.12)"
    return _each(value, lambda v: bool(_PYTHON.fullmatch(v)), "a Python version like 3.12")


def _check_backend(value: Value) -> str | None:
    assert isinstance(value, str)
    if _BACKEND.fullmatch(value):
        return None
    return f"{value!r} is not a torch backend (use cpu, cu126, cu128, ..., or none)"


def _check_gpu_backends(value: Value) -> str | None:
    problem = _each(value, lambda v: bool(re.fullmatch(r"cu\d{3}", v)), "a CUDA build")
    return (
        f"{problem} (use cu126, cu128, cu130, ...; ROCm builds are not supported yet)"
        if problem
        else None
    )


def _check_sessions(value: Value) -> str | None:
    if not value:
        return f"the list is empty (choose from {', '.join(SESSION_NAMES)})"
    problem = _each(value, lambda v: v in SESSION_NAMES, "a session")
    return f"{problem} (choose from {', '.join(SESSION_NAMES)})" if problem else None


def _check_percent(value: Value) -> str | None:
    assert isinstance(value, float)
    return None if 0 <= value <= 100 else f"{value:g} is outside 0-100"


def _check_workers(value: Value) -> str | None:
    assert isinstance(value, str)
    if value == "auto" or value == "logical" or (value.isdigit() and int(value) <= 256):
        return None
    return f"{value!r} is not a worker count (use 0 for no xdist, a number, or auto)"


def _check_package(value: Value) -> str | None:
    assert isinstance(value, str)
    return (
        None if not value or _IDENT.fullmatch(value) else f"{value!r} is not a Python package name"
    )


def _check_names(value: Value) -> str | None:
    return _each(value, lambda v: bool(_NAME.fullmatch(v)), "a valid name")


def _check_labels(value: Value) -> str | None:
    return _each(
        value, lambda v: bool(_LABEL.fullmatch(v)), "a runner label (letters, digits, . _ -)"
    )


def _check_working_directory(value: Value) -> str | None:
    assert isinstance(value, str)
    if _RELATIVE_PATH.fullmatch(value) and ".." not in value.split("/"):
        return None
    return f"{value!r} is not a relative folder inside the repository (letters, digits, . _ - /)"


def _check_image(value: Value) -> str | None:
    assert isinstance(value, str)
    if not value or re.fullmatch(r"[a-z0-9][a-z0-9._/:@-]*", value):
        return None
    example = "nvidia/cuda:12.8.1-runtime-ubuntu24.04"
    return f"{value!r} is not a container image reference (e.g. {example})"


_INDEX_URL = re.compile(r"(https?|file)://[A-Za-z0-9._~:/?#@%+=,!-]+")
_FOLDER = re.compile(r"[A-Za-z0-9._~/+=,@%-]+")


def _check_index(value: Value) -> str | None:
    assert isinstance(value, str)
    if not value or _INDEX_URL.fullmatch(value) or _FOLDER.fullmatch(value):
        return None
    return (
        f"{value!r} is not an index URL (https://...) or a folder path"
        " (letters, digits and . _ ~ / + = , @ % -)"
    )


def _check_torch_version(value: Value) -> str | None:
    assert isinstance(value, str)
    ok = not value or _TORCH_VERSION.fullmatch(value)
    return None if ok else f"{value!r} is not a torch release like 2.13"


def _check_positive(value: Value) -> str | None:
    assert isinstance(value, int)
    return None if value > 0 else f"{value} must be above 0"


OPTIONS: tuple[Option, ...] = (
    Option(
        "package",
        "str",
        "",
        "Import name of the package under test (coverage, pylint and mypy target).",
        default_doc="`[project].name` with `-` as `_`",
        check=_check_package,
    ),
    Option(
        "python-versions",
        "list",
        (),
        "Python versions the `unit` session runs on; the first one runs the other sessions.",
        default_doc="the Python running nox",
        check=_check_pythons,
        ci=True,
    ),
    Option(
        "sessions",
        "list",
        SESSION_NAMES,
        "Sessions to register (`gpu` never runs by default: ask for it with `nox -s gpu`).",
        check=_check_sessions,
        ci=True,
    ),
    Option(
        "torch-backend",
        "str",
        "cpu",
        "Torch build for the CPU sessions: `cpu`, or `none` for a project that does not use torch.",
        check=_check_backend,
        ci=True,
    ),
    Option(
        "gpu-backends",
        "list",
        (),
        "CUDA builds of torch for the `gpu` job, one job each; locally the first one is used.",
        default_doc="the build PyPI's torch uses (`cu130` for torch 2.14)",
        check=_check_gpu_backends,
        ci=True,
    ),
    Option(
        "torch-version",
        "str",
        "",
        "torch release the CI matrix is checked against (its Python versions and CUDA builds).",
        default_doc="the newest release mlci knows",
        check=_check_torch_version,
        ci=True,
    ),
    Option(
        "runner",
        "list",
        (),
        "Runner for the CPU jobs: GitHub `runs-on` labels, GitLab runner tags.",
        default_doc='GitHub: `["ubuntu-latest"]`; GitLab: no tags',
        check=_check_labels,
        ci=True,
    ),
    Option(
        "gpu-runner",
        "list",
        (),
        "Runner for the GPU job: GitHub `runs-on` labels, GitLab runner tags. No GPU job"
        " without it.",
        default_doc="none: no GPU job",
        check=_check_labels,
        ci=True,
    ),
    Option(
        "gpu-container",
        "str",
        "",
        "GitHub: a container image the GPU legs run in, started with `--gpus all` (it needs bash"
        " and git). GitLab jobs always run in an image: `gpu-image` of mlci-gpu.yml.",
        default_doc="none: on the runner itself",
        check=_check_image,
        ci=True,
    ),
    Option(
        "working-directory",
        "str",
        ".",
        "Folder of the project inside the repository (where its pyproject.toml is).",
        check=_check_working_directory,
        ci=True,
    ),
    Option(
        "torch-index",
        "str",
        "",
        "Where torch comes from instead of PyTorch's index for the backend: a PEP 503 index URL"
        " (a mirror) or a local folder of wheels (air-gapped sites).",
        default_doc="`https://download.pytorch.org/whl/<backend>`",
        check=_check_index,
        ci=True,
    ),
    Option(
        "extras",
        "list",
        (),
        "Extras of the project installed into every session (`pip install -e .[extra]`).",
        check=_check_names,
    ),
    Option(
        "dependency-groups",
        "list",
        (),
        "PEP 735 dependency groups of the project installed into every session.",
        check=_check_names,
    ),
    Option(
        "coverage-fail-under",
        "number",
        80.0,
        "`unit` fails when line coverage of the package is below this percentage.",
        check=_check_percent,
        ci=True,
    ),
    Option(
        "xdist-workers",
        "str",
        "0",
        "pytest-xdist workers for `unit`: `0` (off), a number, or `auto`. Each worker imports"
        " torch (~4 s), so only long suites gain.",
        check=_check_workers,
    ),
    Option(
        "testmon",
        "bool",
        False,
        "Run only the unit tests affected by the change (pytest-testmon); coverage is not"
        " enforced then, since only some tests run. In CI each unit job keeps testmon's data"
        " (`.testmondata`) from one run to the next in the cache.",
        ci=True,
    ),
    Option("tests-dir", "str", "tests", "Folder of the project's tests."),
    Option(
        "notebooks",
        "str",
        "notebooks",
        "Folder whose notebooks `nbmake` executes (every `*.ipynb` under it).",
    ),
    Option(
        "notebook-timeout",
        "int",
        600,
        "Seconds one notebook cell may run in `nbmake`; a cell that runs longer fails the session.",
        check=_check_positive,
    ),
    Option(
        "reports-dir",
        "str",
        "reports",
        "Folder the sessions write their reports to, one subfolder per session"
        " (`reports/unit-3.12/junit.xml`, `coverage.xml`).",
    ),
)

OPTIONS_BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}


def option_names() -> Sequence[str]:
    return tuple(OPTIONS_BY_NAME)
