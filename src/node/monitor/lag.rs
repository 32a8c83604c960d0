//! The replication-lag monitor's decisions (§7.1 `max_replication_lag`, §7.5): which rows
//! are checked, how a check's result reads, and how readings shun and re-enable servers,
//! following `MySQL_HostGroups_Manager::replication_lag_action_inner` in ProxySQL 2.7.
//!
//! A server whose lag exceeds its `max_replication_lag` for `mysql-monitor_replication_lag_count`
//! checks in a row becomes `SHUNNED_REPLICATION_LAG` (status 4: `SHUNNED` in
//! `runtime_mysql_servers`, its own name in `stats_mysql_connection_pool`, `ONLINE` for the
//! checksum); it comes back once the lag is within the limit again. Everything here is pure.

use std::collections::{BTreeSet, HashMap};

use super::servers::{is_offline, ServerAddr, ServerColumns};
use crate::proxysql::resultset::ResultSet;

/// The status of a server shunned for replication lag, as the runtime rows carry it.
pub const SHUNNED_REPLICATION_LAG: &str = "SHUNNED_REPLICATION_LAG";

/// The column `SHOW SLAVE STATUS` and the heartbeat query report the lag in.
const LAG_COLUMN: &str = "Seconds_Behind_Master";

/// `SHOW SLAVE STATUS` has far more columns; fewer means something else answered (ProxySQL's
/// bug #1994 guard).
const MIN_SLAVE_STATUS_COLUMNS: usize = 31;

/// The query of one check: `SHOW SLAVE STATUS`, or pt-heartbeat's table when
/// `mysql-monitor_replication_lag_use_percona_heartbeat` names one.
pub fn lag_query(heartbeat_table: &str) -> String {
    if heartbeat_table.trim().is_empty() {
        "SHOW SLAVE STATUS".to_string()
    } else {
        format!(
            "SELECT MAX(ROUND(TIMESTAMPDIFF(MICROSECOND, ts, SYSDATE(6))/1000000)) AS {LAG_COLUMN} FROM {}",
            heartbeat_table.trim()
        )
    }
}

/// What one check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LagReading {
    /// `Seconds_Behind_Master` had a value.
    Seconds(i64),
    /// `Seconds_Behind_Master` was NULL (replication stopped or broken):
    /// `mysql-monitor_slave_lag_when_null` stands in for it.
    Null,
    /// No row (not a replica) or a result of the wrong shape: never shuns, and re-enables a
    /// server shunned for lag (ProxySQL issue 959).
    NotReplica,
    /// The check failed or timed out: changes nothing, so a server does not come back while
    /// it cannot be checked.
    Failed,
}

impl LagReading {
    /// Reads a check's result: its column names and the values of its first row (`None`
    /// when there was no row). A result of the wrong shape reads as `None` in the second
    /// field so the caller can log it.
    pub fn from_result(
        columns: &[String],
        first_row: Option<&[Option<String>]>,
        heartbeat: bool,
    ) -> (LagReading, bool) {
        let shape_ok = if heartbeat {
            columns.len() == 1
        } else {
            columns.len() >= MIN_SLAVE_STATUS_COLUMNS
        };
        if !shape_ok {
            return (LagReading::NotReplica, false);
        }
        let Some(index) = columns.iter().position(|c| c == LAG_COLUMN) else {
            return (LagReading::NotReplica, true);
        };
        let Some(row) = first_row else {
            return (LagReading::NotReplica, true);
        };
        let reading = match row.get(index).cloned().flatten() {
            None => LagReading::Null,
            // atoi: a fractional or garbled value reads as its integer prefix.
            Some(v) => LagReading::Seconds(atoi(&v)),
        };
        (reading, true)
    }

    /// The value `repl_lag` of `monitor.mysql_server_replication_lag_log`: NULL unless the
    /// server reported a number.
    pub fn logged(self) -> Option<i64> {
        match self {
            LagReading::Seconds(s) => Some(s),
            _ => None,
        }
    }
}

fn atoi(text: &str) -> i64 {
    let t = text.trim();
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    sign * digits[..end].parse::<i64>().unwrap_or(0)
}

/// Settings the decisions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LagRules {
    /// `mysql-monitor_replication_lag_count`: consecutive excessive readings before shunning.
    pub count: u32,
    /// `mysql-monitor_slave_lag_when_null`.
    pub when_null: i64,
    /// `mysql-monitor_replication_lag_group_by_host`: one reading applies to the server in
    /// every hostgroup.
    pub group_by_host: bool,
}

