//! Classification of one admin statement, as ProxySQL's `admin_session_handler` does it.
//!
//! Pure functions only: the statement is normalised (§1.4 step 1) and matched against the
//! intercepted forms in pipeline order. Whatever is not intercepted is [`AdminCommand::Sql`]
//! and goes to SQLite. Keeping this free of I/O lets every LOAD/SAVE alias be unit-tested.
//!
//! [`classify_with_tables`] also reports which tables a statement names ([`TableAccess`]), so
//! the node refreshes exactly those stats and runtime tables before it runs (§2.4).

use std::collections::BTreeSet;

use super::schema::{self, Schema};

/// A configuration module of the LOAD/SAVE family (§1.5).
///
/// Named apart from [`crate::proxysql::cluster::state::Module`], the checksum module a peer
/// announces: LOAD/SAVE speaks of configuration tables, the cluster of checksummed sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigModule {
    /// `MYSQL SERVERS` (seven tables).
    MysqlServers,
    /// `MYSQL USERS`.
    MysqlUsers,
    /// `MYSQL QUERY RULES` (rules + fast routing).
    MysqlQueryRules,
    /// `MYSQL VARIABLES` (`mysql-%` rows).
    MysqlVariables,
    /// `ADMIN VARIABLES` (`admin-%` rows).
    AdminVariables,
    /// `PROXYSQL SERVERS`.
    ProxysqlServers,
    /// `SCHEDULER`.
    Scheduler,
    /// `RESTAPI`.
    Restapi,
    /// `MYSQL FIREWALL`.
    MysqlFirewall,
}

impl ConfigModule {
    /// Every module, for completion and tests.
    pub const ALL: [ConfigModule; 9] = [
        ConfigModule::MysqlServers,
        ConfigModule::MysqlUsers,
        ConfigModule::MysqlQueryRules,
        ConfigModule::MysqlVariables,
        ConfigModule::AdminVariables,
        ConfigModule::ProxysqlServers,
        ConfigModule::Scheduler,
        ConfigModule::Restapi,
        ConfigModule::MysqlFirewall,
    ];

    /// The module's words as written in LOAD/SAVE statements.
    pub fn keyword(self) -> &'static str {
        match self {
            ConfigModule::MysqlServers => "MYSQL SERVERS",
            ConfigModule::MysqlUsers => "MYSQL USERS",
            ConfigModule::MysqlQueryRules => "MYSQL QUERY RULES",
            ConfigModule::MysqlVariables => "MYSQL VARIABLES",
            ConfigModule::AdminVariables => "ADMIN VARIABLES",
            ConfigModule::ProxysqlServers => "PROXYSQL SERVERS",
            ConfigModule::Scheduler => "SCHEDULER",
            ConfigModule::Restapi => "RESTAPI",
            ConfigModule::MysqlFirewall => "MYSQL FIREWALL",
        }
    }

    /// The configuration tables the disk/memory copy touches (§1.5).
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            ConfigModule::MysqlServers => &[
                "mysql_servers",
                "mysql_replication_hostgroups",
                "mysql_group_replication_hostgroups",
                "mysql_galera_hostgroups",
                "mysql_aws_aurora_hostgroups",
                "mysql_hostgroup_attributes",
                "mysql_servers_ssl_params",
            ],
            ConfigModule::MysqlUsers => &["mysql_users"],
            ConfigModule::MysqlQueryRules => {
                &["mysql_query_rules", "mysql_query_rules_fast_routing"]
            }
            ConfigModule::MysqlVariables | ConfigModule::AdminVariables => &["global_variables"],
            ConfigModule::ProxysqlServers => &["proxysql_servers"],
            ConfigModule::Scheduler => &["scheduler"],
            ConfigModule::Restapi => &["restapi_routes"],
            ConfigModule::MysqlFirewall => &[
                "mysql_firewall_whitelist_users",
                "mysql_firewall_whitelist_rules",
                "mysql_firewall_whitelist_sqli_fingerprints",
            ],
        }
    }

    /// The `global_variables` prefix for the two variables modules.
    pub fn variable_prefix(self) -> Option<&'static str> {
        match self {
            ConfigModule::MysqlVariables => Some("mysql-"),
            ConfigModule::AdminVariables => Some("admin-"),
            _ => None,
        }
    }

    /// Parses the module words (upper-cased, single-spaced).
    fn parse(words: &str) -> Option<ConfigModule> {
        ConfigModule::ALL.into_iter().find(|m| m.keyword() == words)
    }
}

/// Direction of a LOAD/SAVE statement (§1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// disk → memory
    DiskToMemory,
    /// memory → disk
    MemoryToDisk,
    /// memory → runtime
    MemoryToRuntime,
    /// runtime → memory
    RuntimeToMemory,
    /// config file → memory
    ConfigToMemory,
}

/// `PROXYSQL ...` commands (§1.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxysqlCommand {
    /// `PROXYSQL CLUSTER_NODE_UUID <uuid> <ifaces>` (raw remainder kept for validation).
    ClusterNodeUuid(String),
    /// Stop accepting traffic.
    Pause,
    /// Accept traffic again.
    Resume,
    /// Stop the traffic module.
    Stop,
    /// Start the traffic module.
    Start,
    /// Restart the process in place.
    Restart,
    /// Immediate exit (also `SHUTDOWN`).
    Kill,
    /// Graceful shutdown.
    ShutdownSlow,
    /// Reopen the log file.
    FlushLogs,
    /// Load the TLS certificate and key from the datadir again.
    ReloadTls,
    /// Admin read-only on.
    ReadOnly,
    /// Admin read-only off.
    ReadWrite,
    /// Accepted and acknowledged without effect here (query cache, memory profiling, ...).
    NoOp,
}

