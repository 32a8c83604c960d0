//! What a statement means for the session, decided from its text without a full parser:
//! the command type (`stats_mysql_commands_counters`), tracked `SET`s whose effect must follow
//! the client to every backend connection it lands on, `USE`, and the constructs that tie a
//! session to one backend connection (ProxySQL's "multiplexing disabled").

use std::collections::BTreeMap;

/// Command types of `stats_mysql_commands_counters`, in ProxySQL's order
/// (`MYSQL_COM_QUERY_command` in `include/proxysql_structs.h`).
pub const COMMAND_NAMES: [&str; 53] = [
    "ALTER_TABLE",
    "ALTER_VIEW",
    "ANALYZE_TABLE",
    "BEGIN",
    "CALL",
    "CHANGE_MASTER",
    "COMMIT",
    "CREATE_DATABASE",
    "CREATE_INDEX",
    "CREATE_TABLE",
    "CREATE_TEMPORARY",
    "CREATE_TRIGGER",
    "CREATE_USER",
    "CREATE_VIEW",
    "DEALLOCATE",
    "DELETE",
    "DESCRIBE",
    "DROP_DATABASE",
    "DROP_INDEX",
    "DROP_TABLE",
    "DROP_TRIGGER",
    "DROP_USER",
    "DROP_VIEW",
    "GRANT",
    "EXECUTE",
    "EXPLAIN",
    "FLUSH",
    "INSERT",
    "KILL",
    "LOAD",
    "LOCK_TABLE",
    "OPTIMIZE",
    "PREPARE",
    "PURGE",
    "RELEASE_SAVEPOINT",
    "RENAME_TABLE",
    "RESET_MASTER",
    "RESET_SLAVE",
    "REPLACE",
    "REVOKE",
    "ROLLBACK",
    "ROLLBACK_SAVEPOINT",
    "SAVEPOINT",
    "SELECT",
    "SELECT_FOR_UPDATE",
    "SET",
    "SHOW_TABLE_STATUS",
    "START_TRANSACTION",
    "TRUNCATE_TABLE",
    "UNLOCK_TABLES",
    "UPDATE",
    "USE",
    "SHOW",
];

/// Index of `SELECT` in [`COMMAND_NAMES`].
pub const CMD_SELECT: usize = 43;
/// Index of `SET` in [`COMMAND_NAMES`].
pub const CMD_SET: usize = 45;
/// Index of `KILL` in [`COMMAND_NAMES`].
pub const CMD_KILL: usize = 28;
/// Index of `USE` in [`COMMAND_NAMES`].
pub const CMD_USE: usize = 51;

/// Index of `UNKNOWN`, the last counter (one past [`COMMAND_NAMES`]).
pub const COMMAND_UNKNOWN: usize = COMMAND_NAMES.len();

fn command_index(name: &str) -> usize {
    COMMAND_NAMES
        .iter()
        .position(|n| *n == name)
        .unwrap_or(COMMAND_UNKNOWN)
}

