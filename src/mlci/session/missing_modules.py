"""Why a test run could not even start: test modules that import what is not installed, and
tests that ask for a fixture no installed plugin gives.

A project whose test needs live in an extra or a requirements file mlci was not told about
fails at collection, one traceback per test module (44 of them, each "No module named
'lightning'"), or at each test's setup ("fixture 'mocker' not found": pytest-mock is missing).
pytest's JUnit report holds each; this turns them into one line per missing module or plugin,
naming where the project declares it when it does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlci.session.junit import ReportError, parse

_MISSING = re.compile(r"No module named '([A-Za-z0-9_.]+)'")
_NO_FIXTURE = re.compile(r"fixture '([A-Za-z0-9_]+)' not found")
# Fixtures of the common pytest plugins, and the distribution that gives each.
FIXTURES = {
    "mocker": "pytest-mock",
    "benchmark": "pytest-benchmark",
    "httpserver": "pytest-httpserver",
    "requests_mock": "requests-mock",
    "freezer": "pytest-freezer",
    "snapshot": "syrupy",
    "datadir": "pytest-datadir",
    "shared_datadir": "pytest-datadir",
    "monkeysession": "pytest-monkeysession",
}
# Import names whose distribution is named otherwise (the common ones of ML test suites).
DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "yaml": "pyyaml",
    "skimage": "scikit-image",
    "pytorch_lightning": "pytorch-lightning",
    "google": "protobuf",
    "dateutil": "python-dateutil",
    "attr": "attrs",
}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    return re.sub(r"[-_.]+", "-", match[0]).lower() if match else ""


def _where(module: str, pyproject: Mapping[str, Any]) -> str:
    """Where the project declares the distribution of `module` ("" if it does not)."""
    return _declared(_name(DISTRIBUTIONS.get(module, module)), pyproject)


def _declared(wanted: str, pyproject: Mapping[str, Any]) -> str:
    """Where the project declares the distribution `wanted` ("" if it does not)."""
    project = pyproject.get("project", {})
    extras = project.get("optional-dependencies", {}) if isinstance(project, dict) else {}
    found = [
        extra
        for extra, requirements in (extras.items() if isinstance(extras, dict) else [])
        if any(_name(str(r)) == wanted for r in requirements or [])
    ]
    groups = pyproject.get("dependency-groups", {})
    found_groups = [
        group
        for group, requirements in (groups.items() if isinstance(groups, dict) else [])
        if any(isinstance(r, str) and _name(r) == wanted for r in requirements or [])
    ]
    if found:
        return f"; it is in extra {found[0]!r}: set extras = [{found[0]!r}] in [tool.mlci]"
    if found_groups:
        return (
            f"; it is in dependency group {found_groups[0]!r}: set dependency-groups ="
            f" [{found_groups[0]!r}] in [tool.mlci]"
        )
    return ""


def summary(session: str, junit: Path, pyproject: Mapping[str, Any]) -> str | None:
    """One line: how many test modules could not import which module, and where the project
    declares it; None when no collection failed on a missing module."""
    try:
        root = parse(junit)
    except ReportError:
        return None
    if root is None:
        return None
    missing: Counter[str] = Counter()
    fixtures: Counter[str] = Counter()
    for case in root.iter("testcase"):
        error = case.find("error")
        if error is None:
            continue
        text = error.text or ""
        if error.get("message") == "collection failure":
            found = _MISSING.search(text)
            if found:
                missing[found[1].split(".")[0]] += 1
        elif (fixture := _NO_FIXTURE.search(text)) is not None:
            fixtures[fixture[1]] += 1
    modules = [
        f"{count} test module(s) import {module}: not installed{_where(module, pyproject)}"
        for module, count in missing.most_common()
    ]
    plugins = [_fixture_line(name, count, pyproject) for name, count in fixtures.most_common()]
    said = ["tests could not be collected: " + "; ".join(modules)] if modules else []
    said += ["tests could not be set up: " + "; ".join(plugins)] if plugins else []
    return f"{session}: " + "; ".join(said) if said else None


def _fixture_line(name: str, count: int, pyproject: Mapping[str, Any]) -> str:
    plugin = FIXTURES.get(name)
    if plugin is None:
        return f"{count} test(s) use fixture {name!r}, which nothing installed defines"
    where = _declared(plugin, pyproject)
    return f"{count} test(s) use fixture {name!r}: {plugin} gives it, not installed{where}"
