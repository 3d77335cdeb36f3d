//! One queued event as bytes: a typed binary form of its fields and `@metadata` (types
//! survive: a timestamp comes back a timestamp, a big integer a big integer), framed with
//! its sequence number and a CRC so a torn or damaged record is told apart from data.
//!
//! Frame: `len u32 | crc32 u32 | seq u64 | payload[len]`, little-endian; the CRC covers
//! `seq` and the payload. Payload: the fields map, then the metadata map, each value a tag
//! byte and its data. Pure functions: the page files (`pages.rs`) do the I/O.

use logstash_mesos_core::{Event, Map, Timestamp, Value};

/// Bytes before the payload.
pub const HEADER: usize = 16;
/// Larger payloads are refused when written and treated as damage when read.
pub const MAX_PAYLOAD: usize = 512 * 1024 * 1024;
/// Nesting deeper than this is treated as damage (no stack overflow on bad bytes).
const MAX_DEPTH: usize = 1000;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INTEGER: u8 = 3;
const BIG_INTEGER: u8 = 4;
const FLOAT: u8 = 5;
const STRING: u8 = 6;
const TIMESTAMP: u8 = 7;
const ARRAY: u8 = 8;
const OBJECT: u8 = 9;

/// Appends the framed record of `event` with sequence number `seq` to `out`.
pub fn encode(seq: u64, event: &Event, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&seq.to_le_bytes());
    encode_map(event.fields(), out);
    encode_map(event.metadata(), out);
    let len = (out.len() - start - HEADER) as u32;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn put_len(n: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

fn put_str(s: &str, out: &mut Vec<u8>) {
    put_len(s.len(), out);
    out.extend_from_slice(s.as_bytes());
}

fn encode_map(m: &Map, out: &mut Vec<u8>) {
    put_len(m.len(), out);
    for (k, v) in m.iter() {
        put_str(k, out);
        encode_value(v, out);
    }
}

fn encode_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Integer(i) => {
            out.push(INTEGER);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::BigInteger(digits) => {
            out.push(BIG_INTEGER);
            put_str(digits, out);
        }
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::String(s) => {
            out.push(STRING);
            put_str(s, out);
        }
        Value::Timestamp(t) => {
            out.push(TIMESTAMP);
            out.extend_from_slice(&t.unix_nanos().to_le_bytes());
        }
        Value::Array(a) => {
            out.push(ARRAY);
            put_len(a.len(), out);
            a.iter().for_each(|x| encode_value(x, out));
        }
        Value::Object(m) => {
            out.push(OBJECT);
            encode_map(m, out);
        }
    }
}

/// What the bytes at a position hold.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A whole, intact record of `size` bytes (header included).
    Record { seq: u64, size: usize },
    /// Fewer bytes than the record needs: the end of the written data, or a write torn
    /// by a crash.
    Incomplete,
    /// Bytes that are not a record (CRC mismatch, impossible length).
    Damaged(&'static str),
}

