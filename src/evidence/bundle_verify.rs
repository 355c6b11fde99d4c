//! `vigie evidence verify FILE.zip`: recompute everything a bundle claims.
//! The chain's links and hashes, each page's SHA-256, the manifest (its own
//! hash, its list of files and records, its summary) and the HTML pages,
//! which are rendered again from the chain and compared byte for byte, so a
//! date or a URL edited in `index.html` is caught too.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use super::bundle::{self, Manifest, Stub};
use super::record::{self, Record};
use super::settings::MAX_BODY;
use super::verify::{Anchor, Problem, Walker};
use super::{bundle_html, bundle_stamps, EvidenceError};

/// Largest member read from a bundle (the chain and HTML pages of a long
/// period); pages are capped lower. A zip bomb stops here.
const MAX_MEMBER: usize = 512 * 1024 * 1024;
/// Records in a bundle's chain: far more than any export (ten years of a capture a minute).
const MAX_LINES: usize = 5_000_000;
/// Problems listed: past that, the bundle is broken everywhere and the list says so.
const MAX_PROBLEMS: usize = 1000;

#[derive(Debug, Clone, Default)]
pub struct BundleVerdict {
    pub manifest: Option<Manifest>,
    /// Problems at a record, sorted by position: the first is the first broken record.
    pub records: Vec<Problem>,
    /// Problems with the bundle as a whole (a file added, the manifest's header).
    pub files: Vec<String>,
    pub checked_records: u64,
    /// The RFC 3161 tokens the bundle holds, checked.
    pub stamps: super::timestamps::StampVerdict,
}

impl BundleVerdict {
    pub fn ok(&self) -> bool {
        self.records.is_empty() && self.files.is_empty() && self.stamps.problems.is_empty()
    }
}

fn read_all(zip: &mut zip::ZipArchive<std::fs::File>, name: &str, limit: usize) -> Result<Option<Vec<u8>>, EvidenceError> {
    let mut f = match zip.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(EvidenceError::Zip(e.to_string())),
    };
    let mut out = Vec::new();
    (&mut f).take(limit as u64 + 1).read_to_end(&mut out).map_err(EvidenceError::Io)?;
    if out.len() > limit {
        return Err(EvidenceError::TooLarge(limit));
    }
    Ok(Some(out))
}

pub fn verify_bundle(path: &Path, anchor: Option<Anchor>) -> Result<BundleVerdict, EvidenceError> {
    verify_bundle_with(path, anchor, None)
}

