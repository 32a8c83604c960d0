//! Rates from two readings of a node's global counters: per second over the time between them,
//! reset- and restart-aware (a counter that went down, or an uptime that went down, gives no
//! rate for that interval instead of a huge or negative one), and the cluster total.

use std::collections::VecDeque;

use serde::Serialize;

use crate::client::traffic::GlobalCounters;

/// One reading of a node's counters and when it was taken (milliseconds on any monotonic
/// clock the caller keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// When, in milliseconds.
    pub at_ms: u64,
    /// The counters.
    pub counters: GlobalCounters,
}

/// Per-second rates over one interval. `None`: no rate for that counter this interval (the
/// counter was reset or the node restarted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Rates {
    /// `Questions` per second.
    pub queries_per_s: Option<f64>,
    /// Bytes per second received from clients.
    pub frontend_bytes_in_per_s: Option<f64>,
    /// Bytes per second sent to clients.
    pub frontend_bytes_out_per_s: Option<f64>,
    /// Bytes per second received from backends.
    pub backend_bytes_in_per_s: Option<f64>,
    /// Bytes per second sent to backends.
    pub backend_bytes_out_per_s: Option<f64>,
    /// Errors (`stats_mysql_errors`) per second.
    pub errors_per_s: Option<f64>,
}

/// True when `now` comes from a restarted node: its uptime went down.
pub fn restarted(before: &GlobalCounters, now: &GlobalCounters) -> bool {
    now.uptime_s < before.uptime_s
}

fn per_s(before: u64, now: u64, secs: f64) -> Option<f64> {
    (now >= before).then(|| (now - before) as f64 / secs)
}

/// The rates between two samples; all `None` after a restart or when no time passed.
pub fn rates(before: &Sample, now: &Sample) -> Rates {
    let secs = now.at_ms.saturating_sub(before.at_ms) as f64 / 1000.0;
    let (b, n) = (&before.counters, &now.counters);
    if secs <= 0.0 || restarted(b, n) {
        return Rates::default();
    }
    Rates {
        queries_per_s: per_s(b.questions, n.questions, secs),
        frontend_bytes_in_per_s: per_s(b.frontend_bytes_recv, n.frontend_bytes_recv, secs),
        frontend_bytes_out_per_s: per_s(b.frontend_bytes_sent, n.frontend_bytes_sent, secs),
        backend_bytes_in_per_s: per_s(b.backend_bytes_recv, n.backend_bytes_recv, secs),
        backend_bytes_out_per_s: per_s(b.backend_bytes_sent, n.backend_bytes_sent, secs),
        errors_per_s: per_s(b.errors, n.errors, secs),
    }
}

/// Multiplexing efficiency in percent: how many client connections do without a backend
/// connection of their own (`1 - backend / frontend`), `None` without client connections.
pub fn multiplexing_pct(c: &GlobalCounters) -> Option<f64> {
    (c.client_connections > 0).then(|| {
        let ratio = c.server_connections as f64 / c.client_connections as f64;
        ((1.0 - ratio) * 100.0).clamp(0.0, 100.0)
    })
}

/// How many queries/s points a sparkline keeps.
pub const HISTORY: usize = 120;

/// One node's traffic over time: the last sample, the last rates, and the queries/s history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeTraffic {
    /// The latest sample.
    pub last: Option<Sample>,
    /// Rates over the latest interval.
    pub rates: Rates,
    /// Queries/s of the last [`HISTORY`] intervals, oldest first (0 for an interval without
    /// a rate, so the sparkline keeps its time axis).
    pub qps_history: VecDeque<u64>,
    /// Restarts seen.
    pub restarts: u64,
}

impl NodeTraffic {
    /// Takes a new sample: the rates against the previous one, one more history point.
    pub fn observe(&mut self, sample: Sample) {
        if let Some(prev) = &self.last {
            if restarted(&prev.counters, &sample.counters) {
                self.restarts += 1;
            }
            self.rates = rates(prev, &sample);
            let point = self.rates.queries_per_s.map_or(0, |q| q.round() as u64);
            self.qps_history.push_back(point);
            while self.qps_history.len() > HISTORY {
                self.qps_history.pop_front();
            }
        }
        self.last = Some(sample);
    }
}

/// A node's or the cluster's traffic figures, as every front end prints them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrafficLine {
    /// Node name, or `TOTAL`.
    pub node: String,
    /// Rates over the last interval.
    #[serde(flatten)]
    pub rates: Rates,
    /// Client connections.
    pub frontend_connections: u64,
    /// Backend connections.
    pub backend_connections: u64,
    /// Open transactions.
    pub active_transactions: u64,
    /// Multiplexing efficiency in percent.
    pub multiplexing_pct: Option<f64>,
    /// `Questions` since start.
    pub questions: u64,
    /// Errors since start (or the last reset).
    pub errors: u64,
}

