//! The admin plane of `pxadm node` against real clients (issue 2): the stock `mariadb` client
//! running the scenario's SQL unchanged, mysql_async with default options, restarts, SIGKILL
//! during saves, bad logins, garbage on the wire, broken config files and the ProxySQL admin
//! commands a DBA types.
//!
//! Every node gets `PXADM_LOOPBACK_ONLY=1` (from the harness) and `--peer-map`s for the
//! scenario's `192.168.0.11/12:6032`, so the peer monitors started by the scenario SQL only
//! ever dial loopback.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{
    admin_conn, free_port, mariadb_cli, mariadb_cli_args, pxadm_bin, query_resultset, query_rows,
    scenario_sql, try_admin_conn, try_query_rows, unix_now, write_file, NodeBuilder, Signal,
    TestNode, ADMIN_PASS, ADMIN_USER, HOST,
};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The version string a default node answers (`git describe` of ProxySQL 2.7.2-14).
const VERSION: &str = "2.7.2-14-g5cc418b";

/// `proxysql_servers` checksum of the scenario's two rows, as a real 2.7.2 node recorded it
/// (scenario README, step 4).
const SCENARIO_PROXYSQL_SERVERS_CHECKSUM: &str = "0xEB7F779029A89859";

const EMPTY_CHECKSUM: &str = "0x0000000000000000";

/// A node whose cluster monitors can only reach loopback: the scenario's node1 address is
/// this node itself, node2's is a loopback port nobody listens on.
fn scenario_node() -> NodeBuilder {
    let port = free_port();
    TestNode::builder()
        .admin_port(port)
        .scenario_peers(port, free_port())
}

/// One row of `runtime_checksums_values`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ModuleState {
    version: u64,
    epoch: u64,
    checksum: String,
}

/// Parses `name version epoch checksum` rows (mysql_async rows or the CLI's tab-separated
/// batch output with its header line).
fn module_states<I, R>(rows: I) -> BTreeMap<String, ModuleState>
where
    I: IntoIterator<Item = R>,
    R: AsRef<[Option<String>]>,
{
    rows.into_iter()
        .map(|row| {
            let row = row.as_ref();
            let text = |i: usize| row[i].clone().unwrap_or_default();
            (
                text(0),
                ModuleState {
                    version: text(1).parse().expect("numeric version"),
                    epoch: text(2).parse().expect("numeric epoch"),
                    checksum: text(3),
                },
            )
        })
        .collect()
}

async fn checksums(conn: &mut Conn) -> BTreeMap<String, ModuleState> {
    module_states(
        query_rows(
            conn,
            "SELECT name, version, epoch, checksum FROM runtime_checksums_values ORDER BY name",
        )
        .await,
    )
}

fn server_error(err: &mysql_async::Error) -> Option<(u16, String)> {
    match err {
        mysql_async::Error::Server(e) => Some((e.code, e.message.clone())),
        _ => None,
    }
}

/// Runs `sql`, expecting a server error; returns its code and message.
async fn expect_error(conn: &mut Conn, sql: &str) -> (u16, String) {
    match try_query_rows(conn, sql).await {
        Ok(rows) => panic!("{sql:?} succeeded with {rows:?}, expected an error"),
        Err(e) => server_error(&e).unwrap_or_else(|| panic!("{sql:?}: not a server error: {e}")),
    }
}

async fn scalar(conn: &mut Conn, sql: &str) -> Option<String> {
    let rows = query_rows(conn, sql).await;
    assert_eq!(rows.len(), 1, "{sql:?} returned {rows:?}");
    rows[0][0].clone()
}

// --- the scenario SQL through the stock client -------------------------------------------

