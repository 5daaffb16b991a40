"""``distillery predict``: score a JSONL of articles with an export dir or a hybrid dir, at scale.

The scorer that ships (:func:`distillery.runtime.hybrid.load_scorer`: the export's INT8 model in
its backend, or both stages of a hybrid) with all cores by default. The scorer dir is checked,
then every article is read and checked before any is scored (a bad line is named,
``file:line: reason``; ``--skip-invalid`` drops and lists them),
then sorted by length so that each call scores articles of similar length (little padding; the
scorer length-sorts its views again inside a call), scored in chunks under a progress bar, and
written in input order, atomically. The last line says how many articles per second.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from distillery.errors import DistilleryError


def predict_file(
    target: Path,
    articles: Path,
    out: Path,
    threads: int | None = None,
    chunk: int = 256,
    batch_size: int | None = None,
    skip_invalid: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every article of ``articles`` into ``out`` (JSONL, input order); returns the run's numbers."""
    from distillery.data.records import read_records, write_jsonl
    from distillery.runtime.hybrid import HYBRID_FILE, load_scorer
    from distillery.runtime.manifest import MANIFEST

    target = Path(target)
    if not ((target / HYBRID_FILE).is_file() or (target / MANIFEST).is_file()):
        raise DistilleryError(f"{target}: neither an export dir ({MANIFEST}) nor a hybrid dir ({HYBRID_FILE})")
    report = read_records([articles], None, skip_invalid)
    arts = report.records
    if not arts:
        raise DistilleryError(f"{articles}: no articles to score")
    scorer = load_scorer(target, threads=threads, batch_size=batch_size)
    order = sorted(range(len(arts)), key=lambda i: -(len(arts[i].get("title") or "") + len(arts[i]["content"])))
    results: list[Any] = [None] * len(arts)
    bar = _progress(progress)
    t0 = time.perf_counter()
    with bar:
        task = bar.add_task("scoring", total=len(arts), rate=0.0)
        for i in range(0, len(order), chunk):
            idx = order[i : i + chunk]
            for j, r in zip(idx, scorer.score_batch([arts[k] for k in idx])):
                results[j] = r
            bar.update(task, advance=len(idx), rate=(i + len(idx)) / max(time.perf_counter() - t0, 1e-9))
    seconds = time.perf_counter() - t0
    write_jsonl(out, results)
    first = getattr(scorer, "stage2", scorer)
    return {
        "articles": len(arts),
        "skipped": report.skipped,
        "seconds": round(seconds, 3),
        "articles_per_s": round(len(arts) / seconds, 2),
        "threads": threads,
        "backend": getattr(first, "backend", None),
        "hybrid": first is not scorer,
        "out": str(out),
    }


def _progress(enabled: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn("[bold]scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.1f} articles/s"),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled or not console.is_terminal,
    )


class predict_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("scorer", type=Path, help="an export dir or a hybrid dir (tune-hybrid)")
        p.add_argument("articles", type=Path, help="JSONL of articles (title, content; id, url, source optional)")
        p.add_argument("--out", type=Path, required=True, help="JSONL of results, one per article, input order")
        p.add_argument("--threads", type=int, help="runtime threads (default: all cores)")
        p.add_argument("--chunk", type=int, default=256, help="articles per scoring call (length-sorted)")
        p.add_argument("--batch-size", type=int, help="views per model call (default: the model's own choice)")
        p.add_argument("--skip-invalid", action="store_true", help="skip bad lines (reported) instead of failing")
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        if args.chunk < 1 or (args.threads is not None and args.threads < 1):
            raise DistilleryError("--chunk and --threads must be >= 1")
        r = predict_file(
            args.scorer,
            args.articles,
            args.out,
            threads=args.threads,
            chunk=args.chunk,
            batch_size=args.batch_size,
            skip_invalid=args.skip_invalid,
            progress=not args.quiet,
        )
        for where in r["skipped"]:
            print(f"skipped {where}", file=sys.stderr)
        kind = "hybrid" if r["hybrid"] else f"INT8 {r['backend']}"
        print(
            f"scored {r['articles']} articles in {r['seconds']:.1f} s: {r['articles_per_s']:.1f} articles/s "
            f"({kind}, {r['threads'] or 'all'} thread(s)) -> {r['out']}"
        )
        return 0
