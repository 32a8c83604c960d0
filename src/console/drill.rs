//! `pxadm drill failover`: the scenario's step 7 as a rehearsal with numbers.
//!
//! The drill starts two or three `pxadm node` processes on loopback, each with a VRRP
//! instance for the same VIP (127.0.0.20:<port>, adverts between 127.0.0.11-13) and the MariaDB
//! lab primary as its only backend. A writer inserts one unique row through the VIP every
//! interval; the drill kills the VIP holder with SIGKILL (or pauses its proxy), watches every node's
//! `stats_pxadm_vrrp` until another node holds the VIP and writes succeed again, restarts the
//! killed node, and finally checks on the primary itself that every acknowledged insert is
//! there. [`run_failover`] returns a serialisable [`DrillReport`] and streams [`DrillEvent`]s
//! for a live timeline; [`run_cli`] is the command-line front end.

mod cluster;
mod keepalived_stack;
mod netns;
mod writer;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use crate::client::conn::NodeAddr;
use crate::client::queries;
pub use crate::console::fault::Fault;
use cluster::{DrillCluster, Poller, Views};
use writer::{Attempt, Writer, WriterConfig};

/// VRRP timing presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// The scenario's keepalived: advert 1 s, check every 2 s, fall 2, weight -20.
    Scenario,
    /// Sub-second: advert 0.1 s, check every 0.1 s, fall 1, weight -20.
    Tuned,
}

impl Profile {
    /// The preset's timing.
    pub fn timing(self) -> VrrpTiming {
        match self {
            Profile::Scenario => VrrpTiming {
                advert_int: Duration::from_secs(1),
                check_interval: Duration::from_secs(2),
                fall: 2,
                rise: 1,
                weight: -20,
            },
            Profile::Tuned => VrrpTiming {
                advert_int: Duration::from_millis(100),
                check_interval: Duration::from_millis(100),
                fall: 1,
                rise: 1,
                weight: -20,
            },
        }
    }
}

impl Profile {
    /// The preset's timing on the keepalived stack: keepalived runs check scripts at whole
    /// seconds at best, so `tuned` checks every second (fall 1) and advertises every 0.1 s
    /// with VRRPv3 (no authentication).
    pub fn keepalived_timing(self) -> VrrpTiming {
        match self {
            Profile::Scenario => self.timing(),
            Profile::Tuned => VrrpTiming {
                check_interval: Duration::from_secs(1),
                ..self.timing()
            },
        }
    }
}

/// What moves the VIP in a drill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Stack {
    /// pxadm's embedded VIP on loopback (no root needed).
    #[default]
    Embedded,
    /// The field report's stack: Debian's keepalived in network namespaces the drill
    /// creates, the VIP a real address (needs root, `ip netns`, keepalived, mariadb client).
    Keepalived,
}

/// Advertisement and tracked-check settings shared by every drill node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpTiming {
    /// `advert_int`.
    #[serde(with = "millis")]
    pub advert_int: Duration,
    /// The builtin check's `interval`.
    #[serde(with = "millis")]
    pub check_interval: Duration,
    /// `fall`.
    pub fall: u32,
    /// `rise`.
    pub rise: u32,
    /// `weight` (0 = FAULT while failed).
    pub weight: i32,
}

/// How the writer connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionMode {
    /// A new connection per INSERT, like the scenario's `mysql` loop.
    Fresh,
    /// One connection, re-opened after an error, like an application pool.
    Persistent,
}

/// The error for a fault `DrillOptions::validate` lets through only by mistake.
fn not_a_drill_fault(fault: Fault) -> DrillError {
    DrillError::Options(format!(
        "the drill injects kill or pause, not {}",
        fault.name()
    ))
}

/// Which node to kill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillTarget {
    /// Whoever holds the VIP when the fault is injected.
    Holder,
    /// A node by name (`node2`).
    Node(String),
}

/// The backend every drill node proxies to, and the accounts used on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// Primary host.
    pub host: String,
    /// Primary port.
    pub port: u16,
    /// Application user (inserts through the VIP; verification on the primary).
    pub user: String,
    /// Its password.
    pub password: String,
    /// Database holding `tab1(col1 pk, col2 varchar(100), col3 datetime)`.
    pub database: String,
    /// Monitor user the nodes check the backend with.
    pub monitor_user: String,
    /// Its password.
    pub monitor_password: String,
}

impl Default for Backend {
    /// The MariaDB lab's primary (`scripts/lab`, port 23306) and its accounts.
    fn default() -> Self {
        Backend {
            host: "127.0.0.1".into(),
            port: 23306,
            user: "svcusr".into(),
            password: "svcusr".into(),
            database: "duhokim".into(),
            monitor_user: "monitor".into(),
            monitor_password: "monitor".into(),
        }
    }
}

/// Everything a drill run needs.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// The preset the timing came from (`None` when flags changed it).
    pub profile: Option<Profile>,
    /// Embedded VIP or keepalived in namespaces.
    pub stack: Stack,
    /// keepalived stack: a ProxySQL binary to run as the proxies instead of `pxadm node`.
    pub proxy_bin: Option<PathBuf>,
    /// VRRP timing of every node.
    pub timing: VrrpTiming,
    /// Number of nodes to start, 2 or 3 (priorities 100, 90, 80).
    pub nodes: usize,
    /// Names of started nodes are this plus 1, 2, 3 (`node` by default; the console uses
    /// `drill`, so they are not mistaken for the nodes it watches).
    pub name_prefix: String,
    /// Running nodes to use instead of starting any (their admin addresses; each must run
    /// a VRRP instance for the same VIP). The kill is then `PROXYSQL KILL` and the killed
    /// node is not restarted.
    pub attach: Vec<NodeAddr>,
    /// keepalived's preempt (default) or nopreempt.
    pub preempt: bool,
    /// The node to hit.
    pub kill: KillTarget,
    /// What to do to it.
    pub fault: Fault,
    /// Restart (or resume) the victim and watch where the VIP goes.
    pub restart: bool,
    /// Time between two INSERT starts.
    pub write_interval: Duration,
    /// Limit of one INSERT attempt.
    pub attempt_timeout: Duration,
    /// Writer connection mode.
    pub connection: ConnectionMode,
    /// Backend and accounts.
    pub backend: Backend,
    /// The VIP (default 127.0.0.20 with a free port).
    pub vip: Option<SocketAddr>,
    /// Where node datadirs and configs go (default: a temporary directory, removed after).
    pub workdir: Option<PathBuf>,
    /// The `pxadm` binary to start nodes with.
    pub pxadm_bin: PathBuf,
    /// Steady writing before the kill.
    pub warmup: Duration,
    /// Writing after the killed node is back (and, with preempt, has the VIP again).
    pub settle: Duration,
    /// Limit of every wait (first holder, takeover, writes resuming...).
    pub wait_limit: Duration,
}

/// Drill nodes started by default (priorities 100 and 90).
pub const DEFAULT_NODES: usize = 2;

/// Time between two INSERTs by default.
pub const DEFAULT_WRITE_INTERVAL: Duration = Duration::from_millis(100);

