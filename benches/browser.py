#!/usr/bin/env python3
"""Cost of a browser journey, next to the same journey as HTTP steps, and
the daemon's behaviour over many browser runs. Everything on loopback.

  1. one five-step journey (`vigie once`) on a small single-page app served
     locally: wall time, CPU time and peak memory (PSS summed over vigie and
     every process of its Chromium, sampled every 20 ms: a sampling bound, not
     an exact total), next to five HTTP steps fetching the same pages;
  2. memory of the idle daemon with browser probes configured;
  3. N consecutive browser runs in the daemon (one every 2 s): the daemon's
     RSS and the number of processes left after each run must not grow.

Usage: python3 benches/browser.py [--rounds 5] [--runs 100]
Needs: a release build (cargo build --release) and Debian's chromium.
Prints Markdown rows for BENCHMARKS.md.
"""
import argparse
import http.server
import os
import shutil
import signal
import socketserver
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIE = os.environ.get("VIGIE_BIN", os.path.join(ROOT, "target", "release", "vigie"))
SPA = os.path.join(ROOT, "tests", "support", "spa")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

API = b'{"slots":["1796284800","1796286000"],"first":"1796284800","first_text":"03/12/2026 09:00"}'


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=SPA, **kw)

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path.startswith("/api/status"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(API)))
            self.end_headers()
            self.wfile.write(API)
            return
        if self.path.startswith("/app") and not self.path.startswith("/app."):
            self.path = "/app.html"
        return super().do_GET()


def serve():
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


BROWSER = """name: parcours
title: Parcours navigateur
kind: browser
target: spa
schedule: "{schedule}"
timeout: 30s
steps:
  - name: accueil
    goto: "{{{{ base_url }}}}/app"
    wait_for: {{ selector: "#slots", timeout: 5s }}
    observe: {{ appointment_slots: {{ css_count: "li.slot" }} }}
  - name: email
    fill: {{ selector: "#email", value: "personne@example.org" }}
  - name: motif
    select: {{ selector: "#motif", value: Renouvellement }}
  - name: cgu
    check: "#cgu"
  - name: verifier
    click: "#check"
    wait_for: {{ text: "Vérifié", timeout: 3s }}
"""

HTTP = """name: parcours-http
title: Parcours HTTP
target: spa
schedule: "* * * * *"
timeout: 30s
steps:
  - {{ name: shell, request: {{ url: "{{{{ base_url }}}}/app" }} }}
  - {{ name: script, request: {{ url: "{{{{ base_url }}}}/app.js" }} }}
  - {{ name: api, request: {{ url: "{{{{ base_url }}}}/api/status" }}, observe: {{ appointment_slots: {{ json: "$.slots.length()" }} }} }}
  - {{ name: again, request: {{ url: "{{{{ base_url }}}}/app" }} }}
  - {{ name: api2, request: {{ url: "{{{{ base_url }}}}/api/status" }} }}
"""


def workspace(port, schedule="* * * * *"):
    d = tempfile.mkdtemp(prefix="vigie-bench-browser-")
    os.makedirs(os.path.join(d, "probes"))
    os.makedirs(os.path.join(d, "profiles"))
    with open(os.path.join(d, "probes", "b.yaml"), "w") as f:
        f.write(BROWSER.format(schedule=schedule))
    with open(os.path.join(d, "probes", "h.yaml"), "w") as f:
        f.write(HTTP.format().replace("$.slots.length()", "$.first"))
    with open(os.path.join(d, "vigie.yaml"), "w") as f:
        f.write(
            "location: bench\ncontact: bench@example.org\nprobes: [probes/*.yaml]\n"
            "store: { path: var/vigie.db }\nbrowser: { profile_dir: profiles }\n"
            f"targets:\n  spa: {{ base_url: \"http://127.0.0.1:{port}\", min_interval: 0s, max_concurrent: 4 }}\n"
        )
    return d


def procs_mentioning(needle):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if needle.encode() in f.read():
                    out.append(int(p))
        except OSError:
            pass
    return out


def cpu_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except OSError:
        return None


