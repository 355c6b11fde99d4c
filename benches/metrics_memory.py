#!/usr/bin/env python3
"""Memory, /metrics and scheduler lateness of `vigie run` at N probes of 5
steps (issue 14), against a local nginx serving a 20 KB page.

1. starts nginx (own nginx.conf in a temp dir, loopback port, an access log
   with millisecond times) serving a 20 KB page;
2. starts `vigie run` with N probes, each 5 GETs of that page (status
   checked), every minute, spread over the seconds of the minute;
3. after --warmup seconds, reads the daemon's VmRSS/VmHWM, then times
   --scrapes GET /metrics with curl, and as many GETs with curl of a static
   file of the same size from the same nginx (the reference: copying bytes);
4. scheduler lateness as the server saw it: the first request of each run
   (step 1) against its scheduled second, from nginx's access log; and the
   p99 from vigie's own `vigie_scheduler_lateness_seconds` histogram;
5. with --smaps FILE, a copy of the daemon's /proc/PID/smaps taken with the
   RSS, and the resident MiB of its largest kinds of mapping (heap, code,
   thread arenas and stacks, libraries).

Usage: python3 benches/metrics_memory.py --vigie $PWD/target/release/vigie
           [--probes 1000] [--warmup 150] [--scrapes 20] [--env K=V ...] [--port 29870]
           [--smaps FILE]
Everything it starts is stopped at the end. Two measurements at once need
two ports and two copies of the binary: processes mapping the same file
share its resident code pages, and each one's RSS counts them.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

NGINX_PORT = 29870
VIGIE_PORT = 29871


def nginx_conf(d):
    # As root, nginx's workers would drop to `nobody`, who cannot read the temp dir.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""worker_processes 1;
{user}
daemon off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  log_format ms '$msec $request_uri';
  access_log {d}/access.log ms;
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  server {{
    listen 127.0.0.1:{NGINX_PORT};
    root {d}/www;
    default_type text/html;
  }}
}}
"""


def write_vigie_config(d, n):
    os.makedirs(f"{d}/probes", exist_ok=True)
    with open(f"{d}/vigie.yaml", "w") as f:
        f.write(f"""location: bench
contact: bench@example.org
listen: 127.0.0.1:{VIGIE_PORT}
concurrency: 64
probes: ["probes/*.yaml"]
targets:
  local: {{ base_url: "http://127.0.0.1:{NGINX_PORT}", min_interval: 1ms, max_concurrent: 64 }}
""")
    for i in range(n):
        steps = "".join(
            f"""  - name: step{s}
    request: {{ url: "{{{{ base_url }}}}/page.html?p={i:04d}&s={s}" }}
    expect: {{ status: 200 }}
""" for s in range(1, 6))
        with open(f"{d}/probes/p{i:04d}.yaml", "w") as f:
            f.write(f"""name: p{i:04d}
title: Bench probe {i}
target: local
labels: {{ procedure: proc-{i % 10}, site: site-{i % 100} }}
schedule: "{i % 60} * * * * *"
steps:
{steps}""")


