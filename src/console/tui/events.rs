//! The events log: what the console saw change between two polls of a node, plus what the
//! operator did. Pure: built from snapshots, so it is tested without a node.

use std::collections::VecDeque;

use crate::client::snapshot::NodeSnapshot;
use crate::console::diagnosis::Severity;

use super::model::{short_checksum, short_error};

/// What kind of change an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A node answered (first time or again).
    Up,
    /// A node stopped answering.
    Down,
    /// A module's checksum changed.
    Checksum,
    /// A module was reloaded without a content change (version/epoch only).
    Version,
    /// A node took over a peer's checksum: a sync was observed.
    Sync,
    /// The VIP moved.
    Vip,
    /// The operator ran something, and its outcome.
    Action,
    /// A step of a failover drill.
    Drill,
    /// Anything else worth noting.
    Info,
}

impl EventKind {
    /// Severity, for colour.
    pub fn severity(self) -> Severity {
        match self {
            EventKind::Down => Severity::Critical,
            EventKind::Checksum | EventKind::Vip | EventKind::Drill => Severity::Warning,
            _ => Severity::Ok,
        }
    }

    /// A short tag for the log.
    pub fn tag(self) -> &'static str {
        match self {
            EventKind::Up => "up",
            EventKind::Down => "down",
            EventKind::Checksum => "checksum",
            EventKind::Version => "reload",
            EventKind::Sync => "sync",
            EventKind::Vip => "vip",
            EventKind::Action => "action",
            EventKind::Drill => "drill",
            EventKind::Info => "info",
        }
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unix seconds.
    pub at: u64,
    /// The node concerned, if one.
    pub node: Option<String>,
    /// What kind of change.
    pub kind: EventKind,
    /// One sentence.
    pub text: String,
}

/// A bounded log, oldest first.
#[derive(Debug, Clone)]
pub struct EventLog {
    entries: VecDeque<Event>,
    capacity: usize,
}

impl EventLog {
    /// An empty log keeping the last `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::with_capacity(capacity.min(1024)),
            capacity: capacity.max(1),
        }
    }

    /// Appends, dropping the oldest beyond capacity.
    pub fn push(&mut self, event: Event) {
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(event);
    }

    /// Every event, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.entries.iter()
    }

    /// Number of events kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The events between a node's previous snapshot and its new one; `others` are the other
/// nodes' latest snapshots, to recognise a sync (the node now holds a peer's checksum).
pub fn diff(
    prev: Option<&NodeSnapshot>,
    next: &NodeSnapshot,
    others: &[&NodeSnapshot],
) -> Vec<Event> {
    let name = &next.name;
    let ev = |kind, text: String| Event {
        at: next.fetched_at,
        node: Some(name.clone()),
        kind,
        text,
    };
    let prev_result = prev.map(|p| &p.result);
    match (prev_result, &next.result) {
        (None, Ok(d)) => vec![ev(
            EventKind::Up,
            format!("{name} reachable, ProxySQL {}", d.version),
        )],
        (None, Err(e)) => vec![ev(
            EventKind::Down,
            format!("{name} unreachable: {}", short_error(e)),
        )],
        (Some(Err(_)), Ok(d)) => vec![ev(
            EventKind::Up,
            format!("{name} is back, ProxySQL {}", d.version),
        )],
        (Some(Ok(_)), Err(e)) => vec![ev(
            EventKind::Down,
            format!("{name} down: {}", short_error(e)),
        )],
        (Some(Err(a)), Err(b)) if short_error(a) != short_error(b) => {
            vec![ev(
                EventKind::Down,
                format!("{name} still unreachable: {}", short_error(b)),
            )]
        }
        (Some(Err(_)), Err(_)) => Vec::new(),
        (Some(Ok(old)), Ok(new)) => {
            let mut out = Vec::new();
            if old.version != new.version {
                out.push(ev(
                    EventKind::Info,
                    format!("{name} @@version {} → {}", old.version, new.version),
                ));
            }
            for row in &new.checksums {
                let Some(was) = old.checksums.iter().find(|r| r.name == row.name) else {
                    continue;
                };
                if was == row {
                    continue;
                }
                let m = &row.name;
                let stamp = format!(
                    "v{}→v{}, epoch {}→{}",
                    was.version, row.version, was.epoch, row.epoch
                );
                if was.checksum == row.checksum {
                    out.push(ev(
                        EventKind::Version,
                        format!("{name} {m} reloaded ({stamp}), checksum unchanged"),
                    ));
                    continue;
                }
                let source = others.iter().find(|o| {
                    o.data().is_some_and(|d| {
                        d.checksums
                            .iter()
                            .any(|r| r.name == row.name && r.checksum == row.checksum)
                    })
                });
                let short = |c: &str| short_checksum(c, 8);
                match source {
                    Some(src) => out.push(ev(
                        EventKind::Sync,
                        format!(
                            "{name} synced {m} from {}: now {} ({stamp})",
                            src.name,
                            short(&row.checksum)
                        ),
                    )),
                    None => out.push(ev(
                        EventKind::Checksum,
                        format!(
                            "{name} {m} checksum {} → {} ({stamp})",
                            short(&was.checksum),
                            short(&row.checksum)
                        ),
                    )),
                }
            }
            out
        }
    }
}