#[tokio::test]
async fn mariadb_client_runs_scenario_sql_unchanged_and_checksums_follow_the_rules() {
    let before_start = unix_now();
    let node = scenario_node().start().await;
    let port = node.admin_port();

    for file in ["node-cluster-setup.sql", "node2-monitor.sql"] {
        mariadb_cli(port, ADMIN_USER, ADMIN_PASS, &scenario_sql(file))
            .await
            .expect_success();
    }
    let after_sql = unix_now();

    let out = mariadb_cli(
        port,
        ADMIN_USER,
        ADMIN_PASS,
        "SELECT * FROM runtime_checksums_values",
    )
    .await;
    let stdout = out.expect_success();
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("name\tversion\tepoch\tchecksum"));
    let states = module_states(lines.map(|l| {
        l.split('\t')
            .map(|f| Some(f.to_string()))
            .collect::<Vec<_>>()
    }));
    let names: Vec<&str> = states.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "admin_variables",
            "mysql_query_rules",
            "mysql_servers",
            "mysql_servers_v2",
            "mysql_users",
            "mysql_variables",
            "proxysql_servers"
        ],
        "{stdout}"
    );

    // §5.4: every module loaded once at start-up (version 1, epoch = start), then one more
    // LOAD ... TO RUNTIME each for the three modules the scripts load.
    let expected_version = |name: &str| match name {
        "admin_variables" | "proxysql_servers" | "mysql_variables" => 2,
        _ => 1,
    };
    let start_epoch = states["mysql_users"].epoch;
    assert!(
        (before_start..=after_sql).contains(&start_epoch),
        "start-up epoch {start_epoch} outside [{before_start}, {after_sql}]"
    );
    for (name, state) in &states {
        assert_eq!(state.version, expected_version(name), "{name}: {stdout}");
        assert!(
            state.epoch >= start_epoch && state.epoch <= after_sql,
            "{name}: epoch {} outside [{start_epoch}, {after_sql}]",
            state.epoch
        );
        assert!(
            state.checksum.len() == 18 && state.checksum.starts_with("0x"),
            "{name}: checksum {:?} is not 0x + 16 hex digits",
            state.checksum
        );
    }
    for empty in [
        "mysql_query_rules",
        "mysql_servers",
        "mysql_servers_v2",
        "mysql_users",
    ] {
        assert_eq!(states[empty].checksum, EMPTY_CHECKSUM, "{empty}");
    }
    assert_eq!(
        states["proxysql_servers"].checksum,
        SCENARIO_PROXYSQL_SERVERS_CHECKSUM
    );
    assert_ne!(states["mysql_variables"].checksum, EMPTY_CHECKSUM);
    assert_ne!(states["admin_variables"].checksum, EMPTY_CHECKSUM);

    // What the scripts saved is on disk and running.
    let mut conn = node.admin().await;
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT variable_value FROM disk.global_variables WHERE variable_name='admin-cluster_username'"
        )
        .await
        .as_deref(),
        Some("cluster_user")
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT variable_value FROM runtime_global_variables WHERE variable_name='mysql-monitor_ping_interval'"
        )
        .await
        .as_deref(),
        Some("2000")
    );
    assert_eq!(
        query_rows(
            &mut conn,
            "SELECT hostname, port, weight, comment FROM disk.proxysql_servers ORDER BY hostname"
        )
        .await,
        [
            ["192.168.0.11", "6032", "0", "proxysql_node1"].map(|s| Some(s.to_string())),
            ["192.168.0.12", "6032", "0", "proxysql_node2"].map(|s| Some(s.to_string())),
        ]
    );
    // The new cluster user logs in (the credentials were loaded to runtime).
    let mut cluster = admin_conn(port, "cluster_user", "cluster_pass").await;
    assert_eq!(
        scalar(&mut cluster, "SELECT @@version").await.as_deref(),
        Some(VERSION)
    );
}

// --- mysql_async without pinned options ---------------------------------------------------

