//! Pulls (§6.6): fetch a module from the chosen peer, verify the checksum over exactly what
//! arrived, and only then hand it to the admin engine to replace MEMORY, load RUNTIME and
//! (optionally) save DISK. A peer that dies, stalls or sends data that does not hash to what
//! it announced leaves the local configuration untouched.

use std::time::Duration;

use super::peer::{self, PeerAddr, PeerConn, PeerError};
use crate::node::admin::engine::PulledModule;
use crate::node::admin::AdminHandle;
use crate::proxysql::checksum;
use crate::proxysql::columns::{
    HOSTGROUP_TABLES, QUERY_RULES_COLUMNS, SERVERS_COLUMNS, USERS_COLUMNS,
};
use crate::proxysql::resultset::ResultSet;
use crate::proxysql::variables;
use crate::px_info;

use crate::proxysql::cluster::state::{Module, PeerId};

/// Timeout of a pull connection and of each fetch query: a stalled peer must not hold the
/// node's single sync slot forever (ProxySQL has none and documents the hang, §8.3).
pub const PULL_TIMEOUT: Duration = Duration::from_secs(5);

/// What to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullKind {
    /// One of the simple modules (query rules, users, variables, proxysql servers).
    Module(Module),
    /// `mysql_servers_v2` and the hostgroup tables, with the runtime servers when `with_runtime`.
    ServersV2 {
        /// Also fetch and verify the runtime `mysql_servers` (algorithm 1).
        with_runtime: bool,
    },
    /// Runtime `mysql_servers` only.
    RuntimeServers,
}

/// What the peer announced, that the fetched data must hash to.
#[derive(Debug, Clone)]
pub struct Expected {
    /// Checksum of the module (for servers: of `mysql_servers_v2`).
    pub checksum: String,
    /// Epoch to adopt.
    pub epoch: u64,
    /// For servers pulls: the peer's runtime `mysql_servers` checksum and epoch.
    pub runtime: Option<(String, u64)>,
}

/// Why a pull did not apply anything.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// Could not reach the peer or a query failed.
    #[error("{0}")]
    Peer(#[from] PeerError),
    /// The data did not hash to the announced checksum.
    #[error("Checksum changed from {expected} to {computed}")]
    ChecksumMismatch {
        /// Announced.
        expected: String,
        /// Computed over what arrived.
        computed: String,
    },
    /// The engine refused to apply it.
    #[error("{0}")]
    Apply(String),
}

/// The pull procedures of ProxySQL (one per `pull_*_from_peer` function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Procedure {
    QueryRules,
    Users,
    /// `vars_type_str`: `Admin` or `MySQL`.
    Variables(&'static str),
    ProxysqlServers,
    ServersV2,
    RuntimeServers,
}

impl Procedure {
    fn of(kind: &PullKind) -> Procedure {
        match kind {
            PullKind::Module(Module::MysqlQueryRules) => Procedure::QueryRules,
            PullKind::Module(Module::MysqlUsers) => Procedure::Users,
            PullKind::Module(Module::AdminVariables) => Procedure::Variables("Admin"),
            PullKind::Module(Module::MysqlVariables) => Procedure::Variables("MySQL"),
            PullKind::Module(Module::ProxysqlServers) => Procedure::ProxysqlServers,
            PullKind::ServersV2 { .. }
            | PullKind::Module(Module::MysqlServers | Module::MysqlServersV2) => {
                Procedure::ServersV2
            }
            PullKind::RuntimeServers => Procedure::RuntimeServers,
        }
    }

    /// What the "Loading to runtime", "Saving to disk" and "Checksum changed" lines name.
    fn subject(self) -> String {
        match self {
            Procedure::QueryRules => "MySQL Query Rules".into(),
            Procedure::Users => "MySQL Users".into(),
            Procedure::Variables(t) => format!("{t} Variables"),
            Procedure::ProxysqlServers => "ProxySQL Servers".into(),
            Procedure::ServersV2 | Procedure::RuntimeServers => "MySQL Servers v2".into(),
        }
    }
}

