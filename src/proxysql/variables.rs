//! The `admin-*` and `mysql-*` variables of ProxySQL 2.7.2: the complete set with its default
//! renderings, and the validation `LOAD ... VARIABLES TO RUNTIME` applies to each value.
//!
//! Both matter for clustering: the `admin_variables` and `mysql_variables` checksums are computed
//! over the runtime name/value texts, so an embedded node converges with real peers only if it
//! holds exactly the same names and renders values exactly as ProxySQL does (`true`/`false`,
//! decimal integers, `(null)` for unset admin interfaces, ...).
//!
//! The set and the defaults come from a real `2.7.2-14-g5cc418b` node
//! (`variables_2_7_2.tsv`, `SELECT * FROM global_variables ORDER BY variable_name`); that node's
//! config file had set four values, which [`defaults`] replaces by the build defaults. The
//! validation rules follow `ProxySQL_Admin::set_variable` (`lib/ProxySQL_Admin.cpp`) and
//! `MySQL_Threads_Handler::set_variable` with its `VariablesPointers_int` ranges
//! (`lib/MySQL_Thread.cpp`).
//!
//! One deliberate difference: ProxySQL parses integers with `atoi`, so `abc` reads as 0 and
//! `12abc` as 12; here anything but a decimal integer is refused with a clear error. Values a
//! real peer sends are always canonical renderings, so cluster syncs are unaffected.

use std::path::Path;

/// The version string of the emulated build, as `SELECT @@version` and `admin-version` show it.
pub const DEFAULT_VERSION: &str = "2.7.2-14-g5cc418b";

/// `global_variables` of a real 2.7.2 node: a header line, then `name<TAB>value` lines.
const OBSERVED_2_7_2: &str = include_str!("variables_2_7_2.tsv");

/// Values the observed node's config file set, with the defaults of the build
/// (`ProxySQL_Admin` constructor, `MySQL_Threads_Handler::start_listeners`, `DEFAULT_NUM_THREADS`).
const BUILD_DEFAULTS: [(&str, &str); 3] = [
    ("admin-mysql_ifaces", "0.0.0.0:6032"),
    ("mysql-interfaces", "0.0.0.0:6033"),
    ("mysql-threads", "4"),
];

/// Interface variables excluded from the variables checksums unless `cluster_sync_interfaces`.
const INTERFACE_VARIABLES: [&str; 6] = [
    "admin-mysql_ifaces",
    "admin-restapi_port",
    "admin-telnet_admin_ifaces",
    "admin-telnet_stats_ifaces",
    "admin-web_port",
    "mysql-interfaces",
];

/// A value ProxySQL refuses for a variable. `Display` reads like ProxySQL's own warning (without
/// the `Resetting to current ...` tail, which the caller knows); [`VarError::reason`] says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    /// The value fails the variable's validation.
    #[error("Impossible to set variable {name} with value \"{value}\"")]
    Invalid {
        /// Full variable name, e.g. `admin-cluster_check_interval_ms`.
        name: String,
        /// The refused value.
        value: String,
        /// What the variable accepts.
        reason: String,
    },
    /// The variable cannot be changed (`admin-version`).
    #[error("Impossible to set read-only variable {name} with value \"{value}\"")]
    ReadOnly {
        /// Full variable name.
        name: String,
        /// The refused value.
        value: String,
    },
}

impl VarError {
    /// A short explanation of what the variable accepts.
    pub fn reason(&self) -> &str {
        match self {
            VarError::Invalid { reason, .. } => reason,
            VarError::ReadOnly { .. } => "the variable is read-only",
        }
    }
}

