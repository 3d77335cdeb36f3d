//! RecordIO framing of the event stream: `<decimal byte length>\n<data>` repeated,
//! with no delimiter after the data (PROTOCOL.md §4). HTTP chunk boundaries carry no
//! meaning, so the decoder buffers across `push` calls.

use bytes::{Buf, Bytes, BytesMut};

/// Records larger than this are refused rather than buffered (a broken or hostile
/// peer could otherwise make us allocate without bound).
pub const DEFAULT_MAX_RECORD: usize = 64 * 1024 * 1024;

/// Longest decimal length prefix we accept (u64 has 20 digits).
const MAX_PREFIX_DIGITS: usize = 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordIoError {
    #[error("invalid byte {0:#04x} in record length prefix")]
    BadPrefix(u8),
    #[error("record length prefix is empty")]
    EmptyPrefix,
    #[error("record length prefix is longer than {MAX_PREFIX_DIGITS} digits")]
    PrefixTooLong,
    #[error("record length 0 is not allowed")]
    ZeroLength,
    #[error("record of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: u64, max: usize },
}

#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max: usize,
    /// Length of the record whose data we are waiting for, once its prefix is parsed.
    pending: Option<usize>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RECORD)
    }
}

impl Decoder {
    pub fn new(max: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max,
            pending: None,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Bytes received but not yet returned as a complete record.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete record, `Ok(None)` when more bytes are needed. After an error
    /// the stream is unusable: the caller closes it and re-subscribes.
    pub fn next_record(&mut self) -> Result<Option<Bytes>, RecordIoError> {
        let len = match self.pending {
            Some(len) => len,
            None => {
                let Some(lf) = self.buf.iter().position(|&b| b == b'\n') else {
                    if let Some(&bad) = self.buf.iter().find(|b| !b.is_ascii_digit()) {
                        return Err(RecordIoError::BadPrefix(bad));
                    }
                    if self.buf.len() > MAX_PREFIX_DIGITS {
                        return Err(RecordIoError::PrefixTooLong);
                    }
                    return Ok(None);
                };
                let len = parse_len(&self.buf[..lf], self.max)?;
                self.buf.advance(lf + 1);
                self.pending = Some(len);
                len
            }
        };
        if self.buf.len() < len {
            return Ok(None);
        }
        self.pending = None;
        Ok(Some(self.buf.split_to(len).freeze()))
    }
}

fn parse_len(digits: &[u8], max: usize) -> Result<usize, RecordIoError> {
    if digits.is_empty() {
        return Err(RecordIoError::EmptyPrefix);
    }
    if digits.len() > MAX_PREFIX_DIGITS {
        return Err(RecordIoError::PrefixTooLong);
    }
    let mut n: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(RecordIoError::BadPrefix(b));
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(RecordIoError::PrefixTooLong)?;
    }
    if n == 0 {
        return Err(RecordIoError::ZeroLength);
    }
    match usize::try_from(n) {
        Ok(len) if len <= max => Ok(len),
        _ => Err(RecordIoError::TooLarge { len: n, max }),
    }
}

/// Frames one record.
pub fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{}\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Vec<Value> {
        let path = crate::testutil::api_dir().join("tables/recordio-test-vectors.json");
        let text = std::fs::read_to_string(path).expect("vectors readable");
        let v: Value = serde_json::from_str(&text).expect("json");
        v["vectors"].as_array().expect("array").clone()
    }

    fn drain(d: &mut Decoder) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(r) = d.next_record().expect("valid stream") {
            out.push(String::from_utf8(r.to_vec()).expect("utf8"));
        }
        out
    }

    #[test]
    fn shared_vectors_decode_whole_split_and_bytewise() {
        let vs = vectors();
        assert!(vs.len() >= 5);
        for v in vs {
            let name = v["name"].as_str().unwrap_or("?");
            let expected: Vec<String> = v["records"]
                .as_array()
                .expect("records")
                .iter()
                .map(|r| r.as_str().expect("str").into())
                .collect();
            let chunks: Vec<String> = match v.get("chunks") {
                Some(c) => c
                    .as_array()
                    .expect("chunks")
                    .iter()
                    .map(|c| c.as_str().expect("str").into())
                    .collect(),
                None => vec![v["stream"].as_str().expect("stream").to_string()],
            };
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for c in &chunks {
                d.push(c.as_bytes());
                got.extend(drain(&mut d));
            }
            assert_eq!(got, expected, "{name}");
            assert_eq!(d.buffered(), 0, "{name}");

            // Every single-byte split must give the same records.
            let all: Vec<u8> = chunks.concat().into_bytes();
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for b in &all {
                d.push(std::slice::from_ref(b));
                got.extend(drain(&mut d));
            }
            assert_eq!(got, expected, "{name} bytewise");

            // Encoding the records reproduces the stream.
            let encoded: Vec<u8> = expected.iter().flat_map(|r| encode(r.as_bytes())).collect();
            assert_eq!(encoded, all, "{name} encode");
        }
    }

    #[test]
    fn transcript_bytes_decode_to_its_records() {
        let dir = crate::testutil::api_dir().join("examples");
        let raw =
            std::fs::read(dir.join("subscribe-stream-transcript.recordio")).expect("transcript");
        let meta: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("subscribe-stream-transcript.json")).expect("json"),
        )
        .expect("json");
        let mut d = Decoder::default();
        d.push(&raw);
        let got = drain(&mut d);
        let want: Vec<&str> = meta["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn malformed_prefixes_are_errors() {
        let mut d = Decoder::default();
        d.push(b"0\n");
        assert_eq!(d.next_record(), Err(RecordIoError::ZeroLength));
        let mut d = Decoder::default();
        d.push(b"1x\n");
        assert_eq!(d.next_record(), Err(RecordIoError::BadPrefix(b'x')));
        let mut d = Decoder::default();
        d.push(b"{\"type\"");
        assert_eq!(d.next_record(), Err(RecordIoError::BadPrefix(b'{')));
        let mut d = Decoder::new(10);
        d.push(b"11\n");
        assert_eq!(
            d.next_record(),
            Err(RecordIoError::TooLarge { len: 11, max: 10 })
        );
        let mut d = Decoder::default();
        d.push(b"123456789012345678901");
        assert_eq!(d.next_record(), Err(RecordIoError::PrefixTooLong));
    }
}
