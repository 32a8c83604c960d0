//! `LOAD <module> TO RUNTIME` (§1.5, §5.4): each module validated, checksummed and published
//! to the node, locally or after a cluster pull.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{in_transaction, sqlite_message, Engine, Reply};
use crate::node::admin::db::AdminDb;
use crate::node::admin::runtime_layer::filter_replication_hostgroups;
use crate::node::admin::shared::Vars;
use crate::node::monitor::lag::SHUNNED_REPLICATION_LAG;
use crate::proxysql::checksum;
use crate::proxysql::checksum::table::{ChecksumModule, EpochSource};
use crate::proxysql::clock::unix_now;
use crate::proxysql::columns::{
    FAST_ROUTING_COLUMNS, HOSTGROUP_TABLES, QUERY_RULES_COLUMNS, SERVERS_COLUMNS, USERS_COLUMNS,
};
use crate::proxysql::ifaces::parse_ifaces;
use crate::proxysql::resultset::ResultSet;
use crate::proxysql::statement::ConfigModule;
use crate::proxysql::variables;
use crate::{px_info, px_warn};

impl Engine {
    /// `LOAD <module> TO RUNTIME`, locally (`pulled` is None) or after a cluster pull.
    pub fn load_to_runtime(&mut self, module: ConfigModule, pulled: Option<(&str, u64)>) -> Reply {
        let result = match module {
            ConfigModule::AdminVariables | ConfigModule::MysqlVariables => {
                self.load_variables(module, pulled)
            }
            ConfigModule::MysqlQueryRules => self.load_query_rules(None, pulled),
            ConfigModule::MysqlUsers => self.load_users(None, pulled),
            ConfigModule::MysqlServers => self.load_servers(None, pulled, None),
            ConfigModule::ProxysqlServers => self.load_proxysql_servers(pulled),
            ConfigModule::Scheduler | ConfigModule::Restapi | ConfigModule::MysqlFirewall => {
                in_transaction(&self.db.admin, |c| {
                    for t in module.tables() {
                        c.execute(&format!("DELETE FROM main.runtime_{t}"), [])?;
                        c.execute(
                            &format!("INSERT INTO main.runtime_{t} SELECT * FROM main.{t}"),
                            [],
                        )?;
                    }
                    Ok(())
                })
                .map_err(|e| sqlite_message(&e))
            }
        };
        match result {
            Ok(()) => Reply::ok(),
            Err(msg) => Reply::admin_err(format!("ProxySQL Admin Error: {msg}")),
        }
    }

    pub(super) fn record(
        &self,
        module: ChecksumModule,
        hash: u64,
        pulled: Option<(&str, u64)>,
        bump: bool,
    ) -> crate::proxysql::checksum::table::ModuleChecksum {
        let source = match pulled {
            Some((expected, epoch)) => EpochSource::Peer { expected, epoch },
            None => EpochSource::Now,
        };
        self.shared
            .checksums
            .lock()
            .record_load(module, hash, source, bump, unix_now())
    }

