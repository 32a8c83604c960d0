//! Engine tests: the scenario's SQL through the whole pipeline, without sockets.

use super::*;
use crate::node::monitor::lag::SHUNNED_REPLICATION_LAG;
use crate::proxysql::checksum::table::ChecksumModule;

const CLUSTER_SETUP: &str =
    include_str!("../../../../tests/fixtures/scenario/node-cluster-setup.sql");
const NODE2_MONITOR: &str = include_str!("../../../../tests/fixtures/scenario/node2-monitor.sql");

fn start(dir: &std::path::Path) -> Engine {
    let (shared, _rx) = NodeShared::new(variables::DEFAULT_VERSION.to_string());
    Engine::start(
        EngineOptions {
            datadir: dir.to_path_buf(),
            config: None,
            admin_override: Some("127.0.0.1:0".into()),
            initial: false,
            limits: Default::default(),
        },
        shared,
    )
    .unwrap()
}

fn run(e: &mut Engine, sql: &str) -> Reply {
    e.execute(&mut SessionCtx::internal(), sql).0
}

fn rows(e: &mut Engine, sql: &str) -> Vec<Vec<Option<String>>> {
    match run(e, sql) {
        Reply::Rows(rs, _) => rs.rows,
        other => panic!("{sql}: {other:?}"),
    }
}

fn run_script(e: &mut Engine, script: &str) {
    for stmt in crate::proxysql::statement::split_statements(script) {
        let reply = run(e, &stmt);
        assert!(!matches!(reply, Reply::Err { .. }), "{stmt}: {reply:?}");
    }
}

fn checksums(e: &mut Engine) -> Vec<(String, String, String)> {
    rows(
        e,
        "SELECT name, version, checksum FROM runtime_checksums_values ORDER BY name",
    )
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap(),
            r[1].clone().unwrap(),
            r[2].clone().unwrap(),
        )
    })
    .collect()
}

fn module<'a>(c: &'a [(String, String, String)], name: &str) -> &'a (String, String, String) {
    c.iter().find(|r| r.0 == name).unwrap()
}

#[test]
fn fresh_node_has_seven_modules_at_version_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = start(dir.path());
    let c = checksums(&mut e);
    assert_eq!(c.len(), 7);
    assert!(c.iter().all(|r| r.1 == "1"), "{c:?}");
    for m in [
        "mysql_query_rules",
        "mysql_servers",
        "mysql_users",
        "proxysql_servers",
        "mysql_servers_v2",
    ] {
        assert_eq!(module(&c, m).2, "0x0000000000000000");
    }
}

#[test]
fn scenario_setup_matches_the_real_nodes_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = start(dir.path());
    run_script(&mut e, CLUSTER_SETUP);
    run_script(&mut e, NODE2_MONITOR);
    let c = checksums(&mut e);
    // Versions the statements imply: one LOAD each after start-up.
    assert_eq!(module(&c, "admin_variables").1, "2");
    assert_eq!(module(&c, "proxysql_servers").1, "2");
    assert_eq!(module(&c, "mysql_variables").1, "2");
    assert_eq!(module(&c, "mysql_servers").1, "1");
    // The scenario's recorded value (real ProxySQL nodes, step 4). Its variables checksums are
    // not comparable: they hash `admin-version` and the variable set of a build the report
    // does not name.
    assert_eq!(module(&c, "proxysql_servers").2, "0xEB7F779029A89859");
}

#[test]
fn invalid_variable_values_are_refused_and_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = start(dir.path());
    let reply = run(
        &mut e,
        "UPDATE global_variables SET variable_value='abc' WHERE variable_name='admin-cluster_check_interval_ms'",
    );
    match reply {
        Reply::Err { code, msg, .. } => {
            assert_eq!(code, 1045);
            assert!(
                msg.contains("Impossible to set variable admin-cluster_check_interval_ms"),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
    let v = rows(&mut e, "SELECT variable_value FROM global_variables WHERE variable_name='admin-cluster_check_interval_ms'");
    assert_eq!(v[0][0].as_deref(), Some("1000"));
    assert!(matches!(
        run(&mut e, "SET admin-cluster_check_interval_ms = 5"),
        Reply::Err { .. }
    ));
    assert!(matches!(
        run(&mut e, "SET admin-cluster_check_interval_ms = 200"),
        Reply::Ok { affected: 1, .. }
    ));
}

#[test]
fn save_to_disk_survives_restart_and_unsaved_changes_do_not() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut e = start(dir.path());
        run_script(
            &mut e,
            "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (0,'127.0.0.1',3306); SAVE MYSQL SERVERS TO DISK; \
             INSERT INTO mysql_users (username, password) VALUES ('app','pass'); LOAD MYSQL USERS TO RUNTIME;",
        );
    }
    let mut e = start(dir.path());
    assert_eq!(rows(&mut e, "SELECT hostname FROM mysql_servers").len(), 1);
    assert!(rows(&mut e, "SELECT * FROM mysql_users").is_empty());
    let c = checksums(&mut e);
    // Loaded once at start-up from disk: version 1, the §5.7 runtime vector.
    assert_eq!(module(&c, "mysql_servers").2, "0x584BD0E1EA7AB6C0");
    assert_eq!(module(&c, "mysql_servers_v2").2, "0xF90699731235139B");
    assert_eq!(module(&c, "mysql_servers").1, "1");
}

