//! The diagnosis engine: from one poll of every node to findings an operator can act on.
//!
//! Pure: it reads [`NodeSnapshot`]s and predicts what each node's cluster monitor will do with
//! the same rule the embedded node runs ([`outlook`] and [`choose_peer`] from
//! `core::cluster::decision`), so the console and the node cannot disagree about the rule.
//!
//! Rules, in the order they are applied:
//!
//! 1. **Console cannot poll a node** → `PeerUnreachable` (I/O, timeout, protocol) or
//!    `CredentialsRefused` (the console's own login got `Access denied`). Critical.
//! 2. **`@@version` differs** between reachable nodes → `VersionMismatch`. Critical: ProxySQL
//!    refuses to cluster with a peer whose version string differs by one character.
//! 3. **Links**: node N's `stats_proxysql_servers_checksums` rows for peer P are *stale* when
//!    their `updated_at` is 0 (never checked) or lags N's freshest row by more than
//!    `max(5 s, 3 × check interval + 2 s)`; N's freshest row is normally N's check of itself, so
//!    this is immune to clock skew between the console and N. A stale link is explained as:
//!    * versions differ → already covered by rule 2;
//!    * P was polled and its `admin-admin_credentials` does not list N's
//!      `admin-cluster_username` → `CredentialsRefused` (P refuses N's cluster user); the fix
//!      adds the user on P;
//!    * otherwise → `PeerUnreachable` seen by N (network, or a wrong cluster password, which the
//!      console cannot see since passwords are masked).
//!
//!    A node with an empty `admin-cluster_username` monitors nobody → `SyncDisabled` (node level).
//! 4. **Modules**: if every polled node has the same checksum → `InSync` (versions legitimately
//!    differ). Otherwise each node's fresh rows for differing peers are run through the rule:
//!    * a valid source exists → `Converging { puller, source, checks_left }` (Warning), or
//!      `SyncFailing` when `diff_check` already exceeds D by 10 (the pull keeps failing: Critical);
//!    * only version-1 peers differ → `StuckVersionOne` (Critical): the node to act on is chosen
//!      among those version-1 peers — a non-empty config beats the empty-table checksum, then
//!      the checksum held by more nodes, then the name — and gets `LOAD <MODULE> TO RUNTIME`;
//!    * a peer differs with the same epoch → `EqualEpochConflict` (Critical), same choice;
//!    * D = 0 → `SyncDisabled` (Warning);
//!    * `mysql_servers` under sync algorithm 2 (or 3, assumed to run with the monitor) is never
//!      synced on its own: a difference there with `mysql_servers_v2` in agreement is
//!      `RuntimeNotSynced` (Ok: each node's monitor owns its runtime list);
//!    * a difference nobody acts on (peers not monitoring each other, links down) → `Diverged`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::client::conn::ClientError;
use crate::client::queries;
use crate::client::snapshot::{NodeData, NodeSnapshot, PeerChecksumRow};
use crate::proxysql::cluster::decision::{choose_peer, outlook, Outlook, PeerChoice};
use crate::proxysql::cluster::state::{LocalModuleState, Module, PeerModuleState};

/// A node waiting on a version-1 source: (node, checksum, peers seen as (name, checksum)).
type Waiting<'a> = (&'a str, &'a str, Vec<(String, String)>);

/// How bad a finding is; also the process exit code of `--batch` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Nothing to do.
    Ok,
    /// Transient or deliberate: watch it.
    Warning,
    /// Will not resolve by itself: act.
    Critical,
}

impl Severity {
    /// 0, 1 or 2, monitoring-plugin style.
    pub fn exit_code(self) -> i32 {
        match self {
            Severity::Ok => 0,
            Severity::Warning => 1,
            Severity::Critical => 2,
        }
    }
}

/// Statements to run on one node's admin interface. Text in `<angle brackets>` must be filled
/// in by the operator (passwords are never known to the console).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// Node name.
    pub node: String,
    /// Statements, in order.
    pub sql: Vec<String>,
}

/// What kind of situation a finding reports, with its specifics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum Class {
    /// Every polled node has the same checksum for the module.
    InSync,
    /// `puller` will pull the module from `source` after `checks_left` more checks
    /// (0: on the next check).
    Converging {
        /// Node that will pull.
        puller: String,
        /// Peer it will pull from.
        source: String,
        /// Checks until `diff_check` reaches D.
        checks_left: u64,
        /// Seconds since the difference appeared, in the puller's own clock (how long its
        /// `stats_proxysql_servers_checksums` row has shown it), when known. `--grace`
        /// compares this.
        #[serde(skip_serializing_if = "Option::is_none")]
        since_s: Option<u64>,
    },
    /// `puller` keeps trying to pull from `source` but the pull does not succeed.
    SyncFailing {
        /// Node trying to pull.
        puller: String,
        /// Peer it pulls from.
        source: String,
        /// How far its counter has run.
        diff_check: u64,
    },
    /// Nodes wait forever for a peer that is at version 1 (§8.2).
    StuckVersionOne {
        /// Node whose config should win; `LOAD … TO RUNTIME` there. Serialised once, as the
        /// finding's own `node_to_act_on`.
        #[serde(skip_serializing)]
        node_to_act_on: String,
        /// Nodes that will then pull from it.
        nodes_waiting: Vec<String>,
    },
    /// Nodes with different configs and the same epoch: never resolves by itself.
    EqualEpochConflict {
        /// The nodes involved.
        nodes: Vec<String>,
    },
    /// Syncing is switched off (D = 0, or no cluster user) on these nodes.
    SyncDisabled {
        /// The nodes.
        nodes: Vec<String>,
    },
    /// Runtime server lists differ under sync algorithm 2, where they are not synced.
    RuntimeNotSynced {
        /// Nodes that see a peer with a different runtime list.
        nodes: Vec<String>,
    },
    /// Checksums differ and no node is about to do anything about it.
    Diverged {
        /// Node name → its checksum.
        checksums: BTreeMap<String, String>,
    },
    /// A node cannot be reached by the console and/or by its peers.
    PeerUnreachable {
        /// The unreachable node.
        node: String,
        /// Who cannot reach it (`console` and/or node names).
        seen_by: Vec<String>,
        /// The console's error, when the console is among them.
        cause: Option<String>,
    },
    /// A node refuses a login: a peer's cluster user, or the console's own user.
    CredentialsRefused {
        /// The refusing node.
        node: String,
        /// The refused user, when known.
        user: Option<String>,
        /// Who is refused (`console` and/or node names).
        refused: Vec<String>,
    },
    /// Reachable nodes report different `@@version` strings.
    VersionMismatch {
        /// Version → nodes running it.
        versions: BTreeMap<String, Vec<String>>,
    },
    /// One node's own configuration is in a state that breaks (or will break) syncing:
    /// its layers disagree, its peer list is wrong, its clock runs ahead… (issue #15). The
    /// `kind` says which; the evidence says where.
    Config {
        /// Which situation: serialised once, as the finding's own `kind`.
        #[serde(skip_serializing)]
        kind: ConfigKind,
        /// The node concerned (or the first of them).
        node: String,
        /// What was read, and where.
        evidence: Vec<Evidence>,
    },
}

