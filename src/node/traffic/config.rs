//! The traffic side's view of the runtime: users, compiled query rules, hostgroups and the
//! `mysql-*` variables it uses, rebuilt after every load and shared by all sessions through
//! one `Arc` (sessions notice a new one with a cheap `watch` check per statement).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::digest::DigestOptions;
use super::hostgroups::{ServerEntry, ServerKey, ServerStatus, ShunSettings};
use super::rules::QueryProcessor;
use crate::node::admin::runtime_layer::Runtime;
use crate::node::protocol::Password;
use crate::proxysql::resultset::ResultSet;

/// One `mysql_users` account as the traffic side uses it.
#[derive(Debug, Clone)]
pub struct UserEntry {
    /// User name.
    pub username: String,
    /// Frontend password (clear or `*HEX`).
    pub password: Password,
    /// `default_hostgroup`.
    pub default_hostgroup: i32,
    /// `default_schema` (None when NULL or empty).
    pub default_schema: Option<String>,
    /// `schema_locked`.
    pub schema_locked: bool,
    /// `transaction_persistent`.
    pub transaction_persistent: bool,
    /// `fast_forward` (the query processor is bypassed).
    pub fast_forward: bool,
    /// `max_connections` (frontend).
    pub max_connections: u32,
}

/// The `mysql-*` settings the traffic side reads, parsed once per load.
#[derive(Debug, Clone)]
pub struct TrafficVars {
    /// `mysql-server_version`, announced in the handshake.
    pub server_version: String,
    /// `mysql-max_connections`.
    pub max_connections: u32,
    /// Shunning settings.
    pub shun: ShunSettings,
    /// `mysql-connect_timeout_server` (ms): one connection attempt.
    pub connect_timeout_server_ms: u64,
    /// `mysql-connect_timeout_server_max` (ms): all attempts for one statement.
    pub connect_timeout_server_max_ms: u64,
    /// `mysql-default_max_latency_ms`.
    pub default_max_latency_ms: u32,
    /// `mysql-query_digests`.
    pub query_digests: bool,
    /// `mysql-query_digests_track_hostname`.
    pub digests_track_hostname: bool,
    /// `mysql-commands_stats`.
    pub commands_stats: bool,
    /// `mysql-long_query_time` (ms): statements slower than this count in `Slow_queries`.
    pub long_query_time_ms: u64,
    /// Digest settings.
    pub digest: DigestOptions,
    /// `mysql-max_allowed_packet`.
    pub max_allowed_packet: usize,
    /// `mysql-connect_timeout_client` (ms).
    pub connect_timeout_client_ms: u64,
    /// `mysql-enable_client_deprecate_eof`.
    pub client_deprecate_eof: bool,
    /// `mysql-default_authentication_plugin` is caching_sha2_password.
    pub caching_sha2_default: bool,
    /// `mysql-have_ssl`: offer TLS to clients (default true since ProxySQL 2.6).
    pub have_ssl: bool,
    /// `mysql-ping_interval_server_msec`: idle pooled connections older than this are pinged.
    pub ping_interval_server_ms: u64,
    /// `mysql-free_connections_pct`: idle connections kept, as a share of max_connections.
    pub free_connections_pct: u32,
    /// `mysql-query_processor_iterations`.
    pub query_processor_iterations: u32,
    /// `mysql-default_schema` for users without one.
    pub default_schema: String,
    /// `mysql-monitor_enabled`.
    pub monitor_enabled: bool,
    /// `mysql-enforce_autocommit_on_reads`: when false (the default), a plain `SELECT` of an
    /// `autocommit=0` session runs with autocommit on, so it opens no transaction.
    pub enforce_autocommit_on_reads: bool,
    /// `mysql-set_query_lock_on_hostgroup`: a `SET` that cannot be replayed elsewhere locks
    /// the session on its hostgroup; statements routed elsewhere then fail with 9006.
    pub set_query_lock_on_hostgroup: bool,
    /// `mysql-auto_increment_delay_multiplex`: statements a connection that generated an
    /// insert id stays with its session, so `LAST_INSERT_ID()` can be read there.
    pub auto_increment_delay_multiplex: u32,
}

