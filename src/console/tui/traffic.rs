//! The state behind the Traffic, Hostgroups, Processlist, Digests and Stats views: every node's last
//! answer for the table on screen, and the rows the views draw, settled in `update` (the
//! merge, sort, filter and rates of `console::traffic`), never in `draw`.

use std::collections::VecDeque;

use crate::client::traffic::{
    CommandRow, DigestRow, ErrorRow, GlobalCounters, PoolRow, ProcessRow, RuleRow, Table,
    TrafficData, LATENCY_BUCKETS,
};
use crate::console::traffic::digests::{self, DigestSort};
use crate::console::traffic::hostgroups::side_by_side;
use crate::console::traffic::processlist::{self, Session, SessionSort};
use crate::console::traffic::rates::{self, NodeTraffic, Sample, HISTORY};
use crate::console::traffic::stats::{self, ErrorSort};
use crate::console::tui::model::datetime;
use chrono::Offset;

/// What the Stats view shows: the commands counters, or the errors in one of two orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatsPane {
    /// `stats_mysql_commands_counters` merged, with latency buckets.
    #[default]
    Commands,
    /// `stats_mysql_errors` merged, ordered as said.
    Errors(ErrorSort),
}

impl StatsPane {
    /// The next pane (the Stats view's sort key cycles commands → errors by count → errors by
    /// last_seen).
    pub fn next(self) -> StatsPane {
        match self {
            StatsPane::Commands => StatsPane::Errors(ErrorSort::Count),
            StatsPane::Errors(ErrorSort::Count) => StatsPane::Errors(ErrorSort::LastSeen),
            StatsPane::Errors(ErrorSort::LastSeen) => StatsPane::Commands,
        }
    }

    /// The stats table this pane reads.
    pub fn table(self) -> Table {
        match self {
            StatsPane::Commands => Table::Commands,
            StatsPane::Errors(_) => Table::Errors,
        }
    }

    /// Name, as the view's title and the status line say it.
    pub fn name(self) -> &'static str {
        match self {
            StatsPane::Commands => "commands",
            StatsPane::Errors(ErrorSort::Count) => "errors by count",
            StatsPane::Errors(ErrorSort::LastSeen) => "errors by last_seen",
        }
    }
}

/// One table drawn by a traffic view: headers, rows of text, and which rows to flag.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    /// Column headers.
    pub headers: Vec<&'static str>,
    /// Rows of cell texts.
    pub rows: Vec<Vec<String>>,
    /// Rows to draw as a warning (SHUNNED on some nodes only).
    pub flagged: Vec<bool>,
}

/// What the traffic views know.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrafficState {
    globals: Vec<NodeTraffic>,
    pool: Vec<Option<(u64, Vec<PoolRow>)>>,
    prev_pool: Vec<Option<(u64, Vec<PoolRow>)>>,
    processes: Vec<Option<Vec<ProcessRow>>>,
    digests: Vec<Option<(Vec<DigestRow>, Vec<RuleRow>)>>,
    commands: Vec<Option<Vec<CommandRow>>>,
    error_rows: Vec<Option<Vec<ErrorRow>>>,
    errors: Vec<Option<String>>,
    /// Processlist sort key.
    pub session_sort: SessionSort,
    /// Digest sort key.
    pub digest_sort: DigestSort,
    /// What the Stats view shows.
    pub stats_pane: StatsPane,
    /// The console's UTC offset in seconds, for the errors' first/last seen clocks.
    pub tz_offset_s: i32,
    /// Selected row of the view on screen.
    pub selected: usize,
    // Derived (settled by `settle`).
    grid: Grid,
    sessions: Vec<Session>,
    breakdown: Vec<String>,
    qps_total: Vec<u64>,
}

/// The latency buckets' upper bounds, short (u = µs, m = ms) so that every bucket fits 80
/// columns; same order as [`LATENCY_BUCKETS`].
const BUCKET_HEADERS: [&str; 12] = [
    "100u", "500u", "1m", "5m", "10m", "50m", "100m", "500m", "1s", "5s", "10s", "INF",
];

fn rate(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.1}"))
}

/// Bytes per second, short (`12.3K`).
fn bytes(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x >= 1_048_576.0 => format!("{:.1}M", x / 1_048_576.0),
        Some(x) if x >= 1024.0 => format!("{:.1}K", x / 1024.0),
        Some(x) => format!("{x:.0}"),
    }
}

