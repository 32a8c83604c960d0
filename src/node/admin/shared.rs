//! State shared between the admin engine thread and the node's async tasks.
//!
//! The engine is the only writer of configuration; tasks observe it through `watch` channels
//! (listeners rebind on `admin-mysql_ifaces`, peer monitors follow `runtime_proxysql_servers`,
//! the traffic side follows the runtime snapshot) and report back through counters and the
//! cluster view that the stats tables are materialised from.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::runtime_layer::Runtime;
use crate::node::vip::VipStatus;
use crate::proxysql::checksum::table::ChecksumTable;
use crate::proxysql::columns::{PEER_CHECKSUMS_COLUMNS, PEER_METRICS_COLUMNS};
use crate::proxysql::global_status::STATS_MYSQL_GLOBAL;
use crate::proxysql::resultset::ResultSet;

/// Requests from the engine to the node supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeControl {
    /// `PROXYSQL KILL` / `SHUTDOWN`: exit at once, like kill -9.
    Kill,
    /// `PROXYSQL SHUTDOWN SLOW`: graceful exit.
    Shutdown,
    /// `PROXYSQL RESTART`.
    Restart,
    /// `PROXYSQL PAUSE`: close the traffic listeners.
    PauseTraffic,
    /// `PROXYSQL RESUME`: reopen them.
    ResumeTraffic,
    /// `PROXYSQL STOP`.
    StopTraffic,
    /// `PROXYSQL START`.
    StartTraffic,
}

/// Running variables of one module.
pub type Vars = BTreeMap<String, String>;

/// Traffic and admin counters reported in `stats_mysql_global`.
#[derive(Debug, Default)]
pub struct Counters {
    /// `Questions`.
    pub questions: AtomicU64,
    /// `Client_Connections_connected`.
    pub client_connected: AtomicU64,
    /// `Client_Connections_created`.
    pub client_created: AtomicU64,
    /// `Client_Connections_aborted`.
    pub client_aborted: AtomicU64,
    /// `Server_Connections_connected`.
    pub server_connected: AtomicU64,
    /// `Server_Connections_created`.
    pub server_created: AtomicU64,
    /// `Server_Connections_aborted`.
    pub server_aborted: AtomicU64,
    /// `Access_Denied_Wrong_Password`.
    pub access_denied_wrong_password: AtomicU64,
    /// `Active_Transactions`.
    pub active_transactions: AtomicU64,
    /// `Slow_queries`.
    pub slow_queries: AtomicU64,
    /// `Access_Denied_Max_Connections`.
    pub access_denied_max_connections: AtomicU64,
    /// `MySQL_Monitor_connect_check_OK` / `_ERR`.
    pub monitor_connect: [AtomicU64; 2],
    /// `MySQL_Monitor_ping_check_OK` / `_ERR`.
    pub monitor_ping: [AtomicU64; 2],
    /// `MySQL_Monitor_read_only_check_OK` / `_ERR`.
    pub monitor_read_only: [AtomicU64; 2],
    /// `MySQL_Monitor_replication_lag_check_OK` / `_ERR`.
    pub monitor_replication_lag: [AtomicU64; 2],
}

/// One row set per monitored peer, rendered by the cluster monitor for the stats tables.
#[derive(Debug, Clone, Default)]
pub struct PeerStatsRows {
    /// Rows of `stats_proxysql_servers_checksums` (9 columns, §3.2).
    pub checksums: Vec<Vec<Option<String>>>,
    /// The row of `stats_proxysql_servers_metrics` (10 columns, §3.2).
    pub metrics: Vec<Option<String>>,
}

