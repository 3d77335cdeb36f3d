//! Logstash's `ISO8601` format: Joda's `ISODateTimeFormat.dateTimeParser()` followed by
//! the "almost ISO" fallbacks `yyyy-MM-dd HH:mm:ss.SSS[Z]` and `yyyy-MM-dd HH:mm:ss,SSS[Z]`.
//!
//! The ISO grammar accepted (Joda's):
//! ```text
//! datetime      = time | date ['T' [time] [offset]]
//! date          = yyyy ['-' MM ['-' dd]] | yyyy '-' DDD | xxxx '-W' ww ['-' e]
//! time          = 'T'? HH [':' mm [':' ss [('.' | ',') digits]]]
//! offset        = 'Z' | ('+' | '-') HH [':'? mm [':'? ss]]
//! ```
//! Numeric fields take one or two digits, years up to nine with a sign, fractions up to
//! nine digits (kept as nanoseconds). Fractional hours and minutes are not supported.

use super::civil::Fields;
use super::locale::Locale;
use super::parse::{read_fraction, read_number, JodaParser, ParseError};
use super::zone::{parse_offset, Zone};
use crate::timestamp::Timestamp;
use std::sync::OnceLock;

/// Parses `input` as Logstash's `ISO8601`; without an offset in the input, the fields are
/// local to `zone`.
pub fn parse(input: &str, zone: &Zone) -> Result<Timestamp, ParseError> {
    match parse_iso(input.as_bytes()) {
        Ok(f) => f.resolve(zone),
        Err(first) => {
            for p in fallbacks() {
                if let Ok(ts) = p.parse(input, zone) {
                    return Ok(ts);
                }
            }
            Err(first)
        }
    }
}

fn fallbacks() -> &'static [JodaParser] {
    static P: OnceLock<Vec<JodaParser>> = OnceLock::new();
    P.get_or_init(|| {
        [
            "yyyy-MM-dd HH:mm:ss.SSSZ",
            "yyyy-MM-dd HH:mm:ss.SSS",
            "yyyy-MM-dd HH:mm:ss,SSSZ",
            "yyyy-MM-dd HH:mm:ss,SSS",
        ]
        .iter()
        .filter_map(|p| JodaParser::compile(p, Locale::english()).ok())
        .collect()
    })
}

fn num(b: &[u8], pos: usize, max: usize) -> Result<(i64, usize), ParseError> {
    read_number(b, pos, max, false).ok_or(ParseError::Mismatch)
}

fn check(v: i64, lo: i64, hi: i64) -> Result<u8, ParseError> {
    if (lo..=hi).contains(&v) {
        Ok(v as u8)
    } else {
        Err(ParseError::FieldRange)
    }
}

