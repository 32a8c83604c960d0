//! Pulls (§6.6): fetch a module from the chosen peer, verify the checksum over exactly what
//! arrived, and only then hand it to the admin engine to replace MEMORY, load RUNTIME and
//! (optionally) save DISK. A peer that dies, stalls or sends data that does not hash to what
//! it announced leaves the local configuration untouched.

use std::time::Duration;

use crate::client::conn::{self, ClientError, NodeAddr};
use crate::core::admin::engine::PulledModule;
use crate::core::admin::runtime::{
    HOSTGROUP_TABLES, QUERY_RULES_COLUMNS, SERVERS_COLUMNS, USERS_COLUMNS,
};
use crate::core::admin::AdminHandle;
use crate::core::checksum;
use crate::core::resultset::ResultSet;
use crate::core::variables;
use crate::{px_error, px_info};

use super::state::{Module, PeerId};

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
    Client(#[from] ClientError),
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

fn label(kind: &PullKind) -> &'static str {
    match kind {
        PullKind::Module(Module::MysqlQueryRules) => "MySQL Query Rules",
        PullKind::Module(Module::MysqlUsers) => "MySQL Users",
        PullKind::Module(Module::AdminVariables) => "Admin Variables",
        PullKind::Module(Module::MysqlVariables) => "MySQL Variables",
        PullKind::Module(Module::ProxysqlServers) => "ProxySQL Servers",
        PullKind::ServersV2 { .. } => "MySQL Servers v2",
        PullKind::RuntimeServers | PullKind::Module(_) => "MySQL Servers",
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
    let what = label(&kind);
    let (host, port) = (peer.host.as_str(), peer.port);
    px_info!(
        "Cluster: Fetching {} from peer {}:{} started. Expected checksum: {}",
        what,
        host,
        port,
        expected.checksum
    );
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
            match &e {
                PullError::ChecksumMismatch { .. } => {
                    px_error!(
                        "Cluster: Fetching {} from peer {}:{} failed: {}",
                        what,
                        host,
                        port,
                        e
                    )
                }
                _ => px_error!(
                    "Cluster: Fetching {} from peer {}:{} failed: {}",
                    what,
                    host,
                    port,
                    e
                ),
            }
            return Err(e);
        }
    };
    px_info!(
        "Cluster: Fetching {} from peer {}:{} completed",
        what,
        host,
        port
    );
    px_info!(
        "Cluster: Loading to runtime {} from peer {}:{}",
        what,
        host,
        port
    );
    let exp = expected.checksum.clone();
    let epoch = expected.epoch;
    admin
        .call(move |e| e.apply_pull(pulled, &exp, epoch, save))
        .await
        .map_err(|e| PullError::Apply(e.to_string()))?
        .map_err(PullError::Apply)?;
    if save {
        px_info!(
            "Cluster: Saving to disk {} from peer {}:{}",
            what,
            host,
            port
        );
    } else {
        px_info!(
            "Cluster: NOT saving to disk {} from peer {}:{}",
            what,
            host,
            port
        );
    }
    Ok(())
}

