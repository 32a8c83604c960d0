//! The MySQL traffic side of `pxadm node` against the real MariaDB lab: routing, pooling,
//! transactions, prepared statements, streaming, failure handling and the monitor.
//!
//! Tests in this binary run one at a time ([`serial`]): one of them flips a replica's
//! read_only, which the monitors of the others would act on.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    admin_opts, free_port, lab, mariadb_cli_args, query_rows, try_query_rows, wait_until, Lab,
    TestNode, HOST,
};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tokio::sync::{Mutex, MutexGuard};

const WRITER_HG: u32 = 10;
const READER_HG: u32 = 20;

/// One test at a time in this binary.
async fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::const_new(());
    SERIAL.lock().await
}

/// A node with a traffic port, its configuration loaded.
struct Proxy {
    node: TestNode,
    port: u16,
    admin: Conn,
}

impl Proxy {
    /// Starts a node on a free traffic port with `servers` (`(hostgroup, port)` on
    /// 127.0.0.1), the scenario's user (default hostgroup 10), replication hostgroups 10/20,
    /// fast monitor intervals, and `extra` admin statements before the loads.
    async fn start(servers: &[(u32, u16)], extra: &[&str]) -> Proxy {
        let port = free_port();
        let node = TestNode::builder()
            .arg("--mysql")
            .arg(format!("{HOST}:{port}"))
            .start()
            .await;
        let mut admin = node.admin().await;
        let mut sql = vec![
            "UPDATE global_variables SET variable_value='500' WHERE variable_name IN ('mysql-monitor_ping_interval','mysql-monitor_read_only_interval','mysql-monitor_connect_interval')".to_string(),
            format!("INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup) VALUES ({WRITER_HG},{READER_HG})"),
            format!("INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('{}','{}',{WRITER_HG})", Lab::APP.0, Lab::APP.1),
        ];
        for (hg, p) in servers {
            sql.push(format!("INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES ({hg},'{HOST}',{p})"));
        }
        sql.extend(extra.iter().map(|s| s.to_string()));
        sql.extend(
            [
                "LOAD MYSQL VARIABLES TO RUNTIME",
                "LOAD MYSQL SERVERS TO RUNTIME",
                "LOAD MYSQL USERS TO RUNTIME",
                "LOAD MYSQL QUERY RULES TO RUNTIME",
            ]
            .map(String::from),
        );
        for s in &sql {
            admin
                .query_drop(s)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        Proxy { node, port, admin }
    }

    /// The lab layout: primary in the writer hostgroup, replicas in the reader hostgroup.
    async fn lab(lab: &Lab, extra: &[&str]) -> Proxy {
        Proxy::start(
            &[
                (WRITER_HG, lab.primary),
                (READER_HG, lab.replicas[0]),
                (READER_HG, lab.replicas[1]),
            ],
            extra,
        )
        .await
    }

    /// A client connection through the traffic port as the scenario's user.
    async fn client(&self) -> Conn {
        Conn::new(admin_opts(self.port, Lab::APP.0, Lab::APP.1).db_name(Some(Lab::APP_DB)))
            .await
            .unwrap_or_else(|e| panic!("cannot connect through the proxy on {}: {e}", self.port))
    }

    async fn admin_rows(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        query_rows(&mut self.admin, sql).await
    }

    fn pid(&self) -> u32 {
        self.node.pid().expect("node running")
    }
}

const READS_TO_REPLICAS: &str =
    "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (1, 1, '^SELECT', 20, 1)";

async fn direct(port: u16) -> Conn {
    Conn::new(admin_opts(port, Lab::APP.0, Lab::APP.1).db_name(Some(Lab::APP_DB)))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to MariaDB on {port}: {e}"))
}

async fn server_id(conn: &mut Conn) -> u32 {
    conn.query_first("SELECT @@server_id")
        .await
        .expect("select @@server_id")
        .expect("a row")
}

async fn server_ids_of(ports: &[u16]) -> Vec<u32> {
    let mut ids = Vec::new();
    for p in ports {
        ids.push(server_id(&mut direct(*p).await).await);
    }
    ids
}

/// A marker unique to this run, for rows a test inserts.
fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{tag}-{}-{nanos}", std::process::id())
}

fn server_error_code(err: &mysql_async::Error) -> Option<u16> {
    match err {
        mysql_async::Error::Server(e) => Some(e.code),
        _ => None,
    }
}

