//! Mapping config sections onto admin-table statements, as `lib/ProxySQL_Config.cpp` (2.7.2)
//! and `src/main.cpp` do.
//!
//! Facts carried over from ProxySQL, because they shape rows that end up checksummed:
//! * every table gets ProxySQL's full column list with ProxySQL's own defaults (these differ
//!   from the table defaults in places: `mysql_users.default_schema` becomes `''`, not NULL);
//! * keys are case-sensitive and looked up with strict libconfig types: an `int` field only
//!   accepts a 32-bit integer, a string field only a string;
//! * aliases: `address` before `hostname` (mysql_servers, proxysql_servers), `hostgroup`
//!   before `hostgroup_id` (mysql_servers), `interval_ms` before `timeout_ms` (restapi);
//! * keys ProxySQL does not read are ignored, including `active` in the group replication,
//!   Galera and Aurora sections (always 1) and `backend`/`frontend` in `mysql_users`;
//! * `mysql_hostgroup_attributes` and `mysql_query_rules_fast_routing` are not read from the
//!   config file by 2.7.2, so they are not sections here.

use std::fmt;

use super::{ConfigError, ConfigFile, Value, ValueKind};

/// A config-file section that ProxySQL copies into one admin table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// `admin_variables` → `global_variables` rows `admin-…`.
    AdminVariables,
    /// `mysql_variables` → `global_variables` rows `mysql-…`.
    MysqlVariables,
    /// `mysql_servers` → `mysql_servers`.
    MysqlServers,
    /// `mysql_replication_hostgroups` → `mysql_replication_hostgroups`.
    MysqlReplicationHostgroups,
    /// `mysql_servers_ssl_params` → `mysql_servers_ssl_params`.
    MysqlServersSslParams,
    /// `mysql_group_replication_hostgroups` → `mysql_group_replication_hostgroups`.
    MysqlGroupReplicationHostgroups,
    /// `mysql_galera_hostgroups` → `mysql_galera_hostgroups`.
    MysqlGaleraHostgroups,
    /// `mysql_aws_aurora_hostgroups` → `mysql_aws_aurora_hostgroups`.
    MysqlAwsAuroraHostgroups,
    /// `mysql_users` → `mysql_users`.
    MysqlUsers,
    /// `mysql_query_rules` → `mysql_query_rules`.
    MysqlQueryRules,
    /// `scheduler` → `scheduler`.
    Scheduler,
    /// `restapi` → `restapi_routes`.
    Restapi,
    /// `proxysql_servers` → `proxysql_servers`.
    ProxysqlServers,
}

impl Section {
    /// Every section, in the order ProxySQL reads them at startup (`ProxySQL_Admin::init`).
    pub const ALL: [Section; 13] = [
        Section::MysqlServers,
        Section::MysqlReplicationHostgroups,
        Section::MysqlServersSslParams,
        Section::MysqlGroupReplicationHostgroups,
        Section::MysqlGaleraHostgroups,
        Section::MysqlAwsAuroraHostgroups,
        Section::MysqlUsers,
        Section::MysqlQueryRules,
        Section::AdminVariables,
        Section::MysqlVariables,
        Section::Scheduler,
        Section::Restapi,
        Section::ProxysqlServers,
    ];

