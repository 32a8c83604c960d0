//! The messages of the console loop: what happened ([`Action`], fed to `App::update`) and what
//! the update asks the outside world to do ([`Effect`]).

use std::collections::BTreeMap;

use crossterm::event::KeyEvent;

use crate::client::conn::Outcome;
use crate::client::snapshot::NodeSnapshot;

use super::contract::Fault;
use super::drill::DrillRequest;
use crate::client::detail::{HaInfo, NodeDetail};
use crate::console::drill::{DrillEvent, DrillReport};

/// A screen of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// Checksum matrix (home).
    Matrix,
    /// Diagnosis findings.
    Diagnosis,
    /// One node's detail.
    Node,
    /// VRRP / VIP.
    Ha,
    /// Events and log tail.
    Events,
    /// Rates per node and in total.
    Traffic,
    /// Backends side by side.
    Hostgroups,
    /// Sessions of every node.
    Processlist,
    /// Query digests merged.
    Digests,
    /// Commands counters and errors merged.
    Stats,
}

impl View {
    /// Every view, in tab order.
    pub const ALL: [View; 10] = [
        View::Matrix,
        View::Diagnosis,
        View::Node,
        View::Ha,
        View::Events,
        View::Traffic,
        View::Hostgroups,
        View::Processlist,
        View::Digests,
        View::Stats,
    ];

    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Matrix => "Matrix",
            View::Diagnosis => "Diagnosis",
            View::Node => "Node",
            View::Ha => "HA",
            View::Events => "Events",
            View::Traffic => "Traffic",
            View::Hostgroups => "Hostgroups",
            View::Processlist => "Processlist",
            View::Digests => "Digests",
            View::Stats => "Stats",
        }
    }

    /// A shorter tab title, for terminals too narrow for every full title.
    pub fn short_title(self) -> &'static str {
        match self {
            View::Diagnosis => "Diag",
            View::Hostgroups => "HGs",
            View::Processlist => "Procs",
            View::Digests => "Digest",
            other => other.title(),
        }
    }

    /// By lower-case name (`matrix`, `diagnosis`, `node`, `ha`, `events`).
    pub fn from_name(name: &str) -> Option<View> {
        View::ALL
            .into_iter()
            .find(|v| v.title().eq_ignore_ascii_case(name.trim()))
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    /// The next view, wrapping.
    pub fn next(self) -> View {
        View::ALL[(self.index() + 1) % View::ALL.len()]
    }

    /// The previous view, wrapping.
    pub fn prev(self) -> View {
        View::ALL[(self.index() + View::ALL.len() - 1) % View::ALL.len()]
    }
}

/// Identifies an operator-started job, to match its result.
pub type JobId = u64;

/// Something that happened: input, a poll result, a finished job.
#[derive(Debug, Clone)]
pub enum Action {
    /// A key press.
    Key(KeyEvent),
    /// Pasted text (bracketed paste).
    Paste(String),
    /// The terminal was resized (a redraw follows every action anyway).
    Resize,
    /// The clock: unix seconds now.
    Tick(u64),
    /// A node was polled.
    Snapshot {
        /// Node index.
        node: usize,
        /// What the poll read.
        snapshot: NodeSnapshot,
    },
    /// A node's VRRP state was read.
    Ha {
        /// Node index.
        node: usize,
        /// What it said.
        info: HaInfo,
    },
    /// The selected node's detail tables were read.
    Detail {
        /// Node index.
        node: usize,
        /// The tables, or why they could not be read.
        detail: Result<NodeDetail, String>,
    },
    /// A node's variables were read (for the differing-variables list).
    Variables {
        /// Node index.
        node: usize,
        /// Name → value (secrets masked), or the error.
        variables: Result<BTreeMap<String, String>, String>,
    },
    /// New lines in a managed node's log.
    LogLines {
        /// Node index.
        node: usize,
        /// The lines, oldest first.
        lines: Vec<String>,
    },
    /// One node's answer for the stats table of the traffic view on screen.
    Traffic {
        /// Node index.
        node: usize,
        /// When it was read, milliseconds on the poller's monotonic clock.
        at_ms: u64,
        /// The rows, or why they could not be read.
        data: Result<crate::client::traffic::TrafficData, String>,
    },
    /// Progress of the failover drill.
    Drill(DrillEvent),
    /// The failover drill ended: its report, or why it stopped.
    DrillDone(Result<Box<DrillReport>, String>),
    /// A job finished.
    JobDone {
        /// Which.
        job: JobId,
        /// How it went.
        outcome: JobOutcome,
    },
    /// Leave (a signal or the input closing).
    Quit,
    /// The selected node's MEMORY/RUNTIME/DISK layers were read (node view only).
    Layers {
        /// Node index.
        node: usize,
        /// The layers, or why they could not be read.
        layers: Result<crate::client::layers::NodeLayers, String>,
    },
}

/// One statement's result on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    /// The statement.
    pub sql: String,
    /// What the node answered.
    pub result: Result<Outcome, String>,
}

/// One node's part of an SQL job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeResult {
    /// Node name.
    pub node: String,
    /// Statements run, in order; the first failure ends the list.
    pub steps: Vec<StepResult>,
    /// Why nothing ran (the connection failed).
    pub error: Option<String>,
}

impl NodeResult {
    /// True when every statement succeeded.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.steps.iter().all(|s| s.result.is_ok())
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Per-node results of admin SQL.
    Sql(Vec<NodeResult>),
    /// The fault injector's answer.
    Fault(Result<String, String>),
}

impl JobOutcome {
    /// True when everything succeeded.
    pub fn ok(&self) -> bool {
        match self {
            JobOutcome::Sql(nodes) => nodes.iter().all(NodeResult::ok),
            JobOutcome::Fault(r) => r.is_ok(),
        }
    }
}

/// Work the update asks for; the loop runs it off the render path and reports back with
/// [`Action::JobDone`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Run statements, in order, on each node (nodes in parallel).
    Execute {
        /// Job id.
        job: JobId,
        /// Node indices.
        nodes: Vec<usize>,
        /// Statements.
        statements: Vec<String>,
    },
    /// Inject a fault.
    Inject {
        /// Job id.
        job: JobId,
        /// Node index.
        node: usize,
        /// The fault.
        fault: Fault,
    },
    /// Start a failover drill; progress comes back as [`Action::Drill`], the end as
    /// [`Action::DrillDone`].
    Drill(DrillRequest),
    /// Poll every node now instead of waiting for the interval.
    PollNow,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_cycle() {
        assert_eq!(View::Matrix.next(), View::Diagnosis);
        assert_eq!(View::Events.next(), View::Traffic);
        assert_eq!(View::Digests.next(), View::Stats);
        assert_eq!(View::Stats.next(), View::Matrix);
        assert_eq!(View::Matrix.prev(), View::Stats);
        assert_eq!(View::from_name("HA"), Some(View::Ha));
        assert_eq!(View::from_name("nope"), None);
    }
}
