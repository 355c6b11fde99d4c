#!/usr/bin/env python3
"""A thousand probes against blackbox_exporter (issue 14): the daemon's
benchmark, in one run, everything on loopback.

It starts its own nginx serving a generated 20 KB HTML page, Debian's
prometheus-blackbox-exporter (the peer) and the release build of vigie, then
measures:

  1. CPU per single-GET check: vigie with N one-step probes (each every
     minute, spread over the seconds; status 200 and the same regular
     expression as the exporter's module) for a window, then blackbox_exporter's
     /probe driven at the same rate for the same window, alternated for
     several rounds; per-check CPU = the process's user+system CPU delta
     (/proc/PID/stat) / checks done (counted in nginx's access log); the
     ratio of the medians. The window opens once every probe has run once
     (62 s after the start): a probe's first run after a start or reload
     also registers its version (hashes its methodology), a one-off cost
     that is not the per-check cost.
  2. RSS (VmRSS, VmHWM) and CPU of vigie idle (1 probe), then with 100 and 1,000
     probes x 5 steps (status 200 and body_contains on each step), each
     probe every minute, after a steady window;
     blackbox_exporter's RSS while serving the same request rate.
  3. GET /metrics at 1,000 probes: median time and size, next to nginx
     serving a static copy of the same bytes in the same run.
  4. Scheduler lateness as the server sees it: for the first request (step 1)
     of each run, its arrival in nginx's access log ($msec - $request_time,
     millisecond resolution) minus the second the run was scheduled for.
  5. Store bytes per run: growth of the SQLite file's used pages (all tables
     and indexes, WAL included, free pages excluded) over the steady window,
     divided by the runs started in it; and the whole file after shutdown
     divided by every run of the phase.

Usage:   python3 benches/daemon.py [--quick] [--only cpu|metrics] [--perf DIR]
  full mode about 11 minutes, --quick about 3 (a smoke test: windows too
  short for figures worth recording). `--only cpu` runs the alternated CPU
  rounds alone (full: about 3 minutes); `--only metrics` starts 1,000 probes
  x 5 steps, waits until every probe has run, and times /metrics next to
  nginx (about 80 s). `--perf DIR` records `perf record --call-graph dwarf` of vigie during
  each measured window (CPU windows, the timed /metrics GETs) into DIR; for
  symbols, build with CARGO_PROFILE_RELEASE_DEBUG=1.
Needs:   cargo build --release; apt-get install -y nginx-light (or nginx)
         prometheus-blackbox-exporter; python3 (standard library only).
Prints a Markdown table for BENCHMARKS.md, with the machine and its load.
Every process it starts gets its own process group and is killed on exit,
whatever happens; it listens and connects on 127.0.0.1 only.
"""
import argparse
import http.client
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIE = os.environ.get("VIGIE_BIN", os.path.join(ROOT, "target", "release", "vigie"))
TICKS = os.sysconf("SC_CLK_TCK")
MARKER = "bench-marker-20480"
PAGE_BYTES = 20480
STEPS = 5

FULL = dict(scales=(100, 1000), rounds=5, cpu_probes=1000, cpu_warm=62, cpu_window=30, settle=65, window=45, peer_window=20, gets=20)
QUICK = dict(scales=(100, 1000), rounds=2, cpu_probes=600, cpu_warm=62, cpu_window=10, settle=15, window=10, peer_window=8, gets=5)


# --- processes ---------------------------------------------------------------

class Procs:
    """Every process the benchmark starts, each in its own process group."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.live = []

    def start(self, name, cmd):
        log = open(os.path.join(self.logdir, name + ".log"), "ab")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.live.append(p)
        return p

    def stop(self, p, timeout=20, sig=signal.SIGTERM):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            except ProcessLookupError:
                pass
        # Children left in the group (nginx workers) go too.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in list(reversed(self.live)):
            self.stop(p, timeout=10)


def on_signal(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}")


# --- /proc and HTTP helpers -----------------------------------------------------

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 (1-based) of /proc/PID/stat.
    return (int(fields[11]) + int(fields[12])) / TICKS


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_http(port, path, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if http_get(port, path, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"http://127.0.0.1:{port}{path} did not answer within {seconds} s")


def timed_gets(port, path, n):
    """Median and max wall time (ms) of n GETs on one persistent connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times, size = [], 0
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            c.request("GET", path)
            r = c.getresponse()
            size = len(r.read())
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        c.close()
    return statistics.median(times), max(times), size


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = meminfo_kib("MemTotal")
    return f"{os.cpu_count()} CPUs ({model}), {mem / 1048576:.0f} GiB, Linux {platform.release()}"