/// What one statement is, in pipeline order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// Empty statement.
    Empty,
    /// `LOGENTRY <text>`.
    LogEntry(String),
    /// A `PROXY_SELECT ...` cluster fetch (normalised text kept for matching).
    ProxySelect(String),
    /// `SELECT GLOBAL_CHECKSUM()`.
    GlobalChecksum,
    /// `PROXYSQL ...`.
    Proxysql(ProxysqlCommand),
    /// A LOAD/SAVE of a module.
    LoadSave(ConfigModule, Direction),
    /// `LOAD MYSQL USER <name> TO RUNTIME` (the name as written, validated by the engine).
    LoadOneUser(String),
    /// `LOAD COREDUMP TO RUNTIME` (and its aliases): `coredump_filters` to runtime.
    LoadCoredump,
    /// `KILL CONNECTION <id>`: closes the MySQL session `id` (ProxySQL reads the id with
    /// `atoi`, so `KILL CONNECTION 12abc` kills 12).
    KillConnection(u32),
    /// `SAVE CONFIG TO FILE <path>` / `SELECT CONFIG INTO OUTFILE <path>`.
    SaveConfigToFile(String),
    /// `SELECT CONFIG FILE`.
    SelectConfigFile,
    /// `CHECKSUM [DISK|MEMORY] <module words>`.
    Checksum {
        /// `DISK` rather than memory.
        disk: bool,
        /// The module words, upper-cased.
        what: String,
    },
    /// Statements answered with a bare OK (connector noise, transactions, `USE`).
    NoOpOk,
    /// A fixed one-row answer: column names and values.
    Canned(Vec<(String, String)>),
    /// Identity answer whose value the session knows (`DATABASE()`, `USER()`...).
    Identity(IdentityQuery),
    /// `SELECT @@name` (single variable): looked up in global_variables ∪ stats_mysql_global.
    SelectVariables(Vec<String>),
    /// `SET name = value` of a ProxySQL variable.
    SetVariable {
        /// Variable name (`admin-...`, `mysql-...`).
        name: String,
        /// Value text as written (quotes kept, like ProxySQL's rewrite).
        value: String,
    },
    /// `SHOW ...` rewritten to SQL, or a special form.
    Show(ShowCommand),
    /// Anything else: executed by SQLite as written.
    Sql,
}

/// Identity queries answered from the session (§1.7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityQuery {
    /// `SELECT @@version...`, `SELECT version()`.
    Version {
        /// Column name of the answer.
        column: String,
    },
    /// `select @@version_comment limit 1`.
    VersionComment,
    /// `select concat(@@version, ' ', @@version_comment)`.
    VersionConcat,
    /// `SELECT DATABASE()` (column name given).
    Database {
        /// Column name of the answer.
        column: String,
    },
    /// `select DATABASE(), USER() limit 1`.
    DatabaseUser,
    /// `SELECT current_user()` / `SELECT user()`.
    User {
        /// Column name of the answer.
        column: String,
    },
    /// `SELECT TIMEDIFF(NOW(), UTC_TIMESTAMP())`.
    TimeDiff,
    /// `SELECT @@global.read_only` (`show` for `SHOW GLOBAL VARIABLES LIKE 'read_only'`).
    ReadOnly {
        /// Answer as a SHOW (two columns, ON/OFF) rather than a SELECT (0/1).
        show: bool,
    },
}

/// `SHOW ...` statements (§1.7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowCommand {
    /// Rewritten to this SQL.
    Sql(String),
    /// `SHOW CREATE TABLE [db.]t`.
    CreateTable {
        /// Attached database, `main` when absent.
        schema: Option<String>,
        /// Table name.
        table: String,
    },
    /// `SHOW DATABASES` / `SHOW SCHEMAS`.
    Databases,
    /// `show fields from <t>` / `show table status like '<t>'`-style synthesised answers.
    Fields(String),
    /// `SHOW PROMETHEUS METRICS`: one column `Data` holding the exposition text.
    PrometheusMetrics,
}

/// Normalises a statement like ProxySQL (§1.4 step 1): whitespace runs collapse to one space
/// (inside quotes too), the ends are trimmed, trailing `;` and spaces are stripped.
pub fn normalize(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut pending_space = false;
    for ch in query.chars() {
        if ch.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(ch);
        }
    }
    while out.ends_with(';') || out.ends_with(' ') {
        out.pop();
    }
    out
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// A classified statement: what it is, and which tables it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// What the statement is, as [`classify`] answers.
    pub command: AdminCommand,
    /// The tables the statement reads and writes.
    pub tables: TableAccess,
}

/// Classifies a normalised statement and finds the tables it names, in one call.
pub fn classify_with_tables(norm: &str, admin: bool) -> Classified {
    Classified {
        command: classify(norm, admin),
        tables: TableAccess::of(norm),
    }
}

/// The tables a statement names, lower-case and without their schema (`stats.`, `main.`).
///
/// A name counts when it is a table of one of the node's schemas or a `stats_*`/`runtime_*`
/// name (pxadm adds stats tables of its own). Names inside string literals do not count.
/// The node refreshes a stats or runtime table before any statement naming it, read or
/// write, as ProxySQL does (§2.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableAccess {
    /// Tables read: `FROM`, `JOIN`, subqueries, and what a `SHOW` or `SELECT @@` reads.
    pub reads: BTreeSet<String>,
    /// Tables written: the target of `INSERT`/`REPLACE INTO`, `UPDATE`, `DELETE FROM`.
    pub writes: BTreeSet<String>,
}

impl TableAccess {
    /// The tables a normalised statement names.
    pub fn of(norm: &str) -> TableAccess {
        let lower = norm.to_ascii_lowercase();
        let mut access = TableAccess::default();
        // Both are answered from stats tables their text does not name: `SELECT @@name`
        // falls back to stats_mysql_global, `SHOW [FULL] PROCESSLIST` reads the processlist.
        if lower.starts_with("select @@") {
            access.reads.insert("stats_mysql_global".into());
        }
        if lower == "show processlist" || lower == "show full processlist" {
            access.reads.insert("stats_mysql_processlist".into());
        }
        let words = identifier_words(&lower);
        let mut i = 0;
        while i < words.len() {
            let word = words[i];
            let names_write_target = matches!(word, "into" | "update")
                || (word == "from" && i > 0 && words[i - 1] == "delete");
            if names_write_target {
                // `UPDATE OR IGNORE t`, `INSERT OR REPLACE INTO t`: the conflict clause is no table.
                let mut target = i + 1;
                if words.get(target) == Some(&"or") {
                    target += 2;
                }
                if let Some(name) = words.get(target).map(|w| unqualified(w)) {
                    if is_table_name(name) {
                        access.writes.insert(name.to_string());
                    }
                    i = target + 1;
                    continue;
                }
            } else if is_table_name(unqualified(word)) {
                access.reads.insert(unqualified(word).to_string());
            }
            i += 1;
        }
        access
    }

