//! The binary's alerting commands as a user runs them: `vigie check` shows
//! the store, delivery, recipients and maintenance windows; `vigie outbox`
//! lists, shows and requeues e-mails; `vigie run` refuses a database written
//! by a newer vigie.

use std::path::Path;
use std::process::Command;

use vigie::alert::machine::NoticeKind;
use vigie::store::outbox::{enqueue, mark_failed, mark_sent, NewEmail};
use vigie::store::Store;

fn vigie(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run vigie");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_config(dir: &Path) {
    std::fs::create_dir_all(dir.join("probes")).expect("mkdir");
    std::fs::write(
        dir.join("probes/rdv.yaml"),
        "name: rdv\ntitle: Créneau\ntarget: prefecture\nlabels: { procedure: titre-sejour }\nschedule: \"*/15 * * * *\"\n\
         alerts: { failure_threshold: 3, to: [avocat@cabinet.example] }\n\
         steps:\n  - name: home\n    request: { url: \"{{ base_url }}/\" }\n",
    )
    .expect("probe");
    std::fs::write(
        dir.join("vigie.yaml"),
        "location: paris\ncontact: veille@asso.example\nprobes: [\"probes/*.yaml\"]\n\
         targets:\n  prefecture: { base_url: \"http://127.0.0.1:9\" }\n\
         store: { path: var/vigie.db, retention: { runs: 30d, rollups: 2y } }\n\
         alerts:\n  to: [\"Veille <veille@asso.example>\"]\n  by_procedure: { titre-sejour: [juriste@asso.example] }\n\
         maintenance:\n  - name: dimanche-soir\n    cron: \"0 22 * * 0\"\n    duration: 2h\n    targets: [prefecture]\n",
    )
    .expect("config");
}

#[test]
fn check_summarises_store_delivery_recipients_and_maintenance() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_config(dir.path());
    let (code, out, err) = vigie(&["check", "--config", "vigie.yaml"], dir.path());
    assert_eq!(code, 0, "{err}");
    for needle in [
        "history store: var/vigie.db",
        "keeps raw runs 30 day(s), hourly rollups 2 year(s)",
        "no SMTP configured: e-mails are written as .eml files into var/spool",
        "rdv                          → veille@asso.example, juriste@asso.example, avocat@cabinet.example  [outage after 3, over after 2; failing: broken, down]",
        "dimanche-soir                \"0 22 * * 0\" for 2 h 00 min",
        "target prefecture; next ",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn outbox_lists_shows_and_requeues() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_config(dir.path());
    let (code, _, err) = vigie(&["outbox", "--config", "vigie.yaml"], dir.path());
    assert_ne!(code, 0);
    assert!(err.contains("no history database at var/vigie.db"), "{err}");

    let store = Store::open(&dir.path().join("var/vigie.db")).expect("store");
    let now = chrono::Utc::now();
    let add = |subject: &str, kind| {
        enqueue(
            store.conn(),
            &NewEmail {
                created_at: now,
                kind,
                recipients: &["veille@asso.example".to_string()],
                sender: "vigie@localhost",
                subject,
                message_id: &format!("{subject}@localhost"),
                raw: format!("Subject: {subject}\r\n\r\nbody\r\n").as_bytes(),
                incidents: &[1],
            },
        )
        .expect("enqueue")
    };
    let sent = add("[vigie] PANNE — Créneau (inaccessible)", NoticeKind::Opened);
    let refused = add("[vigie] RÉTABLI — Créneau (panne de 12 min)", NoticeKind::Recovered);
    mark_sent(store.conn(), sent, now, "smtp 127.0.0.1:25").expect("sent");
    mark_failed(store.conn(), refused, "550 5.1.1 no such user", now, true).expect("failed");

    let (code, out, err) = vigie(&["outbox", "--config", "vigie.yaml"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 queued, 1 failed"), "{out}");
    assert!(
        out.contains("RÉTABLI") && !out.contains("PANNE"),
        "sent ones only with --all:\n{out}"
    );
    assert!(out.contains("last error: 550 5.1.1 no such user"), "{out}");
    assert!(out.contains(&format!("vigie outbox --retry {refused}")), "{out}");
    let (_, all, _) = vigie(&["outbox", "--db", "var/vigie.db", "--all"], dir.path());
    assert!(all.contains("PANNE") && all.contains("delivered"), "{all}");
    let (_, shown, _) = vigie(&["outbox", "--db", "var/vigie.db", "--show", &sent.to_string()], dir.path());
    assert!(shown.starts_with("Subject: [vigie] PANNE"), "{shown}");
    let (code, out, _) = vigie(&["outbox", "--db", "var/vigie.db", "--retry", "all"], dir.path());
    assert_eq!(code, 0);
    assert!(out.starts_with("1 failed e-mail(s) queued again"), "{out}");
    let (_, out, _) = vigie(&["outbox", "--db", "var/vigie.db"], dir.path());
    assert!(out.contains("1 queued, 0 failed"), "{out}");
}

#[test]
fn run_refuses_a_database_from_a_newer_vigie() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_config(dir.path());
    let store = Store::open(&dir.path().join("var/vigie.db")).expect("store");
    store
        .conn()
        .execute_batch(&format!("PRAGMA user_version = {}", vigie::store::schema::CURRENT_VERSION + 1))
        .expect("bump");
    drop(store);
    let (code, _, err) = vigie(&["run", "--config", "vigie.yaml", "--listen", "127.0.0.1:0"], dir.path());
    assert_ne!(code, 0);
    assert!(err.contains("written by a newer vigie"), "{err}");
}