impl DrillOptions {
    /// Defaults for `profile`: 2 nodes, preempt, kill the holder and restart it, one fresh
    /// connection per INSERT every 100 ms, the lab primary as backend, this executable as
    /// `pxadm`.
    pub fn new(profile: Profile) -> Self {
        DrillOptions {
            profile: Some(profile),
            stack: Stack::Embedded,
            proxy_bin: None,
            timing: profile.timing(),
            nodes: DEFAULT_NODES,
            name_prefix: "node".into(),
            attach: Vec::new(),
            preempt: true,
            kill: KillTarget::Holder,
            fault: Fault::Kill,
            restart: true,
            write_interval: DEFAULT_WRITE_INTERVAL,
            attempt_timeout: Duration::from_secs(2),
            connection: ConnectionMode::Fresh,
            backend: Backend::default(),
            vip: None,
            workdir: None,
            pxadm_bin: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("pxadm")),
            warmup: Duration::from_secs(2),
            settle: Duration::from_secs(2),
            wait_limit: Duration::from_secs(60),
        }
    }

    /// Defaults for `profile` on `stack` (the keepalived stack has its own tuned timing).
    pub fn for_stack(profile: Profile, stack: Stack) -> Self {
        let mut opts = DrillOptions::new(profile);
        opts.stack = stack;
        if stack == Stack::Keepalived {
            opts.timing = profile.keepalived_timing();
        }
        opts
    }

    /// Names of the nodes the drill starts.
    pub fn started_names(&self) -> impl Iterator<Item = String> + '_ {
        (1..=self.nodes).map(|i| format!("{}{i}", self.name_prefix))
    }

    /// Rejects settings the drill cannot run with.
    pub fn validate(&self) -> Result<(), DrillError> {
        let bad = |m: &str| Err(DrillError::Options(m.to_string()));
        if self.attach.is_empty() && !(2..=3).contains(&self.nodes) {
            return bad("--nodes must be 2 or 3");
        }
        if !self.attach.is_empty() {
            if self.attach.len() < 2 {
                return bad("--attach needs at least two nodes");
            }
            let mut names = std::collections::HashSet::new();
            if !self.attach.iter().all(|a| names.insert(&a.name)) {
                return bad("--attach names must be unique");
            }
        }
        if let KillTarget::Node(name) = &self.kill {
            let known = if self.attach.is_empty() {
                self.started_names().any(|n| n == *name)
            } else {
                self.attach.iter().any(|a| a.name == *name)
            };
            if !known {
                let names: Vec<String> = if self.attach.is_empty() {
                    self.started_names().collect()
                } else {
                    self.attach.iter().map(|a| a.name.clone()).collect()
                };
                return Err(DrillError::Options(format!(
                    "--node {name}: the drill's nodes are {}",
                    names.join(", ")
                )));
            }
        }
        match (self.stack, self.fault) {
            (Stack::Embedded, Fault::Kill | Fault::Pause) => {}
            (Stack::Embedded, _) => {
                return bad(
                    "the embedded drill injects kill or pause (freeze needs --stack keepalived)",
                )
            }
            (Stack::Keepalived, Fault::Kill | Fault::Freeze) => {}
            (Stack::Keepalived, _) => return bad("the keepalived stack injects kill or freeze"),
        }
        if self.stack == Stack::Keepalived {
            if !self.attach.is_empty() {
                return bad("--attach is not supported with --stack keepalived");
            }
            if self.timing.check_interval.subsec_nanos() != 0 {
                return bad(
                    "keepalived runs check scripts at whole seconds: --check-interval 1 or more",
                );
            }
        } else if self.proxy_bin.is_some() {
            return bad("--proxy-bin needs --stack keepalived");
        }
        if self.write_interval.is_zero() || self.attempt_timeout.is_zero() {
            return bad("--interval-ms and --attempt-timeout-ms must be positive");
        }
        let ident =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ident(&self.backend.database) {
            return bad("--database must be a plain identifier (letters, digits, '_')");
        }
        Ok(())
    }

    /// The longest takeover the protocol allows after the fault, for a best survivor of
    /// `priority`: Master_Down_Interval after a kill; after a pause, first the check must
    /// fail `fall` times, then either the survivor waits Master_Down_Interval from the last
    /// advert it accepted (negative weight) or only its skew (weight 0: FAULT sends a
    /// priority-0 advert).
    pub fn model_takeover(&self, priority: u8) -> Duration {
        let mdi = self.master_down_interval(priority);
        // On the keepalived stack a kill hits the proxy only: keepalived lives on and must
        // notice through its check, as after a pause.
        let through_check =
            self.stack == Stack::Keepalived || matches!(self.fault, Fault::Pause | Fault::Freeze);
        if !through_check {
            return mdi;
        }
        let mut check = self.timing.check_interval * self.timing.fall;
        if self.stack == Stack::Keepalived && self.fault == Fault::Freeze {
            // A frozen proxy fails the SQL check by its timeout (the interval by default).
            check += self.timing.check_interval;
        }
        if self.timing.weight == 0 {
            check + self.timing.advert_int * (256 - u32::from(priority)) / 256
        } else {
            check + mdi
        }
    }

    /// Master_Down_Interval of a backup with `priority` (RFC 5798: 3 adverts + skew).
    pub fn master_down_interval(&self, priority: u8) -> Duration {
        let adv = self.timing.advert_int;
        adv * 3 + adv * (256 - u32::from(priority)) / 256
    }
}

/// `pxadm drill failover` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct FailoverArgs {
    /// What moves the VIP: `embedded` (pxadm's VIP on loopback) or `keepalived` (the field
    /// report's stack: Debian's keepalived in network namespaces the drill creates and
    /// removes; needs root).
    #[arg(long, value_enum, default_value = "embedded")]
    pub stack: Stack,
    /// With --stack keepalived: run this ProxySQL binary as the proxies instead of
    /// `pxadm node`.
    #[arg(long, value_name = "PATH")]
    pub proxy_bin: Option<PathBuf>,
    /// Timing preset: `scenario` (advert 1 s, check 2 s, fall 2, weight -20) or `tuned`
    /// (advert 0.1 s, check 0.1 s, fall 1).
    #[arg(long, value_enum, default_value = "scenario")]
    pub profile: Profile,
    /// Override the advert interval, seconds (0.01 steps).
    #[arg(long, value_name = "SECONDS")]
    pub advert_int: Option<f64>,
    /// Override the check interval, seconds.
    #[arg(long, value_name = "SECONDS")]
    pub check_interval: Option<f64>,
    /// Override the check's fall.
    #[arg(long)]
    pub fall: Option<u32>,
    /// Override the check's rise.
    #[arg(long)]
    pub rise: Option<u32>,
    /// Override the check's weight (0 = FAULT while failed).
    #[arg(long, allow_hyphen_values = true)]
    pub weight: Option<i32>,
    /// Number of nodes (2 or 3; priorities 100, 90, 80).
    #[arg(long, default_value_t = 2)]
    pub nodes: usize,
    /// Use running nodes instead of starting some: [NAME=]HOST:PORT of each admin port
    /// (repeatable; names default to node1, node2...). The kill is PROXYSQL KILL and the
    /// killed node is not restarted.
    #[arg(long, value_name = "[NAME=]HOST:PORT")]
    pub attach: Vec<String>,
    /// Admin user for --attach.
    #[arg(long, default_value = "admin")]
    pub admin_user: String,
    /// Admin password for --attach.
    #[arg(long, default_value = "admin")]
    pub admin_password: String,
    /// Kill this node (node1..node3) instead of the VIP holder.
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// nopreempt on every node: the restarted node does not take the VIP back.
    #[arg(long)]
    pub nopreempt: bool,
    /// `kill`: SIGKILL the node (proxy and VRRP die together); `pause`: PROXYSQL PAUSE, the
    /// proxy stops accepting while its VRRP instance notices through its check (the field
    /// report's case: proxysql killed, keepalived alive).
    /// `freeze` (--stack keepalived): SIGSTOP of the holder's proxy; the SQL check fails and
    /// keepalived moves the VIP off the frozen holder.
    #[arg(long, default_value = "kill", value_parser = parse_fault)]
    pub fault: Fault,
    /// Do not restart (or resume) the victim.
    #[arg(long)]
    pub no_restart: bool,
    /// Milliseconds between two INSERTs.
    #[arg(long, default_value_t = 100)]
    pub interval_ms: u64,
    /// Milliseconds one INSERT (with its connect) may take.
    #[arg(long, default_value_t = 2000)]
    pub attempt_timeout_ms: u64,
    /// `fresh`: a new connection per INSERT (the scenario's mysql loop); `persistent`: one
    /// connection, re-opened after errors.
    #[arg(long, value_enum, default_value = "fresh")]
    pub connection: ConnectionMode,
    /// Backend primary HOST:PORT (default: the MariaDB lab's primary).
    #[arg(long, default_value = "127.0.0.1:23306")]
    pub backend: String,
    /// Application user.
    #[arg(long, default_value = "svcusr")]
    pub user: String,
    /// Application password.
    #[arg(long, default_value = "svcusr")]
    pub password: String,
    /// Database holding tab1.
    #[arg(long, default_value = "duhokim")]
    pub database: String,
    /// VIP address:port (default 127.0.0.20 with a free port).
    #[arg(long)]
    pub vip: Option<SocketAddr>,
    /// Keep node datadirs, configs and logs here instead of a removed temporary directory.
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// The pxadm binary for the nodes (default: this one).
    #[arg(long)]
    pub pxadm_bin: Option<PathBuf>,
    /// Seconds of steady writing before the kill.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Seconds of writing after the killed node is back.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
}

