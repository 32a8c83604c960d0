//! Every admin query pxadm writes itself, in one place: what the console, the shell, the batch
//! mode, the demo and the drill send to a node's admin interface (real ProxySQL 2.7 or
//! `pxadm node`). SQL an operator types in the shell or the palette is not here; nor are the
//! queries of the node's own peer client (`node::cluster`), a different layer.
//!
//! Each query is named for what it asks. Where pxadm also interprets the answer, the parser
//! lives next to the query ([`parse_runtime_checksums`]), so a table is read one way only.

use crate::proxysql::cluster::state::{ChecksumRow, Module as ClusterModule, RowError};
use crate::proxysql::resultset::ResultSet;
use crate::proxysql::statement::ConfigModule;

// --- Identity and the node's own state -------------------------------------------------

/// The server version: the identity query of every poll and of the shell's banner (§1.7.1).
pub const SERVER_VERSION: &str = "SELECT @@version";

/// The session's database, user and server version, for the shell's `\s`: the mysql client's
/// own questions, one per statement, because ProxySQL's admin answers each only alone.
pub const SESSION_STATUS: [&str; 3] = ["SELECT DATABASE()", "SELECT USER()", SERVER_VERSION];

/// The node's own module states, `runtime_checksums_values` (§5.6); read it with
/// [`parse_runtime_checksums`].
pub const RUNTIME_CHECKSUMS: &str =
    "SELECT name, version, epoch, checksum FROM runtime_checksums_values ORDER BY name";

/// The rows of an answer to [`RUNTIME_CHECKSUMS`]: the one way pxadm reads that table.
pub fn parse_runtime_checksums(rs: &ResultSet) -> Result<Vec<ChecksumRow>, RowError> {
    ChecksumRow::parse_resultset(rs)
}

// --- The cluster as a node sees it ----------------------------------------------------------

/// What the node remembers of each peer's modules (§6.9).
pub const PEER_CHECKSUMS: &str = "SELECT hostname, port, name, version, epoch, checksum, changed_at, updated_at, diff_check FROM stats_proxysql_servers_checksums ORDER BY hostname, port, name";

/// Peer liveness and metrics (§3.2).
pub const PEER_METRICS: &str =
    "SELECT * FROM stats_proxysql_servers_metrics ORDER BY hostname, port";

/// The configured peers at runtime, with weight and comment.
pub const PROXYSQL_SERVERS: &str =
    "SELECT hostname, port, weight, comment FROM runtime_proxysql_servers ORDER BY hostname, port";

/// The configured peers' addresses only: the seed's view of the cluster for `--discover`.
pub const PROXYSQL_SERVER_ADDRESSES: &str =
    "SELECT hostname, port FROM runtime_proxysql_servers ORDER BY hostname, port";

/// Cluster settings, plus the admin credentials (the snapshot keeps only their user names).
pub const CLUSTER_VARIABLES: &str = "SELECT variable_name, variable_value FROM runtime_global_variables WHERE variable_name LIKE 'admin-cluster%' OR variable_name LIKE 'admin-checksum%' OR variable_name = 'admin-admin_credentials' ORDER BY variable_name";

// --- One node's details (read when a view needs them) ---------------------------------

/// Runtime backends with their status.
pub const RUNTIME_SERVERS: &str = "SELECT hostgroup_id, hostname, port, status, weight, max_connections, comment FROM runtime_mysql_servers ORDER BY hostgroup_id, hostname, port";

/// Connection-pool statistics per backend.
pub const CONNECTION_POOL: &str = "SELECT hostgroup, srv_host, srv_port, status, ConnUsed, ConnFree, ConnOK, ConnERR, Queries, Latency_us FROM stats_mysql_connection_pool ORDER BY hostgroup, srv_host, srv_port";

/// Users; the node masks the password itself so it never crosses the network.
pub const RUNTIME_USERS_MASKED: &str = "SELECT username, CASE WHEN password IS NULL OR password = '' THEN '' ELSE '********' END AS password, active, default_hostgroup, frontend, backend, max_connections FROM runtime_mysql_users ORDER BY username, backend";