/// [`verify_bundle`], the time stamps checked against `tsa_ca` (else the
/// bundle's copy of the configured CA, else the system's roots).
pub fn verify_bundle_with(path: &Path, anchor: Option<Anchor>, tsa_ca: Option<&Path>) -> Result<BundleVerdict, EvidenceError> {
    let file = std::fs::File::open(path).map_err(EvidenceError::Io)?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| EvidenceError::Zip(format!("{} is not a readable zip: {e}", path.display())))?;
    let mut v = BundleVerdict::default();
    // Folder entries (added by `zip -r` when someone re-packs the bundle)
    // hold nothing: they are not files of the bundle.
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .filter(|n| !n.ends_with('/'))
        .collect();

    let manifest = match read_all(&mut zip, "manifest.json", MAX_MEMBER)? {
        None => {
            v.files
                .push("manifest.json is missing: this is not a vigie evidence bundle, or it was taken apart".into());
            None
        }
        Some(bytes) => match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) => Some(m),
            Err(e) => {
                v.files.push(format!("manifest.json cannot be read ({e}): it was edited"));
                None
            }
        },
    };
    if let Some(m) = &manifest {
        if !m.self_hash_ok() {
            v.files
                .push("manifest.json was altered: its content no longer matches the SHA-256 it carries (manifest_sha256)".into());
        }
        // Every member but the manifest is listed with its SHA-256.
        let listed: BTreeMap<&str, &bundle::FileEntry> = m.files.iter().map(|f| (f.path.as_str(), f)).collect();
        for n in &names {
            if n != "manifest.json" && !listed.contains_key(n.as_str()) {
                v.files.push(format!("{n} was added to the bundle: the manifest does not list it"));
            }
        }
        for f in &m.files {
            if f.path.starts_with("pages/") {
                continue; // checked against their record below, with a better message
            }
            match read_all(&mut zip, &f.path, MAX_MEMBER)? {
                None => v.files.push(format!("{} is missing from the bundle", f.path)),
                Some(b) if record::sha256_hex(&b) != f.sha256 => v
                    .files
                    .push(format!("{} was altered: its SHA-256 differs from the manifest's", f.path)),
                Some(_) => {}
            }
        }
    }

    let chain = read_all(&mut zip, "chain.jsonl", MAX_MEMBER)?.unwrap_or_default();
    if chain.is_empty() {
        v.files.push("chain.jsonl is missing or empty".into());
    }
    let line_count = chain.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
    if line_count > MAX_LINES {
        v.files.push(format!(
            "chain.jsonl has {line_count} lines, more than a bundle can hold ({MAX_LINES}): this is not a vigie bundle; verification stopped"
        ));
        v.manifest = manifest;
        return Ok(v);
    }
    let Ok(text) = String::from_utf8(chain) else {
        v.files
            .push("chain.jsonl is not UTF-8 text: it was altered; verification stopped".into());
        v.manifest = manifest;
        return Ok(v);
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let mut pages = BTreeMap::new();
    let mut walker = Walker::mid_chain(anchor);
    let mut structural = order_problems(&lines);
    let first = lines.first().and_then(|l| seq_of(l)).unwrap_or(1);
    let mut records: Vec<(Record, String)> = Vec::new();
    let selection = manifest.as_ref().map(|m| &m.selection);
    for (i, line) in lines.iter().enumerate() {
        if structural.len() >= MAX_PROBLEMS {
            break;
        }
        let position = first + i as u64;
        if let Ok(stub) = serde_json::from_str::<Stub>(line) {
            if stub.stub {
                walker.stub(position, &stub.prev, &stub.hash);
                if selection.is_some_and(|s| s.probes.is_empty() || s.probes.contains(&stub.probe)) {
                    structural.push(Problem {
                        seq: position,
                        message: format!(
                            "is left out of the bundle (reduced to its hash) although probe {} is part of the selection: it was removed",
                            stub.probe
                        ),
                    });
                }
                continue;
            }
        }
        if let Some(r) = walker.record(position, line, None) {
            let hash = record::sha256_hex(line.as_bytes());
            if let Some(page) = check_page(&mut zip, &r, &mut structural)? {
                pages.insert(r.seq, page);
            }
            check_screenshot(&mut zip, &r, &mut structural)?;
            records.push((r, hash));
        }
    }
    walker.finish();
    v.checked_records = records.len() as u64;
    let chain_view = bundle_stamps::BundleChain::of(&lines);
    v.stamps = bundle_stamps::verify(&mut |name| read_all(&mut zip, name, MAX_MEMBER), &chain_view, tsa_ca)?;
    structural.extend(walker.problems);

    if let Some(m) = &manifest {
        compare_manifest(m, &records, &lines, &walker.last, &mut structural, &mut v.files);
        // A record already found broken is not reported again for its display.
        let broken: BTreeSet<u64> = structural.iter().map(|p| p.seq).collect();
        let only: Vec<Record> = records.iter().map(|(r, _)| r.clone()).collect();
        compare_html(&mut zip, m, &only, &pages, &broken, &mut structural, &mut v.files)?;
    }
    structural.sort_by_key(|p| p.seq);
    structural.dedup();
    if structural.len() >= MAX_PROBLEMS {
        structural.truncate(MAX_PROBLEMS);
        v.files.push(format!(
            "more than {MAX_PROBLEMS} problems: listing stopped there (the bundle is broken in many places)"
        ));
    }
    v.records = structural;
    v.manifest = manifest;
    Ok(v)
}

fn seq_of(line: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(line).ok()?.get("seq")?.as_u64()
}

/// Records out of order or missing, from the positions the lines claim.
/// At most [`MAX_PROBLEMS`], in one pass.
fn order_problems(lines: &[&str]) -> Vec<Problem> {
    let seqs: Vec<Option<u64>> = lines.iter().map(|l| seq_of(l)).collect();
    let mut line_of: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for (i, s) in seqs.iter().enumerate() {
        if let Some(s) = s {
            line_of.entry(*s).or_insert(i + 1);
        }
    }
    let first = seqs.first().copied().flatten().unwrap_or(1);
    let mut out = Vec::new();
    for (i, s) in seqs.iter().enumerate() {
        if out.len() >= MAX_PROBLEMS {
            break;
        }
        let expected = first + i as u64;
        if *s == Some(expected) {
            continue;
        }
        let message = if let Some(at) = line_of.get(&expected) {
            format!(
                "is out of place (line {at} of chain.jsonl instead of line {}): records were reordered",
                i + 1
            )
        } else {
            "is missing from chain.jsonl: it was deleted".to_string()
        };
        out.push(Problem { seq: expected, message });
    }
    out
}

/// The page of `r`, checked against its record; returned as found (even
/// altered) so the HTML is rendered from what the bundle holds.
fn check_page(zip: &mut zip::ZipArchive<std::fs::File>, r: &Record, problems: &mut Vec<Problem>) -> Result<Option<Vec<u8>>, EvidenceError> {
    if r.file.is_empty() {
        return Ok(None);
    }
    let (msg, page) = match read_all(zip, &r.file, MAX_BODY * 2) {
        Ok(None) => (Some(format!("its page {} is missing from the bundle", r.file)), None),
        Ok(Some(b)) if record::sha256_hex(&b) != r.body_sha256 || b.len() as u64 != r.body_bytes => (
            Some(format!(
                "its page {} was altered: it no longer matches the SHA-256 in the record ({}…)",
                r.file,
                r.body_sha256.get(..12).unwrap_or("")
            )),
            Some(b),
        ),
        Ok(Some(b)) => (None, Some(b)),
        Err(EvidenceError::TooLarge(_)) => (Some(format!("its page {} is larger than any page vigie keeps", r.file)), None),
        Err(e) => return Err(e),
    };
    if let Some(message) = msg {
        problems.push(Problem { seq: r.seq, message });
    }
    Ok(page)
}