async fn fetch_and_verify(
    peer: &PeerId,
    (connect_host, connect_port): (String, u16),
    (user, password): (&str, &str),
    kind: &PullKind,
    expected: &Expected,
    cluster_sync_interfaces: bool,
) -> Result<PulledModule, PullError> {
    let addr = NodeAddr {
        name: peer.to_string(),
        host: connect_host,
        port: connect_port,
        user: user.to_string(),
        password: password.to_string(),
    };
    let mut c = conn::connect(&addr, PULL_TIMEOUT).await?;
    let (host, port) = (peer.host.as_str(), peer.port);
    let result = async {
        let pulled = match kind {
            PullKind::Module(Module::MysqlQueryRules) => {
                let rules = conn::query_text(
                    &mut c,
                    &format!("PROXY_SELECT {QUERY_RULES_COLUMNS} FROM runtime_mysql_query_rules ORDER BY rule_id"),
                )
                .await?;
                let fast = conn::query_text(
                    &mut c,
                    "PROXY_SELECT username, schemaname, flagIN, destination_hostgroup, comment FROM runtime_mysql_query_rules_fast_routing ORDER BY username, schemaname, flagIN",
                )
                .await?;
                let hash = checksum::query_rules_checksum(&rules, &fast);
                px_info!(
                    "Cluster: Computed checksum for MySQL Query Rules from peer {}:{} : {}",
                    host,
                    port,
                    checksum::render(hash)
                );
                verify(&expected.checksum, hash)?;
                PulledModule::QueryRules { rules, fast_routing: fast }
            }
            PullKind::Module(Module::MysqlUsers) => {
                let users =
                    conn::query_text(&mut c, &format!("PROXY_SELECT {USERS_COLUMNS} FROM runtime_mysql_users")).await?;
                let hash = checksum::mysql_users_checksum(&users);
                px_info!(
                    "Cluster: Computed checksum for MySQL Users from peer {}:{} : {}",
                    host,
                    port,
                    checksum::render(hash)
                );
                verify(&expected.checksum, hash)?;
                PulledModule::Users(users)
            }
            PullKind::Module(m @ (Module::AdminVariables | Module::MysqlVariables)) => {
                let prefix = if *m == Module::AdminVariables { "admin-" } else { "mysql-" };
                let rows = conn::query_text(&mut c, &variables_query(prefix, cluster_sync_interfaces)).await?;
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
                verify(&expected.checksum, hash)?;
                PulledModule::Variables { prefix, rows: pairs }
            }
            PullKind::Module(Module::ProxysqlServers) => {
                let rows = conn::query_text(
                    &mut c,
                    "SELECT hostname, port, weight, comment FROM runtime_proxysql_servers ORDER BY hostname, port",
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
                PulledModule::ProxysqlServers(rows)
            }
            PullKind::ServersV2 { with_runtime } => {
                let v2 = conn::query_text(
                    &mut c,
                    &format!("PROXY_SELECT {SERVERS_COLUMNS} FROM mysql_servers_v2 WHERE status<>'OFFLINE_HARD' ORDER BY hostgroup_id, hostname, port"),
                )
                .await?;
                let mut parts = [0u64; 7];
                parts[0] = checksum::raw_checksum(&v2);
                let mut hostgroups = Vec::with_capacity(6);
                for (i, q) in hostgroup_queries().iter().enumerate() {
                    let rs = conn::query_text(&mut c, q).await?;
                    parts[i + 1] = checksum::raw_checksum(&rs);
                    hostgroups.push(rs);
                }
                let hash = checksum::mysql_servers_v2_checksum(parts);
                px_info!(
                    "Cluster: Computed checksum for MySQL Servers v2 from peer {}:{} : {}",
                    host,
                    port,
                    checksum::render(hash)
                );
                verify(&expected.checksum, hash)?;
                let (runtime, runtime_expected) = if *with_runtime {
                    let rs = fetch_runtime_servers(&mut c).await?;
                    let rt_hash = checksum::raw_checksum(&rs);
                    px_info!(
                        "Cluster: Computed checksum for MySQL Servers from peer {}:{} : {}",
                        host,
                        port,
                        checksum::render(rt_hash)
                    );
                    if let Some((exp, _)) = &expected.runtime {
                        verify(exp, rt_hash)?;
                    }
                    (Some(rs), expected.runtime.clone())
                } else {
                    (None, None)
                };
                debug_assert_eq!(hostgroups.len(), HOSTGROUP_TABLES.len());
                PulledModule::Servers {
                    v2,
                    hostgroups,
                    runtime,
                    runtime_expected,
                }
            }
            PullKind::RuntimeServers => {
                let rs = fetch_runtime_servers(&mut c).await?;
                let hash = checksum::raw_checksum(&rs);
                px_info!(
                    "Cluster: Computed checksum for MySQL Servers from peer {}:{} : {}",
                    host,
                    port,
                    checksum::render(hash)
                );
                verify(&expected.checksum, hash)?;
                PulledModule::RuntimeServers(rs)
            }
            PullKind::Module(Module::MysqlServers | Module::MysqlServersV2) => {
                return Err(PullError::Apply("servers are pulled through ServersV2/RuntimeServers".into()))
            }
        };
        Ok::<_, PullError>(pulled)
    }
    .await;
    c.close().await;
    result
}

async fn fetch_runtime_servers(c: &mut conn::Conn) -> Result<ResultSet, ClientError> {
    conn::query_text(
        c,
        &format!("PROXY_SELECT {SERVERS_COLUMNS} FROM runtime_mysql_servers WHERE status<>'OFFLINE_HARD' ORDER BY hostgroup_id, hostname, port"),
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

    #[test]
    fn mismatch_is_reported_with_both_checksums() {
        let e = verify("0x0000000000000001", 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Checksum changed from 0x0000000000000001 to 0x0000000000000000"
        );
    }
}
