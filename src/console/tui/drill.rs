//! A failover drill run from the console: what to start ([`DrillRequest`]) and what the HA
//! view shows while it runs ([`DrillPanel`], folded from the drill's progress events by pure
//! functions).
//!
//! The drill starts its own nodes with a VIP on loopback (the console's nodes are watched,
//! never killed by it), writes through the VIP to the lab primary, injects the fault into
//! the VIP holder and restores it; the panel follows each node's VRRP state, every INSERT,
//! the outage window, and at the end the report's figures and durability proof.

use std::collections::VecDeque;

use crate::console::diagnosis::Severity;
use crate::console::drill::{
    self as failover, Backend, DrillEvent, DrillOptions, DrillReport, EventKind, Fault, Profile,
};

/// Write attempts kept for the strip: at 10 per second, more than a scenario-profile drill.
const WRITES_KEPT: usize = 2000;

/// Milestones kept.
const MILESTONES_KEPT: usize = 200;

/// What the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrillRequest {
    /// VRRP timing preset.
    pub profile: Profile,
    /// The fault injected into the VIP holder.
    pub fault: Fault,
}

impl Default for DrillRequest {
    /// The reference scenario: its keepalived timing, the holder killed.
    fn default() -> Self {
        DrillRequest {
            profile: Profile::Scenario,
            fault: Fault::Kill,
        }
    }
}

impl DrillRequest {
    /// The drill's options: its own two nodes, the MariaDB lab's primary as backend (port
    /// from `PXADM_LAB_PORT`, as `scripts/lab` reads it), this executable for the nodes.
    pub fn options(self) -> DrillOptions {
        let mut opts = DrillOptions::new(self.profile);
        opts.fault = self.fault;
        opts.name_prefix = "drill".into();
        opts.backend = Backend {
            port: std::env::var("PXADM_LAB_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(Backend::default().port),
            ..Backend::default()
        };
        opts
    }

    /// `scenario` or `tuned`.
    pub fn profile_name(self) -> &'static str {
        match self.profile {
            Profile::Scenario => "scenario",
            Profile::Tuned => "tuned",
        }
    }

    /// `kill -9` or `PROXYSQL PAUSE`.
    pub fn fault_name(self) -> &'static str {
        self.fault.action()
    }
}

/// One drill node as the panel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillNode {
    /// Name (`drill1`...).
    pub name: String,
    /// Configured VRRP priority.
    pub priority: u8,
    /// Advertised priority, as last seen.
    pub effective_priority: u8,
    /// MASTER, BACKUP, FAULT, INIT, or `down` while its admin port does not answer.
    pub state: String,
    /// Holds the VIP.
    pub vip_held: bool,
}

/// A line of the drill's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Milestone {
    /// Milliseconds since the drill started.
    pub at_ms: u64,
    /// What happened.
    pub text: String,
    /// Colour.
    pub severity: Severity,
}

/// The running or finished drill, as the HA view draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillPanel {
    /// What was asked for.
    pub request: DrillRequest,
    /// Console time (unix seconds) it started.
    pub started_at: u64,
    /// Time of the latest event, ms since the start.
    pub elapsed_ms: u64,
    /// The drill's nodes in start order.
    pub nodes: Vec<DrillNode>,
    /// Outcome of each INSERT attempt, oldest first (true: acknowledged).
    pub writes: VecDeque<bool>,
    /// INSERTs acknowledged.
    pub acknowledged: u64,
    /// INSERTs failed.
    pub failed: u64,
    /// When the fault was injected.
    pub fault_at_ms: Option<u64>,
    /// The first failed INSERT after the fault.
    pub first_failure_ms: Option<u64>,
    /// The first acknowledged INSERT after failures, and how many failed before it.
    pub resumed: Option<(u64, u64)>,
    /// The latest INSERT error.
    pub last_error: Option<String>,
    /// What happened, oldest first.
    pub milestones: VecDeque<Milestone>,
    /// The report, or why the drill stopped; `None` while it runs.
    pub outcome: Option<Result<DrillReport, String>>,
}

impl DrillPanel {
    /// A drill that has just been started.
    pub fn new(request: DrillRequest, started_at: u64) -> DrillPanel {
        DrillPanel {
            request,
            started_at,
            elapsed_ms: 0,
            nodes: Vec::new(),
            writes: VecDeque::new(),
            acknowledged: 0,
            failed: 0,
            fault_at_ms: None,
            first_failure_ms: None,
            resumed: None,
            last_error: None,
            milestones: VecDeque::new(),
            outcome: None,
        }
    }