def meminfo_kib(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def perf_start(procs, out_dir, name, pid):
    """`perf record --call-graph dwarf` attached to pid, or None without --perf."""
    if not out_dir:
        return None
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, name + ".data")
    rec = procs.start("perf-" + name, ["perf", "record", "--call-graph", "dwarf,16384", "-F", "1999", "-o", out, "-p", str(pid)])
    time.sleep(1)  # attached before the measured window opens
    return rec


def perf_stop(procs, rec):
    """SIGINT: perf writes its file and exits."""
    if rec is not None:
        procs.stop(rec, timeout=60, sig=signal.SIGINT)


# --- nginx -----------------------------------------------------------------------

def page_html():
    """A 20 KB French appointment page, exactly PAGE_BYTES bytes."""
    head = (
        '<!doctype html>\n<html lang="fr"><head><meta charset="utf-8">'
        "<title>Prise de rendez-vous — banc d'essai</title></head>\n"
        f'<body><main id="{MARKER}"><h1>Demande de rendez-vous</h1>\n'
    )
    tail = "</main></body></html>\n"
    row = (
        '<tr><td class="guichet">Guichet {i}</td><td>Remise de titre de séjour</td>'
        '<td><a class="slot" href="/creneau/{i}">Voir les créneaux</a></td></tr>\n'
    )
    body, i = "<table>\n", 0
    while len((head + body + row.format(i=i) + "</table>\n" + tail).encode()) < PAGE_BYTES:
        body += row.format(i=i)
        i += 1
    body += "</table>\n"
    pad = PAGE_BYTES - len((head + body + tail).encode()) - len("<!---->")
    return head + body + "<!--" + "x" * max(pad, 0) + "-->" + tail


def start_nginx(procs, d, port):
    www = os.path.join(d, "www")
    os.makedirs(www)
    with open(os.path.join(www, "page.html"), "w") as f:
        f.write(page_html())
    # Workers run as nobody when nginx starts as root: let them read the page.
    for path in (d, www, os.path.join(www, "page.html")):
        os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  include /etc/nginx/mime.types;
  client_body_temp_path {d}/tmp-body;
  proxy_temp_path {d}/tmp-proxy;
  fastcgi_temp_path {d}/tmp-fastcgi;
  uwsgi_temp_path {d}/tmp-uwsgi;
  scgi_temp_path {d}/tmp-scgi;
  log_format bench '$msec $request_time $status $body_bytes_sent $request_uri';
  access_log {d}/access.log bench;
  server {{
    listen 127.0.0.1:{port};
    root {www};
    location = /metrics-copy.txt {{ access_log off; }}
    location / {{ try_files /page.html =404; }}
  }}
}}
""")
    p = procs.start("nginx", ["nginx", "-e", os.path.join(d, "nginx-error.log"), "-p", d, "-c", conf])
    wait_http(port, "/ready")
    return p, os.path.join(d, "access.log"), www


def read_log(path):
    """(arrival, uri, status) for every request: $msec minus $request_time."""
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 5:
                out.append((float(parts[0]) - float(parts[1]), parts[4], parts[2]))
    return out


def requests_between(log, prefix, t0, t1):
    return [r for r in log if t0 <= r[0] < t1 and r[1].startswith(prefix)]


# --- blackbox_exporter ----------------------------------------------------------

def start_blackbox(procs, d, port):
    exe = shutil.which("prometheus-blackbox-exporter") or shutil.which("blackbox_exporter")
    if not exe:
        raise SystemExit("install the peer: apt-get install -y prometheus-blackbox-exporter")
    cfg = os.path.join(d, "blackbox.yml")
    with open(cfg, "w") as f:
        f.write(f"""modules:
  http_bench:
    prober: http
    timeout: 5s
    http:
      valid_status_codes: [200]
      fail_if_body_not_matches_regexp: ['bench-marker-[0-9]+']
