//! The traffic side of a node, read from its stats tables: global counters, connection pool,
//! processlist, query digests, commands counters and errors, each parsed once into typed rows
//! (the same on real ProxySQL 2.7 and `pxadm node`). Aggregation across nodes is the
//! console's business (`console::traffic`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::conn::{connect, execute_text, query_text, ClientError, NodeAddr};
use super::queries;
use crate::proxysql::resultset::ResultSet;

/// A stats answer pxadm cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrafficError {
    /// The node could not be asked.
    #[error("{0}")]
    Client(String),
    /// A column the parser needs is missing.
    #[error("{table}: no column {column}")]
    MissingColumn {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
    },
    /// A number column holds something else.
    #[error("{table}.{column}: not a number: {value:?}")]
    NotANumber {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The text found.
        value: String,
    },
}

impl From<ClientError> for TrafficError {
    fn from(e: ClientError) -> Self {
        TrafficError::Client(e.to_string())
    }
}

/// Reads one row of a result set by column name: text as is (NULL is empty), numbers strictly.
struct Row<'a> {
    table: &'static str,
    rs: &'a ResultSet,
    row: &'a [Option<String>],
}

impl<'a> Row<'a> {
    fn raw(&self, column: &'static str) -> Result<Option<&'a str>, TrafficError> {
        let i = self
            .rs
            .column_index(column)
            .ok_or(TrafficError::MissingColumn {
                table: self.table,
                column,
            })?;
        Ok(self.row.get(i).and_then(|v| v.as_deref()))
    }

    fn text(&self, column: &'static str) -> Result<String, TrafficError> {
        Ok(self.raw(column)?.unwrap_or("").to_owned())
    }

    /// A signed number; NULL and empty are 0 (ProxySQL leaves `hostgroup` NULL for a session
    /// without a backend).
    fn int(&self, column: &'static str) -> Result<i64, TrafficError> {
        match self.raw(column)?.map(str::trim) {
            None | Some("") => Ok(0),
            Some(v) => v.parse().map_err(|_| TrafficError::NotANumber {
                table: self.table,
                column,
                value: v.to_owned(),
            }),
        }
    }

    /// A counter: never below 0.
    fn count(&self, column: &'static str) -> Result<u64, TrafficError> {
        Ok(u64::try_from(self.int(column)?).unwrap_or(0))
    }
}

fn rows<'a, T>(
    table: &'static str,
    rs: &'a ResultSet,
    f: impl Fn(&Row<'a>) -> Result<T, TrafficError>,
) -> Result<Vec<T>, TrafficError> {
    rs.rows
        .iter()
        .map(|row| f(&Row { table, rs, row }))
        .collect()
}

/// The global counters of `stats_mysql_global` the console turns into rates, plus the errors
/// of `stats_mysql_errors` summed. A variable the node does not have reads as 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GlobalCounters {
    /// `ProxySQL_Uptime` (seconds): a smaller value than last time means a restart.
    pub uptime_s: u64,
    /// `Questions`.
    pub questions: u64,
    /// `Client_Connections_connected` (a gauge).
    pub client_connections: u64,
    /// `Server_Connections_connected` (a gauge).
    pub server_connections: u64,
    /// `Active_Transactions` (a gauge).
    pub active_transactions: u64,
    /// `Queries_frontends_bytes_recv`.
    pub frontend_bytes_recv: u64,
    /// `Queries_frontends_bytes_sent`.
    pub frontend_bytes_sent: u64,
    /// `Queries_backends_bytes_recv`.
    pub backend_bytes_recv: u64,
    /// `Queries_backends_bytes_sent`.
    pub backend_bytes_sent: u64,
    /// `Slow_queries`.
    pub slow_queries: u64,
    /// Sum of `stats_mysql_errors.count_star`.
    pub errors: u64,
    /// Every variable as the node sent it (for the shell and JSON).
    #[serde(skip)]
    pub all: BTreeMap<String, String>,
}

