"""`gpu-torch = "image"`: the gpu session uses the CUDA torch a GPU image already has.

GPU runners often run in images with a tuned CUDA torch (NVIDIA NGC `nvcr.io/nvidia/pytorch`,
`pytorch/pytorch`). Downloading another 3 GB build per job is slow and may replace the tuned
one. In image mode the gpu session builds a virtual environment layered over the image's Python
(`--system-site-packages`, in nox's folder like every other environment) and installs the
project and its test tools there. The image itself is never written to, so a Debian or Ubuntu
Python marked EXTERNALLY-MANAGED (PEP 668) works, and nothing outside the job's folder changes.

uv does not count packages seen through `--system-site-packages` as installed
(astral-sh/uv#4466) and would download torch again into the layer. So torch, its family and
every CUDA package the image has (`nvidia-*`, `cuda-*`, `triton`) are left out of the
resolution by overrides that never apply (`torch ; python_version < "0"`, the form uv's own
maintainers suggest; `--excludes` does the same only on newer uv), and imports find the image's.

Which Python: `MLCI_IMAGE_PYTHON`, or, in CI only, the first `python3` on PATH that has torch.
The plan refuses image mode on a runner without a container unless `gpu-runner-ephemeral` says
the runner is thrown away after each job: on a long-lived machine the first such Python is
whatever the host happens to have.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.envs.torch_source import CUDA_ONLY, TORCH_FAMILY, torch_cuda_of
from mlci.errors import ConfigError


@dataclass(frozen=True)
class ImageTorch:
    """The image's Python and what it must keep."""

    python: Path
    prefix: Path
    torch: str
    cuda: str
    pinned: dict[str, str]  # name -> installed version: the torch family and the CUDA packages
    torch_site: str = ""  # the folder whose torch an import finds
    # The image's Python is itself a virtual environment (/opt/venv): its own site folders,
    # which a layer made from it does not see (uv makes it from the base interpreter).
    venv_sites: tuple[str, ...] = ()

    # Every distribution of the image, name -> version (the first of a name on sys.path).
    installed: dict[str, str] = field(default_factory=dict)

    def overrides(
        self, cache_dir: Path, asked: tuple[str, ...] = (), own: tuple[str, ...] = ()
    ) -> Path:
        """An overrides file that leaves the image's packages out of the install, as pip
        would leave what is installed: each becomes a requirement that applies to no Python,
        so uv neither resolves nor installs it, and the layer's imports find the image's own.
        Always torch and the CUDA packages; any other only where its version meets every
        requirement in `asked` that names it (else the layer gets a copy that does). Never
        `own`: what the install itself brings (the project, mlci), of which an image may hold
        an older copy."""
        unmet = _unmet_by(self.installed, asked) | {_normal(name) for name in own if name}
        kept = {
            **{n: v for n, v in self.installed.items() if _normal(n) not in unmet},
            **self.pinned,
        }
        lines = ["# mlci: gpu-torch = image uses the image's packages as they are"]
        lines += [
            f'{name} ; python_version < "0"  # {version}'
            for name, version in sorted(kept.items(), key=lambda item: _normal(item[0]))
        ]
        text = "\n".join(lines) + "\n"
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        path = cache_dir.resolve() / "mlci-image" / f"{digest}.txt"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return path


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _unmet_by(installed: dict[str, str], asked: tuple[str, ...]) -> set[str]:
    """Names whose installed version some requirement in `asked` does not accept."""
    from packaging.requirements import InvalidRequirement, Requirement  # not in report()

    versions = {_normal(name): version for name, version in installed.items()}
    unmet: set[str] = set()
    for line in asked:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue  # a path, a URL, an option: uv reads it; nothing to compare
        name = _normal(requirement.name)
        if name not in versions:
            continue
        # Extras ask for more than the image's copy may have brought: the layer's own copy.
        if requirement.extras or not _meets(requirement.specifier, name, versions[name]):
            unmet.add(name)
    return unmet


def _meets(specifier: Any, name: str, version: str) -> bool:
    """Does `version` of `name` meet `specifier`? For torch and the CUDA packages, by their
    release numbers: NGC's torch is `2.6.0a0+ecf3bae40a.nv25.01`, a 2.6 for every purpose."""
    from packaging.version import InvalidVersion, Version

    if name in TORCH_FAMILY or CUDA_ONLY.match(name):
        try:
            version = Version(version).base_version
        except InvalidVersion:
            return True  # not PEP 440: nothing to compare it with
    return bool(specifier.contains(version, prereleases=True))


