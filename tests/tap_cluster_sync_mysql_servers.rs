//! ProxySQL's `test/tap/tests/test_cluster_sync_mysql_servers-t.cpp` (sysown/proxysql,
//! 2.7.x) as a test of `pxadm node`: `admin-cluster_mysql_servers_sync_algorithm` 1, 2 and 3,
//! with one replica started with `-M` (no monitor) and one without, comparing the replicas'
//! MEMORY, RUNTIME and DISK `mysql_servers` with the master's as the TAP's
//! `check_mysql_servers_sync` does, through the TAP's nine phases (its `queries`).
//!
//! A real backend matters here: the master's and the monitored replica's read_only monitor
//! copies the writer into writer hostgroup 0 (`mysql_replication_hostgroups` 0/1), which is
//! what makes RUNTIME differ from MEMORY. The lab primary plays the TAP's `127.0.0.1:13306`
//! writer and the lab replicas its other servers; run with
//! `PXADM_LAB_DIR=<lab> PXADM_LOOPBACK_ONLY=1 cargo test --test tap_cluster_sync_mysql_servers`.

mod common;
#[path = "tap_common/mod.rs"]
mod tap_common;

use std::sync::{Arc, Mutex};

use common::{free_port, lab, wait_until, TestNode, HOST};
use tap_common::{exec, past_epochs, rows, start_tap_node, text, TapOptions, SYNC};

type Rows = Vec<Vec<Option<String>>>;

const COLUMNS: &str = "hostgroup_id, hostname, port, gtid_port, status, weight, compression, \
     max_connections, max_replication_lag, use_ssl, max_latency_ms, comment";

/// The TAP's `mysql_servers_raw_checksum` as a comparable value: rows with status
/// `OFFLINE_HARD` are skipped, `ONLINE` and `SHUNNED` hash alike (`"0"`), every other status
/// alike (`"2"`). The TAP hashes the rows in the order the node returns them; pxadm compares
/// them sorted, the same rows without depending on how each node orders its runtime table.
fn raw(rows: Rows) -> Rows {
    let mut out: Rows = rows
        .into_iter()
        .filter(|r| r.get(4).cloned().flatten().as_deref() != Some("OFFLINE_HARD"))
        .map(|mut r| {
            let status = match r.get(4).cloned().flatten().as_deref() {
                Some("ONLINE" | "SHUNNED") => "0",
                _ => "2",
            };
            r[4] = Some(status.to_string());
            r
        })
        .collect();
    out.sort();
    out
}

async fn table(node: &TestNode, table: &str) -> Rows {
    raw(rows(node, &format!("SELECT {COLUMNS} FROM {table}")).await)
}

/// The TAP's `wait_for_node_sync`: waits until `table` on `node` equals `want`.
async fn wait_table(node: &TestNode, table: &str, want: &Rows, what: &str) {
    let last = Arc::new(Mutex::new(Rows::new()));
    let ok = wait_until(SYNC, || {
        let last = last.clone();
        async move {
            let got = table_try(node, table).await;
            let same = got.as_ref() == Some(want);
            *last.lock().unwrap_or_else(|e| e.into_inner()) = got.unwrap_or_default();
            same
        }
    })
    .await;
    assert!(
        ok,
        "{what}: {table} of {} never matched\nwant: {want:?}\nlast: {:?}\n--- log tail ---\n{}",
        node.admin_addr(),
        last.lock().unwrap_or_else(|e| e.into_inner()),
        common::tail(&node.log(), 25)
    );
}

async fn table_try(node: &TestNode, table: &str) -> Option<Rows> {
    tap_common::try_rows(node, &format!("SELECT {COLUMNS} FROM {table}"))
        .await
        .map(raw)
}

/// Every module a statement of the phases changes; a LOAD waits until the clock passed all
/// their epochs on all nodes (a replica whose monitor just rewrote its runtime servers holds
/// a fresh epoch; a master LOAD in that same second would be an equal-epoch conflict).
const MODULES: [&str; 4] = [
    "mysql_servers",
    "mysql_servers_v2",
    "admin_variables",
    "mysql_variables",
];

