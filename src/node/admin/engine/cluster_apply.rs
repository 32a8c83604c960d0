//! What the cluster side hands the engine: modules pulled from a peer (§6.6 Apply, §6.7) and
//! monitor-driven changes of the runtime servers.

use super::{in_transaction, sqlite_message, Engine, PulledModule};
use crate::node::admin::db::AdminDb;
use crate::proxysql::checksum;
use crate::proxysql::checksum::table::{ChecksumModule, EpochSource};
use crate::proxysql::clock::unix_now;
use crate::proxysql::columns::HOSTGROUP_TABLES;
use crate::proxysql::resultset::ResultSet;
use crate::proxysql::statement::ConfigModule;
use crate::proxysql::variables;
use crate::px_info;

impl Engine {
    /// Applies a module pulled from a peer (§6.6 Apply, §6.7): MEMORY replaced, loaded to
    /// runtime with the expected checksum and the peer's epoch, saved to disk if `save`.
    pub fn apply_pull(
        &mut self,
        pulled: PulledModule,
        expected: &str,
        epoch: u64,
        save: bool,
    ) -> Result<(), String> {
        let peer = (expected, epoch);
        match pulled {
            PulledModule::QueryRules {
                rules,
                fast_routing,
            } => self.apply_pulled_query_rules(rules, fast_routing, peer, save),
            PulledModule::Users(users) => self.apply_pulled_users(users, peer, save),
            PulledModule::Servers {
                v2,
                hostgroups,
                runtime,
                runtime_expected,
            } => self.apply_pulled_servers(v2, hostgroups, runtime, runtime_expected, peer, save),
            PulledModule::RuntimeServers(rs) => self.apply_pulled_runtime_servers(rs, peer, save),
            PulledModule::Variables { prefix, rows } => {
                self.apply_pulled_variables(prefix, rows, peer, save)
            }
            PulledModule::ProxysqlServers(rs) => self.apply_pulled_proxysql_servers(rs, peer, save),
        }
    }

    /// Rules (made active, as peers only send active ones) and fast routing.
    fn apply_pulled_query_rules(
        &mut self,
        rules: ResultSet,
        fast_routing: ResultSet,
        peer: (&str, u64),
        save: bool,
    ) -> Result<(), String> {
        in_transaction(&self.db.admin, |c| {
            c.execute("DELETE FROM main.mysql_query_rules", [])?;
            c.execute("DELETE FROM main.mysql_query_rules_fast_routing", [])?;
            let mut with_active = rules.clone();
            with_active.columns.push("active".into());
            for row in &mut with_active.rows {
                row.push(Some("1".into()));
            }
            AdminDb::insert_rows(c, "main.mysql_query_rules", &with_active)?;
            AdminDb::insert_rows(c, "main.mysql_query_rules_fast_routing", &fast_routing)
        })
        .map_err(sqlite_text)?;
        self.load_query_rules(Some((rules, fast_routing)), Some(peer))?;
        if save {
            self.copy_tables(ConfigModule::MysqlQueryRules, "main", "disk")
                .map_err(sqlite_text)?;
        }
        Ok(())
    }

    /// Users (made active, as peers only send active ones).
    fn apply_pulled_users(
        &mut self,
        users: ResultSet,
        peer: (&str, u64),
        save: bool,
    ) -> Result<(), String> {
        in_transaction(&self.db.admin, |c| {
            c.execute("DELETE FROM main.mysql_users", [])?;
            let mut with_active = users.clone();
            with_active.columns.push("active".into());
            for row in &mut with_active.rows {
                row.push(Some("1".into()));
            }
            AdminDb::insert_rows(c, "main.mysql_users", &with_active)
        })
        .map_err(sqlite_text)?;
        self.load_users(Some(users), Some(peer))?;
        if save {
            self.copy_tables(ConfigModule::MysqlUsers, "main", "disk")
                .map_err(sqlite_text)?;
        }
        Ok(())
    }

    /// `mysql_servers_v2` and the hostgroup tables, with the runtime servers when the peer
    /// sent them (algorithm 1).
    fn apply_pulled_servers(
        &mut self,
        v2: ResultSet,
        hostgroups: Vec<ResultSet>,
        runtime: Option<ResultSet>,
        runtime_expected: Option<(String, u64)>,
        peer: (&str, u64),
        save: bool,
    ) -> Result<(), String> {
        in_transaction(&self.db.admin, |c| {
            AdminDb::replace_table(c, "main.mysql_servers", &v2)?;
            for ((table, _), rs) in HOSTGROUP_TABLES.iter().zip(&hostgroups) {
                AdminDb::replace_table(c, &format!("main.{table}"), rs)?;
            }
            Ok(())
        })
        .map_err(sqlite_text)?;
        let rt_exp = runtime_expected.as_ref().map(|(c, e)| (c.as_str(), *e));
        let has_runtime = runtime.is_some();
        self.load_servers(runtime, Some(peer), rt_exp)?;
        if save {
            if has_runtime {
                self.save_runtime_to_memory(ConfigModule::MysqlServers)
                    .map_err(sqlite_text)?;
            }
            self.copy_tables(ConfigModule::MysqlServers, "main", "disk")
                .map_err(sqlite_text)?;
        }
        Ok(())
    }

