//! One scrape of `/metrics`, produced in chunks: a snapshot of the probes'
//! cached texts (one lock, one `Arc` clone per probe) and of the registry's
//! text, written family by family into chunks of about [`CHUNK`] bytes as
//! the server asks for them. No 9 MB string is built: the bytes are copied
//! once, into small buffers that stay warm in the cache, and sending starts
//! with the first chunk. Its length is known up front (`Content-Length`).

use std::sync::Arc;

use bytes::Bytes;

use super::series::ProbeText;
use super::text::{self, FAMILIES};

/// Bytes per chunk: a few fill hyper's write queue (about 400 KB) per
/// system call, and each stays under glibc's mmap threshold (128 KiB), so
/// its buffer comes from, and goes back to, the heap's free lists.
pub const CHUNK: usize = 64 * 1024;

/// The exposition text of one scrape, not yet written.
pub struct Scrape {
    texts: Vec<Arc<ProbeText>>,
    /// Indexes into [`FAMILIES`] of the families that have series.
    families: Vec<usize>,
    /// The registries' texts, written after the probes' families, last
    /// first (popped).
    tail: Vec<Bytes>,
    /// Next family (index into `families`), whether its header is written,
    /// next probe.
    family: usize,
    header_done: bool,
    probe: usize,
    remaining: usize,
}

impl Scrape {
    pub(super) fn new(texts: Vec<Arc<ProbeText>>, mut tail: Vec<Bytes>) -> Scrape {
        tail.retain(|t| !t.is_empty());
        tail.reverse();
        let mut families = Vec::new();
        let mut len = tail.iter().map(Bytes::len).sum();
        for (i, family) in FAMILIES.iter().enumerate() {
            let body: usize = texts.iter().map(|t| t.fragment(i).len()).sum();
            if body > 0 {
                families.push(i);
                len += body + text::header_len(family);
            }
        }
        Scrape {
            texts,
            families,
            tail,
            family: 0,
            header_done: false,
            probe: 0,
            remaining: len,
        }
    }

    /// Bytes not yet returned by [`Scrape::next_chunk`] (all of them at first).
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// The next piece of the text: about `max` bytes (a probe's fragment
    /// is never split, so a chunk may exceed `max` by one fragment), or
    /// `None` at the end.
    pub fn next_chunk(&mut self, max: usize) -> Option<Bytes> {
        if self.family == self.families.len() {
            let tail = self.tail.pop()?;
            self.remaining -= tail.len();
            return Some(tail);
        }
        let mut out = String::with_capacity(max.min(self.remaining) + 4096);
        while out.len() < max && self.family < self.families.len() {
            let f = self.families[self.family];
            if !self.header_done {
                text::header(&mut out, &FAMILIES[f]);
                self.header_done = true;
            }
            while out.len() < max && self.probe < self.texts.len() {
                out.push_str(self.texts[self.probe].fragment(f));
                self.probe += 1;
            }
            if self.probe == self.texts.len() {
                self.family += 1;
                self.header_done = false;
                self.probe = 0;
            }
        }
        self.remaining -= out.len();
        Some(Bytes::from(out))
    }

    /// The whole text at once (tests, `vigie` subcommands).
    pub fn into_string(mut self) -> String {
        let mut out = Vec::with_capacity(self.remaining);
        while let Some(chunk) = self.next_chunk(CHUNK) {
            out.extend_from_slice(&chunk);
        }
        // Every chunk is UTF-8: whole fragments, headers and the registry's text.
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}
