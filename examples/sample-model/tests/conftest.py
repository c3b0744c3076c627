from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import pytest

TrainerFactory = Callable[..., L.Trainer]


class RecordDevices(L.Callback):
    """Where the training steps ran: the model's parameters and the batch, at each step.

    Read after `fit`, the model itself says nothing: Lightning moves it back to the CPU at
    teardown.
    """

    def __init__(self) -> None:
        self.devices: set[str] = set()

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        inputs, _ = batch
        self.devices.add(str(next(pl_module.parameters()).device.type))
        self.devices.add(str(inputs.device.type))


@pytest.fixture(autouse=True)
def _seed() -> None:
    L.seed_everything(0, verbose=False)


@pytest.fixture
def make_trainer(tmp_path: Any) -> TrainerFactory:
    """A quiet, fast Trainer writing nothing outside tmp_path."""

    def factory(**kwargs: Any) -> L.Trainer:
        options: dict[str, Any] = {
            "accelerator": "cpu",
            "devices": 1,
            "logger": False,
            "enable_checkpointing": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "default_root_dir": tmp_path,
        }
        options.update(kwargs)
        return L.Trainer(**options)

    return factory


@pytest.fixture
def record_devices() -> RecordDevices:
    return RecordDevices()
