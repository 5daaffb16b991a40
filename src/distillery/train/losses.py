"""Losses for the multi-output regressor (``loss=`` config group).

Every loss takes ``pred`` and ``target`` of shape (B, N) on the 0-10 scale (B articles in the
batch, N filter dimensions) and returns a scalar.

  mse               mean squared error over all dimensions
  hybrid_pairwise   mse + lambda_ * pairwise margin ranking   (``margin``)
  hybrid_triplet    mse + lambda_ * triplet ranking           (``margin``, ``max_triplets``)
  hybrid_listmle    mse + lambda_ * ListMLE                   (``temperature``)

The ranking terms compare articles *within the batch*, separately for each dimension, and
average over the dimensions that have at least one ordered pair/triplet/item in the batch (a
batch whose targets are all tied on a dimension says nothing about its order). Ties carry no
order: only pairs whose targets differ (for triplets: whose target distances differ) count.
With ``lambda_=0`` a hybrid loss equals ``mse`` exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((pred - target) ** 2)


def _mean_over_dims(per_dim_sum: torch.Tensor, per_dim_count: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """Mean over dimensions of (sum / count), skipping dimensions with count 0 (0 if none)."""
    valid = per_dim_count > 0
    if not bool(valid.any()):
        return pred.sum() * 0.0  # keeps the graph (and the device/dtype); no order in this batch
    return (per_dim_sum[valid] / per_dim_count[valid]).mean()


def pairwise_margin_loss(pred: torch.Tensor, target: torch.Tensor, margin: float = 0.5) -> torch.Tensor:
    r"""Pairwise margin ranking loss, per dimension, averaged over dimensions.

    For dimension d, over every pair (i, j) in the batch with ``target[i,d] > target[j,d]``
    (tied pairs are left out)::

        L_d = mean_{(i,j): t_i > t_j}  max(0, margin - (p_i - p_j))

    i.e. the article the oracle scores higher must be predicted higher by at least ``margin``
    points (0-10 scale). The result is the mean of ``L_d`` over the dimensions that have at
    least one untied pair. All B(B-1)/2 pairs of the batch are used (cheap at batch sizes in
    the hundreds).
    """
    dt = target.unsqueeze(1) - target.unsqueeze(0)  # (B, B, N): t_i - t_j
    dp = pred.unsqueeze(1) - pred.unsqueeze(0)
    ordered = (dt > 0).to(pred.dtype)
    hinge = torch.relu(margin - dp) * ordered
    return _mean_over_dims(hinge.sum((0, 1)), ordered.sum((0, 1)), pred)


def triplet_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    margin: float = 0.5,
    max_triplets: int = 50_000,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Triplet ranking loss on the scores themselves, per dimension, averaged over dimensions.

    For dimension d, a triplet (a, i, j) of distinct articles is *ordered* when article i is
    strictly closer to the anchor a than article j is in target space,
    ``|t_a - t_i| < |t_a - t_j|`` (i is the positive, j the negative; equal distances carry no
    order and are left out). The student must keep that order, with a margin::

        L_d = mean_{(a,i,j) ordered}  max(0, |p_a - p_i| - |p_a - p_j| + margin)

    The result is the mean of ``L_d`` over the dimensions that have at least one ordered
    triplet. All B(B-1)(B-2) triplets are used when that is at most ``max_triplets``; beyond
    that, ``max_triplets`` triplets are sampled uniformly (with replacement) from the batch.

    On scalar scores the term sees distances only, so it cannot tell an order from its mirror
    image: it shapes the spacing of predictions, and the MSE term of the hybrid sets the direction.
    """
    b = pred.shape[0]
    if b < 3:
        return pred.sum() * 0.0
    if b * (b - 1) * (b - 2) <= max_triplets:
        dt = (target.unsqueeze(1) - target.unsqueeze(0)).abs()  # (B, B, N): |t_a - t_x|
        dp = (pred.unsqueeze(1) - pred.unsqueeze(0)).abs()
        idx = torch.arange(b, device=pred.device)
        distinct = idx[:, None] != idx[None, :]  # (B, B)
        ordered = dt.unsqueeze(2) < dt.unsqueeze(1)  # (a, i, j, N): |t_a - t_i| < |t_a - t_j|
        ordered = ordered & distinct[:, :, None, None] & distinct[:, None, :, None]
        hinge = torch.relu(dp.unsqueeze(2) - dp.unsqueeze(1) + margin)
        w = ordered.to(pred.dtype)
        return _mean_over_dims((hinge * w).sum((0, 1, 2)), w.sum((0, 1, 2)), pred)
    a, i, j = torch.randint(0, b, (3, max_triplets), device=pred.device, generator=generator)
    keep = (a != i) & (a != j) & (i != j)
    a, i, j = a[keep], i[keep], j[keep]
    dti, dtj = (target[a] - target[i]).abs(), (target[a] - target[j]).abs()  # (T, N)
    dpi, dpj = (pred[a] - pred[i]).abs(), (pred[a] - pred[j]).abs()
    # orient each sampled triplet: the closer article (in target space) is the positive
    pos, neg = torch.where(dti < dtj, dpi, dpj), torch.where(dti < dtj, dpj, dpi)
    w = (dti != dtj).to(pred.dtype)
    hinge = torch.relu(pos - neg + margin) * w
    return _mean_over_dims(hinge.sum(0), w.sum(0), pred)


