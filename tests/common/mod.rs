//! Shared integration-test harness (`mod common;` in every `tests/*.rs`).
//!
//! - [`lab`]: the real MariaDB lab of `scripts/lab` (one primary, two GTID replicas), brought
//!   up at most once per test binary and serialized across binaries with a file lock. Tests
//!   never tear it down; CI stops it with `scripts/lab down`.
//! - [`TestNode`]: a `pxadm node` child process with its own datadir and admin port.
//! - [`admin_conn`], [`query_rows`], [`query_resultset`]: mysql_async with the options a
//!   ProxySQL admin port needs.
//! - [`mariadb_cli`]: the real `mariadb` command-line client, as a DBA would type it.
//! - [`free_port`], [`wait_until`]: small polling and port helpers.

// Every test binary compiles this module but uses a different subset of it.
#![allow(dead_code)]

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::future::Future;
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row, Value};
use pxadm::console::launcher::NodeLauncher;
use pxadm::proxysql::resultset::ResultSet;
use tempfile::TempDir;
use tokio::sync::OnceCell;

/// Loopback address every test process and lab server binds to.
pub const HOST: &str = "127.0.0.1";
/// Default admin credentials of a fresh ProxySQL node.
pub const ADMIN_USER: &str = "admin";
/// Password of [`ADMIN_USER`].
pub const ADMIN_PASS: &str = "admin";
/// How long a client waits for a TCP connection plus handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a `pxadm node` may take until its admin port accepts connections.
pub const NODE_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one `mariadb` client invocation may run.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// The scenario's node1 as listed in `proxysql_servers` by `node-cluster-setup.sql`.
pub const SCENARIO_NODE1: &str = "192.168.0.11:6032";
/// The scenario's node2 as listed in `proxysql_servers` by `node-cluster-setup.sql`.
pub const SCENARIO_NODE2: &str = "192.168.0.12:6032";
/// Poll interval of every wait loop in this harness.
const POLL: Duration = Duration::from_millis(50);

// --- the MariaDB lab ---------------------------------------------------------------------

/// The running MariaDB lab: ports and accounts of `scripts/lab`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lab {
    /// The lab directory (`PXADM_LAB_DIR`, default `<repo>/lab`).
    pub dir: PathBuf,
    /// Port of the primary (read_only=OFF).
    pub primary: u16,
    /// Ports of the two replicas (read_only=ON, replicating from the primary with GTID).
    pub replicas: [u16; 2],
}

impl Lab {
    /// Monitor account (`REPLICATION CLIENT`, `SLAVE MONITOR`) on every server.
    pub const MONITOR: (&'static str, &'static str) = ("monitor", "monitor");
    /// Application account with all privileges on [`Lab::APP_DB`].
    pub const APP: (&'static str, &'static str) = ("svcusr", "svcusr");
    /// The application database; holds `tab1(col1 pk, col2 varchar(100), col3 datetime)`.
    pub const APP_DB: &'static str = "duhokim";

    /// Every server's port, primary first.
    pub fn ports(&self) -> [u16; 3] {
        [self.primary, self.replicas[0], self.replicas[1]]
    }

    /// The unix socket of the lab server on `port` (root logs in there without a password).
    pub fn socket(&self, port: u16) -> PathBuf {
        let name = match self.ports().iter().position(|p| *p == port) {
            Some(0) => "primary",
            Some(1) => "replica1",
            Some(2) => "replica2",
            _ => panic!("port {port} is not a lab server ({:?})", self.ports()),
        };
        self.dir.join(name).join("mariadb.sock")
    }

    /// Runs `sql` as root on the lab server on `port` over its socket, synchronously (also
    /// usable from `Drop` to undo a test's change); returns the client's output.
    pub fn root_sql(&self, port: u16, sql: &str) -> io::Result<std::process::Output> {
        Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket(port).display()))
            .arg("--user=root")
            .arg("--connect-timeout=10")
            .arg("--batch")
            .arg("-e")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
    }
}

