"""Held-out sets that stay held out: carved out by ``prepare --holdout``, checked by the gate.

``distillery prepare --holdout N|FRACTION`` splits whole components first (exact duplicates
dropped, near-duplicates and records sharing a ``group`` kept together:
:func:`distillery.data.dedupe.split_groups`, stratified by tier), so no holdout article has a
near-duplicate or group-mate in train/val/test. It writes ``holdout.jsonl`` next to
train/val/test.jsonl (``data=jsonl data.path=<dir>`` reads only train/val/test.jsonl, so
training, calibration on val, hybrid tuning and active learning never see it) and
``holdout.json``: size, tiers and the fingerprint (:func:`distillery.data.dedupe.fingerprint`).

The gate re-reads the holdout, checks its fingerprint against ``holdout.json`` (an edited
holdout is refused) and refuses a candidate whose training data (its run's train and val
splits) shares an ``id`` or a content hash with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distillery.data.dedupe import content_hash, fingerprint, split_groups
from distillery.data.records import read_records, write_jsonl
from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec
from distillery.runtime.atomic import write_json

HOLDOUT = "holdout.jsonl"
HOLDOUT_META = "holdout.json"


def holdout_fraction(value: float, n: int) -> float:
    """``--holdout``: a count (>= 1) or a fraction in (0, 1) of ``n`` records, as a fraction."""
    if value <= 0:
        raise DistilleryError(f"--holdout must be a count >= 1 or a fraction in (0, 1), got {value:g}")
    frac = value / n if value >= 1 else value
    if frac >= 1:
        raise DistilleryError(f"--holdout {value:g} leaves nothing to train on ({n} records)")
    return frac


def carve_holdout(
    records: Sequence[dict],
    spec: FilterSpec,
    holdout: float,
    seed: int = 0,
    synthetic_in_eval: bool = False,
    links: Sequence[tuple[int, int]] = (),
) -> tuple[list[dict], list[tuple[int, int]], list[dict]]:
    """(rest, rest's links re-indexed, holdout): whole components, stratified by tier."""
    frac = holdout_fraction(holdout, len(records))
    parts = split_groups(records, spec, (1 - frac, 0.0, frac), seed, synthetic_in_eval, links)
    held = parts["test"]
    held_ids = {id(r) for r in held}
    pos = {}
    rest = []
    for i, r in enumerate(records):
        if id(r) not in held_ids:
            pos[i] = len(rest)
            rest.append(r)
    rest_links = [(pos[a], pos[b]) for a, b in links if a in pos and b in pos]
    if not held:
        raise DistilleryError(f"--holdout {holdout:g} of {len(records)} records is empty; ask for more")
    return rest, rest_links, held


def write_holdout(out: Path, records: Sequence[dict], spec: FilterSpec, seed: int) -> dict[str, Any]:
    """Write ``holdout.jsonl`` and ``holdout.json``; returns the metadata."""
    path = write_jsonl(Path(out) / HOLDOUT, records)
    meta = {
        "file": str(path),
        "filter": spec.ref,
        "n": len(records),
        "seed": seed,
        "fingerprint": fingerprint(records),
        "never_read_by": "training (data=jsonl reads train/val/test.jsonl only), calibrate, tune-hybrid, active-learn",
    }
    write_json(Path(out) / HOLDOUT_META, meta)
    return meta


def read_holdout(path: str | Path, spec: FilterSpec) -> tuple[list[dict], dict[str, Any]]:
    """The holdout's records and what is known of it (fingerprint; whether it matches holdout.json)."""
    path = Path(path)
    if not path.is_file():
        raise DistilleryError(f"{path}: no such holdout file")
    records = read_records([path], spec).records
    if not records:
        raise DistilleryError(f"{path}: no labelled records")
    info: dict[str, Any] = {"file": str(path), "n": len(records), "fingerprint": fingerprint(records)}
    meta_path = path.with_name(HOLDOUT_META)
    if meta_path.is_file() and path.name == HOLDOUT:
        meta = json.loads(meta_path.read_text())
        info["recorded_fingerprint"] = meta.get("fingerprint")
        if meta.get("fingerprint") != info["fingerprint"]:
            raise DistilleryError(
                f"{path}: fingerprint {info['fingerprint'][:12]} differs from {meta_path}'s "
                f"{str(meta.get('fingerprint'))[:12]}: the holdout was edited after `prepare --holdout`"
            )
    return records, info


def training_records(target: Path, spec: FilterSpec) -> tuple[list[dict], str] | None:
    """The train + val records a run dir / export dir was trained (and early-stopped, calibrated)
    on, from its recorded data config; None when that is not known."""
    from distillery.evaluate.records import load_eval_records

    out: list[dict] = []
    descs = []
    for split in ("train", "val"):
        try:
            recs, desc = load_eval_records(Path(target), spec, None, split)
        except (DistilleryError, FileNotFoundError, OSError):
            if split == "train":
                return None
            continue
        out += recs
        descs.append(desc)
    return out, "; ".join(descs)


def overlap(holdout: Sequence[dict], training: Sequence[dict]) -> dict[str, Any]:
    """Holdout records sharing an ``id`` or a content hash with the training records."""
    ids = {str(r["id"]) for r in training if r.get("id") is not None}
    hashes = {content_hash(r) for r in training}
    hits = [r for r in holdout if str(r.get("id")) in ids or content_hash(r) in hashes]
    return {
        "count": len(hits),
        "by_id": sum(str(r.get("id")) in ids for r in hits),
        "by_content": sum(content_hash(r) in hashes for r in hits),
        "examples": [str(r.get("id")) for r in hits[:10]],
        "training_records": len(training),
    }