impl TrafficState {
    fn grow(&mut self, n: usize) {
        if self.globals.len() < n {
            self.globals.resize_with(n, NodeTraffic::default);
            self.pool.resize(n, None);
            self.prev_pool.resize(n, None);
            self.processes.resize(n, None);
            self.digests.resize(n, None);
            self.commands.resize(n, None);
            self.error_rows.resize(n, None);
            self.errors.resize(n, None);
        }
    }

    /// Stores one node's answer, read at `at_ms` (a monotonic clock in milliseconds).
    pub fn on_data(&mut self, node: usize, at_ms: u64, data: Result<TrafficData, String>) {
        self.grow(node + 1);
        let data = match data {
            Ok(d) => {
                self.errors[node] = None;
                d
            }
            Err(e) => {
                self.errors[node] = Some(e);
                return;
            }
        };
        match data {
            TrafficData::Globals(counters) => {
                self.globals[node].observe(Sample { at_ms, counters })
            }
            TrafficData::Pool(rows) => {
                self.prev_pool[node] = self.pool[node].take();
                self.pool[node] = Some((at_ms, rows));
            }
            TrafficData::Processlist(rows) => self.processes[node] = Some(rows),
            TrafficData::Digests(d, r) => self.digests[node] = Some((d, r)),
            TrafficData::Commands(rows) => self.commands[node] = Some(rows),
            TrafficData::Errors(rows) => self.error_rows[node] = Some(rows),
        }
    }

    /// The grid of the view on screen.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The per-node breakdown of the selected digest (Digests view) or command (Stats view),
    /// or empty.
    pub fn breakdown(&self) -> &[String] {
        &self.breakdown
    }

    /// The cluster's queries/s over the last intervals, oldest first (Traffic view).
    pub fn qps_total(&self) -> &[u64] {
        &self.qps_total
    }

    /// The session under the cursor (Processlist view).
    pub fn selected_session(&self) -> Option<&Session> {
        self.sessions.get(self.selected)
    }

    /// Moves the cursor by `delta` rows within the grid.
    pub fn step(&mut self, delta: isize) {
        let n = self.grid.rows.len();
        self.selected = if n == 0 {
            0
        } else {
            self.selected.saturating_add_signed(delta).min(n - 1)
        };
    }