    /// The setting name in the config file.
    pub fn config_name(self) -> &'static str {
        match self {
            Section::AdminVariables => "admin_variables",
            Section::MysqlVariables => "mysql_variables",
            Section::MysqlServers => "mysql_servers",
            Section::MysqlReplicationHostgroups => "mysql_replication_hostgroups",
            Section::MysqlServersSslParams => "mysql_servers_ssl_params",
            Section::MysqlGroupReplicationHostgroups => "mysql_group_replication_hostgroups",
            Section::MysqlGaleraHostgroups => "mysql_galera_hostgroups",
            Section::MysqlAwsAuroraHostgroups => "mysql_aws_aurora_hostgroups",
            Section::MysqlUsers => "mysql_users",
            Section::MysqlQueryRules => "mysql_query_rules",
            Section::Scheduler => "scheduler",
            Section::Restapi => "restapi",
            Section::ProxysqlServers => "proxysql_servers",
        }
    }

    /// The admin table the section's statements write.
    pub fn table(self) -> &'static str {
        match self {
            Section::AdminVariables | Section::MysqlVariables => "global_variables",
            Section::Restapi => "restapi_routes",
            other => other.config_name(),
        }
    }

    /// The `LOAD <module> FROM CONFIG` module that reads this section (spec §1.5): for example
    /// `LOAD MYSQL SERVERS FROM CONFIG` reads all six server sections and answers with the
    /// total row count.
    pub fn module(self) -> &'static str {
        match self {
            Section::AdminVariables => "ADMIN VARIABLES",
            Section::MysqlVariables => "MYSQL VARIABLES",
            Section::MysqlServers
            | Section::MysqlReplicationHostgroups
            | Section::MysqlServersSslParams
            | Section::MysqlGroupReplicationHostgroups
            | Section::MysqlGaleraHostgroups
            | Section::MysqlAwsAuroraHostgroups => "MYSQL SERVERS",
            Section::MysqlUsers => "MYSQL USERS",
            Section::MysqlQueryRules => "MYSQL QUERY RULES",
            Section::Scheduler => "SCHEDULER",
            Section::Restapi => "RESTAPI",
            Section::ProxysqlServers => "PROXYSQL SERVERS",
        }
    }

    /// The columns ProxySQL names in its INSERT, in its order.
    fn columns(self) -> &'static [&'static str] {
        match self {
            Section::AdminVariables | Section::MysqlVariables => &[],
            Section::MysqlServers => &[
                "hostname",
                "port",
                "gtid_port",
                "hostgroup_id",
                "compression",
                "weight",
                "status",
                "max_connections",
                "max_replication_lag",
                "use_ssl",
                "max_latency_ms",
                "comment",
            ],
            Section::MysqlReplicationHostgroups => &[
                "writer_hostgroup",
                "reader_hostgroup",
                "comment",
                "check_type",
            ],
            Section::MysqlServersSslParams => &[
                "hostname",
                "port",
                "username",
                "ssl_ca",
                "ssl_cert",
                "ssl_key",
                "ssl_capath",
                "ssl_crl",
                "ssl_crlpath",
                "ssl_cipher",
                "tls_version",
                "comment",
            ],
            Section::MysqlGroupReplicationHostgroups | Section::MysqlGaleraHostgroups => &[
                "writer_hostgroup",
                "backup_writer_hostgroup",
                "reader_hostgroup",
                "offline_hostgroup",
                "active",
                "max_writers",
                "writer_is_also_reader",
                "max_transactions_behind",
                "comment",
            ],
            Section::MysqlAwsAuroraHostgroups => &[
                "writer_hostgroup",
                "reader_hostgroup",
                "active",
                "aurora_port",
                "domain_name",
                "max_lag_ms",
                "check_interval_ms",
                "check_timeout_ms",
                "writer_is_also_reader",
                "new_reader_weight",
                "add_lag_ms",
                "min_lag_ms",
                "lag_num_checks",
                "comment",
            ],
            Section::MysqlUsers => &[
                "username",
                "password",
                "active",
                "use_ssl",
                "default_hostgroup",
                "default_schema",
                "schema_locked",
                "transaction_persistent",
                "fast_forward",
                "max_connections",
                "attributes",
                "comment",
            ],
            Section::MysqlQueryRules => &[
                "rule_id",
                "active",
                "username",
                "schemaname",
                "flagIN",
                "client_addr",
                "proxy_addr",
                "proxy_port",
                "digest",
                "match_digest",
                "match_pattern",
                "negate_match_pattern",
                "re_modifiers",
                "flagOUT",
                "replace_pattern",
                "destination_hostgroup",
                "cache_ttl",
                "cache_empty_result",
                "cache_timeout",
                "reconnect",
                "timeout",
                "retries",
                "delay",
                "next_query_flagIN",
                "mirror_flagOUT",
                "mirror_hostgroup",
                "error_msg",
                "ok_msg",
                "sticky_conn",
                "multiplex",
                "gtid_from_hostgroup",
                "log",
                "apply",
                "attributes",
                "comment",
            ],
            Section::Scheduler => &[
                "id",
                "active",
                "interval_ms",
                "filename",
                "arg1",
                "arg2",
                "arg3",
                "arg4",
                "arg5",
                "comment",
            ],
            Section::Restapi => &[
                "id",
                "active",
                "timeout_ms",
                "method",
                "uri",
                "script",
                "comment",
            ],
            Section::ProxysqlServers => &["hostname", "port", "weight", "comment"],
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.config_name())
    }
}