    pub(super) fn load_variables(
        &mut self,
        module: ConfigModule,
        pulled: Option<(&str, u64)>,
    ) -> Result<(), String> {
        let prefix = module.variable_prefix().unwrap_or("admin-");
        let rows = AdminDb::query(
            &self.db.admin,
            &format!("SELECT variable_name, variable_value FROM main.global_variables WHERE variable_name LIKE '{prefix}%' ORDER BY rowid"),
        )
        .map_err(|e| sqlite_message(&e))?;
        let mut running = if module == ConfigModule::AdminVariables {
            self.rt.admin_vars.clone()
        } else {
            self.rt.mysql_vars.clone()
        };
        let first_load = running.is_empty();
        // ProxySQL applies the rows in table order, so whether a deprecated checksum switch
        // zeroes a diffs variable depends on which of the two comes first in memory.
        let mut switches = ChecksumSwitches::new(&running, module == ConfigModule::AdminVariables);
        for row in &rows.rows {
            let (Some(name), value) = (row[0].clone(), row[1].clone().unwrap_or_default()) else {
                continue;
            };
            if !variables::is_known(&name) {
                continue;
            }
            if name == "admin-version" {
                continue; // read-only: always the build's string, set below
            }
            // On a running node some values only take effect at start-up or cannot be
            // cleared (§1.2, §4.3); validate_update keeps the running value for those.
            let checked = match running.get(&name) {
                Some(current) if !first_load => variables::validate_update(&name, &value, current),
                _ => variables::validate(&name, &value),
            };
            match checked {
                Ok(v) => {
                    let v = switches.apply(&name, v, &mut running);
                    running.insert(name, v);
                }
                Err(_) => {
                    let current = running.get(&name).cloned().unwrap_or_default();
                    // ProxySQL's line, but a password or credentials value is never logged.
                    let secret = crate::proxysql::config_file::is_secret_name(&name);
                    let shown = |v: &str| {
                        if secret {
                            "***".to_string()
                        } else {
                            v.to_string()
                        }
                    };
                    px_warn!(
                        "Impossible to set variable {} with value \"{}\". Resetting to current \"{}\".",
                        name.trim_start_matches(prefix),
                        shown(&value),
                        shown(&current)
                    );
                    let _ = self.db.admin.execute(
                        "UPDATE main.global_variables SET variable_value=?2 WHERE variable_name=?1",
                        [&name, &current],
                    );
                }
            }
        }
        if module == ConfigModule::AdminVariables {
            running.insert("admin-version".into(), self.shared.version.clone());
        } else {
            self.reconcile_default_charset(&mut running);
        }
        if module == ConfigModule::AdminVariables && !first_load {
            self.prebind_admin_ifaces(&running)?;
        }
        let csi = self.cluster_sync_interfaces;
        let mut rs = ResultSet::with_columns(["variable_name", "variable_value"]);
        for (k, v) in &running {
            if !variables::checksum_excluded(k, csi) {
                rs.push_row([Some(k.as_str()), Some(v.as_str())]);
            }
        }
        let hash = checksum::raw_checksum(&rs);
        let (cm, what) = if module == ConfigModule::AdminVariables {
            (ChecksumModule::AdminVariables, "ADMIN")
        } else {
            (ChecksumModule::MysqlVariables, "MYSQL")
        };
        let state = self.record(cm, hash, pulled, true);
        px_info!(
            "Computed checksum for 'LOAD {} VARIABLES TO RUNTIME' was '{}', with epoch '{}'",
            what,
            state.checksum,
            state.epoch
        );
        if module == ConfigModule::AdminVariables {
            self.read_only = running.get("admin-read_only").map(String::as_str) == Some("true");
        }
        let running = Arc::new(running);
        if module == ConfigModule::AdminVariables {
            self.rt.admin_vars = (*running).clone();
            self.shared.admin_vars.send_replace(running);
        } else {
            self.rt.mysql_vars = (*running).clone();
            self.shared.mysql_vars.send_replace(running);
        }
        Ok(())
    }

