"""The INT8 half of the parity gate: each backend's quantization ladder, tried in order against
that backend's FP32 model until a configuration passes, and the timing that picks which passing
backend ships (see :mod:`distillery.export.pipeline` for the export as a whole)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distillery.errors import DistilleryError
from distillery.evaluate.records import load_eval_records
from distillery.export.onnx_export import export_fp32, model_files
from distillery.export.optimize import optimize_fp32
from distillery.export.parity import GateConfig, format_int8_row, int8_check
from distillery.export.quantize import CONFIGS, LADDER, quantize
from distillery.export.quantize_openvino import OV_CONFIGS, OV_LADDER, quantize_openvino
from distillery.export.smooth import smooth_decoder, supports_smoothing
from distillery.runtime.backends import model_paths
from distillery.runtime.context import special_tokens
from distillery.runtime.manifest import ExportDir, write_manifest

FP32_FILE, INT8_FILE = ExportDir.FP32, ExportDir.INT8
INT8_FILES = {"onnxruntime": ExportDir.INT8, "openvino": ExportDir.OV_INT8}
LADDERS = {"onnxruntime": (CONFIGS, LADDER), "openvino": (OV_CONFIGS, OV_LADDER)}


def _say(msg: str) -> None:
    print(msg, flush=True)


class Smoother:
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


class OvCalibration:
    """NNCF's calibration views: training articles (never the parity set), made on first use."""

    N = 128

    def __init__(self, scorer: Any, predictor: Any, target: Path):
        self.scorer, self.predictor, self.target = scorer, predictor, target
        self._views: list[list[int]] | None = None

    def views(self) -> list[list[int]]:
        if self._views is None:
            try:
                recs, _ = load_eval_records(self.target, self.scorer.spec, None, "train", self.N)
            except DistilleryError:
                recs, _ = load_eval_records(self.target, self.scorer.spec, None, "val", self.N)
            tok = self.scorer.tokenizer
            prefix, suffix = special_tokens(tok)
            views, _ = self.scorer.strategy.encode_ids(
                self.predictor.content_ids(recs), prefix, suffix, self.scorer.strategy.separator_ids(tok)
            )
            self._views = [list(v) for v in views[: self.N]]
        return self._views


def configs_for(backend: str, names: Sequence[str] | None) -> list[Any]:
    """The INT8 configurations to try for ``backend``: its ladder, or those of ``names`` it has."""
    table, ladder = LADDERS[backend]
    return [table[n] for n in names if n in table] if names else list(ladder)


def articles_per_s(out: Path, variant: str, records: Sequence[dict], threads: int | None) -> float:
    """Articles/s of ``variant`` as shipped on ``records`` (raw scores; warm-up, best of 3)."""
    from distillery.runtime.onnx_scorer import OnnxScorer

    rt = OnnxScorer(out, variant, threads=threads, calibrated=False)
    rt.predict_raw(records[:4])
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        rt.predict_raw(records)
        best = min(best, time.perf_counter() - t)
    return round(len(records) / best, 2)


def int8_ladder(
    out: Path,
    manifest: dict[str, Any],
    records: Sequence[dict],
    raw32: np.ndarray,
    true: np.ndarray,
    spec: Any,
    cal: Any,
    gate: GateConfig,
    configs: Sequence[Any] | None = None,
    external_data: bool = False,
    threads: int | None = None,
    smoother: Smoother | None = None,
    backend: str = "onnxruntime",
    calibration_views: OvCalibration | None = None,
) -> tuple[tuple | None, list[dict]]:
    """Quantize with each configuration of ``backend``'s ladder in turn until one passes the INT8
    gate against ``raw32`` (that backend's FP32 outputs on ``records``).

    The candidate is the manifest's ``int8-<backend>`` model. Returns ((config, quantization
    facts, gate numbers) of the first that passed, or None, and the numbers of every
    configuration tried). On failure no INT8 model of ``backend`` is left in ``out``.
    ``smooth-*`` configs are skipped (recorded as such) without a smoother or for models that
    cannot be smoothed (encoders).
    """
    from distillery.runtime.onnx_scorer import OnnxScorer

    table, ladder = LADDERS[backend]
    configs = [table[c] if isinstance(c, str) else c for c in configs] if configs else list(ladder)
    variant, file = f"int8-{backend}", INT8_FILES[backend]
    fp32 = manifest["models"]["fp32"]
    tried: list[dict] = []
    for cfg in configs:
        if backend == "openvino":
            q = quantize_openvino(
                out / ExportDir.OV_FP32, out / file, cfg, calibration_views.views() if calibration_views else []
            )
            entry = {"file": file, "backend": backend, "precision": "f32", "quantization": q, "batch_invariant": True}
        else:
            source, smooth_info = out / FP32_FILE, None
            if cfg.smooth_alpha is not None:
                if smoother is None or not smoother.supported():
                    tried.append(
                        {
                            "config": cfg.name,
                            "backend": backend,
                            "skipped": "smoothing applies to Llama/Qwen-style decoders only",
                        }
                    )
                    continue
                source, smooth_info = smoother.graph(cfg.smooth_alpha)
            q = quantize(source, out / file, cfg, external_data=external_data)
            if smooth_info:
                q["smoothing"] = smooth_info
            entry = {
                "file": file,
                "backend": backend,
                "opset": fp32["opset"],
                "quantization": q,
                "batch_invariant": cfg.method != "dynamic",
                **({"session": fp32["session"]} if "session" in fp32 else {}),
            }
        manifest["models"][variant] = entry
        write_manifest(out, manifest, with_hashes=False)  # provisional: names the INT8 model to check
        rt8 = OnnxScorer(out, variant, threads=threads, calibrated=False)
        raw8, _, _ = rt8.predict_raw(records)
        r = int8_check(spec, cal, raw32, raw8, true, gate)
        # dynamic INT8 quantizes activations per tensor, i.e. over the whole padded batch: an
        # article's score then depends on its batch-mates. Measured here, reported in the manifest.
        k = min(8, len(records))
        batched = OnnxScorer(out, variant, threads=threads, batch_size=8, calibrated=False).predict_raw(records[:k])[0]
        single = np.concatenate([rt8.predict_raw([x])[0] for x in records[:k]])
        r["batch_invariance_max_diff"] = float(np.abs(single - batched).max())
        r["scoring_batch_size"] = rt8.batch_size
        entry["batch_invariance_max_diff"] = r["batch_invariance_max_diff"]
        tried.append({"config": cfg.name, "backend": backend, **r})
        _say(f"INT8 {backend:11s} " + format_int8_row(cfg.name, r))
        if r["passed"]:
            return (cfg, q, r), tried
    for f in model_paths(out, {"file": file}):
        f.unlink(missing_ok=True)
    manifest["models"].pop(variant, None)
    write_manifest(out, manifest, with_hashes=False)
    return None, tried