    /// True until the report (or the error) arrived.
    pub fn running(&self) -> bool {
        self.outcome.is_none()
    }

    /// Folds one progress event in; returns the timeline line it added, if any.
    pub fn apply(&mut self, event: &DrillEvent) -> Option<Milestone> {
        self.elapsed_ms = self.elapsed_ms.max(event.at_ms);
        let severity = match &event.kind {
            EventKind::Write { ok, error, .. } => {
                return self.record_write(event.at_ms, *ok, error.as_deref());
            }
            EventKind::NodeStarted { node, priority, .. } => {
                self.node_mut(node, *priority).state = "started".into();
                Severity::Ok
            }
            EventKind::VrrpState {
                node,
                state,
                vip_held,
                effective_priority,
            } => {
                let n = self.node_mut(node, *effective_priority);
                n.state = state.clone();
                n.vip_held = *vip_held;
                n.effective_priority = *effective_priority;
                if *vip_held {
                    Severity::Warning
                } else {
                    Severity::Ok
                }
            }
            EventKind::NodeUnreachable { node } => {
                let n = self.node_mut(node, 0);
                n.state = "down".into();
                n.vip_held = false;
                Severity::Critical
            }
            EventKind::Killed { .. } | EventKind::Paused { .. } => {
                self.fault_at_ms = Some(event.at_ms);
                Severity::Critical
            }
            EventKind::WritesResumed { failed } => {
                self.resumed = Some((event.at_ms, *failed));
                Severity::Ok
            }
            EventKind::Verified {
                acknowledged,
                found,
            } => {
                if found == acknowledged {
                    Severity::Ok
                } else {
                    Severity::Critical
                }
            }
            EventKind::WriterStarted { .. }
            | EventKind::Restarted { .. }
            | EventKind::Resumed { .. } => Severity::Ok,
        };
        let text = failover::describe(&event.kind)?;
        Some(self.milestone(event.at_ms, text, severity))
    }

    /// Records the drill's end; returns the timeline line it added.
    pub fn finish(&mut self, outcome: Result<DrillReport, String>) -> Milestone {
        let (text, severity) = match &outcome {
            Ok(r) if r.proof.holds => (
                format!(
                    "drill finished: every acknowledged INSERT ({}) is on the primary",
                    r.proof.acknowledged
                ),
                Severity::Ok,
            ),
            Ok(r) => (
                format!(
                    "drill finished: {} acknowledged INSERTs are MISSING on the primary",
                    r.proof.missing.len()
                ),
                Severity::Critical,
            ),
            Err(e) => (
                format!("drill stopped: {}", e.lines().next().unwrap_or(e)),
                Severity::Critical,
            ),
        };
        self.outcome = Some(outcome);
        self.milestone(self.elapsed_ms, text, severity)
    }

    /// The node holding the VIP, if one does.
    pub fn holder(&self) -> Option<&str> {
        self.nodes
            .iter()
            .find(|n| n.vip_held)
            .map(|n| n.name.as_str())
    }

    /// Writes are failing right now: the outage is in progress.
    pub fn in_outage(&self) -> bool {
        self.writes.back() == Some(&false)
    }

    /// Milliseconds from the fault to writes resuming, once they have.
    pub fn outage_ms(&self) -> Option<u64> {
        let fault = self.fault_at_ms?;
        let (resumed, _) = self.resumed?;
        Some(resumed.saturating_sub(fault))
    }

    fn record_write(&mut self, at_ms: u64, ok: bool, error: Option<&str>) -> Option<Milestone> {
        if self.writes.len() == WRITES_KEPT {
            self.writes.pop_front();
        }
        self.writes.push_back(ok);
        if ok {
            self.acknowledged += 1;
            return None;
        }
        self.failed += 1;
        self.last_error = error.map(str::to_owned);
        let after_fault = self.fault_at_ms.is_some_and(|f| at_ms >= f);
        if after_fault && self.first_failure_ms.is_none() {
            self.first_failure_ms = Some(at_ms);
            let text = format!(
                "writes failing: {}",
                error
                    .unwrap_or("INSERT failed")
                    .lines()
                    .next()
                    .unwrap_or("")
            );
            return Some(self.milestone(at_ms, text, Severity::Critical));
        }
        None
    }

    fn node_mut(&mut self, name: &str, priority: u8) -> &mut DrillNode {
        if let Some(i) = self.nodes.iter().position(|n| n.name == name) {
            return &mut self.nodes[i];
        }
        self.nodes.push(DrillNode {
            name: name.to_owned(),
            priority,
            effective_priority: priority,
            state: "?".into(),
            vip_held: false,
        });
        self.nodes.last_mut().expect("just pushed")
    }

