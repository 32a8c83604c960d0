//! What a node remembers about each peer's configuration modules (spec §6.3).
//!
//! ProxySQL keeps, per peer and per module, the last announced version, epoch and checksum plus
//! two timestamps and the `diff_check` counter that gates syncing. This module holds that state
//! and reproduces `ProxySQL_Node_Entry::set_checksums` in two pure steps:
//! [`PeerChecksums::apply_fetched_rows`] when the peer's `runtime_checksums_values` was read
//! (its global checksum changed) and [`PeerChecksums::age_without_fetch`] when it was not.
//! Nothing here does I/O or logs; callers log the returned [`ChecksumEvent`]s.

use std::fmt;

use serde::Serialize;

use crate::proxysql::log::Level;
use crate::proxysql::resultset::ResultSet;

/// One of the seven configuration modules a 2.7 node tracks for its peers (no LDAP plugin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    /// `admin_variables`
    AdminVariables,
    /// `mysql_query_rules` (rules and fast routing)
    MysqlQueryRules,
    /// `mysql_servers`: the runtime server list
    MysqlServers,
    /// `mysql_users`
    MysqlUsers,
    /// `mysql_variables`
    MysqlVariables,
    /// `proxysql_servers`
    ProxysqlServers,
    /// `mysql_servers_v2`: the configured servers plus the six hostgroup tables
    MysqlServersV2,
}

impl Module {
    /// Every module, in `runtime_checksums_values` row order (§3.2).
    pub const ALL: [Module; 7] = [
        Module::AdminVariables,
        Module::MysqlQueryRules,
        Module::MysqlServers,
        Module::MysqlUsers,
        Module::MysqlVariables,
        Module::ProxysqlServers,
        Module::MysqlServersV2,
    ];

    /// The module's name as it appears in `runtime_checksums_values.name`.
    pub fn name(self) -> &'static str {
        match self {
            Module::AdminVariables => "admin_variables",
            Module::MysqlQueryRules => "mysql_query_rules",
            Module::MysqlServers => "mysql_servers",
            Module::MysqlUsers => "mysql_users",
            Module::MysqlVariables => "mysql_variables",
            Module::ProxysqlServers => "proxysql_servers",
            Module::MysqlServersV2 => "mysql_servers_v2",
        }
    }

    /// Parses a `runtime_checksums_values.name`; exact and case-sensitive like ProxySQL's
    /// `strcmp`, so unknown or differently spelled names are ignored by callers.
    pub fn from_name(name: &str) -> Option<Module> {
        Module::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The `admin-cluster_*_diffs_before_sync` variable governing this module
    /// (`mysql_servers_v2` shares the `mysql_servers` one).
    pub fn diffs_variable(self) -> &'static str {
        match self {
            Module::AdminVariables => "admin-cluster_admin_variables_diffs_before_sync",
            Module::MysqlQueryRules => "admin-cluster_mysql_query_rules_diffs_before_sync",
            Module::MysqlServers | Module::MysqlServersV2 => {
                "admin-cluster_mysql_servers_diffs_before_sync"
            }
            Module::MysqlUsers => "admin-cluster_mysql_users_diffs_before_sync",
            Module::MysqlVariables => "admin-cluster_mysql_variables_diffs_before_sync",
            Module::ProxysqlServers => "admin-cluster_proxysql_servers_diffs_before_sync",
        }
    }

    /// The admin command that reloads this module to runtime, bumping its version and epoch:
    /// what an operator runs on the authoritative node to unblock a cluster (§8.2).
    pub fn load_to_runtime(self) -> &'static str {
        match self {
            Module::AdminVariables => "LOAD ADMIN VARIABLES TO RUNTIME",
            Module::MysqlQueryRules => "LOAD MYSQL QUERY RULES TO RUNTIME",
            Module::MysqlServers | Module::MysqlServersV2 => "LOAD MYSQL SERVERS TO RUNTIME",
            Module::MysqlUsers => "LOAD MYSQL USERS TO RUNTIME",
            Module::MysqlVariables => "LOAD MYSQL VARIABLES TO RUNTIME",
            Module::ProxysqlServers => "LOAD PROXYSQL SERVERS TO RUNTIME",
        }
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value per module; the storage shape shared by peer state, local state and settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PerModule<T> {
    /// `admin_variables`
    pub admin_variables: T,
    /// `mysql_query_rules`
    pub mysql_query_rules: T,
    /// `mysql_servers`
    pub mysql_servers: T,
    /// `mysql_users`
    pub mysql_users: T,
    /// `mysql_variables`
    pub mysql_variables: T,
    /// `proxysql_servers`
    pub proxysql_servers: T,
    /// `mysql_servers_v2`
    pub mysql_servers_v2: T,
}