/// Every `admin-*` and `mysql-*` variable with its default rendering, ordered by name (byte
/// order, as `ORDER BY variable_name` sorts). `admin-version` is set to `version`.
pub fn defaults(version: &str) -> Vec<(&'static str, String)> {
    let mut all: Vec<(&'static str, String)> = observed()
        .map(|(name, value)| {
            let value = match BUILD_DEFAULTS.iter().find(|(n, _)| *n == name) {
                Some((_, default)) => default,
                None if name == "admin-version" => version,
                None => value,
            };
            (name, value.to_owned())
        })
        .collect();
    all.sort_unstable_by(|a, b| a.0.cmp(b.0));
    all
}

/// The default rendering of one variable (name matched case-insensitively), with
/// `admin-version` = [`DEFAULT_VERSION`].
pub fn default_value(name: &str) -> Option<String> {
    let (canonical, value) = observed().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    Some(match BUILD_DEFAULTS.iter().find(|(n, _)| *n == canonical) {
        Some((_, default)) => (*default).to_owned(),
        None if canonical == "admin-version" => DEFAULT_VERSION.to_owned(),
        None => value.to_owned(),
    })
}

/// Whether `name` is an `admin-*` or `mysql-*` variable of 2.7.2 (case-insensitive, as
/// ProxySQL matches names when loading them).
pub fn is_known(name: &str) -> bool {
    observed().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// Validates `value` for `name` and returns the text the runtime would then show for it in
/// `runtime_global_variables` (e.g. `1` → `true`, `45` → `60` for the rounded `admin-stats_*`
/// intervals, `(null)` → `` for unset mysql strings).
///
/// This is the check at startup, when nothing runs yet: `mysql-interfaces` and `mysql-threads`
/// take any valid value, an empty `admin-cluster_username`/`_password` yields `""`, and
/// `admin-version` only accepts [`DEFAULT_VERSION`]. Use [`validate_update`] for a node that is
/// running. Unknown names (see [`is_known`]) are returned unchanged; ProxySQL would drop them.
pub fn validate(name: &str, value: &str) -> Result<String, VarError> {
    check(name, value, None)
}

/// Like [`validate`], for a running node whose current runtime rendering of `name` is `current`.
///
/// This adds ProxySQL's stateful rules: `admin-version` accepts only its current value
/// (case-insensitively); an empty `admin-cluster_username`/`admin-cluster_password` is accepted
/// but keeps the current value; `mysql-interfaces` and `mysql-threads` cannot change once set
/// (only the current value is accepted); an invalid `mysql-proxy_protocol_networks` is
/// accepted silently and keeps the current value.
pub fn validate_update(name: &str, value: &str, current: &str) -> Result<String, VarError> {
    check(name, value, Some(current))
}

/// Whether `name` is left out of the `admin_variables`/`mysql_variables` checksums and of
/// variables syncs (spec §5.3): `mysql-threads` always, the interface variables unless the node
/// runs with `cluster_sync_interfaces=true`. Names are compared exactly, as ProxySQL's SQL does.
pub fn checksum_excluded(name: &str, cluster_sync_interfaces: bool) -> bool {
    name == "mysql-threads" || (!cluster_sync_interfaces && INTERFACE_VARIABLES.contains(&name))
}

/// For an `admin-cluster_<module>_diffs_before_sync` variable, the deprecated
/// `admin-checksum_<module>` switch that overrides it: while that switch is `false`, ProxySQL
/// stores 0 whatever diffs value is loaded, and switching it to `false` sets the diffs to 0.
/// `admin-cluster_proxysql_servers_diffs_before_sync` has no such switch.
pub fn checksum_switch_for(diffs_variable: &str) -> Option<&'static str> {
    const PAIRS: [(&str, &str); 6] = [
        (
            "admin-cluster_mysql_query_rules_diffs_before_sync",
            "admin-checksum_mysql_query_rules",
        ),
        (
            "admin-cluster_mysql_servers_diffs_before_sync",
            "admin-checksum_mysql_servers",
        ),
        (
            "admin-cluster_mysql_users_diffs_before_sync",
            "admin-checksum_mysql_users",
        ),
        (
            "admin-cluster_mysql_variables_diffs_before_sync",
            "admin-checksum_mysql_variables",
        ),
        (
            "admin-cluster_admin_variables_diffs_before_sync",
            "admin-checksum_admin_variables",
        ),
        (
            "admin-cluster_ldap_variables_diffs_before_sync",
            "admin-checksum_ldap_variables",
        ),
    ];
    PAIRS
        .iter()
        .find(|(diffs, _)| diffs.eq_ignore_ascii_case(diffs_variable))
        .map(|(_, switch)| *switch)
}

/// The collation `find_charset_name` of ProxySQL picks for `charset` (case-insensitive,
/// `utf8mb3` meaning `utf8`): `preferred` when it belongs to that charset, else the charset's
/// first collation in the compiled table. Returns `(collation, charset)`.
fn charset_by_name(charset: &str, preferred: &str) -> Option<(&'static str, &'static str)> {
    let charset = if charset.eq_ignore_ascii_case("utf8mb3") {
        "utf8"
    } else {
        charset
    };
    let mut matching = crate::proxysql::schema::COLLATIONS
        .iter()
        .filter(|(_, _, cs)| cs.eq_ignore_ascii_case(charset))
        .map(|(_, collation, cs)| (*collation, *cs))
        .peekable();
    let first = *matching.peek()?;
    Some(
        matching
            .find(|(collation, _)| *collation == preferred)
            .unwrap_or(first),
    )
}

/// The compiled collation named `collation` (case-insensitive) as `(collation, charset)`.
fn collation_by_name(collation: &str) -> Option<(&'static str, &'static str)> {
    crate::proxysql::schema::COLLATIONS
        .iter()
        .find(|(_, name, _)| name.eq_ignore_ascii_case(collation))
        .map(|(_, name, cs)| (*name, *cs))
}

/// `mysql-default_charset` and `mysql-default_collation_connection` after a `LOAD MYSQL
/// VARIABLES TO RUNTIME`, as ProxySQL makes them agree (`flush_mysql_variables___database_to_runtime`):
/// an unknown charset is taken from the collation (or both reset to `utf8`/`utf8_general_ci`), an
/// unknown collation from the charset, and when both are known but belong to different charsets
/// the collation wins unless only the charset changed in this load. Values that need no change
/// keep their spelling. Returns `(charset, collation)`; a value that differs from the loaded one
/// is also written back to memory by the caller, as ProxySQL does, so that peers agree on the
/// `mysql_variables` checksum.
pub fn reconcile_default_charset(
    charset: &str,
    collation: &str,
    previous_charset: &str,
    previous_collation: &str,
) -> (String, String) {
    let by_charset = charset_by_name(charset, previous_collation);
    let by_collation = collation_by_name(collation);
    match (by_charset, by_collation) {
        (None, Some((_, cs))) => (cs.to_owned(), collation.to_owned()),
        (None, None) => match charset_by_name("utf8", previous_collation) {
            Some((default_collation, cs)) => (cs.to_owned(), default_collation.to_owned()),
            None => ("utf8".to_owned(), "utf8_general_ci".to_owned()),
        },
        (Some((default_collation, _)), None) => (charset.to_owned(), default_collation.to_owned()),
        (Some((default_collation, cs)), Some((_, collation_cs))) => {
            if cs == collation_cs {
                (charset.to_owned(), collation.to_owned())
            } else if charset != previous_charset && collation == previous_collation {
                (charset.to_owned(), default_collation.to_owned())
            } else {
                (collation_cs.to_owned(), collation.to_owned())
            }
        }
    }
}

/// The `admin-cluster_<module>_diffs_before_sync` variable a deprecated
/// `admin-checksum_<module>` switch overrides (the inverse of [`checksum_switch_for`]).
pub fn diffs_variable_for_switch(switch: &str) -> Option<&'static str> {
    const DIFFS: [&str; 6] = [
        "admin-cluster_mysql_query_rules_diffs_before_sync",
        "admin-cluster_mysql_servers_diffs_before_sync",
        "admin-cluster_mysql_users_diffs_before_sync",
        "admin-cluster_mysql_variables_diffs_before_sync",
        "admin-cluster_admin_variables_diffs_before_sync",
        "admin-cluster_ldap_variables_diffs_before_sync",
    ];
    DIFFS
        .into_iter()
        .find(|diffs| checksum_switch_for(diffs).is_some_and(|s| s.eq_ignore_ascii_case(switch)))
}

/// Where `name` sits in the `global_variables` table of a fresh ProxySQL 2.7.2 (observed:
/// the order its modules register their variables, the ones a config file sets last).
/// Memory order matters: LOAD applies rows in it (see [`checksum_switch_for`]). Unknown names
/// sort last.
pub fn memory_order_rank(name: &str) -> usize {
    MEMORY_ORDER_2_7_2
        .lines()
        .position(|n| n == name)
        .unwrap_or(usize::MAX)
}

/// `global_variables` names of a fresh ProxySQL 2.7.2 in rowid order.
const MEMORY_ORDER_2_7_2: &str = include_str!("variables_memory_order_2_7_2.txt");

/// `(name, value)` rows of the observed node.
fn observed() -> impl Iterator<Item = (&'static str, &'static str)> {
    OBSERVED_2_7_2
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once('\t'))
}

