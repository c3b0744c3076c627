"""The uv workspace a project is a member of, found the way uv finds it."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mlci.project.files import read_pyproject

LOCK = "uv.lock"  # one per workspace, at its root


@dataclass(frozen=True)
class Workspace:
    """The workspace root a project is a member of, and its pyproject.toml."""

    root: Path
    pyproject: Mapping[str, Any] = field(repr=False)


def find(root: Path) -> Workspace | None:
    """The workspace that has `root` as a member: the nearest folder above holding a
    pyproject.toml decides; it is the root when its `[tool.uv.workspace]` `members` globs match
    `root` and no `exclude` glob does."""
    project = root.resolve()
    for folder in project.parents:
        if not (folder / "pyproject.toml").is_file():
            continue
        pyproject = read_pyproject(folder)
        tool = pyproject.get("tool")
        uv = tool.get("uv") if isinstance(tool, dict) else None
        workspace = uv.get("workspace") if isinstance(uv, dict) else None
        if not isinstance(workspace, dict):
            return None  # another project (or none) encloses it: uv stops there too
        return Workspace(folder, pyproject) if _is_member(project, folder, workspace) else None
    return None


def _is_member(project: Path, folder: Path, workspace: dict[str, Any]) -> bool:
    def globs(key: str) -> list[str]:
        found = workspace.get(key, [])
        return [glob for glob in found if isinstance(glob, str)] if isinstance(found, list) else []

    def matches(glob: str) -> bool:
        # uv matches with the glob crate's defaults: `*` also crosses `/`, as fnmatch does.
        relative = posixpath.normpath(glob)
        if PurePosixPath(relative).is_absolute():
            return fnmatch.fnmatchcase(project.as_posix(), relative)
        return fnmatch.fnmatchcase(project.relative_to(folder).as_posix(), relative)

    return any(map(matches, globs("members"))) and not any(map(matches, globs("exclude")))