def pss_of(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure_once(d, probe):
    """Wall, CPU and peak PSS of `vigie once PROBE` and its Chromium."""
    t0 = time.monotonic()
    p = subprocess.Popen([VIGIE, "once", probe, "--config", "vigie.yaml"], cwd=d,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu, peak = {}, 0
    needle = os.path.join(d, "profiles")
    while p.poll() is None:
        pids = [p.pid] + procs_mentioning(needle)
        total = 0
        for pid in pids:
            c = cpu_of(pid)
            if c is not None:
                cpu[pid] = c
            total += pss_of(pid)
        peak = max(peak, total)
        time.sleep(0.02)
    wall = time.monotonic() - t0
    # vigie's own CPU, exactly, from its rusage once it has exited.
    return wall, sum(cpu.values()), peak, p.returncode


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def daemon_runs(port, runs):
    d = workspace(port, schedule="*/2 * * * * *")
    os.remove(os.path.join(d, "probes", "h.yaml"))
    p = subprocess.Popen([VIGIE, "run", "--listen", "127.0.0.1:0", "--config", "vigie.yaml"], cwd=d,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    idle = rss_kib(p.pid)
    needle = os.path.join(d, "profiles")
    samples = []
    t_end = time.monotonic() + runs * 2 + 5
    while time.monotonic() < t_end:
        # 1.2 s into each 2-s slot; a journey longer than a slot is still
        # running then, so these counts bound one run's browser, not zero.
        now = time.time()
        time.sleep(2 - (now % 2) + 1.2)
        samples.append((rss_kib(p.pid), len(procs_mentioning(needle)), len(os.listdir(needle))))
    p.send_signal(signal.SIGTERM)
    p.wait()
    left = len(procs_mentioning(needle))
    db = sqlite3.connect(os.path.join(d, "var", "vigie.db"))
    outcomes = dict(db.execute("SELECT outcome, COUNT(*) FROM runs GROUP BY outcome").fetchall())
    db.close()
    shutil.rmtree(d, ignore_errors=True)
    return idle, samples, left, outcomes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=100)
    a = ap.parse_args()
    srv, port = serve()
    d = workspace(port)
    rows = {"parcours": [], "parcours-http": []}
    for _ in range(a.rounds):
        for probe in rows:
            rows[probe].append(measure_once(d, probe))
    shutil.rmtree(d, ignore_errors=True)
    print("| journey (5 steps) | wall (median) | CPU (median) | peak memory, PSS (median) | exit codes |")
    print("|---|---|---|---|---|")
    for probe, r in rows.items():
        print(f"| {probe} | {statistics.median(x[0] for x in r):.2f} s | {statistics.median(x[1] for x in r):.2f} s"
              f" | {statistics.median(x[2] for x in r) / 2**20:.0f} MiB | {sorted(set(x[3] for x in r))} |")
    b, h = rows["parcours"], rows["parcours-http"]
    print(f"\nratio browser/HTTP: wall {statistics.median(x[0] for x in b) / statistics.median(x[0] for x in h):.1f}, "
          f"CPU {statistics.median(x[1] for x in b) / max(statistics.median(x[1] for x in h), 0.001):.0f}, "
          f"memory {statistics.median(x[2] for x in b) / max(statistics.median(x[2] for x in h), 1):.0f}")
    if a.runs:
        idle, samples, left, outcomes = daemon_runs(port, a.runs)
        rss = [s[0] for s in samples]
        print(f"\ndaemon: idle RSS {idle / 1024:.1f} MiB with one browser probe configured; runs recorded {outcomes}; "
              f"{len(samples)} samples: "
              f"RSS first {rss[0] / 1024:.1f} MiB, max {max(rss) / 1024:.1f} MiB, last {rss[-1] / 1024:.1f} MiB; "
              f"Chromium processes at a sample: max {max(s[1] for s in samples)}; profile folders at a sample: "
              f"max {max(s[2] for s in samples)}; after SIGTERM: {left} process(es)")
    srv.shutdown()


if __name__ == "__main__":
    main()
