#!/usr/bin/env bash
# Headless Chromium + its WebDriver for the dashboard's browser test (tests/test_dashboard.py),
# from Debian's packages. Idempotent: does nothing when both are already installed. Without them
# the browser test is skipped (with the reason), never failed.
#   bash .ci/install-browser.sh
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "browser: $(chromium --version 2>/dev/null || echo chromium) + $(chromedriver --version 2>/dev/null | head -1 || echo chromedriver)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: no apt-get here; install Chromium and chromedriver yourself (the browser test is skipped without them)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-browser: not root and no sudo; the browser test will be skipped" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
echo "browser: $(chromium --version) + $(chromedriver --version | head -1)"
