//! When to pull a module from a peer, and from which peer (spec §6.3 end, §6.4, §6.5).
//!
//! Reproduces the checks `ProxySQL_Node_Entry::set_checksums` runs after updating a peer's
//! state, and `ProxySQL_Cluster_Nodes::get_peer_to_sync_<module>`, including their log texts
//! and quirks, as pure functions. The node's monitor calls [`evaluate`] /
//! [`evaluate_servers`] per peer in [`EVALUATION_ORDER`] and [`choose_peer`] at the start of
//! a pull; the console's diagnosis uses [`outlook`], which applies the same rule to predict
//! what a node will do next.

use std::fmt;

use serde::Serialize;

use super::state::{LocalChecksums, LocalModuleState, Module, PeerModuleState, PerModule};
use crate::proxysql::log::Level;

/// What the sync rule says about one module of one peer after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Module evaluated.
    pub module: Module,
    /// Run the module's pull procedure now (§6.6), expecting the peer's checksum and epoch.
    pub pull: bool,
    /// A periodic warning to log (every 10×D checks).
    pub warning: Option<SyncWarning>,
}

/// The two periodic complaints of the sync rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncWarning {
    /// The peer differs but is at version ≤ 1, so it is never a sync source (§8.2). WARNING.
    VersionOne,
    /// The peer differs with exactly our epoch: nobody can tell which config is newer. ERROR.
    EqualEpochConflict,
}

/// True when a `diff_check` value is one at which ProxySQL repeats a warning: a non-zero
/// multiple of 10×D. With D = 3 that is 30, 60, 90, …
fn is_repeat_tick(diff_check: u64, d: u64) -> bool {
    match d.checked_mul(10) {
        Some(period) if period > 0 => diff_check != 0 && diff_check % period == 0,
        _ => false,
    }
}

/// The heart of §6.4: a peer can be a sync source for us only if it has loaded the module
/// since it booted (version > 1) and either we just booted (own version 1) or its epoch is
/// strictly newer than ours.
fn is_source_candidate(peer: &PeerModuleState, own: &LocalModuleState) -> bool {
    peer.version > 1 && (own.version == 1 || peer.epoch > own.epoch)
}

/// Evaluates the sync rule (§6.4) for one module of one peer, with D = `d`
/// (its `diffs_before_sync`; 0 means the module is never evaluated).
pub fn evaluate(module: Module, peer: &PeerModuleState, own: &LocalModuleState, d: u64) -> Verdict {
    let mut verdict = Verdict {
        module,
        pull: false,
        warning: None,
    };
    if d == 0 {
        return verdict;
    }
    let tick = is_repeat_tick(peer.diff_check, d);
    if peer.version > 1 {
        verdict.pull = is_source_candidate(peer, own) && peer.diff_check >= d;
        // Checked independently of the pull: a just-booted node pulls *and* complains.
        if peer.epoch == own.epoch && tick {
            verdict.warning = Some(SyncWarning::EqualEpochConflict);
        }
    } else if tick {
        verdict.warning = Some(SyncWarning::VersionOne);
    }
    verdict
}

impl Verdict {
    /// The lines ProxySQL logs for this verdict, in order: the INFO "Proceeding with remote
    /// sync" line when pulling, then the warning if any.
    pub fn log_lines(
        &self,
        peer_host: &str,
        peer_port: u16,
        peer: &PeerModuleState,
        own: &LocalModuleState,
        d: u64,
    ) -> Vec<(Level, String)> {
        let mut lines = Vec::new();
        if self.pull {
            lines.push((
                Level::Info,
                pull_log_line(self.module, peer_host, peer_port, peer, own),
            ));
        }
        if let Some(w) = self.warning {
            lines.push((
                w.level(),
                w.log_line(self.module, peer_host, peer_port, peer, own, d),
            ));
        }
        lines
    }
}

/// ProxySQL's INFO line announcing a pull of `module` from a peer.
pub fn pull_log_line(
    module: Module,
    peer_host: &str,
    peer_port: u16,
    peer: &PeerModuleState,
    own: &LocalModuleState,
) -> String {
    format!(
        "Cluster: detected a peer {peer_host}:{peer_port} with {module} version {}, epoch {}, diff_check {}. Own version: {}, epoch: {}. Proceeding with remote sync",
        peer.version, peer.epoch, peer.diff_check, own.version, own.epoch
    )
}

impl SyncWarning {
    /// Severity ProxySQL logs the warning at.
    pub fn level(self) -> Level {
        match self {
            SyncWarning::VersionOne => Level::Warning,
            SyncWarning::EqualEpochConflict => Level::Error,
        }
    }

