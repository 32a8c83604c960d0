//! Findings about the cluster's shape and clocks, from the snapshots alone (issue #15): a node
//! missing from its own `proxysql_servers`, an empty list, lists that do not answer each
//! other, a peer still checked after its removal, several peers on one host, epochs in the
//! future, and every node of a module at version 1 (nobody can seed a newcomer).
//!
//! Pure. Addresses are compared as written, with the loopback names (`127.0.0.1`,
//! `localhost`, `::1`) taken as one host; a node listed under an address pxadm does not poll
//! it by is recognised by its own checksums instead (see [`lists_itself`]).

use std::collections::{BTreeMap, BTreeSet};

use super::{Class, ClusterView, ConfigKind, Evidence, Finding, Fix, Severity, EMPTY_CHECKSUM};
use crate::client::queries;
use crate::client::snapshot::{NodeData, NodeSnapshot, ProxysqlServerRow};
use crate::proxysql::cluster::state::Module;
use crate::proxysql::statement::ConfigModule;

/// How far ahead of a node's own clock an epoch may be before it is reported: more than any
/// ordinary skew between two hosts with NTP.
pub const FUTURE_EPOCH_SLACK_S: u64 = 60;

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

fn same_host(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || (is_loopback(a) && is_loopback(b))
}

fn lists(list: &[ProxysqlServerRow], host: &str, port: u16) -> bool {
    list.iter()
        .any(|r| r.port == port && same_host(&r.hostname, host))
}

/// Whether `snap` appears in its own peer list: by the address pxadm polls it at, or by a
/// checked peer whose every module (checksum, epoch and version) is exactly its own — itself,
/// seen through another address.
pub fn lists_itself(snap: &NodeSnapshot, data: &NodeData, list: &[ProxysqlServerRow]) -> bool {
    if lists(list, &snap.host, snap.port) {
        return true;
    }
    let Some(rows) = &data.peer_checksums else {
        return true; // cannot tell: say nothing
    };
    let mut by_peer: BTreeMap<(String, u16), Vec<_>> = BTreeMap::new();
    for r in rows {
        by_peer
            .entry((r.hostname.clone(), r.port))
            .or_default()
            .push(r);
    }
    by_peer.values().any(|peer_rows| {
        data.checksums.iter().all(|own| {
            peer_rows.iter().any(|r| {
                r.name == own.name
                    && r.state.checksum == own.checksum
                    && r.state.epoch == own.epoch
                    && r.state.version == own.version
            })
        })
    })
}

fn insert_peer(host: &str, port: u16, comment: &str) -> String {
    format!(
        "INSERT INTO proxysql_servers (hostname, port, weight, comment) VALUES ('{}', {port}, 0, '{}')",
        host.replace('\'', "''"),
        comment.replace('\'', "''")
    )
}

fn reload_peers() -> [String; 2] {
    [
        queries::load_admin_module_to_runtime(ConfigModule::ProxysqlServers),
        queries::save_module_to_disk(ConfigModule::ProxysqlServers),
    ]
}

fn config(
    kind: ConfigKind,
    severity: Severity,
    node: &str,
    module: Option<Module>,
    evidence: Vec<Evidence>,
    why: String,
    sql: Vec<String>,
) -> Finding {
    Finding {
        severity,
        class: Class::Config {
            kind,
            node: node.to_owned(),
            evidence,
        },
        module,
        node_to_act_on: (!sql.is_empty()).then(|| node.to_owned()),
        why,
        fix: (!sql.is_empty()).then(|| Fix {
            node: node.to_owned(),
            sql,
        }),
    }
}

fn peer_evidence(node: &str, value: String) -> Evidence {
    Evidence {
        node: node.to_owned(),
        module: Some("proxysql_servers".into()),
        layer: Some(queries::Layer::Runtime),
        value,
    }
}

