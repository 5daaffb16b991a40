"""The static site: registry rows -> one self-contained ``index.html`` (no server, no network).

The page embeds plotly.js from the ``plotly`` package (inlined, never a CDN), the rows as JSON,
and a small script (``assets/dashboard.js``) that draws every panel for the selected filter and
dimension. Links to run dirs are relative to the site folder when they can be (so the outputs
folder can be moved or served), else ``file://`` URIs; W&B links go to the local run folder
(offline runs: sync it with ``wandb sync``) or to wandb.ai for online runs with a known entity.

Written atomically (distillery.runtime.atomic): ``index.html`` and ``registry.json`` (the page's
data as strict JSON: every run row as the page shows it, the filters, the oracle costs), so a crash
leaves the previous complete files, never half-written ones.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from distillery.dashboard.common import BIN_WIDTH, N_BINS
from distillery.errors import DistilleryError
from distillery.filters.registry import load_filter
from distillery.runtime import atomic

ASSETS = Path(__file__).with_name("assets")
NO_FILTER = "(no filter)"
SITE_MARKER = "distillery-dashboard"
INDEX = "index.html"
REGISTRY_JSON = "registry.json"


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.min.js as shipped inside the ``plotly`` PyPI package (offline)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as e:  # pragma: no cover - plotly is a dependency
        raise DistilleryError("the dashboard needs the `plotly` package: pip install plotly") from e
    return get_plotlyjs()


def href(path: str | Path | None, site_dir: Path) -> str | None:
    """A link from the site folder to ``path``: relative when possible, else a file:// URI."""
    if not path:
        return None
    p = Path(path)
    if not p.is_absolute():
        p = p.resolve()
    try:
        rel = os.path.relpath(p, site_dir.resolve())
    except ValueError:  # another drive (Windows)
        return p.as_uri()
    link = quote(rel.replace(os.sep, "/"))
    return link + "/" if p.is_dir() and not link.endswith("/") else link


def _filter_info(ref: str) -> dict[str, Any] | None:
    """Dimension order/weights and tiers from the filter spec, when the spec can be loaded."""
    try:
        spec = load_filter(ref, [])
    except Exception:  # noqa: BLE001 - a filter from a folder we were not told about: use the rows
        return None
    return {
        "dims": list(spec.dimension_names),
        "weights": {d.name: d.weight for d in spec.dimensions},
        "tiers": list(spec.tier_names),
    }


def _wandb_link(w: dict | None, site_dir: Path) -> dict | None:
    if not w:
        return None
    return {
        "id": w.get("id"),
        "mode": w.get("mode"),
        "href": w.get("url") or href(w.get("dir"), site_dir),
        "sync": w.get("sync"),
        "group": w.get("group"),
    }


def by_filter(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as the page lists them: a row of several filters (``per_filter``, e.g. a multi-head
    run) once under each of its filters, with that filter's values (its head's metrics)."""
    out = []
    for r in rows:
        per = r.get("per_filter")
        if not per:
            out.append(r)
            continue
        base = {k: v for k, v in r.items() if k != "per_filter"}
        out += [{**base, **values, "filter": ref} for ref, values in per.items()]
    return out


def public_row(r: dict[str, Any], site_dir: Path) -> dict[str, Any]:
    """What the page needs of a row, with links resolved against the site folder."""
    out = {k: v for k, v in r.items() if k not in ("ledger", "ledgers", "wandb", "command")}
    out["filter"] = r.get("filter") or NO_FILTER
    out["href"] = href(r.get("path"), site_dir)
    out["wandb"] = _wandb_link(r.get("wandb"), site_dir)
    if r.get("kind") == "sweep":
        out["jobs"] = [{**j, "href": href(j.get("path"), site_dir)} for j in r.get("jobs") or []]
        out["files"] = {k: href(v, site_dir) for k, v in (r.get("files") or {}).items()}
    if r.get("kind") == "export":
        out["source_href"] = href(r.get("source_run"), site_dir)
        out["stages"] = [public_row(st, site_dir) for st in r.get("stages") or []]  # a hybrid's parts
    if r.get("kind") in ("evaluate", "ensemble") and r.get("target"):
        out["target_href"] = href(r.get("target"), site_dir)
    if r.get("kind") == "score":
        out["ledger_path"] = (r.get("ledger") or {}).get("path")
    return out


def ledgers_of(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The oracle ledgers a row read: a score run's one, a synthesize folder's ones."""
    leds = r.get("ledgers") or ([r["ledger"]] if r.get("kind") == "score" and r.get("ledger") else [])
    return [led for led in leds if isinstance(led, dict) and led.get("path")]


