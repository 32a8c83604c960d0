//! Authentication: the caller's credential source, the password checks of the two supported
//! plugins, and the login result.
//!
//! The server always knows the clear-text password (ProxySQL's admin credentials and
//! `mysql_users` keep it), so `caching_sha2_password` needs only its fast path: the scramble the
//! client sends can be recomputed and compared, and the RSA/TLS "full authentication" that
//! exists for servers holding only a hash is never needed. A `*HEX` mysql_native hash is also
//! accepted as a stored credential; it can verify only `mysql_native_password`, so a client is
//! switched to that plugin when such a credential is looked up.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use mysql_common::constants::CapabilityFlags;
use mysql_common::scramble::scramble_sha256;
use rand::RngExt;
use sha1::{Digest, Sha1};

/// Length of the authentication nonce ("scramble") sent in the initial handshake.
pub(crate) const NONCE_LEN: usize = 20;

/// An authentication method this server can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthPlugin {
    /// `mysql_native_password`: SHA-1 challenge/response; ProxySQL's default.
    #[default]
    MysqlNative,
    /// `caching_sha2_password` (fast path only): SHA-256 challenge/response; MySQL 8's default.
    CachingSha2,
}

impl AuthPlugin {
    /// The plugin name as it appears on the wire.
    pub fn name(self) -> &'static str {
        match self {
            AuthPlugin::MysqlNative => "mysql_native_password",
            AuthPlugin::CachingSha2 => "caching_sha2_password",
        }
    }

    /// Maps a wire plugin name to a supported plugin; `None` for anything else.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        match name {
            b"mysql_native_password" => Some(AuthPlugin::MysqlNative),
            b"caching_sha2_password" => Some(AuthPlugin::CachingSha2),
            _ => None,
        }
    }
}

impl fmt::Display for AuthPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A stored password.
#[derive(Clone, PartialEq, Eq)]
pub enum Password {
    /// The clear text; verifies both plugins. Empty means "no password".
    Clear(String),
    /// `SHA1(SHA1(password))`, i.e. the 20 bytes behind MySQL's `*HEX` notation; verifies only
    /// `mysql_native_password`.
    NativeHash([u8; 20]),
}

impl Password {
    /// Interprets a password as ProxySQL stores it: `*` followed by 40 hex digits is a
    /// mysql_native hash, anything else is clear text.
    pub fn from_stored(stored: &str) -> Self {
        parse_native_hash(stored)
            .map(Password::NativeHash)
            .unwrap_or_else(|| Password::Clear(stored.to_owned()))
    }

    /// True for the empty clear-text password.
    pub fn is_empty(&self) -> bool {
        matches!(self, Password::Clear(p) if p.is_empty())
    }

    /// `SHA1(SHA1(password))`, what a native scramble is checked against.
    fn native_stage2(&self) -> [u8; 20] {
        match self {
            Password::Clear(p) => sha1(&sha1(p.as_bytes())),
            Password::NativeHash(h) => *h,
        }
    }
}

// Passwords stay out of logs and panics.
impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Password::Clear(_) => f.write_str("Password::Clear(..)"),
            Password::NativeHash(_) => f.write_str("Password::NativeHash(..)"),
        }
    }
}

/// The `*HEX` form MySQL and ProxySQL use for a mysql_native password hash.
pub fn mysql_native_hash(password: &str) -> String {
    let stage2 = sha1(&sha1(password.as_bytes()));
    let mut out = String::with_capacity(41);
    out.push('*');
    for b in stage2 {
        out.push_str(&format!("{b:02X}"));
    }
    out
}

fn parse_native_hash(stored: &str) -> Option<[u8; 20]> {
    let hex = stored.strip_prefix('*')?.as_bytes();
    if hex.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// What [`Authenticator::lookup`] finds for a user.
#[derive(Debug, Clone)]
pub struct Credential<T> {
    /// The password to verify the client's response against.
    pub password: Password,
    /// Opaque caller data (e.g. admin vs stats user, default hostgroup), returned in [`Login`].
    pub tag: T,
}

/// Where a client connects from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAddr {
    /// A TCP client.
    Tcp(SocketAddr),
    /// A UNIX-socket client.
    Unix,
}

impl PeerAddr {
    /// The host part of `'user'@'host'` in ProxySQL's messages: the IP address, or `localhost`
    /// for a UNIX socket (as `MySQL_Session` renders it).
    pub fn host(&self) -> String {
        match self {
            PeerAddr::Tcp(addr) => addr.ip().to_string(),
            PeerAddr::Unix => "localhost".to_owned(),
        }
    }
}

