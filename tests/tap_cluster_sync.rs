//! ProxySQL's `test/tap/tests/test_cluster_sync-t.cpp` (sysown/proxysql, 2.7.x) as tests of
//! `pxadm node`: a primary and a replica started from the TAP's own config
//! (`test_cluster_sync_config/test_cluster_sync-t.cnf`, see `tap_common`), then
//!
//! * `mysql_servers` with every status, `mysql_hostgroup_attributes`, the galera, group
//!   replication and aurora hostgroup tables with and without NULL comments, changed on the
//!   primary and checked on the replica (the TAP's `main`, its blocks in order);
//! * `proxysql_servers` with new rows and empty (`0x0000000000000000`, ProxySQL #3847);
//! * mysql and admin variables;
//! * per module: a pull waits for `*_diffs_before_sync` (`check_module_checksums_sync`), `0`
//!   or the deprecated `admin-checksum_*=false` disables it while `diff_check` keeps rising
//!   in `stats_proxysql_servers_checksums` (`check_modules_checksums_sync`);
//! * the TAP's isolation of the primary from a running cluster and its restore.
//!
//! Nodes run with `-M`: the backends the TAP writes (`127.0.0.1:13306`–`13309`) are not real
//! servers, and the TAP itself turns the primary's monitor off (`SET
//! mysql-monitor_enabled='false'` in `check_mysql_servers_sync`) so no monitor action
//! changes the servers it compares. Everything is on loopback; no MariaDB is needed.

mod common;
#[path = "tap_common/mod.rs"]
mod tap_common;

use std::time::Duration;

use common::{free_port, unix_now, wait_until, TestNode, HOST};
use tap_common::{
    exec, int, past_epochs, rows, runtime_checksum, s, start_tap_node, text, wait_conds,
    wait_peers_seen, wait_rows, TapOptions, DIFFS, SYNC,
};

type Rows = Vec<Vec<Option<String>>>;

/// A primary listing itself and the replica, and a replica listing the primary (the TAP's
/// set-up: the replica's config names the primary as its only `proxysql_servers` row).
async fn primary_and_replica() -> (TestNode, TestNode) {
    let (p, r) = (free_port(), free_port());
    let primary = start_tap_node(
        p,
        &TapOptions {
            peers: vec![(p, "proxysql".into()), (r, "replica".into())],
            no_monitor: true,
            ..Default::default()
        },
    )
    .await;
    let replica = start_tap_node(
        r,
        &TapOptions {
            peers: vec![(p, "proxysql130".into())],
            no_monitor: true,
            ..Default::default()
        },
    )
    .await;
    wait_peers_seen(&replica, &[p], "mysql_query_rules").await;
    wait_peers_seen(&primary, &[r], "mysql_query_rules").await;
    (primary, replica)
}

// --- tables ----------------------------------------------------------------------------------

/// One row of the TAP's `mysql_server_tuple`: hostgroup_id, hostname, port, gtid_port,
/// status, weight, compression, max_connections, max_replication_lag, use_ssl,
/// max_latency_ms, comment.
type ServerRow = (
    u32,
    &'static str,
    u16,
    u16,
    &'static str,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    &'static str,
);

const SERVER_COLUMNS: &str =
    "hostgroup_id, hostname, port, gtid_port, status, weight, compression, \
     max_connections, max_replication_lag, use_ssl, max_latency_ms, comment";

fn server_insert(r: &ServerRow) -> String {
    format!(
        "INSERT INTO mysql_servers ({SERVER_COLUMNS}) VALUES ({}, '{}', {}, {}, '{}', {}, {}, {}, {}, {}, {}, '{}')",
        r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11
    )
}

/// What the replica's `mysql_servers` must hold after the sync, by
/// `check_mysql_servers_sync`: `SHUNNED` arrives as `ONLINE` and `OFFLINE_HARD` rows do not
/// arrive at all (its `SELECT NOT(...)` for them).
fn expected_servers(set: &[ServerRow]) -> Rows {
    let mut rows: Vec<&ServerRow> = set.iter().filter(|r| r.4 != "OFFLINE_HARD").collect();
    rows.sort_by_key(|r| r.0);
    rows.iter()
        .map(|r| {
            let status = if r.4 == "SHUNNED" { "ONLINE" } else { r.4 };
            [
                r.0.to_string(),
                r.1.to_string(),
                r.2.to_string(),
                r.3.to_string(),
                status.to_string(),
                r.5.to_string(),
                r.6.to_string(),
                r.7.to_string(),
                r.8.to_string(),
                r.9.to_string(),
                r.10.to_string(),
                r.11.to_string(),
            ]
            .into_iter()
            .map(Some)
            .collect()
        })
        .collect()
}

/// Replaces `table` on `primary` with `inserts`, loads MYSQL SERVERS and waits until the
/// replica's MEMORY and RUNTIME copies equal the primary's; returns the replica's rows.
async fn sync_table(
    primary: &TestNode,
    replica: &TestNode,
    table: &str,
    inserts: &[String],
) -> Rows {
    past_epochs(&[primary, replica], "mysql_servers_v2").await;
    let mut statements = vec![format!("DELETE FROM {table}")];
    statements.extend(inserts.iter().cloned());
    statements.push("LOAD MYSQL SERVERS TO RUNTIME".into());
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    exec(primary, &refs).await;
    let memory = format!("SELECT * FROM {table} ORDER BY 1");
    let runtime = format!("SELECT * FROM runtime_{table} ORDER BY 1");
    let want = rows(primary, &memory).await;
    assert_eq!(want.len(), inserts.len(), "{table} on the primary");
    wait_rows(replica, &memory, &want, table).await;
    let want_runtime = rows(primary, &runtime).await;
    wait_rows(replica, &runtime, &want_runtime, table).await;
    want
}