/// Column positions the lag decisions need on top of [`ServerColumns`].
#[derive(Debug, Clone, Copy)]
struct LagColumns {
    base: ServerColumns,
    max_lag: usize,
}

impl LagColumns {
    fn find(rs: &ResultSet) -> Option<LagColumns> {
        Some(LagColumns {
            base: ServerColumns::find(rs)?,
            max_lag: rs.column_index("max_replication_lag")?,
        })
    }

    fn max_lag(&self, row: &[Option<String>]) -> i64 {
        row.get(self.max_lag)
            .and_then(|v| v.as_deref())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Rows the check covers: a positive `max_replication_lag`, not `OFFLINE_*`.
    fn checked(&self, row: &[Option<String>]) -> bool {
        self.max_lag(row) > 0 && !is_offline(self.base.status(row))
    }
}

/// Backends to check, once per address, in address order.
pub fn lag_targets(servers: &ResultSet) -> Vec<ServerAddr> {
    let Some(cols) = LagColumns::find(servers) else {
        return Vec::new();
    };
    let set: BTreeSet<ServerAddr> = servers
        .rows
        .iter()
        .filter(|row| cols.checked(row))
        .filter_map(|row| cols.base.addr(row))
        .collect();
    set.into_iter().collect()
}

/// Consecutive excessive readings per (hostgroup, server), kept across rounds.
pub type LagCounts = HashMap<(u32, ServerAddr), u32>;

/// Something a round decided, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LagEvent {
    /// A NULL lag was replaced by `mysql-monitor_slave_lag_when_null`.
    NullLag {
        /// The server.
        addr: ServerAddr,
        /// The value used instead.
        used: i64,
    },
    /// The lag is over the limit but not yet for enough checks.
    NotYet {
        /// Hostgroup.
        hostgroup: u32,
        /// The server.
        addr: ServerAddr,
        /// Lag in seconds.
        lag: i64,
        /// Excessive readings so far.
        count: u32,
        /// Readings needed.
        needed: u32,
    },
    /// The server was shunned.
    Shunned {
        /// Hostgroup.
        hostgroup: u32,
        /// The server.
        addr: ServerAddr,
        /// Lag in seconds.
        lag: i64,
        /// Excessive readings.
        count: u32,
    },
    /// The server is back `ONLINE`.
    Reenabled {
        /// Hostgroup.
        hostgroup: u32,
        /// The server.
        addr: ServerAddr,
        /// Lag in seconds (-2 when it no longer reports being a replica).
        lag: i64,
    },
}

/// The effect of a round's readings on the runtime servers.
#[derive(Debug, Clone, PartialEq)]
pub struct LagOutcome {
    /// The new runtime servers, `None` when no status changed.
    pub servers: Option<ResultSet>,
    /// What happened, in order.
    pub events: Vec<LagEvent>,
}

