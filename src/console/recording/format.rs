//! The recording file format, version 1 (described for people in `docs/recording.md`).
//!
//! ```text
//! file   = magic "PXADMREC" | format version u16 LE | flags u16 LE (0) | frame*
//! frame  = payload length u32 LE | CRC-32 u32 LE | kind u8 | at_ms u64 LE | payload
//!          (the CRC covers kind, at_ms and payload)
//! kind 0 = header: the payload is a JSON object ([`Header`]), uncompressed; the first frame
//! kind 1 = keyframe tick: starts a new zstd stream; the payload is that stream's bytes up to
//!          a flush after this tick, which decompress to one JSON [`TickRecord`] with every
//!          node's whole state
//! kind 2 = delta tick: continues the stream of the last keyframe; the JSON holds, per node,
//!          a [`Patch`] against that node's state after the previous tick
//! ```
//!
//! Every tick is flushed through its block's zstd stream and written with one `write` call,
//! so a recorder killed at any moment leaves a file whose frames up to the last complete one
//! check out: readers stop at the first short or corrupt frame. A new block (keyframe, fresh
//! zstd stream) every [`DEFAULT_KEYFRAME_EVERY`] ticks bounds what a reader decompresses to
//! seek and what a damaged byte can take with it.
//!
//! The node state is stored in this module's own serde types (`*V1`), not in the client's,
//! so renaming a field of [`NodeSnapshot`] cannot silently change what old files mean: the
//! conversions below are the only place the two meet.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::conn::{ClientError, Stage};
use crate::client::detail::{HaInfo, VrrpRow};
use crate::client::snapshot::{
    NodeData, NodeSnapshot, PeerChecksumRow, PeerMetricsRow, ProxysqlServerRow,
};
use crate::proxysql::cluster::state::{ChecksumRow, PeerModuleState};

/// The first bytes of every recording.
pub const MAGIC: &[u8; 8] = b"PXADMREC";
/// The format version this build writes.
pub const FORMAT_VERSION: u16 = 1;
/// Oldest format version this build reads.
pub const OLDEST_READABLE: u16 = 1;
/// Bytes before the first frame: magic, version, flags.
pub const FILE_PREFIX: usize = 12;
/// Bytes of a frame header: length, CRC, kind, time.
pub const FRAME_HEADER: usize = 17;
/// Largest payload a reader accepts (a bigger length is damage, not data).
pub const MAX_PAYLOAD: u32 = 64 * 1024 * 1024;
/// Ticks per block (one keyframe, then deltas).
pub const DEFAULT_KEYFRAME_EVERY: u32 = 300;
/// zstd level of the tick streams.
pub const ZSTD_LEVEL: i32 = 9;

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// The file's header (JSON, uncompressed).
    Header,
    /// A tick that starts a block: whole states, a new zstd stream.
    Keyframe,
    /// A tick that continues a block: patches.
    Delta,
}

impl FrameKind {
    /// The byte on disk.
    pub fn byte(self) -> u8 {
        match self {
            FrameKind::Header => 0,
            FrameKind::Keyframe => 1,
            FrameKind::Delta => 2,
        }
    }

    /// From the byte on disk.
    pub fn from_byte(b: u8) -> Option<FrameKind> {
        match b {
            0 => Some(FrameKind::Header),
            1 => Some(FrameKind::Keyframe),
            2 => Some(FrameKind::Delta),
            _ => None,
        }
    }
}

/// The CRC-32 (IEEE) a frame carries: over kind, time and payload.
pub fn frame_crc(kind: u8, at_ms: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[kind]);
    h.update(&at_ms.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// A whole frame, header and payload, as written.
pub fn encode_frame(kind: FrameKind, at_ms: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER + payload.len());
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&frame_crc(kind.byte(), at_ms, payload).to_le_bytes());
    out.push(kind.byte());
    out.extend_from_slice(&at_ms.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The file prefix: magic, version, flags.
pub fn file_prefix() -> [u8; FILE_PREFIX] {
    let mut p = [0u8; FILE_PREFIX];
    p[..8].copy_from_slice(MAGIC);
    p[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    p
}

/// Where the polls came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `pxadm record`: every node polled together each interval.
    Record,
    /// `pxadm console --record`: the console's own polls, as they arrived.
    Console,
}

/// A recorded node: who it was (the console's name and admin address; never credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Operator-facing name.
    pub name: String,
    /// Admin host.
    pub host: String,
    /// Admin port.
    pub port: u16,
    /// Started by pxadm (the demo): the console shows its log beside the events.
    #[serde(default, skip_serializing_if = "is_false")]
    pub managed: bool,
}

