"""export: ONNX fidelity, the parity gate (and its failures), manifest hashes, card, benchmark."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from distillery.cli import main

pytestmark = pytest.mark.usefixtures("single_threaded")


def test_export_passes_the_gate_and_describes_itself(tiny_export):
    m = json.loads((tiny_export / "manifest.json").read_text())
    assert m["dimensions"] == [
        "human_wellbeing_impact",
        "social_cohesion_impact",
        "justice_rights_impact",
        "evidence_level",
        "benefit_distribution",
        "change_durability",
    ]
    assert m["context_strategy"]["kind"] == "truncate" and m["context_strategy"]["max_tokens"] == 256
    assert m["tokens"]["pad_id"] == 151643 and m["scale"]["max"] == 10.0
    fp32 = m["models"]["fp32"]
    # a decoder keeps its eager attention (ORT's Attention op was not faster for causal attention)
    assert fp32["export_opset"] == 17 and fp32["opset"] == 17 and m["models"]["int8"]["opset"] == 17
    assert fp32["graph_optimization"]["attention"] == "eager" and "attention_fused" not in fp32["graph_optimization"]
    assert fp32["session"] == m["models"]["int8"]["session"] == {"disabled_optimizers": ["SkipLayerNormFusion"]}
    assert m["models"]["int8"]["quantization"]["name"]
    assert m["lora"]["r"] == 32 and m["lora"]["merged"] is True
    assert m["base_model"]["name"] == "tiny-qwen2" and m["base_model"]["source"] == "tiny"
    p = m["parity"]
    assert (
        p["fp32"]["passed"] and p["fp32"]["max_abs_diff"] < 1e-4 and p["fp32"]["tokenizer"]["mismatched_articles"] == 0
    )
    assert p["int8"]["passed"] and p["int8"]["mae_rel_change"] <= 0.01
    assert m["calibration"]["method"] == "isotonic" and m["confidence"]["alpha"] == 0.1
    card = (tiny_export / "MODEL_CARD.md").read_text()
    for s in ("uplifting/v6", "INT8 vs FP32", "Calibration", "human_wellbeing_impact", "Limitations"):
        assert s in card


def test_manifest_hashes_match_files(tiny_export, tmp_path):
    from distillery.runtime.manifest import sha256, verify_hashes

    m = json.loads((tiny_export / "manifest.json").read_text())
    on_disk = {p.relative_to(tiny_export).as_posix() for p in tiny_export.rglob("*") if p.is_file()}
    assert set(m["files"]) == on_disk - {"manifest.json"} - {f for f in on_disk if f.startswith("benchmark")}
    for rel, info in m["files"].items():
        assert sha256(tiny_export / rel) == info["sha256"]
        assert (tiny_export / rel).stat().st_size == info["bytes"]
    assert verify_hashes(tiny_export) == []
    copy = tmp_path / "copy"
    shutil.copytree(tiny_export, copy)
    with open(copy / "filter.yaml", "a") as fh:
        fh.write("\n# edited\n")
    assert verify_hashes(copy) == ["filter.yaml: SHA-256 differs from the manifest"]


def test_onnx_dynamic_axes_match_torch(tiny_predictor, tiny_export):
    """Batch and sequence axes are dynamic: padded and unpadded batches of any length match PyTorch."""
    import onnxruntime as ort
    import torch

    model = tiny_predictor.scorer.model
    sess = ort.InferenceSession(str(tiny_export / "model.fp32.onnx"), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(1)
    for b, t in ((1, 3), (3, 77), (5, 300)):
        ids = torch.randint(0, 150_000, (b, t), generator=g)
        mask = torch.ones_like(ids)
        if b > 1:
            mask[1:, t // 2 :] = 0
        with torch.no_grad():
            ref = model(ids, mask).numpy()
        out = sess.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
        assert out.shape == (b, 6) and np.abs(out - ref).max() < 1e-4


def _corrupt_head(src, dst, scale=1.8):
    """Scale the regression head's weights in the FP32 graph (what a broken export might do)."""
    import onnx
    from onnx import numpy_helper

    from distillery.export.quantize import weight_matmuls

    model = onnx.load(str(src))
    head = next(name for name, _, is_head in weight_matmuls(model) if is_head)
    node = next(n for n in model.graph.node if n.name == head)
    for init in model.graph.initializer:
        if init.name == node.input[1]:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * scale, init.name))
    onnx.save(model, str(dst))


