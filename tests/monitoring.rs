//! The node's own metrics under real traffic to the MariaDB lab, compared family by family
//! with a real ProxySQL 2.7.2 (`PXADM_REAL_PROXYSQL`, skipped without), and the monitoring
//! stack against a real stuck cluster: `pxadm exporter` scraped by Debian's
//! `prometheus` on loopback, the shipped alert rules checked by `promtool` and firing on the
//! live series, the series read back through Prometheus's HTTP API, and `--batch status
//! --format prom` with the same names. The Grafana dashboard may only query series the
//! exporter serves.
//!
//! Prometheus comes from `.ci/install-deps`; without it the Prometheus parts are skipped with
//! a message saying so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{
    admin_conn, free_port, pxadm_bin, wait_until, TestNode, ADMIN_PASS, ADMIN_USER, HOST,
};
use mysql_async::prelude::Queryable;
use pxadm::proxysql::statement::split_statements;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

const CLUSTER_SETUP: &str = include_str!("fixtures/scenario/node-cluster-setup.sql");
const NODE2_MONITOR: &str = include_str!("fixtures/scenario/node2-monitor.sql");
const NAMES: [&str; 2] = ["192.168.0.11:6032", "192.168.0.12:6032"];

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/monitoring")
}

/// The path of `tool` on PATH (or in /usr/bin, where Debian puts it), if installed.
fn find_tool(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

async fn run_sql(port: u16, script: &str) {
    let mut c = admin_conn(port, ADMIN_USER, ADMIN_PASS).await;
    for stmt in split_statements(script) {
        c.query_drop(&stmt)
            .await
            .unwrap_or_else(|e| panic!("{stmt} on port {port}: {e}"));
    }
    c.disconnect().await.ok();
}

fn node_builder(ports: &[u16], port: u16) -> common::NodeBuilder {
    TestNode::builder()
        .admin_port(port)
        .env("PXADM_LOOPBACK_ONLY", "1")
        .arg("--peer-map")
        .arg(format!("{}={HOST}:{}", NAMES[0], ports[0]))
        .arg("--peer-map")
        .arg(format!("{}={HOST}:{}", NAMES[1], ports[1]))
}

/// The field report's stuck cluster: node1 configured, saved and restarted (version 1),
/// node2 fresh, the cluster SQL on both.
async fn stuck_cluster() -> (Vec<TestNode>, Vec<u16>) {
    let ports = vec![free_port(), free_port()];
    let mut node1 = node_builder(&ports, ports[0]).start().await;
    run_sql(
        ports[0],
        "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (1, 1, '^SELECT', 1, 1);
         SAVE MYSQL QUERY RULES TO DISK;",
    )
    .await;
    node1.restart().await;
    let node2 = node_builder(&ports, ports[1]).start().await;
    for &port in &ports {
        run_sql(port, CLUSTER_SETUP).await;
    }
    run_sql(ports[1], NODE2_MONITOR).await;
    (vec![node1, node2], ports)
}

fn node_specs(ports: &[u16]) -> Vec<String> {
    ports
        .iter()
        .zip(NAMES)
        .map(|(p, name)| format!("{name}={ADMIN_USER}:{ADMIN_PASS}@{HOST}:{p}"))
        .collect()
}

/// One HTTP/1.0 GET on loopback: (status line, body).
async fn http_get(port: u16, path: &str) -> std::io::Result<(String, String)> {
    let mut s = tokio::net::TcpStream::connect((HOST, port)).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {HOST}:{port}\r\n\r\n").as_bytes())
        .await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::other("no answer in 20 s"))??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    ))
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The result vector of an instant query, empty on any failure.
async fn prom_query(port: u16, query: &str) -> Vec<Value> {
    let Ok((status, body)) =
        http_get(port, &format!("/api/v1/query?query={}", url_encode(query))).await
    else {
        return Vec::new();
    };
    if !status.contains(" 200") {
        return Vec::new();
    }
    serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["data"]["result"].as_array().cloned())
        .unwrap_or_default()
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