/// The header frame's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Same as the file prefix's version.
    pub format_version: u16,
    /// The pxadm that wrote the file.
    pub pxadm_version: String,
    /// Unix milliseconds when recording started.
    pub created_at_ms: u64,
    /// What recorded it.
    pub source: Source,
    /// The intended time between ticks.
    pub interval_ms: u64,
    /// Ticks per block.
    pub keyframe_every: u32,
    /// The nodes, in the order of every tick's `n` list.
    pub nodes: Vec<NodeInfo>,
}

/// One tick as stored (after decompression).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TickRecord {
    /// Per node, in header order; `null` when nothing arrived for the node and nothing changed.
    pub n: Vec<Option<NodeRecord>>,
}

/// What a tick says about one node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Set when a poll of the node arrived in this tick.
    #[serde(default, skip_serializing_if = "is_false")]
    pub p: bool,
    /// Set when the node's VRRP state was read in this tick.
    #[serde(default, skip_serializing_if = "is_false")]
    pub a: bool,
    /// The snapshot: the whole [`SnapshotV1`] in a keyframe, a [`Patch`] in a delta; absent
    /// when unchanged (or never polled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<Value>,
    /// The VRRP state: the whole [`HaV1`] in a keyframe, a [`Patch`] in a delta; absent when
    /// unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h: Option<Value>,
    /// New lines of the node's log (console recordings of managed nodes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub l: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A change from one JSON value to another: `{"=": v}` sets, `{"{": {key: patch}}` patches
/// an object's members, `{"[": [[i, patch]]}` patches an array of unchanged length, `"-"`
/// removes an object member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Patch {
    /// Replace with this value.
    #[serde(rename = "=")]
    Set(Value),
    /// Patch these members of an object.
    #[serde(rename = "{")]
    Object(BTreeMap<String, Patch>),
    /// Patch these items of an array (same length).
    #[serde(rename = "[")]
    Array(Vec<(usize, Patch)>),
    /// Remove the member.
    #[serde(rename = "-")]
    Remove,
}

impl Patch {
    /// The patch that changes nothing.
    pub fn none() -> Patch {
        Patch::Object(BTreeMap::new())
    }
}

/// The patch from `old` to `new`; `None` when they are equal.
pub fn diff(old: &Value, new: &Value) -> Option<Patch> {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut changes = BTreeMap::new();
            for (k, nv) in b {
                match a.get(k) {
                    Some(ov) => {
                        if let Some(p) = diff(ov, nv) {
                            changes.insert(k.clone(), p);
                        }
                    }
                    None => {
                        changes.insert(k.clone(), Patch::Set(nv.clone()));
                    }
                }
            }
            for k in a.keys().filter(|k| !b.contains_key(*k)) {
                changes.insert(k.clone(), Patch::Remove);
            }
            (!changes.is_empty()).then_some(Patch::Object(changes))
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            let items: Vec<(usize, Patch)> = a
                .iter()
                .zip(b)
                .enumerate()
                .filter_map(|(i, (x, y))| diff(x, y).map(|p| (i, p)))
                .collect();
            (!items.is_empty()).then_some(Patch::Array(items))
        }
        _ if old == new => None,
        _ => Some(Patch::Set(new.clone())),
    }
}

/// Why a patch does not fit the value it is applied to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("patch does not fit the recorded state: {0}")]
pub struct PatchError(String);

