//! Network namespaces for the keepalived-stack drill: a bridge in a `lan` namespace and one
//! namespace per host plugged into it, created with `ip` and deleted on drop. Every
//! interface is created inside a namespace of this module (veth pairs are made in the `lan`
//! namespace and their far end moved straight into the host's namespace), so nothing on the
//! machine's own network changes; sockets a namespace needs are created by a short-lived
//! thread that enters it, and stay there.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;

use super::DrillError;

/// Where `ip netns` keeps named namespaces.
const NETNS_DIR: &str = "/run/netns";

/// Why the namespace drill cannot run on this machine, if it cannot: not root, no `ip
/// netns`, or one of `tools` missing.
pub(super) fn unavailable(tools: &[&str]) -> Option<String> {
    // SAFETY: geteuid has no preconditions and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root to create network namespaces (run it with sudo)".into());
    }
    for tool in tools {
        if which(tool).is_none() {
            return Some(format!(
                "`{tool}` is not installed (Debian: apt-get install {})",
                match *tool {
                    "ip" => "iproute2",
                    "mariadb" => "mariadb-client",
                    other => other,
                }
            ));
        }
    }
    let probe = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return Some("`ip netns` is unavailable (no network namespace support?)".into());
    }
    None
}

/// `tool` on the PATH or in the sbin directories (keepalived lives in /usr/sbin).
pub(super) fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

fn ip_status(args: &[&str]) -> Result<String, DrillError> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| DrillError::Setup(format!("ip {}: {e}", args.join(" "))))?;
    if !out.status.success() {
        return Err(DrillError::Setup(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Namespaces created by one drill, deleted (with their veths and bridge) on drop.
pub(super) struct Topology {
    prefix: String,
    created: Vec<String>,
}

/// Runs of this process so far, so two drills in one process get distinct names too.
static RUNS: AtomicU32 = AtomicU32::new(0);

impl Topology {
    /// An empty topology whose names start with `pxd<pid>x<run>` (unique per run).
    pub fn new() -> Topology {
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        Topology {
            prefix: format!("pxd{}x{run}", std::process::id()),
            created: Vec::new(),
        }
    }

    /// The namespace name of `tag`.
    pub fn name(&self, tag: &str) -> String {
        format!("{}{tag}", self.prefix)
    }

    fn add(&mut self, tag: &str) -> Result<String, DrillError> {
        let name = self.name(tag);
        ip_status(&["netns", "add", &name])?;
        self.created.push(name.clone());
        ip_status(&["-n", &name, "link", "set", "lo", "up"])?;
        Ok(name)
    }

    /// A bridge `br0` in namespace `lan`, and per `(tag, addr/prefix)` a namespace whose
    /// `eth0` is plugged into it.
    pub fn build(&mut self, hosts: &[(&str, &str)]) -> Result<(), DrillError> {
        let lan = self.add("lan")?;
        ip_status(&["-n", &lan, "link", "add", "br0", "type", "bridge"])?;
        ip_status(&["-n", &lan, "link", "set", "br0", "up"])?;
        for (tag, cidr) in hosts {
            let ns = self.add(tag)?;
            let port = format!("v{tag}");
            ip_status(&[
                "-n", &lan, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ])?;
            ip_status(&["-n", &lan, "link", "set", &port, "master", "br0", "up"])?;
            ip_status(&["-n", &ns, "addr", "add", cidr, "dev", "eth0"])?;
            ip_status(&["-n", &ns, "link", "set", "eth0", "up"])?;
        }
        Ok(())
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for name in self.created.iter().rev() {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", name])
                .status();
        }
    }
}

/// Runs `make` on a thread that entered namespace `ns`; the file descriptors it creates
/// belong to that namespace for good.
fn in_namespace<T: Send + 'static>(
    ns: &str,
    make: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let path = Path::new(NETNS_DIR).join(ns);
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path)?;
        // SAFETY: setns on a descriptor of a network namespace; it changes only this
        // thread, which ends right after `make`.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        make()
    })
    .join()
    .map_err(|_| std::io::Error::other("namespace thread panicked"))?
}

/// A non-blocking TCP listener bound to `addr` inside `ns`.
pub(super) fn listener_in(ns: &str, addr: SocketAddr) -> Result<std::net::TcpListener, DrillError> {
    in_namespace(ns, move || {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    })
    .map_err(|e| DrillError::Setup(format!("listen on {addr} in namespace {ns}: {e}")))
}

