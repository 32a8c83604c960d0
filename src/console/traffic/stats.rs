//! `stats_mysql_commands_counters` and `stats_mysql_errors` of every node merged: commands
//! summed per command with their latency buckets (and each node's share kept for a
//! breakdown), errors listed with their node, ordered by count or by last occurrence.

use crate::client::traffic::{CommandRow, ErrorRow};

/// One command summed over the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedCommand {
    /// `SELECT`, `INSERT`, ...
    pub command: String,
    /// Executions, all nodes.
    pub total_cnt: u64,
    /// Total time in microseconds, all nodes.
    pub total_time_us: u64,
    /// Executions per latency bucket, all nodes.
    pub buckets: [u64; 12],
    /// Each node's own row (nodes that ran the command at least once), in node order.
    pub nodes: Vec<(String, CommandRow)>,
}

impl MergedCommand {
    /// Mean time per execution, microseconds (0 when never run).
    pub fn avg_us(&self) -> u64 {
        self.total_time_us.checked_div(self.total_cnt).unwrap_or(0)
    }
}

/// Sums the commands of every node by command name; commands never run on any node are left
/// out (ProxySQL lists every command, most at zero). Most executed first, then by name.
pub fn merge_commands(per_node: &[(String, Vec<CommandRow>)]) -> Vec<MergedCommand> {
    let mut out: Vec<MergedCommand> = Vec::new();
    for (node, rows) in per_node {
        for r in rows.iter().filter(|r| r.total_cnt > 0) {
            let i = match out.iter().position(|m| m.command == r.command) {
                Some(i) => i,
                None => {
                    out.push(MergedCommand {
                        command: r.command.clone(),
                        total_cnt: 0,
                        total_time_us: 0,
                        buckets: [0; 12],
                        nodes: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let m = &mut out[i];
            m.total_cnt = m.total_cnt.saturating_add(r.total_cnt);
            m.total_time_us = m.total_time_us.saturating_add(r.total_time_us);
            for (b, v) in m.buckets.iter_mut().zip(r.buckets) {
                *b = b.saturating_add(v);
            }
            m.nodes.push((node.clone(), r.clone()));
        }
    }
    out.sort_by(|a, b| {
        b.total_cnt
            .cmp(&a.total_cnt)
            .then_with(|| a.command.cmp(&b.command))
    });
    out
}

/// How the merged errors are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorSort {
    /// Most frequent first.
    #[default]
    Count,
    /// Most recent first.
    LastSeen,
}

impl ErrorSort {
    /// The key's name, as the views show it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorSort::Count => "count",
            ErrorSort::LastSeen => "last_seen",
        }
    }
}

/// One error row and the node that counted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeError {
    /// The node whose `stats_mysql_errors` holds the row.
    pub node: String,
    /// The row.
    pub error: ErrorRow,
}

/// Every node's errors in one list, ordered by `sort` (ties: node, then errno).
pub fn merge_errors(per_node: &[(String, Vec<ErrorRow>)], sort: ErrorSort) -> Vec<NodeError> {
    let mut out: Vec<NodeError> = per_node
        .iter()
        .flat_map(|(node, rows)| {
            rows.iter().map(|e| NodeError {
                node: node.clone(),
                error: e.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        let key = match sort {
            ErrorSort::Count => b.error.count_star.cmp(&a.error.count_star),
            ErrorSort::LastSeen => b.error.last_seen.cmp(&a.error.last_seen),
        };
        key.then_with(|| a.node.cmp(&b.node))
            .then_with(|| a.error.errno.cmp(&b.error.errno))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(name: &str, cnt: u64, time: u64, fast: u64) -> CommandRow {
        let mut buckets = [0; 12];
        buckets[0] = fast;
        buckets[11] = cnt - fast;
        CommandRow {
            command: name.into(),
            total_time_us: time,
            total_cnt: cnt,
            buckets,
        }
    }

    fn err(errno: i64, count: u64, last: u64) -> ErrorRow {
        ErrorRow {
            hostgroup: 10,
            hostname: "127.0.0.1".into(),
            port: 23306,
            username: "svcusr".into(),
            client_address: "127.0.0.1".into(),
            schemaname: "duhokim".into(),
            errno,
            count_star: count,
            first_seen: 1,
            last_seen: last,
            last_error: format!("error {errno}"),
        }
    }

    #[test]
    fn commands_are_summed_by_name_with_buckets_and_unused_ones_left_out() {
        let per = vec![
            (
                "n1".to_owned(),
                vec![cmd("SELECT", 10, 1000, 7), cmd("INSERT", 0, 0, 0)],
            ),
            (
                "n2".to_owned(),
                vec![cmd("SELECT", 5, 500, 5), cmd("INSERT", 20, 4000, 1)],
            ),
        ];
        let m = merge_commands(&per);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].command.as_str(), m[0].total_cnt), ("INSERT", 20));
        assert_eq!(m[0].nodes.len(), 1);
        assert_eq!(m[1].command, "SELECT");
        assert_eq!(m[1].total_cnt, 15);
        assert_eq!(m[1].total_time_us, 1500);
        assert_eq!(m[1].avg_us(), 100);
        assert_eq!(m[1].buckets[0], 12);
        assert_eq!(m[1].buckets[11], 3);
        assert_eq!(m[1].nodes[1].0, "n2");
    }

    #[test]
    fn errors_keep_their_node_and_sort_by_count_or_last_seen() {
        let per = vec![
            ("n1".to_owned(), vec![err(1045, 3, 100)]),
            ("n2".to_owned(), vec![err(2003, 9, 50), err(1146, 1, 200)]),
        ];
        let by_count = merge_errors(&per, ErrorSort::Count);
        let errnos: Vec<i64> = by_count.iter().map(|e| e.error.errno).collect();
        assert_eq!(errnos, [2003, 1045, 1146]);
        assert_eq!(by_count[0].node, "n2");
        let by_last = merge_errors(&per, ErrorSort::LastSeen);
        let errnos: Vec<i64> = by_last.iter().map(|e| e.error.errno).collect();
        assert_eq!(errnos, [1146, 1045, 2003]);
    }
}