""")
    p = procs.start("blackbox", [exe, "--config.file", cfg, "--web.listen-address", f"127.0.0.1:{port}"])
    wait_http(port, "/metrics")
    return p, exe


def drive_blackbox(bb_port, page_port, tag, rate, seconds, threads=4):
    """Probe the page through blackbox_exporter's /probe at `rate` checks per
    second for `seconds`; returns (checks, successes)."""
    path = f"/probe?module=http_bench&target=http://127.0.0.1:{page_port}/b/{tag}"
    counts = [0, 0]
    lock = threading.Lock()
    start = time.time() + 0.05

    def worker(k):
        c = http.client.HTTPConnection("127.0.0.1", bb_port, timeout=10)
        i = k
        while True:
            due = start + i / rate
            if due >= start + seconds:
                break
            time.sleep(max(0.0, due - time.time()))
            c.request("GET", path)
            ok = b"\nprobe_success 1" in c.getresponse().read()
            with lock:
                counts[0] += 1
                counts[1] += ok
            i += threads
        c.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return counts[0], counts[1]


# --- vigie -----------------------------------------------------------------------

def write_vigie(d, page_port, listen_port, n, steps, prefix, check="body_contains: \"" + MARKER + "\""):
    """A config dir with n probes of `steps` GETs each, probe i at second i % 60
    of every minute (n == 1: one probe scheduled yearly, for the idle figure).
    `check`: the expectation besides the status, on every step."""
    os.makedirs(os.path.join(d, "probes"), exist_ok=True)
    with open(os.path.join(d, "vigie.yaml"), "w") as f:
        f.write(f"""location: bench
contact: bench@example.org
listen: 127.0.0.1:{listen_port}
concurrency: 256
probes: ["probes/*.yaml"]
store: {{ path: vigie.db }}
alerts: {{ spool_dir: spool }}
targets:
  nginx: {{ base_url: "http://127.0.0.1:{page_port}", min_interval: 0s, max_concurrent: 256 }}
""")
    for i in range(n):
        sched = "0 0 0 1 1 *" if n == 1 else f"{i % 60} * * * * *"
        step_yaml = "".join(
            f"""  - name: s{k}
    request: {{ url: "{{{{ base_url }}}}/{prefix}/{i}/s{k}" }}
    expect: {{ status: 200, {check} }}
"""
            for k in range(1, steps + 1)
        )
        with open(os.path.join(d, "probes", f"p{i:04d}.yaml"), "w") as f:
            f.write(f"""name: p{i:04d}
