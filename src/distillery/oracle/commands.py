"""CLI verbs for oracle labelling: ``score``, ``prepare`` and ``synthesize``."""

from __future__ import annotations

import argparse

from distillery.errors import DistilleryError
from distillery.filters.commands import add_filters_dir
from distillery.filters.registry import load_filter
from distillery.oracle.options import OracleOptions
from distillery.oracle.prepare import prepare, print_stats
from distillery.oracle.run import ScoreOptions, score
from distillery.oracle.synthesize import SynthOptions, parse_target, synthesize


def _csv_floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def add_oracle_arguments(p: argparse.ArgumentParser) -> None:
    """The oracle flags of ``score`` (also ``synthesize`` and ``active-learn``); read back with
    :func:`oracle_options`."""
    o = p.add_argument_group("the oracle (defaults: conf/oracle/default.yaml)")
    o.add_argument("--oracle", dest="preset", metavar="PRESET", help="provider preset in conf/oracle/ or a YAML path")
    o.add_argument("--model")
    o.add_argument("--base-url", help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL, else OpenAI)")
    o.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the API key")
    o.add_argument("--temperature", type=float)
    o.add_argument("--max-tokens", dest="max_answer_tokens", type=int, help="cap on the oracle's answer (tokens)")
    o.add_argument("--response-format", choices=["auto", "json_schema", "json_object", "none"])
    o.add_argument("--concurrency", type=int, help="requests in flight at most")
    o.add_argument("--rpm", type=float, help="requests per minute")
    o.add_argument("--tpm", type=float, help="tokens per minute")
    o.add_argument("--timeout", type=float, help="seconds per attempt")
    o.add_argument("--max-retries", type=int, help="SDK retries on timeouts, 429 and 5xx")
    o.add_argument("--price-in", type=float, metavar="USD", help="USD per 1M prompt tokens")
    o.add_argument("--price-out", type=float, metavar="USD", help="USD per 1M completion tokens")
    o.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any oracle config key, e.g. --set extra_body.think=false",
    )


def oracle_options(args: argparse.Namespace) -> OracleOptions:
    """The oracle settings given on the command line (None: not given), with the run-control
    flags a command may have (``--max-cost``, ``--ledger``, ``--ignore-cache``, ``--retry-failed``,
    ``--poll-interval``)."""
    return OracleOptions(
        preset=args.preset,
        model=args.model,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        temperature=args.temperature,
        max_answer_tokens=args.max_answer_tokens,
        response_format=args.response_format,
        concurrency=args.concurrency,
        requests_per_minute=args.rpm,
        tokens_per_minute=args.tpm,
        timeout_s=args.timeout,
        max_retries=args.max_retries,
        price_in=args.price_in,
        price_out=args.price_out,
        poll_interval_s=getattr(args, "poll_interval", None),
        overrides=list(args.overrides),
        max_cost=getattr(args, "max_cost", None),
        ledger=None if getattr(args, "ledger", None) is None else str(args.ledger),
        ignore_cache=getattr(args, "ignore_cache", False),
        retry_failed=getattr(args, "retry_failed", False),
    )


