//! Writing a recording: one frame per tick, each complete on disk before the next begins.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use super::format::{
    diff, encode_frame, file_prefix, FrameKind, HaV1, Header, NodeRecord, Patch, SnapshotV1,
    TickRecord, ZSTD_LEVEL,
};
use crate::client::detail::HaInfo;
use crate::client::snapshot::NodeSnapshot;

/// What arrived for one node during one tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeUpdate {
    /// A poll result, if the node was polled.
    pub snapshot: Option<NodeSnapshot>,
    /// A VRRP answer, if one was read.
    pub ha: Option<HaInfo>,
    /// New log lines.
    pub log: Vec<String>,
}

impl NodeUpdate {
    /// True when nothing arrived.
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.ha.is_none() && self.log.is_empty()
    }
}

/// The last written state of one node, as stored values (the base of the next patch).
#[derive(Debug, Clone)]
struct Stored {
    snapshot: Option<Value>,
    ha: Value,
}

/// An open recording being written.
pub struct Writer {
    file: File,
    header: Header,
    stored: Vec<Stored>,
    encoder: Option<zstd::stream::write::Encoder<'static, Vec<u8>>>,
    in_block: u32,
    ticks: u64,
    bytes: u64,
    last_at_ms: u64,
}

fn to_value<T: serde::Serialize>(v: &T) -> io::Result<Value> {
    serde_json::to_value(v).map_err(io::Error::other)
}

impl Writer {
    /// Creates `path` (which must not exist yet) and writes the prefix and the header frame.
    pub fn create(path: &Path, header: Header) -> io::Result<Writer> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
            })?;
        Writer::start(file, header)
    }

    /// Writes the prefix and header frame into `file` (empty, positioned at its start).
    pub fn start(mut file: File, header: Header) -> io::Result<Writer> {
        let mut first = file_prefix().to_vec();
        let json = serde_json::to_vec(&header).map_err(io::Error::other)?;
        first.extend(encode_frame(FrameKind::Header, header.created_at_ms, &json));
        file.write_all(&first)?;
        let ha = to_value(&HaV1::Unknown)?;
        let stored = vec![Stored { snapshot: None, ha }; header.nodes.len()];
        Ok(Writer {
            file,
            stored,
            encoder: None,
            in_block: 0,
            ticks: 0,
            bytes: first.len() as u64,
            last_at_ms: header.created_at_ms,
            header,
        })
    }

    /// The header written.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Ticks written.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Bytes written, prefix and header included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Writes one tick at `at_ms` (unix milliseconds; kept from going backwards) with what
    /// arrived for each node (in header order; missing entries count as nothing).
    pub fn write_tick(&mut self, at_ms: u64, updates: &[NodeUpdate]) -> io::Result<()> {
        let at_ms = at_ms.max(self.last_at_ms);
        let keyframe = self.encoder.is_none() || self.in_block >= self.header.keyframe_every;
        let mut record = TickRecord {
            n: Vec::with_capacity(self.stored.len()),
        };
        for (i, stored) in self.stored.iter_mut().enumerate() {
            let update = updates.get(i);
            let new_snapshot = match update.and_then(|u| u.snapshot.as_ref()) {
                Some(s) => Some(to_value(&SnapshotV1::from_snapshot(s))?),
                None => None,
            };
            let new_ha = match update.and_then(|u| u.ha.as_ref()) {
                Some(h) => Some(to_value(&HaV1::from_info(h))?),
                None => None,
            };
            let mut node = NodeRecord {
                p: new_snapshot.is_some(),
                a: new_ha.is_some(),
                l: update.map(|u| u.log.clone()).unwrap_or_default(),
                ..NodeRecord::default()
            };
            if keyframe {
                if let Some(s) = new_snapshot {
                    stored.snapshot = Some(s);
                }
                if let Some(h) = new_ha {
                    stored.ha = h;
                }
                node.s = stored.snapshot.clone();
                node.h = Some(stored.ha.clone());
            } else {
                if let Some(s) = new_snapshot {
                    let patch = match &stored.snapshot {
                        Some(old) => diff(old, &s).unwrap_or_else(Patch::none),
                        None => Patch::Set(s.clone()),
                    };
                    node.s = Some(to_value(&patch)?);
                    stored.snapshot = Some(s);
                }
                if let Some(h) = new_ha {
                    let patch = diff(&stored.ha, &h).unwrap_or_else(Patch::none);
                    node.h = Some(to_value(&patch)?);
                    stored.ha = h;
                }
            }
            let empty = !keyframe && node == NodeRecord::default();
            record.n.push((!empty).then_some(node));
        }
        let json = serde_json::to_vec(&record).map_err(io::Error::other)?;
        if keyframe {
            self.encoder = Some(zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL)?);
            self.in_block = 0;
        }
        let encoder = self
            .encoder
            .as_mut()
            .ok_or_else(|| io::Error::other("no zstd stream"))?;
        encoder.write_all(&json)?;
        encoder.flush()?;
        let payload = std::mem::take(encoder.get_mut());
        let kind = if keyframe {
            FrameKind::Keyframe
        } else {
            FrameKind::Delta
        };
        let frame = encode_frame(kind, at_ms, &payload);
        // One write per tick: a kill between two ticks leaves only whole frames, and one
        // during the write leaves a short last frame, which readers drop.
        self.file.write_all(&frame)?;
        self.in_block += 1;
        self.ticks += 1;
        self.bytes += frame.len() as u64;
        self.last_at_ms = at_ms;
        Ok(())
    }

    /// Flushes the file to disk.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// How a [`BackgroundWriter`] ended.
