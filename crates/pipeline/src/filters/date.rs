//! The `date` filter: parses a date from a field and sets `@timestamp` (or `target`).
//!
//! `match => [ "field", "format", ... ]` tries the formats in order: Joda-Time patterns
//! (compiled once at build time), `ISO8601`, `UNIX`, `UNIX_MS`, `TAI64N`. Logstash 8
//! semantics (`logstash-filter-date` 3.1): a missing or null field leaves the event alone
//! (no tag, no `add_tag`); a failure adds `tag_on_failure`; `timezone` may be a sprintf
//! template rendered per event; year-less patterns guess the year from the clock.
//! Array-valued fields use their first element.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::event::TIMESTAMP;
use logstash_mesos_core::joda::{epoch, iso8601, parse_zone, JodaParser, Locale, ParseError, Zone};
use logstash_mesos_core::{Event, FieldRef, Template, Timestamp, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "match",
        OptKind::Array,
        "the source field, then one or more formats (Joda pattern, ISO8601, UNIX, UNIX_MS, TAI64N)",
    )
    .required(),
    OptSpec::new(
        "target",
        OptKind::String,
        "the field that receives the parsed timestamp",
    )
    .default("\"@timestamp\""),
    OptSpec::new(
        "tag_on_failure",
        OptKind::Array,
        "tags added when no format matches",
    )
    .default("[\"_dateparsefailure\"]"),
    OptSpec::new(
        "timezone",
        OptKind::String,
        "zone of dates without an offset: IANA id, offset, or %{field} (default: the system zone)",
    ),
    OptSpec::new(
        "locale",
        OptKind::String,
        "language of month and day names, BCP 47 (en-US) or POSIX (en_US)",
    ),
];

/// Reads the current time; injectable so year guessing can be tested.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// One entry of `match` after the field name.
#[derive(Debug)]
enum Format {
    Iso8601,
    Unix,
    UnixMs,
    Tai64n,
    Joda(JodaParser),
}

/// The `timezone` option: resolved once, or a template resolved per event.
#[derive(Debug)]
enum TimeZoneSetting {
    Fixed(Zone),
    Dynamic {
        template: Template,
        cache: RwLock<HashMap<String, Option<Zone>>>,
    },
}

/// Entries kept in the per-event zone cache; past this the cache is cleared (field values
/// are attacker-controlled, so it must stay bounded).
const ZONE_CACHE_MAX: usize = 256;

pub struct DateFilter {
    source: FieldRef,
    /// `None`: the target is `@timestamp`.
    target: Option<FieldRef>,
    formats: Vec<Format>,
    timezone: TimeZoneSetting,
    tag_on_failure: Vec<String>,
    clock: Clock,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    Ok(Box::new(DateFilter::new(args, Arc::new(Timestamp::now))?))
}