async fn master_exec(nodes: &[&TestNode; 3], statements: &[&str]) {
    for sql in statements {
        if sql.starts_with("LOAD") {
            for module in MODULES {
                past_epochs(nodes, module).await;
            }
        }
        exec(nodes[0], &[sql]).await;
    }
}

/// The TAP's `check_mysql_servers_sync` for the master's current settings.
async fn check_sync(master: &TestNode, withmonitor: &TestNode, nomonitor: &TestNode, phase: usize) {
    let var = |name: &'static str| async move {
        text(
            master,
            &format!(
                "SELECT variable_value FROM runtime_global_variables WHERE variable_name='{name}'"
            ),
        )
        .await
    };
    let algorithm = var("admin-cluster_mysql_servers_sync_algorithm").await;
    let monitor = var("mysql-monitor_enabled").await == "true";
    let save_to_disk = var("admin-cluster_mysql_servers_save_to_disk").await == "true";
    let what = format!(
        "phase {phase} (algorithm {algorithm}, monitor {monitor}, save_to_disk {save_to_disk})"
    );
    eprintln!("checking {what}");

    // "If monitor is enabled, records of runtime_mysql_servers and mysql_servers should not
    // match": the read_only monitor added the writer to hostgroup 0. The TAP sleeps two
    // read_only intervals; this polls for the outcome instead.
    let settled = wait_until(SYNC, || async {
        match (
            table_try(master, "mysql_servers").await,
            table_try(master, "runtime_mysql_servers").await,
        ) {
            (Some(m), Some(r)) => (m != r) == monitor,
            _ => false,
        }
    })
    .await;
    assert!(
        settled,
        "{what}: the master's runtime vs memory is not as the monitor makes it"
    );
    let m_mem = table(master, "mysql_servers").await;
    let m_rt = table(master, "runtime_mysql_servers").await;

    let (w, n) = (withmonitor, nomonitor);
    if !save_to_disk {
        // Every algorithm syncs MEMORY from mysql_servers_v2.
        wait_table(w, "mysql_servers", &m_mem, &what).await;
        wait_table(n, "mysql_servers", &m_mem, &what).await;
        match algorithm.as_str() {
            // 1: runtime_mysql_servers is synced too: both replicas' runtime is the master's.
            "1" => {
                wait_table(w, "runtime_mysql_servers", &m_rt, &what).await;
                wait_table(n, "runtime_mysql_servers", &m_rt, &what).await;
            }
            // 2: only mysql_servers_v2; the monitored replica's own monitor makes the same
            // runtime as the master's, the unmonitored one's runtime is the master's memory.
            "2" => {
                wait_table(w, "runtime_mysql_servers", &m_rt, &what).await;
                wait_table(n, "runtime_mysql_servers", &m_mem, &what).await;
            }
            // 3: algorithm 1 on the `-M` replica, 2 on the other: both end at the master's
            // runtime.
            "3" => {
                wait_table(w, "runtime_mysql_servers", &m_rt, &what).await;
                wait_table(n, "runtime_mysql_servers", &m_rt, &what).await;
            }
            other => panic!("unexpected algorithm {other}"),
        }
    } else {
        // "If Algorithm 1 is selected, the runtime_mysql_servers data will be saved to disk.
        // If Algorithm 2 is selected, the mysql_servers data will be saved to disk."
        match algorithm.as_str() {
            "1" => {
                wait_table(w, "disk.mysql_servers", &m_rt, &what).await;
                wait_table(n, "disk.mysql_servers", &m_rt, &what).await;
            }
            "2" => {
                wait_table(w, "disk.mysql_servers", &m_mem, &what).await;
                wait_table(n, "disk.mysql_servers", &m_mem, &what).await;
            }
            "3" => {
                wait_table(w, "disk.mysql_servers", &m_mem, &what).await;
                wait_table(n, "disk.mysql_servers", &m_rt, &what).await;
            }
            other => panic!("unexpected algorithm {other}"),
        }
    }
}