/// Query rules at runtime.
pub const RUNTIME_QUERY_RULES: &str = "SELECT rule_id, active, username, match_digest, match_pattern, destination_hostgroup, apply FROM runtime_mysql_query_rules ORDER BY rule_id";

/// Rule hit counters: a separate table, read apart since older nodes may lack it.
pub const QUERY_RULE_HITS: &str =
    "SELECT rule_id, hits FROM stats_mysql_query_rules ORDER BY rule_id";

/// Every runtime variable with its value.
pub const RUNTIME_VARIABLES: &str =
    "SELECT variable_name, variable_value FROM runtime_global_variables ORDER BY variable_name";

/// Every variable name (the shell's completion vocabulary).
pub const VARIABLE_NAMES: &str =
    "SELECT variable_name FROM global_variables ORDER BY variable_name";

/// The admin's table lists, one per schema (the shell's completion vocabulary).
pub const TABLE_LISTS: [&str; 3] = [
    "SHOW TABLES",
    "SHOW TABLES FROM stats",
    "SHOW TABLES FROM monitor",
];

// --- Traffic: what the proxies are doing (read with `client::traffic`) -------------------

/// Every global traffic counter (`stats_mysql_global`): the Traffic view's rates.
pub const TRAFFIC_GLOBALS: &str = "SELECT Variable_Name, Variable_Value FROM stats_mysql_global";

/// The errors the node has counted, summed: the Traffic view's errors/s.
pub const ERRORS_TOTAL: &str =
    "SELECT COALESCE(SUM(count_star), 0) AS total FROM stats_mysql_errors";

/// Connection-pool statistics per backend, with bytes: the Hostgroups view
/// (columns: `proxysql::columns::CONNECTION_POOL_STATS_COLUMNS`).
pub const CONNECTION_POOL_STATS: &str = "SELECT hostgroup, srv_host, srv_port, status, ConnUsed, ConnFree, ConnOK, ConnERR, Queries, Bytes_data_sent, Bytes_data_recv, Latency_us FROM stats_mysql_connection_pool ORDER BY hostgroup, srv_host, srv_port";

/// Client sessions (columns: `proxysql::columns::PROCESSLIST_COLUMNS`).
pub const PROCESSLIST: &str = "SELECT SessionID, user, db, cli_host, cli_port, hostgroup, srv_host, srv_port, command, time_ms, info FROM stats_mysql_processlist ORDER BY SessionID";

/// Query digests (columns: `proxysql::columns::QUERY_DIGEST_COLUMNS`).
pub const QUERY_DIGEST: &str = "SELECT hostgroup, schemaname, username, digest, digest_text, count_star, first_seen, last_seen, sum_time, min_time, max_time, sum_rows_affected, sum_rows_sent FROM stats_mysql_query_digest";

/// Reading the `_reset` table returns the digests and empties them: ProxySQL's digest reset.
pub const QUERY_DIGEST_RESET: &str = "SELECT COUNT(*) FROM stats_mysql_query_digest_reset";

/// Per-command counters with latency buckets
/// (columns: `proxysql::columns::COMMANDS_COUNTERS_COLUMNS`).
pub const COMMANDS_COUNTERS: &str = "SELECT Command, Total_Time_us, Total_cnt, cnt_100us, cnt_500us, cnt_1ms, cnt_5ms, cnt_10ms, cnt_50ms, cnt_100ms, cnt_500ms, cnt_1s, cnt_5s, cnt_10s, cnt_INFs FROM stats_mysql_commands_counters ORDER BY Command";

/// Errors by hostgroup, backend, user and errno (columns: `proxysql::columns::MYSQL_ERRORS_COLUMNS`).
pub const ERRORS: &str = "SELECT hostgroup, hostname, port, username, client_address, schemaname, errno, count_star, first_seen, last_seen, last_error FROM stats_mysql_errors ORDER BY hostgroup, hostname, port, errno";

/// Query rules as the digest view matches them to digests.
pub const ROUTING_RULES: &str = "SELECT rule_id, active, username, schemaname, digest, match_digest, match_pattern, negate_match_pattern, destination_hostgroup, apply FROM runtime_mysql_query_rules ORDER BY rule_id";

