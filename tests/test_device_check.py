"""scripts/device-check.sh: runs on a GPU machine by hand, so what can be checked here is."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from mlci._toml import tomllib
from mlci.session.registry import BY_NAME

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "device-check.sh"


def carried() -> set[str]:
    text = SCRIPT.read_text()
    block = text[text.index("pip download") : text.index('count="$(find')]
    words = re.findall(r"(?<![-\w])([a-z][a-z0-9-]*)(?:[<>=][^\s]*)?(?=\s|\\|$)", block)
    return {w for w in words if w not in {"pip", "download", "quiet", "no", "deps", "only"}}


def test_the_script_is_clean_shell() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck
    done = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_it_carries_what_mlci_and_the_gpu_session_need() -> None:
    """The GPU machine is offline: every runtime dependency of mlci, and the gpu session's
    tools the image lacks, must be among the wheels `prepare` downloads."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {
        re.match(r"[A-Za-z0-9._-]+", requirement)[0].lower()  # type: ignore[index]
        for requirement in project["dependencies"]
        if "python_version < '3.11'" not in requirement
    }
    from mlci.config.settings import resolve

    sample = resolve(ROOT / "examples" / "sample-model", environ={})
    for requirement in BY_NAME["gpu"].tools(sample):
        needed.add(re.match(r"[A-Za-z0-9._-]+", requirement)[0])  # type: ignore[index]
    assert needed <= carried(), needed - carried()
    assert "hatchling" in carried()  # the sample project is built offline
