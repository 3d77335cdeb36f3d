//! Lumberjack frames (the Beats protocol): a pure, incremental decoder and the encoders.
//!
//! Wire format (logstash-input-beats `PROTOCOL.md`, `BeatsParser.java`; go-lumber
//! `protocol/v2`): every frame starts with a version byte (`'2'`, or `'1'` from old
//! senders) and a type byte, then big-endian `u32`s:
//! - `W` window size: `size`. The sender will send `size` data frames, then wait for an ACK.
//! - `J` JSON data: `seq`, `len`, `len` bytes of a JSON document.
//! - `D` key/value data (v1 style): `seq`, `count`, then `count` × (`klen`, key, `vlen`, value).
//! - `C` compressed: `len`, then `len` bytes of a zlib stream holding whole frames.
//! - `A` ACK (server → client only): `seq`, the highest sequence of the window taken.
//!
//! The decoder takes bytes as they arrive ([`Decoder::feed`]) and hands out whole frames
//! ([`Decoder::next_frame`]); it never needs more than one data frame in memory. A
//! compressed frame is inflated as its bytes arrive, a chunk at a time, into a nested
//! decoder, so neither a large compressed frame nor a decompression bomb is buffered
//! whole. Every length is checked against [`Limits`] before anything is allocated for it;
//! malformed input is a [`ProtocolError`], never a panic.

use bytes::{Buf, Bytes, BytesMut};

pub const VERSION_1: u8 = b'1';
pub const VERSION_2: u8 = b'2';
pub const CODE_WINDOW_SIZE: u8 = b'W';
pub const CODE_JSON: u8 = b'J';
pub const CODE_DATA: u8 = b'D';
pub const CODE_COMPRESSED: u8 = b'C';
pub const CODE_ACK: u8 = b'A';

/// How much of its own memory a sender may make the decoder use.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest data frame (a JSON document, or all pairs of a `D` frame), in bytes.
    pub max_frame: usize,
    /// How deep compressed frames may nest (Logstash's parser recurses; 1 = a compressed
    /// frame may hold only data and window frames).
    pub max_nesting: u8,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Filebeat's `max_bytes` defaults to 10 MiB per message; JSON escaping can
            // double that. Anything beyond is a broken or hostile sender.
            max_frame: 64 * 1024 * 1024,
            max_nesting: 2,
        }
    }
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Window {
        version: u8,
        size: u32,
    },
    Json {
        version: u8,
        seq: u32,
        payload: Bytes,
    },
    Data {
        version: u8,
        seq: u32,
        pairs: Vec<(String, String)>,
    },
}

/// Why a stream of bytes is not a Lumberjack stream. The connection is then closed: the
/// framing is lost, nothing after the bad frame can be trusted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("invalid protocol version byte 0x{0:02x}")]
    BadVersion(u8),
    #[error("invalid frame type byte 0x{0:02x}")]
    BadFrameType(u8),
    #[error("{what} of {len} bytes exceeds the limit of {max} bytes")]
    Oversized {
        what: &'static str,
        len: u64,
        max: u64,
    },
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("compressed frames nested deeper than {0}")]
    TooDeep(u8),
    #[error("bad zlib data in a compressed frame: {0}")]
    Zlib(String),
    #[error("a compressed frame ends inside a frame")]
    TruncatedCompressed,
    #[error("the decoder already failed")]
    Failed,
}

/// The inflation of one compressed frame in progress.
struct Inflating {
    /// Compressed bytes of the frame not yet taken from the outer buffer.
    remaining: u64,
    z: flate2::Decompress,
    /// True once the zlib stream ended (trailing bytes of the frame are skipped).
    finished: bool,
    /// zlib failed: reported once the frames inflated before the bad spot are out, so
    /// where the error shows does not depend on how the bytes were split into reads.
    error: Option<String>,
    inner: Decoder,
}

/// A `D` frame whose pairs are still arriving: how far the length scan got, so a large
/// frame arriving in many reads is not rescanned from its start each time.
#[derive(Clone, Copy)]
struct DataScan {
    pos: usize,
    pairs_done: u32,
}

/// Incremental Lumberjack decoder; see the module documentation.
pub struct Decoder {
    buf: BytesMut,
    limits: Limits,
    depth: u8,
    inflating: Option<Box<Inflating>>,
    scan: Option<DataScan>,
    failed: bool,
    scratch: Vec<u8>,
}

