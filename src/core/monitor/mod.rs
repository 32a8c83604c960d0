//! The backend monitor (spec §7.3, §7.5): connect, ping and read_only checks of every
//! runtime server with `mysql-monitor_username/password`, at the running intervals and
//! timeouts.
//!
//! Results go to `monitor.mysql_server_connect_log`, `_ping_log` and `_read_only_log`
//! (trimmed to `mysql-monitor_history`). Missed pings shun a server and kill its
//! connections; read_only results move servers between the hostgroups of
//! `mysql_replication_hostgroups` through [`Engine::set_runtime_servers`], which changes
//! the `mysql_servers` checksum and epoch but not its version.
//!
//! The monitor uses mysql_async: it decodes a handful of tiny results, where a driver's
//! convenience is worth more than the byte-relaying client of the data path.
//!
//! [`Engine::set_runtime_servers`]: crate::core::admin::engine::Engine::set_runtime_servers

pub mod replication;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use tokio::task::JoinHandle;

use crate::core::admin::shared::Vars;
use crate::core::admin::AdminHandle;
use crate::core::traffic::hostgroups::ServerStatus;
use crate::core::traffic::TrafficShared;
use crate::{px_error, px_info, px_warn};
use replication::{apply_read_only, pairs, CHECK_QUERIES};

/// The `mysql-monitor_*` settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSettings {
    /// `mysql-monitor_enabled`.
    pub enabled: bool,
    /// `mysql-monitor_username`.
    pub username: String,
    /// `mysql-monitor_password`.
    pub password: String,
    /// `mysql-monitor_connect_interval` (ms).
    pub connect_interval_ms: u64,
    /// `mysql-monitor_connect_timeout` (ms).
    pub connect_timeout_ms: u64,
    /// `mysql-monitor_ping_interval` (ms).
    pub ping_interval_ms: u64,
    /// `mysql-monitor_ping_timeout` (ms).
    pub ping_timeout_ms: u64,
    /// `mysql-monitor_ping_max_failures`.
    pub ping_max_failures: u32,
    /// `mysql-monitor_read_only_interval` (ms).
    pub read_only_interval_ms: u64,
    /// `mysql-monitor_read_only_timeout` (ms).
    pub read_only_timeout_ms: u64,
    /// `mysql-monitor_read_only_max_timeout_count`.
    pub read_only_max_timeout_count: u32,
    /// `mysql-monitor_history` (ms), raised to cover `interval × (max_failures + 1)`.
    pub history_ms: u64,
    /// `mysql-monitor_writer_is_also_reader`.
    pub writer_is_also_reader: bool,
}

impl MonitorSettings {
    /// Parses the running mysql variables (ProxySQL's defaults for missing ones).
    pub fn from_vars(vars: &Vars) -> Self {
        let num = |n: &str, d: u64| vars.get(n).and_then(|v| v.trim().parse().ok()).unwrap_or(d);
        let flag = |n: &str, d: bool| match vars.get(n).map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "true" || v == "1" => true,
            Some(v) if v == "false" || v == "0" => false,
            _ => d,
        };
        let text = |n: &str, d: &str| vars.get(n).cloned().unwrap_or_else(|| d.to_string());
        let ping_interval_ms = num("mysql-monitor_ping_interval", 8_000).max(100);
        let ping_max_failures = num("mysql-monitor_ping_max_failures", 3).max(1) as u32;
        let read_only_interval_ms = num("mysql-monitor_read_only_interval", 1_000).max(100);
        let read_only_max_timeout_count =
            num("mysql-monitor_read_only_max_timeout_count", 3).max(1) as u32;
        let floor = (ping_interval_ms * (u64::from(ping_max_failures) + 1))
            .max(read_only_interval_ms * (u64::from(read_only_max_timeout_count) + 1));
        MonitorSettings {
            enabled: flag("mysql-monitor_enabled", true),
            username: text("mysql-monitor_username", "monitor"),
            password: text("mysql-monitor_password", "monitor"),
            connect_interval_ms: num("mysql-monitor_connect_interval", 120_000).max(100),
            connect_timeout_ms: num("mysql-monitor_connect_timeout", 600).max(100),
            ping_interval_ms,
            ping_timeout_ms: num("mysql-monitor_ping_timeout", 1_000).max(100),
            ping_max_failures,
            read_only_interval_ms,
            read_only_timeout_ms: num("mysql-monitor_read_only_timeout", 800).max(100),
            read_only_max_timeout_count,
            history_ms: num("mysql-monitor_history", 7_200_000).max(floor),
            writer_is_also_reader: flag("mysql-monitor_writer_is_also_reader", true),
        }
    }
}

/// `(hostname, port)` of a physical server.
type Addr = (String, u16);

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Whether an error is the access-denied kind, which does not count as a missed heartbeat.
fn is_access_denied(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if matches!(s.code, 1044 | 1045))
}

