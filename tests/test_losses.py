"""Losses: hand-computed values on tiny tensors, gradient direction, lambda_=0 == MSE."""

from __future__ import annotations

import math

import pytest
import torch

from distillery.train.losses import (
    HybridListMLELoss,
    HybridPairwiseLoss,
    HybridTripletLoss,
    MSELoss,
    build_loss,
    listmle_loss,
    pairwise_margin_loss,
    triplet_loss,
)


def col(*xs: float) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float64).unsqueeze(1)


def test_mse_hand_computed():
    assert MSELoss()(col(1.0, 2.0), col(0.0, 4.0)).item() == pytest.approx((1 + 4) / 2)


def test_pairwise_hand_computed_ties_ignored():
    # ordered pairs (t_i > t_j): (0,1): relu(0.5 - (1 - 2)) = 1.5; (0,2): relu(0.5 - (1 - 0)) = 0.
    # (1,2) is tied (t = 1, 1) and carries no order.
    pred, target = col(1.0, 2.0, 0.0), col(3.0, 1.0, 1.0)
    assert pairwise_margin_loss(pred, target, margin=0.5).item() == pytest.approx(0.75)


def test_pairwise_averages_over_dimensions_and_skips_all_tied_dims():
    p1, t1 = col(1.0, 2.0, 0.0), col(3.0, 1.0, 1.0)  # 0.75 (above)
    # dim 2: pairs (1,0): relu(0.5 - 0) = 0.5, (2,0): relu(0.5 - 1) = 0, (2,1): 0 -> 1/6
    p2, t2 = col(0.0, 0.0, 1.0), col(0.0, 1.0, 2.0)
    p3, t3 = col(5.0, 1.0, 9.0), col(4.0, 4.0, 4.0)  # all tied: no order, left out of the mean
    pred, target = torch.cat([p1, p2, p3], 1), torch.cat([t1, t2, t3], 1)
    assert pairwise_margin_loss(pred, target, margin=0.5).item() == pytest.approx((0.75 + 1 / 6) / 2)


def test_all_tied_batch_gives_zero_with_a_graph():
    pred = col(1.0, 2.0).requires_grad_()
    for fn in (pairwise_margin_loss, triplet_loss, listmle_loss):
        out = fn(pred, col(3.0, 3.0))
        assert out.item() == 0.0 and out.requires_grad


def test_triplet_hand_computed():
    # anchor 0: |t0-t1|=2 < |t0-t2|=5 -> (0,1,2): relu(|0-3| - |0-1| + .5) = 2.5
    # anchor 1: |t1-t0|=2 < |t1-t2|=3 -> (1,0,2): relu(3 - 2 + .5) = 1.5
    # anchor 2: |t2-t1|=3 < |t2-t0|=5 -> (2,1,0): relu(2 - 1 + .5) = 1.5
    pred, target = col(0.0, 3.0, 1.0), col(0.0, 2.0, 5.0)
    assert triplet_loss(pred, target, margin=0.5).item() == pytest.approx(5.5 / 3)
    # t = 0, 2, 4: anchor 1 sees equal distances (a tie: no order), leaving 2.5 and 1.5
    assert triplet_loss(pred, col(0.0, 2.0, 4.0), margin=0.5).item() == pytest.approx(2.0)


def test_triplet_sampled_path_matches_exhaustive_in_expectation():
    torch.manual_seed(0)
    pred, target = torch.randn(5, 2, dtype=torch.float64), torch.rand(5, 2, dtype=torch.float64) * 10
    exact = triplet_loss(pred, target, margin=0.5).item()
    g = torch.Generator().manual_seed(0)
    sampled = triplet_loss(pred, target, margin=0.5, max_triplets=40_000, generator=g).item()  # 60 < 40k: exact
    assert sampled == pytest.approx(exact)
    sampled = triplet_loss(pred, target, margin=0.5, max_triplets=59, generator=g)  # 60 > 59: sampled path
    many = [triplet_loss(pred, target, margin=0.5, max_triplets=50, generator=g).item() for _ in range(400)]
    assert math.isfinite(sampled.item()) and sum(many) / len(many) == pytest.approx(exact, rel=0.05)


def test_listmle_hand_computed():
    e = math.exp
    pred = col(2.0, 1.0, 0.0)
    # no ties: the standard Plackett-Luce NLL of the order 0 > 1 > 2, averaged over the 2 informative positions
    want = ((math.log(e(2) + e(1) + e(0)) - 2) + (math.log(e(1) + e(0)) - 1)) / 2
    assert listmle_loss(pred, col(3.0, 2.0, 1.0)).item() == pytest.approx(want)
    # ties: 1 and 2 are tied below 0, so only item 0 carries order
    assert listmle_loss(pred, col(3.0, 1.0, 1.0)).item() == pytest.approx(math.log(e(2) + e(1) + e(0)) - 2)
    # temperature divides the scores
    want_t = ((math.log(e(1) + e(0.5) + e(0)) - 1) + (math.log(e(0.5) + e(0)) - 0.5)) / 2
    assert listmle_loss(pred, col(3.0, 2.0, 1.0), temperature=2.0).item() == pytest.approx(want_t)


