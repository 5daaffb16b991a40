"""``distillery export``: a training run -> an export dir that passed the parity gate.

export dir/
  manifest.json        see distillery.runtime.manifest (SHA-256 of every other file)
  MODEL_CARD.md        generated model card
  model.fp32.onnx      LoRA merged; backbone + pooling + head + de-standardisation
  model.int8.onnx      the shipped model (the first INT8 configuration that passed)
  tokenizer.json       (+ the rest of the checkpoint's tokenizer files)
  filter.yaml          the filter spec
  calibration.json     isotonic calibration (copied from the run, or fitted with --calibrate)
  confidence.json      conformal confidence
  parity.json          the gate's full numbers (also in the manifest)
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distillery.errors import DistilleryError
from distillery.evaluate.calibrate import calibrate_target, calibration_summary
from distillery.evaluate.predict import TorchPredictor, run_dir_of
from distillery.evaluate.records import load_eval_records, parity_records, run_data_config
from distillery.export.card import render
from distillery.export.onnx_export import export_fp32, merge_lora, model_files
from distillery.export.optimize import optimize_fp32
from distillery.export.parity import GateConfig, format_int8_row, fp32_parity, int8_check, tokenizer_parity
from distillery.export.quantize import CONFIGS, LADDER, quantize
from distillery.export.smooth import smooth_decoder, supports_smoothing
from distillery.rundir import RunDir, git_info, versions, write_json
from distillery.runtime.atomic import atomic_dir
from distillery.runtime.calibration import Calibration
from distillery.runtime.context import special_tokens
from distillery.runtime.manifest import ExportDir, load_manifest, verify_hashes, write_manifest

log = logging.getLogger("distillery.export")

FP32_FILE, INT8_FILE = ExportDir.FP32, ExportDir.INT8


class GateFailed(DistilleryError):
    """The parity gate failed; the message holds the numbers."""


def _say(msg: str) -> None:
    print(msg, flush=True)


def _base_model_info(meta: dict[str, Any], scorer: Any) -> dict[str, Any]:
    from importlib import metadata

    cfg = meta.get("model", {})
    info = {k: cfg.get(k) for k in ("name", "source", "path", "package", "gguf_file", "arch", "init_seed", "dtype")}
    info["loaded_from"] = meta.get("source")
    if cfg.get("package"):
        try:
            info["package_version"] = metadata.version(cfg["package"].replace("_", "-"))
        except metadata.PackageNotFoundError:
            info["package_version"] = None
    backbone = scorer.model.backbone
    config = getattr(backbone, "config", None)
    info["revision"] = getattr(config, "_commit_hash", None) if config is not None else None
    info["model_type"] = getattr(config, "model_type", None)
    info["parameters"] = int(sum(p.numel() for p in backbone.parameters()))
    return info


def _write_scaffold(
    out: Path, scorer: Any, run: Path | None, ckpt: Path, use_calibration: bool = True
) -> dict[str, Any]:
    """Copy tokenizer, spec, calibration; return the manifest's static part."""
    from distillery.models.checkpoint import CheckpointFiles  # torch

    tok = scorer.tokenizer
    tok_dir = ckpt / CheckpointFiles.TOKENIZER
    for f in tok_dir.iterdir():
        if f.is_file():
            shutil.copyfile(f, out / f.name)
    if not (out / ExportDir.TOKENIZER).is_file():
        raise DistilleryError(f"{tok_dir}: no tokenizer.json (a fast tokenizer is required for export)")
    shutil.copyfile(ckpt / RunDir.FILTER, out / ExportDir.FILTER)
    art = run or ckpt
    for src, dst in ((RunDir.CALIBRATION, ExportDir.CALIBRATION), (RunDir.CONFIDENCE, ExportDir.CONFIDENCE)):
        if use_calibration and (art / src).is_file():
            shutil.copyfile(art / src, out / dst)
    prefix, suffix = special_tokens(tok)
    return {
        "format": 1,
        "filter": scorer.spec.ref,
        "filter_file": ExportDir.FILTER,
        "dimensions": scorer.spec.dimension_names,
        "scale": {
            "min": 0.0,
            "max": 10.0,
            "outputs": "raw 0-10 (de-standardised inside the graph); calibrate, then clamp",
        },
        "pooling": scorer.meta.get("pooling"),
        "context_strategy": scorer.strategy.to_dict(),
        "tokens": {
            "prefix": list(prefix),
            "suffix": list(suffix),
            "separator": scorer.strategy.separator_ids(tok),
            "pad_id": int(tok.pad_token_id),
        },
        "tokenizer_file": ExportDir.TOKENIZER,
    }


