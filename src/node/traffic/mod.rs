//! The MySQL traffic side (spec §7): the listener on `mysql-interfaces`, client sessions,
//! query routing, backend connection pools and the traffic statistics.
//!
//! [`Traffic::start`] builds a [`TrafficShared`] from the runtime snapshot, follows every
//! later load, binds the listeners and runs pool maintenance. The monitor
//! ([`crate::node::monitor`]) works on the same [`TrafficShared`] to shun servers and to
//! record their latency; the admin engine reads the statistics through [`stats_tables`].
//!
//! Layout: [`session`] (one client), [`backend`] (the client side towards MariaDB),
//! [`packets`] (following responses without decoding rows), [`hostgroups`] (pools, shunning,
//! selection), [`rules`] (the query processor), [`digest`], [`state`] (statement
//! classification and session variables), [`config`], [`stats`].

pub mod backend;
pub mod config;
pub mod counters;
pub mod digest;
pub mod hostgroups;
pub mod packets;
pub mod rules;
mod session;
pub mod state;
pub mod stats;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use config::TrafficConfig;
use hostgroups::{ServerEntry, ServerKey};
use stats::TrafficStats;

use crate::node::admin::runtime_layer::Runtime;
use crate::node::admin::shared::{NodeShared, Vars};
use crate::proxysql::ifaces::parse_ifaces;
use crate::proxysql::resultset::ResultSet;
use crate::proxysql::statement::TableAccess;
use crate::{px_error, px_info, px_warn};

/// State shared by the listener, every session, the pool maintenance and the monitor.
pub struct TrafficShared {
    /// The node's shared state (counters, runtime).
    pub node: Arc<NodeShared>,
    config: watch::Sender<Arc<TrafficConfig>>,
    registry: Mutex<HashMap<ServerKey, Arc<ServerEntry>>>,
    /// Statistics.
    pub stats: TrafficStats,
    next_session: AtomicU32,
    next_conn: AtomicU64,
    generation: AtomicU64,
}

impl TrafficShared {
    /// Shared state built from the node's current runtime and mysql variables, registered
    /// so the admin engine finds its statistics.
    pub fn new(node: Arc<NodeShared>) -> Arc<TrafficShared> {
        let shared = Arc::new(TrafficShared {
            node: node.clone(),
            config: watch::channel(Arc::new(TrafficConfig::empty())).0,
            registry: Mutex::new(HashMap::new()),
            stats: TrafficStats::default(),
            next_session: AtomicU32::new(1),
            next_conn: AtomicU64::new(1),
            generation: AtomicU64::new(0),
        });
        let rt = node.runtime.borrow().clone();
        let vars = node.mysql_vars.borrow().clone();
        shared.rebuild(&rt, &vars);
        let mut registry = REGISTRY.lock();
        registry.retain(|(_, w)| w.strong_count() > 0);
        registry.push((Arc::as_ptr(&node) as usize, Arc::downgrade(&shared)));
        shared
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<TrafficConfig> {
        self.config.borrow().clone()
    }

    fn subscribe(&self) -> watch::Receiver<Arc<TrafficConfig>> {
        self.config.subscribe()
    }

    /// Rebuilds the configuration from a runtime snapshot and running mysql variables.
    pub fn rebuild(&self, rt: &Runtime, mysql_vars: &Vars) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let (cfg, notes) = {
            let mut registry = self.registry.lock();
            let built = TrafficConfig::build(rt, mysql_vars, &mut registry, generation);
            for entry in registry.values() {
                entry.set_totals(&self.stats.global);
            }
            built
        };
        for note in notes {
            px_warn!("{}", note);
        }
        self.config.send_replace(Arc::new(cfg));
    }

    /// Every server entry (all hostgroups), ordered by hostgroup, host, port.
    pub fn servers(&self) -> Vec<Arc<ServerEntry>> {
        let mut v: Vec<_> = self.registry.lock().values().cloned().collect();
        v.sort_by(|a, b| (a.hostgroup, &a.host, a.port).cmp(&(b.hostgroup, &b.host, b.port)));
        v
    }

    /// The entries of one physical server, in every hostgroup.
    pub fn servers_at(&self, host: &str, port: u16) -> Vec<Arc<ServerEntry>> {
        self.registry
            .lock()
            .values()
            .filter(|s| s.host == host && s.port == port)
            .cloned()
            .collect()
    }

