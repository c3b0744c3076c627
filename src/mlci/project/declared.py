"""What a pyproject.toml declares: dependency groups, extras, requires-python."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from mlci.errors import ConfigError


def declared_groups(pyproject: Mapping[str, Any]) -> set[str]:
    groups = pyproject.get("dependency-groups")
    return set(groups) if isinstance(groups, dict) else set()


def declared_extras(pyproject: Mapping[str, Any]) -> set[str] | None:
    """The project's extras; None when they cannot be known (dynamic, or no [project])."""
    project = pyproject.get("project")
    if not isinstance(project, dict) or "optional-dependencies" in project.get("dynamic", []):
        return None
    extras = project.get("optional-dependencies", {})
    return {re.sub(r"[-_.]+", "-", name).lower() for name in extras}


def requires_python(pyproject: Mapping[str, Any]) -> SpecifierSet | None:
    project = pyproject.get("project")
    text = project.get("requires-python") if isinstance(project, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise ConfigError(f"pyproject.toml: requires-python {text!r} is not valid") from None


def allows(spec: SpecifierSet, minor: str) -> bool:
    """Does any release of a minor version (`3.10`) satisfy requires-python?"""
    return any(spec.contains(f"{minor}.{patch}", prereleases=True) for patch in range(100))
