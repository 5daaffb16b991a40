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
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from distillery.errors import DistilleryError


# ---- data --------------------------------------------------------------------------------------
def _target_config(target: Path) -> tuple[dict | None, str | None]:
    """(data config, cache dir) recorded for a run dir / checkpoint / export dir, if any."""
    import json

    from distillery.evaluate.predict import is_export_dir, run_dir_of

    if is_export_dir(target):
        m = json.loads((target / "manifest.json").read_text())
        src = m.get("source", {})
        return src.get("data"), src.get("cache_dir")
    run = run_dir_of(target)
    if run is None:
        return None, None
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(OmegaConf.load(run / "config.yaml"), resolve=False)
    return cfg.get("data"), (cfg.get("paths") or {}).get("cache_dir")


def load_eval_records(target: Path, spec: Any, data: str | None, split: str | None,
                      limit: int | None = None) -> tuple[list[dict], str]:
    """Labelled records to evaluate on: ``--data FILE`` or a split of the data the run trained on."""
    from distillery.data.records import read_records

    if data:
        records = read_records([Path(data)], spec).records
        desc = str(data)
    else:
        split = split or "test"
        cfg, cache = _target_config(target)
        if cfg is None:
            raise DistilleryError(f"{target}: no training config recorded, so --split {split} is unknown; give --data FILE")
        from omegaconf import OmegaConf

        from distillery.data.datamodule import load_split_records
        from distillery.paths import cache_dir

        cache_str = str(cache) if cache and "${" not in str(cache) else str(cache_dir())
        splits, _ = load_split_records(OmegaConf.create(cfg), spec, Path(cache_str))
        records = splits.get(split) or []
        desc = f"split {split} of {cfg.get('source')} data" + (f" ({cfg.get('path')})" if cfg.get("path") else "")
    if limit:
        records = records[: int(limit)]
    if not records:
        raise DistilleryError(f"no labelled records to evaluate on ({desc})")
    return records, desc


# ---- evaluate ----------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--data", metavar="FILE", help="labelled JSONL to evaluate on")
    g.add_argument("--split", choices=["train", "val", "test"], help="a split of the run's training data (default test)")
    p.add_argument("--limit", type=int, help="evaluate on the first N records only")
    p.add_argument("--out", type=Path, help="eval dir (default outputs/<verb>/runs/<time>_<id>)")
    p.add_argument("--batch-size", type=int, help="views per forward pass (default: 16 PyTorch, the export's own for ONNX)")
    p.add_argument("--threads", type=int, help="CPU threads (torch / ONNX Runtime); default: library default")
    p.add_argument("--wandb", action=argparse.BooleanOptionalAction, default=True,
                   help="log to W&B (offline unless WANDB_MODE=online; sync later with `wandb sync`)")


class evaluate_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("target", type=Path, help="a training run dir, a checkpoint dir or an export dir")
        _common(p)
        p.add_argument("--variant", choices=["int8", "fp32"], default="int8", help="export dirs: which ONNX model")
        p.add_argument("--no-calibration", action="store_true", help="ignore calibration.json")
        p.add_argument("--k", type=int, nargs="+", default=[10, 25, 50, 100], help="k for Recall@k / NDCG@k")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        res = evaluate_target(args.target, data=args.data, split=args.split, limit=args.limit, out=args.out,
                              variant=args.variant, calibrated=not args.no_calibration, ks=args.k,
                              batch_size=args.batch_size, threads=args.threads, wandb_on=args.wandb)
        _print_summary(res)
        return 0


def _print_summary(res: dict[str, Any]) -> None:
    f = res["final"]
    print(f"{res['kind']} on {res['data']} (n={res['n']}): MAE {f['mae']:.4f} | RMSE {f['rmse']:.4f} | "
          f"Spearman {f['spearman']:.3f} | weighted-avg MAE {f['weighted_mae']:.4f} | tier acc {f['tier_accuracy']:.3f}"
          + (f" | raw MAE {res['raw']['mae']:.4f}" if res["calibrated"] else ""))
    r = res["ranking"]
    ks = [k for k in r if k.startswith("recall@")]
    print("ranking: " + ", ".join(f"{k} {r[k]:.3f}" for k in ks) + f" (relevant: {r['n_relevant']})")
    if "confidence" in res:
        fw = res["confidence"]["flags_weighted_average_error"]
        print(f"confidence: coverage {res['confidence']['coverage_weighted_average']:.3f}; flagged {fw['n_flagged']}/{fw['n']}, "
              f"|err| flagged {fw['mae_flagged']:.3f} vs {fw['mae_unflagged']:.3f}")
    print(f"eval dir: {res['eval_dir']}")