/// Splits a statement into upper-cased words, skipping comments and leading parentheses,
/// up to `max` words.
fn leading_words(query: &[u8], max: usize) -> Vec<String> {
    let mut words = Vec::with_capacity(max);
    let mut i = 0;
    while i < query.len() && words.len() < max {
        let c = query[i];
        if c == b'/' && query.get(i + 1) == Some(&b'*') {
            i = query[i + 2..]
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(query.len(), |p| i + 2 + p + 2);
        } else if c == b'#' || (c == b'-' && query.get(i + 1) == Some(&b'-')) {
            while i < query.len() && query[i] != b'\n' {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < query.len() && (query[i].is_ascii_alphanumeric() || query[i] == b'_') {
                i += 1;
            }
            words.push(String::from_utf8_lossy(&query[start..i]).to_ascii_uppercase());
        } else if c.is_ascii_whitespace() || c == b'(' {
            i += 1;
        } else {
            break;
        }
    }
    words
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// The `stats_mysql_commands_counters` index of a statement ([`COMMAND_UNKNOWN`] if none).
pub fn command_type(query: &[u8]) -> usize {
    let w = leading_words(query, 3);
    let first = w.first().map(String::as_str).unwrap_or("");
    let second = w.get(1).map(String::as_str).unwrap_or("");
    let third = w.get(2).map(String::as_str).unwrap_or("");
    let name = match (first, second) {
        ("SELECT", _) if contains_ci(query, b"for update") => "SELECT_FOR_UPDATE",
        ("SELECT", _) => "SELECT",
        ("INSERT", _) => "INSERT",
        ("UPDATE", _) => "UPDATE",
        ("DELETE", _) => "DELETE",
        ("REPLACE", _) => "REPLACE",
        ("SET", _) => "SET",
        ("BEGIN", _) => "BEGIN",
        ("COMMIT", _) => "COMMIT",
        ("ROLLBACK", "TO") => "ROLLBACK_SAVEPOINT",
        ("ROLLBACK", _) => "ROLLBACK",
        ("START", "TRANSACTION") => "START_TRANSACTION",
        ("SAVEPOINT", _) => "SAVEPOINT",
        ("RELEASE", _) => "RELEASE_SAVEPOINT",
        ("USE", _) => "USE",
        ("SHOW", "TABLE") if third == "STATUS" => "SHOW_TABLE_STATUS",
        ("SHOW", _) => "SHOW",
        ("ALTER", "VIEW") => "ALTER_VIEW",
        ("ALTER", _) if w.contains(&"TABLE".to_string()) => "ALTER_TABLE",
        ("ANALYZE", _) => "ANALYZE_TABLE",
        ("CALL", _) => "CALL",
        ("CHANGE", "MASTER") => "CHANGE_MASTER",
        ("CREATE", "DATABASE" | "SCHEMA") => "CREATE_DATABASE",
        ("CREATE", "INDEX" | "UNIQUE" | "FULLTEXT" | "SPATIAL") => "CREATE_INDEX",
        ("CREATE", "TABLE") => "CREATE_TABLE",
        ("CREATE", "TEMPORARY") => "CREATE_TEMPORARY",
        ("CREATE", "TRIGGER") => "CREATE_TRIGGER",
        ("CREATE", "USER") => "CREATE_USER",
        ("CREATE", "VIEW") => "CREATE_VIEW",
        ("DEALLOCATE", _) => "DEALLOCATE",
        ("DESCRIBE" | "DESC", _) => "DESCRIBE",
        ("DROP", "DATABASE" | "SCHEMA") => "DROP_DATABASE",
        ("DROP", "INDEX") => "DROP_INDEX",
        ("DROP", "TABLE" | "TEMPORARY") => "DROP_TABLE",
        ("DROP", "TRIGGER") => "DROP_TRIGGER",
        ("DROP", "USER") => "DROP_USER",
        ("DROP", "VIEW") => "DROP_VIEW",
        ("GRANT", _) => "GRANT",
        ("EXECUTE", _) => "EXECUTE",
        ("EXPLAIN", _) => "EXPLAIN",
        ("FLUSH", _) => "FLUSH",
        ("KILL", _) => "KILL",
        ("LOAD", _) => "LOAD",
        ("LOCK", _) => "LOCK_TABLE",
        ("OPTIMIZE", _) => "OPTIMIZE",
        ("PREPARE", _) => "PREPARE",
        ("PURGE", _) => "PURGE",
        ("RENAME", _) => "RENAME_TABLE",
        ("RESET", "MASTER") => "RESET_MASTER",
        ("RESET", "SLAVE" | "REPLICA") => "RESET_SLAVE",
        ("REVOKE", _) => "REVOKE",
        ("TRUNCATE", _) => "TRUNCATE_TABLE",
        ("UNLOCK", _) => "UNLOCK_TABLES",
        _ => "",
    };
    command_index(name)
}

/// Session state that has to be replayed on a backend connection before a statement runs
/// there. Backend connections keep the same structure for what they currently have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionVars {
    /// Default schema (`USE`, `COM_INIT_DB`, the handshake); `None` = none or unknown.
    pub schema: Option<String>,
    /// Autocommit mode.
    pub autocommit: bool,
    /// The statement that sets the connection character set (`SET NAMES ...`); `None` when
    /// unknown (a backend connection after `COM_RESET_CONNECTION`).
    pub names: Option<String>,
    /// Other tracked session settings: key (variable name) → statement that sets it.
    pub vars: BTreeMap<String, String>,
    /// `COM_SET_OPTION` multi-statements mode.
    pub multi_statements: bool,
}

impl SessionVars {
    /// The state right after a handshake with `collation` and `schema`.
    pub fn initial(collation: u16, schema: Option<String>, multi_statements: bool) -> Self {
        Self {
            schema,
            autocommit: true,
            names: Some(names_for_collation(collation)),
            vars: BTreeMap::new(),
            multi_statements,
        }
    }
}

/// `SET NAMES <charset> COLLATE <collation>` for a collation id (utf8mb4 for unknown ids).
pub fn names_for_collation(collation: u16) -> String {
    use mysql_common::collations::{Collation, CollationId};
    let resolved = Collation::resolve(CollationId::from(collation));
    if resolved.id == CollationId::UNKNOWN_COLLATION_ID || resolved.charset.is_empty() {
        return "SET NAMES utf8mb4".to_string();
    }
    format!(
        "SET NAMES {} COLLATE {}",
        resolved.charset, resolved.collation
    )
}

/// One assignment of a `SET` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetItem {
    /// A session variable, replayable: key and the statement that sets it.
    Session {
        /// Lower-case variable name (the tracking key).
        key: String,
        /// `SET SESSION name = value`.
        statement: String,
    },
    /// `SET NAMES` / `SET CHARACTER SET`: the statement itself.
    Names(String),
    /// `autocommit`.
    Autocommit(bool),
    /// A user variable (`@x`): lives only on the connection that ran it.
    UserVariable,
    /// `GLOBAL`/`PERSIST` assignments: server-wide, nothing to track.
    Global,
    /// `SET TRANSACTION ...` without `SESSION`: affects only the next transaction there.
    NextTransaction,
    /// Something this parser does not understand (or a value that depends on the
    /// connection): the session must stay on its connection.
    Opaque,
}

