//! The query processor: runtime `mysql_query_rules` and `mysql_query_rules_fast_routing`
//! applied to one statement, as `Query_Processor::process_mysql_query` does (spec §7.4).
//!
//! Pure and synchronous: [`QueryProcessor::process`] takes what the session knows about the
//! statement and returns what the rules decided; only the per-rule `hits` counters change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use regex::{Regex, RegexBuilder};

use super::digest::parse_digest;
use crate::proxysql::resultset::ResultSet;

/// What the rules see of one statement.
#[derive(Debug, Clone, Copy)]
pub struct QueryInput<'a> {
    /// The client's user name.
    pub username: &'a str,
    /// The session's current schema (empty when none).
    pub schemaname: &'a str,
    /// The client's IP address as text.
    pub client_addr: &'a str,
    /// The proxy address the client connected to.
    pub proxy_addr: &'a str,
    /// The proxy port the client connected to.
    pub proxy_port: u16,
    /// The statement text.
    pub query: &'a str,
    /// Its digest text.
    pub digest_text: &'a str,
    /// Its digest hash.
    pub digest: u64,
    /// The starting flag: the previous statement's `next_query_flagIN`, else 0.
    pub flag_in: i64,
    /// True for `COM_STMT_EXECUTE`, where `replace_pattern` is not applied.
    pub is_execute: bool,
}

/// What the rules decided for one statement; `None` fields were not set by any rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOutcome {
    /// `destination_hostgroup` from a rule or from fast routing.
    pub destination_hostgroup: Option<i32>,
    /// The statement rewritten by `replace_pattern`.
    pub new_query: Option<String>,
    /// `error_msg`: answer with this error instead of executing.
    pub error_msg: Option<String>,
    /// `OK_msg`: answer with OK and this message instead of executing.
    pub ok_msg: Option<String>,
    /// `next_query_flagIN` for the session's next statement.
    pub next_query_flag_in: Option<i64>,
    /// `multiplex` (0 disables multiplexing for the session, 2 keeps it for this query).
    pub multiplex: Option<i64>,
    /// `timeout` in milliseconds.
    pub timeout_ms: Option<u64>,
    /// `sticky_conn`.
    pub sticky_conn: Option<bool>,
    /// `reconnect`.
    pub reconnect: Option<bool>,
    /// `retries`.
    pub retries: Option<u32>,
    /// `delay` in milliseconds.
    pub delay_ms: Option<u64>,
    /// `log`.
    pub log: Option<bool>,
    /// The flag in force when processing ended.
    pub final_flag: i64,
}

/// How a rule's `client_addr` matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientAddr {
    Exact(String),
    Prefix(String),
    Any,
}

/// One compiled runtime rule.
#[derive(Debug)]
pub struct QueryRule {
    /// `rule_id`.
    pub rule_id: i64,
    username: Option<String>,
    schemaname: Option<String>,
    flag_in: i64,
    client_addr: Option<ClientAddr>,
    proxy_addr: Option<String>,
    proxy_port: Option<u16>,
    digest: Option<u64>,
    match_digest: Option<Result<Regex, String>>,
    match_pattern: Option<Result<Regex, String>>,
    negate: bool,
    global_replace: bool,
    flag_out: Option<i64>,
    replace_pattern: Option<String>,
    destination_hostgroup: Option<i32>,
    next_query_flag_in: Option<i64>,
    error_msg: Option<String>,
    ok_msg: Option<String>,
    multiplex: Option<i64>,
    timeout_ms: Option<u64>,
    sticky_conn: Option<bool>,
    reconnect: Option<bool>,
    retries: Option<u32>,
    delay_ms: Option<u64>,
    log: Option<bool>,
    apply: bool,
    hits: AtomicU64,
}

