//! The traffic side of the fleet through two real `pxadm node` processes routing the
//! scenario's user (svcusr) to the MariaDB lab: `pxadm --batch traffic | hostgroups |
//! processlist | digest | commands | errors --format json` read every node's stats tables and
//! merge them.
//!
//! Counters the node does not count yet (bytes, Active_Transactions, commands counters,
//! errors) are asserted on their shape only; processlist, digests, the connection pool and
//! `Questions` are real now and asserted on their values.

mod common;

use std::time::Duration;

use common::{admin_opts, lab, pxadm_bin, Lab, TestNode, HOST};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde_json::Value;

const WRITER_HG: u32 = 10;
const READER_HG: u32 = 20;

/// A node with a traffic port, the lab as backends, reads routed to the replicas by rule 1.
struct Proxy {
    node: TestNode,
    port: u16,
}

impl Proxy {
    async fn start(lab: &Lab) -> Proxy {
        let port = common::free_port();
        let node = TestNode::builder()
            .arg("--mysql")
            .arg(format!("{HOST}:{port}"))
            .start()
            .await;
        let mut admin = node.admin().await;
        let mut sql = vec![
            format!("INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup) VALUES ({WRITER_HG},{READER_HG})"),
            format!("INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('{}','{}',{WRITER_HG})", Lab::APP.0, Lab::APP.1),
            format!("INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES ({WRITER_HG},'{HOST}',{})", lab.primary),
            format!("INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (1, 1, '^SELECT', {READER_HG}, 1)"),
        ];
        for p in lab.replicas {
            sql.push(format!("INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES ({READER_HG},'{HOST}',{p})"));
        }
        sql.extend(
            [
                "LOAD MYSQL VARIABLES TO RUNTIME",
                "LOAD MYSQL SERVERS TO RUNTIME",
                "LOAD MYSQL USERS TO RUNTIME",
                "LOAD MYSQL QUERY RULES TO RUNTIME",
            ]
            .map(String::from),
        );
        for s in &sql {
            admin
                .query_drop(s)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        Proxy { node, port }
    }

    async fn client(&self) -> Conn {
        Conn::new(admin_opts(self.port, Lab::APP.0, Lab::APP.1).db_name(Some(Lab::APP_DB)))
            .await
            .unwrap_or_else(|e| panic!("cannot connect through the proxy on {}: {e}", self.port))
    }

    fn spec(&self, name: &str) -> String {
        format!("{name}=admin:admin@{}", self.node.admin_addr())
    }
}

/// Runs `pxadm --batch CMD ... -n n1 -n n2 --format json` and parses its document.
async fn batch(nodes: &[&Proxy], args: &[&str]) -> Value {
    let mut cmd = tokio::process::Command::new(pxadm_bin());
    cmd.arg("--batch").args(args);
    for (i, p) in nodes.iter().enumerate() {
        cmd.arg("-n").arg(p.spec(&format!("n{}", i + 1)));
    }
    cmd.args(["--format", "json"]);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("pxadm --batch timed out")
        .expect("pxadm runs");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn nodes_of(list: &Value, key: &str) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .filter_map(|x| x[key].as_str().map(str::to_owned))
        .collect();
    v.sort();
    v.dedup();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_traffic_views_merge_two_nodes_under_real_traffic() {
    let lab = lab().await;
    let p1 = Proxy::start(lab).await;
    let p2 = Proxy::start(lab).await;

    // The same read on both nodes (one digest, two nodes), a write on node 1 only.
    for (p, n) in [(&p1, 7), (&p2, 5)] {
        let mut c = p.client().await;
        for i in 0..n {
            let _: Vec<u64> = c.query(format!("SELECT {i} + 1")).await.expect("select");
        }
        c.disconnect().await.ok();
    }
    {
        let mut c = p1.client().await;
        c.query_drop("SET @pxadm_traffic_views = 1")
            .await
            .expect("set");
        c.disconnect().await.ok();
    }
    // A session that stays in a query on each node while the processlist is read.
    let mut sleepers = Vec::new();
    for p in [&p1, &p2] {
        let mut c = p.client().await;
        sleepers.push(tokio::spawn(async move {
            let _ = c.query_drop("SELECT SLEEP(20)").await;
            c
        }));
    }

    // processlist: both sleeping sessions, each with the node that owns it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let doc = loop {
        let doc = batch(&[&p1, &p2], &["processlist", "--filter", "SLEEP("]).await;
        if nodes_of(&doc["sessions"], "node") == ["n1", "n2"] {
            break doc;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "processlist never showed both sleepers: {doc:#}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(doc["command"], "processlist");
    assert_eq!(doc["status"], "OK");
    assert_eq!(doc["sort"], "time");
    let s = &doc["sessions"][0];
    assert_eq!(s["user"], Lab::APP.0);
    assert!(
        s["info"].as_str().unwrap_or("").contains("SLEEP(20)"),
        "{s}"
    );
    assert!(s["session_id"].as_u64().is_some(), "{s}");
    assert_eq!(s["hostgroup"], READER_HG);

    // --sort user and --top 1 apply; a bad key is a usage error (UNKNOWN, exit 3).
    let one = batch(
        &[&p1, &p2],
        &["processlist", "--sort", "user", "--top", "1"],
    )
    .await;
    assert_eq!(one["sessions"].as_array().map(Vec::len), Some(1), "{one:#}");
    assert!(one["matching"].as_u64().unwrap_or(0) >= 2, "{one:#}");
    let bad = batch(&[&p1], &["processlist", "--sort", "cpu"]).await;
    assert_eq!(bad["status"], "UNKNOWN");
    assert!(
        bad["error"].as_str().unwrap_or("").contains("time, user"),
        "{bad:#}"
    );

    // digest: the read merged across both nodes, routed by rule 1 to the reader hostgroup.
    let d = batch(&[&p1, &p2], &["digest", "--sort", "count"]).await;
    assert_eq!(d["command"], "digest");
    let digests = d["digests"].as_array().expect("digests");
    let read = digests
        .iter()
        .find(|x| {
            x["digest_text"]
                .as_str()
                .is_some_and(|t| t.starts_with("SELECT ?"))
        })
        .unwrap_or_else(|| panic!("no SELECT ? digest: {d:#}"));
    assert_eq!(read["count_star"], 12, "{read:#}");
    assert_eq!(nodes_of(&read["nodes"], "node"), ["n1", "n2"]);
    assert_eq!(read["rule"], serde_json::json!([1, READER_HG]));
    assert_eq!(read["hostgroups"], serde_json::json!([READER_HG]));
    let shares: Vec<u64> = read["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["count_star"].as_u64())
        .collect();
    assert_eq!(shares, [7, 5]);
    let top1 = batch(&[&p1, &p2], &["digest", "--top", "1", "--sort", "count"]).await;
    assert_eq!(top1["digests"].as_array().map(Vec::len), Some(1));
    assert_eq!(top1["digests"][0]["digest"], read["digest"]);

    // hostgroups: every lab server, seen by both nodes, none shunned on one only.
    let h = batch(&[&p1, &p2], &["hostgroups", "--interval", "0.5"]).await;
    assert_eq!(h["command"], "hostgroups");
    let servers = h["servers"].as_array().expect("servers");
    for port in lab.ports() {
        let s = servers
            .iter()
            .find(|s| s["srv_port"] == port)
            .unwrap_or_else(|| panic!("server {port} missing: {h:#}"));
        assert_eq!(nodes_of(&s["nodes"], "node"), ["n1", "n2"], "{s:#}");
        assert_eq!(s["shunned_on_some_nodes_only"], false);
    }
    let readers_used: u64 = servers
        .iter()
        .filter(|s| s["hostgroup"] == READER_HG)
        .flat_map(|s| s["nodes"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n["queries"].as_u64())
        .sum();
    assert!(readers_used >= 12, "reader queries {readers_used}: {h:#}");

    // traffic: both nodes and a total; client connections include the sleepers; Questions
    // counted, so a rate is present (its value depends on timing: not asserted).
    let t = batch(&[&p1, &p2], &["traffic", "--interval", "0.5"]).await;
    assert_eq!(t["command"], "traffic");
    assert_eq!(nodes_of(&t["nodes"], "node"), ["n1", "n2"]);
    assert_eq!(t["total"]["node"], "TOTAL");
    assert!(
        t["total"]["frontend_connections"].as_u64().unwrap_or(0) >= 2,
        "{t:#}"
    );
    assert!(t["total"]["questions"].as_u64().unwrap_or(0) >= 13, "{t:#}");
    assert!(t["total"]["queries_per_s"].is_number(), "{t:#}");
    assert!(t["interval_s"].as_f64().unwrap_or(0.0) >= 0.5, "{t:#}");

    // commands and errors: the shape (the node's counters are C's work in progress).
    let c = batch(&[&p1, &p2], &["commands"]).await;
    assert_eq!(c["command"], "commands");
    assert_eq!(c["buckets"].as_array().map(Vec::len), Some(12), "{c:#}");
    assert!(c["commands"].is_array());
    let e = batch(&[&p1, &p2], &["errors"]).await;
    assert_eq!(e["command"], "errors");
    assert!(e["errors"].is_array(), "{e:#}");

    for s in sleepers {
        s.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_does_not_answer_is_reported_and_the_others_still_count() {
    let lab = lab().await;
    let p1 = Proxy::start(lab).await;
    let mut c = p1.client().await;
    let _: Vec<u64> = c.query("SELECT 41 + 1").await.expect("select");
    let mut cmd = tokio::process::Command::new(pxadm_bin());
    cmd.args(["--batch", "digest", "-n"])
        .arg(p1.spec("n1"))
        .args([
            "-n",
            &format!("gone=admin:admin@{HOST}:{}", common::free_port()),
        ])
        .args(["--format", "json", "--timeout", "3"]);
    let out = cmd.output().await.expect("pxadm runs");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["status"], "WARNING", "{doc:#}");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(nodes_of(&doc["unreachable"], "node"), ["gone"]);
    assert!(doc["summary"]
        .as_str()
        .unwrap_or("")
        .contains("not answering: gone"));
    assert!(!doc["digests"].as_array().unwrap().is_empty(), "{doc:#}");
}
