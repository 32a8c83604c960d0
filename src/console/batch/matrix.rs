//! One table of every node's module checksums, with the diverging cells marked: the merged view
//! of `\all SELECT * FROM runtime_checksums_values` in the shell and of `--batch checksums`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::client::snapshot::NodeSnapshot;
use crate::proxysql::resultset::ResultSet;

/// Marks a cell whose checksum is not the one most nodes hold.
pub const MARK: &str = "*";
/// The legend printed under a table with marked cells.
pub const LEGEND: &str = "* = differs from the checksum most nodes hold (all cells of a tie)";

/// One node's state of one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The node.
    pub node: String,
    /// Module version, when the source had the column.
    pub version: Option<u64>,
    /// Module epoch, when the source had the column.
    pub epoch: Option<u64>,
    /// Module checksum.
    pub checksum: String,
    /// True when this checksum is not the single most common one for the module.
    pub differs: bool,
}

/// One module across the nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleRow {
    /// Module name (`runtime_checksums_values.name`).
    pub name: String,
    /// Every node that reported the module holds the same checksum.
    pub in_sync: bool,
    /// One entry per node that reported the module, in node order.
    pub nodes: Vec<Cell>,
}

/// Modules × nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChecksumMatrix {
    /// Node names, in column order (including nodes that reported nothing).
    #[serde(skip)]
    pub node_names: Vec<String>,
    /// Modules in the order the first node reported them.
    pub modules: Vec<ModuleRow>,
}

/// A reported (module, version, epoch, checksum) of one node.
type Entry = (String, Option<u64>, Option<u64>, String);

impl ChecksumMatrix {
    /// Merges per-node answers to a query on `runtime_checksums_values`. Nodes whose answer is
    /// `None` (an error) become empty columns. Returns `None` unless every answer has at least
    /// the `name` and `checksum` columns, i.e. when there is nothing sensible to merge.
    pub fn from_resultsets(answers: &[(String, Option<&ResultSet>)]) -> Option<ChecksumMatrix> {
        let mut per_node = Vec::with_capacity(answers.len());
        let mut any = false;
        for (node, rs) in answers {
            let Some(rs) = rs else {
                per_node.push((node.clone(), Vec::new()));
                continue;
            };
            let name = rs.column_index("name")?;
            let checksum = rs.column_index("checksum")?;
            let version = rs.column_index("version");
            let epoch = rs.column_index("epoch");
            let number = |row: &[Option<String>], i: Option<usize>| {
                i.and_then(|i| row.get(i)?.as_deref()?.trim().parse::<u64>().ok())
            };
            let entries = rs
                .rows
                .iter()
                .filter_map(|row| {
                    Some((
                        row.get(name)?.clone()?,
                        number(row, version),
                        number(row, epoch),
                        row.get(checksum)?.clone().unwrap_or_default(),
                    ))
                })
                .collect();
            any = true;
            per_node.push((node.clone(), entries));
        }
        any.then(|| Self::build(per_node))
    }

