//! The bodies of `traffic`, `hostgroups`, `processlist`, `digest`, `commands` and `errors`,
//! and their rows: one flat table per body serves the table, TSV and CSV formats and the
//! shell's one-shot commands alike.

use serde::Serialize;

use super::{NodeError, Rows};
use crate::client::traffic::{CommandRow, ErrorRow, LATENCY_BUCKETS};
use crate::console::traffic::digests::MergedDigest;
use crate::console::traffic::hostgroups::ServerRow;
use crate::console::traffic::processlist::Session;
use crate::console::traffic::rates::TrafficLine;

/// `traffic`: rates over `interval_s` between two readings of every node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrafficBody {
    /// Seconds between the two readings.
    pub interval_s: f64,
    /// One line per node that answered both readings.
    pub nodes: Vec<TrafficLine>,
    /// The cluster total.
    pub total: TrafficLine,
    /// Nodes that did not answer.
    pub unreachable: Vec<NodeError>,
}

/// `hostgroups`: every backend on every node side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostgroupsBody {
    /// Seconds between the two readings behind `queries_per_s`.
    pub interval_s: f64,
    /// One entry per (hostgroup, host, port).
    pub servers: Vec<ServerRow>,
    /// Nodes that did not answer.
    pub unreachable: Vec<NodeError>,
}

/// `processlist`: every node's sessions merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcesslistBody {
    /// The sort key.
    pub sort: &'static str,
    /// The filter (empty: none).
    pub filter: String,
    /// Sessions matching the filter, before `--top`.
    pub matching: usize,
    /// The sessions shown.
    pub sessions: Vec<Session>,
    /// Nodes that did not answer.
    pub unreachable: Vec<NodeError>,
}

/// `digest`: query digests merged by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestBody {
    /// The sort key.
    pub sort: &'static str,
    /// Distinct digests, before `--top`.
    pub distinct: usize,
    /// The digests shown.
    pub digests: Vec<MergedDigest>,
    /// Nodes that did not answer.
    pub unreachable: Vec<NodeError>,
}

/// One node's counters of one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeCommand {
    /// Node name.
    pub node: String,
    /// The counters.
    #[serde(flatten)]
    pub counters: CommandRow,
}

/// `commands`: `stats_mysql_commands_counters` of every node, commands that ran at least once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandsBody {
    /// Bucket names, in the order of every `buckets` array.
    pub buckets: Vec<&'static str>,
    /// Per command and node, busiest command first.
    pub commands: Vec<NodeCommand>,
    /// Nodes that did not answer.
    pub unreachable: Vec<NodeError>,
}

/// One node's row of `stats_mysql_errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeErrorRow {
    /// Node name.
    pub node: String,
    /// The row.
    #[serde(flatten)]
    pub error: ErrorRow,
}

/// `errors`: `stats_mysql_errors` of every node, most frequent first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorsBody {
    /// The rows.
    pub errors: Vec<NodeErrorRow>,
    /// Nodes that did not answer.
    pub unreachable: Vec<NodeError>,
}

fn s(v: impl ToString) -> Option<String> {
    Some(v.to_string())
}

fn rate(v: Option<f64>) -> Option<String> {
    v.map(|x| format!("{x:.1}"))
}

impl TrafficBody {
    /// One row per node, then the total.
    pub fn rows(&self) -> Rows {
        let mut t = Rows::new(&[
            "node",
            "queries_per_s",
            "frontend_connections",
            "backend_connections",
            "active_transactions",
            "frontend_bytes_in_per_s",
            "frontend_bytes_out_per_s",
            "backend_bytes_in_per_s",
            "backend_bytes_out_per_s",
            "multiplexing_pct",
            "errors_per_s",
        ]);
        for l in self.nodes.iter().chain(std::iter::once(&self.total)) {
            t.push(vec![
                s(&l.node),
                rate(l.rates.queries_per_s),
                s(l.frontend_connections),
                s(l.backend_connections),
                s(l.active_transactions),
                rate(l.rates.frontend_bytes_in_per_s),
                rate(l.rates.frontend_bytes_out_per_s),
                rate(l.rates.backend_bytes_in_per_s),
                rate(l.rates.backend_bytes_out_per_s),
                rate(l.multiplexing_pct),
                rate(l.rates.errors_per_s),
            ]);
        }
        t
    }
}

