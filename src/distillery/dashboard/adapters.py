"""One adapter per run kind: which dirs it claims, which files it watches, how it reads a dir.

An adapter (:class:`~distillery.dashboard.common.Adapter`) is three small functions and a version:

``claims(dir) -> bool``              from file *names* only (cheap: runs on every scan)
``watched(dir, prev) -> [paths]``     the files whose (mtime, size) make the dir's fingerprint;
                                      ``prev`` is the row read last time (or None)
``read(dir, prev) -> row``            a JSON-able dict; every row has ``kind``, ``name``,
                                      ``started`` (local time, ISO), ``status`` and ``filter``

A row that belongs to several filters (a multi-head run) has ``filter: None``, ``filters`` and
``per_filter: {ref: {key: value}}``: the page lists it once under each filter, with that filter's
values (site.py ``by_filter``). A row may ask to be read again at a time (``recheck_at``).

The registry re-reads a dir only when its fingerprint (the watched files' stats plus the
adapter's ``version``) changed; bump ``version`` when ``read`` changes what it returns.
A dir no adapter claims is not a run (the walk goes on into it); a dir that looks like a run
(``<outputs>/<task>/runs/<dir>`` or a ``run.json``) but of a kind nobody knows is read by the
``other`` adapter, so a new kind shows up in the runs table before it has an adapter.

Kinds and where they live (see docs/dashboard.md):

train, evaluate, other   runs.py     run dirs, read through ``RunDir``
sweep                    sweeps.py   Hydra multirun dirs (multirun.yaml, compare.*, job dirs)
export                   exports.py  export dirs, read through ``ExportDir`` / ``Manifest``; a hybrid
                                     dir (tune-hybrid) is one export with its two stages as parts
score                    oracle.py   ``distillery score`` dirs (summary.json, the ledger, ...)
synthesize               oracle.py   ``distillery synthesize`` folders (<stem>.report.json, the ledger)
gate                     gates.py    ``distillery gate`` dirs (gate.json + report.md)

This module is the public surface the registry uses: :data:`ADAPTERS` (in claim order: the first
that claims a dir reads it), :data:`BY_KIND` and :func:`adapter_for`.
"""

from __future__ import annotations

from pathlib import Path

from distillery.dashboard.common import Adapter
from distillery.dashboard.exports import EXPORT
from distillery.dashboard.gates import GATE
from distillery.dashboard.oracle import SCORE, SYNTHESIZE
from distillery.dashboard.runs import EVALUATE, OTHER, TRAIN
from distillery.dashboard.sweeps import SWEEP

ADAPTERS: tuple[Adapter, ...] = (SCORE, SYNTHESIZE, EXPORT, GATE, SWEEP, EVALUATE, TRAIN, OTHER)
BY_KIND = {a.kind: a for a in ADAPTERS}


def adapter_for(d: Path) -> Adapter | None:
    for a in ADAPTERS:
        try:
            if a.claims(d):
                return a
        except OSError:
            continue
    return None


__all__ = ["ADAPTERS", "BY_KIND", "Adapter", "adapter_for"]
