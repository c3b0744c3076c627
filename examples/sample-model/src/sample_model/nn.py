"""Building blocks: a fully connected block and a multilayer perceptron."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn


def fc_block(
    in_features: int,
    out_features: int,
    *,
    normalize: bool = True,
    negative_slope: float = 0.2,
    dropout: float = 0.0,
) -> list[nn.Module]:
    """Linear layer, then optional batch norm, leaky ReLU and optional dropout.

    The linear layer has no bias when batch norm follows it (the norm's shift replaces it).
    """
    if in_features < 1 or out_features < 1:
        raise ValueError(f"features must be positive, got {in_features} -> {out_features}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    layers: list[nn.Module] = [nn.Linear(in_features, out_features, bias=not normalize)]
    if normalize:
        layers.append(nn.BatchNorm1d(out_features))
    layers.append(nn.LeakyReLU(negative_slope))
    if dropout > 0.0:
        layers.append(nn.Dropout(dropout))
    return layers


class MLP(nn.Module):
    """A multilayer perceptron: `fc_block`s of the given hidden sizes, then a linear head.

    Inputs of any shape `(batch, ...)` are flattened to `(batch, input_dim)`; the output is the
    raw scores `(batch, output_dim)`.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        hidden_dims: Sequence[int] = (64, 32),
        *,
        normalize: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        # A new list: the caller's hidden_dims is never modified.
        dims = [input_dim, *hidden_dims]
        layers: list[nn.Module] = []
        for in_features, out_features in pairwise(dims):
            layers += fc_block(
                in_features,
                out_features,
                normalize=normalize,
                negative_slope=negative_slope,
                dropout=dropout,
            )
        layers.append(nn.Linear(dims[-1], output_dim))
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores for each class, `(batch, output_dim)`."""
        out: torch.Tensor = self.net(x.flatten(start_dim=1))
        return out
