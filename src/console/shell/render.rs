//! Output in the mysql client's shapes: boxed tables, `\G` records, tab-separated batch rows,
//! the `N rows in set (0.00 sec)` / `Query OK` lines and `ERROR code (state): message`.
//!
//! Everything here is pure text so the shell, `-e`, piped scripts and `--batch` print the same
//! bytes for the same answer, and the formats are unit-tested without a server.

use std::time::Duration;

use comfy_table::{ContentArrangement, Table};

use crate::client::conn::{ClientError, Stage};
use crate::console::matrix::Matrix;
use crate::proxysql::resultset::ResultSet;

/// The mysql client's box: `+---+` rules above and below the header and at the bottom, no rule
/// between rows (comfy-table's component order: borders, header rule, lines, intersections,
/// corners).
const MYSQL_BOX: &str = "||--+-++|    ++++++";

/// How SQL NULL is shown, as the mysql client does.
pub const NULL: &str = "NULL";

/// A new table in the mysql client's box style, never wrapped to the terminal width (the client
/// does not wrap either: a pager or a wider terminal is the cure) and never coloured.
pub fn new_table() -> Table {
    let mut t = Table::new();
    t.load_preset(MYSQL_BOX)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty();
    t
}

/// A result set as a boxed table (`mysql` on a terminal, `mysql -t`). Ends with a newline.
pub fn boxed(rs: &ResultSet) -> String {
    let mut t = new_table();
    t.set_header(rs.columns.iter());
    for row in &rs.rows {
        t.add_row(row.iter().map(|v| v.as_deref().unwrap_or(NULL)));
    }
    format!("{t}\n")
}

/// Marks a cell of [`checksum_table`] whose checksum is not the one most nodes hold.
pub const CHECKSUM_MARK: &str = "*";
/// The legend printed under a [`checksum_table`] with marked cells.
pub const CHECKSUM_LEGEND: &str =
    "* = differs from the checksum most nodes hold (all cells of a tie)";

/// The checksum matrix as a boxed table (the shell's merged `\all` and `--batch checksums`): a
/// row per module, a column per node with `checksum vVERSION` (`-` where the node reported
/// nothing), cells that differ from the majority prefixed with [`CHECKSUM_MARK`].
pub fn checksum_table(matrix: &Matrix) -> String {
    let mut t = new_table();
    let mut header = vec!["name".to_owned()];
    header.extend(matrix.nodes.iter().cloned());
    header.push("in sync".to_owned());
    t.set_header(header);
    for m in &matrix.rows {
        let mut row = vec![m.name.clone()];
        for cell in &m.cells {
            row.push(match &cell.reported {
                Some(r) => {
                    let mark = if cell.differs { CHECKSUM_MARK } else { "" };
                    match r.version {
                        Some(v) => format!("{mark}{} v{v}", r.checksum),
                        None => format!("{mark}{}", r.checksum),
                    }
                }
                None => "-".to_owned(),
            });
        }
        row.push(if m.in_sync { "yes" } else { "NO" }.to_owned());
        t.add_row(row);
    }
    format!("{t}\n")
}

/// A result set as `\G` records: a star rule per row, names right-aligned before each value.
pub fn vertical(rs: &ResultSet) -> String {
    vertical_with(rs, true)
}

/// [`vertical`], or with `names` false (`-N`) the values alone, one per line, as the mysql
/// client prints them.
pub fn vertical_with(rs: &ResultSet, names: bool) -> String {
    if !names {
        let mut out = String::new();
        for (i, row) in rs.rows.iter().enumerate() {
            out.push_str(&format!(
                "*************************** {}. row ***************************\n",
                i + 1
            ));
            for value in row {
                out.push_str(value.as_deref().unwrap_or(NULL));
                out.push('\n');
            }
        }
        return out;
    }
    let width = rs
        .columns
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (i, row) in rs.rows.iter().enumerate() {
        out.push_str(&format!(
            "*************************** {}. row ***************************\n",
            i + 1
        ));
        for (name, value) in rs.columns.iter().zip(row) {
            out.push_str(&format!(
                "{name:>width$}: {}\n",
                value.as_deref().unwrap_or(NULL)
            ));
        }
    }
    out
}

/// Escapes a field the way the mysql client's batch mode does, so a tab or newline inside a
/// value can never be mistaken for a separator.
pub fn tsv_field(value: Option<&str>) -> String {
    let Some(v) = value else {
        return NULL.to_owned();
    };
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out
}

