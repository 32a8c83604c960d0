//! Differential conformance against a real ProxySQL 2.7.2 (issue 14).
//!
//! The corpus `tests/fixtures/conformance/corpus.txt` (format in its header) runs statement by
//! statement on a real node and then on `pxadm node`, both started from the same config text
//! on the same ports with a fresh datadir, so even checksums over `admin-mysql_ifaces` must
//! agree. Answers are compared after masking only what legitimately varies (the datadir path
//! and timestamps near now); the test prints identical/total per category, the statements
//! that differ with both answers, and fails below [`FLOOR_PERCENT`].
//!
//! The real binary comes from `PXADM_REAL_PROXYSQL` (set by `.ci/run` when
//! `../shared/proxysql/proxysql` exists); without it the test says it was skipped.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{
    free_port, proxysql_config, real_proxysql_bin, try_admin_conn, unix_now, write_file,
    ConfigExtras, RealNode, TestNode, ADMIN_PASS, ADMIN_USER, HOST,
};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};

/// The identical share (in percent) the suite must not fall below: the rate reached so far,
/// raised whenever a difference is fixed.
const FLOOR_PERCENT: f64 = 98.0;

/// How long one statement may take before it counts as a hang.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(15);

/// How a statement's answer is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Columns, every row and value, OK affected rows, error code and message.
    Full,
    /// Columns and the number of rows (values are counters or uptimes).
    RowCount,
    /// Columns only (the number of rows varies too).
    Columns,
}

/// One corpus entry.
#[derive(Debug, Clone)]
struct Case {
    category: String,
    line: usize,
    sql: String,
    compare: Compare,
}

fn corpus() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance/corpus.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_corpus(&text)
}

fn parse_corpus(text: &str) -> Vec<Case> {
    let mut category = String::from("uncategorized");
    let mut cases = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.trim().is_empty() || line.starts_with("# ") || line == "#" {
            continue;
        }
        if let Some(name) = line.strip_prefix("== ") {
            category = name.trim().to_owned();
            continue;
        }
        let (compare, sql) = if let Some(rest) = line.strip_prefix("~rows ") {
            (Compare::RowCount, rest)
        } else if let Some(rest) = line.strip_prefix("~cols ") {
            (Compare::Columns, rest)
        } else {
            (Compare::Full, line)
        };
        cases.push(Case {
            category: category.clone(),
            line: index + 1,
            sql: sql.to_owned(),
            compare,
        });
    }
    cases
}

/// One node's answers, in corpus order.
type Answers = Vec<String>;

/// Runs every case on the node at `port` over one connection (re-opened if a statement
/// drops it) and renders each answer as text.
async fn run_corpus(port: u16, cases: &[Case], datadir: &Path) -> Answers {
    let mut conn = None;
    let mut answers = Vec::with_capacity(cases.len());
    for case in cases {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match try_admin_conn(port, ADMIN_USER, ADMIN_PASS).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    answers.push(format!("cannot connect: {e}"));
                    continue;
                }
            },
        };
        let answer = match tokio::time::timeout(STATEMENT_TIMEOUT, execute(c, case)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(mysql_async::Error::Server(e))) => {
                format!("error {}: {}", e.code, e.message)
            }
            Ok(Err(e)) => {
                conn = None;
                format!(
                    "connection lost: {}",
                    e.to_string().lines().next().unwrap_or("")
                )
            }
            Err(_) => {
                conn = None;
                format!("no answer within {STATEMENT_TIMEOUT:?}")
            }
        };
        answers.push(mask(&answer, datadir));
    }
    answers
}

async fn execute(conn: &mut Conn, case: &Case) -> mysql_async::Result<String> {
    let mut result = conn.query_iter(case.sql.as_str()).await?;
    // Types too: clients read `SELECT @@global.read_only` as an integer only when the
    // column says so.
    let columns: Vec<String> = result
        .columns_ref()
        .iter()
        .map(|c| format!("{} {:?}", c.name_str(), c.column_type()))
        .collect();
    let affected = result.affected_rows();
    let rows: Vec<Row> = result.collect().await?;
    result.drop_result().await?;
    if columns.is_empty() {
        return Ok(format!("ok, {affected} rows affected"));
    }
    let mut text = format!("columns: {}", columns.join(" | "));
    match case.compare {
        Compare::Columns => {}
        Compare::RowCount => {
            let _ = write!(text, "\n{} rows", rows.len());
        }
        Compare::Full => {
            for row in rows {
                let fields: Vec<String> = row
                    .unwrap()
                    .into_iter()
                    .map(|v| match v {
                        Value::NULL => "NULL".to_owned(),
                        Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                        other => format!("{other:?}"),
                    })
                    .collect();
                let _ = write!(text, "\nrow: {}", fields.join(" | "));
            }
        }
    }
    Ok(text)
}

