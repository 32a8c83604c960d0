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
    fn run_names_differ_within_one_process() {
        let (a, b) = (Topology::new(), Topology::new());
        assert_ne!(a.name("n1"), b.name("n1"));
        assert!(a.name("lan").len() < 32);
    }
}