    fn next_session_id(&self) -> u32 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// `stats_mysql_connection_pool` rows.
    pub fn connection_pool_table(&self) -> ResultSet {
        let mut rs = ResultSet::with_columns([
            "hostgroup",
            "srv_host",
            "srv_port",
            "status",
            "ConnUsed",
            "ConnFree",
            "ConnOK",
            "ConnERR",
            "MaxConnUsed",
            "Queries",
            "Queries_GTID_sync",
            "Bytes_data_sent",
            "Bytes_data_recv",
            "Latency_us",
        ]);
        for s in self.servers() {
            let st = s.stats();
            rs.rows.push(vec![
                Some(st.hostgroup.to_string()),
                Some(st.host),
                Some(st.port.to_string()),
                Some(st.status.name().to_string()),
                Some(st.used.to_string()),
                Some(st.free.to_string()),
                Some(st.conn_ok.to_string()),
                Some(st.conn_err.to_string()),
                Some(st.max_used.to_string()),
                Some(st.queries.to_string()),
                Some("0".into()),
                Some(st.bytes_sent.to_string()),
                Some(st.bytes_recv.to_string()),
                Some(st.latency_us.to_string()),
            ]);
        }
        rs
    }

    /// `stats_mysql_query_rules` rows.
    pub fn query_rules_table(&self) -> ResultSet {
        let mut rs = ResultSet::with_columns(["rule_id", "hits"]);
        for r in self.config().rules.rules() {
            rs.rows.push(vec![
                Some(r.rule_id.to_string()),
                Some(r.hits().to_string()),
            ]);
        }
        rs
    }

    /// `stats_mysql_users` rows.
    pub fn users_table(&self) -> ResultSet {
        let cfg = self.config();
        let mut users: Vec<(String, u32)> = cfg
            .users
            .values()
            .map(|u| (u.username.clone(), u.max_connections))
            .collect();
        users.sort();
        self.stats.users_table(&users)
    }
}

/// Traffic state per node, so the admin engine can find the statistics of its own node.
static REGISTRY: Mutex<Vec<(usize, Weak<TrafficShared>)>> = Mutex::new(Vec::new());

fn traffic_of(node: &NodeShared) -> Option<Arc<TrafficShared>> {
    let key = node as *const NodeShared as usize;
    REGISTRY
        .lock()
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, w)| w.upgrade())
}

/// `KILL CONNECTION <id>` from the admin interface: closes the MySQL session `id` of this
/// node; false when none runs (or traffic is off).
pub fn kill_session(node: &NodeShared, id: u32) -> bool {
    traffic_of(node).is_some_and(|t| t.stats.kill_process(id))
}

/// The traffic statistics tables a statement names, as `(schema-qualified table, rows)` for
/// the admin's materialisation on read (§2.4).
pub fn stats_tables(node: &NodeShared, tables: &TableAccess) -> Vec<(&'static str, ResultSet)> {
    let Some(t) = traffic_of(node) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let pool_reset = tables.mentions("stats_mysql_connection_pool_reset");
    if pool_reset || tables.mentions("stats_mysql_connection_pool") {
        let rs = t.connection_pool_table();
        if pool_reset {
            out.push(("stats.stats_mysql_connection_pool_reset", rs.clone()));
        }
        out.push(("stats.stats_mysql_connection_pool", rs));
    }
    // Reading the _reset table empties the digests, so the plain table is emptied with it.
    if tables.mentions("stats_mysql_query_digest_reset") {
        out.push((
            "stats.stats_mysql_query_digest_reset",
            t.stats.digest_table(true),
        ));
        out.push(("stats.stats_mysql_query_digest", ResultSet::default()));
    } else if tables.mentions("stats_mysql_query_digest") {
        out.push((
            "stats.stats_mysql_query_digest",
            t.stats.digest_table(false),
        ));
    }
    // As digests: reading the _reset table empties the errors.
    if tables.mentions("stats_mysql_errors_reset") {
        out.push(("stats.stats_mysql_errors_reset", t.stats.errors_table(true)));
        out.push(("stats.stats_mysql_errors", ResultSet::default()));
    } else if tables.mentions("stats_mysql_errors") {
        out.push(("stats.stats_mysql_errors", t.stats.errors_table(false)));
    }
    if tables.mentions("stats_mysql_commands_counters") {
        out.push((
            "stats.stats_mysql_commands_counters",
            t.stats.commands_table(),
        ));
    }
    if tables.mentions("stats_mysql_processlist") {
        out.push(("stats.stats_mysql_processlist", t.stats.processlist_table()));
    }
    if tables.mentions("stats_mysql_query_rules") {
        out.push(("stats.stats_mysql_query_rules", t.query_rules_table()));
    }
    if tables.mentions("stats_mysql_users") {
        out.push(("stats.stats_mysql_users", t.users_table()));
    }
    out
}

