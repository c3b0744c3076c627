"""This project's CI sessions: lint, mypy, unit, integ, nbmake, gpu (see `nox -l`)."""

import mlci
import nox

nox.needs_version = ">=2025.5.1"
mlci.sessions()