fn parse_iso(b: &[u8]) -> Result<Fields, ParseError> {
    let mut f = Fields::default();
    let mut pos;
    if b.first() == Some(&b'T') {
        pos = parse_time(b, 1, &mut f)?;
        pos = parse_opt_offset(b, pos, &mut f)?;
    } else {
        let (year, p) = read_number(b, 0, 9, true).ok_or(ParseError::Mismatch)?;
        pos = p;
        if b.get(pos) == Some(&b'-') {
            pos += 1;
            if b.get(pos) == Some(&b'W') {
                f.weekyear = Some(year);
                let (w, p) = num(b, pos + 1, 2)?;
                f.week = Some(check(w, 1, 53)?);
                pos = p;
                if b.get(pos) == Some(&b'-') {
                    let (d, p) = num(b, pos + 1, 1)?;
                    f.day_of_week = Some(check(d, 1, 7)?);
                    pos = p;
                }
            } else {
                f.year = year;
                let digits = b[pos..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits >= 3 {
                    let (d, p) = num(b, pos, 3)?;
                    if !(1..=366).contains(&d) {
                        return Err(ParseError::FieldRange);
                    }
                    f.day_of_year = Some(d as u16);
                    pos = p;
                } else {
                    let (m, p) = num(b, pos, 2)?;
                    f.month = check(m, 1, 12)?;
                    pos = p;
                    if b.get(pos) == Some(&b'-') {
                        let (d, p) = num(b, pos + 1, 2)?;
                        f.day = check(d, 1, 31)?;
                        pos = p;
                    }
                }
            }
        } else {
            f.year = year;
        }
        if b.get(pos) == Some(&b'T') {
            pos += 1;
            if b.get(pos).is_some_and(u8::is_ascii_digit) {
                pos = parse_time(b, pos, &mut f)?;
            }
            pos = parse_opt_offset(b, pos, &mut f)?;
        }
    }
    if pos != b.len() {
        return Err(ParseError::Trailing);
    }
    Ok(f)
}

fn parse_time(b: &[u8], pos: usize, f: &mut Fields) -> Result<usize, ParseError> {
    let (h, mut pos) = num(b, pos, 2)?;
    f.hour = Some(check(h, 0, 23)?);
    if b.get(pos) == Some(&b':') {
        let (m, p) = num(b, pos + 1, 2)?;
        f.minute = check(m, 0, 59)?;
        pos = p;
        if b.get(pos) == Some(&b':') {
            let (s, p) = num(b, pos + 1, 2)?;
            f.second = check(s, 0, 59)?;
            pos = p;
            if matches!(b.get(pos), Some(b'.' | b',')) {
                let (n, p) = read_fraction(b, pos + 1, 9).ok_or(ParseError::Mismatch)?;
                f.nanos = n;
                pos = p;
            }
        }
    }
    Ok(pos)
}

fn parse_opt_offset(b: &[u8], pos: usize, f: &mut Fields) -> Result<usize, ParseError> {
    match b.get(pos) {
        Some(b'Z' | b'z') => {
            f.offset = Some(0);
            Ok(pos + 1)
        }
        Some(b'+' | b'-') => {
            let (off, end) = parse_offset(b, pos).ok_or(ParseError::Mismatch)?;
            f.offset = Some(off);
            Ok(end)
        }
        _ => Ok(pos),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(s: &str) -> Result<String, ParseError> {
        parse(s, &Zone::utc()).map(|t| t.to_string())
    }

    #[test]
    fn full_and_partial_forms() {
        assert_eq!(
            iso("2001-01-01T00:00:00-0800").unwrap(),
            "2001-01-01T08:00:00.000Z"
        );
        assert_eq!(
            iso("2004-07-04T12:27:27.123-04:00").unwrap(),
            "2004-07-04T16:27:27.123Z"
        );
        assert_eq!(
            iso("2001-12-07T23:54:54,123Z").unwrap(),
            "2001-12-07T23:54:54.123Z"
        );
        assert_eq!(
            iso("2001-12-07T23:54:54.123456789Z").unwrap(),
            "2001-12-07T23:54:54.123456789Z"
        );
        assert_eq!(iso("2001-12-07").unwrap(), "2001-12-07T00:00:00.000Z");
        assert_eq!(iso("2001-12").unwrap(), "2001-12-01T00:00:00.000Z");
        assert_eq!(iso("2001-1-7T3:4").unwrap(), "2001-01-07T03:04:00.000Z");
        assert_eq!(iso("2012-366").unwrap(), "2012-12-31T00:00:00.000Z");
        assert_eq!(
            iso("2009-W01-1T10:00Z").unwrap(),
            "2008-12-29T10:00:00.000Z"
        );
        assert_eq!(iso("T10:15:00Z").unwrap(), "1970-01-01T10:15:00.000Z");
    }

    #[test]
    fn almost_iso_fallbacks() {
        assert_eq!(
            iso("2001-11-06 20:45:45.123-0000").unwrap(),
            "2001-11-06T20:45:45.123Z"
        );
        assert_eq!(
            iso("2001-12-07 23:54:54,123Z").unwrap(),
            "2001-12-07T23:54:54.123Z"
        );
        assert_eq!(
            iso("2001-11-06 20:45:45,123").unwrap(),
            "2001-11-06T20:45:45.123Z"
        );
        // The fallbacks require a fraction, as in Logstash.
        assert!(iso("2001-11-06 20:45:45").is_err());
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "T",
            "2001-13-01",
            "2001-02-30",
            "2001-01-01T25:00",
            "2001-01-01Z",
            "hello",
            "2001-01-01T00:00:00+",
            "2001-01-01T00:00:00.Z",
            "2001-01-01T00:00:00.1234567891Z",
        ] {
            assert!(iso(s).is_err(), "{s:?} should not parse");
        }
    }

    #[test]
    fn zone_applies_without_offset() {
        let Ok(caracas) = super::super::parse_zone("America/Caracas") else {
            panic!("no tzdb")
        };
        let t = parse("2007-12-09T10:00:00", &caracas).unwrap();
        assert_eq!(t.to_string(), "2007-12-09T14:30:00.000Z");
        let t = parse("2007-12-09T10:00:00Z", &caracas).unwrap();
        assert_eq!(t.to_string(), "2007-12-09T10:00:00.000Z");
    }
}
