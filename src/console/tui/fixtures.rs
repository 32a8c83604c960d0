//! Hand-made cluster states for tests, mirroring the reference scenario's step-4 tables
//! (`runtime_checksums_values` on node1 and node2) and what follows the fix.

use std::collections::BTreeMap;

use crate::client::conn::{ClientError, NodeAddr};
use crate::client::snapshot::{
    NodeData, NodeSnapshot, PeerChecksumRow, PeerMetricsRow, ProxysqlServerRow,
};
use crate::console::fixtures::{ChecksumLine, STEP4_NODE1, STEP4_NODE2, STEP5_FIXED};
use crate::proxysql::cluster::state::{ChecksumRow, PeerModuleState};
use crate::proxysql::resultset::ResultSet;

use crate::client::detail::{HaInfo, NodeDetail, VrrpRow};

/// The console clock of every fixture poll.
pub const T: u64 = 1_728_014_700;
/// Version string of both nodes.
pub const VERSION: &str = "2.7.2-14-g5cc418b";
/// Epoch of node1's `LOAD … TO RUNTIME` (the fix).
pub const FIX_EPOCH: u64 = 1_728_014_690;

/// A state of the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Step 4: node1's query rules and servers at version 1; node2 waits forever.
    Stuck,
    /// Step 5, just after the fix on node1: node2 will pull after two more checks.
    Converging,
    /// After the pull: every checksum equal.
    InSync,
    /// Step 7: node1 killed; node2 stopped hearing from it 30 s ago.
    Killed,
}

impl Scenario {
    /// All states, in story order.
    pub const ALL: [Scenario; 4] = [
        Scenario::Stuck,
        Scenario::Converging,
        Scenario::InSync,
        Scenario::Killed,
    ];

    /// A file-name friendly name.
    pub fn slug(self) -> &'static str {
        match self {
            Scenario::Stuck => "stuck",
            Scenario::Converging => "converging",
            Scenario::InSync => "in_sync",
            Scenario::Killed => "killed",
        }
    }
}

type Own = [ChecksumLine; 7];

const NODE1: Own = STEP4_NODE1;
const NODE2: Own = STEP4_NODE2;
const FIXED: [&str; 3] = STEP5_FIXED;

fn rows(own: &Own) -> Vec<ChecksumRow> {
    own.iter()
        .map(|(n, v, e, c)| ChecksumRow {
            name: (*n).into(),
            version: *v,
            epoch: *e,
            checksum: (*c).into(),
        })
        .collect()
}

/// The two nodes' own tables in a state.
fn own_tables(s: Scenario) -> [Vec<ChecksumRow>; 2] {
    let mut n1 = rows(&NODE1);
    let mut n2 = rows(&NODE2);
    if s != Scenario::Stuck {
        for r in n1.iter_mut().filter(|r| FIXED.contains(&r.name.as_str())) {
            r.version = 2;
            r.epoch = FIX_EPOCH;
        }
    }
    if matches!(s, Scenario::InSync | Scenario::Killed) {
        for r in n2.iter_mut().filter(|r| FIXED.contains(&r.name.as_str())) {
            let src = n1.iter().find(|s| s.name == r.name).cloned();
            if let Some(src) = src {
                r.version = 2;
                r.epoch = src.epoch;
                r.checksum = src.checksum;
            }
        }
    }
    [n1, n2]
}

const HOSTS: [(&str, &str); 2] = [("node1", "192.168.0.11"), ("node2", "192.168.0.12")];

/// The console's address of each node.
pub fn addrs() -> Vec<NodeAddr> {
    HOSTS
        .iter()
        .map(|(n, h)| NodeAddr {
            name: (*n).into(),
            host: (*h).into(),
            port: 6032,
            user: "radmin".into(),
            password: "radmin".into(),
        })
        .collect()
}