/// Reads typed values out of the running variables, with ProxySQL's defaults.
struct VarReader<'a>(&'a BTreeMap<String, String>);

impl VarReader<'_> {
    fn text(&self, name: &str, default: &str) -> String {
        self.0
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }
    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.0
            .get(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    }
    fn flag(&self, name: &str, default: bool) -> bool {
        match self.0.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "true" || v == "1" => true,
            Some(v) if v == "false" || v == "0" => false,
            _ => default,
        }
    }
}

impl TrafficVars {
    /// Parses the running `mysql-*` variables.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Self {
        let v = VarReader(vars);
        TrafficVars {
            server_version: v.text("mysql-server_version", "8.0.11"),
            max_connections: v.num("mysql-max_connections", 10_000),
            shun: ShunSettings {
                shun_on_failures: v.num("mysql-shun_on_failures", 5),
                connect_retries_on_failure: v.num("mysql-connect_retries_on_failure", 10),
                shun_recovery_time_sec: v.num("mysql-shun_recovery_time_sec", 10),
                connect_timeout_server_max_ms: v.num("mysql-connect_timeout_server_max", 10_000),
            },
            connect_timeout_server_ms: v.num("mysql-connect_timeout_server", 1_000),
            connect_timeout_server_max_ms: v.num("mysql-connect_timeout_server_max", 10_000),
            default_max_latency_ms: v.num("mysql-default_max_latency_ms", 1_000),
            query_digests: v.flag("mysql-query_digests", true),
            digests_track_hostname: v.flag("mysql-query_digests_track_hostname", false),
            commands_stats: v.flag("mysql-commands_stats", true),
            long_query_time_ms: v.num("mysql-long_query_time", 1_000),
            digest: DigestOptions {
                lowercase: v.flag("mysql-query_digests_lowercase", false),
                replace_null: v.flag("mysql-query_digests_replace_null", false),
                no_digits: v.flag("mysql-query_digests_no_digits", false),
                grouping_limit: v.num("mysql-query_digests_grouping_limit", 3),
                groups_grouping_limit: v.num("mysql-query_digests_groups_grouping_limit", 10),
                max_length: v.num("mysql-query_digests_max_digest_length", 2048),
            },
            max_allowed_packet: v.num("mysql-max_allowed_packet", 64 << 20),
            connect_timeout_client_ms: v.num("mysql-connect_timeout_client", 10_000),
            client_deprecate_eof: v.flag("mysql-enable_client_deprecate_eof", true),
            have_ssl: v.flag("mysql-have_ssl", true),
            caching_sha2_default: v
                .text(
                    "mysql-default_authentication_plugin",
                    "mysql_native_password",
                )
                .eq_ignore_ascii_case("caching_sha2_password"),
            ping_interval_server_ms: v.num("mysql-ping_interval_server_msec", 10_000),
            free_connections_pct: v.num("mysql-free_connections_pct", 10),
            query_processor_iterations: v.num("mysql-query_processor_iterations", 0),
            default_schema: v.text("mysql-default_schema", "information_schema"),
            monitor_enabled: v.flag("mysql-monitor_enabled", true),
            enforce_autocommit_on_reads: v.flag("mysql-enforce_autocommit_on_reads", false),
            set_query_lock_on_hostgroup: v.num::<u32>("mysql-set_query_lock_on_hostgroup", 1) == 1,
            auto_increment_delay_multiplex: v.num("mysql-auto_increment_delay_multiplex", 5),
        }
    }
}

/// Everything a session needs from the runtime, immutable once built.
pub struct TrafficConfig {
    /// Increases with every rebuild.
    pub generation: u64,
    /// Frontend accounts by name.
    pub users: HashMap<String, Arc<UserEntry>>,
    /// Backend passwords by user name (`backend=1` rows).
    pub backend_passwords: HashMap<String, Password>,
    /// The compiled query rules.
    pub rules: QueryProcessor,
    /// Servers by hostgroup, in `mysql_servers` order.
    pub hostgroups: HashMap<i32, Vec<Arc<ServerEntry>>>,
    /// Settings.
    pub vars: TrafficVars,
}

