//! `pxadm drill failover --stack keepalived`: the field report's own stack. The drill builds
//! the report's topology in network namespaces it creates and removes ([`super::netns`]):
//!
//! ```text
//!   <pfx>n1 (192.168.0.11: proxy + keepalived) ─┐
//!   <pfx>n2 (192.168.0.12: proxy + keepalived) ─┼─ br0 in <pfx>lan
//!   <pfx>cl (192.168.0.30: the writer's side)  ─┘
//! ```
//!
//! Each proxy (`pxadm node`, or a ProxySQL binary given with `--proxy-bin`) runs with
//! Debian's keepalived using the files `pxadm keepalived render` writes (through the library,
//! [`VipCluster::render`]) with the SQL check, so a frozen proxy fails it. The VIP
//! (192.168.0.20/24) is a real address that keepalived adds and announces with gratuitous ARP.
//! The MariaDB lab on the host's loopback is reached through a relay: a listener on each
//! proxy namespace's 127.0.0.1:<port> whose connections the drill carries to the host.
//! The writer's connections leave from the client namespace the same way, the other
//! direction. Detection is read from keepalived's own log ("Entering MASTER STATE"), the
//! takeover from the addresses of the namespaces, polled every 20 ms, which also proves that
//! no two namespaces carried the VIP at once.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::netns::{self, Frame, Relays, Topology, WireCapture};
use super::writer::{self, Attempt, Writer, WriterConfig};
use super::{
    DrillError, DrillOptions, DrillReport, DrillSettings, Emitter, EventKind, Failback, Fault,
    KillTarget, NodeInfo, Stack, Wire, WireNode,
};
use crate::proxysql::vrrp::cluster::{CheckScriptKind, ClusterCheck, ClusterNode, VipCluster};
use crate::proxysql::vrrp::config::InitialState;

/// The VIP inside the namespaces, as in the field report.
const VIP: &str = "192.168.0.20";
/// The proxies' traffic port (the VIP's port).
const TRAFFIC_PORT: u16 = 6033;
/// The proxies' admin port, on each namespace's own loopback.
const ADMIN_PORT: u16 = 6032;
/// How often the namespaces' addresses are polled for the VIP.
const HOLDER_POLL: Duration = Duration::from_millis(20);

/// One line of a keepalived log, stamped when the drill read it.
#[derive(Debug, Clone)]
struct LogLine {
    node: usize,
    at: Instant,
    text: String,
}

/// The VIP holders as last polled.
#[derive(Debug, Clone, Default)]
struct Holders {
    at: Option<Instant>,
    held: Vec<bool>,
}

impl Holders {
    fn list(&self) -> Vec<usize> {
        (0..self.held.len()).filter(|&i| self.held[i]).collect()
    }
}

