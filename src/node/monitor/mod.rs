//! The backend monitor (§7.3, §7.5): connect, ping, read_only and replication-lag checks of
//! the runtime `mysql_servers`, their logs in the `monitor` schema, replication-hostgroup
//! moves, ping-based shunning and shunning for replication lag.
//!
//! One task per check kind follows the running `mysql-monitor_*` variables (a change starts a
//! new round at once, as ProxySQL's loops do when the variables version moves) and the runtime
//! snapshot (read at the start of each round). A round checks all its servers in parallel, at
//! most `mysql-monitor_threads_max` at a time, every check bounded by its timeout; then one
//! job on the admin engine writes the round's log rows, purges old ones and applies the
//! round's decisions to the runtime servers through [`Engine::set_runtime_servers`], which
//! republishes the snapshot the traffic side follows. Decisions are computed on the engine
//! thread from the servers as they are at that moment, so nothing another writer changed in
//! between is lost.
//!
//! The decisions themselves are pure: [`replication::apply_read_only`],
//! [`shunning::apply_plan`] and [`lag::apply_lag`].

pub mod checks;
pub mod lag;
pub mod logs;
pub mod replication;
pub mod servers;
pub mod settings;
pub mod shunning;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, StreamExt};
use mysql_async::Conn;
use parking_lot::Mutex;
use rusqlite::ToSql;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::node::admin::engine::Engine;
use crate::node::admin::shared::{NodeShared, Vars};
use crate::node::admin::{AdminHandle, EngineGone};
use crate::{px_error, px_info, px_warn};
use checks::{now_us, Probe};
use lag::{LagCounts, LagEvent, LagReading, LagRules};
use logs::{LogTable, Statement};
use replication::{MoveEvent, ReadOnlyResult};
use servers::{monitored_servers, read_only_targets, replication_hostgroups, ServerAddr};
use settings::MonitorSettings;
use shunning::{PingHealth, PingVerdict, ShunPlan};

/// The running monitor; dropping it stops every check task.
pub struct Monitor {
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// What the check tasks share.
struct Ctx {
    admin: AdminHandle,
    shared: Arc<NodeShared>,
    /// Missed heartbeats: the ping task writes, the other tasks skip servers
    /// that stopped answering ("Disabling other checks until the node comes back online").
    health: Mutex<PingHealth>,
    /// `PXADM_LOOPBACK_ONLY` is set: backends off this machine are not dialled.
    loopback_only: bool,
    /// Backends already reported as skipped under `loopback_only`.
    skipped: Mutex<BTreeSet<ServerAddr>>,
}

impl Ctx {
    /// Drops the backends this node must not dial (`PXADM_LOOPBACK_ONLY`), warning once for
    /// each: tests and labs run configurations written for other hosts, and those servers
    /// are left unmonitored rather than shunned.
    fn dialable(&self, targets: Vec<ServerAddr>) -> Vec<ServerAddr> {
        if !self.loopback_only {
            return targets;
        }
        let mut skipped = self.skipped.lock();
        targets
            .into_iter()
            .filter(|addr| {
                let local = servers::is_local(addr);
                if !local && skipped.insert(addr.clone()) {
                    px_warn!(
                        "Monitor: not checking server {}:{} : PXADM_LOOPBACK_ONLY is set and {} is not a loopback address",
                        addr.host,
                        addr.port,
                        addr.host
                    );
                }
                local
            })
            .collect()
    }
}

/// Kept connections of one task, reused from round to round while checks succeed.
type Kept = HashMap<ServerAddr, Conn>;

impl Monitor {
    /// Starts the connect, ping, read_only and replication-lag tasks on the current tokio
    /// runtime.
    pub fn start(admin: AdminHandle, shared: Arc<NodeShared>) -> Monitor {
        let ctx = Arc::new(Ctx {
            admin,
            shared,
            health: Mutex::new(PingHealth::default()),
            loopback_only: std::env::var_os("PXADM_LOOPBACK_ONLY").is_some_and(|v| v != "0"),
            skipped: Mutex::new(BTreeSet::new()),
        });
        let cancel = CancellationToken::new();
        let spawn = |kind: Kind| {
            let ctx = ctx.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = run(ctx, kind) => {}
                }
            })
        };
        let tasks = vec![
            spawn(Kind::Connect),
            spawn(Kind::Ping),
            spawn(Kind::ReadOnly),
            spawn(Kind::ReplicationLag),
        ];
        Monitor { cancel, tasks }
    }

    /// Stops every check task (kept backend connections are closed in the background).
    pub fn stop(&self) {
        self.cancel.cancel();
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connect,
    Ping,
    ReadOnly,
    ReplicationLag,
}