/// Splits `s` at top-level commas (outside quotes, backticks and parentheses).
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' && q != '`' {
                    chars.next();
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
    }
    parts.push(&s[start..]);
    parts
}

fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = &s[prefix.len()..];
    // A keyword must end at a word boundary.
    if prefix.ends_with(|c: char| c.is_ascii_alphabetic())
        && rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    Some(rest)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().trim_matches('\'').to_ascii_uppercase().as_str() {
        "1" | "ON" | "TRUE" => Some(true),
        "0" | "OFF" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Parses a `SET` statement; `None` when the statement is not a `SET`.
pub fn parse_set(query: &str) -> Option<Vec<SetItem>> {
    let q = query.trim().trim_end_matches(';').trim();
    let body = strip_ci(q, "SET")?;
    let body = body.trim_start();
    if body.is_empty() {
        return Some(vec![SetItem::Opaque]);
    }
    if strip_ci(body, "TRANSACTION").is_some() {
        return Some(vec![SetItem::NextTransaction]);
    }
    if let Some(rest) = strip_ci(body, "SESSION").or_else(|| strip_ci(body, "LOCAL")) {
        if let Some(tx) = strip_ci(rest.trim_start(), "TRANSACTION") {
            return Some(vec![SetItem::Session {
                key: "session transaction".into(),
                statement: format!("SET SESSION TRANSACTION {}", tx.trim()),
            }]);
        }
    }
    Some(
        split_top_level(body)
            .into_iter()
            .map(|part| parse_assignment(part.trim()))
            .collect(),
    )
}

fn parse_assignment(part: &str) -> SetItem {
    if let Some(rest) = strip_ci(part, "NAMES") {
        let rest = rest.trim();
        return if rest.is_empty() || rest.contains('@') {
            SetItem::Opaque
        } else {
            SetItem::Names(format!("SET NAMES {rest}"))
        };
    }
    for prefix in ["CHARACTER SET", "CHARSET"] {
        if let Some(rest) = strip_ci(part, prefix) {
            let rest = rest.trim();
            return if rest.is_empty() {
                SetItem::Opaque
            } else {
                SetItem::Names(format!("SET CHARACTER SET {rest}"))
            };
        }
    }
    if strip_ci(part, "GLOBAL").is_some()
        || strip_ci(part, "PERSIST").is_some()
        || strip_ci(part, "PERSIST_ONLY").is_some()
        || strip_ci(part, "@@GLOBAL.").is_some()
        || strip_ci(part, "@@PERSIST.").is_some()
    {
        return SetItem::Global;
    }
    let name_part = strip_ci(part, "SESSION")
        .or_else(|| strip_ci(part, "LOCAL"))
        .or_else(|| strip_ci(part, "@@SESSION."))
        .or_else(|| strip_ci(part, "@@LOCAL."))
        .or_else(|| part.strip_prefix("@@"))
        .unwrap_or(part)
        .trim_start();
    if name_part.starts_with('@') {
        return SetItem::UserVariable;
    }
    let Some(eq) = name_part.find([':', '=']) else {
        return SetItem::Opaque;
    };
    let name = name_part[..eq].trim().trim_matches('`');
    let value = name_part[eq..]
        .trim_start_matches(':')
        .trim_start_matches('=')
        .trim();
    if name.is_empty()
        || value.is_empty()
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return SetItem::Opaque;
    }
    let key = name.to_ascii_lowercase();
    if key == "autocommit" {
        return parse_bool(value).map_or(SetItem::Opaque, SetItem::Autocommit);
    }
    if value.contains('@') {
        // Relative to the connection's current values: cannot be replayed elsewhere.
        return SetItem::Opaque;
    }
    SetItem::Session {
        statement: format!("SET SESSION {key} = {value}"),
        key,
    }
}

