//! The drill's nodes: files, ports and `pxadm node` processes on loopback, plus the poller
//! that watches every node's `stats_pxadm_vrrp` through its admin port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{DrillError, DrillOptions, Emitter, EventKind};
use crate::client::conn::{self, NodeAddr};
use crate::client::queries;
use crate::console::launcher::NodeLauncher;
use crate::proxysql::vrrp::cluster::{CheckScriptKind, ClusterCheck, ClusterNode, VipCluster};
use crate::proxysql::vrrp::InitialState;

/// Priorities of node1..node3: node1 is the scenario's MASTER (100), node2 its BACKUP (90).
const PRIORITIES: [u8; 3] = [100, 90, 80];
/// Advert addresses: node N sends from 127.0.0.(10+N), as the scenario's hosts are .11-.13.
const ADVERT_BASE: u8 = 10;
/// How long a node may take to open its admin port.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a node may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// State poll period: the resolution of the detection and takeover figures.
const POLL: Duration = Duration::from_millis(10);

/// One node of the drill.
#[derive(Debug)]
pub(super) struct Node {
    /// `node1`...
    pub name: String,
    /// Configured VRRP priority.
    pub priority: u8,
    /// Admin address and credentials.
    pub admin: NodeAddr,
    /// The node's own traffic listener (started nodes only).
    pub traffic: Option<SocketAddr>,
    /// UDP advert address (started nodes only).
    pub advert: Option<SocketAddr>,
    /// The process, for nodes the drill started; `None` for attached ones.
    process: Option<Process>,
}

/// A node process the drill started, with its files.
#[derive(Debug)]
struct Process {
    datadir: PathBuf,
    config: PathBuf,
    vip_file: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// The running process id (started nodes only).
    pub fn pid(&self) -> Option<u32> {
        self.process
            .as_ref()
            .and_then(|p| p.child.as_ref())
            .and_then(Child::id)
    }
}

fn local_admin(name: &str, admin: SocketAddr) -> NodeAddr {
    NodeAddr {
        name: name.to_string(),
        host: admin.ip().to_string(),
        port: admin.port(),
        user: "admin".into(),
        password: "admin".into(),
    }
}

/// The drill's nodes and their working directory.
pub(super) struct DrillCluster {
    /// The nodes, node1 first.
    pub nodes: Vec<Node>,
    /// The VIP address:port.
    pub vip: SocketAddr,
    exe: PathBuf,
    /// Kept for its Drop: removes the working directory unless the caller chose one.
    _scratch: Option<tempfile::TempDir>,
}

