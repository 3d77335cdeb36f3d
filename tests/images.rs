//! The container images (`docker/*.Dockerfile`, built by `scripts/build-images.sh`) on the
//! local Docker daemon, from scratch with no registry: the scheduler image runs as the
//! unprivileged user and turns healthy through its own health check; the agent image runs
//! a pipeline with a ruby filter (so every shared library and Ruby's own library made it
//! in) and turns healthy on `/status`; the
//! package's `cmd` form (`/bin/sh -c "exec logstash-mesos ..."`, as Marathon runs it)
//! works in both.
//!
//! Needs Docker (`scripts/setup/docker.sh`); with `CI=true` a missing daemon fails.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TAG: &str = "test";

fn docker(args: &[&str]) -> (bool, String) {
    let o = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("docker cli");
    let mut text = String::from_utf8_lossy(&o.stdout).to_string();
    text.push_str(&String::from_utf8_lossy(&o.stderr));
    (o.status.success(), text.trim().to_string())
}

fn docker_ok(args: &[&str]) -> String {
    let (ok, out) = docker(args);
    assert!(ok, "docker {args:?}: {out}");
    out
}

fn docker_available() -> bool {
    let ok = docker(&["version", "--format", "{{.Server.Version}}"]).0;
    if !ok {
        let msg = "no Docker daemon: run scripts/setup/docker.sh";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{msg} (CI=true)"
        );
        eprintln!("\n!!!!! SKIPPING image test: {msg} !!!!!\n");
    }
    ok
}

/// Removes the container on drop (also when an assertion fails).
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- docker logs {} ---\n{}",
                self.0,
                docker(&["logs", &self.0]).1
            );
        }
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

fn wait_healthy(c: &Container) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = docker_ok(&["inspect", "--format", "{{.State.Health.Status}}", &c.0]);
        if status == "healthy" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} still {status} after 90 s: {}",
            c.0,
            docker(&["inspect", "--format", "{{json .State.Health}}", &c.0]).1
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn build_images() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(Path::new(root).join("scripts/build-images.sh"))
        .args([
            "--binary",
            env!("CARGO_BIN_EXE_logstash-mesos"),
            "--tag",
            TAG,
        ])
        .output()
        .expect("build-images.sh runs");
    assert!(
        out.status.success(),
        "scripts/build-images.sh: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    for image in ["scheduler", "agent"] {
        assert!(
            printed.contains(&format!("logstash-mesos/{image}:{TAG}")),
            "{printed}"
        );
    }
}

#[test]
fn images_build_from_scratch_run_and_turn_healthy() {
    if !docker_available() {
        return;
    }
    build_images();
    let version = env!("CARGO_PKG_VERSION");
    let sched = format!("logstash-mesos/scheduler:{TAG}");
    let agent = format!("logstash-mesos/agent:{TAG}");

    // No base image: the images hold only what the build script put in.
    for image in [&sched, &agent] {
        let out = docker_ok(&["run", "--rm", "--network", "none", image, "--version"]);
        assert!(out.contains(version), "{image} --version: {out}");
        // Marathon's form: `cmd` run by /bin/sh -c, the binary found on PATH.
        let out = docker_ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "/bin/sh",
            image,
            "-c",
            "exec logstash-mesos --version",
        ]);
        assert!(out.contains(version), "{image} via /bin/sh: {out}");
    }
    assert_eq!(
        docker_ok(&["inspect", "--format", "{{.Config.User}}", &sched]),
        "65534:65534"
    );

    // The scheduler: unprivileged, healthy by its own HEALTHCHECK (no master needed).
    let c = Container(format!("lsm-image-sched-{}", std::process::id()));
    let _ = docker(&["rm", "-f", &c.0]);
    docker_ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--health-interval",
        "1s",
        "--name",
        &c.0,
        &sched,
        "scheduler",
        "--master",
        "127.0.0.1:1",
        "--state",
        "file:///tmp/state",
        "--listen",
        "127.0.0.1:8080",
        "--agent-command",
        "./logstash-mesos agent",
    ]);
    wait_healthy(&c);
    let status = docker_ok(&["exec", &c.0, "cat", "/proc/1/status"]);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.contains("65534")),
        "{status}"
    );
    let health = docker_ok(&[
        "exec",
        &c.0,
        "wget",
        "-q",
        "-O",
        "-",
        "http://127.0.0.1:8080/v1/health",
    ]);
    assert!(health.contains("\"status\":\"ok\""), "{health}");

    // The agent: runs a pipeline from a mounted config and serves /status.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("p.conf"),
        // The file input keeps the pipeline (and so the agent) running once the
        // generator is done.
        "input { generator { count => 3 message => \"from the image\" }\n\
                 file { path => \"/tmp/nothing-here/*.log\" } }\n\
         filter { ruby { code => \"event.set('via_ruby', [1, 2].sum)\" } }\n\
         output { stdout { codec => json_lines } }\n",
    )
    .expect("config");
    let mount = format!("{}:/cfg:ro", dir.path().display());
    let a = Container(format!("lsm-image-agent-{}", std::process::id()));
    let _ = docker(&["rm", "-f", &a.0]);
    docker_ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--health-interval",
        "1s",
        "-v",
        &mount,
        "--name",
        &a.0,
        &agent,
        "agent",
        "-f",
        "/cfg/p.conf",
    ]);
    wait_healthy(&a);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = docker_ok(&["logs", &a.0]);
        let events = logs
            .lines()
            // ... and through the embedded Ruby, whose library the image carries.
            .filter(|l| {
                l.contains("\"message\":\"from the image\"") && l.contains("\"via_ruby\":3")
            })
            .count();
        if events == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "3 events expected: {logs}");
        std::thread::sleep(Duration::from_millis(300));
    }
}
