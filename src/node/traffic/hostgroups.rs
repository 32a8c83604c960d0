//! The hostgroup manager: one entry per runtime `mysql_servers` row, each with its own
//! connection pool, live status (automatic shunning and recovery, §7.3) and the counters of
//! `stats_mysql_connection_pool`; and server selection inside a hostgroup (§7.1).
//!
//! Entries are shared (`Arc`) between the configuration snapshots the sessions use, so a
//! reload keeps pools, counters and shunned state of the servers that stay.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

use mysql_common::constants::CapabilityFlags;
use parking_lot::Mutex;
use rand::RngExt;

use super::backend::BackendConn;
use super::counters::{bump, GlobalCounters};
use crate::proxysql::clock::unix_now;
use crate::px_warn;

/// Runtime server status (`include/proxysql_structs.h` numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ServerStatus {
    /// Eligible for new connections.
    Online = 0,
    /// Temporarily excluded.
    Shunned = 1,
    /// No new connections; used ones finish.
    OfflineSoft = 2,
    /// Removed; connections are dropped.
    OfflineHard = 3,
    /// Shunned for replication lag.
    ShunnedReplicationLag = 4,
}

impl ServerStatus {
    /// Parses the `status` column (unknown text counts as ONLINE, like the CHECK allows).
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "SHUNNED" => Self::Shunned,
            "OFFLINE_SOFT" => Self::OfflineSoft,
            "OFFLINE_HARD" => Self::OfflineHard,
            "SHUNNED_REPLICATION_LAG" => Self::ShunnedReplicationLag,
            _ => Self::Online,
        }
    }

    /// The text `stats_mysql_connection_pool` shows.
    pub fn name(self) -> &'static str {
        match self {
            Self::Online => "ONLINE",
            Self::Shunned => "SHUNNED",
            Self::OfflineSoft => "OFFLINE_SOFT",
            Self::OfflineHard => "OFFLINE_HARD",
            Self::ShunnedReplicationLag => "SHUNNED_REPLICATION_LAG",
        }
    }

    /// The text `runtime_mysql_servers` shows (both shunned states read `SHUNNED`).
    pub fn runtime_name(self) -> &'static str {
        match self {
            Self::ShunnedReplicationLag => "SHUNNED",
            other => other.name(),
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Shunned,
            2 => Self::OfflineSoft,
            3 => Self::OfflineHard,
            4 => Self::ShunnedReplicationLag,
            _ => Self::Online,
        }
    }
}

/// `(hostgroup_id, hostname, port)`.
pub type ServerKey = (i32, String, u16);

/// Why a server was shunned automatically, which decides how it recovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum ShunCause {
    #[default]
    None,
    /// Connection errors: recovers after the shun time since the last error.
    Errors,
    /// Missed pings: also needs all its connections gone.
    MissedPings,
}

#[derive(Debug, Default)]
struct ShunState {
    cause: ShunCause,
    /// Unix second of the last connection error.
    last_error_sec: u64,
    /// Second the error count below belongs to.
    errors_second: u64,
    errors_in_second: u32,
}

/// The shunning settings in force (`mysql-shun_*`, `mysql-connect_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShunSettings {
    /// `mysql-shun_on_failures`.
    pub shun_on_failures: u32,
    /// `mysql-connect_retries_on_failure`.
    pub connect_retries_on_failure: u32,
    /// `mysql-shun_recovery_time_sec`.
    pub shun_recovery_time_sec: u64,
    /// `mysql-connect_timeout_server_max` in ms.
    pub connect_timeout_server_max_ms: u64,
}

impl Default for ShunSettings {
    fn default() -> Self {
        Self {
            shun_on_failures: 5,
            connect_retries_on_failure: 10,
            shun_recovery_time_sec: 10,
            connect_timeout_server_max_ms: 10_000,
        }
    }
}

impl ShunSettings {
    /// Errors within one second that shun a server.
    fn threshold(&self) -> u32 {
        self.shun_on_failures
            .min(self.connect_retries_on_failure.saturating_add(1))
            .max(1)
    }