/// Everything the drill started, dropped in this order: the processes (SIGKILL), the
/// background tasks and relays (their sockets keep a namespace alive), the namespaces, and
/// last the temporary directory.
struct Deployment {
    keepaliveds: Vec<Option<Child>>,
    proxies: Vec<Option<Child>>,
    tasks: JoinSet<()>,
    relays: Relays,
    capture: Option<WireCapture>,
    topology: Topology,
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    names: Vec<String>,
    namespaces: Vec<String>,
    addresses: Vec<IpAddr>,
    priorities: Vec<u8>,
    log: Arc<Mutex<Vec<LogLine>>>,
    /// Per node, keepalived's state and effective priority as its log last told them.
    vrrp: Vec<Arc<Mutex<(&'static str, u8)>>>,
    holders: watch::Receiver<Holders>,
    double_holder: Arc<Mutex<Option<Vec<String>>>>,
    /// The longest overlap seen: from the first to the last of consecutive polls that found
    /// the VIP in two namespaces (0 for a single poll); `None` if none did.
    longest_overlap: Arc<Mutex<Option<Duration>>>,
}

/// The keepalived-stack drill. Everything it created is removed before it returns, whatever
/// the outcome (and when its future is dropped, e.g. on Ctrl-C).
pub(super) async fn run(opts: &DrillOptions, events: &Emitter) -> Result<DrillReport, DrillError> {
    if let Some(why) = netns::unavailable(&["ip", "keepalived", "mariadb"]) {
        return Err(DrillError::Unavailable(why));
    }
    if let Some(bin) = &opts.proxy_bin {
        if !bin.is_file() {
            return Err(DrillError::Options(format!(
                "--proxy-bin {}: no such file",
                bin.display()
            )));
        }
    }
    let backend: SocketAddr = format!("{}:{}", opts.backend.host, opts.backend.port)
        .parse()
        .map_err(|_| {
            DrillError::Options(format!(
                "--backend {}:{}: the keepalived stack needs an IP address",
                opts.backend.host, opts.backend.port
            ))
        })?;
    writer::check_backend(&opts.backend).await?;
    let mut dep = deploy(opts, backend, events).await?;
    let result = drive(opts, &mut dep, events).await;
    match result {
        Err(DrillError::Timeout { what, limit_s, .. }) => Err(DrillError::Timeout {
            what,
            limit_s,
            logs: dep.log_tails(15),
        }),
        other => other,
    }
}

/// The virtual router the drill renders keepalived's files from.
fn cluster(opts: &DrillOptions, dir: &Path) -> VipCluster {
    let t = opts.timing;
    let fractional = t.advert_int.subsec_nanos() != 0;
    let nodes = (1..=opts.nodes)
        .map(|i| ClusterNode {
            name: format!("{}{i}", opts.name_prefix),
            address: IpAddr::from([192, 168, 0, 10 + i as u8]),
            state: if i == 1 {
                InitialState::Master
            } else {
                InitialState::Backup
            },
            priority: 110 - 10 * i as u8,
            interface: None,
        })
        .collect();
    VipCluster {
        instance: "VI_1".into(),
        virtual_router_id: 51,
        // VRRPv3 (fractional adverts) has no authentication in keepalived.
        auth_pass: (!fractional).then(|| "1234".into()),
        advert_int: t.advert_int.as_secs_f64(),
        nopreempt: !opts.preempt,
        vip: format!("{VIP}/24"),
        port: TRAFFIC_PORT,
        interface: "eth0".into(),
        advert_port: 5405,
        unicast: false,
        script_user: "root".into(),
        notify: Some(dir.join("notify.sh").display().to_string()),
        check: Some(ClusterCheck {
            name: "chk_service".into(),
            script: dir.join("check_proxy.sh").display().to_string(),
            kind: CheckScriptKind::Sql,
            pattern: "proxysql.cnf".into(),
            host: "127.0.0.1".into(),
            port: Some(TRAFFIC_PORT),
            user: Some(opts.backend.user.clone()),
            password: Some(opts.backend.password.clone()),
            interval: t.check_interval.as_secs_f64(),
            timeout: None,
            fall: t.fall,
            rise: t.rise,
            weight: t.weight,
        }),
        nodes,
    }
}

fn setup(what: &str) -> impl Fn(std::io::Error) -> DrillError + '_ {
    move |e| DrillError::Setup(format!("{what}: {e}"))
}