def export_run(
    target: Path,
    out: Path,
    exporter: str = "torchscript",
    opset: int | None = None,
    gate: GateConfig = GateConfig(),
    int8_configs: Sequence[str] | None = None,
    parity_data: str | None = None,
    calibrate: str = "auto",
    threads: int | None = None,
    force: bool = False,
    optimize: bool = True,
    attention: str = "auto",
) -> dict[str, Any]:
    """Export, gate and describe. Raises GateFailed (after writing parity.json) if the gate fails.

    The export is built in a temporary sibling of ``out`` (:func:`distillery.runtime.atomic.atomic_dir`)
    and swapped in at the end: an error or a kill leaves no partial folder and an old ``out`` as it
    was. A failed gate is a result, not a fault: its folder (parity.json, no INT8 model) is kept at
    ``out``, unless ``out`` holds an export that passed: that one stays, the attempt goes to
    ``<out>.rejected``."""
    target, out = Path(target), Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise DistilleryError(f"{out}: exists and is not empty (use --force to overwrite)")
    failed: GateFailed | None = None
    with atomic_dir(out) as work:
        try:
            return _export_into(
                target,
                work,
                out,
                exporter=exporter,
                opset=opset,
                gate=gate,
                int8_configs=int8_configs,
                parity_data=parity_data,
                calibrate=calibrate,
                threads=threads,
                optimize=optimize,
                attention=attention,
            )
        except GateFailed as e:
            if not _passed_export(out):
                failed = e  # nothing usable to protect: the failed attempt's folder is kept as the record
            else:  # never replace a working export with a rejected one: keep the attempt beside it
                rejected = out.with_name(out.name + ".rejected")
                with atomic_dir(rejected) as keep:
                    shutil.copytree(work, keep, dirs_exist_ok=True)
                raise GateFailed(f"{e}\n{out} was left as it was; the rejected attempt is in {rejected}") from None
    raise failed


def _passed_export(out: Path) -> bool:
    """``out`` holds a complete export that passed its parity gate (an INT8 model in its manifest)."""
    try:
        return bool(load_manifest(out).get("models", {}).get("int8"))
    except Exception:  # noqa: BLE001 - missing, partial or foreign: nothing to protect
        return False