impl QueryRule {
    /// Times this rule matched since it was loaded.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

/// Runtime rules in `rule_id` order plus the fast routing map.
#[derive(Debug, Default)]
pub struct QueryProcessor {
    rules: Vec<QueryRule>,
    fast_routing: HashMap<(String, String, i64), i32>,
    /// `mysql-query_processor_iterations`.
    iterations: u32,
}

/// Converts RE2/PCRE replacement syntax (`\1`, `\\`) to the regex crate's (`${1}`, `$$`).
fn convert_replacement(re2: &str) -> String {
    let mut out = String::with_capacity(re2.len() + 4);
    let mut chars = re2.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    chars.next();
                    out.push_str(&format!("${{{d}}}"));
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
}

fn compile(pattern: &str, caseless: bool) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(caseless)
        .build()
        .map_err(|e| e.to_string())
}

impl QueryProcessor {
    /// Compiles the runtime snapshots (every column of `mysql_query_rules`, and the fast
    /// routing rows). Returns the processor and one message per rule that cannot match
    /// (invalid regular expression); such rules stay in place but never match.
    pub fn build(
        rules: &ResultSet,
        fast_routing: &ResultSet,
        iterations: u32,
    ) -> (QueryProcessor, Vec<String>) {
        let mut problems = Vec::new();
        let col = |name: &str| rules.column_index(name);
        let text = |row: &[Option<String>], name: &str| -> Option<String> {
            col(name)
                .and_then(|i| row.get(i).cloned().flatten())
                .filter(|s| !s.is_empty())
        };
        let int = |row: &[Option<String>], name: &str| -> Option<i64> {
            text(row, name).and_then(|s| s.trim().parse::<i64>().ok())
        };
        let mut compiled = Vec::with_capacity(rules.rows.len());
        for row in &rules.rows {
            if int(row, "active") == Some(0) {
                continue;
            }
            let Some(rule_id) = int(row, "rule_id") else {
                continue;
            };
            // NULL or empty re_modifiers means none (the DDL default is 'CASELESS').
            let modifiers = col("re_modifiers")
                .and_then(|i| row.get(i).cloned().flatten())
                .unwrap_or_default();
            let modifiers: Vec<String> = modifiers
                .split(',')
                .map(|m| m.trim().to_ascii_uppercase())
                .collect();
            let caseless = modifiers.iter().any(|m| m == "CASELESS");
            let global_replace = modifiers.iter().any(|m| m == "GLOBAL");
            let mut regex = |name: &str| {
                text(row, name).map(|p| {
                    let r = compile(&p, caseless);
                    if let Err(e) = &r {
                        problems.push(format!(
                            "Query rule {rule_id}: invalid {name} '{p}': {e}; the rule will never match"
                        ));
                    }
                    r
                })
            };
            let match_digest = regex("match_digest");
            let match_pattern = regex("match_pattern");
            let client_addr = text(row, "client_addr").map(|a| {
                if a == "%" {
                    ClientAddr::Any
                } else if let Some(prefix) = a.strip_suffix('%') {
                    ClientAddr::Prefix(prefix.to_string())
                } else {
                    ClientAddr::Exact(a)
                }
            });
            let non_negative = |v: Option<i64>| v.filter(|v| *v >= 0);
            compiled.push(QueryRule {
                rule_id,
                username: text(row, "username"),
                schemaname: text(row, "schemaname"),
                flag_in: int(row, "flagIN").unwrap_or(0),
                client_addr,
                proxy_addr: text(row, "proxy_addr"),
                proxy_port: int(row, "proxy_port").and_then(|p| u16::try_from(p).ok()),
                digest: text(row, "digest").and_then(|d| parse_digest(&d)),
                match_digest,
                match_pattern,
                negate: int(row, "negate_match_pattern") == Some(1),
                global_replace,
                flag_out: non_negative(int(row, "flagOUT")),
                replace_pattern: text(row, "replace_pattern").map(|r| convert_replacement(&r)),
                destination_hostgroup: non_negative(int(row, "destination_hostgroup"))
                    .and_then(|h| i32::try_from(h).ok()),
                next_query_flag_in: non_negative(int(row, "next_query_flagIN")),
                error_msg: col("error_msg").and_then(|i| row.get(i).cloned().flatten()),
                ok_msg: col("OK_msg").and_then(|i| row.get(i).cloned().flatten()),
                multiplex: non_negative(int(row, "multiplex")),
                timeout_ms: non_negative(int(row, "timeout")).map(|v| v as u64),
                sticky_conn: non_negative(int(row, "sticky_conn")).map(|v| v != 0),
                reconnect: non_negative(int(row, "reconnect")).map(|v| v != 0),
                retries: non_negative(int(row, "retries")).map(|v| v as u32),
                delay_ms: non_negative(int(row, "delay")).map(|v| v as u64),
                log: non_negative(int(row, "log")).map(|v| v != 0),
                apply: int(row, "apply") == Some(1),
                hits: AtomicU64::new(0),
            });
        }
        compiled.sort_by_key(|r| r.rule_id);

        let mut fast = HashMap::new();
        let fcol = |name: &str| fast_routing.column_index(name);
        if let (Some(u), Some(s), Some(f), Some(d)) = (
            fcol("username"),
            fcol("schemaname"),
            fcol("flagIN"),
            fcol("destination_hostgroup"),
        ) {
            for row in &fast_routing.rows {
                let get = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
                let (Ok(flag), Ok(dest)) = (get(f).parse::<i64>(), get(d).parse::<i32>()) else {
                    continue;
                };
                fast.insert((get(u), get(s), flag), dest);
            }
        }
        (
            QueryProcessor {
                rules: compiled,
                fast_routing: fast,
                iterations,
            },
            problems,
        )
    }

