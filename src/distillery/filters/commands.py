"""CLI verbs for filters: ``filters`` (list), ``validate-filter`` and ``new-filter``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from distillery.errors import DistilleryError
from distillery.filters.registry import find_filter, list_filters, load_filter


def add_filters_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--filters-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="extra folder of filters (searched before the shipped ones; repeatable)",
    )


class list_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        add_filters_dir(p)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        """Every filter that loads is listed; each broken one is one ``error:`` line on stderr (its
        file:line: key problems) and the exit status is 1, so scripts notice a filter that cannot be used."""
        broken = 0
        for ref in list_filters(args.filters_dir):
            try:
                spec = load_filter(ref, args.filters_dir)
            except DistilleryError as e:
                broken += 1
                print(f"error: {ref}: " + "; ".join(spec_problems(e)), file=sys.stderr)
                continue
            dims = ", ".join(f"{d.name} {d.weight:g}" for d in spec.dimensions)
            print(f"{ref:34s} {len(spec.dimensions)} dims: {dims}")
        if broken:
            extra = "".join(f" --filters-dir {d}" for d in args.filters_dir)
            print(f"{broken} filter(s) did not load; details: `distillery validate-filter REF{extra}`", file=sys.stderr)
        return 1 if broken else 0


def spec_problems(e: DistilleryError) -> list[str]:
    """The problems of a spec that did not load, one string each (its message's indented lines)."""
    return [line.strip() for line in str(e).splitlines()[1:] if line.strip()] or [str(e)]


class validate_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("filter", nargs="+", help="filter ref (name/vN) or path to a spec folder/file")
        add_filters_dir(p)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        failed = 0
        for ref in args.filter:
            problems = filter_problems(ref, args.filters_dir)
            if problems:
                failed += 1
                print(f"FAIL {ref}: {len(problems)} problem(s)\n  " + "\n  ".join(problems))
                continue
            spec = load_filter(ref, args.filters_dir)
            todos = sum(
                p.read_text(encoding="utf-8").count("TODO")
                for p in (spec.path, spec.prompt_path)
                if p is not None and p.is_file()
            )
            note = f"; {todos} TODO(s) left to edit" if todos else ""
            print(
                f"ok   {spec.ref} ({find_filter(ref, args.filters_dir)}): "
                f"{len(spec.dimensions)} dimensions, tiers {spec.tier_names}, "
                f"{len(spec.prefilter.exclusions)} prefilter families, prompt {spec.oracle.prompt} renders{note}"
            )
        return 1 if failed else 0


def filter_problems(ref: str, dirs: list[str]) -> list[str]:
    """Every problem with a filter: the spec (all at once, with file:line: key), its prompt
    template (syntax, unknown variables, rendering) and its prefilter regexes. The template's
    syntax is checked even when the spec itself is broken."""
    from distillery.filters.prompt import template_problems, template_syntax_problems

    try:
        path = find_filter(ref, dirs)
    except DistilleryError as e:
        return [str(e)]
    try:
        spec = load_filter(ref, dirs)
    except DistilleryError as e:
        problems = spec_problems(e)
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            prompt = ((raw.get("oracle") or {}).get("prompt") if isinstance(raw, dict) else None) or "prompt.md"
        except (yaml.YAMLError, AttributeError, UnicodeDecodeError, OSError):
            prompt = "prompt.md"
        template = Path(path).parent / str(prompt)
        if template.is_file():
            problems += template_syntax_problems(template)
        return problems
    return template_problems(spec)


class new_filter_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", required=True, help="snake_case filter name")
        p.add_argument(
            "--dimensions",
            default="6",
            metavar="N|a,b,c",
            help="number of dimensions, or their names comma-separated (default 6)",
        )
        p.add_argument("--version", type=int, default=1, help="version number (default 1)")
        p.add_argument(
            "--out",
            metavar="DIR",
            help="filters folder to write into (default: the project's filters/; "
            "the Hydra pointer conf/filter/<name>/v<N>.yaml is written only there)",
        )
        p.add_argument("--force", action="store_true", help="overwrite an existing folder")
        p.epilog = (
            (p.epilog or "")
            + """
  distillery new-filter --name belonging --dimensions community_connection,inclusion,agency
  distillery new-filter --name my_filter --out ~/my-filters && distillery filters --filters-dir ~/my-filters"""
        )

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from distillery.filters.registry import load_cached
        from distillery.filters.scaffold import parse_dimensions, scaffold

        dims = parse_dimensions(args.dimensions)
        written = scaffold(args.name, dims, args.version, Path(args.out) if args.out else None, args.force)
        load_cached.cache_clear()
        spec_path = written[0]
        problems = filter_problems(str(spec_path), [])
        if problems:  # pragma: no cover - the scaffold is tested to validate
            raise DistilleryError("the scaffold does not validate:\n  " + "\n  ".join(problems))
        ref = f"{spec_path.parent.parent.name}/{spec_path.parent.name}"
        print(f"created {ref}:")
        for path in written:
            print(f"  {path}")
        extra = f" --filters-dir {args.out}" if args.out else ""
        print(
            f"next: edit the TODOs, then `distillery validate-filter {ref}{extra}` and "
            f"`distillery score --filter {ref}{extra} --dry-run`"
        )
        return 0
