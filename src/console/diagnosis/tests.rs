use super::*;
use crate::console::fixtures::{STEP4_NODE1, STEP4_NODE2};
use crate::proxysql::cluster::state::ChecksumRow;

const VERSION: &str = "2.7.2-14-g5cc418b";
/// The clock of the checks: after every epoch of the step-4 fixtures (the latest is
/// 1728014600), as in the scenario, so no epoch lies in the nodes' future.
const T: u64 = 1_728_014_700;

/// Builds one node's snapshot the way a poll would have read it.
#[derive(Clone)]
struct Node {
    name: &'static str,
    host: &'static str,
    version: &'static str,
    own: Vec<ChecksumRow>,
    rows: Vec<PeerChecksumRow>,
    vars: BTreeMap<String, String>,
    admin_users: Vec<String>,
    error: Option<ClientError>,
}

fn node(name: &'static str, host: &'static str, own: &[(&str, u64, u64, &str)]) -> Node {
    let mut vars = BTreeMap::new();
    vars.insert("admin-cluster_username".into(), "cluster_user".into());
    vars.insert("admin-cluster_password".into(), "********".into());
    Node {
        name,
        host,
        version: VERSION,
        own: own
            .iter()
            .map(|(n, v, e, c)| ChecksumRow {
                name: (*n).into(),
                version: *v,
                epoch: *e,
                checksum: (*c).into(),
            })
            .collect(),
        rows: Vec::new(),
        vars,
        admin_users: vec!["admin".into(), "cluster_user".into()],
        error: None,
    }
}

impl Node {
    fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    fn own_row(&self, module: Module) -> Option<&ChecksumRow> {
        self.own.iter().find(|r| r.name == module.name())
    }

    /// Adds this node's view of `peer`: its announced state, `diff_check` = `dc` where it
    /// differs from ours (0 where it matches, as ProxySQL resets it), checked at `updated_at`.
    fn sees(&mut self, peer: &Node, dc: u64, updated_at: u64) {
        for r in &peer.own {
            let module = Module::from_name(&r.name).unwrap();
            let same = self.own_row(module).map(|o| &o.checksum) == Some(&r.checksum);
            self.rows.push(PeerChecksumRow {
                hostname: peer.host.into(),
                port: 6032,
                name: r.name.clone(),
                state: PeerModuleState {
                    version: r.version,
                    epoch: r.epoch,
                    checksum: r.checksum.clone(),
                    changed_at: updated_at.min(T - 500),
                    updated_at,
                    diff_check: if same { 0 } else { dc },
                },
            });
        }
    }

    /// Overrides one row of this node's view of `peer_host`.
    fn set_row(&mut self, peer_host: &str, module: Module, f: impl Fn(&mut PeerModuleState)) {
        let row = self
            .rows
            .iter_mut()
            .find(|r| r.hostname == peer_host && r.name == module.name())
            .unwrap();
        f(&mut row.state);
    }

    fn snapshot(&self) -> NodeSnapshot {
        NodeSnapshot {
            name: self.name.into(),
            host: self.host.into(),
            port: 6032,
            fetched_at: T + 1,
            elapsed_ms: 3,
            result: match &self.error {
                Some(e) => Err(e.clone()),
                None => Ok(NodeData {
                    version: self.version.into(),
                    checksums: self.own.clone(),
                    peer_checksums: Some(self.rows.clone()),
                    peer_metrics: None,
                    proxysql_servers: None,
                    cluster_variables: Some(self.vars.clone()),
                    admin_users: Some(self.admin_users.clone()),
                    notes: Vec::new(),
                }),
            },
        }
    }
}

/// Every node monitors every node (itself included), all checked at `T`.
fn mesh(nodes: &mut [Node], dc: u64) -> Vec<NodeSnapshot> {
    let all = nodes.to_vec();
    for n in nodes.iter_mut() {
        for p in &all {
            n.sees(p, dc, T);
        }
    }
    nodes.iter().map(Node::snapshot).collect()
}