/// `--fault`: kill, pause (embedded) or freeze (keepalived stack).
fn parse_fault(s: &str) -> Result<Fault, String> {
    Fault::from_name(s)
        .filter(|f| matches!(f, Fault::Kill | Fault::Pause | Fault::Freeze))
        .ok_or_else(|| format!("the drill injects kill, pause or freeze, not {s:?}"))
}

fn seconds(flag: &str, value: f64) -> Result<Duration, DrillError> {
    if !(0.0..=3600.0).contains(&value) {
        return Err(DrillError::Options(format!(
            "{flag} {value}: not a number of seconds between 0 and 3600"
        )));
    }
    Ok(Duration::from_millis((value * 1000.0).round() as u64))
}

impl FailoverArgs {
    /// One `--attach [NAME=]HOST:PORT` entry.
    fn attach_addr(&self, i: usize, entry: &str) -> Result<NodeAddr, DrillError> {
        let (name, endpoint) = match entry.split_once('=') {
            Some((name, endpoint)) => (name.to_string(), endpoint),
            None => (format!("node{}", i + 1), entry),
        };
        let (host, port) = endpoint
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
            .filter(|(h, _)| !h.is_empty() && !name.is_empty())
            .ok_or_else(|| {
                DrillError::Options(format!("--attach {entry}: expected [NAME=]HOST:PORT"))
            })?;
        Ok(NodeAddr {
            name,
            host,
            port,
            user: self.admin_user.clone(),
            password: self.admin_password.clone(),
        })
    }

    /// The library options these flags describe.
    pub fn to_options(&self) -> Result<DrillOptions, DrillError> {
        let mut opts = DrillOptions::for_stack(self.profile, self.stack);
        opts.proxy_bin = self.proxy_bin.clone();
        let preset = opts.timing;
        if let Some(v) = self.advert_int {
            opts.timing.advert_int = seconds("--advert-int", v)?;
        }
        if let Some(v) = self.check_interval {
            opts.timing.check_interval = seconds("--check-interval", v)?;
        }
        opts.timing.fall = self.fall.unwrap_or(preset.fall);
        opts.timing.rise = self.rise.unwrap_or(preset.rise);
        opts.timing.weight = self.weight.unwrap_or(preset.weight);
        if opts.timing != preset {
            opts.profile = None;
        }
        opts.nodes = self.nodes;
        opts.attach = self
            .attach
            .iter()
            .enumerate()
            .map(|(i, entry)| self.attach_addr(i, entry))
            .collect::<Result<_, _>>()?;
        opts.kill = match &self.node {
            Some(name) => KillTarget::Node(name.clone()),
            None => KillTarget::Holder,
        };
        opts.preempt = !self.nopreempt;
        opts.fault = self.fault;
        opts.restart = !self.no_restart;
        opts.write_interval = Duration::from_millis(self.interval_ms);
        opts.attempt_timeout = Duration::from_millis(self.attempt_timeout_ms);
        opts.connection = self.connection;
        let (host, port) = self
            .backend
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
            .ok_or_else(|| {
                DrillError::Options(format!("--backend {}: expected HOST:PORT", self.backend))
            })?;
        opts.backend.host = host;
        opts.backend.port = port;
        opts.backend.user = self.user.clone();
        opts.backend.password = self.password.clone();
        opts.backend.database = self.database.clone();
        opts.vip = self.vip;
        opts.workdir = self.workdir.clone();
        if let Some(bin) = &self.pxadm_bin {
            opts.pxadm_bin = bin.clone();
        }
        opts.warmup = seconds("--warmup", self.warmup)?;
        opts.settle = seconds("--settle", self.settle)?;
        opts.validate()?;
        Ok(opts)
    }
}

/// Why a drill could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// Invalid options.
    #[error("drill: {0}")]
    Options(String),
    /// Files, ports or node processes could not be set up.
    #[error("drill set-up: {0}")]
    Setup(String),
    /// The backend primary is unreachable or refused the drill's queries.
    #[error("drill backend: {0}")]
    Backend(String),
    /// The machine cannot run this drill (not root, no `ip netns`, a tool missing).
    #[error("drill: cannot run here: {0}")]
    Unavailable(String),
    /// Something the drill waits for did not happen in time.
    #[error("drill: no {what} within {limit_s} s\n{logs}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The limit in seconds.
        limit_s: u64,
        /// Tails of the nodes' logs.
        logs: String,
    },
}

/// One step of a running drill, for a live timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillEvent {
    /// Milliseconds since the drill started.
    pub at_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What a [`DrillEvent`] reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A node process accepts admin connections.
    NodeStarted {
        /// Node name.
        node: String,
        /// Its pid.
        pid: u32,
        /// Its admin address.
        admin: String,
        /// Its VRRP priority.
        priority: u8,
    },
    /// A node's `stats_pxadm_vrrp` row changed.
    VrrpState {
        /// Node name.
        node: String,
        /// MASTER, BACKUP, FAULT or INIT.
        state: String,
        /// Whether it holds the VIP.
        vip_held: bool,
        /// Its advertised priority.
        effective_priority: u8,
    },
    /// A node's admin port stopped answering.
    NodeUnreachable {
        /// Node name.
        node: String,
    },
    /// The writer started.
    WriterStarted {
        /// Prefix of every inserted value.
        prefix: String,
    },
    /// One INSERT attempt finished.
    Write {
        /// Sequence number.
        seq: u64,
        /// Acknowledged by the server.
        ok: bool,
        /// Duration of the attempt.
        latency_ms: u64,
        /// The client's error, when it failed.
        error: Option<String>,
    },
    /// The first acknowledged INSERT after failures.
    WritesResumed {
        /// Failed attempts before it.
        failed: u64,
    },
    /// A node was killed: SIGKILL, or `PROXYSQL KILL` for an attached node.
    Killed {
        /// Node name.
        node: String,
        /// Its pid, when the drill started it.
        pid: Option<u32>,
        /// Whether it held the VIP.
        was_holder: bool,
    },
    /// The victim's proxy was paused (`--fault pause`).
    Paused {
        /// Node name.
        node: String,
        /// Whether it held the VIP.
        was_holder: bool,
    },
    /// The paused proxy accepts again.
    Resumed {
        /// Node name.
        node: String,
    },
    /// The killed node runs again.
    Restarted {
        /// Node name.
        node: String,
        /// Its new pid.
        pid: u32,
    },
    /// The acknowledged inserts were looked up on the primary.
    Verified {
        /// Acknowledged inserts.
        acknowledged: u64,
        /// Of those, present on the primary.
        found: u64,
    },
}

/// Sends events stamped with the drill's clock; without a receiver, nothing.
#[derive(Debug, Clone)]
struct Emitter {
    t0: Instant,
    tx: Option<mpsc::UnboundedSender<DrillEvent>>,
}

impl Emitter {
    fn emit(&self, kind: EventKind) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(DrillEvent {
                at_ms: writer::ms(self.t0.elapsed()),
                kind,
            });
        }
    }
}

/// Settings a report was produced with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillSettings {
    /// The preset, or `None` for custom timing.
    pub profile: Option<Profile>,
    /// VRRP timing.
    pub timing: VrrpTiming,
    /// keepalived preempt.
    pub preempt: bool,
    /// The fault injected.
    pub fault: Fault,
    /// Milliseconds between INSERTs.
    pub write_interval_ms: u64,
    /// Writer connection mode.
    pub connection: ConnectionMode,
    /// The VIP.
    pub vip: String,
    /// What moved the VIP.
    #[serde(default)]
    pub stack: Stack,
}

/// One node as the report describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// VRRP priority.
    pub priority: u8,
    /// Admin address.
    pub admin: String,
    /// Advert address (started nodes).
    pub advert: Option<String>,
    /// The node's own traffic listener (started nodes).
    pub traffic: Option<String>,
}

