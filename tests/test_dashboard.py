"""The dashboard: run registry (incremental), adapters per run kind, the offline site, the CLI,
and the page in a real headless Chromium (skipped, with the reason, when no browser is installed).

The run dirs are written here in the exact layouts the other stages write (train/task.py,
evaluate/report.py, export/pipeline.py + benchmark.py, oracle/run.py + ledger.py), small and fast.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distillery.cli import main
from distillery.dashboard.common import N_BINS
from distillery.dashboard.oracle import read_ledger_incremental
from distillery.dashboard.registry import Registry
from distillery.dashboard.site import write_site

UP = "uplifting/v6"
BEL = "belonging/v1"


# ---- a small outputs tree in the real layouts -------------------------------------------------------
def _dims(ref: str) -> list[str]:
    from distillery.filters import load_filter

    return load_filter(ref).dimension_names


def _metrics_block(dims: list[str], mae: float, rng: random.Random) -> dict:
    m = {
        "mae": mae,
        "rmse": mae * 1.25,
        "spearman": 0.2 + rng.random() / 2,
        "weighted_mae": mae * 0.8,
        "tier_accuracy": 0.5 + rng.random() / 3,
        "mean_baseline_mae": 1.9,
    }
    for d in dims:
        m[f"{d}/mae"] = mae + rng.uniform(-0.3, 0.3)
        m[f"{d}/rmse"] = m[f"{d}/mae"] * 1.2
        m[f"{d}/spearman"] = rng.uniform(-0.1, 0.6)
    m["mae_vs_baseline"] = mae / 1.9
    return m


def _write(p: Path, data) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return p


def make_train_run(
    d: Path,
    ref: str,
    model: str,
    mae: float | None,
    seed: int = 0,
    started: str = "2026-11-20T10:00:00+0000",
    ctx: str = "trunc512",
    wandb_id: str | None = None,
    failed: bool = False,
) -> Path:
    import yaml

    rng = random.Random(seed)
    dims = _dims(ref)
    cfg = {
        "filter": {"name": ref},
        "model": {"name": model},
        "context_strategy": {"name": ctx, "max_tokens": 128},
        "loss": {"name": "mse"},
        "seed": seed,
        "tags": ["smoke"],
        "data": {"source": "synthetic", "n": 240},
        "logger": {"kind": "wandb" if wandb_id else "none", "project": "distillery", "entity": None, "group": ref},
    }
    _write(d / "config.yaml", yaml.safe_dump(cfg))
    _write(
        d / "run.json", {"task": "train", "seed": seed, "started": started, "git": {"sha": "abc123", "dirty": False}}
    )
    if wandb_id:
        (d / "wandb" / f"offline-run-20261120_100000-{wandb_id}").mkdir(parents=True)
    if failed:
        _write(d / "error.log", "Traceback (most recent call last):\n  ...\nRuntimeError: CUDA out of memory\n")
    elif mae is not None:
        _write(
            d / "metrics.json",
            {
                "filter": ref,
                "seed": seed,
                "epochs": 1,
                "train_seconds": 30.5,
                "inference_ms_per_article": 4.2,
                "n": {"train": 192, "val": 24, "test": 24},
                "val": _metrics_block(dims, mae, rng),
                "test": _metrics_block(dims, mae + 0.2, rng),
            },
        )
    return d


def make_tree(root: Path) -> dict[str, Path]:
    out = root / "outputs"
    runs = out / "train" / "runs"
    p: dict[str, Path] = {}
    p["t1"] = make_train_run(
        runs / "2026-11-20_10-00-00_aaaaaa", UP, "tiny-qwen2", 1.90, 0, "2026-11-20T10:00:00+0000", wandb_id="w1abc"
    )
    p["t2"] = make_train_run(
        runs / "2026-11-21_10-00-00_bbbbbb", UP, "tiny-phi", 1.80, 1, "2026-11-21T10:00:00+0000", wandb_id="w2def"
    )
    p["t3"] = make_train_run(
        runs / "2026-11-22_10-00-00_cccccc", UP, "tiny-qwen2", 1.70, 2, "2026-11-22T10:00:00+0000", ctx="head_tail"
    )
    p["tfail"] = make_train_run(
        runs / "2026-11-22_11-00-00_dddddd", UP, "tiny-qwen2", None, 3, "2026-11-22T11:00:00+0000", failed=True
    )
    p["bel"] = make_train_run(
        runs / "2026-11-22_12-00-00_eeeeee", BEL, "tiny-qwen2", 2.10, 0, "2026-11-22T12:00:00+0000", wandb_id="w3ghi"
    )
    p["bel2"] = make_train_run(
        runs / "2026-11-23_12-00-00_ffffff", BEL, "tiny-qwen2", 1.95, 1, "2026-11-23T12:00:00+0000"
    )
    # a sweep: multirun.yaml + job dirs <num>_<override_dirname>/ (compare.py's layout)
    sw = out / "train" / "multiruns" / "2026-11-22_13-00-00_sweep1"
    _write(
        sw / "multirun.yaml",
        "hydra:\n  job:\n    config_name: context_length\n  sweeper:\n    params:\n"
        "      context_strategy: trunc512,head_tail\nfilter:\n  name: uplifting/v6\n",
    )
    for i, (ctx, mae) in enumerate((("trunc512", 1.85), ("head_tail", 1.75))):
        j = make_train_run(
            sw / f"{i}_context_strategy={ctx}", UP, "tiny-qwen2", mae, 0, "2026-11-22T13:00:00+0000", ctx=ctx
        )
        _write(j / ".hydra" / "overrides.yaml", f"- context_strategy={ctx}\n")
    _write(sw / "compare.csv", "variant,val_mae\n")
    p["sweep"] = sw
    # an evaluation: metrics.json (final/raw), run.json, predictions.jsonl (evaluate/report.py)
    ev = out / "evaluate" / "runs" / "2026-11-23_09-00-00_ev0001"
    dims = _dims(UP)
    rng = random.Random(5)
    _write(
        ev / "run.json", {"task": "evaluate", "seed": 0, "started": "2026-11-23T09:00:00+0000", "target": str(p["t3"])}
    )
    _write(
        ev / "metrics.json",
        {
            "target": str(p["t3"]),
            "kind": "pytorch",
            "data": "split test of synthetic data",
            "filter": UP,
            "ms_per_article": 3.1,
            "calibrated": False,
            "final": _metrics_block(dims, 1.65, rng),
            "raw": _metrics_block(dims, 1.7, rng),
            "ranking": {"r_precision": 0.4},
        },
    )
    lines = []
    for i in range(40):
        labels = {d: round(rng.uniform(0, 10), 1) for d in dims}
        scores = {d: min(10, max(0, v + rng.gauss(0, 1))) for d, v in labels.items()}
        lines.append(
            json.dumps(
                {
                    "id": f"a{i}",
                    "labels": labels,
                    "scores": scores,
                    "raw": scores,
                    "weighted_average": sum(scores.values()) / len(dims),
                    "oracle_weighted_average": sum(labels.values()) / len(dims),
                }
            )
        )
    _write(ev / "predictions.jsonl", "\n".join(lines) + "\n")
    _write(ev / "report.md", "# report\n")
    p["eval"] = ev
    # oracle scoring: summary.json, prefilter_report.json, labelled.jsonl, ledger.jsonl (oracle/run.py)
    sc = out / "oracle" / "uplifting_v6"
    led = []
    for i in range(30):
        month = "2026-10" if i < 12 else "2026-11"
        led.append(
            {
                "key": f"k{i}",
                "filter": UP,
                "model": "test-oracle",
                "status": "ok" if i % 10 else "invalid",
                "usage": {"prompt_tokens": 1000, "completion_tokens": 200},
                "cost_usd": 0.0005,
                "latency_s": 0.2,
                "ts": f"{month}-15T10:00:{i:02d}+0000",
            }
        )
    _write(sc / "ledger.jsonl", "".join(json.dumps(r) + "\n" for r in led))
    _write(
        sc / "labelled.jsonl",
        "".join(
            json.dumps(
                {
                    "id": f"s{i}",
                    "labels": {d: rng.uniform(0, 10) for d in dims},
                    "oracle_answer": {"weighted_average": rng.uniform(0, 10), "tier": "low"},
                }
            )
            + "\n"
            for i in range(25)
        ),
    )
    pf = {
        "filter": UP,
        "articles": 40,
        "passed": 30,
        "pass_rate": 0.75,
        "by_reason": {
            "passed": {"count": 30, "share": 0.75},
            "excluded_sports_results": {"count": 6, "share": 0.15},
            "too_short": {"count": 4, "share": 0.1},
        },
        "audit_blocked": {
            "excluded_sports_results": {"blocked": 6, "audited": 4, "relevant": 1, "false_negative_rate": 0.25},
            "too_short": {"blocked": 4, "audited": 2, "relevant": 0, "false_negative_rate": 0.0},
        },
        "passed_scored": {"scored": 25, "oracle_lowest_tier": 5, "false_positive_rate": 0.2},
    }
    _write(sc / "prefilter_report.json", pf)
    _write(
        sc / "summary.json",
        {
            "filter": UP,
            "articles": 40,
            "blocked": 10,
            "passed": 30,
            "audited_blocked": 6,
            "labelled": 25,
            "run": {
                "scored": 25,
                "failed": 0,
                "errors": 0,
                "prompt_tokens": 25000,
                "completion_tokens": 5000,
                "cost_usd": 0.0125,
                "elapsed_s": 5.0,
                "stopped": None,
            },
            "articles_per_s": 5.0,
            "ledger": str(sc / "ledger.jsonl"),
            "prices": {"known": True},
            "oracle": {"provider": "openai", "model": "test-oracle"},
            "prefilter": pf,
        },
    )
    p["score"] = sc
    # an export outside the outputs folder: manifest.json, parity.json, benchmark.json (export/)
    ex = root / "exports" / "uplifting_v6"
    parity = {
        "n": 32,
        "fp32": {"max_abs_diff": 4.8e-7, "atol": 1e-3, "passed": True, "tokenizer": {"mismatched_articles": 0}},
        "int8_tried": [{"config": "dynamic"}],
        "int8_config": "dynamic",
        "int8": {
            "mae_fp32": 2.27,
            "mae_int8": 2.29,
            "mae_rel_change": 0.0098,
            "tier_agreement": 1.0,
            "min_spearman_vs_fp32": 0.994,
            "int8_mae_tol": 0.01,
            "passed": True,
            "failed_because": [],
        },
    }
    _write(ex / "parity.json", parity)
    _write(
        ex / "manifest.json",
        {
            "format": 1,
            "filter": UP,
            "base_model": {"name": "tiny-qwen2"},
            "parity": parity,
            "context_strategy": {"kind": "trunc", "max_tokens": 128},
            "models": {"fp32": {"file": "model.fp32.onnx"}, "int8": {"file": "model.int8.onnx"}},
            "files": {"model.fp32.onnx": {"bytes": 4_000_000}, "model.int8.onnx": {"bytes": 1_200_000}},
            "source": {"run_dir": str(p["t3"])},
            "export_seconds": 12.0,
        },
    )
    _write(ex / "model.int8.onnx", "")
    rows = [
        {
            "length": L,
            "backend": b,
            "n": 8,
            "batch_size": 8,
            "ms_per_article": ms,
            "articles_per_s": 1000 / ms,
            "speedup_vs_pytorch": sp,
        }
        for L in (128, 256)
        for b, ms, sp in (
            ("pytorch", 10.0 * L / 128, 1.0),
            ("onnx-fp32", 6.0 * L / 128, 1.67),
            ("onnx-int8", 4.0 * L / 128, 2.5),
        )
    ]
    _write(ex / "benchmark.json", {"rows": rows, "threads": 1, "when": "2026-11-23T10:00:00+0000"})
    p["export"] = ex
    p["outputs"], p["exports"] = out, root / "exports"
    return p


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    return make_tree(tmp_path)


def _registry(tree, tmp_path) -> Registry:
    return Registry(tmp_path / "site" / "registry.sqlite", [tree["outputs"], tree["exports"]])


def _bump(path: Path, text: str | None = None) -> None:
    if text is not None:
        path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


# ---- registry --------------------------------------------------------------------------------
def test_registry_reads_only_changed_dirs(tree, tmp_path):
    with _registry(tree, tmp_path) as reg:
        first = reg.update()
        n = first.discovered
        # 6 runs + sweep + 2 jobs + evaluate + score + export
        assert n == 12 and first.read == n and first.unchanged == 0, first
        second = reg.update()
        assert (second.read, second.unchanged, second.removed) == (0, n, 0), second

        m = tree["t2"] / "metrics.json"
        data = json.loads(m.read_text())
        data["val"]["mae"] = 1.5
        _bump(m, json.dumps(data))
        third = reg.update()
        # the run and nothing else (the sweep does not watch runs outside it)
        assert third.read_paths == [str(tree["t2"].resolve())], third
        row = next(r for r in reg.rows("train") if r["path"] == str(tree["t2"].resolve()))
        assert row["metrics"]["val"]["mae"] == 1.5

        # a sweep job's metrics change: the job and its sweep are re-read
        job = next(tree["sweep"].glob("1_*"))
        _bump(job / "metrics.json")
        assert sorted(reg.update().read_paths) == sorted([str(tree["sweep"].resolve()), str(job.resolve())])

        # a new run appears, one disappears
        import shutil

        shutil.rmtree(tree["bel2"])
        make_train_run(tree["outputs"] / "train" / "runs" / "2026-11-24_10-00-00_gggggg", UP, "tiny-qwen2", 1.6, 9)
        fourth = reg.update()
        assert (fourth.read, fourth.removed, fourth.discovered) == (1, 1, n), fourth

        # --full re-reads everything
        assert reg.update(full=True).read == n


def test_registry_unreadable_dir_is_recorded_and_retried(tree, tmp_path):
    with _registry(tree, tmp_path) as reg:
        reg.update()
        m = tree["t1"] / "metrics.json"
        good = m.read_text()
        _bump(m, "{not json")
        s = reg.update()
        assert s.unreadable == 1
        row = next(r for r in reg.rows("train") if r["name"] == tree["t1"].name)
        assert row["status"] == "unreadable" and "JSONDecodeError" in row["error"] and row["filter"] == UP
        assert reg.update().read == 0  # not retried until it changes
        _bump(m, good)
        assert reg.update().read == 1
        assert next(r for r in reg.rows("train") if r["name"] == tree["t1"].name)["status"] == "ok"


def test_ledger_is_read_incrementally(tree, tmp_path):
    led = tree["score"] / "ledger.jsonl"
    first = read_ledger_incremental(led, None)
    assert first["read_bytes"] == led.stat().st_size
    assert first["months"]["2026-10|uplifting/v6|test-oracle"]["requests"] == 12
    size = led.stat().st_size
    extra = (
        json.dumps(
            {
                "key": "new",
                "filter": UP,
                "model": "test-oracle",
                "status": "ok",
                "cost_usd": 0.001,
                "usage": {"prompt_tokens": 10, "completion_tokens": 5},
                "ts": "2026-12-01T00:00:00+0000",
            }
        )
        + "\n"
    )
    with open(led, "a") as fh:
        fh.write(extra + '{"partial": ')  # a line still being written is left for next time
    second = read_ledger_incremental(led, first)
    assert second["read_bytes"] == len(extra)
    assert second["offset"] == size + len(extra)
    assert second["months"]["2026-12|uplifting/v6|test-oracle"] == {
        "requests": 1,
        "ok": 1,
        "invalid": 0,
        "error": 0,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost_usd": 0.001,
        "latency_s": 0.0,
    }
    assert second["months"]["2026-11|uplifting/v6|test-oracle"] == first["months"]["2026-11|uplifting/v6|test-oracle"]
    # rewritten from the start (not an append): everything is read again
    led.write_text(
        json.dumps({"key": "x", "filter": UP, "model": "m2", "status": "ok", "ts": "2027-01-01T00:00:00"}) + "\n"
    )
    third = read_ledger_incremental(led, second)
    assert list(third["months"]) == ["2027-01|uplifting/v6|m2"]


def test_adapters_read_each_kind(tree, tmp_path):
    with _registry(tree, tmp_path) as reg:
        reg.update()
        rows = {r["path"]: r for r in reg.rows()}
    get = lambda k: rows[str(tree[k].resolve())]  # noqa: E731
    t1 = get("t1")
    assert t1["kind"] == "train" and t1["status"] == "ok" and t1["filter"] == UP and t1["model"] == "tiny-qwen2"
    assert t1["started"].startswith("2026-11-") and t1["dims"] == _dims(UP)
    assert t1["wandb"]["id"] == "w1abc" and t1["wandb"]["mode"] == "offline" and "wandb sync" in t1["wandb"]["sync"]
    f = get("tfail")
    assert f["status"] == "failed" and "CUDA out of memory" in f["error"] and f["filter"] == UP
    sw = get("sweep")
    assert sw["kind"] == "sweep" and sw["sweep_name"] == "context_length" and sw["filter"] == UP
    assert [j["variant"] for j in sw["jobs"]] == ["context_strategy=trunc512", "context_strategy=head_tail"]
    assert sw["baseline"] == sw["jobs"][0]["path"]
    job = rows[sw["jobs"][1]["path"]]
    assert job["kind"] == "train" and job["sweep"] == str(tree["sweep"].resolve())
    ev = get("eval")
    assert ev["kind"] == "evaluate" and ev["metrics"]["final"]["mae"] == pytest.approx(1.65)
    assert ev["predictions"]["n"] == 40 and len(ev["predictions"]["student"]["weighted_average"]) == N_BINS
    assert sum(ev["predictions"]["oracle"][_dims(UP)[0]]) == 40
    ex = get("export")
    assert ex["kind"] == "export" and ex["status"] == "ok" and ex["parity"]["int8_config"] == "dynamic"
    assert len(ex["benchmark"]["rows"]) == 6 and ex["sizes"] == {"fp32": 4_000_000, "int8": 1_200_000}
    sc = get("score")
    assert sc["kind"] == "score" and sc["prefilter"]["audit_blocked"]["too_short"]["false_negative_rate"] == 0.0
    assert sc["labels"]["n"] == 25 and sc["articles_per_s"] == 5.0
    assert sc["ledger"]["months"]["2026-11|uplifting/v6|test-oracle"]["requests"] == 18


def test_unknown_kind_shows_up(tree, tmp_path):
    d = tree["outputs"] / "distil" / "runs" / "2026-11-25_10-00-00_zzzzzz"
    _write(d / "run.json", {"task": "distil", "started": "2026-11-25T10:00:00+0000"})
    with _registry(tree, tmp_path) as reg:
        reg.update()
        row = next(r for r in reg.rows() if r["name"] == d.name)
    assert row["kind"] == "distil" and row["unknown_kind"] and row["status"] == "incomplete"


# ---- the site --------------------------------------------------------------------------------
def _site(tree, tmp_path) -> Path:
    with _registry(tree, tmp_path) as reg:
        reg.update()
        return write_site(reg.rows(), tmp_path / "site", [tree["outputs"], tree["exports"]])


def _page_data(html: str) -> dict:
    m = re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_site_is_offline_and_self_contained(tree, tmp_path):
    html = _site(tree, tmp_path).read_text()
    # nothing is loaded from the network: no external script / stylesheet / image / frame
    tags = re.findall(r"<(?:script|link|img|iframe|source|embed)\b[^>]*>", html, re.I)
    assert not [t for t in tags if re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", t, re.I)], tags
    assert not [t for t in tags if re.search(r"\bsrc\s*=", t, re.I)]  # every script is inline
    assert "plotly.js v" in html and len(html) > 3_000_000  # plotly.js inlined from the package
    data = _page_data(html)
    assert data["filters"][0] == UP and BEL in data["filters"]
    assert {r["kind"] for r in data["runs"]} == {"train", "sweep", "evaluate", "score", "export"}
    t1 = next(r for r in data["runs"] if r["name"] == tree["t1"].name)
    assert t1["href"] == "../outputs/train/runs/2026-11-20_10-00-00_aaaaaa/"  # relative: the folder can move
    assert t1["wandb"]["href"].endswith("/wandb/offline-run-20261120_100000-w1abc/")
    assert {(c["month"], c["requests"]) for c in data["costs"]} == {("2026-10", 12), ("2026-11", 18)}


def test_site_escapes_data(tree, tmp_path):
    make_train_run(
        tree["outputs"] / "train" / "runs" / "2026-11-26_10-00-00_x<script>&amp",
        UP,
        "</script><script>alert(1)</script>",
        1.5,
    )
    html = _site(tree, tmp_path).read_text()
    assert "</script><script>alert(1)" not in html
    assert any(r.get("model") == "</script><script>alert(1)</script>" for r in _page_data(html)["runs"])


def test_cli_dashboard(tree, tmp_path, capsys):
    out = tree["outputs"]
    assert main(["dashboard", "--outputs", str(out), "--scan", str(tree["exports"])]) == 0
    index = out / "dashboard" / "index.html"
    assert index.is_file() and (out / "dashboard" / "registry.sqlite").is_file()
    assert "12 read" in capsys.readouterr().out
    assert main(["dashboard", "--outputs", str(out), "--scan", str(tree["exports"])]) == 0
    assert "0 read, 12 unchanged" in capsys.readouterr().out
    assert main(["dashboard", "--outputs", str(tmp_path / "nope")]) == 2


def test_cli_serve_binds_localhost(tree):
    import urllib.request

    env = {**os.environ, "DISTILLERY_OUTPUTS": str(tree["outputs"])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "distillery.cli", "dashboard", "--serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = None
        deadline = time.time() + 60
        while time.time() < deadline and url is None:
            line = proc.stdout.readline()
            m = re.search(r"(http://127\.0\.0\.1:\d+/\S+)", line)
            url = m.group(1) if m else None
            if not line and proc.poll() is not None:
                break
        assert url, proc.stderr.read()
        assert url.endswith("/dashboard/index.html")
        with urllib.request.urlopen(url, timeout=30) as r:
            assert b"distillery-dashboard" in r.read()
        run_url = url.rsplit("/dashboard/", 1)[0] + "/train/runs/2026-11-20_10-00-00_aaaaaa/metrics.json"
        with urllib.request.urlopen(run_url, timeout=30) as r:  # run dirs are linked relative to the site
            assert json.loads(r.read())["filter"] == UP
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ---- in a real browser ---------------------------------------------------------------------------
CHARTS = ("chart-accuracy", "chart-dims", "chart-dist", "chart-prefilter", "chart-cost", "chart-sweep", "chart-export")
CHART_STATE = """return Array.from(document.querySelectorAll('.chart')).map(d => ({
  id: d.id, hidden: d.hidden, points: Number(d.dataset.points || 0),
  drawn: d.querySelectorAll('.point').length,
  ys: (d.data || []).map(t => Array.from(t.y || [])) }));"""


@pytest.fixture
def browser(tmp_path):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium)")
    from distillery.dashboard.browser import INSTALL_HINT, find_chromedriver, find_chromium, flags

    exe, drv = find_chromium(), find_chromedriver()
    if not exe or not drv:
        pytest.skip(f"no headless browser here (chromium: {exe}, chromedriver: {drv}): {INSTALL_HINT}")
    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for f in flags(tmp_path / "chromium-profile", 1440, 1000):
        opts.add_argument(f)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=drv), options=opts)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def _severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def test_dashboard_in_headless_chromium(tree, tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    index = _site(tree, tmp_path)
    browser.get(index.resolve().as_uri())
    WebDriverWait(browser, 60).until(lambda d: d.execute_script("return window.dashboardReady === true"))
    assert _severe(browser) == []

    # every chart of the default filter renders data points (SVG markers / bars, not just a frame)
    state = {c["id"]: c for c in browser.execute_script(CHART_STATE)}
    for cid in CHARTS:
        assert not state[cid]["hidden"] and state[cid]["points"] > 0 and state[cid]["drawn"] > 0, (cid, state[cid])
    # 4 training runs + the sweep and its 2 jobs + the evaluation + the score run + the export
    assert browser.find_element(By.ID, "table-runs").get_attribute("data-rows") == "10"
    assert int(browser.find_element(By.ID, "table-sweep").get_attribute("data-rows")) == 2
    # links: the run dir and the (offline) W&B run
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#table-runs a")]
    assert any(h.endswith("/2026-11-20_10-00-00_aaaaaa/") for h in links)
    assert any("offline-run-20261120_100000-w1abc" in h for h in links)

    # full-page screenshot under the test's output
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1440, min(int(height) + 120, 6000))
    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")

    # the dimension selector redraws the accuracy and distribution charts for that dimension
    dim = _dims(UP)[1]
    Select(browser.find_element(By.ID, "select-dim")).select_by_value(dim)
    after = {c["id"]: c for c in browser.execute_script(CHART_STATE)}
    assert browser.execute_script("return document.body.dataset.dim") == dim
    for cid in ("chart-accuracy", "chart-dist"):
        assert after[cid]["points"] > 0 and after[cid]["ys"] != state[cid]["ys"], cid
    assert dim.replace("_", " ") in browser.find_element(By.CSS_SELECTOR, "#panel-accuracy .caption").text
    # a whole-filter metric with a dimension selected: a clear message instead of a wrong chart
    Select(browser.find_element(By.ID, "select-metric")).select_by_value("tier_accuracy")
    assert "overall" in browser.find_element(By.CSS_SELECTOR, "#panel-accuracy .empty").text

    # the filter selector switches every panel to the other filter
    Select(browser.find_element(By.ID, "select-metric")).select_by_value("mae")
    Select(browser.find_element(By.ID, "select-filter")).select_by_value(BEL)
    bel = {c["id"]: c for c in browser.execute_script(CHART_STATE)}
    assert browser.execute_script("return document.body.dataset.filter") == BEL
    assert browser.execute_script("return document.body.dataset.dim") == "overall"  # a belonging dimension list
    assert len(bel["chart-accuracy"]["ys"][0]) == 2 and bel["chart-accuracy"]["ys"] != after["chart-accuracy"]["ys"]
    assert bel["chart-sweep"]["hidden"] and bel["chart-export"]["hidden"]  # none for this filter: a message
    assert browser.find_element(By.ID, "table-runs").get_attribute("data-rows") == "2"
    assert bel["chart-cost"]["points"] > 0  # project-wide
    assert _severe(browser) == []

    # an empty registry still gives a working page: every panel says why it is empty
    empty = write_site([], tmp_path / "empty-site", [tmp_path / "nothing"])
    browser.get(empty.resolve().as_uri())
    WebDriverWait(browser, 60).until(lambda d: d.execute_script("return window.dashboardReady === true"))
    assert all(c["hidden"] for c in browser.execute_script(CHART_STATE))
    assert _severe(browser) == []


def test_wandb_links():
    from distillery.dashboard.common import wandb_run

    off = wandb_run(Path("/r/wandb/offline-run-20261120_100000-abc123"), {"project": "distillery", "entity": None})
    assert off["id"] == "abc123" and off["mode"] == "offline" and off["url"] is None
    assert off["sync"] == "wandb sync /r/wandb/offline-run-20261120_100000-abc123"
    on = wandb_run(Path("/r/wandb/run-20261120_100000-xyz789"), {"project": "distillery", "entity": "team"})
    assert on["url"] == "https://wandb.ai/team/distillery/runs/xyz789"
