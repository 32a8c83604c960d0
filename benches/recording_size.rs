//! Benchmark (not a test): how big a recording grows, per node-hour at a 1 s interval.
//!
//! Records real `pxadm node` processes for a fixed time with the recorder `pxadm record` uses
//! (every node polled in parallel once a second: identity, checksums, peer views, metrics,
//! cluster variables, VIP table), then measures the file:
//!
//! 1. the demo cluster (`pxadm` with no arguments: two nodes in the reference scenario's
//!    stuck state, `diff_check` climbing every second, VRRP running);
//! 2. three nodes clustered with each other, in sync (every peer row's `updated_at` and the
//!    metrics moving every second: the steady state of a healthy cluster).
//!
//! The figure per node-hour is extrapolated from the measured frames: an hour at 1 s is
//! 3600 ticks, one keyframe every `keyframe_every` (300) ticks, so
//! `12 × mean keyframe + 3588 × mean delta` (+ the header), divided by the nodes. The budget
//! is 5 MB per node-hour.
//!
//! `cargo bench --bench recording_size`; `PXADM_BENCH_SECONDS` (default 120) sets the time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::TestNode;
use pxadm::client::conn::{self, NodeAddr};
use pxadm::console::demo::{DemoCluster, DemoOptions};
use pxadm::console::nodes::ConsoleNode;
use pxadm::console::recording::format::Source;
use pxadm::console::recording::reader::Recording;
use pxadm::console::recording::record::{header, mb_per_node_hour, record};
use pxadm::console::recording::writer::Writer;

const BUDGET_MB: f64 = 5.0;

struct Figures {
    what: &'static str,
    nodes: usize,
    ticks: usize,
    bytes: u64,
    keyframe: f64,
    delta: f64,
    per_node_hour_mb: f64,
    /// Rows of `stats_proxysql_servers_checksums` per node at the last tick (the bulk).
    peer_rows: usize,
}

async fn measure(what: &'static str, nodes: &[ConsoleNode], seconds: u64) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.pxrec");
    let interval = Duration::from_secs(1);
    let writer = Writer::create(&path, header(nodes, Source::Record, interval)).unwrap();
    let addrs = nodes.iter().map(|n| n.addr.clone()).collect();
    let summary = record(
        writer,
        addrs,
        interval,
        Some(Duration::from_secs(seconds)),
        &path,
    )
    .await
    .unwrap();
    eprintln!("{summary}");
    let rec = Recording::open(&path).unwrap();
    let (k, kb, d, db) = rec.frame_stats();
    let keyframe = kb as f64 / k.max(1) as f64;
    let delta = db as f64 / d.max(1) as f64;
    let per_hour_ticks = 3600.0;
    let keyframes = per_hour_ticks / f64::from(rec.header().keyframe_every);
    let header = rec.file_len() - kb - db;
    let hour_bytes = header as f64 + keyframes * keyframe + (per_hour_ticks - keyframes) * delta;
    let last = rec.tick(rec.len() - 1).unwrap();
    let peer_rows = last
        .nodes
        .iter()
        .filter_map(|n| {
            n.snapshot
                .as_ref()?
                .data()?
                .peer_checksums
                .as_ref()
                .map(Vec::len)
        })
        .max()
        .unwrap_or(0);
    Figures {
        peer_rows,
        what,
        nodes: nodes.len(),
        ticks: rec.len(),
        bytes: rec.file_len(),
        keyframe,
        delta,
        per_node_hour_mb: hour_bytes / 1e6 / nodes.len() as f64,
    }
}

async fn sql(port: u16, statements: &[String]) {
    let addr = NodeAddr {
        name: "n".into(),
        host: "127.0.0.1".into(),
        port,
        user: "admin".into(),
        password: "admin".into(),
    };
    let mut c = conn::connect(&addr, Duration::from_secs(5)).await.unwrap();
    for s in statements {
        conn::execute_text(&mut c, s).await.unwrap();
    }
    c.close().await;
}

/// Three nodes that monitor each other (the scenario's cluster settings), in sync.
async fn three_node_cluster() -> (Vec<TestNode>, Vec<ConsoleNode>) {
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(TestNode::start().await);
    }
    let ports: Vec<u16> = nodes.iter().map(TestNode::admin_port).collect();
    let setup = include_str!("../tests/fixtures/scenario/node-cluster-setup.sql");
    let mut statements: Vec<String> = setup
        .lines()
        .filter(|l| !l.starts_with("--") && !l.contains("proxysql_servers VALUES"))
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    for (i, p) in ports.iter().enumerate() {
        statements.push(format!(
            "INSERT INTO proxysql_servers VALUES('127.0.0.1',{p},0,'proxysql_node{}')",
            i + 1
        ));
    }
    statements.push("LOAD PROXYSQL SERVERS TO RUNTIME".into());
    for p in &ports {
        sql(*p, &statements).await;
    }
    let console = ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            ConsoleNode::plain(NodeAddr {
                name: format!("node{}", i + 1),
                host: "127.0.0.1".into(),
                port: *p,
                user: "admin".into(),
                password: "admin".into(),
            })
        })
        .collect();
    // Let the nodes find each other before recording.
    tokio::time::sleep(Duration::from_secs(5)).await;
    (nodes, console)
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("PXADM_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    println!("recording_size: every node polled once a second for {seconds} s per cluster");
    let mut results = Vec::new();

    let demo = DemoCluster::start(DemoOptions {
        exe: env!("CARGO_BIN_EXE_pxadm").into(),
        ..DemoOptions::default()
    })
    .await
    .expect("the demo cluster starts");
    let nodes = demo.console_nodes().await;
    results.push(measure("demo cluster, stuck (2 nodes)", &nodes, seconds).await);
    demo.stop().await;

    let (running, nodes) = three_node_cluster().await;
    results.push(measure("3 nodes clustered, in sync", &nodes, seconds).await);
    drop(running);

    println!(
        "| cluster | peer rows per node | ticks | file | mean keyframe | mean delta tick | measured MB/node-hour | extrapolated MB/node-hour |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for f in &results {
        println!(
            "| {} | {} | {} | {:.1} KiB | {:.0} B | {:.0} B | {:.3} | {:.3} |",
            f.what,
            f.peer_rows,
            f.ticks,
            f.bytes as f64 / 1024.0,
            f.keyframe,
            f.delta,
            mb_per_node_hour(f.bytes, f.ticks as u64 * 1000, f.nodes),
            f.per_node_hour_mb,
        );
    }
    let worst = results
        .iter()
        .map(|f| f.per_node_hour_mb)
        .fold(0.0, f64::max);
    println!(
        "worst: {worst:.3} MB per node-hour at 1 s, {:.1}% of the {BUDGET_MB} MB budget",
        worst / BUDGET_MB * 100.0
    );
    assert!(worst <= BUDGET_MB, "over the budget");
}
