//! Issue #15's ways a cluster stops syncing, each reproduced on real `pxadm node` processes
//! and diagnosed by `pxadm --batch diagnose --format json`: the finding's stable `kind`, the
//! node to act on and the exact fix are asserted, then (where it is SQL) the fix is run and
//! the finding must clear. The re-seed (`pxadm --batch reseed`) is checked to fix the
//! reference scenario's trap (a node restarted from disk at version 1) in one step.
//!
//! Nodes talk over loopback; checks run every 200 ms so a difference is seen quickly. Every
//! wait polls for its condition with a generous timeout.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{pxadm_bin, query_rows, try_query_rows, TestNode, HOST};
use serde_json::Value;

/// How long a situation may take to show (or clear) in the diagnosis.
const SHOW: Duration = Duration::from_secs(60);
/// The tests' cluster user, added to every node's admin credentials.
const CLUSTER_USER: &str = "cluster";
const CLUSTER_PASS: &str = "clusterpass";

/// Runs statements in order on a fresh admin connection, panicking on the first error.
async fn exec(node: &TestNode, statements: &[&str]) {
    let mut conn = node.admin().await;
    for sql in statements {
        if let Err(e) = try_query_rows(&mut conn, sql).await {
            panic!("{}: {sql:?} failed: {e}", node.admin_addr());
        }
    }
}

async fn exec_owned(node: &TestNode, statements: &[String]) {
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    exec(node, &refs).await;
}

/// Makes `node` a cluster member that checks `peers` (admin ports) every 200 ms, with the
/// cluster user known everywhere; saved to disk so a restart keeps it.
async fn join(node: &TestNode, peers: &[u16]) {
    let mut sql = vec![
        format!("UPDATE global_variables SET variable_value='admin:admin;{CLUSTER_USER}:{CLUSTER_PASS}' WHERE variable_name='admin-admin_credentials'"),
        format!("UPDATE global_variables SET variable_value='{CLUSTER_USER}' WHERE variable_name='admin-cluster_username'"),
        format!("UPDATE global_variables SET variable_value='{CLUSTER_PASS}' WHERE variable_name='admin-cluster_password'"),
        "UPDATE global_variables SET variable_value='200' WHERE variable_name='admin-cluster_check_interval_ms'".to_owned(),
        "LOAD ADMIN VARIABLES TO RUNTIME".to_owned(),
        "SAVE ADMIN VARIABLES TO DISK".to_owned(),
        "DELETE FROM proxysql_servers".to_owned(),
    ];
    for p in peers {
        sql.push(format!(
            "INSERT INTO proxysql_servers (hostname, port, weight, comment) VALUES ('{HOST}', {p}, 0, 'n{p}')"
        ));
    }
    sql.push("LOAD PROXYSQL SERVERS TO RUNTIME".into());
    sql.push("SAVE PROXYSQL SERVERS TO DISK".into());
    exec_owned(node, &sql).await;
}

