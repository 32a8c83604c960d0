//! `pxadm --batch` against real clusters of `pxadm node` processes brought into each state the
//! exit codes stand for: healthy (0), converging (1), the scenario's stuck version-1 state (2),
//! a node down, frozen or refusing the login (2), and usage or configuration errors (3). Every
//! subcommand runs in every format; the JSON shape is pinned by insta snapshots with times,
//! ports and epochs redacted.
//!
//! The nodes play the scenario's 192.168.0.11 and 192.168.0.12 on loopback ports through
//! `--peer-map`, with `PXADM_LOOPBACK_ONLY=1`, and the config names them by those addresses so
//! the diagnosis can tie each node's view of its peers to the node it polled.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{
    admin_conn, free_port, pxadm_bin, query_rows, wait_until, TestNode, ADMIN_PASS, ADMIN_USER,
    HOST,
};
use mysql_async::prelude::Queryable;
use pxadm::client::conn::NodeAddr;
use pxadm::client::snapshot::fetch_snapshot;
use pxadm::console::diagnosis::{diagnose, overall, Class, Finding, Severity};
use pxadm::proxysql::statement::split_statements;
use serde_json::Value;
use tempfile::TempDir;

const RUN_TIMEOUT: Duration = Duration::from_secs(60);
const STATE_TIMEOUT: Duration = Duration::from_secs(40);
const FORMATS: [&str; 4] = ["table", "json", "tsv", "csv"];
const CLUSTER_SETUP: &str = include_str!("fixtures/scenario/node-cluster-setup.sql");
const NODE2_MONITOR: &str = include_str!("fixtures/scenario/node2-monitor.sql");

/// Names the config gives the nodes: the addresses their peers know them by.
const NAMES: [&str; 3] = ["192.168.0.11:6032", "192.168.0.12:6032", "node3"];

struct Cluster {
    nodes: Vec<TestNode>,
    ports: Vec<u16>,
    dir: TempDir,
}

struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr: {}", self.stdout, self.stderr))
    }
}

async fn run_sql(port: u16, script: &str) {
    let mut c = admin_conn(port, ADMIN_USER, ADMIN_PASS).await;
    for stmt in split_statements(script) {
        c.query_drop(&stmt)
            .await
            .unwrap_or_else(|e| panic!("{stmt} on port {port}: {e}"));
    }
    c.disconnect().await.ok();
}

impl Cluster {
    /// `n` fresh nodes on ports chosen up front, the first two mapped from the scenario's
    /// addresses.
    async fn start(n: usize) -> Cluster {
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut nodes = Vec::new();
        for &port in &ports {
            nodes.push(Self::builder(&ports, port).start().await);
        }
        let dir = tempfile::Builder::new()
            .prefix("pxadm-batch-")
            .tempdir()
            .expect("temporary directory");
        Cluster { nodes, ports, dir }
    }

    fn builder(ports: &[u16], port: u16) -> common::NodeBuilder {
        TestNode::builder()
            .admin_port(port)
            .env("PXADM_LOOPBACK_ONLY", "1")
            .arg("--peer-map")
            .arg(format!("192.168.0.11:6032={HOST}:{}", ports[0]))
            .arg("--peer-map")
            .arg(format!(
                "192.168.0.12:6032={HOST}:{}",
                ports.get(1).copied().unwrap_or_else(free_port)
            ))
    }

    fn addrs(&self) -> Vec<NodeAddr> {
        self.ports
            .iter()
            .zip(NAMES)
            .map(|(&port, name)| NodeAddr {
                name: name.into(),
                host: HOST.into(),
                port,
                user: ADMIN_USER.into(),
                password: ADMIN_PASS.into(),
            })
            .collect()
    }

    /// Writes the config file: cluster `lab` with every node; `extra` adds TOML per node.
    fn config(&self, extra: &[&str]) -> PathBuf {
        let mut text =
            format!("[clusters.lab]\nuser = \"{ADMIN_USER}\"\npassword = \"{ADMIN_PASS}\"\n");
        for (i, port) in self.ports.iter().enumerate() {
            text.push_str(&format!(
                "\n[[clusters.lab.nodes]]\nname = \"{}\"\nhost = \"{HOST}\"\nport = {port}\n{}\n",
                NAMES[i],
                extra.get(i).copied().unwrap_or("")
            ));
        }
        common::write_file(self.dir.path(), "config.toml", &text)
    }

    async fn findings(&self) -> Vec<Finding> {
        let addrs = self.addrs();
        let snaps = futures::future::join_all(
            addrs
                .iter()
                .map(|a| fetch_snapshot(a, Duration::from_secs(3))),
        )
        .await;
        diagnose(&snaps)
    }

    /// Waits until the diagnosis satisfies `pred`; panics with the findings otherwise.
    async fn wait_for(&self, what: &str, pred: impl Fn(&[Finding]) -> bool) {
        let ok = wait_until(STATE_TIMEOUT, || async { pred(&self.findings().await) }).await;
        assert!(
            ok,
            "cluster never became {what}: {:#?}",
            self.findings().await
        );
    }

