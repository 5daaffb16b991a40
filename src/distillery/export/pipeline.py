"""``distillery export``: a training run -> an export dir that passed the parity gate.

export dir/
  manifest.json        see distillery.runtime.manifest (SHA-256 of every other file)
  MODEL_CARD.md        generated model card
  model.fp32.onnx      LoRA merged; backbone + pooling + head + de-standardisation
  model.int8.onnx      ONNX Runtime INT8 (the first configuration of its ladder that passed)
  model.fp32.xml/.bin  OpenVINO FP32 IR (from the plain FP32 ONNX graph), when OpenVINO is a backend
  model.int8.xml/.bin  OpenVINO INT8 IR (NNCF; the first configuration of its ladder that passed)
  tokenizer.json       (+ the rest of the checkpoint's tokenizer files)
  filter.yaml          the filter spec
  calibration.json     isotonic calibration (copied from the run, or fitted with --calibrate)
  confidence.json      conformal confidence
  parity.json          the gate's full numbers (also in the manifest)

Backends (``--backend``): ``onnxruntime``, ``openvino`` or ``auto`` (default: every backend
installed here). Each gets the same gate: its FP32 model vs PyTorch (max |diff| <= fp32_atol),
then its INT8 ladder vs its own FP32 model on task metrics. Of the backends whose INT8 passed,
the fastest on the parity articles (as shipped: same threads, best of 3 passes) becomes the
manifest's ``int8`` model, which ``distillery package`` ships; the others stay in the export dir
as ``int8-<backend>`` (for ``distillery benchmark``), and ``manifest.backends`` records every
backend's gate numbers and speed.
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
from distillery.export.int8 import (
    FP32_FILE,
    INT8_FILE,
    OvCalibration,
    Smoother,
    articles_per_s,
    configs_for,
    int8_ladder,
)
from distillery.export.onnx_export import export_fp32, merge_lora
from distillery.export.optimize import optimize_fp32
from distillery.export.parity import GateConfig, format_int8_row, fp32_parity, int8_check, tokenizer_parity
from distillery.export.quantize_openvino import convert_fp32
from distillery.rundir import RunDir, git_info, versions, write_json
from distillery.runtime.atomic import atomic_dir
from distillery.runtime.backends import BACKENDS, available, backend_of
from distillery.runtime.calibration import Calibration
from distillery.runtime.context import special_tokens
from distillery.runtime.manifest import ExportDir, load_manifest, verify_hashes, write_manifest

log = logging.getLogger("distillery.export")

__all__ = ["FP32_FILE", "INT8_FILE", "GateFailed", "export_run", "int8_ladder", "verify_export"]


def resolve_backends(backend: str) -> list[str]:
    """``auto`` -> every backend installed here (ONNX Runtime always); else the one named."""
    if backend == "auto":
        return [b for b in BACKENDS if b == "onnxruntime" or available(b)]
    if backend not in BACKENDS:
        raise DistilleryError(f"--backend {backend!r}: choose one of {', '.join(BACKENDS)} or auto")
    if not available(backend):
        raise DistilleryError(f"--backend {backend}: the {backend} package is not installed (pip install {backend})")
    return [backend]


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
    backend: str = "auto",
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
    backends = resolve_backends(backend)
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
                backends=backends,
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
    backends: Sequence[str] = ("onnxruntime",),
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
    ov_fp32 = convert_fp32(out / FP32_FILE, out / ExportDir.OV_FP32) if "openvino" in backends else None
    if optimize:
        facts["graph_optimization"] = optimize_fp32(
            out / FP32_FILE, scorer.model.backbone.config, facts["external_data"], attention=attention
        )
        facts["export_opset"], facts["opset"] = facts["opset"], facts["graph_optimization"].get("opset", facts["opset"])
        if facts["graph_optimization"]["applied"]:
            _say(f"fused FP32 graph: {facts['graph_optimization'].get('fused')}")
    session = facts.get("graph_optimization", {}).get("session")  # ORT settings the runtime must use
    manifest["models"] = {
        "fp32": {
            "file": FP32_FILE,
            "backend": "onnxruntime",
            **facts,
            "batch_invariant": True,
            **({"session": session} if session else {}),
        }
    }
    if ov_fp32:
        manifest["models"]["fp32-openvino"] = {
            "file": ExportDir.OV_FP32,
            "backend": "openvino",
            "precision": "f32",
            **ov_fp32,
            "batch_invariant": True,
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
        "run_dir": str(Path(run).resolve()) if run else None,  # absolute: read from any cwd
        "checkpoint": str(Path(ckpt).resolve()),
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

    # ---- gate 2: INT8 vs FP32 on task metrics, per backend; the fastest that passed ships ----------
    cal = Calibration.load(out / ExportDir.CALIBRATION) if (out / ExportDir.CALIBRATION).is_file() else None
    fp32_raw = {"onnxruntime": raw32}
    parity["backends"] = {"onnxruntime": {"fp32": p32}}
    if "openvino" in backends:
        rtov = OnnxScorer(out, "fp32-openvino", threads=threads, calibrated=False)
        pov = fp32_parity(ref.raw, rtov.predict_raw(records)[0], gate.fp32_atol)
        parity["backends"]["openvino"] = {"fp32": pov}
        _say(
            f"FP32 parity (OpenVINO, f32): max |OpenVINO - PyTorch| {pov['max_abs_diff']:.2e} -> "
            f"{'PASS' if pov['passed'] else 'FAIL'}"
        )
        if pov["passed"]:
            fp32_raw["openvino"] = rtov.predict_raw(records)[0]
    smoother = Smoother(scorer, predictor, run or ckpt, out, facts)
    calib = OvCalibration(scorer, predictor, run or ckpt)
    passed: dict[str, tuple] = {}
    try:
        for b in backends:
            if b not in fp32_raw:
                continue
            configs = configs_for(b, int8_configs)
            if not configs:
                parity["backends"][b]["int8_tried"] = []
                parity["backends"][b]["skipped"] = "no --int8-config of this backend"
                continue
            chosen, tried = int8_ladder(
                out,
                manifest,
                records,
                fp32_raw[b],
                true,
                spec,
                cal,
                gate,
                configs,
                facts["external_data"],
                threads,
                smoother,
                backend=b,
                calibration_views=calib,
            )
            parity["backends"][b]["int8_tried"] = tried
            if chosen is not None:
                passed[b] = chosen
                parity["backends"][b]["int8"], parity["backends"][b]["int8_config"] = chosen[2], chosen[0].name
    finally:
        smoother.cleanup()
    parity["int8_tried"] = [t for b in backends for t in parity["backends"].get(b, {}).get("int8_tried", [])]
    write_json(out / ExportDir.PARITY, parity)
    if not passed:
        rows = "\n  ".join(format_int8_row(t["config"], t) for t in parity["int8_tried"] if "skipped" not in t)
        failed_fp32 = [b for b in backends if b not in fp32_raw]
        raise GateFailed(
            f"no INT8 configuration passed the gate (MAE tolerance {gate.int8_mae_tol:.2%}"
            + (f"; FP32 parity failed for {', '.join(failed_fp32)}" if failed_fp32 else "")
            + f"):\n  {rows}"
        )
    speed = {b: articles_per_s(out, f"int8-{b}", records, threads) for b in passed}
    for b, v in speed.items():
        parity["backends"][b]["int8_articles_per_s"] = v
    shipped = max(speed, key=lambda b: speed[b])
    if len(speed) > 1:
        _say(
            "INT8 speed on the parity articles ("
            + ", ".join(f"{b} {v:.1f} articles/s" for b, v in speed.items())
            + f", {threads or 'all'} thread(s)): shipping {shipped}"
        )
    cfg, q, r = passed[shipped]
    parity["int8"] = r
    parity["int8_config"] = cfg.name
    parity["backend"] = shipped
    if any(t.get("skipped") for t in parity["int8_tried"]):
        _say("skipped: " + ", ".join(t["config"] for t in parity["int8_tried"] if t.get("skipped")))
    manifest["parity"] = parity
    manifest["models"]["int8"] = manifest["models"].pop(f"int8-{shipped}")
    manifest["backends"] = {
        b: {
            "fp32_parity_passed": b in fp32_raw,
            "int8_config": passed[b][0].name if b in passed else None,
            "int8_passed": b in passed,
            "int8_articles_per_s": speed.get(b),
            "shipped": b == shipped,
            "variant": "int8" if b == shipped else (f"int8-{b}" if b in passed else None),
        }
        for b in backends
    }
    manifest["calibration"] = _json_or_none(out / ExportDir.CALIBRATION)
    manifest["confidence"] = _json_or_none(out / ExportDir.CONFIDENCE)
    manifest["export_seconds"] = round(time.perf_counter() - t0, 1)
    write_json(out / ExportDir.PARITY, parity)
    (out / ExportDir.CARD).write_text(render(manifest, spec))
    write_manifest(out, manifest)
    _say(f"INT8 config `{cfg.name}` ({shipped}) passed; export dir: {dest}")
    return manifest


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
    # every FP32 model against PyTorch; the shipped INT8 against its own backend's FP32
    p32, raw32 = {}, {}
    for variant in [v for v in ("fp32", "fp32-openvino") if v in m["models"]]:
        raw32[variant] = OnnxScorer(export_dir, variant, threads=threads, calibrated=False).predict_raw(records)[0]
        p32[variant] = fp32_parity(ref.raw, raw32[variant], gate.fp32_atol)
    shipped = backend_of(m["models"]["int8"])
    raw8, _, _ = OnnxScorer(export_dir, "int8", threads=threads, calibrated=False).predict_raw(records)
    cal = (
        Calibration.load(export_dir / ExportDir.CALIBRATION) if (export_dir / ExportDir.CALIBRATION).is_file() else None
    )
    r8 = int8_check(spec, cal, raw32["fp32-openvino" if shipped == "openvino" else "fp32"], raw8, true, gate)
    _say(f"hashes: {'OK' if not problems else '; '.join(problems)}")
    for variant, p in p32.items():
        _say(
            f"FP32 parity ({variant}): max |exported - PyTorch| {p['max_abs_diff']:.3e} (tolerance {gate.fp32_atol:g}) -> "
            f"{'PASS' if p['passed'] else 'FAIL'}"
        )
    _say(f"INT8 ({shipped}) " + format_int8_row(m["models"]["int8"]["quantization"]["name"], r8))
    res = {"hashes": problems, "fp32": p32["fp32"], "fp32_all": p32, "int8": r8, "n": len(records), "data": desc}
    worst = max(p["max_abs_diff"] for p in p32.values())
    if problems or not all(p["passed"] for p in p32.values()) or not r8["passed"]:
        raise GateFailed(
            f"{export_dir}: verification failed (hashes: {len(problems)} problem(s); FP32 max |diff| "
            f"{worst:.3e}; INT8 ({shipped}) MAE {r8['mae_rel_change']:+.2%})"
        )
    return res
