"""``distillery benchmark``: CPU speed of PyTorch FP32 vs every exported model on the same inputs.

Backends: ``pytorch`` / ``pytorch-lora`` (the checkpoint), ``onnx-fp32`` / ``onnx-int8`` (ONNX
Runtime), ``openvino-fp32`` / ``openvino-int8`` (OpenVINO IR), each timed where the export has
it (``auto`` exports keep every backend's gated INT8 model).

Inputs per context length L: ``n`` token views of exactly L tokens (special tokens included),
cut from real held-out articles (their content ids concatenated), so every backend sees the
same tensors in the same batches (``batch_size`` views, at most ``batch_tokens`` tokens per
batch). Plus a ``natural`` row: the held-out articles through each backend's full scoring path
(the context strategy's views, length-sorted batches) — the workload ``evaluate`` runs.

PyTorch FP32 (``pytorch``) is the checkpoint with LoRA merged (the fastest PyTorch form, and
the baseline for the speed-ups); ``pytorch-lora`` is the checkpoint as ``evaluate`` and training
run it (adapters unmerged). ``torch.inference_mode``, the same thread count as ONNX Runtime. Each timing is
the best of ``repeats`` passes after one warm-up batch, in wall-clock seconds (the speed-ups)
and in CPU seconds of the calling thread (``cpu_ms_per_article``: with 1 thread both torch and
ONNX Runtime compute on the calling thread, so this number is much less disturbed by other jobs
on a shared machine; with more threads it counts the calling thread only). ``profile=True`` adds where the time goes: one profiled pass per length of
PyTorch (``torch.profiler``, self CPU time per aten op) and ONNX INT8 (ORT profiler, time per op
type). Results: ``benchmark.json`` and ``benchmark.md`` in the export dir (not part of the hashed
artifact).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from distillery.evaluate.predict import TorchPredictor
from distillery.evaluate.records import parity_records
from distillery.export.onnx_export import merge_lora
from distillery.rundir import versions, write_json
from distillery.runtime.manifest import ExportDir, load_manifest
from distillery.runtime.onnx_scorer import OnnxScorer
from distillery.runtime.scoring import length_sorted_batches


def _views_of_length(
    content: list[list[int]], prefix: list[int], suffix: list[int], length: int, n: int
) -> list[list[int]]:
    pool = [t for ids in content for t in ids]
    body = length - len(prefix) - len(suffix)
    if not pool or body <= 0:
        raise ValueError(f"cannot build {length}-token inputs")
    views, start = [], 0
    for _ in range(n):
        chunk = [pool[(start + k) % len(pool)] for k in range(body)]
        start = (start + body) % len(pool)
        views.append(list(prefix) + chunk + list(suffix))
    return views


def _time(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Best wall-clock and best calling-thread CPU seconds of ``repeats`` calls."""
    best, cpu = float("inf"), float("inf")
    for _ in range(max(1, repeats)):
        t, c = time.perf_counter(), time.thread_time()
        fn()
        best, cpu = min(best, time.perf_counter() - t), min(cpu, time.thread_time() - c)
    return best, cpu


def _profile_torch(predictor: Any, views: list[list[int]]) -> dict[str, float]:
    """Self CPU milliseconds per article of each aten op (largest first) for one pass over ``views``."""
    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        predictor.run_views(views)
    ops = sorted(((e.key, e.self_cpu_time_total / 1000 / len(views)) for e in prof.key_averages()), key=lambda x: -x[1])
    return _sorted(ops)


def _disabled(manifest: dict[str, Any], variant: str) -> list[str]:
    return list(manifest["models"][variant].get("session", {}).get("disabled_optimizers", []))


