//! The README's quickstart command, `scripts/quickstart.sh`, in its checking mode: the
//! whole local demo comes up (simulated Mesos master, a node's own Docker daemon with an
//! NGINX-log container, the scheduler, the agent it launches, osmem-server) and parsed
//! NGINX lines reach the search engine. The script is given the binaries this test run
//! built, so it does not build again.
//!
//! Needs Docker and osmem-server (the script's setup installs them); with `CI=true` the
//! demo's own checks fail when either is missing.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn quickstart_brings_up_the_demo_and_ships_nginx_lines() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_logstash-mesos"));
    // `scripts/test.sh` builds it (`cargo test --all-targets` builds examples only as test
    // harnesses, under hashed names).
    let example = bin
        .parent()
        .expect("target dir")
        .join("examples/quickstart");
    assert!(
        example.is_file(),
        "{} is missing: scripts/test.sh builds it; by hand: `cargo build --example quickstart`",
        example.display()
    );
    let out = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/quickstart.sh"
        ))
        .args(["--check", "20"])
        .env("QUICKSTART_EXAMPLE", &example)
        .env("LOGSTASH_MESOS_BIN", &bin)
        .output()
        .expect("scripts/quickstart.sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "quickstart failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // It told the user where to look, and the check saw parsed documents.
    for needle in [
        "web UI and REST API",
        "/v1/configs/nginx",
        "_search",
        "quickstart check passed: ",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not printed:\n{stdout}");
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        assert!(
            !stdout.contains("no osmem-server"),
            "CI=true: the demo ran without its search engine:\n{stdout}"
        );
    }
}
