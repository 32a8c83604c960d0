//! One poll of one node: everything the console and the diagnosis need about it (spec §9).
//!
//! A poll opens one connection (or reuses the one the previous poll kept) and runs a fixed
//! list of queries one after another. Identity
//! (`SELECT @@version`) and `runtime_checksums_values` are required; the cluster tables and
//! variables are optional, so an older or stripped-down node (or a stats-only user) still
//! yields a useful snapshot, with a note saying what is missing and why. A node that cannot be
//! reached, or refuses the login, is still a snapshot: its `result` holds the error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::conn::{connect, query_text, ClientError, Conn, NodeAddr};
use super::queries;
use crate::proxysql::clock::unix_now;
use crate::proxysql::cluster::decision::ServersSyncAlgorithm;
use crate::proxysql::cluster::state::{
    parse_u64, ChecksumRow, DiffsBeforeSync, LocalChecksums, LocalModuleState, Module,
    PeerModuleState, RowError,
};
use crate::proxysql::columns::{PEER_CHECKSUMS_COLUMNS, PEER_METRICS_COLUMNS};
use crate::proxysql::resultset::ResultSet;

const CLUSTER_PASSWORD: &str = "admin-cluster_password";
const ADMIN_CREDENTIALS: &str = "admin-admin_credentials";
const MASK: &str = "********";

/// One poll of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSnapshot {
    /// Operator-facing node name.
    pub name: String,
    /// Admin host as configured in the console.
    pub host: String,
    /// Admin port.
    pub port: u16,
    /// Unix seconds (console clock) when the poll started.
    pub fetched_at: u64,
    /// How long the poll took.
    pub elapsed_ms: u64,
    /// What was read, or why nothing could be.
    pub result: Result<NodeData, ClientError>,
}

impl NodeSnapshot {
    /// The data, when the poll succeeded.
    pub fn data(&self) -> Option<&NodeData> {
        self.result.as_ref().ok()
    }

    /// The error, when the poll failed.
    pub fn error(&self) -> Option<&ClientError> {
        self.result.as_ref().err()
    }

    /// `host:port`.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl Serialize for NodeSnapshot {
    /// `{name, host, port, fetched_at, elapsed_ms, data}` or `{…, error}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("NodeSnapshot", 6)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("host", &self.host)?;
        st.serialize_field("port", &self.port)?;
        st.serialize_field("fetched_at", &self.fetched_at)?;
        st.serialize_field("elapsed_ms", &self.elapsed_ms)?;
        match &self.result {
            Ok(data) => st.serialize_field("data", data)?,
            Err(e) => st.serialize_field("error", e)?,
        }
        st.end()
    }
}

/// What a successful poll read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeData {
    /// `SELECT @@version`.
    pub version: String,
    /// `runtime_checksums_values`.
    pub checksums: Vec<ChecksumRow>,
    /// `stats_proxysql_servers_checksums`, if readable.
    pub peer_checksums: Option<Vec<PeerChecksumRow>>,
    /// `stats_proxysql_servers_metrics`, if readable.
    pub peer_metrics: Option<Vec<PeerMetricsRow>>,
    /// `runtime_proxysql_servers`, if readable.
    pub proxysql_servers: Option<Vec<ProxysqlServerRow>>,
    /// `admin-cluster%` and `admin-checksum%` runtime variables, if readable;
    /// `admin-cluster_password` is masked.
    pub cluster_variables: Option<BTreeMap<String, String>>,
    /// User names of `admin-admin_credentials` (passwords dropped), if readable.
    pub admin_users: Option<Vec<String>>,
    /// Why optional parts are missing.
    pub notes: Vec<String>,
}

/// A row of `stats_proxysql_servers_checksums`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerChecksumRow {
    /// Peer host as listed in `proxysql_servers`.
    pub hostname: String,
    /// Peer admin port.
    pub port: u16,
    /// Module name.
    pub name: String,
    /// What the node remembers of that peer's module.
    #[serde(flatten)]
    pub state: PeerModuleState,
}

impl PeerChecksumRow {
    /// The module, if the name is one this version knows.
    pub fn module(&self) -> Option<Module> {
        Module::from_name(&self.name)
    }

    /// `hostname:port`.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.hostname, self.port)
    }
}