def _profile_ort(scorer: Any, views: list[list[int]], model: Path) -> dict[str, float]:
    """Milliseconds per article by op type (ORT profiler, largest first) for one pass over ``views``."""
    import json
    import os
    import tempfile

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads, opts.inter_op_num_threads = int(scorer.threads or 0), 1
    opts.enable_profiling = True
    opts.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    sess = ort.InferenceSession(
        str(model),
        opts,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=_disabled(scorer.manifest, scorer.variant),
    )
    for _, ids, mask in length_sorted_batches(views, scorer.batch_size, scorer.pad_id):
        sess.run(["scores"], {"input_ids": ids, "attention_mask": mask})
    path = sess.end_profiling()
    agg: dict[str, float] = {}
    for e in json.loads(Path(path).read_text()):
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e.get("args", {}).get("op_name"):
            op = e["args"]["op_name"]
            if e["name"].endswith(("_unpadded_kernel_time", "_padded_kernel_time")):
                continue  # the Attention inside an If branch (optimize.fuse_attention): counted in its If
            agg[op] = agg.get(op, 0.0) + e["dur"] / 1000 / len(views)
    Path(path).unlink()
    return _sorted(agg.items())


def _sorted(ops: Any) -> dict[str, float]:
    return {k: round(v, 4) for k, v in sorted(ops, key=lambda x: -x[1]) if v > 0}


def _top(ops: dict[str, float], top: int = 8) -> str:
    items = list(ops.items())
    total = sum(v for _, v in items)
    rest = total - sum(v for _, v in items[:top])
    return ", ".join(f"{k} {v:.1f}" for k, v in items[:top]) + f", other {rest:.1f}; total {total:.1f}"


# benchmark backend -> the export's model variant (runtime.onnx_scorer.OnnxScorer)
VARIANTS = {
    "onnx-fp32": "fp32",
    "onnx-int8": "int8-onnxruntime",
    "openvino-fp32": "fp32-openvino",
    "openvino-int8": "int8-openvino",
}
BACKENDS = ("pytorch", "pytorch-lora", *VARIANTS)


def _has(m: dict[str, Any], variant: str) -> bool:
    from distillery.runtime.backends import backend_of

    shipped = m["models"].get("int8")
    return variant in m["models"] or bool(shipped and variant == f"int8-{backend_of(shipped)}")


