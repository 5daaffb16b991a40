"""Offline graph rewriting of the FP32 ONNX model before the parity gate and INT8 quantization.

Two passes, both exact in real arithmetic and both checked by the parity gate (FP32 ONNX vs
PyTorch, then INT8 vs FP32):

1. **Transformer fusions** (encoders, BERT family): ONNX Runtime's transformer optimizer turns
   bias + GELU into ``BiasGelu``. With ``attention="ort"`` (the previous default) it also fuses
   attention into ORT's contrib ``Attention`` op (which INT8 quantization turns into
   ``QAttention``) and embeddings + LayerNorm into ``EmbedLayerNormalization``. Residual + LayerNorm is
   *not* fused into ``SkipLayerNormalization``: in ONNX Runtime 1.31 on x86 that kernel is 3-4x
   slower than ``Add`` + ``LayerNormalization`` (7.1 vs 1.8 ms CPU for 8x256x384, 1 thread), so
   the export also records ``session.disabled_optimizers = ["SkipLayerNormFusion"]``, which the
   runtime (and the packaged wheel) pass to ONNX Runtime so it does not redo the fusion.
2. **Attention fusion** (``attention="fused"``; the default ``auto`` applies it to encoders):
   transformers' eager attention subgraph ``MatMul(Q, Kᵀ)·scale + mask -> Softmax -> MatMul(·, V)``
   becomes one ai.onnx ``Attention`` op (opset 23; the graph is converted to opset 23 first, ONNX
   Runtime >= 1.23 runs it), taking the (batch, seq, hidden) projections directly when the
   graph only splits them into heads (no head transposes). Bidirectional encoders get an exact
   shortcut: when ``attention_mask`` is all ones (an unpadded batch, which is every batch of a
   batch-1 INT8 scorer) an ``If`` runs the op without the (batch, 1, q, k) mask. Decoders keep
   their causal+padding mask (a mask-free branch would drop causality) and, under ``auto``, the
   eager subgraph: ORT 1.31's CPU ``Attention`` materialises the same (q, k) scores and was no
   faster for SmolLM2.

Measured (1 thread, docs/benchmarks.md): see there for what each pass buys per model.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

# architectures with a transformer-optimizer recipe; all are bidirectional encoders
RECIPES = {
    "bert": "bert",
    "roberta": "bert",
    "xlm-roberta": "bert",
    "distilbert": "bert",
    "mpnet": "bert",
    "electra": "bert",
}
# auto: fused for encoders, eager for decoders | ai.onnx Attention | ORT contrib Attention (encoders) | as exported
ATTENTION_MODES = ("auto", "fused", "ort", "eager")
ATTENTION_OPSET = 23
FLOAT = 1  # onnx.TensorProto.FLOAT
# ORT session-level fusions that make these graphs slower (measured; see the module docstring)
DISABLED_SESSION_OPTIMIZERS = ("SkipLayerNormFusion",)


def optimize_fp32(path: Path, config: Any, external_data: bool = False, attention: str = "auto") -> dict[str, Any]:
    """Rewrite the FP32 graph at ``path`` in place; returns what was done (for the manifest).

    ``attention="auto"``: ``fused`` for encoders, ``eager`` for decoders (ORT's Attention op is
    no faster than the explicit causal subgraph there: SmolLM2 INT8 at 512 tokens, 1 thread,
    1,357 vs 1,201 ms/article in the same benchmark run)."""
    import onnx

    if attention not in ATTENTION_MODES:
        raise ValueError(f"attention must be one of {ATTENTION_MODES}, got {attention!r}")
    model_type = getattr(config, "model_type", None)
    recipe = RECIPES.get(model_type)
    if attention == "auto":
        attention = "fused" if recipe else "eager"
    t0 = time.perf_counter()
    facts: dict[str, Any] = {
        "applied": False,
        "attention": attention,
        "recipe": recipe,
        "session": {"disabled_optimizers": list(DISABLED_SESSION_OPTIMIZERS)},
    }
    if recipe:
        facts["fused"] = _ort_transformer_fusions(
            path, config, recipe, external_data, fuse_attention=attention == "ort"
        )
        facts["applied"] = True
    else:
        facts["reason"] = f"no transformer-optimizer recipe for model type {model_type!r}"
    if attention == "fused":
        from onnx import version_converter

        from distillery.export.onnx_export import save_onnx

        proto = onnx.load(str(path), load_external_data=True)
        proto = version_converter.convert_version(proto, ATTENTION_OPSET)
        n = fuse_attention(
            proto,
            maskless_branch=recipe is not None,
            num_heads=getattr(config, "num_attention_heads", None) if recipe else None,
        )
        facts["attention_fused"] = n
        if n:
            facts["opset"] = ATTENTION_OPSET
            facts["maskless_branch"] = recipe is not None
            facts["applied"] = True
            facts.setdefault("fused", {})["Attention"] = n
            save_onnx(proto, path, external_data)  # else the file stays as it was (and its opset)
    facts["seconds"] = round(time.perf_counter() - t0, 2)
    return facts


def _ort_transformer_fusions(
    path: Path, config: Any, recipe: str, external_data: bool, fuse_attention: bool
) -> dict[str, int]:
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions(recipe)
    options.enable_attention = fuse_attention
    options.enable_skip_layer_norm = False
    logging.disable(logging.WARNING)
    try:
        m = optimize_model(
            str(path),
            model_type=recipe,
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=1,
            use_gpu=False,
            optimization_options=options,
        )
        stats = {k: int(v) for k, v in m.get_fused_operator_statistics().items() if v}
        m.save_model_to_file(str(path), use_external_data_format=external_data)
    finally:
        logging.disable(logging.NOTSET)
    return stats


def _scalar(name: str, consts: dict[str, Any]) -> float | None:
    import numpy as np

    arr = consts.get(name)
    return float(np.asarray(arr).reshape(-1)[0]) if arr is not None and np.asarray(arr).size == 1 else None


def fuse_attention(
    proto: Any, maskless_branch: bool = False, num_heads: int | None = None, mask_input: str = "attention_mask"
) -> int:
    """Rewrite every eager attention subgraph of ``proto`` (in place) into an ai.onnx ``Attention``.

    The pattern is transformers' ``eager_attention_forward`` (shared by its encoders and decoders)::

        MatMul(Q, Transpose(K)) [Mul|Div by scalar]* [Add(mask)] -> Softmax(-1) [Cast float]* -> MatMul(., V)
          ==> Attention(Q, K, V, mask expanded to (.., q_len, k_len), scale = product of the scalars)

    Q, K, V are (batch, heads, seq, head_dim); K/V may have fewer heads (GQA). The additive mask
    is passed unchanged, so the arithmetic is the same (``Q Kᵀ · scale + mask``). When Q, K and V
    are plain head splits of (batch, seq, hidden) tensors (``Transpose(Reshape(x))``, encoders;
    decoders rotate Q and K after the split) and the output is merged back the same way, the op
    takes and returns the 3-D tensors (``num_heads`` given): no head transposes at all.

    ``maskless_branch`` (bidirectional models only) wraps each op in ``If(min(attention_mask) ==
    1)``; the unpadded branch runs the same op without the mask (bit-identical results: adding a
    zero mask changes nothing). ORT's ``MultiHeadAttention`` has a faster mask-free (flash) CPU
    kernel at 512 tokens, but its slightly different rounding moved MiniLM's INT8 gate result
    from +0.80% to +1.18% MAE (noise around the 1% tolerance on 40 articles), so it is not used.
    Intermediate results used anywhere else leave that subgraph unfused. The default-domain
    opset must be >= 23. Returns the number fused.
    """
    from onnx import helper, numpy_helper

    g = proto.graph
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    prod = {o: n for n in g.node for o in n.output}
    cons: dict[str, list] = defaultdict(list)
    for n in g.node:
        for i in n.input:
            cons[i].append(n)
    outputs = {o.name for o in g.output}
    maskless_branch = maskless_branch and mask_input in {i.name for i in g.input}

    def sole(name: str, node: Any) -> bool:  # ``name`` feeds ``node`` and nothing else
        return name not in outputs and len(cons[name]) == 1 and cons[name][0] is node

    def attr(node: Any, key: str, default: Any = None) -> Any:
        return next((helper.get_attribute_value(a) for a in node.attribute if a.name == key), default)

    def is_t(node: Any, perm: list[int]) -> bool:
        return node is not None and node.op_type == "Transpose" and list(attr(node, "perm", [])) == perm

    def scores(name: str, consumer: Any) -> tuple[Any, float, list] | None:
        """(the Q·Kᵀ MatMul, scale, nodes) if ``name`` is Q·Kᵀ times scalars."""
        scale, chain = 1.0, []
        while True:
            n = prod.get(name)
            if n is None or not sole(name, consumer):
                return None
            if n.op_type == "MatMul":
                return n, scale, chain + [n]
            c = [_scalar(i, consts) for i in n.input] if n.op_type in ("Mul", "Div") else [None, None]
            if n.op_type == "Mul" and c[1] is not None:
                scale, name = scale * c[1], n.input[0]
            elif n.op_type == "Mul" and c[0] is not None:
                scale, name = scale * c[0], n.input[1]
            elif n.op_type == "Div" and c[1] is not None:
                scale, name = scale / c[1], n.input[0]
            else:
                return None
            chain.append(n)
            consumer = n

    def split_heads(name: str, consumer: Any, perms: tuple[list[int], ...]) -> tuple[str, list] | None:
        """(x, nodes) if ``name`` is Transpose(perm)(Reshape(x)) (or a chain of ``perms``), used only here."""
        nodes = []
        for perm in perms:
            t = prod.get(name)
            if not is_t(t, perm) or not sole(name, consumer):
                return None
            nodes.append(t)
            name, consumer = t.input[0], t
        r = prod.get(name)
        if r is None or r.op_type != "Reshape" or not sole(name, consumer):
            return None
        return r.input[0], nodes + [r]

    def merge_heads(name: str) -> tuple[str, list] | None:
        """(output, nodes) if ``name`` only feeds Transpose[0,2,1,3] -> Reshape (heads merged back)."""
        if name in outputs or len(cons[name]) != 1 or not is_t(cons[name][0], [0, 2, 1, 3]):
            return None
        t = cons[name][0]
        r = cons[t.output[0]]
        if t.output[0] in outputs or len(r) != 1 or r[0].op_type != "Reshape" or r[0].input[0] != t.output[0]:
            return None
        return r[0].output[0], [t, r[0]]

    new_before: dict[int, list] = {}
    drop: set[int] = set()
    shared: dict[str, str] = {}
    for sm in [n for n in g.node if n.op_type == "Softmax"]:
        if attr(sm, "axis", -1) not in (-1, 3):
            continue
        out, down = sm.output[0], []
        while (
            len(cons[out]) == 1
            and out not in outputs
            and (
                cons[out][0].op_type == "Identity"
                or (cons[out][0].op_type == "Cast" and attr(cons[out][0], "to") == FLOAT)
            )
        ):
            down.append(cons[out][0])
            out = cons[out][0].output[0]
        pv = cons[out][0] if len(cons[out]) == 1 and out not in outputs else None
        if pv is None or pv.op_type != "MatMul" or pv.input[0] != out:
            continue
        x, mask, up, found = sm.input[0], None, [], None
        add = prod.get(x)
        if add is not None and add.op_type == "Add" and sole(x, sm):
            for i in (0, 1):
                found = scores(add.input[i], add)
                if found:
                    mask, up = add.input[1 - i], [add]
                    break
        else:
            found = scores(x, sm)
        if not found:
            continue
        qk, scale, chain = found
        q, kt, v = qk.input[0], qk.input[1], pv.input[1]
        base = pv.name.rsplit("/", 1)[0] + "/Attention" if "/" in pv.name else f"{pv.name}_Attention"
        new: list = []
        # 3-D form: every input a plain head split, the output merged back
        three_d = None
        if num_heads:
            sq, sv = split_heads(q, qk, ([0, 2, 1, 3],)), split_heads(v, pv, ([0, 2, 1, 3],))
            sk = split_heads(kt, qk, ([0, 2, 3, 1],)) or split_heads(kt, qk, ([0, 1, 3, 2], [0, 2, 1, 3]))
            merged = merge_heads(pv.output[0])
            if sq and sk and sv and merged:
                three_d = (sq, sk, sv, merged)
        if three_d:
            (q, nq), (k, nk), (v, nv), (result, nm) = three_d
            chain += nq + nk + nv + nm
            heads = {"q_num_heads": int(num_heads), "kv_num_heads": int(num_heads)}
            seq_axis = 1
        else:
            result, heads, seq_axis = pv.output[0], {}, 2
            t = prod.get(kt)
            if is_t(t, [0, 1, 3, 2]) and sole(kt, qk):
                k = t.input[0]
                chain.append(t)
            else:
                k = f"{base}_K"
                new.append(helper.make_node("Transpose", [kt], [k], name=f"{base}_K", perm=[0, 1, 3, 2]))
        inputs = [q, k, v]
        if mask is not None:  # Attention wants the mask's query axis spelled out (no broadcasting there)
            key = f"{mask}@{seq_axis}"
            if key not in shared:
                m = f"{base}_mask"
                g.initializer.extend(
                    [helper.make_tensor(f"{m}_11", 7, [2], [1, 1]), helper.make_tensor(f"{m}_1", 7, [1], [1])]
                )
                new += [
                    helper.make_node("Shape", [q], [f"{m}_q"], name=f"{m}_q", start=seq_axis, end=seq_axis + 1),
                    helper.make_node(
                        "Concat", [f"{m}_11", f"{m}_q", f"{m}_1"], [f"{m}_shape"], name=f"{m}_shape", axis=0
                    ),
                    helper.make_node("Expand", [mask, f"{m}_shape"], [f"{m}_4d"], name=f"{m}_expand"),
                ]
                shared[key] = f"{m}_4d"
            inputs.append(shared[key])
        if maskless_branch and mask is not None:
            if "cond" not in shared:
                g.initializer.append(helper.make_tensor("unpadded_one", 7, [], [1]))
                new += [
                    helper.make_node("ReduceMin", [mask_input], ["unpadded_min"], name="unpadded_min", keepdims=0),
                    helper.make_node("Equal", ["unpadded_min", "unpadded_one"], ["unpadded"], name="unpadded"),
                ]
                shared["cond"] = "unpadded"
            o1, o2 = f"{base}_unpadded", f"{base}_padded"
            n1 = helper.make_node("Attention", inputs[:3], [o1], name=o1, scale=float(scale), **heads)
            n2 = helper.make_node("Attention", inputs, [o2], name=o2, scale=float(scale), **heads)
            branches = [
                helper.make_graph([n], o, [], [helper.make_tensor_value_info(o, FLOAT, None)])
                for n, o in ((n1, o1), (n2, o2))
            ]
            new.append(
                helper.make_node(
                    "If",
                    [shared["cond"]],
                    [result],
                    name=f"{base}_If",
                    then_branch=branches[0],
                    else_branch=branches[1],
                )
            )
        else:
            new.append(helper.make_node("Attention", inputs, [result], name=base, scale=float(scale), **heads))
        new_before[id(pv)] = new
        drop |= {id(n) for n in (sm, pv, *down, *up, *chain)}
    if not new_before:
        return 0
    nodes = []
    for n in g.node:
        nodes += new_before.get(id(n), [])
        if id(n) not in drop:
            nodes.append(n)
    _remove_dead(g, nodes, outputs)
    return len(new_before)


def _remove_dead(g: Any, nodes: list, outputs: set[str]) -> None:
    """Keep only the nodes (and initializers) the graph outputs depend on (e.g. the shape
    arithmetic of removed Reshapes)."""
    prod = {o: n for n in nodes for o in n.output}
    need, stack, live = set(outputs), list(outputs), set()
    while stack:
        n = prod.get(stack.pop())
        if n is None or id(n) in live:
            continue
        live.add(id(n))
        ins = list(n.input) + [i for a in n.attribute if a.type == a.GRAPH for sn in a.g.node for i in sn.input]
        for i in ins:
            if i and i not in need:
                need.add(i)
                stack.append(i)
    del g.node[:]
    g.node.extend(n for n in nodes if id(n) in live)
    keep = [i for i in g.initializer if i.name in need]
    del g.initializer[:]
    g.initializer.extend(keep)
