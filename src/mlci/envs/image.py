"""`gpu-torch = "image"`: the gpu session uses the CUDA torch a GPU image already has.

GPU runners often run in images with a tuned CUDA torch (NVIDIA NGC `nvcr.io/nvidia/pytorch`,
`pytorch/pytorch`). Downloading another 3 GB build per job is slow and may replace the tuned
one. In image mode the gpu session installs the project and its test tools into the image's own
Python, around that torch: torch and every CUDA package there (`nvidia-*`, `cuda-*`, `triton`)
are pinned to the versions installed, so uv keeps them. Not a virtual environment with
`--system-site-packages`: uv does not count packages seen through it as installed
(astral-sh/uv#4466) and would download torch again.

Which Python: `MLCI_IMAGE_PYTHON`, or, in CI only (the job's image is thrown away afterwards),
the first `python3` on PATH that has torch. Locally mlci never changes an interpreter unless it
is named.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlci.envs.torch_source import CUDA_ONLY, torch_cuda_of
from mlci.errors import ConfigError


@dataclass(frozen=True)
class ImageTorch:
    """The image's Python and what it must keep."""

    python: Path
    prefix: Path
    torch: str
    cuda: str
    pinned: dict[str, str]  # name -> installed version: torch and the CUDA packages

    def constraints(self, cache_dir: Path) -> Path:
        """A constraints file pinning torch and the CUDA packages to what is installed."""
        lines = ["# mlci: gpu-torch = image keeps the image's torch and CUDA packages"]
        lines += [f"{name}=={version}" for name, version in sorted(self.pinned.items())]
        text = "\n".join(lines) + "\n"
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        path = cache_dir.resolve() / "mlci-image" / f"{digest}.txt"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return path


def find_python(environ: dict[str, str] | None = None) -> Path:
    """The interpreter image mode installs into (see the module docstring)."""
    env = dict(os.environ) if environ is None else environ
    named = env.get("MLCI_IMAGE_PYTHON", "").strip()
    if named:
        path = Path(named)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ConfigError(f"MLCI_IMAGE_PYTHON: {named} is not a Python interpreter")
        return path
    if not env.get("CI", "").strip():
        raise ConfigError(
            "gpu-torch = image installs into the image's Python itself: in CI that is the"
            " job's own image; locally name the interpreter to change with"
            " MLCI_IMAGE_PYTHON=/path/to/python"
        )
    for folder in env.get("PATH", "").split(os.pathsep):
        for name in ("python3", "python"):
            found = shutil.which(name, path=folder) if folder else None
            if found and _has_torch(Path(found)):
                return Path(found)
    raise ConfigError(
        "gpu-torch = image: no python3 on PATH has torch; use an image with CUDA torch"
        " (nvcr.io/nvidia/pytorch, pytorch/pytorch) or set MLCI_IMAGE_PYTHON"
    )


def report() -> None:
    """Run inside the image's Python (mlci on its path, nothing installed): print what it has,
    as JSON. torch is not imported: a broken driver must not hide what is installed."""
    found: dict[str, object] = {"torch": None, "cuda": None, "pinned": {}, "prefix": sys.prefix}
    pinned: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.lower() == "torch" or CUDA_ONLY.match(name.lower()):
            pinned[name] = dist.version
        if name.lower() == "torch":
            found["torch"] = dist.version
            version_py = Path(str(dist.locate_file("torch/version.py")))
            found["cuda"] = torch_cuda_of(version_py) if version_py.is_file() else None
    found["pinned"] = pinned
    print(json.dumps(found))


def _has_torch(python: Path) -> bool:
    done = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util as u; raise SystemExit(u.find_spec('torch') is None)",
        ],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def inspect(python: Path) -> ImageTorch:
    """What the image's Python holds; ConfigError unless it is a CUDA build of torch."""
    # mlci's own folder on the image Python's path: the report needs nothing else.
    here = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [str(python), "-c", "from mlci.envs.image import report; report()"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": here},
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"gpu-torch = image: cannot read {python}: {first}")
    found = json.loads(done.stdout)
    if found["torch"] is None:
        raise ConfigError(f"gpu-torch = image: {python} has no torch; use an image with CUDA torch")
    if found["cuda"] is None:
        raise ConfigError(
            f"gpu-torch = image: {python} has torch {found['torch']}, a CPU build; a GPU job"
            " needs the image's CUDA build"
        )
    return ImageTorch(
        python, Path(found["prefix"]), found["torch"], found["cuda"], dict(found["pinned"])
    )


def changed(before: ImageTorch, after: ImageTorch) -> list[str]:
    """The pinned packages the install moved (none, unless something bypassed the pins)."""
    return [
        f"{name} {version} -> {after.pinned.get(name, 'removed')}"
        for name, version in before.pinned.items()
        if after.pinned.get(name) != version
    ]