/// A row of `stats_proxysql_servers_metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerMetricsRow {
    /// Peer host.
    pub hostname: String,
    /// Peer admin port.
    pub port: u16,
    /// Informational weight.
    pub weight: u64,
    /// Informational comment.
    pub comment: String,
    /// Duration of the last metrics query.
    pub response_time_ms: u64,
    /// Peer's `ProxySQL_Uptime`.
    pub uptime_s: u64,
    /// Milliseconds since the last metrics query (huge until the first).
    pub last_check_ms: u64,
    /// Peer's `Questions`.
    pub queries: u64,
    /// Peer's `Client_Connections_connected`.
    pub client_connections_connected: u64,
    /// Peer's `Client_Connections_created`.
    pub client_connections_created: u64,
}

/// A row of `runtime_proxysql_servers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxysqlServerRow {
    /// Peer host.
    pub hostname: String,
    /// Peer admin port.
    pub port: u16,
    /// Informational weight.
    pub weight: u64,
    /// Informational comment.
    pub comment: String,
}

/// The raw answers of one poll, before interpretation.
#[derive(Debug, Clone)]
pub struct RawPoll {
    /// [`queries::SERVER_VERSION`]
    pub version: Result<ResultSet, ClientError>,
    /// [`queries::RUNTIME_CHECKSUMS`]
    pub checksums: Result<ResultSet, ClientError>,
    /// [`queries::PEER_CHECKSUMS`]
    pub peer_checksums: Result<ResultSet, ClientError>,
    /// [`queries::PEER_METRICS`]
    pub peer_metrics: Result<ResultSet, ClientError>,
    /// [`queries::PROXYSQL_SERVERS`]
    pub proxysql_servers: Result<ResultSet, ClientError>,
    /// [`queries::CLUSTER_VARIABLES`]
    pub cluster_variables: Result<ResultSet, ClientError>,
}

/// Polls one node: connects, runs the queries in order on that one connection, closes.
/// `timeout` bounds the connect and each query separately.
pub async fn fetch_snapshot(addr: &NodeAddr, timeout: Duration) -> NodeSnapshot {
    let mut kept = None;
    let snapshot = fetch_snapshot_keeping(addr, timeout, &mut kept).await;
    if let Some(conn) = kept {
        conn.close().await;
    }
    snapshot
}

/// [`fetch_snapshot`] for a caller that polls the same node again and again (the console's
/// pollers): the connection is taken from `kept` when there is one (opened when not, or
/// when its timeout differs) and left there after a poll that did not break it, so a tick
/// costs the queries' round trips and not a TCP and login handshake as well. A kept
/// connection that turns out dead (the node restarted, `wait_timeout`) is replaced once
/// within the same poll, so the node is not reported down for it.
pub async fn fetch_snapshot_keeping(
    addr: &NodeAddr,
    timeout: Duration,
    kept: &mut Option<Conn>,
) -> NodeSnapshot {
    let fetched_at = unix_now();
    let started = Instant::now();
    let reused = kept.take().filter(|c| c.timeout() == timeout);
    let was_reused = reused.is_some();
    let mut result = poll(addr, timeout, reused, kept).await;
    // A timeout is the node's slowness, not a stale connection: no second wait for it.
    let stale = |e: &ClientError| e.is_fatal() && !matches!(e, ClientError::Timeout { .. });
    if was_reused && result.as_ref().is_err_and(stale) {
        result = poll(addr, timeout, None, kept).await;
    }
    NodeSnapshot {
        name: addr.name.clone(),
        host: addr.host.clone(),
        port: addr.port,
        fetched_at,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        result,
    }
}

