"""``distillery dashboard``: update the run registry, write the static site, optionally serve it."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from distillery.dashboard.browser import screenshot
from distillery.dashboard.registry import Registry, default_outputs
from distillery.dashboard.site import write_site
from distillery.errors import DistilleryError


def build(outputs: Path, scan: list[Path], site_dir: Path, db: Path, full: bool = False):
    """Update the registry and write ``<site_dir>/index.html``. Returns (index path, UpdateStats)."""
    roots = [outputs, *scan]
    with Registry(db, roots, skip=[site_dir]) as reg:
        stats = reg.update(full=full)
        rows = reg.rows()
    return write_site(rows, site_dir, roots, db), stats


def serve(root: Path, page: str, port: int, rebuild) -> None:
    """Serve ``root`` on 127.0.0.1 (only); requesting the page rebuilds it first (incremental)."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    lock = threading.Lock()

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.split("?")[0] in ("/", f"/{page}"):
                if self.path.split("?")[0] == "/":
                    self.send_response(302)
                    self.send_header("Location", f"/{page}")
                    self.end_headers()
                    return
                with lock:
                    try:
                        rebuild()
                    except Exception as e:  # noqa: BLE001 - keep serving the last good page
                        print(f"rebuild failed: {e}", file=sys.stderr)
            super().do_GET()

        def log_message(self, fmt: str, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=str(root)))
    print(f"serving {root} on http://127.0.0.1:{httpd.server_address[1]}/{page}  (Ctrl-C to stop)", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


class dashboard_cmd:
    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--outputs",
            type=Path,
            metavar="DIR",
            help="the outputs folder to index (default $DISTILLERY_OUTPUTS, else outputs)",
        )
        p.add_argument(
            "--scan",
            type=Path,
            action="append",
            default=[],
            metavar="DIR",
            help="another folder with run dirs, e.g. exports/ or a --out of distillery score (repeatable)",
        )
        p.add_argument(
            "--out",
            type=Path,
            metavar="DIR",
            help="site folder: index.html and registry.json, the page's data (default <outputs>/dashboard)",
        )
        p.add_argument("--db", type=Path, metavar="FILE", help="registry (default <outputs>/dashboard/registry.sqlite)")
        p.add_argument("--full", action="store_true", help="re-read every run dir, not only the changed ones")
        p.add_argument(
            "--serve", action="store_true", help="serve the site on http://127.0.0.1:PORT (rebuilt on reload)"
        )
        p.add_argument("--port", type=int, default=8765, help="port for --serve (0: any free port; default 8765)")
        p.add_argument("--screenshot", type=Path, metavar="PNG", help="also save a headless-Chromium screenshot")
        p.add_argument("--size", default="1440x2400", metavar="WxH", help="screenshot size (default 1440x2400)")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        outputs = (args.outputs or default_outputs()).resolve()
        if not outputs.is_dir() and not args.scan:
            raise DistilleryError(
                f"{outputs}: no such folder (nothing to index; run something first or give --outputs)"
            )
        site_dir = (args.out or outputs / "dashboard").resolve()
        db = (args.db or site_dir / "registry.sqlite").resolve()
        scan = [s.resolve() for s in args.scan]
        for s in scan:
            if not s.is_dir():
                raise DistilleryError(f"--scan {s}: no such folder")
        index, stats = build(outputs, scan, site_dir, db, full=args.full)
        print(f"registry {db}: {stats}")
        print(f"dashboard: {index}  (open it in a browser; no server needed)")
        if args.screenshot:
            w, _, h = args.size.partition("x")
            print(f"screenshot: {screenshot(index, args.screenshot, int(w), int(h))}")
        if args.serve:
            root = outputs if site_dir.is_relative_to(outputs) else site_dir
            page = site_dir.relative_to(root).joinpath("index.html").as_posix()
            serve(root, page, args.port, lambda: build(outputs, scan, site_dir, db))
        return 0