/// The two nodes of the reference scenario at step 4 (`runtime_checksums_values` tables of
/// the scenario README).
fn scenario_step4() -> [Node; 2] {
    [
        node("node1", "192.168.0.11", &STEP4_NODE1),
        node("node2", "192.168.0.12", &STEP4_NODE2),
    ]
}

fn of_module(findings: &[Finding], module: Module) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.module == Some(module))
        .collect()
}

fn only(findings: &[Finding], module: Module) -> &Finding {
    let fs = of_module(findings, module);
    assert_eq!(fs.len(), 1, "{module}: {fs:#?}");
    fs[0]
}

#[test]
fn scenario_step4_is_stuck_at_version_one_with_node1_to_act_on() {
    let snaps = mesh(&mut scenario_step4(), 150);
    let findings = diagnose(&snaps);
    for (module, load) in [
        (Module::MysqlQueryRules, "LOAD MYSQL QUERY RULES TO RUNTIME"),
        (Module::MysqlServers, "LOAD MYSQL SERVERS TO RUNTIME"),
        (Module::MysqlServersV2, "LOAD MYSQL SERVERS TO RUNTIME"),
    ] {
        let f = only(&findings, module);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.class,
            Class::StuckVersionOne {
                node_to_act_on: "node1".into(),
                nodes_waiting: vec!["node2".into()]
            },
            "{module}"
        );
        assert_eq!(f.node_to_act_on.as_deref(), Some("node1"));
        assert_eq!(
            f.fix,
            Some(Fix {
                node: "node1".into(),
                sql: vec![load.into()]
            })
        );
        assert!(f.why.contains("version 1"), "{}", f.why);
    }
    for module in [
        Module::AdminVariables,
        Module::MysqlUsers,
        Module::MysqlVariables,
        Module::ProxysqlServers,
    ] {
        let f = only(&findings, module);
        assert_eq!(
            (f.severity, &f.class),
            (Severity::Ok, &Class::InSync),
            "{module}"
        );
    }
    assert_eq!(
        findings.iter().filter(|f| f.module.is_none()).count(),
        0,
        "{findings:#?}"
    );
    assert_eq!(overall(&findings), Severity::Critical);
    assert_eq!(overall(&findings).exit_code(), 2);
    assert_eq!(
        fixes(&findings),
        [Fix {
            node: "node1".into(),
            sql: vec![
                "LOAD MYSQL QUERY RULES TO RUNTIME".into(),
                "LOAD MYSQL SERVERS TO RUNTIME".into()
            ]
        }]
    );
}

#[test]
fn scenario_step5_after_the_fix_node2_converges_then_all_in_sync() {
    let [mut node1, mut node2] = scenario_step4();
    for r in &mut node1.own {
        if ["mysql_query_rules", "mysql_servers", "mysql_servers_v2"].contains(&r.name.as_str()) {
            r.version = 2;
            r.epoch = T - 10;
        }
    }
    // First check after the LOAD: node2's counters were already high, so it pulls at once.
    let snaps = mesh(&mut [node1.clone(), node2.clone()], 151);
    let findings = diagnose(&snaps);
    let f = only(&findings, Module::MysqlQueryRules);
    assert_eq!(
        f.class,
        Class::SyncFailing {
            puller: "node2".into(),
            source: "node1".into(),
            diff_check: 151
        },
        "a due pull that never happens is a failure"
    );
    // A fresh difference instead: converging, 2 checks to go.
    let snaps = mesh(&mut [node1.clone(), node2.clone()], 1);
    let findings = diagnose(&snaps);
    let f = only(&findings, Module::MysqlServersV2);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.class,
        Class::Converging {
            puller: "node2".into(),
            source: "node1".into(),
            checks_left: 2,
            since_s: Some(500),
        }
    );
    assert_eq!(
        f.why,
        "node2 will pull mysql_servers_v2 from node1 after 2 more checks."
    );
    assert_eq!(overall(&findings), Severity::Warning);
    // After the pull node2 holds node1's checksums.
    for r in &mut node2.own {
        if let Some(src) = node1.own.iter().find(|s| s.name == r.name) {
            r.checksum = src.checksum.clone();
        }
    }
    let findings = diagnose(&mesh(&mut [node1, node2], 0));
    assert!(
        findings.iter().all(|f| f.class == Class::InSync),
        "{findings:#?}"
    );
    assert_eq!(overall(&findings), Severity::Ok);
    assert!(fixes(&findings).is_empty());
}