/// One poll on `conn` (or a new connection); the connection goes back into `kept` unless a
/// fatal error broke it.
async fn poll(
    addr: &NodeAddr,
    timeout: Duration,
    conn: Option<Conn>,
    kept: &mut Option<Conn>,
) -> Result<NodeData, ClientError> {
    let mut conn = match conn {
        Some(c) => c,
        None => connect(addr, timeout).await?,
    };
    let mut answers = Vec::with_capacity(6);
    for sql in [
        queries::SERVER_VERSION,
        queries::RUNTIME_CHECKSUMS,
        queries::PEER_CHECKSUMS,
        queries::PEER_METRICS,
        queries::PROXYSQL_SERVERS,
        queries::CLUSTER_VARIABLES,
    ] {
        let answer = query_text(&mut conn, sql).await;
        match &answer {
            // A dead connection cannot answer the rest; the node counts as unreachable.
            Err(e) if e.is_fatal() => return Err(e.clone()),
            // Without identity there is nothing to interpret.
            Err(e) if sql == queries::SERVER_VERSION => {
                *kept = Some(conn);
                return Err(e.clone());
            }
            _ => answers.push(answer),
        }
    }
    *kept = Some(conn);
    let mut it = answers.into_iter();
    let mut next = || {
        it.next().unwrap_or_else(|| {
            Err(ClientError::UnexpectedResult {
                message: "missing answer".into(),
            })
        })
    };
    NodeData::from_raw(RawPoll {
        version: next(),
        checksums: next(),
        peer_checksums: next(),
        peer_metrics: next(),
        proxysql_servers: next(),
        cluster_variables: next(),
    })
}

fn unexpected(what: &str, e: RowError) -> ClientError {
    ClientError::UnexpectedResult {
        message: format!("{what}: {e}"),
    }
}

/// Resolves column names of a `SELECT` to indices, case-insensitively.
struct Columns<'a> {
    rs: &'a ResultSet,
    idx: Vec<usize>,
    names: &'static [&'static str],
}

impl<'a> Columns<'a> {
    fn new(rs: &'a ResultSet, names: &'static [&'static str]) -> Result<Self, RowError> {
        let idx = names
            .iter()
            .map(|n| rs.column_index(n))
            .collect::<Option<Vec<_>>>()
            .ok_or(RowError::TooFewColumns {
                expected: names.len(),
                got: rs.columns.len(),
            })?;
        Ok(Self { rs, idx, names })
    }

    fn text(&self, row: usize, col: usize) -> Result<&'a str, RowError> {
        self.rs.rows[row]
            .get(self.idx[col])
            .and_then(|v| v.as_deref())
            .ok_or(RowError::Null {
                row,
                column: self.names[col],
            })
    }

    fn num(&self, row: usize, col: usize) -> Result<u64, RowError> {
        parse_u64(self.text(row, col)?, row, self.names[col])
    }

    fn port(&self, row: usize, col: usize) -> Result<u16, RowError> {
        let text = self.text(row, col)?;
        text.trim().parse().map_err(|_| RowError::NotANumber {
            row,
            column: self.names[col],
            value: text.to_owned(),
        })
    }

    fn rows(&self) -> std::ops::Range<usize> {
        0..self.rs.rows.len()
    }
}

fn parse_peer_checksums(rs: &ResultSet) -> Result<Vec<PeerChecksumRow>, RowError> {
    let c = Columns::new(rs, &PEER_CHECKSUMS_COLUMNS)?;
    c.rows()
        .map(|r| {
            Ok(PeerChecksumRow {
                hostname: c.text(r, 0)?.to_owned(),
                port: c.port(r, 1)?,
                name: c.text(r, 2)?.to_owned(),
                state: PeerModuleState {
                    version: c.num(r, 3)?,
                    epoch: c.num(r, 4)?,
                    checksum: c.text(r, 5)?.to_owned(),
                    changed_at: c.num(r, 6)?,
                    updated_at: c.num(r, 7)?,
                    diff_check: c.num(r, 8)?,
                },
            })
        })
        .collect()
}

fn parse_peer_metrics(rs: &ResultSet) -> Result<Vec<PeerMetricsRow>, RowError> {
    let c = Columns::new(rs, &PEER_METRICS_COLUMNS)?;
    c.rows()
        .map(|r| {
            Ok(PeerMetricsRow {
                hostname: c.text(r, 0)?.to_owned(),
                port: c.port(r, 1)?,
                weight: c.num(r, 2)?,
                comment: c.text(r, 3)?.to_owned(),
                response_time_ms: c.num(r, 4)?,
                uptime_s: c.num(r, 5)?,
                last_check_ms: c.num(r, 6)?,
                queries: c.num(r, 7)?,
                client_connections_connected: c.num(r, 8)?,
                client_connections_created: c.num(r, 9)?,
            })
        })
        .collect()
}

