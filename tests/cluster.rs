//! ProxySQL Cluster between real `pxadm node` processes (issue 3): the seed's steps 1–5, the
//! missing cluster user, three nodes with a satellite, syncs in both directions, the
//! equal-epoch conflict, killed and paused peers, and a lying peer.
//!
//! Layout: every node is started with `PXADM_LOOPBACK_ONLY=1` (harness) and `--peer-map`s
//! that put the scenario's core members `192.168.0.11:6032` / `192.168.0.12:6032` (as listed
//! by `node-cluster-setup.sql`, run unchanged) on loopback ports, so no connection ever
//! leaves the machine. Backends in `mysql_servers` are loopback addresses too.
//!
//! Check interval: the scenario SQL sets `admin-cluster_check_interval_ms=1000`. Right after
//! running it, every test lowers it to [`FAST_INTERVAL_MS`] on every node (`LOAD` + `SAVE
//! ADMIN VARIABLES`), which keeps the 30-check warnings of §6.4 at about 6 s instead of 30 s.
//! The identical change on every node keeps the `admin_variables` checksums equal. Waits are
//! polls with generous bounds; elapsed times are printed, never asserted tightly.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    free_port, mariadb_cli, query_rows, scenario_sql, try_query_rows, unix_now, wait_until, Signal,
    TestNode, ADMIN_PASS, ADMIN_USER, HOST, SCENARIO_NODE1, SCENARIO_NODE2,
};
use mysql_async::Conn;
use pxadm::node::protocol::{
    AuthRejection, Authenticator, ColumnDef, Command, Credential, HandshakeConfig, Password,
    PeerAddr, ServerConn,
};
use pxadm::proxysql::checksum;
use pxadm::proxysql::columns::{FAST_ROUTING_COLUMNS, QUERY_RULES_COLUMNS};
use pxadm::proxysql::resultset::ResultSet;
use tokio::net::TcpListener;

/// The check interval the tests run at (see the module comment).
const FAST_INTERVAL_MS: u64 = 200;
/// `admin-cluster_*_diffs_before_sync` as the scenario SQL sets it.
const DIFFS_BEFORE_SYNC: u64 = 3;
/// Bound of every convergence wait: far above (D + 2) intervals, for loaded CI machines.
const CONVERGE: Duration = Duration::from_secs(30);
/// Bound of waits for a periodic log line (30 checks ≈ 6 s at the fast interval).
const LOG_WAIT: Duration = Duration::from_secs(45);

const VERSION: &str = "2.7.2-14-g5cc418b";
const NODE1_HOST: &str = "192.168.0.11";
const NODE2_HOST: &str = "192.168.0.12";

/// Every module of `runtime_checksums_values` (§5.6).
const MODULES: [&str; 7] = [
    "admin_variables",
    "mysql_query_rules",
    "mysql_servers",
    "mysql_servers_v2",
    "mysql_users",
    "mysql_variables",
    "proxysql_servers",
];

// --- helpers ------------------------------------------------------------------------------

/// One row of `runtime_checksums_values`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ModuleState {
    version: u64,
    epoch: u64,
    checksum: String,
}

async fn try_checksums(node: &TestNode) -> Option<BTreeMap<String, ModuleState>> {
    let mut conn = common::try_admin_conn(node.admin_port(), ADMIN_USER, ADMIN_PASS)
        .await
        .ok()?;
    let rows = try_query_rows(
        &mut conn,
        "SELECT name, version, epoch, checksum FROM runtime_checksums_values ORDER BY name",
    )
    .await
    .ok()?;
    Some(
        rows.into_iter()
            .map(|r| {
                let text = |i: usize| r[i].clone().unwrap_or_default();
                (
                    text(0),
                    ModuleState {
                        version: text(1).parse().unwrap_or(0),
                        epoch: text(2).parse().unwrap_or(0),
                        checksum: text(3),
                    },
                )
            })
            .collect(),
    )
}

async fn checksums(node: &TestNode) -> BTreeMap<String, ModuleState> {
    try_checksums(node).await.unwrap_or_else(|| {
        panic!(
            "cannot read runtime_checksums_values of {}",
            node.admin_addr()
        )
    })
}

/// Runs statements one by one on a fresh admin connection, panicking on the first error.
async fn exec(node: &TestNode, statements: &[&str]) {
    let mut conn = node.admin().await;
    for sql in statements {
        if let Err(e) = try_query_rows(&mut conn, sql).await {
            panic!("{}: {sql:?} failed: {e}", node.admin_addr());
        }
    }
}

/// Runs one of the scenario's SQL files unchanged through the stock `mariadb` client.
async fn run_scenario_file(node: &TestNode, file: &str) {
    mariadb_cli(
        node.admin_port(),
        ADMIN_USER,
        ADMIN_PASS,
        &scenario_sql(file),
    )
    .await
    .expect_success();
}

/// Lowers the check interval (see the module comment).
async fn fast_checks(node: &TestNode) {
    exec(
        node,
        &[
            &format!(
                "UPDATE global_variables SET variable_value='{FAST_INTERVAL_MS}' WHERE variable_name='admin-cluster_check_interval_ms'"
            ),
            "LOAD ADMIN VARIABLES TO RUNTIME",
            "SAVE ADMIN VARIABLES TO DISK",
        ],
    )
    .await;
}

/// A node of the scenario's two-core layout on `port`, knowing where both cores listen.
async fn start_node(port: u16, node1: u16, node2: u16) -> TestNode {
    TestNode::builder()
        .admin_port(port)
        .scenario_peers(node1, node2)
        .start()
        .await
}