    /// The compiled rules in evaluation order (for `stats_mysql_query_rules`).
    pub fn rules(&self) -> &[QueryRule] {
        &self.rules
    }

    /// True when there is nothing to evaluate (the common no-rules set-up).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.fast_routing.is_empty()
    }

    /// Runs the rules for one statement (§7.4).
    pub fn process(&self, q: &QueryInput<'_>) -> QueryOutcome {
        let mut out = QueryOutcome::default();
        let mut flag = q.flag_in;
        let mut reiterate = self.iterations;
        // ProxySQL consults fast routing unless the last rule *examined* has apply=1: that is
        // the rule that stopped processing, or else the last rule of the list.
        let mut last_examined_apply = false;
        'restart: loop {
            for rule in &self.rules {
                last_examined_apply = rule.apply;
                if rule.flag_in != flag || !self.matches(rule, q, out.new_query.as_deref()) {
                    continue;
                }
                rule.hits.fetch_add(1, Ordering::Relaxed);
                let mut set_flag = false;
                if let Some(f) = rule.flag_out {
                    flag = f;
                    set_flag = true;
                }
                apply_actions(rule, &mut out);
                if !q.is_execute {
                    if let (Some(replacement), Some(Ok(re))) =
                        (&rule.replace_pattern, &rule.match_pattern)
                    {
                        let current = out.new_query.as_deref().unwrap_or(q.query);
                        let replaced = if rule.global_replace {
                            re.replace_all(current, replacement.as_str())
                        } else {
                            re.replace(current, replacement.as_str())
                        };
                        out.new_query = Some(replaced.into_owned());
                    }
                }
                if rule.apply {
                    break 'restart;
                }
                if set_flag && reiterate > 0 {
                    reiterate -= 1;
                    continue 'restart;
                }
            }
            break;
        }
        if !last_examined_apply {
            let key = (q.username.to_string(), q.schemaname.to_string(), flag);
            if let Some(dest) = self.fast_routing.get(&key) {
                out.destination_hostgroup = Some(*dest);
            }
        }
        out.final_flag = flag;
        out
    }

    fn matches(&self, rule: &QueryRule, q: &QueryInput<'_>, rewritten: Option<&str>) -> bool {
        if rule.username.as_deref().is_some_and(|u| u != q.username) {
            return false;
        }
        if rule
            .schemaname
            .as_deref()
            .is_some_and(|s| s != q.schemaname)
        {
            return false;
        }
        match &rule.client_addr {
            Some(ClientAddr::Exact(a)) if a != q.client_addr => return false,
            Some(ClientAddr::Prefix(p)) if !q.client_addr.starts_with(p.as_str()) => return false,
            _ => {}
        }
        if rule
            .proxy_addr
            .as_deref()
            .is_some_and(|a| a != q.proxy_addr)
        {
            return false;
        }
        if rule.proxy_port.is_some_and(|p| p != q.proxy_port) {
            return false;
        }
        if rule.digest.is_some_and(|d| d != q.digest) {
            return false;
        }
        // negate_match_pattern inverts both regex tests.
        let test = |re: &Option<Result<Regex, String>>, text: &str| match re {
            None => true,
            Some(Err(_)) => false,
            Some(Ok(re)) => re.is_match(text) != rule.negate,
        };
        test(&rule.match_digest, q.digest_text)
            && test(&rule.match_pattern, rewritten.unwrap_or(q.query))
    }
}

