"""Integration: a real training run on CPU (a few seconds)."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import pytest

from sample_model import Classifier, DigitsDataModule


class ValLossHistory(L.Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.losses.append(float(trainer.callback_metrics["loss/val"]))


@pytest.mark.integ
def test_training_learns_the_digits(make_trainer: Callable[..., L.Trainer]) -> None:
    history = ValLossHistory()
    data = DigitsDataModule(batch_size=64)
    model = Classifier(hidden_dims=(64, 32), lr=1e-2)
    trainer = make_trainer(max_epochs=4, callbacks=[history], deterministic=True)
    trainer.fit(model, datamodule=data)
    assert len(history.losses) == 4
    assert history.losses[-1] < history.losses[0]
    result = trainer.test(model, datamodule=data, verbose=False)[0]
    assert result["acc/test"] >= 0.9