def listmle_loss(pred: torch.Tensor, target: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    r"""ListMLE (Plackett-Luce negative log-likelihood of the target order), tie-aware, per dimension.

    Scores are ``s = pred / temperature``. For dimension d, each article k that the oracle
    ranks strictly above at least one other article contributes the negative log-probability
    of being picked first among itself and the articles ranked strictly below it::

        L_d = mean_{k in K}  [ log( exp(s_k) + sum_{m: t_m < t_k} exp(s_m) ) - s_k ]
        K   = { k : some t_m < t_k }

    Without ties this is the standard ListMLE (``-log P(target permutation | s)``), averaged
    over list positions instead of summed (the last position contributes log 1 = 0 and is not
    counted). Tied articles never appear in each other's denominators, so ties carry no order
    and no random tie-breaking is needed. The result is the mean of ``L_d`` over dimensions
    with at least one untied pair.
    """
    s = pred / temperature
    below = target.unsqueeze(0) < target.unsqueeze(1)  # (k, m, N): t_m < t_k
    eye = torch.eye(pred.shape[0], dtype=torch.bool, device=pred.device).unsqueeze(-1)
    members = below | eye  # k's own term is always in its denominator
    logits = s.unsqueeze(0).expand(pred.shape[0], -1, -1)  # (k, m, N): s_m
    neg_inf = torch.finfo(s.dtype).min
    lse = torch.logsumexp(logits.masked_fill(~members, neg_inf), dim=1)  # (k, N)
    has_below = below.any(dim=1).to(pred.dtype)  # (k, N)
    terms = (lse - s) * has_below
    return _mean_over_dims(terms.sum(0), has_below.sum(0), pred)


class MSELoss(nn.Module):
    """Mean squared error over all dimensions (on the 0-10 scale)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return mse_loss(pred, target)


class _HybridLoss(nn.Module):
    """``mse + lambda_ * ranking``; subclasses pick the ranking term (see the module docstring)."""

    def __init__(self, lambda_: float = 0.2):
        super().__init__()
        if lambda_ < 0:
            raise ValueError(f"loss.lambda_ must be >= 0, got {lambda_}")
        self.lambda_ = float(lambda_)

    def ranking(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mse = mse_loss(pred, target)
        if self.lambda_ == 0.0:
            return mse
        # in float32: under bf16 autocast the pair/triplet counts would round (bf16 has 8 mantissa bits)
        return mse + self.lambda_ * self.ranking(pred.float(), target.float())


class HybridPairwiseLoss(_HybridLoss):
    """``mse + lambda_ * pairwise_margin_loss(margin)`` (see :func:`pairwise_margin_loss`)."""

    def __init__(self, lambda_: float = 0.2, margin: float = 0.5):
        super().__init__(lambda_)
        self.margin = float(margin)

    def ranking(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return pairwise_margin_loss(pred, target, self.margin)


class HybridTripletLoss(_HybridLoss):
    """``mse + lambda_ * triplet_loss(margin)`` (see :func:`triplet_loss`)."""

    def __init__(self, lambda_: float = 0.2, margin: float = 0.5, max_triplets: int = 50_000):
        super().__init__(lambda_)
        self.margin, self.max_triplets = float(margin), int(max_triplets)

    def ranking(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return triplet_loss(pred, target, self.margin, self.max_triplets)


class HybridListMLELoss(_HybridLoss):
    """``mse + lambda_ * listmle_loss(temperature)`` (see :func:`listmle_loss`)."""

    def __init__(self, lambda_: float = 0.2, temperature: float = 1.0):
        super().__init__(lambda_)
        if temperature <= 0:
            raise ValueError(f"loss.temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def ranking(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return listmle_loss(pred, target, self.temperature)


LOSSES: dict[str, type[nn.Module]] = {
    "mse": MSELoss,
    "hybrid_pairwise": HybridPairwiseLoss,
    "hybrid_triplet": HybridTripletLoss,
    "hybrid_listmle": HybridListMLELoss,
}


def build_loss(cfg: Any) -> nn.Module:
    name = cfg.get("name", "mse")
    if name not in LOSSES:
        raise ValueError(f"loss.name must be one of {sorted(LOSSES)}, got {name!r}")
    kwargs = {k: v for k, v in dict(cfg).items() if k != "name"}
    try:
        return LOSSES[name](**kwargs)
    except TypeError as e:
        raise ValueError(f"loss {name!r}: {e} (check the loss.* overrides)") from None