/// Parses `stats_mysql_global` ([`queries::TRAFFIC_GLOBALS`]); `errors` stays 0.
pub fn parse_globals(rs: &ResultSet) -> Result<GlobalCounters, TrafficError> {
    let all: BTreeMap<String, String> = rows("stats_mysql_global", rs, |r| {
        Ok((r.text("Variable_Name")?, r.text("Variable_Value")?))
    })?
    .into_iter()
    .collect();
    let get = |name: &str| -> u64 {
        all.get(name)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map_or(0, |v| u64::try_from(v).unwrap_or(0))
    };
    Ok(GlobalCounters {
        uptime_s: get("ProxySQL_Uptime"),
        questions: get("Questions"),
        client_connections: get("Client_Connections_connected"),
        server_connections: get("Server_Connections_connected"),
        active_transactions: get("Active_Transactions"),
        frontend_bytes_recv: get("Queries_frontends_bytes_recv"),
        frontend_bytes_sent: get("Queries_frontends_bytes_sent"),
        backend_bytes_recv: get("Queries_backends_bytes_recv"),
        backend_bytes_sent: get("Queries_backends_bytes_sent"),
        slow_queries: get("Slow_queries"),
        errors: 0,
        all,
    })
}

/// One backend of `stats_mysql_connection_pool`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolRow {
    /// Hostgroup.
    pub hostgroup: i64,
    /// Backend host.
    pub srv_host: String,
    /// Backend port.
    pub srv_port: u16,
    /// `ONLINE`, `SHUNNED`, `OFFLINE_SOFT`, `OFFLINE_HARD`.
    pub status: String,
    /// Connections in use.
    pub conn_used: u64,
    /// Idle connections in the pool.
    pub conn_free: u64,
    /// Connections established.
    pub conn_ok: u64,
    /// Connections that failed.
    pub conn_err: u64,
    /// Queries sent to the backend.
    pub queries: u64,
    /// Bytes sent to the backend.
    pub bytes_sent: u64,
    /// Bytes received from the backend.
    pub bytes_recv: u64,
    /// Ping latency in microseconds.
    pub latency_us: u64,
}

/// Parses [`queries::CONNECTION_POOL_STATS`].
pub fn parse_pool(rs: &ResultSet) -> Result<Vec<PoolRow>, TrafficError> {
    rows("stats_mysql_connection_pool", rs, |r| {
        Ok(PoolRow {
            hostgroup: r.int("hostgroup")?,
            srv_host: r.text("srv_host")?,
            srv_port: u16::try_from(r.int("srv_port")?).unwrap_or(0),
            status: r.text("status")?,
            conn_used: r.count("ConnUsed")?,
            conn_free: r.count("ConnFree")?,
            conn_ok: r.count("ConnOK")?,
            conn_err: r.count("ConnERR")?,
            queries: r.count("Queries")?,
            bytes_sent: r.count("Bytes_data_sent")?,
            bytes_recv: r.count("Bytes_data_recv")?,
            latency_us: r.count("Latency_us")?,
        })
    })
}

/// One client session of `stats_mysql_processlist`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessRow {
    /// `SessionID`: what `KILL CONNECTION` takes.
    pub session_id: u64,
    /// Client user.
    pub user: String,
    /// Schema.
    pub db: String,
    /// Client host.
    pub cli_host: String,
    /// Client port.
    pub cli_port: u16,
    /// Hostgroup of the current backend (-1 or 0 without one).
    pub hostgroup: i64,
    /// Backend host, empty without one.
    pub srv_host: String,
    /// Backend port.
    pub srv_port: u16,
    /// `Sleep`, `Query`, ...
    pub command: String,
    /// Time in the current command, milliseconds.
    pub time_ms: u64,
    /// The running statement, empty when idle.
    pub info: String,
}

/// Parses [`queries::PROCESSLIST`].
pub fn parse_processlist(rs: &ResultSet) -> Result<Vec<ProcessRow>, TrafficError> {
    rows("stats_mysql_processlist", rs, |r| {
        Ok(ProcessRow {
            session_id: r.count("SessionID")?,
            user: r.text("user")?,
            db: r.text("db")?,
            cli_host: r.text("cli_host")?,
            cli_port: u16::try_from(r.int("cli_port")?).unwrap_or(0),
            hostgroup: r.int("hostgroup")?,
            srv_host: r.text("srv_host")?,
            srv_port: u16::try_from(r.int("srv_port")?).unwrap_or(0),
            command: r.text("command")?,
            time_ms: r.count("time_ms")?,
            info: r.text("info")?,
        })
    })
}