/// The service gap around the kill, as the scenario's report measures it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    /// Wall-clock time of the last acknowledged INSERT before the fault (`HH:MM:SS.mmm`).
    pub last_success_before: String,
    /// Wall-clock time of the first acknowledged INSERT after it.
    pub first_success_after: String,
    /// Milliseconds between the two.
    pub window_ms: u64,
    /// Attempts that failed in between.
    pub failed_attempts: u64,
}

/// What happened after the killed node came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failback {
    /// Milliseconds from the fault to the victim serving again (restarted or resumed).
    pub recovered_after_fault_ms: u64,
    /// Whether the victim took the VIP back (preempt with a higher priority).
    pub vip_returned: bool,
    /// Milliseconds from the recovery to the VIP being bound there, when it returned.
    pub takeover_ms: Option<u64>,
    /// The VIP holder at the end of the drill.
    pub final_holder: Option<String>,
    /// Longest gap between acknowledged INSERTs after the recovery.
    pub max_write_gap_ms: u64,
    /// Attempts that failed after the recovery.
    pub failed_attempts: u64,
}

/// Writer totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteSummary {
    /// INSERTs attempted.
    pub attempts: u64,
    /// INSERTs acknowledged.
    pub acknowledged: u64,
    /// INSERTs that failed.
    pub failed: u64,
    /// Failures per error class (`ERROR 2003`, `timeout`...).
    pub errors: BTreeMap<String, u64>,
}

/// The durability proof: acknowledged inserts looked up on the primary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// Acknowledged inserts.
    pub acknowledged: u64,
    /// Of those, present on the primary.
    pub found: u64,
    /// Acknowledged values missing on the primary (should be empty).
    pub missing: Vec<String>,
    /// Failed attempts whose row is present nevertheless (committed, answer lost).
    pub unacknowledged_committed: u64,
    /// `missing` is empty.
    pub holds: bool,
}

/// A drill's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillReport {
    /// Unique id; every inserted value starts with `drill-<run_id>-`.
    pub run_id: String,
    /// Settings.
    pub settings: DrillSettings,
    /// The nodes.
    pub nodes: Vec<NodeInfo>,
    /// The node the fault hit.
    pub victim: String,
    /// Whether it held the VIP.
    pub victim_was_holder: bool,
    /// The node holding the VIP after the failover.
    pub new_holder: Option<String>,
    /// RFC 5798 Master_Down_Interval of the best survivor.
    pub master_down_interval_ms: u64,
    /// The longest takeover the protocol allows for this fault and timing
    /// ([`DrillOptions::model_takeover`]).
    pub model_takeover_max_ms: u64,
    /// From the kill to a survivor entering MASTER state.
    pub detection_ms: Option<u64>,
    /// From the kill to the survivor's listener being bound on the VIP.
    pub takeover_ms: Option<u64>,
    /// From the kill to the first acknowledged INSERT after it.
    pub writes_resumed_ms: Option<u64>,
    /// Last success before → first success after.
    pub outage: Option<Outage>,
    /// After the restart of the killed node.
    pub failback: Option<Failback>,
    /// Writer totals.
    pub writes: WriteSummary,
    /// Every acknowledged insert present on the primary.
    pub proof: Proof,
    /// Nodes seen holding the VIP in the same poll, if that ever happened (should be `None`).
    pub double_holder: Option<Vec<String>>,
    /// keepalived stack: the longest time two namespaces carried the VIP at once, in
    /// milliseconds between the first and last poll that saw it (absent: never seen) (a preempting master adds the address before the old one has read its
    /// advert and dropped it). `double_holder` is set only when an overlap outlasts one
    /// advert interval, which the protocol does not allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_overlap_ms: Option<u64>,
    /// keepalived stack: what each node sent onto the bridge, captured there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire: Option<Wire>,
}

/// VRRP adverts and gratuitous ARPs captured on the bridge's ports (keepalived stack).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wire {
    /// Per node, in the report's node order.
    pub nodes: Vec<WireNode>,
    /// From the fault to the new holder's first gratuitous ARP for the VIP.
    pub announced_ms: Option<u64>,
}

/// What one node sent during the drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireNode {
    /// Node name.
    pub name: String,
    /// VRRP adverts (IP protocol 112) it sent.
    pub adverts: u64,
    /// Gratuitous ARPs for the VIP it sent.
    pub gratuitous_arps: u64,
    /// Adverts and gratuitous ARPs it sent after the fault.
    pub adverts_after_fault: u64,
    /// Gratuitous ARPs it sent after the fault.
    pub gratuitous_arps_after_fault: u64,
}

/// Runs the drill. Nodes are stopped (SIGTERM) before it returns, whatever the outcome.
/// Events go to `progress` as they happen.
pub async fn run_failover(
    opts: DrillOptions,
    progress: Option<mpsc::UnboundedSender<DrillEvent>>,
) -> Result<DrillReport, DrillError> {
    opts.validate()?;
    let events = Emitter {
        t0: Instant::now(),
        tx: progress,
    };
    if opts.stack == Stack::Keepalived {
        return keepalived_stack::run(&opts, &events).await;
    }
    writer::check_backend(&opts.backend).await?;
    let mut cluster = if opts.attach.is_empty() {
        DrillCluster::prepare(&opts).await?
    } else {
        DrillCluster::attach(&opts.attach).await?
    };
    let result = drive(&opts, &mut cluster, &events).await;
    let result = match result {
        Err(DrillError::Timeout { what, limit_s, .. }) => Err(DrillError::Timeout {
            what,
            limit_s,
            logs: cluster.log_tails(15).await,
        }),
        other => other,
    };
    cluster.stop_all().await;
    result
}

fn timeout(what: impl Into<String>, limit: Duration) -> DrillError {
    DrillError::Timeout {
        what: what.into(),
        limit_s: limit.as_secs(),
        logs: String::new(),
    }
}

/// Waits until `pred` holds for the polled views.
async fn wait_views(
    views: &mut watch::Receiver<Views>,
    limit: Duration,
    what: &str,
    mut pred: impl FnMut(&Views) -> bool,
) -> Result<Views, DrillError> {
    match tokio::time::timeout(limit, views.wait_for(|v| pred(v))).await {
        Ok(Ok(v)) => Ok(v.clone()),
        _ => Err(timeout(what, limit)),
    }
}

/// Polls `cond` every 5 ms until it yields a value.
async fn wait_for<T>(
    limit: Duration,
    what: &str,
    mut cond: impl FnMut() -> Option<T>,
) -> Result<T, DrillError> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = cond() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(timeout(what, limit));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The fault as injected.
struct Injected {
    /// Index of the node hit.
    victim: usize,
    /// Its name.
    name: String,
    /// It held the VIP alone when hit.
    was_holder: bool,
    /// When the fault took effect.
    at: Instant,
}

/// How the survivors reacted, each as (survivor index, poll time).
#[derive(Default)]
struct Reaction {
    /// The first survivor reporting VRRP state MASTER.
    detection: Option<(usize, Instant)>,
    /// The first survivor holding the VIP.
    takeover: Option<(usize, Instant)>,
}

/// The victim's return.
struct Recovery {
    /// When it was restarted or resumed.
    restarted: Instant,
    /// When the VIP came back to it, if it was expected to.
    vip_returned: Option<Instant>,
    /// Who holds the VIP once things settled.
    final_holder: Option<String>,
}

