"""Oracle building blocks without a server: parse/repair, the ledger, cache keys, rate limits,
config loading and prepare."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from distillery.errors import DistilleryError
from distillery.oracle.config import Prices, load_config
from distillery.oracle.ledger import Ledger, cache_key
from distillery.oracle.parsing import InvalidAnswer, grounded, parse_answer
from distillery.oracle.ratelimit import RateLimiter


def _answer(spec, **over):
    a = {"content_type": "news_report"}
    a.update({d: {"evidence": "a quote", "score": 5} for d in spec.dimension_names})
    a.update(over)
    return a


def test_parse_clean_and_safe_repairs(uplifting):
    good = json.dumps(_answer(uplifting))
    ans = parse_answer(good, uplifting)
    assert ans.labels == {d: 5.0 for d in uplifting.dimension_names} and ans.repairs == []
    assert parse_answer(f"```json\n{good}\n```", uplifting).repairs == ["code_fence"]
    assert parse_answer(f"Here you go:\n{good}\nHope it helps", uplifting).repairs == ["preamble", "trailing_text"]
    assert parse_answer(good[:-1] + ",}", uplifting).repairs == ["trailing_comma"]
    # trailing commas inside nested objects and arrays, but not inside strings
    nested = good.replace('"score": 5}', '"score": 5,}').replace('"a quote"', '"x ,}"')
    ans = parse_answer(nested, uplifting)
    assert "trailing_comma" in ans.repairs and ans.evidence["evidence_level"] == "x ,}"
    d0 = uplifting.dimension_names[0]
    ans = parse_answer(json.dumps(_answer(uplifting, **{d0: {"evidence": "q", "score": "7.5"}})), uplifting)
    assert ans.labels[d0] == 7.5 and f"{d0}:numeric_string" in ans.repairs
    ans = parse_answer(json.dumps(_answer(uplifting, **{d0: 8})), uplifting)
    assert ans.labels[d0] == 8.0 and f"{d0}:bare_score" in ans.repairs
    ans = parse_answer(json.dumps(_answer(uplifting, content_type="Press Release")), uplifting)
    assert ans.content_type == "press_release" and "content_type_spelling" in ans.repairs
    ans = parse_answer(json.dumps(_answer(uplifting, **{d0: {"evidence": "q", "score": 10.0000001}})), uplifting)
    assert ans.labels[d0] == 10.0


@pytest.mark.parametrize(
    "text,finish,kind",
    [
        ("", "stop", "empty"),
        ('{"content_type": "news_report", "human_wellbeing_impact": {"evidence": "cut', "length", "truncated"),
        ("I refuse to answer", "stop", "malformed_json"),
        ("[1, 2, 3]", "stop", "malformed_json"),
        ('{"a": 1 "b": 2}', "stop", "malformed_json"),
    ],
)
def test_parse_unrepairable(uplifting, text, finish, kind):
    with pytest.raises(InvalidAnswer) as e:
        parse_answer(text, uplifting, finish)
    assert e.value.kind == kind


def test_parse_strict_validation(uplifting):
    d0, d_last = uplifting.dimension_names[0], uplifting.dimension_names[-1]
    cases = {
        "out_of_range": _answer(uplifting, **{d0: {"evidence": "q", "score": 42}}),
        "non_numeric": _answer(uplifting, **{d0: {"evidence": "q", "score": "high"}}),
    }
    missing = _answer(uplifting)
    missing.pop(d_last)
    cases["missing_dimensions"] = missing
    nan = json.dumps(_answer(uplifting)).replace('"score": 5}', '"score": NaN}', 1)
    for kind, obj in cases.items():
        with pytest.raises(InvalidAnswer) as e:
            parse_answer(json.dumps(obj), uplifting)
        assert e.value.kind == kind, kind
    with pytest.raises(InvalidAnswer, match="non_numeric"):
        parse_answer(nan, uplifting)
    # an off-list content type keeps the valid scores: unknown, no cap, the repair listed (not re-asked)
    poem = parse_answer(json.dumps(_answer(uplifting, content_type="poem")), uplifting)
    assert poem.content_type == "unknown" and "content_type_unknown:poem" in poem.repairs
    assert set(poem.labels) == set(uplifting.dimension_names)
    with pytest.raises(InvalidAnswer, match="refusal"):
        parse_answer(None, uplifting, refusal="I can't help with that")
    # an injected flat answer ("score": 10 for everything) does not pass for a valid one
    with pytest.raises(InvalidAnswer, match="missing_dimensions"):
        parse_answer('{"score": 10, "content_type": "news_report"}', uplifting)


def test_grounded_evidence():
    article = "The clinic, opened in May, now treats 2,000 patients a month."
    assert grounded('"now treats 2,000 patients a month"', article) is True
    assert grounded("opened in May ... 2,000 patients", article) is True
    assert grounded("treats 9,000 patients", article) is False
    assert grounded("none", article) is None


def test_ledger_durable_reload_lock_and_torn_line(tmp_path):
    path = tmp_path / "ledger.jsonl"
    with Ledger(path) as led:
        led.append({"key": "k1", "status": "ok", "labels": {"a": 1}, "cost_usd": 0.5})
        led.append({"key": "k2", "status": "invalid", "error_type": "out_of_range", "cost_usd": 0.25})
        led.append({"key": "k3", "status": "error", "error_type": "timeout", "cost_usd": 0.0})
        with pytest.raises(DistilleryError, match="in use by another"):
            Ledger(path)  # one writer at a time
    with open(path, "ab") as fh:  # what a kill -9 in the middle of a write leaves behind
        fh.write(b'{"key": "k4", "status": "ok", "lab')
    led = Ledger(path)
    assert led.recovered_bytes > 0 and "k1" in led and "k4" not in led
    assert len(led.state("k2").invalid) == 1 and led.state("k3").errors == 1 and "k3" not in led
    led.append({"key": "k4", "status": "ok", "cost_usd": 0.1})
    led.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(x) for x in lines)  # the torn line is gone, no corruption
    assert Ledger(path, readonly=True).state("k1").cost_usd == 0.5


def test_cache_key_changes_exactly_with_its_inputs():
    msgs = [{"role": "system", "content": "prompt"}, {"role": "user", "content": "article"}]
    base = cache_key("f/v1", "m", {"temperature": 0.3}, msgs)
    assert base == cache_key("f/v1", "m", {"temperature": 0.3}, [dict(m) for m in msgs])
    other = [msgs[0], {"role": "user", "content": "article 2"}]
    variants = [
        cache_key("f/v2", "m", {"temperature": 0.3}, msgs),
        cache_key("f/v1", "m2", {"temperature": 0.3}, msgs),
        cache_key("f/v1", "m", {"temperature": 0.0}, msgs),
        cache_key("f/v1", "m", {"temperature": 0.3}, other),
        cache_key("f/v1", "m", {"temperature": 0.3}, [{"role": "system", "content": "prompt!"}, msgs[1]]),
    ]
    assert len({base, *variants}) == 6


def test_rate_limiter_holds_requests_per_minute():
    async def go():
        limiter = RateLimiter(requests_per_minute=1200, tokens_per_minute=None, burst_s=0.25)  # 20/s, burst 5
        t0 = time.monotonic()
        for _ in range(15):
            await limiter.acquire(100)
        return time.monotonic() - t0

    elapsed = asyncio.run(go())
    assert 0.4 <= elapsed < 1.5  # 5 at once, then 10 more at 20/s


def test_config_layers_presets_and_prices(monkeypatch):
    cfg = load_config("deepseek", {"concurrency": 3, "model": None}, ["temperature=0.0", "extra_body.top_k=5"])
    assert (cfg.model, cfg.response_format, cfg.concurrency, cfg.temperature) == (
        "deepseek-chat",
        "json_object",
        3,
        0.0,
    )
    assert cfg.sampling() == {"temperature": 0.0, "max_tokens": 1500, "extra_body": {"top_k": 5}}
    p = Prices(cfg)
    assert p.known and p.cost(1_000_000, 0) == pytest.approx(0.27)
    assert Prices(load_config(None, {"model": "gpt-4o-mini-2024-07-18"})).source == "prices.yaml:gpt-4o-mini"
    assert not Prices(load_config(None, {"model": "mystery"})).known
    assert Prices(load_config("vllm")).known  # local presets are free
    with pytest.raises(DistilleryError, match="concurrency"):
        load_config(None, None, ["concurrency=0"])
    with pytest.raises(DistilleryError, match="unknown oracle preset"):
        load_config("nope")
    with pytest.raises(DistilleryError, match="typo"):
        load_config(None, None, ["typo=1"])
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:secret@127.0.0.1:9/v1")
    public = load_config().public_dict()
    assert public["base_url"] == "http://127.0.0.1:9/v1" and "secret" not in json.dumps(public)


def test_prepare_dedupes_and_splits_by_tier(tmp_path, uplifting, capsys):
    from distillery.cli import main
    from distillery.data.records import read_records, write_jsonl
    from distillery.data.synthetic import generate_corpus

    recs = generate_corpus(uplifting, 60, 3)
    dup = dict(recs[0], id="dup-of-0", content=recs[0]["content"] + "  ")  # same text modulo whitespace
    conflict = dict(recs[1], id="dup-of-1", labels={d: 0.0 for d in uplifting.dimension_names})
    write_jsonl(tmp_path / "a.jsonl", recs[:40])
    write_jsonl(tmp_path / "b.jsonl", recs[40:] + [dup, conflict])
    out = tmp_path / "prepared"
    assert (
        main(
            [
                "prepare",
                "--filter",
                "uplifting/v6",
                str(tmp_path / "a.jsonl"),
                str(tmp_path / "b.jsonl"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    stats = json.loads((out / "stats.json").read_text())
    assert stats["duplicates_dropped"] == 2 and stats["duplicates_with_different_labels"] == 1
    sizes = {k: len(read_records([out / f"{k}.jsonl"], uplifting).records) for k in ("train", "val", "test")}
    assert sum(sizes.values()) == 60 and sizes["train"] >= 44 and sizes["val"] >= 4 and sizes["test"] >= 4
    ids = [r["id"] for k in sizes for r in read_records([out / f"{k}.jsonl"]).records]
    assert len(set(ids)) == 60 and "dup-of-0" not in ids
    assert stats["splits"]["train"]["tokens_mean"] > 0 and "share_over_512_tokens" in stats["splits"]["test"]
    assert "prepare uplifting/v6" in capsys.readouterr().out
    wrong = dict(recs[2], filter="belonging", id="w")
    write_jsonl(tmp_path / "c.jsonl", [wrong])
    assert main(["prepare", "--filter", "uplifting/v6", str(tmp_path / "c.jsonl"), "--out", str(out)]) == 2
