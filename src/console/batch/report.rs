//! What `--batch` commands print: one [`Report`] per command (per interval for `watch`) in four
//! formats. The JSON shape is versioned ([`SCHEMA_VERSION`]) and documented in
//! `docs/batch-json.md`; the table format starts with a one-line summary that monitoring
//! systems show as the check's text; TSV and CSV are plain rows for `cut`, `awk` and
//! spreadsheets.

use serde::Serialize;

use super::matrix::{ChecksumMatrix, ModuleRow, LEGEND};
use super::Format;
use crate::client::conn::{ClientError, Outcome};
use crate::console::diagnosis::{fixes, Class, Finding, Fix, Severity};
use crate::console::fault::Fault;
use crate::console::shell::render::{self, Phase};
use crate::proxysql::clock::unix_now;

/// Version of the JSON shape; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The monitoring-plugin status of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Exit 0.
    Ok,
    /// Exit 1: diverged but converging, or a deliberate setting to watch.
    Warning,
    /// Exit 2: stuck, conflicting, unreachable, refused, or an action failed.
    Critical,
    /// Exit 3: usage or configuration error.
    Unknown,
}

impl Status {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

impl From<Severity> for Status {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Ok => Status::Ok,
            Severity::Warning => Status::Warning,
            Severity::Critical => Status::Critical,
        }
    }
}

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
    matrix: ChecksumMatrix,
}

/// `diagnose`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnoseBody {
    /// Every finding, OK ones included.
    pub findings: Vec<Finding>,
    /// The fixes, merged per node.
    pub fixes: Vec<Fix>,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// `fault`.
    Fault(FaultBody),
    /// A usage or configuration error (status `UNKNOWN`).
    Error {
        /// What was wrong.
        error: String,
    },
}

/// Everything one run (or one `watch` interval) reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
            Format::Json => json_pretty(self),
            Format::Table => format!("{}\n{}", self.summary, self.text()),
            Format::Tsv => self.tables().iter().map(|t| t.tsv(true)).collect(),
            Format::Csv => self.tables().iter().map(|t| t.csv(true)).collect(),
        }
    }

    /// One compact JSON line (`watch`).
    pub fn json_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_else(|e| json_error(&e));
        s.push('\n');
        s
    }

    /// The table-format text after the summary line.
    pub fn text(&self) -> String {
        match &self.body {
            Body::Status(b) => status_text(b),
            Body::Checksums(b) => {
                let mut s = b.matrix.table();
                if b.matrix.any_differs() {
                    s.push_str(LEGEND);
                    s.push('\n');
                }
                for u in &b.unreachable {
                    s.push_str(&format!("{}: {}\n", u.node, u.error.line()));
                }
                s
            }
            Body::Diagnose(b) => findings_text(&b.findings),
            Body::Exec(b) => exec_text(b),
            Body::Fix(b) => fix_text(b),
            Body::Fault(b) => format!("{}\n", b.message),
            Body::Error { .. } => String::new(),
        }
    }

    /// The rows of the TSV and CSV formats.
    pub fn tables(&self) -> Vec<Rows> {
        match &self.body {
            Body::Status(b) => vec![status_rows(b)],
            Body::Checksums(b) => {
                let mut t = Rows::new(&[
                    "module", "node", "version", "epoch", "checksum", "differs", "in_sync",
                ]);
                for m in &b.modules {
                    for c in &m.nodes {
                        t.push(vec![
                            Some(m.name.clone()),
                            Some(c.node.clone()),
                            c.version.map(|v| v.to_string()),
                            c.epoch.map(|v| v.to_string()),
                            Some(c.checksum.clone()),
                            Some(c.differs.to_string()),
                            Some(m.in_sync.to_string()),
                        ]);
                    }
                }
                vec![t]
            }
            Body::Diagnose(b) => {
                let mut t = Rows::new(&[
                    "severity",
                    "finding",
                    "module",
                    "node_to_act_on",
                    "why",
                    "fix",
                ]);
                for f in &b.findings {
                    t.push(vec![
                        Some(Status::from(f.severity).word().to_owned()),
                        Some(class_name(&f.class).to_owned()),
                        f.module.map(|m| m.name().to_owned()),
                        f.node_to_act_on.clone(),
                        Some(f.why.clone()),
                        f.fix.as_ref().map(|x| x.sql.join("; ")),
                    ]);
                }
                vec![t]
            }
            Body::Exec(b) => exec_rows(b),
            Body::Fix(b) => {
                let mut t = Rows::new(&["node", "sql", "result", "error"]);
                for a in &b.actions {
                    t.push(vec![
                        Some(a.node.clone()),
                        Some(a.sql.clone()),
                        Some(action_word(a.result).to_owned()),
                        a.error.as_ref().map(ErrorInfo::line),
                    ]);
                }
                vec![t]
            }
            Body::Fault(b) => {
                let mut t = Rows::new(&["node", "fault", "ok", "message"]);
                t.push(vec![
                    Some(b.node.clone()),
                    Some(b.fault.name().to_owned()),
                    Some(b.ok.to_string()),
                    Some(b.message.clone()),
                ]);
                vec![t]
            }
            Body::Error { .. } => Vec::new(),
        }
    }
}

