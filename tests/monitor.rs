//! The backend monitor of a `pxadm node` against the real MariaDB lab (spec §3.6, §7.3, §7.5):
//! log tables filled by real checks, ping-based shunning that the cluster does not see,
//! replication-hostgroup moves when a replica's read_only changes, and shunning for
//! replication lag.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{free_port, lab, query_rows, wait_until, Lab, TestNode, HOST};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// Long enough for several monitor rounds at the test intervals on a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(20);

async fn exec(conn: &mut Conn, sql: &str) {
    if let Err(e) = conn.query_drop(sql).await {
        panic!("admin statement {sql:?} failed: {e}");
    }
}

/// Sets monitor variables (name without `mysql-` prefix, value) and loads them.
async fn monitor_vars(conn: &mut Conn, vars: &[(&str, &str)]) {
    for (name, value) in vars {
        exec(
            conn,
            &format!(
                "UPDATE global_variables SET variable_value='{value}' WHERE variable_name='mysql-{name}'"
            ),
        )
        .await;
    }
    exec(conn, "LOAD MYSQL VARIABLES TO RUNTIME").await;
}

/// Replaces `mysql_servers` with `(hostgroup, port)` rows on loopback, sets the replication
/// hostgroups (0,1,'read_only') when `replication`, and loads both.
async fn servers(conn: &mut Conn, rows: &[(u32, u16)], replication: bool) {
    exec(conn, "DELETE FROM mysql_servers").await;
    for (hg, port) in rows {
        exec(
            conn,
            &format!(
                "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES ({hg}, '{HOST}', {port})"
            ),
        )
        .await;
    }
    exec(conn, "DELETE FROM mysql_replication_hostgroups").await;
    if replication {
        exec(
            conn,
            "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, check_type) VALUES (0, 1, 'read_only')",
        )
        .await;
    }
    exec(conn, "LOAD MYSQL SERVERS TO RUNTIME").await;
}

/// `(version, epoch, checksum)` of the runtime `mysql_servers` module.
async fn servers_checksum(conn: &mut Conn) -> (String, String, String) {
    let rows = query_rows(
        conn,
        "SELECT version, epoch, checksum FROM runtime_checksums_values WHERE name='mysql_servers'",
    )
    .await;
    let row = rows
        .first()
        .unwrap_or_else(|| panic!("no mysql_servers row in runtime_checksums_values"));
    let text = |i: usize| row[i].clone().unwrap_or_default();
    (text(0), text(1), text(2))
}

/// `(hostgroup_id, port, status)` of every runtime server, in table order.
async fn runtime_servers(conn: &mut Conn) -> Vec<(String, String, String)> {
    query_rows(
        conn,
        "SELECT hostgroup_id, port, status FROM runtime_mysql_servers ORDER BY hostgroup_id, hostname, port",
    )
    .await
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap_or_default(),
            r[1].clone().unwrap_or_default(),
            r[2].clone().unwrap_or_default(),
        )
    })
    .collect()
}

async fn count(conn: &mut Conn, sql: &str) -> i64 {
    query_rows(conn, sql).await[0][0]
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{sql:?} did not return a count"))
}