def costs(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oracle usage per month, filter and model from every ledger (each ledger counted once)."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for led in (led for r in rows for led in ledgers_of(r)):
        key = str(Path(led["path"]).resolve())
        if key in seen:  # a ledger shared by several runs (--ledger, synthesize --rescore) counts once
            continue
        seen.add(key)
        for k, a in (led.get("months") or {}).items():
            month, filt, model = (k.split("|", 2) + ["?", "?"])[:3]
            out.append({"month": month, "filter": filt, "model": model, "ledger": led["path"], **a})
    out.sort(key=lambda x: (x["month"], x["filter"], x["model"]))
    return out


def payload(
    rows: list[dict[str, Any]], site_dir: Path, roots: list[Path], db_path: Path | None = None
) -> dict[str, Any]:
    shown = by_filter(rows)
    filters: dict[str, dict[str, Any]] = {}
    for r in shown:
        f = r.get("filter") or NO_FILTER
        info = filters.setdefault(f, {"runs": 0, "dims": []})
        info["runs"] += 1
        for d in r.get("dims") or []:
            if d not in info["dims"]:
                info["dims"].append(d)
    for f, info in filters.items():
        spec = _filter_info(f) if f != NO_FILTER else None
        if spec:
            info.update(spec)
    order = sorted(filters, key=lambda f: (f == NO_FILTER, -filters[f]["runs"], f))
    return {
        "marker": SITE_MARKER,
        "generated": _dt.datetime.now().isoformat(timespec="seconds"),
        "roots": [str(r) for r in roots],
        "registry": str(db_path) if db_path else None,
        "filters": order,
        "filter_info": filters,
        "bins": {"width": BIN_WIDTH, "n": N_BINS},
        "runs": [public_row(r, site_dir) for r in shown],
        "costs": costs(rows),
    }


def _json_for_script(data: Any) -> str:
    """JSON that is safe inside a <script> element (no '</script>' or '<!--' can appear)."""
    text = json.dumps(data, separators=(",", ":"), default=str, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(data: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ASSETS)), autoescape=True, undefined=jinja2.StrictUndefined
    )
    tpl = env.get_template("index.html.j2")
    return tpl.render(
        title="distillery dashboard",
        generated=data["generated"],
        css=(ASSETS / "dashboard.css").read_text(encoding="utf-8"),
        app_js=(ASSETS / "dashboard.js").read_text(encoding="utf-8"),
        plotly_js=plotly_js(),
        data_json=_json_for_script(data),
    )


def write_site(rows: list[dict[str, Any]], site_dir: Path, roots: list[Path], db_path: Path | None = None) -> Path:
    """Write ``<site_dir>/registry.json`` and ``<site_dir>/index.html`` (each atomically: the old
    complete file stays until the new one is complete) and return the page's path."""
    site_dir = Path(site_dir)
    data = atomic.strict_json(payload(rows, site_dir, roots, db_path))  # strict: NaN -> null (+ reason)
    html = render_html(data)  # before anything is written: a failed render leaves both old files
    atomic.write_json(site_dir / REGISTRY_JSON, data)
    return atomic.write_text(site_dir / INDEX, html)
