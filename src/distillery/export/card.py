"""The generated model card (``MODEL_CARD.md``) of an export: filter, oracle, data, metrics,
calibration, INT8 delta, how to use it and its limits. Rendered from the manifest only."""

from __future__ import annotations

import math
from typing import Any


def _f(x: Any, nd: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def _data(cfg: Any) -> str:
    if not isinstance(cfg, dict):
        return "unknown"
    if cfg.get("source") == "synthetic":
        return (
            f"the synthetic corpus (n={cfg.get('n')}, corpus seed {cfg.get('corpus_seed')}, split {cfg.get('split')})"
        )
    return f"{cfg.get('source')}: {cfg.get('path')}"


def render(m: dict[str, Any], spec: Any) -> str:
    src = m.get("source", {})
    train = src.get("training_metrics", {})
    base = m.get("base_model", {})
    par = m.get("parity", {})
    f32, i8 = par.get("fp32", {}), par.get("int8", {})
    cal = m.get("calibration") or {}
    conf = m.get("confidence") or {}
    L = [
        f"# {spec.ref} scorer ({base.get('name', '?')}, INT8 ONNX)",
        "",
        f"Scores an article on the {len(spec.dimensions)} dimensions of the `{spec.ref}` filter (0-10 each), "
        "their weighted average and a tier. Distilled from an LLM oracle with `distillery`.",
        "",
        "## Filter",
        "",
        spec.description.strip() or "(no description)",
        "",
        "| dimension (output order) | weight |",
        "|---|---|",
    ]
    L += [f"| {d.name} | {d.weight:g} |" for d in spec.dimensions]
    L += [
        "",
        "Tiers: "
        + ", ".join(f"`{t.name}` >= {t.threshold:g}" for t in spec.tiers)
        + (
            ". Gatekeepers: " + ", ".join(f"{g.dimension} < {g.below:g} caps at {g.cap:g}" for g in spec.gatekeepers)
            if spec.gatekeepers
            else ""
        ),
        "",
    ]
    L += [
        "## Oracle and data",
        "",
        f"- oracle (the `oracle` field of the training labels): {', '.join(f'{k} ({v})' for k, v in src.get('oracles', {}).items()) or 'unknown'}",
        f"- training data: {_data(src.get('data'))}",
        "- articles: " + ", ".join(f"{k} {v}" for k, v in (train.get("n") or {}).items()),
        f"- parity / gate set: {par.get('data', 'unknown')} ({par.get('n')} articles)",
        "",
    ]
    L += [
        "## Model",
        "",
        f"- base: `{base.get('name')}` ({base.get('source')}: {base.get('path') or base.get('package') or ''}"
        f"{' ' + base['package_version'] if base.get('package_version') else ''}; revision {base.get('revision') or 'n/a'})",
        f"- fine-tuning: {('LoRA ' + str(m.get('lora'))) if m.get('lora') else 'full / frozen'}; merged into the base for export",
        f"- pooling `{m.get('pooling')}`; context strategy `{m['context_strategy']['kind']}`, "
        f"{m['context_strategy']['max_tokens']} tokens (the same views at training and inference)",
        f"- ONNX opset {m['models']['fp32'].get('opset')}, exporter {m['models']['fp32'].get('exporter')}; "
        f"INT8 config `{m['models'].get('int8', {}).get('quantization', {}).get('name', '–')}`",
        "",
    ]
    val, test = train.get("val") or {}, train.get("test") or {}
    L += [
        "## Metrics (PyTorch model, at training)",
        "",
        "| split | MAE | RMSE | Spearman | weighted-avg MAE | tier acc | mean-baseline MAE |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in (("val", val), ("test", test)):
        if s:
            L.append(
                f"| {name} | {_f(s.get('mae'))} | {_f(s.get('rmse'))} | {_f(s.get('spearman'), 3)} | "
                f"{_f(s.get('weighted_mae'))} | {_f(s.get('tier_accuracy'), 3)} | {_f(s.get('mean_baseline_mae'))} |"
            )
    L += ["", "## Calibration", ""]
    if cal:
        for split, r in (cal.get("report") or {}).items():
            if split not in ("val", "test"):
                continue
            L.append(
                f"- {split}: MAE {_f(r['mae_before'])} before -> {_f(r['mae_after'])} after isotonic calibration (n={r['n']})"
            )
        L.append(
            f"- per-dimension isotonic ({cal.get('objective')}) fitted on {cal.get('fitted_on')}, applied before clamping"
        )
    else:
        L.append("- none (raw outputs are clamped to 0-10)")
    if conf:
        L += [
            "",
            "## Confidence",
            "",
            f"- split-conformal {1 - conf['alpha']:.0%} intervals of the weighted average, per group (context cut x predicted band); "
            f"`needs_review` when the half-width exceeds {_f(conf['review_threshold'], 3)}",
        ]
        for split, r in (conf.get("report") or {}).items():
            fl = r["flags"]
            L.append(
                f"- {split}: coverage {_f(r['coverage'], 3)}; flagged {fl['n_flagged']}/{fl['n']} with weighted-average "
                f"|error| {_f(fl['mae_flagged'], 3)} vs {_f(fl['mae_unflagged'], 3)} unflagged"
            )
    L += [
        "",
        "## Export parity (held-out articles)",
        "",
        f"- FP32 ONNX vs PyTorch: max |diff| {_f(f32.get('max_abs_diff'), 7)} on {f32.get('n')} articles (tolerance {f32.get('atol')})",
        f"- INT8 vs FP32: MAE {_f(i8.get('mae_fp32'))} -> {_f(i8.get('mae_int8'))} "
        f"({i8.get('mae_rel_change', float('nan')):+.2%}; gate <= {i8.get('int8_mae_tol', 0):+.2%}), "
        f"weighted-average MAE {i8.get('weighted_mae_rel_change', float('nan')):+.2%}, Spearman(INT8, FP32) of the weighted "
        f"average {_f(i8.get('spearman_weighted_average_vs_fp32'))} (gate >= {i8.get('int8_min_spearman')}), "
        f"tier agreement {_f(i8.get('tier_agreement'), 3)}, max |diff| {_f(i8.get('max_abs_diff_vs_fp32'))}",
        "",
    ]
    tried = [t for t in par.get("int8_tried", []) if "skipped" not in t]
    if len(tried) > 1:
        L += ["INT8 configurations tried (first passing ships):", ""]
        L += [
            f"- `{t['config']}`: MAE {t['mae_rel_change']:+.2%}, Spearman w-avg {_f(t.get('spearman_weighted_average_vs_fp32'))}"
            f" — {'pass' if t['passed'] else 'fail: ' + '; '.join(t['failed_because'])}"
            for t in tried
        ]
        L.append("")
    L += [
        "## Use",
        "",
        "```python",
        "from distillery.runtime.onnx_scorer import OnnxScorer",
        "",
        'scorer = OnnxScorer("<this folder>")          # int8; threads=N to pin CPU threads',
        'scorer.score({"title": "...", "content": "..."})',
        "# {'scores': {...}, 'weighted_average': ..., 'tier': ..., 'confidence': ..., 'needs_review': ..., 'passed_prefilter': ...}",
        "```",
        "",
        "Or `distillery package <this folder> --out dist/` for a wheel that needs no torch.",
        "",
        "## Limitations",
        "",
        "- A student of an LLM oracle: it inherits the oracle's biases and adds its own error (see MAE above).",
        f"- It sees only {m['context_strategy']['max_tokens']} tokens per view ({m['context_strategy']['kind']}); "
        "evidence outside the view is invisible to it (such articles are flagged less confident).",
        "- Scores of articles the prefilter blocks (`passed_prefilter: false`) are outside the training distribution.",
        "- No content-type caps: the oracle's content type is not predicted.",
        "",
    ]
    return "\n".join(L)
