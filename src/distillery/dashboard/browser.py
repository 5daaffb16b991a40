"""Headless Chromium for the dashboard: find the browser, the flags it needs here, screenshots.

Debian's ``chromium`` + ``chromium-driver`` (``.ci/install-browser.sh``). Run as root and with no
network, Chromium needs ``--no-sandbox`` and must be kept from phoning home (background
networking, component updates, sync, QUIC), and each run gets a fresh profile dir.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from distillery.errors import DistilleryError

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider",
)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver")
INSTALL_HINT = "install it with .ci/install-browser.sh (apt-get install -y chromium chromium-driver)"


def find_chromium() -> str | None:
    """``$DISTILLERY_CHROMIUM`` or the first Chromium/Chrome on PATH."""
    env = os.environ.get("DISTILLERY_CHROMIUM")
    if env:
        return env if Path(env).is_file() else shutil.which(env)
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def find_chromedriver() -> str | None:
    env = os.environ.get("DISTILLERY_CHROMEDRIVER")
    if env:
        return env if Path(env).is_file() else shutil.which(env)
    for d in DRIVERS:
        p = shutil.which(d) if "/" not in d else (d if Path(d).is_file() else None)
        if p:
            return p
    return None


def flags(user_data_dir: str | Path, width: int = 1440, height: int = 2400) -> list[str]:
    return [*FLAGS, f"--user-data-dir={user_data_dir}", f"--window-size={width},{height}"]


def screenshot(html: Path, png: Path, width: int = 1440, height: int = 2400, timeout: float = 120) -> Path:
    """Open ``html`` in headless Chromium and save a ``width`` x ``height`` screenshot as ``png``."""
    exe = find_chromium()
    if not exe:
        raise DistilleryError(f"no Chromium found: {INSTALL_HINT}")
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="distillery-chromium-") as profile:
        cmd = [
            exe,
            *flags(profile, width, height),
            "--virtual-time-budget=8000",
            f"--screenshot={png}",
            Path(html).resolve().as_uri(),
        ]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0 or not png.is_file():
        raise DistilleryError(f"chromium screenshot failed (exit {r.returncode}): {r.stderr.strip()[-600:]}")
    return png
