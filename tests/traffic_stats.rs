//! Traffic statistics of `pxadm node` under real traffic to the MariaDB lab (issue 16):
//! `stats_mysql_global` counted for real in ProxySQL's row order, `stats_mysql_commands_counters`
//! buckets, `stats_mysql_errors` and digests with their `_reset` twins, `stats_memory_metrics`
//! and admin `KILL CONNECTION` ending a session mid-statement; and dolphie 6.18 (installed
//! from PyPI, run in tmux) showing non-zero query data rates and killing a connection.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{admin_opts, free_port, lab, query_rows, wait_until, Lab, TestNode, HOST};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use pxadm::proxysql::global_status::{STATS_MEMORY_METRICS, STATS_MYSQL_GLOBAL};

const HG: u32 = 10;

/// A node routing the scenario's user to the lab's primary.
struct Proxy {
    _node: TestNode,
    port: u16,
    admin: Conn,
}

impl Proxy {
    async fn start(lab: &Lab) -> Proxy {
        let port = free_port();
        let node = TestNode::builder()
            .arg("--mysql")
            .arg(format!("{HOST}:{port}"))
            .start()
            .await;
        let mut admin = node.admin().await;
        let sql = [
            format!(
                "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('{}','{}',{HG})",
                Lab::APP.0,
                Lab::APP.1
            ),
            format!(
                "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES ({HG},'{HOST}',{})",
                lab.primary
            ),
            "LOAD MYSQL SERVERS TO RUNTIME".to_string(),
            "LOAD MYSQL USERS TO RUNTIME".to_string(),
        ];
        for s in &sql {
            admin
                .query_drop(s)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        Proxy {
            _node: node,
            port,
            admin,
        }
    }

    /// A client connection as the scenario's user; retried for a while, since the traffic
    /// side adopts a `LOAD ... TO RUNTIME` asynchronously.
    async fn client(&self) -> Conn {
        let opts = admin_opts(self.port, Lab::APP.0, Lab::APP.1).db_name(Some(Lab::APP_DB));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match Conn::new(opts.clone()).await {
                Ok(conn) => return conn,
                Err(e) if std::time::Instant::now() < deadline => {
                    eprintln!("retrying the connection through the proxy: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("cannot connect through the proxy on {}: {e}", self.port),
            }
        }
    }

    /// `stats_mysql_global` as read, in its row order.
    async fn global(&mut self) -> Vec<(String, String)> {
        query_rows(&mut self.admin, "SELECT * FROM stats_mysql_global")
            .await
            .into_iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap_or_default()))
            .collect()
    }

    async fn global_map(&mut self) -> HashMap<String, u64> {
        self.global()
            .await
            .into_iter()
            .filter_map(|(k, v)| v.parse().ok().map(|v| (k, v)))
            .collect()
    }
}

fn num(row: &[Option<String>], i: usize) -> u64 {
    row[i].as_deref().unwrap_or("0").parse().unwrap()
}