impl From<SocketAddr> for PeerAddr {
    fn from(addr: SocketAddr) -> Self {
        PeerAddr::Tcp(addr)
    }
}

/// An ERR packet's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// MySQL error code.
    pub code: u16,
    /// Five-character SQLSTATE.
    pub sqlstate: String,
    /// Human-readable message.
    pub message: String,
}

impl ErrorReply {
    /// An error reply with the given fields.
    pub fn new(code: u16, sqlstate: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            sqlstate: sqlstate.to_owned(),
            message: message.into(),
        }
    }

    /// ProxySQL's wrong-credentials error (`MySQL_Session.cpp`,
    /// `handler___status_CONNECTING_CLIENT___STATE_SERVER_HANDSHAKE_WrongCredentials`):
    /// 1045 / 28000 `ProxySQL Error: Access denied for user 'U'@'H' (using password: YES|NO)`.
    pub fn access_denied(user: &str, peer: &PeerAddr, using_password: bool) -> Self {
        Self::new(
            1045,
            "28000",
            format!(
                "ProxySQL Error: Access denied for user '{user}'@'{}' (using password: {})",
                peer.host(),
                if using_password { "YES" } else { "NO" }
            ),
        )
    }
}

impl fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ERROR {} ({}): {}",
            self.code, self.sqlstate, self.message
        )
    }
}

/// Why a login is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRejection {
    /// Unknown user or wrong password: answered with [`Authenticator::access_denied`].
    AccessDenied,
    /// A specific error, e.g. ProxySQL's 1040 `User 'admin' can only connect locally`.
    Reply(ErrorReply),
}

/// The caller's credential store and login policy.
///
/// Called on the connection's task between packets; implementations must not block (look up
/// in memory, not on disk or over the network).
pub trait Authenticator: Send + Sync {
    /// Per-user data handed back in [`Login::tag`].
    type Tag: Send;

    /// Finds the credential for `user` connecting from `peer`.
    fn lookup(&self, user: &str, peer: &PeerAddr) -> Result<Credential<Self::Tag>, AuthRejection>;

    /// Final policy check once the password is verified, before the client is told it is in
    /// (ProxySQL checks "admin only from localhost" at exactly this point).
    fn authorize(&self, login: &Login<Self::Tag>, peer: &PeerAddr) -> Result<(), AuthRejection> {
        let _ = (login, peer);
        Ok(())
    }

    /// The ERR sent for [`AuthRejection::AccessDenied`]; ProxySQL's text by default.
    fn access_denied(&self, user: &str, peer: &PeerAddr, using_password: bool) -> ErrorReply {
        ErrorReply::access_denied(user, peer, using_password)
    }
}

/// A successful login (initial handshake or `COM_CHANGE_USER`).
#[derive(Debug, Clone)]
pub struct Login<T> {
    /// User name (lossily decoded if not UTF-8).
    pub user: String,
    /// Default schema requested by the client, if any.
    pub schema: Option<String>,
    /// The caller's tag from [`Credential::tag`].
    pub tag: T,
    /// The plugin the password was verified with.
    pub auth_plugin: AuthPlugin,
    /// Whether the client sent a non-empty auth response.
    pub used_password: bool,
    /// Collation id the client asked for (0 if it did not say).
    pub collation: u16,
    /// Capability flags the client announced (not intersected with the server's).
    pub client_capabilities: CapabilityFlags,
    /// Connection attributes (`_client_name`, `program_name`, ...).
    pub attributes: HashMap<String, String>,
}

/// A fresh nonce of printable ASCII, as MySQL and ProxySQL generate: some clients treat the
/// scramble as a C string, so NUL must never occur.
pub(crate) fn new_nonce() -> [u8; NONCE_LEN] {
    let mut rng = rand::rng();
    let mut nonce = [0u8; NONCE_LEN];
    for b in &mut nonce {
        *b = rng.random_range(0x21u8..=0x7e);
    }
    nonce
}

/// True when `response` carries no password (clients send nothing or a lone NUL).
pub(crate) fn is_empty_response(response: &[u8]) -> bool {
    matches!(response, [] | [0])
}

