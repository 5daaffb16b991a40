"""Stratified train/val/test split by tier (the filter spec decides the tier)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from distillery.filters.spec import FilterSpec


def label_matrix(records: Sequence[dict], spec: FilterSpec) -> np.ndarray:
    """(n, n_dimensions) labels in the spec's dimension order."""
    return np.array([[r["labels"][d] for d in spec.dimension_names] for r in records], dtype=np.float64)


def stratified_split(
    records: Sequence[dict], spec: FilterSpec, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, list[dict]]:
    """Split into train/val/test keeping each tier's share; deterministic for a seed.

    Each tier is shuffled and cut by ``fractions`` (rounded), so tiny tiers still reach
    train first, then val, then test.
    """
    if len(fractions) != 3 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions must be three numbers summing to 1, got {list(fractions)}")
    names = ("train", "val", "test")
    out: dict[str, list[dict]] = {n: [] for n in names}
    if not records:
        return out
    tiers = spec.tier_index(spec.weighted_average(label_matrix(records, spec)))
    rng = np.random.default_rng(seed)
    for t in np.unique(tiers):
        idx = np.flatnonzero(tiers == t)
        rng.shuffle(idx)
        n_val = int(round(len(idx) * fractions[1]))
        n_test = int(round(len(idx) * fractions[2]))
        n_train = len(idx) - n_val - n_test
        for name, part in zip(names, np.split(idx, [n_train, n_train + n_val])):
            out[name].extend(records[i] for i in part)
    order = {id(r): i for i, r in enumerate(records)}
    for name in names:  # restore input order within each split (stable, readable files)
        out[name].sort(key=lambda r: order[id(r)])
    return out
