//! The admin engine: owns the SQLite handles and the runtime, and executes admin statements.
//!
//! ProxySQL serialises every admin query behind one global mutex (§1.1); here the engine runs
//! on one dedicated thread and sessions talk to it through a channel ([`super::AdminHandle`]).
//! That keeps SQLite (synchronous, `!Sync`) and fsyncs of `SAVE ... TO DISK` off the async
//! runtime, and gives the same one-at-a-time semantics.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rusqlite::Connection;

use super::db::{AdminDb, SqlOutcome};
use super::runtime_layer::{filter_replication_hostgroups, Runtime};
use super::shared::{NodeControl, NodeShared};
use crate::node::monitor::lag::SHUNNED_REPLICATION_LAG;
use crate::proxysql::checksum;
use crate::proxysql::checksum::table::{ChecksumModule, EpochSource};
use crate::proxysql::clock::unix_now;
use crate::proxysql::columns::{
    FAST_ROUTING_COLUMNS, HOSTGROUP_TABLES, QUERY_RULES_COLUMNS, SERVERS_COLUMNS, USERS_COLUMNS,
};
use crate::proxysql::config_file::{ConfigFile, Section};
use crate::proxysql::resultset::ResultSet;
use crate::proxysql::schema::{self, Schema};
use crate::proxysql::statement::{
    classify, normalize, AdminCommand, ConfigModule, Direction, IdentityQuery, ProxysqlCommand,
    ShowCommand,
};
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
}