/// The schema of a `USE db` statement.
pub fn parse_use(query: &str) -> Option<String> {
    let q = query.trim().trim_end_matches(';').trim();
    let rest = strip_ci(q, "USE")?.trim();
    let db = rest.trim_matches('`').trim();
    (!db.is_empty() && !db.contains(char::is_whitespace)).then(|| db.to_string())
}

/// Whether a statement ties the session to its backend connection (ProxySQL disables
/// multiplexing for these): user variables, temporary tables, table locks, named locks,
/// `SQL_CALC_FOUND_ROWS`.
pub fn pins_connection(query: &[u8]) -> bool {
    let mut i = 0;
    let mut quote = None;
    while i < query.len() {
        let c = query[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'@' => {
                    if query.get(i + 1) == Some(&b'@') {
                        i += 1;
                    } else {
                        return true;
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    let w = leading_words(query, 2);
    let starts = |a: &str, b: &str| {
        w.first().is_some_and(|x| x == a) && (b.is_empty() || w.get(1).is_some_and(|x| x == b))
    };
    starts("CREATE", "TEMPORARY")
        || starts("LOCK", "")
        || contains_ci(query, b"get_lock(")
        || contains_ci(query, b"sql_calc_found_rows")
}

/// A `KILL [CONNECTION|QUERY] <id>` sent on the traffic port, aimed at a proxy session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillTarget {
    /// The proxy session id (the connection id of the client's handshake).
    pub session_id: u32,
    /// `KILL QUERY`: interrupt the statement only.
    pub query_only: bool,
}

/// Parses ProxySQL's `^KILL\s+(CONNECTION |QUERY |)\s*(\d+)\s*$` (comments stripped).
pub fn parse_kill(query: &[u8]) -> Option<KillTarget> {
    let words = leading_words(query, 2);
    if words.first().map(String::as_str) != Some("KILL") {
        return None;
    }
    let query_only = match words.get(1).map(String::as_str) {
        Some("QUERY") => true,
        Some("CONNECTION") | None => false,
        Some(_) => return None,
    };
    let text = std::str::from_utf8(query).ok()?;
    let last = text
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .last()?;
    let session_id: u32 = last.parse().ok()?;
    let expected = if words.len() == 2 { 3 } else { 2 };
    let count = text
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .filter(|w| !w.starts_with("/*"))
        .count();
    (count == expected && session_id != 0).then_some(KillTarget {
        session_id,
        query_only,
    })
}

/// The column name when a statement only reads the session's last insert id:
/// `SELECT LAST_INSERT_ID() [[AS] alias] [FROM DUAL] [LIMIT 1]` in any letter case. ProxySQL
/// answers these itself when it cannot run them where the last write ran; pxadm always
/// does, so the answer never depends on which connection the statement lands on.
pub fn last_insert_id_column(query: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(query).ok()?;
    let q = text.trim().trim_end_matches(';').trim_end();
    let rest = strip_ci(q, "SELECT")?.trim_start();
    let call = "LAST_INSERT_ID";
    let head = rest.get(..call.len())?;
    if !head.eq_ignore_ascii_case(call) {
        return None;
    }
    let after = rest[call.len()..].trim_start();
    let after = after.strip_prefix('(')?.trim_start().strip_prefix(')')?;
    let expr = &rest[..rest.len() - after.len()];
    let mut words: Vec<&str> = after.split_whitespace().collect();
    // Optional trailing `LIMIT 1` and `FROM DUAL`.
    if words.len() >= 2
        && words[words.len() - 2].eq_ignore_ascii_case("LIMIT")
        && words[words.len() - 1] == "1"
    {
        words.truncate(words.len() - 2);
    }
    if words.len() >= 2
        && words[words.len() - 2].eq_ignore_ascii_case("FROM")
        && words[words.len() - 1].eq_ignore_ascii_case("DUAL")
    {
        words.truncate(words.len() - 2);
    }
    let alias = match words.as_slice() {
        [] => return Some(expr.to_string()),
        [as_kw, alias] if as_kw.eq_ignore_ascii_case("AS") => *alias,
        [alias] => *alias,
        _ => return None,
    };
    let unquoted = alias
        .strip_prefix('`')
        .and_then(|a| a.strip_suffix('`'))
        .or_else(|| alias.strip_prefix('\'').and_then(|a| a.strip_suffix('\'')))
        .or_else(|| alias.strip_prefix('"').and_then(|a| a.strip_suffix('"')))
        .unwrap_or(alias);
    let plain = unquoted
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    let keyword = ["FROM", "LIMIT", "WHERE", "UNION", "INTO"]
        .iter()
        .any(|k| unquoted.eq_ignore_ascii_case(k));
    (plain && !unquoted.is_empty() && !(keyword && unquoted == alias)).then(|| unquoted.to_string())
}

/// Whether a statement reads the last insert id (`LAST_INSERT_ID`, `@@IDENTITY`): it must
/// run where the session's last write ran (ProxySQL issue #1421).
pub fn mentions_last_insert_id(query: &[u8]) -> bool {
    contains_ci(query, b"last_insert_id") || contains_ci(query, b"@@identity")
}

/// The collation id to put in a backend handshake for a client's collation. MySQL 8's own
/// collations (255 and up, `utf8mb4_0900_*`) are unknown to MariaDB, which would silently
/// pick its default character set: such connections start as utf8mb4_general_ci and get
/// the session's `SET NAMES` replayed (see [`names_fallbacks`]).
pub fn backend_handshake_collation(collation: u16) -> u8 {
    match u8::try_from(collation) {
        Ok(c) if c < 255 && c != 0 => c,
        _ => 45,
    }
}

/// The statements to try, in order, when a backend refuses a `SET NAMES` with 1273 (unknown
/// collation): for MySQL 8's `utf8mb4_0900_*` collations, MariaDB's equivalent UCA 14.0
/// no-pad collation (10.10 and later), then UCA 5.2, then utf8mb4's default. Never a
/// utf8mb3 collation: that would break 4-byte characters (emoji).
pub fn names_fallbacks(statement: &str) -> Vec<String> {
    let lower = statement.to_ascii_lowercase();
    let Some(at) = lower.find("collate") else {
        return Vec::new();
    };
    let collation = lower[at + "collate".len()..]
        .trim()
        .trim_matches(|c| c == '\'' || c == '"' || c == '`')
        .to_string();
    if !collation.starts_with("utf8mb4_") || !collation.contains("_0900_") {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(suffix) = collation.strip_prefix("utf8mb4_0900_") {
        if suffix == "bin" {
            out.push("SET NAMES utf8mb4 COLLATE utf8mb4_bin".to_string());
        } else {
            out.push(format!(
                "SET NAMES utf8mb4 COLLATE utf8mb4_uca1400_nopad_{suffix}"
            ));
        }
    }
    out.push("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_ci".to_string());
    out.push("SET NAMES utf8mb4".to_string());
    out
}

/// Whether a statement is `select @@version_comment limit 1`, which the mysql client sends at
/// start-up and ProxySQL answers itself.
pub fn is_version_comment_query(query: &[u8]) -> bool {
    trim_ascii(query).eq_ignore_ascii_case(b"select @@version_comment limit 1")
}

fn trim_ascii(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(q: &str) -> &'static str {
        let i = command_type(q.as_bytes());
        COMMAND_NAMES.get(i).copied().unwrap_or("UNKNOWN")
    }

    #[test]
    fn command_types() {
        assert_eq!(name("select 1"), "SELECT");
        assert_eq!(name("  (SELECT 1)"), "SELECT");
        assert_eq!(
            name("/* x */ SELECT * FROM t FOR UPDATE"),
            "SELECT_FOR_UPDATE"
        );
        assert_eq!(name("insert into tab1(col2) values(1)"), "INSERT");
        assert_eq!(name("START TRANSACTION"), "START_TRANSACTION");
        assert_eq!(name("rollback to sp1"), "ROLLBACK_SAVEPOINT");
        assert_eq!(name("SHOW TABLE STATUS"), "SHOW_TABLE_STATUS");
        assert_eq!(name("show tables"), "SHOW");
        assert_eq!(name("CREATE TEMPORARY TABLE t (a int)"), "CREATE_TEMPORARY");
        assert_eq!(name("ALTER ONLINE TABLE t ADD c INT"), "ALTER_TABLE");
        assert_eq!(name("DO 1"), "UNKNOWN");
        assert_eq!(name(""), "UNKNOWN");
        assert_eq!(COMMAND_UNKNOWN, 53);
        assert_eq!(COMMAND_NAMES[CMD_SELECT], "SELECT");
        assert_eq!(COMMAND_NAMES[CMD_SET], "SET");
        assert_eq!(COMMAND_NAMES[CMD_USE], "USE");
    }

    #[test]
    fn set_statements() {
        assert_eq!(
            parse_set("SET autocommit=0"),
            Some(vec![SetItem::Autocommit(false)])
        );
        assert_eq!(
            parse_set("set session sql_mode = 'ANSI', @@wait_timeout=100, @x := 5"),
            Some(vec![
                SetItem::Session {
                    key: "sql_mode".into(),
                    statement: "SET SESSION sql_mode = 'ANSI'".into()
                },
                SetItem::Session {
                    key: "wait_timeout".into(),
                    statement: "SET SESSION wait_timeout = 100".into()
                },
                SetItem::UserVariable,
            ])
        );
        assert_eq!(
            parse_set("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci"),
            Some(vec![SetItem::Names(
                "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci".into()
            )])
        );
        assert_eq!(
            parse_set("SET GLOBAL read_only=1"),
            Some(vec![SetItem::Global])
        );
        assert_eq!(
            parse_set("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"),
            Some(vec![SetItem::NextTransaction])
        );
        assert_eq!(
            parse_set("SET SESSION TRANSACTION READ ONLY"),
            Some(vec![SetItem::Session {
                key: "session transaction".into(),
                statement: "SET SESSION TRANSACTION READ ONLY".into()
            }])
        );
        assert_eq!(
            parse_set("SET sql_mode = CONCAT(@@sql_mode, ',X')"),
            Some(vec![SetItem::Opaque])
        );
        assert_eq!(
            parse_set("SET time_zone = '+00:00', names_x = 'a,b'").map(|v| v.len()),
            Some(2)
        );
        assert_eq!(parse_set("SELECT 1"), None);
        assert_eq!(parse_set("SETTINGS"), None);
        assert_eq!(parse_set("SET"), Some(vec![SetItem::Opaque]));
    }

    #[test]
    fn use_and_pinning() {
        assert_eq!(parse_use("USE duhokim"), Some("duhokim".into()));
        assert_eq!(parse_use("use `my db`;"), None);
        assert_eq!(parse_use("use `db1` ;"), Some("db1".into()));
        assert_eq!(parse_use("user"), None);
        assert!(pins_connection(b"SELECT @x := 1"));
        assert!(!pins_connection(b"SELECT @@hostname, '@x'"));
        assert!(pins_connection(b"create temporary table t (a int)"));
        assert!(pins_connection(b"SELECT GET_LOCK('a', 1)"));
        assert!(!pins_connection(
            b"INSERT INTO tab1(col2, col3) values(@@hostname, now())"
        ));
    }

    #[test]
    fn locally_answered_queries() {
        assert!(is_version_comment_query(
            b"select @@version_comment limit 1"
        ));
        assert!(!is_version_comment_query(b"select @@version_comment"));
        let col = |q: &str| last_insert_id_column(q.as_bytes());
        assert_eq!(
            col(" select last_insert_id() ; ").as_deref(),
            Some("last_insert_id()")
        );
        assert_eq!(col("SELECT LAST_INSERT_ID() AS id").as_deref(), Some("id"));
        assert_eq!(col("select last_insert_id() `the id` ").as_deref(), None);
        assert_eq!(
            col("select last_insert_id() `id` limit 1").as_deref(),
            Some("id")
        );
        assert_eq!(
            col("SELECT LAST_INSERT_ID() id FROM DUAL").as_deref(),
            Some("id")
        );
        assert_eq!(
            col("SELECT LAST_INSERT_ID() FROM DUAL").as_deref(),
            Some("LAST_INSERT_ID()")
        );
        assert_eq!(col("SELECT LAST_INSERT_ID() + 1"), None);
        assert_eq!(col("SELECT LAST_INSERT_ID(5)"), None);
        assert_eq!(col("SELECT LAST_INSERT_ID() AS id, NOW()"), None);
        assert!(mentions_last_insert_id(
            b"SELECT LAST_INSERT_ID() AS id, NOW()"
        ));
        assert!(mentions_last_insert_id(b"select @@identity"));
        assert!(!mentions_last_insert_id(b"select 1"));
    }

    #[test]
    fn kill_statements() {
        let k = |q: &str| parse_kill(q.as_bytes());
        assert_eq!(
            k("KILL QUERY 12"),
            Some(KillTarget {
                session_id: 12,
                query_only: true
            })
        );
        assert_eq!(
            k("kill connection 7;"),
            Some(KillTarget {
                session_id: 7,
                query_only: false
            })
        );
        assert_eq!(k("KILL 9").map(|t| t.query_only), Some(false));
        assert_eq!(k("KILL QUERY"), None);
        assert_eq!(k("KILL USER x"), None);
        assert_eq!(k("KILL QUERY ID 5"), None);
        assert_eq!(k("SELECT 1"), None);
        assert_eq!(COMMAND_NAMES[CMD_KILL], "KILL");
    }

    #[test]
    fn collation_names() {
        assert_eq!(
            names_for_collation(33),
            "SET NAMES utf8mb3 COLLATE utf8mb3_general_ci"
        );
        assert_eq!(names_for_collation(0), "SET NAMES utf8mb4");
    }

    #[test]
    fn mysql8_collations_map_to_utf8mb4_ones_mariadb_has() {
        assert_eq!(backend_handshake_collation(255), 45);
        assert_eq!(backend_handshake_collation(33), 33);
        assert_eq!(backend_handshake_collation(0), 45);
        let names = names_for_collation(255);
        assert_eq!(names, "SET NAMES utf8mb4 COLLATE utf8mb4_0900_ai_ci");
        assert_eq!(
            names_fallbacks(&names),
            [
                "SET NAMES utf8mb4 COLLATE utf8mb4_uca1400_nopad_ai_ci",
                "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_ci",
                "SET NAMES utf8mb4",
            ]
        );
        assert_eq!(
            names_fallbacks("SET NAMES 'utf8mb4' COLLATE 'utf8mb4_0900_bin'")[0],
            "SET NAMES utf8mb4 COLLATE utf8mb4_bin"
        );
        assert!(names_fallbacks("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci").is_empty());
        assert!(names_fallbacks("SET NAMES latin1").is_empty());
    }
}
