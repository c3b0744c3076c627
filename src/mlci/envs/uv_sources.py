"""The project's own uv setup that a session install must follow or replace: the workspace it
belongs to (whose uv.lock it follows) and the indexes it names for torch.

uv's PyTorch guide pins torch to an index of the project's (`[tool.uv.sources]` naming a
`[[tool.uv.index]]`). mlci pins torch to the job's build, and uv refuses two indexes for one
package ("conflicting indexes"). uv reads the project's sources whenever it installs the project
(`-e .`, as a path dependency, as a workspace member), and the only thing that replaces one of
them is an index of the same name given on uv's command line or in `UV_INDEX`: `--no-sources`
and `--no-sources-package` would drop mlci's own pin too, and a config file's index does not
shadow the project's. So each index the project names for the torch family is renamed onto the
job's torch index through `UV_INDEX` (`--index` would silently drop a `UV_INDEX` the user set);
every other source (git, path, other indexes, other packages) stays as the project wrote it.

uv treats an index given that way as an ordinary one, no longer explicit: besides pinning torch,
it is searched first for any package it lists. mlci's index made from a folder of wheels lists
the torch family only, so nothing else can come from it; a remote index (the PyTorch index, a
mirror) may also serve packages such as numpy for projects that name their own torch index.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from mlci.envs.torch_source import TORCH_FAMILY, TorchSource, credential_variables
from mlci.errors import ConfigError
from mlci.project.snapshot import Project


def _uv_table(pyproject: Mapping[str, Any]) -> dict[str, Any]:
    tool = pyproject.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    return uv if isinstance(uv, dict) else {}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def torch_indexes(project: Project) -> dict[str, str]:
    """The indexes `[tool.uv.sources]` names for the torch family, each with its URL as
    declared ("" when undeclared). A workspace member also gets its root's sources and indexes,
    its own first (uv's order)."""
    tables = [_uv_table(project.pyproject)]
    if project.workspace is not None:
        tables.append(_uv_table(project.workspace.pyproject))
    named: dict[str, None] = {}
    for package in TORCH_FAMILY:
        # A member's own entry for a package replaces its root's.
        entries = next((found for table in tables if (found := _sources_of(table, package))), [])
        named |= {entry["index"]: None for entry in entries if isinstance(entry.get("index"), str)}
    declared = [index for table in tables for index in _indexes_of(table)]
    return {
        name: next(
            (str(index.get("url", "")) for index in declared if index.get("name") == name), ""
        )
        for name in named
    }


def _sources_of(table: Mapping[str, Any], package: str) -> list[dict[str, Any]]:
    sources = table.get("sources")
    if not isinstance(sources, dict):
        return []
    for key, value in sources.items():
        if _normalize(str(key)) == package:
            entries = value if isinstance(value, list) else [value]
            return [entry for entry in entries if isinstance(entry, dict)]
    return []


def _indexes_of(table: Mapping[str, Any]) -> list[dict[str, Any]]:
    indexes = table.get("index")
    return [i for i in indexes if isinstance(i, dict)] if isinstance(indexes, list) else []


def replaced_indexes(project: Project, source: TorchSource) -> tuple[str, ...]:
    """The torch indexes of the project that the job's torch index replaces: those not already
    at its URL (an index at the same URL is no conflict, and stays explicit)."""
    same = source.index_url.rstrip("/")
    return tuple(
        name for name, url in torch_indexes(project).items() if url.strip().rstrip("/") != same
    )


def index_environment(
    names: tuple[str, ...], source: TorchSource, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """uv's variables that rename the project's torch indexes onto the job's index: `UV_INDEX`
    with the user's own entries kept first, and the job's credentials under each name."""
    if not names:
        return {}
    environ = os.environ if environ is None else environ
    # The user's entries keep their order; the names replaced are the job's alone.
    kept = [
        entry for entry in environ.get("UV_INDEX", "").split() if _entry_name(entry) not in names
    ]
    ours = [f"{name}={source.index_url}" for name in names]
    variables = {"UV_INDEX": " ".join([*kept, *ours])}
    for name in names:
        user, password = credential_variables(name)
        if source.username or source.password:
            variables |= {user: source.username, password: source.password}
        elif (user in environ or password in environ) and not source.index_url.startswith("file:"):
            # uv would send credentials meant for the project's index to the job's index.
            raise ConfigError(
                f"torch-index: {user}/{password} hold credentials for the project's index"
                f" {name}, which this job replaces with {source.shown}: put the credentials in"
                " the torch-index URL, or unset them"
            )
    return variables


def _entry_name(entry: str) -> str | None:
    """The name of a `UV_INDEX` entry (`name=url`), as uv reads it; None for a bare URL."""
    name, equals, _ = entry.partition("=")
    return name if equals and ":" not in name else None
