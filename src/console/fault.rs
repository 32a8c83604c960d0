//! The faults pxadm injects into a node, named once for the console, the shell, batch mode
//! and the failover drill.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// A fault to inject.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// SIGKILL (or `PROXYSQL KILL`).
    Kill,
    /// SIGSTOP: the process stops answering, sockets stay open.
    Freeze,
    /// SIGCONT.
    Thaw,
    /// `PROXYSQL PAUSE`: stop accepting traffic.
    Pause,
    /// `PROXYSQL RESUME`.
    Resume,
    /// Start the node again (after a kill) or restart it.
    Restart,
}

impl Fault {
    /// Lower-case name (config keys, command palette, JSON).
    pub fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::Freeze => "freeze",
            Fault::Thaw => "thaw",
            Fault::Pause => "pause",
            Fault::Resume => "resume",
            Fault::Restart => "restart",
        }
    }

    /// What is done to a node that pxadm started itself, as a DBA would type it.
    pub fn action(self) -> &'static str {
        match self {
            Fault::Kill => "kill -9",
            Fault::Freeze => "kill -STOP",
            Fault::Thaw => "kill -CONT",
            Fault::Pause => "PROXYSQL PAUSE",
            Fault::Resume => "PROXYSQL RESUME",
            Fault::Restart => "restart",
        }
    }

    /// Parses a name.
    pub fn from_name(s: &str) -> Option<Fault> {
        [
            Fault::Kill,
            Fault::Freeze,
            Fault::Thaw,
            Fault::Pause,
            Fault::Resume,
            Fault::Restart,
        ]
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(s))
    }
}

/// Applies faults to nodes by name.
pub trait FaultInjector: Send + Sync {
    /// Injects `fault` into the node named `node`; the text says what was done.
    fn inject<'a>(&'a self, node: &'a str, fault: Fault) -> BoxFuture<'a, anyhow::Result<String>>;
}

impl Fault {
    /// The faults the failover drill injects: both take the VIP holder out of service and
    /// have a recovery (restart after a kill, `PROXYSQL RESUME` after a pause).
    pub const DRILL: [Fault; 2] = [Fault::Kill, Fault::Pause];

    /// Parses a fault the drill can inject (`--fault` of `pxadm drill`).
    pub fn parse_drill(s: &str) -> Result<Fault, String> {
        Fault::from_name(s)
            .filter(|f| Fault::DRILL.contains(f))
            .ok_or_else(|| format!("the drill injects kill or pause, not {s:?}"))
    }
}
