//! The MariaDB lab behind every backend test: real servers, real replication, the scenario's
//! accounts and table. Also exercises the shared harness helpers that need no `pxadm node`.
//! The lab is left running for the next test binary.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{
    free_port, lab, mariadb_cli, mariadb_cli_args, query_resultset, query_rows, try_admin_conn,
    try_query_rows, wait_until, write_file, Lab, HOST,
};
use mysql_async::prelude::Queryable;

const REPLICATION_TIMEOUT: Duration = Duration::from_secs(30);

fn server_error_code(err: &mysql_async::Error) -> Option<u16> {
    match err {
        mysql_async::Error::Server(e) => Some(e.code),
        _ => None,
    }
}

async fn connect(port: u16, (user, pass): (&str, &str)) -> mysql_async::Conn {
    try_admin_conn(port, user, pass)
        .await
        .unwrap_or_else(|e| panic!("{user} cannot log in on {HOST}:{port}: {e}"))
}

#[tokio::test]
async fn lab_is_brought_up_once_and_reports_three_distinct_ports() {
    let first = lab().await;
    let second = lab().await;
    assert!(
        std::ptr::eq(first, second),
        "lab() must be cached per test binary"
    );
    let ports = first.ports();
    assert!(ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2]);
    assert_eq!(ports[1], ports[0] + 1);
    assert_eq!(ports[2], ports[0] + 2);
}

#[tokio::test]
async fn primary_is_writable_and_replicas_are_read_only_gtid_replicas() {
    let lab = lab().await;
    let mut server_ids = Vec::new();
    for (i, port) in lab.ports().into_iter().enumerate() {
        let mut conn = connect(port, Lab::MONITOR).await;
        let rows = query_rows(
            &mut conn,
            "SELECT @@read_only, @@server_id, @@log_bin, @@gtid_strict_mode, @@bind_address",
        )
        .await;
        let row = &rows[0];
        let expected_read_only = if i == 0 { "0" } else { "1" };
        assert_eq!(
            row[0].as_deref(),
            Some(expected_read_only),
            "read_only on port {port}"
        );
        assert_eq!(row[2].as_deref(), Some("1"), "log_bin on port {port}");
        assert_eq!(
            row[3].as_deref(),
            Some("1"),
            "gtid_strict_mode on port {port}"
        );
        assert_eq!(row[4].as_deref(), Some(HOST), "bind_address on port {port}");
        server_ids.push(row[1].clone());

        // The monitor account must be allowed SHOW SLAVE STATUS (SLAVE MONITOR on 10.5+).
        let status = query_resultset(&mut conn, "SHOW SLAVE STATUS").await;
        if i == 0 {
            assert!(status.rows.is_empty(), "the primary replicates from nobody");
            continue;
        }
        assert_eq!(
            status.rows.len(),
            1,
            "replica on port {port} has no replication"
        );
        let field = |name: &str| {
            let idx = status
                .column_index(name)
                .unwrap_or_else(|| panic!("SHOW SLAVE STATUS lacks {name}"));
            status.rows[0][idx].clone().unwrap_or_default()
        };
        assert_eq!(field("Slave_IO_Running"), "Yes", "IO thread on port {port}");
        assert_eq!(
            field("Slave_SQL_Running"),
            "Yes",
            "SQL thread on port {port}"
        );
        assert_eq!(field("Using_Gtid"), "Slave_Pos", "GTID mode on port {port}");
        assert_eq!(field("Master_Port"), lab.primary.to_string());
    }
    server_ids.sort();
    server_ids.dedup();
    assert_eq!(server_ids.len(), 3, "server_id must differ per server");
}

#[tokio::test]
async fn a_row_inserted_on_the_primary_reaches_both_replicas_unchanged() {
    let lab = lab().await;
    let marker = format!("lab-test-{}", uuid::Uuid::new_v4());
    let mut primary = connect(lab.primary, Lab::APP).await;
    primary
        .query_drop(format!(
            "INSERT INTO duhokim.tab1(col2) VALUES ('{marker}')"
        ))
        .await
        .expect("insert on the primary");
    let select = format!("SELECT col1, col2, col3 FROM duhokim.tab1 WHERE col2 = '{marker}'");
    let on_primary = query_rows(&mut primary, &select).await;
    assert_eq!(on_primary.len(), 1);
    assert!(
        on_primary[0][2].is_some(),
        "col3 defaults to current_timestamp"
    );

    for port in lab.replicas {
        let replica = tokio::sync::Mutex::new(connect(port, Lab::APP).await);
        let arrived = wait_until(REPLICATION_TIMEOUT, || async {
            !query_rows(&mut *replica.lock().await, &select)
                .await
                .is_empty()
        })
        .await;
        assert!(
            arrived,
            "row {marker} did not reach the replica on port {port}"
        );
        let seen = query_rows(&mut *replica.lock().await, &select).await;
        assert_eq!(
            seen, on_primary,
            "replica on port {port} holds a different row"
        );
    }
}

