//! One admin connection to a node (real ProxySQL 2.7 or `pxadm node`), text protocol only.
//!
//! A ProxySQL admin turns a `SELECT` with two or more `@@` items into invalid SQL, and
//! mysql_async sends exactly such a query after the handshake unless `max_allowed_packet` and
//! `wait_timeout` are pinned and `prefer_socket` is off (spec §1.7.5). The options below pin
//! them; queries use `COM_QUERY` only (admins refuse prepared statements) and no pool is used,
//! because a pool would issue `COM_RESET_CONNECTION` on return.

use std::fmt;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{OptsBuilder, Row, Value};
use serde::Serialize;

use crate::proxysql::resultset::ResultSet;

/// Where and as whom to reach one node's admin interface.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeAddr {
    /// Operator-facing node name (e.g. `node1`).
    pub name: String,
    /// Host name or IP address of the admin listener.
    pub host: String,
    /// Admin port (6032 by default).
    pub port: u16,
    /// Admin or stats user.
    pub user: String,
    /// Its password; never printed.
    pub password: String,
}

impl NodeAddr {
    /// `host:port`, the form ProxySQL uses for peers.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl fmt::Debug for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeAddr")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"********")
            .finish()
    }
}

/// What was being waited for when a timeout hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// TCP connect, handshake and authentication.
    Connect,
    /// The answer to a query.
    Query,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connecting",
            Stage::Query => "waiting for a query answer",
        })
    }
}

/// Why talking to a node failed. Kept as plain data so snapshots can carry and serialize it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClientError {
    /// The server answered with an error packet (bad credentials, bad SQL, missing table…).
    #[error("{message} (error {code}, SQLSTATE {state})")]
    Server {
        /// MySQL error code (a ProxySQL admin uses 1045 for most errors).
        code: u16,
        /// SQLSTATE.
        state: String,
        /// Server's message.
        message: String,
    },
    /// The network failed: refused, reset, unresolvable host…
    #[error("connection failed: {cause}")]
    Io {
        /// Operating system's description.
        cause: String,
    },
    /// No answer in time.
    #[error("no answer within {after_ms} ms while {stage}")]
    Timeout {
        /// What was pending.
        stage: Stage,
        /// The limit that expired.
        after_ms: u64,
    },
    /// The server spoke something the client could not follow.
    #[error("protocol error: {message}")]
    Protocol {
        /// Driver's description.
        message: String,
    },
    /// The query succeeded but its result does not have the expected shape.
    #[error("unexpected result: {message}")]
    UnexpectedResult {
        /// What was wrong.
        message: String,
    },
}

impl ClientError {
    /// True for an authentication refusal (`ERROR 1045 … Access denied …`), as opposed to the
    /// other 1045 errors a ProxySQL admin sends for failed statements.
    pub fn is_access_denied(&self) -> bool {
        matches!(self, ClientError::Server { code: 1045, message, .. } if message.contains("Access denied"))
    }

