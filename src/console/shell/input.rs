//! Turning typed or piped lines into statements and shell commands.
//!
//! Lines accumulate until the buffer ends with a `;` (or `\G` / `\g`) that is outside quotes and
//! comments, exactly as the mysql client reads a script. Whether the buffer is complete is asked
//! of the admin's own splitter ([`split_statements`]) rather than a second parser: a sentinel
//! statement appended after a newline survives as the last piece only when every `;` before it
//! really ended a statement (an open quote or comment would swallow it).
//!
//! A line that starts a fresh statement with `\` (or is `exit`, `quit`, `source FILE`) is a shell
//! command; commands are never continued over lines.

use std::path::PathBuf;

use crate::proxysql::statement::split_statements;

/// Survives the splitter as its own last piece only after a terminated buffer.
const SENTINEL: &str = "\u{1}pxadm-end-of-buffer\u{1}";

/// A shell command (`\help` lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    /// `\nodes`: the node list with reachability.
    Nodes,
    /// `\use NODE`: switch the current node (name, `host:port` or 1-based index).
    Use(String),
    /// `\all STATEMENT`: run on every node in parallel.
    All {
        /// The statement, without its terminator.
        sql: String,
        /// Ended with `\G`.
        vertical: bool,
    },
    /// `\diag`: the diagnosis of the cluster.
    Diag,
    /// `\traffic`, `\hostgroups`, `\processlist [FILTER]`, `\digest [total|count|avg]`,
    /// `\commands`, `\errors`: one-shot traffic tables of every node.
    Top {
        /// Which table.
        kind: crate::console::batch::traffic::Kind,
        /// The filter (processlist) or sort key (digest), empty for none.
        arg: String,
    },
    /// `\source FILE` (also `\. FILE`, `source FILE`).
    Source(PathBuf),
    /// `\timing`: toggle the per-statement timing line.
    Timing,
    /// `\help` (also `\?`, `help`).
    Help,
    /// `\q`, `exit`, `quit`.
    Quit,
    /// `\P [COMMAND]`, `pager [COMMAND]`: results through a pager (the default one without
    /// a command).
    Pager(Option<String>),
    /// `\n`, `nopager`: results straight to stdout again.
    NoPager,
    /// `\T FILE`, `tee FILE`: append everything shown to FILE too.
    Tee(Option<PathBuf>),
    /// `\t`, `notee`: stop appending.
    NoTee,
    /// `\s`, `status`: the connection's status.
    Status,
    /// `\c`, `clear` (or `\c` ending a line): drop the statement being typed.
    Clear,
    /// `\e`, `edit` (or `\e` ending a line): edit the statement being typed (empty: the last
    /// one) in `$VISUAL`/`$EDITOR`.
    Edit(String),
    /// `\! COMMAND`, `system COMMAND`: run a shell command.
    System(String),
    /// Anything else starting with `\`.
    Unknown(String),
}

/// One thing to do, with the line it started on (for `ERROR ... at line N`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A statement for the current node.
    Statement {
        /// The statement, without its terminator.
        sql: String,
        /// Print `\G`-style records.
        vertical: bool,
        /// Line where its buffer started (1-based).
        line: usize,
    },
    /// A shell command.
    Meta {
        /// The command.
        meta: Meta,
        /// Its line (1-based).
        line: usize,
    },
}

/// Collects lines into [`Item`]s.
#[derive(Debug, Default)]
pub struct Accumulator {
    buf: String,
    start_line: usize,
    line_no: usize,
    last: String,
}

impl Accumulator {
    /// An empty accumulator at line 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when no statement is in progress (the shell shows its main prompt).
    pub fn is_empty(&self) -> bool {
        self.buf.trim().is_empty()
    }

    /// Drops the statement in progress (Ctrl-C at the prompt).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// The statement in progress, as typed so far (for the history).
    pub fn pending(&self) -> &str {
        &self.buf
    }

    /// The last statement sent (what `\e` on an empty line edits).
    pub fn last_statement(&self) -> &str {
        &self.last
    }

