//! LOAD/SAVE between disk, memory and runtime (§1.5), except `... TO RUNTIME`
//! ([`super::load_runtime`]) and `... FROM CONFIG` ([`super::config_file`]).

use rusqlite::Connection;

use super::{in_transaction, Engine, Reply};
use crate::node::admin::db::AdminDb;
use crate::proxysql::columns::HOSTGROUP_TABLES;
use crate::proxysql::statement::{ConfigModule, Direction};
use crate::proxysql::variables;

impl Engine {
    pub(super) fn load_save(&mut self, module: ConfigModule, dir: Direction) -> Reply {
        let result = match dir {
            Direction::MemoryToRuntime => {
                // A DBA's LOAD never makes the node run with other values than memory shows.
                return match self.non_integer_value(module) {
                    Ok(Some(bad)) => Reply::admin_err(bad.message(module.keyword())),
                    Ok(None) => self.load_to_runtime(module, None),
                    Err(e) => Reply::sqlite_err(&e),
                };
            }
            Direction::DiskToMemory => self.copy_tables(module, "disk", "main"),
            Direction::MemoryToDisk => self.copy_tables(module, "main", "disk"),
            Direction::RuntimeToMemory => self.save_runtime_to_memory(module),
            Direction::ConfigToMemory => return self.load_from_config(module),
        };
        // ProxySQL runs the variables copies between disk and memory as plain SQL and
        // reports its rows; every other LOAD/SAVE is a plain OK (0 rows affected).
        let counted = module.variable_prefix().is_some()
            && matches!(dir, Direction::DiskToMemory | Direction::MemoryToDisk);
        match result {
            Ok(affected) if counted => Reply::ok_rows(affected),
            Ok(_) => Reply::ok(),
            Err(e) => Reply::sqlite_err(&e),
        }
    }

    /// Copies a module's tables between `main` and `disk` in one transaction.
    pub(super) fn copy_tables(
        &self,
        module: ConfigModule,
        from: &str,
        to: &str,
    ) -> rusqlite::Result<u64> {
        in_transaction(&self.db.admin, |c| copy_module_tables(c, module, from, to))
    }

    pub(super) fn save_runtime_to_memory(&mut self, module: ConfigModule) -> rusqlite::Result<u64> {
        let rt = &self.rt;
        in_transaction(&self.db.admin, |c| {
            match module {
                ConfigModule::AdminVariables | ConfigModule::MysqlVariables => {
                    let vars = if module == ConfigModule::AdminVariables {
                        &rt.admin_vars
                    } else {
                        &rt.mysql_vars
                    };
                    // ProxySQL rewrites them in its own order, which later LOADs depend on
                    // (variables::memory_order_rank).
                    let mut ordered: Vec<(&String, &String)> = vars.iter().collect();
                    ordered.sort_by_key(|(k, _)| variables::memory_order_rank(k));
                    let mut n = 0;
                    for (k, v) in ordered {
                        n += c.execute(
                            "INSERT OR REPLACE INTO main.global_variables VALUES (?1, ?2)",
                            [k, v],
                        )? as u64;
                    }
                    return Ok(n);
                }
                ConfigModule::MysqlServers => {
                    let mut servers = rt.servers.clone();
                    if let Some(st) = servers.column_index("status") {
                        for row in &mut servers.rows {
                            if row[st]
                                .as_deref()
                                .is_some_and(|s| s.to_ascii_uppercase().starts_with("SHUNNED"))
                            {
                                row[st] = Some("ONLINE".into());
                            }
                        }
                        servers
                            .rows
                            .retain(|r| r[st].as_deref() != Some("OFFLINE_HARD"));
                    }
                    AdminDb::replace_table(c, "main.mysql_servers", &servers)?;
                    for ((table, _), rs) in HOSTGROUP_TABLES.iter().zip(&rt.hostgroup_tables) {
                        AdminDb::replace_table(c, &format!("main.{table}"), rs)?;
                    }
                }
                ConfigModule::MysqlUsers => {
                    // As ProxySQL: one row per frontend and per backend entry, written over
                    // (not instead of) memory, so inactive users stay.
                    let users = rt.runtime_users_table();
                    let sql = format!(
                        "INSERT OR REPLACE INTO main.mysql_users ({}) VALUES ({})",
                        users.columns.join(", "),
                        vec!["?"; users.columns.len()].join(", ")
                    );
                    let mut insert = c.prepare(&sql)?;
                    for row in &users.rows {
                        insert.execute(rusqlite::params_from_iter(row.iter()))?;
                    }
                }
                ConfigModule::MysqlQueryRules => {
                    AdminDb::replace_table(c, "main.mysql_query_rules", &rt.query_rules_full)?;
                    AdminDb::replace_table(
                        c,
                        "main.mysql_query_rules_fast_routing",
                        &rt.fast_routing,
                    )?;
                }
                ConfigModule::ProxysqlServers => {
                    AdminDb::replace_table(c, "main.proxysql_servers", &rt.proxysql_servers)?
                }
                ConfigModule::Scheduler | ConfigModule::Restapi | ConfigModule::MysqlFirewall => {
                    for t in module.tables() {
                        c.execute(&format!("DELETE FROM main.{t}"), [])?;
                        c.execute(
                            &format!("INSERT INTO main.{t} SELECT * FROM main.runtime_{t}"),
                            [],
                        )?;
                    }
                }
            }
            Ok(0)
        })
    }
}

/// DELETE target + INSERT ... SELECT for every table of a module; variables use
/// `INSERT OR REPLACE` without delete (§1.5). Returns the rows copied.
fn copy_module_tables(
    c: &Connection,
    module: ConfigModule,
    from: &str,
    to: &str,
) -> rusqlite::Result<u64> {
    if let Some(prefix) = module.variable_prefix() {
        return c
            .execute(
                &format!("INSERT OR REPLACE INTO {to}.global_variables SELECT * FROM {from}.global_variables WHERE variable_name LIKE '{prefix}%'"),
                [],
            )
            .map(|n| n as u64);
    }
    let mut n = 0;
    for t in module.tables() {
        c.execute(&format!("DELETE FROM {to}.{t}"), [])?;
        n += c.execute(
            &format!("INSERT INTO {to}.{t} SELECT * FROM {from}.{t}"),
            [],
        )? as u64;
    }
    Ok(n)
}