impl DrillCluster {
    /// Picks ports, writes every node's ProxySQL config and `--vip` file.
    pub async fn prepare(opts: &DrillOptions) -> Result<DrillCluster, DrillError> {
        let (dir, scratch) = match &opts.workdir {
            Some(dir) => (dir.clone(), None),
            None => {
                let tmp = tempfile::Builder::new()
                    .prefix("pxadm-drill-")
                    .tempdir()
                    .map_err(|e| {
                        DrillError::Setup(format!("cannot create a work directory: {e}"))
                    })?;
                (tmp.path().to_path_buf(), Some(tmp))
            }
        };
        let vip = match opts.vip {
            Some(vip) => vip,
            None => free_tcp(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 20))).await?,
        };
        let advert_ips: Vec<IpAddr> = (1..=opts.nodes)
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, ADVERT_BASE + i as u8)))
            .collect();
        let advert_port = free_udp_on_all(&advert_ips).await?;
        let description = VipCluster {
            instance: "VI_1".into(),
            virtual_router_id: 51,
            auth_pass: Some("1234".into()),
            advert_int: opts.timing.advert_int.as_secs_f64(),
            nopreempt: !opts.preempt,
            vip: format!("{}/32", vip.ip()),
            port: vip.port(),
            interface: "lo".into(),
            advert_port,
            unicast: true,
            script_user: "root".into(),
            notify: None,
            check: Some(ClusterCheck {
                name: "chk_service".into(),
                script: "/etc/keepalived/check_service.sh".into(),
                kind: CheckScriptKind::Process,
                pattern: "proxysql.cnf".into(),
                host: "127.0.0.1".into(),
                port: None,
                user: None,
                password: None,
                interval: opts.timing.check_interval.as_secs_f64(),
                timeout: None,
                fall: opts.timing.fall,
                rise: opts.timing.rise,
                weight: opts.timing.weight,
            }),
            nodes: advert_ips
                .iter()
                .enumerate()
                .map(|(i, ip)| ClusterNode {
                    name: format!("{}{}", opts.name_prefix, i + 1),
                    address: *ip,
                    // nopreempt only works when every node starts as BACKUP (keepalived).
                    state: if i == 0 && opts.preempt {
                        InitialState::Master
                    } else {
                        InitialState::Backup
                    },
                    priority: PRIORITIES[i],
                    interface: None,
                })
                .collect(),
        };
        let mut nodes = Vec::new();
        for spec in &description.nodes {
            let datadir = dir.join(&spec.name);
            tokio::fs::create_dir_all(&datadir)
                .await
                .map_err(|e| io_setup(&datadir, e))?;
            let admin = free_tcp(IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
            let traffic = free_tcp(IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
            let config = dir.join(format!("{}.cnf", spec.name));
            write(&config, &proxysql_cnf(opts, admin, traffic)).await?;
            let vip_file = dir.join(format!("vip-{}.toml", spec.name));
            let toml = description
                .vip_toml(spec)
                .map_err(|e| DrillError::Setup(e.to_string()))?;
            write(&vip_file, &toml).await?;
            nodes.push(Node {
                name: spec.name.clone(),
                priority: spec.priority,
                admin: local_admin(&spec.name, admin),
                traffic: Some(traffic),
                advert: Some(SocketAddr::new(spec.address, advert_port)),
                process: Some(Process {
                    datadir,
                    config,
                    vip_file,
                    child: None,
                }),
            });
        }
        Ok(DrillCluster {
            nodes,
            vip,
            exe: opts.pxadm_bin.clone(),
            _scratch: scratch,
        })
    }

    /// Uses running nodes: each must answer `stats_pxadm_vrrp` with one instance, all for
    /// the same VIP.
    pub async fn attach(addrs: &[NodeAddr]) -> Result<DrillCluster, DrillError> {
        let mut nodes = Vec::new();
        let mut vip: Option<SocketAddr> = None;
        for addr in addrs {
            let fail = |why: String| {
                DrillError::Setup(format!("{} ({}): {why}", addr.name, addr.endpoint()))
            };
            let mut c = conn::connect(addr, Duration::from_secs(5))
                .await
                .map_err(|e| fail(e.to_string()))?;
            let rs = conn::query_text(&mut c, queries::VRRP_PRIORITY_AND_VIP)
                .await
                .map_err(|e| fail(e.to_string()))?;
            c.close().await;
            let row = rs
                .rows
                .first()
                .ok_or_else(|| fail("runs no VRRP instance (start it with --vip)".into()))?;
            let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            let priority: u8 = field(0)
                .parse()
                .map_err(|_| fail(format!("priority {:?} is not a number", field(0))))?;
            let node_vip: SocketAddr = field(1)
                .parse()
                .map_err(|_| fail(format!("vip {:?} is not address:port", field(1))))?;
            match vip {
                Some(v) if v != node_vip => {
                    return Err(fail(format!("serves VIP {node_vip}, the others {v}")));
                }
                _ => vip = Some(node_vip),
            }
            nodes.push(Node {
                name: addr.name.clone(),
                priority,
                admin: addr.clone(),
                traffic: None,
                advert: None,
                process: None,
            });
        }
        Ok(DrillCluster {
            nodes,
            vip: vip.ok_or_else(|| DrillError::Options("no node to attach to".into()))?,
            exe: PathBuf::new(),
            _scratch: None,
        })
    }

    /// Whether node `i` is a process the drill started (and so can restart).
    pub fn is_managed(&self, i: usize) -> bool {
        self.nodes[i].process.is_some()
    }

    /// Index of the node called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Starts node `i` (`--initial` on its first start) and waits for its admin port.
    pub async fn start(
        &mut self,
        i: usize,
        initial: bool,
        events: &Emitter,
    ) -> Result<u32, DrillError> {
        let node = &mut self.nodes[i];
        let name = node.name.clone();
        let Some(process) = node.process.as_mut() else {
            return Err(DrillError::Setup(format!(
                "{name} is an attached node: the drill cannot start it"
            )));
        };
        let stderr_path = process.datadir.join("stderr.log");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .map_err(|e| io_setup(&stderr_path, e))?;
        let admin = format!("{}:{}", node.admin.host, node.admin.port);
        // A drill that is itself killed must not leave nodes holding the VIP: the launcher's
        // parent-death guard (SIGKILL) sees to it.
        let mut cmd = NodeLauncher::new(&self.exe, &process.datadir, admin.clone())
            .config(&process.config)
            .vip_file(&process.vip_file)
            .initial(initial)
            .command();
        cmd.stdout(Stdio::null()).stderr(Stdio::from(stderr));
        let child = Command::from(cmd)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| DrillError::Setup(format!("cannot start {}: {e}", self.exe.display())))?;
        let pid = child.id().unwrap_or(0);
        process.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if tokio::net::TcpStream::connect(&admin).await.is_ok() {
                break;
            }
            let exited = process
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() >= deadline {
                let why = match exited {
                    Some(status) => format!("exited ({status})"),
                    None => format!("did not open its admin port within {START_TIMEOUT:?}"),
                };
                let err = tokio::fs::read_to_string(&stderr_path)
                    .await
                    .unwrap_or_default();
                return Err(DrillError::Setup(format!(
                    "{name} {why}: {}",
                    tail(&err, 5)
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        events.emit(EventKind::NodeStarted {
            node: name,
            pid,
            admin,
            priority: node.priority,
        });
        Ok(pid)
    }

    /// Kills node `i` without any goodbye: SIGKILL for a started node, `PROXYSQL KILL`
    /// through the admin port for an attached one. Returns the pid when known.
    pub async fn kill(&mut self, i: usize) -> Result<Option<u32>, DrillError> {
        let node = &self.nodes[i];
        if node.process.is_none() {
            let mut c = conn::connect(&node.admin, Duration::from_secs(5))
                .await
                .map_err(|e| DrillError::Setup(format!("{}: {e}", node.name)))?;
            // The node exits before answering: the error that follows is the expected one.
            let _ = conn::query_text(&mut c, queries::PROXYSQL_KILL).await;
            return Ok(None);
        }
        let pid = node
            .pid()
            .ok_or_else(|| DrillError::Setup(format!("{} is not running", node.name)))?;
        let raw = libc::pid_t::try_from(pid)
            .map_err(|_| DrillError::Setup(format!("pid {pid} out of range")))?;
        // SAFETY: kill(2) on our own child, not reaped yet, so the pid cannot be recycled.
        if unsafe { libc::kill(raw, libc::SIGKILL) } != 0 {
            return Err(DrillError::Setup(format!(
                "kill -9 {pid} ({}): {}",
                node.name,
                std::io::Error::last_os_error()
            )));
        }
        Ok(Some(pid))
    }

    /// Runs one admin command (`PROXYSQL PAUSE`...) on node `i`.
    pub async fn admin_command(&self, i: usize, sql: &str) -> Result<(), DrillError> {
        let node = &self.nodes[i];
        let fail = |e: conn::ClientError| DrillError::Setup(format!("{} {sql}: {e}", node.name));
        let mut c = conn::connect(&node.admin, Duration::from_secs(5))
            .await
            .map_err(fail)?;
        let result = conn::execute_text(&mut c, sql).await;
        c.close().await;
        result.map(|_| ()).map_err(fail)
    }

    /// Waits for node `i` to be gone after [`DrillCluster::kill`]: the process reaped, or an
    /// attached node's admin port refusing connections.
    pub async fn reap(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        match node.process.as_mut() {
            Some(process) => {
                if let Some(mut child) = process.child.take() {
                    let _ = child.wait().await;
                }
            }
            None => {
                let endpoint = node.admin.endpoint();
                let deadline = Instant::now() + STOP_TIMEOUT;
                while Instant::now() < deadline
                    && tokio::net::TcpStream::connect(&endpoint).await.is_ok()
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Stops every node the drill started, gracefully (SIGTERM: the holder sends its
    /// priority-0 advert), then SIGKILL whatever did not exit in time. Attached nodes are
    /// left alone.
    pub async fn stop_all(&mut self) {
        for node in &mut self.nodes {
            let Some(mut child) = node.process.as_mut().and_then(|p| p.child.take()) else {
                continue;
            };
            if let Some(raw) = child.id().and_then(|p| libc::pid_t::try_from(p).ok()) {
                // SAFETY: kill(2) on our own unreaped child.
                unsafe { libc::kill(raw, libc::SIGTERM) };
            }
            if tokio::time::timeout(STOP_TIMEOUT, child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }

    /// The tail of every started node's proxysql.log, for error reports.
    pub async fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let Some(process) = &node.process else {
                continue;
            };
            let text = tokio::fs::read_to_string(process.datadir.join("proxysql.log"))
                .await
                .unwrap_or_default();
            out.push_str(&format!(
                "--- {} proxysql.log ---\n{}\n",
                node.name,
                tail(&text, lines)
            ));
        }
        out
    }
}

/// The ProxySQL-format bootstrap config of one drill node: its listeners, the lab primary
/// as the only backend (hostgroup 0) and the application user.
fn proxysql_cnf(opts: &DrillOptions, admin: SocketAddr, traffic: SocketAddr) -> String {
    let b = &opts.backend;
    format!(
        "# written by pxadm drill failover\n\
         admin_variables =\n{{\n    admin_credentials = \"admin:admin\"\n    mysql_ifaces = \"{admin}\"\n}}\n\
         mysql_variables =\n{{\n    interfaces = \"{traffic}\"\n    monitor_username = {mu}\n    monitor_password = {mp}\n    \
         monitor_connect_interval = 1000\n    monitor_ping_interval = 1000\n    monitor_read_only_interval = 1000\n}}\n\
         mysql_servers =\n(\n    {{ address = {host}, port = {port}, hostgroup = 0, comment = \"drill backend\" }},\n)\n\
         mysql_users =\n(\n    {{ username = {user}, password = {pass}, default_hostgroup = 0, default_schema = {db} }},\n)\n",
        mu = quoted(&b.monitor_user),
        mp = quoted(&b.monitor_password),
        host = quoted(&b.host),
        port = b.port,
        user = quoted(&b.user),
        pass = quoted(&b.password),
        db = quoted(&b.database),
    )
}

/// A libconfig string literal.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

async fn write(path: &Path, contents: &str) -> Result<(), DrillError> {
    tokio::fs::write(path, contents)
        .await
        .map_err(|e| io_setup(path, e))
}

fn io_setup(path: &Path, e: std::io::Error) -> DrillError {
    DrillError::Setup(format!("{}: {e}", path.display()))
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A TCP port on `ip` that was free a moment ago.
async fn free_tcp(ip: IpAddr) -> Result<SocketAddr, DrillError> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, 0))
        .await
        .map_err(|e| DrillError::Setup(format!("cannot bind a port on {ip}: {e}")))?;
    listener
        .local_addr()
        .map_err(|e| DrillError::Setup(e.to_string()))
}

/// A UDP port free on every address (so each node's advert address differs only by IP).
async fn free_udp_on_all(ips: &[IpAddr]) -> Result<u16, DrillError> {
    'attempt: for _ in 0..50 {
        let first = tokio::net::UdpSocket::bind(SocketAddr::new(ips[0], 0))
            .await
            .map_err(|e| DrillError::Setup(format!("cannot bind UDP on {}: {e}", ips[0])))?;
        let port = first
            .local_addr()
            .map_err(|e| DrillError::Setup(e.to_string()))?
            .port();
        for ip in &ips[1..] {
            if tokio::net::UdpSocket::bind(SocketAddr::new(*ip, port))
                .await
                .is_err()
            {
                continue 'attempt;
            }
        }
        return Ok(port);
    }
    Err(DrillError::Setup(
        "no UDP port free on every advert address".into(),
    ))
}

/// One node's `stats_pxadm_vrrp` row as last polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct VrrpView {
    /// MASTER, BACKUP, FAULT or INIT.
    pub state: String,
    /// Whether the node's listener is bound on the VIP.
    pub vip_held: bool,
    /// Advertised priority.
    pub effective_priority: u8,
}

/// Every node's last polled view (`None`: unreachable), and when it was taken.
#[derive(Debug, Clone)]
pub(super) struct Views {
    /// Per node, in cluster order.
    pub nodes: Vec<Option<VrrpView>>,
    /// When the poll finished.
    pub at: Instant,
}

impl Views {
    /// Indices of the nodes reporting the VIP as bound.
    pub fn holders(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].as_ref().is_some_and(|v| v.vip_held))
            .collect()
    }
}

/// Polls every node's `stats_pxadm_vrrp` every [`POLL`], publishing the views and emitting
/// an event per change; remembers whether two nodes ever reported the VIP at once.
pub(super) struct Poller {
    /// Latest views.
    pub views: watch::Receiver<Views>,
    /// Set when one poll round saw two holders.
    pub double_holder: Arc<Mutex<Option<Vec<String>>>>,
    task: JoinHandle<()>,
}

impl Poller {
    /// Starts polling the cluster's nodes.
    pub fn start(cluster: &DrillCluster, events: Emitter) -> Poller {
        let addrs: Vec<NodeAddr> = cluster.nodes.iter().map(|n| n.admin.clone()).collect();
        let (tx, views) = watch::channel(Views {
            nodes: vec![None; addrs.len()],
            at: Instant::now(),
        });
        let double_holder = Arc::new(Mutex::new(None));
        let seen_double = double_holder.clone();
        let task = tokio::spawn(async move {
            let mut conns: Vec<Option<conn::Conn>> = addrs.iter().map(|_| None).collect();
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let polls = addrs
                    .iter()
                    .zip(conns.iter_mut())
                    .map(|(addr, slot)| poll_one(addr, slot));
                let nodes = futures::future::join_all(polls).await;
                let at = Instant::now();
                let previous = tx.borrow().nodes.clone();
                for (i, (old, new)) in previous.iter().zip(&nodes).enumerate() {
                    if old != new {
                        events.emit(match new {
                            Some(v) => EventKind::VrrpState {
                                node: addrs[i].name.clone(),
                                state: v.state.clone(),
                                vip_held: v.vip_held,
                                effective_priority: v.effective_priority,
                            },
                            None => EventKind::NodeUnreachable {
                                node: addrs[i].name.clone(),
                            },
                        });
                    }
                }
                let views = Views { nodes, at };
                let holders = views.holders();
                if holders.len() > 1 {
                    // One round's reads are not simultaneous: a handover between them looks
                    // like two holders. Both still holding when read again means both held at
                    // the moment the later of the first reads happened.
                    let mut still = Vec::new();
                    for &i in &holders {
                        if poll_one(&addrs[i], &mut conns[i])
                            .await
                            .is_some_and(|v| v.vip_held)
                        {
                            still.push(addrs[i].name.clone());
                        }
                    }
                    if still.len() > 1 {
                        seen_double.lock().get_or_insert(still);
                    }
                }
                if tx.send(views).is_err() {
                    return;
                }
            }
        });
        Poller {
            views,
            double_holder,
            task,
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One node's row, reconnecting as needed; `None` while the node is unreachable.
async fn poll_one(addr: &NodeAddr, slot: &mut Option<conn::Conn>) -> Option<VrrpView> {
    // Short timeouts: a dead node must not stall the poll of the others.
    const LIMIT: Duration = Duration::from_millis(500);
    if slot.is_none() {
        *slot = conn::connect(addr, LIMIT).await.ok();
    }
    let c = slot.as_mut()?;
    match conn::query_text(c, queries::VRRP_STATE).await {
        Ok(rs) => {
            let row = rs.rows.first()?;
            let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            Some(VrrpView {
                state: text(0),
                vip_held: text(1) == "1",
                effective_priority: text(2).parse().unwrap_or(0),
            })
        }
        Err(_) => {
            *slot = None;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cnf_quotes_values_and_names_the_backend() {
        let mut opts = DrillOptions::new(super::super::Profile::Tuned);
        opts.backend.password = "p\"w".into();
        let text = proxysql_cnf(
            &opts,
            "127.0.0.1:16032".parse().unwrap(),
            "127.0.0.1:16033".parse().unwrap(),
        );
        assert!(text.contains("mysql_ifaces = \"127.0.0.1:16032\""));
        assert!(text.contains("interfaces = \"127.0.0.1:16033\""));
        assert!(text.contains("password = \"p\\\"w\""));
        let parsed = crate::proxysql::config_file::ConfigFile::parse(&text);
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn holders_lists_every_node_reporting_the_vip() {
        let view = |held| {
            Some(VrrpView {
                state: "MASTER".into(),
                vip_held: held,
                effective_priority: 100,
            })
        };
        let views = Views {
            nodes: vec![view(true), None, view(false), view(true)],
            at: Instant::now(),
        };
        assert_eq!(views.holders(), [0, 3]);
    }
}
