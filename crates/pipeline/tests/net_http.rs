//! The `http` input with curl as the real client: body decoding by content type (JSON
//! object, array, plain text, NDJSON, broken JSON), the ECS and legacy fields, basic auth,
//! TLS with and without client certificates, 413, 429 when too many requests are in
//! flight, and that the response comes only once the events are safe (503 when they were
//! given up on). The input runs on its own with a test queue: the test is its output.

use logstash_mesos_core::{Event, FieldRef, Value};
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::lang::compile::compile;
use logstash_mesos_pipeline::lang::{parse, ParseOptions, Sources};
use logstash_mesos_pipeline::plugin::{BuildContext, Input};
use logstash_mesos_pipeline::registry::Registry;
use std::process::Stdio;
use std::time::Duration;
use tokio::sync::mpsc;

fn missing(msg: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("\n!!!!!!!! SKIPPING http input test: {msg} !!!!!!!!\n");
    false
}

fn have_curl() -> bool {
    match std::process::Command::new("curl").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ => missing("curl not found: run scripts/setup/nettools.sh"),
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Builds the http input from `options` (its `port` is added) as the config loader does.
fn build(options: &str) -> Result<(Box<dyn Input>, u16), String> {
    let port = free_port();
    let text = format!("input {{ http {{ host => \"127.0.0.1\" port => {port} {options} }} }}");
    let sources = Sources::from_string("test.conf", &text);
    let ast = parse(&sources, &ParseOptions::default()).map_err(|d| sources.render_all(&d))?;
    let p = compile(&ast, &Registry::builtin(), &BuildContext::default())
        .map_err(|d| sources.render_all(&d))?;
    let input = p.inputs.into_iter().next().ok_or("no input")?.input;
    Ok((input, port))
}

struct Server {
    port: u16,
    rx: mpsc::Receiver<Event>,
    ctx: InputContext,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Starts the input with a queue of `capacity` events and waits until it listens.
    async fn start(options: &str, capacity: usize) -> Server {
        let (input, port) = build(options).unwrap_or_else(|e| panic!("config rejected:\n{e}"));
        let (ctx, rx) = InputContext::for_test(capacity);
        let task = tokio::spawn(input.run(ctx.clone()));
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Server {
                    port,
                    rx,
                    ctx,
                    task,
                };
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the http input did not listen on {port}");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next event (delivered as soon as it is dropped).
    async fn next(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("an event within 10 s")
            .expect("queue open")
    }

    async fn stop(self) {
        self.ctx.shutdown.cancel();
        drop(self.rx);
        let r = tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("the input stops");
        r.expect("input task").expect("input result");
    }
}

struct Reply {
    status: u16,
    body: String,
    headers: String,
    exit: i32,
}

/// Runs curl with `args` (plus `-sS`, the status and headers captured).
fn curl_command(args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new("curl");
    c.args([
        "-sS",
        "-D",
        "/dev/stderr",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "--max-time",
        "20",
    ])
    .args(args)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    c
}

fn reply(out: std::process::Output) -> Reply {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, status) = stdout.rsplit_once('\n').unwrap_or(("", stdout.as_str()));
    Reply {
        status: status.trim().parse().unwrap_or(0),
        body: body.to_string(),
        headers: String::from_utf8_lossy(&out.stderr).to_ascii_lowercase(),
        exit: out.status.code().unwrap_or(-1),
    }
}

async fn curl(args: &[&str]) -> Reply {
    reply(curl_command(args).output().await.expect("curl runs"))
}

/// POSTs `body` with `content_type`, reading events while curl runs (so they are
/// delivered and the response can come).
async fn post(s: &mut Server, content_type: &str, body: &str, want: usize) -> (Reply, Vec<Event>) {
    let child = curl_command(&[
        "-H",
        &format!("Content-Type: {content_type}"),
        "--data-binary",
        body,
        &s.url("/some/path?x=1"),
    ])
    .spawn()
    .expect("curl runs");
    let mut events = Vec::new();
    for _ in 0..want {
        events.push(s.next().await);
    }
    // Dropping the events delivers them: only then may the reply come.
    let events: Vec<Event> = events
        .into_iter()
        .map(|mut e| {
            drop(e.take_acks());
            e
        })
        .collect();
    let r = reply(child.wait_with_output().await.expect("curl ends"));
    (r, events)
}

fn get(e: &Event, r: &str) -> Option<Value> {
    e.get(&FieldRef::parse(r).expect("field ref")).cloned()
}

fn s(v: &str) -> Option<Value> {
    Some(Value::from(v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_by_content_type_with_ecs_fields() {
    if !have_curl() {
        return;
    }
    let mut srv = Server::start(
        r#"additional_codecs => { "application/json" => "json" "application/x-ndjson" => "json_lines" }"#,
        100,
    )
    .await;

    let (r, ev) = post(&mut srv, "application/json", r#"{"a":1,"b":"x"}"#, 1).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"), "{}", r.headers);
    assert!(
        r.headers.contains("content-type: text/plain"),
        "{}",
        r.headers
    );
    let e = &ev[0];
    assert_eq!(get(e, "a"), Some(Value::Integer(1)));
    assert_eq!(get(e, "[host][ip]"), s("127.0.0.1"));
    assert_eq!(get(e, "[url][path]"), s("/some/path?x=1"));
    assert_eq!(get(e, "[url][domain]"), s("127.0.0.1"));
    assert_eq!(
        get(e, "[url][port]"),
        Some(Value::Integer(i64::from(srv.port)))
    );
    assert_eq!(get(e, "[http][method]"), s("POST"));
    assert_eq!(get(e, "[http][version]"), s("HTTP/1.1"));
    assert_eq!(get(e, "[http][request][mime_type]"), s("application/json"));
    assert_eq!(get(e, "[http][request][body][bytes]"), s("15"));
    let agent = get(e, "[user_agent][original]").map(|v| v.to_logstash_string());
    assert!(agent.is_some_and(|a| a.starts_with("curl/")));
    assert_eq!(
        get(
            e,
            "[@metadata][input][http][request][headers][content_type]"
        ),
        s("application/json")
    );
    assert_eq!(
        get(e, "headers"),
        None,
        "ECS mode keeps the headers in @metadata"
    );

    let (r, ev) = post(
        &mut srv,
        "application/json",
        r#"[{"n":1},{"n":2},{"n":3}]"#,
        3,
    )
    .await;
    assert_eq!(r.status, 200);
    let ns: Vec<_> = ev.iter().map(|e| get(e, "n")).collect();
    assert_eq!(
        ns,
        vec![
            Some(Value::Integer(1)),
            Some(Value::Integer(2)),
            Some(Value::Integer(3))
        ]
    );

    let (r, ev) = post(&mut srv, "text/plain", "line one\nline two", 1).await;
    assert_eq!(r.status, 200);
    assert_eq!(get(&ev[0], "message"), s("line one\nline two"));
    assert_eq!(get(&ev[0], "[event][original]"), s("line one\nline two"));

    let (r, ev) = post(
        &mut srv,
        "application/x-ndjson",
        "{\"l\":1}\n{\"l\":2}\n",
        2,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(get(&ev[1], "l"), Some(Value::Integer(2)));

    // Wrong content: the json codec's failure event, never a 5xx.
    let (r, ev) = post(&mut srv, "application/json", "{\"broken\": ", 1).await;
    assert_eq!(r.status, 200);
    assert!(ev[0].has_tag("_jsonparsefailure"));
    assert_eq!(get(&ev[0], "message"), s("{\"broken\": "));

    // An unknown content type goes to `codec` (plain).
    let (r, ev) = post(&mut srv, "application/xml", "<a/>", 1).await;
    assert_eq!(r.status, 200);
    assert_eq!(get(&ev[0], "message"), s("<a/>"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_fields_gzip_response_code_and_headers() {
    if !have_curl() {
        return;
    }
    let mut srv = Server::start(
        r#"ecs_compatibility => disabled response_code => 202 response_headers => { "X-Reply" => "yes" }"#,
        100,
    )
    .await;
    let (r, ev) = post(&mut srv, "application/json", r#"{"k":"v"}"#, 1).await;
    assert_eq!((r.status, r.body.as_str()), (202, "ok"));
    assert!(r.headers.contains("x-reply: yes"), "{}", r.headers);
    let e = &ev[0];
    assert_eq!(get(e, "host"), s("127.0.0.1"));
    assert_eq!(get(e, "[headers][request_method]"), s("POST"));
    assert_eq!(get(e, "[headers][request_path]"), s("/some/path?x=1"));
    assert_eq!(get(e, "[headers][http_version]"), s("HTTP/1.1"));
    assert_eq!(get(e, "[headers][content_type]"), s("application/json"));
    assert_eq!(
        get(e, "[headers][http_host]"),
        s(&format!("127.0.0.1:{}", srv.port))
    );
    assert_eq!(get(e, "[headers][http_accept]"), s("*/*"));
    assert_eq!(get(e, "url"), None, "no ECS fields in legacy mode");
    assert_eq!(get(e, "[event][original]"), None);

    // A gzip body (curl sends the file's bytes as they are).
    let dir = tempfile::tempdir().expect("tmp");
    let gz = dir.path().join("body.gz");
    {
        use std::io::Write;
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        w.write_all(br#"{"zipped":true}"#).expect("gzip");
        std::fs::write(&gz, w.finish().expect("gzip")).expect("write");
    }
    let child = curl_command(&[
        "-H",
        "Content-Type: application/json",
        "-H",
        "Content-Encoding: gzip",
        "--data-binary",
        &format!("@{}", gz.display()),
        &srv.url("/"),
    ])
    .spawn()
    .expect("curl");
    let e = srv.next().await;
    assert_eq!(get(&e, "zipped"), Some(Value::Bool(true)));
    assert_eq!(
        get(&e, "[headers][content_length]"),
        s("15"),
        "the decompressed length"
    );
    drop(e);
    assert_eq!(
        reply(child.wait_with_output().await.expect("curl")).status,
        202
    );
    srv.stop().await;

    let mut srv = Server::start("response_code => 204", 10).await;
    let (r, _) = post(&mut srv, "text/plain", "x", 1).await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth() {
    if !have_curl() {
        return;
    }
    let mut srv = Server::start(r#"user => "alice" password => "s3cret""#, 10).await;
    let none = curl(&["--data-binary", "x", &srv.url("/")]).await;
    assert_eq!(none.status, 401);
    assert!(
        none.headers
            .contains("www-authenticate: basic realm=\"logstash http input\""),
        "{}",
        none.headers
    );
    let wrong = curl(&["-u", "alice:nope", "--data-binary", "x", &srv.url("/")]).await;
    assert_eq!(wrong.status, 401);
    assert!(!wrong.headers.contains("www-authenticate"));
    assert!(srv.rx.try_recv().is_err(), "refused requests queue nothing");

    let child = curl_command(&[
        "-u",
        "alice:s3cret",
        "--data-binary",
        "ok body",
        &srv.url("/"),
    ])
    .spawn()
    .expect("curl");
    let e = srv.next().await;
    assert_eq!(get(&e, "message"), s("ok body"));
    assert_eq!(
        get(
            &e,
            "[@metadata][input][http][request][headers][authorization]"
        ),
        None,
        "the credentials are not stored on the event"
    );
    drop(e);
    assert_eq!(
        reply(child.wait_with_output().await.expect("curl")).status,
        200
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_bodies_get_413() {
    if !have_curl() {
        return;
    }
    let mut srv = Server::start("max_content_length => 100", 10).await;
    let big = "x".repeat(101);
    let r = curl(&["--data-binary", &big, &srv.url("/")]).await;
    assert_eq!(r.status, 413);
    // Chunked, so no Content-Length announces it: refused while reading.
    let r = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &big,
        &srv.url("/"),
    ])
    .await;
    assert_eq!(r.status, 413);
    assert!(srv.rx.try_recv().is_err());
    let (r, ev) = post(&mut srv, "text/plain", &"y".repeat(100), 1).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        get(&ev[0], "message").map(|v| v.to_logstash_string().len()),
        Some(100)
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reply_waits_for_delivery_and_a_failed_event_gets_503() {
    if !have_curl() {
        return;
    }
    let mut srv = Server::start("", 10).await;
    let mut child = curl_command(&["--data-binary", "held", &srv.url("/")])
        .spawn()
        .expect("curl");
    let e = srv.next().await;
    // The event is in the "output" but not done: curl must still be waiting.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        child.try_wait().expect("poll curl").is_none(),
        "answered before the event was delivered"
    );
    drop(e);
    let r = reply(child.wait_with_output().await.expect("curl"));
    assert_eq!(r.status, 200);

    let child = curl_command(&["--data-binary", "doomed", &srv.url("/")])
        .spawn()
        .expect("curl");
    let e = srv.next().await;
    e.fail_acks();
    drop(e);
    let r = reply(child.wait_with_output().await.expect("curl"));
    assert_eq!(r.status, 503, "a given-up event tells the client to resend");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_pending_requests_get_429_and_memory_stays_bounded() {
    if !have_curl() {
        return;
    }
    // One worker, one pending request, a queue of one event nobody reads (a blocked
    // output): the first two requests wait, the third is refused at once.
    let mut srv = Server::start("threads => 1 max_pending_requests => 1", 1).await;
    let mut waiting = Vec::new();
    for i in 0..2 {
        waiting.push(
            curl_command(&["--data-binary", &format!("w{i}"), &srv.url("/")])
                .spawn()
                .expect("curl"),
        );
        if i == 0 {
            // The first request's event fills the queue of one.
            let t = std::time::Instant::now();
            while srv.ctx.sender.capacity() > 0 {
                assert!(
                    t.elapsed() < Duration::from_secs(10),
                    "the first event was not queued"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        } else {
            // Time for curl to start and send its request (it then waits on the full queue).
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
    }
    let started = std::time::Instant::now();
    let r = curl(&["--data-binary", "third", &srv.url("/")]).await;
    assert_eq!(r.status, 429, "{}", r.headers);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the 429 comes at once"
    );
    for c in &mut waiting {
        assert!(
            c.try_wait().expect("poll").is_none(),
            "a waiting request was answered"
        );
    }
    // The output unblocks: both waiting requests are delivered and answered.
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(get(&srv.next().await, "message").map(|v| v.to_logstash_string()));
    }
    got.sort();
    assert_eq!(got, vec![Some("w0".to_string()), Some("w1".to_string())]);
    for c in waiting {
        assert_eq!(reply(c.wait_with_output().await.expect("curl")).status, 200);
    }
    // And new requests are accepted again.
    let (r, _) = post(&mut srv, "text/plain", "after", 1).await;
    assert_eq!(r.status, 200);
    srv.stop().await;
}

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, all
    /// signed by the CA; plus a client certificate from another CA.
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
        let dir = tempfile::tempdir().expect("tmp");
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("write pem")
        };
        // Distinct subjects: OpenSSL takes a leaf whose issuer equals its subject for
        // self-signed.
        let named = |sans: Vec<String>, cn: &str| {
            let mut p = CertificateParams::new(sans).expect("params");
            p.distinguished_name = rcgen::DistinguishedName::new();
            p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            p
        };
        let make_ca = |cn: &str| {
            let mut p = named(Vec::new(), cn);
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let key = KeyPair::generate().expect("ca key");
            let cert = p.self_signed(&key).expect("ca cert");
            (cert, key)
        };
        let (ca, ca_key) = make_ca("test CA");
        write("ca.pem", ca.pem());
        let leaf = |sans: Vec<String>,
                    purpose: ExtendedKeyUsagePurpose,
                    ca: &rcgen::Certificate,
                    ca_key: &KeyPair| {
            let cn = sans.first().cloned().unwrap_or_default();
            let mut p = named(sans, &cn);
            p.extended_key_usages = vec![purpose];
            let key = KeyPair::generate().expect("key");
            let cert = p.signed_by(&key, ca, ca_key).expect("sign");
            (cert.pem(), key.serialize_pem())
        };
        let (c, k) = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca,
            &ca_key,
        );
        write("server.pem", c);
        write("server.key", k);
        let (c, k) = leaf(
            vec!["client".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
            &ca,
            &ca_key,
        );
        write("client.pem", c);
        write("client.key", k);
        let (other, other_key) = make_ca("other CA");
        let (c, k) = leaf(
            vec!["intruder".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
            &other,
            &other_key,
        );
        write("other.pem", c);
        write("other.key", k);
        Pki { dir }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_and_with_client_certificates() {
    if !have_curl() {
        return;
    }
    let pki = Pki::new();
    let base = format!(
        r#"ssl_enabled => true ssl_certificate => "{}" ssl_key => "{}""#,
        pki.path("server.pem"),
        pki.path("server.key")
    );
    let mut srv = Server::start(&base, 10).await;
    let url = format!("https://localhost:{}/", srv.port);
    let ca = pki.path("ca.pem");
    let child = curl_command(&["--cacert", &ca, "--data-binary", "secure", &url])
        .spawn()
        .expect("curl");
    let e = match tokio::time::timeout(Duration::from_secs(10), srv.rx.recv()).await {
        Ok(Some(e)) => e,
        _ => {
            let r = reply(child.wait_with_output().await.expect("curl"));
            panic!(
                "no event over TLS: curl exit {} status {} {}",
                r.exit, r.status, r.headers
            );
        }
    };
    assert_eq!(get(&e, "message"), s("secure"));
    drop(e);
    assert_eq!(
        reply(child.wait_with_output().await.expect("curl")).status,
        200
    );
    // Plain HTTP on the TLS port gets nothing.
    let plain = curl(&["--data-binary", "x", &srv.url("/")]).await;
    assert_eq!(plain.status, 0);
    assert!(srv.rx.try_recv().is_err());
    srv.stop().await;

    // The deprecated `ssl_verify_mode => force_peer` is `ssl_client_authentication => required`.
    let mut srv = Server::start(
        &format!(
            r#"{base} ssl_certificate_authorities => ["{ca}"] ssl_verify_mode => "force_peer""#
        ),
        10,
    )
    .await;
    let url = format!("https://localhost:{}/", srv.port);
    let no_cert = curl(&["--cacert", &ca, "--data-binary", "x", &url]).await;
    assert_ne!(
        no_cert.status, 200,
        "a client without a certificate is refused"
    );
    assert_ne!(no_cert.exit, 0);
    let intruder = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &pki.path("other.pem"),
        "--key",
        &pki.path("other.key"),
        "--data-binary",
        "x",
        &url,
    ])
    .await;
    assert_ne!(
        intruder.status, 200,
        "a certificate from another CA is refused"
    );
    assert!(srv.rx.try_recv().is_err());
    let child = curl_command(&[
        "--cacert",
        &ca,
        "--cert",
        &pki.path("client.pem"),
        "--key",
        &pki.path("client.key"),
        "--data-binary",
        "mutual",
        &url,
    ])
    .spawn()
    .expect("curl");
    let e = srv.next().await;
    assert_eq!(get(&e, "message"), s("mutual"));
    drop(e);
    assert_eq!(
        reply(child.wait_with_output().await.expect("curl")).status,
        200
    );
    srv.stop().await;
}

#[test]
fn options_are_checked_as_logstash_8() {
    let err = |opts: &str| match build(opts) {
        Ok(_) => panic!("accepted: {opts}"),
        Err(e) => e,
    };
    let e = err("response_code => 404");
    assert!(e.contains("200, 201, 202, 204"), "{e}");
    let e = err(r#"keystore => "/tmp/ks.jks" keystore_password => "x""#);
    assert!(e.contains("keystore") && e.contains("PEM"), "{e}");
    let e = err(r#"ssl_keystore_path => "/tmp/ks.p12""#);
    assert!(e.contains("ssl_certificate"), "{e}");
    let e = err("ssl => true ssl_enabled => true");
    assert!(e.contains("deprecated name of `ssl_enabled`"), "{e}");
    // `ssl => true` is `ssl_enabled => true`: then a certificate is required.
    let e = err("ssl => true");
    assert!(e.contains("ssl_certificate"), "{e}");
    let e = err(r#"ssl_verify_mode => "peer" verify_mode => "none""#);
    assert!(e.contains("Use only `ssl_verify_mode`"), "{e}");
    let e = err(r#"additional_codecs => { "text/csv" => "no_such_codec" }"#);
    assert!(e.contains("no_such_codec"), "{e}");
    let e = err(
        r#"ssl_enabled => true ssl_certificate => "/c.pem" ssl_key => "/k.pem" ssl_certificate_authorities => ["/ca.pem"]"#,
    );
    assert!(
        e.contains("requires setting `ssl_client_authentication`"),
        "{e}"
    );
    assert!(build("").is_ok());
    assert!(
        build(r#"ssl_enabled => false ssl_certificate => "/nope""#).is_ok(),
        "ignored when off"
    );
}
