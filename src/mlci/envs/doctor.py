"""`mlci doctor`: what this environment has (Python, uv, nox, torch and its build, GPUs).

Collecting (which runs tools and imports torch) is kept apart from judging and rendering, which
are pure functions of the collected report and are tested with recorded outputs.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from mlci._version import __version__
from mlci.compat import load
from mlci.envs.environments import FOLLOWS, find_uv
from mlci.envs.gpu import nvidia_smi
from mlci.errors import ConfigError


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _uv_version() -> str | None:
    try:
        uv = find_uv()
    except ConfigError:
        return None
    done = subprocess.run([uv, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().removeprefix("uv ") or None


def _torch() -> dict[str, Any] | None:
    if importlib.util.find_spec("torch") is None:
        return None
    # Only the doctor imports torch, and only when asked; mlci itself has no torch dependency.
    torch: Any = importlib.import_module("torch")

    info: dict[str, Any] = {
        "version": str(torch.__version__),
        "cuda": torch.version.cuda,
        "cudnn": None,
        "cuda_available": bool(torch.cuda.is_available()),
        "devices": [],
    }
    if info["cuda_available"]:
        info["cudnn"] = torch.backends.cudnn.version()
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            info["devices"].append(
                {
                    "name": props.name,
                    "memory_mib": props.total_memory // 2**20,
                    "compute_capability": f"{props.major}.{props.minor}",
                }
            )
    return info


def _follows() -> str | None:
    """What this session environment was installed from (uv.lock, requirements, ...)."""
    environment = os.environ.get("VIRTUAL_ENV", "")
    named = os.environ.get("MLCI_FOLLOWS", "")
    path = Path(named) if named else (Path(environment) / FOLLOWS if environment else None)
    if path is None or not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip()


def collect() -> dict[str, Any]:
    """Everything the doctor knows about this environment, as JSON-ready data."""
    return {
        "mlci": __version__,
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "uv": _uv_version(),
        "nox": _version("nox"),
        "torch": _torch(),
        "nvidia_smi": nvidia_smi(),
        "follows": _follows(),
    }


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def min_driver(cuda: str) -> str | None:
    """Minimum NVIDIA driver for torch's CUDA version (`12.8`), from mlci's compatibility data."""
    major = cuda.split(".")[0]
    return load().driver_for(f"cu{major}")


def problems(report: dict[str, Any], *, require_gpu: bool) -> list[str]:
    """One line per reason this environment cannot run a GPU session (empty: it can)."""
    if not require_gpu:
        return []
    torch = report.get("torch")
    smi = report.get("nvidia_smi") or {}
    found = []
    if not smi.get("gpus") and not (torch and torch.get("devices")):
        why = smi.get("error") or "nvidia-smi lists no GPU"
        found.append(f"no CUDA device visible ({why})")
    if torch is None:
        found.append("torch is not installed in this environment")
    elif torch.get("cuda") is None:
        found.append(f"torch {torch['version']} is a CPU build; a GPU session needs a CUDA build")
    elif smi.get("gpus"):
        driver = smi["gpus"][0]["driver"]
        needed = min_driver(torch["cuda"])
        if needed and _numbers(driver) < _numbers(needed):
            found.append(
                f"NVIDIA driver {driver} is older than torch {torch['version']}'s CUDA"
                f" {torch['cuda']} build needs ({needed} or newer): update the driver or use an"
                " older CUDA build"
            )
        elif not torch.get("cuda_available"):
            found.append(
                f"torch {torch['version']} (CUDA {torch['cuda']}) cannot use the GPU although"
                f" nvidia-smi lists it (driver {driver})"
            )
    return found


def render(report: dict[str, Any]) -> str:
    """Human-readable report."""
    lines = [
        f"mlci     {report['mlci']}",
        f"python   {report['python']} ({report['executable']})",
        f"platform {report['platform']}",
        f"uv       {report['uv'] or 'not found'}",
        f"nox      {report['nox'] or 'not installed'}",
    ]
    if report.get("follows"):
        lines.append(f"env      follows {report['follows']}")
    torch = report["torch"]
    if torch is None:
        lines.append("torch    not installed")
    else:
        build = f"CUDA {torch['cuda']}" if torch["cuda"] else "CPU build"
        lines.append(f"torch    {torch['version']} ({build})")
        if torch["cuda"]:
            lines.append(f"driver   needs {min_driver(torch['cuda']) or '?'} or newer")
        if torch["cudnn"]:
            lines.append(f"cudnn    {torch['cudnn']}")
        lines.append(f"cuda     available to torch: {'yes' if torch['cuda_available'] else 'no'}")
        if torch["cuda_available"]:
            count = len(torch["devices"])
            multi = "run" if count >= 2 else "are skipped, each with its reason"
            lines.append(f"devices  {count} visible to torch: multi-device tests (NCCL) {multi}")
    smi = report["nvidia_smi"]
    for gpu in smi["gpus"]:
        lines.append(
            f"gpu {gpu['index']}    {gpu['name']}, {gpu['memory_mib']} MiB,"
            f" compute {gpu['compute_capability']}, driver {gpu['driver']}"
        )
    if not smi["gpus"]:
        lines.append(f"gpu      none ({smi['error'] or 'nvidia-smi lists no GPU'})")
    return "\n".join(lines)