    /// Seconds after the last error before an automatically shunned server returns; a
    /// tenth of it when the hostgroup has nothing else (`starved`).
    fn recovery_secs(&self, starved: bool) -> u64 {
        let cap = (self.connect_timeout_server_max_ms / 1000)
            .saturating_sub(1)
            .max(1);
        let base = self.shun_recovery_time_sec.min(cap);
        if starved {
            base / 10
        } else {
            base
        }
    }
}

/// One server in one hostgroup, with its pool.
pub struct ServerEntry {
    /// Hostgroup id.
    pub hostgroup: i32,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    status: AtomicU8,
    /// The status the configuration asks for (ONLINE unless set otherwise).
    config_status: AtomicU8,
    weight: AtomicU32,
    max_connections: AtomicU32,
    /// `max_latency_ms` (0: `mysql-default_max_latency_ms` applies).
    max_latency_ms: AtomicU32,
    shun: Mutex<ShunState>,
    free: Mutex<Vec<BackendConn>>,
    used: AtomicU32,
    max_used: AtomicU32,
    conn_ok: AtomicU64,
    conn_err: AtomicU64,
    queries: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_recv: AtomicU64,
    /// Last ping latency in µs (monitor).
    latency_us: AtomicU64,
    /// Bumped to kill every connection: ones opened before are dropped when released.
    kill_epoch: AtomicU64,
    removed: AtomicBool,
    /// The node's `stats_mysql_global` counters (pool events, backend bytes); set once when
    /// the entry joins a node's registry.
    totals: std::sync::OnceLock<Arc<GlobalCounters>>,
    /// Cancelled (and replaced) when the server goes OFFLINE_HARD: sessions holding one of
    /// its connections watch the token they got with it and close at once.
    fence: Mutex<CancellationToken>,
}

impl std::fmt::Debug for ServerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerEntry")
            .field("hostgroup", &self.hostgroup)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// A snapshot of an entry's statistics row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// Hostgroup.
    pub hostgroup: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Live status.
    pub status: ServerStatus,
    /// Connections in use.
    pub used: u32,
    /// Idle pooled connections.
    pub free: u32,
    /// Connections opened.
    pub conn_ok: u64,
    /// Failed connection attempts.
    pub conn_err: u64,
    /// Highest number of connections in use.
    pub max_used: u32,
    /// Statements sent.
    pub queries: u64,
    /// Bytes sent to the server.
    pub bytes_sent: u64,
    /// Bytes received from it.
    pub bytes_recv: u64,
    /// Ping latency in µs.
    pub latency_us: u64,
}

impl ServerEntry {
    /// A new entry with its configured status, weight and limits.
    pub fn new(key: ServerKey, status: ServerStatus, weight: u32, max_connections: u32) -> Self {
        Self {
            hostgroup: key.0,
            host: key.1,
            port: key.2,
            status: AtomicU8::new(status as u8),
            config_status: AtomicU8::new(status as u8),
            weight: AtomicU32::new(weight),
            max_connections: AtomicU32::new(max_connections),
            max_latency_ms: AtomicU32::new(0),
            shun: Mutex::new(ShunState::default()),
            free: Mutex::new(Vec::new()),
            used: AtomicU32::new(0),
            max_used: AtomicU32::new(0),
            conn_ok: AtomicU64::new(0),
            conn_err: AtomicU64::new(0),
            queries: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            bytes_recv: AtomicU64::new(0),
            latency_us: AtomicU64::new(0),
            kill_epoch: AtomicU64::new(0),
            removed: AtomicBool::new(false),
            totals: std::sync::OnceLock::new(),
            fence: Mutex::new(CancellationToken::new()),
        }
    }

    /// Attaches the node's global counters (once; later calls are ignored).
    pub fn set_totals(&self, totals: &Arc<GlobalCounters>) {
        let _ = self.totals.set(totals.clone());
    }

    fn totals(&self) -> Option<&GlobalCounters> {
        self.totals.get().map(|t| &**t)
    }

    /// The key of this entry.
    pub fn key(&self) -> ServerKey {
        (self.hostgroup, self.host.clone(), self.port)
    }

