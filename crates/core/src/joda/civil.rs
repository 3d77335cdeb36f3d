//! Calendar arithmetic and the resolution of parsed fields into an instant, the way Joda's
//! `DateTimeParserBucket.computeMillis` does it: every field is range-checked, a parsed
//! offset wins over the zone, and a local time that does not exist in the zone fails.

use super::parse::ParseError;
use super::zone::Zone;
use crate::timestamp::Timestamp;

pub(crate) fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

pub(crate) fn days_in_month(y: i64, m: u8) -> u8 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// ISO day of week, Monday = 1.
fn iso_weekday(days: i64) -> i64 {
    // 1970-01-01 was a Thursday.
    (days + 3).rem_euclid(7) + 1
}

/// Everything a parser may read, before it becomes an instant.
#[derive(Clone, Debug)]
pub(crate) struct Fields {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub day_of_year: Option<u16>,
    pub weekyear: Option<i64>,
    pub week: Option<u8>,
    pub day_of_week: Option<u8>,
    /// Hour of day from `H` or `k`.
    pub hour: Option<u8>,
    /// Hour of half day (0..=11) from `h` or `K`.
    pub hour_of_half: Option<u8>,
    pub pm: Option<bool>,
    pub minute: u8,
    pub second: u8,
    pub nanos: u32,
    /// A parsed offset in seconds; it wins over `zone` and the configured zone.
    pub offset: Option<i32>,
    /// A parsed zone id (`ZZZ`).
    pub zone: Option<Zone>,
    pub bc: bool,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            year: 1970,
            month: 1,
            day: 1,
            day_of_year: None,
            weekyear: None,
            week: None,
            day_of_week: None,
            hour: None,
            hour_of_half: None,
            pm: None,
            minute: 0,
            second: 0,
            nanos: 0,
            offset: None,
            zone: None,
            bc: false,
        }
    }
}

impl Fields {
    /// The local date as days since the epoch, range-checked.
    fn local_days(&self) -> Result<i64, ParseError> {
        let year = if self.bc { 1 - self.year } else { self.year };
        if let Some(week) = self.week {
            // An ISO week date: Monday of week 1 is the Monday of the week holding Jan 4.
            let wy = self.weekyear.unwrap_or(year);
            let jan4 = days_from_civil(wy, 1, 4);
            let week1 = jan4 - (iso_weekday(jan4) - 1);
            let weeks = if is_long_iso_year(wy) { 53 } else { 52 };
            if week == 0 || week > weeks {
                return Err(ParseError::FieldRange);
            }
            let dow = i64::from(self.day_of_week.unwrap_or(1));
            return Ok(week1 + (i64::from(week) - 1) * 7 + dow - 1);
        }
        if let Some(doy) = self.day_of_year {
            let max = if is_leap(year) { 366 } else { 365 };
            if doy == 0 || doy > max {
                return Err(ParseError::FieldRange);
            }
            return Ok(days_from_civil(year, 1, 1) + i64::from(doy) - 1);
        }
        if self.month == 0
            || self.month > 12
            || self.day == 0
            || self.day > days_in_month(year, self.month)
        {
            return Err(ParseError::FieldRange);
        }
        Ok(days_from_civil(year, self.month, self.day))
    }

    /// The hour of day, combining `H`/`k` with `h`/`K` and `a` as Joda does (`H` wins).
    fn hour_of_day(&self) -> u8 {
        match (self.hour, self.hour_of_half) {
            (Some(h), _) => h,
            (None, Some(h)) => h + if self.pm == Some(true) { 12 } else { 0 },
            (None, None) => {
                if self.pm == Some(true) {
                    12
                } else {
                    0
                }
            }
        }
    }

    /// The instant these fields denote: the parsed offset, else the parsed zone, else
    /// `default_zone`.
    pub fn resolve(&self, default_zone: &Zone) -> Result<Timestamp, ParseError> {
        let days = self.local_days()?;
        let secs = days * 86_400
            + i64::from(self.hour_of_day()) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        if let Some(off) = self.offset {
            return Timestamp::from_unix(secs - i64::from(off), self.nanos as i32)
                .ok_or(ParseError::OutOfRange);
        }
        let zone = self.zone.as_ref().unwrap_or(default_zone);
        zone.local_to_timestamp(secs, self.nanos)
    }
}

/// ISO years with 53 weeks: those starting on a Thursday, or leap years starting on a
/// Wednesday.
fn is_long_iso_year(y: i64) -> bool {
    let jan1 = iso_weekday(days_from_civil(y, 1, 1));
    jan1 == 4 || (jan1 == 3 && is_leap(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for z in [-800_000, -1, 0, 59, 11_016, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn week_dates_and_ordinals() {
        let utc = Zone::utc();
        // 2009-W01-1 is 2008-12-29.
        let f = Fields {
            weekyear: Some(2009),
            week: Some(1),
            day_of_week: Some(1),
            ..Fields::default()
        };
        assert_eq!(
            f.resolve(&utc).unwrap().to_string(),
            "2008-12-29T00:00:00.000Z"
        );
        let f = Fields {
            year: 2012,
            day_of_year: Some(366),
            ..Fields::default()
        };
        assert_eq!(
            f.resolve(&utc).unwrap().to_string(),
            "2012-12-31T00:00:00.000Z"
        );
        let f = Fields {
            year: 2013,
            day_of_year: Some(366),
            ..Fields::default()
        };
        assert!(f.resolve(&utc).is_err());
        let f = Fields {
            year: 2013,
            month: 2,
            day: 29,
            ..Fields::default()
        };
        assert!(f.resolve(&utc).is_err());
    }

    #[test]
    fn half_day_hours() {
        let utc = Zone::utc();
        let f = Fields {
            hour_of_half: Some(0),
            pm: Some(true),
            ..Fields::default()
        };
        assert_eq!(f.resolve(&utc).unwrap().unix_seconds(), 12 * 3600);
        let f = Fields {
            hour: Some(13),
            pm: Some(false),
            ..Fields::default()
        };
        assert_eq!(f.resolve(&utc).unwrap().unix_seconds(), 13 * 3600);
    }
}
