//! The embedded default: a local cluster of `pxadm node` child processes set up as the
//! reference scenario (`pxadm` with no arguments opens the console on it).
//!
//! node1 gets servers (the MariaDB lab's ports), a user and two query rules, is saved and
//! restarted so those modules sit at version 1; node2 starts empty; the scenario's cluster SQL
//! runs on both with the 192.168.0.x addresses mapped to this machine's loopback ports. The
//! stuck version-1 state then appears by itself, as in the field report.
//!
//! Both nodes also run the scenario's keepalived instance as the embedded VIP (VRID 51,
//! priorities 100/90, advert 1 s, check every 2 s, fall 2, weight -20), with the VIP
//! 192.168.0.20:6033 and the advert addresses 192.168.0.11/12 mapped to 127.0.0.20 and
//! 127.0.0.11/12 on free ports, so the HA view is live and a killed node moves the VIP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use crate::client::conn::{self, NodeAddr};
use crate::client::queries;
use crate::proxysql::cluster::state::Module;
use crate::proxysql::statement::split_statements;

use super::fault::Fault;
use super::launcher::NodeLauncher;
use super::nodes::ConsoleNode;
use crate::proxysql::vrrp::cluster::VipCluster;

const CLUSTER_SETUP: &str = include_str!("../../tests/fixtures/scenario/node-cluster-setup.sql");
const NODE2_MONITOR: &str = include_str!("../../tests/fixtures/scenario/node2-monitor.sql");

/// Options of the demo cluster.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Folder for the nodes' datadirs (a temporary one when None).
    pub dir: Option<PathBuf>,
    /// Primary port of the MariaDB lab the backends point at.
    pub lab_primary_port: u16,
    /// The `pxadm` executable to start nodes with.
    pub exe: PathBuf,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            dir: None,
            lab_primary_port: std::env::var("PXADM_LAB_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(23306),
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("pxadm")),
        }
    }
}

struct ManagedNode {
    name: String,
    admin_port: u16,
    traffic_port: u16,
    datadir: PathBuf,
    /// The node's `--vip` file.
    vip_file: PathBuf,
    child: Option<Child>,
}

/// A running demo cluster; every child is stopped on [`DemoCluster::stop`] or drop.
pub struct DemoCluster {
    _tmp: Option<tempfile::TempDir>,
    dir: PathBuf,
    exe: PathBuf,
    nodes: Mutex<Vec<ManagedNode>>,
    /// Where the VIP's MASTER serves traffic.
    vip: SocketAddr,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The demo's VIP on loopback: 127.0.0.20 with a free port.
const VIP_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 20);

/// A UDP port free on every one of `ips`, for the nodes' advert sockets.
fn free_udp_port_on_all(ips: &[IpAddr]) -> std::io::Result<u16> {
    'attempt: for _ in 0..50 {
        let port = UdpSocket::bind(SocketAddr::new(ips[0], 0))?
            .local_addr()?
            .port();
        for ip in &ips[1..] {
            if UdpSocket::bind(SocketAddr::new(*ip, port)).is_err() {
                continue 'attempt;
            }
        }
        return Ok(port);
    }
    Err(std::io::Error::other(
        "no UDP port free on every advert address",
    ))
}

/// The scenario's keepalived cluster with its addresses mapped onto loopback; writes each
/// node's `--vip` file into `dir` and returns the VIP.
fn write_vip_files(dir: &Path) -> anyhow::Result<SocketAddr> {
    let mut cluster = VipCluster::scenario();
    let vip_port = TcpListener::bind(SocketAddr::new(IpAddr::V4(VIP_IP), 0))?
        .local_addr()?
        .port();
    cluster.vip = format!("{VIP_IP}/32");
    cluster.port = vip_port;
    cluster.interface = "lo".into();
    cluster.unicast = true;
    for (i, node) in cluster.nodes.iter_mut().enumerate() {
        node.address = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11 + i as u8));
    }
    let ips: Vec<IpAddr> = cluster.nodes.iter().map(|n| n.address).collect();
    cluster.advert_port = free_udp_port_on_all(&ips)?;
    for node in &cluster.nodes {
        let toml = cluster.vip_toml(node)?;
        std::fs::write(dir.join(format!("vip-{}.toml", node.name)), toml)?;
    }
    Ok(SocketAddr::new(IpAddr::V4(VIP_IP), vip_port))
}

fn admin_addr(name: &str, port: u16) -> NodeAddr {
    NodeAddr {
        name: name.to_string(),
        host: "127.0.0.1".into(),
        port,
        user: "admin".into(),
        password: "admin".into(),
    }
}

async fn run_sql(addr: &NodeAddr, script: &str) -> anyhow::Result<()> {
    let mut c = conn::connect(addr, Duration::from_secs(5)).await?;
    for stmt in split_statements(script) {
        conn::execute_text(&mut c, &stmt)
            .await
            .map_err(|e| anyhow::anyhow!("{} on {}: {e}", stmt, addr.name))?;
    }
    c.close().await;
    Ok(())
}

