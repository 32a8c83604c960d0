//! What the views show, derived from the latest snapshots and findings: pure functions, so
//! the rendering code only lays things out and the rules are unit-tested here.

use crate::client::conn::ClientError;
use crate::client::snapshot::{NodeSnapshot, PeerChecksumRow};
use crate::console::diagnosis::{self, Finding, Severity};
use crate::console::matrix::{module_names, Matrix};
use crate::proxysql::cluster::state::{ChecksumRow, Module};

/// What the views show of the latest snapshots, settled when a poll result is applied so that
/// drawing a frame derives nothing.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    /// The diagnosis of the snapshots polled so far.
    pub findings: Vec<Finding>,
    /// Matrix rows: the known modules, then any other name a node reports.
    pub modules: Vec<String>,
    /// The checksum matrix, one column per node (pending ones included).
    pub matrix: Matrix,
}

impl Derived {
    /// From every node's latest snapshot (`None`: not polled yet), in node order.
    pub fn of(nodes: &[(String, Option<&NodeSnapshot>)]) -> Derived {
        Derived::with_layers(nodes, &[])
    }

    /// [`Derived::of`], with the findings of the layers read so far
    /// ([`diagnosis::diagnose_with_layers`]).
    pub fn with_layers(
        nodes: &[(String, Option<&NodeSnapshot>)],
        layers: &[crate::client::layers::NodeLayers],
    ) -> Derived {
        let present: Vec<NodeSnapshot> = nodes.iter().filter_map(|(_, s)| s.cloned()).collect();
        let findings = diagnosis::diagnose_with_layers(&present, layers);
        let modules = module_names(nodes.iter().filter_map(|(_, s)| *s));
        let matrix = Matrix::from_snapshots(nodes, &findings, modules.clone());
        Derived {
            findings,
            modules,
            matrix,
        }
    }
}

/// Whether the console reaches a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Not polled yet.
    Pending,
    /// Answered the last poll.
    Up,
    /// Refused the console's login.
    Refused,
    /// No answer: the error.
    Down(String),
}

impl Reach {
    /// From a node's latest snapshot.
    pub fn of(snapshot: Option<&NodeSnapshot>) -> Reach {
        match snapshot.map(|s| &s.result) {
            None => Reach::Pending,
            Some(Ok(_)) => Reach::Up,
            Some(Err(e)) if e.is_access_denied() => Reach::Refused,
            Some(Err(e)) => Reach::Down(short_error(e)),
        }
    }

    /// Glyph for headers.
    pub fn glyph(&self) -> char {
        match self {
            Reach::Pending => '?',
            Reach::Up => '●',
            Reach::Refused => '⊘',
            Reach::Down(_) => '✗',
        }
    }

    /// Severity for colour.
    pub fn severity(&self) -> Severity {
        match self {
            Reach::Pending | Reach::Up => Severity::Ok,
            Reach::Refused | Reach::Down(_) => Severity::Critical,
        }
    }
}

/// A client error in a few words for a narrow cell.
pub fn short_error(e: &ClientError) -> String {
    match e {
        ClientError::Io { cause } if cause.contains("refused") => "connection refused".into(),
        ClientError::Io { cause } => cause.clone(),
        ClientError::Timeout { .. } => "timeout".into(),
        ClientError::Server { .. } if e.is_access_denied() => "access denied".into(),
        other => other.to_string(),
    }
}

/// A node's own row for a module name.
pub fn own_row<'a>(snapshot: Option<&'a NodeSnapshot>, module: &str) -> Option<&'a ChecksumRow> {
    snapshot?
        .data()?
        .checksums
        .iter()
        .find(|r| r.name == module)
}

/// How one node sees another's module: one row of the observer's
/// `stats_proxysql_servers_checksums`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerView {
    /// The other node of the pair: the observer in [`peer_views`], the observed peer in
    /// [`outgoing_views`].
    pub other: String,
    /// The observer's row about the observed node, if it has one (`None`: it does not monitor
    /// it, or its stats could not be read).
    pub row: Option<PeerChecksumRow>,
    /// The observer's `*_diffs_before_sync` for the module.
    pub diffs_before_sync: u64,
    /// The observer's own checksum of the module, to compare with what it sees.
    pub own_checksum: Option<String>,
    /// Why there is nothing to show, when the observer is unreachable.
    pub unreachable: Option<String>,
}

/// True when a peer row is about the node `target` (matched on the address the console polls).
pub fn row_is_about(row: &PeerChecksumRow, target: &NodeSnapshot) -> bool {
    row.hostname == target.host && row.port == target.port
}

