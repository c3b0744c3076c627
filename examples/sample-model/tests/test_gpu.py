"""GPU tests: run only in the gpu session (`nox -s gpu`), on a machine with a CUDA device."""

from __future__ import annotations

from collections.abc import Callable
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
def test_ddp_fit_on_two_devices(make_trainer: Callable[..., L.Trainer]) -> None:
    """Skipped, with a reason the gpu session accepts, on a machine with one GPU."""
    trainer = make_trainer(accelerator="gpu", devices=2, strategy="ddp_spawn", max_epochs=1)
    trainer.fit(Classifier(hidden_dims=(32,)), datamodule=DigitsDataModule(batch_size=128))
    assert trainer.world_size == 2
    assert trainer.strategy.root_device.type == "cuda"
    assert trainer.state.finished