title: Bench probe {i}
target: nginx
labels: {{ procedure: proc-{i % 10}, site: bench }}
schedule: "{sched}"
steps:
{step_yaml}""")
    return os.path.join(d, "vigie.yaml")


def start_vigie(procs, name, config, port):
    check = subprocess.run([VIGIE, "check", "--config", config], capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"vigie check refused the generated config:\n{check.stdout}{check.stderr}")
    p = procs.start(name, [VIGIE, "run", "--config", config])
    wait_http(port, "/healthz")
    return p


def outcomes(metrics_text):
    """Runs by outcome, from vigie_probe_runs_total."""
    out = {}
    for m in re.finditer(r'^vigie_probe_runs_total\{([^}]*)\} ([0-9.e+]+)$', metrics_text, re.M):
        o = re.search(r'outcome="([^"]*)"', m.group(1))
        key = o.group(1) if o else "?"
        out[key] = out.get(key, 0) + float(m.group(2))
    return out


def store_used_bytes(db):
    """Bytes of used pages (WAL included: a reader sees every commit)."""
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        size = c.execute("PRAGMA page_size").fetchone()[0]
        pages = c.execute("PRAGMA page_count").fetchone()[0]
        free = c.execute("PRAGMA freelist_count").fetchone()[0]
        return (pages - free) * size
    finally:
        c.close()


def lateness_ms(requests):
    """Arrival of each run's first request minus the second it was scheduled
    for (probe i runs at second i % 60 of every minute)."""
    out = []
    for arrival, uri, _ in requests:
        i = int(uri.split("/")[2])
        sec = i % 60
        late = (arrival - sec) % 60
        # A run that reached the server before its second counts as early
        # (negative), not as 59 s late.
        out.append((late - 60 if late >= 30 else late) * 1000)
    return sorted(out)


def pct(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# --- the measurements --------------------------------------------------------------

class Bench:
    """Ports, processes and results shared by the phases."""

    def __init__(self, d, mode, perf=None):
        self.d, self.mode, self.perf = d, mode, perf
        self.procs = Procs(d)
        self.page_port, self.bb_port, self.vigie_port = free_port(), free_port(), free_port()
        self.results = {}

    def setup(self):
        self.nginx, self.access_log, self.www = start_nginx(self.procs, self.d, self.page_port)
        self.bb, self.bb_exe = start_blackbox(self.procs, self.d, self.bb_port)
        status, body = http_get(self.bb_port, f"/probe?module=http_bench&target=http://127.0.0.1:{self.page_port}/b/setup")
        if b"\nprobe_success 1" not in body:
            raise SystemExit("blackbox_exporter cannot probe the nginx page:\n" + body.decode(errors="replace"))
        time.sleep(1)
        self.results["bb_idle_rss"] = status_kib(self.bb.pid, "VmRSS")

    def vigie_window(self, p, window, perf_name=None):
        """CPU seconds of vigie over `window`, with the window's bounds."""
        rec = perf_start(self.procs, self.perf, perf_name, p.pid) if perf_name else None
        t0, c0 = time.time(), cpu_seconds(p.pid)
        time.sleep(window)
        t1, c1 = time.time(), cpu_seconds(p.pid)
        perf_stop(self.procs, rec)
        return t0, t1, c1 - c0

    def cpu_round(self, config, r, vigie_first):
        m = self.mode
        rate = m["cpu_probes"] / 60
        out = {}

        def run_vigie():
            p = start_vigie(self.procs, f"vigie-cpu-{r}", config, self.vigie_port)
            time.sleep(m["cpu_warm"])
            t0, t1, cpu = self.vigie_window(p, m["cpu_window"], f"cpu-round{r + 1}")
            out["outcomes"] = outcomes(http_get(self.vigie_port, "/metrics", timeout=30)[1].decode())
            self.procs.stop(p)
            reqs = requests_between(read_log(self.access_log), "/c/", t0, t1)
            out["vigie_checks"] = len(reqs)
            out["vigie_non200"] = sum(1 for q in reqs if q[2] != "200")
            out["vigie_ms"] = cpu / max(len(reqs), 1) * 1000

        def run_peer():
            c0 = cpu_seconds(self.bb.pid)
            n, ok = drive_blackbox(self.bb_port, self.page_port, f"cpu{r}", rate, m["cpu_window"])
            out["peer_checks"], out["peer_ok"] = n, ok
            out["peer_ms"] = (cpu_seconds(self.bb.pid) - c0) / max(n, 1) * 1000

        for f in (run_vigie, run_peer) if vigie_first else (run_peer, run_vigie):
            f()
        return out

    def cpu_rounds(self):
        m = self.mode
        d = os.path.join(self.d, "cpu")
        # The same regular expression as blackbox_exporter's module: the same work.
        config = write_vigie(d, self.page_port, self.vigie_port, m["cpu_probes"], 1, "c", "body_matches: 'bench-marker-[0-9]+'")
        rounds = []
        for r in range(m["rounds"]):
            rounds.append(self.cpu_round(config, r, vigie_first=(r % 2 == 0)))
            print(f"round {r + 1}: vigie {rounds[-1]['vigie_ms']:.3f} ms/check ({rounds[-1]['vigie_checks']} checks), "
                  f"blackbox_exporter {rounds[-1]['peer_ms']:.3f} ms/check ({rounds[-1]['peer_checks']} checks)", file=sys.stderr)
        self.results["cpu_rounds"] = rounds
        self.results["bb_cpu_rss"] = status_kib(self.bb.pid, "VmRSS")

    def idle(self):
        d = os.path.join(self.d, "idle")
        config = write_vigie(d, self.page_port, self.vigie_port, 1, 1, "i")
        p = start_vigie(self.procs, "vigie-idle", config, self.vigie_port)
        time.sleep(3)
        c0, b0 = cpu_seconds(p.pid), cpu_seconds(self.bb.pid)
        time.sleep(10)
        # CPU per second of an idle daemon: a task that spins shows here.
        self.results["idle_cpu"] = (cpu_seconds(p.pid) - c0) / 10 * 1000
        self.results["bb_idle_cpu"] = (cpu_seconds(self.bb.pid) - b0) / 10 * 1000
        self.results["idle_rss"] = status_kib(p.pid, "VmRSS")
        self.procs.stop(p)

    def metrics_timing(self, p):
        """/metrics at this scale, next to nginx serving the same bytes."""
        n = self.mode["gets"]
        body = http_get(self.vigie_port, "/metrics", timeout=60)[1]
        rec = perf_start(self.procs, self.perf, "metrics", p.pid)
        c0 = cpu_seconds(p.pid)
        med, mx, size = timed_gets(self.vigie_port, "/metrics", n)
        cpu = (cpu_seconds(p.pid) - c0) / n * 1000
        perf_stop(self.procs, rec)
        copy = os.path.join(self.www, "metrics-copy.txt")
        with open(copy, "wb") as f:
            f.write(body)
        os.chmod(copy, 0o644)
        smed, smx, ssize = timed_gets(self.page_port, "/metrics-copy.txt", n)
        series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
        return dict(med=med, max=mx, size=size, cpu_ms=cpu, series=series, static_med=smed, static_max=smx, static_size=ssize,
                    outcomes=outcomes(body.decode()))

    def scale(self, n):
        """n probes x 5 steps, each every minute: RSS, lateness, store, /metrics."""
        m = self.mode
        d = os.path.join(self.d, f"scale{n}")
        config = write_vigie(d, self.page_port, self.vigie_port, n, STEPS, "p")
        db = os.path.join(d, "vigie.db")
        p = start_vigie(self.procs, f"vigie-{n}", config, self.vigie_port)
        t_start = time.time()
        time.sleep(m["settle"])
        u0 = store_used_bytes(db)
        t0, t1, cpu = self.vigie_window(p, m["window"])
        u1 = store_used_bytes(db)
        res = dict(rss=status_kib(p.pid, "VmRSS"), hwm=status_kib(p.pid, "VmHWM"), cpu=cpu)
        res["metrics"] = self.metrics_timing(p)
        self.procs.stop(p)
        log = read_log(self.access_log)
        window = requests_between(log, "/p/", t0, t1)
        firsts = [q for q in window if q[1].endswith("/s1")]
        every_run = [q for q in requests_between(log, "/p/", t_start, time.time()) if q[1].endswith("/s1")]
        files = sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))
        res.update(runs=len(firsts), steps=len(window), non200=sum(1 for q in window if q[2] != "200"),
                   late=lateness_ms(firsts), store_growth=u1 - u0, all_runs=len(every_run), file_bytes=files)
        res["peer"] = self.peer_at_rate(n * STEPS / 60, f"scale{n}")
        self.results[f"scale{n}"] = res

    def metrics_only(self, n):
        """n probes x 5 steps: once every probe has run, /metrics next to nginx."""
        d = os.path.join(self.d, f"scale{n}")
        config = write_vigie(d, self.page_port, self.vigie_port, n, STEPS, "p")
        p = start_vigie(self.procs, f"vigie-{n}", config, self.vigie_port)
        # Probe i runs at second i % 60: after 62 s every probe has series.
        time.sleep(max(self.mode["settle"], 62))
        self.results[f"metrics{n}"] = self.metrics_timing(p)
        self.procs.stop(p)

    def peer_at_rate(self, rate, tag):
        c0 = cpu_seconds(self.bb.pid)
        n, ok = drive_blackbox(self.bb_port, self.page_port, tag, rate, self.mode["peer_window"])
        return dict(rate=rate, checks=n, ok=ok, cpu_ms=(cpu_seconds(self.bb.pid) - c0) / max(n, 1) * 1000,
                    rss=status_kib(self.bb.pid, "VmRSS"), hwm=status_kib(self.bb.pid, "VmHWM"))


