//! One check against one backend: connect, ping, read_only, replication lag (§7.5), each
//! bounded by its timeout, with the error texts and log lines ProxySQL's monitor produces.
//!
//! Error texts follow MariaDB Connector/C 3.3 (the client library ProxySQL 2.7 ships), so
//! `monitor.*_log` rows read the same as on a real node: `Can't connect to server on 'host'
//! (errno)`, `Lost connection to server during query`, the server's own message for server
//! errors, `timeout during ping`, `timeout check`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row, Value};

use super::lag::{lag_query, LagReading};
use super::servers::{CheckType, ServerAddr};
use super::settings::MonitorSettings;
use super::shunning::is_credentials_error;
use crate::px_error;

/// `errno` the client library reports when a connect attempt runs out of time (ETIMEDOUT).
const ETIMEDOUT: i32 = 110;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe<T> {
    /// The backend.
    pub addr: ServerAddr,
    /// Wall-clock start of the check, µs since the epoch (`time_start_us`).
    pub start_us: i64,
    /// The value and how long the operation took, or the error.
    pub outcome: Result<(T, Duration), CheckError>,
}

impl<T> Probe<T> {
    /// The error text, `None` on success.
    pub fn error(&self) -> Option<&str> {
        self.outcome.as_ref().err().map(|e| e.message.as_str())
    }

    /// The operation's duration in µs on success.
    pub fn success_us(&self) -> Option<i64> {
        self.outcome
            .as_ref()
            .ok()
            .map(|(_, d)| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }
}

/// A failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    /// The text stored in the log's error column.
    pub message: String,
    /// True when the check ran out of time (read_only: counts toward the timeout limit).
    pub timeout: bool,
}

impl CheckError {
    fn new(message: impl Into<String>) -> CheckError {
        CheckError {
            message: message.into(),
            timeout: false,
        }
    }

    fn timeout(message: impl Into<String>) -> CheckError {
        CheckError {
            message: message.into(),
            timeout: true,
        }
    }
}

/// Wall-clock now in µs since the epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Connection options for a backend. `kept` connections (ping, read_only) get ProxySQL's
/// `SET wait_timeout` so the server does not drop them between two checks.
fn options(addr: &ServerAddr, s: &MonitorSettings, kept: bool) -> OptsBuilder {
    let mut opts = OptsBuilder::default()
        .user(Some(s.username.clone()))
        .pass(Some(s.password.clone()))
        // Pinned so the driver does not query them (or @@socket) after the handshake: a
        // connect check measures the handshake only.
        .max_allowed_packet(Some(67_108_864))
        .wait_timeout(Some(28_800))
        .prefer_socket(false)
        .stmt_cache_size(0)
        .connect_attribute("program_name", "proxysql_monitor")
        .connect_attribute("_server_host", addr.host.clone());
    // Port 0 names a unix socket in `hostname`, as in ProxySQL.
    opts = if addr.port == 0 {
        opts.socket(Some(addr.host.clone()))
    } else {
        opts.ip_or_hostname(addr.host.clone()).tcp_port(addr.port)
    };
    if kept && s.wait_timeout {
        opts = opts.setup(vec![format!(
            "SET wait_timeout={}",
            s.session_wait_timeout_secs()
        )]);
    }
    opts
}

/// The text Connector/C gives for a failed connection attempt.
pub fn connect_error_text(addr: &ServerAddr, err: &mysql_async::Error) -> String {
    match err {
        mysql_async::Error::Server(e) => e.message.clone(),
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => match io.raw_os_error() {
            Some(errno) => unreachable_text(addr, errno),
            None => "Lost connection to server at 'handshake: reading initial communication packet', system error: 0".to_string(),
        },
        other => other.to_string(),
    }
}

fn unreachable_text(addr: &ServerAddr, errno: i32) -> String {
    if addr.port == 0 {
        format!(
            "Can't connect to local server through socket '{}' ({errno})",
            addr.host
        )
    } else {
        format!("Can't connect to server on '{}' ({errno})", addr.host)
    }
}

/// The text Connector/C gives for a failure on an open connection.
pub fn query_error_text(err: &mysql_async::Error) -> String {
    match err {
        mysql_async::Error::Server(e) => e.message.clone(),
        mysql_async::Error::Io(_) => "Lost connection to server during query".to_string(),
        other => other.to_string(),
    }
}