/// ProxySQL's log texts of one pull (`lib/ProxySQL_Cluster.cpp`, 2.7.2). Wording and
/// punctuation differ per procedure (`Expected checksum:` vs `Expected checksum`, `variables`
/// vs `Variables`, the servers pulls' "Not saving ... failed." on success); they are
/// reproduced as they are because log parsers and DBAs match them. ProxySQL logs all of them,
/// failures included, at INFO.
struct Texts<'a> {
    procedure: Procedure,
    host: &'a str,
    port: u16,
}

impl<'a> Texts<'a> {
    fn new(kind: &PullKind, host: &'a str, port: u16) -> Self {
        Texts {
            procedure: Procedure::of(kind),
            host,
            port,
        }
    }

    fn started(&self, expected: &str) -> String {
        let (h, p) = (self.host, self.port);
        match self.procedure {
            Procedure::Variables(t) => {
                format!("Cluster: Fetching {t} variables from peer {h}:{p} started")
            }
            Procedure::ServersV2 => format!(
                "Cluster: Fetching MySQL Servers v2 from peer {h}:{p} started. Expected checksum {expected}"
            ),
            Procedure::RuntimeServers => format!(
                "Cluster: Fetching 'MySQL Servers' from peer {h}:{p} started. Expected checksum {expected}"
            ),
            other => format!(
                "Cluster: Fetching {} from peer {h}:{p} started. Expected checksum: {expected}",
                other.subject()
            ),
        }
    }

    /// A connection or query failure (ProxySQL appends `mysql_error()`).
    fn failed(&self, error: &str) -> String {
        let subject = match self.procedure {
            Procedure::ServersV2 | Procedure::RuntimeServers => "MySQL Servers".to_string(),
            other => other.subject(),
        };
        format!(
            "Cluster: Fetching {subject} from peer {}:{} failed: {error}",
            self.host, self.port
        )
    }

    /// The discarded-pull line; `None` for the runtime-servers pull, whose mismatch ProxySQL
    /// ignores silently.
    fn mismatch(&self, expected: &str, computed: &str) -> Option<String> {
        let (h, p) = (self.host, self.port);
        match self.procedure {
            Procedure::RuntimeServers => None,
            Procedure::QueryRules => Some(format!(
                "Cluster: Fetching MySQL Query Rules from peer {h}:{p} failed because of mismatching checksum. Expected: {expected} , Computed: {computed}"
            )),
            other => Some(format!(
                "Cluster: Fetching {} from peer {h}:{p} failed: Checksum changed from {expected} to {computed}",
                other.subject()
            )),
        }
    }

    fn loading(&self) -> Option<String> {
        (self.procedure != Procedure::RuntimeServers).then(|| {
            format!(
                "Cluster: Loading to runtime {} from peer {}:{}",
                self.procedure.subject(),
                self.host,
                self.port
            )
        })
    }

    fn saving(&self, save: bool) -> Option<String> {
        let (h, p) = (self.host, self.port);
        match (self.procedure, save) {
            (procedure, true) => Some(format!(
                "Cluster: Saving to disk {} from peer {h}:{p}",
                procedure.subject()
            )),
            (Procedure::Variables(_) | Procedure::RuntimeServers, false) => None,
            (Procedure::ServersV2, false) => Some(format!(
                "Cluster: Not saving to disk MySQL Servers from peer {h}:{p} failed."
            )),
            (procedure, false) => Some(format!(
                "Cluster: NOT saving to disk {} from peer {h}:{p}",
                procedure.subject()
            )),
        }
    }
}

