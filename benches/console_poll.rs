//! Benchmark (not a test): the console's own CPU and memory while it watches 3 and 50 nodes.
//!
//! Starts N `pxadm node` processes on loopback, then runs the console's work headless for a
//! fixed time: once a second every node is polled in parallel (the same `poll_once` the
//! console and the screenshots use: identity, checksums, peer views, metrics, cluster
//! variables, VIP table, and the selected node's detail), the diagnosis runs, and the whole
//! UI is drawn into an off-screen 160×48 buffer. CPU time is this process's own user+system
//! time (`getrusage(RUSAGE_SELF)`, so the nodes' CPU is excluded); memory is its peak RSS.
//! The 3-node run is the baseline the 50-node run is compared with.
//!
//! `cargo bench --bench console_poll`; `PXADM_BENCH_SECONDS` (default 20) sets the duration.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::Offset as _;
use common::TestNode;
use pxadm::client::conn::NodeAddr;
use pxadm::console::config::ConsoleSettings;
use pxadm::console::nodes::ConsoleNode;
use pxadm::console::tui::{self, App, AppOptions};

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

struct Figures {
    nodes: usize,
    ticks: u32,
    cpu_ms_per_tick: f64,
    cpu_pct: f64,
    rss_mib: f64,
    poll_ms_median: f64,
}

async fn measure(nodes: &[TestNode], seconds: u64) -> Figures {
    let console_nodes: Vec<ConsoleNode> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            ConsoleNode::plain(NodeAddr {
                name: format!("node{}", i + 1),
                host: "127.0.0.1".into(),
                port: n.admin_port(),
                user: "admin".into(),
                password: "admin".into(),
            })
        })
        .collect();
    let settings = ConsoleSettings {
        refresh: Duration::from_secs(1),
        theme: "dark".into(),
        read_only: true,
        keys: Default::default(),
    };
    let themes = tui::theme::ThemeSet::load(None).expect("built-in themes");
    let tz = chrono::Local::now().offset().fix();
    let options = AppOptions::from_settings(&settings, themes, 0, tz).expect("settings");
    let mut app = App::new(console_nodes, options);
    // Warm-up tick (connections, first allocation of everything).
    tui::poll_once(&mut app, Duration::from_secs(2)).await;
    let _ = tui::render_to_buffer(&app, 160, 48);

    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut poll_ms = Vec::new();
    let mut ticks = 0;
    let mut next = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds) {
        next += Duration::from_secs(1);
        let t = Instant::now();
        tui::poll_once(&mut app, Duration::from_secs(2)).await;
        let _ = tui::render_to_buffer(&app, 160, 48);
        poll_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        ticks += 1;
        tokio::time::sleep_until(next.into()).await;
    }
    let cpu = cpu_seconds() - cpu0;
    let wall = start.elapsed().as_secs_f64();
    poll_ms.sort_by(f64::total_cmp);
    Figures {
        nodes: nodes.len(),
        ticks,
        cpu_ms_per_tick: cpu * 1000.0 / ticks as f64,
        cpu_pct: cpu / wall * 100.0,
        rss_mib: rss_kib("VmHWM:") as f64 / 1024.0,
        poll_ms_median: poll_ms[poll_ms.len() / 2],
    }
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("PXADM_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    println!("console_poll: polling once a second for {seconds} s, drawing 160x48 each tick");
    println!(
        "| nodes | ticks | console CPU per tick | console CPU | peak RSS | poll+draw median |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut results = Vec::new();
    for n in [3usize, 50] {
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            nodes.push(TestNode::start().await);
        }
        let f = measure(&nodes, seconds).await;
        println!(
            "| {} | {} | {:.2} ms | {:.2} % | {:.1} MiB | {:.1} ms |",
            f.nodes, f.ticks, f.cpu_ms_per_tick, f.cpu_pct, f.rss_mib, f.poll_ms_median
        );
        results.push(f);
        drop(nodes);
    }
    let (a, b) = (&results[0], &results[1]);
    println!(
        "ratio 50/3: CPU per tick {:.1}x for {:.1}x the nodes ({:.3} ms vs {:.3} ms per node per tick)",
        b.cpu_ms_per_tick / a.cpu_ms_per_tick,
        b.nodes as f64 / a.nodes as f64,
        a.cpu_ms_per_tick / a.nodes as f64,
        b.cpu_ms_per_tick / b.nodes as f64
    );
}
