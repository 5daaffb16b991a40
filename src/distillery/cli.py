"""The ``distillery`` command. Every verb is listed in ``VERBS`` below, in pipeline order.

Imports are lazy: ``distillery --help`` must not pay for torch, lightning or transformers.
Each verb's module exposes ``add_arguments(parser)`` and ``run(args) -> int | None``; ``train``
(and other Hydra verbs) receive their remaining arguments as Hydra overrides.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Verb:
    module: str  # module with add_arguments(parser) and run(args)
    help: str
    examples: str
    hydra: bool = False  # passes unknown args through as Hydra overrides


VERBS: dict[str, Verb] = {
    "filters": Verb(
        "distillery.filters.commands:list_cmd",
        "list the filters distillery can find",
        "distillery filters\n  distillery filters --filters-dir ~/my-filters",
    ),
    "validate-filter": Verb(
        "distillery.filters.commands:validate_cmd",
        "validate a filter spec and report every problem at once",
        "distillery validate-filter uplifting/v6\n  distillery validate-filter ./filters/belonging/v1",
    ),
    # ---- oracle labelling (src/distillery/oracle/) ----
    "new-filter": Verb(
        "distillery.filters.commands:new_filter_cmd",
        "scaffold a new, valid, editable filter (spec, prompt, prefilter, README)",
        "distillery new-filter --name belonging --dimensions 6",
    ),
    "score": Verb(
        "distillery.oracle.commands:score_cmd",
        "label articles with the oracle LLM (any OpenAI-compatible API), cached in a ledger",
        "distillery score --filter belonging/v1 --articles 1000",
    ),
    "synthesize": Verb(
        "distillery.oracle.commands:synthesize_cmd",
        "have the oracle write articles to target scores (rare tiers), tagged synthetic; --rescore checks them",
        "distillery synthesize --filter uplifting/v6 --n 50 --tier high --out synth.jsonl --rescore",
    ),
    "agree": Verb(
        "distillery.oracle.commands:agree_cmd",
        "score one sample with 2+ oracles (one ledger): inter-oracle MAE/Spearman/tier agreement, consensus labels",
        "distillery agree --filter uplifting/v6 --input news.jsonl --articles 200 --oracle openai --oracle gemini --out agree/",
    ),
    "prepare": Verb(
        "distillery.oracle.commands:prepare_cmd",
        "merge, dedupe and split labelled data into train/val/test",
        "distillery prepare --filter belonging/v1 labelled/*.jsonl --out data/belonging_v1",
    ),
    # ---- training ----
    "synth-corpus": Verb(
        "distillery.data.commands:synth_cmd",
        "write the seeded synthetic corpus (known scores) as JSONL",
        "distillery synth-corpus --filter uplifting/v6 --n 2400 --seed 0 --out corpus.jsonl",
    ),
    "train": Verb(
        "distillery.train.commands:train_cmd",
        "fine-tune a scorer (LoRA regressor) with Hydra overrides",
        "distillery train                                  # embedded default: tiny-qwen2, synthetic uplifting/v6\n"
        "  distillery train --filter uplifting/v6 model=qwen2.5-1.5b trainer=gpu\n"
        "  distillery train data=jsonl data.path=labelled/ model=minilm-l6\n"
        "  distillery train -m context_strategy=trunc512,head_tail\n"
        "  distillery train --cfg job                        # print the composed config\n"
        "  distillery train experiment=smoke logger=csv",
        hydra=True,
    ),
    # ---- research knobs: sweeps and their analysis (docs/sweeps.md) ----
    "sweep": Verb(
        "distillery.train.sweeps:sweep_cmd",
        "run a sweep from sweeps/ (context_length, loss, base_model, hparams) as a Hydra multirun",
        "distillery sweep context_length                   # trunc512/1024/2048/head_tail, then `compare`\n"
        "  distillery sweep                                  # list the sweeps\n"
        "  distillery sweep loss experiment=smoke logger=none\n"
        "  distillery sweep base_model model=qwen2.5-0.5b,qwen2.5-1.5b trainer=gpu\n"
        "  distillery sweep hparams hydra.sweeper.n_trials=50  # Optuna, resumable (SQLite study)",
        hydra=True,
    ),
    "compare": Verb(
        "distillery.evaluate.compare:compare_cmd",
        "compare the jobs of a sweep (multirun dir): val MAE, delta vs baseline, per-dimension MAE",
        "distillery compare outputs/train/multiruns/2025-01-01_12-00-00_ab12cd\n"
        "  distillery compare outputs/train/multiruns/<time>_<id> --baseline trunc512",
    ),
    "analyze-lengths": Verb(
        "distillery.evaluate.lengths:analyze_lengths_cmd",
        "article lengths in tokens: share of (high-scoring) articles per length bucket and cut by truncation",
        "distillery analyze-lengths                        # synthetic uplifting/v6 corpus, Qwen2.5 tokens\n"
        "  distillery analyze-lengths labelled/train.jsonl --filter belonging/v1 --out reports/lengths\n"
        "  distillery analyze-lengths data.jsonl --tokenizer /models/phi-2 --high-threshold 7",
    ),
    # ---- evaluation, calibration and release (docs/export.md) ----
    "evaluate": Verb(
        "distillery.evaluate.commands:evaluate_cmd",
        "evaluate a run, checkpoint or export on labelled data: metrics, tiers, Recall@k/NDCG@k, plots, report",
        "distillery evaluate outputs/train/runs/<time>_<id>            # its test split\n"
        "  distillery evaluate outputs/train/runs/<time>_<id> --split val --no-wandb\n"
        "  distillery evaluate exports/uplifting_v6 --data labelled/holdout.jsonl  # the INT8 ONNX model",
    ),
    "calibrate": Verb(
        "distillery.evaluate.commands:calibrate_cmd",
        "fit isotonic calibration + conformal confidence on a run's val split (calibration.json, confidence.json)",
        "distillery calibrate outputs/train/runs/<time>_<id>\n"
        "  distillery calibrate outputs/train/runs/<time>_<id> --alpha 0.2 --review-threshold 1.5",
    ),
    "ensemble": Verb(
        "distillery.evaluate.commands:ensemble_cmd",
        "evaluate an ensemble: averaged predictions, member spread as uncertainty",
        "distillery ensemble outputs/train/runs/<a> outputs/train/runs/<b> outputs/train/runs/<c>\n"
        "  distillery ensemble exports/seed0 exports/seed1 --data labelled/holdout.jsonl",
    ),
    # ---- active learning (docs/active-learning.md) ----
    "active-learn": Verb(
        "distillery.active.commands:active_learn_cmd",
        "one active-learning round: score a pool, pick candidates, oracle-label them, retrain, report (resumable)",
        "distillery active-learn outputs/train/runs/<time>_<id> --pool pool.jsonl --out outputs/active/round1\n"
        "  distillery active-learn <run dir> --pool pool.jsonl --out DIR --select both --uncertain-top 200 "
        "--budget 400 --max-cost 5\n"
        "  distillery active-learn <run dir> --pool pool.jsonl --out DIR --dry-run   # predictions, candidates, cost",
    ),
    "gate": Verb(
        "distillery.release.commands:gate_cmd",
        "release gate: candidate vs deployed scorer on held-out oracle labels, paired bootstrap CIs (docs/release.md)",
        "distillery gate outputs/train/runs/<new> --baseline exports/deployed --data data/v1/holdout.jsonl\n"
        "  distillery gate exports/new --baseline pkg:distillery_filter_uplifting_v6 --data holdout.jsonl --out gates/1",
    ),
    "export": Verb(
        "distillery.export.commands:export_cmd",
        "export a run to ONNX (FP32 + INT8; ONNX Runtime and/or OpenVINO) behind a hard parity gate; manifest + card",
        "distillery export outputs/train/runs/<time>_<id> --out exports/uplifting_v6   # --backend auto\n"
        "  distillery export <run dir> --out DIR --backend openvino\n"
        "  distillery export <run dir> --out DIR --int8-mae-tol 0.005 --parity-n 128\n"
        "  distillery export --verify exports/uplifting_v6         # re-run the gate on an export",
    ),
    "benchmark": Verb(
        "distillery.export.commands:benchmark_cmd",
        "CPU speed of PyTorch FP32 vs each exported model (ONNX Runtime, OpenVINO; FP32, INT8) per context length",
        "distillery benchmark exports/uplifting_v6\n"
        "  distillery benchmark exports/uplifting_v6 --lengths 512 1024 2048 --threads 2 --n 16",
    ),
    "tune-hybrid": Verb(
        "distillery.export.tune_hybrid:tune_hybrid_cmd",
        "two-stage scorer: pick the probe threshold above which the fine-tuned model runs, for a FN target",
        "distillery tune-hybrid --stage1 exports/probe --stage2 exports/uplifting_v6 --out exports/hybrid\n"
        "  distillery tune-hybrid --stage1 exports/probe --stage2 exports/qwen --out h --fn-target 0.005 --min-tier high",
    ),
    "predict": Verb(
        "distillery.export.bulk:predict_cmd",
        "score a JSONL of articles with an export or hybrid dir: all cores, length-sorted, progress, articles/s",
        "distillery predict exports/uplifting_v6 articles.jsonl --out scores.jsonl\n"
        "  distillery predict exports/hybrid articles.jsonl --out scores.jsonl --threads 2",
    ),
    "package": Verb(
        "distillery.export.commands:package_cmd",
        "build a pip-installable scorer wheel (its runtime + tokenizers + numpy; no torch) from an export or hybrid dir",
        "distillery package exports/uplifting_v6 --out dist/\n"
        "  distillery package exports/hybrid --out dist/ --name uplifting-hybrid\n"
        "  pip install dist/distillery_filter_uplifting_v6-6.0.0-py3-none-any.whl",
    ),
    # ---- the project view (docs/dashboard.md) ----
    "dashboard": Verb(
        "distillery.dashboard.commands:dashboard_cmd",
        "index every run (registry) and write a static HTML dashboard: accuracy over time, oracle cost, sweeps, exports",
        "distillery dashboard                              # outputs/dashboard/index.html, open it in a browser\n"
        "  distillery dashboard --scan exports/              # also index the export dirs under exports/\n"
        "  distillery dashboard --serve --port 8765          # http://127.0.0.1:8765, rebuilt on reload\n"
        "  distillery dashboard --screenshot docs/dashboard.png",
    ),
}


def _load(verb: Verb):
    mod, _, obj = verb.module.partition(":")
    return getattr(importlib.import_module(mod), obj)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distillery",
        description="Distil an expensive LLM oracle into small, fast scoring models.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  "
        + "\n  ".join(v.examples.splitlines()[0] for v in VERBS.values())
        + "\n\nRun `distillery <verb> --help` for a verb's options and worked examples.",
    )
    from distillery import __version__

    parser.add_argument("--version", action="version", version=f"distillery {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="<verb>")
    for name, verb in VERBS.items():
        sub.add_parser(name, help=verb.help, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in VERBS:
        parser.parse_args(argv or ["--help"])  # prints help / version / the unknown-verb error
        return 2
    name, rest = argv[0], argv[1:]
    verb = VERBS[name]
    from distillery.errors import DistilleryError

    try:
        cmd = _load(verb)
        sub = argparse.ArgumentParser(
            prog=f"distillery {name}",
            description=verb.help,
            epilog=f"examples:\n  {verb.examples}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            add_help=not verb.hydra,
        )
        cmd.add_arguments(sub)
        if verb.hydra:
            args, overrides = sub.parse_known_args(rest)
            args.overrides = overrides
        else:
            args = sub.parse_args(rest)
        code = cmd.run(args)
    except DistilleryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except Exception as e:  # a bug or an unforeseen fault: one line here, the traceback in a log file
        log = write_crash_log(name, argv)
        print(
            f"error: distillery {name} failed: {type(e).__name__}: {_first_line(e)} (traceback in {log})",
            file=sys.stderr,
        )
        return 1
    return int(code or 0)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else "(no message)"


def write_crash_log(verb: str, argv: list[str]) -> str:
    """Write the current exception's traceback to ``<cache>/logs/<verb>-<time>-<pid>.log``
    (``$DISTILLERY_LOG_DIR`` overrides the folder) and return its path; never raises."""
    import os
    import time
    import traceback
    from pathlib import Path

    from distillery.paths import cache_dir

    secret = ("key", "token", "secret", "password")
    shown = [
        "***" if i and any(w in argv[i - 1].lower() for w in secret) and argv[i - 1].startswith("-") else a
        for i, a in enumerate(argv)
    ]
    shown = [
        a.split("=", 1)[0] + "=***" if "=" in a and any(w in a.split("=", 1)[0].lower() for w in secret) else a
        for a in shown
    ]
    text = f"distillery {' '.join(shown)}\n\n{traceback.format_exc()}"
    folder = Path(os.environ.get("DISTILLERY_LOG_DIR") or cache_dir() / "logs")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{verb}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        path.write_text(text, encoding="utf-8")
        return str(path)
    except OSError:  # an unwritable cache: the traceback still goes somewhere, off the console
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=f"distillery-{verb}-", suffix=".log")
        os.write(fd, text.encode("utf-8", "replace"))
        os.close(fd)
        return tmp


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