impl Class {
    /// The finding's stable, snake_case `kind` in batch JSON: the class name, or for a
    /// [`Class::Config`] finding its [`ConfigKind`].
    pub fn kind(&self) -> &'static str {
        match self {
            Class::InSync => "in_sync",
            Class::Converging { .. } => "converging",
            Class::SyncFailing { .. } => "sync_failing",
            Class::StuckVersionOne { .. } => "stuck_version_one",
            Class::EqualEpochConflict { .. } => "equal_epoch_conflict",
            Class::SyncDisabled { .. } => "sync_disabled",
            Class::RuntimeNotSynced { .. } => "runtime_not_synced",
            Class::Diverged { .. } => "diverged",
            Class::PeerUnreachable { .. } => "peer_unreachable",
            Class::CredentialsRefused { .. } => "credentials_refused",
            Class::VersionMismatch { .. } => "version_mismatch",
            Class::Config { kind, .. } => kind.name(),
        }
    }
}

/// The situations a [`Class::Config`] finding reports; each name is a stable batch `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigKind {
    /// MEMORY differs from RUNTIME: edited but never loaded.
    MemoryNotLoaded,
    /// RUNTIME differs from DISK (MEMORY agrees with RUNTIME): loaded but never saved; a
    /// restart brings back the DISK copy at version 1.
    RuntimeNotSaved,
    /// A user has more than one row in MEMORY (one with a hashed password), as after a sync
    /// of the frontend/backend split rows (sysown/proxysql #2325).
    DuplicateUsers,
    /// Every node runs the module at version 1 (all restarted from disk): a new node or a
    /// satellite can never pull it (sysown/proxysql #3269).
    AllVersionOne,
    /// The node is not in its own `proxysql_servers`.
    SelfMissingFromPeers,
    /// The node's `proxysql_servers` is empty (checksum 0x0000000000000000, #3847).
    PeersEmpty,
    /// The node lists a peer that does not list it back, or nodes list different peers.
    PeersAsymmetric,
    /// The node still checks a peer removed from its `proxysql_servers` (#1179, #1323).
    RemovedPeerStillChecked,
    /// Several peers on one host with different ports (#5535).
    PeersSameHost,
    /// A module's epoch lies in the future of the node's own clock (clock skew or a lie).
    EpochInFuture,
    /// Runtime server lists differ only by a monitor's SHUNNED status: information.
    ServersShunnedOnly,
}

impl ConfigKind {
    /// The snake_case name, as serialised.
    pub fn name(self) -> &'static str {
        match self {
            ConfigKind::MemoryNotLoaded => "memory_not_loaded",
            ConfigKind::RuntimeNotSaved => "runtime_not_saved",
            ConfigKind::DuplicateUsers => "duplicate_users",
            ConfigKind::AllVersionOne => "all_version_one",
            ConfigKind::SelfMissingFromPeers => "self_missing_from_peers",
            ConfigKind::PeersEmpty => "peers_empty",
            ConfigKind::PeersAsymmetric => "peers_asymmetric",
            ConfigKind::RemovedPeerStillChecked => "removed_peer_still_checked",
            ConfigKind::PeersSameHost => "peers_same_host",
            ConfigKind::EpochInFuture => "epoch_in_future",
            ConfigKind::ServersShunnedOnly => "servers_shunned_only",
        }
    }
}

/// One fact behind a finding: on which node, in which module and layer, what value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Node name.
    pub node: String,
    /// Module (a `runtime_checksums_values` name or a table), when it concerns one.
    pub module: Option<String>,
    /// `MEMORY`, `RUNTIME` or `DISK`, when it concerns one.
    pub layer: Option<queries::Layer>,
    /// What was seen (rows are `|`-separated values; passwords masked).
    pub value: String,
}

/// One diagnosed situation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// What it is.
    pub class: Class,
    /// The module concerned; `None` for node-level findings.
    pub module: Option<Module>,
    /// Where the operator should act, if anywhere.
    pub node_to_act_on: Option<String>,
    /// One sentence for the operator.
    pub why: String,
    /// What to run, if the console knows.
    pub fix: Option<Fix>,
}

impl Serialize for Finding {
    /// `{severity, kind, class, <class fields>, module, node_to_act_on, why, fix}`: `kind`
    /// is the stable name of the situation ([`Class::kind`]).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            severity: Severity,
            kind: &'static str,
            #[serde(flatten)]
            class: &'a Class,
            module: Option<Module>,
            node_to_act_on: &'a Option<String>,
            why: &'a str,
            fix: &'a Option<Fix>,
        }
        Out {
            severity: self.severity,
            kind: self.class.kind(),
            class: &self.class,
            module: self.module,
            node_to_act_on: &self.node_to_act_on,
            why: &self.why,
            fix: &self.fix,
        }
        .serialize(s)
    }
}

/// The worst severity among findings (Ok when there are none).
pub fn overall(findings: &[Finding]) -> Severity {
    findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Ok)
}

