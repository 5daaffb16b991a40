"""Offline graph fusion of the FP32 ONNX model with ONNX Runtime's transformer optimizer.

For encoders (BERT family) the eager attention subgraph becomes one fused ``Attention`` op
(Q/K/V projections + masked softmax attention), embeddings + LayerNorm become
``EmbedLayerNormalization``, residual + LayerNorm ``SkipLayerNormalization`` and bias + GELU
``BiasGelu``. The INT8 step then quantizes the fused ``Attention`` too (``QAttention``).
Measured on all-MiniLM-L6-v2 (1 thread, batch 8): see docs/export.md. Architectures without a
recipe are left to ONNX Runtime's own session-time optimisations (``ORT_ENABLE_ALL``).
The fused graph is what the parity gate checks against PyTorch.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

RECIPES = {"bert": "bert", "roberta": "bert", "xlm-roberta": "bert", "distilbert": "bert", "mpnet": "bert",
           "electra": "bert"}


def optimize_fp32(path: Path, config: Any, external_data: bool = False) -> dict[str, Any]:
    """Fuse ``path`` in place when there is a recipe for the backbone's model type."""
    model_type = getattr(config, "model_type", None)
    recipe = RECIPES.get(model_type)
    if recipe is None:
        return {"applied": False, "reason": f"no fusion recipe for model type {model_type!r} (ORT session optimisations only)"}
    from onnxruntime.transformers.optimizer import optimize_model

    t0 = time.perf_counter()
    logging.disable(logging.WARNING)
    try:
        m = optimize_model(str(path), model_type=recipe, num_heads=int(config.num_attention_heads),
                           hidden_size=int(config.hidden_size), opt_level=1, use_gpu=False)
        stats = {k: int(v) for k, v in m.get_fused_operator_statistics().items() if v}
        m.save_model_to_file(str(path), use_external_data_format=external_data)
    finally:
        logging.disable(logging.NOTSET)
    return {"applied": True, "recipe": recipe, "fused": stats, "seconds": round(time.perf_counter() - t0, 2)}