    /// True when the connection can no longer be used (anything but a server error packet).
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            ClientError::Server { .. } | ClientError::UnexpectedResult { .. }
        )
    }

    fn timeout(stage: Stage, limit: Duration) -> Self {
        ClientError::Timeout {
            stage,
            after_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl From<mysql_async::Error> for ClientError {
    fn from(e: mysql_async::Error) -> Self {
        match e {
            mysql_async::Error::Server(s) => ClientError::Server {
                code: s.code,
                state: s.state,
                message: s.message,
            },
            mysql_async::Error::Io(mysql_async::IoError::Io(io)) => ClientError::Io {
                cause: io.to_string(),
            },
            #[allow(unreachable_patterns)] // the TLS variant exists only with a TLS feature
            mysql_async::Error::Io(other) => ClientError::Io {
                cause: other.to_string(),
            },
            mysql_async::Error::Driver(d) => ClientError::Protocol {
                message: d.to_string(),
            },
            other => ClientError::Protocol {
                message: other.to_string(),
            },
        }
    }
}

/// An open admin connection. After a [fatal](ClientError::is_fatal) error it must be dropped.
pub struct Conn {
    inner: mysql_async::Conn,
    timeout: Duration,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.inner.id())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// ProxySQL's own `mysql-max_allowed_packet` default; pinned so no `@@` query is sent.
const MAX_ALLOWED_PACKET: usize = 67_108_864;
/// MySQL's default `wait_timeout`; pinned for the same reason.
const WAIT_TIMEOUT: usize = 28_800;

/// Opens a connection, giving up after `timeout` (which also bounds every later query).
pub async fn connect(addr: &NodeAddr, timeout: Duration) -> Result<Conn, ClientError> {
    connect_to_schema(addr, timeout, None).await
}

/// [`connect`] sending `schema` at login, as the mysql client's `-D` does (ProxySQL's admin
/// accepts any name and answers from its own schemas).
pub async fn connect_to_schema(
    addr: &NodeAddr,
    timeout: Duration,
    schema: Option<&str>,
) -> Result<Conn, ClientError> {
    let opts = OptsBuilder::default()
        .db_name(schema.map(str::to_owned))
        .ip_or_hostname(addr.host.clone())
        .tcp_port(addr.port)
        .user(Some(addr.user.clone()))
        .pass(Some(addr.password.clone()))
        .max_allowed_packet(Some(MAX_ALLOWED_PACKET))
        .wait_timeout(Some(WAIT_TIMEOUT))
        .prefer_socket(false)
        .stmt_cache_size(0);
    match tokio::time::timeout(timeout, mysql_async::Conn::new(opts)).await {
        Ok(Ok(inner)) => Ok(Conn { inner, timeout }),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(ClientError::timeout(Stage::Connect, timeout)),
    }
}

/// What a statement produced: its first result set (empty, without columns, for statements
/// that answer with an OK packet) and the OK packet's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Rows of the first result set; `columns` is empty when there was none.
    pub result: ResultSet,
    /// Affected rows reported by the server.
    pub affected_rows: u64,
    /// Info text (a ProxySQL admin reports e.g. unknown `SET` variables here).
    pub info: String,
    /// Warning count.
    pub warnings: u16,
}

/// Runs one statement and returns its first result set as text, exactly as received
/// (NULL = `None`); later result sets of a multi-statement are read and discarded.
pub async fn query_text(conn: &mut Conn, sql: &str) -> Result<ResultSet, ClientError> {
    execute_text(conn, sql).await.map(|o| o.result)
}

/// Like [`query_text`] but also returns the OK-packet counters, for the `Admin>` shell.
pub async fn execute_text(conn: &mut Conn, sql: &str) -> Result<Outcome, ClientError> {
    let limit = conn.timeout;
    match tokio::time::timeout(limit, run(&mut conn.inner, sql)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::timeout(Stage::Query, limit)),
    }
}

async fn run(conn: &mut mysql_async::Conn, sql: &str) -> Result<Outcome, ClientError> {
    let mut result = conn.query_iter(sql).await?;
    let columns: Vec<String> = result
        .columns()
        .map(|cols| cols.iter().map(|c| c.name_str().into_owned()).collect())
        .unwrap_or_default();
    let rows: Vec<Row> = result.collect().await?;
    let outcome = Outcome {
        result: ResultSet {
            columns,
            rows: rows.into_iter().map(row_to_text).collect(),
        },
        affected_rows: result.affected_rows(),
        info: result.info().into_owned(),
        warnings: result.warnings(),
    };
    result.drop_result().await?;
    Ok(outcome)
}

fn row_to_text(row: Row) -> Vec<Option<String>> {
    row.unwrap_raw()
        .into_iter()
        .map(|v| v.and_then(value_to_text))
        .collect()
}

/// Renders one value as text. The text protocol only yields `Bytes` and `NULL`; the other
/// arms exist so a value is never lost if the driver ever decodes one.
fn value_to_text(value: Value) -> Option<String> {
    match value {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other @ (Value::Date(..) | Value::Time(..)) => {
            Some(other.as_sql(true).trim_matches('\'').to_owned())
        }
    }
}

