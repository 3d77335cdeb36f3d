//! CEF timestamps, normalised the way logstash-codec-cef's `TimestampNormalizer` does in
//! ECS mode: milliseconds since the epoch (`1616623591694`, also with a fraction:
//! `1616623591694.176789`), or `MMM dd[ yyyy] HH:mm:ss[.SSSSSSSSS|.SSSSSS|.SSS][ zone]`.
//! A zone written in the value wins over the event's `dtz`, which wins over the codec's
//! `default_timezone` (the process time zone when unset). Without a year the year is
//! assumed "recent": the current one, the previous one for dates more than two days ahead,
//! the next one for a January date seen in the last days of December.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::SignedDuration;
use logstash_mesos_core::Timestamp;

/// Why a value is no CEF timestamp.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TimestampError {
    /// Neither epoch milliseconds nor one of the `MMM dd ...` formats.
    #[error("not a valid CEF timestamp: `{0}`")]
    Format(String),
    /// The fields name no date or time (`Feb 30`, hour 25...).
    #[error("not a valid CEF timestamp: `{value}` ({source})")]
    Date { value: String, source: jiff::Error },
    #[error("not a valid CEF timestamp: `{0}` (no Feb 29)")]
    NoFeb29(String),
    /// The event's `dtz` names no zone.
    #[error("unknown time zone {0:?}")]
    UnknownZone(String),
    /// The instant is out of the representable range.
    #[error("{0}")]
    Range(jiff::Error),
}

/// Parses `value`; `Err` says why (the codec then emits a `_cefparsefailure` event).
pub(crate) fn normalize(
    value: &str,
    device_tz: Option<&str>,
    default_tz: &TimeZone,
    now: jiff::Timestamp,
) -> Result<Timestamp, TimestampError> {
    if let Some(ts) = epoch_millis(value) {
        return Ok(ts);
    }
    let p = parse_format(value).ok_or_else(|| TimestampError::Format(value.to_string()))?;
    let tz = match (&p.zone, device_tz) {
        (Some(z), _) => z.clone(),
        (None, Some(name)) => {
            zone(name).ok_or_else(|| TimestampError::UnknownZone(name.to_string()))?
        }
        (None, None) => default_tz.clone(),
    };
    // Java's plusYears clamps Feb 29 to Feb 28; so does `at` for a year without one.
    let at = |year: i16| -> Result<jiff::Timestamp, TimestampError> {
        let day = if p.month == 2 && p.day == 29 && !leap(year) {
            28
        } else {
            p.day
        };
        let dt = DateTime::new(year, p.month, day, p.hour, p.minute, p.second, p.nanos).map_err(
            |source| TimestampError::Date {
                value: value.to_string(),
                source,
            },
        )?;
        tz.to_timestamp(dt).map_err(TimestampError::Range)
    };
    let ts = match p.year {
        Some(y) => {
            if p.month == 2 && p.day == 29 && !leap(y) {
                return Err(TimestampError::NoFeb29(value.to_string()));
            }
            at(y)?
        }
        None => {
            let local_now = tz.to_datetime(now);
            let year = local_now.year();
            let soon = now
                .checked_add(SignedDuration::from_hours(48))
                .map_err(TimestampError::Range)?;
            let this_year = at(year)?;
            if this_year > soon {
                at(year - 1)?
            } else if local_now.month() == 12 && at(year + 1).is_ok_and(|n| n <= soon) {
                at(year + 1)?
            } else {
                this_year
            }
        }
    };
    Ok(Timestamp(ts))
}

fn leap(y: i16) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// `[1-9][0-9]*(\.[0-9]+)?`: milliseconds since the epoch; digits beyond the nanosecond
/// are cut, as `iso8601(9)` cuts them.
fn epoch_millis(v: &str) -> Option<Timestamp> {
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (v, None),
    };
    if !int.starts_with(|c: char| ('1'..='9').contains(&c))
        || !int.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let millis: i128 = int.parse().ok()?;
    let mut sub: i128 = 0;
    if let Some(f) = frac {
        // The fraction of a millisecond, in nanoseconds: six digits.
        let mut digits: String = f.chars().take(6).collect();
        while digits.len() < 6 {
            digits.push('0');
        }
        sub = digits.parse().ok()?;
    }
    Timestamp::from_unix_nanos(millis.checked_mul(1_000_000)?.checked_add(sub)?)
}

struct Parsed {
    year: Option<i16>,
    month: i8,
    day: i8,
    hour: i8,
    minute: i8,
    second: i8,
    nanos: i32,
    zone: Option<TimeZone>,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn digits(s: &str, n: usize) -> Option<(i64, &str)> {
    let d = s.get(..n)?;
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((d.parse().ok()?, &s[n..]))
}

fn parse_format(v: &str) -> Option<Parsed> {
    let mon = v.get(..3)?.to_ascii_lowercase();
    let month = MONTHS.iter().position(|m| *m == mon)? as i8 + 1;
    let rest = v[3..].strip_prefix(' ')?;
    let (day, mut rest) = digits(rest, 2)?;
    let mut year = None;
    // "[ yyyy]": a space, four digits and another space (the time follows).
    if let Some((y, r)) = rest
        .strip_prefix(' ')
        .and_then(|r| digits(r, 4))
        .filter(|(_, r)| r.starts_with(' '))
    {
        year = Some(y as i16);
        rest = r;
    }
    let rest = rest.strip_prefix(' ')?;
    let (hour, rest) = digits(rest, 2)?;
    let (minute, rest) = digits(rest.strip_prefix(':')?, 2)?;
    let (second, mut rest) = digits(rest.strip_prefix(':')?, 2)?;
    let mut nanos = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n != 9 && n != 6 && n != 3 {
            return None;
        }
        let (f, r) = digits(r, n)?;
        nanos = f * 10i64.pow(9 - n as u32);
        rest = r;
    }
    let zone = match rest {
        "" => None,
        r => Some(zone(r.strip_prefix(' ')?)?),
    };
    Some(Parsed {
        year,
        month,
        day: day as i8,
        hour: hour as i8,
        minute: minute as i8,
        second: second as i8,
        nanos: nanos as i32,
        zone,
    })
}