/// The running monitor.
pub struct Monitor {
    tasks: Vec<JoinHandle<()>>,
}

impl Monitor {
    /// Starts the connect, ping and read_only loops.
    pub fn start(admin: AdminHandle, traffic: Arc<TrafficShared>) -> Monitor {
        let ctx = Arc::new(Ctx { admin, traffic });
        Monitor {
            tasks: vec![
                tokio::spawn(connect_loop(ctx.clone())),
                tokio::spawn(ping_loop(ctx.clone())),
                tokio::spawn(read_only_loop(ctx)),
            ],
        }
    }

    /// Stops every loop.
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Ctx {
    admin: AdminHandle,
    traffic: Arc<TrafficShared>,
}

impl Ctx {
    fn settings(&self) -> MonitorSettings {
        MonitorSettings::from_vars(&self.traffic.node.mysql_vars.borrow())
    }

    /// Servers to check: every runtime server not OFFLINE_HARD, once per address.
    fn addresses(&self, skip: impl Fn(ServerStatus) -> bool) -> Vec<Addr> {
        let set: BTreeSet<Addr> = self
            .traffic
            .servers()
            .into_iter()
            .filter(|s| !s.is_removed() && !skip(s.status()))
            .map(|s| (s.host.clone(), s.port))
            .collect();
        set.into_iter().collect()
    }

    /// Writes log rows and purges old ones in one engine call.
    async fn log(&self, table: &'static str, rows: Vec<LogRow>, history_ms: u64) {
        let cutoff = now_us() - (history_ms as i64) * 1000;
        let _ = self
            .admin
            .call(move |e| {
                for r in &rows {
                    let sql = format!(
                        "INSERT OR REPLACE INTO monitor.{table} VALUES (?1, ?2, ?3, ?4, ?5{})",
                        if r.value.is_some() { ", ?6" } else { "" }
                    );
                    let result = match &r.value {
                        Some(v) => e.internal_sql(
                            &sql,
                            &[&r.host, &r.port, &r.start_us, &r.success_us, v, &r.error],
                        ),
                        None => e.internal_sql(
                            &sql,
                            &[&r.host, &r.port, &r.start_us, &r.success_us, &r.error],
                        ),
                    };
                    if let Err(err) = result {
                        px_error!("Cannot write monitor.{}: {}", table, err);
                    }
                }
                let _ = e.internal_sql(
                    &format!("DELETE FROM monitor.{table} WHERE time_start_us < ?1"),
                    &[&cutoff],
                );
            })
            .await;
    }
}

/// One monitor log row: `(hostname, port, time_start_us, success_time_us[, value], error)`.
struct LogRow {
    host: String,
    port: i64,
    start_us: i64,
    success_us: Option<i64>,
    /// `read_only` for the read_only log.
    value: Option<Option<i64>>,
    error: Option<String>,
}

fn opts(s: &MonitorSettings, addr: &Addr) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname(addr.0.clone())
        .tcp_port(addr.1)
        .user(Some(s.username.clone()))
        .pass(Some(s.password.clone()))
        .prefer_socket(false)
        // Pinned so the driver does not query them after the handshake.
        .max_allowed_packet(Some(67_108_864))
        .wait_timeout(Some(28_800))
        .stmt_cache_size(0)
}

async fn connect(s: &MonitorSettings, addr: &Addr, timeout: Duration) -> Result<Conn, String> {
    match tokio::time::timeout(timeout, Conn::new(opts(s, addr))).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "timeout on creating new connection: {}ms",
            timeout.as_millis()
        )),
    }
}

/// Waits until `interval_of(settings)` has passed since `last`, re-reading the settings so
/// a shorter interval takes effect at once.
async fn wait_next(
    ctx: &Ctx,
    last: Option<Instant>,
    interval_of: impl Fn(&MonitorSettings) -> u64,
) -> MonitorSettings {
    loop {
        let s = ctx.settings();
        let now = Instant::now();
        let due = last.map_or(now, |l| l + Duration::from_millis(interval_of(&s)));
        if s.enabled && now >= due {
            return s;
        }
        let step = if s.enabled {
            due.saturating_duration_since(now)
        } else {
            Duration::from_secs(1)
        };
        tokio::time::sleep(step.min(Duration::from_millis(200))).await;
    }
}