def test_gate_fails_on_a_corrupted_export(tiny_export, tiny_predictor, tmp_path, capsys, monkeypatch):
    from distillery.export import pipeline

    bad = tmp_path / "bad"
    shutil.copytree(tiny_export, bad)
    _corrupt_head(tiny_export / "model.fp32.onnx", bad / "model.fp32.onnx")
    with pytest.raises(pipeline.GateFailed, match="verification failed"):
        pipeline.verify_export(bad, scorer=tiny_predictor.scorer)
    out = capsys.readouterr().out
    assert "FP32 parity (fp32): max |exported - PyTorch|" in out and "-> FAIL" in out
    assert "model.fp32.onnx: SHA-256 differs" in out
    line = next(x for x in out.splitlines() if x.startswith("FP32 parity"))
    assert float(line.split("PyTorch| ")[1].split()[0]) > 1e-2  # the number is printed, and it is large

    # the CLI turns a failed gate into exit status 3 and prints why
    def failing(d, threads=None):
        raise pipeline.GateFailed(f"{d}: verification failed (FP32 max |diff| 1.234e+00)")

    monkeypatch.setattr(pipeline, "verify_export", failing)
    assert main(["export", "--verify", str(bad)]) == 3
    cli_out = capsys.readouterr().out
    assert "PARITY GATE FAILED" in cli_out and "1.234e+00" in cli_out


def test_int8_ladder_fails_with_numbers_when_nothing_passes(tiny_export, tmp_path):
    """A gate no configuration can meet: no INT8 model is shipped, every attempt is reported."""
    from distillery.export.parity import GateConfig
    from distillery.export.pipeline import FP32_FILE, INT8_FILE, int8_ladder
    from distillery.filters.spec import parse_spec
    from distillery.runtime.calibration import Calibration
    from distillery.runtime.onnx_scorer import OnnxScorer

    work = tmp_path / "x"
    shutil.copytree(tiny_export, work)
    from distillery.evaluate.commands import load_eval_records

    spec = parse_spec(work / "filter.yaml")
    manifest = json.loads((work / "manifest.json").read_text())
    records, _ = load_eval_records(tiny_export, spec, None, "test", 16)
    true = np.array([spec.labels_vector(r["labels"]) for r in records])
    raw32, _, _ = OnnxScorer(work, "fp32", calibrated=False).predict_raw(records)
    strict = GateConfig(int8_mae_tol=-0.5)  # INT8 would have to cut the MAE in half
    chosen, tried = int8_ladder(
        work,
        manifest,
        records,
        raw32,
        true,
        spec,
        Calibration.load(work / "calibration.json"),
        strict,
        ["dynamic-per-channel"],
    )
    assert chosen is None and [t["config"] for t in tried] == ["dynamic-per-channel"]
    assert all(not t["passed"] and t["failed_because"] and np.isfinite(t["mae_int8"]) for t in tried)
    assert not (work / INT8_FILE).exists() and (work / FP32_FILE).exists()


