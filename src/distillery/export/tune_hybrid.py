"""``distillery tune-hybrid``: pick the hybrid scorer's stage-1 threshold for a false-negative target.

Inputs: two export dirs of the same filter (stage 1: a cheap scorer such as an embedding probe;
stage 2: the fine-tuned model) and labelled articles (a split of the data stage 2 trained on, or
``--data FILE``). Everything is measured with the INT8 scorers that ship (each on its export's backend).

A *positive* is an article whose oracle tier (from its labels) is ``--min-tier`` or higher. A
false negative is a positive the hybrid never sends to stage 2: stopped by the prefilter, or a
stage-1 weighted average below the threshold. The threshold is the highest value whose
false-negative rate (over all positives) stays within ``--fn-target``; prefilter misses count
against the target too, and if they alone exceed it the command says so and fails.

Reported for the tuning split and, when there is one, a check split (default test, never used
for choosing): skip rate (articles not sent to stage 2), FN rate, MAE and tier accuracy of the
hybrid's scores vs stage 2 alone, and the measured end-to-end time of both on the same articles
(same threads, a warm-up pass first, best of ``--repeats``). Writes a hybrid dir: ``hybrid.json``,
copies of both exports under ``stage1/`` and ``stage2/``, ``report.md`` and a manifest with the
SHA-256 of every file. ``distillery package HYBRID_DIR`` turns it into a torch-free wheel.

A hybrid that is slower end to end than stage 2 alone (stage 1 costs more than the stage-2 work
it saves) is refused: the command says so with the numbers, writes nothing and exits non-zero,
unless ``--allow-slower``. A cheap stage 1 is a static-embedding student (``model=static_minilm``).
"""

from __future__ import annotations

import argparse
import math
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distillery.errors import DistilleryError
from distillery.runtime.atomic import write_json


def choose_threshold(stage1_wa: np.ndarray, positive: np.ndarray, reachable: np.ndarray, fn_target: float) -> float:
    """Highest threshold t with #(positives not sent to stage 2) / #positives <= fn_target, where an
    article goes on when it is ``reachable`` (passed the prefilter) and ``stage1_wa >= t``."""
    n_pos = int(positive.sum())
    if n_pos == 0:
        raise DistilleryError("no article of the minimum tier or higher in the tuning data: nothing to protect")
    allowed = math.floor(fn_target * n_pos + 1e-9) - int((positive & ~reachable).sum())
    if allowed < 0:
        raise DistilleryError(
            f"the prefilter alone misses {int((positive & ~reachable).sum())} of {n_pos} positives "
            f"(> fn target {fn_target:.2%}): no threshold can meet it"
        )
    wa = np.sort(stage1_wa[positive & reachable])
    if allowed >= len(wa):
        return float("inf")
    return float(wa[allowed])  # exactly `allowed` (fewer with ties) positives fall strictly below it


def positives(spec: Any, true: np.ndarray, min_tier: str) -> np.ndarray:
    """Articles whose oracle tier (from their labels) is ``min_tier`` or higher."""
    return spec.tier_index(spec.weighted_average(true)) <= spec.tier_names.index(min_tier)


