"""The student: backbone -> pooling [-> L2 normalise] -> head, one output per filter dimension.

The head is ``linear`` (fine-tuned models, ridge probes) or ``mlp`` (one hidden layer, for
embedding probes); ``normalize`` L2-normalises the pooled vector (sentence-transformers models
that end in a Normalize module). The head predicts standardised targets; ``target_mean``/``target_std`` (from the training
labels) map them back to the 0-10 scale, so training starts at the mean-predictor baseline.
LoRA adapters (peft) are saved separately from the head (``head.safetensors``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

POOLINGS = ("last", "mean", "cls")
HEADS = ("linear", "mlp")


def build_head(kind: str, hidden_size: int, n_outputs: int, mlp_hidden: int = 256, dropout: float = 0.0) -> nn.Module:
    if kind == "linear":
        head: nn.Module = nn.Linear(hidden_size, n_outputs)
    elif kind == "mlp":
        head = nn.Sequential(
            nn.Linear(hidden_size, mlp_hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_hidden, n_outputs)
        )
    else:
        raise ValueError(f"head must be one of {HEADS}, got {kind!r}")
    for m in head.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
    return head


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """Pool (B, T, H) hidden states to (B, H) over the non-pad tokens given by ``mask``."""
    if how == "last":  # last non-pad token; works for left or right padding
        idx = mask.shape[1] - 1 - mask.flip(1).int().argmax(1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), idx]
    if how == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    if how == "cls":
        return hidden[:, 0]
    raise ValueError(f"pooling must be one of {POOLINGS}, got {how!r}")


class Regressor(nn.Module):
    def __init__(
        self,
        backbone: nn.Module,
        n_outputs: int,
        pooling: str,
        hidden_size: int,
        target_mean: Sequence[float] | None = None,
        target_std: Sequence[float] | None = None,
        head: str = "linear",
        mlp_hidden: int = 256,
        dropout: float = 0.0,
        normalize: bool = False,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.backbone = backbone
        self.pooling = pooling
        self.normalize = bool(normalize)
        self.head_kind = head
        self.head = build_head(head, hidden_size, n_outputs, mlp_hidden, dropout)
        mean = torch.tensor(target_mean if target_mean is not None else [5.0] * n_outputs, dtype=torch.float32)
        std = torch.tensor(target_std if target_std is not None else [1.0] * n_outputs, dtype=torch.float32)
        self.register_buffer("target_mean", mean)
        self.register_buffer("target_std", std.clamp(min=1e-3))

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        z = pool(out.last_hidden_state, attention_mask, self.pooling)
        return nn.functional.normalize(z, dim=-1) if self.normalize else z

    def predict_from_embedding(self, z: torch.Tensor) -> torch.Tensor:
        """0-10 scale outputs from pooled (and normalised) embeddings."""
        first = next(self.head.parameters())
        return self.head(z.to(first.dtype)) * self.target_std + self.target_mean

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.predict_from_embedding(self.encode(input_ids, attention_mask))

    def head_state(self) -> dict[str, torch.Tensor]:
        return {
            **{f"head.{k}": v for k, v in self.head.state_dict().items()},
            "target_mean": self.target_mean,
            "target_std": self.target_std,
        }

    def load_head_state(self, state: dict[str, torch.Tensor]) -> None:
        self.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})
        with torch.no_grad():
            self.target_mean.copy_(state["target_mean"])
            self.target_std.copy_(state["target_std"])

    def head_config(self) -> dict:
        """What :func:`build_head` needs to rebuild this head (recorded in checkpoints)."""
        cfg: dict = {"head": self.head_kind, "normalize": self.normalize}
        if self.head_kind == "mlp":
            cfg["mlp_hidden"] = self.head[0].out_features
        return cfg


def hidden_size_of(backbone: nn.Module) -> int:
    cfg = backbone.config
    return int(getattr(cfg, "hidden_size", None) or cfg.d_model)


def apply_finetune(backbone: nn.Module, cfg: Any) -> nn.Module:
    """``lora`` (peft adapters on ``lora.target_modules``), ``full`` or ``frozen``."""
    mode = cfg.get("finetune", "lora")
    if mode == "full":
        return backbone
    if mode == "frozen":
        backbone.requires_grad_(False)
        return backbone
    if mode != "lora":
        raise ValueError(f"model.finetune must be lora, full or frozen, got {mode!r}")
    from peft import LoraConfig, get_peft_model

    lora = cfg.lora
    config = LoraConfig(
        r=int(lora.r),
        lora_alpha=float(lora.alpha),
        lora_dropout=float(lora.dropout),
        target_modules=list(lora.target_modules),
        bias="none",
    )
    with warnings.catch_warnings():  # peft reads transformers' deprecated alias: noise for users
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(backbone, config)