def test_export_refuses_a_non_empty_out_dir(tiny_run, tiny_export, capsys):
    assert main(["export", str(tiny_run), "--out", str(tiny_export)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_evaluate_export_dir_matches_pytorch(tiny_run, tiny_predictor, tiny_export, tmp_path):
    from distillery.evaluate.commands import evaluate_target, load_eval_records
    from distillery.evaluate.predict import load_predictor

    fp32 = load_predictor(tiny_export, "fp32", threads=1)
    f = evaluate_target(tiny_export, split="test", variant="fp32", out=tmp_path / "f", wandb_on=False, predictor=fp32)
    assert f["kind"] == "onnx-fp32" and f["calibrated"] and "confidence" in f
    records, _ = load_eval_records(tiny_run, tiny_predictor.spec, None, "test")
    t = tiny_predictor.predict(records).raw
    assert np.abs(fp32.predict(records).raw - t).max() < 1e-4
    i = load_predictor(tiny_export, "int8", threads=1).predict(records).raw
    assert 0 < np.abs(i - t).max() < 0.5  # INT8 differs, a little


def test_benchmark_writes_results(tiny_export, tiny_predictor):
    from distillery.export.benchmark import run_benchmark

    run_benchmark(tiny_export, lengths=[64], n=4, batch_size=2, threads=1, scorer=tiny_predictor.scorer, profile=True)
    assert hasattr(tiny_predictor.scorer.model.backbone, "peft_config")  # the shared model was not merged
    res = json.loads((tiny_export / "benchmark.json").read_text())
    assert res["threads"] == 1 and res["ort_intra_op_threads"] == 1
    rows = {(r["length"], r["backend"]) for r in res["rows"]}
    assert {(64, "pytorch"), (64, "onnx-fp32"), (64, "onnx-int8"), ("natural", "onnx-int8")} <= rows
    assert all(r["articles_per_s"] > 0 and r["speedup_vs_pytorch"] > 0 for r in res["rows"])
    assert all(r["cpu_ms_per_article"] > 0 and r["cpu_speedup_vs_pytorch"] > 0 for r in res["rows"])
    prof = res["profile_ms_per_article"]["64"]
    assert "Softmax" in prof["onnx-int8"]  # the decoder's eager attention, op by op
    assert any("attention" in k for k in prof["pytorch"])  # SDPA in PyTorch
    assert all(v >= 0 for b in prof.values() for v in b.values()) and all(sum(b.values()) > 0 for b in prof.values())
    assert "Where the time goes at 64 tokens" in (tiny_export / "benchmark.md").read_text()
    assert "vs PyTorch FP32" in (tiny_export / "benchmark.md").read_text()
    from distillery.runtime.manifest import verify_hashes

    assert verify_hashes(tiny_export) == []  # benchmark files are not part of the hashed artifact


def test_views_are_tokenizer_agnostic(qwen_tok):
    """The export runtime (tokenizers only) builds exactly the views training builds."""
    from tokenizers import Tokenizer

    from distillery.evaluate.metrics import aggregate_views
    from distillery.runtime.context import ContextStrategy, special_tokens
    from distillery.runtime.scoring import aggregate

    raw = Tokenizer.from_file(str(qwen_tok.name_or_path) + "/tokenizer.json")
    raw.no_truncation()
    text = "Clinics opened for thousands of families across the valley. " * 40
    for s in (
        ContextStrategy("truncate", 64),
        ContextStrategy("head_tail", 64, head=24),
        ContextStrategy("chunked", 64, stride=40, max_chunks=3),
    ):
        ids = qwen_tok(text, add_special_tokens=False)["input_ids"]
        assert raw.encode(text, add_special_tokens=False).ids == ids
        prefix, suffix = special_tokens(qwen_tok)
        sep = [e for e in raw.encode(s.separator, add_special_tokens=False).ids] if s.kind == "head_tail" else []
        assert s.view_ids(ids, prefix, suffix, sep) == s.views(ids, qwen_tok)
        assert all(len(v) <= 64 for v in s.views(ids, qwen_tok)) and not s.sees_all(len(ids), 0)
    import torch

    pred = torch.tensor([[1.0, 2.0], [3.0, 6.0], [5.0, 0.0]])
    owner = torch.tensor([0, 0, 1])
    for how in ("mean", "max"):
        assert np.allclose(aggregate(pred.numpy(), owner.numpy(), 2, how), aggregate_views(pred, owner, how)[1].numpy())


def test_smoothing_is_exact_in_fp32(tiny_predictor, tiny_run):
    """SmoothQuant-style smoothing only moves scale between norms and weights: same outputs."""
    import copy

    import torch

    from distillery.evaluate.commands import load_eval_records
    from distillery.export.onnx_export import merge_lora
    from distillery.export.smooth import smooth_decoder
    from distillery.runtime.context import special_tokens

    scorer = copy.copy(tiny_predictor.scorer)
    scorer.model = copy.deepcopy(scorer.model)
    merge_lora(scorer.model)
    records, _ = load_eval_records(tiny_run, scorer.spec, None, "val", 8)
    tok = scorer.tokenizer
    prefix, suffix = special_tokens(tok)
    views, _ = scorer.strategy.encode_ids(tiny_predictor.content_ids(records), prefix, suffix, [])
    ids = torch.tensor([v[:40] for v in views if len(v) >= 40][:4])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        before = scorer.model(ids, mask)
        info = smooth_decoder(scorer.model, views, tok.pad_token_id, alpha=0.8)
        after = scorer.model(ids, mask)
    assert info["blocks"] == 2 and (before - after).abs().max() < 1e-3
    w = scorer.model.backbone.layers[0].input_layernorm.weight
    assert not torch.allclose(w, torch.ones_like(w))  # the norm weights really changed


def _eager_onnx(model, path, opset=17):
    import torch

    ids = torch.randint(5, 500, (2, 12), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["out"],
            opset_version=opset,
            dynamo=False,
            dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}},
        )