    /// The exact text ProxySQL logs (without the trailing newline), quirks included: the
    /// version-1 line names `mysql_servers` for the `mysql_servers_v2` module, and the conflict
    /// line tells to `LOAD MYSQL SERVERS TO RUNTIME` for query rules, users and proxysql servers.
    pub fn log_line(
        self,
        module: Module,
        peer_host: &str,
        peer_port: u16,
        peer: &PeerModuleState,
        own: &LocalModuleState,
        d: u64,
    ) -> String {
        let every = d.saturating_mul(10);
        match self {
            SyncWarning::VersionOne => {
                let name = match module {
                    Module::MysqlServersV2 => Module::MysqlServers.name(),
                    m => m.name(),
                };
                format!(
                    "Cluster: detected a peer {peer_host}:{peer_port} with {name} version {}, epoch {}, diff_check {}. Own version: {}, epoch: {}. diff_check is increasing, but version 1 doesn't allow sync. This message will be repeated every {every} checks until {} is executed on candidate master.",
                    peer.version,
                    peer.epoch,
                    peer.diff_check,
                    own.version,
                    own.epoch,
                    module.load_to_runtime()
                )
            }
            SyncWarning::EqualEpochConflict => {
                let load = match module {
                    Module::AdminVariables => "LOAD ADMIN VARIABLES TO RUNTIME",
                    Module::MysqlVariables => "LOAD MYSQL VARIABLES TO RUNTIME",
                    _ => "LOAD MYSQL SERVERS TO RUNTIME",
                };
                format!(
                    "Cluster: detected a peer {peer_host}:{peer_port} with {module} version {}, epoch {}, diff_check {}, checksum {}. Own version: {}, epoch: {}, checksum {}. Sync conflict, epoch times are EQUAL, can't determine which server holds the latest config, we won't sync. This message will be repeated every {every} checks until {load} is executed on candidate master.",
                    peer.version,
                    peer.epoch,
                    peer.diff_check,
                    peer.checksum,
                    own.version,
                    own.epoch,
                    own.checksum
                )
            }
        }
    }
}

/// One step of a peer's evaluation round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Evaluate this module with [`evaluate`].
    Module(Module),
    /// Evaluate `mysql_servers_v2` and possibly `mysql_servers` with [`evaluate_servers`].
    Servers,
}

/// Order in which modules are evaluated after each check of a peer (§6.3 end). Steps whose D is
/// 0 are skipped. `proxysql_servers` comes last because its pull can remove the very peer
/// being processed. D values are read once at the start of the round; the servers sync
/// algorithm is read when its step runs (after a possible admin-variables pull).
pub const EVALUATION_ORDER: [Step; 6] = [
    Step::Module(Module::AdminVariables),
    Step::Module(Module::MysqlQueryRules),
    Step::Servers,
    Step::Module(Module::MysqlUsers),
    Step::Module(Module::MysqlVariables),
    Step::Module(Module::ProxysqlServers),
];

/// `admin-cluster_mysql_servers_sync_algorithm` (§4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServersSyncAlgorithm {
    /// 1: sync the config (`mysql_servers_v2`) and the runtime list (`mysql_servers`).
    RuntimeAndV2,
    /// 2: sync the config only.
    V2Only,
    /// 3: 1 if the node runs without monitor (`-M`), else 2.
    Auto,
}

impl ServersSyncAlgorithm {
    /// From the variable's numeric value (1–3).
    pub fn from_value(value: u64) -> Option<Self> {
        match value {
            1 => Some(Self::RuntimeAndV2),
            2 => Some(Self::V2Only),
            3 => Some(Self::Auto),
            _ => None,
        }
    }

    /// The numeric value of the variable.
    pub fn value(self) -> u64 {
        match self {
            Self::RuntimeAndV2 => 1,
            Self::V2Only => 2,
            Self::Auto => 3,
        }
    }

    /// Whether runtime servers are synced, resolving `Auto` with the node's monitor setting.
    pub fn syncs_runtime(self, monitor_enabled: bool) -> bool {
        match self {
            Self::RuntimeAndV2 => true,
            Self::V2Only => false,
            Self::Auto => !monitor_enabled,
        }
    }
}

/// Which servers pull(s) to run after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "pull", rename_all = "snake_case")]
pub enum ServersPull {
    /// Nothing to pull.
    None,
    /// `pull_mysql_servers_v2_from_peer`, also fetching the runtime list when `with_runtime`.
    V2 {
        /// Algorithm 1: fetch `runtime_mysql_servers` in the same operation.
        with_runtime: bool,
    },
    /// `pull_runtime_mysql_servers_from_peer` (algorithm 1, no v2 pull this round).
    RuntimeOnly,
}

impl ServersPull {
    /// ProxySQL's INFO line logged before a v2 pull (`None` for the other cases).
    pub fn fetch_log_line(&self, peer_host: &str, peer_port: u16) -> Option<String> {
        match self {
            ServersPull::V2 { with_runtime } => Some(format!(
                "Cluster: Fetch mysql_servers_v2:'YES', mysql_servers:'{}' from peer {peer_host}:{peer_port}",
                if *with_runtime { "YES" } else { "NO" }
            )),
            _ => None,
        }
    }
}

