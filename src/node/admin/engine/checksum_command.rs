//! `CHECKSUM [DISK|MEMORY] <module>`: the checksum of one configuration table.

use super::{ColumnKind, Engine, Reply};
use crate::node::admin::db::AdminDb;
use crate::proxysql::checksum;
use crate::proxysql::resultset::ResultSet;

impl Engine {
    pub(super) fn checksum_command(&self, disk: bool, what: &str) -> Reply {
        let (table, key) = match what {
            "MYSQL SERVERS" => ("mysql_servers", "hostgroup_id, hostname, port"),
            "MYSQL USERS" => ("mysql_users", "username"),
            "MYSQL QUERY RULES" => ("mysql_query_rules", "rule_id"),
            "MYSQL VARIABLES" => ("global_variables", "variable_name"),
            "MYSQL REPLICATION HOSTGROUPS" => ("mysql_replication_hostgroups", "writer_hostgroup"),
            "MYSQL GROUP REPLICATION HOSTGROUPS" if !disk => {
                ("mysql_group_replication_hostgroups", "writer_hostgroup")
            }
            "MYSQL GALERA HOSTGROUPS" if !disk => ("mysql_galera_hostgroups", "writer_hostgroup"),
            "MYSQL AURORA HOSTGROUPS" if !disk => {
                ("mysql_aws_aurora_hostgroups", "writer_hostgroup")
            }
            "MYSQL HOSTGROUP ATTRIBUTES" if !disk => ("mysql_hostgroup_attributes", "hostgroup_id"),
            "MYSQL SERVERS SSL PARAMS" if !disk => {
                ("mysql_servers_ssl_params", "hostname, port, username")
            }
            _ => {
                return Reply::admin_err(format!(
                    "ProxySQL Admin Error: unknown CHECKSUM target {what}"
                ))
            }
        };
        let db = if disk { "disk" } else { "main" };
        let filter = if table == "global_variables" {
            " WHERE variable_name LIKE 'mysql-%'"
        } else {
            ""
        };
        match AdminDb::query(
            &self.db.admin,
            &format!("SELECT * FROM {db}.{table}{filter} ORDER BY {key}"),
        ) {
            Ok(rs) => {
                let mut out = ResultSet::with_columns(["table", "checksum"]);
                out.push_row([
                    Some(table.to_string()),
                    Some(checksum::render_unpadded(checksum::raw_checksum(&rs))),
                ]);
                Reply::Rows(out, ColumnKind::Text)
            }
            Err(e) => Reply::sqlite_err(&e),
        }
    }
}