/// Runs the scenario's cluster set-up on `node` and lowers its check interval.
async fn join_cluster(node: &TestNode) {
    run_scenario_file(node, "node-cluster-setup.sql").await;
    fast_checks(node).await;
}

/// What `node` sees of `peer_host:6032`'s `module` in `stats_proxysql_servers_checksums`:
/// (version, epoch, checksum, diff_check).
async fn peer_view(
    node: &TestNode,
    peer_host: &str,
    module: &str,
) -> Option<(u64, u64, String, u64)> {
    let mut conn = common::try_admin_conn(node.admin_port(), ADMIN_USER, ADMIN_PASS)
        .await
        .ok()?;
    let rows = try_query_rows(
        &mut conn,
        &format!(
            "SELECT version, epoch, checksum, diff_check FROM stats_proxysql_servers_checksums \
             WHERE hostname='{peer_host}' AND port=6032 AND name='{module}'"
        ),
    )
    .await
    .ok()?;
    let r = rows.first()?;
    let num = |i: usize| r[i].as_deref().unwrap_or("0").parse().unwrap_or(0);
    Some((num(0), num(1), r[2].clone().unwrap_or_default(), num(3)))
}

/// Waits until every node reports the same checksum as `reference` for each of `modules`;
/// returns how long that took, panicking with all nodes' states after [`CONVERGE`].
async fn wait_converged(reference: &TestNode, others: &[&TestNode], modules: &[&str]) -> Duration {
    let started = Instant::now();
    let last = Arc::new(Mutex::new(String::new()));
    let converged = wait_until(CONVERGE, || {
        let last = last.clone();
        async move {
            let Some(want) = try_checksums(reference).await else {
                return false;
            };
            let mut report = format!("{}: {want:?}\n", reference.admin_addr());
            let mut all = true;
            for node in others {
                let Some(have) = try_checksums(node).await else {
                    all = false;
                    continue;
                };
                for m in modules {
                    if have.get(*m).map(|s| &s.checksum) != want.get(*m).map(|s| &s.checksum) {
                        all = false;
                    }
                }
                report.push_str(&format!("{}: {have:?}\n", node.admin_addr()));
            }
            *last.lock().unwrap() = report;
            all
        }
    })
    .await;
    assert!(
        converged,
        "no convergence of {modules:?} within {CONVERGE:?}:\n{}\n--- reference log tail ---\n{}",
        last.lock().unwrap(),
        common::tail(&reference.log(), 30)
    );
    started.elapsed()
}

/// Waits until `node` has clustered with `peer_host` (its checksums arrived at least once).
async fn wait_sees(node: &TestNode, peer_host: &str) {
    let seen = wait_until(CONVERGE, || async {
        peer_view(node, peer_host, "proxysql_servers")
            .await
            .is_some_and(|(version, ..)| version > 0)
    })
    .await;
    assert!(
        seen,
        "{} never received the checksums of {peer_host}:6032\n{}",
        node.admin_addr(),
        common::tail(&node.log(), 30)
    );
}

/// Two fresh core members that ran the scenario's cluster set-up and see each other.
async fn start_pair() -> (TestNode, TestNode) {
    let (p1, p2) = (free_port(), free_port());
    let node1 = start_node(p1, p1, p2).await;
    let node2 = start_node(p2, p1, p2).await;
    join_cluster(&node1).await;
    join_cluster(&node2).await;
    wait_sees(&node1, NODE2_HOST).await;
    wait_sees(&node2, NODE1_HOST).await;
    (node1, node2)
}

/// Replaces the query rules of `node` with one rule whose comment is `tag`, loads them to
/// runtime and returns the new local checksum.
///
/// The LOAD waits for the wall clock to pass the module's current epoch: a node that just
/// pulled holds its source's epoch, and loading within that same second would create the
/// equal-epoch conflict of §8.3 (which a real ProxySQL pair shows as well).
async fn load_rules(node: &TestNode, tag: &str) -> String {
    let epoch = checksums(node).await["mysql_query_rules"].epoch;
    while unix_now() <= epoch {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    exec(
        node,
        &[
            "DELETE FROM mysql_query_rules",
            &format!(
                "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment) \
                 VALUES (10, 1, '^SELECT', 20, 1, '{tag}')"
            ),
            "LOAD MYSQL QUERY RULES TO RUNTIME",
        ],
    )
    .await;
    checksums(node).await["mysql_query_rules"].checksum.clone()
}

async fn comments(node: &TestNode, table: &str) -> Vec<Option<String>> {
    let mut conn = node.admin().await;
    query_rows(
        &mut conn,
        &format!("SELECT comment FROM {table} ORDER BY rule_id"),
    )
    .await
    .into_iter()
    .map(|mut r| r.remove(0))
    .collect()
}

/// Node1's configuration in the seed: three backends behind a replication hostgroup pair, the
/// application user, and two query rules (writes to 10, reads to 20).
const NODE1_CONFIG: [&str; 14] = [
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port, comment) VALUES (10, '127.0.0.1', 13306, 'mysql-server1')",
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port, comment) VALUES (20, '127.0.0.1', 13307, 'mysql-server2')",
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port, comment) VALUES (20, '127.0.0.1', 13308, 'mysql-server3')",
    "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, check_type, comment) VALUES (10, 20, 'read_only', 'duhokim')",
    "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('svcusr', 'svcusr', 10)",
    "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (1, 1, '^SELECT.*FOR UPDATE$', 10, 1)",
    "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (2, 1, '^SELECT', 20, 1)",
    "LOAD MYSQL SERVERS TO RUNTIME",
    "LOAD MYSQL USERS TO RUNTIME",
    "LOAD MYSQL QUERY RULES TO RUNTIME",
    "SAVE MYSQL SERVERS TO DISK",
    "SAVE MYSQL USERS TO DISK",
    "SAVE MYSQL QUERY RULES TO DISK",
    "SELECT 1",
];

