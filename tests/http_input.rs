//! The `http` input through the binary: `logstash-mesos run -e 'input { http { port => P } }
//! output { file { ... codec => json_lines } }'`, curl as the client. The 200 comes only
//! after the file output wrote the events, so the file holds them the moment curl returns;
//! SIGTERM then stops the pipeline cleanly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn missing(msg: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("\n!!!!!!!! SKIPPING http input test: {msg} !!!!!!!!\n");
    false
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("addr").port()
}

fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", stdout.as_str()));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn http_to_file_through_the_binary() {
    if Command::new("curl").arg("--version").output().is_err() {
        missing("curl not found: run scripts/setup/nettools.sh");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out.ndjson");
    let port = free_port();
    let config = format!(
        "input {{ http {{ host => \"127.0.0.1\" port => {port} additional_codecs => {{ \"application/json\" => \"json\" \"application/x-ndjson\" => \"json_lines\" }} }} }} \
         output {{ file {{ path => \"{}\" codec => json_lines }} }}",
        out.display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .arg("run")
        .arg("--path.data")
        .arg(dir.path().join("data"))
        .arg("-e")
        .arg(&config)
        .stdout(Stdio::null())
        .spawn()
        .expect("start logstash-mesos");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline || child.try_wait().expect("poll").is_some() {
            let _ = child.kill();
            panic!("the http input did not start listening on {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("http://127.0.0.1:{port}/hook");

    let (code, body) = curl(&[
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        r#"{"hello":"world"}"#,
        &url,
    ]);
    assert_eq!((code, body.as_str()), (200, "ok"));
    // Written before the 200: no waiting here.
    let got = lines(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["hello"], "world");
    assert_eq!(got[0]["url"]["path"], "/hook");
    assert_eq!(got[0]["http"]["method"], "POST");
    assert_eq!(got[0]["host"]["ip"], "127.0.0.1");
    assert!(got[0].get("@metadata").is_none());

    let (code, _) = curl(&[
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        r#"[{"n":1},{"n":2}]"#,
        &url,
    ]);
    assert_eq!(code, 200);
    let (code, _) = curl(&[
        "-H",
        "Content-Type: application/x-ndjson",
        "--data-binary",
        "{\"n\":3}\n{\"n\":4}\n",
        &url,
    ]);
    assert_eq!(code, 200);
    let (code, _) = curl(&["--data-binary", "plain text", &url]);
    assert_eq!(code, 200);
    let got = lines(&out);
    assert_eq!(got.len(), 6, "{got:?}");
    let ns: Vec<_> = got[1..5].iter().map(|v| v["n"].as_i64()).collect();
    assert_eq!(ns, vec![Some(1), Some(2), Some(3), Some(4)]);
    assert_eq!(got[5]["message"], "plain text");
    assert_eq!(got[5]["event"]["original"], "plain text");

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("poll") {
            assert!(status.success(), "exit status {status:?}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("logstash-mesos did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