@pytest.mark.parametrize("arch", ["bert", "qwen2"])
def test_attention_fusion_is_exact_padded_or_not(arch, tmp_path):
    """Eager attention -> one ai.onnx Attention per layer (+ the encoder's mask-free If branch):
    same outputs as PyTorch for padded and unpadded batches; no Softmax left in the graph."""
    import onnx
    import onnxruntime as ort
    import torch
    import transformers
    from onnx import version_converter

    from distillery.export.optimize import ATTENTION_OPSET, fuse_attention, optimize_fp32

    if arch == "bert":
        cfg = transformers.BertConfig(
            vocab_size=600,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            attn_implementation="eager",
        )
        backbone = transformers.BertModel(cfg, add_pooling_layer=False)
    else:
        cfg = transformers.Qwen2Config(
            vocab_size=600,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=64,
            attn_implementation="eager",
        )
        backbone = transformers.Qwen2Model(cfg)

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.b = backbone.eval()

        def forward(self, ids, mask):
            return self.b(input_ids=ids, attention_mask=mask).last_hidden_state

    model = M().eval()
    _eager_onnx(model, tmp_path / "eager.onnx")
    shutil.copyfile(tmp_path / "eager.onnx", tmp_path / "fused.onnx")
    facts = optimize_fp32(tmp_path / "fused.onnx", cfg, attention="fused")
    assert facts["attention_fused"] == 2 and facts["opset"] == ATTENTION_OPSET
    assert facts["maskless_branch"] is (arch == "bert") and facts["recipe"] == ("bert" if arch == "bert" else None)
    proto = onnx.load(str(tmp_path / "fused.onnx"))
    ops = [n.op_type for n in proto.graph.node]
    assert "Softmax" not in ops and ops.count("If" if arch == "bert" else "Attention") == 2
    if arch == "bert":  # residual + LayerNorm stays unfused (ORT's SkipLayerNormalization kernel is slower)
        assert "SkipLayerNormalization" not in ops and ops.count("LayerNormalization") == 5 and "BiasGelu" in ops
        # 3-D attention: no head split/merge transposes left; the unpadded branch has no mask input
        assert "Transpose" not in ops
        branch = {a.name: a.g.node[0] for a in next(n for n in proto.graph.node if n.op_type == "If").attribute}
        assert len(branch["then_branch"].input) == 3 and len(branch["else_branch"].input) == 4
    disabled = facts["session"]["disabled_optimizers"]
    assert disabled == ["SkipLayerNormFusion"]
    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "session.onnx")
    sess = ort.InferenceSession(
        str(tmp_path / "fused.onnx"), opts, providers=["CPUExecutionProvider"], disabled_optimizers=disabled
    )
    assert "SkipLayerNormalization" not in {n.op_type for n in onnx.load(str(tmp_path / "session.onnx")).graph.node}
    g = torch.Generator().manual_seed(1)
    for b, t, padded in ((1, 5, False), (3, 40, False), (3, 40, True), (4, 70, True)):
        ids = torch.randint(5, 600, (b, t), generator=g)
        mask = torch.ones_like(ids)
        if padded:
            mask[1:, t // 2 :] = 0
        with torch.no_grad():
            ref = model(ids, mask).numpy()
        out = sess.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
        keep = mask.numpy().astype(bool)  # padded positions are don't-cares
        assert np.abs(out - ref)[keep].max() < 1e-4, (b, t, padded)
    if arch == "qwen2":  # the check has teeth: a mask-free branch would drop the decoder's causal mask
        wrong = version_converter.convert_version(onnx.load(str(tmp_path / "eager.onnx")), ATTENTION_OPSET)
        fuse_attention(wrong, maskless_branch=True)
        out = ort.InferenceSession(wrong.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"input_ids": ids[:1].numpy(), "attention_mask": np.ones((1, ids.shape[1]), np.int64)}
        )[0]
        with torch.no_grad():
            assert np.abs(out - model(ids[:1], torch.ones_like(ids[:1])).numpy()).max() > 1e-2
