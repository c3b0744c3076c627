"""mlci: one set of Nox sessions for an ML repository, run locally, on GitHub and on GitLab."""

from __future__ import annotations

from pathlib import Path

from mlci._version import __version__

__all__ = ["__version__", "sessions"]


def sessions(root: str | Path | None = None) -> None:
    """Register mlci's sessions in the calling noxfile, configured from `[tool.mlci]`.

    `root` is the project folder (default: the noxfile's folder, where nox runs).
    """
    # Imported here so that `import mlci` (and the `mlci` command) never loads nox.
    from mlci.session.nox_sessions import sessions as register

    register(root)