// --- the seed: steps 1-5 -------------------------------------------------------------------

#[tokio::test]
async fn seed_steps_1_to_5_stuck_version_one_then_fix_on_candidate_master() {
    let (p1, p2) = (free_port(), free_port());

    // Node1: configured, saved, restarted from disk so every module is at version 1.
    let mut node1 = start_node(p1, p1, p2).await;
    exec(&node1, &NODE1_CONFIG).await;
    node1.restart().await;
    let booted = checksums(&node1).await;
    for (name, state) in &booted {
        assert_eq!(state.version, 1, "node1 {name} after the restart");
    }
    // As in the report's table, node1's users were loaded again after its boot (version 2);
    // query rules and servers were not, and those are the two modules that get stuck.
    exec(&node1, &["LOAD MYSQL USERS TO RUNTIME"]).await;

    // Node2: newly installed, empty.
    let mut node2 = start_node(p2, p1, p2).await;

    // Step 1-2 on node1 first: its monitor reaches node2, which lacks the cluster user (step 3).
    join_cluster(&node1).await;
    let denied = node1
        .wait_for_log(
            "Cluster: unable to connect to peer 192.168.0.12:6032 . Error: ProxySQL Error: Access denied for user 'cluster_user'",
            LOG_WAIT,
        )
        .await;
    eprintln!("step 3: {denied}");

    // Steps 1-3 on node2.
    join_cluster(&node2).await;
    run_scenario_file(&node2, "node2-monitor.sql").await;
    // Node1 recovers by itself once the user exists.
    wait_sees(&node1, NODE2_HOST).await;
    wait_sees(&node2, NODE1_HOST).await;

    // Step 4: node2 sees node1's differing query rules and servers, but at version 1.
    let rising = wait_until(LOG_WAIT, || async {
        let first = peer_view(&node2, NODE1_HOST, "mysql_query_rules").await;
        tokio::time::sleep(Duration::from_millis(3 * FAST_INTERVAL_MS)).await;
        let second = peer_view(&node2, NODE1_HOST, "mysql_query_rules").await;
        matches!((first, second), (Some(a), Some(b)) if a.0 == 1 && a.3 > 0 && b.3 > a.3)
    })
    .await;
    assert!(
        rising,
        "diff_check of node1's mysql_query_rules does not rise on node2"
    );
    for module in ["mysql_query_rules", "mysql_servers"] {
        let line = node2
            .wait_for_log(
                &format!(
                    "Cluster: detected a peer 192.168.0.11:6032 with {module} version 1, epoch"
                ),
                LOG_WAIT,
            )
            .await;
        assert!(
            line.contains("[WARNING]")
                && line.contains(". diff_check is increasing, but version 1 doesn't allow sync. This message will be repeated every 30 checks until LOAD ")
                && line.contains(" TO RUNTIME is executed on candidate master."),
            "{line}"
        );
        assert!(
            line.contains("diff_check 30."),
            "first warning at 10xD checks: {line}"
        );
        eprintln!("step 4: {line}");
    }
    let stuck = checksums(&node2).await;
    assert_eq!(stuck["mysql_query_rules"].checksum, "0x0000000000000000");
    assert_eq!(stuck["mysql_servers_v2"].checksum, "0x0000000000000000");
    // Users (version 2 on node1) and mysql variables (version 2 on node2, pulled by node1,
    // whose own version is 1) did sync.
    let node1_now = checksums(&node1).await;
    assert_eq!(
        stuck["mysql_users"].checksum,
        node1_now["mysql_users"].checksum
    );
    assert_eq!(
        stuck["mysql_variables"].checksum,
        node1_now["mysql_variables"].checksum
    );

    // Step 5: the fix on the candidate master.
    let fix_started = Instant::now();
    run_scenario_file(&node1, "fix-on-candidate-master.sql").await;
    let elapsed = wait_converged(&node1, &[&node2], &MODULES).await;
    eprintln!(
        "step 5: node2 converged {:?} after the fix ({} checks of {FAST_INTERVAL_MS} ms = D + 2 would be {:?})",
        elapsed.max(fix_started.elapsed()),
        DIFFS_BEFORE_SYNC + 2,
        Duration::from_millis((DIFFS_BEFORE_SYNC + 2) * FAST_INTERVAL_MS)
    );
    let source = checksums(&node1).await;
    let synced = checksums(&node2).await;
    for module in ["mysql_query_rules", "mysql_servers_v2"] {
        assert_eq!(source[module].version, 2, "node1 {module}");
        // The puller's version is its own + 1, its epoch the source's (§6.7).
        assert_eq!(synced[module].version, 2, "node2 {module}");
        assert_eq!(
            synced[module].epoch, source[module].epoch,
            "node2 {module} epoch"
        );
    }
    for needle in [
        "Cluster: detected a peer 192.168.0.11:6032 with mysql_query_rules version 2, epoch",
        "Cluster: detected a peer 192.168.0.11:6032 with mysql_servers_v2 version 2, epoch",
        "Cluster: Fetch mysql_servers_v2:'YES', mysql_servers:'YES' from peer 192.168.0.11:6032",
        "Cluster: Fetching MySQL Query Rules from peer 192.168.0.11:6032 started. Expected checksum: ",
        "Cluster: Fetching MySQL Servers v2 from peer 192.168.0.11:6032 started. Expected checksum ",
        "Cluster: Loading to runtime MySQL Query Rules from peer 192.168.0.11:6032",
        "Cluster: Loading to runtime MySQL Servers v2 from peer 192.168.0.11:6032",
        "Cluster: Saving to disk MySQL Query Rules from peer 192.168.0.11:6032",
        "Cluster: Saving to disk MySQL Servers v2 from peer 192.168.0.11:6032",
    ] {
        let lines = node2.log_lines(needle);
        assert!(
            !lines.is_empty(),
            "node2 did not log {needle:?}\n{}",
            common::tail(&node2.log(), 40)
        );
    }
    assert!(node2
        .log_lines("Proceeding with remote sync")
        .iter()
        .any(|l| l.contains("with mysql_query_rules version 2")));

    // Saved to disk: node2 restarts into the same configuration (at version 1 again).
    node2.restart().await;
    let rebooted = checksums(&node2).await;
    for module in MODULES {
        assert_eq!(
            rebooted[module].checksum, source[module].checksum,
            "{module} after node2's restart"
        );
        assert_eq!(
            rebooted[module].version, 1,
            "{module} after node2's restart"
        );
    }
    let mut c1 = node1.admin().await;
    let mut c2 = node2.admin().await;
    // Users travel as the peer serves them, NULLs as '' (§6.8), which hashes the same.
    for sql in [
        "SELECT * FROM disk.mysql_servers ORDER BY 1, 2",
        "SELECT * FROM disk.mysql_replication_hostgroups ORDER BY 1, 2",
        "SELECT * FROM disk.mysql_query_rules ORDER BY 1, 2",
        "SELECT username, password, active, default_hostgroup, IFNULL(default_schema, ''), \
         transaction_persistent, max_connections FROM disk.mysql_users ORDER BY 1",
    ] {
        assert_eq!(
            query_rows(&mut c2, sql).await,
            query_rows(&mut c1, sql).await,
            "{sql}"
        );
    }
    node1.kill(Signal::Term);
}

