//! MEMORY, RUNTIME and DISK of one node, compared per module (issue #15): "edited but not
//! loaded" (MEMORY ≠ RUNTIME) and "loaded but not saved" (RUNTIME ≠ DISK, the reference
//! scenario's root cause: a restart brings the DISK copy back at version 1), users doubled
//! by a sync, and runtime server lists that differ between nodes only by a monitor's SHUNNED.
//!
//! Pure: from [`NodeLayers`] read by `client::layers` to an agreement per module and findings.
//!
//! What is compared, and why not every column everywhere:
//! * rows are compared as sorted multisets (no ORDER BY is trusted);
//! * `mysql_users`: RUNTIME splits a user with `frontend=1, backend=1` into a frontend row and
//!   a backend row (ProxySQL 2.7.2 does, checked on the real binary), so every layer is split
//!   the same way first;
//! * `mysql_servers`: RUNTIME is the monitor's (read_only moves servers between hostgroups,
//!   errors shun them), so for a comparison with RUNTIME the hostgroup is left out and
//!   `SHUNNED` counts as `ONLINE` and `OFFLINE_HARD` rows are dropped, as ProxySQL's own
//!   runtime checksum does (`MYHGM_GEN_CLUSTER_ADMIN_RUNTIME_SERVERS`). An edit of a
//!   server's hostgroup alone is therefore seen between MEMORY and DISK only.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Class, ConfigKind, Evidence, Finding, Fix, Severity};
use crate::client::layers::{ModuleLayers, NodeLayers, Rows, TableLayers};
use crate::client::queries::{self, Layer};
use crate::proxysql::cluster::state::Module;
use crate::proxysql::statement::ConfigModule;

/// Whether two layers of a module hold the same rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Agreement {
    /// Same rows in every table.
    Same,
    /// At least one table differs.
    Differ,
    /// A table could not be read in one of the two layers.
    Unknown,
}

/// Rows of one table present in one layer and not in the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableDiff {
    /// The table.
    pub table: String,
    /// The first layer.
    pub a: Layer,
    /// The second layer.
    pub b: Layer,
    /// Rows only in `a` (values `|`-separated, passwords masked).
    pub only_in_a: Vec<String>,
    /// Rows only in `b`.
    pub only_in_b: Vec<String>,
}

/// How the three layers of one module agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleAgreement {
    /// The LOAD/SAVE module (`MYSQL SERVERS`...).
    #[serde(serialize_with = "keyword")]
    pub module: ConfigModule,
    /// MEMORY vs RUNTIME: `Differ` means edited but not loaded.
    pub memory_runtime: Agreement,
    /// RUNTIME vs DISK: `Differ` means loaded but not saved (or saved, then edited).
    pub runtime_disk: Agreement,
    /// MEMORY vs DISK.
    pub memory_disk: Agreement,
    /// Every differing table and pair.
    pub diffs: Vec<TableDiff>,
}

fn keyword<S: serde::Serializer>(m: &ConfigModule, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.keyword())
}

/// Compares the three layers of every module a node's [`NodeLayers`] holds.
pub fn agreements(layers: &NodeLayers) -> Vec<ModuleAgreement> {
    layers.modules.iter().map(compare_module).collect()
}

/// Compares the three layers of one module, table by table.
pub fn compare_module(m: &ModuleLayers) -> ModuleAgreement {
    let mut diffs = Vec::new();
    let mut pair = |a: Layer, b: Layer| {
        let mut agreement = Agreement::Same;
        for t in &m.tables {
            match compare_table(m.module, t, a, b) {
                None => {
                    if agreement == Agreement::Same {
                        agreement = Agreement::Unknown;
                    }
                }
                Some(None) => {}
                Some(Some(d)) => {
                    agreement = Agreement::Differ;
                    diffs.push(d);
                }
            }
        }
        agreement
    };
    let memory_runtime = pair(Layer::Memory, Layer::Runtime);
    let runtime_disk = pair(Layer::Runtime, Layer::Disk);
    let memory_disk = pair(Layer::Memory, Layer::Disk);
    ModuleAgreement {
        module: m.module,
        memory_runtime,
        runtime_disk,
        memory_disk,
        diffs,
    }
}

