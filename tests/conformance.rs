//! Scores the binary against Logstash's own test cases (`../shared/conformance`) with the
//! shared runner, and fails when a file's pass count drops below its floor. The floors
//! only ever go up: raise them when more cases pass.

use std::path::PathBuf;
use std::process::Command;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance")
}

/// Runs `run.py` on one case file; returns (passed, failed) and prints its report.
fn score(file: &str, extra: &[&str]) -> (usize, usize) {
    let dir = shared();
    assert!(dir.join("run.py").exists(), "conformance corpus missing at {}", dir.display());
    let out = Command::new("python3")
        .arg(dir.join("run.py"))
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args(extra)
        .args(["--show", "50", "--timeout", "20"])
        .arg(dir.join("cases").join(file))
        .output()
        .expect("python3 must be installed to run the conformance corpus");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    let last = text.lines().rev().find(|l| l.starts_with("conformance:")).unwrap_or_default();
    let nums: Vec<usize> = last.split(|c: char| !c.is_ascii_digit()).filter_map(|s| s.parse().ok()).collect();
    assert_eq!(nums.len(), 2, "unexpected runner output: {text}");
    (nums[0], nums[1])
}

fn check(file: &str, floor: usize, extra: &[&str]) {
    let (passed, failed) = score(file, extra);
    eprintln!("{file}: {passed} passed, {failed} failed (floor {floor})");
    assert!(passed >= floor, "{file}: {passed} passed, below the floor of {floor}");
}

#[test]
fn config_parse() {
    check("config-parse.jsonl", 83, &["--syntax-args", "check --syntax-only -f {config}"]);
}

#[test]
fn conditionals() {
    check("conditionals.jsonl", 0, &[]);
}
