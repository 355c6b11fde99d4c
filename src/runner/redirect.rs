//! Which redirects the runner follows. Two rules, checked on every hop:
//!
//! - a 307/308 keeps the method and the body; to another origin than the
//!   step's first one it would hand the form (password included) to a server
//!   it does not belong to, so the run stops there instead;
//! - a hop to an address of another kind than the probe's own target
//!   (loopback, private, link-local — which holds the cloud metadata address
//!   169.254.169.254 — or unspecified) is refused: a public portal has no
//!   reason to send a visitor into the monitor's own network.
//!
//! Both give the bounded reason `unsafe_redirect`.

use std::net::IpAddr;

/// The kind of network an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrKind {
    Public,
    Loopback,
    Private,
    LinkLocal,
    Unspecified,
}

impl AddrKind {
    pub fn of(ip: IpAddr) -> AddrKind {
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                if v4.is_loopback() {
                    AddrKind::Loopback
                } else if v4.is_unspecified() || o[0] == 0 {
                    AddrKind::Unspecified
                } else if v4.is_link_local() {
                    AddrKind::LinkLocal
                } else if v4.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) || v4.is_broadcast() {
                    // RFC 1918, and the shared address space of RFC 6598.
                    AddrKind::Private
                } else {
                    AddrKind::Public
                }
            }
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return AddrKind::of(IpAddr::V4(v4));
                }
                let first = v6.segments()[0];
                if v6.is_loopback() {
                    AddrKind::Loopback
                } else if v6.is_unspecified() {
                    AddrKind::Unspecified
                } else if first & 0xffc0 == 0xfe80 {
                    AddrKind::LinkLocal
                } else if first & 0xfe00 == 0xfc00 {
                    AddrKind::Private
                } else {
                    AddrKind::Public
                }
            }
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            AddrKind::Public => "public",
            AddrKind::Loopback => "loopback",
            AddrKind::Private => "private",
            AddrKind::LinkLocal => "link-local (metadata)",
            AddrKind::Unspecified => "unspecified",
        }
    }
}

/// The kinds of the addresses `url`'s host stands for (an IP literal, or
/// the name resolved now; `localhost` is loopback without asking).
pub async fn kinds(url: &url::Url) -> Vec<AddrKind> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![AddrKind::of(IpAddr::V4(ip))],
        Some(url::Host::Ipv6(ip)) => vec![AddrKind::of(IpAddr::V6(ip))],
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d == "localhost" || d.ends_with(".localhost") {
                return vec![AddrKind::Loopback];
            }
            let port = url.port_or_known_default().unwrap_or(80);
            let found = tokio::net::lookup_host(format!("{d}:{port}")).await;
            match found {
                Ok(addrs) => addrs.map(|a| AddrKind::of(a.ip())).collect(),
                // Unresolvable: the request itself will fail as `dns`.
                Err(_) => vec![],
            }
        }
        None => vec![],
    }
}

/// Why a hop from `from` (first URL of the step, of kinds `first_kinds`)
/// to `next` with `status` must not be followed, if it must not.
pub async fn refuse(status: u16, has_body: bool, first: &url::Url, first_kinds: &[AddrKind], next: &url::Url) -> Option<String> {
    let cross_origin = next.origin() != first.origin();
    if cross_origin && has_body && matches!(status, 307 | 308) {
        return Some(format!(
            "HTTP {status} to another origin ({}) would resend the request body there: not followed",
            next.origin().ascii_serialization()
        ));
    }
    if next.host() == first.host() {
        return None;
    }
    let allowed = |k: &AddrKind| *k == AddrKind::Public || first_kinds.contains(k);
    let forbidden = kinds(next).await.into_iter().find(|k| !allowed(k))?;
    Some(format!(
        "redirect to {} ({} address) refused: the probe's target is not on such a network",
        next.origin().ascii_serialization(),
        forbidden.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_kinds() {
        let k = |s: &str| AddrKind::of(s.parse().expect("ip"));
        assert_eq!(k("127.0.0.2"), AddrKind::Loopback);
        assert_eq!(k("::1"), AddrKind::Loopback);
        assert_eq!(k("169.254.169.254"), AddrKind::LinkLocal);
        assert_eq!(k("fe80::1"), AddrKind::LinkLocal);
        assert_eq!(k("10.1.2.3"), AddrKind::Private);
        assert_eq!(k("192.168.0.1"), AddrKind::Private);
        assert_eq!(k("100.64.0.1"), AddrKind::Private);
        assert_eq!(k("fd00::1"), AddrKind::Private);
        assert_eq!(k("::ffff:10.0.0.1"), AddrKind::Private);
        assert_eq!(k("0.0.0.0"), AddrKind::Unspecified);
        assert_eq!(k("194.5.6.7"), AddrKind::Public);
        assert_eq!(k("2a01:e0a::1"), AddrKind::Public);
    }
}