def outcome(
    spec: Any,
    true: np.ndarray,
    stage1: list[dict],
    stage2: list[dict],
    threshold: float,
    min_tier: str,
    fn_target: float | None = None,
) -> dict[str, Any]:
    """Skip / FN rates and accuracy of the hybrid at ``threshold`` and of stage 2 alone."""
    true_wa = spec.weighted_average(true)
    tiers = spec.tier_names
    positive = positives(spec, true, min_tier)
    reachable = np.array([r["passed_prefilter"] for r in stage2])
    s1_wa = np.array([r["weighted_average"] for r in stage1])
    sent = reachable & (s1_wa >= threshold)

    def scores(rows: list[dict]) -> np.ndarray:
        return np.array([[r["scores"][d] for d in spec.dimension_names] for r in rows])

    hybrid = np.where(sent[:, None], scores(stage2), scores(stage1))
    alone = scores(stage2)
    true_tier = spec.tier(true_wa)

    def acc(pred: np.ndarray, mask: np.ndarray) -> dict[str, float]:
        wa = spec.weighted_average(pred)
        return {
            "mae": float(np.abs(pred[mask] - true[mask]).mean()),
            "weighted_mae": float(np.abs(wa[mask] - true_wa[mask]).mean()),
            "tier_accuracy": float((spec.tier(wa)[mask] == true_tier[mask]).mean()),
            "recall_min_tier": float(
                ((spec.tier_index(wa) <= tiers.index(min_tier)) & positive & mask).sum()
                / max(1, (positive & mask).sum())
            ),
        }

    n_pos = int(positive.sum())
    out = {
        "n": len(true),
        "positives": n_pos,
        "threshold": threshold,
        "skip_rate": float(1 - sent.mean()),
        "prefilter_stopped": int((~reachable).sum()),
        "below_threshold": int((reachable & ~sent).sum()),
        "sent_to_stage2": int(sent.sum()),
        "false_negatives": int((positive & ~sent).sum()),
        "prefilter_false_negatives": int((positive & ~reachable).sum()),
        "fn_rate": float((positive & ~sent).sum() / max(1, n_pos)),
        # scores: articles the prefilter passes get a score (stage 1 or 2); stopped ones have none
        "hybrid": acc(hybrid, reachable),
        "stage2_alone": acc(alone, reachable),
    }
    if fn_target is not None:
        out["fn_target"] = fn_target
        out["meets_target"] = out["fn_rate"] <= fn_target + 1e-12
    return out


def time_both(stage1: Any, stage2: Any, articles: Sequence[dict], threshold: float, repeats: int) -> dict[str, Any]:
    """Wall time of stage 2 alone vs the hybrid on the same articles (warm-up first, best of repeats)."""
    from distillery.runtime.hybrid import HybridScorer

    hybrid = HybridScorer.from_scorers(stage1, stage2, threshold)  # the shipped class, sessions already loaded
    warm = list(articles[:4])
    stage2.score_batch(warm)
    hybrid.score_batch(warm)
    best = {"stage2_alone_s": float("inf"), "hybrid_s": float("inf"), "stage1_alone_s": float("inf")}
    for _ in range(max(1, repeats)):
        for key, fn in (
            ("stage2_alone_s", stage2.score_batch),
            ("hybrid_s", hybrid.score_batch),
            ("stage1_alone_s", stage1.score_batch),
        ):
            t = time.perf_counter()
            fn(articles)
            best[key] = min(best[key], time.perf_counter() - t)
    best["speedup"] = best["stage2_alone_s"] / best["hybrid_s"]
    best["stage1_cost_share"] = best["stage1_alone_s"] / best["stage2_alone_s"]
    best["articles"] = len(articles)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in best.items()}


