//! The rows behind the TSV and CSV formats: one header and rows per table, the same for both.

use super::{action_word, class_name, Body, ErrorInfo, ExecBody, Report, Status, StatusBody};

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
}

impl Report {
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
            Body::Reseed(b) => {
                let mut t = Rows::new(&["node", "sql", "reason", "result", "error"]);
                for (a, step) in b.actions.iter().zip(&b.plan.steps) {
                    t.push(vec![
                        Some(a.node.clone()),
                        Some(a.sql.clone()),
                        Some(step.reason.clone()),
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
            Body::Traffic(b) => vec![b.rows()],
            Body::Hostgroups(b) => vec![b.rows()],
            Body::Processlist(b) => vec![b.rows()],
            Body::Digest(b) => vec![b.rows()],
            Body::Commands(b) => vec![b.rows()],
            Body::Errors(b) => vec![b.rows()],
            Body::Error { .. } => Vec::new(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::super::NodeResult;
    use super::*;
    use crate::client::conn::Outcome;

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
            let rs = crate::proxysql::resultset::ResultSet::literal(&["v"], &[&[Some(v)]]);
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