/// What `observer` records about `target`'s `module`.
fn view(
    other: &str,
    observer: Option<&NodeSnapshot>,
    target: &NodeSnapshot,
    module: &str,
) -> PeerView {
    let data = observer.and_then(NodeSnapshot::data);
    let row = data
        .and_then(|d| d.peer_checksums.as_ref())
        .and_then(|rows| {
            rows.iter()
                .find(|r| r.name == module && row_is_about(r, target))
                .cloned()
        });
    PeerView {
        other: other.to_owned(),
        row,
        diffs_before_sync: match (data, Module::from_name(module)) {
            (Some(d), Some(m)) => d.diffs_before_sync().get(m),
            _ => 3,
        },
        own_checksum: data
            .and_then(|d| d.checksums.iter().find(|r| r.name == module))
            .map(|r| r.checksum.clone()),
        unreachable: match observer {
            None => Some("not polled yet".into()),
            Some(s) => s.error().map(short_error),
        },
    }
}

/// How every other node sees `target`'s `module`.
pub fn peer_views(
    snapshots: &[(String, Option<&NodeSnapshot>)],
    target: &NodeSnapshot,
    module: &str,
) -> Vec<PeerView> {
    snapshots
        .iter()
        .filter(|(name, _)| *name != target.name)
        .map(|(name, snap)| view(name, *snap, target, module))
        .collect()
}

/// How `observer` sees every other node's `module` (peers never polled are left out: their
/// address is unknown).
pub fn outgoing_views(
    snapshots: &[(String, Option<&NodeSnapshot>)],
    observer: &NodeSnapshot,
    module: &str,
) -> Vec<PeerView> {
    snapshots
        .iter()
        .filter(|(name, _)| *name != observer.name)
        .filter_map(|(name, snap)| Some(view(name, Some(observer), (*snap)?, module)))
        .collect()
}

/// `diff_check` against `diffs_before_sync` in words.
pub fn diff_check_note(diff_check: u64, d: u64, version: u64) -> &'static str {
    if diff_check == 0 {
        "same"
    } else if d == 0 {
        "sync disabled"
    } else if version == 1 {
        "version 1: never a source"
    } else if diff_check >= d {
        "due"
    } else {
        "counting"
    }
}

/// An age in seconds as `45s`, `12m`, `5h`, `3d`.
pub fn age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// `now - then` as an age, or `-` when `then` is 0 (never) or in the future by clock skew.
pub fn age_since(now: u64, then: u64) -> String {
    if then == 0 {
        "never".into()
    } else if then > now {
        "0s".into()
    } else {
        age(now - then)
    }
}

/// The first `hex` hex digits of a `0x…` checksum.
pub fn short_checksum(checksum: &str, hex: usize) -> String {
    let digits = checksum.strip_prefix("0x").unwrap_or(checksum);
    digits.chars().take(hex).collect()
}

/// A unix time as `HH:MM:SS` at a fixed UTC offset.
pub fn clock(at: u64, tz: chrono::FixedOffset) -> String {
    i64::try_from(at)
        .ok()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.with_timezone(&tz).format("%H:%M:%S").to_string())
        .unwrap_or_else(|| "--:--:--".into())
}