def tune_hybrid(
    stage1_dir: Path,
    stage2_dir: Path,
    out: Path,
    fn_target: float = 0.01,
    min_tier: str | None = None,
    data: str | None = None,
    split: str = "val",
    check_split: str | None = "test",
    threads: int | None = 2,
    repeats: int = 1,
    force: bool = False,
    allow_slower: bool = False,
) -> dict[str, Any]:
    from distillery.evaluate.predict import is_export_dir
    from distillery.evaluate.records import load_eval_records
    from distillery.runtime.hybrid import HYBRID_FILE, check_stages
    from distillery.runtime.manifest import ExportDir, sha256, write_manifest
    from distillery.runtime.onnx_scorer import OnnxScorer

    for name, d in (("stage 1", stage1_dir), ("stage 2", stage2_dir)):
        if not is_export_dir(Path(d)):
            raise DistilleryError(f"{d}: {name} must be an export dir (run `distillery export RUN --out DIR` first)")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise DistilleryError(f"{out}: exists and is not empty (use --force to overwrite)")
    s1 = OnnxScorer(stage1_dir, "int8", threads=threads)
    s2 = OnnxScorer(stage2_dir, "int8", threads=threads)
    check_stages(s1, s2, "tune-hybrid")
    spec = s2.spec
    tiers = spec.tier_names
    min_tier = min_tier or (tiers[-2] if len(tiers) > 1 else tiers[0])
    if min_tier not in tiers:
        raise DistilleryError(f"--min-tier {min_tier!r}: {spec.ref} has tiers {tiers}")

    def measure(records: list[dict]) -> tuple[np.ndarray, list[dict], list[dict]]:
        true = np.array([spec.labels_vector(r["labels"]) for r in records])
        return true, s1.score_batch(records), s2.score_batch(records)

    records, desc = load_eval_records(Path(stage2_dir), spec, data, None if data else split)
    true, r1, r2 = measure(records)
    positive = positives(spec, true, min_tier)
    reachable = np.array([r["passed_prefilter"] for r in r2])
    threshold = choose_threshold(np.array([r["weighted_average"] for r in r1]), positive, reachable, fn_target)
    result: dict[str, Any] = {"tuned_on": {"data": desc, **outcome(spec, true, r1, r2, threshold, min_tier, fn_target)}}
    if check_split and not data:
        try:
            crecs, cdesc = load_eval_records(Path(stage2_dir), spec, None, check_split)
        except DistilleryError:
            crecs = []
        if crecs:
            ct, c1, c2 = measure(crecs)
            result["check"] = {"data": cdesc, **outcome(spec, ct, c1, c2, threshold, min_tier, fn_target)}
    result["timing"] = t = {
        "threads": threads,
        "data": desc,
        "backends": [s1.backend, s2.backend],
        **time_both(s1, s2, records, threshold, repeats),
    }
    if t["speedup"] < 1:
        msg = (
            f"the hybrid is SLOWER than stage 2 alone: {t['speedup']:.2f}x (hybrid {t['hybrid_s']:.3f} s vs stage 2 "
            f"{t['stage2_alone_s']:.3f} s on {t['articles']} articles; stage 1 alone costs {t['stage1_cost_share']:.0%} "
            f"of stage 2, and {result['tuned_on']['skip_rate']:.0%} of articles skip stage 2)"
        )
        if not allow_slower:
            raise DistilleryError(
                f"{msg}; nothing written. Use a cheaper stage 1 (e.g. model=static_minilm) or --allow-slower"
            )
        print(f"WARNING: {msg}; writing it anyway (--allow-slower)", flush=True)
    result["timing"]["slower_than_stage2"] = t["speedup"] < 1

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for stage, src in (("stage1", stage1_dir), ("stage2", stage2_dir)):
        shutil.copytree(src, out / stage, ignore=shutil.ignore_patterns("benchmark*"))
    config = {
        "format": 1,
        "filter": spec.ref,
        "dimensions": spec.dimension_names,
        "threshold": threshold,
        "min_tier": min_tier,
        "fn_target": fn_target,
        "stage1": "stage1",
        "stage2": "stage2",
        "sources": {
            "stage1": {
                "export_dir": str(Path(stage1_dir).resolve()),
                "manifest_sha256": sha256(ExportDir(stage1_dir) / ExportDir.MANIFEST),
                "base_model": s1.manifest.get("base_model", {}).get("name"),
            },
            "stage2": {
                "export_dir": str(Path(stage2_dir).resolve()),
                "manifest_sha256": sha256(ExportDir(stage2_dir) / ExportDir.MANIFEST),
                "base_model": s2.manifest.get("base_model", {}).get("name"),
            },
        },
        **result,
    }
    write_json(out / HYBRID_FILE, config)
    (out / ExportDir.REPORT).write_text(report(config))
    write_manifest(out, {"format": 1, "kind": "hybrid", "filter": spec.ref, "hybrid_file": HYBRID_FILE})
    return config


def _row(name: str, o: dict[str, Any]) -> str:
    h, a = o["hybrid"], o["stage2_alone"]
    return (
        f"| {name} | {o['n']} | {o['positives']} | {o['skip_rate']:.1%} | {o['false_negatives']} ({o['fn_rate']:.2%}) "
        f"| {h['mae']:.3f} / {a['mae']:.3f} | {h['tier_accuracy']:.3f} / {a['tier_accuracy']:.3f} "
        f"| {h['recall_min_tier']:.3f} / {a['recall_min_tier']:.3f} |"
    )


