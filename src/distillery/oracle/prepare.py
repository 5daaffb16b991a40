"""``distillery prepare``: labelled JSONL files -> deduplicated, tier-stratified train/val/test.

Merges the inputs (validated against the filter's data contract), drops exact duplicates
(:func:`distillery.data.dedupe.dedupe`: normalised content hash, the first occurrence wins;
duplicates whose labels disagree are counted), keeps near-duplicates and records sharing a
``group`` in one split (:func:`distillery.data.dedupe.split_groups`), splits 80/10/10
per tier (seeded; :func:`distillery.data.split.stratified_split`; records tagged ``"synthetic"``
go to train only when real records are there, unless ``--synthetic-in-eval``) and reports length statistics per split, in
characters and in estimated Qwen2.5 tokens.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from distillery.data.dedupe import DEFAULT_THRESHOLD, dedupe, split_groups, split_report
from distillery.data.records import read_records, write_jsonl
from distillery.data.split import holds_out_synthetic, is_synthetic, label_matrix
from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec

TOKEN_EDGES = (512, 1024, 2048)


def content_hash(rec: dict) -> str:  # kept for active/loop.py manifests; splits use data.dedupe
    text = " ".join(f"{rec.get('title') or ''}\n{rec.get('content') or ''}".split())
    return hashlib.sha256(text.encode()).hexdigest()


def _provenance_problem(rec: dict, spec: FilterSpec) -> str | None:
    name, version = rec.get("filter"), rec.get("filter_version")
    if name is not None and name not in (spec.name, spec.ref):
        return f"filter {name!r}"
    if version is not None and str(version).lstrip("v") != str(spec.version):
        return f"filter_version {version!r}"
    return None


def _estimate_tokens(text: str) -> float:
    try:  # calibrated on the real Qwen2.5 tokenizer
        from distillery.data.synthetic import estimate_tokens
    except ImportError:  # pragma: no cover
        return len(text) / 4
    return estimate_tokens(text)


def length_stats(records: Sequence[dict]) -> dict:
    if not records:
        return {"n": 0}
    chars = np.array([len(r.get("content") or "") for r in records], dtype=float)
    toks = np.array([_estimate_tokens(f"{r.get('title') or ''}\n\n{r.get('content') or ''}") for r in records])
    out = {
        "n": len(records),
        "chars_mean": round(float(chars.mean()), 1),
        "chars_median": float(np.median(chars)),
        "chars_p90": float(np.percentile(chars, 90)),
        "chars_max": int(chars.max()),
        "tokens_mean": round(float(toks.mean()), 1),
        "tokens_p90": round(float(np.percentile(toks, 90)), 1),
    }
    for edge in TOKEN_EDGES:
        out[f"share_over_{edge}_tokens"] = round(float((toks > edge).mean()), 4)
    return out


def prepare(
    spec: FilterSpec,
    paths: Sequence[str | Path],
    out: str | Path,
    seed: int = 0,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    skip_invalid: bool = False,
    synthetic_in_eval: bool = False,
    near_dup_threshold: float = DEFAULT_THRESHOLD,
    holdout: float | None = None,
) -> dict:
    report = read_records(paths, spec, skip_invalid=skip_invalid)
    wrong = [(r.get("id"), p) for r in report.records if (p := _provenance_problem(r, spec))]
    if wrong:
        raise DistilleryError(
            f"{len(wrong)} record(s) were labelled for another filter than {spec.ref} "
            f"(first: id {wrong[0][0]!r} has {wrong[0][1]})"
        )
    records, dedup = dedupe(report.records, near_dup_threshold, where=report.where, name="prepare")
    if not records:
        raise DistilleryError("no labelled records to split")
    duplicates, conflicting = len(dedup.dropped), dedup.labels_differ
    links, held, n_records = dedup.links, None, len(records)
    if holdout:  # carved first, by whole components: never shares a group or near-duplicate with train
        from distillery.release.holdout import carve_holdout

        records, links, held = carve_holdout(records, spec, holdout, seed, synthetic_in_eval, links)
    splits = split_groups(records, spec, fractions, seed, synthetic_in_eval, links)
    out = Path(out)
    files = {name: str(write_jsonl(out / f"{name}.jsonl", recs)) for name, recs in splits.items()}
    stats = {
        "filter": spec.ref,
        "inputs": [str(p) for p in paths],
        "read": len(report.records),
        "skipped_invalid": report.skipped,
        "duplicates_dropped": duplicates,
        "duplicates_with_different_labels": conflicting,
        "near_duplicate_pairs_kept_together": len(dedup.near_links),
        "split_report": split_report(splits, near_dup_threshold, {"inputs": dedup}),
        "records": n_records,
        "seed": seed,
        "fractions": list(fractions),
        "synthetic": sum(map(is_synthetic, records)),
        "synthetic_in_eval": synthetic_in_eval,
        "synthetic_held_out": holds_out_synthetic(records, synthetic_in_eval),
        "files": files,
        "splits": {},
    }
    for name, recs in splits.items():
        tiers = Counter(spec.tier(spec.weighted_average(label_matrix(recs, spec))).tolist()) if recs else Counter()
        stats["splits"][name] = {
            **length_stats(recs),
            "synthetic": sum(map(is_synthetic, recs)),
            "tiers": {t: tiers.get(t, 0) for t in spec.tier_names},
        }
    if held is not None:
        from distillery.release.holdout import write_holdout

        stats["holdout"] = write_holdout(out, held, spec, seed)
        stats["files"]["holdout"] = stats["holdout"]["file"]
        tiers = Counter(spec.tier(spec.weighted_average(label_matrix(held, spec))).tolist())
        stats["splits"]["holdout"] = {
            **length_stats(held),
            "synthetic": 0,
            "tiers": {t: tiers.get(t, 0) for t in spec.tier_names},
        }
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    return stats


def print_stats(stats: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(
        title=f"prepare {stats['filter']}: {stats['records']} records "
        f"({stats['duplicates_dropped']} duplicates dropped, "
        f"{stats['duplicates_with_different_labels']} with different labels)"
    )
    tier_names = list(next(iter(stats["splits"].values()))["tiers"])
    for col in ("split", "n", "/".join(tier_names), "chars median", "tokens mean", "% >512/1024/2048 tok"):
        t.add_column(col, justify="right" if col != "split" else "left")
    for name, s in stats["splits"].items():
        if not s["n"]:
            t.add_row(name, "0", "-", "-", "-", "-")
            continue
        over = "/".join(f"{100 * s[f'share_over_{e}_tokens']:.0f}" for e in (512, 1024, 2048))
        t.add_row(
            name,
            str(s["n"]),
            "/".join(str(s["tiers"][k]) for k in tier_names),
            f"{s['chars_median']:.0f}",
            f"{s['tokens_mean']:.0f}",
            over,
        )
    console.print(t)
    if stats["synthetic"]:
        where = (
            "all in train (--synthetic-in-eval to split them)"
            if stats["synthetic_held_out"]
            else "split like the rest"
            + (" (--synthetic-in-eval)" if stats["synthetic_in_eval"] else ": no real records")
        )
        console.print(f"{stats['synthetic']} synthetic record(s): {where}", highlight=False)
    if stats["skipped_invalid"]:
        console.print(f"skipped {len(stats['skipped_invalid'])} invalid line(s); first: {stats['skipped_invalid'][0]}")
    console.print(f"wrote {', '.join(stats['files'].values())}", highlight=False)
    if "holdout" in stats:
        h = stats["holdout"]
        console.print(
            f"holdout: {h['n']} records, fingerprint {h['fingerprint'][:12]} (never read by training; "
            f"judge candidates with `distillery gate CANDIDATE --baseline DEPLOYED --data {h['file']}`)",
            highlight=False,
        )