/// Ends a client session and its backend connection, on the admin port of the node that owns
/// it (`SessionID` of `stats_mysql_processlist`).
pub fn kill_connection(session_id: u64) -> String {
    format!("KILL CONNECTION {session_id}")
}

// --- The VIP of a pxadm node (`stats_pxadm_vrrp`) -------------------------------------------

/// Every VRRP instance of a pxadm node, as the console's HA view shows it.
pub const VRRP_INSTANCES: &str = "SELECT instance, state, priority, effective_priority, vip, vip_held, last_advert_from, last_advert_age_ms, check_status FROM stats_pxadm_vrrp ORDER BY instance";

/// A node's VRRP priority and VIP: what the drill checks before attaching to running nodes.
pub const VRRP_PRIORITY_AND_VIP: &str = "SELECT priority, vip FROM stats_pxadm_vrrp";

/// A node's VRRP state, whether it holds the VIP, and its advertised priority: the drill's
/// fast poll (every few milliseconds), so no more columns than it needs.
pub const VRRP_STATE: &str = "SELECT state, vip_held, effective_priority FROM stats_pxadm_vrrp";

// --- Commands ---------------------------------------------------------------------------

/// Makes the node exit at once, without answering (a node pxadm did not start).
pub const PROXYSQL_KILL: &str = "PROXYSQL KILL";

/// Stops accepting client traffic.
pub const PROXYSQL_PAUSE: &str = "PROXYSQL PAUSE";

/// Accepts client traffic again after [`PROXYSQL_PAUSE`].
pub const PROXYSQL_RESUME: &str = "PROXYSQL RESUME";

/// Applies a clustered module's configuration to runtime (`LOAD MYSQL SERVERS TO RUNTIME`).
pub fn load_to_runtime(module: ClusterModule) -> &'static str {
    module.load_to_runtime()
}

/// Applies any admin module's configuration to runtime, by its LOAD/SAVE keyword
/// (`LOAD SCHEDULER TO RUNTIME`), including modules the cluster does not sync.
pub fn load_admin_module_to_runtime(module: ConfigModule) -> String {
    format!("LOAD {} TO RUNTIME", module.keyword())
}

/// Applies the admin variables in MEMORY to runtime.
pub const LOAD_ADMIN_VARIABLES_TO_RUNTIME: &str = "LOAD ADMIN VARIABLES TO RUNTIME";

/// Persists the admin variables in MEMORY to DISK, so a restart keeps them.
pub const SAVE_ADMIN_VARIABLES_TO_DISK: &str = "SAVE ADMIN VARIABLES TO DISK";

/// Sets an admin variable in MEMORY (to be loaded with [`LOAD_ADMIN_VARIABLES_TO_RUNTIME`]).
/// `value` is quoted here; a `'` in it is doubled.
pub fn set_admin_variable(name: &str, value: &str) -> String {
    format!(
        "UPDATE global_variables SET variable_value = '{}' WHERE variable_name = '{name}'",
        value.replace('\'', "''")
    )
}

/// Adds `user:password` to `admin-admin_credentials` in MEMORY, keeping the users already
/// there (the cluster user must be an admin credential on every peer).
pub fn add_admin_credential(user: &str, password: &str) -> String {
    format!(
        "UPDATE global_variables SET variable_value = variable_value || ';{user}:{password}' WHERE variable_name = 'admin-admin_credentials'"
    )
}

/// The demo's backends, user and query rules for node1 (the reference scenario's step 1), on
/// the MariaDB lab whose primary listens on `lab_primary` and replicas on the next two ports;
/// saved to disk so a restart brings them back at version 1.
pub fn demo_node1_config(lab_primary: u16) -> String {
    let (p, r1, r2) = (lab_primary, lab_primary + 1, lab_primary + 2);
    format!(
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port, comment) VALUES (0,'127.0.0.1',{p},'primary'), (1,'127.0.0.1',{r1},'replica1'), (1,'127.0.0.1',{r2},'replica2');
         INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, comment) VALUES (0,1,'duhokim');
         INSERT INTO mysql_users (username, password, default_hostgroup, default_schema) VALUES ('svcusr','svcusr',0,'duhokim');
         INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (1,1,'^SELECT.*FOR UPDATE$',0,1), (2,1,'^SELECT',1,1);
         SAVE MYSQL SERVERS TO DISK; SAVE MYSQL USERS TO DISK; SAVE MYSQL QUERY RULES TO DISK;"
    )
}

