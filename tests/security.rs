//! Hardening of `pxadm node` (issue 12), each case as a hostile user reproduced it:
//! privileges enforced by SQLite's authorizer, runaway statements, result-size cap.

mod common;

use std::time::Duration;

use common::{admin_conn, query_rows, try_query_rows, TestNode};
use mysql_async::Conn;

/// A statement that never ends on its own.
const RUNAWAY: &str =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c";

/// Runs `sql`, expecting a server error; returns its code and message.
async fn expect_error(conn: &mut Conn, sql: &str) -> (u16, String) {
    match try_query_rows(conn, sql).await {
        Ok(rows) => panic!("{sql:?} succeeded with {rows:?}, expected an error"),
        Err(mysql_async::Error::Server(e)) => (e.code, e.message),
        Err(e) => panic!("{sql:?}: not a server error: {e}"),
    }
}

async fn scalar(conn: &mut Conn, sql: &str) -> Option<String> {
    let rows = query_rows(conn, sql).await;
    assert_eq!(rows.len(), 1, "{sql:?} returned {rows:?}");
    rows[0][0].clone()
}

#[tokio::test]
async fn stats_user_cannot_reach_credentials_files_or_shared_state() {
    let node = TestNode::start().await;
    let mut stats = admin_conn(node.admin_port(), "stats", "stats").await;
    let disk = node.datadir().join("proxysql.db");
    let outside = tempfile::tempdir().unwrap();
    let vacuum_target = outside.path().join("copy.db");

    let (code, msg) = expect_error(
        &mut stats,
        &format!("/**/ ATTACH DATABASE '{}' AS d", disk.display()),
    )
    .await;
    assert_eq!(code, 1045);
    assert!(
        msg.contains("Command not allowed") && msg.contains("ATTACH"),
        "{msg}"
    );
    let (_, msg) = expect_error(
        &mut stats,
        "SELECT variable_value FROM d.global_variables WHERE variable_name='admin-admin_credentials'",
    )
    .await;
    assert!(msg.contains("no such table"), "{msg}");
    let (_, msg) = expect_error(&mut stats, "SELECT file FROM pragma_database_list").await;
    assert!(msg.contains("pragma_database_list"), "{msg}");
    let (_, msg) = expect_error(&mut stats, "/* c */ PRAGMA query_only=OFF").await;
    assert!(msg.contains("PRAGMA query_only"), "{msg}");
    let (_, msg) = expect_error(&mut stats, "DETACH monitor").await;
    assert!(msg.contains("DETACH"), "{msg}");
    let (_, msg) = expect_error(
        &mut stats,
        &format!("VACUUM INTO '{}'", vacuum_target.display()),
    )
    .await;
    assert!(msg.contains("Command not allowed"), "{msg}");
    assert!(!vacuum_target.exists(), "VACUUM INTO wrote a file");
    let (_, msg) = expect_error(&mut stats, "BEGIN IMMEDIATE").await;
    assert!(msg.contains("transactions"), "{msg}");
    let (_, msg) = expect_error(&mut stats, "CREATE TEMP TABLE t(a)").await;
    assert!(msg.contains("readonly"), "{msg}");

    // Another stats session still has every schema, and reads what it may.
    let mut other = admin_conn(node.admin_port(), "stats", "stats").await;
    assert_eq!(
        scalar(
            &mut other,
            "SELECT COUNT(*) FROM monitor.mysql_server_ping_log WHERE 0"
        )
        .await
        .as_deref(),
        Some("0")
    );
    assert_eq!(
        query_rows(
            &mut stats,
            "SELECT Variable_Value FROM stats_mysql_global WHERE Variable_Name='ProxySQL_Uptime'"
        )
        .await
        .len(),
        1
    );
    let log = node.log();
    assert!(
        log.contains("Refused admin statement from user stats"),
        "{log}"
    );
}

