"""`mlci init`: from an existing repository to mlci's files, each choice shown with its reason.

It reads the repository (`discover.py`), chooses settings that fit what is there, and writes
the two-line noxfile, `[tool.mlci]` and, when asked, the CI callers and a starter pre-commit
config. It never overwrites a file that differs without `--force`, writes nothing with
`--dry-run` (it shows the diff), and changes nothing when run twice. `--measure` runs the
sessions once and records what the code has today (pylint's score, mypy's errors, coverage),
so the first `nox` is green and only a regression fails.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from mlci import checks, project, release
from mlci._version import __version__
from mlci.compat import load
from mlci.discover import Findings, inspect
from mlci.errors import ConfigError
from mlci.junit import ReportError, totals
from mlci.project import REPORTS
from mlci.registry import BY_NAME, Run
from mlci.settings import resolve
from mlci.summary import total_coverage
from mlci.torch_source import folder_pythons

KIT_REPOSITORY = "acme/mlci"  # where the callers written here take the workflow and template
NOXFILE = '''"""This project's CI sessions (lint, mypy, unit, ...), configured by [tool.mlci]."""

import mlci

mlci.sessions()
'''
MYPY_BASELINE = "mypy-baseline.txt"
RUFF = "ruff==0.17.6"
PRE_COMMIT = f"""# Starter hooks from mlci init: ruff from PyPI (no git clones).
# `pre-commit run --all-files` shows what they find; `ruff check --fix`, `ruff format` fix most.
repos:
  - repo: local
    hooks:
      - id: ruff-check
        name: ruff check
        entry: ruff check --force-exclude
        language: python
        additional_dependencies: ["{RUFF}"]
        types_or: [python, pyi]
        require_serial: true
      - id: ruff-format
        name: ruff format
        entry: ruff format --check --force-exclude
        language: python
        additional_dependencies: ["{RUFF}"]
        types_or: [python, pyi]
        require_serial: true
"""


@dataclass
class Row:
    what: str
    value: str
    why: str


@dataclass
class Proposal:
    """What init would write: the [tool.mlci] table, its reasons, and the files."""

    table: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    dependency_groups: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # relative path -> content
    recorded: list[Path] = field(default_factory=list)  # files the measurement wrote


def _pythons_here(candidates: list[str]) -> list[str]:
    """The candidates an interpreter exists for on this machine (uv finds it, no download;
    virtual environments, such as the one mlci may run in, do not count)."""
    uv = shutil.which("uv") or os.environ.get("UV")
    if uv is None:
        current = f"{sys.version_info.major}.{sys.version_info.minor}"
        return [current] if current in candidates else []
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    found = []
    for version in candidates:
        done = subprocess.run(
            [uv, "python", "find", "--system", "--no-project", version],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode == 0:
            found.append(version)
    return found


def _python_versions(found: Findings, rows: list[Row]) -> list[str]:
    newest = load().newest
    candidates = list(newest.pythons)
    why = f"torch {newest.version} has {candidates[0]}-{candidates[-1]}"
    if found.requires_python:
        spec = project.requires_python({"project": {"requires-python": found.requires_python}})
        if spec is not None:
            candidates = [v for v in candidates if project.allows(spec, v)]
            why += f", requires-python {found.requires_python}"
    if not found.uses_torch:
        why = why.replace(f"torch {newest.version} has", "supported:")
    else:
        wheels = folder_pythons(os.environ.get("MLCI_TORCH_INDEX", ""))
        if wheels is not None:
            candidates = [v for v in candidates if v in wheels]
            why += f", torch wheels in MLCI_TORCH_INDEX for {', '.join(sorted(wheels))}"
    here = _pythons_here(candidates)
    missing = [v for v in candidates if v not in here]
    if not here:
        raise ConfigError(
            f"python-versions: none of {', '.join(candidates)} ({why}) is installed here:"
            " install one (`uv python install 3.12`) and run mlci init again"
        )
    if missing:
        why += f"; {', '.join(missing)} not installed here (add them where CI has them)"
    rows.append(Row("python-versions", ", ".join(here), why))
    return here


def propose(
    root: Path, *, github: bool = False, gitlab: bool = False, pre_commit: bool = False
) -> Proposal:
    """Inspect `root` and decide; nothing is written."""
    found = inspect(root)
    proposal = Proposal({}, [Row("built with", found.built_with, f"name {found.name or '?'}")])
    pythons = _python_versions(found, proposal.rows)
    proposal.table["python-versions"] = pythons
    _install_choices(found, proposal)
    chosen = _sessions(root, found, proposal)
    if "lint" in chosen and not found.pre_commit:
        note = "pylint only: no .pre-commit-config.yaml"
        proposal.rows.append(Row("pre-commit", "starter written" if pre_commit else "none", note))
    if pre_commit and not found.pre_commit:
        proposal.files[".pre-commit-config.yaml"] = PRE_COMMIT
    proposal.files["noxfile.py"] = NOXFILE
    if github:
        proposal.files[".github/workflows/ci.yml"] = _github(found)
    if gitlab:
        cpu = [name for name in chosen if not BY_NAME[name].gpu]
        proposal.files[".gitlab-ci.yml"] = _gitlab(pythons, cpu)
    return proposal


def _install_choices(found: Findings, proposal: Proposal) -> None:
    """The package, the torch build, and what is installed beside the project."""
    table, rows = proposal.table, proposal.rows
    table["package"] = found.package
    rows.append(Row("package", f"{found.package} ({found.layout} layout)", found.notes["package"]))
    if found.uses_torch:
        rows.append(Row("torch-backend", "cpu", "CPU jobs install torch's CPU build"))
    else:
        table["torch-backend"] = "none"
        rows.append(Row("torch-backend", "none", "the project does not depend on torch"))
    if found.requirements:
        table["requirements"] = found.requirements
        rows.append(Row("requirements", ", ".join(found.requirements), "installed with -r"))
    if found.tests_dir and found.tests_dir != "tests":
        table["tests-dir"] = found.tests_dir
    if found.notebooks and found.notebooks != "notebooks":
        table["notebooks"] = found.notebooks
    if found.dev_dependencies and "dev" not in found.groups:
        proposal.dependency_groups["dev"] = found.dev_dependencies
        table["dependency-groups"] = ["dev"]
        why = (
            f"test dependencies found in {found.dev_dependencies_from}, which uv pip cannot"
            " install from: copied to a PEP 735 group"
        )
        rows.append(Row("dependency-groups", "dev (new [dependency-groups] table)", why))
    elif "dev" in found.groups or "test" in found.groups:
        group = "test" if "test" in found.groups else "dev"
        table["dependency-groups"] = [group]
        rows.append(Row("dependency-groups", group, "the project's own group for tests"))


def _sessions(root: Path, found: Findings, proposal: Proposal) -> list[str]:
    """The sessions with something to check, as the registry judges it for these settings."""
    settings = resolve(root, dict(proposal.table), environ={}, require_pyproject=False)
    chosen = []
    for name, session in BY_NAME.items():
        if session.implied_by is not None:
            continue  # chosen with the session that implies it, never listed
        why = session.why_nothing(settings)
        if why is None:
            chosen.append(name)
            state = "on" if session.default else "on request"
            proposal.rows.append(Row(f"session {name}", state, _runs(name, found)))
        else:
            proposal.rows.append(Row(f"session {name}", "off", why))
    proposal.table["sessions"] = chosen
    return chosen


def _runs(name: str, found: Findings) -> str:
    reasons = {
        "lint": "pre-commit and pylint" if found.pre_commit else "pylint on the package",
        "mypy": "mypy config found" if "mypy" in found.tool_configs else "mypy on the package",
        "unit": f"tests under {found.tests_dir}/",
        "integ": "tests marked integ",
        "nbmake": found.notes.get("notebooks", "notebooks"),
        "gpu": "tests marked gpu: `nox -s gpu` on a GPU machine; in CI give gpu-runner",
    }
    return reasons[name]


def _default_branch(root: Path) -> str:
    done = subprocess.run(
        ["git", "symbolic-ref", "--short", "HEAD"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    branch = done.stdout.strip()
    return branch if done.returncode == 0 and checks.label(branch) is None and branch else "main"


def _github(found: Findings) -> str:
    branch = _default_branch(found.root)
    major = release.major_tag(f"refs/tags/v{__version__}")
    return f"""# CI for this project: mlci's reusable workflow runs the same nox sessions as `nox`,
# configured by [tool.mlci] in pyproject.toml. Written by `mlci init --github`.
name: ci

on:
  push:
    branches: [{branch}]
  pull_request:

permissions: {{}}

jobs:
  ci:
    uses: {KIT_REPOSITORY}/.github/workflows/test.yml@{major}
    permissions:
      contents: read
    # with:
    #   gpu-runner: '["self-hosted", "gpu"]'   # a gpu job per CUDA build, on your runner
"""


def _gitlab(pythons: list[str], sessions: list[str]) -> str:
    listed = ", ".join(sessions)
    return f"""# CI for this project: mlci's template runs the same nox sessions as `nox`. GitLab
# makes the jobs before any job reads pyproject.toml, so Pythons and sessions are given here.
# Written by `mlci init --gitlab`.
include:
  - project: {KIT_REPOSITORY}
    ref: v{__version__}
    file: ci-templates/gitlab/mlci.yml
    inputs:
      python-versions: {json.dumps(pythons)}
      sessions: [{listed}]
  - project: {KIT_REPOSITORY}
    ref: v{__version__}
    file: ci-templates/gitlab/merge-request-pipelines.yml
"""


# --- writing ------------------------------------------------------------------------------------


@dataclass
class Change:
    path: Path
    old: str | None  # None: the file does not exist
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new


def _mlci_table(values: dict[str, Any]) -> Any:
    table = tomlkit.table()
    table.add(tomlkit.comment("Written by `mlci init`; `mlci options` lists every setting."))
    for key, value in values.items():
        if value not in ("", [], None):
            table[key] = value
    return table


def pyproject_change(
    root: Path, proposal: Proposal, updates: dict[str, Any] | None = None, *, replace: bool
) -> Change:
    """pyproject.toml with [tool.mlci] (and a new [dependency-groups] table, if proposed).

    An existing [tool.mlci] that differs is kept unless `replace`.
    """
    path = root / "pyproject.toml"
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    document = tomlkit.parse(old) if old is not None else tomlkit.document()
    if "tool" not in document:
        document["tool"] = tomlkit.table(is_super_table=True)
    tool: Any = document["tool"]
    wanted = _mlci_table({**proposal.table, **(updates or {})})
    existing = tool.get("mlci")
    if existing is None or replace:
        tool["mlci"] = wanted
    elif existing.unwrap() != wanted.unwrap():
        proposal.rows.append(Row("[tool.mlci]", "exists", "kept as it is; --force replaces it"))
    if proposal.dependency_groups and "dependency-groups" not in document:
        groups = tomlkit.table()
        for name, items in proposal.dependency_groups.items():
            groups[name] = items
        document["dependency-groups"] = groups
    return Change(path, old, tomlkit.dumps(document))


def changes(root: Path, proposal: Proposal, *, force: bool) -> list[Change]:
    """The files init would write, with their current and new content."""
    found = [pyproject_change(root, proposal, replace=force)]
    for name, content in proposal.files.items():
        path = root / name
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        if old is not None and old != content and not force:
            proposal.rows.append(Row(name, "exists", "kept (it differs); --force replaces it"))
            continue
        found.append(Change(path, old, content))
    return found


def diff(change: Change, root: Path) -> str:
    name = str(change.path.relative_to(root))
    old = (change.old or "").splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(old, change.new.splitlines(keepends=True), f"a/{name}", f"b/{name}")
    )


def write(found: list[Change]) -> list[Path]:
    written = []
    for change in found:
        if change.changed:
            change.path.parent.mkdir(parents=True, exist_ok=True)
            change.path.write_text(change.new, encoding="utf-8")
            written.append(change.path)
    return written


# --- measuring ----------------------------------------------------------------------------------


def measure(root: Path, proposal: Proposal) -> dict[str, Any]:
    """Run the chosen CPU sessions once; what the code has today, as settings."""
    settings = resolve(root, environ={})
    sessions = [
        name
        for definition in BY_NAME.values()
        if definition.name in proposal.table["sessions"] and not definition.gpu
        for name in definition.nox_names(settings)
    ]
    command = [sys.executable, "-m", "nox", "--noxfile", str(root / "noxfile.py"), "-s", *sessions]
    print(f"mlci init: measuring: {' '.join(command[2:])}", file=sys.stderr, flush=True)
    subprocess.run(command, cwd=root, check=False)
    updates: dict[str, Any] = {}
    reports = root / REPORTS
    score = _pylint_score(reports / "lint" / "pylint.json")
    if score is not None and score < 10:
        floor = math.floor(score * 10) / 10
        updates["pylint-fail-under"] = floor
        proposal.rows.append(
            Row("pylint-fail-under", f"{floor:g}", f"pylint's score today: {score:.2f}")
        )
    if "mypy" in proposal.table["sessions"]:
        recorded = _record_mypy(root, settings)
        if recorded:
            updates["mypy-baseline"] = MYPY_BASELINE
            proposal.rows.append(Row("mypy-baseline", MYPY_BASELINE, recorded))
            proposal.recorded.append(root / MYPY_BASELINE)
    # The first Python's unit report, or the first one there is (its install may have failed).
    units = sorted(reports.glob("unit-*/coverage.xml"), key=lambda p: p.parent.name)
    first = reports / f"unit-{settings.main_python}"
    unit = first if (first / "coverage.xml").is_file() else (units[0].parent if units else first)
    total = None
    try:
        total = total_coverage(unit / "coverage.xml")
        counts = totals(unit / "junit.xml")
    except ReportError:
        counts = None
    if total is not None:
        floor_total = math.floor(total)
        updates["coverage-fail-under"] = floor_total
        proposal.rows.append(
            Row("coverage-fail-under", f"{floor_total:g}", f"coverage today: {total:.2f}%")
        )
    if counts is not None and (counts.failures or counts.errors):
        proposal.rows.append(
            Row("unit", "red", f"{counts.failures + counts.errors} test(s) fail today: fix them")
        )
    return updates


def _pylint_score(path: Path) -> float | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return float(data["statistics"]["score"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record_mypy(root: Path, settings: Any) -> str | None:
    """Record today's mypy errors as the baseline, with the environment's own mlci and mypy."""
    environment = (
        root / ".nox" / ".cache" / "mlci" / f"py{settings.main_python}-{settings.torch_backend}"
    )
    binaries = environment / ("Scripts" if os.name == "nt" else "bin")
    if not (binaries / "mypy").exists():
        return None
    [mypy] = BY_NAME["mypy"].commands(Run(settings, "mypy", Path(REPORTS) / "mypy"))
    if mypy[0] != "mypy":
        return None  # a baseline is already in use
    command = [
        str(binaries / "mlci"),
        "mypy-baseline",
        "--record",
        "--baseline",
        MYPY_BASELINE,
        "--output",
        str(Path(REPORTS) / "mypy" / "mypy.txt"),
        "--",
        str(binaries / "mypy"),
        *[arg for arg in mypy[1:] if not arg.startswith("--junit-xml")][: len(mypy) - 3],
    ]
    env = {**os.environ, "PATH": f"{binaries}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env, check=False)
    errors = (root / REPORTS / "mypy" / "mypy.txt").read_text(encoding="utf-8").count(": error:")
    if done.returncode != 0 or not errors:
        (root / MYPY_BASELINE).unlink(missing_ok=True)
        return None
    return f"{errors} mypy errors today, recorded: only new ones fail"


# --- the command --------------------------------------------------------------------------------


def render(rows: list[Row]) -> str:
    """The choices as an aligned table: what, value, why."""
    width = [max(len(getattr(row, key)) for row in rows) for key in ("what", "value")]
    return "\n".join(
        f"  {row.what:<{width[0]}}  {row.value:<{width[1]}}  {row.why}" for row in rows
    )


def main(
    root: Path,
    *,
    dry_run: bool,
    force: bool,
    github: bool,
    gitlab: bool,
    pre_commit: bool,
    measure_first: bool,
) -> int:
    """`mlci init`: decide, show, write (unless a dry run), measure when asked."""
    proposal = propose(root, github=github, gitlab=gitlab, pre_commit=pre_commit)
    found = changes(root, proposal, force=force)
    if dry_run:
        print(render(proposal.rows))
        for change in found:
            if change.changed:
                print(diff(change, root))
        print("mlci init: --dry-run: nothing written")
        return 0
    written = write(found)
    if measure_first:
        updates = measure(root, proposal)
        if updates:
            written += write([pyproject_change(root, proposal, updates, replace=True)])
        written += proposal.recorded
    print(render(proposal.rows))
    shown = sorted({str(path.relative_to(root)) for path in written})
    print(f"mlci init: {'wrote ' + ', '.join(shown) if shown else 'nothing to change'}")
    if not measure_first:
        print(
            "mlci init: next, `mlci init --measure` runs the sessions once and records today's"
            " pylint score, mypy errors and coverage, so the first `nox` is green"
        )
    return 0