    /// Whether the statement names `table`, read or written.
    pub fn mentions(&self, table: &str) -> bool {
        self.reads.contains(table) || self.writes.contains(table)
    }

    /// Whether the statement names any of `tables`.
    pub fn mentions_any(&self, tables: &[&str]) -> bool {
        tables.iter().any(|t| self.mentions(t))
    }
}

/// The words of a lower-cased statement that can name something (`[a-z0-9_.$]` runs), with
/// single-quoted string literals skipped; backticks and double quotes just delimit.
fn identifier_words(lower: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let mut in_literal = false;
    for (i, ch) in lower.char_indices() {
        if in_literal {
            // A doubled quote ('') ends and restarts the literal: same outcome.
            in_literal = ch != '\'';
            continue;
        }
        let word_char = ch.is_ascii_alphanumeric() || ch == '_' || ch == '.' || ch == '$';
        match (word_char, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                words.push(&lower[s..i]);
                start = None;
            }
            _ => {}
        }
        if ch == '\'' {
            in_literal = true;
        }
    }
    if let Some(s) = start {
        words.push(&lower[s..]);
    }
    words
}

/// `stats.stats_mysql_global` → `stats_mysql_global`.
fn unqualified(word: &str) -> &str {
    word.rsplit('.').next().unwrap_or(word)
}

fn is_table_name(word: &str) -> bool {
    let is_schema = Schema::ALL.into_iter().any(|s| s.default_name() == word);
    let known = Schema::ALL
        .into_iter()
        .any(|s| schema::table(s, word).is_some());
    !is_schema && (known || word.starts_with("stats_") || word.starts_with("runtime_"))
}

/// Classifies a normalised statement for an admin (`admin == true`) or stats session.
pub fn classify(norm: &str, admin: bool) -> AdminCommand {
    if norm.is_empty() {
        return AdminCommand::Empty;
    }
    let upper = norm.to_ascii_uppercase();
    if admin {
        if let Some(rest) = strip_prefix_ci(norm, "LOGENTRY ") {
            return AdminCommand::LogEntry(rest.to_string());
        }
        if starts_with_ci(norm, "PROXY_SELECT ") {
            return AdminCommand::ProxySelect(norm.to_string());
        }
    }
    if upper == "SELECT GLOBAL_CHECKSUM()" && admin {
        return AdminCommand::GlobalChecksum;
    }
    if admin {
        if let Some(rest) = strip_prefix_ci(norm, "PROXYSQL ") {
            if let Some(cmd) = parse_proxysql(rest) {
                return AdminCommand::Proxysql(cmd);
            }
            return AdminCommand::Sql;
        }
        if let Some(rest) = strip_prefix_ci(norm, "KILL CONNECTION ") {
            let id = u32::try_from(leading_integer(rest)).unwrap_or(0);
            return AdminCommand::KillConnection(id);
        }
        if upper.starts_with("LOAD ") || upper.starts_with("SAVE ") {
            if let Some(cmd) = parse_load_save(&upper, norm) {
                return cmd;
            }
        }
        if let Some(cmd) = parse_checksum(&upper) {
            return cmd;
        }
        if upper == "SELECT CONFIG FILE" {
            return AdminCommand::SelectConfigFile;
        }
        if let Some(path) = strip_prefix_ci(norm, "SELECT CONFIG INTO OUTFILE ") {
            return AdminCommand::SaveConfigToFile(unquote(path).to_string());
        }
        if is_noise(&upper) {
            return AdminCommand::NoOpOk;
        }
    }
    if is_transaction_noise(&upper) {
        return AdminCommand::NoOpOk;
    }
    if let Some(cmd) = parse_identity(&upper) {
        return cmd;
    }
    if let Some(cmd) = parse_select_variables(norm) {
        return cmd;
    }
    if let Some(cmd) = parse_set(norm, &upper) {
        return cmd;
    }
    if let Some(show) = parse_show(norm, &upper) {
        return AdminCommand::Show(show);
    }
    AdminCommand::Sql
}

