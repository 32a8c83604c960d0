//! The checksum matrix (modules × nodes) every front end shows: built once from the node
//! snapshots and the diagnosis, then rendered by the TUI (`tui::ui::matrix`), the shell
//! (`\\all … runtime_checksums_values`, [`crate::console::shell::render::checksum_table`]) and
//! `--batch checksums`, so the three cannot disagree about a cell.
//!
//! Two rules colour a cell, each answering its own question:
//! - its [`CellState`] (what to do about it) follows the diagnosis findings that name the
//!   node ([`cell_state`]); that is the TUI's rule and the reference;
//! - its `differs` mark (is this checksum the odd one out?) is the majority vote over the
//!   nodes that reported the module ([`majority`]); `--batch checksums` publishes it in its
//!   JSON and a shell merge has no diagnosis to go by.

use std::collections::BTreeMap;

use crate::client::snapshot::NodeSnapshot;
use crate::console::diagnosis::{Class, Finding, Severity};
use crate::proxysql::cluster::state::{ChecksumRow, Module};
use crate::proxysql::resultset::ResultSet;

/// The state of one module on one node, as the matrix colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellState {
    /// Every node holds the same checksum.
    InSync,
    /// Not involved in what the diagnosis reports for this module.
    Neutral,
    /// Will pull the module from a peer shortly.
    Converging,
    /// The peer others will pull from.
    Source,
    /// Waits for a version-1 peer that is never used as a source.
    Waiting,
    /// The node to act on: `LOAD … TO RUNTIME` here unblocks the others.
    ActHere,
    /// Same epoch as a differing peer.
    Conflict,
    /// Should have pulled long ago; the pull keeps failing.
    Failing,
    /// Sync switched off for this module on this node.
    Disabled,
    /// Differs and nobody is about to act.
    Diverged,
    /// Runtime server list differs but is not synced under algorithm 2 (fine).
    RuntimeOnly,
    /// The console cannot poll the node.
    Unreachable,
    /// Not polled yet, or the node does not report this module.
    Unknown,
}

impl CellState {
    /// How bad it is, for colour.
    pub fn severity(self) -> Severity {
        match self {
            CellState::InSync
            | CellState::Neutral
            | CellState::Source
            | CellState::RuntimeOnly
            | CellState::Unknown => Severity::Ok,
            CellState::Converging
            | CellState::Waiting
            | CellState::Disabled
            | CellState::Diverged => Severity::Warning,
            CellState::ActHere
            | CellState::Conflict
            | CellState::Failing
            | CellState::Unreachable => Severity::Critical,
        }
    }

    /// A one-column glyph, so no state depends on colour alone.
    pub fn glyph(self) -> char {
        match self {
            CellState::InSync => '✓',
            CellState::Neutral => ' ',
            CellState::Converging => '↓',
            CellState::Source => '↑',
            CellState::Waiting => '…',
            CellState::ActHere => '▶',
            // Two nodes each claiming to be newest: arrows both ways.
            CellState::Conflict => '⇄',
            // A pull that is tried and fails, not a node that is down (`✗`).
            CellState::Failing => '↯',
            CellState::Disabled => '○',
            CellState::Diverged => '≠',
            CellState::RuntimeOnly => '·',
            CellState::Unreachable => '✗',
            CellState::Unknown => '?',
        }
    }

    /// A word for legends and the inspection pane.
    pub fn label(self) -> &'static str {
        match self {
            CellState::InSync => "in sync",
            CellState::Neutral => "not involved",
            CellState::Converging => "will pull",
            CellState::Source => "sync source",
            CellState::Waiting => "waiting on a version-1 peer",
            CellState::ActHere => "act here",
            CellState::Conflict => "equal-epoch conflict",
            CellState::Failing => "pull failing",
            CellState::Disabled => "sync disabled",
            CellState::Diverged => "diverged",
            CellState::RuntimeOnly => "runtime only (not synced)",
            CellState::Unreachable => "unreachable",
            CellState::Unknown => "unknown",
        }
    }

    /// A shorter word for the matrix legend.
    pub fn short_label(self) -> &'static str {
        match self {
            CellState::Waiting => "waits (v1)",
            CellState::Source => "source",
            CellState::Conflict => "conflict",
            CellState::Failing => "pull failing",
            CellState::Disabled => "sync off",
            CellState::Unreachable => "down",
            other => other.label(),
        }
    }

    /// States shown in the matrix legend, in order.
    pub const LEGEND: [CellState; 8] = [
        CellState::InSync,
        CellState::Converging,
        CellState::Source,
        CellState::Waiting,
        CellState::ActHere,
        CellState::Conflict,
        CellState::Failing,
        CellState::Disabled,
    ];
}

