//! The monitoring stack against a real stuck cluster: `pxadm exporter` scraped by Debian's
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