/// What [`ConfigFile::section_statements_lenient`] produced: the statements for the entries
/// ProxySQL would load, and one error per entry it would skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LenientStatements {
    /// `INSERT OR REPLACE …` statements, in file order.
    pub statements: Vec<String>,
    /// Entries left out (ProxySQL logs these as `Admin: detected a … without a mandatory …`).
    pub skipped: Vec<ConfigError>,
}

/// Top-level settings ProxySQL reads on every start (`src/main.cpp`), whether or not the rest
/// of the config file is used (spec §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobalSettings {
    /// `datadir`: where `proxysql.db` lives (ProxySQL falls back to its working directory).
    pub datadir: Option<String>,
    /// `errorlog`: log file path (default `<datadir>/proxysql.log`).
    pub errorlog: Option<String>,
    /// `pidfile`: pid file path (default `<datadir>/proxysql.pid`).
    pub pidfile: Option<String>,
    /// `uuid`: node UUID, used unless one was given on the command line.
    pub uuid: Option<String>,
    /// `cluster_sync_interfaces`: whether `admin-mysql_ifaces`, `mysql-interfaces` and friends
    /// are synced between cluster nodes too.
    pub cluster_sync_interfaces: Option<bool>,
    /// `restart_on_missing_heartbeats` (ProxySQL's default is 10).
    pub restart_on_missing_heartbeats: Option<i32>,
    /// `execute_on_exit_failure`: command run when the child process dies.
    pub execute_on_exit_failure: Option<String>,
}

impl ConfigFile {
    /// The statements ProxySQL would run into `main` for `section`, refusing what ProxySQL
    /// would silently skip or replace: an entry without a mandatory key, a known key with a
    /// value of the wrong type, an unknown `status`/`check_type`, a variable value that is
    /// neither string, integer nor boolean. The error names the entry's or value's position.
    ///
    /// A section absent from the file gives no statements. Keys ProxySQL does not know are
    /// ignored, as ProxySQL does.
    pub fn section_statements(&self, section: Section) -> Result<Vec<String>, ConfigError> {
        self.map_section(section, Mode::Strict)?
            .into_iter()
            .collect()
    }

    /// The statements exactly as ProxySQL 2.7.2 would derive them: entries without a mandatory
    /// key are skipped (and reported in [`LenientStatements::skipped`]), values of the wrong
    /// type fall back to ProxySQL's defaults. Meant for `LOAD … FROM CONFIG` compatibility.
    pub fn section_statements_lenient(&self, section: Section) -> LenientStatements {
        let mut out = LenientStatements::default();
        match self.map_section(section, Mode::Lenient) {
            Ok(entries) => {
                for entry in entries {
                    match entry {
                        Ok(statement) => out.statements.push(statement),
                        Err(error) => out.skipped.push(error),
                    }
                }
            }
            Err(error) => out.skipped.push(error),
        }
        out
    }