/// The findings about one module, most severe first (the engine already sorts them).
pub fn module_findings(findings: &[Finding], module: Module) -> impl Iterator<Item = &Finding> {
    findings.iter().filter(move |f| f.module == Some(module))
}

/// The worst severity reported for a module (Ok when nothing is).
pub fn module_severity(findings: &[Finding], module: Module) -> Severity {
    module_findings(findings, module)
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Ok)
}

/// The state of `module` on the node `node`, from the findings that name it.
pub fn cell_state(
    findings: &[Finding],
    module: Option<Module>,
    node: &str,
    snapshot: Option<&NodeSnapshot>,
) -> CellState {
    let Some(snap) = snapshot else {
        return CellState::Unknown;
    };
    if snap.error().is_some() {
        return CellState::Unreachable;
    }
    let Some(module) = module else {
        return CellState::Neutral;
    };
    let mut all_in_sync = true;
    for f in module_findings(findings, module) {
        let named = |nodes: &[String]| nodes.iter().any(|n| n == node);
        let state = match &f.class {
            Class::InSync => Some(CellState::InSync),
            Class::Converging { puller, .. } if puller == node => Some(CellState::Converging),
            Class::SyncFailing { puller, .. } if puller == node => Some(CellState::Failing),
            Class::Converging { source, .. } | Class::SyncFailing { source, .. }
                if source == node =>
            {
                Some(CellState::Source)
            }
            Class::StuckVersionOne { node_to_act_on, .. } if node_to_act_on == node => {
                Some(CellState::ActHere)
            }
            Class::StuckVersionOne { nodes_waiting, .. } if named(nodes_waiting) => {
                Some(CellState::Waiting)
            }
            Class::EqualEpochConflict { nodes } if named(nodes) => Some(CellState::Conflict),
            Class::SyncDisabled { nodes } if named(nodes) => Some(CellState::Disabled),
            Class::RuntimeNotSynced { nodes } if named(nodes) => Some(CellState::RuntimeOnly),
            Class::Diverged { checksums } if checksums.contains_key(node) => {
                Some(CellState::Diverged)
            }
            _ => None,
        };
        if f.class != Class::InSync {
            all_in_sync = false;
        }
        if let Some(s) = state {
            return s;
        }
    }
    if all_in_sync {
        CellState::InSync
    } else {
        CellState::Neutral
    }
}

/// Module names to show as matrix rows: the seven known ones in `runtime_checksums_values`
/// order, then any other name a node reports (e.g. `ldap_variables`).
pub fn module_names<'a>(snapshots: impl IntoIterator<Item = &'a NodeSnapshot>) -> Vec<String> {
    let mut names: Vec<String> = Module::ALL.iter().map(|m| m.name().to_owned()).collect();
    for s in snapshots {
        for r in s.data().map(|d| d.checksums.as_slice()).unwrap_or_default() {
            if !names.contains(&r.name) {
                names.push(r.name.clone());
            }
        }
    }
    names
}

/// Module names in the order nodes first report them (`runtime_checksums_values` order of the
/// first node that answered), for the shell's and batch's tables.
pub fn reported_module_names<'a>(
    snapshots: impl IntoIterator<Item = &'a NodeSnapshot>,
) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for s in snapshots {
        for r in s.data().map(|d| d.checksums.as_slice()).unwrap_or_default() {
            if !names.contains(&r.name) {
                names.push(r.name.clone());
            }
        }
    }
    names
}

/// What one node reports for one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// Module version, when the source had the column.
    pub version: Option<u64>,
    /// Module epoch, when the source had the column.
    pub epoch: Option<u64>,
    /// Module checksum.
    pub checksum: String,
}

