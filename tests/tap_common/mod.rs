//! What the TAP-style cluster tests (`tests/tap_cluster*.rs`) share: ProxySQL's test config
//! (`test/tap/tests/test_cluster_sync_config/test_cluster_sync-t.cnf` in sysown/proxysql,
//! 2.7.x), node start-up with a peer list, and the polling helpers of its TAP helpers
//! (`wait_for_node_sync`, `wait_for_conds`, `check_nodes_sync`), written as Rust polls with
//! generous bounds.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{
    free_port, try_admin_conn, try_query_rows, unix_now, wait_until, write_file, TestNode, HOST,
};

/// The TAP tests' `SYNC_TIMEOUT` is 10 s against a dedicated machine; on a loaded 2-core CI
/// runner shared with other test binaries a sync may take much longer, so every wait here
/// is bounded by this instead (a bound, never an expectation).
pub const SYNC: Duration = Duration::from_secs(60);

/// `cluster_check_interval_ms` of the TAP config.
pub const CHECK_INTERVAL_MS: u64 = 200;

/// `cluster_*_diffs_before_sync` of the TAP config (and `def_mod_diffs_sync` of
/// `test_cluster_sync-t.cpp`).
pub const DIFFS: u64 = 3;

/// The cluster user of the TAP config: `admin_credentials="admin:admin;radmin:radmin"`.
pub const CLUSTER_USER: (&str, &str) = ("radmin", "radmin");

/// Options of one TAP node.
#[derive(Debug, Clone, Default)]
pub struct TapOptions {
    /// Peers written to the config's `proxysql_servers` (admin ports on loopback), with a
    /// comment each.
    pub peers: Vec<(u16, String)>,
    /// `mysql-monitor_enabled` in the config (the TAP config leaves it at `true`).
    pub monitor_disabled_var: bool,
    /// Start with `-M` (no monitor module).
    pub no_monitor: bool,
    /// Extra lines for `admin_variables`.
    pub admin_extra: String,
    /// Extra lines for `mysql_variables`.
    pub mysql_extra: String,
}

/// ProxySQL's `test_cluster_sync-t.cnf`, with the admin interface on `admin_port` and the
/// peer list of `opts` (the TAP test rewrites `mysql_ifaces` and the first
/// `proxysql_servers` entry the same way in `setup_config_file`). The monitor checks every
/// 500 ms instead of 10 s so read_only actions happen within a test's time.
pub fn tap_config(admin_port: u16, opts: &TapOptions) -> String {
    let mut peers = String::new();
    for (i, (port, comment)) in opts.peers.iter().enumerate() {
        let sep = if i + 1 == opts.peers.len() { "" } else { "," };
        let _ = writeln!(
            peers,
            "    {{\n        hostname=\"{HOST}\"\n        port={port}\n        weight=0\n        comment=\"{comment}\"\n    }}{sep}"
        );
    }
    let monitor = if opts.monitor_disabled_var {
        "false"
    } else {
        "true"
    };
    format!(
        r#"admin_variables=
{{
    admin_credentials="admin:admin;radmin:radmin"
    mysql_ifaces="{HOST}:{admin_port}"
    cluster_username="radmin"
    cluster_password="radmin"
    cluster_check_interval_ms={CHECK_INTERVAL_MS}
    cluster_check_status_frequency=100
    cluster_mysql_query_rules_save_to_disk=true
    cluster_mysql_servers_save_to_disk=true
    cluster_mysql_users_save_to_disk=true
    cluster_proxysql_servers_save_to_disk=true
    cluster_mysql_query_rules_diffs_before_sync={DIFFS}
    cluster_mysql_servers_diffs_before_sync={DIFFS}
    cluster_mysql_users_diffs_before_sync={DIFFS}
    cluster_admin_variables_diffs_before_sync={DIFFS}
    cluster_proxysql_servers_diffs_before_sync={DIFFS}
    cluster_sync_interfaces=false
{admin_extra}}}

mysql_variables=
{{
    threads=1
    max_connections=2048
    default_query_delay=0
    default_query_timeout=36000000
    have_compress=true
    poll_timeout=2000
    default_schema="information_schema"
    stacksize=1048576
    server_version="5.5.30"
    connect_timeout_server=3000
    monitor_enabled={monitor}
    monitor_username="monitor"
    monitor_password="monitor"
    monitor_history=600000
    monitor_connect_interval=10000
    monitor_connect_timeout=1000
    monitor_ping_interval=10000
    monitor_read_only_interval=500
    monitor_read_only_timeout=500
    ping_interval_server_msec=120000
    ping_timeout_server=500
    commands_stats=true
    sessions_sort=true
    connect_retries_on_failure=10
{mysql_extra}}}

proxysql_servers =
(
{peers})
"#,
        admin_extra = opts.admin_extra,
        mysql_extra = opts.mysql_extra,
    )
}

