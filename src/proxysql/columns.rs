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

/// `stats_mysql_processlist`: the columns the console's processlist reads (of 16).
pub const PROCESSLIST_COLUMNS: [&str; 11] = [
    "SessionID",
    "user",
    "db",
    "cli_host",
    "cli_port",
    "hostgroup",
    "srv_host",
    "srv_port",
    "command",
    "time_ms",
    "info",
];

/// `stats_mysql_query_digest`: the columns the console's digest view reads (of 14).
pub const QUERY_DIGEST_COLUMNS: [&str; 13] = [
    "hostgroup",
    "schemaname",
    "username",
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
];

/// `stats_mysql_connection_pool`: the columns the console's hostgroup view reads (of 14).
pub const CONNECTION_POOL_STATS_COLUMNS: [&str; 12] = [
    "hostgroup",
    "srv_host",
    "srv_port",
    "status",
    "ConnUsed",
    "ConnFree",
    "ConnOK",
    "ConnERR",
    "Queries",
    "Bytes_data_sent",
    "Bytes_data_recv",
    "Latency_us",
];

/// `stats_mysql_commands_counters`: every column, the latency buckets in ProxySQL's order.
pub const COMMANDS_COUNTERS_COLUMNS: [&str; 15] = [
    "Command",
    "Total_Time_us",
    "Total_cnt",
    "cnt_100us",
    "cnt_500us",
    "cnt_1ms",
    "cnt_5ms",
    "cnt_10ms",
    "cnt_50ms",
    "cnt_100ms",
    "cnt_500ms",
    "cnt_1s",
    "cnt_5s",
    "cnt_10s",
    "cnt_INFs",
];