#[tokio::test]
async fn mysql_async_with_default_options_connects_and_runs_admin_statements() {
    let node = scenario_node().start().await;
    // Default options: mysql_async asks `SELECT @@max_allowed_packet,@@wait_timeout,@@socket`
    // right after the handshake, which a real ProxySQL admin rejects (spec §1.7.5).
    let opts = OptsBuilder::default()
        .ip_or_hostname(HOST)
        .tcp_port(node.admin_port())
        .user(Some(ADMIN_USER))
        .pass(Some(ADMIN_PASS));
    let mut conn = tokio::time::timeout(Duration::from_secs(10), Conn::new(opts))
        .await
        .expect("handshake within 10 s")
        .expect("mysql_async connects with default options");

    let version: Option<String> = conn.query_first("SELECT @@version").await.unwrap();
    assert_eq!(version.as_deref(), Some(VERSION));
    conn.query_drop(
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port, comment) VALUES (0, '127.0.0.1', 3306, 'async')",
    )
    .await
    .unwrap();
    conn.query_drop("LOAD MYSQL SERVERS TO RUNTIME")
        .await
        .unwrap();
    conn.query_drop("SAVE MYSQL SERVERS TO DISK").await.unwrap();
    let rows: Vec<(String, String, String)> = conn
        .query("SELECT hostname, port, status FROM runtime_mysql_servers")
        .await
        .unwrap();
    assert_eq!(rows, [("127.0.0.1".into(), "3306".into(), "ONLINE".into())]);
    let disk: Option<String> = conn
        .query_first("SELECT comment FROM disk.mysql_servers")
        .await
        .unwrap();
    assert_eq!(disk.as_deref(), Some("async"));
    // Errors come back as ProxySQL admin errors and the session stays usable.
    let err = conn
        .query_drop("SELECT * FROM no_such_table")
        .await
        .unwrap_err();
    let (code, msg) = server_error(&err).expect("server error");
    assert_eq!(code, 1045);
    assert_eq!(msg, "ProxySQL Admin Error: no such table: no_such_table");
    conn.ping().await.expect("ping after an error");
    let n: Option<String> = conn
        .query_first("SELECT COUNT(*) FROM runtime_checksums_values")
        .await
        .unwrap();
    assert_eq!(n.as_deref(), Some("7"));
    conn.disconnect().await.unwrap();
}

// --- durability ---------------------------------------------------------------------------

#[tokio::test]
async fn restart_keeps_what_was_saved_to_disk_and_drops_what_was_not() {
    let mut node = scenario_node().start().await;
    let mut conn = node.admin().await;
    for sql in [
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port, comment) VALUES (0, '10.0.0.1', 3306, 'saved')",
        "INSERT INTO mysql_users (username, password) VALUES ('saved_user', 'pw')",
        "UPDATE global_variables SET variable_value='4242' WHERE variable_name='admin-refresh_interval'",
        "SAVE MYSQL SERVERS TO DISK",
        "SAVE MYSQL USERS TO DISK",
        "SAVE ADMIN VARIABLES TO DISK",
        // Not saved: in memory only, and one of them even loaded to runtime.
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port, comment) VALUES (0, '10.0.0.2', 3306, 'memory only')",
        "LOAD MYSQL SERVERS TO RUNTIME",
        "INSERT INTO mysql_query_rules (rule_id, active, match_digest, apply) VALUES (7, 1, '^SELECT', 1)",
        "UPDATE global_variables SET variable_value='3000' WHERE variable_name='mysql-monitor_ping_interval'",
    ] {
        query_rows(&mut conn, sql).await;
    }
    drop(conn);

    node.restart().await;
    let mut conn = node.admin().await;
    let hosts = |rows: Vec<Vec<Option<String>>>| -> Vec<String> {
        rows.into_iter().map(|r| r[0].clone().unwrap()).collect()
    };
    assert_eq!(
        hosts(
            query_rows(
                &mut conn,
                "SELECT hostname FROM mysql_servers ORDER BY hostname"
            )
            .await
        ),
        ["10.0.0.1"]
    );
    assert_eq!(
        hosts(
            query_rows(
                &mut conn,
                "SELECT hostname FROM runtime_mysql_servers ORDER BY hostname"
            )
            .await
        ),
        ["10.0.0.1"]
    );
    assert_eq!(
        hosts(query_rows(&mut conn, "SELECT username FROM runtime_mysql_users").await),
        ["saved_user", "saved_user"],
        "a backend+frontend user appears twice at runtime"
    );
    assert!(query_rows(&mut conn, "SELECT * FROM mysql_query_rules")
        .await
        .is_empty());
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT variable_value FROM runtime_global_variables WHERE variable_name='admin-refresh_interval'"
        )
        .await
        .as_deref(),
        Some("4242")
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT variable_value FROM global_variables WHERE variable_name='mysql-monitor_ping_interval'"
        )
        .await
        .as_deref(),
        Some("8000")
    );
    // A restart is a fresh start-up: every module back at version 1.
    for (name, state) in checksums(&mut conn).await {
        assert_eq!(state.version, 1, "{name} after restart");
    }
}