/// One drill, step by step: start, write through the VIP, inject the fault, watch the
/// takeover, bring the victim back, stop writing, verify every acknowledged write.
async fn drive(
    opts: &DrillOptions,
    cluster: &mut DrillCluster,
    events: &Emitter,
) -> Result<DrillReport, DrillError> {
    let limit = opts.wait_limit;
    for i in 0..cluster.nodes.len() {
        if cluster.is_managed(i) {
            cluster.start(i, true, events).await?;
        }
    }
    let poller = Poller::start(cluster, events.clone());
    let mut views = poller.views.clone();
    wait_views(&mut views, limit, "single VIP holder", |v| {
        v.holders().len() == 1 && v.nodes.iter().all(Option::is_some)
    })
    .await?;

    let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let prefix = format!("drill-{run_id}-");
    let writer = start_writer(opts, cluster, &prefix, events).await?;

    let injected = inject_fault(opts, cluster, &views, events).await?;
    let survivors: Vec<usize> = (0..cluster.nodes.len())
        .filter(|&i| i != injected.victim)
        .collect();
    let reaction = if injected.was_holder {
        watch_takeover(&mut views, &survivors, injected.at, limit).await?
    } else {
        Reaction::default()
    };
    let resumed = wait_for(limit, "acknowledged INSERT after the kill", || {
        writer.first_success_since(injected.at)
    })
    .await?;

    let can_recover = opts.fault == Fault::Pause || cluster.is_managed(injected.victim);
    let recovery = if opts.restart && can_recover {
        Some(recover(opts, cluster, &mut views, &injected, events).await?)
    } else {
        tokio::time::sleep(opts.settle).await;
        None
    };
    let attempts = writer.stop().await;
    let double_holder = poller.double_holder.lock().clone();
    drop(poller);

    let committed = writer::committed_values(&opts.backend, &prefix).await?;
    let proof = prove(&attempts, &committed);
    events.emit(EventKind::Verified {
        acknowledged: proof.acknowledged,
        found: proof.found,
    });

    let best_survivor = survivors
        .iter()
        .map(|&i| cluster.nodes[i].priority)
        .max()
        .unwrap_or(0);
    let t_kill = injected.at;
    let since_kill = |at: Instant| writer::ms(at.saturating_duration_since(t_kill));
    Ok(DrillReport {
        run_id,
        settings: DrillSettings {
            profile: opts.profile,
            timing: opts.timing,
            preempt: opts.preempt,
            fault: opts.fault,
            write_interval_ms: writer::ms(opts.write_interval),
            connection: opts.connection,
            vip: cluster.vip.to_string(),
            stack: Stack::Embedded,
        },
        nodes: cluster.nodes.iter().map(node_info).collect(),
        victim: injected.name,
        victim_was_holder: injected.was_holder,
        new_holder: reaction
            .takeover
            .map(|(i, _)| cluster.nodes[i].name.clone()),
        master_down_interval_ms: writer::ms(opts.master_down_interval(best_survivor)),
        model_takeover_max_ms: writer::ms(opts.model_takeover(best_survivor)),
        detection_ms: reaction.detection.map(|(_, at)| since_kill(at)),
        takeover_ms: reaction.takeover.map(|(_, at)| since_kill(at)),
        writes_resumed_ms: Some(since_kill(resumed.finished)),
        outage: outage(&attempts, t_kill, recovery.as_ref().map(|r| r.restarted)),
        failback: recovery.map(|r| {
            let (max_gap, failed) = after_restart(&attempts, r.restarted);
            Failback {
                recovered_after_fault_ms: since_kill(r.restarted),
                vip_returned: r.vip_returned.is_some(),
                takeover_ms: r
                    .vip_returned
                    .map(|at| writer::ms(at.saturating_duration_since(r.restarted))),
                final_holder: r.final_holder,
                max_write_gap_ms: max_gap,
                failed_attempts: failed,
            }
        }),
        writes: summary(&attempts),
        proof,
        double_holder,
        longest_overlap_ms: None,
        wire: None,
    })
}

/// A drill node as the report lists it.
fn node_info(n: &cluster::Node) -> NodeInfo {
    NodeInfo {
        name: n.name.clone(),
        priority: n.priority,
        admin: n.admin.endpoint(),
        advert: n.advert.map(|a| a.to_string()),
        traffic: n.traffic.map(|a| a.to_string()),
    }
}

/// Starts writing through the VIP; returns once a first INSERT was acknowledged and the
/// warm-up has passed, so the fault hits a steady stream.
async fn start_writer(
    opts: &DrillOptions,
    cluster: &DrillCluster,
    prefix: &str,
    events: &Emitter,
) -> Result<Writer, DrillError> {
    let writer = Writer::start(
        WriterConfig {
            target: cluster.vip,
            backend: opts.backend.clone(),
            interval: opts.write_interval,
            attempt_timeout: opts.attempt_timeout,
            mode: opts.connection,
            prefix: prefix.to_owned(),
        },
        events.clone(),
    );
    events.emit(EventKind::WriterStarted {
        prefix: prefix.to_owned(),
    });
    let started = Instant::now();
    wait_for(
        opts.wait_limit,
        "acknowledged INSERT through the VIP",
        || writer.first_success_since(started),
    )
    .await?;
    tokio::time::sleep(opts.warmup).await;
    Ok(writer)
}

/// Kills or pauses the chosen node (the VIP holder by default).
async fn inject_fault(
    opts: &DrillOptions,
    cluster: &mut DrillCluster,
    views: &watch::Receiver<Views>,
    events: &Emitter,
) -> Result<Injected, DrillError> {
    let holders = views.borrow().holders();
    let victim = match &opts.kill {
        KillTarget::Holder => *holders
            .first()
            .ok_or_else(|| timeout("VIP holder to kill", opts.wait_limit))?,
        KillTarget::Node(name) => cluster
            .index_of(name)
            .ok_or_else(|| DrillError::Options(format!("no node {name}")))?,
    };
    let was_holder = holders == [victim];
    let name = cluster.nodes[victim].name.clone();
    let at = match opts.fault {
        Fault::Kill => {
            let pid = cluster.kill(victim).await?;
            let t = Instant::now();
            events.emit(EventKind::Killed {
                node: name.clone(),
                pid,
                was_holder,
            });
            cluster.reap(victim).await;
            t
        }
        Fault::Pause => {
            cluster
                .admin_command(victim, queries::PROXYSQL_PAUSE)
                .await?;
            let t = Instant::now();
            events.emit(EventKind::Paused {
                node: name.clone(),
                was_holder,
            });
            t
        }
        other => return Err(not_a_drill_fault(other)),
    };
    Ok(Injected {
        victim,
        name,
        was_holder,
        at,
    })
}

/// Detection and takeover, as the survivors' stats tables show them after `t_kill`.
async fn watch_takeover(
    views: &mut watch::Receiver<Views>,
    survivors: &[usize],
    t_kill: Instant,
    limit: Duration,
) -> Result<Reaction, DrillError> {
    let mut reaction = Reaction::default();
    let deadline = tokio::time::Instant::from_std(t_kill + limit);
    loop {
        {
            let v = views.borrow_and_update();
            if v.at > t_kill {
                for &i in survivors {
                    if let Some(view) = &v.nodes[i] {
                        if reaction.detection.is_none() && view.state == "MASTER" {
                            reaction.detection = Some((i, v.at));
                        }
                        if reaction.takeover.is_none() && view.vip_held {
                            reaction.takeover = Some((i, v.at));
                        }
                    }
                }
            }
        }
        if reaction.detection.is_some() && reaction.takeover.is_some() {
            return Ok(reaction);
        }
        match tokio::time::timeout_at(deadline, views.changed()).await {
            Ok(Ok(())) => {}
            _ => return Err(timeout("survivor taking the VIP over", limit)),
        }
    }
}

/// Brings the victim back (restart or resume), waits for the VIP to return when a
/// preempting victim should take it back (else long enough for it to have struck), settles.
async fn recover(
    opts: &DrillOptions,
    cluster: &mut DrillCluster,
    views: &mut watch::Receiver<Views>,
    injected: &Injected,
    events: &Emitter,
) -> Result<Recovery, DrillError> {
    let victim = injected.victim;
    match opts.fault {
        Fault::Kill => {
            let pid = cluster.start(victim, false, events).await?;
            events.emit(EventKind::Restarted {
                node: injected.name.clone(),
                pid,
            });
        }
        Fault::Pause => {
            cluster
                .admin_command(victim, queries::PROXYSQL_RESUME)
                .await?;
            events.emit(EventKind::Resumed {
                node: injected.name.clone(),
            });
        }
        other => return Err(not_a_drill_fault(other)),
    }
    let restarted = Instant::now();
    let holder_priority = views
        .borrow()
        .holders()
        .first()
        .map(|&i| cluster.nodes[i].priority)
        .unwrap_or(0);
    let expect_return = opts.preempt && cluster.nodes[victim].priority > holder_priority;
    let mut vip_returned = None;
    if expect_return {
        let v = wait_views(
            views,
            opts.wait_limit,
            "VIP back on the restarted node",
            |v| v.holders() == [victim],
        )
        .await?;
        vip_returned = Some(v.at);
    } else {
        // Long enough for a preempting node to have struck: its own Master_Down_Interval
        // after it started, twice, plus a second of slack.
        let hold =
            opts.master_down_interval(cluster.nodes[victim].priority) * 2 + Duration::from_secs(1);
        tokio::time::sleep(hold).await;
    }
    tokio::time::sleep(opts.settle).await;
    let final_holder = views
        .borrow()
        .holders()
        .first()
        .map(|&i| cluster.nodes[i].name.clone());
    Ok(Recovery {
        restarted,
        vip_returned,
        final_holder,
    })
}

