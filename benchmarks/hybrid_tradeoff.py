"""Hybrid two-stage scorer: skip rate, false negatives and measured speedup for several FN targets.

    python benchmarks/hybrid_tradeoff.py --stage1 exports/probe --stage2 exports/minilm \
        --fn-targets 0.0 0.01 0.02 0.05 --threads 2

Each row is one ``distillery tune-hybrid`` (threshold chosen on the val split of stage 2's data,
checked on test), timed in the same process on the same val articles: stage 2 alone vs the hybrid.
Prints a markdown table (docs/benchmarks.md records the result).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from distillery.export.tune_hybrid import tune_hybrid


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage1", type=Path, required=True)
    p.add_argument("--stage2", type=Path, required=True)
    p.add_argument("--fn-targets", type=float, nargs="+", default=[0.0, 0.01, 0.02, 0.05])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, target in enumerate(args.fn_targets):
            c = tune_hybrid(
                args.stage1,
                args.stage2,
                Path(tmp) / str(i),
                fn_target=target,
                threads=args.threads,
                repeats=args.repeats,
            )
            rows.append((target, c))
    first = rows[0][1]
    print(
        f"stage 1 {first['sources']['stage1']['base_model']} -> stage 2 {first['sources']['stage2']['base_model']}, "
        f"{first['filter']}, min tier {first['min_tier']}, {args.threads} thread(s), INT8 ONNX; "
        f"tuned on {first['tuned_on']['data']} ({first['tuned_on']['n']} articles, {first['tuned_on']['positives']} "
        f"positives), checked on {first.get('check', {}).get('data', '-')}\n"
    )
    print(
        "| FN target | threshold | skipped (val) | FN val | FN test | MAE hybrid / stage 2 (test) "
        "| stage 2 alone s | hybrid s | speedup |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for target, c in rows:
        v, t, tm = c["tuned_on"], c.get("check"), c["timing"]
        test_fn = f"{t['false_negatives']}/{t['positives']} ({t['fn_rate']:.1%})" if t else "-"
        test_mae = f"{t['hybrid']['mae']:.3f} / {t['stage2_alone']['mae']:.3f}" if t else "-"
        print(
            f"| {target:.0%} | {c['threshold']:.3f} | {v['skip_rate']:.1%} | {v['false_negatives']}/{v['positives']} "
            f"({v['fn_rate']:.1%}) | {test_fn} | {test_mae} | {tm['stage2_alone_s']:.2f} | {tm['hybrid_s']:.2f} "
            f"| **{tm['speedup']:.2f}x** |"
        )
    print(f"\nstage 1 alone costs {first['timing']['stage1_cost_share']:.0%} of stage 2 on these articles.")


if __name__ == "__main__":
    main()
