//! Network input throughput on loopback: the `tcp` input decoding `json_lines` from one
//! connection, and the `syslog` input parsing RFC 3164 datagrams over UDP (grok, date,
//! priority: the whole relay). Events are counted as they leave the input (the
//! pipeline's queue), so this measures the input alone.
//!
//! The UDP sender is flow-controlled by the bench (at most `WINDOW` datagrams in flight
//! beyond what the input has emitted), so the figure is the rate the input sustains
//! without the kernel dropping datagrams; any datagram lost anyway is reported.
//! Goals (issue 20): tcp json_lines ≥ 1 M lines/s, udp syslog ≥ 300 k/s without drops.

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::inputs::syslog::SyslogInput;
use logstash_mesos_pipeline::lang::compile::compile;
use logstash_mesos_pipeline::lang::{parse, ParseOptions, Sources};
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::{BuildContext, Input};
use logstash_mesos_pipeline::registry::{Kind, Registry};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TCP_LINES: u64 = 200_000;
const UDP_MESSAGES: u64 = 100_000;
/// Small enough for the kernel's default receive buffer (~200 small datagrams).
const WINDOW: u64 = 128;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn free_port() -> u16 {
    loop {
        let t = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = t.local_addr().expect("addr").port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Runs `input` with a consumer that counts events; returns the counter.
fn start(rt: &tokio::runtime::Runtime, input: Box<dyn Input>) -> Arc<AtomicU64> {
    let (ctx, mut rx) = InputContext::for_test(8192);
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    rt.spawn(async move {
        let mut buf = Vec::with_capacity(1024);
        while rx.recv_many(&mut buf, 1024).await > 0 {
            c.fetch_add(buf.len() as u64, Ordering::Release);
            buf.clear();
        }
    });
    rt.spawn(input.run(ctx));
    count
}

fn wait_for(count: &AtomicU64, target: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while count.load(Ordering::Acquire) < target {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

fn tcp_json_lines(c: &mut Criterion) {
    let rt = runtime();
    let port = free_port();
    let text = format!(
        "input {{ tcp {{ host => \"127.0.0.1\" port => {port} codec => json_lines dns_reverse_lookup_enabled => false }} }} output {{ null {{}} }}"
    );
    let sources = Sources::from_string("bench.conf", &text);
    let ast = parse(&sources, &ParseOptions::default()).expect("valid config");
    let mut p = compile(&ast, &Registry::builtin(), &BuildContext::default()).expect("compiles");
    let count = start(&rt, p.inputs.remove(0).input);
    let mut payload = Vec::new();
    for i in 0..TCP_LINES {
        writeln!(
            payload,
            "{{\"@timestamp\":\"2024-03-01T10:00:00.000Z\",\"level\":\"info\",\"n\":{i},\"message\":\"GET /index.html 200 3891\"}}"
        )
        .expect("write");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tcp input did not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut g = c.benchmark_group("net_inputs");
    g.throughput(Throughput::Elements(TCP_LINES));
    g.sample_size(10);
    g.bench_function("tcp_json_lines", |b| {
        b.iter(|| {
            let start = count.load(Ordering::Acquire);
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.write_all(&payload).expect("send");
            drop(s);
            assert!(
                wait_for(&count, start + TCP_LINES, Duration::from_secs(60)),
                "tcp: events missing"
            );
        })
    });
    g.finish();
}

fn udp_syslog(c: &mut Criterion) {
    let rt = runtime();
    let port = free_port();
    let args = Args::for_plugin(
        Kind::Input,
        logstash_mesos_pipeline::inputs::syslog::OPTIONS,
    )
    .with("host", "127.0.0.1".into())
    .with("port", (port as i64).into())
    .with("timezone", "UTC".into());
    let input = SyslogInput::from_args(&args, &BuildContext::default()).expect("builds");
    let stats = input.stats();
    let count = start(&rt, Box::new(input));
    while !stats.is_listening() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(("127.0.0.1", port)).expect("connect");
    let msgs: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            format!(
                "<34>Oct 11 22:14:15 mymachine su[{i}]: 'su root' failed for lonvick on /dev/pts/8"
            )
            .into_bytes()
        })
        .collect();
    let mut lost_total = 0u64;
    let mut g = c.benchmark_group("net_inputs");
    g.throughput(Throughput::Elements(UDP_MESSAGES));
    g.sample_size(10);
    g.bench_function("udp_syslog", |b| {
        b.iter(|| {
            let start = count.load(Ordering::Acquire);
            // Datagrams given up on in this iteration (the kernel dropped them).
            let mut lost = 0u64;
            for i in 0..UDP_MESSAGES {
                // Flow control: never more than WINDOW datagrams ahead of the input.
                let waiting = Instant::now();
                while start + i > count.load(Ordering::Acquire) + WINDOW + lost {
                    if waiting.elapsed() > Duration::from_millis(200) {
                        lost = start + i - WINDOW - count.load(Ordering::Acquire);
                        break;
                    }
                    std::thread::yield_now();
                }
                let _ = sock.send(&msgs[(i % 64) as usize]);
            }
            if !wait_for(&count, start + UDP_MESSAGES, Duration::from_secs(2)) {
                lost_total += start + UDP_MESSAGES - count.load(Ordering::Acquire);
            }
        })
    });
    g.finish();
    eprintln!(
        "udp_syslog: datagrams lost (kernel drops): {lost_total}; received by the input: {}",
        stats.messages()
    );
}

/// The relay alone (grok, date, priority) on one thread: the bound on udp_syslog per core.
fn syslog_parse(c: &mut Criterion) {
    use logstash_mesos_pipeline::inputs::syslog::parse::{parse, ParserSettings, SyslogParser};
    let mut settings = ParserSettings::defaults(true);
    settings.timezone = Some("UTC".into());
    let parser = SyslogParser::new(&settings).expect("parser");
    let m3164 = b"<34>Oct 11 22:14:15 mymachine su[42]: 'su root' failed for lonvick on /dev/pts/8";
    let m5424 = b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 42 ID47 [exampleSDID@32473 iut=\"3\"] An application event";
    let mut g = c.benchmark_group("net_inputs");
    g.throughput(Throughput::Elements(1));
    g.bench_function("syslog_parse_rfc3164", |b| b.iter(|| parse(&parser, m3164)));
    g.bench_function("syslog_parse_rfc5424", |b| b.iter(|| parse(&parser, m5424)));
    g.finish();
}

criterion_group!(benches, syslog_parse, tcp_json_lines, udp_syslog);
criterion_main!(benches);
