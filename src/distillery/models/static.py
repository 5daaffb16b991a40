"""Static-embedding students (``model=static_minilm``, ``model.source: model2vec``).

A sentence encoder (the packaged all-MiniLM-L6-v2, any local sentence-transformers or HF folder,
or a fine-tuned run's backbone) is distilled once by ``model2vec.distill`` into one vector per
token (PCA to ``model.pca_dims``, SIF-weighted); a text's embedding is then the mean of its
token vectors, L2-normalised when the model2vec model says so. :class:`StaticBackbone` holds
those vectors in a frozen ``nn.Embedding`` and returns them as ``last_hidden_state``, so the
usual Regressor (mean pooling + normalise + head), the embedding probe recipe (ridge / MLP head),
ONNX export (Gather + masked ReduceSum), the INT8 parity gate and the packaged scorer all work
unchanged. The tokenizer is model2vec's own (``tokenizer.json``: no special tokens, so a view is
just the text's tokens, as ``StaticModel.encode`` sees them).

Distilled models are cached under ``<distillery cache>/static/<encoder content hash>-pca<dims>/``
(a model2vec folder, ``StaticModel.from_pretrained`` loads it). ``model.path`` may also name a
model2vec folder directly (``config.json`` with ``model_type: model2vec``); it is used as is.

One known difference from ``StaticModel.encode``: model2vec drops ``[UNK]`` tokens before
averaging, the student averages them like any other token (rare with a WordPiece vocabulary).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from distillery.errors import DistilleryError

log = logging.getLogger("distillery.models")

MODEL_TYPE = "model2vec"


def is_static_model(path: str | Path) -> bool:
    """Whether ``path`` is a model2vec folder (``config.json`` says ``model_type: model2vec``)."""
    cfg = Path(path) / "config.json"
    try:
        return json.loads(cfg.read_text()).get("model_type") == MODEL_TYPE
    except (OSError, ValueError, AttributeError):
        return False


def _encoder_folder(path: str | Path) -> Path:
    """The HF model folder inside ``path``: itself, or a run dir's / checkpoint's ``backbone/``."""
    from distillery.rundir import CheckpointFiles, RunDir

    p = Path(path).expanduser()
    if not p.is_dir():
        raise DistilleryError(f"{path}: no such folder (model.source=model2vec distils a local encoder folder; no hub)")
    for cand in (p, p / CheckpointFiles.BACKBONE, p / RunDir.CHECKPOINT / CheckpointFiles.BACKBONE):
        if (cand / "config.json").is_file():
            return cand
    raise DistilleryError(f"{p}: no config.json (model2vec distils a local sentence-transformers or HF model folder)")


def _tokenizer_folder(encoder: Path) -> Path:
    """Where ``encoder``'s tokenizer lives: in it, or beside it (a checkpoint's ``tokenizer/``)."""
    from distillery.rundir import CheckpointFiles

    for cand in (encoder, encoder.parent / CheckpointFiles.TOKENIZER):
        if (cand / "tokenizer.json").is_file() or (cand / "tokenizer_config.json").is_file():
            return cand
    raise DistilleryError(f"{encoder}: no tokenizer in it or in {encoder.parent / CheckpointFiles.TOKENIZER}")


def encoder_hash(folder: Path) -> str:
    """Content hash of a model folder (every file's path and SHA-256)."""
    from distillery.runtime.manifest import hash_files

    files = hash_files(folder, exclude=())
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


def distill_static(encoder_path: str | Path, pca_dims: int | None = 256, cache_dir: str | Path | None = None) -> Path:
    """A model2vec folder distilled from ``encoder_path`` (built once, then read from the cache)."""
    from distillery.paths import cache_dir as default_cache_dir
    from distillery.runtime.atomic import atomic_dir

    encoder = _encoder_folder(encoder_path)
    out = Path(cache_dir or default_cache_dir()) / "static" / f"{encoder_hash(encoder)}-pca{pca_dims}"
    if is_static_model(out):
        return out
    try:
        from model2vec.distill import distill_from_model
        from transformers import AutoModel, AutoTokenizer
    except ImportError as e:
        raise DistilleryError(f'model.source=model2vec needs: pip install "distillery[static]" ({e})') from None
    log.info("distilling a static model from %s (pca_dims=%s) into %s", encoder, pca_dims, out)
    model = AutoModel.from_pretrained(str(encoder), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(_tokenizer_folder(encoder)), use_fast=True)
    static = distill_from_model(model, tokenizer, pca_dims=pca_dims, quantize_to="float32", device="cpu")
    with atomic_dir(out) as tmp:
        static.save_pretrained(str(tmp))
    return out


class StaticBackbone(nn.Module):
    """A frozen table of token vectors with a HF-encoder-like ``forward``: ``last_hidden_state``
    is each token's vector (the Regressor's masked mean pooling then gives model2vec's mean)."""

    def __init__(self, vectors: torch.Tensor):
        from types import SimpleNamespace

        super().__init__()
        self.embeddings = nn.Embedding.from_pretrained(vectors.float(), freeze=True)
        self.config = SimpleNamespace(
            model_type=MODEL_TYPE, hidden_size=int(vectors.shape[1]), vocab_size=int(vectors.shape[0])
        )

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: Any) -> Any:
        from transformers.modeling_outputs import BaseModelOutput

        return BaseModelOutput(last_hidden_state=self.embeddings(input_ids))


def static_tokenizer(folder: Path) -> Any:
    """model2vec's ``tokenizer.json`` as a transformers fast tokenizer (no truncation, no padding:
    the context strategy cuts and the collator pads)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    pad = (tok.padding or {}).get("pad_token") or "[PAD]"
    unk = getattr(tok.model, "unk_token", None)
    tok.no_truncation()
    tok.no_padding()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=pad, unk_token=unk, model_max_length=1_000_000)
    fast.padding_side = "right"
    return fast


def load_static(folder: Path) -> tuple[StaticBackbone, Any, bool]:
    """(backbone, tokenizer, normalize) of a model2vec folder; vocabulary-quantised models (token
    mapping + per-token weights) are expanded to one vector per token."""
    import numpy as np
    from model2vec import StaticModel

    m = StaticModel.from_pretrained(str(folder))
    vectors = np.asarray(m.embedding, dtype=np.float32)
    if m.token_mapping is not None:
        vectors = vectors[np.asarray(m.token_mapping)]
    if m.weights is not None:
        vectors = vectors * np.asarray(m.weights, dtype=np.float32)[:, None]
    return StaticBackbone(torch.from_numpy(np.ascontiguousarray(vectors))), static_tokenizer(folder), bool(m.normalize)


def load_static_backbone(path: str, pca_dims: int | None = 256) -> tuple[Any, Any, bool, Path]:
    """``load_backbone``'s ``source: model2vec``: distil ``path`` (cached) or use it if it already
    is a model2vec folder; (backbone, tokenizer, normalize, folder), pooled by mean."""
    folder = Path(path).expanduser() if is_static_model(Path(path).expanduser()) else distill_static(path, pca_dims)
    backbone, tok, normalize = load_static(folder)
    return backbone, tok, normalize, folder
