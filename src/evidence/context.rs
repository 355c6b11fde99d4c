//! The capture context a court expert asks for (the practice of NF Z67-147
//! for Internet captures): which software, on which system, from where,
//! through which proxy, with which clock, which addresses the target names
//! resolve to, and how each visit is made. Gathered when a bundle, a WARC
//! file or a report is made; what was not recorded at capture time is said
//! so, and what the system does not expose is "unknown", never guessed.
//!
//! Inputs are plain values so this stays below `config` and `report`.

use std::net::ToSocketAddrs;

/// One target name and its addresses, resolved now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub host: String,
    /// Addresses found, or the resolver's error.
    pub addresses: Result<Vec<String>, String>,
}

/// The context, each value ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureContext {
    pub vigie_version: String,
    pub os: String,
    pub vantage_point: String,
    /// Proxy variables of the environment, credentials left out.
    pub proxies: Vec<String>,
    /// The clock's state: (English, French).
    pub clock: (String, String),
    pub resolutions: Vec<Resolution>,
}

/// Gather the context of this machine now, for targets `hosts` (host, port).
pub fn gather(location: &str, hosts: &[(String, u16)]) -> CaptureContext {
    CaptureContext {
        vigie_version: env!("CARGO_PKG_VERSION").to_string(),
        os: os(),
        vantage_point: location.to_string(),
        proxies: proxies(|k| std::env::var(k).ok()),
        clock: clock(),
        resolutions: hosts.iter().map(|(h, p)| resolve(h, *p)).collect(),
    }
}

fn os() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
    });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|k| k.trim().to_string());
    match (pretty, kernel) {
        (Some(p), Some(k)) => format!("{p}, Linux {k} ({})", std::env::consts::ARCH),
        (Some(p), None) => format!("{p} ({})", std::env::consts::ARCH),
        _ => format!("{} ({})", std::env::consts::OS, std::env::consts::ARCH),
    }
}

/// The proxy variables set, each shown as scheme://host:port only (a
/// proxy URL may carry a password: never printed).
pub fn proxies(var: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut found = Vec::new();
    for k in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        if let Some(v) = var(k).filter(|v| !v.trim().is_empty()) {
            let shown = url::Url::parse(&v)
                .ok()
                .and_then(|u| {
                    u.host_str()
                        .map(|h| format!("{}://{h}:{}", u.scheme(), u.port_or_known_default().unwrap_or(0)))
                })
                .unwrap_or_else(|| "(unreadable value, not shown)".into());
            found.push(format!("{k}={shown}"));
        }
    }
    found
}

/// The proxy sentence in English or French.
pub fn proxy_text(found: &[String], fr: bool) -> String {
    match (found.is_empty(), fr) {
        (true, false) => "none: HTTP probes always connect directly (vigie sets no proxy), and no HTTP(S)_PROXY or ALL_PROXY is in vigie's environment".into(),
        (true, true) => "aucun : les sondes HTTP se connectent toujours directement (vigie ne fixe aucun proxy), et l'environnement de vigie ne définit ni HTTP(S)_PROXY ni ALL_PROXY".into(),
        (false, false) => format!(
            "HTTP probes connect directly (vigie sets no proxy); browser probes' Chromium may use the environment's: {}",
            found.join(", ")
        ),
        (false, true) => format!(
            "les sondes HTTP se connectent directement (vigie ne fixe aucun proxy) ; le Chromium des sondes navigateur peut utiliser celui de l'environnement : {}",
            found.join(", ")
        ),
    }
}

/// NTP synchronisation as the kernel reports it (adjtimex), with the
/// estimated error; "unknown" where the system does not say.
fn clock() -> (String, String) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a zeroed timex with modes = 0 only reads the kernel's state.
        let mut t: libc::timex = unsafe { std::mem::zeroed() };
        let state = unsafe { libc::adjtimex(&mut t) };
        if state >= 0 {
            return describe_clock(state, t.status, t.esterror, t.offset, t.status & libc::STA_NANO != 0);
        }
    }
    (
        "unknown (the system does not report its clock synchronisation)".into(),
        "inconnue (le système n'indique pas si son horloge est synchronisée)".into(),
    )
}

/// Words for the kernel's clock state.
pub fn describe_clock(state: i32, status: i32, esterror_us: libc::c_long, offset: libc::c_long, nano: bool) -> (String, String) {
    let offset_ms = offset as f64 / if nano { 1e6 } else { 1e3 };
    if state == libc::TIME_ERROR || status & libc::STA_UNSYNC != 0 {
        return (
            "not synchronised (the kernel reports no NTP synchronisation): dates come from an unsynchronised clock".into(),
            "non synchronisée (le noyau n'indique aucune synchronisation NTP) : les dates viennent d'une horloge non synchronisée".into(),
        );
    }
    let err_ms = esterror_us as f64 / 1e3;
    (
        format!("synchronised by NTP (kernel: offset {offset_ms:.3} ms, estimated error {err_ms:.3} ms)"),
        format!("synchronisée par NTP (noyau : décalage {offset_ms:.3} ms, erreur estimée {err_ms:.3} ms)"),
    )
}

