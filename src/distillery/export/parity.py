"""The parity gate: an export ships only if it scores like the PyTorch model it came from.

1. **FP32 ONNX vs PyTorch**: on held-out articles, the full exported scoring path (``tokenizers``
   tokenization, context-strategy views, ONNX Runtime, aggregation) against the PyTorch
   checkpoint's (transformers tokenizer, unmerged LoRA). Max |difference| of the raw outputs
   (0-10 scale) must be <= ``fp32_atol``; token ids must match exactly.
2. **INT8 vs FP32 on task metrics**: MAE of the final scores (calibrated, clamped) against the
   oracle labels: the INT8 MAE may exceed the FP32 MAE by at most ``int8_mae_tol`` relative
   (default 1%). And the ranking a needle filter acts on: the Spearman correlation of INT8 and
   FP32 weighted averages must reach ``int8_min_spearman`` (default 0.99). MAE alone is not
   enough: a weakly trained SmolLM2 student whose naive-INT8 weighted averages correlated only
   0.93 with FP32 (tier agreement 0.875) still moved MAE by less than 1%, because its
   predictions sit near the mean where INT8 noise averages out against the labels.
   Optionally the weighted-average MAE is gated too (``int8_weighted_mae_tol``).

A failed gate is a non-zero exit of ``distillery export`` that prints these numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class GateConfig:
    fp32_atol: float = 1e-3
    int8_mae_tol: float = 0.01
    int8_weighted_mae_tol: float | None = None  # None: not gated (reported)
    int8_min_spearman: float | None = 0.99  # Spearman(INT8, FP32) of the weighted average; None: not gated
    n: int = 64

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tokenizer_parity(hf_ids: Sequence[Sequence[int]], rt_ids: Sequence[Sequence[int]]) -> dict[str, Any]:
    bad = [i for i, (a, b) in enumerate(zip(hf_ids, rt_ids)) if list(a) != list(b)]
    return {"n": len(hf_ids), "mismatched_articles": len(bad), "passed": not bad and len(hf_ids) == len(rt_ids)}


def fp32_parity(torch_raw: np.ndarray, onnx_raw: np.ndarray, atol: float) -> dict[str, Any]:
    d = np.abs(np.asarray(torch_raw, np.float64) - np.asarray(onnx_raw, np.float64))
    return {
        "n": int(len(d)),
        "max_abs_diff": float(d.max()) if d.size else 0.0,
        "mean_abs_diff": float(d.mean()) if d.size else 0.0,
        "atol": atol,
        "passed": bool(d.size and d.max() <= atol),
    }


def _spearman_min(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    vals = []
    for j in range(a.shape[1]):
        if np.std(a[:, j]) > 0 and np.std(b[:, j]) > 0:
            vals.append(float(spearmanr(a[:, j], b[:, j]).statistic))
    return min(vals) if vals else float("nan")


def int8_check(
    spec: Any, calibration: Any, fp32_raw: np.ndarray, int8_raw: np.ndarray, true: np.ndarray, gate: GateConfig
) -> dict[str, Any]:
    """Task metrics of INT8 vs FP32 (final scores vs oracle labels) and whether the gate passes."""
    from distillery.runtime.scoring import finalize

    f32 = finalize(spec, fp32_raw, calibration)
    i8 = finalize(spec, int8_raw, calibration)
    wa_true = spec.weighted_average(true)
    mae32 = float(np.abs(f32["scores"] - true).mean())
    mae8 = float(np.abs(i8["scores"] - true).mean())
    wmae32 = float(np.abs(f32["weighted_average"] - wa_true).mean())
    wmae8 = float(np.abs(i8["weighted_average"] - wa_true).mean())
    diff = np.abs(np.asarray(int8_raw) - np.asarray(fp32_raw))
    out = {
        "n": int(len(true)),
        "mae_fp32": mae32,
        "mae_int8": mae8,
        "mae_rel_change": (mae8 - mae32) / mae32 if mae32 else float("inf"),
        "weighted_mae_fp32": wmae32,
        "weighted_mae_int8": wmae8,
        "weighted_mae_rel_change": (wmae8 - wmae32) / wmae32 if wmae32 else float("inf"),
        "tier_agreement": float(
            (spec.tier_index(i8["weighted_average"]) == spec.tier_index(f32["weighted_average"])).mean()
        ),
        "max_abs_diff_vs_fp32": float(diff.max()),
        "mean_abs_diff_vs_fp32": float(diff.mean()),
        "min_spearman_vs_fp32": _spearman_min(np.asarray(int8_raw), np.asarray(fp32_raw)),
        "spearman_weighted_average_vs_fp32": _spearman_min(
            i8["weighted_average"][:, None], f32["weighted_average"][:, None]
        ),
        "int8_mae_tol": gate.int8_mae_tol,
        "int8_min_spearman": gate.int8_min_spearman,
    }
    reasons = []
    if not out["mae_rel_change"] <= gate.int8_mae_tol:
        reasons.append(f"MAE +{out['mae_rel_change']:.2%} > {gate.int8_mae_tol:.2%}")
    if gate.int8_weighted_mae_tol is not None and not out["weighted_mae_rel_change"] <= gate.int8_weighted_mae_tol:
        reasons.append(f"weighted-average MAE +{out['weighted_mae_rel_change']:.2%} > {gate.int8_weighted_mae_tol:.2%}")
    if gate.int8_min_spearman is not None and not out["spearman_weighted_average_vs_fp32"] >= gate.int8_min_spearman:
        reasons.append(
            f"Spearman(INT8, FP32) of the weighted average {out['spearman_weighted_average_vs_fp32']:.4f} "
            f"< {gate.int8_min_spearman}"
        )
    out["passed"] = not reasons
    out["failed_because"] = reasons
    return out


def format_int8_row(name: str, r: dict[str, Any]) -> str:
    return (
        f"{name:22s} MAE fp32 {r['mae_fp32']:.4f} int8 {r['mae_int8']:.4f} ({r['mae_rel_change']:+.2%}) | "
        f"w-avg MAE {r['weighted_mae_rel_change']:+.2%} | max|d| {r['max_abs_diff_vs_fp32']:.4f} | "
        f"Spearman w-avg {r['spearman_weighted_average_vs_fp32']:.4f} dims>={r['min_spearman_vs_fp32']:.4f} | tier agree {r['tier_agreement']:.3f} | "
        + (f"batch-dependence {r['batch_invariance_max_diff']:.4f} | " if "batch_invariance_max_diff" in r else "")
        + ("PASS" if r["passed"] else "FAIL: " + "; ".join(r["failed_because"]))
    )
