//! Time zones as the date filter uses them: resolved once from the `timezone` option (or
//! per event when it is a sprintf template), with a fast path for fixed offsets.

use super::civil::civil_from_days;
#[cfg(test)]
use super::civil::days_from_civil;
use super::parse::ParseError;
use crate::timestamp::Timestamp;
use jiff::tz::{AmbiguousOffset, TimeZone};
use std::collections::HashSet;
use std::sync::OnceLock;

/// A time zone: a fixed offset (computed arithmetically) or a zone with rules.
#[derive(Clone, Debug)]
pub enum Zone {
    /// Seconds east of UTC.
    Fixed(i32),
    Rules(TimeZone),
}

impl Zone {
    pub fn utc() -> Zone {
        Zone::Fixed(0)
    }

    /// Wraps a jiff zone, using the fixed-offset fast path when it has no transitions.
    pub fn from_tz(tz: TimeZone) -> Zone {
        match tz.to_fixed_offset() {
            Ok(off) => Zone::Fixed(off.seconds()),
            Err(_) => Zone::Rules(tz),
        }
    }

    /// The system's zone (what Logstash uses when `timezone` is not set: the JVM default).
    pub fn system() -> Zone {
        Zone::from_tz(TimeZone::system())
    }

    /// The instant of a local time given as seconds since 1970-01-01T00:00 local. A local
    /// time skipped by a transition fails (Joda: "illegal instant due to time zone offset
    /// transition"); a repeated one takes the earlier instant, as Joda does.
    pub fn local_to_timestamp(&self, local_secs: i64, nanos: u32) -> Result<Timestamp, ParseError> {
        let off = match self {
            Zone::Fixed(o) => *o,
            Zone::Rules(tz) => {
                let days = local_secs.div_euclid(86_400);
                let sod = local_secs.rem_euclid(86_400);
                let (y, m, d) = civil_from_days(days);
                let y = i16::try_from(y).map_err(|_| ParseError::OutOfRange)?;
                let dt = jiff::civil::DateTime::new(
                    y,
                    m as i8,
                    d as i8,
                    (sod / 3600) as i8,
                    (sod / 60 % 60) as i8,
                    (sod % 60) as i8,
                    nanos as i32,
                )
                .map_err(|_| ParseError::OutOfRange)?;
                match tz.to_ambiguous_timestamp(dt).offset() {
                    AmbiguousOffset::Unambiguous { offset } => offset.seconds(),
                    AmbiguousOffset::Fold { before, .. } => before.seconds(),
                    AmbiguousOffset::Gap { .. } => return Err(ParseError::SkippedLocalTime),
                }
            }
        };
        Timestamp::from_unix(local_secs - i64::from(off), nanos as i32)
            .ok_or(ParseError::OutOfRange)
    }

    /// The local year and month at instant `now`.
    pub fn year_month_at(&self, now: Timestamp) -> (i64, u8) {
        let off = match self {
            Zone::Fixed(o) => *o,
            Zone::Rules(tz) => tz.to_offset(now.0).seconds(),
        };
        let days = (now.unix_seconds() + i64::from(off)).div_euclid(86_400);
        let (y, m, _) = civil_from_days(days);
        (y, m)
    }
}

/// A `timezone` value that names no zone.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error("empty time zone")]
    Empty,
    #[error("invalid time zone offset {0:?}")]
    InvalidOffset(String),
    #[error("unknown time zone {0:?} (expected an IANA id such as \"Europe/Paris\" or an offset such as \"+02:00\")")]
    Unknown(String),
}

/// Parses a `timezone` option value as Joda's `DateTimeZone.forID` does: an IANA id
/// (`America/New_York`, `UTC`, `CET`, `Etc/GMT+5`) or an offset `+hh`, `+hh:mm`, `+hhmm`.
pub fn parse_zone(id: &str) -> Result<Zone, ZoneError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(ZoneError::Empty);
    }
    if id == "Z" || id.eq_ignore_ascii_case("UTC") {
        return Ok(Zone::utc());
    }
    if id.starts_with(['+', '-']) {
        let b = id.as_bytes();
        let (off, end) =
            parse_offset(b, 0).ok_or_else(|| ZoneError::InvalidOffset(id.to_string()))?;
        if end != b.len() {
            return Err(ZoneError::InvalidOffset(id.to_string()));
        }
        return Ok(Zone::Fixed(off));
    }
    match jiff::tz::db().get(id) {
        Ok(tz) => Ok(Zone::from_tz(tz)),
        Err(_) => Err(ZoneError::Unknown(id.to_string())),
    }
}

fn two_digits(b: &[u8], i: usize) -> Option<i32> {
    match (b.get(i), b.get(i + 1)) {
        (Some(a @ b'0'..=b'9'), Some(c @ b'0'..=b'9')) => {
            Some(i32::from(a - b'0') * 10 + i32::from(c - b'0'))
        }
        _ => None,
    }
}

