//! The `beats` input against a real Beats-protocol client: `testdata/beats/client/`, a Go
//! program on github.com/elastic/go-lumber/client/v2 (the library libbeat's logstash
//! output is built on), built here with `go build` (scripts/setup/golumber.sh installs Go
//! and the module). Without Go these tests print a loud SKIPPING notice, and fail under
//! `CI=true`. The raw-socket tests and the recorded frames (`testdata/beats/*.bin`, bytes
//! the Go client sent) need no Go.

use logstash_mesos_core::{Event, FieldRef, Value};
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::inputs::beats::{self, protocol};
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::{BuildContext, Input};
use logstash_mesos_pipeline::registry::Kind;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn missing(msg: String) -> Option<PathBuf> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("\n!!!!!!!! SKIPPING beats test with the Go lumberjack client: {msg} !!!!!!!!\n");
    None
}

/// Builds the Go client once per test run (go build caches, so this is cheap when
/// nothing changed).
fn go_client() -> Option<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let r = BUILT.get_or_init(|| {
        let go = ["/usr/local/go/bin/go", "go"]
            .into_iter()
            .find(|g| {
                Command::new(g)
                    .arg("version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .ok_or_else(|| "go not found (run scripts/setup/golumber.sh)".to_string())?;
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo().join("target"));
        let out = target.join("beats-test-client").join("ljclient");
        let o = Command::new(go)
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(repo().join("testdata/beats/client"))
            .output()
            .map_err(|e| format!("go build: {e}"))?;
        if !o.status.success() {
            return Err(format!(
                "go build of testdata/beats/client failed (run scripts/setup/golumber.sh): {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Ok(out)
    });
    match r {
        Ok(p) => Some(p.clone()),
        Err(e) => missing(e.clone()),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// What the test output does with each event.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    /// Delivered at once.
    Deliver,
    /// Held this long, then delivered.
    Slow(Duration),
    /// The first `n` events fail (as an output giving up at shutdown), the rest delivered.
    FailFirst(usize),
}

struct Server {
    port: u16,
    events: Arc<Mutex<Vec<Event>>>,
    stats: Arc<logstash_mesos_pipeline::net::listener::NetStats>,
    shutdown: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(args: Args, output: Output) -> Server {
        let port = free_port();
        let args = args
            .with("port", Value::Integer(i64::from(port)))
            .with("host", Value::from("127.0.0.1"));
        let input = match beats::build_input(&args, &BuildContext::default()) {
            Ok(i) => i,
            Err(e) => panic!("build: {e}"),
        };
        let stats = input.stats();
        let (ctx, mut rx) = InputContext::for_test(4096);
        let shutdown = ctx.shutdown.clone();
        let events = Arc::new(Mutex::new(Vec::new()));
        let store = events.clone();
        tokio::spawn(async move {
            let mut failed = 0;
            while let Some(mut e) = rx.recv().await {
                match output {
                    Output::Deliver => {}
                    Output::Slow(d) => tokio::time::sleep(d).await,
                    Output::FailFirst(n) => {
                        if failed < n {
                            failed += 1;
                            e.fail_acks();
                            drop(e);
                            continue;
                        }
                    }
                }
                // Our copy without the acks: dropping them marks the event delivered.
                drop(e.take_acks());
                store.lock().expect("events").push(e);
            }
        });
        let task = tokio::spawn(async move {
            if let Err(e) = Box::new(input).run(ctx).await {
                panic!("beats input: {e}");
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "beats input did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Server {
            port,
            events,
            stats,
            shutdown,
            task,
        }
    }

    fn events(&self) -> Vec<Event> {
        self.events.lock().expect("events").clone()
    }

    async fn wait_events(&self, n: usize) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let e = self.events();
            if e.len() >= n || Instant::now() > deadline {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

fn args() -> Args {
    Args::for_plugin(Kind::Input, beats::OPTIONS)
}

/// Runs the Go client; its stdout lines (acks, done, errors) parsed.
async fn run_client(
    bin: &Path,
    port: u16,
    extra: &[&str],
) -> (bool, Vec<serde_json::Value>, String) {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.arg("-addr")
        .arg(format!("127.0.0.1:{port}"))
        .args(extra);
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("client timed out")
        .expect("run client");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (
        out.status.success(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn get(e: &Event, path: &str) -> Option<Value> {
    e.get(&FieldRef::parse(path).expect("field ref")).cloned()
}

fn s(v: &str) -> Option<Value> {
    Some(Value::from(v))
}

fn ids(events: &[Event]) -> BTreeSet<(i64, i64)> {
    events
        .iter()
        .map(|e| {
            (
                get(e, "w").and_then(|v| v.as_i64()).unwrap_or(-1),
                get(e, "i").and_then(|v| v.as_i64()).unwrap_or(-1),
            )
        })
        .collect()
}

fn all_ids(windows: i64, events: i64) -> BTreeSet<(i64, i64)> {
    (0..windows)
        .flat_map(|w| (0..events).map(move |i| (w, i)))
        .collect()
}

fn kinds<'a>(lines: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["kind"] == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_windows_plain_and_compressed() {
    let Some(bin) = go_client() else { return };
    let srv = Server::start(
        args().with("tags", Value::Array(vec![Value::from("mine")])),
        Output::Deliver,
    )
    .await;
    // The common `tags` option is the registry's; applied here by hand as the runner would.
    let (ok, lines, err) = run_client(&bin, srv.port, &["-windows", "3", "-events", "5"]).await;
    assert!(ok, "client failed: {err} {lines:?}");
    let (ok, lines2, err) = run_client(
        &bin,
        srv.port,
        &["-windows", "2", "-events", "200", "-compress", "3"],
    )
    .await;
    assert!(ok, "compressed client failed: {err} {lines2:?}");
    // Every window acknowledged once, with its highest sequence, on the first attempt.
    let acks: Vec<u64> = kinds(&lines, "ack")
        .iter()
        .filter_map(|l| l["seq"].as_u64())
        .collect();
    assert_eq!(acks, vec![5, 5, 5]);
    let acks: Vec<u64> = kinds(&lines2, "ack")
        .iter()
        .filter_map(|l| l["seq"].as_u64())
        .collect();
    assert_eq!(acks, vec![200, 200]);
    assert!(kinds(&lines, "error").is_empty() && kinds(&lines2, "error").is_empty());

    let events = srv.wait_events(415).await;
    assert_eq!(events.len(), 415);
    let plain: Vec<Event> = events[..15].to_vec();
    assert_eq!(ids(&plain), all_ids(3, 5));
    let e = plain
        .iter()
        .find(|e| get(e, "w") == Some(Value::Integer(1)) && get(e, "i") == Some(Value::Integer(2)))
        .expect("w1 i2");
    assert_eq!(get(e, "message"), s("window 1 event 2"));
    // ECS (Logstash 8's default): the plain codec keeps the original.
    assert_eq!(get(e, "[event][original]"), s("window 1 event 2"));
    assert_eq!(get(e, "[@metadata][beat]"), s("filebeat"));
    assert_eq!(get(e, "[@metadata][version]"), s("8.13.0"));
    assert_eq!(get(e, "[@metadata][type]"), s("_doc"));
    assert_eq!(
        get(e, "[@metadata][input][beats][host][ip]"),
        s("127.0.0.1")
    );
    assert_eq!(get(e, "[host][name]"), s("gohost"));
    assert!(
        e.has_tag("beats_input_codec_plain_applied"),
        "{:?}",
        e.tags()
    );
    let ts = e.timestamp().expect("timestamp");
    assert_eq!(
        Some(ts.unix_millis()),
        logstash_mesos_core::Timestamp::parse_iso8601("2024-05-01T10:00:01.002Z")
            .map(|t| t.unix_millis())
    );
    assert_eq!(ids(&events[15..]), all_ids(2, 200));
    assert_eq!(srv.stats.rejected(), 0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_raw_events_legacy_mode() {
    let Some(bin) = go_client() else { return };
    let srv = Server::start(
        args()
            .with("ecs_compatibility", Value::from("disabled"))
            .with("add_hostname", Value::Bool(true)),
        Output::Deliver,
    )
    .await;
    let (ok, lines, err) = run_client(
        &bin,
        srv.port,
        &["-windows", "1", "-events", "4", "-raw", "-compress", "1"],
    )
    .await;
    assert!(ok, "client failed: {err} {lines:?}");
    let events = srv.wait_events(4).await;
    assert_eq!(ids(&events), all_ids(1, 4));
    for e in &events {
        assert_eq!(get(e, "message"), None);
        assert_eq!(get(e, "[@metadata][ip_address]"), s("127.0.0.1"));
        assert_eq!(get(e, "[@metadata][beat]"), s("filebeat"));
        assert_eq!(e.tags(), vec!["beats_input_raw_event".to_string()]);
        // `host` came in the document (an object): add_hostname does not replace it.
        assert_eq!(get(e, "[host][name]"), s("gohost"));
    }
    srv.stop().await;
}

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
        let dir = tempfile::tempdir().expect("tmp");
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("write pem")
        };
        let named = |sans: Vec<String>, cn: &str| {
            let mut p = CertificateParams::new(sans).expect("params");
            p.distinguished_name = rcgen::DistinguishedName::new();
            // Issuer-style order (O, then CN): RFC 2253 prints it last-first.
            p.distinguished_name
                .push(rcgen::DnType::OrganizationName, "Beats Test");
            p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            p
        };
        let mut p = named(Vec::new(), "beats test CA");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().expect("ca key");
        let ca = p.self_signed(&ca_key).expect("ca cert");
        write("ca.pem", ca.pem());
        let leaf = |sans: Vec<String>, cn: &str, purpose: ExtendedKeyUsagePurpose| {
            let mut p = named(sans, cn);
            p.extended_key_usages = vec![purpose];
            let key = KeyPair::generate().expect("key");
            let cert = p.signed_by(&key, &ca, &ca_key).expect("sign");
            (cert.pem(), key.serialize_pem())
        };
        let (c, k) = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        write("server.pem", c);
        write("server.key", k);
        let (c, k) = leaf(
            vec!["beats-client".into()],
            "beats-client",
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        write("client.pem", c);
        write("client.key", k);
        Pki { dir }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_tls_with_client_certificates() {
    let Some(bin) = go_client() else { return };
    let pki = Pki::new();
    // The Logstash 8 deprecated names: ssl => ssl_enabled, ssl_verify_mode => force_peer
    // (= ssl_client_authentication required).
    let srv = Server::start(
        args()
            .with("ssl", Value::Bool(true))
            .with("ssl_certificate", Value::from(pki.path("server.pem")))
            .with("ssl_key", Value::from(pki.path("server.key")))
            .with(
                "ssl_certificate_authorities",
                Value::Array(vec![Value::from(pki.path("ca.pem"))]),
            )
            .with("ssl_verify_mode", Value::from("force_peer"))
            .with("enrich", Value::Array(vec![Value::from("all")])),
        Output::Deliver,
    )
    .await;
    let ca = pki.path("ca.pem");
    let cert = pki.path("client.pem");
    let key = pki.path("client.key");
    let (ok, lines, err) = run_client(
        &bin,
        srv.port,
        &[
            "-tls",
            "-ca",
            &ca,
            "-cert",
            &cert,
            "-key",
            &key,
            "-windows",
            "2",
            "-events",
            "3",
            "-compress",
            "2",
        ],
    )
    .await;
    assert!(ok, "TLS client failed: {err} {lines:?}");
    let events = srv.wait_events(6).await;
    assert_eq!(ids(&events), all_ids(2, 3));
    let e = &events[0];
    assert_eq!(get(e, "[@metadata][tls_peer][status]"), s("verified"));
    assert_eq!(
        get(e, "[@metadata][input][beats][tls][client][subject]"),
        s("CN=beats-client,O=Beats Test")
    );
    assert_eq!(
        get(e, "[@metadata][input][beats][tls][version_protocol]"),
        s("TLSv1.3")
    );
    assert!(
        get(e, "[@metadata][input][beats][tls][cipher]")
            .is_some_and(|c| c.to_logstash_string().starts_with("TLS_")),
        "{:?}",
        e.metadata()
    );

    // Without a client certificate the handshake is refused: nothing arrives.
    let (ok, lines, _) = run_client(
        &bin,
        srv.port,
        &["-tls", "-ca", &ca, "-retries", "2", "-timeout", "3s"],
    )
    .await;
    assert!(!ok, "a client without certificate got through: {lines:?}");
    assert!(kinds(&lines, "ack").is_empty());
    assert_eq!(srv.events().len(), 6);
    assert!(srv.stats.rejected() >= 1);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_resends_a_window_that_was_not_delivered() {
    let Some(bin) = go_client() else { return };
    // The output gives up on the first 3 events: their window's receipt fails, so the
    // connection is closed without ACK and the client resends the window.
    let srv = Server::start(args(), Output::FailFirst(3)).await;
    let (ok, lines, err) = run_client(&bin, srv.port, &["-windows", "3", "-events", "10"]).await;
    assert!(ok, "client failed: {err} {lines:?}");
    let errors = kinds(&lines, "error");
    assert_eq!(errors.len(), 1, "{lines:?}");
    assert_eq!(errors[0]["window"], 0);
    let done: Vec<(u64, u64)> = kinds(&lines, "done")
        .iter()
        .map(|l| {
            (
                l["window"].as_u64().unwrap_or(99),
                l["attempt"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(done, vec![(0, 2), (1, 1), (2, 1)]);
    let events = srv.wait_events(37).await;
    // No loss: every event of every window arrived. The 7 events of the first attempt the
    // output did deliver arrive again with the resend (at-least-once): 7 + 10 + 20.
    assert_eq!(ids(&events), all_ids(3, 10));
    assert_eq!(events.len(), 37);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_resends_after_the_connection_is_cut_before_the_ack() {
    let Some(bin) = go_client() else { return };
    let srv = Server::start(args(), Output::Deliver).await;
    // A proxy that forwards the client's bytes to the input but cuts the first connection
    // as soon as the server's ACK for it arrives, never passing it on.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("proxy");
    let proxy_port = proxy.local_addr().expect("addr").port();
    let upstream = srv.port;
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut client, _)) = proxy.accept().await {
            let cut = std::mem::replace(&mut first, false);
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    return;
                };
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = tokio::io::copy(&mut cr, &mut sw);
                let down = async {
                    let mut buf = [0u8; 1024];
                    loop {
                        let n = sr.read(&mut buf).await.unwrap_or(0);
                        if n == 0 || cut {
                            return; // the ACK is swallowed; both sides are dropped
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                tokio::select! { _ = up => {}, _ = down => {} }
            });
        }
    });
    let (ok, lines, err) = run_client(&bin, proxy_port, &["-windows", "2", "-events", "4"]).await;
    assert!(ok, "client failed: {err} {lines:?}");
    let done: Vec<u64> = kinds(&lines, "done")
        .iter()
        .filter_map(|l| l["attempt"].as_u64())
        .collect();
    assert_eq!(done, vec![2, 1], "{lines:?}");
    let events = srv.wait_events(12).await;
    assert_eq!(ids(&events), all_ids(2, 4));
    assert_eq!(
        events.len(),
        12,
        "window 0 twice (at-least-once), window 1 once"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_waits_for_a_slow_output_thanks_to_keepalive() {
    let Some(bin) = go_client() else { return };
    // Each event takes 4 s to deliver: the window of 3 takes 12 s, while the client's
    // read timeout is 7 s. Keep-alive ACKs (seq 0, every 5 s) keep it waiting.
    let srv = Server::start(args(), Output::Slow(Duration::from_secs(4))).await;
    let started = Instant::now();
    let (ok, lines, err) = run_client(
        &bin,
        srv.port,
        &["-windows", "1", "-events", "3", "-timeout", "7s"],
    )
    .await;
    assert!(ok, "client failed: {err} {lines:?}");
    assert!(started.elapsed() >= Duration::from_secs(11));
    let acks: Vec<u64> = kinds(&lines, "ack")
        .iter()
        .filter_map(|l| l["seq"].as_u64())
        .collect();
    assert!(acks.len() >= 3, "{acks:?}");
    assert!(acks[..acks.len() - 1].iter().all(|s| *s == 0), "{acks:?}");
    assert_eq!(acks.last(), Some(&3));
    assert!(kinds(&lines, "error").is_empty(), "{lines:?}");
    assert_eq!(srv.events().len(), 3);
    srv.stop().await;
}

// ---- raw sockets: no Go needed ----

async fn read_ack(s: &mut TcpStream) -> Option<(u8, u32)> {
    let mut b = [0u8; 6];
    match tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut b)).await {
        Ok(Ok(_)) => protocol::decode_ack(&b),
        _ => None,
    }
}

fn window_of(from: u32, n: u32, compress: bool) -> Vec<u8> {
    let mut frames = Vec::new();
    for i in 0..n {
        let doc = format!(r#"{{"message":"raw {}","w":{},"i":{}}}"#, from + i, from, i);
        protocol::encode_json(&mut frames, i + 1, doc.as_bytes());
    }
    let mut out = Vec::new();
    protocol::encode_window(&mut out, n);
    if compress {
        protocol::encode_compressed(&mut out, &frames);
    } else {
        out.extend_from_slice(&frames);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_its_own_connection() {
    let srv = Server::start(args(), Output::Deliver).await;
    let mut good = TcpStream::connect(("127.0.0.1", srv.port))
        .await
        .expect("connect");
    let w = window_of(0, 3, false);
    // Half a window, then garbage on another connection, then the rest.
    good.write_all(&w[..w.len() / 2]).await.expect("write");
    let mut bad = TcpStream::connect(("127.0.0.1", srv.port))
        .await
        .expect("connect");
    bad.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut b = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), bad.read(&mut b))
        .await
        .expect("garbage connection not closed");
    assert!(matches!(n, Ok(0) | Err(_)), "garbage got an answer: {n:?}");
    good.write_all(&w[w.len() / 2..]).await.expect("write");
    assert_eq!(read_ack(&mut good).await, Some((b'2', 3)));
    // An oversized frame header closes its connection before anything is buffered.
    let mut huge = TcpStream::connect(("127.0.0.1", srv.port))
        .await
        .expect("connect");
    huge.write_all(b"2W\0\0\0\x012J\0\0\0\x01\x7f\xff\xff\xff")
        .await
        .expect("write");
    let n = tokio::time::timeout(Duration::from_secs(5), huge.read(&mut b))
        .await
        .expect("oversized connection not closed");
    assert!(matches!(n, Ok(0) | Err(_)));
    // The good connection still works.
    good.write_all(&window_of(10, 2, true))
        .await
        .expect("write");
    assert_eq!(read_ack(&mut good).await, Some((b'2', 2)));
    assert_eq!(srv.wait_events(5).await.len(), 5);
    assert_eq!(srv.stats.rejected(), 2);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_windows_v1_data_frames_and_empty_windows() {
    let srv = Server::start(args(), Output::Deliver).await;
    let mut c = TcpStream::connect(("127.0.0.1", srv.port))
        .await
        .expect("connect");
    // Two windows sent back to back (libbeat's pipelining), ACKed in order.
    let mut bytes = window_of(0, 4, false);
    bytes.extend(window_of(1, 2, true));
    c.write_all(&bytes).await.expect("write");
    assert_eq!(read_ack(&mut c).await, Some((b'2', 4)));
    assert_eq!(read_ack(&mut c).await, Some((b'2', 2)));
    // An empty window is answered with ACK 0.
    let mut w = Vec::new();
    protocol::encode_window(&mut w, 0);
    c.write_all(&w).await.expect("write");
    assert_eq!(read_ack(&mut c).await, Some((b'2', 0)));
    // Lumberjack v1: key/value data frames, the `line` field, ACKed with version 1.
    let mut v1 = vec![b'1', b'W', 0, 0, 0, 2];
    protocol::encode_data(
        &mut v1,
        b'1',
        1,
        &[("line", "first line"), ("file", "/var/log/a")],
    );
    protocol::encode_data(
        &mut v1,
        b'1',
        2,
        &[("line", "second line"), ("file", "/var/log/a")],
    );
    c.write_all(&v1).await.expect("write");
    assert_eq!(read_ack(&mut c).await, Some((b'1', 2)));
    let events = srv.wait_events(8).await;
    assert_eq!(events.len(), 8);
    let e = &events[6];
    assert_eq!(get(e, "message"), s("first line"));
    assert_eq!(get(e, "file"), s("/var/log/a"));
    assert!(e.has_tag("beats_input_codec_plain_applied"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_is_closed_after_client_inactivity_timeout() {
    let srv = Server::start(
        args().with("client_inactivity_timeout", Value::Integer(1)),
        Output::Deliver,
    )
    .await;
    let mut c = TcpStream::connect(("127.0.0.1", srv.port))
        .await
        .expect("connect");
    let started = Instant::now();
    let mut b = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut b))
        .await
        .expect("idle connection kept open");
    assert!(matches!(n, Ok(0) | Err(_)));
    assert!(started.elapsed() >= Duration::from_millis(900));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_in_flight_at_shutdown_is_still_acked_once_delivered() {
    let srv = Server::start(args(), Output::Slow(Duration::from_millis(300))).await;
    let mut c = TcpStream::connect(("127.0.0.1", srv.port))
        .await
        .expect("connect");
    c.write_all(&window_of(0, 3, false)).await.expect("write");
    // Let the window be emitted, then stop the input.
    tokio::time::sleep(Duration::from_millis(200)).await;
    srv.shutdown.cancel();
    assert_eq!(read_ack(&mut c).await, Some((b'2', 3)));
    let mut b = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut b))
        .await
        .expect("not closed after shutdown");
    assert!(matches!(n, Ok(0) | Err(_)));
    let _ = tokio::time::timeout(Duration::from_secs(10), srv.task).await;
}

/// Frames the Go client sent (recorded with its `-record`), decoded without Go.
#[test]
fn recorded_go_client_frames_decode() {
    let dir = repo().join("testdata/beats");
    for (file, compressed, with_message) in [
        ("window-plain.bin", false, true),
        ("window-compressed.bin", true, true),
        ("window-raw.bin", false, false),
    ] {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(bytes.get(..2), Some(&b"2W"[..]), "{file}");
        assert_eq!(bytes.get(6..8) == Some(&b"2C"[..]), compressed, "{file}");
        let (frames, end) = protocol::decode_all(&bytes, protocol::Limits::default());
        assert_eq!(end, Ok(true), "{file}");
        assert_eq!(frames.len(), 4, "{file}: {frames:?}");
        assert_eq!(
            frames[0],
            protocol::Frame::Window {
                version: b'2',
                size: 3
            }
        );
        for (i, f) in frames[1..].iter().enumerate() {
            let protocol::Frame::Json {
                version: b'2',
                seq,
                payload,
            } = f
            else {
                panic!("{file}: not a JSON frame: {f:?}");
            };
            assert_eq!(*seq as usize, i + 1);
            let doc: serde_json::Value = serde_json::from_slice(payload).expect("json");
            assert_eq!(doc["@metadata"]["beat"], "filebeat");
            assert_eq!(doc["i"], i);
            assert_eq!(doc.get("message").is_some(), with_message, "{file}");
            if with_message {
                assert_eq!(doc["message"], format!("window 0 event {i}"));
            }
        }
        // Split anywhere, the decoder gives the same frames.
        for cut in 1..bytes.len() {
            let mut d = protocol::Decoder::new(protocol::Limits::default());
            let mut got = Vec::new();
            for part in [&bytes[..cut], &bytes[cut..]] {
                d.feed(part);
                while let Some(f) = d.next_frame().expect("valid") {
                    got.push(f);
                }
            }
            assert_eq!(got, frames, "{file} cut at {cut}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_go_client_frames_through_the_input() {
    let srv = Server::start(args(), Output::Deliver).await;
    let mut c = TcpStream::connect(("127.0.0.1", srv.port))
        .await
        .expect("connect");
    for file in [
        "window-plain.bin",
        "window-compressed.bin",
        "window-raw.bin",
    ] {
        let bytes = std::fs::read(repo().join("testdata/beats").join(file)).expect("read");
        c.write_all(&bytes).await.expect("write");
        assert_eq!(read_ack(&mut c).await, Some((b'2', 3)), "{file}");
    }
    let events = srv.wait_events(9).await;
    assert_eq!(events.len(), 9);
    assert!(events[..6]
        .iter()
        .all(|e| e.has_tag("beats_input_codec_plain_applied")));
    assert!(events[6..]
        .iter()
        .all(|e| e.has_tag("beats_input_raw_event")));
    srv.stop().await;
}

/// The corpus the fuzz target found (`testdata/fuzz/lumberjack/`): decoded whole and byte
/// by byte, the same frames and no panic.
#[test]
fn fuzz_corpus_decodes_the_same_in_any_split() {
    let dir = repo().join("testdata/fuzz/lumberjack");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz corpus") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        let limits = protocol::Limits {
            max_frame: 1 << 20,
            ..protocol::Limits::default()
        };
        let (frames, end) = protocol::decode_all(&bytes, limits);
        let mut d = protocol::Decoder::new(limits);
        let mut got = Vec::new();
        let mut failed = false;
        'bytes: for b in &bytes {
            d.feed(std::slice::from_ref(b));
            loop {
                match d.next_frame() {
                    Ok(Some(f)) => got.push(f),
                    Ok(None) => break,
                    Err(_) => {
                        failed = true;
                        break 'bytes;
                    }
                }
            }
        }
        assert_eq!(got, frames);
        assert_eq!(failed, end.is_err());
        n += 1;
    }
    assert!(n >= 5, "fuzz corpus too small: {n}");
}

/// The whole way: a config compiled like a user's (deprecated names, common options), the
/// runner, a `file` output. The ACK comes only once the file output has the events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_compiled_pipeline_to_a_file_output() {
    use logstash_mesos_pipeline::lang::compile::compile;
    use logstash_mesos_pipeline::lang::{parse, ParseOptions, Sources};
    use logstash_mesos_pipeline::registry::Registry;
    use logstash_mesos_pipeline::runner::{RunSettings, RunningPipeline};
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out.json");
    let port = free_port();
    let text = format!(
        r#"input {{ beats {{ host => "127.0.0.1" port => {port} ssl => false ssl_verify_mode => "none" tags => ["mine"] add_field => {{ "from" => "%{{[@metadata][beat]}}" }} }} }}
output {{ file {{ path => "{}" codec => json_lines }} }}"#,
        out.display()
    );
    let sources = Sources::from_string("beats.conf", &text);
    let ast = parse(&sources, &ParseOptions::default()).expect("parses");
    let ctx = BuildContext::default();
    let p = match compile(&ast, &Registry::builtin(), &ctx) {
        Ok(p) => p,
        Err(e) => panic!("compile: {e:?}"),
    };
    let running = RunningPipeline::start(p, &ctx, &RunSettings::default()).expect("starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut c = loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("beats input not listening: {e}"),
        }
    };
    let mut frames = Vec::new();
    protocol::encode_window(&mut frames, 2);
    for (i, msg) in ["one", "two"].iter().enumerate() {
        let doc = format!(
            r#"{{"@timestamp":"2024-05-01T10:00:0{i}.000Z","@metadata":{{"beat":"filebeat","version":"8.13.0"}},"message":"{msg}"}}"#
        );
        protocol::encode_json(&mut frames, i as u32 + 1, doc.as_bytes());
    }
    c.write_all(&frames).await.expect("write");
    assert_eq!(read_ack(&mut c).await, Some((b'2', 2)));
    // Acknowledged means written.
    let written = std::fs::read_to_string(&out).expect("file output written before the ACK");
    let lines: Vec<serde_json::Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2, "{written}");
    assert_eq!(lines[0]["message"], "one");
    assert_eq!(lines[0]["@timestamp"], "2024-05-01T10:00:00.000Z");
    assert_eq!(lines[0]["from"], "filebeat");
    assert_eq!(
        lines[0]["tags"],
        serde_json::json!(["mine", "beats_input_codec_plain_applied"])
    );
    assert_eq!(lines[0]["event"]["original"], "one");
    assert!(lines[0].get("@metadata").is_none());
    running.shutdown();
    tokio::time::timeout(Duration::from_secs(15), running.wait())
        .await
        .expect("pipeline stops");
}
