"""`mlci init` without running anything: what it finds, what it writes, and what it refuses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mlci import init
from mlci.cli import main
from mlci.discover import inspect
from mlci.errors import ConfigError
from mlci.settings import resolve

ROOT = Path(__file__).resolve().parents[1]


def pyproject_src(root: Path) -> Path:
    """(a) pyproject + src layout, untyped, no pre-commit, no integ tests, no notebooks."""
    (root / "src" / "tiny_model").mkdir(parents=True)
    (root / "src" / "tiny_model" / "__init__.py").write_text("def double(x):\n    return 2 * x\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_double.py").write_text(
        "from tiny_model import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
    )
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'tiny-model'\nversion = '0.1'\nrequires-python = '>=3.10'\n"
        "dependencies = ['torch>=2.4']\n\n"
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n\n"
        "[tool.rye]\ndev-dependencies = ['pytest>=8', 'einops>=0.8']\n"
    )
    return root


def setup_py_flat(root: Path) -> Path:
    """(b) setup.py + requirements.txt, flat layout, no pyproject.toml."""
    (root / "flatpkg").mkdir(parents=True)
    (root / "flatpkg" / "__init__.py").write_text('"""Flat."""\n')
    (root / "tests").mkdir()
    (root / "tests" / "test_flat.py").write_text("import flatpkg\n\n\ndef test():\n    pass\n")
    (root / "setup.py").write_text(
        "from setuptools import setup\n\n"
        "setup(name='flat-pkg', packages=['flatpkg'], python_requires='>=3.10')\n"
    )
    (root / "requirements.txt").write_text("packaging>=24\n")
    (root / "requirements-docs.txt").write_text("mkdocs\n")  # not a test requirement
    return root


def test_what_init_finds_in_a_pyproject_src_project(tmp_path: Path) -> None:
    found = inspect(pyproject_src(tmp_path))
    assert (found.built_with, found.name, found.package, found.layout) == (
        "pyproject.toml [project]",
        "tiny-model",
        "tiny_model",
        "src",
    )
    assert found.uses_torch and found.requires_python == ">=3.10"
    assert found.tests_dir == "tests" and found.markers == set()
    assert found.dev_dependencies == ["pytest>=8", "einops>=0.8"]
    assert found.dev_dependencies_from == "[tool.rye] dev-dependencies"


def test_what_init_finds_in_a_setup_py_project(tmp_path: Path) -> None:
    found = inspect(setup_py_flat(tmp_path))
    assert (found.built_with, found.name, found.package, found.layout) == (
        "setup.py",
        "flat-pkg",
        "flatpkg",
        "flat",
    )
    assert found.requirements == ["requirements.txt"] and not found.uses_torch


def test_markers_and_notebooks_are_found(tmp_path: Path) -> None:
    root = pyproject_src(tmp_path)
    (root / "tests" / "test_more.py").write_text(
        "import pytest\n\n@pytest.mark.integ\ndef test_i(): ...\n\n"
        "@pytest.mark.gpu(devices=2)\ndef test_g(): ...\n"
    )
    (root / "examples").mkdir()
    (root / "examples" / "train.ipynb").write_text("{}")
    found = inspect(root)
    assert found.markers == {"integ", "gpu"}
    assert found.notebooks == "examples"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"README.md": "hi"}, r"has no pyproject.toml \[project\], setup.py, setup.cfg"),
        ({"setup.py": "from setuptools import setup\nsetup(name='x')\n"}, "no package found in"),
    ],
    ids=["not a python project", "no package"],
)
def test_an_unknown_layout_says_what_it_looked_for(
    tmp_path: Path, files: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=message):
        inspect(tmp_path)
    assert main(["init", "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlci: error: ") and "Traceback" not in err


def test_dry_run_shows_the_diff_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = pyproject_src(tmp_path)
    before = sorted(p.name for p in root.iterdir())
    text = (root / "pyproject.toml").read_text()
    assert main(["init", "--project", str(root), "--dry-run", "--github"]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in root.iterdir()) == before
    assert (root / "pyproject.toml").read_text() == text
    assert "+[tool.mlci]" in out and '+package = "tiny_model"' in out
    assert "+++ b/noxfile.py" in out and "+++ b/.github/workflows/ci.yml" in out
    assert re.search(r"session integ +off +no test under tests/ is marked integ", out)


def test_init_writes_what_fits_and_twice_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = pyproject_src(tmp_path)
    assert main(["init", "--project", str(root)]) == 0
    capsys.readouterr()
    text = (root / "pyproject.toml").read_text()
    assert text.startswith("[project]\nname = 'tiny-model'")  # the user's lines, as they were
    settings = resolve(root, environ={})
    assert settings.package == "tiny_model"
    assert settings.sessions == ("lint", "mypy", "unit")  # only what has something to check
    assert settings.dependency_groups == ("dev",)  # rye's test dependencies, now a PEP 735 group
    assert '[dependency-groups]\ndev = ["pytest>=8", "einops>=0.8"]' in text
    assert (root / "noxfile.py").read_text() == init.NOXFILE

    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert main(["init", "--project", str(root)]) == 0
    assert "mlci init: nothing to change" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == files


def test_files_that_differ_are_kept_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = pyproject_src(tmp_path)
    (root / "noxfile.py").write_text("# my own noxfile\n")
    path = root / "pyproject.toml"
    path.write_text(path.read_text() + "\n[tool.mlci]\nsessions = ['unit']\n")
    assert main(["init", "--project", str(root)]) == 0
    out = capsys.readouterr().out
    assert (root / "noxfile.py").read_text() == "# my own noxfile\n"
    assert "noxfile.py" in out and "kept (it differs); --force replaces it" in out
    assert "sessions = ['unit']" in path.read_text()
    assert main(["init", "--project", str(root), "--force"]) == 0
    assert (root / "noxfile.py").read_text() == init.NOXFILE
    assert resolve(root, environ={}).sessions == ("lint", "mypy", "unit")


def test_a_setup_py_project_gets_a_pyproject_with_only_mlcis_table(tmp_path: Path) -> None:
    root = setup_py_flat(tmp_path)
    assert main(["init", "--project", str(root)]) == 0
    settings = resolve(root, environ={})
    assert (settings.package, settings.torch_backend) == ("flatpkg", "none")
    assert settings.requirements == ("requirements.txt",)
    assert set(settings.sources) and "[project]" not in (root / "pyproject.toml").read_text()


def test_the_ci_callers_it_writes_are_valid(tmp_path: Path) -> None:
    root = pyproject_src(tmp_path)
    assert main(["init", "--project", str(root), "--github", "--gitlab", "--pre-commit"]) == 0
    caller = root / ".github" / "workflows" / "ci.yml"
    assert "uses: acme/mlci/.github/workflows/test.yml@v" in caller.read_text()
    checker = shutil.which("check-jsonschema")
    assert checker
    done = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", str(caller)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    import yaml

    gitlab = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
    [main_include, mr] = gitlab["include"]
    assert main_include["file"] == "ci-templates/gitlab/mlci.yml"
    # GitLab makes one job per session before reading pyproject.toml: the sessions are listed.
    assert main_include["inputs"]["sessions"] == ["lint", "mypy", "unit"]
    assert mr["file"] == "ci-templates/gitlab/merge-request-pipelines.yml"
    hooks = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())
    assert [hook["id"] for hook in hooks["repos"][0]["hooks"]] == ["ruff-check", "ruff-format"]
    assert json.dumps(hooks).count(init.RUFF) == 2


def test_python_versions_follow_requires_python_and_the_wheels_there_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = pyproject_src(tmp_path)
    path = root / "pyproject.toml"
    path.write_text(path.read_text().replace(">=3.10", ">=3.12"))
    monkeypatch.setattr(init, "_pythons_here", lambda candidates: candidates)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "torch-2.13.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl").write_text("")
    monkeypatch.setenv("MLCI_TORCH_INDEX", str(wheels))
    proposal = init.propose(root)
    assert proposal.table["python-versions"] == ["3.12"]
    monkeypatch.delenv("MLCI_TORCH_INDEX")
    proposal = init.propose(root)
    assert proposal.table["python-versions"][0] == "3.12"
    assert "3.11" not in proposal.table["python-versions"]
