//! Setting up an instance with the real `vigie` binary: `vigie init` (flags,
//! answers on standard input, refusals, never overwriting an edit), `vigie
//! new` (each kind of address, bad addresses, the generated probes run
//! against the simulator) and `vigie backup` while the daemon writes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BOOKING_URL: &str = "https://www.essonne.gouv.fr/booking/create/4242/1";
const RDV_URL: &str = "https://www.rdv-prefecture.interieur.gouv.fr/rdvpref/reservation/demarche/2107/cgu/";
const ANEF_URL: &str = "https://administration-etrangers-en-france.interieur.gouv.fr/particuliers/#/espace-personnel/mon-compte";

fn vigie(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run vigie")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// `vigie init` with every flag into `dir`.
fn init(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "init",
        "--dir",
        s(dir),
        "--location",
        "lyon-test",
        "--contact",
        "veille@asso.example",
        "--alert-to",
        "equipe@asso.example",
        "--non-interactive",
    ];
    args.extend_from_slice(extra);
    vigie(&args)
}

/// How many live probes the repository ships (init copies them all).
fn live_probes() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/probes/live"))
        .expect("probes/live")
        .count()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn init_with_flags_writes_a_configuration_that_checks_and_says_what_next() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("vigie");
    let out = init(&dir, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("créé       {}", dir.join("vigie.yaml").display())),
        "{stdout}"
    );
    assert!(stdout.contains("probes/rdv-prefecture.yaml"), "{stdout}");
    assert!(
        stdout.contains(&format!("OK — {} probe(s)", live_probes())),
        "vigie check ran: {stdout}"
    );
    assert!(stdout.contains("location \"lyon-test\""), "{stdout}");
    assert!(stdout.contains("Prochaines étapes"), "{stdout}");
    assert!(
        stdout.contains("vigie new 'https://www.<département>.gouv.fr/booking/create/<id>/0'"),
        "{stdout}"
    );
    let cfg = read(&dir.join("vigie.yaml"));
    assert!(cfg.contains("\nlocation: \"lyon-test\"\n"), "{cfg}");
    assert!(cfg.contains("\ncontact: \"veille@asso.example\"\n"), "{cfg}");
    assert!(cfg.contains("  to: [\"equipe@asso.example\"]"), "{cfg}");
    assert!(cfg.contains("  path: \"var/vigie.db\""), "{cfg}");
    let check = vigie(&["check", "--config", s(&dir.join("vigie.yaml"))]);
    assert_eq!(check.status.code(), Some(0), "{:?}", text(&check));

    let en = init(&tmp.path().join("en"), &["--lang", "en"]);
    let (stdout, _) = text(&en);
    assert!(stdout.contains("created    ") && stdout.contains("Next steps:"), "{stdout}");
}

#[test]
fn init_never_replaces_an_edited_file_without_force_and_keeps_it_then() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("vigie");
    assert_eq!(init(&dir, &[]).status.code(), Some(0));
    let config = dir.join("vigie.yaml");
    let edited = read(&config).replace("concurrency: 8 ", "concurrency: 3 ");
    std::fs::write(&config, &edited).expect("edit");

    let again = init(&dir, &[]);
    let (stdout, stderr) = text(&again);
    assert_eq!(again.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("{} existe déjà et a été modifié", config.display())),
        "{stderr}"
    );
    assert!(stderr.contains("Rien n'a été écrit"), "{stderr}");
    assert_eq!(read(&config), edited, "the edit is untouched");

    let forced = init(&dir, &["--force"]);
    let (stdout, stderr) = text(&forced);
    assert_eq!(forced.status.code(), Some(0), "{stdout}\n{stderr}");
    let backup = PathBuf::from(format!("{}.avant-init", config.display()));
    assert!(
        stdout.contains(&format!("l'ancien est gardé dans {}", backup.display())),
        "{stdout}"
    );
    assert!(stdout.contains("inchangé   "), "unedited probes are left alone: {stdout}");
    assert_eq!(read(&backup), edited);
    assert!(read(&config).contains("concurrency: 8 "));
}