/// The traffic side's rows of `stats_mysql_global` (name, value); empty when traffic is off.
/// Gauges come from the live state, the rest from [`counters::GlobalCounters`].
pub fn global_status(node: &NodeShared) -> Vec<(&'static str, u64)> {
    let Some(t) = traffic_of(node) else {
        return Vec::new();
    };
    let g = &t.stats.global;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let sessions = t.stats.process_count() as u64;
    let servers = t.servers();
    let backend_conns: u64 = servers
        .iter()
        .map(|s| {
            let st = s.stats();
            u64::from(st.used) + u64::from(st.free)
        })
        .sum();
    let pool_bytes = servers.len() * std::mem::size_of::<ServerEntry>()
        + backend_conns as usize * std::mem::size_of::<backend::BackendConn>();
    vec![
        ("Client_Connections_non_idle", sessions),
        (
            "mysql_backend_buffers_bytes",
            backend_conns * backend::CONN_BUFFER_BYTES as u64,
        ),
        (
            "mysql_frontend_buffers_bytes",
            sessions * session::CLIENT_BUFFER_BYTES as u64,
        ),
        (
            "mysql_session_internal_bytes",
            sessions * session::SESSION_BYTES as u64,
        ),
        ("Com_autocommit", load(&g.com_autocommit)),
        ("Com_autocommit_filtered", load(&g.com_autocommit_filtered)),
        ("Com_commit", load(&g.com_commit)),
        ("Com_commit_filtered", load(&g.com_commit_filtered)),
        ("Com_rollback", load(&g.com_rollback)),
        ("Com_rollback_filtered", load(&g.com_rollback_filtered)),
        ("Com_backend_change_user", load(&g.com_backend_change_user)),
        ("Com_backend_init_db", load(&g.com_backend_init_db)),
        ("Com_backend_set_names", load(&g.com_backend_set_names)),
        ("Com_frontend_init_db", load(&g.com_frontend_init_db)),
        ("Com_frontend_set_names", load(&g.com_frontend_set_names)),
        ("Com_frontend_use_db", load(&g.com_frontend_use_db)),
        (
            "Com_backend_stmt_prepare",
            load(&g.com_backend_stmt_prepare),
        ),
        (
            "Com_backend_stmt_execute",
            load(&g.com_backend_stmt_execute),
        ),
        ("Com_backend_stmt_close", load(&g.com_backend_stmt_close)),
        (
            "Com_frontend_stmt_prepare",
            load(&g.com_frontend_stmt_prepare),
        ),
        (
            "Com_frontend_stmt_execute",
            load(&g.com_frontend_stmt_execute),
        ),
        ("Com_frontend_stmt_close", load(&g.com_frontend_stmt_close)),
        ("Queries_backends_bytes_recv", load(&g.backend_bytes_recv)),
        ("Queries_backends_bytes_sent", load(&g.backend_bytes_sent)),
        ("Queries_frontends_bytes_recv", load(&g.frontend_bytes_recv)),
        ("Queries_frontends_bytes_sent", load(&g.frontend_bytes_sent)),
        (
            "Query_Processor_time_nsec",
            load(&g.query_processor_time_nsec),
        ),
        ("Backend_query_time_nsec", load(&g.backend_query_time_nsec)),
        (
            "ConnPool_get_conn_immediate",
            load(&g.connpool_get_conn_immediate),
        ),
        (
            "ConnPool_get_conn_success",
            load(&g.connpool_get_conn_success),
        ),
        (
            "ConnPool_get_conn_failure",
            load(&g.connpool_get_conn_failure),
        ),
        (
            "mysql_killed_backend_connections",
            load(&g.killed_backend_connections),
        ),
        (
            "mysql_killed_backend_queries",
            load(&g.killed_backend_queries),
        ),
        ("generated_error_packets", load(&g.generated_error_packets)),
        (
            "Selects_for_update__autocommit0",
            load(&g.selects_for_update_autocommit0),
        ),
        (
            "Access_Denied_Max_User_Connections",
            load(&g.access_denied_max_user_connections),
        ),
        ("MyHGM_myconnpoll_get", load(&g.myconnpoll_get)),
        ("MyHGM_myconnpoll_get_ok", load(&g.myconnpoll_get_ok)),
        ("MyHGM_myconnpoll_push", load(&g.myconnpoll_push)),
        ("MyHGM_myconnpoll_destroy", load(&g.myconnpoll_destroy)),
        ("MyHGM_myconnpoll_reset", load(&g.myconnpoll_reset)),
        ("ConnPool_memory_bytes", pool_bytes as u64),
    ]
}

