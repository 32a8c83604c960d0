//! Background work: one poller per node, the detail fetcher for the node view, log tailers
//! for managed nodes, and operator jobs. All of it reports through the action channel, so the
//! render path never waits on the network or the disk.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::client::conn::{connect, execute_text, NodeAddr};
use crate::client::snapshot::fetch_snapshot_keeping;

use super::action::{Action, JobId, JobOutcome, NodeResult, StepResult};
use super::contract::{Fault, FaultInjector};
use super::drill::DrillRequest;
use crate::client::detail::{fetch_detail, fetch_ha_keeping, fetch_variables, HaInfo};
use crate::console::drill as failover;

/// Longest wait between polls of a failing node.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Polls between two looks for `stats_pxadm_vrrp` on a node that does not have it.
const HA_ABSENT_RECHECK: u32 = 30;
/// Job connections wait at most this long per step.
const JOB_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of an existing log read when tailing starts.
const LOG_START_BYTES: u64 = 16 * 1024;
/// Bytes read per tailing round at most (a burst is caught up over several rounds).
const LOG_CHUNK: u64 = 256 * 1024;

/// Delay before the next poll after `failures` consecutive failures: the interval for the first
/// failure (a single lost poll is common), then doubling, capped at [`MAX_BACKOFF`] (or the
/// interval, if that is longer).
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    if failures <= 1 {
        return interval;
    }
    let factor = 1u32 << (failures - 1).min(16);
    interval
        .checked_mul(factor)
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF.max(interval))
}

/// Per-operation timeout for a poll at this interval: twice the interval, within 1–5 s, so a
/// frozen node is noticed quickly but a slow link is not mistaken for a dead one.
pub fn poll_timeout(interval: Duration) -> Duration {
    (interval * 2).clamp(Duration::from_secs(1), Duration::from_secs(5))
}

/// What every background task listens to.
#[derive(Clone)]
pub struct Signals {
    /// The poll interval.
    pub refresh: watch::Receiver<Duration>,
    /// Poll now.
    pub poke: Arc<Notify>,
    /// Stop.
    pub cancel: CancellationToken,
}

/// Waits for `delay`, an interval change, a poke or cancellation; false when cancelled.
async fn pause(signals: &mut Signals, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = signals.refresh.changed() => true,
        _ = signals.poke.notified() => true,
        _ = signals.cancel.cancelled() => false,
    }
}

/// Starts one poller per node.
pub fn spawn_pollers(
    tasks: &mut JoinSet<()>,
    addrs: &[NodeAddr],
    tx: &mpsc::Sender<Action>,
    signals: &Signals,
) {
    for (i, addr) in addrs.iter().enumerate() {
        tasks.spawn(poll_loop(i, addr.clone(), tx.clone(), signals.clone()));
    }
}

async fn poll_loop(node: usize, addr: NodeAddr, tx: mpsc::Sender<Action>, mut signals: Signals) {
    let mut failures = 0u32;
    let mut ha_wait = 0u32;
    // One admin connection per node, kept between ticks: a login handshake per node per
    // second was most of the console's CPU at fleet scale (benches/RESULTS-console.md).
    let mut kept = None;
    loop {
        let interval = *signals.refresh.borrow_and_update();
        let timeout = poll_timeout(interval);
        let snapshot = tokio::select! {
            s = fetch_snapshot_keeping(&addr, timeout, &mut kept) => s,
            _ = signals.cancel.cancelled() => return,
        };
        let ok = snapshot.result.is_ok();
        failures = if ok { 0 } else { failures.saturating_add(1) };
        if tx.send(Action::Snapshot { node, snapshot }).await.is_err() {
            return;
        }
        if ok {
            if ha_wait == 0 {
                let info = fetch_ha_keeping(&addr, timeout, &mut kept).await;
                ha_wait = if info == HaInfo::Absent {
                    HA_ABSENT_RECHECK
                } else {
                    0
                };
                if tx.send(Action::Ha { node, info }).await.is_err() {
                    return;
                }
            } else {
                ha_wait -= 1;
            }
        }
        if !pause(&mut signals, backoff(interval, failures)).await {
            return;
        }
    }
}

