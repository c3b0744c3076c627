"""GPU tests: run only in the gpu session (`nox -s gpu`), on a machine with a CUDA device."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch

from sample_model import Classifier, DigitsDataModule
from sample_model.nn import MLP

pytestmark = pytest.mark.gpu


def test_forward_backward_on_cuda_matches_cpu() -> None:
    model = MLP(64, 10, (32,)).eval()
    x = torch.randn(32, 64)
    expected = model(x)
    gpu_model = MLP(64, 10, (32,)).eval()
    gpu_model.load_state_dict(model.state_dict())
    gpu_model = gpu_model.cuda()
    out = gpu_model(x.cuda())
    torch.testing.assert_close(out.cpu(), expected, rtol=1e-3, atol=1e-4)
    out.sum().backward()
    grads = [p.grad for p in gpu_model.parameters()]
    assert all(g is not None and g.is_cuda and torch.isfinite(g).all() for g in grads)


def test_one_training_epoch_on_gpu(
    make_trainer: Callable[..., L.Trainer], record_devices: Any
) -> None:
    data = DigitsDataModule(batch_size=128)
    model = Classifier(hidden_dims=(64,))
    recorder = record_devices
    trainer = make_trainer(accelerator="gpu", devices=1, max_epochs=1, callbacks=[recorder])
    trainer.fit(model, datamodule=data)
    # What ran on the GPU, seen during training (after fit the model is back on the CPU).
    assert trainer.strategy.root_device.type == "cuda"
    assert recorder.devices == {"cuda"}
    assert float(trainer.callback_metrics["acc/val"]) > 0.5


def test_mixed_precision_step() -> None:
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    model = MLP(64, 10, (32,)).cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(64, 64, device="cuda"), torch.randint(0, 10, (64,), device="cuda")
    with torch.autocast("cuda", dtype=dtype):
        out = model(x)
        assert out.dtype == dtype
        loss = torch.nn.functional.cross_entropy(out, y)
    before = [p.detach().clone() for p in model.parameters()]
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


@pytest.mark.gpu(devices=2)
@pytest.mark.distributed
def test_ddp_on_two_gpus_keeps_the_ranks_in_step_with_nccl(
    make_trainer: Callable[..., L.Trainer], tmp_path: Path
) -> None:
    """The CPU DDP test's checks, on two GPUs with NCCL. Skipped, with a reason the gpu
    session accepts, on a machine with one GPU."""
    from test_ddp import fit_two_ranks  # the tests folder is on sys.path (pytest's rootdir)

    ranks = fit_two_ranks(make_trainer, tmp_path, accelerator="gpu")
    assert {r["backend"] for r in ranks} == {"nccl"}