    /// Runtime servers only: installed as they are, MEMORY follows only when saving.
    fn apply_pulled_runtime_servers(
        &mut self,
        servers: ResultSet,
        peer: (&str, u64),
        save: bool,
    ) -> Result<(), String> {
        self.rt.servers = servers;
        let hash = checksum::raw_checksum(&self.rt.runtime_servers_snapshot());
        self.record(ChecksumModule::MysqlServers, hash, Some(peer), true);
        self.shared.publish_runtime(&self.rt);
        if save {
            self.save_runtime_to_memory(ConfigModule::MysqlServers)
                .map_err(sqlite_text)?;
            self.copy_tables(ConfigModule::MysqlServers, "main", "disk")
                .map_err(sqlite_text)?;
        }
        Ok(())
    }

    /// Admin or mysql variables: the peer's rows replace ours, except the ones excluded from
    /// the checksum (they stay node-local).
    fn apply_pulled_variables(
        &mut self,
        prefix: &'static str,
        rows: ResultSet,
        peer: (&str, u64),
        save: bool,
    ) -> Result<(), String> {
        let module = if prefix == "admin-" {
            ConfigModule::AdminVariables
        } else {
            ConfigModule::MysqlVariables
        };
        let csi = self.cluster_sync_interfaces;
        in_transaction(&self.db.admin, |c| {
            let names: Vec<String> = AdminDb::query(
                c,
                &format!("SELECT variable_name FROM main.global_variables WHERE variable_name LIKE '{prefix}%'"),
            )?
            .rows
            .into_iter()
            .filter_map(|r| r[0].clone())
            .collect();
            for name in names {
                if !variables::checksum_excluded(&name, csi) {
                    c.execute("DELETE FROM main.global_variables WHERE variable_name=?1", [&name])?;
                }
            }
            for row in &rows.rows {
                c.execute(
                    "INSERT OR REPLACE INTO main.global_variables VALUES (?1, ?2)",
                    rusqlite::params![row[0], row[1].clone().unwrap_or_default()],
                )?;
            }
            Ok(())
        })
        .map_err(sqlite_text)?;
        self.load_variables(module, Some(peer))?;
        if save {
            in_transaction(&self.db.admin, |c| {
                c.execute(
                    &format!("INSERT OR REPLACE INTO disk.global_variables SELECT * FROM main.global_variables WHERE variable_name LIKE '{prefix}%'"),
                    [],
                )
            })
            .map_err(sqlite_text)?;
        }
        Ok(())
    }

    /// `proxysql_servers`.
    fn apply_pulled_proxysql_servers(
        &mut self,
        servers: ResultSet,
        peer: (&str, u64),
        save: bool,
    ) -> Result<(), String> {
        in_transaction(&self.db.admin, |c| {
            AdminDb::replace_table(c, "main.proxysql_servers", &servers)
        })
        .map_err(sqlite_text)?;
        self.load_proxysql_servers(Some(peer))?;
        if save {
            self.copy_tables(ConfigModule::ProxysqlServers, "main", "disk")
                .map_err(sqlite_text)?;
        }
        Ok(())
    }

    /// Monitor-driven change of the runtime servers (read_only moves, shunning). When the
    /// cluster-visible table changes (§5.3: shunned counts as ONLINE) the `mysql_servers`
    /// checksum and epoch change but not the version (§5.4); plain shunning changes nothing
    /// the cluster sees.
    pub fn set_runtime_servers(&mut self, servers: ResultSet) {
        self.rt.servers = servers;
        let rendered =
            checksum::render(checksum::raw_checksum(&self.rt.runtime_servers_snapshot()));
        let current = self
            .shared
            .checksums
            .lock()
            .get(ChecksumModule::MysqlServers)
            .checksum
            .clone();
        if rendered != current {
            let state = self.shared.checksums.lock().record_rendered(
                ChecksumModule::MysqlServers,
                rendered,
                EpochSource::Now,
                false,
                unix_now(),
            );
            px_info!("Checksum for table mysql_servers is {}", state.checksum);
        }
        self.shared.publish_runtime(&self.rt);
    }
}

/// The apply steps report errors as text (what the cluster log shows).
fn sqlite_text(e: rusqlite::Error) -> String {
    sqlite_message(&e)
}