# --- the report ----------------------------------------------------------------------

def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def ratio(a, b):
    return f"{a / b:.2f}" if b else "—"


def cpu_rows(r):
    rounds = r["cpu_rounds"]
    v = [x["vigie_ms"] for x in rounds]
    b = [x["peer_ms"] for x in rounds]
    vm, bm = statistics.median(v), statistics.median(b)
    checks = sum(x["vigie_checks"] for x in rounds)
    pchecks = sum(x["peer_checks"] for x in rounds)
    return [(
        f"CPU per single-GET check, median of {len(rounds)} alternated rounds [min–max]",
        f"{vm:.3f} ms [{min(v):.3f}–{max(v):.3f}] ({checks} checks)",
        f"{bm:.3f} ms [{min(b):.3f}–{max(b):.3f}] ({pchecks} checks)",
        ratio(vm, bm), "≤ 0.35",
    )]


def scale_rows(r, n, last):
    s = r[f"scale{n}"]
    peer, met, late = s["peer"], s["metrics"], s["late"]
    rows = [
        (f"RSS, {n:,} probes × 5 steps (peak VmHWM)", f"{mib(s['rss'])} ({mib(s['hwm'])})",
         f"{mib(peer['rss'])} ({mib(peer['hwm'])}) at the same {peer['rate']:.1f} checks/s",
         ratio(s["rss"], peer["rss"]), "≤ 40 MiB" if last else "—"),
        (f"CPU per step, {n:,} probes × 5 steps", f"{s['cpu'] / max(s['steps'], 1) * 1000:.3f} ms ({s['steps']} steps)",
         f"{peer['cpu_ms']:.3f} ms per check ({peer['checks']} checks)",
         ratio(s["cpu"] / max(s["steps"], 1) * 1000, peer["cpu_ms"]), "—"),
        (f"GET /metrics, {n:,} probes × 5 steps: median (max) [CPU per scrape]",
         f"{met['med']:.1f} ms ({met['max']:.1f} ms) [{met['cpu_ms']:.1f} ms]; {met['series']:,} series, {met['size'] / 1e6:.2f} MB",
         f"nginx, static file of the same {met['static_size'] / 1e6:.2f} MB: {met['static_med']:.1f} ms ({met['static_max']:.1f} ms)",
         ratio(met["med"], met["static_med"]), "≤ 10 ms and ≤ 3× nginx" if last else "—"),
        (f"scheduler lateness seen by nginx, {n:,} probes: p50 / p99 / max ({len(late)} runs)",
         f"{pct(late, 0.5):.0f} / {pct(late, 0.99):.0f} / {late[-1] if late else float('nan'):.0f} ms", "—", "—",
         "p99 ≤ 5 ms" if last else "—"),
    ]
    if last:
        rows.append((f"store, bytes per run of 5 steps (growth of used pages over {s['runs']} runs)",
                     f"{s['store_growth'] / max(s['runs'], 1):.0f} B", "—", "—", "≤ 150 B (runs of 3 steps)"))
        rows.append((f"store, whole file after shutdown / every run of the phase",
                     f"{s['file_bytes'] / max(s['all_runs'], 1):.0f} B ({s['file_bytes'] / 1e6:.2f} MB / {s['all_runs']} runs)",
                     "—", "—", "—"))
    return rows