    /// Current live status.
    pub fn status(&self) -> ServerStatus {
        ServerStatus::from_u8(self.status.load(Ordering::Relaxed))
    }

    fn set_status(&self, status: ServerStatus) {
        self.status.store(status as u8, Ordering::Relaxed);
    }

    /// Applies a reloaded configuration row. A server the configuration keeps ONLINE stays
    /// automatically shunned if it was.
    pub fn reconfigure(
        &self,
        status: ServerStatus,
        weight: u32,
        max_connections: u32,
        max_latency_ms: u32,
    ) {
        self.weight.store(weight, Ordering::Relaxed);
        self.max_connections
            .store(max_connections, Ordering::Relaxed);
        self.max_latency_ms.store(max_latency_ms, Ordering::Relaxed);
        self.config_status.store(status as u8, Ordering::Relaxed);
        self.removed.store(false, Ordering::Relaxed);
        let auto_shunned = self.shun.lock().cause != ShunCause::None;
        if !(status == ServerStatus::Online && auto_shunned) {
            self.set_status(status);
            if status != ServerStatus::Online {
                self.shun.lock().cause = ShunCause::None;
            }
        }
        if status == ServerStatus::OfflineHard {
            self.drop_free();
            self.fence_connections();
        }
    }

    /// The token a connection taken now watches; cancelled when the server is fenced.
    pub fn fence_token(&self) -> CancellationToken {
        self.fence.lock().clone()
    }

    /// Cuts every connection in use (ProxySQL's OFFLINE_HARD): their sessions close.
    fn fence_connections(&self) {
        let old = std::mem::replace(&mut *self.fence.lock(), CancellationToken::new());
        old.cancel();
    }

    /// Marks the entry removed from the configuration (OFFLINE_HARD internally).
    pub fn remove(&self) {
        self.removed.store(true, Ordering::Relaxed);
        self.set_status(ServerStatus::OfflineHard);
        self.drop_free();
        self.fence_connections();
    }

