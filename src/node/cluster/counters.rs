//! The cluster's own counters, as ProxySQL exports them: pulls per module and outcome
//! (`proxysql_cluster_pulled_total{module_name,status}`) and syncs skipped for a conflict
//! (`proxysql_cluster_syn_conflict_total{module_name,reason}`).

use std::collections::BTreeMap;

use parking_lot::Mutex;

use crate::proxysql::cluster::decision::SyncWarning;
use crate::proxysql::cluster::state::Module;

/// The `module_name` labels ProxySQL uses for the modules this node syncs
/// (`mysql_servers_v2` pulls count as `mysql_servers`, as in ProxySQL).
pub const MODULE_NAMES: [&str; 6] = [
    "admin_variables",
    "mysql_query_rules",
    "mysql_servers",
    "mysql_users",
    "mysql_variables",
    "proxysql_servers",
];

/// ProxySQL's `module_name` label for a module.
pub fn module_label(module: Module) -> &'static str {
    match module {
        Module::MysqlServersV2 => "mysql_servers",
        m => m.name(),
    }
}

/// ProxySQL's `reason` label for a sync warning.
pub fn reason_label(warning: SyncWarning) -> &'static str {
    match warning {
        SyncWarning::VersionOne => "version_one",
        SyncWarning::EqualEpochConflict => "servers_share_epoch",
    }
}

/// Counts since the node started.
#[derive(Debug, Default)]
pub struct ClusterCounters {
    /// (module_name, "success" | "failure") → pulls.
    pulled: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// (module_name, reason) → conflicts reported.
    conflicts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl ClusterCounters {
    /// Counts one pull of `module`.
    pub fn pulled(&self, module: Module, ok: bool) {
        let status = if ok { "success" } else { "failure" };
        *self
            .pulled
            .lock()
            .entry((module_label(module), status))
            .or_default() += 1;
    }

    /// Counts one sync skipped for `warning` (ProxySQL counts when it logs the warning).
    pub fn conflict(&self, module: Module, warning: SyncWarning) {
        *self
            .conflicts
            .lock()
            .entry((module_label(module), reason_label(warning)))
            .or_default() += 1;
    }

    /// Pulls of (module_name, status), 0 when none.
    pub fn pulls(&self, module_name: &str, status: &str) -> u64 {
        self.pulled
            .lock()
            .iter()
            .find(|((m, s), _)| *m == module_name && *s == status)
            .map_or(0, |(_, n)| *n)
    }

    /// Conflicts of (module_name, reason), 0 when none.
    pub fn conflicts(&self, module_name: &str, reason: &str) -> u64 {
        self.conflicts
            .lock()
            .iter()
            .find(|((m, r), _)| *m == module_name && *r == reason)
            .map_or(0, |(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_under_proxysql_labels() {
        let c = ClusterCounters::default();
        c.pulled(Module::MysqlServersV2, true);
        c.pulled(Module::MysqlServers, true);
        c.pulled(Module::MysqlUsers, false);
        c.conflict(Module::MysqlQueryRules, SyncWarning::VersionOne);
        assert_eq!(c.pulls("mysql_servers", "success"), 2);
        assert_eq!(c.pulls("mysql_users", "failure"), 1);
        assert_eq!(c.pulls("mysql_users", "success"), 0);
        assert_eq!(c.conflicts("mysql_query_rules", "version_one"), 1);
        assert_eq!(c.conflicts("mysql_query_rules", "servers_share_epoch"), 0);
    }
}