def _export_into(
    target: Path,
    out: Path,
    dest: Path,
    *,
    exporter: str,
    opset: int | None,
    gate: GateConfig,
    int8_configs: Sequence[str] | None,
    parity_data: str | None,
    calibrate: str,
    threads: int | None,
    optimize: bool,
    attention: str,
) -> dict[str, Any]:
    """:func:`export_run`'s work, written into ``out`` (a temporary folder that becomes ``dest``)."""
    from distillery.models.checkpoint import load_checkpoint

    run = run_dir_of(target)
    ckpt = run / RunDir.CHECKPOINT if run else target
    t0 = time.perf_counter()
    scorer = load_checkpoint(ckpt)  # its files are checked before torch is imported
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    from distillery.runtime.onnx_scorer import OnnxScorer  # onnxruntime

    spec = scorer.spec
    predictor = TorchPredictor(scorer, batch_size=8)
    if calibrate not in ("auto", "refit", "none"):
        raise ValueError(f"calibrate must be auto, refit or none, got {calibrate!r}")
    has_cal = ((run or ckpt) / RunDir.CALIBRATION).is_file()
    if calibrate == "refit" or (calibrate == "auto" and not has_cal and run is not None):
        _say("fitting calibration + confidence on the run's val split (as `distillery calibrate`)")
        for line in calibration_summary(calibrate_target(target, predictor=predictor)["calibration"]):
            _say("calibration: " + line)
    records, desc = parity_records(run or ckpt, spec, parity_data, gate.n)
    true = np.array([spec.labels_vector(r["labels"]) for r in records])
    _say(f"parity set: {len(records)} articles ({desc})")
    ref = predictor.predict(records)  # the PyTorch model as trained (LoRA unmerged)
    hf_ids = predictor.content_ids(records)

    manifest = _write_scaffold(out, scorer, run, ckpt, calibrate != "none")
    base = _base_model_info(scorer.meta, scorer)
    lora = merge_lora(scorer.model)
    _say(f"exporting FP32 ONNX ({exporter})")
    facts = export_fp32(scorer.model, out / FP32_FILE, exporter, opset)
    if optimize:
        facts["graph_optimization"] = optimize_fp32(
            out / FP32_FILE, scorer.model.backbone.config, facts["external_data"], attention=attention
        )
        facts["export_opset"], facts["opset"] = facts["opset"], facts["graph_optimization"].get("opset", facts["opset"])
        if facts["graph_optimization"]["applied"]:
            _say(f"fused FP32 graph: {facts['graph_optimization'].get('fused')}")
    session = facts.get("graph_optimization", {}).get("session")  # ORT settings the runtime must use
    manifest["models"] = {
        "fp32": {"file": FP32_FILE, **facts, "batch_invariant": True, **({"session": session} if session else {})}
    }
    manifest["base_model"], manifest["lora"] = base, lora
    data_cfg, cache = run_data_config(run)
    train_metrics = RunDir(run).metrics() if run else {}
    try:  # label provenance of the training data (the oracle that taught the student)
        oracles = Counter(
            str(r.get("oracle", "unknown")) for r in load_eval_records(run or ckpt, spec, None, "train")[0]
        )
    except DistilleryError:
        oracles = Counter()
    manifest["source"] = {
        "run_dir": str(run) if run else None,
        "checkpoint": str(ckpt),
        "data": data_cfg,
        "cache_dir": cache,
        "data_desc": desc,
        "oracles": dict(oracles),
        "training_metrics": {k: train_metrics.get(k) for k in ("n", "val", "test", "seed", "epochs")},
        "git": git_info(),
    }
    manifest["versions"] = versions()
    write_manifest(out, manifest, with_hashes=False)  # provisional: the gate's scorers read it

    # ---- gate 1: FP32 ONNX vs PyTorch -------------------------------------------------------
    rt32 = OnnxScorer(out, "fp32", threads=threads, calibrated=False)
    tok = tokenizer_parity(hf_ids, rt32.content_ids(records))
    raw32, _, _ = rt32.predict_raw(records)
    p32 = fp32_parity(ref.raw, raw32, gate.fp32_atol)
    p32["tokenizer"] = tok
    p32["passed"] = bool(p32["passed"] and tok["passed"])
    _say(
        f"FP32 parity: max |ONNX - PyTorch| {p32['max_abs_diff']:.2e} (tolerance {gate.fp32_atol:g}), "
        f"tokenizer mismatches {tok['mismatched_articles']}/{tok['n']} -> {'PASS' if p32['passed'] else 'FAIL'}"
    )
    parity: dict[str, Any] = {
        "gate": gate.to_dict(),
        "data": desc,
        "data_file": str(Path(parity_data).resolve()) if parity_data else None,
        "n": len(records),
        "fp32": p32,
        "int8_tried": [],
    }
    if not p32["passed"]:
        write_json(out / ExportDir.PARITY, parity)
        raise GateFailed(
            f"FP32 ONNX parity failed: max |diff| {p32['max_abs_diff']:.3e} > {gate.fp32_atol:g} or "
            f"{tok['mismatched_articles']} tokenizer mismatches (details in {dest / ExportDir.PARITY})"
        )

    # ---- gate 2: INT8 vs FP32 on task metrics -------------------------------------------------
    cal = Calibration.load(out / ExportDir.CALIBRATION) if (out / ExportDir.CALIBRATION).is_file() else None
    smoother = _Smoother(scorer, predictor, run or ckpt, out, facts)
    try:
        chosen, parity["int8_tried"] = int8_ladder(
            out,
            manifest,
            records,
            raw32,
            true,
            spec,
            cal,
            gate,
            int8_configs,
            facts["external_data"],
            threads,
            smoother,
        )
    finally:
        smoother.cleanup()
    write_json(out / ExportDir.PARITY, parity)
    if chosen is None:
        rows = "\n  ".join(format_int8_row(t["config"], t) for t in parity["int8_tried"] if "skipped" not in t)
        raise GateFailed(f"no INT8 configuration passed the gate (MAE tolerance {gate.int8_mae_tol:.2%}):\n  {rows}")
    cfg, q, r = chosen
    parity["int8"] = r
    parity["int8_config"] = cfg.name
    if any(t.get("skipped") for t in parity["int8_tried"]):
        _say("skipped: " + ", ".join(t["config"] for t in parity["int8_tried"] if t.get("skipped")))
    manifest["parity"] = parity
    manifest["models"]["int8"] = {
        "file": INT8_FILE,
        "opset": facts["opset"],
        "quantization": q,
        **({"session": manifest["models"]["fp32"]["session"]} if "session" in manifest["models"]["fp32"] else {}),
        "batch_invariant": cfg.method != "dynamic",
        "batch_invariance_max_diff": r["batch_invariance_max_diff"],
    }
    manifest["calibration"] = _json_or_none(out / ExportDir.CALIBRATION)
    manifest["confidence"] = _json_or_none(out / ExportDir.CONFIDENCE)
    manifest["export_seconds"] = round(time.perf_counter() - t0, 1)
    write_json(out / ExportDir.PARITY, parity)
    (out / ExportDir.CARD).write_text(render(manifest, spec))
    write_manifest(out, manifest)
    _say(f"INT8 config `{cfg.name}` passed; export dir: {dest}")
    return manifest


