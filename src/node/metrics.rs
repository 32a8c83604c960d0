//! The node's own Prometheus metrics, with ProxySQL 2.7's names, types, labels and help
//! texts (as a real 2.7.2 answers `SHOW PROMETHEUS METRICS`), for what the node implements:
//! the cluster view of its peers, its pulls and sync conflicts, traffic and connection
//! counters, the connection pool per server, the monitor's checks, memory, uptime and the
//! version (the variable-to-series table is `proxysql::prometheus`). Written in the classic
//! text format ProxySQL's exposer writes (counters' `# TYPE` carry `_total`). Served as
//! `SHOW PROMETHEUS METRICS` on the admin port and as `GET /metrics` on `admin-restapi_port`
//! while `admin-restapi_enabled` is true; `LOAD ADMIN VARIABLES TO RUNTIME` starts, moves and
//! stops that listener ([`start`] follows the running variables).

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
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
use crate::proxysql::prometheus::{
    connpool, openmetrics_to_classic, value_of, Kind, Scale, StatusSeries, GLOBAL_SERIES,
    MEMORY_SERIES,
};
use crate::proxysql::resultset::ResultSet;

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

/// The status-variable families registered so far, by series name, so the series of one
/// family (e.g. `status="created"` and `status="aborted"`) share it.
#[derive(Default)]
struct StatusFamilies {
    counters: HashMap<&'static str, Family<Labels, Counter>>,
    seconds: HashMap<&'static str, Family<Labels, Counter<f64, AtomicU64>>>,
    gauges: HashMap<&'static str, Family<Labels, Gauge>>,
}

impl StatusFamilies {
    /// Sets `series` to the value in `text`, registering its family on first use.
    fn set(&mut self, r: &mut Registry, series: &StatusSeries, text: &str) {
        let value = value_of(text, series.scale);
        let l = labels(series.labels);
        // The encoder appends `_total` to a counter's name, as ProxySQL's names have it.
        let base = series.name.strip_suffix("_total").unwrap_or(series.name);
        match (series.kind, series.scale) {
            (Kind::Counter, Scale::NanosToSeconds) => {
                let f = self.seconds.entry(series.name).or_insert_with(|| {
                    let f = Family::<Labels, Counter<f64, AtomicU64>>::default();
                    r.register(base, series.help, f.clone());
                    f
                });
                f.get_or_create(&l).inc_by(value);
            }
            (Kind::Counter, Scale::Unit) => {
                let f = self
                    .counters
                    .entry(series.name)
                    .or_insert_with(|| counter_family(r, base, series.help));
                // Counts are whole numbers; the f64 only carried them from the text.
                f.get_or_create(&l).inc_by(value as u64);
            }
            (Kind::Gauge, _) => {
                let f = self
                    .gauges
                    .entry(series.name)
                    .or_insert_with(|| gauge_family(r, series.name, series.help));
                f.get_or_create(&l).set(value as i64);
            }
        }
    }
}

/// The per-server series of `stats_mysql_connection_pool`, labelled as ProxySQL's
/// `{endpoint="host:port",hostgroup}`.
fn connection_pool(r: &mut Registry, pool: &ResultSet) {
    let conns = gauge_family(r, "proxysql_connpool_conns", connpool::CONNS);
    let conns_total = counter_family(r, "proxysql_connpool_conns", connpool::CONNS_TOTAL);
    let queries = counter_family(r, "proxysql_connpool_conns_queries", connpool::QUERIES);
    let bytes = counter_family(r, "proxysql_connpool_data_bytes", connpool::DATA_BYTES);
    let latency = gauge_family(r, "proxysql_connpool_conns_latency_us", connpool::LATENCY);
    let status = gauge_family(r, "proxysql_connpool_conns_status", connpool::STATUS);
    let col = |row: &[Option<String>], name: &str| -> String {
        pool.column_index(name)
            .and_then(|i| row.get(i).cloned().flatten())
            .unwrap_or_default()
    };
    let num = |row: &[Option<String>], name: &str| col(row, name).parse::<u64>().unwrap_or(0);
    for row in &pool.rows {
        let hostgroup = col(row, "hostgroup");
        let endpoint = format!("{}:{}", col(row, "srv_host"), col(row, "srv_port"));
        let server = [
            ("endpoint", endpoint.as_str()),
            ("hostgroup", hostgroup.as_str()),
        ];
        let with = |k: &'static str, v: &'static str| {
            let mut l = labels(&server);
            l.push((k.to_owned(), v.to_owned()));
            l
        };
        conns
            .get_or_create(&with("status", "used"))
            .set(to_i64(num(row, "ConnUsed")));
        conns
            .get_or_create(&with("status", "free"))
            .set(to_i64(num(row, "ConnFree")));
        conns_total
            .get_or_create(&with("status", "ok"))
            .inc_by(num(row, "ConnOK"));
        conns_total
            .get_or_create(&with("status", "err"))
            .inc_by(num(row, "ConnERR"));
        queries
            .get_or_create(&labels(&server))
            .inc_by(num(row, "Queries"));
        bytes
            .get_or_create(&with("traffic_flow", "sent"))
            .inc_by(num(row, "Bytes_data_sent"));
        bytes
            .get_or_create(&with("traffic_flow", "recv"))
            .inc_by(num(row, "Bytes_data_recv"));
        latency
            .get_or_create(&labels(&server))
            .set(to_i64(num(row, "Latency_us")));
        status
            .get_or_create(&labels(&server))
            .set(connpool::status_value(&col(row, "status")));
    }
}

/// The exposition text of the node's metrics now.
pub fn render(shared: &NodeShared) -> String {
    let mut r = Registry::default();

    // Traffic, connections, monitor checks (stats_mysql_global) and memory
    // (stats_memory_metrics): only the variables the node fills, under ProxySQL's names.
    let mut families = StatusFamilies::default();
    let mut global = shared.stats_global_values();
    for (k, v) in crate::node::traffic::global_status(shared) {
        global.insert(k, v.to_string());
    }
    for series in GLOBAL_SERIES {
        if let Some(text) = global.get(series.variable) {
            families.set(&mut r, series, text);
        }
    }
    let memory = crate::node::memory::memory_metrics(shared);
    for row in &memory.rows {
        let (Some(Some(name)), Some(Some(text))) = (row.first(), row.get(1)) else {
            continue;
        };
        if let Some(series) = MEMORY_SERIES.iter().find(|s| s.variable == name) {
            families.set(&mut r, series, text);
        }
    }
    connection_pool(&mut r, &crate::node::traffic::connection_pool(shared));

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
    openmetrics_to_classic(&text)
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
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
