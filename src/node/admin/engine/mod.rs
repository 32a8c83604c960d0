//! The admin engine: owns the SQLite handles and the runtime, and executes admin statements.
//!
//! ProxySQL serialises every admin query behind one global mutex (§1.1); here the engine runs
//! on one dedicated thread and sessions talk to it through a channel ([`super::AdminHandle`]).
//! That keeps SQLite (synchronous, `!Sync`) and fsyncs of `SAVE ... TO DISK` off the async
//! runtime, and gives the same one-at-a-time semantics.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rusqlite::Connection;

use super::db::{AdminDb, SqlOutcome};
use super::limits::{StatementLimits, Watchdog};
use super::privileges::{Principal, Privileges};
use super::runtime_layer::Runtime;
use super::shared::NodeShared;
use crate::proxysql::config_file::{ConfigFile, Section};
use crate::proxysql::resultset::ResultSet;
use crate::proxysql::schema::{self, Schema};
use crate::proxysql::statement::{classify_with_tables, normalize, AdminCommand, ConfigModule};
use crate::proxysql::variables;
use crate::{px_info, px_warn};

/// Kind of admin session (§1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// Full rights.
    Admin,
    /// Read-only, stats schema.
    Stats,
}

/// What the engine knows of the session a statement came from.
#[derive(Debug, Clone)]
pub struct SessionCtx {
    /// Admin or stats.
    pub kind: SessionKind,
    /// Login name.
    pub user: String,
    /// Client address (None for internal callers).
    pub client: Option<SocketAddr>,
    /// Set by `PROXYSQL CLUSTER_NODE_UUID`: (uuid, admin ifaces).
    pub cluster_peer: Option<(String, String)>,
    /// Raised by the session when its client disconnects: the running statement stops.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl SessionCtx {
    /// A context for the node's own internal statements.
    pub fn internal() -> Self {
        SessionCtx {
            kind: SessionKind::Admin,
            user: "admin".into(),
            client: None,
            cluster_peer: None,
            cancel: None,
        }
    }
}

/// Column typing of a result set sent by the admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// `MYSQL_TYPE_VAR_STRING`, charset 33, length 15: every SQLite answer.
    Text,
    /// `MYSQL_TYPE_LONGLONG` (`SELECT GLOBAL_CHECKSUM()`).
    LongLong,
}

/// The answer to one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// OK packet.
    Ok {
        /// Affected rows.
        affected: u64,
        /// Info text (ProxySQL puts "Unknown global variable" notes here).
        info: String,
    },
    /// ERR packet.
    Err {
        /// MySQL error code.
        code: u16,
        /// SQLSTATE.
        state: &'static str,
        /// Message.
        msg: String,
    },
    /// A result set.
    Rows(ResultSet, ColumnKind),
}

impl Reply {
    fn ok() -> Reply {
        Reply::Ok {
            affected: 0,
            info: String::new(),
        }
    }

    fn ok_rows(affected: u64) -> Reply {
        Reply::Ok {
            affected,
            info: String::new(),
        }
    }

    /// ProxySQL's generic admin error (`send_MySQL_ERR` defaults to 1045/28000).
    pub fn admin_err(msg: impl Into<String>) -> Reply {
        Reply::Err {
            code: 1045,
            state: "28000",
            msg: msg.into(),
        }
    }

    fn sqlite_err(e: &rusqlite::Error) -> Reply {
        let text = sqlite_message(e);
        if text.contains("database is locked") {
            return Reply::Err {
                code: 1205,
                state: "HY000",
                msg: format!("ProxySQL Admin Error: {text}"),
            };
        }
        Reply::admin_err(format!("ProxySQL Admin Error: {text}"))
    }

    fn single(column: &str, value: impl Into<String>) -> Reply {
        let mut rs = ResultSet::with_columns([column]);
        rs.push_row([Some(value.into())]);
        Reply::Rows(rs, ColumnKind::Text)
    }
}

