//! Every backend of `stats_mysql_connection_pool` on every node side by side, keyed by
//! (hostgroup, host, port), with the status disagreements a DBA must see: a server SHUNNED on
//! some nodes only.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::client::traffic::PoolRow;

/// One backend as one node sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeServer {
    /// Node name.
    pub node: String,
    /// The pool row.
    #[serde(flatten)]
    pub pool: PoolRow,
    /// Queries/s since the previous reading, when there was one (and no reset).
    pub queries_per_s: Option<f64>,
}

/// One backend across the nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerRow {
    /// Hostgroup.
    pub hostgroup: i64,
    /// Backend host.
    pub srv_host: String,
    /// Backend port.
    pub srv_port: u16,
    /// SHUNNED on at least one node and not on every node that has it.
    pub shunned_on_some_nodes_only: bool,
    /// The statuses differ between nodes.
    pub status_differs: bool,
    /// Per node, in node order (nodes without the backend are absent).
    pub nodes: Vec<NodeServer>,
}

/// Each node's pool rows, in node order.
pub type NodePools = [(String, Vec<PoolRow>)];

/// Side-by-side rows from each node's pool rows (in node order); `previous` (the last reading
/// and the seconds since) gives queries/s.
pub fn side_by_side(current: &NodePools, previous: Option<(&NodePools, f64)>) -> Vec<ServerRow> {
    let mut by: BTreeMap<(i64, String, u16), ServerRow> = BTreeMap::new();
    for (node, rows) in current {
        for p in rows {
            let before = previous.and_then(|(prev, secs)| {
                let rows = &prev.iter().find(|(n, _)| n == node)?.1;
                let old = rows.iter().find(|o| {
                    o.hostgroup == p.hostgroup
                        && o.srv_host == p.srv_host
                        && o.srv_port == p.srv_port
                })?;
                (secs > 0.0 && p.queries >= old.queries)
                    .then(|| (p.queries - old.queries) as f64 / secs)
            });
            by.entry((p.hostgroup, p.srv_host.clone(), p.srv_port))
                .or_insert_with(|| ServerRow {
                    hostgroup: p.hostgroup,
                    srv_host: p.srv_host.clone(),
                    srv_port: p.srv_port,
                    shunned_on_some_nodes_only: false,
                    status_differs: false,
                    nodes: Vec::new(),
                })
                .nodes
                .push(NodeServer {
                    node: node.clone(),
                    pool: p.clone(),
                    queries_per_s: before,
                });
        }
    }
    by.into_values()
        .map(|mut r| {
            let shunned = r
                .nodes
                .iter()
                .filter(|n| n.pool.status == "SHUNNED")
                .count();
            r.shunned_on_some_nodes_only = shunned > 0 && shunned < r.nodes.len();
            r.status_differs = r
                .nodes
                .iter()
                .any(|n| n.pool.status != r.nodes[0].pool.status);
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(hg: i64, port: u16, status: &str, queries: u64) -> PoolRow {
        PoolRow {
            hostgroup: hg,
            srv_host: "127.0.0.1".into(),
            srv_port: port,
            status: status.into(),
            conn_used: 1,
            conn_free: 2,
            conn_ok: 3,
            conn_err: 0,
            queries,
            bytes_sent: 0,
            bytes_recv: 0,
            latency_us: 100,
        }
    }

    #[test]
    fn a_server_shunned_on_one_node_only_is_flagged() {
        let now = vec![
            (
                "n1".to_owned(),
                vec![p(0, 1, "ONLINE", 10), p(1, 2, "SHUNNED", 5)],
            ),
            (
                "n2".to_owned(),
                vec![p(0, 1, "ONLINE", 20), p(1, 2, "ONLINE", 9)],
            ),
            ("n3".to_owned(), vec![p(1, 2, "SHUNNED", 1)]),
        ];
        let rows = side_by_side(&now, None);
        assert_eq!(rows.len(), 2);
        assert!(!rows[0].shunned_on_some_nodes_only);
        assert!(!rows[0].status_differs);
        assert!(rows[1].shunned_on_some_nodes_only);
        assert!(rows[1].status_differs);
        assert_eq!(rows[1].nodes.len(), 3);
        // Shunned everywhere is a backend problem, not a node disagreement.
        let all = side_by_side(&[("n1".to_owned(), vec![p(1, 2, "SHUNNED", 0)])], None);
        assert!(!all[0].shunned_on_some_nodes_only);
    }

    #[test]
    fn queries_per_second_come_from_the_previous_reading_and_skip_resets() {
        let before = vec![(
            "n1".to_owned(),
            vec![p(0, 1, "ONLINE", 100), p(0, 2, "ONLINE", 50)],
        )];
        let now = vec![(
            "n1".to_owned(),
            vec![p(0, 1, "ONLINE", 130), p(0, 2, "ONLINE", 3)],
        )];
        let rows = side_by_side(&now, Some((&before, 2.0)));
        assert_eq!(rows[0].nodes[0].queries_per_s, Some(15.0));
        assert_eq!(rows[1].nodes[0].queries_per_s, None);
    }
}