/// A node's line from its latest counters and rates.
pub fn line(node: &str, counters: &GlobalCounters, rates: Rates) -> TrafficLine {
    TrafficLine {
        node: node.to_owned(),
        rates,
        frontend_connections: counters.client_connections,
        backend_connections: counters.server_connections,
        active_transactions: counters.active_transactions,
        multiplexing_pct: multiplexing_pct(counters),
        questions: counters.questions,
        errors: counters.errors,
    }
}

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x + y),
        (x, None) | (None, x) => x,
    }
}

/// The cluster total of node lines: sums, with multiplexing over the summed connections. A
/// node without a rate this interval adds nothing to that rate.
pub fn total(lines: &[TrafficLine]) -> TrafficLine {
    let mut t = TrafficLine {
        node: "TOTAL".into(),
        ..TrafficLine::default()
    };
    for l in lines {
        t.rates.queries_per_s = add(t.rates.queries_per_s, l.rates.queries_per_s);
        t.rates.frontend_bytes_in_per_s = add(
            t.rates.frontend_bytes_in_per_s,
            l.rates.frontend_bytes_in_per_s,
        );
        t.rates.frontend_bytes_out_per_s = add(
            t.rates.frontend_bytes_out_per_s,
            l.rates.frontend_bytes_out_per_s,
        );
        t.rates.backend_bytes_in_per_s = add(
            t.rates.backend_bytes_in_per_s,
            l.rates.backend_bytes_in_per_s,
        );
        t.rates.backend_bytes_out_per_s = add(
            t.rates.backend_bytes_out_per_s,
            l.rates.backend_bytes_out_per_s,
        );
        t.rates.errors_per_s = add(t.rates.errors_per_s, l.rates.errors_per_s);
        t.frontend_connections += l.frontend_connections;
        t.backend_connections += l.backend_connections;
        t.active_transactions += l.active_transactions;
        t.questions += l.questions;
        t.errors += l.errors;
    }
    t.multiplexing_pct = multiplexing_pct(&GlobalCounters {
        client_connections: t.frontend_connections,
        server_connections: t.backend_connections,
        ..GlobalCounters::default()
    });
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64, uptime_s: u64, questions: u64, errors: u64) -> Sample {
        Sample {
            at_ms,
            counters: GlobalCounters {
                uptime_s,
                questions,
                errors,
                frontend_bytes_sent: questions * 10,
                ..GlobalCounters::default()
            },
        }
    }

    #[test]
    fn rates_are_per_second_over_the_interval() {
        let r = rates(&sample(0, 10, 100, 1), &sample(2000, 12, 300, 5));
        assert_eq!(r.queries_per_s, Some(100.0));
        assert_eq!(r.frontend_bytes_out_per_s, Some(1000.0));
        assert_eq!(r.errors_per_s, Some(2.0));
    }

    #[test]
    fn a_restart_or_a_reset_gives_no_rate_rather_than_a_wrong_one() {
        // Restart: uptime went down, every rate is unknown.
        let r = rates(&sample(0, 500, 10_000, 3), &sample(1000, 2, 50, 0));
        assert_eq!(r, Rates::default());
        // A reset of one counter (errors) on a running node: only that rate is unknown.
        let r = rates(&sample(0, 10, 100, 9), &sample(1000, 11, 150, 0));
        assert_eq!(r.queries_per_s, Some(50.0));
        assert_eq!(r.errors_per_s, None);
        // No time passed.
        assert_eq!(
            rates(&sample(5, 1, 1, 0), &sample(5, 1, 9, 0)),
            Rates::default()
        );
    }

    #[test]
    fn history_keeps_the_time_axis_through_a_restart() {
        let mut t = NodeTraffic::default();
        t.observe(sample(0, 10, 0, 0));
        t.observe(sample(1000, 11, 40, 0));
        t.observe(sample(2000, 1, 5, 0));
        t.observe(sample(3000, 2, 25, 0));
        assert_eq!(t.qps_history, [40, 0, 20]);
        assert_eq!(t.restarts, 1);
        for i in 0..200 {
            t.observe(sample(4000 + i * 1000, 3 + i, 25 + i, 0));
        }
        assert_eq!(t.qps_history.len(), HISTORY);
    }

    #[test]
    fn multiplexing_and_totals() {
        let mut c = GlobalCounters {
            client_connections: 40,
            server_connections: 10,
            ..GlobalCounters::default()
        };
        assert_eq!(multiplexing_pct(&c), Some(75.0));
        let a = line(
            "n1",
            &c,
            Rates {
                queries_per_s: Some(5.0),
                ..Rates::default()
            },
        );
        c.server_connections = 30;
        let b = line("n2", &c, Rates::default());
        let t = total(&[a, b]);
        assert_eq!(t.frontend_connections, 80);
        assert_eq!(t.backend_connections, 40);
        assert_eq!(t.multiplexing_pct, Some(50.0));
        assert_eq!(t.rates.queries_per_s, Some(5.0));
        assert_eq!(t.rates.errors_per_s, None);
        c.client_connections = 0;
        assert_eq!(multiplexing_pct(&c), None);
    }
}