/// Rows of `mysql_servers` the SIGKILL test rewrites as one unit.
const SERVER_ROWS: u64 = 120;

/// A tiny deterministic generator for kill delays (seeded from the clock and printed, so a
/// failing run can be replayed by hand).
struct Lcg(u64);

impl Lcg {
    fn next_in(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        lo + (self.0 >> 33) % (hi - lo)
    }
}

/// What the saving client has done so far: the newest generation it started writing and the
/// newest one whose `SAVE ... TO DISK` was acknowledged.
#[derive(Default)]
struct SaveProgress {
    attempted: AtomicU64,
    acknowledged: AtomicU64,
}

/// Rewrites every row of `mysql_servers` and the replication hostgroup with generation `g`,
/// then saves; loops until the connection breaks (the node is killed under it).
async fn hammer_saves(port: u16, first: u64, progress: Arc<SaveProgress>) {
    let Ok(mut conn) = try_admin_conn(port, ADMIN_USER, ADMIN_PASS).await else {
        return;
    };
    for generation in first.. {
        progress.attempted.store(generation, Ordering::SeqCst);
        // Each statement touches all rows; a half-saved state would mix generations.
        let sql = format!(
            "UPDATE mysql_servers SET max_connections={generation}, comment='gen-{generation}'; \
             UPDATE mysql_replication_hostgroups SET comment='gen-{generation}'; \
             SAVE MYSQL SERVERS TO DISK"
        );
        for statement in sql.split("; ") {
            if conn.query_drop(statement).await.is_err() {
                return;
            }
        }
        progress.acknowledged.store(generation, Ordering::SeqCst);
    }
}

/// The single generation `disk.mysql_servers` and `disk.mysql_replication_hostgroups` hold;
/// panics on a mixed, partial or corrupt state.
async fn verify_disk_generation(conn: &mut Conn) -> u64 {
    assert_eq!(
        query_rows(conn, "PRAGMA disk.integrity_check").await,
        [[Some("ok".to_string())]],
        "proxysql.db is corrupt"
    );
    let row = &query_rows(
        conn,
        "SELECT COUNT(*), COUNT(DISTINCT max_connections), COUNT(DISTINCT comment), \
         MIN(max_connections), MIN(comment) FROM disk.mysql_servers",
    )
    .await[0];
    let text = |i: usize| row[i].clone().unwrap_or_default();
    assert_eq!(text(0), SERVER_ROWS.to_string(), "row count: {row:?}");
    assert_eq!(
        (text(1).as_str(), text(2).as_str()),
        ("1", "1"),
        "disk holds a mix of generations: {row:?}"
    );
    let generation: u64 = text(3).parse().unwrap();
    assert_eq!(text(4), format!("gen-{generation}"), "{row:?}");
    assert_eq!(
        query_rows(
            conn,
            "SELECT writer_hostgroup, reader_hostgroup, comment FROM disk.mysql_replication_hostgroups"
        )
        .await,
        [[
            Some("10".to_string()),
            Some("20".to_string()),
            Some(format!("gen-{generation}"))
        ]],
        "the hostgroup table was saved in another transaction than the servers"
    );
    // Start-up copies disk into memory: memory shows the same generation.
    assert_eq!(
        query_rows(
            conn,
            "SELECT DISTINCT max_connections FROM main.mysql_servers"
        )
        .await,
        [[Some(generation.to_string())]]
    );
    generation
}

