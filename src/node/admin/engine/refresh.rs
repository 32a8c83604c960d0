//! Refresh on read (§2.4): the stats and runtime tables a statement names are rewritten from
//! the live state just before it runs, as ProxySQL does.

use super::Engine;
use crate::node::admin::db::AdminDb;
use crate::node::monitor::lag::SHUNNED_REPLICATION_LAG;
use crate::proxysql::columns::HOSTGROUP_TABLES;
use crate::proxysql::global_status::STATS_MYSQL_GLOBAL;
use crate::proxysql::resultset::ResultSet;
use crate::proxysql::statement::TableAccess;

/// Cluster statistics, rendered together from the peers' last answers.
const CLUSTER_STATS_TABLES: [&str; 2] = [
    "stats_proxysql_servers_checksums",
    "stats_proxysql_servers_metrics",
];

/// The runtime tables of the MYSQL SERVERS module, refreshed together.
const RUNTIME_SERVERS_TABLES: [&str; 7] = [
    "runtime_mysql_servers",
    "runtime_mysql_replication_hostgroups",
    "runtime_mysql_group_replication_hostgroups",
    "runtime_mysql_galera_hostgroups",
    "runtime_mysql_aws_aurora_hostgroups",
    "runtime_mysql_hostgroup_attributes",
    "runtime_mysql_servers_ssl_params",
];

/// The runtime tables of the MYSQL QUERY RULES module, refreshed together.
const RUNTIME_QUERY_RULES_TABLES: [&str; 2] = [
    "runtime_mysql_query_rules",
    "runtime_mysql_query_rules_fast_routing",
];

impl Engine {
    /// Rewrites the stats tables the statement names, and for admin sessions the runtime
    /// tables, from the live state. Stats sessions cannot see the runtime tables.
    pub(super) fn refresh_on_read(&mut self, tables: &TableAccess, admin: bool) {
        self.refresh_stats_tables(tables);
        if admin {
            self.refresh_runtime_tables(tables);
        }
    }

    fn refresh_stats_tables(&self, tables: &TableAccess) {
        if tables.mentions("stats_mysql_global") {
            self.refresh_stats_global();
        }
        if tables.mentions("stats_memory_metrics") {
            let rs = crate::node::memory::memory_metrics(&self.shared);
            let _ = AdminDb::replace_table(&self.db.admin, "stats.stats_memory_metrics", &rs);
        }
        if tables.mentions_any(&CLUSTER_STATS_TABLES) {
            self.refresh_cluster_stats();
        }
        if tables.mentions("stats_pxadm_vrrp") {
            let rs = self.shared.vrrp_stats();
            let _ = AdminDb::replace_table(&self.db.admin, "stats.stats_pxadm_vrrp", &rs);
        }
        // Traffic statistics (connection pool, digests, commands, processlist, query rules,
        // users), rendered from the live traffic state of this node.
        for (table, rs) in crate::node::traffic::stats_tables(&self.shared, tables) {
            let _ = AdminDb::replace_table(&self.db.admin, table, &rs);
        }
    }

    fn refresh_runtime_tables(&self, tables: &TableAccess) {
        let conn = &self.db.admin;
        // Naming the configuration table refreshes its runtime twin too, so the two can be
        // compared in one statement.
        if tables.mentions_any(&["global_variables", "runtime_global_variables"]) {
            let mut rs = ResultSet::with_columns(["variable_name", "variable_value"]);
            for (k, v) in self.rt.admin_vars.iter().chain(self.rt.mysql_vars.iter()) {
                rs.push_row([Some(k.as_str()), Some(v.as_str())]);
            }
            let _ = AdminDb::replace_table(conn, "main.runtime_global_variables", &rs);
        }
        if tables.mentions_any(&RUNTIME_SERVERS_TABLES) {
            self.refresh_runtime_servers();
        }
        if tables.mentions("runtime_mysql_users") {
            let _ = AdminDb::replace_table(
                conn,
                "main.runtime_mysql_users",
                &self.rt.runtime_users_table(),
            );
        }
        if tables.mentions_any(&RUNTIME_QUERY_RULES_TABLES) {
            let _ = AdminDb::replace_table(
                conn,
                "main.runtime_mysql_query_rules",
                &self.rt.query_rules_full,
            );
            let _ = AdminDb::replace_table(
                conn,
                "main.runtime_mysql_query_rules_fast_routing",
                &self.rt.fast_routing,
            );
        }
        if tables.mentions("runtime_proxysql_servers") {
            let _ = AdminDb::replace_table(
                conn,
                "main.runtime_proxysql_servers",
                &self.rt.proxysql_servers,
            );
        }
        if tables.mentions("runtime_checksums_values") {
            let rows = self.shared.checksums.lock().rows();
            let mut rs = ResultSet::with_columns(["name", "version", "epoch", "checksum"]);
            for (m, s) in rows {
                rs.push_row([
                    Some(m.name().to_string()),
                    Some(s.version.to_string()),
                    Some(s.epoch.to_string()),
                    Some(s.checksum),
                ]);
            }
            let _ = AdminDb::replace_table(conn, "main.runtime_checksums_values", &rs);
        }
    }