#[test]
fn init_asks_on_standard_input_and_names_what_is_missing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("vigie");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["init", "--dir", s(&dir)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vigie init");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all("marseille-asso\nhttps://asso.example/contact\nÉquipe <equipe@asso.example>\n".as_bytes())
        .expect("answers");
    let out = child.wait_with_output().expect("vigie init");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("Point d'observation (location, ex. paris-bureau) :"), "{stderr}");
    assert!(stderr.contains("Destinataire des e-mails d'alerte :"), "{stderr}");
    let cfg = read(&dir.join("vigie.yaml"));
    assert!(cfg.contains("\nlocation: \"marseille-asso\"\n"), "{cfg}");
    assert!(cfg.contains("\ncontact: \"https://asso.example/contact\"\n"), "{cfg}");
    assert!(cfg.contains("  to: [\"Équipe <equipe@asso.example>\"]"), "{cfg}");

    let none = vigie(&["init", "--dir", s(&tmp.path().join("rien"))]);
    let (_, stderr) = text(&none);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr.contains("il manque --location, --contact, --alert-to"), "{stderr}");
    assert!(!tmp.path().join("rien").exists(), "nothing written");
}

#[test]
fn init_refuses_bad_values_at_their_future_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("vigie");
    let out = vigie(&[
        "init",
        "--dir",
        s(&dir),
        "--location",
        "Lyon Bureau",
        "--contact",
        "personne",
        "--alert-to",
        "equipe@asso.example",
        "-n",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let file = dir.join("vigie.yaml");
    assert!(
        stderr.contains(&format!("{}:13:11: invalid location `Lyon Bureau`", file.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}:17:10: `contact` must be an e-mail address or a URL", file.display())),
        "{stderr}"
    );
    assert!(stderr.contains("Rien n'a été écrit."), "{stderr}");
    assert!(!dir.exists());
}

#[test]
fn init_replaces_the_package_copy_without_force_and_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("etc-vigie");
    let t = vigie(&["init", "--template", "--dir", s(&dir)]);
    assert_eq!(t.status.code(), Some(0), "{:?}", text(&t));
    let shipped = read(&dir.join("vigie.yaml"));
    assert!(
        shipped.contains("\nlocation: \"a-renseigner\"\n") && shipped.contains("\"/var/lib/vigie/vigie.db\""),
        "{shipped}"
    );
    let out = init(&dir, &["--store", "/var/lib/vigie/vigie.db"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("(copie d'origine du paquet, jamais modifiée)"), "{stdout}");
    assert!(!dir.join("vigie.yaml.avant-init").exists());
}

#[test]
fn new_refuses_unknown_addresses_listing_the_known_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for bad in [
        "www.essonne.gouv.fr/booking",
        "https://www.essonne.gouv.fr/demarches/titres-de-sejour",
        "https://www.rdv-prefecture.interieur.gouv.fr/rdvpref/",
        "https://rendezvous.example.org/booking/create/12/0",
    ] {
        let out = vigie(&["new", bad, "--dir", s(tmp.path())]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stdout}\n{stderr}");
        assert!(stderr.contains(&format!("« {bad} »")), "{stderr}");
        assert!(
            stderr.contains("vigie new connaît ces adresses / knows these addresses:"),
            "{stderr}"
        );
        assert!(
            stderr.contains("https://www.<département>.gouv.fr/booking/create/<id>/<étape>"),
            "{stderr}"
        );
    }
    assert_eq!(std::fs::read_dir(tmp.path()).expect("dir").count(), 0, "nothing written");
}

#[test]
fn new_from_each_kind_of_address_gives_a_probe_that_checks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("vigie");
    assert_eq!(init(&dir, &[]).status.code(), Some(0));
    let config = dir.join("vigie.yaml");

    let out = vigie(&["new", BOOKING_URL, "--config", s(&config)]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let probe = dir.join("probes/prefecture-essonne-4242.yaml");
    assert!(stdout.contains(&format!("sonde écrite : {}", probe.display())), "{stdout}");
    assert!(stdout.contains("cible « prefecture-essonne » ajoutée"), "{stdout}");
    let yaml = read(&probe);
    assert!(yaml.contains("form_id: \"4242\"") && yaml.contains(BOOKING_URL), "{yaml}");
    assert!(read(&config).contains("\n  prefecture-essonne:\n    base_url: \"https://www.essonne.gouv.fr\"\n    min_interval: 30s"));

    let again = vigie(&["new", BOOKING_URL, "--config", s(&config)]);
    let (stdout, _) = text(&again);
    assert_eq!(again.status.code(), Some(0));
    assert!(stdout.contains("cible « prefecture-essonne » : déjà dans"), "added once: {stdout}");
    let other = vigie(&["new", BOOKING_URL, "--config", s(&config), "--planning", "14471"]);
    let (_, stderr) = text(&other);
    assert_eq!(
        other.status.code(),
        Some(2),
        "a different probe of the same name is refused: {stderr}"
    );
    assert!(stderr.contains("existe déjà avec un autre contenu"), "{stderr}");

    let rdv = vigie(&["new", RDV_URL, "--config", s(&config)]);
    assert_eq!(rdv.status.code(), Some(0), "{:?}", text(&rdv));
    assert!(text(&rdv).0.contains("cible « rdv-prefecture » : déjà dans"));
    assert!(read(&dir.join("probes/rdv-prefecture-2107.yaml")).contains("demarche_id: \"2107\""));

    let anef = vigie(&["new", ANEF_URL, "--config", s(&config)]);
    assert_eq!(anef.status.code(), Some(0), "{:?}", text(&anef));
    let yaml = read(&dir.join("probes/anef-espace-personnel-mon-compte.yaml"));
    assert!(
        yaml.contains("kind: browser") && yaml.contains("goto: \"{{ base_url }}/particuliers/#/espace-personnel/mon-compte\""),
        "{yaml}"
    );

    let check = vigie(&["check", "--config", s(&config)]);
    let (stdout, stderr) = text(&check);
    assert_eq!(check.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("OK — {} probe(s)", live_probes() + 3)), "{stdout}");
    assert!(
        stdout.contains("prefecture-essonne-4242  — Préfecture (essonne)"),
        "enabled: {stdout}"
    );
}

