//! The table format: after the summary line, boxed tables in the mysql client's style.

use super::{
    action_word, class_name, finding_label, Body, ChecksumsBody, ExecBody, FixBody, Report,
    ReseedBody, Status, StatusBody,
};
use crate::console::diagnosis::{fixes, Finding, Severity};
use crate::console::shell::render;

impl Report {
    /// The table-format text after the summary line.
    pub fn text(&self) -> String {
        match &self.body {
            Body::Status(b) => status_text(b),
            Body::Checksums(b) => checksums_text(b),
            Body::Diagnose(b) => findings_text(&b.findings),
            Body::Exec(b) => exec_text(b),
            Body::Fix(b) => fix_text(b),
            Body::Reseed(b) => reseed_text(b),
            Body::Fault(b) => format!("{}\n", b.message),
            Body::Traffic(_)
            | Body::Hostgroups(_)
            | Body::Processlist(_)
            | Body::Digest(_)
            | Body::Commands(_)
            | Body::Errors(_) => self.tables().iter().map(rows_text).collect(),
            Body::Error { .. } => String::new(),
        }
    }
}

fn checksums_text(b: &ChecksumsBody) -> String {
    let mut s = render::checksum_table(b.matrix());
    if b.matrix().any_differs() {
        s.push_str(render::CHECKSUM_LEGEND);
        s.push('\n');
    }
    for u in &b.unreachable {
        s.push_str(&format!("{}: {}\n", u.node, u.error.line()));
    }
    s
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

/// The re-seed plan: each statement, why, and its result; then the notes.
fn reseed_text(b: &ReseedBody) -> String {
    let mut out = String::new();
    if !b.actions.is_empty() {
        let mut t = render::new_table();
        t.set_header(["node", "statement", "why", "result"]);
        for (a, step) in b.actions.iter().zip(&b.plan.steps) {
            let result = match &a.error {
                Some(e) => format!("{}: {}", action_word(a.result), e.line()),
                None => action_word(a.result).to_owned(),
            };
            t.add_row([a.node.clone(), a.sql.clone(), step.reason.clone(), result]);
        }
        out.push_str(&format!("{t}\n"));
    }
    for n in &b.plan.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
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

/// A flat table boxed like the mysql client's, or nothing when it has no rows.
fn rows_text(t: &super::Rows) -> String {
    if t.rows.is_empty() {
        return "(no rows)\n".into();
    }
    render::boxed(&crate::proxysql::resultset::ResultSet {
        columns: t.header.clone(),
        rows: t.rows.clone(),
    })
}