    /// The matrix of one poll of every node; unreachable nodes are empty columns.
    pub fn from_snapshots(snapshots: &[NodeSnapshot]) -> ChecksumMatrix {
        Self::build(
            snapshots
                .iter()
                .map(|s| {
                    let entries = s
                        .data()
                        .map(|d| {
                            d.checksums
                                .iter()
                                .map(|r| {
                                    (
                                        r.name.clone(),
                                        Some(r.version),
                                        Some(r.epoch),
                                        r.checksum.clone(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    (s.name.clone(), entries)
                })
                .collect(),
        )
    }

    fn build(per_node: Vec<(String, Vec<Entry>)>) -> ChecksumMatrix {
        let mut order: Vec<String> = Vec::new();
        let mut cells: BTreeMap<String, Vec<Cell>> = BTreeMap::new();
        for (node, entries) in &per_node {
            for (module, version, epoch, checksum) in entries {
                if !cells.contains_key(module) {
                    order.push(module.clone());
                }
                cells.entry(module.clone()).or_default().push(Cell {
                    node: node.clone(),
                    version: *version,
                    epoch: *epoch,
                    checksum: checksum.clone(),
                    differs: false,
                });
            }
        }
        let modules = order
            .into_iter()
            .map(|name| {
                let mut nodes = cells.remove(&name).unwrap_or_default();
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for c in &nodes {
                    *counts.entry(c.checksum.as_str()).or_default() += 1;
                }
                let in_sync = counts.len() <= 1;
                let top = counts.values().copied().max().unwrap_or(0);
                let leaders: Vec<&str> = counts
                    .iter()
                    .filter(|(_, n)| **n == top)
                    .map(|(c, _)| *c)
                    .collect();
                // With a tie there is no majority to trust, so every cell is suspect.
                let majority = (leaders.len() == 1).then(|| leaders[0].to_owned());
                for c in &mut nodes {
                    c.differs = !in_sync && majority.as_deref() != Some(c.checksum.as_str());
                }
                ModuleRow {
                    name,
                    in_sync,
                    nodes,
                }
            })
            .collect();
        ChecksumMatrix {
            node_names: per_node.into_iter().map(|(n, _)| n).collect(),
            modules,
        }
    }

    /// True when some module differs between nodes.
    pub fn any_differs(&self) -> bool {
        self.modules.iter().any(|m| !m.in_sync)
    }

    /// Modules where every reporting node agrees.
    pub fn in_sync_count(&self) -> usize {
        self.modules.iter().filter(|m| m.in_sync).count()
    }

    /// The boxed table: a row per module, a column per node with `checksum vVERSION`
    /// (`-` where the node reported nothing), marked cells prefixed with [`MARK`].
    pub fn table(&self) -> String {
        let mut t = crate::console::shell::render::new_table();
        let mut header = vec!["name".to_owned()];
        header.extend(self.node_names.iter().cloned());
        header.push("in sync".to_owned());
        t.set_header(header);
        for m in &self.modules {
            let mut row = vec![m.name.clone()];
            for node in &self.node_names {
                row.push(match m.nodes.iter().find(|c| &c.node == node) {
                    Some(c) => {
                        let mark = if c.differs { MARK } else { "" };
                        match c.version {
                            Some(v) => format!("{mark}{} v{v}", c.checksum),
                            None => format!("{mark}{}", c.checksum),
                        }
                    }
                    None => "-".to_owned(),
                });
            }
            row.push(if m.in_sync { "yes" } else { "NO" }.to_owned());
            t.add_row(row);
        }
        format!("{t}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(rows: &[(&str, &str, &str)]) -> ResultSet {
        let mut r = ResultSet::with_columns(["name", "version", "epoch", "checksum"]);
        for (name, version, checksum) in rows {
            r.push_row([
                Some(*name),
                Some(*version),
                Some("1700000000"),
                Some(*checksum),
            ]);
        }
        r
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
        let m = ChecksumMatrix::from_resultsets(&[
            ("node1".into(), Some(&a)),
            ("node2".into(), Some(&b)),
            ("node3".into(), Some(&c)),
            ("node4".into(), None),
        ])
        .unwrap();
        assert_eq!(m.node_names, ["node1", "node2", "node3", "node4"]);
        let rules = &m.modules[0];
        assert_eq!(rules.name, "mysql_query_rules");
        assert!(!rules.in_sync);
        let marked: Vec<&str> = rules
            .nodes
            .iter()
            .filter(|c| c.differs)
            .map(|c| c.node.as_str())
            .collect();
        assert_eq!(marked, ["node2"]);
        assert_eq!(rules.nodes[1].version, Some(2));
        assert!(m.modules[1].in_sync);
        assert_eq!(m.in_sync_count(), 1);
        let table = m.table();
        assert!(table.contains("| *0xBBBB v2 |"), "{table}");
        assert!(table.contains("| 0xAAAA v1 |"), "{table}");
        assert!(table.contains("| -     |"), "{table}");
        assert!(table.contains("| NO      |"), "{table}");
    }

    #[test]
    fn a_tie_marks_every_cell() {
        let a = rs(&[("mysql_servers", "1", "0x1")]);
        let b = rs(&[("mysql_servers", "1", "0x2")]);
        let m = ChecksumMatrix::from_resultsets(&[
            ("node1".into(), Some(&a)),
            ("node2".into(), Some(&b)),
        ])
        .unwrap();
        assert!(m.modules[0].nodes.iter().all(|c| c.differs));
        assert!(m.any_differs());
    }

    #[test]
    fn answers_without_checksums_are_not_merged() {
        let plain = ResultSet::with_columns(["hostname", "port"]);
        assert!(ChecksumMatrix::from_resultsets(&[("n".into(), Some(&plain))]).is_none());
        assert!(ChecksumMatrix::from_resultsets(&[("n".into(), None)]).is_none());
        // Only the two key columns are needed.
        let mut narrow = ResultSet::with_columns(["NAME", "CHECKSUM"]);
        narrow.push_row([Some("admin_variables"), Some("0x5")]);
        let m = ChecksumMatrix::from_resultsets(&[("n".into(), Some(&narrow))]).unwrap();
        assert_eq!(m.modules[0].nodes[0].version, None);
        assert!(m.table().contains("| 0x5 "));
    }
}