/// Ensures the lab is up and returns it. The first call in a test binary runs
/// `scripts/lab up` under an exclusive lock on `<lab dir>/.harness.lock`: the first binary
/// of a run builds or repairs the lab, concurrent ones wait for it, later ones find it up
/// (then `up` only verifies, in about a second). Later calls in the same binary return the
/// cached result. Panics with the script's output when it fails.
pub async fn lab() -> &'static Lab {
    static LAB: OnceCell<Lab> = OnceCell::const_new();
    LAB.get_or_try_init(|| async {
        // Locking and the script block for seconds: keep them off the runtime's threads.
        tokio::task::spawn_blocking(bring_up_lab)
            .await
            .map_err(|e| format!("lab set-up thread failed: {e}"))?
    })
    .await
    .unwrap_or_else(|e| panic!("the MariaDB lab is not available: {e}"))
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where `scripts/lab` keeps the lab (it resolves a relative `PXADM_LAB_DIR` against the
/// working directory, which is the repo root for every call made here).
fn lab_dir() -> PathBuf {
    match std::env::var_os("PXADM_LAB_DIR") {
        Some(dir) if !dir.is_empty() => repo_root().join(dir),
        _ => repo_root().join("lab"),
    }
}

fn lab_script(command: &str) -> Result<std::process::Output, String> {
    let script = repo_root().join("scripts").join("lab");
    Command::new(&script)
        .arg(command)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} {command}: {e}", script.display()))
}

fn bring_up_lab() -> Result<Lab, String> {
    let dir = lab_dir();
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let lock_path = dir.join(".harness.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    // SAFETY: flock on a descriptor we own; the lock is released when `lock` is dropped.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(format!(
            "cannot lock {}: {}",
            lock_path.display(),
            io::Error::last_os_error()
        ));
    }

    let up = lab_script("up")?;
    if !up.status.success() {
        return Err(format!(
            "scripts/lab up failed ({}):\n{}{}",
            up.status,
            String::from_utf8_lossy(&up.stdout),
            String::from_utf8_lossy(&up.stderr)
        ));
    }
    let env = lab_script("env")?;
    if !env.status.success() {
        return Err(format!(
            "scripts/lab env failed ({}): {}",
            env.status,
            String::from_utf8_lossy(&env.stderr)
        ));
    }
    let exports = String::from_utf8_lossy(&env.stdout);
    let port = |name: &str| {
        lab_export(&exports, name)
            .ok_or_else(|| format!("scripts/lab env does not export {name}:\n{exports}"))?
            .parse::<u16>()
            .map_err(|e| format!("scripts/lab env: {name} is not a port: {e}"))
    };
    Ok(Lab {
        dir,
        primary: port("PXADM_LAB_PRIMARY_PORT")?,
        replicas: [
            port("PXADM_LAB_REPLICA1_PORT")?,
            port("PXADM_LAB_REPLICA2_PORT")?,
        ],
    })
}

/// The value of `NAME` in `export NAME=value [NAME2=value2...]` lines.
fn lab_export<'a>(exports: &'a str, name: &str) -> Option<&'a str> {
    exports
        .lines()
        .filter_map(|line| line.strip_prefix("export "))
        .flat_map(str::split_whitespace)
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

// --- pxadm binary and ports --------------------------------------------------------------

/// Path of the `pxadm` binary cargo built for this test run.
pub fn pxadm_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pxadm"))
}

/// A loopback TCP port that was free a moment ago and was not handed out before by this
/// process (the kernel may otherwise return the same just-released port twice).
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    for _ in 0..1000 {
        let port = TcpListener::bind((HOST, 0))
            .and_then(|l| l.local_addr())
            .unwrap_or_else(|e| panic!("cannot bind an ephemeral port on {HOST}: {e}"))
            .port();
        if handed_out.insert(port) {
            return port;
        }
    }
    panic!("no fresh ephemeral port after 1000 attempts");
}

/// Polls `condition` until it returns true (→ `true`) or `timeout` passes (→ `false`).
/// The condition always runs at least once, and once more at the deadline. State the
/// condition needs mutably (a connection) goes in a `tokio::sync::Mutex` so the returned
/// futures borrow it only shared:
/// `wait_until(t, || async { query_rows(&mut *conn.lock().await, sql).await.len() == 1 })`.
pub async fn wait_until<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

// --- pxadm node processes ----------------------------------------------------------------

/// A signal [`TestNode::kill`] can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: graceful shutdown.
    Term,
    /// SIGKILL: the `kill -9` of the failover drill.
    Kill,
    /// SIGINT: Ctrl-C.
    Int,
    /// SIGHUP.
    Hup,
    /// SIGSTOP: freeze the process (a hung node that keeps its sockets open).
    Stop,
    /// SIGCONT: thaw a stopped process.
    Cont,
}

