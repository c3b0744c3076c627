"""Disk a job needs, and cache it saves, per torch build: checked before installing, and
added up by `mlci plan` against the CI system's cache budget.

The figures are this project's measurements (docs/benchmarks.md: a CPU torch is a 192 MB
download, a CUDA build with its nvidia packages 2.7 GB; installed, a CPU environment takes about
1.2 GB and a CUDA one about 5.5 GB). They are estimates with a margin, for a clear early failure
instead of "No space left on device" twenty minutes into an install.
"""

from __future__ import annotations

import shutil
from pathlib import Path

GB = 1024**3
MB = 1024**2
# Free disk an environment needs to be built (installed files, uv's cache, unpacking).
NEEDS = {"none": 1 * GB, "cpu": 2 * GB, "cuda": 6 * GB, "image": 1 * GB}
# What one CI cache entry of uv's cache holds after a job (downloaded wheels, compressed).
CACHE = {"none": 100 * MB, "cpu": 400 * MB, "cuda": 3 * GB, "image": 100 * MB}


def kind(backend: str) -> str:
    return "cuda" if backend.startswith("cu") else backend if backend in NEEDS else "cpu"


def shown(size: int) -> str:
    return f"{size / GB:.1f} GB" if size >= GB else f"{size / MB:.0f} MB"


def check_free(folder: Path, backend: str) -> str | None:
    """One line when the disk holding `folder` has less free space than a `backend` build
    needs; None when it has enough (or cannot be measured)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return None
    need = NEEDS[kind(backend)]
    if free >= need:
        return None
    build = "a CUDA build" if kind(backend) == "cuda" else f"a {backend} environment"
    return (
        f"{shown(free)} free on the disk of {probe}, {build} needs about {shown(need)}: free"
        " some space first (on a GitHub-hosted runner, remove preinstalled toolchains)"
    )