    /// Makes `text` the statement in progress, without running it (after `\e`, as in the
    /// mysql client: the terminator is typed afterwards).
    pub fn load(&mut self, text: &str) {
        let text = text.trim_end();
        let text = text.strip_suffix(';').unwrap_or(text).trim_end();
        self.buf = text.to_owned();
        self.start_line = self.line_no;
    }

    /// Feeds one line (without its newline); returns what became complete.
    pub fn feed(&mut self, line: &str) -> Vec<Item> {
        self.line_no += 1;
        if self.is_empty() {
            self.buf.clear();
            let trimmed = line.trim();
            if trimmed.is_empty() {
                return Vec::new();
            }
            if let Some(meta) = parse_meta(trimmed) {
                return vec![Item::Meta {
                    meta,
                    line: self.line_no,
                }];
            }
            self.start_line = self.line_no;
        } else {
            self.buf.push('\n');
        }
        self.buf.push_str(line);
        self.take_complete()
    }

    /// End of input: a last statement without terminator still runs, as in the mysql client.
    pub fn finish(&mut self) -> Vec<Item> {
        if self.is_empty() {
            return Vec::new();
        }
        let buf = std::mem::take(&mut self.buf);
        split_statements(&buf)
            .into_iter()
            .map(|sql| Item::Statement {
                sql,
                vertical: false,
                line: self.start_line,
            })
            .collect()
    }

    fn take_complete(&mut self) -> Vec<Item> {
        let trimmed = self.buf.trim_end();
        // `\c` and `\e` ending a line (outside quotes) act on the statement typed so far.
        for (suffix, edit) in [("\\c", false), ("\\e", true)] {
            if let Some(body) = trimmed.strip_suffix(suffix) {
                if terminated(&format!("{body};")) {
                    let body = body.trim().to_owned();
                    self.buf.clear();
                    let meta = if edit { Meta::Edit(body) } else { Meta::Clear };
                    return vec![Item::Meta {
                        meta,
                        line: self.start_line,
                    }];
                }
            }
        }
        let (body, vertical) = match trimmed
            .strip_suffix("\\G")
            .map(|b| (b, true))
            .or_else(|| trimmed.strip_suffix("\\g").map(|b| (b, false)))
        {
            // `\G` ends the statement only outside quotes: with a `;` in its place the buffer
            // must then be complete.
            Some((body, vertical)) if terminated(&format!("{body};")) => {
                (format!("{body};"), vertical)
            }
            _ if terminated(&self.buf) => (self.buf.clone(), false),
            _ => return Vec::new(),
        };
        self.buf.clear();
        self.last = body.trim_end().trim_end_matches(';').to_owned();
        let statements = split_statements(&body);
        let last = statements.len().saturating_sub(1);
        statements
            .into_iter()
            .enumerate()
            .map(|(i, sql)| Item::Statement {
                sql,
                vertical: vertical && i == last,
                line: self.start_line,
            })
            .collect()
    }
}

/// True when every statement in `buf` is terminated by a `;` outside quotes and comments.
fn terminated(buf: &str) -> bool {
    let pieces = split_statements(&format!("{buf}\n{SENTINEL}"));
    pieces.last().map(String::as_str) == Some(SENTINEL)
}

