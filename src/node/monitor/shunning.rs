//! Ping-based shunning (§7.3): a backend that misses `mysql-monitor_ping_max_failures`
//! consecutive pings is `SHUNNED` in every hostgroup, and the connect and read_only checks
//! leave it alone until it answers again; the first good ping brings it back `ONLINE`.
//!
//! Access-denied style errors are not missed heartbeats: the server is up, only the monitor
//! account is wrong (ProxySQL excludes `Access denied for user%`, `ProxySQL Error: Access
//! denied for user%` and `Your password has expired.%`).

use std::collections::{BTreeSet, HashMap};

use crate::proxysql::resultset::ResultSet;

use super::servers::{ServerAddr, ServerColumns};

/// How one ping ended, for the heartbeat count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingVerdict {
    /// The server answered.
    Answered,
    /// A failure that counts as a missed heartbeat.
    Missed,
    /// A failure that does not (credentials): the server is alive.
    Refused,
}

impl PingVerdict {
    /// Classifies a ping: `None` error is success.
    pub fn of(error: Option<&str>) -> PingVerdict {
        match error {
            None => PingVerdict::Answered,
            Some(e) if is_credentials_error(e) => PingVerdict::Refused,
            Some(_) => PingVerdict::Missed,
        }
    }
}

/// True for the error texts ProxySQL does not count as missed heartbeats.
pub fn is_credentials_error(message: &str) -> bool {
    [
        "Access denied for user",
        "ProxySQL Error: Access denied for user",
        "Your password has expired.",
    ]
    .iter()
    .any(|p| message.starts_with(p))
}

/// Consecutive missed heartbeats per backend, and the backends this monitor shunned.
#[derive(Debug, Default)]
pub struct PingHealth {
    missed: HashMap<ServerAddr, u32>,
    shunned: BTreeSet<ServerAddr>,
}

/// What a ping round asks of the runtime servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShunPlan {
    /// Backends to shun (missed heartbeats reached the limit).
    pub shun: BTreeSet<ServerAddr>,
    /// Backends this monitor shunned that answer again.
    pub recover: BTreeSet<ServerAddr>,
}

impl PingHealth {
    /// Counts one ping.
    pub fn record(&mut self, addr: &ServerAddr, verdict: PingVerdict) {
        match verdict {
            PingVerdict::Missed => *self.missed.entry(addr.clone()).or_insert(0) += 1,
            PingVerdict::Answered | PingVerdict::Refused => {
                self.missed.remove(addr);
            }
        }
    }

    /// Consecutive missed heartbeats of `addr`.
    pub fn missed(&self, addr: &ServerAddr) -> u32 {
        self.missed.get(addr).copied().unwrap_or(0)
    }

    /// False once `addr` missed `max_failures` heartbeats in a row: other checks skip it.
    pub fn responds(&self, addr: &ServerAddr, max_failures: u32) -> bool {
        self.missed(addr) < max_failures
    }

    /// Forgets backends that are no longer monitored.
    pub fn retain(&mut self, monitored: &[ServerAddr]) {
        let keep: BTreeSet<&ServerAddr> = monitored.iter().collect();
        self.missed.retain(|a, _| keep.contains(a));
        self.shunned.retain(|a| keep.contains(a));
    }

    /// Forgets everything and returns the backends this monitor had shunned: when the monitor
    /// is switched off it no longer vouches for them, so they go back `ONLINE`.
    pub fn release_all(&mut self) -> BTreeSet<ServerAddr> {
        self.missed.clear();
        std::mem::take(&mut self.shunned)
    }

    /// After a round: which backends to shun, which to bring back. Shunning is re-asserted
    /// every round while the backend stays down, so a `LOAD MYSQL SERVERS TO RUNTIME` in
    /// between cannot bring a dead server back.
    pub fn plan(&mut self, checked: &[ServerAddr], max_failures: u32) -> ShunPlan {
        let mut plan = ShunPlan::default();
        for addr in checked {
            if !self.responds(addr, max_failures) {
                self.shunned.insert(addr.clone());
                plan.shun.insert(addr.clone());
            } else if self.missed(addr) == 0 && self.shunned.remove(addr) {
                plan.recover.insert(addr.clone());
            }
        }
        plan
    }
}

/// The effect of a [`ShunPlan`] on the runtime servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShunOutcome {
    /// The new runtime servers, `None` when no row changed.
    pub servers: Option<ResultSet>,
    /// Backends with a row that went `ONLINE` → `SHUNNED`.
    pub shunned: Vec<ServerAddr>,
    /// Backends with a row that went `SHUNNED` → `ONLINE`.
    pub recovered: Vec<ServerAddr>,
}

