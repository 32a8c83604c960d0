//! The peer-facing `PROXY_SELECT` (§6.8): peers fetch runtime snapshots, not SQLite rows.

use super::{ColumnKind, Engine, Reply};

impl Engine {
    pub(super) fn proxy_select(&self, norm: &str) -> Reply {
        let Some(table) = proxy_select_table(norm) else {
            return Reply::admin_err("ProxySQL Admin Error: invalid PROXY_SELECT");
        };
        let rs = match table.as_str() {
            "runtime_mysql_query_rules" => self.rt.query_rules.clone(),
            "runtime_mysql_query_rules_fast_routing" => self.rt.fast_routing.clone(),
            "runtime_mysql_users" => self.rt.users.clone(),
            "mysql_servers_v2" => self.rt.servers_v2.clone(),
            "runtime_mysql_servers" => self.rt.runtime_servers_snapshot(),
            t => match t
                .strip_prefix("runtime_")
                .and_then(|name| self.rt.hostgroup_table(name))
            {
                Some(rs) => rs.clone(),
                None => {
                    return Reply::admin_err(format!("ProxySQL Admin Error: no such table: {t}"))
                }
            },
        };
        Reply::Rows(rs, ColumnKind::Text)
    }
}

/// Extracts the table name of a `PROXY_SELECT ... FROM <table> ...` query.
fn proxy_select_table(norm: &str) -> Option<String> {
    let lower = norm.to_ascii_lowercase();
    let idx = lower.find(" from ")?;
    let rest = &lower[idx + 6..];
    Some(rest.split([' ', ';']).next().unwrap_or("").to_string())
}