/// `None` when a layer is unreadable, `Some(None)` when the two agree.
fn compare_table(
    module: ConfigModule,
    t: &TableLayers,
    a: Layer,
    b: Layer,
) -> Option<Option<TableDiff>> {
    let with_runtime = a == Layer::Runtime || b == Layer::Runtime;
    let ra = normalize(&t.table, t.rows(a)?, with_runtime);
    let rb = normalize(&t.table, t.rows(b)?, with_runtime);
    if ra == rb {
        return Some(None);
    }
    let (only_a, only_b) = multiset_difference(&ra, &rb);
    let show = |rows: Vec<&Vec<Option<String>>>| {
        rows.into_iter()
            .map(|r| display_row(module, &t.table, r))
            .collect()
    };
    Some(Some(TableDiff {
        table: t.table.clone(),
        a,
        b,
        only_in_a: show(only_a),
        only_in_b: show(only_b),
    }))
}

/// One row's values.
type Row = [Option<String>];
/// One row, owned.
type RowVec = Vec<Option<String>>;

/// `mysql_users` columns read by position (`columns::USERS_COLUMNS`).
const USER_PASSWORD: usize = 1;
const USER_DEFAULT_SCHEMA: usize = 4;
const USER_BACKEND: usize = 8;
const USER_FRONTEND: usize = 9;
/// `mysql_servers` columns read by position (`columns::SERVERS_COLUMNS`).
const SERVER_HOSTGROUP: usize = 0;
const SERVER_STATUS: usize = 4;

/// The rows of a table as the comparison sees them, sorted.
fn normalize(table: &str, rows: &Rows, with_runtime: bool) -> Rows {
    let mut out: Rows = match table {
        "mysql_users" => rows.iter().flat_map(|r| split_user(r)).collect(),
        "mysql_servers" if with_runtime => {
            let mut v: Rows = rows
                .iter()
                .filter_map(|r| runtime_comparable_server(r))
                .collect();
            v.dedup();
            v
        }
        _ => rows.clone(),
    };
    out.sort();
    if table == "mysql_servers" && with_runtime {
        out.dedup();
    }
    out
}

/// A user row with `frontend=1, backend=1` as the two rows RUNTIME shows.
/// Also writes a NULL `default_schema` as `''`, as RUNTIME shows it on ProxySQL 2.7.2.
fn split_user(row: &Row) -> Vec<Vec<Option<String>>> {
    let flag = |i: usize| row.get(i).and_then(|v| v.as_deref()) == Some("1");
    let mut row = row.to_vec();
    if let Some(schema @ None) = row.get_mut(USER_DEFAULT_SCHEMA) {
        *schema = Some(String::new());
    }
    if !(flag(USER_BACKEND) && flag(USER_FRONTEND)) {
        return vec![row];
    }
    let mut front = row.clone();
    let mut back = row;
    front[USER_BACKEND] = Some("0".into());
    back[USER_FRONTEND] = Some("0".into());
    vec![front, back]
}

/// A server row without its hostgroup and with SHUNNED as ONLINE; `None` for OFFLINE_HARD.
fn runtime_comparable_server(row: &Row) -> Option<RowVec> {
    let status = row.get(SERVER_STATUS).and_then(|v| v.as_deref());
    if status == Some("OFFLINE_HARD") {
        return None;
    }
    let mut r = row.to_vec();
    if status == Some("SHUNNED") {
        r[SERVER_STATUS] = Some("ONLINE".into());
    }
    if SERVER_HOSTGROUP < r.len() {
        r.remove(SERVER_HOSTGROUP);
    }
    Some(r)
}

