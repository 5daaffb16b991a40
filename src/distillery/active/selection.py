"""Choosing the pool articles to label (pure): by predicted weighted average, by uncertainty
(conformal interval width), or both, never an article already labelled."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import zip_longest

from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec

SELECT_MODES = ("threshold", "uncertainty", "both")


def tier_margin(spec: FilterSpec, wa: float) -> float:
    """Distance of a weighted average to the nearest tier boundary (small: the tier is uncertain)."""
    edges = [t.threshold for t in spec.tiers if t.threshold > 0]
    return min((abs(wa - e) for e in edges), default=float("inf"))


def select_candidates(
    rows: Sequence[dict],
    known: set[str],
    spec: FilterSpec,
    mode: str = "threshold",
    threshold: float = 5.0,
    uncertain_top: int | None = None,
    budget: int | None = None,
) -> tuple[list[dict], dict[str, int]]:
    """Pick pool predictions to label. ``rows``: ``pool_predictions.jsonl`` rows (``content_sha``,
    ``weighted_average``; ``wa_halfwidth`` / ``needs_review`` for uncertainty). Returns the picked
    rows (each with ``reasons``), in priority order, and the counts.

    Articles whose content hash is in ``known`` (already labelled) or repeats an earlier pool
    article are never picked. ``threshold``: predicted weighted average >= threshold, highest
    first. ``uncertainty``: the ``uncertain_top`` widest conformal intervals (ties: closest to a
    tier boundary first), or every ``needs_review`` article when no top-k is given. ``both``: the
    union, interleaved one from each list, so that ``budget`` (the first N) takes from both.
    """
    if mode not in SELECT_MODES:
        raise DistilleryError(f"--select must be one of {', '.join(SELECT_MODES)}, got {mode!r}")
    counts = Counter(pool=len(rows))
    seen: set[str] = set()
    eligible = []
    for r in rows:
        h = r["content_sha"]
        if h in known:
            counts["already_labelled"] += 1
        elif h in seen:
            counts["pool_duplicates"] += 1
        else:
            seen.add(h)
            eligible.append(r)
    counts["eligible"] = len(eligible)
    by_threshold: list[dict] = []
    by_uncertainty: list[dict] = []
    if mode in ("threshold", "both"):
        by_threshold = sorted(
            (r for r in eligible if r["weighted_average"] >= threshold),
            key=lambda r: (-r["weighted_average"], r["index"]),
        )
    if mode in ("uncertainty", "both"):
        if any(r.get("wa_halfwidth") is None for r in eligible):
            raise DistilleryError("uncertainty selection needs conformal confidence (confidence.json)")
        ranked = sorted(
            eligible, key=lambda r: (-r["wa_halfwidth"], tier_margin(spec, r["weighted_average"]), r["index"])
        )
        by_uncertainty = (
            ranked[:uncertain_top] if uncertain_top is not None else [r for r in ranked if r["needs_review"]]
        )
    counts["by_threshold"], counts["by_uncertainty"] = len(by_threshold), len(by_uncertainty)
    reasons: dict[int, list[str]] = {}
    order: list[dict] = []
    for pair in zip_longest(by_threshold, by_uncertainty):
        for reason, r in zip(("threshold", "uncertainty"), pair):
            if r is None:
                continue
            if r["index"] not in reasons:
                reasons[r["index"]] = []
                order.append(r)
            reasons[r["index"]].append(reason)
    counts["by_both"] = sum(len(v) == 2 for v in reasons.values())
    counts["selected"] = len(order)
    if budget is not None:
        order = order[: max(0, int(budget))]
    counts["over_budget"] = counts["selected"] - len(order)
    counts["candidates"] = len(order)
    return [{**r, "reasons": reasons[r["index"]]} for r in order], dict(counts)