#[tokio::test]
async fn servers_and_hostgroup_tables_sync_with_and_without_null_comments() {
    let (primary, replica) = primary_and_replica().await;

    // test_cluster_sync-t.cpp, main: the three `insert_mysql_servers_values` sets.
    let sets: [[ServerRow; 4]; 3] = [
        [
            (
                1002,
                "127.0.0.1",
                13308,
                14,
                "OFFLINE_HARD",
                2,
                1,
                500,
                300,
                1,
                200,
                "",
            ),
            (
                1003,
                "127.0.0.1",
                13309,
                15,
                "SHUNNED",
                1,
                0,
                500,
                300,
                1,
                200,
                "",
            ),
            (
                1000,
                "127.0.0.1",
                13306,
                12,
                "ONLINE",
                1,
                1,
                1000,
                300,
                1,
                200,
                "",
            ),
            (
                1001,
                "127.0.0.1",
                13307,
                13,
                "OFFLINE_SOFT",
                2,
                1,
                500,
                300,
                1,
                200,
                "",
            ),
        ],
        [
            (
                1000,
                "127.0.0.1",
                13306,
                12,
                "ONLINE",
                1,
                1,
                1000,
                300,
                1,
                200,
                "mysql_1",
            ),
            (
                1001,
                "127.0.0.1",
                13307,
                13,
                "OFFLINE_SOFT",
                2,
                1,
                500,
                300,
                1,
                200,
                "mysql_2_offline",
            ),
            (
                1002,
                "127.0.0.1",
                13308,
                14,
                "OFFLINE_SOFT",
                2,
                1,
                500,
                300,
                1,
                200,
                "mysql_3_offline",
            ),
            (
                1003,
                "127.0.0.1",
                13309,
                15,
                "OFFLINE_SOFT",
                1,
                0,
                500,
                300,
                1,
                200,
                "mysql_4_offline",
            ),
        ],
        [
            (
                1000,
                "127.0.0.1",
                13306,
                12,
                "ONLINE",
                1,
                1,
                1000,
                300,
                1,
                200,
                "mysql_1",
            ),
            (
                1001,
                "127.0.0.1",
                13307,
                13,
                "OFFLINE_HARD",
                2,
                1,
                500,
                300,
                1,
                200,
                "mysql_2_offline",
            ),
            (
                1002,
                "127.0.0.1",
                13308,
                14,
                "OFFLINE_HARD",
                2,
                1,
                500,
                300,
                1,
                200,
                "mysql_3_offline",
            ),
            (
                1003,
                "127.0.0.1",
                13309,
                15,
                "OFFLINE_HARD",
                1,
                0,
                500,
                300,
                1,
                200,
                "mysql_4_offline",
            ),
        ],
    ];
    for set in &sets {
        // The TAP sleeps between blocks; a LOAD in the second the replica pulled the last
        // one would be the equal-epoch conflict (ProxySQL's as well as pxadm's).
        past_epochs(&[&primary, &replica], "mysql_servers_v2").await;
        let mut statements = vec!["DELETE FROM mysql_servers".to_string()];
        statements.extend(set.iter().map(server_insert));
        statements.push("LOAD MYSQL SERVERS TO RUNTIME".into());
        let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
        exec(&primary, &refs).await;
        wait_rows(
            &replica,
            &format!("SELECT {SERVER_COLUMNS} FROM mysql_servers ORDER BY hostgroup_id"),
            &expected_servers(set),
            "mysql_servers with every status",
        )
        .await;
    }

    // `insert_hostgroup_attributes_values` of the TAP (comment left to its default).
    let attributes: Vec<String> = [
        (18, 2, -1, 20, "SET sql_mode = \"\"", 0, 0, 100, "", "", ""),
        (19, 2, -1, 20, "SET sql_mode = \"\"", 0, 0, 100, "{}", "{}", "{}"),
        (20, 0, 0, 30, "SET long_query_time = 0", 1, 0, 123, r#"{"session_variables":["tmp_table_size","join_buffer_size"]}"#, "", ""),
        (21, 2, -1, 50, "SET sql_mode = \"\"", 1, 0, 125, r#"{"session_variables":["tmp_table_size","join_buffer_size"]}"#, r#"{"handle_warnings":1}"#, ""),
        (22, 3, -1, 40, "SET sql_mode = \"\"", 1, 0, 124, r#"{"session_variables":["tmp_table_size","join_buffer_size"]}"#, "", r#"{"weight": 100, "max_connections": 1000}"#),
    ]
    .iter()
    .map(|v| {
        format!(
            "INSERT INTO mysql_hostgroup_attributes (hostgroup_id, max_num_online_servers, autocommit, \
             free_connections_pct, init_connect, multiplex, connection_warming, throttle_connections_per_sec, \
             ignore_session_variables, hostgroup_settings, servers_defaults) \
             VALUES ({}, {}, {}, {}, '{}', {}, {}, {}, '{}', '{}', '{}')",
            v.0, v.1, v.2, v.3, v.4, v.5, v.6, v.7, v.8, v.9, v.10
        )
    })
    .collect();
    let synced = sync_table(
        &primary,
        &replica,
        "mysql_hostgroup_attributes",
        &attributes,
    )
    .await;
    assert_eq!(
        synced[4][10],
        s(r#"{"weight": 100, "max_connections": 1000}"#)
    );

    // Galera and group replication: the TAP's `insert_galera_values` /
    // `insert_group_replication_values`, first without a comment (NULL), then with one.
    let hg = [
        (1000, 1004, 1008, 1012, 1, 10, 0, 200),
        (1001, 1005, 1009, 1013, 1, 20, 0, 250),
        (1002, 1006, 1010, 1014, 1, 20, 0, 150),
        (1003, 1007, 1011, 1015, 1, 20, 0, 350),
    ];
    for (table, comment) in [
        (
            "mysql_galera_hostgroups",
            "reader_writer_test_galera_hostgroup",
        ),
        (
            "mysql_group_replication_hostgroups",
            "reader_writer_test_group_replication_hostgroup",
        ),
    ] {
        for with_comment in [false, true] {
            let inserts: Vec<String> = hg
                .iter()
                .map(|v| {
                    let c = if with_comment { format!("'{comment}'") } else { "NULL".into() };
                    format!(
                        "INSERT INTO {table} (writer_hostgroup, backup_writer_hostgroup, reader_hostgroup, \
                         offline_hostgroup, active, max_writers, writer_is_also_reader, \
                         max_transactions_behind, comment) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {c})",
                        v.0, v.1, v.2, v.3, v.4, v.5, v.6, v.7
                    )
                })
                .collect();
            let synced = sync_table(&primary, &replica, table, &inserts).await;
            let want = with_comment.then(|| comment.to_string());
            assert!(
                synced.iter().all(|r| r.last() == Some(&want)),
                "{table}: {synced:?}"
            );
        }
    }

    // Aurora: `insert_aws_aurora_values` of the TAP, NULL comments then a comment.
    let aurora = [
        (
            1002,
            1006,
            1,
            3308,
            ".test_domain2",
            10002,
            2002,
            2002,
            0,
            3,
            50,
            100,
            1,
        ),
        (
            1003,
            1007,
            1,
            3309,
            ".test_domain3",
            10003,
            2003,
            2003,
            0,
            4,
            50,
            100,
            1,
        ),
        (
            1000,
            1004,
            1,
            3306,
            ".test_domain0",
            10000,
            2000,
            2000,
            0,
            1,
            50,
            100,
            1,
        ),
        (
            1001,
            1005,
            1,
            3307,
            ".test_domain1",
            10001,
            2001,
            2001,
            0,
            2,
            50,
            100,
            1,
        ),
    ];
    for with_comment in [false, true] {
        let inserts: Vec<String> = aurora
            .iter()
            .map(|v| {
                let c = if with_comment {
                    "'reader_writer_test_aws_aurora_hostgroup'"
                } else {
                    "NULL"
                };
                format!(
                    "INSERT INTO mysql_aws_aurora_hostgroups (writer_hostgroup, reader_hostgroup, active, \
                     aurora_port, domain_name, max_lag_ms, check_interval_ms, check_timeout_ms, \
                     writer_is_also_reader, new_reader_weight, add_lag_ms, min_lag_ms, lag_num_checks, comment) \
                     VALUES ({}, {}, {}, {}, '{}', {}, {}, {}, {}, {}, {}, {}, {}, {c})",
                    v.0, v.1, v.2, v.3, v.4, v.5, v.6, v.7, v.8, v.9, v.10, v.11, v.12
                )
            })
            .collect();
        let synced = sync_table(&primary, &replica, "mysql_aws_aurora_hostgroups", &inserts).await;
        let want = with_comment.then(|| "reader_writer_test_aws_aurora_hostgroup".to_string());
        assert!(synced.iter().all(|r| r.last() == Some(&want)), "{synced:?}");
    }

    // Everything the primary loaded is one mysql_servers_v2 checksum on both.
    assert_eq!(
        runtime_checksum(&replica, "mysql_servers_v2").await,
        runtime_checksum(&primary, "mysql_servers_v2").await
    );
}

#[tokio::test]
async fn proxysql_servers_sync_including_the_empty_table() {
    let (primary, replica) = primary_and_replica().await;
    let all = "SELECT hostname, port, weight, comment FROM proxysql_servers ORDER BY port";

    // New rows (the TAP adds `invalid_server_N` peers that nothing listens on).
    exec(
        &primary,
        &["CREATE TABLE proxysql_servers_sync_test_2687 AS SELECT * FROM proxysql_servers"],
    )
    .await;
    let mut statements = Vec::new();
    for i in 0..3 {
        statements.push(format!(
            "INSERT INTO proxysql_servers (hostname, port, weight, comment) VALUES ('{HOST}', {}, 1, 'invalid_server_{i}')",
            free_port()
        ));
    }
    statements.push("LOAD PROXYSQL SERVERS TO RUNTIME".into());
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    past_epochs(&[&primary, &replica], "proxysql_servers").await;
    exec(&primary, &refs).await;
    let want = rows(&primary, all).await;
    assert_eq!(want.len(), 5);
    wait_rows(&replica, all, &want, "proxysql_servers with new rows").await;
    past_epochs(&[&primary, &replica], "proxysql_servers").await;
    exec(
        &primary,
        &[
            "DELETE FROM proxysql_servers",
            "INSERT INTO proxysql_servers SELECT * FROM proxysql_servers_sync_test_2687",
            "DROP TABLE proxysql_servers_sync_test_2687",
            "LOAD PROXYSQL SERVERS TO RUNTIME",
        ],
    )
    .await;
    let want = rows(&primary, all).await;
    assert_eq!(want.len(), 2);
    wait_rows(&replica, all, &want, "proxysql_servers restored").await;

    // The empty table (ProxySQL #3847): its checksum is 0x0000000000000000 and it syncs.
    exec(
        &replica,
        &[
            "SAVE PROXYSQL SERVERS TO DISK",
            "DROP TABLE IF EXISTS proxysql_servers_backup",
            "CREATE TABLE proxysql_servers_backup AS SELECT * FROM proxysql_servers",
        ],
    )
    .await;
    past_epochs(&[&primary, &replica], "proxysql_servers").await;
    exec(
        &primary,
        &[
            "DROP TABLE IF EXISTS proxysql_servers_sync_test_2687",
            "CREATE TABLE proxysql_servers_sync_test_2687 AS SELECT * FROM proxysql_servers",
            "DELETE FROM proxysql_servers",
            "LOAD PROXYSQL SERVERS TO RUNTIME",
        ],
    )
    .await;
    assert_eq!(
        runtime_checksum(&primary, "proxysql_servers").await,
        "0x0000000000000000"
    );
    assert!(
        wait_conds(
            &replica,
            &["SELECT CASE count(*) WHEN 0 THEN 1 ELSE 0 END FROM proxysql_servers".into()],
            SYNC
        )
        .await,
        "the empty proxysql_servers never reached the replica\n{}",
        replica.log_lines("proxysql_servers").join("\n")
    );
    wait_rows(
        &replica,
        "SELECT COUNT(*) FROM runtime_proxysql_servers",
        &[vec![s("0")]],
        "empty runtime",
    )
    .await;
    assert_eq!(
        runtime_checksum(&replica, "proxysql_servers").await,
        "0x0000000000000000"
    );

    // Restore both sides as the TAP does; the replica follows its own restored list again.
    past_epochs(&[&primary, &replica], "proxysql_servers").await;
    exec(
        &primary,
        &[
            "DELETE FROM proxysql_servers",
            "INSERT INTO proxysql_servers SELECT * FROM proxysql_servers_sync_test_2687",
            "DROP TABLE proxysql_servers_sync_test_2687",
            "LOAD PROXYSQL SERVERS TO RUNTIME",
        ],
    )
    .await;
    past_epochs(&[&primary, &replica], "proxysql_servers").await;
    exec(
        &replica,
        &[
            "INSERT INTO proxysql_servers SELECT * FROM proxysql_servers_backup",
            "DROP TABLE IF EXISTS proxysql_servers_backup",
            "LOAD PROXYSQL SERVERS TO RUNTIME",
        ],
    )
    .await;
    let back = format!(
        "SELECT COUNT(*) FROM runtime_proxysql_servers WHERE hostname='{HOST}' AND port={}",
        primary.admin_port()
    );
    assert!(
        wait_conds(&replica, &[back], SYNC).await,
        "the replica's list was not restored"
    );
    // Both clustered again: a change on the primary reaches the replica.
    past_epochs(&[&primary, &replica], "mysql_query_rules").await;
    exec(
        &primary,
        &[
            "INSERT INTO mysql_query_rules (active) VALUES (1)",
            "LOAD MYSQL QUERY RULES TO RUNTIME",
        ],
    )
    .await;
    let want = runtime_checksum(&primary, "mysql_query_rules").await;
    assert!(
        wait_until(SYNC, || async {
            runtime_checksum(&replica, "mysql_query_rules").await == want
        })
        .await,
        "the restored replica never synced again\n{}",
        common::tail(&replica.log(), 30)
    );
}

#[tokio::test]
async fn mysql_and_admin_variables_sync() {
    let (primary, replica) = primary_and_replica().await;
    // A subset of `update_mysql_variables_values` of the TAP: variables of every kind
    // (numbers, booleans, strings, a list) that a 2.7 node accepts at runtime.
    let mysql = [
        ("mysql-shun_on_failures", "6"),
        ("mysql-shun_recovery_time_sec", "11"),
        ("mysql-query_retries_on_failure", "2"),
        ("mysql-connect_retries_delay", "2"),
        ("mysql-connection_max_age_ms", "1"),
        ("mysql-connect_timeout_server_max", "10001"),
        ("mysql-free_connections_pct", "11"),
        ("mysql-connection_warming", "true"),
        ("mysql-session_idle_ms", "1001"),
        ("mysql-monitor_ping_max_failures", "4"),
        ("mysql-max_allowed_packet", "67108864"),
        ("mysql-max_transaction_time", "14400001"),
        ("mysql-wait_timeout", "28800001"),
        ("mysql-long_query_time", "1001"),
        ("mysql-keep_multiplexing_variables", "tx_isolation,version"),
        ("mysql-default_session_track_gtids", "OFF"),
        (
            "mysql-firewall_whitelist_errormsg",
            "Firewall blocked this query",
        ),
    ];
    // And of `update_admin_variables_values` (what changes the cluster's own pace or
    // credentials stays out: the TAP comments those out too, or they would slow the test).
    let admin = [
        (
            "admin-admin_credentials",
            "admin:admin;radmin:radmin;cluster1:secret1pass",
        ),
        ("admin-checksum_mysql_query_rules", "true"),
        ("admin-cluster_admin_variables_save_to_disk", "true"),
        ("admin-cluster_check_status_frequency", "11"),
        ("admin-cluster_mysql_query_rules_diffs_before_sync", "4"),
        ("admin-cluster_mysql_servers_sync_algorithm", "1"),
        ("admin-prometheus_memory_metrics_interval", "61"),
        ("admin-refresh_interval", "2001"),
        ("admin-stats_credentials", "stats:stats"),
        ("admin-vacuum_stats", "true"),
    ];
    for (vars, load) in [
        (&mysql[..], "LOAD MYSQL VARIABLES TO RUNTIME"),
        (&admin[..], "LOAD ADMIN VARIABLES TO RUNTIME"),
    ] {
        let mut statements: Vec<String> = vars
            .iter()
            .map(|(n, v)| {
                format!(
                    "UPDATE global_variables SET variable_value='{v}' WHERE variable_name='{n}'"
                )
            })
            .collect();
        statements.push(load.into());
        let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
        exec(&primary, &refs).await;
        let conds: Vec<String> = vars
            .iter()
            .map(|(n, v)| {
                format!("SELECT COUNT(*) FROM global_variables WHERE variable_name='{n}' AND variable_value='{v}'")
            })
            .collect();
        assert!(
            wait_conds(&replica, &conds, SYNC).await,
            "{load}: the replica never got the primary's values\n{}",
            common::tail(&replica.log(), 30)
        );
    }
    // The synced credentials work on the replica.
    common::admin_conn(replica.admin_port(), "cluster1", "secret1pass").await;
}

// --- diffs_before_sync ------------------------------------------------------------------------

/// The TAP's `module_sync_payloads`: the module, its `*_diffs_before_sync` variable, its
/// deprecated `admin-checksum_*` switch (none for proxysql_servers).
const PAYLOADS: [(&str, &str, Option<&str>); 5] = [
    (
        "mysql_servers_v2",
        "admin-cluster_mysql_servers_diffs_before_sync",
        Some("admin-checksum_mysql_servers"),
    ),
    (
        "mysql_query_rules",
        "admin-cluster_mysql_query_rules_diffs_before_sync",
        Some("admin-checksum_mysql_query_rules"),
    ),
    (
        "proxysql_servers",
        "admin-cluster_proxysql_servers_diffs_before_sync",
        None,
    ),
    (
        "mysql_variables",
        "admin-cluster_mysql_variables_diffs_before_sync",
        Some("admin-checksum_mysql_variables"),
    ),
    (
        "admin_variables",
        "admin-cluster_admin_variables_diffs_before_sync",
        Some("admin-checksum_admin_variables"),
    ),
];

/// The TAP's update of one module on `node` (`update_mysql_servers`,
/// `update_mysql_query_rules`, `update_proxysql_servers`, `update_variable_val`).
/// Waits first until the clock passed the module's epoch on `node` and on `others`.
async fn update_module(node: &TestNode, module: &str, others: &[&TestNode]) {
    let mut all = vec![node];
    all.extend_from_slice(others);
    past_epochs(&all, module).await;
    let port = node.admin_port();
    match module {
        "mysql_servers_v2" => {
            let cur = int(
                node,
                "SELECT max_connections FROM mysql_servers ORDER BY hostgroup_id ASC LIMIT 1",
            )
            .await;
            exec(node, &[
                &format!("UPDATE mysql_servers SET max_connections={} WHERE hostgroup_id=(SELECT hostgroup_id FROM mysql_servers ORDER BY hostgroup_id ASC LIMIT 1)", cur + 1),
                "LOAD MYSQL SERVERS TO RUNTIME",
            ]).await;
        }
        "mysql_query_rules" => {
            exec(
                node,
                &[
                    "INSERT INTO mysql_query_rules (active) VALUES (1)",
                    "LOAD MYSQL QUERY RULES TO RUNTIME",
                ],
            )
            .await;
        }
        "proxysql_servers" => {
            // The comment must change even within one second: a counter, not the clock.
            let n = int(node, "SELECT COUNT(*) FROM runtime_checksums_values").await
                + unix_now() as i64;
            exec(node, &[
                &format!("UPDATE proxysql_servers SET comment='{n}-{}' WHERE hostname='{HOST}' AND port={port}", free_port()),
                "LOAD PROXYSQL SERVERS TO RUNTIME",
            ]).await;
        }
        "mysql_variables" | "admin_variables" => {
            let (name, load) = if module == "mysql_variables" {
                (
                    "mysql-ping_timeout_server",
                    "LOAD MYSQL VARIABLES TO RUNTIME",
                )
            } else {
                ("admin-refresh_interval", "LOAD ADMIN VARIABLES TO RUNTIME")
            };
            let cur = int(
                node,
                &format!(
                    "SELECT variable_value FROM global_variables WHERE variable_name='{name}'"
                ),
            )
            .await;
            exec(node, &[&format!("SET {name}={}", cur + 1), load]).await;
        }
        other => panic!("no update for {other}"),
    }
}

/// `src`'s `module` checksum as `dst` sees it in `stats_proxysql_servers_checksums`.
async fn seen(dst: &TestNode, src: &TestNode, module: &str) -> (String, i64) {
    let r = rows(
        dst,
        &format!(
            "SELECT checksum, diff_check FROM stats_proxysql_servers_checksums \
             WHERE hostname='{HOST}' AND port={} AND name='{module}'",
            src.admin_port()
        ),
    )
    .await;
    let row = r.first().cloned().unwrap_or_default();
    (
        row.first().cloned().flatten().unwrap_or_default(),
        row.get(1)
            .cloned()
            .flatten()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    )
}

/// `dst`'s log from byte `from` on.
fn log_since(node: &TestNode, from: usize) -> String {
    node.log().get(from..).unwrap_or_default().to_string()
}

/// `check_module_checksums_sync` of the TAP: `src` changes `module`; `dst` detects the new
/// checksum; with sync enabled it pulls only once `diff_check` reached `*_diffs_before_sync`
/// and ends with the same runtime checksum; with sync disabled (`variable`=0 or the
/// `admin-checksum_*` switch) it logs "Not syncing due to '<variable>=0'" once, keeps
/// counting `diff_check` up and keeps its own configuration.
async fn check_module_sync(
    src: &TestNode,
    dst: &TestNode,
    module: &str,
    variable: &str,
    enabled: bool,
) {
    wait_peers_seen(dst, &[src.admin_port()], module).await;
    let (old_seen, _) = seen(dst, src, module).await;
    let log_from = dst.log().len();
    update_module(src, module, &[dst]).await;
    let new = runtime_checksum(src, module).await;
    assert_ne!(
        old_seen,
        new,
        "{module}: the update changed nothing on {}",
        src.admin_addr()
    );
    let detected = wait_until(SYNC, || async { seen(dst, src, module).await.0 == new }).await;
    assert!(
        detected,
        "{module}: {} never saw {new} of {}\n{}",
        dst.admin_addr(),
        src.admin_addr(),
        common::tail(&dst.log(), 30)
    );

    let proceeding = format!(
        "Cluster: detected a peer {HOST}:{} with {module} version ",
        src.admin_port()
    );
    if enabled {
        let synced = wait_until(SYNC, || async {
            runtime_checksum(dst, module).await == new
        })
        .await;
        assert!(
            synced,
            "{module}: {} never loaded {new}\n{}",
            dst.admin_addr(),
            common::tail(&dst.log(), 30)
        );
        // The TAP counts these lines; the diff_check each one carries states the rule itself:
        // no pull before `*_diffs_before_sync` checks saw the new checksum.
        let log = log_since(dst, log_from);
        let pulls: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&proceeding) && l.contains("Proceeding with remote sync"))
            .collect();
        assert!(!pulls.is_empty(), "{module}: no pull logged\n{log}");
        for line in &pulls {
            let diff: u64 = line
                .split("diff_check ")
                .nth(1)
                .and_then(|t| t.split('.').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert!(
                diff >= DIFFS,
                "{module}: pulled at diff_check {diff} < {DIFFS}: {line}"
            );
        }
        // The TAP's last step: the source saw the destination's new checksum too, so the
        // next check starts from a settled state.
        let back = wait_until(SYNC, || async { seen(src, dst, module).await.0 == new }).await;
        assert!(
            back,
            "{module}: {} never saw {}'s new checksum",
            src.admin_addr(),
            dst.admin_addr()
        );
    } else {
        let not_syncing = format!(
            "Cluster: detected a new checksum for {module} from peer {HOST}:{}, version ",
            src.admin_port()
        );
        let tail = format!("checksum {new} . Not syncing due to '{variable}=0'.");
        let logged = wait_until(SYNC, || async {
            log_since(dst, log_from)
                .lines()
                .any(|l| l.contains(&not_syncing) && l.contains(&tail))
        })
        .await;
        assert!(
            logged,
            "{module}: no \"{tail}\"\n{}",
            log_since(dst, log_from)
        );
        // diff_check keeps rising (the TAP wants SYNC_TIMEOUT-1 checks' worth; 10 here).
        let (_, before) = seen(dst, src, module).await;
        let rising = wait_until(SYNC, || async {
            seen(dst, src, module).await.1 >= before + 10
        })
        .await;
        assert!(rising, "{module}: diff_check stays at {before}");
        assert_ne!(
            runtime_checksum(dst, module).await,
            new,
            "{module}: pulled although disabled"
        );
        let lines = log_since(dst, log_from)
            .lines()
            .filter(|l| l.contains(&not_syncing) && l.contains(&tail))
            .count();
        assert_eq!(
            lines, 1,
            "{module}: the 'Not syncing' line is logged once per new checksum"
        );
        assert!(
            !log_since(dst, log_from)
                .lines()
                .any(|l| l.contains(&proceeding) && l.contains("Proceeding")),
            "{module}: a disabled module was pulled"
        );
    }
}

/// Sets `statements` on `node`, loads admin variables, and waits until `other` pulled them
/// (admin variables are a clustered module too: the TAP's REQUIRE-WAIT).
async fn set_admin(node: &TestNode, other: &TestNode, statements: &[String]) {
    past_epochs(&[node, other], "admin_variables").await;
    let mut all: Vec<&str> = statements.iter().map(String::as_str).collect();
    all.push("LOAD ADMIN VARIABLES TO RUNTIME");
    exec(node, &all).await;
    let want = runtime_checksum(node, "admin_variables").await;
    let pulled = wait_until(SYNC, || async {
        runtime_checksum(other, "admin_variables").await == want
    })
    .await;
    assert!(
        pulled,
        "{} never pulled the admin variables of {}",
        other.admin_addr(),
        node.admin_addr()
    );
}

/// A pair with one server on the primary (the servers payload updates the first one),
/// synced to the replica.
async fn pair_with_a_server() -> (TestNode, TestNode) {
    let (primary, replica) = primary_and_replica().await;
    exec(&primary, &[
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (0, '127.0.0.1', 13306)",
        "LOAD MYSQL SERVERS TO RUNTIME",
    ]).await;
    let want = runtime_checksum(&primary, "mysql_servers_v2").await;
    assert!(
        wait_until(SYNC, || async {
            runtime_checksum(&replica, "mysql_servers_v2").await == want
        })
        .await
    );
    (primary, replica)
}

#[tokio::test]
async fn every_module_pulls_only_after_diffs_before_sync_in_both_directions() {
    let (primary, replica) = pair_with_a_server().await;
    for (module, variable, _) in PAYLOADS {
        check_module_sync(&primary, &replica, module, variable, true).await;
        check_module_sync(&replica, &primary, module, variable, true).await;
    }
}

#[tokio::test]
async fn diffs_before_sync_zero_disables_a_module_while_diff_check_rises() {
    let (primary, replica) = pair_with_a_server().await;
    for (module, variable, _) in PAYLOADS {
        set_admin(&replica, &primary, &[format!("SET {variable}=0")]).await;
        check_module_sync(&primary, &replica, module, variable, false).await;
        // Re-enable: every module but admin_variables then pulls the pending checksum (the
        // replica's LOAD ADMIN makes its admin variables the newest, the TAP's exception).
        let enable = [format!("SET {variable}={DIFFS}")];
        past_epochs(&[&primary, &replica], "admin_variables").await;
        let mut stmts: Vec<&str> = enable.iter().map(String::as_str).collect();
        stmts.push("LOAD ADMIN VARIABLES TO RUNTIME");
        exec(&replica, &stmts).await;
        if module == "admin_variables" {
            past_epochs(&[&primary, &replica], "admin_variables").await;
            exec(&primary, &stmts).await;
        } else {
            let want = runtime_checksum(&primary, module).await;
            let synced = wait_until(SYNC, || async {
                runtime_checksum(&replica, module).await == want
            })
            .await;
            assert!(
                synced,
                "{module} did not sync after re-enabling\n{}",
                common::tail(&replica.log(), 30)
            );
        }
        // Both agree on the admin variables again before the next module.
        let settled = wait_until(SYNC, || async {
            runtime_checksum(&primary, "admin_variables").await
                == runtime_checksum(&replica, "admin_variables").await
        })
        .await;
        assert!(settled, "admin variables never settled after {module}");
    }
}

#[tokio::test]
async fn deprecated_checksum_switch_disables_a_module_like_diffs_zero() {
    let (primary, replica) = pair_with_a_server().await;
    for (module, variable, switch) in PAYLOADS {
        // proxysql_servers has no `admin-checksum_*` switch (the TAP skips it too).
        let Some(switch) = switch else { continue };
        set_admin(&replica, &primary, &[format!("SET {switch}=false")]).await;
        // The switch shows as the diffs variable at 0, which is what the log line names.
        assert_eq!(
            text(&replica, &format!("SELECT variable_value FROM runtime_global_variables WHERE variable_name='{variable}'")).await,
            "0"
        );
        check_module_sync(&primary, &replica, module, variable, false).await;
        // Two LOADs: a LOAD applies `global_variables` in memory order, where the diffs
        // variable comes before its switch, so the first LOAD stores 0 while the switch is
        // still `false` in the running set and only the second stores the diffs value
        // (observed on ProxySQL 2.7.2: `SET admin-checksum_mysql_variables='true'; SET
        // admin-cluster_mysql_variables_diffs_before_sync=3; LOAD ADMIN VARIABLES TO
        // RUNTIME` leaves 0 at runtime; a second LOAD gives 3).
        let enable = [
            format!("SET {switch}=true"),
            format!("SET {variable}={DIFFS}"),
        ];
        past_epochs(&[&primary, &replica], "admin_variables").await;
        let mut stmts: Vec<&str> = enable.iter().map(String::as_str).collect();
        stmts.push("LOAD ADMIN VARIABLES TO RUNTIME");
        stmts.push("LOAD ADMIN VARIABLES TO RUNTIME");
        exec(&replica, &stmts).await;
        if module == "admin_variables" {
            past_epochs(&[&primary, &replica], "admin_variables").await;
            exec(&primary, &stmts).await;
        } else {
            let want = runtime_checksum(&primary, module).await;
            let synced = wait_until(SYNC, || async {
                runtime_checksum(&replica, module).await == want
            })
            .await;
            assert!(
                synced,
                "{module} did not sync after re-enabling\n{}",
                common::tail(&replica.log(), 30)
            );
        }
        let settled = wait_until(SYNC, || async {
            runtime_checksum(&primary, "admin_variables").await
                == runtime_checksum(&replica, "admin_variables").await
        })
        .await;
        assert!(settled, "admin variables never settled after {module}");
    }
}

// --- isolation and restore -----------------------------------------------------------------

#[tokio::test]
async fn primary_is_isolated_from_its_cluster_and_restored() {
    // Two core nodes and the tested primary, all listing all three.
    let ports = [free_port(), free_port(), free_port()];
    let peers: Vec<(u16, String)> = ports.iter().map(|p| (*p, "proxysql".to_string())).collect();
    let mut nodes = Vec::new();
    for p in ports {
        nodes.push(
            start_tap_node(
                p,
                &TapOptions {
                    peers: peers.clone(),
                    no_monitor: true,
                    ..Default::default()
                },
            )
            .await,
        );
    }
    let (core1, core2, primary) = (&nodes[0], &nodes[1], &nodes[2]);
    for n in [core1, core2, primary] {
        wait_peers_seen(n, &ports, "proxysql_servers").await;
    }
    let p = primary.admin_port();
    let no_primary = format!("SELECT CASE COUNT(*) WHEN 0 THEN 1 ELSE 0 END FROM proxysql_servers WHERE hostname='{HOST}' AND port={p}");
    let has_primary =
        format!("SELECT COUNT(*) FROM proxysql_servers WHERE hostname='{HOST}' AND port={p}");

    // 1-3. Back up the core list, remove the primary, wait until every core dropped it.
    exec(
        primary,
        &[
            "DROP TABLE IF EXISTS proxysql_servers_sync_test_backup_2687",
            "CREATE TABLE proxysql_servers_sync_test_backup_2687 AS SELECT * FROM proxysql_servers",
            &format!("DELETE FROM proxysql_servers WHERE hostname='{HOST}' AND port={p}"),
            "LOAD PROXYSQL SERVERS TO RUNTIME",
        ],
    )
    .await;
    for core in [core1, core2] {
        assert!(
            wait_conds(core, std::slice::from_ref(&no_primary), SYNC).await,
            "{} still lists the primary",
            core.admin_addr()
        );
    }
    // 4. The primary holds only itself: its changes stay its own.
    past_epochs(&[core1, core2, primary], "proxysql_servers").await;
    exec(primary, &[
        "DELETE FROM proxysql_servers",
        &format!("INSERT INTO proxysql_servers (hostname, port, weight, comment) VALUES ('{HOST}', {p}, 0, 'proxysql')"),
        "LOAD PROXYSQL SERVERS TO RUNTIME",
    ]).await;
    let core_rules = runtime_checksum(core1, "mysql_query_rules").await;
    update_module(primary, "mysql_query_rules", &[core1, core2]).await;
    let isolated = runtime_checksum(primary, "mysql_query_rules").await;
    assert_ne!(isolated, core_rules);
    // Negative check: far more than diffs_before_sync checks pass and no core pulls it.
    let pulled = wait_until(Duration::from_secs(5), || async {
        runtime_checksum(core1, "mysql_query_rules").await == isolated
            || runtime_checksum(core2, "mysql_query_rules").await == isolated
    })
    .await;
    assert!(!pulled, "a core pulled from the isolated primary");
    for core in [core1, core2] {
        assert_eq!(
            int(
                core,
                &format!("SELECT COUNT(*) FROM stats_proxysql_servers_checksums WHERE port={p}")
            )
            .await,
            0,
            "{} still monitors the primary",
            core.admin_addr()
        );
    }

    // 5. Restore: discard the test's config from disk, put the primary back into a core,
    // wait for every core to list it, then give the primary its old list back.
    exec(
        primary,
        &[
            "LOAD MYSQL QUERY RULES FROM DISK",
            "LOAD MYSQL QUERY RULES TO RUNTIME",
        ],
    )
    .await;
    past_epochs(&[core1, core2, primary], "proxysql_servers").await;
    exec(core1, &[
        &format!("INSERT INTO proxysql_servers (hostname, port, weight, comment) VALUES ('{HOST}', {p}, 0, 'proxysql')"),
        "LOAD PROXYSQL SERVERS TO RUNTIME",
    ]).await;
    for core in [core1, core2] {
        assert!(
            wait_conds(core, std::slice::from_ref(&has_primary), SYNC).await,
            "{} never listed the primary again",
            core.admin_addr()
        );
    }
    past_epochs(&[core1, core2, primary], "proxysql_servers").await;
    exec(
        primary,
        &[
            "DELETE FROM proxysql_servers",
            "INSERT INTO proxysql_servers SELECT * FROM proxysql_servers_sync_test_backup_2687",
            "DROP TABLE proxysql_servers_sync_test_backup_2687",
            "LOAD PROXYSQL SERVERS TO RUNTIME",
        ],
    )
    .await;
    // The cluster is whole again: the restored primary's rules (newest) reach both cores,
    // and a change on a core reaches the primary.
    let restored = runtime_checksum(primary, "mysql_query_rules").await;
    for core in [core1, core2] {
        let ok = wait_until(SYNC, || async {
            runtime_checksum(core, "mysql_query_rules").await == restored
        })
        .await;
        assert!(
            ok,
            "{} never pulled the restored primary's rules",
            core.admin_addr()
        );
    }
    update_module(core2, "mysql_query_rules", &[core1, primary]).await;
    let from_core = runtime_checksum(core2, "mysql_query_rules").await;
    let ok = wait_until(SYNC, || async {
        runtime_checksum(primary, "mysql_query_rules").await == from_core
    })
    .await;
    assert!(
        ok,
        "the restored primary never pulled from a core\n{}",
        common::tail(&primary.log(), 30)
    );
}