/// ProxySQL 2.7.2's names (from a real node's `SHOW PROMETHEUS METRICS`) for what the node
/// implements: traffic counters, the cluster view of each peer, the version.
const PROXYSQL_SERIES: [&str; 23] = [
    "proxysql_cluster_pulled_total{module_name=\"mysql_query_rules\",status=\"success\"}",
    "proxysql_cluster_syn_conflict_total{module_name=\"mysql_query_rules\",reason=\"version_one\"}",
    "proxysql_questions_total",
    "proxysql_slow_queries_total",
    "proxysql_client_connections_total{status=\"created\"}",
    "proxysql_server_connections_total{status=\"aborted\"}",
    "proxysql_access_denied_wrong_password_total",
    "proxysql_uptime_seconds_total",
    "proxysql_client_connections_connected",
    "proxysql_server_connections_connected",
    "proxysql_active_transactions",
    "proxysql_mysql_listener_paused",
    "proxysql_mysql_thread_workers",
    "proxysql_servers_checksums_version_total{hostname=",
    "proxysql_servers_checksums_epoch{hostname=",
    "proxysql_servers_checksums_changed_at{hostname=",
    "proxysql_servers_checksums_updated_at{hostname=",
    "proxysql_servers_checksums_diff_check{hostname=",
    "proxysql_servers_metrics_uptime_s_total{hostname=",
    "proxysql_servers_metrics_queries_total{hostname=",
    "proxysql_servers_metrics_response_time_ms{hostname=",
    "proxysql_servers_metrics_client_conns_connected_total{hostname=",
    "proxysql_version_info{version=",
];

