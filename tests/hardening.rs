//! What vigie sends and where, and the monitor's own failures: a 307/308 to
//! another origin is not followed with the form (password included); a
//! redirect into a network the target is not on (cloud metadata, private
//! addresses) is refused; a panic inside a run is `unobserved`; the HTTP
//! server drops a client trickling its headers and keeps probing while
//! 1,000 idle connections are open. All over real loopback sockets.

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use support::*;
use vigie::probe::{Outcome, Reason};

const ECHO_TARGET: &str = "  echo: { base_url: \"http://ECHO\", min_interval: 1ms, max_concurrent: 8 }\n";

async fn echo_workspace(sim: &vigie::sim::SimHandle) -> (Workspace, String) {
    let echo = support::echo::start().await;
    let ws = Workspace::new();
    let cfg = ws.write_config(sim, "");
    let text = std::fs::read_to_string(&cfg).expect("read config") + &ECHO_TARGET.replace("ECHO", &echo.to_string());
    std::fs::write(&cfg, text).expect("write config");
    (ws, format!("http://{echo}"))
}

fn one_step(name: &str, request: &str) -> String {
    format!(
        "name: {name}\ntitle: {name}\ntarget: echo\nschedule: \"* * * * *\"\ntimeout: 5s\nsteps:\n  - name: s\n    request: {request}\n"
    )
}

#[tokio::test]
async fn a_307_to_another_origin_never_carries_the_form() {
    let sim = start_sim().await;
    let (ws, echo) = echo_workspace(&sim).await;
    // Another origin: same server, another host name.
    let other = echo.replace("127.0.0.1", "localhost");
    for code in [307, 308] {
        let name = format!("post-{code}");
        ws.write_probe(
            &name,
            &one_step(
                &name,
                &format!("{{ method: POST, url: \"{{{{ base_url }}}}/redirect/{code}?to={other}/stolen\", form: {{ password: \"hunter2-secret-value\" }} }}"),
            ),
        );
    }
    ws.write_probe(
        "post-307-same-origin",
        &one_step(
            "post-307-same-origin",
            "{ method: POST, url: \"{{ base_url }}/redirect/307?to=/after\", form: { a: \"1\" } }",
        ),
    );
    let cfg = ws.load();
    for code in [307, 308] {
        let r = run(&cfg, &format!("post-{code}")).await;
        assert_eq!(
            (r.outcome, r.reason),
            (Outcome::Broken, Some(Reason::UnsafeRedirect)),
            "{}",
            describe(&r)
        );
        let msg = r.message.clone().unwrap_or_default();
        assert!(msg.contains(&format!("HTTP {code} to another origin")), "{msg}");
    }
    let r = run(&cfg, "post-307-same-origin").await;
    assert_eq!(r.outcome, Outcome::Up, "a 307 within the origin is followed: {}", describe(&r));
    sim.shutdown().await;
}

#[tokio::test]
async fn redirects_into_metadata_or_private_networks_are_refused() {
    let sim = start_sim().await;
    let (ws, _) = echo_workspace(&sim).await;
    // The target is on loopback: link-local (metadata) and private
    // addresses are other networks. Nothing is sent there: the run ends
    // before any connection (these addresses are not routed here anyway).
    for (name, to) in [
        ("metadata", "http://169.254.169.254/latest/meta-data/"),
        ("private", "http://10.0.0.1/admin"),
        ("ula", "http://[fd00::1]/"),
    ] {
        ws.write_probe(
            name,
            &one_step(name, &format!("{{ url: \"{{{{ base_url }}}}/redirect/302?to={to}\" }}")),
        );
    }
    let cfg = ws.load();
    for name in ["metadata", "private", "ula"] {
        let t0 = Instant::now();
        let r = run(&cfg, name).await;
        assert_eq!(
            (r.outcome, r.reason),
            (Outcome::Broken, Some(Reason::UnsafeRedirect)),
            "{name}: {}",
            describe(&r)
        );
        assert!(t0.elapsed() < Duration::from_secs(2), "refused without trying to connect");
        assert!(r.message.unwrap_or_default().contains("refused"));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_panic_inside_a_run_is_unobserved_not_an_outage() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "");
    ws.write_probe(
        "p",
        "name: p\ntitle: p\ntarget: anef-sim\nschedule: \"* * * * *\"\nsteps:\n  - name: a\n    request: { url: \"{{ base_url }}/particuliers/\" }\n",
    );
    let cfg = ws.load();
    let probe = cfg.probe("p").expect("probe");
    let r = vigie::runner::caught::caught(probe, None, async {
        let v: Vec<u8> = Vec::new();
        // A bug inside the run: an out-of-bounds index.
        let _ = v[usize::from(v.is_empty())];
        unreachable!()
    })
    .await;
    assert_eq!((r.outcome, r.reason), (Outcome::Unobserved, Some(Reason::MonitorError)));
    assert!(r.message.unwrap_or_default().contains("panic"));
    // A run that does not panic goes through unchanged.
    let runner = runner_for(&cfg);
    let r = vigie::runner::caught::caught(probe, None, runner.run(probe, None)).await;
    assert_eq!(r.outcome, Outcome::Up, "{}", describe(&r));
    sim.shutdown().await;
}

