//! Who may call without the key, and which web pages may call at all.
//!
//! Two settings, both empty (nothing trusted) unless configured:
//! - trusted networks: a request whose peer address (the socket's, never a forwarded header)
//!   lies inside one needs no key, as Sonarr's "authentication disabled for local addresses";
//! - CORS origins: web pages served from these origins may call the API from a browser.
//!
//! Keyless must not mean "any web page can act": a browser on the trusted network that visits
//! a hostile site sends that site's `Origin`, and WebSocket upgrades and simple POSTs skip
//! CORS preflights. So a request let in by its network alone is refused when it carries an
//! `Origin` that is neither earmark's own nor listed.

use std::net::IpAddr;

use actix_web::http::header::{HOST, HeaderMap, ORIGIN};
use ipnet::IpNet;

/// The trusted networks and the origins browsers may call from.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    trusted: Vec<IpNet>,
    origins: Vec<String>,
}

/// Why a setting was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Not a network in CIDR notation.
    #[error(
        "trusted network `{0}` is not a network: write it in CIDR notation, e.g. 192.168.1.0/24 or 127.0.0.1/32"
    )]
    Network(String),
    /// Not an origin.
    #[error(
        "CORS origin `{0}` is not an origin: write scheme, host and port only, e.g. http://192.168.1.20:3000"
    )]
    Origin(String),
}

/// What the policy says of a request that presented no key and no token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyless {
    /// Its network is trusted and no foreign web page sent it.
    Allowed,
    /// Its network is trusted, but it comes from a web page of an origin not listed.
    ForeignOrigin,
    /// Its network is not trusted: it needs the key.
    Untrusted,
}

impl AccessPolicy {
    /// A policy from the settings' lists (blank entries are ignored).
    ///
    /// # Errors
    /// [`AccessError`] naming the first entry that is not a CIDR network or an origin.
    pub fn new<'a>(
        networks: impl IntoIterator<Item = &'a str>,
        origins: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, AccessError> {
        let trusted = networks
            .into_iter()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().map_err(|_| AccessError::Network(n.to_owned())))
            .collect::<Result<Vec<IpNet>, _>>()?;
        let origins = origins
            .into_iter()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(origin)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { trusted, origins })
    }

    /// The trusted networks, for the start-up log.
    pub fn trusted_networks(&self) -> &[IpNet] {
        &self.trusted
    }

    /// The origins browsers may call from.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// Whether `origin` is one of the listed origins.
    pub fn is_listed(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }

    /// Whether `ip` lies in a trusted network.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// What a request from `peer` with `headers` and no key may do.
    pub fn keyless(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Keyless {
        if !peer.is_some_and(|ip| self.is_trusted(ip)) {
            return Keyless::Untrusted;
        }
        match headers.get(ORIGIN).map(|o| o.to_str()) {
            None => Keyless::Allowed,
            Some(Ok(origin)) if self.is_listed(origin) || is_own(origin, headers) => {
                Keyless::Allowed
            }
            Some(_) => Keyless::ForeignOrigin,
        }
    }
}

/// Whether `origin` is earmark's own: a page it served itself (the API docs) calling back to
/// the host the request was sent to.
fn is_own(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    ["http://", "https://"]
        .iter()
        .any(|scheme| origin.strip_prefix(scheme) == Some(host))
}

/// `raw` as an origin (`scheme://host[:port]`, no path), as browsers send it.
fn origin(raw: &str) -> Result<String, AccessError> {
    let refuse = || AccessError::Origin(raw.to_owned());
    let trimmed = raw.trim_end_matches('/');
    let (scheme, rest) = trimmed.split_once("://").ok_or_else(refuse)?;
    let plain = !rest.is_empty() && !rest.contains(['/', '?', '#', '@', ' ']);
    if !matches!(scheme, "http" | "https") || !plain {
        return Err(refuse());
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                actix_web::http::header::HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn policy() -> AccessPolicy {
        AccessPolicy::new(
            ["192.168.1.0/24", " 127.0.0.1/32", ""],
            ["http://192.168.1.20:3000", "http://localhost:3000/"],
        )
        .unwrap()
    }

    #[test]
    fn settings_are_read_and_refused_with_an_example() {
        let p = policy();
        assert_eq!(p.trusted_networks().len(), 2);
        assert_eq!(
            p.origins(),
            ["http://192.168.1.20:3000", "http://localhost:3000"]
        );
        let err = AccessPolicy::new(["192.168.1.0/33"], []).unwrap_err();
        assert!(err.to_string().contains("CIDR"), "{err}");
        let err = AccessPolicy::new([], ["localhost:3000"]).unwrap_err();
        assert!(
            err.to_string().contains("http://192.168.1.20:3000"),
            "{err}"
        );
        assert!(AccessPolicy::new([], ["http://h/app"]).is_err());
        let none = AccessPolicy::new([], []).unwrap();
        let ip = "127.0.0.1".parse().unwrap();
        assert_eq!(
            none.keyless(Some(ip), &HeaderMap::new()),
            Keyless::Untrusted
        );
    }

    #[test]
    fn a_trusted_network_is_let_in_unless_a_foreign_page_sent_the_request() {
        let p = policy();
        let home: IpAddr = "192.168.1.77".parse().unwrap();
        let away: IpAddr = "10.0.0.5".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.168.1.77".parse().unwrap();
        let none = headers(&[]);
        assert_eq!(p.keyless(Some(home), &none), Keyless::Allowed);
        assert_eq!(p.keyless(Some(mapped), &none), Keyless::Allowed);
        assert_eq!(p.keyless(Some(away), &none), Keyless::Untrusted);
        assert_eq!(p.keyless(None, &none), Keyless::Untrusted);
        let listed = headers(&[("origin", "http://localhost:3000")]);
        assert_eq!(p.keyless(Some(home), &listed), Keyless::Allowed);
        let own = headers(&[
            ("origin", "http://192.168.1.2:8080"),
            ("host", "192.168.1.2:8080"),
        ]);
        assert_eq!(p.keyless(Some(home), &own), Keyless::Allowed);
        let hostile = headers(&[
            ("origin", "https://evil.example"),
            ("host", "192.168.1.2:8080"),
        ]);
        assert_eq!(p.keyless(Some(home), &hostile), Keyless::ForeignOrigin);
        let null = headers(&[("origin", "null")]);
        assert_eq!(p.keyless(Some(home), &null), Keyless::ForeignOrigin);
    }
}
