//! Several pipelines in one process from `--path.settings` (pipelines.yml + logstash.yml):
//! the distributor pattern of Logstash's pipeline-to-pipeline docs (one intake pipeline
//! routes by content to three others), the collector pattern (two pipelines send to one),
//! a broken pipeline reported without stopping the others, and `-t` over every pipeline.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn write_settings(dir: &Path, broken: bool) {
    let out = |name: &str| dir.join(format!("{name}.log")).display().to_string();
    let sink = |addr: &str, route: &str| {
        format!(
            "input {{ pipeline {{ address => \"{addr}\" }} }} filter {{ mutate {{ add_field => {{ \"route\" => \"{route}\" }} }} }} output {{ file {{ path => \"{}\" codec => json_lines }} }}",
            out(route)
        )
    };
    let mut yml = String::new();
    // The distributor: routes by content.
    yml.push_str("- pipeline.id: intake\n  pipeline.workers: 1\n  config.string: |\n");
    yml.push_str("    input { generator { lines => [\"apache GET /index.html\", \"system boot ok\", \"other thing\"] count => 100 } }\n");
    yml.push_str("    output {\n      if [message] =~ /^apache/ { pipeline { send_to => [\"weblogs\"] } }\n      else if [message] =~ /^system/ { pipeline { send_to => [\"syslog\"] } }\n      else { pipeline { send_to => [\"fallback\"] } }\n    }\n");
    // A second upstream sending to the same address (the collector pattern).
    yml.push_str("- pipeline.id: second-intake\n  config.string: 'input { generator { message => \"apache from second\" count => 50 } } output { pipeline { send_to => [\"weblogs\"] } }'\n");
    for (id, addr, route) in [
        ("weblog-processing", "weblogs", "web"),
        ("syslog-processing", "syslog", "sys"),
        ("fallback-processing", "fallback", "other"),
    ] {
        yml.push_str(&format!(
            "- pipeline.id: {id}\n  config.string: '{}'\n",
            sink(addr, route)
        ));
    }
    if broken {
        yml.push_str("- pipeline.id: broken\n  config.string: 'input { generator { count => 1 } } filter { grok { nosuch_option => 1 } } output { stdout {} }'\n");
    }
    std::fs::write(dir.join("pipelines.yml"), yml).expect("pipelines.yml");
    std::fs::write(
        dir.join("logstash.yml"),
        format!(
            "path.data: {}\npipeline:\n  batch:\n    size: 10\nxpack.monitoring.enabled: false\n",
            dir.join("data").display()
        ),
    )
    .expect("logstash.yml");
}

#[test]
fn distributor_and_collector_patterns_run_and_a_broken_pipeline_is_isolated() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_settings(dir.path(), true);
    let child = bin()
        .arg("--path.settings")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let (web, sys, other) = (
        dir.path().join("web.log"),
        dir.path().join("sys.log"),
        dir.path().join("other.log"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline
        && !(lines(&web).len() >= 150 && lines(&sys).len() >= 100 && lines(&other).len() >= 100)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let anything extra (duplicates) show up before counting.
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let out = child.wait_with_output().expect("exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let web = lines(&web);
    let sys = lines(&sys);
    let other = lines(&other);
    // `count => 100` emits the three lines 100 times each; weblogs also gets the 50 of
    // the second intake.
    assert_eq!(web.len(), 150, "{stderr}");
    assert_eq!(sys.len(), 100, "{stderr}");
    assert_eq!(other.len(), 100, "{stderr}");
    assert!(web.iter().all(|e| e["route"] == "web"
        && e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("apache"))));
    assert_eq!(
        web.iter()
            .filter(|e| e["message"] == "apache from second")
            .count(),
        50,
        "the collector pattern: both upstream pipelines reach weblogs"
    );
    assert!(sys
        .iter()
        .all(|e| e["message"] == "system boot ok" && e["route"] == "sys"));
    assert!(other.iter().all(|e| e["message"] == "other thing"));
    // The broken pipeline is reported with its option, the others ran anyway.
    assert!(stderr.contains("nosuch_option"), "{stderr}");
    assert!(
        stderr.contains("pipeline did not run: invalid configuration") && stderr.contains("broken"),
        "{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a pipeline never ran: exit 1\n{stderr}"
    );
}

#[test]
fn config_test_checks_every_pipeline() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_settings(dir.path(), true);
    let out = bin()
        .args(["-t", "--path.settings"])
        .arg(dir.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("== pipeline broken"), "{stderr}");
    assert!(stderr.contains("nosuch_option"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("Configuration OK").count(), 5, "{stdout}");

    write_settings(dir.path(), false);
    let out = bin()
        .args(["-t", "--path.settings"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn settings_errors_name_the_file_and_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("logstash.yml"), "pipeline.wrokers: 2\n").expect("write");
    let out = bin()
        .args([
            "-t",
            "-e",
            "input { stdin {} } output { stdout {} }",
            "--path.settings",
        ])
        .arg(dir.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("logstash.yml: pipeline.wrokers: unknown setting"),
        "{stderr}"
    );
}
