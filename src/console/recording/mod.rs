//! The incident recorder (issue 21): every poll of every node written to one file as it
//! happens, and everything the console and the batch checks do, done again on any moment of it.
//!
//! - [`format`]: the file format (version 1, `docs/recording.md`): length-prefixed,
//!   checksummed frames, one per tick, zstd streams restarted at every keyframe, per-node
//!   patches between keyframes;
//! - [`writer`] / [`reader`]: the file, written one whole frame per tick and read up to its
//!   last complete one;
//! - [`record`]: `pxadm record` (every node polled each interval) and the tap behind
//!   `pxadm console --record` (the console's own polls as they arrive);
//! - [`moment`]: `--replay FILE --at TIME` for the batch checks: times, and the snapshots of
//!   a moment;
//! - [`timeline`]: `pxadm --batch timeline --replay FILE`, every finding that appeared or
//!   cleared;
//! - [`replay`]: `pxadm replay FILE`, the console on a recording with a time cursor.

pub mod format;
pub mod moment;
pub mod reader;
pub mod record;
pub mod replay;
pub mod timeline;
pub mod writer;

#[cfg(test)]
mod tests;
