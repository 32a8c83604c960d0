//! What `--batch` commands print: one [`Report`] per command (per interval for `watch`) in four
//! formats, one file each: [`table`] (a one-line summary that monitoring systems show as the
//! check's text, then boxed tables), [`json`] (versioned, [`SCHEMA_VERSION`], documented in
//! `docs/batch-json.md`), [`tsv`] and [`csv`] (plain [`rows`] for `cut`, `awk` and
//! spreadsheets). [`nagios`] holds the monitoring-plugin status and exit codes they all carry.

pub mod csv;
pub mod json;
pub mod nagios;
pub mod rows;
pub mod table;
pub mod traffic;
pub mod tsv;

use serde::Serialize;

pub use nagios::Status;
pub use rows::Rows;
pub use table::findings_text;

use super::Format;
use crate::client::conn::{ClientError, Outcome};
use crate::console::diagnosis::check::Counts;
use crate::console::diagnosis::{Class, Finding, Fix};
use crate::console::fault::Fault;
use crate::console::matrix::{Matrix, MatrixRow};
use crate::console::shell::render::{self, Phase};
use crate::proxysql::clock::unix_now;

/// Version of the JSON shape; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// A failure in the mysql client's terms, the same for every kind of error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorInfo {
    /// `server`, `io`, `timeout`, `protocol`, `unexpected_result`, or `action` (a fault
    /// command or similar that is not a MySQL error).
    pub kind: &'static str,
    /// MySQL error code: the server's, or the client's (2003, 2013, 2027, 2000); 0 for `action`.
    pub code: u16,
    /// SQLSTATE (`HY000` for client errors).
    pub state: String,
    /// Message.
    pub message: String,
}

impl ErrorInfo {
    /// From a client error seen while connecting or querying `endpoint`.
    pub fn from_client(e: &ClientError, phase: Phase, endpoint: &str) -> ErrorInfo {
        let (code, state, message) = render::error_parts(e, phase, endpoint);
        let kind = match e {
            ClientError::Server { .. } => "server",
            ClientError::Io { .. } => "io",
            ClientError::Timeout { .. } => "timeout",
            ClientError::Protocol { .. } => "protocol",
            ClientError::UnexpectedResult { .. } => "unexpected_result",
        };
        ErrorInfo {
            kind,
            code,
            state,
            message,
        }
    }

    /// A failure that is not a MySQL error.
    pub fn action(message: impl Into<String>) -> ErrorInfo {
        ErrorInfo {
            kind: "action",
            code: 0,
            state: String::new(),
            message: message.into(),
        }
    }

    /// `ERROR code (state): message` (or the bare message for `action`).
    pub fn line(&self) -> String {
        if self.kind == "action" {
            self.message.clone()
        } else {
            format!("ERROR {} ({}): {}", self.code, self.state, self.message)
        }
    }
}

/// One node as `status` and `watch` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// Node name.
    pub name: String,
    /// Admin host.
    pub host: String,
    /// Admin port.
    pub port: u16,
    /// The poll succeeded.
    pub reachable: bool,
    /// `SELECT @@version`, when reachable.
    pub version: Option<String>,
    /// How long the poll took.
    pub elapsed_ms: u64,
    /// Why the poll failed.
    pub error: Option<ErrorInfo>,
}

/// `status` (and each line of `watch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusBody {
    /// `watch` only: 1 for the first poll.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u64>,
    /// Every node.
    pub nodes: Vec<NodeStatus>,
    /// Modules on which every reachable node agrees.
    pub modules_in_sync: usize,
    /// Modules reported.
    pub modules: usize,
    /// Findings worse than OK.
    pub problems: Vec<Finding>,
}

/// A node that could not be polled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeError {
    /// Node name.
    pub node: String,
    /// Why.
    pub error: ErrorInfo,
}

/// `checksums`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChecksumsBody {
    /// Node names, in column order.
    pub nodes: Vec<String>,
    /// One entry per module.
    pub modules: Vec<ModuleRow>,
    /// Nodes that could not be polled.
    pub unreachable: Vec<NodeError>,
    #[serde(skip)]
    matrix: Matrix,
}

/// `diagnose`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnoseBody {
    /// Every finding, OK ones included.
    pub findings: Vec<Finding>,
    /// The fixes, merged per node.
    pub fixes: Vec<Fix>,
    /// The figures of the performance data.
    pub figures: Counts,
    /// Peers found in the node's runtime_proxysql_servers that the console could not poll
    /// (their state comes from the node's own view): `name: error`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_polled: Vec<String>,
}