def metrics_only_rows(r, n):
    met = r[f"metrics{n}"]
    return [(f"GET /metrics, {n:,} probes × 5 steps: median (max) [CPU per scrape]",
             f"{met['med']:.1f} ms ({met['max']:.1f} ms) [{met['cpu_ms']:.1f} ms]; {met['series']:,} series, {met['size'] / 1e6:.2f} MB",
             f"nginx, static file of the same {met['static_size'] / 1e6:.2f} MB: {met['static_med']:.1f} ms ({met['static_max']:.1f} ms)",
             ratio(met["med"], met["static_med"]), "≤ 10 ms and ≤ 3× nginx")]


def report(b, env):
    r = b.results
    if env["only"]:
        rows = cpu_rows(r) if env["only"] == "cpu" else metrics_only_rows(r, b.mode["scales"][-1])
        print_table(env, rows)
        if env["only"] == "cpu":
            print(sanity(r, []))
        else:
            print(f"- outcomes {r['metrics' + str(b.mode['scales'][-1])]['outcomes']}")
        return
    rows = [("RSS, idle (1 probe)", mib(r["idle_rss"]), f"{mib(r['bb_idle_rss'])} (idle)",
             ratio(r["idle_rss"], r["bb_idle_rss"]), "—"),
            ("CPU, idle (1 probe), over 10 s", f"{r['idle_cpu']:.1f} ms per s", f"{r['bb_idle_cpu']:.1f} ms per s",
             ratio(r["idle_cpu"], r["bb_idle_cpu"]), "—")]
    rows += cpu_rows(r)
    for n in b.mode["scales"]:
        rows += scale_rows(r, n, last=(n == b.mode["scales"][-1]))
    print_table(env, rows)
    print(sanity(r, b.mode["scales"]))


