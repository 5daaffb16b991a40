"""The scoring steps every deployed scorer shares (numpy + ``tokenizers`` only): reading an
export's tokenizer, length-sorted batching of token views, per-article aggregation of view
outputs, and ``finalize`` (calibration -> clamp -> weighted average -> tier -> confidence).
Training, evaluation, export and the packaged wheels all call these; there is no other copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distillery.filters.spec import FilterSpec
from distillery.runtime.calibration import Calibration
from distillery.runtime.confidence import Conformal

_TOKENIZERS: dict[tuple, Any] = {}


def read_tokenizer_file(path: Path) -> Any:
    """A ``tokenizers.Tokenizer`` without truncation or padding, parsed once per file version
    (a 150k-token vocabulary takes ~1 s to parse; the object is only read from afterwards)."""
    from tokenizers import Tokenizer

    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
    if key not in _TOKENIZERS:
        tok = Tokenizer.from_file(str(path))
        tok.no_truncation()
        tok.no_padding()
        _TOKENIZERS[key] = tok
    return _TOKENIZERS[key]


def aggregate(pred: np.ndarray, owners: Sequence[int], n: int, how: str = "mean") -> np.ndarray:
    """Per-article predictions (n, N) from per-view ones (V, N) and each view's article index."""
    pred = np.asarray(pred, dtype=np.float64)
    owners = np.asarray(owners, dtype=np.int64)
    if how == "max":
        out = np.full((n, pred.shape[1]), -np.inf)
        np.maximum.at(out, owners, pred)
        return out
    out = np.zeros((n, pred.shape[1]))
    np.add.at(out, owners, pred)
    return out / np.bincount(owners, minlength=n).clip(min=1)[:, None]


def length_sorted_batches(
    views: Sequence[Sequence[int]], batch_size: int, pad_id: int, max_batch_tokens: int | None = None
) -> Iterable[tuple[list[int], np.ndarray, np.ndarray]]:
    """(view indices, input_ids, attention_mask) batches, longest first, right-padded per batch."""
    order = sorted(range(len(views)), key=lambda i: -len(views[i]))
    i = 0
    while i < len(order):
        width = len(views[order[i]])
        size = batch_size if not max_batch_tokens else max(1, min(batch_size, max_batch_tokens // max(width, 1)))
        idx = order[i : i + size]
        ids = np.full((len(idx), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for r, v in enumerate(idx):
            ids[r, : len(views[v])] = views[v]
            mask[r, : len(views[v])] = 1
        yield idx, ids, mask
        i += size


def finalize(
    spec: FilterSpec,
    raw: Any,
    calibration: Calibration | None = None,
    conformal: Conformal | None = None,
    cut: Any = None,
) -> dict[str, Any]:
    """Raw per-article outputs -> calibrated, clamped scores, weighted average, tier, confidence."""
    raw = np.asarray(raw, dtype=np.float64)
    scores = spec.clamp(calibration.apply(raw) if calibration is not None else raw)
    wa = spec.weighted_average(scores)
    out: dict[str, Any] = {"scores": scores, "weighted_average": wa, "tier": spec.tier(wa)}
    if conformal is not None:
        out["confidence"] = conformal.assess(scores, wa, np.zeros(len(raw), bool) if cut is None else cut)
    return out