/// Checks a client's auth response for `plugin` against `password`.
pub(crate) fn verify(
    plugin: AuthPlugin,
    password: &Password,
    nonce: &[u8; NONCE_LEN],
    response: &[u8],
) -> bool {
    if password.is_empty() || is_empty_response(response) {
        return password.is_empty() && is_empty_response(response);
    }
    match (plugin, password) {
        (AuthPlugin::MysqlNative, password) => {
            // response = SHA1(pw) XOR SHA1(nonce ‖ stage2); recover SHA1(pw) and hash it.
            let Ok(response) = <[u8; 20]>::try_from(response) else {
                return false;
            };
            let stage2 = password.native_stage2();
            let mut hasher = Sha1::new();
            hasher.update(nonce);
            hasher.update(stage2);
            let mask: [u8; 20] = hasher.finalize().into();
            let mut stage1 = [0u8; 20];
            for (out, (r, m)) in stage1.iter_mut().zip(response.iter().zip(mask)) {
                *out = r ^ m;
            }
            ct_eq(&sha1(&stage1), &stage2)
        }
        (AuthPlugin::CachingSha2, Password::Clear(clear)) => {
            scramble_sha256(nonce, clear.as_bytes()).is_some_and(|want| ct_eq(&want, response))
        }
        (AuthPlugin::CachingSha2, Password::NativeHash(_)) => false,
    }
}

fn sha1(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

/// Comparison whose time does not depend on where the first difference is.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::scramble::scramble_native;

    const NONCE: [u8; NONCE_LEN] = *b"abcdefghij0123456789";

    #[test]
    fn native_hash_notation_matches_mysql() {
        // SELECT PASSWORD('admin') on MySQL 5.7.
        assert_eq!(
            mysql_native_hash("admin"),
            "*4ACFE3202A5FF5CF467898FC58AAB1D615029441"
        );
        let stored = Password::from_stored("*4ACFE3202A5FF5CF467898FC58AAB1D615029441");
        assert!(matches!(stored, Password::NativeHash(_)));
        assert!(matches!(Password::from_stored("*xyz"), Password::Clear(_)));
        assert!(matches!(Password::from_stored("admin"), Password::Clear(_)));
    }

    #[test]
    fn native_verifies_clear_and_hashed_passwords() {
        let response = scramble_native(&NONCE, b"s3cret").unwrap();
        let clear = Password::Clear("s3cret".into());
        let hashed = Password::from_stored(&mysql_native_hash("s3cret"));
        assert!(verify(AuthPlugin::MysqlNative, &clear, &NONCE, &response));
        assert!(verify(AuthPlugin::MysqlNative, &hashed, &NONCE, &response));
        let wrong = Password::Clear("other".into());
        assert!(!verify(AuthPlugin::MysqlNative, &wrong, &NONCE, &response));
        assert!(!verify(
            AuthPlugin::MysqlNative,
            &clear,
            &NONCE,
            &response[..19]
        ));
    }

    #[test]
    fn caching_sha2_fast_path_verifies_clear_text_only() {
        let response = scramble_sha256(&NONCE, b"s3cret").unwrap();
        let clear = Password::Clear("s3cret".into());
        assert!(verify(AuthPlugin::CachingSha2, &clear, &NONCE, &response));
        let mut tampered = response;
        tampered[31] ^= 1;
        assert!(!verify(AuthPlugin::CachingSha2, &clear, &NONCE, &tampered));
        let hashed = Password::from_stored(&mysql_native_hash("s3cret"));
        assert!(!verify(AuthPlugin::CachingSha2, &hashed, &NONCE, &response));
    }

    #[test]
    fn empty_passwords_match_only_empty_responses() {
        let empty = Password::Clear(String::new());
        for plugin in [AuthPlugin::MysqlNative, AuthPlugin::CachingSha2] {
            assert!(verify(plugin, &empty, &NONCE, b""));
            assert!(verify(plugin, &empty, &NONCE, b"\0"));
            assert!(!verify(plugin, &empty, &NONCE, &[7u8; 20]));
            let set = Password::Clear("x".into());
            assert!(!verify(plugin, &set, &NONCE, b""));
        }
    }

    #[test]
    fn nonce_is_printable_and_fresh() {
        let a = new_nonce();
        assert!(a.iter().all(|b| (0x21..=0x7e).contains(b)));
        assert_ne!(a, new_nonce());
    }

    #[test]
    fn access_denied_text_is_proxysql_s() {
        let peer = PeerAddr::Tcp("10.1.2.3:5555".parse().unwrap());
        let reply = ErrorReply::access_denied("bob", &peer, true);
        assert_eq!(reply.code, 1045);
        assert_eq!(reply.sqlstate, "28000");
        assert_eq!(
            reply.message,
            "ProxySQL Error: Access denied for user 'bob'@'10.1.2.3' (using password: YES)"
        );
        let reply = ErrorReply::access_denied("bob", &PeerAddr::Unix, false);
        assert!(reply
            .message
            .ends_with("'bob'@'localhost' (using password: NO)"));
    }
}
