//! The fleet exporter: the cross-node view as Prometheus metrics.
//!
//! ProxySQL's own metrics are per node; "is my fleet in sync, and who is stuck at version
//! 1?" needs every node's checksums side by side and the diagnosis over them. [`metrics`]
//! turns one poll and its findings into the exposition text (with `prometheus-client`, every
//! metric a gauge so the text reads alike as OpenMetrics and as the 0.0.4 text format a
//! node_exporter textfile collector parses); [`serve`] answers `GET /metrics` over HTTP.
//!
//! Nodes are polled either on each scrape or, with an interval, in the background with the
//! scrape serving the latest poll: never both, so the nodes see one poll per period.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use crate::client::snapshot::{fetch_snapshot, NodeSnapshot};
use crate::console::batch::report::class_name;
use crate::console::diagnosis::check::counts;
use crate::console::diagnosis::{diagnose, overall, Finding, Severity};
use crate::console::nodes::ConsoleNode;

type Labels = Vec<(String, String)>;
type Gauges = Family<Labels, Gauge>;
type FloatGauges = Family<Labels, Gauge<f64, AtomicU64>>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn family(registry: &mut Registry, name: &str, help: &str) -> Gauges {
    let f = Gauges::default();
    registry.register(name, help, f.clone());
    f
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The exposition text of one poll: `pxadm_node_up`, `pxadm_module_version`,
/// `pxadm_module_epoch`, `pxadm_module_checksum_info`, `pxadm_module_in_sync`,
/// `pxadm_peer_diff_check`, `pxadm_finding`, `pxadm_cluster_status`, the module counts and
/// `pxadm_scrape_duration_seconds`.
pub fn metrics(snaps: &[NodeSnapshot], findings: &[Finding], scrape: Duration) -> String {
    let mut r = Registry::default();
    let up = family(
        &mut r,
        "pxadm_node_up",
        "1 when pxadm could poll the node's admin interface.",
    );
    let version = family(
        &mut r,
        "pxadm_module_version",
        "The node's version of the module (runtime_checksums_values); 1 = never loaded since start.",
    );
    let epoch = family(
        &mut r,
        "pxadm_module_epoch",
        "Unix time the node loaded the module (runtime_checksums_values.epoch).",
    );
    let checksum = family(
        &mut r,
        "pxadm_module_checksum_info",
        "Always 1; the checksum label is the node's checksum of the module.",
    );
    let in_sync = family(
        &mut r,
        "pxadm_module_in_sync",
        "1 when every node, and every peer they see, holds the same checksum of the module.",
    );
    let diff_check = family(
        &mut r,
        "pxadm_peer_diff_check",
        "Consecutive checks the node saw the peer's module differ (stats_proxysql_servers_checksums.diff_check).",
    );
    let finding = family(
        &mut r,
        "pxadm_finding",
        "1 per diagnosis finding that is not OK; severity WARNING or CRITICAL, kind as in --batch diagnose.",
    );
    let status = family(
        &mut r,
        "pxadm_cluster_status",
        "The diagnosis overall: 0 OK, 1 WARNING, 2 CRITICAL (the check's exit code).",
    );
    let modules = family(
        &mut r,
        "pxadm_modules",
        "Modules by state: in_sync, diverged, converging, stuck.",
    );
    let duration = FloatGauges::default();
    r.register(
        "pxadm_scrape_duration_seconds",
        "Seconds the poll of every node took.",
        duration.clone(),
    );

    for s in snaps {
        let node = s.name.as_str();
        let Some(d) = s.data() else {
            up.get_or_create(&labels(&[("node", node)])).set(0);
            continue;
        };
        up.get_or_create(&labels(&[("node", node)])).set(1);
        for row in &d.checksums {
            let l = labels(&[("node", node), ("module", &row.name)]);
            version.get_or_create(&l).set(to_i64(row.version));
            epoch.get_or_create(&l).set(to_i64(row.epoch));
            checksum
                .get_or_create(&labels(&[
                    ("node", node),
                    ("module", &row.name),
                    ("checksum", &row.checksum),
                ]))
                .set(1);
        }
        for row in d.peer_checksums.iter().flatten() {
            diff_check
                .get_or_create(&labels(&[
                    ("node", node),
                    ("peer", &row.endpoint()),
                    ("module", &row.name),
                ]))
                .set(to_i64(row.state.diff_check));
        }
    }
    let mut module_state: std::collections::BTreeMap<String, bool> = Default::default();
    for f in findings {
        if let Some(m) = f.module {
            let ok = matches!(
                f.class,
                crate::console::diagnosis::Class::InSync
                    | crate::console::diagnosis::Class::RuntimeNotSynced { .. }
            );
            let entry = module_state.entry(m.name().to_owned()).or_insert(true);
            *entry &= ok;
        }
        if f.severity == Severity::Ok {
            continue;
        }
        let severity = match f.severity {
            Severity::Critical => "CRITICAL",
            _ => "WARNING",
        };
        let module = f.module.map(|m| m.name()).unwrap_or("");
        finding
            .get_or_create(&labels(&[
                ("severity", severity),
                ("kind", class_name(&f.class)),
                ("module", module),
                ("node", f.node_to_act_on.as_deref().unwrap_or("")),
            ]))
            .set(1);
    }
    for (m, ok) in module_state {
        in_sync
            .get_or_create(&labels(&[("module", &m)]))
            .set(i64::from(ok));
    }
    let c = counts(snaps, findings);
    for (state, n) in [
        ("in_sync", c.modules_in_sync),
        ("diverged", c.modules_diverged),
        ("converging", c.modules_converging),
        ("stuck", c.modules_stuck),
    ] {
        modules
            .get_or_create(&labels(&[("state", state)]))
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    status
        .get_or_create(&Vec::new())
        .set(i64::from(overall(findings).exit_code()));
    duration
        .get_or_create(&Vec::new())
        .set(scrape.as_secs_f64());

    let mut text = String::new();
    if encode(&mut text, &r).is_err() {
        // Writing into a String cannot fail; an empty page is the honest fallback.
        text.clear();
    }
    text
}

/// `pxadm exporter` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ExporterArgs {
    /// Address to serve /metrics on, as ADDR:PORT (e.g. 127.0.0.1:9188).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Which nodes: -n/--node, --cluster, --discover, or -u/-p/-H/-P.
    #[command(flatten)]
    pub nodes: crate::console::nodes::NodeArgs,
    /// Seconds to wait for each node (connecting, and each query).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub timeout: f64,
    /// Poll every SECONDS in the background and serve the latest poll; without it, each
    /// scrape polls the nodes.
    #[arg(long, value_name = "SECONDS")]
    pub interval: Option<f64>,
}

/// Runs the exporter until the process is stopped.
pub async fn run(args: ExporterArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let timeout =
        crate::console::batch::seconds_arg("timeout", args.timeout).map_err(anyhow::Error::msg)?;
    let interval = args
        .interval
        .map(|s| crate::console::batch::seconds_arg("interval", s))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let path = args.nodes.config.clone();
    let config =
        tokio::task::spawn_blocking(move || crate::console::config::Config::load(path.as_deref()))
            .await??;
    if !crate::console::nodes::names_a_node(&args.nodes, &config) {
        anyhow::bail!(
            "no node given: name one with -n USER:PASS@HOST:PORT, --cluster, --discover or -H/-P"
        );
    }
    let nodes = crate::console::nodes::resolve_nodes(&args.nodes, &config).await?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "pxadm exporter: serving http://{}/metrics for {} node(s), polling {}",
        listener.local_addr()?,
        nodes.len(),
        match interval {
            Some(i) => format!("every {} s", i.as_secs_f64()),
            None => "on each scrape".to_owned(),
        }
    );
    serve(listener, nodes, timeout, interval).await?;
    Ok(())
}

