//! Integration tests against a real Docker daemon (`scripts/setup/docker.sh`).
//! Without a daemon they fail under `CI=true` and are skipped loudly otherwise.

use logstash_mesos_agent::config::DockerConfig;
use logstash_mesos_agent::status::Status;
use logstash_mesos_agent::DockerInput;
use logstash_mesos_core::{Event, FieldRef, Value};
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::Input;
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const IMAGE: &str = "logstash-mesos-test:busybox";

fn docker_ready() -> bool {
    let ok = Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("docker daemon or test image missing: run scripts/setup/docker.sh (CI=true)");
        }
        eprintln!(
            "\n!!!!! SKIPPED: no docker daemon / {IMAGE}; run scripts/setup/docker.sh !!!!!\n"
        );
    }
    ok
}

fn docker(args: &[&str]) -> String {
    let o = Command::new("docker")
        .args(args)
        .output()
        .expect("docker cli");
    assert!(
        o.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A container that is removed when the test ends.
struct Container(String);
impl Container {
    fn run(name: &str, image: &str, script: &str) -> Container {
        let _ = Command::new("docker").args(["rm", "-f", name]).output();
        docker(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            name,
            "--label",
            "lsmtest=1",
            image,
            "/bin/busybox",
            "sh",
            "-c",
            script,
        ]);
        Container(name.to_string())
    }
    fn top(&self) -> String {
        Command::new("docker")
            .args(["top", &self.0])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }
}
impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

fn args(name: &str, paths: &[&str]) -> Args {
    Args::for_plugin(
        logstash_mesos_pipeline::registry::Kind::Input,
        logstash_mesos_agent::OPTIONS,
    )
    .with("name", Value::from(name))
    .with(
        "path",
        Value::Array(paths.iter().map(|p| Value::from(*p)).collect()),
    )
    .with("poll_interval", Value::Float(0.2))
    .with("glob_interval", Value::Float(1.0))
}

fn stream_of(e: &Event) -> String {
    let get = |p: &str| {
        e.get(&FieldRef::parse(p).unwrap())
            .map(|v| v.to_logstash_string())
    };
    get("[log][file][path]")
        .or_else(|| get("[stream]"))
        .unwrap_or_default()
}

fn message(e: &Event) -> String {
    e.get(&FieldRef::top("message"))
        .map(|v| v.to_logstash_string())
        .unwrap_or_default()
}

/// Runs an input and collects events per stream until `done` or the deadline.
struct Harness {
    ctx: InputContext,
    rx: tokio::sync::mpsc::Receiver<Event>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub got: BTreeMap<String, Vec<String>>,
    pub errors: Vec<Event>,
}

impl Harness {
    fn start(a: Args, data: &std::path::Path, id: &str, status: Arc<Status>) -> Harness {
        let cfg = DockerConfig::from_args(&a).expect("valid config");
        let (mut ctx, rx) = InputContext::for_test(256);
        ctx.build.path_data = data.to_path_buf();
        ctx.id = id.to_string();
        let input: Box<dyn Input> = Box::new(DockerInput::new(cfg).with_status(status));
        let task = tokio::spawn(input.run(ctx.clone()));
        Harness {
            ctx,
            rx,
            task,
            got: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    async fn collect_until(
        &mut self,
        deadline: Duration,
        mut done: impl FnMut(&BTreeMap<String, Vec<String>>) -> bool,
    ) -> bool {
        let end = Instant::now() + deadline;
        while !done(&self.got) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(e)) => {
                    if e.has_tag("_dockerinputerror") {
                        self.errors.push(e);
                    } else {
                        self.got.entry(stream_of(&e)).or_default().push(message(&e));
                    }
                }
                _ => return false,
            }
        }
        true
    }

    async fn stop(self) {
        self.ctx.shutdown.cancel();
        let mut rx = self.rx;
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
        drain.abort();
    }
}

fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix} {i}")).collect()
}

