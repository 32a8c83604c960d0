//! Data the console reads only when a view needs it: one node's backends, users and rules,
//! every node's variables (for the "differs between nodes" list), and the VRRP state table
//! `stats_pxadm_vrrp` that pxadm nodes running the VIP expose.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::client::conn::{connect, query_text, ClientError, NodeAddr};
use crate::client::queries;
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

/// One backend: its runtime row joined with its connection-pool counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRow {
    /// Hostgroup.
    pub hostgroup: String,
    /// `host:port`.
    pub endpoint: String,
    /// Runtime status (the pool's when it is more precise, e.g. `SHUNNED_REPLICATION_LAG`).
    pub status: String,
    /// Weight.
    pub weight: String,
    /// `ConnUsed/ConnFree` or empty.
    pub conns: String,
    /// `ConnOK/ConnERR` or empty.
    pub ok_err: String,
    /// Queries or empty.
    pub queries: String,
    /// Latency in ms or empty.
    pub latency_ms: String,
}

/// One query rule with its hit count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    /// `rule_id`.
    pub id: String,
    /// `active`.
    pub active: String,
    /// `username` or `*`.
    pub user: String,
    /// `match_digest` or `match_pattern`.
    pub matches: String,
    /// `destination_hostgroup` or empty.
    pub destination: String,
    /// `apply`.
    pub apply: String,
    /// Hits, or `?` when the stats table is unreadable.
    pub hits: String,
}

fn field<'a>(rs: &'a ResultSet, row: &'a [Option<String>], name: &str) -> &'a str {
    rs.column_index(name)
        .and_then(|i| row.get(i))
        .and_then(|v| v.as_deref())
        .unwrap_or("")
}

impl NodeDetail {
    /// Runtime servers with their pool counters (pool rows without a server are listed too).
    pub fn server_rows(&self) -> Result<Vec<ServerRow>, String> {
        let servers = self.servers.as_ref().map_err(Clone::clone)?;
        let pool = self.pool.as_ref().ok();
        let mut pool_rows: BTreeMap<(String, String, String), &[Option<String>]> = BTreeMap::new();
        if let Some(p) = pool {
            for row in &p.rows {
                let key = (
                    field(p, row, "hostgroup").to_owned(),
                    field(p, row, "srv_host").to_owned(),
                    field(p, row, "srv_port").to_owned(),
                );
                pool_rows.insert(key, row);
            }
        }
        let mut out = Vec::new();
        let mut push = |hg: &str, host: &str, port: &str, status: &str, weight: &str| {
            let key = (hg.to_owned(), host.to_owned(), port.to_owned());
            let stats = pool.zip(pool_rows.remove(&key));
            let pick =
                |name: &str| stats.map_or(String::new(), |(p, r)| field(p, r, name).to_owned());
            let pool_status = pick("status");
            out.push(ServerRow {
                hostgroup: hg.to_owned(),
                endpoint: format!("{host}:{port}"),
                status: if pool_status.is_empty() {
                    status.to_owned()
                } else {
                    pool_status
                },
                weight: weight.to_owned(),
                conns: stats.map_or(String::new(), |_| {
                    format!("{}/{}", pick("ConnUsed"), pick("ConnFree"))
                }),
                ok_err: stats.map_or(String::new(), |_| {
                    format!("{}/{}", pick("ConnOK"), pick("ConnERR"))
                }),
                queries: pick("Queries"),
                latency_ms: stats.map_or(String::new(), |_| {
                    pick("Latency_us")
                        .parse::<u64>()
                        .map_or_else(|_| "?".into(), |us| format!("{:.1}", us as f64 / 1000.0))
                }),
            });
        };
        for row in &servers.rows {
            push(
                field(servers, row, "hostgroup_id"),
                field(servers, row, "hostname"),
                field(servers, row, "port"),
                field(servers, row, "status"),
                field(servers, row, "weight"),
            );
        }
        Ok(out)
    }

    /// Query rules with hits.
    pub fn rule_rows(&self) -> Result<Vec<RuleRow>, String> {
        let rules = self.rules.as_ref().map_err(Clone::clone)?;
        let hits: Option<BTreeMap<&str, &str>> = self.rule_hits.as_ref().ok().map(|h| {
            h.rows
                .iter()
                .map(|r| (field(h, r, "rule_id"), field(h, r, "hits")))
                .collect()
        });
        Ok(rules
            .rows
            .iter()
            .map(|row| {
                let id = field(rules, row, "rule_id");
                let digest = field(rules, row, "match_digest");
                let pattern = field(rules, row, "match_pattern");
                RuleRow {
                    id: id.to_owned(),
                    active: field(rules, row, "active").to_owned(),
                    user: match field(rules, row, "username") {
                        "" => "*".to_owned(),
                        u => u.to_owned(),
                    },
                    matches: if digest.is_empty() { pattern } else { digest }.to_owned(),
                    destination: field(rules, row, "destination_hostgroup").to_owned(),
                    apply: field(rules, row, "apply").to_owned(),
                    hits: match &hits {
                        Some(h) => h.get(id).copied().unwrap_or("0").to_owned(),
                        None => "?".to_owned(),
                    },
                }
            })
            .collect())
    }
}