#[tokio::test]
async fn global_status_commands_errors_and_digests_count_real_traffic() {
    let lab = lab().await;
    let mut proxy = Proxy::start(lab).await;

    // The row list is ProxySQL 2.7.2's, in its order, before any traffic.
    let rows = proxy.global().await;
    let names: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, STATS_MYSQL_GLOBAL);
    let before = proxy.global_map().await;
    assert_eq!(before["Questions"], 0);
    assert_eq!(before["Queries_frontends_bytes_recv"], 0);

    let table = format!("pxadm_traffic_stats_{}", proxy.port);
    let mut client = proxy.client().await;
    const SELECTS: u64 = 25;
    for i in 0..SELECTS {
        let v: Option<u64> = client.query_first(format!("SELECT {i} + 1")).await.unwrap();
        assert_eq!(v, Some(i + 1));
    }
    client
        .query_drop(format!("CREATE TABLE IF NOT EXISTS {table} (id INT)"))
        .await
        .unwrap();
    client.query_drop("BEGIN").await.unwrap();
    client
        .query_drop(format!("INSERT INTO {table} VALUES (1),(2),(3)"))
        .await
        .unwrap();
    client.query_drop("COMMIT").await.unwrap();
    client
        .query_drop(format!("USE {}", Lab::APP_DB))
        .await
        .unwrap();
    let err = client
        .query_drop("SELECT * FROM pxadm_no_such_table")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("1146"), "{err}");
    client
        .query_drop(format!("DROP TABLE {table}"))
        .await
        .unwrap();

    // stats_mysql_global: every counter moved by what was sent.
    let after = proxy.global_map().await;
    let delta = |k: &str| after[k] - before[k];
    let statements = SELECTS + 7;
    assert_eq!(delta("Questions"), statements, "{after:?}");
    assert!(delta("Queries_frontends_bytes_recv") > statements * 5);
    assert!(delta("Queries_frontends_bytes_sent") > SELECTS * 20);
    assert!(delta("Queries_backends_bytes_sent") > statements * 5);
    assert!(delta("Queries_backends_bytes_recv") > SELECTS * 20);
    assert_eq!(delta("Com_commit"), 1);
    assert_eq!(delta("Com_frontend_use_db"), 1);
    assert!(delta("ConnPool_get_conn_success") >= 1);
    assert_eq!(
        delta("ConnPool_get_conn_success") + delta("ConnPool_get_conn_immediate"),
        statements,
        "each statement got a connection"
    );
    assert!(delta("Backend_query_time_nsec") > 0);
    assert!(delta("MyHGM_myconnpoll_push") >= 1);
    assert_eq!(after["Client_Connections_connected"], 1);
    assert_eq!(after["Client_Connections_created"], 1);
    assert!(after["Server_Connections_created"] >= 1);
    assert!(after["mysql_frontend_buffers_bytes"] > 0);
    assert!(after["SQLite3_memory_bytes"] > 0);
    assert!(after["ProxySQL_Uptime"] < 3600);

    // Commands counters: SELECT and INSERT counted, buckets add up to the total everywhere.
    let commands = query_rows(
        &mut proxy.admin,
        "SELECT * FROM stats_mysql_commands_counters",
    )
    .await;
    let by_name: HashMap<String, Vec<Option<String>>> = commands
        .iter()
        .map(|r| (r[0].clone().unwrap(), r.clone()))
        .collect();
    assert!(num(&by_name["SELECT"], 2) >= SELECTS);
    assert_eq!(num(&by_name["INSERT"], 2), 1);
    assert_eq!(num(&by_name["COMMIT"], 2), 1);
    for row in &commands {
        let buckets: u64 = (3..15).map(|i| num(row, i)).sum();
        assert_eq!(buckets, num(row, 2), "buckets of {row:?}");
    }

    // Errors: one row for the failing statement, emptied by reading the _reset table.
    let errors = query_rows(
        &mut proxy.admin,
        "SELECT hostgroup, hostname, port, username, schemaname, errno, count_star, first_seen <= last_seen, last_error FROM stats_mysql_errors",
    )
    .await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(e[0].as_deref(), Some("10"));
    assert_eq!(e[1].as_deref(), Some(HOST));
    assert_eq!(e[2], Some(lab.primary.to_string()));
    assert_eq!(e[3].as_deref(), Some(Lab::APP.0));
    assert_eq!(e[4].as_deref(), Some(Lab::APP_DB));
    assert_eq!(e[5].as_deref(), Some("1146"));
    assert_eq!(e[6].as_deref(), Some("1"));
    assert_eq!(e[7].as_deref(), Some("1"));
    assert!(
        e[8].as_deref().unwrap().contains("pxadm_no_such_table"),
        "{e:?}"
    );
    let reset = query_rows(
        &mut proxy.admin,
        "SELECT errno FROM stats_mysql_errors_reset",
    )
    .await;
    assert_eq!(reset, [[Some("1146".to_string())]]);
    assert!(
        query_rows(&mut proxy.admin, "SELECT * FROM stats_mysql_errors")
            .await
            .is_empty()
    );

    // Digests: ProxySQL's digest text, counts and rows, first/last seen; reset empties.
    let digests = query_rows(
        &mut proxy.admin,
        "SELECT digest_text, count_star, sum_rows_sent, sum_rows_affected, first_seen <= last_seen, hostgroup FROM stats_mysql_query_digest",
    )
    .await;
    let select = digests
        .iter()
        .find(|r| r[0].as_deref() == Some("SELECT ?+?"))
        .unwrap_or_else(|| panic!("no SELECT ?+? digest in {digests:?}"));
    assert_eq!(select[1], Some(SELECTS.to_string()));
    assert_eq!(select[2], Some(SELECTS.to_string()));
    assert_eq!(select[4].as_deref(), Some("1"));
    assert_eq!(select[5].as_deref(), Some("10"));
    let insert = digests
        .iter()
        .find(|r| {
            r[0].as_deref()
                .is_some_and(|t| t.starts_with("INSERT INTO"))
        })
        .unwrap_or_else(|| panic!("no INSERT digest in {digests:?}"));
    assert_eq!(insert[3].as_deref(), Some("3"));
    let reset = query_rows(
        &mut proxy.admin,
        "SELECT COUNT(*) FROM stats_mysql_query_digest_reset",
    )
    .await;
    assert_eq!(reset[0][0], Some(digests.len().to_string()));
    assert!(
        query_rows(&mut proxy.admin, "SELECT * FROM stats_mysql_query_digest")
            .await
            .is_empty()
    );

    // stats_mysql_global counters are not reset by reading it.
    let again = proxy.global_map().await;
    assert!(again["Questions"] >= after["Questions"]);

    // Memory: ProxySQL's 19 rows, with the process's real figures.
    let memory = query_rows(&mut proxy.admin, "SELECT * FROM stats_memory_metrics").await;
    let names: Vec<&str> = memory.iter().map(|r| r[0].as_deref().unwrap()).collect();
    assert_eq!(names, STATS_MEMORY_METRICS);
    let mem: HashMap<&str, u64> = memory
        .iter()
        .map(|r| (r[0].as_deref().unwrap(), num(r, 1)))
        .collect();
    assert!(mem["SQLite3_memory_bytes"] > 0);
    assert!(mem["jemalloc_resident"] > 1024 * 1024);
    assert!(mem["jemalloc_mapped"] >= mem["jemalloc_resident"]);
    assert!(mem["Auth_memory"] > 0);
}

