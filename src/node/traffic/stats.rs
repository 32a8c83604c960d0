//! Traffic statistics kept while sessions run, rendered into the `stats_*` tables when an
//! admin reads them (materialisation on read, §2.4).
//!
//! Per-statement updates are a few relaxed atomics plus one short uncontended lock for the
//! digest map; rendering happens only when someone asks.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;

use super::counters::GlobalCounters;
use super::digest::render_digest;
use super::hostgroups::ServerEntry;
use super::state::{COMMAND_NAMES, COMMAND_UNKNOWN};
use crate::proxysql::checksum::spooky::SpookyHasher;
use crate::proxysql::columns::{COMMANDS_COUNTERS_COLUMNS, MYSQL_ERRORS_COLUMNS};
use crate::proxysql::resultset::ResultSet;

/// Time buckets of `stats_mysql_commands_counters`, in µs (inclusive upper bounds).
const BUCKETS_US: [u64; 11] = [
    100, 500, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000, 5_000_000, 10_000_000,
];

#[derive(Default)]
struct CommandCounter {
    total_us: AtomicU64,
    count: AtomicU64,
    buckets: [AtomicU64; 12],
}

/// One `stats_mysql_query_digest` row being accumulated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRow {
    /// Hostgroup the statement ran on.
    pub hostgroup: i32,
    /// Schema.
    pub schemaname: String,
    /// User.
    pub username: String,
    /// Client address (empty unless `mysql-query_digests_track_hostname`).
    pub client_address: String,
    /// Digest hash.
    pub digest: u64,
    /// Digest text.
    pub digest_text: String,
    /// Executions.
    pub count_star: u64,
    /// Unix seconds of the first execution.
    pub first_seen: u64,
    /// Unix seconds of the last execution.
    pub last_seen: u64,
    /// Total time in µs.
    pub sum_time: u64,
    /// Shortest time in µs.
    pub min_time: u64,
    /// Longest time in µs.
    pub max_time: u64,
    /// Affected rows.
    pub sum_rows_affected: u64,
    /// Rows sent.
    pub sum_rows_sent: u64,
}

/// One finished statement, as reported by a session.
#[derive(Debug, Clone, Copy)]
pub struct QueryRecord<'a> {
    /// Hostgroup.
    pub hostgroup: i32,
    /// Schema.
    pub schemaname: &'a str,
    /// User.
    pub username: &'a str,
    /// Client address (already empty when not tracked).
    pub client_address: &'a str,
    /// Digest hash.
    pub digest: u64,
    /// Digest text.
    pub digest_text: &'a str,
    /// Elapsed µs.
    pub elapsed_us: u64,
    /// Affected rows.
    pub rows_affected: u64,
    /// Rows sent.
    pub rows_sent: u64,
}

/// What a session shows in `stats_mysql_processlist`.
#[derive(Debug, Clone)]
pub struct ProcessState {
    /// Current schema.
    pub db: Option<String>,
    /// Hostgroup of the current or last statement (-1 before the first).
    pub hostgroup: i32,
    /// Backend of the running statement, if any, and the proxy-side local port.
    pub backend: Option<(Arc<ServerEntry>, u16)>,
    /// `Sleep` or `Query` (or another command name).
    pub command: &'static str,
    /// When the current command started.
    pub started: Instant,
    /// The running statement's text.
    pub info: Option<Bytes>,
}

/// A session's processlist entry.
pub struct ProcessEntry {
    /// Session id.
    pub session_id: u32,
    /// User.
    pub user: String,
    /// Client host.
    pub cli_host: String,
    /// Client port.
    pub cli_port: u16,
    /// Mutable part.
    pub state: Mutex<ProcessState>,
    /// Cancelled by `KILL CONNECTION <session id>` (traffic or admin port): the session
    /// closes at once.
    pub kill: tokio_util::sync::CancellationToken,
    /// Server thread id of the backend connection running the current statement (0 when
    /// none), the target of `KILL QUERY <session id>`.
    pub backend_thread: std::sync::atomic::AtomicU32,
}