#[tokio::test]
async fn sigkill_during_save_to_disk_loop_never_corrupts_proxysql_db() {
    let mut node = scenario_node().start().await;
    let port = node.admin_port();
    let mut conn = node.admin().await;
    for i in 0..SERVER_ROWS {
        query_rows(
            &mut conn,
            &format!(
                "INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections, comment) \
                 VALUES ({}, '10.1.0.{i}', 3306, 0, 'gen-0')",
                10 + i % 2
            ),
        )
        .await;
    }
    query_rows(
        &mut conn,
        "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, comment) VALUES (10, 20, 'gen-0')",
    )
    .await;
    query_rows(&mut conn, "SAVE MYSQL SERVERS TO DISK").await;
    drop(conn);

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("kill-delay seed: {seed}");
    let mut rng = Lcg(seed);
    let mut verified = 0u64;
    let mut total_saves = 0u64;
    for round in 0..6 {
        let progress = Arc::new(SaveProgress::default());
        progress.acknowledged.store(verified, Ordering::SeqCst);
        let hammer = tokio::spawn(hammer_saves(port, verified + 1, progress.clone()));
        // Let some saves complete, then strike at a random moment.
        let delay = rng.next_in(150, 900);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        node.kill(Signal::Kill);
        node.wait_exit(Duration::from_secs(10))
            .await
            .expect("the node dies on SIGKILL");
        tokio::time::timeout(Duration::from_secs(20), hammer)
            .await
            .expect("the client notices the dead node")
            .unwrap();
        let acknowledged = progress.acknowledged.load(Ordering::SeqCst);
        let attempted = progress.attempted.load(Ordering::SeqCst);

        node.restart().await;
        let mut conn = node.admin().await;
        let generation = verify_disk_generation(&mut conn).await;
        eprintln!(
            "round {round}: killed after {delay} ms; acknowledged {acknowledged}, attempted {attempted}, on disk {generation}"
        );
        // Old or new, never older than what was acknowledged, never invented.
        assert!(
            generation >= acknowledged && generation <= attempted.max(acknowledged),
            "disk generation {generation} outside [{acknowledged}, {attempted}]"
        );
        total_saves += acknowledged - verified;
        verified = generation;
    }
    assert!(
        total_saves >= 6,
        "only {total_saves} saves completed before the kills: the test did not exercise the loop"
    );
}

// --- bad clients --------------------------------------------------------------------------

#[tokio::test]
async fn wrong_password_is_refused_with_1045_and_proxysqls_text() {
    let node = scenario_node().start().await;
    let port = node.admin_port();
    let err = try_admin_conn(port, ADMIN_USER, "not-the-password")
        .await
        .expect_err("a wrong password must not log in");
    assert_eq!(
        server_error(&err),
        Some((
            1045,
            "ProxySQL Error: Access denied for user 'admin'@'127.0.0.1' (using password: YES)"
                .to_string()
        ))
    );
    let err = try_admin_conn(port, "nobody", "x").await.unwrap_err();
    assert_eq!(
        server_error(&err).map(|(c, _)| c),
        Some(1045),
        "unknown user: {err}"
    );

    let out = mariadb_cli(port, ADMIN_USER, "wrong", "SELECT 1").await;
    assert!(!out.success());
    assert!(
        out.stderr.contains(
            "ERROR 1045 (28000): ProxySQL Error: Access denied for user 'admin'@'127.0.0.1' (using password: YES)"
        ),
        "{}",
        out.stderr
    );
    // The node still serves correct logins.
    let mut conn = node.admin().await;
    assert_eq!(scalar(&mut conn, "SELECT 1").await.as_deref(), Some("1"));
}

