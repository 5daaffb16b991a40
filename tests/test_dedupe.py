"""Leak-free splits: duplicates within a file are dropped and reported, duplicates across given
files are errors naming both file:lines, near-duplicates and groups never straddle splits."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from distillery.data.dedupe import (
    check_disjoint,
    components,
    content_hash,
    cross_split_duplicates,
    dedupe,
    fingerprint,
    split_groups,
)
from distillery.data.records import read_records
from distillery.errors import DistilleryError

WORDS = (
    "river council school harvest bridge clinic market teacher volunteer garden library storm "
    "village doctor festival bakery museum railway orchard harbour"
).split()


def _story(i: int, n: int = 300) -> str:
    rng = np.random.default_rng(1000 + i)
    return " ".join(rng.choice(WORDS, n)) + f" story{i}"


def _rec(uplifting, i: int, content: str | None = None, **extra) -> dict:
    rng = np.random.default_rng(i)
    labels = {d: float(round(rng.uniform(0, 10), 1)) for d in uplifting.dimension_names}
    return {"id": f"a{i}", "title": f"Title {i}", "content": content or _story(i), "labels": labels, **extra}


def _write(path, recs):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def _cfg(path, **kw):
    return OmegaConf.create(
        {
            "source": "jsonl",
            "path": str(path),
            "split": [0.8, 0.1, 0.1],
            "split_seed": 0,
            "near_dup_threshold": 0.8,
            **kw,
        }
    )


def _edit(text: str, k: int = 3) -> str:
    """A few words changed (same story, lightly edited)."""
    w = text.split()
    for j in range(k):
        w[10 + 30 * j] = "changed"
    return " ".join(w)


def test_repeat_across_train_and_val_files_names_both_lines(tmp_path, uplifting):
    from distillery.data.datamodule import load_splits

    train = [_rec(uplifting, i) for i in range(20)]
    val = [_rec(uplifting, 100 + i) for i in range(4)]
    val[2] = dict(train[16], id="copy")  # data/val.jsonl:3 duplicates data/train.jsonl:17
    val[3] = dict(_rec(uplifting, 200), content=_edit(train[4]["content"]))  # near: val.jsonl:4 ~ train.jsonl:5
    _write(tmp_path / "d" / "train.jsonl", train)
    _write(tmp_path / "d" / "val.jsonl", val)
    with pytest.raises(DistilleryError) as e:
        load_splits(_cfg(tmp_path / "d"), uplifting, tmp_path)
    msg = str(e.value)
    assert f"{tmp_path}/d/val.jsonl:3 duplicates {tmp_path}/d/train.jsonl:17 (exact duplicate)" in msg
    assert f"{tmp_path}/d/val.jsonl:4 duplicates {tmp_path}/d/train.jsonl:5 (near-duplicate, Jaccard 0." in msg
    # skip_invalid: dropped from the later split and reported
    splits, skipped, report = load_splits(_cfg(tmp_path / "d", skip_invalid=True), uplifting, tmp_path)
    assert len(splits["train"]) == 20 and [r["id"] for r in splits["val"]] == ["a100", "a101"]
    assert len(skipped) == 2 and "val.jsonl:3 duplicates" in skipped[0]
    assert report["cross_split_duplicates"] == 0 and report["cross_split_dropped"] == 2
    assert report["fingerprints"]["train"] == fingerprint(splits["train"])


def test_repeats_within_one_file_are_dropped_and_reported(tmp_path, uplifting, caplog):
    from distillery.data.datamodule import load_splits

    recs = [_rec(uplifting, i) for i in range(60)]
    recs += [dict(recs[i], id=f"dup{i}", title=recs[i]["title"].upper() + "  ") for i in range(0, 60, 3)]
    f = _write(tmp_path / "all.jsonl", recs)
    with caplog.at_level(logging.WARNING, logger="distillery.data"):
        splits, _, report = load_splits(_cfg(f), uplifting, tmp_path)
    assert any("20 duplicate(s) dropped" in r.getMessage() for r in caplog.records)
    assert report["deduplicated"][str(f)]["exact_dropped"] == 20
    assert sum(report["sizes"].values()) == 60 and report["cross_split_duplicates"] == 0
    train = {content_hash(r) for r in splits["train"]}
    assert not train & {content_hash(r) for r in splits["val"] + splits["test"]}
    assert not {r["id"] for r in splits["train"]} & {r["id"] for r in splits["val"]}


def test_near_duplicates_land_in_the_same_split(uplifting):
    base = [_rec(uplifting, i) for i in range(200)]
    recs = base + [_rec(uplifting, 500 + i, content=_edit(base[i]["content"])) for i in range(0, 200, 5)]
    kept, report = dedupe(recs, 0.8)
    assert len(kept) == len(recs) and len(report.near_links) == 40 and all(d.jaccard >= 0.8 for d in report.near_links)
    for seed in range(5):
        parts = split_groups(kept, uplifting, [0.6, 0.2, 0.2], seed, links=report.links)
        where = {r["id"]: s for s, rs in parts.items() for r in rs}
        assert all(where[f"a{i}"] == where[f"a{500 + i}"] for i in range(0, 200, 5))
        assert cross_split_duplicates(parts) == []
    # the same two articles, unlinked, would straddle some split
    plain = [split_groups(kept, uplifting, [0.6, 0.2, 0.2], s) for s in range(5)]
    assert any(cross_split_duplicates(p) for p in plain)
    # distinct stories on the same vocabulary are not near-duplicates
    assert dedupe(base, 0.8)[1].near_links == []


def test_shared_group_never_straddles_splits(uplifting):
    recs = [_rec(uplifting, i, group=f"story{i % 25}") for i in range(150)]
    assert len(set(components(recs))) == 25
    for seed in range(5):
        parts = split_groups(recs, uplifting, [0.8, 0.1, 0.1], seed)
        groups = {s: {r["group"] for r in rs} for s, rs in parts.items()}
        assert not groups["train"] & groups["val"] and not groups["train"] & groups["test"]
        assert not groups["val"] & groups["test"] and sum(map(len, parts.values())) == 150
        assert parts["val"] and parts["test"]


def test_group_across_given_files_is_an_error(uplifting):
    train = [_rec(uplifting, 1, group="g1")]
    val = [_rec(uplifting, 2, group="g1"), _rec(uplifting, 3)]
    with pytest.raises(DistilleryError, match=r"val#1 shares group 'g1' with train#1"):
        check_disjoint({"train": train, "val": val})


def test_no_duplicates_no_groups_is_todays_split(uplifting):
    from distillery.data.split import stratified_split

    recs = [_rec(uplifting, i) for i in range(100)]
    assert split_groups(recs, uplifting, [0.8, 0.1, 0.1], 3) == stratified_split(recs, uplifting, [0.8, 0.1, 0.1], 3)


def test_prepare_keeps_near_duplicates_together(tmp_path, uplifting):
    from distillery.oracle.prepare import prepare

    base = [_rec(uplifting, i) for i in range(80)]
    recs = (
        base
        + [dict(base[0], id="x")]
        + [_rec(uplifting, 900 + i, content=_edit(base[i]["content"])) for i in range(10)]
    )
    f = _write(tmp_path / "in.jsonl", recs)
    stats = prepare(uplifting, [f], tmp_path / "out", seed=1)
    assert stats["duplicates_dropped"] == 1 and stats["near_duplicate_pairs_kept_together"] == 10
    assert stats["split_report"]["cross_split_duplicates"] == 0


# ---- the JSONL reader never fails with anything but DistilleryError ----
GOOD = json.dumps({"id": "a", "title": "T", "content": "text", "labels": {}})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.integers(0, len(GOOD)).map(lambda n: GOOD[:n].encode()),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
            max_leaves=10,
        ).map(lambda o: json.dumps(o).encode()),
    ),
    skip=st.booleans(),
)
def test_reader_raises_only_distillery_errors(tmp_path, uplifting, data, skip):
    f = tmp_path / "fuzz.jsonl"
    f.write_bytes(data + b"\n" + b"[" * 100_000 + b"\n")
    try:
        report = read_records([f], uplifting, skip_invalid=skip)
    except DistilleryError:
        return
    assert len(report.records) == len(report.where)
