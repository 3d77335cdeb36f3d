//! SIGKILL with `queue.type: persisted` for the inputs that cannot replay: every event the
//! input took in (HTTP: answered 200; TCP: written to the queue) while the search engine
//! was down is delivered after a restart, with the file of the first run gone.

use logstash_mesos_pipeline::queue::pages;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(data: &Path, config: &str) -> Proc {
    Proc(
        Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
            .args(["--queue.type", "persisted", "--path.data"])
            .arg(data)
            .arg("-e")
            .arg(config)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn wait_port(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn numbers(out: &Path) -> Vec<u64> {
    let mut v: Vec<u64> = std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| {
            e["n"]
                .as_u64()
                .or_else(|| e["message"].as_str()?.strip_prefix("line ")?.parse().ok())
        })
        .collect();
    v.sort_unstable();
    v
}

fn deliver_after_restart(data: &Path, input: &str, out: &Path, want: &[u64]) {
    let _second = run(
        data,
        &format!(
            "input {{ {input} }} output {{ file {{ path => \"{}\" }} }}",
            out.display()
        ),
    );
    let start = Instant::now();
    while numbers(out).len() < want.len() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {} of {} delivered",
            numbers(out).len(),
            want.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut got = numbers(out);
    got.dedup();
    assert_eq!(got, want, "every acknowledged event, once");
}

fn dead_es() -> String {
    format!(
        "elasticsearch {{ hosts => [\"http://127.0.0.1:{}\"] }}",
        free_port()
    )
}

#[test]
fn http_requests_answered_200_survive_sigkill() {
    if Command::new("curl").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "curl is missing"
        );
        eprintln!("\n!!!!!!!! SKIPPING: curl is missing !!!!!!!!\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let input = format!("http {{ host => \"127.0.0.1\" port => {port} }}");
    let first = run(
        &data,
        &format!("input {{ {input} }} output {{ {} }}", dead_es()),
    );
    wait_port(port);
    // The search engine is down: a 200 means "in the queue", not "delivered".
    let mut acked = Vec::new();
    for n in 0..200u64 {
        let ok = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10"])
            .args(["-H", "Content-Type: application/json", "-d"])
            .arg(format!("{{\"n\":{n}}}"))
            .arg(format!("http://127.0.0.1:{port}/"))
            .output()
            .unwrap();
        if ok.stdout == b"200" {
            acked.push(n);
        }
    }
    assert_eq!(
        acked.len(),
        200,
        "the persisted queue answers while the outputs are down"
    );
    drop(first); // SIGKILL
    deliver_after_restart(&data, &input, &dir.path().join("out.ndjson"), &acked);
}

#[test]
fn tcp_lines_in_the_queue_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let input = format!("tcp {{ host => \"127.0.0.1\" port => {port} }}");
    let first = run(
        &data,
        &format!("input {{ {input} }} output {{ {} }}", dead_es()),
    );
    wait_port(port);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let text: String = (0..5000).map(|i| format!("line {i}\n")).collect();
    s.write_all(text.as_bytes()).unwrap();
    drop(s);
    // TCP has no acknowledgement: "taken in" is what the queue holds.
    let qdir = data.join("queue").join("main");
    let start = Instant::now();
    while pages::count_records(&qdir).unwrap_or(0) < 5000 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} of 5000 lines queued",
            pages::count_records(&qdir).unwrap_or(0)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(first); // SIGKILL
    deliver_after_restart(
        &data,
        &input,
        &dir.path().join("out.ndjson"),
        &(0..5000).collect::<Vec<_>>(),
    );
}

/// Waits until the queue's record count stops changing; returns it.
fn queued_settles(qdir: &Path, at_least: u64) -> u64 {
    let start = Instant::now();
    let mut last = (u64::MAX, Instant::now());
    loop {
        let n = pages::count_records(qdir).unwrap_or(0);
        if n != last.0 {
            last = (n, Instant::now());
        } else if n >= at_least && last.1.elapsed() > Duration::from_millis(700) {
            return n;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{n} records queued, want {at_least}+"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn events(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn wait_events(out: &Path, n: usize) -> Vec<serde_json::Value> {
    let start = Instant::now();
    while events(out).len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {} of {n} delivered",
            events(out).len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    events(out)
}

fn need(tool: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is missing (scripts/setup/)"
        );
        eprintln!("\n!!!!!!!! SKIPPING: {tool} is missing !!!!!!!!\n");
    }
    ok
}

#[test]
fn udp_datagrams_in_the_queue_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let input = format!("udp {{ host => \"127.0.0.1\" port => {port} }}");
    let first = run(
        &data,
        &format!("input {{ {input} }} output {{ {} }}", dead_es()),
    );
    let qdir = data.join("queue").join("main");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // Until the input listens, datagrams go nowhere: probe first.
    let start = Instant::now();
    while pages::count_records(&qdir).unwrap_or(0) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the udp input never queued"
        );
        let _ = sock.send_to(b"line 100000", ("127.0.0.1", port));
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 0..2000u64 {
        sock.send_to(format!("line {i}").as_bytes(), ("127.0.0.1", port))
            .unwrap();
        if i % 100 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // UDP has no acknowledgement: what the queue holds at the kill is what must arrive.
    let queued = queued_settles(&qdir, 1000);
    drop(first); // SIGKILL
    let out = dir.path().join("out.ndjson");
    let _second = run(
        &data,
        &format!(
            "input {{ {input} }} output {{ file {{ path => \"{}\" }} }}",
            out.display()
        ),
    );
    let got = wait_events(&out, queued as usize);
    assert_eq!(got.len() as u64, queued, "every queued datagram, once");
}