/// Everything the engine and the tasks share.
pub struct NodeShared {
    /// `SELECT @@version` answer; peers only cluster with an identical string.
    pub version: String,
    /// Node UUID (from disk, config or generated).
    pub uuid: RwLock<String>,
    /// When the node started (`ProxySQL_Uptime`).
    pub started: Instant,
    /// Module checksums.
    pub checksums: Mutex<ChecksumTable>,
    /// Running admin variables.
    pub admin_vars: watch::Sender<Arc<Vars>>,
    /// Running mysql variables.
    pub mysql_vars: watch::Sender<Arc<Vars>>,
    /// The runtime snapshot, republished after every load.
    pub runtime: watch::Sender<Arc<Runtime>>,
    /// Supervisor requests.
    pub control: mpsc::UnboundedSender<NodeControl>,
    /// Counters.
    pub counters: Counters,
    /// Cluster pulls and sync conflicts (`proxysql_cluster_*_total`).
    pub cluster_counters: crate::node::cluster::counters::ClusterCounters,
    /// Cluster view per peer `(host, port)`, rendered rows.
    pub cluster: Mutex<BTreeMap<(String, u16), PeerStatsRows>>,
    /// Whether the traffic listener is paused (`mysql_listener_paused`).
    pub traffic_paused: std::sync::atomic::AtomicBool,
    /// Whether `PROXYSQL STOP` stopped the MySQL module (only then does `PROXYSQL START`
    /// start it; otherwise ProxySQL answers "already started").
    pub traffic_stopped: std::sync::atomic::AtomicBool,
    /// Where to really connect for a peer address (`--peer-map`): lets the scenario's
    /// addresses run on one machine, mapped to loopback.
    pub peer_map: RwLock<BTreeMap<(String, u16), (String, u16)>>,
    /// Client connections accepted on the VIP while this node is MASTER. The node fills the
    /// slot when it runs a VRRP instance (`--vip`); the traffic side takes the receiver once
    /// and serves these connections exactly like its own listener's.
    pub vip_connections: Mutex<Option<mpsc::Receiver<(TcpStream, SocketAddr)>>>,
    /// Status of the node's VRRP instance, materialised into `stats_pxadm_vrrp` on read;
    /// `None` when the node runs without `--vip`.
    pub vip_status: Mutex<Option<watch::Receiver<VipStatus>>>,
    /// Admin listener sockets bound by `LOAD ADMIN VARIABLES TO RUNTIME` before it took
    /// effect, by address, for the listener task to serve (see `listener.rs`).
    pub prebound_admin: Mutex<BTreeMap<String, std::net::TcpListener>>,
    /// Whether the backend monitor module runs (false with `-M`, ProxySQL's
    /// `GloVars.global.monitor`); decides `admin-cluster_mysql_servers_sync_algorithm=3`.
    pub monitor_module: std::sync::atomic::AtomicBool,
    /// The TLS certificate both listeners offer (loaded at start, `PROXYSQL RELOAD TLS`).
    pub tls: crate::node::tls::TlsState,
}

impl NodeShared {
    /// Creates the shared state and the receiving end of the control channel.
    pub fn new(version: String) -> (Arc<NodeShared>, mpsc::UnboundedReceiver<NodeControl>) {
        let (control, rx) = mpsc::unbounded_channel();
        let shared = NodeShared {
            version,
            uuid: RwLock::new(String::new()),
            started: Instant::now(),
            checksums: Mutex::new(ChecksumTable::default()),
            admin_vars: watch::channel(Arc::new(Vars::new())).0,
            mysql_vars: watch::channel(Arc::new(Vars::new())).0,
            runtime: watch::channel(Arc::new(Runtime::default())).0,
            control,
            counters: Counters::default(),
            cluster_counters: Default::default(),
            cluster: Mutex::new(BTreeMap::new()),
            traffic_paused: std::sync::atomic::AtomicBool::new(false),
            traffic_stopped: std::sync::atomic::AtomicBool::new(false),
            peer_map: RwLock::new(BTreeMap::new()),
            vip_connections: Mutex::new(None),
            vip_status: Mutex::new(None),
            prebound_admin: Mutex::new(BTreeMap::new()),
            monitor_module: std::sync::atomic::AtomicBool::new(true),
            tls: Default::default(),
        };
        (Arc::new(shared), rx)
    }

    /// The address to connect to for peer `host:port` (itself unless mapped).
    pub fn resolve_peer(&self, host: &str, port: u16) -> (String, u16) {
        self.peer_map
            .read()
            .get(&(host.to_string(), port))
            .cloned()
            .unwrap_or_else(|| (host.to_string(), port))
    }

    /// Publishes a new runtime snapshot to the tasks that follow it.
    pub fn publish_runtime(&self, rt: &Runtime) {
        self.runtime.send_replace(Arc::new(rt.clone()));
    }