fn json_error(e: &serde_json::Error) -> String {
    format!("{{\"schema_version\":{SCHEMA_VERSION},\"status\":\"UNKNOWN\",\"exit_code\":3,\"summary\":\"UNKNOWN: cannot encode the report: {e}\"}}")
}

fn json_pretty(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_else(|e| json_error(&e));
    s.push('\n');
    s
}

/// A header and rows, for TSV and CSV.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    /// Column names.
    pub header: Vec<String>,
    /// Rows; `None` is NULL (`NULL` in TSV, empty in CSV).
    pub rows: Vec<Vec<Option<String>>>,
}

impl Rows {
    /// Empty rows under `header`.
    pub fn new(header: &[&str]) -> Rows {
        Rows {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Vec<Option<String>>) {
        self.rows.push(row);
    }

    /// Tab-separated, escaped like the mysql client's batch mode.
    pub fn tsv(&self, header: bool) -> String {
        let rs = crate::proxysql::resultset::ResultSet {
            columns: self.header.clone(),
            rows: self.rows.clone(),
        };
        render::tsv(&rs, header)
    }

    /// RFC 4180 CSV: fields with a comma, quote or line break are quoted, quotes doubled;
    /// NULL is an empty field. Lines end with CRLF as the RFC says.
    pub fn csv(&self, header: bool) -> String {
        let mut out = String::new();
        let mut line = |fields: Vec<Option<&str>>| {
            let cells: Vec<String> = fields.into_iter().map(csv_field).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        };
        if header {
            line(self.header.iter().map(|h| Some(h.as_str())).collect());
        }
        for row in &self.rows {
            line(row.iter().map(|v| v.as_deref()).collect());
        }
        out
    }
}

fn csv_field(value: Option<&str>) -> String {
    match value {
        None => String::new(),
        Some(v) if v.contains([',', '"', '\n', '\r']) => {
            format!("\"{}\"", v.replace('"', "\"\""))
        }
        Some(v) => v.to_owned(),
    }
}

/// A finding's class name as in JSON (`stuck_version_one`...).
pub fn class_name(c: &Class) -> &'static str {
    match c {
        Class::InSync => "in_sync",
        Class::Converging { .. } => "converging",
        Class::SyncFailing { .. } => "sync_failing",
        Class::StuckVersionOne { .. } => "stuck_version_one",
        Class::EqualEpochConflict { .. } => "equal_epoch_conflict",
        Class::SyncDisabled { .. } => "sync_disabled",
        Class::RuntimeNotSynced { .. } => "runtime_not_synced",
        Class::Diverged { .. } => "diverged",
        Class::PeerUnreachable { .. } => "peer_unreachable",
        Class::CredentialsRefused { .. } => "credentials_refused",
        Class::VersionMismatch { .. } => "version_mismatch",
    }
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

/// Findings as the table format and the shell's `\diag` show them: a table of the findings
/// worse than OK (or a line saying all is well), then the fixes per node.
pub fn findings_text(findings: &[Finding]) -> String {
    let mut out = String::new();
    let mut problems: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity != Severity::Ok)
        .collect();
    problems.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let ok: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Ok)
        .map(|f| {
            f.module
                .map_or_else(|| class_name(&f.class).to_owned(), |m| m.name().to_owned())
        })
        .collect();
    if problems.is_empty() {
        out.push_str("No problems found.\n");
    } else {
        let mut t = render::new_table();
        t.set_header(["severity", "finding", "module", "act on", "why"]);
        for f in &problems {
            t.add_row([
                Status::from(f.severity).word().to_owned(),
                class_name(&f.class).to_owned(),
                f.module.map(|m| m.name().to_owned()).unwrap_or_default(),
                f.node_to_act_on.clone().unwrap_or_default(),
                f.why.clone(),
            ]);
        }
        out.push_str(&format!("{t}\n"));
    }
    if !ok.is_empty() {
        out.push_str(&format!("OK: {}\n", ok.join(", ")));
    }
    let merged = fixes(findings);
    if !merged.is_empty() {
        out.push_str("Fixes:\n");
        for fix in merged {
            out.push_str(&format!("  on {}:\n", fix.node));
            for sql in fix.sql {
                out.push_str(&format!("    {sql};\n"));
            }
        }
    }
    out
}

