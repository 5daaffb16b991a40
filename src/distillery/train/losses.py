"""Losses for the multi-output regressor (``loss=`` config group)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class MSELoss(nn.Module):
    """Mean squared error over all dimensions (on the 0-10 scale)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.mean((pred - target) ** 2)


LOSSES: dict[str, type[nn.Module]] = {"mse": MSELoss}


def build_loss(cfg: Any) -> nn.Module:
    name = cfg.get("name", "mse")
    if name not in LOSSES:
        raise ValueError(f"loss.name must be one of {sorted(LOSSES)}, got {name!r}")
    kwargs = {k: v for k, v in dict(cfg).items() if k != "name"}
    return LOSSES[name](**kwargs)
