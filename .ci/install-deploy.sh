#!/usr/bin/env bash
# What .ci/deb-check.sh and .ci/deploy-docs-check.sh need to try the Debian
# package and docs/deploy.md's examples: systemd-analyze (package systemd),
# nginx, Caddy and htpasswd (apache2-utils). Installing them starts no
# service on a machine without systemd as PID 1; where systemd runs, the
# services Debian starts are stopped again (the checks run their own).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends systemd nginx caddy apache2-utils curl python3
if [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now nginx caddy 2>/dev/null || true
fi
