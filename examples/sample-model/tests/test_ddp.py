"""Distributed data parallel on CPU: two processes, Lightning's DDP strategy, the gloo backend.

DDP code paths (rank-dependent logic, gradient sync, checkpointing on rank 0) break where no
GPU pair is at hand; on CPU they run on any runner. mlci gives the test a free MASTER_PORT."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from lightning.fabric.plugins import TorchCheckpointIO

from sample_model.classifier import Classifier
from sample_model.data import DigitsDataModule


class RankReport(L.Callback):
    """Each rank writes what it trained: its rank, the world size, its parameters at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        flat = torch.cat([p.detach().flatten().cpu() for p in pl_module.parameters()])
        state = {
            "rank": trainer.global_rank,
            "world": trainer.world_size,
            "backend": torch.distributed.get_backend(),
            "params": flat,
        }
        torch.save(state, self.folder / f"rank{trainer.global_rank}.pt")


class RecordingIO(TorchCheckpointIO):
    """Checkpoint writes as usual, and notes which rank wrote each one."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def save_checkpoint(self, checkpoint: Any, path: Any, storage_options: Any = None) -> None:
        super().save_checkpoint(checkpoint, path, storage_options)
        rank = torch.distributed.get_rank()
        with (self.folder / f"written-by-rank{rank}").open("a") as notes:
            notes.write(f"{Path(path).name}\n")


def fit_two_ranks(
    make_trainer: Callable[..., L.Trainer], tmp_path: Path, **options: Any
) -> list[dict[str, Any]]:
    """Fit on two ranks (`options`: the accelerator) and check what DDP promises: both ranks
    ran, the gradients were averaged, only rank 0 wrote the checkpoints. Returns each rank's
    report."""
    checkpoints = tmp_path / "checkpoints"
    trainer = make_trainer(
        devices=2,
        strategy="ddp_spawn",
        max_steps=3,
        limit_val_batches=0,
        enable_checkpointing=True,
        plugins=[RecordingIO(tmp_path)],
        callbacks=[
            RankReport(tmp_path),
            L.pytorch.callbacks.ModelCheckpoint(dirpath=checkpoints, save_last=True),
        ],
        **options,
    )
    trainer.fit(Classifier(), DigitsDataModule(batch_size=32))
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in (0, 1)]
    assert [(r["rank"], r["world"]) for r in ranks] == [(0, 2), (1, 2)]  # both ranks ran
    # The gradients were averaged: each rank saw other data, and stepped the same way.
    assert torch.equal(ranks[0]["params"], ranks[1]["params"])
    # Only rank 0 wrote the checkpoints.
    assert sorted(p.name for p in checkpoints.iterdir()) == ["epoch=0-step=3.ckpt", "last.ckpt"]
    assert sorted(p.name for p in tmp_path.glob("written-by-rank*")) == ["written-by-rank0"]
    return ranks


@pytest.mark.distributed
def test_ddp_on_cpu_keeps_the_ranks_in_step_and_checkpoints_once(
    make_trainer: Callable[..., L.Trainer], tmp_path: Path
) -> None:
    ranks = fit_two_ranks(make_trainer, tmp_path)
    assert {r["backend"] for r in ranks} == {"gloo"}