impl TrafficConfig {
    /// An empty configuration (before the first load).
    pub fn empty() -> Self {
        TrafficConfig {
            generation: 0,
            users: HashMap::new(),
            backend_passwords: HashMap::new(),
            rules: QueryProcessor::default(),
            hostgroups: HashMap::new(),
            vars: TrafficVars::from_vars(&BTreeMap::new()),
        }
    }

    /// Builds from a runtime snapshot and the running mysql variables. `registry` holds the
    /// server entries of the previous configuration and is updated in place, so pools and
    /// live status survive; entries that disappeared are marked removed. Returns messages
    /// worth logging.
    pub fn build(
        rt: &Runtime,
        mysql_vars: &BTreeMap<String, String>,
        registry: &mut HashMap<ServerKey, Arc<ServerEntry>>,
        generation: u64,
    ) -> (TrafficConfig, Vec<String>) {
        let vars = TrafficVars::from_vars(mysql_vars);
        let (users, backend_passwords) = users_from(&rt.users_full);
        let (rules, mut notes) = QueryProcessor::build(
            &rt.query_rules_full,
            &rt.fast_routing,
            vars.query_processor_iterations,
        );
        let hostgroups = servers_from(&rt.servers, registry, &mut notes);
        (
            TrafficConfig {
                generation,
                users,
                backend_passwords,
                rules,
                hostgroups,
                vars,
            },
            notes,
        )
    }
}

type UserMaps = (HashMap<String, Arc<UserEntry>>, HashMap<String, Password>);

fn users_from(rs: &ResultSet) -> UserMaps {
    let col = |n: &str| rs.column_index(n);
    let get = |row: &[Option<String>], n: &str| col(n).and_then(|i| row.get(i).cloned().flatten());
    let int = |row: &[Option<String>], n: &str, d: i64| {
        get(row, n)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(d)
    };
    let mut frontend = HashMap::new();
    let mut backend = HashMap::new();
    for row in &rs.rows {
        if int(row, "active", 1) == 0 {
            continue;
        }
        let Some(username) = get(row, "username") else {
            continue;
        };
        let password = Password::from_stored(&get(row, "password").unwrap_or_default());
        if int(row, "backend", 1) == 1 {
            backend.insert(username.clone(), password.clone());
        }
        if int(row, "frontend", 1) == 1 {
            frontend.insert(
                username.clone(),
                Arc::new(UserEntry {
                    username,
                    password,
                    default_hostgroup: int(row, "default_hostgroup", 0) as i32,
                    default_schema: get(row, "default_schema").filter(|s| !s.is_empty()),
                    schema_locked: int(row, "schema_locked", 0) == 1,
                    transaction_persistent: int(row, "transaction_persistent", 1) == 1,
                    fast_forward: int(row, "fast_forward", 0) == 1,
                    max_connections: int(row, "max_connections", 10_000).max(0) as u32,
                }),
            );
        }
    }
    (frontend, backend)
}