class score_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.epilog = (
            (p.epilog or "")
            + """
  distillery score --filter uplifting/v6 --input news.jsonl --articles 500 --max-cost 2
  distillery score --filter belonging/v1 --dry-run               # render one prompt, estimate cost
  distillery score --filter belonging/v1 --oracle deepseek --articles 200
  OPENAI_BASE_URL=http://127.0.0.1:8000/v1 distillery score --filter belonging/v1 --model Qwen/Qwen2.5-7B-Instruct
  distillery score --filter belonging/v1 --articles 20000 --batch   # OpenAI Batch API, 50% cheaper
  distillery score --filter belonging/v1 --audit-blocked 50         # measure the prefilter's misses

Presets: conf/oracle/{openai,gemini,deepseek,vllm,ollama,llamacpp}.yaml. The API key is read
from $OPENAI_API_KEY (or the preset's api_key_env) and never written anywhere."""
        )
        g = p.add_argument_group("what to score")
        g.add_argument("--filter", required=True, help="filter ref (name/vN) or spec path")
        g.add_argument(
            "--input",
            action="append",
            default=[],
            metavar="JSONL",
            help="article JSONL file(s) (default: the filter's synthetic corpus)",
        )
        g.add_argument("--articles", type=int, metavar="N", help="sample N articles (seeded; synthetic default 100)")
        g.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
        g.add_argument("--skip-invalid", action="store_true", help="skip and report bad input lines")
        g.add_argument(
            "--audit-blocked",
            type=int,
            default=0,
            metavar="N",
            help="also send N blocked articles to measure the prefilter's false negatives",
        )
        add_filters_dir(p)
        add_oracle_arguments(p)
        r = p.add_argument_group("run control")
        r.add_argument("--out", metavar="DIR", help="output folder (default outputs/oracle/<name>_v<N>)")
        r.add_argument("--ledger", metavar="FILE", help="ledger file (default <out>/ledger.jsonl)")
        r.add_argument("--max-cost", type=float, metavar="USD", help="stop cleanly before spending more")
        r.add_argument("--dry-run", action="store_true", help="render one prompt, show the estimate, send nothing")
        r.add_argument("--ignore-cache", action="store_true", help="ask again even when the ledger has an answer")
        r.add_argument("--retry-failed", action="store_true", help="re-ask articles that were given up as invalid")
        r.add_argument("--batch", action="store_true", help="use the OpenAI Batch API (resumable)")
        r.add_argument("--batch-id", help="resume/collect this batch")
        r.add_argument("--poll-interval", type=float, metavar="S", help="seconds between batch polls")
        r.add_argument("--quiet", action="store_true", help="no progress bar or tables")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        return score(
            ScoreOptions(
                filter=args.filter,
                filters_dir=args.filters_dir,
                inputs=args.input,
                articles=args.articles,
                seed=args.seed,
                out=args.out,
                oracle=oracle_options(args),
                dry_run=args.dry_run,
                audit_blocked=args.audit_blocked,
                batch=args.batch or bool(args.batch_id),
                batch_id=args.batch_id,
                quiet=args.quiet,
                skip_invalid=args.skip_invalid,
            )
        )


class prepare_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("inputs", nargs="+", metavar="JSONL", help="labelled JSONL file(s) (e.g. labelled.jsonl)")
        p.add_argument("--filter", required=True, help="filter ref (name/vN) the labels belong to")
        p.add_argument("--out", required=True, metavar="DIR", help="folder for train/val/test.jsonl and stats.json")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument(
            "--split",
            type=_csv_floats,
            default=[0.8, 0.1, 0.1],
            metavar="TRAIN,VAL,TEST",
            help="fractions (default 0.8,0.1,0.1)",
        )
        p.add_argument("--skip-invalid", action="store_true", help="skip and report invalid lines")
        p.add_argument(
            "--synthetic-in-eval",
            action="store_true",
            help='also split records tagged "synthetic" into val/test (default: train only)',
        )
        p.add_argument(
            "--holdout",
            type=float,
            metavar="N|FRACTION",
            help="first carve out a held-out set (N records or a fraction) as holdout.jsonl: whole groups and "
            "near-duplicate clusters, never read by training; judge releases on it with `distillery gate`",
        )
        add_filters_dir(p)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        spec = load_filter(args.filter, args.filters_dir)
        if len(args.split) != 3 or abs(sum(args.split) - 1) > 1e-6 or min(args.split) < 0:
            raise DistilleryError(f"--split needs three non-negative fractions summing to 1, got {args.split}")
        print_stats(
            prepare(
                spec,
                args.inputs,
                args.out,
                args.seed,
                args.split,
                args.skip_invalid,
                args.synthetic_in_eval,
                holdout=args.holdout,
            )
        )
        return 0


