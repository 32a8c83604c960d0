//! The node's own Prometheus metrics, with ProxySQL 2.7's names, types, labels and help
//! texts (as a real 2.7.2 answers `SHOW PROMETHEUS METRICS`), for what the node implements:
//! the cluster view of its peers, its pulls and sync conflicts, traffic counters and the
//! version. Served as
//! `SHOW PROMETHEUS METRICS` on the admin port and as `GET /metrics` on `admin-restapi_port`
//! while `admin-restapi_enabled` is true; `LOAD ADMIN VARIABLES TO RUNTIME` starts, moves and
//! stops that listener ([`start`] follows the running variables).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::node::admin::shared::NodeShared;
use crate::node::cluster::counters::MODULE_NAMES;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn number(cell: Option<&Option<String>>) -> u64 {
    cell.and_then(|c| c.as_deref())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn gauge_family(r: &mut Registry, name: &str, help: &str) -> Family<Labels, Gauge> {
    let f = Family::<Labels, Gauge>::default();
    r.register(name, help, f.clone());
    f
}

/// A counter family; `name` without `_total`, which the encoder appends as ProxySQL's names have.
fn counter_family(r: &mut Registry, name: &str, help: &str) -> Family<Labels, Counter> {
    let f = Family::<Labels, Counter>::default();
    r.register(name, help, f.clone());
    f
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The exposition text of the node's metrics now.
pub fn render(shared: &NodeShared) -> String {
    let mut r = Registry::default();
    let c = &shared.counters;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);

    // Traffic and connections (stats_mysql_global).
    let questions = counter_family(
        &mut r,
        "proxysql_questions",
        "The total number of client requests / statements executed.",
    );
    questions
        .get_or_create(&Vec::new())
        .inc_by(load(&c.questions));
    let slow = counter_family(
        &mut r,
        "proxysql_slow_queries",
        "The total number of queries with an execution time greater than \"mysql-long_query_time\" milliseconds.",
    );
    slow.get_or_create(&Vec::new())
        .inc_by(load(&c.slow_queries));
    let client = counter_family(
        &mut r,
        "proxysql_client_connections",
        "Total number of client connections created.",
    );
    client
        .get_or_create(&labels(&[("status", "aborted")]))
        .inc_by(load(&c.client_aborted));
    client
        .get_or_create(&labels(&[("status", "created")]))
        .inc_by(load(&c.client_created));
    let server = counter_family(
        &mut r,
        "proxysql_server_connections",
        "Total number of server connections (created|delayed|aborted).",
    );
    server
        .get_or_create(&labels(&[("status", "aborted")]))
        .inc_by(load(&c.server_aborted));
    // Never delayed here (no max_connections queueing), but the series exists as in ProxySQL.
    server
        .get_or_create(&labels(&[("status", "delayed")]))
        .inc_by(0);
    server
        .get_or_create(&labels(&[("status", "created")]))
        .inc_by(load(&c.server_created));
    let denied = counter_family(
        &mut r,
        "proxysql_access_denied_wrong_password",
        "Total access denied \"wrong password\".",
    );
    denied
        .get_or_create(&Vec::new())
        .inc_by(load(&c.access_denied_wrong_password));
    let uptime = counter_family(
        &mut r,
        "proxysql_uptime_seconds",
        "The total uptime of ProxySQL.",
    );
    uptime
        .get_or_create(&Vec::new())
        .inc_by(shared.started.elapsed().as_secs());
    for (name, help, value) in [
        (
            "proxysql_client_connections_connected",
            "Client connections that are currently connected.",
            load(&c.client_connected),
        ),
        (
            "proxysql_server_connections_connected",
            "Backend connections that are currently connected.",
            load(&c.server_connected),
        ),
        (
            "proxysql_active_transactions",
            "Provides a count of how many client connection are currently processing a transaction.",
            load(&c.active_transactions),
        ),
        (
            "proxysql_client_connections_non_idle",
            "Number of client connections that are currently handled by the main worker threads.",
            load(&c.client_connected),
        ),
        (
            "proxysql_mysql_listener_paused",
            "MySQL listener paused because of PROXYSQL PAUSE.",
            u64::from(shared.traffic_paused.load(Ordering::Relaxed)),
        ),
        (
            "proxysql_mysql_thread_workers",
            "Number of MySQL Thread workers i.e. 'mysql-threads'",
            shared
                .mysql_var("mysql-threads")
                .and_then(|v| v.parse().ok())
                .unwrap_or(4),
        ),
    ] {
        gauge_family(&mut r, name, help)
            .get_or_create(&Vec::new())
            .set(to_i64(value));
    }

    // The cluster view of each peer (stats_proxysql_servers_checksums / _metrics).
    let version_total = counter_family(
        &mut r,
        "proxysql_servers_checksums_version",
        "Number of times the configuration has been loaded locally.",
    );
    let epoch = gauge_family(
        &mut r,
        "proxysql_servers_checksums_epoch",
        "Time at which this configuration was created (locally or imported).",
    );
    let changed_at = gauge_family(
        &mut r,
        "proxysql_servers_checksums_changed_at",
        "Time at which this configuration was loaded locally.",
    );
    let updated_at = gauge_family(
        &mut r,
        "proxysql_servers_checksums_updated_at",
        "Last time local ProxySQL checked the checksum of a remote instance.",
    );
    let diff_check = gauge_family(
        &mut r,
        "proxysql_servers_checksums_diff_check",
        "Number of checks in a row in which it was detected that remote conf is different than local one.",
    );
    let m_uptime = counter_family(
        &mut r,
        "proxysql_servers_metrics_uptime_s",
        "Current uptime of the Cluster node, in seconds.",
    );
    let m_queries = counter_family(
        &mut r,
        "proxysql_servers_metrics_queries",
        "Number of queries the Cluster node has processed.",
    );
    let m_created = counter_family(
        &mut r,
        "proxysql_servers_metrics_client_conns_created",
        "Number of frontend client connections created over time on the Cluster node.",
    );
    let m_response = gauge_family(
        &mut r,
        "proxysql_servers_metrics_response_time_ms",
        "Latest time to respond to Cluster checks, in milliseconds.",
    );
    let m_last_check = gauge_family(
        &mut r,
        "proxysql_servers_metrics_last_check_ms",
        "Latest time to process Cluster checks, in milliseconds",
    );
    let m_connected = gauge_family(
        &mut r,
        "proxysql_servers_metrics_client_conns_connected_total",
        "Number of frontend client connections currently open on the Cluster node.",
    );
    let cluster = shared.cluster.lock().clone();
    for ((host, port), rows) in &cluster {
        let port = port.to_string();
        for row in &rows.checksums {
            let module = row.get(2).cloned().flatten().unwrap_or_default();
            let l = labels(&[("hostname", host), ("name", &module), ("port", &port)]);
            version_total.get_or_create(&l).inc_by(number(row.get(3)));
            epoch.get_or_create(&l).set(to_i64(number(row.get(4))));
            changed_at.get_or_create(&l).set(to_i64(number(row.get(6))));
            updated_at.get_or_create(&l).set(to_i64(number(row.get(7))));
            diff_check.get_or_create(&l).set(to_i64(number(row.get(8))));
        }
        if rows.metrics.is_empty() {
            continue;
        }
        let l = labels(&[("hostname", host), ("port", &port)]);
        let m = &rows.metrics;
        m_response.get_or_create(&l).set(to_i64(number(m.get(4))));
        m_uptime.get_or_create(&l).inc_by(number(m.get(5)));
        m_last_check.get_or_create(&l).set(to_i64(number(m.get(6))));
        m_queries.get_or_create(&l).inc_by(number(m.get(7)));
        m_connected.get_or_create(&l).set(to_i64(number(m.get(8))));
        m_created.get_or_create(&l).inc_by(number(m.get(9)));
    }

    let pulled = counter_family(
        &mut r,
        "proxysql_cluster_pulled",
        "Number of times a 'module' have been pulled from a peer.",
    );
    let conflicts = counter_family(
        &mut r,
        "proxysql_cluster_syn_conflict",
        "Number of times a 'module' has not been able to be synced.",
    );
    let cc = &shared.cluster_counters;
    for module in MODULE_NAMES {
        for status in ["success", "failure"] {
            pulled
                .get_or_create(&labels(&[("module_name", module), ("status", status)]))
                .inc_by(cc.pulls(module, status));
        }
        for reason in ["servers_share_epoch", "version_one"] {
            conflicts
                .get_or_create(&labels(&[("module_name", module), ("reason", reason)]))
                .inc_by(cc.conflicts(module, reason));
        }
    }

    gauge_family(&mut r, "proxysql_version_info", "ProxySQL version.")
        .get_or_create(&labels(&[
            ("version", &shared.version),
            (
                "version_comment",
                &format!("ProxySQL version {}, codename Truls", shared.version),
            ),
        ]))
        .set(1);

    let mut text = String::new();
    if encode(&mut text, &r).is_err() {
        // Writing into a String cannot fail; an empty page is the honest fallback.
        text.clear();
    }
    text
}

/// Where `/metrics` should listen, from the running admin variables: `None` when
/// `admin-restapi_enabled` is false. Bound to loopback under `PXADM_LOOPBACK_ONLY`, on every
/// interface otherwise (as ProxySQL's REST API).
fn wanted_listen(shared: &NodeShared) -> Option<(String, u16)> {
    let enabled = shared
        .admin_var("admin-restapi_enabled")
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    if !enabled {
        return None;
    }
    let port = shared
        .admin_var("admin-restapi_port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(6070);
    let loopback = std::env::var_os("PXADM_LOOPBACK_ONLY").is_some_and(|v| v != "0");
    Some((
        if loopback { "127.0.0.1" } else { "0.0.0.0" }.to_owned(),
        port,
    ))
}

/// Follows the running admin variables: serves `/metrics` while `admin-restapi_enabled` is
/// true, on `admin-restapi_port`, rebinding when the port changes.
pub fn start(shared: Arc<NodeShared>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut vars = shared.admin_vars.subscribe();
        let mut serving: Option<((String, u16), JoinHandle<()>)> = None;
        loop {
            let wanted = wanted_listen(&shared);
            if serving.as_ref().map(|(at, _)| at) != wanted.as_ref() {
                if let Some((_, task)) = serving.take() {
                    task.abort();
                    // Let the aborted task drop its socket before a rebind on the same port.
                    tokio::task::yield_now().await;
                }
                if let Some((host, port)) = wanted {
                    match TcpListener::bind((host.as_str(), port)).await {
                        Ok(listener) => {
                            crate::px_info!("REST API: serving /metrics on {}:{}", host, port);
                            let task = tokio::spawn(serve(listener, shared.clone()));
                            serving = Some(((host, port), task));
                        }
                        Err(e) => {
                            crate::px_error!(
                                "REST API: cannot listen on {}:{} : {}",
                                host,
                                port,
                                e
                            );
                        }
                    }
                }
            }
            if vars.changed().await.is_err() {
                return;
            }
        }
    })
}

async fn serve(listener: TcpListener, shared: Arc<NodeShared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(30), answer(stream, &shared)).await;
        });
    }
}

/// Reads one request head (at most 8 KiB) and answers `GET /metrics`.
async fn answer(mut stream: TcpStream, shared: &NodeShared) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > 8192 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = match (method, target.split('?').next().unwrap_or("")) {
        ("GET", "/metrics" | "/metrics/") => ("200 OK", render(shared)),
        ("GET", _) => ("404 Not Found", "not found: try /metrics\n".to_owned()),
        _ => ("405 Method Not Allowed", "GET only\n".to_owned()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
