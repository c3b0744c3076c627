"""`mlci init --measure` on three small generated repositories of different shapes: then `nox`
is green for every session init enabled, and an injected fault turns the right one red."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci.config.settings import resolve
from tests.init.test_init import pyproject_src, setup_py_flat
from tests.integ.conftest import RunNox
from tests.integ.test_sample_sessions import output

pytestmark = pytest.mark.integ


def with_torch_code(root: Path) -> Path:
    """(a) with code that uses torch, one type error, and a test under the default coverage."""
    pyproject_src(root)
    (root / "src" / "tiny_model" / "__init__.py").write_text(
        "import torch\n\nSCALE: int = 'two'  # a type error the code has today\n\n\n"
        "def double(x):\n    return torch.as_tensor(x) * 2\n\n\n"
        "def unused(x):\n    if x:\n        return 1\n    return 2\n"
    )
    (root / "tests" / "test_double.py").write_text(
        "from tiny_model import double\n\n\ndef test_double():\n    assert int(double(2)) == 4\n"
    )
    path = root / "pyproject.toml"  # the rye table asks for einops: keep the test offline-light
    path.write_text(path.read_text().replace(", 'einops>=0.8'", ""))
    return root


def locked_with_integ(root: Path) -> Path:
    """(c) pyproject + uv.lock, tests marked integ, no torch."""
    (root / "src" / "lockedpkg").mkdir(parents=True)
    (root / "src" / "lockedpkg" / "__init__.py").write_text(
        '"""Locked."""\n\nfrom packaging.version import Version\n\n\n'
        "def newer(a: str, b: str) -> bool:\n"
        '    """Is a newer than b."""\n    return Version(a) > Version(b)\n'
    )
    (root / "tests").mkdir()
    (root / "tests" / "test_unit.py").write_text(
        '"""Unit."""\n\nfrom lockedpkg import newer\n\n\ndef test_newer() -> None:\n'
        '    """Numbers, not text."""\n    assert newer("1.10", "1.9")\n'
    )
    (root / "tests" / "test_integ.py").write_text(
        '"""Integ."""\n\nimport pytest\n\nfrom lockedpkg import newer\n\n\n'
        "@pytest.mark.integ\ndef test_end_to_end() -> None:\n"
        '    """The whole thing."""\n    assert not newer("1.0", "1.0")\n'
    )
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'lockedpkg'\nversion = '0.1'\nrequires-python = '>=3.10'\n"
        "dependencies = ['packaging>=24']\n\n"
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n"
    )
    subprocess.run(["uv", "lock", "--quiet"], cwd=root, check=True)
    return root


def git_repo(root: Path) -> Path:
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    return root


def one_python() -> dict[str, str]:
    """A machine with one Python, 3.11 (pyenv's list cut to it): init offers what it finds."""
    versions = os.environ.get("PYENV_VERSION", "").split(":")
    return {"PYENV_VERSION": next((v for v in versions if v.startswith("3.11.")), "")}


def mlci_init(root: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "mlci.cli", "init", "--measure", "--project", str(root)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1", **one_python()},
    )
    print(done.stdout, done.stderr)
    return done


def inject(path: Path, text: str) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        (root / path).write_text(text)

    return write


CASES = {
    "pyproject-src-untyped-torch": (
        with_torch_code,
        ("lint", "mypy", "unit"),
        "mypy",
        inject(Path("src/tiny_model/extra.py"), "def f() -> int:\n    return 'new error'\n"),
        "Incompatible return value type",
    ),
    "setup-py-requirements-flat": (
        setup_py_flat,
        ("lint", "mypy", "unit"),
        "unit-3.11",
        inject(Path("tests/test_broken.py"), "def test_broken():\n    assert 1 + 1 == 3\n"),
        "FAILED tests/test_broken.py::test_broken",
    ),
    "uv-lock-integ": (
        locked_with_integ,
        ("lint", "mypy", "unit", "integ"),
        "integ",
        inject(
            Path("tests/test_integ_broken.py"),
            "import pytest\n\n\n@pytest.mark.integ\n"
            "def test_down():\n    raise RuntimeError('down')\n",
        ),
        "RuntimeError: down",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_init_then_nox_is_green_and_a_fault_turns_its_session_red(
    tmp_path: Path, run_nox: RunNox, case: str
) -> None:
    make, sessions, red, fault, why = CASES[case]
    root = git_repo(make(tmp_path / case))
    done = mlci_init(root)
    assert done.returncode == 0, done.stderr[-3000:]
    settings = resolve(root, environ={})
    assert settings.sessions == sessions
    assert settings.python_versions == ("3.11",)

    green = run_nox(root)
    assert green.returncode == 0, output(green)[-4000:]

    fault(root)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    broken = run_nox(root, "-s", red)
    assert broken.returncode != 0
    assert why in output(broken)
    assert f"Session {red} failed" in output(broken) or f"Session {red} aborted" in output(broken)


def with_hand_written_table(root: Path) -> Path:
    """(b) with a [tool.mlci] by hand: keys init never writes, comments, fewer sessions."""
    setup_py_flat(root)
    (root / "flatpkg" / "util.py").write_text("def f(x):\n    return x\n")  # pylint: < 10
    (root / "pyproject.toml").write_text(
        "[tool.mlci]\n# chosen by hand\npackage = 'flatpkg'\npython-versions = ['3.11']\n"
        "sessions = ['lint', 'unit']  # no mypy here\nrequirements = ['requirements.txt']\n"
        "test-timeout = 300  # a slow runner\n"
    )
    return root


def test_measure_keeps_a_hand_written_table_and_runs_what_it_chose(
    tmp_path: Path, run_nox: RunNox
) -> None:
    root = git_repo(with_hand_written_table(tmp_path / "hand"))
    before = (root / "pyproject.toml").read_text()
    done = mlci_init(root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mlci init: measuring lint, unit-3.11 (" in done.stderr
    after = (root / "pyproject.toml").read_text()
    assert after.startswith(before)  # every key and comment of the user's, as it was
    added = after[len(before) :].splitlines()
    assert [line.split(" = ")[0] for line in added] == [
        "pylint-fail-under",
        "pylint-baseline",
        "coverage-fail-under",
    ]
    assert f"+{added[0]}" in done.stdout  # the diff is shown
    assert (
        "flatpkg/util.py: missing-function-docstring: f:"
        in (root / "pylint-baseline.txt").read_text()
    )
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    green = run_nox(root)
    assert green.returncode == 0, output(green)[-4000:]


def test_measure_names_a_tool_that_could_not_run_and_exits_non_zero(tmp_path: Path) -> None:
    root = setup_py_flat(tmp_path / "broken-config")
    (root / "pyproject.toml").write_text(
        "[tool.mypy]\nplugins = ['nope_plugin']\n\n"
        "[tool.pylint.main]\nload-plugins = ['nope_plugin']\n"
    )
    done = mlci_init(git_repo(root))
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("mlci: error: ")]
    assert len(errors) == 2, done.stderr[-3000:]
    assert errors[0].startswith("mlci: error: lint: could not run: E0013: Plugin 'nope_plugin'")
    assert errors[1].startswith("mlci: error: mypy: could not run: mypy exited 2: ")
    assert 'Error importing plugin "nope_plugin"' in errors[1]
    progress = [line for line in done.stderr.splitlines() if line.startswith("mlci init: [")]
    assert len(progress) == 3 and "nox > " not in done.stdout + done.stderr
    assert not (root / "mypy-baseline.txt").exists()
    assert "pylint-fail-under" not in (root / "pyproject.toml").read_text()  # no score: no record
