"""Projects that set torch up as uv's PyTorch guide does (their own explicit torch index) run
every session with the job's torch build: real uv and real nox, offline, with a folder of wheels
(MLCI_TORCH_INDEX) or a stand-in index in place of the PyTorch index these machines cannot
reach."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mlci.config import settings
from mlci.envs import install
from tests.integ.conftest import RunNox
from tests.integ.test_sample_sessions import output
from tests.torch_setups import FORMS, MARKER, PYTORCH, fake_wheel, stand_in_index, write_project

pytestmark = pytest.mark.integ

WHEELS = "/opt/wheels"  # torch 2.13.0+cpu for CPython 3.11 (see MACHINE.md)


def env_python(envdir: Path, backend: str = "cpu") -> Path:
    return envdir / ".cache" / "mlci" / f"py3.11-{backend}" / "bin" / "python"


def torch_build(python: Path) -> list[str]:
    """torch's version and torch.version.cuda, as the environment's own torch reports them."""
    code = "import torch; print(torch.__version__); print(torch.version.cuda)"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_the_sample_with_the_guides_cuda_index_runs_on_a_cpu_job(
    sample: Path, run_nox: RunNox, envdir: Path
) -> None:
    """The sample as the guide sets torch up for Linux (its CUDA index, explicit): its unit
    session installs the job's CPU build, not the project's CUDA one."""
    pyproject = sample / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + MARKER)
    # Its lock cannot be made again for that index here (no PyTorch index): resolved afresh.
    (sample / "uv.lock").unlink()
    done = run_nox(sample, "-s", "unit-3.11", env={"MLCI_TORCH_INDEX": WHEELS})
    assert done.returncode == 0, output(done)
    assert "its torch index pytorch-cu128 replaced by the job's" in output(done)
    version, cuda = torch_build(env_python(envdir))
    assert version.endswith("+cpu") and cuda == "None"


def test_a_lock_with_the_projects_cuda_build_is_followed_with_the_jobs(
    tmp_path: Path, run_nox: RunNox, envdir: Path
) -> None:
    """uv.lock pins torch 2.13.0+cu128 from the project's index (a stand-in for it here): the
    CPU job keeps the locked version, as the job's build."""
    cuda_index = stand_in_index(tmp_path / "pytorch-cu128", "torch", "2.13.0+cu128")
    root = write_project(
        tmp_path / "guided",
        "marker",
        dependencies=("packaging==24.0",),
        mlci="python-versions = ['3.11']\nsessions = ['unit']\ncoverage-fail-under = 0\n",
    )
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f"{PYTORCH}/cu128", cuda_index))
    (root / "tests").mkdir()
    (root / "tests" / "test_it.py").write_text("import guided\n\n\ndef test_it():\n    pass\n")
    (root / "noxfile.py").write_text("import mlci\n\nmlci.sessions()\n")
    subprocess.run(["uv", "lock", "--quiet"], cwd=root, check=True)
    assert 'version = "2.13.0+cu128"' in (root / "uv.lock").read_text()

    done = run_nox(root, "-s", "unit-3.11", env={"MLCI_TORCH_INDEX": WHEELS})
    assert done.returncode == 0, output(done)
    # (the lock's other torch lines, PyPI's for other platforms, are listed after it)
    assert "follows uv.lock (its versions; torch 2.13.0" in output(done)
    assert "its torch index pytorch-cu128 replaced by the job's" in output(done)
    assert torch_build(env_python(envdir)) == ["2.13.0+cpu", "None"]


@pytest.mark.parametrize("backend", ["cpu", "cu126"])
@pytest.mark.parametrize("form", FORMS)
def test_every_form_of_the_guide_gets_the_jobs_build_and_keeps_its_other_sources(
    tmp_path: Path, form: str, backend: str
) -> None:
    """uv itself resolves each form for a CPU and a GPU leg (each with its folder of wheels):
    torch is the leg's build, and a path source of the project still holds."""
    fake_wheel(tmp_path / "wheels", "torch", f"2.13.0+{backend}")
    helper = tmp_path / "helper"
    helper.mkdir()
    (helper / "pyproject.toml").write_text("[project]\nname = 'helper'\nversion = '1.0'\n")
    root = write_project(
        tmp_path / "guided",
        form,
        dependencies=("helper",),
        mlci="extras = ['cpu']\n" * (form == "extras"),
        more=f'\n[tool.uv.sources.helper]\npath = "{helper}"\n',
    )
    found = settings.resolve(root, environ={"MLCI_TORCH_INDEX": str(tmp_path / "wheels")})
    made = install.request(found, backend, (), tmp_path / "cache")
    venv = tmp_path / "venv"
    subprocess.run(["uv", "venv", "--quiet", "--python", "3.11", str(venv)], check=True)
    command = ["uv", "pip", "install", "--dry-run", "--python", str(venv / "bin" / "python")]
    done = subprocess.run(
        [*command, *made.args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **made.environment},
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert f" + torch==2.13.0+{backend}\n" in said
    assert f" + helper @ {helper.as_uri()}\n" in said
