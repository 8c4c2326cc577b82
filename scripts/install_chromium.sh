#!/usr/bin/env bash
# Install Debian's chromium when /usr/bin/chromium is missing: the HTML report's browser test
# (tests/integration/test_report_browser.py) opens the report in headless Chromium. Quiet, and a
# no-op once installed. Without root or apt-get it only warns: the test then skips, or fails when CI is set.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing chromium for the HTML report's browser test"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "warning: /usr/bin/chromium not found and not installable here (needs root and apt-get);" \
    "install Debian's chromium package, or the report's browser test is skipped (it fails when CI is set)" >&2
fi