/// Renders the files, builds the namespaces and relays, starts the proxies and keepalived.
async fn deploy(
    opts: &DrillOptions,
    backend: SocketAddr,
    events: &Emitter,
) -> Result<Deployment, DrillError> {
    let (dir, tmp) = match &opts.workdir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(setup("workdir"))?;
            (dir.clone(), None)
        }
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("pxadm-drill-ka-")
                .tempdir()
                .map_err(setup("temporary directory"))?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };
    let vc = cluster(opts, &dir);
    let files = vc
        .render()
        .map_err(|e| DrillError::Options(format!("keepalived render: {e}")))?;
    for f in &files {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(&f.name);
        std::fs::write(&path, &f.contents).map_err(setup("write rendered file"))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode))
            .map_err(setup("chmod rendered file"))?;
    }
    let mut topology = Topology::new();
    let mut hosts: Vec<(String, String)> = vc
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("n{}", i + 1), format!("{}/24", n.address)))
        .collect();
    hosts.push(("cl".into(), "192.168.0.30/24".into()));
    let refs: Vec<(&str, &str)> = hosts
        .iter()
        .map(|(t, a)| (t.as_str(), a.as_str()))
        .collect();
    topology.build(&refs)?;
    let ports: Vec<String> = (1..=vc.nodes.len()).map(|i| format!("vn{i}")).collect();
    let capture = WireCapture::start(&topology.name("lan"), &ports, [192, 168, 0, 20])?;
    let (holders_tx, holders_rx) = watch::channel(Holders::default());
    let mut dep = Deployment {
        keepaliveds: Vec::new(),
        proxies: Vec::new(),
        tasks: JoinSet::new(),
        relays: Relays::default(),
        capture: Some(capture),
        namespaces: (1..=vc.nodes.len())
            .map(|i| topology.name(&format!("n{i}")))
            .collect(),
        topology,
        dir,
        _tmp: tmp,
        names: vc.nodes.iter().map(|n| n.name.clone()).collect(),
        addresses: vc.nodes.iter().map(|n| n.address).collect(),
        priorities: vc.nodes.iter().map(|n| n.priority).collect(),
        log: Arc::new(Mutex::new(Vec::new())),
        vrrp: vc
            .nodes
            .iter()
            .map(|n| Arc::new(Mutex::new(("INIT", n.priority))))
            .collect(),
        holders: holders_rx,
        double_holder: Arc::new(Mutex::new(None)),
        longest_overlap: Arc::new(Mutex::new(None)),
    };
    for i in 0..dep.names.len() {
        let listener = netns::listener_in(&dep.namespaces[i], backend)?;
        dep.relays.toward_host(listener, backend)?;
        dep.proxies.push(None);
        dep.keepaliveds.push(None);
        dep.start_proxy(opts, backend, i, events).await?;
    }
    for i in 0..dep.names.len() {
        dep.wait_proxy(i, opts.wait_limit).await?;
    }
    for i in 0..dep.names.len() {
        dep.start_keepalived(i, events)?;
    }
    dep.watch_holders(holders_tx, opts.timing.advert_int);
    Ok(dep)
}

impl Deployment {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The proxy's configuration: `pxadm node`'s or ProxySQL's (which also needs admin).
    fn proxy_cnf(&self, opts: &DrillOptions, backend: SocketAddr, i: usize) -> String {
        let b = &opts.backend;
        let admin = if opts.proxy_bin.is_some() {
            format!(
                "datadir=\"{}\"\nadmin_variables =\n{{\n    admin_credentials = \"admin:admin\"\n    \
                 mysql_ifaces = \"127.0.0.1:{ADMIN_PORT}\"\n}}\n",
                self.path(&format!("data{}", i + 1)).display()
            )
        } else {
            String::new()
        };
        format!(
            "{admin}mysql_variables =\n{{\n    threads = 1\n    interfaces = \"0.0.0.0:{TRAFFIC_PORT}\"\n    \
             monitor_username = \"{mu}\"\n    monitor_password = \"{mp}\"\n}}\n\
             mysql_servers =\n(\n    {{ address = \"{host}\", port = {port}, hostgroup = 0 }},\n)\n\
             mysql_users =\n(\n    {{ username = \"{u}\", password = \"{p}\", default_hostgroup = 0, default_schema = \"{db}\" }},\n)\n",
            mu = b.monitor_user,
            mp = b.monitor_password,
            host = backend.ip(),
            port = backend.port(),
            u = b.user,
            p = b.password,
            db = b.database,
        )
    }

    /// Starts (or restarts) the proxy of node `i` in its namespace.
    async fn start_proxy(
        &mut self,
        opts: &DrillOptions,
        backend: SocketAddr,
        i: usize,
        events: &Emitter,
    ) -> Result<(), DrillError> {
        let cnf = self.path(&format!("proxysql{}.cnf", i + 1));
        std::fs::write(&cnf, self.proxy_cnf(opts, backend, i)).map_err(setup("proxy config"))?;
        let datadir = self.path(&format!("data{}", i + 1));
        let fresh = !datadir.exists();
        std::fs::create_dir_all(&datadir).map_err(setup("proxy datadir"))?;
        let (program, args): (PathBuf, Vec<String>) = match &opts.proxy_bin {
            Some(bin) => (
                bin.clone(),
                vec![
                    "-f".into(),
                    "-c".into(),
                    cnf.display().to_string(),
                    "-D".into(),
                    datadir.display().to_string(),
                ],
            ),
            None => {
                let mut args = vec![
                    "node".to_string(),
                    "--datadir".into(),
                    datadir.display().to_string(),
                    "--admin".into(),
                    format!("127.0.0.1:{ADMIN_PORT}"),
                    "--config".into(),
                    cnf.display().to_string(),
                ];
                if fresh {
                    args.push("--initial".into());
                }
                (opts.pxadm_bin.clone(), args)
            }
        };
        let log = self.path(&format!("proxy{}.log", i + 1));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(setup("proxy log"))?;
        let err = out.try_clone().map_err(setup("proxy log"))?;
        let mut cmd = in_namespace(&self.namespaces[i], &program);
        cmd.args(&args)
            .env("PXADM_LOOPBACK_ONLY", "1")
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .map_err(setup(&format!("start {}", program.display())))?;
        events.emit(EventKind::NodeStarted {
            node: self.names[i].clone(),
            pid: child.id().unwrap_or(0),
            admin: format!("{}:{ADMIN_PORT}", self.addresses[i]),
            priority: self.priorities[i],
        });
        self.proxies[i] = Some(child);
        Ok(())
    }

