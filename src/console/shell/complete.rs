//! TAB completion: shell commands, admin keywords and whole LOAD/SAVE phrases, the connected
//! node's tables and `global_variables` names, node names after `\use`, files after `\source`.
//!
//! The vocabulary is read from the node when the shell connects (and again after `\use`); the
//! completer only reads the shared copy, so a TAB never waits on the network.

use std::collections::BTreeSet;
use std::sync::Arc;

use parking_lot::RwLock;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::proxysql::statement::ConfigModule;

/// Names the node and the cluster offer for completion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocabulary {
    /// `SHOW TABLES` (plus `stats` and `monitor` tables) of the current node.
    pub tables: Vec<String>,
    /// `global_variables.variable_name` of the current node.
    pub variables: Vec<String>,
    /// Node names of the shell's node list.
    pub nodes: Vec<String>,
}

/// The vocabulary shared between the shell (writer) and the line editor (reader).
pub type SharedVocabulary = Arc<RwLock<Vocabulary>>;

/// Shell commands, for completion after a leading backslash.
const META: &[&str] = &[
    "\\all",
    "\\commands",
    "\\diag",
    "\\digest",
    "\\errors",
    "\\hostgroups",
    "\\processlist",
    "\\traffic",
    "\\help",
    "\\nodes",
    "\\q",
    "\\source",
    "\\timing",
    "\\use",
];

/// SQL and ProxySQL admin keywords.
const KEYWORDS: &[&str] = &[
    "ADMIN",
    "ALL",
    "AND",
    "AS",
    "ASC",
    "BY",
    "CHECKSUM",
    "CONFIG",
    "COUNT",
    "CREATE",
    "DATABASES",
    "DELETE",
    "DESC",
    "DISK",
    "DISTINCT",
    "FILE",
    "FIREWALL",
    "FROM",
    "GLOBAL",
    "GROUP",
    "IN",
    "INSERT",
    "INTO",
    "IS",
    "JOIN",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LOAD",
    "MEMORY",
    "MYSQL",
    "NOT",
    "NULL",
    "ON",
    "OR",
    "ORDER",
    "PROXYSQL",
    "QUERY",
    "REPLACE",
    "RESTAPI",
    "RULES",
    "RUNTIME",
    "SAVE",
    "SCHEDULER",
    "SELECT",
    "SERVERS",
    "SET",
    "SHOW",
    "STATUS",
    "TABLE",
    "TABLES",
    "TO",
    "UPDATE",
    "USERS",
    "VALUES",
    "VARIABLES",
    "WHERE",
    "WITH",
    "PROXYSQL PAUSE",
    "PROXYSQL RESUME",
    "PROXYSQL KILL",
    "PROXYSQL RESTART",
    "PROXYSQL FLUSH LOGS",
    "PROXYSQL READONLY",
    "PROXYSQL READWRITE",
];

/// The direction words ProxySQL accepts after a module, per verb (the full spellings; the
/// admin also takes `MEM` and `RUN` abbreviations, which completion does not offer).
const DIRECTIONS: &[(&str, &str)] = &[
    ("LOAD", "TO RUNTIME"),
    ("LOAD", "FROM MEMORY"),
    ("LOAD", "FROM DISK"),
    ("LOAD", "TO MEMORY"),
    ("LOAD", "FROM CONFIG"),
    ("SAVE", "TO DISK"),
    ("SAVE", "FROM MEMORY"),
    ("SAVE", "FROM RUNTIME"),
    ("SAVE", "TO MEMORY"),
];

/// Every `LOAD|SAVE <module> <direction>` phrase.
pub fn phrases() -> Vec<String> {
    let mut out = Vec::new();
    for module in ConfigModule::ALL {
        for (verb, direction) in DIRECTIONS {
            out.push(format!("{verb} {} {direction}", module.keyword()));
        }
    }
    out
}

/// Words after which a table name is expected.
const TABLE_CONTEXT: &[&str] = &["FROM", "INTO", "UPDATE", "JOIN", "TABLE", "TABLES"];

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Upper- or lower-cases a keyword candidate to match what the user started typing.
fn like_typed(candidate: &str, typed: &str) -> String {
    if typed.chars().any(|c| c.is_ascii_lowercase()) {
        candidate.to_ascii_lowercase()
    } else {
        candidate.to_owned()
    }
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Completions for `line` with the cursor at byte `pos`: where the replaced text starts and
/// the sorted, de-duplicated candidates.
pub fn candidates(line: &str, pos: usize, vocab: &Vocabulary) -> (usize, Vec<String>) {
    let pos = pos.min(line.len());
    let Some(prefix) = line.get(..pos) else {
        return (pos, Vec::new());
    };
    let word_start = prefix
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_word_char(*c))
        .last()
        .map_or(pos, |(i, _)| i);
    let word = &prefix[word_start..];

    // Shell commands.
    if prefix.starts_with('\\') && !prefix.contains(char::is_whitespace) {
        return (0, filter(META.iter().map(|m| m.to_string()), prefix));
    }
    if let Some(rest) = prefix.strip_prefix("\\use ") {
        let start = pos - rest.len();
        return (
            start,
            filter(vocab.nodes.iter().cloned(), rest.trim_start()),
        );
    }

    // The statement under the cursor starts after the last `;` (or after `\all `).
    let stmt_start = prefix.rfind(';').map_or(0, |i| i + 1);
    let stmt_start = if prefix.starts_with("\\all ") && stmt_start == 0 {
        "\\all ".len()
    } else {
        stmt_start
    };
    let stmt = &prefix[stmt_start..];
    let lead = stmt.len() - stmt.trim_start().len();
    let stmt = stmt.trim_start();
    let norm: String = stmt.split_whitespace().collect::<Vec<_>>().join(" ");
    let trailing_space = stmt.ends_with(char::is_whitespace) && !stmt.is_empty();
    let norm = if trailing_space {
        format!("{norm} ")
    } else {
        norm
    };
    if starts_with_ci(&norm, "LOAD") || starts_with_ci(&norm, "SAVE") {
        let found = filter(phrases().into_iter(), &norm);
        if !found.is_empty() {
            let typed = &stmt[..stmt.len().min(4)];
            let found = found.iter().map(|p| like_typed(p, typed)).collect();
            return (stmt_start + lead, found);
        }
    }

    let in_quote = prefix[stmt_start..].matches('\'').count() % 2 == 1;
    let before_word = prefix[..word_start].trim_end();
    let previous = before_word
        .rsplit(|c: char| c.is_whitespace() || c == ',' || c == '(')
        .next()
        .unwrap_or("");
    let wants_table = TABLE_CONTEXT
        .iter()
        .any(|k| k.eq_ignore_ascii_case(previous));
    if word.is_empty() && !wants_table {
        return (pos, Vec::new());
    }
    let mut pool: Vec<String> = Vec::new();
    if in_quote {
        pool.extend(vocab.variables.iter().cloned());
        pool.extend(vocab.nodes.iter().cloned());
    } else if wants_table {
        pool.extend(vocab.tables.iter().cloned());
    } else {
        pool.extend(vocab.tables.iter().cloned());
        pool.extend(vocab.variables.iter().cloned());
        pool.extend(
            KEYWORDS
                .iter()
                .filter(|k| !k.contains(' '))
                .map(|k| like_typed(k, word)),
        );
    }
    (word_start, filter(pool.into_iter(), word))
}