/// SQLite's own message text for an error (what ProxySQL shows after `ProxySQL Admin Error:`).
pub fn sqlite_message(e: &rusqlite::Error) -> String {
    match e {
        // A statement of only comments or whitespace: SQLite prepares nothing and rusqlite
        // reports misuse, where ProxySQL shows sqlite3_errmsg() of SQLITE_OK.
        rusqlite::Error::SqliteFailure(err, _) if err.code == rusqlite::ErrorCode::ApiMisuse => {
            "not an error".to_string()
        }
        rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        rusqlite::Error::UserFunctionError(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

/// What a session must do after the reply besides sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Keep going.
    Continue,
    /// Close the connection (bad CLUSTER_NODE_UUID).
    Disconnect,
}

/// Options a node starts with.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Data directory.
    pub datadir: PathBuf,
    /// Config file, if any.
    pub config: Option<PathBuf>,
    /// `--admin` override of `admin-mysql_ifaces`.
    pub admin_override: Option<String>,
    /// `--initial`.
    pub initial: bool,
    /// Bounds on each client statement (pxadm's own, see `docs/security.md`).
    pub limits: StatementLimits,
}

/// A module pulled from a peer, ready to apply (§6.6 "Apply").
#[derive(Debug, Clone)]
pub enum PulledModule {
    /// Query rules and fast routing, as fetched.
    QueryRules {
        /// Rule rows (snapshot columns).
        rules: ResultSet,
        /// Fast routing rows.
        fast_routing: ResultSet,
    },
    /// Users, as fetched.
    Users(ResultSet),
    /// `mysql_servers_v2`, the six hostgroup tables, and optionally the runtime servers.
    Servers {
        /// v2 rows.
        v2: ResultSet,
        /// The six tables in [`crate::proxysql::columns::HOSTGROUP_TABLES`] order.
        hostgroups: Vec<ResultSet>,
        /// Runtime servers (algorithm 1).
        runtime: Option<ResultSet>,
        /// Expected runtime `mysql_servers` checksum and epoch, when `runtime` is given.
        runtime_expected: Option<(String, u64)>,
    },
    /// Runtime servers only (algorithm 1, no v2 difference).
    RuntimeServers(ResultSet),
    /// Admin or mysql variables rows (name, value).
    Variables {
        /// `admin-` or `mysql-`.
        prefix: &'static str,
        /// Rows.
        rows: ResultSet,
    },
    /// `proxysql_servers` rows.
    ProxysqlServers(ResultSet),
}

/// The engine state; lives on the admin thread.
pub struct Engine {
    db: AdminDb,
    shared: Arc<NodeShared>,
    rt: Runtime,
    opts: EngineOptions,
    config: Option<ConfigFile>,
    cluster_sync_interfaces: bool,
    read_only: bool,
    guards: Guards,
}

/// The authorizer and the progress handler of both SQLite handles.
struct Guards {
    admin_privileges: Privileges,
    stats_privileges: Privileges,
    admin_watchdog: Watchdog,
    stats_watchdog: Watchdog,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Runs `f` inside one transaction (one fsync, all or nothing).
fn in_transaction<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(v) => {
            conn.execute_batch("COMMIT")?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

mod checksum_command;
mod cluster_apply;
mod config_file;
mod identity;
mod load_runtime;
mod load_save;
mod proxy_select;
mod proxysql_commands;
mod refresh;
mod show;
mod typed_values;
mod variable_statements;

impl Engine {
    /// Opens the databases and performs the start-up sequence of §2.2.
    pub fn start(opts: EngineOptions, shared: Arc<NodeShared>) -> anyhow::Result<Engine> {
        std::fs::create_dir_all(&opts.datadir)?;
        let config = match &opts.config {
            Some(path) => Some(crate::node::files::read_config_file(path)?),
            None => None,
        };
        let (db, disk_existed) = AdminDb::open(&opts.datadir, opts.initial)?;
        // pxadm's own stats table lives beside ProxySQL's, so admin and stats sessions see it.
        db.admin
            .execute_batch(&crate::node::vip::STATS_PXADM_VRRP_DDL.replacen(
                "CREATE TABLE ",
                "CREATE TABLE stats.",
                1,
            ))?;
        let guards = Guards {
            admin_privileges: Privileges::install(&db.admin, &opts.datadir),
            stats_privileges: Privileges::install(&db.stats, &opts.datadir),
            admin_watchdog: Watchdog::install(&db.admin),
            stats_watchdog: Watchdog::install(&db.stats),
        };
        let cluster_sync_interfaces = config
            .as_ref()
            .and_then(|c| c.top_level("cluster_sync_interfaces"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let mut engine = Engine {
            db,
            shared,
            rt: Runtime::default(),
            opts,
            config,
            cluster_sync_interfaces,
            read_only: false,
            guards,
        };
        engine.bootstrap(disk_existed)?;
        Ok(engine)
    }

    fn bootstrap(&mut self, disk_existed: bool) -> anyhow::Result<()> {
        let conn = &self.db.admin;
        // Step 2: defaults, existing values win.
        in_transaction(conn, |c| {
            let mut stmt =
                c.prepare("INSERT OR IGNORE INTO main.global_variables VALUES (?1, ?2)")?;
            let mut disk =
                c.prepare("INSERT OR IGNORE INTO disk.global_variables VALUES (?1, ?2)")?;
            // In ProxySQL's order: LOAD applies rows in table order (memory_order_rank).
            let mut defaults = variables::defaults(&self.shared.version);
            defaults.sort_by_key(|(name, _)| variables::memory_order_rank(name));
            for (name, value) in defaults {
                stmt.execute([name, value.as_str()])?;
                disk.execute([name, value.as_str()])?;
            }
            Ok(())
        })?;
        // Step 4: disk wins over defaults.
        in_transaction(conn, |c| {
            for def in schema::tables(Schema::Disk) {
                if def.name == "global_settings" {
                    continue;
                }
                c.execute(
                    &format!(
                        "INSERT OR REPLACE INTO main.{0} SELECT * FROM disk.{0}",
                        def.name
                    ),
                    [],
                )?;
            }
            Ok(())
        })?;
        // Step 5: a new datadir is bootstrapped from the config file.
        if !disk_existed {
            if let Some(cfg) = &self.config {
                let mut statements = Vec::new();
                for section in Section::ALL {
                    statements.extend(cfg.section_statements(section)?);
                }
                for sql in statements {
                    if let Err(e) = conn.execute_batch(&sql) {
                        px_warn!("Config file: {} . Error: {}", sql, sqlite_message(&e));
                    }
                }
            }
            in_transaction(conn, |c| {
                for def in schema::tables(Schema::Disk) {
                    // ProxySQL's bootstrap leaves disk.mysql_collations empty (it is rebuilt
                    // in memory at every start) and keeps its own global_settings.
                    if matches!(def.name, "global_settings" | "mysql_collations") {
                        continue;
                    }
                    c.execute(&format!("DELETE FROM disk.{}", def.name), [])?;
                    c.execute(
                        &format!("INSERT INTO disk.{0} SELECT * FROM main.{0}", def.name),
                        [],
                    )?;
                }
                Ok(())
            })?;
        }
        // Step 3: the node UUID.
        let cfg_uuid = self
            .config
            .as_ref()
            .and_then(|c| c.top_level("uuid"))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let stored: Option<String> = conn
            .query_row(
                "SELECT variable_value FROM disk.global_settings WHERE variable_name='uuid'",
                [],
                |r| r.get(0),
            )
            .ok();
        let uuid = cfg_uuid
            .or(stored)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        conn.execute(
            "INSERT OR REPLACE INTO disk.global_settings VALUES ('uuid', ?1)",
            [&uuid],
        )?;
        *self.shared.uuid.write() = uuid;
        // admin-version is read-only: always the build's string.
        conn.execute(
            "UPDATE main.global_variables SET variable_value=?1 WHERE variable_name='admin-version'",
            [&self.shared.version],
        )?;
        if let Some(ifaces) = &self.opts.admin_override {
            conn.execute(
                "UPDATE main.global_variables SET variable_value=?1 WHERE variable_name='admin-mysql_ifaces'",
                [ifaces],
            )?;
        }
        self.install_variable_validation()?;
        // Steps 6-7: every module loaded once: version 1, epoch now.
        for module in [
            ConfigModule::AdminVariables,
            ConfigModule::MysqlVariables,
            ConfigModule::MysqlUsers,
            ConfigModule::MysqlServers,
            ConfigModule::ProxysqlServers,
            ConfigModule::Scheduler,
            ConfigModule::MysqlQueryRules,
            ConfigModule::Restapi,
            ConfigModule::MysqlFirewall,
        ] {
            if let Reply::Err { msg, .. } = self.load_to_runtime(module, None) {
                anyhow::bail!("start-up load of {} failed: {msg}", module.keyword());
            }
        }
        Ok(())
    }

    /// Refuses invalid variable values at write time, so nothing invalid is stored silently.
    fn install_variable_validation(&self) -> rusqlite::Result<()> {
        use rusqlite::functions::FunctionFlags;
        let shared = self.shared.clone();
        self.db.admin.create_scalar_function(
            "pxadm_check_variable",
            2,
            FunctionFlags::SQLITE_UTF8,
            move |ctx| {
                let name = super::db::value_text(ctx.get_raw(0)).unwrap_or_default();
                let value = super::db::value_text(ctx.get_raw(1)).unwrap_or_default();
                let current = shared.admin_var(&name).or_else(|| shared.mysql_var(&name));
                // mysql-threads only takes effect at start-up: ProxySQL accepts any valid
                // count in memory (SET, SAVE TO DISK, restart) and LOAD keeps the running one.
                let checked = match &current {
                    Some(current) if !name.eq_ignore_ascii_case("mysql-threads") => {
                        variables::validate_update(&name, &value, current)
                    }
                    _ => variables::validate(&name, &value),
                };
                match checked {
                    Ok(_) => Ok(1i64),
                    Err(e) => Err(rusqlite::Error::UserFunctionError(e.to_string().into())),
                }
            },
        )?;
        self.db.admin.execute_batch(
            "CREATE TEMP TRIGGER IF NOT EXISTS pxadm_validate_insert BEFORE INSERT ON main.global_variables \
               BEGIN SELECT pxadm_check_variable(NEW.variable_name, NEW.variable_value); END; \
             CREATE TEMP TRIGGER IF NOT EXISTS pxadm_validate_update BEFORE UPDATE ON main.global_variables \
               BEGIN SELECT pxadm_check_variable(NEW.variable_name, NEW.variable_value); END;",
        )
    }

    /// The running runtime (for tests and the node).
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// Executes one statement for a session.
    pub fn execute(&mut self, ctx: &mut SessionCtx, query: &str) -> (Reply, After) {
        let norm = normalize(query);
        let admin = ctx.kind == SessionKind::Admin;
        if let Some((uuid, ifaces)) = &ctx.cluster_peer {
            self.touch_cluster_client(ctx, uuid.clone(), ifaces.clone());
        }
        let statement = classify_with_tables(&norm, admin);
        // Peers' PROXY_SELECTs read the runtime snapshot directly; nothing to refresh.
        if !matches!(
            statement.command,
            AdminCommand::ProxySelect(_) | AdminCommand::Empty
        ) {
            self.refresh_on_read(&statement.tables, admin);
        }
        let reply = match statement.command {
            AdminCommand::Empty => Reply::admin_err("Query was empty"),
            AdminCommand::LogEntry(text) => {
                px_info!("Received command LOGENTRY: {}", text);
                Reply::ok()
            }
            AdminCommand::ProxySelect(q) => self.proxy_select(&q),
            AdminCommand::GlobalChecksum => {
                let mut rs = ResultSet::with_columns(["CHECKSUM"]);
                rs.push_row([Some(self.shared.checksums.lock().global().to_string())]);
                Reply::Rows(rs, ColumnKind::LongLong)
            }
            AdminCommand::Proxysql(cmd) => return self.proxysql(ctx, cmd),
            AdminCommand::LoadSave(module, dir) => self.load_save(module, dir),
            AdminCommand::LoadOneUser(name) => self.load_one_user(&name),
            AdminCommand::LoadCoredump => self.load_coredump(),
            AdminCommand::KillConnection(id) => self.kill_connection(id),
            AdminCommand::SaveConfigToFile(path) if path.trim().is_empty() => {
                // ProxySQL's text, prefix doubled as it sends it.
                Reply::admin_err("ProxySQL Admin Error: ProxySQL Admin Error: empty file name")
            }
            AdminCommand::SaveConfigToFile(path) => {
                match std::fs::write(&path, self.config_file_text()) {
                    Ok(()) => Reply::ok(),
                    Err(e) => Reply::admin_err(format!("Unable to write {path}: {e}")),
                }
            }
            AdminCommand::SelectConfigFile => Reply::single("Data", self.config_file_text()),
            AdminCommand::Checksum { disk, what } => self.checksum_command(disk, &what),
            AdminCommand::NoOpOk => Reply::ok(),
            AdminCommand::Canned(pairs) => {
                let mut rs = ResultSet::with_columns(pairs.iter().map(|(c, _)| c.clone()));
                rs.push_row(pairs.into_iter().map(|(_, v)| Some(v)));
                Reply::Rows(rs, ColumnKind::Text)
            }
            AdminCommand::Identity(q) => self.identity(ctx, q),
            AdminCommand::SelectVariables(names) => self.select_variables(&names),
            AdminCommand::SetVariable { name, value } => self.set_variable(ctx, &name, &value),
            AdminCommand::Show(show) => self.show(ctx, show),
            AdminCommand::Sql => self.plain_sql(ctx, query),
        };
        (reply, After::Continue)
    }

    fn conn(&self, ctx: &SessionCtx) -> &Connection {
        match ctx.kind {
            SessionKind::Admin => &self.db.admin,
            SessionKind::Stats => &self.db.stats,
        }
    }

    /// Runs a client's own SQL under its privileges (SQLite's authorizer) and the statement
    /// limits; a refusal or an interruption says which rule stopped it.
    fn plain_sql(&mut self, ctx: &SessionCtx, query: &str) -> Reply {
        let conn = self.conn(ctx);
        let (principal, privileges, watchdog) = match ctx.kind {
            SessionKind::Admin => (
                Principal::Admin,
                &self.guards.admin_privileges,
                &self.guards.admin_watchdog,
            ),
            SessionKind::Stats => (
                Principal::Stats,
                &self.guards.stats_privileges,
                &self.guards.stats_watchdog,
            ),
        };
        let query_only = ctx.kind == SessionKind::Stats || self.read_only;
        if query_only {
            let _ = conn.execute_batch("PRAGMA query_only=ON");
        }
        let limits = self.opts.limits;
        let result = watchdog.run(limits.timeout, ctx.cancel.clone(), || {
            privileges.run_as(principal, || {
                AdminDb::run_capped(conn, query, limits.max_result_bytes)
            })
        });
        if query_only {
            let _ = conn.execute_batch("PRAGMA query_only=OFF");
        }
        let refusal = privileges.take_refusal();
        let stop = watchdog.take_stop();
        match result {
            Ok(SqlOutcome::Rows(rs)) => Reply::Rows(rs, ColumnKind::Text),
            Ok(SqlOutcome::Done { affected }) => Reply::ok_rows(affected),
            Err(e) => {
                if let Some(reason) = refusal {
                    px_warn!("Refused admin statement from user {}: {}", ctx.user, reason);
                    Reply::admin_err(format!(
                        "ProxySQL Admin Error: Command not allowed: {reason}"
                    ))
                } else if let Some(stop) = stop {
                    px_warn!("Admin statement of user {}: {}", ctx.user, stop.message());
                    Reply::admin_err(format!("ProxySQL Admin Error: {}", stop.message()))
                } else {
                    Reply::sqlite_err(&e)
                }
            }
        }
    }

    /// Runs SQL on the admin handle for internal writers (monitor logs, stats).
    pub fn internal_sql(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> rusqlite::Result<usize> {
        self.db.admin.execute(sql, params)
    }
}

#[cfg(test)]
mod tests;
