"""The static site: registry rows -> one self-contained ``index.html`` (no server, no network).

The page embeds plotly.js from the ``plotly`` package (inlined, never a CDN), the rows as JSON,
and a small script (``assets/dashboard.js``) that draws every panel for the selected filter and
dimension. Links to run dirs are relative to the site folder when they can be (so the outputs
folder can be moved or served), else ``file://`` URIs; W&B links go to the local run folder
(offline runs: sync it with ``wandb sync``) or to wandb.ai for online runs with a known entity.
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

ASSETS = Path(__file__).with_name("assets")
NO_FILTER = "(no filter)"
SITE_MARKER = "distillery-dashboard"


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


def public_row(r: dict[str, Any], site_dir: Path) -> dict[str, Any]:
    """What the page needs of a row, with links resolved against the site folder."""
    out = {k: v for k, v in r.items() if k not in ("ledger", "wandb", "command")}
    out["filter"] = r.get("filter") or NO_FILTER
    out["href"] = href(r.get("path"), site_dir)
    out["wandb"] = _wandb_link(r.get("wandb"), site_dir)
    if r.get("kind") == "sweep":
        out["jobs"] = [{**j, "href": href(j.get("path"), site_dir)} for j in r.get("jobs") or []]
        out["files"] = {k: href(v, site_dir) for k, v in (r.get("files") or {}).items()}
    if r.get("kind") == "export":
        out["source_href"] = href(r.get("source_run"), site_dir)
    if r.get("kind") in ("evaluate", "ensemble") and r.get("target"):
        out["target_href"] = href(r.get("target"), site_dir)
    if r.get("kind") == "score":
        out["ledger_path"] = (r.get("ledger") or {}).get("path")
    return out


def costs(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oracle usage per month, filter and model from every ledger (each ledger counted once)."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for r in rows:
        led = r.get("ledger") if r.get("kind") == "score" else None
        if not led or not led.get("path"):
            continue
        key = str(Path(led["path"]).resolve())
        if key in seen:
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
    filters: dict[str, dict[str, Any]] = {}
    for r in rows:
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
        "runs": [public_row(r, site_dir) for r in rows],
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


def _clean(x: Any) -> Any:
    """NaN/inf -> None everywhere (the page's JSON must be strict)."""
    if isinstance(x, float):
        return x if x == x and x not in (float("inf"), float("-inf")) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def write_site(rows: list[dict[str, Any]], site_dir: Path, roots: list[Path], db_path: Path | None = None) -> Path:
    """Write ``<site_dir>/index.html`` (atomically) and return its path."""
    site_dir = Path(site_dir)
    site_dir.mkdir(parents=True, exist_ok=True)
    data = _clean(payload(rows, site_dir, roots, db_path))
    html = render_html(data)
    path = site_dir / "index.html"
    tmp = site_dir / ".index.html.tmp"
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
