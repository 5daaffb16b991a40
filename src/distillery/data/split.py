"""Train/val/test splits: stratified by tier (the filter spec decides the tier), synthetic
records in train only. Every split in distillery (``prepare``, the jsonl datamodule, carving
val out of train, the embedded corpus) goes through :func:`stratified_split`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from distillery.filters.spec import FilterSpec


def label_matrix(records: Sequence[dict], spec: FilterSpec) -> np.ndarray:
    """(n, n_dimensions) labels in the spec's dimension order."""
    return np.array([[r["labels"][d] for d in spec.dimension_names] for r in records], dtype=np.float64)


def is_synthetic(record: dict) -> bool:
    """A record tagged ``"synthetic"`` (``distillery synthesize``, the synthetic corpus)."""
    return bool(record.get("synthetic"))


def holds_out_synthetic(records: Sequence[dict], synthetic_in_eval: bool = False) -> bool:
    """Whether synthetic records are kept out of val/test: by default, whenever real records are
    there to evaluate on. Data that is synthetic through and through (the embedded corpus, a
    ``synth-corpus`` file) is split like any other."""
    return not synthetic_in_eval and any(not is_synthetic(r) for r in records)


def stratified_split(
    records: Sequence[dict],
    spec: FilterSpec,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    synthetic_in_eval: bool = False,
) -> dict[str, list[dict]]:
    """Split into train/val/test keeping each tier's share; deterministic for a seed.

    Each tier is shuffled and cut by ``fractions`` (rounded), so tiny tiers still reach
    train first, then val, then test. Records tagged ``"synthetic"`` all go to train, so that
    val and test measure real data (see :func:`holds_out_synthetic`), unless
    ``synthetic_in_eval``; the real ones are split exactly as if the synthetic ones were not there.
    """
    if len(fractions) != 3 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions must be three numbers summing to 1, got {list(fractions)}")
    names = ("train", "val", "test")
    out: dict[str, list[dict]] = {n: [] for n in names}
    if not records:
        return out
    hold = holds_out_synthetic(records, synthetic_in_eval)
    pool = [r for r in records if not (hold and is_synthetic(r))]
    out["train"] = [r for r in records if hold and is_synthetic(r)]
    tiers = spec.tier_index(spec.weighted_average(label_matrix(pool, spec)))  # pool: never empty
    rng = np.random.default_rng(seed)
    for t in np.unique(tiers):
        idx = np.flatnonzero(tiers == t)
        rng.shuffle(idx)
        n_val = int(round(len(idx) * fractions[1]))
        n_test = int(round(len(idx) * fractions[2]))
        n_train = len(idx) - n_val - n_test
        for name, part in zip(names, np.split(idx, [n_train, n_train + n_val])):
            out[name].extend(pool[i] for i in part)
    order = {id(r): i for i, r in enumerate(records)}
    for name in names:  # restore input order within each split (stable, readable files)
        out[name].sort(key=lambda r: order[id(r)])
    return out