impl<T> PerModule<T> {
    /// Builds every entry from a function of the module.
    pub fn from_fn(mut f: impl FnMut(Module) -> T) -> Self {
        Self {
            admin_variables: f(Module::AdminVariables),
            mysql_query_rules: f(Module::MysqlQueryRules),
            mysql_servers: f(Module::MysqlServers),
            mysql_users: f(Module::MysqlUsers),
            mysql_variables: f(Module::MysqlVariables),
            proxysql_servers: f(Module::ProxysqlServers),
            mysql_servers_v2: f(Module::MysqlServersV2),
        }
    }

    /// The entry of one module.
    pub fn get(&self, module: Module) -> &T {
        match module {
            Module::AdminVariables => &self.admin_variables,
            Module::MysqlQueryRules => &self.mysql_query_rules,
            Module::MysqlServers => &self.mysql_servers,
            Module::MysqlUsers => &self.mysql_users,
            Module::MysqlVariables => &self.mysql_variables,
            Module::ProxysqlServers => &self.proxysql_servers,
            Module::MysqlServersV2 => &self.mysql_servers_v2,
        }
    }

    /// The entry of one module, mutably.
    pub fn get_mut(&mut self, module: Module) -> &mut T {
        match module {
            Module::AdminVariables => &mut self.admin_variables,
            Module::MysqlQueryRules => &mut self.mysql_query_rules,
            Module::MysqlServers => &mut self.mysql_servers,
            Module::MysqlUsers => &mut self.mysql_users,
            Module::MysqlVariables => &mut self.mysql_variables,
            Module::ProxysqlServers => &mut self.proxysql_servers,
            Module::MysqlServersV2 => &mut self.mysql_servers_v2,
        }
    }

    /// Entries in [`Module::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Module, &T)> {
        Module::ALL.into_iter().map(move |m| (m, self.get(m)))
    }
}

/// A node's own (version, epoch, checksum) for one module (§5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LocalModuleState {
    /// Number of loads to runtime since start; 1 after the startup load.
    pub version: u64,
    /// Unix seconds of the last load (or the adopted peer epoch).
    pub epoch: u64,
    /// Rendered checksum (`0x` + 16 hex digits); empty before the first load.
    pub checksum: String,
}

/// A node's own state for every module.
pub type LocalChecksums = PerModule<LocalModuleState>;

/// What this node last saw of one module on one peer: a row of
/// `stats_proxysql_servers_checksums` (§3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeerModuleState {
    /// Peer's version of the module.
    pub version: u64,
    /// Peer's epoch of the module.
    pub epoch: u64,
    /// Peer's checksum; empty until first fetched.
    pub checksum: String,
    /// Unix seconds when the peer's checksum was last seen to change (0 = never).
    pub changed_at: u64,
    /// Unix seconds of the last check of this peer (0 = never).
    pub updated_at: u64,
    /// Consecutive checks the peer's checksum differed from the local one.
    pub diff_check: u64,
}

