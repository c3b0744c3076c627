"""gpu-torch = image through real nox and uv, without a GPU: a stand-in image Python (a base
install, marked EXTERNALLY-MANAGED as Debian and Ubuntu images are, with a stand-in CUDA torch)
and a stand-in nvidia-smi. The gpu session must run its tests with the image's torch and leave
the image exactly as it was."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integ.conftest import RunNox, small_project
from tests.integ.test_sample_sessions import output

pytestmark = pytest.mark.integ

# A CUDA build of torch as far as mlci and the tests can tell: its version, torch.version.cuda,
# and the torch.cuda calls `mlci doctor` makes.
STAND_IN_TORCH = {
    "__init__.py": "from torch import backends, cuda, version\n__version__ = version.__version__\n",
    "version.py": "__version__ = '2.11.0+cu128'\ncuda = '12.8'\n",
    "cuda.py": (
        "from types import SimpleNamespace\n\n"
        "def is_available():\n    return True\n\n"
        "def device_count():\n    return 1\n\n"
        "def get_device_properties(index):\n"
        "    return SimpleNamespace(name='Stand-in GPU', total_memory=80 * 2**30, major=9,"
        " minor=0)\n"
    ),
    "backends/__init__.py": "from torch.backends import cudnn\n",
    "backends/cudnn.py": "def version():\n    return 91000\n",
}
# mlci-image-only is on no index: installing the project works only if the image's is used.
IMAGE_PACKAGES = {
    "torch": "2.11.0+cu128",
    "nvidia-cublas-cu12": "12.8.4.1",
    "triton": "3.5.0",
    "mlci-image-only": "1.0",
}
# The interpreter a venv is made from (BASE_PYTHON is not in typeshed).
BASE_PYTHON: str = getattr(sys, "_base_executable", sys.executable)
SMI = "0, NVIDIA H100 80GB HBM3, 81559, 9.0, 580.65.06"


def stand_in_torch(site: Path) -> None:
    for name, text in STAND_IN_TORCH.items():
        (site / "torch" / name).parent.mkdir(parents=True, exist_ok=True)
        (site / "torch" / name).write_text(text)
    for name, version in IMAGE_PACKAGES.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "RECORD").write_text("")
    (site / "mlci_image_only.py").write_text("WHERE = 'image'\n")


def base_image(root: Path) -> Path:
    """A base install of this machine's Python (its binary, its standard library linked in) with
    a site-packages of its own holding the stand-in torch, as NGC's /usr/bin/python3 or
    pytorch/pytorch's /opt/conda are: a layer made from it sees that folder as an image's."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    lib = root / "lib" / version
    (lib / "site-packages").mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name != "site-packages":
            (lib / entry.name).symlink_to(entry)
    # PEP 668: an installer must refuse to write into this Python.
    (lib / "EXTERNALLY-MANAGED").write_text(
        "[externally-managed]\nError=This Python belongs to the image; use a venv.\n"
    )
    stand_in_torch(lib / "site-packages")
    binary = Path(os.path.realpath(BASE_PYTHON))
    python = root / "bin" / "python3"
    python.parent.mkdir()
    python.write_bytes(binary.read_bytes())
    python.chmod(binary.stat().st_mode | stat.S_IEXEC)
    return python


def venv_image(root: Path) -> Path:
    """An image whose torch lives in a virtual environment of its own (/opt/venv), which a layer
    made from it would not see: uv makes layers from the base interpreter."""
    subprocess.run(["uv", "venv", "--quiet", "--python", BASE_PYTHON, str(root)], check=True)
    python = root / "bin" / "python"
    purelib = [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
    stand_in_torch(
        Path(subprocess.run(purelib, capture_output=True, text=True, check=True).stdout.strip())
    )
    return python


def listing(folder: Path) -> dict[str, int]:
    """Every file under a folder, with its size: what "unchanged" is checked against."""
    return {
        str(path.relative_to(folder)): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


@pytest.mark.parametrize("make_image", [base_image, venv_image], ids=["base", "venv"])
def test_the_gpu_session_runs_on_the_images_torch_and_leaves_the_image_alone(
    tmp_path: Path, run_nox: RunNox, make_image: Callable[[Path], Path]
) -> None:
    image = tmp_path / "image"
    python = make_image(image)
    smi = tmp_path / "smi" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(f'#!/bin/sh\necho "{SMI}"\n')
    smi.chmod(0o755)
    project = small_project(tmp_path / "imaged", "imaged", ["torch>=2.4", "mlci-image-only>=1"], "")
    (project / "tests" / "test_gpu.py").write_text(
        "import sys\n\nimport mlci_image_only\nimport pytest\nimport torch\n\n\n"
        "@pytest.mark.gpu\n"
        "def test_the_images_torch_in_a_layer_of_its_own():\n"
        f"    assert torch.__file__.startswith({str(image)!r})\n"
        "    assert torch.version.cuda == '12.8'\n"
        "    assert mlci_image_only.WHERE == 'image'\n"
        f"    assert not sys.prefix.startswith({str(image)!r})\n"
    )
    before = listing(image)

    done = run_nox(
        project,
        "-s",
        "gpu",
        env={
            "MLCI_GPU_TORCH": "image",
            "MLCI_IMAGE_PYTHON": str(python),
            "PATH": f"{smi.parent}{os.pathsep}{os.environ['PATH']}",
        },
    )
    assert done.returncode == 0, output(done)
    log = output(done)
    assert "torch 2.11.0+cu128 (CUDA 12.8), kept with 2 CUDA packages" in log
    assert "the image itself is not changed" in log
    assert "1 passed" in log
    # Nothing was written into the image: no package, no bytecode, no metadata.
    assert listing(image) == before
