#!/usr/bin/env bash
# Set up optical-st from scratch in ./.venv: CPU PyTorch first (so no CUDA build is pulled), then the
# project with its dev extras, then (when root with apt) Chromium + ChromeDriver for the browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch==2.13.0 is the CPU build these machines carry on disk; elsewhere pick the build you need first.
.venv/bin/python -m pip install -q "torch==2.13.0" || .venv/bin/python -m pip install -q torch
.venv/bin/python -m pip install -q -e ".[dev]"
if [ "${OPTICAL_ST_SKIP_BROWSER:-0}" != "1" ] && ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-core >/dev/null) \
      || echo "bootstrap: chromium could not be installed; the browser test will be skipped" >&2
  else
    echo "bootstrap: no chromedriver and no root apt-get; the browser test will be skipped" >&2
  fi
fi
