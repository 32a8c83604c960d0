//! The console's inputs as the rest of the crate provides them: the node list, the fault
//! operations and the settings.
//!
//! These are the agreed shapes of `console::nodes::ConsoleNode`, `console::faults::{Fault,
//! FaultInjector}` and `console::config::ConsoleSettings`. They live here only until those
//! modules exist; then this file becomes three `pub use` lines and nothing else changes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::client::conn::NodeAddr;

/// One node the console watches.
#[derive(Debug, Clone)]
pub struct ConsoleNode {
    /// How to reach its admin interface.
    pub addr: NodeAddr,
    /// True when pxadm started the node (a demo child process): signals work on it.
    pub managed: bool,
    /// Its log file, when pxadm knows it (managed nodes); tailed in the events view.
    pub log_path: Option<PathBuf>,
}

/// A fault the console can inject into one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// SIGKILL for a managed node, `PROXYSQL KILL` otherwise.
    Kill,
    /// SIGSTOP: the process stops answering but keeps its sockets.
    Freeze,
    /// SIGCONT after a freeze.
    Thaw,
    /// `PROXYSQL PAUSE`: stop accepting traffic.
    Pause,
    /// `PROXYSQL RESUME`.
    Resume,
    /// Stop and start the node again.
    Restart,
}

/// Carries out faults; the console only asks and reports the answer.
pub trait FaultInjector: Send + Sync {
    /// Applies `fault` to the node named `node`; the text describes what was done.
    fn inject<'a>(&'a self, node: &'a str, fault: Fault) -> BoxFuture<'a, anyhow::Result<String>>;
}

/// What the configuration says about the console itself.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// Poll interval.
    pub refresh: Duration,
    /// Theme name (built-in or from the user's theme folder) or a path to a theme file.
    pub theme: String,
    /// Disables every action that changes a node.
    pub read_only: bool,
    /// Action name → key (or comma-separated keys), overriding the defaults.
    pub keys: BTreeMap<String, String>,
}
