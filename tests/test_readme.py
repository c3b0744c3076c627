"""README's promises that a test can keep."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def quick_start() -> list[str]:
    block = README.split("## Quick start", 1)[1].split("```console", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def test_quick_start_is_two_commands() -> None:
    commands = quick_start()
    assert len(commands) == 2, commands
    assert commands[0].endswith("nox -s sample")


def test_ci_runs_the_readme_test_command() -> None:
    test_command = quick_start()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(rf"^{re.escape(test_command)}$", ci, re.M), f"{test_command!r} not in .ci/run"


def test_the_readme_the_sample_and_init_name_the_same_release_of_the_kit() -> None:
    """One reference for the kit everywhere a user copies it from: GitHub's moving major tag of
    this release, GitLab's release tag."""
    from mlci._version import __version__
    from mlci.ci import release
    from mlci.init import propose as init

    root = Path(__file__).resolve().parents[1]
    major = release.major_tag(f"refs/tags/v{__version__}")
    uses = re.compile(r"uses: acme/mlci/\.github/workflows/test\.yml@(\S+)")
    refs = re.compile(r"^\s+ref: (\S+)", re.M)
    readme = (root / "README.md").read_text()
    sample = root / "examples" / "sample-model"
    github = [
        *uses.findall(readme),
        *uses.findall((sample / ".github" / "workflows" / "ci.yml").read_text()),
        *uses.findall(init._github("main")),
    ]
    gitlab = [
        *refs.findall(readme),
        *refs.findall((sample / ".gitlab-ci.yml").read_text()),
        *refs.findall(init._gitlab(["3.11"], ["unit"])),
    ]
    assert github and set(github) == {major}
    assert gitlab and set(gitlab) == {f"v{__version__}"}
