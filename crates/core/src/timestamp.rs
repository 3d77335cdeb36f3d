//! `@timestamp`: an instant with nanosecond precision, printed the way Logstash 8 prints it
//! (UTC, at least millisecond digits, more in groups of three when the instant has them).

use std::fmt;

/// An instant in time. Wraps [`jiff::Timestamp`] so the representation can change without
/// touching the filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub jiff::Timestamp);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Timestamp(jiff::Timestamp::now())
    }

    /// From seconds and nanoseconds since the Unix epoch; `None` when out of range.
    pub fn from_unix(secs: i64, nanos: i32) -> Option<Self> {
        jiff::Timestamp::new(secs, nanos).ok().map(Timestamp)
    }

    /// From milliseconds since the Unix epoch.
    pub fn from_unix_millis(ms: i64) -> Option<Self> {
        jiff::Timestamp::from_millisecond(ms).ok().map(Timestamp)
    }

    /// From nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(ns: i128) -> Option<Self> {
        jiff::Timestamp::from_nanosecond(ns).ok().map(Timestamp)
    }

    pub fn unix_seconds(&self) -> i64 {
        self.0.as_second()
    }

    pub fn unix_millis(&self) -> i64 {
        self.0.as_millisecond()
    }

    pub fn unix_nanos(&self) -> i128 {
        self.0.as_nanosecond()
    }

    /// Sub-second nanoseconds (0..1e9), also for instants before the epoch.
    pub fn subsec_nanos(&self) -> u32 {
        self.0.as_nanosecond().rem_euclid(1_000_000_000) as u32
    }

    /// Parses an ISO-8601 instant as Logstash accepts in JSON input
    /// (`2013-01-01T00:00:00.000Z`, offsets, or no offset meaning UTC).
    pub fn parse_iso8601(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(ts) = s.parse::<jiff::Timestamp>() {
            return Some(Timestamp(ts));
        }
        // No offset: Logstash reads it as UTC.
        let dt: jiff::civil::DateTime = s.parse().ok()?;
        jiff::tz::TimeZone::UTC.to_timestamp(dt).ok().map(Timestamp)
    }

    /// Broken-down UTC fields, for formatting.
    pub fn to_utc_datetime(&self) -> jiff::civil::DateTime {
        jiff::tz::Offset::UTC.to_datetime(self.0)
    }
}

/// The general form; `json_out::write_timestamp` writes the same text faster for years 0
/// to 9999 (tested against this).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dt = self.to_utc_datetime();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )?;
        let nanos = self.subsec_nanos();
        if nanos.is_multiple_of(1_000_000) {
            write!(f, ".{:03}Z", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            write!(f, ".{:06}Z", nanos / 1_000)
        } else {
            write!(f, ".{:09}Z", nanos)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_millis_at_least() {
        let t = Timestamp::from_unix(1_356_998_400, 0).unwrap();
        assert_eq!(t.to_string(), "2013-01-01T00:00:00.000Z");
        let t = Timestamp::from_unix(1_356_998_400, 123_000_000).unwrap();
        assert_eq!(t.to_string(), "2013-01-01T00:00:00.123Z");
        let t = Timestamp::from_unix(1_356_998_400, 123_456_000).unwrap();
        assert_eq!(t.to_string(), "2013-01-01T00:00:00.123456Z");
        let t = Timestamp::from_unix(1_356_998_400, 123_456_789).unwrap();
        assert_eq!(t.to_string(), "2013-01-01T00:00:00.123456789Z");
    }

    #[test]
    fn parses_iso() {
        let t = Timestamp::parse_iso8601("2013-01-01T00:00:00.000Z").unwrap();
        assert_eq!(t.unix_seconds(), 1_356_998_400);
        let t = Timestamp::parse_iso8601("2013-01-01T01:00:00+01:00").unwrap();
        assert_eq!(t.unix_seconds(), 1_356_998_400);
        assert!(Timestamp::parse_iso8601("not a date").is_none());
    }
}
