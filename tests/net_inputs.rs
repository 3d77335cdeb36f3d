//! The `tcp`, `udp` and `syslog` inputs through the `logstash-mesos` binary, as a user
//! runs them: one config with all three, real senders (`socat`, `nc`, `logger`; installed
//! by scripts/setup/nettools.sh), events read from `stdout { codec => json_lines }`. A
//! missing tool prints a loud SKIPPING notice, and fails under `CI=true`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
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

fn free_port() -> u16 {
    loop {
        let t = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn sh(script: &str, input: &[u8]) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_tcp(port: u16, proc: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = proc.try_wait() {
            panic!("logstash-mesos exited early: {status}");
        }
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The binary running a config, its stdout lines parsed as JSON events.
struct Pipeline {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
    _dir: tempfile::TempDir,
}

impl Pipeline {
    fn start(config: &str) -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("net.conf");
        std::fs::write(&conf, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
            .arg("-f")
            .arg(&conf)
            .arg("--path.data")
            .arg(dir.path().join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Pipeline {
            child,
            lines,
            _dir: dir,
        }
    }

    /// Events until `done` says enough (or a timeout).
    fn until(
        &self,
        secs: u64,
        mut done: impl FnMut(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut out = Vec::new();
        // `done` is asked again every 200 ms even when nothing arrives, so it can resend.
        while !done(&out) {
            assert!(Instant::now() < deadline, "timed out; got {out:#?}");
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(v) => out.push(v),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("the pipeline's stdout closed; got {out:#?}")
                }
            }
        }
        out
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("logstash-mesos did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Pipeline {
    /// A failed test must not leave the process running: it would hold the test
    /// harness's output pipe open (and its ports).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tagged<'a>(events: &'a [serde_json::Value], tag: &str) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|e| {
            e["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|x| x == tag))
        })
        .collect()
}

#[test]
fn tcp_udp_and_syslog_inputs_in_one_pipeline() {
    if !(have("socat") && have("nc") && have("logger")) {
        return;
    }
    let (tcp, udp, syslog) = (free_port(), free_port(), free_port());
    let mut p = Pipeline::start(&format!(
        r#"input {{
  tcp {{ host => "127.0.0.1" port => {tcp} codec => json_lines tags => ["tcp"] }}
  udp {{ host => "127.0.0.1" port => {udp} tags => ["udp"] }}
  syslog {{ host => "127.0.0.1" port => {syslog} tags => ["syslog"] }}
}}
filter {{
  if "tcp" in [tags] {{
    mutate {{ copy => {{ "[@metadata][input][tcp][source][ip]" => "src_ip" }} }}
  }}
}}
output {{ stdout {{ codec => json_lines }} }}
"#
    ));
    let child_check = |port| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nothing listens on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    child_check(tcp);
    child_check(syslog);
    sh(
        &format!("socat -u - TCP:127.0.0.1:{tcp}"),
        b"{\"n\":1,\"message\":\"json one\"}\n{\"n\":2}\n",
    );
    sh(
        &format!("logger --server 127.0.0.1 --port {syslog} --tcp --rfc3164 -t binapp -p daemon.info 'via the binary'"),
        b"",
    );
    sh(
        &format!("logger --server 127.0.0.1 --port {syslog} --udp --rfc5424 -t binapp5 --msgid M1 'five424'"),
        b"",
    );
    // The udp input may bind a moment after the tcp ports: resend until one arrives.
    let mut sent_udp = Instant::now() - Duration::from_secs(1);
    let events = p.until(30, |ev| {
        if tagged(ev, "udp").is_empty() && sent_udp.elapsed() > Duration::from_millis(300) {
            sh(
                &format!("printf 'udp hello' | nc -u -w0 127.0.0.1 {udp}"),
                b"",
            );
            sent_udp = Instant::now();
        }
        tagged(ev, "tcp").len() >= 2
            && tagged(ev, "syslog").len() >= 2
            && !tagged(ev, "udp").is_empty()
    });
    let t = tagged(&events, "tcp");
    assert_eq!(t[0]["message"], "json one");
    assert_eq!(t[0]["n"], 1);
    assert_eq!(t[1]["n"], 2);
    assert_eq!(t[0]["src_ip"], "127.0.0.1");
    let u = tagged(&events, "udp");
    assert_eq!(u[0]["message"], "udp hello");
    assert_eq!(u[0]["host"]["ip"], "127.0.0.1");
    let s = tagged(&events, "syslog");
    let s3164 = s
        .iter()
        .find(|e| e["message"] == "via the binary")
        .expect("rfc3164 event");
    assert_eq!(s3164["process"]["name"], "binapp");
    assert_eq!(s3164["log"]["syslog"]["priority"], 30);
    assert_eq!(s3164["log"]["syslog"]["facility"]["name"], "system");
    assert_eq!(s3164["log"]["syslog"]["severity"]["name"], "Informational");
    assert_eq!(s3164["service"]["type"], "system");
    let s5424 = s
        .iter()
        .find(|e| e["message"] == "five424")
        .expect("rfc5424 event");
    assert_eq!(s5424["log"]["syslog"]["appname"], "binapp5");
    assert_eq!(s5424["log"]["syslog"]["msgid"], "M1");
    assert_eq!(s5424["log"]["syslog"]["version"], "1");
    p.stop();
}

#[test]
fn tcp_lines_in_legacy_mode_and_partial_last_line() {
    if !have("nc") {
        return;
    }
    let port = free_port();
    let mut p = Pipeline::start(&format!(
        "input {{ tcp {{ host => \"127.0.0.1\" port => {port} ecs_compatibility => disabled dns_reverse_lookup_enabled => false }} }} output {{ stdout {{ codec => json_lines }} }}"
    ));
    wait_tcp(port, &mut p.child);
    sh(
        &format!("nc -N 127.0.0.1 {port}"),
        b"first\nsecond, no newline",
    );
    let events = p.until(20, |ev| ev.len() >= 2);
    assert_eq!(events[0]["message"], "first");
    assert_eq!(events[1]["message"], "second, no newline");
    assert_eq!(events[0]["host"], "127.0.0.1");
    assert!(events[0]["port"].as_u64().is_some_and(|p| p > 0));
    p.stop();
}

#[test]
fn config_test_reports_every_bad_network_option() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(
        &conf,
        "input { tcp { port => 70000 ssl_extra_chain_certs => [\"/x\"] } udp { port => 5 workers => 0 } syslog { grok_pattern => \"%{NO_SUCH_PATTERN}\" } } output { stdout {} }",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .arg("-t")
        .arg("-f")
        .arg(&conf)
        .arg("--path.data")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    for needle in ["70000", "ssl_extra_chain_certs", "workers", "grok_pattern"] {
        assert!(text.contains(needle), "{needle} missing from: {text}");
    }
}