class _Smoother:
    """Smoothed FP32 graphs for the ``smooth-*`` INT8 configs, made on demand from the merged model
    (a copy is smoothed; calibration views come from the val split, never the parity set)."""

    def __init__(self, scorer: Any, predictor: Any, target: Path, out: Path, facts: dict[str, Any]):
        self.scorer, self.predictor, self.target, self.out, self.facts = scorer, predictor, target, out, facts
        self.files: dict[float, tuple[Path, dict]] = {}

    def supported(self) -> bool:

        return supports_smoothing(self.scorer.model.backbone)

    def graph(self, alpha: float) -> tuple[Path, dict]:
        if alpha not in self.files:
            import copy

            try:
                val, _ = load_eval_records(self.target, self.scorer.spec, None, "val", 32)
            except DistilleryError:
                val, _ = load_eval_records(self.target, self.scorer.spec, None, "train", 32)
            tok = self.scorer.tokenizer
            prefix, suffix = special_tokens(tok)
            views, _ = self.scorer.strategy.encode_ids(
                self.predictor.content_ids(val), prefix, suffix, self.scorer.strategy.separator_ids(tok)
            )
            model = copy.deepcopy(self.scorer.model)
            info = smooth_decoder(model, views, tok.pad_token_id, alpha=alpha)
            path = self.out / f".smoothed_{alpha}.onnx"
            opt = self.facts.get("graph_optimization")
            export_fp32(model, path, self.facts["exporter"], self.facts.get("export_opset", self.facts["opset"]))
            if opt:  # the same graph rewriting as the FP32 model the gate checked
                optimize_fp32(path, model.backbone.config, self.facts["external_data"], attention=opt["attention"])
            del model
            self.files[alpha] = (path, info)
        return self.files[alpha]

    def cleanup(self) -> None:

        for path, _ in self.files.values():
            for f in model_files(path):
                f.unlink(missing_ok=True)


def int8_ladder(
    out: Path,
    manifest: dict[str, Any],
    records: Sequence[dict],
    raw32: np.ndarray,
    true: np.ndarray,
    spec: Any,
    cal: Any,
    gate: GateConfig,
    int8_configs: Sequence[str] | None = None,
    external_data: bool = False,
    threads: int | None = None,
    smoother: _Smoother | None = None,
) -> tuple[tuple | None, list[dict]]:
    """Quantize with each configuration in turn until one passes the INT8 gate.

    Returns ((config, quantization facts, gate numbers) of the first that passed, or None, and
    the numbers of every configuration tried). On failure no INT8 model is left in ``out``.
    ``smooth-*`` configs are skipped (recorded as such) without a smoother or for models that
    cannot be smoothed (encoders).
    """
    from distillery.runtime.onnx_scorer import OnnxScorer

    configs = [CONFIGS[c] for c in int8_configs] if int8_configs else list(LADDER)
    tried: list[dict] = []
    for cfg in configs:
        source, smooth_info = out / FP32_FILE, None
        if cfg.smooth_alpha is not None:
            if smoother is None or not smoother.supported():
                tried.append({"config": cfg.name, "skipped": "smoothing applies to Llama/Qwen-style decoders only"})
                continue
            source, smooth_info = smoother.graph(cfg.smooth_alpha)
        q = quantize(source, out / INT8_FILE, cfg, external_data=external_data)
        if smooth_info:
            q["smoothing"] = smooth_info
        manifest["models"]["int8"] = {
            "file": INT8_FILE,
            "quantization": q,
            "batch_invariant": cfg.method != "dynamic",
            **({"session": manifest["models"]["fp32"]["session"]} if "session" in manifest["models"]["fp32"] else {}),
        }
        write_manifest(out, manifest, with_hashes=False)  # provisional: names the INT8 model to check
        rt8 = OnnxScorer(out, "int8", threads=threads, calibrated=False)
        raw8, _, _ = rt8.predict_raw(records)
        r = int8_check(spec, cal, raw32, raw8, true, gate)
        # dynamic INT8 quantizes activations per tensor, i.e. over the whole padded batch: an
        # article's score then depends on its batch-mates. Measured here, reported in the manifest.
        k = min(8, len(records))
        batched = OnnxScorer(out, "int8", threads=threads, batch_size=8, calibrated=False).predict_raw(records[:k])[0]
        single = np.concatenate([rt8.predict_raw([x])[0] for x in records[:k]])
        r["batch_invariance_max_diff"] = float(np.abs(single - batched).max())
        r["scoring_batch_size"] = rt8.batch_size
        tried.append({"config": cfg.name, **r})
        _say("INT8 " + format_int8_row(cfg.name, r))
        if r["passed"]:
            return (cfg, q, r), tried
    (out / INT8_FILE).unlink(missing_ok=True)
    manifest["models"].pop("int8", None)
    write_manifest(out, manifest, with_hashes=False)
    return None, tried


