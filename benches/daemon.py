#!/usr/bin/env python3
"""Benchmarks of the vigie daemon against the local simulator, with
Prometheus' blackbox_exporter as the peer measured in the same run.

Measures (all on loopback, nothing leaves the machine):
  1. resident memory of the idle daemon (one probe, scheduled yearly);
  2. resident memory with 500 scheduled probes (each one GET every minute,
     spread over the seconds of the minute: ~8.3 runs per second);
  3. CPU time per probe step: the daemon's user+system CPU over a window,
     divided by the steps it ran in that window (from its own metrics), next
     to blackbox_exporter's CPU per check for the same GET of the same page;
  4. time to serve /metrics with 500 probes (and its size).

Usage: python3 benches/daemon.py [--probes 500] [--window 60]
Needs: a release build (cargo build --release), Debian's
prometheus-blackbox-exporter, curl. Prints a Markdown table for BENCHMARKS.md.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIE = os.path.join(ROOT, "target", "release", "vigie")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 (1-based) of /proc/PID/stat.
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid, key="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def wait_http(url, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            get(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    sys.exit(f"{url} did not answer")


def runs_total(metrics_text):
    return sum(float(m.group(1)) for m in re.finditer(r'^vigie_probe_runs_total\{[^}]*\} ([0-9.e+]+)$', metrics_text, re.M))


def write_config(d, n, portal, listen):
    os.makedirs(os.path.join(d, "probes"), exist_ok=True)
    with open(os.path.join(d, "vigie.yaml"), "w") as f:
        f.write(f"""location: bench
contact: bench@example.org
listen: {listen}
concurrency: 64
probes: ["probes/*.yaml"]
targets:
  sim: {{ base_url: "{portal}", min_interval: 1ms, max_concurrent: 64 }}
""")
    for i in range(n):
        sched = '"0 0 1 1 *"' if n == 1 else f'"{i % 60} * * * * *"'
        with open(os.path.join(d, "probes", f"p{i:04d}.yaml"), "w") as f:
            f.write(f"""name: p{i:04d}
title: Bench probe {i}
target: sim
labels: {{ procedure: proc-{i % 10}, site: sim }}
schedule: {sched}
steps:
  - name: home
    request: {{ url: "{{{{ base_url }}}}/particuliers/" }}
    expect: {{ status: 200, css_present: app-root }}
""")


def start(cmd, **kw):
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probes", type=int, default=500)
    ap.add_argument("--window", type=int, default=60, help="seconds of CPU measurement")
    args = ap.parse_args()
    if not os.path.exists(VIGIE):
        sys.exit("build first: cargo build --release")
    bbe = shutil.which("prometheus-blackbox-exporter")
    if not bbe:
        sys.exit("install Debian's prometheus-blackbox-exporter")

    sim = start([VIGIE, "sim", "--portal", "127.0.0.1:28181", "--prefecture", "127.0.0.1:28182", "--rdv", "127.0.0.1:28183"])
    portal = "http://127.0.0.1:28181"
    wait_http(portal + "/particuliers/")
    results = {}
    try:
        # 1. Idle daemon.
        with tempfile.TemporaryDirectory() as d:
            write_config(d, 1, portal, "127.0.0.1:29898")
            p = start([VIGIE, "run", "--config", os.path.join(d, "vigie.yaml")])
            wait_http("http://127.0.0.1:29898/healthz")
            time.sleep(5)
            results["idle_rss_kib"] = rss_kib(p.pid)
            stop(p)

        # 2-4. 500 probes.
        with tempfile.TemporaryDirectory() as d:
            write_config(d, args.probes, portal, "127.0.0.1:29899")
            p = start([VIGIE, "run", "--config", os.path.join(d, "vigie.yaml")])
            base = "http://127.0.0.1:29899"
            wait_http(base + "/healthz")
            time.sleep(65)  # every probe has run at least once
            c0, r0 = cpu_seconds(p.pid), runs_total(get(base + "/metrics").decode())
            time.sleep(args.window)
            c1, r1 = cpu_seconds(p.pid), runs_total(get(base + "/metrics").decode())
            results["rss_kib"] = rss_kib(p.pid)
            results["hwm_kib"] = rss_kib(p.pid, "VmHWM")
            steps = r1 - r0  # one step per run
            results["steps"] = steps
            results["cpu_per_step_ms"] = (c1 - c0) / steps * 1000
            body = get(base + "/metrics")
            results["metrics_bytes"] = len(body)
            results["metrics_series"] = sum(1 for l in body.decode().splitlines() if l and not l.startswith("#"))
            t = []
            for _ in range(30):
                t0 = time.perf_counter()
                get(base + "/metrics")
                t.append(time.perf_counter() - t0)
            t.sort()
            results["metrics_ms_median"] = t[len(t) // 2] * 1000
            results["metrics_ms_max"] = t[-1] * 1000
            stop(p)

        # Peer: blackbox_exporter doing the same GET, driven as fast as the
        # daemon's steps ran, so both serve the same request rate.
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "blackbox.yml")
            with open(cfg, "w") as f:
                f.write("modules:\n  http_2xx:\n    prober: http\n    timeout: 10s\n    http:\n      fail_if_body_not_matches_regexp: ['app-root']\n")
            p = start([bbe, "--config.file", cfg, "--web.listen-address", "127.0.0.1:29115"])
            wait_http("http://127.0.0.1:29115/metrics")
            url = "http://127.0.0.1:29115/probe?module=http_2xx&target=" + portal + "/particuliers/"
            assert b"probe_success 1" in get(url), "blackbox_exporter cannot probe the simulator"
            n = 3000
            c0 = cpu_seconds(p.pid)
            for _ in range(n):
                get(url)
            c1 = cpu_seconds(p.pid)
            results["bbe_cpu_per_check_ms"] = (c1 - c0) / n * 1000
            results["bbe_rss_kib"] = rss_kib(p.pid)
            stop(p)
    finally:
        stop(sim)

    r = results
    print(f"| measure | vigie | blackbox_exporter 0.23 (peer, same run) | ratio |")
    print(f"|---|---|---|---|")
    print(f"| resident memory, idle (1 probe) | {r['idle_rss_kib']/1024:.1f} MiB | {r['bbe_rss_kib']/1024:.1f} MiB (after {3000} checks) | {r['idle_rss_kib']/r['bbe_rss_kib']:.2f} |")
    print(f"| resident memory, {args.probes} probes scheduled (peak) | {r['rss_kib']/1024:.1f} MiB ({r['hwm_kib']/1024:.1f} MiB) | — | — |")
    print(f"| CPU per probe step (GET, fresh connection, HTML check) | {r['cpu_per_step_ms']:.3f} ms ({r['steps']:.0f} steps in {args.window} s) | {r['bbe_cpu_per_check_ms']:.3f} ms per check | {r['cpu_per_step_ms']/r['bbe_cpu_per_check_ms']:.2f} |")
    print(f"| GET /metrics with {args.probes} probes | median {r['metrics_ms_median']:.1f} ms, max {r['metrics_ms_max']:.1f} ms ({r['metrics_series']} series, {r['metrics_bytes']/1024:.0f} KiB) | — | — |")


if __name__ == "__main__":
    main()