/// State a task keeps across rounds.
#[derive(Default)]
struct TaskState {
    kept: Kept,
    /// Consecutive read_only timeouts per server.
    read_only_timeouts: HashMap<ServerAddr, u32>,
    /// Consecutive excessive replication-lag readings per (hostgroup, server).
    lag_counts: LagCounts,
}

async fn run(ctx: Arc<Ctx>, kind: Kind) {
    let mut vars = ctx.shared.mysql_vars.subscribe();
    let mut state = TaskState::default();
    loop {
        let s = MonitorSettings::from_vars(&vars.borrow_and_update());
        let started = Instant::now();
        let next = if s.enabled {
            let round = match kind {
                Kind::Connect => connect_round(&ctx, &s).await,
                Kind::Ping => ping_round(&ctx, &s, &mut state).await,
                Kind::ReadOnly => read_only_round(&ctx, &s, &mut state).await,
                Kind::ReplicationLag => replication_lag_round(&ctx, &s, &mut state).await,
            };
            if round.is_err() {
                return; // the engine stopped: the node is going down
            }
            let interval = match kind {
                Kind::Connect => s.connect_interval,
                Kind::Ping => s.ping_interval,
                Kind::ReadOnly => s.read_only_interval,
                Kind::ReplicationLag => s.replication_lag_interval,
            };
            Some(started + interval)
        } else {
            state = TaskState::default();
            if kind == Kind::Ping && release_shunned(&ctx).await.is_err() {
                return;
            }
            None
        };
        if !wait_next(&mut vars, next).await {
            return;
        }
    }
}

/// Brings back `ONLINE` the servers missed heartbeats had shunned (monitor switched off).
async fn release_shunned(ctx: &Ctx) -> Result<(), EngineGone> {
    let recover = ctx.health.lock().release_all();
    if recover.is_empty() {
        return Ok(());
    }
    let plan = ShunPlan {
        shun: BTreeSet::new(),
        recover,
    };
    ctx.admin
        .call(move |engine| apply_shun_plan(engine, &plan, Cause::MonitorDisabled))
        .await
}

/// Waits until `deadline` (forever if `None`) or a change of the running variables; false
/// when the variables channel closed.
async fn wait_next(vars: &mut watch::Receiver<Arc<Vars>>, deadline: Option<Instant>) -> bool {
    let sleep = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = sleep => true,
        changed = vars.changed() => changed.is_ok(),
    }
}

/// Runs each statement through the engine's internal SQL, logging failures as ProxySQL does.
fn write(engine: &Engine, statements: &[Statement]) {
    let mut exec = |sql: &str, params: &[&dyn ToSql]| engine.internal_sql(sql, params);
    for statement in statements {
        if let Err(e) = statement.run(&mut exec) {
            px_error!("Error on {} : {}", statement.sql, e);
        }
    }
}

/// Adds a round's probes to a `MySQL_Monitor_*_check_OK` / `_ERR` pair.
fn count_probes<T>(pair: &[std::sync::atomic::AtomicU64; 2], probes: &[Probe<T>]) {
    let failed = probes.iter().filter(|p| p.error().is_some()).count() as u64;
    let ok = probes.len() as u64 - failed;
    pair[0].fetch_add(ok, std::sync::atomic::Ordering::Relaxed);
    pair[1].fetch_add(failed, std::sync::atomic::Ordering::Relaxed);
}