/// The `admin-cluster_<module>_save_to_disk` variable of a pull.
fn save_variable(kind: &PullKind) -> &'static str {
    match kind {
        PullKind::Module(Module::MysqlQueryRules) => "admin-cluster_mysql_query_rules_save_to_disk",
        PullKind::Module(Module::MysqlUsers) => "admin-cluster_mysql_users_save_to_disk",
        PullKind::Module(Module::AdminVariables) => "admin-cluster_admin_variables_save_to_disk",
        PullKind::Module(Module::MysqlVariables) => "admin-cluster_mysql_variables_save_to_disk",
        PullKind::Module(Module::ProxysqlServers) => "admin-cluster_proxysql_servers_save_to_disk",
        _ => "admin-cluster_mysql_servers_save_to_disk",
    }
}

/// The variables fetch of §6.6 (plain SQL on the peer).
fn variables_query(prefix: &str, cluster_sync_interfaces: bool) -> String {
    let mut sql =
        format!("SELECT * FROM runtime_global_variables WHERE variable_name LIKE '{prefix}%'");
    if prefix == "mysql-" {
        sql.push_str(" AND variable_name NOT IN ('mysql-threads')");
    }
    if !cluster_sync_interfaces {
        if prefix == "admin-" {
            sql.push_str(" AND variable_name NOT IN ('admin-mysql_ifaces','admin-restapi_port','admin-telnet_admin_ifaces','admin-telnet_stats_ifaces','admin-web_port')");
        } else {
            sql.push_str(" AND variable_name NOT IN ('mysql-interfaces')");
        }
    }
    sql.push_str(" ORDER BY variable_name");
    sql
}

/// The six hostgroup fetch queries, in checksum order (§6.6 queries 2-7).
pub fn hostgroup_queries() -> [String; 6] {
    [
        "PROXY_SELECT writer_hostgroup, reader_hostgroup, comment FROM runtime_mysql_replication_hostgroups ORDER BY writer_hostgroup".into(),
        "PROXY_SELECT writer_hostgroup, backup_writer_hostgroup, reader_hostgroup, offline_hostgroup, active, max_writers, writer_is_also_reader, max_transactions_behind, comment FROM runtime_mysql_group_replication_hostgroups ORDER BY writer_hostgroup".into(),
        "PROXY_SELECT writer_hostgroup, backup_writer_hostgroup, reader_hostgroup, offline_hostgroup, active, max_writers, writer_is_also_reader, max_transactions_behind, comment FROM runtime_mysql_galera_hostgroups ORDER BY writer_hostgroup".into(),
        "PROXY_SELECT writer_hostgroup, reader_hostgroup, active, aurora_port, domain_name, max_lag_ms, check_interval_ms, check_timeout_ms, writer_is_also_reader, new_reader_weight, add_lag_ms, min_lag_ms, lag_num_checks, comment FROM runtime_mysql_aws_aurora_hostgroups ORDER BY writer_hostgroup".into(),
        "PROXY_SELECT hostgroup_id, max_num_online_servers, autocommit, free_connections_pct, init_connect, multiplex, connection_warming, throttle_connections_per_sec, ignore_session_variables, hostgroup_settings, servers_defaults, comment FROM runtime_mysql_hostgroup_attributes ORDER BY hostgroup_id".into(),
        "PROXY_SELECT hostname, port, username, ssl_ca, ssl_cert, ssl_key, ssl_capath, ssl_crl, ssl_crlpath, ssl_cipher, tls_version, comment FROM runtime_mysql_servers_ssl_params ORDER BY hostname, port, username".into(),
    ]
}

fn verify(expected: &str, hash: u64) -> Result<(), PullError> {
    let computed = checksum::render(hash);
    if computed == expected {
        Ok(())
    } else {
        Err(PullError::ChecksumMismatch {
            expected: expected.to_string(),
            computed,
        })
    }
}