impl Signal {
    fn raw(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
            Signal::Int => libc::SIGINT,
            Signal::Hup => libc::SIGHUP,
            Signal::Stop => libc::SIGSTOP,
            Signal::Cont => libc::SIGCONT,
        }
    }
}

/// How to start a [`TestNode`]; see [`TestNode::builder`].
#[derive(Debug, Default)]
pub struct NodeBuilder {
    admin_port: Option<u16>,
    datadir: Option<PathBuf>,
    config: Option<PathBuf>,
    initial: bool,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
}

impl NodeBuilder {
    /// Admin port to listen on (default: [`free_port`]). Pick ports up front when nodes
    /// must know each other's addresses, e.g. in `proxysql_servers` of a config file.
    pub fn admin_port(mut self, port: u16) -> Self {
        self.admin_port = Some(port);
        self
    }

    /// Use this datadir (owned by the caller) instead of a fresh temporary one.
    pub fn datadir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.datadir = Some(dir.into());
        self
    }

    /// Pass `--config <path>`.
    pub fn config(mut self, path: impl Into<PathBuf>) -> Self {
        self.config = Some(path.into());
        self
    }

    /// Pass `--initial` on the first start (never on [`TestNode::restart`]).
    pub fn initial(mut self, initial: bool) -> Self {
        self.initial = initial;
        self
    }

    /// Append an extra command-line argument after the standard ones.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Set an environment variable for the node process.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Pass `--peer-map <from>=127.0.0.1:<to_port>`: the node connects to the peer listed as
    /// `from` (`host:port`, e.g. the scenario's `192.168.0.11:6032`) on loopback instead.
    pub fn peer_map(self, from: &str, to_port: u16) -> Self {
        self.arg("--peer-map")
            .arg(format!("{from}={HOST}:{to_port}"))
    }

    /// Maps the scenario's two core members (`192.168.0.11:6032`, `192.168.0.12:6032`, as
    /// listed by `node-cluster-setup.sql`) onto the loopback admin ports `node1` and `node2`.
    pub fn scenario_peers(self, node1: u16, node2: u16) -> Self {
        self.peer_map(SCENARIO_NODE1, node1)
            .peer_map(SCENARIO_NODE2, node2)
    }

    /// Spawns the node and waits until its admin port accepts connections.
    pub async fn start(self) -> TestNode {
        let scratch = tempfile::Builder::new()
            .prefix("pxadm-node-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let datadir = match self.datadir.clone() {
            Some(dir) => dir,
            None => scratch.path().join("data"),
        };
        fs::create_dir_all(&datadir)
            .unwrap_or_else(|e| panic!("cannot create datadir {}: {e}", datadir.display()));
        let mut node = TestNode {
            admin_port: self.admin_port.unwrap_or_else(free_port),
            datadir,
            stdout_path: scratch.path().join("stdout.log"),
            stderr_path: scratch.path().join("stderr.log"),
            _scratch: scratch,
            options: self,
            child: None,
        };
        let initial = node.options.initial;
        node.spawn(initial);
        node.wait_ready().await;
        node
    }
}

/// A running `pxadm node --datadir <dir> --admin 127.0.0.1:<port> [--config F] [--initial]`,
/// always with `PXADM_LOOPBACK_ONLY=1` in its environment.
/// stdout and stderr go to files in a private scratch directory; dropping the value kills
/// the process with SIGKILL, so a failing test never leaks a node. The node also gets
/// SIGKILL when the thread that spawned it ends (PR_SET_PDEATHSIG), which covers a killed
/// test binary; start nodes from the test's own task, not from a short-lived thread.
#[derive(Debug)]
pub struct TestNode {
    admin_port: u16,
    datadir: PathBuf,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    // Holds stdout/stderr (and the datadir unless the caller gave one); removed only after
    // Drop::drop has killed the child, since fields drop after it.
    _scratch: TempDir,
    options: NodeBuilder,
    child: Option<Child>,
}

impl TestNode {
    /// A builder for a node with non-default options.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    /// Starts a node with a fresh datadir on a free admin port and no config file.
    pub async fn start() -> TestNode {
        Self::builder().start().await
    }

