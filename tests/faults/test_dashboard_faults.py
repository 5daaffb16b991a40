"""``distillery dashboard`` over runs that used to be shown wrong (issue 16, the DASHBOARD row).

One outputs tree is built once for the module, each kind in the layout its real writer leaves:

* ``distillery score`` twice (one with ``--audit-blocked``) and ``distillery synthesize`` twice (one
  with ``--rescore``), run for real against the HTTP test oracle (tests/oracle_server.py);
* a sweep whose launch failed, for real: ``distillery train -m model=<missing>,tiny-qwen2`` (Hydra
  writes multirun.yaml, then fails before the first job dir);
* a multi-head run (train/recipes/multihead.py) and a hybrid dir (export/tune_hybrid.py: the real
  ``write_manifest`` / ``write_json`` / ``report`` writers), fabricated: training and ONNX export
  take minutes, the files they leave take milliseconds.

Then ``distillery dashboard`` runs once (a subprocess, the real CLI) and the tests read back what it
wrote: ``<site>/registry.json`` (the page's data) and, in headless Chromium when there is one,
the page itself.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from distillery.cli import main
from distillery.dashboard.common import iso_time
from faults.conftest import run_cli

UP, BEL = "uplifting/v6", "belonging/v1"
FILLER = (
    "The new clinic on Station Road opened its doors in May, and volunteers from the neighbourhood "
    "help run the reception and the weekly advice sessions for families who live nearby. "
) * 3
MARKET = " Shares rose sharply on the Nasdaq after the announcement."
HOUR = 3600


# ---- the tree ------------------------------------------------------------------------------------------
def _json(p: Path, data) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=2))
    return p


def _yaml(p: Path, data) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(data))
    return p


def _age(p: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(p, (t, t))


def _dims(ref: str) -> list[str]:
    from distillery.filters import load_filter

    return load_filter(ref).dimension_names


def _block(ref: str, mae: float) -> dict:
    """A stage of metrics.json as scaffold.finish_run writes it: overall + ``<dim>/<metric>``."""
    m = {
        "mae": mae,
        "rmse": mae * 1.2,
        "spearman": 0.4,
        "weighted_mae": mae * 0.8,
        "tier_accuracy": 0.6,
        "mean_baseline_mae": 2.0,
        "mae_vs_baseline": mae / 2.0,
    }
    for i, d in enumerate(_dims(ref)):
        m[f"{d}/mae"] = mae + 0.01 * i
        m[f"{d}/rmse"] = (mae + 0.01 * i) * 1.2
        m[f"{d}/spearman"] = 0.3
    return m


def _cfg(ref: str, heads: list[str] | None) -> dict:
    """config.yaml (train/task.py: the resolved config; multihead.py: ``model.heads``, and in each
    head dir ``single_filter_cfg``: that filter, ``model.heads`` null, method finetune)."""
    return {
        "filter": {"name": ref},
        "model": {"name": "tiny-qwen2", "heads": heads},
        "train": {"method": "multihead" if heads else "finetune"},
        "context_strategy": {"name": "trunc512", "max_tokens": 128},
        "loss": {"name": "mse"},
        "seed": 0,
        "data": {"source": "synthetic"},
        "logger": {"kind": "none"},
    }


def make_multi_head_run(d: Path, maes: dict[str, float] | None) -> Path:
    """train/recipes/multihead.py ``run``: top-level config.yaml, run.json, metrics.json
    (``filter: "a+b"``, ``heads``, ``filters``, means under ``val``) and ``heads/<key>/``, each a
    single-filter run dir (finish_run's metrics.json). ``maes`` None: the run failed before any head
    was written (task.py: error.log)."""
    refs = [UP, BEL]
    _yaml(d / "config.yaml", _cfg(UP, refs))  # filter.name is the config's default group, not the run's
    _json(d / "run.json", {"task": "train", "seed": 0, "started": "2026-11-24T10:00:00+0000"})
    if maes is None:
        (d / "error.log").write_text("Traceback (most recent call last):\n  ...\nRuntimeError: CUDA out of memory\n")
        return d
    per_filter = {}
    for ref in refs:
        key = ref.replace("/", "_")  # train/heads.py head_key
        h = d / "heads" / key
        _yaml(h / "config.yaml", _cfg(ref, None))
        # rundir.write_run_json(head_dir, "train", seed, ..., multi_head_run=...): written after training
        _json(
            h / "run.json",
            {"task": "train", "seed": 0, "started": "2026-11-24T10:30:00+0000", "multi_head_run": str(d)},
        )
        per_filter[ref] = {"filter": ref, "seed": 0, "n": {"train": 40, "val": 8}, "val": _block(ref, maes[ref])}
        per_filter[ref]["multi_head"] = {"run_dir": str(d), "heads": refs, "weighting": "equal"}
        _json(h / "metrics.json", per_filter[ref])
    mean = sum(maes.values()) / len(maes)
    _json(
        d / "metrics.json",
        {
            "filter": "+".join(refs),
            "filters_trained": refs,
            "heads": {ref: f"heads/{ref.replace('/', '_')}" for ref in refs},
            "seed": 0,
            "epochs": 1,
            "train_seconds": 12.0,
            "weighting": "equal",
            "n": {ref: m["n"] for ref, m in per_filter.items()},
            "filters": per_filter,
            "val": {"mae": mean, "mean_baseline_mae": 2.0, "mae_vs_baseline": mean / 2, "per_filter_mae": maes},
        },
    )
    return d


def make_export(d: Path, model: str, int8_bytes: int) -> Path:
    """An export dir (export/pipeline.py): manifest.json with the parity gate, parity.json, the model."""
    parity = {
        "n": 16,
        "fp32": {"max_abs_diff": 5e-7, "atol": 1e-3, "passed": True, "tokenizer": {"mismatched_articles": 0}},
        "int8_tried": [{"config": "dynamic"}],
        "int8_config": "dynamic",
        "int8": {"mae_rel_change": 0.004, "tier_agreement": 1.0, "int8_mae_tol": 0.01, "passed": True},
    }
    _json(d / "parity.json", parity)
    (d / "model.int8.onnx").write_bytes(b"\0" * int8_bytes)
    _json(
        d / "manifest.json",
        {
            "format": 1,
            "filter": UP,
            "base_model": {"name": model},
            "parity": parity,
            "context_strategy": {"kind": "trunc", "max_tokens": 128},
            "models": {"int8": {"file": "model.int8.onnx"}},
            "files": {"model.int8.onnx": {"bytes": int8_bytes}},
        },
    )
    _json(d / "benchmark.json", {"rows": [], "threads": 1})  # tune-hybrid does not copy benchmark*
    return d


def make_hybrid(out: Path, stage1: Path, stage2: Path) -> Path:
    """export/tune_hybrid.py ``tune_hybrid``: copies of both exports (without benchmark*), hybrid.json,
    report.md and the manifest, with the same writers."""
    from distillery.export.tune_hybrid import report
    from distillery.runtime.atomic import write_json
    from distillery.runtime.hybrid import HYBRID_FILE
    from distillery.runtime.manifest import ExportDir, write_manifest

    out.mkdir(parents=True)
    for stage, src in (("stage1", stage1), ("stage2", stage2)):
        shutil.copytree(src, out / stage, ignore=shutil.ignore_patterns("benchmark*"))
    acc = {"mae": 0.9, "weighted_mae": 0.8, "tier_accuracy": 0.7, "recall_min_tier": 0.99}
    outcome = {
        "n": 40,
        "positives": 10,
        "threshold": 3.25,
        "skip_rate": 0.6,
        "false_negatives": 0,
        "fn_rate": 0.0,
        "fn_target": 0.01,
        "meets_target": True,
        "hybrid": acc,
        "stage2_alone": {**acc, "mae": 0.85},
    }
    config = {
        "format": 1,
        "filter": UP,
        "threshold": 3.25,
        "min_tier": "medium",
        "fn_target": 0.01,
        "stage1": "stage1",
        "stage2": "stage2",
        "sources": {
            s: {"export_dir": str(src.resolve()), "manifest_sha256": "0" * 64, "base_model": m}
            for s, src, m in (("stage1", stage1, "embedding_probe"), ("stage2", stage2, "tiny-qwen2"))
        },
        "tuned_on": {"data": "split val", **outcome},
        "timing": {
            "threads": 2,
            "stage2_alone_s": 1.0,
            "hybrid_s": 0.5,
            "stage1_alone_s": 0.1,
            "speedup": 2.0,
            "stage1_cost_share": 0.1,
            "articles": 40,
        },
    }
    write_json(out / HYBRID_FILE, config)
    (out / ExportDir.REPORT).write_text(report(config))
    write_manifest(out, {"format": 1, "kind": "hybrid", "filter": UP, "hybrid_file": HYBRID_FILE})
    return out


def _articles(path: Path) -> Path:
    """Articles the prefilter passes, blocks as market news (3) and as too short (1)."""
    arts = [{"id": f"a{i}", "title": f"Article {i}", "content": FILLER + f" SCORE={7 - i}"} for i in range(4)]
    arts += [
        {"id": f"m{i}", "title": f"Market {i}", "content": FILLER + f" SCORE={8 - 6 * i}" + MARKET} for i in (0, 1)
    ]
    arts.append({"id": "m2", "title": "Market 2", "content": FILLER + " SCORE=2" + MARKET})
    arts.append({"id": "short", "title": "Short one", "content": "SCORE=9 Tiny."})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(a) + "\n" for a in arts))
    return path


def _oracle(srv, *args: str) -> None:
    oracle = ["--base-url", srv.base_url, "--model", "test-oracle", "--price-in", "1", "--price-out", "2"]
    assert main([*args, *oracle, "--timeout", "5", "--max-retries", "3", "--quiet"]) == 0, args


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    from oracle_server import OracleServer

    root = tmp_path_factory.mktemp("dashboard")
    out, exports = root / "outputs", root / "exports"
    p: dict = {"root": root, "outputs": out, "exports": exports}

    # a sweep whose launch failed (real): multirun.yaml, then Hydra fails composing the first job
    r = run_cli(["train", "-m", "model=no_such_model,tiny-qwen2"], root, env={"DISTILLERY_OUTPUTS": str(out)})
    assert r.rc != 0 and "no_such_model" in r.out, str(r)
    (p["sweep"],) = (out / "train" / "multiruns").iterdir()
    assert [f.name for f in p["sweep"].iterdir()] == ["multirun.yaml"]
    _age(p["sweep"] / "multirun.yaml", HOUR)  # launched an hour ago

    # oracle runs (real): an audited score, a later score without audit, synthesize with and without --rescore
    inp = _articles(root / "articles.jsonl")
    p["audited"], p["plain"] = out / "oracle" / "uplifting_v6", out / "oracle" / "uplifting_v6_rerun"
    p["synth"] = out / "synthesize" / "uplifting_v6"  # synthesize.py _paths: the default folder
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAI_API_KEY", "sk-dashboard-test")
        srv = OracleServer().start()
        try:
            _oracle(
                srv, "score", "--filter", UP, "--input", str(inp), "--out", str(p["audited"]), "--audit-blocked", "4"
            )
            _oracle(srv, "score", "--filter", UP, "--input", str(inp), "--out", str(p["plain"]))
            for tier, n, extra in (("high", "3", []), ("medium", "2", ["--rescore"])):
                synth = [
                    "synthesize",
                    "--filter",
                    UP,
                    "--n",
                    n,
                    "--tier",
                    tier,
                    "--out",
                    str(p["synth"] / f"{tier}.jsonl"),
                ]
                _oracle(srv, *synth, *extra)
        finally:
            srv.stop()
    # a synthesize run killed while writing: only its ledger (oracle/ledger.py appends every answer as it comes)
    lines = (p["synth"] / "high.ledger.jsonl").read_text().splitlines(keepends=True)
    (p["synth"] / "killed.ledger.jsonl").write_text("".join(lines[:2]))
    for i, f in enumerate((p["audited"] / "summary.json", p["plain"] / "summary.json")):
        _age(f, 2 * HOUR - i * 60)  # the audited run is the older one: the page's default is the newest

    runs = out / "train" / "runs"
    p["mh"] = make_multi_head_run(runs / "2026-11-24_10-00-00_mhead1", {UP: 1.40, BEL: 2.20})
    p["mh_failed"] = make_multi_head_run(runs / "2026-11-24_11-00-00_mhead2", None)

    p["stage1"] = make_export(exports / "probe_uplifting", "embedding_probe", 1_000)
    p["stage2"] = make_export(exports / "qwen_uplifting", "tiny-qwen2", 50_000)
    p["hybrid"] = make_hybrid(exports / "hybrid_uplifting", p["stage1"], p["stage2"])

    r = run_cli(["dashboard", "--outputs", str(out), "--scan", str(exports)], root, timeout=120)
    assert r.rc == 0 and "Traceback" not in r.out, str(r)
    p["site"] = out / "dashboard"
    p["data"] = json.loads((p["site"] / "registry.json").read_text())
    return p


def rows(world, **match) -> list[dict]:
    return [r for r in world["data"]["runs"] if all(r.get(k) == v for k, v in match.items())]


def _resolved(p: Path) -> str:
    return str(Path(p).resolve())


# ---- (1) cross-filter heads ------------------------------------------------------------------------------
def test_multi_head_run_is_listed_under_each_of_its_filters_with_its_own_metrics(world):
    data = world["data"]
    assert not [f for f in data["filters"] if "+" in f], data["filters"]  # no made-up "uplifting/v6+belonging/v1"
    assert not [r for r in data["runs"] if "+" in str(r.get("filter"))]
    mh = {r["filter"]: r for r in data["runs"] if (r.get("multi_head") or {}).get("run") == _resolved(world["mh"])}
    assert set(mh) == {UP, BEL}
    for ref, mae in ((UP, 1.40), (BEL, 2.20)):  # each head's metrics under its own filter, not the mean 1.80
        r = mh[ref]
        assert r["kind"] == "train" and r["status"] == "ok" and r["metrics"]["val"]["mae"] == pytest.approx(mae)
        assert r["dims"] == _dims(ref) and r["multi_head"]["filters"] == [UP, BEL]
        assert r["name"] == f"{world['mh'].name}/heads/{ref.replace('/', '_')}"
        assert r["href"].endswith(f"/heads/{ref.replace('/', '_')}/")  # the head dir: what evaluate/export take
        assert r["started"] == iso_time("2026-11-24T10:00:00+0000")  # the run's start, not the head's
    assert data["filter_info"][BEL]["dims"] == _dims(BEL)
    # a multi-head run that failed before writing its heads: failed under both filters, with its error line
    failed = [r for r in data["runs"] if (r.get("multi_head") or {}).get("run") == _resolved(world["mh_failed"])]
    assert sorted(r["filter"] for r in failed) == [BEL, UP]
    assert all(r["status"] == "failed" and "CUDA out of memory" in r["error"] for r in failed)


# ---- (2) synthesize's cost -----------------------------------------------------------------------------
def _ledger_cost(path: Path) -> float:
    return sum(json.loads(line).get("cost_usd") or 0.0 for line in path.read_text().splitlines() if line.strip())


def test_synthesize_cost_is_shown_with_or_without_rescore(world):
    (syn,) = rows(world, kind="synthesize")
    assert syn["filter"] == UP and syn["status"] == "incomplete"  # the killed run
    by_stem = {x["stem"]: x for x in syn["runs"]}
    killed = world["synth"] / "killed.ledger.jsonl"
    assert not by_stem["killed"]["finished"] and by_stem["killed"]["cost_usd"] == pytest.approx(_ledger_cost(killed))
    for stem, rescored in (("high", False), ("medium", True)):
        report = json.loads((world["synth"] / f"{stem}.report.json").read_text())
        assert by_stem[stem]["rescored"] is rescored and report["cost_usd"] > 0
        assert by_stem[stem]["cost_usd"] == pytest.approx(report["cost_usd"])  # what it paid, both steps
    assert syn["run"]["cost_usd"] == pytest.approx(sum(x["cost_usd"] for x in syn["runs"]))
    # the cost panel: every ledger once (the --rescore score dir shares the synthesize ledger)
    ledgers = [world["audited"] / "ledger.jsonl", world["plain"] / "ledger.jsonl"]
    ledgers += [world["synth"] / "high.ledger.jsonl", world["synth"] / "medium.ledger.jsonl", killed]
    paid = sum(c["cost_usd"] for c in world["data"]["costs"] if c["filter"] == UP)
    assert paid == pytest.approx(sum(map(_ledger_cost, ledgers)), rel=1e-6)
    assert {c["ledger"] for c in world["data"]["costs"]} == {str(p) for p in ledgers}
    (rescore,) = [r for r in rows(world, kind="score") if r["name"] == "medium.rescore"]
    assert rescore["ledger_path"] == str(world["synth"] / "medium.ledger.jsonl")


# ---- (4) a hybrid once ---------------------------------------------------------------------------------
def test_hybrid_is_one_export_with_its_stages_as_parts(world):
    exports = {r["name"]: r for r in rows(world, kind="export")}
    assert sorted(exports) == ["hybrid_uplifting", "probe_uplifting", "qwen_uplifting"]  # no stage copies
    h = exports["hybrid_uplifting"]
    assert h["status"] == "ok" and h["filter"] == UP and h["model"] == "embedding_probe → tiny-qwen2"
    assert h["hybrid"]["threshold"] == 3.25 and h["hybrid"]["skip_rate"] == 0.6 and h["hybrid"]["meets_target"]
    assert [s["stage"] for s in h["stages"]] == ["stage1", "stage2"]
    assert [s["status"] for s in h["stages"]] == ["ok", "ok"]
    assert [s["source_export"] for s in h["stages"]] == [_resolved(world["stage1"]), _resolved(world["stage2"])]
    assert h["stages"][1]["href"].endswith("hybrid_uplifting/stage2/") and h["sizes"]["int8"] == 51_000


# ---- (5) a failed sweep launch ---------------------------------------------------------------------------
def test_failed_sweep_launch_is_a_failed_sweep_with_its_error_line(world):
    (sw,) = rows(world, kind="sweep")
    assert sw["path"] == _resolved(world["sweep"]) and sw["jobs"] == []
    assert sw["status"] == "failed" and "launch failed: no job started" in sw["error"], sw


def test_sweep_launch_window_and_launcher_error_log(world, tmp_path, monkeypatch):
    """Just launched: incomplete, re-read when the window has passed although no file changed; a
    launcher's ``error.log`` in the sweep dir gives the real reason."""
    from distillery.dashboard import registry
    from distillery.dashboard.common import LAUNCH_GRACE_S

    sweep = tmp_path / "outputs" / "train" / "multiruns" / world["sweep"].name
    shutil.copytree(world["sweep"], sweep)
    _age(sweep / "multirun.yaml", 0)
    now = time.time()
    with registry.Registry(tmp_path / "site" / "registry.sqlite", [tmp_path / "outputs"]) as reg:
        reg.update()
        (row,) = reg.rows("sweep")
        assert row["status"] == "incomplete" and row["error"] is None
        assert reg.update().read == 0
        monkeypatch.setattr(time, "time", lambda: now + LAUNCH_GRACE_S + 1)  # later; no file changed
        assert reg.update().read == 1
        (row,) = reg.rows("sweep")
        assert row["status"] == "failed" and "launch failed" in row["error"]
        (sweep / "error.log").write_text(
            "Traceback ...\nMissingConfigException: Could not find 'model/no_such_model'\n"
        )
        reg.update()
        (row,) = reg.rows("sweep")
        assert row["error"] == "MissingConfigException: Could not find 'model/no_such_model'"


# ---- the registry is written atomically ---------------------------------------------------------------
def test_registry_and_page_are_written_atomically(world, tmp_path, monkeypatch):
    site = world["site"]
    data = json.loads((site / "registry.json").read_text(), parse_constant=lambda c: pytest.fail(f"not strict: {c}"))
    assert data["marker"] == "distillery-dashboard" and data["runs"]
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "registry.json", "registry.sqlite"]

    from distillery.dashboard.site import write_site
    from distillery.runtime import atomic

    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir()}

    def crash(fd):  # the disk fails while the new file is written
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        write_site([{"kind": "train", "name": "x", "status": "ok", "metrics": {"val": {"mae": float("nan")}}}],
                   copy, [world["outputs"]])  # fmt: skip
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before  # the old files, whole; no temp files
    monkeypatch.undo()
    write_site([{"kind": "train", "name": "x", "status": "ok", "metrics": {"val": {"mae": float("nan")}}}],
               copy, [world["outputs"]])  # fmt: skip
    (row,) = json.loads((copy / "registry.json").read_text())["runs"]
    assert row["metrics"]["val"] == {"mae": None, "mae_null_reason": row["metrics"]["val"]["mae_null_reason"]}


