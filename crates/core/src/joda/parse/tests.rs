use super::*;
use crate::joda::parse_zone;

fn p(pattern: &str, input: &str) -> Result<String, ParseError> {
    let parser = JodaParser::compile(pattern, Locale::english()).unwrap();
    parser.parse(input, &Zone::utc()).map(|t| t.to_string())
}

/// A clock pinned to `iso` (UTC).
fn at(iso: &str) -> impl Fn() -> Timestamp {
    let t = Timestamp::parse_iso8601(iso).unwrap();
    move || t
}

#[test]
fn common_log_formats() {
    assert_eq!(
        p("dd/MMM/yyyy:HH:mm:ss Z", "25/Mar/2013:20:33:56 +0000").unwrap(),
        "2013-03-25T20:33:56.000Z"
    );
    assert_eq!(
        p("dd/MMM/yyyy:HH:mm:ss Z", "25/Mar/2013:20:33:56 -0700").unwrap(),
        "2013-03-26T03:33:56.000Z"
    );
    assert_eq!(
        p("yyyy-MM-dd HH:mm:ss,SSS", "2013-03-25 20:33:56,042").unwrap(),
        "2013-03-25T20:33:56.042Z"
    );
    assert_eq!(
        p("yyyy/MM/dd", "2013/04/21").unwrap(),
        "2013-04-21T00:00:00.000Z"
    );
    assert_eq!(
        p("yyyyMMddHHmmss", "20130421123456").unwrap(),
        "2013-04-21T12:34:56.000Z"
    );
    assert_eq!(
        p(
            "EEE, dd MMM yyyy HH:mm:ss ZZ",
            "Sun, 21 Apr 2013 12:34:56 +02:00"
        )
        .unwrap(),
        "2013-04-21T10:34:56.000Z"
    );
    assert_eq!(
        p(
            "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSZZ",
            "2013-04-21T12:34:56.123456789Z"
        )
        .unwrap(),
        "2013-04-21T12:34:56.123456789Z"
    );
}

#[test]
fn joda_leniency() {
    // Fewer digits than pattern letters.
    assert_eq!(
        p("dd/MM/yyyy H:m:s", "5/4/2013 7:8:9").unwrap(),
        "2013-04-05T07:08:09.000Z"
    );
    // Text in upper or lower case; literals case-insensitively.
    assert_eq!(
        p("dd MMM yyyy", "05 APR 2013").unwrap(),
        "2013-04-05T00:00:00.000Z"
    );
    assert_eq!(
        p("dd MMM yyyy", "05 april 2013").unwrap(),
        "2013-04-05T00:00:00.000Z"
    );
    assert_eq!(
        p("yyyy'T'HH", "2013t07").unwrap(),
        "2013-01-01T07:00:00.000Z"
    );
    // The whole input must be consumed, and spaces are literal.
    assert_eq!(
        p("yyyy/MM/dd", "2013/04/21 extra"),
        Err(ParseError::Trailing)
    );
    assert_eq!(p("MMM  d yyyy", "Apr 5 2013"), Err(ParseError::Mismatch));
    assert_eq!(
        p("MMM  d yyyy", "Apr  5 2013").unwrap(),
        "2013-04-05T00:00:00.000Z"
    );
}

#[test]
fn two_digit_years_and_halfdays() {
    assert_eq!(
        p("dd-MM-yy", "05-04-13").unwrap(),
        "2013-04-05T00:00:00.000Z"
    );
    // Not followed by a number: a full year is accepted too.
    assert_eq!(
        p("dd-MM-yy", "05-04-2013").unwrap(),
        "2013-04-05T00:00:00.000Z"
    );
    assert_eq!(p("yyMMdd", "130405").unwrap(), "2013-04-05T00:00:00.000Z");
    assert_eq!(
        p("yyyy-MM-dd hh:mm a", "2013-04-05 12:30 AM").unwrap(),
        "2013-04-05T00:30:00.000Z"
    );
    assert_eq!(
        p("yyyy-MM-dd hh:mm a", "2013-04-05 12:30 pm").unwrap(),
        "2013-04-05T12:30:00.000Z"
    );
    assert_eq!(
        p("yyyy-MM-dd K a", "2013-04-05 3 PM").unwrap(),
        "2013-04-05T15:00:00.000Z"
    );
    assert_eq!(
        p("yyyy-MM-dd kk", "2013-04-05 24").unwrap(),
        "2013-04-05T00:00:00.000Z"
    );
    assert_eq!(
        p("yyyy DDD", "2012 366").unwrap(),
        "2012-12-31T00:00:00.000Z"
    );
    assert_eq!(
        p("G yyyy-MM-dd", "AD 2013-04-05").unwrap(),
        "2013-04-05T00:00:00.000Z"
    );
}

#[test]
fn ranges_are_checked() {
    assert_eq!(p("yyyy-MM-dd", "2013-13-01"), Err(ParseError::FieldRange));
    assert_eq!(p("yyyy-MM-dd", "2013-02-29"), Err(ParseError::FieldRange));
    assert!(p("yyyy-MM-dd", "2012-02-29").is_ok());
    assert_eq!(p("HH:mm", "24:00"), Err(ParseError::FieldRange));
    assert_eq!(p("yyyy-MM-dd", "2013-1x-01"), Err(ParseError::Mismatch));
    assert_eq!(p("yyyy-MM-dd", ""), Err(ParseError::Mismatch));
}