def _json_or_none(p: Path) -> dict | None:
    if not p.is_file():
        return None
    d = json.loads(p.read_text())
    return {k: v for k, v in d.items() if k not in ("dimensions", "groups")} | (
        {"groups": d["groups"]} if "groups" in d else {}
    )


def verify_export(
    export_dir: Path, threads: int | None = None, gate: GateConfig | None = None, scorer: Any = None
) -> dict[str, Any]:
    """Re-run the hash check and the parity gate of an export against its source checkpoint
    (``scorer``: that checkpoint already loaded, unmerged)."""
    from distillery.models.checkpoint import load_checkpoint  # torch, transformers
    from distillery.runtime.onnx_scorer import OnnxScorer  # onnxruntime

    export_dir = Path(export_dir)
    m = load_manifest(export_dir)
    gate = gate or GateConfig(**m["parity"]["gate"])
    problems = verify_hashes(export_dir, m)
    ckpt = Path(m["source"]["checkpoint"])
    if not ckpt.exists():
        raise DistilleryError(f"source checkpoint {ckpt} is gone: cannot re-run the parity gate")
    scorer = scorer or load_checkpoint(ckpt)
    spec = scorer.spec
    run = Path(m["source"]["run_dir"]) if m["source"].get("run_dir") else None
    records, desc = parity_records(run or ckpt, spec, m["parity"].get("data_file"), gate.n)
    true = np.array([spec.labels_vector(r["labels"]) for r in records])
    ref = TorchPredictor(scorer, batch_size=8).predict(records)
    rt32 = OnnxScorer(export_dir, "fp32", threads=threads, calibrated=False)
    raw32, _, _ = rt32.predict_raw(records)
    p32 = fp32_parity(ref.raw, raw32, gate.fp32_atol)
    raw8, _, _ = OnnxScorer(export_dir, "int8", threads=threads, calibrated=False).predict_raw(records)
    cal = (
        Calibration.load(export_dir / ExportDir.CALIBRATION) if (export_dir / ExportDir.CALIBRATION).is_file() else None
    )
    r8 = int8_check(spec, cal, raw32, raw8, true, gate)
    _say(f"hashes: {'OK' if not problems else '; '.join(problems)}")
    _say(
        f"FP32 parity: max |ONNX - PyTorch| {p32['max_abs_diff']:.3e} (tolerance {gate.fp32_atol:g}) -> "
        f"{'PASS' if p32['passed'] else 'FAIL'}"
    )
    _say("INT8 " + format_int8_row(m["models"]["int8"]["quantization"]["name"], r8))
    res = {"hashes": problems, "fp32": p32, "int8": r8, "n": len(records), "data": desc}
    if problems or not p32["passed"] or not r8["passed"]:
        raise GateFailed(
            f"{export_dir}: verification failed (hashes: {len(problems)} problem(s); FP32 max |diff| "
            f"{p32['max_abs_diff']:.3e}; INT8 MAE {r8['mae_rel_change']:+.2%})"
        )
    return res