def print_table(env, rows):
    flags = (" --quick" if env["quick"] else "") + (f" --only {env['only']}" if env["only"] else "")
    flags += f" --cpu-warm {env['cpu_warm']:g}" if env.get("cpu_warm") is not None else ""
    print()
    print(f"Command: `python3 benches/daemon.py{flags}` ({env['date']}, {env['secs']:.0f} s)  ")
    print(f"Machine: {env['machine']}; load average (1, 5, 15 min) {env['load0']} at start, {env['load1']} at end.  ")
    print(f"Versions: {env['vigie']}; {env['bb']}; {env['nginx']}.")
    print()
    print("| figure | vigie | peer (same run) | ratio | goal |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def sanity(r, scales):
    """What could make the figures wrong: failures and short counts."""
    notes = []
    for n in scales:
        s = r[f"scale{n}"]
        notes.append(f"{n} probes: {s['runs']} runs, {s['steps']} steps in the window, {s['non200']} non-200; "
                     f"outcomes {s['metrics']['outcomes']}; blackbox_exporter {s['peer']['ok']}/{s['peer']['checks']} successful")
    for i, x in enumerate(r["cpu_rounds"]):
        notes.append(f"CPU round {i + 1}: vigie {x['vigie_ms']:.3f} ms × {x['vigie_checks']} checks ({x['vigie_non200']} non-200, "
                     f"outcomes {x['outcomes']}), blackbox_exporter {x['peer_ms']:.3f} ms × {x['peer_checks']} ({x['peer_ok']} ok)")
    return "\n".join("- " + n for n in notes)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short windows (about 3 min): a smoke test, not figures")
    ap.add_argument("--only", choices=("cpu", "metrics"), help="run one section: the CPU rounds, or /metrics at 1,000 probes")
    ap.add_argument("--cpu-warm", type=float, metavar="S",
                    help="open vigie's CPU window S seconds after its start (default 62: every probe has run once; "
                         "5 measures first runs too, as before the second pass)")
    ap.add_argument("--perf", metavar="DIR", help="record `perf record --call-graph dwarf` of vigie during each measured window into DIR")
    args = ap.parse_args()
    if not os.path.exists(VIGIE):
        raise SystemExit(f"{VIGIE} is missing: cargo build --release")
    if not shutil.which("nginx"):
        raise SystemExit("nginx is missing: apt-get install -y nginx-light")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    env = dict(quick=args.quick, only=args.only, cpu_warm=args.cpu_warm, load0=loadavg(), machine=machine(), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               vigie=version([VIGIE, "--version"]), nginx=version(["nginx", "-v"]))
    started = time.time()
    d = tempfile.mkdtemp(prefix="vigie-bench-")
    mode = dict(QUICK if args.quick else FULL)
    if args.cpu_warm is not None:
        mode["cpu_warm"] = args.cpu_warm
    b = Bench(d, mode, perf=os.path.abspath(args.perf) if args.perf else None)
    try:
        b.setup()
        env["bb"] = version([b.bb_exe, "--version"])
        if args.only == "cpu":
            b.cpu_rounds()
        elif args.only == "metrics":
            b.metrics_only(b.mode["scales"][-1])
        else:
            b.idle()
            b.cpu_rounds()
            for n in b.mode["scales"]:
                print(f"{n} probes × {STEPS} steps…", file=sys.stderr)
                b.scale(n)
    finally:
        b.procs.stop_all()
        shutil.rmtree(d, ignore_errors=True)
    env.update(load1=loadavg(), secs=time.time() - started)
    report(b, env)


if __name__ == "__main__":
    main()
