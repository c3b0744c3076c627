"""`mlci init`: from an existing repository to mlci's files, each choice shown with its reason.

It reads the repository (`discover.py`), chooses settings that fit what is there, and writes
the two-line noxfile, `[tool.mlci]` and, when asked, the CI callers and a starter pre-commit
config. It never overwrites a file that differs without `--force`, writes nothing with
`--dry-run` (it shows the diff), and changes nothing when run twice. Every target is checked
before anything is written (a link out of the project, a folder where a file goes: one line).
`--measure` (`init_measure.py`) runs the sessions once and records what the code has today
(pylint's score, mypy's errors, coverage) in those keys only, so the first `nox` is green and
only a regression fails; a session that stays red makes init exit 1, naming it and why.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from mlci._version import __version__
from mlci.ci import release
from mlci.compat import load
from mlci.config.settings import resolve
from mlci.envs.torch_source import folder_pythons
from mlci.errors import ConfigError
from mlci.init import measure as init_measure
from mlci.init import toml_edit
from mlci.project import declared
from mlci.project.discover import Findings, inspect
from mlci.project.files import REPORTS
from mlci.project.snapshot import Project
from mlci.session.registry import BY_NAME

BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")  # a branch name safe in YAML flow
KIT_REPOSITORY = "acme/mlci"  # where the callers written here take the workflow and template
NOXFILE = '''"""This project's CI sessions (lint, mypy, unit, ...), configured by [tool.mlci]."""

import mlci

