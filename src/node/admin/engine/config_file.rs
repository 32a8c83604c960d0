//! The config file both ways: `SELECT CONFIG FILE` / `SAVE CONFIG TO FILE` render MEMORY in
//! ProxySQL's format, `LOAD <module> FROM CONFIG` reads a module's sections into MEMORY.

use super::{in_transaction, Engine, Reply};
use crate::node::admin::db::AdminDb;
use crate::proxysql::config_file::Section;
use crate::proxysql::statement::ConfigModule;
use crate::px_warn;

impl Engine {
    /// A config file in ProxySQL's format reflecting MEMORY (`SELECT CONFIG FILE`).
    pub(super) fn config_file_text(&self) -> String {
        let conn = &self.db.admin;
        let mut out = String::new();
        out.push_str(&format!("datadir=\"{}\"\n", self.opts.datadir.display()));
        for (section, prefix) in [("admin_variables", "admin-"), ("mysql_variables", "mysql-")] {
            out.push_str(&format!("{section}=\n{{\n"));
            if let Ok(rs) = AdminDb::query(
                conn,
                &format!("SELECT variable_name, variable_value FROM main.global_variables WHERE variable_name LIKE '{prefix}%' ORDER BY variable_name"),
            ) {
                for r in rs.rows {
                    let name = r[0].clone().unwrap_or_default();
                    out.push_str(&format!(
                        "\t{}=\"{}\"\n",
                        name.trim_start_matches(prefix),
                        r[1].clone().unwrap_or_default().replace('\\', "\\\\").replace('"', "\\\"")
                    ));
                }
            }
            out.push_str("}\n");
        }
        for table in [
            "mysql_servers",
            "mysql_users",
            "mysql_query_rules",
            "proxysql_servers",
            "mysql_replication_hostgroups",
        ] {
            let Ok(rs) = AdminDb::query(conn, &format!("SELECT * FROM main.{table}")) else {
                continue;
            };
            out.push_str(&format!("{table}:\n(\n"));
            for (i, row) in rs.rows.iter().enumerate() {
                out.push_str("\t{\n");
                for (c, v) in rs.columns.iter().zip(row) {
                    if let Some(v) = v {
                        let is_num = !v.is_empty() && v.parse::<i64>().is_ok();
                        if is_num {
                            out.push_str(&format!("\t\t{c}={v}\n"));
                        } else {
                            out.push_str(&format!(
                                "\t\t{c}=\"{}\"\n",
                                v.replace('\\', "\\\\").replace('"', "\\\"")
                            ));
                        }
                    }
                }
                out.push_str(if i + 1 < rs.rows.len() {
                    "\t},\n"
                } else {
                    "\t}\n"
                });
            }
            out.push_str(")\n");
        }
        out
    }

    pub(super) fn load_from_config(&mut self, module: ConfigModule) -> Reply {
        let Some(cfg) = &self.config else {
            return Reply::admin_err("ProxySQL Admin Error: Config file unknown");
        };
        let mut statements = Vec::new();
        for section in Section::ALL
            .into_iter()
            .filter(|s| s.module() == module.keyword())
        {
            let lenient = cfg.section_statements_lenient(section);
            for skipped in &lenient.skipped {
                px_warn!("Config file: {}", skipped);
            }
            statements.extend(lenient.statements);
        }
        let conn = &self.db.admin;
        let result = in_transaction(conn, |c| {
            let mut n = 0u64;
            for sql in &statements {
                c.execute_batch(sql)?;
                n += c.changes();
            }
            Ok(n)
        });
        match result {
            Ok(n) => Reply::ok_rows(n),
            Err(e) => Reply::sqlite_err(&e),
        }
    }
}
