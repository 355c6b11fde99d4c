#!/usr/bin/env bash
# The Debian package, tried as a new user would on this machine (root):
# build it, read it, `dpkg -i`, `systemd-analyze verify` and `security` on
# its unit, `vigie init` with flags, `vigie new` with a prefecture URL,
# `vigie check`, the service started (by systemd when it runs here, else the
# unit's ExecStart as the unit's user would), /metrics, `vigie backup`, then
# remove (history kept) and purge (nothing left). Run by .ci/run after the
# tests; about 8 minutes on 2 cores, most of it the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
step() { echo "== deb-check: $*"; }
fail() { echo "deb-check: FAILED: $*" >&2; exit 1; }

if ! cargo deb --version >/dev/null 2>&1; then
  step "installing cargo-deb (crates.io)"
  cargo install cargo-deb --locked
fi

step "building the package"
packaging/build-deb.sh
target="${CARGO_TARGET_DIR:-target}"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | sed -n 1p)
deb="$target/debian/vigie_${version}-1_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || deb=$(ls -t "$target"/debian/vigie_*.deb | sed -n 1p)
ls -l "$deb"

step "dpkg-deb --info / --contents"
dpkg-deb --info "$deb"
contents=$(dpkg-deb --contents "$deb")
for path in ./usr/bin/vigie ./etc/vigie/vigie.yaml ./etc/vigie/probes/anef-accueil.yaml \
  systemd/system/vigie.service ./usr/share/man/man1/vigie.1.gz ./usr/share/man/man1/vigie-init.1.gz \
  ./usr/share/bash-completion/completions/vigie ./usr/share/zsh/vendor-completions/_vigie \
  ./usr/share/fish/vendor_completions.d/vigie.fish ./usr/share/vigie/dashboards/vigie-apercu.json \
  ./usr/share/vigie/prometheus/rules/vigie-alerts.rules.yml ./usr/share/doc/vigie/deploy.md; do
  grep -q -- "$path" <<<"$contents" || fail "$path is not in the package"
done
dpkg-deb --field "$deb" Recommends | grep chromium >/dev/null || fail "Chromium is not recommended"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -x /etc/vigie/vigie.yaml >/dev/null || fail "/etc/vigie/vigie.yaml is not a conffile"

step "dpkg -i"
dpkg -i "$deb"
/usr/bin/vigie --version
unit=$(dpkg -L vigie | grep '/systemd/system/vigie.service$')

step "systemd-analyze verify / security"
systemd-analyze verify "$unit"
systemd-analyze security --offline=yes --no-pager "$unit" | tail -n 3
exposure=$(systemd-analyze security --offline=yes --no-pager "$unit" | sed -n 's/.*Overall exposure level for vigie.service: \([0-9.]*\).*/\1/p')
echo "exposure: $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.5) }' || fail "exposure $exposure above 2.5"

step "the installed configuration checks"
vigie check --config /etc/vigie/vigie.yaml --next 1 >/dev/null

step "vigie init with flags (the package's copy is replaced)"
vigie init --location ci-debian --contact veille@asso.example --alert-to equipe@asso.example --non-interactive
grep -q '^location: "ci-debian"' /etc/vigie/vigie.yaml || fail "vigie init did not write /etc/vigie"

step "vigie new with a prefecture URL"
vigie new https://www.essonne.gouv.fr/booking/create/4242/0 --config /etc/vigie/vigie.yaml
vigie check --config /etc/vigie/vigie.yaml >/tmp/vigie-check.txt
grep -q "prefecture-essonne-4242" /tmp/vigie-check.txt || fail "the new probe is not checked"
# Enabled probes as `vigie check` lists them (a disabled one says so).
enabled=$(grep -cE '^[a-z0-9-]+ +— ' /tmp/vigie-check.txt)