/// Fetches, verifies and applies one module from `peer`. Logs as ProxySQL does.
#[allow(clippy::too_many_arguments)]
pub async fn pull(
    admin: &AdminHandle,
    peer: &PeerId,
    connect_to: (String, u16),
    creds: (&str, &str),
    kind: PullKind,
    expected: Expected,
    save: bool,
    cluster_sync_interfaces: bool,
) -> Result<(), PullError> {
    let texts = Texts::new(&kind, &peer.host, peer.port);
    px_info!("{}", texts.started(&expected.checksum));
    let result = fetch_and_verify(
        peer,
        connect_to,
        creds,
        &kind,
        &expected,
        cluster_sync_interfaces,
    )
    .await;
    let pulled = match result {
        Ok(p) => p,
        Err(e) => {
            let line = match &e {
                PullError::ChecksumMismatch { expected, computed } => {
                    texts.mismatch(expected, computed)
                }
                other => Some(texts.failed(&other.to_string())),
            };
            if let Some(line) = line {
                px_info!("{}", line);
            }
            return Err(e);
        }
    };
    if matches!(kind, PullKind::ServersV2 { .. }) {
        for table in std::iter::once("mysql_servers").chain(HOSTGROUP_TABLES.map(|(t, _)| t)) {
            px_info!("Cluster: Writing {} table", table);
        }
    }
    if let Some(line) = texts.loading() {
        px_info!("{}", line);
    }
    let exp = expected.checksum.clone();
    let epoch = expected.epoch;
    admin
        .call(move |e| e.apply_pull(pulled, &exp, epoch, save))
        .await
        .map_err(|e| PullError::Apply(e.to_string()))?
        .map_err(PullError::Apply)?;
    if let Some(line) = texts.saving(save) {
        px_info!("{}", line);
    }
    Ok(())
}

/// The progress lines ProxySQL's `fetch_and_store` prints around the hostgroup queries of a
/// servers pull, in [`hostgroup_queries`] order (the replication hostgroups have none).
const HOSTGROUP_FETCH_NAMES: [Option<&str>; 6] = [
    None,
    Some("MySQL Group Replication Hostgroups"),
    Some("MySQL Galera Hostgroups"),
    Some("MySQL Aurora Hostgroups"),
    Some("MySQL Hostgroup Attributes"),
    Some("MySQL Servers SSL Params"),
];

/// Connects to the peer, fetches the module and verifies it against the expected checksum.
async fn fetch_and_verify(
    peer: &PeerId,
    (connect_host, connect_port): (String, u16),
    (user, password): (&str, &str),
    kind: &PullKind,
    expected: &Expected,
    cluster_sync_interfaces: bool,
) -> Result<PulledModule, PullError> {
    let addr = PeerAddr {
        host: connect_host,
        port: connect_port,
        user: user.to_string(),
        password: password.to_string(),
    };
    let mut c = peer::connect(&addr, PULL_TIMEOUT).await?;
    let at = (peer.host.as_str(), peer.port);
    let result = match kind {
        PullKind::Module(Module::MysqlQueryRules) => fetch_query_rules(&mut c, at, expected).await,
        PullKind::Module(Module::MysqlUsers) => fetch_users(&mut c, at, expected).await,
        PullKind::Module(m @ (Module::AdminVariables | Module::MysqlVariables)) => {
            fetch_variables(&mut c, at, expected, *m, cluster_sync_interfaces).await
        }
        PullKind::Module(Module::ProxysqlServers) => {
            fetch_proxysql_servers(&mut c, at, expected).await
        }
        PullKind::ServersV2 { with_runtime } => {
            fetch_servers_v2(&mut c, at, expected, *with_runtime).await
        }
        PullKind::RuntimeServers => fetch_runtime_servers_only(&mut c, at, expected).await,
        PullKind::Module(Module::MysqlServers | Module::MysqlServersV2) => Err(PullError::Apply(
            "servers are pulled through ServersV2/RuntimeServers".into(),
        )),
    };
    c.close().await;
    result
}