impl HostgroupsBody {
    /// One row per backend and node; `flag` is `SHUNNED_SOME` or `STATUS_DIFFERS`.
    pub fn rows(&self) -> Rows {
        let mut t = Rows::new(&[
            "hostgroup",
            "server",
            "node",
            "status",
            "conn_used",
            "conn_free",
            "conn_err",
            "queries",
            "queries_per_s",
            "latency_us",
            "bytes_sent",
            "bytes_recv",
            "flag",
        ]);
        for r in &self.servers {
            let flag = if r.shunned_on_some_nodes_only {
                "SHUNNED_SOME"
            } else if r.status_differs {
                "STATUS_DIFFERS"
            } else {
                ""
            };
            for n in &r.nodes {
                let p = &n.pool;
                t.push(vec![
                    s(r.hostgroup),
                    Some(format!("{}:{}", r.srv_host, r.srv_port)),
                    s(&n.node),
                    s(&p.status),
                    s(p.conn_used),
                    s(p.conn_free),
                    s(p.conn_err),
                    s(p.queries),
                    rate(n.queries_per_s),
                    s(p.latency_us),
                    s(p.bytes_sent),
                    s(p.bytes_recv),
                    s(flag),
                ]);
            }
        }
        t
    }
}

impl ProcesslistBody {
    /// One row per session.
    pub fn rows(&self) -> Rows {
        let mut t = Rows::new(&[
            "node",
            "session_id",
            "user",
            "db",
            "client",
            "hostgroup",
            "backend",
            "command",
            "time_ms",
            "info",
        ]);
        for x in &self.sessions {
            let r = &x.row;
            t.push(vec![
                s(&x.node),
                s(r.session_id),
                s(&r.user),
                s(&r.db),
                Some(format!("{}:{}", r.cli_host, r.cli_port)),
                s(r.hostgroup),
                (!r.srv_host.is_empty()).then(|| format!("{}:{}", r.srv_host, r.srv_port)),
                s(&r.command),
                s(r.time_ms),
                s(&r.info),
            ]);
        }
        t
    }
}

impl DigestBody {
    /// One row per digest.
    pub fn rows(&self) -> Rows {
        let mut t = Rows::new(&[
            "digest",
            "count_star",
            "sum_time_us",
            "avg_time_us",
            "min_time_us",
            "max_time_us",
            "nodes",
            "hostgroups",
            "rule",
            "digest_text",
        ]);
        for d in &self.digests {
            let hgs: Vec<String> = d.hostgroups.iter().map(ToString::to_string).collect();
            t.push(vec![
                s(&d.digest),
                s(d.count_star),
                s(d.sum_time),
                s(d.avg_time),
                s(d.min_time),
                s(d.max_time),
                s(d.nodes.len()),
                Some(hgs.join(",")),
                d.rule.map(|(id, hg)| format!("{id} -> hg {hg}")),
                s(&d.digest_text),
            ]);
        }
        t
    }
}

impl CommandsBody {
    /// One row per command and node.
    pub fn rows(&self) -> Rows {
        let mut header = vec!["command", "node", "total_cnt", "total_time_us"];
        header.extend(LATENCY_BUCKETS);
        let mut t = Rows::new(&header);
        for c in &self.commands {
            let mut row = vec![
                s(&c.counters.command),
                s(&c.node),
                s(c.counters.total_cnt),
                s(c.counters.total_time_us),
            ];
            row.extend(c.counters.buckets.iter().map(s));
            t.push(row);
        }
        t
    }
}

impl ErrorsBody {
    /// One row per error row and node.
    pub fn rows(&self) -> Rows {
        let mut t = Rows::new(&[
            "node",
            "hostgroup",
            "server",
            "username",
            "schemaname",
            "errno",
            "count_star",
            "last_seen",
            "last_error",
        ]);
        for e in &self.errors {
            let r = &e.error;
            t.push(vec![
                s(&e.node),
                s(r.hostgroup),
                Some(format!("{}:{}", r.hostname, r.port)),
                s(&r.username),
                s(&r.schemaname),
                s(r.errno),
                s(r.count_star),
                s(r.last_seen),
                s(&r.last_error),
            ]);
        }
        t
    }
}