@pytest.mark.parametrize("cls", [HybridPairwiseLoss, HybridTripletLoss, HybridListMLELoss])
def test_lambda_zero_is_mse_and_hybrid_is_the_sum(cls):
    torch.manual_seed(1)
    pred, target = torch.rand(6, 3) * 10, torch.rand(6, 3) * 10
    assert torch.equal(cls(lambda_=0.0)(pred, target), MSELoss()(pred, target))
    loss = cls(lambda_=0.3)
    assert loss(pred, target).item() == pytest.approx(
        MSELoss()(pred, target).item() + 0.3 * loss.ranking(pred, target).item(), rel=1e-6
    )


# a mis-ordered pair: article 0 has the higher target but the lower prediction
MISORDERED = (col(1.0, 1.2), col(6.0, 4.0))
# the triplet term compares distances, so it is blind to a mirrored order (MISORDERED is a perfect
# triplet solution: the MSE term supplies the direction); its mis-ordered case is a wrong middle
MISORDERED_TRIPLET = (col(0.0, 3.0, 1.0), col(0.0, 2.0, 5.0))


def _kendall(pred: torch.Tensor, target: torch.Tensor) -> float:
    dt = torch.sign(target[:, None, 0] - target[None, :, 0])
    dp = torch.sign(pred[:, None, 0] - pred[None, :, 0])
    return float((dt * dp).sum() / (dt != 0).sum())


@pytest.mark.parametrize("cls", [HybridPairwiseLoss, HybridTripletLoss, HybridListMLELoss])
def test_one_sgd_step_on_the_ranking_term_fixes_the_order(cls):
    loss = cls(lambda_=1.0)
    pred0, target = MISORDERED_TRIPLET if cls is HybridTripletLoss else MISORDERED
    top, bottom = int(target.argmax()), int(target.argmin())
    pred = pred0.clone().requires_grad_()
    before = loss.ranking(pred, target)
    before.backward()
    with torch.no_grad():
        stepped = pred - (2.0 if cls is HybridTripletLoss else 0.5) * pred.grad  # triplet: grads split over 3 triplets
    after = loss.ranking(stepped, target)
    assert after.item() < before.item()
    # the top article moves up relative to the bottom one, and rank agreement gets better
    assert (stepped[top, 0] - stepped[bottom, 0]).item() > (pred0[top, 0] - pred0[bottom, 0]).item()
    assert _kendall(stepped, target) > _kendall(pred0, target)


@pytest.mark.parametrize("cls", [HybridPairwiseLoss, HybridListMLELoss])
def test_sgd_steps_on_the_hybrid_reach_the_right_order(cls):
    loss = cls(lambda_=1.0)
    pred, target = MISORDERED[0].clone().requires_grad_(), MISORDERED[1]
    start = _kendall(pred.detach(), target)
    assert start == -1.0 and _kendall(_sgd(loss, pred, target, steps=20), target) == 1.0
    full = (col(1.0, 2.0, 3.0), col(9.0, 5.0, 1.0))  # a fully reversed list of 3
    assert _kendall(_sgd(loss, *full, steps=30), full[1]) == 1.0


def _sgd(loss, pred: torch.Tensor, target: torch.Tensor, steps: int, lr: float = 0.2) -> torch.Tensor:
    p = pred.detach().clone()
    for _ in range(steps):
        p.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss(p, target), p)
        p = (p - lr * grad).detach()
    return p


def test_build_loss_from_the_config_tree():
    from conftest import compose

    cfg = compose(["loss=hybrid_pairwise", "loss.lambda_=0.3", "loss.margin=1.0"])
    loss = build_loss(cfg.loss)
    assert isinstance(loss, HybridPairwiseLoss) and loss.lambda_ == 0.3 and loss.margin == 1.0
    assert isinstance(build_loss(compose(["loss=hybrid_triplet"]).loss), HybridTripletLoss)
    lm = build_loss(compose(["loss=hybrid_listmle"]).loss)
    assert isinstance(lm, HybridListMLELoss) and lm.lambda_ == 0.2
    with pytest.raises(ValueError, match="hybrid_listmle"):
        build_loss({"name": "hybrid_listmle", "margin": 1.0})
    with pytest.raises(ValueError, match="lambda_"):
        HybridPairwiseLoss(lambda_=-1.0)