/// Runs `check` over `targets`, at most `parallel` at a time, handing each its kept
/// connection and keeping the ones it gives back.
async fn check_all<T, F, Fut>(
    targets: Vec<ServerAddr>,
    kept: &mut Kept,
    parallel: usize,
    check: F,
) -> Vec<Probe<T>>
where
    F: Fn(ServerAddr, Option<Conn>) -> Fut,
    Fut: std::future::Future<Output = (Probe<T>, Option<Conn>)>,
{
    let jobs: Vec<_> = targets
        .into_iter()
        .map(|addr| {
            let conn = kept.remove(&addr);
            check(addr, conn)
        })
        .collect();
    let done: Vec<(Probe<T>, Option<Conn>)> = stream::iter(jobs)
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    let mut probes = Vec::with_capacity(done.len());
    for (probe, conn) in done {
        if let Some(conn) = conn {
            kept.insert(probe.addr.clone(), conn);
        }
        probes.push(probe);
    }
    probes.sort_by(|a, b| a.addr.cmp(&b.addr));
    probes
}

async fn connect_round(ctx: &Ctx, s: &MonitorSettings) -> Result<(), EngineGone> {
    let servers = ctx.shared.runtime.borrow().servers.clone();
    let mut targets = ctx.dialable(monitored_servers(&servers));
    {
        let health = ctx.health.lock();
        targets.retain(|a| health.responds(a, s.ping_max_failures));
    }
    let probes = check_all(
        targets,
        &mut Kept::new(),
        s.max_parallel_checks,
        |addr, _| async move { (checks::connect_check(addr, s).await, None) },
    )
    .await;
    count_probes(&ctx.shared.counters.monitor_connect, &probes);
    let mut statements = logs::insert_probes(LogTable::Connect, &probes);
    statements.push(logs::purge(LogTable::Connect, now_us(), s.ping_history()));
    ctx.admin
        .call(move |engine| write(engine, &statements))
        .await
}

async fn ping_round(
    ctx: &Ctx,
    s: &MonitorSettings,
    state: &mut TaskState,
) -> Result<(), EngineGone> {
    let servers = ctx.shared.runtime.borrow().servers.clone();
    let targets = ctx.dialable(monitored_servers(&servers));
    // Connections to servers that left the runtime are closed (on drop).
    state.kept.retain(|addr, _| targets.contains(addr));
    let probes = check_all(
        targets.clone(),
        &mut state.kept,
        s.max_parallel_checks,
        |addr, conn| checks::ping_check(addr, conn, s),
    )
    .await;
    let plan = {
        let mut health = ctx.health.lock();
        health.retain(&targets);
        for probe in &probes {
            health.record(&probe.addr, PingVerdict::of(probe.error()));
        }
        health.plan(&targets, s.ping_max_failures)
    };
    count_probes(&ctx.shared.counters.monitor_ping, &probes);
    let mut statements = logs::insert_probes(LogTable::Ping, &probes);
    statements.push(logs::purge(LogTable::Ping, now_us(), s.ping_history()));
    let max_failures = s.ping_max_failures;
    ctx.admin
        .call(move |engine| {
            write(engine, &statements);
            apply_shun_plan(engine, &plan, Cause::PingRound { max_failures });
        })
        .await
}

/// Why a shun plan is applied.
#[derive(Debug, Clone, Copy)]
enum Cause {
    /// The outcome of a ping round.
    PingRound { max_failures: u32 },
    /// `mysql-monitor_enabled=false`: release everything.
    MonitorDisabled,
}

fn apply_shun_plan(engine: &mut Engine, plan: &ShunPlan, cause: Cause) {
    if plan.shun.is_empty() && plan.recover.is_empty() {
        return;
    }
    let outcome = shunning::apply_plan(&engine.runtime().servers, plan);
    let max_failures = match cause {
        Cause::PingRound { max_failures } => max_failures,
        Cause::MonitorDisabled => 0,
    };
    for addr in &outcome.shunned {
        px_error!(
            "Server {}:{} missed {} heartbeats, shunning it and killing all the connections. Disabling other checks until the node comes back online.",
            addr.host,
            addr.port,
            max_failures
        );
    }
    for addr in &outcome.recovered {
        let why = match cause {
            Cause::PingRound { .. } => "it answers pings again",
            Cause::MonitorDisabled => "the monitor is disabled",
        };
        px_info!(
            "Server {}:{} was shunned for missed heartbeats and {}: setting it back ONLINE",
            addr.host,
            addr.port,
            why
        );
    }
    if let Some(servers) = outcome.servers {
        engine.set_runtime_servers(servers);
    }
}