def evaluate_target(target: Path, data: str | None = None, split: str | None = None, limit: int | None = None,
                    out: Path | None = None, variant: str = "int8", calibrated: bool = True,
                    ks: Sequence[int] = (10, 25, 50, 100), batch_size: int | None = None, threads: int | None = None,
                    wandb_on: bool = True, predictor: Any = None) -> dict[str, Any]:
    """Evaluate one scorer; ``predictor``: an already loaded predictor for ``target`` (saves a reload)."""
    from distillery.data.split import label_matrix
    from distillery.evaluate.evaluation import evaluate_arrays, load_calibration
    from distillery.evaluate.predict import artifact_dir, is_export_dir, load_predictor
    from distillery.evaluate.report import new_eval_dir, write_eval_dir
    from distillery.rundir import write_run_json

    target = Path(target)
    predictor = predictor or load_predictor(target, variant, threads=threads, batch_size=batch_size)
    spec = predictor.spec
    records, desc = load_eval_records(target, spec, data, split, limit)
    out = Path(out) if out else new_eval_dir("evaluate")
    out.mkdir(parents=True, exist_ok=True)
    write_run_json(out, "evaluate", 0, target=str(target))
    cal, conf = load_calibration(artifact_dir(target), spec)
    if not calibrated:
        cal = None
    t0 = time.perf_counter()
    pred = predictor.predict(records)
    seconds = time.perf_counter() - t0
    true = label_matrix(records, spec)
    m = evaluate_arrays(spec, pred.raw, true, pred.cut, cal, conf, ks=ks)
    kind = f"onnx-{variant}" if is_export_dir(target) else "pytorch"
    extra = {"target": str(target), "kind": kind, "data": desc, "filter": spec.ref, "eval_dir": str(out),
             "inference_seconds": round(seconds, 3), "ms_per_article": round(1000 * seconds / len(records), 3)}
    about = [("target", f"`{target}`"), ("model", kind), ("filter", spec.ref), ("data", f"{desc}, {len(records)} articles"),
             ("calibration", "isotonic (calibration.json)" if cal else "none"),
             ("confidence", "conformal (confidence.json)" if conf else "none"),
             ("inference", f"{extra['ms_per_article']} ms/article")]
    return write_eval_dir(out, spec, records, pred.raw, true, m, f"Evaluation of {spec.ref} ({kind})", about, extra,
                          wandb_on)


# ---- calibrate ---------------------------------------------------------------------------------
class calibrate_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("target", type=Path, help="a training run dir (or its checkpoint dir)")
        p.add_argument("--objective", choices=["l1", "l2"], default="l1",
                       help="isotonic objective: l1 (medians; never increases val MAE) or l2 (means, like sklearn)")
        p.add_argument("--alpha", type=float, default=0.1, help="conformal miscoverage (0.1: 90%% intervals)")
        p.add_argument("--review-threshold", type=float,
                       help="flag articles whose weighted-average interval half-width exceeds this "
                            "(default: the half-width of all val articles pooled)")
        p.add_argument("--min-group", type=int, default=30, help="fewest val articles per conformal group")
        p.add_argument("--data", metavar="FILE",
                       help="fit on this labelled JSONL instead of the run's val split (e.g. a fresh holdout)")
        p.add_argument("--batch-size", type=int)
        p.add_argument("--threads", type=int)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        res = calibrate_target(args.target, objective=args.objective, alpha=args.alpha,
                               review_threshold=args.review_threshold, min_group=args.min_group,
                               batch_size=args.batch_size, threads=args.threads, data=args.data)
        for split, r in res["calibration"].items():
            if split not in ("val", "test"):
                continue
            print(f"{split:5s} MAE before {r['mae_before']:.4f} -> after {r['mae_after']:.4f} (n={r['n']})")
        for split, r in res["confidence"].items():
            print(f"{split:5s} conformal coverage {r['coverage']:.3f} (target {1 - args.alpha:.2f}); flagged "
                  f"{r['flags']['n_flagged']}/{r['flags']['n']}: |err| {r['flags']['mae_flagged']:.3f} vs "
                  f"{r['flags']['mae_unflagged']:.3f}")
        print(f"wrote {res['calibration_file']} and {res['confidence_file']}")
        return 0