/// How ProxySQL validates and renders one variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Integer within inclusive bounds, rendered in decimal.
    Int(i64, i64),
    /// `admin-stats_*` interval: 0..=max, then rounded up to 0, 1, 5, 10, 30, 60, 120, 300, 600.
    StatsInterval(i64),
    /// `true`/`false`/`1`/`0` in any case, rendered `true`/`false`.
    Bool,
    /// Any text, kept verbatim.
    Any,
    /// Any non-empty text.
    NonEmpty,
    /// Any text; empty is accepted but keeps the current value.
    KeepOnEmpty,
    /// Optional text: empty or `(null)` unsets it, which renders as an empty string.
    Nullable,
    /// Tracked session default: empty or `(null)` restores the given default.
    TrackedDefault(&'static str),
    /// One of the listed values, case-sensitively.
    OneOf(&'static [&'static str]),
    /// `OFF` or `OWN_GTID` in any case, stored upper-case.
    SessionTrackGtids,
    /// Empty, or `db.table` of a pt-heartbeat table.
    PerconaHeartbeat,
    /// Non-empty; `5.1.30` is replaced by `5.5.30` (issue #632).
    ServerVersion,
    /// Unsigned 32-bit integer above 10, rendered as C's `%d` does.
    ServerCapabilities,
    /// A log file name: not a directory, and an absolute path's directory must exist.
    LogFilename,
    /// Empty, `*`, or a comma-separated list of CIDR subnets.
    ProxyProtocolNetworks,
    /// Empty or `(null)` disables the key log; anything else is a file name.
    SslKeylogFile,
    /// Non-empty; fixed once set.
    Interfaces,
    /// 1..=255; fixed once the worker threads run.
    Threads,
    /// Read-only build version.
    Version,
}

fn rule(name: &str) -> Option<Rule> {
    let lower = name.to_ascii_lowercase();
    if let Some(short) = lower.strip_prefix("admin-") {
        admin_rule(short)
    } else if let Some(short) = lower.strip_prefix("mysql-") {
        mysql_rule(short)
    } else {
        None
    }
}

/// `ProxySQL_Admin::set_variable`.
fn admin_rule(name: &str) -> Option<Rule> {
    use Rule::*;
    Some(match name {
        "admin_credentials" | "stats_credentials" | "mysql_ifaces" => NonEmpty,
        "telnet_admin_ifaces" | "telnet_stats_ifaces" => NonEmpty,
        "stats_mysql_connections" | "stats_mysql_connection_pool" | "stats_mysql_query_cache" => {
            StatsInterval(300)
        }
        "stats_system_cpu" | "stats_system_memory" => StatsInterval(600),
        "stats_mysql_query_digest_to_disk" => Int(0, 24 * 3600),
        "refresh_interval" => Int(101, 99_999),
        "read_only" | "vacuum_stats" | "restapi_enabled" | "web_enabled" => Bool,
        "version" => Version,
        "cluster_username" | "cluster_password" => KeepOnEmpty,
        "cluster_check_interval_ms" => Int(10, 300_000),
        "cluster_check_status_frequency" => Int(0, 10_000),
        "cluster_mysql_query_rules_diffs_before_sync"
        | "cluster_mysql_servers_diffs_before_sync"
        | "cluster_mysql_users_diffs_before_sync"
        | "cluster_proxysql_servers_diffs_before_sync"
        | "cluster_mysql_variables_diffs_before_sync"
        | "cluster_admin_variables_diffs_before_sync"
        | "cluster_ldap_variables_diffs_before_sync" => Int(0, 1000),
        "cluster_mysql_query_rules_save_to_disk"
        | "cluster_mysql_servers_save_to_disk"
        | "cluster_mysql_users_save_to_disk"
        | "cluster_proxysql_servers_save_to_disk"
        | "cluster_mysql_variables_save_to_disk"
        | "cluster_admin_variables_save_to_disk"
        | "cluster_ldap_variables_save_to_disk" => Bool,
        "cluster_mysql_servers_sync_algorithm" => Int(1, 3),
        "checksum_mysql_query_rules"
        | "checksum_mysql_servers"
        | "checksum_mysql_users"
        | "checksum_mysql_variables"
        | "checksum_admin_variables"
        | "checksum_ldap_variables" => Bool,
        // ProxySQL checks `> 0 && < 65535`.
        "restapi_port" | "web_port" => Int(1, 65_534),
        "web_verbosity" => Int(0, 10),
        "prometheus_memory_metrics_interval" => Int(1, 7 * 24 * 3600 - 1),
        "coredump_generation_interval_ms" => Int(0, i32::MAX as i64 - 1),
        "coredump_generation_threshold" => Int(1, 500),
        "ssl_keylog_file" => SslKeylogFile,
        _ => return None,
    })
}

