#!/usr/bin/env bash
# Browser for tests/browser (called by `make install`): Debian's Chromium, driven by Playwright's Python client with
# executable_path, so nothing is downloaded from a browser CDN (machines here reach only package registries).
# Never fails the install: where Chromium cannot be installed (not root, no apt), the browser tests skip and say why.
set -u
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: chromium is not installed and cannot be here (needs root and apt-get);" \
       "tests/browser will skip. Install Debian's 'chromium' package to run them." >&2
  exit 0
fi
echo "install_browser: apt-get install chromium (for tests/browser)"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; then
  apt-get update -q >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
    || echo "install_browser: apt-get install chromium failed; tests/browser will skip" >&2
fi
exit 0
