#!/bin/sh
# Install the tools the observatory's tests run (tests/observatory.rs):
#
# - axe-core (npm), run inside Debian's headless Chromium for WCAG 2.1 A
#   and AA (Chromium itself comes from .ci/install-chromium.sh);
# - the Nu HTML Checker (npm `vnu-jar`, which ships vnu.jar) with a Java
#   runtime, for valid HTML;
# - feedparser (PyPI), the second opinion on the Atom feed
#   (tests/support/atom_check.py).
#
# npm packages go into $VIGIE_CI_DIR/npm/node_modules and Python packages
# into $VIGIE_CI_DIR/python (`pip install --target`, as install-smtp.sh
# does): the system is left alone, no virtualenv is needed, and the tests
# look in both places. VIGIE_CI_DIR defaults to /opt/vigie-ci as root and
# to ~/.cache/vigie-ci otherwise. Called by .ci/run after apt-get update;
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
export DEBIAN_FRONTEND=noninteractive

need_apt=""
command -v node >/dev/null 2>&1 || need_apt="$need_apt nodejs"
command -v npm >/dev/null 2>&1 || need_apt="$need_apt npm"
command -v java >/dev/null 2>&1 || need_apt="$need_apt default-jre-headless"
command -v python3 >/dev/null 2>&1 || need_apt="$need_apt python3"
python3 -m pip --version >/dev/null 2>&1 || need_apt="$need_apt python3-pip"
if [ -n "$need_apt" ]; then
    # shellcheck disable=SC2086
    $SUDO apt-get install -y --no-install-recommends $need_apt
fi

npm_dir="$ci_dir/npm"
if [ -f "$npm_dir/node_modules/axe-core/axe.min.js" ] && [ -f "$npm_dir/node_modules/vnu-jar/build/dist/vnu.jar" ]; then
    echo "axe-core and vnu-jar already installed: $npm_dir"
else
    mkdir -p "$npm_dir"
    npm install --no-audit --no-fund --no-save --prefix "$npm_dir" axe-core@4 vnu-jar@26
    ls "$npm_dir/node_modules/axe-core/axe.min.js" "$npm_dir/node_modules/vnu-jar/build/dist/vnu.jar"
fi

py_dir="$ci_dir/python"
if PYTHONPATH="$py_dir" python3 -c "import feedparser" 2>/dev/null; then
    echo "feedparser already installed: $py_dir"
else
    mkdir -p "$py_dir"
    python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
        --upgrade --target "$py_dir" feedparser
    PYTHONPATH="$py_dir" python3 -c "import feedparser"
    echo "feedparser installed: $py_dir"
fi