def run_benchmark(
    export_dir: Path,
    lengths: Sequence[int] = (512, 1024, 2048),
    n: int = 16,
    batch_size: int = 8,
    threads: int = 2,
    backends: Sequence[str] = ("pytorch", "onnx-fp32", "onnx-int8", "openvino-fp32", "openvino-int8"),
    data: str | None = None,
    repeats: int = 1,
    batch_tokens: int = 8192,
    natural: bool = True,
    scorer: Any = None,
    profile: bool = False,
    compare: dict[str, Path] | None = None,
) -> dict[str, Any]:
    """Time every backend on the same inputs; ``scorer``: the source checkpoint already loaded
    (it is deep-copied before its LoRA is merged). ``compare``: other INT8 ONNX files of the same
    model (label -> path, e.g. an earlier export's), timed as backends ``onnx-int8:<label>``
    through the export's own scoring code."""
    import torch

    from distillery.models.checkpoint import load_checkpoint
    from distillery.runtime.backends import open_session

    export_dir = Path(export_dir)
    m = load_manifest(export_dir)
    torch.set_num_threads(int(threads))
    missing = [b for b in backends if b in VARIANTS and not _has(m, VARIANTS[b])]
    if missing:
        print(f"not in this export (skipped): {', '.join(missing)}", flush=True)
    backends = [b for b in backends if b not in missing]
    rt = {
        b: OnnxScorer(export_dir, VARIANTS[b], threads=threads, batch_size=batch_size)
        for b in backends
        if b in VARIANTS
    }
    files = {b: export_dir / r.info.models[r.variant]["file"] for b, r in rt.items()}
    for label, path in (compare or {}).items():
        r = OnnxScorer(export_dir, "int8-onnxruntime", threads=threads, batch_size=batch_size)
        r.session = open_session(export_dir, {**r.info.models[r.variant], "file": str(Path(path).resolve())}, threads)
        rt[f"onnx-int8:{label}"], files[f"onnx-int8:{label}"] = r, Path(path)
        backends.append(f"onnx-int8:{label}")
    any_rt = next(iter(rt.values())) if rt else OnnxScorer(export_dir, "int8", threads=threads)
    spec = any_rt.spec
    run = Path(m["source"]["run_dir"]) if m["source"].get("run_dir") else Path(m["source"]["checkpoint"])
    records, desc = parity_records(run, spec, data, max(n, 64))
    content = any_rt.content_ids(records)
    torch_pred = lora_pred = None
    if "pytorch-lora" in backends:
        lora_pred = TorchPredictor(
            scorer if scorer is not None else load_checkpoint(m["source"]["checkpoint"]), batch_size=batch_size
        )
    if "pytorch" in backends:
        if scorer is not None:
            import copy

            scorer = copy.copy(scorer)
            scorer.model = copy.deepcopy(scorer.model)
        else:
            scorer = load_checkpoint(m["source"]["checkpoint"])
        merge_lora(scorer.model)
        scorer.model.eval()
        torch_pred = TorchPredictor(scorer, batch_size=batch_size)

    def run_views(backend: str, views: list[list[int]], bs: int) -> None:
        if backend.startswith("pytorch"):
            p = torch_pred if backend == "pytorch" else lora_pred
            p.batch_size = bs
            p.run_views(views)
        else:
            r = rt[backend]
            r.batch_size = bs
            r.run_views(views)

    rows: list[dict[str, Any]] = []
    profiles: dict[str, dict[str, dict[str, float]]] = {}
    for L in lengths:
        views = _views_of_length(content, any_rt.prefix, any_rt.suffix, int(L), n)
        bs = max(1, min(batch_size, batch_tokens // int(L)))
        for b in backends:
            run_views(b, views[:bs], bs)  # warm-up
            secs, cpu = _time(lambda: run_views(b, views, bs), repeats)  # noqa: B023 - called at once, inside the loop
            rows.append(
                {
                    "length": int(L),
                    "backend": b,
                    "n": n,
                    "batch_size": bs,
                    "seconds": secs,
                    "ms_per_article": 1000 * secs / n,
                    "articles_per_s": n / secs,
                    "cpu_ms_per_article": 1000 * cpu / n,
                }
            )
            print(
                f"L={L:5d} {b:14s} batch {bs:2d}: {1000 * secs / n:9.1f} ms/article  {n / secs:8.2f} articles/s  "
                f"(CPU {1000 * cpu / n:.1f} ms/article)",
                flush=True,
            )
        if profile:
            prof = profiles[str(L)] = {}
            if torch_pred is not None:
                prof["pytorch"] = _profile_torch(torch_pred, views)
            for b in rt:
                if b.startswith("onnx-int8"):
                    prof[b] = _profile_ort(rt[b], views, files[b])
    if natural:
        nat = records[: n * 4]
        for b in backends:
            if b.startswith("pytorch"):
                p = torch_pred if b == "pytorch" else lora_pred
                p.batch_size = batch_size
                fn: Callable[[], Any] = lambda p=p: p.predict(nat)
            else:  # as shipped: batch 1 for batch-dependent (dynamic INT8) models
                r = rt[b]
                r.batch_size = 8 if r.info.models[r.variant].get("batch_invariant", True) else 1
                fn = lambda r=r: r.predict_raw(nat)
            fn() if len(nat) <= 16 else None
            secs, cpu = _time(fn, repeats)
            bsz = batch_size if b.startswith("pytorch") else rt[b].batch_size
            rows.append(
                {
                    "length": "natural",
                    "backend": b,
                    "n": len(nat),
                    "batch_size": bsz,
                    "seconds": secs,
                    "ms_per_article": 1000 * secs / len(nat),
                    "articles_per_s": len(nat) / secs,
                    "cpu_ms_per_article": 1000 * cpu / len(nat),
                }
            )
            print(
                f"natural ({m['context_strategy']['kind']} {m['context_strategy']['max_tokens']}) {b:10s}: "
                f"{1000 * secs / len(nat):9.1f} ms/article  {len(nat) / secs:8.2f} articles/s",
                flush=True,
            )
    for r in rows:
        base = next((x for x in rows if x["length"] == r["length"] and x["backend"] == "pytorch"), None)
        r["speedup_vs_pytorch"] = base["seconds"] / base["n"] / (r["seconds"] / r["n"]) if base else None
        r["cpu_speedup_vs_pytorch"] = base["cpu_ms_per_article"] / r["cpu_ms_per_article"] if base else None
    result = {
        "export": str(export_dir),
        "model": m.get("base_model", {}).get("name"),
        "filter": m.get("filter"),
        "int8_config": m.get("parity", {}).get("int8_config"),
        "threads": int(threads),
        "torch_threads": torch.get_num_threads(),
        "ort_intra_op_threads": int(threads),
        "ort_graph_optimization": "ORT_ENABLE_ALL",
        "cpu": _cpu(),
        "cores": _cores(),
        "data": desc,
        "versions": {
            k: v for k, v in versions().items() if k in ("torch", "onnxruntime", "openvino", "transformers", "python")
        },
        "cpu_flags": cpu_flags(),
        "shipped_backend": m["models"].get("int8", {}).get("backend", "onnxruntime"),
        "rows": rows,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "graph_optimization": m.get("models", {}).get("fp32", {}).get("graph_optimization"),
    }
    if profiles:
        result["profile_ms_per_article"] = profiles
    write_json(export_dir / ExportDir.BENCHMARK, result)
    (export_dir / ExportDir.BENCHMARK_MD).write_text(markdown(result))
    print(markdown(result))
    return result


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The CPU's INT8 dot-product and wide-vector flags (what INT8 speed depends on)."""
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in wanted if f in have]
    except OSError:
        pass
    return []


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


def markdown(res: dict[str, Any]) -> str:
    L = [
        f"Benchmark of `{res['export']}` ({res['model']}, {res['filter']}; INT8 `{res['int8_config']}`), "
        f"{res['threads']} threads for every backend (torch {res['torch_threads']}, ORT intra-op {res['ort_intra_op_threads']}), "
        f"{res['cpu']} ({res['cores']} cores visible; {' '.join(res.get('cpu_flags') or []) or 'no INT8 dot-product flags'}), "
        f"torch {res['versions'].get('torch')}, onnxruntime {res['versions'].get('onnxruntime')}, openvino "
        f"{res['versions'].get('openvino', '–')}; shipped INT8: {res.get('shipped_backend')}; load average {_load(res)}.",
        "",
        "| context | backend | batch | ms/article | articles/s | vs PyTorch FP32 | CPU ms/article | CPU vs PyTorch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        sp = f"{r['speedup_vs_pytorch']:.2f}x" if r.get("speedup_vs_pytorch") else "–"
        csp = f"{r['cpu_speedup_vs_pytorch']:.2f}x" if r.get("cpu_speedup_vs_pytorch") else "–"
        L.append(
            f"| {r['length']} | {r['backend']} | {r['batch_size']} | {r['ms_per_article']:.1f} | "
            f"{r['articles_per_s']:.2f} | {sp} | {r.get('cpu_ms_per_article', float('nan')):.1f} | {csp} |"
        )
    for length, backends in (res.get("profile_ms_per_article") or {}).items():
        L += ["", f"Where the time goes at {length} tokens (ms/article, one profiled pass):", ""]
        for b, ops in backends.items():
            L.append(f"- {b}: " + _top(ops))
    return "\n".join(L) + "\n"


def _load(res: dict[str, Any]) -> str:
    la = res.get("load_average")
    return "/".join(f"{x:.2f}" for x in la) + " (1/5/15 min)" if la else "unknown"