/// How much is inflated at a time: bounds the nested decoder's buffer beyond one frame.
const INFLATE_CHUNK: usize = 64 * 1024;
/// The most reserved ahead for a frame whose bytes are still coming.
const RESERVE_AHEAD: usize = 1024 * 1024;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder::nested(limits, 0)
    }

    fn nested(limits: Limits, depth: u8) -> Decoder {
        Decoder {
            buf: BytesMut::new(),
            limits,
            depth,
            inflating: None,
            scan: None,
            failed: false,
            scratch: Vec::new(),
        }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes received but not yet decoded (a partial frame, compressed input pending).
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.inflating.as_ref().map_or(0, |i| i.inner.buffered())
    }

    /// True between frames: nothing partial is held.
    pub fn is_idle(&self) -> bool {
        self.buf.is_empty() && self.inflating.is_none() && self.scan.is_none()
    }

    /// The next whole frame; `Ok(None)` when more bytes are needed. After an error the
    /// decoder stays failed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        if self.failed {
            return Err(ProtocolError::Failed);
        }
        let r = self.next_inner();
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn next_inner(&mut self) -> Result<Option<Frame>, ProtocolError> {
        loop {
            if self.inflating.is_some() {
                match self.step_inflate()? {
                    Step::Frame(f) => return Ok(Some(f)),
                    Step::NeedInput => return Ok(None),
                    Step::Again => continue,
                }
            }
            let Some(&version) = self.buf.first() else {
                return Ok(None);
            };
            if version != VERSION_2 && version != VERSION_1 {
                return Err(ProtocolError::BadVersion(version));
            }
            let Some(&code) = self.buf.get(1) else {
                return Ok(None);
            };
            match code {
                CODE_WINDOW_SIZE => {
                    let Some(size) = be32(&self.buf, 2) else {
                        return Ok(None);
                    };
                    self.buf.advance(6);
                    return Ok(Some(Frame::Window { version, size }));
                }
                CODE_JSON => {
                    let (Some(seq), Some(len)) = (be32(&self.buf, 2), be32(&self.buf, 6)) else {
                        return Ok(None);
                    };
                    if len == 0 {
                        return Err(ProtocolError::Invalid("JSON frame length 0"));
                    }
                    let len = len as usize;
                    if len > self.limits.max_frame {
                        return Err(ProtocolError::Oversized {
                            what: "a JSON frame",
                            len: len as u64,
                            max: self.limits.max_frame as u64,
                        });
                    }
                    if self.buf.len() < 10 + len {
                        // Room for (a good part of) the frame at once rather than regrowing
                        // per read; not all of it, on the word of a sender not yet proven.
                        self.buf
                            .reserve((10 + len - self.buf.len()).min(RESERVE_AHEAD));
                        return Ok(None);
                    }
                    self.buf.advance(10);
                    let payload = self.buf.split_to(len).freeze();
                    return Ok(Some(Frame::Json {
                        version,
                        seq,
                        payload,
                    }));
                }
                CODE_DATA => return self.data_frame(version),
                CODE_COMPRESSED => {
                    let Some(len) = be32(&self.buf, 2) else {
                        return Ok(None);
                    };
                    if self.depth >= self.limits.max_nesting {
                        return Err(ProtocolError::TooDeep(self.limits.max_nesting));
                    }
                    self.buf.advance(6);
                    self.inflating = Some(Box::new(Inflating {
                        remaining: u64::from(len),
                        z: flate2::Decompress::new(true),
                        finished: false,
                        error: None,
                        inner: Decoder::nested(self.limits, self.depth + 1),
                    }));
                }
                other => return Err(ProtocolError::BadFrameType(other)),
            }
        }
    }

    fn data_frame(&mut self, version: u8) -> Result<Option<Frame>, ProtocolError> {
        let (Some(seq), Some(count)) = (be32(&self.buf, 2), be32(&self.buf, 6)) else {
            return Ok(None);
        };
        if count == 0 {
            return Err(ProtocolError::Invalid("data frame with 0 fields"));
        }
        let max = self.limits.max_frame;
        // Each pair takes at least its two lengths.
        if u64::from(count) * 8 > max as u64 {
            return Err(ProtocolError::Oversized {
                what: "a data frame",
                len: u64::from(count) * 8,
                max: max as u64,
            });
        }
        let mut scan = self.scan.unwrap_or(DataScan {
            pos: 10,
            pairs_done: 0,
        });
        // Two length-prefixed strings per pair: key then value.
        while scan.pairs_done < count.saturating_mul(2) {
            let Some(l) = be32(&self.buf, scan.pos) else {
                self.scan = Some(scan);
                return Ok(None);
            };
            let next = scan.pos as u64 + 4 + u64::from(l);
            if next - 10 > max as u64 {
                return Err(ProtocolError::Oversized {
                    what: "a data frame",
                    len: next - 10,
                    max: max as u64,
                });
            }
            scan.pos = next as usize;
            scan.pairs_done += 1;
        }
        if self.buf.len() < scan.pos {
            self.scan = Some(scan);
            self.buf
                .reserve((scan.pos - self.buf.len()).min(RESERVE_AHEAD));
            return Ok(None);
        }
        self.scan = None;
        let frame = self.buf.split_to(scan.pos);
        let mut at = 10;
        let mut pairs = Vec::with_capacity((count as usize).min(64));
        let take = |at: &mut usize| -> Result<String, ProtocolError> {
            let l = be32(&frame, *at).ok_or(ProtocolError::Invalid("data frame"))? as usize;
            let s = frame
                .get(*at + 4..*at + 4 + l)
                .ok_or(ProtocolError::Invalid("data frame"))?;
            *at += 4 + l;
            Ok(String::from_utf8_lossy(s).into_owned())
        };
        for _ in 0..count {
            let k = take(&mut at)?;
            let v = take(&mut at)?;
            pairs.push((k, v));
        }
        Ok(Some(Frame::Data {
            version,
            seq,
            pairs,
        }))
    }

    fn step_inflate(&mut self) -> Result<Step, ProtocolError> {
        let Some(inf) = self.inflating.as_mut() else {
            return Ok(Step::Again);
        };
        if let Some(f) = inf.inner.next_frame()? {
            return Ok(Step::Frame(f));
        }
        if let Some(e) = inf.error.take() {
            return Err(ProtocolError::Zlib(e));
        }
        if inf.finished || inf.remaining == 0 {
            // Skip whatever follows the zlib stream inside the frame (go-lumber does).
            let n = (inf.remaining.min(self.buf.len() as u64)) as usize;
            self.buf.advance(n);
            inf.remaining -= n as u64;
            if inf.remaining > 0 {
                return Ok(Step::NeedInput);
            }
            if !inf.inner.is_idle() {
                return Err(ProtocolError::TruncatedCompressed);
            }
            self.inflating = None;
            return Ok(Step::Again);
        }
        if self.buf.is_empty() {
            return Ok(Step::NeedInput);
        }
        let avail = (inf.remaining.min(self.buf.len() as u64)) as usize;
        let all_here = avail as u64 == inf.remaining;
        self.scratch.clear();
        self.scratch.reserve(INFLATE_CHUNK);
        let (in0, out0) = (inf.z.total_in(), inf.z.total_out());
        let status = inf.z.decompress_vec(
            &self.buf[..avail],
            &mut self.scratch,
            flate2::FlushDecompress::None,
        );
        let consumed = (inf.z.total_in() - in0) as usize;
        let produced = inf.z.total_out() - out0;
        self.buf.advance(consumed);
        inf.remaining -= consumed as u64;
        // On an error too: what was inflated before it is good data.
        inf.inner.feed(&self.scratch);
        let status = match status {
            Ok(s) => s,
            Err(e) => {
                inf.error = Some(e.to_string());
                return Ok(Step::Again);
            }
        };
        if status == flate2::Status::StreamEnd {
            inf.finished = true;
        } else if consumed == 0 && produced == 0 {
            if all_here {
                // The frame's bytes are all here and zlib cannot go on: the stream is cut.
                // What was inflated must then end on a frame boundary.
                inf.finished = true;
            } else {
                return Ok(Step::NeedInput);
            }
        }
        Ok(Step::Again)
    }
}