/// A result set as tab-separated lines (`mysql < file`, `mysql -e` into a pipe), with the
/// header line unless `header` is false (`-N`).
pub fn tsv(rs: &ResultSet, header: bool) -> String {
    tsv_with(rs, header, false)
}

/// [`tsv`], with `raw` (`-r`) printing values unescaped.
pub fn tsv_with(rs: &ResultSet, header: bool, raw: bool) -> String {
    let field = |v: Option<&str>| match (raw, v) {
        (true, Some(v)) => v.to_owned(),
        _ => tsv_field(v),
    };
    let mut out = String::new();
    if header {
        let names: Vec<String> = rs.columns.iter().map(|c| field(Some(c))).collect();
        out.push_str(&names.join("\t"));
        out.push('\n');
    }
    for row in &rs.rows {
        let fields: Vec<String> = row.iter().map(|v| field(v.as_deref())).collect();
        out.push_str(&fields.join("\t"));
        out.push('\n');
    }
    out
}

/// Elapsed time as the mysql client prints it: `0.00 sec`, `1 min 2.50 sec`, `1 hour 0 min 0.00 sec`.
pub fn seconds(elapsed: Duration) -> String {
    let total = elapsed.as_secs_f64();
    let hours = (total / 3600.0).floor();
    let minutes = ((total - hours * 3600.0) / 60.0).floor();
    let secs = total - hours * 3600.0 - minutes * 60.0;
    let plural = |n: f64, word: &str| {
        if n == 1.0 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    if hours >= 1.0 {
        format!("{} {minutes} min {secs:.2} sec", plural(hours, "hour"))
    } else if minutes >= 1.0 {
        format!("{minutes} min {secs:.2} sec")
    } else {
        format!("{secs:.2} sec")
    }
}

/// `Empty set (0.00 sec)`, `1 row in set (0.00 sec)`, `N rows in set (0.00 sec)`.
pub fn rows_line(rows: usize, elapsed: Duration) -> String {
    match rows {
        0 => format!("Empty set ({})", seconds(elapsed)),
        1 => format!("1 row in set ({})", seconds(elapsed)),
        n => format!("{n} rows in set ({})", seconds(elapsed)),
    }
}

/// `Query OK, N rows affected[, W warnings] (0.00 sec)`, then the server's info text (a ProxySQL
/// admin reports e.g. unknown `SET` variables there) on its own line.
pub fn ok_line(affected: u64, warnings: u16, info: &str, elapsed: Duration) -> String {
    let rows = if affected == 1 { "row" } else { "rows" };
    let warn = match warnings {
        0 => String::new(),
        1 => ", 1 warning".to_owned(),
        n => format!(", {n} warnings"),
    };
    let mut line = format!(
        "Query OK, {affected} {rows} affected{warn} ({})",
        seconds(elapsed)
    );
    if !info.is_empty() {
        line.push('\n');
        line.push_str(info);
    }
    line
}

/// When an error happened, which decides the client error code of a network failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Opening the connection.
    Connect,
    /// Running a statement on an open connection.
    Query,
}

/// The mysql error triple of a failure: the server's own code and SQLSTATE, or the client error
/// the mysql client would report (2003 cannot connect, 2013 lost connection, 2027 malformed
/// packet, 2000 unknown error).
pub fn error_parts(e: &ClientError, phase: Phase, endpoint: &str) -> (u16, String, String) {
    let hy = || "HY000".to_owned();
    match e {
        ClientError::Server {
            code,
            state,
            message,
        } => (*code, state.clone(), message.clone()),
        ClientError::Io { cause } if phase == Phase::Connect => (
            2003,
            hy(),
            format!("Can't connect to server on '{endpoint}' ({cause})"),
        ),
        ClientError::Io { cause } => (
            2013,
            hy(),
            format!("Lost connection to server at '{endpoint}' during query ({cause})"),
        ),
        ClientError::Timeout {
            stage: Stage::Connect,
            after_ms,
        } => (
            2003,
            hy(),
            format!("Can't connect to server on '{endpoint}' (no handshake within {after_ms} ms)"),
        ),
        ClientError::Timeout {
            stage: Stage::Query,
            after_ms,
        } => (
            2013,
            hy(),
            format!("Lost connection to server at '{endpoint}' (no answer within {after_ms} ms)"),
        ),
        ClientError::Protocol { message } => (2027, hy(), format!("Malformed packet: {message}")),
        ClientError::UnexpectedResult { message } => (2000, hy(), message.clone()),
    }
}