/// Every fix, merged per node (first-mention order) with duplicate statements removed — e.g.
/// one `LOAD MYSQL SERVERS TO RUNTIME` for both `mysql_servers` and `mysql_servers_v2`.
pub fn fixes(findings: &[Finding]) -> Vec<Fix> {
    let mut merged: Vec<Fix> = Vec::new();
    for fix in findings.iter().filter_map(|f| f.fix.as_ref()) {
        let i = match merged.iter().position(|m| m.node == fix.node) {
            Some(i) => i,
            None => {
                merged.push(Fix {
                    node: fix.node.clone(),
                    sql: Vec::new(),
                });
                merged.len() - 1
            }
        };
        let slot = &mut merged[i];
        for stmt in &fix.sql {
            if !slot.sql.contains(stmt) {
                slot.sql.push(stmt.clone());
            }
        }
    }
    merged
}

/// Checksum of an empty module: a node holding it usually just has no config yet.
const EMPTY_CHECKSUM: &str = "0x0000000000000000";
/// How far past D a `diff_check` may run before a due pull is considered failing.
const FAILING_MARGIN: u64 = 10;
/// Tolerated clock skew between the console and a node, for the fallback staleness test.
const SKEW_ALLOWANCE_S: u64 = 60;
const CONSOLE: &str = "console";

/// Diagnoses a cluster from one poll of each of its nodes.
pub fn diagnose(snapshots: &[NodeSnapshot]) -> Vec<Finding> {
    let cluster = ClusterView { snapshots };
    let mut findings = Vec::new();
    let links = cluster.links();
    findings.extend(cluster.node_findings(&links));
    for module in Module::ALL {
        findings.extend(cluster.module_findings(module, &links));
    }
    findings.extend(cluster.shape_findings());
    findings
}

/// [`diagnose`], plus what the MEMORY/RUNTIME/DISK layers of the nodes whose layers were
/// read tell ([`layers::layer_findings`], [`layers::servers_shunned_only`]).
pub fn diagnose_with_layers(
    snapshots: &[NodeSnapshot],
    layers: &[crate::client::layers::NodeLayers],
) -> Vec<Finding> {
    let mut findings = diagnose(snapshots);
    for l in layers {
        findings.extend(layers::layer_findings(l));
    }
    findings.extend(layers::servers_shunned_only(layers));
    findings
}

/// Read-only view of all snapshots with name resolution.
struct ClusterView<'a> {
    snapshots: &'a [NodeSnapshot],
}

/// N's monitoring of P, from N's stats rows.
struct Link {
    observer: String,
    peer: String,
    stale: bool,
    never: bool,
}

impl<'a> ClusterView<'a> {
    fn reachable(&self) -> impl Iterator<Item = (&'a NodeSnapshot, &'a NodeData)> {
        self.snapshots.iter().filter_map(|s| Some((s, s.data()?)))
    }