/// Waits until the COUNT query `sql` reaches `at_least`; fails with `what` and the node's log.
async fn wait_for_count(admin: &mut Conn, sql: &str, at_least: i64, node: &TestNode, what: &str) {
    let admin = Mutex::new(admin);
    let reached = wait_until(WAIT, || async {
        count(&mut **admin.lock().await, sql).await >= at_least
    })
    .await;
    assert!(reached, "{what}\n{}", common::tail(&node.log(), 30));
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[tokio::test]
async fn logs_fill_with_successful_checks_of_live_servers_and_old_rows_are_purged() {
    let lab = lab().await;
    let node = TestNode::start().await;
    let mut admin = node.admin().await;
    monitor_vars(
        &mut admin,
        &[
            ("monitor_connect_interval", "200"),
            ("monitor_ping_interval", "200"),
            ("monitor_read_only_interval", "200"),
            ("monitor_history", "1000"),
        ],
    )
    .await;
    let [primary, r1, r2] = lab.ports();
    servers(&mut admin, &[(0, primary), (1, r1), (1, r2)], true).await;

    for table in ["connect", "ping", "read_only"] {
        for port in lab.ports() {
            let sql = format!(
                "SELECT COUNT(*) FROM monitor.mysql_server_{table}_log WHERE hostname='{HOST}' AND port={port}"
            );
            let what = format!("no {table} rows for {port}");
            wait_for_count(&mut admin, &sql, 2, &node, &what).await;
        }
    }
    let started = now_us();
    for (table, success) in [
        ("connect", "connect_success_time_us"),
        ("ping", "ping_success_time_us"),
        ("read_only", "success_time_us"),
    ] {
        let error = if table == "read_only" {
            "error".to_string()
        } else {
            format!("{table}_error")
        };
        let rows = query_rows(
            &mut admin,
            &format!("SELECT port, time_start_us, {success}, {error} FROM monitor.mysql_server_{table}_log"),
        )
        .await;
        for row in rows {
            assert_eq!(row[3], None, "{table} error for a live server: {row:?}");
            let time_start: i64 = row[1].as_deref().unwrap().parse().unwrap();
            assert!(
                (started - 60_000_000..=started).contains(&time_start),
                "{table} time_start_us is not wall-clock µs: {row:?}"
            );
            let took: i64 = row[2].as_deref().unwrap().parse().unwrap();
            assert!(
                took > 0 && took < 10_000_000,
                "{table} success time {row:?}"
            );
        }
    }
    // read_only values are the servers' (replica1 may be flipped by the move test).
    for (port, expected) in [(primary, "0"), (r2, "1")] {
        let values = query_rows(
            &mut admin,
            &format!("SELECT DISTINCT read_only FROM monitor.mysql_server_read_only_log WHERE port={port}"),
        )
        .await;
        assert_eq!(values, [vec![Some(expected.to_string())]], "port {port}");
    }
    // History 1000 ms (ping 200 ms × (3 + 1) = 800 ms does not raise it): nothing older than
    // a second survives the next purge.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let horizon = now_us() - 2_500_000;
    for table in ["connect", "ping", "read_only"] {
        let old = count(
            &mut admin,
            &format!("SELECT COUNT(*) FROM monitor.mysql_server_{table}_log WHERE time_start_us < {horizon}"),
        )
        .await;
        assert_eq!(
            old, 0,
            "{table} log keeps rows older than mysql-monitor_history"
        );
    }
    // Disabling the monitor stops the checks.
    monitor_vars(&mut admin, &[("monitor_enabled", "false")]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let last = count(
        &mut admin,
        "SELECT MAX(time_start_us) FROM monitor.mysql_server_ping_log",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let later = count(
        &mut admin,
        "SELECT MAX(time_start_us) FROM monitor.mysql_server_ping_log",
    )
    .await;
    assert_eq!(
        last, later,
        "pings continued with mysql-monitor_enabled=false"
    );
}

/// A byte relay in front of a lab server: stopping it makes the backend unreachable (open
/// connections cut, port refused) without touching the shared lab.
struct Relay {
    port: u16,
    target: u16,
    tasks: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    fn new(target: u16) -> Relay {
        Relay {
            port: free_port(),
            target,
            tasks: Arc::default(),
        }
    }

    async fn start(&self) {
        let listener = TcpListener::bind((HOST, self.port))
            .await
            .unwrap_or_else(|e| panic!("relay cannot bind {}: {e}", self.port));
        let target = self.target;
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect((HOST, target)).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn unreachable_servers_get_error_rows_and_are_shunned_invisibly_to_the_cluster() {
    let lab = lab().await;
    let relay = Relay::new(lab.primary);
    relay.start().await;
    let closed = free_port();
    let node = TestNode::start().await;
    let mut admin = node.admin().await;
    monitor_vars(
        &mut admin,
        &[
            ("monitor_connect_interval", "200"),
            ("monitor_ping_interval", "600"),
            ("monitor_ping_max_failures", "3"),
            ("monitor_read_only_interval", "150"),
            ("monitor_read_only_max_timeout_count", "3"),
        ],
    )
    .await;
    // The closed port sits in the reader hostgroup (read_only checks too); the relay in a
    // plain hostgroup.
    servers(&mut admin, &[(1, closed), (2, relay.port)], true).await;
    let before = servers_checksum(&mut admin).await;

    let shun_line = format!(
        "Server {HOST}:{closed} missed 3 heartbeats, shunning it and killing all the connections. Disabling other checks until the node comes back online."
    );
    node.wait_for_log(&shun_line, WAIT).await;
    node.wait_for_log(
        &format!("Server {HOST}:{closed} missed 3 read_only checks. Assuming read_only=1"),
        WAIT,
    )
    .await;
    let refused = format!("Can't connect to server on '{HOST}' (111)");
    for (table, error) in [("connect", "connect_error"), ("ping", "ping_error")] {
        let rows = query_rows(
            &mut admin,
            &format!("SELECT {error}, * FROM monitor.mysql_server_{table}_log WHERE port={closed}"),
        )
        .await;
        assert!(!rows.is_empty(), "no {table} rows for the closed port");
        for row in rows {
            assert_eq!(
                row[0].as_deref(),
                Some(refused.as_str()),
                "{table}: {row:?}"
            );
            // ProxySQL stores 0, not NULL, as the success time of a failed check.
            assert_eq!(row[4].as_deref(), Some("0"), "{table}: {row:?}");
        }
    }
    let ro = query_rows(
        &mut admin,
        &format!(
            "SELECT read_only, error FROM monitor.mysql_server_read_only_log WHERE port={closed}"
        ),
    )
    .await;
    assert!(ro.len() >= 3, "{ro:?}");
    for row in &ro {
        assert_eq!(row[0], None);
        assert!(row[1].as_deref().unwrap().starts_with("timeout"), "{row:?}");
    }
    assert_eq!(
        runtime_servers(&mut admin).await,
        [
            ("1".into(), closed.to_string(), "SHUNNED".into()),
            ("2".into(), relay.port.to_string(), "ONLINE".into()),
        ]
    );
    // Other checks are off while it misses heartbeats: no new connect rows.
    let connects =
        format!("SELECT COUNT(*) FROM monitor.mysql_server_connect_log WHERE port={closed}");
    let n = count(&mut admin, &connects).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(count(&mut admin, &connects).await, n);

    // A live backend behind the relay goes down, is shunned, comes back, is ONLINE again.
    let relay_port = relay.port.to_string();
    relay.stop();
    node.wait_for_log(
        &format!("Server {HOST}:{} missed 3 heartbeats", relay.port),
        WAIT,
    )
    .await;
    let admin = Mutex::new(admin);
    let status_is = |status: &'static str| {
        let admin = &admin;
        let relay_port = relay_port.clone();
        move || {
            let relay_port = relay_port.clone();
            async move {
                runtime_servers(&mut *admin.lock().await)
                    .await
                    .iter()
                    .any(|(hg, port, st)| hg == "2" && *port == relay_port && st == status)
            }
        }
    };
    assert!(wait_until(WAIT, status_is("SHUNNED")).await);
    relay.start().await;
    assert!(
        wait_until(WAIT, status_is("ONLINE")).await,
        "relay backend not back ONLINE\n{}",
        common::tail(&node.log(), 30)
    );
    let mut admin = admin.into_inner();
    // None of this is visible to the cluster: same checksum, epoch and version.
    assert_eq!(servers_checksum(&mut admin).await, before);
    let ping_ok = count(
        &mut admin,
        &format!("SELECT COUNT(*) FROM monitor.mysql_server_ping_log WHERE port={} AND ping_error IS NULL", relay.port),
    )
    .await;
    assert!(ping_ok > 0);

    // Switched off, the monitor no longer vouches for its shunning: the dead server is
    // released rather than left SHUNNED for good.
    monitor_vars(&mut admin, &[("monitor_enabled", "false")]).await;
    let admin = Mutex::new(admin);
    let closed_port = closed.to_string();
    assert!(
        wait_until(WAIT, || async {
            runtime_servers(&mut *admin.lock().await)
                .await
                .iter()
                .all(|(_, port, st)| *port != closed_port || st == "ONLINE")
        })
        .await
    );
    assert_eq!(servers_checksum(&mut *admin.lock().await).await, before);
}

/// Puts a lab replica's read_only back to ON when the test ends, even on failure.
struct RestoreReadOnly<'a> {
    lab: &'a Lab,
    port: u16,
}

impl Drop for RestoreReadOnly<'_> {
    fn drop(&mut self) {
        match self.lab.root_sql(self.port, "SET GLOBAL read_only=ON") {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "could not restore read_only on {}: {}",
                self.port,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("could not restore read_only on {}: {e}", self.port),
        }
    }
}

async fn set_read_only(lab: &'static Lab, port: u16, on: bool) {
    let sql = format!("SET GLOBAL read_only={}", if on { "ON" } else { "OFF" });
    let query = sql.clone();
    let out = tokio::task::spawn_blocking(move || lab.root_sql(port, &query))
        .await
        .expect("mariadb client thread")
        .unwrap_or_else(|e| panic!("cannot run mariadb: {e}"));
    assert!(
        out.status.success(),
        "{sql} on {port}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn replica_switched_writable_joins_the_writer_hostgroup_and_leaves_it_when_read_only_again() {
    let lab = lab().await;
    let [primary, r1, r2] = lab.ports();
    let node = TestNode::start().await;
    let mut admin = node.admin().await;
    monitor_vars(&mut admin, &[("monitor_read_only_interval", "200")]).await;
    servers(&mut admin, &[(0, primary), (1, r1), (1, r2)], true).await;
    let configured = runtime_servers(&mut admin).await;
    let before = servers_checksum(&mut admin).await;
    // Epochs are seconds: make sure a move lands in a later one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Steady state: the lab's layout already matches read_only, nothing moves.
    assert_eq!(runtime_servers(&mut admin).await, configured);
    assert_eq!(servers_checksum(&mut admin).await, before);

    let _restore = RestoreReadOnly { lab, port: r1 };
    set_read_only(lab, r1, false).await;
    node.wait_for_log(
        &format!("Regenerating table 'mysql_servers' due to actions on server '{HOST}:{r1}'"),
        WAIT,
    )
    .await;
    let line = node
        .wait_for_log(
            &format!("Server '{HOST}:{r1}' found with 'read_only=0', but not found as writer"),
            WAIT,
        )
        .await;
    assert!(line.contains("[INFO]"), "{line}");
    let admin = Mutex::new(admin);
    let writer_row = ("0".to_string(), r1.to_string(), "ONLINE".to_string());
    assert!(
        wait_until(WAIT, || async {
            runtime_servers(&mut *admin.lock().await)
                .await
                .contains(&writer_row)
        })
        .await
    );
    let mut admin = admin.into_inner();
    // writer_is_also_reader (default true): still a reader too.
    assert_eq!(
        runtime_servers(&mut admin).await,
        [
            ("0".into(), primary.to_string(), "ONLINE".into()),
            ("0".into(), r1.to_string(), "ONLINE".into()),
            ("1".into(), r1.to_string(), "ONLINE".into()),
            ("1".into(), r2.to_string(), "ONLINE".into()),
        ]
    );
    let moved = servers_checksum(&mut admin).await;
    assert_eq!(moved.0, before.0, "the version must not change");
    assert_ne!(moved.2, before.2, "the checksum must change");
    assert!(
        moved.1.parse::<u64>().unwrap() > before.1.parse::<u64>().unwrap(),
        "the epoch must move: {before:?} -> {moved:?}"
    );
    assert!(
        count(
            &mut admin,
            &format!("SELECT COUNT(*) FROM monitor.mysql_server_read_only_log WHERE port={r1} AND read_only=0"),
        )
        .await
            > 0
    );

    // Back to read_only=ON: it leaves the writer hostgroup, the table is the configured one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    set_read_only(lab, r1, true).await;
    node.wait_for_log(
        &format!("Server '{HOST}:{r1}' found with 'read_only=1', but not found as reader"),
        WAIT,
    )
    .await;
    let admin = Mutex::new(admin);
    assert!(
        wait_until(WAIT, || async {
            runtime_servers(&mut *admin.lock().await).await == configured
        })
        .await
    );
    let mut admin = admin.into_inner();
    let back = servers_checksum(&mut admin).await;
    assert_eq!(back.0, before.0, "the version must not change");
    assert_eq!(back.2, before.2, "same table, same checksum");
    assert!(back.1.parse::<u64>().unwrap() > moved.1.parse::<u64>().unwrap());
}

/// Runs `sql` as root on the lab primary (it reaches the replicas through the binlog).
async fn primary_sql(lab: &'static Lab, sql: String) {
    let port = lab.primary;
    let query = sql.clone();
    let out = tokio::task::spawn_blocking(move || lab.root_sql(port, &query))
        .await
        .expect("mariadb client thread")
        .unwrap_or_else(|e| panic!("cannot run mariadb: {e}"));
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `(hostgroup, port, status)` rows of `stats_mysql_connection_pool` for `port`.
async fn pool_status(conn: &mut Conn, port: u16) -> Vec<(String, String)> {
    query_rows(
        conn,
        &format!("SELECT hostgroup, status FROM stats_mysql_connection_pool WHERE srv_port={port} ORDER BY hostgroup"),
    )
    .await
    .into_iter()
    .map(|r| (r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default()))
    .collect()
}

#[tokio::test]
async fn replication_lag_over_the_limit_shuns_the_replica_until_it_catches_up() {
    let lab = lab().await;
    let [primary, r1, r2] = lab.ports();
    // A pt-heartbeat style table of this test run, written on the primary: its `ts` sets
    // the lag every replica reports through the heartbeat query, without touching the
    // lab's replication.
    let table = format!("pxadm_hb.heartbeat_{}", std::process::id());
    primary_sql(
        lab,
        format!(
            "CREATE DATABASE IF NOT EXISTS pxadm_hb;
             CREATE TABLE IF NOT EXISTS {table} (server_id INT PRIMARY KEY, ts DATETIME(6) NOT NULL);
             REPLACE INTO {table} VALUES (1, NOW(6) - INTERVAL 120 SECOND);
             GRANT SELECT ON pxadm_hb.* TO monitor@'{HOST}';"
        ),
    )
    .await;

    let traffic_port = free_port();
    let node = TestNode::builder()
        .arg("--mysql")
        .arg(format!("{HOST}:{traffic_port}"))
        .start()
        .await;
    let mut admin = node.admin().await;
    monitor_vars(
        &mut admin,
        &[
            ("monitor_replication_lag_interval", "200"),
            ("monitor_replication_lag_count", "2"),
            ("monitor_replication_lag_use_percona_heartbeat", &table),
        ],
    )
    .await;
    exec(&mut admin, "DELETE FROM mysql_servers").await;
    for (hg, port, max_lag) in [(0, primary, 0), (1, r1, 30), (1, r2, 0)] {
        exec(
            &mut admin,
            &format!("INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_replication_lag) VALUES ({hg}, '{HOST}', {port}, {max_lag})"),
        )
        .await;
    }
    exec(
        &mut admin,
        &format!(
            "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('{}', '{}', 1)",
            Lab::APP.0,
            Lab::APP.1
        ),
    )
    .await;
    exec(&mut admin, "LOAD MYSQL SERVERS TO RUNTIME").await;
    exec(&mut admin, "LOAD MYSQL USERS TO RUNTIME").await;
    let before = servers_checksum(&mut admin).await;

    // Two readings over the limit: the first is only counted, the second shuns.
    let not_yet = node
        .wait_for_log(
            &format!("Not shunning server {HOST}:{r1} from HG 1 with replication lag of"),
            WAIT,
        )
        .await;
    assert!(
        not_yet.contains("count number: '1' < replication_lag_count: '2'"),
        "{not_yet}"
    );
    let shunned = node
        .wait_for_log(&format!("Shunning server {HOST}:{r1} from HG 1"), WAIT)
        .await;
    assert!(shunned.contains("[WARNING]"), "{shunned}");
    let lag: i64 = shunned
        .split("replication lag of ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no lag in {shunned:?}"));
    assert!((110..=200).contains(&lag), "lag {lag} in {shunned:?}");

    assert_eq!(
        runtime_servers(&mut admin).await,
        [
            ("0".into(), primary.to_string(), "ONLINE".into()),
            ("1".into(), r1.to_string(), "SHUNNED".into()),
            ("1".into(), r2.to_string(), "ONLINE".into()),
        ]
    );
    assert_eq!(
        pool_status(&mut admin, r1).await,
        [("1".into(), "SHUNNED_REPLICATION_LAG".into())]
    );
    // Invisible to the cluster: shunned rows count as ONLINE in the checksum.
    assert_eq!(servers_checksum(&mut admin).await, before);
    // The log holds the measured lag; r2 (no limit) is not checked.
    assert!(
        count(
            &mut admin,
            &format!("SELECT COUNT(*) FROM monitor.mysql_server_replication_lag_log WHERE port={r1} AND repl_lag >= 110 AND error IS NULL"),
        )
        .await
            >= 2
    );
    assert_eq!(
        count(
            &mut admin,
            &format!("SELECT COUNT(*) FROM monitor.mysql_server_replication_lag_log WHERE port IN ({primary}, {r2})"),
        )
        .await,
        0
    );

    // Reads of hostgroup 1 avoid the lagging replica.
    let mut client = Conn::new(
        common::admin_opts(traffic_port, Lab::APP.0, Lab::APP.1).db_name(Some(Lab::APP_DB)),
    )
    .await
    .unwrap_or_else(|e| panic!("cannot connect through the proxy: {e}"));
    for _ in 0..10 {
        let port: Option<u16> = client.query_first("SELECT @@port").await.unwrap();
        assert_eq!(port, Some(r2), "a read reached the shunned replica");
    }
    drop(client);

    // The replica catches up: it is re-enabled.
    primary_sql(lab, format!("REPLACE INTO {table} VALUES (1, NOW(6))")).await;
    let back = node
        .wait_for_log(&format!("Re-enabling server {HOST}:{r1} from HG 1"), WAIT)
        .await;
    assert!(back.contains("[WARNING]"), "{back}");
    assert_eq!(
        pool_status(&mut admin, r1).await,
        [("1".into(), "ONLINE".into())]
    );

    // SHOW SLAVE STATUS mode: a running replica reports a number, the primary (no replica
    // row) is logged with a NULL lag and stays ONLINE.
    exec(
        &mut admin,
        &format!("UPDATE mysql_servers SET max_replication_lag=30 WHERE port={primary}"),
    )
    .await;
    exec(&mut admin, "LOAD MYSQL SERVERS TO RUNTIME").await;
    monitor_vars(
        &mut admin,
        &[("monitor_replication_lag_use_percona_heartbeat", "")],
    )
    .await;
    let since = now_us();
    let sql = format!(
        "SELECT COUNT(*) FROM monitor.mysql_server_replication_lag_log WHERE time_start_us > {since} AND ((port={r1} AND repl_lag >= 0) OR (port={primary} AND repl_lag IS NULL)) AND error IS NULL"
    );
    wait_for_count(&mut admin, &sql, 4, &node, "no SHOW SLAVE STATUS readings").await;
    assert_eq!(
        pool_status(&mut admin, primary).await,
        [("0".into(), "ONLINE".into())]
    );
    primary_sql(lab, format!("DROP TABLE IF EXISTS {table}")).await;
}