/// Local wall-clock `HH:MM:SS.mmm`.
fn clock(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Local>::from(t)
        .format("%H:%M:%S%.3f")
        .to_string()
}

/// The gap around `t_kill`: the last acknowledged INSERT that started before the kill
/// (it went through the old holder) and the first that started after it, counting only
/// attempts before the restart so the failback does not blur the figure.
fn outage(attempts: &[Attempt], t_kill: Instant, until: Option<Instant>) -> Option<Outage> {
    let before = attempts
        .iter()
        .filter(|a| a.ok() && a.started < t_kill)
        .max_by_key(|a| a.finished)?;
    let after = attempts
        .iter()
        .filter(|a| a.ok() && a.started >= t_kill)
        .filter(|a| until.is_none_or(|u| a.started < u))
        .min_by_key(|a| a.finished)?;
    let failed = attempts
        .iter()
        .filter(|a| !a.ok() && a.seq > before.seq && a.seq < after.seq)
        .count() as u64;
    Some(Outage {
        last_success_before: clock(before.finished_wall),
        first_success_after: clock(after.finished_wall),
        window_ms: writer::ms(after.finished.saturating_duration_since(before.finished)),
        failed_attempts: failed,
    })
}

/// Longest gap between acknowledged INSERTs that ends with one started after `t` (the first
/// may be measured from the last success before `t`), and the failures started after `t`.
fn after_restart(attempts: &[Attempt], t: Instant) -> (u64, u64) {
    let mut last_ok: Option<Instant> = None;
    let mut max_gap = Duration::ZERO;
    let mut failed = 0;
    for a in attempts {
        if a.ok() {
            if let Some(prev) = last_ok.filter(|_| a.started >= t) {
                max_gap = max_gap.max(a.finished.saturating_duration_since(prev));
            }
            last_ok = Some(a.finished);
        } else if a.started >= t {
            failed += 1;
        }
    }
    (writer::ms(max_gap), failed)
}

fn summary(attempts: &[Attempt]) -> WriteSummary {
    let mut errors = BTreeMap::new();
    for e in attempts.iter().filter_map(|a| a.error.as_deref()) {
        *errors.entry(writer::error_class(e)).or_insert(0) += 1;
    }
    let acknowledged = attempts.iter().filter(|a| a.ok()).count() as u64;
    WriteSummary {
        attempts: attempts.len() as u64,
        acknowledged,
        failed: attempts.len() as u64 - acknowledged,
        errors,
    }
}

fn prove(attempts: &[Attempt], committed: &std::collections::HashSet<String>) -> Proof {
    let missing: Vec<String> = attempts
        .iter()
        .filter(|a| a.ok() && !committed.contains(&a.value))
        .map(|a| a.value.clone())
        .collect();
    let acknowledged = attempts.iter().filter(|a| a.ok()).count() as u64;
    let unacknowledged_committed = attempts
        .iter()
        .filter(|a| !a.ok() && committed.contains(&a.value))
        .count() as u64;
    Proof {
        acknowledged,
        found: acknowledged - missing.len() as u64,
        holds: missing.is_empty(),
        missing,
        unacknowledged_committed,
    }
}

/// Milliseconds as seconds with three decimals (`3.705 s`), as the table prints them.
pub fn secs(ms: u64) -> String {
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}

/// The report as a two-column table.
pub fn render_table(report: &DrillReport) -> String {
    let s = &report.settings;
    let t = &s.timing;
    let profile = match s.profile {
        Some(Profile::Scenario) => "scenario",
        Some(Profile::Tuned) => "tuned",
        None => "custom",
    };
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    table.set_header(["figure", "value"]);
    let opt = |v: Option<u64>| v.map(secs).unwrap_or_else(|| "-".into());
    table.add_row(["settings".to_string(), settings_text(profile, s, t)]);
    let (fault, verb, recovery) = match s.fault {
        Fault::Pause => (s.fault.action(), "pause", "resumed"),
        Fault::Freeze => (s.fault.action(), "freeze", "thawed"),
        _ => (s.fault.action(), "kill", "restarted"),
    };
    table.add_row([
        format!("fault ({fault})"),
        format!(
            "{}{}",
            report.victim,
            if report.victim_was_holder {
                " (VIP holder)"
            } else {
                " (backup)"
            }
        ),
    ]);
    table.add_row([
        "new VIP holder".to_string(),
        report.new_holder.clone().unwrap_or_else(|| "-".into()),
    ]);
    table.add_row([
        "model (RFC 5798)".to_string(),
        format!(
            "Master_Down_Interval {}, takeover at most {}",
            secs(report.master_down_interval_ms),
            secs(report.model_takeover_max_ms)
        ),
    ]);
    table.add_row([
        format!("detection ({verb} → MASTER)"),
        opt(report.detection_ms),
    ]);
    table.add_row([
        format!("takeover ({verb} → VIP bound)"),
        opt(report.takeover_ms),
    ]);
    table.add_row([
        format!("writes resumed ({verb} → first OK)"),
        opt(report.writes_resumed_ms),
    ]);
    match &report.outage {
        Some(o) => {
            table.add_row([
                "outage window".to_string(),
                format!(
                    "{} ({} → {})",
                    secs(o.window_ms),
                    o.last_success_before,
                    o.first_success_after
                ),
            ]);
            table.add_row(["failed attempts".to_string(), o.failed_attempts.to_string()]);
        }
        None => {
            table.add_row(["outage window".to_string(), "-".to_string()]);
        }
    }
    if let Some(f) = &report.failback {
        table.add_row(["failback".to_string(), failback_text(f, recovery, verb)]);
    }
    table.add_row(["writes".to_string(), writes_text(&report.writes)]);
    table.add_row(["proof (primary)".to_string(), proof_text(&report.proof)]);
    table.add_row([
        "VIP holders at once".to_string(),
        match (&report.double_holder, report.longest_overlap_ms) {
            (None, None) => "never more than one".to_string(),
            (None, Some(ms)) => format!(
                "two during a handover, in polls {ms} ms apart at most (within one advert interval)"
            ),
            (Some(nodes), _) => format!("TWO: {}", nodes.join(", ")),
        },
    ]);
    if let Some(w) = &report.wire {
        let per_node: Vec<String> = w
            .nodes
            .iter()
            .map(|n| {
                format!(
                    "{} {} adverts, {} gratuitous ARPs ({} / {} after the fault)",
                    n.name,
                    n.adverts,
                    n.gratuitous_arps,
                    n.adverts_after_fault,
                    n.gratuitous_arps_after_fault
                )
            })
            .collect();
        table.add_row(["on the wire (bridge)".to_string(), per_node.join("; ")]);
        table.add_row([
            "VIP announced (fault → GARP)".to_string(),
            opt(w.announced_ms),
        ]);
    }
    table.to_string()
}

/// The `settings` figure: profile, VRRP timing and writer settings.
fn settings_text(profile: &str, s: &DrillSettings, t: &VrrpTiming) -> String {
    let stack = match s.stack {
        Stack::Embedded => "",
        Stack::Keepalived => "keepalived stack, ",
    };
    format!(
        "{stack}{profile}: advert {} s, check {} s, fall {}, rise {}, weight {}, {}; INSERT every {} ms ({} connection)",
        t.advert_int.as_secs_f64(),
        t.check_interval.as_secs_f64(),
        t.fall,
        t.rise,
        t.weight,
        if s.preempt { "preempt" } else { "nopreempt" },
        s.write_interval_ms,
        match s.connection {
            ConnectionMode::Fresh => "fresh",
            ConnectionMode::Persistent => "persistent",
        }
    )
}