fn variables() -> BTreeMap<String, String> {
    [
        ("admin-checksum_mysql_query_rules", "true"),
        ("admin-cluster_check_interval_ms", "1000"),
        ("admin-cluster_check_status_frequency", "10"),
        ("admin-cluster_mysql_query_rules_diffs_before_sync", "3"),
        ("admin-cluster_mysql_servers_diffs_before_sync", "3"),
        ("admin-cluster_mysql_servers_sync_algorithm", "1"),
        ("admin-cluster_mysql_users_diffs_before_sync", "3"),
        ("admin-cluster_password", "********"),
        ("admin-cluster_username", "cluster_user"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Each node's snapshot in a state.
pub fn snapshots(s: Scenario) -> Vec<NodeSnapshot> {
    let own = own_tables(s);
    let dc = match s {
        Scenario::Stuck => 150,
        Scenario::Converging => 1,
        _ => 0,
    };
    let mut out = Vec::new();
    for (i, (name, host)) in HOSTS.iter().enumerate() {
        let mut peer_rows = Vec::new();
        for (j, (_, peer_host)) in HOSTS.iter().enumerate() {
            // After the kill node2 last heard from node1 30 s ago.
            let updated_at = if s == Scenario::Killed && j == 0 {
                T - 30
            } else {
                T
            };
            for r in &own[j] {
                let same = own[i]
                    .iter()
                    .any(|o| o.name == r.name && o.checksum == r.checksum);
                peer_rows.push(PeerChecksumRow {
                    hostname: (*peer_host).into(),
                    port: 6032,
                    name: r.name.clone(),
                    state: PeerModuleState {
                        version: r.version,
                        epoch: r.epoch,
                        checksum: r.checksum.clone(),
                        changed_at: r.epoch.min(T - 500),
                        updated_at,
                        diff_check: if same { 0 } else { dc },
                    },
                });
            }
        }
        let metrics = HOSTS
            .iter()
            .enumerate()
            .map(|(j, (n, h))| PeerMetricsRow {
                hostname: (*h).into(),
                port: 6032,
                weight: 0,
                comment: format!("proxysql_{n}"),
                response_time_ms: 1,
                uptime_s: 45_600 + j as u64,
                last_check_ms: if s == Scenario::Killed && j == 0 {
                    30_000
                } else {
                    400
                },
                queries: 1200 * (j as u64 + 1),
                client_connections_connected: 2,
                client_connections_created: 14,
            })
            .collect();
        let servers = HOSTS
            .iter()
            .map(|(n, h)| ProxysqlServerRow {
                hostname: (*h).into(),
                port: 6032,
                weight: 0,
                comment: format!("proxysql_{n}"),
            })
            .collect();
        let result = if s == Scenario::Killed && i == 0 {
            Err(ClientError::Io {
                cause: "Connection refused (os error 111)".into(),
            })
        } else {
            Ok(NodeData {
                version: VERSION.into(),
                checksums: own[i].clone(),
                peer_checksums: Some(peer_rows),
                peer_metrics: Some(metrics),
                proxysql_servers: Some(servers),
                cluster_variables: Some(variables()),
                admin_users: Some(vec!["admin".into(), "cluster_user".into()]),
                notes: Vec::new(),
            })
        };
        out.push(NodeSnapshot {
            name: (*name).into(),
            host: (*host).into(),
            port: 6032,
            fetched_at: T + 1,
            elapsed_ms: 3,
            result,
        });
    }
    out
}

fn rs(cols: &[&str], rows: &[&[Option<&str>]]) -> ResultSet {
    ResultSet::literal(cols, rows)
}

/// The detail tables of a node (the scenario's three MySQL servers behind both nodes).
pub fn detail(node: &str) -> NodeDetail {
    NodeDetail {
        node: node.into(),
        fetched_at: T,
        servers: Ok(rs(
            &[
                "hostgroup_id",
                "hostname",
                "port",
                "status",
                "weight",
                "max_connections",
                "comment",
            ],
            &[
                &[
                    Some("10"),
                    Some("192.168.0.11"),
                    Some("3306"),
                    Some("ONLINE"),
                    Some("1"),
                    Some("1000"),
                    Some("primary"),
                ],
                &[
                    Some("20"),
                    Some("192.168.0.12"),
                    Some("3306"),
                    Some("ONLINE"),
                    Some("1"),
                    Some("1000"),
                    Some("replica"),
                ],
                &[
                    Some("20"),
                    Some("192.168.0.13"),
                    Some("3306"),
                    Some("SHUNNED"),
                    Some("1"),
                    Some("1000"),
                    Some("replica"),
                ],
            ],
        )),
        pool: Ok(rs(
            &[
                "hostgroup",
                "srv_host",
                "srv_port",
                "status",
                "ConnUsed",
                "ConnFree",
                "ConnOK",
                "ConnERR",
                "Queries",
                "Latency_us",
            ],
            &[
                &[
                    Some("10"),
                    Some("192.168.0.11"),
                    Some("3306"),
                    Some("ONLINE"),
                    Some("1"),
                    Some("4"),
                    Some("5"),
                    Some("0"),
                    Some("18230"),
                    Some("412"),
                ],
                &[
                    Some("20"),
                    Some("192.168.0.12"),
                    Some("3306"),
                    Some("ONLINE"),
                    Some("0"),
                    Some("3"),
                    Some("3"),
                    Some("0"),
                    Some("9120"),
                    Some("388"),
                ],
                &[
                    Some("20"),
                    Some("192.168.0.13"),
                    Some("3306"),
                    Some("SHUNNED"),
                    Some("0"),
                    Some("0"),
                    Some("2"),
                    Some("7"),
                    Some("4410"),
                    Some("0"),
                ],
            ],
        )),
        users: Ok(rs(
            &[
                "username",
                "password",
                "active",
                "default_hostgroup",
                "frontend",
                "backend",
                "max_connections",
            ],
            &[
                &[
                    Some("svcusr"),
                    Some("********"),
                    Some("1"),
                    Some("10"),
                    Some("1"),
                    Some("1"),
                    Some("10000"),
                ],
                &[
                    Some("monitor_ro"),
                    Some(""),
                    Some("1"),
                    Some("20"),
                    Some("1"),
                    Some("1"),
                    Some("100"),
                ],
            ],
        )),
        rules: Ok(rs(
            &[
                "rule_id",
                "active",
                "username",
                "match_digest",
                "match_pattern",
                "destination_hostgroup",
                "apply",
            ],
            &[
                &[
                    Some("1"),
                    Some("1"),
                    Some("svcusr"),
                    Some("^SELECT .* FOR UPDATE$"),
                    None,
                    Some("10"),
                    Some("1"),
                ],
                &[
                    Some("2"),
                    Some("1"),
                    None,
                    Some("^SELECT"),
                    None,
                    Some("20"),
                    Some("1"),
                ],
            ],
        )),
        rule_hits: Ok(rs(&["rule_id", "hits"], &[&[Some("1"), Some("1520")]])),
    }
}

/// Each node's variables as the detail fetch reads them.
pub fn all_variables(s: Scenario) -> Vec<Result<BTreeMap<String, String>, String>> {
    let base: BTreeMap<String, String> = [
        ("admin-cluster_username", "cluster_user"),
        ("admin-cluster_check_interval_ms", "1000"),
        ("mysql-monitor_username", "monitor"),
        ("mysql-monitor_ping_interval", "2000"),
        ("mysql-threads", "4"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut n2 = base.clone();
    if s == Scenario::Stuck {
        // node2 was configured by hand before it could sync.
        n2.insert("mysql-monitor_ping_interval".into(), "10000".into());
        n2.insert("mysql-threads".into(), "8".into());
    }
    match s {
        Scenario::Killed => vec![Err("connection refused".into()), Ok(n2)],
        _ => vec![Ok(base), Ok(n2)],
    }
}

fn vrrp(
    state: &str,
    priority: i64,
    effective: i64,
    held: bool,
    from: Option<&str>,
    check: &str,
) -> VrrpRow {
    VrrpRow {
        instance: "VI_1".into(),
        state: state.into(),
        priority,
        effective_priority: effective,
        vip: "192.168.0.20".into(),
        vip_held: held,
        last_advert_from: from.map(str::to_owned),
        last_advert_age_ms: from.map(|_| 420),
        check_status: check.into(),
    }
}

/// Each node's VRRP table: absent before keepalived is in place (stuck, converging), then
/// node1 MASTER, and after the kill node2 MASTER.
pub fn ha(s: Scenario) -> Vec<HaInfo> {
    match s {
        Scenario::Stuck | Scenario::Converging => vec![HaInfo::Absent, HaInfo::Absent],
        Scenario::InSync => vec![
            HaInfo::Rows(vec![vrrp("MASTER", 100, 100, true, None, "GOOD")]),
            HaInfo::Rows(vec![vrrp(
                "BACKUP",
                90,
                90,
                false,
                Some("192.168.0.11"),
                "GOOD",
            )]),
        ],
        Scenario::Killed => vec![
            HaInfo::Unknown,
            HaInfo::Rows(vec![vrrp("MASTER", 90, 90, true, None, "GOOD")]),
        ],
    }
}

/// Log lines of a managed node.
pub fn log_tail() -> Vec<String> {
    [
        "2024-10-04 03:56:30 ProxySQL_Cluster.cpp:863:set_checksums(): [WARNING] Cluster: detected a peer 192.168.0.11:6032 with mysql_query_rules version 1, epoch 1727968666, diff_check 150. Own version: 1, epoch: 1728013985. diff_check is increasing, but version 1 doesn't allow sync.",
        "2024-10-04 03:56:38 ProxySQL_Admin.cpp:6133:flush_mysql_variables___database_to_runtime(): [INFO] Computed checksum for 'LOAD MYSQL VARIABLES TO RUNTIME' was '0x4E71AB1ADF17EF70', with epoch '1728014575'",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// The console's nodes for the fixture cluster; node2 is "managed" so the log pane shows.
pub fn console_nodes() -> Vec<super::ConsoleNode> {
    addrs()
        .into_iter()
        .enumerate()
        .map(|(i, addr)| super::ConsoleNode {
            addr,
            managed: i == 1,
            log_path: (i == 1).then(|| std::path::PathBuf::from("node2/proxysql.log")),
            fault_commands: Default::default(),
        })
        .collect()
}

/// An app with options for tests: UTC, clock at the fixtures' poll time.
pub fn options() -> super::AppOptions {
    super::AppOptions {
        now: T + 1,
        ..super::AppOptions::default()
    }
}

fn feed(app: &mut super::App, s: Scenario, at: u64) {
    for (node, mut snapshot) in snapshots(s).into_iter().enumerate() {
        snapshot.fetched_at = at;
        app.update(super::Action::Tick(at));
        app.update(super::Action::Snapshot { node, snapshot });
    }
    for (node, info) in ha(s).into_iter().enumerate() {
        if info != HaInfo::Unknown {
            app.update(super::Action::Ha { node, info });
        }
    }
}

/// An app that lived through the story up to state `s`, so its events log and availability
/// strip are what an operator would have seen; the detail tables of node1 are loaded.
pub fn app(s: Scenario) -> super::App {
    let mut app = super::App::new(console_nodes(), options());
    let history: &[Scenario] = match s {
        Scenario::Stuck => &[Scenario::Stuck],
        Scenario::Converging => &[Scenario::Stuck, Scenario::Converging],
        Scenario::InSync => &[Scenario::Stuck, Scenario::Converging, Scenario::InSync],
        Scenario::Killed => &[Scenario::InSync, Scenario::Killed],
    };
    // Earlier states a few polls back; the final one at the fixture time.
    let n = history.len() as u64;
    for (k, state) in history.iter().enumerate() {
        let at = T + 1 - (n - 1 - k as u64) * 5;
        let polls = if k + 1 == history.len() { 1 } else { 5 };
        for p in 0..polls {
            feed(&mut app, *state, at - (polls - 1 - p));
        }
    }
    app.update(super::Action::Tick(T + 1));
    app.update(super::Action::Detail {
        node: 0,
        detail: Ok(detail("node1")),
    });
    for (node, variables) in all_variables(s).into_iter().enumerate() {
        app.update(super::Action::Variables { node, variables });
    }
    app.update(super::Action::LogLines {
        node: 1,
        lines: log_tail(),
    });
    app
}

/// node1's MEMORY/RUNTIME/DISK layers in the stuck state: a query rule loaded but never saved
/// (`R≠D`, the reference scenario's root cause) and a backend inserted in MEMORY but never
/// loaded (`M≠R`); every other table agrees.
pub fn layers_node1() -> crate::client::layers::NodeLayers {
    use crate::client::layers::{ModuleLayers, NodeLayers, Rows, TableLayers, LAYER_MODULES};
    let text = |v: &[&str]| -> Vec<Option<String>> {
        v.iter()
            .map(|s| (*s != "NULL").then(|| (*s).to_owned()))
            .collect()
    };
    let server = |host: &str| {
        text(&[
            "10", host, "3306", "0", "ONLINE", "1", "0", "1000", "0", "0", "0", "",
        ])
    };
    let rule = |id: &str, pattern: &str| text(&[id, "1", pattern, "20", "1"]);
    let variable = |name: &str, value: &str| text(&[name, value]);
    let same = |table: &str, rows: Rows| TableLayers {
        table: table.into(),
        memory: Some(rows.clone()),
        runtime: Some(rows.clone()),
        disk: Some(rows),
    };
    let modules = LAYER_MODULES
        .iter()
        .map(|m| {
            let tables = m
                .tables()
                .iter()
                .map(|t| match *t {
                    "mysql_query_rules" => TableLayers {
                        table: (*t).into(),
                        memory: Some(vec![
                            rule("1", "^SELECT"),
                            rule("2", "^SELECT .* FOR UPDATE"),
                        ]),
                        runtime: Some(vec![
                            rule("1", "^SELECT"),
                            rule("2", "^SELECT .* FOR UPDATE"),
                        ]),
                        disk: Some(vec![rule("1", "^SELECT")]),
                    },
                    "mysql_servers" => TableLayers {
                        table: (*t).into(),
                        memory: Some(vec![server("10.0.0.21"), server("10.0.0.23")]),
                        runtime: Some(vec![server("10.0.0.21")]),
                        disk: Some(vec![server("10.0.0.21")]),
                    },
                    "global_variables" => same(
                        t,
                        vec![variable(
                            if *m == crate::proxysql::statement::ConfigModule::AdminVariables {
                                "admin-cluster_check_interval_ms"
                            } else {
                                "mysql-monitor_enabled"
                            },
                            "true",
                        )],
                    ),
                    "proxysql_servers" => same(
                        t,
                        vec![
                            text(&["192.168.0.11", "6032", "0", "node1"]),
                            text(&["192.168.0.12", "6032", "0", "node2"]),
                        ],
                    ),
                    other => same(other, Vec::new()),
                })
                .collect();
            ModuleLayers { module: *m, tables }
        })
        .collect();
    NodeLayers {
        node: "node1".into(),
        fetched_at: T,
        modules,
        notes: Vec::new(),
    }
}
