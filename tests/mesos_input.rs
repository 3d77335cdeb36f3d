//! The `mesos` input against the agent side of the Mesos simulator: real sandboxes on
//! disk written through logrotate-style writers, the real `logstash-mesos agent` binary
//! SIGKILLed twice, exact line sets with their Mesos metadata, completed and GC'd tasks
//! released, and the agent API over HTTPS with basic authentication.

#[path = "../crates/scheduler/tests/support/simulator/agent_api.rs"]
mod agent_api;

use agent_api::{AgentSim, Logger, StreamWriter, Tls};
use logstash_mesos_agent::mesos::{MesosConfig, MesosInput};
use logstash_mesos_core::Value;
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::Input;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const MARATHON: &str = "b3c5e0a2-7d41-4f9e-8a6c-2e9f1d0b7c44-0001";
const OTHER: &str = "b3c5e0a2-7d41-4f9e-8a6c-2e9f1d0b7c44-0002";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Writes `lines` numbered lines to a stream in batches (chunked at 4096 bytes, so lines
/// split across rotations), returning the lines written.
fn write_lines(w: &mut StreamWriter, tag: &str, from: usize, to: usize) -> Vec<String> {
    let mut buf = String::new();
    let mut out = Vec::new();
    for i in from..to {
        let l = format!("{tag} line {i:06} {}", "x".repeat(i % 37));
        buf.push_str(&l);
        buf.push('\n');
        out.push(l);
    }
    w.write(buf.as_bytes());
    out
}

struct Agent {
    child: Option<Child>,
    args: Vec<String>,
}

impl Agent {
    fn start(args: Vec<String>) -> Agent {
        let mut a = Agent { child: None, args };
        a.spawn();
        a
    }
    fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
            .args(&self.args)
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("spawn agent");
        self.child = Some(child);
    }
    fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }
    /// SIGKILL: no shutdown, no final checkpoint.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Events in the file output (json_lines), parsed.
fn read_events(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn get<'a>(v: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    path.split('.').fold(v, |v, k| &v[k])
}

/// Paths under `root` the process holds open.
fn open_files_under(pid: u32, root: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|p| p.starts_with(root))
        .collect()
}

async fn status(port: u16) -> serde_json::Value {
    let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/status")).await else {
        return serde_json::Value::Null;
    };
    r.json().await.unwrap_or(serde_json::Value::Null)
}