#[tokio::test]
async fn admin_user_is_kept_inside_the_datadir_and_the_memory_layer() {
    let node = TestNode::start().await;
    let mut admin = node.admin().await;
    let outside = tempfile::tempdir().unwrap();

    let (_, msg) = expect_error(
        &mut admin,
        &format!(
            "ATTACH DATABASE '{}' AS o",
            outside.path().join("o.db").display()
        ),
    )
    .await;
    assert!(msg.contains("only files inside its datadir"), "{msg}");
    assert!(!outside.path().join("o.db").exists());
    let (_, msg) = expect_error(
        &mut admin,
        &format!("VACUUM INTO '{}'", outside.path().join("v.db").display()),
    )
    .await;
    assert!(msg.contains("Command not allowed"), "{msg}");
    assert!(!outside.path().join("v.db").exists());
    // Inside the datadir, as on ProxySQL.
    let inside = node.datadir().join("scratch.db");
    query_rows(
        &mut admin,
        &format!("ATTACH DATABASE '{}' AS scratch", inside.display()),
    )
    .await;
    query_rows(&mut admin, "DETACH scratch").await;
    let (_, msg) = expect_error(&mut admin, "DETACH monitor").await;
    assert!(msg.contains("DETACH monitor is not allowed"), "{msg}");
    let (_, msg) = expect_error(&mut admin, "PRAGMA query_only=ON").await;
    assert!(msg.contains("PRAGMA query_only"), "{msg}");
    assert!(!query_rows(&mut admin, "PRAGMA database_list")
        .await
        .is_empty());

    // DROP of a configuration table is refused, so an unqualified INSERT still lands in MEMORY.
    let (_, msg) = expect_error(&mut admin, "DROP TABLE mysql_servers").await;
    assert!(
        msg.contains("main.mysql_servers is a ProxySQL table"),
        "{msg}"
    );
    let (_, msg) = expect_error(&mut admin, "ALTER TABLE mysql_servers RENAME TO x").await;
    assert!(msg.contains("ProxySQL table"), "{msg}");
    query_rows(
        &mut admin,
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (1, 'db1', 3306)",
    )
    .await;
    assert_eq!(
        scalar(&mut admin, "SELECT COUNT(*) FROM main.mysql_servers")
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        scalar(&mut admin, "SELECT COUNT(*) FROM disk.mysql_servers")
            .await
            .as_deref(),
        Some("0")
    );
    // The node's own LOAD/SAVE still work after all these refusals.
    query_rows(&mut admin, "LOAD MYSQL SERVERS TO RUNTIME").await;
    query_rows(&mut admin, "SAVE MYSQL SERVERS TO DISK").await;
    assert_eq!(
        scalar(&mut admin, "SELECT COUNT(*) FROM disk.mysql_servers")
            .await
            .as_deref(),
        Some("1")
    );
}

