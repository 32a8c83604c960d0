//! Peer monitors (§6.1–§6.2): one task per row of `runtime_proxysql_servers`.
//!
//! The manager follows the runtime snapshot: every `LOAD PROXYSQL SERVERS TO RUNTIME` (local or
//! pulled) re-points the set of tasks. Each task connects to its peer with the cluster
//! credentials, checks `@@version`, registers with `PROXYSQL CLUSTER_NODE_UUID`, then polls
//! `GLOBAL_CHECKSUM()` every `admin-cluster_check_interval_ms`. All checksum processing and any
//! resulting pull run under one node-wide async mutex, so at most one sync runs at a time and
//! other peers' checks wait, as in ProxySQL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::peer::{self, PeerAddr, PeerConn, PeerError};
use super::pull::{self, Expected, PullKind};
use crate::node::admin::shared::{NodeShared, PeerStatsRows};
use crate::node::admin::AdminHandle;
use crate::proxysql::clock::unix_now;
use crate::proxysql::cluster::decision::{
    self, choose_peer, evaluate, evaluate_servers, PeerChoice, ServersPull, ServersSyncAlgorithm,
    Step,
};
use crate::proxysql::cluster::state::{
    ChecksumRow, DiffsBeforeSync, LocalModuleState, Module, PeerChecksums, PeerId, PerModule,
};
use crate::proxysql::cluster::trust::{self, Announcement, Distrust};
use crate::proxysql::log::Level;
use crate::{px_error, px_info, px_log, px_warn};

/// Connect timeout to peers (§6.2).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// What the node knows of one peer.
#[derive(Debug, Clone, Default)]
pub struct PeerEntry {
    /// `proxysql_servers.weight` (informational).
    pub weight: String,
    /// `proxysql_servers.comment`.
    pub comment: String,
    /// Per-module state.
    pub checksums: PeerChecksums,
    /// Last metrics fetch.
    pub metrics: Option<PeerMetrics>,
    /// Refused pulls per module (pxadm's lying-peer guard, [`trust`]).
    pub distrust: PerModule<Distrust>,
}

/// The peer's `stats_mysql_global` values ProxySQL keeps.
#[derive(Debug, Clone, Default)]
pub struct PeerMetrics {
    /// Duration of the metrics query.
    pub response_time_ms: u64,
    /// `ProxySQL_Uptime`.
    pub uptime_s: String,
    /// `Questions`.
    pub queries: String,
    /// `Client_Connections_connected`.
    pub client_connected: String,
    /// `Client_Connections_created`.
    pub client_created: String,
    /// When it was fetched.
    pub at: Option<Instant>,
}

/// The node list: every peer's state, behind the node-wide sync mutex.
pub type Nodes = Arc<Mutex<BTreeMap<PeerId, PeerEntry>>>;

/// Running cluster settings read from the admin variables at each check.
struct Settings {
    user: String,
    password: String,
    interval: Duration,
    status_frequency: u64,
    diffs: DiffsBeforeSync,
    servers_algorithm: ServersSyncAlgorithm,
    monitor_enabled: bool,
}