fn list_text(list: &[ProxysqlServerRow]) -> String {
    if list.is_empty() {
        return "(empty)".into();
    }
    list.iter()
        .map(|r| format!("{}:{}", r.hostname, r.port))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ClusterView<'_> {
    /// Every finding of this module.
    pub(super) fn shape_findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let polled = self.snapshots.len();
        for (snap, data) in self.reachable() {
            let Some(list) = &data.proxysql_servers else {
                continue;
            };
            let name = snap.name.as_str();
            let evidence = || vec![peer_evidence(name, list_text(list))];
            if list.is_empty() {
                if polled > 1 {
                    out.push(self.peers_empty(snap));
                }
                continue;
            }
            // A satellite lists the core nodes and is listed by none: it is not missing from
            // its own list, that is how satellites are set up. Only a node another polled
            // node lists (a core) must list itself.
            let core = self.listed_by_another(snap);
            if core && !lists_itself(snap, data, list) {
                let mut sql = vec![insert_peer(&snap.host, snap.port, name)];
                sql.extend(reload_peers());
                out.push(config(
                    ConfigKind::SelfMissingFromPeers,
                    Severity::Warning,
                    name,
                    Some(Module::ProxysqlServers),
                    evidence(),
                    format!(
                        "{name} is not in its own proxysql_servers ({}): its peers' lists and its own differ, so proxysql_servers never agrees across the cluster, and {name} does not check its own checksums; add it.",
                        list_text(list)
                    ),
                    sql,
                ));
            }
            if core || lists(list, &snap.host, snap.port) {
                out.extend(self.asymmetric(snap, list));
            }
            out.extend(removed_still_checked(snap, data, list));
            out.extend(peers_same_host(name, list, evidence()));
        }
        out.extend(self.epochs_in_future());
        out.extend(self.all_version_one());
        out
    }

    /// Whether another polled node lists `snap` by the address pxadm polls it at.
    fn listed_by_another(&self, snap: &NodeSnapshot) -> bool {
        self.reachable().any(|(other, d)| {
            other.name != snap.name
                && d.proxysql_servers
                    .as_deref()
                    .is_some_and(|l| lists(l, &snap.host, snap.port))
        })
    }

    /// `peers_empty`: the fix lists every peer the other nodes list.
    fn peers_empty(&self, snap: &NodeSnapshot) -> Finding {
        let mut known: BTreeSet<(String, u16)> = BTreeSet::new();
        for (_, d) in self.reachable() {
            for r in d.proxysql_servers.iter().flatten() {
                known.insert((r.hostname.clone(), r.port));
            }
        }
        let mut sql: Vec<String> = known.iter().map(|(h, p)| insert_peer(h, *p, "")).collect();
        if !sql.is_empty() {
            sql.extend(reload_peers());
        }
        config(
            ConfigKind::PeersEmpty,
            Severity::Critical,
            &snap.name,
            Some(Module::ProxysqlServers),
            vec![peer_evidence(&snap.name, "(empty)".into())],
            format!(
                "{} has an empty proxysql_servers (checksum {EMPTY_CHECKSUM}): it checks no peer and syncs nothing{}.",
                snap.name,
                if sql.is_empty() { "" } else { "; list the peers the other nodes list" }
            ),
            sql,
        )
    }

    /// `peers_asymmetric`: `snap`, a core node, lists a polled node whose own non-empty list
    /// lacks `snap` (a satellite listing cores that do not list it is the normal layout).
    fn asymmetric(&self, snap: &NodeSnapshot, list: &[ProxysqlServerRow]) -> Vec<Finding> {
        let mut out = Vec::new();
        for row in list {
            let Some(peer) = self
                .snapshots
                .iter()
                .find(|s| s.port == row.port && same_host(&s.host, &row.hostname))
            else {
                continue;
            };
            if peer.name == snap.name {
                continue;
            }
            let Some(peer_list) = peer.data().and_then(|d| d.proxysql_servers.as_ref()) else {
                continue;
            };
            if peer_list.is_empty() || lists(peer_list, &snap.host, snap.port) {
                continue;
            }
            let mut sql = vec![insert_peer(&snap.host, snap.port, &snap.name)];
            sql.extend(reload_peers());
            out.push(config(
                ConfigKind::PeersAsymmetric,
                Severity::Warning,
                &peer.name,
                Some(Module::ProxysqlServers),
                vec![
                    peer_evidence(&snap.name, list_text(list)),
                    peer_evidence(&peer.name, list_text(peer_list)),
                ],
                format!(
                    "{} lists {} as a peer but {} does not list {} back ({}): {} never checks {} nor pulls from it, and their proxysql_servers checksums differ forever.",
                    snap.name,
                    peer.name,
                    peer.name,
                    snap.name,
                    list_text(peer_list),
                    peer.name,
                    snap.name
                ),
                sql,
            ));
        }
        out
    }

    /// `epoch_in_future`: a module's epoch ahead of the clock of the node that holds it or
    /// of a node that sees it. Whoever holds it wins every sync until that time comes.
    fn epochs_in_future(&self) -> Vec<Finding> {
        let mut seen: BTreeMap<(String, Module), (u64, u64, String)> = BTreeMap::new();
        for (snap, data) in self.reachable() {
            let now = node_now(snap, data);
            for own in &data.checksums {
                let Some(m) = Module::from_name(&own.name) else {
                    continue;
                };
                if own.epoch > now.saturating_add(FUTURE_EPOCH_SLACK_S) {
                    seen.entry((snap.name.clone(), m)).or_insert((
                        own.epoch,
                        now,
                        snap.name.clone(),
                    ));
                }
            }
            for r in data.peer_checksums.iter().flatten() {
                let Some(m) = r.module() else { continue };
                if r.state.epoch > now.saturating_add(FUTURE_EPOCH_SLACK_S) {
                    seen.entry((self.name_of(r), m)).or_insert((
                        r.state.epoch,
                        now,
                        snap.name.clone(),
                    ));
                }
            }
        }
        seen.into_iter()
            .map(|((node, module), (epoch, now, by))| {
                let ahead = epoch - now;
                config(
                    ConfigKind::EpochInFuture,
                    Severity::Critical,
                    &node,
                    Some(module),
                    vec![Evidence {
                        node: node.clone(),
                        module: Some(module.name().into()),
                        layer: Some(queries::Layer::Runtime),
                        value: format!("epoch {epoch}, {ahead} s ahead of {by}'s clock ({now})"),
                    }],
                    format!(
                        "{node} announces {module} with epoch {epoch}, {ahead} s in the future of {by}'s clock (clock skew or a forged epoch): it wins every sync until then, so a fix made elsewhere is pulled back to its config; correct {node}'s clock (NTP), then {} there stamps an honest epoch.",
                        module.load_to_runtime()
                    ),
                    vec![module.load_to_runtime().to_owned()],
                )
            })
            .collect()
    }

    /// `all_version_one`: every polled node (two or more) holds a non-empty module at
    /// version 1, i.e. all restarted from disk since anyone loaded it: a newcomer or a
    /// satellite with another config can never sync it (sysown/proxysql #3269). Variables
    /// are left out: at version 1 on a fresh cluster they are the defaults everyone has.
    /// Information with the fix, since nothing is broken until a node joins.
    fn all_version_one(&self) -> Vec<Finding> {
        let reachable: Vec<(&NodeSnapshot, &NodeData)> = self.reachable().collect();
        if reachable.len() < 2 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for module in [
            Module::MysqlQueryRules,
            Module::MysqlServersV2,
            Module::MysqlUsers,
            Module::ProxysqlServers,
        ] {
            let owns: Vec<_> = reachable
                .iter()
                .filter_map(|(s, d)| Some((s, d.own(module)?)))
                .collect();
            if owns.len() != reachable.len()
                || !owns
                    .iter()
                    .all(|(_, o)| o.version == 1 && o.checksum != EMPTY_CHECKSUM)
            {
                continue;
            }
            let Some((first, _)) = owns.first() else {
                continue;
            };
            let names: Vec<&str> = owns.iter().map(|(s, _)| s.name.as_str()).collect();
            out.push(config(
                ConfigKind::AllVersionOne,
                Severity::Ok,
                &first.name,
                Some(module),
                owns.iter()
                    .map(|(s, o)| Evidence {
                        node: s.name.clone(),
                        module: Some(module.name().into()),
                        layer: Some(queries::Layer::Runtime),
                        value: format!("version {} epoch {} checksum {}", o.version, o.epoch, o.checksum),
                    })
                    .collect(),
                format!(
                    "Every node ({}) holds {module} at version 1 (all restarted from disk since the last LOAD): they agree now, but a new node or a satellite with another config can never sync from a version-1 peer; {} on one node (the re-seed) makes it a source.",
                    names.join(", "),
                    module.load_to_runtime()
                ),
                vec![module.load_to_runtime().to_owned()],
            ));
        }
        out
    }
}