async fn connect_loop(ctx: Arc<Ctx>) {
    let mut last: Option<Instant> = None;
    loop {
        let s = wait_next(&ctx, last, |s| s.connect_interval_ms).await;
        last = Some(Instant::now());
        let checks = ctx.addresses(|_| false).into_iter().map(|addr| {
            let s = s.clone();
            tokio::spawn(async move {
                let start_us = now_us();
                let t = Instant::now();
                let r = connect(&s, &addr, Duration::from_millis(s.connect_timeout_ms)).await;
                let elapsed = t.elapsed().as_micros() as i64;
                let error = match r {
                    Ok(conn) => {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(1), conn.disconnect()).await;
                        None
                    }
                    Err(e) => Some(e),
                };
                LogRow {
                    host: addr.0,
                    port: i64::from(addr.1),
                    start_us,
                    success_us: if error.is_none() { Some(elapsed) } else { None },
                    value: None,
                    error,
                }
            })
        });
        let rows: Vec<LogRow> = futures::future::join_all(checks)
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        ctx.log("mysql_server_connect_log", rows, s.history_ms)
            .await;
    }
}

async fn ping_loop(ctx: Arc<Ctx>) {
    let mut conns: HashMap<Addr, Conn> = HashMap::new();
    let mut failures: HashMap<Addr, u32> = HashMap::new();
    let mut last: Option<Instant> = None;
    loop {
        let s = wait_next(&ctx, last, |s| s.ping_interval_ms).await;
        last = Some(Instant::now());
        let addrs = ctx.addresses(|_| false);
        conns.retain(|a, _| addrs.contains(a));
        failures.retain(|a, _| addrs.contains(a));
        let checks = addrs.into_iter().map(|addr| {
            let s = s.clone();
            let conn = conns.remove(&addr);
            tokio::spawn(async move {
                let timeout = Duration::from_millis(s.ping_timeout_ms);
                let start_us = now_us();
                let t = Instant::now();
                let result = async {
                    let mut conn = match conn {
                        Some(c) => c,
                        None => connect(&s, &addr, timeout).await.map_err(|e| (e, false))?,
                    };
                    let pinged = Instant::now();
                    match tokio::time::timeout(timeout.saturating_sub(t.elapsed()), conn.ping())
                        .await
                    {
                        Ok(Ok(())) => Ok((conn, pinged.elapsed())),
                        Ok(Err(e)) => {
                            let denied = is_access_denied(&e);
                            Err((e.to_string(), denied))
                        }
                        Err(_) => Err((
                            format!("timeout during ping: {}ms", timeout.as_millis()),
                            false,
                        )),
                    }
                }
                .await;
                (addr, start_us, result)
            })
        });
        let mut rows = Vec::new();
        for joined in futures::future::join_all(checks).await {
            let Ok((addr, start_us, result)) = joined else {
                continue;
            };
            let row = match result {
                Ok((conn, took)) => {
                    let us = took.as_micros() as u64;
                    for e in ctx.traffic.servers_at(&addr.0, addr.1) {
                        e.set_latency_us(us);
                    }
                    failures.remove(&addr);
                    conns.insert(addr.clone(), conn);
                    LogRow {
                        host: addr.0,
                        port: i64::from(addr.1),
                        start_us,
                        success_us: Some(us as i64),
                        value: None,
                        error: None,
                    }
                }
                Err((error, denied)) => {
                    if !denied {
                        let n = failures.entry(addr.clone()).or_insert(0);
                        *n += 1;
                        if *n >= s.ping_max_failures {
                            if *n == s.ping_max_failures {
                                px_error!(
                                    "Server {}:{} missed {} heartbeats, shunning it and killing all the connections. Disabling other checks until the node comes back online.",
                                    addr.0, addr.1, n
                                );
                            }
                            for e in ctx.traffic.servers_at(&addr.0, addr.1) {
                                e.shun_missed_pings();
                            }
                        }
                    }
                    LogRow {
                        host: addr.0,
                        port: i64::from(addr.1),
                        start_us,
                        success_us: None,
                        value: None,
                        error: Some(error),
                    }
                }
            };
            rows.push(row);
        }
        ctx.log("mysql_server_ping_log", rows, s.history_ms).await;
    }
}