/// Waits (bounded) until both nodes hold the same checksum for every module in `modules`.
async fn wait_until_equal(a: &NodeAddr, b: &NodeAddr, modules: &[Module]) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut views = Vec::new();
        for addr in [a, b] {
            let mut c = conn::connect(addr, Duration::from_secs(2)).await?;
            let rs = conn::query_text(&mut c, queries::RUNTIME_CHECKSUMS).await?;
            c.close().await;
            let rows = queries::parse_runtime_checksums(&rs)
                .map_err(|e| anyhow::anyhow!("runtime_checksums_values of {}: {e}", addr.name))?;
            let checksums: Vec<(String, String)> = rows
                .into_iter()
                .filter(|r| modules.iter().any(|m| m.name() == r.name))
                .map(|r| (r.name, r.checksum))
                .collect();
            views.push(checksums);
        }
        if views[0] == views[1] {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            let list: Vec<String> = modules.iter().map(|m| format!("'{}'", m.name())).collect();
            anyhow::bail!("the demo nodes did not sync {} within 20 s", list.join(","));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl DemoCluster {
    /// Starts node1 and node2 and brings them to the scenario's step-4 state.
    pub async fn start(opts: DemoOptions) -> anyhow::Result<Arc<DemoCluster>> {
        let (tmp, dir) = match opts.dir {
            Some(d) => {
                std::fs::create_dir_all(&d)?;
                (None, d)
            }
            None => {
                let t = tempfile::Builder::new().prefix("pxadm-demo-").tempdir()?;
                let d = t.path().to_path_buf();
                (Some(t), d)
            }
        };
        let vip = write_vip_files(&dir)?;
        let mut nodes = Vec::new();
        for name in ["node1", "node2"] {
            nodes.push(ManagedNode {
                name: name.into(),
                admin_port: free_port()?,
                traffic_port: free_port()?,
                datadir: dir.join(name),
                vip_file: dir.join(format!("vip-{name}.toml")),
                child: None,
            });
        }
        let cluster = Arc::new(DemoCluster {
            _tmp: tmp,
            dir,
            exe: opts.exe,
            nodes: Mutex::new(nodes),
            vip,
        });
        cluster.bootstrap(opts.lab_primary_port).await?;
        Ok(cluster)
    }

    async fn bootstrap(&self, lab_primary: u16) -> anyhow::Result<()> {
        let ports: Vec<u16> = self
            .nodes
            .lock()
            .await
            .iter()
            .map(|n| n.admin_port)
            .collect();
        let (a1, a2) = (admin_addr("node1", ports[0]), admin_addr("node2", ports[1]));
        // node1: configured, saved, restarted from disk so its modules are at version 1.
        self.spawn("node1").await?;
        // The scenario's backends on the MariaDB lab's default ports (`scripts/lab`).
        run_sql(&a1, &queries::demo_node1_config(lab_primary)).await?;
        self.signal("node1", libc::SIGTERM).await?;
        self.wait_exit("node1").await;
        self.spawn("node1").await?;
        self.spawn("node2").await?;
        // The scenario's addresses, mapped onto this machine.
        let setup = CLUSTER_SETUP
            .replace("'192.168.0.11',6032", &format!("'127.0.0.1',{}", ports[0]))
            .replace("'192.168.0.12',6032", &format!("'127.0.0.1',{}", ports[1]));
        run_sql(&a1, &setup).await?;
        run_sql(&a2, &setup).await?;
        run_sql(&a2, NODE2_MONITOR).await?;
        // Users were reloaded on node1 after its restart in the report (version 2 there).
        run_sql(&a1, queries::load_to_runtime(Module::MysqlUsers)).await?;
        // Open at the report's step 4: users and variables synced, only the version-1
        // modules differing. Without this wait the console could catch (and "fix") the
        // transient state of the first seconds.
        wait_until_equal(
            &a1,
            &a2,
            &[
                Module::MysqlUsers,
                Module::MysqlVariables,
                Module::ProxysqlServers,
            ],
        )
        .await
    }

    /// The VIP (`address:port`) the MASTER node serves traffic on.
    pub fn vip(&self) -> SocketAddr {
        self.vip
    }

    /// The folder holding the nodes' datadirs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The nodes as the front ends see them.
    pub async fn console_nodes(&self) -> Vec<ConsoleNode> {
        self.nodes
            .lock()
            .await
            .iter()
            .map(|n| ConsoleNode {
                addr: admin_addr(&n.name, n.admin_port),
                managed: true,
                log_path: Some(n.datadir.join("proxysql.log")),
                fault_commands: Default::default(),
            })
            .collect()
    }

    async fn spawn(&self, name: &str) -> anyhow::Result<()> {
        let mut nodes = self.nodes.lock().await;
        let n = nodes
            .iter_mut()
            .find(|n| n.name == name)
            .ok_or_else(|| anyhow::anyhow!("no node {name}"))?;
        std::fs::create_dir_all(&n.datadir)?;
        let stderr = std::fs::File::create(n.datadir.join("stderr.log"))?;
        // The nodes must not outlive a console that was killed; SIGTERM lets them go cleanly.
        let launcher =
            NodeLauncher::new(&self.exe, &n.datadir, format!("127.0.0.1:{}", n.admin_port))
                .traffic(format!("127.0.0.1:{}", n.traffic_port))
                .vip_file(&n.vip_file)
                .death_signal(libc::SIGTERM);
        let mut cmd = launcher.command();
        cmd.stdout(Stdio::null()).stderr(Stdio::from(stderr));
        let child = Command::from(cmd)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", self.exe.display()))?;
        n.child = Some(child);
        let port = n.admin_port;
        let datadir = n.datadir.clone();
        drop(nodes);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let err = std::fs::read_to_string(datadir.join("stderr.log")).unwrap_or_default();
        anyhow::bail!("{name} did not open its admin port {port}: {}", err.trim())
    }

    async fn pid(&self, name: &str) -> anyhow::Result<i32> {
        let nodes = self.nodes.lock().await;
        let n = nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| anyhow::anyhow!("no node {name}"))?;
        n.child
            .as_ref()
            .and_then(|c| c.id())
            .map(|p| p as i32)
            .ok_or_else(|| anyhow::anyhow!("{name} is not running"))
    }

    async fn signal(&self, name: &str, sig: i32) -> anyhow::Result<()> {
        let pid = self.pid(name).await?;
        // SAFETY: kill(2) on a pid we spawned and still own (not yet reaped).
        if unsafe { libc::kill(pid, sig) } != 0 {
            anyhow::bail!("signal to {name}: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }

    async fn wait_exit(&self, name: &str) {
        let mut nodes = self.nodes.lock().await;
        if let Some(n) = nodes.iter_mut().find(|n| n.name == name) {
            if let Some(mut c) = n.child.take() {
                if tokio::time::timeout(Duration::from_secs(10), c.wait())
                    .await
                    .is_err()
                {
                    let _ = c.kill().await;
                }
            }
        }
    }

    /// Applies a fault to a node with signals; pause/resume go through the admin port.
    pub async fn inject(&self, name: &str, fault: Fault) -> anyhow::Result<String> {
        match fault {
            Fault::Kill => {
                self.signal(name, libc::SIGKILL).await?;
                self.wait_exit(name).await;
                Ok(format!("{name} killed (SIGKILL)"))
            }
            Fault::Freeze => {
                self.signal(name, libc::SIGSTOP).await?;
                Ok(format!("{name} frozen (SIGSTOP)"))
            }
            Fault::Thaw => {
                self.signal(name, libc::SIGCONT).await?;
                Ok(format!("{name} thawed (SIGCONT)"))
            }
            Fault::Restart => {
                if self.pid(name).await.is_ok() {
                    let _ = self.signal(name, libc::SIGCONT).await;
                    self.signal(name, libc::SIGTERM).await?;
                    self.wait_exit(name).await;
                }
                self.spawn(name).await?;
                Ok(format!("{name} restarted"))
            }
            Fault::Pause | Fault::Resume => {
                let port = {
                    let nodes = self.nodes.lock().await;
                    nodes.iter().find(|n| n.name == name).map(|n| n.admin_port)
                }
                .ok_or_else(|| anyhow::anyhow!("no node {name}"))?;
                let sql = if fault == Fault::Pause {
                    queries::PROXYSQL_PAUSE
                } else {
                    queries::PROXYSQL_RESUME
                };
                run_sql(&admin_addr(name, port), sql).await?;
                Ok(format!("{sql} sent to {name}"))
            }
        }
    }

    /// Stops every node (SIGTERM, then SIGKILL after a grace period).
    pub async fn stop(&self) {
        let names: Vec<String> = self
            .nodes
            .lock()
            .await
            .iter()
            .map(|n| n.name.clone())
            .collect();
        for name in names {
            let _ = self.signal(&name, libc::SIGCONT).await;
            let _ = self.signal(&name, libc::SIGTERM).await;
            self.wait_exit(&name).await;
        }
    }
}

/// `pxadm` with no arguments: the demo cluster in the console (for now: a summary and the
/// connection commands until Ctrl-C).
pub async fn run_default() -> anyhow::Result<()> {
    // A closed stderr must not panic the demo.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        b"pxadm: starting a local demo cluster (two pxadm nodes, the reference scenario)...\n",
    );
    let cluster = DemoCluster::start(DemoOptions::default()).await?;
    for n in cluster.console_nodes().await {
        println!(
            "{}: mariadb -u admin -padmin -h {} -P{} --prompt='Admin> '   (log: {})",
            n.addr.name,
            n.addr.host,
            n.addr.port,
            n.log_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    println!(
        "VIP (the scenario's 192.168.0.20:6033): mariadb -u svcusr -psvcusr -h {} -P{} duhokim",
        cluster.vip().ip(),
        cluster.vip().port()
    );
    println!("Press Ctrl-C to stop the demo cluster.");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    cluster.stop().await;
    Ok(())
}
