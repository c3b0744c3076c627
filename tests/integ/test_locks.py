"""Environments follow uv.lock: its versions exactly, a stale lock refused in one line, the
opt-out resolving afresh, and a torch version the job's build lacks named."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlci.compat import load
from tests.integ.conftest import RunNox, edit
from tests.integ.test_sample_sessions import output

pytestmark = pytest.mark.integ

# An old release of a small dependency: the lock keeps it although newer ones exist.
OLD_PACKAGING = "24.0"
OLD_PYTEST = "8.3.5"


def locked_project(root: Path, also: str = "") -> Path:
    (root / "src" / "locked").mkdir(parents=True)
    (root / "src" / "locked" / "__init__.py").write_text('"""Locked."""\n')
    (root / "tests").mkdir()
    (root / "tests" / "test_versions.py").write_text(
        "import importlib.metadata as md\n\nimport locked\n\n\ndef test_report():\n"
        "    assert locked.__doc__\n"
        "    print('packaging', md.version('packaging'), 'pytest', md.version('pytest'))\n"
    )
    (root / "noxfile.py").write_text("import mlci\n\nmlci.sessions()\n")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        "[project]\nname = 'locked'\nversion = '0.1'\nrequires-python = '>=3.10'\n"
        f"dependencies = ['packaging==24.0'{also}]\n\n"
        f"[dependency-groups]\ntest = ['pytest=={OLD_PYTEST}']\n\n"
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n\n"
        "[tool.mlci]\npython-versions = ['3.11']\nsessions = ['unit']\n"
        "dependency-groups = ['test']\ncoverage-fail-under = 0\ntorch-backend = 'none'\n"
    )
    subprocess.run(["uv", "lock", "--quiet"], cwd=root, check=True)
    # The team relaxed its requirement; uv keeps the locked version until asked to upgrade.
    edit(pyproject, "'packaging==24.0'", "'packaging>=23'")
    edit(pyproject, f"'pytest=={OLD_PYTEST}'", "'pytest>=8'")
    subprocess.run(["uv", "lock", "--quiet"], cwd=root, check=True)
    assert 'name = "packaging"\nversion = "24.0"' in (root / "uv.lock").read_text()
    return root


def installed(root: Path, envdir: Path, package: str) -> str:
    python = envdir / ".cache" / "mlci" / "py3.11-none" / "bin" / "python"
    code = f"import importlib.metadata as md; print(md.version({package!r}))"
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_environment_has_exactly_the_locked_versions(
    tmp_path: Path, run_nox: RunNox, envdir: Path
) -> None:
    root = locked_project(tmp_path / "locked")
    done = run_nox(root, "-s", "unit-3.11")
    assert done.returncode == 0, output(done)
    assert "follows uv.lock (its versions)" in output(done)
    assert installed(root, envdir, "packaging") == OLD_PACKAGING
    # mlci asks for pytest>=8 and its plugins; the lock's pin wins and nothing moved it.
    assert installed(root, envdir, "pytest") == OLD_PYTEST

    # A stale lock: a new dependency nobody locked. One line, before anything is installed.
    edit(root / "pyproject.toml", "'packaging>=23'", "'packaging>=23', 'six'")
    stale = run_nox(root, "-s", "unit-3.11")
    assert stale.returncode != 0
    assert "uv.lock is out of date with pyproject.toml: run `uv lock`" in output(stale)
    assert " pip install " not in output(stale)

    # The opt-out (a scheduled job trying the newest versions): resolved afresh.
    newest = run_nox(root, "-s", "unit-3.11", env={"MLCI_RESOLUTION": "newest"})
    assert newest.returncode == 0, output(newest)
    assert "resolved afresh (resolution = newest: uv.lock ignored)" in output(newest)
    assert installed(root, envdir, "packaging") != OLD_PACKAGING
    assert installed(root, envdir, "six")


def test_a_locked_torch_the_jobs_build_lacks_is_named(tmp_path: Path, run_nox: RunNox) -> None:
    """The lock pins a torch release the torch source has no CPU build of: one line naming
    both, not a resolver dump (here the source is a folder holding torch 2.13.0 only)."""
    root = locked_project(tmp_path / "old-torch", also=", 'torch==2.12.0'")
    edit(root / "pyproject.toml", "torch-backend = 'none'\n", "")
    done = run_nox(root, "-s", "unit-3.11")
    assert done.returncode != 0
    assert "uv.lock pins torch 2.12.0, and " in output(done)
    assert "has no cpu build of it" in output(done)
    assert load().release("2.12") is not None  # a release mlci knows: only the build is missing


def test_a_workspace_member_follows_its_workspace_roots_lock(
    tmp_path: Path, run_nox: RunNox, envdir: Path
) -> None:
    """A member used as the project root: uv keeps one lock for the workspace, at its root, and
    the member's environment has its versions, saying whose lock it follows."""
    root = tmp_path / "workspace"
    member = locked_project(root / "packages" / "locked")
    (root / "pyproject.toml").write_text(
        '[tool.uv.workspace]\nmembers = ["packages/*"]\nexclude = ["packages/old-*"]\n'
    )
    # The member's lock moves up: the workspace's keeps its (old) versions.
    (member / "uv.lock").rename(root / "uv.lock")
    subprocess.run(["uv", "lock", "--quiet"], cwd=root, check=True)
    assert 'name = "packaging"\nversion = "24.0"' in (root / "uv.lock").read_text()

    done = run_nox(member, "-s", "unit-3.11")
    assert done.returncode == 0, output(done)
    assert "follows uv.lock of the workspace root ../.. (its versions)" in output(done)
    assert installed(member, envdir, "packaging") == OLD_PACKAGING
