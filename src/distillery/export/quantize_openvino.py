"""FP32 ONNX -> OpenVINO IR: an FP32 model and a ladder of INT8 configurations by NNCF.

OpenVINO reads the *plain* FP32 ONNX graph (as exported, before ONNX Runtime's rewriting:
:mod:`distillery.export.optimize` writes ORT-specific ops and a mask-free ``If`` branch that
NNCF cannot calibrate) and does its own fusions when it compiles. The IR keeps FP32 weights
(``compress_to_fp16=False``) so the FP32 model can pass the same FP32 parity gate as ONNX
Runtime's.

INT8 configurations, tried in order until one passes the gate (:func:`distillery.export.int8.int8_ladder`):

  nncf-ptq             ``nncf.quantize``, ``ModelType.TRANSFORMER`` (its SmoothQuant and the
                       transformer ignored patterns), ``performance`` preset (symmetric
                       activations): INT8 weights and activations, static scales
  nncf-ptq-mixed       the same with the ``mixed`` preset (asymmetric activations: GELU
                       outputs and embeddings are not centred on zero)
  nncf-ptq-keep-head   mixed; the regression head and the last transformer layer stay FP32
  nncf-ptq-keep-ends   mixed; head, first layer and last two layers stay FP32
  nncf-weights-int8    ``nncf.compress_weights`` (INT8 asymmetric weights, FP32 activations):
                       the most faithful fallback

Calibration uses views of *training* articles (never the parity set the gate scores), one
unpadded view per sample. Static activation scales make every configuration batch-invariant
(an article's score does not depend on its batch-mates), unlike ONNX Runtime's dynamic INT8.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

_LAYER = re.compile(r"(?:layers|layer|h|blocks|block)[./_](\d+)(?:[./_]|$)")


@dataclass(frozen=True)
class OvInt8Config:
    name: str
    method: str = "ptq"  # ptq (nncf.quantize) | weights (nncf.compress_weights)
    preset: str = "performance"  # performance | mixed
    keep_fp32: tuple[str, ...] = ()  # "head", "first:K", "last:K"
    backend: str = "openvino"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["keep_fp32"] = list(self.keep_fp32)
        return d


OV_LADDER: tuple[OvInt8Config, ...] = (
    OvInt8Config("nncf-ptq"),
    OvInt8Config("nncf-ptq-mixed", preset="mixed"),
    OvInt8Config("nncf-ptq-keep-head", preset="mixed", keep_fp32=("head", "last:1")),
    OvInt8Config("nncf-ptq-keep-ends", preset="mixed", keep_fp32=("head", "first:1", "last:2")),
    OvInt8Config("nncf-weights-int8", method="weights"),
)
OV_CONFIGS = {c.name: c for c in OV_LADDER}


def convert_fp32(onnx_path: Path, xml: Path) -> dict[str, Any]:
    """``onnx_path`` (plain FP32 ONNX) -> ``xml`` + ``.bin`` (OpenVINO IR, FP32 weights)."""
    import openvino as ov

    t0 = time.perf_counter()
    model = ov.convert_model(str(onnx_path))
    ov.save_model(model, str(xml), compress_to_fp16=False)
    return {"converted_from": "plain FP32 ONNX", "openvino_version": ov.__version__, "seconds": _since(t0)}


def matmul_names(model: Any) -> list[tuple[str, int | None]]:
    """(friendly name, transformer layer index or None) of each MatMul with a constant weight,
    in topological order."""
    rows = []
    for op in model.get_ordered_ops():
        if op.get_type_name() != "MatMul":
            continue
        src = op.input_value(1).get_node()
        while src.get_type_name() in ("Convert", "Transpose", "Reshape"):  # weights as stored
            src = src.input_value(0).get_node()
        if src.get_type_name() != "Constant":
            continue
        layers = _LAYER.findall(op.get_friendly_name())
        rows.append((op.get_friendly_name(), int(layers[-1]) if layers else None))
    return rows


def nodes_to_keep(model: Any, keep: Sequence[str]) -> list[str]:
    """Friendly names of the weight MatMuls that ``keep`` leaves in FP32."""
    rows = matmul_names(model)
    layers = sorted({layer for _, layer in rows if layer is not None})
    chosen: set[int] = set()
    for k in keep:
        if k.startswith("first:"):
            chosen |= set(layers[: int(k.split(":")[1])])
        elif k.startswith("last:"):
            chosen |= set(layers[-int(k.split(":")[1]) :]) if layers else set()
    out = [name for name, layer in rows if layer is not None and layer in chosen]
    if "head" in keep and rows and rows[-1][1] is None:  # the head: the last weight matmul, outside every layer
        out.append(rows[-1][0])
    return out


def calibration_items(views: Sequence[Sequence[int]]) -> list[dict[str, np.ndarray]]:
    """NNCF calibration samples: one unpadded view each."""
    return [
        {"input_ids": np.array([list(v)], dtype=np.int64), "attention_mask": np.ones((1, len(v)), dtype=np.int64)}
        for v in views
    ]


def quantize_openvino(
    fp32_xml: Path, out_xml: Path, config: OvInt8Config, views: Sequence[Sequence[int]]
) -> dict[str, Any]:
    """Write ``out_xml`` (+ ``.bin``) from ``fp32_xml`` with ``config``; returns what was done."""
    import logging

    import nncf
    import openvino as ov

    t0 = time.perf_counter()
    model = ov.Core().read_model(str(fp32_xml))
    keep = nodes_to_keep(model, config.keep_fp32)
    n_matmuls = len(matmul_names(model))
    nncf_log = logging.getLogger("nncf")
    level = nncf_log.level
    nncf_log.setLevel(logging.ERROR)  # per-step progress and advice on every call
    try:
        if config.method == "weights":
            q = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
        elif config.method == "ptq":
            if not views:
                raise ValueError("NNCF post-training quantization needs calibration views")
            items = calibration_items(views)
            q = nncf.quantize(
                model,
                nncf.Dataset(items),
                model_type=nncf.ModelType.TRANSFORMER,
                preset=nncf.QuantizationPreset.MIXED
                if config.preset == "mixed"
                else nncf.QuantizationPreset.PERFORMANCE,
                subset_size=len(items),
                ignored_scope=nncf.IgnoredScope(names=keep, validate=False) if keep else None,
            )
        else:
            raise ValueError(f"unknown OpenVINO INT8 method {config.method!r}")
    finally:
        nncf_log.setLevel(level)
    for p in (out_xml, out_xml.with_suffix(".bin")):
        p.unlink(missing_ok=True)
    ov.save_model(q, str(out_xml), compress_to_fp16=False)
    return {
        **config.to_dict(),
        "weight_matmuls": n_matmuls,
        "kept_fp32_nodes": keep,
        "calibration_views": len(views) if config.method == "ptq" else 0,
        "nncf_version": nncf.__version__,
        "quantize_seconds": _since(t0),
    }


def _since(t0: float) -> float:
    return round(time.perf_counter() - t0, 2)
