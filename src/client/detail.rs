//! What the console reads from a node only when a view needs it: one node's backends, users
//! and rules, every node's variables (secrets masked before they leave this module), and the
//! VRRP state table `stats_pxadm_vrrp` that pxadm nodes running the VIP expose. How the TUI
//! lays these out is the TUI's business (`console::tui::detail`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::conn::{connect, query_text, ClientError, Conn, NodeAddr};
use super::queries;
use crate::proxysql::clock::unix_now;
use crate::proxysql::resultset::ResultSet;

/// One optional part of a fetch: the rows, or why they could not be read.
pub type Part = Result<ResultSet, String>;

const MASK: &str = "********";

/// The selected node's detail tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDetail {
    /// Node name.
    pub node: String,
    /// Unix seconds of the fetch.
    pub fetched_at: u64,
    /// [`queries::RUNTIME_SERVERS`]
    pub servers: Part,
    /// [`queries::CONNECTION_POOL`]
    pub pool: Part,
    /// [`queries::RUNTIME_USERS_MASKED`]
    pub users: Part,
    /// [`queries::RUNTIME_QUERY_RULES`]
    pub rules: Part,
    /// [`queries::QUERY_RULE_HITS`]
    pub rule_hits: Part,
}

/// A row's value in the named column; empty when the column is missing or the value NULL.
pub fn column_text<'a>(rs: &'a ResultSet, row: &'a [Option<String>], name: &str) -> &'a str {
    rs.column_index(name)
        .and_then(|i| row.get(i))
        .and_then(|v| v.as_deref())
        .unwrap_or("")
}

/// True for variables whose values are secrets.
fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("password") || n.contains("credentials")
}

/// A `variable_name, variable_value` result as a map, secrets masked. A masked value carries a
/// short fingerprint so a secret that differs between nodes (a wrong cluster password) still
/// shows as differing.
pub fn variables_map(rs: &ResultSet) -> BTreeMap<String, String> {
    rs.rows
        .iter()
        .filter_map(|row| {
            let name = column_text(rs, row, "variable_name");
            if name.is_empty() {
                return None;
            }
            let value = column_text(rs, row, "variable_value");
            let shown = if is_secret(name) && !value.is_empty() {
                format!("{MASK} #{:04x}", fingerprint(value))
            } else {
                value.to_owned()
            };
            Some((name.to_owned(), shown))
        })
        .collect()
}

/// A 16-bit fingerprint keyed with a random per-process salt: equal secrets get equal
/// fingerprints within one console, and the screen reveals nothing that could be checked
/// against guesses elsewhere.
fn fingerprint(secret: &str) -> u16 {
    use sha2::{Digest, Sha256};
    static SALT: std::sync::OnceLock<uuid::Uuid> = std::sync::OnceLock::new();
    let salt = SALT.get_or_init(uuid::Uuid::new_v4);
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(secret.as_bytes());
    let d = h.finalize();
    u16::from_be_bytes([d[0], d[1]])
}

/// One row of `stats_pxadm_vrrp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpRow {
    /// VRRP instance name.
    pub instance: String,
    /// `INIT`, `BACKUP`, `MASTER` or `FAULT`.
    pub state: String,
    /// Configured priority.
    pub priority: i64,
    /// Priority after tracked-script weights.
    pub effective_priority: i64,
    /// The virtual address.
    pub vip: String,
    /// Whether this node holds the address now.
    pub vip_held: bool,
    /// Source of the last advertisement heard.
    pub last_advert_from: Option<String>,
    /// Its age.
    pub last_advert_age_ms: Option<u64>,
    /// `NONE`, `INIT`, `GOOD` or `BAD`.
    pub check_status: String,
}

/// What a node says about the VIP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HaInfo {
    /// Not asked yet.
    #[default]
    Unknown,
    /// The node has no `stats_pxadm_vrrp` (a real ProxySQL, or no VIP configured).
    Absent,
    /// Its VRRP instances.
    Rows(Vec<VrrpRow>),
    /// The table exists but could not be read.
    Error(String),
}