/// Per-module `diffs_before_sync` settings (D); 0 disables syncing that module.
///
/// There are six variables for seven modules: `mysql_servers_v2` is governed by the
/// `mysql_servers` setting, which [`DiffsBeforeSync::get`] encodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffsBeforeSync {
    /// `admin-cluster_admin_variables_diffs_before_sync`
    pub admin_variables: u64,
    /// `admin-cluster_mysql_query_rules_diffs_before_sync`
    pub mysql_query_rules: u64,
    /// `admin-cluster_mysql_servers_diffs_before_sync` (also for `mysql_servers_v2`)
    pub mysql_servers: u64,
    /// `admin-cluster_mysql_users_diffs_before_sync`
    pub mysql_users: u64,
    /// `admin-cluster_mysql_variables_diffs_before_sync`
    pub mysql_variables: u64,
    /// `admin-cluster_proxysql_servers_diffs_before_sync`
    pub proxysql_servers: u64,
}

impl Default for DiffsBeforeSync {
    /// ProxySQL's defaults: 3 for every module.
    fn default() -> Self {
        Self::uniform(3)
    }
}

impl DiffsBeforeSync {
    /// The same D for every module.
    pub fn uniform(d: u64) -> Self {
        Self {
            admin_variables: d,
            mysql_query_rules: d,
            mysql_servers: d,
            mysql_users: d,
            mysql_variables: d,
            proxysql_servers: d,
        }
    }

    /// D for a module.
    pub fn get(&self, module: Module) -> u64 {
        match module {
            Module::AdminVariables => self.admin_variables,
            Module::MysqlQueryRules => self.mysql_query_rules,
            Module::MysqlServers | Module::MysqlServersV2 => self.mysql_servers,
            Module::MysqlUsers => self.mysql_users,
            Module::MysqlVariables => self.mysql_variables,
            Module::ProxysqlServers => self.proxysql_servers,
        }
    }
}

/// A row of `runtime_checksums_values` as a peer sends it: (name, version, epoch, checksum).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChecksumRow {
    /// Module name; unknown names are carried but ignored by the state machine.
    pub name: String,
    /// Version.
    pub version: u64,
    /// Epoch (unix seconds).
    pub epoch: u64,
    /// Rendered checksum.
    pub checksum: String,
}

/// Why a result set could not be read as checksum rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// Fewer columns than the table defines.
    #[error("expected at least {expected} columns, got {got}")]
    TooFewColumns {
        /// Columns needed.
        expected: usize,
        /// Columns received.
        got: usize,
    },
    /// A NOT NULL column arrived as NULL.
    #[error("row {row}: column {column} is NULL")]
    Null {
        /// Zero-based row index.
        row: usize,
        /// Column name.
        column: &'static str,
    },
    /// A numeric column held something else.
    #[error("row {row}: column {column} is not an unsigned integer: '{value}'")]
    NotANumber {
        /// Zero-based row index.
        row: usize,
        /// Column name.
        column: &'static str,
        /// Text received.
        value: String,
    },
}

impl ChecksumRow {
    /// Reads `runtime_checksums_values` rows **by position** (name, version, epoch, checksum),
    /// as peers do (§3.2), so the column names the server reports do not matter.
    pub fn parse_resultset(rs: &ResultSet) -> Result<Vec<ChecksumRow>, RowError> {
        const COLUMNS: [&str; 4] = ["name", "version", "epoch", "checksum"];
        rs.rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                if row.len() < COLUMNS.len() {
                    return Err(RowError::TooFewColumns {
                        expected: COLUMNS.len(),
                        got: row.len(),
                    });
                }
                let text = |c: usize| {
                    row[c].as_deref().ok_or(RowError::Null {
                        row: i,
                        column: COLUMNS[c],
                    })
                };
                Ok(ChecksumRow {
                    name: text(0)?.to_owned(),
                    version: parse_u64(text(1)?, i, COLUMNS[1])?,
                    epoch: parse_u64(text(2)?, i, COLUMNS[2])?,
                    checksum: text(3)?.to_owned(),
                })
            })
            .collect()
    }
}