fn status_rows(b: &StatusBody) -> Rows {
    let mut t = Rows::new(&[
        "node",
        "host",
        "port",
        "reachable",
        "version",
        "elapsed_ms",
        "error",
    ]);
    for n in &b.nodes {
        t.push(vec![
            Some(n.name.clone()),
            Some(n.host.clone()),
            Some(n.port.to_string()),
            Some(n.reachable.to_string()),
            n.version.clone(),
            Some(n.elapsed_ms.to_string()),
            n.error.as_ref().map(ErrorInfo::line),
        ]);
    }
    t
}

fn status_text(b: &StatusBody) -> String {
    let mut t = render::new_table();
    t.set_header(["node", "endpoint", "state", "version", "ms"]);
    for n in &b.nodes {
        let state = match &n.error {
            None => "up".to_owned(),
            Some(e) => format!("DOWN: {}", e.line()),
        };
        t.add_row([
            n.name.clone(),
            format!("{}:{}", n.host, n.port),
            state,
            n.version.clone().unwrap_or_default(),
            n.elapsed_ms.to_string(),
        ]);
    }
    let mut out = format!("{t}\n");
    for f in &b.problems {
        out.push_str(&format!(
            "{} {}: {}\n",
            Status::from(f.severity).word(),
            finding_label(f),
            f.why
        ));
    }
    out
}

fn exec_text(b: &ExecBody) -> String {
    let mut out = String::new();
    for r in &b.results {
        out.push_str(&format!("{} ({}:{}):\n", r.node, r.host, r.port));
        match &r.error {
            Some(e) => out.push_str(&format!("{}\n", e.line())),
            None if r.columns.is_empty() => {
                out.push_str(&render::ok_line(
                    r.affected_rows,
                    0,
                    &r.info,
                    std::time::Duration::from_millis(r.elapsed_ms),
                ));
                out.push('\n');
            }
            None => {
                let rs = crate::proxysql::resultset::ResultSet {
                    columns: r.columns.clone(),
                    rows: r.rows.clone(),
                };
                if !rs.rows.is_empty() {
                    out.push_str(&render::boxed(&rs));
                }
                out.push_str(&render::rows_line(
                    rs.rows.len(),
                    std::time::Duration::from_millis(r.elapsed_ms),
                ));
                out.push('\n');
            }
        }
    }
    out
}

