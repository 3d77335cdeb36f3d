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