    /// The admin port.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// `127.0.0.1:<admin port>`.
    pub fn admin_addr(&self) -> String {
        format!("{HOST}:{}", self.admin_port)
    }

    /// The node's datadir (holds `proxysql.db` and `proxysql.log`).
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// The process id while the child has not been reaped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `signal` to the node. Does not wait; see [`TestNode::wait_exit`].
    pub fn kill(&mut self, signal: Signal) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        let Ok(pid) = libc::pid_t::try_from(child.id()) else {
            return;
        };
        // SAFETY: plain kill(2) on our own unreaped child, so the pid cannot be recycled.
        unsafe { libc::kill(pid, signal.raw()) };
    }

    /// Waits until the node exits; `None` if it still runs after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut()?;
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
                Ok(None) => return None,
                Err(e) => panic!("waiting for pxadm node {}: {e}", self.admin_addr()),
            }
        }
    }

    /// True while the process runs (a stopped process counts as running).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stops the node if it runs (SIGTERM, SIGKILL after 10 s) and starts it again with the
    /// same datadir, admin port, config and extra arguments but without `--initial`, which
    /// would throw away the state a restart is meant to keep. Waits until it is ready.
    pub async fn restart(&mut self) {
        if self.is_running() {
            self.kill(Signal::Cont);
            self.kill(Signal::Term);
            if self.wait_exit(Duration::from_secs(10)).await.is_none() {
                self.kill(Signal::Kill);
                self.wait_exit(Duration::from_secs(10)).await;
            }
        }
        self.spawn(false);
        self.wait_ready().await;
    }

    /// Contents of `<datadir>/proxysql.log` (empty when it does not exist yet).
    pub fn log(&self) -> String {
        read_lossy(&self.datadir.join("proxysql.log"))
    }

    /// Everything the node wrote to stderr (across restarts).
    pub fn stderr(&self) -> String {
        read_lossy(&self.stderr_path)
    }

    /// Everything the node wrote to stdout (across restarts).
    pub fn stdout(&self) -> String {
        read_lossy(&self.stdout_path)
    }

    /// Every line of `proxysql.log` that contains `needle`, oldest first.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.log()
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }

    /// Waits until a line of `proxysql.log` contains `needle` and returns that line; panics
    /// with the log's tail after `timeout`.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        let find = || {
            self.log()
                .lines()
                .find(|line| line.contains(needle))
                .map(str::to_owned)
        };
        if wait_until(timeout, || std::future::ready(find().is_some())).await {
            if let Some(line) = find() {
                return line;
            }
        }
        panic!(
            "pxadm node {}: no log line containing {needle:?} within {timeout:?}\n{}",
            self.admin_addr(),
            self.diagnostics()
        );
    }

    /// A fresh admin connection as admin/admin.
    pub async fn admin(&self) -> Conn {
        admin_conn(self.admin_port, ADMIN_USER, ADMIN_PASS).await
    }

    fn spawn(&mut self, initial: bool) {
        // Otherwise whatever holds the port would answer wait_ready in the node's place.
        if let Err(e) = TcpListener::bind((HOST, self.admin_port)) {
            panic!(
                "admin port {} is already in use ({e}); a leaked node or another test holds it",
                self.admin_port
            );
        }
        let out = open_append(&self.stdout_path);
        let err = open_append(&self.stderr_path);
        // The launcher's parent-death guard: if the test binary dies without running Drop
        // (timeout, SIGKILL), the kernel kills the node too, so no node outlives its test
        // binary holding ports.
        let mut launcher =
            NodeLauncher::new(pxadm_bin(), &self.datadir, self.admin_addr()).initial(initial);
        if let Some(config) = &self.options.config {
            launcher = launcher.config(config);
        }
        for arg in &self.options.args {
            launcher = launcher.arg(arg);
        }
        for (key, value) in &self.options.envs {
            launcher = launcher.env(key, value);
        }
        let mut cmd = launcher.command();
        cmd.stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", pxadm_bin().display()));
        self.child = Some(child);
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + NODE_START_TIMEOUT;
        loop {
            if tokio::net::TcpStream::connect((HOST, self.admin_port))
                .await
                .is_ok()
            {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!(
                    "pxadm node {} exited before accepting connections ({status})\n{}",
                    self.admin_addr(),
                    self.diagnostics()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "pxadm node {} did not accept connections within {NODE_START_TIMEOUT:?}\n{}",
                    self.admin_addr(),
                    self.diagnostics()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The tails of stderr and proxysql.log, for panic messages.
    fn diagnostics(&self) -> String {
        format!(
            "--- stderr (last 40 lines) ---\n{}\n--- {}/proxysql.log (last 40 lines) ---\n{}",
            tail(&self.stderr(), 40),
            self.datadir.display(),
            tail(&self.log(), 40)
        )
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A frozen process still dies on SIGKILL; the wait is immediate after it.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn open_append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
}

fn read_lossy(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// --- mysql_async clients -----------------------------------------------------------------

/// Connection options for a ProxySQL admin port (also fine for MariaDB). The pinned
/// `max_allowed_packet` and `wait_timeout` stop mysql_async from querying those variables
/// after the handshake, and `prefer_socket(false)` stops it from asking for `@@socket`:
/// a ProxySQL admin interface answers neither.
pub fn admin_opts(port: u16, user: &str, pass: &str) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname(HOST)
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(pass))
        .max_allowed_packet(Some(67_108_864))
        .wait_timeout(Some(28_800))
        .prefer_socket(false)
}

/// Connects with [`admin_opts`], giving up after [`CONNECT_TIMEOUT`].
pub async fn try_admin_conn(port: u16, user: &str, pass: &str) -> mysql_async::Result<Conn> {
    match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(admin_opts(port, user, pass))).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no handshake from {HOST}:{port} within {CONNECT_TIMEOUT:?}"),
        )
        .into()),
    }
}

