//! GELF bytes to JSON documents, as the Graylog spec and Logstash's `gelfd2` read them:
//! a datagram is a chunk (magic `1e 0f`, 8-byte message id, sequence number, count), or a
//! whole message that is zlib (`78 ..`), gzip (`1f 8b`) or plain JSON (`{`). Chunks are
//! reassembled in any order within [`CHUNK_TIMEOUT`], at most [`MAX_CHUNKS`] per message.
//! Limits keep hostile senders from taking memory: bounded decompressed size, bounded
//! messages in reassembly. Pure (the clock is passed in), so it is fuzzed and unit-tested.

use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};

/// The spec's limits.
pub const MAX_CHUNKS: usize = 128;
pub const CHUNK_TIMEOUT: Duration = Duration::from_secs(5);
/// A message decompressing to more than this is refused (a zip bomb stays small).
pub const MAX_MESSAGE: usize = 32 * 1024 * 1024;
/// Messages being reassembled at once; beyond it the oldest is dropped.
pub const MAX_PENDING: usize = 4096;

/// Why bytes were refused (each is counted and logged by the input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("empty datagram")]
    Empty,
    #[error("chunk header too short")]
    ShortChunk,
    #[error("chunk count {0} out of range (1..=128)")]
    BadCount(u8),
    #[error("chunk sequence {seq} not below its count {count}")]
    BadSequence { seq: u8, count: u8 },
    #[error("chunk count changed within a message")]
    CountMismatch,
    #[error("cannot decompress: {0}")]
    Decompress(String),
    #[error("message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    #[error("not GELF (no JSON object, zlib or gzip header)")]
    Unknown,
}

struct Partial {
    first_seen: Instant,
    count: u8,
    parts: Vec<Option<Vec<u8>>>,
    received: usize,
    bytes: usize,
}

/// Reassembles chunked messages across datagrams.
#[derive(Default)]
pub struct Reassembler {
    pending: HashMap<[u8; 8], Partial>,
    /// Messages given up on because chunks were missing after the timeout.
    pub expired: u64,
}

impl Reassembler {
    /// Takes one datagram; returns a whole message's bytes (decompressed) when it
    /// completes one.
    pub fn push(&mut self, datagram: &[u8], now: Instant) -> Result<Option<Vec<u8>>, Reject> {
        self.expire(now);
        match datagram {
            [] => Err(Reject::Empty),
            [0x1e, 0x0f, rest @ ..] => self.chunk(rest, now),
            whole => decompress(whole).map(Some),
        }
    }

    fn chunk(&mut self, rest: &[u8], now: Instant) -> Result<Option<Vec<u8>>, Reject> {
        let (header, data) = rest.split_at_checked(10).ok_or(Reject::ShortChunk)?;
        let mut id = [0u8; 8];
        id.copy_from_slice(&header[..8]);
        let (seq, count) = (header[8], header[9]);
        if count == 0 || usize::from(count) > MAX_CHUNKS {
            return Err(Reject::BadCount(count));
        }
        if seq >= count {
            return Err(Reject::BadSequence { seq, count });
        }
        if !self.pending.contains_key(&id) && self.pending.len() >= MAX_PENDING {
            if let Some(oldest) = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.first_seen)
                .map(|(k, _)| *k)
            {
                self.pending.remove(&oldest);
                self.expired += 1;
            }
        }
        let p = self.pending.entry(id).or_insert_with(|| Partial {
            first_seen: now,
            count,
            parts: vec![None; usize::from(count)],
            received: 0,
            bytes: 0,
        });
        if p.count != count {
            self.pending.remove(&id);
            return Err(Reject::CountMismatch);
        }
        let slot = &mut p.parts[usize::from(seq)];
        if slot.is_none() {
            p.bytes += data.len();
            if p.bytes > MAX_MESSAGE {
                self.pending.remove(&id);
                return Err(Reject::TooLarge);
            }
            *slot = Some(data.to_vec());
            p.received += 1;
        }
        if p.received < usize::from(p.count) {
            return Ok(None);
        }
        let Some(p) = self.pending.remove(&id) else {
            return Ok(None);
        };
        let whole: Vec<u8> = p.parts.into_iter().flatten().flatten().collect();
        decompress(&whole).map(Some)
    }

    fn expire(&mut self, now: Instant) {
        let before = self.pending.len();
        self.pending
            .retain(|_, p| now.duration_since(p.first_seen) < CHUNK_TIMEOUT);
        self.expired += (before - self.pending.len()) as u64;
    }

    /// Messages waiting for more chunks.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