/// Outcome of the servers step: the pull to run and both modules' verdicts for logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServersVerdict {
    /// Pull(s) to run.
    pub pull: ServersPull,
    /// Verdict on `mysql_servers_v2` (always evaluated first).
    pub v2: Verdict,
    /// Verdict on `mysql_servers`, evaluated only with runtime sync and no v2 pull.
    pub runtime: Option<Verdict>,
}

/// The servers step of §6.4: `mysql_servers_v2` first; with runtime sync (algorithm 1
/// resolved) and no v2 pull, then `mysql_servers` on its own. `d` is the mysql_servers D.
pub fn evaluate_servers(
    peer: &PerModule<PeerModuleState>,
    local: &LocalChecksums,
    d: u64,
    syncs_runtime: bool,
) -> ServersVerdict {
    let v2 = evaluate(
        Module::MysqlServersV2,
        &peer.mysql_servers_v2,
        &local.mysql_servers_v2,
        d,
    );
    if v2.pull {
        return ServersVerdict {
            pull: ServersPull::V2 {
                with_runtime: syncs_runtime,
            },
            v2,
            runtime: None,
        };
    }
    let runtime = (syncs_runtime && d != 0).then(|| {
        evaluate(
            Module::MysqlServers,
            &peer.mysql_servers,
            &local.mysql_servers,
            d,
        )
    });
    let pull = match runtime {
        Some(v) if v.pull => ServersPull::RuntimeOnly,
        _ => ServersPull::None,
    };
    ServersVerdict { pull, v2, runtime }
}

/// The peer to pull a module from (§6.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "choice", rename_all = "snake_case")]
pub enum PeerChoice<P> {
    /// Pull from this peer; `checksum` is what it announced (the pull verifies against it).
    Selected {
        /// Module.
        module: Module,
        /// The chosen peer.
        peer: P,
        /// Its version.
        version: u64,
        /// Its epoch.
        epoch: u64,
        /// Its checksum.
        checksum: String,
    },
    /// A newer epoch exists but has not reached D differing checks yet: skip this round.
    NotEnoughDiffCheck {
        /// Module.
        module: Module,
        /// The newer, unconfirmed epoch.
        max_epoch: u64,
        /// The epoch that would have been chosen.
        epoch: u64,
    },
    /// No peer qualifies.
    None,
}

/// Picks the peer to sync `module` from among `entries` (every node entry, in the node list's
/// iteration order), as `get_peer_to_sync_<module>` does — quirks included: `max_epoch` is
/// compared against the *selected* epoch only, so the outcome depends on the entries' order,
/// and epoch ties keep the first entry met.
pub fn choose_peer<P: Clone>(
    module: Module,
    entries: &[(P, &PeerModuleState)],
    d: u64,
) -> PeerChoice<P> {
    let mut epoch = 0;
    let mut max_epoch = 0;
    let mut selected: Option<(&P, &PeerModuleState)> = None;
    for (peer, state) in entries {
        if state.version > 1 && state.epoch > epoch {
            max_epoch = state.epoch;
            if state.diff_check >= d {
                epoch = state.epoch;
                selected = Some((peer, state));
            }
        }
    }
    match selected {
        Some(_) if max_epoch > epoch => PeerChoice::NotEnoughDiffCheck {
            module,
            max_epoch,
            epoch,
        },
        Some((peer, state)) => PeerChoice::Selected {
            module,
            peer: peer.clone(),
            version: state.version,
            epoch: state.epoch,
            checksum: state.checksum.clone(),
        },
        None => PeerChoice::None,
    }
}

impl<P: fmt::Display> PeerChoice<P> {
    /// The line ProxySQL logs for this choice, if any. `P` must display as `host:port`.
    pub fn log_line(&self) -> Option<(Level, String)> {
        match self {
            PeerChoice::Selected {
                module,
                peer,
                version,
                epoch,
                ..
            } => Some((
                Level::Info,
                format!(
                    "Cluster: detected peer {peer} with {module} version {version}, epoch {epoch}"
                ),
            )),
            PeerChoice::NotEnoughDiffCheck {
                module,
                max_epoch,
                epoch,
            } => {
                // The variables modules' text lacks the space before the comma.
                let sep = match module {
                    Module::AdminVariables | Module::MysqlVariables => ",",
                    _ => " ,",
                };
                Some((
                    Level::Warning,
                    format!(
                        "Cluster: detected a peer with {module} epoch {max_epoch}{sep} but not enough diff_check. We won't sync from epoch {epoch}: temporarily skipping sync"
                    ),
                ))
            }
            PeerChoice::None => None,
        }
    }
}

/// What a node will do about one peer's module, predicted with the §6.4 rule; for operators,
/// not for the monitor loop (which uses [`evaluate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outlook", rename_all = "snake_case")]
pub enum Outlook {
    /// The peer's checksum equals ours: nothing to do.
    Agrees,
    /// The peer's checksum is not known yet (never fetched).
    Unknown,
    /// D = 0: the difference is never synced.
    Disabled,
    /// The peer is at version ≤ 1 and can never be a source until it reloads.
    VersionOne,
    /// The peer is a valid source; the pull happens after `checks_left` more differing checks.
    Pending {
        /// Checks until `diff_check` reaches D.
        checks_left: u64,
    },
    /// The peer is a valid source and `diff_check` ≥ D: a pull is attempted on each check.
    Due,
    /// Same epoch, different checksum: never resolves by itself.
    EqualEpoch,
    /// Our config is newer (and we are past version 1): the peer should pull from us instead.
    PeerOlder,
}

