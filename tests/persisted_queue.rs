//! `queue.type: persisted` through the binary: what an input handed to the queue survives
//! SIGKILL, an output outage and the deletion of its source, and is delivered once the
//! process runs again.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
}

/// A port nothing listens on: the "search engine" of an outage.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn find_files(dir: &Path, name_part: &str, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                find_files(&p, name_part, out);
            } else if p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains(name_part))
            {
                out.push(p);
            }
        }
    }
}

/// The position the file input checkpointed for its file (0 when none yet).
fn sincedb_position(data: &Path) -> u64 {
    let mut files = Vec::new();
    find_files(&data.join("plugins"), "sincedb", &mut files);
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .flat_map(|v| v["entries"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["position"].as_u64())
        .max()
        .unwrap_or(0)
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn numbers(out: &Path) -> Vec<u64> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            v["message"]
                .as_str()
                .and_then(|m| m.strip_prefix("line ")?.parse().ok())
        })
        .collect()
}

/// Killed when dropped: a failed assertion must not leave the shipper running.
struct Shipper(Child);

impl Drop for Shipper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(data: &Path, config: &str, extra: &[&str]) -> Shipper {
    Shipper(
        bin()
            .args(["-w", "2", "--queue.type", "persisted", "--path.data"])
            .arg(data)
            .args(extra)
            .arg("-e")
            .arg(config)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

#[test]
fn lines_queued_during_an_outage_survive_sigkill_and_the_deletion_of_their_file() {
    const N: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("app.log");
    let text: String = (0..N).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&log, &text).unwrap();
    let input = format!(
        "input {{ file {{ path => \"{}\" start_position => \"beginning\" }} }}",
        log.display()
    );
    // 1. The search engine is down: nothing can be delivered, yet the file is read to
    //    its end into the queue (the sincedb moves on: the queue acknowledged the lines).
    let mut first = spawn(
        &data,
        &format!(
            "{input} output {{ elasticsearch {{ hosts => [\"http://127.0.0.1:{}\"] }} }}",
            dead_port()
        ),
        // Small pages: the queue spans several, as a long outage would.
        &["--queue.page_capacity", "64kb"],
    );
    wait_for(
        "the whole file in the queue",
        Duration::from_secs(60),
        || sincedb_position(&data) == text.len() as u64,
    );
    // 2. Killed, and rotation deletes the file meanwhile.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    std::fs::remove_file(&log).unwrap();
    let mut pages = Vec::new();
    find_files(&data.join("queue/main"), "page.", &mut pages);
    assert!(pages.len() > 1, "the lines are in several pages: {pages:?}");
    // 3. Back with a working output: every line arrives, once.
    let out = dir.path().join("out.ndjson");
    let mut second = spawn(
        &data,
        &format!(
            "{input} output {{ file {{ path => \"{}\" }} }}",
            out.display()
        ),
        &["--queue.page_capacity", "64kb"],
    );
    wait_for(
        "every queued line delivered",
        Duration::from_secs(60),
        || numbers(&out).len() as u64 >= N,
    );
    // Delivered pages are deleted once the position is saved.
    wait_for("delivered pages deleted", Duration::from_secs(20), || {
        let mut p = Vec::new();
        find_files(&data.join("queue/main"), "page.", &mut p);
        p.len() == 1
    });
    sigterm_and_wait(&mut second.0);
    let mut got = numbers(&out);
    got.sort();
    assert_eq!(got, (0..N).collect::<Vec<_>>(), "every line exactly once");
}

/// SIGTERM through `kill`, so the test needs no libc binding.
fn sigterm_and_wait(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(status.success(), "clean exit after SIGTERM: {status}");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn queue_settings_are_checked_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args([
            "--queue.type",
            "persisted",
            "--queue.page_capacity",
            "2mb",
            "--queue.max_bytes",
            "1mb",
            "--path.data",
        ])
        .arg(dir.path())
        .args([
            "-e",
            "input { generator { count => 1 } } output { null {} }",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("queue.max_bytes"), "{err}");
}

#[test]
fn logstash_yml_selects_the_persisted_queue() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings");
    std::fs::create_dir_all(&settings).unwrap();
    let data = dir.path().join("data");
    let qpath = dir.path().join("q");
    std::fs::write(
        settings.join("logstash.yml"),
        format!(
            "queue.type: persisted\npath.queue: {}\nqueue:\n  page_capacity: 1mb\n  max_bytes: 8mb\n  drain: true\n",
            qpath.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out.ndjson");
    let status = bin()
        .arg("--path.settings")
        .arg(&settings)
        .arg("--path.data")
        .arg(&data)
        .arg("-e")
        .arg(format!(
            "input {{ generator {{ count => 500 message => \"line 1\" }} }} output {{ file {{ path => \"{}\" }} }}",
            out.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(numbers(&out).len(), 500);
    let mut pages = Vec::new();
    find_files(&qpath.join("main"), "page.", &mut pages);
    assert_eq!(
        pages.len(),
        1,
        "the queue lives under path.queue: {pages:?}"
    );
    assert!(qpath.join("main/checkpoint.json").exists());
}
