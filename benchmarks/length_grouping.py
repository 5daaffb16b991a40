"""Training tokens/s: length-grouped batches vs pad-to-max, on the synthetic corpus's length mix.

Same model (tiny-qwen2 + LoRA), same articles, same optimizer; the two loaders are interleaved
in rounds so background load hits both alike. "Tokens" are real (non-pad) tokens, so padding
is pure waste. Usage:

    python benchmarks/length_grouping.py [--articles 480] [--rounds 1] [--max-tokens 512 1024]

Grouping happens inside random mega-batches of 30 x batch_size articles, what training on the
default corpus (1,920 train articles) uses; ``--articles 480`` is one such mega-batch.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=480, help="training articles per pass and mode")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--model", default="tiny-qwen2")
    args = ap.parse_args()

    from conftest import compose  # the real config tree
    from distillery.data.datamodule import ArticleDataModule
    from distillery.filters import load_filter
    from distillery.models.backbone import load_backbone
    from distillery.models.regressor import Regressor, apply_finetune, hidden_size_of
    from distillery.runtime.context import ContextStrategy

    torch.manual_seed(0)
    cfg = compose([f"model={args.model}", "seed=0"])
    spec = load_filter(cfg.filter.name)
    loaded = load_backbone(cfg.model)
    model = Regressor(
        apply_finetune(loaded.backbone, cfg.model),
        len(spec.dimensions),
        cfg.model.pooling,
        hidden_size_of(loaded.backbone),
        [5.0] * 6,
        [2.0] * 6,
    )
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    data_cfg = OmegaConf.merge(cfg.data, {"batch_size": args.batch_size, "megabatch_mult": 30})
    print(
        f"model {args.model}, batch {args.batch_size}, {args.rounds} passes over the same {args.articles} articles "
        f"per mode and context, "
        f"torch threads {torch.get_num_threads()}\n"
    )
    print(
        "| context | batching | seconds | real tokens | padded tokens | pad waste | real tokens/s | grouped / pad-to-max |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for max_tokens in args.max_tokens:
        strategy = ContextStrategy("truncate", max_tokens)
        dm = ArticleDataModule(data_cfg, spec, loaded.tokenizer, strategy, cfg.paths.cache_dir, seed=0)
        dm.setup()
        ds = dm.data["train"]  # the same articles for both modes: one full pass over the first N
        ds.input_ids, ds.labels, ds.article, ds.lengths = (
            x[: args.articles] for x in (ds.input_ids, ds.labels, ds.article, ds.lengths)
        )
        bench(dm, data_cfg, model, opt, args.rounds, max_tokens)


def bench(dm, data_cfg, model, opt, rounds: int, max_tokens: int) -> None:
    def run(grouped: bool) -> tuple[float, int, int]:
        data_cfg.group_by_length, data_cfg.pad_to_max = grouped, not grouped
        real = padded = 0
        t = time.perf_counter()
        for b in dm.train_dataloader():
            loss = torch.mean((model(b["input_ids"], b["attention_mask"]) - b["labels"]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            real += int(b["attention_mask"].sum())
            padded += b["attention_mask"].numel()
        return time.perf_counter() - t, real, padded

    model(torch.ones((2, 64), dtype=torch.long), torch.ones((2, 64), dtype=torch.long))  # warm-up
    totals = {True: [0.0, 0, 0], False: [0.0, 0, 0]}
    for _ in range(rounds):
        for grouped in (True, False):
            for k, v in enumerate(run(grouped)):
                totals[grouped][k] += v
    rows = []
    for grouped, (secs, real, padded) in totals.items():
        rows.append(("length-grouped" if grouped else "pad-to-max", secs, real, padded, real / secs))
    ratio = rows[0][4] / rows[1][4]
    for name, secs, real, padded, tps in rows:
        print(
            f"| {max_tokens} | {name} | {secs:.1f} | {real} | {padded} | {1 - real / padded:.1%} | {tps:.0f} | "
            + (f"**{ratio:.2f}x** |" if name == "length-grouped" else "|"),
            flush=True,
        )


if __name__ == "__main__":
    main()
