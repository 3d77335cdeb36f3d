//! Events written as JSON: byte for byte what `serde_json` writes for a [`Value`], without
//! going through serde (floats excepted, which are rare and written by serde_json).
//!
//! Why not `serde_json::to_writer`: writing JSON lines to a file was ~40% of a
//! stdin → grok → file run, and most of that was serde_json's string escaping, which looks
//! every byte up in a table, and the timestamp, formatted through `core::fmt`. Here a string
//! is copied in runs of eight bytes known not to need escaping, and `@timestamp` is written
//! digit by digit. The output is compared against serde_json's in the tests.

use crate::map::Map;
use crate::timestamp::Timestamp;
use crate::value::Value;

/// Appends `v` as JSON.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Integer(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        // Digits beyond 64 bits are written as a bare number, as serde_json's i128 and raw
        // value forms do.
        Value::BigInteger(d) => out.extend_from_slice(d.as_bytes()),
        // Floats are rare in events; serde_json's own digits (its exponent form differs
        // from ryu's) keep the output identical.
        Value::Float(f) if f.is_finite() => {
            let _ = serde_json::to_writer(&mut *out, f);
        }
        Value::Float(_) => out.extend_from_slice(b"null"),
        Value::String(s) => write_str(out, s),
        Value::Timestamp(t) => {
            out.push(b'"');
            write_timestamp(out, t);
            out.push(b'"');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, v);
            }
            out.push(b']');
        }
        Value::Object(m) => write_map(out, m),
    }
}

/// Appends `m` as a JSON object, keys in order.
pub fn write_map(out: &mut Vec<u8>, m: &Map) {
    out.push(b'{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k.as_str());
        out.push(b':');
        write_value(out, v);
    }
    out.push(b'}');
}

/// True for the bytes JSON strings must escape: `"`, `\` and controls below 0x20.
#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// True when any of the eight bytes of `w` needs escaping (SWAR: "has a byte less than
/// 0x20", "has a byte equal to `"`", "has a byte equal to `\`").
#[inline]
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let quote = w ^ (ONES * b'"' as u64);
    let backslash = w ^ (ONES * b'\\' as u64);
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x;
    (below_space | zero_in(quote) | zero_in(backslash)) & HIGH != 0
}

