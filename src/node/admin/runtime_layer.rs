//! RUNTIME: what the node is actually running, as snapshots taken at each load (§2.1).
//!
//! ProxySQL keeps, per module, the result sets it computed the checksum over, and answers its
//! peers' `PROXY_SELECT` pulls from exactly those, so the checksums verify on the other side.
//! The same snapshots materialise the `runtime_*` tables on read.

use std::collections::BTreeMap;

use crate::proxysql::columns::HOSTGROUP_TABLES;
use crate::proxysql::resultset::ResultSet;

/// Everything the node runs, as loaded.
#[derive(Debug, Clone, Default)]
pub struct Runtime {
    /// Running `admin-*` variables.
    pub admin_vars: BTreeMap<String, String>,
    /// Running `mysql-*` variables.
    pub mysql_vars: BTreeMap<String, String>,
    /// Active query rules, snapshot columns.
    pub query_rules: ResultSet,
    /// Active query rules, every column (for `runtime_mysql_query_rules`).
    pub query_rules_full: ResultSet,
    /// Fast routing rows.
    pub fast_routing: ResultSet,
    /// Users snapshot (NULLs as empty strings, what peers receive).
    pub users: ResultSet,
    /// Active users, every column (for `runtime_mysql_users`).
    pub users_full: ResultSet,
    /// Runtime servers with their live status (every column of `mysql_servers`).
    pub servers: ResultSet,
    /// The `mysql_servers_v2` snapshot (config servers, SHUNNED as ONLINE, no OFFLINE_HARD).
    pub servers_v2: ResultSet,
    /// The six hostgroup tables as loaded (every column), in [`HOSTGROUP_TABLES`] order.
    pub hostgroup_tables: Vec<ResultSet>,
    /// `runtime_proxysql_servers`.
    pub proxysql_servers: ResultSet,
}

impl Runtime {
    /// The runtime `mysql_servers` snapshot of §5.3: no OFFLINE_HARD, shunned shown as ONLINE.
    pub fn runtime_servers_snapshot(&self) -> ResultSet {
        let status = self.servers.column_index("status").unwrap_or(4);
        let mut rs = ResultSet {
            columns: self.servers.columns.clone(),
            rows: Vec::new(),
        };
        for row in &self.servers.rows {
            let st = row.get(status).cloned().flatten().unwrap_or_default();
            if st.eq_ignore_ascii_case("OFFLINE_HARD") {
                continue;
            }
            let mut row = row.clone();
            if st.to_ascii_uppercase().starts_with("SHUNNED") {
                row[status] = Some("ONLINE".into());
            }
            rs.rows.push(row);
        }
        rs
    }

    /// `runtime_mysql_users` rows: ProxySQL lists each account once per authentication map
    /// (a user with frontend=1 and backend=1 shows twice).
    pub fn runtime_users_table(&self) -> ResultSet {
        let fe = self.users_full.column_index("frontend");
        let be = self.users_full.column_index("backend");
        let (Some(fe), Some(be)) = (fe, be) else {
            return self.users_full.clone();
        };
        let mut rs = ResultSet {
            columns: self.users_full.columns.clone(),
            rows: Vec::new(),
        };
        // ProxySQL's runtime users hold an empty default schema, never NULL.
        let schema = self.users_full.column_index("default_schema");
        for (flag_col, other) in [(be, fe), (fe, be)] {
            for row in &self.users_full.rows {
                if row[flag_col].as_deref() == Some("1") {
                    let mut r = row.clone();
                    r[other] = Some("0".into());
                    if let Some(i) = schema {
                        r[i].get_or_insert_with(String::new);
                    }
                    rs.rows.push(r);
                }
            }
        }
        rs
    }

    /// The hostgroup table snapshot by table name.
    pub fn hostgroup_table(&self, name: &str) -> Option<&ResultSet> {
        HOSTGROUP_TABLES
            .iter()
            .position(|(t, _)| *t == name)
            .and_then(|i| self.hostgroup_tables.get(i))
    }
}

/// Drops replication hostgroup entries whose writer hostgroup is another entry's reader
/// hostgroup, as the hostgroup manager does (`Incompatible entry ... will be ignored`).
pub fn filter_replication_hostgroups(rs: &ResultSet) -> (ResultSet, Vec<String>) {
    let (Some(w), Some(r)) = (
        rs.column_index("writer_hostgroup"),
        rs.column_index("reader_hostgroup"),
    ) else {
        return (rs.clone(), Vec::new());
    };
    let readers: Vec<Option<String>> = rs.rows.iter().map(|row| row[r].clone()).collect();
    let mut out = ResultSet {
        columns: rs.columns.clone(),
        rows: Vec::new(),
    };
    let mut ignored = Vec::new();
    for row in &rs.rows {
        if readers.contains(&row[w]) {
            ignored.push(format!(
                "Incompatible entry in mysql_replication_hostgroups will be ignored : ( {} , {} )",
                row[w].as_deref().unwrap_or(""),
                row[r].as_deref().unwrap_or("")
            ));
        } else {
            out.rows.push(row.clone());
        }
    }
    (out, ignored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_snapshot_hides_offline_hard_and_shows_shunned_online() {
        let mut rt = Runtime {
            servers: ResultSet::with_columns(["hostgroup_id", "hostname", "status"]),
            ..Default::default()
        };
        rt.servers.push_row([Some("0"), Some("a"), Some("ONLINE")]);
        rt.servers.push_row([Some("0"), Some("b"), Some("SHUNNED")]);
        rt.servers
            .push_row([Some("0"), Some("c"), Some("OFFLINE_HARD")]);
        let snap = rt.runtime_servers_snapshot();
        assert_eq!(snap.rows.len(), 2);
        assert_eq!(snap.rows[1][2].as_deref(), Some("ONLINE"));
    }

    #[test]
    fn users_listed_once_per_map() {
        let mut rt = Runtime {
            users_full: ResultSet::with_columns(["username", "backend", "frontend"]),
            ..Default::default()
        };
        rt.users_full.push_row([Some("app"), Some("1"), Some("1")]);
        rt.users_full
            .push_row([Some("fe_only"), Some("0"), Some("1")]);
        let t = rt.runtime_users_table();
        assert_eq!(t.rows.len(), 3);
        assert_eq!(
            t.rows[0],
            [Some("app".into()), Some("1".into()), Some("0".into())]
        );
    }

    #[test]
    fn incompatible_replication_hostgroups_are_ignored() {
        let mut rs = ResultSet::with_columns(["writer_hostgroup", "reader_hostgroup"]);
        rs.push_row([Some("1"), Some("2")]);
        rs.push_row([Some("2"), Some("3")]);
        let (kept, ignored) = filter_replication_hostgroups(&rs);
        assert_eq!(kept.rows.len(), 1);
        assert_eq!(ignored.len(), 1);
    }
}
