//! `pxadm node`: one embedded ProxySQL-compatible node in the foreground.
//!
//! The supervisor starts the admin engine (start-up sequence §2.2), the admin listeners, the
//! cluster monitors, the traffic side and, with `--vip`, the VRRP instance, then waits for
//! SIGTERM/SIGINT or an admin `PROXYSQL ...` request. Logs go to stderr and
//! `DATADIR/proxysql.log`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::admin::engine::EngineOptions;
use super::admin::limits::StatementLimits;
use super::admin::listener::AdminListeners;
use super::admin::shared::{NodeControl, NodeShared};
use super::admin::AdminHandle;
use super::vip::{HealthCheck, VipConfig, VipHandle};
use crate::proxysql::variables::DEFAULT_VERSION;
use crate::proxysql::vrrp::CheckOutcome;
use crate::{px_error, px_info, px_warn};

/// Accepted VIP connections queued for the traffic side; beyond this, clients wait in the
/// kernel's listen backlog rather than in our memory.
const VIP_QUEUE: usize = 128;

/// Options of `pxadm node`.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Data directory (created if missing).
    pub datadir: PathBuf,
    /// ProxySQL-format config file.
    pub config: Option<PathBuf>,
    /// Override of `admin-mysql_ifaces`.
    pub admin: Option<String>,
    /// Override of `mysql-interfaces` (the traffic listener).
    pub mysql: Option<String>,
    /// Start from the config file, wiping `proxysql.db`.
    pub initial: bool,
    /// Version string answered to `SELECT @@version` (peers require an identical one).
    pub version: Option<String>,
    /// `-M`: run without the backend monitor (ProxySQL's `GloVars.global.monitor=false`).
    pub no_monitor: bool,
    /// Peer address aliases: `(configured host, port) -> (host, port) to connect to`.
    pub peer_map: Vec<PeerMapping>,
    /// The VRRP instance to run (`--vip FILE`, see [`crate::proxysql::vrrp::config`]).
    pub vip: Option<VipConfig>,
    /// Bounds on each admin/stats statement (`--statement-timeout-ms`, `--max-result-bytes`).
    pub limits: StatementLimits,
}

/// One `--peer-map` entry: (configured host, port) -> (host, port) to connect to.
pub type PeerMapping = ((String, u16), (String, u16));

/// Parses one `--peer-map HOST:PORT=HOST:PORT` entry.
pub fn parse_peer_map(entry: &str) -> Result<PeerMapping, String> {
    let parse = |s: &str| -> Result<(String, u16), String> {
        let (h, p) = s
            .trim()
            .rsplit_once(':')
            .ok_or_else(|| format!("'{s}' is not HOST:PORT"))?;
        let port = p
            .parse()
            .map_err(|_| format!("'{p}' is not a port number"))?;
        Ok((h.to_string(), port))
    };
    let (from, to) = entry
        .split_once('=')
        .ok_or_else(|| format!("'{entry}' is not FROM_HOST:PORT=TO_HOST:PORT"))?;
    Ok((parse(from)?, parse(to)?))
}

/// A started node: its shared state and admin handle (used by tests and the supervisor).
pub struct Node {
    /// Shared state.
    pub shared: Arc<NodeShared>,
    /// The admin engine.
    pub admin: AdminHandle,
    control: tokio::sync::mpsc::UnboundedReceiver<NodeControl>,
    listeners: AdminListeners,
    cluster: tokio::task::JoinHandle<()>,
    vip: Option<VipHandle>,
    /// The MySQL traffic side (listener, sessions, pools).
    pub traffic: super::traffic::Traffic,
    /// `None` when started with `-M`.
    monitor: Option<super::monitor::Monitor>,
    /// The REST API's `/metrics` listener, following `admin-restapi_*`.
    metrics: tokio::task::JoinHandle<()>,
}