// --- step 3 on its own --------------------------------------------------------------------

#[tokio::test]
async fn step3_missing_cluster_user_is_logged_as_access_denied_and_recovers() {
    let (p1, p2) = (free_port(), free_port());
    let node1 = start_node(p1, p1, p2).await;
    let node2 = start_node(p2, p1, p2).await;
    join_cluster(&node1).await;
    let line = node1
        .wait_for_log(
            "Cluster: unable to connect to peer 192.168.0.12:6032 . Error: ",
            LOG_WAIT,
        )
        .await;
    assert!(line.contains("[WARNING]"), "{line}");
    assert!(
        line.ends_with(
            "Error: ProxySQL Error: Access denied for user 'cluster_user'@'127.0.0.1' (using password: YES)"
        ),
        "{line}"
    );
    // Repeated once per attempt while the user is missing.
    let repeated = wait_until(LOG_WAIT, || async {
        node1
            .log_lines("Access denied for user 'cluster_user'")
            .len()
            >= 2
    })
    .await;
    assert!(
        repeated,
        "the Access denied line is logged on every attempt"
    );

    // Only the credentials, as in step 1 of the scenario on node2 (no LOAD of anything else).
    exec(
        &node2,
        &[
            "UPDATE global_variables SET variable_value='admin:admin;cluster_user:cluster_pass' WHERE variable_name='admin-admin_credentials'",
            "LOAD ADMIN VARIABLES TO RUNTIME",
        ],
    )
    .await;
    wait_sees(&node1, NODE2_HOST).await;
    let clustering = node1
        .wait_for_log(
            "Cluster: clustering with peer 192.168.0.12:6032 . Remote version: 2.7.2-14-g5cc418b . Self version: 2.7.2-14-g5cc418b",
            LOG_WAIT,
        )
        .await;
    eprintln!("recovered: {clustering}");
    // No more denials once it clustered.
    let denials = node1.log_lines("Access denied").len();
    tokio::time::sleep(Duration::from_millis(10 * FAST_INTERVAL_MS)).await;
    assert_eq!(node1.log_lines("Access denied").len(), denials);
}

// --- three nodes -------------------------------------------------------------------------

#[tokio::test]
async fn three_nodes_two_cores_and_a_satellite_converge() {
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let core1 = start_node(p1, p1, p2).await;
    let core2 = start_node(p2, p1, p2).await;
    // The satellite runs the same set-up: it lists the two cores and not itself.
    let satellite = start_node(p3, p1, p2).await;
    for node in [&core1, &core2, &satellite] {
        join_cluster(node).await;
    }
    for node in [&core1, &core2, &satellite] {
        wait_sees(node, NODE1_HOST).await;
        wait_sees(node, NODE2_HOST).await;
    }
    // Nobody monitors the satellite; the satellite monitors exactly the two cores.
    let mut sat = satellite.admin().await;
    let peers = query_rows(
        &mut sat,
        "SELECT DISTINCT hostname, port FROM stats_proxysql_servers_checksums ORDER BY hostname",
    )
    .await;
    assert_eq!(
        peers,
        [
            [Some(NODE1_HOST.to_string()), Some("6032".to_string())],
            [Some(NODE2_HOST.to_string()), Some("6032".to_string())]
        ]
    );

    // A change on a core reaches the other core and the satellite.
    let wanted = load_rules(&core1, "from core1").await;
    let elapsed = wait_converged(&core1, &[&core2, &satellite], &MODULES).await;
    eprintln!("three nodes converged in {elapsed:?}");
    assert_eq!(
        checksums(&satellite).await["mysql_query_rules"].checksum,
        wanted
    );
    assert_eq!(
        comments(&satellite, "runtime_mysql_query_rules").await,
        [Some("from core1".to_string())]
    );

    // A change on the satellite stays there: no core monitors it.
    let local = load_rules(&satellite, "satellite only").await;
    tokio::time::sleep(Duration::from_millis(15 * FAST_INTERVAL_MS)).await;
    assert_eq!(
        checksums(&core1).await["mysql_query_rules"].checksum,
        wanted
    );
    assert_eq!(
        checksums(&core2).await["mysql_query_rules"].checksum,
        wanted
    );
    assert_eq!(
        checksums(&satellite).await["mysql_query_rules"].checksum,
        local
    );
}

