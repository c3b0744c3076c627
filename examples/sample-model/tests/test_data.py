from __future__ import annotations

import pytest
import torch

from sample_model.data import DigitsDataModule


@pytest.fixture(scope="module")
def data() -> DigitsDataModule:
    module = DigitsDataModule(batch_size=32)
    module.setup()
    return module


def test_split_sizes_cover_all_images(data: DigitsDataModule) -> None:
    sizes = [len(s) for s in (data.train_set, data.val_set, data.test_set) if s is not None]
    assert sizes == [1259, 269, 269]
    assert sum(sizes) == 1797


def test_train_split_is_standardised(data: DigitsDataModule) -> None:
    assert data.train_set is not None
    x = data.train_set.tensors[0]
    assert x.mean(dim=0).abs().max() < 1e-4
    informative = x.std(dim=0) > 0.5
    assert informative.sum() > 50


def test_split_depends_only_on_seed() -> None:
    first, again, other = (
        DigitsDataModule(seed=1),
        DigitsDataModule(seed=1),
        DigitsDataModule(seed=2),
    )
    for module in (first, again, other):
        module.setup()
    assert first.test_set is not None and again.test_set is not None and other.test_set is not None
    assert torch.equal(first.test_set.tensors[1], again.test_set.tensors[1])
    assert not torch.equal(first.test_set.tensors[1], other.test_set.tensors[1])


def test_batches(data: DigitsDataModule) -> None:
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (32, 64) and x.dtype == torch.float32
    assert y.shape == (32,) and y.dtype == torch.int64
    assert int(y.min()) >= 0 and int(y.max()) < data.num_classes


def test_dataloader_before_setup_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="setup"):
        DigitsDataModule().train_dataloader()


@pytest.mark.parametrize(("val", "test"), [(0.0, 0.2), (0.5, 0.5), (0.2, 1.2)])
def test_bad_fractions(val: float, test: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        DigitsDataModule(val_fraction=val, test_fraction=test)
