//! Parsing with Joda-Time patterns (`dd/MMM/yyyy:HH:mm:ss Z`), compiled once into a list of
//! operations that run over the input bytes without allocating.
//!
//! Joda's parsing rules that matter for compatibility:
//! - numeric fields accept fewer digits than the pattern has (`dd` reads `5`), up to a
//!   per-field maximum (2 for most, 3 for `D`, 9 for years unless the next field is numeric,
//!   in which case exactly as many as the pattern letters);
//! - `yy` maps two digits into the century window around now - 30 years, and when not
//!   followed by a numeric field also accepts a full year;
//! - text fields accept the short or full name, in its own case, lower or upper case;
//! - literals match case-insensitively; the whole input must be consumed;
//! - `Z`/`ZZ` parse `Z` or an offset with or without colons, `ZZZ` a zone id, `z` a
//!   short zone name (UTC, GMT, EST, PDT, ...);
//! - values are range-checked (month 13 or February 30 fail).
//!
//! Departures: fractions keep up to nanosecond precision (Joda keeps milliseconds); a
//! parsed weekday (`E`, `e`) is checked but does not move the date (Joda would move it
//! within the week, which is never what a log line means).

use super::civil::{days_in_month, is_leap, Fields};
use super::locale::Locale;
use super::zone::{parse_offset, parse_zone_id, parse_zone_name, Zone};
use super::{Dialect, FormatError, JodaFormat, Token};
use crate::timestamp::Timestamp;

/// Why an input did not parse. Cheap (no allocation): failures are common in the date
/// filter, which tries several patterns in turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("input does not match the pattern")]
    Mismatch,
    #[error("unexpected text after the date")]
    Trailing,
    #[error("a date field is out of range")]
    FieldRange,
    #[error("the date is out of the supported range")]
    OutOfRange,
    #[error("the local time does not exist in the time zone (daylight saving gap)")]
    SkippedLocalTime,
    #[error("unknown time zone")]
    UnknownZone,
    #[error("value is not a string")]
    NotAString,
}

/// A pattern that cannot be compiled for parsing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} in date pattern {pattern:?}")]
pub struct PatternError {
    pub pattern: String,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Num {
    Year,
    YearOfEra,
    WeekYear,
    Month,
    Day,
    DayOfYear,
    Hour,
    ClockHourOfDay,
    HourOfHalf,
    ClockHourOfHalf,
    Minute,
    Second,
    Week,
    DayOfWeek,
}

#[derive(Clone, Debug)]
enum Op {
    /// Literal text, matched case-insensitively (ASCII).
    Lit(Box<[u8]>),
    Num {
        field: Num,
        max: u8,
        signed: bool,
    },
    /// `yy` (or `YY`/`xx`): two digits in the pivot window; `lenient` also reads full years.
    TwoDigitYear {
        field: Num,
        lenient: bool,
    },
    Fraction {
        max: u8,
    },
    MonthText,
    DayText,
    HalfDay,
    Era,
    Offset,
    ZoneId,
    ZoneName,
}

/// A compiled Joda pattern for parsing.
#[derive(Clone, Debug)]
pub struct JodaParser {
    ops: Vec<Op>,
    has_year: bool,
    locale: Locale,
    /// Joda's two-digit-year pivot: the year 30 years before the pattern was compiled.
    pivot: i64,
}

/// Joda's `isNumericToken`: does this token read digits?
fn is_numeric(t: &Token) -> bool {
    match t {
        Token::Field(c, n) => "CxyYdhHmsSeDkK".contains(*c) || (*c == 'M' && *n <= 2),
        Token::Literal(_) => false,
    }
}

impl JodaParser {
    /// Compiles `pattern`; `locale` gives the month and day names.
    pub fn compile(pattern: &str, locale: Locale) -> Result<JodaParser, PatternError> {
        let err = |message: String| PatternError {
            pattern: pattern.to_string(),
            message,
        };
        let fmt = JodaFormat::compile(pattern, Dialect::Joda).map_err(|e| PatternError {
            pattern: pattern.to_string(),
            message: match e {
                FormatError::UnterminatedQuote { .. } => "unterminated quote".to_string(),
                FormatError::IllegalLetter { letter, .. } => {
                    format!("illegal pattern letter {letter:?}")
                }
            },
        })?;
        let tokens = &fmt.tokens;
        if tokens.is_empty() {
            return Err(err("empty pattern".into()));
        }
        let mut ops = Vec::with_capacity(tokens.len());
        let mut has_year = false;
        for (i, t) in tokens.iter().enumerate() {
            let next_numeric = tokens.get(i + 1).is_some_and(is_numeric);
            let (c, n) = match t {
                Token::Literal(s) => {
                    ops.push(Op::Lit(s.as_bytes().into()));
                    continue;
                }
                Token::Field(c, n) => (*c, *n),
            };
            let num = |field: Num, max: usize| Op::Num {
                field,
                max: max.max(n).min(18) as u8,
                signed: false,
            };
            let op = match c {
                'y' | 'Y' | 'x' => {
                    has_year = true;
                    let field = match c {
                        'y' => Num::Year,
                        'Y' => Num::YearOfEra,
                        _ => Num::WeekYear,
                    };
                    if n == 2 {
                        Op::TwoDigitYear {
                            field,
                            lenient: !next_numeric,
                        }
                    } else {
                        let max = if next_numeric { n } else { 9 };
                        Op::Num {
                            field,
                            max: max.min(18) as u8,
                            signed: c != 'Y',
                        }
                    }
                }
                'M' if n >= 3 => Op::MonthText,
                'M' => num(Num::Month, 2),
                'd' => num(Num::Day, 2),
                'D' => num(Num::DayOfYear, 3),
                'H' => num(Num::Hour, 2),
                'k' => num(Num::ClockHourOfDay, 2),
                'K' => num(Num::HourOfHalf, 2),
                'h' => num(Num::ClockHourOfHalf, 2),
                'm' => num(Num::Minute, 2),
                's' => num(Num::Second, 2),
                'w' => num(Num::Week, 2),
                'e' => num(Num::DayOfWeek, 1),
                'S' => Op::Fraction {
                    max: if next_numeric { n.min(9) as u8 } else { 9 },
                },
                'E' => Op::DayText,
                'a' => Op::HalfDay,
                'G' => Op::Era,
                'Z' if n <= 2 => Op::Offset,
                'Z' => Op::ZoneId,
                'z' => Op::ZoneName,
                'C' => return Err(err("the century field 'C' cannot be parsed".into())),
                other => return Err(err(format!("illegal pattern letter {other:?}"))),
            };
            ops.push(op);
        }
        let pivot = i64::from(Timestamp::now().to_utc_datetime().year()) - 30;
        Ok(JodaParser {
            ops,
            has_year,
            locale,
            pivot,
        })
    }

