//! Scores the binary against Logstash's own test cases (`../shared/conformance`) with the
//! shared runner, and fails when a file's pass count drops below its floor. The floors
//! only ever go up: raise them when more cases pass. Cases of plugins the shared corpus
//! does not cover (it is read-only for the project) are kept in `testdata/conformance/`,
//! in the same format, and scored by the same runner.

use std::path::PathBuf;
use std::process::Command;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance")
}

/// The case file: the project's own (`testdata/conformance/`) when it has one of that
/// name, else the shared corpus's. A name found in neither is a test failure, not a skip.
fn case_file(file: &str) -> PathBuf {
    let own = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/conformance")
        .join(file);
    let path = if own.exists() {
        own
    } else {
        shared().join("cases").join(file)
    };
    assert!(
        path.exists(),
        "conformance case file missing: {}",
        path.display()
    );
    path
}

/// Runs `run.py` on one case file; returns (passed, failed) and prints its report.
fn score(file: &str, extra: &[&str]) -> (usize, usize) {
    let dir = shared();
    assert!(
        dir.join("run.py").exists(),
        "conformance corpus missing at {}",
        dir.display()
    );
    let cases = case_file(file);
    let out = Command::new("python3")
        .arg(dir.join("run.py"))
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args(extra)
        .args(["--show", "50", "--timeout", "20"])
        .arg(&cases)
        .output()
        .expect("python3 must be installed to run the conformance corpus");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    // The runner's own failures (a traceback) are on stderr; show them with the output.
    let errors = String::from_utf8_lossy(&out.stderr);
    eprintln!("{errors}");
    let last = text
        .lines()
        .rev()
        .find(|l| l.starts_with("conformance:"))
        .unwrap_or_default();
    let nums: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    assert_eq!(
        nums.len(),
        2,
        "unexpected runner output: {text}\nrunner stderr: {errors}"
    );
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

// ---- enrich filters: geoip, useragent, cidr, tld, dns ----

/// The GeoLite2 paths `scripts/setup/geoip.sh` wrote to `$LSM_ENV_DIR/geoip.env` (or the
/// `GEOIP_CITY_DB` / `GEOIP_ASN_DB` variables).
fn geoip_args() -> Option<Vec<String>> {
    let get = |var: &str| -> Option<String> {
        if let Ok(p) = std::env::var(var) {
            return Some(p);
        }
        let dir = std::env::var("LSM_ENV_DIR").unwrap_or_else(|_| {
            format!(
                "{}/.cache/logstash-mesos/env",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        let text = std::fs::read_to_string(format!("{dir}/geoip.env")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{var}=")).map(str::to_string))
    };
    Some(vec![
        "--geoip-city".into(),
        get("GEOIP_CITY_DB")?,
        "--geoip-asn".into(),
        get("GEOIP_ASN_DB")?,
    ])
}

#[test]
fn geoip() {
    let Some(args) = geoip_args() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "GeoLite2 databases missing: run scripts/setup/geoip.sh"
        );
        eprintln!("skipped: geoip cases need scripts/setup/geoip.sh");
        return;
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    check("geoip.jsonl", 29, &args);
}

#[test]
fn useragent() {
    check("useragent.jsonl", 36, &[]);
}

#[test]
fn cidr() {
    check("cidr.jsonl", 17, &[]);
}

#[test]
fn tld() {
    check("tld.jsonl", 16, &[]);
}

#[test]
fn dns() {
    check("dns.jsonl", 7, &[]);
}

// --- parse helper: csv, translate, syslog_pri, xml, urldecode, split, clone, prune, uuid,
// truncate, de_dot ---

/// csv-025/026 read dates in the process time zone; their expectations assume UTC.
#[test]
fn csv() {
    check("csv.jsonl", 29, &[]);
}

#[test]
fn translate() {
    check("translate.jsonl", 22, &[]);
}

#[test]
fn syslog_pri() {
    check("syslog_pri.jsonl", 36, &[]);
}

#[test]
fn xml() {
    check("xml.jsonl", 34, &[]);
}

#[test]
fn urldecode() {
    check("urldecode.jsonl", 8, &[]);
}

#[test]
fn split() {
    check("split.jsonl", 28, &[]);
}

#[test]
fn clone() {
    check("clone.jsonl", 19, &[]);
}

#[test]
fn prune() {
    check("prune.jsonl", 23, &[]);
}

#[test]
fn uuid() {
    check("uuid.jsonl", 2, &[]);
}

#[test]
fn truncate() {
    check("truncate.jsonl", 7, &[]);
}

#[test]
fn de_dot() {
    check("de_dot.jsonl", 29, &[]);
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

/// logstash-filter-ruby's spec cases (inline code, init, new_event_block, exceptions, file
/// scripts), run by the embedded CRuby.
#[test]
fn ruby() {
    check("filter-ruby.jsonl", 7, &[]);
}