/// Query rules and fast routing, verified against the rules checksum.
async fn fetch_query_rules(
    c: &mut PeerConn,
    (host, port): (&str, u16),
    expected: &Expected,
) -> Result<PulledModule, PullError> {
    let rules = c
        .query(&format!(
            "PROXY_SELECT {QUERY_RULES_COLUMNS} FROM runtime_mysql_query_rules ORDER BY rule_id"
        ))
        .await?;
    let fast = c.query("PROXY_SELECT username, schemaname, flagIN, destination_hostgroup, comment FROM runtime_mysql_query_rules_fast_routing ORDER BY username, schemaname, flagIN",
    )
    .await?;
    px_info!(
        "Cluster: Fetching MySQL Query Rules from peer {}:{} completed",
        host,
        port
    );
    let hash = checksum::query_rules_checksum(&rules, &fast);
    px_info!(
        "Cluster: Computed checksum for MySQL Query Rules from peer {}:{} : {}",
        host,
        port,
        checksum::render(hash)
    );
    verify(&expected.checksum, hash)?;
    Ok(PulledModule::QueryRules {
        rules,
        fast_routing: fast,
    })
}

/// Users, verified against the users checksum.
async fn fetch_users(
    c: &mut PeerConn,
    (host, port): (&str, u16),
    expected: &Expected,
) -> Result<PulledModule, PullError> {
    let users = c
        .query(&format!(
            "PROXY_SELECT {USERS_COLUMNS} FROM runtime_mysql_users"
        ))
        .await?;
    px_info!(
        "Cluster: Fetching MySQL Users from peer {}:{} completed",
        host,
        port
    );
    let hash = checksum::mysql_users_checksum(&users);
    px_info!(
        "Cluster: Computed checksum for MySQL Users from peer {}:{} : {}",
        host,
        port,
        checksum::render(hash)
    );
    verify(&expected.checksum, hash)?;
    Ok(PulledModule::Users(users))
}

/// Admin or MySQL variables, minus the ones excluded from the checksum.
async fn fetch_variables(
    c: &mut PeerConn,
    (host, port): (&str, u16),
    expected: &Expected,
    module: Module,
    cluster_sync_interfaces: bool,
) -> Result<PulledModule, PullError> {
    let (prefix, label) = if module == Module::AdminVariables {
        ("admin-", "Admin")
    } else {
        ("mysql-", "MySQL")
    };
    let rows = c
        .query(&variables_query(prefix, cluster_sync_interfaces))
        .await?;
    px_info!(
        "Cluster: Fetching {} Variables from peer {}:{} completed",
        label,
        host,
        port
    );
    // Only the two (name, value) columns count, whatever else the peer sends.
    let mut pairs = ResultSet::with_columns(["variable_name", "variable_value"]);
    for r in &rows.rows {
        let name = r.first().cloned().flatten().unwrap_or_default();
        if variables::checksum_excluded(&name, cluster_sync_interfaces) {
            continue;
        }
        pairs.push_row([Some(name), r.get(1).cloned().flatten()]);
    }
    let hash = checksum::raw_checksum(&pairs);
    px_info!(
        "Cluster: Computed checksum for {} Variables from peer {}:{} : {}",
        label,
        host,
        port,
        checksum::render(hash)
    );
    verify(&expected.checksum, hash)?;
    Ok(PulledModule::Variables {
        prefix,
        rows: pairs,
    })
}

/// `proxysql_servers`.
async fn fetch_proxysql_servers(
    c: &mut PeerConn,
    (host, port): (&str, u16),
    expected: &Expected,
) -> Result<PulledModule, PullError> {
    let rows = c.query("SELECT hostname, port, weight, comment FROM runtime_proxysql_servers ORDER BY hostname, port",
    )
    .await?;
    let hash = checksum::raw_checksum(&rows);
    px_info!(
        "Cluster: Fetching ProxySQL Servers from peer {}:{} completed. Computed checksum: {}",
        host,
        port,
        checksum::render(hash)
    );
    verify(&expected.checksum, hash)?;
    Ok(PulledModule::ProxysqlServers(rows))
}

