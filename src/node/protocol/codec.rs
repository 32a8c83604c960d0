//! Packet framing: 4-byte headers, sequence ids, and splitting/joining of payloads of 16 MiB and
//! more.
//!
//! Built on mysql_common's [`ChunkDecoder`] and [`packet_to_chunks`] rather than its
//! `PacketCodec`, because a server and a relay need what that codec hides: the current sequence
//! id must be readable and settable (relays re-sequence backend packets, `COM_CHANGE_USER`
//! continues a sequence), and a header with the wrong sequence id must be rejected as soon as
//! its four bytes arrive, so garbage such as an HTTP request is refused without first waiting
//! for the megabytes its "length" promises.

use bytes::{Buf, Bytes, BytesMut};
use mysql_common::proto::codec::{packet_to_chunks, ChunkDecoder, ChunkInfo};
use tokio_util::codec::{Decoder, Encoder};

use super::ProtoError;

/// Size of a packet header: 3-byte little-endian length and 1-byte sequence id.
const HEADER_LEN: usize = 4;

/// A chunk of this length is followed by another chunk of the same packet.
const MAX_CHUNK: usize = 0xFF_FFFF;

/// An oversized packet being skipped: its bytes are read and dropped, never buffered.
#[derive(Debug, Clone, Copy)]
struct Discard {
    /// Bytes of the current chunk still to drop.
    remaining: usize,
    /// The current chunk is full-length: another chunk follows.
    more: bool,
}