/// Applies `patch` to `target`.
pub fn apply(target: &mut Value, patch: &Patch) -> Result<(), PatchError> {
    match patch {
        Patch::Set(v) => *target = v.clone(),
        Patch::Remove => return Err(PatchError("removal outside an object".into())),
        Patch::Object(members) => {
            let Value::Object(map) = target else {
                return Err(PatchError("member patch on a non-object".into()));
            };
            for (k, p) in members {
                match p {
                    Patch::Remove => {
                        map.remove(k);
                    }
                    Patch::Set(v) => {
                        map.insert(k.clone(), v.clone());
                    }
                    p => {
                        let slot = map
                            .get_mut(k)
                            .ok_or_else(|| PatchError(format!("no member {k}")))?;
                        apply(slot, p)?;
                    }
                }
            }
        }
        Patch::Array(items) => {
            let Value::Array(list) = target else {
                return Err(PatchError("item patch on a non-array".into()));
            };
            for (i, p) in items {
                let slot = list
                    .get_mut(*i)
                    .ok_or_else(|| PatchError(format!("no item {i}")))?;
                apply(slot, p)?;
            }
        }
    }
    Ok(())
}

// ---- The node state, version 1 ----

/// A poll of one node, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotV1 {
    /// Unix seconds when the poll started.
    pub fetched_at: u64,
    /// How long it took.
    pub elapsed_ms: u64,
    /// What it read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataV1>,
    /// Or why it read nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorV1>,
}

/// A successful poll's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataV1 {
    /// `@@version`.
    pub version: String,
    /// `runtime_checksums_values`: (name, version, epoch, checksum).
    pub checksums: Vec<(String, u64, u64, String)>,
    /// `stats_proxysql_servers_checksums`.
    pub peer_checksums: Option<Vec<PeerChecksumV1>>,
    /// `stats_proxysql_servers_metrics`.
    pub peer_metrics: Option<Vec<PeerMetricsV1>>,
    /// `runtime_proxysql_servers`: (hostname, port, weight, comment).
    pub proxysql_servers: Option<Vec<(String, u16, u64, String)>>,
    /// Cluster variables (the cluster password masked at the source).
    pub cluster_variables: Option<BTreeMap<String, String>>,
    /// Admin user names.
    pub admin_users: Option<Vec<String>>,
    /// Notes on missing parts.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A row of `stats_proxysql_servers_checksums`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerChecksumV1 {
    /// Peer host.
    pub hostname: String,
    /// Peer port.
    pub port: u16,
    /// Module name.
    pub name: String,
    /// version, epoch, checksum, changed_at, updated_at, diff_check.
    pub v: u64,
    /// Epoch.
    pub e: u64,
    /// Checksum.
    pub c: String,
    /// changed_at.
    pub ch: u64,
    /// updated_at.
    pub up: u64,
    /// diff_check.
    pub d: u64,
}

/// A row of `stats_proxysql_servers_metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerMetricsV1 {
    /// Peer host.
    pub hostname: String,
    /// Peer port.
    pub port: u16,
    /// Weight.
    pub weight: u64,
    /// Comment.
    pub comment: String,
    /// response_time_ms.
    pub response_time_ms: u64,
    /// Uptime_s.
    pub uptime_s: u64,
    /// last_check_ms.
    pub last_check_ms: u64,
    /// Queries.
    pub queries: u64,
    /// Client_Connections_connected.
    pub client_connections_connected: u64,
    /// Client_Connections_created.
    pub client_connections_created: u64,
}

/// Why a poll failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErrorV1 {
    /// An error packet.
    Server {
        /// Code.
        code: u16,
        /// SQLSTATE.
        state: String,
        /// Message.
        message: String,
    },
    /// The network.
    Io {
        /// Cause.
        cause: String,
    },
    /// No answer in time.
    Timeout {
        /// `connect` or `query`.
        stage: String,
        /// The limit.
        after_ms: u64,
    },
    /// Protocol trouble.
    Protocol {
        /// Description.
        message: String,
    },
    /// An answer of the wrong shape.
    UnexpectedResult {
        /// Description.
        message: String,
    },
}

/// What a node said about its VRRP instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ha", rename_all = "snake_case")]
pub enum HaV1 {
    /// Not read (yet).
    Unknown,
    /// No VRRP on the node.
    Absent,
    /// Its instances.
    Rows {
        /// Rows of `stats_pxadm_vrrp`.
        rows: Vec<VrrpV1>,
    },
    /// The table could not be read.
    Error {
        /// Why.
        message: String,
    },
}