class synthesize_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.epilog = (
            (p.epilog or "")
            + """
  distillery synthesize --filter uplifting/v6 --n 50 --tier high --out synth.jsonl --rescore
  distillery synthesize --filter uplifting/v6 --n 5 --target evidence_level=9,human_wellbeing_impact=8 --dry-run
  distillery synthesize --filter belonging/v1 --n 200 --tier high --oracle deepseek --max-cost 1

Records are tagged "synthetic" (prompt sha, target) and go to train only in `prepare` and
data=jsonl (data.synthetic_in_eval=true / prepare --synthetic-in-eval to change that)."""
        )
        g = p.add_argument_group("what to write")
        g.add_argument("--filter", required=True, help="filter ref (name/vN) or spec path")
        g.add_argument("--n", type=int, default=10, help="articles to write (default 10)")
        g.add_argument("--tier", help="tier the targets' final score must fall in (e.g. high)")
        g.add_argument(
            "--target", metavar="DIM=SCORE,...", help="fix target scores of some or all dimensions (the rest are drawn)"
        )
        g.add_argument("--seed", type=int, default=0, help="seed of the targets and subjects (default 0)")
        g.add_argument("--content-type", help="the form asked for (default news_report)")
        g.add_argument("--template", metavar="J2", help="generation prompt template (default: the packaged one)")
        add_filters_dir(p)
        add_oracle_arguments(p)
        r = p.add_argument_group("run control")
        r.add_argument("--out", metavar="JSONL", help="output records (default outputs/synthesize/<name>_v<N>/...)")
        r.add_argument("--ledger", metavar="FILE", help="ledger file (default <out stem>.ledger.jsonl)")
        r.add_argument(
            "--rescore",
            action="store_true",
            help="score the articles with the oracle; labels = re-scored; MAE report vs targets",
        )
        r.add_argument("--max-cost", type=float, metavar="USD", help="stop cleanly before spending more (both steps)")
        r.add_argument("--dry-run", action="store_true", help="render one prompt, show the estimate, send nothing")
        r.add_argument("--ignore-cache", action="store_true", help="ask again even when the ledger has an answer")
        r.add_argument("--retry-failed", action="store_true", help="re-ask targets that were given up as invalid")
        r.add_argument("--quiet", action="store_true", help="no progress bar or tables")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        target = parse_target(args.target, load_filter(args.filter, args.filters_dir)) if args.target else {}
        return synthesize(
            SynthOptions(
                filter=args.filter,
                n=args.n,
                tier=args.tier,
                target=target,
                seed=args.seed,
                content_type=args.content_type,
                template=args.template,
                filters_dir=args.filters_dir,
                out=args.out,
                oracle=oracle_options(args),
                rescore=args.rescore,
                dry_run=args.dry_run,
                quiet=args.quiet,
            )
        )


class agree_cmd:
    """``distillery agree``: the same sample through two or more oracles (one ledger); agreement.json."""

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--filter", required=True)
        p.add_argument("--input", action="append", default=[], metavar="JSONL", help="articles (default: synthetic)")
        p.add_argument("--articles", type=int, metavar="N")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--out", required=True, metavar="DIR", help="oracle_<i>/ runs, ledger.jsonl, agreement.json")
        p.add_argument("--consensus", metavar="JSONL", help="write consensus labels (training data contract)")
        p.add_argument("--how", choices=["mean", "median"], default="mean")
        p.add_argument("--ledger", metavar="FILE")
        p.add_argument("--max-cost", type=float, metavar="USD", help="ceiling per oracle run")
        add_filters_dir(p)
        add_oracle_arguments(p)
        for a in p._actions:  # --oracle is repeated here: PRESET or YAML path, optionally PRESET@MODEL
            if a.dest == "preset":
                a.default, a.help = [], "oracle preset / YAML path (optionally @MODEL), twice or more"
                a.__class__ = argparse._AppendAction

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from distillery.oracle.agree import AgreeOptions, agree, print_agreement

        presets = list(args.preset)
        args.preset = None
        print_agreement(
            agree(
                AgreeOptions(
                    filter=args.filter,
                    oracles=presets,
                    out=args.out,
                    base=oracle_options(args),
                    inputs=args.input,
                    articles=args.articles,
                    seed=args.seed,
                    filters_dir=args.filters_dir,
                    consensus=args.consensus,
                    how=args.how,
                )
            )
        )
        return 0