impl Conn {
    /// The per-operation timeout this connection was opened with.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The server's id for this connection (the mysql client's `Connection id`).
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// Closes the connection politely (`COM_QUIT`), bounded by the timeout.
    pub async fn close(self) {
        let _ = tokio::time::timeout(self.timeout, self.inner.disconnect()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::test_server::TestServer;

    #[test]
    fn debug_masks_the_password() {
        let addr = NodeAddr {
            name: "node1".into(),
            host: "127.0.0.1".into(),
            port: 6032,
            user: "admin".into(),
            password: "s3cret".into(),
        };
        let dbg = format!("{addr:?}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
        assert!(dbg.contains("node1") && dbg.contains("6032"), "{dbg}");
        assert_eq!(addr.endpoint(), "127.0.0.1:6032");
    }

    #[test]
    fn error_display_is_clean() {
        let e = ClientError::Server {
            code: 1045,
            state: "28000".into(),
            message: "ProxySQL Error: Access denied for user 'cluster_user'@'192.168.0.11' (using password: YES)".into(),
        };
        assert!(e.is_access_denied());
        assert!(!e.is_fatal());
        assert_eq!(
            e.to_string(),
            "ProxySQL Error: Access denied for user 'cluster_user'@'192.168.0.11' (using password: YES) (error 1045, SQLSTATE 28000)"
        );
        let e = ClientError::Server {
            code: 1045,
            state: "28000".into(),
            message: "ProxySQL Admin Error: no such table: foo".into(),
        };
        assert!(!e.is_access_denied());
        let e = ClientError::timeout(Stage::Connect, Duration::from_millis(1500));
        assert_eq!(e.to_string(), "no answer within 1500 ms while connecting");
        assert!(e.is_fatal());
    }

    #[test]
    fn values_render_as_text() {
        assert_eq!(value_to_text(Value::NULL), None);
        assert_eq!(
            value_to_text(Value::Bytes(b"6032".to_vec())).as_deref(),
            Some("6032")
        );
        assert_eq!(
            value_to_text(Value::Bytes(b"a\xffb".to_vec())).as_deref(),
            Some("a\u{fffd}b")
        );
        assert_eq!(value_to_text(Value::Int(-3)).as_deref(), Some("-3"));
        assert_eq!(
            value_to_text(Value::UInt(u64::MAX)).as_deref(),
            Some("18446744073709551615")
        );
    }

    /// Everything that needs a real server runs in one test, against one MariaDB instance
    /// started for it, to pay the start-up cost once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn against_a_real_mariadb() {
        let Some(server) = TestServer::start().await else {
            eprintln!("mariadbd not available: skipping");
            return;
        };
        let addr = server.addr("maria");
        let t = Duration::from_secs(5);

        let mut conn = connect(&addr, t).await.expect("connect");
        // Integer and string columns of every width come back as the exact text.
        let rs = query_text(
            &mut conn,
            "SELECT 1 AS one, CAST(18446744073709551615 AS UNSIGNED) AS big, 'x' AS s, NULL AS n, '' AS e",
        )
        .await
        .unwrap();
        assert_eq!(rs.columns, ["one", "big", "s", "n", "e"]);
        assert_eq!(
            rs.rows,
            [vec![
                Some("1".to_owned()),
                Some("18446744073709551615".to_owned()),
                Some("x".to_owned()),
                None,
                Some(String::new())
            ]]
        );
        // Statements without a result set.
        execute_text(&mut conn, "CREATE DATABASE pxtest")
            .await
            .unwrap();
        let o = execute_text(
            &mut conn,
            "CREATE TEMPORARY TABLE pxtest.t (a BIGINT, b VARCHAR(10))",
        )
        .await
        .unwrap();
        assert!(o.result.columns.is_empty());
        let o = execute_text(
            &mut conn,
            "INSERT INTO pxtest.t VALUES (5, 'five'), (NULL, NULL)",
        )
        .await
        .unwrap();
        assert_eq!(o.affected_rows, 2);
        let rs = query_text(&mut conn, "SELECT a, b FROM pxtest.t ORDER BY a")
            .await
            .unwrap();
        assert_eq!(
            rs.rows,
            [
                vec![None, None],
                vec![Some("5".into()), Some("five".into())]
            ]
        );
        // An empty result keeps its columns.
        let rs = query_text(&mut conn, "SELECT a FROM pxtest.t WHERE a > 100")
            .await
            .unwrap();
        assert_eq!((rs.columns.len(), rs.rows.len()), (1, 0));
        // Server errors carry code and message, and the connection stays usable.
        let e = query_text(&mut conn, "SELECT * FROM no_such_table")
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                ClientError::Server {
                    code: 1046 | 1146,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(!e.is_fatal());
        let rs = query_text(&mut conn, "SELECT @@version").await.unwrap();
        assert!(rs.rows[0][0].as_deref().unwrap().contains("MariaDB"));
        // A query slower than the timeout.
        let mut slow = connect(&addr, Duration::from_millis(300)).await.unwrap();
        let e = query_text(&mut slow, "SELECT SLEEP(3)").await.unwrap_err();
        assert_eq!(
            e,
            ClientError::Timeout {
                stage: Stage::Query,
                after_ms: 300
            }
        );
        conn.close().await;

        // Wrong password: recognisable as an authentication refusal.
        let bad = NodeAddr {
            password: "wrong".into(),
            ..addr.clone()
        };
        let e = connect(&bad, t).await.unwrap_err();
        assert!(e.is_access_denied(), "{e:?}");
        assert!(e.to_string().contains("Access denied"), "{e}");

        // Nobody listening.
        let closed = NodeAddr {
            port: crate::client::test_server::free_port(),
            ..addr.clone()
        };
        let e = connect(&closed, t).await.unwrap_err();
        assert!(matches!(e, ClientError::Io { .. }), "{e:?}");

        // A listener that never sends a handshake.
        let mute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mute_addr = NodeAddr {
            port: mute.local_addr().unwrap().port(),
            ..addr.clone()
        };
        let e = connect(&mute_addr, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            ClientError::Timeout {
                stage: Stage::Connect,
                after_ms: 200
            }
        );

        crate::client::snapshot::tests::against_a_real_mariadb(&addr).await;
    }
}
