//! CEF decoding throughput (`cargo bench --bench cef`): a corpus of typical ArcSight lines
//! (firewall, proxy, IDS; abbreviated and full keys, escapes, timestamps), newline
//! delimited, decoded in ECS mode (with `rt`/`art` parsed into timestamps) and in legacy
//! mode. Each bench checks the event count and some fields before timing.

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logstash_mesos_core::{Event, FieldRef, Value};
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::{BuildContext, Codec, Ecs};
use logstash_mesos_pipeline::registry::{Kind, Registry};
use std::hint::black_box;

const LINES: &[&str] = &[
    "CEF:0|Check Point|VPN-1 & FireWall-1|R81|Drop|drop|5|act=Drop src=10.1.2.3 spt=51234 dst=192.168.10.20 dpt=443 proto=TCP deviceDirection=0 rt=1616623591694 dvchost=gw-01 cs1Label=Rule cs1=Block outbound",
    "Mar 17 12:34:56 proxy01 CEF:0|Zscaler|NSSWeblog|5.0|Allowed|Allowed|3|act=allowed app=HTTPS cat=Business requestMethod=GET request=https://example.com/path?a\\=1&b\\=2 suser=alice@example.com src=10.0.0.5 dst=93.184.216.34 in=5120 out=240 requestClientApplication=Mozilla/5.0 (X11; Linux x86_64) rt=Mar 17 2021 12:34:56.987 dtz=UTC",
    "CEF:0|security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 msg=Worm successfully stopped\\nsecond line with \\= sign art=1500464384997 deviceSeverity=10 ahost=connector.rhel72 agt=192.168.231.129 av=7.6.0.8009.0 atz=Europe/Lisbon at=syslog_file dvchost=client1 dtz=Europe/Moscow ad.field[0]=field0",
    "CEF:0|Fortinet|FortiGate|7.0|0000000013|traffic:forward accept|3|start=Mar 17 2021 12:34:56 +01:00 end=Mar 17 2021 12:35:10 +01:00 src=172.16.0.9 shost=laptop-9 smac=00:11:22:33:44:55 dst=8.8.8.8 dpt=53 proto=UDP outcome=success cnt=1 cn1Label=Duration cn1=14",
];

fn corpus(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        v.extend_from_slice(LINES[i % LINES.len()].as_bytes());
        v.push(b'\n');
    }
    v
}

fn codec(ecs: Ecs) -> Box<dyn Codec> {
    let ctx = BuildContext {
        ecs,
        ..BuildContext::default()
    };
    let registry = Registry::builtin();
    let entry = registry.codec("cef").expect("cef registered");
    let args = Args::for_plugin(Kind::Codec, entry.options).with("delimiter", Value::from("\\n"));
    (entry.build)(&args, &ctx).expect("cef codec")
}

fn get(e: &Event, r: &str) -> Option<String> {
    e.get(&FieldRef::parse(r).expect("ref"))
        .map(|v| v.to_logstash_string())
}

fn benches(c: &mut Criterion) {
    let n = 1000;
    let data = corpus(n);
    let mut g = c.benchmark_group("cef");
    g.throughput(Throughput::Bytes(data.len() as u64));
    for (name, ecs, src) in [
        ("decode_ecs", Ecs::V8, "[source][ip]"),
        ("decode_legacy", Ecs::Disabled, "sourceAddress"),
    ] {
        let mut c0 = codec(ecs);
        let mut out = Vec::new();
        c0.decode(&data, &mut out);
        assert_eq!(out.len(), n, "{name}");
        assert!(out.iter().all(|e| !e.has_tag("_cefparsefailure")), "{name}");
        assert_eq!(get(&out[0], src).as_deref(), Some("10.1.2.3"));
        g.bench_function(name, |b| {
            let mut cd = codec(ecs);
            let mut out = Vec::with_capacity(n);
            b.iter(|| {
                out.clear();
                cd.decode(black_box(&data), &mut out);
                out.len()
            })
        });
    }
    g.finish();
}

criterion_group!(cef, benches);
criterion_main!(cef);