/// Applies `readings` to `servers`, updating `counts`.
pub fn apply_lag(
    servers: &ResultSet,
    readings: &[(ServerAddr, LagReading)],
    rules: LagRules,
    counts: &mut LagCounts,
) -> LagOutcome {
    let mut out = LagOutcome {
        servers: None,
        events: Vec::new(),
    };
    let Some(cols) = LagColumns::find(servers) else {
        return out;
    };
    let mut rows = servers.rows.clone();
    let mut changed = false;
    for (addr, reading) in readings {
        // (value, override) as ProxySQL passes them: override marks a value that is not a
        // measured lag.
        let (lag, overridden) = match *reading {
            LagReading::Seconds(s) => (s, false),
            LagReading::Null => {
                out.events.push(LagEvent::NullLag {
                    addr: addr.clone(),
                    used: rules.when_null,
                });
                (rules.when_null, false)
            }
            LagReading::NotReplica => (-2, true),
            LagReading::Failed => (-3, true),
        };
        for row in rows.iter_mut() {
            if cols.base.addr(row).as_ref() != Some(addr) {
                continue;
            }
            if !rules.group_by_host && !cols.checked(row) {
                continue;
            }
            let Some(hostgroup) = cols.base.hostgroup(row) else {
                continue;
            };
            let max = cols.max_lag(row);
            let key = (hostgroup, addr.clone());
            let status = cols.base.status(row).to_ascii_uppercase();
            if status == "ONLINE" {
                if lag >= 0 && max > 0 && lag > max {
                    let count = counts.entry(key).or_insert(0);
                    *count += 1;
                    if *count >= rules.count {
                        row[cols.base.status] = Some(SHUNNED_REPLICATION_LAG.to_string());
                        changed = true;
                        out.events.push(LagEvent::Shunned {
                            hostgroup,
                            addr: addr.clone(),
                            lag,
                            count: *count,
                        });
                    } else {
                        out.events.push(LagEvent::NotYet {
                            hostgroup,
                            addr: addr.clone(),
                            lag,
                            count: *count,
                            needed: rules.count,
                        });
                    }
                } else {
                    counts.remove(&key);
                }
            } else if status == SHUNNED_REPLICATION_LAG
                && ((!overridden && lag <= max) || (overridden && lag == -2))
            {
                row[cols.base.status] = Some("ONLINE".to_string());
                counts.remove(&key);
                changed = true;
                out.events.push(LagEvent::Reenabled {
                    hostgroup,
                    addr: addr.clone(),
                    lag,
                });
            }
        }
    }
    if changed {
        out.servers = Some(ResultSet {
            columns: servers.columns.clone(),
            rows,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::monitor::servers::tests::servers;

    const MAX_LAG: usize = 8;

    fn with_max_lag(mut rs: ResultSet, max: &[i64]) -> ResultSet {
        for (row, m) in rs.rows.iter_mut().zip(max) {
            row[MAX_LAG] = Some(m.to_string());
        }
        rs
    }

    fn a(port: u16) -> ServerAddr {
        ServerAddr::new("127.0.0.1", port)
    }

    fn rules(count: u32) -> LagRules {
        LagRules {
            count,
            when_null: 60,
            group_by_host: false,
        }
    }

    fn statuses(rs: &ResultSet) -> Vec<&str> {
        rs.rows.iter().map(|r| r[4].as_deref().unwrap()).collect()
    }

    fn cols(n: usize) -> Vec<String> {
        let mut c: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        c[32.min(n - 1)] = LAG_COLUMN.to_string();
        c
    }

    #[test]
    fn queries_follow_the_heartbeat_setting() {
        assert_eq!(lag_query(""), "SHOW SLAVE STATUS");
        assert_eq!(
            lag_query("percona.heartbeat"),
            "SELECT MAX(ROUND(TIMESTAMPDIFF(MICROSECOND, ts, SYSDATE(6))/1000000)) AS Seconds_Behind_Master FROM percona.heartbeat"
        );
    }

    #[test]
    fn results_read_like_proxysql() {
        let slave = cols(40);
        let mut row = vec![None; 40];
        row[32] = Some("17".to_string());
        assert_eq!(
            LagReading::from_result(&slave, Some(&row), false),
            (LagReading::Seconds(17), true)
        );
        row[32] = None;
        assert_eq!(
            LagReading::from_result(&slave, Some(&row), false),
            (LagReading::Null, true)
        );
        // A primary answers SHOW SLAVE STATUS with its columns and no row.
        assert_eq!(
            LagReading::from_result(&slave, None, false),
            (LagReading::NotReplica, true)
        );
        // Wrong shapes are reported.
        assert_eq!(
            LagReading::from_result(&cols(3), Some(&[None, None, None]), false),
            (LagReading::NotReplica, false)
        );
        let hb = vec![LAG_COLUMN.to_string()];
        assert_eq!(
            LagReading::from_result(&hb, Some(&[Some("3.0000".into())]), true),
            (LagReading::Seconds(3), true)
        );
        assert_eq!(LagReading::Seconds(3).logged(), Some(3));
        assert_eq!(LagReading::Null.logged(), None);
    }

    #[test]
    fn targets_have_a_limit_and_are_not_offline() {
        let rs = with_max_lag(
            servers(&[
                (10, "127.0.0.1", 1, "ONLINE"),
                (20, "127.0.0.1", 2, "ONLINE"),
                (20, "127.0.0.1", 3, "OFFLINE_SOFT"),
                (30, "127.0.0.1", 2, "SHUNNED_REPLICATION_LAG"),
            ]),
            &[0, 10, 10, 10],
        );
        assert_eq!(lag_targets(&rs), vec![a(2)]);
    }

    #[test]
    fn lag_over_the_limit_shuns_after_count_readings_and_recovers() {
        let rs = with_max_lag(servers(&[(20, "127.0.0.1", 2, "ONLINE")]), &[10]);
        let mut counts = LagCounts::new();
        let r = |s| vec![(a(2), LagReading::Seconds(s))];

        let first = apply_lag(&rs, &r(30), rules(2), &mut counts);
        assert!(first.servers.is_none());
        assert!(matches!(
            first.events[..],
            [LagEvent::NotYet {
                count: 1,
                needed: 2,
                ..
            }]
        ));
        let second = apply_lag(&rs, &r(30), rules(2), &mut counts);
        let shunned = second.servers.expect("shunned");
        assert_eq!(statuses(&shunned), ["SHUNNED_REPLICATION_LAG"]);

        // Equal to the limit is fine again.
        let back = apply_lag(&shunned, &r(10), rules(2), &mut counts);
        assert_eq!(statuses(&back.servers.unwrap()), ["ONLINE"]);
        assert!(counts.is_empty());
    }

    #[test]
    fn a_good_reading_resets_the_count() {
        let rs = with_max_lag(servers(&[(20, "127.0.0.1", 2, "ONLINE")]), &[10]);
        let mut counts = LagCounts::new();
        apply_lag(
            &rs,
            &[(a(2), LagReading::Seconds(30))],
            rules(2),
            &mut counts,
        );
        apply_lag(
            &rs,
            &[(a(2), LagReading::Seconds(1))],
            rules(2),
            &mut counts,
        );
        let again = apply_lag(
            &rs,
            &[(a(2), LagReading::Seconds(30))],
            rules(2),
            &mut counts,
        );
        assert!(again.servers.is_none(), "the count restarted");
    }

    #[test]
    fn null_uses_slave_lag_when_null_and_failures_change_nothing() {
        let rs = with_max_lag(servers(&[(20, "127.0.0.1", 2, "ONLINE")]), &[10]);
        let mut counts = LagCounts::new();
        let out = apply_lag(&rs, &[(a(2), LagReading::Null)], rules(1), &mut counts);
        assert_eq!(
            out.events[0],
            LagEvent::NullLag {
                addr: a(2),
                used: 60
            }
        );
        let shunned = out.servers.unwrap();
        assert_eq!(statuses(&shunned), ["SHUNNED_REPLICATION_LAG"]);
        // A failed check does not bring it back; a server that stopped being a replica does.
        let failed = apply_lag(
            &shunned,
            &[(a(2), LagReading::Failed)],
            rules(1),
            &mut counts,
        );
        assert!(failed.servers.is_none());
        let promoted = apply_lag(
            &shunned,
            &[(a(2), LagReading::NotReplica)],
            rules(1),
            &mut counts,
        );
        assert_eq!(statuses(&promoted.servers.unwrap()), ["ONLINE"]);
    }

    #[test]
    fn other_statuses_and_unlimited_rows_are_left_alone() {
        let rs = with_max_lag(
            servers(&[
                (10, "127.0.0.1", 2, "ONLINE"),
                (20, "127.0.0.1", 2, "ONLINE"),
                (30, "127.0.0.1", 2, "SHUNNED"),
            ]),
            &[0, 10, 10],
        );
        let mut counts = LagCounts::new();
        let out = apply_lag(
            &rs,
            &[(a(2), LagReading::Seconds(99))],
            rules(1),
            &mut counts,
        );
        assert_eq!(
            statuses(&out.servers.unwrap()),
            ["ONLINE", "SHUNNED_REPLICATION_LAG", "SHUNNED"]
        );
    }

    #[test]
    fn group_by_host_applies_to_every_hostgroup_with_a_limit() {
        let rs = with_max_lag(
            servers(&[
                (10, "127.0.0.1", 2, "ONLINE"),
                (20, "127.0.0.1", 2, "ONLINE"),
            ]),
            &[5, 50],
        );
        let mut counts = LagCounts::new();
        let rules = LagRules {
            group_by_host: true,
            ..rules(1)
        };
        let out = apply_lag(&rs, &[(a(2), LagReading::Seconds(20))], rules, &mut counts);
        assert_eq!(
            statuses(&out.servers.unwrap()),
            ["SHUNNED_REPLICATION_LAG", "ONLINE"]
        );
    }

    #[test]
    fn atoi_reads_integer_prefixes() {
        assert_eq!(atoi(" 42 "), 42);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi("7.9"), 7);
        assert_eq!(atoi("x"), 0);
    }
}