async fn read_only_loop(ctx: Arc<Ctx>) {
    let mut conns: HashMap<Addr, Conn> = HashMap::new();
    let mut timeouts: HashMap<Addr, u32> = HashMap::new();
    let mut last: Option<Instant> = None;
    loop {
        let s = wait_next(&ctx, last, |s| s.read_only_interval_ms).await;
        last = Some(Instant::now());
        let rt = ctx.traffic.node.runtime.borrow().clone();
        let repl = rt
            .hostgroup_table("mysql_replication_hostgroups")
            .map(pairs)
            .unwrap_or_default();
        if repl.is_empty() {
            conns.clear();
            continue;
        }
        // Servers of the replication hostgroups, with the check of their pair; servers
        // whose pings are missed are left alone until they come back.
        let mut targets: Vec<(Addr, usize)> = Vec::new();
        for s in ctx.traffic.servers() {
            let Some(pair) = repl
                .iter()
                .find(|p| p.writer == s.hostgroup || p.reader == s.hostgroup)
            else {
                continue;
            };
            if s.is_removed()
                || matches!(
                    s.status(),
                    ServerStatus::OfflineSoft | ServerStatus::OfflineHard
                )
            {
                continue;
            }
            let addr = (s.host.clone(), s.port);
            if !targets.iter().any(|(a, _)| *a == addr) {
                targets.push((addr, pair.check));
            }
        }
        conns.retain(|a, _| targets.iter().any(|(t, _)| t == a));
        let checks = targets.into_iter().map(|(addr, check)| {
            let s = s.clone();
            let conn = conns.remove(&addr);
            tokio::spawn(async move {
                let timeout = Duration::from_millis(s.read_only_timeout_ms);
                let start_us = now_us();
                let t = Instant::now();
                let result = async {
                    let mut conn = match conn {
                        Some(c) => c,
                        None => connect(&s, &addr, timeout)
                            .await
                            .map_err(|e| (e.clone(), e.starts_with("timeout")))?,
                    };
                    let q = CHECK_QUERIES[check].1;
                    match tokio::time::timeout(
                        timeout.saturating_sub(t.elapsed()),
                        conn.query_first::<Option<i64>, _>(q),
                    )
                    .await
                    {
                        Ok(Ok(v)) => Ok((conn, v.flatten().unwrap_or(1) != 0)),
                        Ok(Err(e)) => Err((e.to_string(), false)),
                        Err(_) => Err((
                            format!(
                                "timeout check on {}:{} after {}ms",
                                addr.0,
                                addr.1,
                                timeout.as_millis()
                            ),
                            true,
                        )),
                    }
                }
                .await;
                (addr, start_us, t.elapsed(), result)
            })
        });
        let mut rows = Vec::new();
        let mut verdicts: Vec<(Addr, bool)> = Vec::new();
        for joined in futures::future::join_all(checks).await {
            let Ok((addr, start_us, took, result)) = joined else {
                continue;
            };
            match result {
                Ok((conn, read_only)) => {
                    timeouts.remove(&addr);
                    conns.insert(addr.clone(), conn);
                    rows.push(LogRow {
                        host: addr.0.clone(),
                        port: i64::from(addr.1),
                        start_us,
                        success_us: Some(took.as_micros() as i64),
                        value: Some(Some(i64::from(read_only))),
                        error: None,
                    });
                    verdicts.push((addr, read_only));
                }
                Err((error, timed_out)) => {
                    if timed_out {
                        let n = timeouts.entry(addr.clone()).or_insert(0);
                        *n += 1;
                        if *n >= s.read_only_max_timeout_count {
                            px_warn!(
                                "Server {}:{} missed {} read_only checks. Assuming read_only=1",
                                addr.0,
                                addr.1,
                                n
                            );
                            verdicts.push((addr.clone(), true));
                        }
                    } else {
                        timeouts.remove(&addr);
                    }
                    rows.push(LogRow {
                        host: addr.0,
                        port: i64::from(addr.1),
                        start_us,
                        success_us: None,
                        value: Some(None),
                        error: Some(error),
                    });
                }
            }
        }
        ctx.log("mysql_server_read_only_log", rows, s.history_ms)
            .await;
        if !verdicts.is_empty() {
            let writer_is_also_reader = s.writer_is_also_reader;
            let _ = ctx
                .admin
                .call(move |e| {
                    let rt = e.runtime();
                    let repl = rt
                        .hostgroup_table("mysql_replication_hostgroups")
                        .map(pairs)
                        .unwrap_or_default();
                    let mut servers = rt.servers.clone();
                    let mut changed = false;
                    for ((host, port), read_only) in &verdicts {
                        if let Some(next) = apply_read_only(&servers, &repl, host, *port, *read_only, writer_is_also_reader) {
                            px_info!("Regenerating table 'mysql_servers' due to actions on server '{}:{}'", host, port);
                            servers = next;
                            changed = true;
                        }
                    }
                    if changed {
                        e.set_runtime_servers(servers);
                    }
                })
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_defaults_and_history_floor() {
        let s = MonitorSettings::from_vars(&Vars::new());
        assert!(s.enabled);
        assert_eq!(
            (s.username.as_str(), s.password.as_str()),
            ("monitor", "monitor")
        );
        assert_eq!(s.ping_interval_ms, 8_000);
        assert_eq!(s.history_ms, 7_200_000);
        let mut v = Vars::new();
        v.insert("mysql-monitor_history".into(), "1000".into());
        v.insert("mysql-monitor_ping_interval".into(), "2000".into());
        v.insert("mysql-monitor_enabled".into(), "false".into());
        let s = MonitorSettings::from_vars(&v);
        assert!(!s.enabled);
        // Raised to ping_interval × (max_failures + 1).
        assert_eq!(s.history_ms, 8_000);
    }
}