/// Sends `bytes` on a fresh connection (after reading the server greeting) and reports
/// whether the server closed the connection within `timeout`.
async fn garbage_is_dropped(port: u16, bytes: &[u8], read_greeting: bool) -> bool {
    let mut stream = TcpStream::connect((HOST, port)).await.unwrap();
    let mut buf = vec![0u8; 4096];
    if read_greeting {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("greeting within 5 s")
            .unwrap();
        assert!(n > 4, "no handshake packet");
        assert_eq!(buf[4], 10, "protocol version 10 handshake");
    }
    if stream.write_all(bytes).await.is_err() {
        return true;
    }
    // Drain whatever the server answers (an ERR is fine) until it closes.
    let closed = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), closed)
        .await
        .is_ok()
}

#[tokio::test]
async fn garbage_on_the_admin_port_drops_that_connection_and_the_node_keeps_serving() {
    let node = scenario_node().start().await;
    let port = node.admin_port();
    let mut established = node.admin().await;

    let mut framed = vec![0x40, 0, 0, 1];
    framed.extend((0..0x40u32).map(|i| (i * 37 % 251) as u8));
    let cases: [(&str, Vec<u8>, bool); 4] = [
        (
            "HTTP request",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            true,
        ),
        ("a framed packet of noise", framed, true),
        (
            "an absurd packet length",
            vec![0xff, 0xff, 0xff, 1, 0, 0, 0],
            true,
        ),
        (
            "noise before the greeting was read",
            (0..3000u32).map(|i| (i * 131 % 256) as u8).collect(),
            false,
        ),
    ];
    for (what, bytes, read_greeting) in cases {
        assert!(
            garbage_is_dropped(port, &bytes, read_greeting).await,
            "{what}: the connection stayed open"
        );
        // An open session and a new one both still work.
        assert_eq!(
            scalar(
                &mut established,
                "SELECT COUNT(*) FROM runtime_checksums_values"
            )
            .await
            .as_deref(),
            Some("7"),
            "after {what}"
        );
        let mut fresh = node.admin().await;
        assert_eq!(
            scalar(&mut fresh, "SELECT @@version").await.as_deref(),
            Some(VERSION)
        );
    }
}

#[tokio::test]
async fn broken_config_file_exits_nonzero_with_a_line_numbered_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_file(
        dir.path(),
        "proxysql.cnf",
        "datadir=\"/var/lib/proxysql\"\n\
         admin_variables=\n\
         {\n\
         \tadmin_credentials=\"admin:admin\"\n\
         \tmysql_ifaces=\"127.0.0.1:6032\"\n\
         \trefresh_interval = = 2000\n\
         }\n",
    );
    let mut cmd = tokio::process::Command::new(pxadm_bin());
    cmd.arg("node")
        .arg("--datadir")
        .arg(dir.path().join("data"))
        .arg("--admin")
        .arg(format!("{HOST}:{}", free_port()))
        .arg("--config")
        .arg(&config)
        .env("PXADM_LOOPBACK_ONLY", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("a node with a broken config exits by itself")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit status {}", out.status);
    let located = format!("{}:6:", config.display());
    assert!(
        stderr.lines().any(|l| l.contains(&located)),
        "no error naming line 6 of the file ({located}) on stderr:\n{stderr}"
    );
}

// --- admin commands -----------------------------------------------------------------------