/// `ERROR 1045 (28000): message`, or with a location for scripts:
/// `ERROR 1045 (28000) at line 3: message`, `... at line 3 in file: 'x.sql': message`.
pub fn error_line(e: &ClientError, phase: Phase, endpoint: &str, at: Option<&str>) -> String {
    let (code, state, message) = error_parts(e, phase, endpoint);
    match at {
        Some(at) => format!("ERROR {code} ({state}) at {at}: {message}"),
        None => format!("ERROR {code} ({state}): {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ResultSet {
        ResultSet::literal(
            &["hostgroup_id", "hostname", "comment"],
            &[
                &[Some("0"), Some("127.0.0.1"), None],
                &[Some("10"), Some("db\t2\nx"), Some("a\\b")],
            ],
        )
    }

    #[test]
    fn boxed_table_looks_like_the_mysql_client() {
        let expected = "\
+--------------+-----------+---------+
| hostgroup_id | hostname  | comment |
+--------------+-----------+---------+
| 0            | 127.0.0.1 | NULL    |
| 10           | db1       | x       |
+--------------+-----------+---------+
";
        let rs = ResultSet::literal(
            &["hostgroup_id", "hostname", "comment"],
            &[
                &[Some("0"), Some("127.0.0.1"), None],
                &[Some("10"), Some("db1"), Some("x")],
            ],
        );
        assert_eq!(boxed(&rs), expected);
    }

    #[test]
    fn vertical_records_align_names() {
        let out = vertical(&sample());
        assert!(out.starts_with(
            "*************************** 1. row ***************************\nhostgroup_id: 0\n    hostname: 127.0.0.1\n     comment: NULL\n*************************** 2. row"
        ), "{out}");
    }

    #[test]
    fn tsv_escapes_separators_and_shows_null() {
        assert_eq!(
            tsv(&sample(), true),
            "hostgroup_id\thostname\tcomment\n0\t127.0.0.1\tNULL\n10\tdb\\t2\\nx\ta\\\\b\n"
        );
        assert_eq!(tsv(&sample(), false).lines().count(), 2);
    }

    #[test]
    fn summary_lines() {
        let ms = Duration::from_millis;
        assert_eq!(rows_line(0, ms(1)), "Empty set (0.00 sec)");
        assert_eq!(rows_line(1, ms(12)), "1 row in set (0.01 sec)");
        assert_eq!(rows_line(7, ms(1500)), "7 rows in set (1.50 sec)");
        assert_eq!(
            ok_line(1, 0, "", ms(0)),
            "Query OK, 1 row affected (0.00 sec)"
        );
        assert_eq!(
            ok_line(0, 2, "Unknown variable", ms(0)),
            "Query OK, 0 rows affected, 2 warnings (0.00 sec)\nUnknown variable"
        );
        assert_eq!(seconds(Duration::from_secs(62)), "1 min 2.00 sec");
        assert_eq!(seconds(Duration::from_secs(7322)), "2 hours 2 min 2.00 sec");
    }

    #[test]
    fn errors_carry_server_or_client_codes() {
        let server = ClientError::Server {
            code: 1045,
            state: "28000".into(),
            message: "ProxySQL Admin Error: no such table: nosuch".into(),
        };
        assert_eq!(
            error_line(&server, Phase::Query, "127.0.0.1:6032", None),
            "ERROR 1045 (28000): ProxySQL Admin Error: no such table: nosuch"
        );
        assert_eq!(
            error_line(&server, Phase::Query, "127.0.0.1:6032", Some("line 3")),
            "ERROR 1045 (28000) at line 3: ProxySQL Admin Error: no such table: nosuch"
        );
        let refused = ClientError::Io {
            cause: "Connection refused (os error 111)".into(),
        };
        assert_eq!(
            error_line(&refused, Phase::Connect, "127.0.0.1:1", None),
            "ERROR 2003 (HY000): Can't connect to server on '127.0.0.1:1' (Connection refused (os error 111))"
        );
        assert!(error_line(&refused, Phase::Query, "h:1", None).starts_with("ERROR 2013 (HY000)"));
        let slow = ClientError::Timeout {
            stage: Stage::Connect,
            after_ms: 200,
        };
        assert!(error_line(&slow, Phase::Connect, "h:1", None).starts_with("ERROR 2003 (HY000)"));
    }
}
