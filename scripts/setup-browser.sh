#!/usr/bin/env bash
# The browser suite (npm run test:browser) drives the system Chromium: install it on Debian where
# it is missing. Elsewhere, install Chromium or Chrome and set CHROMIUM_PATH to its executable.
set -euo pipefail
for candidate in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    echo "browser: $candidate"
    exit 0
  fi
done
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
  echo "browser: /usr/bin/chromium"
else
  echo "No Chromium found: install Chromium or Chrome and set CHROMIUM_PATH to its executable" >&2
  exit 1
fi
