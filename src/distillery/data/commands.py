"""``distillery synth-corpus``: write the seeded synthetic corpus (known scores) as JSONL."""

from __future__ import annotations

import argparse
from pathlib import Path


class synth_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--filter", default="uplifting/v6", help="filter whose dimensions are scored (default uplifting/v6)"
        )
        p.add_argument("--n", type=int, default=2400, help="number of articles (default 2400)")
        p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
        p.add_argument(
            "--out", type=Path, default=None, help="output .jsonl (default: print the cache path it is written to)"
        )
        p.add_argument("--filters-dir", action="append", default=[], metavar="DIR", help="extra folder of filters")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from distillery.data.records import write_jsonl
        from distillery.data.synthetic import corpus_stats, generate_corpus
        from distillery.filters.registry import load_filter

        spec = load_filter(args.filter, args.filters_dir)
        records = generate_corpus(spec, n=args.n, seed=args.seed)
        if args.out is None:  # the file `train data=synthetic` reads
            from distillery.data.datamodule import synthetic_corpus_file
            from distillery.paths import cache_dir

            args.out = synthetic_corpus_file(spec, args.n, args.seed, cache_dir())
        out = write_jsonl(args.out, records)
        shares = ", ".join(f"{k} {v:.1%}" for k, v in corpus_stats(records, spec).items())
        print(f"{len(records)} articles for {spec.ref} (seed {args.seed}); tiers: {shares}")
        print(out)
        return 0