// --- both directions -----------------------------------------------------------------------

#[tokio::test]
async fn sync_works_in_both_directions() {
    let (node1, node2) = start_pair().await;

    let forward = load_rules(&node1, "written on node1").await;
    let t = wait_converged(&node1, &[&node2], &["mysql_query_rules"]).await;
    eprintln!("node1 -> node2 in {t:?}");
    assert_eq!(
        checksums(&node2).await["mysql_query_rules"].checksum,
        forward
    );

    let reverse = load_rules(&node2, "written on node2").await;
    assert_ne!(reverse, forward);
    let t = wait_converged(&node2, &[&node1], &["mysql_query_rules"]).await;
    eprintln!("node2 -> node1 in {t:?}");
    assert_eq!(
        comments(&node1, "runtime_mysql_query_rules").await,
        [Some("written on node2".to_string())]
    );
    assert!(!node1
        .log_lines("Cluster: Loading to runtime MySQL Query Rules from peer 192.168.0.12:6032")
        .is_empty());
    // Saved on the puller (admin-cluster_mysql_query_rules_save_to_disk=true).
    assert_eq!(
        comments(&node1, "disk.mysql_query_rules").await,
        [Some("written on node2".to_string())]
    );
}

// --- equal epochs --------------------------------------------------------------------------

#[tokio::test]
async fn equal_epoch_conflict_is_reported_and_resolved_by_another_load() {
    let (node1, node2) = start_pair().await;

    // Both nodes load a different rule set within the same second. Clocks cannot be frozen, so
    // start just after a second boundary and retry until the epochs come out equal.
    let mut attempt = 0;
    let (epoch, c1, c2) = loop {
        attempt += 1;
        assert!(attempt <= 10, "no equal-epoch LOAD in 10 attempts");
        // Let the previous attempt settle (the newer side wins) before making a new conflict.
        wait_converged(&node1, &[&node2], &["mysql_query_rules"]).await;
        for (node, tag) in [(&node1, "n1"), (&node2, "n2")] {
            exec(
                node,
                &[
                    "DELETE FROM mysql_query_rules",
                    &format!(
                        "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment) \
                         VALUES (10, 1, '^SELECT', 20, 1, '{tag}-{attempt}')"
                    ),
                ],
            )
            .await;
        }
        let mut a = node1.admin().await;
        let mut b = node2.admin().await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        tokio::time::sleep(Duration::from_nanos(
            1_000_000_000 - u64::from(now.subsec_nanos()) + 50_000_000,
        ))
        .await;
        let (ra, rb) = tokio::join!(
            try_query_rows(&mut a, "LOAD MYSQL QUERY RULES TO RUNTIME"),
            try_query_rows(&mut b, "LOAD MYSQL QUERY RULES TO RUNTIME")
        );
        ra.unwrap();
        rb.unwrap();
        let s1 = checksums(&node1).await["mysql_query_rules"].clone();
        let s2 = checksums(&node2).await["mysql_query_rules"].clone();
        if s1.epoch == s2.epoch && s1.checksum != s2.checksum {
            break (s1.epoch, s1.checksum, s2.checksum);
        }
        eprintln!(
            "attempt {attempt}: epochs {} and {} differ, retrying",
            s1.epoch, s2.epoch
        );
    };
    eprintln!("equal epoch {epoch} after {attempt} attempt(s): {c1} vs {c2}");

    let expected = format!(
        "Cluster: detected a peer 192.168.0.12:6032 with mysql_query_rules version 2, epoch {epoch}, diff_check {}, checksum {c2}. Own version: 2, epoch: {epoch}, checksum {c1}. Sync conflict, epoch times are EQUAL, can't determine which server holds the latest config, we won't sync. This message will be repeated every {} checks until LOAD MYSQL SERVERS TO RUNTIME is executed on candidate master.",
        10 * DIFFS_BEFORE_SYNC,
        10 * DIFFS_BEFORE_SYNC
    );
    let line = node1.wait_for_log(&expected, LOG_WAIT).await;
    assert!(line.contains("[ERROR]"), "{line}");
    // Neither side pulled: both still hold their own rules.
    assert_eq!(checksums(&node1).await["mysql_query_rules"].checksum, c1);
    assert_eq!(checksums(&node2).await["mysql_query_rules"].checksum, c2);
    assert!(node1
        .log_lines("Fetching MySQL Query Rules from peer 192.168.0.12:6032 started")
        .is_empty());

    // Resolution: another LOAD on the intended source gives it a newer epoch.
    exec(&node1, &["LOAD MYSQL QUERY RULES TO RUNTIME"]).await;
    let t = wait_converged(&node1, &[&node2], &["mysql_query_rules"]).await;
    eprintln!("resolved {t:?} after the second LOAD");
    assert_eq!(checksums(&node2).await["mysql_query_rules"].checksum, c1);
    assert_eq!(
        comments(&node2, "runtime_mysql_query_rules").await,
        [Some(format!("n1-{attempt}"))]
    );
}

// --- a killed peer ------------------------------------------------------------------------