    /// True when the pattern has a year; without one the year is guessed from the clock.
    pub fn has_year(&self) -> bool {
        self.has_year
    }

    /// Parses `input`; fields without an offset or zone in the input are local to `zone`.
    pub fn parse(&self, input: &str, zone: &Zone) -> Result<Timestamp, ParseError> {
        self.parse_with_clock(input, zone, &Timestamp::now)
    }

    /// Like [`JodaParser::parse`], reading the clock (only for year-less patterns) from
    /// `clock`. The year is the current one, the next one for a January date in December,
    /// and the previous one when the date would be more than 30 days in the future.
    pub fn parse_with_clock(
        &self,
        input: &str,
        zone: &Zone,
        clock: &dyn Fn() -> Timestamp,
    ) -> Result<Timestamp, ParseError> {
        let mut f = self.read(input.as_bytes())?;
        if self.has_year {
            return f.resolve(zone);
        }
        // Checked in Joda's default year 2000 so that Feb 29 parses.
        if f.month == 0 || f.month > 12 || f.day == 0 || f.day > days_in_month(2000, f.month) {
            return Err(ParseError::FieldRange);
        }
        let now = clock();
        let (year, now_month) = zone.year_month_at(now);
        let set_year = |f: &mut Fields, y: i64| {
            f.year = y;
            if f.month == 2 && f.day == 29 && !is_leap(y) {
                f.day = 28;
            }
        };
        if f.month == 1 && now_month == 12 {
            set_year(&mut f, year + 1);
            return f.resolve(zone);
        }
        let (month, day) = (f.month, f.day);
        set_year(&mut f, year);
        let ts = f.resolve(zone)?;
        if ts.unix_seconds() > now.unix_seconds() + 30 * 86_400 {
            f.month = month;
            f.day = day;
            set_year(&mut f, year - 1);
            return f.resolve(zone);
        }
        Ok(ts)
    }

