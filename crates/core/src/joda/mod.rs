//! Joda-Time / java.time date patterns (`yyyy-MM-dd'T'HH:mm:ss.SSSZ`), compiled once.
//!
//! Used by sprintf's `%{+FORMAT}` (Joda) and `%{{FORMAT}}` (java.time) for formatting, and
//! by the date filter for parsing: [`JodaParser`] compiles a pattern once into a list of
//! parse operations that run over the input bytes without allocating; [`iso8601`] is
//! Logstash's `ISO8601` format; [`epoch`] holds `UNIX`, `UNIX_MS` and `TAI64N`.

mod civil;
pub mod epoch;
pub mod iso8601;
mod locale;
mod parse;
mod zone;

pub use locale::Locale;
pub use parse::{JodaParser, ParseError, PatternError};
pub use zone::{parse_zone, Zone, ZoneError};

use crate::timestamp::Timestamp;
use jiff::tz::TimeZone;

/// Which pattern dialect: Joda (`%{+...}`, the date filter) or java.time (`%{{...}}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Joda,
    JavaTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// A pattern letter repeated `count` times.
    Field(char, usize),
}

/// A pattern that cannot be compiled for formatting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("unterminated quote in date pattern {pattern:?}")]
    UnterminatedQuote { pattern: String },
    #[error("illegal pattern letter {letter:?} in date pattern {pattern:?}")]
    IllegalLetter { letter: char, pattern: String },
}

/// A compiled pattern.
#[derive(Clone, Debug)]
pub struct JodaFormat {
    tokens: Vec<Token>,
    dialect: Dialect,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl JodaFormat {
    /// Compiles a pattern; letters are pattern fields, `'...'` quotes literals, `''` is a quote.
    pub fn compile(pattern: &str, dialect: Dialect) -> Result<JodaFormat, FormatError> {
        let mut tokens = Vec::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        let mut lit = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    lit.push('\'');
                    i += 2;
                    continue;
                }
                let mut j = i + 1;
                let mut closed = false;
                while j < chars.len() {
                    if chars[j] == '\'' {
                        if chars.get(j + 1) == Some(&'\'') {
                            lit.push('\'');
                            j += 2;
                            continue;
                        }
                        closed = true;
                        break;
                    }
                    lit.push(chars[j]);
                    j += 1;
                }
                if !closed {
                    return Err(FormatError::UnterminatedQuote {
                        pattern: pattern.to_string(),
                    });
                }
                i = j + 1;
            } else if c.is_ascii_alphabetic() {
                let known = "GCYyxwweEDMdaKhHkmsSzZuQLqn".contains(c)
                    || (dialect == Dialect::JavaTime && "VXOc".contains(c));
                if !known {
                    return Err(FormatError::IllegalLetter {
                        letter: c,
                        pattern: pattern.to_string(),
                    });
                }
                if !lit.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut lit)));
                }
                let mut n = 1;
                while chars.get(i + n) == Some(&c) {
                    n += 1;
                }
                tokens.push(Token::Field(c, n));
                i += n;
            } else {
                lit.push(c);
                i += 1;
            }
        }
        if !lit.is_empty() {
            tokens.push(Token::Literal(lit));
        }
        Ok(JodaFormat { tokens, dialect })
    }

    /// Formats `ts` in UTC.
    pub fn format_utc(&self, ts: Timestamp) -> String {
        let dt = ts.to_utc_datetime();
        self.render(ts, &dt, 0, "UTC", "UTC")
    }

    /// Formats `ts` in the time zone `tz`: fields are local to it and `Z`/`ZZ`/`ZZZ`/`z`
    /// print its offset, id and abbreviation at that instant.
    pub fn format_in(&self, ts: Timestamp, tz: &TimeZone) -> String {
        let info = tz.to_offset_info(ts.0);
        let offset = info.offset();
        let dt = offset.to_datetime(ts.0);
        let id = tz.iana_name().unwrap_or("UTC");
        self.render(ts, &dt, offset.seconds(), id, info.abbreviation())
    }

    fn render(
        &self,
        ts: Timestamp,
        dt: &jiff::civil::DateTime,
        offset: i32,
        id: &str,
        abbrev: &str,
    ) -> String {
        let mut out = String::with_capacity(32);
        for t in &self.tokens {
            match t {
                Token::Literal(s) => out.push_str(s),
                Token::Field(c, n) => {
                    let zone = ZoneInfo { offset, id, abbrev };
                    self.format_field(&mut out, *c, *n, dt, ts, &zone)
                }
            }
        }
        out
    }

    fn format_field(
        &self,
        out: &mut String,
        c: char,
        n: usize,
        dt: &jiff::civil::DateTime,
        ts: Timestamp,
        zone: &ZoneInfo<'_>,
    ) {
        let num = |out: &mut String, v: i64, width: usize| {
            if v < 0 {
                out.push('-');
            }
            let s = v.unsigned_abs().to_string();
            for _ in s.len()..width {
                out.push('0');
            }
            out.push_str(&s);
        };
        let year = dt.year() as i64;
        match c {
            // Joda: y = year, Y = year of era; java.time: u = year, y = year of era, Y = week-based year.
            'y' | 'Y' | 'u' | 'x' => {
                let y = if c == 'x' || (c == 'Y' && self.dialect == Dialect::JavaTime) {
                    dt.date().iso_week_date().year() as i64
                } else {
                    year
                };
                if n == 2 {
                    num(out, y.rem_euclid(100), 2)
                } else {
                    num(out, y, n)
                }
            }
            'M' | 'L' => {
                let m = dt.month() as usize;
                match n {
                    1 | 2 => num(out, m as i64, n),
                    3 => out.push_str(&MONTHS[m - 1][..3]),
                    _ => out.push_str(MONTHS[m - 1]),
                }
            }
            'd' => num(out, dt.day() as i64, n),
            'D' => num(out, dt.day_of_year() as i64, n),
            'H' => num(out, dt.hour() as i64, n),
            'k' => num(out, if dt.hour() == 0 { 24 } else { dt.hour() as i64 }, n),
            'K' => num(out, (dt.hour() % 12) as i64, n),
            'h' => num(
                out,
                if dt.hour() % 12 == 0 {
                    12
                } else {
                    (dt.hour() % 12) as i64
                },
                n,
            ),
            'm' => num(out, dt.minute() as i64, n),
            's' => num(out, dt.second() as i64, n),
            'S' | 'n' => {
                let nanos = format!("{:09}", ts.subsec_nanos());
                if c == 'n' {
                    num(out, ts.subsec_nanos() as i64, n)
                } else if n <= 9 {
                    out.push_str(&nanos[..n]);
                } else {
                    out.push_str(&nanos);
                    for _ in 9..n {
                        out.push('0');
                    }
                }
            }
            'a' => out.push_str(if dt.hour() < 12 { "AM" } else { "PM" }),
            'E' | 'e' | 'c' => {
                let wd = dt.weekday().to_monday_zero_offset() as usize;
                if c != 'E' && n <= 2 {
                    num(out, wd as i64 + 1, n)
                } else if n <= 3 {
                    out.push_str(&DAYS[wd][..3])
                } else {
                    out.push_str(DAYS[wd])
                }
            }
            'w' => num(out, dt.date().iso_week_date().week() as i64, n),
            'G' => out.push_str(if year > 0 { "AD" } else { "BC" }),
            'C' => num(out, year.div_euclid(100), n),
            'Q' | 'q' => num(out, (dt.month() as i64 - 1) / 3 + 1, n),
            'Z' | 'X' | 'O' => {
                if (c == 'X' || n == 5) && zone.offset == 0 {
                    out.push('Z')
                } else if n == 3 && c == 'Z' && self.dialect == Dialect::Joda {
                    out.push_str(zone.id)
                } else {
                    let colon = match self.dialect {
                        Dialect::Joda => n == 2,
                        Dialect::JavaTime => n >= 4 || (c == 'X' && n == 3),
                    };
                    push_offset(out, zone.offset, colon);
                }
            }
            'z' => out.push_str(if n >= 4 { zone.id } else { zone.abbrev }),
            'V' => out.push_str(zone.id),
            _ => {}
        }
    }
}