/// `stats_mysql_connection_pool` rows now (empty when traffic is off), for the metrics.
pub fn connection_pool(node: &NodeShared) -> ResultSet {
    traffic_of(node)
        .map(|t| t.connection_pool_table())
        .unwrap_or_default()
}

/// Rough bytes of the traffic side's tables, for `stats_memory_metrics`: (user table,
/// digest map, query rules).
pub fn memory_figures(node: &NodeShared) -> (u64, u64, u64) {
    let Some(t) = traffic_of(node) else {
        return (0, 0, 0);
    };
    let cfg = t.config();
    let auth: usize = cfg
        .users
        .values()
        .map(|u| std::mem::size_of::<config::UserEntry>() + u.username.len() * 2)
        .sum();
    let rules = std::mem::size_of_val(cfg.rules.rules());
    (auth as u64, t.stats.digest_memory(), rules as u64)
}

/// Live statuses of the servers (automatic shunning shows here but not in the config),
/// for `runtime_mysql_servers`.
pub fn live_server_statuses(node: &NodeShared) -> HashMap<ServerKey, &'static str> {
    traffic_of(node)
        .map(|t| {
            t.servers()
                .into_iter()
                .map(|s| (s.key(), s.status().runtime_name()))
                .collect()
        })
        .unwrap_or_default()
}

/// The running traffic side of a node.
pub struct Traffic {
    shared: Arc<TrafficShared>,
    interfaces: Vec<String>,
    listeners: Vec<CancellationToken>,
    tasks: Vec<JoinHandle<()>>,
}