    /// Waits until the rendered SQL check passes in node `i`'s namespace.
    async fn wait_proxy(&mut self, i: usize, limit: Duration) -> Result<(), DrillError> {
        let deadline = Instant::now() + limit;
        let script = self.path("check_proxy.sh");
        loop {
            let ok = Command::new("ip")
                .args(["netns", "exec", &self.namespaces[i]])
                .arg(&script)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .status()
                .await
                .is_ok_and(|s| s.success());
            if ok {
                return Ok(());
            }
            if let Some(child) = self.proxies[i].as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(DrillError::Setup(format!(
                        "the proxy of {} exited ({status})\n{}",
                        self.names[i],
                        self.log_tails(15)
                    )));
                }
            }
            if Instant::now() >= deadline {
                return Err(super::timeout(
                    format!("answer from the proxy of {}", self.names[i]),
                    limit,
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts keepalived for node `i`; its log lines are read, stamped and kept.
    fn start_keepalived(&mut self, i: usize, events: &Emitter) -> Result<(), DrillError> {
        let keepalived = netns::which("keepalived")
            .ok_or_else(|| DrillError::Unavailable("keepalived is not installed".into()))?;
        let conf = self.path(&format!("keepalived-{}.conf", self.names[i]));
        let pid = |what: &str| self.path(&format!("{what}{}.pid", i + 1));
        let mut cmd = in_namespace(&self.namespaces[i], &keepalived);
        cmd.args([
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--vrrp",
            "-f",
        ])
        .arg(&conf)
        .arg("-p")
        .arg(pid("keepalived"))
        .arg("-r")
        .arg(pid("vrrp"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(setup("start keepalived"))?;
        let file = self.path(&format!("keepalived{}.log", i + 1));
        if let Some(out) = child.stdout.take() {
            self.read_log(i, out, file.clone(), events);
        }
        if let Some(err) = child.stderr.take() {
            self.read_log(i, err, file, events);
        }
        self.keepaliveds[i] = Some(child);
        Ok(())
    }

    fn read_log(
        &mut self,
        node: usize,
        stream: impl AsyncRead + Unpin + Send + 'static,
        file: PathBuf,
        events: &Emitter,
    ) {
        let log = self.log.clone();
        let events = events.clone();
        let name = self.names[node].clone();
        let vrrp = self.vrrp[node].clone();
        self.tasks.spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            let mut out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file)
                .ok();
            while let Ok(Some(text)) = lines.next_line().await {
                let at = Instant::now();
                if let Some(f) = out.as_mut() {
                    let _ = std::io::Write::write_all(f, format!("{text}\n").as_bytes());
                }
                let changed = {
                    let mut v = vrrp.lock();
                    let before = *v;
                    if let Some(state) = entered_state(&text) {
                        v.0 = state;
                    }
                    if let Some(priority) = effective_priority(&text) {
                        v.1 = priority;
                    }
                    (*v != before).then_some(*v)
                };
                if let Some((state, priority)) = changed {
                    events.emit(EventKind::VrrpState {
                        node: name.clone(),
                        state: state.to_string(),
                        vip_held: state == "MASTER",
                        effective_priority: priority,
                    });
                }
                log.lock().push(LogLine { node, at, text });
            }
        });
    }

    /// Polls every proxy namespace's addresses for the VIP.
    fn watch_holders(&mut self, tx: watch::Sender<Holders>, advert_int: Duration) {
        let namespaces = self.namespaces.clone();
        let names = self.names.clone();
        let double = self.double_holder.clone();
        let longest = self.longest_overlap.clone();
        let mut overlap_since: Option<Instant> = None;
        self.tasks.spawn(async move {
            let mut tick = tokio::time::interval(HOLDER_POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let mut held = Vec::with_capacity(namespaces.len());
                for ns in &namespaces {
                    held.push(netns::holds(ns, VIP).await.unwrap_or(false));
                }
                let now = Instant::now();
                let h = Holders {
                    at: Some(now),
                    held,
                };
                let list = h.list();
                if list.len() > 1 {
                    let since = *overlap_since.get_or_insert(now);
                    let lasted = now - since;
                    let mut l = longest.lock();
                    *l = Some(l.unwrap_or_default().max(lasted));
                    // The old master drops the address on the first advert of the new
                    // one; an overlap longer than an advert interval is a split brain.
                    if lasted > advert_int {
                        let mut d = double.lock();
                        if d.is_none() {
                            *d = Some(list.iter().map(|&i| names[i].clone()).collect());
                        }
                    }
                } else {
                    overlap_since = None;
                }
                if tx.send(h).is_err() {
                    break;
                }
            }
        });
    }

    fn holders_now(&self) -> Vec<usize> {
        self.holders.borrow().list()
    }

    /// Waits until the polled holders satisfy `pred` in a poll made after `after`.
    async fn wait_holders(
        &mut self,
        after: Instant,
        limit: Duration,
        what: &str,
        pred: impl Fn(&[usize]) -> bool,
    ) -> Result<Instant, DrillError> {
        let wait = self
            .holders
            .wait_for(|h| h.at.is_some_and(|at| at > after) && pred(&h.list()));
        match tokio::time::timeout(limit, wait).await {
            Ok(Ok(h)) => Ok(h.at.unwrap_or(after)),
            _ => Err(super::timeout(what, limit)),
        }
    }

    /// The first "Entering MASTER STATE" of a node other than `victim` after `t`.
    fn detection(&self, victim: usize, t: Instant) -> Option<(usize, Instant)> {
        self.log
            .lock()
            .iter()
            .find(|l| l.node != victim && l.at > t && entered_state(&l.text) == Some("MASTER"))
            .map(|l| (l.node, l.at))
    }

    fn signal_proxy(&self, i: usize, signal: libc::c_int) -> Result<u32, DrillError> {
        let pid = self.proxies[i]
            .as_ref()
            .and_then(Child::id)
            .ok_or_else(|| {
                DrillError::Setup(format!("the proxy of {} is not running", self.names[i]))
            })?;
        let pid_t = libc::pid_t::try_from(pid)
            .map_err(|_| DrillError::Setup(format!("pid {pid} out of range")))?;
        // SAFETY: kill(2) on the pid of a child this drill started and has not reaped.
        if unsafe { libc::kill(pid_t, signal) } != 0 {
            return Err(DrillError::Setup(format!(
                "signal {signal} to {}: {}",
                self.names[i],
                std::io::Error::last_os_error()
            )));
        }
        Ok(pid)
    }

    /// Tails of the proxies' and keepalived's logs, for a timeout's message.
    fn log_tails(&self, lines: usize) -> String {
        let mut text = String::new();
        for i in 0..self.names.len() {
            for what in ["keepalived", "proxy"] {
                let file = self.path(&format!("{what}{}.log", i + 1));
                let body = std::fs::read_to_string(&file).unwrap_or_default();
                let all: Vec<&str> = body.lines().collect();
                let tail = &all[all.len().saturating_sub(lines)..];
                text.push_str(&format!(
                    "--- {} {what}\n{}\n",
                    self.names[i],
                    tail.join("\n")
                ));
            }
        }
        text
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        // A frozen proxy dies of SIGKILL too; kill_on_drop sends it, this makes it explicit
        // before the namespaces go.
        for child in self
            .keepaliveds
            .iter_mut()
            .chain(self.proxies.iter_mut())
            .flatten()
        {
            let _ = child.start_kill();
        }
        self.tasks.abort_all();
    }
}

/// `ip netns exec NS program`, killed with the drill (on drop, and when the drill's thread
/// dies, through PR_SET_PDEATHSIG, which survives `ip`'s exec).
fn in_namespace(ns: &str, program: &Path) -> Command {
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(program)
        .stdin(Stdio::null());
    crate::console::launcher::die_with_parent(&mut cmd, libc::SIGKILL);
    let mut cmd = Command::from(cmd);
    cmd.kill_on_drop(true);
    cmd
}

/// The state in a keepalived log line such as `(VI_1) Entering MASTER STATE`.
fn entered_state(line: &str) -> Option<&'static str> {
    let rest = &line[line.find("Entering ")? + "Entering ".len()..];
    ["MASTER", "BACKUP", "FAULT"]
        .into_iter()
        .find(|s| rest.starts_with(&format!("{s} STATE")))
}

/// The new priority in a line such as `(VI_1) Changing effective priority from 100 to 80`.
fn effective_priority(line: &str) -> Option<u8> {
    let rest = &line[line.find("Changing effective priority from ")?..];
    rest.rsplit(' ').next()?.trim().parse().ok()
}

/// The injected fault.
struct Injected {
    victim: usize,
    was_holder: bool,
    at: Instant,
}

async fn drive(
    opts: &DrillOptions,
    dep: &mut Deployment,
    events: &Emitter,
) -> Result<DrillReport, DrillError> {
    let limit = opts.wait_limit;
    let t0 = Instant::now();
    dep.wait_holders(t0, limit, "single VIP holder", |h| h.len() == 1)
        .await?;

    let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let prefix = format!("drill-{run_id}-");
    let vip = SocketAddr::new(
        VIP.parse().unwrap_or(IpAddr::from([192, 168, 0, 20])),
        TRAFFIC_PORT,
    );
    let cl = dep.topology.name("cl");
    let entry = dep
        .relays
        .out_of_namespace(&cl, vip, opts.attempt_timeout)
        .await?;
    let writer = Writer::start(
        WriterConfig {
            target: entry,
            backend: opts.backend.clone(),
            interval: opts.write_interval,
            attempt_timeout: opts.attempt_timeout,
            mode: opts.connection,
            prefix: prefix.clone(),
        },
        events.clone(),
    );
    events.emit(EventKind::WriterStarted {
        prefix: prefix.clone(),
    });
    let started = Instant::now();
    super::wait_for(limit, "acknowledged INSERT through the VIP", || {
        writer.first_success_since(started)
    })
    .await?;
    tokio::time::sleep(opts.warmup).await;

    let injected = inject(opts, dep, events).await?;
    let victim = injected.victim;
    let survivors: Vec<usize> = (0..dep.names.len()).filter(|&i| i != victim).collect();
    let takeover = if injected.was_holder {
        let at = dep
            .wait_holders(injected.at, limit, "survivor taking the VIP over", |h| {
                h.len() == 1 && h[0] != victim
            })
            .await?;
        Some((
            dep.holders_now().first().copied().unwrap_or(survivors[0]),
            at,
        ))
    } else {
        None
    };
    let resumed = super::wait_for(limit, "acknowledged INSERT after the fault", || {
        writer.first_success_since(injected.at)
    })
    .await?;
    // keepalived logs the transition before it adds the address; the line is there by now.
    let detection = dep.detection(victim, injected.at);

    let recovery = if opts.restart {
        Some(recover(opts, dep, &injected, events).await?)
    } else {
        tokio::time::sleep(opts.settle).await;
        None
    };
    let attempts: Vec<Attempt> = writer.stop().await;
    let double_holder = dep.double_holder.lock().clone();
    let longest_overlap = *dep.longest_overlap.lock();
    let wire = dep.capture.take().map(|c| {
        let frames = c.frames();
        drop(c);
        wire(&frames, &dep.names, injected.at, takeover.map(|(i, _)| i))
    });

    let committed = writer::committed_values(&opts.backend, &prefix).await?;
    let proof = super::prove(&attempts, &committed);
    events.emit(EventKind::Verified {
        acknowledged: proof.acknowledged,
        found: proof.found,
    });
    let best_survivor = survivors
        .iter()
        .map(|&i| dep.priorities[i])
        .max()
        .unwrap_or(0);
    let since = |at: Instant| writer::ms(at.saturating_duration_since(injected.at));
    Ok(DrillReport {
        run_id,
        settings: DrillSettings {
            profile: opts.profile,
            timing: opts.timing,
            preempt: opts.preempt,
            fault: opts.fault,
            write_interval_ms: writer::ms(opts.write_interval),
            connection: opts.connection,
            vip: vip.to_string(),
            stack: Stack::Keepalived,
        },
        nodes: (0..dep.names.len())
            .map(|i| NodeInfo {
                name: dep.names[i].clone(),
                priority: dep.priorities[i],
                admin: format!("{}:{ADMIN_PORT} (in its namespace)", dep.addresses[i]),
                advert: Some(format!("{} (VRRP multicast)", dep.addresses[i])),
                traffic: Some(format!("{}:{TRAFFIC_PORT}", dep.addresses[i])),
            })
            .collect(),
        victim: dep.names[victim].clone(),
        victim_was_holder: injected.was_holder,
        new_holder: takeover.map(|(i, _)| dep.names[i].clone()),
        master_down_interval_ms: writer::ms(opts.master_down_interval(best_survivor)),
        model_takeover_max_ms: writer::ms(opts.model_takeover(best_survivor)),
        detection_ms: detection.map(|(_, at)| since(at)),
        takeover_ms: takeover.map(|(_, at)| since(at)),
        writes_resumed_ms: Some(since(resumed.finished)),
        outage: super::outage(&attempts, injected.at, recovery.as_ref().map(|r| r.0)),
        failback: recovery.map(|(restarted, returned, final_holder)| {
            let (max_gap, failed) = super::after_restart(&attempts, restarted);
            Failback {
                recovered_after_fault_ms: since(restarted),
                vip_returned: returned.is_some(),
                takeover_ms: returned.map(|at| writer::ms(at.saturating_duration_since(restarted))),
                final_holder,
                max_write_gap_ms: max_gap,
                failed_attempts: failed,
            }
        }),
        writes: super::summary(&attempts),
        proof,
        double_holder,
        longest_overlap_ms: longest_overlap.map(writer::ms),
        wire,
    })
}

/// The report's summary of the captured frames.
fn wire(
    frames: &[netns::Captured],
    names: &[String],
    fault: Instant,
    new_holder: Option<usize>,
) -> Wire {
    let count = |i: usize, after: bool, advert: bool| {
        frames
            .iter()
            .filter(|f| f.host == i && (!after || f.at > fault))
            .filter(|f| matches!(f.frame, Frame::Advert { .. }) == advert)
            .count() as u64
    };
    Wire {
        nodes: names
            .iter()
            .enumerate()
            .map(|(i, name)| WireNode {
                name: name.clone(),
                adverts: count(i, false, true),
                gratuitous_arps: count(i, false, false),
                adverts_after_fault: count(i, true, true),
                gratuitous_arps_after_fault: count(i, true, false),
            })
            .collect(),
        announced_ms: new_holder.and_then(|h| {
            frames
                .iter()
                .find(|f| f.host == h && f.at > fault && f.frame == Frame::GratuitousArp)
                .map(|f| writer::ms(f.at - fault))
        }),
    }
}

/// Kills (SIGKILL) or freezes (SIGSTOP) the victim's proxy; keepalived lives on, as in the
/// field report.
async fn inject(
    opts: &DrillOptions,
    dep: &mut Deployment,
    events: &Emitter,
) -> Result<Injected, DrillError> {
    let holders = dep.holders_now();
    let victim = match &opts.kill {
        KillTarget::Holder => *holders
            .first()
            .ok_or_else(|| super::timeout("VIP holder to hit", opts.wait_limit))?,
        KillTarget::Node(name) => dep
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| DrillError::Options(format!("no node {name}")))?,
    };
    let was_holder = holders == [victim];
    let name = dep.names[victim].clone();
    match opts.fault {
        Fault::Kill => {
            let pid = dep.signal_proxy(victim, libc::SIGKILL)?;
            let at = Instant::now();
            events.emit(EventKind::Killed {
                node: name,
                pid: Some(pid),
                was_holder,
            });
            if let Some(mut child) = dep.proxies[victim].take() {
                let _ = child.wait().await;
            }
            Ok(Injected {
                victim,
                was_holder,
                at,
            })
        }
        Fault::Freeze => {
            dep.signal_proxy(victim, libc::SIGSTOP)?;
            let at = Instant::now();
            events.emit(EventKind::Paused {
                node: name,
                was_holder,
            });
            Ok(Injected {
                victim,
                was_holder,
                at,
            })
        }
        other => Err(DrillError::Options(format!(
            "the keepalived stack injects kill or freeze, not {}",
            other.name()
        ))),
    }
}

