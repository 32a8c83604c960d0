//! Benchmark (not a test): how long a configuration change takes to reach a peer.
//!
//! Two `pxadm node` processes on loopback run the scenario's cluster set-up unchanged
//! (`node-cluster-setup.sql`, `--peer-map` for its `192.168.0.11/12:6032`,
//! `PXADM_LOOPBACK_ONLY=1`), then `admin-cluster_check_interval_ms` is set to each interval
//! under test on both. Every run replaces node1's query rules, times from sending
//! `LOAD MYSQL QUERY RULES TO RUNTIME` on node1 until node2's `runtime_checksums_values`
//! shows node1's new `mysql_query_rules` checksum (polled every 5 ms), and waits a random
//! fraction of an interval before the next run so the LOAD lands at a random phase of
//! node2's check loop.
//!
//! Model: node2 notices the change at its next check (uniform in `[0, I)`), then needs
//! `D - 1` more checks before `diff_check` reaches `D = diffs_before_sync`, then pulls. So the
//! latency is about `(D - 1 + U) * I + pull` and its median about `(D - 0.5) * I`; the
//! interval a measured median implies is `median / (D - 0.5)`.
//!
//! `cargo bench --bench cluster_convergence`; `PXADM_BENCH_RUNS` (default 10) and
//! `PXADM_BENCH_INTERVALS` (ms, comma-separated, default `1000,200`) change the plan.
//! Figures from a run are kept in `benches/RESULTS-cluster.md`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{
    free_port, mariadb_cli, query_rows, scenario_sql, try_admin_conn, try_query_rows, unix_now,
    TestNode, ADMIN_PASS, ADMIN_USER,
};
use mysql_async::prelude::Queryable;

/// `admin-cluster_*_diffs_before_sync` as the scenario SQL sets it.
const DIFFS_BEFORE_SYNC: f64 = 3.0;
/// Longest a single run may take before the benchmark gives up.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Poll period on node2.
const POLL: Duration = Duration::from_millis(5);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn intervals() -> Vec<u64> {
    std::env::var("PXADM_BENCH_INTERVALS")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .filter(|v: &Vec<u64>| !v.is_empty())
        .unwrap_or_else(|| vec![1000, 200])
}

/// A small clock-seeded generator for the run phases.
struct Lcg(u64);

impl Lcg {
    fn next_below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

async fn exec(node: &TestNode, statements: &[String]) {
    let mut conn = node.admin().await;
    for sql in statements {
        if let Err(e) = try_query_rows(&mut conn, sql).await {
            panic!("{}: {sql:?} failed: {e}", node.admin_addr());
        }
    }
}

async fn rules_state(conn: &mut mysql_async::Conn) -> (String, u64) {
    let rows = query_rows(
        conn,
        "SELECT checksum, epoch FROM runtime_checksums_values WHERE name='mysql_query_rules'",
    )
    .await;
    let row = &rows[0];
    (
        row[0].clone().unwrap_or_default(),
        row[1].as_deref().unwrap_or("0").parse().unwrap_or(0),
    )
}

/// Starts a clustered pair checking every `interval_ms`.
async fn pair(interval_ms: u64) -> (TestNode, TestNode) {
    let (p1, p2) = (free_port(), free_port());
    let node1 = TestNode::builder()
        .admin_port(p1)
        .scenario_peers(p1, p2)
        .start()
        .await;
    let node2 = TestNode::builder()
        .admin_port(p2)
        .scenario_peers(p1, p2)
        .start()
        .await;
    for node in [&node1, &node2] {
        mariadb_cli(
            node.admin_port(),
            ADMIN_USER,
            ADMIN_PASS,
            &scenario_sql("node-cluster-setup.sql"),
        )
        .await
        .expect_success();
        exec(
            node,
            &[
                format!("UPDATE global_variables SET variable_value='{interval_ms}' WHERE variable_name='admin-cluster_check_interval_ms'"),
                "LOAD ADMIN VARIABLES TO RUNTIME".into(),
            ],
        )
        .await;
    }
    // Both have clustered once the identical admin variables show on each side.
    let mut c2 = node2.admin().await;
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let rows = query_rows(
            &mut c2,
            "SELECT COUNT(*) FROM stats_proxysql_servers_checksums WHERE name='admin_variables' AND version>=3",
        )
        .await;
        if rows[0][0].as_deref() == Some("2") {
            break;
        }
        assert!(Instant::now() < deadline, "the pair never clustered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (node1, node2)
}

/// One timed change: node1 LOADs new rules; returns the time until node2 shows them.
async fn one_run(node1: &TestNode, node2: &TestNode, tag: &str) -> Duration {
    let mut c1 = node1.admin().await;
    let (_, epoch) = rules_state(&mut c1).await;
    // A LOAD in the second of the previous epoch would be an equal-epoch conflict (§8.3).
    while unix_now() <= epoch {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for sql in [
        "DELETE FROM mysql_query_rules".to_string(),
        format!("INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment) VALUES (1, 1, '^SELECT', 20, 1, '{tag}')"),
    ] {
        c1.query_drop(sql).await.expect("edit node1's rules");
    }
    let mut c2 = try_admin_conn(node2.admin_port(), ADMIN_USER, ADMIN_PASS)
        .await
        .expect("connect to node2");
    let started = Instant::now();
    c1.query_drop("LOAD MYSQL QUERY RULES TO RUNTIME")
        .await
        .expect("LOAD on node1");
    let (wanted, _) = rules_state(&mut c1).await;
    loop {
        if rules_state(&mut c2).await.0 == wanted {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < RUN_TIMEOUT,
            "node2 did not converge within {RUN_TIMEOUT:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter we do not support.
    let runs: usize = env_or("PXADM_BENCH_RUNS", 10);
    let mut rng = Lcg(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1));
    println!(
        "cluster convergence: LOAD MYSQL QUERY RULES TO RUNTIME on node1 -> same checksum on node2"
    );
    println!(
        "{:>11} {:>4} {:>9} {:>9} {:>9} {:>9} {:>15} {:>14}",
        "interval_ms",
        "runs",
        "min_ms",
        "median_ms",
        "p90_ms",
        "max_ms",
        "implied_int_ms",
        "(D+2)*I_ms"
    );
    for interval in intervals() {
        let (node1, node2) = pair(interval).await;
        let mut samples = Vec::with_capacity(runs);
        for run in 0..runs {
            // A random phase against node2's check loop.
            tokio::time::sleep(Duration::from_millis(rng.next_below(interval))).await;
            samples.push(one_run(&node1, &node2, &format!("bench-{interval}-{run}")).await);
        }
        samples.sort();
        let median = percentile(&samples, 0.5);
        println!(
            "{:>11} {:>4} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>15.1} {:>14}",
            interval,
            runs,
            ms(samples[0]),
            ms(median),
            ms(percentile(&samples, 0.9)),
            ms(samples[samples.len() - 1]),
            ms(median) / (DIFFS_BEFORE_SYNC - 0.5),
            (DIFFS_BEFORE_SYNC as u64 + 2) * interval
        );
        println!(
            "{:>11}      samples_ms: {}",
            "",
            samples
                .iter()
                .map(|d| format!("{:.0}", ms(*d)))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
}
