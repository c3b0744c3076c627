"""Each session of the sample project passes as shipped and fails for the right reason."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlci.session.junit import totals
from tests.integ.conftest import RunNox, edit

pytestmark = pytest.mark.integ

SESSIONS = ["lint", "mypy", "unit-3.11", "integ", "nbmake", "gpu"]


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def output(done: subprocess.CompletedProcess[str]) -> str:
    """Everything nox printed, without colour codes (IPython colours its tracebacks)."""
    return ANSI.sub("", done.stdout + done.stderr)


def test_nox_lists_the_six_sessions(sample: Path, run_nox: RunNox) -> None:
    done = run_nox(sample, "--list")
    assert done.returncode == 0
    listed = [line.split()[:2] for line in done.stdout.splitlines() if line[:2] in ("* ", "- ")]
    expected = [["*", name] for name in SESSIONS[:-1]] + [["-", "gpu"]]
    expected.insert(3, ["-", "unit"])  # `nox -s unit`: every unit-<python>
    assert listed == expected


def test_default_pipeline_passes_with_a_cpu_torch(
    sample: Path, run_nox: RunNox, envdir: Path
) -> None:
    # Side by side (`nox -j`): the sessions wait for one of them to build the shared environment.
    done = run_nox(sample, "-j", "3")
    assert done.returncode == 0, output(done)
    for session in SESSIONS[:-1]:
        assert f"Session {session} was successful" in output(done)
    assert "Session gpu" not in output(done)  # gpu runs only when asked

    unit = totals(sample / "mlci-reports" / "unit-3.11" / "junit.xml")
    assert unit.tests > 20 and unit.failures == unit.errors == 0
    assert "line-rate" in (sample / "mlci-reports" / "unit-3.11" / "coverage.xml").read_text()
    for session in ("integ", "nbmake", "mypy"):
        assert (sample / "mlci-reports" / session / "junit.xml").is_file()
    assert totals(sample / "mlci-reports" / "integ" / "junit.xml").tests >= 1
    assert (sample / "mlci-reports" / "lint" / "pylint.txt").is_file()
    # coverage's data file stays with the reports, the project's root stays clean.
    assert (sample / "mlci-reports" / "unit-3.11" / "coverage.data").is_file()
    assert not (sample / ".coverage").exists()
    assert "follows uv.lock (its versions; torch 2.13.0 as +cpu)" in output(done)

    # One environment served all five sessions: built once, by whichever got there first.
    assert output(done).count(" pip install --python ") == 1, output(done)
    shared = envdir / ".cache" / "mlci" / "py3.11-cpu"
    # Bytecode went to uv's cache, sealed by source hash, none beside the project's sources.
    from mlci.envs import bytecode

    mirror = bytecode.root() / str(sample.resolve()).lstrip("/")
    pycs = list(mirror.rglob("sample_model/*.pyc"))
    assert pycs and all(int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b11 for pyc in pycs)
    assert "pycs sealed by source hash" in output(done)
    assert not [*(sample / "src").rglob("__pycache__"), *(sample / "tests").rglob("__pycache__")]
    site = next((shared / "lib").glob("python3.*/site-packages"))
    torch = [p.name for p in site.glob("torch-*.dist-info")]
    assert len(torch) == 1 and "+cpu" in torch[0], torch
    assert not [p.name for p in site.glob("nvidia_*")]


def test_warm_rerun_skips_the_install(sample: Path, run_nox: RunNox) -> None:
    run_nox(sample, "-s", "unit-3.11")
    started = time.monotonic()
    done = run_nox(sample, "-s", "unit-3.11", "--", "-q")
    elapsed = time.monotonic() - started
    assert done.returncode == 0
    assert "install skipped" in output(done)
    assert elapsed < 60


def test_failing_unit_test_fails_unit(sample: Path, run_nox: RunNox) -> None:
    (sample / "tests" / "test_broken.py").write_text(
        "def test_mlp_is_wrong():\n    assert 1 + 1 == 3\n"
    )
    done = run_nox(sample, "-s", "unit-3.11")
    assert done.returncode != 0
    assert "FAILED tests/test_broken.py::test_mlp_is_wrong" in output(done)
    assert "Session unit-3.11 failed" in output(done)
    assert totals(sample / "mlci-reports" / "unit-3.11" / "junit.xml").failures == 1


def test_posargs_reach_pytest(sample: Path, run_nox: RunNox) -> None:
    (sample / "tests" / "test_broken.py").write_text("def test_broken():\n    assert False\n")
    done = run_nox(sample, "-s", "unit-3.11", "--", "-k", "not test_broken")
    assert done.returncode == 0, output(done)
    assert "deselected" in output(done)


def test_coverage_under_the_threshold_fails_unit(sample: Path, run_nox: RunNox) -> None:
    untested = "\n".join(f"def helper_{i}(x: int) -> int:\n    return x + {i}\n" for i in range(40))
    (sample / "src" / "sample_model" / "untested.py").write_text(untested)
    done = run_nox(sample, "-s", "unit-3.11")
    assert done.returncode != 0
    assert re.search(r"unit: coverage \d+\.\d\d% is under coverage-fail-under 90%", output(done))
    unit = totals(sample / "mlci-reports" / "unit-3.11" / "junit.xml")
    assert unit.tests > 20 and unit.failures == unit.errors == 0  # only coverage failed it


def test_type_error_fails_mypy(sample: Path, run_nox: RunNox) -> None:
    edit(
        sample / "src" / "sample_model" / "nn.py",
        "        self.input_dim = input_dim\n",
        '        self.input_dim = input_dim\n        wrong: int = "a string"\n',
    )
    done = run_nox(sample, "-s", "mypy")
    assert done.returncode != 0
    assert "src/sample_model/nn.py" in output(done)
    assert "Incompatible types in assignment" in output(done)


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        pytest.param(
            "data.py",
            "import numpy as np\n",
            "import numpy as np\nimport os\n",
            ["F401", "`os` imported but unused"],
            id="ruff-via-pre-commit",
        ),
        pytest.param(
            "nn.py",
            "        return out\n",
            "        self.cache = out\n        return out\n",
            ["attribute-defined-outside-init"],
            id="pylint",
        ),
    ],
)
def test_lint_violation_fails_lint(
    sample: Path, run_nox: RunNox, file: str, old: str, new: str, expected: list[str]
) -> None:
    edit(sample / "src" / "sample_model" / file, old, new)
    subprocess.run(["git", "add", "-A"], cwd=sample, check=True)
    done = run_nox(sample, "-s", "lint")
    assert done.returncode != 0
    for text in expected:
        assert text in output(done)
    assert "Session lint failed" in output(done)


def test_raising_notebook_cell_fails_nbmake(sample: Path, run_nox: RunNox) -> None:
    """The cell's error, not the kernel's: a notebook saved with its author's own kernel
    (`torch-env`) runs in the session's Python all the same."""
    notebook = sample / "notebooks" / "train_digits.ipynb"
    data = json.loads(notebook.read_text())
    data["metadata"]["kernelspec"] = {
        "name": "torch-env",
        "display_name": "torch",
        "language": "python",
    }
    data["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "boom",
            "metadata": {},
            "outputs": [],
            "source": ["raise RuntimeError('loss diverged')"],
        }
    )
    notebook.write_text(json.dumps(data, indent=1) + "\n")
    done = run_nox(sample, "-s", "nbmake")
    assert done.returncode != 0
    assert "RuntimeError: loss diverged" in output(done)
    assert "No such kernel" not in output(done)
    assert totals(sample / "mlci-reports" / "nbmake" / "junit.xml").failures == 1


def test_gpu_without_a_device_fails_fast_with_one_line(sample: Path, run_nox: RunNox) -> None:
    started = time.monotonic()
    done = run_nox(sample, "-s", "gpu", env={"PATH": "/usr/bin:/bin:" + _venv_bin()})
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    assert "gpu: no CUDA device visible (nvidia-smi not found on PATH)" in output(done)
    assert "uv pip install" not in output(done)  # refused before any install
    assert elapsed < 30


def test_bad_settings_stop_nox_with_the_key_named(sample: Path, run_nox: RunNox) -> None:
    edit(
        sample / "pyproject.toml",
        "coverage-fail-under = 90\n",
        "coverage-fail-under = 190\ncovrage = 1\n",
    )
    done = run_nox(sample, "--list")
    assert done.returncode != 0
    assert "mlci: error: [tool.mlci] unknown key 'covrage' (did you mean" in done.stderr
    assert "[tool.mlci] coverage-fail-under: 190 is outside 0-100" in done.stderr


def _venv_bin() -> str:
    return str(Path(sys.executable).parent)