/// Like [`try_admin_conn`], panicking with the address and error on failure.
pub async fn admin_conn(port: u16, user: &str, pass: &str) -> Conn {
    try_admin_conn(port, user, pass)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {HOST}:{port} as {user}: {e}"))
}

/// Runs `sql` over the text protocol and returns the first result set with column names.
pub async fn try_query_resultset(conn: &mut Conn, sql: &str) -> mysql_async::Result<ResultSet> {
    let mut result = conn.query_iter(sql).await?;
    let columns: Vec<String> = result
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    let rows: Vec<Row> = result.collect().await?;
    // Further result sets (multi-statement queries) are read and discarded.
    result.drop_result().await?;
    Ok(ResultSet {
        columns,
        rows: rows
            .into_iter()
            .map(|row| row.unwrap().into_iter().map(value_text).collect())
            .collect(),
    })
}

/// Like [`try_query_resultset`], panicking with the statement and error on failure.
pub async fn query_resultset(conn: &mut Conn, sql: &str) -> ResultSet {
    try_query_resultset(conn, sql)
        .await
        .unwrap_or_else(|e| panic!("query {sql:?} failed: {e}"))
}

/// Runs `sql` and returns the rows of its first result set as nullable texts.
pub async fn try_query_rows(
    conn: &mut Conn,
    sql: &str,
) -> mysql_async::Result<Vec<Vec<Option<String>>>> {
    Ok(try_query_resultset(conn, sql).await?.rows)
}

/// Like [`try_query_rows`], panicking with the statement and error on failure.
pub async fn query_rows(conn: &mut Conn, sql: &str) -> Vec<Vec<Option<String>>> {
    query_resultset(conn, sql).await.rows
}

/// The text form of a value; the text protocol only ever yields `NULL` and bytes, the other
/// arms keep the helper total.
fn value_text(value: Value) -> Option<String> {
    match value {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Value::Int(v) => Some(v.to_string()),
        Value::UInt(v) => Some(v.to_string()),
        Value::Float(v) => Some(v.to_string()),
        Value::Double(v) => Some(v.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

// --- the real mariadb client -------------------------------------------------------------

/// What [`mariadb_cli`] feeds the client: statements via `-e`, or a file on stdin (like
/// `mysql ... < file.sql` in the scenario scripts).
#[derive(Debug, Clone, Copy)]
pub enum CliInput<'a> {
    /// Passed with `-e`.
    Sql(&'a str),
    /// Redirected to stdin.
    File(&'a Path),
}

impl<'a> From<&'a str> for CliInput<'a> {
    fn from(sql: &'a str) -> Self {
        CliInput::Sql(sql)
    }
}

impl<'a> From<&'a String> for CliInput<'a> {
    fn from(sql: &'a String) -> Self {
        CliInput::Sql(sql)
    }
}

impl<'a> From<&'a Path> for CliInput<'a> {
    fn from(path: &'a Path) -> Self {
        CliInput::File(path)
    }
}

impl<'a> From<&'a PathBuf> for CliInput<'a> {
    fn from(path: &'a PathBuf) -> Self {
        CliInput::File(path)
    }
}