fn writer(n: usize) -> String {
    format!(
        "i=1; while [ $i -le {n} ]; do echo \"a $i\" >> /tmp/a.log; echo \"b $i\" >> /tmp/b.log; echo \"o $i\"; \
         [ $((i % 50)) = 0 ] && sleep 0.1; i=$((i+1)); done; sleep 3600"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_files_and_stdout_arrive_in_order() {
    if !docker_ready() {
        return;
    }
    let n = 500;
    let c = Container::run("lsm-s1", IMAGE, &writer(n));
    let data = tempfile::tempdir().unwrap();
    let status = Arc::new(Status::default());
    let mut h = Harness::start(
        args("lsm-s1", &["/tmp/a.log", "/tmp/*.log"]).with("stderr", Value::Bool(false)),
        data.path(),
        "s1",
        status.clone(),
    );
    let ok = h
        .collect_until(Duration::from_secs(60), |g| {
            ["/tmp/a.log", "/tmp/b.log", "stdout"]
                .iter()
                .all(|k| g.get(*k).map_or(0, Vec::len) >= n)
        })
        .await;
    assert!(
        ok,
        "timed out: {:?}",
        h.got
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect::<Vec<_>>()
    );
    assert_eq!(h.got["/tmp/a.log"], numbered("a", n));
    assert_eq!(h.got["/tmp/b.log"], numbered("b", n));
    assert_eq!(h.got["stdout"], numbered("o", n));
    assert!(
        h.errors.is_empty(),
        "{:?}",
        h.errors.iter().map(message).collect::<Vec<_>>()
    );
    // Let acknowledgements reach the checkpoint file.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let snap = status.snapshot();
    let cid = docker(&["inspect", "-f", "{{.Id}}", "lsm-s1"]);
    let st = &snap.containers[&cid].streams["file:/tmp/a.log"];
    assert_eq!(st.lines, n as u64);
    h.stop().await;
    let cp = std::fs::read_to_string(data.path().join("agent/s1.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&cp).unwrap();
    let size: u64 = numbered("a", n).iter().map(|l| l.len() as u64 + 1).sum();
    assert_eq!(
        v["streams"][format!("{cid}:file:/tmp/a.log")]["offset"],
        size,
        "{cp}"
    );
    assert!(
        !c.top().contains("lsm-tail"),
        "leftover reader: {}",
        c.top()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s2_rotation_rename_and_copytruncate_lose_nothing() {
    if !docker_ready() {
        return;
    }
    let n = 600;
    let script = format!(
        "i=1; while [ $i -le {n} ]; do echo \"r $i\" >> /tmp/r.log; echo \"c $i\" >> /tmp/c.log; \
         if [ $((i % 100)) = 0 ]; then mv /tmp/r.log /tmp/r.log.1; cp /tmp/c.log /tmp/c.log.1; : > /tmp/c.log; fi; \
         [ $((i % 10)) = 0 ] && sleep 0.1; i=$((i+1)); done; sleep 3600"
    );
    let _c = Container::run("lsm-s2", IMAGE, &script);
    let data = tempfile::tempdir().unwrap();
    let a = args("lsm-s2", &["/tmp/r.log", "/tmp/c.log"])
        .with("stdout", Value::Bool(false))
        .with("stderr", Value::Bool(false));
    let mut h = Harness::start(a, data.path(), "s2", Arc::new(Status::default()));
    let ok = h
        .collect_until(Duration::from_secs(90), |g| {
            ["/tmp/r.log", "/tmp/c.log"]
                .iter()
                .all(|k| g.get(*k).map_or(0, Vec::len) >= n)
        })
        .await;
    assert!(
        ok,
        "timed out: {:?}",
        h.got
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect::<Vec<_>>()
    );
    assert_eq!(h.got["/tmp/r.log"], numbered("r", n));
    assert_eq!(h.got["/tmp/c.log"], numbered("c", n));
    h.stop().await;
}

#[test]
fn s3_killed_agent_restarts_without_losing_lines() {
    if !docker_ready() {
        return;
    }
    let n = 3000;
    let script = format!(
        "sleep 1; i=1; while [ $i -le {n} ]; do echo \"a $i\" >> /tmp/a.log; echo \"o $i\"; \
         [ $((i % 20)) = 0 ] && sleep 0.05; i=$((i+1)); done; sleep 3600"
    );
    let c = Container::run("lsm-s3", IMAGE, &script);
    let data = tempfile::tempdir().unwrap();
    let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let complete = |all: &BTreeMap<String, Vec<String>>| {
        ["/tmp/a.log", "stdout"].iter().all(|k| {
            let set: std::collections::HashSet<_> =
                all.get(*k).map(|v| v.iter().collect()).unwrap_or_default();
            set.len() >= n
        })
    };
    for round in 0..8 {
        // A fresh runtime per run; dropping it mid-flight is the crash.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let a = args("lsm-s3", &["/tmp/a.log"]).with("stderr", Value::Bool(false));
        let last = round == 7;
        let got = rt.block_on(async {
            let mut h = Harness::start(a, data.path(), "s3", Arc::new(Status::default()));
            let budget = if last {
                Duration::from_secs(60)
            } else {
                Duration::from_millis(1500 + 300 * round as u64)
            };
            let mut seen = all.clone();
            h.collect_until(budget, |g| {
                seen = all.clone();
                for (k, v) in g {
                    seen.entry(k.clone()).or_default().extend(v.iter().cloned());
                }
                complete(&seen)
            })
            .await;
            std::mem::take(&mut h.got)
        });
        rt.shutdown_background();
        for (k, v) in got {
            all.entry(k).or_default().extend(v);
        }
        if complete(&all) && round >= 3 {
            break;
        }
    }
    for (k, prefix) in [("/tmp/a.log", "a"), ("stdout", "o")] {
        let lines = all.get(k).cloned().unwrap_or_default();
        let set: std::collections::BTreeSet<_> = lines.iter().cloned().collect();
        let expected: std::collections::BTreeSet<_> = numbered(prefix, n).into_iter().collect();
        let missing: Vec<_> = expected.difference(&set).take(10).collect();
        assert!(missing.is_empty(), "{k}: missing {missing:?}");
        assert!(set.is_subset(&expected), "{k}: unexpected lines");
        eprintln!(
            "{k}: {} lines, {} duplicates",
            lines.len(),
            lines.len() - set.len()
        );
    }
    // The last clean run and the cleanup of killed runs leave no reader behind.
    std::thread::sleep(Duration::from_secs(1));
    let top = c.top();
    let readers = top.lines().filter(|l| l.contains("lsm-tail")).count();
    assert!(readers <= 1, "leftover readers: {top}");
}

fn readers(c: &Container) -> usize {
    c.top().lines().filter(|l| l.contains("lsm-tail")).count()
}

async fn wait_for(mut f: impl FnMut() -> bool, secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    f()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s4_containers_come_and_go_and_config_changes() {
    if !docker_ready() {
        return;
    }
    let n = 50;
    let w = |p: &str| {
        format!("i=1; while [ $i -le {n} ]; do echo \"{p} $i\" >> /tmp/x.log; i=$((i+1)); done; sleep 3600")
    };
    let a = Container::run("lsm-s4-a", IMAGE, &w("a"));
    let data = tempfile::tempdir().unwrap();
    let sel = || {
        args("lsm-s4-*", &["/tmp/x.log"])
            .with("stdout", Value::Bool(false))
            .with("stderr", Value::Bool(false))
    };
    let mut h = Harness::start(sel(), data.path(), "s4", Arc::new(Status::default()));
    assert!(
        h.collect_until(Duration::from_secs(30), |g| g
            .get("/tmp/x.log")
            .map_or(0, Vec::len)
            >= n)
            .await
    );
    let b = Container::run("lsm-s4-b", IMAGE, &w("b"));
    assert!(
        h.collect_until(Duration::from_secs(30), |g| g
            .get("/tmp/x.log")
            .map_or(0, Vec::len)
            >= 2 * n)
            .await
    );
    let mut lines = h.got["/tmp/x.log"].clone();
    lines.sort();
    let mut want: Vec<String> = numbered("a", n)
        .into_iter()
        .chain(numbered("b", n))
        .collect();
    want.sort();
    assert_eq!(lines, want);
    // Stop and restart a: the file keeps its old lines, the writer appends them again;
    // the reader resumes at its offset and reads only the new ones.
    docker(&["stop", "-t", "0", "lsm-s4-a"]);
    docker(&["start", "lsm-s4-a"]);
    assert!(
        h.collect_until(Duration::from_secs(30), |g| g
            .get("/tmp/x.log")
            .map_or(0, Vec::len)
            >= 3 * n)
            .await
    );
    let again: Vec<String> = h.got["/tmp/x.log"][2 * n..].to_vec();
    assert_eq!(again, numbered("a", n));
    assert!(
        wait_for(|| readers(&a) == 1 && readers(&b) == 1, 20).await,
        "one reader each: {} / {}",
        a.top(),
        b.top()
    );
    // Config change: the old input stops (its readers are killed), the new one selects b only.
    h.stop().await;
    assert!(
        wait_for(|| readers(&a) == 0 && readers(&b) == 0, 10).await,
        "leftover: {} / {}",
        a.top(),
        b.top()
    );
    let h2 = Harness::start(
        args("lsm-s4-b", &["/tmp/x.log"])
            .with("stdout", Value::Bool(false))
            .with("stderr", Value::Bool(false)),
        data.path(),
        "s4",
        Arc::new(Status::default()),
    );
    assert!(
        wait_for(|| readers(&a) == 0 && readers(&b) == 1, 15).await,
        "{} / {}",
        a.top(),
        b.top()
    );
    h2.stop().await;
    assert!(
        wait_for(|| readers(&b) == 0, 10).await,
        "leftover: {}",
        b.top()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s5_bad_input_is_reported_and_isolated() {
    if !docker_ready() {
        return;
    }
    let _ = Command::new("docker")
        .args(["image", "inspect", "logstash-mesos-test:notail"])
        .output();
    let script = "head -c 4000 /bin/busybox >> /tmp/bad.log; echo >> /tmp/bad.log; \
                  head -c 1048576 /dev/zero | tr '\\0' x >> /tmp/bad.log; echo >> /tmp/bad.log; echo end >> /tmp/bad.log; \
                  echo good; sleep 3600";
    let _c = Container::run("lsm-s5-a", IMAGE, script);
    let _n = Container::run(
        "lsm-s5-notail",
        "logstash-mesos-test:notail",
        "echo fine; echo x > /tmp/bad.log; sleep 3600",
    );
    let data = tempfile::tempdir().unwrap();
    let status = Arc::new(Status::default());
    let a = args("lsm-s5-*", &["/tmp/bad.log", "/tmp"]).with("stderr", Value::Bool(false));
    let mut h = Harness::start(a, data.path(), "s5", status.clone());
    let ok = h
        .collect_until(Duration::from_secs(60), |g| {
            g.get("/tmp/bad.log")
                .is_some_and(|v| v.last().is_some_and(|l| l == "end"))
                && g.get("stdout").map_or(0, Vec::len) >= 2
        })
        .await;
    assert!(ok, "timed out: {:?}", h.got.keys().collect::<Vec<_>>());
    let bad = &h.got["/tmp/bad.log"];
    assert!(
        bad.iter()
            .any(|l| l.len() == 1 << 20 && l.bytes().all(|b| b == b'x')),
        "1 MiB line missing"
    );
    let mut out = h.got["stdout"].clone();
    out.sort();
    assert_eq!(out, ["fine", "good"]);
    // Errors arrive as tagged events and in the status.
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end
        && !(h
            .errors
            .iter()
            .any(|e| message(e).contains("lsm-s5-notail"))
            && h.errors
                .iter()
                .any(|e| message(e).contains("not a readable file")))
    {
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(500), h.rx.recv()).await {
            if e.has_tag("_dockerinputerror") {
                h.errors.push(e);
            }
        }
    }
    let errs: Vec<String> = h.errors.iter().map(message).collect();
    assert!(
        errs.iter()
            .any(|m| m.contains("lsm-s5-notail") && m.contains("not found")),
        "no missing-tools error: {errs:?}"
    );
    assert_eq!(
        errs.iter()
            .filter(|m| m.contains("not a readable file"))
            .count(),
        1,
        "errors repeat: {errs:?}"
    );
    assert!(
        errs.iter().any(|m| m.contains("not a readable file")),
        "no unreadable-path error: {errs:?}"
    );
    let snap = status.snapshot();
    assert!(snap
        .containers
        .values()
        .any(|c| c.streams.values().any(|s| s.state == "error")));
    h.stop().await;
}