    /// True once removed from the configuration.
    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }

    /// Weight.
    pub fn weight(&self) -> u32 {
        self.weight.load(Ordering::Relaxed)
    }

    /// `max_connections`.
    pub fn max_connections(&self) -> u32 {
        self.max_connections.load(Ordering::Relaxed)
    }

    /// Records a ping latency (monitor).
    pub fn set_latency_us(&self, us: u64) {
        self.latency_us.store(us, Ordering::Relaxed);
    }

    fn drop_free(&self) {
        let dropped = std::mem::take(&mut *self.free.lock());
        drop(dropped);
    }

    /// Counts a failed connection attempt; shuns the server when the errors of this second
    /// reach the threshold (§7.3). Returns true if this call shunned it.
    pub fn connect_error(&self, settings: &ShunSettings) -> bool {
        self.conn_err.fetch_add(1, Ordering::Relaxed);
        let now = unix_now();
        let mut shun = self.shun.lock();
        shun.last_error_sec = now;
        if shun.errors_second != now {
            shun.errors_second = now;
            shun.errors_in_second = 0;
        }
        shun.errors_in_second += 1;
        if self.status() == ServerStatus::Online && shun.errors_in_second >= settings.threshold() {
            shun.cause = ShunCause::Errors;
            self.set_status(ServerStatus::Shunned);
            let secs = settings.recovery_secs(false);
            px_warn!(
                "Shunning server {}:{} with {} errors/sec. Shunning for {} seconds",
                self.host,
                self.port,
                shun.errors_in_second,
                secs
            );
            return true;
        }
        false
    }

    /// Shuns the server after missed heartbeats and kills all its connections.
    pub fn shun_missed_pings(&self) {
        let mut shun = self.shun.lock();
        if matches!(self.status(), ServerStatus::Online | ServerStatus::Shunned) {
            shun.cause = ShunCause::MissedPings;
            shun.last_error_sec = unix_now();
            self.set_status(ServerStatus::Shunned);
        }
        drop(shun);
        self.kill_epoch.fetch_add(1, Ordering::Relaxed);
        self.drop_free();
    }

    /// Returns an automatically shunned server to ONLINE once its time is up (§7.3); called
    /// while a hostgroup is searched. `starved`: nothing else in the hostgroup is usable.
    fn try_recover(&self, settings: &ShunSettings, starved: bool, now: u64) -> bool {
        if self.status() != ServerStatus::Shunned {
            return false;
        }
        let mut shun = self.shun.lock();
        let waited = now.saturating_sub(shun.last_error_sec);
        let ready = match shun.cause {
            ShunCause::None => false,
            ShunCause::Errors => waited > settings.recovery_secs(starved),
            ShunCause::MissedPings => {
                waited > settings.recovery_secs(starved) && self.used.load(Ordering::Relaxed) == 0
            }
        };
        if ready {
            shun.cause = ShunCause::None;
            shun.errors_in_second = 0;
            self.set_status(ServerStatus::Online);
        }
        ready
    }

    /// Takes an idle connection of `user` with the client flavor `flavor`, counting it used.
    pub fn take_free(&self, user: &str, flavor: CapabilityFlags) -> Option<BackendConn> {
        if let Some(t) = self.totals() {
            bump(&t.myconnpoll_get, 1);
        }
        let conn = {
            let mut free = self.free.lock();
            let idx = free
                .iter()
                .rposition(|c| c.user == user && c.flavor == flavor)?;
            free.swap_remove(idx)
        };
        if let Some(t) = self.totals() {
            bump(&t.myconnpoll_get_ok, 1);
        }
        self.note_used();
        Some(conn)
    }

    /// Counts a newly opened connection as used.
    pub fn note_connected(&self) {
        self.conn_ok.fetch_add(1, Ordering::Relaxed);
        self.note_used();
    }

    fn note_used(&self) {
        let used = self.used.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_used.fetch_max(used, Ordering::Relaxed);
    }

    /// The kill epoch a new connection is born in.
    pub fn kill_epoch(&self) -> u64 {
        self.kill_epoch.load(Ordering::Relaxed)
    }

    /// Gives a used connection back: pooled when `reusable` and the server still takes
    /// connections, dropped otherwise.
    pub fn release(&self, mut conn: BackendConn, reusable: bool) {
        self.used.fetch_sub(1, Ordering::Relaxed);
        self.account(&mut conn);
        let keep = reusable
            && conn.born_epoch == self.kill_epoch()
            && matches!(self.status(), ServerStatus::Online | ServerStatus::Shunned)
            && !self.is_removed();
        if keep {
            conn.last_used = Instant::now();
            let cap = self.max_connections.load(Ordering::Relaxed) as usize;
            let mut free = self.free.lock();
            if free.len() < cap {
                free.push(conn);
                if let Some(t) = self.totals() {
                    bump(&t.myconnpoll_push, 1);
                }
                return;
            }
        }
        if let Some(t) = self.totals() {
            bump(&t.myconnpoll_destroy, 1);
        }
    }

    /// Forgets a used connection that was dropped (broken).
    pub fn discard(&self, mut conn: BackendConn) {
        self.used.fetch_sub(1, Ordering::Relaxed);
        self.account(&mut conn);
        if let Some(t) = self.totals() {
            bump(&t.myconnpoll_destroy, 1);
        }
    }

    /// Adds a connection's traffic since the last call to the counters.
    pub fn account(&self, conn: &mut BackendConn) {
        let (sent, recv) = conn.take_traffic();
        self.bytes_sent.fetch_add(sent, Ordering::Relaxed);
        self.bytes_recv.fetch_add(recv, Ordering::Relaxed);
        if let Some(t) = self.totals() {
            bump(&t.backend_bytes_sent, sent);
            bump(&t.backend_bytes_recv, recv);
        }
    }

    /// Counts one statement sent.
    pub fn count_query(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes out idle connections unused for `idle_ms` (for a health ping) and trims the
    /// idle list to `keep_max`, dropping the oldest.
    pub fn take_idle(&self, idle_ms: u64, keep_max: usize) -> Vec<BackendConn> {
        let mut free = self.free.lock();
        free.sort_by_key(|c| std::cmp::Reverse(c.last_used));
        free.truncate(keep_max);
        let now = Instant::now();
        let (stale, fresh): (Vec<_>, Vec<_>) = free
            .drain(..)
            .partition(|c| now.duration_since(c.last_used).as_millis() as u64 >= idle_ms);
        *free = fresh;
        stale
    }

    /// Returns pinged idle connections to the pool.
    pub fn put_back_idle(&self, conn: BackendConn) {
        if matches!(self.status(), ServerStatus::Online | ServerStatus::Shunned)
            && !self.is_removed()
        {
            self.free.lock().push(conn);
        }
    }

    /// The statistics row.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            hostgroup: self.hostgroup,
            host: self.host.clone(),
            port: self.port,
            status: self.status(),
            used: self.used.load(Ordering::Relaxed),
            free: self.free.lock().len() as u32,
            conn_ok: self.conn_ok.load(Ordering::Relaxed),
            conn_err: self.conn_err.load(Ordering::Relaxed),
            max_used: self.max_used.load(Ordering::Relaxed),
            queries: self.queries.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            bytes_recv: self.bytes_recv.load(Ordering::Relaxed),
            latency_us: self.latency_us.load(Ordering::Relaxed),
        }
    }

    /// Connections in use.
    pub fn used(&self) -> u32 {
        self.used.load(Ordering::Relaxed)
    }

    fn usable(&self, default_max_latency_ms: u32) -> bool {
        if self.status() != ServerStatus::Online {
            return false;
        }
        if self.used.load(Ordering::Relaxed) >= self.max_connections.load(Ordering::Relaxed) {
            return false;
        }
        let limit_ms = match self.max_latency_ms.load(Ordering::Relaxed) {
            0 => default_max_latency_ms,
            v => v,
        };
        limit_ms == 0 || self.latency_us.load(Ordering::Relaxed) <= u64::from(limit_ms) * 1000
    }
}