    /// Settles the rows of `table`'s view from what the nodes (named `names`, in order) said,
    /// with `filter` applied.
    pub fn settle(&mut self, table: Option<Table>, names: &[String], filter: &str) {
        self.grow(names.len());
        self.breakdown.clear();
        self.sessions.clear();
        let error_row = |i: usize| self.errors.get(i).and_then(|e| e.clone());
        self.grid = match table {
            Some(Table::Globals) => {
                let mut lines = Vec::new();
                let mut rows = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    let t = &self.globals[i];
                    let Some(last) = &t.last else {
                        rows.push(vec![
                            name.clone(),
                            error_row(i).unwrap_or_else(|| "waiting…".into()),
                        ]);
                        continue;
                    };
                    let l = rates::line(name, &last.counters, t.rates);
                    rows.push(line_cells(&l, &t.qps_history));
                    lines.push(l);
                }
                let total = rates::total(&lines);
                // The total's history: per-interval sums, aligned on the latest point.
                let len = self
                    .globals
                    .iter()
                    .map(|t| t.qps_history.len())
                    .max()
                    .unwrap_or(0);
                self.qps_total = (0..len)
                    .map(|k| {
                        self.globals
                            .iter()
                            .map(|t| {
                                let h: &VecDeque<u64> = &t.qps_history;
                                (k + h.len())
                                    .checked_sub(len)
                                    .and_then(|j| h.get(j))
                                    .copied()
                                    .unwrap_or(0)
                            })
                            .sum()
                    })
                    .collect();
                self.qps_total.truncate(HISTORY);
                rows.push(line_cells(
                    &total,
                    &self.qps_total.iter().copied().collect(),
                ));
                Grid {
                    headers: vec![
                        "node",
                        "q/s",
                        "front",
                        "back",
                        "trx",
                        "in/s",
                        "out/s",
                        "be in/s",
                        "be out/s",
                        "mux%",
                        "err/s",
                        "q/s history",
                    ],
                    flagged: vec![false; rows.len()],
                    rows,
                }
            }
            Some(Table::Pool) => {
                let cur: Vec<(String, Vec<PoolRow>)> = names
                    .iter()
                    .zip(&self.pool)
                    .filter_map(|(n, p)| p.as_ref().map(|(_, r)| (n.clone(), r.clone())))
                    .collect();
                let prev: Vec<(String, Vec<PoolRow>)> = names
                    .iter()
                    .zip(&self.prev_pool)
                    .filter_map(|(n, p)| p.as_ref().map(|(_, r)| (n.clone(), r.clone())))
                    .collect();
                let secs = names
                    .iter()
                    .enumerate()
                    .find_map(|(i, _)| {
                        let (a, _) = self.prev_pool[i].as_ref()?;
                        let (b, _) = self.pool[i].as_ref()?;
                        Some(b.saturating_sub(*a) as f64 / 1000.0)
                    })
                    .unwrap_or(0.0);
                let servers = side_by_side(&cur, (secs > 0.0).then_some((&prev[..], secs)));
                let mut g = Grid {
                    headers: vec![
                        "hg", "server", "node", "status", "used", "free", "err", "queries", "q/s",
                        "latency", "sent", "recv",
                    ],
                    ..Grid::default()
                };
                for s in servers {
                    for n in &s.nodes {
                        let p = &n.pool;
                        let text = [
                            s.hostgroup.to_string(),
                            format!("{}:{}", s.srv_host, s.srv_port),
                            n.node.clone(),
                            if s.shunned_on_some_nodes_only && p.status == "SHUNNED" {
                                "SHUNNED!".into()
                            } else {
                                p.status.clone()
                            },
                            p.conn_used.to_string(),
                            p.conn_free.to_string(),
                            p.conn_err.to_string(),
                            p.queries.to_string(),
                            rate(n.queries_per_s),
                            format!("{}us", p.latency_us),
                            p.bytes_sent.to_string(),
                            p.bytes_recv.to_string(),
                        ];
                        if filter.is_empty()
                            || text.iter().any(|t| {
                                t.to_ascii_lowercase()
                                    .contains(&filter.to_ascii_lowercase())
                            })
                        {
                            g.rows.push(text.to_vec());
                            g.flagged.push(s.shunned_on_some_nodes_only);
                        }
                    }
                }
                g
            }
            Some(Table::Processlist) => {
                let per: Vec<(String, Vec<ProcessRow>)> = names
                    .iter()
                    .zip(&self.processes)
                    .filter_map(|(n, p)| p.as_ref().map(|r| (n.clone(), r.clone())))
                    .collect();
                self.sessions = processlist::merge(&per, filter, self.session_sort);
                let rows: Vec<Vec<String>> = self
                    .sessions
                    .iter()
                    .map(|s| {
                        let r = &s.row;
                        vec![
                            s.node.clone(),
                            r.session_id.to_string(),
                            r.user.clone(),
                            r.db.clone(),
                            r.hostgroup.to_string(),
                            r.command.clone(),
                            r.time_ms.to_string(),
                            r.info.replace('\n', " "),
                        ]
                    })
                    .collect();
                Grid {
                    headers: vec![
                        "node", "id", "user", "db", "hg", "command", "time_ms", "info",
                    ],
                    flagged: vec![false; rows.len()],
                    rows,
                }
            }
            Some(Table::Digests) => {
                let per: Vec<(String, Vec<DigestRow>, Vec<RuleRow>)> = names
                    .iter()
                    .zip(&self.digests)
                    .filter_map(|(n, d)| d.as_ref().map(|(d, r)| (n.clone(), d.clone(), r.clone())))
                    .collect();
                let merged: Vec<_> = digests::top(digests::merge(&per), self.digest_sort, None)
                    .into_iter()
                    .filter(|d| {
                        filter.is_empty()
                            || d.digest_text
                                .to_ascii_lowercase()
                                .contains(&filter.to_ascii_lowercase())
                            || d.digest.eq_ignore_ascii_case(filter)
                    })
                    .collect();
                if let Some(d) = merged.get(self.selected) {
                    self.breakdown = d
                        .nodes
                        .iter()
                        .map(|n| {
                            format!(
                                "{}: {} executions, {} us total, max {} us",
                                n.node, n.count_star, n.sum_time, n.max_time
                            )
                        })
                        .collect();
                }
                let rows: Vec<Vec<String>> = merged
                    .iter()
                    .map(|d| {
                        vec![
                            d.count_star.to_string(),
                            d.sum_time.to_string(),
                            d.avg_time.to_string(),
                            d.max_time.to_string(),
                            d.nodes.len().to_string(),
                            d.rule
                                .map_or("default".into(), |(id, hg)| format!("{id}→{hg}")),
                            d.digest_text.replace('\n', " "),
                        ]
                    })
                    .collect();
                Grid {
                    headers: vec![
                        "count",
                        "total_us",
                        "avg_us",
                        "max_us",
                        "nodes",
                        "rule→hg",
                        "digest_text",
                    ],
                    flagged: vec![false; rows.len()],
                    rows,
                }
            }
            Some(Table::Commands) => self.commands_grid(names, filter),
            Some(Table::Errors) => self.errors_grid(names, filter),
            None => Grid::default(),
        };
        self.selected = self.selected.min(self.grid.rows.len().saturating_sub(1));
    }
}