/// A row of `stats_pxadm_vrrp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpV1 {
    /// Instance.
    pub instance: String,
    /// State.
    pub state: String,
    /// Priority.
    pub priority: i64,
    /// Effective priority.
    pub effective_priority: i64,
    /// VIP.
    pub vip: String,
    /// Held here.
    pub vip_held: bool,
    /// Last advert from.
    pub last_advert_from: Option<String>,
    /// Its age.
    pub last_advert_age_ms: Option<u64>,
    /// Check status.
    pub check_status: String,
}

impl SnapshotV1 {
    /// The stored form of a poll.
    pub fn from_snapshot(s: &NodeSnapshot) -> SnapshotV1 {
        let (data, error) = match &s.result {
            Ok(d) => (Some(DataV1::from_data(d)), None),
            Err(e) => (None, Some(ErrorV1::from_error(e))),
        };
        SnapshotV1 {
            fetched_at: s.fetched_at,
            elapsed_ms: s.elapsed_ms,
            data,
            error,
        }
    }

    /// Back to the client's type, for the node `info`.
    pub fn to_snapshot(&self, info: &NodeInfo) -> NodeSnapshot {
        let result = match (&self.data, &self.error) {
            (Some(d), _) => Ok(d.to_data()),
            (None, Some(e)) => Err(e.to_error()),
            (None, None) => Err(ClientError::UnexpectedResult {
                message: "recording holds neither data nor error for this poll".into(),
            }),
        };
        NodeSnapshot {
            name: info.name.clone(),
            host: info.host.clone(),
            port: info.port,
            fetched_at: self.fetched_at,
            elapsed_ms: self.elapsed_ms,
            result,
        }
    }
}

impl DataV1 {
    fn from_data(d: &NodeData) -> DataV1 {
        DataV1 {
            version: d.version.clone(),
            checksums: d
                .checksums
                .iter()
                .map(|r| (r.name.clone(), r.version, r.epoch, r.checksum.clone()))
                .collect(),
            peer_checksums: d.peer_checksums.as_ref().map(|rows| {
                rows.iter()
                    .map(|r| PeerChecksumV1 {
                        hostname: r.hostname.clone(),
                        port: r.port,
                        name: r.name.clone(),
                        v: r.state.version,
                        e: r.state.epoch,
                        c: r.state.checksum.clone(),
                        ch: r.state.changed_at,
                        up: r.state.updated_at,
                        d: r.state.diff_check,
                    })
                    .collect()
            }),
            peer_metrics: d.peer_metrics.as_ref().map(|rows| {
                rows.iter()
                    .map(|r| PeerMetricsV1 {
                        hostname: r.hostname.clone(),
                        port: r.port,
                        weight: r.weight,
                        comment: r.comment.clone(),
                        response_time_ms: r.response_time_ms,
                        uptime_s: r.uptime_s,
                        last_check_ms: r.last_check_ms,
                        queries: r.queries,
                        client_connections_connected: r.client_connections_connected,
                        client_connections_created: r.client_connections_created,
                    })
                    .collect()
            }),
            proxysql_servers: d.proxysql_servers.as_ref().map(|rows| {
                rows.iter()
                    .map(|r| (r.hostname.clone(), r.port, r.weight, r.comment.clone()))
                    .collect()
            }),
            cluster_variables: d.cluster_variables.clone(),
            admin_users: d.admin_users.clone(),
            notes: d.notes.clone(),
        }
    }