#[test]
fn new_without_a_configuration_prints_the_target_to_add() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = vigie(&[
        "new",
        "https://www.seine-saint-denis.gouv.fr/booking/create/9829/0",
        "--dir",
        s(tmp.path()),
        "--lang",
        "en",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("add under `targets:` in vigie.yaml"), "{stdout}");
    assert!(
        stdout.contains("  prefecture-seine-saint-denis:\n    base_url: \"https://www.seine-saint-denis.gouv.fr\""),
        "{stdout}"
    );
    assert!(tmp.path().join("prefecture-seine-saint-denis-9829.yaml").is_file());
}

/// The generated probes walk the simulator's booking module and
/// RDV-Préfecture (which model the real ones) to the end.
// The probes run in child processes: the simulator needs its own threads
// while this test waits for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_probes_run_against_the_simulator() {
    let sim = vigie::sim::start(vigie::sim::SimConfig::loopback_ephemeral())
        .await
        .expect("simulator");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("vigie");
    assert_eq!(init(&dir, &[]).status.code(), Some(0));
    let config = dir.join("vigie.yaml");
    for url in [BOOKING_URL, RDV_URL] {
        assert_eq!(vigie(&["new", url, "--config", s(&config)]).status.code(), Some(0));
    }
    let text_cfg = read(&config)
        .replace("https://www.essonne.gouv.fr", &sim.prefecture_url())
        .replace("https://www.rdv-prefecture.interieur.gouv.fr", &sim.rdv_url())
        .replace("min_interval: 30s", "min_interval: 50ms")
        .replace("min_interval: 20s", "min_interval: 50ms");
    std::fs::write(&config, text_cfg).expect("point at the simulator");

    let once = |name: &str| {
        let out = vigie(&["once", name, "--config", s(&config), "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", text(&out)));
        (out.status.code(), v)
    };
    let (_, v) = once("prefecture-essonne-4242");
    assert_eq!(v["outcome"], "no_capacity", "the simulator offers no slot by default: {v:#}");
    let p = vigie::sim::StatePatch::from_json(r#"{"prefecture_slots": 3}"#).expect("patch");
    sim.apply(&p).expect("apply");
    let (code, v) = once("prefecture-essonne-4242");
    assert_eq!((code, v["outcome"].as_str()), (Some(0), Some("up")), "{v:#}");
    let (code, v) = once("rdv-prefecture-2107");
    assert_eq!((code, v["outcome"].as_str()), (Some(0), Some("up")), "{v:#}");
    sim.shutdown().await;
}