/// Masks what legitimately differs between two nodes started a few seconds apart: the
/// datadir, each node's random UUID, and unix times (seconds or milliseconds) within a day
/// of now.
fn mask(answer: &str, datadir: &Path) -> String {
    let answer = mask_uuids(&answer.replace(&datadir.display().to_string(), "<datadir>"));
    let now = unix_now();
    let mut out = String::with_capacity(answer.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        let near_now = |n: u64| n.abs_diff(now) < 86_400;
        let masked = match digits.parse::<u64>() {
            Ok(n) if digits.len() == 10 && near_now(n) => Some("<time>"),
            Ok(n) if digits.len() == 13 && near_now(n / 1000) => Some("<time_ms>"),
            Ok(n) if digits.len() == 16 && near_now(n / 1_000_000) => Some("<time_us>"),
            _ => None,
        };
        out.push_str(masked.unwrap_or(digits));
        digits.clear();
    };
    for ch in answer.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
        } else {
            flush(&mut digits, &mut out);
            out.push(ch);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// Replaces every `8-4-4-4-12` hex UUID with `<uuid>`.
fn mask_uuids(text: &str) -> String {
    let is_uuid = |b: &[u8]| {
        b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            })
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if i + 36 <= bytes.len() && is_uuid(&bytes[i..i + 36]) {
            out.push_str("<uuid>");
            i += 36;
        } else {
            // Advance one whole character (the text is UTF-8).
            let ch = text[i..].chars().next().unwrap_or('?');
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    out
}

/// Identical/total per category, in first-seen order.
fn tally(cases: &[Case], real: &Answers, pxadm: &Answers) -> Vec<(String, usize, usize)> {
    let mut order: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for ((case, r), p) in cases.iter().zip(real).zip(pxadm) {
        if !counts.contains_key(&case.category) {
            order.push(case.category.clone());
        }
        let entry = counts.entry(case.category.clone()).or_default();
        entry.1 += 1;
        if r == p {
            entry.0 += 1;
        }
    }
    order
        .into_iter()
        .map(|name| {
            let (same, total) = counts[&name];
            (name, same, total)
        })
        .collect()
}

fn report(cases: &[Case], real: &Answers, pxadm: &Answers) -> (String, f64) {
    let rows = tally(cases, real, pxadm);
    let same: usize = rows.iter().map(|r| r.1).sum();
    let total: usize = rows.iter().map(|r| r.2).sum();
    let rate = 100.0 * same as f64 / total.max(1) as f64;
    let mut text = String::from("| category | identical | total | rate |\n|---|---:|---:|---:|\n");
    for (name, same, total) in &rows {
        let _ = writeln!(
            text,
            "| {name} | {same} | {total} | {:.1} % |",
            100.0 * *same as f64 / (*total).max(1) as f64
        );
    }
    let _ = writeln!(text, "| **all** | {same} | {total} | {rate:.1} % |");
    text.push_str("\nDifferences (real ProxySQL 2.7.2 first, then pxadm node):\n");
    for ((case, r), p) in cases.iter().zip(real).zip(pxadm) {
        if r != p {
            let _ = writeln!(
                text,
                "\n[{}] line {}: {}\n  real : {}\n  pxadm: {}",
                case.category,
                case.line,
                case.sql,
                r.replace('\n', "\n         "),
                p.replace('\n', "\n         ")
            );
        }
    }
    (text, rate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_answers_match_a_real_proxysql() {
    let Some(bin) = real_proxysql_bin("admin_answers_match_a_real_proxysql") else {
        return;
    };
    let cases = corpus();
    assert!(
        cases.len() > 1000,
        "the corpus shrank to {} statements",
        cases.len()
    );
    let admin_port = free_port();
    let mysql_port = free_port();

    let mut real = RealNode::start(&bin, admin_port, mysql_port, ConfigExtras::default()).await;
    let real_answers = run_corpus(admin_port, &cases, real.datadir()).await;
    real.stop();
    wait_port_free(admin_port).await;
    wait_port_free(mysql_port).await;

    let scratch = tempfile::tempdir().unwrap();
    let datadir = scratch.path().join("data");
    std::fs::create_dir_all(&datadir).unwrap();
    let cnf = write_file(
        scratch.path(),
        "node.cnf",
        &proxysql_config(&datadir, admin_port, mysql_port, ConfigExtras::default()),
    );
    let node = TestNode::builder()
        .admin_port(admin_port)
        .datadir(&datadir)
        .config(&cnf)
        .initial(true)
        .start()
        .await;
    let pxadm_answers = run_corpus(node.admin_port(), &cases, node.datadir()).await;
    drop(node);

    let (text, rate) = report(&cases, &real_answers, &pxadm_answers);
    println!("{text}");
    if let Some(path) = std::env::var_os("PXADM_CONFORMANCE_REPORT") {
        std::fs::write(&path, &text).unwrap();
    }
    assert!(
        rate >= FLOOR_PERCENT,
        "{rate:.1} % of the answers are identical, below the floor of {FLOOR_PERCENT} %:\n{text}"
    );
}

/// Waits until nothing listens on `port` any more (a killed process's sockets close with it).
async fn wait_port_free(port: u16) {
    let free = common::wait_until(Duration::from_secs(10), || async {
        std::net::TcpListener::bind((HOST, port)).is_ok()
    })
    .await;
    assert!(free, "port {port} still in use after the real node stopped");
}

#[test]
fn corpus_parses_categories_and_compare_modes() {
    let cases = parse_corpus("# c\n== one\nSELECT 1\n~rows SELECT 2\n\n== two\n~cols SELECT 3\n");
    let summary: Vec<(&str, &str, Compare)> = cases
        .iter()
        .map(|c| (c.category.as_str(), c.sql.as_str(), c.compare))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("one", "SELECT 1", Compare::Full),
            ("one", "SELECT 2", Compare::RowCount),
            ("two", "SELECT 3", Compare::Columns),
        ]
    );
}

#[test]
fn masking_hides_times_near_now_and_the_datadir_only() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let answer = format!(
        "row: /tmp/x/data/proxysql.db | {} | {} | 1234567890123 | 42",
        now.as_secs(),
        now.as_millis()
    );
    assert_eq!(
        mask(&answer, Path::new("/tmp/x/data")),
        "row: <datadir>/proxysql.db | <time> | <time_ms> | 1234567890123 | 42"
    );
    assert_eq!(
        mask(
            "row: uuid | 6c6791d2-9759-4e99-b634-ad0c24b0812c | é",
            Path::new("/x")
        ),
        "row: uuid | <uuid> | é"
    );
}