    fn to_data(&self) -> NodeData {
        NodeData {
            version: self.version.clone(),
            checksums: self
                .checksums
                .iter()
                .map(|(name, version, epoch, checksum)| ChecksumRow {
                    name: name.clone(),
                    version: *version,
                    epoch: *epoch,
                    checksum: checksum.clone(),
                })
                .collect(),
            peer_checksums: self.peer_checksums.as_ref().map(|rows| {
                rows.iter()
                    .map(|r| PeerChecksumRow {
                        hostname: r.hostname.clone(),
                        port: r.port,
                        name: r.name.clone(),
                        state: PeerModuleState {
                            version: r.v,
                            epoch: r.e,
                            checksum: r.c.clone(),
                            changed_at: r.ch,
                            updated_at: r.up,
                            diff_check: r.d,
                        },
                    })
                    .collect()
            }),
            peer_metrics: self.peer_metrics.as_ref().map(|rows| {
                rows.iter()
                    .map(|r| PeerMetricsRow {
                        hostname: r.hostname.clone(),
                        port: r.port,
                        weight: r.weight,
                        comment: r.comment.clone(),
                        response_time_ms: r.response_time_ms,
                        uptime_s: r.uptime_s,
                        last_check_ms: r.last_check_ms,
                        queries: r.queries,
                        client_connections_connected: r.client_connections_connected,
                        client_connections_created: r.client_connections_created,
                    })
                    .collect()
            }),
            proxysql_servers: self.proxysql_servers.as_ref().map(|rows| {
                rows.iter()
                    .map(|(hostname, port, weight, comment)| ProxysqlServerRow {
                        hostname: hostname.clone(),
                        port: *port,
                        weight: *weight,
                        comment: comment.clone(),
                    })
                    .collect()
            }),
            cluster_variables: self.cluster_variables.clone(),
            admin_users: self.admin_users.clone(),
            notes: self.notes.clone(),
        }
    }
}

impl ErrorV1 {
    fn from_error(e: &ClientError) -> ErrorV1 {
        match e {
            ClientError::Server {
                code,
                state,
                message,
            } => ErrorV1::Server {
                code: *code,
                state: state.clone(),
                message: message.clone(),
            },
            ClientError::Io { cause } => ErrorV1::Io {
                cause: cause.clone(),
            },
            ClientError::Timeout { stage, after_ms } => ErrorV1::Timeout {
                stage: match stage {
                    Stage::Connect => "connect".into(),
                    Stage::Query => "query".into(),
                },
                after_ms: *after_ms,
            },
            ClientError::Protocol { message } => ErrorV1::Protocol {
                message: message.clone(),
            },
            ClientError::UnexpectedResult { message } => ErrorV1::UnexpectedResult {
                message: message.clone(),
            },
        }
    }

    fn to_error(&self) -> ClientError {
        match self {
            ErrorV1::Server {
                code,
                state,
                message,
            } => ClientError::Server {
                code: *code,
                state: state.clone(),
                message: message.clone(),
            },
            ErrorV1::Io { cause } => ClientError::Io {
                cause: cause.clone(),
            },
            ErrorV1::Timeout { stage, after_ms } => ClientError::Timeout {
                stage: if stage == "query" {
                    Stage::Query
                } else {
                    Stage::Connect
                },
                after_ms: *after_ms,
            },
            ErrorV1::Protocol { message } => ClientError::Protocol {
                message: message.clone(),
            },
            ErrorV1::UnexpectedResult { message } => ClientError::UnexpectedResult {
                message: message.clone(),
            },
        }
    }
}

impl HaV1 {
    /// The stored form of a VRRP answer.
    pub fn from_info(info: &HaInfo) -> HaV1 {
        match info {
            HaInfo::Unknown => HaV1::Unknown,
            HaInfo::Absent => HaV1::Absent,
            HaInfo::Error(m) => HaV1::Error { message: m.clone() },
            HaInfo::Rows(rows) => HaV1::Rows {
                rows: rows
                    .iter()
                    .map(|r| VrrpV1 {
                        instance: r.instance.clone(),
                        state: r.state.clone(),
                        priority: r.priority,
                        effective_priority: r.effective_priority,
                        vip: r.vip.clone(),
                        vip_held: r.vip_held,
                        last_advert_from: r.last_advert_from.clone(),
                        last_advert_age_ms: r.last_advert_age_ms,
                        check_status: r.check_status.clone(),
                    })
                    .collect(),
            },
        }
    }

