//! ProxySQL's `test/tap/tests/test_cluster1-t.cpp` (sysown/proxysql, 2.7.x) as a test of
//! `pxadm node`: core nodes that list each other and satellites that list only the cores;
//! admin variables, mysql variables, query rules, users and servers changed on each core in
//! turn converge on every core and every satellite (`trigger_sync_and_check`,
//! `module_in_sync`).
//!
//! The TAP runs 4 cores and 6 satellites. Here 3 cores and 3 satellites: every node polls
//! every core each check interval, so the polling cost grows with nodes × cores; six nodes
//! keep the test reliable on a 2-core CI runner shared with other test binaries while still
//! having several cores to change config on and several satellites to converge. Nodes run
//! with `-M` (the servers the test writes are not real backends, as in the TAP) and all on
//! loopback.

mod common;
#[path = "tap_common/mod.rs"]
mod tap_common;

use std::collections::BTreeSet;

use common::{free_port, wait_until, TestNode, HOST};
use tap_common::{
    exec, past_epochs, rows, runtime_checksum, start_tap_node, wait_peers_seen, TapOptions, SYNC,
};

const CORES: usize = 3;
const SATELLITES: usize = 3;

// The TAP's update statements (`update_*_1`), each followed by its LOAD.
const UPDATES: [(&str, &str, &str); 5] = [
    (
        "admin_variables",
        "UPDATE global_variables SET variable_value=variable_value+1 WHERE variable_name='admin-refresh_interval'",
        "LOAD ADMIN VARIABLES TO RUNTIME",
    ),
    (
        "mysql_variables",
        "UPDATE global_variables SET variable_value=variable_value+1 WHERE variable_name='mysql-monitor_connect_interval'",
        "LOAD MYSQL VARIABLES TO RUNTIME",
    ),
    (
        "mysql_query_rules",
        "UPDATE mysql_query_rules SET comment = IFNULL(comment,'') || 'a'",
        "LOAD MYSQL QUERY RULES TO RUNTIME",
    ),
    (
        "mysql_users",
        "UPDATE mysql_users SET max_connections = max_connections + 1",
        "LOAD MYSQL USERS TO RUNTIME",
    ),
    (
        "mysql_servers",
        "UPDATE mysql_servers SET max_connections = max_connections + 1",
        "LOAD MYSQL SERVERS TO RUNTIME",
    ),
];

/// The TAP's `module_in_sync`: every peer `node` monitors reports the one checksum `want`
/// for `module` in `stats_proxysql_servers_checksums`.
async fn module_in_sync(node: &TestNode, module: &str, want: &str) -> bool {
    let Some(rows) = tap_common::try_rows(
        node,
        &format!("SELECT checksum FROM stats_proxysql_servers_checksums WHERE name='{module}'"),
    )
    .await
    else {
        return false;
    };
    let uniq: BTreeSet<Option<String>> = rows
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect();
    uniq.len() == 1 && uniq.first() == Some(&Some(want.to_string()))
}

/// The TAP's `trigger_sync_and_check`: change `module` on core `i`, then wait until the
/// core's own view and every satellite's view of all cores show the new checksum, and the
/// satellites loaded it.
async fn trigger_sync_and_check(
    nodes: &[TestNode],
    i: usize,
    module: &str,
    update: &str,
    load: &str,
) {
    let all: Vec<&TestNode> = nodes.iter().collect();
    past_epochs(&all, module).await;
    let core = &nodes[i];
    let before = runtime_checksum(core, module).await;
    exec(core, &[update, load]).await;
    let after = runtime_checksum(core, module).await;
    assert_ne!(before, after, "{module} checksums on core {i}");
    for (n, node) in nodes
        .iter()
        .enumerate()
        .filter(|(n, _)| *n == i || *n >= CORES)
    {
        let ok = wait_until(SYNC, || async {
            module_in_sync(node, module, &after).await
                && runtime_checksum(node, module).await == after
        })
        .await;
        let view = rows(
            node,
            &format!("SELECT hostname, port, version, epoch, checksum, diff_check FROM stats_proxysql_servers_checksums WHERE name='{module}'"),
        )
        .await;
        assert!(
            ok,
            "{module} changed on core {i} is not in sync on node {n} ({}): {view:?}\n{}",
            node.admin_addr(),
            common::tail(&node.log(), 20)
        );
    }
}