/// Starts `pxadm node --initial -c <TAP config>` on `admin_port` (traffic on a free
/// loopback port), with `-M` when asked.
pub async fn start_tap_node(admin_port: u16, opts: &TapOptions) -> TestNode {
    let dir = tempfile::Builder::new()
        .prefix("pxadm-tap-cnf-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
    let cnf = write_file(dir.path(), "proxysql.cnf", &tap_config(admin_port, opts));
    let mut builder = TestNode::builder()
        .admin_port(admin_port)
        .config(&cnf)
        .initial(true)
        .arg("--mysql")
        .arg(format!("{HOST}:{}", free_port()));
    if opts.no_monitor {
        builder = builder.arg("-M");
    }
    let node = builder.start().await;
    // The config is read at start-up only; the directory can go.
    drop(dir);
    node
}

/// Runs `statements` on `node` as admin, panicking with the statement on an error.
pub async fn exec(node: &TestNode, statements: &[&str]) {
    let mut conn = node.admin().await;
    for sql in statements {
        crate::common::query_rows(&mut conn, sql).await;
    }
}

/// The rows of `sql` on `node`, `None` when the node cannot answer right now.
pub async fn try_rows(node: &TestNode, sql: &str) -> Option<Vec<Vec<Option<String>>>> {
    let mut conn = try_admin_conn(node.admin_port(), "admin", "admin")
        .await
        .ok()?;
    try_query_rows(&mut conn, sql).await.ok()
}

/// The rows of `sql` on `node`, panicking on an error.
pub async fn rows(node: &TestNode, sql: &str) -> Vec<Vec<Option<String>>> {
    try_rows(node, sql)
        .await
        .unwrap_or_else(|| panic!("{} cannot answer {sql}", node.admin_addr()))
}

/// The single integer `sql` returns (`COUNT(*)`, `diff_check`); 0 for no row or NULL.
pub async fn int(node: &TestNode, sql: &str) -> i64 {
    rows(node, sql)
        .await
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The single text value `sql` returns, empty for no row.
pub async fn text(node: &TestNode, sql: &str) -> String {
    rows(node, sql)
        .await
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_default()
}

/// The TAP helper `wait_for_conds`: waits until every query of `conds` returns a non-zero
/// first value on `node`; false after `timeout`, printing the first condition still unmet.
pub async fn wait_conds(node: &TestNode, conds: &[String], timeout: Duration) -> bool {
    let unmet = Arc::new(Mutex::new(String::new()));
    let ok = wait_until(timeout, || {
        let unmet = unmet.clone();
        async move {
            for cond in conds {
                let value = try_rows(node, cond)
                    .await
                    .and_then(|r| r.first().cloned())
                    .and_then(|r| r.first().cloned().flatten())
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0);
                if value == 0 {
                    *unmet.lock().unwrap_or_else(|e| e.into_inner()) = cond.clone();
                    return false;
                }
            }
            true
        }
    })
    .await;
    if !ok {
        eprintln!(
            "{}: condition still unmet: {}",
            node.admin_addr(),
            unmet.lock().unwrap_or_else(|e| e.into_inner())
        );
    }
    ok
}

/// Waits until `sql` returns exactly `want` on `node`; panics with what it returned last and
/// the node's log tail otherwise.
pub async fn wait_rows(node: &TestNode, sql: &str, want: &[Vec<Option<String>>], what: &str) {
    let last = Arc::new(Mutex::new(None));
    let ok = wait_until(SYNC, || {
        let last = last.clone();
        async move {
            let got = try_rows(node, sql).await;
            let same = got.as_deref() == Some(want);
            *last.lock().unwrap_or_else(|e| e.into_inner()) = got;
            same
        }
    })
    .await;
    assert!(
        ok,
        "{what}: {} never returned the expected rows for `{sql}`\nwant: {want:?}\nlast: {:?}\n--- log tail ---\n{}",
        node.admin_addr(),
        last.lock().unwrap_or_else(|e| e.into_inner()),
        crate::common::tail(&node.log(), 30)
    );
}

/// `runtime_checksums_values.checksum` of `module` on `node`.
pub async fn runtime_checksum(node: &TestNode, module: &str) -> String {
    text(
        node,
        &format!("SELECT checksum FROM runtime_checksums_values WHERE name='{module}'"),
    )
    .await
}

/// Waits until `node` has fetched a checksum of `module` from every peer in `peers` (the
/// TAP's `wait_remote_checksums_init`: `LENGTH(checksum)` non-zero).
pub async fn wait_peers_seen(node: &TestNode, peers: &[u16], module: &str) {
    let conds: Vec<String> = peers
        .iter()
        .map(|p| {
            format!(
                "SELECT LENGTH(checksum) FROM stats_proxysql_servers_checksums \
                 WHERE hostname='{HOST}' AND port={p} AND name='{module}'"
            )
        })
        .collect();
    assert!(
        wait_conds(node, &conds, SYNC).await,
        "{} never received {module} from {peers:?}\n{}",
        node.admin_addr(),
        crate::common::tail(&node.log(), 30)
    );
}

/// Optional text as the rows of a query compare (`NULL` → `None`).
pub fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// Waits until the wall clock passed `module`'s epoch on every node of `nodes`. A node that
/// just pulled holds its source's epoch, and a LOAD anywhere within that same second would
/// make the equal-epoch conflict a real ProxySQL cluster shows as well (the TAP tests sleep
/// between their steps for the same reason).
pub async fn past_epochs(nodes: &[&TestNode], module: &str) {
    let mut newest = 0u64;
    for node in nodes {
        let epoch = text(
            node,
            &format!("SELECT epoch FROM runtime_checksums_values WHERE name='{module}'"),
        )
        .await
        .parse()
        .unwrap_or(0);
        newest = newest.max(epoch);
    }
    while unix_now() <= newest {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