/// Between two reads of a view-driven fetcher: waits for `delay`, a new target, a poke or
/// cancellation; false when cancelled.
async fn next_read<T>(
    target: &mut watch::Receiver<Option<T>>,
    signals: &Signals,
    delay: Duration,
) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = target.changed() => true,
        _ = signals.poke.notified() => true,
        _ = signals.cancel.cancelled() => false,
    }
}

/// While no view needs a view-driven fetcher: waits until one names a target; false when
/// cancelled or when the console has gone.
async fn target_named<T>(target: &mut watch::Receiver<Option<T>>, signals: &Signals) -> bool {
    tokio::select! {
        r = target.changed() => r.is_ok(),
        _ = signals.cancel.cancelled() => false,
    }
}

/// Starts the fetcher of the node view's tables: while `target` names a node, its detail
/// and every node's variables are read about every other interval (at least 2 s apart).
pub fn spawn_detail(
    tasks: &mut JoinSet<()>,
    addrs: Vec<NodeAddr>,
    tx: mpsc::Sender<Action>,
    mut target: watch::Receiver<Option<usize>>,
    signals: Signals,
) {
    tasks.spawn(async move {
        loop {
            let current = *target.borrow_and_update();
            if let Some(i) = current.filter(|i| *i < addrs.len()) {
                let interval = *signals.refresh.borrow();
                let timeout = poll_timeout(interval);
                let detail = fetch_detail(&addrs[i], timeout)
                    .await
                    .map_err(|e| e.to_string());
                if tx.send(Action::Detail { node: i, detail }).await.is_err() {
                    return;
                }
                let vars = join_all(addrs.iter().map(|a| fetch_variables(a, timeout))).await;
                for (node, variables) in vars.into_iter().enumerate() {
                    if tx
                        .send(Action::Variables { node, variables })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                let delay = (interval * 2).max(Duration::from_secs(2));
                if !next_read(&mut target, &signals, delay).await {
                    return;
                }
            } else if !target_named(&mut target, &signals).await {
                return;
            }
        }
    });
}

/// Fastest pace of the layer reads: three selects per table of every clustered module.
pub const LAYERS_MIN_DELAY: Duration = Duration::from_secs(5);

/// Starts the layer reader: while `target` names a node (the node view on screen), its
/// MEMORY/RUNTIME/DISK layers are read every five intervals and at least
/// [`LAYERS_MIN_DELAY`] apart, and at once when the node changes or a poll is forced.
pub fn spawn_layers(
    tasks: &mut JoinSet<()>,
    addrs: Vec<NodeAddr>,
    tx: mpsc::Sender<Action>,
    mut target: watch::Receiver<Option<usize>>,
    signals: Signals,
) {
    tasks.spawn(async move {
        loop {
            let current = *target.borrow_and_update();
            if let Some(i) = current.filter(|i| *i < addrs.len()) {
                let interval = *signals.refresh.borrow();
                let timeout = poll_timeout(interval);
                let layers = crate::client::layers::fetch_layers(&addrs[i], timeout)
                    .await
                    .map_err(|e| e.to_string());
                if tx.send(Action::Layers { node: i, layers }).await.is_err() {
                    return;
                }
                let delay = (interval * 5).max(LAYERS_MIN_DELAY);
                if !next_read(&mut target, &signals, delay).await {
                    return;
                }
            } else if !target_named(&mut target, &signals).await {
                return;
            }
        }
    });
}

/// Starts the traffic views' fetcher: while `target` names a stats table (the traffic view on
/// screen), every node's answer is read in parallel; the global counters every interval, the
/// heavier tables (pool, processlist, digests) every other interval and at least 2 s apart.
pub fn spawn_traffic(
    tasks: &mut JoinSet<()>,
    addrs: Vec<NodeAddr>,
    tx: mpsc::Sender<Action>,
    mut target: watch::Receiver<Option<crate::client::traffic::Table>>,
    signals: Signals,
) {
    use crate::client::traffic::{fetch, Table};
    tasks.spawn(async move {
        let origin = std::time::Instant::now();
        loop {
            let current = *target.borrow_and_update();
            if let Some(table) = current {
                let interval = *signals.refresh.borrow();
                let timeout = poll_timeout(interval);
                let answers = join_all(addrs.iter().map(|a| fetch(a, table, timeout))).await;
                let at_ms = origin.elapsed().as_millis() as u64;
                for (node, r) in answers.into_iter().enumerate() {
                    let data = r.map_err(|e| e.to_string());
                    if tx
                        .send(Action::Traffic { node, at_ms, data })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                let delay = if table == Table::Globals {
                    interval
                } else {
                    (interval * 2).max(Duration::from_secs(2))
                };
                if !next_read(&mut target, &signals, delay).await {
                    return;
                }
            } else if !target_named(&mut target, &signals).await {
                return;
            }
        }
    });
}

/// Starts tailing a managed node's log file.
pub fn spawn_tail(
    tasks: &mut JoinSet<()>,
    node: usize,
    path: PathBuf,
    tx: mpsc::Sender<Action>,
    cancel: CancellationToken,
) {
    tasks.spawn(async move {
        let mut tail = Tail::default();
        loop {
            if let Ok(lines) = tail.read_new(&path).await {
                if !lines.is_empty() && tx.send(Action::LogLines { node, lines }).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = cancel.cancelled() => return,
            }
        }
    });
}

/// Reading position in a growing log file.
#[derive(Debug, Default)]
struct Tail {
    offset: Option<u64>,
    partial: String,
}

impl Tail {
    /// Complete lines added since the last call; the first call returns the last few KiB.
    async fn read_new(&mut self, path: &PathBuf) -> std::io::Result<Vec<String>> {
        let len = tokio::fs::metadata(path).await?.len();
        let start = match self.offset {
            None => len.saturating_sub(LOG_START_BYTES),
            // Truncated or replaced: start over.
            Some(o) if len < o => {
                self.partial.clear();
                0
            }
            Some(o) => o,
        };
        let first = self.offset.is_none();
        if len == start {
            self.offset = Some(start);
            return Ok(Vec::new());
        }
        let mut f = tokio::fs::File::open(path).await?;
        f.seek(std::io::SeekFrom::Start(start)).await?;
        let mut buf = Vec::new();
        f.take((len - start).min(LOG_CHUNK))
            .read_to_end(&mut buf)
            .await?;
        self.offset = Some(start + buf.len() as u64);
        let text = String::from_utf8_lossy(&buf);
        let mut all = std::mem::take(&mut self.partial) + &text;
        // Keep an unterminated last line for the next round.
        if let Some(cut) = all.rfind('\n') {
            self.partial = all.split_off(cut + 1);
        } else {
            self.partial = std::mem::take(&mut all);
        }
        let mut lines: Vec<String> = all.lines().map(str::to_owned).collect();
        if first && start > 0 && !lines.is_empty() {
            // Started mid-file: the first line is a fragment.
            lines.remove(0);
        }
        Ok(lines)
    }
}

/// Runs statements in order on each node (nodes in parallel) and reports the job.
pub fn spawn_sql_job(
    tasks: &mut JoinSet<()>,
    job: JobId,
    addrs: Vec<NodeAddr>,
    statements: Vec<String>,
    tx: mpsc::Sender<Action>,
) {
    tasks.spawn(async move {
        let results = join_all(addrs.iter().map(|a| run_statements(a, &statements))).await;
        let _ = tx
            .send(Action::JobDone {
                job,
                outcome: JobOutcome::Sql(results),
            })
            .await;
    });
}

async fn run_statements(addr: &NodeAddr, statements: &[String]) -> NodeResult {
    let mut conn = match connect(addr, JOB_TIMEOUT).await {
        Ok(c) => c,
        Err(e) => {
            return NodeResult {
                node: addr.name.clone(),
                steps: Vec::new(),
                error: Some(e.to_string()),
            }
        }
    };
    let mut steps = Vec::new();
    for sql in statements {
        let result = execute_text(&mut conn, sql)
            .await
            .map_err(|e| e.to_string());
        let failed = result.is_err();
        steps.push(StepResult {
            sql: sql.clone(),
            result,
        });
        if failed {
            break;
        }
    }
    conn.close().await;
    NodeResult {
        node: addr.name.clone(),
        steps,
        error: None,
    }
}

/// Asks the fault injector and reports the job.
pub fn spawn_fault_job(
    tasks: &mut JoinSet<()>,
    job: JobId,
    node: String,
    fault: Fault,
    faults: Arc<dyn FaultInjector>,
    tx: mpsc::Sender<Action>,
) {
    tasks.spawn(async move {
        let result = faults
            .inject(&node, fault)
            .await
            .map_err(|e| format!("{e:#}"));
        let _ = tx
            .send(Action::JobDone {
                job,
                outcome: JobOutcome::Fault(result),
            })
            .await;
    });
}

/// Runs a failover drill, forwarding its progress as [`Action::Drill`] and its end as
/// [`Action::DrillDone`]. Aborting the task (the console quits) drops the drill's nodes,
/// which are killed with it.
pub fn spawn_drill(tasks: &mut JoinSet<()>, request: DrillRequest, tx: mpsc::Sender<Action>) {
    tasks.spawn(async move {
        let (progress, mut events) = mpsc::unbounded_channel();
        let forward = {
            let tx = tx.clone();
            async move {
                while let Some(event) = events.recv().await {
                    if tx.send(Action::Drill(event)).await.is_err() {
                        break;
                    }
                }
            }
        };
        let drill = async move {
            failover::run_failover(request.options(), Some(progress))
                .await
                .map(Box::new)
                .map_err(|e| e.to_string())
        };
        // The drill ends by dropping its sender, so the forwarder drains every event first.
        let (result, ()) = tokio::join!(drill, forward);
        let _ = tx.send(Action::DrillDone(result)).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_second_failure_and_is_capped() {
        let s = Duration::from_secs(1);
        assert_eq!(backoff(s, 0), s);
        assert_eq!(backoff(s, 1), s);
        assert_eq!(backoff(s, 2), Duration::from_secs(2));
        assert_eq!(backoff(s, 3), Duration::from_secs(4));
        assert_eq!(backoff(s, 6), Duration::from_secs(30));
        assert_eq!(backoff(s, u32::MAX), Duration::from_secs(30));
        let slow = Duration::from_secs(60);
        assert_eq!(backoff(slow, 5), slow, "a long interval is never shortened");
    }

    #[test]
    fn timeouts_follow_the_interval_within_bounds() {
        assert_eq!(
            poll_timeout(Duration::from_millis(250)),
            Duration::from_secs(1)
        );
        assert_eq!(poll_timeout(Duration::from_secs(2)), Duration::from_secs(4));
        assert_eq!(
            poll_timeout(Duration::from_secs(60)),
            Duration::from_secs(5)
        );
    }

    #[tokio::test]
    async fn tail_follows_appends_truncation_and_partial_lines() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("proxysql.log");
        let mut f = std::fs::File::create(&path).unwrap();
        writeln!(f, "one").unwrap();
        write!(f, "two").unwrap();
        f.flush().unwrap();
        let mut t = Tail::default();
        assert_eq!(t.read_new(&path).await.unwrap(), ["one"]);
        writeln!(f, " halves").unwrap();
        writeln!(f, "three").unwrap();
        f.flush().unwrap();
        assert_eq!(t.read_new(&path).await.unwrap(), ["two halves", "three"]);
        assert!(t.read_new(&path).await.unwrap().is_empty());
        // Truncation (a restart recreating the log) starts over.
        let mut f = std::fs::File::create(&path).unwrap();
        writeln!(f, "fresh").unwrap();
        f.flush().unwrap();
        assert_eq!(t.read_new(&path).await.unwrap(), ["fresh"]);
        // A big existing file: only its end, without the cut first line.
        let big = dir.path().join("big.log");
        let mut f = std::fs::File::create(&big).unwrap();
        for i in 0..5000 {
            writeln!(f, "line {i:05}").unwrap();
        }
        f.flush().unwrap();
        let lines = Tail::default().read_new(&big).await.unwrap();
        assert_eq!(lines.last().unwrap(), "line 04999");
        assert!(lines.len() < 2000);
        assert!(lines[0].starts_with("line "));
        assert_eq!(lines[0].len(), 10);
        assert!(Tail::default()
            .read_new(&dir.path().join("missing"))
            .await
            .is_err());
    }
}