/// Something to write: a payload this codec frames, or bytes that already carry headers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Frame<'a> {
    /// A logical packet payload; split into chunks with consecutive sequence ids.
    Payload(&'a [u8]),
    /// Complete packets, headers included, copied verbatim (relay use).
    Raw(&'a [u8]),
}

/// The framing codec, with one sequence counter shared by both directions as the protocol has.
#[derive(Debug)]
pub(crate) struct PacketCodec {
    /// Sequence id expected on the next chunk read, or used for the next chunk written.
    pub(crate) seq: u8,
    /// Largest logical payload accepted from the peer.
    pub(crate) max_packet: usize,
    /// Past the limit, skip the packet (the stream stays in sync) instead of failing with
    /// [`ProtoError::PacketTooLarge`]: the decoder then yields an empty item and sets
    /// `skipped`, which the reader turns into [`ProtoError::PacketSkipped`]. (An error from a
    /// decoder would end tokio's `Framed` stream.)
    pub(crate) skip_oversized: bool,
    /// The last item yielded stands for a skipped oversized packet.
    pub(crate) skipped: bool,
    /// Bytes consumed from the peer (headers included), for `Queries_frontends_bytes_recv`.
    pub(crate) bytes_in: u64,
    /// Bytes encoded for the peer (headers included), for `Queries_frontends_bytes_sent`.
    pub(crate) bytes_out: u64,
    chunk: ChunkDecoder,
    partial: BytesMut,
    discard: Option<Discard>,
}

impl PacketCodec {
    /// A codec at sequence 0 accepting payloads up to `max_packet` bytes.
    pub(crate) fn new(max_packet: usize) -> Self {
        Self {
            seq: 0,
            max_packet,
            skip_oversized: false,
            skipped: false,
            bytes_in: 0,
            bytes_out: 0,
            chunk: ChunkDecoder::default(),
            partial: BytesMut::new(),
            discard: None,
        }
    }

    /// True when no chunk is half-read, i.e. the stream ended on a packet boundary.
    fn at_boundary(&self) -> bool {
        matches!(self.chunk, ChunkDecoder::Idle)
            && self.partial.is_empty()
            && self.discard.is_none()
    }

    /// Drops the bytes of a packet being skipped: true once its last chunk is gone, false when
    /// more bytes are needed.
    fn skip(&mut self, src: &mut BytesMut) -> Result<bool, ProtoError> {
        while let Some(d) = self.discard.as_mut() {
            let n = d.remaining.min(src.len());
            src.advance(n);
            d.remaining -= n;
            if d.remaining > 0 {
                return Ok(false);
            }
            if !d.more {
                self.discard = None;
                return Ok(true);
            }
            if src.len() < HEADER_LEN {
                return Ok(false);
            }
            if src[3] != self.seq {
                return Err(ProtoError::OutOfOrder {
                    expected: self.seq,
                    got: src[3],
                });
            }
            let len = chunk_len(src);
            src.advance(HEADER_LEN);
            self.seq = self.seq.wrapping_add(1);
            *d = Discard {
                remaining: len,
                more: len == MAX_CHUNK,
            };
        }
        Ok(false)
    }
}

/// The payload length in the header at the start of `src` (at least [`HEADER_LEN`] bytes).
fn chunk_len(src: &[u8]) -> usize {
    usize::from(src[0]) | usize::from(src[1]) << 8 | usize::from(src[2]) << 16
}

impl Decoder for PacketCodec {
    type Item = Bytes;
    type Error = ProtoError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, ProtoError> {
        let before = src.len();
        let r = self.decode_chunks(src);
        self.bytes_in += before.saturating_sub(src.len()) as u64;
        r
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, ProtoError> {
        match self.decode(src)? {
            Some(packet) => Ok(Some(packet)),
            None if src.is_empty() && self.at_boundary() => Ok(None),
            None => Err(ProtoError::UnexpectedEof),
        }
    }
}

impl PacketCodec {
    /// The decoder proper: one logical packet from `src`, or `None` when more bytes are needed.
    fn decode_chunks(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, ProtoError> {
        loop {
            if self.discard.is_some() {
                if !self.skip(src)? {
                    return Ok(None);
                }
                self.skipped = true;
                return Ok(Some(Bytes::new()));
            }
            if matches!(self.chunk, ChunkDecoder::Idle) {
                if src.len() < HEADER_LEN {
                    return Ok(None);
                }
                let got = src[3];
                if got != self.seq {
                    return Err(ProtoError::OutOfOrder {
                        expected: self.seq,
                        got,
                    });
                }
                let len = chunk_len(src);
                if self.skip_oversized && self.partial.len() + len > self.max_packet {
                    // Checked on the header, before the payload is read: what was buffered
                    // of the packet is released and the rest is dropped as it arrives.
                    self.partial = BytesMut::new();
                    src.advance(HEADER_LEN);
                    self.seq = self.seq.wrapping_add(1);
                    self.discard = Some(Discard {
                        remaining: len,
                        more: len == MAX_CHUNK,
                    });
                    continue;
                }
            }
            let decoded = self
                .chunk
                .decode(src, &mut self.partial, self.max_packet)
                .map_err(|_| ProtoError::PacketTooLarge {
                    limit: self.max_packet,
                })?;
            match decoded {
                None => {
                    if let ChunkDecoder::Chunk { needed, .. } = self.chunk {
                        // The length passed the max_packet check, so reserving it is bounded.
                        let want = HEADER_LEN + needed.get();
                        src.reserve(want.saturating_sub(src.len()));
                    }
                    return Ok(None);
                }
                Some(info) => {
                    self.seq = self.seq.wrapping_add(1);
                    if let ChunkInfo::Last(_) = info {
                        return Ok(Some(self.partial.split().freeze()));
                    }
                }
            }
        }
    }
}

impl Encoder<Frame<'_>> for PacketCodec {
    type Error = ProtoError;

    fn encode(&mut self, frame: Frame<'_>, dst: &mut BytesMut) -> Result<(), ProtoError> {
        let before = dst.len();
        match frame {
            Frame::Payload(mut payload) => {
                self.seq = packet_to_chunks(self.seq, &mut payload, dst);
            }
            Frame::Raw(frames) => {
                let last_seq = check_raw_frames(frames)?;
                dst.extend_from_slice(frames);
                if let Some(seq) = last_seq {
                    self.seq = seq.wrapping_add(1);
                }
            }
        }
        self.bytes_out += (dst.len() - before) as u64;
        Ok(())
    }
}

/// Checks that `frames` is a whole number of packets and returns the last sequence id, so a
/// relay cannot desynchronise the client by forwarding half a packet.
fn check_raw_frames(mut frames: &[u8]) -> Result<Option<u8>, ProtoError> {
    let mut last = None;
    while !frames.is_empty() {
        if frames.len() < HEADER_LEN {
            return Err(ProtoError::Malformed(
                "raw frames end inside a header".into(),
            ));
        }
        let len =
            usize::from(frames[0]) | usize::from(frames[1]) << 8 | usize::from(frames[2]) << 16;
        let end = HEADER_LEN + len;
        if frames.len() < end {
            return Err(ProtoError::Malformed(
                "raw frames end inside a payload".into(),
            ));
        }
        last = Some(frames[3]);
        frames = &frames[end..];
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::MAX_PAYLOAD_LEN;

    fn encode(codec: &mut PacketCodec, payload: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        codec.encode(Frame::Payload(payload), &mut out).unwrap();
        out
    }

    #[test]
    fn round_trips_sizes_around_the_chunk_limit() {
        for len in [
            0,
            1,
            MAX_PAYLOAD_LEN - 1,
            MAX_PAYLOAD_LEN,
            MAX_PAYLOAD_LEN + 1,
            2 * MAX_PAYLOAD_LEN,
        ] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut writer = PacketCodec::new(usize::MAX);
            writer.seq = 3;
            let mut wire = encode(&mut writer, &payload);
            let chunks = len / MAX_PAYLOAD_LEN + 1;
            assert_eq!(wire.len(), len + 4 * chunks, "len {len}");
            assert_eq!(writer.seq, 3 + chunks as u8);

            let mut reader = PacketCodec::new(usize::MAX);
            reader.seq = 3;
            let got = reader.decode(&mut wire).unwrap().expect("complete packet");
            assert!(got[..] == payload[..], "len {len}");
            assert!(wire.is_empty());
            assert_eq!(reader.seq, writer.seq);
        }
    }

    #[test]
    fn an_oversized_packet_is_skipped_without_buffering_and_the_stream_stays_in_sync() {
        for len in [5000, 2 * MAX_PAYLOAD_LEN + 7] {
            let mut writer = PacketCodec::new(usize::MAX);
            let mut wire = encode(&mut writer, &vec![b'x'; len]);
            writer.seq = 0;
            wire.extend_from_slice(&encode(&mut writer, b"next"));
            let mut reader = PacketCodec::new(4096);
            reader.skip_oversized = true;
            // Fed in small pieces: nothing of the big packet is ever kept.
            let mut src = BytesMut::new();
            let mut items = Vec::new();
            for piece in wire.chunks(1000) {
                src.extend_from_slice(piece);
                while let Some(item) = reader.decode(&mut src).unwrap() {
                    items.push((item, std::mem::take(&mut reader.skipped)));
                    reader.seq = 0;
                }
                assert!(reader.partial.capacity() <= 4096, "len {len}: buffered");
            }
            assert_eq!(items.len(), 2, "len {len}");
            assert!(items[0].1 && items[0].0.is_empty(), "len {len}");
            assert_eq!((&items[1].0[..], items[1].1), (&b"next"[..], false));
        }
    }

    #[test]
    fn decodes_byte_by_byte() {
        let mut writer = PacketCodec::new(1024);
        let wire = encode(&mut writer, b"hello");
        let mut reader = PacketCodec::new(1024);
        let mut src = BytesMut::new();
        let mut out = None;
        for b in wire.iter() {
            assert!(out.is_none());
            src.extend_from_slice(&[*b]);
            out = reader.decode(&mut src).unwrap();
        }
        assert_eq!(out.as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn wrong_sequence_is_rejected_from_the_header_alone() {
        let mut reader = PacketCodec::new(1 << 20);
        reader.seq = 1;
        // "GET " claims a 2 MiB payload with sequence 0x20.
        let mut src = BytesMut::from(&b"GET "[..]);
        match reader.decode(&mut src) {
            Err(ProtoError::OutOfOrder {
                expected: 1,
                got: 0x20,
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn oversized_packet_is_rejected() {
        let mut reader = PacketCodec::new(10);
        let mut src = BytesMut::from(&[11, 0, 0, 0][..]);
        assert!(matches!(
            reader.decode(&mut src),
            Err(ProtoError::PacketTooLarge { limit: 10 })
        ));
    }

    #[test]
    fn eof_inside_a_packet_is_an_error_and_on_a_boundary_is_not() {
        let mut reader = PacketCodec::new(1024);
        let mut src = BytesMut::from(&[5, 0, 0, 0, b'a'][..]);
        assert!(reader.decode(&mut src).unwrap().is_none());
        assert!(matches!(
            reader.decode_eof(&mut src),
            Err(ProtoError::UnexpectedEof)
        ));

        let mut reader = PacketCodec::new(1024);
        let mut src = BytesMut::new();
        assert!(reader.decode_eof(&mut src).unwrap().is_none());
    }

    #[test]
    fn raw_frames_are_copied_and_advance_the_sequence() {
        let mut codec = PacketCodec::new(1024);
        let frames = [1, 0, 0, 5, b'x', 0, 0, 0, 6];
        let mut out = BytesMut::new();
        codec.encode(Frame::Raw(&frames), &mut out).unwrap();
        assert_eq!(&out[..], &frames[..]);
        assert_eq!(codec.seq, 7);

        let mut out = BytesMut::new();
        let truncated = [3, 0, 0, 1, b'x'];
        assert!(codec.encode(Frame::Raw(&truncated), &mut out).is_err());
        assert!(out.is_empty());
        assert_eq!(codec.seq, 7);
    }
}
