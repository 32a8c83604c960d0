//! The scenario's client: one INSERT with a unique value through the VIP every interval, and
//! afterwards the check, on the primary itself, that every acknowledged value is there.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Backend, ConnectionMode, DrillError, Emitter, EventKind};

/// Pinned so mysql_async sends no `SELECT @@max_allowed_packet,@@wait_timeout` after the
/// handshake: the drill measures the INSERT, not driver chatter.
const MAX_ALLOWED_PACKET: usize = 67_108_864;
const WAIT_TIMEOUT: usize = 28_800;

/// One INSERT attempt.
#[derive(Debug, Clone)]
pub(super) struct Attempt {
    /// Sequence number, from 1.
    pub seq: u64,
    /// The unique `col2` value.
    pub value: String,
    /// When the attempt began (connect included in fresh-connection mode).
    pub started: Instant,
    /// When the OK packet or the error arrived.
    pub finished: Instant,
    /// Wall-clock time of `finished`, for the report.
    pub finished_wall: SystemTime,
    /// `None` when the server acknowledged the insert.
    pub error: Option<String>,
}

impl Attempt {
    /// Whether the insert was acknowledged.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Connection settings of the writer.
#[derive(Debug, Clone)]
pub(super) struct WriterConfig {
    /// Where to connect (the VIP).
    pub target: SocketAddr,
    /// Credentials and database.
    pub backend: Backend,
    /// Time between attempt starts.
    pub interval: Duration,
    /// Limit of one attempt.
    pub attempt_timeout: Duration,
    /// Fresh connection per insert, or one kept open.
    pub mode: ConnectionMode,
    /// Prefix of every value (`drill-<run id>-`).
    pub prefix: String,
}

/// A running writer.
pub(super) struct Writer {
    /// Every attempt so far, in order.
    pub attempts: Arc<Mutex<Vec<Attempt>>>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Writer {
    /// Starts writing.
    pub fn start(cfg: WriterConfig, events: Emitter) -> Writer {
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(cfg, events, attempts.clone(), stop.clone()));
        Writer {
            attempts,
            stop,
            task,
        }
    }

    /// The first acknowledged attempt that started at or after `t`.
    pub fn first_success_since(&self, t: Instant) -> Option<Attempt> {
        self.attempts
            .lock()
            .iter()
            .find(|a| a.started >= t && a.ok())
            .cloned()
    }

    /// Stops after the attempt in flight and returns every attempt.
    pub async fn stop(self) -> Vec<Attempt> {
        self.stop.cancel();
        let _ = self.task.await;
        std::mem::take(&mut *self.attempts.lock())
    }
}

fn opts(target: SocketAddr, backend: &Backend) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname(target.ip().to_string())
        .tcp_port(target.port())
        .user(Some(backend.user.clone()))
        .pass(Some(backend.password.clone()))
        .db_name(Some(backend.database.clone()))
        .prefer_socket(false)
        .max_allowed_packet(Some(MAX_ALLOWED_PACKET))
        .wait_timeout(Some(WAIT_TIMEOUT))
        .stmt_cache_size(0)
}

/// The scenario's statement with a unique value (a generated, quote-free string).
fn insert_sql(database: &str, value: &str) -> String {
    format!("INSERT INTO {database}.tab1(col2) VALUES('{value}')")
}

async fn run(
    cfg: WriterConfig,
    events: Emitter,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    stop: CancellationToken,
) {
    let mut persistent: Option<Conn> = None;
    let mut tick = tokio::time::interval(cfg.interval);
    // Attempts never overlap: one that outlasts the interval delays the next, like the
    // scenario's `mysql ...; sleep` loop.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0u64;
    let mut failing = 0u64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        seq += 1;
        let value = format!("{}{seq:06}", cfg.prefix);
        let sql = insert_sql(&cfg.backend.database, &value);
        let started = Instant::now();
        let result = tokio::time::timeout(cfg.attempt_timeout, async {
            match cfg.mode {
                ConnectionMode::Fresh => {
                    let mut conn = Conn::new(opts(cfg.target, &cfg.backend)).await?;
                    conn.query_drop(&sql).await?;
                    Ok::<_, mysql_async::Error>(Some(conn))
                }
                ConnectionMode::Persistent => {
                    if persistent.is_none() {
                        persistent = Some(Conn::new(opts(cfg.target, &cfg.backend)).await?);
                    }
                    if let Some(conn) = persistent.as_mut() {
                        conn.query_drop(&sql).await?;
                    }
                    Ok(None)
                }
            }
        })
        .await;
        let finished = Instant::now();
        let error = match result {
            Ok(Ok(fresh)) => {
                if let Some(conn) = fresh {
                    // COM_QUIT off the measured path, like the client exiting.
                    tokio::spawn(async move {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(2), conn.disconnect()).await;
                    });
                }
                None
            }
            Ok(Err(e)) => Some(describe(&e, cfg.target)),
            Err(_) => Some(format!(
                "no answer within {} ms",
                cfg.attempt_timeout.as_millis()
            )),
        };
        if error.is_some() {
            // The next attempt reconnects, like an application's pool would.
            persistent = None;
        }
        let ok = error.is_none();
        events.emit(EventKind::Write {
            seq,
            ok,
            latency_ms: ms(finished - started),
            error: error.clone(),
        });
        if ok && failing > 0 {
            events.emit(EventKind::WritesResumed { failed: failing });
            failing = 0;
        } else if !ok {
            failing += 1;
        }
        attempts.lock().push(Attempt {
            seq,
            value,
            started,
            finished,
            finished_wall: SystemTime::now(),
            error,
        });
    }
    if let Some(conn) = persistent {
        let _ = tokio::time::timeout(Duration::from_secs(2), conn.disconnect()).await;
    }
}

