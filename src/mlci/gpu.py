"""Is there a CUDA device here?  Asked before a GPU session installs anything."""

from __future__ import annotations

import re
import shutil
import subprocess

# The one skip a GPU session accepts: a test that needs more devices than the machine has
# (written by mlci's pytest plugin for tests marked `gpu(devices=N)`).
MULTI_DEVICE_SKIP = "needs {needed} CUDA devices, this machine has {found}"
MULTI_DEVICE_SKIP_RE = re.compile(r"needs \d+ CUDA devices, this machine has \d+")


def visible_gpus() -> tuple[list[str], str]:
    """GPU lines from `nvidia-smi -L` and, when there are none, the reason in a few words."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return [], "nvidia-smi not found on PATH"
    try:
        done = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return [], f"nvidia-smi failed ({err})"
    gpus = [line for line in done.stdout.splitlines() if line.startswith("GPU ")]
    if done.returncode != 0 or not gpus:
        detail = (done.stderr or done.stdout).strip().splitlines()
        return [], f"nvidia-smi lists no GPU ({detail[0] if detail else f'exit {done.returncode}'})"
    return gpus, ""
