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
/// Bounds of the wait before a new MASTER takes the VIP over from a holder that does not let
/// go (see [`takeover_grace`]).
const TAKEOVER_GRACE_MIN: Duration = Duration::from_millis(100);
const TAKEOVER_GRACE_MAX: Duration = Duration::from_secs(1);
/// Retry pace for bind errors that will not clear by themselves soon (address not local...).
const BIND_RETRY_SLOW: Duration = Duration::from_secs(1);
/// Pause after a failed accept (out of descriptors...), so the loop cannot spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
const LISTEN_BACKLOG: i32 = 1024;

/// How long a new MASTER lets the previous holder release the VIP before it takes the VIP
/// over ([`join_vip_group`]): one advert interval (a live holder answers within a round
/// trip; the interval leaves room for a loaded machine), kept within 100 ms - 1 s.
fn takeover_grace(advert_int: Duration) -> Duration {
    advert_int.clamp(TAKEOVER_GRACE_MIN, TAKEOVER_GRACE_MAX)
}

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

/// Binds the VIP listener if no other process listens on the VIP.
///
/// SO_REUSEADDR lets a new holder bind while the previous holder's closed sessions linger in
/// TIME_WAIT, which would otherwise delay a failover by up to a minute. The listener also
/// carries SO_REUSEPORT, so that a later MASTER can still take the VIP over if this process
/// freezes while holding it (see [`join_vip_group`]); but the polite path never *joins* a
/// holder: a probe socket without SO_REUSEPORT is bound first, and the kernel refuses it
/// with EADDRINUSE for as long as any listener exists. Two live nodes therefore never serve
/// the VIP at once: a new MASTER waits for the old one to let go, which a live one does as
/// soon as it hears the new MASTER's advert.
fn bind_vip_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    probe.set_reuse_address(true)?;
    // bind(2) alone conflicts with a socket in LISTEN state; the probe never listens, so
    // no client can be queued on it.
    probe.bind(&addr.into())?;
    drop(probe);
    let socket = vip_socket(addr)?;
    socket.listen(LISTEN_BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// A bound, not yet listening VIP socket with SO_REUSEADDR and SO_REUSEPORT.
fn vip_socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    set_reuse_port(&socket)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a descriptor we own, with a pointer to a live c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEPORT,
            std::ptr::addr_of!(on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Takes the VIP over from a holder that no longer answers (a frozen process still owns its
/// listening socket, so the address cannot be bound alone).
///
/// The new listener joins the holder's SO_REUSEPORT group (the kernel allows it only to
/// sockets of the same user that also set SO_REUSEPORT) and attaches a classic BPF program
/// to the group that selects this socket for every new connection. The kernel appends a
/// joining socket at the end of the group, so its index is the number of listeners on the
/// VIP minus one, read from `/proc/net/tcp{,6}` right after `listen`. The frozen socket stays
/// in the group but receives nothing new; when it closes, the kernel moves the last socket
/// into its slot and the program's index falls out of range, in which case the kernel picks
/// by hash among what is left, which is then only this socket in a two-node router.
/// Returns the listener and its index in the group.
fn join_vip_group(addr: SocketAddr) -> io::Result<(TcpListener, u32)> {
    let socket = vip_socket(addr)?;
    socket.listen(LISTEN_BACKLOG)?;
    let listeners = count_listeners(addr)?;
    let index = u32::try_from(listeners.saturating_sub(1)).unwrap_or(u32::MAX);
    steer_group_to(&socket, index)?;
    Ok((TcpListener::from_std(socket.into())?, index))
}

/// Attaches `ret #index` as the group's SO_ATTACH_REUSEPORT_CBPF program: every new
/// connection goes to the socket at `index` (unprivileged, unlike eBPF's socket maps).
fn steer_group_to(socket: &Socket, index: u32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    /// BPF_RET | BPF_K: return the constant `k`.
    const BPF_RET_K: u16 = 0x06;
    /// SO_ATTACH_REUSEPORT_CBPF from <asm-generic/socket.h> (the same on x86 and arm).
    const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;
    let mut program = [libc::sock_filter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k: index,
    }];
    let fprog = libc::sock_fprog {
        len: 1,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: setsockopt with a pointer to a live sock_fprog whose filter array outlives the
    // call; the kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            std::ptr::addr_of!(fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Number of TCP sockets listening on exactly `addr` in this network namespace.
fn count_listeners(addr: SocketAddr) -> io::Result<usize> {
    let table = match addr {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    Ok(count_listeners_in(&std::fs::read_to_string(table)?, addr))
}

/// Counts the LISTEN (`0A`) rows of a `/proc/net/tcp{,6}` table whose local address is
/// `addr` (printed as the kernel's in-memory words in hex, hence the native byte order).
fn count_listeners_in(table: &str, addr: SocketAddr) -> usize {
    let local = match addr.ip() {
        IpAddr::V4(ip) => format!("{:08X}", u32::from_ne_bytes(ip.octets())),
        IpAddr::V6(ip) => ip
            .octets()
            .chunks_exact(4)
            .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
            .collect(),
    };
    let wanted = format!("{local}:{:04X}", addr.port());
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1);
            let state = fields.nth(1);
            local == Some(wanted.as_str()) && state == Some("0A")
        })
        .count()
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
                if busy && self.holder_unresponsive() {
                    match join_vip_group(self.cfg.vip) {
                        Ok((listener, index)) => {
                            self.on_took_over(listener, index);
                            return;
                        }
                        Err(e) => {
                            if self.bind_error_logged != Some(e.kind()) {
                                self.bind_error_logged = Some(e.kind());
                                px_warn!(
                                    "({}) VIP {} held by a master that does not answer, and \
                                     its socket cannot be joined: {e}; retrying",
                                    self.cfg.instance,
                                    self.cfg.vip
                                );
                            }
                            self.bind_retry = Some(tokio::time::Instant::now() + BIND_RETRY);
                            return;
                        }
                    }
                }
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

    /// Whether the previous holder has had its chance to let go. A live master releases the
    /// VIP (or reclaims mastership with an advert of its own) as soon as it hears our advert,
    /// within a round trip; one that still holds the socket after [`takeover_grace`] is
    /// frozen or hung, and the VIP is taken over from it.
    fn holder_unresponsive(&self) -> bool {
        self.bind_waiting_since
            .is_some_and(|since| since.elapsed() >= takeover_grace(self.cfg.advert_int))
    }

    fn on_took_over(&mut self, listener: TcpListener, index: u32) {
        self.listener = Some(listener);
        self.bind_error_logged = None;
        let waited = self
            .bind_waiting_since
            .take()
            .map(|since| since.elapsed().as_millis())
            .unwrap_or(0);
        px_warn!(
            "({}) VIP {} taken over from a previous master that still holds it without \
             answering (frozen?): joined its SO_REUSEPORT group as socket {index}, new \
             connections come here (waited {waited} ms)",
            self.cfg.instance,
            self.cfg.vip
        );
        self.publish();
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
        // The polite bind probes without SO_REUSEPORT: a second holder is refused (joining
        // the group is only for a holder that does not answer, see join_vip_group).
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
    async fn takeover_steers_new_connections_away_from_a_frozen_holder() {
        let vip = free_tcp_port([127, 0, 0, 26]);
        // The "frozen" holder: it listens and never accepts.
        let frozen = bind_vip_listener(vip).unwrap();
        assert_eq!(count_listeners(vip).unwrap(), 1);
        let (taker, index) = join_vip_group(vip).unwrap();
        assert_eq!(index, 1);
        assert_eq!(count_listeners(vip).unwrap(), 2);
        // Every new connection lands on the new holder, none on the frozen one.
        for _ in 0..20 {
            let client = TcpStream::connect(vip).await.unwrap();
            let (_served, peer) = tokio::time::timeout(Duration::from_secs(2), taker.accept())
                .await
                .expect("connection went to the frozen holder")
                .unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
        }
        let nothing = tokio::time::timeout(Duration::from_millis(50), frozen.accept()).await;
        assert!(nothing.is_err(), "the frozen holder received a connection");
        // A polite bind still refuses while either holds the VIP.
        assert_eq!(
            bind_vip_listener(vip).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        // The frozen holder exits: the taker is alone and still served.
        drop(frozen);
        let client = TcpStream::connect(vip).await.unwrap();
        let (_served, peer) = tokio::time::timeout(Duration::from_secs(2), taker.accept())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    }

    #[test]
    fn listeners_are_counted_from_the_kernel_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 1400007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n\
   1: 1400007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0\n\
   2: 1400007F:1F91 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n\
   3: 1500007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1 0 100 0 0 10 0\n";
        let vip: SocketAddr = "127.0.0.20:8081".parse().unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(count_listeners_in(table, vip), 2);
        }
        assert_eq!(
            count_listeners_in(table, "127.0.0.20:8082".parse().unwrap()),
            0
        );
    }

    #[test]
    fn takeover_grace_follows_the_advert_interval_within_bounds() {
        assert_eq!(
            takeover_grace(Duration::from_millis(10)),
            Duration::from_millis(100)
        );
        assert_eq!(
            takeover_grace(Duration::from_millis(300)),
            Duration::from_millis(300)
        );
        assert_eq!(
            takeover_grace(Duration::from_secs(3)),
            Duration::from_secs(1)
        );
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