impl From<&ChecksumRow> for Reported {
    fn from(r: &ChecksumRow) -> Self {
        Reported {
            version: Some(r.version),
            epoch: Some(r.epoch),
            checksum: r.checksum.clone(),
        }
    }
}

/// One module on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixCell {
    /// The node (the column).
    pub node: String,
    /// What the node reports, `None` when it reports nothing for the module.
    pub reported: Option<Reported>,
    /// What the diagnosis makes of it (the TUI's colours and glyphs).
    pub state: CellState,
    /// True when this checksum is not the single most common one for the module.
    pub differs: bool,
}

/// One module across the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixRow {
    /// Module name (`runtime_checksums_values.name`).
    pub name: String,
    /// The module, when pxadm knows it.
    pub module: Option<Module>,
    /// The worst severity the diagnosis reports for the module.
    pub severity: Severity,
    /// Every node that reported the module holds the same checksum.
    pub in_sync: bool,
    /// One cell per node, in column order.
    pub cells: Vec<MatrixCell>,
}

impl MatrixRow {
    /// The cells of the nodes that reported the module.
    pub fn reported(&self) -> impl Iterator<Item = (&MatrixCell, &Reported)> {
        self.cells
            .iter()
            .filter_map(|c| Some((c, c.reported.as_ref()?)))
    }
}

/// Modules × nodes, with every cell's state settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matrix {
    /// Node names, in column order (including nodes that reported nothing).
    pub nodes: Vec<String>,
    /// One row per module, in the order asked for.
    pub rows: Vec<MatrixRow>,
}

/// The majority rule: which cells hold a checksum other than the single most common one, and
/// whether all agree. With a tie there is no majority to trust, so every cell is suspect.
/// Returns `(in_sync, differs per checksum in input order)`.
pub fn majority(checksums: &[&str]) -> (bool, Vec<bool>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in checksums {
        *counts.entry(c).or_default() += 1;
    }
    let in_sync = counts.len() <= 1;
    let top = counts.values().copied().max().unwrap_or(0);
    let leaders: Vec<&str> = counts
        .iter()
        .filter(|(_, n)| **n == top)
        .map(|(c, _)| *c)
        .collect();
    let winner = (leaders.len() == 1).then(|| leaders[0]);
    let differs = checksums
        .iter()
        .map(|c| !in_sync && winner != Some(*c))
        .collect();
    (in_sync, differs)
}

/// One column's answers: the node and what it reported per module name.
type Column = (String, Option<Vec<(String, Reported)>>);

impl Matrix {
    /// The matrix of one poll: rows `names` (see [`module_names`], [`reported_module_names`]),
    /// a column per node (`None`: not polled yet), cell states from `findings`.
    pub fn from_snapshots(
        nodes: &[(String, Option<&NodeSnapshot>)],
        findings: &[Finding],
        names: Vec<String>,
    ) -> Matrix {
        let columns: Vec<Column> = nodes
            .iter()
            .map(|(node, snap)| {
                let rows = snap.and_then(NodeSnapshot::data).map(|d| {
                    d.checksums
                        .iter()
                        .map(|r| (r.name.clone(), Reported::from(r)))
                        .collect()
                });
                (node.clone(), rows)
            })
            .collect();
        Self::build(&columns, names, |module, col| {
            let (node, snap) = &nodes[col];
            cell_state(findings, module, node, *snap)
        })
        .with_severity(findings)
    }