#[tokio::test]
async fn a_runaway_statement_is_interrupted_and_others_are_served() {
    let node = TestNode::builder()
        .arg("--statement-timeout-ms")
        .arg("1500")
        .start()
        .await;
    for (user, pass) in [("admin", "admin"), ("stats", "stats")] {
        let mut runaway = admin_conn(node.admin_port(), user, pass).await;
        let port = node.admin_port();
        let long = tokio::spawn(async move { expect_error(&mut runaway, RUNAWAY).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Another session is answered while the runaway runs or once it was stopped.
        let mut other = admin_conn(port, "admin", "admin").await;
        let answered = tokio::time::timeout(Duration::from_secs(20), async {
            scalar(&mut other, "SELECT 1").await
        })
        .await
        .expect("SELECT 1 from another session got no answer");
        assert_eq!(answered.as_deref(), Some("1"));
        let (code, msg) = long.await.unwrap();
        assert_eq!(code, 1045);
        assert!(msg.contains("interrupted after 1500 ms"), "{user}: {msg}");
    }
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_its_statement() {
    // No time limit: only the hang-up can stop the statement.
    let node = TestNode::builder()
        .arg("--statement-timeout-ms")
        .arg("0")
        .start()
        .await;
    let port = node.admin_port();
    let mut runaway = admin_conn(port, "admin", "admin").await;
    let long = tokio::spawn(async move {
        let _ = try_query_rows(&mut runaway, RUNAWAY).await;
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Dropping the task drops the connection: the client is gone.
    long.abort();
    let _ = long.await;
    let mut other = admin_conn(port, "admin", "admin").await;
    let answered = tokio::time::timeout(Duration::from_secs(20), async {
        scalar(&mut other, "SELECT 1").await
    })
    .await
    .expect("the engine stayed busy after its client disconnected");
    assert_eq!(answered.as_deref(), Some("1"));
    node.wait_for_log("the client disconnected", Duration::from_secs(10))
        .await;
}

#[tokio::test]
async fn an_oversized_result_is_refused_with_the_limit_named() {
    let node = TestNode::builder()
        .arg("--max-result-bytes")
        .arg("100000")
        .start()
        .await;
    let mut stats = admin_conn(node.admin_port(), "stats", "stats").await;
    let (code, msg) = expect_error(
        &mut stats,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 2000000) \
         SELECT x, 'padding padding padding' FROM c",
    )
    .await;
    assert_eq!(code, 1045);
    assert!(
        msg.contains("result set larger than 100000 bytes refused"),
        "{msg}"
    );
    // A result under the cap is answered whole.
    let rows = query_rows(
        &mut stats,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 1000) SELECT x FROM c",
    )
    .await;
    assert_eq!(rows.len(), 1000);
}

#[tokio::test]
async fn an_unbindable_admin_interface_is_refused_at_load_and_the_old_listener_stays() {
    let node = TestNode::start().await;
    let port = node.admin_port();
    let mut admin = node.admin().await;
    // SET accepts any text, as on ProxySQL; the LOAD judges it.
    query_rows(&mut admin, "SET admin-mysql_ifaces='x'").await;
    let (code, msg) = expect_error(&mut admin, "LOAD ADMIN VARIABLES TO RUNTIME").await;
    assert_eq!(code, 1045);
    assert!(msg.contains("cannot listen on x"), "{msg}");
    // An address another process holds: refused naming it.
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().to_string();
    query_rows(
        &mut admin,
        &format!("SET admin-mysql_ifaces='127.0.0.1:{port};{taken}'"),
    )
    .await;
    let (_, msg) = expect_error(&mut admin, "LOAD ADMIN VARIABLES TO RUNTIME").await;
    assert!(msg.contains(&format!("cannot listen on {taken}")), "{msg}");
    assert_eq!(
        scalar(
            &mut admin,
            "SELECT variable_value FROM runtime_global_variables WHERE variable_name='admin-mysql_ifaces'"
        )
        .await,
        Some(format!("127.0.0.1:{port}"))
    );
    // The working listener still answers new connections.
    let mut fresh = node.admin().await;
    assert_eq!(scalar(&mut fresh, "SELECT 1").await.as_deref(), Some("1"));

    // A good change moves the listener: the new port answers, the old one is closed.
    let new_port = common::free_port();
    query_rows(
        &mut admin,
        &format!("SET admin-mysql_ifaces='127.0.0.1:{new_port}'"),
    )
    .await;
    query_rows(&mut admin, "LOAD ADMIN VARIABLES TO RUNTIME").await;
    let mut moved = admin_conn(new_port, "admin", "admin").await;
    assert_eq!(scalar(&mut moved, "SELECT 1").await.as_deref(), Some("1"));
    assert!(
        common::wait_until(Duration::from_secs(10), || async move {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        })
        .await,
        "the old admin port still accepts"
    );
}

#[test]
fn batch_errors_mask_the_password_of_a_node_spec() {
    let out = std::process::Command::new(common::pxadm_bin())
        .args([
            "--batch",
            "status",
            "-n",
            "radmin:S3cretPW@127.0.0.1:99999",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("S3cretPW"), "{text}");
    assert!(text.contains("radmin:***@127.0.0.1:99999"), "{text}");
}

#[tokio::test]
async fn credential_files_and_logs_are_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let node = TestNode::start().await;
    for name in ["proxysql.db", "proxysql_stats.db", "proxysql.log"] {
        let mode = std::fs::metadata(node.datadir().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} has mode {:o}", mode & 0o777);
    }
}

/// The NUL-separated command line the kernel shows for `pid` (what `ps` prints).
fn cmdline(pid: u32) -> String {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&bytes).replace('\0', " ")
}

/// A node with a second admin user, `radmin:S3cretPW`, as a DBA would use remotely.
async fn node_with_radmin() -> TestNode {
    let node = TestNode::start().await;
    let mut admin = node.admin().await;
    query_rows(
        &mut admin,
        "SET admin-admin_credentials='admin:admin;radmin:S3cretPW'",
    )
    .await;
    query_rows(&mut admin, "LOAD ADMIN VARIABLES TO RUNTIME").await;
    node
}

#[tokio::test]
async fn passwords_leave_the_command_line_once_parsed() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let node = node_with_radmin().await;
    let port = node.admin_port().to_string();
    let home = tempfile::tempdir().unwrap();
    let spec = format!("radmin:S3cretPW@127.0.0.1:{port}");
    let forms: [(Vec<&str>, &str); 4] = [
        (
            vec![
                "shell",
                "-u",
                "radmin",
                "-pS3cretPW",
                "-H",
                "127.0.0.1",
                "-P",
                &port,
            ],
            " -px ",
        ),
        (
            vec!["shell", "-u", "radmin", "--password=S3cretPW", "-P", &port],
            " --password=x ",
        ),
        (vec!["shell", "-n", &spec], "radmin:***@127.0.0.1:"),
        (vec!["-n", &spec, "-e", "SELECT 1"], "radmin:***@127.0.0.1:"),
    ];
    for (args, masked) in forms {
        let script = !args.contains(&"-e");
        let mut child = Command::new(common::pxadm_bin())
            .args(&args)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env_remove("MYSQL_PWD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // The shell waits for its script on stdin: it is running while we look.
        let seen = common::wait_until(Duration::from_secs(10), || async {
            cmdline(pid).contains(masked)
        })
        .await;
        let shown = cmdline(pid);
        if script {
            assert!(seen, "{args:?}: argv never masked: {shown:?}");
            assert!(!shown.contains("S3cretPW"), "{args:?}: ps shows {shown:?}");
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"SELECT 'still works';\n").unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The password still reached the node: the statement ran as radmin.
        assert!(
            stdout.contains(if script { "still works" } else { "1" }),
            "{stdout}"
        );
        assert!(!stdout.contains("S3cretPW"), "{stdout}");
    }
}

#[tokio::test]
async fn config_file_errors_never_print_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // The console's config: an unquoted password is a TOML error on its line.
    let config = common::write_file(
        dir.path(),
        "config.toml",
        "[clusters.prod]\nuser = \"radmin\"\npassword = S3cretPW\n",
    );
    let out = std::process::Command::new(common::pxadm_bin())
        .args(["--batch", "status", "--config"])
        .arg(&config)
        .env("HOME", home.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("config.toml"), "{text}");
    assert!(!text.contains("S3cretPW"), "{text}");
    // The node's proxysql.cnf: a password of the wrong shape, unquoted.
    let cnf = common::write_file(
        dir.path(),
        "proxysql.cnf",
        "admin_variables =\n{\n  admin_credentials = admin:S3cretPW\n  mysql_ifaces = \"127.0.0.1:1\"\n}\n",
    );
    let out = std::process::Command::new(common::pxadm_bin())
        .args(["node", "--datadir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&cnf)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("proxysql.cnf:3:"), "{text}");
    assert!(!text.contains("S3cretPW"), "{text}");
}

/// The node's peak resident memory (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn expect_1153(result: mysql_async::Result<()>, what: &str) {
    match result {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!(
                (e.code, e.state.as_str(), e.message.as_str()),
                (
                    1153,
                    "08S01",
                    "Got a packet bigger than 'max_allowed_packet' bytes"
                ),
                "{what}"
            );
        }
        other => panic!("{what}: expected ERROR 1153, got {other:?}"),
    }
}

#[tokio::test]
async fn oversized_packets_get_err_1153_on_both_ports_without_being_buffered() {
    use mysql_async::prelude::Queryable;
    let traffic_port = common::free_port();
    let node = TestNode::builder()
        .arg("--mysql")
        .arg(format!("{}:{traffic_port}", common::HOST))
        .start()
        .await;
    let mut admin = node.admin().await;
    for sql in [
        "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('app', 'app', 0)",
        "UPDATE global_variables SET variable_value='8192' WHERE variable_name='mysql-max_allowed_packet'",
        "LOAD MYSQL USERS TO RUNTIME",
        "LOAD MYSQL VARIABLES TO RUNTIME",
    ] {
        query_rows(&mut admin, sql).await;
    }

    // Traffic port, limit 8 KiB: a 48 MiB statement is refused from its header, and the
    // node's memory does not grow by it.
    let mut app =
        Conn::new(common::admin_opts(traffic_port, "app", "app").max_allowed_packet(Some(1 << 30)))
            .await
            .unwrap();
    let pid = node.pid().unwrap();
    let before = peak_rss_kib(pid);
    let big = format!("SELECT '{}'", "x".repeat(48 << 20));
    expect_1153(app.query_drop(&big).await, "traffic port, 48 MiB");
    drop(big);
    let grown = peak_rss_kib(pid).saturating_sub(before);
    assert!(grown < 16 * 1024, "the node's peak RSS grew by {grown} KiB");
    expect_1153(
        app.query_drop(format!("SELECT '{}'", "x".repeat(9000)))
            .await,
        "traffic port, 9000 bytes",
    );
    // Same connection, still in sync.
    app.ping().await.expect("the connection survives");

    // Admin port (64 MiB, as ProxySQL's default max_allowed_packet).
    let mut conn = Conn::new(
        common::admin_opts(node.admin_port(), "admin", "admin").max_allowed_packet(Some(1 << 30)),
    )
    .await
    .unwrap();
    let big = format!("SELECT '{}'", "x".repeat((64 << 20) + 1024));
    expect_1153(conn.query_drop(&big).await, "admin port, 64 MiB + 1 KiB");
    drop(big);
    assert_eq!(scalar(&mut conn, "SELECT 1").await.as_deref(), Some("1"));

    let log = node.log();
    assert!(
        log.contains("Client 127.0.0.1 (user 'app') sent a packet bigger than 'max_allowed_packet' (8192 bytes): answered ERROR 1153"),
        "{log}"
    );
    assert!(
        log.contains("Admin client 127.0.0.1 (user 'admin') sent a packet bigger than 'max_allowed_packet' (67108864 bytes)"),
        "{log}"
    );
}

#[tokio::test]
async fn failed_admin_logins_are_logged_as_proxysql_logs_them() {
    let node = TestNode::start().await;
    let err = common::try_admin_conn(node.admin_port(), "admin", "wrong")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Access denied"), "{err}");
    let _ = common::try_admin_conn(node.admin_port(), "nobody", "")
        .await
        .unwrap_err();
    node.wait_for_log(
        "[ERROR] ProxySQL Error: Access denied for user 'admin'@'127.0.0.1' (using password: YES)",
        Duration::from_secs(10),
    )
    .await;
    node.wait_for_log(
        "ProxySQL Error: Access denied for user 'nobody'@'127.0.0.1' (using password: NO)",
        Duration::from_secs(10),
    )
    .await;
}

#[tokio::test]
async fn an_ipv4_client_of_a_dual_stack_admin_listener_is_local() {
    if std::net::TcpListener::bind("[::]:0").is_err() {
        eprintln!("no IPv6 on this machine: nothing to test");
        return;
    }
    let node = TestNode::start().await;
    let port = common::free_port();
    let mut admin = node.admin().await;
    query_rows(
        &mut admin,
        &format!(
            "SET admin-mysql_ifaces='127.0.0.1:{};[::]:{port}'",
            node.admin_port()
        ),
    )
    .await;
    query_rows(&mut admin, "LOAD ADMIN VARIABLES TO RUNTIME").await;
    // 127.0.0.1 reaches the [::] listener as ::ffff:127.0.0.1: admin and stats are local.
    let mut conn = admin_conn(port, "admin", "admin").await;
    assert_eq!(scalar(&mut conn, "SELECT 1").await.as_deref(), Some("1"));
    let mut stats = admin_conn(port, "stats", "stats").await;
    assert_eq!(scalar(&mut stats, "SELECT 1").await.as_deref(), Some("1"));
}