    /// The scenario's cluster SQL on every node (D = `diffs` for every module).
    async fn cluster_sql(&self, diffs: u32) {
        let setup = CLUSTER_SETUP.replace("variable_value=3 ", &format!("variable_value={diffs} "));
        for &port in &self.ports {
            run_sql(port, &setup).await;
        }
    }

    /// Runs `pxadm ARGS` with a private HOME (no stdin).
    async fn pxadm(&self, args: &[&str]) -> Run {
        self.pxadm_with_input(args, None).await
    }

    /// Runs pxadm with `input` piped to its stdin (the shell reads it as a script).
    async fn pxadm_with_input(&self, args: &[&str], input: Option<&str>) -> Run {
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        let mut cmd = tokio::process::Command::new(pxadm_bin());
        cmd.args(args)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env_remove("MYSQL_PWD")
            // Discovery from a node's proxysql_servers must not dial the scenario's addresses.
            .env("PXADM_LOOPBACK_ONLY", "1")
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("run pxadm");
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            use tokio::io::AsyncWriteExt;
            stdin.write_all(text.as_bytes()).await.expect("write stdin");
        }
        let out = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("pxadm {args:?} ran too long"))
            .expect("run pxadm");
        Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
        }
    }

    /// `pxadm --batch CMD --config C --cluster lab --format F [ARGS]`.
    async fn batch(&self, config: &Path, cmd: &[&str], format: &str) -> Run {
        let config = config.to_string_lossy().into_owned();
        let mut args = vec!["--batch"];
        args.extend_from_slice(cmd);
        args.extend(["--config", &config, "--cluster", "lab", "--format", format]);
        self.pxadm(&args).await
    }
}

fn healthy(f: &[Finding]) -> bool {
    overall(f) == Severity::Ok && f.iter().all(|x| matches!(x.class, Class::InSync))
}

/// Replaces what changes from run to run: times, ports, epochs.
fn redact(mut v: Value) -> Value {
    fn walk(v: &mut Value, port_re: &regex::Regex) {
        match v {
            Value::Object(map) => {
                for (k, x) in map.iter_mut() {
                    let volatile = matches!(
                        k.as_str(),
                        "generated_at"
                            | "elapsed_ms"
                            | "epoch"
                            | "port"
                            | "fetched_at"
                            | "poll_time_ms"
                    );
                    if volatile && !x.is_null() {
                        *x = Value::String(format!("[{k}]"));
                    } else {
                        walk(x, port_re);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, port_re)),
            Value::String(s) => *s = port_re.replace_all(s, "127.0.0.1:[port]").into_owned(),
            _ => {}
        }
    }
    let re = regex::Regex::new(r"127\.0\.0\.1:\d+").expect("regex");
    walk(&mut v, &re);
    v
}

/// A redacted JSON report, pretty-printed, as an insta snapshot.
fn json_snapshot(name: &str, v: Value) {
    let text = serde_json::to_string_pretty(&redact(v)).expect("JSON");
    insta::assert_snapshot!(name, text);
}

fn redact_text(text: &str) -> String {
    let ports = regex::Regex::new(r"127\.0\.0\.1:\d+").expect("regex");
    let ms = regex::Regex::new(r"\| \d+ +\|$").expect("regex");
    ports
        .replace_all(text, "127.0.0.1:[port]")
        .lines()
        .map(|l| ms.replace(l, "| [ms] |").into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One performance-data item as a monitoring system reads it.
#[derive(Debug, Clone, PartialEq)]
struct Perf {
    label: String,
    value: f64,
    uom: String,
    warn: String,
    crit: String,
    min: Option<f64>,
    max: Option<f64>,
}

/// Parses a plugin's output by the Nagios plugin guidelines: the first line is
/// `TEXT[ | PERFDATA]`, TEXT holds no `|`; PERFDATA is space-separated
/// `'label'=value[UOM];[warn];[crit];[min];[max]` where a label with spaces is single-quoted
/// (a quote inside doubled), holds no `=`, the value is a number, UOM is one of
/// s ms us % B KB MB TB c or none, warn/crit are ranges (`[@][~|n][:][n]`) and min/max are
/// numbers in the same unit. Returns the text and the items; panics on anything else.
fn parse_plugin_output(stdout: &str) -> (String, Vec<Perf>) {
    let first = stdout.lines().next().expect("a first line");
    let (text, perf) = match first.split_once('|') {
        Some((t, p)) => (t.trim_end(), p.trim()),
        None => (first, ""),
    };
    assert!(!perf.contains('|'), "one | on the first line: {first:?}");
    let number = regex::Regex::new(r"^-?[0-9]+(\.[0-9]+)?$").unwrap();
    let range =
        regex::Regex::new(r"^@?(~|-?[0-9]+(\.[0-9]+)?)?(:(-?[0-9]+(\.[0-9]+)?)?)?$").unwrap();
    let mut items = Vec::new();
    let mut rest = perf;
    while !rest.is_empty() {
        let (label, after) = if let Some(quoted) = rest.strip_prefix('\'') {
            let mut label = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '\'')) if quoted[i + 1..].starts_with('\'') => {
                        label.push('\'');
                        chars.next();
                    }
                    Some((i, '\'')) => break i + 1,
                    Some((_, c)) => label.push(c),
                    None => panic!("unterminated label in {perf:?}"),
                }
            };
            (label, &quoted[end..])
        } else {
            let end = rest
                .find('=')
                .unwrap_or_else(|| panic!("no '=' in {rest:?}"));
            let label = &rest[..end];
            assert!(
                !label.contains(' ') && !label.contains('\''),
                "label {label:?}"
            );
            (label.to_owned(), &rest[end..])
        };
        assert!(!label.is_empty() && !label.contains('='), "label {label:?}");
        let after = after
            .strip_prefix('=')
            .unwrap_or_else(|| panic!("no '=' after {label}"));
        let (item, next) = after.split_once(' ').unwrap_or((after, ""));
        rest = next.trim_start();
        let fields: Vec<&str> = item.split(';').collect();
        assert!(fields.len() <= 5, "{label}: too many fields in {item:?}");
        let split = fields[0]
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .unwrap_or(fields[0].len());
        let (value, uom) = fields[0].split_at(split);
        assert!(number.is_match(value), "{label}: value {value:?}");
        assert!(
            ["", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c"].contains(&uom),
            "{label}: unit {uom:?}"
        );
        let field = |i: usize| fields.get(i).copied().unwrap_or("");
        for i in [1, 2] {
            assert!(range.is_match(field(i)), "{label}: range {:?}", field(i));
        }
        let bound = |i: usize| -> Option<f64> {
            let f = field(i);
            (!f.is_empty()).then(|| {
                assert!(number.is_match(f), "{label}: min/max {f:?}");
                f.parse().unwrap()
            })
        };
        let (min, max) = (bound(3), bound(4));
        items.push(Perf {
            label,
            value: value.parse().unwrap(),
            uom: uom.to_owned(),
            warn: field(1).to_owned(),
            crit: field(2).to_owned(),
            min,
            max,
        });
    }
    (text.to_owned(), items)
}

