#!/bin/sh
# Install the real SMTP servers the alerting tests talk to:
#
# - Postfix's smtp-sink (tests/support/smtp.rs), plain SMTP. Postfix itself is
#   neither installed nor started: the Debian package is downloaded and
#   unpacked into $VIGIE_CI_DIR/postfix, where the tests look for
#   usr/sbin/smtp-sink (or set VIGIE_SMTP_SINK to another smtp-sink binary).
# - aiosmtpd from PyPI (tests/support/smtp_tls.rs runs
#   tests/support/smtp_tls_server.py with it), for STARTTLS, implicit TLS and
#   AUTH. It is installed with `pip install --target $VIGIE_CI_DIR/python`,
#   which the tests put on PYTHONPATH: this leaves the system's Python alone
#   (Debian refuses pip installs into it) and needs no virtualenv package.
#
# VIGIE_CI_DIR defaults to /opt/vigie-ci as root and to ~/.cache/vigie-ci
# otherwise; the tests look in both. Called by .ci/run after apt-get update;
# safe to run again (does nothing when already there).
set -eu

if [ "$(id -u)" = 0 ]; then
    SUDO=""
    default_dir=/opt/vigie-ci
else
    SUDO="sudo"
    default_dir="$HOME/.cache/vigie-ci"
fi
ci_dir="${VIGIE_CI_DIR:-$default_dir}"
tmp=""
trap 'if [ -n "$tmp" ]; then rm -rf "$tmp"; fi' EXIT

install_smtp_sink() {
    dest="$ci_dir/postfix"
    bin="$dest/usr/sbin/smtp-sink"

    works() {
        # smtp-sink prints its usage and exits 1 without arguments; a missing
        # shared library would print something else.
        LD_LIBRARY_PATH="$dest/usr/lib/postfix" "$bin" 2>&1 | grep "usage:" >/dev/null
    }

    if [ -x "$bin" ] && works; then
        echo "smtp-sink already installed: $bin"
        return 0
    fi

    tmp=$(mktemp -d)
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
        LD_LIBRARY_PATH="$dest/usr/lib/postfix" "$bin" 2>&1 | sed -n 1,5p >&2 || true
        exit 1
    fi
    echo "smtp-sink installed: $bin"
}

install_aiosmtpd() {
    dest="$ci_dir/python"
    python="${VIGIE_PYTHON:-python3}"

    has_aiosmtpd() {
        PYTHONPATH="$dest${PYTHONPATH:+:$PYTHONPATH}" "$python" -c "import aiosmtpd" 2>/dev/null
    }

    if ! command -v "$python" >/dev/null 2>&1; then
        $SUDO apt-get install -y --no-install-recommends python3
    fi
    if has_aiosmtpd; then
        echo "aiosmtpd already installed for $python"
        return 0
    fi
    if ! "$python" -m pip --version >/dev/null 2>&1; then
        $SUDO apt-get install -y --no-install-recommends python3-pip
    fi
    mkdir -p "$dest"
    "$python" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
        --upgrade --target "$dest" aiosmtpd
    if ! has_aiosmtpd; then
        echo "aiosmtpd was installed into $dest but $python cannot import it" >&2
        exit 1
    fi
    echo "aiosmtpd installed: $dest"
}

install_smtp_sink
install_aiosmtpd