impl Settings {
    fn read(shared: &NodeShared) -> Settings {
        let vars = shared.admin_vars.borrow().clone();
        let num = |name: &str, default: u64| {
            vars.get(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let diffs = DiffsBeforeSync {
            admin_variables: num("admin-cluster_admin_variables_diffs_before_sync", 3),
            mysql_query_rules: num("admin-cluster_mysql_query_rules_diffs_before_sync", 3),
            mysql_servers: num("admin-cluster_mysql_servers_diffs_before_sync", 3),
            mysql_users: num("admin-cluster_mysql_users_diffs_before_sync", 3),
            mysql_variables: num("admin-cluster_mysql_variables_diffs_before_sync", 3),
            proxysql_servers: num("admin-cluster_proxysql_servers_diffs_before_sync", 3),
        };
        Settings {
            user: vars
                .get("admin-cluster_username")
                .cloned()
                .unwrap_or_default(),
            password: vars
                .get("admin-cluster_password")
                .cloned()
                .unwrap_or_default(),
            interval: Duration::from_millis(num("admin-cluster_check_interval_ms", 1000)),
            status_frequency: num("admin-cluster_check_status_frequency", 10),
            diffs,
            servers_algorithm: ServersSyncAlgorithm::from_value(num(
                "admin-cluster_mysql_servers_sync_algorithm",
                1,
            ))
            .unwrap_or(ServersSyncAlgorithm::RuntimeAndV2),
            // `lib/ProxySQL_Cluster.cpp` (2.7.2) resolves algorithm 3 with
            // `GloVars.global.monitor`, the `-M` flag, not with `mysql-monitor_enabled`.
            monitor_enabled: shared
                .monitor_module
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    fn save_to_disk(&self, shared: &NodeShared, kind: &PullKind) -> bool {
        shared
            .admin_var(pull::save_to_disk_variable(kind))
            .as_deref()
            == Some("true")
    }
}

/// Starts the manager that keeps one monitor task per configured peer.
pub fn start(admin: AdminHandle, shared: Arc<NodeShared>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let nodes: Nodes = Arc::new(Mutex::new(BTreeMap::new()));
        let mut tasks: BTreeMap<PeerId, (CancellationToken, JoinHandle<()>)> = BTreeMap::new();
        let mut runtime = shared.runtime.subscribe();
        let mut admin_vars = shared.admin_vars.subscribe();
        let mut last_diffs = Settings::read(&shared).diffs;
        loop {
            let wanted: BTreeMap<PeerId, (String, String)> = runtime
                .borrow_and_update()
                .proxysql_servers
                .rows
                .iter()
                .filter_map(|r| {
                    let host = r.first().cloned().flatten()?;
                    let port = r.get(1).cloned().flatten()?.parse().ok()?;
                    let weight = r.get(2).cloned().flatten().unwrap_or_default();
                    let comment = r.get(3).cloned().flatten().unwrap_or_default();
                    Some((PeerId { host, port }, (weight, comment)))
                })
                .collect();
            {
                let mut list = nodes.lock().await;
                tasks.retain(|peer, (cancel, _)| {
                    let keep = wanted.contains_key(peer);
                    if !keep {
                        cancel.cancel();
                        list.remove(peer);
                        shared
                            .cluster
                            .lock()
                            .remove(&(peer.host.clone(), peer.port));
                        px_info!(
                            "Destroyed Cluster Node Entry for host {}:{}",
                            peer.host,
                            peer.port
                        );
                    }
                    keep
                });
                for (peer, (weight, comment)) in &wanted {
                    let entry = list.entry(peer.clone()).or_default();
                    entry.weight.clone_from(weight);
                    entry.comment.clone_from(comment);
                    if !tasks.contains_key(peer) {
                        px_info!(
                            "Created new Cluster Node Entry for host {}:{}",
                            peer.host,
                            peer.port
                        );
                        let cancel = CancellationToken::new();
                        let task = tokio::spawn(peer_loop(
                            peer.clone(),
                            admin.clone(),
                            shared.clone(),
                            nodes.clone(),
                            cancel.clone(),
                        ));
                        tasks.insert(peer.clone(), (cancel, task));
                    }
                }
                publish_stats(&shared, &list);
            }
            tokio::select! {
                r = runtime.changed() => if r.is_err() { break },
                r = admin_vars.changed() => {
                    if r.is_err() { break }
                    // Re-enabling a module's sync forces every peer to be re-fetched (§4.1).
                    let diffs = Settings::read(&shared).diffs;
                    let reenabled = Module::ALL.iter().any(|m| last_diffs.get(*m) == 0 && diffs.get(*m) != 0);
                    if reenabled {
                        px_info!("Re-enabled previously disabled 'admin-cluster_*_diffs_before_sync'. Resetting global checksums to force Cluster re-sync.");
                        for e in nodes.lock().await.values_mut() {
                            e.checksums.reset_global_checksum();
                        }
                    }
                    last_diffs = diffs;
                }
            }
        }
        for (_, (cancel, _)) in tasks {
            cancel.cancel();
        }
    })
}

/// Renders the node list into the rows the stats tables are materialised from.
fn publish_stats(shared: &NodeShared, list: &BTreeMap<PeerId, PeerEntry>) {
    let mut out = BTreeMap::new();
    for (peer, entry) in list {
        let mut rows = PeerStatsRows::default();
        for (module, s) in entry.checksums.modules.iter() {
            rows.checksums.push(vec![
                Some(peer.host.clone()),
                Some(peer.port.to_string()),
                Some(module.name().to_string()),
                Some(s.version.to_string()),
                Some(s.epoch.to_string()),
                Some(s.checksum.clone()),
                Some(s.changed_at.to_string()),
                Some(s.updated_at.to_string()),
                Some(s.diff_check.to_string()),
            ]);
        }
        let m = entry.metrics.clone().unwrap_or_default();
        let last_check_ms =
            m.at.map(|at| at.elapsed().as_millis() as u64)
                .unwrap_or(u64::MAX / 1000);
        rows.metrics = vec![
            Some(peer.host.clone()),
            Some(peer.port.to_string()),
            Some(entry.weight.clone()),
            Some(entry.comment.clone()),
            Some(m.response_time_ms.to_string()),
            Some(if m.uptime_s.is_empty() {
                "0".into()
            } else {
                m.uptime_s.clone()
            }),
            Some(last_check_ms.to_string()),
            Some(if m.queries.is_empty() {
                "0".into()
            } else {
                m.queries.clone()
            }),
            Some(if m.client_connected.is_empty() {
                "0".into()
            } else {
                m.client_connected.clone()
            }),
            Some(if m.client_created.is_empty() {
                "0".into()
            } else {
                m.client_created.clone()
            }),
        ];
        out.insert((peer.host.clone(), peer.port), rows);
    }
    *shared.cluster.lock() = out;
}

async fn sleep_or_cancel(cancel: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// `PXADM_LOOPBACK_ONLY=1` confines a node's peer connections to loopback (tests and labs
/// that run configurations written for other hosts).
fn loopback_only() -> bool {
    std::env::var_os("PXADM_LOOPBACK_ONLY").is_some_and(|v| v != "0")
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The monitor loop for one peer (§6.2).
async fn peer_loop(
    peer: PeerId,
    admin: AdminHandle,
    shared: Arc<NodeShared>,
    nodes: Nodes,
    cancel: CancellationToken,
) {
    while !cancel.is_cancelled() {
        let settings = Settings::read(&shared);
        let mut c = match open_session(&peer, &shared, &settings).await {
            Ok(c) => c,
            Err(retry_after) => {
                if !sleep_or_cancel(&cancel, retry_after).await {
                    break;
                }
                continue;
            }
        };
        let retry_after = poll_session(&mut c, &peer, &admin, &shared, &nodes, &cancel).await;
        c.close().await;
        match retry_after {
            Some(wait) if sleep_or_cancel(&cancel, wait).await => {}
            _ => break,
        }
    }
    px_info!(
        "Cluster: closing thread for peer {}:{}",
        peer.host,
        peer.port
    );
}

/// Connects to a peer as ProxySQL does before polling it: cluster credentials set, a
/// loopback address under `PXADM_LOOPBACK_ONLY`, the identical version string (§6.2 step 3),
/// then `PROXYSQL CLUSTER_NODE_UUID`. On failure, logs why and says how long to wait before
/// the next try.
async fn open_session(
    peer: &PeerId,
    shared: &NodeShared,
    settings: &Settings,
) -> Result<PeerConn, Duration> {
    let (host, port) = (peer.host.as_str(), peer.port);
    if settings.user.is_empty() {
        return Err(Duration::from_secs(1));
    }
    let (real_host, real_port) = shared.resolve_peer(host, port);
    if loopback_only() && !is_loopback(&real_host) {
        px_warn!(
            "Cluster: not connecting to peer {}:{} : PXADM_LOOPBACK_ONLY is set and {} is not a loopback address (use --peer-map)",
            host,
            port,
            real_host
        );
        return Err(Duration::from_secs(5));
    }
    let addr = PeerAddr {
        host: real_host,
        port: real_port,
        user: settings.user.clone(),
        password: settings.password.clone(),
    };
    let mut c = match peer::connect(&addr, CONNECT_TIMEOUT).await {
        Ok(c) => c,
        Err(e) => {
            px_warn!(
                "Cluster: unable to connect to peer {}:{} . Error: {}",
                host,
                port,
                e.log_text()
            );
            return Err(settings.interval + Duration::from_secs(1));
        }
    };
    if let Err(retry_after) = check_version(&mut c, peer, shared, settings).await {
        c.close().await;
        return Err(retry_after);
    }
    let uuid = shared.uuid.read().clone();
    let ifaces = shared.admin_var("admin-mysql_ifaces").unwrap_or_default();
    px_info!(
        "Cluster: sending CLUSTER_NODE_UUID {} to peer {}:{}",
        uuid,
        host,
        port
    );
    let register = format!("PROXYSQL CLUSTER_NODE_UUID {uuid} {ifaces}");
    let started = Instant::now();
    if let Err(error) = c.query(&register).await {
        let failure = QueryFailure {
            query: register,
            elapsed_ms: started.elapsed().as_millis(),
            error,
        };
        query_failed(host, port, &settings.user, &failure);
        c.close().await;
        return Err(settings.interval);
    }
    Ok(c)
}

/// Only an identical version string clusters (§6.2 step 3); a different one is retried after
/// 30 s, as ProxySQL does.
async fn check_version(
    c: &mut PeerConn,
    peer: &PeerId,
    shared: &NodeShared,
    settings: &Settings,
) -> Result<(), Duration> {
    let (host, port) = (peer.host.as_str(), peer.port);
    match monitor_query(c, "SELECT @@version").await {
        Ok(rs) => {
            let remote = rs
                .rows
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .unwrap_or_default();
            if remote != shared.version {
                px_warn!(
                    "Cluster: different ProxySQL version with peer {}:{} . Remote: {} . Self: {}",
                    host,
                    port,
                    remote,
                    shared.version
                );
                return Err(Duration::from_secs(30));
            }
            px_info!(
                "Cluster: clustering with peer {}:{} . Remote version: {} . Self version: {}",
                host,
                port,
                remote,
                shared.version
            );
            Ok(())
        }
        Err(e) => {
            query_failed(host, port, &settings.user, &e);
            Err(settings.interval)
        }
    }
}

/// Checks the peer every `admin-cluster_check_interval_ms` until a query fails (then returns
/// how long to wait before reconnecting) or the monitor is cancelled (then `None`).
async fn poll_session(
    c: &mut PeerConn,
    peer: &PeerId,
    admin: &AdminHandle,
    shared: &Arc<NodeShared>,
    nodes: &Nodes,
    cancel: &CancellationToken,
) -> Option<Duration> {
    let mut successes: u64 = 0;
    loop {
        let started = Instant::now();
        let settings = Settings::read(shared);
        if let Err(e) = check_once(c, peer, admin, shared, nodes, &settings, &mut successes).await {
            query_failed(&peer.host, peer.port, &settings.user, &e);
            return Some(settings.interval);
        }
        let wait = settings.interval.saturating_sub(started.elapsed());
        if !sleep_or_cancel(cancel, wait).await {
            return None;
        }
    }
}

/// A failed peer query: what ran, for how long, and why it failed.
struct QueryFailure {
    query: String,
    elapsed_ms: u128,
    error: PeerError,
}

/// Runs one monitor query, remembering what failed for ProxySQL's error line.
async fn monitor_query(
    c: &mut PeerConn,
    sql: &str,
) -> Result<crate::proxysql::resultset::ResultSet, QueryFailure> {
    let started = Instant::now();
    c.query(sql).await.map_err(|error| QueryFailure {
        query: sql.to_string(),
        elapsed_ms: started.elapsed().as_millis(),
        error,
    })
}

fn query_failed(host: &str, port: u16, user: &str, f: &QueryFailure) {
    px_error!(
        "Cluster: unable to run query on {}:{} using user {} after {}ms : {} . Error: {}",
        host,
        port,
        user,
        f.elapsed_ms,
        f.query,
        f.error.log_text()
    );
}

/// What one poll of a peer brought back.
struct PeerPoll {
    /// `runtime_checksums_values`, fetched only when the global checksum moved.
    fetched: Option<Vec<ChecksumRow>>,
    /// Status metrics, fetched every `status_frequency` successes.
    metrics: Option<PeerMetrics>,
}

/// What evaluating one step of [`decision::EVALUATION_ORDER`] decided.
struct StepVerdict {
    /// The pull to run, if any.
    kind: Option<PullKind>,
    /// The module whose diffs threshold and peer choice apply.
    module: Module,
    /// The verdict's log lines.
    lines: Vec<(Level, String)>,
    /// The periodic sync warning logged with them, counted as a conflict.
    warning: Option<decision::SyncWarning>,
}

/// One iteration of the inner loop (§6.2 step 4) plus the sync evaluation (§6.3–§6.5).
async fn check_once(
    c: &mut PeerConn,
    peer: &PeerId,
    admin: &AdminHandle,
    shared: &Arc<NodeShared>,
    nodes: &Nodes,
    settings: &Settings,
    successes: &mut u64,
) -> Result<(), QueryFailure> {
    let poll = poll_peer(c, peer, nodes, settings, successes).await?;

    // Everything below holds the node list: one sync at a time, node-wide.
    let mut list = nodes.lock().await;
    let now = unix_now();
    record_poll(&mut list, peer, shared, settings, poll);
    publish_stats(shared, &list);

    let syncs_runtime = settings
        .servers_algorithm
        .syncs_runtime(settings.monitor_enabled);
    for step in decision::EVALUATION_ORDER {
        // Re-read: an earlier pull in this round changed the local state.
        let local = shared.checksums.lock().local().clone();
        let Some(entry) = list.get(peer) else { break };
        let verdict = evaluate_step(step, peer, entry, &local, settings, syncs_runtime);
        if verdict.kind.is_some() && is_skipped(&mut list, peer, verdict.module, now) {
            // Not a source: no "Proceeding with remote sync" every check.
            continue;
        }
        for (level, line) in verdict.lines {
            px_log!(level, "{}", line);
        }
        if let Some(warning) = verdict.warning {
            shared.cluster_counters.conflict(verdict.module, warning);
        }
        let Some(kind) = verdict.kind else { continue };
        if settings.diffs.get(verdict.module) == 0 {
            continue;
        }
        let backs_off = pull_from_chosen_peer(
            &mut list,
            admin,
            shared,
            settings,
            kind,
            verdict.module,
            now,
        )
        .await;
        if backs_off {
            // ProxySQL sleeps 1 s after a failed pull (outside the module mutex).
            drop(list);
            tokio::time::sleep(Duration::from_secs(1)).await;
            return Ok(());
        }
        // A proxysql_servers pull may have removed this very entry; it is evaluated last.
    }
    publish_stats(shared, &list);
    Ok(())
}

/// Asks the peer for its global checksum, its module checksums when that moved, and its
/// metrics when due.
async fn poll_peer(
    c: &mut PeerConn,
    peer: &PeerId,
    nodes: &Nodes,
    settings: &Settings,
    successes: &mut u64,
) -> Result<PeerPoll, QueryFailure> {
    let rs = monitor_query(c, "SELECT GLOBAL_CHECKSUM()").await?;
    let global: u64 = rs
        .rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let changed = {
        let mut list = nodes.lock().await;
        list.entry(peer.clone())
            .or_default()
            .checksums
            .note_global_checksum(global)
    };
    let fetched = if changed {
        let rs = monitor_query(c, "SELECT * FROM runtime_checksums_values ORDER BY name").await?;
        Some(ChecksumRow::parse_resultset(&rs).map_err(|e| QueryFailure {
            query: "SELECT * FROM runtime_checksums_values ORDER BY name".into(),
            elapsed_ms: 0,
            error: PeerError::UnexpectedResult(e.to_string()),
        })?)
    } else {
        None
    };
    *successes += 1;
    let metrics = if settings.status_frequency > 0 && *successes >= settings.status_frequency {
        *successes = 0;
        Some(fetch_metrics(c).await?)
    } else {
        None
    };
    Ok(PeerPoll { fetched, metrics })
}

/// The peer's `stats_mysql_global` figures shown in `stats_proxysql_servers_metrics`.
async fn fetch_metrics(c: &mut PeerConn) -> Result<PeerMetrics, QueryFailure> {
    let t = Instant::now();
    let rs = monitor_query(c, "SELECT * FROM stats_mysql_global ORDER BY Variable_Name").await?;
    let get = |name: &str| {
        rs.rows
            .iter()
            .find(|r| r.first().cloned().flatten().as_deref() == Some(name))
            .and_then(|r| r.get(1).cloned().flatten())
            .unwrap_or_default()
    };
    Ok(PeerMetrics {
        response_time_ms: t.elapsed().as_millis() as u64,
        uptime_s: get("ProxySQL_Uptime"),
        queries: get("Questions"),
        client_connected: get("Client_Connections_connected"),
        client_created: get("Client_Connections_created"),
        at: Some(Instant::now()),
    })
}

/// Stores a poll in the peer's entry: fetched rows are compared with the local checksums,
/// an unchanged peer only ages (diff counters move on).
fn record_poll(
    list: &mut BTreeMap<PeerId, PeerEntry>,
    peer: &PeerId,
    shared: &NodeShared,
    settings: &Settings,
    poll: PeerPoll,
) {
    let now = unix_now();
    let local = shared.checksums.lock().local().clone();
    let entry = list.entry(peer.clone()).or_default();
    match &poll.fetched {
        Some(rows) => {
            for ev in entry
                .checksums
                .apply_fetched_rows(rows, &local, &settings.diffs, now)
            {
                px_log!(ev.level(), "{}", ev.log_line(&peer.host, peer.port));
            }
        }
        None => entry.checksums.age_without_fetch(&local, now),
    }
    if poll.metrics.is_some() {
        entry.metrics = poll.metrics;
    }
}

/// The verdict of one evaluation step for this peer: whether (and what) to pull.
fn evaluate_step(
    step: Step,
    peer: &PeerId,
    entry: &PeerEntry,
    local: &PerModule<LocalModuleState>,
    settings: &Settings,
    syncs_runtime: bool,
) -> StepVerdict {
    match step {
        Step::Module(module) => {
            let d = settings.diffs.get(module);
            let p = entry.checksums.get(module);
            let own = local.get(module);
            let v = evaluate(module, p, own, d);
            StepVerdict {
                kind: v.pull.then_some(PullKind::Module(module)),
                module,
                lines: v.log_lines(&peer.host, peer.port, p, own, d),
                warning: v.warning,
            }
        }
        Step::Servers => {
            let d = settings.diffs.get(Module::MysqlServersV2);
            let sv = evaluate_servers(&entry.checksums.modules, local, d, syncs_runtime);
            let mut lines = sv.v2.log_lines(
                &peer.host,
                peer.port,
                entry.checksums.get(Module::MysqlServersV2),
                local.get(Module::MysqlServersV2),
                d,
            );
            if let Some(rt) = sv.runtime {
                lines.extend(rt.log_lines(
                    &peer.host,
                    peer.port,
                    entry.checksums.get(Module::MysqlServers),
                    local.get(Module::MysqlServers),
                    d,
                ));
            }
            if let Some(l) = sv.pull.fetch_log_line(&peer.host, peer.port) {
                lines.push((Level::Info, l));
            }
            let (kind, module) = match sv.pull {
                ServersPull::None => (None, Module::MysqlServersV2),
                ServersPull::V2 { with_runtime } => (
                    Some(PullKind::ServersV2 { with_runtime }),
                    Module::MysqlServersV2,
                ),
                ServersPull::RuntimeOnly => (Some(PullKind::RuntimeServers), Module::MysqlServers),
            };
            StepVerdict {
                kind,
                module,
                lines,
                warning: sv.v2.warning,
            }
        }
    }
}

/// Whether `peer` is no source of `module` now ([`trust::skip`]); logs why when a skip starts.
fn is_skipped(
    list: &mut BTreeMap<PeerId, PeerEntry>,
    peer: &PeerId,
    module: Module,
    now: u64,
) -> bool {
    let Some(entry) = list.get_mut(peer) else {
        return false;
    };
    let skip = trust::skip(
        entry.checksums.get(module),
        entry.distrust.get(module),
        now,
        trust::DEFAULT_FUTURE_EPOCH_TOLERANCE_S,
    );
    let record = entry.distrust.get_mut(module);
    match skip {
        Some(s) => {
            if !record.logged.as_ref().is_some_and(|l| l.same_as(&s)) {
                px_warn!("{}", s.log_line(module, peer));
                record.logged = Some(s);
            }
            true
        }
        None => {
            record.logged = None;
            false
        }
    }
}

/// Chooses the source among all peers (§6.5: the peer that triggered the decision is not
/// necessarily the source), leaving out the peers [`trust`] skips, and pulls `kind` from it.
/// A pull refused for a checksum mismatch counts against its source. True when the caller
/// must back off.
async fn pull_from_chosen_peer(
    list: &mut BTreeMap<PeerId, PeerEntry>,
    admin: &AdminHandle,
    shared: &Arc<NodeShared>,
    settings: &Settings,
    kind: PullKind,
    module: Module,
    now: u64,
) -> bool {
    let d = settings.diffs.get(module);
    let ids: Vec<PeerId> = list.keys().cloned().collect();
    let trusted: Vec<PeerId> = ids
        .into_iter()
        .filter(|id| !is_skipped(list, id, module, now))
        .collect();
    let entries: Vec<(PeerId, &crate::proxysql::cluster::state::PeerModuleState)> = trusted
        .iter()
        .filter_map(|id| Some((id.clone(), list.get(id)?.checksums.get(module))))
        .collect();
    let choice = choose_peer(module, &entries, d);
    if let Some((level, line)) = choice.log_line() {
        px_log!(level, "{}", line);
    }
    let PeerChoice::Selected {
        peer: source,
        checksum,
        epoch,
        version,
        ..
    } = choice
    else {
        return false;
    };
    let announced = Announcement {
        version,
        epoch,
        checksum: checksum.clone(),
    };
    let runtime_expected = list.get(&source).map(|e| {
        let s = e.checksums.get(Module::MysqlServers);
        (s.checksum.clone(), s.epoch)
    });
    let expected = Expected {
        checksum,
        epoch,
        runtime: runtime_expected,
    };
    let save = settings.save_to_disk(shared, &kind);
    let csi = false;
    let connect_to = shared.resolve_peer(&source.host, source.port);
    let silent_mismatch = kind == PullKind::RuntimeServers;
    let result = pull::pull(
        admin,
        &source,
        connect_to,
        (&settings.user, &settings.password),
        kind,
        expected,
        save,
        csi,
    )
    .await;
    shared.cluster_counters.pulled(module, result.is_ok());
    if let Some(record) = list.get_mut(&source).map(|e| e.distrust.get_mut(module)) {
        match &result {
            Ok(()) => record.verified(),
            Err(pull::PullError::ChecksumMismatch { .. }) if !silent_mismatch => {
                record.refused(announced)
            }
            Err(_) => {}
        }
    }
    match &result {
        Ok(()) => false,
        // A runtime-servers mismatch is ignored without a pause (§6.6).
        Err(pull::PullError::ChecksumMismatch { .. }) => !silent_mismatch,
        Err(_) => true,
    }
}
