"""A Lightning classifier on the MLP: log-softmax outputs, NLL loss, accuracy metrics."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

from sample_model.nn import MLP

Batch = tuple[torch.Tensor, torch.Tensor]


class Classifier(L.LightningModule):
    """Classifies flattened inputs into `num_classes`; logs `loss/<stage>` and `acc/<stage>`."""

    def __init__(
        self,
        input_dim: int = 64,
        num_classes: int = 10,
        hidden_dims: Sequence[int] = (64, 32),
        lr: float = 1e-2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.lr = lr
        self.model = MLP(input_dim, num_classes, hidden_dims, dropout=dropout)
        self.train_acc = MulticlassAccuracy(num_classes=num_classes)
        self.val_acc = MulticlassAccuracy(num_classes=num_classes)
        self.test_acc = MulticlassAccuracy(num_classes=num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of each class, `(batch, num_classes)`."""
        return F.log_softmax(self.model(x), dim=1)

    def _step(self, batch: Batch, stage: str, accuracy: MulticlassAccuracy) -> torch.Tensor:
        x, y = batch
        log_probs = self(x)
        loss = F.nll_loss(log_probs, y)
        accuracy(log_probs, y)
        self.log(f"loss/{stage}", loss, on_step=False, on_epoch=True, prog_bar=stage == "val")
        self.log(f"acc/{stage}", accuracy, on_step=False, on_epoch=True, prog_bar=stage == "val")
        return loss

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train", self.train_acc)

    def validation_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val", self.val_acc)

    def test_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "test", self.test_acc)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)