/// `mysql_servers_v2`, the hostgroup tables and, with `with_runtime`, the runtime servers.
/// Everything is fetched first, then both checksums are verified (§6.6).
async fn fetch_servers_v2(
    c: &mut PeerConn,
    (host, port): (&str, u16),
    expected: &Expected,
    with_runtime: bool,
) -> Result<PulledModule, PullError> {
    // Everything is fetched first, then both checksums are verified (§6.6).
    let v2 = c.query(&format!("PROXY_SELECT {SERVERS_COLUMNS} FROM mysql_servers_v2 WHERE status<>'OFFLINE_HARD' ORDER BY hostgroup_id, hostname, port"),
    )
    .await?;
    px_info!(
        "Cluster: Fetching 'MySQL Servers v2' from peer {}:{} completed",
        host,
        port
    );
    let mut parts = [0u64; 7];
    parts[0] = checksum::raw_checksum(&v2);
    let mut hostgroups = Vec::with_capacity(6);
    for (i, q) in hostgroup_queries().iter().enumerate() {
        if let Some(name) = HOSTGROUP_FETCH_NAMES[i] {
            px_info!("Cluster: Fetching '{}' from peer {}:{}", name, host, port);
        }
        let rs = c.query(q).await?;
        parts[i + 1] = checksum::raw_checksum(&rs);
        hostgroups.push(rs);
    }
    let runtime = if with_runtime {
        let rs = fetch_runtime_servers(c).await?;
        px_info!(
            "Cluster: Fetching 'MySQL Servers' from peer {}:{} completed",
            host,
            port
        );
        Some(rs)
    } else {
        None
    };
    let hash = checksum::mysql_servers_v2_checksum(parts);
    px_info!(
        "Cluster: Computed checksum for MySQL Servers v2 from peer {}:{} : {}",
        host,
        port,
        checksum::render(hash)
    );
    let mut runtime_matches = true;
    if let Some(rs) = &runtime {
        let rt_hash = checksum::raw_checksum(rs);
        px_info!(
            "Cluster: Computed checksum for MySQL Servers from peer {}:{} : {}",
            host,
            port,
            checksum::render(rt_hash)
        );
        if let Some((exp, _)) = &expected.runtime {
            runtime_matches = verify(exp, rt_hash).is_ok();
        }
    }
    // ProxySQL reports a runtime mismatch with the v2 checksums, matching or not.
    let v2_ok = verify(&expected.checksum, hash);
    if v2_ok.is_err() || !runtime_matches {
        return Err(PullError::ChecksumMismatch {
            expected: expected.checksum.clone(),
            computed: checksum::render(hash),
        });
    }
    px_info!(
        "Cluster: Fetching checksum for 'MySQL Servers' from peer {}:{} successful. Checksum: {}",
        host,
        port,
        checksum::render(hash)
    );
    debug_assert_eq!(hostgroups.len(), HOSTGROUP_TABLES.len());
    let runtime_expected = runtime.as_ref().and(expected.runtime.clone());
    Ok(PulledModule::Servers {
        v2,
        hostgroups,
        runtime,
        runtime_expected,
    })
}

/// The runtime servers alone.
async fn fetch_runtime_servers_only(
    c: &mut PeerConn,
    (host, port): (&str, u16),
    expected: &Expected,
) -> Result<PulledModule, PullError> {
    let rs = fetch_runtime_servers(c).await?;
    px_info!(
        "Cluster: Fetching 'MySQL Servers' from peer {}:{} completed",
        host,
        port
    );
    let hash = checksum::raw_checksum(&rs);
    px_info!(
        "Cluster: Computed checksum for MySQL Servers from peer {}:{} : {}",
        host,
        port,
        checksum::render(hash)
    );
    verify(&expected.checksum, hash)?;
    Ok(PulledModule::RuntimeServers(rs))
}

async fn fetch_runtime_servers(c: &mut PeerConn) -> Result<ResultSet, PeerError> {
    c.query(&format!("PROXY_SELECT {SERVERS_COLUMNS} FROM runtime_mysql_servers WHERE status<>'OFFLINE_HARD' ORDER BY hostgroup_id, hostname, port"),
    )
    .await
}

