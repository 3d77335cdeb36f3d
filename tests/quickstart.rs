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

/// The example `cargo test --all-targets` built: `cargo build` leaves it at
/// `examples/quickstart`, `cargo test` only as `examples/quickstart-<hash>` (the newest).
fn example_binary(bin: &std::path::Path) -> PathBuf {
    let dir = bin.parent().expect("target dir").join("examples");
    let plain = dir.join("quickstart");
    if plain.is_file() {
        return plain;
    }
    std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("quickstart-") && !name.contains('.')
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map_or(plain, |(_, p)| p)
}

#[test]
fn quickstart_brings_up_the_demo_and_ships_nginx_lines() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_logstash-mesos"));
    let example = example_binary(&bin);
    assert!(
        example.is_file(),
        "{} is missing: `cargo test --workspace --all-targets` builds it, or run \
         `cargo build --example quickstart`",
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
