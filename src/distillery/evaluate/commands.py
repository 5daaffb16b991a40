"""``distillery evaluate``, ``distillery calibrate`` and ``distillery ensemble``.

evaluate   one scorer (run dir, checkpoint dir or export dir) on labelled data: per-dimension and
           overall MAE / RMSE / Spearman, weighted-average MAE, tier confusion + per-tier P/R,
           Recall@k / NDCG@k of the weighted average, confidence flags, plots, report.md, W&B.
calibrate  fit per-dimension isotonic calibration (calibration.json) and conformal confidence
           (confidence.json) on the val split of a run; report MAE before/after on val and test.
ensemble   several scorers: averaged predictions, member spread as uncertainty, evaluated and
           reported like one model.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from distillery.evaluate.calibrate import calibrate_target, calibration_summary
from distillery.evaluate.floor import add_agreement_argument
from distillery.evaluate.records import load_eval_records  # noqa: F401  (re-exported: its old home)
from distillery.evaluate.targets import ensemble_targets, evaluate_target


# ---- evaluate ----------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--data", metavar="FILE", help="labelled JSONL to evaluate on")
    g.add_argument(
        "--split", choices=["train", "val", "test"], help="a split of the run's training data (default test)"
    )
    p.add_argument("--limit", type=int, help="evaluate on the first N records only")
    p.add_argument("--out", type=Path, help="eval dir (default outputs/<verb>/runs/<time>_<id>)")
    p.add_argument(
        "--batch-size", type=int, help="views per forward pass (default: 16 PyTorch, the export's own for ONNX)"
    )
    p.add_argument("--threads", type=int, help="CPU threads (torch / ONNX Runtime); default: library default")
    p.add_argument(
        "--wandb",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log to W&B (offline unless WANDB_MODE=online; sync later with `wandb sync`)",
    )


class evaluate_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("target", type=Path, help="a training run dir, a checkpoint dir or an export dir")
        _common(p)
        p.add_argument("--variant", choices=["int8", "fp32"], default="int8", help="export dirs: which ONNX model")
        p.add_argument("--no-calibration", action="store_true", help="ignore calibration.json")
        p.add_argument("--k", type=int, nargs="+", default=[10, 25, 50, 100], help="k for Recall@k / NDCG@k")
        add_agreement_argument(p)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from distillery.evaluate.floor import floor_line, load_agreement
        from distillery.evaluate.records import target_config

        data_cfg, _ = target_config(args.target)
        near = [args.data] if args.data else [(data_cfg or {}).get("path")]
        res = evaluate_target(
            args.target,
            data=args.data,
            split=args.split,
            limit=args.limit,
            out=args.out,
            variant=args.variant,
            calibrated=not args.no_calibration,
            ks=args.k,
            batch_size=args.batch_size,
            threads=args.threads,
            wandb_on=args.wandb,
        )
        print_summary(res)
        if line := floor_line(res["final"]["mae"], load_agreement(args.agreement, near, res.get("filter"))):
            print(line)
        return 0


def print_summary(res: dict[str, Any]) -> None:
    f = res["final"]
    print(
        f"{res['kind']} on {res['data']} (n={res['n']}): MAE {f['mae']:.4f} | RMSE {f['rmse']:.4f} | "
        f"Spearman {f['spearman']:.3f} | weighted-avg MAE {f['weighted_mae']:.4f} | tier acc {f['tier_accuracy']:.3f}"
        + (f" | raw MAE {res['raw']['mae']:.4f}" if res["calibrated"] else "")
    )
    r = res["ranking"]
    ks = [k for k in r if k.startswith("recall@")]
    print("ranking: " + ", ".join(f"{k} {r[k]:.3f}" for k in ks) + f" (relevant: {r['n_relevant']})")
    if "confidence" in res:
        fw = res["confidence"]["flags_weighted_average_error"]
        print(
            f"confidence: coverage {res['confidence']['coverage_weighted_average']:.3f}; flagged {fw['n_flagged']}/{fw['n']}, "
            f"|err| flagged {fw['mae_flagged']:.3f} vs {fw['mae_unflagged']:.3f}"
        )
    print(f"eval dir: {res['eval_dir']}")


# ---- calibrate ---------------------------------------------------------------------------------
class calibrate_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("target", type=Path, help="a training run dir (or its checkpoint dir)")
        p.add_argument(
            "--objective",
            choices=["l1", "l2"],
            default="l1",
            help="isotonic objective: l1 (medians; never increases val MAE) or l2 (means, like sklearn)",
        )
        p.add_argument("--alpha", type=float, default=0.1, help="conformal miscoverage (0.1: 90%% intervals)")
        p.add_argument(
            "--review-threshold",
            type=float,
            help="flag articles whose weighted-average interval half-width exceeds this "
            "(default: the half-width of all val articles pooled)",
        )
        p.add_argument("--min-group", type=int, default=30, help="fewest val articles per conformal group")
        p.add_argument(
            "--data",
            metavar="FILE",
            help="fit on this labelled JSONL instead of the run's val split (e.g. a fresh holdout)",
        )
        p.add_argument("--batch-size", type=int)
        p.add_argument("--threads", type=int)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        res = calibrate_target(
            args.target,
            objective=args.objective,
            alpha=args.alpha,
            review_threshold=args.review_threshold,
            min_group=args.min_group,
            batch_size=args.batch_size,
            threads=args.threads,
            data=args.data,
        )
        for line in calibration_summary(res["calibration"]):
            print(line)
        for split, r in res["confidence"].items():
            print(
                f"{split:5s} conformal coverage {r['coverage']:.3f} (target {1 - args.alpha:.2f}); flagged "
                f"{r['flags']['n_flagged']}/{r['flags']['n']}: |err| {r['flags']['mae_flagged']:.3f} vs "
                f"{r['flags']['mae_unflagged']:.3f}"
            )
        print(f"wrote {res['calibration_file']} and {res['confidence_file']}")
        return 0


# ---- ensemble ----------------------------------------------------------------------------------
class ensemble_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("members", type=Path, nargs="+", help="run dirs, checkpoint dirs or export dirs (2 or more)")
        _common(p)
        p.add_argument("--variant", choices=["int8", "fp32"], default="int8", help="export dirs: which ONNX model")
        p.add_argument(
            "--review-quantile",
            type=float,
            default=0.8,
            help="flag the articles whose member spread is above this quantile (default 0.8: top 20%%)",
        )
        p.add_argument(
            "--review-threshold", type=float, help="flag when the weighted member spread exceeds this instead"
        )
        p.add_argument("--k", type=int, nargs="+", default=[10, 25, 50, 100])

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        res = ensemble_targets(
            args.members,
            data=args.data,
            split=args.split,
            limit=args.limit,
            out=args.out,
            variant=args.variant,
            review_quantile=args.review_quantile,
            review_threshold=args.review_threshold,
            ks=args.k,
            batch_size=args.batch_size,
            threads=args.threads,
            wandb_on=args.wandb,
        )
        for mem in res["members"]:
            print(f"member {mem['target']}: MAE {mem['mae']:.4f}")
        print_summary(res)
        s = res["spread"]["flags_weighted_average_error"]
        print(
            f"spread: flagged {s['n_flagged']}/{s['n']}, |err| flagged {s['mae_flagged']:.3f} vs {s['mae_unflagged']:.3f}; "
            f"Spearman(spread, |err|) {res['spread']['spearman_spread_error']:.3f}"
        )
        return 0
