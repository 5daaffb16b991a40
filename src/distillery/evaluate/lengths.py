"""``distillery analyze-lengths``: how long are the articles, and what does truncation cut?

Two tables for a labelled dataset, in a tokenizer's tokens (the text a model reads,
``ContextStrategy.text_of``: title + content, without special tokens):

  (a) per length bucket (<=512, 512-1024, 1024-2048, >2048 tokens; upper bounds inclusive):
      the share of all articles and the share of all high scorers that fall in it, and the
      rate of high scorers inside the bucket;
  (b) per context limit (512, 1024, 2048, 4096): the share of high scorers (and of all
      articles) longer than the limit, i.e. cut by truncation at that length.

A *high scorer* is an article whose weighted average (``FilterSpec.weighted_average``: weights
and gatekeeper caps) is at least ``--high-threshold`` (6.0: the research notes' "high scorers").
"""

from __future__ import annotations

import argparse
import csv
import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distillery.evaluate.plots import pyplot

BUCKET_EDGES = (512, 1024, 2048)
TRUNCATION_LIMITS = (512, 1024, 2048, 4096)
DEFAULT_HIGH_THRESHOLD = 6.0


def bucket_labels(edges: Sequence[int] = BUCKET_EDGES) -> list[str]:
    labels = [f"<={edges[0]}"]
    labels += [f"{lo}-{hi}" for lo, hi in zip(edges, edges[1:])]  # (lo, hi]: upper bound inclusive
    return labels + [f">{edges[-1]}"]


def _share(num: int, den: int) -> float:
    return num / den if den else float("nan")


def bucket_table(lengths: Any, high: Any, edges: Sequence[int] = BUCKET_EDGES) -> list[dict[str, Any]]:
    """Rows of table (a): bucket, articles, share_of_articles, high_scorers, share_of_high_scorers,
    high_scorer_rate. A length L falls in the first bucket whose upper edge is >= L."""
    lengths, high = np.asarray(lengths), np.asarray(high, dtype=bool)
    which = np.searchsorted(np.asarray(edges), lengths, side="left")  # L <= edges[0] -> 0, ...
    n, n_high = len(lengths), int(high.sum())
    rows = []
    for b, label in enumerate(bucket_labels(edges)):
        in_b = which == b
        k, kh = int(in_b.sum()), int((in_b & high).sum())
        rows.append(
            {
                "bucket": label,
                "articles": k,
                "share_of_articles": _share(k, n),
                "high_scorers": kh,
                "share_of_high_scorers": _share(kh, n_high),
                "high_scorer_rate": _share(kh, k),
            }
        )
    return rows


def truncation_table(lengths: Any, high: Any, limits: Sequence[int] = TRUNCATION_LIMITS) -> list[dict[str, Any]]:
    """Rows of table (b): limit, high_scorers_truncated, share_of_high_scorers_truncated,
    articles_truncated, share_of_articles_truncated. Truncated = longer than the limit."""
    lengths, high = np.asarray(lengths), np.asarray(high, dtype=bool)
    n, n_high = len(lengths), int(high.sum())
    rows = []
    for lim in limits:
        cut = lengths > lim
        rows.append(
            {
                "limit": lim,
                "high_scorers_truncated": int((cut & high).sum()),
                "share_of_high_scorers_truncated": _share(int((cut & high).sum()), n_high),
                "articles_truncated": int(cut.sum()),
                "share_of_articles_truncated": _share(int(cut.sum()), n),
            }
        )
    return rows


@functools.lru_cache(maxsize=4)
def cached_tokenizer(name_or_path: str) -> Any:
    """``load_tokenizer`` once per process (loading Qwen2.5's 151k-token vocabulary takes ~2 s)."""
    from distillery.models.tokenizers import load_tokenizer

    return load_tokenizer(name_or_path)


def token_lengths(records: Sequence[dict], tokenizer: Any, batch_size: int = 256) -> np.ndarray:
    """Tokens of ``ContextStrategy.text_of(article)`` for each record, without special tokens."""
    from distillery.runtime.context import ContextStrategy

    out: list[int] = []
    for i in range(0, len(records), batch_size):
        texts = [ContextStrategy.text_of(r) for r in records[i : i + batch_size]]
        out += [len(ids) for ids in ContextStrategy.content_ids(texts, tokenizer)]
    return np.asarray(out, dtype=np.int64)


def high_scorers(records: Sequence[dict], spec: Any, threshold: float = DEFAULT_HIGH_THRESHOLD) -> np.ndarray:
    from distillery.data.split import label_matrix

    if not records:
        return np.zeros(0, dtype=bool)
    return spec.weighted_average(label_matrix(records, spec)) >= threshold


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.1%}"
    return str(v)


def markdown_table(rows: list[dict[str, Any]], headers: dict[str, str]) -> str:
    lines = ["| " + " | ".join(headers.values()) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r[k]) for k in headers) + " |")
    return "\n".join(lines)