    fn milestone(&mut self, at_ms: u64, text: String, severity: Severity) -> Milestone {
        if self.milestones.len() == MILESTONES_KEPT {
            self.milestones.pop_front();
        }
        let m = Milestone {
            at_ms,
            text,
            severity,
        };
        self.milestones.push_back(m.clone());
        m
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn ev(at_ms: u64, kind: EventKind) -> DrillEvent {
        DrillEvent { at_ms, kind }
    }

    fn vrrp(node: &str, state: &str, held: bool, prio: u8) -> EventKind {
        EventKind::VrrpState {
            node: node.into(),
            state: state.into(),
            vip_held: held,
            effective_priority: prio,
        }
    }

    fn write(seq: u64, ok: bool) -> EventKind {
        EventKind::Write {
            seq,
            ok,
            latency_ms: 3,
            error: (!ok).then(|| "ERROR 2003 (HY000): Can't connect to MySQL server".into()),
        }
    }

    /// A scenario-profile kill as the drill reports it, up to the restart; `finished` adds
    /// the proof.
    pub(crate) fn kill_sequence(finished: bool) -> Vec<DrillEvent> {
        let mut v = vec![
            ev(
                10,
                EventKind::NodeStarted {
                    node: "drill1".into(),
                    pid: 4101,
                    admin: "127.0.0.1:40001".into(),
                    priority: 100,
                },
            ),
            ev(
                20,
                EventKind::NodeStarted {
                    node: "drill2".into(),
                    pid: 4102,
                    admin: "127.0.0.1:40002".into(),
                    priority: 90,
                },
            ),
            ev(900, vrrp("drill2", "BACKUP", false, 90)),
            ev(3100, vrrp("drill1", "MASTER", true, 100)),
            ev(
                3200,
                EventKind::WriterStarted {
                    prefix: "drill-ab12-".into(),
                },
            ),
        ];
        let mut seq = 0;
        let mut at = 3300;
        for _ in 0..20 {
            seq += 1;
            v.push(ev(at, write(seq, true)));
            at += 100;
        }
        v.push(ev(
            at,
            EventKind::Killed {
                node: "drill1".into(),
                pid: Some(4101),
                was_holder: true,
            },
        ));
        v.push(ev(
            at + 50,
            EventKind::NodeUnreachable {
                node: "drill1".into(),
            },
        ));
        for _ in 0..37 {
            seq += 1;
            at += 100;
            v.push(ev(at, write(seq, false)));
        }
        v.push(ev(at + 20, vrrp("drill2", "MASTER", true, 90)));
        at += 100;
        seq += 1;
        v.push(ev(at, write(seq, true)));
        v.push(ev(at, EventKind::WritesResumed { failed: 37 }));
        for _ in 0..10 {
            seq += 1;
            at += 100;
            v.push(ev(at, write(seq, true)));
        }
        v.push(ev(
            at + 10,
            EventKind::Restarted {
                node: "drill1".into(),
                pid: 4188,
            },
        ));
        if finished {
            v.push(ev(
                at + 3000,
                EventKind::Verified {
                    acknowledged: 31,
                    found: 31,
                },
            ));
        }
        v
    }

    /// The report a scenario-profile kill produces (figures of a real run).
    pub(crate) fn report() -> DrillReport {
        use crate::console::drill::{
            ConnectionMode, DrillSettings, Failback, NodeInfo, Outage, Proof, WriteSummary,
        };
        let node = |name: &str, priority: u8, port: u16| NodeInfo {
            name: name.into(),
            priority,
            admin: format!("127.0.0.1:{port}"),
            advert: None,
            traffic: None,
        };
        DrillReport {
            run_id: "ab12".into(),
            settings: DrillSettings {
                profile: Some(Profile::Scenario),
                timing: Profile::Scenario.timing(),
                preempt: true,
                fault: Fault::Kill,
                write_interval_ms: 100,
                connection: ConnectionMode::Fresh,
                vip: "127.0.0.20:46033".into(),
                stack: crate::console::drill::Stack::Embedded,
            },
            nodes: vec![node("drill1", 100, 40001), node("drill2", 90, 40002)],
            victim: "drill1".into(),
            victim_was_holder: true,
            new_holder: Some("drill2".into()),
            master_down_interval_ms: 3648,
            model_takeover_max_ms: 3648,
            detection_ms: Some(3602),
            takeover_ms: Some(3610),
            writes_resumed_ms: Some(3800),
            outage: Some(Outage {
                last_success_before: "10:24:51.180".into(),
                first_success_after: "10:24:55.080".into(),
                window_ms: 3900,
                failed_attempts: 37,
            }),
            failback: Some(Failback {
                recovered_after_fault_ms: 4900,
                vip_returned: true,
                takeover_ms: Some(1210),
                final_holder: Some("drill1".into()),
                max_write_gap_ms: 240,
                failed_attempts: 0,
            }),
            writes: WriteSummary {
                attempts: 68,
                acknowledged: 31,
                failed: 37,
                errors: [("ERROR 2003".to_string(), 37)].into_iter().collect(),
            },
            proof: Proof {
                acknowledged: 31,
                found: 31,
                missing: Vec::new(),
                unacknowledged_committed: 0,
                holds: true,
            },
            double_holder: None,
            longest_overlap_ms: None,
            wire: None,
        }
    }

    #[test]
    fn a_kill_shows_the_outage_and_the_new_holder() {
        let mut p = DrillPanel::new(DrillRequest::default(), 1000);
        let seq = kill_sequence(false);
        for e in &seq[..5] {
            p.apply(e);
        }
        assert_eq!(p.holder(), Some("drill1"));
        assert_eq!(p.nodes.len(), 2);
        for e in &seq[5..] {
            p.apply(e);
        }
        assert_eq!(p.holder(), Some("drill2"));
        assert_eq!(p.acknowledged, 31);
        assert_eq!(p.failed, 37);
        assert_eq!(p.fault_at_ms, Some(5300));
        assert_eq!(p.first_failure_ms, Some(5400));
        assert_eq!(p.resumed, Some((9100, 37)));
        assert_eq!(p.outage_ms(), Some(3800));
        assert!(!p.in_outage());
        assert!(p.running());
        let texts: Vec<&str> = p.milestones.iter().map(|m| m.text.as_str()).collect();
        assert!(
            texts.contains(&"kill -9 4101 (drill1, the VIP holder)"),
            "{texts:?}"
        );
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with("writes failing: ERROR 2003")),
            "{texts:?}"
        );
        assert!(texts.contains(&"INSERTs acknowledged again after 37 failed attempts"));
        // One milestone for the failing streak, none per write.
        assert_eq!(
            texts.iter().filter(|t| t.contains("failing")).count(),
            1,
            "{texts:?}"
        );
    }

    #[test]
    fn failures_before_the_fault_are_counted_but_do_not_open_the_outage() {
        let mut p = DrillPanel::new(DrillRequest::default(), 0);
        p.apply(&ev(10, write(1, false)));
        assert_eq!(p.failed, 1);
        assert_eq!(p.first_failure_ms, None);
        assert!(p.in_outage());
    }

    #[test]
    fn the_end_is_a_milestone_and_stops_the_run() {
        let mut p = DrillPanel::new(DrillRequest::default(), 0);
        p.apply(&ev(5, write(1, true)));
        p.finish(Err(
            "drill backend: cannot connect to 127.0.0.1:23306\nmore".into(),
        ));
        assert!(!p.running());
        let last = p.milestones.back().unwrap();
        assert_eq!(
            last.text,
            "drill stopped: drill backend: cannot connect to 127.0.0.1:23306"
        );
        assert_eq!(last.severity, Severity::Critical);
    }

    #[test]
    fn the_write_strip_is_bounded() {
        let mut p = DrillPanel::new(DrillRequest::default(), 0);
        for i in 0..(WRITES_KEPT as u64 + 10) {
            p.apply(&ev(i, write(i, true)));
        }
        assert_eq!(p.writes.len(), WRITES_KEPT);
        assert_eq!(p.acknowledged, WRITES_KEPT as u64 + 10);
    }

    #[test]
    fn requests_describe_themselves_and_use_the_lab() {
        let r = DrillRequest {
            profile: Profile::Tuned,
            fault: Fault::Pause,
        };
        assert_eq!(r.profile_name(), "tuned");
        assert_eq!(r.fault_name(), "PROXYSQL PAUSE");
        let opts = r.options();
        assert_eq!(opts.fault, Fault::Pause);
        assert_eq!(opts.profile, Some(Profile::Tuned));
        assert_eq!(opts.backend.host, "127.0.0.1");
        assert!(opts.attach.is_empty(), "the drill starts its own nodes");
        assert_eq!(
            opts.started_names().collect::<Vec<_>>(),
            ["drill1", "drill2"],
            "not to be confused with the watched node1, node2"
        );
    }
}