def calibrate_target(target: Path, objective: str = "l1", alpha: float = 0.1, review_threshold: float | None = None,
                     min_group: int = 30, batch_size: int | None = None, threads: int | None = None,
                     predictor: Any = None, data: str | None = None) -> dict[str, Any]:
    """Fit calibration.json + confidence.json on val (or ``data``); report on val and test."""
    from distillery.data.split import label_matrix
    from distillery.runtime.calibration import CALIBRATION_FILE, cross_fitted, fit_calibration, mae_before_after
    from distillery.runtime.confidence import CONFIDENCE_FILE, coverage, fit_conformal, flag_report
    from distillery.evaluate.predict import artifact_dir, is_export_dir, load_predictor
    from distillery.runtime.scoring import finalize

    target = Path(target)
    if is_export_dir(target):
        raise DistilleryError(f"{target}: an export dir's files are hashed in its manifest; calibrate the training "
                              "run (distillery calibrate <run dir>) and export again")
    predictor = predictor or load_predictor(target, threads=threads, batch_size=batch_size)
    spec = predictor.spec
    preds: dict[str, Any] = {}
    for split in ("val", "test"):
        try:
            records, _ = load_eval_records(target, spec, data if split == "val" else None, split)
        except DistilleryError:
            if split == "val":
                raise
            continue
        p = predictor.predict(records)
        preds[split] = (p, label_matrix(records, spec))
    p_val, y_val = preds["val"]
    cal = fit_calibration(p_val.raw, y_val, spec.dimension_names, objective)
    cal.fitted_on = f"{data} (reported as val)" if data else "val split"
    # conformal residuals from out-of-fold calibrated val predictions (in-sample ones are too small)
    oof = finalize(spec, cross_fitted(p_val.raw, y_val, cal))
    conf = fit_conformal(oof["scores"], y_val, oof["weighted_average"], spec.weighted_average(y_val), p_val.cut,
                         spec.dimension_names, alpha=alpha, min_group=min_group, review_threshold=review_threshold)
    rep_cal, rep_conf = {}, {}
    for split, (p, y) in preds.items():
        rep_cal[split] = mae_before_after(cal, p.raw, y)
        f = finalize(spec, p.raw, cal, conf, p.cut)
        c = f["confidence"]
        wa_true = spec.weighted_average(y)
        rep_conf[split] = {"coverage": coverage(c["wa_low"], c["wa_high"], wa_true),
                           "flags": flag_report(np.abs(f["weighted_average"] - wa_true), c["needs_review"])}
    cal.report = {**rep_cal, **cal.report}
    conf.report = rep_conf
    folder = artifact_dir(target)
    cal_file = cal.save(folder / CALIBRATION_FILE)
    conf_file = conf.save(folder / CONFIDENCE_FILE)
    return {"calibration": cal.report, "confidence": rep_conf, "calibration_file": str(cal_file),
            "confidence_file": str(conf_file)}