    /// Merges per-node answers to a query on `runtime_checksums_values` (the shell's `\all`).
    /// Nodes whose answer is `None` (an error) become empty columns. Returns `None` unless
    /// every answer has at least the `name` and `checksum` columns, i.e. when there is nothing
    /// sensible to merge. Without a diagnosis, cell states follow the majority rule.
    pub fn from_resultsets(answers: &[(String, Option<&ResultSet>)]) -> Option<Matrix> {
        let mut columns: Vec<Column> = Vec::with_capacity(answers.len());
        let mut any = false;
        for (node, rs) in answers {
            let Some(rs) = rs else {
                columns.push((node.clone(), None));
                continue;
            };
            columns.push((node.clone(), Some(reported_rows(rs)?)));
            any = true;
        }
        let mut names: Vec<String> = Vec::new();
        for (_, rows) in &columns {
            for (name, _) in rows.iter().flatten() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        any.then(|| Self::build(&columns, names, |_, _| CellState::Unknown).majority_states())
    }

    fn build(
        columns: &[Column],
        names: Vec<String>,
        state: impl Fn(Option<Module>, usize) -> CellState,
    ) -> Matrix {
        let rows = names
            .into_iter()
            .map(|name| {
                let module = Module::from_name(&name);
                let mut cells: Vec<MatrixCell> = columns
                    .iter()
                    .enumerate()
                    .map(|(col, (node, rows))| MatrixCell {
                        node: node.clone(),
                        reported: rows
                            .iter()
                            .flatten()
                            .find(|(n, _)| *n == name)
                            .map(|(_, r)| r.clone()),
                        state: state(module, col),
                        differs: false,
                    })
                    .collect();
                let checksums: Vec<&str> = cells
                    .iter()
                    .filter_map(|c| Some(c.reported.as_ref()?.checksum.as_str()))
                    .collect();
                let (in_sync, differs) = majority(&checksums);
                let mut differs = differs.into_iter();
                for c in cells.iter_mut().filter(|c| c.reported.is_some()) {
                    c.differs = differs.next().unwrap_or(false);
                }
                MatrixRow {
                    name,
                    module,
                    severity: Severity::Ok,
                    in_sync,
                    cells,
                }
            })
            .collect();
        Matrix {
            nodes: columns.iter().map(|(n, _)| n.clone()).collect(),
            rows,
        }
    }

    fn with_severity(mut self, findings: &[Finding]) -> Matrix {
        for row in &mut self.rows {
            row.severity = match row.module {
                Some(m) => module_severity(findings, m),
                // A module pxadm has no sync rule for (ProxySQL 3.x's pgsql_*, ldap_variables):
                // no finding can explain it, but nodes that disagree on it are worth a look
                // rather than the in-sync tick.
                None if !row.in_sync => Severity::Warning,
                None => Severity::Ok,
            };
        }
        self
    }

    /// Cell states when there is no diagnosis: in sync, diverged (the odd ones out), not
    /// involved (the majority of a split module), unknown (nothing reported).
    fn majority_states(mut self) -> Matrix {
        for row in &mut self.rows {
            let in_sync = row.in_sync;
            for c in &mut row.cells {
                c.state = match (&c.reported, in_sync, c.differs) {
                    (None, _, _) => CellState::Unknown,
                    (Some(_), true, _) => CellState::InSync,
                    (Some(_), false, true) => CellState::Diverged,
                    (Some(_), false, false) => CellState::Neutral,
                };
            }
        }
        self
    }

    /// The row of a module name.
    pub fn row(&self, name: &str) -> Option<&MatrixRow> {
        self.rows.iter().find(|r| r.name == name)
    }

    /// The cell of a module name on a node.
    pub fn cell(&self, name: &str, node: &str) -> Option<&MatrixCell> {
        self.row(name)?.cells.iter().find(|c| c.node == node)
    }

    /// True when some module differs between nodes.
    pub fn any_differs(&self) -> bool {
        self.rows.iter().any(|m| !m.in_sync)
    }

    /// Modules where every reporting node agrees.
    pub fn in_sync_count(&self) -> usize {
        self.rows.iter().filter(|m| m.in_sync).count()
    }

    /// Names of the modules that differ between nodes, for summaries.
    pub fn differing_modules(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|r| !r.in_sync)
            .map(|r| r.name.clone())
            .collect()
    }
}