#[tokio::test]
async fn replicas_refuse_application_writes_and_monitor_cannot_write_anywhere() {
    let lab = lab().await;
    for port in lab.replicas {
        let mut conn = connect(port, Lab::APP).await;
        let err = try_query_rows(&mut conn, "INSERT INTO duhokim.tab1(col2) VALUES ('nope')")
            .await
            .expect_err("a read-only replica accepted a write");
        // ER_OPTION_PREVENTS_STATEMENT: running with --read-only.
        assert_eq!(server_error_code(&err), Some(1290), "{err}");
    }
    let mut monitor = connect(lab.primary, Lab::MONITOR).await;
    let err = try_query_rows(
        &mut monitor,
        "INSERT INTO duhokim.tab1(col2) VALUES ('nope')",
    )
    .await
    .expect_err("the monitor account could write");
    // ER_TABLEACCESS_DENIED_ERROR.
    assert_eq!(server_error_code(&err), Some(1142), "{err}");
}

#[tokio::test]
async fn the_scenario_writer_statement_runs_through_the_real_client() {
    let lab = lab().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sql = write_file(
        dir.path(),
        "test.sql",
        "INSERT INTO tab1(col2, col3) values(@@hostname, now());\n",
    );
    let (user, pass) = Lab::APP;
    mariadb_cli_args(lab.primary, user, pass, &sql, &["--database=duhokim"])
        .await
        .expect_success();

    let (user, pass) = Lab::MONITOR;
    for port in lab.ports() {
        let out = mariadb_cli_args(
            port,
            user,
            pass,
            "SELECT CURRENT_USER()",
            &["--skip-column-names"],
        )
        .await;
        assert_eq!(out.expect_success().trim(), "monitor@127.0.0.1");
    }

    let denied = mariadb_cli(lab.primary, user, "wrong", "SELECT 1").await;
    assert!(!denied.success());
    assert!(denied.stderr.contains("ERROR 1045"), "{}", denied.stderr);
}

#[tokio::test]
async fn concurrent_lab_up_calls_are_serialized_and_idempotent() {
    let lab = lab().await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join("lab");
    let run = |command: &'static str| {
        tokio::process::Command::new(&script)
            .arg(command)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
    };
    let (a, b) = tokio::join!(run("up"), run("up"));
    for out in [a, b] {
        let out = out.expect("run scripts/lab up");
        assert!(
            out.status.success(),
            "scripts/lab up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let status = run("status").await.expect("run scripts/lab status");
    let text = String::from_utf8_lossy(&status.stdout);
    for port in lab.ports() {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(&port.to_string()))
            .unwrap_or_else(|| panic!("status lacks port {port}:\n{text}"));
        assert!(!line.contains(" down"), "{line}");
    }
    assert_eq!(text.matches("io=Yes sql=Yes").count(), 2, "{text}");
}

#[tokio::test]
async fn free_port_hands_out_distinct_bindable_ports() {
    let ports: Vec<u16> = (0..20).map(|_| free_port()).collect();
    let mut unique = ports.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ports.len(), "{ports:?}");
    for port in ports {
        TcpListener::bind((HOST, port)).unwrap_or_else(|e| panic!("port {port}: {e}"));
    }
}

#[tokio::test]
async fn wait_until_reports_success_and_timeout() {
    let start = Instant::now();
    let mut calls = 0;
    let ok = wait_until(Duration::from_secs(5), || {
        calls += 1;
        std::future::ready(calls >= 3)
    })
    .await;
    assert!(ok);
    assert_eq!(calls, 3);

    let start_timeout = Instant::now();
    assert!(!wait_until(Duration::from_millis(300), || std::future::ready(false)).await);
    let waited = start_timeout.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}
