//! The elasticsearch output end to end on loopback: batches of 125 events through the real
//! output (bulk encoding, HTTP, response classification) into `osmem-server`, an in-memory
//! OpenSearch-compatible server (`scripts/setup/osmem.sh` installs it). The server indexes a
//! few thousand documents per second, so this measures the server more than the output; the
//! encoding alone is `benches/es_encode.rs`.
//!
//! `cargo bench --bench es_loopback`

// The binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logstash_mesos_core::{Event, FieldRef, Value};
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::BuildContext;
use logstash_mesos_pipeline::registry::Registry;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const EVENTS: usize = 1_000;
const BATCH: usize = 125;

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server() -> (Server, String) {
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
    let server = Server(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            return (server, format!("http://{addr}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("osmem-server did not start on {addr}");
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
    let (_server, url) = start_server();
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
    g.bench_function("loopback_bulk_osmem", |b| {
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
    // The answer: every event of every run is a document.
    let count: serde_json::Value = rt
        .block_on(async {
            reqwest::get(format!("{url}/bench-web-1/_count"))
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
