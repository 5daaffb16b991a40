"""Oracle throughput: the concurrent scorer vs a sequential loop, against the test server.

The server (tests/oracle_server.py) runs in its own process and answers every request after a
fixed latency (default 200 ms, a fast real LLM endpoint); the client is the real openai SDK.
Rate limits are off, so the numbers measure what concurrency buys. Every run writes a real
ledger (append + fsync per answer) in a temp folder.

    python benchmarks/oracle_concurrency.py                 # latency 0.2 s, the table below
    python benchmarks/oracle_concurrency.py --latency 0.5 --concurrency 1 16 64

Rows: ``sequential loop`` is the naive baseline (sync SDK, one request after the other, same
prompt/parse/ledger work); ``scorer c=N`` is ``distillery score``'s scorer with N in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from distillery.filters import load_filter  # noqa: E402
from distillery.filters.prompt import render_system_prompt  # noqa: E402
from distillery.oracle.client import OracleClient  # noqa: E402
from distillery.oracle.config import Prices, api_key, load_config  # noqa: E402
from distillery.oracle.ledger import Ledger  # noqa: E402
from distillery.oracle.scorer import Scorer, answer_fields, base_record, build_job, judge  # noqa: E402


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "oracle_server.py"), "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, proc.stdout.readline().strip()


def jobs_for(spec, cfg, system_prompt, n: int, offset: int):
    from distillery.data.synthetic import generate_corpus

    arts = generate_corpus(spec, n, seed=1000 + offset)
    return [build_job(spec, cfg, {k: a[k] for k in ("id", "title", "content")}, system_prompt) for a in arts]


def sequential_loop(spec, cfg, system_prompt, jobs, folder: Path) -> float:
    """The baseline: one blocking request after another (what a plain for-loop does)."""
    import openai

    client = openai.OpenAI(
        api_key=api_key(cfg).get_secret_value(),
        base_url=cfg.endpoint,
        max_retries=cfg.max_retries,
        timeout=cfg.timeout_s,
    )
    oracle = OracleClient(cfg, spec, api_key(cfg))  # only for request_body(); its async client is unused
    prices = Prices(cfg)
    from distillery.oracle.batch import completion_from_body
    from distillery.oracle.ledger import sha

    with Ledger(folder / "sequential.jsonl") as ledger:
        t0 = time.perf_counter()
        for job in jobs:
            body = oracle.request_body(job.messages)
            resp = client.chat.completions.create(**body)
            c = completion_from_body(resp.model_dump(), oracle.format)
            status, verdict = judge(c, spec)
            ledger.append(
                {
                    **base_record(job, spec, cfg, sha(system_prompt), "online"),
                    "status": status,
                    **verdict,
                    **answer_fields(c, prices),
                }
            )
        return time.perf_counter() - t0


def concurrent(spec, cfg, system_prompt, jobs, folder: Path) -> float:
    async def go() -> float:
        client = OracleClient(cfg, spec, api_key(cfg))
        with Ledger(folder / f"c{cfg.concurrency}.jsonl") as ledger:
            scorer = Scorer(spec, cfg, ledger, client, Prices(cfg), system_prompt)
            t0 = time.perf_counter()
            stats = await scorer.run([(j, 0) for j in jobs])
            elapsed = time.perf_counter() - t0
        await client.close()
        assert stats.scored == len(jobs), stats
        return elapsed

    return asyncio.run(go())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2, help="server latency per request (s)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 64])
    ap.add_argument("--sequential-articles", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=3.0, help="target duration of each concurrent run")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-dummy")
    spec = load_filter("uplifting/v6")
    proc, base_url = start_server(args.latency)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            cfg = load_config(
                None,
                {"base_url": base_url, "model": "test-oracle", "concurrency": 1},
                ["requests_per_minute=null", "tokens_per_minute=null"],
            )
            system_prompt = render_system_prompt(spec)
            concurrent(spec, cfg, system_prompt, jobs_for(spec, cfg, system_prompt, 3, 99), folder)  # warm-up
            n = args.sequential_articles
            secs = sequential_loop(spec, cfg, system_prompt, jobs_for(spec, cfg, system_prompt, n, 0), folder)
            rows.append({"mode": "sequential loop", "concurrency": 1, "articles": n, "seconds": secs})
            for i, c in enumerate(args.concurrency, 1):
                cfg_c = cfg.model_copy(update={"concurrency": c})
                m = max(n, min(int(c / args.latency * args.seconds), 400))
                jobs = jobs_for(spec, cfg_c, system_prompt, m, i)
                rows.append(
                    {
                        "mode": f"scorer c={c}",
                        "concurrency": c,
                        "articles": m,
                        "seconds": concurrent(spec, cfg_c, system_prompt, jobs, folder),
                    }
                )
    finally:
        proc.terminate()
        proc.wait(5)

    base = rows[0]["articles"] / rows[0]["seconds"]
    print(
        f"\noracle throughput, server latency {args.latency * 1000:.0f} ms, "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}\n"
    )
    print(
        f"| {'mode':<16} | {'in flight':>9} | {'articles':>8} | {'seconds':>7} | {'articles/s':>10} | {'vs sequential':>13} |"
    )
    print(f"|{'-' * 18}|{'-' * 11}|{'-' * 10}|{'-' * 9}|{'-' * 12}|{'-' * 15}|")
    for r in rows:
        r["articles_per_s"] = r["articles"] / r["seconds"]
        r["ratio"] = r["articles_per_s"] / base
        print(
            f"| {r['mode']:<16} | {r['concurrency']:>9} | {r['articles']:>8} | {r['seconds']:>7.2f} | "
            f"{r['articles_per_s']:>10.1f} | {r['ratio']:>12.1f}x |"
        )
    if args.json:
        args.json.write_text(json.dumps({"latency_s": args.latency, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