fn apply_actions(rule: &QueryRule, out: &mut QueryOutcome) {
    fn set<T: Clone>(target: &mut Option<T>, value: &Option<T>) {
        if value.is_some() {
            target.clone_from(value);
        }
    }
    set(&mut out.destination_hostgroup, &rule.destination_hostgroup);
    set(&mut out.next_query_flag_in, &rule.next_query_flag_in);
    set(&mut out.error_msg, &rule.error_msg);
    set(&mut out.ok_msg, &rule.ok_msg);
    set(&mut out.multiplex, &rule.multiplex);
    set(&mut out.timeout_ms, &rule.timeout_ms);
    set(&mut out.sticky_conn, &rule.sticky_conn);
    set(&mut out.reconnect, &rule.reconnect);
    set(&mut out.retries, &rule.retries);
    set(&mut out.delay_ms, &rule.delay_ms);
    set(&mut out.log, &rule.log);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::traffic::digest::{digest_hash, digest_text, DigestOptions};

    const COLS: [&str; 14] = [
        "rule_id",
        "active",
        "username",
        "schemaname",
        "flagIN",
        "client_addr",
        "match_digest",
        "match_pattern",
        "negate_match_pattern",
        "re_modifiers",
        "flagOUT",
        "replace_pattern",
        "destination_hostgroup",
        "apply",
    ];

    /// A rule row from `(column, value)` pairs over defaults (active, apply=0).
    fn rule(id: i64, fields: &[(&str, &str)]) -> Vec<Option<String>> {
        COLS.iter()
            .map(|c| {
                if *c == "rule_id" {
                    return Some(id.to_string());
                }
                if let Some((_, v)) = fields.iter().find(|(k, _)| k == c) {
                    return Some((*v).to_string());
                }
                match *c {
                    "active" => Some("1".into()),
                    "flagIN" | "negate_match_pattern" | "apply" => Some("0".into()),
                    "re_modifiers" => Some("CASELESS".into()),
                    _ => None,
                }
            })
            .collect()
    }

    fn processor(
        rows: Vec<Vec<Option<String>>>,
        fast: &[(&str, &str, i64, i32)],
    ) -> QueryProcessor {
        let mut rules = ResultSet::with_columns(COLS);
        rules.rows = rows;
        let mut fr = ResultSet::with_columns([
            "username",
            "schemaname",
            "flagIN",
            "destination_hostgroup",
            "comment",
        ]);
        for (u, s, f, d) in fast {
            fr.push_row([
                Some(u.to_string()),
                Some(s.to_string()),
                Some(f.to_string()),
                Some(d.to_string()),
                Some(String::new()),
            ]);
        }
        let (qp, problems) = QueryProcessor::build(&rules, &fr, 0);
        assert!(problems.is_empty(), "{problems:?}");
        qp
    }

    fn run(qp: &QueryProcessor, user: &str, schema: &str, query: &str) -> QueryOutcome {
        let text = digest_text(query.as_bytes(), &DigestOptions::default());
        qp.process(&QueryInput {
            username: user,
            schemaname: schema,
            client_addr: "10.0.0.5",
            proxy_addr: "127.0.0.1",
            proxy_port: 6033,
            query,
            digest_text: &text,
            digest: digest_hash(&text),
            flag_in: 0,
            is_execute: false,
        })
    }

    #[test]
    fn read_write_split_with_apply() {
        let qp = processor(
            vec![
                rule(
                    1,
                    &[
                        ("match_digest", "^SELECT.*FOR UPDATE"),
                        ("destination_hostgroup", "10"),
                        ("apply", "1"),
                    ],
                ),
                rule(
                    2,
                    &[
                        ("match_digest", "^SELECT"),
                        ("destination_hostgroup", "20"),
                        ("apply", "1"),
                    ],
                ),
            ],
            &[],
        );
        let dest = |q: &str| run(&qp, "app", "db", q).destination_hostgroup;
        assert_eq!(dest("select c from t where id=1"), Some(20));
        assert_eq!(dest("SELECT c FROM t WHERE id=1 FOR UPDATE"), Some(10));
        assert_eq!(dest("INSERT INTO t VALUES (1)"), None);
        assert_eq!(qp.rules()[1].hits(), 1);
        assert_eq!(qp.rules()[0].hits(), 1);
    }

    #[test]
    fn match_digest_sees_the_normalised_text() {
        let qp = processor(
            vec![rule(
                1,
                &[("match_digest", r"id=\?$"), ("destination_hostgroup", "5")],
            )],
            &[],
        );
        assert_eq!(
            run(&qp, "u", "", "SELECT c FROM t WHERE id = 42").destination_hostgroup,
            None
        );
        assert_eq!(
            run(&qp, "u", "", "SELECT c FROM t WHERE id=42").destination_hostgroup,
            Some(5)
        );
    }

    #[test]
    fn negate_and_case_modifiers() {
        let qp = processor(
            vec![
                rule(
                    1,
                    &[
                        ("match_pattern", "^select"),
                        ("negate_match_pattern", "1"),
                        ("destination_hostgroup", "1"),
                    ],
                ),
                rule(
                    2,
                    &[
                        ("match_pattern", "^select"),
                        ("re_modifiers", ""),
                        ("destination_hostgroup", "2"),
                    ],
                ),
            ],
            &[],
        );
        assert_eq!(
            run(&qp, "u", "", "UPDATE t SET a=1").destination_hostgroup,
            Some(1)
        );
        // Case-sensitive rule 2 skips upper case; rule 1 is negated so it skips any select.
        assert_eq!(run(&qp, "u", "", "SELECT 1").destination_hostgroup, None);
        assert_eq!(run(&qp, "u", "", "select 1").destination_hostgroup, Some(2));
    }

    #[test]
    fn flag_chains_follow_flag_out() {
        let qp = processor(
            vec![
                rule(1, &[("username", "app"), ("flagOUT", "100")]),
                rule(
                    2,
                    &[
                        ("flagIN", "100"),
                        ("match_digest", "^SELECT"),
                        ("destination_hostgroup", "20"),
                        ("apply", "1"),
                    ],
                ),
                rule(3, &[("flagIN", "100"), ("destination_hostgroup", "10")]),
            ],
            &[],
        );
        let out = run(&qp, "app", "", "SELECT 1");
        assert_eq!(out.destination_hostgroup, Some(20));
        let out = run(&qp, "app", "", "DELETE FROM t");
        assert_eq!(out.destination_hostgroup, Some(10));
        assert_eq!(out.final_flag, 100);
        // Another user never enters the chain.
        assert_eq!(
            run(&qp, "other", "", "SELECT 1").destination_hostgroup,
            None
        );
    }

    #[test]
    fn fast_routing_unless_last_examined_rule_applies() {
        let fast = [("app", "db", 0, 30)];
        let qp = processor(
            vec![rule(
                1,
                &[("match_digest", "^SELECT"), ("destination_hostgroup", "20")],
            )],
            &fast,
        );
        assert_eq!(
            run(&qp, "app", "db", "SELECT 1").destination_hostgroup,
            Some(30)
        );
        assert_eq!(
            run(&qp, "app", "other", "SELECT 1").destination_hostgroup,
            Some(20)
        );
        // ProxySQL quirk: a non-matching last rule with apply=1 still disables fast routing.
        let qp = processor(
            vec![rule(1, &[("match_digest", "^NEVER"), ("apply", "1")])],
            &fast,
        );
        assert_eq!(
            run(&qp, "app", "db", "SELECT 1").destination_hostgroup,
            None
        );
        let qp = processor(vec![], &fast);
        assert_eq!(
            run(&qp, "app", "db", "SELECT 1").destination_hostgroup,
            Some(30)
        );
    }

    #[test]
    fn replace_pattern_rewrites_and_later_rules_see_it() {
        let qp = processor(
            vec![
                rule(
                    1,
                    &[
                        ("match_pattern", r"FROM (\w+)_old"),
                        ("replace_pattern", r"FROM \1_new"),
                    ],
                ),
                rule(
                    2,
                    &[("match_pattern", "_new"), ("destination_hostgroup", "7")],
                ),
            ],
            &[],
        );
        let out = run(&qp, "u", "", "SELECT * FROM t_old WHERE a='$1'");
        assert_eq!(
            out.new_query.as_deref(),
            Some("SELECT * FROM t_new WHERE a='$1'")
        );
        assert_eq!(out.destination_hostgroup, Some(7));
    }

    #[test]
    fn iterations_restart_from_the_first_rule() {
        let mut rules = ResultSet::with_columns(COLS);
        rules.rows = vec![
            rule(
                1,
                &[
                    ("flagIN", "5"),
                    ("destination_hostgroup", "50"),
                    ("apply", "1"),
                ],
            ),
            rule(2, &[("flagOUT", "5")]),
        ];
        let empty = ResultSet::with_columns(["username"]);
        let (once, _) = QueryProcessor::build(&rules, &empty, 0);
        let (twice, _) = QueryProcessor::build(&rules, &empty, 1);
        assert_eq!(run(&once, "u", "", "SELECT 1").destination_hostgroup, None);
        assert_eq!(
            run(&twice, "u", "", "SELECT 1").destination_hostgroup,
            Some(50)
        );
    }

    #[test]
    fn client_addr_wildcards_and_bad_regex() {
        let qp = processor(
            vec![rule(
                1,
                &[
                    ("client_addr", "10.0.%"),
                    ("destination_hostgroup", "1"),
                    ("apply", "1"),
                ],
            )],
            &[],
        );
        assert_eq!(run(&qp, "u", "", "SELECT 1").destination_hostgroup, Some(1));
        let mut rules = ResultSet::with_columns(COLS);
        rules.rows = vec![rule(
            1,
            &[("match_digest", "("), ("destination_hostgroup", "1")],
        )];
        let (qp, problems) = QueryProcessor::build(&rules, &ResultSet::default(), 0);
        assert_eq!(problems.len(), 1);
        assert_eq!(run(&qp, "u", "", "SELECT 1").destination_hostgroup, None);
    }

    #[test]
    fn replacement_syntax_conversion() {
        assert_eq!(convert_replacement(r"a\1b\\c$d"), "a${1}b\\c$$d");
    }
}
