//! The re-seed (issue #15): make one node the cluster's authoritative source in one step.
//! Every module still at version 1 there gets `LOAD <MODULE> TO RUNTIME` (a version-1 peer
//! is never a sync source, §8.2), and every module whose DISK differs from what it will run
//! gets `SAVE <MODULE> TO DISK`, so the next restart does not bring the trap back.
//!
//! Pure: [`plan`] reads the node's snapshot and, when read, its layers.

use serde::Serialize;

use super::layers::{agreements, Agreement};
use crate::client::layers::NodeLayers;
use crate::client::queries;
use crate::client::snapshot::NodeSnapshot;
use crate::proxysql::cluster::state::Module;
use crate::proxysql::statement::ConfigModule;

/// One statement of the plan and why it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReseedStep {
    /// The statement.
    pub sql: String,
    /// Why.
    pub reason: String,
}

/// What a re-seed of `node` runs, in order; `notes` are what the operator should know first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReseedPlan {
    /// The node made authoritative.
    pub node: String,
    /// The statements.
    pub steps: Vec<ReseedStep>,
    /// Caveats (MEMORY edits a LOAD would apply, layers that could not be read).
    pub notes: Vec<String>,
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReseedError {
    /// The node could not be polled.
    #[error("{node} cannot be polled: {cause}")]
    Unreachable {
        /// The node.
        node: String,
        /// The poll's error.
        cause: String,
    },
}

/// The LOAD/SAVE module of a checksum module (`mysql_servers_v2` is `MYSQL SERVERS`).
fn config_module(m: Module) -> ConfigModule {
    match m {
        Module::AdminVariables => ConfigModule::AdminVariables,
        Module::MysqlQueryRules => ConfigModule::MysqlQueryRules,
        Module::MysqlServers | Module::MysqlServersV2 => ConfigModule::MysqlServers,
        Module::MysqlUsers => ConfigModule::MysqlUsers,
        Module::MysqlVariables => ConfigModule::MysqlVariables,
        Module::ProxysqlServers => ConfigModule::ProxysqlServers,
    }
}

