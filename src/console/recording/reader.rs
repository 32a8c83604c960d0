//! Reading a recording: an index of its frames on open (every checksum verified), then ticks
//! decoded on demand from the nearest keyframe.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::format::{
    apply, frame_crc, FrameKind, HaV1, Header, Patch, SnapshotV1, TickRecord, FILE_PREFIX,
    FORMAT_VERSION, FRAME_HEADER, MAGIC, MAX_PAYLOAD, OLDEST_READABLE,
};
use crate::client::detail::HaInfo;
use crate::client::snapshot::NodeSnapshot;

/// Why a recording cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// Not a recording, a newer format, or a damaged beginning.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Where a tick's frame lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameRef {
    /// Offset of the payload.
    offset: u64,
    /// Payload length.
    len: u32,
    /// Keyframe or delta.
    keyframe: bool,
    /// Tick time, unix milliseconds.
    at_ms: u64,
}

/// How the file ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// After a complete frame.
    Clean,
    /// With bytes that are not a complete, valid frame (a killed recorder, or damage); every
    /// tick before them is readable.
    Damaged {
        /// Offset of the first byte ignored.
        offset: u64,
        /// Bytes ignored.
        ignored: u64,
        /// What was found there.
        reason: String,
    },
}

/// One moment of a recording: every node's state after the tick, and what arrived in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Position in the recording, from 0.
    pub index: usize,
    /// Unix milliseconds.
    pub at_ms: u64,
    /// Per node, in header order.
    pub nodes: Vec<NodeTick>,
}

impl Tick {
    /// Unix seconds.
    pub fn at_secs(&self) -> u64 {
        self.at_ms / 1000
    }

    /// The latest snapshot of every node polled at least once so far.
    pub fn snapshots(&self) -> Vec<NodeSnapshot> {
        self.nodes
            .iter()
            .filter_map(|n| n.snapshot.clone())
            .collect()
    }
}

/// One node in one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTick {
    /// Its latest poll (None until the first).
    pub snapshot: Option<NodeSnapshot>,
    /// Its latest VRRP answer.
    pub ha: HaInfo,
    /// A poll arrived in this tick.
    pub polled: bool,
    /// A VRRP answer arrived in this tick.
    pub ha_read: bool,
    /// Log lines that arrived in this tick.
    pub log: Vec<String>,
}

/// An open recording.
#[derive(Debug)]
pub struct Recording {
    path: PathBuf,
    version: u16,
    header: Header,
    frames: Vec<FrameRef>,
    end: End,
    file_len: u64,
}

