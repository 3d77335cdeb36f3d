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
    assert!(
        dir.join("run.py").exists(),
        "conformance corpus missing at {}",
        dir.display()
    );
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
    let last = text
        .lines()
        .rev()
        .find(|l| l.starts_with("conformance:"))
        .unwrap_or_default();
    let nums: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    assert_eq!(nums.len(), 2, "unexpected runner output: {text}");
    (nums[0], nums[1])
}

fn check(file: &str, floor: usize, extra: &[&str]) {
    let (passed, failed) = score(file, extra);
    eprintln!("{file}: {passed} passed, {failed} failed (floor {floor})");
    assert!(
        passed >= floor,
        "{file}: {passed} passed, below the floor of {floor}"
    );
}

/// The grammar and the plugin-independent rules: every case, including those naming
/// invented plugins or invented options of real plugins (their stage is "parse").
#[test]
fn config_parse_syntax() {
    check(
        "config-parse.jsonl",
        83,
        &["--check-args", "check --syntax-only -f {config}"],
    );
}

/// The command: plain `check` resolves plugins and options, so the four cases that
/// give `generator` invented options (config-017..020) and the one using the `http` input
/// (config-061, a plugin this product does not ship) are rejected, as `logstash -t` would.
#[test]
fn config_parse_full_check() {
    check(
        "config-parse.jsonl",
        78,
        &["--syntax-args", "check --syntax-only -f {config}"],
    );
}

#[test]
fn conditionals() {
    check("conditionals.jsonl", 104, &[]);
}

#[test]
fn grok_patterns() {
    check("grok-patterns.jsonl", 456, &[]);
}

/// grok-filter-079/081 expect a timeout from a backtracking engine; their patterns run on
/// the linear-time `regex` engine here and finish quickly without one.
#[test]
fn grok_filter() {
    check("grok-filter.jsonl", 106, &[]);
}

#[test]
fn date() {
    check("date.jsonl", 62, &[]);
}

/// Including mutate-120..123: integers beyond 64 bits, kept exact (`Value::BigInteger`).
#[test]
fn mutate() {
    check("mutate.jsonl", 153, &[]);
}

#[test]
fn kv() {
    check("kv.jsonl", 60, &[]);
}

/// Including dissect-005, an integer beyond 64 bits.
#[test]
fn dissect() {
    check("dissect.jsonl", 26, &[]);
}

/// json-004 asserts Logstash 7.0–8.2 behaviour; 8.3+ accepts such keys, as we do.
#[test]
fn json() {
    check("json.jsonl", 15, &[]);
}

// ---- agg: the cef codec and the elapsed filter ----

/// Codec cases: `input_line` through `stdin { codec => cef ... }` (legacy and ECS names,
/// escapes, delimiter buffering, syslog headers, raw_data_field, timestamps).
#[test]
fn cef() {
    check("cef.jsonl", 90, &[]);
}

#[test]
fn elapsed() {
    check("elapsed.jsonl", 2, &[]);
}