#[test]
fn load_to_runtime_bumps_version_even_when_unchanged_and_global_checksum_moves() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = start(dir.path());
    let g1 = rows(&mut e, "SELECT GLOBAL_CHECKSUM()")[0][0].clone();
    assert!(matches!(
        run(&mut e, "LOAD MYSQL QUERY RULES TO RUN"),
        Reply::Ok { .. }
    ));
    let c = checksums(&mut e);
    assert_eq!(module(&c, "mysql_query_rules").1, "2");
    let g2 = rows(&mut e, "SELECT GLOBAL_CHECKSUM()")[0][0].clone();
    assert_ne!(g1, g2);
}

#[test]
fn query_rules_and_users_match_the_spec_vectors_and_peers_get_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = start(dir.path());
    run_script(
        &mut e,
        "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) VALUES (1,1,'^SELECT',1,1); \
         INSERT INTO mysql_query_rules (rule_id, active, match_digest) VALUES (2,0,'inactive'); \
         LOAD MYSQL QUERY RULES TO RUNTIME; \
         INSERT INTO mysql_users (username, password) VALUES ('app','pass'); LOAD MYSQL USERS TO RUNTIME;",
    );
    let c = checksums(&mut e);
    assert_eq!(module(&c, "mysql_query_rules").2, "0xCCFF0CE852BBA9C6");
    assert_eq!(module(&c, "mysql_users").2, "0x3CDB042C3403B717");
    let peer_rules = rows(
        &mut e,
        &format!(
            "PROXY_SELECT {} FROM runtime_mysql_query_rules ORDER BY rule_id",
            crate::proxysql::columns::QUERY_RULES_COLUMNS
        ),
    );
    assert_eq!(peer_rules.len(), 1);
    assert_eq!(rows(&mut e, "SELECT * FROM runtime_mysql_users").len(), 2);
}

#[test]
fn errors_keep_sqlite_text_and_session_usable() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = start(dir.path());
    match run(&mut e, "SELEC 1") {
        Reply::Err {
            code: 1045,
            state: "28000",
            msg,
        } => assert!(
            msg.starts_with("ProxySQL Admin Error: near \"SELEC\""),
            "{msg}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(rows(&mut e, "SELECT 1+1")[0][0].as_deref(), Some("2"));
    assert!(
        matches!(run(&mut e, "SET foo = 1"), Reply::Ok { info, .. } if info.contains("Unknown global variable"))
    );
}

#[test]
fn admin_read_only_blocks_plain_sql_writes_but_not_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = start(dir.path());
    run_script(
        &mut e,
        "SET admin-read_only='true'; LOAD ADMIN VARIABLES TO RUNTIME",
    );
    assert!(matches!(
        run(&mut e, "INSERT INTO proxysql_servers VALUES ('h',1,0,'')"),
        Reply::Err { .. }
    ));
    assert_eq!(
        rows(&mut e, "SELECT @@global.read_only")[0][0].as_deref(),
        Some("1")
    );
    assert!(matches!(
        run(&mut e, "PROXYSQL READWRITE"),
        Reply::Ok { .. }
    ));
    assert!(matches!(
        run(&mut e, "INSERT INTO proxysql_servers VALUES ('h',1,0,'')"),
        Reply::Ok { .. }
    ));
}

#[test]
fn stats_pxadm_vrrp_follows_the_vip_status_watch() {
    use crate::node::vip::{VipStatus, VrrpState};
    let dir = tempfile::tempdir().unwrap();
    let mut e = start(dir.path());
    let sql = "SELECT instance, state, effective_priority, vip_held FROM stats.stats_pxadm_vrrp";
    assert!(rows(&mut e, sql).is_empty(), "no --vip, no rows");
    let status = VipStatus {
        instance: "VI_1".into(),
        state: VrrpState::Backup,
        base_priority: 100,
        effective_priority: 100,
        last_advert_from: None,
        last_advert_at: None,
        vip: "127.0.0.20:6033".parse().unwrap(),
        vip_held: false,
        check_ok: None,
        transitions: 1,
        has_check: false,
    };
    let (tx, rx) = tokio::sync::watch::channel(status.clone());
    *e.shared.vip_status.lock() = Some(rx);
    let row = |s: &str, p: &str, h: &str| {
        vec![
            Some("VI_1".into()),
            Some(s.into()),
            Some(p.into()),
            Some(h.into()),
        ]
    };
    assert_eq!(rows(&mut e, sql), [row("BACKUP", "100", "0")]);
    tx.send_modify(|s| {
        s.state = VrrpState::Master;
        s.vip_held = true;
    });
    // Read again: the table is refreshed on every read, not cached.
    assert_eq!(rows(&mut e, sql), [row("MASTER", "100", "1")]);
}

