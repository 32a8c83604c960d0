//! The node's own admin client to its peers: what the peer monitors and pulls need, no more.
//!
//! It is separate from [`crate::client`] (the operator's client) so the node depends on no
//! layer above it. Peers may be real ProxySQL admins, which turn a `SELECT` of two or more
//! `@@` items into invalid SQL; mysql_async sends such a query after the handshake unless
//! `max_allowed_packet` and `wait_timeout` are pinned and `prefer_socket` is off (spec
//! §1.7.5), so they are pinned here. Only `COM_QUERY` is used (admins refuse prepared
//! statements) and no pool (a pool would send `COM_RESET_CONNECTION`).

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{OptsBuilder, Row, Value};

use crate::proxysql::resultset::ResultSet;

/// ProxySQL's `mysql-max_allowed_packet` default, pinned so no `@@` query is sent.
const MAX_ALLOWED_PACKET: usize = 67_108_864;
/// MySQL's default `wait_timeout`, pinned for the same reason.
const WAIT_TIMEOUT: usize = 28_800;

/// Where and as whom to reach a peer's admin interface (the cluster credentials).
#[derive(Clone)]
pub struct PeerAddr {
    /// Host to connect to (after `--peer-map` resolution).
    pub host: String,
    /// Admin port.
    pub port: u16,
    /// `admin-cluster_username`.
    pub user: String,
    /// `admin-cluster_password`; never logged.
    pub password: String,
}

/// Why a conversation with a peer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The peer answered with an error packet.
    #[error("{message} (error {code}, SQLSTATE {state})")]
    Server {
        /// MySQL error code.
        code: u16,
        /// SQLSTATE.
        state: String,
        /// The peer's message.
        message: String,
    },
    /// The network failed, or the peer spoke something the driver could not follow.
    #[error("connection failed: {0}")]
    Connection(String),
    /// No answer in time.
    #[error("no answer within {0} ms")]
    Timeout(u64),
    /// The query succeeded but its result does not have the expected shape.
    #[error("unexpected result: {0}")]
    UnexpectedResult(String),
}

impl PeerError {
    /// The error text ProxySQL logs for a peer failure: the peer's message alone when it
    /// answered (e.g. `ProxySQL Error: Access denied ...`), else the description.
    pub fn log_text(&self) -> String {
        match self {
            PeerError::Server { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    fn timeout(limit: Duration) -> Self {
        PeerError::Timeout(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX))
    }
}

impl From<mysql_async::Error> for PeerError {
    fn from(e: mysql_async::Error) -> Self {
        match e {
            mysql_async::Error::Server(s) => PeerError::Server {
                code: s.code,
                state: s.state,
                message: s.message,
            },
            other => PeerError::Connection(other.to_string()),
        }
    }
}

/// An open admin connection to a peer; every query is bounded by the connect timeout.
pub struct PeerConn {
    inner: mysql_async::Conn,
    timeout: Duration,
}

/// Connects and authenticates, giving up after `timeout`.
pub async fn connect(addr: &PeerAddr, timeout: Duration) -> Result<PeerConn, PeerError> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(addr.host.clone())
        .tcp_port(addr.port)
        .user(Some(addr.user.clone()))
        .pass(Some(addr.password.clone()))
        .max_allowed_packet(Some(MAX_ALLOWED_PACKET))
        .wait_timeout(Some(WAIT_TIMEOUT))
        .prefer_socket(false)
        .stmt_cache_size(0);
    match tokio::time::timeout(timeout, mysql_async::Conn::new(opts)).await {
        Ok(Ok(inner)) => Ok(PeerConn { inner, timeout }),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(PeerError::timeout(timeout)),
    }
}

impl PeerConn {
    /// Runs one statement and returns its first result set as text (NULL = `None`).
    pub async fn query(&mut self, sql: &str) -> Result<ResultSet, PeerError> {
        let limit = self.timeout;
        match tokio::time::timeout(limit, first_result_set(&mut self.inner, sql)).await {
            Ok(result) => result,
            Err(_) => Err(PeerError::timeout(limit)),
        }
    }

    /// Closes the connection politely (`COM_QUIT`), bounded by the timeout.
    pub async fn close(self) {
        let _ = tokio::time::timeout(self.timeout, self.inner.disconnect()).await;
    }
}

async fn first_result_set(conn: &mut mysql_async::Conn, sql: &str) -> Result<ResultSet, PeerError> {
    let mut result = conn.query_iter(sql).await?;
    let columns = result
        .columns()
        .map(|cols| cols.iter().map(|c| c.name_str().into_owned()).collect())
        .unwrap_or_default();
    let rows: Vec<Row> = result.collect().await?;
    result.drop_result().await?;
    let rows = rows
        .into_iter()
        .map(|row| row.unwrap_raw().into_iter().map(text_of).collect())
        .collect();
    Ok(ResultSet { columns, rows })
}

/// A text-protocol cell: bytes (lossy UTF-8, as a peer's data is hashed as text) or NULL.
fn text_of(value: Option<Value>) -> Option<String> {
    match value? {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}
