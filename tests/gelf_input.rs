//! The gelf input with a real GELF client: graypy (installed by scripts/setup/gelf.sh)
//! sends over UDP — zlib-compressed and chunked — and over TCP to `logstash-mesos run`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn have_graypy() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import graypy"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let msg = "graypy is missing (run scripts/setup/gelf.sh)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("\n!!!!!!!! SKIPPING gelf test: {msg} !!!!!!!!\n");
    }
    ok
}

/// Kills the shipper when the test ends, passed or not (a leftover would hold the test
/// harness's output pipe open).
struct Shipper(std::process::Child);

impl Drop for Shipper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn events(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn graypy_over_udp_chunked_and_tcp() {
    if !have_graypy() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let (udp, tcp) = (free_port(), free_port());
    let child = bin()
        .arg("--path.data")
        .arg(dir.path().join("data"))
        .arg("-e")
        .arg(format!(
            "input {{ gelf {{ host => \"127.0.0.1\" port_udp => {udp} port_tcp => {tcp} use_tcp => true }} }} output {{ file {{ path => \"{}\" }} }}",
            out.display()
        ))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Shipper(child);
    // The TCP port answers once the input runs (both listeners start together).
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", tcp)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "gelf input never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Numbers, so zlib cannot squeeze it into one 512-byte chunk.
    let long: String = (0..3000u64)
        .map(|i| (i * 7919 % 10007).to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let script = format!(
        r#"
import logging, graypy
log = logging.getLogger("lsm")
log.setLevel(logging.INFO)
udp = graypy.GELFUDPHandler("127.0.0.1", {udp}, gelf_chunker=graypy.handler.GELFWarningChunker(chunk_size=512), compress=True, facility="app")
tcp = graypy.GELFTCPHandler("127.0.0.1", {tcp}, facility="app")
log.addHandler(udp)
log.info("short over udp", extra={{"user_id": 42}})
log.warning(" ".join(str(i * 7919 % 10007) for i in range(3000)))
log.removeHandler(udp)
log.addHandler(tcp)
log.error("over tcp", extra={{"request": "abc"}})
tcp.close()
"#
    );
    let status = Command::new("python3")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    while events(&out).len() < 3 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.0.id().to_string())
        .status();
    let _ = child.0.wait();
    let got = events(&out);
    assert_eq!(got.len(), 3, "{got:#?}");
    let by_msg = |m: &str| {
        got.iter()
            .find(|e| e["message"].as_str().is_some_and(|x| x.starts_with(m)))
            .unwrap_or_else(|| panic!("no event {m:?} in {got:#?}"))
            .clone()
    };
    let short = by_msg("short over udp");
    assert_eq!(short["source_host"], "127.0.0.1");
    assert_eq!(short["user_id"], 42);
    assert_eq!(short["level"], 6, "syslog level of INFO");
    assert_eq!(short["logger"], "lsm", "`_logger` lost its underscore");
    assert_eq!(short["facility"], "app");
    assert!(short.get("short_message").is_none() && short.get("timestamp").is_none());
    assert!(short["@timestamp"]
        .as_str()
        .is_some_and(|t| t.starts_with("20")));
    // Chunked: 14 KB zlib-compressed into several 512-byte chunks, reassembled.
    let long_event = by_msg("0 7919 ");
    assert_eq!(long_event["message"].as_str().unwrap(), long);
    let over_tcp = by_msg("over tcp");
    assert_eq!(over_tcp["request"], "abc");
    assert_eq!(over_tcp["level"], 3);
}
