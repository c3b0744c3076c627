"""scikit-learn's bundled 8x8 digits (1797 images, no download) as a LightningDataModule."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset


class DigitsDataModule(L.LightningDataModule):
    """Seeded train/val/test split of the digits, standardised with the train split's statistics."""

    def __init__(
        self,
        batch_size: int = 64,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not (
            0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1
        ):
            raise ValueError("val_fraction and test_fraction must be in (0, 1) and sum below 1")
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.train_set: TensorDataset | None = None
        self.val_set: TensorDataset | None = None
        self.test_set: TensorDataset | None = None

    @property
    def input_dim(self) -> int:
        """Features per image (8x8 pixels)."""
        return 64

    @property
    def num_classes(self) -> int:
        """Digits 0-9."""
        return 10

    def setup(self, stage: str | None = None) -> None:
        digits = load_digits()
        features = np.asarray(digits.data, dtype=np.float32)
        labels = np.asarray(digits.target, dtype=np.int64)
        order = np.random.default_rng(self.seed).permutation(len(labels))
        n_val = int(len(labels) * self.val_fraction)
        n_test = int(len(labels) * self.test_fraction)
        test_idx, val_idx = order[:n_test], order[n_test : n_test + n_val]
        train_idx = order[n_test + n_val :]
        mean = features[train_idx].mean(axis=0)
        std = features[train_idx].std(axis=0) + 1e-6  # some border pixels are always 0
        scaled = (features - mean) / std

        def subset(idx: np.ndarray) -> TensorDataset:
            return TensorDataset(torch.from_numpy(scaled[idx]), torch.from_numpy(labels[idx]))

        self.train_set, self.val_set, self.test_set = (
            subset(train_idx),
            subset(val_idx),
            subset(test_idx),
        )

    def _loader(
        self, dataset: TensorDataset | None, shuffle: bool
    ) -> DataLoader[tuple[torch.Tensor, ...]]:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, generator=generator)

    def train_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        return self._loader(self.test_set, shuffle=False)