impl Node {
    /// Starts everything; returns once the admin listeners are bound.
    pub async fn start(opts: NodeOptions) -> anyhow::Result<Node> {
        std::fs::create_dir_all(&opts.datadir)?;
        crate::node::logging::init_file(&opts.datadir.join("proxysql.log"))?;
        let version = opts
            .version
            .clone()
            .unwrap_or_else(|| DEFAULT_VERSION.to_string());
        px_info!(
            "Starting pxadm node (ProxySQL compatible version {})",
            version
        );
        let (shared, control) = NodeShared::new(version);
        // As ProxySQL at start: generate the certificate when none is there, load it when it
        // is, refuse to start on a partial set.
        match shared.tls.load_or_generate(&opts.datadir) {
            Ok(crate::node::tls::TlsOrigin::Generated) => px_info!(
                "No SSL keys/certificates found in datadir ({}). Generating new keys/certificates.",
                opts.datadir.display()
            ),
            Ok(crate::node::tls::TlsOrigin::Loaded) => px_info!(
                "SSL keys/certificates found in datadir ({}): loading them.",
                opts.datadir.display()
            ),
            Err(e) => {
                px_error!("Unable to initialize SSL: {}", e);
                anyhow::bail!(
                    "unable to initialize TLS in {}: {e}",
                    opts.datadir.display()
                );
            }
        }
        shared
            .monitor_module
            .store(!opts.no_monitor, std::sync::atomic::Ordering::Relaxed);
        shared
            .peer_map
            .write()
            .extend(opts.peer_map.iter().cloned());
        let engine_opts = EngineOptions {
            datadir: opts.datadir.clone(),
            config: opts.config.clone(),
            admin_override: opts.admin.clone(),
            initial: opts.initial,
            limits: opts.limits,
        };
        let shared2 = shared.clone();
        let admin =
            tokio::task::spawn_blocking(move || AdminHandle::spawn(engine_opts, shared2)).await??;
        std::fs::write(
            opts.datadir.join("proxysql.pid"),
            format!("{}\n", std::process::id()),
        )?;
        // The slot is filled before the traffic side starts, so it finds the receiver.
        let vip_conns = opts.vip.as_ref().map(|_| {
            let (tx, rx) = mpsc::channel(VIP_QUEUE);
            *shared.vip_connections.lock() = Some(rx);
            tx
        });
        let listeners = AdminListeners::start(admin.clone(), shared.clone()).await?;
        let cluster = super::cluster::monitor::start(admin.clone(), shared.clone());
        let traffic = super::traffic::Traffic::start(shared.clone(), opts.mysql.clone()).await;
        // ProxySQL's main.cpp starts the monitor thread only when `GloVars.global.monitor`
        // (cleared by `-M`); `mysql-monitor_enabled` then changes nothing.
        let monitor = (!opts.no_monitor)
            .then(|| super::monitor::Monitor::start(admin.clone(), shared.clone()));
        if opts.no_monitor {
            px_info!("Monitor module disabled (-M)");
        }
        let metrics = super::metrics::start(shared.clone());
        // Last, so a node never claims the VIP before it can serve it.
        let vip = match (opts.vip, vip_conns) {
            (Some(cfg), Some(conns)) => {
                let check: Arc<dyn HealthCheck> = Arc::new(NodeHealth {
                    shared: shared.clone(),
                    traffic: traffic.interfaces().to_vec(),
                });
                let handle = VipHandle::spawn(cfg, Some(check), conns).await?;
                *shared.vip_status.lock() = Some(handle.subscribe());
                Some(handle)
            }
            _ => None,
        };
        Ok(Node {
            cluster,
            traffic,
            monitor,
            metrics,
            shared,
            admin,
            control,
            listeners,
            vip,
        })
    }