    /// Binds every address `running` adds to `admin-mysql_ifaces` before anything changes,
    /// and leaves the sockets for the admin listener task. If one cannot be bound the LOAD is
    /// refused naming it, and the running listeners stay as they are: a typo never locks the
    /// DBA out (the old listeners would otherwise close before the new bind fails).
    fn prebind_admin_ifaces(&self, running: &Vars) -> Result<(), String> {
        const IFACES: &str = "admin-mysql_ifaces";
        let wanted = parse_ifaces(running.get(IFACES).map(String::as_str).unwrap_or(""));
        let current = parse_ifaces(
            self.rt
                .admin_vars
                .get(IFACES)
                .map(String::as_str)
                .unwrap_or(""),
        );
        if wanted.is_empty() {
            return Err(format!(
                "{IFACES} holds no TCP address: the admin listeners are kept (pxadm serves no UNIX socket)"
            ));
        }
        let mut bound = Vec::new();
        for addr in wanted.iter().filter(|a| !current.contains(a)) {
            let listener = std::net::TcpListener::bind(addr.as_str())
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|e| {
                    format!(
                        "cannot listen on {addr} ({IFACES}): {e}; the admin listeners are unchanged"
                    )
                })?;
            bound.push((addr.clone(), listener));
        }
        self.shared.prebound_admin.lock().extend(bound);
        Ok(())
    }

    /// Makes `mysql-default_charset` and `mysql-default_collation_connection` agree the way
    /// ProxySQL does at load ([`variables::reconcile_default_charset`]), in `running` and in
    /// memory, so a `SET mysql-default_charset='utf8mb4'` leaves both nodes of a mixed
    /// cluster with the same `mysql_variables` checksum.
    fn reconcile_default_charset(&self, running: &mut BTreeMap<String, String>) {
        const CHARSET: &str = "mysql-default_charset";
        const COLLATION: &str = "mysql-default_collation_connection";
        let value = |map: &BTreeMap<String, String>, name: &str, default: &str| {
            map.get(name).cloned().unwrap_or_else(|| default.to_owned())
        };
        // Before the first load ProxySQL's running values are its built-in defaults.
        let previous_charset = value(&self.rt.mysql_vars, CHARSET, "utf8");
        let previous_collation = value(&self.rt.mysql_vars, COLLATION, "utf8_general_ci");
        let loaded_charset = value(running, CHARSET, "utf8");
        let loaded_collation = value(running, COLLATION, "utf8_general_ci");
        let (charset, collation) = variables::reconcile_default_charset(
            &loaded_charset,
            &loaded_collation,
            &previous_charset,
            &previous_collation,
        );
        for (name, loaded, now) in [
            (CHARSET, loaded_charset, charset),
            (COLLATION, loaded_collation, collation),
        ] {
            if loaded != now {
                px_warn!("Changing {name} from \"{loaded}\" to \"{now}\" to match its charset/collation counterpart");
                let _ = self.db.admin.execute(
                    "INSERT OR REPLACE INTO main.global_variables VALUES (?1, ?2)",
                    [name, now.as_str()],
                );
            }
            running.insert(name.to_owned(), now);
        }
    }

    pub(super) fn load_query_rules(
        &mut self,
        fetched: Option<(ResultSet, ResultSet)>,
        pulled: Option<(&str, u64)>,
    ) -> Result<(), String> {
        let conn = &self.db.admin;
        let q = |sql: &str| AdminDb::query(conn, sql).map_err(|e| sqlite_message(&e));
        let (rules, fast) = match fetched {
            Some(pair) => pair,
            None => (
                q(&format!("SELECT {QUERY_RULES_COLUMNS} FROM main.mysql_query_rules WHERE active=1 ORDER BY rule_id"))?,
                q(&format!(
                    "SELECT {FAST_ROUTING_COLUMNS} FROM main.mysql_query_rules_fast_routing ORDER BY username, schemaname, flagIN"
                ))?,
            ),
        };
        let full = q("SELECT * FROM main.mysql_query_rules WHERE active=1 ORDER BY rule_id")?;
        let hash = checksum::query_rules_checksum(&rules, &fast);
        let state = match pulled {
            // A pulled module installs the peer's checksum as announced (§5.4).
            Some((expected, epoch)) => self.shared.checksums.lock().record_rendered(
                ChecksumModule::MysqlQueryRules,
                expected.to_string(),
                EpochSource::Peer { expected, epoch },
                true,
                unix_now(),
            ),
            None => self.record(ChecksumModule::MysqlQueryRules, hash, None, true),
        };
        px_info!(
            "Computed checksum for 'LOAD MYSQL QUERY RULES TO RUNTIME' was '{}', with epoch '{}'",
            state.checksum,
            state.epoch
        );
        self.rt.query_rules = rules;
        self.rt.fast_routing = fast;
        self.rt.query_rules_full = runtime_rules_view(full);
        self.shared.publish_runtime(&self.rt);
        Ok(())
    }

    pub(super) fn load_users(
        &mut self,
        fetched: Option<ResultSet>,
        pulled: Option<(&str, u64)>,
    ) -> Result<(), String> {
        let conn = &self.db.admin;
        let mut users = match fetched {
            Some(rs) => rs,
            None => AdminDb::query(
                conn,
                &format!("SELECT {USERS_COLUMNS} FROM main.mysql_users WHERE active=1 AND default_hostgroup>=0"),
            )
            .map_err(|e| sqlite_message(&e))?,
        };
        // Peers receive NULLs as empty strings (§6.8); the hash treats them alike.
        for row in &mut users.rows {
            for f in row.iter_mut() {
                if f.is_none() {
                    *f = Some(String::new());
                }
            }
        }
        let full = AdminDb::query(
            conn,
            "SELECT * FROM main.mysql_users WHERE active=1 AND default_hostgroup>=0",
        )
        .map_err(|e| sqlite_message(&e))?;
        let hash = checksum::mysql_users_checksum(&users);
        let state = match pulled {
            Some((expected, epoch)) => self.shared.checksums.lock().record_rendered(
                ChecksumModule::MysqlUsers,
                expected.to_string(),
                EpochSource::Peer { expected, epoch },
                true,
                unix_now(),
            ),
            None => self.record(ChecksumModule::MysqlUsers, hash, None, true),
        };
        px_info!(
            "Computed checksum for 'LOAD MYSQL USERS TO RUNTIME' was '{}', with epoch '{}'",
            state.checksum,
            state.epoch
        );
        self.rt.users = users;
        self.rt.users_full = full;
        self.shared.publish_runtime(&self.rt);
        Ok(())
    }

    /// Loads servers from `main` (or installs `runtime_override` as the runtime list).
    pub(super) fn load_servers(
        &mut self,
        runtime_override: Option<ResultSet>,
        pulled_v2: Option<(&str, u64)>,
        pulled_runtime: Option<(&str, u64)>,
    ) -> Result<(), String> {
        let conn = &self.db.admin;
        let q = |sql: &str| AdminDb::query(conn, sql).map_err(|e| sqlite_message(&e));
        let config_servers = q(&format!(
            "SELECT {SERVERS_COLUMNS} FROM main.mysql_servers ORDER BY hostgroup_id, hostname, port"
        ))?;
        let v2 = q(
            "SELECT hostgroup_id, hostname, port, gtid_port, CASE WHEN status=\"SHUNNED\" THEN \"ONLINE\" ELSE status END AS status, weight, compression, max_connections, max_replication_lag, use_ssl, max_latency_ms, comment FROM main.mysql_servers WHERE status != \"OFFLINE_HARD\" ORDER BY hostgroup_id, hostname, port",
        )?;
        let mut tables = Vec::with_capacity(6);
        for (table, key) in HOSTGROUP_TABLES {
            let rs = q(&format!("SELECT * FROM main.{table} ORDER BY {key}"))?;
            let rs = if table == "mysql_replication_hostgroups" {
                let (kept, ignored) = filter_replication_hostgroups(&rs);
                for line in ignored {
                    px_warn!("{}", line);
                }
                kept
            } else {
                rs
            };
            tables.push(rs);
        }
        let mut parts = [0u64; 7];
        parts[0] = checksum::raw_checksum(&v2);
        for (i, t) in tables.iter().enumerate() {
            parts[i + 1] = checksum::raw_checksum(t);
        }
        let v2_hash = checksum::mysql_servers_v2_checksum(parts);
        // Keep live statuses (SHUNNED) of servers that stay.
        let runtime = runtime_override.unwrap_or_else(|| self.merge_live_status(config_servers));
        self.rt.servers = runtime;
        self.rt.servers_v2 = v2;
        self.rt.hostgroup_tables = tables;
        let rt_hash = checksum::raw_checksum(&self.rt.runtime_servers_snapshot());
        let rt_state = self.record(
            ChecksumModule::MysqlServers,
            rt_hash,
            pulled_runtime.or(pulled_v2),
            true,
        );
        px_info!("Checksum for table mysql_servers is {}", rt_state.checksum);
        let v2_state = self.record(ChecksumModule::MysqlServersV2, v2_hash, pulled_v2, true);
        px_info!(
            "New computed global checksum for 'mysql_servers_v2' is '{}'",
            v2_state.checksum
        );
        self.shared.publish_runtime(&self.rt);
        Ok(())
    }

    fn merge_live_status(&self, mut config: ResultSet) -> ResultSet {
        let key = |r: &Vec<Option<String>>| (r[0].clone(), r[1].clone(), r[2].clone());
        let live: BTreeMap<_, _> = self
            .rt
            .servers
            .rows
            .iter()
            .map(|r| (key(r), r[4].clone()))
            .collect();
        let max_lag = config.column_index("max_replication_lag");
        for row in &mut config.rows {
            if row[4].as_deref() == Some("ONLINE") {
                if let Some(Some(st)) = live.get(&key(row)) {
                    // Setting max_replication_lag to 0 re-enables a server shunned for lag
                    // at once, as ProxySQL's commit does.
                    let lag_limit_removed = st == SHUNNED_REPLICATION_LAG
                        && max_lag
                            .and_then(|i| row[i].as_deref())
                            .is_some_and(|v| v.trim() == "0");
                    if st.starts_with("SHUNNED") && !lag_limit_removed {
                        row[4] = Some(st.clone());
                    }
                }
            }
        }
        config
    }

    pub(super) fn load_proxysql_servers(
        &mut self,
        pulled: Option<(&str, u64)>,
    ) -> Result<(), String> {
        let rs = AdminDb::query(
            &self.db.admin,
            "SELECT hostname, port, weight, comment FROM main.proxysql_servers ORDER BY hostname, port",
        )
        .map_err(|e| sqlite_message(&e))?;
        let hash = checksum::raw_checksum(&rs);
        let state = self.record(ChecksumModule::ProxysqlServers, hash, pulled, true);
        px_info!(
            "Computed checksum for 'LOAD PROXYSQL SERVERS TO RUNTIME' was '{}', with epoch '{}'",
            state.checksum,
            state.epoch
        );
        self.rt.proxysql_servers = rs;
        self.shared.publish_runtime(&self.rt);
        Ok(())
    }
}