/// Largest screenshot vigie keeps (12,000 px tall, 4,096 wide, RGBA) — a
/// bound on what is read from a hostile bundle.
const MAX_SCREENSHOT: usize = 64 * 1024 * 1024;

fn check_screenshot(zip: &mut zip::ZipArchive<std::fs::File>, r: &Record, problems: &mut Vec<Problem>) -> Result<(), EvidenceError> {
    let Some(want) = &r.screenshot else {
        return Ok(());
    };
    let msg = match read_all(zip, &want.file, MAX_SCREENSHOT) {
        Ok(None) => Some(format!("its screenshot {} is missing from the bundle", want.file)),
        Ok(Some(b)) if record::sha256_hex(&b) != want.sha256 || b.len() as u64 != want.bytes => Some(format!(
            "its screenshot {} was altered: it no longer matches the SHA-256 in the record ({}…)",
            want.file,
            want.sha256.get(..12).unwrap_or("")
        )),
        Ok(Some(_)) => None,
        Err(EvidenceError::TooLarge(_)) => Some(format!("its screenshot {} is larger than any vigie keeps", want.file)),
        Err(e) => return Err(e),
    };
    if let Some(message) = msg {
        problems.push(Problem { seq: r.seq, message });
    }
    Ok(())
}

fn compare_manifest(
    m: &Manifest,
    records: &[(Record, String)],
    lines: &[&str],
    last: &Option<(u64, String)>,
    problems: &mut Vec<Problem>,
    files: &mut Vec<String>,
) {
    let listed: BTreeMap<u64, &bundle::ManifestRecord> = m.records.iter().map(|r| (r.seq, r)).collect();
    let mut seen = BTreeSet::new();
    for (r, hash) in records {
        seen.insert(r.seq);
        let expected = bundle::manifest_record(r, hash);
        match listed.get(&r.seq) {
            None => problems.push(Problem {
                seq: r.seq,
                message: "is in chain.jsonl but not in manifest.json".into(),
            }),
            Some(got) if **got != expected => problems.push(Problem {
                seq: r.seq,
                message: "its entry in manifest.json differs from the record in chain.jsonl (date, URL, status or hash edited)".into(),
            }),
            Some(_) => {}
        }
    }
    for seq in listed.keys() {
        if !seen.contains(seq) {
            problems.push(Problem {
                seq: *seq,
                message: "is listed in manifest.json but missing from chain.jsonl: it was deleted".into(),
            });
        }
    }
    let only: Vec<Record> = records.iter().map(|(r, _)| r.clone()).collect();
    if bundle::summarize(&only) != m.summary {
        files.push("the summary in manifest.json (captures, days covered) does not match the records".into());
    }
    let first = lines.first().and_then(|l| seq_of(l)).unwrap_or(0);
    if m.chain_first != first || last.as_ref().map(|(s, _)| *s) != Some(m.chain_last) {
        files.push(format!(
            "chain.jsonl runs from #{first} to #{}, the manifest says #{} to #{}",
            last.as_ref().map(|(s, _)| *s).unwrap_or(0),
            m.chain_first,
            m.chain_last
        ));
    } else if last.as_ref().map(|(_, h)| h.as_str()) != Some(m.chain_last_hash.as_str()) {
        files.push("the last hash of chain.jsonl differs from the manifest's chain_last_hash".into());
    }
}

fn compare_html(
    zip: &mut zip::ZipArchive<std::fs::File>,
    m: &Manifest,
    records: &[Record],
    pages: &BTreeMap<u64, Vec<u8>>,
    already: &BTreeSet<u64>,
    problems: &mut Vec<Problem>,
    files: &mut Vec<String>,
) -> Result<(), EvidenceError> {
    for (path, expected) in bundle_html::render(m, records, pages) {
        let got = read_all(zip, &path, MAX_MEMBER)?.unwrap_or_default();
        if got == expected {
            continue;
        }
        let got = String::from_utf8_lossy(&got);
        // Name the first capture whose block was edited, if any.
        let first_edited = records
            .iter()
            .find(|r| bundle_html::block_for(m, r, &path, pages).is_some_and(|block| !got.contains(block.as_str())));
        match first_edited {
            Some(r) if already.contains(&r.seq) => {}
            Some(r) => problems.push(Problem {
                seq: r.seq,
                message: format!("is shown differently in {path} than in the chain (its date, time, URL or hash was edited)"),
            }),
            None => files.push(format!("{path} was edited: it no longer matches what the chain says")),
        }
    }
    Ok(())
}