/// Chooses a server of a hostgroup for a new statement (`MyHGC::get_random_MySrvC`):
/// usable ONLINE servers, weighted by `weight`, preferring those whose share of used
/// connections is not above 1.5× their share of the weight. Automatically shunned servers
/// whose time is up come back first.
pub fn pick_server(
    servers: &[Arc<ServerEntry>],
    settings: &ShunSettings,
    default_max_latency_ms: u32,
) -> Option<Arc<ServerEntry>> {
    let usable = |s: &&Arc<ServerEntry>| s.usable(default_max_latency_ms) && s.weight() > 0;
    if servers.iter().any(|s| s.status() == ServerStatus::Shunned) {
        let starved = !servers.iter().any(|s| usable(&s));
        let now = unix_now();
        for s in servers {
            s.try_recover(settings, starved, now);
        }
    }
    let candidates: Vec<&Arc<ServerEntry>> = servers.iter().filter(usable).collect();
    match candidates.len() {
        0 => return None,
        1 => return Some(candidates[0].clone()),
        _ => {}
    }
    let total_weight: u64 = candidates.iter().map(|s| u64::from(s.weight())).sum();
    let total_used: u64 = candidates.iter().map(|s| u64::from(s.used())).sum();
    let preferred: Vec<&Arc<ServerEntry>> = if total_used == 0 {
        candidates.clone()
    } else {
        // used/total_used <= 1.5 * weight/total_weight, in integers.
        candidates
            .iter()
            .copied()
            .filter(|s| {
                u64::from(s.used()) * total_weight * 2 <= 3 * u64::from(s.weight()) * total_used
            })
            .collect()
    };
    let pool = if preferred.is_empty() {
        &candidates
    } else {
        &preferred
    };
    let weight_sum: u64 = pool.iter().map(|s| u64::from(s.weight())).sum();
    let mut roll = rand::rng().random_range(0..weight_sum.max(1));
    for s in pool {
        let w = u64::from(s.weight());
        if roll < w {
            return Some((*s).clone());
        }
        roll -= w;
    }
    pool.last().map(|s| (*s).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(host: &str, weight: u32) -> Arc<ServerEntry> {
        Arc::new(ServerEntry::new(
            (0, host.into(), 3306),
            ServerStatus::Online,
            weight,
            10,
        ))
    }

    #[test]
    fn status_names() {
        for s in [
            "ONLINE",
            "SHUNNED",
            "OFFLINE_SOFT",
            "OFFLINE_HARD",
            "SHUNNED_REPLICATION_LAG",
        ] {
            assert_eq!(ServerStatus::parse(s).name(), s);
        }
        assert_eq!(
            ServerStatus::ShunnedReplicationLag.runtime_name(),
            "SHUNNED"
        );
        assert_eq!(ServerStatus::parse("online"), ServerStatus::Online);
    }

    #[test]
    fn weighted_choice_follows_weights_and_skips_unusable() {
        let a = entry("a", 1);
        let b = entry("b", 3);
        let c = entry("c", 0);
        let d = entry("d", 5);
        d.reconfigure(ServerStatus::OfflineSoft, 5, 10, 0);
        let servers = vec![a.clone(), b.clone(), c, d];
        let mut hits = [0u32; 2];
        for _ in 0..4000 {
            let s = pick_server(&servers, &ShunSettings::default(), 0).unwrap();
            hits[usize::from(s.host == "b")] += 1;
        }
        // Expect about 1000 vs 3000.
        assert!((700..1300).contains(&hits[0]), "{hits:?}");
        assert!(pick_server(&[entry("z", 0)], &ShunSettings::default(), 0).is_none());
    }

    #[test]
    fn max_connections_and_latency_limit() {
        let a = Arc::new(ServerEntry::new(
            (0, "a".into(), 1),
            ServerStatus::Online,
            1,
            1,
        ));
        a.note_connected();
        assert!(pick_server(std::slice::from_ref(&a), &ShunSettings::default(), 0).is_none());
        let b = entry("b", 1);
        b.set_latency_us(2_000_000);
        assert!(pick_server(std::slice::from_ref(&b), &ShunSettings::default(), 1000).is_none());
        assert!(pick_server(&[b], &ShunSettings::default(), 0).is_some());
    }

    #[test]
    fn errors_in_one_second_shun_and_time_recovers() {
        let a = entry("a", 1);
        let settings = ShunSettings {
            shun_on_failures: 3,
            connect_retries_on_failure: 10,
            shun_recovery_time_sec: 1,
            connect_timeout_server_max_ms: 10_000,
        };
        assert!(!a.connect_error(&settings));
        assert!(!a.connect_error(&settings));
        // A second boundary may reset the count; keep failing until it shuns.
        let mut shunned = a.connect_error(&settings);
        for _ in 0..10 {
            if shunned {
                break;
            }
            shunned = a.connect_error(&settings);
        }
        assert!(shunned);
        assert_eq!(a.status(), ServerStatus::Shunned);
        assert!(
            pick_server(std::slice::from_ref(&a), &settings, 0).is_none()
                || a.status() == ServerStatus::Online
        );
        // Pretend the last error was long ago.
        a.shun.lock().last_error_sec = unix_now() - 5;
        assert!(pick_server(std::slice::from_ref(&a), &settings, 0).is_some());
        assert_eq!(a.status(), ServerStatus::Online);
        // Reconfiguring as ONLINE keeps an automatic shun; as OFFLINE_SOFT it overrides.
        a.shun_missed_pings();
        a.reconfigure(ServerStatus::Online, 1, 10, 0);
        assert_eq!(a.status(), ServerStatus::Shunned);
        a.reconfigure(ServerStatus::OfflineSoft, 1, 10, 0);
        assert_eq!(a.status(), ServerStatus::OfflineSoft);
    }

    #[test]
    fn threshold_and_recovery_caps() {
        let s = ShunSettings {
            shun_on_failures: 5,
            connect_retries_on_failure: 1,
            shun_recovery_time_sec: 60,
            connect_timeout_server_max_ms: 10_000,
        };
        assert_eq!(s.threshold(), 2);
        assert_eq!(s.recovery_secs(false), 9);
        assert_eq!(s.recovery_secs(true), 0);
    }
}