/// Recognises a shell command on a line that starts a fresh statement.
pub fn parse_meta(line: &str) -> Option<Meta> {
    let bare = line.trim_end_matches(';').trim();
    let lower = bare.to_ascii_lowercase();
    match lower.as_str() {
        "exit" | "quit" => return Some(Meta::Quit),
        "help" => return Some(Meta::Help),
        "nopager" => return Some(Meta::NoPager),
        "notee" => return Some(Meta::NoTee),
        "status" => return Some(Meta::Status),
        "clear" => return Some(Meta::Clear),
        "edit" => return Some(Meta::Edit(String::new())),
        "pager" => return Some(Meta::Pager(None)),
        _ => {}
    }
    // The mysql client's long command names take the rest of the line as their argument (a
    // pager command may well contain `;`, so it is not stripped there).
    let first_word = lower.split_whitespace().next().unwrap_or("");
    let rest_of = |n: usize| line[n..].trim();
    match first_word {
        "pager" => return Some(Meta::Pager(Some(rest_of(5).to_owned()))),
        "tee" => return Some(Meta::Tee(Some(PathBuf::from(bare[3..].trim())))),
        "system" => return Some(Meta::System(rest_of(6).to_owned())),
        _ => {}
    }
    if lower.starts_with("source ") {
        return Some(Meta::Source(PathBuf::from(bare[7..].trim())));
    }
    let rest = line.strip_prefix('\\')?;
    let (word, arg) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let arg_bare = arg.trim_end_matches(';').trim();
    Some(match word {
        "nodes" => Meta::Nodes,
        "use" if !arg_bare.is_empty() => Meta::Use(arg_bare.to_owned()),
        "all" if !arg_bare.is_empty() => {
            let (sql, vertical) = match arg.trim_end().strip_suffix("\\G") {
                Some(s) => (s.trim().trim_end_matches(';').trim(), true),
                None => (arg.trim_end().trim_end_matches(';').trim(), false),
            };
            Meta::All {
                sql: sql.to_owned(),
                vertical,
            }
        }
        "diag" => Meta::Diag,
        "traffic" | "hostgroups" | "processlist" | "digest" | "commands" | "errors" => {
            use crate::console::batch::traffic::Kind;
            let kind = match word {
                "traffic" => Kind::Traffic,
                "hostgroups" => Kind::Hostgroups,
                "processlist" => Kind::Processlist,
                "digest" => Kind::Digest,
                "commands" => Kind::Commands,
                _ => Kind::Errors,
            };
            Meta::Top {
                kind,
                arg: arg_bare.to_owned(),
            }
        }
        "source" | "." if !arg_bare.is_empty() => Meta::Source(PathBuf::from(arg_bare)),
        "timing" => Meta::Timing,
        "help" | "?" | "h" => Meta::Help,
        "q" | "quit" | "exit" => Meta::Quit,
        "P" | "pager" => Meta::Pager(Some(arg).filter(|a| !a.is_empty()).map(str::to_owned)),
        "n" | "nopager" => Meta::NoPager,
        "T" | "tee" => Meta::Tee(Some(arg_bare).filter(|a| !a.is_empty()).map(PathBuf::from)),
        "t" | "notee" => Meta::NoTee,
        "s" | "status" => Meta::Status,
        "c" | "clear" => Meta::Clear,
        "e" | "edit" => Meta::Edit(String::new()),
        "!" | "system" => Meta::System(arg.to_owned()),
        _ if word.starts_with('!') => Meta::System(rest[1..].trim().to_owned()),
        _ => Meta::Unknown(line.to_owned()),
    })
}

/// Lines kept out of the history file, like the mysql client's default `histignore`
/// (`*IDENTIFIED*:*PASSWORD*`) plus ProxySQL's credential variables, which hold passwords
/// as `user:password` pairs.
pub fn is_secret(line: &str) -> bool {
    let upper = line.to_ascii_uppercase();
    ["PASSWORD", "IDENTIFIED", "CREDENTIALS"]
        .iter()
        .any(|w| upper.contains(w))
}

/// The shell's help text.
pub const HELP: &str = "\
Shell commands (at the start of a line):
  \\nodes            list the nodes with reachability (* marks the current one)
  \\use NODE         switch to a node (name, host:port or number from \\nodes)
  \\all STATEMENT    run STATEMENT on every node in parallel, one result per node;
                    runtime_checksums_values results are merged into one table
  \\diag             diagnose the cluster (findings and the statements that fix them)
  \\source FILE      run a .sql file (also: \\. FILE, source FILE)
  \\timing           toggle a timing line per statement
  \\P [COMMAND]      results through a pager, e.g. \\P less -S (also: pager COMMAND)
  \\n                results straight to the terminal again (also: nopager)
  \\T FILE           append everything shown to FILE too (also: tee FILE)
  \\t                stop appending to the file (also: notee)
  \\s                the connection's status (also: status)
  \\c                drop the statement being typed (also at the end of a line)
  \\e                edit the statement being typed, or the last one, in $EDITOR
  \\! COMMAND        run a shell command (also: system COMMAND)
  \\help             this text
  \\q, exit, quit    leave (Ctrl-D too)