/// The node's own "now": its freshest peer check (its clock), else the console's poll time.
fn node_now(snap: &NodeSnapshot, data: &NodeData) -> u64 {
    data.peer_checksums
        .iter()
        .flatten()
        .map(|r| r.state.updated_at)
        .max()
        .filter(|&t| t > 0)
        .unwrap_or(snap.fetched_at)
}

/// `removed_peer_still_checked`: fresh `stats_proxysql_servers_checksums` rows for a peer
/// that is no longer in the runtime list (sysown/proxysql #1179, #1323).
fn removed_still_checked(
    snap: &NodeSnapshot,
    data: &NodeData,
    list: &[ProxysqlServerRow],
) -> Option<Finding> {
    let rows = data.peer_checksums.as_ref()?;
    let now = node_now(snap, data);
    let window = super::link_window_s(data);
    let stale_peers: BTreeSet<String> = rows
        .iter()
        .filter(|r| !lists(list, &r.hostname, r.port))
        .filter(|r| r.state.updated_at > 0 && now.saturating_sub(r.state.updated_at) <= window)
        .map(|r| r.endpoint())
        .collect();
    if stale_peers.is_empty() {
        return None;
    }
    let peers: Vec<String> = stale_peers.into_iter().collect();
    Some(config(
        ConfigKind::RemovedPeerStillChecked,
        Severity::Warning,
        &snap.name,
        Some(Module::ProxysqlServers),
        peers
            .iter()
            .map(|p| Evidence {
                node: snap.name.clone(),
                module: Some("stats_proxysql_servers_checksums".into()),
                layer: None,
                value: format!("{p} still checked, not in runtime_proxysql_servers"),
            })
            .collect(),
        format!(
            "{} still checks {} although it is no longer in its runtime_proxysql_servers, so it may still pull from a node that left; reload the peer list (restart {} if the checks go on).",
            snap.name,
            peers.join(", "),
            snap.name
        ),
        vec![queries::load_admin_module_to_runtime(
            ConfigModule::ProxysqlServers,
        )],
    ))
}

