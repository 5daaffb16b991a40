"""SmoothQuant-style activation smoothing for decoder blocks (Llama / Qwen2 / SmolLM2 layout).

Decoders carry a few activation channels with outliers 10-100x the rest; dynamic INT8 uses one
scale per activation tensor, so those channels crush everyone else's resolution. Smoothing
(Xiao et al., 2023) divides activation channel j by ``s_j`` and multiplies the consuming weights'
input column j by ``s_j`` — exact in real arithmetic — with
``s_j = max|X_j|^alpha / max|W_:,j|^(1 - alpha)``, moving part of the range into the weights,
which are quantized per output channel. Folded (no new ops):

  input_layernorm.weight  /= s   ;  q_proj, k_proj, v_proj  weight[:, j] *= s_j
  post_attention_layernorm.weight /= s ; gate_proj, up_proj weight[:, j] *= s_j
  up_proj.weight[j, :] /= s_j (and its bias) ; down_proj.weight[:, j] *= s_j   (down's input is
                                                silu(gate) * up, linear in up's output)

``max|X_j|`` comes from forward hooks on calibration articles. The smoothed model is used only
to derive the INT8 graph; the FP32 export and the parity reference stay unsmoothed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SMOOTHABLE = ("llama", "qwen2", "qwen3", "mistral")  # RMSNorm is x * weight (not Gemma's 1 + weight)


def _blocks(backbone: Any) -> list[Any]:
    if getattr(getattr(backbone, "config", None), "model_type", None) not in SMOOTHABLE:
        return []
    base = getattr(backbone, "model", backbone)
    layers = getattr(base, "layers", None)
    if layers is None:
        return []
    need = ("input_layernorm", "post_attention_layernorm", "self_attn", "mlp")
    return [b for b in layers if all(hasattr(b, n) for n in need) and hasattr(b.mlp, "down_proj")]


def supports_smoothing(backbone: Any) -> bool:
    return bool(_blocks(backbone))


def smooth_decoder(
    model: Any, views: Sequence[Sequence[int]], pad_id: int, alpha: float = 0.5, batch_size: int = 4
) -> dict[str, Any]:
    """Smooth ``model`` (a merged Regressor) in place, calibrated on token ``views``."""
    import torch

    from distillery.runtime.scoring import length_sorted_batches

    blocks = _blocks(model.backbone)
    if not blocks:
        raise ValueError(
            "smoothing needs Llama-style decoder blocks (input/post_attention_layernorm, q/k/v, gate/up/down)"
        )
    amax: dict[int, torch.Tensor] = {}
    hooks = []

    def hook(key: int):
        def fn(_mod: Any, inputs: tuple) -> None:
            x = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).amax(0).float()
            amax[key] = torch.maximum(amax[key], x) if key in amax else x

        return fn

    for i, b in enumerate(blocks):
        hooks.append(b.self_attn.q_proj.register_forward_pre_hook(hook(3 * i)))
        hooks.append(b.mlp.gate_proj.register_forward_pre_hook(hook(3 * i + 1)))
        hooks.append(b.mlp.down_proj.register_forward_pre_hook(hook(3 * i + 2)))
    try:
        with torch.inference_mode():
            for _, ids, mask in length_sorted_batches(views, batch_size, pad_id):
                model(torch.from_numpy(ids), torch.from_numpy(mask))
    finally:
        for h in hooks:
            h.remove()

    def scales(act: torch.Tensor, linears: list[Any]) -> torch.Tensor:
        w = torch.stack([lin.weight.detach().abs().amax(0) for lin in linears]).amax(0).float()
        s = act.clamp(min=1e-5).pow(alpha) / w.clamp(min=1e-5).pow(1 - alpha)
        return s.clamp(min=1e-5)

    ratios = []
    with torch.no_grad():
        for i, b in enumerate(blocks):
            attn, mlp = b.self_attn, b.mlp
            for norm, lins, key in (
                (b.input_layernorm, [attn.q_proj, attn.k_proj, attn.v_proj], 3 * i),
                (b.post_attention_layernorm, [mlp.gate_proj, mlp.up_proj], 3 * i + 1),
            ):
                s = scales(amax[key], lins)
                norm.weight.div_(s.to(norm.weight.dtype))
                for lin in lins:
                    lin.weight.mul_(s.to(lin.weight.dtype))
                ratios.append(float(amax[key].max() / amax[key].median().clamp(min=1e-8)))
            s = scales(amax[3 * i + 2], [mlp.down_proj])
            mlp.up_proj.weight.div_(s[:, None].to(mlp.up_proj.weight.dtype))
            if mlp.up_proj.bias is not None:
                mlp.up_proj.bias.div_(s.to(mlp.up_proj.bias.dtype))
            mlp.down_proj.weight.mul_(s.to(mlp.down_proj.weight.dtype))
            ratios.append(float(amax[3 * i + 2].max() / amax[3 * i + 2].median().clamp(min=1e-8)))
    return {
        "alpha": alpha,
        "blocks": len(blocks),
        "calibration_views": len(views),
        "max_outlier_ratio_before": round(max(ratios), 1),
    }