    /// A running admin variable.
    pub fn admin_var(&self, name: &str) -> Option<String> {
        self.admin_vars.borrow().get(name).cloned()
    }

    /// A running mysql variable.
    pub fn mysql_var(&self, name: &str) -> Option<String> {
        self.mysql_vars.borrow().get(name).cloned()
    }

    /// The TLS configuration to offer clients of either port: ProxySQL offers `CLIENT_SSL`
    /// when `mysql-have_ssl` is true (its default) or the default authentication plugin is
    /// `caching_sha2_password`.
    pub fn tls_offer(
        &self,
        have_ssl: bool,
        caching_sha2: bool,
    ) -> Option<Arc<rustls::ServerConfig>> {
        if have_ssl || caching_sha2 {
            self.tls.current()
        } else {
            None
        }
    }

    /// The node's own values of `stats_mysql_global` (admin, monitor and connection
    /// counters); the engine adds the traffic side's and orders them as ProxySQL.
    pub fn stats_global_values(&self) -> HashMap<&'static str, String> {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let servers_version = self
            .checksums
            .lock()
            .get(crate::proxysql::checksum::table::ChecksumModule::MysqlServers)
            .version;
        let mut values: HashMap<&'static str, String> = HashMap::new();
        let mut put = |k: &'static str, v: u64| {
            values.insert(k, v.to_string());
        };
        put("ProxySQL_Uptime", self.started.elapsed().as_secs());
        put("Active_Transactions", load(&c.active_transactions));
        put("Client_Connections_aborted", load(&c.client_aborted));
        put("Client_Connections_connected", load(&c.client_connected));
        put("Client_Connections_created", load(&c.client_created));
        put("Server_Connections_aborted", load(&c.server_aborted));
        put("Server_Connections_connected", load(&c.server_connected));
        put("Server_Connections_created", load(&c.server_created));
        put("Questions", load(&c.questions));
        put("Slow_queries", load(&c.slow_queries));
        put("Servers_table_version", servers_version);
        put(
            "Access_Denied_Wrong_Password",
            load(&c.access_denied_wrong_password),
        );
        put(
            "Access_Denied_Max_Connections",
            load(&c.access_denied_max_connections),
        );
        for (name, pair) in [
            ("connect", &c.monitor_connect),
            ("ping", &c.monitor_ping),
            ("read_only", &c.monitor_read_only),
            ("replication_lag", &c.monitor_replication_lag),
        ] {
            for (suffix, counter) in [("OK", &pair[0]), ("ERR", &pair[1])] {
                let key = format!("MySQL_Monitor_{name}_check_{suffix}");
                if let Some(k) = STATS_MYSQL_GLOBAL.iter().find(|n| **n == key) {
                    put(k, load(counter));
                }
            }
        }
        let threads = self
            .mysql_var("mysql-threads")
            .unwrap_or_else(|| "4".into());
        values.insert("MySQL_Thread_Workers", threads);
        values.insert(
            "mysql_listener_paused",
            if self.traffic_paused.load(Ordering::Relaxed) {
                "true".into()
            } else {
                "false".into()
            },
        );
        values
    }

    /// `stats_pxadm_vrrp` contents: one row per VRRP instance (none without `--vip`).
    pub fn vrrp_stats(&self) -> ResultSet {
        let status = self
            .vip_status
            .lock()
            .as_ref()
            .map(|rx| rx.borrow().clone());
        crate::node::vip::stats_resultset(status.as_ref(), Instant::now())
    }

    /// `stats_proxysql_servers_checksums` and `stats_proxysql_servers_metrics` contents.
    pub fn cluster_stats(&self) -> (ResultSet, ResultSet) {
        let mut checksums = ResultSet::with_columns(PEER_CHECKSUMS_COLUMNS);
        let mut metrics = ResultSet::with_columns(PEER_METRICS_COLUMNS);
        for rows in self.cluster.lock().values() {
            checksums.rows.extend(rows.checksums.iter().cloned());
            if !rows.metrics.is_empty() {
                metrics.rows.push(rows.metrics.clone());
            }
        }
        (checksums, metrics)
    }
}