/// The event for a VIP changing hands, if it did. Holders are node names (`None`: nobody).
pub fn vip_moved(at: u64, vip: &str, from: Option<&str>, to: Option<&str>) -> Option<Event> {
    if from == to {
        return None;
    }
    let text = match (from, to) {
        (Some(a), Some(b)) => format!("VIP {vip} moved {a} → {b}"),
        (None, Some(b)) => format!("VIP {vip} now held by {b}"),
        (Some(a), None) => format!("VIP {vip} no longer reported by {a}"),
        (None, None) => return None,
    };
    Some(Event {
        at,
        node: to.or(from).map(str::to_owned),
        kind: EventKind::Vip,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::tui::fixtures::{self, Scenario};

    #[test]
    fn first_poll_reports_reachability() {
        let s = fixtures::snapshots(Scenario::Stuck);
        let e = diff(None, &s[0], &[]);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, EventKind::Up);
        assert_eq!(e[0].text, "node1 reachable, ProxySQL 2.7.2-14-g5cc418b");
        let k = fixtures::snapshots(Scenario::Killed);
        assert_eq!(
            diff(None, &k[0], &[])[0].text,
            "node1 unreachable: connection refused"
        );
    }

    #[test]
    fn the_fix_shows_as_reloads_then_a_sync() {
        let stuck = fixtures::snapshots(Scenario::Stuck);
        let conv = fixtures::snapshots(Scenario::Converging);
        let e = diff(Some(&stuck[0]), &conv[0], &[&conv[1]]);
        let texts: Vec<&str> = e.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "node1 mysql_query_rules reloaded (v1→v2, epoch 1727968666→1728014690), checksum unchanged",
                "node1 mysql_servers reloaded (v1→v2, epoch 1727968666→1728014690), checksum unchanged",
                "node1 mysql_servers_v2 reloaded (v1→v2, epoch 1727968666→1728014690), checksum unchanged",
            ]
        );
        let sync = fixtures::snapshots(Scenario::InSync);
        let e = diff(Some(&conv[1]), &sync[1], &[&sync[0]]);
        assert_eq!(e.len(), 3);
        assert!(e.iter().all(|e| e.kind == EventKind::Sync));
        assert_eq!(
            e[0].text,
            "node2 synced mysql_query_rules from node1: now 9DEAF45E (v1→v2, epoch 1728013985→1728014690)"
        );
        // Without a peer holding the new checksum it is a plain change.
        let e = diff(Some(&conv[1]), &sync[1], &[]);
        assert!(e.iter().all(|e| e.kind == EventKind::Checksum));
        assert!(
            e[0].text.contains("checksum 00000000 → 9DEAF45E"),
            "{}",
            e[0].text
        );
        assert!(diff(Some(&sync[1]), &sync[1], &[]).is_empty());
    }

    #[test]
    fn down_and_up() {
        let sync = fixtures::snapshots(Scenario::InSync);
        let killed = fixtures::snapshots(Scenario::Killed);
        let e = diff(Some(&sync[0]), &killed[0], &[]);
        assert_eq!(
            (e[0].kind, e[0].text.as_str()),
            (EventKind::Down, "node1 down: connection refused")
        );
        assert!(diff(Some(&killed[0]), &killed[0], &[]).is_empty());
        let e = diff(Some(&killed[0]), &sync[0], &[]);
        assert_eq!(e[0].kind, EventKind::Up);
    }

    #[test]
    fn vip_changes() {
        assert_eq!(vip_moved(1, "10.0.0.9", Some("a"), Some("a")), None);
        assert_eq!(
            vip_moved(1, "10.0.0.9", Some("node1"), Some("node2"))
                .unwrap()
                .text,
            "VIP 10.0.0.9 moved node1 → node2"
        );
        assert_eq!(
            vip_moved(1, "v", Some("node1"), None).unwrap().text,
            "VIP v no longer reported by node1"
        );
    }

    #[test]
    fn log_is_bounded() {
        let mut log = EventLog::new(2);
        for i in 0..3 {
            log.push(Event {
                at: i,
                node: None,
                kind: EventKind::Info,
                text: i.to_string(),
            });
        }
        assert_eq!(log.len(), 2);
        assert_eq!(log.iter().next().unwrap().at, 1);
    }
}