fn filter(pool: impl Iterator<Item = String>, typed: &str) -> Vec<String> {
    pool.filter(|c| starts_with_ci(c, typed) && c.len() >= typed.len())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The line editor's helper: completion only (no hints, highlighting or validation, since the
/// shell decides itself when a statement is complete).
pub struct ShellHelper {
    vocab: SharedVocabulary,
    files: FilenameCompleter,
}

impl ShellHelper {
    /// A helper reading `vocab`.
    pub fn new(vocab: SharedVocabulary) -> Self {
        ShellHelper {
            vocab,
            files: FilenameCompleter::new(),
        }
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let head = line.get(..pos).unwrap_or(line).trim_start();
        if ["\\source ", "\\. ", "source "]
            .iter()
            .any(|p| starts_with_ci(head, p))
        {
            return self.files.complete(line, pos, ctx);
        }
        let (start, found) = candidates(line, pos, &self.vocab.read());
        Ok((
            start,
            found
                .into_iter()
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxysql::statement::{classify, normalize, AdminCommand};

    fn vocab() -> Vocabulary {
        Vocabulary {
            tables: vec![
                "mysql_servers".into(),
                "mysql_query_rules".into(),
                "runtime_checksums_values".into(),
                "runtime_mysql_servers".into(),
            ],
            variables: vec![
                "admin-cluster_username".into(),
                "admin-cluster_password".into(),
                "mysql-monitor_username".into(),
            ],
            nodes: vec!["node1".into(), "node2".into()],
        }
    }

    fn complete(line: &str) -> (usize, Vec<String>) {
        candidates(line, line.len(), &vocab())
    }

    #[test]
    fn every_phrase_is_a_load_or_save_the_admin_understands() {
        let all = phrases();
        assert_eq!(all.len(), ConfigModule::ALL.len() * DIRECTIONS.len());
        for p in &all {
            assert!(
                matches!(classify(&normalize(p), true), AdminCommand::LoadSave(..)),
                "{p} is not a LOAD/SAVE for the admin"
            );
        }
    }

    #[test]
    fn load_save_phrases_complete_whole() {
        let (start, found) = complete("LOAD MYSQL QU");
        assert_eq!(start, 0);
        assert_eq!(found.len(), 5);
        assert!(found.contains(&"LOAD MYSQL QUERY RULES TO RUNTIME".to_owned()));
        // Lower case in, lower case out; the statement after a `;` is what counts.
        let (start, found) = complete("select 1; save mysql users to d");
        assert_eq!(start, 10);
        assert_eq!(found, ["save mysql users to disk"]);
        assert!(complete("LOAD NOTHING").1.is_empty());
    }

    #[test]
    fn table_names_after_from_and_in_general() {
        assert_eq!(
            complete("SELECT * FROM runtime_ch"),
            (14, vec!["runtime_checksums_values".to_owned()])
        );
        let (_, found) = complete("select * from ");
        assert_eq!(
            found.len(),
            4,
            "a table is expected: every table is offered"
        );
        assert!(
            complete("SELECT 1 ").1.is_empty(),
            "nothing typed, nothing offered"
        );
    }

    #[test]
    fn keywords_follow_the_typed_case() {
        assert!(complete("SEL").1.contains(&"SELECT".to_owned()));
        assert!(complete("sel").1.contains(&"select".to_owned()));
    }

    #[test]
    fn variables_inside_quotes_and_nodes_after_use() {
        let line =
            "UPDATE global_variables SET variable_value='x' WHERE variable_name='admin-cluster_u";
        let (start, found) = complete(line);
        assert_eq!(found, ["admin-cluster_username"]);
        assert_eq!(&line[start..], "admin-cluster_u");
        assert_eq!(
            complete("\\use no"),
            (5, vec!["node1".into(), "node2".into()])
        );
        assert_eq!(complete("\\ti"), (0, vec!["\\timing".into()]));
        assert_eq!(
            complete("\\all SELECT * FROM runtime_check").1,
            ["runtime_checksums_values"]
        );
    }
}
