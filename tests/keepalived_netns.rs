//! The field report's own stack, for real: Debian's keepalived in network namespaces this
//! test creates, with the configs `pxadm keepalived render` writes for the reference
//! scenario (advert 1 s, check every 2 s, fall 2, weight -20), in front of two `pxadm node`
//! proxies, and a client namespace running the scenario's writer through the VIP. The VIP is
//! a real address (192.168.0.20/24) that keepalived adds and announces with gratuitous ARP.
//!
//! Topology (every interface lives in a namespace of this test; nothing on the host changes):
//!
//! ```text
//!   <pfx>n1 (192.168.0.11, pxadm node + keepalived) ─┐
//!   <pfx>n2 (192.168.0.12, pxadm node + keepalived) ─┼─ br0 in <pfx>lan
//!   <pfx>cl (192.168.0.30, the writer: mariadb CLI) ─┘
//! ```
//!
//! The MariaDB lab listens on the host's loopback, which a namespace cannot reach; the test
//! opens a listener on each proxy namespace's own loopback (127.0.0.1:<primary port>) and
//! relays its connections to the lab, so the proxies dial a loopback backend as usual.
//!
//! Needs root, `ip` and keepalived (`.ci/install-deps` installs it); otherwise the test
//! says why and passes without running. Only "writes resume through the VIP" and "no
//! acknowledged write is lost" are asserted; the outage is printed, not asserted.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{lab, pxadm_bin, query_rows, wait_until, write_file, Lab};
use tokio::process::{Child, Command};

const VIP: &str = "192.168.0.20";
const TRAFFIC_PORT: u16 = 6033;

/// Why the test cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root to create network namespaces".into());
    }
    for tool in ["ip", "keepalived", "mariadb"] {
        if which(tool).is_none() {
            return Some(format!("`{tool}` is not installed (see .ci/install-deps)"));
        }
    }
    let probe = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return Some("`ip netns` is unavailable".into());
    }
    None
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Runs `ip ARGS`, panicking with its stderr on failure.
fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ip_output(args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("run ip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test's namespaces, deleted on drop (which also destroys their veths and bridge),
/// whether the test passed or panicked. Processes started inside are owned by [`Stack`],
/// which drops (and kills) them before this.
struct Namespaces {
    prefix: String,
    created: Vec<String>,
}

impl Namespaces {
    fn new() -> Self {
        // Short and unique per test process: interface and namespace names stay readable.
        let prefix = format!("pxk{}", std::process::id());
        Namespaces {
            prefix,
            created: Vec::new(),
        }
    }

    fn name(&self, tag: &str) -> String {
        format!("{}{tag}", self.prefix)
    }

    fn add(&mut self, tag: &str) -> String {
        let name = self.name(tag);
        ip(&["netns", "add", &name]);
        self.created.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        name
    }

    /// A bridge in `lan`, and one namespace per host plugged into it with `addr/24` on its
    /// `eth0`. The veth pairs are created directly inside the namespaces (`ip -n ... netns`),
    /// never in the host's.
    fn build(&mut self, hosts: &[(&str, &str)]) {
        let lan = self.add("lan");
        ip(&["-n", &lan, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &lan, "link", "set", "br0", "up"]);
        for (tag, addr) in hosts {
            let ns = self.add(tag);
            let port = format!("v{tag}");
            ip(&[
                "-n", &lan, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ]);
            ip(&["-n", &lan, "link", "set", &port, "master", "br0", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        }
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in self.created.iter().rev() {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", name])
                .status();
        }
    }
}

/// A TCP listener created inside network namespace `ns` (a short-lived thread enters it;
/// the socket stays in the namespace it was created in).
fn listener_in(ns: &str, addr: SocketAddr) -> std::net::TcpListener {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open the namespace");
        use std::os::fd::AsRawFd;
        // SAFETY: setns on a valid namespace descriptor; it changes only this thread, which
        // ends right after creating the socket.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        let listener = std::net::TcpListener::bind(addr).expect("bind inside the namespace");
        listener.set_nonblocking(true).unwrap();
        listener
    })
    .join()
    .expect("namespace thread")
}

/// Relays connections made to `listener` (inside a namespace) to `target` on the host's
/// loopback, until the returned task is aborted.
fn relay(listener: std::net::TcpListener, target: SocketAddr) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move {
        while let Ok((mut inside, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut host) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inside, &mut host).await;
                }
            });
        }
    })
}