    /// Runs until a signal or an admin command ends the node.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        loop {
            tokio::select! {
                _ = term.recv() => { px_info!("Received SIGTERM: shutting down"); break; }
                _ = int.recv() => { px_info!("Received SIGINT: shutting down"); break; }
                cmd = self.control.recv() => match cmd {
                    Some(NodeControl::Kill) => {
                        // Like kill -9: no cleanup at all.
                        unsafe { libc::_exit(0) };
                    }
                    Some(NodeControl::Shutdown) | None => { px_info!("Shutdown requested"); break; }
                    Some(NodeControl::Restart) => {
                        px_info!("PROXYSQL RESTART: re-executing");
                        self.stop_vip().await;
                        self.listeners.stop().await;
                        let err = restart_in_place();
                        px_warn!("Restart failed: {}", err);
                        break;
                    }
                    Some(other) => self.on_control(other).await,
                }
            }
        }
        self.stop_vip().await;
        self.listeners.stop().await;
        self.cluster.abort();
        self.metrics.abort();
        if let Some(monitor) = &self.monitor {
            monitor.stop();
        }
        self.traffic.stop();
        px_info!("Shutdown completed");
        Ok(())
    }

    /// Leaves the virtual router politely: a MASTER sends the priority-0 advert so a backup
    /// takes over after its skew time instead of a whole Master_Down_Interval.
    async fn stop_vip(&mut self) {
        if let Some(vip) = self.vip.take() {
            vip.shutdown().await;
        }
    }

    async fn on_control(&mut self, cmd: NodeControl) {
        match cmd {
            // PROXYSQL PAUSE/RESUME close and reopen the traffic listeners; sessions in
            // progress keep running.
            NodeControl::PauseTraffic => self.traffic.pause(),
            NodeControl::ResumeTraffic => self.traffic.resume().await,
            _ => {}
        }
    }
}

/// The builtin tracked check (`kind = "builtin"`): the node is healthy while its traffic
/// listener answers with a server greeting and at least one backend is ONLINE. A node that
/// cannot serve must not keep the VIP.
struct NodeHealth {
    shared: Arc<NodeShared>,
    /// The traffic listener's addresses (`--mysql` or `mysql-interfaces`).
    traffic: Vec<String>,
}

impl NodeHealth {
    /// The address the traffic listener can be reached at from the node itself.
    fn own_address(&self) -> Option<SocketAddr> {
        self.traffic
            .iter()
            .find_map(|a| a.parse::<SocketAddr>().ok())
            .map(reachable)
    }

    async fn probe(&self) -> CheckOutcome {
        use tokio::io::AsyncReadExt;
        let Some(addr) = self.own_address() else {
            return CheckOutcome::Failed("no traffic listener address".into());
        };
        // The kernel completes TCP handshakes for a frozen process too; the greeting
        // proves the traffic side itself answers. (The run's timeout bounds both steps.)
        let mut stream = match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => {
                return CheckOutcome::Failed(format!("traffic listener {addr} not accepting: {e}"))
            }
        };
        let mut header = [0u8; 5];
        match stream.read_exact(&mut header).await {
            // 3-byte length, sequence 0, protocol version 10.
            Ok(_) if header[3] == 0 && header[4] == 10 => {}
            Ok(_) => {
                return CheckOutcome::Failed(format!("traffic listener {addr}: no server greeting"))
            }
            Err(e) => return CheckOutcome::Failed(format!("traffic listener {addr} closed: {e}")),
        }
        let statuses = super::traffic::live_server_statuses(&self.shared);
        if !statuses.values().any(|s| *s == "ONLINE") {
            return CheckOutcome::Failed(format!(
                "no backend ONLINE ({} configured)",
                statuses.len()
            ));
        }
        CheckOutcome::Succeeded
    }
}

impl HealthCheck for NodeHealth {
    fn check(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = CheckOutcome> + Send + '_>> {
        Box::pin(self.probe())
    }
}

/// A wildcard listen address is reached through the loopback address of its family.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// Replaces the process with a fresh copy of itself (same arguments).
fn restart_in_place() -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return e,
    };
    std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .exec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_map_entries_parse_and_bad_ones_explain_themselves() {
        assert_eq!(
            parse_peer_map("192.168.0.11:6032=127.0.0.1:16032").unwrap(),
            (("192.168.0.11".into(), 6032), ("127.0.0.1".into(), 16032))
        );
        assert!(parse_peer_map("192.168.0.11:6032")
            .unwrap_err()
            .contains("FROM_HOST"));
        assert!(parse_peer_map("a:x=b:1")
            .unwrap_err()
            .contains("not a port"));
    }
}