def unmet_requirements() -> None:
    """Run inside a layer after its install: print, as JSON, each requirement of a package
    the layer installed that what imports find does not meet (the image's version, kept by
    the overrides, may be older than a transitive requirement asks)."""
    from packaging.requirements import Requirement  # mlci's, installed in the layer

    layer = Path(sysconfig.get_path("purelib")).resolve()
    found: list[str] = []
    for dist in importlib.metadata.distributions():
        where = Path(str(dist.locate_file(""))).resolve()
        if where != layer:
            continue
        for line in dist.requires or ():
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            try:
                version = importlib.metadata.version(requirement.name)
            except importlib.metadata.PackageNotFoundError:
                found.append(f"{dist.metadata['Name']} needs {requirement}, which is missing")
                continue
            if not _meets(requirement.specifier, _normal(requirement.name), version):
                found.append(
                    f"{dist.metadata['Name']} needs {requirement}, the image has {version}"
                )
    print(json.dumps(sorted(set(found))))


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
    if sys.prefix != sys.base_prefix:
        found["venv_sites"] = [
            folder
            for folder in dict.fromkeys([*site.getsitepackages(), sysconfig.get_path("platlib")])
            if Path(folder).is_dir() and Path(folder).is_relative_to(sys.prefix)
        ]
    pinned: dict[str, str] = {}
    # In sys.path order, the first of a name is the one an import finds (a layer's own copy
    # comes before the image's).
    installed: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if not name or any(seen.lower() == name.lower() for seen in installed):
            continue
        installed[name] = dist.version
        if not (name.lower() in TORCH_FAMILY or CUDA_ONLY.match(name.lower())):
            continue
        pinned[name] = dist.version
        if name.lower() == "torch":
            found["torch"] = dist.version
            found["torch_site"] = str(Path(str(dist.locate_file(""))).resolve())
            version_py = Path(str(dist.locate_file("torch/version.py")))
            found["cuda"] = torch_cuda_of(version_py) if version_py.is_file() else None
    found["pinned"] = pinned
    found["installed"] = installed
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
    # Only mlci's package on the image Python's path (the report needs nothing else): the
    # folder it is installed in (a uv tool's site-packages) holds other distributions, which
    # would pass for the image's.
    with tempfile.TemporaryDirectory(prefix="mlci-image-") as alone:
        (Path(alone) / "mlci").symlink_to(Path(__file__).resolve().parents[1])
        done = subprocess.run(
            [str(python), "-c", "from mlci.envs.image import report; report()"],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": alone},
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
        python,
        Path(found["prefix"]),
        found["torch"],
        found["cuda"],
        dict(found["pinned"]),
        found.get("torch_site", ""),
        tuple(found.get("venv_sites", ())),
        dict(found.get("installed", {})),
    )


def unmet_in(layer_python: Path) -> list[str]:
    """What `unmet_requirements` finds in a layer, or the reason it could not look."""
    done = subprocess.run(
        [
            str(layer_python),
            "-c",
            "from mlci.envs.image import unmet_requirements; unmet_requirements()",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return [(done.stderr.strip().splitlines() or ["no output"])[-1]]
    found: list[str] = json.loads(done.stdout)
    return found


def see_venv(layer_python: Path, found: ImageTorch) -> None:
    """Let a layer see an image venv's own packages too, after its own (a `.pth` file, which
    `site` reads at start-up): the order the image's Python itself imports in."""
    if not found.venv_sites:
        return
    done = subprocess.run(
        [str(layer_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    pth = Path(done.stdout.strip()) / "_mlci_image_venv.pth"
    pth.write_text("".join(f"{folder}\n" for folder in found.venv_sites))


def changed(before: ImageTorch, after: ImageTorch) -> list[str]:
    """The kept packages that are no longer what the image had (none, unless something
    bypassed the overrides): `after` is read through the image or through the layer."""
    moved = [
        f"{name} {version} -> {after.pinned.get(name, 'removed')}"
        for name, version in before.pinned.items()
        if after.pinned.get(name) != version
    ]
    moved += [
        f"{name} {version} added"
        for name, version in after.pinned.items()
        if name not in before.pinned
    ]
    if not moved and before.torch_site and after.torch_site != before.torch_site:
        moved.append(f"torch {after.torch} imported from {after.torch_site}, not the image's")
    return moved
