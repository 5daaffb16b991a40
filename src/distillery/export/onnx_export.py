"""PyTorch scorer -> FP32 ONNX: LoRA merged into the base, backbone + pooling + head + de-standardisation.

The graph takes ``input_ids`` and ``attention_mask`` (int64, dynamic batch and sequence axes)
and returns ``scores`` (float32, (batch, n_dimensions)) on the 0-10 scale, before calibration
and clamping (those run in numpy, :mod:`distillery.runtime.onnx_scorer`).

Exporters: ``torchscript`` (default: seconds even for 100M+ parameters; torch warns that it
will be removed) or ``dynamo`` (torch.export; tens of seconds to minutes on CPU). The dummy
input holds a right-padded row so that tracing keeps the attention-mask path (transformers
skips the mask for unpadded inputs). Attention is exported in its eager form (see
:func:`export_fp32`). Models over 2 GB are saved with external data
(``model.fp32.onnx.data``).
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger("distillery.export")

EXPORTERS = ("torchscript", "dynamo")
TWO_GB = 2**31 - 1


def merge_lora(model: Any) -> dict[str, Any]:
    """Merge LoRA adapters into the base weights in place; returns the LoRA config (or {})."""
    backbone = model.backbone
    if not hasattr(backbone, "merge_and_unload"):
        return {}
    cfg = backbone.peft_config.get("default") if hasattr(backbone, "peft_config") else None
    info = {}
    if cfg is not None:
        info = {
            "r": cfg.r,
            "alpha": cfg.lora_alpha,
            "dropout": cfg.lora_dropout,
            "target_modules": sorted(cfg.target_modules) if cfg.target_modules else None,
            "merged": True,
        }
    model.backbone = backbone.merge_and_unload()
    return info


def _wrapper(model: Any):
    import torch

    class ScoresModule(torch.nn.Module):
        def __init__(self, m: Any):
            super().__init__()
            self.m = m

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.m(input_ids, attention_mask).float()

    return ScoresModule(model).eval()


def dummy_inputs(vocab_lo: int = 10, vocab_hi: int = 1000):
    import torch

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(vocab_lo, vocab_hi, (2, 16), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 11:] = 0
    return ids, mask


def set_attention(backbone: Any, impl: str) -> str | None:
    """Switch a transformers model's attention implementation; returns the previous one."""
    config = getattr(backbone, "config", None)
    before = getattr(config, "_attn_implementation", None)
    if impl and before != impl:
        if hasattr(backbone, "set_attn_implementation"):
            backbone.set_attn_implementation(impl)
        else:
            config._attn_implementation = impl
    return before


def export_fp32(
    model: Any, out: Path, exporter: str = "torchscript", opset: int | None = None, attention: str | None = "eager"
) -> dict[str, Any]:
    """Export a merged Regressor to ``out`` (FP32 ONNX). Returns export facts for the manifest.

    ``attention="eager"`` exports attention as plain MatMul / Add(mask) / Softmax / MatMul: the
    SDPA path decomposes into Where / IsNaN passes over every (batch, head, query, key)
    element, which cost ~30% of the INT8 model's time (MiniLM, 512 tokens), and the eager
    pattern is what ONNX Runtime's attention fusion recognises.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {EXPORTERS}, got {exporter!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = set_attention(model.backbone, attention) if attention else None
    try:
        facts = _export(model, out, exporter, opset)
    finally:
        if attention and previous:
            set_attention(model.backbone, previous)
    facts["attention"] = attention or previous
    return facts


def _export(model: Any, out: Path, exporter: str, opset: int | None) -> dict[str, Any]:
    import onnx
    import torch

    wrapper = _wrapper(model)
    ids, mask = dummy_inputs()
    t0 = time.perf_counter()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            opset = opset or 17
            torch.onnx.export(
                wrapper,
                (ids, mask),
                str(out),
                input_names=["input_ids", "attention_mask"],
                output_names=["scores"],
                opset_version=opset,
                dynamo=False,
                do_constant_folding=True,
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    "scores": {0: "batch"},
                },
            )
        else:
            from torch.export import Dim

            opset = opset or 18
            batch, seq = Dim("batch"), Dim("sequence")
            prog = torch.onnx.export(
                wrapper,
                (ids, mask),
                input_names=["input_ids", "attention_mask"],
                output_names=["scores"],
                opset_version=opset,
                dynamo=True,
                dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
            )
            prog.save(str(out), external_data=False) if _param_bytes(model) < TWO_GB else prog.save(
                str(out), external_data=True
            )
    seconds = time.perf_counter() - t0
    proto = onnx.load(str(out), load_external_data=True)
    if exporter == "dynamo":  # quantize_dynamic's shape inference chokes on the dynamo exporter's value_info
        del proto.graph.value_info[:]
    external = _param_bytes(model) >= TWO_GB
    save_onnx(proto, out, external)
    return {
        "exporter": exporter,
        "opset": opset,
        "export_seconds": round(seconds, 2),
        "external_data": external,
        "torch_version": torch.__version__,
        "onnx_version": onnx.__version__,
    }


def _param_bytes(model: Any) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def save_onnx(proto: Any, out: Path, external: bool) -> list[Path]:
    """Save an ONNX model, with all weights in ``<name>.data`` when ``external``; returns the files."""
    import onnx

    data = out.with_name(out.name + ".data")
    if data.exists():
        data.unlink()
    if external:
        onnx.save_model(
            proto,
            str(out),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data.name,
            size_threshold=1024,
        )
        return [out, data]
    onnx.save_model(proto, str(out))
    return [out]


def model_files(path: Path) -> list[Path]:
    """An ONNX model's files: the graph and its external data, if any."""
    data = path.with_name(path.name + ".data")
    return [path, data] if data.exists() else [path]