impl Traffic {
    /// Starts following the runtime, binds `interfaces` (the `--mysql` override) or else the
    /// running `mysql-interfaces` (read once: it cannot change at runtime), and starts the
    /// pool maintenance. A listener that cannot be bound is logged, not fatal.
    pub async fn start(node: Arc<NodeShared>, interfaces: Option<String>) -> Traffic {
        let shared = TrafficShared::new(node.clone());
        let follower = {
            let shared = shared.clone();
            let mut runtime = node.runtime.subscribe();
            let mut vars = node.mysql_vars.subscribe();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        r = runtime.changed() => if r.is_err() { break },
                        r = vars.changed() => if r.is_err() { break },
                    }
                    let rt = runtime.borrow_and_update().clone();
                    let v = vars.borrow_and_update().clone();
                    shared.rebuild(&rt, &v);
                }
            })
        };
        let maintenance = tokio::spawn(maintain_pools(shared.clone()));
        let configured = interfaces.unwrap_or_else(|| {
            node.mysql_var("mysql-interfaces")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "0.0.0.0:6033".to_string())
        });
        let mut tasks = vec![follower, maintenance];
        // Connections the node's VRRP instance accepts on the VIP while it is MASTER.
        if let Some(vip) = node.vip_connections.lock().take() {
            tasks.push(tokio::spawn(serve_vip(vip, shared.clone())));
        }
        let mut traffic = Traffic {
            shared,
            interfaces: parse_ifaces(&configured),
            listeners: Vec::new(),
            tasks,
        };
        traffic.bind_all().await;
        traffic
    }

    /// The shared state (for the monitor).
    pub fn shared(&self) -> &Arc<TrafficShared> {
        &self.shared
    }

    /// Addresses the listeners were asked to bind.
    pub fn interfaces(&self) -> &[String] {
        &self.interfaces
    }

    async fn bind_all(&mut self) {
        for addr in self.interfaces.clone() {
            match TcpListener::bind(&addr).await {
                Ok(listener) => {
                    px_info!(
                        "MySQL traffic listening on {}",
                        listener
                            .local_addr()
                            .map_or(addr.clone(), |a| a.to_string())
                    );
                    let token = CancellationToken::new();
                    self.listeners.push(token.clone());
                    tokio::spawn(accept_loop(listener, token, self.shared.clone()));
                }
                Err(e) => px_error!("Unable to bind MySQL traffic listener on {}: {}", addr, e),
            }
        }
    }

    /// `PROXYSQL PAUSE`: closes the listeners; sessions in progress continue.
    pub fn pause(&mut self) {
        // The admin engine sets `traffic_paused` before it asks for this, so that PAUSE and
        // RESUME in quick succession answer from a flag these late updates cannot undo.
        for token in self.listeners.drain(..) {
            token.cancel();
        }
        px_info!("MySQL traffic listeners paused");
    }

    /// `PROXYSQL RESUME`: binds the listeners again.
    pub async fn resume(&mut self) {
        if self.listeners.is_empty() {
            // Let the closed sockets go before binding the same addresses again.
            tokio::task::yield_now().await;
            self.bind_all().await;
        }
    }

    /// Closes the listeners and stops the background tasks.
    pub fn stop(&mut self) {
        for token in self.listeners.drain(..) {
            token.cancel();
        }
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(listener: TcpListener, stop: CancellationToken, shared: Arc<TrafficShared>) {
    let local = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                // The address the client actually reached (matters for 0.0.0.0 listeners).
                let local = stream.local_addr().unwrap_or(local);
                tokio::spawn(session::serve(stream, peer, local, shared.clone()));
            }
            Err(e) => {
                px_error!("MySQL traffic accept failed: {}", e);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves the connections accepted on the VIP like the listener's own. While paused
/// (`PROXYSQL PAUSE`) they are closed at once: the VIP must not keep serving a proxy that
/// refuses clients on its own listener.
async fn serve_vip(
    mut conns: tokio::sync::mpsc::Receiver<(tokio::net::TcpStream, SocketAddr)>,
    shared: Arc<TrafficShared>,
) {
    while let Some((stream, peer)) = conns.recv().await {
        if shared.node.traffic_paused.load(Ordering::Relaxed) {
            continue;
        }
        match stream.local_addr() {
            Ok(local) => {
                tokio::spawn(session::serve(stream, peer, local, shared.clone()));
            }
            // Reset by the client before we looked: nothing to serve.
            Err(_) => continue,
        }
    }
}

/// Keeps idle pooled connections healthy: those idle longer than
/// `mysql-ping_interval_server_msec` are pinged (and dropped if dead), and each pool keeps
/// at most `mysql-free_connections_pct` of its `max_connections` idle.
async fn maintain_pools(shared: Arc<TrafficShared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let cfg = shared.config();
        let idle_ms = cfg.vars.ping_interval_server_ms.max(1000);
        for server in shared.servers() {
            let cap = (u64::from(cfg.vars.free_connections_pct)
                * u64::from(server.max_connections())
                / 100)
                .max(1) as usize;
            for mut conn in server.take_idle(idle_ms, cap) {
                if conn.ping().await {
                    server.account(&mut conn);
                    server.put_back_idle(conn);
                } else {
                    server.account(&mut conn);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_found_per_node() {
        let (node, _rx) = NodeShared::new("v".into());
        assert!(
            stats_tables(&node, &TableAccess::of("select * from stats_mysql_users")).is_empty()
        );
        let shared = TrafficShared::new(node.clone());
        let tables = stats_tables(
            &node,
            &TableAccess::of("select * from stats.stats_mysql_commands_counters"),
        );
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].1.rows.len(), 54);
        drop(shared);
        assert!(
            stats_tables(&node, &TableAccess::of("select * from stats_mysql_users")).is_empty()
        );
    }
}