async fn show_prometheus_metrics(port: u16) -> String {
    let mut c = admin_conn(port, ADMIN_USER, ADMIN_PASS).await;
    let rows = common::query_rows(&mut c, "SHOW PROMETHEUS METRICS").await;
    c.disconnect().await.ok();
    rows.first()
        .and_then(|r| r.first().cloned().flatten())
        .expect("one row, one column")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_metrics_carry_proxysql_names_and_follow_restapi_variables() {
    let (_nodes, ports) = stuck_cluster().await;
    let ok = wait_until(Duration::from_secs(20), || async {
        show_prometheus_metrics(ports[1])
            .await
            .contains("proxysql_servers_metrics_uptime_s_total{hostname=")
    })
    .await;
    let text = show_prometheus_metrics(ports[1]).await;
    assert!(ok, "no peer metrics yet:\n{text}");
    for name in PROXYSQL_SERIES {
        assert!(
            text.contains(name),
            "{name} not in SHOW PROMETHEUS METRICS:\n{text}"
        );
    }
    assert!(text.contains("# HELP proxysql_servers_checksums_diff_check Number of checks in a row in which it was detected that remote conf is different than local one."));
    // node1 pulled node2's monitor settings (mysql_variables): counted as ProxySQL does.
    let pulled = wait_until(Duration::from_secs(20), || async {
        show_prometheus_metrics(ports[0]).await.lines().any(|l| {
            l.starts_with("proxysql_cluster_pulled_total{module_name=\"mysql_variables\",status=\"success\"} ")
                && !l.ends_with(" 0")
        })
    })
    .await;
    assert!(pulled, "{}", show_prometheus_metrics(ports[0]).await);

    // Nothing listens until the REST API is enabled; LOAD starts, moves and stops it.
    let (first, second) = (free_port(), free_port());
    assert!(http_get(first, "/metrics").await.is_err());
    run_sql(
        ports[1],
        &format!("SET admin-restapi_port={first}; SET admin-restapi_enabled='true'; LOAD ADMIN VARIABLES TO RUNTIME;"),
    )
    .await;
    let served = |port: u16| async move {
        http_get(port, "/metrics")
            .await
            .is_ok_and(|(status, body)| {
                status.contains(" 200") && body.contains("proxysql_servers_checksums_diff_check{")
            })
    };
    assert!(
        wait_until(Duration::from_secs(10), || served(first)).await,
        "/metrics on {first}"
    );
    let (_, page) = http_get(first, "/metrics").await.expect("page");
    for name in PROXYSQL_SERIES {
        assert!(page.contains(name), "{name} not in /metrics");
    }
    run_sql(
        ports[1],
        &format!("SET admin-restapi_port={second}; LOAD ADMIN VARIABLES TO RUNTIME;"),
    )
    .await;
    assert!(
        wait_until(Duration::from_secs(10), || served(second)).await,
        "moved to {second}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || async {
            http_get(first, "/metrics").await.is_err()
        })
        .await,
        "the old port still answers"
    );
    run_sql(
        ports[1],
        "SET admin-restapi_enabled='false'; LOAD ADMIN VARIABLES TO RUNTIME;",
    )
    .await;
    assert!(
        wait_until(Duration::from_secs(10), || async {
            http_get(second, "/metrics").await.is_err()
        })
        .await,
        "disabled but still answering"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_rules_pass_promtool() {
    let Some(promtool) = find_tool("promtool") else {
        eprintln!("SKIPPED: promtool is not installed (bash .ci/install-deps installs Debian's prometheus)");
        return;
    };
    for args in [
        vec!["check", "rules", "pxadm-alerts.yml"],
        vec!["test", "rules", "pxadm-alerts.test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(&args)
            .current_dir(docs())
            .output()
            .await
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporter_over_a_stuck_cluster_through_prometheus() {
    let (_nodes, ports) = stuck_cluster().await;
    let specs = node_specs(&ports);

    // The textfile format first: the same names, exit code 2 for the stuck state.
    let mut args: Vec<String> = vec![
        "--batch".into(),
        "status".into(),
        "--format".into(),
        "prom".into(),
    ];
    for s in &specs {
        args.extend(["-n".into(), s.clone()]);
    }
    let stuck_series = format!(
        "pxadm_finding{{severity=\"CRITICAL\",kind=\"stuck_version_one\",module=\"mysql_query_rules\",node=\"{}\"}} 1",
        NAMES[0]
    );
    let last = std::sync::Mutex::new(String::new());
    let stuck = wait_until(Duration::from_secs(40), || {
        let args = args.clone();
        let last = &last;
        let stuck_series = &stuck_series;
        async move {
            let out = Command::new(pxadm_bin())
                .args(&args)
                .env("PXADM_LOOPBACK_ONLY", "1")
                .output()
                .await
                .expect("run pxadm");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let done = out.status.code() == Some(2) && text.contains(stuck_series.as_str());
            *last.lock().unwrap() = text;
            done
        }
    })
    .await;
    let last = last.into_inner().unwrap();
    assert!(
        stuck,
        "status --format prom never showed the stuck state:\n{last}"
    );
    for name in [
        "# TYPE pxadm_node_up gauge",
        "pxadm_module_in_sync{module=\"mysql_query_rules\"} 0",
        "pxadm_module_version{node=\"192.168.0.11:6032\",module=\"mysql_query_rules\"} 1",
        "pxadm_peer_diff_check{node=\"192.168.0.12:6032\",peer=\"192.168.0.11:6032\",module=\"mysql_query_rules\"}",
        "pxadm_cluster_status 2",
        "pxadm_scrape_duration_seconds ",
    ] {
        assert!(last.contains(name), "{name} not in\n{last}");
    }

    // The exporter, polled on scrape.
    let exporter_port = free_port();
    let mut cmd = Command::new(pxadm_bin());
    cmd.args(["exporter", "--listen", &format!("{HOST}:{exporter_port}")]);
    for s in &specs {
        cmd.args(["-n", s]);
    }
    let _exporter = spawn(cmd.env("PXADM_LOOPBACK_ONLY", "1"));
    let up = wait_until(Duration::from_secs(20), || async {
        http_get(exporter_port, "/metrics")
            .await
            .is_ok_and(|(status, body)| status.contains(" 200") && body.contains(&stuck_series))
    })
    .await;
    assert!(up, "the exporter never served the stuck series");
    let (status, _) = http_get(exporter_port, "/nope").await.expect("404 page");
    assert!(status.contains(" 404"), "{status}");

    // The dashboard queries only what the exporter serves.
    let (_, page) = http_get(exporter_port, "/metrics").await.expect("metrics");
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(docs().join("pxadm-fleet.grafana.json")).expect("dashboard"),
    )
    .expect("dashboard JSON");
    let metric = regex::Regex::new(r"pxadm_[a-z_]+").unwrap();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for m in metric.find_iter(expr) {
                assert!(
                    page.contains(&format!("# TYPE {} ", m.as_str())),
                    "panel {:?} queries {}, which the exporter does not serve",
                    panel["title"],
                    m.as_str()
                );
            }
        }
    }

    let Some(prometheus) = find_tool("prometheus") else {
        eprintln!("SKIPPED the Prometheus part: prometheus is not installed (bash .ci/install-deps installs Debian's prometheus)");
        return;
    };
    // node2's own /metrics, scraped beside the exporter.
    let restapi = free_port();
    run_sql(
        ports[1],
        &format!("SET admin-restapi_port={restapi}; SET admin-restapi_enabled='true'; LOAD ADMIN VARIABLES TO RUNTIME;"),
    )
    .await;
    let dir = tempfile::Builder::new()
        .prefix("pxadm-prometheus-")
        .tempdir()
        .expect("temporary directory");
    let config = common::write_file(
        dir.path(),
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: pxadm\n    static_configs:\n      - targets: ['{HOST}:{exporter_port}']\n  - job_name: proxysql\n    static_configs:\n      - targets: ['{HOST}:{restapi}']\n",
            docs().join("pxadm-alerts.yml").display()
        ),
    );
    let prom_port = free_port();
    let mut prom = spawn(Command::new(prometheus).args([
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.path().join("data").display()),
        format!("--web.listen-address={HOST}:{prom_port}"),
    ]));
    let series = wait_until(Duration::from_secs(60), || async {
        !prom_query(
            prom_port,
            "pxadm_finding{kind=\"stuck_version_one\",module=\"mysql_query_rules\"}",
        )
        .await
        .is_empty()
    })
    .await;
    if !series {
        let _ = prom.start_kill();
        let mut err = String::new();
        if let Some(mut e) = prom.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), e.read_to_string(&mut err)).await;
        }
        panic!(
            "Prometheus never stored the stuck finding; its log:\n{}",
            common::tail(&err, 30)
        );
    }
    let up = prom_query(prom_port, "pxadm_node_up").await;
    assert_eq!(up.len(), 2, "{up:?}");
    assert!(up.iter().all(|s| s["value"][1] == "1"), "{up:?}");
    let found = prom_query(
        prom_port,
        "pxadm_finding{kind=\"stuck_version_one\",module=\"mysql_query_rules\"}",
    )
    .await;
    assert_eq!(found[0]["metric"]["node"], NAMES[0], "{found:?}");
    assert_eq!(found[0]["metric"]["severity"], "CRITICAL");
    let version = prom_query(
        prom_port,
        "pxadm_module_version{module=\"mysql_query_rules\"}",
    )
    .await;
    assert_eq!(version.len(), 2, "{version:?}");

    // The shipped stuck alert fires once its `for` has passed (30 s).
    let firing = wait_until(Duration::from_secs(90), || async {
        !prom_query(
            prom_port,
            "ALERTS{alertname=\"PxadmStuckVersionOne\",alertstate=\"firing\",module=\"mysql_query_rules\"}",
        )
        .await
        .is_empty()
    })
    .await;
    assert!(
        firing,
        "PxadmStuckVersionOne never fired: {:?}",
        prom_query(prom_port, "ALERTS").await
    );
    let alerts = prom_query(prom_port, "ALERTS{alertstate=\"firing\"}").await;
    assert!(
        alerts
            .iter()
            .all(|a| a["metric"]["alertname"] != "PxadmNodeDown"),
        "no node is down: {alerts:?}"
    );
}