/// TSV/CSV of `exec`: the node first, then the statement's own columns; a new header line
/// whenever the columns change from one node to the next. Statements without a result set
/// give `node, ok, affected_rows, info, error`.
fn exec_rows(b: &ExecBody) -> Vec<Rows> {
    let mut tables: Vec<Rows> = Vec::new();
    for r in &b.results {
        let (header, rows): (Vec<String>, Vec<Vec<Option<String>>>) =
            if r.error.is_none() && !r.columns.is_empty() {
                let mut h = vec!["node".to_owned()];
                h.extend(r.columns.iter().cloned());
                let rows = r
                    .rows
                    .iter()
                    .map(|row| {
                        let mut v = vec![Some(r.node.clone())];
                        v.extend(row.iter().cloned());
                        v
                    })
                    .collect();
                (h, rows)
            } else {
                let h = ["node", "ok", "affected_rows", "info", "error"]
                    .map(str::to_owned)
                    .to_vec();
                let row = vec![
                    Some(r.node.clone()),
                    Some(r.ok.to_string()),
                    Some(r.affected_rows.to_string()),
                    Some(r.info.clone()),
                    r.error.as_ref().map(ErrorInfo::line),
                ];
                (h, vec![row])
            };
        match tables.last_mut() {
            Some(t) if t.header == header => t.rows.extend(rows),
            _ => tables.push(Rows { header, rows }),
        }
    }
    tables
}

fn fix_text(b: &FixBody) -> String {
    let mut out = String::new();
    if !b.actions.is_empty() {
        let mut t = render::new_table();
        t.set_header(["node", "statement", "result"]);
        for a in &b.actions {
            let result = match &a.error {
                Some(e) => format!("{}: {}", action_word(a.result), e.line()),
                None => action_word(a.result).to_owned(),
            };
            t.add_row([a.node.clone(), a.sql.clone(), result]);
        }
        out.push_str(&format!("{t}\n"));
    }
    for f in &b.problems {
        out.push_str(&format!(
            "{} {}: {}\n",
            Status::from(f.severity).word(),
            finding_label(f),
            f.why
        ));
    }
    out
}

impl ChecksumsBody {
    /// From the matrix of one poll and the nodes that could not be polled.
    pub fn new(matrix: ChecksumMatrix, unreachable: Vec<NodeError>) -> ChecksumsBody {
        ChecksumsBody {
            nodes: matrix.node_names.clone(),
            modules: matrix.modules.clone(),
            unreachable,
            matrix,
        }
    }

    /// The matrix behind the body.
    pub fn matrix(&self) -> &ChecksumMatrix {
        &self.matrix
    }
}

/// Names of the modules that differ between nodes, for summaries.
pub fn differing_modules(m: &ChecksumMatrix) -> Vec<String> {
    m.modules
        .iter()
        .filter(|r| !r.in_sync)
        .map(|r| r.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let mut t = Rows::new(&["a", "b", "c"]);
        t.push(vec![Some("plain".into()), Some("x,y".into()), None]);
        t.push(vec![
            Some("say \"hi\"".into()),
            Some("two\nlines".into()),
            Some(String::new()),
        ]);
        assert_eq!(
            t.csv(true),
            "a,b,c\r\nplain,\"x,y\",\r\n\"say \"\"hi\"\"\",\"two\nlines\",\r\n"
        );
        assert_eq!(
            t.tsv(true),
            "a\tb\tc\nplain\tx,y\tNULL\nsay \"hi\"\ttwo\\nlines\t\n"
        );
    }

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

    #[test]
    fn exec_rows_start_a_header_when_columns_change() {
        let n = |name: &str| crate::client::conn::NodeAddr {
            name: name.into(),
            host: "h".into(),
            port: 1,
            user: "u".into(),
            password: "p".into(),
        };
        let rows = |v: &str| {
            let mut rs = crate::proxysql::resultset::ResultSet::with_columns(["v"]);
            rs.push_row([Some(v)]);
            Outcome {
                result: rs,
                ..Default::default()
            }
        };
        let body = ExecBody {
            module: None,
            sql: "SELECT 1".into(),
            results: vec![
                NodeResult::new(&n("a"), 1, Ok(rows("1"))),
                NodeResult::new(&n("b"), 1, Ok(rows("2"))),
                NodeResult::new(&n("c"), 1, Err(ErrorInfo::action("down"))),
            ],
        };
        let t = exec_rows(&body);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].tsv(true), "node\tv\na\t1\nb\t2\n");
        assert_eq!(
            t[1].tsv(true),
            "node\tok\taffected_rows\tinfo\terror\nc\tfalse\t0\t\tdown\n"
        );
    }
}