Statements end with ; (or \\G for one record per row) and may span lines.
Ctrl-C cancels the running statement, or clears the line being typed.
TAB completes keywords, LOAD/SAVE phrases, tables, variables and node names.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(sql: &str, vertical: bool, line: usize) -> Item {
        Item::Statement {
            sql: sql.into(),
            vertical,
            line,
        }
    }

    #[test]
    fn statements_span_lines_until_a_real_semicolon() {
        let mut a = Accumulator::new();
        assert!(a.feed("SELECT *").is_empty());
        assert!(!a.is_empty());
        assert!(a.feed("FROM mysql_servers").is_empty());
        assert_eq!(
            a.feed("WHERE comment = 'a;b';"),
            [stmt(
                "SELECT *\nFROM mysql_servers\nWHERE comment = 'a;b'",
                false,
                1
            )]
        );
        assert!(a.is_empty());
        // An open quote swallows the semicolon.
        assert!(a.feed("UPDATE t SET v='x;").is_empty());
        assert_eq!(a.feed("y';"), [stmt("UPDATE t SET v='x;\ny'", false, 4)]);
        // A comment after the terminator does not hold the statement back.
        assert_eq!(a.feed("SELECT 1; -- done"), [stmt("SELECT 1", false, 6)]);
        // An open block comment does.
        assert!(a.feed("SELECT 2 /* ;").is_empty());
        assert_eq!(a.feed("*/;"), [stmt("SELECT 2", false, 7)]);
    }

    #[test]
    fn several_statements_on_one_line_and_vertical_output() {
        let mut a = Accumulator::new();
        assert_eq!(
            a.feed("SELECT 1; SELECT 2\\G"),
            [stmt("SELECT 1", false, 1), stmt("SELECT 2", true, 1)]
        );
        assert_eq!(a.feed("SELECT 3 \\g"), [stmt("SELECT 3", false, 2)]);
        // `\G` inside a quote is text.
        assert!(a.feed("SELECT '\\G").is_empty());
        assert_eq!(a.feed("';"), [stmt("SELECT '\\G\n'", false, 3)]);
    }

    #[test]
    fn end_of_input_runs_the_unterminated_rest() {
        let mut a = Accumulator::new();
        assert!(a.feed("LOAD MYSQL SERVERS TO RUNTIME").is_empty());
        assert_eq!(
            a.finish(),
            [stmt("LOAD MYSQL SERVERS TO RUNTIME", false, 1)]
        );
        assert!(a.finish().is_empty());
        // Comments and blank lines alone are nothing.
        assert!(a.feed("-- just a comment").is_empty());
        assert!(a.feed("").is_empty());
        assert!(a.finish().is_empty());
    }

    #[test]
    fn shell_commands_only_start_a_statement() {
        let mut a = Accumulator::new();
        assert_eq!(
            a.feed("\\use node2"),
            [Item::Meta {
                meta: Meta::Use("node2".into()),
                line: 1
            }]
        );
        assert!(a.feed("SELECT").is_empty());
        // Inside a statement a backslash line is statement text.
        assert_eq!(a.feed("\\nodes;").len(), 1);
    }

    #[test]
    fn meta_commands() {
        assert_eq!(parse_meta("\\nodes"), Some(Meta::Nodes));
        assert_eq!(parse_meta("exit"), Some(Meta::Quit));
        assert_eq!(parse_meta("QUIT;"), Some(Meta::Quit));
        assert_eq!(parse_meta("\\q"), Some(Meta::Quit));
        assert_eq!(
            parse_meta("\\all SELECT * FROM runtime_checksums_values;"),
            Some(Meta::All {
                sql: "SELECT * FROM runtime_checksums_values".into(),
                vertical: false
            })
        );
        assert_eq!(
            parse_meta("\\all SELECT 1\\G"),
            Some(Meta::All {
                sql: "SELECT 1".into(),
                vertical: true
            })
        );
        assert_eq!(
            parse_meta("source dir/a b.sql;"),
            Some(Meta::Source("dir/a b.sql".into()))
        );
        assert_eq!(parse_meta("\\. x.sql"), Some(Meta::Source("x.sql".into())));
        assert_eq!(
            parse_meta("\\use"),
            Some(Meta::Unknown("\\use".into())),
            "a command missing its argument is reported, not run"
        );
        assert_eq!(parse_meta("SELECT 1"), None);
        assert_eq!(parse_meta("sources"), None);
    }

    #[test]
    fn the_mysql_clients_interactive_commands() {
        assert_eq!(
            parse_meta("pager less -S"),
            Some(Meta::Pager(Some("less -S".into())))
        );
        assert_eq!(
            parse_meta("\\P grep -v x;"),
            Some(Meta::Pager(Some("grep -v x;".into())))
        );
        assert_eq!(parse_meta("\\P"), Some(Meta::Pager(None)));
        assert_eq!(parse_meta("pager"), Some(Meta::Pager(None)));
        assert_eq!(parse_meta("nopager"), Some(Meta::NoPager));
        assert_eq!(parse_meta("\\n"), Some(Meta::NoPager));
        assert_eq!(parse_meta("\\nodes"), Some(Meta::Nodes));
        assert_eq!(
            parse_meta("tee /tmp/out.log;"),
            Some(Meta::Tee(Some("/tmp/out.log".into())))
        );
        assert_eq!(parse_meta("\\T"), Some(Meta::Tee(None)));
        assert_eq!(parse_meta("\\t"), Some(Meta::NoTee));
        assert_eq!(parse_meta("\\timing"), Some(Meta::Timing));
        assert_eq!(parse_meta("\\s"), Some(Meta::Status));
        assert_eq!(parse_meta("status;"), Some(Meta::Status));
        assert_eq!(parse_meta("\\! ls -l"), Some(Meta::System("ls -l".into())));
        assert_eq!(parse_meta("\\!ls"), Some(Meta::System("ls".into())));
        assert_eq!(
            parse_meta("system echo hi"),
            Some(Meta::System("echo hi".into()))
        );
        assert_eq!(parse_meta("\\e"), Some(Meta::Edit(String::new())));
        assert_eq!(parse_meta("\\c"), Some(Meta::Clear));
    }

    #[test]
    fn clear_and_edit_at_the_end_of_a_line() {
        let mut a = Accumulator::new();
        assert!(a.feed("SELECT *").is_empty());
        assert_eq!(
            a.feed("FROM t \\c"),
            [Item::Meta {
                meta: Meta::Clear,
                line: 1
            }]
        );
        assert!(a.is_empty());
        // Inside a quote it is text.
        assert!(a.feed("SELECT 'x \\c").is_empty());
        assert_eq!(a.feed("';").len(), 1);
        assert_eq!(a.last_statement(), "SELECT 'x \\c\n'");
        assert_eq!(
            a.feed("SELECT 1 \\e"),
            [Item::Meta {
                meta: Meta::Edit("SELECT 1".into()),
                line: 5
            }]
        );
        // The edited text waits for its terminator.
        a.load("SELECT 2;\n");
        assert!(!a.is_empty());
        assert_eq!(
            a.feed(";"),
            [Item::Statement {
                sql: "SELECT 2".into(),
                vertical: false,
                line: 5
            }]
        );
    }

    #[test]
    fn secrets_stay_out_of_history() {
        assert!(is_secret(
            "UPDATE global_variables SET variable_value='admin:admin' WHERE variable_name='admin-admin_credentials';"
        ));
        assert!(is_secret("update global_variables set variable_value='x' where variable_name='admin-cluster_password'"));
        assert!(!is_secret("SELECT * FROM runtime_checksums_values"));
    }
}