fn perf<'a>(items: &'a [Perf], label: &str) -> &'a Perf {
    items
        .iter()
        .find(|p| p.label == label)
        .unwrap_or_else(|| panic!("no {label} in {items:?}"))
}

#[test]
fn plugin_output_parser_follows_the_rules() {
    let (text, items) =
        parse_plugin_output("OK: fine | a=1;;;0;3 'b c'=0.5s;1:;@2:3;0 'it''s'=-2c\nmore text\n");
    assert_eq!(text, "OK: fine");
    assert_eq!(items.len(), 3);
    assert_eq!((items[0].value, items[0].max), (1.0, Some(3.0)));
    assert_eq!(
        (items[1].label.as_str(), items[1].uom.as_str()),
        ("b c", "s")
    );
    assert_eq!(
        (items[1].warn.as_str(), items[1].crit.as_str()),
        ("1:", "@2:3")
    );
    assert_eq!(items[2].label, "it's");
    for bad in [
        "OK | a=x",
        "OK | a=1zz",
        "OK | a=1;;;;;",
        "OK | a=1;x:y",
        "OK | a b=1",
    ] {
        assert!(
            std::panic::catch_unwind(|| parse_plugin_output(bad)).is_err(),
            "{bad:?} should not parse"
        );
    }
}