/// Predicts the outcome of the sync rule for one peer's module as seen by a node.
pub fn outlook(peer: &PeerModuleState, own: &LocalModuleState, d: u64) -> Outlook {
    if peer.checksum.is_empty() {
        return Outlook::Unknown;
    }
    if peer.checksum == own.checksum {
        return Outlook::Agrees;
    }
    if d == 0 {
        return Outlook::Disabled;
    }
    if peer.version <= 1 {
        return Outlook::VersionOne;
    }
    if is_source_candidate(peer, own) {
        return match d.checked_sub(peer.diff_check) {
            Some(left) if left > 0 => Outlook::Pending { checks_left: left },
            _ => Outlook::Due,
        };
    }
    if peer.epoch == own.epoch {
        Outlook::EqualEpoch
    } else {
        Outlook::PeerOlder
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxysql::cluster::state::{ChecksumRow, DiffsBeforeSync, PeerChecksums, PeerId};

    fn peer(version: u64, epoch: u64, checksum: &str, diff_check: u64) -> PeerModuleState {
        PeerModuleState {
            version,
            epoch,
            checksum: checksum.to_owned(),
            diff_check,
            ..Default::default()
        }
    }

    fn own(version: u64, epoch: u64, checksum: &str) -> LocalModuleState {
        LocalModuleState {
            version,
            epoch,
            checksum: checksum.to_owned(),
        }
    }

    const NODE1_QR: &str = "0x9DEAF45E6E662B5F";
    const EMPTY: &str = "0x0000000000000000";

    #[test]
    fn rule_table() {
        use SyncWarning::*;
        // (peer v, peer e, dc, own v, own e, D) -> (pull, warning)
        type Case = ((u64, u64, u64, u64, u64, u64), (bool, Option<SyncWarning>));
        let table: &[Case] = &[
            // peer at version 1: never pulls, warns at non-zero multiples of 10×D
            ((1, 100, 3, 1, 200, 3), (false, None)),
            ((1, 100, 29, 1, 200, 3), (false, None)),
            ((1, 100, 30, 1, 200, 3), (false, Some(VersionOne))),
            ((1, 100, 31, 1, 200, 3), (false, None)),
            ((1, 100, 60, 1, 200, 3), (false, Some(VersionOne))),
            ((1, 300, 60, 5, 200, 3), (false, Some(VersionOne))),
            ((0, 0, 0, 1, 200, 3), (false, None)),
            // newer epoch: pull once dc >= D
            ((2, 300, 1, 2, 200, 3), (false, None)),
            ((2, 300, 2, 2, 200, 3), (false, None)),
            ((2, 300, 3, 2, 200, 3), (true, None)),
            ((2, 300, 4, 2, 200, 3), (true, None)),
            // own version 1 ("just booted") accepts an older epoch
            ((2, 100, 3, 1, 200, 3), (true, None)),
            ((2, 100, 2, 1, 200, 3), (false, None)),
            // older epoch, own version > 1: nothing, ever
            ((2, 100, 30, 2, 200, 3), (false, None)),
            // equal epochs: conflict every 10×D, and a just-booted node still pulls
            ((2, 200, 29, 2, 200, 3), (false, None)),
            ((2, 200, 30, 2, 200, 3), (false, Some(EqualEpochConflict))),
            ((2, 200, 30, 1, 200, 3), (true, Some(EqualEpochConflict))),
            // D = 0 disables everything
            ((2, 300, 30, 2, 200, 0), (false, None)),
            ((1, 300, 30, 2, 200, 0), (false, None)),
            // D = 1: warnings every 10 checks
            ((1, 300, 10, 2, 200, 1), (false, Some(VersionOne))),
        ];
        for &((pv, pe, dc, ov, oe, d), (pull, warning)) in table {
            let v = evaluate(
                Module::MysqlQueryRules,
                &peer(pv, pe, "0xA", dc),
                &own(ov, oe, "0xB"),
                d,
            );
            assert_eq!(
                (v.pull, v.warning),
                (pull, warning),
                "peer v{pv} e{pe} dc{dc}, own v{ov} e{oe}, D{d}"
            );
        }
    }

    #[test]
    fn warning_levels() {
        assert_eq!(SyncWarning::VersionOne.level(), Level::Warning);
        assert_eq!(SyncWarning::EqualEpochConflict.level(), Level::Error);
    }

    /// Drives node2's state for node1 through checks like the monitor loop does.
    struct Monitor {
        state: PeerChecksums,
        local: LocalChecksums,
        d: DiffsBeforeSync,
        now: u64,
    }

    impl Monitor {
        fn check(
            &mut self,
            rows: Option<&[ChecksumRow]>,
        ) -> Vec<crate::proxysql::cluster::state::ChecksumEvent> {
            self.now += 1;
            match rows {
                Some(rows) => self
                    .state
                    .apply_fetched_rows(rows, &self.local, &self.d, self.now),
                None => {
                    self.state.age_without_fetch(&self.local, self.now);
                    Vec::new()
                }
            }
        }

        fn verdict(&self, m: Module) -> Verdict {
            evaluate(m, self.state.get(m), self.local.get(m), self.d.get(m))
        }
    }

    fn row(name: &str, version: u64, epoch: u64, checksum: &str) -> ChecksumRow {
        ChecksumRow {
            name: name.to_owned(),
            version,
            epoch,
            checksum: checksum.to_owned(),
        }
    }

    fn node2_step4() -> Monitor {
        let mut local = LocalChecksums::default();
        *local.get_mut(Module::MysqlQueryRules) = own(1, 1728013985, EMPTY);
        Monitor {
            state: PeerChecksums::default(),
            local,
            d: DiffsBeforeSync::default(),
            now: 1728014000,
        }
    }

    #[test]
    fn scenario_step4_version_one_warns_at_30_and_60_and_never_pulls() {
        let mut m = node2_step4();
        let rows = [row("mysql_query_rules", 1, 1727968666, NODE1_QR)];
        let events = m.check(Some(&rows));
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].log_line("192.168.0.11", 6032),
            "Cluster: detected a new checksum for mysql_query_rules from peer 192.168.0.11:6032, version 1, epoch 1727968666, checksum 0x9DEAF45E6E662B5F . Not syncing yet ..."
        );
        let mut warned_at = Vec::new();
        for _ in 0..150 {
            let dc = m.state.get(Module::MysqlQueryRules).diff_check;
            let v = m.verdict(Module::MysqlQueryRules);
            assert!(!v.pull, "pulled at dc {dc}");
            if v.warning.is_some() {
                warned_at.push(dc);
            }
            m.check(None);
        }
        assert_eq!(warned_at, [30, 60, 90, 120, 150]);
        // The scenario's exact log line, at diff_check 150.
        let p = m.state.get(Module::MysqlQueryRules).clone();
        let p = PeerModuleState {
            diff_check: 150,
            ..p
        };
        let line = SyncWarning::VersionOne.log_line(
            Module::MysqlQueryRules,
            "192.168.0.11",
            6032,
            &p,
            m.local.get(Module::MysqlQueryRules),
            3,
        );
        assert_eq!(
            line,
            "Cluster: detected a peer 192.168.0.11:6032 with mysql_query_rules version 1, epoch 1727968666, diff_check 150. Own version: 1, epoch: 1728013985. diff_check is increasing, but version 1 doesn't allow sync. This message will be repeated every 30 checks until LOAD MYSQL QUERY RULES TO RUNTIME is executed on candidate master."
        );
    }

    #[test]
    fn scenario_step5_reload_on_node1_triggers_pull_on_next_check() {
        let mut m = node2_step4();
        m.check(Some(&[row("mysql_query_rules", 1, 1727968666, NODE1_QR)]));
        for _ in 0..40 {
            m.check(None);
        }
        // LOAD MYSQL QUERY RULES TO RUNTIME on node1: same content, version 2, new epoch.
        let events = m.check(Some(&[row("mysql_query_rules", 2, 1728020000, NODE1_QR)]));
        assert!(
            events.is_empty(),
            "checksum unchanged, no new-checksum event"
        );
        let v = m.verdict(Module::MysqlQueryRules);
        assert!(v.pull);
        let lines = v.log_lines(
            "192.168.0.11",
            6032,
            m.state.get(Module::MysqlQueryRules),
            m.local.get(Module::MysqlQueryRules),
            3,
        );
        assert_eq!(
            lines,
            [(
                Level::Info,
                "Cluster: detected a peer 192.168.0.11:6032 with mysql_query_rules version 2, epoch 1728020000, diff_check 42. Own version: 1, epoch: 1728013985. Proceeding with remote sync".to_owned()
            )]
        );
    }

    #[test]
    fn fresh_difference_with_newer_epoch_pulls_at_third_check() {
        let mut m = node2_step4();
        *m.local.get_mut(Module::MysqlUsers) = own(2, 1000, "0xOLD");
        let rows = [row("mysql_users", 2, 2000, "0xNEW")];
        m.check(Some(&rows));
        assert!(!m.verdict(Module::MysqlUsers).pull, "dc 1");
        m.check(None);
        assert!(!m.verdict(Module::MysqlUsers).pull, "dc 2");
        m.check(None);
        assert_eq!(m.state.get(Module::MysqlUsers).diff_check, 3);
        assert!(m.verdict(Module::MysqlUsers).pull, "dc 3");
        // After the pull our checksum equals the peer's: counter drops to 0, no more pulls.
        *m.local.get_mut(Module::MysqlUsers) = own(3, 2000, "0xNEW");
        m.check(None);
        assert_eq!(m.state.get(Module::MysqlUsers).diff_check, 0);
        assert!(!m.verdict(Module::MysqlUsers).pull);
    }

    #[test]
    fn equal_epoch_conflict_message_at_30() {
        let p = peer(2, 1728000000, "0xAAAA", 30);
        let o = own(3, 1728000000, "0xBBBB");
        for (module, load) in [
            (Module::MysqlQueryRules, "LOAD MYSQL SERVERS TO RUNTIME"),
            (Module::MysqlUsers, "LOAD MYSQL SERVERS TO RUNTIME"),
            (Module::ProxysqlServers, "LOAD MYSQL SERVERS TO RUNTIME"),
            (Module::MysqlServersV2, "LOAD MYSQL SERVERS TO RUNTIME"),
            (Module::AdminVariables, "LOAD ADMIN VARIABLES TO RUNTIME"),
            (Module::MysqlVariables, "LOAD MYSQL VARIABLES TO RUNTIME"),
        ] {
            let v = evaluate(module, &p, &o, 3);
            assert_eq!(v.warning, Some(SyncWarning::EqualEpochConflict));
            assert!(!v.pull);
            let line = v.log_lines("10.0.0.2", 6032, &p, &o, 3).pop().unwrap();
            assert_eq!(line.0, Level::Error);
            assert_eq!(
                line.1,
                format!("Cluster: detected a peer 10.0.0.2:6032 with {module} version 2, epoch 1728000000, diff_check 30, checksum 0xAAAA. Own version: 3, epoch: 1728000000, checksum 0xBBBB. Sync conflict, epoch times are EQUAL, can't determine which server holds the latest config, we won't sync. This message will be repeated every 30 checks until {load} is executed on candidate master.")
            );
        }
    }

    #[test]
    fn version_one_line_names_mysql_servers_for_v2() {
        let p = peer(1, 10, "0xA", 60);
        let o = own(1, 20, "0xB");
        let line = SyncWarning::VersionOne.log_line(Module::MysqlServersV2, "h", 1, &p, &o, 3);
        assert!(line.contains(" with mysql_servers version 1,"), "{line}");
        assert!(
            line.ends_with("until LOAD MYSQL SERVERS TO RUNTIME is executed on candidate master.")
        );
        let line = SyncWarning::VersionOne.log_line(Module::ProxysqlServers, "h", 1, &p, &o, 3);
        assert!(line
            .ends_with("until LOAD PROXYSQL SERVERS TO RUNTIME is executed on candidate master."));
    }

    #[test]
    fn disabled_module_logs_not_syncing_due_and_keeps_counting() {
        let mut m = node2_step4();
        m.d.mysql_servers = 0;
        m.local.mysql_servers_v2 = own(2, 1000, "0xOLD");
        let events = m.check(Some(&[row("mysql_servers_v2", 2, 2000, "0xNEW")]));
        assert_eq!(
            events[0].log_line("h", 6032),
            "Cluster: detected a new checksum for mysql_servers_v2 from peer h:6032, version 2, epoch 2000, checksum 0xNEW . Not syncing due to 'admin-cluster_mysql_servers_diffs_before_sync=0'."
        );
        for _ in 0..30 {
            m.check(None);
        }
        assert_eq!(m.state.get(Module::MysqlServersV2).diff_check, 31);
        let sv = evaluate_servers(&m.state.modules, &m.local, 0, true);
        assert_eq!(sv.pull, ServersPull::None);
        assert_eq!(sv.v2.warning, None);
        assert_eq!(sv.runtime, None);
    }

    #[test]
    fn diff_check_resets_when_peer_matches_local() {
        let mut m = node2_step4();
        m.local.mysql_users = own(2, 1000, "0xSAME");
        let events = m.check(Some(&[row("mysql_users", 5, 900, "0xSAME")]));
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1].log_line("h", 6032),
            "Cluster: checksum for mysql_users from peer h:6032 matches with local checksum 0xSAME , we won't sync."
        );
        assert_eq!(m.state.get(Module::MysqlUsers).diff_check, 0);
        // Same checksum fetched again: incremented, then reset by the local match.
        m.check(Some(&[row("mysql_users", 5, 900, "0xSAME")]));
        assert_eq!(m.state.get(Module::MysqlUsers).diff_check, 0);
        // A differing peer whose checksum we later adopt also drops to 0 without a fetch.
        m.check(Some(&[row("mysql_users", 6, 950, "0xOTHER")]));
        m.check(None);
        assert_eq!(m.state.get(Module::MysqlUsers).diff_check, 2);
        m.local.mysql_users.checksum = "0xOTHER".into();
        m.check(None);
        assert_eq!(m.state.get(Module::MysqlUsers).diff_check, 0);
    }

    #[test]
    fn fetched_rows_update_timestamps_and_ignore_unknown_names() {
        let mut m = node2_step4();
        let events = m.check(Some(&[
            row("ldap_variables", 2, 5, "0xL"),
            row("some_future_module", 2, 5, "0xF"),
            row("proxysql_servers", 3, 77, "0xP"),
        ]));
        assert_eq!(events.len(), 1);
        let p = m.state.get(Module::ProxysqlServers);
        assert_eq!((p.version, p.epoch, p.checksum.as_str()), (3, 77, "0xP"));
        assert_eq!(
            (p.changed_at, p.updated_at, p.diff_check),
            (m.now, m.now, 1)
        );
        let changed = m.now;
        m.check(Some(&[row("proxysql_servers", 4, 78, "0xP")]));
        let p = m.state.get(Module::ProxysqlServers);
        assert_eq!((p.version, p.epoch), (4, 78));
        assert_eq!(
            (p.changed_at, p.updated_at, p.diff_check),
            (changed, m.now, 2)
        );
        // Modules absent from the rows are untouched by a fetch.
        assert_eq!(m.state.get(Module::MysqlUsers).updated_at, 0);
    }

    #[test]
    fn aging_without_fetch() {
        let mut m = node2_step4();
        m.local.mysql_variables = own(2, 1, "0xL");
        m.state.modules.mysql_variables = peer(2, 2, "0xP", 0);
        m.state.modules.admin_variables = peer(2, 2, "0xP", 4);
        m.check(None);
        // A zero counter stays zero although the checksums differ: only a fetch starts counting.
        assert_eq!(m.state.get(Module::MysqlVariables).diff_check, 0);
        assert_eq!(m.state.get(Module::AdminVariables).diff_check, 5);
        for module in Module::ALL {
            assert_eq!(m.state.get(module).updated_at, m.now, "{module}");
        }
    }

    #[test]
    fn global_checksum_change_detection() {
        let mut p = PeerChecksums::default();
        assert!(p.note_global_checksum(42));
        assert!(!p.note_global_checksum(42));
        p.reset_global_checksum();
        assert!(p.note_global_checksum(42));
    }

    #[test]
    fn servers_step_by_algorithm() {
        let mut peer_mods = PerModule::<PeerModuleState>::default();
        let mut local = LocalChecksums::default();
        peer_mods.mysql_servers_v2 = peer(3, 500, "0xV2P", 3);
        peer_mods.mysql_servers = peer(3, 500, "0xRTP", 3);
        local.mysql_servers_v2 = own(2, 400, "0xV2L");
        local.mysql_servers = own(2, 400, "0xRTL");
        let sv = evaluate_servers(&peer_mods, &local, 3, true);
        assert_eq!(sv.pull, ServersPull::V2 { with_runtime: true });
        assert_eq!(sv.runtime, None);
        assert_eq!(
            sv.pull.fetch_log_line("h", 6032).unwrap(),
            "Cluster: Fetch mysql_servers_v2:'YES', mysql_servers:'YES' from peer h:6032"
        );
        let sv = evaluate_servers(&peer_mods, &local, 3, false);
        assert_eq!(
            sv.pull,
            ServersPull::V2 {
                with_runtime: false
            }
        );
        assert!(sv
            .pull
            .fetch_log_line("h", 1)
            .unwrap()
            .contains("mysql_servers:'NO'"));

        // Config in sync, runtime differs (monitor-driven change on the peer).
        peer_mods.mysql_servers_v2 = peer(3, 400, "0xV2L", 0);
        let sv = evaluate_servers(&peer_mods, &local, 3, true);
        assert_eq!(sv.pull, ServersPull::RuntimeOnly);
        assert!(sv.runtime.unwrap().pull);
        let sv = evaluate_servers(&peer_mods, &local, 3, false);
        assert_eq!(sv.pull, ServersPull::None);
        assert_eq!(sv.runtime, None);

        // Both at version 1 (scenario step 4): two version-1 warnings with algorithm 1.
        peer_mods.mysql_servers_v2 = peer(1, 100, "0xV2P", 30);
        peer_mods.mysql_servers = peer(1, 100, "0xRTP", 30);
        local.mysql_servers_v2 = own(1, 200, EMPTY);
        local.mysql_servers = own(1, 200, EMPTY);
        let sv = evaluate_servers(&peer_mods, &local, 3, true);
        assert_eq!(sv.pull, ServersPull::None);
        assert_eq!(sv.v2.warning, Some(SyncWarning::VersionOne));
        assert_eq!(sv.runtime.unwrap().warning, Some(SyncWarning::VersionOne));
    }

    #[test]
    fn algorithm_values() {
        assert_eq!(ServersSyncAlgorithm::from_value(0), None);
        assert_eq!(ServersSyncAlgorithm::from_value(4), None);
        for v in 1..=3 {
            assert_eq!(ServersSyncAlgorithm::from_value(v).unwrap().value(), v);
        }
        assert!(ServersSyncAlgorithm::Auto.syncs_runtime(false));
        assert!(!ServersSyncAlgorithm::Auto.syncs_runtime(true));
        assert!(ServersSyncAlgorithm::RuntimeAndV2.syncs_runtime(true));
        assert!(!ServersSyncAlgorithm::V2Only.syncs_runtime(false));
    }

    #[test]
    fn evaluation_order_ends_with_proxysql_servers() {
        assert_eq!(EVALUATION_ORDER[2], Step::Servers);
        assert_eq!(EVALUATION_ORDER[5], Step::Module(Module::ProxysqlServers));
    }

    fn id(host: &str) -> PeerId {
        PeerId {
            host: host.to_owned(),
            port: 6032,
        }
    }

    #[test]
    fn peer_choice_with_several_peers() {
        let a = peer(2, 100, "0xA", 5);
        let b = peer(3, 300, "0xB", 4);
        let c = peer(1, 900, "0xC", 50); // version 1: ignored
        let d = peer(4, 300, "0xD", 9); // ties with b: first met wins
        let entries = [(id("a"), &a), (id("b"), &b), (id("c"), &c), (id("d"), &d)];
        let choice = choose_peer(Module::MysqlQueryRules, &entries, 3);
        assert_eq!(
            choice,
            PeerChoice::Selected {
                module: Module::MysqlQueryRules,
                peer: id("b"),
                version: 3,
                epoch: 300,
                checksum: "0xB".into()
            }
        );
        assert_eq!(
            choice.log_line().unwrap(),
            (
                Level::Info,
                "Cluster: detected peer b:6032 with mysql_query_rules version 3, epoch 300"
                    .to_owned()
            )
        );
        assert_eq!(
            choose_peer(Module::MysqlQueryRules, &entries[2..3], 3),
            PeerChoice::None
        );
        assert_eq!(
            choose_peer::<PeerId>(Module::MysqlQueryRules, &[], 3),
            PeerChoice::None
        );
    }

    #[test]
    fn peer_choice_max_epoch_quirk_depends_on_order() {
        let old_confirmed = peer(2, 100, "0xA", 5);
        let new_unconfirmed = peer(2, 200, "0xB", 1);
        // Confirmed first, newer unconfirmed after: skip this round.
        let entries = [(id("old"), &old_confirmed), (id("new"), &new_unconfirmed)];
        let choice = choose_peer(Module::MysqlUsers, &entries, 3);
        assert_eq!(
            choice,
            PeerChoice::NotEnoughDiffCheck {
                module: Module::MysqlUsers,
                max_epoch: 200,
                epoch: 100
            }
        );
        assert_eq!(
            choice.log_line().unwrap(),
            (
                Level::Warning,
                "Cluster: detected a peer with mysql_users epoch 200 , but not enough diff_check. We won't sync from epoch 100: temporarily skipping sync".to_owned()
            )
        );
        // Reverse order: max_epoch is overwritten by the older confirmed peer, which is chosen.
        let entries = [(id("new"), &new_unconfirmed), (id("old"), &old_confirmed)];
        assert!(matches!(
            choose_peer(Module::MysqlUsers, &entries, 3),
            PeerChoice::Selected { epoch: 100, .. }
        ));
        // The variables modules' message has no space before the comma.
        let nc = PeerChoice::<PeerId>::NotEnoughDiffCheck {
            module: Module::AdminVariables,
            max_epoch: 2,
            epoch: 1,
        };
        assert!(nc.log_line().unwrap().1.starts_with(
            "Cluster: detected a peer with admin_variables epoch 2, but not enough diff_check."
        ));
    }

    #[test]
    fn outlook_table() {
        let table: &[(PeerModuleState, LocalModuleState, u64, Outlook)] = &[
            (peer(0, 0, "", 0), own(1, 5, "0xL"), 3, Outlook::Unknown),
            (peer(1, 5, "0xL", 0), own(1, 5, "0xL"), 3, Outlook::Agrees),
            (peer(2, 9, "0xP", 7), own(2, 5, "0xL"), 0, Outlook::Disabled),
            (
                peer(1, 9, "0xP", 7),
                own(1, 5, "0xL"),
                3,
                Outlook::VersionOne,
            ),
            (
                peer(2, 9, "0xP", 1),
                own(2, 5, "0xL"),
                3,
                Outlook::Pending { checks_left: 2 },
            ),
            (peer(2, 9, "0xP", 3), own(2, 5, "0xL"), 3, Outlook::Due),
            (peer(2, 1, "0xP", 3), own(1, 5, "0xL"), 3, Outlook::Due),
            (
                peer(2, 5, "0xP", 3),
                own(2, 5, "0xL"),
                3,
                Outlook::EqualEpoch,
            ),
            (
                peer(2, 4, "0xP", 3),
                own(2, 5, "0xL"),
                3,
                Outlook::PeerOlder,
            ),
        ];
        for (p, o, d, expected) in table {
            assert_eq!(outlook(p, o, *d), *expected, "{p:?} {o:?} D{d}");
            // The prediction agrees with the rule: Due is exactly when evaluate pulls.
            let pulls = evaluate(Module::MysqlUsers, p, o, *d).pull;
            assert_eq!(pulls, *expected == Outlook::Due, "{p:?} {o:?} D{d}");
        }
    }
}
