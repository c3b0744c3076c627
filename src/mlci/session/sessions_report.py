"""What `mlci sessions` shows: for each session nox registers, the exact commands it runs."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from mlci.config.settings import Settings
from mlci.envs import install, torch_source
from mlci.errors import ConfigError
from mlci.project.files import REPORTS
from mlci.session.registry import Run
from mlci.session.validation import Choice


def describe(settings: Settings, choice: Choice) -> dict[str, Any]:
    """Sessions (commands built exactly as the nox session builds them), left-out sessions,
    and what the environments are installed from."""
    rows: list[dict[str, Any]] = []
    for session in choice.sessions:
        pythons = session.pythons(settings)
        for python, name in zip(pythons, session.nox_names(settings), strict=True):
            reports = Path(REPORTS) / name
            try:
                run = Run(settings, name, reports, python=python)
                lines = [shlex.join(c) for c in session.commands(run)]
            except ConfigError as err:
                lines = [f"(cannot run: {err})"]
            rows.append(
                {
                    "session": name,
                    "default": session.default,
                    "python": python,
                    "torch": session.backend(settings),
                    "runs": session.runs_here(settings),
                    "reports": str(reports),
                    "commands": lines,
                }
            )
    try:
        request = install.request(settings, settings.torch_backend, (), torch_source.mlci_cache())
        installs = request.follows
        if request.source is not None:
            installs += f"; torch {request.source.backend} from {request.source.shown}"
    except ConfigError as err:
        installs = f"(cannot install: {err})"
    return {
        "project": str(settings.root),
        "installs": installs,
        "sessions": rows,
        "left-out": dict(choice.left_out),
    }