/// The screenshots' change on node1 that the cluster then propagates: a new comment on the
/// read rule.
pub const SCREENSHOT_RULE_COMMENT: &str =
    "UPDATE mysql_query_rules SET comment='reads to the replicas' WHERE rule_id=2";

// --- The MEMORY, RUNTIME and DISK layers of one module (`client::layers`) ---------------

/// One of the three copies of a node's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Layer {
    /// `main.<table>`: what the operator edits.
    Memory,
    /// `runtime_<table>`: what the node runs.
    Runtime,
    /// `disk.<table>`: what a restart loads.
    Disk,
}

impl Layer {
    /// The three layers, in the order an edit travels (MEMORY → RUNTIME, MEMORY → DISK).
    pub const ALL: [Layer; 3] = [Layer::Memory, Layer::Runtime, Layer::Disk];
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layer::Memory => "MEMORY",
            Layer::Runtime => "RUNTIME",
            Layer::Disk => "DISK",
        })
    }
}

/// The rows of one configuration table in one layer, for comparing the three layers. The
/// users and servers tables name their columns ([`USERS_COLUMNS`], [`SERVERS_COLUMNS`]) since
/// the comparison reads some by position; the others select `*`, whose column order is the
/// same in the three schemas on ProxySQL 2.7.2 and on `pxadm node`. A variables module reads
/// only its own prefix of `global_variables`. No ORDER BY: the comparison sorts.
///
/// [`USERS_COLUMNS`]: crate::proxysql::columns::USERS_COLUMNS
/// [`SERVERS_COLUMNS`]: crate::proxysql::columns::SERVERS_COLUMNS
pub fn layer_rows(module: ConfigModule, table: &str, layer: Layer) -> String {
    use crate::proxysql::columns::{SERVERS_COLUMNS, USERS_COLUMNS};
    let columns = match table {
        "mysql_users" => USERS_COLUMNS,
        "mysql_servers" => SERVERS_COLUMNS,
        "global_variables" => "variable_name, variable_value",
        _ => "*",
    };
    let from = match layer {
        Layer::Memory => format!("main.{table}"),
        Layer::Runtime => format!("runtime_{table}"),
        Layer::Disk => format!("disk.{table}"),
    };
    match module.variable_prefix() {
        Some(prefix) => {
            format!("SELECT {columns} FROM {from} WHERE variable_name LIKE '{prefix}%'")
        }
        None => format!("SELECT {columns} FROM {from}"),
    }
}

/// Copies a module's MEMORY to DISK (`SAVE MYSQL SERVERS TO DISK`), so a restart keeps it.
pub fn save_module_to_disk(module: ConfigModule) -> String {
    format!("SAVE {} TO DISK", module.keyword())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxysql::columns;

    /// The selected column list of a `SELECT a, b FROM t ...` query.
    fn selected(sql: &str) -> Vec<&str> {
        let body = sql
            .strip_prefix("SELECT ")
            .and_then(|s| s.split(" FROM ").next())
            .unwrap_or("");
        body.split(", ").collect()
    }

    #[test]
    fn traffic_queries_select_the_column_lists() {
        assert_eq!(selected(PROCESSLIST), columns::PROCESSLIST_COLUMNS);
        assert_eq!(selected(QUERY_DIGEST), columns::QUERY_DIGEST_COLUMNS);
        assert_eq!(
            selected(CONNECTION_POOL_STATS),
            columns::CONNECTION_POOL_STATS_COLUMNS
        );
        assert_eq!(
            selected(COMMANDS_COUNTERS),
            columns::COMMANDS_COUNTERS_COLUMNS
        );
        assert_eq!(selected(ERRORS), columns::MYSQL_ERRORS_COLUMNS);
    }

    #[test]
    fn kill_statements_name_the_session() {
        assert_eq!(kill_connection(42), "KILL CONNECTION 42");
    }
}
