//! Refresh on read (§2.4): the stats and runtime tables a statement names are rewritten from
//! the live state just before it runs, as ProxySQL does.

use super::Engine;
use crate::node::admin::db::AdminDb;
use crate::node::monitor::lag::SHUNNED_REPLICATION_LAG;
use crate::proxysql::columns::HOSTGROUP_TABLES;
use crate::proxysql::resultset::ResultSet;

impl Engine {
    pub(super) fn refresh_on_read(&mut self, norm: &str, admin: bool) {
        let q = norm.to_ascii_lowercase();
        if q.contains("stats_mysql_global") || q.starts_with("select @@") {
            self.refresh_stats_global();
        }
        if q.contains("stats_proxysql_servers_checksums")
            || q.contains("stats_proxysql_servers_metrics")
        {
            self.refresh_cluster_stats();
        }
        if q.contains("stats_pxadm_vrrp") {
            let rs = self.shared.vrrp_stats();
            let _ = AdminDb::replace_table(&self.db.admin, "stats.stats_pxadm_vrrp", &rs);
        }
        // Traffic statistics (connection pool, digests, commands, processlist, query rules,
        // users), rendered from the live traffic state of this node.
        for (table, rs) in crate::node::traffic::stats_tables(&self.shared, &q) {
            let _ = AdminDb::replace_table(&self.db.admin, table, &rs);
        }
        if !admin {
            return;
        }
        let conn = &self.db.admin;
        if q.contains("global_variables") {
            let mut rs = ResultSet::with_columns(["variable_name", "variable_value"]);
            for (k, v) in self.rt.admin_vars.iter().chain(self.rt.mysql_vars.iter()) {
                rs.push_row([Some(k.as_str()), Some(v.as_str())]);
            }
            let _ = AdminDb::replace_table(conn, "main.runtime_global_variables", &rs);
        }
        if q.contains("runtime_mysql_servers")
            || q.contains("runtime_mysql_replication_hostgroups")
            || q.contains("runtime_mysql_group_replication_hostgroups")
            || q.contains("runtime_mysql_galera_hostgroups")
            || q.contains("runtime_mysql_aws_aurora_hostgroups")
            || q.contains("runtime_mysql_hostgroup_attributes")
            || q.contains("runtime_mysql_servers_ssl_params")
        {
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
        if q.contains("runtime_mysql_users") {
            let _ = AdminDb::replace_table(
                conn,
                "main.runtime_mysql_users",
                &self.rt.runtime_users_table(),
            );
        }
        if q.contains("runtime_mysql_query_rules") {
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
        if q.contains("runtime_proxysql_servers") {
            let _ = AdminDb::replace_table(
                conn,
                "main.runtime_proxysql_servers",
                &self.rt.proxysql_servers,
            );
        }
        if q.contains("runtime_checksums_values") {
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

    pub(super) fn refresh_stats_global(&self) {
        let rows = self.shared.stats_global_rows();
        let mut rs = ResultSet::with_columns(["Variable_Name", "Variable_Value"]);
        for (k, v) in rows {
            rs.push_row([Some(k), Some(v)]);
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
