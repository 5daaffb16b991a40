"""One active-learning round on the embedded default, against the local test oracle that knows the truth.

    python benchmarks/active_learning_round.py            # writes docs/results/active_learning/README.md

1. the default model: ``distillery train seed=0 logger=none`` (tiny-qwen2, the 2,400-article synthetic
   uplifting/v6 corpus), then ``distillery calibrate`` (conformal confidence, for uncertainty selection);
2. a pool of unlabelled articles: another seed's synthetic corpus without its labels (titles made unique:
   the test server knows an article by its title), plus some of the training corpus's own articles
   (re-whitespaced, new ids) that the round must recognise as already labelled;
3. ``tests/oracle_server.py`` on 127.0.0.1 answering with the pool's true scores (an oracle that knows);
4. ``distillery active-learn`` (one round: predict, select, label, merge, retrain, report);
5. the round's report.md + the commands into ``docs/results/active_learning/README.md``.

Steps 1 and 4 are resumable: a re-run reuses the trained base run and the round's finished steps.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from distillery.data.records import write_jsonl  # noqa: E402
from distillery.data.synthetic import generate_corpus  # noqa: E402
from distillery.filters import load_filter  # noqa: E402
from oracle_server import OracleServer, answers_from  # noqa: E402

DISTILLERY = [sys.executable, "-m", "distillery.cli"]


def sh(cmd: list[str]) -> float:
    """Run ``distillery <cmd>``; seconds taken."""
    print("$ distillery " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    t = time.perf_counter()
    subprocess.run(DISTILLERY + cmd, check=True, cwd=ROOT)
    return round(time.perf_counter() - t, 1)


def rel(p: Path | str) -> str:
    p = Path(p)
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def make_pool(spec, n: int, n_known: int, seed: int, folder: Path) -> tuple[Path, dict, dict]:
    """(pool file, answers {title: labels}, facts). Unique titles; ``n_known`` articles of the training corpus."""
    seen, fresh = set(), []
    for r in generate_corpus(spec, int(1.2 * n) + 100, seed=seed):
        if r["title"] not in seen:
            seen.add(r["title"])
            fresh.append(r)
    fresh = fresh[: n - n_known]
    train_corpus = generate_corpus(spec, 2400, seed=0)  # the default run's data (data.n=2400, corpus_seed=0)
    step = len(train_corpus) // max(1, n_known)
    known = [
        {"id": f"known-{i}", "title": r["title"], "content": r["content"] + "\n"}
        for i, r in enumerate(train_corpus[::step][:n_known])
    ]
    arts = [{k: r[k] for k in ("id", "title", "content", "url", "source", "published_date", "language")} for r in fresh]
    every = max(1, len(arts) // max(1, n_known))
    pool = []
    for i, a in enumerate(arts):  # spread the known articles through the pool
        pool.append(a)
        if i % every == every - 1 and known:
            pool.append(known.pop())
    pool += known
    path = write_jsonl(folder / "pool.jsonl", pool)
    return path, answers_from(fresh), {"pool": len(pool), "known": n_known, "fresh": len(fresh), "seed": seed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=ROOT / "outputs" / "active_learning", help="runs and the round")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "results" / "active_learning" / "README.md")
    ap.add_argument("--pool-size", type=int, default=1500)
    ap.add_argument("--known", type=int, default=50, help="pool articles taken from the training corpus")
    ap.add_argument("--pool-seed", type=int, default=1)
    ap.add_argument("--select", default="both")
    ap.add_argument("--threshold", type=float, default=5.0)
    ap.add_argument("--uncertain-top", type=int, default=150)
    ap.add_argument("--budget", type=int, default=None)
    ap.add_argument("--latency", type=float, default=0.05, help="oracle seconds per answer")
    a = ap.parse_args()

    spec = load_filter("uplifting/v6")
    work = a.work.resolve()
    base, round_dir = work / "base", work / "round1"
    timings: dict[str, float] = {}
    commands: list[str] = []
    if not (base / "checkpoint" / "distillery.json").is_file():
        cmd = ["train", "seed=0", "logger=none", f"hydra.run.dir={base}"]
        timings["train"] = sh(cmd)
    commands.append(f"distillery train seed=0 logger=none hydra.run.dir={rel(base)}")
    if not (base / "confidence.json").is_file():
        timings["calibrate"] = sh(["calibrate", str(base)])
    commands.append(f"distillery calibrate {rel(base)}")
    pool, answers, facts = make_pool(spec, a.pool_size, a.known, a.pool_seed, work)
    with OracleServer(latency=a.latency, answers=answers) as srv:
        sel = ["--select", a.select, "--threshold", str(a.threshold), "--uncertain-top", str(a.uncertain_top)]
        if a.budget:
            sel += ["--budget", str(a.budget)]
        oracle = [
            "--base-url",
            srv.base_url,
            "--model",
            "test-oracle",
            "--price-in",
            "0.15",
            "--price-out",
            "0.60",
            "--max-cost",
            "5",
            "--concurrency",
            "16",
        ]
        os.environ.setdefault("OPENAI_API_KEY", "sk-local-test-oracle")  # the local server takes any key
        cmd = ["active-learn", str(base), "--pool", str(pool), "--out", str(round_dir), *sel, *oracle, "--yes"]
        timings["active-learn"] = sh(cmd)
    shown = ["<url>" if c == srv.base_url else rel(c) if c.startswith(str(ROOT)) else c for c in cmd]
    commands.append("python tests/oracle_server.py --port 0 --answers <pool's true labels>  # prints <url>")
    commands.append("distillery " + " ".join(shlex.quote(c) for c in shown))
    report = json.loads((round_dir / "report.json").read_text())
    state = json.loads((round_dir / "state.json").read_text())
    base_metrics = json.loads((base / "metrics.json").read_text())
    report_md = (round_dir / "report.md").read_text().replace(str(ROOT) + "/", "")
    write_doc(a.doc, report, state, report_md, commands, facts, base_metrics)
    print(f"wrote {a.doc} (seconds this time: {timings})")
    return 0


def write_doc(
    path: Path, r: dict, state: dict, report_md: str, commands: list[str], facts: dict, base_metrics: dict
) -> None:
    base_n = base_metrics["n"]
    tiers = r["tiers"]
    tb, ta = r["tier_mix"]["train"]["before"], r["tier_mix"]["train"]["after"]
    val = r["metrics"]["val"]
    steps = {k: v["summary"].get("seconds") for k, v in state["steps"].items()}
    lines = [
        "# One active-learning round (tiny-qwen2, synthetic uplifting/v6, local test oracle)",
        "",
        f"Run {time.strftime('%Y-%m-%d')} on a {os.cpu_count()}-core CPU machine ({platform.machine()}), shared with "
        "other jobs (wall times are not speed measurements). Regenerate everything with:",
        "",
        "```bash",
        "python benchmarks/active_learning_round.py",
        "```",
        "",
        "which runs:",
        "",
        "```bash",
        *commands,
        "```",
        "",
        f"- **model before**: the embedded default (`distillery train seed=0 logger=none`): tiny-qwen2 + LoRA on the "
        f"2,400-article synthetic corpus ({base_n['train']} train / {base_n['val']} val / {base_n['test']} test), "
        "3 epochs; calibrated "
        "(isotonic + conformal confidence) for the uncertainty selection.",
        f"- **pool**: {facts['pool']} unlabelled articles: {facts['fresh']} from the synthetic corpus with seed "
        f"{facts['seed']} (labels removed; titles made unique because the test server recognises an article by its "
        f"title) + {facts['known']} articles of the training corpus itself (re-whitespaced, new ids), which the round "
        "must recognise as already labelled.",
        "- **oracle**: `tests/oracle_server.py` on 127.0.0.1 through the real `openai` client, answering with the "
        "pool's true synthetic scores (an oracle that knows the truth); priced as gpt-4o-mini ($0.15 / $0.60 per 1M "
        f"tokens) to show the cost path: {r['oracle']['paid_calls']} paid answers, ${r['oracle']['cost_usd']:.4f} "
        f"(estimated ${r['oracle']['estimate_typical_usd']:.4f} typical before sending).",
        "- **retrain**: the base run's own overrides (`seed=0 logger=none`) on the merged data, same 3 epochs.",
        "",
        "## Before / after",
        "",
        "| tier | train before | train after | Δ |",
        "|---|---:|---:|---:|",
    ]
    for t in tiers:
        lines.append(
            f"| {t} | {tb['counts'][t]} ({100 * tb['share'][t]:.1f}%) | {ta['counts'][t]} "
            f"({100 * ta['share'][t]:.1f}%) | {100 * (ta['share'][t] - tb['share'][t]):+.1f} pp |"
        )
    lines += [
        f"| **n** | {tb['n']} | {ta['n']} | +{ta['n'] - tb['n']} |",
        "",
        f"Val metrics on the round's new val split ({val['n']['all']} articles = the run's {val['n']['old']} + "
        f"{val['n']['added']} added), raw model outputs:",
        "",
        "| metric | old model | new model | Δ |",
        "|---|---:|---:|---:|",
    ]
    for m in ("mae", "spearman", "tier_accuracy", "weighted_mae"):
        x, y = val["old_model"]["all"][m], val["new_model"]["all"][m]
        lines.append(f"| {m} | {x:.4f} | {y:.4f} | {y - x:+.4f} |")
    lines += [
        "",
        "For reference, the research notes' round on real data moved MEDIUM from 31.5% to 34.6% of the training data.",
        "",
        "What this shows and what it does not:",
        "- The selection works as intended: of the candidates the oracle labelled, "
        f"{100 * (1 - r['tier_mix']['candidates_oracle']['share'][tiers[-1]]):.0f}% are above the lowest tier "
        f"(the pool as a whole is about half {tiers[-1]}), so the training mix moves towards the rare upper "
        f"tiers; of the {facts['known']} training-corpus articles hidden in the pool, "
        f"{r['selection'].get('already_labelled', 0)} were recognised as already labelled and skipped.",
        "- The new model is better on the new val split overall, on the run's own val part and, most, on the "
        "articles added this round (the ones the old model rated high or was unsure about). The old model's "
        "MAE on the old val part equals its own training-time val MAE, and the new model's overall val MAE "
        "equals its training-time val MAE: the report measures the same thing training did.",
        "- It does not isolate the value of *choosing*: the new model also simply has 25% more training "
        "data. A control round with a random sample of the same size was not run.",
        "- Synthetic corpus, tiny CPU model, an oracle that returns the true scores: real oracles are noisy.",
        "",
        f"Wall times (s, shared 2-core machine, other jobs running): base training "
        f"{base_metrics.get('train_seconds')}; round steps: " + ", ".join(f"{k} {v}" for k, v in steps.items()) + ".",
        "",
        "## The round's report.md (`outputs/active_learning/round1/report.md`)",
        "",
        "\n".join(("#" + x if x.startswith("#") else x) for x in report_md.splitlines()[1:]),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
