from __future__ import annotations

import pytest
import torch
from torch import nn

from sample_model.nn import MLP, fc_block


@pytest.mark.parametrize(
    ("normalize", "dropout", "expected"),
    [
        (True, 0.0, [nn.Linear, nn.BatchNorm1d, nn.LeakyReLU]),
        (False, 0.0, [nn.Linear, nn.LeakyReLU]),
        (True, 0.5, [nn.Linear, nn.BatchNorm1d, nn.LeakyReLU, nn.Dropout]),
        (False, 0.1, [nn.Linear, nn.LeakyReLU, nn.Dropout]),
    ],
)
def test_fc_block_layers(normalize: bool, dropout: float, expected: list[type]) -> None:
    layers = fc_block(8, 4, normalize=normalize, dropout=dropout)
    assert [type(layer) for layer in layers] == expected
    linear = layers[0]
    assert isinstance(linear, nn.Linear)
    assert (linear.in_features, linear.out_features) == (8, 4)
    # batch norm's shift replaces the linear bias
    assert (linear.bias is None) == normalize


def test_fc_block_negative_slope() -> None:
    relu = fc_block(3, 3, negative_slope=0.3)[-1]
    assert isinstance(relu, nn.LeakyReLU)
    assert relu.negative_slope == pytest.approx(0.3)


@pytest.mark.parametrize(("in_features", "out_features", "dropout"), [(0, 4, 0.0), (4, 4, 1.0)])
def test_fc_block_rejects_bad_arguments(
    in_features: int, out_features: int, dropout: float
) -> None:
    with pytest.raises(ValueError, match="must be"):
        fc_block(in_features, out_features, dropout=dropout)


@pytest.mark.parametrize("hidden_dims", [(), (16,), (32, 16), [64, 32, 16]])
@pytest.mark.parametrize("batch", [2, 7])
def test_mlp_output_shape(hidden_dims: tuple[int, ...], batch: int) -> None:
    model = MLP(64, 10, hidden_dims)
    out = model(torch.randn(batch, 8, 8))  # images are flattened
    assert out.shape == (batch, 10)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [*hidden_dims, 10]


def test_mlp_does_not_mutate_hidden_dims() -> None:
    hidden = [32, 16]
    MLP(64, 10, hidden)
    MLP(64, 10, hidden)
    assert hidden == [32, 16]


def test_mlp_one_batch_overfits() -> None:
    model = MLP(64, 10, (32,))
    x, y = torch.randn(16, 64), torch.arange(16) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    assert first is not None
    assert loss.item() < 0.05 < first
    assert (model.eval()(x).argmax(dim=1) == y).all()