#[tokio::test]
async fn identity_show_and_config_commands_answer_like_proxysql() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_file(
        dir.path(),
        "proxysql.cnf",
        &format!(
            "admin_variables=\n{{\n\tmysql_ifaces=\"127.0.0.1:{port}\"\n}}\n\
             mysql_servers=\n(\n\t{{ address=\"10.9.0.1\", port=3306, hostgroup=0, comment=\"from config\" }},\n\
             \t{{ address=\"10.9.0.2\", port=3306, hostgroup=1 }}\n)\n"
        ),
    );
    let node = TestNode::builder()
        .admin_port(port)
        .scenario_peers(port, free_port())
        .config(&config)
        .start()
        .await;
    let mut conn = node.admin().await;

    let rs = query_resultset(&mut conn, "SELECT @@admin-version").await;
    assert_eq!(rs.rows, [[Some(VERSION.to_string())]]);
    let rs = query_resultset(&mut conn, "select @@version_comment limit 1").await;
    assert_eq!(rs.rows, [[Some("(ProxySQL Admin Module)".to_string())]]);

    let tables: Vec<String> = query_rows(&mut conn, "SHOW TABLES")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    for t in [
        "global_variables",
        "mysql_servers",
        "mysql_query_rules",
        "proxysql_servers",
        "runtime_checksums_values",
        "runtime_mysql_servers",
    ] {
        assert!(
            tables.iter().any(|x| x == t),
            "SHOW TABLES lacks {t}: {tables:?}"
        );
    }
    assert!(
        !tables.iter().any(|x| x.starts_with("stats_")),
        "SHOW TABLES lists main only: {tables:?}"
    );
    let mut sorted = tables.clone();
    sorted.sort();
    assert_eq!(tables, sorted, "SHOW TABLES is ordered by name");
    let stats_tables = query_rows(&mut conn, "SHOW TABLES FROM stats").await;
    assert!(stats_tables
        .iter()
        .any(|r| r[0].as_deref() == Some("stats_proxysql_servers_checksums")));

    let rs = query_resultset(&mut conn, "SHOW CREATE TABLE proxysql_servers").await;
    assert_eq!(rs.columns, ["table", "Create Table"]);
    assert_eq!(
        rs.rows,
        [[
            Some("proxysql_servers".to_string()),
            Some(
                "CREATE TABLE proxysql_servers (\n    hostname VARCHAR NOT NULL,\n    port INT NOT NULL DEFAULT 6032,\n    weight INT CHECK (weight >= 0) NOT NULL DEFAULT 0,\n    comment VARCHAR NOT NULL DEFAULT '',\n    PRIMARY KEY (hostname, port) )"
                    .to_string()
            )
        ]]
    );

    let rs = query_resultset(&mut conn, "SHOW DATABASES").await;
    assert_eq!(rs.columns, ["seq", "name", "file"]);
    let names: Vec<&str> = rs.rows.iter().map(|r| r[1].as_deref().unwrap()).collect();
    assert_eq!(names, ["main", "disk", "stats", "monitor", "stats_history"]);
    let disk_file = rs.rows[1][2].clone().unwrap();
    assert!(
        disk_file.ends_with("proxysql.db"),
        "disk is proxysql.db: {disk_file}"
    );

    // LOAD ... FROM CONFIG re-reads the section into memory (OK carries the row count).
    let config_hosts = |rows: Vec<Vec<Option<String>>>| -> Vec<String> {
        rows.into_iter().map(|r| r[0].clone().unwrap()).collect()
    };
    assert_eq!(
        config_hosts(
            query_rows(
                &mut conn,
                "SELECT hostname FROM mysql_servers ORDER BY hostname"
            )
            .await
        ),
        ["10.9.0.1", "10.9.0.2"]
    );
    conn.query_drop("DELETE FROM mysql_servers").await.unwrap();
    conn.query_drop("LOAD MYSQL SERVERS FROM CONFIG")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 2);
    assert_eq!(
        query_rows(
            &mut conn,
            "SELECT hostname, comment FROM mysql_servers ORDER BY hostname"
        )
        .await,
        [
            [
                Some("10.9.0.1".to_string()),
                Some("from config".to_string())
            ],
            [Some("10.9.0.2".to_string()), Some(String::new())],
        ]
    );
}