/// `pxadm ARGS`, with its stdout as JSON.
async fn pxadm_json(args: &[String]) -> Value {
    let home = tempfile::tempdir().expect("home");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(pxadm_bin())
            .args(args)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("PXADM_LOOPBACK_ONLY", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("pxadm did not finish within 60 s")
    .expect("pxadm runs");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "pxadm {args:?}: not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn node_args(nodes: &[(&str, &TestNode)]) -> Vec<String> {
    let mut args = Vec::new();
    for (name, n) in nodes {
        args.push("-n".to_owned());
        args.push(format!("{name}=admin:admin@{HOST}:{}", n.admin_port()));
    }
    args
}

/// `pxadm --batch diagnose --format json` over exactly these nodes.
async fn diagnose(nodes: &[(&str, &TestNode)]) -> Value {
    let mut args: Vec<String> = ["--batch", "diagnose", "--no-discover", "--format", "json"]
        .map(String::from)
        .to_vec();
    args.extend(node_args(nodes));
    pxadm_json(&args).await
}

/// The findings of `kind` (and `module`, when given).
fn of_kind<'v>(report: &'v Value, kind: &str, module: Option<&str>) -> Vec<&'v Value> {
    report["findings"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter(|f| f["kind"] == kind)
                .filter(|f| module.is_none_or(|m| f["module"] == m))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls the diagnosis until `done` holds for it; panics with the last report after [`SHOW`].
async fn wait_report(
    nodes: &[(&str, &TestNode)],
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + SHOW;
    loop {
        let report = diagnose(nodes).await;
        if done(&report) {
            return report;
        }
        if Instant::now() > deadline {
            panic!("{what}: {report:#}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Polls the diagnosis until a finding of `kind` on `module` shows; returns it.
async fn wait_finding(nodes: &[(&str, &TestNode)], kind: &str, module: Option<&str>) -> Value {
    let report = wait_report(nodes, &format!("no {kind} finding on {module:?}"), |r| {
        !of_kind(r, kind, module).is_empty()
    })
    .await;
    of_kind(&report, kind, module)[0].clone()
}

/// Polls the diagnosis until no finding of `kind` on `module` is left.
async fn wait_cleared(nodes: &[(&str, &TestNode)], kind: &str, module: Option<&str>) {
    wait_report(nodes, &format!("{kind} on {module:?} did not clear"), |r| {
        of_kind(r, kind, module).is_empty()
    })
    .await;
}

fn fix_sql(f: &Value) -> Vec<String> {
    f["fix"]["sql"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn edited_not_loaded_then_loaded_not_saved() {
    let node = TestNode::start().await;
    let nodes = [("n1", &node)];
    exec(
        &node,
        &["INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (7, 1, '^SELECT', 1, 1)"],
    )
    .await;
    let f = wait_finding(&nodes, "memory_not_loaded", Some("mysql_query_rules")).await;
    assert_eq!(f["class"], "config");
    assert_eq!(f["node"], "n1");
    assert_eq!(f["node_to_act_on"], "n1");
    assert_eq!(
        fix_sql(&f),
        [
            "LOAD MYSQL QUERY RULES TO RUNTIME",
            "SAVE MYSQL QUERY RULES TO DISK"
        ]
    );
    let evidence = f["evidence"].as_array().expect("evidence");
    assert!(
        evidence.iter().any(|e| e["layer"] == "MEMORY"
            && e["module"] == "mysql_query_rules"
            && e["value"].as_str().unwrap_or("").contains("^SELECT")),
        "{f:#}"
    );

    // Loaded but not saved: a restart would lose it.
    exec(&node, &["LOAD MYSQL QUERY RULES TO RUNTIME"]).await;
    let f = wait_finding(&nodes, "runtime_not_saved", Some("mysql_query_rules")).await;
    assert_eq!(fix_sql(&f), ["SAVE MYSQL QUERY RULES TO DISK"]);
    assert!(f["evidence"][0]["layer"] == "RUNTIME", "{f:#}");
    exec_owned(&node, &fix_sql(&f)).await;
    wait_cleared(&nodes, "runtime_not_saved", Some("mysql_query_rules")).await;

    // A user edited in MEMORY only; the fix loads and saves it.
    exec(
        &node,
        &["INSERT INTO mysql_users (username, password) VALUES ('app', 'secretpw')"],
    )
    .await;
    let report = diagnose(&nodes).await;
    let text = report.to_string();
    assert!(!text.contains("secretpw"), "a password leaked: {text}");
    let f = of_kind(&report, "memory_not_loaded", Some("mysql_users"))
        .first()
        .copied()
        .cloned()
        .unwrap_or_else(|| panic!("no memory_not_loaded on mysql_users: {report:#}"));
    exec_owned(&node, &fix_sql(&f)).await;
    wait_cleared(&nodes, "memory_not_loaded", Some("mysql_users")).await;
    wait_cleared(&nodes, "runtime_not_saved", Some("mysql_users")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn users_doubled_with_a_hashed_password() {
    let node = TestNode::start().await;
    let nodes = [("n1", &node)];
    exec(
        &node,
        &[
            "INSERT INTO mysql_users (username, password, frontend, backend) VALUES ('app', '*94BDCEBE19083CE2A1F959FD02F964C7AF4CFC29', 1, 0)",
            "INSERT INTO mysql_users (username, password, frontend, backend) VALUES ('app', 'clearpw', 0, 1)",
            "LOAD MYSQL USERS TO RUNTIME",
            "SAVE MYSQL USERS TO DISK",
        ],
    )
    .await;
    let f = wait_finding(&nodes, "duplicate_users", Some("mysql_users")).await;
    assert_eq!(f["node_to_act_on"], "n1");
    let sql = fix_sql(&f);
    assert_eq!(
        sql,
        [
            "DELETE FROM mysql_users WHERE username = 'app' AND backend = 0",
            "UPDATE mysql_users SET frontend = 1 WHERE username = 'app' AND backend = 1",
            "LOAD MYSQL USERS TO RUNTIME",
            "SAVE MYSQL USERS TO DISK",
        ]
    );
    exec_owned(&node, &sql).await;
    wait_cleared(&nodes, "duplicate_users", None).await;
    let mut conn = node.admin().await;
    let rows = query_rows(
        &mut conn,
        "SELECT password, frontend, backend FROM mysql_users WHERE username='app'",
    )
    .await;
    assert_eq!(
        rows,
        [vec![
            Some("clearpw".to_owned()),
            Some("1".to_owned()),
            Some("1".to_owned())
        ]]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_disabled_per_module_while_diverging() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let ports = [a.admin_port(), b.admin_port()];
    join(&a, &ports).await;
    join(&b, &ports).await;
    exec(
        &b,
        &[
            "UPDATE global_variables SET variable_value='0' WHERE variable_name='admin-cluster_mysql_query_rules_diffs_before_sync'",
            "LOAD ADMIN VARIABLES TO RUNTIME",
        ],
    )
    .await;
    exec(
        &a,
        &[
            "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (1, 1, '^SELECT', 1, 1)",
            "LOAD MYSQL QUERY RULES TO RUNTIME",
            "SAVE MYSQL QUERY RULES TO DISK",
        ],
    )
    .await;
    let nodes = [("a", &a), ("b", &b)];
    let f = wait_finding(&nodes, "sync_disabled", Some("mysql_query_rules")).await;
    assert_eq!(f["nodes"], serde_json::json!(["b"]));
    assert_eq!(f["node_to_act_on"], "b");
    let sql = fix_sql(&f);
    assert_eq!(
        sql,
        [
            "UPDATE global_variables SET variable_value = '3' WHERE variable_name = 'admin-cluster_mysql_query_rules_diffs_before_sync'",
            "LOAD ADMIN VARIABLES TO RUNTIME",
            "SAVE ADMIN VARIABLES TO DISK",
        ]
    );
    exec_owned(&b, &sql).await;
    wait_cleared(&nodes, "sync_disabled", Some("mysql_query_rules")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn version_strings_differ() {
    let a = TestNode::start().await;
    let b = TestNode::builder()
        .arg("--version-string")
        .arg("2.7.1-16-g2726c27")
        .start()
        .await;
    let report = diagnose(&[("a", &a), ("b", &b)]).await;
    let f = of_kind(&report, "version_mismatch", None);
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(
        f[0]["versions"]["2.7.1-16-g2726c27"],
        serde_json::json!(["b"])
    );
    assert_eq!(f[0]["severity"], "CRITICAL");
}

#[tokio::test(flavor = "multi_thread")]
async fn self_missing_asymmetric_and_empty_peer_lists() {
    let (a, b, c, d) = (
        TestNode::start().await,
        TestNode::start().await,
        TestNode::start().await,
        TestNode::start().await,
    );
    let (pa, pb, pc) = (a.admin_port(), b.admin_port(), c.admin_port());
    // proxysql_servers is a clustered module: its sync is turned off, or the nodes would
    // pull one list and hide the differences.
    for n in [&a, &b, &c, &d] {
        exec(
            n,
            &[
                "UPDATE global_variables SET variable_value='0' WHERE variable_name='admin-cluster_proxysql_servers_diffs_before_sync'",
                "LOAD ADMIN VARIABLES TO RUNTIME",
            ],
        )
        .await;
    }
    // a lists b but not itself, though b lists it; b lists a, b and c; c lists only itself
    // (so not b back); d lists nobody.
    join(&a, &[pb]).await;
    join(&b, &[pa, pb, pc]).await;
    join(&c, &[pc]).await;
    join(&d, &[]).await;
    let nodes = [("a", &a), ("b", &b), ("c", &c), ("d", &d)];
    let f = wait_finding(&nodes, "self_missing_from_peers", None).await;
    assert_eq!(f["node"], "a");
    assert_eq!(
        fix_sql(&f),
        [
            format!("INSERT INTO proxysql_servers (hostname, port, weight, comment) VALUES ('{HOST}', {pa}, 0, 'a')"),
            "LOAD PROXYSQL SERVERS TO RUNTIME".to_owned(),
            "SAVE PROXYSQL SERVERS TO DISK".to_owned(),
        ]
    );
    let report = diagnose(&nodes).await;
    let asym = of_kind(&report, "peers_asymmetric", None);
    assert_eq!(asym.len(), 1, "{report:#}");
    assert_eq!(asym[0]["node_to_act_on"], "c");
    assert_eq!(
        fix_sql(asym[0])[0],
        format!("INSERT INTO proxysql_servers (hostname, port, weight, comment) VALUES ('{HOST}', {pb}, 0, 'b')")
    );
    let empty = of_kind(&report, "peers_empty", None);
    assert_eq!(empty.len(), 1, "{report:#}");
    assert_eq!(empty[0]["node"], "d");
    assert_eq!(empty[0]["severity"], "CRITICAL");
    let sql = fix_sql(empty[0]);
    for p in [pa, pb, pc] {
        assert!(
            sql.contains(&format!("INSERT INTO proxysql_servers (hostname, port, weight, comment) VALUES ('{HOST}', {p}, 0, '')")),
            "{sql:?}"
        );
    }
    // The fixes as given clear all three (d then lists the cores: a satellite).
    exec_owned(&a, &fix_sql(&f)).await;
    exec_owned(&c, &fix_sql(asym[0])).await;
    exec_owned(&d, &sql).await;
    wait_cleared(&nodes, "self_missing_from_peers", None).await;
    wait_cleared(&nodes, "peers_asymmetric", None).await;
    wait_cleared(&nodes, "peers_empty", None).await;
}

/// The reference scenario's trap on loopback: node1 configured, saved and restarted (every
/// module at version 1), node2 new and empty. node2 never syncs; the diagnosis names node1
/// and the re-seed of node1 fixes it in one step.
#[tokio::test(flavor = "multi_thread")]
async fn restart_at_version_one_is_diagnosed_and_one_reseed_fixes_it() {
    let mut node1 = TestNode::start().await;
    let node2 = TestNode::start().await;
    let ports = [node1.admin_port(), node2.admin_port()];
    join(&node1, &ports).await;
    exec(
        &node1,
        &[
            "INSERT INTO mysql_servers (hostgroup_id, hostname, port, comment) VALUES (1, '127.0.0.1', 1, 'none')",
            "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (1, 1, '^SELECT', 1, 1)",
            "SAVE MYSQL SERVERS TO DISK",
            "SAVE MYSQL QUERY RULES TO DISK",
        ],
    )
    .await;
    node1.restart().await;
    join(&node2, &ports).await;
    let nodes = [("node1", &node1), ("node2", &node2)];
    let f = wait_finding(&nodes, "stuck_version_one", Some("mysql_query_rules")).await;
    assert_eq!(f["node_to_act_on"], "node1");
    assert_eq!(fix_sql(&f), ["LOAD MYSQL QUERY RULES TO RUNTIME"]);

    let mut args: Vec<String> = ["--batch", "reseed", "--node", "node1", "--format", "json"]
        .map(String::from)
        .to_vec();
    args.extend(node_args(&nodes));
    // The plan, without running it.
    let mut dry = args.clone();
    dry.push("--dry-run".into());
    let plan = pxadm_json(&dry).await;
    let planned: Vec<&str> = plan["plan"]["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan: {plan:#}"))
        .iter()
        .filter_map(|s| s["sql"].as_str())
        .collect();
    assert!(
        planned.contains(&"LOAD MYSQL QUERY RULES TO RUNTIME")
            && planned.contains(&"LOAD MYSQL SERVERS TO RUNTIME"),
        "{plan:#}"
    );
    assert!(
        plan["actions"]
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x["result"] == "planned")),
        "{plan:#}"
    );
    // Read-only refuses to run it.
    let mut ro = args.clone();
    ro.push("--read-only".into());
    let refused = pxadm_json(&ro).await;
    assert_eq!(refused["status"], "UNKNOWN", "{refused:#}");

    // One step.
    let done = pxadm_json(&args).await;
    assert!(
        done["actions"]
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x["result"] == "applied")),
        "{done:#}"
    );
    wait_report(&nodes, "node2 did not sync after the re-seed", |r| {
        ["mysql_query_rules", "mysql_servers_v2"]
            .iter()
            .all(|m| !of_kind(r, "in_sync", Some(m)).is_empty())
    })
    .await;
}