#[tokio::test]
async fn killed_peer_is_reported_others_keep_syncing_and_it_comes_back() {
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let core1 = start_node(p1, p1, p2).await;
    let mut core2 = start_node(p2, p1, p2).await;
    let satellite = start_node(p3, p1, p2).await;
    for node in [&core1, &core2, &satellite] {
        join_cluster(node).await;
    }
    for node in [&core1, &satellite] {
        wait_sees(node, NODE2_HOST).await;
    }

    core2.kill(Signal::Kill);
    core2
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("core2 dies");
    let unable = "Cluster: unable to connect to peer 192.168.0.12:6032 . Error: ";
    for node in [&core1, &satellite] {
        let line = node.wait_for_log(unable, LOG_WAIT).await;
        eprintln!("{}: {line}", node.admin_addr());
    }

    // The survivors keep clustering: a change on core1 reaches the satellite.
    let wanted = load_rules(&core1, "while core2 is down").await;
    wait_converged(&core1, &[&satellite], &["mysql_query_rules"]).await;
    let mut c = core1.admin().await;
    assert_eq!(
        query_rows(&mut c, "SELECT 1").await,
        [[Some("1".to_string())]],
        "core1's admin is unaffected"
    );

    // core2 restarts from its disk (version 1 everywhere), is clustered with again, and
    // catches up with the change it missed.
    let reconnects_before = core1
        .log_lines("Cluster: clustering with peer 192.168.0.12:6032")
        .len();
    core2.restart().await;
    let back = wait_until(CONVERGE, || async {
        core1
            .log_lines("Cluster: clustering with peer 192.168.0.12:6032")
            .len()
            > reconnects_before
    })
    .await;
    assert!(back, "core1 never clustered with the restarted core2");
    wait_converged(&core1, &[&core2, &satellite], &["mysql_query_rules"]).await;
    assert_eq!(
        checksums(&core2).await["mysql_query_rules"].checksum,
        wanted
    );
}

// --- a paused peer ------------------------------------------------------------------------

#[tokio::test]
async fn paused_peer_keeps_its_admin_side_and_keeps_syncing() {
    let (node1, node2) = start_pair().await;
    exec(&node2, &["PROXYSQL PAUSE"]).await;
    let mut c2 = node2.admin().await;
    assert_eq!(
        query_rows(
            &mut c2,
            "SELECT Variable_Value FROM stats_mysql_global WHERE Variable_Name='mysql_listener_paused'"
        )
        .await,
        [[Some("true".to_string())]]
    );

    let from_node1 = load_rules(&node1, "to the paused node").await;
    wait_converged(&node1, &[&node2], &["mysql_query_rules"]).await;
    assert_eq!(
        checksums(&node2).await["mysql_query_rules"].checksum,
        from_node1
    );

    let from_paused = load_rules(&node2, "from the paused node").await;
    wait_converged(&node2, &[&node1], &["mysql_query_rules"]).await;
    assert_eq!(
        checksums(&node1).await["mysql_query_rules"].checksum,
        from_paused
    );
    exec(&node2, &["PROXYSQL RESUME"]).await;
}

// --- a lying peer -------------------------------------------------------------------------

/// A `runtime_mysql_query_rules` row: `rule_id`, `match_digest='^SELECT'`, the destination
/// hostgroup, `apply=1`, everything else at its default (NULL, `0`, `CASELESS`, `''`).
fn rule_row(rule_id: u32, hostgroup: u32) -> Vec<Option<String>> {
    let mut row = vec![None; QUERY_RULES_COLUMNS.split(", ").count()];
    let mut set = |i: usize, v: &str| row[i] = Some(v.to_string());
    set(0, &rule_id.to_string());
    set(3, "0"); // flagIN
    set(8, "^SELECT"); // match_digest
    set(10, "0"); // negate_match_pattern
    set(11, "CASELESS"); // re_modifiers
    set(14, &hostgroup.to_string()); // destination_hostgroup
    set(31, "1"); // apply
    set(32, ""); // attributes
    row
}

fn resultset(columns: &str, rows: Vec<Vec<Option<String>>>) -> ResultSet {
    let mut rs = ResultSet::with_columns(columns.split(", "));
    rs.rows = rows;
    rs
}

/// A result set to send: column definitions and text rows.
type Answer = (Vec<ColumnDef>, Vec<Vec<Option<String>>>);

/// Accepts the cluster user only.
struct ClusterUser;

impl Authenticator for ClusterUser {
    type Tag = ();

    fn lookup(&self, user: &str, _peer: &PeerAddr) -> Result<Credential<()>, AuthRejection> {
        if user == "cluster_user" {
            Ok(Credential {
                password: Password::Clear("cluster_pass".into()),
                tag: (),
            })
        } else {
            Err(AuthRejection::AccessDenied)
        }
    }
}

/// A fake ProxySQL admin that announces one set of query rules (`version`, `epoch`, checksum
/// `announced_checksum`) and serves another (`served`) when pulled. Records every query it
/// gets.
struct LyingPeer {
    announced_checksum: String,
    served: ResultSet,
    version: u64,
    epoch: u64,
    queries: Mutex<Vec<String>>,
}