/// A fresh, unconnected TCP socket created inside `ns`, ready for `connect`.
async fn socket_in(ns: &str) -> std::io::Result<tokio::net::TcpSocket> {
    let ns = ns.to_string();
    let fd: OwnedFd = tokio::task::spawn_blocking(move || {
        in_namespace(&ns, || {
            let socket = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )?;
            socket.set_nonblocking(true)?;
            Ok(OwnedFd::from(socket))
        })
    })
    .await
    .map_err(std::io::Error::other)??;
    // SAFETY: the descriptor is a fresh, owned, non-blocking TCP socket.
    Ok(unsafe { tokio::net::TcpSocket::from_raw_fd(fd.into_raw_fd()) })
}

/// Relays that carry TCP connections across namespaces; aborted on drop.
#[derive(Default)]
pub(super) struct Relays {
    tasks: JoinSet<()>,
}

impl Relays {
    /// Connections to `listener` (bound inside a namespace) are relayed to `target` on the
    /// host's own loopback: how a proxy in a namespace reaches the MariaDB lab.
    pub fn toward_host(
        &mut self,
        listener: std::net::TcpListener,
        target: SocketAddr,
    ) -> Result<(), DrillError> {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| DrillError::Setup(format!("relay to {target}: {e}")))?;
        self.tasks.spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((mut inside, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut host) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inside, &mut host).await;
                    }
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(())
    }

    /// A listener on the host's loopback whose connections are made again from inside `ns`
    /// to `target`: the writer's connections leave from the client namespace and reach the
    /// VIP over the bridge. A connect that fails or outlasts `connect_timeout` closes the
    /// accepted connection (the client sees a lost connection). Returns the listener's
    /// address.
    pub async fn out_of_namespace(
        &mut self,
        ns: &str,
        target: SocketAddr,
        connect_timeout: Duration,
    ) -> Result<SocketAddr, DrillError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| DrillError::Setup(format!("client relay: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| DrillError::Setup(format!("client relay: {e}")))?;
        let ns = ns.to_string();
        self.tasks.spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((mut outside, _)) = listener.accept().await {
                let ns = ns.clone();
                conns.spawn(async move {
                    let Ok(socket) = socket_in(&ns).await else {
                        return;
                    };
                    let _ = socket.set_nodelay(true);
                    if let Ok(Ok(mut inside)) =
                        tokio::time::timeout(connect_timeout, socket.connect(target)).await
                    {
                        let _ = inside.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut outside, &mut inside).await;
                    }
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(local)
    }
}

/// Whether the interface of `ns` carries `vip` right now (`ip -n NS -br -4 addr`).
pub(super) async fn holds(ns: &str, vip: &str) -> Result<bool, DrillError> {
    let out = tokio::process::Command::new("ip")
        .args(["-n", ns, "-br", "-4", "addr", "show"])
        .output()
        .await
        .map_err(|e| DrillError::Setup(format!("ip -n {ns} addr: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(carries(&text, vip))
}

/// Whether `ip -br addr` output lists `vip` on some interface.
fn carries(brief: &str, vip: &str) -> bool {
    let wanted = format!("{vip}/");
    brief
        .lines()
        .flat_map(|line| line.split_whitespace().skip(2))
        .any(|addr| addr.starts_with(&wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vip_is_found_in_brief_output_and_not_mistaken_for_a_longer_address() {
        let out = "lo               UNKNOWN        127.0.0.1/8 \n\
                   eth0@if5         UP             192.168.0.11/24 192.168.0.20/24 \n";
        assert!(carries(out, "192.168.0.20"));
        assert!(!carries(out, "192.168.0.2"));
        assert!(!carries(out, "192.168.0.12"));
        // The interface name and state columns are not addresses.
        assert!(!carries("UP UP 10.0.0.1/8\n", "UP"));
    }

    #[test]
    fn vrrp_adverts_and_gratuitous_arps_are_told_apart() {
        let vip = [192, 168, 0, 20];
        let mut advert = vec![0u8; 14 + 20 + 8];
        advert[12..14].copy_from_slice(&[0x08, 0x00]);
        advert[14] = 0x45;
        advert[14 + 9] = 112;
        advert[14 + 20 + 1] = 51;
        advert[14 + 20 + 2] = 90;
        assert_eq!(classify(&advert, vip), Some(Frame::Advert { priority: 90 }));
        advert[14 + 9] = 6; // TCP
        assert_eq!(classify(&advert, vip), None);

        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        arp[28..32].copy_from_slice(&vip);
        arp[38..42].copy_from_slice(&vip);
        assert_eq!(classify(&arp, vip), Some(Frame::GratuitousArp));
        arp[38..42].copy_from_slice(&[192, 168, 0, 11]); // an ordinary request
        assert_eq!(classify(&arp, vip), None);
        assert_eq!(classify(&arp[..20], vip), None);
    }

    #[test]
    fn run_names_differ_within_one_process() {
        let (a, b) = (Topology::new(), Topology::new());
        assert_ne!(a.name("n1"), b.name("n1"));
        assert!(a.name("lan").len() < 32);
    }
}

/// What a captured frame was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Frame {
    /// A VRRP advertisement (IP protocol 112) with this priority.
    Advert { priority: u8 },
    /// A gratuitous ARP for the watched address.
    GratuitousArp,
}

/// A frame a host sent onto the bridge, stamped when read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Captured {
    /// Index of the port (host) that sent it.
    pub host: usize,
    /// When the capture read it.
    pub at: std::time::Instant,
    /// What it was.
    pub frame: Frame,
}

/// Classifies an Ethernet frame: a VRRP advert, a gratuitous ARP for `vip`, or neither.
pub(super) fn classify(frame: &[u8], vip: [u8; 4]) -> Option<Frame> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    match ethertype {
        0x0800 => {
            let ihl = usize::from(frame.get(14)? & 0x0f) * 4;
            if *frame.get(14 + 9)? != 112 {
                return None;
            }
            Some(Frame::Advert {
                priority: *frame.get(14 + ihl + 2)?,
            })
        }
        0x0806 => {
            let spa = frame.get(28..32)?;
            let tpa = frame.get(38..42)?;
            (spa == vip && tpa == vip).then_some(Frame::GratuitousArp)
        }
        _ => None,
    }
}

/// Captures what each host sends onto the bridge: one packet socket per bridge port
/// (`ports[i]` in namespace `lan` is host `i`'s cable), frames arriving from the host only.
/// Stops and joins its threads on drop.
pub(super) struct WireCapture {
    frames: std::sync::Arc<parking_lot::Mutex<Vec<Captured>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl WireCapture {
    /// Starts capturing on `ports` of namespace `lan`.
    pub fn start(lan: &str, ports: &[String], vip: [u8; 4]) -> Result<WireCapture, DrillError> {
        let frames = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut threads = Vec::new();
        for (host, port) in ports.iter().enumerate() {
            let name = port.clone();
            let fd = in_namespace(lan, move || packet_socket(&name))
                .map_err(|e| DrillError::Setup(format!("capture on {port}: {e}")))?;
            let (frames, stop) = (frames.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    // SAFETY: sockaddr_ll is plain data; zero is a valid value.
                    let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
                    let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                    // SAFETY: recvfrom into a buffer and address of the sizes given; the
                    // descriptor is owned by this thread.
                    let n = unsafe {
                        libc::recvfrom(
                            fd.as_raw_fd(),
                            buf.as_mut_ptr().cast(),
                            buf.len(),
                            0,
                            (&raw mut from).cast(),
                            &raw mut len,
                        )
                    };
                    let Ok(n) = usize::try_from(n) else {
                        continue; // timeout (SO_RCVTIMEO) or EINTR: check `stop`
                    };
                    // Frames the bridge forwards to this host are "outgoing" on its port.
                    if from.sll_pkttype == libc::PACKET_OUTGOING {
                        continue;
                    }
                    if let Some(frame) = classify(&buf[..n], vip) {
                        frames.lock().push(Captured {
                            host,
                            at: std::time::Instant::now(),
                            frame,
                        });
                    }
                }
            }));
        }
        Ok(WireCapture {
            frames,
            stop,
            threads,
        })
    }

    /// Every frame captured so far.
    pub fn frames(&self) -> Vec<Captured> {
        self.frames.lock().clone()
    }
}

impl Drop for WireCapture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A packet socket bound to interface `name` (in the calling thread's namespace), every
/// protocol, with a 100 ms receive timeout so its reader can notice a stop.
fn packet_socket(name: &str) -> std::io::Result<OwnedFd> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor this function owns from now on.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let cname = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    // SAFETY: a NUL-terminated name.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: sockaddr_ll is plain data; zero is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = proto;
    addr.sll_ifindex = i32::try_from(index).map_err(std::io::Error::other)?;
    // SAFETY: bind with a sockaddr_ll of the size given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    // SAFETY: setsockopt with a timeval of the size given.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}