/// `peers_same_host`: several peers on one (non-loopback) host with different ports, which
/// ProxySQL handles poorly (sysown/proxysql #5535). Loopback labs are left out on purpose.
fn peers_same_host(
    node: &str,
    list: &[ProxysqlServerRow],
    evidence: Vec<Evidence>,
) -> Option<Finding> {
    let mut by_host: BTreeMap<&str, Vec<u16>> = BTreeMap::new();
    for r in list.iter().filter(|r| !is_loopback(&r.hostname)) {
        by_host.entry(r.hostname.as_str()).or_default().push(r.port);
    }
    let shared: Vec<String> = by_host
        .iter()
        .filter(|(_, ports)| ports.len() > 1)
        .map(|(h, ports)| {
            let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
            format!("{h} (ports {})", ports.join(", "))
        })
        .collect();
    if shared.is_empty() {
        return None;
    }
    Some(config(
        ConfigKind::PeersSameHost,
        Severity::Warning,
        node,
        Some(Module::ProxysqlServers),
        evidence,
        format!(
            "{node} lists several peers on one host: {}. ProxySQL 2.7 can mix up peers that share a hostname (sysown/proxysql #5535); give each node its own address if they fail to sync.",
            shared.join("; ")
        ),
        Vec::new(),
    ))
}