    /// `runtime_mysql_servers` (with the live statuses) and the six hostgroup tables.
    fn refresh_runtime_servers(&self) {
        let conn = &self.db.admin;
        // Live statuses from the traffic side (automatic shunning) over the runtime rows.
        let live = crate::node::traffic::live_server_statuses(&self.shared);
        let mut servers = self.rt.servers.clone();
        if let Some(st) = servers.column_index("status") {
            for row in &mut servers.rows {
                let key = (
                    row[0].as_deref().and_then(|v| v.parse().ok()).unwrap_or(0),
                    row[1].clone().unwrap_or_default(),
                    row[2].as_deref().and_then(|v| v.parse().ok()).unwrap_or(0),
                );
                if let Some(status) = live.get(&key) {
                    row[st] = Some((*status).to_string());
                } else if row[st].as_deref() == Some(SHUNNED_REPLICATION_LAG) {
                    // The table's CHECK allows four statuses; ProxySQL shows this one as
                    // SHUNNED here and by name in stats_mysql_connection_pool.
                    row[st] = Some("SHUNNED".to_string());
                }
            }
        }
        let _ = AdminDb::replace_table(conn, "main.runtime_mysql_servers", &servers);
        for ((table, _), rs) in HOSTGROUP_TABLES.iter().zip(&self.rt.hostgroup_tables) {
            let _ = AdminDb::replace_table(conn, &format!("main.runtime_{table}"), rs);
        }
    }

    pub(super) fn refresh_stats_global(&self) {
        let mut values = self.shared.stats_global_values();
        values.insert(
            "SQLite3_memory_bytes",
            crate::node::memory::sqlite_memory_used().to_string(),
        );
        for (k, v) in crate::node::traffic::global_status(&self.shared) {
            values.insert(k, v.to_string());
        }
        // ProxySQL's order; what this node does not implement (GTID, mirroring, the SQL
        // injection engine, the query cache, Aurora) stays 0, as on a ProxySQL node that
        // never used it.
        let mut rs = ResultSet::with_columns(["Variable_Name", "Variable_Value"]);
        for name in STATS_MYSQL_GLOBAL {
            let value = values.remove(name).unwrap_or_else(|| "0".into());
            rs.push_row([Some(name.to_string()), Some(value)]);
        }
        let _ = AdminDb::replace_table(&self.db.admin, "stats.stats_mysql_global", &rs);
    }

    fn refresh_cluster_stats(&self) {
        let (checksums, metrics) = self.shared.cluster_stats();
        let _ = AdminDb::replace_table(
            &self.db.admin,
            "stats.stats_proxysql_servers_checksums",
            &checksums,
        );
        let _ = AdminDb::replace_table(
            &self.db.admin,
            "stats.stats_proxysql_servers_metrics",
            &metrics,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxysql::schema::{self, Schema};

    /// Refresh used to test the statement's text with `contains`; over every table name the
    /// node knows, each old substring test and the table set that replaced it agree. The
    /// `stats_history` tables are the exception: `history_stats_mysql_connection_pool` no
    /// longer refreshes `stats_mysql_connection_pool`, which it does not read.
    #[test]
    fn table_sets_refresh_what_the_old_substring_tests_did() {
        let groups: [(&str, &[&str]); 12] = [
            ("stats_mysql_global", &["stats_mysql_global"]),
            ("stats_pxadm_vrrp", &["stats_pxadm_vrrp"]),
            (
                "global_variables",
                &["global_variables", "runtime_global_variables"],
            ),
            ("runtime_mysql_users", &["runtime_mysql_users"]),
            ("runtime_mysql_query_rules", &RUNTIME_QUERY_RULES_TABLES),
            ("runtime_proxysql_servers", &["runtime_proxysql_servers"]),
            ("runtime_checksums_values", &["runtime_checksums_values"]),
            (
                "stats_mysql_connection_pool",
                &[
                    "stats_mysql_connection_pool",
                    "stats_mysql_connection_pool_reset",
                ],
            ),
            (
                "stats_mysql_query_digest",
                &["stats_mysql_query_digest", "stats_mysql_query_digest_reset"],
            ),
            (
                "stats_mysql_commands_counters",
                &["stats_mysql_commands_counters"],
            ),
            ("processlist", &["stats_mysql_processlist"]),
            ("stats_mysql_users", &["stats_mysql_users"]),
        ];
        let mut names: Vec<&str> = Schema::ALL
            .into_iter()
            .flat_map(|s| schema::tables(s).iter().map(|t| t.name))
            .collect();
        names.push("stats_pxadm_vrrp");
        for name in names.into_iter().filter(|n| !n.starts_with("history_")) {
            let tables = TableAccess::of(&format!("SELECT * FROM {name}"));
            for (pattern, set) in groups {
                assert_eq!(
                    name.contains(pattern),
                    tables.mentions_any(set),
                    "{name} / {pattern}"
                );
            }
            let servers = RUNTIME_SERVERS_TABLES.iter().any(|t| name.contains(t));
            assert_eq!(
                servers,
                tables.mentions_any(&RUNTIME_SERVERS_TABLES),
                "{name}"
            );
        }
    }
}