impl DateFilter {
    /// Builds the filter with `clock` as the time source for year guessing.
    pub fn new(args: &Args, clock: Clock) -> BuildResult<DateFilter> {
        let matches = args.strings("match");
        let Some((field, patterns)) = matches.split_first().filter(|(_, p)| !p.is_empty()) else {
            return Err(BuildError::option(
                "match",
                format!(
                    "expected a field name followed by at least one date format, got {matches:?}"
                ),
            ));
        };
        let source =
            FieldRef::parse(field).map_err(|e| BuildError::option("match", e.to_string()))?;

        let locale = match args.string("locale") {
            None => Locale::english(),
            Some(tag) => Locale::from_tag(&tag.replace('_', "-")).unwrap_or_else(|| {
                tracing::warn!(locale = %tag, "date filter: no month/day names for this locale, using English");
                Locale::english()
            }),
        };

        let timezone = match args.string("timezone") {
            Some(tz) if tz.contains("%{") => TimeZoneSetting::Dynamic {
                template: Template::compile(&tz),
                cache: RwLock::new(HashMap::new()),
            },
            Some(tz) => TimeZoneSetting::Fixed(
                parse_zone(&tz).map_err(|e| BuildError::option("timezone", e))?,
            ),
            None => TimeZoneSetting::Fixed(Zone::system()),
        };

        let mut formats = Vec::with_capacity(patterns.len());
        let mut errors = Vec::new();
        for p in patterns {
            match p.as_str() {
                "ISO8601" => formats.push(Format::Iso8601),
                "UNIX" => formats.push(Format::Unix),
                "UNIX_MS" => formats.push(Format::UnixMs),
                "TAI64N" => formats.push(Format::Tai64n),
                pattern => match JodaParser::compile(pattern, locale) {
                    Ok(parser) => formats.push(Format::Joda(parser)),
                    Err(e) => errors.push(e.to_string()),
                },
            }
        }
        if !errors.is_empty() {
            return Err(BuildError::option("match", errors.join("; ")));
        }

        let target = match args.string("target") {
            None => None,
            Some(t) if t == TIMESTAMP || t == "[@timestamp]" => None,
            Some(t) => {
                Some(FieldRef::parse(&t).map_err(|e| BuildError::option("target", e.to_string()))?)
            }
        };
        let tag_on_failure = if args.contains("tag_on_failure") {
            args.strings("tag_on_failure")
        } else {
            vec!["_dateparsefailure".into()]
        };
        Ok(DateFilter {
            source,
            target,
            formats,
            timezone,
            tag_on_failure,
            clock,
        })
    }

