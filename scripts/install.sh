#!/usr/bin/env bash
# Sets up worldgen in ./.venv on a fresh Debian/Ubuntu machine with Python 3.11.
#   scripts/install.sh         the package and its runtime dependencies
#   scripts/install.sh test    plus the test extras
# Safe to run again: every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3

if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
# open3d's wheels link the system libusb; install it when it is missing.
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
    $apt_get install -y -q libusb-1.0-0 >/dev/null || { $apt_get update -q >/dev/null && $apt_get install -y -q libusb-1.0-0 >/dev/null; }
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=".venv/bin/python -m pip"
# Pin torch first: an open range would let pip pull a several-GB CUDA build onto a CPU box.
# TORCH_SPEC overrides it (for example on a GPU machine).
$pip install -q --disable-pip-version-check "${TORCH_SPEC:-torch==2.13.0}"
if [ "$extras" = test ]; then
    $pip install -q --disable-pip-version-check -e ".[test]"
    # The editor's browser tests drive Debian's chromium through Playwright (no browser download).
    if ! command -v chromium >/dev/null; then
        $apt_get install -y -q chromium >/dev/null || { $apt_get update -q >/dev/null && $apt_get install -y -q chromium >/dev/null; }
    fi
else
    $pip install -q --disable-pip-version-check -e .
fi