# ---- ensemble ----------------------------------------------------------------------------------
class ensemble_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("members", type=Path, nargs="+", help="run dirs, checkpoint dirs or export dirs (2 or more)")
        _common(p)
        p.add_argument("--variant", choices=["int8", "fp32"], default="int8", help="export dirs: which ONNX model")
        p.add_argument("--review-quantile", type=float, default=0.8,
                       help="flag the articles whose member spread is above this quantile (default 0.8: top 20%%)")
        p.add_argument("--review-threshold", type=float, help="flag when the weighted member spread exceeds this instead")
        p.add_argument("--k", type=int, nargs="+", default=[10, 25, 50, 100])

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        res = ensemble_targets(args.members, data=args.data, split=args.split, limit=args.limit, out=args.out,
                               variant=args.variant, review_quantile=args.review_quantile,
                               review_threshold=args.review_threshold, ks=args.k, batch_size=args.batch_size,
                               threads=args.threads, wandb_on=args.wandb)
        for mem in res["members"]:
            print(f"member {mem['target']}: MAE {mem['mae']:.4f}")
        _print_summary(res)
        s = res["spread"]["flags_weighted_average_error"]
        print(f"spread: flagged {s['n_flagged']}/{s['n']}, |err| flagged {s['mae_flagged']:.3f} vs {s['mae_unflagged']:.3f}; "
              f"Spearman(spread, |err|) {res['spread']['spearman_spread_error']:.3f}")
        return 0


def ensemble_targets(members: Sequence[Path], data: str | None = None, split: str | None = None,
                     limit: int | None = None, out: Path | None = None, variant: str = "int8",
                     review_quantile: float = 0.8, review_threshold: float | None = None,
                     ks: Sequence[int] = (10, 25, 50, 100), batch_size: int | None = None, threads: int | None = None,
                     wandb_on: bool = True, predictors: Sequence[Any] | None = None) -> dict[str, Any]:
    """Average the members' calibrated outputs; their std (after clamping) is the uncertainty.
    ``predictors``: already loaded predictors for the members (None entries are loaded)."""
    from distillery.data.split import label_matrix
    from distillery.evaluate.evaluation import evaluate_arrays, load_calibration
    from distillery.evaluate.metrics import regression_metrics
    from distillery.evaluate.predict import artifact_dir, load_predictor
    from distillery.evaluate.report import new_eval_dir, write_eval_dir
    from distillery.rundir import write_run_json

    if len(members) < 2:
        raise DistilleryError("an ensemble needs at least 2 members")
    members = [Path(m) for m in members]
    given = list(predictors or [None] * len(members))
    predictors = [g or load_predictor(m, variant, threads=threads, batch_size=batch_size) for m, g in zip(members, given)]
    spec = predictors[0].spec
    for m, p in zip(members, predictors):
        if p.spec.ref != spec.ref or p.spec.dimension_names != spec.dimension_names:
            raise DistilleryError(f"{m}: filter {p.spec.ref} differs from the first member's {spec.ref}")
    records, desc = load_eval_records(members[0], spec, data, split, limit)
    true = label_matrix(records, spec)
    out = Path(out) if out else new_eval_dir("ensemble")
    out.mkdir(parents=True, exist_ok=True)
    write_run_json(out, "ensemble", 0, members=[str(m) for m in members])
    outs, cuts, info = [], [], []
    t0 = time.perf_counter()
    for m, p in zip(members, predictors):
        pred = p.predict(records)
        cal, _ = load_calibration(artifact_dir(m), spec)
        calibrated = cal.apply(pred.raw) if cal is not None else pred.raw
        outs.append(calibrated)
        cuts.append(pred.cut)
        info.append({"target": str(m), "calibrated": cal is not None, "mae": regression_metrics(calibrated, true, spec)["mae"]})
    seconds = time.perf_counter() - t0
    stack = np.stack(outs)  # (M, A, N)
    mean = stack.mean(0)
    spread = np.clip(stack, 0, 10).std(0)
    cut = np.any(np.stack(cuts), 0)
    m = evaluate_arrays(spec, mean, true, cut, None, None, spread=spread, ks=ks, review_quantile=review_quantile,
                        spread_threshold=review_threshold)
    extra = {"kind": f"ensemble of {len(members)}", "members": info, "data": desc, "filter": spec.ref,
             "eval_dir": str(out), "inference_seconds": round(seconds, 3)}
    about = [("members", ", ".join(f"`{i['target']}` (MAE {i['mae']:.3f})" for i in info)), ("filter", spec.ref),
             ("data", f"{desc}, {len(records)} articles"),
             ("combination", "mean of the members' outputs (each calibrated with its own calibration.json, if any); "
                                 "uncertainty = std across members")]
    return write_eval_dir(out, spec, records, mean, true, m, f"Ensemble of {len(members)} for {spec.ref}", about, extra,
                          wandb_on, spread=spread)