impl SessionCtx {
    /// A context for the node's own internal statements.
    pub fn internal() -> Self {
        SessionCtx {
            kind: SessionKind::Admin,
            user: "admin".into(),
            client: None,
            cluster_peer: None,
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
        /// The six tables in [`HOSTGROUP_TABLES`] order.
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

/// Extracts the table name of a `PROXY_SELECT ... FROM <table> ...` query.
fn proxy_select_table(norm: &str) -> Option<String> {
    let lower = norm.to_ascii_lowercase();
    let idx = lower.find(" from ")?;
    let rest = &lower[idx + 6..];
    Some(rest.split([' ', ';']).next().unwrap_or("").to_string())
}

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
            for (name, value) in variables::defaults(&self.shared.version) {
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
                    if def.name == "global_settings" {
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
                let checked = match &current {
                    Some(current) => variables::validate_update(&name, &value, current),
                    None => variables::validate(&name, &value),
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

    // ----------------------------------------------------------------------------------------
    // Statement execution
    // ----------------------------------------------------------------------------------------

    /// Executes one statement for a session.
    pub fn execute(&mut self, ctx: &mut SessionCtx, query: &str) -> (Reply, After) {
        let norm = normalize(query);
        let admin = ctx.kind == SessionKind::Admin;
        if let Some((uuid, ifaces)) = &ctx.cluster_peer {
            self.touch_cluster_client(ctx, uuid.clone(), ifaces.clone());
        }
        let cmd = classify(&norm, admin);
        if !matches!(cmd, AdminCommand::ProxySelect(_) | AdminCommand::Empty) {
            self.refresh_on_read(&norm, admin);
        }
        let reply = match cmd {
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
            AdminCommand::LoadOneUser(_) => Reply::ok(),
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

    fn plain_sql(&mut self, ctx: &SessionCtx, query: &str) -> Reply {
        let conn = self.conn(ctx);
        if ctx.kind == SessionKind::Stats {
            let upper = normalize(query).to_ascii_uppercase();
            if upper.starts_with("PRAGMA") || upper.starts_with("ATTACH") {
                return Reply::admin_err("Command not allowed");
            }
        }
        let query_only = ctx.kind == SessionKind::Stats || self.read_only;
        if query_only {
            let _ = conn.execute_batch("PRAGMA query_only=ON");
        }
        let result = AdminDb::run(conn, query);
        if query_only {
            let _ = conn.execute_batch("PRAGMA query_only=OFF");
        }
        match result {
            Ok(SqlOutcome::Rows(rs)) => Reply::Rows(rs, ColumnKind::Text),
            Ok(SqlOutcome::Done { affected }) => Reply::ok_rows(affected),
            Err(e) => Reply::sqlite_err(&e),
        }
    }

    fn identity(&self, ctx: &SessionCtx, q: IdentityQuery) -> Reply {
        let version = self.shared.version.clone();
        let database = match ctx.kind {
            SessionKind::Admin => "admin",
            SessionKind::Stats => "stats",
        };
        let user_at = format!(
            "{}@{}",
            ctx.user,
            ctx.client
                .map(|a| a.ip().to_string())
                .unwrap_or_else(|| "localhost".into())
        );
        match q {
            IdentityQuery::Version { column } => Reply::single(&column, version),
            IdentityQuery::VersionComment => {
                Reply::single("@@version_comment", "(ProxySQL Admin Module)")
            }
            IdentityQuery::VersionConcat => Reply::single(
                "concat(@@version, ' ', @@version_comment)",
                format!("{version} Admin Module"),
            ),
            IdentityQuery::Database { column } => Reply::single(&column, database),
            IdentityQuery::DatabaseUser => {
                let mut rs = ResultSet::with_columns(["DATABASE()", "USER()"]);
                rs.push_row([Some(database.to_string()), Some(ctx.user.clone())]);
                Reply::Rows(rs, ColumnKind::Text)
            }
            IdentityQuery::User { column } => Reply::single(&column, user_at),
            IdentityQuery::TimeDiff => {
                let offset = chrono::Local::now().offset().local_minus_utc();
                let sign = if offset < 0 { "-" } else { "" };
                let o = offset.abs();
                Reply::single(
                    "TIMEDIFF(NOW(), UTC_TIMESTAMP())",
                    format!("{sign}{:02}:{:02}:00", o / 3600, (o % 3600) / 60),
                )
            }
            IdentityQuery::ReadOnly { show } => {
                if show {
                    let mut rs = ResultSet::with_columns(["Variable_name", "Value"]);
                    rs.push_row([
                        Some("read_only"),
                        Some(if self.read_only { "ON" } else { "OFF" }),
                    ]);
                    Reply::Rows(rs, ColumnKind::Text)
                } else {
                    Reply::single("@@global.read_only", if self.read_only { "1" } else { "0" })
                }
            }
        }
    }

    /// `SELECT @@name[, ...]`: each name looked up in global_variables ∪ stats_mysql_global.
    fn select_variables(&mut self, names: &[String]) -> Reply {
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

    fn set_variable(&mut self, ctx: &SessionCtx, name: &str, value: &str) -> Reply {
        if !variables::is_known(name) {
            return Reply::Ok {
                affected: 0,
                info: format!("ERROR: Unknown global variable: '{name}'."),
            };
        }
        if name.eq_ignore_ascii_case("mysql-init_connect") {
            return Reply::admin_err(
                "ProxySQL Admin Error: mysql-init_connect cannot be set with SET",
            );
        }
        let sql = format!(
            "UPDATE global_variables SET variable_value={value} WHERE variable_name={}",
            quote(name)
        );
        self.plain_sql(ctx, &sql)
    }

    fn show(&mut self, ctx: &SessionCtx, show: ShowCommand) -> Reply {
        match show {
            ShowCommand::Sql(sql) => self.plain_sql(ctx, &sql),
            // ProxySQL's answer is PRAGMA DATABASE_LIST of a handle without a temp schema; ours
            // has one (the variable-validation triggers are TEMP), which must not show.
            ShowCommand::Databases => self.plain_sql(
                ctx,
                "SELECT seq, name, file FROM pragma_database_list WHERE name <> 'temp' ORDER BY seq",
            ),
            ShowCommand::CreateTable { schema, table } => {
                let db = schema.unwrap_or_else(|| "main".into());
                if !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Reply::admin_err("ProxySQL Admin Error: unknown database");
                }
                let ddl: Option<String> = self
                    .conn(ctx)
                    .query_row(
                        &format!(
                            "SELECT sql FROM {db}.sqlite_master WHERE type='table' AND name=?1"
                        ),
                        [&table],
                        |r| r.get(0),
                    )
                    .ok();
                match ddl {
                    Some(ddl) => {
                        let mut rs = ResultSet::with_columns(["table", "Create Table"]);
                        rs.push_row([Some(table), Some(schema::show_create_table_format(&ddl))]);
                        Reply::Rows(rs, ColumnKind::Text)
                    }
                    None => Reply::admin_err(format!(
                        "ProxySQL Admin Error: Table '{table}' does not exist"
                    )),
                }
            }
            ShowCommand::Fields(table) => {
                if !table
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    return Reply::admin_err("ProxySQL Admin Error: invalid table name");
                }
                match AdminDb::query(self.conn(ctx), &format!("PRAGMA table_info({table})")) {
                    Ok(info) => {
                        let mut rs = ResultSet::with_columns([
                            "Field", "Type", "Null", "Key", "Default", "Extra",
                        ]);
                        for r in info.rows {
                            let notnull = r[3].as_deref() == Some("1");
                            let pk = r[5].as_deref().is_some_and(|p| p != "0");
                            rs.push_row([
                                r[1].clone(),
                                Some("varchar(255)".into()),
                                Some(if notnull { "NO".into() } else { "YES".into() }),
                                Some(if pk { "PRI".into() } else { String::new() }),
                                r[4].clone(),
                                Some(String::new()),
                            ]);
                        }
                        Reply::Rows(rs, ColumnKind::Text)
                    }
                    Err(e) => Reply::sqlite_err(&e),
                }
            }
        }
    }

    fn proxysql(&mut self, ctx: &mut SessionCtx, cmd: ProxysqlCommand) -> (Reply, After) {
        let control = |c: NodeControl| {
            let _ = self.shared.control.send(c);
        };
        let reply = match cmd {
            ProxysqlCommand::ClusterNodeUuid(args) => return self.cluster_node_uuid(ctx, &args),
            // The shared flag flips before the OK, so `mysql_listener_paused` reads true right
            // after PAUSE (ProxySQL pauses synchronously); the supervisor then closes or
            // reopens the listeners.
            ProxysqlCommand::Pause => {
                if self.shared.traffic_paused.swap(true, Ordering::SeqCst) {
                    Reply::admin_err("ProxySQL MySQL module is already paused, impossible to pause")
                } else {
                    control(NodeControl::PauseTraffic);
                    Reply::ok()
                }
            }
            ProxysqlCommand::Resume => {
                if !self.shared.traffic_paused.swap(false, Ordering::SeqCst) {
                    Reply::admin_err("ProxySQL MySQL module is not paused, impossible to resume")
                } else {
                    control(NodeControl::ResumeTraffic);
                    Reply::ok()
                }
            }
            ProxysqlCommand::Stop => {
                control(NodeControl::StopTraffic);
                Reply::ok()
            }
            ProxysqlCommand::Start => {
                control(NodeControl::StartTraffic);
                Reply::ok()
            }
            ProxysqlCommand::Restart => {
                control(NodeControl::Restart);
                Reply::ok()
            }
            ProxysqlCommand::Kill => {
                px_warn!("Received PROXYSQL KILL command. Exiting immediately");
                control(NodeControl::Kill);
                Reply::ok()
            }
            ProxysqlCommand::ShutdownSlow => {
                control(NodeControl::Shutdown);
                Reply::ok()
            }
            ProxysqlCommand::FlushLogs => match crate::node::logging::reopen() {
                Ok(()) => Reply::ok(),
                Err(e) => Reply::admin_err(format!("Unable to reopen the log: {e}")),
            },
            ProxysqlCommand::ReadOnly => {
                self.read_only = true;
                Reply::ok()
            }
            ProxysqlCommand::ReadWrite => {
                self.read_only = false;
                Reply::ok()
            }
            ProxysqlCommand::NoOp => Reply::ok(),
        };
        (reply, After::Continue)
    }

    /// `PROXYSQL CLUSTER_NODE_UUID <uuid> <ifaces>` (§1.6).
    fn cluster_node_uuid(&mut self, ctx: &mut SessionCtx, args: &str) -> (Reply, After) {
        let bad = || {
            (
                Reply::admin_err("Received PROXYSQL CLUSTER_NODE_UUID with invalid format"),
                After::Disconnect,
            )
        };
        if ctx.client.is_none() {
            return bad();
        }
        let Some((uuid, ifaces)) = args.split_once(' ') else {
            return bad();
        };
        if uuid::Uuid::parse_str(uuid).is_err() || ifaces.trim().is_empty() {
            return bad();
        }
        match &ctx.cluster_peer {
            Some((existing, _)) if existing != uuid => (
                Reply::admin_err("Received PROXYSQL CLUSTER_NODE_UUID with a different UUID"),
                After::Disconnect,
            ),
            _ => {
                ctx.cluster_peer = Some((uuid.to_string(), ifaces.trim().to_string()));
                self.touch_cluster_client(ctx, uuid.to_string(), ifaces.trim().to_string());
                (Reply::ok(), After::Continue)
            }
        }
    }

    fn touch_cluster_client(&self, ctx: &SessionCtx, uuid: String, ifaces: String) {
        if let Some(addr) = ctx.client {
            let _ = self.db.admin.execute(
                "INSERT OR REPLACE INTO stats.stats_proxysql_servers_clients_status VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![uuid, addr.ip().to_string(), addr.port(), ifaces, unix_now() as i64],
            );
        }
    }

    // ----------------------------------------------------------------------------------------
    // Refresh on read (§2.4)
    // ----------------------------------------------------------------------------------------

    fn refresh_on_read(&mut self, norm: &str, admin: bool) {
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

    fn refresh_stats_global(&self) {
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

    // ----------------------------------------------------------------------------------------
    // Peer-facing PROXY_SELECT (§6.8)
    // ----------------------------------------------------------------------------------------

    fn proxy_select(&self, norm: &str) -> Reply {
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

    // ----------------------------------------------------------------------------------------
    // LOAD / SAVE (§1.5)
    // ----------------------------------------------------------------------------------------

    fn load_save(&mut self, module: ConfigModule, dir: Direction) -> Reply {
        let result = match dir {
            Direction::MemoryToRuntime => return self.load_to_runtime(module, None),
            Direction::DiskToMemory => self.copy_tables(module, "disk", "main"),
            Direction::MemoryToDisk => self.copy_tables(module, "main", "disk"),
            Direction::RuntimeToMemory => self.save_runtime_to_memory(module),
            Direction::ConfigToMemory => return self.load_from_config(module),
        };
        match result {
            Ok(affected) => Reply::ok_rows(affected),
            Err(e) => Reply::sqlite_err(&e),
        }
    }

    /// Copies a module's tables between `main` and `disk` in one transaction.
    fn copy_tables(&self, module: ConfigModule, from: &str, to: &str) -> rusqlite::Result<u64> {
        in_transaction(&self.db.admin, |c| copy_module_tables(c, module, from, to))
    }

    fn save_runtime_to_memory(&mut self, module: ConfigModule) -> rusqlite::Result<u64> {
        let rt = &self.rt;
        in_transaction(&self.db.admin, |c| {
            match module {
                ConfigModule::AdminVariables | ConfigModule::MysqlVariables => {
                    let vars = if module == ConfigModule::AdminVariables {
                        &rt.admin_vars
                    } else {
                        &rt.mysql_vars
                    };
                    let mut n = 0;
                    for (k, v) in vars {
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
                    AdminDb::replace_table(c, "main.mysql_users", &rt.users_full)?
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

    fn load_from_config(&mut self, module: ConfigModule) -> Reply {
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

    fn record(
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

    fn load_variables(
        &mut self,
        module: ConfigModule,
        pulled: Option<(&str, u64)>,
    ) -> Result<(), String> {
        let prefix = module.variable_prefix().unwrap_or("admin-");
        let rows = AdminDb::query(
            &self.db.admin,
            &format!("SELECT variable_name, variable_value FROM main.global_variables WHERE variable_name LIKE '{prefix}%' ORDER BY variable_name"),
        )
        .map_err(|e| sqlite_message(&e))?;
        let mut running = if module == ConfigModule::AdminVariables {
            self.rt.admin_vars.clone()
        } else {
            self.rt.mysql_vars.clone()
        };
        let first_load = running.is_empty();
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
                    running.insert(name, v);
                }
                Err(_) => {
                    let current = running.get(&name).cloned().unwrap_or_default();
                    px_warn!(
                        "Impossible to set variable {} with value \"{}\". Resetting to current \"{}\".",
                        name.trim_start_matches(prefix),
                        value,
                        current
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
            // Deprecated switches: admin-checksum_<module>=false forces that module's sync off.
            let forced: Vec<String> = running
                .keys()
                .filter(|k| {
                    variables::checksum_switch_for(k).is_some_and(|switch| {
                        running.get(switch).map(String::as_str) == Some("false")
                    })
                })
                .cloned()
                .collect();
            for k in forced {
                running.insert(k, "0".into());
            }
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

    fn load_query_rules(
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
        self.rt.query_rules_full = full;
        self.shared.publish_runtime(&self.rt);
        Ok(())
    }

    fn load_users(
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
    fn load_servers(
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

    fn load_proxysql_servers(&mut self, pulled: Option<(&str, u64)>) -> Result<(), String> {
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

    /// Applies a module pulled from a peer (§6.6 Apply, §6.7): MEMORY replaced, loaded to
    /// runtime with the expected checksum and the peer's epoch, saved to disk if `save`.
    pub fn apply_pull(
        &mut self,
        pulled: PulledModule,
        expected: &str,
        epoch: u64,
        save: bool,
    ) -> Result<(), String> {
        let err = |e: rusqlite::Error| sqlite_message(&e);
        match pulled {
            PulledModule::QueryRules {
                rules,
                fast_routing,
            } => {
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
                .map_err(err)?;
                self.load_query_rules(Some((rules, fast_routing)), Some((expected, epoch)))?;
                if save {
                    self.copy_tables(ConfigModule::MysqlQueryRules, "main", "disk")
                        .map_err(err)?;
                }
            }
            PulledModule::Users(users) => {
                in_transaction(&self.db.admin, |c| {
                    c.execute("DELETE FROM main.mysql_users", [])?;
                    let mut with_active = users.clone();
                    with_active.columns.push("active".into());
                    for row in &mut with_active.rows {
                        row.push(Some("1".into()));
                    }
                    AdminDb::insert_rows(c, "main.mysql_users", &with_active)
                })
                .map_err(err)?;
                self.load_users(Some(users), Some((expected, epoch)))?;
                if save {
                    self.copy_tables(ConfigModule::MysqlUsers, "main", "disk")
                        .map_err(err)?;
                }
            }
            PulledModule::Servers {
                v2,
                hostgroups,
                runtime,
                runtime_expected,
            } => {
                in_transaction(&self.db.admin, |c| {
                    AdminDb::replace_table(c, "main.mysql_servers", &v2)?;
                    for ((table, _), rs) in HOSTGROUP_TABLES.iter().zip(&hostgroups) {
                        AdminDb::replace_table(c, &format!("main.{table}"), rs)?;
                    }
                    Ok(())
                })
                .map_err(err)?;
                let rt_exp = runtime_expected.as_ref().map(|(c, e)| (c.as_str(), *e));
                let has_runtime = runtime.is_some();
                self.load_servers(runtime, Some((expected, epoch)), rt_exp)?;
                if save {
                    if has_runtime {
                        self.save_runtime_to_memory(ConfigModule::MysqlServers)
                            .map_err(err)?;
                    }
                    self.copy_tables(ConfigModule::MysqlServers, "main", "disk")
                        .map_err(err)?;
                }
            }
            PulledModule::RuntimeServers(rs) => {
                self.rt.servers = rs;
                let hash = checksum::raw_checksum(&self.rt.runtime_servers_snapshot());
                self.record(
                    ChecksumModule::MysqlServers,
                    hash,
                    Some((expected, epoch)),
                    true,
                );
                self.shared.publish_runtime(&self.rt);
                if save {
                    self.save_runtime_to_memory(ConfigModule::MysqlServers)
                        .map_err(err)?;
                    self.copy_tables(ConfigModule::MysqlServers, "main", "disk")
                        .map_err(err)?;
                }
            }
            PulledModule::Variables { prefix, rows } => {
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
                .map_err(err)?;
                self.load_variables(module, Some((expected, epoch)))?;
                if save {
                    in_transaction(&self.db.admin, |c| {
                        c.execute(
                            &format!("INSERT OR REPLACE INTO disk.global_variables SELECT * FROM main.global_variables WHERE variable_name LIKE '{prefix}%'"),
                            [],
                        )
                    })
                    .map_err(err)?;
                }
            }
            PulledModule::ProxysqlServers(rs) => {
                in_transaction(&self.db.admin, |c| {
                    AdminDb::replace_table(c, "main.proxysql_servers", &rs)
                })
                .map_err(err)?;
                self.load_proxysql_servers(Some((expected, epoch)))?;
                if save {
                    self.copy_tables(ConfigModule::ProxysqlServers, "main", "disk")
                        .map_err(err)?;
                }
            }
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

    /// Runs SQL on the admin handle for internal writers (monitor logs, stats).
    pub fn internal_sql(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> rusqlite::Result<usize> {
        self.db.admin.execute(sql, params)
    }

    // ----------------------------------------------------------------------------------------
    // Misc admin commands
    // ----------------------------------------------------------------------------------------

    fn checksum_command(&self, disk: bool, what: &str) -> Reply {
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

    /// A config file in ProxySQL's format reflecting MEMORY (`SELECT CONFIG FILE`).
    fn config_file_text(&self) -> String {
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
}

/// DELETE target + INSERT ... SELECT for every table of a module; variables use
/// `INSERT OR REPLACE` without delete (§1.5). Returns the rows copied.
pub fn copy_module_tables(
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

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