/// `vigie run` with only 256 file descriptors, as a small server's limit.
/// A daemon killed when the test ends, passed or failed.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_limited_daemon(ws: &Workspace, listen: &str) -> std::process::Child {
    std::process::Command::new("sh")
        .args(["-c", "ulimit -n 256 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_vigie"))
        .args(["run", "--listen", listen, "--config"])
        .arg(ws.config_path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start vigie run")
}

fn runs_by_outcome(ws: &Workspace) -> Vec<(String, i64)> {
    let Ok(c) = rusqlite::Connection::open(ws.path().join("var/vigie.db")) else {
        return vec![];
    };
    let Ok(mut s) = c.prepare("SELECT outcome, COUNT(*) FROM runs GROUP BY outcome ORDER BY outcome") else {
        return vec![];
    };
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map(|rows| rows.filter_map(|r| r.ok()).collect())
        .unwrap_or_default()
}

fn count(runs: &[(String, i64)], outcome: &str) -> i64 {
    runs.iter().find(|(o, _)| o == outcome).map(|(_, n)| *n).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_cannot_starve_probing_and_slow_clients_are_dropped() {
    let sim = start_sim().await;
    let ws = Workspace::new();
    ws.write_config(&sim, "store: { path: var/vigie.db }\n");
    ws.write_probe(
        "home",
        "name: home\ntitle: home\ntarget: anef-sim\nschedule: \"* * * * * *\"\ntimeout: 5s\nsteps:\n  - name: a\n    request: { url: \"{{ base_url }}/particuliers/\" }\n",
    );
    let listen = format!("127.0.0.1:{}", support::smtp::free_port());
    let mut child = KillOnDrop(start_limited_daemon(&ws, &listen));
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&runs_by_outcome(&ws), "up") < 2 {
        assert!(Instant::now() < deadline, "the daemon should probe: {:?}", runs_by_outcome(&ws));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 1,000 idle connections to its HTTP port: four times its descriptor limit.
    let idle: Vec<std::net::TcpStream> = (0..1000).filter_map(|_| std::net::TcpStream::connect(&listen).ok()).collect();
    assert!(idle.len() >= 500, "opened {} idle connections", idle.len());
    let before = runs_by_outcome(&ws);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = runs_by_outcome(&ws);
    assert!(
        count(&after, "up") >= count(&before, "up") + 3,
        "probing went on with 1,000 idle connections open: {before:?} → {after:?}"
    );
    assert_eq!(
        count(&after, "down"),
        0,
        "vigie's exhaustion is never the portal's outage: {after:?}"
    );
    drop(idle);

    // A client sending one header byte every 2 s is dropped by the header timeout.
    let addr = listen.clone();
    let took = tokio::task::spawn_blocking(move || trickle(&addr)).await.expect("slow client");
    assert!(took < Duration::from_secs(30), "the trickling client was dropped after {took:?}");
    let metrics = reqwest::get(format!("http://{listen}/metrics")).await.expect("GET /metrics");
    assert_eq!(metrics.status(), 200);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status();
    let _ = child.0.wait();
    sim.shutdown().await;
}

/// Send a request one byte every 2 s; how long until the server hangs up.
fn trickle(addr: &str) -> Duration {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let t0 = Instant::now();
    let request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    for b in request {
        if s.write_all(&[*b]).is_err() {
            break;
        }
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            _ => break,
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    t0.elapsed()
}

/// A one-shot raw TCP server answering every connection with `reply`.
fn raw_server(reply: &'static [u8]) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        for s in l.incoming().flatten().take(8) {
            let mut s = s;
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
            let _ = s.flush();
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn answers_that_are_not_http_are_protocol_errors() {
    let sim = start_sim().await;
    let cases: [(&str, &'static [u8]); 3] = [
        ("garbage-status", b"HTTQ/9.9 banane\r\n\r\n"),
        (
            "truncated-body",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\nshort",
        ),
        (
            "corrupt-gzip",
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 20\r\nConnection: close\r\n\r\n\x1f\x8b\x08\x00garbage-not-gzip",
        ),
    ];
    for (name, reply) in cases {
        let ws = Workspace::new();
        let cfg_path = ws.write_config(&sim, "");
        let url = raw_server(reply);
        let text = std::fs::read_to_string(&cfg_path).expect("read") + &format!("  raw: {{ base_url: \"{url}\", min_interval: 1ms }}\n");
        std::fs::write(&cfg_path, text).expect("write");
        ws.write_probe(
            name,
            &format!("name: {name}\ntitle: {name}\ntarget: raw\nschedule: \"* * * * *\"\ntimeout: 3s\nsteps:\n  - name: s\n    request: {{ url: \"{{{{ base_url }}}}/\" }}\n"),
        );
        let cfg = ws.load();
        let r = run(&cfg, name).await;
        assert_eq!(
            (r.outcome, r.reason),
            (Outcome::Down, Some(Reason::Protocol)),
            "{name}: {}",
            describe(&r)
        );
    }
    sim.shutdown().await;
}