#[test]
fn syslog_messages_in_the_queue_survive_sigkill() {
    if !need("logger") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let input = format!("syslog {{ host => \"127.0.0.1\" port => {port} }}");
    let first = run(
        &data,
        &format!("input {{ {input} }} output {{ {} }}", dead_es()),
    );
    wait_port(port);
    let lines: String = (0..500).map(|i| format!("line {i}\n")).collect();
    let mut logger = Command::new("logger")
        .args([
            "--server",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--tcp",
            "--rfc3164",
            "-t",
            "killtest",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    logger
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    assert!(logger.wait().unwrap().success());
    let qdir = data.join("queue").join("main");
    assert_eq!(queued_settles(&qdir, 500), 500);
    drop(first); // SIGKILL
    deliver_after_restart(
        &data,
        &input,
        &dir.path().join("out.ndjson"),
        &(0..500).collect::<Vec<_>>(),
    );
}

#[test]
fn gelf_messages_in_the_queue_survive_sigkill() {
    if Command::new("python3")
        .args(["-c", "import graypy"])
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "graypy is missing (scripts/setup/gelf.sh)"
        );
        eprintln!("\n!!!!!!!! SKIPPING: graypy is missing !!!!!!!!\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let input = format!(
        "gelf {{ host => \"127.0.0.1\" use_udp => false use_tcp => true port_tcp => {port} }}"
    );
    let first = run(
        &data,
        &format!("input {{ {input} }} output {{ {} }}", dead_es()),
    );
    wait_port(port);
    let script = format!(
        "import logging, graypy\nlog = logging.getLogger('k')\nlog.setLevel(logging.INFO)\nh = graypy.GELFTCPHandler('127.0.0.1', {port})\nlog.addHandler(h)\nfor i in range(300):\n    log.info('line %d' % i)\nh.close()\n"
    );
    assert!(Command::new("python3")
        .args(["-c", &script])
        .status()
        .unwrap()
        .success());
    let qdir = data.join("queue").join("main");
    assert_eq!(queued_settles(&qdir, 300), 300);
    drop(first); // SIGKILL
    deliver_after_restart(
        &data,
        &input,
        &dir.path().join("out.ndjson"),
        &(0..300).collect::<Vec<_>>(),
    );
}

/// Builds the go-lumber test client (testdata/beats/client; scripts/setup/golumber.sh).
fn go_client() -> Option<std::path::PathBuf> {
    let go = ["/usr/local/go/bin/go", "go"].into_iter().find(|g| {
        Command::new(g)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(go) = go else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "go is missing (scripts/setup/golumber.sh)"
        );
        eprintln!("\n!!!!!!!! SKIPPING: go is missing !!!!!!!!\n");
        return None;
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| repo.join("target"));
    let out = target.join("beats-test-client").join("ljclient-kill");
    let o = Command::new(go)
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(repo.join("testdata/beats/client"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(out)
}

#[test]
fn beats_windows_acked_survive_sigkill() {
    let Some(client) = go_client() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let input = format!("beats {{ host => \"127.0.0.1\" port => {port} }}");
    let first = run(
        &data,
        &format!("input {{ {input} }} output {{ {} }}", dead_es()),
    );
    wait_port(port);
    // The client exits once every window is ACKed: with the search engine down, an ACK
    // means "in the persisted queue".
    let o = Command::new(&client)
        .args([
            "-addr",
            &format!("127.0.0.1:{port}"),
            "-windows",
            "5",
            "-events",
            "100",
            "-timeout",
            "20s",
        ])
        .output()
        .unwrap();
    let acks = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains("\"kind\":\"ack\"") && l.contains("\"seq\":100"))
        .count();
    assert!(
        o.status.success() && acks == 5,
        "client: {} {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    drop(first); // SIGKILL
    let out = dir.path().join("out.ndjson");
    let _second = run(
        &data,
        &format!(
            "input {{ {input} }} output {{ file {{ path => \"{}\" }} }}",
            out.display()
        ),
    );
    let got = wait_events(&out, 500);
    let mut ids: Vec<(u64, u64)> = got
        .iter()
        .filter_map(|e| Some((e["w"].as_u64()?, e["i"].as_u64()?)))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        500,
        "every acknowledged event, once: {} events",
        got.len()
    );
}