/// The (module, reported) rows of one answer, `None` without `name` and `checksum` columns.
fn reported_rows(rs: &ResultSet) -> Option<Vec<(String, Reported)>> {
    let name = rs.column_index("name")?;
    let checksum = rs.column_index("checksum")?;
    let version = rs.column_index("version");
    let epoch = rs.column_index("epoch");
    let number = |row: &[Option<String>], i: Option<usize>| {
        i.and_then(|i| row.get(i)?.as_deref()?.trim().parse::<u64>().ok())
    };
    Some(
        rs.rows
            .iter()
            .filter_map(|row| {
                Some((
                    row.get(name)?.clone()?,
                    Reported {
                        version: number(row, version),
                        epoch: number(row, epoch),
                        checksum: row.get(checksum)?.clone().unwrap_or_default(),
                    },
                ))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::batch::commands;

    #[test]
    fn every_cell_state_has_its_own_glyph() {
        let all = [
            CellState::InSync,
            CellState::Neutral,
            CellState::Converging,
            CellState::Source,
            CellState::Waiting,
            CellState::ActHere,
            CellState::Conflict,
            CellState::Failing,
            CellState::Disabled,
            CellState::Diverged,
            CellState::RuntimeOnly,
            CellState::Unreachable,
            CellState::Unknown,
        ];
        let mut glyphs: Vec<char> = all.iter().map(|s| s.glyph()).collect();
        glyphs.sort_unstable();
        glyphs.dedup();
        assert_eq!(glyphs.len(), all.len(), "{glyphs:?}");
    }
    use crate::console::batch::report::Body;
    use crate::console::shell::render::checksum_table;
    use crate::console::tui::fixtures::{self, Scenario};

    /// One node's `SELECT name, version, epoch, checksum FROM runtime_checksums_values`.
    fn rs(rows: &[(&str, &str, &str)]) -> ResultSet {
        let rows: Vec<[Option<&str>; 4]> = rows
            .iter()
            .map(|(name, version, checksum)| {
                [
                    Some(*name),
                    Some(*version),
                    Some("1700000000"),
                    Some(*checksum),
                ]
            })
            .collect();
        let rows: Vec<&[Option<&str>]> = rows.iter().map(|r| r.as_slice()).collect();
        ResultSet::literal(&["name", "version", "epoch", "checksum"], &rows)
    }

    #[test]
    fn majority_wins_and_minorities_are_marked() {
        let a = rs(&[
            ("mysql_query_rules", "1", "0xAAAA"),
            ("mysql_users", "1", "0x01"),
        ]);
        let b = rs(&[
            ("mysql_query_rules", "2", "0xBBBB"),
            ("mysql_users", "1", "0x01"),
        ]);
        let c = rs(&[
            ("mysql_query_rules", "1", "0xAAAA"),
            ("mysql_users", "1", "0x01"),
        ]);
        let m = Matrix::from_resultsets(&[
            ("node1".into(), Some(&a)),
            ("node2".into(), Some(&b)),
            ("node3".into(), Some(&c)),
            ("node4".into(), None),
        ])
        .unwrap();
        assert_eq!(m.nodes, ["node1", "node2", "node3", "node4"]);
        let rules = &m.rows[0];
        assert_eq!(rules.name, "mysql_query_rules");
        assert!(!rules.in_sync);
        let marked: Vec<&str> = rules
            .cells
            .iter()
            .filter(|c| c.differs)
            .map(|c| c.node.as_str())
            .collect();
        assert_eq!(marked, ["node2"]);
        assert_eq!(rules.cells[1].reported.as_ref().unwrap().version, Some(2));
        assert_eq!(rules.cells[1].state, CellState::Diverged);
        assert_eq!(rules.cells[3].state, CellState::Unknown);
        assert!(m.rows[1].in_sync);
        assert_eq!(m.in_sync_count(), 1);
        let table = checksum_table(&m);
        assert!(table.contains("| *0xBBBB v2 |"), "{table}");
        assert!(table.contains("| 0xAAAA v1 |"), "{table}");
        assert!(table.contains("| -     |"), "{table}");
        assert!(table.contains("| NO      |"), "{table}");
    }

    #[test]
    fn a_tie_marks_every_cell() {
        let a = rs(&[("mysql_servers", "1", "0x1")]);
        let b = rs(&[("mysql_servers", "1", "0x2")]);
        let m = Matrix::from_resultsets(&[("node1".into(), Some(&a)), ("node2".into(), Some(&b))])
            .unwrap();
        assert!(m.rows[0].cells.iter().all(|c| c.differs));
        assert!(m.any_differs());
    }

    #[test]
    fn answers_without_checksums_are_not_merged() {
        let plain = ResultSet::literal(&["hostname", "port"], &[]);
        assert!(Matrix::from_resultsets(&[("n".into(), Some(&plain))]).is_none());
        assert!(Matrix::from_resultsets(&[("n".into(), None)]).is_none());
        // Only the two key columns are needed.
        let narrow = ResultSet::literal(
            &["NAME", "CHECKSUM"],
            &[&[Some("admin_variables"), Some("0x5")]],
        );
        let m = Matrix::from_resultsets(&[("n".into(), Some(&narrow))]).unwrap();
        assert_eq!(m.rows[0].cells[0].reported.as_ref().unwrap().version, None);
        assert!(checksum_table(&m).contains("| 0x5 "));
    }

    /// What the shell's `\all SELECT * FROM runtime_checksums_values` reads from each node.
    fn runtime_checksums_values(s: &NodeSnapshot) -> Option<ResultSet> {
        let rows: Vec<[String; 4]> = s
            .data()?
            .checksums
            .iter()
            .map(|r| {
                [
                    r.name.clone(),
                    r.version.to_string(),
                    r.epoch.to_string(),
                    r.checksum.clone(),
                ]
            })
            .collect();
        let rows: Vec<Vec<Option<&str>>> = rows
            .iter()
            .map(|r| r.iter().map(|f| Some(f.as_str())).collect())
            .collect();
        let rows: Vec<&[Option<&str>]> = rows.iter().map(Vec::as_slice).collect();
        Some(ResultSet::literal(
            &["name", "version", "epoch", "checksum"],
            &rows,
        ))
    }

    /// The reference scenario at step 4 (node2 stuck behind node1's version-1 modules) and
    /// step 5 (after the fix: converging, then in sync): the TUI, `--batch checksums` and the
    /// shell's merged `\all` show the same matrix.
    #[test]
    fn tui_batch_and_shell_show_the_same_cells() {
        for scenario in [Scenario::Stuck, Scenario::Converging, Scenario::InSync] {
            let snaps = fixtures::snapshots(scenario);
            let tui = fixtures::app(scenario).matrix().clone();
            let report = commands::checksums(&snaps);
            let Body::Checksums(body) = &report.body else {
                panic!("checksums answers a checksums body");
            };
            let batch = body.matrix();
            let answers: Vec<(String, Option<ResultSet>)> = snaps
                .iter()
                .map(|s| (s.name.clone(), runtime_checksums_values(s)))
                .collect();
            let named: Vec<(String, Option<&ResultSet>)> = answers
                .iter()
                .map(|(n, rs)| (n.clone(), rs.as_ref()))
                .collect();
            let shell = Matrix::from_resultsets(&named).unwrap();
            assert_eq!(tui.nodes, batch.nodes, "{scenario:?}");
            assert_eq!(shell.nodes, batch.nodes, "{scenario:?}");
            for row in &batch.rows {
                let t = tui.row(&row.name).unwrap();
                let s = shell.row(&row.name).unwrap();
                // The TUI and batch share the diagnosis: every cell is the same.
                assert_eq!(t, row, "{scenario:?}");
                // The shell has no diagnosis, but the same checksums and marks.
                assert_eq!(s.in_sync, row.in_sync, "{scenario:?} {}", row.name);
                for (sc, bc) in s.cells.iter().zip(&row.cells) {
                    assert_eq!((&sc.reported, sc.differs), (&bc.reported, bc.differs));
                }
            }
            assert_eq!(
                checksum_table(&shell),
                checksum_table(batch),
                "{scenario:?}"
            );
        }
    }

    #[test]
    fn step4_acts_on_node1_and_step5_ends_in_sync() {
        let stuck = fixtures::app(Scenario::Stuck).matrix().clone();
        let rules = stuck.row("mysql_query_rules").unwrap();
        let states: Vec<CellState> = rules.cells.iter().map(|c| c.state).collect();
        assert_eq!(states, [CellState::ActHere, CellState::Waiting]);
        assert_eq!(rules.severity, Severity::Critical);
        assert!(!rules.in_sync);
        let synced = fixtures::app(Scenario::InSync).matrix().clone();
        assert!(!synced.any_differs());
        for row in &synced.rows {
            assert!(
                row.cells.iter().all(|c| c.state == CellState::InSync),
                "{}",
                row.name
            );
        }
    }
}