#[tokio::test]
async fn scenario_insert_loop_through_the_traffic_port_lands_on_the_primary() {
    let _serial = serial().await;
    let lab = lab().await;
    let mut proxy = Proxy::lab(lab, &[READS_TO_REPLICAS]).await;
    let tag = unique("insert-loop");
    // The scenario's client: the mariadb CLI, one INSERT per invocation.
    let sql = format!("INSERT INTO tab1(col2, col3) values('{tag}', now());");
    for _ in 0..5 {
        let out = mariadb_cli_args(
            proxy.port,
            Lab::APP.0,
            Lab::APP.1,
            sql.as_str(),
            &["duhokim"],
        )
        .await;
        out.expect_success();
    }
    let mut primary = direct(lab.primary).await;
    let n: u64 = primary
        .exec_first("SELECT COUNT(*) FROM tab1 WHERE col2 = ?", (tag.as_str(),))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 5, "all inserts landed on the primary");
    // The pool and digest statistics saw them on the writer hostgroup.
    let rows = proxy
        .admin_rows("SELECT hostgroup, count_star FROM stats_mysql_query_digest WHERE digest_text LIKE 'INSERT INTO tab1%'")
        .await;
    assert_eq!(rows, [[Some(WRITER_HG.to_string()), Some("5".into())]]);
    let pool = proxy
        .admin_rows(&format!(
            "SELECT ConnOK, Queries FROM stats_mysql_connection_pool WHERE hostgroup={WRITER_HG}"
        ))
        .await;
    let queries: u64 = pool[0][1].as_deref().unwrap().parse().unwrap();
    assert!(queries >= 5, "{pool:?}");
    // The CLI banner: handshake version plus version_comment, as a real ProxySQL shows.
    let out = mariadb_cli_args(proxy.port, Lab::APP.0, Lab::APP.1, "status", &["duhokim"]).await;
    assert!(
        out.expect_success().contains("8.0.11 (ProxySQL)"),
        "{}",
        out.stdout
    );
    let counters = proxy
        .admin_rows("SELECT Total_cnt FROM stats_mysql_commands_counters WHERE Command='INSERT'")
        .await;
    assert_eq!(counters, [[Some("5".into())]]);
}

#[tokio::test]
async fn select_rule_sends_reads_to_the_replicas_and_writes_to_the_primary() {
    let _serial = serial().await;
    let lab = lab().await;
    let mut proxy = Proxy::lab(lab, &[READS_TO_REPLICAS]).await;
    let replicas = server_ids_of(&lab.replicas).await;
    let primary = server_ids_of(&[lab.primary]).await[0];
    let mut client = proxy.client().await;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let id = server_id(&mut client).await;
        assert!(
            replicas.contains(&id),
            "read landed on server {id}, replicas are {replicas:?}"
        );
        seen.insert(id);
    }
    assert_eq!(
        seen.len(),
        2,
        "reads are spread over both replicas: {seen:?}"
    );
    // Not a SELECT: the user's default hostgroup, the primary.
    let row: Option<(String, String)> = client
        .query_first("SHOW VARIABLES LIKE 'server_id'")
        .await
        .unwrap();
    assert_eq!(row.unwrap().1, primary.to_string());
    let hits = proxy
        .admin_rows("SELECT hits FROM stats_mysql_query_rules WHERE rule_id=1")
        .await;
    assert_eq!(hits, [[Some("40".into())]]);
}

#[tokio::test]
async fn a_transaction_stays_on_one_backend_connection() {
    let _serial = serial().await;
    let lab = lab().await;
    let proxy = Proxy::lab(lab, &[READS_TO_REPLICAS]).await;
    let primary = server_ids_of(&[lab.primary]).await[0];
    let mut client = proxy.client().await;
    let tag = unique("txn");
    client.query_drop("BEGIN").await.unwrap();
    let mut threads = std::collections::BTreeSet::new();
    for _ in 0..5 {
        // SELECTs would go to the replicas, but the open transaction keeps them here.
        let (id, thread): (u32, u64) = client
            .query_first("SELECT @@server_id, CONNECTION_ID()")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(id, primary);
        threads.insert(thread);
    }
    client
        .exec_drop("INSERT INTO tab1(col2) VALUES (?)", (tag.as_str(),))
        .await
        .unwrap();
    let (seen, thread): (u64, u64) = client
        .exec_first(
            "SELECT COUNT(*), CONNECTION_ID() FROM tab1 WHERE col2 = ?",
            (tag.as_str(),),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, 1, "the transaction sees its own uncommitted row");
    threads.insert(thread);
    assert_eq!(
        threads.len(),
        1,
        "one backend connection for the whole transaction: {threads:?}"
    );
    client.query_drop("ROLLBACK").await.unwrap();
    // After the transaction, reads go back to the replicas.
    let id = server_id(&mut client).await;
    assert_ne!(id, primary);
    let mut primary_conn = direct(lab.primary).await;
    let n: u64 = primary_conn
        .exec_first("SELECT COUNT(*) FROM tab1 WHERE col2 = ?", (tag.as_str(),))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0, "rolled back");
}

