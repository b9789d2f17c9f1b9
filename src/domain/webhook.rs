//! The words of webhooks: where a subscription may send (a [`Target`] URL, and which
//! addresses are private), how a delivery is signed ([`sign`]), and a subscription's
//! [`WebhookState`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;
use sha2::{Digest, Sha256};

use super::hash::hex;

/// Longest URL a subscription takes.
pub const MAX_URL_CHARS: usize = 2000;

/// Where a subscription delivers: an absolute `https` URL (or `http` when private
/// targets are allowed), without credentials or fragment, whose host is not a private
/// address unless allowed. A host *name* is checked again at every connection, against
/// every address it resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    /// `raw` as a target, or why it cannot be one.
    pub fn parse(raw: &str, allow_private: bool) -> Result<WebhookUrl, String> {
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(format!("url is longer than {MAX_URL_CHARS} characters"));
        }
        let url =
            Url::parse(raw).map_err(|e| format!("url {raw:?} is not an absolute URL: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_private => {}
            "http" => {
                return Err(
                    "url must be https (http only with TARCZA_WEBHOOK_ALLOW_PRIVATE=true)".into(),
                )
            }
            other => return Err(format!("url scheme {other:?} is not https")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("url must not carry a user name or password".into());
        }
        if url.fragment().is_some() {
            return Err("url must not have a #fragment".into());
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("url has no host")?;
        if !allow_private {
            if let Some(ip) = literal_ip(&url) {
                if is_private(ip) {
                    return Err(private_message(&ip.to_string()));
                }
            } else if is_local_name(host) {
                return Err(private_message(host));
            }
        }
        Ok(WebhookUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

/// The address of a URL whose host is an IP literal (no name to resolve).
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    // The parser has made every IP spelling canonical (`2130706433` is `127.0.0.1`),
    // with an IPv6 address in brackets.
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The refusal of a private target.
pub fn private_message(host: &str) -> String {
    format!(
        "{host} is a loopback, private, link-local or otherwise non-public address; webhooks \
         go only to public addresses unless TARCZA_WEBHOOK_ALLOW_PRIVATE=true"
    )
}

/// `localhost` and names under it, which resolve to loopback by definition (RFC 6761).
fn is_local_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// Whether a webhook must not connect to `ip` (unless private targets are allowed):
/// anything but a public unicast address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT, 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments, 192.0.0/24
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, 198.18/15
        || a >= 240 // reserved
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_private_v4(v4);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) reach an IPv4 address.
        || (s[..6] == [0; 6])
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4]
            && is_private_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8)))
}

/// A new signing secret: `whsec_` and 48 hex digits (192 random bits). The whole text,
/// as UTF-8, is the HMAC key.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("whsec_{}", hex(&bytes))
}

/// The `X-Tarcza-Signature` of a delivery: `v1=` and the hex HMAC-SHA256, keyed with
/// the secret, of the timestamp (Unix seconds, as sent in `X-Tarcza-Timestamp`), a `.`
/// and the body.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = hmac_sha256(
        secret.as_bytes(),
        &[timestamp.to_string().as_bytes(), b".", body],
    );
    format!("v1={}", hex(&mac))
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `parts`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

words! {
    /// Where a subscription stands.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum WebhookState ("a webhook state") {
        /// Delivering, or retrying a change for less than TARCZA_WEBHOOK_RETRY_FOR.
        Active = "active",
        /// Retrying one change for longer than TARCZA_WEBHOOK_RETRY_FOR (still retrying, at
        /// the longest backoff, until it is delivered or the subscription resumed).
        Failing = "failing",
        /// The change feed's retention removed changes it had not delivered: stopped.
        Expired = "expired",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 (short key) and 6 (key longer than a block).
        assert_eq!(
            hex(&hmac_sha256(
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn private_addresses_are_refused_and_public_ones_taken() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "64:ff9b::808:808"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_validated_strictly() {
        assert!(WebhookUrl::parse("https://crm.example.com/hooks/tarcza", false).is_ok());
        for bad in [
            "http://crm.example.com/hook",
            "ftp://crm.example.com/",
            "https://user:pw@crm.example.com/",
            "https://crm.example.com/#x",
            "https://127.0.0.1/",
            "https://[::1]:8443/",
            "https://localhost/",
            "https://api.localhost./",
            "https://169.254.169.254/latest/meta-data",
            "https://2130706433/",
            "/relative",
            "",
        ] {
            assert!(WebhookUrl::parse(bad, false).is_err(), "{bad}");
        }
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(WebhookUrl::parse(&format!("https://e.com/{}", "a".repeat(2000)), true).is_err());
    }

    #[test]
    fn states_round_trip_through_their_text() {
        for s in [
            WebhookState::Active,
            WebhookState::Failing,
            WebhookState::Expired,
        ] {
            assert_eq!(s.to_string().parse::<WebhookState>(), Ok(s));
        }
    }
}