fn two_nodes_users(n1: (u64, u64, &str), n2: (u64, u64, &str)) -> [Node; 2] {
    [
        node("node1", "10.0.0.1", &[("mysql_users", n1.0, n1.1, n1.2)]),
        node("node2", "10.0.0.2", &[("mysql_users", n2.0, n2.1, n2.2)]),
    ]
}

#[test]
fn equal_epoch_conflict() {
    let mut nodes = two_nodes_users((2, 500, "0xAAAA"), (3, 500, "0xBBBB"));
    let findings = diagnose(&mesh(&mut nodes, 40));
    let f = only(&findings, Module::MysqlUsers);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(
        f.class,
        Class::EqualEpochConflict {
            nodes: vec!["node1".into(), "node2".into()]
        }
    );
    assert_eq!(
        f.fix.as_ref().unwrap().sql,
        ["LOAD MYSQL USERS TO RUNTIME"],
        "the real fix, not the log's MYSQL SERVERS quirk"
    );
}

#[test]
fn sync_disabled_by_zero_diffs() {
    let mut nodes = two_nodes_users((2, 900, "0xNEW"), (2, 500, "0xOLD"));
    nodes[1] = nodes[1]
        .clone()
        .var("admin-cluster_mysql_users_diffs_before_sync", "0");
    let findings = diagnose(&mesh(&mut nodes, 12));
    let f = only(&findings, Module::MysqlUsers);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.class,
        Class::SyncDisabled {
            nodes: vec!["node2".into()]
        }
    );
    assert_eq!(f.node_to_act_on.as_deref(), Some("node2"));
    assert!(f.fix.as_ref().unwrap().sql[0].contains("admin-cluster_mysql_users_diffs_before_sync"));
}

#[test]
fn no_cluster_user_disables_monitoring() {
    let mut nodes = two_nodes_users((2, 900, "0xNEW"), (2, 500, "0xOLD"));
    nodes[1] = nodes[1].clone().var("admin-cluster_username", "");
    nodes[0].sees(&nodes[1].clone(), 1, T);
    nodes[0].sees(&nodes[0].clone(), 1, T);
    nodes[1].sees(&nodes[0].clone(), 0, 0);
    nodes[1].sees(&nodes[1].clone(), 0, 0);
    let findings = diagnose(&[nodes[0].snapshot(), nodes[1].snapshot()]);
    let f = findings.iter().find(|f| f.module.is_none()).unwrap();
    assert_eq!(
        f.class,
        Class::SyncDisabled {
            nodes: vec!["node2".into()]
        }
    );
    // Its stale rows are not blamed on the network or credentials.
    assert_eq!(
        findings.iter().filter(|f| f.module.is_none()).count(),
        1,
        "{findings:#?}"
    );
    // node1 is newer and node2 does not look: nobody acts.
    assert!(matches!(
        only(&findings, Module::MysqlUsers).class,
        Class::Diverged { .. }
    ));
}