impl TrafficState {
    /// The Stats view's commands: one row per command summed over the nodes, with its latency
    /// buckets; the selected command's per-node rows go to the breakdown.
    fn commands_grid(&mut self, names: &[String], filter: &str) -> Grid {
        let per: Vec<(String, Vec<CommandRow>)> = names
            .iter()
            .zip(&self.commands)
            .filter_map(|(n, c)| c.as_ref().map(|c| (n.clone(), c.clone())))
            .collect();
        let needle = filter.to_ascii_lowercase();
        let merged: Vec<_> = stats::merge_commands(&per)
            .into_iter()
            .filter(|c| needle.is_empty() || c.command.to_ascii_lowercase().contains(&needle))
            .collect();
        if let Some(c) = merged.get(self.selected) {
            self.breakdown = c
                .nodes
                .iter()
                .map(|(node, r)| {
                    let buckets: Vec<String> = LATENCY_BUCKETS
                        .iter()
                        .zip(r.buckets)
                        .filter(|(_, v)| *v > 0)
                        .map(|(b, v)| format!("≤{b}:{v}"))
                        .collect();
                    format!(
                        "{node}: {} {}, {} us total, {}",
                        r.total_cnt,
                        c.command,
                        r.total_time_us,
                        buckets.join(" ")
                    )
                })
                .collect();
        }
        let mut headers = vec!["command", "count", "time_us", "mean_us"];
        headers.extend(BUCKET_HEADERS);
        let rows: Vec<Vec<String>> = merged
            .iter()
            .map(|c| {
                let mut row = vec![
                    c.command.clone(),
                    c.total_cnt.to_string(),
                    c.total_time_us.to_string(),
                    c.avg_us().to_string(),
                ];
                row.extend(c.buckets.iter().map(u64::to_string));
                row
            })
            .collect();
        Grid {
            headers,
            flagged: vec![false; rows.len()],
            rows,
        }
    }

    /// The Stats view's errors: every node's `stats_mysql_errors` rows with their node.
    fn errors_grid(&mut self, names: &[String], filter: &str) -> Grid {
        let per: Vec<(String, Vec<ErrorRow>)> = names
            .iter()
            .zip(&self.error_rows)
            .filter_map(|(n, e)| e.as_ref().map(|e| (n.clone(), e.clone())))
            .collect();
        let sort = match self.stats_pane {
            StatsPane::Errors(s) => s,
            StatsPane::Commands => ErrorSort::default(),
        };
        let tz = chrono::FixedOffset::east_opt(self.tz_offset_s).unwrap_or(chrono::Utc.fix());
        let needle = filter.to_ascii_lowercase();
        let rows: Vec<Vec<String>> = stats::merge_errors(&per, sort)
            .into_iter()
            .map(|e| {
                let r = e.error;
                vec![
                    e.node,
                    r.count_star.to_string(),
                    r.errno.to_string(),
                    r.hostgroup.to_string(),
                    format!("{}:{}", r.hostname, r.port),
                    r.username,
                    r.schemaname,
                    datetime(r.first_seen, tz),
                    datetime(r.last_seen, tz),
                    r.last_error.replace('\n', " "),
                ]
            })
            .filter(|row| {
                needle.is_empty() || row.iter().any(|c| c.to_ascii_lowercase().contains(&needle))
            })
            .collect();
        Grid {
            headers: vec![
                "node",
                "count",
                "errno",
                "hg",
                "server",
                "user",
                "schema",
                "first_seen",
                "last_seen",
                "last_error",
            ],
            flagged: vec![false; rows.len()],
            rows,
        }
    }
}

