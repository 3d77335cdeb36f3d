//! Logstash's numeric formats: `UNIX` (seconds), `UNIX_MS` (milliseconds) and `TAI64N`.
//!
//! These keep Logstash's millisecond precision and limits exactly (its spec pins them):
//! `UNIX` reads at most three fraction digits and rejects values past 2^31 - 1 seconds, so
//! that `[UNIX, UNIX_MS]` sends millisecond values to `UNIX_MS`.

use super::parse::ParseError;
use crate::timestamp::Timestamp;

/// Java's `Integer.MAX_VALUE`: Logstash's upper bound for `UNIX` seconds.
const MAX_EPOCH_SECONDS: i64 = i32::MAX as i64;

fn millis(ms: i64) -> Result<Timestamp, ParseError> {
    Timestamp::from_unix_millis(ms).ok_or(ParseError::OutOfRange)
}

/// Java's `Long.parseLong`: an optional sign and decimal digits, nothing else.
fn parse_long(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn seconds_to_millis(secs: i64) -> Result<i64, ParseError> {
    if secs > MAX_EPOCH_SECONDS {
        return Err(ParseError::OutOfRange);
    }
    secs.checked_mul(1000).ok_or(ParseError::OutOfRange)
}

/// `UNIX` from a string: `1326149001` or `1326149001.132` (digits past the third are
/// dropped).
pub fn unix_str(s: &str) -> Result<Timestamp, ParseError> {
    let Some((int, frac)) = s.split_once('.') else {
        return millis(seconds_to_millis(
            parse_long(s).ok_or(ParseError::Mismatch)?,
        )?);
    };
    let secs = parse_long(int).ok_or(ParseError::Mismatch)?;
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::Mismatch);
    }
    let ms = seconds_to_millis(secs)?;
    let digits = &frac[..frac.len().min(3)];
    let sub = if digits.is_empty() {
        0
    } else {
        digits.parse::<i64>().map_err(|_| ParseError::Mismatch)?
            * 10i64.pow(3 - digits.len() as u32)
    };
    // Negative epochs count the fraction away from zero (Logstash adds it, which puts
    // -1.5 at -0.5 s; we keep the arithmetic right).
    millis(if int.starts_with('-') {
        ms - sub
    } else {
        ms + sub
    })
}

/// `UNIX` from an integer.
pub fn unix_i64(v: i64) -> Result<Timestamp, ParseError> {
    millis(seconds_to_millis(v)?)
}

/// `UNIX` from a float: milliseconds truncated toward zero.
pub fn unix_f64(v: f64) -> Result<Timestamp, ParseError> {
    if !v.is_finite() || v as i64 > MAX_EPOCH_SECONDS {
        return Err(ParseError::OutOfRange);
    }
    millis((v * 1000.0) as i64)
}

/// `UNIX_MS` from a string of digits.
pub fn unix_ms_str(s: &str) -> Result<Timestamp, ParseError> {
    millis(parse_long(s).ok_or(ParseError::Mismatch)?)
}

/// `UNIX_MS` from an integer.
pub fn unix_ms_i64(v: i64) -> Result<Timestamp, ParseError> {
    millis(v)
}

/// `UNIX_MS` from a float (truncated, as Logstash's `longValue()`).
pub fn unix_ms_f64(v: f64) -> Result<Timestamp, ParseError> {
    if !v.is_finite() {
        return Err(ParseError::OutOfRange);
    }
    millis(v as i64)
}

/// `TAI64N`: `@` (optional), 16 hex digits of TAI seconds + 2^62, 8 hex digits of
/// nanoseconds. Leap seconds are a flat 10 s, as in Logstash.
pub fn tai64n(s: &str) -> Result<Timestamp, ParseError> {
    let s = s.strip_prefix('@').unwrap_or(s);
    if s.len() != 24 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(ParseError::Mismatch);
    }
    // Java's Long.parseLong(.., 16) rejects values past i64::MAX.
    let secs = i64::from_str_radix(&s[..16], 16).map_err(|_| ParseError::Mismatch)?;
    let nanos = i32::from_str_radix(&s[16..], 16).map_err(|_| ParseError::Mismatch)?;
    let secs = (secs & ((1i64 << 62) - 1)) - 10;
    millis(secs.checked_mul(1000).ok_or(ParseError::OutOfRange)? + i64::from(nanos / 1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(r: Result<Timestamp, ParseError>) -> String {
        r.map(|t| t.to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn unix_seconds() {
        assert_eq!(s(unix_str("0")), "1970-01-01T00:00:00.000Z");
        assert_eq!(s(unix_str("1350414944.123456")), "2012-10-16T19:15:44.123Z");
        assert_eq!(s(unix_str("1478207457.4")), "2016-11-03T21:10:57.400Z");
        assert_eq!(s(unix_str("1478207457.")), "2016-11-03T21:10:57.000Z");
        assert_eq!(s(unix_str("-1.5")), "1969-12-31T23:59:58.500Z");
        assert!(unix_str("1000000000123").is_err());
        assert!(unix_str("%{bad_value}").is_err());
        assert!(unix_str("").is_err());
        assert!(unix_str(".5").is_err());
        assert!(unix_str("1.2x").is_err());
        assert!(unix_str(" 1").is_err());
        assert_eq!(s(unix_f64(1350414944.123456)), "2012-10-16T19:15:44.123Z");
        assert!(unix_f64(f64::NAN).is_err());
        assert!(unix_i64(i64::MAX).is_err());
        assert!(unix_i64(i64::MIN).is_err());
    }

    #[test]
    fn unix_millis() {
        assert_eq!(s(unix_ms_str("1000000000123")), "2001-09-09T01:46:40.123Z");
        assert_eq!(s(unix_ms_i64(456)), "1970-01-01T00:00:00.456Z");
        assert!(unix_ms_str("12.5").is_err());
        assert!(unix_ms_i64(i64::MAX).is_err());
    }

    #[test]
    fn tai64n_values() {
        assert_eq!(
            s(tai64n("4000000050d506482dbdf024")),
            "2012-12-22T01:00:46.767Z"
        );
        assert_eq!(
            s(tai64n("@4000000050d506482dbdf024")),
            "2012-12-22T01:00:46.767Z"
        );
        assert!(tai64n("@4000000050d50648").is_err());
        assert!(tai64n("z000000050d506482dbdf024").is_err());
        assert!(tai64n("f000000050d506482dbdf024").is_err());
    }
}