/// One row of `stats_mysql_query_digest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestRow {
    /// Hostgroup the queries went to.
    pub hostgroup: i64,
    /// Schema.
    pub schemaname: String,
    /// User.
    pub username: String,
    /// The digest (`0x...`).
    pub digest: String,
    /// The normalised text.
    pub digest_text: String,
    /// Executions.
    pub count_star: u64,
    /// Unix seconds of the first execution.
    pub first_seen: u64,
    /// Unix seconds of the last execution.
    pub last_seen: u64,
    /// Total time, microseconds.
    pub sum_time: u64,
    /// Fastest execution, microseconds.
    pub min_time: u64,
    /// Slowest execution, microseconds.
    pub max_time: u64,
    /// Rows affected, summed.
    pub sum_rows_affected: u64,
    /// Rows sent, summed.
    pub sum_rows_sent: u64,
}

/// Parses [`queries::QUERY_DIGEST`].
pub fn parse_digests(rs: &ResultSet) -> Result<Vec<DigestRow>, TrafficError> {
    rows("stats_mysql_query_digest", rs, |r| {
        Ok(DigestRow {
            hostgroup: r.int("hostgroup")?,
            schemaname: r.text("schemaname")?,
            username: r.text("username")?,
            digest: r.text("digest")?,
            digest_text: r.text("digest_text")?,
            count_star: r.count("count_star")?,
            first_seen: r.count("first_seen")?,
            last_seen: r.count("last_seen")?,
            sum_time: r.count("sum_time")?,
            min_time: r.count("min_time")?,
            max_time: r.count("max_time")?,
            sum_rows_affected: r.count("sum_rows_affected")?,
            sum_rows_sent: r.count("sum_rows_sent")?,
        })
    })
}

/// The latency buckets of `stats_mysql_commands_counters`, in column order.
pub const LATENCY_BUCKETS: [&str; 12] = [
    "100us", "500us", "1ms", "5ms", "10ms", "50ms", "100ms", "500ms", "1s", "5s", "10s", "INF",
];

/// One command of `stats_mysql_commands_counters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandRow {
    /// `SELECT`, `INSERT`, ...
    pub command: String,
    /// Total time, microseconds.
    pub total_time_us: u64,
    /// Executions.
    pub total_cnt: u64,
    /// Executions per latency bucket ([`LATENCY_BUCKETS`]).
    pub buckets: [u64; 12],
}

/// Parses [`queries::COMMANDS_COUNTERS`].
pub fn parse_commands(rs: &ResultSet) -> Result<Vec<CommandRow>, TrafficError> {
    // The latency buckets follow Command, Total_Time_us and Total_cnt.
    let bucket_columns = &crate::proxysql::columns::COMMANDS_COUNTERS_COLUMNS[3..];
    rows("stats_mysql_commands_counters", rs, |r| {
        let mut buckets = [0; 12];
        for (b, c) in buckets.iter_mut().zip(bucket_columns) {
            *b = r.count(c)?;
        }
        Ok(CommandRow {
            command: r.text("Command")?,
            total_time_us: r.count("Total_Time_us")?,
            total_cnt: r.count("Total_cnt")?,
            buckets,
        })
    })
}

/// One row of `stats_mysql_errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorRow {
    /// Hostgroup.
    pub hostgroup: i64,
    /// Backend host.
    pub hostname: String,
    /// Backend port.
    pub port: u16,
    /// User.
    pub username: String,
    /// Client address.
    pub client_address: String,
    /// Schema.
    pub schemaname: String,
    /// MySQL error number.
    pub errno: i64,
    /// Occurrences.
    pub count_star: u64,
    /// Unix seconds of the first.
    pub first_seen: u64,
    /// Unix seconds of the last.
    pub last_seen: u64,
    /// The last message.
    pub last_error: String,
}

/// Parses [`queries::ERRORS`].
pub fn parse_errors(rs: &ResultSet) -> Result<Vec<ErrorRow>, TrafficError> {
    rows("stats_mysql_errors", rs, |r| {
        Ok(ErrorRow {
            hostgroup: r.int("hostgroup")?,
            hostname: r.text("hostname")?,
            port: u16::try_from(r.int("port")?).unwrap_or(0),
            username: r.text("username")?,
            client_address: r.text("client_address")?,
            schemaname: r.text("schemaname")?,
            errno: r.int("errno")?,
            count_star: r.count("count_star")?,
            first_seen: r.count("first_seen")?,
            last_seen: r.count("last_seen")?,
            last_error: r.text("last_error")?,
        })
    })
}

