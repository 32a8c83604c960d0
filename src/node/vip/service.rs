//! The tokio side: advert socket, VIP listener, tracked checks and status publication around
//! one [`Machine`]. One task owns everything, so the listener is bound and dropped in the
//! same place the state changes, with no locks.

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::VipStatus;
use crate::proxysql::vrrp::config::{CheckKind, TrackConfig, VipConfig, VipConfigError};
use crate::proxysql::vrrp::machine::{Action, CheckOutcome, Machine, VrrpState};
use crate::proxysql::vrrp::wire::{self, WireError};
use crate::{px_info, px_warn};

/// A connection accepted on the VIP, with the client's address.
pub type Connection = (TcpStream, SocketAddr);

/// How often a new MASTER retries binding the VIP while the old holder still has it. Every
/// retry is a bind(2) only during a handover, and each period is a window in which clients
/// are refused (measured by `pxadm drill failover`: at 25 ms, a failback refused an INSERT
/// in two runs out of five), so it is short.
const BIND_RETRY: Duration = Duration::from_millis(5);
/// Retry pace for bind errors that will not clear by themselves soon (address not local...).
const BIND_RETRY_SLOW: Duration = Duration::from_secs(1);
/// Pause after a failed accept (out of descriptors...), so the loop cannot spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
const LISTEN_BACKLOG: i32 = 1024;

/// A builtin health check supplied by the node (its own traffic listener, its backends...).
///
/// Any `Fn() -> impl Future<Output = CheckOutcome>` closure implements it.
pub trait HealthCheck: Send + Sync + 'static {
    /// Runs the check once.
    fn check(&self) -> Pin<Box<dyn Future<Output = CheckOutcome> + Send + '_>>;
}

impl<F, Fut> HealthCheck for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckOutcome> + Send + 'static,
{
    fn check(&self) -> Pin<Box<dyn Future<Output = CheckOutcome> + Send + '_>> {
        Box::pin(self())
    }
}

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
pub enum VipError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] VipConfigError),
    /// The advert socket could not be bound.
    #[error("vip: cannot bind advert socket {addr}: {source}")]
    Bind {
        /// The configured `bind` address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// `kind = "builtin"` needs a [`HealthCheck`].
    #[error("vip: check {0} is builtin but no health check was supplied")]
    MissingHealthCheck(String),
}