#[tokio::test]
async fn changes_on_every_core_converge_on_every_satellite() {
    let ports: Vec<u16> = (0..CORES + SATELLITES).map(|_| free_port()).collect();
    let cores: Vec<(u16, String)> = ports[..CORES]
        .iter()
        .map(|p| (*p, "core".to_string()))
        .collect();
    let mut nodes = Vec::new();
    for p in &ports {
        let opts = TapOptions {
            peers: cores.clone(),
            no_monitor: true,
            ..Default::default()
        };
        nodes.push(start_tap_node(*p, &opts).await);
    }
    let core_ports = &ports[..CORES];
    for node in &nodes {
        wait_peers_seen(node, core_ports, "mysql_query_rules").await;
    }
    // Satellites are nobody's peer: no core monitors them.
    for core in &nodes[..CORES] {
        let polled = rows(
            core,
            "SELECT DISTINCT port FROM stats_proxysql_servers_checksums",
        )
        .await;
        assert_eq!(
            polled.len(),
            CORES,
            "{} polls {polled:?}",
            core.admin_addr()
        );
    }

    // The TAP's preamble on core 0 (its "this proxy"): no resync saved to disk, a few
    // mysql variables, and something for every UPDATE to change.
    let all: Vec<&TestNode> = nodes.iter().collect();
    for module in [
        "admin_variables",
        "mysql_variables",
        "mysql_query_rules",
        "mysql_users",
        "mysql_servers",
    ] {
        past_epochs(&all, module).await;
    }
    let mut preamble: Vec<String> = [
        "admin_variables",
        "mysql_variables",
        "mysql_query_rules",
        "mysql_servers",
        "mysql_users",
        "proxysql_servers",
    ]
    .iter()
    .map(|m| format!("SET admin-cluster_{m}_save_to_disk='false'"))
    .collect();
    preamble.extend(
        [
            "LOAD ADMIN VARIABLES TO RUNTIME",
            "SET mysql-have_compress='true'",
            "SET mysql-auditlog_filename=\"proxy-audit\"",
            "LOAD MYSQL VARIABLES TO RUNTIME",
            "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (1, 1, '^SELECT', 1, 1)",
            "LOAD MYSQL QUERY RULES TO RUNTIME",
            "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('sbtest', 'sbtest', 0)",
            "LOAD MYSQL USERS TO RUNTIME",
        ]
        .map(String::from),
    );
    preamble.push(format!(
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (0, '{HOST}', {})",
        free_port()
    ));
    preamble.push("LOAD MYSQL SERVERS TO RUNTIME".into());
    let refs: Vec<&str> = preamble.iter().map(String::as_str).collect();
    exec(&nodes[0], &refs).await;
    for module in [
        "admin_variables",
        "mysql_variables",
        "mysql_query_rules",
        "mysql_users",
        "mysql_servers",
    ] {
        let want = runtime_checksum(&nodes[0], module).await;
        for node in &nodes[1..] {
            let ok = wait_until(SYNC, || async {
                runtime_checksum(node, module).await == want
            })
            .await;
            assert!(
                ok,
                "{module} of core 0's preamble never reached {}",
                node.admin_addr()
            );
        }
    }

    // "The workflow here is simple, for each proxy": each module, changed on each core.
    for (module, update, load) in UPDATES {
        for i in 0..CORES {
            trigger_sync_and_check(&nodes, i, module, update, load).await;
        }
    }
}