/// One query rule, as the digest view matches digests to the rule that routes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRow {
    /// Rule id.
    pub rule_id: i64,
    /// Active.
    pub active: bool,
    /// Only this user, when set.
    pub username: String,
    /// Only this schema, when set.
    pub schemaname: String,
    /// Only this digest, when set.
    pub digest: String,
    /// Regex on the digest text.
    pub match_digest: String,
    /// Regex on the query text.
    pub match_pattern: String,
    /// `negate_match_pattern`.
    pub negate: bool,
    /// Where the rule sends a match, when set.
    pub destination_hostgroup: Option<i64>,
    /// Stops evaluating rules after a match.
    pub apply: bool,
}

/// Parses [`queries::ROUTING_RULES`].
pub fn parse_rules(rs: &ResultSet) -> Result<Vec<RuleRow>, TrafficError> {
    rows("runtime_mysql_query_rules", rs, |r| {
        Ok(RuleRow {
            rule_id: r.int("rule_id")?,
            active: r.int("active")? != 0,
            username: r.text("username")?,
            schemaname: r.text("schemaname")?,
            digest: r.text("digest")?,
            match_digest: r.text("match_digest")?,
            match_pattern: r.text("match_pattern")?,
            negate: r.int("negate_match_pattern")? != 0,
            destination_hostgroup: match r.raw("destination_hostgroup")? {
                None | Some("") => None,
                Some(_) => Some(r.int("destination_hostgroup")?),
            },
            apply: r.int("apply")? != 0,
        })
    })
}

/// Which stats table a fetch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// [`queries::TRAFFIC_GLOBALS`] and [`queries::ERRORS_TOTAL`].
    Globals,
    /// [`queries::CONNECTION_POOL_STATS`].
    Pool,
    /// [`queries::PROCESSLIST`].
    Processlist,
    /// [`queries::QUERY_DIGEST`] and [`queries::ROUTING_RULES`].
    Digests,
    /// [`queries::COMMANDS_COUNTERS`].
    Commands,
    /// [`queries::ERRORS`].
    Errors,
}

/// One node's answer for one [`Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrafficData {
    /// Global counters.
    Globals(GlobalCounters),
    /// Connection pool.
    Pool(Vec<PoolRow>),
    /// Processlist.
    Processlist(Vec<ProcessRow>),
    /// Digests and the rules that route them.
    Digests(Vec<DigestRow>, Vec<RuleRow>),
    /// Commands counters.
    Commands(Vec<CommandRow>),
    /// Errors.
    Errors(Vec<ErrorRow>),
}

/// Reads one [`Table`] from a node.
pub async fn fetch(
    addr: &NodeAddr,
    table: Table,
    timeout: Duration,
) -> Result<TrafficData, TrafficError> {
    let mut conn = connect(addr, timeout).await?;
    let answer = fetch_on(&mut conn, table).await;
    conn.close().await;
    answer
}