#[tokio::test]
async fn sync_algorithms_1_2_3_with_and_without_monitor() {
    let lab = lab().await;
    let (m, w, n) = (free_port(), free_port(), free_port());
    // The master lists only itself (the TAP's step 4); each replica lists only the master.
    let master = start_tap_node(
        m,
        &TapOptions {
            peers: vec![(m, "proxysql".into())],
            ..Default::default()
        },
    )
    .await;
    let replica = |no_monitor| TapOptions {
        peers: vec![(m, "proxysql130".into())],
        no_monitor,
        ..Default::default()
    };
    let withmonitor = start_tap_node(w, &replica(false)).await;
    let nomonitor = start_tap_node(n, &replica(true)).await;
    let nodes = [&master, &withmonitor, &nomonitor];
    for node in &nodes[1..] {
        tap_common::wait_peers_seen(node, &[m], "mysql_servers_v2").await;
    }

    // "MySQL Server '127.0.0.1:13306' should function as a writer": the lab primary.
    let read_only = lab
        .root_sql(lab.primary, "SELECT @@global.read_only")
        .expect("mariadb client");
    assert!(
        String::from_utf8_lossy(&read_only.stdout)
            .lines()
            .any(|l| l.trim() == "0"),
        "the lab primary is read_only"
    );

    master_exec(&nodes, &[
        "UPDATE global_variables SET variable_value='false' WHERE variable_name='admin-cluster_mysql_servers_save_to_disk'",
        "LOAD ADMIN VARIABLES TO RUNTIME",
        "DELETE FROM mysql_servers",
        "DELETE FROM mysql_replication_hostgroups",
        "LOAD MYSQL SERVERS TO RUNTIME",
    ])
    .await;
    // The TAP's `insert_mysql_servers_values` on the lab's servers (use_ssl 0: the lab has no
    // TLS); the SHUNNED one is on a port nothing listens on, as 13309 is in the TAP's infra
    // only when it is down.
    let [r1, r2] = lab.replicas;
    let dead = free_port();
    let servers = [
        format!(
            "(1, '{HOST}', {}, 12, 'ONLINE', 1, 1, 1000, 300, 0, 200, '')",
            lab.primary
        ),
        format!("(2, '{HOST}', {r1}, 13, 'OFFLINE_SOFT', 2, 1, 500, 300, 0, 200, '')"),
        format!("(3, '{HOST}', {r2}, 14, 'OFFLINE_HARD', 2, 1, 500, 300, 0, 200, '')"),
        format!("(4, '{HOST}', {dead}, 15, 'SHUNNED', 1, 0, 500, 300, 0, 200, '')"),
    ];
    let mut inserts: Vec<String> = servers
        .iter()
        .map(|v| format!("INSERT INTO mysql_servers ({COLUMNS}) VALUES {v}"))
        .collect();
    // "Here we are assigning the hostgroup to the reader, and read-only actions will
    // creating a new entry in hostgroup 0."
    inserts.push("INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, check_type) VALUES (0, 1, 'read_only')".into());
    inserts.push("LOAD MYSQL SERVERS TO RUNTIME".into());
    let refs: Vec<&str> = inserts.iter().map(String::as_str).collect();
    master_exec(&nodes, &refs).await;

    // The TAP's `queries`, phase by phase.
    let phases: [&[&str]; 9] = [
        &[
            "SET mysql-monitor_read_only_interval=200",
            "SET mysql-monitor_read_only_timeout=100",
            "SET mysql-monitor_enabled='true'",
            "LOAD MYSQL VARIABLES TO RUNTIME",
            "UPDATE global_variables SET variable_value='1' WHERE variable_name='admin-cluster_mysql_servers_sync_algorithm'",
            "LOAD ADMIN VARIABLES TO RUNTIME",
        ],
        &[
            "UPDATE global_variables SET variable_value='2' WHERE variable_name='admin-cluster_mysql_servers_sync_algorithm'",
            "LOAD ADMIN VARIABLES TO RUNTIME",
            "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, check_type) VALUES (999,998,'read_only')",
            "LOAD MYSQL SERVERS TO RUNTIME",
        ],
        &[
            "UPDATE global_variables SET variable_value='3' WHERE variable_name='admin-cluster_mysql_servers_sync_algorithm'",
            "LOAD ADMIN VARIABLES TO RUNTIME",
            "DELETE FROM mysql_replication_hostgroups WHERE writer_hostgroup=999 AND reader_hostgroup=998 AND check_type='read_only'",
            "LOAD MYSQL SERVERS TO RUNTIME",
        ],
        &[
            "SET mysql-monitor_enabled='false'",
            "LOAD MYSQL VARIABLES TO RUNTIME",
            "LOAD MYSQL SERVERS TO RUNTIME",
            "UPDATE global_variables SET variable_value='1' WHERE variable_name='admin-cluster_mysql_servers_sync_algorithm'",
            "LOAD ADMIN VARIABLES TO RUNTIME",
        ],
        &[
            "UPDATE global_variables SET variable_value='2' WHERE variable_name='admin-cluster_mysql_servers_sync_algorithm'",
            "LOAD ADMIN VARIABLES TO RUNTIME",
            "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, check_type) VALUES (999,998,'read_only')",
            "LOAD MYSQL SERVERS TO RUNTIME",
        ],
        &[
            "UPDATE global_variables SET variable_value='3' WHERE variable_name='admin-cluster_mysql_servers_sync_algorithm'",
            "LOAD ADMIN VARIABLES TO RUNTIME",
            "DELETE FROM mysql_replication_hostgroups WHERE writer_hostgroup=999 AND reader_hostgroup=998 AND check_type='read_only'",
            "LOAD MYSQL SERVERS TO RUNTIME",
        ],
        &[
            "SET mysql-monitor_enabled='true'",
            "LOAD MYSQL VARIABLES TO RUNTIME",
            "UPDATE global_variables SET variable_value='true' WHERE variable_name='admin-cluster_mysql_servers_save_to_disk'",
            "UPDATE global_variables SET variable_value='1' WHERE variable_name='admin-cluster_mysql_servers_sync_algorithm'",
            "LOAD ADMIN VARIABLES TO RUNTIME",
            "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, check_type) VALUES (997,996,'read_only')",
            "LOAD MYSQL SERVERS TO RUNTIME",
        ],
        &[
            "UPDATE global_variables SET variable_value='2' WHERE variable_name='admin-cluster_mysql_servers_sync_algorithm'",
            "LOAD ADMIN VARIABLES TO RUNTIME",
            "DELETE FROM mysql_replication_hostgroups WHERE writer_hostgroup=997 AND reader_hostgroup=996 AND check_type='read_only'",
            "LOAD MYSQL SERVERS TO RUNTIME",
        ],
        &[
            "UPDATE global_variables SET variable_value='3' WHERE variable_name='admin-cluster_mysql_servers_sync_algorithm'",
            "LOAD ADMIN VARIABLES TO RUNTIME",
            "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, check_type) VALUES (997,996,'read_only')",
            "LOAD MYSQL SERVERS TO RUNTIME",
        ],
    ];
    for (i, statements) in phases.iter().enumerate() {
        master_exec(&nodes, statements).await;
        // The replicas follow the master's admin and mysql variables (both clustered), so
        // they run the same algorithm and monitor switch before the servers are compared.
        for module in ["admin_variables", "mysql_variables"] {
            let want = tap_common::runtime_checksum(&master, module).await;
            for node in &nodes[1..] {
                let ok = wait_until(SYNC, || async {
                    tap_common::runtime_checksum(node, module).await == want
                })
                .await;
                assert!(
                    ok,
                    "phase {}: {} never pulled {module}",
                    i + 1,
                    node.admin_addr()
                );
            }
        }
        check_sync(&master, &withmonitor, &nomonitor, i + 1).await;
    }
}