    /// Runs the operations over `b`, collecting fields.
    fn read(&self, b: &[u8]) -> Result<Fields, ParseError> {
        let mut f = Fields::default();
        if !self.has_year {
            f.year = 2000;
        }
        let mut pos = 0;
        for op in &self.ops {
            pos = match op {
                Op::Lit(lit) => {
                    let end = pos + lit.len();
                    match b.get(pos..end) {
                        Some(s) if s.eq_ignore_ascii_case(lit) => end,
                        _ => return Err(ParseError::Mismatch),
                    }
                }
                Op::Num { field, max, signed } => {
                    let (v, end) = read_number(b, pos, usize::from(*max), *signed)
                        .ok_or(ParseError::Mismatch)?;
                    set_num(&mut f, *field, v)?;
                    end
                }
                Op::TwoDigitYear { field, lenient } => {
                    let (v, end) = self
                        .two_digit_year(b, pos, *lenient)
                        .ok_or(ParseError::Mismatch)?;
                    set_num(&mut f, *field, v)?;
                    end
                }
                Op::Fraction { max } => {
                    let (nanos, end) =
                        read_fraction(b, pos, usize::from(*max)).ok_or(ParseError::Mismatch)?;
                    f.nanos = nanos;
                    end
                }
                Op::MonthText => {
                    let (m, end) = self
                        .locale
                        .parse_month(b, pos)
                        .ok_or(ParseError::Mismatch)?;
                    f.month = m;
                    end
                }
                Op::DayText => self.locale.parse_day(b, pos).ok_or(ParseError::Mismatch)?.1,
                Op::HalfDay => {
                    let (h, end) = self
                        .locale
                        .parse_halfday(b, pos)
                        .ok_or(ParseError::Mismatch)?;
                    f.pm = Some(h == 1);
                    end
                }
                Op::Era => {
                    let (e, end) = self.locale.parse_era(b, pos).ok_or(ParseError::Mismatch)?;
                    f.bc = e == 0;
                    end
                }
                Op::Offset => {
                    if matches!(b.get(pos), Some(b'Z' | b'z')) {
                        f.offset = Some(0);
                        pos + 1
                    } else {
                        let (off, end) = parse_offset(b, pos).ok_or(ParseError::Mismatch)?;
                        f.offset = Some(off);
                        end
                    }
                }
                Op::ZoneId => {
                    let (z, end) = parse_zone_id(b, pos).ok_or(ParseError::Mismatch)?;
                    f.zone = Some(z);
                    end
                }
                Op::ZoneName => {
                    let (off, end) = parse_zone_name(b, pos).ok_or(ParseError::Mismatch)?;
                    f.offset = Some(off);
                    end
                }
            };
        }
        if pos != b.len() {
            return Err(ParseError::Trailing);
        }
        Ok(f)
    }

    /// Joda's `TwoDigitYear` parser.
    fn two_digit_year(&self, b: &[u8], pos: usize, lenient: bool) -> Option<(i64, usize)> {
        if lenient {
            let (v, end) = read_number(b, pos, 9, true)?;
            let plain_two = end - pos == 2 && b[pos].is_ascii_digit();
            if !plain_two {
                return Some((v, end));
            }
            Some((self.pivot_year(v), end))
        } else {
            let (v, end) = read_number(b, pos, 2, false)?;
            if end - pos != 2 {
                return None;
            }
            Some((self.pivot_year(v), end))
        }
    }

    fn pivot_year(&self, two: i64) -> i64 {
        let low = self.pivot - 50;
        let t = if low >= 0 {
            low % 100
        } else {
            99 + (low + 1) % 100
        };
        two + low + if two < t { 100 } else { 0 } - t
    }
}

/// Reads up to `max` digits (at least one), with an optional sign when `signed` (the sign
/// does not count towards `max`, as in Joda).
#[inline]
pub(crate) fn read_number(b: &[u8], pos: usize, max: usize, signed: bool) -> Option<(i64, usize)> {
    let mut i = pos;
    let mut negative = false;
    if signed && matches!(b.get(i), Some(b'-' | b'+')) {
        if !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        negative = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i64 = 0;
    while i - start < max {
        match b.get(i) {
            Some(c @ b'0'..=b'9') => {
                v = v * 10 + i64::from(c - b'0');
                i += 1;
            }
            _ => break,
        }
    }
    if i == start {
        return None;
    }
    Some((if negative { -v } else { v }, i))
}

/// Reads 1..=`max` fraction digits as nanoseconds.
#[inline]
pub(crate) fn read_fraction(b: &[u8], pos: usize, max: usize) -> Option<(u32, usize)> {
    let mut i = pos;
    let mut v: u32 = 0;
    while i - pos < max {
        match b.get(i) {
            Some(c @ b'0'..=b'9') => {
                v = v * 10 + u32::from(c - b'0');
                i += 1;
            }
            _ => break,
        }
    }
    let digits = i - pos;
    if digits == 0 {
        return None;
    }
    Some((v * 10u32.pow(9 - digits.min(9) as u32), i))
}

/// Stores a numeric field, range-checked as Joda's `set` does.
fn set_num(f: &mut Fields, field: Num, v: i64) -> Result<(), ParseError> {
    let check = |lo: i64, hi: i64| {
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(ParseError::FieldRange)
        }
    };
    match field {
        Num::Year => f.year = check(-292_275_054, 292_278_993)?,
        Num::YearOfEra => f.year = check(1, 292_278_993)?,
        Num::WeekYear => f.weekyear = Some(check(-292_275_054, 292_278_993)?),
        Num::Month => f.month = check(1, 12)? as u8,
        Num::Day => f.day = check(1, 31)? as u8,
        Num::DayOfYear => f.day_of_year = Some(check(1, 366)? as u16),
        Num::Hour => f.hour = Some(check(0, 23)? as u8),
        Num::ClockHourOfDay => f.hour = Some((check(1, 24)? % 24) as u8),
        Num::HourOfHalf => f.hour_of_half = Some(check(0, 11)? as u8),
        Num::ClockHourOfHalf => f.hour_of_half = Some((check(1, 12)? % 12) as u8),
        Num::Minute => f.minute = check(0, 59)? as u8,
        Num::Second => f.second = check(0, 59)? as u8,
        Num::Week => f.week = Some(check(1, 53)? as u8),
        Num::DayOfWeek => f.day_of_week = Some(check(1, 7)? as u8),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