async fn fetch_on(conn: &mut super::conn::Conn, table: Table) -> Result<TrafficData, TrafficError> {
    Ok(match table {
        Table::Globals => {
            let mut g = parse_globals(&query_text(conn, queries::TRAFFIC_GLOBALS).await?)?;
            // A node without stats_mysql_errors still has rates; its errors read as 0.
            if let Ok(rs) = query_text(conn, queries::ERRORS_TOTAL).await {
                g.errors = rs
                    .rows
                    .first()
                    .and_then(|r| r.first())
                    .and_then(|v| v.as_deref())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
            }
            TrafficData::Globals(g)
        }
        Table::Pool => TrafficData::Pool(parse_pool(
            &query_text(conn, queries::CONNECTION_POOL_STATS).await?,
        )?),
        Table::Processlist => TrafficData::Processlist(parse_processlist(
            &query_text(conn, queries::PROCESSLIST).await?,
        )?),
        Table::Digests => {
            let digests = parse_digests(&query_text(conn, queries::QUERY_DIGEST).await?)?;
            // Rules are context; a node that refuses them still shows its digests.
            let rules = match query_text(conn, queries::ROUTING_RULES).await {
                Ok(rs) => parse_rules(&rs).unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            TrafficData::Digests(digests, rules)
        }
        Table::Commands => TrafficData::Commands(parse_commands(
            &query_text(conn, queries::COMMANDS_COUNTERS).await?,
        )?),
        Table::Errors => {
            TrafficData::Errors(parse_errors(&query_text(conn, queries::ERRORS).await?)?)
        }
    })
}

/// Runs a kill or reset statement on one node.
pub async fn run_statement(addr: &NodeAddr, sql: &str, timeout: Duration) -> Result<(), String> {
    let mut conn = connect(addr, timeout).await.map_err(|e| e.to_string())?;
    let answer = execute_text(&mut conn, sql).await;
    conn.close().await;
    answer.map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(cols: &[&str], rows: &[&[Option<&str>]]) -> ResultSet {
        ResultSet::literal(cols, rows)
    }

    #[test]
    fn globals_read_the_named_counters_and_default_missing_ones_to_zero() {
        let g = parse_globals(&rs(
            &["Variable_Name", "Variable_Value"],
            &[
                &[Some("Questions"), Some("120")],
                &[Some("Client_Connections_connected"), Some("4")],
                &[Some("Queries_frontends_bytes_sent"), Some("9000")],
                &[Some("mysql_listener_paused"), Some("false")],
            ],
        ))
        .unwrap();
        assert_eq!(g.questions, 120);
        assert_eq!(g.client_connections, 4);
        assert_eq!(g.frontend_bytes_sent, 9000);
        assert_eq!(g.backend_bytes_recv, 0);
        assert_eq!(g.all.get("mysql_listener_paused").unwrap(), "false");
    }

    #[test]
    fn processlist_rows_take_null_backend_columns_as_empty() {
        let cols = crate::proxysql::columns::PROCESSLIST_COLUMNS;
        let p = parse_processlist(&rs(
            &cols,
            &[&[
                Some("3"),
                Some("svcusr"),
                Some("duhokim"),
                Some("127.0.0.1"),
                Some("50000"),
                None,
                None,
                None,
                Some("Sleep"),
                Some("1200"),
                None,
            ]],
        ))
        .unwrap();
        assert_eq!(p[0].session_id, 3);
        assert_eq!(p[0].hostgroup, 0);
        assert_eq!(p[0].srv_host, "");
        assert_eq!(p[0].time_ms, 1200);
    }

    #[test]
    fn a_bad_number_or_a_missing_column_is_a_typed_error() {
        let bad = parse_pool(&rs(
            &crate::proxysql::columns::CONNECTION_POOL_STATS_COLUMNS,
            &[&[
                Some("0"),
                Some("h"),
                Some("3306"),
                Some("ONLINE"),
                Some("x"),
                Some("0"),
                Some("0"),
                Some("0"),
                Some("0"),
                Some("0"),
                Some("0"),
                Some("0"),
            ]],
        ));
        assert!(matches!(
            bad,
            Err(TrafficError::NotANumber {
                column: "ConnUsed",
                ..
            })
        ));
        let missing = parse_commands(&rs(&["Command"], &[&[Some("SELECT")]]));
        assert!(matches!(missing, Err(TrafficError::MissingColumn { .. })));
    }

    #[test]
    fn commands_keep_the_buckets_in_order() {
        let cols = crate::proxysql::columns::COMMANDS_COUNTERS_COLUMNS;
        let vals: Vec<String> = (0..15).map(|i| i.to_string()).collect();
        let mut r = ResultSet::with_columns(cols.iter().copied());
        r.push_row(
            std::iter::once(Some("SELECT".to_owned())).chain(vals[1..].iter().cloned().map(Some)),
        );
        let c = parse_commands(&r).unwrap();
        assert_eq!(c[0].command, "SELECT");
        assert_eq!(c[0].total_time_us, 1);
        assert_eq!(c[0].total_cnt, 2);
        assert_eq!(c[0].buckets[0], 3);
        assert_eq!(c[0].buckets[11], 14);
    }
}
