from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import pytest

TrainerFactory = Callable[..., L.Trainer]


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
