//! `pxadm --batch checksums` over three nodes versus the shell loop DBAs write today:
//!
//! ```sh
//! for p in P1 P2 P3; do mariadb -h127.0.0.1 -P$p -uadmin -padmin -e 'SELECT * FROM runtime_checksums_values'; done
//! ```
//!
//! Same run, same three `pxadm node` processes, the two commands interleaved so both see the
//! same machine load. Also timed: `pxadm --batch exec '<same SELECT>' --all`, the like-for-like
//! query (`checksums` reads six tables per node and runs the diagnosis). Run with
//! `cargo bench --bench batch_vs_shell` (release build); prints medians, p90s and the ratio.
//! Also timed: `checksums --no-discover` on one node against one `mariadb -e`, and, with
//! `PXADM_BEFORE=<an earlier pxadm binary>`, that binary in the same rounds.
//! Figures are recorded in `benches/RESULTS-batch.md`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{mariadb_cli, TestNode, ADMIN_PASS, ADMIN_USER, HOST};
use mysql_async::prelude::Queryable;

const ROUNDS: usize = 30;
const SELECT: &str = "SELECT * FROM runtime_checksums_values";
const CLUSTER_SETUP: &str = include_str!("../tests/fixtures/scenario/node-cluster-setup.sql");

async fn time(program: &str, args: &[String]) -> Duration {
    let started = Instant::now();
    let out = tokio::process::Command::new(program)
        .args(args)
        .env_remove("MYSQL_PWD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let elapsed = started.elapsed();
    // pxadm's exit code is the cluster's state (0-2); only 3 (usage) or a crash is a failure.
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

struct Stats {
    median: Duration,
    p90: Duration,
    mean: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let n = samples.len();
    let total: Duration = samples.iter().sum();
    Stats {
        median: samples[n / 2],
        p90: samples[(n * 9 / 10).min(n - 1)],
        mean: total / u32::try_from(n).unwrap_or(1),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // `cargo test --all-targets` also runs bench targets, without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("batch_vs_shell: run with `cargo bench --bench batch_vs_shell`");
        return;
    }
    // The scenario's two core nodes plus a third, its 192.168.0.x peers mapped to loopback.
    let ports: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
    let mut nodes = Vec::new();
    for &port in &ports {
        nodes.push(
            TestNode::builder()
                .admin_port(port)
                .env("PXADM_LOOPBACK_ONLY", "1")
                .arg("--peer-map")
                .arg(format!("192.168.0.11:6032={HOST}:{}", ports[0]))
                .arg("--peer-map")
                .arg(format!("192.168.0.12:6032={HOST}:{}", ports[1]))
                .start()
                .await,
        );
    }
    for n in &nodes {
        let mut c = n.admin().await;
        for stmt in pxadm::proxysql::statement::split_statements(CLUSTER_SETUP) {
            c.query_drop(&stmt).await.expect("cluster SQL");
        }
        c.disconnect().await.ok();
        let check = mariadb_cli(n.admin_port(), ADMIN_USER, ADMIN_PASS, SELECT).await;
        check.expect_success();
    }
    let bin = common::pxadm_bin().to_string_lossy().into_owned();
    let mut node_flags = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        node_flags.push("-n".to_owned());
        node_flags.push(format!(
            "node{}={ADMIN_USER}:{ADMIN_PASS}@{HOST}:{}",
            i + 1,
            n.admin_port()
        ));
    }
    let with_nodes = |head: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = head.iter().map(|s| (*s).to_owned()).collect();
        v.extend(node_flags.iter().cloned());
        v.extend(["--format".to_owned(), "tsv".to_owned()]);
        v
    };
    let checksums = with_nodes(&["--batch", "checksums"]);
    // One node, its listed peers not polled: the like-for-like of one `mariadb -e`.
    let one_node: Vec<String> = ["--batch", "checksums", "--no-discover"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(node_flags[..2].iter().cloned())
        .chain(["--format".to_owned(), "tsv".to_owned()])
        .collect();
    let single = vec![
        "-c".to_owned(),
        format!(
            "mariadb --no-defaults --skip-ssl -h{HOST} -P{} -u{ADMIN_USER} -p{ADMIN_PASS} -e '{SELECT}'",
            ports[0]
        ),
    ];
    // An earlier build, timed in the same rounds, for an optimisation's before/after.
    let before = std::env::var("PXADM_BEFORE").ok();
    let exec_all = with_nodes(&["--batch", "exec", SELECT, "--all"]);
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    let loop_script = format!(
        "for p in {}; do mariadb --no-defaults --skip-ssl -h{HOST} -P$p -u{ADMIN_USER} -p{ADMIN_PASS} -e '{SELECT}'; done",
        ports.join(" ")
    );
    let shell = vec!["-c".to_owned(), loop_script];

    // Warm-up: page cache, first connections.
    time(&bin, &checksums).await;
    time(&bin, &exec_all).await;
    time("sh", &shell).await;

    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    let (mut d, mut e, mut f, mut g) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        a.push(time(&bin, &checksums).await);
        b.push(time("sh", &shell).await);
        c.push(time(&bin, &exec_all).await);
        d.push(time(&bin, &one_node).await);
        e.push(time("sh", &single).await);
        if let Some(before) = &before {
            f.push(time(before, &checksums).await);
            g.push(time(before, &one_node).await);
        }
    }
    let (a, b, c, d, e) = (stats(a), stats(b), stats(c), stats(d), stats(e));
    println!("{ROUNDS} rounds, 3 pxadm nodes, interleaved; wall time per invocation (ms):");
    println!(
        "{:<68} {:>8} {:>8} {:>8}",
        "command", "median", "p90", "mean"
    );
    for (name, s) in [
        ("pxadm --batch checksums (3 nodes)", &a),
        (
            "pxadm --batch exec 'SELECT * FROM runtime_checksums_values' --all",
            &c,
        ),
        (
            "for p in 3 ports; do mariadb -e 'SELECT * FROM ...'; done",
            &b,
        ),
    ] {
        println!(
            "{name:<68} {:>8.1} {:>8.1} {:>8.1}",
            ms(s.median),
            ms(s.p90),
            ms(s.mean)
        );
    }
    println!(
        "ratio (shell loop median / pxadm checksums median): {:.2}x",
        ms(b.median) / ms(a.median)
    );
    println!(
        "ratio (shell loop median / pxadm exec --all median): {:.2}x",
        ms(b.median) / ms(c.median)
    );
    println!(
        "one node: pxadm --batch checksums --no-discover {:.1} ms, one mariadb -e {:.1} ms (medians): {:.2}x",
        ms(d.median),
        ms(e.median),
        ms(e.median) / ms(d.median)
    );
    if !f.is_empty() {
        let (f, g) = (stats(f), stats(g));
        println!(
            "before (PXADM_BEFORE): checksums 3 nodes {:.1} ms (shell loop {:.2}x), 1 node {:.1} ms (mariadb -e {:.2}x); this build is {:.2}x / {:.2}x faster",
            ms(f.median),
            ms(b.median) / ms(f.median),
            ms(g.median),
            ms(e.median) / ms(g.median),
            ms(f.median) / ms(a.median),
            ms(g.median) / ms(d.median)
        );
    }
}