    fn by_endpoint(&self, host: &str, port: u16) -> Option<&'a NodeSnapshot> {
        self.snapshots
            .iter()
            .find(|s| s.host == host && s.port == port)
    }

    fn by_name(&self, name: &str) -> Option<&'a NodeSnapshot> {
        self.snapshots.iter().find(|s| s.name == name)
    }

    /// A peer row's display name: the polled node with that address, else `host:port`.
    fn name_of(&self, row: &PeerChecksumRow) -> String {
        self.by_endpoint(&row.hostname, row.port)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| row.endpoint())
    }

    /// Every observer→peer link (self-monitoring excluded), with staleness per rule 3.
    fn links(&self) -> Vec<Link> {
        let mut links = Vec::new();
        for (snap, data) in self.reachable() {
            let Some(rows) = &data.peer_checksums else {
                continue;
            };
            let freshest = rows.iter().map(|r| r.state.updated_at).max().unwrap_or(0);
            let threshold = link_window_s(data);
            let mut last_by_peer: BTreeMap<String, u64> = BTreeMap::new();
            for r in rows {
                let peer = self.name_of(r);
                if peer == snap.name {
                    continue;
                }
                let last = last_by_peer.entry(peer).or_insert(0);
                *last = (*last).max(r.state.updated_at);
            }
            for (peer, last) in last_by_peer {
                let lag = freshest.saturating_sub(last);
                let silent = snap.fetched_at.saturating_sub(last);
                links.push(Link {
                    observer: snap.name.clone(),
                    peer,
                    never: last == 0,
                    stale: last == 0 || lag > threshold || silent > threshold + SKEW_ALLOWANCE_S,
                });
            }
        }
        links
    }

    fn is_stale(links: &[Link], observer: &str, peer: &str) -> bool {
        links
            .iter()
            .any(|l| l.observer == observer && l.peer == peer && l.stale)
    }

    /// Rules 1–3: console failures, versions, links and disabled monitoring.
    fn node_findings(&self, links: &[Link]) -> Vec<Finding> {
        let mut failures = self.console_failures();
        let no_user = self.nodes_without_cluster_user();
        self.explain_stale_links(links, &no_user, &mut failures);
        let mut findings: Vec<Finding> = self.version_mismatch().into_iter().collect();
        findings.extend(credentials_refused(failures.refused));
        findings.extend(self.peers_unreachable(failures.unreachable, links));
        findings.extend(monitoring_disabled(&no_user));
        findings
    }

    /// Rule 1: the nodes the console cannot poll or that refuse its login.
    fn console_failures(&self) -> LinkFailures {
        let mut failures = LinkFailures::default();
        for s in self.snapshots {
            match s.error() {
                Some(e) if e.is_access_denied() => {
                    failures
                        .refused
                        .entry((s.name.clone(), None))
                        .or_default()
                        .insert(CONSOLE.to_owned());
                }
                Some(e) => {
                    let entry = failures.unreachable.entry(s.name.clone()).or_default();
                    entry.0.insert(CONSOLE.to_owned());
                    entry.1 = Some(describe(e));
                }
                None => {}
            }
        }
        failures
    }

    /// Rule 2: reachable nodes run different `@@version`s.
    fn version_mismatch(&self) -> Option<Finding> {
        let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (s, d) in self.reachable() {
            versions
                .entry(d.version.clone())
                .or_default()
                .push(s.name.clone());
        }
        if versions.len() <= 1 {
            return None;
        }
        let list = versions
            .iter()
            .map(|(v, nodes)| format!("{} on {v}", nodes.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        Some(Finding {
            severity: Severity::Critical,
            class: Class::VersionMismatch { versions },
            module: None,
            node_to_act_on: None,
            why: format!(
                "Nodes run different ProxySQL versions ({list}) and a node refuses to cluster with a peer whose @@version differs, so they never sync with each other."
            ),
            fix: None,
        })
    }

    /// Nodes with an empty `admin-cluster_username`: they monitor nobody.
    fn nodes_without_cluster_user(&self) -> Vec<String> {
        self.reachable()
            .filter(|(_, d)| d.cluster_username() == Some(""))
            .map(|(s, _)| s.name.clone())
            .collect()
    }

    /// Rule 3: each stale link is a peer refusing the observer's cluster user, or unreachable
    /// from it (links of nodes without a cluster user or across versions are explained
    /// elsewhere).
    fn explain_stale_links(&self, links: &[Link], no_user: &[String], into: &mut LinkFailures) {
        for link in links.iter().filter(|l| l.stale) {
            let (Some(obs), peer_snap) = (self.by_name(&link.observer), self.by_name(&link.peer))
            else {
                continue;
            };
            let Some(obs_data) = obs.data() else { continue };
            if no_user.contains(&link.observer) {
                continue;
            }
            let peer_data = peer_snap.and_then(NodeSnapshot::data);
            if let Some(pd) = peer_data {
                if pd.version != obs_data.version {
                    continue;
                }
            }
            let user = obs_data.cluster_username().map(str::to_owned);
            let lacks_user = match (peer_data.and_then(|d| d.admin_users.as_ref()), &user) {
                (Some(users), Some(u)) => !users.contains(u),
                _ => false,
            };
            if lacks_user {
                into.refused
                    .entry((link.peer.clone(), user))
                    .or_default()
                    .insert(link.observer.clone());
            } else {
                into.unreachable
                    .entry(link.peer.clone())
                    .or_default()
                    .0
                    .insert(link.observer.clone());
            }
        }
    }

    /// `PeerUnreachable` findings: one per node the console or a peer cannot reach.
    fn peers_unreachable(&self, unreachable: Unreachable, links: &[Link]) -> Vec<Finding> {
        unreachable
            .into_iter()
            .map(|(node, (seen_by, cause))| {
                let seen_by: Vec<String> = seen_by.into_iter().collect();
                let why = self.unreachable_why(&node, &seen_by, cause.as_deref(), links);
                Finding {
                    severity: Severity::Critical,
                    class: Class::PeerUnreachable {
                        node: node.clone(),
                        seen_by,
                        cause,
                    },
                    module: None,
                    node_to_act_on: Some(node),
                    why,
                    fix: None,
                }
            })
            .collect()
    }

    /// Why `node` is unreachable, in the words of who cannot reach it.
    fn unreachable_why(
        &self,
        node: &str,
        seen_by: &[String],
        cause: Option<&str>,
        links: &[Link],
    ) -> String {
        let peers: Vec<&str> = seen_by
            .iter()
            .map(String::as_str)
            .filter(|s| *s != CONSOLE)
            .collect();
        let never = links
            .iter()
            .any(|l| l.peer == node && peers.contains(&l.observer.as_str()) && l.never);
        let plural = peers.len() > 1;
        let verb = match (never, plural) {
            (true, false) => "has never checked",
            (true, true) => "have never checked",
            (false, false) => "has stopped checking",
            (false, true) => "have stopped checking",
        };
        match (cause, peers.is_empty()) {
            (Some(c), true) => format!("pxadm cannot poll {node}: {c}."),
            (Some(c), false) => format!(
                "Neither pxadm ({c}) nor {} can reach {node}, so it takes no part in the cluster.",
                peers.join(", ")
            ),
            (None, _) if self.by_name(node).is_none() => format!(
                "{} {verb} {node}, which pxadm does not poll: check that it is up, reachable from them and accepts their cluster user and password.",
                peers.join(", ")
            ),
            (None, _) => format!(
                "{} {verb} {node} although pxadm can reach it: check the network between them and that {node} accepts their cluster user and password.",
                peers.join(", ")
            ),
        }
    }

    /// Rule 4 for one module.
    fn module_findings(&self, module: Module, links: &[Link]) -> Vec<Finding> {
        let owns: Vec<Own<'_>> = self
            .reachable()
            .filter_map(|(s, d)| Some((s, d, d.own(module)?)))
            .collect();
        if owns.is_empty() {
            return Vec::new();
        }
        let unpolled = self.unpolled_peer_checksums(module, links);
        if let Some(same) = in_sync(module, &owns, &unpolled) {
            return vec![same];
        }
        let outlooks = self.outlooks(module, &owns, links);
        let holders = |checksum: &str| {
            owns.iter()
                .filter(|(_, _, o)| o.checksum == checksum)
                .count()
                + unpolled.values().filter(|c| *c == checksum).count()
        };
        let mut findings = outlooks.converging;
        findings.extend(stuck_version_one(
            module,
            outlooks.waiting,
            &outlooks.pulled,
            holders,
        ));
        findings.extend(equal_epoch_conflict(module, outlooks.conflicts, holders));
        let flag_off = |name: &str| {
            self.by_name(name)
                .and_then(NodeSnapshot::data)
                .is_some_and(|d| d.checksum_flag_off(module))
        };
        findings.extend(module_sync_disabled(module, outlooks.disabled, flag_off));
        findings.extend(runtime_not_synced(module, outlooks.runtime_only));
        if findings.is_empty() {
            findings.extend(just_loaded(module, &owns, &unpolled, &outlooks.newer));
        }
        if findings.is_empty() {
            findings.push(diverged(module, &owns, &unpolled, &outlooks.newer));
        }
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        findings
    }

    /// Checksums of the peers no one polled, as the polled nodes freshly see them (the
    /// freshest row wins): with one node given, its own view is the cluster's.
    fn unpolled_peer_checksums(&self, module: Module, links: &[Link]) -> BTreeMap<String, String> {
        let mut seen: BTreeMap<String, (u64, String)> = BTreeMap::new();
        for (snap, data) in self.reachable() {
            for row in data.peer_rows(module) {
                let name = self.name_of(row);
                // Polled under the name its peers know it by, or by its address.
                if row.state.checksum.is_empty()
                    || self.by_name(&name).is_some()
                    || Self::is_stale(links, &snap.name, &name)
                {
                    continue;
                }
                let slot = seen.entry(name).or_insert((0, String::new()));
                if row.state.updated_at >= slot.0 {
                    *slot = (row.state.updated_at, row.state.checksum.clone());
                }
            }
        }
        seen.into_iter().map(|(n, (_, c))| (n, c)).collect()
    }

    /// Every node's [`View`] of a module that differs, gathered by kind.
    fn outlooks<'o>(&self, module: Module, owns: &'o [Own<'_>], links: &[Link]) -> Outlooks<'o> {
        let mut out = Outlooks::default();
        for (snap, data, own) in owns {
            match self.view(module, snap, data, own, links) {
                View::Agrees => {}
                View::Newer { loaded_s_ago } => out.newer.push(Newest {
                    name: snap.name.clone(),
                    checksum: own.checksum.clone(),
                    loaded_s_ago,
                    window_s: link_window_s(data),
                    d: data.diffs_before_sync().get(module),
                }),
                View::RuntimeNotSynced => out.runtime_only.push(snap.name.clone()),
                View::Disabled => out.disabled.push(snap.name.clone()),
                View::Pulling {
                    source,
                    source_checksum,
                    checks_left,
                    diff_check,
                    d,
                    since_s,
                } => {
                    out.pulled.insert(source_checksum);
                    out.converging.push(converging(
                        module,
                        &snap.name,
                        source,
                        Progress {
                            checks_left,
                            diff_check,
                            d,
                            since_s,
                        },
                    ));
                }
                View::WaitingVersionOne(peers) => {
                    // Loaded moments ago (past version 1): its version-1 peers have not
                    // noticed yet, and will pull from it, so it is a source, not stuck.
                    let loaded = loaded_s_ago(snap, data, own);
                    let window_s = link_window_s(data);
                    if own.version > 1 && loaded.is_some_and(|age| age <= window_s) {
                        out.newer.push(Newest {
                            name: snap.name.clone(),
                            checksum: own.checksum.clone(),
                            loaded_s_ago: loaded,
                            window_s,
                            d: data.diffs_before_sync().get(module),
                        });
                    } else {
                        out.waiting.push((&snap.name, &own.checksum, peers));
                    }
                }
                View::EqualEpoch(peers) => {
                    out.conflicts
                        .insert(snap.name.clone(), own.checksum.clone());
                    out.conflicts.extend(peers);
                }
            }
        }
        out
    }

    /// What node `snap` will do about `module`, from its own fresh view of its peers.
    fn view(
        &self,
        module: Module,
        snap: &NodeSnapshot,
        data: &NodeData,
        own: &LocalModuleState,
        links: &[Link],
    ) -> View {
        // The runtime list is synced on its own only with algorithm 1; otherwise it follows
        // the v2 config (algorithm 3 is assumed to run with the monitor, i.e. as 2).
        let deciding = if module == Module::MysqlServers
            && !data.servers_sync_algorithm().syncs_runtime(true)
        {
            Module::MysqlServersV2
        } else {
            module
        };
        let own = if deciding == module {
            own.clone()
        } else {
            data.own(deciding).unwrap_or_default()
        };
        if data.cluster_username() == Some("") {
            return View::Agrees; // reported once, at node level
        }
        let d = data.diffs_before_sync().get(deciding);
        let rows: Vec<&PeerChecksumRow> = data.peer_rows(deciding).collect();
        let fresh: Vec<(&PeerChecksumRow, Outlook)> = rows
            .iter()
            .filter(|r| {
                let name = self.name_of(r);
                name != snap.name && !Self::is_stale(links, &snap.name, &name)
            })
            .map(|r| (*r, outlook(&r.state, &own, d)))
            .filter(|(_, o)| !matches!(o, Outlook::Agrees | Outlook::Unknown))
            .collect();
        if fresh.is_empty() {
            return if deciding != module {
                View::RuntimeNotSynced
            } else {
                View::Agrees
            };
        }
        if d == 0 {
            return View::Disabled;
        }
        let candidates: Vec<&(&PeerChecksumRow, Outlook)> = fresh
            .iter()
            .filter(|(_, o)| matches!(o, Outlook::Due | Outlook::Pending { .. }))
            .collect();
        let newest = candidates
            .iter()
            .max_by_key(|(r, _)| r.state.epoch)
            .map(|(r, _)| *r);
        if let Some(newest) = newest {
            let entries: Vec<(String, &PeerModuleState)> =
                rows.iter().map(|r| (self.name_of(r), &r.state)).collect();
            let (source, state) = match choose_peer(deciding, &entries, d) {
                PeerChoice::Selected { peer, .. } => {
                    let state = entries.iter().find(|(n, _)| *n == peer).map(|(_, s)| *s);
                    (peer, state)
                }
                // Not confirmed yet: the newest candidate is the one being waited for.
                _ => (self.name_of(newest), Some(&newest.state)),
            };
            let diff_check = state.map_or(0, |s| s.diff_check);
            return View::Pulling {
                source,
                source_checksum: state.map(|s| s.checksum.clone()).unwrap_or_default(),
                checks_left: d.saturating_sub(diff_check),
                diff_check,
                d,
                since_s: state.and_then(difference_age),
            };
        }
        let peers_with = |wanted: fn(&Outlook) -> bool| -> Vec<(String, String)> {
            fresh
                .iter()
                .filter(|(_, o)| wanted(o))
                .map(|(r, _)| (self.name_of(r), r.state.checksum.clone()))
                .collect()
        };
        let version_one = peers_with(|o| matches!(o, Outlook::VersionOne));
        if !version_one.is_empty() {
            return View::WaitingVersionOne(version_one);
        }
        let equal = peers_with(|o| matches!(o, Outlook::EqualEpoch));
        if !equal.is_empty() {
            return View::EqualEpoch(equal);
        }
        View::Newer {
            loaded_s_ago: loaded_s_ago(snap, data, &own),
        }
    }
}

/// A node's outlook for one module.
enum View {
    /// No fresh peer differs.
    Agrees,
    /// Every differing peer is older: they should pull from this node, which loaded its
    /// config this many seconds ago (own clock), when known.
    Newer { loaded_s_ago: Option<u64> },
    /// D = 0.
    Disabled,
    /// `mysql_servers` differs only at runtime, which this node does not sync.
    RuntimeNotSynced,
    /// A valid source exists.
    Pulling {
        source: String,
        source_checksum: String,
        checks_left: u64,
        diff_check: u64,
        d: u64,
        since_s: Option<u64>,
    },
    /// Only version-1 peers differ: (name, checksum) of each.
    WaitingVersionOne(Vec<(String, String)>),
    /// Equal-epoch peers differ: (name, checksum) of each.
    EqualEpoch(Vec<(String, String)>),
}

/// Per node: who cannot reach it, and the console's error when the console is among them.
type Unreachable = BTreeMap<String, (BTreeSet<String>, Option<String>)>;

/// What the console and the peers fail to reach: rules 1 and 3 before they become findings.
#[derive(Default)]
struct LinkFailures {
    unreachable: Unreachable,
    /// (node, cluster user it refuses, or `None` for the console's login) → who is refused.
    refused: BTreeMap<(String, Option<String>), BTreeSet<String>>,
}

/// A reachable node with its own state of the module under diagnosis.
type Own<'a> = (&'a NodeSnapshot, &'a NodeData, LocalModuleState);

/// The nodes' [`View`]s of one differing module, by kind.
#[derive(Default)]
struct Outlooks<'a> {
    /// One `Converging`/`SyncFailing` finding per node that will pull.
    converging: Vec<Finding>,
    /// Nodes waiting on version-1 peers.
    waiting: Vec<Waiting<'a>>,
    /// Checksums some node is about to pull: holders of these will converge.
    pulled: BTreeSet<String>,
    /// Nodes in an equal-epoch conflict → their checksum.
    conflicts: BTreeMap<String, String>,
    /// Nodes with D = 0 for the module.
    disabled: Vec<String>,
    /// Nodes whose runtime `mysql_servers` differs but is not synced.
    runtime_only: Vec<String>,
    /// Nodes newer than every differing peer they see: (name, checksum, seconds since their
    /// load).
    newer: Vec<Newest>,
}

/// A node whose config of a module is newer than every differing peer it sees.
struct Newest {
    name: String,
    checksum: String,
    /// Seconds since it loaded the config (own clock), when known.
    loaded_s_ago: Option<u64>,
    /// How long peers may take to notice a change: the link staleness window.
    window_s: u64,
    /// Its D for the module.
    d: u64,
}

/// Rule 4's first case: every polled node, and every peer they see that no one polled,
/// holds the same checksum.
fn in_sync(
    module: Module,
    owns: &[Own<'_>],
    unpolled: &BTreeMap<String, String>,
) -> Option<Finding> {
    let distinct: BTreeSet<&str> = owns
        .iter()
        .map(|(_, _, o)| o.checksum.as_str())
        .chain(unpolled.values().map(String::as_str))
        .collect();
    if distinct.len() != 1 {
        return None;
    }
    let checksum = distinct.first().copied().unwrap_or_default();
    let peers = match unpolled.len() {
        0 => String::new(),
        1 => " and the 1 peer they see".to_owned(),
        n => format!(" and the {n} peers they see"),
    };
    Some(Finding {
        severity: Severity::Ok,
        class: Class::InSync,
        module: Some(module),
        node_to_act_on: None,
        why: match (owns.len(), unpolled.len()) {
            (1, 0) => format!("The only polled node holds {module} checksum {checksum}."),
            (1, _) => format!("The polled node{peers} hold {module} checksum {checksum}."),
            (n, _) => format!("All {n} polled nodes{peers} hold {module} checksum {checksum}."),
        },
        fix: None,
    })
}

/// A node loaded the module moments ago and its peers have not noticed yet: they converge
/// on their next checks (not `Diverged`, whose hint would send the operator chasing a
/// network problem after a routine LOAD).
fn just_loaded(
    module: Module,
    owns: &[Own<'_>],
    unpolled: &BTreeMap<String, String>,
    newer: &[Newest],
) -> Vec<Finding> {
    let Some(source) = newer
        .iter()
        .filter(|n| n.loaded_s_ago.is_some_and(|age| age <= n.window_s))
        .min_by_key(|n| n.loaded_s_ago)
    else {
        return Vec::new();
    };
    let age = source.loaded_s_ago.unwrap_or(0);
    let pullers = owns
        .iter()
        .filter(|(_, _, o)| o.checksum != source.checksum)
        .map(|(s, d, _)| (s.name.clone(), d.diffs_before_sync().get(module)))
        .chain(
            unpolled
                .iter()
                .filter(|(n, c)| **c != source.checksum && **n != source.name)
                .map(|(n, _)| (n.clone(), source.d)),
        )
        .filter(|(_, d)| *d > 0);
    pullers
        .map(|(puller, d)| Finding {
            severity: Severity::Warning,
            why: format!(
                "{} loaded a new {module} {age} s ago; {puller} has not seen it yet and will pull it {d} check{} after it does.",
                source.name,
                if d == 1 { "" } else { "s" }
            ),
            class: Class::Converging {
                puller: puller.clone(),
                source: source.name.clone(),
                checks_left: d,
                since_s: Some(age),
            },
            module: Some(module),
            node_to_act_on: None,
            fix: None,
        })
        .collect()
}

/// `StuckVersionOne`: nodes wait for version-1 peers; the fix loads the module on the peer
/// most likely to hold the intended config.
fn stuck_version_one(
    module: Module,
    mut waiting: Vec<Waiting<'_>>,
    pulled: &BTreeSet<String>,
    holders: impl Fn(&str) -> usize,
) -> Option<Finding> {
    // A node whose config others are pulling is not stuck: they will come to it. This is
    // the usual state of a freshly reloaded source, which still sees the stale version-1
    // peers (and ProxySQL logs version-1 warnings about them) until they have pulled.
    waiting.retain(|(_, checksum, _)| !pulled.contains(*checksum));
    let blockers: BTreeMap<String, String> = waiting
        .iter()
        .flat_map(|(_, _, peers)| peers.iter().cloned())
        .collect();
    if waiting.is_empty() {
        return None;
    }
    let (actor, actor_checksum) = pick_authoritative(&blockers, holders)?;
    let nodes_waiting: Vec<String> = waiting
        .iter()
        .filter(|(_, c, _)| *c != actor_checksum)
        .map(|(n, _, _)| (*n).to_owned())
        .collect();
    let load = queries::load_to_runtime(module);
    let who = if nodes_waiting.is_empty() {
        "Nodes".to_owned()
    } else {
        nodes_waiting.join(", ")
    };
    Some(Finding {
        severity: Severity::Critical,
        class: Class::StuckVersionOne {
            node_to_act_on: actor.clone(),
            nodes_waiting,
        },
        module: Some(module),
        node_to_act_on: Some(actor.clone()),
        why: format!(
            "{who} cannot sync {module} because {actor} differs but is still at version 1 (never loaded since it started), and a version-1 peer is never a sync source; {load} on {actor} makes it the newest source."
        ),
        fix: Some(Fix {
            node: actor,
            sql: vec![load.to_owned()],
        }),
    })
}

/// `EqualEpochConflict`: differing configs loaded in the same second.
fn equal_epoch_conflict(
    module: Module,
    conflicts: BTreeMap<String, String>,
    holders: impl Fn(&str) -> usize,
) -> Option<Finding> {
    if conflicts.is_empty() {
        return None;
    }
    let actor = pick_authoritative(&conflicts, holders).map(|(n, _)| n);
    let nodes: Vec<String> = conflicts.into_keys().collect();
    Some(Finding {
        severity: Severity::Critical,
        class: Class::EqualEpochConflict {
            nodes: nodes.clone(),
        },
        module: Some(module),
        node_to_act_on: actor.clone(),
        why: format!(
            "{} hold different {module} configs loaded in the same second (equal epochs), which never resolves by itself; run {} on the node whose config is right{}.",
            nodes.join(", "),
            queries::load_to_runtime(module),
            actor.as_ref().map(|a| format!(" (probably {a})")).unwrap_or_default()
        ),
        fix: actor.map(|node| Fix {
            node,
            sql: vec![queries::load_to_runtime(module).to_owned()],
        }),
    })
}

/// `SyncDisabled` for a module: its `*_diffs_before_sync` is 0 on these nodes, or the
/// deprecated `admin-checksum_<module>` is false (`flag_off`): `diff_check` rises forever.
fn module_sync_disabled(
    module: Module,
    disabled: Vec<String>,
    flag_off: impl Fn(&str) -> bool,
) -> Option<Finding> {
    if disabled.is_empty() {
        return None;
    }
    let by_flag = disabled.iter().any(|n| flag_off(n));
    let var = match crate::client::snapshot::checksum_flag(module) {
        Some(flag) if by_flag => flag,
        _ => module.diffs_variable(),
    };
    let single = (disabled.len() == 1).then(|| disabled[0].clone());
    Some(Finding {
        severity: Severity::Warning,
        why: format!(
            "{} {} {var}={}, so {module} differs but is never synced there while diff_check keeps rising (fine if deliberate).",
            disabled.join(", "),
            if disabled.len() == 1 { "has" } else { "have" },
            if by_flag { "false" } else { "0" },
        ),
        class: Class::SyncDisabled { nodes: disabled },
        module: Some(module),
        node_to_act_on: single.clone(),
        fix: single.map(|node| Fix {
            node,
            sql: vec![
                queries::set_admin_variable(var, if by_flag { "true" } else { "3" }),
                queries::LOAD_ADMIN_VARIABLES_TO_RUNTIME.to_owned(),
                queries::SAVE_ADMIN_VARIABLES_TO_DISK.to_owned(),
            ],
        }),
    })
}

/// `RuntimeNotSynced`: runtime server lists differ where only `mysql_servers_v2` syncs.
fn runtime_not_synced(module: Module, runtime_only: Vec<String>) -> Option<Finding> {
    if runtime_only.is_empty() {
        return None;
    }
    Some(Finding {
        severity: Severity::Ok,
        why: format!(
            "Runtime server lists differ on {} but only mysql_servers_v2 is synced (admin-cluster_mysql_servers_sync_algorithm 2), so each node's monitor owns its runtime list.",
            runtime_only.join(", ")
        ),
        class: Class::RuntimeNotSynced {
            nodes: runtime_only,
        },
        module: Some(module),
        node_to_act_on: None,
        fix: None,
    })
}

/// `Diverged`: checksums differ and no node is about to act.
fn diverged(
    module: Module,
    owns: &[Own<'_>],
    unpolled: &BTreeMap<String, String>,
    newer: &[Newest],
) -> Finding {
    let mut checksums: BTreeMap<String, String> = unpolled.clone();
    checksums.extend(
        owns.iter()
            .map(|(s, _, o)| (s.name.clone(), o.checksum.clone())),
    );
    let why = match newer.iter().max_by_key(|n| n.loaded_s_ago) {
        Some(n) => {
            let behind: Vec<&str> = checksums
                .iter()
                .filter(|(_, c)| **c != n.checksum)
                .map(|(name, _)| name.as_str())
                .collect();
            format!(
                "{} holds the newest {module}{} but {} never pulled it: check that they list {} in proxysql_servers, can reach it and that it accepts their cluster user.",
                n.name,
                n.loaded_s_ago
                    .map(|a| format!(" (loaded {a} s ago)"))
                    .unwrap_or_default(),
                behind.join(", "),
                n.name
            )
        }
        None => format!(
            "Nodes hold different {module} checksums but none is about to sync: check that they list each other in proxysql_servers and can reach each other."
        ),
    };
    Finding {
        severity: Severity::Warning,
        class: Class::Diverged { checksums },
        module: Some(module),
        node_to_act_on: None,
        why,
        fix: None,
    }
}

/// `CredentialsRefused` findings: a node refusing the console's login, or a peer's cluster
/// user (then the fix adds the user to the node's admin credentials).
fn credentials_refused(
    refused: BTreeMap<(String, Option<String>), BTreeSet<String>>,
) -> Vec<Finding> {
    refused
        .into_iter()
        .map(|((node, user), who)| {
            let who: Vec<String> = who.into_iter().collect();
            let (why, fix) = match &user {
                None => (
                    format!("{node} refuses pxadm's login (Access denied), so it cannot be inspected; check the user and password pxadm is given for it (-n, --cluster or the config file)."),
                    None,
                ),
                Some(u) => (
                    format!(
                        "{node} refuses {} because its admin-admin_credentials lacks the cluster user '{u}', so {node} is never checked and never serves as a sync source for them.",
                        who.join(", ")
                    ),
                    Some(Fix {
                        node: node.clone(),
                        sql: vec![
                            queries::add_admin_credential(u, &format!("<password of {u}>")),
                            queries::LOAD_ADMIN_VARIABLES_TO_RUNTIME.to_owned(),
                            queries::SAVE_ADMIN_VARIABLES_TO_DISK.to_owned(),
                        ],
                    }),
                ),
            };
            Finding {
                severity: Severity::Critical,
                class: Class::CredentialsRefused {
                    node: node.clone(),
                    user,
                    refused: who,
                },
                module: None,
                node_to_act_on: Some(node),
                why,
                fix,
            }
        })
        .collect()
}

/// Node-level `SyncDisabled`: nodes without `admin-cluster_username` sync nothing.
fn monitoring_disabled(no_user: &[String]) -> Option<Finding> {
    let (first, _) = no_user.split_first()?;
    Some(Finding {
        severity: Severity::Warning,
        class: Class::SyncDisabled {
            nodes: no_user.to_vec(),
        },
        module: None,
        node_to_act_on: (no_user.len() == 1).then(|| first.clone()),
        why: if no_user.len() == 1 {
            format!(
                "{first} has no admin-cluster_username, so it checks no peer and never syncs anything."
            )
        } else {
            format!(
                "{} have no admin-cluster_username, so they check no peer and never sync anything.",
                no_user.join(", ")
            )
        },
        fix: None,
    })
}

/// Seconds after which a node's silence about a peer means the link is down, and within
/// which peers may not have noticed a change yet: `max(5 s, 3 × check interval + 2 s)`.
fn link_window_s(data: &NodeData) -> u64 {
    (3 * data.check_interval_ms() / 1000 + 2).max(5)
}

/// How far a pull has come: checks left and run, D, and the age of the difference.
struct Progress {
    checks_left: u64,
    diff_check: u64,
    d: u64,
    since_s: Option<u64>,
}

/// Seconds a peer's differing checksum has been seen, in the observer's own clock (both
/// stamps are the observer's, so console clock skew does not matter).
fn difference_age(state: &PeerModuleState) -> Option<u64> {
    (state.changed_at > 0 && state.updated_at >= state.changed_at)
        .then(|| state.updated_at - state.changed_at)
}

/// Seconds since `snap` loaded `own`, in the node's own clock: its freshest peer check
/// stands for its "now" (immune to console skew); the console's poll time otherwise.
fn loaded_s_ago(snap: &NodeSnapshot, data: &NodeData, own: &LocalModuleState) -> Option<u64> {
    if own.epoch == 0 {
        return None;
    }
    let now = data
        .peer_checksums
        .iter()
        .flatten()
        .map(|r| r.state.updated_at)
        .max()
        .filter(|&t| t > 0)
        .unwrap_or(snap.fetched_at);
    Some(now.saturating_sub(own.epoch))
}

fn converging(module: Module, puller: &str, source: String, progress: Progress) -> Finding {
    let Progress {
        checks_left,
        diff_check,
        d,
        since_s,
    } = progress;
    if diff_check >= d.saturating_add(FAILING_MARGIN) {
        return Finding {
            severity: Severity::Critical,
            why: format!(
                "{puller} should have pulled {module} from {source} {} checks ago but keeps differing: the pull fails (see {puller}'s log for 'Cluster: Fetching' errors, e.g. a checksum mismatch or refused login).",
                diff_check - d
            ),
            class: Class::SyncFailing {
                puller: puller.to_owned(),
                source,
                diff_check,
            },
            module: Some(module),
            node_to_act_on: Some(puller.to_owned()),
            fix: None,
        };
    }
    Finding {
        severity: Severity::Warning,
        why: if checks_left == 0 {
            format!("{puller} is pulling {module} from {source} now.")
        } else {
            format!(
                "{puller} will pull {module} from {source} after {checks_left} more check{}.",
                if checks_left == 1 { "" } else { "s" }
            )
        },
        class: Class::Converging {
            puller: puller.to_owned(),
            source,
            checks_left,
            since_s,
        },
        module: Some(module),
        node_to_act_on: None,
        fix: None,
    }
}

/// Picks the node most likely to hold the intended config among `candidates`
/// (name → checksum): a non-empty config first, then the checksum more nodes hold, then the
/// name for a stable answer.
fn pick_authoritative(
    candidates: &BTreeMap<String, String>,
    holders: impl Fn(&str) -> usize,
) -> Option<(String, String)> {
    candidates
        .iter()
        .max_by(|(an, ac), (bn, bc)| {
            let key = |c: &str| (c != EMPTY_CHECKSUM, holders(c));
            key(ac).cmp(&key(bc)).then_with(|| bn.cmp(an))
        })
        .map(|(n, c)| (n.clone(), c.clone()))
}

/// A client error as one clause for a sentence.
fn describe(e: &ClientError) -> String {
    e.to_string().trim_end_matches('.').to_owned()
}

pub mod check;
pub mod layers;
pub mod peers;
pub mod reseed;

#[cfg(test)]
mod tests;
