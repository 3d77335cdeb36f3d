//! The beats input: the Lumberjack decoder alone (JSON frames, plain and zlib-compressed
//! windows), and the whole input on loopback — a client sends windows of 2048 Filebeat-like
//! documents and waits for each ACK (go-lumber's SyncClient), the events go through the
//! codec/metadata transform and are emitted into a queue a consumer drains (delivering
//! them, which releases the ACK). Goal: ≥ 500k events/s on loopback.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logstash_mesos_core::Value;
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::inputs::beats::{self, protocol};
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::BuildContext;
use logstash_mesos_pipeline::registry::Kind;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WINDOW: u32 = 2048;
const WINDOWS: u32 = 50;

fn doc(i: u32) -> String {
    format!(
        r#"{{"@timestamp":"2024-05-01T10:00:00.{:03}Z","@metadata":{{"beat":"filebeat","type":"_doc","version":"8.13.0"}},"message":"127.0.0.1 - - [11/Dec/2013:00:01:45 -0800] \"GET /xampp/status.php HTTP/1.1\" 200 {i}","log":{{"offset":{i},"file":{{"path":"/var/log/nginx/access.log"}}}},"input":{{"type":"log"}},"host":{{"name":"web-1"}},"agent":{{"type":"filebeat","version":"8.13.0"}},"ecs":{{"version":"8.0.0"}}}}"#,
        i % 1000
    )
}

fn window(compress: bool) -> Vec<u8> {
    let mut frames = Vec::new();
    for i in 0..WINDOW {
        protocol::encode_json(&mut frames, i + 1, doc(i).as_bytes());
    }
    let mut out = Vec::new();
    protocol::encode_window(&mut out, WINDOW);
    if compress {
        protocol::encode_compressed(&mut out, &frames);
    } else {
        out.extend_from_slice(&frames);
    }
    out
}

fn decoder(c: &mut Criterion) {
    let mut g = c.benchmark_group("beats_decoder");
    g.throughput(Throughput::Elements(u64::from(WINDOW)));
    for compress in [false, true] {
        let bytes = window(compress);
        g.bench_function(
            if compress {
                "compressed_window"
            } else {
                "json_window"
            },
            |b| {
                b.iter(|| {
                    let (frames, end) = protocol::decode_all(&bytes, protocol::Limits::default());
                    assert_eq!(end, Ok(true));
                    assert_eq!(frames.len(), WINDOW as usize + 1);
                })
            },
        );
    }
    g.finish();
}

/// Decoder + JSON parse + the event transform (codec on `message`, merge, metadata), no
/// I/O: the per-event CPU cost of a connection's reader task.
fn transform(c: &mut Criterion) {
    use logstash_mesos_pipeline::inputs::beats::event::{Peer, Transform};
    let t = Transform {
        ecs: true,
        source_metadata: true,
        ssl_peer_metadata: false,
        include_codec_tag: true,
        add_hostname: false,
        codec_name: "plain".into(),
        decorator: Default::default(),
    };
    let codec_args = Args::for_plugin(Kind::Codec, logstash_mesos_pipeline::codecs::plain::OPTIONS);
    let mut codec =
        logstash_mesos_pipeline::codecs::plain::build(&codec_args, &BuildContext::default())
            .expect("plain");
    let peer = Peer {
        ip: Some("127.0.0.1".into()),
        tls: None,
    };
    let bytes = window(false);
    let mut g = c.benchmark_group("beats_transform");
    g.throughput(Throughput::Elements(u64::from(WINDOW)));
    g.bench_function("json_window_to_events", |b| {
        b.iter(|| {
            let (frames, _) = protocol::decode_all(&bytes, protocol::Limits::default());
            let mut out = Vec::with_capacity(WINDOW as usize);
            for f in frames {
                if let protocol::Frame::Json { payload, .. } = f {
                    if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&payload) {
                        t.events(*m, &peer, codec.as_mut(), &mut out);
                    }
                }
            }
            assert_eq!(out.len(), WINDOW as usize);
            out
        })
    });
    g.finish();
}

fn loopback(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let args = Args::for_plugin(Kind::Input, beats::OPTIONS)
        .with("port", Value::Integer(i64::from(port)))
        .with("host", Value::from("127.0.0.1"));
    let input = beats::build(&args, &BuildContext::default()).expect("beats input");
    let (ctx, mut rx) = InputContext::for_test(4096);
    rt.spawn(async move {
        // Delivered as soon as taken: dropping the events releases the window's receipt.
        let mut buf = Vec::with_capacity(1024);
        while rx.recv_many(&mut buf, 1024).await > 0 {
            buf.clear();
        }
    });
    rt.spawn(async move {
        let _ = input.run(ctx).await;
    });
    rt.block_on(async {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("beats input did not start");
    });
    let mut g = c.benchmark_group("beats_loopback");
    g.throughput(Throughput::Elements(u64::from(WINDOW * WINDOWS)));
    g.sample_size(10);
    for compress in [false, true] {
        let bytes = window(compress);
        g.bench_function(
            if compress {
                "compressed_windows"
            } else {
                "json_windows"
            },
            |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                            .await
                            .expect("connect");
                        s.set_nodelay(true).expect("nodelay");
                        for _ in 0..WINDOWS {
                            s.write_all(&bytes).await.expect("send");
                            let mut ack = [0u8; 6];
                            loop {
                                s.read_exact(&mut ack).await.expect("ack");
                                if protocol::decode_ack(&ack) == Some((b'2', WINDOW)) {
                                    break;
                                }
                            }
                        }
                    })
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, decoder, transform, loopback);
criterion_main!(benches);