async fn read_only_round(
    ctx: &Ctx,
    s: &MonitorSettings,
    state: &mut TaskState,
) -> Result<(), EngineGone> {
    let targets = {
        let rt = ctx.shared.runtime.borrow().clone();
        let hostgroups = rt
            .hostgroup_table("mysql_replication_hostgroups")
            .map(replication_hostgroups)
            .unwrap_or_default();
        let all = read_only_targets(&rt.servers, &hostgroups);
        let dialable = ctx.dialable(all.iter().map(|(a, _)| a.clone()).collect());
        let health = ctx.health.lock();
        all.into_iter()
            .filter(|(a, _)| dialable.contains(a) && health.responds(a, s.ping_max_failures))
            .collect::<HashMap<_, _>>()
    };
    state.kept.retain(|addr, _| targets.contains_key(addr));
    state
        .read_only_timeouts
        .retain(|addr, _| targets.contains_key(addr));
    let addrs: Vec<ServerAddr> = targets.keys().cloned().collect();
    let probes = check_all(
        addrs,
        &mut state.kept,
        s.max_parallel_checks,
        |addr, conn| {
            let check_type = targets[&addr];
            checks::read_only_check(addr, check_type, conn, s)
        },
    )
    .await;
    count_probes(&ctx.shared.counters.monitor_read_only, &probes);
    let mut results = Vec::new();
    for probe in &probes {
        match &probe.outcome {
            Ok((read_only, _)) => {
                state.read_only_timeouts.remove(&probe.addr);
                results.push(ReadOnlyResult {
                    addr: probe.addr.clone(),
                    read_only: *read_only,
                });
            }
            Err(e) if e.timeout => {
                let count = state
                    .read_only_timeouts
                    .entry(probe.addr.clone())
                    .or_insert(0);
                *count += 1;
                if *count >= s.read_only_max_timeout_count {
                    px_error!(
                        "Server {}:{} missed {} read_only checks. Assuming read_only=1",
                        probe.addr.host,
                        probe.addr.port,
                        s.read_only_max_timeout_count
                    );
                    results.push(ReadOnlyResult {
                        addr: probe.addr.clone(),
                        read_only: true,
                    });
                }
            }
            Err(_) => {
                state.read_only_timeouts.remove(&probe.addr);
            }
        }
    }
    let mut statements = logs::insert_read_only(&probes);
    statements.push(logs::purge(
        LogTable::ReadOnly,
        now_us(),
        s.read_only_history(),
    ));
    let also_reader = s.writer_is_also_reader;
    let verbose = s.hostgroup_manager_verbose;
    ctx.admin
        .call(move |engine| {
            write(engine, &statements);
            if !results.is_empty() {
                apply_read_only_results(engine, &results, also_reader, verbose);
            }
        })
        .await
}

async fn replication_lag_round(
    ctx: &Ctx,
    s: &MonitorSettings,
    state: &mut TaskState,
) -> Result<(), EngineGone> {
    let targets = {
        let servers = ctx.shared.runtime.borrow().servers.clone();
        let dialable = ctx.dialable(lag::lag_targets(&servers));
        let health = ctx.health.lock();
        dialable
            .into_iter()
            .filter(|a| health.responds(a, s.ping_max_failures))
            .collect::<Vec<_>>()
    };
    state.kept.retain(|addr, _| targets.contains(addr));
    let probes = check_all(
        targets,
        &mut state.kept,
        s.max_parallel_checks,
        |addr, conn| checks::replication_lag_check(addr, conn, s),
    )
    .await;
    count_probes(&ctx.shared.counters.monitor_replication_lag, &probes);
    let readings: Vec<(ServerAddr, LagReading)> = probes
        .iter()
        .map(|p| {
            let reading = match &p.outcome {
                Ok((reading, _)) => *reading,
                Err(_) => LagReading::Failed,
            };
            (p.addr.clone(), reading)
        })
        .collect();
    let mut statements = logs::insert_replication_lag(&probes);
    statements.push(logs::purge(
        LogTable::ReplicationLag,
        now_us(),
        s.replication_lag_history(),
    ));
    let rules = LagRules {
        count: s.replication_lag_count,
        when_null: s.slave_lag_when_null,
        group_by_host: s.replication_lag_group_by_host,
    };
    let mut counts = std::mem::take(&mut state.lag_counts);
    state.lag_counts = ctx
        .admin
        .call(move |engine| {
            write(engine, &statements);
            if !readings.is_empty() {
                let outcome =
                    lag::apply_lag(&engine.runtime().servers, &readings, rules, &mut counts);
                outcome.events.iter().for_each(log_lag_event);
                if let Some(servers) = outcome.servers {
                    engine.set_runtime_servers(servers);
                }
            }
            counts
        })
        .await?;
    Ok(())
}