#[tokio::test]
async fn admin_kill_connection_ends_a_running_session_and_is_counted() {
    let lab = lab().await;
    let mut proxy = Proxy::start(lab).await;
    let mut busy = proxy.client().await;
    let _: Option<u8> = busy.query_first("SELECT 1").await.unwrap();
    let ids = query_rows(
        &mut proxy.admin,
        "SELECT SessionID FROM stats_mysql_processlist",
    )
    .await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids[0][0].clone().unwrap();
    let running = tokio::spawn(async move { busy.query_drop("SELECT SLEEP(60)").await });
    let port = proxy._node.admin_port();
    let started = wait_until(Duration::from_secs(20), || {
        let id = id.clone();
        async move {
            let mut admin = common::admin_conn(port, "admin", "admin").await;
            query_rows(
                &mut admin,
                &format!("SELECT command FROM stats_mysql_processlist WHERE SessionID={id}"),
            )
            .await
                == [[Some("Query".to_string())]]
        }
    })
    .await;
    assert!(started, "the SLEEP never showed in the processlist");
    proxy
        .admin
        .query_drop(format!("KILL CONNECTION {id}"))
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the killed session's statement never ended")
        .unwrap();
    assert!(outcome.is_err(), "a killed session's SLEEP(60) succeeded");
    let counted = wait_until(Duration::from_secs(20), || async {
        let mut admin = common::admin_conn(port, "admin", "admin").await;
        let rows = query_rows(
            &mut admin,
            "SELECT Variable_Value FROM stats_mysql_global WHERE Variable_Name IN ('mysql_killed_backend_connections','Client_Connections_connected') ORDER BY Variable_Name",
        )
        .await;
        rows == [[Some("0".to_string())], [Some("1".to_string())]]
    })
    .await;
    assert!(counted, "{:?}", proxy.global_map().await);
    // ProxySQL's admin knows only KILL CONNECTION.
    let err = proxy
        .admin
        .query_drop(format!("KILL QUERY {id}"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("near \"KILL\": syntax error"),
        "{err}"
    );
}

/// dolphie 6.18 (PyPI) in a virtualenv under the target directory, installed once; `None`
/// (the caller skips, saying why) when python3 or PyPI is not reachable.
fn dolphie() -> Option<PathBuf> {
    let dir = std::env::var_os("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("dolphie-6.18");
    let bin = dir.join("bin").join("dolphie");
    if bin.exists() {
        return Some(bin);
    }
    let venv = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status();
    if !venv.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED the dolphie test: python3 -m venv failed");
        return None;
    }
    let pip = Command::new(dir.join("bin").join("pip"))
        .args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "dolphie==6.18.0",
        ])
        .status();
    if !pip.is_ok_and(|s| s.success()) || !bin.exists() {
        eprintln!("SKIPPED the dolphie test: PyPI is not reachable (pip install dolphie failed)");
        return None;
    }
    Some(bin)
}

/// A detached tmux session, killed when dropped.
struct Tmux {
    name: String,
}

impl Tmux {
    fn start(name: &str, command: &str) -> Tmux {
        let ok = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                "200",
                "-y",
                "50",
                command,
            ])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "tmux new-session failed");
        Tmux {
            name: name.to_string(),
        }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        let ok = Command::new("tmux")
            .args(["send-keys", "-t", &self.name, keys])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "tmux send-keys {keys} failed");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

/// The value dolphie shows right after `label` on its screen (e.g. `FE Sent  153.18KB`).
fn shown_after<'a>(screen: &'a str, label: &str) -> Option<&'a str> {
    let at = screen.find(label)? + label.len();
    screen[at..].split_whitespace().next()
}

