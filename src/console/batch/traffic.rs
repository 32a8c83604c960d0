//! `traffic`, `hostgroups`, `processlist`, `digest`, `commands`, `errors`: the traffic side of
//! every node at once, read with `client::traffic` and merged with `console::traffic`. The
//! shell's one-shot commands (`\traffic`...) build the same reports.

use std::time::{Duration, Instant};

use futures::future::join_all;

use super::report::traffic::{
    CommandsBody, DigestBody, ErrorsBody, HostgroupsBody, NodeCommand, NodeErrorRow,
    ProcesslistBody, TrafficBody,
};
use super::report::{Body, ErrorInfo, NodeError, Report, Status};
use crate::client::conn::NodeAddr;
use crate::client::traffic::{fetch, Table, TrafficData, LATENCY_BUCKETS};
use crate::console::traffic::digests::{self, DigestSort};
use crate::console::traffic::hostgroups::side_by_side;
use crate::console::traffic::processlist::{self, SessionSort};
use crate::console::traffic::rates::{self, Sample};

/// Which traffic report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Rates per node and total.
    Traffic,
    /// Backends side by side.
    Hostgroups,
    /// Sessions merged.
    Processlist,
    /// Digests merged.
    Digest,
    /// Commands counters.
    Commands,
    /// Errors.
    Errors,
}

impl Kind {
    /// The command's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Traffic => "traffic",
            Kind::Hostgroups => "hostgroups",
            Kind::Processlist => "processlist",
            Kind::Digest => "digest",
            Kind::Commands => "commands",
            Kind::Errors => "errors",
        }
    }
}

/// What shapes a traffic report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// Keep the first N rows.
    pub top: Option<usize>,
    /// Sort key (`processlist`: time, user, hostgroup, command, info, node; `digest`: total,
    /// count, avg).
    pub sort: Option<String>,
    /// Substring filter (`processlist`).
    pub filter: String,
    /// Time between the two readings of `traffic` and `hostgroups`.
    pub interval: Duration,
}

type Answers = Vec<(String, TrafficData)>;

/// Reads `table` from every node in parallel: the answers in node order, and who failed.
async fn gather(nodes: &[NodeAddr], table: Table, timeout: Duration) -> (Answers, Vec<NodeError>) {
    let got = join_all(nodes.iter().map(|n| fetch(n, table, timeout))).await;
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (n, r) in nodes.iter().zip(got) {
        match r {
            Ok(d) => ok.push((n.name.clone(), d)),
            Err(e) => failed.push(NodeError {
                node: n.name.clone(),
                error: ErrorInfo::action(e.to_string()),
            }),
        }
    }
    (ok, failed)
}

fn status_of(unreachable: &[NodeError], nodes: usize) -> Status {
    if unreachable.is_empty() {
        Status::Ok
    } else if unreachable.len() < nodes {
        Status::Warning
    } else {
        Status::Critical
    }
}

fn unreachable_clause(u: &[NodeError]) -> String {
    if u.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = u.iter().map(|e| e.node.as_str()).collect();
        format!("; not answering: {}", names.join(", "))
    }
}

/// Validates the options for `kind` before any node is asked.
pub fn check(kind: Kind, o: &Options) -> Result<(), String> {
    match (kind, o.sort.as_deref()) {
        (Kind::Processlist, Some(k)) => SessionSort::parse(k).map(|_| ()),
        (Kind::Digest, Some(k)) => DigestSort::parse(k).map(|_| ()),
        (_, Some(k)) => Err(format!("{} takes no --sort (got {k:?})", kind.name())),
        (_, None) => Ok(()),
    }
}