BUCKET_HEADERS = {
    "bucket": "tokens",
    "articles": "articles",
    "share_of_articles": "share of articles",
    "high_scorers": "high scorers",
    "share_of_high_scorers": "share of high scorers",
    "high_scorer_rate": "high-scorer rate in bucket",
}
TRUNC_HEADERS = {
    "limit": "truncated at",
    "high_scorers_truncated": "high scorers cut",
    "share_of_high_scorers_truncated": "share of high scorers cut",
    "articles_truncated": "articles cut",
    "share_of_articles_truncated": "share of articles cut",
}


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def plot(buckets: list[dict], trunc: list[dict], out: Path, title: str = "") -> Path:
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(buckets))
    a.bar(x - 0.2, [r["share_of_articles"] for r in buckets], 0.4, label="all articles")
    a.bar(x + 0.2, [np.nan_to_num(r["share_of_high_scorers"]) for r in buckets], 0.4, label="high scorers")
    a.set(
        xticks=x,
        xticklabels=[r["bucket"] for r in buckets],
        xlabel="length (tokens)",
        ylabel="share",
        title="share per length bucket",
    )
    a.legend()
    x = np.arange(len(trunc))
    b.bar(x - 0.2, [r["share_of_articles_truncated"] for r in trunc], 0.4, label="all articles")
    b.bar(x + 0.2, [np.nan_to_num(r["share_of_high_scorers_truncated"]) for r in trunc], 0.4, label="high scorers")
    b.set(
        xticks=x,
        xticklabels=[str(r["limit"]) for r in trunc],
        xlabel="context limit (tokens)",
        ylabel="share truncated",
        title="share cut by truncation",
    )
    b.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


class analyze_lengths_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "paths",
            nargs="*",
            type=Path,
            help="labelled JSONL file(s) (default: the synthetic corpus for --filter, --n, --seed)",
        )
        p.add_argument("--filter", default="uplifting/v6", help="filter whose labels are read (default uplifting/v6)")
        p.add_argument("--filters-dir", action="append", default=[], metavar="DIR", help="extra folder of filters")
        p.add_argument(
            "--tokenizer",
            default="qwen2.5",
            help="'qwen2.5' (built in, offline) or any Hugging Face tokenizer path/id (default qwen2.5)",
        )
        p.add_argument(
            "--high-threshold",
            type=float,
            default=DEFAULT_HIGH_THRESHOLD,
            help="weighted average at or above which an article is a high scorer (default 6.0)",
        )
        p.add_argument("--n", type=int, default=2400, help="synthetic corpus size when no path is given (default 2400)")
        p.add_argument("--seed", type=int, default=0, help="synthetic corpus seed (default 0)")
        p.add_argument("--skip-invalid", action="store_true", help="skip and report bad lines instead of stopping")
        p.add_argument(
            "--out",
            type=Path,
            default=None,
            help="folder for lengths_buckets.csv, lengths_truncation.csv, lengths.md and lengths.png",
        )

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from distillery.data.records import read_records
        from distillery.filters.registry import load_filter

        spec = load_filter(args.filter, args.filters_dir)
        paths = list(args.paths)
        if not paths:
            from distillery.data.datamodule import synthetic_corpus_path
            from distillery.paths import cache_dir

            paths = [synthetic_corpus_path(spec, args.n, args.seed, cache_dir())]
        report = read_records(paths, spec, skip_invalid=args.skip_invalid)
        for line in report.skipped:
            print(f"skipped {line}")
        records = report.records
        tokenizer = cached_tokenizer(args.tokenizer)
        lengths = token_lengths(records, tokenizer)
        high = high_scorers(records, spec, args.high_threshold)
        buckets, trunc = bucket_table(lengths, high), truncation_table(lengths, high)

        source = ", ".join(str(p) for p in paths)
        stats = (
            f"{len(records)} articles, {int(high.sum())} high scorers (weighted average >= {args.high_threshold:g}); "
            f"tokens ({args.tokenizer}): median {int(np.median(lengths)) if len(lengths) else 0}, "
            f"p90 {int(np.percentile(lengths, 90)) if len(lengths) else 0}, max {int(lengths.max()) if len(lengths) else 0}"
        )
        md = (
            f"# Article lengths: {spec.ref}\n\n{source}\n\n{stats}\n\n"
            f"## (a) Length buckets\n\n{markdown_table(buckets, BUCKET_HEADERS)}\n\n"
            f"## (b) High scorers cut by truncation\n\n{markdown_table(trunc, TRUNC_HEADERS)}\n"
        )
        print(md)
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            write_csv(args.out / "lengths_buckets.csv", buckets)
            write_csv(args.out / "lengths_truncation.csv", trunc)
            (args.out / "lengths.md").write_text(md, encoding="utf-8")
            plot(
                buckets,
                trunc,
                args.out / "lengths.png",
                title=f"{spec.ref}: {len(records)} articles, {args.tokenizer} tokens",
            )
            print(f"written to {args.out}/ (lengths_buckets.csv, lengths_truncation.csv, lengths.md, lengths.png)")
        return 0
