#!/usr/bin/env bash
# For the court-evidence tests:
# - poppler-utils (tests/report_pdf.rs): pdfinfo counts the pages,
#   pdftotext reads the running header and « page N / M », pdftoppm renders
#   the pages as images;
# - openssl (tests/evidence_timestamps.rs, src/evidence/tsp*.rs): a local
#   time-stamping authority (openssl ts -reply) and `openssl ts -verify`,
#   which vigie itself runs to check RFC 3161 tokens;
# - warcio (PyPI; tests/evidence_warc.rs, src/evidence/warc.rs): `warcio
#   check` validates the WARC export's records and digests.
# Called by .ci/run after apt-get update.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends poppler-utils openssl python3 python3-pip
$SUDO pip3 install --break-system-packages warcio 2>/dev/null || $SUDO pip3 install warcio
# sed reads the whole output: `head` would close the pipe early and, under
# pipefail, pdfinfo's SIGPIPE (exit 141) would fail the run.
pdfinfo -v 2>&1 | sed -n 1p
openssl version
warcio --help >/dev/null && echo "warcio ok"
