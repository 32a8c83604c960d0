//! Benchmark (not a test): the console's own CPU and memory while it watches 3 to 500 nodes.
//!
//! For each fleet size the console's real loop runs headless for a fixed time
//! ([`tui::run_headless`]: one poller per node, once a second, on the connection it keeps;
//! the matrix view drawn into an off-screen 160×48 buffer at most every 40 ms). The nodes are
//! real `pxadm node` admin ports: up to 10 `pxadm node` processes, each listening on up to 50
//! admin addresses (`admin-mysql_ifaces` takes a list), so 500 "nodes" answer exactly as
//! real ones do without 500 processes. CPU is this process's own user+system time
//! (`getrusage(RUSAGE_SELF)`, the nodes' CPU is excluded); memory is the RSS after the run
//! (VmRSS; VmHWM is the process-wide peak, so after several sizes it only grows).
//! Also printed: the time from the first node's answer to the first frame showing it.
//!
//! `cargo bench --bench console_poll`; `PXADM_BENCH_SECONDS` (default 20) sets the duration,
//! `PXADM_BENCH_NODES` (default "3 50 200 500") the fleet sizes.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use chrono::Offset as _;
use common::TestNode;
use pxadm::client::conn::NodeAddr;
use pxadm::console::config::ConsoleSettings;
use pxadm::console::nodes::ConsoleNode;
use pxadm::console::tui::{self, App, AppOptions};

/// Admin addresses one `pxadm node` process listens on at most.
const PORTS_PER_PROCESS: usize = 50;
/// `pxadm node` processes at most.
const PROCESSES: usize = 10;

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

/// `n` admin ports served by `min(n, PROCESSES)` node processes (kept alive by the Vec).
async fn fleet(n: usize) -> (Vec<TestNode>, Vec<u16>) {
    let processes = n.clamp(1, PROCESSES).max(n.div_ceil(PORTS_PER_PROCESS));
    let mut nodes = Vec::with_capacity(processes);
    let mut ports = Vec::with_capacity(n);
    for p in 0..processes {
        let node = TestNode::start().await;
        let count = n / processes + usize::from(p < n % processes);
        let mut own = vec![node.admin_port()];
        own.extend((1..count).map(|_| common::free_port()));
        if count > 1 {
            let ifaces: Vec<String> = own.iter().map(|p| format!("127.0.0.1:{p}")).collect();
            let sql = format!(
                "UPDATE global_variables SET variable_value='{}' WHERE variable_name='admin-mysql_ifaces'; LOAD ADMIN VARIABLES TO RUNTIME;",
                ifaces.join(";")
            );
            admin_sql(node.admin_port(), &sql).await;
            for port in &own {
                wait_port(*port).await;
            }
        }
        ports.extend(own);
        nodes.push(node);
    }
    (nodes, ports)
}

fn addr(port: u16, name: String) -> NodeAddr {
    NodeAddr {
        name,
        host: "127.0.0.1".into(),
        port,
        user: "admin".into(),
        password: "admin".into(),
    }
}

async fn admin_sql(port: u16, sql: &str) {
    let mut conn = pxadm::client::conn::connect(&addr(port, "n".into()), Duration::from_secs(10))
        .await
        .expect("admin connection");
    for stmt in sql.split("; ").filter(|s| !s.trim().is_empty()) {
        pxadm::client::conn::execute_text(&mut conn, stmt)
            .await
            .unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }
    conn.close().await;
}

async fn wait_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("admin port {port} never opened");
}

struct Figures {
    nodes: usize,
    frames: u32,
    cpu_ms_per_s: f64,
    cpu_pct: f64,
    rss_mib: f64,
    first_answer_ms: f64,
    first_frame_ms: f64,
}

async fn measure(ports: &[u16], seconds: u64) -> Figures {
    let console_nodes: Vec<ConsoleNode> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| ConsoleNode::plain(addr(*p, format!("node{}", i + 1))))
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
    let app = App::new(console_nodes, options);
    let cpu0 = cpu_seconds();
    let wall0 = std::time::Instant::now();
    let run = tui::run_headless(app, Duration::from_secs(seconds), 160, 48).await;
    let cpu = cpu_seconds() - cpu0;
    let wall = wall0.elapsed().as_secs_f64();
    let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    Figures {
        nodes: ports.len(),
        frames: run.frames,
        cpu_ms_per_s: cpu * 1000.0 / wall,
        cpu_pct: cpu / wall * 100.0,
        rss_mib: rss_kib("VmRSS:") as f64 / 1024.0,
        first_answer_ms: ms(run.first_answer),
        first_frame_ms: ms(run.first_frame_after_answer) - ms(run.first_answer),
    }
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` also runs bench targets, without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("console_poll: run with `cargo bench --bench console_poll`");
        return;
    }
    let seconds: u64 = std::env::var("PXADM_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let sizes: Vec<usize> = std::env::var("PXADM_BENCH_NODES")
        .unwrap_or_else(|_| "3 50 200 500".into())
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    println!(
        "console_poll: the console loop headless for {seconds} s per size, polling once a second, drawing 160x48"
    );
    println!("| nodes | frames | console CPU | CPU ms per s | RSS after | first answer | first frame after it |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut results = Vec::new();
    for n in sizes {
        let (nodes, ports) = fleet(n).await;
        let f = measure(&ports, seconds).await;
        println!(
            "| {} | {} | {:.2} % | {:.1} ms | {:.1} MiB | {:.0} ms | {:.0} ms |",
            f.nodes,
            f.frames,
            f.cpu_pct,
            f.cpu_ms_per_s,
            f.rss_mib,
            f.first_answer_ms,
            f.first_frame_ms
        );
        results.push(f);
        drop(nodes);
    }
    if let Some(base) = results.first() {
        for f in &results[1..] {
            println!(
                "ratio {}/{} nodes: CPU {:.1}x for {:.1}x the nodes ({:.3} vs {:.3} ms per node per second)",
                f.nodes,
                base.nodes,
                f.cpu_ms_per_s / base.cpu_ms_per_s,
                f.nodes as f64 / base.nodes as f64,
                base.cpu_ms_per_s / base.nodes as f64,
                f.cpu_ms_per_s / f.nodes as f64
            );
        }
    }
}
