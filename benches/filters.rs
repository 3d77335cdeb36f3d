//! Events per second through kv, dissect, mutate, json, csv and translate on typical lines. Each bench
//! checks the filter's answer once before timing it, so a broken filter cannot look fast.
//!
//! `cargo bench --bench filters`

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use logstash_mesos_core::{Event, FieldRef, Value};
use logstash_mesos_pipeline::filters;
use logstash_mesos_pipeline::options::{Args, OptSpec};
use logstash_mesos_pipeline::plugin::{BuildContext, Filter, FilterContext, Outcome};
use std::hint::black_box;

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("bench config")
}

/// A filter's options: its schema defaults plus `pairs`.
fn args(schema: &'static [OptSpec], pairs: &[(&str, Value)]) -> Args {
    pairs.iter().fold(
        Args::for_plugin(logstash_mesos_pipeline::registry::Kind::Filter, schema),
        |a, (k, v)| a.with(k, v.clone()),
    )
}

fn bench_one(
    c: &mut Criterion,
    name: &str,
    f: Box<dyn Filter>,
    event: Event,
    check: impl Fn(&Event),
) {
    let mut first = event.clone();
    assert_eq!(
        f.apply(&mut first, &mut FilterContext::default()),
        Outcome::Success,
        "{name}"
    );
    check(&first);
    let mut g = c.benchmark_group("filters");
    g.throughput(Throughput::Elements(1));
    g.bench_function(name, |b| {
        let mut ctx = FilterContext::default();
        // The filter's own cost: each iteration gets a fresh copy of the event, made (and
        // dropped) outside the timed part, as events reach a filter already built.
        b.iter_batched_ref(
            || event.clone(),
            |e| black_box(f.apply(e, &mut ctx)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn get(e: &Event, r: &str) -> Option<Value> {
    e.get(&FieldRef::parse(r).expect("ref")).cloned()
}

fn benches(c: &mut Criterion) {
    let ctx = BuildContext::default();

    let kv = filters::kv::build(&args(filters::kv::OPTIONS, &[]), &ctx).expect("kv");
    let line = r#"ts=2024-05-01T10:00:00Z level=info service=checkout user_id=42 msg="order placed" amount=19.99 currency=EUR latency_ms=123 path=/api/v1/orders status=201"#;
    bench_one(c, "kv_10_pairs", kv, Event::from_message(line), |e| {
        assert_eq!(get(e, "msg"), Some(Value::from("order placed")));
        assert_eq!(get(e, "status"), Some(Value::from("201")));
    });

    let dissect = filters::dissect::build(&args(filters::dissect::OPTIONS, &[(
            "mapping",
            json(r#"{"message":"%{ts} %{+ts} %{+ts} %{host} %{program}[%{pid}]: %{level->} %{msg}"}"#),
        )]),
        &ctx,
    )
    .expect("dissect");
    let line = "Mar 16 00:01:25 evita postfix/smtpd[1713]: INFO    connect from camomile.cloud9.net[168.100.1.3]";
    bench_one(
        c,
        "dissect_syslog",
        dissect,
        Event::from_message(line),
        |e| {
            assert_eq!(get(e, "ts"), Some(Value::from("Mar 16 00:01:25")));
            assert_eq!(get(e, "level"), Some(Value::from("INFO")));
        },
    );

    let mutate = filters::mutate::build(
        &args(
            filters::mutate::OPTIONS,
            &[
                ("rename", json(r#"{"host":"[host][name]"}"#)),
                (
                    "convert",
                    json(r#"{"status":"integer","bytes":"integer","took":"float"}"#),
                ),
                ("lowercase", json(r#"["method"]"#)),
                ("strip", json(r#"["agent"]"#)),
                ("gsub", json(r#"["path", "/+", "/"]"#)),
                ("split", json(r#"{"tags_csv":","}"#)),
            ],
        ),
        &ctx,
    )
    .expect("mutate");
    let mut m = logstash_mesos_core::Map::default();
    for (k, v) in [
        ("host", "web-1"),
        ("status", "200"),
        ("bytes", "5120"),
        ("took", "0.123"),
        ("method", "GET"),
        ("agent", "  curl/8.0  "),
        ("path", "//api//v1///orders"),
        ("tags_csv", "a,b,c"),
    ] {
        m.insert(k.to_string(), Value::from(v));
    }
    bench_one(c, "mutate_block", mutate, Event::from_map(m), |e| {
        assert_eq!(get(e, "[host][name]"), Some(Value::from("web-1")));
        assert_eq!(get(e, "status"), Some(Value::Integer(200)));
        assert_eq!(get(e, "path"), Some(Value::from("/api/v1/orders")));
    });

    let jf = filters::json::build(
        &args(
            filters::json::OPTIONS,
            &[("source", Value::from("message"))],
        ),
        &ctx,
    )
    .expect("json");
    let line = r#"{"@timestamp":"2024-05-01T10:00:00.123Z","level":"info","service":{"name":"checkout","version":"1.4.2"},"http":{"method":"POST","status":201,"path":"/api/v1/orders"},"user":{"id":42},"tags":["a","b"],"took":0.0123}"#;
    bench_one(c, "json_parse", jf, Event::from_message(line), |e| {
        assert_eq!(get(e, "[http][status]"), Some(Value::Integer(201)));
    });

    // csv and translate (parse helper).
    let csv = filters::csv::build(
        &args(filters::csv::OPTIONS, &[(
            "columns",
            json(
                r#"["ts","host","method","path","status","bytes","took","user","agent","region"]"#,
            ),
        )]),
        &ctx,
    )
    .expect("csv");
    let line = r#"2024-05-01T10:00:00Z,web-1,GET,/api/v1/orders,200,5120,0.123,alice,"curl/8.0, linux",eu-west-1"#;
    bench_one(c, "csv_10_columns", csv, Event::from_message(line), |e| {
        assert_eq!(get(e, "agent"), Some(Value::from("curl/8.0, linux")));
        assert_eq!(get(e, "region"), Some(Value::from("eu-west-1")));
    });

    // A 1,000-entry dictionary, the key looked up sits in the middle.
    let mut dict = logstash_mesos_core::Map::default();
    for i in 0..1000 {
        dict.insert(format!("code-{i}"), Value::from(format!("meaning {i}")));
    }
    let translate = filters::translate::build(
        &args(
            filters::translate::OPTIONS,
            &[
                ("source", Value::from("code")),
                ("target", Value::from("meaning")),
                ("dictionary", Value::Object(Box::new(dict))),
            ],
        ),
        &ctx,
    )
    .expect("translate");
    let mut m = logstash_mesos_core::Map::default();
    m.insert("code", Value::from("code-500"));
    bench_one(c, "translate_exact", translate, Event::from_map(m), |e| {
        assert_eq!(get(e, "meaning"), Some(Value::from("meaning 500")));
    });
}

criterion_group! {
    name = filter_benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(filter_benches);