/// Rows of `a` not matched in `b` and of `b` not matched in `a`, both sorted.
fn multiset_difference<'r>(a: &'r Rows, b: &'r Rows) -> (Vec<&'r RowVec>, Vec<&'r RowVec>) {
    let mut count: BTreeMap<&Vec<Option<String>>, i64> = BTreeMap::new();
    for r in a {
        *count.entry(r).or_default() += 1;
    }
    for r in b {
        *count.entry(r).or_default() -= 1;
    }
    let mut only_a = Vec::new();
    let mut only_b = Vec::new();
    for (row, n) in count {
        for _ in 0..n.max(0) {
            only_a.push(row);
        }
        for _ in 0..(-n).max(0) {
            only_b.push(row);
        }
    }
    (only_a, only_b)
}

/// A row as `v1 | v2 | …`, `NULL` for NULL, with passwords and credentials masked.
fn display_row(module: ConfigModule, table: &str, row: &[Option<String>]) -> String {
    let secret_variable = module.variable_prefix().is_some()
        && row
            .first()
            .and_then(|v| v.as_deref())
            .is_some_and(|name| name.contains("password") || name.contains("credentials"));
    row.iter()
        .enumerate()
        .map(|(i, v)| {
            let masked =
                (table == "mysql_users" && i == USER_PASSWORD) || (secret_variable && i == 1);
            match v {
                Some(_) if masked => "********".to_owned(),
                Some(s) => s.clone(),
                None => "NULL".to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The cluster module a LOAD/SAVE module is reported under.
pub fn cluster_module(m: ConfigModule) -> Option<Module> {
    match m {
        ConfigModule::AdminVariables => Some(Module::AdminVariables),
        ConfigModule::MysqlQueryRules => Some(Module::MysqlQueryRules),
        ConfigModule::MysqlServers => Some(Module::MysqlServers),
        ConfigModule::MysqlUsers => Some(Module::MysqlUsers),
        ConfigModule::MysqlVariables => Some(Module::MysqlVariables),
        ConfigModule::ProxysqlServers => Some(Module::ProxysqlServers),
        _ => None,
    }
}

/// How many differing rows a finding quotes per table and side.
const EVIDENCE_ROWS: usize = 5;

fn evidence_of(node: &str, diffs: &[&TableDiff]) -> Vec<Evidence> {
    let mut out = Vec::new();
    for d in diffs {
        for (layer, rows) in [(d.a, &d.only_in_a), (d.b, &d.only_in_b)] {
            for row in rows.iter().take(EVIDENCE_ROWS) {
                out.push(Evidence {
                    node: node.to_owned(),
                    module: Some(d.table.clone()),
                    layer: Some(layer),
                    value: format!("only in {layer}: {row}"),
                });
            }
            if rows.len() > EVIDENCE_ROWS {
                out.push(Evidence {
                    node: node.to_owned(),
                    module: Some(d.table.clone()),
                    layer: Some(layer),
                    value: format!(
                        "… and {} more rows only in {layer}",
                        rows.len() - EVIDENCE_ROWS
                    ),
                });
            }
        }
    }
    out
}

/// `memory_not_loaded` and `runtime_not_saved` findings for one node.
pub fn layer_findings(layers: &NodeLayers) -> Vec<Finding> {
    let node = &layers.node;
    let mut findings = Vec::new();
    for a in agreements(layers) {
        let module = cluster_module(a.module);
        let load = queries::load_admin_module_to_runtime(a.module);
        let save = queries::save_module_to_disk(a.module);
        let keyword = a.module.keyword();
        if a.memory_runtime == Agreement::Differ {
            let diffs: Vec<&TableDiff> = a
                .diffs
                .iter()
                .filter(|d| d.a == Layer::Memory && d.b == Layer::Runtime)
                .collect();
            let tables = table_list(&diffs);
            let mut sql = vec![load.clone()];
            if a.memory_disk != Agreement::Same {
                sql.push(save.clone());
            }
            findings.push(Finding {
                severity: Severity::Warning,
                class: Class::Config {
                    kind: ConfigKind::MemoryNotLoaded,
                    node: node.clone(),
                    evidence: evidence_of(node, &diffs),
                },
                module,
                node_to_act_on: Some(node.clone()),
                why: format!(
                    "{node} has {keyword} edited in MEMORY ({tables}) but never loaded: RUNTIME still runs the old config, and the next LOAD there (or a peer's pull) will change it unexpectedly; {load} applies the edit (to drop it instead: SAVE {keyword} FROM RUNTIME)."
                ),
                fix: Some(Fix {
                    node: node.clone(),
                    sql,
                }),
            });
        } else if a.memory_runtime == Agreement::Same && a.runtime_disk == Agreement::Differ {
            let diffs: Vec<&TableDiff> = a
                .diffs
                .iter()
                .filter(|d| d.a == Layer::Runtime && d.b == Layer::Disk)
                .collect();
            let tables = table_list(&diffs);
            findings.push(Finding {
                severity: Severity::Warning,
                class: Class::Config {
                    kind: ConfigKind::RuntimeNotSaved,
                    node: node.clone(),
                    evidence: evidence_of(node, &diffs),
                },
                module,
                node_to_act_on: Some(node.clone()),
                why: format!(
                    "{node} runs {keyword} that was never saved ({tables} differ on DISK): a restart brings the DISK copy back at version 1, which no peer syncs from — the reference scenario's trap; {save} keeps it."
                ),
                fix: Some(Fix {
                    node: node.clone(),
                    sql: vec![save],
                }),
            });
        }
    }
    findings.extend(duplicate_users(layers));
    findings
}

fn table_list(diffs: &[&TableDiff]) -> String {
    let mut names: Vec<&str> = diffs.iter().map(|d| d.table.as_str()).collect();
    names.dedup();
    names.join(", ")
}

/// `duplicate_users`: a user name with more than one row in MEMORY, one of them with a
/// hashed password (`*` and 40 hex digits), as the frontend/backend split rows a sync can
/// leave behind (sysown/proxysql #2325). The fix keeps the backend row (whose password
/// must be clear text to log in to the backends) and makes it serve the frontend too.
pub fn duplicate_users(layers: &NodeLayers) -> Option<Finding> {
    let node = &layers.node;
    let memory = layers
        .module(ConfigModule::MysqlUsers)?
        .tables
        .iter()
        .find(|t| t.table == "mysql_users")?
        .memory
        .as_ref()?;
    let mut by_user: BTreeMap<&str, Vec<&Vec<Option<String>>>> = BTreeMap::new();
    for row in memory {
        if let Some(Some(user)) = row.first() {
            by_user.entry(user.as_str()).or_default().push(row);
        }
    }
    let doubled: Vec<(&str, Vec<&Vec<Option<String>>>)> = by_user
        .into_iter()
        .filter(|(_, rows)| rows.len() > 1)
        .collect();
    if doubled.is_empty() {
        return None;
    }
    let mut sql = Vec::new();
    let mut evidence = Vec::new();
    for (user, rows) in &doubled {
        let quoted = user.replace('\'', "''");
        sql.push(format!(
            "DELETE FROM mysql_users WHERE username = '{quoted}' AND backend = 0"
        ));
        sql.push(format!(
            "UPDATE mysql_users SET frontend = 1 WHERE username = '{quoted}' AND backend = 1"
        ));
        for row in rows {
            let hashed = row
                .get(USER_PASSWORD)
                .and_then(|v| v.as_deref())
                .is_some_and(is_hashed_password);
            evidence.push(Evidence {
                node: node.clone(),
                module: Some("mysql_users".into()),
                layer: Some(Layer::Memory),
                value: format!(
                    "{} (password {})",
                    display_row(ConfigModule::MysqlUsers, "mysql_users", row),
                    if hashed { "hashed" } else { "clear text" }
                ),
            });
        }
    }
    sql.push(queries::load_admin_module_to_runtime(
        ConfigModule::MysqlUsers,
    ));
    sql.push(queries::save_module_to_disk(ConfigModule::MysqlUsers));
    let names: Vec<&str> = doubled.iter().map(|(u, _)| *u).collect();
    Some(Finding {
        severity: Severity::Warning,
        class: Class::Config {
            kind: ConfigKind::DuplicateUsers,
            node: node.clone(),
            evidence,
        },
        module: Some(Module::MysqlUsers),
        node_to_act_on: Some(node.clone()),
        why: format!(
            "{node} has {} in more than one mysql_users row in MEMORY (a frontend row and a backend row, as a sync of the runtime split leaves them): editing one row leaves the other behind; merge them into one row per user (make sure the kept backend row has the clear-text password).",
            names.join(", ")
        ),
        fix: Some(Fix {
            node: node.clone(),
            sql,
        }),
    })
}

/// `*` followed by 40 hexadecimal digits: a `mysql_native_password` hash.
fn is_hashed_password(p: &str) -> bool {
    p.len() == 41 && p.starts_with('*') && p[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// `servers_shunned_only`: nodes whose RUNTIME `mysql_servers` lists differ from each other
/// only by `SHUNNED` (a monitor's local verdict). Information: ProxySQL's checksums count
/// SHUNNED as ONLINE, so this is no divergence and nothing syncs it.
pub fn servers_shunned_only(all: &[NodeLayers]) -> Option<Finding> {
    let runtime_of = |l: &NodeLayers| -> Option<Rows> {
        let mut rows = l
            .module(ConfigModule::MysqlServers)?
            .tables
            .iter()
            .find(|t| t.table == "mysql_servers")?
            .runtime
            .clone()?;
        rows.sort();
        Some(rows)
    };
    let lists: Vec<(&str, Rows)> = all
        .iter()
        .filter_map(|l| Some((l.node.as_str(), runtime_of(l)?)))
        .collect();
    let unshunned = |rows: &Rows| -> Rows {
        let mut v: Rows = rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if r.get(SERVER_STATUS).and_then(|v| v.as_deref()) == Some("SHUNNED") {
                    r[SERVER_STATUS] = Some("ONLINE".into());
                }
                r
            })
            .collect();
        v.sort();
        v
    };
    let (_, first) = lists.first()?;
    let differ = lists.iter().any(|(_, r)| r != first);
    let same_unshunned = lists.iter().all(|(_, r)| unshunned(r) == unshunned(first));
    if !differ || !same_unshunned {
        return None;
    }
    let mut nodes = Vec::new();
    let mut evidence = Vec::new();
    for (node, rows) in &lists {
        for r in rows {
            if r.get(SERVER_STATUS).and_then(|v| v.as_deref()) == Some("SHUNNED") {
                if !nodes.contains(node) {
                    nodes.push(*node);
                }
                evidence.push(Evidence {
                    node: (*node).to_owned(),
                    module: Some("mysql_servers".into()),
                    layer: Some(Layer::Runtime),
                    value: display_row(ConfigModule::MysqlServers, "mysql_servers", r),
                });
            }
        }
    }
    let first_node = nodes.first().map(|n| (*n).to_owned()).unwrap_or_default();
    Some(Finding {
        severity: Severity::Ok,
        class: Class::Config {
            kind: ConfigKind::ServersShunnedOnly,
            node: first_node,
            evidence,
        },
        module: Some(Module::MysqlServers),
        node_to_act_on: None,
        why: format!(
            "Information: runtime_mysql_servers differs between nodes only because the monitor of {} SHUNNED a server there; checksums count SHUNNED as ONLINE, so this is no divergence and nothing needs syncing.",
            nodes.join(", ")
        ),
        fix: None,
    })
}

#[cfg(test)]
mod tests;