#[test]
fn zones_in_the_input_and_configured() {
    assert_eq!(
        p(
            "yyyy-MM-dd HH:mm ZZZ",
            "2013-06-24 01:29 America/Los_Angeles"
        )
        .unwrap(),
        "2013-06-24T08:29:00.000Z"
    );
    assert_eq!(
        p("yyyy-MM-dd HH:mm z", "2013-06-24 01:29 PDT").unwrap(),
        "2013-06-24T08:29:00.000Z"
    );
    assert_eq!(
        p("yyyy-MM-dd HH:mm Z", "2013-06-24 01:29 Z").unwrap(),
        "2013-06-24T01:29:00.000Z"
    );
    let la = parse_zone("America/Los_Angeles").unwrap();
    let parser = JodaParser::compile("yyyy MMM dd HH:mm:ss", Locale::english()).unwrap();
    assert_eq!(
        parser
            .parse("2013 Nov 24 01:29:01", &la)
            .unwrap()
            .to_string(),
        "2013-11-24T09:29:01.000Z"
    );
    assert_eq!(
        parser
            .parse("2013 Jun 24 01:29:01", &la)
            .unwrap()
            .to_string(),
        "2013-06-24T08:29:01.000Z"
    );
    // An offset in the input wins over the configured zone.
    let parser = JodaParser::compile("yyyy-MM-dd HH:mm Z", Locale::english()).unwrap();
    assert_eq!(
        parser
            .parse("2013-06-24 01:29 +0000", &la)
            .unwrap()
            .to_string(),
        "2013-06-24T01:29:00.000Z"
    );
}

#[test]
fn year_guessing() {
    let parser = JodaParser::compile("MMM dd HH:mm:ss", Locale::english()).unwrap();
    let utc = Zone::utc();
    let guess = |input: &str, now: &str| {
        parser
            .parse_with_clock(input, &utc, &at(now))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        guess("Jun 02 20:38:03", "2016-07-01T00:00:00Z"),
        "2016-06-02T20:38:03.000Z"
    );
    // December events read in January are from last year...
    assert_eq!(
        guess("Dec 31 23:59:00", "2014-01-01T00:30:50Z"),
        "2013-12-31T23:59:00.000Z"
    );
    // ...January events read in December from next year (Logstash's rule).
    assert_eq!(
        guess("Jan 01 01:00:00", "2013-12-31T23:59:50Z"),
        "2014-01-01T01:00:00.000Z"
    );
    // More than a month in the future: last year.
    assert_eq!(
        guess("Sep 10 00:00:00", "2016-07-01T00:00:00Z"),
        "2015-09-10T00:00:00.000Z"
    );
    assert_eq!(
        guess("Jul 20 00:00:00", "2016-07-01T00:00:00Z"),
        "2016-07-20T00:00:00.000Z"
    );
    // Feb 29 parses, and becomes Feb 28 in a common year.
    assert_eq!(
        guess("Feb 29 00:00:00", "2016-03-01T00:00:00Z"),
        "2016-02-29T00:00:00.000Z"
    );
    assert_eq!(
        guess("Feb 29 00:00:00", "2017-03-01T00:00:00Z"),
        "2017-02-28T00:00:00.000Z"
    );
    assert!(parser
        .parse_with_clock("Feb 30 00:00:00", &utc, &at("2017-03-01T00:00:00Z"))
        .is_err());
    // A pattern with a year never reads the clock.
    let parser = JodaParser::compile("yyyy MMM dd", Locale::english()).unwrap();
    let panicking = || -> Timestamp { panic!("clock read") };
    assert!(parser
        .parse_with_clock("2013 Apr 05", &utc, &panicking)
        .is_ok());
}

#[test]
fn locales() {
    let fr = JodaParser::compile("dd MMMM yyyy", Locale::from_tag("fr").unwrap()).unwrap();
    assert_eq!(
        fr.parse("14 juillet 1789", &Zone::utc())
            .unwrap()
            .to_string(),
        "1789-07-14T00:00:00.000Z"
    );
    assert!(fr.parse("14 July 1789", &Zone::utc()).is_err());
    let de = JodaParser::compile("dd. MMM yyyy", Locale::from_tag("de-DE").unwrap()).unwrap();
    assert_eq!(
        de.parse("03. März 2015", &Zone::utc()).unwrap().to_string(),
        "2015-03-03T00:00:00.000Z"
    );
}

#[test]
fn bad_patterns() {
    let bad = |pat: &str| {
        JodaParser::compile(pat, Locale::english())
            .unwrap_err()
            .to_string()
    };
    assert!(
        bad("yyyy-MM-dd 'T").contains("unterminated quote"),
        "{}",
        bad("yyyy-MM-dd 'T")
    );
    assert!(bad("yyyy-MM-dd q").contains("illegal pattern letter"));
    assert!(bad("bbb").contains("illegal pattern letter"));
    assert!(bad("").contains("empty pattern"));
}

#[test]
fn garbage_never_panics() {
    let parser = JodaParser::compile("dd/MMM/yyyy:HH:mm:ss Z", Locale::english()).unwrap();
    let huge = "9".repeat(100_000);
    for s in [
        "",
        "/",
        "99/Mar/2013",
        "25/Mar/99999999999999999999",
        huge.as_str(),
        "25/Mär/2013:20:33:56 +0000",
        "\u{0}\u{ffff}",
    ] {
        assert!(parser.parse(s, &Zone::utc()).is_err(), "{s:?}");
    }
}

#[test]
fn week_dates_with_weekyear() {
    assert_eq!(
        p("xxxx-'W'ww-e", "2009-W01-1").unwrap(),
        "2008-12-29T00:00:00.000Z"
    );
    assert_eq!(p("xxxx-'W'ww-e", "2009-W54-1"), Err(ParseError::FieldRange));
}
