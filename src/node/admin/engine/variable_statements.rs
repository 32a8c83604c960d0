//! `SELECT @@name` lookups and `SET name = value` of ProxySQL variables (§1.7.5).

use super::{quote, ColumnKind, Engine, Reply, SessionCtx};
use crate::proxysql::resultset::ResultSet;
use crate::proxysql::variables;

impl Engine {
    /// `SELECT @@name[, ...]`: each name looked up in global_variables ∪ stats_mysql_global.
    pub(super) fn select_variables(&mut self, names: &[String]) -> Reply {
        self.refresh_stats_global();
        let mut rs = ResultSet::with_columns(names.iter().map(|n| format!("@@{n}")));
        let mut row = Vec::with_capacity(names.len());
        let mut any = false;
        for name in names {
            let lookup = if name.eq_ignore_ascii_case("max_allowed_packet") {
                "mysql-max_allowed_packet".to_string()
            } else {
                name.clone()
            };
            let value: Option<String> = self
                .db
                .admin
                .query_row(
                    "SELECT variable_value FROM main.global_variables WHERE variable_name = ?1 COLLATE NOCASE \
                     UNION ALL SELECT Variable_Value FROM stats.stats_mysql_global WHERE Variable_Name = ?1 COLLATE NOCASE LIMIT 1",
                    [&lookup],
                    |r| r.get(0),
                )
                .ok();
            any |= value.is_some();
            row.push(value);
        }
        // Like ProxySQL, an unknown single variable gives an empty result (clients use defaults).
        if any {
            rs.rows.push(row);
        }
        Reply::Rows(rs, ColumnKind::Text)
    }

    pub(super) fn set_variable(&mut self, ctx: &SessionCtx, name: &str, value: &str) -> Reply {
        if !variables::is_known(name) {
            return Reply::Ok {
                affected: 0,
                info: format!("ERROR: Unknown global variable: '{name}'."),
            };
        }
        if name.eq_ignore_ascii_case("mysql-init_connect") {
            return Reply::admin_err(
                "ProxySQL Admin Error: ERROR: Global variable 'mysql-init_connect' is not configurable using SET command. You must run UPDATE global_variables",
            );
        }
        let sql = format!(
            "UPDATE global_variables SET variable_value={value} WHERE variable_name={}",
            quote(name)
        );
        self.plain_sql(ctx, &sql)
    }
}