mlci.sessions()
'''
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
        spec = declared.requires_python({"project": {"requires-python": found.requires_python}})
        if spec is not None:
            candidates = [v for v in candidates if declared.allows(spec, v)]
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
    project = Project.load(root, required=False)
    found = inspect(project)
    proposal = Proposal({}, [Row("built with", found.built_with, f"name {found.name or '?'}")])
    pythons = _python_versions(found, proposal.rows)
    proposal.table["python-versions"] = pythons
    _install_choices(found, proposal)
    _markers(project, found, proposal)
    chosen = _sessions(project, found, proposal)
    if "lint" in chosen and not found.pre_commit:
        note = "pylint only: no .pre-commit-config.yaml"
        proposal.rows.append(Row("pre-commit", "starter written" if pre_commit else "none", note))
    if pre_commit and not found.pre_commit:
        proposal.files[".pre-commit-config.yaml"] = PRE_COMMIT
    proposal.files["noxfile.py"] = NOXFILE
    if github:
        branch, why = default_branch(root)
        proposal.rows.append(Row("ci.yml push branch", branch, why))
        proposal.files[".github/workflows/ci.yml"] = _github(branch)
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
    extras = test_extras(found)
    if extras:
        table["extras"] = list(extras)
        rows.append(Row("extras", ", ".join(extras), "; ".join(extras.values())))
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


# Extras named for the tests, and extras never wanted for them (docs, GPU-only builds).
TEST_EXTRAS = ("test", "tests", "testing")
NOT_FOR_TESTS = ("doc", "docs", "gpu", "cuda", "all")


def test_extras(found: Findings) -> dict[str, str]:
    """The extras the tests need, each with why: one named for the tests, and any holding a
    module the tests (or the notebooks nbmake runs) import that no chosen extra holds
    (`import lightning`, an extra listing lightning). The test tools (pytest and its plugins)
    mlci installs itself."""
    chosen: dict[str, str] = {}
    for name in sorted(found.extras):
        if name.lower() in TEST_EXTRAS:
            tools = ", ".join(sorted(found.extras[name])) or "nothing listed"
            chosen[name] = f"{name}: the extra for the tests ({tools})"
    covered = set().union(*(found.extras[name] for name in chosen))
    for who, modules in (("tests", found.test_imports), ("notebooks", found.notebook_imports)):
        wanted = {
            module.lower().replace("_", "-")
            for module in modules
            if not module.lower().startswith("pytest")
        } - covered
        for name in sorted(found.extras):
            if name in chosen or name.lower() in NOT_FOR_TESTS:
                continue
            imported = sorted(wanted & found.extras[name])
            if imported:
                chosen[name] = f"{name}: the {who} import {', '.join(imported)}"
                wanted -= set(imported)
                covered |= found.extras[name]
    return chosen


# Names projects give their integration and GPU tests' markers, mlci's own first.
MARKER_NAMES = {
    "integ-marker": ("integ", "integration", "integration_test", "integtest", "integ_test"),
    "gpu-marker": ("gpu", "cuda", "requires_gpu", "gpu_only", "needs_gpu"),
}
# Markers whose tests unit still runs, and which a team may want out of it (exclude-markers).
MAYBE_EXCLUDED = ("slow", "network", "internet", "online", "download", "serial")
_MARKER_NAME = re.compile(r"\s*([A-Za-z_]\w*)")


def registered_markers(project: Project) -> tuple[list[str], str]:
    """The markers the project's pytest configuration registers (`markers = ...`), and where."""
    value = project.tools.pytest.get("markers")
    if value is None:
        return [], ""
    lines = value.value if isinstance(value.value, list) else str(value.value).splitlines()
    names = [m[1] for line in lines if (m := _MARKER_NAME.match(str(line))) and m[1]]
    return names, value.source


def _markers(project: Project, found: Findings, proposal: Proposal) -> None:
    """integ-marker and gpu-marker from the markers the project registers or its tests use,
    when they are not mlci's own names; a row for markers unit runs that teams often leave
    out."""
    registered, source = registered_markers(project)
    tests = found.tests_dir or "tests"
    for option, names in MARKER_NAMES.items():
        if project.marked_tests(tests, names[0]):
            continue  # mlci's default name is used: nothing to set
        for name in names[1:]:
            if project.marked_tests(tests, name):
                why = f"@pytest.mark.{name} in {tests}/"
                why += f", registered in {source}" if name in registered else ""
                proposal.table[option] = name
                proposal.rows.append(Row(option, name, why))
                break
    others = [name for name in MAYBE_EXCLUDED if name in registered]
    if others:
        proposal.rows.append(
            Row(
                "other markers",
                ", ".join(others),
                "unit runs these tests; exclude-markers leaves them out (then no session runs"
                " them)",
            )
        )


def _sessions(project: Project, found: Findings, proposal: Proposal) -> list[str]:
    """The sessions with something to check, as the registry judges it for these settings."""
    settings = resolve(project, dict(proposal.table), environ={})
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
            if name == "nbmake" and "notebooks" in found.notes:
                why += f"; {found.notes['notebooks']}"
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


def _git(root: Path, *args: str) -> str:
    """One line from git, or "" when git is missing or says no."""
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def default_branch(root: Path) -> tuple[str, str]:
    """The branch pushes to run CI on, and why: the remote's default branch, else the one git
    is configured to start repositories with, else main; never whichever is checked out."""
    remote = _git(root, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
    branch = remote.removeprefix("refs/remotes/origin/")
    if remote.startswith("refs/remotes/origin/") and BRANCH.fullmatch(branch):
        return branch, "the remote's default branch (origin/HEAD)"
    configured = _git(root, "config", "--get", "init.defaultBranch")
    if BRANCH.fullmatch(configured):
        return configured, "git's init.defaultBranch (no origin/HEAD)"
    return "main", "neither origin/HEAD nor git's init.defaultBranch is set"


def _github(branch: str) -> str:
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


def _mlci_values(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in ("", [], None)}


def _mlci_table(values: dict[str, Any]) -> Any:
    table = tomlkit.table()
    table.add(tomlkit.comment("Written by `mlci init`; `mlci options` lists every setting."))
    for key, value in values.items():
        table[key] = value
    return table


def pyproject_change(root: Path, proposal: Proposal, *, replace: bool) -> Change:
    """pyproject.toml with [tool.mlci] (and a new [dependency-groups] table, if proposed).

    An existing [tool.mlci] that differs is kept unless `replace`; the rest of the file is
    kept as it is, line endings included.
    """
    path = root / "pyproject.toml"
    old = toml_edit.read_text(path)
    document = toml_edit.parse(old, path)
    wanted = _mlci_values(proposal.table)
    existing = toml_edit.mlci_table(document)
    if existing is None or replace:
        toml_edit.tool_table(document)["mlci"] = _mlci_table(wanted)
    else:
        have = existing.unwrap()
        differs = [key for key, value in wanted.items() if have.get(key) != value]
        if differs:
            why = f"kept as it is (init would set {', '.join(differs)}); --force replaces it"
            proposal.rows.append(Row("[tool.mlci]", "exists", why))
    if proposal.dependency_groups and "dependency-groups" not in document:
        groups = tomlkit.table()
        for name, items in proposal.dependency_groups.items():
            groups[name] = items
        document["dependency-groups"] = groups
    return Change(path, old, toml_edit.dumps(document, toml_edit.newline(old)))


def measured_change(root: Path, updates: dict[str, Any]) -> Change:
    """pyproject.toml with only the measured keys of [tool.mlci] set; every other key, comment
    and line as it was."""
    path = root / "pyproject.toml"
    old = toml_edit.read_text(path)
    return Change(path, old, toml_edit.merge(old, path, updates) if updates else old or "")


def changes(root: Path, proposal: Proposal, *, force: bool) -> list[Change]:
    """The files init would write, with their current and new content."""
    found = [pyproject_change(root, proposal, replace=force)]
    for name, content in proposal.files.items():
        path = root / name
        old = toml_edit.read_text(path)
        if old is not None and old != content and not force:
            proposal.rows.append(Row(name, "exists", "kept (it differs); --force replaces it"))
            continue
        found.append(Change(path, old, content))
    return found


def check_targets(root: Path, paths: list[Path]) -> None:
    """Before anything is written: each target is a file (or nothing yet) inside the project,
    reached through real folders or links that stay inside; else one line, nothing written."""
    base = root.resolve()
    for path in paths:
        relative = path.relative_to(root)
        for depth in range(1, len(relative.parts) + 1):
            shown = Path(*relative.parts[:depth])
            _check_step(base, root / shown, shown, last=depth == len(relative.parts))


def _check_step(base: Path, current: Path, shown: Path, *, last: bool) -> None:
    if current.is_symlink():
        try:
            target: Path | None = current.resolve()
        except (OSError, RuntimeError):  # a loop of links
            target = None
        if target is None or (target != base and base not in target.parents):
            raise ConfigError(
                f"{shown} is a symbolic link to {os.readlink(current)}, outside the project:"
                f" mlci init writes only inside {base} (remove the link, or make it a file)"
            )
    if not last and current.exists() and not current.is_dir():
        raise ConfigError(f"{shown} is not a folder, so mlci init cannot write below it")
    if last and current.exists() and not current.is_file():
        kind = "a folder" if current.is_dir() else "not a regular file"
        raise ConfigError(f"{shown} is {kind}: mlci init writes a file there (move it away)")


def diff(change: Change, root: Path) -> str:
    name = str(change.path.relative_to(root))
    old = (change.old or "").splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(old, change.new.splitlines(keepends=True), f"a/{name}", f"b/{name}")
    )


def write(found: list[Change]) -> list[Path]:
    """Write what changed, exactly (no newline translation); check_targets has run."""
    written = []
    for change in found:
        if change.changed:
            try:
                change.path.parent.mkdir(parents=True, exist_ok=True)
                change.path.write_text(change.new, encoding="utf-8", newline="")
            except OSError as err:
                raise ConfigError(f"cannot write {change.path}: {err.strerror}") from None
            written.append(change.path)
    return written


# --- the command --------------------------------------------------------------------------------


def render(rows: list[Row]) -> str:
    """The choices as an aligned table: what, value, why."""
    width = [max(len(getattr(row, key)) for row in rows) for key in ("what", "value")]
    return "\n".join(
        f"  {row.what:<{width[0]}}  {row.value:<{width[1]}}  {row.why}" for row in rows
    )


def _shown(root: Path, written: list[Path]) -> str:
    names = sorted({str(path.relative_to(root)) for path in written})
    return "wrote " + ", ".join(names) if names else "nothing to change"


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
    root = root.resolve()
    proposal = propose(root, github=github, gitlab=gitlab, pre_commit=pre_commit)
    found = changes(root, proposal, force=force)
    targets = [change.path for change in found if change.changed]
    if measure_first:  # what the measurement writes, checked before anything is written
        targets += [root / init_measure.MYPY_BASELINE, root / init_measure.LOG]
        targets += [root / init_measure.REPORT, root / REPORTS / ".gitignore"]
        targets += [root / "pyproject.toml"]
    check_targets(root, targets)
    print(render(proposal.rows), flush=True)
    if dry_run:
        for change in found:
            if change.changed:
                print(diff(change, root))
        print("mlci init: --dry-run: nothing written")
        return 0
    print(f"mlci init: {_shown(root, write(found))}", flush=True)
    if measure_first:
        return _measure(root)
    print(
        "mlci init: next, `mlci init --measure` runs the sessions once and records today's"
        " pylint score, mypy errors and coverage, so the first `nox` is green"
    )
    return 0


def _without_name(why: str, session: str) -> str:
    """The reason without a leading session name, which the error line already gives."""
    lead = "could not run: " if why.startswith("could not run: ") else ""
    rest = why.removeprefix(lead)
    for prefix in (f"{session}: ", f"{session.split('-')[0]}: "):
        if rest.startswith(prefix):
            return lead + rest.removeprefix(prefix)
    return why


def _measure(root: Path) -> int:
    """Run the sessions, record what was measured (only those keys), show each session's state;
    1 when a session is red (then the next `nox` would be too)."""
    result = init_measure.measure(root)
    if not result.outcomes:
        print("mlci init: --measure: no CPU session to run")
        return 0
    rows = [Row(o.session, "green" if o.green else "red", o.why) for o in result.outcomes]
    rows += [
        Row(key, str(result.updates.get(key, "(unchanged)")), note)
        for key, note in result.notes.items()
    ]
    print("mlci init: each session today, once what was measured is recorded:")
    print(render(rows))
    change = measured_change(root, result.updates)
    if change.changed:
        print(diff(change, root), end="")
    print(f"mlci init: measured: {_shown(root, write([change]) + result.recorded)}")
    for outcome in result.red:
        print(
            # The session's own message may already start with its name (`mypy: ...`).
            f"mlci: error: {outcome.session}:"
            f" {_without_name(outcome.why, outcome.session)} (nox's log: {init_measure.LOG})",
            file=sys.stderr,
        )
    return 1 if result.red else 0