fn count_runs(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .and_then(|c| c.query_row("SELECT count(*) FROM runs", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// `vigie backup` copies the history while `vigie demo` writes to it; the
/// copy is whole, verifies, and a second backup never overwrites the first.
#[test]
fn backup_copies_the_history_while_the_daemon_writes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["demo", "--quiet", "--sim-base-port", "0", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start vigie demo");
    let db = tmp.path().join("var/demo.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_runs(&db) < 6 {
        assert!(Instant::now() < deadline, "the demo recorded no run");
        std::thread::sleep(Duration::from_millis(300));
    }
    let copy = tmp.path().join("copie.db");
    let out = vigie(&["backup", "--db", s(&db), "-o", s(&copy)]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("sauvegarde vérifiée : "), "{stdout}");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&copy).expect("copy").permissions());
    assert_eq!(mode & 0o777, 0o600, "the copy is private like the history");
    let copied = count_runs(&copy);
    assert!(copied >= 6, "{copied} runs in the copy");
    assert!(stdout.contains(&format!("{copied} exécution(s)")), "{stdout}");

    let refused = vigie(&["backup", "--db", s(&db), "-o", s(&copy)]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(text(&refused).1.contains("exists already"), "{:?}", text(&refused));
    let verify = vigie(&["verify", "--db", s(&copy)]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "the copy's evidence chain holds: {:?}",
        text(&verify)
    );

    assert!(Command::new("kill")
        .args(["-TERM", &demo.id().to_string()])
        .status()
        .expect("kill")
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while demo.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the demo did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(count_runs(&db) >= copied, "the daemon kept writing after the backup");
}

#[test]
fn man_pages_cover_every_command_and_completions_load_in_bash() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = vigie(&["manpages", "--out", s(tmp.path())]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    for (page, says) in [
        ("vigie.1", "Synthetic monitoring"),
        ("vigie-init.1", "working configuration"),
        ("vigie-new.1", "probe file"),
        ("vigie-backup.1", "while the daemon runs"),
        ("vigie-run.1", "SIGHUP"),
        ("vigie-evidence-export.1", ".TH"),
    ] {
        let text = read(&tmp.path().join(page));
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}: {text}");
        assert!(text.contains(says), "{page} says {says}: {text}");
    }
    assert!(!tmp.path().join("vigie-manpages.1").exists(), "hidden commands get no page");
    if let Ok(man) = Command::new("man")
        .arg("-l")
        .arg(tmp.path().join("vigie-init.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
    {
        if man.status.success() {
            assert!(String::from_utf8_lossy(&man.stdout).contains("--location"), "man renders the page");
        }
    }

    let script = vigie(&["completions", "bash"]);
    assert_eq!(script.status.code(), Some(0));
    let file = tmp.path().join("vigie.bash");
    std::fs::write(&file, &script.stdout).expect("write");
    let probe = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p vigie && COMP_WORDS=(vigie in) COMP_CWORD=1 && _vigie vigie in vigie && echo \"${{COMPREPLY[@]}}\"",
            s(&file)
        ))
        .output()
        .expect("bash");
    let (stdout, stderr) = text(&probe);
    assert!(probe.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("-F _vigie vigie"), "{stdout}");
    assert!(
        stdout.lines().last().unwrap_or("").split_whitespace().any(|w| w == "init"),
        "`vigie in<TAB>` offers init: {stdout}"
    );
    for shell in ["zsh", "fish"] {
        let out = vigie(&["completions", shell]);
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("init"),
            "{shell}"
        );
    }
}