/// Resolve `host` now.
pub fn resolve(host: &str, port: u16) -> Resolution {
    let addresses = (host, port)
        .to_socket_addrs()
        .map(|a| {
            let mut v: Vec<String> = a.map(|s| s.ip().to_string()).collect();
            v.sort();
            v.dedup();
            v
        })
        .map_err(|e| e.to_string());
    Resolution {
        host: host.to_string(),
        addresses,
    }
}

impl CaptureContext {
    /// (name, value) pairs, in English (WARC `warcinfo`, bundle file).
    pub fn fields(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("vigie-version".to_string(), self.vigie_version.clone()),
            ("operating-system".into(), self.os.clone()),
            ("vantage-point".into(), self.vantage_point.clone()),
            ("proxy".into(), proxy_text(&self.proxies, false)),
            ("clock".into(), self.clock.0.clone()),
            ("visits".into(), VISITS_EN.into()),
            ("connected-address".into(), CONNECTED_EN.into()),
        ];
        for r in &self.resolutions {
            let v = match &r.addresses {
                Ok(a) if !a.is_empty() => a.join(", "),
                Ok(_) => "no address".into(),
                Err(e) => format!("not resolved: {e}"),
            };
            out.push((format!("resolves-now {}", r.host), v));
        }
        out
    }

    /// The same in French, one sentence each (bundle, report methodology).
    pub fn lines_fr(&self) -> Vec<String> {
        self.lines_fr_at("de l'export")
    }

    /// In French, `moment` naming when it was gathered ("du rapport").
    pub fn lines_fr_at(&self, moment: &str) -> Vec<String> {
        let mut out = vec![
            format!(
                "Logiciel : vigie {} ; système : {} ; point d'observation : {}.",
                self.vigie_version, self.os, self.vantage_point
            ),
            format!("Proxy (au moment {moment}) : {}.", proxy_text(&self.proxies, true)),
            format!("Horloge (au moment {moment}) : {}.", self.clock.1),
            VISITS_FR.into(),
            CONNECTED_FR.into(),
        ];
        for r in &self.resolutions {
            out.push(match &r.addresses {
                Ok(a) if !a.is_empty() => format!("{} se résout maintenant en {}.", r.host, a.join(", ")),
                Ok(_) => format!("{} ne se résout en aucune adresse maintenant.", r.host),
                Err(e) => format!("{} ne se résout pas maintenant ({e}).", r.host),
            });
        }
        out
    }
}

impl CaptureContext {
    /// In English, for the report's methodology (gathered when the report was made).
    pub fn lines_en(&self) -> Vec<String> {
        vec![
            format!(
                "Software: vigie {}; system: {}; vantage point: {}.",
                self.vigie_version, self.os, self.vantage_point
            ),
            format!("Proxy (when this report was made): {}.", proxy_text(&self.proxies, false)),
            format!("Clock (when this report was made): {}.", self.clock.0),
            format!("{}{}.", VISITS_EN[..1].to_uppercase(), &VISITS_EN[1..]),
        ]
    }
}

const VISITS_EN: &str = "every run is a fresh visitor: no cache, no cookie kept from one run to the next; it follows the links and steps its probe lists, nothing else";
const VISITS_FR: &str = "Chaque vérification est un nouveau visiteur : aucun cache, aucun cookie conservé d'une vérification à l'autre ; il suit les liens et étapes que liste sa sonde, et rien d'autre.";
const CONNECTED_EN: &str = "the address each HTTP capture connected to is in its record (remote_addr; WARC-IP-Address in a WARC file); browser captures and records made before vigie kept it have none; the addresses below were resolved when this file was made and may differ from those of a capture";
const CONNECTED_FR: &str = "L'adresse IP et le port auxquels vigie s'est connecté figurent dans l'enregistrement de chaque capture HTTP (remote_addr ; WARC-IP-Address dans un fichier WARC) ; les captures du navigateur et les enregistrements antérieurs n'en ont pas. Les adresses ci-dessous ont été résolues au moment de l'export et peuvent différer de celles du moment d'une capture.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_are_named_without_credentials() {
        let p = proxies(|k| (k == "HTTPS_PROXY").then(|| "http://user:s3cret@proxy.asso.example:3128".to_string()));
        assert_eq!(p, vec!["HTTPS_PROXY=http://proxy.asso.example:3128".to_string()]);
        assert!(proxy_text(&p, true).ends_with("de l'environnement : HTTPS_PROXY=http://proxy.asso.example:3128"));
        assert!(proxy_text(&[], false).starts_with("none"));
    }

    #[test]
    fn clock_states_in_words() {
        let (en, fr) = describe_clock(libc::TIME_OK, 0, 1500, 250_000, true);
        assert_eq!(en, "synchronised by NTP (kernel: offset 0.250 ms, estimated error 1.500 ms)");
        assert_eq!(fr, "synchronisée par NTP (noyau : décalage 0.250 ms, erreur estimée 1.500 ms)");
        assert!(describe_clock(libc::TIME_ERROR, libc::STA_UNSYNC, 0, 0, false)
            .0
            .starts_with("not synchronised"));
    }

    #[test]
    fn loopback_resolves_and_nonsense_says_why() {
        assert_eq!(resolve("127.0.0.1", 80).addresses, Ok(vec!["127.0.0.1".to_string()]));
        assert!(resolve("no-such-host.invalid", 80).addresses.is_err());
    }
}