/// The deprecated `admin-checksum_<module>` switches during one `LOAD ADMIN VARIABLES`, as
/// ProxySQL's `set_variable` applies them row by row in table order: a diffs variable is
/// stored as 0 while its switch is false at that moment (its value before this load if the
/// switch's row comes later), and a switch set to false zeroes its diffs variable at once.
/// A fresh ProxySQL lists the diffs variables before the switches, a node that pulled its
/// admin variables lists them alphabetically (switches first); this node keeps the same
/// orders, so `checksum_X` false then true leaves the diffs at 0 on a fresh node and at the
/// memory value after a pull, on both kinds of node alike.
struct ChecksumSwitches {
    enabled: bool,
    current: BTreeMap<String, String>,
}

impl ChecksumSwitches {
    fn new(running: &BTreeMap<String, String>, admin_module: bool) -> Self {
        Self {
            enabled: admin_module,
            current: running.clone(),
        }
    }

    /// The value to store for `name` (validated as `value`); may zero a diffs variable
    /// already stored in `running`.
    fn apply(
        &mut self,
        name: &str,
        value: String,
        running: &mut BTreeMap<String, String>,
    ) -> String {
        if !self.enabled {
            return value;
        }
        if let Some(switch) = variables::checksum_switch_for(name) {
            if self.current.get(switch).map(String::as_str) == Some("false") {
                return "0".into();
            }
            return value;
        }
        if let Some(diffs) = variables::diffs_variable_for_switch(name) {
            self.current.insert(name.to_owned(), value.clone());
            if value == "false" {
                running.insert(diffs.to_owned(), "0".into());
            }
        }
        value
    }
}