/// Parses an unsigned decimal integer column, naming the offending cell on failure.
pub(crate) fn parse_u64(text: &str, row: usize, column: &'static str) -> Result<u64, RowError> {
    text.trim().parse().map_err(|_| RowError::NotANumber {
        row,
        column,
        value: text.to_owned(),
    })
}

/// Something [`PeerChecksums::apply_fetched_rows`] noticed that ProxySQL logs at INFO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ChecksumEvent {
    /// The peer announced a checksum different from the last one remembered for it.
    NewChecksumDetected {
        /// Module concerned.
        module: Module,
        /// Peer's version.
        version: u64,
        /// Peer's epoch.
        epoch: u64,
        /// Peer's new checksum.
        checksum: String,
        /// Whether D = 0 for this module, i.e. the change will never be synced.
        disabled: bool,
    },
    /// That new peer checksum equals the local one, so nothing will be synced.
    MatchesLocal {
        /// Module concerned.
        module: Module,
        /// The (shared) checksum.
        local_checksum: String,
    },
}

impl ChecksumEvent {
    /// Severity ProxySQL uses for this line.
    pub fn level(&self) -> Level {
        Level::Info
    }

    /// The exact text ProxySQL logs for this event (without the trailing newline).
    pub fn log_line(&self, peer_host: &str, peer_port: u16) -> String {
        match self {
            ChecksumEvent::NewChecksumDetected {
                module,
                version,
                epoch,
                checksum,
                disabled,
            } => {
                let tail = if *disabled {
                    format!(
                        "Not syncing due to '{}=0'.",
                        module.diffs_variable()
                    )
                } else {
                    "Not syncing yet ...".to_owned()
                };
                format!(
                    "Cluster: detected a new checksum for {module} from peer {peer_host}:{peer_port}, version {version}, epoch {epoch}, checksum {checksum} . {tail}"
                )
            }
            ChecksumEvent::MatchesLocal {
                module,
                local_checksum,
            } => format!(
                "Cluster: checksum for {module} from peer {peer_host}:{peer_port} matches with local checksum {local_checksum} , we won't sync."
            ),
        }
    }
}

/// Everything a node remembers about one peer's modules, plus the peer's last global checksum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeerChecksums {
    /// Per-module state.
    pub modules: PerModule<PeerModuleState>,
    /// Last `GLOBAL_CHECKSUM()` answer; 0 forces a fetch on the next check.
    pub global_checksum: u64,
}

impl PeerChecksums {
    /// State of one module.
    pub fn get(&self, module: Module) -> &PeerModuleState {
        self.modules.get(module)
    }

    /// Records a `SELECT GLOBAL_CHECKSUM()` answer; true when it differs from the remembered
    /// one, i.e. the caller must fetch `runtime_checksums_values` (§6.2 step 4a).
    pub fn note_global_checksum(&mut self, value: u64) -> bool {
        let changed = value != self.global_checksum;
        self.global_checksum = value;
        changed
    }

    /// Forgets the global checksum so every module is re-fetched on the next check (done when a
    /// `diffs_before_sync` is re-enabled or the servers sync algorithm changes, §4.1).
    pub fn reset_global_checksum(&mut self) {
        self.global_checksum = 0;
    }

    /// `set_checksums` with fetched rows (§6.3): updates each known module in row order and
    /// returns what ProxySQL would log. Rows with unknown names are ignored.
    pub fn apply_fetched_rows(
        &mut self,
        rows: &[ChecksumRow],
        local: &LocalChecksums,
        diffs_before_sync: &DiffsBeforeSync,
        now: u64,
    ) -> Vec<ChecksumEvent> {
        let mut events = Vec::new();
        for row in rows {
            let Some(module) = Module::from_name(&row.name) else {
                continue;
            };
            let local_checksum = &local.get(module).checksum;
            let state = self.modules.get_mut(module);
            state.version = row.version;
            state.epoch = row.epoch;
            state.updated_at = now;
            if state.checksum != row.checksum {
                state.checksum.clone_from(&row.checksum);
                state.changed_at = now;
                state.diff_check = 1;
                events.push(ChecksumEvent::NewChecksumDetected {
                    module,
                    version: state.version,
                    epoch: state.epoch,
                    checksum: state.checksum.clone(),
                    disabled: diffs_before_sync.get(module) == 0,
                });
                if state.checksum == *local_checksum {
                    events.push(ChecksumEvent::MatchesLocal {
                        module,
                        local_checksum: local_checksum.clone(),
                    });
                }
            } else {
                state.diff_check += 1;
            }
            if state.checksum == *local_checksum {
                state.diff_check = 0;
            }
        }
        events
    }