fn parse_proxysql_servers(rs: &ResultSet) -> Result<Vec<ProxysqlServerRow>, RowError> {
    const N: &[&str] = &["hostname", "port", "weight", "comment"];
    let c = Columns::new(rs, N)?;
    c.rows()
        .map(|r| {
            Ok(ProxysqlServerRow {
                hostname: c.text(r, 0)?.to_owned(),
                port: c.port(r, 1)?,
                weight: c.num(r, 2)?,
                comment: c.text(r, 3)?.to_owned(),
            })
        })
        .collect()
}

/// Variables with the cluster password masked, and the admin user names split off.
type Variables = (BTreeMap<String, String>, Option<Vec<String>>);

fn parse_variables(rs: &ResultSet) -> Result<Variables, RowError> {
    const N: &[&str] = &["variable_name", "variable_value"];
    let c = Columns::new(rs, N)?;
    let mut vars = BTreeMap::new();
    let mut admin_users = None;
    for r in c.rows() {
        let name = c.text(r, 0)?;
        // A NULL value is possible in a hand-edited table; treat it as empty.
        let value = c.text(r, 1).unwrap_or("");
        match name {
            ADMIN_CREDENTIALS => admin_users = Some(credential_users(value)),
            CLUSTER_PASSWORD if !value.is_empty() => {
                vars.insert(name.to_owned(), MASK.to_owned());
            }
            _ => {
                vars.insert(name.to_owned(), value.to_owned());
            }
        }
    }
    Ok((vars, admin_users))
}

/// The deprecated `admin-checksum_<module>` variable of a module (none for `proxysql_servers`).
pub fn checksum_flag(module: Module) -> Option<&'static str> {
    match module {
        Module::AdminVariables => Some("admin-checksum_admin_variables"),
        Module::MysqlQueryRules => Some("admin-checksum_mysql_query_rules"),
        Module::MysqlServers | Module::MysqlServersV2 => Some("admin-checksum_mysql_servers"),
        Module::MysqlUsers => Some("admin-checksum_mysql_users"),
        Module::MysqlVariables => Some("admin-checksum_mysql_variables"),
        Module::ProxysqlServers => None,
    }
}

/// Interprets an optional answer; a failure becomes a note instead of an error.
fn optional<T>(
    notes: &mut Vec<String>,
    table: &str,
    answer: Result<ResultSet, ClientError>,
    parse: fn(&ResultSet) -> Result<T, RowError>,
) -> Option<T> {
    match answer.map(|rs| parse(&rs)) {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            notes.push(format!("{table} unreadable: {e}"));
            None
        }
        Err(e) => {
            notes.push(format!("{table} unavailable: {e}"));
            None
        }
    }
}