enum Step {
    Frame(Frame),
    NeedInput,
    Again,
}

/// Decodes a whole byte string (the fuzz target's entry point, and the recorded-frames
/// tests'): every frame, then whether the bytes ended between frames.
pub fn decode_all(bytes: &[u8], limits: Limits) -> (Vec<Frame>, Result<bool, ProtocolError>) {
    let mut d = Decoder::new(limits);
    d.feed(bytes);
    let mut frames = Vec::new();
    loop {
        match d.next_frame() {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => return (frames, Ok(d.is_idle())),
            Err(e) => return (frames, Err(e)),
        }
    }
}

/// The ACK frame for `seq`.
pub fn encode_ack(version: u8, seq: u32) -> [u8; 6] {
    let s = seq.to_be_bytes();
    [version, CODE_ACK, s[0], s[1], s[2], s[3]]
}

/// Reads an ACK frame (tests and benches play the client).
pub fn decode_ack(b: &[u8]) -> Option<(u8, u32)> {
    match b {
        [v, CODE_ACK, a, b2, c, d, ..] => Some((*v, u32::from_be_bytes([*a, *b2, *c, *d]))),
        _ => None,
    }
}

pub fn encode_window(out: &mut Vec<u8>, size: u32) {
    out.extend_from_slice(&[VERSION_2, CODE_WINDOW_SIZE]);
    out.extend_from_slice(&size.to_be_bytes());
}

