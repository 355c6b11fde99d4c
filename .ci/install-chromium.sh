#!/usr/bin/env bash
# Debian's Chromium (and its WebDriver, for accessibility checks) for the
# browser probes' tests: tests/browser.rs drives /usr/bin/chromium headless.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core
/usr/bin/chromium --version