fn log_lag_event(event: &LagEvent) {
    match event {
        LagEvent::NullLag { addr, used } => px_error!(
            "Replication lag on server {}:{} is NULL, using value {}",
            addr.host,
            addr.port,
            used
        ),
        LagEvent::NotYet {
            hostgroup,
            addr,
            lag,
            count,
            needed,
        } => px_info!(
            "Not shunning server {}:{} from HG {} with replication lag of {} second, count number: '{}' < replication_lag_count: '{}'",
            addr.host,
            addr.port,
            hostgroup,
            lag,
            count,
            needed
        ),
        LagEvent::Shunned {
            hostgroup,
            addr,
            lag,
            count,
        } => px_warn!(
            "Shunning server {}:{} from HG {} with replication lag of {} second, count number: '{}'",
            addr.host,
            addr.port,
            hostgroup,
            lag,
            count
        ),
        LagEvent::Reenabled {
            hostgroup,
            addr,
            lag,
        } => px_warn!(
            "Re-enabling server {}:{} from HG {} with replication lag of {} second",
            addr.host,
            addr.port,
            hostgroup,
            lag
        ),
    }
}

fn apply_read_only_results(
    engine: &mut Engine,
    results: &[ReadOnlyResult],
    writer_is_also_reader: bool,
    verbose: bool,
) {
    let rt = engine.runtime();
    let hostgroups = rt
        .hostgroup_table("mysql_replication_hostgroups")
        .map(replication_hostgroups)
        .unwrap_or_default();
    let outcome =
        replication::apply_read_only(&rt.servers, &hostgroups, results, writer_is_also_reader);
    for event in &outcome.events {
        log_move(event, verbose);
    }
    if outcome.changed() {
        engine.set_runtime_servers(outcome.servers);
    }
}

fn log_move(event: &MoveEvent, verbose: bool) {
    match event {
        MoveEvent::WriterNotFound(a) => px_info!(
            "Server '{}:{}' found with 'read_only=0', but not found as writer",
            a.host,
            a.port
        ),
        MoveEvent::WriterMissing(a) => px_info!(
            "Server '{}:{}' with 'read_only=0' found missing at some 'writer_hostgroup'",
            a.host,
            a.port
        ),
        MoveEvent::ReaderNotFound(a) => px_info!(
            "Server '{}:{}' found with 'read_only=1', but not found as reader",
            a.host,
            a.port
        ),
        MoveEvent::Created {
            hostgroup,
            addr,
            gtid_port,
            weight,
            status,
        } if verbose => px_info!(
            "Creating new server in HG {} : {}:{} , gtid_port={}, weight={}, status={}",
            hostgroup,
            addr.host,
            addr.port,
            gtid_port,
            weight,
            status_code(status)
        ),
        MoveEvent::Created { .. } | MoveEvent::Removed { .. } => {}
        MoveEvent::Regenerating(a) => px_info!(
            "Regenerating table 'mysql_servers' due to actions on server '{}:{}'",
            a.host,
            a.port
        ),
    }
}

/// ProxySQL's numeric server status (`MySerStatus`), as its hostgroup manager logs it.
fn status_code(status: &str) -> u8 {
    match status.to_ascii_uppercase().as_str() {
        "SHUNNED" => 1,
        "OFFLINE_SOFT" => 2,
        "OFFLINE_HARD" => 3,
        "SHUNNED_REPLICATION_LAG" => 4,
        _ => 0,
    }
}
