#!/usr/bin/env bash
# poppler-utils for the PDF report's tests (tests/report_pdf.rs): pdfinfo
# counts the pages, pdftotext reads the running header and « page N / M »,
# pdftoppm renders the pages as images. Called by .ci/run after apt-get update.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends poppler-utils
pdfinfo -v 2>&1 | head -1
