"""CLI verbs for filters: ``filters`` (list) and ``validate-filter``."""

from __future__ import annotations

import argparse

from distillery.errors import DistilleryError
from distillery.filters.registry import find_filter, list_filters, load_filter


def add_filters_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--filters-dir", action="append", default=[], metavar="DIR",
                   help="extra folder of filters (searched before the shipped ones; repeatable)")


class list_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        add_filters_dir(p)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        for ref in list_filters(args.filters_dir):
            spec = load_filter(ref, args.filters_dir)
            dims = ", ".join(f"{d.name} {d.weight:g}" for d in spec.dimensions)
            print(f"{ref:34s} {len(spec.dimensions)} dims: {dims}")
        return 0


class validate_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("filter", nargs="+", help="filter ref (name/vN) or path to a spec folder/file")
        add_filters_dir(p)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        failed = 0
        for ref in args.filter:
            try:
                spec = load_filter(ref, args.filters_dir)
            except DistilleryError as e:
                failed += 1
                print(f"FAIL {ref}: {e}")
                continue
            print(f"ok   {spec.ref} ({find_filter(ref, args.filters_dir)}): "
                  f"{len(spec.dimensions)} dimensions, tiers {spec.tier_names}")
        return 1 if failed else 0
