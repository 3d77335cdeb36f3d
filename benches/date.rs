//! The date filter per event: common formats through `Filter::apply` (field lookup, parse,
//! `@timestamp` update), plus the bare pattern parser for comparison.
//!
//! `cargo bench --bench date`

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logstash_mesos_core::joda::{JodaParser, Locale, Zone};
use logstash_mesos_core::{Event, Map, Timestamp, Value};
use logstash_mesos_pipeline::filters::date;
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::{BuildContext, FilterContext, Outcome};
use std::hint::black_box;

fn strs(v: &[&str]) -> Value {
    Value::Array(v.iter().map(|s| Value::from(*s)).collect())
}

fn bench_filter(
    c: &mut Criterion,
    name: &str,
    formats: &[&str],
    timezone: &str,
    input: Value,
    want: &str,
) {
    let args = Args::for_plugin(
        logstash_mesos_pipeline::registry::Kind::Filter,
        logstash_mesos_pipeline::filters::date::OPTIONS,
    )
    .with("match", strs(formats))
    .with("timezone", Value::from(timezone));
    let filter = date::build(&args, &BuildContext::default()).expect("bench config builds");
    let mut m = Map::default();
    m.insert("message", Value::from("GET / HTTP/1.1"));
    m.insert("t", input);
    let mut event = Event::from_map(m);
    let mut ctx = FilterContext::default();
    // Check the answer before timing it.
    assert_eq!(
        filter.apply(&mut event, &mut ctx),
        Outcome::Success,
        "{name}"
    );
    assert_eq!(
        event.timestamp().map(|t| t.to_string()).as_deref(),
        Some(want),
        "{name}"
    );
    let mut g = c.benchmark_group("date_filter");
    g.throughput(Throughput::Elements(1));
    g.bench_function(name, |b| {
        b.iter(|| filter.apply(black_box(&mut event), &mut ctx))
    });
    g.finish();
}

fn filter_benches(c: &mut Criterion) {
    let apache = "dd/MMM/yyyy:HH:mm:ss Z";
    bench_filter(
        c,
        "apache_joda",
        &["t", apache],
        "UTC",
        Value::from("25/Mar/2013:20:33:56 +0100"),
        "2013-03-25T19:33:56.000Z",
    );
    bench_filter(
        c,
        "iso8601_offset",
        &["t", "ISO8601"],
        "UTC",
        Value::from("2013-03-25T20:33:56.123+01:00"),
        "2013-03-25T19:33:56.123Z",
    );
    bench_filter(
        c,
        "iso8601_zone_rules",
        &["t", "ISO8601"],
        "Europe/Paris",
        Value::from("2013-03-25T20:33:56.123"),
        "2013-03-25T19:33:56.123Z",
    );
    bench_filter(
        c,
        "unix_string",
        &["t", "UNIX"],
        "UTC",
        Value::from("1364243636.123"),
        "2013-03-25T20:33:56.123Z",
    );
    bench_filter(
        c,
        "unix_integer",
        &["t", "UNIX"],
        "UTC",
        Value::Integer(1_364_243_636),
        "2013-03-25T20:33:56.000Z",
    );
    bench_filter(
        c,
        "iso_miss_then_joda",
        &["t", "ISO8601", apache],
        "UTC",
        Value::from("25/Mar/2013:20:33:56 +0000"),
        "2013-03-25T20:33:56.000Z",
    );
    bench_filter(
        c,
        "syslog_year_guess",
        &["t", "MMM dd HH:mm:ss"],
        "UTC",
        Value::from("Mar 25 20:33:56"),
        &{
            let y = Timestamp::now().to_utc_datetime().year();
            let now = Timestamp::now();
            let this = Timestamp::parse_iso8601(&format!("{y}-03-25T20:33:56Z")).expect("valid");
            let year = if this.unix_seconds() > now.unix_seconds() + 30 * 86_400 {
                y - 1
            } else {
                y
            };
            format!("{year}-03-25T20:33:56.000Z")
        },
    );
}

fn parser_benches(c: &mut Criterion) {
    let p =
        JodaParser::compile("dd/MMM/yyyy:HH:mm:ss Z", Locale::english()).expect("pattern compiles");
    let utc = Zone::utc();
    let input = "25/Mar/2013:20:33:56 +0000";
    assert_eq!(
        p.parse(input, &utc).map(|t| t.unix_seconds()),
        Ok(1_364_243_636)
    );
    let mut g = c.benchmark_group("joda_parser");
    g.throughput(Throughput::Elements(1));
    g.bench_function("apache_pattern", |b| {
        b.iter(|| p.parse(black_box(input), &utc))
    });
    g.finish();
}

criterion_group!(benches, filter_benches, parser_benches);
criterion_main!(benches);