/// A zone as Java's zone-text parser reads it: an offset (`+02:00`, `-0700`, `Z`), `UTC` /
/// `GMT` / `UT` with an optional offset, an IANA id, or a common abbreviation.
pub(crate) fn zone(s: &str) -> Option<TimeZone> {
    if s == "Z" {
        return Some(TimeZone::UTC);
    }
    if let Some(o) = offset(s) {
        return Some(TimeZone::fixed(o));
    }
    for prefix in ["UTC", "GMT", "UT"] {
        if let Some(r) = s.strip_prefix(prefix) {
            if r.is_empty() {
                return Some(TimeZone::UTC);
            }
            if let Some(o) = offset(r) {
                return Some(TimeZone::fixed(o));
            }
        }
    }
    if let Ok(tz) = TimeZone::get(s) {
        return Some(tz);
    }
    let (id, fixed_hours) = match s {
        "EST" => (None, Some(-5)),
        "MST" => (None, Some(-7)),
        "HST" => (None, Some(-10)),
        "EDT" | "ET" => (Some("America/New_York"), None),
        "CST" | "CDT" | "CT" => (Some("America/Chicago"), None),
        "MDT" | "MT" => (Some("America/Denver"), None),
        "PST" | "PDT" | "PT" => (Some("America/Los_Angeles"), None),
        "CET" | "CEST" => (Some("Europe/Paris"), None),
        "BST" => (Some("Europe/London"), None),
        "JST" => (Some("Asia/Tokyo"), None),
        _ => (None, None),
    };
    match (id, fixed_hours) {
        (Some(id), _) => TimeZone::get(id).ok(),
        (None, Some(h)) => Offset::from_hours(h).ok().map(TimeZone::fixed),
        _ => None,
    }
}

/// `+HH`, `+HHMM`, `+HH:MM`, `+HH:MM:SS` (or `-`).
fn offset(s: &str) -> Option<Offset> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let r = &s[1..];
    let parts: Vec<&str> = if r.contains(':') {
        r.split(':').collect()
    } else if r.len() == 4 || r.len() == 6 {
        (0..r.len()).step_by(2).map(|i| &r[i..i + 2]).collect()
    } else {
        vec![r]
    };
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.len() != 2 && p.len() != 1) {
        return None;
    }
    let mut secs = 0i32;
    for (i, p) in parts.iter().enumerate() {
        if !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: i32 = p.parse().ok()?;
        secs += n * [3600, 60, 1][i];
    }
    if secs > 18 * 3600 {
        return None;
    }
    Offset::from_seconds(sign * secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2021-05-12T10:00:00Z".parse().unwrap()
    }

    fn norm(v: &str, dtz: Option<&str>) -> Result<String, TimestampError> {
        normalize(v, dtz, &TimeZone::UTC, now()).map(|t| t.to_string())
    }

    #[test]
    fn epoch_millis_with_fractions() {
        assert_eq!(
            norm("1616623591694", None).unwrap(),
            "2021-03-24T22:06:31.694Z"
        );
        assert_eq!(
            norm("1616623591694.176789123", None).unwrap(),
            "2021-03-24T22:06:31.694176789Z"
        );
        assert!(norm("0123", None).is_err());
        assert!(norm("12.", None).is_err());
    }

    #[test]
    fn formats_and_zones() {
        assert_eq!(
            norm("Jun 17 2027 17:57:06.456", Some("America/New_York")).unwrap(),
            "2027-06-17T21:57:06.456Z"
        );
        assert_eq!(
            norm("Jun 17 2027 17:57:06.456 -07:00", Some("America/New_York")).unwrap(),
            "2027-06-18T00:57:06.456Z"
        );
        assert_eq!(
            norm("Mar 17 2021 12:34:56 +00:00", None).unwrap(),
            "2021-03-17T12:34:56.000Z"
        );
        assert_eq!(
            norm("Mar 17 2021 12:34:56 UTC", None).unwrap(),
            "2021-03-17T12:34:56.000Z"
        );
        assert!(norm("Mar 17 2021 12:34:56.98 UTC", None).is_err());
        assert!(norm("Last Thursday", None).is_err());
        assert!(norm("Mar 17 2021 12:34:56", Some("Not/AZone")).is_err());
        assert!(norm("Mar 17 2021 12:34:56 nowhere", None).is_err());
    }

    #[test]
    fn year_is_guessed() {
        // Now is 2021-05-12: May 13 is this year, May 15 is last year's.
        assert_eq!(
            norm("May 13 10:00:00", None).unwrap(),
            "2021-05-13T10:00:00.000Z"
        );
        assert_eq!(
            norm("May 15 10:00:00", None).unwrap(),
            "2020-05-15T10:00:00.000Z"
        );
        let dec31: jiff::Timestamp = "2021-12-31T23:00:00Z".parse().unwrap();
        let t = normalize("Jan 01 01:00:00", None, &TimeZone::UTC, dec31).unwrap();
        assert_eq!(t.to_string(), "2022-01-01T01:00:00.000Z");
    }
}