impl HaInfo {
    /// The VIPs this node holds.
    pub fn held_vips(&self) -> Vec<&str> {
        match self {
            HaInfo::Rows(rows) => rows
                .iter()
                .filter(|r| r.vip_held)
                .map(|r| r.vip.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Interprets the answer to [`queries::VRRP_INSTANCES`].
pub fn parse_vrrp(answer: Result<ResultSet, ClientError>) -> HaInfo {
    let rs = match answer {
        // A pxadm node always has the table; it is empty without --vip.
        Ok(rs) if rs.rows.is_empty() => return HaInfo::Absent,
        Ok(rs) => rs,
        Err(ClientError::Server { message, .. }) if message.contains("no such table") => {
            return HaInfo::Absent
        }
        Err(e) => return HaInfo::Error(e.to_string()),
    };
    let mut rows = Vec::new();
    for row in &rs.rows {
        let num = |name: &str| column_text(&rs, row, name).trim().parse::<i64>();
        let (Ok(priority), Ok(effective_priority)) = (num("priority"), num("effective_priority"))
        else {
            return HaInfo::Error("stats_pxadm_vrrp: priority is not a number".into());
        };
        let opt = |name: &str| {
            rs.column_index(name)
                .and_then(|i| row.get(i))
                .and_then(Clone::clone)
        };
        rows.push(VrrpRow {
            instance: column_text(&rs, row, "instance").to_owned(),
            state: column_text(&rs, row, "state").to_owned(),
            priority,
            effective_priority,
            vip: column_text(&rs, row, "vip").to_owned(),
            vip_held: column_text(&rs, row, "vip_held").trim() == "1",
            last_advert_from: opt("last_advert_from").filter(|s| !s.is_empty()),
            last_advert_age_ms: opt("last_advert_age_ms").and_then(|s| s.trim().parse().ok()),
            check_status: column_text(&rs, row, "check_status").to_owned(),
        });
    }
    HaInfo::Rows(rows)
}

/// Reads the detail tables of one node on one connection; each table may fail on its own.
pub async fn fetch_detail(addr: &NodeAddr, timeout: Duration) -> Result<NodeDetail, ClientError> {
    let mut conn = connect(addr, timeout).await?;
    let mut parts = Vec::with_capacity(5);
    for sql in [
        queries::RUNTIME_SERVERS,
        queries::CONNECTION_POOL,
        queries::RUNTIME_USERS_MASKED,
        queries::RUNTIME_QUERY_RULES,
        queries::QUERY_RULE_HITS,
    ] {
        match query_text(&mut conn, sql).await {
            Err(e) if e.is_fatal() => return Err(e),
            answer => parts.push(answer.map_err(|e| e.to_string())),
        }
    }
    conn.close().await;
    let mut it = parts.into_iter();
    let mut next = || it.next().unwrap_or_else(|| Err("not read".into()));
    Ok(NodeDetail {
        node: addr.name.clone(),
        fetched_at: unix_now(),
        servers: next(),
        pool: next(),
        users: next(),
        rules: next(),
        rule_hits: next(),
    })
}

/// Reads every runtime variable of one node, secrets masked.
pub async fn fetch_variables(
    addr: &NodeAddr,
    timeout: Duration,
) -> Result<BTreeMap<String, String>, String> {
    let mut conn = connect(addr, timeout).await.map_err(|e| e.to_string())?;
    let answer = query_text(&mut conn, queries::RUNTIME_VARIABLES).await;
    conn.close().await;
    answer
        .map(|rs| variables_map(&rs))
        .map_err(|e| e.to_string())
}

/// Reads a node's VRRP table.
pub async fn fetch_ha(addr: &NodeAddr, timeout: Duration) -> HaInfo {
    let mut kept = None;
    let info = fetch_ha_keeping(addr, timeout, &mut kept).await;
    if let Some(conn) = kept {
        conn.close().await;
    }
    info
}

/// [`fetch_ha`] on the connection a poller keeps (see
/// [`crate::client::snapshot::fetch_snapshot_keeping`]); opens one when `kept` is empty and
/// leaves it there unless it broke.
pub async fn fetch_ha_keeping(
    addr: &NodeAddr,
    timeout: Duration,
    kept: &mut Option<Conn>,
) -> HaInfo {
    let mut conn = match kept.take().filter(|c| c.timeout() == timeout) {
        Some(c) => c,
        None => match connect(addr, timeout).await {
            Ok(c) => c,
            Err(e) => return HaInfo::Error(e.to_string()),
        },
    };
    let answer = query_text(&mut conn, queries::VRRP_INSTANCES).await;
    if !answer.as_ref().is_err_and(ClientError::is_fatal) {
        *kept = Some(conn);
    }
    parse_vrrp(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(cols: &[&str], rows: &[&[&str]]) -> ResultSet {
        let mut r = ResultSet::with_columns(cols.iter().copied());
        for row in rows {
            r.push_row(row.iter().map(|v| Some(*v)));
        }
        r
    }

    #[test]
    fn vrrp_answers() {
        let ok = parse_vrrp(Ok(rs(
            &[
                "instance",
                "state",
                "priority",
                "effective_priority",
                "vip",
                "vip_held",
                "last_advert_from",
                "last_advert_age_ms",
                "check_status",
            ],
            &[&[
                "VI_1",
                "MASTER",
                "100",
                "100",
                "192.168.0.20",
                "1",
                "",
                "",
                "GOOD",
            ]],
        )));
        let HaInfo::Rows(rows) = &ok else {
            panic!("{ok:?}")
        };
        assert!(rows[0].vip_held);
        assert_eq!(rows[0].last_advert_from, None);
        assert_eq!(ok.held_vips(), ["192.168.0.20"]);
        let absent = parse_vrrp(Err(ClientError::Server {
            code: 1045,
            state: "28000".into(),
            message: "ProxySQL Admin Error: no such table: stats_pxadm_vrrp".into(),
        }));
        assert_eq!(absent, HaInfo::Absent);
        let empty = parse_vrrp(Ok(rs(&["instance", "priority"], &[])));
        assert_eq!(empty, HaInfo::Absent, "a pxadm node without --vip");
        let bad = parse_vrrp(Ok(rs(
            &["instance", "priority", "effective_priority"],
            &[&["VI_1", "high", "1"]],
        )));
        assert!(matches!(bad, HaInfo::Error(_)));
    }
}