#[tokio::test]
async fn prepared_statements_round_trip_and_session_state_follows() {
    let _serial = serial().await;
    let lab = lab().await;
    let proxy = Proxy::lab(lab, &[]).await;
    let mut client = proxy.client().await;
    let tag = unique("ps");
    let insert = client
        .prep("INSERT INTO tab1(col2, col3) VALUES (?, ?)")
        .await
        .unwrap();
    for i in 0..3 {
        client
            .exec_drop(&insert, (format!("{tag}-{i}"), "2024-10-04 22:06:58"))
            .await
            .unwrap();
    }
    let select = client
        .prep("SELECT col2, CAST(col3 AS CHAR), ? + 1 FROM tab1 WHERE col2 LIKE ? ORDER BY col1")
        .await
        .unwrap();
    let rows: Vec<(String, String, i64)> = client
        .exec(&select, (41, format!("{tag}-%")))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0],
        (format!("{tag}-0"), "2024-10-04 22:06:58".to_string(), 42)
    );
    // NULLs and a second execute of the same statement.
    let rows: Vec<(Option<String>, Option<String>, Option<i64>)> = client
        .exec(&select, (None::<i64>, "no-such-%"))
        .await
        .unwrap();
    assert!(rows.is_empty());
    client.close(select).await.unwrap();
    // An error keeps its code.
    let err = client
        .prep("SELECT * FROM no_such_table")
        .await
        .unwrap_err();
    assert_eq!(server_error_code(&err), Some(1146), "{err}");
    // Session state set through the proxy holds on later statements.
    client
        .query_drop("SET SESSION sql_mode = 'ANSI_QUOTES'")
        .await
        .unwrap();
    let mode: String = client
        .query_first("SELECT @@sql_mode")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mode, "ANSI_QUOTES");
    let db: String = client
        .query_first("SELECT DATABASE()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(db, Lab::APP_DB);
    // A multi-statement query with several result sets.
    let mut result = client
        .query_iter("SELECT 1; SELECT 2, 3; DO 4")
        .await
        .unwrap();
    let first: Vec<i64> = result.collect().await.unwrap();
    let second: Vec<(i64, i64)> = result.collect().await.unwrap();
    result.drop_result().await.unwrap();
    assert_eq!((first, second), (vec![1], vec![(2, 3)]));
    // The statement digests were recorded at execute time.
    drop(client);
    let mut proxy = proxy;
    let rows = proxy
        .admin_rows("SELECT count_star FROM stats_mysql_query_digest WHERE digest_text = 'INSERT INTO tab1(col2,col3) VALUES (?,?)'")
        .await;
    assert_eq!(rows, [[Some("3".into())]]);
}

/// VmRSS of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_million_row_select_streams_with_bounded_proxy_memory() {
    let _serial = serial().await;
    let lab = lab().await;
    let proxy = Proxy::lab(lab, &[]).await;
    let pid = proxy.pid();
    let mut client = proxy.client().await;
    // Warm up (pool, buffers) before the baseline.
    client.query_drop("SELECT 1").await.unwrap();
    let baseline = rss_kib(pid);
    client
        .query_drop("SET SESSION max_recursive_iterations = 2000000")
        .await
        .unwrap();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(baseline));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let sql =
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 1000000) \
               SELECT n, REPEAT('x', 100) FROM seq";
    let mut result = client.query_iter(sql).await.unwrap();
    let mut count = 0u64;
    let mut last = 0u64;
    while let Some(row) = result.next().await.unwrap() {
        let (n, pad): (u64, String) = mysql_async::from_row(row);
        assert_eq!(pad.len(), 100);
        last = n;
        count += 1;
    }
    drop(result);
    sampler.abort();
    let peak = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(rss_kib(pid));
    assert_eq!((count, last), (1_000_000, 1_000_000));
    // The result is over 100 MB; the proxy must not have held it.
    let grown = peak.saturating_sub(baseline);
    assert!(
        grown < 32 * 1024,
        "proxy RSS peaked {grown} KiB above its {baseline} KiB baseline"
    );
    let sent: Vec<Vec<Option<String>>> = {
        let mut proxy = proxy;
        proxy
            .admin_rows("SELECT sum_rows_sent FROM stats_mysql_query_digest WHERE digest_text LIKE 'WITH RECURSIVE%'")
            .await
    };
    assert_eq!(sent, [[Some("1000000".into())]]);
}