/// The re-seed of `snap`'s node: LOADs first (modules at version 1, in
/// `runtime_checksums_values` order, one per LOAD/SAVE module), then SAVEs.
pub fn plan(snap: &NodeSnapshot, layers: Option<&NodeLayers>) -> Result<ReseedPlan, ReseedError> {
    let data = snap.data().ok_or_else(|| ReseedError::Unreachable {
        node: snap.name.clone(),
        cause: snap.error().map(ToString::to_string).unwrap_or_default(),
    })?;
    let mut loads: Vec<(ConfigModule, Vec<&str>)> = Vec::new();
    for row in &data.checksums {
        let Some(m) = Module::from_name(&row.name) else {
            continue;
        };
        if row.version != 1 {
            continue;
        }
        let cm = config_module(m);
        match loads.iter_mut().find(|(c, _)| *c == cm) {
            Some((_, names)) => names.push(m.name()),
            None => loads.push((cm, vec![m.name()])),
        }
    }
    let mut steps: Vec<ReseedStep> = loads
        .iter()
        .map(|(cm, names)| ReseedStep {
            sql: queries::load_admin_module_to_runtime(*cm),
            reason: format!(
                "{} at version 1 on {}: no peer will ever sync from it until it is loaded",
                names.join(" and "),
                snap.name
            ),
        })
        .collect();
    let mut notes = Vec::new();
    match layers {
        None => notes.push(format!(
            "the MEMORY/RUNTIME/DISK layers of {} were not read: no SAVE … TO DISK is planned",
            snap.name
        )),
        Some(l) => {
            notes.extend(l.notes.iter().cloned());
            for a in agreements(l) {
                let loaded = loads.iter().any(|(c, _)| *c == a.module);
                let keyword = a.module.keyword();
                if loaded && a.memory_runtime == Agreement::Differ {
                    notes.push(format!(
                        "{keyword}: MEMORY differs from RUNTIME on {}, so the LOAD applies MEMORY's edits (run SAVE {keyword} FROM RUNTIME first to keep RUNTIME's)",
                        snap.name
                    ));
                }
                // After a LOAD, RUNTIME is MEMORY, so DISK is compared with MEMORY.
                let disk_differs = if loaded {
                    a.memory_disk == Agreement::Differ
                } else {
                    a.runtime_disk == Agreement::Differ
                };
                if !disk_differs {
                    continue;
                }
                if !loaded && a.memory_runtime != Agreement::Same {
                    notes.push(format!(
                        "{keyword}: RUNTIME differs from DISK but MEMORY differs from RUNTIME too, so SAVE … TO DISK would save MEMORY's edits: not planned"
                    ));
                    continue;
                }
                steps.push(ReseedStep {
                    sql: queries::save_module_to_disk(a.module),
                    reason: format!(
                        "{keyword} on DISK differs from what {} runs: a restart would bring the old copy back at version 1",
                        snap.name
                    ),
                });
            }
        }
    }
    Ok(ReseedPlan {
        node: snap.name.clone(),
        steps,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::layers::{ModuleLayers, TableLayers};
    use crate::client::snapshot::NodeData;
    use crate::proxysql::cluster::state::ChecksumRow;

    fn snap(rows: &[(&str, u64)]) -> NodeSnapshot {
        NodeSnapshot {
            name: "n1".into(),
            host: "127.0.0.1".into(),
            port: 6032,
            fetched_at: 0,
            elapsed_ms: 0,
            result: Ok(NodeData {
                version: "2.7.2".into(),
                checksums: rows
                    .iter()
                    .map(|(n, v)| ChecksumRow {
                        name: (*n).into(),
                        version: *v,
                        epoch: 100,
                        checksum: "0x1".into(),
                    })
                    .collect(),
                ..NodeData::default()
            }),
        }
    }

    fn rows(v: &[&str]) -> Option<Vec<Vec<Option<String>>>> {
        Some(v.iter().map(|s| vec![Some((*s).to_owned())]).collect())
    }

    fn layers(m: ConfigModule, memory: &[&str], runtime: &[&str], disk: &[&str]) -> NodeLayers {
        NodeLayers {
            node: "n1".into(),
            fetched_at: 0,
            modules: vec![ModuleLayers {
                module: m,
                tables: vec![TableLayers {
                    table: "proxysql_servers".into(),
                    memory: rows(memory),
                    runtime: rows(runtime),
                    disk: rows(disk),
                }],
            }],
            notes: Vec::new(),
        }
    }

    #[test]
    fn loads_every_version_one_module_once() {
        let s = snap(&[
            ("admin_variables", 1),
            ("mysql_query_rules", 1),
            ("mysql_servers", 1),
            ("mysql_users", 3),
            ("mysql_servers_v2", 1),
        ]);
        let p = plan(&s, None).unwrap();
        let sql: Vec<&str> = p.steps.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                "LOAD ADMIN VARIABLES TO RUNTIME",
                "LOAD MYSQL QUERY RULES TO RUNTIME",
                "LOAD MYSQL SERVERS TO RUNTIME",
            ]
        );
        assert!(p.steps[2]
            .reason
            .contains("mysql_servers and mysql_servers_v2"));
        assert_eq!(p.notes.len(), 1, "layers not read is noted");
    }

    #[test]
    fn saves_where_runtime_and_disk_differ() {
        let s = snap(&[("proxysql_servers", 2)]);
        let l = layers(ConfigModule::ProxysqlServers, &["a"], &["a"], &["b"]);
        let p = plan(&s, Some(&l)).unwrap();
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.steps[0].sql, "SAVE PROXYSQL SERVERS TO DISK");
        // Same layers: nothing to do.
        let l = layers(ConfigModule::ProxysqlServers, &["a"], &["a"], &["a"]);
        assert!(plan(&s, Some(&l)).unwrap().steps.is_empty());
    }

    #[test]
    fn a_load_compares_disk_with_memory_and_warns_of_memory_edits() {
        let s = snap(&[("proxysql_servers", 1)]);
        // MEMORY edited, RUNTIME and DISK agree: the LOAD applies the edit, then DISK lags.
        let l = layers(ConfigModule::ProxysqlServers, &["new"], &["old"], &["old"]);
        let p = plan(&s, Some(&l)).unwrap();
        let sql: Vec<&str> = p.steps.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                "LOAD PROXYSQL SERVERS TO RUNTIME",
                "SAVE PROXYSQL SERVERS TO DISK"
            ]
        );
        assert!(p
            .notes
            .iter()
            .any(|n| n.contains("MEMORY differs from RUNTIME")));
    }

    #[test]
    fn a_save_that_would_save_memory_edits_is_not_planned() {
        let s = snap(&[("proxysql_servers", 2)]);
        let l = layers(ConfigModule::ProxysqlServers, &["edit"], &["run"], &["old"]);
        let p = plan(&s, Some(&l)).unwrap();
        assert!(p.steps.is_empty());
        assert!(p.notes.iter().any(|n| n.contains("not planned")));
    }

    #[test]
    fn an_unreachable_node_has_no_plan() {
        let mut s = snap(&[]);
        s.result = Err(crate::client::conn::ClientError::UnexpectedResult {
            message: "gone".into(),
        });
        assert!(matches!(
            plan(&s, None),
            Err(ReseedError::Unreachable { .. })
        ));
    }
}