/// Builds the report of `kind` from every node.
pub async fn report(
    kind: Kind,
    nodes: &[NodeAddr],
    o: &Options,
    timeout: Duration,
) -> Result<Report, String> {
    check(kind, o)?;
    let n = nodes.len();
    let name = kind.name();
    Ok(match kind {
        Kind::Traffic => {
            let t0 = Instant::now();
            let (first, _) = gather(nodes, Table::Globals, timeout).await;
            tokio::time::sleep(o.interval.saturating_sub(t0.elapsed())).await;
            let t1 = t0.elapsed();
            let (second, unreachable) = gather(nodes, Table::Globals, timeout).await;
            let mut lines = Vec::new();
            for (node, d) in &second {
                let TrafficData::Globals(now) = d else {
                    continue;
                };
                let before = first.iter().find_map(|(n, d)| match d {
                    TrafficData::Globals(g) if n == node => Some(g.clone()),
                    _ => None,
                });
                let r = match before {
                    Some(b) => rates::rates(
                        &Sample {
                            at_ms: 0,
                            counters: b,
                        },
                        &Sample {
                            at_ms: t1.as_millis() as u64,
                            counters: now.clone(),
                        },
                    ),
                    None => rates::Rates::default(),
                };
                lines.push(rates::line(node, now, r));
            }
            let total = rates::total(&lines);
            let summary = format!(
                "{} node(s), {} queries/s, {} client connection(s){}",
                lines.len(),
                total
                    .rates
                    .queries_per_s
                    .map_or("-".into(), |q| format!("{q:.1}")),
                total.frontend_connections,
                unreachable_clause(&unreachable)
            );
            let status = status_of(&unreachable, n);
            Report::new(
                name,
                status,
                &summary,
                Body::Traffic(TrafficBody {
                    interval_s: t1.as_secs_f64(),
                    nodes: lines,
                    total,
                    unreachable,
                }),
            )
        }
        Kind::Hostgroups => {
            let pools = |a: Answers| -> Vec<(String, Vec<_>)> {
                a.into_iter()
                    .filter_map(|(n, d)| match d {
                        TrafficData::Pool(p) => Some((n, p)),
                        _ => None,
                    })
                    .collect()
            };
            let t0 = Instant::now();
            let (first, _) = gather(nodes, Table::Pool, timeout).await;
            tokio::time::sleep(o.interval.saturating_sub(t0.elapsed())).await;
            let secs = t0.elapsed().as_secs_f64();
            let (second, unreachable) = gather(nodes, Table::Pool, timeout).await;
            let (first, second) = (pools(first), pools(second));
            let servers = side_by_side(&second, Some((&first, secs)));
            let flagged = servers
                .iter()
                .filter(|s| s.shunned_on_some_nodes_only)
                .count();
            let summary = format!(
                "{} backend(s), {} SHUNNED on some nodes only{}",
                servers.len(),
                flagged,
                unreachable_clause(&unreachable)
            );
            let status = if flagged > 0 {
                Status::Warning.max(status_of(&unreachable, n))
            } else {
                status_of(&unreachable, n)
            };
            Report::new(
                name,
                status,
                &summary,
                Body::Hostgroups(HostgroupsBody {
                    interval_s: secs,
                    servers,
                    unreachable,
                }),
            )
        }
        Kind::Processlist => {
            let sort = o
                .sort
                .as_deref()
                .map(SessionSort::parse)
                .transpose()?
                .unwrap_or_default();
            let (ans, unreachable) = gather(nodes, Table::Processlist, timeout).await;
            let per: Vec<_> = ans
                .into_iter()
                .filter_map(|(n, d)| match d {
                    TrafficData::Processlist(p) => Some((n, p)),
                    _ => None,
                })
                .collect();
            let mut sessions = processlist::merge(&per, &o.filter, sort);
            let matching = sessions.len();
            if let Some(t) = o.top {
                sessions.truncate(t);
            }
            let summary = format!(
                "{matching} session(s) on {} node(s){}",
                per.len(),
                unreachable_clause(&unreachable)
            );
            Report::new(
                name,
                status_of(&unreachable, n),
                &summary,
                Body::Processlist(ProcesslistBody {
                    sort: sort.name(),
                    filter: o.filter.clone(),
                    matching,
                    sessions,
                    unreachable,
                }),
            )
        }
        Kind::Digest => {
            let sort = o
                .sort
                .as_deref()
                .map(DigestSort::parse)
                .transpose()?
                .unwrap_or_default();
            let (ans, unreachable) = gather(nodes, Table::Digests, timeout).await;
            let per: Vec<_> = ans
                .into_iter()
                .filter_map(|(n, d)| match d {
                    TrafficData::Digests(dg, r) => Some((n, dg, r)),
                    _ => None,
                })
                .collect();
            let merged = digests::merge(&per);
            let distinct = merged.len();
            let shown = digests::top(merged, sort, o.top);
            let summary = format!(
                "{distinct} digest(s) on {} node(s), by {}{}",
                per.len(),
                sort.name(),
                unreachable_clause(&unreachable)
            );
            Report::new(
                name,
                status_of(&unreachable, n),
                &summary,
                Body::Digest(DigestBody {
                    sort: sort.name(),
                    distinct,
                    digests: shown,
                    unreachable,
                }),
            )
        }
        Kind::Commands => {
            let (ans, unreachable) = gather(nodes, Table::Commands, timeout).await;
            let mut commands: Vec<NodeCommand> = ans
                .into_iter()
                .flat_map(|(node, d)| match d {
                    TrafficData::Commands(c) => c
                        .into_iter()
                        .filter(|c| c.total_cnt > 0)
                        .map(|counters| NodeCommand {
                            node: node.clone(),
                            counters,
                        })
                        .collect(),
                    _ => Vec::new(),
                })
                .collect();
            commands.sort_by(|a, b| {
                b.counters
                    .total_cnt
                    .cmp(&a.counters.total_cnt)
                    .then_with(|| a.counters.command.cmp(&b.counters.command))
                    .then_with(|| a.node.cmp(&b.node))
            });
            if let Some(t) = o.top {
                commands.truncate(t);
            }
            let summary = format!(
                "{} command row(s){}",
                commands.len(),
                unreachable_clause(&unreachable)
            );
            Report::new(
                name,
                status_of(&unreachable, n),
                &summary,
                Body::Commands(CommandsBody {
                    buckets: LATENCY_BUCKETS.to_vec(),
                    commands,
                    unreachable,
                }),
            )
        }
        Kind::Errors => {
            let (ans, unreachable) = gather(nodes, Table::Errors, timeout).await;
            let mut errors: Vec<NodeErrorRow> = ans
                .into_iter()
                .flat_map(|(node, d)| match d {
                    TrafficData::Errors(e) => e
                        .into_iter()
                        .map(|error| NodeErrorRow {
                            node: node.clone(),
                            error,
                        })
                        .collect(),
                    _ => Vec::new(),
                })
                .collect();
            errors.sort_by(|a, b| {
                b.error
                    .count_star
                    .cmp(&a.error.count_star)
                    .then_with(|| a.node.cmp(&b.node))
            });
            if let Some(t) = o.top {
                errors.truncate(t);
            }
            let total: u64 = errors.iter().map(|e| e.error.count_star).sum();
            let summary = format!(
                "{total} error(s) in {} row(s){}",
                errors.len(),
                unreachable_clause(&unreachable)
            );
            Report::new(
                name,
                status_of(&unreachable, n),
                &summary,
                Body::Errors(ErrorsBody {
                    errors,
                    unreachable,
                }),
            )
        }
    })
}
