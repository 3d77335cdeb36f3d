//! The elasticsearch output end to end on loopback: batches of 125 events through the real
//! output (bulk encoding, HTTP, response classification) into a real OpenSearch 2.19 node
//! (`scripts/setup/opensearch.sh` installs it; started here with a 512 MiB heap), or into
//! `osmem-server` with `LSM_SEARCH=osmem`. Besides events/s it prints the CPU time per event
//! of this process (the output) and of the engine's JVM, so the output's share is visible;
//! the encoding alone is `benches/es_encode.rs`.
//!
//! `cargo bench --bench es_loopback`

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../crates/pipeline/tests/es_support/opensearch.rs"]
mod opensearch;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logstash_mesos_core::{Event, FieldRef, Value};
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::BuildContext;
use logstash_mesos_pipeline::registry::Registry;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const EVENTS: usize = 1_000;
const BATCH: usize = 125;

enum Server {
    Osmem(Child),
    OpenSearch(opensearch::OpenSearch),
}
impl Drop for Server {
    fn drop(&mut self) {
        if let Server::Osmem(c) = self {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Server {
    fn pid(&self) -> Option<u32> {
        match self {
            Server::Osmem(c) => Some(c.id()),
            Server::OpenSearch(n) => n.pid(),
        }
    }
}

fn start_osmem() -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child =
        Command::new(std::env::var("OSMEM_SERVER_BIN").unwrap_or_else(|_| "osmem-server".into()))
            .args(["-addr", &addr, "-no-stdin-watch"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("osmem-server must be installed (scripts/setup/osmem.sh)");
    let server = Server::Osmem(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            return (server, format!("http://{addr}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("osmem-server did not start on {addr}");
}

fn start_server() -> (Server, String, &'static str) {
    if std::env::var("LSM_SEARCH").as_deref() == Ok("osmem") {
        let (s, u) = start_osmem();
        return (s, u, "osmem");
    }
    if let Err(e) = opensearch::OpenSearch::installed() {
        panic!("{e}");
    }
    let node = opensearch::OpenSearch::start().expect("OpenSearch installed");
    let url = node.url.clone();
    (Server::OpenSearch(node), url, "opensearch")
}

/// User + system CPU time of a process, from /proc (clock ticks of 10 ms on Linux).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn events(run: usize) -> Vec<Event> {
    (0..EVENTS)
        .map(|i| {
            let mut e = Event::from_message(format!("GET /api/items/{i} HTTP/1.1 200 {}", i * 7));
            let _ = e.set(
                &FieldRef::parse("[container][name]").expect("ref"),
                Value::from("web-1"),
            );
            let _ = e.set(
                &FieldRef::parse("[@metadata][_id]").expect("ref"),
                Value::from(format!("{run}-{i}")),
            );
            e
        })
        .collect()
}

fn loopback(c: &mut Criterion) {
    let (server, url, engine) = start_server();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = BuildContext {
        path_data: dir.path().to_path_buf(),
        ..BuildContext::default()
    };
    let args = Args::for_plugin(
        logstash_mesos_pipeline::registry::Kind::Output,
        logstash_mesos_pipeline::outputs::elasticsearch::OPTIONS,
    )
    .with("hosts", Value::Array(vec![Value::from(url.as_str())]))
    .with("index", Value::from("bench-%{[container][name]}"))
    .with("manage_template", Value::Bool(false));
    let entry = Registry::builtin()
        .output("elasticsearch")
        .expect("registered");
    let output = rt
        .block_on(async { (entry.build)(&args, &ctx) })
        .expect("output builds");
    let mut run = 0usize;
    let mut g = c.benchmark_group("es");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    let ours = std::process::id();
    let theirs = server.pid();
    let (cpu0_ours, cpu0_theirs) = (cpu_secs(ours), theirs.map_or(0.0, cpu_secs));
    let wall0 = std::time::Instant::now();
    g.bench_function(format!("loopback_bulk_{engine}"), |b| {
        b.iter_batched(
            || {
                run += 1;
                events(run)
            },
            |evs| {
                rt.block_on(async {
                    let mut it = evs.into_iter();
                    loop {
                        let batch: Vec<Event> = it.by_ref().take(BATCH).collect();
                        if batch.is_empty() {
                            break;
                        }
                        output.send(batch).await;
                    }
                })
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
    let sent = (run * EVENTS) as f64;
    let (cpu_ours, cpu_theirs) = (
        cpu_secs(ours) - cpu0_ours,
        theirs.map_or(0.0, cpu_secs) - cpu0_theirs,
    );
    let wall = wall0.elapsed().as_secs_f64();
    // Criterion's own work (setup, analysis) is in our figure too: an upper bound.
    println!(
        "es/{engine}: {sent} events in {wall:.1} s ({:.0} events/s overall); CPU per event: output {:.1} us, engine {:.1} us",
        sent / wall,
        cpu_ours / sent * 1e6,
        cpu_theirs / sent * 1e6
    );
    // The answer: every event of every run is a document (after a refresh).
    let count: serde_json::Value = rt
        .block_on(async {
            let c = reqwest::Client::new();
            c.post(format!("{url}/bench-web-1/_refresh")).send().await?;
            c.get(format!("{url}/bench-web-1/_count"))
                .send()
                .await?
                .json()
                .await
        })
        .expect("count");
    assert_eq!(
        count["count"].as_u64(),
        Some((run * EVENTS) as u64),
        "{count}"
    );
}

criterion_group!(benches, loopback);
criterion_main!(benches);