step "the service"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [ -d /run/systemd/system ]; then
  mkdir -p /run/systemd/system/vigie.service.d
  printf '[Service]\nExecStart=\nExecStart=/usr/bin/vigie run --config /etc/vigie/vigie.yaml --listen 127.0.0.1:%s\n' "$port" \
    >/run/systemd/system/vigie.service.d/ci-port.conf
  systemctl daemon-reload
  systemctl start vigie
  stop_service() { systemctl stop vigie; rm -rf /run/systemd/system/vigie.service.d; systemctl daemon-reload; }
else
  # No systemd here: what the unit does, by hand. ExecStart from the unit,
  # as an unprivileged user, in the state directory, with a private TMPDIR.
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  mkdir -p /var/lib/vigie && chown nobody:nogroup /var/lib/vigie && chmod 0750 /var/lib/vigie
  tmp=$(mktemp -d) && chown nobody:nogroup "$tmp"
  (cd /var/lib/vigie && TMPDIR="$tmp" exec setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
    $exec_start --listen "127.0.0.1:$port" >/tmp/vigie-deb-check.log 2>&1) &
  pid=$!
  stop_service() { kill -TERM "$pid"; wait "$pid" || true; rm -rf "$tmp"; }
  echo "(no systemd as PID 1: ran \`$exec_start\` as nobody)"
fi
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$port/metrics" >/tmp/vigie-metrics.txt 2>/dev/null && break
  sleep 0.2
done
grep -q 'vigie_build_info{.*location="ci-debian"' /tmp/vigie-metrics.txt || fail "/metrics does not answer with location ci-debian"
grep -q "vigie_probes_configured{location=\"ci-debian\"} $enabled" /tmp/vigie-metrics.txt || fail "not $enabled probes configured"
echo "/metrics answers: $(grep -c '^vigie_' /tmp/vigie-metrics.txt) vigie series"

step "docs/deploy.md's examples against the running service"
bash .ci/deploy-docs-check.sh "$port"

step "vigie backup while the daemon runs"
for _ in $(seq 1 50); do [ -f /var/lib/vigie/vigie.db ] && break; sleep 0.2; done
backup=/tmp/vigie-deb-check-backup.db
rm -f "$backup"
vigie backup --config /etc/vigie/vigie.yaml -o "$backup"
stop_service

step "restore as docs/deploy.md says, then the evidence chain verifies"
rm -f /var/lib/vigie/vigie.db-wal /var/lib/vigie/vigie.db-shm
cp "$backup" /var/lib/vigie/vigie.db
vigie verify --config /etc/vigie/vigie.yaml
rm -f "$backup"

step "upgrade: a newer package keeps the operator's edits and the history"
echo "# edited by the operator" >>/etc/vigie/probes/anef-accueil.yaml
cargo deb --no-build --locked --deb-revision 2 >/dev/null
deb2=$(ls -t "$target"/debian/vigie_*-2_*.deb | sed -n 1p)
dpkg -i "$deb2"
dpkg -s vigie | grep '^Version: .*-2$' >/dev/null || fail "the upgrade did not install"
grep -q "edited by the operator" /etc/vigie/probes/anef-accueil.yaml || fail "the upgrade lost the operator's edit"
[ -f /var/lib/vigie/vigie.db ] || fail "the upgrade lost the history"
vigie check --config /etc/vigie/vigie.yaml >/dev/null

step "remove: the history and the configuration stay"
dpkg -r vigie
[ ! -e /usr/bin/vigie ] || fail "/usr/bin/vigie left after remove"
[ -f /var/lib/vigie/vigie.db ] || fail "remove deleted the history"
[ -f /etc/vigie/vigie.yaml ] || fail "remove deleted the configuration"

step "purge: nothing left"
dpkg -P vigie
left=$(ls -d /etc/vigie /var/lib/vigie /var/lib/private/vigie /usr/share/vigie /usr/share/doc/vigie 2>/dev/null || true)
[ -z "$left" ] || fail "left after purge: $left"
echo "deb-check: OK"