#[test]
fn peer_unreachable_from_console_and_from_peers() {
    let mut nodes = two_nodes_users((2, 500, "0xA"), (2, 500, "0xA"));
    let mut node3 = node("node3", "10.0.0.3", &[("mysql_users", 2, 500, "0xA")]);
    node3.error = Some(ClientError::Io {
        cause: "Connection refused (os error 111)".into(),
    });
    let all = [nodes[0].clone(), nodes[1].clone(), node3.clone()];
    for n in nodes.iter_mut() {
        for p in &all {
            let when = if p.name == "node3" { T - 120 } else { T };
            n.sees(p, 0, when);
        }
    }
    let findings = diagnose(&[nodes[0].snapshot(), nodes[1].snapshot(), node3.snapshot()]);
    let f = findings.iter().find(|f| f.module.is_none()).unwrap();
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(
        f.class,
        Class::PeerUnreachable {
            node: "node3".into(),
            seen_by: vec!["console".into(), "node1".into(), "node2".into()],
            cause: Some("connection failed: Connection refused (os error 111)".into()),
        }
    );
    assert_eq!(f.node_to_act_on.as_deref(), Some("node3"));
    assert_eq!(only(&findings, Module::MysqlUsers).class, Class::InSync);
    assert_eq!(overall(&findings), Severity::Critical);
}

#[test]
fn link_down_while_console_reaches_both() {
    let mut nodes = two_nodes_users((2, 500, "0xA"), (2, 500, "0xA"));
    let all = nodes.clone();
    nodes[0].sees(&all[0], 0, T);
    nodes[0].sees(&all[1], 0, T - 30);
    nodes[1].sees(&all[0], 0, T);
    nodes[1].sees(&all[1], 0, T);
    let findings = diagnose(&[nodes[0].snapshot(), nodes[1].snapshot()]);
    let f = findings.iter().find(|f| f.module.is_none()).unwrap();
    assert_eq!(
        f.class,
        Class::PeerUnreachable {
            node: "node2".into(),
            seen_by: vec!["node1".into()],
            cause: None
        }
    );
    assert!(f.why.contains("has stopped checking"), "{}", f.why);
    // A lag within the threshold (3 × 1 s + 2 s) is normal.
    nodes[0].set_row("10.0.0.2", Module::MysqlUsers, |s| s.updated_at = T - 4);
    let findings = diagnose(&[nodes[0].snapshot(), nodes[1].snapshot()]);
    assert!(findings.iter().all(|f| f.module.is_some()), "{findings:#?}");
}

#[test]
fn scenario_step3_peer_without_the_cluster_user() {
    let [mut node1, mut node2] = scenario_step4();
    node2.admin_users = vec!["admin".into()];
    let (n1, n2) = (node1.clone(), node2.clone());
    node1.sees(&n1, 0, T);
    node1.sees(&n2, 0, 0); // never checked: Access denied
    node2.sees(&n1, 150, T);
    node2.sees(&n2, 0, 0); // node2 refuses its own check too, which is harmless
    let findings = diagnose(&[node1.snapshot(), node2.snapshot()]);
    let node_level: Vec<&Finding> = findings.iter().filter(|f| f.module.is_none()).collect();
    assert_eq!(node_level.len(), 1, "{node_level:#?}");
    let f = node_level[0];
    assert_eq!(
        f.class,
        Class::CredentialsRefused {
            node: "node2".into(),
            user: Some("cluster_user".into()),
            refused: vec!["node1".into()],
        }
    );
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.node_to_act_on.as_deref(), Some("node2"));
    let fix = f.fix.as_ref().unwrap();
    assert_eq!(fix.node, "node2");
    assert!(
        fix.sql[0].contains("';cluster_user:<password of cluster_user>'"),
        "{}",
        fix.sql[0]
    );
    assert_eq!(fix.sql[1], "LOAD ADMIN VARIABLES TO RUNTIME");
}

#[test]
fn console_login_refused() {
    let mut n = node("node1", "10.0.0.1", &[]);
    n.error = Some(ClientError::Server {
        code: 1045,
        state: "28000".into(),
        message: "ProxySQL Error: Access denied for user 'admin'@'10.0.0.9' (using password: YES)"
            .into(),
    });
    let findings = diagnose(&[n.snapshot()]);
    assert_eq!(findings.len(), 1);
    assert_eq!(
        findings[0].class,
        Class::CredentialsRefused {
            node: "node1".into(),
            user: None,
            refused: vec!["console".into()]
        }
    );
    assert_eq!(overall(&findings), Severity::Critical);
}