/// The user names of a `user:password;user2:password2` credentials list.
fn credential_users(value: &str) -> Vec<String> {
    value
        .split(';')
        .filter_map(|pair| pair.split(':').next())
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

impl NodeData {
    /// Interprets the raw answers of a poll. Fails only when a required part failed or is
    /// unreadable; optional parts that fail become `None` plus a note.
    pub fn from_raw(raw: RawPoll) -> Result<NodeData, ClientError> {
        let version = raw
            .version?
            .rows
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.clone())
            .ok_or_else(|| ClientError::UnexpectedResult {
                message: "SELECT @@version returned no value".into(),
            })?;
        let checksums = queries::parse_runtime_checksums(&raw.checksums?)
            .map_err(|e| unexpected("runtime_checksums_values", e))?;
        let mut notes = Vec::new();
        let peer_checksums = optional(
            &mut notes,
            "stats_proxysql_servers_checksums",
            raw.peer_checksums,
            parse_peer_checksums,
        );
        let peer_metrics = optional(
            &mut notes,
            "stats_proxysql_servers_metrics",
            raw.peer_metrics,
            parse_peer_metrics,
        );
        let proxysql_servers = optional(
            &mut notes,
            "runtime_proxysql_servers",
            raw.proxysql_servers,
            parse_proxysql_servers,
        );
        let variables = optional(
            &mut notes,
            "runtime_global_variables",
            raw.cluster_variables,
            parse_variables,
        );
        let (cluster_variables, admin_users) = match variables {
            Some((vars, users)) => (Some(vars), users),
            None => (None, None),
        };
        Ok(NodeData {
            version,
            checksums,
            peer_checksums,
            peer_metrics,
            proxysql_servers,
            cluster_variables,
            admin_users,
            notes,
        })
    }

    /// The node's own state of a module, if it reported one.
    pub fn own(&self, module: Module) -> Option<LocalModuleState> {
        self.checksums
            .iter()
            .find(|r| r.name == module.name())
            .map(|r| LocalModuleState {
                version: r.version,
                epoch: r.epoch,
                checksum: r.checksum.clone(),
            })
    }

    /// The node's own state of every module (missing ones at their pre-load default).
    pub fn local_checksums(&self) -> LocalChecksums {
        LocalChecksums::from_fn(|m| self.own(m).unwrap_or_default())
    }

    /// A runtime variable's value, if it was read.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.cluster_variables
            .as_ref()?
            .get(name)
            .map(String::as_str)
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.variable(name)?.trim().parse().ok()
    }

    /// Whether the deprecated `admin-checksum_<module>` flag is `false` on this node, which
    /// turns the module's sync off like `*_diffs_before_sync=0` (sysown/proxysql #1173).
    pub fn checksum_flag_off(&self, module: Module) -> bool {
        checksum_flag(module)
            .and_then(|v| self.variable(v))
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false") || v.trim() == "0")
    }

    /// The node's D per module; ProxySQL's default 3 where unknown, 0 where the deprecated
    /// `admin-checksum_<module>` flag is off.
    pub fn diffs_before_sync(&self) -> DiffsBeforeSync {
        let d = |m: Module| {
            if self.checksum_flag_off(m) {
                0
            } else {
                self.number(m.diffs_variable()).unwrap_or(3)
            }
        };
        DiffsBeforeSync {
            admin_variables: d(Module::AdminVariables),
            mysql_query_rules: d(Module::MysqlQueryRules),
            mysql_servers: d(Module::MysqlServers),
            mysql_users: d(Module::MysqlUsers),
            mysql_variables: d(Module::MysqlVariables),
            proxysql_servers: d(Module::ProxysqlServers),
        }
    }

    /// `admin-cluster_check_interval_ms`, 1000 where unknown.
    pub fn check_interval_ms(&self) -> u64 {
        self.number("admin-cluster_check_interval_ms")
            .unwrap_or(1000)
    }

    /// `admin-cluster_mysql_servers_sync_algorithm`, 1 where unknown.
    pub fn servers_sync_algorithm(&self) -> ServersSyncAlgorithm {
        self.number("admin-cluster_mysql_servers_sync_algorithm")
            .and_then(ServersSyncAlgorithm::from_value)
            .unwrap_or(ServersSyncAlgorithm::RuntimeAndV2)
    }

    /// `admin-cluster_username`: `Some("")` means the node monitors no peer; `None` = unknown.
    pub fn cluster_username(&self) -> Option<&str> {
        self.variable("admin-cluster_username")
    }

    /// This node's view of its peers for one module.
    pub fn peer_rows(&self, module: Module) -> impl Iterator<Item = &PeerChecksumRow> {
        self.peer_checksums
            .iter()
            .flatten()
            .filter(move |r| r.name == module.name())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn rs(columns: &[&str], rows: &[&[Option<&str>]]) -> ResultSet {
        let mut r = ResultSet::with_columns(columns.iter().copied());
        for row in rows {
            r.push_row(row.iter().copied());
        }
        r
    }

    fn server_error(message: &str) -> ClientError {
        ClientError::Server {
            code: 1045,
            state: "28000".into(),
            message: message.into(),
        }
    }

    /// A plausible answer set for the scenario's node1, in the admin's text form.
    pub(crate) fn raw_node1() -> RawPoll {
        RawPoll {
            version: Ok(rs(&["@@version"], &[&[Some("2.7.2-14-g5cc418b")]])),
            checksums: Ok(rs(
                &["name", "version", "epoch", "checksum"],
                &[
                    &[
                        Some("admin_variables"),
                        Some("1"),
                        Some("1727968666"),
                        Some("0xB62B8D3CB14389C2"),
                    ],
                    &[
                        Some("mysql_query_rules"),
                        Some("1"),
                        Some("1727968666"),
                        Some("0x9DEAF45E6E662B5F"),
                    ],
                ],
            )),
            peer_checksums: Ok(rs(
                &[
                    "hostname",
                    "port",
                    "name",
                    "version",
                    "epoch",
                    "checksum",
                    "changed_at",
                    "updated_at",
                    "diff_check",
                ],
                &[&[
                    Some("192.168.0.12"),
                    Some("6032"),
                    Some("mysql_query_rules"),
                    Some("1"),
                    Some("1728013985"),
                    Some("0x0000000000000000"),
                    Some("1728014000"),
                    Some("1728014150"),
                    Some("150"),
                ]],
            )),
            peer_metrics: Ok(rs(
                &crate::proxysql::columns::PEER_METRICS_COLUMNS,
                &[&[
                    Some("192.168.0.12"),
                    Some("6032"),
                    Some("0"),
                    Some("proxysql_node2"),
                    Some("1"),
                    Some("165"),
                    Some("4321"),
                    Some("17"),
                    Some("0"),
                    Some("3"),
                ]],
            )),
            proxysql_servers: Ok(rs(
                &["hostname", "port", "weight", "comment"],
                &[&[
                    Some("192.168.0.11"),
                    Some("6032"),
                    Some("0"),
                    Some("proxysql_node1"),
                ]],
            )),
            cluster_variables: Ok(rs(
                &["variable_name", "variable_value"],
                &[
                    &[
                        Some("admin-admin_credentials"),
                        Some("admin:admin;cluster_user:cluster_pass"),
                    ],
                    &[
                        Some("admin-cluster_mysql_servers_diffs_before_sync"),
                        Some("5"),
                    ],
                    &[
                        Some("admin-cluster_mysql_servers_sync_algorithm"),
                        Some("2"),
                    ],
                    &[Some("admin-cluster_password"), Some("cluster_pass")],
                    &[Some("admin-cluster_username"), Some("cluster_user")],
                ],
            )),
        }
    }

    #[test]
    fn interprets_a_full_poll() {
        let d = NodeData::from_raw(raw_node1()).unwrap();
        assert_eq!(d.version, "2.7.2-14-g5cc418b");
        assert_eq!(d.checksums.len(), 2);
        let own = d.own(Module::MysqlQueryRules).unwrap();
        assert_eq!((own.version, own.epoch), (1, 1727968666));
        assert_eq!(d.own(Module::MysqlUsers), None);
        assert_eq!(d.local_checksums().mysql_users, LocalModuleState::default());
        let peers = d.peer_checksums.as_ref().unwrap();
        assert_eq!(peers[0].endpoint(), "192.168.0.12:6032");
        assert_eq!(peers[0].module(), Some(Module::MysqlQueryRules));
        assert_eq!(
            (peers[0].state.diff_check, peers[0].state.updated_at),
            (150, 1728014150)
        );
        assert_eq!(d.peer_rows(Module::MysqlQueryRules).count(), 1);
        assert_eq!(d.peer_rows(Module::MysqlUsers).count(), 0);
        let m = &d.peer_metrics.as_ref().unwrap()[0];
        assert_eq!((m.uptime_s, m.last_check_ms, m.queries), (165, 4321, 17));
        assert_eq!(
            d.proxysql_servers.as_ref().unwrap()[0].comment,
            "proxysql_node1"
        );
        assert_eq!(d.admin_users.as_deref().unwrap(), ["admin", "cluster_user"]);
        assert_eq!(d.cluster_username(), Some("cluster_user"));
        assert_eq!(d.diffs_before_sync().mysql_servers, 5);
        assert_eq!(d.diffs_before_sync().mysql_users, 3, "default");
        assert_eq!(d.check_interval_ms(), 1000, "default");
        assert_eq!(d.servers_sync_algorithm(), ServersSyncAlgorithm::V2Only);
        assert!(d.notes.is_empty(), "{:?}", d.notes);
    }

    #[test]
    fn secrets_never_reach_the_snapshot() {
        let d = NodeData::from_raw(raw_node1()).unwrap();
        assert_eq!(d.variable("admin-cluster_password"), Some(MASK));
        assert_eq!(d.variable("admin-admin_credentials"), None);
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("cluster_pass\""), "{json}");
        assert!(!json.contains("admin:admin"), "{json}");
    }

    #[test]
    fn optional_parts_may_fail() {
        let mut raw = raw_node1();
        raw.peer_metrics = Err(server_error(
            "ProxySQL Admin Error: no such table: stats_proxysql_servers_metrics",
        ));
        raw.proxysql_servers = Ok(rs(&["hostname", "port"], &[]));
        raw.peer_checksums = Ok(rs(
            &[
                "hostname",
                "port",
                "name",
                "version",
                "epoch",
                "checksum",
                "changed_at",
                "updated_at",
                "diff_check",
            ],
            &[&[
                Some("h"),
                Some("port?"),
                Some("x"),
                Some("1"),
                Some("1"),
                Some("c"),
                Some("0"),
                Some("0"),
                Some("0"),
            ]],
        ));
        let d = NodeData::from_raw(raw).unwrap();
        assert_eq!(d.peer_metrics, None);
        assert_eq!(d.proxysql_servers, None);
        assert_eq!(d.peer_checksums, None);
        assert_eq!(d.notes.len(), 3, "{:?}", d.notes);
        assert!(d.notes.iter().any(|n| n.starts_with(
            "stats_proxysql_servers_metrics unavailable: ProxySQL Admin Error: no such table"
        )));
        assert!(d
            .notes
            .iter()
            .any(|n| n.contains("column port is not an unsigned integer: 'port?'")));
    }

    #[test]
    fn required_parts_must_succeed() {
        let mut raw = raw_node1();
        raw.checksums = Err(server_error("no such table: runtime_checksums_values"));
        assert!(matches!(
            NodeData::from_raw(raw),
            Err(ClientError::Server { .. })
        ));
        let mut raw = raw_node1();
        raw.version = Ok(rs(&["@@version"], &[]));
        assert!(matches!(
            NodeData::from_raw(raw),
            Err(ClientError::UnexpectedResult { .. })
        ));
        let mut raw = raw_node1();
        raw.checksums = Ok(rs(
            &["name", "version", "epoch", "checksum"],
            &[&[Some("x"), Some("one"), Some("1"), Some("c")]],
        ));
        let e = NodeData::from_raw(raw).unwrap_err();
        assert!(e.to_string().contains("runtime_checksums_values"), "{e}");
    }

    #[test]
    fn credential_user_names() {
        assert_eq!(
            credential_users("admin:admin; radmin:x ;:nouser;solo"),
            ["admin", "radmin", "solo"]
        );
        assert!(credential_users("").is_empty());
    }

    #[test]
    fn snapshot_serializes_data_or_error() {
        let ok = NodeSnapshot {
            name: "node1".into(),
            host: "127.0.0.1".into(),
            port: 6032,
            fetched_at: 1,
            elapsed_ms: 2,
            result: NodeData::from_raw(raw_node1()),
        };
        let v = serde_json::to_value(&ok).unwrap();
        assert_eq!(v["data"]["version"], "2.7.2-14-g5cc418b");
        assert_eq!(v["data"]["peer_checksums"][0]["diff_check"], 150);
        assert!(v.get("error").is_none());
        let err = NodeSnapshot {
            result: Err(server_error("Access denied for user 'x'")),
            ..ok
        };
        let v = serde_json::to_value(&err).unwrap();
        assert_eq!(v["error"]["kind"], "server");
        assert_eq!(v["error"]["code"], 1045);
        assert!(v.get("data").is_none());
    }

    /// Called from the client's single real-server test: polling something that is not a
    /// ProxySQL admin fails cleanly on the required table, and failures are data.
    pub(crate) async fn against_a_real_mariadb(addr: &NodeAddr) {
        let t = Duration::from_secs(5);
        let snap = fetch_snapshot(addr, t).await;
        assert_eq!(snap.name, addr.name);
        let e = snap
            .error()
            .expect("MariaDB has no runtime_checksums_values");
        assert!(
            matches!(
                e,
                ClientError::Server {
                    code: 1046 | 1146,
                    ..
                }
            ),
            "{e:?}"
        );

        let bad = NodeAddr {
            password: "nope".into(),
            ..addr.clone()
        };
        let snap = fetch_snapshot(&bad, t).await;
        assert!(snap.error().unwrap().is_access_denied());

        let gone = NodeAddr {
            port: crate::client::test_server::free_port(),
            ..addr.clone()
        };
        let snap = fetch_snapshot(&gone, t).await;
        assert!(matches!(snap.error(), Some(ClientError::Io { .. })));
        assert!(snap.fetched_at > 1_700_000_000);
    }
}
