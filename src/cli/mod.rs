//! Command-line interface. Parses arguments (clap), sets up logging and the
//! runtime, and calls the library. `anyhow` lives here, at the edge only.

mod backup;
mod bench;
mod check;
mod check_alerts;
mod demo;
pub mod embedded;
mod evidence;
mod history;
mod init;
mod manpages;
mod new;
mod once;
mod outbox;
mod publish;
mod report;
mod run;
mod sim;
pub mod trace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit status for invalid configuration or usage (1 is "probe not up").
pub const EXIT_CONFIG: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "vigie",
    version,
    about = "Synthetic monitoring of the ANEF portal and prefecture appointment systems",
    long_about = "vigie runs scripted probes (page loads, account creation, document upload, appointment slot search) \
against the ANEF portal and prefecture booking systems on a schedule, classifies every run \
(up, degraded, no_capacity, broken, down), exports Prometheus metrics and keeps what it saw.\n\n\
Start with `vigie demo`: it runs everything against a local imitation of the portal, no network needed.",
    after_help = "Examples:\n  vigie demo                                   # the whole product against the local simulator\n  vigie init                                   # a configuration for your instance (asks, or flags)\n  vigie new https://www.essonne.gouv.fr/booking/create/12345/0 --config vigie/vigie.yaml   # a probe from a URL\n  vigie check --config config/vigie.yaml       # validate a configuration, show schedules\n  vigie once prefecture-rdv --config config/vigie.yaml   # run one probe now, step by step\n  vigie run --config config/vigie.yaml         # the daemon (SIGHUP reloads, SIGTERM stops)\n  vigie outbox --config config/vigie.yaml      # e-mails waiting or refused\n  vigie report --config config/vigie.yaml --month 2026-11   # availability report (HTML, French)\n  vigie evidence export --config config/vigie.yaml --month 2026-11 -o preuves.zip\n  vigie evidence verify preuves.zip            # check a bundle (exit 1 if altered)\n  vigie verify --config config/vigie.yaml      # check the evidence register in the store\n\nDocumentation: README.md, docs/probes.md, docs/simulator.md, docs/alerts.md, docs/reports.md, docs/deploy.md"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info`, `vigie=debug` (or set RUST_LOG).
    #[arg(long, global = true)]
    pub log: Option<String>,
}

/// The language of what `init` and `new` say (French first).
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    /// The French or the English text.
    pub fn pick(self, fr: &str, en: &str) -> String {
        match self {
            Lang::Fr => fr.to_string(),
            Lang::En => en.to_string(),
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon: probes on their schedules, /metrics, status page.
    ///
    /// SIGHUP reloads the configuration (an invalid one is refused and the
    /// running one kept; see vigie_config_last_reload_successful). SIGTERM or
    /// ctrl-c stops after runs in flight finish.
    Run {
        /// The daemon configuration file (see config/vigie.yaml).
        #[arg(long, short)]
        config: PathBuf,
        /// Listen address for /metrics and the status page (overrides `listen:`).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Validate a configuration and every probe it names; show schedules.
    ///
    /// Reports all errors at once as file:line:column and exits 2 if any.
    Check {
        #[arg(long, short)]
        config: PathBuf,
        /// How many next start times to show per probe.
        #[arg(long, default_value_t = 3)]
        next: usize,
    },
    /// Run one probe now and print a step-by-step trace (exit 0 when up).
    Once {
        /// The probe's `name`.
        probe: String,
        #[arg(long, short)]
        config: PathBuf,
        /// Print the result as JSON instead of the trace.
        #[arg(long)]
        json: bool,
        /// Language of the trace (French by default; `en` for English).
        #[arg(long, value_enum, default_value_t = Lang::Fr)]
        lang: Lang,
    },
    /// List the e-mails waiting in the outbox, failed, or (with --all) sent.
    ///
    /// Reads the history store named by the configuration; safe while the
    /// daemon runs.
    Outbox {
        /// The daemon configuration file (its `store.path` names the database).
        #[arg(long, short, required_unless_present = "db")]
        config: Option<PathBuf>,
        /// The history database itself, e.g. var/demo.db after `vigie demo`.
        #[arg(long, conflicts_with = "config")]
        db: Option<PathBuf>,
        /// Include delivered e-mails.
        #[arg(long)]
        all: bool,
        /// At most this many e-mails, the most recent.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Queue failed e-mails again: an e-mail number, or `all`.
        #[arg(long, value_name = "ID|all")]
        retry: Option<String>,
        /// Print one e-mail as sent (RFC 5322).
        #[arg(long, value_name = "ID")]
        show: Option<i64>,
    },
    /// The whole product on this machine: simulator + scenario + daemon.
    ///
    /// Starts a local imitation of the ANEF portal and a prefecture booking
    /// module (loopback only, no network needed), plays a three-minute
    /// scenario of slow pages, « erreur technique » pages, rejected uploads,
    /// an outage and rare appointment slots, and runs the daemon against it
    /// with the embedded demo configuration (config/demo.yaml). Open the
    /// status page and /metrics while it runs.
    Demo {
        /// Listen address for /metrics and the status page.
        #[arg(long, default_value = "127.0.0.1:9898")]
        listen: std::net::SocketAddr,
        /// Use this configuration instead of the embedded demo one (targets
        /// anef-sim, prefecture-sim and rdv-sim are pointed at the simulator).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// First of three consecutive ports for the simulator (portal,
        /// prefecture, RDV-Préfecture); 0 lets the system choose.
        #[arg(long, default_value_t = 8181)]
        sim_base_port: u16,
        /// Do not print a line per run.
        #[arg(long)]
        quiet: bool,
    },
    /// An availability report for a period: HTML (French by default), CSV or JSON.
    ///
    /// Availability per probe and per procedure (with and without
    /// maintenance, and in office hours), incidents with MTTR and MTBF, slot
    /// availability of appointment probes, response-time percentiles, when
    /// failures happen, evidence counts, and a methodology generated from the
    /// configuration. Computed from hourly rollups: a month of 50 one-minute
    /// probes takes under a second. Right after `vigie demo`, run it with no option in the
    /// same folder. See docs/reports.md.
    #[command(
        after_help = "Examples:\n  vigie report                                          # after `vigie demo`, in the same folder\n  vigie report --config config/vigie.yaml --month 2026-11\n  vigie report --config config/vigie.yaml --month 2026-11 --format pdf    # needs Chromium (apt install chromium)\n  vigie report --db var/vigie.db --from 2026-11-01 --to 2026-11-30 --format csv -o novembre.csv\n  vigie report --config config/vigie.yaml --procedure titre-sejour --lang en --format json -o -"
    )]
    Report {
        /// The daemon configuration (its `store.path` names the database; it
        /// also gives the methodology, office hours and language).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The history database itself, e.g. var/demo.db (no methodology without --config).
        #[arg(long)]
        db: Option<PathBuf>,
        #[command(flatten)]
        period: report::PeriodArgs,
        /// Only this probe (repeat for several) [default: all]
        #[arg(long = "probe", value_name = "NAME")]
        probes: Vec<String>,
        /// Only the probes of this procedure label (repeatable)
        #[arg(long = "procedure", value_name = "LABEL")]
        procedures: Vec<String>,
        /// Only the probes of this site label (repeatable)
        #[arg(long = "site", value_name = "LABEL")]
        sites: Vec<String>,
        /// html (one self-contained file, prints to A4), pdf (that file printed
        /// by headless Chromium: page numbers, running header), csv (long
        /// form: one value per row) or json (the same numbers)
        #[arg(long, value_enum, default_value_t = report::FormatArg::Html)]
        format: report::FormatArg,
        /// Language [default: the configuration's reports.language, fr]
        #[arg(long, value_enum)]
        lang: Option<report::LangArg>,
        /// File to write, `-` for standard output [default: rapport-vigie-FROM_TO.html]
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// The evidence register: export captures as a bundle, verify a bundle.
    Evidence {
        #[command(subcommand)]
        command: evidence::EvidenceCommand,
    },
    /// Check the evidence register in the store: every link of the chain,
    /// every record against its hash, every page against its SHA-256.
    ///
    /// Exits 1 naming the first broken record (altered, deleted, inserted or
    /// reordered). With --anchor, also checks that the register still holds
    /// a head published earlier (the daemon logs one every hour; reports
    /// print it), which detects a truncated tail.
    #[command(
        after_help = "Examples:\n  vigie verify                                   # after `vigie demo`, in the same folder\n  vigie verify --config config/vigie.yaml\n  vigie verify --db var/vigie.db --anchor 1234:3fa9…   # an anchor from the log or a report"
    )]
    Verify {
        /// The daemon configuration file (its `store.path` names the database).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The history database itself, e.g. var/demo.db after `vigie demo`.
        #[arg(long)]
        db: Option<PathBuf>,
        /// A head published earlier (`evidence chain anchor` in the daemon's
        /// log, or a report's "Ancre du registre"): the register must still hold it.
        #[arg(long, value_name = "SEQ:HASH")]
        anchor: Option<String>,
        /// PEM file of the CA RFC 3161 time stamps must chain to [default:
        /// evidence.timestamp.ca_file of the configuration, else the system's roots]
        #[arg(long, value_name = "FILE")]
        tsa_ca: Option<PathBuf>,
    },
    /// Write a working configuration for a new instance into a folder.
    ///
    /// The annotated vigie.yaml with your vantage point, contact and alert
    /// recipients, and the live probes under probes/. Asks for what the flags
    /// do not give (unless --non-interactive), checks everything before
    /// writing, never replaces an edited file without --force (the old one is
    /// then kept as .avant-init), and ends with `vigie check`.
    #[command(
        after_help = "Examples:\n  vigie init                                     # asks; writes ./vigie/ (as root with the package: /etc/vigie/)\n  vigie init --dir /etc/vigie --location lyon-bureau --contact veille@asso.example --alert-to equipe@asso.example --non-interactive"
    )]
    Init {
        /// The folder [default: /etc/vigie as root with the package installed, else ./vigie]
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The vantage point: lowercase letters, digits, - and _ (e.g. lyon-bureau).
        #[arg(long)]
        location: Option<String>,
        /// An e-mail address or URL the portal's operators can use (put in the User-Agent).
        #[arg(long)]
        contact: Option<String>,
        /// Where alert e-mails go (repeatable).
        #[arg(long = "alert-to", value_name = "ADDRESS")]
        alert_to: Vec<String>,
        /// The history database [default: /var/lib/vigie/vigie.db for /etc/vigie, else var/vigie.db in the folder]
        #[arg(long)]
        store: Option<String>,
        /// Replace files that were edited (each old one is kept as FILE.avant-init).
        #[arg(long)]
        force: bool,
        /// Ask nothing: a missing flag is an error (for scripts).
        #[arg(long, short = 'n')]
        non_interactive: bool,
        /// Language of the messages.
        #[arg(long, value_enum, default_value_t = Lang::Fr)]
        lang: Lang,
        /// Write the package's copy (placeholder values, /var/lib/vigie store) and stop.
        #[arg(long, hide = true)]
        template: bool,
    },
    /// Make a probe file from the address seen in the browser.
    ///
    /// Knows a prefecture booking module (https://www.<département>.gouv.fr/booking/create/<id>/<step>),
    /// an RDV-Préfecture démarche (…/rdvpref/reservation/demarche/<id>/…) and
    /// the ANEF portal (a browser probe). Fills in the ids, a polite schedule
    /// for that system and the target; the probe is checked before it is
    /// written. With --config, the target is added to the configuration.
    #[command(
        after_help = "Examples:\n  vigie new https://www.essonne.gouv.fr/booking/create/12345/0 --config /etc/vigie/vigie.yaml --planning 6789\n  vigie new https://www.rdv-prefecture.interieur.gouv.fr/rdvpref/reservation/demarche/2107/cgu/ --config vigie/vigie.yaml\n  vigie new 'https://administration-etrangers-en-france.interieur.gouv.fr/particuliers/#/' --dir probes"
    )]
    New {
        /// The address, as seen in the browser.
        url: String,
        /// The configuration the probe joins: checked with it, its target added to it.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Folder for the probe file [default: probes/ beside --config, else this folder]
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Booking module only: the counter (the step-1 radio value, id planningNNNN).
        #[arg(long, value_name = "NUMBER")]
        planning: Option<String>,
        /// Replace a probe file of the same name (the old one kept as .avant-init).
        #[arg(long)]
        force: bool,
        /// Language of the messages.
        #[arg(long, value_enum, default_value_t = Lang::Fr)]
        lang: Lang,
    },
    /// Copy the history database while the daemon runs (online, checked).
    ///
    /// A consistent snapshot (SQLite VACUUM INTO), then an integrity check of
    /// the copy. Restore: stop the daemon, put the copy in place of
    /// store.path (removing its -wal and -shm files), start. See docs/deploy.md.
    #[command(
        after_help = "Examples:\n  vigie backup --config /etc/vigie/vigie.yaml -o /var/backups/vigie-$(date +%F).db\n  vigie backup --db var/demo.db -o demo-copie.db"
    )]
    Backup {
        /// The daemon configuration file (its `store.path` names the database).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The history database itself.
        #[arg(long, conflicts_with = "config")]
        db: Option<PathBuf>,
        /// The copy to write (must not exist).
        #[arg(long, short)]
        output: PathBuf,
        /// Language of the messages.
        #[arg(long, value_enum, default_value_t = Lang::Fr)]
        lang: Lang,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (one per command) into a folder.
    #[command(hide = true)]
    Manpages {
        #[arg(long)]
        out: PathBuf,
    },
    /// Benchmark: generate a month of one-minute history and time the report.
    #[command(hide = true)]
    BenchReport {
        /// Database to create (reused when it exists).
        #[arg(long)]
        db: PathBuf,
        #[arg(long, default_value_t = 50)]
        probes: u32,
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// One run every this many minutes per probe (rollup rows are the
        /// same number whatever it is).
        #[arg(long, default_value_t = 1)]
        every_minutes: u32,
    },
    /// Benchmark: generate 90 days of history and time the observatory
    /// (build, render, publish).
    #[command(hide = true)]
    BenchObservatory {
        #[arg(long)]
        db: PathBuf,
        #[arg(long, default_value_t = 100)]
        probes: u32,
        #[arg(long, default_value_t = 90)]
        days: u32,
        #[arg(long, default_value_t = 5)]
        every_minutes: u32,
        /// Where to publish (a scratch folder).
        #[arg(long)]
        output: PathBuf,
        /// Repetitions (the median and the slowest are printed).
        #[arg(long, default_value_t = 5)]
        repeat: u32,
    },
    /// Write the public observatory as static files: pages (French and
    /// English), the Atom feed of incidents, SVG badges, the JSON API.
    ///
    /// The folder is replaced in one step (it is a link to the latest
    /// generation): a web server never serves half a site. Any web host can
    /// serve it; `site/index.html` also opens from disk. See docs/observatory.md.
    #[command(
        after_help = "Examples:\n  vigie publish --output site                      # after `vigie demo`, in the same folder\n  vigie publish --config config/vigie.yaml         # into publish.output\n  vigie publish --db var/vigie.db --output /srv/www/observatoire"
    )]
    Publish {
        /// The daemon configuration (titles, sites, maintenance, `publish:`).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The history database itself (titles then come from the history).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Folder to write [default: the configuration's publish.output]
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// The portal simulator alone (for writing probes, or for tests by hand).
    Sim {
        #[arg(long, default_value = "127.0.0.1:8181")]
        portal: std::net::SocketAddr,
        #[arg(long, default_value = "127.0.0.1:8182")]
        prefecture: std::net::SocketAddr,
        #[arg(long, default_value = "127.0.0.1:8183")]
        rdv: std::net::SocketAddr,
        /// Play a scenario file (see sim/scenarios/demo.yaml) in a loop.
        #[arg(long, conflicts_with = "demo_scenario")]
        scenario: Option<PathBuf>,
        /// Play the embedded demo scenario in a loop.
        #[arg(long)]
        demo_scenario: bool,
    },
}

/// Libraries whose own log lines carry what vigie redacts (the cookie
/// crate logs every cookie value at debug level, HTTP libraries log headers
/// and frames at trace level): capped whatever `--log` asks, so that
/// `--log trace` shows vigie's own events only, all of them redacted.
const QUIET_DEPENDENCIES: [&str; 9] = [
    "cookie_store=off",
    "reqwest=warn",
    "hyper=warn",
    "hyper_util=warn",
    "h2=warn",
    "rustls=warn",
    "lettre=warn",
    "html5ever=warn",
    "selectors=warn",
];

fn init_logging(cli: &Cli, default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = cli
        .log
        .clone()
        .map(EnvFilter::new)
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let filter = QUIET_DEPENDENCIES
        .iter()
        .filter_map(|d| d.parse().ok())
        .fold(filter, |f, d| f.add_directive(d));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match cli.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_log = match cli.command {
        Command::Run { .. } => "info",
        // The demo prints a line per run itself; logs would repeat them.
        Command::Demo { .. } => "error",
        _ => "warn",
    };
    init_logging(&cli, default_log);
    if !matches!(cli.command, Command::Run { .. } | Command::Demo { .. } | Command::Sim { .. }) {
        // `vigie check | head -1`: a closed pipe ends a command quietly, as
        // for any Unix tool, rather than a panic in `println!`. The daemon
        // keeps Rust's default (SIGPIPE ignored), or a client closing a
        // socket would kill it.
        // SAFETY: called before any thread of ours exists; SIG_DFL is valid.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(dispatch(cli.command));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Run one command.
async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { config, listen } => run::run(config, listen).await,
        Command::Check { config, next } => check::check(&config, next),
        Command::Once { probe, config, json, lang } => once::once(&probe, &config, json, lang).await,
        Command::Outbox {
            config,
            db,
            all,
            limit,
            retry,
            show,
        } => outbox::outbox(config.as_deref(), db.as_deref(), outbox::Options { all, limit, retry, show }),
        Command::Demo {
            listen,
            config,
            sim_base_port,
            quiet,
        } => {
            demo::demo(demo::DemoOptions {
                listen,
                config,
                sim_base_port,
                quiet,
            })
            .await
        }
        Command::Sim {
            portal,
            prefecture,
            rdv,
            scenario,
            demo_scenario,
        } => sim::sim(portal, prefecture, rdv, scenario, demo_scenario).await,
        Command::Report {
            config,
            db,
            period,
            probes,
            procedures,
            sites,
            format,
            lang,
            output,
        } => {
            report::report(report::Options {
                config,
                db,
                period,
                probes,
                procedures,
                sites,
                format,
                lang,
                output,
            })
            .await
        }
        Command::Evidence { command } => evidence::evidence(command),
        Command::Verify {
            config,
            db,
            anchor,
            tsa_ca,
        } => evidence::verify_store(config, db, anchor, tsa_ca),
        Command::BenchReport {
            db,
            probes,
            days,
            every_minutes,
        } => bench::bench_report(&db, probes, days, every_minutes),
        Command::BenchObservatory {
            db,
            probes,
            days,
            every_minutes,
            output,
            repeat,
        } => bench::bench_observatory(&db, probes, days, every_minutes, &output, repeat),
        Command::Publish { config, db, output } => publish::publish(config.as_deref(), db.as_deref(), output),
        other => setup(other),
    }
}

/// The setting-up commands: `init`, `new`, `backup`, completions, man pages.
fn setup(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init {
            dir,
            location,
            contact,
            alert_to,
            store,
            force,
            non_interactive,
            lang,
            template,
        } => init::init(init::Options {
            dir,
            location,
            contact,
            alert_to,
            store,
            force,
            non_interactive,
            lang,
            template,
        }),
        Command::New {
            url,
            config,
            dir,
            planning,
            force,
            lang,
        } => new::new(new::Options {
            url,
            config,
            dir,
            planning,
            force,
            lang,
        }),
        Command::Backup { config, db, output, lang } => backup::backup(config, db, output, lang),
        Command::Completions { shell } => manpages::completions(shell),
        Command::Manpages { out } => manpages::manpages(&out),
        _ => anyhow::bail!("not a setting-up command"),
    }
}

/// Print configuration errors the same way everywhere.
pub fn print_config_errors(e: &crate::diag::ConfigErrors) {
    for d in e.0.clone().sorted() {
        eprintln!("{d}");
    }
    let n = e.0.len();
    eprintln!("\n{n} error{} found; nothing was started.", if n == 1 { "" } else { "s" });
}