    /// `set_checksums` without rows (global checksum unchanged, §6.3): every module is marked
    /// checked, and a pending difference keeps counting although nothing was re-fetched.
    pub fn age_without_fetch(&mut self, local: &LocalChecksums, now: u64) {
        for module in Module::ALL {
            let state = self.modules.get_mut(module);
            state.updated_at = now;
            if state.checksum == local.get(module).checksum {
                state.diff_check = 0;
            }
            if state.diff_check != 0 {
                state.diff_check += 1;
            }
        }
    }
}

/// A peer's address as listed in `proxysql_servers`; displays as `host:port` like ProxySQL's
/// `%s:%d`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PeerId {
    /// `hostname` column.
    pub host: String,
    /// `port` column.
    pub port: u16,
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_round_trip_and_are_exact() {
        for m in Module::ALL {
            assert_eq!(Module::from_name(m.name()), Some(m));
        }
        assert_eq!(Module::from_name("MYSQL_USERS"), None);
        assert_eq!(Module::from_name("ldap_variables"), None);
        assert_eq!(
            Module::MysqlServersV2.diffs_variable(),
            "admin-cluster_mysql_servers_diffs_before_sync"
        );
    }

    #[test]
    fn v2_uses_the_mysql_servers_d() {
        let d = DiffsBeforeSync {
            mysql_servers: 7,
            ..DiffsBeforeSync::uniform(3)
        };
        assert_eq!(d.get(Module::MysqlServersV2), 7);
        assert_eq!(d.get(Module::MysqlUsers), 3);
    }

    #[test]
    fn parses_checksum_rows_by_position() {
        let mut rs = ResultSet::with_columns(["a", "b", "c", "d"]);
        rs.push_row([
            Some("mysql_users"),
            Some("2"),
            Some("1727969204"),
            Some("0x4C50FB16DB34D2E5"),
        ]);
        let rows = ChecksumRow::parse_resultset(&rs).unwrap();
        assert_eq!(
            rows,
            [ChecksumRow {
                name: "mysql_users".into(),
                version: 2,
                epoch: 1727969204,
                checksum: "0x4C50FB16DB34D2E5".into()
            }]
        );
    }

    #[test]
    fn rejects_malformed_checksum_rows() {
        let mut rs = ResultSet::with_columns(["name", "version", "epoch", "checksum"]);
        rs.push_row([Some("x"), Some("v2"), Some("1"), Some("0x0")]);
        assert_eq!(
            ChecksumRow::parse_resultset(&rs).unwrap_err().to_string(),
            "row 0: column version is not an unsigned integer: 'v2'"
        );
        let mut rs = ResultSet::with_columns(["name", "version", "epoch", "checksum"]);
        rs.push_row([Some("x"), Some("1"), Some("1"), None]);
        assert!(matches!(
            ChecksumRow::parse_resultset(&rs),
            Err(RowError::Null {
                column: "checksum",
                ..
            })
        ));
        let mut rs = ResultSet::with_columns(["name"]);
        rs.push_row([Some("x")]);
        assert!(matches!(
            ChecksumRow::parse_resultset(&rs),
            Err(RowError::TooFewColumns { got: 1, .. })
        ));
    }

    #[test]
    fn peer_id_displays_like_proxysql() {
        let p = PeerId {
            host: "192.168.0.11".into(),
            port: 6032,
        };
        assert_eq!(p.to_string(), "192.168.0.11:6032");
    }
}
