//! The node view's layer section (issue #15): per module of the selected node, whether its
//! MEMORY, RUNTIME and DISK copies agree, so "edited but not loaded" (`M≠R`) and "loaded but
//! not saved" (`R≠D`) are seen before a restart turns them into an outage.
//!
//! Pure: the rows are settled from a [`NodeLayers`] read when it arrives (in `App::update`),
//! never in `draw`.

use crate::client::layers::NodeLayers;
use crate::client::queries::Layer;
use crate::console::diagnosis::layers::{agreements, Agreement, ModuleAgreement};
use crate::console::diagnosis::Severity;

/// One module's line in the layer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRow {
    /// The LOAD/SAVE module keyword (`MYSQL SERVERS`).
    pub module: &'static str,
    /// `M=R=D`, or the pairs that differ with their row counts (`M≠R 1 row · R=D`).
    pub summary: String,
    /// The differing tables, when any (`mysql_servers, mysql_replication_hostgroups`).
    pub tables: String,
    /// `Ok` when the three agree, `Warning` when a pair differs or cannot be read.
    pub severity: Severity,
}

/// The layers of one node as last read, ready to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLayerView {
    /// The read itself (kept for the diagnosis and the re-seed plan).
    pub layers: NodeLayers,
    /// One row per module, in [`crate::client::layers::LAYER_MODULES`] order.
    pub rows: Vec<LayerRow>,
}

impl NodeLayerView {
    /// Settles the rows of a read.
    pub fn of(layers: NodeLayers) -> NodeLayerView {
        let rows = agreements(&layers).iter().map(row).collect();
        NodeLayerView { layers, rows }
    }
}

/// What the node view knows of one node's layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerState {
    /// Read: the rows.
    Read(NodeLayerView),
    /// The last read failed: why, and the console time it did.
    Failed {
        /// The error.
        error: String,
        /// Console time of the failure.
        at: u64,
    },
}

impl LayerState {
    /// The layers, when the last read succeeded.
    pub fn layers(&self) -> Option<&NodeLayers> {
        match self {
            LayerState::Read(v) => Some(&v.layers),
            LayerState::Failed { .. } => None,
        }
    }
}

/// Rows that differ between two layers of a module (both directions, every table).
fn differing_rows(a: &ModuleAgreement, x: Layer, y: Layer) -> usize {
    a.diffs
        .iter()
        .filter(|d| d.a == x && d.b == y)
        .map(|d| d.only_in_a.len() + d.only_in_b.len())
        .sum()
}

fn pair(a: &ModuleAgreement, agreement: Agreement, x: Layer, y: Layer) -> String {
    let (cx, cy) = (initial(x), initial(y));
    match agreement {
        Agreement::Same => format!("{cx}={cy}"),
        Agreement::Unknown => format!("{cx}?{cy}"),
        Agreement::Differ => {
            let n = differing_rows(a, x, y);
            format!("{cx}≠{cy} {n} row{}", if n == 1 { "" } else { "s" })
        }
    }
}

fn initial(l: Layer) -> char {
    match l {
        Layer::Memory => 'M',
        Layer::Runtime => 'R',
        Layer::Disk => 'D',
    }
}

/// The line of one module.
pub fn row(a: &ModuleAgreement) -> LayerRow {
    let all_same = a.memory_runtime == Agreement::Same && a.runtime_disk == Agreement::Same;
    let summary = if all_same {
        // MEMORY vs DISK can still differ by a hostgroup alone (RUNTIME's comparison leaves
        // the hostgroup out, see diagnosis::layers).
        match a.memory_disk {
            Agreement::Same => "M=R=D".to_owned(),
            other => format!("M=R · R=D · {}", pair(a, other, Layer::Memory, Layer::Disk)),
        }
    } else {
        format!(
            "{} · {}",
            pair(a, a.memory_runtime, Layer::Memory, Layer::Runtime),
            pair(a, a.runtime_disk, Layer::Runtime, Layer::Disk)
        )
    };
    let mut tables: Vec<&str> = a.diffs.iter().map(|d| d.table.as_str()).collect();
    tables.sort_unstable();
    tables.dedup();
    let ok = all_same && a.memory_disk == Agreement::Same;
    LayerRow {
        module: a.module.keyword(),
        summary,
        tables: tables.join(", "),
        severity: if ok { Severity::Ok } else { Severity::Warning },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::layers::{ModuleLayers, TableLayers};
    use crate::proxysql::statement::ConfigModule;

    fn rules(memory: &[&str], runtime: &[&str], disk: &[&str]) -> ModuleLayers {
        let rows = |v: &[&str]| Some(v.iter().map(|s| vec![Some((*s).to_owned())]).collect());
        ModuleLayers {
            module: ConfigModule::MysqlQueryRules,
            tables: vec![TableLayers {
                table: "mysql_query_rules".into(),
                memory: rows(memory),
                runtime: rows(runtime),
                disk: rows(disk),
            }],
        }
    }

    fn view(m: ModuleLayers) -> NodeLayerView {
        NodeLayerView::of(NodeLayers {
            node: "p1".into(),
            fetched_at: 0,
            modules: vec![m],
            notes: vec![],
        })
    }

    #[test]
    fn three_agreeing_layers_are_one_equation() {
        let v = view(rules(&["a"], &["a"], &["a"]));
        assert_eq!(v.rows[0].summary, "M=R=D");
        assert_eq!(v.rows[0].severity, Severity::Ok);
        assert_eq!(v.rows[0].tables, "");
        assert_eq!(v.rows[0].module, "MYSQL QUERY RULES");
    }

    #[test]
    fn loaded_but_not_saved_counts_the_differing_rows() {
        let v = view(rules(&["a", "b"], &["a", "b"], &["a"]));
        assert_eq!(v.rows[0].summary, "M=R · R≠D 1 row");
        assert_eq!(v.rows[0].severity, Severity::Warning);
        assert_eq!(v.rows[0].tables, "mysql_query_rules");
    }

    #[test]
    fn edited_but_not_loaded_and_an_unreadable_layer() {
        let v = view(rules(&["a", "c"], &["b"], &["b"]));
        assert_eq!(v.rows[0].summary, "M≠R 3 rows · R=D");
        let mut m = rules(&["a"], &["a"], &["a"]);
        m.tables[0].disk = None;
        let v = view(m);
        assert_eq!(v.rows[0].summary, "M=R · R?D");
        assert_eq!(v.rows[0].severity, Severity::Warning);
    }
}