/// A disposable MariaDB (no grant tables) that a test may kill.
struct Throwaway {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Throwaway {
    async fn start() -> Throwaway {
        let dir = tempfile::Builder::new()
            .prefix("pxadm-throwaway-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let mut install = Command::new("mariadb-install-db");
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db");
        if unsafe { libc::geteuid() } == 0 {
            install.arg("--user=root");
        }
        let out = tokio::task::spawn_blocking(move || install.output())
            .await
            .unwrap()
            .expect("mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut cmd = Command::new(mariadbd());
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg(format!("--bind-address={HOST}"))
            .arg(format!("--socket={}", dir.path().join("s").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!(
                "--log-error={}",
                dir.path().join("err.log").display()
            ))
            .arg("--skip-grant-tables")
            .arg("--innodb-buffer-pool-size=16M")
            .arg("--server-id=99")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if unsafe { libc::geteuid() } == 0 {
            cmd.arg("--user=root");
        }
        let child = cmd.spawn().expect("mariadbd");
        let t = Throwaway {
            dir,
            port,
            child: Some(child),
        };
        let up = wait_until(Duration::from_secs(30), || async {
            Conn::new(admin_opts(port, "root", "")).await.is_ok()
        })
        .await;
        assert!(up, "throwaway mariadbd did not start: {}", t.error_log());
        let mut c = Conn::new(admin_opts(port, "root", "")).await.unwrap();
        c.query_drop("CREATE DATABASE duhokim").await.unwrap();
        c.query_drop("CREATE TABLE duhokim.tab1 (col1 int auto_increment primary key, col2 varchar(100), col3 datetime default current_timestamp)")
            .await
            .unwrap();
        t
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("err.log")).unwrap_or_default()
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        self.kill();
    }
}

fn mariadbd() -> PathBuf {
    ["/usr/sbin/mariadbd", "/usr/libexec/mariadbd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| Path::new("mariadbd").to_path_buf())
}

#[tokio::test]
async fn stopping_the_primary_fails_its_clients_clearly_shuns_it_and_reads_continue() {
    let _serial = serial().await;
    let lab = lab().await;
    let mut primary = Throwaway::start().await;
    let mut proxy = Proxy::start(
        &[(WRITER_HG, primary.port), (READER_HG, lab.replicas[0]), (READER_HG, lab.replicas[1])],
        &[
            READS_TO_REPLICAS,
            // No replication hostgroups for this test: the throwaway does not replicate.
            "DELETE FROM mysql_replication_hostgroups",
            "UPDATE global_variables SET variable_value='2' WHERE variable_name='mysql-monitor_ping_max_failures'",
            "UPDATE global_variables SET variable_value='3000' WHERE variable_name='mysql-connect_timeout_server_max'",
        ],
    )
    .await;
    let mut writer = proxy.client().await;
    writer
        .query_drop("INSERT INTO tab1(col2) VALUES ('before')")
        .await
        .unwrap();
    let mut reader = proxy.client().await;
    let replicas = server_ids_of(&lab.replicas).await;

    primary.kill();
    // The next write fails with an error naming the problem, not a hang.
    let started = Instant::now();
    let err = writer
        .query_drop("INSERT INTO tab1(col2) VALUES ('after')")
        .await
        .unwrap_err();
    let code = server_error_code(&err);
    assert!(matches!(code, Some(2013) | Some(9001)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let msg = err.to_string();
    assert!(
        msg.contains("Lost connection")
            || msg.contains("Max connect timeout reached while reaching hostgroup 10"),
        "{msg}"
    );
    // The monitor misses its heartbeats and shuns it.
    let shunned = wait_until(Duration::from_secs(15), || async {
        let mut admin = proxy.node.admin().await;
        try_query_rows(
            &mut admin,
            &format!("SELECT status FROM stats_mysql_connection_pool WHERE hostgroup={WRITER_HG}"),
        )
        .await
        .is_ok_and(|r| r == [[Some("SHUNNED".to_string())]])
    })
    .await;
    assert!(shunned, "{}", proxy.node.log());
    proxy
        .node
        .wait_for_log(
            &format!(
                "Server {HOST}:{} missed 2 heartbeats, shunning it",
                primary.port
            ),
            Duration::from_secs(5),
        )
        .await;
    let errors = proxy
        .admin_rows(&format!("SELECT COUNT(*) FROM monitor.mysql_server_ping_log WHERE port={} AND ping_error IS NOT NULL", primary.port))
        .await;
    assert_ne!(errors, [[Some("0".to_string())]]);
    let live = proxy
        .admin_rows(&format!(
            "SELECT status FROM runtime_mysql_servers WHERE hostgroup_id={WRITER_HG}"
        ))
        .await;
    assert_eq!(live, [[Some("SHUNNED".to_string())]]);
    // Reads kept working all along, on the same client session and on a new one.
    for _ in 0..5 {
        let id = server_id(&mut reader).await;
        assert!(replicas.contains(&id));
    }
    let mut fresh = proxy.client().await;
    assert!(replicas.contains(&server_id(&mut fresh).await));
}

/// Sets a lab replica's read_only through its root account (loopback, no password).
async fn set_read_only(port: u16, on: bool) {
    let mut root = Conn::new(admin_opts(port, "root", ""))
        .await
        .expect("lab root");
    root.query_drop(format!(
        "SET GLOBAL read_only = {}",
        if on { "ON" } else { "OFF" }
    ))
    .await
    .unwrap();
}

/// Puts read_only back on even when the test fails half-way.
struct RestoreReadOnly(u16);

impl Drop for RestoreReadOnly {
    fn drop(&mut self) {
        let port = self.0;
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(set_read_only(port, true));
        })
        .join();
    }
}

#[tokio::test]
async fn a_replica_turned_writable_joins_the_writer_hostgroup_and_leaves_again() {
    let _serial = serial().await;
    let lab = lab().await;
    let mut proxy = Proxy::lab(lab, &[]).await;
    let replica = lab.replicas[1];
    let writer_rows = format!("SELECT hostname, port FROM runtime_mysql_servers WHERE hostgroup_id={WRITER_HG} ORDER BY port");
    let checksum =
        "SELECT version, epoch, checksum FROM runtime_checksums_values WHERE name='mysql_servers'";
    // Let the first read_only round settle, then take the checksum state.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = proxy.admin_rows(checksum).await;

    let restore = RestoreReadOnly(replica);
    set_read_only(replica, false).await;
    let moved = wait_until(Duration::from_secs(10), || async {
        let mut admin = proxy.node.admin().await;
        try_query_rows(&mut admin, &writer_rows)
            .await
            .is_ok_and(|r| r.len() == 2)
    })
    .await;
    assert!(moved, "{}", proxy.node.log());
    proxy
        .node
        .wait_for_log(
            &format!(
                "Regenerating table 'mysql_servers' due to actions on server '{HOST}:{replica}'"
            ),
            Duration::from_secs(5),
        )
        .await;
    let rows = proxy.admin_rows(&writer_rows).await;
    assert_eq!(rows[1], [Some(HOST.to_string()), Some(replica.to_string())]);
    // Still a reader too (mysql-monitor_writer_is_also_reader=true).
    let readers = proxy
        .admin_rows(&format!("SELECT COUNT(*) FROM runtime_mysql_servers WHERE hostgroup_id={READER_HG} AND port={replica}"))
        .await;
    assert_eq!(readers, [[Some("1".to_string())]]);
    // Checksum and epoch change, the version does not (§5.4).
    let after = proxy.admin_rows(checksum).await;
    assert_eq!(after[0][0], before[0][0], "version unchanged");
    assert_ne!(after[0][2], before[0][2], "checksum changed");
    assert!(
        after[0][1].as_deref().unwrap().parse::<u64>().unwrap()
            >= before[0][1].as_deref().unwrap().parse::<u64>().unwrap()
    );
    let log = proxy
        .admin_rows(&format!("SELECT read_only FROM monitor.mysql_server_read_only_log WHERE port={replica} ORDER BY time_start_us DESC LIMIT 1"))
        .await;
    assert_eq!(log, [[Some("0".to_string())]]);

    drop(restore);
    let back = wait_until(Duration::from_secs(10), || async {
        let mut admin = proxy.node.admin().await;
        try_query_rows(&mut admin, &writer_rows)
            .await
            .is_ok_and(|r| r.len() == 1)
    })
    .await;
    assert!(
        back,
        "the replica leaves the writer hostgroup once read_only is back"
    );
}

#[tokio::test]
async fn pause_closes_the_listener_and_resume_reopens_it_while_sessions_continue() {
    let _serial = serial().await;
    let lab = lab().await;
    let mut proxy = Proxy::lab(lab, &[]).await;
    let mut client = proxy.client().await;
    proxy.admin.query_drop("PROXYSQL PAUSE").await.unwrap();
    let refused = wait_until(Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect((HOST, proxy.port))
            .await
            .is_err()
    })
    .await;
    assert!(
        refused,
        "the traffic port still accepts connections after PROXYSQL PAUSE"
    );
    // The existing session keeps working.
    let one: i64 = client.query_first("SELECT 1").await.unwrap().unwrap();
    assert_eq!(one, 1);
    let paused = proxy
        .admin_rows("SELECT Variable_Value FROM stats_mysql_global WHERE Variable_Name='mysql_listener_paused'")
        .await;
    assert_eq!(paused, [[Some("true".to_string())]]);
    proxy.admin.query_drop("PROXYSQL RESUME").await.unwrap();
    let accepted = wait_until(Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect((HOST, proxy.port))
            .await
            .is_ok()
    })
    .await;
    assert!(accepted);
    let mut again = proxy.client().await;
    let two: i64 = again.query_first("SELECT 2").await.unwrap().unwrap();
    assert_eq!(two, 2);
}

#[tokio::test]
async fn wrong_passwords_unknown_users_and_backend_errors_keep_proxysql_s_codes() {
    let _serial = serial().await;
    let lab = lab().await;
    let mut proxy = Proxy::lab(
        lab,
        &["INSERT INTO mysql_query_rules (rule_id, active, match_pattern, error_msg, apply) VALUES (5, 1, 'forbidden', 'not here', 1)"],
    )
    .await;
    let err = Conn::new(admin_opts(proxy.port, Lab::APP.0, "wrong"))
        .await
        .unwrap_err();
    assert_eq!(server_error_code(&err), Some(1045), "{err}");
    assert!(
        err.to_string()
            .contains("ProxySQL Error: Access denied for user 'svcusr'"),
        "{err}"
    );
    let mut client = proxy.client().await;
    let err = client
        .query_drop("SELECT * FROM no_such_table")
        .await
        .unwrap_err();
    assert_eq!(server_error_code(&err), Some(1146));
    let err = client.query_drop("SELECT 'forbidden'").await.unwrap_err();
    assert_eq!(server_error_code(&err), Some(1148));
    assert!(err.to_string().contains("not here"));
    // The session is still usable after errors.
    let one: i64 = client.query_first("SELECT 1").await.unwrap().unwrap();
    assert_eq!(one, 1);
    let denied = proxy
        .admin_rows("SELECT Variable_Value FROM stats_mysql_global WHERE Variable_Name='Access_Denied_Wrong_Password'")
        .await;
    assert_eq!(denied, [[Some("1".to_string())]]);
    let users = proxy
        .admin_rows("SELECT username, frontend_connections FROM stats_mysql_users")
        .await;
    assert_eq!(users, [[Some("svcusr".to_string()), Some("1".to_string())]]);
    let procs = proxy
        .admin_rows("SELECT user, db, command FROM stats_mysql_processlist")
        .await;
    assert_eq!(
        procs,
        [[
            Some("svcusr".to_string()),
            Some("duhokim".to_string()),
            Some("Sleep".to_string())
        ]]
    );
}

// ----------------------------------------------------------------------------------------
// Session-state rules (issue #13): autocommit, lost state, OFFLINE_HARD, LAST_INSERT_ID,
// hostgroup locking, KILL, collations.
// ----------------------------------------------------------------------------------------

/// `duhokim.t13 (id auto_increment, v)`, created on the primary (the replicas follow).
fn ensure_t13(lab: &Lab) {
    let out = lab
        .root_sql(
            lab.primary,
            "CREATE TABLE IF NOT EXISTS duhokim.t13 (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100) CHARACTER SET utf8mb4) ENGINE=InnoDB",
        )
        .expect("mariadb client");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn rows_with(lab: &Lab, marker: &str) -> usize {
    let mut primary = direct(lab.primary).await;
    let n: Option<u64> = primary
        .exec_first("SELECT COUNT(*) FROM t13 WHERE v = ?", (marker,))
        .await
        .expect("count on the primary");
    n.unwrap_or(0) as usize
}

/// A Python interpreter with PyMySQL and mysql-connector-python, installed from PyPI into a
/// virtualenv under the target directory once; `None` (the caller skips, saying why) when
/// python3 or PyPI is not reachable.
fn python_with_drivers() -> Option<PathBuf> {
    let dir = std::env::var_os("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("pydrivers");
    let python = dir.join("bin").join("python3");
    let ready = |p: &Path| {
        Command::new(p)
            .args(["-c", "import pymysql, mysql.connector"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready(&python) {
        return Some(python);
    }
    let venv = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status();
    if !venv.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED the Python driver part: python3 -m venv failed");
        return None;
    }
    let pip = Command::new(dir.join("bin").join("pip"))
        .args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "PyMySQL",
            "mysql-connector-python",
        ])
        .status();
    if !pip.is_ok_and(|s| s.success()) || !ready(&python) {
        eprintln!("SKIPPED the Python driver part: PyPI is not reachable (pip install failed)");
        return None;
    }
    Some(python)
}

/// Runs a Python program with `PORT`, `USER`, `PASSWORD`, `DB`, `MARKER` in its environment;
/// returns its stdout, panicking with its stderr when it fails.
fn run_python(python: &Path, program: &str, port: u16, marker: &str) -> String {
    let out = Command::new(python)
        .args(["-c", program])
        .env("PORT", port.to_string())
        .env("USER", Lab::APP.0)
        .env("PASSWORD", Lab::APP.1)
        .env("DB", Lab::APP_DB)
        .env("MARKER", marker)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The DB-API default (autocommit off): a read, an INSERT, a read, COMMIT. PyMySQL and
/// mysql-connector-python (which asks for collation 255, utf8mb4_0900_ai_ci, in its
/// handshake) both commit on the primary and read their emoji back unchanged.
const DBAPI_PROGRAM: &str = r#"
import os, sys
import pymysql, mysql.connector
port = int(os.environ["PORT"]); marker = os.environ["MARKER"]
args = dict(host="127.0.0.1", port=port, user=os.environ["USER"], password=os.environ["PASSWORD"], database=os.environ["DB"])
def session(conn, tag):
    cur = conn.cursor()
    cur.execute("SELECT COUNT(*) FROM t13")
    cur.fetchall()
    cur.execute("INSERT INTO t13 (v) VALUES (%s)", (marker + tag,))
    # Inside the transaction (transaction_persistent): read back on the primary.
    cur.execute("SELECT v FROM t13 WHERE v = %s", (marker + tag,))
    seen = cur.fetchall()
    conn.commit()
    print(tag, len(seen) == 1 and seen[0][0] == marker + tag)
    conn.close()
session(pymysql.connect(**args), "-pymysql-\U0001F600")
session(pymysql.connect(charset="utf8mb4", collation="utf8mb4_0900_ai_ci", **args), "-pymysql0900-\U0001F600")
session(mysql.connector.connect(**args), "-connector-\U0001F600")
"#;

#[tokio::test]
async fn python_dbapi_autocommit_off_sessions_write_to_the_primary_and_commit() {
    let lab = lab().await;
    let _serial = serial().await;
    ensure_t13(lab);
    let Some(python) = python_with_drivers() else {
        return;
    };
    let proxy = Proxy::lab(lab, &[READS_TO_REPLICAS]).await;
    let marker = unique("dbapi");
    let out = tokio::task::spawn_blocking({
        let port = proxy.port;
        let marker = marker.clone();
        move || run_python(&python, DBAPI_PROGRAM, port, &marker)
    })
    .await
    .expect("python task");
    for tag in ["-pymysql-", "-pymysql0900-", "-connector-"] {
        let v = format!("{tag}\u{1F600}");
        assert!(out.contains(&format!("{v} True")), "{tag}: {out}");
        assert_eq!(
            rows_with(lab, &format!("{marker}{v}")).await,
            1,
            "{tag} committed"
        );
    }
}

#[tokio::test]
async fn autocommit_off_reads_open_no_transaction_and_the_insert_commits_on_the_primary() {
    let lab = lab().await;
    let _serial = serial().await;
    ensure_t13(lab);
    let proxy = Proxy::lab(lab, &[READS_TO_REPLICAS]).await;
    let marker = unique("ac0");
    let mut c = proxy.client().await;
    c.query_drop("SET autocommit=0").await.expect("set");
    let _: Vec<u64> = c.query("SELECT COUNT(*) FROM t13").await.expect("read");
    c.exec_drop("INSERT INTO t13 (v) VALUES (?)", (&marker,))
        .await
        .expect("the INSERT goes to the primary, not the replica of the read");
    assert_eq!(rows_with(lab, &marker).await, 0, "not committed yet");
    c.query_drop("COMMIT").await.expect("commit");
    assert_eq!(rows_with(lab, &marker).await, 1, "committed on the primary");
    // A later read still opens nothing on a replica: a second write works too.
    let _: Vec<u64> = c.query("SELECT COUNT(*) FROM t13").await.expect("read");
    c.exec_drop("INSERT INTO t13 (v) VALUES (?)", (&marker,))
        .await
        .expect("second insert");
    c.query_drop("ROLLBACK").await.expect("rollback");
    assert_eq!(
        rows_with(lab, &marker).await,
        1,
        "the rolled back row is gone"
    );
}

#[tokio::test]
async fn a_backend_lost_inside_a_transaction_closes_the_client_so_commit_cannot_lie() {
    let lab = lab().await;
    let _serial = serial().await;
    ensure_t13(lab);
    let proxy = Proxy::lab(lab, &[READS_TO_REPLICAS]).await;
    for state in ["transaction", "user variable"] {
        let marker = unique("lost");
        let mut c = proxy.client().await;
        if state == "transaction" {
            c.query_drop("BEGIN").await.expect("begin");
            c.exec_drop("INSERT INTO t13 (v) VALUES (?)", (&marker,))
                .await
                .expect("insert");
        } else {
            c.query_drop("SET @x = 42").await.expect("set @x");
        }
        let thread: u64 = c
            .query_first("SELECT CONNECTION_ID() /* stays on the held connection */")
            .await
            .ok()
            .flatten()
            .unwrap_or(0);
        let thread = if thread != 0 {
            thread
        } else {
            // The read was routed elsewhere (user variable locks it to hostgroup 10 and the
            // rule sends SELECTs to 20): find the held connection on the primary instead.
            let mut primary = direct(lab.primary).await;
            let ids: Vec<u64> = primary
                .query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER='svcusr' AND ID <> CONNECTION_ID()")
                .await
                .expect("processlist");
            assert_eq!(ids.len(), 1, "{state}: one held connection: {ids:?}");
            ids[0]
        };
        let out = lab
            .root_sql(lab.primary, &format!("KILL {thread}"))
            .expect("kill");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let next = if state == "transaction" {
            "COMMIT"
        } else {
            "SET @y = @x"
        };
        let err = c
            .query_drop(next)
            .await
            .expect_err("the lost state is reported");
        let code = server_error_code(&err);
        assert!(
            code.is_none() || code == Some(2013),
            "{state}: {next} fails with 2013 or a closed connection: {err}"
        );
        let after = c.query_drop("COMMIT").await;
        assert!(after.is_err(), "{state}: the client connection was closed");
        if state == "transaction" {
            assert_eq!(
                rows_with(lab, &marker).await,
                0,
                "the insert was rolled back"
            );
        }
    }
}

#[tokio::test]
async fn offline_hard_cuts_an_open_transaction_at_once() {
    let lab = lab().await;
    let _serial = serial().await;
    ensure_t13(lab);
    let mut proxy = Proxy::lab(lab, &[READS_TO_REPLICAS]).await;
    let marker = unique("fenced");
    let mut c = proxy.client().await;
    c.query_drop("BEGIN").await.expect("begin");
    c.exec_drop("INSERT INTO t13 (v) VALUES (?)", (&marker,))
        .await
        .expect("insert");
    proxy
        .admin_rows(&format!(
            "UPDATE mysql_servers SET status='OFFLINE_HARD' WHERE port={}",
            lab.primary
        ))
        .await;
    proxy.admin_rows("LOAD MYSQL SERVERS TO RUNTIME").await;
    // The server side of the held connection goes away (the transaction rolls back).
    let gone = wait_until(Duration::from_secs(10), || async {
        let mut primary = direct(lab.primary).await;
        let ids: Vec<u64> = primary
            .query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER='svcusr' AND ID <> CONNECTION_ID()")
            .await
            .unwrap_or_default();
        ids.is_empty()
    })
    .await;
    assert!(gone, "the fenced server's connections are closed");
    assert!(
        c.query_drop("COMMIT").await.is_err(),
        "COMMIT cannot succeed"
    );
    assert_eq!(
        rows_with(lab, &marker).await,
        0,
        "nothing committed on the fenced server"
    );
}

#[tokio::test]
async fn last_insert_id_in_any_form_and_user_variables_lock_the_hostgroup() {
    let lab = lab().await;
    let _serial = serial().await;
    ensure_t13(lab);
    let proxy = Proxy::lab(lab, &[READS_TO_REPLICAS]).await;
    let mut c = proxy.client().await;
    c.exec_drop("INSERT INTO t13 (v) VALUES (?)", (unique("lid"),))
        .await
        .expect("insert");
    let max: u64 = direct(lab.primary)
        .await
        .query_first("SELECT MAX(id) FROM t13")
        .await
        .expect("max")
        .expect("row");
    assert!(max > 0);
    let aliased: Option<u64> = c
        .query_first("select last_insert_id() AS id")
        .await
        .expect("aliased");
    assert_eq!(aliased, Some(max));
    let (id, one): (u64, u8) = c
        .query_first("SELECT LAST_INSERT_ID() AS id, 1 AS one")
        .await
        .expect("with other columns")
        .expect("row");
    assert_eq!((id, one), (max, 1), "runs where the insert ran");

    // ProxySQL's mysql-set_query_lock_on_hostgroup=1: visible 9006, never a silent NULL.
    let mut c = proxy.client().await;
    c.query_drop("SET @x = 1").await.expect("set @x");
    let err = c
        .query_drop("SELECT @x")
        .await
        .expect_err("a read routed to the replicas is refused");
    assert_eq!(server_error_code(&err), Some(9006), "{err}");
    assert!(err.to_string().contains("locked to hostgroup 10"), "{err}");
    c.query_drop("INSERT INTO t13 (v) VALUES (@x)")
        .await
        .expect("writes still go to the locked hostgroup");
}

#[tokio::test]
async fn kill_query_with_the_proxy_connection_id_interrupts_the_backend_statement() {
    let lab = lab().await;
    let _serial = serial().await;
    let proxy = Proxy::lab(lab, &[]).await;
    let mut victim = proxy.client().await;
    let proxy_id = victim.id();
    let sleeper = tokio::spawn(async move {
        let r: Result<Option<u8>, _> = victim.query_first("SELECT SLEEP(60)").await;
        (r, victim)
    });
    // Wait until the statement runs on the backend.
    let mut admin = proxy.client().await;
    let running = wait_until(Duration::from_secs(10), || async {
        let mut primary = direct(lab.primary).await;
        let n: Option<u64> = primary
            .query_first("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(60)%'")
            .await
            .unwrap_or(None);
        n == Some(1)
    })
    .await;
    assert!(running, "the SLEEP runs on the primary");
    admin
        .query_drop(format!("KILL QUERY {proxy_id}"))
        .await
        .expect("KILL QUERY with the proxy's id");
    let (r, mut victim) = tokio::time::timeout(Duration::from_secs(30), sleeper)
        .await
        .expect("the sleep ends long before 60 s")
        .expect("task");
    // MariaDB ends an interrupted SLEEP with 1 (or error 1317).
    match r {
        Ok(v) => assert_eq!(v, Some(1)),
        Err(e) => assert_eq!(server_error_code(&e), Some(1317), "{e}"),
    }
    let one: Option<u8> = victim.query_first("SELECT 1").await.expect("session lives");
    assert_eq!(one, Some(1));
    let err = admin
        .query_drop("KILL QUERY 999999")
        .await
        .expect_err("unknown id");
    assert_eq!(server_error_code(&err), Some(1094));
    admin
        .query_drop(format!("KILL {proxy_id}"))
        .await
        .expect("KILL CONNECTION");
    let mut closed = false;
    for _ in 0..50 {
        if victim.query_drop("SELECT 1").await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(closed, "the killed session is closed");
}

#[tokio::test]
async fn kill_connection_on_admin_closes_that_session_mid_query_and_unknown_ids_say_so() {
    let _serial = serial().await;
    let lab = lab().await;
    let mut proxy = Proxy::lab(lab, &[]).await;
    let mut idle = proxy.client().await;
    let mut busy = proxy.client().await;
    let _: Option<i64> = idle.query_first("SELECT 1").await.unwrap();
    let ids = proxy
        .admin_rows("SELECT SessionID FROM stats_mysql_processlist ORDER BY SessionID")
        .await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    let id_of = |row: &Vec<Option<String>>| row[0].clone().unwrap();
    let (idle_id, busy_id) = (id_of(&ids[0]), id_of(&ids[1]));

    // A session in the middle of a long statement is closed at once.
    let running = tokio::spawn(async move { busy.query_drop("SELECT SLEEP(60)").await });
    let started = wait_until(Duration::from_secs(10), || async {
        query_rows(
            &mut proxy.node.admin().await,
            &format!("SELECT command FROM stats_mysql_processlist WHERE SessionID={busy_id}"),
        )
        .await
            == [[Some("Query".to_string())]]
    })
    .await;
    assert!(started, "the SLEEP never showed in the processlist");
    proxy
        .admin
        .query_drop(format!("KILL CONNECTION {busy_id}"))
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the killed session's statement never ended")
        .unwrap();
    assert!(outcome.is_err(), "a killed session's SLEEP(60) succeeded");

    // An idle one too; the others stay.
    proxy
        .admin
        .query_drop(format!("KILL CONNECTION {idle_id}"))
        .await
        .unwrap();
    assert!(idle.query_drop("SELECT 1").await.is_err());
    let mut other = proxy.client().await;
    let one: i64 = other.query_first("SELECT 1").await.unwrap().unwrap();
    assert_eq!(one, 1);
    let left = proxy
        .admin_rows(&format!(
            "SELECT COUNT(*) FROM stats_mysql_processlist WHERE SessionID IN ({idle_id},{busy_id})"
        ))
        .await;
    assert_eq!(left, [[Some("0".to_string())]]);

    let err = proxy
        .admin
        .query_drop("KILL CONNECTION 999999")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("ProxySQL Admin Error: Unknown thread id: 999999"),
        "{err}"
    );
}