/// Every family the node publishes for its traffic, connection pool, monitor, memory and
/// uptime, with its type as ProxySQL 2.7.2's classic exposition writes it (`# TYPE` lines
/// of a real node's `SHOW PROMETHEUS METRICS`).
const NODE_FAMILIES: [(&str, &str); 58] = [
    ("proxysql_uptime_seconds_total", "counter"),
    ("proxysql_questions_total", "counter"),
    ("proxysql_slow_queries_total", "counter"),
    ("proxysql_client_connections_total", "counter"),
    ("proxysql_server_connections_total", "counter"),
    ("proxysql_servers_table_version_total", "counter"),
    ("proxysql_access_denied_wrong_password_total", "counter"),
    ("proxysql_access_denied_max_connections_total", "counter"),
    (
        "proxysql_access_denied_max_user_connections_total",
        "counter",
    ),
    ("proxysql_com_autocommit_total", "counter"),
    ("proxysql_com_autocommit_filtered_total", "counter"),
    ("proxysql_com_rollback_total", "counter"),
    ("proxysql_com_rollback_filtered_total", "counter"),
    ("proxysql_com_backend_change_user_total", "counter"),
    ("proxysql_com_backend_init_db_total", "counter"),
    ("proxysql_com_backend_set_names_total", "counter"),
    ("proxysql_com_frontend_init_db_total", "counter"),
    ("proxysql_com_frontend_set_names_total", "counter"),
    ("proxysql_com_frontend_use_db_total", "counter"),
    ("proxysql_com_commit_cnt_total", "counter"),
    ("proxysql_com_commit_cnt_filtered_total", "counter"),
    ("proxysql_selects_for_update__autocommit0_total", "counter"),
    ("proxysql_myhgm_myconnpool_get_total", "counter"),
    ("proxysql_myhgm_myconnpool_get_ok_total", "counter"),
    ("proxysql_myhgm_myconnpool_push_total", "counter"),
    ("proxysql_myhgm_myconnpool_reset_total", "counter"),
    ("proxysql_myhgm_myconnpool_destroy_total", "counter"),
    ("proxysql_queries_backends_bytes_total", "counter"),
    ("proxysql_queries_frontends_bytes_total", "counter"),
    ("proxysql_query_processor_time_seconds_total", "counter"),
    ("proxysql_backend_query_time_seconds_total", "counter"),
    ("proxysql_com_backend_stmt_total", "counter"),
    ("proxysql_com_frontend_stmt_total", "counter"),
    (
        "proxysql_connpool_get_conn_success_immediate_total",
        "counter",
    ),
    ("proxysql_connpool_get_conn_success_total", "counter"),
    ("proxysql_connpool_get_conn_failure_total", "counter"),
    ("proxysql_generated_error_packets_total", "counter"),
    ("proxysql_mysql_killed_backend_connections_total", "counter"),
    ("proxysql_mysql_killed_backend_queries_total", "counter"),
    ("proxysql_mysql_monitor_connect_check_total", "counter"),
    ("proxysql_mysql_monitor_ping_check_total", "counter"),
    ("proxysql_mysql_monitor_read_only_check_total", "counter"),
    (
        "proxysql_mysql_monitor_replication_lag_check_total",
        "counter",
    ),
    ("proxysql_connpool_conns_total", "counter"),
    ("proxysql_connpool_conns_queries_total", "counter"),
    ("proxysql_connpool_data_bytes_total", "counter"),
    ("proxysql_jemalloc_allocated_bytes_total", "counter"),
    ("proxysql_server_connections_connected", "gauge"),
    ("proxysql_client_connections_connected", "gauge"),
    ("proxysql_active_transactions", "gauge"),
    ("proxysql_client_connections_non_idle", "gauge"),
    ("proxysql_mysql_thread_workers", "gauge"),
    ("proxysql_connpool_memory_bytes", "gauge"),
    ("proxysql_connpool_conns", "gauge"),
    ("proxysql_connpool_conns_latency_us", "gauge"),
    ("proxysql_connpool_conns_status", "gauge"),
    ("proxysql_sqlite3_memory_bytes", "gauge"),
    ("proxysql_jemalloc_bytes", "gauge"),
];