/// Restarts (kill) or thaws (freeze) the victim's proxy; with preempt and the higher
/// priority, waits for keepalived to give it the VIP back; then settles. Returns when it
/// was back, when the VIP returned, and the final holder.
async fn recover(
    opts: &DrillOptions,
    dep: &mut Deployment,
    injected: &Injected,
    events: &Emitter,
) -> Result<(Instant, Option<Instant>, Option<String>), DrillError> {
    let victim = injected.victim;
    let name = dep.names[victim].clone();
    match opts.fault {
        Fault::Freeze => {
            dep.signal_proxy(victim, libc::SIGCONT)?;
            events.emit(EventKind::Resumed { node: name });
        }
        _ => {
            let backend: SocketAddr = format!("{}:{}", opts.backend.host, opts.backend.port)
                .parse()
                .map_err(|_| DrillError::Options("--backend needs an IP address".into()))?;
            dep.start_proxy(opts, backend, victim, events).await?;
            let pid = dep.proxies[victim]
                .as_ref()
                .and_then(Child::id)
                .unwrap_or(0);
            events.emit(EventKind::Restarted { node: name, pid });
        }
    }
    let restarted = Instant::now();
    let holder_priority = dep
        .holders_now()
        .first()
        .map(|&i| dep.priorities[i])
        .unwrap_or(0);
    let mut returned = None;
    if opts.preempt && dep.priorities[victim] > holder_priority {
        let at = dep
            .wait_holders(
                restarted,
                opts.wait_limit,
                "VIP back on the recovered node",
                |h| h == [victim],
            )
            .await?;
        returned = Some(at);
    } else {
        tokio::time::sleep(opts.master_down_interval(dep.priorities[victim]) * 2).await;
    }
    tokio::time::sleep(opts.settle).await;
    let final_holder = dep.holders_now().first().map(|&i| dep.names[i].clone());
    Ok((restarted, returned, final_holder))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::drill::Profile;

    #[test]
    fn keepalived_state_lines_are_recognised() {
        assert_eq!(
            entered_state("Wed Dec  2 15:00:00 2026: (VI_1) Entering MASTER STATE"),
            Some("MASTER")
        );
        assert_eq!(
            entered_state("(VI_1) Entering BACKUP STATE (init)"),
            Some("BACKUP")
        );
        assert_eq!(entered_state("(VI_1) Entering FAULT STATE"), Some("FAULT"));
        assert_eq!(entered_state("(VI_1) received lower priority advert"), None);
        assert_eq!(
            effective_priority("(VI_1) Changing effective priority from 100 to 80"),
            Some(80)
        );
        assert_eq!(effective_priority("(VI_1) Entering MASTER STATE"), None);
    }

    #[test]
    fn the_profiles_render_configs_keepalived_reads() {
        let dir = Path::new("/etc/keepalived");
        let scenario = DrillOptions::for_stack(Profile::Scenario, Stack::Keepalived);
        let files = cluster(&scenario, dir).render().unwrap();
        let node1 = &files
            .iter()
            .find(|f| f.name == "keepalived-node1.conf")
            .unwrap()
            .contents;
        assert!(
            node1.contains("interval 2\n") && node1.contains("fall 2\n"),
            "{node1}"
        );
        assert!(
            node1.contains("weight -20\n") && node1.contains("auth_pass 1234"),
            "{node1}"
        );
        assert!(!node1.contains("vrrp_version 3"), "{node1}");
        let check = &files
            .iter()
            .find(|f| f.name == "check_proxy.sh")
            .unwrap()
            .contents;
        assert!(
            check.contains("-P 6033") && check.contains("SELECT 1"),
            "{check}"
        );

        let tuned = DrillOptions::for_stack(Profile::Tuned, Stack::Keepalived);
        let files = cluster(&tuned, dir).render().unwrap();
        let node2 = &files
            .iter()
            .find(|f| f.name == "keepalived-node2.conf")
            .unwrap()
            .contents;
        assert!(
            node2.contains("vrrp_version 3") && node2.contains("advert_int 0.1"),
            "{node2}"
        );
        assert!(
            node2.contains("interval 1\n") && !node2.contains("fall"),
            "{node2}"
        );
        assert!(
            !node2.contains("auth_pass") && node2.contains("priority 90"),
            "{node2}"
        );
    }
}