fn servers_from(
    rs: &ResultSet,
    registry: &mut HashMap<ServerKey, Arc<ServerEntry>>,
    notes: &mut Vec<String>,
) -> HashMap<i32, Vec<Arc<ServerEntry>>> {
    let col = |n: &str| rs.column_index(n);
    let get = |row: &[Option<String>], n: &str| {
        col(n)
            .and_then(|i| row.get(i).cloned().flatten())
            .unwrap_or_default()
    };
    let num =
        |row: &[Option<String>], n: &str, d: i64| get(row, n).trim().parse::<i64>().unwrap_or(d);
    let mut hostgroups: HashMap<i32, Vec<Arc<ServerEntry>>> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for row in &rs.rows {
        let hostname = get(row, "hostname");
        let Ok(port) = u16::try_from(num(row, "port", 3306)) else {
            continue;
        };
        let hg = num(row, "hostgroup_id", 0) as i32;
        let status = ServerStatus::parse(&get(row, "status"));
        let weight = num(row, "weight", 1).clamp(0, i64::from(u32::MAX)) as u32;
        let max_conn = num(row, "max_connections", 1000).clamp(0, i64::from(u32::MAX)) as u32;
        let max_latency = num(row, "max_latency_ms", 0).clamp(0, i64::from(u32::MAX)) as u32;
        let key: ServerKey = (hg, hostname, port);
        let entry = registry
            .entry(key.clone())
            .or_insert_with(|| Arc::new(ServerEntry::new(key.clone(), status, weight, max_conn)))
            .clone();
        entry.reconfigure(status, weight, max_conn, max_latency);
        seen.insert(key);
        if status != ServerStatus::OfflineHard {
            hostgroups.entry(hg).or_default().push(entry);
        }
    }
    registry.retain(|key, entry| {
        let keep = seen.contains(key);
        if !keep {
            notes.push(format!(
                "Removed server at address {}:{} from hostgroup {}",
                key.1, key.2, key.0
            ));
            entry.remove();
        }
        keep
    });
    hostgroups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxysql::columns::SERVERS_COLUMNS;

    fn servers(rows: &[(&str, &str, &str, &str)]) -> ResultSet {
        let mut rs = ResultSet::with_columns(SERVERS_COLUMNS.split(", "));
        for (hg, host, port, status) in rows {
            rs.push_row([
                Some(*hg),
                Some(*host),
                Some(*port),
                Some("0"),
                Some(*status),
                Some("1"),
                Some("0"),
                Some("1000"),
                Some("0"),
                Some("0"),
                Some("0"),
                Some(""),
            ]);
        }
        rs
    }

    #[test]
    fn registry_keeps_entries_across_reloads_and_removes_others() {
        let mut registry = HashMap::new();
        let mut notes = Vec::new();
        let rs = servers(&[("0", "a", "3306", "ONLINE"), ("1", "b", "3306", "ONLINE")]);
        let hg = servers_from(&rs, &mut registry, &mut notes);
        let a = hg[&0][0].clone();
        a.note_connected();
        let rs = servers(&[
            ("0", "a", "3306", "ONLINE"),
            ("1", "c", "3306", "OFFLINE_HARD"),
        ]);
        let hg = servers_from(&rs, &mut registry, &mut notes);
        assert!(Arc::ptr_eq(&hg[&0][0], &a));
        assert_eq!(a.used(), 1);
        assert!(
            !hg.contains_key(&1),
            "OFFLINE_HARD servers are not selectable"
        );
        assert_eq!(notes, ["Removed server at address b:3306 from hostgroup 1"]);
        assert_eq!(registry.len(), 2);
    }

    #[test]
    fn users_split_frontend_and_backend() {
        let mut rs = ResultSet::with_columns([
            "username",
            "password",
            "active",
            "default_hostgroup",
            "default_schema",
            "transaction_persistent",
            "backend",
            "frontend",
            "max_connections",
        ]);
        rs.push_row([
            Some("app"),
            Some("pw"),
            Some("1"),
            Some("10"),
            Some("db"),
            Some("1"),
            Some("1"),
            Some("1"),
            Some("5"),
        ]);
        rs.push_row([
            Some("off"),
            Some("pw"),
            Some("0"),
            Some("0"),
            None,
            Some("1"),
            Some("1"),
            Some("1"),
            Some("5"),
        ]);
        rs.push_row([
            Some("be"),
            Some("x"),
            Some("1"),
            Some("0"),
            Some(""),
            Some("0"),
            Some("1"),
            Some("0"),
            Some("5"),
        ]);
        let (fe, be) = users_from(&rs);
        assert_eq!(fe.len(), 1);
        let app = &fe["app"];
        assert_eq!((app.default_hostgroup, app.max_connections), (10, 5));
        assert_eq!(app.default_schema.as_deref(), Some("db"));
        assert!(app.transaction_persistent);
        assert_eq!(be.len(), 2);
        assert_eq!(be["be"], Password::Clear("x".into()));
    }

    #[test]
    fn vars_parse_with_defaults() {
        let mut vars = BTreeMap::new();
        vars.insert("mysql-shun_on_failures".to_string(), "2".to_string());
        vars.insert("mysql-query_digests".to_string(), "false".to_string());
        let v = TrafficVars::from_vars(&vars);
        assert_eq!(v.shun.shun_on_failures, 2);
        assert!(!v.query_digests);
        assert_eq!(v.server_version, "8.0.11");
        assert_eq!(v.max_connections, 10_000);
    }
}