/// Whether a dolphie byte figure (`0`, `512B`, `3.65KB`...) is above zero.
fn positive(figure: &str) -> bool {
    let digits: String = figure
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse::<f64>().is_ok_and(|v| v > 0.0)
}

#[tokio::test]
async fn dolphie_shows_query_data_rates_and_its_kill_key_ends_a_connection() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED the dolphie test: tmux is not installed");
        return;
    }
    let Some(dolphie) = dolphie() else {
        return;
    };
    let lab = lab().await;
    let mut proxy = Proxy::start(lab).await;
    let admin_port = proxy._node.admin_port();

    // Steady traffic while dolphie samples (it shows rates: deltas between refreshes).
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = proxy.client().await;
    let load_stop = stop.clone();
    let load_task = tokio::spawn(async move {
        while !load_stop.load(Ordering::Relaxed) {
            let _: Option<String> = load.query_first("SELECT REPEAT('x', 2000)").await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok::<(), mysql_async::Error>(())
    });

    let home = tempfile::tempdir().unwrap();
    let command = format!(
        "HOME={} {} -u admin -p admin -h {HOST} -P {admin_port} -r 1",
        home.path().display(),
        dolphie.display()
    );
    let tmux = Tmux::start(&format!("pxadm-dolphie-{admin_port}"), &command);
    let mut screen = String::new();
    let rates = wait_until(Duration::from_secs(90), || {
        screen = tmux.screen();
        let ok = screen.contains("Query Data Rates/s")
            && ["FE Sent", "FE Recv", "BE Sent", "BE Recv"]
                .iter()
                .all(|l| shown_after(&screen, l).is_some_and(positive));
        async move { ok }
    })
    .await;
    assert!(
        rates,
        "dolphie never showed non-zero query data rates:\n{screen}"
    );

    // The kill key: `k`, the thread id, Enter ends that client connection mid-statement.
    let mut busy = proxy.client().await;
    let _: Option<u8> = busy.query_first("SELECT 1").await.unwrap();
    let running = tokio::spawn(async move { busy.query_drop("SELECT SLEEP(60)").await });
    let found = wait_until(Duration::from_secs(20), || sleep_running(admin_port)).await;
    assert!(found, "the SLEEP never showed in the processlist");
    let id = query_rows(
        &mut proxy.admin,
        "SELECT SessionID FROM stats_mysql_processlist WHERE info LIKE 'SELECT SLEEP%'",
    )
    .await[0][0]
        .clone()
        .unwrap();
    tmux.keys("k");
    let modal = wait_until(Duration::from_secs(30), || {
        let open = tmux.screen().contains("Thread ID (enter submits)");
        async move { open }
    })
    .await;
    assert!(
        modal,
        "dolphie's kill dialog never opened:\n{}",
        tmux.screen()
    );
    tmux.keys(&id);
    let typed = wait_until(Duration::from_secs(30), || {
        // The id shows in the dialog's Thread ID field (the line after its title).
        let screen = tmux.screen();
        let field = screen
            .lines()
            .skip_while(|l| !l.contains("Thread ID (enter submits)"))
            .nth(1)
            .is_some_and(|l| l.split(['┃', ' ']).any(|w| w == id));
        async move { field }
    })
    .await;
    assert!(
        typed,
        "the thread id never showed in the dialog:\n{}",
        tmux.screen()
    );
    tmux.keys("Enter");
    let outcome = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .unwrap_or_else(|_| panic!("dolphie's kill did not end the session:\n{}", tmux.screen()))
        .unwrap();
    assert!(outcome.is_err(), "a killed session's SLEEP(60) succeeded");
    let left = query_rows(
        &mut proxy.admin,
        &format!("SELECT COUNT(*) FROM stats_mysql_processlist WHERE SessionID={id}"),
    )
    .await;
    assert_eq!(left, [[Some("0".to_string())]]);
    // Only that connection: the one carrying the load is still there.
    stop.store(true, Ordering::Relaxed);
    let load = load_task.await.unwrap();
    assert!(
        load.is_ok(),
        "the load connection failed: {load:?}\n{}",
        tmux.screen()
    );
}

/// Whether a `SELECT SLEEP` runs in the processlist of the node on `admin_port`.
async fn sleep_running(admin_port: u16) -> bool {
    let mut admin = common::admin_conn(admin_port, "admin", "admin").await;
    !query_rows(
        &mut admin,
        "SELECT SessionID FROM stats_mysql_processlist WHERE info LIKE 'SELECT SLEEP%'",
    )
    .await
    .is_empty()
}
