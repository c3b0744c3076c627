"""The doctor's judgement and rendering, on recorded environments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlci.envs import doctor
from mlci.envs.gpu import parse_smi

SMI_TWO_GPUS = (
    "0, NVIDIA H100 80GB HBM3, 81559, 9.0, 570.124.06\n"
    "1, NVIDIA H100 80GB HBM3, 81559, 9.0, 570.124.06\n"
)


def report(torch: dict[str, Any] | None, smi: dict[str, Any]) -> dict[str, Any]:
    return {
        "mlci": "0.1.0",
        "python": "3.11.7",
        "executable": "/venv/bin/python",
        "platform": "Linux",
        "uv": "0.13.9",
        "nox": "2026.10.20",
        "torch": torch,
        "nvidia_smi": smi,
    }


CPU_TORCH: dict[str, Any] = {
    "version": "2.13.0+cpu",
    "cuda": None,
    "cudnn": None,
    "cuda_available": False,
    "devices": [],
}
NO_SMI: dict[str, Any] = {"gpus": [], "error": "nvidia-smi not found on PATH"}


def cuda_torch(devices: int) -> dict[str, Any]:
    return {
        "version": "2.13.0+cu128",
        "cuda": "12.8",
        "cudnn": 91002,
        "cuda_available": devices > 0,
        "devices": [{"name": "NVIDIA H100", "memory_mib": 81559, "compute_capability": "9.0"}]
        * devices,
    }


def test_parse_smi() -> None:
    gpus = parse_smi(SMI_TWO_GPUS + "garbage line\n")
    assert len(gpus) == 2
    assert gpus[1] == {
        "index": "1",
        "name": "NVIDIA H100 80GB HBM3",
        "memory_mib": "81559",
        "compute_capability": "9.0",
        "driver": "570.124.06",
    }


def test_no_problems_unless_a_gpu_is_required() -> None:
    assert doctor.problems(report(CPU_TORCH, NO_SMI), require_gpu=False) == []


@pytest.mark.parametrize(
    ("torch", "smi", "expected"),
    [
        (
            CPU_TORCH,
            NO_SMI,
            [
                "no CUDA device visible (nvidia-smi not found on PATH)",
                "torch 2.13.0+cpu is a CPU build; a GPU session needs a CUDA build",
            ],
        ),
        (
            None,
            {"gpus": parse_smi(SMI_TWO_GPUS), "error": None},
            ["torch is not installed in this environment"],
        ),
        (
            cuda_torch(0),
            {"gpus": parse_smi(SMI_TWO_GPUS), "error": None},
            [
                "torch 2.13.0+cu128 (CUDA 12.8) cannot use the GPU although nvidia-smi lists it"
                " (driver 570.124.06)"
            ],
        ),
        (
            cuda_torch(0),
            {"gpus": [], "error": "nvidia-smi lists no GPU (No devices were found)"},
            ["no CUDA device visible (nvidia-smi lists no GPU (No devices were found))"],
        ),
        (cuda_torch(2), {"gpus": parse_smi(SMI_TWO_GPUS), "error": None}, []),
        (cuda_torch(1), {"gpus": parse_smi(SMI_TWO_GPUS)[:1], "error": None}, []),
    ],
    ids=["cpu-machine", "no-torch", "unusable", "no-device", "healthy-two", "healthy-one"],
)
def test_require_gpu(
    torch: dict[str, Any] | None, smi: dict[str, Any], expected: list[str]
) -> None:
    assert doctor.problems(report(torch, smi), require_gpu=True) == expected


def test_render_healthy_gpu_machine() -> None:
    text = doctor.render(report(cuda_torch(2), {"gpus": parse_smi(SMI_TWO_GPUS), "error": None}))
    assert "torch    2.13.0+cu128 (CUDA 12.8)" in text
    assert "cudnn    91002" in text
    assert "gpu 1    NVIDIA H100 80GB HBM3, 81559 MiB, compute 9.0, driver 570.124.06" in text
    assert "devices  2 visible to torch: multi-device tests (NCCL) run" in text
    one = doctor.render(report(cuda_torch(1), {"gpus": parse_smi(SMI_TWO_GPUS), "error": None}))
    assert "devices  1 visible to torch: multi-device tests (NCCL) are skipped" in one


def test_render_cpu_machine() -> None:
    text = doctor.render(report(CPU_TORCH, NO_SMI))
    assert "torch    2.13.0+cpu (CPU build)" in text
    assert "gpu      none (nvidia-smi not found on PATH)" in text
    assert "devices" not in text


def test_collect_here_is_json_ready() -> None:
    collected = doctor.collect()
    json.dumps(collected)
    assert collected["python"].count(".") == 2
    assert collected["nox"]  # mlci depends on nox


def test_driver_older_than_the_cuda_build_needs() -> None:
    old_driver = {"gpus": parse_smi("0, Tesla T4, 15360, 7.5, 535.104.05\n"), "error": None}
    cu130 = {**cuda_torch(1), "version": "2.14.0+cu130", "cuda": "13.0", "cuda_available": False}
    assert doctor.problems(report(cu130, old_driver), require_gpu=True) == [
        "NVIDIA driver 535.104.05 is older than torch 2.14.0+cu130's CUDA 13.0 build needs"
        " (580.65.06 or newer): update the driver or use an older CUDA build"
    ]
    # The same driver serves a CUDA 12 build.
    assert doctor.problems(report(cuda_torch(1), old_driver), require_gpu=True) == []
    assert "driver   needs 580.65.06 or newer" in doctor.render(report(cu130, old_driver))


def test_the_doctor_says_what_the_environment_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".mlci-follows").write_text("uv.lock (its versions; torch 2.13.0 as +cpu)\n")
    monkeypatch.delenv("MLCI_FOLLOWS", raising=False)  # set inside a session; here: unset
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path))
    report = doctor.collect()
    assert report["follows"] == "uv.lock (its versions; torch 2.13.0 as +cpu)"
    assert "env      follows uv.lock (its versions; torch 2.13.0 as +cpu)" in doctor.render(report)
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "elsewhere"))
    assert doctor.collect()["follows"] is None
    # An image's Python (gpu-torch = image): the session names the file itself.
    monkeypatch.setenv("MLCI_FOLLOWS", str(tmp_path / ".mlci-follows"))
    assert doctor.collect()["follows"].startswith("uv.lock")
