//! Traffic statistics of `pxadm node` under real traffic to the MariaDB lab (issue 16):
//! `stats_mysql_global` counted for real in ProxySQL's row order, `stats_mysql_commands_counters`
//! buckets, `stats_mysql_errors` and digests with their `_reset` twins, `stats_memory_metrics`
//! and admin `KILL CONNECTION` ending a session mid-statement.

mod common;

use std::collections::HashMap;
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

    async fn client(&self) -> Conn {
        Conn::new(admin_opts(self.port, Lab::APP.0, Lab::APP.1).db_name(Some(Lab::APP_DB)))
            .await
            .unwrap_or_else(|e| panic!("cannot connect through the proxy on {}: {e}", self.port))
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
    let g = proxy.global_map().await;
    assert_eq!(g["mysql_killed_backend_connections"], 1);
    assert_eq!(g["Client_Connections_connected"], 0);
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