/// `name{labels}` → value of every sample in a classic exposition.
fn samples(text: &str) -> std::collections::HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The `# TYPE` and `# HELP` lines of the families that have at least one sample, by name.
fn families(text: &str) -> std::collections::BTreeMap<String, (String, String)> {
    let sampled: std::collections::HashSet<String> = samples(text)
        .keys()
        .map(|s| s.split('{').next().unwrap_or(s).to_owned())
        .collect();
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            if sampled.contains(name) {
                out.entry(name.to_owned())
                    .or_insert_with(|| (String::new(), String::new()))
                    .0 = kind.to_owned();
            }
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            if sampled.contains(name) {
                out.entry(name.to_owned())
                    .or_insert_with(|| (String::new(), String::new()))
                    .1 = help.to_owned();
            }
        }
    }
    out
}

/// The label names of each sample, by family: `name` → sets of label keys.
fn label_keys(text: &str) -> std::collections::HashMap<String, Vec<Vec<String>>> {
    let mut out: std::collections::HashMap<String, Vec<Vec<String>>> = Default::default();
    for series in samples(text).keys() {
        let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
        let keys: Vec<String> = labels
            .trim_end_matches('}')
            .split("\",")
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_owned()))
            .collect();
        out.entry(name.to_owned()).or_default().push(keys);
    }
    out
}