/// `MySQL_Threads_Handler::set_variable`: the `VariablesPointers_int` ranges, the boolean
/// table, and the variables validated by hand.
fn mysql_rule(name: &str) -> Option<Rule> {
    use Rule::*;
    Some(match name {
        // The `VariablesPointers_int` table.
        "auditlog_filesize" => Int(1_048_576, 1_073_741_824),
        "aurora_max_lag_ms_only_read_from_replicas" => Int(0, 100),
        "auto_increment_delay_multiplex" => Int(0, 1_000_000),
        "auto_increment_delay_multiplex_timeout_ms" => Int(0, 3_600_000),
        "client_host_cache_size" => Int(0, 1_048_576),
        "client_host_error_counts" => Int(0, 1_048_576),
        "connect_retries_delay" => Int(0, 10_000),
        "connect_retries_on_failure" => Int(0, 1000),
        "connect_timeout_client" => Int(500, 3_600_000),
        "connect_timeout_server" => Int(10, 120_000),
        "connect_timeout_server_max" => Int(10, 3_600_000),
        "connection_delay_multiplex_ms" => Int(0, 300_000),
        "connection_max_age_ms" => Int(0, 86_400_000),
        "connpoll_reset_queue_length" => Int(0, 10_000),
        "default_max_latency_ms" => Int(0, 1_728_000_000),
        "default_query_delay" => Int(0, 3_600_000),
        "default_query_timeout" => Int(1000, 1_728_000_000),
        "evaluate_replication_lag_on_servers_load" => Int(0, 1),
        "eventslog_default_log" => Int(0, 1),
        "eventslog_filesize" => Int(1_048_576, 1_073_741_824),
        "free_connections_pct" => Int(0, 100),
        "handle_unknown_charset" => Int(0, 3),
        "handle_warnings" => Int(0, 1),
        "hostgroup_manager_verbose" => Int(0, 3),
        "long_query_time" => Int(0, 1_728_000_000),
        "max_allowed_packet" => Int(8192, 1_073_741_824),
        "max_connections" => Int(1, 1_000_000),
        "max_stmts_cache" => Int(128, 1_048_576),
        "max_stmts_per_connection" => Int(1, 1024),
        "max_transaction_idle_time" => Int(1000, 1_728_000_000),
        "max_transaction_time" => Int(1000, 1_728_000_000),
        "min_num_servers_lantency_awareness" => Int(0, 10_000),
        "mirror_max_concurrency" => Int(1, 8192),
        "mirror_max_queue_length" => Int(0, 1_048_576),
        "monitor_aws_rds_topology_discovery_interval" => Int(0, 100_000),
        "monitor_connect_interval" => Int(100, 604_800_000),
        "monitor_connect_timeout" => Int(100, 600_000),
        "monitor_galera_healthcheck_interval" => Int(50, 604_800_000),
        "monitor_galera_healthcheck_max_timeout_count" => Int(1, 10),
        "monitor_galera_healthcheck_timeout" => Int(50, 600_000),
        "monitor_groupreplication_healthcheck_interval" => Int(100, 604_800_000),
        "monitor_groupreplication_healthcheck_max_timeout_count" => Int(1, 10),
        "monitor_groupreplication_healthcheck_timeout" => Int(100, 600_000),
        "monitor_groupreplication_max_transactions_behind_count" => Int(1, 10),
        "monitor_groupreplication_max_transactions_behind_for_read_only" => Int(0, 2),
        "monitor_history" => Int(1000, 604_800_000),
        "monitor_local_dns_cache_refresh_interval" => Int(0, 604_800_000),
        "monitor_local_dns_cache_ttl" => Int(0, 604_800_000),
        "monitor_local_dns_resolver_queue_maxsize" => Int(16, 1024),
        "monitor_ping_interval" => Int(100, 604_800_000),
        "monitor_ping_max_failures" => Int(1, 1_000_000),
        "monitor_ping_timeout" => Int(100, 600_000),
        "monitor_query_interval" => Int(100, 604_800_000),
        "monitor_query_timeout" => Int(100, 600_000),
        "monitor_read_only_interval" => Int(100, 604_800_000),
        "monitor_read_only_max_timeout_count" => Int(1, 1_000_000),
        "monitor_read_only_timeout" => Int(100, 600_000),
        "monitor_replication_lag_count" => Int(1, 10),
        "monitor_replication_lag_interval" => Int(100, 604_800_000),
        "monitor_replication_lag_timeout" => Int(100, 600_000),
        "monitor_slave_lag_when_null" => Int(0, 604_800),
        "monitor_threads_max" => Int(4, 1024),
        "monitor_threads_min" => Int(2, 256),
        "monitor_threads_queue_maxsize" => Int(16, 1024),
        "ping_interval_server_msec" => Int(1000, 604_800_000),
        "ping_timeout_server" => Int(10, 600_000),
        "poll_timeout" => Int(10, 20_000),
        "poll_timeout_on_failure" => Int(10, 20_000),
        "query_cache_handle_warnings" => Int(0, 1),
        "query_cache_size_mb" => Int(0, 10_485_760),
        "query_cache_soft_ttl_pct" => Int(0, 100),
        "query_digests_grouping_limit" => Int(1, 2089),
        "query_digests_groups_grouping_limit" => Int(0, 2089),
        "query_digests_max_digest_length" => Int(16, 1_048_576),
        "query_digests_max_query_length" => Int(16, 1_048_576),
        "query_processor_iterations" => Int(0, 1_000_000),
        "query_processor_regex" => Int(1, 2),
        "query_retries_on_failure" => Int(0, 1000),
        "query_rules_fast_routing_algorithm" => Int(1, 2),
        "reset_connection_algorithm" => Int(1, 2),
        "session_idle_ms" => Int(1, 3_600_000),
        "set_parser_algorithm" => Int(1, 2),
        "set_query_lock_on_hostgroup" => Int(0, 1),
        "show_processlist_extended" => Int(0, 2),
        "shun_on_failures" => Int(0, 10_000_000),
        "shun_recovery_time_sec" => Int(0, 31_536_000),
        "tcp_keepalive_time" => Int(0, 7200),
        "threshold_query_length" => Int(1024, 1_073_741_824),
        "threshold_resultset_size" => Int(1024, 1_073_741_824),
        "throttle_connections_per_sec_to_hostgroup" => Int(1, 100_000_000),
        "throttle_max_bytes_per_second_to_client" => Int(0, 2_147_483_647),
        "throttle_ratio_server_to_client" => Int(0, 100),
        "unshun_algorithm" => Int(0, 1),
        // Integers validated outside the table.
        "binlog_reader_connect_retry_msec" => Int(200, 120_000),
        "eventslog_format" => Int(1, 2),
        "wait_timeout" => Int(0, 20 * 24 * 3600 * 1000),
        "data_packets_history_size" => Int(0, i32::MAX as i64 - 1),
        "stacksize" => Int(256 * 1024, 4 * 1024 * 1024),
        "server_capabilities" => ServerCapabilities,
        "threads" => Threads,
        "autocommit_false_is_transaction"
        | "autocommit_false_not_reusable"
        | "automatic_detect_sqli"
        | "client_session_track_gtid"
        | "commands_stats"
        | "connection_warming"
        | "default_reconnect"
        | "enable_client_deprecate_eof"
        | "enable_load_data_local_infile"
        | "enable_server_deprecate_eof"
        | "enforce_autocommit_on_reads"
        | "firewall_whitelist_enabled"
        | "have_compress"
        | "have_ssl"
        | "kill_backend_connection_when_disconnect"
        | "log_mysql_warnings_enabled"
        | "log_unhealthy_connections"
        | "monitor_enabled"
        | "monitor_replication_lag_group_by_host"
        | "monitor_wait_timeout"
        | "monitor_writer_is_also_reader"
        | "multiplexing"
        | "parse_failure_logs_digest"
        | "query_cache_stores_empty_result"
        | "query_digests"
        | "query_digests_keep_comment"
        | "query_digests_lowercase"
        | "query_digests_no_digits"
        | "query_digests_normalize_digest_text"
        | "query_digests_replace_null"
        | "query_digests_track_hostname"
        | "servers_stats"
        | "session_idle_show_processlist"
        | "sessions_sort"
        | "stats_time_backend_query"
        | "stats_time_query_processor"
        | "use_tcp_keepalive"
        | "verbose_query_error" => Bool,
        "monitor_username" | "default_schema" | "keep_multiplexing_variables" => NonEmpty,
        "monitor_password" => Any,
        "monitor_replication_lag_use_percona_heartbeat" => PerconaHeartbeat,
        "interfaces" => Interfaces,
        "server_version" => ServerVersion,
        "init_connect"
        | "firewall_whitelist_errormsg"
        | "ldap_user_variable"
        | "add_ldap_user_comment"
        | "ssl_p2s_ca"
        | "ssl_p2s_capath"
        | "ssl_p2s_cert"
        | "ssl_p2s_key"
        | "ssl_p2s_cipher"
        | "ssl_p2s_crl"
        | "ssl_p2s_crlpath" => Nullable,
        "default_session_track_gtids" => SessionTrackGtids,
        "default_charset" => TrackedDefault("utf8"),
        "default_collation_connection" => TrackedDefault("utf8_general_ci"),
        "default_authentication_plugin" => {
            OneOf(&["mysql_native_password", "caching_sha2_password"])
        }
        "proxy_protocol_networks" => ProxyProtocolNetworks,
        "auditlog_filename" | "eventslog_filename" => LogFilename,
        _ => return None,
    })
}