/// The outcome of one `mariadb` client run.
#[derive(Debug)]
pub struct CliOutput {
    /// Standard output (tab-separated batch format unless other flags were given).
    pub stdout: String,
    /// Standard error (error messages such as `ERROR 1045 (28000) ...`).
    pub stderr: String,
    /// Exit status.
    pub status: ExitStatus,
}

impl CliOutput {
    /// True when the client exited with status 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics with stdout and stderr unless the client succeeded; returns stdout.
    pub fn expect_success(&self) -> &str {
        assert!(
            self.success(),
            "mariadb client failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        &self.stdout
    }
}

/// Runs the real `mariadb` client against `127.0.0.1:<port>` over TCP.
pub async fn mariadb_cli<'a>(
    port: u16,
    user: &str,
    pass: &str,
    input: impl Into<CliInput<'a>>,
) -> CliOutput {
    mariadb_cli_args(port, user, pass, input, &[]).await
}

/// [`mariadb_cli`] with extra client arguments (e.g. `-t`, `--skip-column-names`,
/// `--database=duhokim`, `--prompt=Admin> `) placed before the input.
pub async fn mariadb_cli_args<'a>(
    port: u16,
    user: &str,
    pass: &str,
    input: impl Into<CliInput<'a>>,
    extra: &[&str],
) -> CliOutput {
    let input = input.into();
    let mut cmd = tokio::process::Command::new("mariadb");
    // --no-defaults: no my.cnf on the machine may change what the test sees. --skip-ssl:
    // newer clients demand TLS by default, which a ProxySQL admin port does not offer here.
    cmd.arg("--no-defaults")
        .arg("--protocol=TCP")
        .arg(format!("--host={HOST}"))
        .arg(format!("--port={port}"))
        .arg(format!("--user={user}"))
        .arg(format!("--password={pass}"))
        .arg("--connect-timeout=10")
        .arg("--skip-ssl")
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match input {
        CliInput::Sql(sql) => {
            cmd.arg("-e").arg(sql).stdin(Stdio::null());
        }
        CliInput::File(path) => {
            let file = File::open(path)
                .unwrap_or_else(|e| panic!("cannot open SQL file {}: {e}", path.display()));
            cmd.stdin(file);
        }
    }
    let output = match tokio::time::timeout(CLI_TIMEOUT, cmd.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => panic!("cannot run the mariadb client: {e}"),
        Err(_) => panic!("mariadb client on port {port} ran longer than {CLI_TIMEOUT:?}"),
    };
    CliOutput {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        status: output.status,
    }
}

/// Path of a scenario SQL file copied unchanged into `tests/fixtures/scenario/`.
pub fn scenario_sql(name: &str) -> PathBuf {
    repo_root()
        .join("tests")
        .join("fixtures")
        .join("scenario")
        .join(name)
}

/// Seconds since the Unix epoch (the unit of ProxySQL's checksum epochs): the library's clock.
#[allow(unused_imports)] // not every test binary reads the clock
pub use pxadm::proxysql::clock::unix_now;