/// `runtime_mysql_query_rules` as ProxySQL renders its parsed rules: `digest` as 16
/// zero-padded hex digits, `re_modifiers` reduced to the flags it knows.
fn runtime_rules_view(mut full: ResultSet) -> ResultSet {
    let digest = full.column_index("digest");
    let modifiers = full.column_index("re_modifiers");
    for row in &mut full.rows {
        if let Some(cell) = digest.and_then(|i| row.get_mut(i)) {
            if let Some(text) = cell.as_deref() {
                let hex = text
                    .strip_prefix("0x")
                    .or_else(|| text.strip_prefix("0X"))
                    .unwrap_or(text);
                if let Ok(n) = u64::from_str_radix(hex, 16) {
                    *cell = Some(format!("0x{n:016X}"));
                }
            }
        }
        if let Some(cell) = modifiers.and_then(|i| row.get_mut(i)) {
            if let Some(text) = cell.as_deref() {
                let known: Vec<String> = text
                    .split(',')
                    .map(|m| m.trim().to_ascii_uppercase())
                    .filter(|m| m == "CASELESS" || m == "GLOBAL")
                    .collect();
                *cell = Some(known.join(","));
            }
        }
    }
    full
}

#[cfg(test)]
mod runtime_rules_view_tests {
    use super::*;

    #[test]
    fn digest_is_padded_and_unknown_modifiers_dropped() {
        let mut rs = ResultSet::with_columns(["rule_id", "digest", "re_modifiers"]);
        rs.push_row([Some("3"), Some("0x1234"), Some("CASELESS")]);
        rs.push_row([Some("5"), None, Some("caseless, GLOBAL")]);
        rs.push_row([Some("6"), Some("not hex"), Some("BOGUS")]);
        let view = runtime_rules_view(rs);
        let cells: Vec<(Option<&str>, Option<&str>)> = view
            .rows
            .iter()
            .map(|r| (r[1].as_deref(), r[2].as_deref()))
            .collect();
        assert_eq!(
            cells,
            [
                (Some("0x0000000000001234"), Some("CASELESS")),
                (None, Some("CASELESS,GLOBAL")),
                (Some("not hex"), Some("")),
            ]
        );
    }
}