def report(c: dict[str, Any]) -> str:
    t = c["timing"]
    lines = [
        f"# Hybrid scorer: {c['filter']}",
        "",
        f"Stage 1 `{c['sources']['stage1']['base_model']}` -> stage 2 `{c['sources']['stage2']['base_model']}` "
        f"when stage 1's weighted average >= **{c['threshold']:.4f}**, chosen on {c['tuned_on']['data']} for "
        f"a false-negative rate <= {c['fn_target']:.2%} of articles whose oracle tier is {c['min_tier']} or higher.",
        "",
        "| data | n | positives | skipped | false negatives | MAE hybrid / stage 2 | tier acc. hybrid / stage 2 "
        f"| recall >= {c['min_tier']} hybrid / stage 2 |",
        "|---|---|---|---|---|---|---|---|",
        _row("tuning: " + c["tuned_on"]["data"], c["tuned_on"]),
    ]
    if "check" in c:
        lines.append(_row("check: " + c["check"]["data"], c["check"]))
    lines += [
        "",
        f"Measured end to end on the {t['articles']} tuning articles, {t['threads']} thread(s), "
        f"INT8 {' + '.join(dict.fromkeys(t.get('backends', ['onnxruntime'])))}: "
        f"stage 2 alone {t['stage2_alone_s']:.3f} s, hybrid {t['hybrid_s']:.3f} s -> **{t['speedup']:.2f}x**; "
        f"stage 1 alone costs {t['stage1_cost_share']:.1%} of stage 2."
        + (" **Slower than stage 2 alone** (written with --allow-slower)." if t.get("slower_than_stage2") else ""),
        "",
    ]
    return "\n".join(lines)


class tune_hybrid_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--stage1", type=Path, required=True, help="export dir of the cheap scorer (e.g. an embedding probe)"
        )
        p.add_argument("--stage2", type=Path, required=True, help="export dir of the fine-tuned model")
        p.add_argument("--out", type=Path, required=True, help="hybrid dir to write")
        p.add_argument(
            "--fn-target",
            type=float,
            default=0.01,
            help="max share of min-tier-or-higher articles not sent to stage 2 (default 0.01)",
        )
        p.add_argument(
            "--min-tier", help="lowest tier that must not be missed (default: the second-lowest, e.g. medium)"
        )
        g = p.add_mutually_exclusive_group()
        g.add_argument(
            "--split",
            default="val",
            choices=["train", "val", "test"],
            help="split of stage 2's training data to tune on (default val)",
        )
        g.add_argument("--data", metavar="FILE", help="labelled JSONL to tune on instead")
        p.add_argument(
            "--check-split", default="test", help="held-out split to report the chosen threshold on ('' for none)"
        )
        p.add_argument("--threads", type=int, default=2, help="runtime threads for both stages (timing)")
        p.add_argument("--repeats", type=int, default=1, help="timed passes (best kept)")
        p.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
        p.add_argument(
            "--allow-slower",
            action="store_true",
            help="write the hybrid even when it is slower end to end than stage 2 alone (refused by default)",
        )

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        if not 0 <= args.fn_target < 1:
            raise DistilleryError(f"--fn-target {args.fn_target}: must be in [0, 1)")
        c = tune_hybrid(
            args.stage1,
            args.stage2,
            args.out,
            fn_target=args.fn_target,
            min_tier=args.min_tier,
            data=args.data,
            split=args.split,
            check_split=args.check_split or None,
            threads=args.threads,
            repeats=args.repeats,
            force=args.force,
            allow_slower=args.allow_slower,
        )
        print(report(c), end="")
        ok = c["tuned_on"]["meets_target"]
        print(f"hybrid dir: {args.out}" + ("" if ok else "  (FN target NOT met on the tuning data)"))
        return 0 if ok else 4