/// Polls every node once and renders the metrics.
pub async fn poll_metrics(nodes: &[ConsoleNode], timeout: Duration) -> String {
    let started = Instant::now();
    let snaps: Vec<NodeSnapshot> =
        futures::future::join_all(nodes.iter().map(|n| fetch_snapshot(&n.addr, timeout))).await;
    let findings = diagnose(&snaps);
    metrics(&snaps, &findings, started.elapsed())
}

/// Where a scrape's page comes from.
enum Source {
    /// Poll these nodes on each scrape, one poll at a time.
    OnScrape {
        nodes: Vec<ConsoleNode>,
        timeout: Duration,
        one_at_a_time: Mutex<()>,
    },
    /// The latest background poll.
    Latest(Arc<Mutex<String>>),
}

impl Source {
    async fn page(&self) -> String {
        match self {
            Source::OnScrape {
                nodes,
                timeout,
                one_at_a_time,
            } => {
                let _guard = one_at_a_time.lock().await;
                poll_metrics(nodes, *timeout).await
            }
            Source::Latest(latest) => latest.lock().await.clone(),
        }
    }
}

/// Serves `GET /metrics` on `listener` until the process ends. With `interval`, polls in the
/// background every `interval` and serves the latest page; otherwise polls on each scrape.
pub async fn serve(
    listener: TcpListener,
    nodes: Vec<ConsoleNode>,
    timeout: Duration,
    interval: Option<Duration>,
) -> std::io::Result<()> {
    let source = match interval {
        None => Source::OnScrape {
            nodes,
            timeout,
            one_at_a_time: Mutex::new(()),
        },
        Some(every) => {
            let latest = Arc::new(Mutex::new(poll_metrics(&nodes, timeout).await));
            let page = latest.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await; // the first tick is now: that poll was just made
                loop {
                    tick.tick().await;
                    let fresh = poll_metrics(&nodes, timeout).await;
                    *page.lock().await = fresh;
                }
            });
            Source::Latest(latest)
        }
    };
    let source = Arc::new(source);
    loop {
        let (stream, _) = listener.accept().await?;
        let source = source.clone();
        tokio::spawn(async move {
            // A client that sends nothing for long does not hold a task forever.
            let _ =
                tokio::time::timeout(Duration::from_secs(30) + timeout, answer(stream, &source))
                    .await;
        });
    }
}