def stop(proc, sig, timeout):
    """Ask politely, then kill."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                out[k] = int(v.split()[0]) / (1 if k == "Threads" else 1024)
    return out


def print_smaps(path):
    """Resident KiB by kind of mapping, largest first: the binary's own
    sections, the heap arenas, thread stacks, libraries."""
    kinds, kind = {}, None
    with open(path) as f:
        for line in f:
            head = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                perms, name = head[1], (head[5] if len(head) > 5 else "")
                if name.endswith("/vigie"):
                    kind = f"vigie {perms}"
                elif name.startswith("["):
                    kind = name
                elif name:
                    kind = f"{os.path.basename(name)} {perms}"
                else:
                    kind = f"anonymous {perms}"
            elif head and head[0] in ("Rss:", "Anonymous:"):
                k = (kind, head[0][:-1])
                kinds[k] = kinds.get(k, 0) + int(head[1])
    rows = sorted(((v, k) for (k, what), v in kinds.items() if what == "Rss"), reverse=True)
    for rss_kib, k in rows[:12]:
        print(f"  smaps {k}: {rss_kib / 1024:.1f} MiB resident, {kinds.get((k, 'Anonymous'), 0) / 1024:.1f} anonymous")


def curl_times(url, n):
    times, size = [], 0
    for _ in range(n):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total} %{size_download}", url],
                             capture_output=True, text=True, check=True).stdout.split()
        times.append(float(out[0]) * 1000)
        size = int(out[1])
    return times, size


def histogram_quantile(text, name, q):
    buckets = [(float("inf") if m.group(1) == "+Inf" else float(m.group(1)), float(m.group(2)))
               for m in re.finditer(name + r'_bucket\{[^}]*le="([^"]+)"\} (\S+)', text)]
    total = buckets[-1][1]
    if total == 0:
        return None
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= q * total:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (q * total - prev_c) / max(c - prev_c, 1e-9)
        prev_le, prev_c = le, c
    return None


def server_lateness(d, since):
    """The first request of each run (step 1) against its scheduled second."""
    late = []
    with open(f"{d}/access.log") as f:
        for line in f:
            t, uri = line.split()
            m = re.search(r"p=(\d+)&s=1$", uri)
            if not m or float(t) < since:
                continue
            sched_second = int(m.group(1)) % 60
            delta = (float(t) - sched_second) % 60
            late.append(delta * 1000)
    late.sort()
    return late


def pct(xs, q):
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main():
    global NGINX_PORT, VIGIE_PORT
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigie", required=True)
    ap.add_argument("--probes", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--scrapes", type=int, default=20)
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--port", type=int, default=NGINX_PORT,
                    help="nginx's port; vigie listens on the next one (to run two measurements at once)")
    ap.add_argument("--smaps", metavar="FILE",
                    help="also copy vigie's /proc/PID/smaps there when RSS is read, and print where it goes")
    a = ap.parse_args()
    NGINX_PORT, VIGIE_PORT = a.port, a.port + 1
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(f"{d}/www")
        os.makedirs(f"{d}/tmp")
        with open(f"{d}/www/page.html", "w") as f:
            f.write("<html><body>" + ("<p>vigie bench page</p>\n" * 900)[:20_000 - 30] + "</body></html>")
        with open(f"{d}/nginx.conf", "w") as f:
            f.write(nginx_conf(d))
        nginx = subprocess.Popen(["nginx", "-c", f"{d}/nginx.conf", "-p", d],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        vigie = None
        try:
            time.sleep(1)
            if nginx.poll() is not None:
                sys.exit(f"nginx did not start: {open(f'{d}/nginx-error.log').read()}")
            curl_times(f"http://127.0.0.1:{NGINX_PORT}/page.html", 1)
            write_vigie_config(d, a.probes)
            env = dict(os.environ, RUST_LOG="error")
            for kv in a.env:
                k, _, v = kv.partition("=")
                env[k] = v
            vigie = subprocess.Popen([a.vigie, "run", "--config", f"{d}/vigie.yaml"], cwd=d, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            start = time.time()
            time.sleep(a.warmup)
            mem = rss(vigie.pid)
            if a.smaps:
                shutil.copyfile(f"/proc/{vigie.pid}/smaps", a.smaps)
            url = f"http://127.0.0.1:{VIGIE_PORT}/metrics"
            body = urllib.request.urlopen(url).read()
            series = sum(1 for l in body.decode().splitlines() if l and not l.startswith("#"))
            with open(f"{d}/www/same-size.txt", "wb") as f:
                f.write(body)
            # Alternate the two, so both see the same machine load.
            vt, nt = [], []
            for _ in range(a.scrapes):
                vt += curl_times(url, 1)[0]
                nt += curl_times(f"http://127.0.0.1:{NGINX_PORT}/same-size.txt", 1)[0]
            text = urllib.request.urlopen(url).read().decode()
            p99_hist = histogram_quantile(text, "vigie_scheduler_lateness_seconds", 0.99)
            runs = sum(float(m.group(1)) for m in re.finditer(r'^vigie_probe_runs_total\{[^}]*\} (\S+)$', text, re.M))
            up = sum(float(m.group(1)) for m in re.finditer(r'^vigie_probe_runs_total\{[^}]*outcome="up"[^}]*\} (\S+)$', text, re.M))
            late = server_lateness(d, start + 60)
            print(f"probes: {a.probes} x 5 steps, runs so far {runs:.0f} (up {up:.0f}), env {a.env}")
            print(f"RSS after {a.warmup} s: {mem['VmRSS']:.1f} MiB (peak {mem['VmHWM']:.1f} MiB; "
                  f"anonymous {mem['RssAnon']:.1f} MiB, file-backed {mem['RssFile']:.1f} MiB; {mem['Threads']:.0f} threads)")
            print(f"/metrics: {len(body)} bytes, {series} series; curl median {statistics.median(vt):.2f} ms, "
                  f"max {max(vt):.2f} ms ({a.scrapes} scrapes)")
            print(f"nginx same-size file: curl median {statistics.median(nt):.2f} ms, max {max(nt):.2f} ms; "
                  f"ratio of medians {statistics.median(vt) / statistics.median(nt):.2f}")
            if p99_hist is not None:
                print(f"lateness p99 (vigie histogram): {p99_hist * 1000:.2f} ms")
            print(f"lateness seen by nginx (first request of a run vs its second, {len(late)} runs): "
                  f"p50 {pct(late, 0.5):.1f} ms, p99 {pct(late, 0.99):.1f} ms")
            if a.smaps:
                print_smaps(a.smaps)
        finally:
            if vigie is not None:
                stop(vigie, signal.SIGTERM, 30)
            stop(nginx, signal.SIGQUIT, 10)


if __name__ == "__main__":
    sys.exit(main())