/// The zone facts a pattern may print.
struct ZoneInfo<'a> {
    offset: i32,
    id: &'a str,
    abbrev: &'a str,
}

/// `+hhmm` or `+hh:mm` (seconds are dropped, as Joda prints them only when non-zero,
/// which no real zone needs any more).
fn push_offset(out: &mut String, secs: i32, colon: bool) {
    out.push(if secs < 0 { '-' } else { '+' });
    let a = secs.unsigned_abs();
    let (h, m) = (a / 3600, a / 60 % 60);
    out.push(char::from(b'0' + (h / 10) as u8));
    out.push(char::from(b'0' + (h % 10) as u8));
    if colon {
        out.push(':');
    }
    out.push(char::from(b'0' + (m / 10) as u8));
    out.push(char::from(b'0' + (m % 10) as u8));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_common_patterns() {
        let ts = Timestamp::from_unix(1_356_998_400 + 3_723, 45_000_000).unwrap();
        let f = JodaFormat::compile("YYYY.MM.dd", Dialect::Joda).unwrap();
        assert_eq!(f.format_utc(ts), "2013.01.01");
        let f = JodaFormat::compile("yyyy-MM-dd'T'HH:mm:ss.SSSZ", Dialect::Joda).unwrap();
        assert_eq!(f.format_utc(ts), "2013-01-01T01:02:03.045+0000");
        let f = JodaFormat::compile("dd/MMM/yyyy EEE", Dialect::Joda).unwrap();
        assert_eq!(f.format_utc(ts), "01/Jan/2013 Tue");
        assert!(JodaFormat::compile("yyyy 'oops", Dialect::Joda).is_err());
    }

    #[test]
    fn formats_in_a_zone() {
        // 2013-06-24T08:29:01Z is 01:29:01 PDT in Los Angeles.
        let ts = Timestamp::from_unix(1_372_062_541, 0).unwrap();
        let tz = jiff::tz::TimeZone::get("America/Los_Angeles").unwrap();
        let f = JodaFormat::compile("yyyy-MM-dd HH:mm:ss Z ZZ ZZZ z", Dialect::Joda).unwrap();
        assert_eq!(
            f.format_in(ts, &tz),
            "2013-06-24 01:29:01 -0700 -07:00 America/Los_Angeles PDT"
        );
        let f = JodaFormat::compile("HH:mm ZZ", Dialect::Joda).unwrap();
        assert_eq!(f.format_in(ts, &jiff::tz::TimeZone::UTC), "08:29 +00:00");
        assert_eq!(f.format_utc(ts), "08:29 +00:00");
    }
}
