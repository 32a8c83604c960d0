//! Mixed clusters (issue 14): a real ProxySQL 2.7.2 and a `pxadm node` in one cluster, each
//! change made once on the real node and once on the pxadm node, must leave both with the
//! same checksum for every module — the cluster-breaking cases of the issue: the
//! `default_charset`/`default_collation_connection` pair, the deprecated `checksum_*`
//! switches and their `diffs_before_sync`, and values that are not integers in integer
//! columns (a real node runs with `atoi` of them and its peers take its runtime rows as they
//! are; a pxadm node refuses the LOAD).
//!
//! The real binary comes from `PXADM_REAL_PROXYSQL`; without it each test says it skipped.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{
    free_port, proxysql_config, query_rows, real_proxysql_bin, try_admin_conn, try_query_rows,
    unix_now, wait_until, write_file, ConfigExtras, RealNode, TestNode, ADMIN_PASS, ADMIN_USER,
    HOST,
};
use mysql_async::prelude::Queryable;
use tempfile::TempDir;

/// How long a change may take to reach the other node (3 checks of 200 ms plus a pull, with
/// a wide margin for a loaded CI machine).
const CONVERGE: Duration = Duration::from_secs(45);

/// Cluster settings both nodes start with: fast checks, the cluster account.
const CLUSTER_ADMIN: &str = "    admin_credentials=\"admin:admin;cluster:cluster_secret\"\n    \
    cluster_username=\"cluster\"\n    cluster_password=\"cluster_secret\"\n    \
    cluster_check_interval_ms=200\n    cluster_check_status_frequency=10\n";

/// The monitor off: no backend exists, and a real node shunning servers after failed pings
/// changes its server checksums at moments of its own.
const NO_MONITOR: &str = "    monitor_enabled=false\n";

/// A real node and a pxadm node that list each other in `proxysql_servers`.
struct MixedCluster {
    real: RealNode,
    pxadm: TestNode,
    _scratch: TempDir,
}

impl MixedCluster {
    async fn start(bin: &Path) -> MixedCluster {
        let extras = ConfigExtras {
            admin: CLUSTER_ADMIN,
            mysql: NO_MONITOR,
        };
        let (real_admin, real_mysql) = (free_port(), free_port());
        let real = RealNode::start(bin, real_admin, real_mysql, extras).await;

        let scratch = tempfile::tempdir().unwrap();
        let datadir = scratch.path().join("data");
        std::fs::create_dir_all(&datadir).unwrap();
        let (pxadm_admin, pxadm_mysql) = (free_port(), free_port());
        let cnf = write_file(
            scratch.path(),
            "node.cnf",
            &proxysql_config(&datadir, pxadm_admin, pxadm_mysql, extras),
        );
        let pxadm = TestNode::builder()
            .admin_port(pxadm_admin)
            .datadir(&datadir)
            .config(&cnf)
            .initial(true)
            .start()
            .await;
        let cluster = MixedCluster {
            real,
            pxadm,
            _scratch: scratch,
        };
        let servers = format!(
            "INSERT INTO proxysql_servers (hostname, port, weight, comment) VALUES \
             ('{HOST}', {real_admin}, 0, 'real'), ('{HOST}', {pxadm_admin}, 0, 'pxadm')"
        );
        for port in cluster.ports() {
            exec(port, &[&servers, "LOAD PROXYSQL SERVERS TO RUNTIME"]).await;
        }
        cluster.wait_converged("both nodes joined").await;
        cluster
    }

    fn ports(&self) -> [u16; 2] {
        [self.real.admin_port(), self.pxadm.admin_port()]
    }