/// Applies a plan: `ONLINE` rows of shunned backends become `SHUNNED`, `SHUNNED` rows of
/// recovered ones `ONLINE`; `OFFLINE_*` rows are never touched (pure).
pub fn apply_plan(servers: &ResultSet, plan: &ShunPlan) -> ShunOutcome {
    let mut out = ShunOutcome {
        servers: None,
        shunned: Vec::new(),
        recovered: Vec::new(),
    };
    let Some(cols) = ServerColumns::find(servers) else {
        return out;
    };
    let mut rows = servers.rows.clone();
    for row in &mut rows {
        let Some(addr) = cols.addr(row) else {
            continue;
        };
        let status = cols.status(row).to_ascii_uppercase();
        let (to, list) = if plan.shun.contains(&addr) && status == "ONLINE" {
            ("SHUNNED", &mut out.shunned)
        } else if plan.recover.contains(&addr) && status == "SHUNNED" {
            ("ONLINE", &mut out.recovered)
        } else {
            continue;
        };
        row[cols.status] = Some(to.to_string());
        if !list.contains(&addr) {
            list.push(addr);
        }
    }
    if !out.shunned.is_empty() || !out.recovered.is_empty() {
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

    fn a(port: u16) -> ServerAddr {
        ServerAddr::new("127.0.0.1", port)
    }

    fn statuses(rs: &ResultSet) -> Vec<&str> {
        rs.rows.iter().map(|r| r[4].as_deref().unwrap()).collect()
    }

    #[test]
    fn credentials_errors_are_not_missed_heartbeats() {
        assert_eq!(PingVerdict::of(None), PingVerdict::Answered);
        assert_eq!(
            PingVerdict::of(Some(
                "Access denied for user 'monitor'@'localhost' (using password: YES)"
            )),
            PingVerdict::Refused
        );
        assert_eq!(
            PingVerdict::of(Some("Your password has expired. To log in ...")),
            PingVerdict::Refused
        );
        assert_eq!(
            PingVerdict::of(Some("Can't connect to server on '127.0.0.1' (111)")),
            PingVerdict::Missed
        );
    }

    #[test]
    fn shun_after_max_consecutive_misses_and_recover_on_the_next_answer() {
        let mut h = PingHealth::default();
        let checked = [a(1), a(2)];
        for round in 1..=3 {
            h.record(&a(1), PingVerdict::Missed);
            h.record(&a(2), PingVerdict::Answered);
            let plan = h.plan(&checked, 3);
            if round < 3 {
                assert!(plan.shun.is_empty(), "round {round}");
                assert!(h.responds(&a(1), 3));
            } else {
                assert_eq!(plan.shun, BTreeSet::from([a(1)]));
                assert!(!h.responds(&a(1), 3));
            }
        }
        // Still down: shunning is asserted again.
        h.record(&a(1), PingVerdict::Missed);
        assert_eq!(h.plan(&checked, 3).shun, BTreeSet::from([a(1)]));
        h.record(&a(1), PingVerdict::Answered);
        let plan = h.plan(&checked, 3);
        assert!(plan.shun.is_empty());
        assert_eq!(plan.recover, BTreeSet::from([a(1)]));
        // Recovered once only.
        h.record(&a(1), PingVerdict::Answered);
        assert!(h.plan(&checked, 3).recover.is_empty());
    }

    #[test]
    fn a_refused_ping_breaks_the_streak() {
        let mut h = PingHealth::default();
        h.record(&a(1), PingVerdict::Missed);
        h.record(&a(1), PingVerdict::Missed);
        h.record(&a(1), PingVerdict::Refused);
        h.record(&a(1), PingVerdict::Missed);
        assert_eq!(h.missed(&a(1)), 1);
        assert!(h.plan(&[a(1)], 2).shun.is_empty());
    }

    #[test]
    fn servers_that_are_not_shunned_by_pings_are_never_recovered_here() {
        let mut h = PingHealth::default();
        h.record(&a(1), PingVerdict::Answered);
        assert!(h.plan(&[a(1)], 3).recover.is_empty());
        let rs = servers(&[(0, "127.0.0.1", 1, "SHUNNED")]);
        assert!(apply_plan(&rs, &ShunPlan::default()).servers.is_none());
    }

    #[test]
    fn plan_changes_online_rows_only_and_reports_what_changed() {
        let rs = servers(&[
            (0, "127.0.0.1", 1, "ONLINE"),
            (1, "127.0.0.1", 1, "OFFLINE_SOFT"),
            (2, "127.0.0.1", 1, "ONLINE"),
            (0, "127.0.0.1", 2, "ONLINE"),
        ]);
        let plan = ShunPlan {
            shun: BTreeSet::from([a(1)]),
            recover: BTreeSet::new(),
        };
        let out = apply_plan(&rs, &plan);
        let shunned = out.servers.clone().unwrap();
        assert_eq!(
            statuses(&shunned),
            ["SHUNNED", "OFFLINE_SOFT", "SHUNNED", "ONLINE"]
        );
        assert_eq!(out.shunned, [a(1)]);
        // Already shunned: nothing changes, nothing to log.
        let again = apply_plan(&shunned, &plan);
        assert!(again.servers.is_none() && again.shunned.is_empty());
        let back = apply_plan(
            &shunned,
            &ShunPlan {
                shun: BTreeSet::new(),
                recover: BTreeSet::from([a(1)]),
            },
        );
        assert_eq!(back.servers.unwrap(), rs);
        assert_eq!(back.recovered, [a(1)]);
    }

    #[test]
    fn switching_the_monitor_off_releases_its_shunned_servers() {
        let mut h = PingHealth::default();
        h.record(&a(1), PingVerdict::Missed);
        h.record(&a(2), PingVerdict::Missed);
        h.plan(&[a(1), a(2)], 1);
        assert_eq!(h.release_all(), BTreeSet::from([a(1), a(2)]));
        assert!(h.responds(&a(1), 1));
        assert!(h.release_all().is_empty());
    }

    #[test]
    fn forgotten_servers_leave_no_state() {
        let mut h = PingHealth::default();
        h.record(&a(1), PingVerdict::Missed);
        h.plan(&[a(1)], 1);
        h.retain(&[a(2)]);
        assert_eq!(h.missed(&a(1)), 0);
        h.record(&a(1), PingVerdict::Answered);
        assert!(h.plan(&[a(1)], 1).recover.is_empty());
    }
}
