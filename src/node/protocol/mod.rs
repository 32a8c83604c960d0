//! The server side of the MySQL client/server protocol, shared by the admin listener (6032)
//! and the traffic proxy (6033).
//!
//! A connection is accepted with [`ServerConn::accept`], which sends the handshake and
//! authenticates the client through the caller's [`Authenticator`]; the caller then loops on
//! [`ServerConn::next_command`] and answers with the writers (`send_ok`, `send_err`,
//! `begin_resultset` for streamed text result sets, ...) or, when relaying, with the raw packet
//! methods and explicit sequence control.
//!
//! # Why this is built here, on tokio-util and mysql_common
//!
//! Framing runs on a `tokio_util::codec` codec over mysql_common 0.37 — the same version
//! mysql_async pulls in, so there is one copy of it in the build — which supplies chunk
//! splitting/joining, the handshake, handshake-response, auth-switch and ERR packet types and
//! the scramble functions. The existing server crates do not fit:
//! * `opensrv-mysql` 0.7 has no `caching_sha2_password`, answers unknown commands with a bare
//!   OK, fixes the column metadata it sends (the admin must reproduce ProxySQL's exactly), and
//!   pins mysql_common 0.32, a second copy next to mysql_async's;
//! * `msql-srv` is blocking and never checks a password.
//!
//! # TLS
//!
//! `CLIENT_SSL` is advertised when the caller's [`HandshakeConfig::tls`] holds a server
//! configuration (ProxySQL's `mysql-have_ssl`, see [`crate::node::tls`]); after the client's
//! `SSLRequest` the stream ([`ClientStream`]) switches to TLS in place and the handshake goes
//! on inside it. `caching_sha2_password` is complete with or without TLS because the server
//! knows clear-text passwords and only ever needs the fast path.
//!
//! # What is deliberately not offered
//!
//! `CLIENT_COMPRESS` is not advertised: it is optional for a compatible node and peers — real
//! ProxySQL nodes, the mysql/mariadb CLIs, mysql_async — fall back to uncompressed packets
//! when the server does not offer it.

mod auth;
mod codec;
mod command;
mod conn;
mod stream;
mod wire;

use std::time::Duration;

pub use auth::{
    mysql_native_hash, AuthPlugin, AuthRejection, Authenticator, Credential, ErrorReply, Login,
    Password, PeerAddr,
};
pub use command::{ChangeUserRequest, Command};
pub use conn::{HandshakeConfig, ResultSetWriter, ServerConn};
pub use mysql_common::constants::{CapabilityFlags, ColumnFlags, ColumnType, StatusFlags};
pub use stream::{ClientStream, Rewind, StartTls};
pub use wire::ColumnDef;

/// Why a connection failed or a request could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A packet header carried an unexpected sequence id (garbage or a confused client).
    #[error("packet out of order: expected sequence id {expected}, got {got}")]
    OutOfOrder {
        /// The sequence id this side expected.
        expected: u8,
        /// The sequence id received.
        got: u8,
    },
    /// The client announced a packet larger than allowed.
    #[error("packet larger than the {limit}-byte limit")]
    PacketTooLarge {
        /// The limit in force (pre-authentication limit or `max_allowed_packet`).
        limit: usize,
    },
    /// A packet larger than `max_allowed_packet` was read past without being buffered; the
    /// stream is in sync and the next sequence id is the one to answer it with (ERR 1153,
    /// [`ServerConn::send_packet_too_large`]).
    #[error("packet bigger than 'max_allowed_packet' ({limit} bytes) skipped")]
    PacketSkipped {
        /// The limit in force.
        limit: usize,
    },
    /// The stream ended inside a packet.
    #[error("connection closed in the middle of a packet")]
    UnexpectedEof,
    /// The client went away before authentication finished.
    #[error("client closed the connection during authentication")]
    ClosedDuringAuth,
    /// A packet could not be decoded. From `next_command` this is recoverable: the connection
    /// is still in sync and may be answered with an ERR.
    #[error("malformed packet: {0}")]
    Malformed(String),
    /// The TLS handshake after the client's `SSLRequest` failed.
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    /// The client asked for TLS, which is not offered (an ERR has been sent).
    #[error("client requested TLS, which this server does not offer")]
    TlsRequested,
    /// The handshake did not finish in time.
    #[error("handshake not completed within {0:?}")]
    HandshakeTimeout(Duration),
    /// Login refused; the ERR in `reply` has been sent to the client.
    #[error("login refused for user '{user}': {reply}")]
    AuthFailed {
        /// The user name the client presented.
        user: String,
        /// The ERR sent.
        reply: ErrorReply,
    },
    /// The caller used the API in a way that would corrupt the stream; nothing was sent.
    #[error("protocol API misuse: {0}")]
    Usage(&'static str),
}