#[tokio::test]
async fn load_from_config_without_a_config_file_is_an_error() {
    let node = scenario_node().start().await;
    let mut conn = node.admin().await;
    let (code, msg) = expect_error(&mut conn, "LOAD MYSQL SERVERS FROM CONFIG").await;
    assert_eq!(code, 1045);
    assert!(msg.contains("Config file unknown"), "{msg}");
    assert_eq!(scalar(&mut conn, "SELECT 1").await.as_deref(), Some("1"));
}

#[tokio::test]
async fn stats_user_reads_stats_tables_and_cannot_write() {
    let node = scenario_node().start().await;
    let mut stats = admin_conn(node.admin_port(), "stats", "stats").await;
    let rows = query_rows(
        &mut stats,
        "SELECT Variable_Value FROM stats_mysql_global WHERE Variable_Name='ProxySQL_Uptime'",
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        scalar(&mut stats, "SELECT DATABASE()").await.as_deref(),
        Some("stats")
    );
    let (code, msg) = expect_error(
        &mut stats,
        "UPDATE stats_mysql_global SET Variable_Value='0' WHERE Variable_Name='Questions'",
    )
    .await;
    assert_eq!(code, 1045);
    assert!(msg.contains("readonly"), "{msg}");
    let (_, msg) = expect_error(&mut stats, "LOAD MYSQL SERVERS TO RUNTIME").await;
    assert!(!msg.is_empty());
    let (_, msg) = expect_error(&mut stats, "PRAGMA integrity_check").await;
    assert!(msg.contains("Command not allowed"), "{msg}");
    // The session survives its refused statements.
    assert_eq!(
        query_rows(&mut stats, "SELECT COUNT(*) FROM stats_mysql_global")
            .await
            .len(),
        1
    );
    // And the admin user is unaffected by the stats session's read-only mode.
    let mut admin = node.admin().await;
    query_rows(
        &mut admin,
        "UPDATE global_variables SET variable_value='2001' WHERE variable_name='admin-refresh_interval'",
    )
    .await;
}

#[tokio::test]
async fn proxysql_pause_twice_fails_the_second_time_and_resume_reopens() {
    let node = scenario_node().start().await;
    let mut conn = node.admin().await;
    conn.query_drop("PROXYSQL PAUSE").await.unwrap();
    let (code, msg) = expect_error(&mut conn, "PROXYSQL PAUSE").await;
    assert_eq!(
        (code, msg.as_str()),
        (
            1045,
            "ProxySQL Admin Error: ProxySQL MySQL module is already paused, impossible to pause"
        )
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT Variable_Value FROM stats_mysql_global WHERE Variable_Name='mysql_listener_paused'"
        )
        .await
        .as_deref(),
        Some("true")
    );
    conn.query_drop("PROXYSQL RESUME").await.unwrap();
    let (_, msg) = expect_error(&mut conn, "PROXYSQL RESUME").await;
    assert_eq!(
        msg,
        "ProxySQL Admin Error: ProxySQL MySQL module is not paused, impossible to resume"
    );
    // The admin side answered throughout.
    assert_eq!(
        scalar(&mut conn, "SELECT @@version").await.as_deref(),
        Some(VERSION)
    );
}

#[tokio::test]
async fn proxysql_kill_exits_at_once() {
    let mut node = scenario_node().start().await;
    let started = std::time::Instant::now();
    let out = mariadb_cli_args(
        node.admin_port(),
        ADMIN_USER,
        ADMIN_PASS,
        "PROXYSQL KILL",
        &["--skip-reconnect"],
    )
    .await;
    let status = node
        .wait_exit(Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("node still running after PROXYSQL KILL: {out:?}"));
    eprintln!(
        "PROXYSQL KILL: exited with {status} after {:?}",
        started.elapsed()
    );
    assert!(
        !node.log().contains("Shutdown completed"),
        "KILL must not run the graceful shutdown"
    );
    assert!(TcpStream::connect((HOST, node.admin_port())).await.is_err());
}