/// A variable's value on each node, for variables that differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DifferingVariable {
    /// Variable name.
    pub name: String,
    /// Value per node, in node order (`None`: not set there or not read).
    pub values: Vec<Option<String>>,
}

/// Variables whose values are not the same on every node that was read.
pub fn differing_variables(
    per_node: &[Option<&BTreeMap<String, String>>],
) -> Vec<DifferingVariable> {
    let read: Vec<&BTreeMap<String, String>> = per_node.iter().flatten().copied().collect();
    if read.len() < 2 {
        return Vec::new();
    }
    let names: BTreeSet<&String> = read.iter().flat_map(|m| m.keys()).collect();
    names
        .into_iter()
        .filter(|name| {
            let first = read[0].get(*name);
            read.iter().any(|m| m.get(*name) != first)
        })
        .map(|name| DifferingVariable {
            name: name.clone(),
            values: per_node
                .iter()
                .map(|m| m.and_then(|m| m.get(name)).cloned())
                .collect(),
        })
        .collect()
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
            let name = field(rs, row, "variable_name");
            if name.is_empty() {
                return None;
            }
            let value = field(rs, row, "variable_value");
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
        let num = |name: &str| field(&rs, row, name).trim().parse::<i64>();
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
            instance: field(&rs, row, "instance").to_owned(),
            state: field(&rs, row, "state").to_owned(),
            priority,
            effective_priority,
            vip: field(&rs, row, "vip").to_owned(),
            vip_held: field(&rs, row, "vip_held").trim() == "1",
            last_advert_from: opt("last_advert_from").filter(|s| !s.is_empty()),
            last_advert_age_ms: opt("last_advert_age_ms").and_then(|s| s.trim().parse().ok()),
            check_status: field(&rs, row, "check_status").to_owned(),
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
    let mut conn = match connect(addr, timeout).await {
        Ok(c) => c,
        Err(e) => return HaInfo::Error(e.to_string()),
    };
    let answer = query_text(&mut conn, queries::VRRP_INSTANCES).await;
    conn.close().await;
    parse_vrrp(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::tui::fixtures;

    fn rs(cols: &[&str], rows: &[&[&str]]) -> ResultSet {
        let mut r = ResultSet::with_columns(cols.iter().copied());
        for row in rows {
            r.push_row(row.iter().map(|v| Some(*v)));
        }
        r
    }

    #[test]
    fn servers_join_their_pool_counters() {
        let d = fixtures::detail("node1");
        let rows = d.server_rows().unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].endpoint, "192.168.0.11:3306");
        assert_eq!(rows[0].conns, "1/4");
        assert_eq!(rows[0].latency_ms, "0.4");
        assert_eq!(rows[2].status, "SHUNNED");
        let mut no_pool = d.clone();
        no_pool.pool = Err("no such table".into());
        let rows = no_pool.server_rows().unwrap();
        assert_eq!(
            (rows[0].conns.as_str(), rows[0].status.as_str()),
            ("", "ONLINE")
        );
        no_pool.servers = Err("boom".into());
        assert_eq!(no_pool.server_rows().unwrap_err(), "boom");
    }

    #[test]
    fn rules_carry_hits() {
        let mut d = fixtures::detail("node1");
        let rows = d.rule_rows().unwrap();
        assert_eq!(rows[0].hits, "1520");
        assert_eq!(rows[1].user, "*");
        assert_eq!(rows[1].hits, "0", "a rule without a stats row has no hits");
        d.rule_hits = Err("no such table".into());
        assert_eq!(d.rule_rows().unwrap()[0].hits, "?");
    }

    #[test]
    fn variables_differ_and_secrets_stay_masked() {
        let a = variables_map(&rs(
            &["variable_name", "variable_value"],
            &[
                &["admin-cluster_password", "s3cret-one"],
                &["mysql-monitor_username", "monitor"],
                &["mysql-threads", "4"],
            ],
        ));
        let b = variables_map(&rs(
            &["variable_name", "variable_value"],
            &[
                &["admin-cluster_password", "s3cret-two"],
                &["mysql-monitor_username", "monitor"],
                &["mysql-threads", "8"],
                &["mysql-only_here", "x"],
            ],
        ));
        assert!(a["admin-cluster_password"].starts_with("******** #"));
        assert!(!format!("{a:?}{b:?}").contains("s3cret"));
        let diff = differing_variables(&[Some(&a), None, Some(&b)]);
        let names: Vec<&str> = diff.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            ["admin-cluster_password", "mysql-only_here", "mysql-threads"]
        );
        assert_eq!(diff[2].values, [Some("4".into()), None, Some("8".into())]);
        assert!(differing_variables(&[Some(&a)]).is_empty());
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
