"""FP32 ONNX -> INT8 ONNX with onnxruntime.quantization, as a ladder of configurations.

The parity gate (:mod:`distillery.export.parity`) tries the configurations in order and ships
the first that passes; ``--int8-config`` picks one. Each is a real INT8 model (int8 weights,
int8 integer matmuls at run time):

  dynamic                  quantize_dynamic, per-tensor weight scales (the naive baseline)
  dynamic-per-channel      per-output-channel weight scales
  dynamic-pc-keep-head     per-channel; the regression head and the last transformer layer
                           stay FP32 (the head's 1-2 outputs per dimension are the most
                           sensitive: their error is the score error)
  dynamic-pc-keep-ends     per-channel; head, first layer and last two layers stay FP32
  dynamic-pc-keep-down     per-channel; head and MLP down-projections stay FP32 (in decoders
                           their inputs carry the largest activation outliers)
  smooth-pc                decoders: SmoothQuant-style smoothing (alpha 0.8, calibrated on val
                           articles; :mod:`distillery.export.smooth`) folded into the weights of
                           an FP32 copy, then per-channel dynamic INT8
  smooth-pc-keep-down      the same, with head and down-projections FP32
  blockwise-int8           MatMulNBits, 8-bit weights with one scale per 32 input values
                           (weight-only quantization; on the CPU measured here no faster than
                           FP32 ONNX): the most faithful, batch-invariant fallback

Embedding tables (Gather) are never quantized: they are lookups, not matmuls.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("distillery.export")

_LAYER = re.compile(r"(?:layers|layer|h|blocks|block)[./_](\d+)(?:[./_]|$)")
_FUSED = re.compile(r"^(?:Attention|MultiHeadAttention)_(\d+)$")  # ORT optimizer's fused ops, one per layer


@dataclass(frozen=True)
class Int8Config:
    name: str
    method: str = "dynamic"  # dynamic | blockwise
    per_channel: bool = False
    reduce_range: bool = False
    keep_fp32: tuple[str, ...] = ()  # "head", "first:K", "last:K", "match:SUBSTRING" (in the node's scope)
    block_size: int = 32
    smooth_alpha: float | None = None  # decoders only: SmoothQuant migration strength
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["keep_fp32"] = list(self.keep_fp32)
        return d


LADDER: tuple[Int8Config, ...] = (
    Int8Config("dynamic", per_channel=False),
    Int8Config("dynamic-per-channel", per_channel=True),
    Int8Config("dynamic-pc-keep-head", per_channel=True, keep_fp32=("head", "last:1")),
    Int8Config("dynamic-pc-keep-ends", per_channel=True, keep_fp32=("head", "first:1", "last:2")),
    Int8Config("dynamic-pc-keep-down", per_channel=True, keep_fp32=("head", "match:down_proj", "match:output/dense")),
    Int8Config("smooth-pc", per_channel=True, smooth_alpha=0.8),
    Int8Config("smooth-pc-keep-down", per_channel=True, keep_fp32=("head", "match:down_proj"), smooth_alpha=0.8),
    Int8Config("blockwise-int8", method="blockwise", block_size=32),
)
CONFIGS = {c.name: c for c in LADDER}


def _scope(node: Any) -> str:
    meta = " ".join(p.value for p in node.metadata_props if p.key == "namespace")
    return f"{node.name} {meta}"


def weight_matmuls(model: Any) -> list[tuple[str, int | None, bool]]:
    """(node name, transformer layer index or None, is_head) for each MatMul/Gemm (or fused
    Attention) with a constant weight."""
    inits = {i.name for i in model.graph.initializer}
    consts = {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    # weights may be transposed constants (torchscript exports keep Linear weights pre-transposed)
    derived = {
        o
        for n in model.graph.node
        if n.op_type in ("Transpose", "Cast") and n.input and n.input[0] in inits | consts
        for o in n.output
    }
    weighted = inits | consts | derived
    rows = []
    for n in model.graph.node:
        if (
            (n.op_type in ("MatMul", "Gemm") or (n.op_type == "Attention" and n.domain == "com.microsoft"))
            and len(n.input) > 1
            and n.input[1] in weighted
        ):
            fused = _FUSED.match(n.name)
            layers = [fused.group(1)] if fused else _LAYER.findall(_scope(n))
            rows.append((n.name, int(layers[-1]) if layers else None, False))
    if rows:  # the head: the last weight matmul in topological order, outside every layer
        name, layer, _ = rows[-1]
        if layer is None:
            rows[-1] = (name, None, True)
    return rows


def nodes_to_keep(model: Any, keep: tuple[str, ...]) -> list[str]:
    rows = weight_matmuls(model)
    layers = sorted({r[1] for r in rows if r[1] is not None})
    chosen: set[int] = set()
    for k in keep:
        if k.startswith("first:"):
            chosen |= set(layers[: int(k.split(":")[1])])
        elif k.startswith("last:"):
            chosen |= set(layers[-int(k.split(":")[1]) :]) if layers else set()
    patterns = [k.split(":", 1)[1] for k in keep if k.startswith("match:")]
    scopes = {n.name: _scope(n) for n in model.graph.node} if patterns else {}
    out = [
        name
        for name, layer, head in rows
        if (head and "head" in keep)
        or (layer is not None and layer in chosen)
        or any(p in scopes.get(name, "") for p in patterns)
    ]
    return out


def quantize(fp32: Path, out: Path, config: Int8Config, external_data: bool = False) -> dict[str, Any]:
    """Write ``out`` (INT8) from ``fp32`` with ``config``; returns what was done."""
    import onnx

    t0 = time.perf_counter()
    model = onnx.load(str(fp32), load_external_data=True)
    n_weight_matmuls = len(weight_matmuls(model))
    exclude = nodes_to_keep(model, config.keep_fp32)
    data = out.with_name(out.name + ".data")
    if data.exists():
        data.unlink()
    logging.disable(logging.WARNING)  # ORT's root-logger advice about pre-processing, on every call
    try:
        _quantize(fp32, out, model, config, exclude, external_data)
    finally:
        logging.disable(logging.NOTSET)
    return {
        **config.to_dict(),
        "weight_matmuls": n_weight_matmuls,
        "kept_fp32_nodes": exclude,
        "quantize_seconds": round(time.perf_counter() - t0, 2),
    }


def _quantize(fp32: Path, out: Path, model: Any, config: Int8Config, exclude: list[str], external_data: bool) -> None:
    if config.method == "dynamic":
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # ORT's contrib Attention (weights inside the op) becomes QAttention; the ai.onnx Attention op
        # (no weights) is not the quantizer's business.
        contrib = any(n.op_type == "Attention" and n.domain == "com.microsoft" for n in model.graph.node)
        quantize_dynamic(
            str(fp32),
            str(out),
            per_channel=config.per_channel,
            reduce_range=config.reduce_range,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm"] + (["Attention"] if contrib else []),
            nodes_to_exclude=exclude,
            use_external_data_format=external_data,
            extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT, **config.extra},
        )
    elif config.method == "blockwise":
        from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

        wq = DefaultWeightOnlyQuantConfig(
            block_size=config.block_size, is_symmetric=True, accuracy_level=4, bits=8, op_types_to_quantize=("MatMul",)
        )
        q = MatMulNBitsQuantizer(
            model,
            bits=8,
            block_size=config.block_size,
            is_symmetric=True,
            accuracy_level=4,
            nodes_to_exclude=exclude,
            op_types_to_quantize=("MatMul",),
            algo_config=wq,
        )
        q.process()
        from distillery.export.onnx_export import save_onnx

        save_onnx(q.model.model, out, external_data)
    else:
        raise ValueError(f"unknown int8 method {config.method!r}")
