#!/usr/bin/env bash
# The examples of docs/deploy.md, tried against an installed, running vigie:
# each code block marked `<!-- tried: NAME -->` in the page is extracted as
# written, pointed at the running instance's port, and run with the real
# program (Prometheus and promtool, nginx, Caddy), then requests go through
# it. Called by .ci/deb-check.sh while the service runs.
#
# Usage: .ci/deploy-docs-check.sh PORT   (the port vigie listens on)
set -euo pipefail
cd "$(dirname "$0")/.."
port="$1"
doc=docs/deploy.md
work=$(mktemp -d /tmp/vigie-docs-check.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "== docs-check: $*"; }
fail() { echo "docs-check: FAILED: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# The first fenced block after the marker `<!-- tried: $1 -->`.
block() {
  awk -v m="<!-- tried: $1 -->" '
    $0 == m { armed = 1; next }
    armed && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }' "$doc"
}
# Waits until $1 answers (any HTTP status).
wait_http() {
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  fail "$1 does not answer"
}
status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

step "Prometheus: the rules copied as the page says, its scrape block, promtool, a real scrape"
mkdir -p "$work/prometheus"
cp /usr/share/vigie/prometheus/rules/*.yml "$work/prometheus/"
{ printf 'global: { scrape_interval: 1s, evaluation_interval: 1s }\n'; block prometheus; } |
  sed "s/127.0.0.1:9898/127.0.0.1:$port/" >"$work/prometheus/prometheus.yml"
[ -s "$work/prometheus/prometheus.yml" ] || fail "no prometheus block in $doc"
promtool check config "$work/prometheus/prometheus.yml"

step "several vantage points: a second instance, one Prometheus scraping both"
port2=$(free_port)
vigie init --dir "$work/vp2" --location vm-paris --contact veille@asso.example \
  --alert-to equipe@asso.example --non-interactive >/dev/null
vigie run --config "$work/vp2/vigie.yaml" --listen "127.0.0.1:$port2" >"$work/vp2.log" 2>&1 &
pids+=($!)
{
  printf 'global: { scrape_interval: 1s, evaluation_interval: 1s }\n'
  printf 'rule_files: [vigie-recording.rules.yml, vigie-alerts.rules.yml]\nscrape_configs:\n'
  block vantage-points
} | sed "s/127.0.0.1:9898/127.0.0.1:$port/; s/vm-paris.asso.example:9898/127.0.0.1:$port2/" \
  >"$work/prometheus/two.yml"
promtool check config "$work/prometheus/two.yml"
prom_port=$(free_port)
prometheus --config.file="$work/prometheus/two.yml" --storage.tsdb.path="$work/prometheus/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$port2/metrics"
query="http://127.0.0.1:$prom_port/api/v1/query?query=count%20by%20(location)%20(vigie_build_info)"
seen=""
for _ in $(seq 1 60); do
  seen=$(curl -s "$query" | python3 -c 'import json,sys; print(" ".join(sorted(r["metric"]["location"] for r in json.load(sys.stdin)["data"]["result"])))' 2>/dev/null || true)
  [ "$seen" = "ci-debian vm-paris" ] && break
  sleep 0.5
done
[ "$seen" = "ci-debian vm-paris" ] || fail "Prometheus sees locations '$seen', not 'ci-debian vm-paris'"
echo "Prometheus scrapes both vantage points: $seen"

step "nginx in front of the status page (the page's server block)"
nginx_port=$(free_port)
mkdir -p "$work/nginx"
htpasswd -bc "$work/nginx/vigie.htpasswd" equipe mot-de-passe-de-test 2>/dev/null
block nginx | sed "s/listen 80;/listen 127.0.0.1:$nginx_port;/; s#127.0.0.1:9898#127.0.0.1:$port#g; s#/etc/nginx/vigie.htpasswd#$work/nginx/vigie.htpasswd#" \
  >"$work/nginx/vigie.conf"
cat >"$work/nginx/nginx.conf" <<EOF
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events {}
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  include $work/nginx/vigie.conf;
}
EOF
nginx -t -c "$work/nginx/nginx.conf"
nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_http "http://127.0.0.1:$nginx_port/"
[ "$(status_of "http://127.0.0.1:$nginx_port/")" = 200 ] || fail "nginx: / is not 200"
[ "$(status_of "http://127.0.0.1:$nginx_port/preuves/")" = 401 ] || fail "nginx: /preuves/ is not behind a password"
[ "$(status_of -u equipe:mot-de-passe-de-test "http://127.0.0.1:$nginx_port/metrics")" = 200 ] || fail "nginx: /metrics from loopback"
echo "nginx: / 200, /preuves/ 401 without the password, /metrics 200 from loopback"

step "Caddy in front of the status page (the page's Caddyfile, over plain HTTP here)"
caddy_port=$(free_port)
hash=$(caddy hash-password --plaintext mot-de-passe-de-test)
mkdir -p "$work/caddy"
{ printf '{\n\tadmin off\n}\n'; block caddy; } | sed "s#^veille.asso.example {#http://127.0.0.1:$caddy_port {#; s#<the hash printed by \`caddy hash-password\`>#$hash#; s#127.0.0.1:9898#127.0.0.1:$port#" \
  >"$work/caddy/Caddyfile"
HOME="$work/caddy" caddy validate --config "$work/caddy/Caddyfile" --adapter caddyfile
HOME="$work/caddy" XDG_DATA_HOME="$work/caddy" XDG_CONFIG_HOME="$work/caddy" \
  caddy run --config "$work/caddy/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$caddy_port/"
[ "$(status_of "http://127.0.0.1:$caddy_port/")" = 200 ] || fail "caddy: / is not 200"
[ "$(status_of "http://127.0.0.1:$caddy_port/metrics")" = 401 ] || fail "caddy: /metrics is not behind a password"
[ "$(status_of -u equipe:mot-de-passe-de-test "http://127.0.0.1:$caddy_port/metrics")" = 200 ] || fail "caddy: /metrics with the password"
echo "Caddy: / 200, /metrics 401 without the password and 200 with it"
echo "docs-check: OK"