/// Users and the lab's primary in hostgroup 10, loaded to runtime, on a node or a real one;
/// the monitor's connect and ping checks every 2 s so their counters move soon.
async fn route_to_lab(admin_port: u16, primary: u16) {
    run_sql(
        admin_port,
        &format!(
            "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('svcusr','svcusr',10);
             INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (10,'{HOST}',{primary});
             LOAD MYSQL SERVERS TO RUNTIME;
             LOAD MYSQL USERS TO RUNTIME;
             SET mysql-monitor_connect_interval=2000;
             SET mysql-monitor_ping_interval=2000;
             LOAD MYSQL VARIABLES TO RUNTIME;"
        ),
    )
    .await;
}

/// Statements through a proxy's MySQL port: `n` SELECTs and one committed transaction.
async fn some_traffic(mysql_port: u16, n: u64) {
    let opts = common::admin_opts(mysql_port, "svcusr", "svcusr").db_name(Some("duhokim"));
    let mut conn = None;
    // The traffic side adopts a LOAD asynchronously: retry the first connection a while.
    for _ in 0..150 {
        match mysql_async::Conn::new(opts.clone()).await {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let mut c = conn.unwrap_or_else(|| panic!("cannot connect through {mysql_port}"));
    for i in 0..n {
        let v: Option<u64> = c.query_first(format!("SELECT {i} + 1")).await.unwrap();
        assert_eq!(v, Some(i + 1));
    }
    c.query_drop("BEGIN").await.unwrap();
    let _: Option<u64> = c.query_first("SELECT 1").await.unwrap();
    c.query_drop("COMMIT").await.unwrap();
    c.disconnect().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_metrics_move_under_real_traffic_with_proxysql_names() {
    let lab = common::lab().await;
    let mysql_port = free_port();
    let node = TestNode::builder()
        .env("PXADM_LOOPBACK_ONLY", "1")
        .arg("--mysql")
        .arg(format!("{HOST}:{mysql_port}"))
        .start()
        .await;
    let admin = node.admin_port();
    route_to_lab(admin, lab.primary).await;
    const N: u64 = 20;
    some_traffic(mysql_port, N).await;

    let endpoint = format!("{{endpoint=\"{HOST}:{}\",hostgroup=\"10\"}}", lab.primary);
    let with = |extra: &str| {
        format!(
            "{{endpoint=\"{HOST}:{}\",hostgroup=\"10\",{extra}}}",
            lab.primary
        )
    };
    let get = |text: &str, series: &str| samples(text).get(series).copied().unwrap_or(-1.0);
    // The monitor checks on its own schedule: wait for its first successful ones.
    let ready = wait_until(Duration::from_secs(60), || async {
        let text = show_prometheus_metrics(admin).await;
        get(
            &text,
            "proxysql_mysql_monitor_ping_check_total{status=\"ok\"}",
        ) > 0.0
            && get(
                &text,
                "proxysql_mysql_monitor_connect_check_total{status=\"ok\"}",
            ) > 0.0
            && get(
                &text,
                &format!("proxysql_connpool_conns_queries_total{endpoint}"),
            ) >= N as f64
    })
    .await;
    let text = show_prometheus_metrics(admin).await;
    assert!(ready, "no monitor checks or pool queries yet:\n{text}");

    // Every implemented family, with ProxySQL's classic # TYPE line (counters carry _total).
    let fams = families(&text);
    for (name, kind) in NODE_FAMILIES {
        let (k, help) = fams
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing or without samples:\n{text}"));
        assert_eq!(k, kind, "{name}");
        assert!(!help.is_empty(), "{name} has no help");
    }
    assert!(!text.contains("# EOF"), "classic text has no # EOF");

    // Values that moved for the traffic above.
    for (series, at_least) in [
        ("proxysql_questions_total".to_owned(), N as f64 + 3.0),
        (
            "proxysql_client_connections_total{status=\"created\"}".to_owned(),
            1.0,
        ),
        (
            "proxysql_queries_frontends_bytes_total{traffic_flow=\"received\"}".to_owned(),
            1.0,
        ),
        (
            "proxysql_queries_frontends_bytes_total{traffic_flow=\"sent\"}".to_owned(),
            1.0,
        ),
        (
            "proxysql_queries_backends_bytes_total{traffic_flow=\"sent\"}".to_owned(),
            1.0,
        ),
        ("proxysql_com_commit_cnt_total".to_owned(), 1.0),
        ("proxysql_connpool_get_conn_success_total".to_owned(), 1.0),
        ("proxysql_myhgm_myconnpool_push_total".to_owned(), 1.0),
        (
            "proxysql_server_connections_total{status=\"created\"}".to_owned(),
            1.0,
        ),
        (
            format!("proxysql_connpool_conns_queries_total{endpoint}"),
            N as f64,
        ),
        (
            format!("proxysql_connpool_conns_total{}", with("status=\"ok\"")),
            1.0,
        ),
        (
            format!(
                "proxysql_connpool_data_bytes_total{}",
                with("traffic_flow=\"sent\"")
            ),
            1.0,
        ),
        (
            format!(
                "proxysql_connpool_data_bytes_total{}",
                with("traffic_flow=\"recv\"")
            ),
            1.0,
        ),
        (
            format!("proxysql_connpool_conns{}", with("status=\"free\"")),
            1.0,
        ),
        (format!("proxysql_connpool_conns_status{endpoint}"), 1.0),
        (
            "proxysql_mysql_monitor_connect_check_total{status=\"ok\"}".to_owned(),
            1.0,
        ),
        ("proxysql_jemalloc_bytes{type=\"resident\"}".to_owned(), 1.0),
        ("proxysql_sqlite3_memory_bytes".to_owned(), 1.0),
        ("proxysql_uptime_seconds_total".to_owned(), 0.0),
    ] {
        let v = get(&text, &series);
        assert!(v >= at_least, "{series} = {v}, want >= {at_least}:\n{text}");
    }
    assert!(get(&text, "proxysql_backend_query_time_seconds_total") > 0.0);
    // ONLINE is 1, as in ProxySQL; exactly.
    assert_eq!(
        get(&text, &format!("proxysql_connpool_conns_status{endpoint}")),
        1.0
    );
    // Counters only grow: more traffic, higher questions.
    let before = get(&text, "proxysql_questions_total");
    some_traffic(mysql_port, 5).await;
    let after = get(
        &show_prometheus_metrics(admin).await,
        "proxysql_questions_total",
    );
    assert!(after >= before + 5.0, "{before} -> {after}");

    // The same families, types, help texts and label names on a real ProxySQL 2.7.2 with
    // the same backend and traffic.
    let Some(bin) =
        common::real_proxysql_bin("node_metrics_move_under_real_traffic_with_proxysql_names")
    else {
        return;
    };
    let (real_admin, real_mysql) = (free_port(), free_port());
    let real = common::RealNode::start(
        &bin,
        real_admin,
        real_mysql,
        common::ConfigExtras::default(),
    )
    .await;
    route_to_lab(real_admin, lab.primary).await;
    some_traffic(real_mysql, 3).await;
    let real_text = show_prometheus_metrics(real_admin).await;
    drop(real);
    let real_fams = families(&real_text);
    let (ours_keys, real_keys) = (label_keys(&text), label_keys(&real_text));
    for (name, (kind, help)) in &fams {
        if name.starts_with("proxysql_servers_") {
            continue; // per-peer series: no peers in this test (checked elsewhere)
        }
        let (real_kind, real_help) = real_fams
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not a real ProxySQL family:\n{real_text}"));
        assert_eq!((kind, help), (real_kind, real_help), "{name}");
        for keys in &ours_keys[name] {
            assert!(
                real_keys[name].contains(keys),
                "{name} labels {keys:?}, real ones {:?}",
                real_keys[name]
            );
        }
    }
}