/// A unix time as `YYYY-MM-DD HH:MM:SS` at a fixed UTC offset.
pub fn datetime(at: u64, tz: chrono::FixedOffset) -> String {
    i64::try_from(at)
        .ok()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::matrix::{cell_state, module_severity, CellState};
    use crate::console::tui::fixtures::{self, Scenario};

    #[test]
    fn formats() {
        assert_eq!(age(0), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(45_534), "12h");
        assert_eq!(age(3 * 86_400 + 5), "3d");
        assert_eq!(age_since(100, 0), "never");
        assert_eq!(age_since(100, 200), "0s");
        assert_eq!(short_checksum("0x9DEAF45E6E662B5F", 8), "9DEAF45E");
        let utc = chrono::FixedOffset::east_opt(0).unwrap();
        assert_eq!(clock(1_728_014_200, utc), "03:56:40");
        assert_eq!(datetime(1_727_968_666, utc), "2024-10-03 15:17:46");
        assert_eq!(diff_check_note(0, 3, 2), "same");
        assert_eq!(diff_check_note(150, 3, 1), "version 1: never a source");
        assert_eq!(diff_check_note(1, 3, 2), "counting");
        assert_eq!(diff_check_note(3, 3, 2), "due");
        assert_eq!(diff_check_note(3, 0, 2), "sync disabled");
    }

    #[test]
    fn stuck_state_marks_node1_to_act_on_and_node2_waiting() {
        let snaps = fixtures::snapshots(Scenario::Stuck);
        let findings = crate::console::diagnosis::diagnose(&snaps);
        let state =
            |m: Module, i: usize| cell_state(&findings, Some(m), &snaps[i].name, Some(&snaps[i]));
        for m in [
            Module::MysqlQueryRules,
            Module::MysqlServers,
            Module::MysqlServersV2,
        ] {
            assert_eq!(state(m, 0), CellState::ActHere, "{m}");
            assert_eq!(state(m, 1), CellState::Waiting, "{m}");
            assert_eq!(module_severity(&findings, m), Severity::Critical);
        }
        assert_eq!(state(Module::MysqlUsers, 0), CellState::InSync);
        assert_eq!(
            cell_state(&findings, Some(Module::MysqlUsers), "node1", None),
            CellState::Unknown
        );
        assert_eq!(
            cell_state(&findings, None, "node1", Some(&snaps[0])),
            CellState::Neutral
        );
    }

    #[test]
    fn converging_and_killed_states() {
        let snaps = fixtures::snapshots(Scenario::Converging);
        let findings = crate::console::diagnosis::diagnose(&snaps);
        let s = cell_state(
            &findings,
            Some(Module::MysqlQueryRules),
            "node2",
            Some(&snaps[1]),
        );
        assert_eq!(s, CellState::Converging);
        let s = cell_state(
            &findings,
            Some(Module::MysqlQueryRules),
            "node1",
            Some(&snaps[0]),
        );
        assert_eq!(s, CellState::Source);

        let snaps = fixtures::snapshots(Scenario::Killed);
        let findings = crate::console::diagnosis::diagnose(&snaps);
        let s = cell_state(
            &findings,
            Some(Module::MysqlUsers),
            "node1",
            Some(&snaps[0]),
        );
        assert_eq!(s, CellState::Unreachable);
        assert_eq!(
            Reach::of(Some(&snaps[0])),
            Reach::Down("connection refused".into())
        );
        assert_eq!(Reach::of(Some(&snaps[1])), Reach::Up);
        assert_eq!(Reach::of(None), Reach::Pending);
    }

    #[test]
    fn peer_views_show_how_others_see_a_node() {
        let snaps = fixtures::snapshots(Scenario::Stuck);
        let named: Vec<(String, Option<&NodeSnapshot>)> =
            snaps.iter().map(|s| (s.name.clone(), Some(s))).collect();
        let views = peer_views(&named, &snaps[0], "mysql_query_rules");
        assert_eq!(views.len(), 1);
        let v = &views[0];
        assert_eq!(v.other, "node2");
        let row = v.row.as_ref().unwrap();
        assert_eq!((row.state.version, row.state.diff_check), (1, 150));
        assert_eq!(v.diffs_before_sync, 3);
        assert_eq!(v.own_checksum.as_deref(), Some("0x0000000000000000"));
        assert_eq!(v.unreachable, None);
        // And the other way round: what node2 records about node1.
        let out = outgoing_views(&named, &snaps[1], "mysql_query_rules");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].other, "node1");
        assert_eq!(
            out[0].row.as_ref().unwrap().state.checksum,
            "0x9DEAF45E6E662B5F"
        );
        // A killed observer cannot tell.
        let killed = fixtures::snapshots(Scenario::Killed);
        let named: Vec<(String, Option<&NodeSnapshot>)> =
            killed.iter().map(|s| (s.name.clone(), Some(s))).collect();
        let v = peer_views(&named, &killed[1], "mysql_users");
        assert_eq!(v[0].unreachable.as_deref(), Some("connection refused"));
    }

    #[test]
    fn module_rows_include_unknown_names() {
        let mut snaps: Vec<Option<NodeSnapshot>> = fixtures::snapshots(Scenario::InSync)
            .into_iter()
            .map(Some)
            .collect();
        if let Some(Ok(d)) = snaps[0].as_mut().map(|s| &mut s.result) {
            d.checksums.push(ChecksumRow {
                name: "ldap_variables".into(),
                version: 2,
                epoch: 1,
                checksum: "0x1".into(),
            });
        }
        let names = module_names(snaps.iter().flatten());
        assert_eq!(names.len(), 8);
        assert_eq!(names[7], "ldap_variables");
    }
}