    /// The top-level settings ProxySQL reads at every start, type-checked: a setting of the
    /// wrong type (ProxySQL would ignore it) or an invalid `uuid` is an error naming its line.
    pub fn global_settings(&self) -> Result<GlobalSettings, ConfigError> {
        let text = |name: &str| -> Result<Option<String>, ConfigError> {
            self.typed_top_level(name, "a string", |v| v.as_str().map(str::to_owned))
        };
        let uuid = text("uuid")?;
        if let (Some(uuid), Some(value)) = (&uuid, self.top_level("uuid")) {
            if !is_uuid(uuid) {
                return Err(ConfigError::new(
                    value.line,
                    value.column,
                    format!(
                        "'uuid' must look like 01234567-89ab-cdef-0123-456789abcdef, found \"{uuid}\""
                    ),
                ));
            }
        }
        Ok(GlobalSettings {
            datadir: text("datadir")?,
            errorlog: text("errorlog")?,
            pidfile: text("pidfile")?,
            uuid,
            cluster_sync_interfaces: self.typed_top_level(
                "cluster_sync_interfaces",
                "a boolean",
                Value::as_bool,
            )?,
            restart_on_missing_heartbeats: self.typed_top_level(
                "restart_on_missing_heartbeats",
                "an integer",
                Value::as_int,
            )?,
            execute_on_exit_failure: text("execute_on_exit_failure")?,
        })
    }

    fn typed_top_level<T>(
        &self,
        name: &str,
        want: &str,
        get: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.top_level(name) else {
            return Ok(None);
        };
        get(value).map(Some).ok_or_else(|| {
            ConfigError::new(
                value.line,
                value.column,
                format!(
                    "'{name}' must be {want}, found {}",
                    describe_named(name, value)
                ),
            )
        })
    }