/// Writes `contents` to `<dir>/<name>` and returns the path (for config and SQL files).
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    let mut file =
        File::create(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    file.write_all(contents.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

// --- a real ProxySQL, the oracle of the conformance tests ---------------------------------

/// Environment variable naming a real ProxySQL 2.7.2 binary (`.ci/run` sets it when
/// `../shared/proxysql/proxysql` exists); tests that need one skip without it.
pub const REAL_PROXYSQL_ENV: &str = "PXADM_REAL_PROXYSQL";

/// The real ProxySQL binary from [`REAL_PROXYSQL_ENV`], or `None` after printing that the
/// calling test is skipped. Relative paths are taken from the repo root.
pub fn real_proxysql_bin(test: &str) -> Option<PathBuf> {
    match std::env::var_os(REAL_PROXYSQL_ENV) {
        Some(path) if !path.is_empty() => {
            let path = repo_root().join(path);
            assert!(
                path.is_file(),
                "{REAL_PROXYSQL_ENV}={} is not a file",
                path.display()
            );
            Some(path)
        }
        _ => {
            println!(
                "SKIPPED {test}: set {REAL_PROXYSQL_ENV} to a ProxySQL 2.7.2 binary to run it"
            );
            eprintln!(
                "SKIPPED {test}: set {REAL_PROXYSQL_ENV} to a ProxySQL 2.7.2 binary to run it"
            );
            None
        }
    }
}

/// Extra lines for the two sections of [`proxysql_config`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfigExtras<'a> {
    /// Lines added to `admin_variables` (`admin_credentials` is `admin:admin` unless given).
    pub admin: &'a str,
    /// Lines added to `mysql_variables`.
    pub mysql: &'a str,
}

/// A minimal ProxySQL config file: admin/admin on `admin_port`, one MySQL thread on
/// `mysql_port`, `datadir`, plus `extras`. Both a real node and `pxadm node` read the same
/// text.
pub fn proxysql_config(
    datadir: &Path,
    admin_port: u16,
    mysql_port: u16,
    extras: ConfigExtras<'_>,
) -> String {
    let credentials = if extras.admin.contains("admin_credentials") {
        ""
    } else {
        "    admin_credentials=\"admin:admin\"\n"
    };
    format!(
        "datadir=\"{}\"\nadmin_variables=\n{{\n{credentials}    \
         mysql_ifaces=\"{HOST}:{admin_port}\"\n{}}}\nmysql_variables=\n{{\n    \
         threads=1\n    interfaces=\"{HOST}:{mysql_port}\"\n{}}}\n",
        datadir.display(),
        extras.admin,
        extras.mysql,
    )
}

/// A real ProxySQL process (`proxysql -f -c <cnf> -D <datadir>`), killed with SIGKILL when
/// dropped and when the thread that started it ends.
#[derive(Debug)]
pub struct RealNode {
    admin_port: u16,
    child: Child,
    log_path: PathBuf,
    datadir: PathBuf,
    _scratch: TempDir,
}

impl RealNode {
    /// Starts `bin` with [`proxysql_config`] on the given ports and waits until the admin
    /// interface accepts admin/admin.
    pub async fn start(
        bin: &Path,
        admin_port: u16,
        mysql_port: u16,
        extras: ConfigExtras<'_>,
    ) -> RealNode {
        use std::os::unix::process::CommandExt;
        let scratch = tempfile::Builder::new()
            .prefix("real-proxysql-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let datadir = scratch.path().join("data");
        fs::create_dir_all(&datadir).unwrap_or_else(|e| panic!("cannot create datadir: {e}"));
        let cnf = write_file(
            scratch.path(),
            "node.cnf",
            &proxysql_config(&datadir, admin_port, mysql_port, extras),
        );
        let log_path = scratch.path().join("proxysql.out");
        let mut cmd = Command::new(bin);
        cmd.arg("-f")
            .arg("-c")
            .arg(&cnf)
            .arg("-D")
            .arg(&datadir)
            .stdin(Stdio::null())
            .stdout(open_append(&log_path))
            .stderr(open_append(&log_path));
        // SAFETY: prctl in the child before exec; no allocation, async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", bin.display()));
        let node = RealNode {
            admin_port,
            child,
            log_path,
            datadir,
            _scratch: scratch,
        };
        let ready = wait_until(NODE_START_TIMEOUT, || async {
            try_admin_conn(admin_port, ADMIN_USER, ADMIN_PASS)
                .await
                .is_ok()
        })
        .await;
        assert!(
            ready,
            "real ProxySQL on {HOST}:{admin_port} never accepted admin/admin:\n{}",
            tail(&read_lossy(&node.log_path), 30)
        );
        node
    }

    /// The admin port.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// The node's datadir.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// A fresh admin connection as admin/admin.
    pub async fn admin(&self) -> Conn {
        admin_conn(self.admin_port, ADMIN_USER, ADMIN_PASS).await
    }

    /// What the process wrote to stdout and stderr.
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// Kills the process (SIGKILL) and waits until it is gone, so its ports are free.
    pub fn stop(&mut self) {
        // The child is ours and unreaped, so its pid cannot have been recycled.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RealNode {
    fn drop(&mut self) {
        self.stop();
    }
}