/// Reads one request head (at most 8 KiB) and answers it.
async fn answer(mut stream: TcpStream, source: &Source) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > 8192 {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "request head too large\n",
            )
            .await;
        }
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => {
            let page = source.page().await;
            respond(
                &mut stream,
                "200 OK",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                &page,
            )
            .await
        }
        ("GET", "/") => respond(
            &mut stream,
            "200 OK",
            "text/html; charset=utf-8",
            "<html><body><h1>pxadm exporter</h1><a href=\"/metrics\">/metrics</a></body></html>\n",
        )
        .await,
        ("GET", _) => {
            respond(
                &mut stream,
                "404 Not Found",
                "text/plain",
                "not found: try /metrics\n",
            )
            .await
        }
        _ => {
            respond(
                &mut stream,
                "405 Method Not Allowed",
                "text/plain",
                "GET only\n",
            )
            .await
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::tui::fixtures::{snapshots, Scenario};

    #[test]
    fn stuck_fleet_metrics_name_the_stuck_module() {
        let snaps = snapshots(Scenario::Stuck);
        let findings = diagnose(&snaps);
        let text = metrics(&snaps, &findings, Duration::from_millis(12));
        for needle in [
            "# TYPE pxadm_node_up gauge",
            "pxadm_node_up{node=\"node1\"} 1",
            "pxadm_module_version{node=\"node1\",module=\"mysql_query_rules\"} 1",
            "pxadm_module_in_sync{module=\"mysql_query_rules\"} 0",
            "pxadm_finding{severity=\"CRITICAL\",kind=\"stuck_version_one\",module=\"mysql_query_rules\",node=\"node1\"} 1",
            "pxadm_cluster_status 2",
            "pxadm_scrape_duration_seconds 0.012",
        ] {
            assert!(text.contains(needle), "{needle} not in\n{text}");
        }
    }
}
