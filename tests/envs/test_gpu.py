"""The device check before a GPU session, with stand-in nvidia-smi programs on PATH."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mlci.envs.gpu import nvidia_smi, visible_gpus


def fake_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\n" + script)
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path))


def test_no_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert visible_gpus() == ([], "nvidia-smi not found on PATH")
    assert nvidia_smi() == {"gpus": [], "error": "nvidia-smi not found on PATH"}


def test_driver_without_devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_smi(tmp_path, monkeypatch, 'echo "No devices were found" >&2\nexit 6\n')
    gpus, why = visible_gpus()
    assert gpus == [] and why == "nvidia-smi lists no GPU (No devices were found)"
    assert nvidia_smi()["error"] == why


def test_two_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    query = "0, NVIDIA H100, 81559, 9.0, 570.124.06\n1, NVIDIA H100, 81559, 9.0, 570.124.06"
    fake_smi(tmp_path, monkeypatch, f'echo "{query}"\n')
    gpus, why = visible_gpus()
    assert gpus[1] == "GPU 1: NVIDIA H100, 81559 MiB, driver 570.124.06" and why == ""
    smi = nvidia_smi()
    assert [gpu["index"] for gpu in smi["gpus"]] == ["0", "1"] and smi["error"] is None