/// Three kinds of tasks (Docker executor with rename rotation, UCR with copytruncate, a
/// task group with nested sandboxes), one completing and one garbage-collected, a task of
/// another framework left out by selection, and the agent process SIGKILLed twice: every
/// line arrives (at least once, duplicates with the same `_id`), metadata is right, and
/// no reader stays behind on finished sandboxes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_logs_survive_rotation_completion_gc_and_sigkill() {
    let tmp = tempfile::tempdir().expect("tmp");
    let work_dir = tmp.path().join("work");
    std::fs::create_dir_all(&work_dir).expect("work dir");
    let work_dir = std::fs::canonicalize(&work_dir).expect("canon");
    let (sim, url) = AgentSim::start(&work_dir, None, None).await;
    sim.add_framework(MARATHON, "marathon", "*");
    sim.add_framework(OTHER, "metronome", "batch");

    // A) Docker-executor task, rename rotation keeping 9 generations.
    let a_dir = sim.launch_task(
        MARATHON,
        "web.instance-1._app.1",
        "web",
        &[("app", "shop"), ("tier", "front")],
        Some("DOCKER"),
    );
    let rename = Logger::Logrotate {
        max_size: 16 * 1024,
        keep: 20,
        copytruncate: false,
    };
    // B) UCR task, copytruncate keeping 4 copies.
    let b_dir = sim.launch_task(
        MARATHON,
        "worker.instance-2._app.1",
        "worker",
        &[],
        Some("MESOS"),
    );
    let copytrunc = Logger::Logrotate {
        max_size: 16 * 1024,
        keep: 8,
        copytruncate: true,
    };
    // C) A pod: two tasks in nested containers.
    let c_dirs = sim.launch_group(
        MARATHON,
        "instance-pod.1",
        &[
            ("pod.instance-3.app", "app"),
            ("pod.instance-3.sidecar", "sidecar"),
        ],
    );
    // E) A short task that completes and is GC'd.
    let e_dir = sim.launch_task(MARATHON, "once.instance-4._app.1", "once", &[], None);
    // X) Another framework's task: not selected.
    let x_dir = sim.launch_task(OTHER, "nightly.1", "nightly", &[], None);

    let mut writers: Vec<(String, &str, StreamWriter)> = Vec::new();
    for (task, dir, logger) in [
        ("web.instance-1._app.1", &a_dir, rename),
        ("worker.instance-2._app.1", &b_dir, copytrunc),
        ("pod.instance-3.app", &c_dirs[0], rename),
        ("pod.instance-3.sidecar", &c_dirs[1], Logger::Sandbox),
    ] {
        for stream in ["stdout", "stderr"] {
            writers.push((
                task.to_string(),
                stream,
                StreamWriter::new(dir.join(stream), logger),
            ));
        }
    }
    let mut expected: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut once = StreamWriter::new(e_dir.join("stdout"), Logger::Sandbox);
    for l in write_lines(&mut once, "once-out", 0, 200) {
        expected.insert(("once.instance-4._app.1".into(), "stdout".into(), l));
    }
    let mut other = StreamWriter::new(x_dir.join("stdout"), Logger::Sandbox);
    write_lines(&mut other, "nightly", 0, 50);

    let out = tmp.path().join("out.json");
    let config = tmp.path().join("pipeline.conf");
    std::fs::write(
        &config,
        format!(
            r#"input {{ mesos {{ framework => ["marathon"] poll_interval => 0.1 state_interval => 0.2 completed_grace => 1 }} }}
filter {{ mutate {{ copy => {{ "[@metadata][_id]" => "doc_id" }} }} }}
output {{ file {{ path => "{}" }} }}"#,
            out.display()
        ),
    )
    .expect("config");
    let status_port = free_port();
    let args: Vec<String> = vec![
        "agent".into(),
        "-f".into(),
        config.display().to_string(),
        "--path.data".into(),
        tmp.path().join("data").display().to_string(),
        "--status.bind".into(),
        format!("127.0.0.1:{status_port}"),
        "--mesos-agent".into(),
        url.trim_start_matches("http://").to_string(),
    ];
    let mut agent = Agent::start(args);

    // The short task's lines arrive; it completes and its sandbox is GC'd at once.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = read_events(&out)
            .iter()
            .filter(|e| get(e, "mesos.task.name") == "once")
            .count();
        if n >= 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the once task's lines: {n}/200");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sim.finish_task("once.instance-4._app.1", "TASK_FINISHED");
    sim.gc("once.instance-4._app.1");

    // Write in rounds; SIGKILL the agent twice while the writers go on.
    let rounds = 30;
    let per_round = 100;
    for round in 0..rounds {
        for (task, stream, w) in writers.iter_mut() {
            if round > 25 && task.starts_with("web.") {
                // A completed: its loggers are gone.
                continue;
            }
            let tag = format!("{task}-{stream}");
            for l in write_lines(w, &tag, round * per_round, (round + 1) * per_round) {
                expected.insert((task.clone(), stream.to_string(), l));
            }
        }
        if round == 10 || round == 20 {
            agent.kill();
            tokio::time::sleep(Duration::from_millis(300)).await;
            agent.spawn();
            // The loggers keep a bounded history (here 20 generations): data rotated out
            // while no shipper runs is gone for real. Writers wait for the restarted agent
            // so a slow start on a loaded machine cannot turn into real loss.
            let up = Instant::now() + Duration::from_secs(60);
            while status(status_port).await["mesos_agent"] != "connected" {
                assert!(Instant::now() < up, "the agent did not come back");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if round == 25 {
            // A completes: its files are final.
            sim.finish_task("web.instance-1._app.1", "TASK_FINISHED");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(
        writers.iter().all(|(t, s, w)| w.rotations > 3
            || t.ends_with("sidecar")
            || (t.starts_with("web") && *s == "stdout" && w.rotations > 0)),
        "the rotating streams rotated several times"
    );

    let deadline = Instant::now() + Duration::from_secs(90);
    let (got, events) = loop {
        let events = read_events(&out);
        let got: BTreeSet<(String, String, String)> = events
            .iter()
            .map(|e| {
                let path = get(e, "log.file.path").as_str().unwrap_or("");
                let stream = if path.contains("/stderr") {
                    "stderr"
                } else {
                    "stdout"
                };
                (
                    get(e, "mesos.task.id").as_str().unwrap_or("").to_string(),
                    stream.to_string(),
                    e["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        if got.is_superset(&expected) || Instant::now() > deadline {
            break (got, events);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let missing: Vec<_> = expected.difference(&got).take(5).collect();
    if !missing.is_empty() {
        let mut per: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
        for (t, s, _) in &expected {
            per.entry((t.clone(), s.clone())).or_default().0 += 1;
        }
        for (t, s, _) in &got {
            per.entry((t.clone(), s.clone())).or_default().1 += 1;
        }
        let st = status(status_port).await;
        let web: Vec<String> = expected
            .difference(&got)
            .filter(|(t, s, _)| t.starts_with("web") && s == "stdout")
            .map(|(_, _, l)| l[..40.min(l.len())].to_string())
            .collect();
        eprintln!(
            "web stdout missing: {} first {:?} last {:?}",
            web.len(),
            web.first(),
            web.last()
        );
        for e in std::fs::read_dir(tmp.path().join("data/agent"))
            .into_iter()
            .flatten()
            .flatten()
        {
            eprintln!(
                "checkpoint {}: {}",
                e.path().display(),
                std::fs::read_to_string(e.path()).unwrap_or_default()
            );
        }
        let _ = std::fs::copy(&out, "/tmp/mesos_debug_out.json");
        let mut ls = std::process::Command::new("ls");
        ls.arg("-li").arg(&a_dir);
        eprintln!(
            "{}",
            String::from_utf8_lossy(&ls.output().map(|o| o.stdout).unwrap_or_default())
        );
        panic!(
            "{} lines missing, e.g. {missing:?}\nexpected/got per stream: {per:?}\nstatus: {st}",
            expected.difference(&got).count()
        );
    }
    let extra: Vec<_> = got.difference(&expected).take(5).collect();
    assert!(
        extra.is_empty(),
        "unexpected lines (other framework, torn lines): {extra:?}"
    );

    // Metadata.
    let state: serde_json::Value = reqwest::get(format!("{url}/state"))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    let mut containers: HashMap<String, String> = HashMap::new();
    for ex in state["frameworks"][0]["executors"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            state["frameworks"][0]["completed_executors"]
                .as_array()
                .into_iter()
                .flatten(),
        )
    {
        for t in ex["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(ex["completed_tasks"].as_array().into_iter().flatten())
        {
            let c = &t["statuses"][0]["container_status"]["container_id"]["value"];
            containers.insert(
                t["id"].as_str().unwrap_or("").into(),
                c.as_str().unwrap_or("").into(),
            );
        }
    }
    let mut ids: HashMap<String, String> = HashMap::new();
    for e in &events {
        assert_eq!(
            get(e, "mesos.agent.id"),
            "b3c5e0a2-7d41-4f9e-8a6c-2e9f1d0b7c44-S3"
        );
        assert_eq!(get(e, "mesos.agent.hostname"), "127.0.0.1");
        assert_eq!(get(e, "mesos.framework.id"), MARATHON);
        assert_eq!(get(e, "mesos.framework.name"), "marathon");
        let task = get(e, "mesos.task.id").as_str().expect("task id");
        assert_eq!(
            get(e, "mesos.container.id").as_str(),
            containers.get(task).map(String::as_str),
            "{e}"
        );
        let executor = get(e, "mesos.executor.id").as_str().expect("executor id");
        if task.starts_with("pod.") {
            assert_eq!(executor, "instance-pod.1");
        } else {
            assert_eq!(executor, task);
        }
        if task.starts_with("web.") {
            assert_eq!(get(e, "mesos.task.labels.app"), "shop");
            assert_eq!(get(e, "mesos.task.name"), "web");
        }
        let path = get(e, "log.file.path").as_str().expect("path");
        assert!(path.starts_with(work_dir.to_str().expect("utf8")), "{path}");
        assert!(get(e, "log.offset").is_i64(), "{e}");
        let id = e["doc_id"].as_str().expect("doc_id").to_string();
        let msg = format!("{task}|{path}|{}", e["message"]);
        let stream_msg = format!("{task}|{}|{}", path.contains("stderr"), e["message"]);
        if let Some(prev) = ids.insert(id.clone(), stream_msg.clone()) {
            assert_eq!(prev, stream_msg, "one _id, two lines: {id} {msg}");
        }
    }
    // Replays after SIGKILL re-send lines with the same _id: ids are as many as lines.
    assert_eq!(ids.len(), expected.len(), "distinct _ids = distinct lines");

    // Completed A and GC'd E: released, no error, no descriptor left.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let st = status(status_port).await;
        let a_c = containers["web.instance-1._app.1"].clone();
        let a_done = ["stdout", "stderr"]
            .iter()
            .all(|s| st["containers"][&a_c]["streams"][s]["state"] == "completed");
        let open_a = open_files_under(agent.pid(), &a_dir);
        if a_done && open_a.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "completed task still read: {:?} open {open_a:?}",
            st["containers"][&a_c]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let st = status(status_port).await;
    for (cid, c) in st["containers"].as_object().into_iter().flatten() {
        for (s, v) in c["streams"].as_object().into_iter().flatten() {
            assert!(
                v["errors"].as_array().is_none_or(|e| e.is_empty()),
                "stream {cid}:{s} reported errors: {v}"
            );
        }
    }
    assert!(open_files_under(agent.pid(), &e_dir).is_empty());
    // Everything ends: no reader at all on the node afterwards.
    for t in [
        "worker.instance-2._app.1",
        "pod.instance-3.app",
        "pod.instance-3.sidecar",
    ] {
        sim.finish_task(t, "TASK_KILLED");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !open_files_under(agent.pid(), &work_dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "readers left behind: {:?}",
            open_files_under(agent.pid(), &work_dir)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    agent.kill();
}

fn args(pairs: &[(&str, Value)]) -> Args {
    pairs.iter().fold(
        Args::for_plugin(
            logstash_mesos_pipeline::registry::Kind::Input,
            logstash_mesos_agent::mesos::OPTIONS,
        ),
        |a, (k, v)| a.with(k, v.clone()),
    )
}

/// Runs the input in-process until `want` lines arrived or the deadline.
async fn collect(
    cfg: MesosConfig,
    data: &Path,
    want: usize,
    secs: u64,
    during: impl FnOnce() + Send + 'static,
) -> (
    Vec<logstash_mesos_core::Event>,
    std::sync::Arc<logstash_mesos_agent::status::Status>,
) {
    let (mut ctx, mut rx): (InputContext, _) = InputContext::for_test(1024);
    ctx.build.path_data = data.to_path_buf();
    let status = std::sync::Arc::new(logstash_mesos_agent::status::Status::default());
    let input = Box::new(MesosInput::new(cfg).with_status(status.clone()));
    let shutdown = ctx.shutdown.clone();
    let task = tokio::spawn(input.run(ctx));
    let mut during = Some(during);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while got.len() < want && Instant::now() < deadline {
        if got.len() * 2 >= want {
            if let Some(f) = during.take() {
                f();
            }
        }
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            got.push(e);
        }
    }
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    (got, status)
}

fn message(e: &logstash_mesos_core::Event) -> String {
    e.get(&logstash_mesos_core::FieldRef::top("message"))
        .map(|v| v.to_logstash_string())
        .unwrap_or_default()
}

/// Through the agent's `/files/read` only (the work dir is not visible), over HTTPS with
/// basic authentication: rotation (rename, several generations between polls) and a
/// pod's nested sandbox give exact line sets; a 503 recovery window is ridden out; bad
/// credentials and an untrusted certificate read nothing and say why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_api_over_https_with_basic_auth() {
    let tmp = tempfile::tempdir().expect("tmp");
    let work_dir = std::fs::canonicalize(tmp.path())
        .expect("canon")
        .join("work");
    std::fs::create_dir_all(&work_dir).expect("work");
    let tls = Tls::self_signed();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, &tls.cert_pem).expect("ca");
    let (sim, url) = AgentSim::start(&work_dir, Some(&tls), Some(("ops", "s3cret"))).await;
    sim.add_framework(MARATHON, "marathon", "*");
    let dir = sim.launch_task(MARATHON, "api.1", "api", &[("team", "a")], Some("MESOS"));
    let pod = sim.launch_group(MARATHON, "pod.ex", &[("pod.t1", "t1")]);
    let mut w = StreamWriter::new(
        dir.join("stdout"),
        Logger::Logrotate {
            max_size: 4096,
            keep: 6,
            copytruncate: false,
        },
    );
    let mut expected = BTreeSet::new();
    // A line with non-UTF-8 bytes would make the agent's JSON invalid: the lenient
    // parser keeps the bytes (the event gets the lossy text).
    expected.extend(write_lines(&mut w, "api", 0, 300));
    let mut pw = StreamWriter::new(pod[0].join("stdout"), Logger::Sandbox);
    expected.extend(write_lines(&mut pw, "pod", 0, 100));
    let total = expected.len();

    let base = [
        ("agent_url", Value::from(url.as_str())),
        ("read_mode", Value::from("api")),
        ("stderr", Value::Bool(false)),
        ("poll_interval", Value::Float(0.1)),
        ("state_interval", Value::Float(0.2)),
        (
            "ssl_certificate_authorities",
            Value::from(ca.display().to_string()),
        ),
        ("user", Value::from("ops")),
    ];
    let mut good = base.to_vec();
    good.push(("password", Value::from("s3cret")));
    let cfg = MesosConfig::from_args(&args(&good)).expect("config");
    let sim2 = sim.clone();
    let writer = std::thread::spawn(move || {
        // More rotations while reading: several between two polls.
        let mut more = Vec::new();
        for r in 0..6 {
            more.extend(write_lines(&mut w, "api", 300 + r * 100, 400 + r * 100));
            std::thread::sleep(Duration::from_millis(150));
        }
        (w.rotations, more)
    });
    let data = tmp.path().join("data");
    let (events, status) = collect(cfg, &data, total + 600, 40, move || {
        sim2.set_recovering(true);
        std::thread::sleep(Duration::from_millis(600));
        sim2.set_recovering(false);
    })
    .await;
    let (rotations, more) = writer.join().expect("writer");
    assert!(rotations >= 6, "rotations: {rotations}");
    expected.extend(more);
    let got: BTreeSet<String> = events.iter().map(message).collect();
    let missing: Vec<_> = expected.difference(&got).take(3).collect();
    assert!(missing.is_empty(), "missing {missing:?}");
    assert_eq!(got.len(), expected.len(), "no torn or foreign lines");
    assert_eq!(
        events.len(),
        expected.len(),
        "no duplicates without a restart"
    );
    assert!(sim.requests("/files/read") > 0);
    let pod_event = events
        .iter()
        .find(|e| message(e).starts_with("pod"))
        .expect("pod line");
    let f = |p: &str| {
        pod_event
            .get(&logstash_mesos_core::FieldRef::parse(p).expect("ref"))
            .map(|v| v.to_logstash_string())
            .unwrap_or_default()
    };
    assert_eq!(f("[mesos][executor][id]"), "pod.ex");
    assert!(
        f("[log][file][path]").contains("/containers/"),
        "{}",
        f("[log][file][path]")
    );
    assert_eq!(f("[mesos][task][name]"), "t1");
    assert!(
        status.snapshot().errors.is_empty(),
        "{:?}",
        status.snapshot().errors
    );

    // Wrong password: nothing read, the 401 is reported.
    let mut bad = base.to_vec();
    bad.push(("password", Value::from("nope")));
    let cfg = MesosConfig::from_args(&args(&bad)).expect("config");
    let (events, status) = collect(cfg, &tmp.path().join("d2"), 1, 2, || {}).await;
    assert!(events.is_empty());
    let errs = status.snapshot().errors.join("\n");
    assert!(errs.contains("401"), "{errs}");

    // No CA: the certificate is refused.
    let mut no_ca: Vec<_> = good
        .iter()
        .filter(|(k, _)| *k != "ssl_certificate_authorities")
        .cloned()
        .collect();
    no_ca.push(("state_interval", Value::Float(0.2)));
    let cfg = MesosConfig::from_args(&args(&no_ca)).expect("config");
    let (events, status) = collect(cfg, &tmp.path().join("d3"), 1, 2, || {}).await;
    assert!(events.is_empty());
    let errs = status.snapshot().errors.join("\n").to_lowercase();
    assert!(errs.contains("certificate"), "{errs}");
}

/// Host files, in-process: rename rotation with several generations between polls and
/// copytruncate, lines split across rotations, exact sets and no duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_files_follow_rename_and_copytruncate_rotation() {
    let tmp = tempfile::tempdir().expect("tmp");
    let work_dir = std::fs::canonicalize(tmp.path())
        .expect("canon")
        .join("work");
    std::fs::create_dir_all(&work_dir).expect("work");
    let (sim, url) = AgentSim::start(&work_dir, None, None).await;
    sim.add_framework(MARATHON, "marathon", "*");
    let mut writers = Vec::new();
    for (i, copytruncate) in [(0, false), (1, true)] {
        let dir = sim.launch_task(
            MARATHON,
            &format!("t{i}"),
            &format!("t{i}"),
            &[],
            Some("MESOS"),
        );
        writers.push(StreamWriter::new(
            dir.join("stdout"),
            // Enough generations that a reader starved of CPU for a few seconds
            // still finds every rotated file (fewer would make the test measure
            // the machine's load, not the reader: lines deleted by rotation before
            // they are read are gone for any reader).
            Logger::Logrotate {
                max_size: 4096,
                keep: 40,
                copytruncate,
            },
        ));
    }
    // History rotated before the input starts is read too, oldest generation first.
    let mut before = BTreeSet::new();
    for r in 0..8 {
        for (i, w) in writers.iter_mut().enumerate() {
            before.extend(write_lines(w, &format!("t{i}"), r * 50, (r + 1) * 50));
        }
    }
    assert!(writers.iter().all(|w| w.rotations >= 2));
    let writer = std::thread::spawn(move || {
        let mut all = before;
        for r in 8..24 {
            for (i, w) in writers.iter_mut().enumerate() {
                all.extend(write_lines(w, &format!("t{i}"), r * 50, (r + 1) * 50));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (all, writers.iter().map(|w| w.rotations).collect::<Vec<_>>())
    });
    let cfg = MesosConfig::from_args(&args(&[
        ("agent_url", Value::from(url.as_str())),
        ("read_mode", Value::from("host")),
        ("stderr", Value::Bool(false)),
        ("poll_interval", Value::Float(0.1)),
        ("state_interval", Value::Float(0.2)),
    ]))
    .expect("config");
    let (events, status) = collect(cfg, &tmp.path().join("data"), 2400, 30, || {}).await;
    let (expected, rotations) = writer.join().expect("writer");
    assert!(rotations.iter().all(|r| *r >= 8), "{rotations:?}");
    let got: BTreeSet<String> = events.iter().map(message).collect();
    let missing: Vec<_> = expected.difference(&got).take(5).collect();
    assert!(
        missing.is_empty(),
        "missing {} e.g. {missing:?}",
        expected.difference(&got).count()
    );
    assert_eq!(got.len(), expected.len(), "no torn lines");
    assert_eq!(events.len(), expected.len(), "no duplicates");
    assert!(status.snapshot().errors.is_empty());
}