    /// Outer error: the section as a whole cannot be mapped. Inner results: one per entry.
    fn map_section(
        &self,
        section: Section,
        mode: Mode,
    ) -> Result<Vec<Result<String, ConfigError>>, ConfigError> {
        let Some(container) = self.top_level(section.config_name()) else {
            return Ok(Vec::new());
        };
        match section {
            Section::AdminVariables => Ok(variables(container, "admin", mode)?),
            Section::MysqlVariables => Ok(variables(container, "mysql", mode)?),
            _ => Ok(entries(section, container, mode)?
                .into_iter()
                .map(|value| {
                    let entry = Entry {
                        section,
                        value,
                        strict: mode == Mode::Strict,
                    };
                    entry.check_shape()?;
                    let values = row(section, &entry)?;
                    Ok(insert(section.table(), section.columns(), &values))
                })
                .collect()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Strict,
    Lenient,
}

/// libuuid's `uuid_parse` form: 36 characters, hex digits with dashes at 8, 13, 18 and 23.
fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A value as error messages show it; the value of a secret key (see
/// [`super::is_secret_name`]) only by its type.
fn describe_named(name: &str, value: &Value) -> String {
    if super::is_secret_name(name) {
        return format!("a {} (value not shown)", value.type_name());
    }
    describe(value)
}

fn describe(value: &Value) -> String {
    match &value.kind {
        ValueKind::Bool(b) => format!("boolean {b}"),
        ValueKind::Int(i) => format!("integer {i}"),
        ValueKind::Int64(i) => format!("64-bit integer {i} (ProxySQL reads 32-bit integers only)"),
        ValueKind::Float(f) => format!("float {f}"),
        ValueKind::String(s) => format!("string \"{s}\""),
        _ => value.type_name().to_owned(),
    }
}

/// The entries of a list section. ProxySQL iterates whatever aggregate it finds; anything but
/// a list is refused in strict mode since it can only be a mistake.
fn entries(section: Section, container: &Value, mode: Mode) -> Result<Vec<&Value>, ConfigError> {
    match &container.kind {
        ValueKind::List(items) => Ok(items.iter().collect()),
        _ if mode == Mode::Strict => Err(ConfigError::new(
            container.line,
            container.column,
            format!(
                "'{section}' must be a list of groups ( {{ … }}, … ), found {}",
                container.type_name()
            ),
        )),
        ValueKind::Array(items) => Ok(items.iter().collect()),
        ValueKind::Group(members) => Ok(members.iter().map(|m| &m.value).collect()),
        _ => Ok(Vec::new()),
    }
}

/// `admin_variables` / `mysql_variables`: every member becomes `<prefix>-<name>`, rendered as
/// ProxySQL does: booleans as `true`/`false`, integers in decimal, strings verbatim, anything
/// else as an empty string.
fn variables(
    container: &Value,
    prefix: &str,
    mode: Mode,
) -> Result<Vec<Result<String, ConfigError>>, ConfigError> {
    let ValueKind::Group(members) = &container.kind else {
        return Err(ConfigError::new(
            container.line,
            container.column,
            format!(
                "'{prefix}_variables' must be a group {{ name = value; … }}, found {}",
                container.type_name()
            ),
        ));
    };
    Ok(members
        .iter()
        .map(|member| {
            let value = &member.value;
            let text = match &value.kind {
                ValueKind::Bool(b) => b.to_string(),
                ValueKind::Int(i) => i.to_string(),
                ValueKind::String(s) => s.clone(),
                _ if mode == Mode::Strict => {
                    return Err(ConfigError::new(
                        value.line,
                        value.column,
                        format!(
                            "'{prefix}_variables.{}' must be a string, integer or boolean, found \
                             {} (ProxySQL would store an empty string)",
                            member.name,
                            describe_named(&member.name, value)
                        ),
                    ))
                }
                _ => String::new(),
            };
            Ok(format!(
                "INSERT OR REPLACE INTO global_variables VALUES ({},{})",
                quote(&format!("{prefix}-{}", member.name)),
                quote(&text)
            ))
        })
        .collect())
}

/// One SQL value.
enum Sql {
    Int(i32),
    Text(String),
    Null,
}

impl Sql {
    fn text(s: &str) -> Sql {
        Sql::Text(s.to_owned())
    }

    fn opt_text(s: Option<&str>) -> Sql {
        s.map_or(Sql::Null, Sql::text)
    }

    /// ProxySQL writes NULL for the "unset" sentinel -1 (any negative) of optional integers.
    fn non_negative(i: i32) -> Sql {
        if i >= 0 {
            Sql::Int(i)
        } else {
            Sql::Null
        }
    }

    /// ProxySQL's `(x == 0 ? 0 : 1)`.
    fn flag(i: i32) -> Sql {
        Sql::Int(i32::from(i != 0))
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn insert(table: &str, columns: &[&str], values: &[Sql]) -> String {
    let values: Vec<String> = values
        .iter()
        .map(|v| match v {
            Sql::Int(i) => i.to_string(),
            Sql::Text(s) => quote(s),
            Sql::Null => "NULL".to_owned(),
        })
        .collect();
    format!(
        "INSERT OR REPLACE INTO {table} ({}) VALUES ({})",
        columns.join(", "),
        values.join(", ")
    )
}

/// One list entry, looked up the way libconfig++'s `lookupValue` does.
struct Entry<'a> {
    section: Section,
    value: &'a Value,
    strict: bool,
}

impl<'a> Entry<'a> {
    /// Entries are groups; ProxySQL's lookups on anything else simply fail, which the lenient
    /// mode reproduces by carrying on (the mandatory keys will then be reported missing).
    fn check_shape(&self) -> Result<(), ConfigError> {
        if self.strict && !matches!(self.value.kind, ValueKind::Group(_)) {
            return Err(self.error_here(format!(
                "'{}' entries must be groups {{ … }}, found {}",
                self.section,
                describe(self.value)
            )));
        }
        Ok(())
    }

    fn error_here(&self, message: String) -> ConfigError {
        ConfigError::new(self.value.line, self.value.column, message)
    }

    fn typed<T>(
        &self,
        key: &str,
        want: &str,
        get: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.value.get(key) else {
            return Ok(None);
        };
        match get(value) {
            Some(v) => Ok(Some(v)),
            None if self.strict => Err(ConfigError::new(
                value.line,
                value.column,
                format!(
                    "'{}.{key}' must be {want}, found {}",
                    self.section,
                    describe_named(key, value)
                ),
            )),
            None => Ok(None),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i32>, ConfigError> {
        self.typed(key, "an integer", Value::as_int)
    }

    fn int_or(&self, key: &str, default: i32) -> Result<i32, ConfigError> {
        Ok(self.int(key)?.unwrap_or(default))
    }

    fn text(&self, key: &str) -> Result<Option<&'a str>, ConfigError> {
        self.typed(key, "a string", Value::as_str)
    }

    fn text_or(&self, key: &str, default: &'a str) -> Result<&'a str, ConfigError> {
        Ok(self.text(key)?.unwrap_or(default))
    }

    /// The first of `keys` (aliases, in ProxySQL's order) that holds a value of the right type.
    fn required<T>(
        &self,
        keys: &[&str],
        get: impl Fn(&Self, &str) -> Result<Option<T>, ConfigError>,
    ) -> Result<T, ConfigError> {
        for key in keys {
            if let Some(v) = get(self, key)? {
                return Ok(v);
            }
        }
        let aliases: Vec<String> = keys[1..].iter().map(|k| format!("'{k}'")).collect();
        let alias_note = if aliases.is_empty() {
            String::new()
        } else {
            format!(" (or {})", aliases.join(" or "))
        };
        Err(self.error_here(format!(
            "'{}' entry is missing the mandatory '{}'{alias_note}",
            self.section, keys[0]
        )))
    }

    fn required_int(&self, keys: &[&str]) -> Result<i32, ConfigError> {
        self.required(keys, Self::int)
    }

    fn required_text(&self, keys: &[&str]) -> Result<&'a str, ConfigError> {
        self.required(keys, Self::text)
    }

    /// A string that must be one of `allowed` (case-insensitively; kept as written, the tables'
    /// CHECKs are case-insensitive too). ProxySQL replaces anything else by `default`.
    fn choice(
        &self,
        key: &str,
        allowed: &[&str],
        default: &'a str,
    ) -> Result<&'a str, ConfigError> {
        let Some(text) = self.text(key)? else {
            return Ok(default);
        };
        if allowed.iter().any(|a| a.eq_ignore_ascii_case(text)) {
            return Ok(text);
        }
        if self.strict {
            let value = self.value.get(key).unwrap_or(self.value);
            return Err(ConfigError::new(
                value.line,
                value.column,
                format!(
                    "'{}.{key}' must be one of {}, found \"{text}\"",
                    self.section,
                    allowed.join(", ")
                ),
            ));
        }
        Ok(default)
    }
}

/// The values of one entry, in [`Section::columns`] order.
fn row(section: Section, e: &Entry<'_>) -> Result<Vec<Sql>, ConfigError> {
    Ok(match section {
        Section::AdminVariables | Section::MysqlVariables => Vec::new(),
        Section::MysqlServers => {
            let hostname = e.required_text(&["address", "hostname"])?;
            let port = e.int_or("port", 3306)?;
            let gtid_port = e.int_or("gtid_port", 0)?;
            let hostgroup = e.required_int(&["hostgroup", "hostgroup_id"])?;
            let status = e.choice(
                "status",
                &["ONLINE", "SHUNNED", "OFFLINE_SOFT", "OFFLINE_HARD"],
                "ONLINE",
            )?;
            vec![
                Sql::text(hostname),
                Sql::Int(port),
                Sql::Int(gtid_port),
                Sql::Int(hostgroup),
                Sql::Int(e.int_or("compression", 0)?),
                Sql::Int(e.int_or("weight", 1)?),
                Sql::text(status),
                Sql::Int(e.int_or("max_connections", 1000)?),
                Sql::Int(e.int_or("max_replication_lag", 0)?),
                Sql::Int(e.int_or("use_ssl", 0)?),
                Sql::Int(e.int_or("max_latency_ms", 0)?),
                Sql::text(e.text_or("comment", "")?),
            ]
        }
        Section::MysqlReplicationHostgroups => {
            let writer = e.required_int(&["writer_hostgroup"])?;
            let reader = e.required_int(&["reader_hostgroup"])?;
            let comment = e.text_or("comment", "")?;
            let check_type = e.choice(
                "check_type",
                &["read_only", "innodb_read_only", "super_read_only"],
                "read_only",
            )?;
            vec![
                Sql::Int(writer),
                Sql::Int(reader),
                Sql::text(comment),
                Sql::text(check_type),
            ]
        }
        Section::MysqlServersSslParams => {
            let hostname = e.required_text(&["hostname"])?;
            let mut values = vec![Sql::text(hostname), Sql::Int(e.int_or("port", 3306)?)];
            for key in [
                "username",
                "ssl_ca",
                "ssl_cert",
                "ssl_key",
                "ssl_capath",
                "ssl_crl",
                "ssl_crlpath",
                "ssl_cipher",
                "tls_version",
                "comment",
            ] {
                values.push(Sql::text(e.text_or(key, "")?));
            }
            values
        }
        Section::MysqlGroupReplicationHostgroups | Section::MysqlGaleraHostgroups => {
            let writer = e.required_int(&["writer_hostgroup"])?;
            let backup_writer = e.required_int(&["backup_writer_hostgroup"])?;
            let reader = e.required_int(&["reader_hostgroup"])?;
            let offline = e.required_int(&["offline_hostgroup"])?;
            vec![
                Sql::Int(writer),
                Sql::Int(backup_writer),
                Sql::Int(reader),
                Sql::Int(offline),
                // ProxySQL does not read `active` here: every such entry is active.
                Sql::Int(1),
                Sql::Int(e.int_or("max_writers", 1)?),
                Sql::Int(e.int_or("writer_is_also_reader", 0)?),
                Sql::Int(e.int_or("max_transactions_behind", 0)?),
                Sql::text(e.text_or("comment", "")?),
            ]
        }
        Section::MysqlAwsAuroraHostgroups => {
            let writer = e.required_int(&["writer_hostgroup"])?;
            let reader = e.required_int(&["reader_hostgroup"])?;
            vec![
                Sql::Int(writer),
                Sql::Int(reader),
                Sql::Int(1),
                Sql::Int(e.int_or("aurora_port", 3306)?),
                Sql::text(e.text_or("domain_name", "")?),
                Sql::Int(e.int_or("max_lag_ms", 600_000)?),
                Sql::Int(e.int_or("check_interval_ms", 1000)?),
                Sql::Int(e.int_or("check_timeout_ms", 1000)?),
                Sql::Int(e.int_or("writer_is_also_reader", 0)?),
                Sql::Int(e.int_or("new_reader_weight", 1)?),
                Sql::Int(e.int_or("add_lag_ms", 30)?),
                Sql::Int(e.int_or("min_lag_ms", 30)?),
                Sql::Int(e.int_or("lag_num_checks", 1)?),
                Sql::text(e.text_or("comment", "")?),
            ]
        }
        Section::MysqlUsers => {
            let username = e.required_text(&["username"])?;
            vec![
                Sql::text(username),
                Sql::text(e.text_or("password", "")?),
                Sql::Int(e.int_or("active", 1)?),
                Sql::Int(e.int_or("use_ssl", 0)?),
                Sql::Int(e.int_or("default_hostgroup", 0)?),
                Sql::text(e.text_or("default_schema", "")?),
                Sql::Int(e.int_or("schema_locked", 0)?),
                Sql::Int(e.int_or("transaction_persistent", 1)?),
                Sql::Int(e.int_or("fast_forward", 0)?),
                Sql::Int(e.int_or("max_connections", 10_000)?),
                Sql::text(e.text_or("attributes", "")?),
                Sql::text(e.text_or("comment", "")?),
            ]
        }
        Section::MysqlQueryRules => {
            let rule_id = e.required_int(&["rule_id"])?;
            let optional = |key: &str| -> Result<Sql, ConfigError> {
                Ok(Sql::non_negative(e.int_or(key, -1)?))
            };
            vec![
                Sql::Int(rule_id),
                Sql::Int(e.int_or("active", 1)?),
                Sql::opt_text(e.text("username")?),
                Sql::opt_text(e.text("schemaname")?),
                Sql::non_negative(e.int_or("flagIN", 0)?),
                Sql::opt_text(e.text("client_addr")?),
                Sql::opt_text(e.text("proxy_addr")?),
                optional("proxy_port")?,
                Sql::opt_text(e.text("digest")?),
                Sql::opt_text(e.text("match_digest")?),
                Sql::opt_text(e.text("match_pattern")?),
                Sql::flag(e.int_or("negate_match_pattern", 0)?),
                Sql::text(e.text_or("re_modifiers", "CASELESS")?),
                optional("flagOUT")?,
                Sql::opt_text(e.text("replace_pattern")?),
                optional("destination_hostgroup")?,
                optional("cache_ttl")?,
                optional("cache_empty_result")?,
                optional("cache_timeout")?,
                optional("reconnect")?,
                optional("timeout")?,
                optional("retries")?,
                optional("delay")?,
                optional("next_query_flagIN")?,
                optional("mirror_flagOUT")?,
                optional("mirror_hostgroup")?,
                Sql::opt_text(e.text("error_msg")?),
                Sql::opt_text(e.text("OK_msg")?),
                optional("sticky_conn")?,
                optional("multiplex")?,
                optional("gtid_from_hostgroup")?,
                optional("log")?,
                Sql::flag(e.int_or("apply", 0)?),
                Sql::opt_text(e.text("attributes")?),
                Sql::opt_text(e.text("comment")?),
            ]
        }
        Section::Scheduler => {
            let id = e.required_int(&["id"])?;
            let active = e.int_or("active", 1)?;
            let interval_ms = e.int_or("interval_ms", 0)?;
            let filename = e.required_text(&["filename"])?;
            let mut values = vec![
                Sql::Int(id),
                Sql::Int(active),
                Sql::Int(interval_ms),
                Sql::text(filename),
            ];
            for key in ["arg1", "arg2", "arg3", "arg4", "arg5"] {
                values.push(Sql::opt_text(e.text(key)?));
            }
            values.push(Sql::text(e.text_or("comment", "")?));
            values
        }
        Section::Restapi => {
            let id = e.required_int(&["id"])?;
            let active = e.int_or("active", 1)?;
            let timeout_ms = match e.int("interval_ms")? {
                Some(ms) => ms,
                None => e.int_or("timeout_ms", 0)?,
            };
            let method = e.required_text(&["method"])?;
            let uri = e.required_text(&["uri"])?;
            let script = e.required_text(&["script"])?;
            vec![
                Sql::Int(id),
                Sql::Int(active),
                Sql::Int(timeout_ms),
                Sql::text(method),
                Sql::text(uri),
                Sql::text(script),
                Sql::text(e.text_or("comment", "")?),
            ]
        }
        Section::ProxysqlServers => {
            let hostname = e.required_text(&["address", "hostname"])?;
            let port = e.required_int(&["port"])?;
            vec![
                Sql::text(hostname),
                Sql::Int(port),
                Sql::Int(e.int_or("weight", 0)?),
                Sql::text(e.text_or("comment", "")?),
            ]
        }
    })
}