#[test]
fn version_mismatch() {
    let mut nodes = two_nodes_users((2, 500, "0xA"), (2, 500, "0xA"));
    nodes[1].version = "2.7.1-7-gdeadbee";
    let all = nodes.clone();
    nodes[0].sees(&all[0], 0, T);
    nodes[0].sees(&all[1], 0, 0);
    nodes[1].sees(&all[0], 0, 0);
    nodes[1].sees(&all[1], 0, T);
    let findings = diagnose(&[nodes[0].snapshot(), nodes[1].snapshot()]);
    let node_level: Vec<&Finding> = findings.iter().filter(|f| f.module.is_none()).collect();
    assert_eq!(
        node_level.len(),
        1,
        "the stale links are explained by the versions: {node_level:#?}"
    );
    let Class::VersionMismatch { versions } = &node_level[0].class else {
        panic!("{node_level:#?}")
    };
    assert_eq!(versions["2.7.1-7-gdeadbee"], ["node2"]);
    assert_eq!(versions[VERSION], ["node1"]);
    assert_eq!(node_level[0].severity, Severity::Critical);
}

#[test]
fn runtime_servers_not_synced_under_algorithm_2() {
    let own1 = [
        ("mysql_servers", 2, 500, "0xRT1"),
        ("mysql_servers_v2", 2, 500, "0xCFG"),
    ];
    let own2 = [
        ("mysql_servers", 3, 600, "0xRT2"),
        ("mysql_servers_v2", 2, 500, "0xCFG"),
    ];
    let algo2 = |n: Node| n.var("admin-cluster_mysql_servers_sync_algorithm", "2");
    let mut nodes = [
        algo2(node("node1", "10.0.0.1", &own1)),
        algo2(node("node2", "10.0.0.2", &own2)),
    ];
    let findings = diagnose(&mesh(&mut nodes, 40));
    let f = only(&findings, Module::MysqlServers);
    assert_eq!(f.severity, Severity::Ok);
    assert!(matches!(f.class, Class::RuntimeNotSynced { .. }), "{f:#?}");
    assert_eq!(only(&findings, Module::MysqlServersV2).class, Class::InSync);
    // With algorithm 1 the same state means node1 should have pulled node2's newer runtime.
    let mut nodes = [
        node("node1", "10.0.0.1", &own1),
        node("node2", "10.0.0.2", &own2),
    ];
    let findings = diagnose(&mesh(&mut nodes, 2));
    assert_eq!(
        only(&findings, Module::MysqlServers).class,
        Class::Converging {
            puller: "node1".into(),
            source: "node2".into(),
            checks_left: 1,
            since_s: Some(500),
        }
    );
}

#[test]
fn authoritative_pick() {
    let c = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, c)| ((*n).into(), (*c).into()))
            .collect()
    };
    let none = |_: &str| 1;
    assert_eq!(
        pick_authoritative(&c(&[("a", EMPTY_CHECKSUM), ("b", "0x1")]), none)
            .unwrap()
            .0,
        "b"
    );
    let holders = |ch: &str| if ch == "0x2" { 3 } else { 1 };
    assert_eq!(
        pick_authoritative(&c(&[("a", "0x1"), ("b", "0x2")]), holders)
            .unwrap()
            .0,
        "b"
    );
    assert_eq!(
        pick_authoritative(&c(&[("b", "0x1"), ("a", "0x2")]), none)
            .unwrap()
            .0,
        "a"
    );
    assert_eq!(pick_authoritative(&BTreeMap::new(), none), None);
}