fn line_cells(l: &rates::TrafficLine, history: &VecDeque<u64>) -> Vec<String> {
    vec![
        l.node.clone(),
        rate(l.rates.queries_per_s),
        l.frontend_connections.to_string(),
        l.backend_connections.to_string(),
        l.active_transactions.to_string(),
        bytes(l.rates.frontend_bytes_in_per_s),
        bytes(l.rates.frontend_bytes_out_per_s),
        bytes(l.rates.backend_bytes_in_per_s),
        bytes(l.rates.backend_bytes_out_per_s),
        l.multiplexing_pct.map_or("-".into(), |m| format!("{m:.0}")),
        rate(l.rates.errors_per_s),
        spark(history),
    ]
}

/// A text sparkline of the last 20 points (so it fits a table cell).
fn spark(h: &VecDeque<u64>) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let pts: Vec<u64> = h.iter().rev().take(20).rev().copied().collect();
    let max = pts.iter().copied().max().unwrap_or(0);
    pts.iter()
        .map(|&p| {
            (p * 7)
                .checked_div(max)
                .map_or(BARS[0], |k| BARS[usize::try_from(k).unwrap_or(7).min(7)])
        })
        .collect()
}

/// Counters for a test or fixture.
pub fn counters(uptime_s: u64, questions: u64, clients: u64, servers: u64) -> GlobalCounters {
    GlobalCounters {
        uptime_s,
        questions,
        client_connections: clients,
        server_connections: servers,
        frontend_bytes_recv: questions * 40,
        frontend_bytes_sent: questions * 300,
        ..GlobalCounters::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(id: u64, info: &str, time_ms: u64) -> ProcessRow {
        ProcessRow {
            session_id: id,
            user: "svcusr".into(),
            db: "duhokim".into(),
            cli_host: "127.0.0.1".into(),
            cli_port: 1,
            hostgroup: 20,
            srv_host: String::new(),
            srv_port: 0,
            command: "Query".into(),
            time_ms,
            info: info.into(),
        }
    }

    #[test]
    fn traffic_rows_have_rates_after_two_readings_and_a_total() {
        let names = vec!["n1".to_owned(), "n2".to_owned()];
        let mut s = TrafficState::default();
        s.on_data(0, 0, Ok(TrafficData::Globals(counters(10, 100, 4, 1))));
        s.on_data(0, 1000, Ok(TrafficData::Globals(counters(11, 150, 4, 1))));
        s.on_data(1, 0, Err("connection refused".into()));
        s.settle(Some(Table::Globals), &names, "");
        let g = s.grid();
        assert_eq!(g.rows.len(), 3);
        assert_eq!(g.rows[0][1], "50.0");
        assert_eq!(g.rows[0][9], "75");
        assert_eq!(g.rows[1][1], "connection refused");
        assert_eq!(g.rows[2][0], "TOTAL");
        assert_eq!(s.qps_total(), [50]);
    }

    #[test]
    fn processlist_cursor_names_the_session_and_its_node_and_follows_the_filter() {
        let names = vec!["n1".to_owned(), "n2".to_owned()];
        let mut s = TrafficState::default();
        s.on_data(
            0,
            0,
            Ok(TrafficData::Processlist(vec![proc(3, "SELECT 1", 10)])),
        );
        s.on_data(
            1,
            0,
            Ok(TrafficData::Processlist(vec![proc(
                9,
                "SELECT SLEEP(9)",
                900,
            )])),
        );
        s.settle(Some(Table::Processlist), &names, "");
        assert_eq!(s.grid().rows.len(), 2);
        let first = s.selected_session().unwrap();
        assert_eq!((first.node.as_str(), first.row.session_id), ("n2", 9));
        s.step(5);
        assert_eq!(s.selected, 1);
        s.settle(Some(Table::Processlist), &names, "select 1");
        assert_eq!(s.grid().rows.len(), 1);
        assert_eq!(s.selected, 0);
        assert_eq!(s.selected_session().unwrap().node, "n1");
    }
}
