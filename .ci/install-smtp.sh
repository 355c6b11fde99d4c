#!/bin/sh
# Install Postfix's smtp-sink, the real SMTP server the alerting tests talk to
# (tests/support/smtp.rs). Postfix itself is neither installed nor started:
# the Debian package is downloaded and unpacked into $VIGIE_CI_DIR/postfix,
# where the tests look for usr/sbin/smtp-sink. VIGIE_CI_DIR defaults to
# /opt/vigie-ci as root and to ~/.cache/vigie-ci otherwise; the tests look in
# both (or set VIGIE_SMTP_SINK to another smtp-sink binary).
#
# Called by .ci/run; safe to run again (does nothing when already there).
set -eu

if [ "$(id -u)" = 0 ]; then
    SUDO=""
    default_dir=/opt/vigie-ci
else
    SUDO="sudo"
    default_dir="$HOME/.cache/vigie-ci"
fi
dest="${VIGIE_CI_DIR:-$default_dir}/postfix"
bin="$dest/usr/sbin/smtp-sink"

works() {
    # smtp-sink prints its usage and exits 1 without arguments; a missing
    # shared library would print something else.
    LD_LIBRARY_PATH="$dest/usr/lib/postfix" "$bin" 2>&1 | grep -q "usage:"
}

if [ -x "$bin" ] && works; then
    echo "smtp-sink already installed: $bin"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt's download sandbox user must be able to write here.
chmod 0777 "$tmp"
if ! (cd "$tmp" && apt-get download postfix >/dev/null 2>&1); then
    $SUDO apt-get update -qq
    (cd "$tmp" && apt-get download postfix)
fi
mkdir -p "$dest"
dpkg -x "$tmp"/postfix_*.deb "$dest"

if ! works; then
    echo "smtp-sink was unpacked into $dest but does not run:" >&2
    LD_LIBRARY_PATH="$dest/usr/lib/postfix" "$bin" 2>&1 | head -5 >&2 || true
    exit 1
fi
echo "smtp-sink installed: $bin"
