//! Column lists of ProxySQL's configuration tables, in the order ProxySQL selects them to
//! compute a module checksum (§5.3) and to answer a peer's pull (§6.6). The node, its peers
//! and the client all use these lists, so they are written once, here.

/// Columns of the query rules snapshot (§5.3 R, §6.6 fetch).
pub const QUERY_RULES_COLUMNS: &str = "rule_id, username, schemaname, flagIN, client_addr, proxy_addr, proxy_port, digest, match_digest, match_pattern, negate_match_pattern, re_modifiers, flagOUT, replace_pattern, destination_hostgroup, cache_ttl, cache_empty_result, cache_timeout, reconnect, timeout, retries, delay, next_query_flagIN, mirror_flagOUT, mirror_hostgroup, error_msg, ok_msg, sticky_conn, multiplex, gtid_from_hostgroup, log, apply, attributes, comment";
/// Columns of the fast routing snapshot.
pub const FAST_ROUTING_COLUMNS: &str =
    "username, schemaname, flagIN, destination_hostgroup, comment";
/// Columns of the users snapshot (§5.3).
pub const USERS_COLUMNS: &str = "username, password, use_ssl, default_hostgroup, default_schema, schema_locked, transaction_persistent, fast_forward, backend, frontend, max_connections, attributes, comment";
/// Columns of the servers snapshots (runtime and v2).
pub const SERVERS_COLUMNS: &str = "hostgroup_id, hostname, port, gtid_port, status, weight, compression, max_connections, max_replication_lag, use_ssl, max_latency_ms, comment";

/// The six hostgroup tables that travel with `mysql_servers_v2`, in checksum order, with the
/// ORDER BY key ProxySQL uses.
/// `stats_proxysql_servers_checksums`: what a node remembers of each peer's modules (§6.9).
pub const PEER_CHECKSUMS_COLUMNS: [&str; 9] = [
    "hostname",
    "port",
    "name",
    "version",
    "epoch",
    "checksum",
    "changed_at",
    "updated_at",
    "diff_check",
];

/// Columns of `stats_mysql_errors` and `stats_mysql_errors_reset`, in ProxySQL's order.
pub const MYSQL_ERRORS_COLUMNS: [&str; 11] = [
    "hostgroup",
    "hostname",
    "port",
    "username",
    "client_address",
    "schemaname",
    "errno",
    "count_star",
    "first_seen",
    "last_seen",
    "last_error",
];

/// `stats_proxysql_servers_metrics`: peer liveness and counters (§3.2).
pub const PEER_METRICS_COLUMNS: [&str; 10] = [
    "hostname",
    "port",
    "weight",
    "comment",
    "response_time_ms",
    "Uptime_s",
    "last_check_ms",
    "Queries",
    "Client_Connections_connected",
    "Client_Connections_created",
];

pub const HOSTGROUP_TABLES: [(&str, &str); 6] = [
    ("mysql_replication_hostgroups", "writer_hostgroup"),
    ("mysql_group_replication_hostgroups", "writer_hostgroup"),
    ("mysql_galera_hostgroups", "writer_hostgroup"),
    ("mysql_aws_aurora_hostgroups", "writer_hostgroup"),
    ("mysql_hostgroup_attributes", "hostgroup_id"),
    ("mysql_servers_ssl_params", "hostname, port, username"),
];