/// What every format must look like, whatever the command.
fn check_format(run: &Run, format: &str, code: i32, what: &str) {
    assert_eq!(
        run.code,
        Some(code),
        "{what} --format {format}:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    let first = run.stdout.lines().next().unwrap_or("");
    match format {
        "table" => {
            let word = ["OK: ", "WARNING: ", "CRITICAL: ", "UNKNOWN: "][code as usize];
            assert!(first.starts_with(word), "{what}: summary line {first:?}");
        }
        "json" => {
            // The first document (watch prints one per line).
            let v: Value = serde_json::Deserializer::from_str(&run.stdout)
                .into_iter()
                .next()
                .and_then(Result::ok)
                .unwrap_or_else(|| panic!("{what}: no JSON in {:?}", run.stdout));
            assert_eq!(v["schema_version"], 1, "{what}");
            assert_eq!(v["exit_code"], code, "{what}");
        }
        "tsv" => assert!(
            first.contains('\t') && !first.contains(": "),
            "{what}: {first:?}"
        ),
        "csv" => {
            assert!(
                first.contains(',') && run.stdout.contains("\r\n"),
                "{what}: {first:?}"
            )
        }
        _ => unreachable!(),
    }
    assert!(
        !run.stdout.contains('\x1b'),
        "{what}: no colours or escapes on stdout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_cluster_every_command_and_format() {
    let cluster = Cluster::start(3).await;
    cluster.cluster_sql(3).await;
    cluster.wait_for("healthy", healthy).await;
    let pid3 = cluster.nodes[2].pid().expect("node3 pid");
    let config = cluster.config(&[
        "",
        "",
        &format!(
            "fault_commands = {{ freeze = \"kill -STOP {pid3}\", thaw = \"kill -CONT {pid3}\" }}"
        ),
    ]);

    for format in FORMATS {
        for cmd in ["status", "checksums", "diagnose"] {
            let run = cluster.batch(&config, &[cmd], format).await;
            check_format(&run, format, 0, cmd);
            if format == "json" {
                json_snapshot(&format!("healthy_{cmd}"), run.json());
            }
            if format == "table" && cmd != "diagnose" {
                insta::assert_snapshot!(format!("healthy_{cmd}_table"), redact_text(&run.stdout));
            }
            if format == "table" && cmd == "diagnose" {
                let (text, items) = parse_plugin_output(&run.stdout);
                assert!(
                    text.starts_with("OK: 3/3 nodes up, 7/7 modules in sync"),
                    "{text}"
                );
                assert_eq!(perf(&items, "nodes_up").value, 3.0);
                assert_eq!(perf(&items, "nodes_up").max, Some(3.0));
                assert_eq!(perf(&items, "modules_in_sync").value, 7.0);
                assert_eq!(perf(&items, "modules_diverged").value, 0.0);
                assert_eq!(perf(&items, "modules_stuck").value, 0.0);
                assert_eq!(perf(&items, "poll_time").uom, "s");
            }
        }
        let run = cluster
            .batch(
                &config,
                &["watch", "--interval", "0.2", "--count", "2"],
                format,
            )
            .await;
        check_format(&run, format, 0, "watch");
        match format {
            "json" => {
                let lines: Vec<Value> = run
                    .stdout
                    .lines()
                    .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
                    .collect();
                assert_eq!(lines.len(), 2);
                assert_eq!(
                    (lines[0]["iteration"].clone(), lines[1]["iteration"].clone()),
                    (1.into(), 2.into())
                );
                assert_eq!(lines[1]["command"], "watch");
            }
            "table" => assert_eq!(run.stdout.matches("OK: 3/3 nodes reachable").count(), 2),
            _ => {
                assert_eq!(
                    run.stdout.lines().count(),
                    1 + 2 * 3,
                    "one header, 3 nodes × 2 polls"
                );
                assert!(run.stdout.starts_with("iteration"));
            }
        }

        let sql = "SELECT name, version FROM runtime_checksums_values WHERE name = 'mysql_users'";
        let run = cluster
            .batch(&config, &["exec", sql, "--all"], format)
            .await;
        check_format(&run, format, 0, "exec --all");
        if format == "json" {
            let v = run.json();
            assert_eq!(v["results"].as_array().map(Vec::len), Some(3));
            json_snapshot("exec_all", v);
        }
        if format == "tsv" {
            assert!(
                run.stdout
                    .starts_with("node\tname\tversion\n192.168.0.11:6032\tmysql_users\t"),
                "{}",
                run.stdout
            );
        }
        let run = cluster
            .batch(
                &config,
                &["exec", "SELECT 1 AS one", "--node", "node3"],
                format,
            )
            .await;
        check_format(&run, format, 0, "exec --node");

        let run = cluster
            .batch(
                &config,
                &["reload", "mysql_users", "--node", "node3"],
                format,
            )
            .await;
        check_format(&run, format, 0, "reload");
        if format == "json" {
            assert_eq!(run.json()["sql"], "LOAD MYSQL USERS TO RUNTIME");
        }

        for fix in [&["fix", "--dry-run"][..], &["fix"][..]] {
            let run = cluster.batch(&config, fix, format).await;
            check_format(&run, format, 0, "fix");
            if format == "table" {
                assert!(
                    run.stdout.starts_with("OK: nothing to fix"),
                    "{}",
                    run.stdout
                );
            }
        }
    }

    // An error from the node: exit 2 with the server's code.
    let run = cluster
        .batch(
            &config,
            &["exec", "SELECT * FROM nosuch", "--node", "node3"],
            "json",
        )
        .await;
    assert_eq!(run.code, Some(2));
    let v = run.json();
    assert_eq!(v["results"][0]["error"]["code"], 1045);
    assert_eq!(
        v["results"][0]["error"]["message"],
        "ProxySQL Admin Error: no such table: nosuch"
    );

    // Faults through the admin interface and the configured commands, and what they do to
    // the exit code: a frozen node is CRITICAL until thawed.
    for (fault, format) in [("pause", "table"), ("resume", "json")] {
        let run = cluster
            .batch(&config, &["fault", fault, "--node", "node3"], format)
            .await;
        check_format(&run, format, 0, fault);
    }
    let run = cluster
        .batch(&config, &["fault", "freeze", "--node", "node3"], "tsv")
        .await;
    check_format(&run, "tsv", 0, "freeze");
    let frozen = cluster
        .batch(&config, &["status", "--timeout", "1"], "json")
        .await;
    let thawed = cluster
        .batch(&config, &["fault", "thaw", "--node", "node3"], "csv")
        .await;
    assert_eq!(frozen.code, Some(2), "{}", frozen.stdout);
    let v = frozen.json();
    assert_eq!(v["nodes"][2]["reachable"], false);
    assert_eq!(v["nodes"][2]["error"]["kind"], "timeout");
    check_format(&thawed, "csv", 0, "thaw");
    cluster.wait_for("healthy again", healthy).await;

    // A node pxadm cannot freeze: a usage error (3), nothing done.
    let run = cluster
        .batch(
            &config,
            &["fault", "freeze", "--node", "192.168.0.12:6032"],
            "table",
        )
        .await;
    assert_eq!(run.code, Some(3), "{}", run.stdout);
    assert!(
        run.stdout
            .starts_with("UNKNOWN: 192.168.0.12:6032 has no 'freeze' command"),
        "{}",
        run.stdout
    );

    // A refused login is CRITICAL.
    let bad = common::write_file(
        cluster.dir.path(),
        "bad.toml",
        &std::fs::read_to_string(&config).unwrap().replacen(
            &format!("password = \"{ADMIN_PASS}\""),
            "password = \"wrong\"",
            1,
        ),
    );
    let run = cluster.batch(&bad, &["status"], "json").await;
    assert_eq!(run.code, Some(2));
    let v = run.json();
    assert_eq!(v["nodes"][0]["error"]["code"], 1045);
    assert_eq!(v["problems"][0]["class"], "credentials_refused");
    assert!(
        !run.stdout.contains("wrong"),
        "the password is never printed"
    );

    // Killed (PROXYSQL KILL through the admin port): unreachable, CRITICAL.
    let run = cluster
        .batch(&config, &["fault", "kill", "--node", "node3"], "json")
        .await;
    check_format(&run, "json", 0, "kill");
    let run = cluster.batch(&config, &["status"], "table").await;
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(
        run.stdout.starts_with("CRITICAL: 2/3 nodes reachable"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("peer_unreachable (node3)"),
        "{}",
        run.stdout
    );
    let run = cluster.batch(&config, &["checksums"], "table").await;
    assert_eq!(run.code, Some(2));
    assert!(run.stdout.contains("unreachable: node3"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converging_cluster_is_a_warning() {
    let cluster = Cluster::start(3).await;
    // D = 30: the pull waits 30 checks (30 s), long enough to observe the converging state.
    cluster.cluster_sql(30).await;
    cluster.wait_for("healthy", healthy).await;
    let config = cluster.config(&[]);
    run_sql(
        cluster.ports[0],
        "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (1, 1, '^SELECT', 1, 1); LOAD MYSQL QUERY RULES TO RUNTIME; SAVE MYSQL QUERY RULES TO DISK;",
    )
    .await;
    // A check right after a routine LOAD, with a grace, does not page: the divergence is
    // young and converging. Its text says so, with the perfdata.
    let run = cluster
        .batch(&config, &["diagnose", "--grace", "10"], "table")
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let (text, items) = parse_plugin_output(&run.stdout);
    assert!(text.contains("1 converging"), "{text}");
    assert!(!text.contains("none is about to sync"), "{}", run.stdout);
    assert_eq!(perf(&items, "modules_converging").value, 1.0);
    assert_eq!(perf(&items, "modules_stuck").value, 0.0);
    cluster
        .wait_for("converging", |f| {
            overall(f) == Severity::Warning
                && f.iter()
                    .any(|x| matches!(x.class, Class::Converging { .. }))
        })
        .await;
    for format in FORMATS {
        for cmd in ["status", "checksums", "diagnose"] {
            let run = cluster.batch(&config, &[cmd], format).await;
            check_format(&run, format, 1, cmd);
        }
    }
    let run = cluster.batch(&config, &["status"], "table").await;
    assert!(
        run.stdout.starts_with(
            "WARNING: 3/3 nodes reachable, 6/7 modules in sync; converging on mysql_query_rules"
        ),
        "{}",
        run.stdout
    );
    let v = cluster.batch(&config, &["checksums"], "json").await.json();
    let rules = v["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "mysql_query_rules")
        .unwrap()
        .clone();
    assert_eq!(rules["in_sync"], false);
    assert_eq!(
        rules["nodes"][0]["differs"], true,
        "node1 holds the new rules, alone"
    );
    assert_eq!(rules["nodes"][0]["version"], 2);
    assert_eq!(rules["nodes"][1]["differs"], false);
    let run = cluster
        .batch(
            &config,
            &["watch", "--interval", "0.1", "--count", "1"],
            "json",
        )
        .await;
    assert_eq!(run.code, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_version_one_is_critical_until_fixed() {
    // The field report: node1 configured, saved and restarted (its modules at version 1),
    // node2 fresh, the cluster SQL on both.
    let ports = vec![free_port(), free_port()];
    let mut node1 = Cluster::builder(&ports, ports[0]).start().await;
    run_sql(
        ports[0],
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port, comment) VALUES (0, '127.0.0.1', 1, 'primary'), (1, '127.0.0.1', 2, 'replica');
         INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('svcusr', 'svcusr', 0);
         INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (1, 1, '^SELECT.*FOR UPDATE$', 0, 1), (2, 1, '^SELECT', 1, 1);
         SAVE MYSQL SERVERS TO DISK; SAVE MYSQL USERS TO DISK; SAVE MYSQL QUERY RULES TO DISK;",
    )
    .await;
    node1.restart().await;
    let node2 = Cluster::builder(&ports, ports[1]).start().await;
    let dir = tempfile::Builder::new()
        .prefix("pxadm-batch-")
        .tempdir()
        .unwrap();
    let cluster = Cluster {
        nodes: vec![node1, node2],
        ports,
        dir,
    };
    cluster.cluster_sql(3).await;
    run_sql(cluster.ports[1], NODE2_MONITOR).await;
    // Stuck, and nothing else (node1 pulling node2's monitor settings is transient).
    let stuck = |f: &[Finding]| {
        let problems: Vec<&Finding> = f.iter().filter(|x| x.severity != Severity::Ok).collect();
        problems.len() >= 3
            && problems
                .iter()
                .all(|x| matches!(x.class, Class::StuckVersionOne { .. }))
    };
    cluster.wait_for("stuck", stuck).await;
    let config = cluster.config(&[]);

    for format in FORMATS {
        for cmd in ["status", "checksums", "diagnose"] {
            let run = cluster.batch(&config, &[cmd], format).await;
            check_format(&run, format, 2, cmd);
        }
        let run = cluster.batch(&config, &["fix", "--dry-run"], format).await;
        check_format(&run, format, 2, "fix --dry-run");
        if format == "json" {
            json_snapshot("stuck_fix_dry_run", run.json());
        }
        if format == "table" {
            insta::assert_snapshot!("stuck_fix_dry_run_table", redact_text(&run.stdout));
        }
    }
    // The field's case: one check per host. node2 alone, discovery confined to loopback
    // (its peers are listed at the scenario's addresses), tells the stuck cluster from its
    // own view of node1, names node1 in the fix, and no grace forgives it.
    let node2 = format!("{ADMIN_USER}:{ADMIN_PASS}@{HOST}:{}", cluster.ports[1]);
    for extra in [&[][..], &["--no-discover"][..], &["--grace", "3600"][..]] {
        let mut args = vec!["--batch", "diagnose", "-n", &node2, "--format", "json"];
        args.extend_from_slice(extra);
        let run = cluster.pxadm(&args).await;
        assert_eq!(run.code, Some(2), "{extra:?}: {}", run.stdout);
        let v = run.json();
        let rules = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["class"] == "stuck_version_one" && f["module"] == "mysql_query_rules")
            .cloned()
            .unwrap_or_else(|| panic!("{extra:?}: {v:#}"));
        assert_eq!(rules["node_to_act_on"], "192.168.0.11:6032");
        assert_eq!(rules["fix"]["node"], "192.168.0.11:6032");
    }
    let run = cluster
        .pxadm(&["--batch", "diagnose", "-n", &node2, "-w", "30", "-c", "60"])
        .await;
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    let (text, items) = parse_plugin_output(&run.stdout);
    assert!(text.starts_with("CRITICAL: 1/1 nodes up"), "{text}");
    assert!(
        text.contains("stuck_version_one on mysql_query_rules"),
        "{text}"
    );
    assert!(perf(&items, "modules_stuck").value >= 1.0, "{items:?}");
    assert_eq!(
        (
            perf(&items, "poll_time").warn.as_str(),
            perf(&items, "poll_time").crit.as_str()
        ),
        ("30", "60")
    );
    // A poll time range that any poll breaks (@0:3600 alerts inside) shows in the status.
    let run = cluster
        .pxadm(&[
            "--batch",
            "diagnose",
            "-n",
            &node2,
            "-c",
            "@0:3600",
            "--no-discover",
        ])
        .await;
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(run.stdout.contains("poll took"), "{}", run.stdout);

    let v = cluster.batch(&config, &["diagnose"], "json").await.json();
    let findings = v["findings"].as_array().unwrap();
    let stuck_rules = findings
        .iter()
        .find(|f| f["class"] == "stuck_version_one" && f["module"] == "mysql_query_rules")
        .expect("stuck mysql_query_rules finding");
    assert_eq!(stuck_rules["severity"], "CRITICAL");
    assert_eq!(stuck_rules["node_to_act_on"], "192.168.0.11:6032");
    assert_eq!(
        stuck_rules["fix"]["sql"][0],
        "LOAD MYSQL QUERY RULES TO RUNTIME"
    );

    // Applying the fixes unblocks the cluster: node2 pulls node1's config.
    let run = cluster.batch(&config, &["fix"], "table").await;
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stdout.starts_with("OK: applied "), "{}", run.stdout);
    cluster.wait_for("healthy after the fix", healthy).await;
    let run = cluster.batch(&config, &["status"], "table").await;
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let mut c = admin_conn(cluster.ports[1], ADMIN_USER, ADMIN_PASS).await;
    let rows = query_rows(&mut c, "SELECT COUNT(*) FROM runtime_mysql_query_rules").await;
    assert_eq!(rows, [[Some("2".to_owned())]], "node2 pulled node1's rules");
    c.disconnect().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_fault_runs_the_configured_command() {
    let cluster = Cluster::start(1).await;
    let node = &cluster.nodes[0];
    let pid = node.pid().expect("pid");
    let port = cluster.ports[0];
    let datadir = node.datadir().to_path_buf();
    // Stop the node, wait until it is gone (or a zombie of the test), start it again detached;
    // `timeout` bounds the new process's life in case the test dies before cleaning up.
    let restart = format!(
        "kill -TERM {pid}; while kill -0 {pid} 2>/dev/null && [ \\\"$(cut -d' ' -f3 /proc/{pid}/stat)\\\" != Z ]; do sleep 0.1; done; PXADM_LOOPBACK_ONLY=1 setsid timeout 120 {} node --datadir {} --admin {HOST}:{port} >/dev/null 2>&1 </dev/null &",
        pxadm_bin().display(),
        datadir.display()
    );
    let config = cluster.config(&[&format!("fault_commands = {{ restart = \"{restart}\" }}")]);
    struct Reaper(PathBuf);
    impl Drop for Reaper {
        fn drop(&mut self) {
            if let Some(pid) = std::fs::read_to_string(&self.0)
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
            {
                // SAFETY: kill(2) of the node the restart command started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let run = cluster
        .batch(&config, &["fault", "restart", "--node", NAMES[0]], "json")
        .await;
    check_format(&run, "json", 0, "restart");
    let came_back = wait_until(Duration::from_secs(30), || async {
        common::try_admin_conn(port, ADMIN_USER, ADMIN_PASS)
            .await
            .is_ok()
    })
    .await;
    assert!(came_back, "the node did not come back after the restart");
    let pidfile = datadir.join("proxysql.pid");
    let new_pid = std::fs::read_to_string(&pidfile).unwrap_or_default();
    let _reaper = Reaper(pidfile);
    assert_ne!(new_pid.trim(), pid.to_string(), "a new process answers");
    let run = cluster.batch(&config, &["status"], "json").await;
    assert_eq!(run.json()["nodes"][0]["reachable"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_config_errors_are_unknown() {
    let cluster = Cluster::start(1).await;
    let config = cluster.config(&[]);
    let c = config.to_string_lossy().into_owned();
    let port = cluster.ports[0].to_string();

    // An unknown cluster: UNKNOWN in every format (nothing on stdout for TSV/CSV).
    for format in FORMATS {
        let run = cluster
            .pxadm(&[
                "--batch",
                "status",
                "--config",
                &c,
                "--cluster",
                "nope",
                "--format",
                format,
            ])
            .await;
        assert_eq!(run.code, Some(3), "{format}: {}", run.stderr);
        match format {
            "table" => assert!(
                run.stdout.starts_with("UNKNOWN: no cluster 'nope'"),
                "{}",
                run.stdout
            ),
            "json" => {
                let v = run.json();
                assert_eq!(v["status"], "UNKNOWN");
                assert_eq!(v["exit_code"], 3);
                assert!(v["error"].as_str().unwrap().contains("no cluster 'nope'"));
            }
            _ => {
                assert_eq!(run.stdout, "");
                assert!(run.stderr.contains("no cluster 'nope'"), "{}", run.stderr);
            }
        }
    }
    // A broken config file names the file and the key.
    let broken = common::write_file(cluster.dir.path(), "broken.toml", "refresh = 5\n");
    let run = cluster
        .pxadm(&[
            "--batch",
            "checksums",
            "--config",
            &broken.to_string_lossy(),
        ])
        .await;
    assert_eq!(run.code, Some(3));
    assert!(
        run.stdout.contains("broken.toml") && run.stdout.contains("refresh"),
        "{}",
        run.stdout
    );
    // A malformed node spec, an unknown module, an ambiguous exec.
    let run = cluster.pxadm(&["--batch", "status", "-n", "admin@"]).await;
    assert_eq!(run.code, Some(3), "{}", run.stdout);
    let run = cluster
        .pxadm(&[
            "--batch",
            "reload",
            "servers",
            "--config",
            &c,
            "--cluster",
            "lab",
        ])
        .await;
    assert_eq!(run.code, Some(3));
    assert!(
        run.stdout.contains("unknown module 'servers'"),
        "{}",
        run.stdout
    );
    let two = format!("a=admin:admin@{HOST}:{port}");
    let two_b = format!("b=admin:admin@{HOST}:{port}");
    let run = cluster
        .pxadm(&["--batch", "exec", "SELECT 1", "-n", &two, "-n", &two_b])
        .await;
    assert_eq!(run.code, Some(3));
    assert!(
        run.stdout.contains("choose one with --node NAME"),
        "{}",
        run.stdout
    );
    // No node at all: UNKNOWN, not a CRITICAL about 127.0.0.1:6032; a bad range too.
    let run = cluster.pxadm(&["--batch", "diagnose"]).await;
    assert_eq!(run.code, Some(3), "{}", run.stdout);
    assert!(
        run.stdout.starts_with("UNKNOWN: no node given"),
        "{}",
        run.stdout
    );
    let one = format!("{ADMIN_USER}:{ADMIN_PASS}@{HOST}:{port}");
    let run = cluster
        .pxadm(&["--batch", "diagnose", "-n", &one, "-w", "5:1"])
        .await;
    assert_eq!(run.code, Some(3), "{}", run.stdout);
    assert!(run.stdout.contains("threshold '5:1'"), "{}", run.stdout);
    // Command-line errors: 3 with --batch, clap's usual 2 without.
    let run = cluster
        .pxadm(&["--batch", "status", "--format", "yaml"])
        .await;
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let run = cluster.pxadm(&["status", "--format", "yaml"]).await;
    assert_eq!(run.code, Some(2));
    let run = cluster.pxadm(&["--batch"]).await;
    assert_eq!(run.code, Some(3));
    let run = cluster
        .pxadm(&["--batch", "status", "--timeout", "0"])
        .await;
    assert_eq!(run.code, Some(3));
    // mysql-style flags work for batch commands too.
    let run = cluster
        .pxadm(&[
            "--batch",
            "status",
            "-u",
            ADMIN_USER,
            &format!("-p{ADMIN_PASS}"),
            "-h",
            HOST,
            "-P",
            &port,
        ])
        .await;
    assert_eq!(
        run.code,
        Some(1),
        "a lone fresh node has sync disabled: {}",
        run.stdout
    );
    assert!(
        run.stdout.starts_with("WARNING: 1/1 nodes reachable"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_brings_the_peers_it_lists() {
    // Two nodes that list each other at loopback addresses, so the console may poll them.
    let cluster = Cluster::start(2).await;
    let setup = CLUSTER_SETUP
        .replace(
            "'192.168.0.11',6032",
            &format!("'{HOST}',{}", cluster.ports[0]),
        )
        .replace(
            "'192.168.0.12',6032",
            &format!("'{HOST}',{}", cluster.ports[1]),
        );
    for &port in &cluster.ports {
        run_sql(port, &setup).await;
    }
    let node1 = format!("{ADMIN_USER}:{ADMIN_PASS}@{HOST}:{}", cluster.ports[0]);
    let figures = |run: &Run| run.json()["figures"].clone();
    let ok = wait_until(STATE_TIMEOUT, || async {
        let run = cluster
            .pxadm(&["--batch", "diagnose", "-n", &node1, "--format", "json"])
            .await;
        run.code == Some(0) && figures(&run)["nodes"] == 2
    })
    .await;
    let run = cluster
        .pxadm(&["--batch", "diagnose", "-n", &node1, "--format", "json"])
        .await;
    assert!(
        ok,
        "node1 alone never reported both nodes in sync: {}",
        run.stdout
    );
    assert_eq!(figures(&run)["nodes_up"], 2);
    assert_eq!(figures(&run)["modules_in_sync"], 7);
    // The shell's \diag on node1 alone reads the peer it lists too.
    let shell = cluster
        .pxadm_with_input(&["shell", "-n", &node1], Some("\\diag\n"))
        .await;
    assert!(
        shell
            .stdout
            .contains("(with 1 peer(s) listed in its proxysql_servers)"),
        "{}{}",
        shell.stdout,
        shell.stderr
    );
    let run = cluster
        .pxadm(&[
            "--batch",
            "diagnose",
            "-n",
            &node1,
            "--no-discover",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(figures(&run)["nodes"], 1, "{}", run.stdout);
    // Its view of node2 still counts: seven modules in sync with the peer it sees.
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let why = run.json()["findings"][0]["why"].clone();
    assert!(
        why.as_str()
            .is_some_and(|w| w.contains("the 1 peer they see")),
        "{why}"
    );
}