/// Joda's offset parser (`TimeZoneOffset.parseInto`): a sign, then `hh`, `hhmm`, `hhmmss`,
/// `hh:mm` or `hh:mm:ss` (a colon after the hours means colons throughout). Returns the
/// offset in seconds and the position after it.
pub(crate) fn parse_offset(b: &[u8], pos: usize) -> Option<(i32, usize)> {
    let negative = match b.get(pos)? {
        b'-' => true,
        b'+' => false,
        _ => return None,
    };
    let mut i = pos + 1;
    let hours = two_digits(b, i)?;
    if hours > 23 {
        return None;
    }
    i += 2;
    let mut secs = hours * 3600;
    let sep = b.get(i) == Some(&b':');
    let digit_at = |j: usize| b.get(j).is_some_and(u8::is_ascii_digit);
    'parse: {
        if sep {
            i += 1;
        } else if !digit_at(i) {
            break 'parse;
        }
        let minutes = two_digits(b, i)?;
        if minutes > 59 {
            return None;
        }
        secs += minutes * 60;
        i += 2;
        if sep {
            if b.get(i) != Some(&b':') {
                break 'parse;
            }
            i += 1;
        } else if !digit_at(i) {
            break 'parse;
        }
        let seconds = two_digits(b, i)?;
        if seconds > 59 {
            return None;
        }
        secs += seconds;
        i += 2;
    }
    Some((if negative { -secs } else { secs }, i))
}

/// Every zone id the database knows (for `ZZZ`), built once.
fn zone_ids() -> &'static HashSet<String> {
    static IDS: OnceLock<HashSet<String>> = OnceLock::new();
    IDS.get_or_init(|| {
        let mut ids: HashSet<String> = jiff::tz::db()
            .available()
            .map(|n| n.as_str().to_string())
            .collect();
        ids.insert("UTC".into());
        ids
    })
}

/// Joda's zone-id parser (`ZZZ`): the longest known id at `pos`.
pub(crate) fn parse_zone_id(b: &[u8], pos: usize) -> Option<(Zone, usize)> {
    let run = b[pos..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'_' | b'-' | b'+'))
        .count();
    let ids = zone_ids();
    for len in (1..=run).rev() {
        // The run is ASCII, so every length is a char boundary.
        let cand = std::str::from_utf8(&b[pos..pos + len]).ok()?;
        if ids.contains(cand) {
            let zone = if cand == "UTC" {
                Zone::utc()
            } else {
                Zone::from_tz(jiff::tz::db().get(cand).ok()?)
            };
            return Some((zone, pos + len));
        }
    }
    None
}

/// Joda's default zone short names (`z`), as fixed offsets.
const SHORT_NAMES: &[(&str, i32)] = &[
    ("UTC", 0),
    ("GMT", 0),
    ("UT", 0),
    ("EST", -5),
    ("EDT", -4),
    ("CST", -6),
    ("CDT", -5),
    ("MST", -7),
    ("MDT", -6),
    ("PST", -8),
    ("PDT", -7),
];

/// Parses a zone short name (`z`) at `pos`; returns the offset in seconds.
pub(crate) fn parse_zone_name(b: &[u8], pos: usize) -> Option<(i32, usize)> {
    let rest = &b[pos..];
    SHORT_NAMES
        .iter()
        .find(|(n, _)| rest.starts_with(n.as_bytes()))
        .map(|(n, h)| (h * 3600, pos + n.len()))
}

/// Local seconds since the epoch of a civil date-time (no zone).
#[cfg(test)]
pub(crate) fn local_seconds(y: i64, m: u8, d: u8, h: u8, mi: u8, s: u8) -> i64 {
    days_from_civil(y, m, d) * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_like_joda() {
        assert_eq!(parse_offset(b"+0800", 0), Some((28_800, 5)));
        assert_eq!(parse_offset(b"-08:00", 0), Some((-28_800, 6)));
        assert_eq!(parse_offset(b"+05", 0), Some((18_000, 3)));
        assert_eq!(parse_offset(b"+05:30:15", 0), Some((19_815, 9)));
        assert_eq!(parse_offset(b"+0", 0), None);
        assert_eq!(parse_offset(b"+2500", 0), None);
        assert_eq!(parse_offset(b"0800", 0), None);
        // A colon then garbage fails, as in Joda.
        assert_eq!(parse_offset(b"+08:x", 0), None);
    }

    #[test]
    fn zone_option_values() {
        assert!(matches!(parse_zone("UTC"), Ok(Zone::Fixed(0))));
        assert!(matches!(parse_zone("+02:00"), Ok(Zone::Fixed(7200))));
        assert!(matches!(parse_zone("-0530"), Ok(Zone::Fixed(-19_800))));
        assert!(matches!(
            parse_zone("America/Los_Angeles"),
            Ok(Zone::Rules(_))
        ));
        assert!(parse_zone("Mars/Olympus").is_err());
        assert!(parse_zone("+99:00").is_err());
        assert!(parse_zone("").is_err());
    }

    #[test]
    fn dst_gap_fails_and_fold_takes_earlier() {
        let Ok(Zone::Rules(tz)) = parse_zone("Europe/Paris") else {
            panic!("no tzdb")
        };
        let z = Zone::Rules(tz);
        // 2016-03-27 02:30 does not exist in Paris.
        assert_eq!(
            z.local_to_timestamp(local_seconds(2016, 3, 27, 2, 30, 0), 0),
            Err(ParseError::SkippedLocalTime)
        );
        // 2016-10-30 02:30 happens twice: the earlier is 00:30Z (CEST).
        let t = z
            .local_to_timestamp(local_seconds(2016, 10, 30, 2, 30, 0), 0)
            .unwrap();
        assert_eq!(t.to_string(), "2016-10-30T00:30:00.000Z");
    }

    #[test]
    fn zone_ids_take_the_longest() {
        let (z, end) = parse_zone_id(b"America/New_York rest", 0).unwrap();
        assert_eq!(end, 16);
        assert!(matches!(z, Zone::Rules(_)));
        assert!(parse_zone_id(b"Nowhere/Land", 0).is_none());
        assert_eq!(parse_zone_name(b"PST", 0), Some((-28_800, 3)));
    }
}