/// The `failback` figure: how the victim came back and what the writes saw meanwhile.
fn failback_text(f: &Failback, recovery: &str, verb: &str) -> String {
    format!(
        "{recovery} {} after the {verb}; VIP {}; holder now {}; longest write gap {}, {} failed",
        secs(f.recovered_after_fault_ms),
        match f.takeover_ms {
            Some(ms) => format!("returned {} later", secs(ms)),
            None => "stayed".to_string(),
        },
        f.final_holder.as_deref().unwrap_or("-"),
        secs(f.max_write_gap_ms),
        f.failed_attempts
    )
}

/// The `writes` figure: attempts, acknowledgements and failures by error.
fn writes_text(w: &WriteSummary) -> String {
    let errors: Vec<String> = w.errors.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
    format!(
        "{} attempted, {} acknowledged, {} failed{}",
        w.attempts,
        w.acknowledged,
        w.failed,
        if errors.is_empty() {
            String::new()
        } else {
            format!(" ({})", errors.join(", "))
        }
    )
}

/// The `proof` figure: were all acknowledged INSERTs committed on the primary.
fn proof_text(p: &Proof) -> String {
    format!(
        "{}: {} of {} acknowledged inserts present, {} missing; {} unacknowledged but committed",
        if p.holds { "HOLDS" } else { "BROKEN" },
        p.found,
        p.acknowledged,
        p.missing.len(),
        p.unacknowledged_committed
    )
}

/// A progress line for the terminal, or `None` for events too frequent to print.
fn progress_line(e: &DrillEvent) -> Option<String> {
    let text = describe(&e.kind)?;
    Some(format!("[{:>10}] {text}", secs(e.at_ms)))
}

/// One sentence for a drill event; `None` for acknowledged writes (too many to list).
pub fn describe(kind: &EventKind) -> Option<String> {
    let text = match kind {
        EventKind::NodeStarted {
            node,
            pid,
            admin,
            priority,
        } => format!("{node} started (pid {pid}, admin {admin}, priority {priority})"),
        EventKind::VrrpState {
            node,
            state,
            vip_held,
            effective_priority,
        } => format!(
            "{node}: {state}, priority {effective_priority}{}",
            if *vip_held { ", holds the VIP" } else { "" }
        ),
        EventKind::NodeUnreachable { node } => format!("{node}: admin unreachable"),
        EventKind::WriterStarted { prefix } => format!("writer started ({prefix}...)"),
        EventKind::Write {
            ok: false, error, ..
        } => {
            format!("INSERT failed: {}", error.as_deref().unwrap_or("?"))
        }
        EventKind::Write { .. } => return None,
        EventKind::WritesResumed { failed } => {
            format!("INSERTs acknowledged again after {failed} failed attempts")
        }
        EventKind::Killed {
            node,
            pid,
            was_holder,
        } => format!(
            "{} ({node}{})",
            match pid {
                Some(pid) => format!("kill -9 {pid}"),
                None => "PROXYSQL KILL".to_string(),
            },
            if *was_holder { ", the VIP holder" } else { "" }
        ),
        EventKind::Restarted { node, pid } => format!("{node} restarted (pid {pid})"),
        EventKind::Paused { node, was_holder } => format!(
            "PROXYSQL PAUSE on {node}{}",
            if *was_holder { ", the VIP holder" } else { "" }
        ),
        EventKind::Resumed { node } => format!("PROXYSQL RESUME on {node}"),
        EventKind::Verified {
            acknowledged,
            found,
        } => format!("primary has {found} of {acknowledged} acknowledged inserts"),
    };
    Some(text)
}

/// `pxadm drill failover`: progress on stderr and the table on stdout, or (with `--batch`)
/// only the JSON report on stdout. Fails when the drill cannot finish or an acknowledged
/// insert is missing.
pub async fn run_cli(args: FailoverArgs, batch: bool) -> anyhow::Result<()> {
    let opts = args.to_options()?;
    let (tx, mut rx) = mpsc::unbounded_channel::<DrillEvent>();
    let printer = tokio::spawn(async move {
        let mut consecutive_failures = 0u32;
        while let Some(event) = rx.recv().await {
            if batch {
                continue;
            }
            // A failing streak prints its first error only; the resume line counts the rest.
            if let EventKind::Write { ok, .. } = &event.kind {
                if *ok {
                    consecutive_failures = 0;
                    continue;
                }
                consecutive_failures += 1;
                if consecutive_failures > 1 {
                    continue;
                }
            }
            if let Some(line) = progress_line(&event) {
                // A closed stderr must not panic the progress task.
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!("{line}\n").as_bytes(),
                );
            }
        }
    });
    let result = tokio::select! {
        r = run_failover(opts, Some(tx)) => r,
        // Dropping the drill's future runs its clean-up (processes killed, namespaces
        // deleted) before pxadm exits, on Ctrl-C and on SIGTERM alike.
        signal = interrupted() => {
            // The writer's task may still hold an event sender: do not wait for the printer.
            printer.abort();
            eprintln!("pxadm drill: {signal}: stopped; everything the drill started is removed");
            return Err(crate::console::batch::Exit(130).into());
        }
    };
    let _ = printer.await;
    let report = match result {
        Err(DrillError::Unavailable(why)) => {
            eprintln!("pxadm drill: cannot run here: {why}");
            return Err(crate::console::batch::Exit(3).into());
        }
        other => other?,
    };
    if batch {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", render_table(&report));
    }
    if !report.proof.holds {
        anyhow::bail!(
            "{} acknowledged inserts are missing on the primary: {}",
            report.proof.missing.len(),
            report.proof.missing.join(", ")
        );
    }
    Ok(())
}

/// Resolves with the signal's name on SIGINT or SIGTERM.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        // Without handlers the default action applies; never resolve.
        _ => std::future::pending().await,
    }
}