/// The save-to-disk variable for a pull (exposed for the monitor).
pub fn save_to_disk_variable(kind: &PullKind) -> &'static str {
    save_variable(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_queries_exclude_interfaces_unless_synced() {
        let q = variables_query("mysql-", false);
        assert!(
            q.contains("NOT IN ('mysql-threads')") && q.contains("NOT IN ('mysql-interfaces')")
        );
        let q = variables_query("admin-", true);
        assert!(!q.contains("admin-mysql_ifaces"));
        assert!(q.ends_with("ORDER BY variable_name"));
    }

    fn texts(kind: PullKind) -> Texts<'static> {
        Texts::new(&kind, "192.168.0.11", 6032)
    }

    #[test]
    fn log_texts_are_proxysqls_per_procedure() {
        let rules = texts(PullKind::Module(Module::MysqlQueryRules));
        assert_eq!(
            rules.started("0xA"),
            "Cluster: Fetching MySQL Query Rules from peer 192.168.0.11:6032 started. Expected checksum: 0xA"
        );
        assert_eq!(
            rules.mismatch("0xA", "0xB").unwrap(),
            "Cluster: Fetching MySQL Query Rules from peer 192.168.0.11:6032 failed because of mismatching checksum. Expected: 0xA , Computed: 0xB"
        );
        assert_eq!(
            rules.saving(false).unwrap(),
            "Cluster: NOT saving to disk MySQL Query Rules from peer 192.168.0.11:6032"
        );
        let users = texts(PullKind::Module(Module::MysqlUsers));
        assert_eq!(
            users.mismatch("0xA", "0xB").unwrap(),
            "Cluster: Fetching MySQL Users from peer 192.168.0.11:6032 failed: Checksum changed from 0xA to 0xB"
        );
        let servers = texts(PullKind::ServersV2 { with_runtime: true });
        assert_eq!(
            servers.started("0xA"),
            "Cluster: Fetching MySQL Servers v2 from peer 192.168.0.11:6032 started. Expected checksum 0xA"
        );
        assert_eq!(
            servers.failed("timeout"),
            "Cluster: Fetching MySQL Servers from peer 192.168.0.11:6032 failed: timeout"
        );
        assert_eq!(
            servers.loading().unwrap(),
            "Cluster: Loading to runtime MySQL Servers v2 from peer 192.168.0.11:6032"
        );
        assert_eq!(
            servers.saving(false).unwrap(),
            "Cluster: Not saving to disk MySQL Servers from peer 192.168.0.11:6032 failed."
        );
        let admin = texts(PullKind::Module(Module::AdminVariables));
        assert_eq!(
            admin.started("0xA"),
            "Cluster: Fetching Admin variables from peer 192.168.0.11:6032 started"
        );
        assert_eq!(
            admin.saving(true).unwrap(),
            "Cluster: Saving to disk Admin Variables from peer 192.168.0.11:6032"
        );
        assert_eq!(admin.saving(false), None);
        let mysql = texts(PullKind::Module(Module::MysqlVariables));
        assert_eq!(
            mysql.mismatch("0xA", "0xB").unwrap(),
            "Cluster: Fetching MySQL Variables from peer 192.168.0.11:6032 failed: Checksum changed from 0xA to 0xB"
        );
        let proxies = texts(PullKind::Module(Module::ProxysqlServers));
        assert_eq!(
            proxies.started("0xA"),
            "Cluster: Fetching ProxySQL Servers from peer 192.168.0.11:6032 started. Expected checksum: 0xA"
        );
        let runtime = texts(PullKind::RuntimeServers);
        assert_eq!(
            runtime.started("0xA"),
            "Cluster: Fetching 'MySQL Servers' from peer 192.168.0.11:6032 started. Expected checksum 0xA"
        );
        assert_eq!(runtime.mismatch("0xA", "0xB"), None, "ignored silently");
        assert_eq!(runtime.loading(), None);
    }

    #[test]
    fn mismatch_is_reported_with_both_checksums() {
        let e = verify("0x0000000000000001", 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Checksum changed from 0x0000000000000001 to 0x0000000000000000"
        );
    }
}