/// Key of one `stats_mysql_errors` row (ProxySQL's primary key plus the client address).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ErrorKey {
    hostgroup: i32,
    hostname: String,
    port: u16,
    username: String,
    client_address: String,
    schemaname: String,
    errno: u16,
}

/// One `stats_mysql_errors` row being accumulated.
#[derive(Debug, Clone)]
struct ErrorRow {
    count_star: u64,
    first_seen: u64,
    last_seen: u64,
    last_error: String,
}

/// One error a backend (or the connection to it) gave, as reported by a session.
#[derive(Debug, Clone, Copy)]
pub struct ErrorRecord<'a> {
    /// Hostgroup.
    pub hostgroup: i32,
    /// Server host.
    pub hostname: &'a str,
    /// Server port.
    pub port: u16,
    /// User.
    pub username: &'a str,
    /// Client address.
    pub client_address: &'a str,
    /// Schema.
    pub schemaname: &'a str,
    /// MySQL error number.
    pub errno: u16,
    /// Error message.
    pub message: &'a str,
}

/// All traffic statistics of one node.
pub struct TrafficStats {
    /// Counters of `stats_mysql_global`, shared with the server entries (pool events and
    /// backend bytes).
    pub global: Arc<GlobalCounters>,
    errors: Mutex<HashMap<ErrorKey, ErrorRow>>,
    digests: Mutex<HashMap<u64, DigestRow>>,
    commands: [CommandCounter; COMMAND_UNKNOWN + 1],
    processes: Mutex<BTreeMap<u32, Arc<ProcessEntry>>>,
    user_connections: Mutex<HashMap<String, Arc<AtomicU32>>>,
}