/// Opens a connection within the connect timeout.
pub async fn open(addr: &ServerAddr, s: &MonitorSettings, kept: bool) -> Result<Conn, String> {
    match tokio::time::timeout(s.connect_timeout, Conn::new(options(addr, s, kept))).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(connect_error_text(addr, &e)),
        Err(_) => Err(unreachable_text(addr, ETIMEDOUT)),
    }
}

/// The connection kept from the last round, or a new one to keep.
async fn kept_or_open(
    conn: Option<Conn>,
    addr: &ServerAddr,
    s: &MonitorSettings,
) -> Result<Conn, String> {
    match conn {
        Some(c) => Ok(c),
        None => open(addr, s, true).await,
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// A check query's column names and rows.
type Fetched = (Vec<String>, Vec<Row>);

/// Runs `query` on `conn` within `limit`: `None` when the time ran out.
async fn fetch(
    conn: &mut Conn,
    query: &str,
    limit: Duration,
) -> Option<Result<Fetched, mysql_async::Error>> {
    tokio::time::timeout(limit, async {
        let mut result = conn.query_iter(query).await?;
        let columns: Vec<String> = result
            .columns_ref()
            .iter()
            .map(|c| c.name_str().into_owned())
            .collect();
        let rows: Vec<Row> = result.collect().await?;
        result.drop_result().await?;
        Ok((columns, rows))
    })
    .await
    .ok()
}

/// Connect check: a fresh connection, closed at once (`mysql_server_connect_log`).
pub async fn connect_check(addr: ServerAddr, s: &MonitorSettings) -> Probe<()> {
    let start_us = now_us();
    let t1 = Instant::now();
    let outcome = match open(&addr, s, false).await {
        Ok(conn) => {
            let took = t1.elapsed();
            // Closing is not part of the measurement; a failed COM_QUIT is irrelevant.
            tokio::spawn(async move {
                let _ = conn.disconnect().await;
            });
            Ok(((), took))
        }
        Err(message) => {
            if is_credentials_error(&message) {
                if message.starts_with("Your password has expired.") {
                    px_error!(
                        "Server {}:{} is returning \"Your password has expired.\" for monitoring user",
                        addr.host,
                        addr.port
                    );
                } else {
                    px_error!(
                        "Server {}:{} is returning \"Access denied\" for monitoring user",
                        addr.host,
                        addr.port
                    );
                }
            }
            Err(CheckError::new(message))
        }
    };
    Probe {
        addr,
        start_us,
        outcome,
    }
}

/// Ping check on the kept connection (opened first if there is none). Returns the
/// connection for the next round only when the ping succeeded.
pub async fn ping_check(
    addr: ServerAddr,
    conn: Option<Conn>,
    s: &MonitorSettings,
) -> (Probe<()>, Option<Conn>) {
    let start_us = now_us();
    let mut conn = match kept_or_open(conn, &addr, s).await {
        Ok(c) => c,
        Err(message) => {
            let probe = Probe {
                addr,
                start_us,
                outcome: Err(CheckError::new(message)),
            };
            return (probe, None);
        }
    };
    let t1 = Instant::now();
    let result = tokio::time::timeout(s.ping_timeout, conn.ping()).await;
    let took = t1.elapsed();
    let (outcome, conn) = match result {
        Ok(Ok(())) => (Ok(((), took)), Some(conn)),
        Ok(Err(e)) => {
            let message = query_error_text(&e);
            px_error!(
                "Error after {}ms on server {}:{} : {}",
                ms(took),
                addr.host,
                addr.port,
                message
            );
            (Err(CheckError::new(message)), None)
        }
        Err(_) => {
            px_error!(
                "Timeout on ping check for {}:{} after {}ms. If the server is overload, increase mysql-monitor_ping_timeout.",
                addr.host,
                addr.port,
                ms(took)
            );
            (Err(CheckError::timeout("timeout during ping")), None)
        }
    };
    (
        Probe {
            addr,
            start_us,
            outcome,
        },
        conn,
    )
}

/// read_only check with `check_type`'s query on the kept connection (opened first if there
/// is none). A connection that cannot be opened counts as a timeout, as in ProxySQL.
pub async fn read_only_check(
    addr: ServerAddr,
    check_type: CheckType,
    conn: Option<Conn>,
    s: &MonitorSettings,
) -> (Probe<bool>, Option<Conn>) {
    let start_us = now_us();
    let t0 = Instant::now();
    let mut conn = match conn {
        Some(c) => c,
        None => match open(&addr, s, true).await {
            Ok(c) => c,
            Err(message) => {
                let message = format!("timeout on creating new connection: {message}");
                px_error!(
                    "Timeout on read_only check for {}:{} after {}ms. Unable to create a connection. If the server is overload, increase mysql-monitor_connect_timeout. Error: {}.",
                    addr.host,
                    addr.port,
                    ms(t0.elapsed()),
                    message
                );
                let probe = Probe {
                    addr,
                    start_us,
                    outcome: Err(CheckError::timeout(message)),
                };
                return (probe, None);
            }
        },
    };
    let t1 = Instant::now();
    let result = fetch(&mut conn, check_type.query(), s.read_only_timeout).await;
    let took = t1.elapsed();
    let (outcome, conn) = match result {
        Some(Ok((columns, rows))) => {
            let value = read_only_value(&columns, &rows).unwrap_or_else(|| {
                px_error!(
                    "mysql_fetch_fields returns NULL, or mysql_num_fields is incorrect. Server {}:{} . See bug #1994",
                    addr.host,
                    addr.port
                );
                true
            });
            (Ok((value, took)), Some(conn))
        }
        Some(Err(e)) => (Err(CheckError::new(query_error_text(&e))), None),
        None => {
            px_error!(
                "Timeout on read_only check for {}:{} after {}ms. If the server is overload, increase mysql-monitor_read_only_timeout.",
                addr.host,
                addr.port,
                ms(took)
            );
            (Err(CheckError::timeout("timeout check")), None)
        }
    };
    (
        Probe {
            addr,
            start_us,
            outcome,
        },
        conn,
    )
}

/// Replication-lag check (`SHOW SLAVE STATUS`, or the pt-heartbeat query) on the kept
/// connection (opened first if there is none).
pub async fn replication_lag_check(
    addr: ServerAddr,
    conn: Option<Conn>,
    s: &MonitorSettings,
) -> (Probe<LagReading>, Option<Conn>) {
    let start_us = now_us();
    let mut conn = match kept_or_open(conn, &addr, s).await {
        Ok(c) => c,
        Err(message) => {
            let probe = Probe {
                addr,
                start_us,
                outcome: Err(CheckError::new(message)),
            };
            return (probe, None);
        }
    };
    let heartbeat = !s.percona_heartbeat.trim().is_empty();
    let query = lag_query(&s.percona_heartbeat);
    let t1 = Instant::now();
    let result = fetch(&mut conn, &query, s.replication_lag_timeout).await;
    let took = t1.elapsed();
    let (outcome, conn) = match result {
        Some(Ok((columns, rows))) => {
            let first = rows.first().map(|row| {
                (0..row.len())
                    .map(|i| row.as_ref(i).and_then(value_text))
                    .collect::<Vec<_>>()
            });
            let (reading, shape_ok) =
                LagReading::from_result(&columns, first.as_deref(), heartbeat);
            if !shape_ok {
                px_error!(
                    "mysql_fetch_fields returns NULL, or mysql_num_fields is incorrect. Server {}:{} . See bug #1994",
                    addr.host,
                    addr.port
                );
            }
            (Ok((reading, took)), Some(conn))
        }
        Some(Err(e)) => {
            let message = query_error_text(&e);
            px_error!(
                "Error after {}ms on server {}:{} : {}",
                ms(took),
                addr.host,
                addr.port,
                message
            );
            (Err(CheckError::new(message)), None)
        }
        None => {
            px_error!(
                "Timeout on replication lag health check for {}:{} after {}ms. If the server is overload, increase mysql-monitor_replication_lag_timeout.",
                addr.host,
                addr.port,
                ms(took)
            );
            (Err(CheckError::timeout("timeout check")), None)
        }
    };
    (
        Probe {
            addr,
            start_us,
            outcome,
        },
        conn,
    )
}

/// A column value as text (`None` for NULL), as the C client hands it over.
fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// The read_only value of a check's result: exactly one column named `read_only`; `0` or
/// `OFF` is read_only=0, anything else (NULL, no row) read_only=1 as a safety default.
/// `None` when the result has the wrong shape.
pub fn read_only_value(columns: &[String], rows: &[Row]) -> Option<bool> {
    if columns.len() != 1 || columns[0] != "read_only" {
        return None;
    }
    let Some(row) = rows.first() else {
        return Some(true);
    };
    Some(!matches!(row.as_ref(0), Some(v) if is_off(v)))
}

fn is_off(v: &Value) -> bool {
    match v {
        Value::Bytes(b) => b == b"0" || b.eq_ignore_ascii_case(b"OFF"),
        Value::Int(0) | Value::UInt(0) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::Arc;

    use mysql_async::consts::ColumnType;
    use mysql_async::Column;

    fn row(v: Value) -> Row {
        let columns: Arc<[Column]> = Arc::from(vec![
            Column::new(ColumnType::MYSQL_TYPE_LONGLONG).with_name(b"read_only")
        ]);
        mysql_common::row::new_row(vec![v], columns)
    }

    #[test]
    fn read_only_values_read_like_proxysql() {
        let cols = vec!["read_only".to_string()];
        assert_eq!(
            read_only_value(&cols, &[row(Value::Bytes(b"0".to_vec()))]),
            Some(false)
        );
        assert_eq!(
            read_only_value(&cols, &[row(Value::Bytes(b"off".to_vec()))]),
            Some(false)
        );
        assert_eq!(
            read_only_value(&cols, &[row(Value::Bytes(b"1".to_vec()))]),
            Some(true)
        );
        assert_eq!(read_only_value(&cols, &[row(Value::Int(0))]), Some(false));
        assert_eq!(read_only_value(&cols, &[row(Value::NULL)]), Some(true));
        assert_eq!(read_only_value(&cols, &[]), Some(true));
        assert_eq!(read_only_value(&["x".to_string()], &[]), None);
    }

    #[test]
    fn error_texts_follow_connector_c() {
        let tcp = ServerAddr::new("127.0.0.1", 1);
        let refused =
            mysql_async::Error::Io(mysql_async::IoError::Io(io::Error::from_raw_os_error(111)));
        assert_eq!(
            connect_error_text(&tcp, &refused),
            "Can't connect to server on '127.0.0.1' (111)"
        );
        let sock = ServerAddr::new("/run/mysqld.sock", 0);
        assert_eq!(
            connect_error_text(&sock, &refused),
            "Can't connect to local server through socket '/run/mysqld.sock' (111)"
        );
        let denied = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1045,
            message: "Access denied for user 'monitor'@'localhost' (using password: YES)".into(),
            state: "28000".into(),
        });
        assert!(connect_error_text(&tcp, &denied).starts_with("Access denied for user"));
        assert_eq!(
            query_error_text(&refused),
            "Lost connection to server during query"
        );
        assert_eq!(query_error_text(&denied), connect_error_text(&tcp, &denied));
    }

    #[tokio::test]
    async fn closed_port_fails_fast_with_errno_and_no_success_time() {
        // Bind then drop: the port is closed for the moment of the check.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = MonitorSettings::default();
        let probe = connect_check(ServerAddr::new("127.0.0.1", port), &s).await;
        assert_eq!(
            probe.error(),
            Some("Can't connect to server on '127.0.0.1' (111)")
        );
        assert_eq!(probe.success_us(), None);
        assert!(probe.start_us > 1_600_000_000_000_000);
        let (ping, conn) = ping_check(ServerAddr::new("127.0.0.1", port), None, &s).await;
        assert!(ping.error().is_some() && conn.is_none());
        let (ro, _) = read_only_check(
            ServerAddr::new("127.0.0.1", port),
            CheckType::ReadOnly,
            None,
            &s,
        )
        .await;
        let err = ro.outcome.unwrap_err();
        assert!(
            err.timeout,
            "an unreachable server counts as a read_only timeout"
        );
        assert!(err
            .message
            .starts_with("timeout on creating new connection: Can't connect"));
    }
}