impl LyingPeer {
    fn answer(&self, sql: &str) -> Option<Answer> {
        let text = |cols: &[&str]| cols.iter().map(|c| ColumnDef::admin_text(*c)).collect();
        let one = |s: &str| vec![vec![Some(s.to_string())]];
        if sql == "SELECT @@version" {
            return Some((text(&["@@version"]), one(VERSION)));
        }
        if sql == "SELECT GLOBAL_CHECKSUM()" {
            return Some((vec![ColumnDef::admin_longlong("CHECKSUM")], one("4242")));
        }
        if sql == "SELECT * FROM runtime_checksums_values ORDER BY name" {
            let rows = MODULES
                .iter()
                .map(|m| {
                    let (version, checksum) = if *m == "mysql_query_rules" {
                        (self.version.to_string(), self.announced_checksum.clone())
                    } else {
                        ("1".to_string(), "0x0000000000000000".to_string())
                    };
                    vec![
                        Some(m.to_string()),
                        Some(version),
                        Some(self.epoch.to_string()),
                        Some(checksum),
                    ]
                })
                .collect();
            return Some((text(&["name", "version", "epoch", "checksum"]), rows));
        }
        if sql.starts_with("SELECT * FROM stats_mysql_global") {
            return Some((
                text(&["Variable_Name", "Variable_Value"]),
                vec![vec![Some("ProxySQL_Uptime".into()), Some("1".into())]],
            ));
        }
        if sql.starts_with("PROXY_SELECT rule_id,") {
            let cols = self
                .served
                .columns
                .iter()
                .map(ColumnDef::admin_text)
                .collect();
            return Some((cols, self.served.rows.clone()));
        }
        if sql.starts_with("PROXY_SELECT username, schemaname, flagIN") {
            return Some((
                text(&FAST_ROUTING_COLUMNS.split(", ").collect::<Vec<_>>()),
                vec![],
            ));
        }
        None
    }

    async fn serve(self: Arc<Self>, listener: TcpListener) {
        while let Ok((stream, peer)) = listener.accept().await {
            let this = self.clone();
            tokio::spawn(async move {
                let Ok((mut conn, _)) = ServerConn::accept(
                    stream,
                    PeerAddr::Tcp(peer),
                    HandshakeConfig::default(),
                    &ClusterUser,
                )
                .await
                else {
                    return;
                };
                while let Ok(Some(cmd)) = conn.next_command().await {
                    let sent = match cmd {
                        Command::Query(bytes) => {
                            let sql = String::from_utf8_lossy(&bytes).into_owned();
                            this.queries.lock().unwrap().push(sql.clone());
                            if sql.starts_with("PROXYSQL CLUSTER_NODE_UUID ") {
                                conn.send_simple_ok().await
                            } else if let Some((cols, rows)) = this.answer(&sql) {
                                conn.send_resultset(&cols, rows).await
                            } else {
                                conn.send_err(1045, "28000", "ProxySQL Admin Error: unexpected")
                                    .await
                            }
                        }
                        Command::Ping => conn.send_simple_ok().await,
                        _ => conn.send_err(1047, "08S01", "unsupported").await,
                    };
                    if sent.is_err() {
                        return;
                    }
                }
            });
        }
    }
}

#[tokio::test]
async fn peer_sending_a_wrong_checksum_is_discarded_and_config_stays_untouched() {
    // The spec's §5.7 vector: one rule to hostgroup 1 hashes to 0xCCFF0CE852BBA9C6.
    let fast = resultset(FAST_ROUTING_COLUMNS, vec![]);
    let announced = resultset(QUERY_RULES_COLUMNS, vec![rule_row(1, 1)]);
    let announced_checksum = checksum::render(checksum::query_rules_checksum(&announced, &fast));
    assert_eq!(announced_checksum, "0xCCFF0CE852BBA9C6");
    // What it actually serves: the same rule pointing elsewhere.
    let served = resultset(QUERY_RULES_COLUMNS, vec![rule_row(1, 2)]);
    let served_checksum = checksum::render(checksum::query_rules_checksum(&served, &fast));

    let listener = TcpListener::bind((HOST, 0)).await.unwrap();
    let liar_port = listener.local_addr().unwrap().port();
    let liar = Arc::new(LyingPeer {
        announced_checksum: announced_checksum.clone(),
        served,
        version: 5,
        // Newer than anything local, within pxadm's future-epoch tolerance.
        epoch: unix_now() + 60,
        queries: Mutex::new(Vec::new()),
    });
    let server = tokio::spawn(liar.clone().serve(listener));

    // A real node that lists itself (node1) and the liar (node2).
    let port = free_port();
    let node = start_node(port, port, liar_port).await;
    join_cluster(&node).await;

    let failure = format!(
        "Cluster: Fetching MySQL Query Rules from peer 192.168.0.12:6032 failed because of mismatching checksum. Expected: {announced_checksum} , Computed: {served_checksum}"
    );
    node.wait_for_log(&failure, LOG_WAIT).await;
    // It keeps refusing on later attempts.
    let retried = wait_until(LOG_WAIT, || async { node.log_lines(&failure).len() >= 2 }).await;
    assert!(retried, "the pull is retried and discarded again");
    assert!(liar
        .queries
        .lock()
        .unwrap()
        .iter()
        .any(|q| q.starts_with("PROXY_SELECT rule_id,")));

    let state = checksums(&node).await;
    assert_eq!(state["mysql_query_rules"].version, 1);
    assert_eq!(state["mysql_query_rules"].checksum, "0x0000000000000000");
    let mut conn: Conn = node.admin().await;
    for table in [
        "main.mysql_query_rules",
        "disk.mysql_query_rules",
        "runtime_mysql_query_rules",
    ] {
        assert!(
            query_rows(&mut conn, &format!("SELECT * FROM {table}"))
                .await
                .is_empty(),
            "{table} was touched by a discarded pull"
        );
    }
    assert!(node
        .log_lines("Cluster: Loading to runtime MySQL Query Rules")
        .is_empty());
    server.abort();
}