/// Appends `s` as a JSON string, escaped as serde_json escapes.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        // Skip whole words that need nothing.
        while i + 8 <= b.len() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            if word_needs_escape(u64::from_le_bytes(w)) {
                break;
            }
            i += 8;
        }
        if i >= b.len() {
            break;
        }
        let c = b[i];
        if !needs_escape(c) {
            i += 1;
            continue;
        }
        out.extend_from_slice(&b[start..i]);
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 0xf)]);
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// Appends `t` as Logstash prints it (`2024-05-01T10:00:00.123Z`), see [`Timestamp`]'s
/// `Display`, which this writes without `core::fmt` for years 0 to 9999.
pub fn write_timestamp(out: &mut Vec<u8>, t: &Timestamp) {
    // Floor seconds: before the epoch jiff's whole seconds round toward zero.
    let secs = t.unix_seconds() - i64::from(t.0.subsec_nanosecond() < 0);
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        out.extend_from_slice(t.to_string().as_bytes());
        return;
    }
    let sod = secs.rem_euclid(86_400) as u32;
    let mut buf = [0u8; 30];
    let digits = |buf: &mut [u8], mut v: u32, at: usize, n: usize| {
        for k in (0..n).rev() {
            buf[at + k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(&mut buf, y as u32, 0, 4);
    buf[4] = b'-';
    digits(&mut buf, m, 5, 2);
    buf[7] = b'-';
    digits(&mut buf, d, 8, 2);
    buf[10] = b'T';
    digits(&mut buf, sod / 3600, 11, 2);
    buf[13] = b':';
    digits(&mut buf, sod / 60 % 60, 14, 2);
    buf[16] = b':';
    digits(&mut buf, sod % 60, 17, 2);
    buf[19] = b'.';
    let nanos = t.subsec_nanos();
    let end = if nanos % 1_000_000 == 0 {
        digits(&mut buf, nanos / 1_000_000, 20, 3);
        23
    } else if nanos % 1_000 == 0 {
        digits(&mut buf, nanos / 1_000, 20, 6);
        26
    } else {
        digits(&mut buf, nanos, 20, 9);
        29
    };
    buf[end] = b'Z';
    out.extend_from_slice(&buf[..=end]);
}

/// Year, month, day of the proleptic Gregorian calendar for days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(v: &Value) -> String {
        let mut out = Vec::new();
        write_value(&mut out, v);
        String::from_utf8(out).expect("utf-8")
    }

    fn serde(v: &Value) -> String {
        serde_json::to_string(v).expect("serializes")
    }

    #[test]
    fn strings_escape_as_serde_json_does() {
        // Every byte value that is valid alone, at every position of a word.
        let mut cases: Vec<String> = (0u8..0x80)
            .map(|c| format!("ab{}cdefghijklmnop{}", c as char, c as char))
            .collect();
        cases.extend(
            [
                "",
                "plain ascii text longer than one word",
                "é ü 日本語 😀 mixed \"quotes\" and \\ backslashes\n\t\r",
                "\u{7f}\u{80}\u{2028}\u{2029}",
                "\"\"\"\"\"\"\"\"\"",
                "12345678\n12345678",
            ]
            .map(String::from),
        );
        for s in cases {
            let v = Value::String(s.clone());
            assert_eq!(ours(&v), serde(&v), "{s:?}");
        }
    }

    #[test]
    fn every_value_kind_matches_serde_json() {
        let mut m = Map::new();
        m.insert("n", Value::Null);
        m.insert("t", Value::Bool(true));
        m.insert("f", Value::Bool(false));
        m.insert("i", Value::Integer(i64::MIN));
        m.insert(
            "big",
            Value::integer_from_decimal(false, "123456789012345678901234567890"),
        );
        m.insert("huge", Value::integer_from_decimal(true, &"9".repeat(60)));
        for (k, f) in [
            ("a", 1.0),
            ("b", 0.1),
            ("c", 1e300),
            ("d", -2.5e-8),
            ("e", f64::NAN),
        ] {
            m.insert(k, Value::Float(f));
        }
        m.insert(
            "arr",
            Value::Array(vec![
                Value::Integer(1),
                Value::from("x"),
                Value::Array(vec![]),
            ]),
        );
        let mut inner = Map::new();
        inner.insert("k\"ey", Value::from("v\u{1}"));
        m.insert("obj", Value::Object(Box::new(inner)));
        m.insert("empty", Value::Object(Box::default()));
        let v = Value::Object(Box::new(m));
        assert_eq!(ours(&v), serde(&v));
    }

    #[test]
    fn timestamps_match_display() {
        let cases = [
            (0, 0),
            (1_356_998_400, 0),
            (1_714_557_600, 123_000_000),
            (1_714_557_600, 123_456_000),
            (1_714_557_600, 123_456_789),
            (951_782_400, 1_000_000), // 2000-02-29
            (-62_135_596_800, 0),     // 0001-01-01
            (253_402_127_999, 0),     // 9999-12-29T23:59:59Z (near jiff's maximum)
            (4_107_542_400, 5),       // 2100-03-01
        ];
        let pre_epoch = [-1_000_000i128, -1, -86_400_000_000_123]
            .map(|ns| Timestamp::from_unix_nanos(ns).expect("in range"));
        let all = cases
            .iter()
            .map(|&(s, n)| Timestamp::from_unix(s, n).expect("in range"))
            .chain(pre_epoch);
        for t in all {
            let (s, n) = (t.unix_seconds(), t.subsec_nanos());
            let mut out = Vec::new();
            write_timestamp(&mut out, &t);
            assert_eq!(
                String::from_utf8(out).expect("utf-8"),
                t.to_string(),
                "{s} {n}"
            );
            let v = Value::Timestamp(t);
            assert_eq!(ours(&v), serde(&v));
        }
        // Every day of four centuries round-trips through the calendar arithmetic.
        for day in (-1_000_000i64..1_000_000).step_by(37) {
            let t = Timestamp::from_unix(day * 86_400 + 45_296, 0).expect("in range");
            let mut out = Vec::new();
            write_timestamp(&mut out, &t);
            assert_eq!(String::from_utf8(out).expect("utf-8"), t.to_string());
        }
    }
}