    /// Back to the client's type.
    pub fn to_info(&self) -> HaInfo {
        match self {
            HaV1::Unknown => HaInfo::Unknown,
            HaV1::Absent => HaInfo::Absent,
            HaV1::Error { message } => HaInfo::Error(message.clone()),
            HaV1::Rows { rows } => HaInfo::Rows(
                rows.iter()
                    .map(|r| VrrpRow {
                        instance: r.instance.clone(),
                        state: r.state.clone(),
                        priority: r.priority,
                        effective_priority: r.effective_priority,
                        vip: r.vip.clone(),
                        vip_held: r.vip_held,
                        last_advert_from: r.last_advert_from.clone(),
                        last_advert_age_ms: r.last_advert_age_ms,
                        check_status: r.check_status.clone(),
                    })
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_and_apply_round_trip() {
        let cases = [
            (
                json!({"a": 1, "b": [1, 2, 3]}),
                json!({"a": 2, "b": [1, 5, 3]}),
            ),
            (
                json!({"a": 1, "b": [1, 2]}),
                json!({"b": [1, 2, 3], "c": null}),
            ),
            (
                json!({"a": {"x": "y"}}),
                json!({"a": {"x": "z", "w": true}}),
            ),
            (json!([1, 2]), json!({"now": "an object"})),
            (json!(null), json!({"a": 1})),
        ];
        for (old, new) in cases {
            let p = diff(&old, &new).expect("they differ");
            let mut v = old.clone();
            apply(&mut v, &p).unwrap();
            assert_eq!(v, new, "{p:?}");
            let text = serde_json::to_string(&p).unwrap();
            let back: Patch = serde_json::from_str(&text).unwrap();
            assert_eq!(back, p, "{text}");
        }
        assert_eq!(diff(&json!({"a": [1]}), &json!({"a": [1]})), None);
    }

    #[test]
    fn patch_json_is_compact() {
        let p = diff(&json!({"a": 1, "b": 2}), &json!({"a": 5})).unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"{":{"a":{"=":5},"b":"-"}}"#
        );
    }

    #[test]
    fn a_misfitting_patch_is_an_error() {
        let p = Patch::Object([("a".to_owned(), Patch::Array(vec![(3, Patch::Remove)]))].into());
        assert!(apply(&mut json!({"a": [1]}), &p).is_err());
        assert!(apply(&mut json!(5), &Patch::none()).is_err());
    }

    #[test]
    fn client_types_round_trip() {
        let raw = crate::client::snapshot::tests::raw_node1();
        let snap = NodeSnapshot {
            name: "node1".into(),
            host: "127.0.0.1".into(),
            port: 6032,
            fetched_at: 17,
            elapsed_ms: 3,
            result: NodeData::from_raw(raw),
        };
        let info = NodeInfo {
            name: "node1".into(),
            host: "127.0.0.1".into(),
            port: 6032,
            managed: false,
        };
        let v1 = SnapshotV1::from_snapshot(&snap);
        let json = serde_json::to_value(&v1).unwrap();
        let back: SnapshotV1 = serde_json::from_value(json).unwrap();
        assert_eq!(back.to_snapshot(&info), snap);
        for e in [
            ClientError::Timeout {
                stage: Stage::Query,
                after_ms: 5,
            },
            ClientError::Io { cause: "x".into() },
            ClientError::Protocol {
                message: "p".into(),
            },
        ] {
            let s = NodeSnapshot {
                result: Err(e),
                ..snap.clone()
            };
            assert_eq!(SnapshotV1::from_snapshot(&s).to_snapshot(&info), s);
        }
        let ha = HaInfo::Rows(vec![VrrpRow {
            instance: "VI_01".into(),
            state: "MASTER".into(),
            priority: 100,
            effective_priority: 80,
            vip: "127.0.0.20".into(),
            vip_held: true,
            last_advert_from: None,
            last_advert_age_ms: Some(4),
            check_status: "GOOD".into(),
        }]);
        for info in [
            ha,
            HaInfo::Absent,
            HaInfo::Unknown,
            HaInfo::Error("e".into()),
        ] {
            let v = serde_json::to_value(HaV1::from_info(&info)).unwrap();
            let back: HaV1 = serde_json::from_value(v).unwrap();
            assert_eq!(back.to_info(), info);
        }
    }

    #[test]
    fn frames_carry_their_checksum() {
        let f = encode_frame(FrameKind::Delta, 42, b"abc");
        assert_eq!(f.len(), FRAME_HEADER + 3);
        assert_eq!(u32::from_le_bytes(f[0..4].try_into().unwrap()), 3);
        let crc = u32::from_le_bytes(f[4..8].try_into().unwrap());
        assert_eq!(crc, frame_crc(2, 42, b"abc"));
        assert_ne!(crc, frame_crc(2, 43, b"abc"));
        assert_eq!(FrameKind::from_byte(f[8]), Some(FrameKind::Delta));
    }
}
