"""uv.lock as constraints for a job's torch build: pure rewriting, no uv run here."""

from __future__ import annotations

from mlci.envs.locks import for_backend

EXPORTED = """\
filelock==4.3.1 ; python_full_version >= '3.11'
numpy==2.4.6 ; python_full_version == '3.11.*'
nvidia-cublas==13.4.1.3 ; python_full_version >= '3.11' and sys_platform == 'linux'
cuda-toolkit==13.2.2 ; python_full_version >= '3.11' and sys_platform == 'linux'
torch==2.13.0
torch==2.12.1 ; python_full_version < '3.11'
torchvision==0.28.0
triton==3.7.1 ; python_full_version < '3.15' and sys_platform == 'linux'
pytest==8.3.5
"""


def test_a_cpu_job_keeps_the_locked_versions_with_torchs_cpu_build() -> None:
    text, torch = for_backend(EXPORTED, "cpu")
    lines = text.splitlines()
    assert "torch==2.13.0+cpu" in lines
    assert "torch==2.12.1+cpu ; python_full_version < '3.11'" in lines
    assert "torchvision==0.28.0+cpu" in lines  # built for the same torch
    assert "numpy==2.4.6 ; python_full_version == '3.11.*'" in lines  # everything else as locked
    assert "pytest==8.3.5" in lines  # a tool the lock pins keeps its pin
    assert not [line for line in lines if line.startswith(("nvidia-", "cuda-", "triton"))]
    assert torch == ["2.12.1", "2.13.0"]


def test_a_gpu_job_gets_the_cuda_build_and_brings_its_own_cuda_packages() -> None:
    text, _ = for_backend(EXPORTED, "cu126")
    assert "torch==2.13.0+cu126" in text.splitlines()
    # PyPI's torch was built with other CUDA packages than the cu126 build needs.
    assert "nvidia-" not in text and "triton" not in text


def test_a_local_version_in_the_lock_is_replaced_not_doubled() -> None:
    text, torch = for_backend("torch==2.13.0+cu130 ; sys_platform == 'linux'\n", "cpu")
    assert text == "torch==2.13.0+cpu ; sys_platform == 'linux'\n" and torch == ["2.13.0"]


def test_a_project_without_torch_keeps_any_torch_line_as_it_is() -> None:
    text, _ = for_backend("torch==2.13.0\nsix==1.17.0\n", "none")
    assert text == "torch==2.13.0\nsix==1.17.0\n"