impl Default for TrafficStats {
    fn default() -> Self {
        Self {
            global: Arc::default(),
            errors: Mutex::new(HashMap::new()),
            digests: Mutex::new(HashMap::new()),
            commands: std::array::from_fn(|_| CommandCounter::default()),
            processes: Mutex::new(BTreeMap::new()),
            user_connections: Mutex::new(HashMap::new()),
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TrafficStats {
    /// Adds one statement to the digest table.
    pub fn record_query(&self, r: &QueryRecord<'_>) {
        // ProxySQL's digest_total: the digest combined with user, schema, hostgroup, client.
        let mut h = SpookyHasher::new(19, 3);
        h.update(r.username.as_bytes());
        h.update(&r.digest.to_le_bytes());
        h.update(r.schemaname.as_bytes());
        h.update(&r.hostgroup.to_le_bytes());
        h.update(r.client_address.as_bytes());
        let key = h.finish().0;
        let now = unix_secs();
        let mut map = self.digests.lock();
        let row = map.entry(key).or_insert_with(|| DigestRow {
            hostgroup: r.hostgroup,
            schemaname: r.schemaname.to_string(),
            username: r.username.to_string(),
            client_address: r.client_address.to_string(),
            digest: r.digest,
            digest_text: r.digest_text.to_string(),
            count_star: 0,
            first_seen: now,
            last_seen: now,
            sum_time: 0,
            min_time: u64::MAX,
            max_time: 0,
            sum_rows_affected: 0,
            sum_rows_sent: 0,
        });
        row.count_star += 1;
        row.last_seen = now;
        row.sum_time += r.elapsed_us;
        row.min_time = row.min_time.min(r.elapsed_us);
        row.max_time = row.max_time.max(r.elapsed_us);
        row.sum_rows_affected += r.rows_affected;
        row.sum_rows_sent += r.rows_sent;
    }

    /// Adds one error to `stats_mysql_errors` (the error path only: one short lock).
    pub fn record_error(&self, e: &ErrorRecord<'_>) {
        let now = unix_secs();
        let key = ErrorKey {
            hostgroup: e.hostgroup,
            hostname: e.hostname.to_string(),
            port: e.port,
            username: e.username.to_string(),
            client_address: e.client_address.to_string(),
            schemaname: e.schemaname.to_string(),
            errno: e.errno,
        };
        let mut map = self.errors.lock();
        let row = map.entry(key).or_insert_with(|| ErrorRow {
            count_star: 0,
            first_seen: now,
            last_seen: now,
            last_error: String::new(),
        });
        row.count_star += 1;
        row.last_seen = now;
        row.last_error.clear();
        row.last_error.push_str(e.message);
    }

    /// `stats_mysql_errors` rows; `reset` empties the table (the `_reset` twin).
    pub fn errors_table(&self, reset: bool) -> ResultSet {
        let rows: Vec<(ErrorKey, ErrorRow)> = if reset {
            std::mem::take(&mut *self.errors.lock())
                .into_iter()
                .collect()
        } else {
            self.errors
                .lock()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let mut rs = ResultSet::with_columns(MYSQL_ERRORS_COLUMNS);
        for (k, v) in rows {
            rs.rows.push(vec![
                Some(k.hostgroup.to_string()),
                Some(k.hostname),
                Some(k.port.to_string()),
                Some(k.username),
                Some(k.client_address),
                Some(k.schemaname),
                Some(k.errno.to_string()),
                Some(v.count_star.to_string()),
                Some(v.first_seen.to_string()),
                Some(v.last_seen.to_string()),
                Some(v.last_error),
            ]);
        }
        rs
    }

    /// Rough bytes held by the digest map (`query_digest_memory`).
    pub fn digest_memory(&self) -> u64 {
        let map = self.digests.lock();
        map.values()
            .map(|r| {
                (std::mem::size_of::<DigestRow>()
                    + 8
                    + r.schemaname.len()
                    + r.username.len()
                    + r.client_address.len()
                    + r.digest_text.len()) as u64
            })
            .sum()
    }

    /// Sessions in the processlist now.
    pub fn process_count(&self) -> usize {
        self.processes.lock().len()
    }

    /// Adds one statement of command type `index` that took `elapsed_us`.
    pub fn record_command(&self, index: usize, elapsed_us: u64) {
        let c = &self.commands[index.min(COMMAND_UNKNOWN)];
        c.total_us.fetch_add(elapsed_us, Ordering::Relaxed);
        c.count.fetch_add(1, Ordering::Relaxed);
        let bucket = BUCKETS_US
            .iter()
            .position(|limit| elapsed_us <= *limit)
            .unwrap_or(BUCKETS_US.len());
        c.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// Registers a session in the processlist.
    pub fn register_process(&self, entry: Arc<ProcessEntry>) {
        self.processes.lock().insert(entry.session_id, entry);
    }

    /// The processlist entry of a session (`KILL` on the traffic port).
    pub fn process(&self, session_id: u32) -> Option<Arc<ProcessEntry>> {
        self.processes.lock().get(&session_id).cloned()
    }

    /// Asks the session `session_id` to close (admin `KILL CONNECTION`); false when no
    /// such session runs.
    pub fn kill_process(&self, session_id: u32) -> bool {
        match self.processes.lock().get(&session_id) {
            Some(entry) => {
                entry.kill.cancel();
                true
            }
            None => false,
        }
    }

    /// Removes a session from the processlist.
    pub fn unregister_process(&self, session_id: u32) {
        self.processes.lock().remove(&session_id);
    }

    /// The frontend connection counter of `user`.
    pub fn user_counter(&self, user: &str) -> Arc<AtomicU32> {
        self.user_connections
            .lock()
            .entry(user.to_string())
            .or_default()
            .clone()
    }

    /// `stats_mysql_query_digest` rows; `reset` empties the table (the `_reset` twin).
    pub fn digest_table(&self, reset: bool) -> ResultSet {
        let rows: Vec<DigestRow> = if reset {
            std::mem::take(&mut *self.digests.lock())
                .into_values()
                .collect()
        } else {
            self.digests.lock().values().cloned().collect()
        };
        let mut rs = ResultSet::with_columns([
            "hostgroup",
            "schemaname",
            "username",
            "client_address",
            "digest",
            "digest_text",
            "count_star",
            "first_seen",
            "last_seen",
            "sum_time",
            "min_time",
            "max_time",
            "sum_rows_affected",
            "sum_rows_sent",
        ]);
        for r in rows {
            rs.rows.push(vec![
                Some(r.hostgroup.to_string()),
                Some(r.schemaname),
                Some(r.username),
                Some(r.client_address),
                Some(render_digest(r.digest)),
                Some(r.digest_text),
                Some(r.count_star.to_string()),
                Some(r.first_seen.to_string()),
                Some(r.last_seen.to_string()),
                Some(r.sum_time.to_string()),
                Some(r.min_time.min(r.max_time).to_string()),
                Some(r.max_time.to_string()),
                Some(r.sum_rows_affected.to_string()),
                Some(r.sum_rows_sent.to_string()),
            ]);
        }
        rs
    }

    /// `stats_mysql_commands_counters` rows (every command type, UNKNOWN last).
    pub fn commands_table(&self) -> ResultSet {
        let mut rs = ResultSet::with_columns(COMMANDS_COUNTERS_COLUMNS);
        for (i, c) in self.commands.iter().enumerate() {
            let name = COMMAND_NAMES.get(i).copied().unwrap_or("UNKNOWN");
            let mut row = vec![
                Some(name.to_string()),
                Some(c.total_us.load(Ordering::Relaxed).to_string()),
                Some(c.count.load(Ordering::Relaxed).to_string()),
            ];
            row.extend(
                c.buckets
                    .iter()
                    .map(|b| Some(b.load(Ordering::Relaxed).to_string())),
            );
            rs.rows.push(row);
        }
        rs
    }

    /// `stats_mysql_processlist` rows.
    pub fn processlist_table(&self) -> ResultSet {
        let mut rs = ResultSet::with_columns([
            "ThreadID",
            "SessionID",
            "user",
            "db",
            "cli_host",
            "cli_port",
            "hostgroup",
            "l_srv_host",
            "l_srv_port",
            "srv_host",
            "srv_port",
            "command",
            "time_ms",
            "info",
            "status_flags",
            "extended_info",
        ]);
        let entries: Vec<Arc<ProcessEntry>> = self.processes.lock().values().cloned().collect();
        for e in entries {
            let st = e.state.lock().clone();
            let (srv_host, srv_port, l_port) = match &st.backend {
                Some((s, l)) => (
                    Some(s.host.clone()),
                    Some(s.port.to_string()),
                    Some(l.to_string()),
                ),
                None => (None, None, None),
            };
            rs.rows.push(vec![
                Some("0".into()),
                Some(e.session_id.to_string()),
                Some(e.user.clone()),
                st.db.clone(),
                Some(e.cli_host.clone()),
                Some(e.cli_port.to_string()),
                Some(st.hostgroup.to_string()),
                srv_host.as_ref().map(|_| "127.0.0.1".to_string()),
                l_port,
                srv_host,
                srv_port,
                Some(st.command.to_string()),
                Some(st.started.elapsed().as_millis().to_string()),
                st.info
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned()),
                Some("0".into()),
                None,
            ]);
        }
        rs
    }

    /// `stats_mysql_users` rows for the given `(user, max_connections)` accounts.
    pub fn users_table(&self, users: &[(String, u32)]) -> ResultSet {
        let mut rs = ResultSet::with_columns([
            "username",
            "frontend_connections",
            "frontend_max_connections",
        ]);
        let counters = self.user_connections.lock();
        for (user, max) in users {
            let n = counters.get(user).map_or(0, |c| c.load(Ordering::Relaxed));
            rs.rows.push(vec![
                Some(user.clone()),
                Some(n.to_string()),
                Some(max.to_string()),
            ]);
        }
        rs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::traffic::hostgroups::ServerStatus;

    fn rec<'a>(hg: i32, digest: u64, us: u64) -> QueryRecord<'a> {
        QueryRecord {
            hostgroup: hg,
            schemaname: "db",
            username: "app",
            client_address: "",
            digest,
            digest_text: "SELECT ?",
            elapsed_us: us,
            rows_affected: 0,
            rows_sent: 1,
        }
    }

    #[test]
    fn digests_aggregate_per_hostgroup_and_reset() {
        let s = TrafficStats::default();
        s.record_query(&rec(0, 7, 100));
        s.record_query(&rec(0, 7, 300));
        s.record_query(&rec(1, 7, 50));
        let t = s.digest_table(false);
        assert_eq!(t.rows.len(), 2);
        let r0 = t
            .rows
            .iter()
            .find(|r| r[0].as_deref() == Some("0"))
            .unwrap();
        assert_eq!(r0[4].as_deref(), Some("0x0000000000000007"));
        assert_eq!(r0[6].as_deref(), Some("2"));
        assert_eq!(r0[9].as_deref(), Some("400"));
        assert_eq!(r0[10].as_deref(), Some("100"));
        assert_eq!(r0[11].as_deref(), Some("300"));
        assert_eq!(r0[13].as_deref(), Some("2"));
        assert_eq!(s.digest_table(true).rows.len(), 2);
        assert!(s.digest_table(false).rows.is_empty());
    }

    #[test]
    fn command_buckets() {
        let s = TrafficStats::default();
        s.record_command(43, 100); // SELECT, <=100us
        s.record_command(43, 101);
        s.record_command(999, 20_000_000); // clamps to UNKNOWN, INF bucket
        let t = s.commands_table();
        assert_eq!(t.rows.len(), 54);
        let select = &t.rows[43];
        assert_eq!(select[0].as_deref(), Some("SELECT"));
        assert_eq!(select[2].as_deref(), Some("2"));
        assert_eq!(select[3].as_deref(), Some("1"));
        assert_eq!(select[4].as_deref(), Some("1"));
        let unknown = t.rows.last().unwrap();
        assert_eq!(unknown[0].as_deref(), Some("UNKNOWN"));
        assert_eq!(unknown[14].as_deref(), Some("1"));
    }

    #[test]
    fn processlist_and_users() {
        let s = TrafficStats::default();
        s.register_process(Arc::new(ProcessEntry {
            session_id: 3,
            user: "app".into(),
            cli_host: "10.0.0.1".into(),
            cli_port: 5555,
            kill: Default::default(),
            backend_thread: Default::default(),
            state: Mutex::new(ProcessState {
                db: Some("duhokim".into()),
                hostgroup: 10,
                backend: Some((
                    Arc::new(ServerEntry::new(
                        (10, "127.0.0.1".into(), 3306),
                        ServerStatus::Online,
                        1,
                        10,
                    )),
                    40000,
                )),
                command: "Query",
                started: Instant::now(),
                info: Some(Bytes::from_static(b"SELECT SLEEP(5)")),
            }),
        }));
        let t = s.processlist_table();
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0][11].as_deref(), Some("Query"));
        assert_eq!(t.rows[0][13].as_deref(), Some("SELECT SLEEP(5)"));
        s.unregister_process(3);
        assert!(s.processlist_table().rows.is_empty());
        s.user_counter("app").fetch_add(2, Ordering::Relaxed);
        let u = s.users_table(&[("app".into(), 100), ("other".into(), 5)]);
        assert_eq!(u.rows[0][1].as_deref(), Some("2"));
        assert_eq!(u.rows[1][1].as_deref(), Some("0"));
    }
}
