//! How the node view lays out a node's details: backends joined with their pool counters,
//! rules with their hits, and the variables that differ between nodes. Reading them is the
//! client's job ([`crate::client::detail`]); this is only their presentation.

use std::collections::{BTreeMap, BTreeSet};

use crate::client::detail::{column_text, NodeDetail};

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

/// The node view's tables, built from a [`NodeDetail`].
pub trait NodeDetailRows {
    /// Runtime servers with their pool counters (pool rows without a server are listed too).
    fn server_rows(&self) -> Result<Vec<ServerRow>, String>;
    /// Query rules with hits.
    fn rule_rows(&self) -> Result<Vec<RuleRow>, String>;
}

impl NodeDetailRows for NodeDetail {
    fn server_rows(&self) -> Result<Vec<ServerRow>, String> {
        let servers = self.servers.as_ref().map_err(Clone::clone)?;
        let pool = self.pool.as_ref().ok();
        let mut pool_rows: BTreeMap<(String, String, String), &[Option<String>]> = BTreeMap::new();
        if let Some(p) = pool {
            for row in &p.rows {
                let key = (
                    column_text(p, row, "hostgroup").to_owned(),
                    column_text(p, row, "srv_host").to_owned(),
                    column_text(p, row, "srv_port").to_owned(),
                );
                pool_rows.insert(key, row);
            }
        }
        let mut out = Vec::new();
        let mut push = |hg: &str, host: &str, port: &str, status: &str, weight: &str| {
            let key = (hg.to_owned(), host.to_owned(), port.to_owned());
            let stats = pool.zip(pool_rows.remove(&key));
            let pick = |name: &str| {
                stats.map_or(String::new(), |(p, r)| column_text(p, r, name).to_owned())
            };
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
                column_text(servers, row, "hostgroup_id"),
                column_text(servers, row, "hostname"),
                column_text(servers, row, "port"),
                column_text(servers, row, "status"),
                column_text(servers, row, "weight"),
            );
        }
        Ok(out)
    }

    fn rule_rows(&self) -> Result<Vec<RuleRow>, String> {
        let rules = self.rules.as_ref().map_err(Clone::clone)?;
        let hits: Option<BTreeMap<&str, &str>> = self.rule_hits.as_ref().ok().map(|h| {
            h.rows
                .iter()
                .map(|r| (column_text(h, r, "rule_id"), column_text(h, r, "hits")))
                .collect()
        });
        Ok(rules
            .rows
            .iter()
            .map(|row| {
                let id = column_text(rules, row, "rule_id");
                let digest = column_text(rules, row, "match_digest");
                let pattern = column_text(rules, row, "match_pattern");
                RuleRow {
                    id: id.to_owned(),
                    active: column_text(rules, row, "active").to_owned(),
                    user: match column_text(rules, row, "username") {
                        "" => "*".to_owned(),
                        u => u.to_owned(),
                    },
                    matches: if digest.is_empty() { pattern } else { digest }.to_owned(),
                    destination: column_text(rules, row, "destination_hostgroup").to_owned(),
                    apply: column_text(rules, row, "apply").to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::detail::variables_map;
    use crate::console::tui::fixtures;
    use crate::proxysql::resultset::ResultSet;

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
}