impl LyingPeer {
    /// The liar: query rules at `version` 99, `epoch`, checksum 0xDEADBEEFDEADBEEF,
    /// serving one rule that hashes to something else. Listens on a loopback port.
    async fn start(epoch: u64) -> (Arc<LyingPeer>, u16, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind((HOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let liar = Arc::new(LyingPeer {
            announced_checksum: "0xDEADBEEFDEADBEEF".into(),
            served: resultset(QUERY_RULES_COLUMNS, vec![rule_row(1, 2)]),
            version: 99,
            epoch,
            queries: Mutex::new(Vec::new()),
        });
        let server = tokio::spawn(liar.clone().serve(listener));
        (liar, port, server)
    }

    fn pulls(&self) -> usize {
        self.queries
            .lock()
            .unwrap()
            .iter()
            .filter(|q| q.starts_with("PROXY_SELECT rule_id,"))
            .count()
    }
}

/// Adds `127.0.0.1:port` to the cluster of both nodes (as a third member).
async fn add_member(nodes: [&TestNode; 2], port: u16) {
    for node in nodes {
        exec(
            node,
            &[
                &format!(
                    "INSERT INTO proxysql_servers (hostname, port, weight, comment) VALUES ('{HOST}', {port}, 0, 'third')"
                ),
                "LOAD PROXYSQL SERVERS TO RUNTIME",
            ],
        )
        .await;
    }
}

/// Changes the query rules on each honest node in turn and measures how long the other takes
/// to have them; each must arrive within a few checks.
async fn honest_changes_propagate(node1: &TestNode, node2: &TestNode) {
    for (i, (from, to)) in [(node1, node2), (node2, node1), (node1, node2)]
        .into_iter()
        .enumerate()
    {
        load_rules(from, &format!("honest-{i}")).await;
        let took = wait_converged(from, &[to], &["mysql_query_rules"]).await;
        println!("honest change {i} propagated in {took:?}");
        // The usual (D + 1) checks at 200 ms are about 1 s; without the guard, never.
        assert!(
            took < Duration::from_secs(10),
            "change {i} took {took:?}\n{}",
            common::tail(&to.log(), 30)
        );
        assert_eq!(
            comments(to, "runtime_mysql_query_rules").await,
            [Some(format!("honest-{i}"))]
        );
    }
}

#[tokio::test]
async fn a_peer_whose_checksum_cannot_be_verified_is_skipped_and_honest_changes_propagate() {
    let (node1, node2) = start_pair().await;
    // Within the future-epoch tolerance, newer than any local change during the test.
    let (liar, liar_port, server) = LyingPeer::start(unix_now() + 300).await;
    add_member([&node1, &node2], liar_port).await;

    // Both fresh nodes try it (a just-booted node pulls from any version > 1), are refused
    // three times, then leave it out.
    let skipped = format!(
        "Cluster: not syncing mysql_query_rules from peer {HOST}:{liar_port}: 3 pulls refused because its data does not match its announced checksum 0xDEADBEEFDEADBEEF (version 99,"
    );
    for node in [&node1, &node2] {
        node.wait_for_log(&skipped, LOG_WAIT).await;
        assert_eq!(
            node.log_lines(&format!(
                "Fetching MySQL Query Rules from peer {HOST}:{liar_port} failed because of mismatching checksum. Expected: 0xDEADBEEFDEADBEEF"
            ))
            .len(),
            3
        );
    }
    let pulls = liar.pulls();
    honest_changes_propagate(&node1, &node2).await;
    assert_eq!(liar.pulls(), pulls, "a skipped peer was pulled from again");
    // The liar's data never reached either node.
    for node in [&node1, &node2] {
        assert!(!node
            .log_lines(&format!(
                "Loading to runtime MySQL Query Rules from peer {HOST}:{liar_port}"
            ))
            .iter()
            .any(|_| true));
    }
    server.abort();
}

#[tokio::test]
async fn a_peer_whose_epoch_is_far_in_the_future_is_never_chosen() {
    let (node1, node2) = start_pair().await;
    let epoch = unix_now() + 100_000;
    let (liar, liar_port, server) = LyingPeer::start(epoch).await;
    add_member([&node1, &node2], liar_port).await;

    let skipped = format!(
        "Cluster: not syncing mysql_query_rules from peer {HOST}:{liar_port}: its epoch {epoch} is "
    );
    node1.wait_for_log(&skipped, LOG_WAIT).await;
    node2.wait_for_log(&skipped, LOG_WAIT).await;
    honest_changes_propagate(&node1, &node2).await;
    assert_eq!(liar.pulls(), 0, "the liar was chosen as a source");
    server.abort();
}

// --- the loopback guard -------------------------------------------------------------------

#[tokio::test]
async fn unmapped_scenario_peers_are_never_dialled() {
    // No --peer-map: the harness's PXADM_LOOPBACK_ONLY=1 must stop the node from reaching
    // the scenario's real addresses.
    let node = TestNode::start().await;
    join_cluster(&node).await;
    for host in [NODE1_HOST, NODE2_HOST] {
        node.wait_for_log(
            &format!(
                "Cluster: not connecting to peer {host}:6032 : PXADM_LOOPBACK_ONLY is set and {host} is not a loopback address"
            ),
            LOG_WAIT,
        )
        .await;
    }
    assert!(node
        .log_lines("unable to connect to peer 192.168.")
        .is_empty());
    assert!(node.log_lines("clustering with peer 192.168.").is_empty());
}

/// Guards the scenario constants this file relies on against drift in the harness.
#[test]
fn scenario_addresses_match_the_setup_sql() {
    let sql = std::fs::read_to_string(scenario_sql("node-cluster-setup.sql")).unwrap();
    for (addr, host) in [(SCENARIO_NODE1, NODE1_HOST), (SCENARIO_NODE2, NODE2_HOST)] {
        assert!(addr.starts_with(host));
        assert!(
            sql.contains(&format!("'{host}',6032")),
            "{addr} not in the set-up SQL"
        );
    }
}
