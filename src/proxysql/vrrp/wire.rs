//! The advert datagram: pxadm's own compact format, not VRRP over IP protocol 112 (which
//! needs raw sockets and so root). Fixed 36 bytes, big-endian:
//!
//! ```text
//!  0..4   magic "PXVR"
//!  4      format version (1)
//!  5      virtual router id
//!  6      priority (0 = master stopping)
//!  7      flags: bit 0 authenticated, bit 1 IPv6 sender
//!  8..10  advertisement interval, centiseconds (1-4095, as in VRRPv3)
//! 10..12  sender port
//! 12..28  sender address (IPv4 in the first 4 bytes, the rest zero)
//! 28..36  authentication tag, zero when unauthenticated
//! ```
//!
//! The tag is the first 8 bytes of SHA-256(password, 0x00, bytes 0..28): unlike keepalived's
//! PASS the password never travels in clear, and the tag binds it to the advert's fields.
//! It is no defence against replay, no more than keepalived's PASS is.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::machine::Advert;

/// Start of every advert.
pub const MAGIC: [u8; 4] = *b"PXVR";
/// Format version this build speaks.
pub const VERSION: u8 = 1;
/// Length of every advert.
pub const ADVERT_LEN: usize = 36;

const FLAG_AUTH: u8 = 0x01;
const FLAG_V6: u8 = 0x02;
const AUTHENTICATED_LEN: usize = 28;

/// Why a datagram was not accepted as an advert of our instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Wrong length, magic or field values.
    #[error("malformed advert ({0} bytes)")]
    Malformed(usize),
    /// A different format version.
    #[error("wrong version {0}")]
    WrongVersion(u8),
    /// An advert of another virtual router.
    #[error("unknown VRID {0}")]
    UnknownVrid(u8),
    /// We authenticate and the advert does not (keepalived auth type 0 vs 1).
    #[error("unauthenticated advert")]
    AuthMissing,
    /// The advert is authenticated and we do not.
    #[error("unexpected authentication")]
    AuthUnexpected,
    /// The tag does not match our password.
    #[error("invalid password")]
    BadAuth,
}

impl WireError {
    /// The log line, worded as keepalived words the same rejection.
    pub fn log_line(&self, instance: &str, local: SocketAddr, source: SocketAddr) -> String {
        let from = source.ip();
        match self {
            WireError::Malformed(len) => {
                format!("({instance}) ignoring malformed advert from {from} ({len} bytes)")
            }
            WireError::WrongVersion(v) => format!(
                "({instance}) wrong VRRP version from {from}. Received {v} and expect {VERSION}"
            ),
            WireError::UnknownVrid(vrid) => format!(
                "Unknown VRID({vrid}) received on interface({local}) from {from}. ignoring..."
            ),
            WireError::AuthMissing => {
                format!("({instance}) received a 0 auth from {from}, expecting 1!")
            }
            WireError::AuthUnexpected => {
                format!("({instance}) received a 1 auth from {from}, expecting 0!")
            }
            WireError::BadAuth => format!("({instance}) received an invalid passwd from {from}!"),
        }
    }
}