fn format_error(path: &Path, message: impl Into<String>) -> ReadError {
    ReadError::Format {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Reads up to `buf.len()` bytes; fewer only at the end of the file.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// A frame read while indexing.
enum Scanned {
    Frame {
        kind: FrameKind,
        at_ms: u64,
        payload: Vec<u8>,
    },
    End,
    Bad(String),
}

fn scan_frame(r: &mut impl Read) -> io::Result<Scanned> {
    let mut head = [0u8; FRAME_HEADER];
    let got = read_full(r, &mut head)?;
    if got == 0 {
        return Ok(Scanned::End);
    }
    if got < FRAME_HEADER {
        return Ok(Scanned::Bad(format!(
            "an incomplete frame header ({got} of {FRAME_HEADER} bytes)"
        )));
    }
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let kind_byte = head[8];
    let mut at = [0u8; 8];
    at.copy_from_slice(&head[9..17]);
    let at_ms = u64::from_le_bytes(at);
    if len > MAX_PAYLOAD {
        return Ok(Scanned::Bad(format!("a frame length of {len} bytes")));
    }
    let mut payload = vec![0u8; len as usize];
    let got = read_full(r, &mut payload)?;
    if got < payload.len() {
        return Ok(Scanned::Bad(format!(
            "an incomplete frame ({got} of {len} payload bytes)"
        )));
    }
    if frame_crc(kind_byte, at_ms, &payload) != crc {
        return Ok(Scanned::Bad("a frame whose checksum does not match".into()));
    }
    let Some(kind) = FrameKind::from_byte(kind_byte) else {
        return Ok(Scanned::Bad(format!("a frame of unknown kind {kind_byte}")));
    };
    Ok(Scanned::Frame {
        kind,
        at_ms,
        payload,
    })
}

impl Recording {
    /// Opens `path`: checks the prefix and header, then indexes every tick up to the end or
    /// to the first frame that is incomplete or fails its checksum.
    pub fn open(path: &Path) -> Result<Recording, ReadError> {
        let io_err = |source| ReadError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let file_len = file.metadata().map_err(io_err)?.len();
        let mut r = BufReader::with_capacity(256 * 1024, file);
        let mut prefix = [0u8; FILE_PREFIX];
        let got = read_full(&mut r, &mut prefix).map_err(io_err)?;
        if got < FILE_PREFIX || &prefix[..8] != MAGIC {
            return Err(format_error(
                path,
                "not a pxadm recording (no PXADMREC mark)",
            ));
        }
        let version = u16::from_le_bytes([prefix[8], prefix[9]]);
        if version > FORMAT_VERSION {
            return Err(format_error(
                path,
                format!(
                    "recording format {version} was written by a newer pxadm; this one reads formats {OLDEST_READABLE} to {FORMAT_VERSION}"
                ),
            ));
        }
        if version < OLDEST_READABLE {
            return Err(format_error(
                path,
                format!("recording format {version} is no longer readable"),
            ));
        }
        let (header, header_len) = match scan_frame(&mut r).map_err(io_err)? {
            Scanned::Frame {
                kind: FrameKind::Header,
                payload,
                ..
            } => (
                serde_json::from_slice::<Header>(&payload)
                    .map_err(|e| format_error(path, format!("unreadable header: {e}")))?,
                payload.len() as u64,
            ),
            Scanned::Frame { .. } => {
                return Err(format_error(path, "the first frame is not a header"))
            }
            Scanned::End => return Err(format_error(path, "the file ends before its header")),
            Scanned::Bad(why) => return Err(format_error(path, format!("damaged header: {why}"))),
        };
        let mut frames: Vec<FrameRef> = Vec::new();
        let mut pos = (FILE_PREFIX + FRAME_HEADER) as u64 + header_len;
        let end = loop {
            match scan_frame(&mut r).map_err(io_err)? {
                Scanned::End => break End::Clean,
                Scanned::Bad(reason) => {
                    break End::Damaged {
                        offset: pos,
                        ignored: file_len.saturating_sub(pos),
                        reason,
                    }
                }
                Scanned::Frame {
                    kind,
                    at_ms,
                    payload,
                } => {
                    let keyframe = match kind {
                        FrameKind::Keyframe => true,
                        FrameKind::Delta if !frames.is_empty() => false,
                        FrameKind::Delta => {
                            break End::Damaged {
                                offset: pos,
                                ignored: file_len.saturating_sub(pos),
                                reason: "a delta tick before any keyframe".into(),
                            }
                        }
                        FrameKind::Header => {
                            break End::Damaged {
                                offset: pos,
                                ignored: file_len.saturating_sub(pos),
                                reason: "a second header".into(),
                            }
                        }
                    };
                    let len = payload.len() as u32;
                    frames.push(FrameRef {
                        offset: pos + FRAME_HEADER as u64,
                        len,
                        keyframe,
                        at_ms,
                    });
                    pos += FRAME_HEADER as u64 + u64::from(len);
                }
            }
        };
        Ok(Recording {
            path: path.to_path_buf(),
            version,
            header,
            frames,
            end,
            file_len,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format version the file was written in.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// How the file ends.
    pub fn end(&self) -> &End {
        &self.end
    }

    /// The file's size in bytes.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Number of readable ticks.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when no tick is readable.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Sizes on disk, frame headers included: (keyframes, their bytes, deltas, their bytes).
    pub fn frame_stats(&self) -> (usize, u64, usize, u64) {
        let size = |f: &FrameRef| u64::from(f.len) + FRAME_HEADER as u64;
        let (k, d): (Vec<&FrameRef>, Vec<&FrameRef>) = self.frames.iter().partition(|f| f.keyframe);
        (
            k.len(),
            k.iter().map(|f| size(f)).sum(),
            d.len(),
            d.iter().map(|f| size(f)).sum(),
        )
    }

    /// Time of tick `i`, unix milliseconds.
    pub fn time_of(&self, i: usize) -> Option<u64> {
        self.frames.get(i).map(|f| f.at_ms)
    }

    /// Time of the first and last tick.
    pub fn span_ms(&self) -> Option<(u64, u64)> {
        Some((self.frames.first()?.at_ms, self.frames.last()?.at_ms))
    }

    /// The last tick at or before `at_ms`; None when `at_ms` is before the first tick.
    pub fn index_at(&self, at_ms: u64) -> Option<usize> {
        self.frames
            .partition_point(|f| f.at_ms <= at_ms)
            .checked_sub(1)
    }

    /// The keyframe that tick `i` is decoded from.
    fn block_start(&self, i: usize) -> usize {
        (0..=i.min(self.frames.len().saturating_sub(1)))
            .rev()
            .find(|j| self.frames[*j].keyframe)
            .unwrap_or(0)
    }

    /// A cursor before the first tick.
    pub fn cursor(&self) -> Result<Cursor<'_>, ReadError> {
        let file = File::open(&self.path).map_err(|source| ReadError::Io {
            path: self.path.display().to_string(),
            source,
        })?;
        Ok(Cursor {
            rec: self,
            file,
            next: 0,
            decoder: None,
            state: self.fresh_state(),
        })
    }

    fn fresh_state(&self) -> Vec<NodeValues> {
        vec![NodeValues::default(); self.header.nodes.len()]
    }

    /// Tick `i` (decoded from its block's keyframe).
    pub fn tick(&self, i: usize) -> Result<Tick, ReadError> {
        let mut c = self.cursor()?;
        c.seek(i)?;
        c.next_tick()?
            .ok_or_else(|| format_error(&self.path, format!("no tick {i}")))
    }

    /// The state at `at_ms`: the last tick at or before it.
    pub fn tick_at(&self, at_ms: u64) -> Result<Option<Tick>, ReadError> {
        match self.index_at(at_ms) {
            Some(i) => self.tick(i).map(Some),
            None => Ok(None),
        }
    }
}

/// A node's state as stored values.
#[derive(Debug, Clone, Default)]
struct NodeValues {
    snapshot: Option<Value>,
    ha: Option<Value>,
}

/// A position in a recording; reads ticks in order, seeks through keyframes.
pub struct Cursor<'a> {
    rec: &'a Recording,
    file: File,
    next: usize,
    decoder: Option<zstd::stream::raw::Decoder<'static>>,
    state: Vec<NodeValues>,
}

impl Cursor<'_> {
    /// The index of the tick [`Cursor::next_tick`] returns.
    pub fn position(&self) -> usize {
        self.next
    }

    fn err(&self, message: impl Into<String>) -> ReadError {
        format_error(&self.rec.path, message)
    }

    /// Moves so that the next tick read is `i` (decoding from the nearest keyframe when
    /// going back or far ahead).
    pub fn seek(&mut self, i: usize) -> Result<(), ReadError> {
        let i = i.min(self.rec.len());
        let start = self.rec.block_start(i);
        if i < self.next || start > self.next || self.decoder.is_none() && self.next != start {
            self.next = start;
            self.decoder = None;
            self.state = self.rec.fresh_state();
        }
        while self.next < i {
            self.step()?;
        }
        Ok(())
    }

    /// Decompresses frame `self.next` and applies it to the state.
    fn step(&mut self) -> Result<TickRecord, ReadError> {
        let i = self.next;
        let f = *self
            .rec
            .frames
            .get(i)
            .ok_or_else(|| self.err(format!("no tick {i}")))?;
        let mut payload = vec![0u8; f.len as usize];
        self.file
            .read_exact_at(&mut payload, f.offset)
            .map_err(|source| ReadError::Io {
                path: self.rec.path.display().to_string(),
                source,
            })?;
        if f.keyframe {
            self.decoder = Some(
                zstd::stream::raw::Decoder::new().map_err(|e| self.err(format!("zstd: {e}")))?,
            );
        }
        let json = {
            let Some(decoder) = self.decoder.as_mut() else {
                return Err(self.err(format!("tick {i} has no keyframe before it")));
            };
            decompress(decoder, &payload)
                .map_err(|e| format_error(&self.rec.path, format!("tick {i}: zstd: {e}")))?
        };
        let record: TickRecord = serde_json::from_slice(&json)
            .map_err(|e| self.err(format!("tick {i}: unreadable: {e}")))?;
        for (n, slot) in self.state.iter_mut().enumerate() {
            let Some(Some(node)) = record.n.get(n) else {
                continue;
            };
            if f.keyframe {
                slot.snapshot = node.s.clone();
                slot.ha = node.h.clone();
                continue;
            }
            if let Some(p) = &node.s {
                let patch: Patch = serde_json::from_value(p.clone())
                    .map_err(|e| format_error(&self.rec.path, format!("tick {i}: {e}")))?;
                match (&mut slot.snapshot, patch) {
                    (_, Patch::Set(v)) => slot.snapshot = Some(v),
                    (Some(v), patch) => apply(v, &patch)
                        .map_err(|e| format_error(&self.rec.path, format!("tick {i}: {e}")))?,
                    (None, _) => {
                        return Err(self.err(format!("tick {i}: a patch to a node never polled")))
                    }
                }
            }
            if let Some(p) = &node.h {
                let patch: Patch = serde_json::from_value(p.clone())
                    .map_err(|e| format_error(&self.rec.path, format!("tick {i}: {e}")))?;
                let base = slot.ha.get_or_insert_with(|| {
                    serde_json::to_value(HaV1::Unknown).unwrap_or(Value::Null)
                });
                apply(base, &patch)
                    .map_err(|e| format_error(&self.rec.path, format!("tick {i}: {e}")))?;
            }
        }
        self.next += 1;
        Ok(record)
    }

    /// The next tick, or None after the last.
    pub fn next_tick(&mut self) -> Result<Option<Tick>, ReadError> {
        if self.next >= self.rec.len() {
            return Ok(None);
        }
        let index = self.next;
        let at_ms = self.rec.frames[index].at_ms;
        let record = self.step()?;
        let mut nodes = Vec::with_capacity(self.state.len());
        for (n, (slot, info)) in self.state.iter().zip(&self.rec.header.nodes).enumerate() {
            let arrived = record.n.get(n).cloned().flatten().unwrap_or_default();
            let snapshot = match &slot.snapshot {
                Some(v) => Some(
                    serde_json::from_value::<SnapshotV1>(v.clone())
                        .map_err(|e| self.err(format!("tick {index}, {}: {e}", info.name)))?
                        .to_snapshot(info),
                ),
                None => None,
            };
            let ha = match &slot.ha {
                Some(v) => serde_json::from_value::<HaV1>(v.clone())
                    .map_err(|e| self.err(format!("tick {index}, {}: {e}", info.name)))?
                    .to_info(),
                None => HaInfo::Unknown,
            };
            nodes.push(NodeTick {
                snapshot,
                ha,
                polled: arrived.p,
                ha_read: arrived.a,
                log: arrived.l,
            });
        }
        Ok(Some(Tick {
            index,
            at_ms,
            nodes,
        }))
    }
}

/// Decompresses one tick's part of a zstd stream: everything the flush made decodable.
fn decompress(
    decoder: &mut zstd::stream::raw::Decoder<'static>,
    payload: &[u8],
) -> io::Result<Vec<u8>> {
    use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
    let mut input = InBuffer::around(payload);
    let mut out = Vec::with_capacity(payload.len() * 8);
    let mut buf = vec![0u8; 128 * 1024];
    loop {
        let mut output = OutBuffer::around(&mut buf[..]);
        decoder.run(&mut input, &mut output)?;
        let produced = output.pos();
        out.extend_from_slice(&buf[..produced]);
        if input.pos() >= payload.len() && produced < buf.len() {
            return Ok(out);
        }
    }
}
