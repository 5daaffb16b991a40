"""``distillery agree``: score one sample with two or more oracles and measure how far apart they are.

Each oracle is one ordinary ``distillery score`` run (:func:`distillery.oracle.run.score`) into
``<out>/oracle_<i>/``, all through one ledger (``<out>/ledger.jsonl`` unless ``--ledger``): a
re-run, or an oracle already asked about an article, costs nothing. The sample is the same for
every oracle (same inputs, ``--articles``, ``--seed``). Oracles are told apart by the ledger's key
(model and sampling parameters), so two presets resolving to the same model are refused.

``agreement.json`` reports, for every pair, MAE and Spearman per dimension and overall with
bootstrap CIs (articles resampled; :mod:`distillery.release.bootstrap`) and tier agreement (share
of articles in the same tier). That is the floor below which a student's error against one oracle
stops meaning much. ``--consensus FILE`` writes the mean or median labels of all oracles (with
each record's per-dimension spread, max - min, and every oracle's labels) in the data contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from distillery.data.records import read_records, write_jsonl
from distillery.errors import DistilleryError
from distillery.evaluate.floor import AGREEMENT
from distillery.filters.registry import load_filter
from distillery.oracle.options import OracleOptions
from distillery.oracle.run import ScoreOptions, score
from distillery.release.bootstrap import Interval, bootstrap, score_metrics


@dataclass
class AgreeOptions:
    filter: str
    oracles: list[str]  # presets or YAML paths, each optionally PRESET@MODEL
    out: str
    base: OracleOptions = field(default_factory=OracleOptions)  # the shared flags (timeouts, prices, ...)
    inputs: list[str] = field(default_factory=list)
    articles: int | None = None
    seed: int = 0
    filters_dir: list[str] = field(default_factory=list)
    consensus: str | None = None
    how: str = "mean"
    n_boot: int = 1000
    quiet: bool = True


def _oracle_options(base: OracleOptions, given: str, ledger: str) -> OracleOptions:
    preset, _, model = given.partition("@")
    return replace(base, preset=preset or None, model=model or base.model, ledger=ledger)


def agree(opts: AgreeOptions) -> dict[str, Any]:
    if len(opts.oracles) < 2:
        raise DistilleryError("agree needs two or more --oracle")
    spec = load_filter(opts.filter, opts.filters_dir)
    out = Path(opts.out)
    ledger = opts.base.ledger or str(out / "ledger.jsonl")
    models = []
    labelled: list[dict[str, dict]] = []
    for i, given in enumerate(opts.oracles):
        o = _oracle_options(opts.base, given, ledger)
        cfg, _ = o.resolve()
        key = (cfg.model, cfg.temperature)
        if key in [(m["model"], m["temperature"]) for m in models]:
            raise DistilleryError(
                f"--oracle {given!r} resolves to model {cfg.model!r} like an earlier one: the ledger would answer "
                "it from the first oracle's cache (give another model, e.g. PRESET@MODEL)"
            )
        models.append({"oracle": given, "model": cfg.model, "temperature": cfg.temperature})
        d = out / f"oracle_{i}"
        score(
            ScoreOptions(
                filter=opts.filter,
                filters_dir=opts.filters_dir,
                inputs=opts.inputs,
                articles=opts.articles,
                seed=opts.seed,
                out=str(d),
                oracle=o,
                quiet=opts.quiet,
            )
        )
        labelled.append({str(r["id"]): r for r in read_records([d / "labelled.jsonl"], spec).records})
    ids = [i for i in labelled[0] if all(i in lab for lab in labelled[1:])]
    if len(ids) < 2:
        raise DistilleryError(f"only {len(ids)} article(s) labelled by every oracle: nothing to compare")
    mats = [np.array([spec.labels_vector(lab[i]["labels"]) for i in ids]) for lab in labelled]
    metrics = {
        k: v for k, v in score_metrics(spec.dimension_names, [], [], 10.0).items() if k.startswith(("mae", "spearman"))
    }
    metrics["tier_agreement"] = (
        lambda p, t, wp, wt: (spec.tier_index(wp) == spec.tier_index(wt)).mean(-1),
        "tier_agreement",
    )
    pairs = []
    for a in range(len(mats)):
        for b in range(a + 1, len(mats)):
            table = bootstrap(metrics, spec.weighted_average, mats[a], [mats[b]], opts.n_boot, opts.seed)
            pairs.append(
                {
                    "a": models[a]["model"],
                    "b": models[b]["model"],
                    "metrics": {m: r["scorers"][0].as_dict() for m, r in table.items()},
                }
            )
    report = {
        "filter": spec.ref,
        "n": len(ids),
        "oracles": models,
        "pairs": pairs,
        "inter_oracle_mae": float(np.mean([p["metrics"]["mae"]["value"] for p in pairs])),
        "inter_oracle_mae_per_dimension": {
            d: float(np.mean([p["metrics"][f"mae/{d}"]["value"] for p in pairs])) for d in spec.dimension_names
        },
    }
    if opts.consensus:
        stack = np.stack(mats)
        cons = np.median(stack, 0) if opts.how == "median" else stack.mean(0)
        spread = stack.max(0) - stack.min(0)
        recs = []
        for j, i in enumerate(ids):
            first = labelled[0][i]
            art = {k: first[k] for k in ("id", "title", "content", "url", "source", "group") if k in first}
            recs.append(
                {
                    **art,
                    "labels": {d: round(float(v), 4) for d, v in zip(spec.dimension_names, cons[j])},
                    "oracle": f"consensus-{opts.how}(" + ",".join(m["model"] for m in models) + ")",
                    "filter": spec.name,
                    "filter_version": spec.version,
                    "oracle_spread": {d: round(float(v), 4) for d, v in zip(spec.dimension_names, spread[j])},
                    "oracle_labels": {m["model"]: lab[i]["labels"] for m, lab in zip(models, labelled)},
                }
            )
        report["consensus"] = str(write_jsonl(Path(opts.consensus), recs))
    out.mkdir(parents=True, exist_ok=True)
    (out / AGREEMENT).write_text(json.dumps(report, indent=2, allow_nan=False, default=_nan_safe) + "\n")
    report["file"] = str(out / AGREEMENT)
    return report


def _nan_safe(x: Any) -> Any:
    return x.as_dict() if isinstance(x, Interval) else None


def print_agreement(report: dict[str, Any]) -> None:
    for p in report["pairs"]:
        m = p["metrics"]
        print(
            f"{p['a']} vs {p['b']} on {report['n']} articles: MAE {m['mae']['value']:.3f} "
            f"[{m['mae']['low']:.3f}, {m['mae']['high']:.3f}], Spearman {m['spearman']['value']:.3f}, "
            f"tier agreement {m['tier_agreement']['value']:.3f}"
        )
    print(f"wrote {report['file']}" + (f" and {report['consensus']}" if "consensus" in report else ""))