fn tag(pass: &str, body: &[u8]) -> [u8; 8] {
    let mut hasher = Sha256::new();
    hasher.update(pass.as_bytes());
    hasher.update([0u8]);
    hasher.update(body);
    let digest = hasher.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// Encodes an advert from `sender`. `advert_int` is rounded to centiseconds and clamped to
/// the field's range (configuration validation keeps it inside already).
pub fn encode(
    vrid: u8,
    priority: u8,
    advert_int: Duration,
    sender: SocketAddr,
    auth_pass: Option<&str>,
) -> [u8; ADVERT_LEN] {
    let mut buf = [0u8; ADVERT_LEN];
    buf[0..4].copy_from_slice(&MAGIC);
    buf[4] = VERSION;
    buf[5] = vrid;
    buf[6] = priority;
    let mut flags = 0;
    if auth_pass.is_some() {
        flags |= FLAG_AUTH;
    }
    match sender.ip() {
        IpAddr::V4(ip) => buf[12..16].copy_from_slice(&ip.octets()),
        IpAddr::V6(ip) => {
            flags |= FLAG_V6;
            buf[12..28].copy_from_slice(&ip.octets());
        }
    }
    buf[7] = flags;
    let centis = (advert_int.as_millis().div_ceil(10)).clamp(1, 4095) as u16;
    buf[8..10].copy_from_slice(&centis.to_be_bytes());
    buf[10..12].copy_from_slice(&sender.port().to_be_bytes());
    if let Some(pass) = auth_pass {
        let t = tag(pass, &buf[..AUTHENTICATED_LEN]);
        buf[AUTHENTICATED_LEN..].copy_from_slice(&t);
    }
    buf
}

/// Decodes and checks an advert for virtual router `vrid` in the order keepalived checks:
/// format, version, VRID, then authentication.
pub fn decode(buf: &[u8], vrid: u8, auth_pass: Option<&str>) -> Result<Advert, WireError> {
    if buf.len() != ADVERT_LEN || buf[0..4] != MAGIC {
        return Err(WireError::Malformed(buf.len()));
    }
    if buf[4] != VERSION {
        return Err(WireError::WrongVersion(buf[4]));
    }
    if buf[5] != vrid {
        return Err(WireError::UnknownVrid(buf[5]));
    }
    let flags = buf[7];
    let authenticated = flags & FLAG_AUTH != 0;
    match (auth_pass, authenticated) {
        (Some(_), false) => return Err(WireError::AuthMissing),
        (None, true) => return Err(WireError::AuthUnexpected),
        (Some(pass), true) => {
            let expected = tag(pass, &buf[..AUTHENTICATED_LEN]);
            // Constant-time comparison: the tag is the only secret-derived field.
            let diff = expected
                .iter()
                .zip(&buf[AUTHENTICATED_LEN..])
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff != 0 {
                return Err(WireError::BadAuth);
            }
        }
        (None, false) => {}
    }
    if flags & !(FLAG_AUTH | FLAG_V6) != 0 {
        return Err(WireError::Malformed(buf.len()));
    }
    let centis = u16::from_be_bytes([buf[8], buf[9]]);
    if centis == 0 || centis > 4095 {
        return Err(WireError::Malformed(buf.len()));
    }
    let port = u16::from_be_bytes([buf[10], buf[11]]);
    let ip = if flags & FLAG_V6 != 0 {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&buf[12..28]);
        IpAddr::V6(Ipv6Addr::from(octets))
    } else {
        if buf[16..28].iter().any(|b| *b != 0) {
            return Err(WireError::Malformed(buf.len()));
        }
        IpAddr::V4(Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]))
    };
    Ok(Advert {
        from: SocketAddr::new(ip, port),
        priority: buf[6],
        advert_int: Duration::from_millis(u64::from(centis) * 10),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> SocketAddr {
        "127.0.0.11:5405".parse().unwrap()
    }

    #[test]
    fn round_trip_v4_and_v6() {
        let buf = encode(51, 100, Duration::from_millis(100), sender(), Some("1234"));
        let advert = decode(&buf, 51, Some("1234")).unwrap();
        assert_eq!(advert.from, sender());
        assert_eq!(advert.priority, 100);
        assert_eq!(advert.advert_int, Duration::from_millis(100));

        let v6: SocketAddr = "[fd00::12]:7000".parse().unwrap();
        let buf = encode(7, 0, Duration::from_secs(1), v6, None);
        let advert = decode(&buf, 7, None).unwrap();
        assert_eq!((advert.from, advert.priority), (v6, 0));
        assert_eq!(advert.advert_int, Duration::from_secs(1));
    }

    #[test]
    fn password_is_not_sent_in_clear() {
        let buf = encode(51, 100, Duration::from_secs(1), sender(), Some("1234"));
        assert!(!buf.windows(4).any(|w| w == b"1234"));
    }

    #[test]
    fn rejections_in_keepalived_order_and_wording() {
        let good = encode(51, 90, Duration::from_secs(1), sender(), Some("1234"));
        assert_eq!(decode(&good[..20], 51, None), Err(WireError::Malformed(20)));
        let mut bad = good;
        bad[0] = b'X';
        assert_eq!(decode(&bad, 51, None), Err(WireError::Malformed(36)));
        let mut bad = good;
        bad[4] = 9;
        assert_eq!(decode(&bad, 51, None), Err(WireError::WrongVersion(9)));
        // The VRID is checked before authentication: another router's adverts are just
        // "unknown", not password failures.
        assert_eq!(
            decode(&good, 52, Some("nope")),
            Err(WireError::UnknownVrid(51))
        );
        assert_eq!(decode(&good, 51, Some("4321")), Err(WireError::BadAuth));
        assert_eq!(decode(&good, 51, None), Err(WireError::AuthUnexpected));
        let plain = encode(51, 90, Duration::from_secs(1), sender(), None);
        assert_eq!(
            decode(&plain, 51, Some("1234")),
            Err(WireError::AuthMissing)
        );
        // Any tampered authenticated byte breaks the tag.
        let mut bad = good;
        bad[6] = 200;
        assert_eq!(decode(&bad, 51, Some("1234")), Err(WireError::BadAuth));

        let local: SocketAddr = "127.0.0.12:5405".parse().unwrap();
        assert_eq!(
            WireError::BadAuth.log_line("VI_1", local, sender()),
            "(VI_1) received an invalid passwd from 127.0.0.11!"
        );
        assert_eq!(
            WireError::UnknownVrid(52).log_line("VI_1", local, sender()),
            "Unknown VRID(52) received on interface(127.0.0.12:5405) from 127.0.0.11. ignoring..."
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut state = 0x1234_5678_u32;
        for len in 0..80 {
            let mut buf = vec![0u8; len];
            for b in &mut buf {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *b = (state >> 16) as u8;
            }
            if len >= 4 {
                buf[..4].copy_from_slice(&MAGIC);
            }
            let _ = decode(&buf, 51, Some("x"));
            let _ = decode(&buf, 51, None);
        }
    }
}
