//! Classifying transport failures into a bounded [`Reason`].
//!
//! reqwest wraps hyper, hyper-util, rustls and io errors; the useful signal is
//! somewhere in the `source()` chain. We walk it and look for typed errors
//! first, then for the wording of known messages. The monitor's own
//! exhaustion (no file descriptors, no memory) is `monitor_error`, and an
//! answer that is not HTTP (garbage status line, oversized headers, corrupt
//! compressed body) is `protocol`: the server did answer.

use std::error::Error as StdError;

use crate::probe::Reason;

pub fn classify(e: &reqwest::Error) -> Reason {
    if e.is_timeout() {
        return Reason::Timeout;
    }
    let mut texts = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return Reason::Tls;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if is_own_exhaustion(io) {
                return Reason::MonitorError;
            }
            match io.kind() {
                ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable => return Reason::Connect,
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
                    texts.push("connection reset".to_string());
                }
                TimedOut => return Reason::Timeout,
                _ => {}
            }
            if let Some(inner) = io.get_ref() {
                if inner.downcast_ref::<rustls::Error>().is_some() {
                    return Reason::Tls;
                }
            }
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_parse() || h.is_parse_status() || h.is_parse_too_large() || h.is_incomplete_message() {
                return Reason::Protocol;
            }
        }
        texts.push(err.to_string().to_ascii_lowercase());
        cur = err.source();
    }
    if e.is_decode() {
        // A body that cannot be decoded (corrupt gzip or brotli stream).
        return Reason::Protocol;
    }
    let all = texts.join(" | ");
    if all.contains("dns error")
        || all.contains("failed to lookup")
        || all.contains("name or service not known")
        || all.contains("no address")
    {
        Reason::Dns
    } else if all.contains("certificate")
        || all.contains("tls")
        || all.contains("handshake")
        || all.contains("invalid peer")
        || all.contains("corrupt message")
    {
        Reason::Tls
    } else if all.contains("connection refused") || (e.is_connect() && !all.contains("reset")) {
        Reason::Connect
    } else if all.contains("reset")
        || all.contains("closed")
        || all.contains("incomplete")
        || all.contains("eof")
        || all.contains("broken pipe")
    {
        Reason::ConnectionReset
    } else if e.is_connect() {
        Reason::Connect
    } else if e.is_builder() || e.is_request() && all.contains("builder") {
        Reason::Request
    } else {
        Reason::ConnectionReset
    }
}

/// The machine running vigie is out of something (file descriptors,
/// memory, buffers): vigie's failure, never the portal's.
pub fn is_own_exhaustion(io: &std::io::Error) -> bool {
    matches!(io.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS))
        || io.kind() == std::io::ErrorKind::OutOfMemory
}

/// A one-line, bounded description of an error chain, for messages.
pub fn describe(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p: &String| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    crate::probe::text::truncate_chars(&parts.join(": "), 300)
}
