//! `vigie new <URL>`: the address a volunteer sees in their browser, turned
//! into a probe file of the right kind with its ids filled in, a polite
//! schedule for that system, and the target entry it needs.
//!
//! Known addresses:
//! - a prefecture booking module:
//!   `https://www.<département>.gouv.fr/booking/create/<id>/<step>`;
//! - an RDV-Préfecture démarche:
//!   `https://www.rdv-prefecture.interieur.gouv.fr/rdvpref/reservation/demarche/<id>/…`;
//! - a page of the ANEF portal:
//!   `https://administration-etrangers-en-france.interieur.gouv.fr/…`.

use url::Url;

use super::DeployError;

pub const RDV_HOST: &str = "www.rdv-prefecture.interieur.gouv.fr";
pub const ANEF_HOST: &str = "administration-etrangers-en-france.interieur.gouv.fr";

/// The addresses `vigie new` knows, for its refusal message.
pub const KNOWN: &[&str] = &[
    "https://www.<département>.gouv.fr/booking/create/<id>/<étape>  (module de rendez-vous d'une préfecture / prefecture booking module)",
    "https://www.rdv-prefecture.interieur.gouv.fr/rdvpref/reservation/demarche/<id>/…  (RDV-Préfecture)",
    "https://administration-etrangers-en-france.interieur.gouv.fr/…  (ANEF)",
];

/// What an address was recognised as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recognized {
    /// A prefecture's own booking module.
    Booking { departement: String, form_id: String },
    /// The national RDV-Préfecture system.
    RdvPrefecture { demarche_id: String },
    /// A page of the ANEF portal (path, query and `#/` fragment kept).
    Anef { page: String },
}

/// Why an address gives no probe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NewError {
    #[error("« {url} » n'est pas une adresse web ({reason}) / not a web address")]
    NotUrl { url: String, reason: String },
    #[error("« {url} » : {why}")]
    Unknown { url: String, why: String },
}

impl NewError {
    /// The refusal, with what vigie knows, one address per line.
    pub fn with_known(&self) -> String {
        let mut s = format!("{self}\nvigie new connaît ces adresses / knows these addresses:\n");
        for k in KNOWN {
            s.push_str(&format!("  - {k}\n"));
        }
        s
    }
}

fn unknown(url: &str, why: &str) -> NewError {
    NewError::Unknown {
        url: url.to_string(),
        why: why.to_string(),
    }
}