/// One node's answer to `exec` or `reload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeResult {
    /// Node name.
    pub node: String,
    /// Admin host.
    pub host: String,
    /// Admin port.
    pub port: u16,
    /// The statement succeeded.
    pub ok: bool,
    /// How long connecting and running took.
    pub elapsed_ms: u64,
    /// Column names (empty for statements without a result set).
    pub columns: Vec<String>,
    /// Rows; `null` is SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
    /// Affected rows of a statement without a result set.
    pub affected_rows: u64,
    /// The server's info text.
    pub info: String,
    /// Why it failed.
    pub error: Option<ErrorInfo>,
}

impl NodeResult {
    /// From a statement's outcome on a node.
    pub fn new(
        node: &crate::client::conn::NodeAddr,
        elapsed_ms: u64,
        outcome: Result<Outcome, ErrorInfo>,
    ) -> NodeResult {
        let mut r = NodeResult {
            node: node.name.clone(),
            host: node.host.clone(),
            port: node.port,
            ok: outcome.is_ok(),
            elapsed_ms,
            columns: Vec::new(),
            rows: Vec::new(),
            affected_rows: 0,
            info: String::new(),
            error: None,
        };
        match outcome {
            Ok(o) => {
                r.columns = o.result.columns;
                r.rows = o.result.rows;
                r.affected_rows = o.affected_rows;
                r.info = o.info;
            }
            Err(e) => r.error = Some(e),
        }
        r
    }
}

/// `exec` and `reload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecBody {
    /// `reload` only: the module asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The statement.
    pub sql: String,
    /// One entry per target node.
    pub results: Vec<NodeResult>,
}

/// What happened to one fix statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionResult {
    /// `--dry-run`: would run.
    Planned,
    /// Ran and succeeded.
    Applied,
    /// Ran and failed.
    Failed,
    /// Not run: it needs the operator's input (`<...>` placeholders), or the node is not in
    /// the node list.
    Skipped,
    /// Not run because an earlier statement for the same node failed.
    NotRun,
}

/// One fix statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FixAction {
    /// Node to run it on.
    pub node: String,
    /// The statement.
    pub sql: String,
    /// What happened.
    pub result: ActionResult,
    /// Why it failed or was skipped.
    pub error: Option<ErrorInfo>,
}

/// `fix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FixBody {
    /// `--dry-run` was given.
    pub dry_run: bool,
    /// Every statement of every fix, in order.
    pub actions: Vec<FixAction>,
    /// The findings worse than OK that the fixes address (or that nothing can fix).
    pub problems: Vec<Finding>,
}

/// `reseed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReseedBody {
    /// `--dry-run` was given.
    pub dry_run: bool,
    /// The plan: node, steps (statement and reason), notes.
    pub plan: crate::console::diagnosis::reseed::ReseedPlan,
    /// Every statement with its result, as in `fix`.
    pub actions: Vec<FixAction>,
}

/// `fault`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultBody {
    /// Node name.
    pub node: String,
    /// The fault.
    pub fault: Fault,
    /// It was injected.
    pub ok: bool,
    /// What was done, or why it failed.
    pub message: String,
}

/// The command-specific part of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Body {
    /// `status`, `watch`.
    Status(StatusBody),
    /// `checksums`.
    Checksums(ChecksumsBody),
    /// `diagnose`.
    Diagnose(DiagnoseBody),
    /// `exec`, `reload`.
    Exec(ExecBody),
    /// `fix`.
    Fix(FixBody),
    /// `reseed`.
    Reseed(ReseedBody),
    /// `fault`.
    Fault(FaultBody),
    /// `traffic`.
    Traffic(traffic::TrafficBody),
    /// `hostgroups`.
    Hostgroups(traffic::HostgroupsBody),
    /// `processlist`.
    Processlist(traffic::ProcesslistBody),
    /// `digest`.
    Digest(traffic::DigestBody),
    /// `commands`.
    Commands(traffic::CommandsBody),
    /// `errors`.
    Errors(traffic::ErrorsBody),
    /// A usage or configuration error (status `UNKNOWN`).
    Error {
        /// What was wrong.
        error: String,
    },
}

/// Everything one run (or one `watch` interval) reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The subcommand.
    pub command: &'static str,
    /// Unix seconds when the report was made.
    pub generated_at: u64,
    /// Monitoring-plugin status.
    pub status: Status,
    /// The process exit code for `status`.
    pub exit_code: u8,
    /// One line for humans and monitoring systems; also the first line of table output.
    pub summary: String,
    /// The command's data.
    #[serde(flatten)]
    pub body: Body,
    /// Monitoring-plugin performance data, printed after `|` on the table format's first
    /// line (JSON carries the same figures in its body).
    #[serde(skip)]
    pub perfdata: Option<String>,
}

/// One node's state of one module, as `checksums` publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The node.
    pub node: String,
    /// Module version, when the source had the column.
    pub version: Option<u64>,
    /// Module epoch, when the source had the column.
    pub epoch: Option<u64>,
    /// Module checksum.
    pub checksum: String,
    /// True when this checksum is not the single most common one for the module.
    pub differs: bool,
}