/// A running instance. Dropping it stops the instance abruptly (like [`VipHandle::kill`]).
#[derive(Debug)]
pub struct VipHandle {
    status: watch::Receiver<VipStatus>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl VipHandle {
    /// Validates `cfg`, binds the advert socket and starts the instance. Connections accepted
    /// on the VIP while MASTER are sent to `conns`; while the receiver lags, new clients wait
    /// in the kernel's backlog. `check` is required when the tracked check is builtin.
    pub async fn spawn(
        cfg: VipConfig,
        check: Option<Arc<dyn HealthCheck>>,
        conns: mpsc::Sender<Connection>,
    ) -> Result<Self, VipError> {
        cfg.validate()?;
        let checker = match cfg.check.as_ref().map(|t| (t, &t.kind)) {
            None => None,
            Some((t, CheckKind::Builtin)) => match check {
                Some(h) => Some((t.clone(), Checker::Builtin(h))),
                None => return Err(VipError::MissingHealthCheck(t.name.clone())),
            },
            Some((t, CheckKind::Script(path))) => Some((t.clone(), Checker::Script(path.clone()))),
        };
        let udp = UdpSocket::bind(cfg.bind)
            .await
            .map_err(|source| VipError::Bind {
                addr: cfg.bind,
                source,
            })?;
        let machine = Machine::new(&cfg);
        let (status_tx, status_rx) = watch::channel(snapshot(&cfg, &machine, false));
        let (stop_tx, stop_rx) = oneshot::channel();
        let (check_rx, check_task) = match checker {
            Some((track, checker)) => {
                let (tx, rx) = mpsc::channel(1);
                (
                    Some(rx),
                    Some(AbortOnDrop(tokio::spawn(run_checks(track, checker, tx)))),
                )
            }
            None => (None, None),
        };
        let runner = Runner {
            cfg,
            machine,
            udp,
            conns,
            listener: None,
            want_vip: false,
            bind_retry: None,
            bind_waiting_since: None,
            bind_error_logged: None,
            accept_pause: None,
            status: status_tx,
            quiet: HashSet::new(),
            quiet_generation: 0,
            unreachable_peers: HashSet::new(),
            _check_task: check_task,
        };
        let task = tokio::spawn(runner.run(stop_rx, check_rx));
        Ok(Self {
            status: status_rx,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// The current status.
    pub fn status(&self) -> VipStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every status change (for the console and the stats table).
    pub fn subscribe(&self) -> watch::Receiver<VipStatus> {
        self.status.clone()
    }

    /// Stops gracefully: a MASTER sends a priority-0 advert and releases the VIP, so a
    /// backup takes over after its skew time. Returns once the sockets are closed.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Stops abruptly, as `kill -9` would: no goodbye advert, the sockets just close, and
    /// peers take over after Master_Down_Interval. Returns once the sockets are closed.
    pub async fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for VipHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn snapshot(cfg: &VipConfig, machine: &Machine, vip_held: bool) -> VipStatus {
    let last = machine.last_advert();
    VipStatus {
        instance: cfg.instance.clone(),
        state: machine.state(),
        base_priority: machine.base_priority(),
        effective_priority: machine.effective_priority(),
        last_advert_from: last.map(|(from, _)| from),
        last_advert_at: last.map(|(_, at)| at),
        vip: cfg.vip,
        vip_held,
        check_ok: machine.check_ok(),
        transitions: machine.transitions(),
        has_check: cfg.check.is_some(),
    }
}

/// Binds the VIP listener.
///
/// SO_REUSEADDR lets a new holder bind while the previous holder's closed sessions linger in
/// TIME_WAIT, which would otherwise delay a failover by up to a minute. SO_REUSEPORT is never
/// set: it would let two processes listen on the VIP at once, with the kernel spreading new
/// connections across both, which is exactly the split brain this module exists to prevent.
/// Without it a second bind fails with EADDRINUSE for as long as one holder exists.
fn bind_vip_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    TcpListener::from_std(socket.into())
}

enum Checker {
    Builtin(Arc<dyn HealthCheck>),
    Script(std::path::PathBuf),
}

/// Aborts a helper task when its owner goes away, including when the owner is aborted.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs the check now and then every interval (never overlapping itself), like keepalived
/// which runs a script as soon as it starts.
async fn run_checks(track: TrackConfig, checker: Checker, tx: mpsc::Sender<CheckOutcome>) {
    let mut tick = tokio::time::interval(track.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let timeout = track.effective_timeout();
    loop {
        tick.tick().await;
        let outcome = match &checker {
            Checker::Builtin(check) => tokio::time::timeout(timeout, check.check())
                .await
                .unwrap_or(CheckOutcome::TimedOut),
            Checker::Script(path) => run_script(path, timeout).await,
        };
        if tx.send(outcome).await.is_err() {
            return;
        }
    }
}

/// Runs a check script without a shell; exit status 0 is healthy. A script still running at
/// `timeout` is killed together with its children (it runs in its own process group).
pub async fn run_script(path: &Path, timeout: Duration) -> CheckOutcome {
    let mut cmd = tokio::process::Command::new(path);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return CheckOutcome::Failed(format!("could not be run: {e}")),
    };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => {
            if let Some(code) = status.code() {
                return CheckOutcome::exited(code);
            }
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(signal) = status.signal() {
                    return CheckOutcome::Failed(format!("due to signal {signal}"));
                }
            }
            CheckOutcome::Failed(format!("ended with {status}"))
        }
        Ok(Err(e)) => CheckOutcome::Failed(format!("could not be waited for: {e}")),
        Err(_) => {
            #[cfg(unix)]
            if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                // SAFETY: kill(2) with a negative pid signals the process group the child
                // leads (process_group(0) above); it touches no memory of ours.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = child.kill().await;
            CheckOutcome::TimedOut
        }
    }
}

enum Accepted {
    Delivered,
    Dropped,
    Failed(io::Error),
}

/// Accepts one connection on the VIP and hands it over. The channel permit is reserved
/// first so a slow consumer leaves clients in the backlog instead of in our memory; both
/// awaits are cancel-safe, so losing a `select!` race loses nothing.
async fn accept_one(
    listener: Option<&TcpListener>,
    conns: &mpsc::Sender<Connection>,
    pause: Option<tokio::time::Instant>,
) -> Accepted {
    let Some(listener) = listener else {
        return std::future::pending().await;
    };
    if let Some(until) = pause {
        tokio::time::sleep_until(until).await;
    }
    let permit = conns.reserve().await;
    match listener.accept().await {
        Ok(conn) => match permit {
            Ok(permit) => {
                permit.send(conn);
                Accepted::Delivered
            }
            // Nobody serves traffic any more: closing at once beats leaving clients hanging.
            Err(_) => Accepted::Dropped,
        },
        Err(e) => Accepted::Failed(e),
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn recv_opt(rx: &mut Option<mpsc::Receiver<CheckOutcome>>) -> Option<CheckOutcome> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Kind of rejected advert, for once-per-sender rate limiting like keepalived's
/// `log_rate_limited_error`.
fn reject_kind(e: &WireError) -> u8 {
    match e {
        WireError::Malformed(_) => 0,
        WireError::WrongVersion(_) => 1,
        WireError::UnknownVrid(_) => 2,
        WireError::AuthMissing => 3,
        WireError::AuthUnexpected => 4,
        WireError::BadAuth => 5,
    }
}

struct Runner {
    cfg: VipConfig,
    machine: Machine,
    udp: UdpSocket,
    conns: mpsc::Sender<Connection>,
    listener: Option<TcpListener>,
    want_vip: bool,
    bind_retry: Option<tokio::time::Instant>,
    bind_waiting_since: Option<Instant>,
    bind_error_logged: Option<io::ErrorKind>,
    accept_pause: Option<tokio::time::Instant>,
    status: watch::Sender<VipStatus>,
    /// Rejections already logged, forgotten at the next state change.
    quiet: HashSet<(IpAddr, u8)>,
    quiet_generation: u64,
    /// Peers whose last send failed (logged once until a send succeeds).
    unreachable_peers: HashSet<SocketAddr>,
    _check_task: Option<AbortOnDrop>,
}

impl Runner {
    async fn run(
        mut self,
        mut stop: oneshot::Receiver<()>,
        mut checks: Option<mpsc::Receiver<CheckOutcome>>,
    ) {
        let actions = self.machine.start(Instant::now());
        self.apply(actions).await;
        self.publish();
        let mut buf = [0u8; 512];
        loop {
            let timer = self.machine.deadline().map(tokio::time::Instant::from_std);
            let actions = tokio::select! {
                _ = &mut stop => {
                    let actions = self.machine.shutdown();
                    self.apply(actions).await;
                    self.publish();
                    return;
                }
                _ = sleep_until_opt(timer) => self.machine.on_timer(Instant::now()),
                received = self.udp.recv_from(&mut buf) => match received {
                    Ok((len, source)) => self.on_datagram(&buf[..len], source),
                    // ICMP errors reported for earlier sends; the next advert retries.
                    Err(_) => Vec::new(),
                },
                Some(outcome) = recv_opt(&mut checks) => {
                    self.machine.on_check_result(Instant::now(), &outcome)
                }
                _ = sleep_until_opt(self.bind_retry) => {
                    self.try_bind();
                    Vec::new()
                }
                accepted = accept_one(self.listener.as_ref(), &self.conns, self.accept_pause) => {
                    self.on_accepted(accepted);
                    Vec::new()
                }
            };
            self.apply(actions).await;
            self.publish();
        }
    }

    fn publish(&mut self) {
        if self.machine.transitions() != self.quiet_generation {
            self.quiet_generation = self.machine.transitions();
            self.quiet.clear();
        }
        let now = snapshot(&self.cfg, &self.machine, self.listener.is_some());
        self.status.send_if_modified(|current| {
            let changed = *current != now;
            if changed {
                *current = now;
            }
            changed
        });
    }

    fn on_datagram(&mut self, data: &[u8], source: SocketAddr) -> Vec<Action> {
        match wire::decode(
            data,
            self.cfg.virtual_router_id,
            self.cfg.auth_pass.as_deref(),
        ) {
            // Our own advert looped back by a peer list naming us: not a peer.
            Ok(advert) if advert.from == self.cfg.bind => Vec::new(),
            Ok(advert) => self.machine.on_advert(Instant::now(), &advert),
            Err(e) => {
                if self.quiet.insert((source.ip(), reject_kind(&e))) {
                    px_warn!("{}", e.log_line(&self.cfg.instance, self.cfg.bind, source));
                }
                Vec::new()
            }
        }
    }

    fn on_accepted(&mut self, accepted: Accepted) {
        match accepted {
            Accepted::Delivered => self.accept_pause = None,
            Accepted::Dropped => {
                px_warn!(
                    "({}) connection on VIP {} closed: no traffic handler",
                    self.cfg.instance,
                    self.cfg.vip
                );
            }
            Accepted::Failed(e) => {
                px_warn!(
                    "({}) accept on VIP {} failed: {e}",
                    self.cfg.instance,
                    self.cfg.vip
                );
                self.accept_pause = Some(tokio::time::Instant::now() + ACCEPT_PAUSE);
            }
        }
    }

    async fn apply(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::SendAdvert(priority) => self.send_advert(priority).await,
                Action::AcquireVip => {
                    self.want_vip = true;
                    self.bind_waiting_since = Some(Instant::now());
                    self.try_bind();
                }
                Action::ReleaseVip => self.release_vip(),
                Action::LogLine(line) => px_info!("{line}"),
            }
        }
    }

    async fn send_advert(&mut self, priority: u8) {
        let packet = wire::encode(
            self.cfg.virtual_router_id,
            priority,
            self.cfg.advert_int,
            self.cfg.bind,
            self.cfg.auth_pass.as_deref(),
        );
        for peer in &self.cfg.peers {
            match self.udp.send_to(&packet, peer).await {
                Ok(_) => {
                    self.unreachable_peers.remove(peer);
                }
                Err(e) => {
                    if self.unreachable_peers.insert(*peer) {
                        px_warn!("({}) cannot send advert to {peer}: {e}", self.cfg.instance);
                    }
                }
            }
        }
    }

    /// Binds the VIP if this node wants it; while another holder still has it, retries every
    /// [`BIND_RETRY`] (the old master lets go as soon as it hears our advert, or dies).
    fn try_bind(&mut self) {
        self.bind_retry = None;
        if !self.want_vip || self.listener.is_some() {
            return;
        }
        match bind_vip_listener(self.cfg.vip) {
            Ok(listener) => {
                self.listener = Some(listener);
                self.bind_error_logged = None;
                let waited = self
                    .bind_waiting_since
                    .take()
                    .map(|since| since.elapsed().as_millis())
                    .unwrap_or(0);
                px_info!(
                    "({}) VIP {} bound (waited {waited} ms)",
                    self.cfg.instance,
                    self.cfg.vip
                );
                self.publish();
            }
            Err(e) => {
                let busy = e.kind() == io::ErrorKind::AddrInUse;
                if self.bind_error_logged != Some(e.kind()) {
                    self.bind_error_logged = Some(e.kind());
                    if busy {
                        px_info!(
                            "({}) VIP {} still held by the previous master, retrying",
                            self.cfg.instance,
                            self.cfg.vip
                        );
                    } else {
                        px_warn!(
                            "({}) cannot bind VIP {}: {e}; retrying every {} s",
                            self.cfg.instance,
                            self.cfg.vip,
                            BIND_RETRY_SLOW.as_secs()
                        );
                    }
                }
                let delay = if busy { BIND_RETRY } else { BIND_RETRY_SLOW };
                self.bind_retry = Some(tokio::time::Instant::now() + delay);
            }
        }
    }

    fn release_vip(&mut self) {
        self.want_vip = false;
        self.bind_retry = None;
        self.bind_waiting_since = None;
        self.bind_error_logged = None;
        if let Some(listener) = self.listener.take() {
            // Publish "not held" before the socket closes, so no observer can ever see two
            // nodes reporting the VIP at once.
            self.publish();
            drop(listener);
            px_info!("({}) VIP {} released", self.cfg.instance, self.cfg.vip);
        }
    }
}

impl Drop for Runner {
    /// Also runs when the task is aborted ([`VipHandle::kill`]): subscribers must not keep
    /// seeing a dead instance as MASTER holding the VIP. `drop` runs before the fields are
    /// dropped, so "not held" is published before the listener closes here too.
    fn drop(&mut self) {
        self.status.send_if_modified(|status| {
            let changed = status.vip_held || status.state != VrrpState::Init;
            status.vip_held = false;
            status.state = VrrpState::Init;
            changed
        });
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::vip::InitialState;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn free_udp_port(ip: [u8; 4]) -> SocketAddr {
        let socket = std::net::UdpSocket::bind(SocketAddr::from((ip, 0))).unwrap();
        socket.local_addr().unwrap()
    }

    fn free_tcp_port(ip: [u8; 4]) -> SocketAddr {
        let listener = std::net::TcpListener::bind(SocketAddr::from((ip, 0))).unwrap();
        listener.local_addr().unwrap()
    }

    /// The test's own bind attempt, with SO_REUSEADDR like a holder would use: it fails
    /// while any node holds the VIP.
    fn vip_is_free(vip: SocketAddr) -> bool {
        let socket = Socket::new(Domain::for_address(vip), Type::STREAM, None).unwrap();
        socket.set_reuse_address(true).unwrap();
        match socket.bind(&vip.into()).and_then(|()| socket.listen(1)) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => false,
            Err(e) => panic!("unexpected bind error on {vip}: {e}"),
        }
    }

    async fn wait_for(
        handle: &VipHandle,
        limit: Duration,
        what: &str,
        pred: impl Fn(&VipStatus) -> bool,
    ) -> Duration {
        let start = Instant::now();
        let mut rx = handle.subscribe();
        let result = tokio::time::timeout(limit, rx.wait_for(|s| pred(s))).await;
        assert!(
            result.is_ok(),
            "{what} not reached within {limit:?}: {:?}",
            handle.status()
        );
        start.elapsed()
    }

    /// Exactly one node reports holding the VIP and the kernel agrees that it is taken.
    fn assert_held_once_by(nodes: &[&VipHandle], holder: usize, vip: SocketAddr) {
        for (i, node) in nodes.iter().enumerate() {
            assert_eq!(
                node.status().vip_held,
                i == holder,
                "node {i}: {:?}",
                node.status()
            );
        }
        assert!(!vip_is_free(vip), "nobody holds {vip}");
    }

    async fn connect_and_expect(vip: SocketAddr, rx: &mut mpsc::Receiver<Connection>) {
        let mut client = TcpStream::connect(vip).await.unwrap();
        let (mut served, peer) = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("connection not delivered")
            .unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        served.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loopback_failover_moves_vip_exactly_once() {
        let a1 = free_udp_port([127, 0, 0, 11]);
        let a2 = free_udp_port([127, 0, 0, 12]);
        let vip = free_tcp_port([127, 0, 0, 21]);
        let advert_int = Duration::from_millis(50);

        let mut c1 = VipConfig::new(51, vip, a1);
        c1.priority = 100;
        c1.state = InitialState::Master;
        c1.advert_int = advert_int;
        c1.auth_pass = Some("1234".into());
        c1.peers = vec![a2];
        let mut track = TrackConfig::new("chk_service", CheckKind::Builtin);
        track.interval = Duration::from_millis(20);
        track.fall = 2;
        track.weight = -20;
        c1.check = Some(track);
        let mut c2 = c1.clone();
        c2.priority = 90;
        c2.state = InitialState::Backup;
        c2.bind = a2;
        c2.peers = vec![a1];

        let healthy = Arc::new(AtomicBool::new(true));
        let h = healthy.clone();
        let check1: Arc<dyn HealthCheck> = Arc::new(move || {
            let ok = h.load(Ordering::SeqCst);
            async move {
                if ok {
                    CheckOutcome::Succeeded
                } else {
                    CheckOutcome::Failed("traffic listener down".into())
                }
            }
        });
        let check2: Arc<dyn HealthCheck> = Arc::new(|| async { CheckOutcome::Succeeded });

        let (tx1, mut rx1) = mpsc::channel(8);
        let (tx2, mut rx2) = mpsc::channel(8);
        let n1 = VipHandle::spawn(c1, Some(check1), tx1).await.unwrap();
        let n2 = VipHandle::spawn(c2, Some(check2), tx2).await.unwrap();

        // Sample both statuses throughout; reading n1, n2, n1 guards against n1 releasing
        // and n2 acquiring between the two reads being mistaken for a double hold.
        let (w1, w2) = (n1.subscribe(), n2.subscribe());
        let sampling = Arc::new(AtomicBool::new(true));
        let keep = sampling.clone();
        let sampler = tokio::spawn(async move {
            let mut samples = 0u64;
            while keep.load(Ordering::SeqCst) {
                let first = w1.borrow().vip_held;
                let second = w2.borrow().vip_held;
                let again = w1.borrow().vip_held;
                assert!(!(first && second && again), "both nodes hold the VIP");
                samples += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            samples
        });

        // 1. node1 (MASTER, 100) takes the VIP; a client reaches node1.
        wait_for(&n1, Duration::from_secs(3), "node1 holds", |s| s.vip_held).await;
        tokio::time::sleep(advert_int * 4).await;
        assert_eq!(n2.status().state, VrrpState::Backup);
        assert_eq!(n2.status().last_advert_from, Some(a1));
        assert_held_once_by(&[&n1, &n2], 0, vip);
        connect_and_expect(vip, &mut rx1).await;

        // 2. node1's check fails: 100 - 20 = 80 < 90, node2 preempts within
        //    fall * interval + Master_Down_Interval (plus scheduling slack).
        healthy.store(false, Ordering::SeqCst);
        let took = wait_for(&n2, Duration::from_secs(3), "node2 holds", |s| s.vip_held).await;
        assert!(took < Duration::from_secs(1), "{took:?}");
        wait_for(&n1, Duration::from_secs(1), "node1 backup", |s| {
            s.state == VrrpState::Backup && !s.vip_held
        })
        .await;
        assert_eq!(n1.status().effective_priority, 80);
        assert_eq!(n1.status().check_ok, Some(false));
        assert_held_once_by(&[&n1, &n2], 1, vip);
        connect_and_expect(vip, &mut rx2).await;

        // 3. The check recovers: node1 is back at 100 and preempts.
        healthy.store(true, Ordering::SeqCst);
        wait_for(&n1, Duration::from_secs(3), "node1 holds again", |s| {
            s.vip_held
        })
        .await;
        wait_for(&n2, Duration::from_secs(1), "node2 released", |s| {
            !s.vip_held
        })
        .await;
        assert_held_once_by(&[&n1, &n2], 0, vip);
        connect_and_expect(vip, &mut rx1).await;

        // 4. kill -9 node1: node2 takes over after Master_Down_Interval (~0.18 s here).
        n1.kill().await;
        let took = wait_for(&n2, Duration::from_secs(3), "node2 holds after kill", |s| {
            s.vip_held
        })
        .await;
        assert!(took < Duration::from_secs(1), "{took:?}");
        assert!(!vip_is_free(vip));
        connect_and_expect(vip, &mut rx2).await;

        // 5. A graceful stop frees the VIP at once.
        n2.shutdown().await;
        assert!(vip_is_free(vip), "VIP still bound after shutdown");

        sampling.store(false, Ordering::SeqCst);
        let samples = sampler.await.unwrap();
        assert!(samples > 100, "only {samples} samples");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn graceful_stop_hands_over_after_skew_and_rejects_foreign_adverts() {
        let a1 = free_udp_port([127, 0, 0, 13]);
        let a2 = free_udp_port([127, 0, 0, 14]);
        let a3 = free_udp_port([127, 0, 0, 15]);
        let vip = free_tcp_port([127, 0, 0, 22]);

        let mut c1 = VipConfig::new(52, vip, a1);
        c1.priority = 255;
        c1.state = InitialState::Master;
        c1.advert_int = Duration::from_millis(500);
        c1.peers = vec![a2];
        let mut c2 = c1.clone();
        c2.priority = 100;
        c2.state = InitialState::Backup;
        c2.bind = a2;
        c2.peers = vec![a1];
        // A node of another virtual router, and one with the wrong password, both pointed at
        // node2: neither may disturb it.
        let mut stranger = c2.clone();
        stranger.virtual_router_id = 53;
        stranger.priority = 254;
        stranger.state = InitialState::Master;
        stranger.bind = a3;
        stranger.peers = vec![a2];
        stranger.vip = free_tcp_port([127, 0, 0, 23]);
        let mut intruder = stranger.clone();
        intruder.virtual_router_id = 52;
        intruder.auth_pass = Some("guess".into());
        intruder.bind = free_udp_port([127, 0, 0, 17]);
        intruder.vip = free_tcp_port([127, 0, 0, 23]);

        let (tx1, _rx1) = mpsc::channel(1);
        let (tx2, _rx2) = mpsc::channel(1);
        let (tx3, _rx3) = mpsc::channel(1);
        let (tx4, _rx4) = mpsc::channel(1);
        let n1 = VipHandle::spawn(c1, None, tx1).await.unwrap();
        wait_for(&n1, Duration::from_secs(1), "owner holds", |s| s.vip_held).await;
        let n2 = VipHandle::spawn(c2, None, tx2).await.unwrap();
        let n3 = VipHandle::spawn(stranger, None, tx3).await.unwrap();
        let n4 = VipHandle::spawn(intruder, None, tx4).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(n2.status().state, VrrpState::Backup);
        assert_eq!(n2.status().last_advert_from, Some(a1));
        assert_held_once_by(&[&n1, &n2], 0, vip);

        // The owner stops with a priority-0 advert: node2 needs only its skew time
        // ((256 - 100) / 256 * 0.5 s = 305 ms), far below Master_Down_Interval (1.8 s).
        let started = Instant::now();
        n1.shutdown().await;
        wait_for(&n2, Duration::from_secs(2), "node2 holds", |s| s.vip_held).await;
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(1200),
            "{took:?}"
        );
        assert!(!vip_is_free(vip));
        n2.shutdown().await;
        n3.shutdown().await;
        n4.shutdown().await;
    }

    #[tokio::test]
    async fn vip_listener_cannot_be_bound_twice() {
        // Would pass the second bind if SO_REUSEPORT were set: that is the split brain.
        let vip = free_tcp_port([127, 0, 0, 25]);
        let first = bind_vip_listener(vip).unwrap();
        let second = bind_vip_listener(vip).unwrap_err();
        assert_eq!(second.kind(), io::ErrorKind::AddrInUse);
        // SO_REUSEADDR: a new holder binds at once although a session of the old one
        // lingers in TIME_WAIT.
        let client = TcpStream::connect(vip).await.unwrap();
        let (server_side, _) = first.accept().await.unwrap();
        drop(server_side);
        drop(client);
        drop(first);
        bind_vip_listener(vip).unwrap();
    }

    #[tokio::test]
    async fn builtin_check_without_implementation_is_an_error() {
        let mut cfg = VipConfig::new(
            51,
            "127.0.0.24:6033".parse().unwrap(),
            free_udp_port([127, 0, 0, 16]),
        );
        cfg.check = Some(TrackConfig::new("chk_service", CheckKind::Builtin));
        let (tx, _rx) = mpsc::channel(1);
        let err = VipHandle::spawn(cfg, None, tx).await.unwrap_err();
        assert!(matches!(err, VipError::MissingHealthCheck(ref n) if n == "chk_service"));
    }

    #[tokio::test]
    async fn scripts_report_like_keepalived() {
        let dir = tempfile::tempdir().unwrap();
        let script = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            path
        };
        let second = Duration::from_secs(1);
        assert_eq!(
            run_script(&script("ok", "exit 0"), second).await,
            CheckOutcome::Succeeded
        );
        assert_eq!(
            run_script(&script("fail", "exit 1"), second).await,
            CheckOutcome::Failed("exited with status 1".into())
        );
        assert_eq!(
            run_script(&script("killed", "kill -9 $$"), second).await,
            CheckOutcome::Failed("due to signal 9".into())
        );
        let started = Instant::now();
        assert_eq!(
            run_script(&script("slow", "sleep 5"), Duration::from_millis(200)).await,
            CheckOutcome::TimedOut
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        let missing = run_script(&dir.path().join("missing"), second).await;
        assert!(
            matches!(missing, CheckOutcome::Failed(ref r) if r.starts_with("could not be run"))
        );
    }
}
