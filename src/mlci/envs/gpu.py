"""Is there a CUDA device here? `nvidia-smi`, asked once, by the doctor and before a GPU
session installs anything."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

# The one skip a GPU session accepts: a test that needs more devices than the machine has
# (written by mlci's pytest plugin for tests marked `gpu(devices=N)`).
MULTI_DEVICE_SKIP = "needs {needed} CUDA devices, this machine has {found}"
MULTI_DEVICE_SKIP_RE = re.compile(r"needs [0-9]+ CUDA devices, this machine has [0-9]+")

SMI_QUERY = "index,name,memory.total,compute_cap,driver_version"
_SMI_KEYS = ("index", "name", "memory_mib", "compute_capability", "driver")


def parse_smi(text: str) -> list[dict[str, str]]:
    """Rows of `nvidia-smi --query-gpu=<SMI_QUERY> --format=csv,noheader,nounits`."""
    rows = []
    for line in text.strip().splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) == len(_SMI_KEYS):
            rows.append(dict(zip(_SMI_KEYS, cells, strict=True)))
    return rows


def nvidia_smi() -> dict[str, Any]:
    """{"gpus": rows, "error": why there are none (or None)}."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {"gpus": [], "error": "nvidia-smi not found on PATH"}
    command = [smi, f"--query-gpu={SMI_QUERY}", "--format=csv,noheader,nounits"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return {"gpus": [], "error": f"nvidia-smi failed: {err}"}
    gpus = parse_smi(done.stdout) if done.returncode == 0 else []
    if not gpus:
        first = (done.stderr or done.stdout).strip().splitlines()
        detail = first[0] if first else f"exit {done.returncode}"
        return {"gpus": [], "error": f"nvidia-smi lists no GPU ({detail})"}
    return {"gpus": gpus, "error": None}


def visible_gpus() -> tuple[list[str], str]:
    """A line per GPU and, when there are none, the reason in a few words."""
    found = nvidia_smi()
    lines = [
        f"GPU {gpu['index']}: {gpu['name']}, {gpu['memory_mib']} MiB, driver {gpu['driver']}"
        for gpu in found["gpus"]
    ]
    return lines, found["error"] or ""