/// C's `atoi`: optional blanks and sign, then leading digits (0 without any), saturating.
fn leading_integer(text: &str) -> i64 {
    let t = text.trim_start();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let n = digits[..end]
        .parse::<i64>()
        .unwrap_or(if end == 0 { 0 } else { i64::MAX });
    if negative {
        -n
    } else {
        n
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    starts_with_ci(s, prefix).then(|| &s[prefix.len()..])
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['\'', '"', '`'] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

fn parse_proxysql(rest: &str) -> Option<ProxysqlCommand> {
    let upper = rest.to_ascii_uppercase();
    if let Some(args) = strip_prefix_ci(rest, "CLUSTER_NODE_UUID") {
        return Some(ProxysqlCommand::ClusterNodeUuid(args.trim().to_string()));
    }
    Some(match upper.as_str() {
        "PAUSE" => ProxysqlCommand::Pause,
        "RESUME" => ProxysqlCommand::Resume,
        "STOP" => ProxysqlCommand::Stop,
        "START" => ProxysqlCommand::Start,
        "RESTART" => ProxysqlCommand::Restart,
        "KILL" | "SHUTDOWN" => ProxysqlCommand::Kill,
        "SHUTDOWN SLOW" => ProxysqlCommand::ShutdownSlow,
        "FLUSH LOGS" => ProxysqlCommand::FlushLogs,
        "RELOAD TLS" => ProxysqlCommand::ReloadTls,
        "READONLY" => ProxysqlCommand::ReadOnly,
        "READWRITE" => ProxysqlCommand::ReadWrite,
        "FLUSH QUERY CACHE"
        | "FLUSH MYSQL CLIENT HOSTS"
        | "FLUSH CONFIGDB"
        | "MEMPROFILE START"
        | "MEMPROFILE STOP" => ProxysqlCommand::NoOp,
        _ => return None,
    })
}

/// Parses `LOAD|SAVE <module> <direction words>` with every alias of §1.5.
fn parse_load_save(upper: &str, norm: &str) -> Option<AdminCommand> {
    let (verb, rest) = upper.split_once(' ')?;
    if verb == "LOAD" {
        if let Some(name) = rest.strip_prefix("MYSQL USER ") {
            if let Some(name) = name.strip_suffix(" TO RUNTIME") {
                // Keep the user name's original case.
                let start = norm.len() - " TO RUNTIME".len() - name.len();
                return Some(AdminCommand::LoadOneUser(
                    norm[start..start + name.len()].to_string(),
                ));
            }
        }
    }
    if verb == "SAVE" {
        if rest == "MYSQL DIGEST TO DISK" {
            return Some(AdminCommand::NoOpOk);
        }
        if rest.starts_with("CONFIG TO FILE ") {
            let path = &norm["SAVE CONFIG TO FILE ".len()..];
            return Some(AdminCommand::SaveConfigToFile(unquote(path).to_string()));
        }
        if rest == "CONFIG TO FILE" {
            // ProxySQL parses it and then refuses the empty name.
            return Some(AdminCommand::SaveConfigToFile(String::new()));
        }
    }
    const SUFFIXES: &[(&str, &str, Direction)] = &[
        ("LOAD", " FROM DISK", Direction::DiskToMemory),
        ("LOAD", " TO MEMORY", Direction::DiskToMemory),
        ("LOAD", " TO MEM", Direction::DiskToMemory),
        ("SAVE", " TO DISK", Direction::MemoryToDisk),
        ("SAVE", " FROM MEMORY", Direction::MemoryToDisk),
        ("SAVE", " FROM MEM", Direction::MemoryToDisk),
        ("LOAD", " TO RUNTIME", Direction::MemoryToRuntime),
        ("LOAD", " TO RUN", Direction::MemoryToRuntime),
        ("LOAD", " FROM MEMORY", Direction::MemoryToRuntime),
        ("LOAD", " FROM MEM", Direction::MemoryToRuntime),
        ("SAVE", " TO MEMORY", Direction::RuntimeToMemory),
        ("SAVE", " TO MEM", Direction::RuntimeToMemory),
        ("SAVE", " FROM RUNTIME", Direction::RuntimeToMemory),
        ("SAVE", " FROM RUN", Direction::RuntimeToMemory),
        ("LOAD", " FROM CONFIG", Direction::ConfigToMemory),
    ];
    for (v, suffix, dir) in SUFFIXES {
        if *v == verb {
            if let Some(words) = rest.strip_suffix(suffix) {
                // Modules a ProxySQL built without them still accepts: every standard form
                // is an OK no-op, so loops over all modules keep working.
                if matches!(words, "SQLITESERVER VARIABLES" | "CLICKHOUSE VARIABLES")
                    && *dir != Direction::ConfigToMemory
                {
                    return Some(AdminCommand::NoOpOk);
                }
                if words == "COREDUMP" {
                    return (*dir == Direction::MemoryToRuntime)
                        .then_some(AdminCommand::LoadCoredump);
                }
                if let Some(module) = ConfigModule::parse(words) {
                    return Some(AdminCommand::LoadSave(module, *dir));
                }
            }
        }
    }
    None
}

fn parse_checksum(upper: &str) -> Option<AdminCommand> {
    let rest = upper.strip_prefix("CHECKSUM ")?;
    let (disk, what) = if let Some(w) = rest.strip_prefix("DISK ") {
        (true, w)
    } else if let Some(w) = rest.strip_prefix("MEMORY ") {
        (false, w)
    } else if let Some(w) = rest.strip_prefix("MEM ") {
        (false, w)
    } else {
        (false, rest)
    };
    Some(AdminCommand::Checksum {
        disk,
        what: what.to_string(),
    })
}

/// mysqldump / connector statements answered with OK (§1.4 step 12).
fn is_noise(upper: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "/*!40014 SET ",
        "/*!40101 SET ",
        "/*!40103 SET ",
        "/*!40111 SET ",
        "/*!80000 SET ",
        "/*!50503 SET ",
        "/*!50717 SET ",
        "/*!50717 SELECT ",
        "/*!50717 PREPARE ",
        "/*!50717 EXECUTE ",
        "/*!50717 DEALLOCATE ",
        "/*!50112 ",
        "/*!40000 ALTER TABLE",
        "/*!40100 SET @@SQL_MODE='' */",
        "LOCK TABLES",
        "UNLOCK TABLES",
        "SET SQL_QUOTE_SHOW_CREATE=1",
        "SET SESSION CHARACTER_SET_RESULTS",
        "USE ",
    ];
    upper == "USE" || PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// Transaction and session statements that are OK no-ops (§1.4 step 14, §1.7.2).
fn is_transaction_noise(upper: &str) -> bool {
    const EXACT: &[&str] = &[
        "BEGIN",
        "START TRANSACTION",
        "COMMIT",
        "ROLLBACK",
        "SIGNAL MYSQL THREADS",
    ];
    const PREFIXES: &[&str] = &[
        "SET SQL_SAFE_UPDATES=1",
        "SET CHARACTER_SET_RESULTS",
        "SET SQL_AUTO_IS_NULL",
        "SET NAMES",
        "SET AUTOCOMMIT",
        "SET @@SESSION.AUTOCOMMIT",
        "SET SESSION AUTOCOMMIT",
    ];
    EXACT.contains(&upper) || PREFIXES.iter().any(|p| upper.starts_with(p))
}

fn parse_identity(upper: &str) -> Option<AdminCommand> {
    use IdentityQuery as I;
    let cmd = match upper {
        "SELECT @@VERSION_COMMENT LIMIT 1" => I::VersionComment,
        "SELECT CONCAT(@@VERSION, ' ', @@VERSION_COMMENT)" => I::VersionConcat,
        "SELECT DATABASE(), USER() LIMIT 1" => I::DatabaseUser,
        "SELECT DATABASE()" => I::Database {
            column: "DATABASE()".into(),
        },
        "SELECT DATABASE() AS NAME" => I::Database {
            column: "name".into(),
        },
        // ProxySQL names these columns in lower case whatever the client typed.
        "SELECT CURRENT_USER()" => I::User {
            column: "current_user()".into(),
        },
        "SELECT USER()" => I::User {
            column: "user()".into(),
        },
        _ if upper.starts_with("SELECT TIMEDIFF(NOW(), UTC_TIMESTAMP())") => I::TimeDiff,
        _ if upper.starts_with("SELECT @@VERSION") && !upper.starts_with("SELECT @@VERSION_") => {
            I::Version {
                column: "@@version".into(),
            }
        }
        _ if upper.starts_with("SELECT @@VERSION_COMMENT") => I::Version {
            column: "@@version".into(),
        },
        _ if upper.starts_with("SELECT VERSION()") => I::Version {
            column: "version()".into(),
        },
        "SHOW GLOBAL VARIABLES LIKE 'VERSION'" => {
            return Some(AdminCommand::Show(ShowCommand::Sql(
                "SELECT 'version' AS Variable_name, variable_value AS Value FROM global_variables WHERE variable_name='admin-version'".into(),
            )))
        }
        _ => return parse_canned(upper),
    };
    Some(AdminCommand::Identity(cmd))
}

fn canned(pairs: &[(&str, &str)]) -> AdminCommand {
    AdminCommand::Canned(
        pairs
            .iter()
            .map(|(c, v)| (c.to_string(), v.to_string()))
            .collect(),
    )
}

fn parse_canned(upper: &str) -> Option<AdminCommand> {
    if upper.starts_with("SELECT @@SQL_MODE") {
        return Some(canned(&[("@@sql_mode", "")]));
    }
    if upper.starts_with("SELECT CONNECTION_ID()") {
        return Some(canned(&[("CONNECTION_ID()", "0")]));
    }
    if upper.starts_with("SELECT @@COLLATION_DATABASE") {
        return Some(canned(&[("@@collation_database", "utf8_general_ci")]));
    }
    if upper == "SELECT @@CHARACTER_SET_CLIENT, @@CHARACTER_SET_CONNECTION, @@CHARACTER_SET_SERVER, @@CHARACTER_SET_DATABASE LIMIT 1" {
        return Some(canned(&[
            ("@@character_set_client", "utf8"),
            ("@@character_set_connection", "utf8"),
            ("@@character_set_server", "utf8"),
            ("@@character_set_database", "utf8"),
        ]));
    }
    if upper.starts_with("SELECT @@MAX_ALLOWED_PACKET, @@CHARACTER_SET_CLIENT, @@CHARACTER_SET_CONNECTION, @@LICENSE, @@SQL_MODE, @@LOWER_CASE_TABLE_NAMES") {
        return Some(canned(&[
            ("@@max_allowed_packet", "67108864"),
            ("@@character_set_client", "utf8"),
            ("@@character_set_connection", "utf8"),
            ("@@license", ""),
            ("@@sql_mode", ""),
            ("@@lower_case_table_names", ""),
        ]));
    }
    if upper == "SELECT @@GLOBAL.READ_ONLY" || upper == "SHOW GLOBAL VARIABLES LIKE 'READ_ONLY'" {
        return Some(AdminCommand::Identity(IdentityQuery::ReadOnly {
            show: upper.starts_with("SHOW"),
        }));
    }
    None
}

/// `SELECT @@a[, @@b ...]` with nothing else: a variable lookup. ProxySQL rewrites only the
/// first item (so two items are invalid SQL there); answering every item is a documented
/// superset (§1.7.5) that lets clients such as mysql_async connect with default options.
fn parse_select_variables(norm: &str) -> Option<AdminCommand> {
    let rest = strip_prefix_ci(norm, "SELECT ")?;
    let mut names = Vec::new();
    for item in rest.split(',') {
        let item = item.trim();
        let name = item.strip_prefix("@@")?;
        let name = strip_prefix_ci(name, "session.")
            .or_else(|| strip_prefix_ci(name, "global."))
            .unwrap_or(name);
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return None;
        }
        names.push(name.to_string());
    }
    (!names.is_empty()).then_some(AdminCommand::SelectVariables(names))
}

fn parse_set(norm: &str, upper: &str) -> Option<AdminCommand> {
    if !upper.starts_with("SET ") {
        return None;
    }
    // Like ProxySQL: split at the first '=' (none: an empty value) and look the name up;
    // an unknown name (`SESSION sql_mode`, `TRANSACTION ISOLATION LEVEL ...`, `CHARACTER SET
    // utf8`: what drivers send on connect) is an OK with an info message.
    let body = &norm[4..];
    let (name, value) = body.split_once('=').unwrap_or((body, ""));
    let name = name.trim();
    let value = value.trim();
    Some(AdminCommand::SetVariable {
        name: name.trim_start_matches("@@").to_string(),
        value: value.to_string(),
    })
}

fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The start-up queries of MariaDB Connector/J, answered with fixed rows like ProxySQL.
const CONNECTOR_J_VARIABLES: [(&str, &str); 2] = [
    (
        "SHOW VARIABLES WHERE VARIABLE_NAME IN ('MAX_ALLOWED_PACKET','SYSTEM_TIME_ZONE','TIME_ZONE','SQL_MODE')",
        "SELECT 'max_allowed_packet' Variable_name,'4194304' Value UNION ALL SELECT 'sql_mode', 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION' UNION ALL SELECT 'system_time_zone', 'UTC' UNION ALL SELECT 'time_zone','SYSTEM'",
    ),
    (
        "SHOW VARIABLES WHERE VARIABLE_NAME IN ('MAX_ALLOWED_PACKET','SYSTEM_TIME_ZONE','TIME_ZONE','AUTO_INCREMENT_INCREMENT')",
        "SELECT 'max_allowed_packet' Variable_name,'4194304' Value UNION ALL SELECT 'auto_increment_increment', '1' UNION ALL SELECT 'system_time_zone', 'UTC' UNION ALL SELECT 'time_zone','SYSTEM'",
    ),
];

fn parse_show(norm: &str, upper: &str) -> Option<ShowCommand> {
    if !upper.starts_with("SHOW ") {
        return None;
    }
    if let Some((_, sql)) = CONNECTOR_J_VARIABLES
        .iter()
        .find(|(prefix, _)| upper.starts_with(prefix))
    {
        return Some(ShowCommand::Sql((*sql).to_string()));
    }
    let var_cols =
        "SELECT variable_name AS Variable_name, variable_value AS Value FROM global_variables";
    let tables_sql = |db: &str, extra: &str| {
        format!(
            "SELECT name AS tables FROM {db}sqlite_master WHERE type='table' AND name NOT IN ('sqlite_sequence'){extra} ORDER BY name"
        )
    };
    let show = match upper {
        "SHOW TABLES" => ShowCommand::Sql(tables_sql("", "")),
        "SHOW DATABASES" | "SHOW SCHEMAS" => ShowCommand::Databases,
        "SHOW PROMETHEUS METRICS" => ShowCommand::PrometheusMetrics,
        "SHOW MYSQL USERS" => ShowCommand::Sql("SELECT * FROM mysql_users ORDER BY username".into()),
        "SHOW MYSQL SERVERS" => {
            ShowCommand::Sql("SELECT * FROM mysql_servers ORDER BY hostgroup_id, hostname, port".into())
        }
        "SHOW VARIABLES" | "SHOW GLOBAL VARIABLES" | "SHOW ALL VARIABLES" => {
            ShowCommand::Sql(format!("{var_cols} ORDER BY variable_name"))
        }
        "SHOW ADMIN VARIABLES" => ShowCommand::Sql(format!(
            "{var_cols} WHERE variable_name LIKE 'admin-%' ORDER BY variable_name"
        )),
        "SHOW MYSQL VARIABLES" => ShowCommand::Sql(format!(
            "{var_cols} WHERE variable_name LIKE 'mysql-%' ORDER BY variable_name"
        )),
        "SHOW MYSQL STATUS" => ShowCommand::Sql(
            "SELECT Variable_Name AS Variable_name, Variable_Value AS Value FROM stats_mysql_global ORDER BY variable_name".into(),
        ),
        "SHOW PROCESSLIST" => ShowCommand::Sql(
            "SELECT SessionID, user, db, hostgroup, command, time_ms, SUBSTR(info, 0, 100) info FROM stats_mysql_processlist".into(),
        ),
        "SHOW FULL PROCESSLIST" => ShowCommand::Sql("SELECT * FROM stats_mysql_processlist".into()),
        "SHOW CHARSET" => ShowCommand::Sql(
            "SELECT Charset, Collation AS 'Default collation' FROM mysql_collations WHERE `Default`='Yes'".into(),
        ),
        "SHOW COLLATION" => ShowCommand::Sql("SELECT * FROM mysql_collations".into()),
        _ => {
            if let Some(rest) = strip_prefix_ci(norm, "SHOW TABLES FROM ")
                .or_else(|| strip_prefix_ci(norm, "SHOW TABLES IN "))
            {
                let is_ident = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                let db = unquote(rest);
                if let Some((db, pat)) = rest
                    .split_once(' ')
                    .filter(|(db, tail)| is_ident(db) && tail.len() > 5 && tail[..5].eq_ignore_ascii_case("LIKE "))
                    .map(|(db, tail)| (db, &tail[5..]))
                {
                    // ProxySQL pastes everything after FROM in front of `.sqlite_master`, so
                    // SQLite refuses at the pattern; the same text (pattern re-quoted) gives
                    // the same error here without letting anything else through.
                    return Some(ShowCommand::Sql(tables_sql(
                        &format!("{db} LIKE {}.", sql_quote(unquote(pat))),
                        "",
                    )));
                }
                if !is_ident(db) {
                    return None;
                }
                ShowCommand::Sql(tables_sql(&format!("{db}."), ""))
            } else if let Some(pat) = strip_prefix_ci(norm, "SHOW TABLES LIKE ") {
                // ProxySQL's rewrite has no ORDER BY here: tables come in creation order.
                ShowCommand::Sql(format!(
                    "SELECT name AS tables FROM sqlite_master WHERE type='table' AND name LIKE {}",
                    sql_quote(unquote(pat))
                ))
            } else if let Some(rest) = strip_prefix_ci(norm, "SHOW CREATE TABLE ") {
                let name = unquote(rest);
                let (schema, table) = match name.split_once('.') {
                    Some((s, t)) => (Some(unquote(s).to_string()), unquote(t).to_string()),
                    None => (None, name.to_string()),
                };
                ShowCommand::CreateTable { schema, table }
            } else if let Some(rest) = strip_prefix_ci(norm, "SHOW FIELDS FROM ")
                .or_else(|| strip_prefix_ci(norm, "SHOW COLUMNS FROM "))
            {
                ShowCommand::Fields(unquote(rest).to_string())
            } else if let Some(rest) = ["SHOW VARIABLES ", "SHOW GLOBAL VARIABLES ", "SHOW SESSION VARIABLES "]
                .iter()
                .find_map(|p| strip_prefix_ci(norm, p))
            {
                // In table order, as ProxySQL's rewrite has no ORDER BY.
                if let Some(pat) = strip_prefix_ci(rest, "LIKE ") {
                    ShowCommand::Sql(format!(
                        "{var_cols} WHERE variable_name LIKE {}",
                        sql_quote(unquote(pat))
                    ))
                } else if let Some(cond) = strip_prefix_ci(rest, "WHERE ") {
                    ShowCommand::Sql(format!("SELECT * FROM ({var_cols}) WHERE {cond}"))
                } else {
                    return None;
                }
            } else {
                return None;
            }
        }
    };
    Some(show)
}

/// Splits a SQL script into statements at `;` outside quotes and comments, like the mysql
/// client does for `source` and piped input. `--`/`#` line comments and `/* */` blocks are
/// dropped (but `/*!` version comments are kept, as mysqldump relies on them).
pub fn split_statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = script.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            cur.push(c);
            if c == '\\' && q != '`' {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => {
                quote = Some(c);
                cur.push(c);
            }
            '-' if chars.peek() == Some(&'-') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        cur.push('\n');
                        break;
                    }
                }
            }
            '#' => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        cur.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let keep = chars.peek() == Some(&'!');
                if keep {
                    cur.push_str("/*");
                }
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if keep {
                        cur.push(n);
                    }
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
            }
            ';' => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn access(sql: &str) -> TableAccess {
        classify_with_tables(&normalize(sql), true).tables
    }

    #[test]
    fn table_access_of_a_plain_select() {
        let a = access("SELECT * FROM stats_mysql_global");
        assert_eq!(a.reads, names(&["stats_mysql_global"]));
        assert!(a.writes.is_empty());
        assert_eq!(
            access("select * from stats.stats_mysql_query_digest_reset").reads,
            names(&["stats_mysql_query_digest_reset"])
        );
    }

    #[test]
    fn table_access_of_a_join_and_a_subquery() {
        let a = access(
            "SELECT s.hostname FROM runtime_mysql_servers s JOIN stats.stats_mysql_connection_pool p \
             ON s.hostname = p.srv_host WHERE s.hostgroup_id IN \
             (SELECT writer_hostgroup FROM main.runtime_mysql_replication_hostgroups)",
        );
        assert_eq!(
            a.reads,
            names(&[
                "runtime_mysql_replication_hostgroups",
                "runtime_mysql_servers",
                "stats_mysql_connection_pool"
            ])
        );
        assert!(a.writes.is_empty());
    }

    #[test]
    fn table_access_separates_the_write_target_from_what_is_read() {
        let a = access("INSERT INTO runtime_mysql_users SELECT * FROM mysql_users");
        assert_eq!(a.writes, names(&["runtime_mysql_users"]));
        assert_eq!(a.reads, names(&["mysql_users"]));
        let a = access("INSERT OR REPLACE INTO main.global_variables VALUES ('a', 'b')");
        assert_eq!(a.writes, names(&["global_variables"]));
        assert!(a.reads.is_empty());
        assert_eq!(
            access("UPDATE mysql_servers SET status='OFFLINE_SOFT'").writes,
            names(&["mysql_servers"])
        );
        assert_eq!(
            access("DELETE FROM stats_mysql_query_digest").writes,
            names(&["stats_mysql_query_digest"])
        );
        assert!(access("DELETE FROM stats_mysql_query_digest").mentions("stats_mysql_query_digest"));
    }

    #[test]
    fn table_access_ignores_literals_schemas_and_columns() {
        let a = access(
            "SELECT variable_value FROM global_variables WHERE variable_name = 'stats_mysql_global'",
        );
        assert_eq!(a.reads, names(&["global_variables"]));
        assert!(access("SHOW TABLES FROM stats").reads.is_empty());
        assert!(access("SHOW TABLES FROM stats_history").reads.is_empty());
        assert!(access("LOAD MYSQL SERVERS TO RUNTIME").reads.is_empty());
    }

    #[test]
    fn table_access_of_statements_answered_from_stats_tables() {
        assert_eq!(
            access("SHOW FULL PROCESSLIST").reads,
            names(&["stats_mysql_processlist"])
        );
        assert_eq!(
            access("select @@version_comment limit 1").reads,
            names(&["stats_mysql_global"])
        );
        assert!(access("SHOW CREATE TABLE stats.stats_pxadm_vrrp").mentions("stats_pxadm_vrrp"));
        assert!(access("SELECT * FROM `runtime_checksums_values`")
            .mentions_any(&["runtime_checksums_values"]));
    }

    #[test]
    fn split_respects_quotes_and_comments() {
        let script = "-- header; with semicolon\nUPDATE t SET v='a:b;c:d' WHERE n='x'; /* c; */ SELECT \"q;\" ;\n# note;\nSELECT 1";
        assert_eq!(
            split_statements(script),
            [
                "UPDATE t SET v='a:b;c:d' WHERE n='x'",
                "SELECT \"q;\"",
                "SELECT 1"
            ]
        );
        assert_eq!(
            split_statements("SELECT 'it''s; ok'; ;"),
            ["SELECT 'it''s; ok'"]
        );
        assert_eq!(split_statements("SELECT 'a\\'; b'"), ["SELECT 'a\\'; b'"]);
    }

    #[test]
    fn normalize_collapses_whitespace_and_strips_semicolons() {
        assert_eq!(
            normalize("  LOAD   MYSQL\n\tSERVERS TO RUNTIME ;; "),
            "LOAD MYSQL SERVERS TO RUNTIME"
        );
        assert_eq!(normalize("select 'a  b'"), "select 'a b'");
        assert_eq!(normalize(" ; "), "");
    }

    #[test]
    fn every_load_save_alias_of_every_module() {
        let forms: &[(&str, &str, Direction)] = &[
            ("LOAD", "FROM DISK", Direction::DiskToMemory),
            ("LOAD", "TO MEMORY", Direction::DiskToMemory),
            ("LOAD", "TO MEM", Direction::DiskToMemory),
            ("SAVE", "TO DISK", Direction::MemoryToDisk),
            ("SAVE", "FROM MEMORY", Direction::MemoryToDisk),
            ("SAVE", "FROM MEM", Direction::MemoryToDisk),
            ("LOAD", "TO RUNTIME", Direction::MemoryToRuntime),
            ("LOAD", "TO RUN", Direction::MemoryToRuntime),
            ("LOAD", "FROM MEMORY", Direction::MemoryToRuntime),
            ("LOAD", "FROM MEM", Direction::MemoryToRuntime),
            ("SAVE", "TO MEMORY", Direction::RuntimeToMemory),
            ("SAVE", "TO MEM", Direction::RuntimeToMemory),
            ("SAVE", "FROM RUNTIME", Direction::RuntimeToMemory),
            ("SAVE", "FROM RUN", Direction::RuntimeToMemory),
            ("LOAD", "FROM CONFIG", Direction::ConfigToMemory),
        ];
        for module in ConfigModule::ALL {
            for (verb, words, dir) in forms {
                let stmt = format!("{verb} {} {words}", module.keyword());
                for variant in [
                    stmt.clone(),
                    stmt.to_lowercase(),
                    format!("  {}  ; ", stmt.replace(' ', "  ")),
                ] {
                    assert_eq!(
                        classify(&normalize(&variant), true),
                        AdminCommand::LoadSave(module, *dir),
                        "{variant}"
                    );
                }
            }
        }
    }

    #[test]
    fn load_save_not_for_stats_sessions_and_wrong_forms_fall_through() {
        assert_eq!(
            classify("LOAD MYSQL SERVERS TO RUNTIME", false),
            AdminCommand::Sql
        );
        assert_eq!(
            classify("LOAD MYSQL SERVER TO RUNTIME", true),
            AdminCommand::Sql
        );
        assert_eq!(
            classify("SAVE MYSQL SERVERS TO RUNTIME", true),
            AdminCommand::Sql
        );
        assert_eq!(
            classify("LOAD MYSQL USER Bob TO RUNTIME", true),
            AdminCommand::LoadOneUser("Bob".into())
        );
    }

    #[test]
    fn proxysql_commands() {
        assert_eq!(
            classify("PROXYSQL CLUSTER_NODE_UUID 8b5c-1 127.0.0.1:6032", true),
            AdminCommand::Proxysql(ProxysqlCommand::ClusterNodeUuid(
                "8b5c-1 127.0.0.1:6032".into()
            ))
        );
        assert_eq!(
            classify("proxysql pause", true),
            AdminCommand::Proxysql(ProxysqlCommand::Pause)
        );
        assert_eq!(
            classify("PROXYSQL SHUTDOWN", true),
            AdminCommand::Proxysql(ProxysqlCommand::Kill)
        );
        assert_eq!(classify("PROXYSQL BOGUS", true), AdminCommand::Sql);
    }

    #[test]
    fn identity_and_variable_queries() {
        assert!(matches!(
            classify("SELECT @@version", true),
            AdminCommand::Identity(IdentityQuery::Version { .. })
        ));
        assert!(matches!(
            classify("select @@version_comment limit 1", true),
            AdminCommand::Identity(IdentityQuery::VersionComment)
        ));
        assert_eq!(
            classify("SELECT @@admin-version", true),
            AdminCommand::SelectVariables(vec!["admin-version".into()])
        );
        assert_eq!(
            classify("SELECT @@max_allowed_packet,@@wait_timeout,@@socket", true),
            AdminCommand::SelectVariables(vec![
                "max_allowed_packet".into(),
                "wait_timeout".into(),
                "socket".into()
            ])
        );
        assert_eq!(classify("SELECT @@a + 1", true), AdminCommand::Sql);
        assert_eq!(
            classify("SELECT GLOBAL_CHECKSUM()", true),
            AdminCommand::GlobalChecksum
        );
    }

    #[test]
    fn set_and_noise() {
        assert_eq!(
            classify("SET admin-refresh_interval = 3000", true),
            AdminCommand::SetVariable {
                name: "admin-refresh_interval".into(),
                value: "3000".into()
            }
        );
        assert_eq!(classify("SET NAMES utf8mb4", true), AdminCommand::NoOpOk);
        assert_eq!(classify("SET autocommit=1", false), AdminCommand::NoOpOk);
        assert_eq!(classify("USE main", true), AdminCommand::NoOpOk);
        assert_eq!(classify("BEGIN", true), AdminCommand::NoOpOk);
    }

    #[test]
    fn show_forms() {
        assert!(
            matches!(classify("SHOW TABLES", true), AdminCommand::Show(ShowCommand::Sql(s)) if s.contains("sqlite_master"))
        );
        assert!(
            matches!(classify("show tables from stats", true), AdminCommand::Show(ShowCommand::Sql(s)) if s.contains("stats.sqlite_master"))
        );
        assert_eq!(
            classify("SHOW CREATE TABLE disk.mysql_servers", true),
            AdminCommand::Show(ShowCommand::CreateTable {
                schema: Some("disk".into()),
                table: "mysql_servers".into()
            })
        );
        assert!(
            matches!(classify("SHOW VARIABLES LIKE 'admin-%'", true), AdminCommand::Show(ShowCommand::Sql(s)) if s.contains("LIKE 'admin-%'"))
        );
        assert_eq!(
            classify("SHOW DATABASES", true),
            AdminCommand::Show(ShowCommand::Databases)
        );
        // ProxySQL's rewrite of `SHOW TABLES FROM db LIKE 'p'` fails in SQLite at the pattern;
        // the pattern is re-quoted, so nothing after LIKE can leave the literal.
        assert!(
            matches!(classify("SHOW TABLES FROM stats LIKE 'x%'", true), AdminCommand::Show(ShowCommand::Sql(s)) if s.contains("FROM stats LIKE 'x%'.sqlite_master"))
        );
        assert!(
            matches!(classify("SHOW TABLES FROM stats LIKE 'x' UNION SELECT 1", true), AdminCommand::Show(ShowCommand::Sql(s)) if s.contains("FROM stats LIKE '''x'' UNION SELECT 1'.sqlite_master"))
        );
        // A table name that could inject SQL is not rewritten.
        assert_eq!(
            classify("SHOW TABLES FROM x; DROP", true),
            AdminCommand::Sql
        );
    }
}