#[test]
fn show_databases_lists_proxysqls_five_schemas_without_temp() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = start(dir.path());
    let names: Vec<_> = rows(&mut e, "SHOW DATABASES")
        .into_iter()
        .map(|r| r[1].clone().unwrap())
        .collect();
    assert_eq!(names, ["main", "disk", "stats", "monitor", "stats_history"]);
}

#[test]
fn pause_is_visible_in_stats_before_the_ok_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = start(dir.path());
    let paused = |e: &mut Engine| {
        rows(
            e,
            "SELECT Variable_Value FROM stats_mysql_global WHERE Variable_Name='mysql_listener_paused'",
        )[0][0]
            .clone()
    };
    assert!(matches!(run(&mut e, "PROXYSQL PAUSE"), Reply::Ok { .. }));
    // No supervisor runs here: the flag must not depend on it.
    assert_eq!(paused(&mut e).as_deref(), Some("true"));
    assert!(matches!(run(&mut e, "PROXYSQL PAUSE"), Reply::Err { .. }));
    assert!(matches!(run(&mut e, "PROXYSQL RESUME"), Reply::Ok { .. }));
    assert_eq!(paused(&mut e).as_deref(), Some("false"));
    assert!(matches!(run(&mut e, "PROXYSQL RESUME"), Reply::Err { .. }));
}

#[test]
fn monitor_changes_move_checksum_and_epoch_but_not_version_and_shunning_is_invisible() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = start(dir.path());
    run_script(
        &mut e,
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (0,'127.0.0.1',3306); LOAD MYSQL SERVERS TO RUNTIME;",
    );
    let before = e
        .shared
        .checksums
        .lock()
        .get(ChecksumModule::MysqlServers)
        .clone();
    let mut servers = e.runtime().servers.clone();
    servers.rows[0][4] = Some("SHUNNED".into());
    e.set_runtime_servers(servers.clone());
    assert_eq!(
        *e.shared.checksums.lock().get(ChecksumModule::MysqlServers),
        before
    );
    assert_eq!(
        rows(&mut e, "SELECT status FROM runtime_mysql_servers")[0][0].as_deref(),
        Some("SHUNNED")
    );
    // A read_only move: the server now also sits in hostgroup 1.
    let mut moved = servers.clone();
    let mut row = moved.rows[0].clone();
    row[0] = Some("1".into());
    moved.rows.push(row);
    e.set_runtime_servers(moved);
    let after = e
        .shared
        .checksums
        .lock()
        .get(ChecksumModule::MysqlServers)
        .clone();
    assert_ne!(after.checksum, before.checksum);
    assert_eq!(after.version, before.version);
}

#[test]
fn replication_lag_shunning_reads_shunned_and_ends_when_the_limit_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = start(dir.path());
    run_script(
        &mut e,
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_replication_lag) VALUES (1,'127.0.0.1',3307,10); LOAD MYSQL SERVERS TO RUNTIME;",
    );
    let before = e
        .shared
        .checksums
        .lock()
        .get(ChecksumModule::MysqlServers)
        .clone();
    let mut servers = e.runtime().servers.clone();
    servers.rows[0][4] = Some(SHUNNED_REPLICATION_LAG.into());
    e.set_runtime_servers(servers);
    assert_eq!(
        *e.shared.checksums.lock().get(ChecksumModule::MysqlServers),
        before,
        "lag shunning is invisible to the cluster"
    );
    // The table's CHECK knows four statuses: ProxySQL shows status 4 as SHUNNED here.
    assert_eq!(
        rows(&mut e, "SELECT status FROM runtime_mysql_servers")[0][0].as_deref(),
        Some("SHUNNED")
    );
    // A reload that keeps the limit keeps the server shunned...
    run_script(&mut e, "LOAD MYSQL SERVERS TO RUNTIME;");
    assert_eq!(
        e.runtime().servers.rows[0][4].as_deref(),
        Some(SHUNNED_REPLICATION_LAG)
    );
    // ...one that removes it re-enables the server at once.
    run_script(
        &mut e,
        "UPDATE mysql_servers SET max_replication_lag=0; LOAD MYSQL SERVERS TO RUNTIME;",
    );
    assert_eq!(e.runtime().servers.rows[0][4].as_deref(), Some("ONLINE"));
}
