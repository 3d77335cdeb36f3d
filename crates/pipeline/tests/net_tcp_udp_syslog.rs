//! The `tcp`, `udp` and `syslog` inputs against real senders: `nc` (netcat-openbsd),
//! `socat` (plain and `OPENSSL:` with a client certificate made here by rcgen), util-linux
//! `logger` (RFC 3164 and 5424, UDP, TCP, octet counting) and `rsyslogd` forwarding with
//! `omfwd` (installed by scripts/setup/nettools.sh). A missing tool prints a loud
//! SKIPPING notice, and fails the test under `CI=true`. Tests that need no tool use raw
//! sockets (PROXY protocol, client mode, queue overflow).

use logstash_mesos_core::{Event, FieldRef};
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::inputs::syslog::SyslogInput;
use logstash_mesos_pipeline::inputs::tcp::TcpInput;
use logstash_mesos_pipeline::inputs::udp::UdpInput;
use logstash_mesos_pipeline::lang::compile::compile;
use logstash_mesos_pipeline::lang::{parse, ParseOptions, Sources};
use logstash_mesos_pipeline::net::listener::NetStats;
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::{BuildContext, Input};
use logstash_mesos_pipeline::registry::{Kind, Registry};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Is `tool` on PATH? A loud notice (a panic under CI=true) when not.
fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool} || test -x /usr/sbin/{tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        let msg = format!("{tool} not installed (run scripts/setup/nettools.sh)");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("\n!!!!!!!! SKIPPING network input test: {msg} !!!!!!!!\n");
    }
    found
}

/// A port free for both TCP and UDP on 127.0.0.1.
fn free_port() -> u16 {
    loop {
        let t = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = t.local_addr().expect("addr").port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn get(e: &Event, path: &str) -> Option<String> {
    e.get(&FieldRef::parse(path).expect("field ref"))
        .map(|v| v.to_string())
}

fn msgs(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| get(e, "message").unwrap_or_default())
        .collect()
}

struct Running {
    rx: mpsc::Receiver<Event>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    fn start(input: Box<dyn Input>, capacity: usize) -> Running {
        let (ctx, rx) = InputContext::for_test(capacity);
        let shutdown = ctx.shutdown.clone();
        let task = tokio::spawn(input.run(ctx));
        Running { rx, shutdown, task }
    }

    /// Receives `n` events (or fails after `secs`).
    async fn take(&mut self, n: usize, secs: u64) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(e)) => out.push(e),
                _ => panic!("got {} of {n} events: {:?}", out.len(), msgs(&out)),
            }
        }
        out
    }

    /// No further event within `ms`.
    async fn quiet(&mut self, ms: u64) {
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(ms), self.rx.recv()).await {
            panic!("unexpected event {}", e.to_json_string());
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let r = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("input stops at shutdown");
        r.expect("no panic").expect("input ran without error");
    }
}