/// Starts `program args` inside `ns`, output to `log`, killed when dropped.
fn spawn_in(ns: &str, program: &Path, args: &[&str], log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(program)
        .args(args)
        .env("PXADM_LOOPBACK_ONLY", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {} in {ns}: {e}", program.display()))
}

/// Whether `ns`'s eth0 carries the VIP right now.
fn holds_vip(ns: &str) -> bool {
    ip_output(&["-n", ns, "-4", "addr", "show", "dev", "eth0"]).contains(&format!("{VIP}/"))
}

/// Everything the test started; dropped before the namespaces (declared after them).
struct Stack {
    proxies: Vec<Child>,
    keepaliveds: Vec<Child>,
    relays: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for relay in &self.relays {
            relay.abort();
        }
        // kill_on_drop sends SIGKILL; the namespaces are deleted after, taking the VIP along.
        self.keepaliveds.clear();
        self.proxies.clear();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalived_moves_the_vip_off_a_killed_proxy_and_writes_resume() {
    if let Some(reason) = skip_reason() {
        eprintln!(
            "SKIPPED keepalived_moves_the_vip_off_a_killed_proxy_and_writes_resume: {reason}"
        );
        return;
    }
    let lab = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut netns = Namespaces::new();
    netns.build(&[
        ("n1", "192.168.0.11"),
        ("n2", "192.168.0.12"),
        ("cl", "192.168.0.30"),
    ]);
    let (n1, n2, cl) = (netns.name("n1"), netns.name("n2"), netns.name("cl"));

    // The reference scenario's settings, rendered by pxadm for this topology, with the SQL
    // check (a query through the proxy's own traffic port, with a timeout), so a hung proxy
    // fails it too, not only a dead one as with the report's `ps | grep`.
    let rendered = d.join("rendered");
    let nodes_file = write_file(
        d,
        "nodes.toml",
        &format!(
            "virtual_router_id = 51\nauth_pass = \"1234\"\nadvert_int = 1\nvip = \"{VIP}/24\"\n\
             port = {TRAFFIC_PORT}\ninterface = \"eth0\"\nnotify = \"{r}/notify.sh\"\n\n\
             [check]\nname = \"chk_service\"\nscript = \"{r}/check_proxy.sh\"\nkind = \"sql\"\n\
             user = \"svcusr\"\npassword = \"svcusr\"\ninterval = 2\nfall = 2\nrise = 1\nweight = -20\n\n\
             [[node]]\nname = \"node1\"\naddress = \"192.168.0.11\"\nstate = \"MASTER\"\npriority = 100\n\n\
             [[node]]\nname = \"node2\"\naddress = \"192.168.0.12\"\nstate = \"BACKUP\"\npriority = 90\n",
            r = rendered.display()
        ),
    );
    let render = std::process::Command::new(pxadm_bin())
        .args(["keepalived", "render", "--batch", "--nodes"])
        .arg(&nodes_file)
        .arg("--out")
        .arg(&rendered)
        .output()
        .unwrap();
    assert!(
        render.status.success(),
        "render: {}",
        String::from_utf8_lossy(&render.stderr)
    );
    let confs = [
        rendered.join("keepalived-node1.conf"),
        rendered.join("keepalived-node2.conf"),
    ];
    // `keepalived -t` in each node's namespace (the interface exists only there) accepts the
    // rendered files as they are: script_user and enable_script_security are rendered.
    for (conf, ns) in confs.iter().zip([&n1, &n2]) {
        let test = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "keepalived", "-t", "-f"])
            .arg(conf)
            .output()
            .unwrap();
        assert!(
            test.status.success(),
            "keepalived -t rejects {}: {}{}",
            conf.display(),
            String::from_utf8_lossy(&test.stdout),
            String::from_utf8_lossy(&test.stderr)
        );
    }

    let backend = SocketAddr::from(([127, 0, 0, 1], lab.primary));
    let mut stack = Stack {
        proxies: Vec::new(),
        keepaliveds: Vec::new(),
        relays: Vec::new(),
    };
    let namespaces = [&n1, &n2];
    for (i, ns) in namespaces.iter().enumerate() {
        stack.relays.push(relay(listener_in(ns, backend), backend));
        let cnf = write_file(
            d,
            &format!("node{}.cnf", i + 1),
            &format!(
                "mysql_variables =\n{{\n    interfaces = \"0.0.0.0:{TRAFFIC_PORT}\"\n    \
                 monitor_username = \"monitor\"\n    monitor_password = \"monitor\"\n}}\n\
                 mysql_servers =\n(\n    {{ address = \"127.0.0.1\", port = {}, hostgroup = 0 }},\n)\n\
                 mysql_users =\n(\n    {{ username = \"svcusr\", password = \"svcusr\", default_hostgroup = 0, default_schema = \"duhokim\" }},\n)\n",
                lab.primary
            ),
        );
        let datadir = d.join(format!("data{}", i + 1));
        std::fs::create_dir_all(&datadir).unwrap();
        let args = [
            "node".to_string(),
            "--datadir".into(),
            datadir.display().to_string(),
            "--admin".into(),
            "127.0.0.1:6032".into(),
            "--config".into(),
            cnf.display().to_string(),
            "--initial".into(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        stack.proxies.push(spawn_in(
            ns,
            &pxadm_bin(),
            &args,
            &d.join(format!("proxy{}.log", i + 1)),
        ));
    }
    for (i, ns) in namespaces.iter().enumerate() {
        let pid = |what: &str| d.join(format!("{what}{}.pid", i + 1)).display().to_string();
        let conf = confs[i].display().to_string();
        let args = [
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--vrrp",
            "-f",
            &conf,
            "-p",
            &pid("keepalived"),
            "-r",
            &pid("vrrp"),
        ];
        let keepalived = which("keepalived").unwrap();
        stack.keepaliveds.push(spawn_in(
            ns,
            &keepalived,
            &args,
            &d.join(format!("keepalived{}.log", i + 1)),
        ));
    }
    let logs = || {
        let mut text = String::new();
        for name in ["keepalived1", "keepalived2", "proxy1", "proxy2"] {
            let log = std::fs::read_to_string(d.join(format!("{name}.log"))).unwrap_or_default();
            text.push_str(&format!("--- {name}\n{}\n", common::tail(&log, 30)));
        }
        text
    };
    assert!(
        wait_until(Duration::from_secs(20), || async {
            holds_vip(&n1) && !holds_vip(&n2)
        })
        .await,
        "node1 never held the VIP\n{}",
        logs()
    );

    // The scenario's writer in the client namespace: one INSERT through the VIP every
    // 100 ms, a fresh mariadb client each time.
    let prefix = format!("ka-netns-{}-", std::process::id());
    let acked = Arc::new(parking_lot::Mutex::new(Vec::<(String, Instant)>::new()));
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (acked, writing, prefix, cl) =
            (acked.clone(), writing.clone(), prefix.clone(), cl.clone());
        tokio::spawn(async move {
            let mut seq = 0;
            while writing.load(Ordering::SeqCst) {
                seq += 1;
                let value = format!("{prefix}{seq}");
                let insert = format!("INSERT INTO duhokim.tab1(col2) VALUES('{value}')");
                let attempt = Command::new("ip")
                    .args(["netns", "exec", &cl, "mariadb", "-h", VIP, "-P"])
                    .arg(TRAFFIC_PORT.to_string())
                    .args(["-usvcusr", "-psvcusr", "--connect-timeout=1", "-e", &insert])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .status();
                if let Ok(Ok(status)) = tokio::time::timeout(Duration::from_secs(3), attempt).await
                {
                    if status.success() {
                        acked.lock().push((value, Instant::now()));
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    assert!(
        wait_until(Duration::from_secs(15), || async {
            acked.lock().len() >= 3
        })
        .await,
        "no INSERT through the VIP succeeded\n{}",
        logs()
    );

    // kill -9 of the VIP holder's proxy; keepalived lives on, as in the field report.
    let killed_at = Instant::now();
    stack.proxies[0].start_kill().unwrap();
    let _ = stack.proxies[0].wait().await;
    let moved = wait_until(Duration::from_secs(30), || async {
        holds_vip(&n2) && !holds_vip(&n1)
    })
    .await;
    assert!(
        moved,
        "keepalived did not move the VIP to node2\n{}",
        logs()
    );
    let resumed = wait_until(Duration::from_secs(15), || async {
        acked.lock().iter().any(|(_, at)| *at > killed_at)
    })
    .await;
    assert!(resumed, "writes did not resume through the VIP\n{}", logs());
    writing.store(false, Ordering::SeqCst);
    writer.await.unwrap();

    {
        let acked = acked.lock();
        let before = acked.iter().rfind(|(_, at)| *at <= killed_at);
        let after = acked.iter().find(|(_, at)| *at > killed_at);
        if let (Some((_, b)), Some((_, a))) = (before, after) {
            eprintln!(
                "keepalived (scenario profile) write outage after kill -9 of the proxy: {:.1} s",
                a.duration_since(*b).as_secs_f64()
            );
        }
    }
    let mut primary = common::admin_conn(lab.primary, Lab::APP.0, Lab::APP.1).await;
    let rows = query_rows(
        &mut primary,
        &format!("SELECT col2 FROM duhokim.tab1 WHERE col2 LIKE '{prefix}%'"),
    )
    .await;
    let present: std::collections::HashSet<String> =
        rows.into_iter().filter_map(|r| r[0].clone()).collect();
    let acked = acked.lock();
    let missing: Vec<&String> = acked
        .iter()
        .map(|(v, _)| v)
        .filter(|v| !present.contains(*v))
        .collect();
    assert!(missing.is_empty(), "acknowledged but missing: {missing:?}");
    drop(stack);
    drop(netns);
}
