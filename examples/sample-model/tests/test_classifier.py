from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch

from sample_model import Classifier, DigitsDataModule


def test_forward_gives_log_probabilities() -> None:
    model = Classifier(hidden_dims=(16,))
    log_probs = model(torch.randn(5, 64))
    assert log_probs.shape == (5, 10)
    assert torch.allclose(log_probs.exp().sum(dim=1), torch.ones(5), atol=1e-5)


def test_hyperparameters_are_saved() -> None:
    model = Classifier(hidden_dims=(8,), lr=0.5, dropout=0.1)
    assert model.hparams["lr"] == 0.5
    assert model.hparams["hidden_dims"] == (8,)


def test_one_short_fit_logs_every_stage(
    make_trainer: Callable[..., L.Trainer], record_devices: Any
) -> None:
    data = DigitsDataModule(batch_size=64)
    model = Classifier(hidden_dims=(16,))
    trainer = make_trainer(
        max_epochs=1, limit_train_batches=3, limit_val_batches=2, callbacks=[record_devices]
    )
    trainer.fit(model, datamodule=data)
    # The recorder the GPU test relies on sees where training ran (here, the CPU).
    assert record_devices.devices == {"cpu"}
    assert {"loss/train", "acc/train", "loss/val", "acc/val"} <= set(trainer.callback_metrics)
    result = trainer.test(model, datamodule=data, verbose=False)[0]
    assert set(result) == {"loss/test", "acc/test"}
    assert 0.0 <= result["acc/test"] <= 1.0
    assert isinstance(model.configure_optimizers(), torch.optim.Adam)