#[derive(Debug)]
pub struct WriterOutcome {
    /// Ticks written.
    pub ticks: u64,
    /// Bytes written, prefix and header included.
    pub bytes: u64,
    /// The write or sync error that ended it early, if any (the file ends at its last whole
    /// tick).
    pub error: Option<io::Error>,
}

/// What the writing thread reports while it runs, for progress lines.
#[derive(Debug, Default)]
struct Progress {
    ticks: AtomicU64,
    bytes: AtomicU64,
}

/// A tick on its way to the writing thread.
type QueuedTick = (u64, Vec<NodeUpdate>);

/// A [`Writer`] on a thread of its own: compressing a tick and writing it to the file never
/// blocks the async runtime that polls the nodes and drives the console.
pub struct BackgroundWriter {
    tx: mpsc::Sender<QueuedTick>,
    thread: std::thread::JoinHandle<WriterOutcome>,
    progress: Arc<Progress>,
    nodes: usize,
}

impl BackgroundWriter {
    /// Ticks queued before [`BackgroundWriter::write_tick`] waits for the disk.
    const QUEUE: usize = 64;

    /// Moves `writer` to a new thread.
    pub fn spawn(mut writer: Writer) -> io::Result<BackgroundWriter> {
        let (tx, mut rx) = mpsc::channel::<QueuedTick>(Self::QUEUE);
        let progress = Arc::new(Progress::default());
        progress.bytes.store(writer.bytes(), Ordering::Relaxed);
        let nodes = writer.header().nodes.len();
        let shared = Arc::clone(&progress);
        let thread = std::thread::Builder::new()
            .name("pxadm-recorder".into())
            .spawn(move || {
                let mut error = None;
                while let Some((at_ms, updates)) = rx.blocking_recv() {
                    if let Err(e) = writer.write_tick(at_ms, &updates) {
                        error = Some(e);
                        break;
                    }
                    shared.ticks.store(writer.ticks(), Ordering::Relaxed);
                    shared.bytes.store(writer.bytes(), Ordering::Relaxed);
                }
                // Closing the queue first makes every later write_tick return false at once.
                drop(rx);
                if let Err(e) = writer.sync() {
                    error.get_or_insert(e);
                }
                WriterOutcome {
                    ticks: writer.ticks(),
                    bytes: writer.bytes(),
                    error,
                }
            })?;
        Ok(BackgroundWriter {
            tx,
            thread,
            progress,
            nodes,
        })
    }

    /// Nodes in the recording's header.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Ticks written so far.
    pub fn ticks(&self) -> u64 {
        self.progress.ticks.load(Ordering::Relaxed)
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.progress.bytes.load(Ordering::Relaxed)
    }

    /// Queues one tick (see [`Writer::write_tick`]); false once the writer has stopped on an
    /// error, which [`BackgroundWriter::finish`] returns.
    pub async fn write_tick(&self, at_ms: u64, updates: Vec<NodeUpdate>) -> bool {
        self.tx.send((at_ms, updates)).await.is_ok()
    }

    /// Writes what is still queued, syncs the file and says how it went.
    pub async fn finish(self) -> WriterOutcome {
        drop(self.tx);
        let thread = self.thread;
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(outcome)) => outcome,
            _ => WriterOutcome {
                ticks: self.progress.ticks.load(Ordering::Relaxed),
                bytes: self.progress.bytes.load(Ordering::Relaxed),
                error: Some(io::Error::other("the recording thread panicked")),
            },
        }
    }
}