#[test]
fn findings_serialize_for_batch_mode() {
    let findings = diagnose(&mesh(&mut scenario_step4(), 150));
    let v = serde_json::to_value(&findings).unwrap();
    let stuck = v
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["module"] == "mysql_query_rules")
        .unwrap();
    assert_eq!(stuck["severity"], "CRITICAL");
    assert_eq!(stuck["class"], "stuck_version_one");
    assert_eq!(stuck["node_to_act_on"], "node1");
    assert_eq!(stuck["nodes_waiting"][0], "node2");
    assert_eq!(stuck["fix"]["sql"][0], "LOAD MYSQL QUERY RULES TO RUNTIME");
}

#[test]
fn empty_input() {
    assert!(diagnose(&[]).is_empty());
    assert_eq!(overall(&[]), Severity::Ok);
}

#[test]
fn one_node_alone_tells_its_stuck_peer() {
    // Only node2 is polled: its own rows for node1 (version 1, differing, diff_check 150)
    // are the cluster's state, so the check is not a lonely "in sync".
    let snaps = mesh(&mut scenario_step4(), 150);
    let findings = diagnose(&snaps[1..]);
    let f = only(&findings, Module::MysqlQueryRules);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.node_to_act_on.as_deref(), Some("192.168.0.11:6032"));
    assert_eq!(
        f.fix.as_ref().map(|x| x.sql.clone()),
        Some(vec!["LOAD MYSQL QUERY RULES TO RUNTIME".to_owned()])
    );
    assert_eq!(overall(&findings), Severity::Critical);
    // Modules node2 agrees on with node1 are in sync, counting the peer it sees.
    let users = only(&findings, Module::MysqlUsers);
    assert_eq!(users.class, Class::InSync);
    assert!(users.why.contains("the 1 peer they see"), "{}", users.why);
}

#[test]
fn a_load_moments_ago_is_converging_not_diverged() {
    // node1 loaded new users at T; node2 last checked node1 before that and still sees the
    // old checksum, so nobody's counter runs yet.
    let [mut node1, mut node2] = two_nodes_users((2, 500, "0xOLD"), (2, 500, "0xOLD"));
    let before = node1.clone();
    node1.own[0] = ChecksumRow {
        name: "mysql_users".into(),
        version: 3,
        epoch: T,
        checksum: "0xNEW".into(),
    };
    let after = node1.clone();
    node1.sees(&after, 0, T);
    node1.sees(&node2.clone(), 0, T);
    node2.sees(&before, 0, T);
    let self2 = node2.clone();
    node2.sees(&self2, 0, T);
    let findings = diagnose(&[node1.snapshot(), node2.snapshot()]);
    let f = only(&findings, Module::MysqlUsers);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.class,
        Class::Converging {
            puller: "node2".into(),
            source: "node1".into(),
            checks_left: 3,
            since_s: Some(0),
        }
    );
    assert!(
        f.why.starts_with("node1 loaded a new mysql_users 0 s ago"),
        "{}",
        f.why
    );
    let graced = check::apply_grace(findings, 10);
    assert_eq!(overall(&graced), Severity::Ok);

    // The same difference long after the load is no longer "just loaded": the hint names
    // the node holding the newest config.
    node1.own[0].epoch = T - 600;
    let findings = diagnose(&[node1.snapshot(), node2.snapshot()]);
    let f = only(&findings, Module::MysqlUsers);
    assert!(matches!(f.class, Class::Diverged { .. }), "{f:#?}");
    assert!(
        f.why
            .starts_with("node1 holds the newest mysql_users (loaded 600 s ago) but node2"),
        "{}",
        f.why
    );
}

// --- Issue #15: peer lists, clocks and version 1 everywhere (diagnosis/peers.rs) ---------

fn servers(list: &[(&str, u16)]) -> Vec<crate::client::snapshot::ProxysqlServerRow> {
    list.iter()
        .map(|(h, p)| crate::client::snapshot::ProxysqlServerRow {
            hostname: (*h).into(),
            port: *p,
            weight: 0,
            comment: String::new(),
        })
        .collect()
}