/// Recognise an address.
pub fn recognize(input: &str) -> Result<Recognized, NewError> {
    let input = input.trim();
    let url = Url::parse(input).map_err(|e| NewError::NotUrl {
        url: input.to_string(),
        reason: e.to_string(),
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(unknown(
            input,
            "seules les adresses https:// sont connues / only https:// addresses are known",
        ));
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    if host == RDV_HOST {
        return rdv(input, &segments);
    }
    if host == ANEF_HOST {
        let mut page = url.path().to_string();
        if let Some(q) = url.query() {
            page.push('?');
            page.push_str(q);
        }
        if let Some(f) = url.fragment() {
            page.push('#');
            page.push_str(f);
        }
        return Ok(Recognized::Anef { page });
    }
    if let Some(dept) = prefecture_departement(&host) {
        return booking(input, dept, &segments);
    }
    Err(unknown(input, &format!("le site {host} n'est pas connu / unknown site")))
}

fn rdv(input: &str, segments: &[&str]) -> Result<Recognized, NewError> {
    let at = segments
        .windows(4)
        .position(|w| w[0] == "rdvpref" && w[1] == "reservation" && w[2] == "demarche");
    match at.map(|i| segments[i + 3]) {
        Some(id) if is_id(id) => Ok(Recognized::RdvPrefecture {
            demarche_id: id.to_string(),
        }),
        _ => Err(unknown(
            input,
            "RDV-Préfecture, mais sans numéro de démarche (…/rdvpref/reservation/demarche/<id>/…) / no démarche id",
        )),
    }
}

fn booking(input: &str, dept: &str, segments: &[&str]) -> Result<Recognized, NewError> {
    match segments {
        ["booking", "create", id, ..] if is_id(id) => Ok(Recognized::Booking {
            departement: dept.to_string(),
            form_id: id.to_string(),
        }),
        _ => Err(unknown(
            input,
            "site de préfecture, mais pas une page du module de rendez-vous (/booking/create/<id>/<étape>) / not a booking page",
        )),
    }
}

/// `www.<département>.gouv.fr` → the département's name.
fn prefecture_departement(host: &str) -> Option<&str> {
    let name = host.strip_prefix("www.")?.strip_suffix(".gouv.fr")?;
    let ok = !name.is_empty() && !name.contains('.') && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then_some(name)
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// A probe file and what the configuration needs for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProbe {
    pub name: String,
    pub yaml: String,
    /// The target's name and its entry under `targets:` (indented by two).
    pub target: String,
    pub target_entry: String,
    /// What the operator still has to do, in French.
    pub todo: Vec<String>,
}

/// A minute of the hour derived from the ids, so that several probes of one
/// system spread over the hour instead of all starting at :00.
fn minute_for(key: &str) -> u32 {
    key.bytes().fold(17u32, |h, b| (h.wrapping_mul(31)).wrapping_add(u32::from(b))) % 60
}

/// The probe for a recognised address. `planning` is the booking module's
/// counter (its step 1 radio value); without it the probe takes the first.
pub fn render(r: &Recognized, source: &str, planning: Option<&str>) -> Result<NewProbe, DeployError> {
    if let Some(p) = planning.filter(|p| !is_id(p)) {
        return Err(DeployError::Invalid(format!(
            "--planning {p}: the counter's number is digits only (the radio button's value, id planningNNNN)"
        )));
    }
    Ok(match r {
        Recognized::Booking { departement, form_id } => booking_probe(departement, form_id, source, planning),
        Recognized::RdvPrefecture { demarche_id } => rdv_probe(demarche_id, source),
        Recognized::Anef { page } => anef_probe(page, source),
    })
}

fn header(source: &str, what: &str) -> String {
    format!(
        "# Written by `vigie new` from\n#   {source}\n# {what}\n# Adjust the title; `vigie check --config vigie.yaml` validates it and\n# `vigie once <name> --config vigie.yaml` runs it once, step by step.\n"
    )
}

fn booking_probe(dept: &str, form_id: &str, source: &str, planning: Option<&str>) -> NewProbe {
    let name = format!("prefecture-{dept}-{form_id}");
    let target = format!("prefecture-{dept}");
    let (vars, guichet) = match planning {
        Some(p) => (
            format!("  planning_id: \"{p}\"      # the counter: radio value on step 1 (id planningNNNN)\n"),
            "{{ planning_id }}",
        ),
        None => (String::new(), "{{ premier_guichet }}"),
    };
    let todo = match planning {
        Some(_) => vec![],
        None => vec![
            "la sonde choisit le premier guichet de l'étape 1 ; pour un autre, relancer avec --planning NNNN (la valeur du bouton radio, id planningNNNN) et --force"
                .to_string(),
        ],
    };
    let minute = minute_for(&name);
    let yaml = format!(
        "{header}#\n# Non-destructive: accepts the conditions, picks the counter and looks at the\n# slot page like a visitor; never books (booking sits behind a CAPTCHA).\n# The booking module answers 502 to rapid requests: the target allows one\n# request every 30 s and the probe runs once an hour.\nname: {name}\ntitle: {title}\ntarget: {target}\nlabels: {{ procedure: titre-sejour, site: {target} }}\nschedule: \"{minute} * * * *\"      # once an hour\ntimeout: 120s\ndegraded_after: 40s\nbroken_when:\n  - body_contains: \"Une erreur technique est survenue\"\n    reason: error_page\nvars:\n  form_id: \"{form_id}\"\n{vars}steps:\n{steps}",
        header = header(source, "A prefecture booking module: is there any appointment slot?"),
        title = quote(&format!("Préfecture ({dept}) — créneau de rendez-vous, formulaire {form_id} (titre à ajuster)")),
        steps = BOOKING_STEPS.replace("{{ GUICHET }}", guichet),
    );
    NewProbe {
        name,
        target_entry: format!(
            "  {target}:\n    base_url: \"https://www.{dept}.gouv.fr\"\n    min_interval: 30s            # prefecture sites answer 502 to rapid requests\n    max_concurrent: 1\n"
        ),
        target,
        yaml,
        todo,
    }
}

const BOOKING_STEPS: &str = r##"  - name: conditions
    request: { url: "{{ base_url }}/booking/create/{{ form_id }}/0" }
    expect: { status: 200, css_present: "form#FormBookingCreate" }
    extract:
      token: { css: "form#FormBookingCreate input[name=_token]", attr: value }
  - name: accepter
    request:
      method: POST
      url: "{{ base_url }}/booking/create/{{ form_id }}/0"
      form: { condition: "on", _token: "{{ token }}", nextButton: "Effectuer une demande de rendez-vous" }
    broken_when:
      - body_contains: "Votre session a expiré"
        reason: rejected
    expect: { status: 200, css_present: "input[name=planning]" }
    extract:
      premier_guichet: { css: "input[name=planning]", attr: value }
  - name: creneaux
    request:
      method: POST
      url: "{{ base_url }}/booking/create/{{ form_id }}/1"
      form: { planning: "{{ GUICHET }}", nextButton: "Etape suivante" }
    no_capacity_when:
      body_contains: "Il n'existe plus de plage horaire libre pour votre demande de rendez-vous"
    observe:
      appointment_slots: { css_count: "#FormBookingCreate a[href*='/booking/create/']" }
    expect: { status: 200 }
"##;

fn rdv_probe(id: &str, source: &str) -> NewProbe {
    let name = format!("rdv-prefecture-{id}");
    let minute = minute_for(&name);
    let yaml = format!(
        "{header}#\n# RDV-Préfecture: reach the CAPTCHA, and stop (vigie never solves one). The\n# system is shared by every prefecture: once an hour, one request every 20 s.\nname: {name}\ntitle: {title}\ntarget: rdv-prefecture\nlabels: {{ procedure: rdv-prefecture, site: rdv-prefecture }}\nschedule: \"{minute} * * * *\"      # once an hour\ntimeout: 60s\ndegraded_after: 20s\nvars:\n  demarche_id: \"{id}\"\nsteps:\n{steps}",
        header = header(source, "An RDV-Préfecture démarche: does the system answer up to its CAPTCHA?"),
        title = quote(&format!("RDV-Préfecture — démarche {id}, jusqu'au CAPTCHA (titre à ajuster)")),
        steps = RDV_STEPS,
    );
    NewProbe {
        name,
        target: "rdv-prefecture".into(),
        target_entry: "  rdv-prefecture:\n    base_url: \"https://www.rdv-prefecture.interieur.gouv.fr\"\n    min_interval: 20s\n    max_concurrent: 1\n".into(),
        yaml,
        todo: vec![],
    }
}

const RDV_STEPS: &str = r##"  - name: cgu
    request: { url: "{{ base_url }}/rdvpref/reservation/demarche/{{ demarche_id }}/cgu/" }
    captcha_when: { css_present: "rdv-captchetat" }
    expect:
      status: 200
      body_not_contains: "errorSessionInvalide"
"##;

fn anef_probe(page: &str, source: &str) -> NewProbe {
    let slug = slug(page);
    let name = if slug.is_empty() {
        "anef-page".to_string()
    } else {
        format!("anef-{slug}")
    };
    let minute = minute_for(&name) % 30;
    let yaml = format!(
        "{header}#\n# ANEF is an Angular application: a browser probe (headless Chromium,\n# Debian's `chromium` package) sees what a person sees after the scripts ran,\n# including the « erreur technique » banner drawn over a 200 OK page.\n# Twice an hour: each run starts a browser (about 400 MiB for a few seconds).\nname: {name}\ntitle: {title}\nkind: browser\ntarget: anef\nlabels: {{ procedure: anef, site: anef }}\nschedule: \"{minute}-59/30 * * * *\"   # twice an hour\ntimeout: 60s\ndegraded_after: 15s\nbroken_when:\n  - text_contains: \"Une erreur technique est survenue\"\n    reason: error_page\nsteps:\n  - name: page\n    goto: {goto}\n    wait_for: {{ selector: \"app-root *\", timeout: 20s }}\n    expect: {{ status: 200 }}\n",
        header = header(source, "A page of the ANEF portal, in a real browser."),
        title = quote(&format!("ANEF — {} (titre à ajuster)", if page.is_empty() { "/" } else { page })),
        goto = quote(&format!("{{{{ base_url }}}}{page}")),
    );
    NewProbe {
        name,
        target: "anef".into(),
        target_entry: format!("  anef:\n    base_url: \"https://{ANEF_HOST}\"\n    min_interval: 10s\n    max_concurrent: 1\n"),
        yaml,
        todo: vec!["installer Chromium (sonde navigateur) : sudo apt-get install chromium".into()],
    }
}

/// Lowercase letters and digits of a page's path and fragment, joined by `-`.
fn slug(page: &str) -> String {
    let words: Vec<String> = page
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && *w != "particuliers")
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let mut s = words.join("-");
    s.truncate(40);
    s.trim_end_matches('-').to_string()
}

fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// `targets:` gains `entry` right below its line, unless a target of that
/// name is already there. `None` when it is there already.
pub fn add_target(config_text: &str, target: &str, entry: &str) -> Result<Option<String>, DeployError> {
    let line = format!("\n  {target}:");
    if config_text.contains(&line) {
        return Ok(None);
    }
    let Some(at) = config_text.find("\ntargets:\n") else {
        return Err(DeployError::Invalid(
            "no `targets:` line at the start of a line in the configuration: add the target by hand".into(),
        ));
    };
    let cut = at + "\ntargets:\n".len();
    Ok(Some(format!("{}{entry}{}", &config_text[..cut], &config_text[cut..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_rdv_and_anef_addresses_are_recognised() {
        assert_eq!(
            recognize("https://www.seine-saint-denis.gouv.fr/booking/create/9829/1").unwrap(),
            Recognized::Booking {
                departement: "seine-saint-denis".into(),
                form_id: "9829".into()
            }
        );
        assert_eq!(
            recognize("https://www.rdv-prefecture.interieur.gouv.fr/rdvpref/reservation/demarche/2107/cgu/").unwrap(),
            Recognized::RdvPrefecture {
                demarche_id: "2107".into()
            }
        );
        assert_eq!(
            recognize("https://administration-etrangers-en-france.interieur.gouv.fr/particuliers/#/espace-personnel/mon-compte").unwrap(),
            Recognized::Anef {
                page: "/particuliers/#/espace-personnel/mon-compte".into()
            }
        );
    }

    #[test]
    fn other_addresses_are_refused_with_the_known_ones() {
        for bad in [
            "pas une adresse",
            "ftp://www.essonne.gouv.fr/booking/create/1/0",
            "https://www.essonne.gouv.fr/Actualites",
            "https://www.essonne.gouv.fr/booking/create/abc/0",
            "https://www.rdv-prefecture.interieur.gouv.fr/rdvpref/",
            "https://www.example.org/booking/create/1234/0",
            "https://www.gouv.fr/booking/create/1234/0",
        ] {
            let e = recognize(bad).unwrap_err();
            let text = e.with_known();
            assert!(text.contains(bad.trim()), "{text}");
            assert!(text.contains("/booking/create/<id>/<étape>"), "{text}");
            assert!(text.contains("rdvpref/reservation/demarche/<id>"), "{text}");
        }
    }

    #[test]
    fn a_target_is_added_once_below_targets() {
        let cfg = "location: x\ntargets:\n  anef:\n    base_url: \"https://a\"\n";
        let entry = "  prefecture-essonne:\n    base_url: \"https://www.essonne.gouv.fr\"\n";
        let added = add_target(cfg, "prefecture-essonne", entry).unwrap().unwrap();
        assert_eq!(
            added,
            format!("location: x\ntargets:\n{entry}  anef:\n    base_url: \"https://a\"\n")
        );
        assert_eq!(add_target(&added, "prefecture-essonne", entry).unwrap(), None);
        assert_eq!(add_target(cfg, "anef", entry).unwrap(), None);
    }

    #[test]
    fn minutes_spread_and_names_are_labels() {
        let a = render(&recognize("https://www.essonne.gouv.fr/booking/create/1234/0").unwrap(), "u", None).unwrap();
        let b = render(&recognize("https://www.essonne.gouv.fr/booking/create/1235/0").unwrap(), "u", None).unwrap();
        assert_ne!(
            a.yaml.lines().find(|l| l.starts_with("schedule")),
            b.yaml.lines().find(|l| l.starts_with("schedule"))
        );
        assert_eq!(a.name, "prefecture-essonne-1234");
        assert!(a.yaml.contains("{{ premier_guichet }}") && !a.yaml.contains("planning_id"));
        let fixed = render(
            &recognize("https://www.essonne.gouv.fr/booking/create/1234/0").unwrap(),
            "u",
            Some("14471"),
        )
        .unwrap();
        assert!(fixed.yaml.contains("planning_id: \"14471\"") && fixed.yaml.contains("planning: \"{{ planning_id }}\""));
        let c = render(
            &recognize("https://administration-etrangers-en-france.interieur.gouv.fr/particuliers/#/").unwrap(),
            "u",
            None,
        )
        .unwrap();
        assert_eq!(c.name, "anef-page");
        assert!(render(
            &recognize("https://www.essonne.gouv.fr/booking/create/1234/0").unwrap(),
            "u",
            Some("12a")
        )
        .is_err());
    }
}