fn read_limited(r: impl Read) -> Result<Vec<u8>, Reject> {
    let mut out = Vec::new();
    r.take(MAX_MESSAGE as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Reject::Decompress(e.to_string()))?;
    if out.len() > MAX_MESSAGE {
        return Err(Reject::TooLarge);
    }
    Ok(out)
}

/// A whole message: zlib, gzip or plain bytes.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, Reject> {
    match data {
        [0x1f, 0x8b, ..] => read_limited(flate2::read::GzDecoder::new(data)),
        [0x78, ..] => read_limited(flate2::read::ZlibDecoder::new(data)),
        _ if data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') => {
            if data.len() > MAX_MESSAGE {
                return Err(Reject::TooLarge);
            }
            Ok(data.to_vec())
        }
        _ => Err(Reject::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zlib(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    fn chunks(id: u8, payload: &[u8], size: usize) -> Vec<Vec<u8>> {
        let parts: Vec<&[u8]> = payload.chunks(size).collect();
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut c = vec![
                    0x1e,
                    0x0f,
                    id,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    i as u8,
                    parts.len() as u8,
                ];
                c.extend_from_slice(p);
                c
            })
            .collect()
    }

    #[test]
    fn whole_messages_plain_zlib_gzip() {
        let doc = br#"{"version":"1.1","host":"h","short_message":"hi"}"#;
        let mut r = Reassembler::default();
        let now = Instant::now();
        assert_eq!(r.push(doc, now).unwrap().unwrap(), doc);
        assert_eq!(r.push(&zlib(doc), now).unwrap().unwrap(), doc);
        let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        g.write_all(doc).unwrap();
        assert_eq!(r.push(&g.finish().unwrap(), now).unwrap().unwrap(), doc);
        assert_eq!(r.push(b"garbage", now), Err(Reject::Unknown));
    }

    #[test]
    fn chunks_reassemble_in_any_order_and_expire() {
        let body: String = (0..2000)
            .map(|i| format!("{} ", i * 7919 % 10007))
            .collect();
        let doc: Vec<u8> = format!(r#"{{"short_message":"{body}"}}"#).into_bytes();
        let compressed = zlib(&doc);
        let size = compressed.len() / 10 + 1;
        let mut cs = chunks(7, &compressed, size);
        assert!(cs.len() > 3);
        cs.reverse();
        let mut r = Reassembler::default();
        let now = Instant::now();
        let last = cs.pop().unwrap();
        for c in &cs {
            assert_eq!(r.push(c, now).unwrap(), None);
        }
        // A duplicate chunk changes nothing.
        assert_eq!(r.push(&cs[0], now).unwrap(), None);
        assert_eq!(r.push(&last, now).unwrap().unwrap(), doc);
        assert_eq!(r.pending(), 0);
        // An incomplete message is dropped after the timeout.
        let cs = chunks(8, &compressed, size);
        r.push(&cs[0], now).unwrap();
        assert_eq!(r.pending(), 1);
        r.push(
            doc.as_slice(),
            now + CHUNK_TIMEOUT + Duration::from_millis(1),
        )
        .unwrap();
        assert_eq!((r.pending(), r.expired), (0, 1));
    }

    #[test]
    fn bad_chunks_and_bombs_are_refused() {
        let mut r = Reassembler::default();
        let now = Instant::now();
        assert_eq!(r.push(&[0x1e, 0x0f, 1, 2], now), Err(Reject::ShortChunk));
        assert_eq!(
            r.push(&[0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], now),
            Err(Reject::BadCount(0))
        );
        assert_eq!(
            r.push(&[0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2], now),
            Err(Reject::BadSequence { seq: 3, count: 2 })
        );
        assert_eq!(
            r.push(&[0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200], now),
            Err(Reject::BadCount(200))
        );
        let bomb = zlib(&vec![b'{'; MAX_MESSAGE + 10]);
        assert_eq!(r.push(&bomb, now), Err(Reject::TooLarge));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(12201);
        let mut r = Reassembler::default();
        let now = Instant::now();
        for i in 0..20_000u32 {
            let n = rng.usize(0..64);
            let mut d: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            if i % 3 == 0 && d.len() >= 2 {
                d[0] = 0x1e;
                d[1] = 0x0f;
            }
            if i % 7 == 0 && !d.is_empty() {
                d[0] = 0x78;
            }
            let _ = r.push(&d, now);
        }
        assert!(r.pending() <= MAX_PENDING);
    }
}