/// Durations as integer milliseconds in JSON.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: FailoverArgs,
    }

    fn args(line: &[&str]) -> Result<DrillOptions, String> {
        let mut argv = vec!["drill"];
        argv.extend_from_slice(line);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        cli.args.to_options().map_err(|e| e.to_string())
    }

    fn attempt(seq: u64, t0: Instant, start_ms: u64, ok: bool) -> Attempt {
        let started = t0 + Duration::from_millis(start_ms);
        Attempt {
            seq,
            value: format!("drill-x-{seq:06}"),
            started,
            finished: started + Duration::from_millis(5),
            finished_wall: SystemTime::UNIX_EPOCH,
            error: (!ok).then(|| "ERROR 2003 (HY000): Can't connect".to_string()),
        }
    }

    #[test]
    fn profiles_and_overrides() {
        let o = args(&[]).unwrap();
        assert_eq!(o.profile, Some(Profile::Scenario));
        assert_eq!(o.timing.advert_int, Duration::from_secs(1));
        assert_eq!(o.timing.check_interval, Duration::from_secs(2));
        assert_eq!((o.timing.fall, o.timing.weight), (2, -20));
        let o = args(&["--profile", "tuned"]).unwrap();
        assert_eq!(o.timing.advert_int, Duration::from_millis(100));
        assert_eq!(o.timing.fall, 1);
        let o = args(&[
            "--profile",
            "tuned",
            "--weight",
            "0",
            "--advert-int",
            "0.05",
        ])
        .unwrap();
        assert_eq!(o.profile, None, "overridden timing is custom");
        assert_eq!(o.timing.weight, 0);
        assert_eq!(o.timing.advert_int, Duration::from_millis(50));
        let o = args(&["--weight", "-30", "--node", "node2", "--nopreempt"]).unwrap();
        assert_eq!(o.timing.weight, -30);
        assert_eq!(o.kill, KillTarget::Node("node2".into()));
        assert!(!o.preempt);
        assert_eq!(o.fault, Fault::Kill);
        assert_eq!(args(&["--fault", "pause"]).unwrap().fault, Fault::Pause);
        let o = args(&[
            "--attach",
            "left=127.0.0.1:16032",
            "--attach",
            "127.0.0.1:16033",
            "--node",
            "left",
            "--admin-user",
            "radmin",
        ])
        .unwrap();
        let names: Vec<&str> = o.attach.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["left", "node2"]);
        assert_eq!(
            (o.attach[1].port, o.attach[1].user.as_str()),
            (16033, "radmin")
        );
    }

    #[test]
    fn bad_flags_are_explained() {
        for (line, expect) in [
            (&["--nodes", "4"][..], "2 or 3"),
            (&["--node", "node3"], "node1, node2"),
            (&["--backend", "localhost"], "HOST:PORT"),
            (&["--database", "a;drop"], "identifier"),
            (&["--interval-ms", "0"], "positive"),
            (&["--warmup=-1"], "seconds"),
            (&["--attach", "nowhere"], "[NAME=]HOST:PORT"),
            (&["--attach", "127.0.0.1:1"], "at least two"),
            (
                &["--attach", "a=127.0.0.1:1", "--attach", "a=127.0.0.1:2"],
                "unique",
            ),
            (
                &[
                    "--attach",
                    "127.0.0.1:1",
                    "--attach",
                    "127.0.0.1:2",
                    "--node",
                    "x",
                ],
                "node1, node2",
            ),
        ] {
            let err = args(line).unwrap_err();
            assert!(err.contains(expect), "{line:?}: {err}");
        }
    }

    #[test]
    fn master_down_interval_follows_rfc_5798() {
        let o = DrillOptions::new(Profile::Scenario);
        assert_eq!(
            o.master_down_interval(90),
            Duration::from_nanos(3_648_437_500)
        );
        assert_eq!(o.model_takeover(90), o.master_down_interval(90));
        let mut o = o;
        o.fault = Fault::Pause;
        // The scenario's 7 s: up to 2 × 2 s of failing checks, then Master_Down_Interval.
        assert_eq!(
            o.model_takeover(90),
            Duration::from_secs(4) + o.master_down_interval(90)
        );
        o.timing.weight = 0;
        assert_eq!(
            o.model_takeover(90),
            Duration::from_secs(4) + Duration::from_secs(1) * 166 / 256
        );
        let o = DrillOptions::new(Profile::Tuned);
        assert_eq!(
            o.master_down_interval(90),
            Duration::from_nanos(364_843_750)
        );
    }

    #[test]
    fn outage_spans_last_success_before_to_first_success_after() {
        let t0 = Instant::now();
        let attempts = vec![
            attempt(1, t0, 0, true),
            attempt(2, t0, 100, true),
            attempt(3, t0, 200, false),
            attempt(4, t0, 300, false),
            attempt(5, t0, 400, true),
            attempt(6, t0, 500, false),
            attempt(7, t0, 600, true),
        ];
        // Killed at 150 ms, restarted at 450 ms.
        let o = outage(
            &attempts,
            t0 + Duration::from_millis(150),
            Some(t0 + Duration::from_millis(450)),
        )
        .unwrap();
        assert_eq!(o.window_ms, 300);
        assert_eq!(o.failed_attempts, 2);
        let (gap, failed) = after_restart(&attempts, t0 + Duration::from_millis(450));
        assert_eq!((gap, failed), (200, 1));
        // Nothing acknowledged after the kill: no window to report.
        assert!(outage(&attempts[..4], t0 + Duration::from_millis(150), None).is_none());
    }

    #[test]
    fn proof_finds_missing_and_unacknowledged_rows() {
        let t0 = Instant::now();
        let attempts = vec![
            attempt(1, t0, 0, true),
            attempt(2, t0, 100, false),
            attempt(3, t0, 200, true),
        ];
        let committed = ["drill-x-000001", "drill-x-000002"]
            .map(String::from)
            .into_iter()
            .collect();
        let p = prove(&attempts, &committed);
        assert!(!p.holds);
        assert_eq!(p.missing, ["drill-x-000003"]);
        assert_eq!(
            (p.acknowledged, p.found, p.unacknowledged_committed),
            (2, 1, 1)
        );
        let s = summary(&attempts);
        assert_eq!((s.attempts, s.acknowledged, s.failed), (3, 2, 1));
        assert_eq!(s.errors.get("ERROR 2003"), Some(&1));
    }

    #[test]
    fn keepalived_stack_options_are_checked() {
        let o = args(&["--stack", "keepalived", "--profile", "tuned"]).unwrap();
        assert_eq!(o.stack, Stack::Keepalived);
        assert_eq!(o.timing.check_interval, Duration::from_secs(1));
        assert_eq!(o.timing.advert_int, Duration::from_millis(100));
        assert_eq!(o.profile, Some(Profile::Tuned));
        let o = args(&["--stack", "keepalived", "--fault", "freeze"]).unwrap();
        assert_eq!(o.fault, Fault::Freeze);
        // Scenario kill: keepalived survives the proxy, so the check comes first.
        assert_eq!(o.timing, Profile::Scenario.timing());
        let mut kill = o.clone();
        kill.fault = Fault::Kill;
        assert_eq!(kill.model_takeover(90).as_millis(), 7648);
        assert_eq!(o.model_takeover(90).as_millis(), 9648);
        let err = args(&["--stack", "keepalived", "--check-interval", "0.5"]).unwrap_err();
        assert!(err.contains("whole seconds"), "{err}");
        let err = args(&["--stack", "keepalived", "--fault", "pause"]).unwrap_err();
        assert!(err.contains("kill or freeze"), "{err}");
        let err = args(&[
            "--stack",
            "keepalived",
            "--attach",
            "127.0.0.1:6032",
            "--attach",
            "127.0.0.1:6042",
        ])
        .unwrap_err();
        assert!(err.contains("--attach"), "{err}");
        let err = args(&["--proxy-bin", "/bin/true"]).unwrap_err();
        assert!(err.contains("--stack keepalived"), "{err}");
        let err = args(&["--fault", "freeze"]).unwrap_err();
        assert!(err.contains("--stack keepalived"), "{err}");
        let err = args(&["--fault", "thaw"]).unwrap_err();
        assert!(err.contains("kill, pause or freeze"), "{err}");
    }

    #[test]
    fn report_round_trips_through_json_and_renders() {
        let report = DrillReport {
            run_id: "abc".into(),
            settings: DrillSettings {
                profile: Some(Profile::Tuned),
                timing: Profile::Tuned.timing(),
                preempt: true,
                fault: Fault::Kill,
                write_interval_ms: 100,
                connection: ConnectionMode::Fresh,
                vip: "127.0.0.20:6033".into(),
                stack: Stack::Embedded,
            },
            nodes: Vec::new(),
            victim: "node1".into(),
            victim_was_holder: true,
            new_holder: Some("node2".into()),
            master_down_interval_ms: 364,
            model_takeover_max_ms: 364,
            detection_ms: Some(370),
            takeover_ms: Some(371),
            writes_resumed_ms: Some(420),
            outage: Some(Outage {
                last_success_before: "22:06:58.000".into(),
                first_success_after: "22:06:58.450".into(),
                window_ms: 450,
                failed_attempts: 4,
            }),
            failback: None,
            writes: WriteSummary {
                attempts: 10,
                acknowledged: 6,
                failed: 4,
                errors: BTreeMap::from([("ERROR 2003".to_string(), 4)]),
            },
            proof: Proof {
                acknowledged: 6,
                found: 6,
                missing: Vec::new(),
                unacknowledged_committed: 0,
                holds: true,
            },
            double_holder: None,
            longest_overlap_ms: None,
            wire: None,
        };
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"advert_int\":100"), "{json}");
        let back: DrillReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
        let table = render_table(&report);
        assert!(
            table.contains("0.450 s (22:06:58.000 → 22:06:58.450)"),
            "{table}"
        );
        assert!(table.contains("HOLDS: 6 of 6"), "{table}");
    }

    #[test]
    fn events_serialise_with_a_tag() {
        let e = DrillEvent {
            at_ms: 12,
            kind: EventKind::Killed {
                node: "node1".into(),
                pid: Some(42),
                was_holder: true,
            },
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["event"], "killed");
        assert_eq!(json["at_ms"], 12);
        assert!(progress_line(&e)
            .unwrap()
            .contains("kill -9 42 (node1, the VIP holder)"));
    }
}