fn check(name: &str, value: &str, current: Option<&str>) -> Result<String, VarError> {
    let Some(rule) = rule(name) else {
        return Ok(value.to_owned());
    };
    let invalid = |reason: String| VarError::Invalid {
        name: name.to_owned(),
        value: value.to_owned(),
        reason,
    };
    match rule {
        Rule::Int(min, max) => match parse_int(value) {
            Some(n) if (min..=max).contains(&n) => Ok(n.to_string()),
            _ => Err(invalid(format!("an integer between {min} and {max}"))),
        },
        Rule::StatsInterval(max) => match parse_int(value) {
            Some(n) if (0..=max).contains(&n) => Ok(round_stats_interval(n).to_string()),
            _ => Err(invalid(format!(
                "an integer between 0 and {max} (rounded to 0, 1, 5, 10, 30, 60, 120, 300, 600)"
            ))),
        },
        Rule::Bool => parse_bool(value)
            .map(|b| b.to_string())
            .ok_or_else(|| invalid("true, false, 1 or 0".into())),
        Rule::Any => Ok(value.to_owned()),
        Rule::NonEmpty => non_empty(value).ok_or_else(|| invalid("a non-empty value".into())),
        Rule::KeepOnEmpty => Ok(match (value, current) {
            ("", Some(current)) => current.to_owned(),
            _ => value.to_owned(),
        }),
        Rule::Nullable => Ok(if value == "(null)" { "" } else { value }.to_owned()),
        Rule::TrackedDefault(default) => Ok(match value {
            "" | "(null)" => default,
            _ => value,
        }
        .to_owned()),
        Rule::OneOf(choices) => choices
            .iter()
            .find(|c| **c == value)
            .map(|c| (*c).to_owned())
            .ok_or_else(|| invalid(format!("one of {}", choices.join(", ")))),
        Rule::SessionTrackGtids => ["OFF", "OWN_GTID"]
            .into_iter()
            .find(|c| c.eq_ignore_ascii_case(value))
            .map(str::to_owned)
            .ok_or_else(|| invalid("OFF or OWN_GTID".into())),
        Rule::PerconaHeartbeat => {
            if value.is_empty() || is_heartbeat_table(value) {
                Ok(value.to_owned())
            } else {
                Err(invalid("empty, or db.table of a pt-heartbeat table".into()))
            }
        }
        Rule::ServerVersion => match value {
            "" => Err(invalid("a non-empty version".into())),
            "5.1.30" => Ok("5.5.30".into()),
            _ => Ok(value.to_owned()),
        },
        Rule::ServerCapabilities => match value.trim().parse::<u32>() {
            // ProxySQL prints the unsigned value with "%d".
            Ok(caps) if caps > 10 => Ok((caps as i32).to_string()),
            _ => Err(invalid("an unsigned 32-bit integer greater than 10".into())),
        },
        Rule::LogFilename => check_log_filename(value).map_err(|r| invalid(r.into())),
        Rule::ProxyProtocolNetworks => {
            if value.is_empty() || value == "*" || is_subnet_list(value) {
                Ok(value.to_owned())
            } else if let Some(current) = current {
                // ProxySQL reports success but keeps the previous list.
                Ok(current.to_owned())
            } else {
                Err(invalid(
                    "empty, * or a comma-separated list of CIDR subnets".into(),
                ))
            }
        }
        Rule::SslKeylogFile => Ok(if value == "(null)" { "" } else { value }.to_owned()),
        Rule::Interfaces => match current {
            _ if value.is_empty() => Err(invalid("a non-empty list of interfaces".into())),
            Some(current) if !current.is_empty() && current != value => Err(invalid(format!(
                "the current value {current:?}: interfaces cannot change at runtime"
            ))),
            _ => Ok(value.to_owned()),
        },
        Rule::Threads => {
            let running = current.and_then(parse_int);
            match parse_int(value) {
                Some(n) if (1..=255).contains(&n) && running.is_none_or(|r| r == n) => {
                    Ok(n.to_string())
                }
                Some(n) if (1..=255).contains(&n) => Err(invalid(
                    "the current thread count: threads cannot change at runtime".into(),
                )),
                _ => Err(invalid("an integer between 1 and 255".into())),
            }
        }
        Rule::Version => {
            let running = current.unwrap_or(DEFAULT_VERSION);
            if value.eq_ignore_ascii_case(running) {
                Ok(running.to_owned())
            } else {
                Err(VarError::ReadOnly {
                    name: name.to_owned(),
                    value: value.to_owned(),
                })
            }
        }
    }
}

/// A decimal integer, optionally signed and surrounded by whitespace.
fn parse_int(value: &str) -> Option<i64> {
    value.trim().parse().ok()
}

fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") || value == "1" {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") || value == "0" {
        Some(false)
    } else {
        None
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// `round_intv_to_time_interval`: up to the next supported sampling interval.
fn round_stats_interval(n: i64) -> i64 {
    const STEPS: [i64; 8] = [1, 5, 10, 30, 60, 120, 300, 600];
    if n <= 0 {
        return n;
    }
    STEPS.into_iter().find(|&step| n <= step).unwrap_or(600)
}

/// The pt-heartbeat table pattern ProxySQL enforces: `` `?([a-z\d_]+)`?\.`?([a-z\d_]+)`? ``,
/// case-insensitive, matching the whole value.
fn is_heartbeat_table(value: &str) -> bool {
    fn ident(part: &str) -> bool {
        let part = part.strip_prefix('`').unwrap_or(part);
        let part = part.strip_suffix('`').unwrap_or(part);
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }
    value
        .split_once('.')
        .is_some_and(|(db, table)| ident(db) && ident(table))
}

/// `ProxyProtocolInfo::is_valid_subnet_list`: comma-separated `address/mask` items (empty items
/// skipped, as `strtok` does), IPv6 when the item has a colon, mask at most 128.
fn is_subnet_list(value: &str) -> bool {
    let mut items = value.split(',').filter(|item| !item.is_empty()).peekable();
    items.peek().is_some()
        && items.all(|item| {
            let Some((addr, mask)) = item.split_once('/') else {
                return false;
            };
            let mask_ok = mask.parse::<u8>().is_ok_and(|m| m <= 128);
            let addr_ok = if addr.contains(':') {
                addr.parse::<core::net::Ipv6Addr>().is_ok()
            } else {
                addr.parse::<core::net::Ipv4Addr>().is_ok()
            };
            mask_ok && addr_ok
        })
}

/// `auditlog_filename`/`eventslog_filename`: a bare directory is refused, and an absolute
/// path's directory must exist (one `stat`, as ProxySQL's `opendir`).
fn check_log_filename(value: &str) -> Result<String, &'static str> {
    if value.ends_with('/') {
        return Err("a file name, not a directory");
    }
    if value.starts_with('/') {
        let dir = Path::new(value).parent().unwrap_or(Path::new("/"));
        if !dir.is_dir() {
            return Err("a file name in an existing directory");
        }
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str, value: &str) -> String {
        validate(name, value).unwrap_or_else(|e| panic!("{name}={value:?}: {e}"))
    }

    fn refused(name: &str, value: &str) -> bool {
        validate(name, value).is_err()
    }

    /// Checks both bounds of an integer variable and the values just outside them.
    fn assert_int_range(name: &str, min: i64, max: i64) {
        assert_eq!(ok(name, &min.to_string()), min.to_string(), "{name} min");
        assert_eq!(ok(name, &max.to_string()), max.to_string(), "{name} max");
        assert!(refused(name, &(min - 1).to_string()), "{name} below min");
        assert!(refused(name, &(max + 1).to_string()), "{name} above max");
        assert!(refused(name, "abc"), "{name} non-numeric");
    }

    #[test]
    fn defaults_are_the_observed_set_with_build_defaults() {
        let all = defaults(DEFAULT_VERSION);
        assert_eq!(all.len(), 212);
        assert_eq!(
            all.iter().filter(|(n, _)| n.starts_with("admin-")).count(),
            49
        );
        assert_eq!(
            all.iter().filter(|(n, _)| n.starts_with("mysql-")).count(),
            163
        );
        assert!(
            all.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no duplicates"
        );

        let get = |name: &str| {
            all.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        // Values the observed node's config file changed come back as build defaults.
        assert_eq!(get("admin-admin_credentials"), "admin:admin");
        assert_eq!(get("admin-mysql_ifaces"), "0.0.0.0:6032");
        assert_eq!(get("mysql-interfaces"), "0.0.0.0:6033");
        assert_eq!(get("mysql-threads"), "4");
        assert_eq!(get("admin-version"), DEFAULT_VERSION);
        // Samples straight from the TSV.
        assert_eq!(get("admin-cluster_check_interval_ms"), "1000");
        assert_eq!(get("admin-cluster_mysql_servers_sync_algorithm"), "1");
        assert_eq!(get("admin-cluster_username"), "");
        assert_eq!(get("admin-telnet_admin_ifaces"), "(null)");
        assert_eq!(get("admin-stats_credentials"), "stats:stats");
        assert_eq!(get("mysql-monitor_ping_interval"), "8000");
        assert_eq!(get("mysql-server_version"), "8.0.11");
        assert_eq!(get("mysql-server_capabilities"), "569867");
        assert_eq!(
            get("mysql-firewall_whitelist_errormsg"),
            "Firewall blocked this query"
        );
        assert_eq!(
            get("mysql-keep_multiplexing_variables"),
            "tx_isolation,transaction_isolation,version"
        );
        assert_eq!(get("mysql-query_cache_size_MB"), "256");

        // Every other value is the TSV's, untouched.
        let overridden = ["admin-mysql_ifaces", "mysql-interfaces", "mysql-threads"];
        for (name, value) in observed().filter(|(n, _)| !overridden.contains(n)) {
            assert_eq!(get(name), value, "{name}");
        }
    }

    #[test]
    fn version_is_configurable() {
        let all = defaults("2.7.2-99-gdeadbee");
        let version = all.iter().find(|(n, _)| *n == "admin-version");
        assert_eq!(version.map(|(_, v)| v.as_str()), Some("2.7.2-99-gdeadbee"));
        assert_eq!(
            default_value("admin-version").as_deref(),
            Some(DEFAULT_VERSION)
        );
        assert_eq!(default_value("MYSQL-Threads").as_deref(), Some("4"));
        assert_eq!(default_value("mysql-nope"), None);
    }

    #[test]
    fn every_default_validates_to_itself() {
        for (name, value) in defaults(DEFAULT_VERSION) {
            assert!(rule(name).is_some(), "{name} has no validation rule");
            assert_eq!(
                validate(name, &value).as_deref(),
                Ok(value.as_str()),
                "{name}"
            );
            assert_eq!(
                validate_update(name, &value, &value).as_deref(),
                Ok(value.as_str()),
                "{name} (running)"
            );
        }
    }

    #[test]
    fn unknown_names_pass_through() {
        for name in [
            "mysql-no_such_variable",
            "admin-debug",
            "admin-hash_passwords",
            "mysql-session_debug",
            "mysql-forward_autocommit",
            "ldap-anything",
            "plain",
        ] {
            assert!(!is_known(name), "{name}");
            assert!(rule(name).is_none(), "{name}");
            assert_eq!(validate(name, "x y z").as_deref(), Ok("x y z"));
        }
        assert!(is_known("admin-version"));
        assert!(is_known("ADMIN-Cluster_Username"));
    }

    #[test]
    fn default_charset_and_collation_agree_as_on_proxysql() {
        let r = |cs: &str, co: &str, pcs: &str, pco: &str| {
            let (a, b) = reconcile_default_charset(cs, co, pcs, pco);
            format!("{a}/{b}")
        };
        // Observed on ProxySQL 2.7.2 (tests/conformance.rs checks the same against the binary).
        assert_eq!(
            r("utf8mb4", "utf8_general_ci", "utf8", "utf8_general_ci"),
            "utf8mb4/utf8mb4_general_ci"
        );
        assert_eq!(
            r(
                "latin1",
                "utf8mb4_general_ci",
                "utf8mb4",
                "utf8mb4_general_ci"
            ),
            "latin1/latin1_swedish_ci"
        );
        assert_eq!(
            r(
                "latin1",
                "utf8mb4_unicode_ci",
                "latin1",
                "latin1_swedish_ci"
            ),
            "utf8mb4/utf8mb4_unicode_ci"
        );
        assert_eq!(
            r(
                "utf8mb4",
                "utf8mb4_unicode_ci",
                "utf8mb4",
                "utf8mb4_unicode_ci"
            ),
            "utf8mb4/utf8mb4_unicode_ci"
        );
        assert_eq!(
            r("latin1", "utf8mb4_bin", "utf8mb4", "utf8mb4_unicode_ci"),
            "utf8mb4/utf8mb4_bin"
        );
        assert_eq!(
            r("UTF8MB4", "latin1_bin", "latin1", "latin1_bin"),
            "UTF8MB4/utf8mb4_general_ci"
        );
        assert_eq!(
            r("utf8mb3", "UTF8_GENERAL_CI", "utf8", "UTF8_GENERAL_CI"),
            "utf8mb3/UTF8_GENERAL_CI"
        );
        assert_eq!(
            r("binary", "utf8_general_ci", "utf8", "utf8_general_ci"),
            "binary/binary"
        );
        // Unknown names: the other one decides, or both fall back to utf8.
        assert_eq!(r("nosuch", "utf8_bin", "utf8", "utf8_bin"), "utf8/utf8_bin");
        assert_eq!(r("utf8", "nosuch", "utf8", "utf8_bin"), "utf8/utf8_bin");
        assert_eq!(r("nosuch", "nosuch", "utf8", "utf8_bin"), "utf8/utf8_bin");
        assert_eq!(
            r("nosuch", "nosuch", "latin1", "latin1_bin"),
            "utf8/utf8_general_ci"
        );
    }

    #[test]
    fn admin_cluster_ranges() {
        assert_int_range("admin-cluster_check_interval_ms", 10, 300_000);
        assert_int_range("admin-cluster_check_status_frequency", 0, 10_000);
        assert_int_range("admin-cluster_mysql_servers_sync_algorithm", 1, 3);
        for module in [
            "mysql_query_rules",
            "mysql_servers",
            "mysql_users",
            "proxysql_servers",
            "mysql_variables",
            "admin_variables",
            "ldap_variables",
        ] {
            assert_int_range(
                &format!("admin-cluster_{module}_diffs_before_sync"),
                0,
                1000,
            );
            let save = format!("admin-cluster_{module}_save_to_disk");
            assert_eq!(ok(&save, "0"), "false");
            assert_eq!(ok(&save, "TRUE"), "true");
            assert!(refused(&save, "yes"));
        }
        for checksum in [
            "mysql_query_rules",
            "mysql_servers",
            "mysql_users",
            "mysql_variables",
            "admin_variables",
            "ldap_variables",
        ] {
            assert_eq!(ok(&format!("admin-checksum_{checksum}"), "False"), "false");
        }
    }

    #[test]
    fn other_admin_rules() {
        assert_int_range("admin-refresh_interval", 101, 99_999);
        assert_int_range("admin-restapi_port", 1, 65_534);
        assert_int_range("admin-web_port", 1, 65_534);
        assert_int_range("admin-web_verbosity", 0, 10);
        assert_int_range("admin-prometheus_memory_metrics_interval", 1, 604_799);
        assert_int_range("admin-coredump_generation_threshold", 1, 500);
        assert_int_range("admin-stats_mysql_query_digest_to_disk", 0, 86_400);
        for name in [
            "admin-admin_credentials",
            "admin-mysql_ifaces",
            "admin-telnet_stats_ifaces",
        ] {
            assert!(refused(name, ""), "{name}");
        }
        assert_eq!(ok("admin-ssl_keylog_file", "(null)"), "");
    }

    #[test]
    fn stats_intervals_round_up() {
        let name = "admin-stats_mysql_connections";
        for (input, rendered) in [
            ("0", "0"),
            ("1", "1"),
            ("2", "5"),
            ("6", "10"),
            ("11", "30"),
            ("45", "60"),
            ("61", "120"),
            ("121", "300"),
            ("300", "300"),
        ] {
            assert_eq!(ok(name, input), rendered, "{input}");
        }
        assert!(refused(name, "301"));
        assert!(refused(name, "-1"));
        assert_eq!(ok("admin-stats_system_cpu", "301"), "600");
        assert_eq!(ok("admin-stats_system_memory", "600"), "600");
        assert!(refused("admin-stats_system_memory", "601"));
    }

    #[test]
    fn booleans_normalise() {
        for name in ["admin-read_only", "mysql-monitor_enabled", "mysql-have_ssl"] {
            for (input, rendered) in [
                ("true", "true"),
                ("TRUE", "true"),
                ("1", "true"),
                ("false", "false"),
                ("False", "false"),
                ("0", "false"),
            ] {
                assert_eq!(ok(name, input), rendered, "{name}={input}");
            }
            for bad in ["", "yes", "on", "2", " true"] {
                assert!(refused(name, bad), "{name}={bad:?}");
            }
        }
    }

    #[test]
    fn integers_are_strict_and_normalised() {
        let name = "admin-cluster_check_interval_ms";
        let err = validate(name, "abc").expect_err("non-numeric");
        assert_eq!(
            err.to_string(),
            "Impossible to set variable admin-cluster_check_interval_ms with value \"abc\""
        );
        assert_eq!(err.reason(), "an integer between 10 and 300000");
        for bad in ["", "12abc", "1.5", "1e3", "0x10", "99999999999999999999"] {
            assert!(refused(name, bad), "{bad:?}");
        }
        assert_eq!(ok(name, " +0500 "), "500");
        // Zero is inside this range, yet text is still not a number.
        assert!(refused("admin-cluster_check_status_frequency", "abc"));
    }

    #[test]
    fn monitor_and_shunning_ranges() {
        for (name, min, max) in [
            ("mysql-monitor_connect_interval", 100, 604_800_000),
            ("mysql-monitor_connect_timeout", 100, 600_000),
            ("mysql-monitor_ping_interval", 100, 604_800_000),
            ("mysql-monitor_ping_timeout", 100, 600_000),
            ("mysql-monitor_ping_max_failures", 1, 1_000_000),
            ("mysql-monitor_read_only_interval", 100, 604_800_000),
            ("mysql-monitor_read_only_timeout", 100, 600_000),
            ("mysql-monitor_read_only_max_timeout_count", 1, 1_000_000),
            ("mysql-monitor_replication_lag_interval", 100, 604_800_000),
            ("mysql-monitor_replication_lag_timeout", 100, 600_000),
            ("mysql-monitor_replication_lag_count", 1, 10),
            ("mysql-monitor_slave_lag_when_null", 0, 604_800),
            (
                "mysql-monitor_groupreplication_max_transactions_behind_count",
                1,
                10,
            ),
            (
                "mysql-monitor_groupreplication_max_transactions_behind_for_read_only",
                0,
                2,
            ),
            ("mysql-monitor_galera_healthcheck_interval", 50, 604_800_000),
            ("mysql-monitor_history", 1000, 604_800_000),
            ("mysql-shun_on_failures", 0, 10_000_000),
            ("mysql-shun_recovery_time_sec", 0, 31_536_000),
            ("mysql-unshun_algorithm", 0, 1),
            ("mysql-connect_timeout_server", 10, 120_000),
            ("mysql-max_connections", 1, 1_000_000),
            ("mysql-handle_unknown_charset", 0, 3),
            ("mysql-wait_timeout", 0, 1_728_000_000),
            ("mysql-eventslog_format", 1, 2),
            ("mysql-binlog_reader_connect_retry_msec", 200, 120_000),
            ("mysql-stacksize", 262_144, 4_194_304),
        ] {
            assert_int_range(name, min, max);
        }
        // The table is keyed in lower case; the variable is spelled with capitals.
        assert_int_range("mysql-query_cache_size_MB", 0, 10_485_760);
    }

    #[test]
    fn mysql_string_rules() {
        assert_eq!(
            ok("mysql-default_session_track_gtids", "own_gtid"),
            "OWN_GTID"
        );
        assert!(refused("mysql-default_session_track_gtids", "ON"));
        assert_eq!(
            ok(
                "mysql-default_authentication_plugin",
                "caching_sha2_password"
            ),
            "caching_sha2_password"
        );
        assert!(refused(
            "mysql-default_authentication_plugin",
            "MYSQL_NATIVE_PASSWORD"
        ));
        assert_eq!(ok("mysql-server_version", "5.1.30"), "5.5.30");
        assert_eq!(ok("mysql-server_version", "8.0.36"), "8.0.36");
        assert!(refused("mysql-server_version", ""));
        assert_eq!(ok("mysql-default_charset", ""), "utf8");
        assert_eq!(
            ok("mysql-default_collation_connection", "(null)"),
            "utf8_general_ci"
        );
        assert_eq!(ok("mysql-init_connect", "(null)"), "");
        assert_eq!(ok("mysql-init_connect", "SET x=1"), "SET x=1");
        assert!(refused("mysql-monitor_username", ""));
        assert_eq!(ok("mysql-monitor_password", ""), "");
        assert!(refused("mysql-default_schema", ""));
        assert!(refused("mysql-keep_multiplexing_variables", ""));
        assert_eq!(ok("mysql-server_capabilities", "4294967295"), "-1");
        assert!(refused("mysql-server_capabilities", "10"));
        assert!(refused("mysql-server_capabilities", "-5"));
    }

    #[test]
    fn percona_heartbeat_table() {
        let name = "mysql-monitor_replication_lag_use_percona_heartbeat";
        for good in ["", "percona.heartbeat", "`db`.`hb_1`", "DB.Heart_Beat"] {
            assert_eq!(ok(name, good), good);
        }
        for bad in ["heartbeat", "a.b.c", "db.", "`db`.`t-1`", "db . t"] {
            assert!(refused(name, bad), "{bad:?}");
        }
    }

    #[test]
    fn proxy_protocol_networks() {
        let name = "mysql-proxy_protocol_networks";
        for good in [
            "",
            "*",
            "10.0.0.0/8",
            "10.0.0.0/8,,192.168.1.0/24",
            "fd00::/64",
        ] {
            assert_eq!(ok(name, good), good);
        }
        for bad in ["10.0.0.0", "10.0.0.0/129", "nothost/8", ","] {
            assert!(refused(name, bad), "{bad:?}");
        }
        // A running node accepts an invalid list silently and keeps the old one.
        assert_eq!(
            validate_update(name, "garbage", "10.0.0.0/8").as_deref(),
            Ok("10.0.0.0/8")
        );
    }

    #[test]
    fn log_filenames() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inside = dir.path().join("events.log");
        let inside = inside.to_str().expect("utf-8 path");
        let missing = dir.path().join("missing").join("events.log");
        let missing = missing.to_str().expect("utf-8 path");
        for name in ["mysql-eventslog_filename", "mysql-auditlog_filename"] {
            assert_eq!(ok(name, ""), "");
            assert_eq!(ok(name, "relative.log"), "relative.log");
            assert_eq!(ok(name, inside), inside);
            assert!(refused(name, missing), "{name}");
            assert!(refused(name, "logs/"), "{name}");
        }
    }

    #[test]
    fn stateful_rules_of_a_running_node() {
        // admin-version is read-only.
        assert_eq!(
            ok("admin-version", &DEFAULT_VERSION.to_uppercase()),
            DEFAULT_VERSION
        );
        let err = validate("admin-version", "2.7.1").expect_err("read-only");
        assert_eq!(
            err.to_string(),
            "Impossible to set read-only variable admin-version with value \"2.7.1\""
        );
        assert_eq!(
            validate_update("admin-version", "2.7.2-custom", "2.7.2-custom").as_deref(),
            Ok("2.7.2-custom")
        );
        assert!(validate_update("admin-version", DEFAULT_VERSION, "2.7.2-custom").is_err());

        // Clearing the cluster credentials is ignored.
        assert_eq!(ok("admin-cluster_username", ""), "");
        assert_eq!(
            validate_update("admin-cluster_username", "", "cluster1").as_deref(),
            Ok("cluster1")
        );
        assert_eq!(
            validate_update("admin-cluster_password", "new", "old").as_deref(),
            Ok("new")
        );

        // mysql-interfaces and mysql-threads are fixed once running.
        assert_eq!(ok("mysql-interfaces", "127.0.0.1:3306"), "127.0.0.1:3306");
        assert!(refused("mysql-interfaces", ""));
        assert!(validate_update("mysql-interfaces", "0.0.0.0:7000", "0.0.0.0:6033").is_err());
        assert_eq!(
            validate_update("mysql-interfaces", "0.0.0.0:7000", "").as_deref(),
            Ok("0.0.0.0:7000")
        );
        assert_int_range("mysql-threads", 1, 255);
        assert!(validate_update("mysql-threads", "8", "4").is_err());
        assert_eq!(
            validate_update("mysql-threads", "4", "4").as_deref(),
            Ok("4")
        );
    }

    #[test]
    fn checksum_exclusions() {
        let names: Vec<&str> = defaults(DEFAULT_VERSION)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let excluded = |csi| names.iter().filter(|n| checksum_excluded(n, csi)).count();
        assert_eq!(excluded(false), 7);
        assert_eq!(excluded(true), 1);
        assert!(checksum_excluded("mysql-threads", true));
        assert!(checksum_excluded("admin-web_port", false));
        assert!(!checksum_excluded("admin-web_port", true));
        assert!(checksum_excluded("mysql-interfaces", false));
        assert!(!checksum_excluded("admin-cluster_username", false));
        assert!(!checksum_excluded("admin-web_enabled", false));
    }

    #[test]
    fn checksum_switches() {
        assert_eq!(
            checksum_switch_for("admin-cluster_mysql_servers_diffs_before_sync"),
            Some("admin-checksum_mysql_servers")
        );
        assert_eq!(
            checksum_switch_for("admin-cluster_proxysql_servers_diffs_before_sync"),
            None
        );
        for module in ["query_rules", "servers", "users", "variables"] {
            let switch =
                checksum_switch_for(&format!("admin-cluster_mysql_{module}_diffs_before_sync"));
            assert!(switch.is_some_and(is_known), "{module}");
        }
    }
}