/// The error as the mysql client would print it, as far as the driver tells.
fn describe(e: &mysql_async::Error, target: SocketAddr) -> String {
    match e {
        mysql_async::Error::Server(s) => format!("ERROR {} ({}): {}", s.code, s.state, s.message),
        mysql_async::Error::Io(io) => {
            let text = io.to_string();
            if text.contains("refused") {
                format!(
                    "ERROR 2003 (HY000): Can't connect to MySQL server on '{}:{}' (111)",
                    target.ip(),
                    target.port()
                )
            } else {
                format!("ERROR 2013 (HY000): Lost connection to server ({text})")
            }
        }
        other => other.to_string(),
    }
}

/// A short class of an error message, for the report's histogram.
pub(super) fn error_class(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("ERROR ") {
        return format!("ERROR {}", rest.split_whitespace().next().unwrap_or(""));
    }
    if message.starts_with("no answer within") {
        return "timeout".into();
    }
    "other".into()
}

pub(super) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Every `col2` value with `prefix` that is in `tab1` on the primary.
pub(super) async fn committed_values(
    backend: &Backend,
    prefix: &str,
) -> Result<HashSet<String>, DrillError> {
    let target = format!("{}:{}", backend.host, backend.port);
    let opts = OptsBuilder::default()
        .ip_or_hostname(backend.host.clone())
        .tcp_port(backend.port)
        .user(Some(backend.user.clone()))
        .pass(Some(backend.password.clone()))
        .db_name(Some(backend.database.clone()))
        .prefer_socket(false);
    let fail = |e: mysql_async::Error| DrillError::Backend(format!("{target}: {}", error_text(&e)));
    let mut conn = tokio::time::timeout(Duration::from_secs(10), Conn::new(opts))
        .await
        .map_err(|_| DrillError::Backend(format!("{target}: no answer within 10 s")))?
        .map_err(fail)?;
    // The prefix is generated (letters, digits, '-'), so no LIKE wildcard hides in it.
    let sql = format!(
        "SELECT col2 FROM {}.tab1 WHERE col2 LIKE '{prefix}%'",
        backend.database
    );
    let values: Vec<String> = conn.query(sql).await.map_err(fail)?;
    let _ = conn.disconnect().await;
    Ok(values.into_iter().collect())
}

/// A mysql_async error once: its I/O errors print their cause twice over
/// ("Input/output error: Input/output error: Connection refused").
fn error_text(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => io.to_string(),
        other => other.to_string(),
    }
}

/// Fails early, with a hint, when the backend cannot take the drill's inserts.
pub(super) async fn check_backend(backend: &Backend) -> Result<(), DrillError> {
    committed_values(backend, "drill-preflight-")
        .await
        .map(|_| ())
        .map_err(|e| match e {
            // Already "drill backend: ..." once: add the hint, not a second prefix.
            DrillError::Backend(why) => DrillError::Backend(format!(
                "{why} (the drill writes into {}.tab1 on the primary; start the MariaDB lab with scripts/lab up)",
                backend.database
            )),
            other => other,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_backend_is_reported_once_with_the_hint() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let backend = Backend {
            host: "127.0.0.1".into(),
            port,
            ..Backend::default()
        };
        let text = check_backend(&backend).await.unwrap_err().to_string();
        assert_eq!(text.matches("drill backend").count(), 1, "{text}");
        assert!(!text.contains("Input/output error"), "{text}");
        assert!(
            text.contains("Connection refused") && text.contains("scripts/lab up"),
            "{text}"
        );
    }

    #[test]
    fn errors_are_classified_like_the_mysql_client_prints_them() {
        assert_eq!(
            error_class("ERROR 2003 (HY000): Can't connect (111: Connection refused)"),
            "ERROR 2003"
        );
        assert_eq!(error_class("no answer within 2000 ms"), "timeout");
        assert_eq!(error_class("driver confused"), "other");
        assert_eq!(
            insert_sql("duhokim", "drill-ab-000001"),
            "INSERT INTO duhokim.tab1(col2) VALUES('drill-ab-000001')"
        );
    }
}