fn with_list(mut s: NodeSnapshot, list: &[(&str, u16)]) -> NodeSnapshot {
    if let Ok(d) = &mut s.result {
        d.proxysql_servers = Some(servers(list));
    }
    s
}

fn config_kinds(findings: &[Finding]) -> Vec<(&'static str, String)> {
    findings
        .iter()
        .filter_map(|f| match &f.class {
            Class::Config { kind, node, .. } => Some((kind.name(), node.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn peer_lists_self_missing_asymmetric_and_empty() {
    // Each node checks exactly the peers it lists (stats rows exist for those only).
    let mut n1 = node("n1", "10.0.0.1", &STEP4_NODE1);
    let mut n2 = node("n2", "10.0.0.2", &STEP4_NODE2);
    let n3 = node("n3", "10.0.0.3", &STEP4_NODE2);
    n1.sees(&n2.clone(), 1, T);
    n2.sees(&n2.clone(), 0, T);
    n2.sees(&n3, 0, T);
    let snaps = [n1.snapshot(), n2.snapshot(), n3.snapshot()];
    // n1 lists n2 but not itself, though n2 lists it (a core); n2 lists n1, itself and n3,
    // which lists only itself; n4 lists nobody.
    let n4 = node("n4", "10.0.0.4", &STEP4_NODE2).snapshot();
    let snaps = vec![
        with_list(snaps[0].clone(), &[("10.0.0.2", 6032)]),
        with_list(
            snaps[1].clone(),
            &[("10.0.0.1", 6032), ("10.0.0.2", 6032), ("10.0.0.3", 6032)],
        ),
        with_list(snaps[2].clone(), &[("10.0.0.3", 6032)]),
        with_list(n4, &[]),
    ];
    let kinds = config_kinds(&diagnose(&snaps));
    assert!(
        kinds.contains(&("self_missing_from_peers", "n1".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("peers_asymmetric", "n3".into())),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("peers_empty", "n4".into())), "{kinds:?}");
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    // Symmetric full lists: nothing.
    let full = [
        ("10.0.0.1", 6032),
        ("10.0.0.2", 6032),
        ("10.0.0.3", 6032),
        ("10.0.0.4", 6032),
    ];
    let snaps: Vec<NodeSnapshot> = snaps.into_iter().map(|s| with_list(s, &full)).collect();
    assert!(config_kinds(&diagnose(&snaps)).is_empty());
}

#[test]
fn a_satellite_lists_the_cores_only() {
    // n3 lists the two cores, which list each other and not n3: the normal layout.
    let nodes: Vec<NodeSnapshot> = ["n1", "n2", "n3"]
        .iter()
        .zip(["10.0.0.1", "10.0.0.2", "10.0.0.3"])
        .map(|(n, h)| {
            with_list(
                node(n, h, &STEP4_NODE2).snapshot(),
                &[("10.0.0.1", 6032), ("10.0.0.2", 6032)],
            )
        })
        .collect();
    assert!(config_kinds(&diagnose(&nodes)).is_empty());
}

#[test]
fn a_node_listed_under_another_address_is_recognised_by_its_checksums() {
    // Polled on loopback, listed as 192.168.0.11: its own row shows exactly its checksums.
    let mut n1 = node("n1", "192.168.0.11", &STEP4_NODE1);
    let me = n1.clone();
    n1.sees(&me, 0, T);
    let mut s = with_list(n1.snapshot(), &[("192.168.0.11", 6032)]);
    s.host = "127.0.0.1".into();
    s.port = 16032;
    assert!(config_kinds(&diagnose(&[s])).is_empty());
}

#[test]
fn several_peers_on_one_host_and_a_removed_peer_still_checked() {
    let mut n1 = node("n1", "10.0.0.1", &STEP4_NODE1);
    let gone = node("gone", "10.0.0.9", &STEP4_NODE1);
    n1.sees(&gone, 0, T);
    let me = n1.clone();
    n1.sees(&me, 0, T);
    let s = with_list(
        n1.snapshot(),
        &[("10.0.0.1", 6032), ("10.0.0.5", 6032), ("10.0.0.5", 6033)],
    );
    let kinds = config_kinds(&diagnose(&[s]));
    assert!(
        kinds.contains(&("peers_same_host", "n1".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("removed_peer_still_checked", "n1".into())),
        "{kinds:?}"
    );
}

#[test]
fn an_epoch_in_the_future_is_critical_with_its_evidence() {
    let mut nodes = scenario_step4();
    nodes[1].own[0].epoch = T + 3600;
    let snaps = mesh(&mut nodes, 0);
    let findings = diagnose(&snaps);
    let f = findings
        .iter()
        .find(|f| f.class.kind() == "epoch_in_future")
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.module, Some(Module::AdminVariables));
    assert_eq!(f.node_to_act_on.as_deref(), Some("node2"));
    let Class::Config { evidence, .. } = &f.class else {
        panic!("not config")
    };
    assert!(evidence[0].value.contains("3600 s ahead"), "{evidence:?}");
    // Within the slack: ordinary skew says nothing.
    let mut nodes = scenario_step4();
    nodes[1].own[0].epoch = T + 30;
    let findings = diagnose(&mesh(&mut nodes, 0));
    assert!(!findings.iter().any(|f| f.class.kind() == "epoch_in_future"));
}

#[test]
fn every_node_at_version_one_is_information_with_the_reseed_fix() {
    let all_v1: Vec<(&str, u64, u64, &str)> = STEP4_NODE1
        .iter()
        .map(|(n, _, e, c)| (*n, 1, *e, *c))
        .collect();
    let mut nodes = [
        node("n1", "10.0.0.1", &all_v1),
        node("n2", "10.0.0.2", &all_v1),
    ];
    let findings = diagnose(&mesh(&mut nodes, 0));
    let f: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.class.kind() == "all_version_one")
        .collect();
    let modules: Vec<Module> = f.iter().filter_map(|f| f.module).collect();
    assert_eq!(
        modules,
        [
            Module::MysqlQueryRules,
            Module::MysqlServersV2,
            Module::MysqlUsers,
            Module::ProxysqlServers
        ]
    );
    assert!(f.iter().all(|f| f.severity == Severity::Ok));
    assert_eq!(
        f[0].fix.as_ref().map(|x| x.sql.clone()),
        Some(vec!["LOAD MYSQL QUERY RULES TO RUNTIME".to_owned()])
    );
    assert_eq!(overall(&findings), Severity::Ok);
}

#[test]
fn the_deprecated_checksum_flag_disables_sync_like_a_zero_d() {
    let [n1, n2] = two_nodes_users((2, 900, "0xNEW"), (2, 500, "0xOLD"));
    let mut nodes = [n1, n2.var("admin-checksum_mysql_users", "false")];
    let findings = diagnose(&mesh(&mut nodes, 12));
    let f = only(&findings, Module::MysqlUsers);
    assert_eq!(f.class.kind(), "sync_disabled");
    assert!(
        f.why.contains("admin-checksum_mysql_users=false"),
        "{}",
        f.why
    );
    assert_eq!(
        f.fix.as_ref().unwrap().sql[0],
        "UPDATE global_variables SET variable_value = 'true' WHERE variable_name = 'admin-checksum_mysql_users'"
    );
}

#[test]
fn every_finding_serialises_a_kind() {
    let findings = diagnose(&mesh(&mut scenario_step4(), 150));
    let json = serde_json::to_value(&findings).unwrap();
    for (f, v) in findings.iter().zip(json.as_array().unwrap()) {
        assert_eq!(v["kind"], f.class.kind());
        assert_eq!(
            v.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k == "kind")
                .count(),
            1
        );
    }
}