    /// The zone for this event, or `None` when a per-event zone is not a valid zone.
    fn zone_for(&self, event: &Event) -> Option<Cow<'_, Zone>> {
        match &self.timezone {
            TimeZoneSetting::Fixed(z) => Some(Cow::Borrowed(z)),
            TimeZoneSetting::Dynamic { template, cache } => {
                let id = template.render(event);
                if let Ok(c) = cache.read() {
                    if let Some(z) = c.get(&id) {
                        return z.clone().map(Cow::Owned);
                    }
                }
                let zone = parse_zone(&id).ok();
                if let Ok(mut c) = cache.write() {
                    if c.len() >= ZONE_CACHE_MAX {
                        c.clear();
                    }
                    c.insert(id, zone.clone());
                }
                zone.map(Cow::Owned)
            }
        }
    }

    /// Tries every format on `value`; the first that parses wins.
    fn parse(&self, value: &Value, event: &Event) -> Result<Timestamp, ParseError> {
        // Resolved lazily: numeric formats never need a zone.
        let mut zone: Option<Option<Cow<'_, Zone>>> = None;
        let mut last = ParseError::Mismatch;
        for format in &self.formats {
            let result = match (format, value) {
                (Format::Unix, Value::String(s)) => epoch::unix_str(s),
                (Format::Unix, Value::Integer(i)) => epoch::unix_i64(*i),
                (Format::Unix, Value::Float(f)) => epoch::unix_f64(*f),
                (Format::UnixMs, Value::String(s)) => epoch::unix_ms_str(s),
                (Format::UnixMs, Value::Integer(i)) => epoch::unix_ms_i64(*i),
                (Format::UnixMs, Value::Float(f)) => epoch::unix_ms_f64(*f),
                (Format::Tai64n, Value::String(s)) => epoch::tai64n(s),
                (Format::Iso8601 | Format::Joda(_), Value::String(s)) => {
                    match zone.get_or_insert_with(|| self.zone_for(event)) {
                        None => Err(ParseError::UnknownZone),
                        Some(z) => match format {
                            Format::Joda(p) => p.parse_with_clock(s, z, &*self.clock),
                            _ => iso8601::parse(s, z),
                        },
                    }
                }
                _ => Err(ParseError::NotAString),
            };
            match result {
                // Logstash's date filter works in Joda's milliseconds: digits past them
                // are dropped (`.123456` → `.123`), whatever the format.
                Ok(ts) => return Ok(truncate_to_millis(ts)),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// `ts` without its sub-millisecond part (toward the past, as an instant in milliseconds).
fn truncate_to_millis(ts: Timestamp) -> Timestamp {
    let ns = ts.unix_nanos();
    Timestamp::from_unix_nanos(ns - ns.rem_euclid(1_000_000)).unwrap_or(ts)
}

impl Filter for DateFilter {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let parsed = {
            let value = match event.get(&self.source) {
                Some(Value::Array(a)) => a.first(),
                other => other,
            };
            match value {
                // Logstash: no input, nothing to do (neither tagged nor a success).
                None | Some(Value::Null) => return Outcome::Failure,
                Some(v) => self.parse(v, event),
            }
        };
        match parsed {
            Ok(ts) => {
                match &self.target {
                    // In place when present: saves allocating the key on every event.
                    None => match event.fields_mut().get_mut(TIMESTAMP) {
                        Some(v) => *v = Value::Timestamp(ts),
                        None => event.set_timestamp(ts),
                    },
                    Some(t) => {
                        if event.set(t, Value::Timestamp(ts)).is_err() {
                            self.tag(event);
                            return Outcome::Failure;
                        }
                    }
                }
                Outcome::Success
            }
            Err(e) => {
                tracing::debug!(field = %self.source, error = %e, "date filter: no format matched");
                self.tag(event);
                Outcome::Failure
            }
        }
    }
}

impl DateFilter {
    fn tag(&self, event: &mut Event) {
        for t in &self.tag_on_failure {
            event.add_tag(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::Map;

    fn args(pairs: &[(&str, Value)]) -> Args {
        pairs.iter().fold(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            |a, (k, v)| a.with(k, v.clone()),
        )
    }

    fn strs(v: &[&str]) -> Value {
        Value::Array(v.iter().map(|s| Value::from(*s)).collect())
    }

    fn fixed_clock(iso: &str) -> Clock {
        let t = Timestamp::parse_iso8601(iso).unwrap();
        Arc::new(move || t)
    }

    fn filter(pairs: &[(&str, Value)]) -> DateFilter {
        DateFilter::new(&args(pairs), fixed_clock("2016-07-01T00:00:00Z")).unwrap()
    }

    fn event(field: &str, v: Value) -> Event {
        let mut m = Map::default();
        m.insert("@timestamp", Value::from("2000-01-01T00:00:00.000Z"));
        m.insert(field, v);
        Event::from_map(m)
    }

    fn run(f: &DateFilter, e: &mut Event) -> Outcome {
        f.apply(e, &mut FilterContext::default())
    }

    fn ts(e: &Event) -> String {
        e.timestamp().map(|t| t.to_string()).unwrap_or_default()
    }

    #[test]
    fn parses_into_timestamp_and_target() {
        let f = filter(&[("match", strs(&["t", "dd/MMM/yyyy:HH:mm:ss Z"]))]);
        let mut e = event("t", Value::from("25/Mar/2013:20:33:56 +0100"));
        assert_eq!(run(&f, &mut e), Outcome::Success);
        assert_eq!(ts(&e), "2013-03-25T19:33:56.000Z");
        assert!(e.tags().is_empty());

        let f = filter(&[
            ("match", strs(&["t", "UNIX"])),
            ("target", Value::from("[parsed][at]")),
        ]);
        let mut e = event("t", Value::Integer(1_000_000_000));
        assert_eq!(run(&f, &mut e), Outcome::Success);
        let at = e.get(&FieldRef::parse("[parsed][at]").unwrap()).cloned();
        assert_eq!(
            at,
            Some(Value::Timestamp(
                Timestamp::from_unix(1_000_000_000, 0).unwrap()
            ))
        );
        assert_eq!(ts(&e), "2000-01-01T00:00:00.000Z");
    }

    #[test]
    fn formats_are_tried_in_order() {
        let f = filter(&[
            ("match", strs(&["t", "UNIX", "UNIX_MS", "ISO8601"])),
            ("timezone", Value::from("UTC")),
        ]);
        for (input, want) in [
            (Value::from("1000000000"), "2001-09-09T01:46:40.000Z"),
            (Value::from("1000000000123"), "2001-09-09T01:46:40.123Z"),
            (
                Value::from("2001-09-09 01:46:40,5"),
                "2001-09-09T01:46:40.500Z",
            ),
            (Value::Float(1000000000.25), "2001-09-09T01:46:40.250Z"),
        ] {
            let mut e = event("t", input.clone());
            assert_eq!(run(&f, &mut e), Outcome::Success, "{input:?}");
            assert_eq!(ts(&e), want, "{input:?}");
        }
    }

    #[test]
    fn failures_are_tagged_never_panic() {
        let f = filter(&[("match", strs(&["t", "yyyy-MM-dd", "ISO8601", "TAI64N"]))]);
        let huge = "2".repeat(1 << 20);
        let inputs = [
            Value::from("2013/Apr/21"),
            Value::from(""),
            Value::from(huge.as_str()),
            Value::from("\u{0}\u{1F600}"),
            Value::Integer(12),
            Value::Float(1.5),
            Value::Bool(true),
            Value::from(Map::default()),
            Value::Array(vec![Value::Integer(3)]),
        ];
        for v in inputs {
            let mut e = event("t", v.clone());
            assert_eq!(run(&f, &mut e), Outcome::Failure, "{v:?}");
            assert_eq!(e.tags(), ["_dateparsefailure"], "{v:?}");
            assert_eq!(ts(&e), "2000-01-01T00:00:00.000Z");
        }
        let f = filter(&[
            ("match", strs(&["t", "yyyy"])),
            ("tag_on_failure", strs(&["a", "b"])),
        ]);
        let mut e = event("t", Value::from("x"));
        run(&f, &mut e);
        assert_eq!(e.tags(), ["a", "b"]);
    }

    #[test]
    fn missing_or_null_field_is_left_alone() {
        let f = filter(&[("match", strs(&["t", "ISO8601"]))]);
        for mut e in [
            event("other", Value::from("x")),
            event("t", Value::Null),
            event("t", Value::Array(vec![])),
        ] {
            assert_eq!(run(&f, &mut e), Outcome::Failure);
            assert!(e.tags().is_empty());
        }
    }

    #[test]
    fn arrays_use_the_first_element() {
        let f = filter(&[("match", strs(&["t", "ISO8601"]))]);
        let mut e = event("t", strs(&["2013-01-01T00:00:00Z", "garbage"]));
        assert_eq!(run(&f, &mut e), Outcome::Success);
        assert_eq!(ts(&e), "2013-01-01T00:00:00.000Z");
    }

    #[test]
    fn per_event_timezone() {
        let f = filter(&[
            ("match", strs(&["t", "yyyy-MM-dd HH:mm"])),
            ("timezone", Value::from("%{tz}")),
        ]);
        let mut e = event("t", Value::from("2013-06-24 01:29"));
        e.set(&FieldRef::top("tz"), Value::from("America/Los_Angeles"))
            .unwrap();
        assert_eq!(run(&f, &mut e), Outcome::Success);
        assert_eq!(ts(&e), "2013-06-24T08:29:00.000Z");
        // Second time through the cache, another zone.
        let mut e = event("t", Value::from("2013-06-24 01:29"));
        e.set(&FieldRef::top("tz"), Value::from("+02:00")).unwrap();
        assert_eq!(run(&f, &mut e), Outcome::Success);
        assert_eq!(ts(&e), "2013-06-23T23:29:00.000Z");
        // An unknown zone (or a missing field: "%{tz}" stays literal) fails the text formats.
        for tz in [Some("Nowhere/Land"), None] {
            let mut e = event("t", Value::from("2013-06-24 01:29"));
            if let Some(tz) = tz {
                e.set(&FieldRef::top("tz"), Value::from(tz)).unwrap();
            }
            assert_eq!(run(&f, &mut e), Outcome::Failure);
            assert_eq!(e.tags(), ["_dateparsefailure"]);
        }
    }

    #[test]
    fn year_guessing_uses_the_clock() {
        let a = args(&[
            ("match", strs(&["t", "MMM dd HH:mm:ss"])),
            ("timezone", Value::from("UTC")),
        ]);
        let f = DateFilter::new(&a, fixed_clock("2014-01-01T00:30:50Z")).unwrap();
        let mut e = event("t", Value::from("Dec 31 23:59:00"));
        assert_eq!(run(&f, &mut e), Outcome::Success);
        assert_eq!(ts(&e), "2013-12-31T23:59:00.000Z");
    }

    #[test]
    fn locales() {
        let f = filter(&[
            ("match", strs(&["t", "dd MMMM yyyy"])),
            ("locale", Value::from("fr_FR")),
            ("timezone", Value::from("UTC")),
        ]);
        let mut e = event("t", Value::from("14 juillet 1789"));
        assert_eq!(run(&f, &mut e), Outcome::Success);
        assert_eq!(ts(&e), "1789-07-14T00:00:00.000Z");
        // Unknown languages fall back to English rather than failing the config.
        let f = filter(&[
            ("match", strs(&["t", "dd MMMM yyyy"])),
            ("locale", Value::from("tlh")),
            ("timezone", Value::from("UTC")),
        ]);
        let mut e = event("t", Value::from("14 July 1789"));
        assert_eq!(run(&f, &mut e), Outcome::Success);
    }

    #[test]
    fn config_errors_name_the_option() {
        let err = |pairs: &[(&str, Value)]| {
            DateFilter::new(&args(pairs), Arc::new(Timestamp::now))
                .err()
                .unwrap()
        };
        let e = err(&[("match", strs(&["t"]))]);
        assert_eq!(e.option.as_deref(), Some("match"));
        assert!(
            e.message.contains("at least one date format"),
            "{}",
            e.message
        );
        let e = err(&[("match", strs(&["t", "yyyy-MM-dd 'oops", "ISO8601", "bbb"]))]);
        assert_eq!(e.option.as_deref(), Some("match"));
        assert!(
            e.message.contains("unterminated quote")
                && e.message.contains("illegal pattern letter 'b'"),
            "{}",
            e.message
        );
        let e = err(&[
            ("match", strs(&["t", "ISO8601"])),
            ("timezone", Value::from("Mars/Olympus_Mons")),
        ]);
        assert_eq!(e.option.as_deref(), Some("timezone"));
        assert!(e.message.contains("Mars/Olympus_Mons"), "{}", e.message);
        let e = err(&[
            ("match", strs(&["t", "ISO8601"])),
            ("target", Value::from("[a]]")),
        ]);
        assert_eq!(e.option.as_deref(), Some("target"));
        let e = err(&[("match", strs(&["[a", "ISO8601"]))]);
        assert_eq!(e.option.as_deref(), Some("match"));
    }

    /// Logstash's date filter is limited to milliseconds ("Maximum precision is
    /// milliseconds (SSS). Beyond that, zeroes are appended."), for every format.
    #[test]
    fn digits_past_milliseconds_are_dropped() {
        let f = filter(&[
            (
                "match",
                strs(&["t", "ISO8601", "yyyy-MM-dd HH:mm:ss.SSSSSSSSS"]),
            ),
            ("timezone", Value::from("UTC")),
        ]);
        for input in [
            "2016-01-01T00:00:00.123456789Z",
            "2016-01-01 00:00:00.123456789",
            "2016-01-01T00:00:00.123999+0000",
        ] {
            let mut e = event("t", Value::from(input));
            assert_eq!(run(&f, &mut e), Outcome::Success);
            assert_eq!(ts(&e), "2016-01-01T00:00:00.123Z");
        }
    }
}