async fn wait_listening(stats: &NetStats) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stats.is_listening() {
        assert!(Instant::now() < deadline, "input never listened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until something accepts TCP connections on `port`.
async fn wait_tcp(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The one input of `input { ... }` compiled as a user's config would be.
fn compiled_input(conf: &str) -> Box<dyn Input> {
    let text = format!("input {{ {conf} }} output {{ null {{}} }}");
    let sources = Sources::from_string("test.conf", &text);
    let ast = parse(&sources, &ParseOptions::default()).expect("test config parses");
    let mut p = compile(&ast, &Registry::builtin(), &BuildContext::default())
        .unwrap_or_else(|d| panic!("test config compiles: {d:?}"));
    p.inputs.remove(0).input
}

/// Runs `sh -c script` with `input` on stdin; panics with its stderr on failure.
fn sh(script: &str, input: &[u8]) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `sh -c script` off the async runtime.
async fn sh_async(script: String, input: Vec<u8>) {
    tokio::task::spawn_blocking(move || sh(&script, &input))
        .await
        .expect("sender ran");
}

fn local_hostname() -> String {
    let out = Command::new("hostname").output().expect("hostname");
    let h = String::from_utf8_lossy(&out.stdout).trim().to_string();
    h.split('.').next().unwrap_or_default().to_string()
}

/// What `getent hosts 127.0.0.1` names the loopback (the reverse lookup's answer).
fn loopback_name() -> String {
    let out = Command::new("getent")
        .args(["hosts", "127.0.0.1"])
        .output()
        .expect("getent");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap_or("127.0.0.1")
        .to_string()
}

// ---------------------------------------------------------------- tcp

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_lines_from_nc_legacy_fields_and_last_line_flushed() {
    if !have("nc") {
        return;
    }
    let port = free_port();
    let mut r = Running::start(
        compiled_input(&format!(
            "tcp {{ host => \"127.0.0.1\" port => {port} ecs_compatibility => disabled }}"
        )),
        1000,
    );
    wait_tcp(port).await;
    sh_async(
        format!("nc -N 127.0.0.1 {port}"),
        b"one\ntwo\r\nthree without newline".to_vec(),
    )
    .await;
    let events = r.take(3, 10).await;
    assert_eq!(msgs(&events), ["one", "two\r", "three without newline"]);
    let name = loopback_name();
    for e in &events {
        assert_eq!(get(e, "host").as_deref(), Some(name.as_str()));
        assert_eq!(
            get(e, "[@metadata][ip_address]").as_deref(),
            Some("127.0.0.1")
        );
        let port_field = e
            .get_top("port")
            .and_then(|v| v.as_i64())
            .expect("integer port");
        assert!(port_field > 0);
    }
    assert_eq!(get(&events[0], "port"), get(&events[2], "port"));
    r.quiet(200).await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_json_lines_and_json_from_socat_ecs_fields() {
    if !have("socat") {
        return;
    }
    for codec in ["json_lines", "json"] {
        let port = free_port();
        let mut r = Running::start(
            compiled_input(&format!(
                "tcp {{ host => \"127.0.0.1\" port => {port} codec => {codec} dns_reverse_lookup_enabled => false }}"
            )),
            1000,
        );
        wait_tcp(port).await;
        sh_async(
            format!("socat -u - TCP:127.0.0.1:{port}"),
            b"{\"a\":1,\"message\":\"first\"}\n{\"a\":2,\"host\":{\"name\":\"app1\"}}\n".to_vec(),
        )
        .await;
        let events = r.take(2, 10).await;
        assert_eq!(get(&events[0], "a").as_deref(), Some("1"), "{codec}");
        assert_eq!(get(&events[0], "message").as_deref(), Some("first"));
        assert_eq!(get(&events[1], "[host][name]").as_deref(), Some("app1"));
        for e in &events {
            assert_eq!(
                get(e, "[@metadata][input][tcp][source][ip]").as_deref(),
                Some("127.0.0.1")
            );
            // Reverse lookups off: the name is the address.
            assert_eq!(
                get(e, "[@metadata][input][tcp][source][name]").as_deref(),
                Some("127.0.0.1")
            );
            assert!(get(e, "[@metadata][input][tcp][source][port]").is_some());
            assert_eq!(get(e, "port"), None);
        }
        r.stop().await;
    }
}

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A CA, a server certificate for localhost/127.0.0.1 and a client certificate
    /// `CN=test-client,O=Acme Test`, all signed by the CA, as PEM files.
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().expect("key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "net test CA");
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let srv_key = KeyPair::generate().expect("key");
        let mut srv_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("params");
        srv_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let srv = srv_params
            .signed_by(&srv_key, &ca, &ca_key)
            .expect("server cert");
        let cli_key = KeyPair::generate().expect("key");
        let mut cli_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        cli_params.distinguished_name = rcgen::DistinguishedName::new();
        cli_params
            .distinguished_name
            .push(DnType::OrganizationName, "Acme Test");
        cli_params
            .distinguished_name
            .push(DnType::CommonName, "test-client");
        let cli = cli_params
            .signed_by(&cli_key, &ca, &ca_key)
            .expect("client cert");
        let w = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("write pem")
        };
        w("ca.crt", ca.pem());
        w("server.crt", srv.pem());
        w("server.key", srv_key.serialize_pem());
        w("client.crt", cli.pem());
        w("client.key", cli_key.serialize_pem());
        Pki { dir }
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn tls_args(pki: &Pki, port: u16) -> Args {
    Args::for_plugin(Kind::Input, logstash_mesos_pipeline::inputs::tcp::OPTIONS)
        .with("host", "127.0.0.1".into())
        .with("port", (port as i64).into())
        .with("ssl_enabled", true.into())
        .with("ssl_certificate", pki.path("server.crt").into())
        .with("ssl_key", pki.path("server.key").into())
        .with(
            "ssl_certificate_authorities",
            logstash_mesos_core::Value::Array(vec![pki.path("ca.crt").into()]),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_tls_with_client_certificate_from_socat_openssl() {
    if !have("socat") {
        return;
    }
    let pki = Pki::new();
    let port = free_port();
    // ssl_client_authentication defaults to required.
    let input =
        TcpInput::from_args(&tls_args(&pki, port), &BuildContext::default()).expect("builds");
    let stats = input.stats();
    let mut r = Running::start(Box::new(input), 1000);
    wait_listening(&stats).await;
    sh_async(
        format!(
            "socat -u - OPENSSL:127.0.0.1:{port},cert={},key={},cafile={},verify=1,commonname=localhost",
            pki.path("client.crt"),
            pki.path("client.key"),
            pki.path("ca.crt")
        ),
        b"secret one\nsecret two\n".to_vec(),
    )
    .await;
    let events = r.take(2, 10).await;
    assert_eq!(msgs(&events), ["secret one", "secret two"]);
    assert_eq!(
        get(&events[0], "[@metadata][input][tcp][tls][client][subject]").as_deref(),
        Some("CN=test-client,O=Acme Test")
    );
    // Without a client certificate the handshake fails: refused and counted, no event.
    let before = stats.rejected();
    let script = format!(
        "printf 'no cert\\n' | socat -u - OPENSSL:127.0.0.1:{port},cafile={},verify=1,commonname=localhost; true",
        pki.path("ca.crt")
    );
    sh_async(script, Vec::new()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.rejected() == before {
        assert!(
            Instant::now() < deadline,
            "the certificate-less client was not refused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r.quiet(300).await;
    // Plain TCP to a TLS port: refused too.
    sh_async(
        format!("printf 'plain\\n' | socat -u - TCP:127.0.0.1:{port}; true"),
        Vec::new(),
    )
    .await;
    r.quiet(300).await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_tls_client_authentication_none_accepts_any_client() {
    if !have("socat") {
        return;
    }
    let pki = Pki::new();
    let port = free_port();
    let args = tls_args(&pki, port)
        .with("ssl_client_authentication", "none".into())
        .with("ecs_compatibility", "disabled".into());
    let input = TcpInput::from_args(&args, &BuildContext::default()).expect("builds");
    let stats = input.stats();
    let mut r = Running::start(Box::new(input), 1000);
    wait_listening(&stats).await;
    sh_async(
        format!(
            "socat -u - OPENSSL:127.0.0.1:{port},cafile={},verify=1,commonname=localhost",
            pki.path("ca.crt")
        ),
        b"anonymous\n".to_vec(),
    )
    .await;
    let events = r.take(1, 10).await;
    assert_eq!(msgs(&events), ["anonymous"]);
    // No client certificate asked for: no subject.
    assert_eq!(get(&events[0], "sslsubject"), None);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_proxy_protocol_header_sets_the_real_client_and_garbage_is_refused() {
    let port = free_port();
    let args = Args::for_plugin(Kind::Input, logstash_mesos_pipeline::inputs::tcp::OPTIONS)
        .with("host", "127.0.0.1".into())
        .with("port", (port as i64).into())
        .with("proxy_protocol", true.into())
        .with("dns_reverse_lookup_enabled", false.into())
        .with("ecs_compatibility", "disabled".into());
    let input = TcpInput::from_args(&args, &BuildContext::default()).expect("builds");
    let stats = input.stats();
    let mut r = Running::start(Box::new(input), 1000);
    wait_listening(&stats).await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(b"PROXY TCP4 10.1.2.3 10.0.0.1 5555 443\r\nhello via proxy\n")
        .await
        .unwrap();
    s.shutdown().await.unwrap();
    let e = &r.take(1, 10).await[0];
    assert_eq!(get(e, "message").as_deref(), Some("hello via proxy"));
    assert_eq!(get(e, "host").as_deref(), Some("10.1.2.3"));
    assert_eq!(
        get(e, "[@metadata][ip_address]").as_deref(),
        Some("10.1.2.3")
    );
    assert_eq!(get(e, "port").as_deref(), Some("5555"));
    assert_eq!(get(e, "proxy_host").as_deref(), Some("10.0.0.1"));
    assert_eq!(get(e, "proxy_port").as_deref(), Some("443"));
    // A connection without the header is refused (counted), its data never an event.
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(5);
    while stats.rejected() == 0 {
        assert!(Instant::now() < deadline, "no rejection counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r.quiet(200).await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_client_mode_reads_and_reconnects() {
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = server.local_addr().unwrap().port();
    let feeder = tokio::spawn(async move {
        for chunk in [&b"a\nb"[..], b"c\n"] {
            let (mut s, _) = server.accept().await.unwrap();
            s.write_all(chunk).await.unwrap();
            s.shutdown().await.unwrap();
        }
        server
    });
    let args = Args::for_plugin(Kind::Input, logstash_mesos_pipeline::inputs::tcp::OPTIONS)
        .with("host", "127.0.0.1".into())
        .with("port", (port as i64).into())
        .with("mode", "client".into());
    let input = TcpInput::from_args(&args, &BuildContext::default()).expect("builds");
    let stats = input.stats();
    let mut r = Running::start(Box::new(input), 1000);
    let events = r.take(3, 10).await;
    assert_eq!(msgs(&events), ["a", "b", "c"]);
    assert_eq!(
        get(&events[0], "[@metadata][input][tcp][source][port]"),
        Some(port.to_string())
    );
    assert!(stats.connections() >= 2);
    let _server = feeder.await.unwrap();
    r.stop().await;
}

// ---------------------------------------------------------------- udp

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_datagrams_from_nc_and_socat() {
    if !(have("nc") && have("socat")) {
        return;
    }
    let port = free_port();
    let args = Args::for_plugin(Kind::Input, logstash_mesos_pipeline::inputs::udp::OPTIONS)
        .with("host", "127.0.0.1".into())
        .with("port", (port as i64).into())
        .with("receive_buffer_bytes", 262144.into());
    let input = UdpInput::from_args(&args, &BuildContext::default()).expect("builds");
    let stats = input.stats();
    let mut r = Running::start(Box::new(input), 1000);
    wait_listening(&stats).await;
    sh_async(format!("nc -u -w1 127.0.0.1 {port}"), b"from nc".to_vec()).await;
    sh_async(
        format!("socat -u - UDP-SENDTO:127.0.0.1:{port}"),
        b"from socat\nsecond line, same datagram".to_vec(),
    )
    .await;
    let mut events = r.take(2, 10).await;
    events.sort_by_key(|e| get(e, "message"));
    assert_eq!(
        msgs(&events),
        ["from nc", "from socat\nsecond line, same datagram"]
    );
    for e in &events {
        assert_eq!(get(e, "[host][ip]").as_deref(), Some("127.0.0.1"));
        assert_eq!(get(e, "[event][original]"), get(e, "message"));
    }
    assert_eq!(stats.messages(), 2);
    assert_eq!(stats.dropped(), 0);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_full_queue_drops_and_counts_datagrams() {
    let port = free_port();
    let args = Args::for_plugin(Kind::Input, logstash_mesos_pipeline::inputs::udp::OPTIONS)
        .with("host", "127.0.0.1".into())
        .with("port", (port as i64).into())
        .with("queue_size", 2.into())
        .with("workers", 1.into())
        .with("source_ip_fieldname", "[client][address]".into());
    let input = UdpInput::from_args(&args, &BuildContext::default()).expect("builds");
    let stats = input.stats();
    // The pipeline's queue holds one event and nobody drains it yet: the worker blocks,
    // the decoder queue fills, further datagrams are dropped.
    let mut r = Running::start(Box::new(input), 1);
    wait_listening(&stats).await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sent = 200u64;
    for i in 0..sent {
        sock.send_to(format!("d{i}").as_bytes(), ("127.0.0.1", port))
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.messages() < sent {
        assert!(
            Instant::now() < deadline,
            "received {} of {sent}",
            stats.messages()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dropped = stats.dropped();
    assert!(dropped > 0, "nothing dropped");
    let kept = (sent - dropped) as usize;
    let events = r.take(kept, 10).await;
    assert_eq!(events.len() as u64 + dropped, sent);
    assert_eq!(get(&events[0], "message").as_deref(), Some("d0"));
    assert_eq!(
        get(&events[0], "[client][address]").as_deref(),
        Some("127.0.0.1")
    );
    r.quiet(200).await;
    r.stop().await;
}

// ---------------------------------------------------------------- syslog

fn syslog_input(port: u16, ecs: bool) -> (Box<dyn Input>, Arc<NetStats>) {
    let mut args = Args::for_plugin(
        Kind::Input,
        logstash_mesos_pipeline::inputs::syslog::OPTIONS,
    )
    .with("host", "127.0.0.1".into())
    .with("port", (port as i64).into());
    if !ecs {
        args = args.with("ecs_compatibility", "disabled".into());
    }
    let input = SyslogInput::from_args(&args, &BuildContext::default()).expect("builds");
    let stats = input.stats();
    (Box::new(input), stats)
}

/// The event whose message is `m`.
fn find<'a>(events: &'a [Event], m: &str) -> &'a Event {
    events
        .iter()
        .find(|e| get(e, "message").as_deref() == Some(m))
        .unwrap_or_else(|| panic!("no event {m:?} in {:?}", msgs(events)))
}

fn recent(e: &Event) {
    let ts = e.timestamp().expect("@timestamp");
    let now = logstash_mesos_core::Timestamp::now();
    let age = (now.unix_millis() - ts.unix_millis()).abs();
    assert!(age < 120_000, "@timestamp {ts} is not now ({now})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_logger_rfc3164_over_udp_tcp_and_octet_counted_tcp() {
    if !have("logger") {
        return;
    }
    let port = free_port();
    let (input, stats) = syslog_input(port, true);
    let mut r = Running::start(input, 1000);
    wait_listening(&stats).await;
    for (proto, m) in [
        ("--udp", "hello udp"),
        ("--tcp", "hello tcp"),
        ("--tcp --octet-count", "hello octets"),
    ] {
        sh_async(
            format!("logger --server 127.0.0.1 --port {port} {proto} --rfc3164 -t myapp -p local3.warning '{m}'"),
            Vec::new(),
        )
        .await;
    }
    let events = r.take(3, 10).await;
    let host = local_hostname();
    for m in ["hello udp", "hello tcp", "hello octets"] {
        let e = find(&events, m);
        assert_eq!(
            get(e, "[log][syslog][priority]").as_deref(),
            Some("156"),
            "{m}"
        );
        assert_eq!(
            get(e, "[log][syslog][facility][code]").as_deref(),
            Some("19")
        );
        assert_eq!(
            get(e, "[log][syslog][facility][name]").as_deref(),
            Some("local3")
        );
        assert_eq!(
            get(e, "[log][syslog][severity][code]").as_deref(),
            Some("4")
        );
        assert_eq!(
            get(e, "[log][syslog][severity][name]").as_deref(),
            Some("Warning")
        );
        assert_eq!(get(e, "[process][name]").as_deref(), Some("myapp"));
        assert_eq!(get(e, "[host][hostname]").as_deref(), Some(host.as_str()));
        assert_eq!(get(e, "[host][ip]").as_deref(), Some("127.0.0.1"));
        assert_eq!(get(e, "[service][type]").as_deref(), Some("system"));
        assert!(get(e, "[event][original]").unwrap().starts_with("<156>"));
        assert_eq!(get(e, "timestamp"), None);
        assert!(e.tags().is_empty(), "{m}: {:?}", e.tags());
        recent(e);
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_logger_rfc5424_over_udp_and_tcp() {
    if !have("logger") {
        return;
    }
    let port = free_port();
    let (input, stats) = syslog_input(port, true);
    let mut r = Running::start(input, 1000);
    wait_listening(&stats).await;
    for (proto, m) in [
        ("--udp", "structured udp"),
        ("--tcp", "structured tcp"),
        ("--tcp --octet-count", "structured octets"),
    ] {
        sh_async(
            format!("logger --server 127.0.0.1 --port {port} {proto} --rfc5424 -t app5424 --id=4242 -p user.err --msgid MSG7 --sd-id zoo@32473 --sd-param 'tiger=\"hungry\"' --sd-param 'zebra=\"running\"' '{m}'"),
            Vec::new(),
        )
        .await;
    }
    let events = r.take(3, 10).await;
    let host = local_hostname();
    for m in ["structured udp", "structured tcp", "structured octets"] {
        let e = find(&events, m);
        assert_eq!(
            get(e, "[log][syslog][priority]").as_deref(),
            Some("11"),
            "{m}"
        );
        assert_eq!(
            get(e, "[log][syslog][severity][name]").as_deref(),
            Some("Error")
        );
        assert_eq!(
            get(e, "[log][syslog][facility][name]").as_deref(),
            Some("user-level")
        );
        assert_eq!(get(e, "[log][syslog][version]").as_deref(), Some("1"));
        assert_eq!(get(e, "[log][syslog][appname]").as_deref(), Some("app5424"));
        assert_eq!(get(e, "[log][syslog][procid]").as_deref(), Some("4242"));
        assert_eq!(get(e, "[log][syslog][msgid]").as_deref(), Some("MSG7"));
        assert_eq!(
            get(e, "[log][syslog][structured_data][zoo@32473][tiger]").as_deref(),
            Some("hungry")
        );
        assert_eq!(
            get(e, "[log][syslog][structured_data][zoo@32473][zebra]").as_deref(),
            Some("running")
        );
        assert!(get(e, "[log][syslog][structured_data][timeQuality][tzKnown]").is_some());
        assert_eq!(get(e, "[host][hostname]").as_deref(), Some(host.as_str()));
        assert!(e.tags().is_empty(), "{m}: {:?}", e.tags());
        recent(e);
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_garbage_is_tagged_or_counted_never_lost_silently() {
    let port = free_port();
    let (input, stats) = syslog_input(port, false);
    let mut r = Running::start(input, 1000);
    wait_listening(&stats).await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let counted = "<13>Oct 11 22:14:15 h app: x";
    s.write_all(b"not syslog at all\n0 <bad count\n\xff\xfe\x00binary\n")
        .await
        .unwrap();
    s.write_all(format!("{} {counted}", counted.len()).as_bytes())
        .await
        .unwrap();
    s.shutdown().await.unwrap();
    let events = r.take(3, 10).await;
    assert_eq!(msgs(&events)[0], "not syslog at all");
    assert_eq!(events[0].tags(), ["_grokparsefailure_sysloginput"]);
    assert_eq!(get(&events[0], "priority").as_deref(), Some("13"));
    assert_eq!(get(&events[0], "host").as_deref(), Some("127.0.0.1"));
    assert!(events[1].has_tag("_grokparsefailure_sysloginput"));
    assert_eq!(get(&events[2], "message").as_deref(), Some("x"));
    assert_eq!(get(&events[2], "priority").as_deref(), Some("13"));
    assert_eq!(get(&events[2], "program").as_deref(), Some("app"));
    assert!(events[2].tags().is_empty());
    assert_eq!(stats.rejected(), 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_proxy_protocol_names_the_real_sender() {
    let port = free_port();
    let args = Args::for_plugin(
        Kind::Input,
        logstash_mesos_pipeline::inputs::syslog::OPTIONS,
    )
    .with("host", "127.0.0.1".into())
    .with("port", (port as i64).into())
    .with("proxy_protocol", true.into());
    let input = SyslogInput::from_args(&args, &BuildContext::default()).expect("builds");
    let stats = input.stats();
    let mut r = Running::start(Box::new(input), 1000);
    wait_listening(&stats).await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(
        b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 514\r\n<14>Mar  1 10:00:00 fw01 kernel: drop\n",
    )
    .await
    .unwrap();
    s.shutdown().await.unwrap();
    let e = &r.take(1, 10).await[0];
    assert_eq!(get(e, "message").as_deref(), Some("drop"));
    assert_eq!(get(e, "[host][ip]").as_deref(), Some("2001:db8::7"));
    assert_eq!(get(e, "[host][hostname]").as_deref(), Some("fw01"));
    assert!(e.tags().is_empty(), "{:?}", e.tags());
    r.stop().await;
}

/// rsyslogd, run as this test's own process, tails a file (imfile) and forwards each line
/// three ways to the input: TCP octet-counted in RFC 5424 form, TCP octet-counted in
/// rsyslog's forward format (RFC 3164 with an RFC 3339 timestamp) and UDP in the
/// traditional format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_from_rsyslog_omfwd_octet_counted() {
    if !have("rsyslogd") {
        return;
    }
    let port = free_port();
    let (input, stats) = syslog_input(port, true);
    let mut r = Running::start(input, 1000);
    wait_listening(&stats).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let conf = format!(
        r#"global(workDirectory="{d}")
module(load="imfile")
input(type="imfile" File="{d}/in.log" Tag="app:" Severity="error" Facility="local5")
action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_ForwardFormat")
action(type="omfwd" target="127.0.0.1" port="{port}" protocol="udp")
"#
    );
    std::fs::write(dir.path().join("rsyslog.conf"), conf).unwrap();
    std::fs::write(dir.path().join("in.log"), "").unwrap();
    let mut rsyslogd = Command::new(if Path::new("/usr/sbin/rsyslogd").exists() {
        "/usr/sbin/rsyslogd"
    } else {
        "rsyslogd"
    })
    .args(["-n", "-f"])
    .arg(dir.path().join("rsyslog.conf"))
    .arg("-i")
    .arg(dir.path().join("rsyslogd.pid"))
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("rsyslogd starts");
    // imfile picks up lines appended after it started watching.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("in.log"))
            .unwrap();
        f.write_all(b"hello from rsyslog 1\nhello from rsyslog 2\n")
            .unwrap();
    }
    let events = r.take(6, 20).await;
    let _ = rsyslogd.kill();
    let _ = rsyslogd.wait();
    let host = local_hostname();
    for m in ["hello from rsyslog 1", "hello from rsyslog 2"] {
        let same: Vec<&Event> = events
            .iter()
            .filter(|e| get(e, "message").as_deref() == Some(m))
            .collect();
        assert_eq!(same.len(), 3, "{m}: {:?}", msgs(&events));
        for e in &same {
            // local5.err = 21 * 8 + 3
            assert_eq!(get(e, "[log][syslog][priority]").as_deref(), Some("171"));
            assert_eq!(
                get(e, "[log][syslog][facility][name]").as_deref(),
                Some("local5")
            );
            assert_eq!(
                get(e, "[log][syslog][severity][name]").as_deref(),
                Some("Error")
            );
            assert_eq!(get(e, "[host][hostname]").as_deref(), Some(host.as_str()));
            assert_eq!(get(e, "[host][ip]").as_deref(), Some("127.0.0.1"));
            assert!(e.tags().is_empty(), "{:?} {}", e.tags(), e.to_json_string());
            recent(e);
        }
        let rfc5424 = same
            .iter()
            .filter(|e| get(e, "[log][syslog][version]").as_deref() == Some("1"))
            .count();
        assert_eq!(rfc5424, 1, "one copy in RFC 5424 form");
        assert!(same
            .iter()
            .any(|e| get(e, "[log][syslog][appname]").as_deref() == Some("app")));
        assert_eq!(
            same.iter()
                .filter(|e| get(e, "[process][name]").as_deref() == Some("app"))
                .count(),
            2
        );
    }
    assert_eq!(stats.rejected(), 0);
    r.stop().await;
}