/// Looks at the record starting at `buf[0]` without decoding its event.
pub fn frame(buf: &[u8]) -> Frame {
    if buf.len() < HEADER {
        return Frame::Incomplete;
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if len > MAX_PAYLOAD {
        return Frame::Damaged("impossible record length");
    }
    let Some(body) = buf.get(8..HEADER + len) else {
        return Frame::Incomplete;
    };
    if crc32fast::hash(body) != crc {
        return Frame::Damaged("checksum mismatch");
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&body[..8]);
    Frame::Record {
        seq: u64::from_le_bytes(seq),
        size: HEADER + len,
    }
}

/// Decodes the event of an intact record (as [`frame`] found it).
pub fn decode(record: &[u8]) -> Result<Event, &'static str> {
    let mut r = Reader {
        buf: record.get(HEADER..).ok_or("short record")?,
        pos: 0,
    };
    let fields = r.map(0)?;
    let metadata = r.map(0)?;
    if r.pos != r.buf.len() {
        return Err("trailing bytes in record");
    }
    Ok(Event::from_parts(fields, metadata))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], &'static str> {
        let end = self.pos.checked_add(n).ok_or("bad length")?;
        let s = self.buf.get(self.pos..end).ok_or("truncated record")?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn len(&mut self) -> Result<usize, &'static str> {
        let n = u32::from_le_bytes(self.array()?) as usize;
        // Every element takes at least one byte: a count beyond the rest is damage, and
        // refusing it keeps a bad count from reserving gigabytes.
        if n > self.buf.len() - self.pos {
            return Err("count beyond the record");
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, &'static str> {
        let n = self.len()?;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "invalid UTF-8 in record")
    }

    fn map(&mut self, depth: usize) -> Result<Map, &'static str> {
        let n = self.len()?;
        let mut m = Map::with_capacity(n);
        for _ in 0..n {
            let k = self.string()?;
            let v = self.value(depth + 1)?;
            m.insert(k, v);
        }
        Ok(m)
    }

    fn value(&mut self, depth: usize) -> Result<Value, &'static str> {
        if depth > MAX_DEPTH {
            return Err("nesting too deep");
        }
        let tag = self.array::<1>()?[0];
        Ok(match tag {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INTEGER => Value::Integer(i64::from_le_bytes(self.array()?)),
            BIG_INTEGER => Value::BigInteger(self.string()?.into_boxed_str()),
            FLOAT => Value::Float(f64::from_bits(u64::from_le_bytes(self.array()?))),
            STRING => Value::String(self.string()?),
            TIMESTAMP => Value::Timestamp(
                Timestamp::from_unix_nanos(i128::from_le_bytes(self.array()?))
                    .ok_or("timestamp out of range")?,
            ),
            ARRAY => {
                let n = self.len()?;
                let mut a = Vec::with_capacity(n);
                for _ in 0..n {
                    a.push(self.value(depth + 1)?);
                }
                Value::Array(a)
            }
            OBJECT => Value::Object(Box::new(self.map(depth + 1)?)),
            _ => return Err("unknown value tag"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::FieldRef;

    fn sample() -> Event {
        let mut e = Event::from_message("hello \u{e9}");
        let set =
            |e: &mut Event, f: &str, v: Value| e.set(&FieldRef::parse(f).unwrap(), v).unwrap();
        set(&mut e, "[n]", Value::Integer(-42));
        set(&mut e, "[f]", Value::Float(1.5));
        set(
            &mut e,
            "[big]",
            Value::integer_from_decimal(false, "123456789012345678901234567890"),
        );
        set(
            &mut e,
            "[when]",
            Value::Timestamp(Timestamp::from_unix_nanos(1_700_000_000_123_456_789).unwrap()),
        );
        set(
            &mut e,
            "[a][b]",
            Value::Array(vec![Value::Null, Value::Bool(true), Value::from("x")]),
        );
        set(&mut e, "[@metadata][_id]", Value::from("id-1"));
        e
    }

    #[test]
    fn round_trips_types_fields_and_metadata() {
        let e = sample();
        let mut buf = Vec::new();
        encode(7, &e, &mut buf);
        let Frame::Record { seq, size } = frame(&buf) else {
            panic!("{:?}", frame(&buf))
        };
        assert_eq!((seq, size), (7, buf.len()));
        let d = decode(&buf).unwrap();
        assert_eq!(d.to_json_string(), e.to_json_string());
        assert_eq!(d.metadata().get("_id"), Some(&Value::from("id-1")));
        assert!(matches!(
            d.get(&FieldRef::top("when")),
            Some(Value::Timestamp(_))
        ));
        assert!(matches!(
            d.get(&FieldRef::top("big")),
            Some(Value::BigInteger(_))
        ));
        assert_eq!(d.timestamp(), e.timestamp());
    }

    #[test]
    fn torn_and_damaged_records_are_told_apart() {
        let mut buf = Vec::new();
        encode(1, &sample(), &mut buf);
        for cut in 0..buf.len() {
            assert_eq!(frame(&buf[..cut]), Frame::Incomplete, "cut at {cut}");
        }
        let mut bad = buf.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        assert_eq!(frame(&bad), Frame::Damaged("checksum mismatch"));
        let mut huge = buf.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(frame(&huge), Frame::Damaged(_)));
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = fastrand::Rng::with_seed(20);
        let mut good = Vec::new();
        encode(3, &sample(), &mut good);
        for _ in 0..5000 {
            let mut b = good.clone();
            for _ in 0..rng.usize(1..8) {
                let i = rng.usize(HEADER..b.len());
                b[i] = rng.u8(..);
            }
            let _ = decode(&b);
            let junk: Vec<u8> = (0..rng.usize(0..64)).map(|_| rng.u8(..)).collect();
            let _ = frame(&junk);
            let _ = decode(&junk);
        }
    }
}