# ---- the page, in headless Chromium --------------------------------------------------------------------
@pytest.fixture(scope="module")
def page(world, tmp_path_factory):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium)")
    from distillery.dashboard.browser import INSTALL_HINT, find_chromedriver, find_chromium, flags

    exe, drv = find_chromium(), find_chromedriver()
    if not exe or not drv:
        pytest.skip(f"no headless browser here (chromium: {exe}, chromedriver: {drv}): {INSTALL_HINT}")
    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for f in flags(tmp_path_factory.mktemp("chromium-profile"), 1440, 1000):
        opts.add_argument(f)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=drv), options=opts)
    driver.set_page_load_timeout(120)
    try:
        driver.get((world["site"] / "index.html").resolve().as_uri())
        WebDriverWait(driver, 60).until(lambda d: d.execute_script("return window.dashboardReady === true"))
        assert driver.execute_script("return document.body.dataset.filter") == UP
        yield driver
        assert [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"] == []
    finally:
        driver.quit()


def _options(page, select_id: str) -> list[tuple[str, str]]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    return [(o.get_attribute("value"), o.text) for o in Select(page.find_element(By.ID, select_id)).options]


# ---- (3) every score run selectable -------------------------------------------------------------------
def test_every_score_run_is_selectable_in_the_prefilter_panel(world, page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    opts = dict(_options(page, "select-score"))
    scores = {_resolved(world["audited"]), _resolved(world["plain"]), _resolved(world["synth"] / "medium.rescore")}
    assert set(opts) == scores, opts
    assert "blocked audited" in opts[_resolved(world["audited"])] and "no audit" in opts[_resolved(world["plain"])]
    caption = lambda: page.find_element(By.CSS_SELECTOR, "#panel-prefilter .caption").text  # noqa: E731
    assert not caption().startswith("uplifting_v6 ")  # the newest run is shown first, not the audited one
    Select(page.find_element(By.ID, "select-score")).select_by_value(_resolved(world["audited"]))
    assert caption().startswith("uplifting_v6 ·")
    table = page.find_element(By.ID, "table-prefilter").text
    report = json.loads((world["audited"] / "prefilter_report.json").read_text())
    fnr = report["audit_blocked"]["excluded_financial_markets"]["false_negative_rate"]
    assert f"FN {100 * fnr:.1f}%" in table, table


def test_page_shows_synthesize_cost_hybrid_parts_and_failed_launch(world, page):
    from selenium.webdriver.common.by import By

    throughput = page.find_element(By.ID, "table-throughput").text
    assert "synthesize: uplifting_v6" in throughput
    syn = rows(world, kind="synthesize")[0]
    assert f"${syn['run']['cost_usd']:.4f}" in throughput
    ex = page.find_element(By.ID, "table-export")
    assert ex.get_attribute("data-rows") == "5"  # 2 exports + the hybrid and its 2 parts
    assert "part of hybrid_uplifting (stage1)" in ex.text and "hybrid: threshold 3.25" in ex.text
    assert [t for _, t in _options(page, "select-export") if "stage" in t] == []
    (sweep_opt,) = _options(page, "select-sweep")
    assert "launch failed" in sweep_opt[1]
    assert "launch failed: no job started" in page.find_element(By.ID, "sweep-files").text