pub fn encode_json(out: &mut Vec<u8>, seq: u32, doc: &[u8]) {
    out.extend_from_slice(&[VERSION_2, CODE_JSON]);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&(doc.len() as u32).to_be_bytes());
    out.extend_from_slice(doc);
}

pub fn encode_data(out: &mut Vec<u8>, version: u8, seq: u32, pairs: &[(&str, &str)]) {
    out.extend_from_slice(&[version, CODE_DATA]);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&(pairs.len() as u32).to_be_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
}

/// A compressed frame holding `frames` (already encoded).
pub fn encode_compressed(out: &mut Vec<u8>, frames: &[u8]) {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(frames);
    let body = z.finish().unwrap_or_default();
    out.extend_from_slice(&[VERSION_2, CODE_COMPRESSED]);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut inner = Vec::new();
        encode_json(&mut inner, 2, br#"{"b":2}"#);
        encode_json(&mut inner, 3, br#"{"c":3}"#);
        let mut out = Vec::new();
        encode_window(&mut out, 4);
        encode_json(&mut out, 1, br#"{"a":1}"#);
        encode_compressed(&mut out, &inner);
        encode_data(&mut out, VERSION_2, 4, &[("line", "hello"), ("host", "h")]);
        out
    }

    fn expected() -> Vec<Frame> {
        vec![
            Frame::Window {
                version: b'2',
                size: 4,
            },
            Frame::Json {
                version: b'2',
                seq: 1,
                payload: Bytes::from_static(br#"{"a":1}"#),
            },
            Frame::Json {
                version: b'2',
                seq: 2,
                payload: Bytes::from_static(br#"{"b":2}"#),
            },
            Frame::Json {
                version: b'2',
                seq: 3,
                payload: Bytes::from_static(br#"{"c":3}"#),
            },
            Frame::Data {
                version: b'2',
                seq: 4,
                pairs: vec![("line".into(), "hello".into()), ("host".into(), "h".into())],
            },
        ]
    }

    #[test]
    fn decodes_whole_stream() {
        let (frames, end) = decode_all(&sample(), Limits::default());
        assert_eq!(frames, expected());
        assert_eq!(end, Ok(true));
    }

    #[test]
    fn decodes_byte_by_byte() {
        let mut d = Decoder::new(Limits::default());
        let mut frames = Vec::new();
        for b in sample() {
            d.feed(&[b]);
            while let Some(f) = d.next_frame().expect("valid stream") {
                frames.push(f);
            }
        }
        assert_eq!(frames, expected());
        assert!(d.is_idle());
    }

    #[test]
    fn rejects_bad_version_and_type() {
        assert_eq!(
            decode_all(b"GET / HTTP/1.1\r\n", Limits::default()).1,
            Err(ProtocolError::BadVersion(b'G'))
        );
        assert_eq!(
            decode_all(b"2Z", Limits::default()).1,
            Err(ProtocolError::BadFrameType(b'Z'))
        );
        assert_eq!(
            decode_all(b"2J\0\0\0\x01\0\0\0\0", Limits::default()).1,
            Err(ProtocolError::Invalid("JSON frame length 0"))
        );
    }

    #[test]
    fn oversized_frame_is_refused_before_buffering() {
        let limits = Limits {
            max_frame: 100,
            ..Limits::default()
        };
        let mut d = Decoder::new(limits);
        d.feed(b"2J\0\0\0\x01\xff\xff\xff\xff");
        assert!(matches!(
            d.next_frame(),
            Err(ProtocolError::Oversized { .. })
        ));
        let mut d = Decoder::new(limits);
        d.feed(b"2D\0\0\0\x01\0\0\0\x01\x7f\xff\xff\xff");
        assert!(matches!(
            d.next_frame(),
            Err(ProtocolError::Oversized { .. })
        ));
        // A count of pairs that cannot fit.
        let mut d = Decoder::new(limits);
        d.feed(b"2D\0\0\0\x01\xff\xff\xff\xff");
        assert!(matches!(
            d.next_frame(),
            Err(ProtocolError::Oversized { .. })
        ));
    }

    #[test]
    fn decompression_bomb_stays_small() {
        // 32 MiB of zeros in a compressed frame: they inflate into garbage frames (version
        // byte 0), detected in the first chunk; the decoder never holds more than a chunk.
        let mut zeros = Vec::new();
        {
            use std::io::Write;
            let mut z = flate2::write::ZlibEncoder::new(&mut zeros, flate2::Compression::best());
            let block = vec![0u8; 1 << 20];
            for _ in 0..32 {
                z.write_all(&block).expect("vec");
            }
            z.finish().expect("vec");
        }
        let mut out = Vec::new();
        out.extend_from_slice(b"2C");
        out.extend_from_slice(&(zeros.len() as u32).to_be_bytes());
        out.extend_from_slice(&zeros);
        let mut d = Decoder::new(Limits::default());
        d.feed(&out);
        assert_eq!(d.next_frame(), Err(ProtocolError::BadVersion(0)));
        assert!(d.buffered() < out.len() + 2 * INFLATE_CHUNK);
    }

    #[test]
    fn bomb_of_valid_frames_is_streamed() {
        // A window of 100k frames in one compressed frame comes out frame by frame.
        let mut inner = Vec::new();
        for i in 0..100_000u32 {
            encode_json(
                &mut inner,
                i + 1,
                br#"{"message":"xxxxxxxxxxxxxxxxxxxxxxxx"}"#,
            );
        }
        let mut out = Vec::new();
        encode_window(&mut out, 100_000);
        encode_compressed(&mut out, &inner);
        let mut d = Decoder::new(Limits::default());
        d.feed(&out);
        let mut n = 0;
        let mut peak = 0;
        while let Some(f) = d.next_frame().expect("valid") {
            n += 1;
            peak = peak.max(d.buffered());
            let _ = f;
        }
        assert_eq!(n, 100_001);
        assert!(peak < out.len() + 2 * INFLATE_CHUNK, "peak {peak}");
        assert!(d.is_idle());
    }

    #[test]
    fn truncated_compressed_frame_is_an_error() {
        let mut inner = Vec::new();
        encode_json(&mut inner, 1, br#"{"a":1}"#);
        inner.truncate(inner.len() - 2);
        let mut out = Vec::new();
        encode_compressed(&mut out, &inner);
        assert_eq!(
            decode_all(&out, Limits::default()).1,
            Err(ProtocolError::TruncatedCompressed)
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let mut f = Vec::new();
        encode_json(&mut f, 1, b"{}");
        for _ in 0..3 {
            let mut c = Vec::new();
            encode_compressed(&mut c, &f);
            f = c;
        }
        assert_eq!(
            decode_all(&f, Limits::default()).1,
            Err(ProtocolError::TooDeep(2))
        );
    }

    #[test]
    fn random_and_truncated_input_never_panics() {
        let valid = sample();
        let mut rng = fastrand::Rng::with_seed(20);
        for round in 0..20_000 {
            let mut bytes = match round % 4 {
                0 => valid[..rng.usize(0..=valid.len())].to_vec(),
                1 => {
                    let mut v = valid.clone();
                    for _ in 0..rng.usize(1..4) {
                        let i = rng.usize(0..v.len());
                        v[i] = rng.u8(..);
                    }
                    v
                }
                2 => {
                    // Plausible headers with random bodies.
                    let mut v = vec![b'2', *rng.choice(b"WJDCA?").unwrap_or(&b'J')];
                    v.extend((0..rng.usize(0..64)).map(|_| rng.u8(..)));
                    v
                }
                _ => (0..rng.usize(0..256)).map(|_| rng.u8(..)).collect(),
            };
            if round % 7 == 0 {
                let mut c = Vec::new();
                encode_compressed(&mut c, &bytes);
                bytes = c;
            }
            let limits = Limits {
                max_frame: 1 << 16,
                ..Limits::default()
            };
            let whole = decode_all(&bytes, limits);
            // Feeding in random pieces must give the same frames.
            let mut d = Decoder::new(limits);
            let mut frames = Vec::new();
            let mut rest = &bytes[..];
            let mut err = None;
            while !rest.is_empty() && err.is_none() {
                let n = rng.usize(1..=rest.len());
                d.feed(&rest[..n]);
                rest = &rest[n..];
                loop {
                    match d.next_frame() {
                        Ok(Some(f)) => frames.push(f),
                        Ok(None) => break,
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    }
                }
            }
            assert_eq!(frames, whole.0, "round {round}");
            assert_eq!(err.is_some(), whole.1.is_err(), "round {round}");
        }
    }
}