    /// Waits until both nodes report the same checksum for every module, panicking with
    /// both tables and log tails after [`CONVERGE`].
    async fn wait_converged(&self, after: &str) {
        let [real, pxadm] = self.ports();
        let last = std::sync::Mutex::new((BTreeMap::new(), BTreeMap::new()));
        let converged = wait_until(CONVERGE, || async {
            let (Some(r), Some(p)) = (checksums(real).await, checksums(pxadm).await) else {
                return false;
            };
            let same = r == p;
            *last.lock().unwrap() = (r, p);
            same
        })
        .await;
        let (r, p) = last.into_inner().unwrap();
        if converged {
            return;
        }
        let (rv, pv) = (
            runtime_variables(real).await,
            runtime_variables(pxadm).await,
        );
        let differing: Vec<String> = rv
            .iter()
            .filter(|(k, v)| pv.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: real {v:?}, pxadm {:?}", pv.get(k)))
            .collect();
        panic!(
            "after {after}: no convergence within {CONVERGE:?}\nreal : {r:?}\npxadm: {p:?}\n\
             runtime variables that differ: {differing:#?}\n\
             --- real log ---\n{}\n--- pxadm log ---\n{}",
            common::tail(&self.real.log(), 20),
            common::tail(&self.pxadm.log(), 20)
        );
    }

    /// Makes `change` on the node at `port` once the wall clock is past every module's
    /// epoch on both nodes (a LOAD within the second of a pull would tie epochs, ProxySQL's
    /// §8.3 case),
    /// then waits until both nodes agree again.
    async fn change_and_converge(&self, port: u16, change: &[&str], what: &str) {
        // Both nodes, read again on every round: a pull that lands meanwhile takes the
        // peer's epoch, and a LOAD within that same second would tie the epochs.
        loop {
            let mut newest = 0;
            for node in self.ports() {
                newest = newest.max(epochs(node).await.into_values().max().unwrap_or(0));
            }
            if unix_now() > newest {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        exec(port, change).await;
        self.wait_converged(what).await;
    }
}

/// `name -> checksum` of `runtime_checksums_values`, or `None` while the node does not answer.
async fn checksums(port: u16) -> Option<BTreeMap<String, String>> {
    let mut conn = try_admin_conn(port, ADMIN_USER, ADMIN_PASS).await.ok()?;
    let rows = try_query_rows(
        &mut conn,
        "SELECT name, checksum FROM runtime_checksums_values ORDER BY name",
    )
    .await
    .ok()?;
    Some(
        rows.into_iter()
            .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
            .collect(),
    )
}

async fn runtime_variables(port: u16) -> BTreeMap<String, String> {
    let mut conn = common::admin_conn(port, ADMIN_USER, ADMIN_PASS).await;
    query_rows(
        &mut conn,
        "SELECT variable_name, variable_value FROM runtime_global_variables",
    )
    .await
    .into_iter()
    .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
    .collect()
}

async fn epochs(port: u16) -> BTreeMap<String, u64> {
    let mut conn = common::admin_conn(port, ADMIN_USER, ADMIN_PASS).await;
    query_rows(
        &mut conn,
        "SELECT name, epoch FROM runtime_checksums_values",
    )
    .await
    .into_iter()
    .filter_map(|r| Some((r[0].clone()?, r[1].as_deref()?.parse().ok()?)))
    .collect()
}

async fn exec(port: u16, statements: &[&str]) {
    let mut conn = common::admin_conn(port, ADMIN_USER, ADMIN_PASS).await;
    for sql in statements {
        conn.query_drop(*sql)
            .await
            .unwrap_or_else(|e| panic!("{HOST}:{port}: {sql:?} failed: {e}"));
    }
}

/// One runtime variable's value on the node at `port`.
async fn runtime_variable(port: u16, name: &str) -> String {
    let mut conn = common::admin_conn(port, ADMIN_USER, ADMIN_PASS).await;
    let rows = query_rows(
        &mut conn,
        &format!(
            "SELECT variable_value FROM runtime_global_variables WHERE variable_name='{name}'"
        ),
    )
    .await;
    rows.first()
        .and_then(|r| r[0].clone())
        .unwrap_or_else(|| panic!("{HOST}:{port} has no runtime {name}"))
}

async fn runtime_hostgroups(port: u16, hostname: &str) -> Vec<Option<String>> {
    let mut conn = common::admin_conn(port, ADMIN_USER, ADMIN_PASS).await;
    query_rows(
        &mut conn,
        &format!("SELECT hostgroup_id FROM runtime_mysql_servers WHERE hostname='{hostname}'"),
    )
    .await
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_charset_change_converges_both_ways() {
    let Some(bin) = real_proxysql_bin("default_charset_change_converges_both_ways") else {
        return;
    };
    let cluster = MixedCluster::start(&bin).await;
    let [real, pxadm] = cluster.ports();
    for (origin, charset, collation) in [
        (real, "utf8mb4", "utf8mb4_general_ci"),
        (pxadm, "latin1", "latin1_swedish_ci"),
        (pxadm, "utf8mb4", "utf8mb4_general_ci"),
        (real, "utf8", "utf8_general_ci"),
    ] {
        let set = format!("SET mysql-default_charset='{charset}'");
        cluster
            .change_and_converge(
                origin,
                &[&set, "LOAD MYSQL VARIABLES TO RUNTIME"],
                &format!("{set} on {origin}"),
            )
            .await;
        for port in [real, pxadm] {
            assert_eq!(
                runtime_variable(port, "mysql-default_collation_connection").await,
                collation,
                "{set} on {origin}, seen on {port}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksum_switches_converge_both_ways() {
    let Some(bin) = real_proxysql_bin("checksum_switches_converge_both_ways") else {
        return;
    };
    let cluster = MixedCluster::start(&bin).await;
    let [real, pxadm] = cluster.ports();
    // Each switch off and on again, alternately on either node; admin_variables syncs, so
    // the other node runs the same LOAD on what it pulled.
    for (i, module) in [
        "mysql_query_rules",
        "mysql_servers",
        "mysql_users",
        "mysql_variables",
    ]
    .into_iter()
    .enumerate()
    {
        let origin = if i % 2 == 0 { real } else { pxadm };
        for value in ["false", "true"] {
            let set = format!("SET admin-checksum_{module}='{value}'");
            cluster
                .change_and_converge(
                    origin,
                    &[&set, "LOAD ADMIN VARIABLES TO RUNTIME"],
                    &format!("{set} on {origin}"),
                )
                .await;
        }
        // Whether the switch left the diffs at 0 depends on the memory order of the two
        // rows (a pull rewrites it), but both nodes must hold the same value.
        let diffs = format!("admin-cluster_{module}_diffs_before_sync");
        assert_eq!(
            runtime_variable(real, &diffs).await,
            runtime_variable(pxadm, &diffs).await,
            "{diffs}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_integer_values_converge_both_ways() {
    let Some(bin) = real_proxysql_bin("non_integer_values_converge_both_ways") else {
        return;
    };
    let cluster = MixedCluster::start(&bin).await;
    let [real, pxadm] = cluster.ports();

    // On the real node 'abc' runs as hostgroup 0; the pxadm node takes the pulled row as is.
    cluster
        .change_and_converge(
            real,
            &[
                "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES ('abc', 'typed', 3306)",
                "LOAD MYSQL SERVERS TO RUNTIME",
            ],
            "hostgroup_id='abc' on the real node",
        )
        .await;
    for port in [real, pxadm] {
        assert_eq!(
            runtime_hostgroups(port, "typed").await,
            [Some("0".to_owned())]
        );
    }

    // On the pxadm node the same LOAD is refused with the reason, and nothing changes.
    let before = checksums(pxadm).await;
    let mut conn = common::admin_conn(pxadm, ADMIN_USER, ADMIN_PASS).await;
    conn.query_drop(
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES ('10abc', 'typed2', 3306)",
    )
    .await
    .unwrap();
    let err = conn
        .query_drop("LOAD MYSQL SERVERS TO RUNTIME")
        .await
        .expect_err("LOAD with hostgroup_id='10abc' must be refused");
    let text = err.to_string();
    assert!(
        text.contains("mysql_servers.hostgroup_id is '10abc'") && text.contains("run with 10"),
        "{text}"
    );
    assert_eq!(checksums(pxadm).await, before);
    assert!(runtime_hostgroups(pxadm, "typed2").await.is_empty());

    // Fixed, it loads and the real node pulls it.
    cluster
        .change_and_converge(
            pxadm,
            &[
                "UPDATE mysql_servers SET hostgroup_id=10 WHERE hostname='typed2'",
                "LOAD MYSQL SERVERS TO RUNTIME",
            ],
            "the fixed row on the pxadm node",
        )
        .await;
    assert_eq!(
        runtime_hostgroups(real, "typed2").await,
        [Some("10".to_owned())]
    );

    // Users: default_hostgroup='10abc' runs as 10 on the real node, but the real node
    // serves its peers the rows as memory held them (its PROXY_SELECT of runtime_mysql_users
    // answers the loaded result set), so the pxadm node takes '10abc' as it comes and the
    // checksums agree.
    cluster
        .change_and_converge(
            real,
            &[
                "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('typed', 'pw', '10abc')",
                "LOAD MYSQL USERS TO RUNTIME",
            ],
            "default_hostgroup='10abc' on the real node",
        )
        .await;
    let mut conn = common::admin_conn(pxadm, ADMIN_USER, ADMIN_PASS).await;
    let rows = query_rows(
        &mut conn,
        "SELECT DISTINCT default_hostgroup FROM runtime_mysql_users WHERE username='typed'",
    )
    .await;
    assert_eq!(rows, [[Some("10abc".to_owned())]]);
}
