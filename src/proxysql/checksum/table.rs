//! The node's (checksum, version, epoch) triple per module and its global checksum (§5.4–§5.6).
//!
//! Shared behind a mutex because cluster monitor tasks compare peers against it on every check
//! while the admin engine updates it on every LOAD ... TO RUNTIME.

use crate::proxysql::checksum;

/// The clustered modules (`runtime_checksums_values` names); one type for the node and the
/// cluster logic.
pub use crate::proxysql::cluster::state::Module as ChecksumModule;

/// One module's (checksum, version, epoch); `checksum` is empty before the first load.
pub use crate::proxysql::cluster::state::LocalModuleState as ModuleChecksum;

use crate::proxysql::cluster::state::{LocalChecksums, PerModule};

/// Order in which `GLOBAL_CHECKSUM()` hashes the modules (§5.5).
pub const GLOBAL_ORDER: [ChecksumModule; 7] = [
    ChecksumModule::AdminVariables,
    ChecksumModule::MysqlQueryRules,
    ChecksumModule::MysqlServers,
    ChecksumModule::MysqlServersV2,
    ChecksumModule::MysqlUsers,
    ChecksumModule::MysqlVariables,
    ChecksumModule::ProxysqlServers,
];

/// How a load sets the epoch (§5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochSource<'a> {
    /// A local load or monitor action: now.
    Now,
    /// A load after a cluster pull: the peer's epoch if the checksum matches what it announced.
    Peer {
        /// Checksum the peer announced.
        expected: &'a str,
        /// Epoch the peer announced.
        epoch: u64,
    },
}

/// All modules of one node plus the global checksum.
#[derive(Debug, Clone, Default)]
pub struct ChecksumTable {
    modules: PerModule<ModuleChecksum>,
    global: u64,
    updates: u64,
}

impl ChecksumTable {
    /// One module's state.
    pub fn get(&self, module: ChecksumModule) -> &ModuleChecksum {
        self.modules.get(module)
    }

    /// Every module's state, as the cluster logic compares peers against it.
    pub fn local(&self) -> &LocalChecksums {
        &self.modules
    }

    /// Records a load of `module` whose content hashes to `hash`.
    /// `bump_version` is false only for monitor-driven runtime server changes.
    /// Returns the new state.
    pub fn record_load(
        &mut self,
        module: ChecksumModule,
        hash: u64,
        source: EpochSource<'_>,
        bump_version: bool,
        now: u64,
    ) -> ModuleChecksum {
        let rendered = checksum::render(hash);
        self.record_rendered(module, rendered, source, bump_version, now)
    }

    /// Like [`record_load`](Self::record_load) with an already rendered checksum (a pulled module
    /// whose checksum is installed as the peer announced it).
    pub fn record_rendered(
        &mut self,
        module: ChecksumModule,
        rendered: String,
        source: EpochSource<'_>,
        bump_version: bool,
        now: u64,
    ) -> ModuleChecksum {
        let epoch = match source {
            EpochSource::Peer { expected, epoch } if expected == rendered => epoch,
            _ => now,
        };
        let m = self.modules.get_mut(module);
        m.checksum = rendered;
        m.epoch = epoch;
        if bump_version {
            m.version += 1;
        }
        let out = m.clone();
        self.regenerate_global();
        out
    }

    fn regenerate_global(&mut self) {
        let parts: Vec<(&str, u64)> = GLOBAL_ORDER
            .iter()
            .map(|m| {
                let s = self.get(*m);
                (s.checksum.as_str(), s.version)
            })
            .collect();
        self.global = checksum::global_checksum(&parts);
        self.updates += 1;
    }

    /// `SELECT GLOBAL_CHECKSUM()`.
    pub fn global(&self) -> u64 {
        self.global
    }

    /// Increases whenever any module changes (drives the `runtime_checksums_values` rewrite).
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Rows of `runtime_checksums_values` in table order.
    pub fn rows(&self) -> Vec<(ChecksumModule, ModuleChecksum)> {
        ChecksumModule::ALL
            .iter()
            .map(|m| (*m, self.get(*m).clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_loads_give_version_one_and_the_documented_global_checksum() {
        let mut t = ChecksumTable::default();
        assert_eq!(t.global(), 0);
        for m in ChecksumModule::ALL {
            t.record_load(m, 0, EpochSource::Now, true, 1_730_000_000);
        }
        assert!(t
            .rows()
            .iter()
            .all(|(_, s)| s.version == 1 && s.checksum == "0x0000000000000000"));
        // §5.7: all seven at 0x0000000000000000, version 1.
        assert_eq!(t.global(), 1227464649817090930);
    }

    #[test]
    fn epoch_adopted_only_when_checksum_matches() {
        let mut t = ChecksumTable::default();
        let hash = 0x2b52c4893720475d_u64;
        let s = t.record_load(
            ChecksumModule::ProxysqlServers,
            hash,
            EpochSource::Peer {
                expected: "0x3720475D2B52C489",
                epoch: 42,
            },
            true,
            100,
        );
        assert_eq!((s.version, s.epoch), (1, 42));
        let s = t.record_load(
            ChecksumModule::ProxysqlServers,
            hash,
            EpochSource::Peer {
                expected: "0xDEADBEEF00000000",
                epoch: 42,
            },
            true,
            100,
        );
        assert_eq!((s.version, s.epoch), (2, 100));
        let s = t.record_load(ChecksumModule::MysqlServers, 1, EpochSource::Now, false, 7);
        assert_eq!((s.version, s.epoch), (0, 7));
    }
}