/// One module across the nodes, as `checksums` publishes it: only the nodes that reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleRow {
    /// Module name (`runtime_checksums_values.name`).
    pub name: String,
    /// Every node that reported the module holds the same checksum.
    pub in_sync: bool,
    /// One entry per node that reported the module, in node order.
    pub nodes: Vec<Cell>,
}

impl From<&MatrixRow> for ModuleRow {
    fn from(row: &MatrixRow) -> Self {
        ModuleRow {
            name: row.name.clone(),
            in_sync: row.in_sync,
            nodes: row
                .reported()
                .map(|(c, r)| Cell {
                    node: c.node.clone(),
                    version: r.version,
                    epoch: r.epoch,
                    checksum: r.checksum.clone(),
                    differs: c.differs,
                })
                .collect(),
        }
    }
}

impl Report {
    /// A report stamped now, its summary prefixed with the status word.
    pub fn new(command: &'static str, status: Status, summary: &str, body: Body) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            command,
            generated_at: unix_now(),
            status,
            exit_code: status.exit_code(),
            summary: format!("{}: {summary}", status.word()),
            body,
            perfdata: None,
        }
    }

    /// A usage or configuration error.
    pub fn unknown(command: &'static str, error: &str) -> Report {
        Report::new(
            command,
            Status::Unknown,
            error,
            Body::Error {
                error: error.to_owned(),
            },
        )
    }

    /// The whole output in `format` (JSON pretty-printed), newline-terminated.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => json::pretty(self),
            Format::Table => match &self.perfdata {
                // `|` starts the performance data: the text before it must not hold one.
                Some(perf) => format!(
                    "{} | {perf}\n{}",
                    self.summary.replace('|', "/"),
                    self.text()
                ),
                None => format!("{}\n{}", self.summary, self.text()),
            },
            Format::Tsv => self.tables().iter().map(|t| t.tsv(true)).collect(),
            Format::Csv => self.tables().iter().map(|t| t.csv(true)).collect(),
            // Only `status` renders metrics (commands.rs); anything else is a comment line.
            Format::Prom => format!("# {}\n", self.summary),
        }
    }
}

impl ChecksumsBody {
    /// From the matrix of one poll and the nodes that could not be polled.
    pub fn new(matrix: Matrix, unreachable: Vec<NodeError>) -> ChecksumsBody {
        ChecksumsBody {
            nodes: matrix.nodes.clone(),
            modules: matrix.rows.iter().map(ModuleRow::from).collect(),
            unreachable,
            matrix,
        }
    }

    /// The matrix behind the body.
    pub fn matrix(&self) -> &Matrix {
        &self.matrix
    }
}

/// A finding's stable `kind` as in JSON (`stuck_version_one`, `memory_not_loaded`...).
pub fn class_name(c: &Class) -> &'static str {
    c.kind()
}

fn action_word(a: ActionResult) -> &'static str {
    match a {
        ActionResult::Planned => "planned",
        ActionResult::Applied => "applied",
        ActionResult::Failed => "failed",
        ActionResult::Skipped => "skipped",
        ActionResult::NotRun => "not_run",
    }
}

/// `class on module` / `class (node)` for summaries.
pub fn finding_label(f: &Finding) -> String {
    match (f.module, &f.node_to_act_on) {
        (Some(m), _) => format!("{} on {m}", class_name(&f.class)),
        (None, Some(n)) => format!("{} ({n})", class_name(&f.class)),
        (None, None) => class_name(&f.class).to_owned(),
    }
}

/// Up to four labels of the worst findings, for a summary line.
pub fn problems_clause(problems: &[Finding]) -> String {
    let worst = problems.iter().map(|f| f.severity).max();
    let mut labels: Vec<String> = Vec::new();
    for label in problems
        .iter()
        .filter(|f| Some(f.severity) == worst)
        .map(finding_label)
    {
        // Several pullers of one module make one label.
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    match labels.len() {
        0 => String::new(),
        n if n <= 4 => format!("; {}", labels.join(", ")),
        n => format!("; {}, and {} more", labels[..4].join(", "), n - 4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::diagnosis::Severity;

    #[test]
    fn status_words_and_exit_codes() {
        assert_eq!(Status::from(Severity::Warning).exit_code(), 1);
        assert_eq!(Status::Unknown.exit_code(), 3);
        let r = Report::unknown("status", "no cluster 'x'");
        assert_eq!(r.summary, "UNKNOWN: no cluster 'x'");
        assert_eq!(r.render(Format::Table), "UNKNOWN: no cluster 'x'\n");
        let v: serde_json::Value = serde_json::from_str(&r.render(Format::Json)).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["exit_code"], 3);
        assert_eq!(v["error"], "no cluster 'x'");
        assert!(r.json_line().ends_with("}\n") && !r.json_line().trim_end().contains('\n'));
    }
}
