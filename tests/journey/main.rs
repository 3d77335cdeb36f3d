//! The mission's journey end to end, as a DC/OS operator meets it, under the master
//! rules the simulator keeps to the letter: the real `logstash-mesos scheduler`
//! process subscribes to the master simulator; the simulator's command executor
//! (`executor.rs`) launches each agent task as the real binary, fetched from the
//! scheduler into a sandbox and started with the environment Mesos gives a task;
//! every node has its own Docker daemon (`dockerd.rs`), so an agent sees only its
//! node's containers; the lines land in a real search engine (`search.rs`).
//!
//! Steps, as a user would: PUT a config (docker input by image glob, files inside the
//! containers and stdout, grok + date, the elasticsearch output); a fourth node
//! registers with a running container; the config is edited; an agent process is
//! SIGKILLed; the scheduler is SIGKILLed and restarted. Counts are exact after each.
//! `journey_first_step_through_the_web_ui` does the first step in headless Chromium.
//!
//! Needs Docker (`scripts/setup/docker.sh`), osmem-server (`scripts/setup/osmem.sh`)
//! and, for the UI test, Chromium (`scripts/setup/chromium.sh`); with `CI=true`
//! any of them missing fails the test.

#[path = "../../crates/scheduler/tests/support/simulator/agent_api.rs"]
mod agent_api;
#[path = "../../crates/scheduler/tests/support/simulator/mod.rs"]
mod simulator;

mod dockerd;
mod executor;
mod mesos_tasks;
mod search;
mod ui;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dockerd::Dockerd;
use executor::Executors;
use serde_json::Value;
use simulator::Simulator;

pub const INDEX: &str = "journey";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The `logstash-mesos scheduler` process; SIGKILLed on drop.
struct SchedProc {
    child: Child,
    args: Vec<String>,
    log: std::path::PathBuf,
}

impl SchedProc {
    fn start(args: Vec<String>, log: std::path::PathBuf) -> SchedProc {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("scheduler log");
        let child = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("scheduler starts");
        SchedProc { child, args, log }
    }

    /// The scheduler on a free port of loopback, subscribed to `sim`, launching agents as
    /// command tasks, its state and log under `root`; `extra` flags appended. Also its URL.
    fn command_agents(
        sim: &Simulator,
        root: &std::path::Path,
        extra: &[&str],
    ) -> (SchedProc, String) {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut args: Vec<String> = [
            "scheduler",
            "--master",
            &sim.url(0),
            "--agent-command",
            "./logstash-mesos agent",
            "--state",
            &format!("file://{}", root.join("state").display()),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--advertise-url",
            &base,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        (SchedProc::start(args, root.join("scheduler.log")), base)
    }

    fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.sigkill();
        *self = SchedProc::start(self.args.clone(), self.log.clone());
    }
}

impl Drop for SchedProc {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// Lines written so far per container: (file lines, stdout lines), both numbered 1..=n.
type Written = BTreeMap<String, u32>;

/// Everything one journey runs on; torn down in reverse on drop.
pub struct World {
    pub base: String,
    pub http: reqwest::Client,
    pub sim: Simulator,
    pub exec: Executors,
    sched: SchedProc,
    pub nodes: BTreeMap<String, Dockerd>,
    /// container name → lines written (each to the file and to stdout).
    pub written: Written,
    pub engine: search::Engine,
    pub root: tempfile::TempDir,
}

impl Drop for World {
    fn drop(&mut self) {
        self.sched.sigkill();
        self.exec.kill_all();
        // Dockerds (and their containers) go when `nodes` drops.
        // On failure, show what the scheduler and the agents said (the directory goes).
        if std::thread::panicking() {
            let tail = |p: &std::path::Path| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(40)..].join("\n")
            };
            eprintln!(
                "--- scheduler log ---\n{}",
                tail(&self.root.path().join("scheduler.log"))
            );
            if let Ok(o) = Command::new("find")
                .arg(self.root.path().join("work"))
                .args(["-name", "stderr"])
                .output()
            {
                for p in String::from_utf8_lossy(&o.stdout).lines() {
                    eprintln!("--- {p} ---\n{}", tail(std::path::Path::new(p)));
                }
            }
        }
    }
}

pub async fn wait_for<F, Fut>(what: &str, secs: u64, mut cond: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(secs);
    while !cond().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    t0.elapsed()
}

impl World {
    /// Three nodes with two writer containers each, and a container of an image the
    /// config does not select; the scheduler up. `None` when a service is missing
    /// (a panic under CI=true).
    pub async fn start() -> Option<World> {
        if !dockerd::available() {
            return None;
        }
        let engine = search::start()?;
        // Short paths: unix socket paths are limited to 108 bytes.
        let root = tempfile::Builder::new()
            .prefix("lsmj")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let sim = Simulator::start(1).await;
        let exec = Executors::new(&root.path().join("work"));
        exec.install(&sim);
        let (sched, base) = SchedProc::command_agents(&sim, root.path(), &[]);
        let mut w = World {
            base,
            http: reqwest::Client::new(),
            sim,
            exec,
            sched,
            nodes: BTreeMap::new(),
            written: BTreeMap::new(),
            engine,
            root,
        };
        for node in ["node-a", "node-b", "node-c"] {
            w.start_node(node, 2);
            w.register(node);
        }
        // Not selected by the image glob: none of its lines may arrive.
        let a = &w.nodes["node-a"];
        a.docker(&["tag", dockerd::IMAGE, "other/app:1"]);
        a.docker(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "node-a-other",
            "other/app:1",
            "/bin/sh",
            "-c",
            "echo 2026-01-01T00:00:00Z INFO other stdout seq=1; exec sleep 100000",
        ]);
        let h = w.http.clone();
        let url = format!("{}/v1/health", w.base);
        wait_for("the scheduler to subscribe", 60, || {
            let (h, url) = (h.clone(), url.clone());
            async move {
                match h.get(&url).send().await {
                    Ok(r) => r
                        .json::<Value>()
                        .await
                        .is_ok_and(|v| v["connected"] == true),
                    Err(_) => false,
                }
            }
        })
        .await;
        Some(w)
    }

    /// Starts a node's Docker daemon with `containers` writer containers (20 lines each).
    pub fn start_node(&mut self, node: &str, containers: u32) {
        let d = Dockerd::start(self.root.path(), node);
        for i in 1..=containers {
            let name = format!("{node}-c{i}");
            d.run_writer(&name, &tag(&name), 20);
            self.written.insert(name, 20);
        }
        self.nodes.insert(node.to_string(), d);
    }

    /// The node's Mesos agent registers with the master; its executors talk to its own
    /// Docker daemon (the agent's `--executor_environment_variables`).
    pub fn register(&self, node: &str) {
        let host = self.nodes[node].host();
        self.sim
            .add_agent_with_env(node, 4.0, 4096.0, vec![("DOCKER_HOST".into(), host)]);
    }

    pub fn expected(&self) -> u64 {
        self.written.values().map(|n| 2 * u64::from(*n)).sum()
    }

    /// Appends `n` lines (file + stdout) to every container of `node`.
    pub fn write_more(&mut self, node: &str, n: u32) {
        let names: Vec<String> = self
            .written
            .keys()
            .filter(|c| c.starts_with(&format!("{node}-c")))
            .cloned()
            .collect();
        for c in names {
            let first = self.written[&c] + 1;
            self.nodes[node].write_more(&c, &tag(&c), first, n);
            *self.written.get_mut(&c).expect("known") += n;
        }
    }

    pub async fn put_config(&self, name: &str, text: &str) -> u64 {
        let r = self
            .http
            .put(format!("{}/v1/configs/{name}", self.base))
            .body(text.to_string())
            .send()
            .await
            .expect("PUT");
        let status = r.status();
        let body: Value = r.json().await.unwrap_or_default();
        assert_eq!(status, 200, "PUT /v1/configs/{name}: {body}");
        body["version"].as_u64().expect("version")
    }

    pub async fn agents(&self) -> Vec<Value> {
        let v: Value = match self
            .http
            .get(format!("{}/v1/agents", self.base))
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => Value::Null,
        };
        v["agents"].as_array().cloned().unwrap_or_default()
    }

    pub async fn health(&self) -> Value {
        match self
            .http
            .get(format!("{}/v1/health", self.base))
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => Value::Null,
        }
    }

    /// Waits until the index holds exactly the lines written, then checks every
    /// document: one per line (no duplicate, no stray), with its fields.
    pub async fn assert_exact(&self, what: &str, secs: u64) -> Vec<(String, Value)> {
        let want = self.expected();
        let engine = &self.engine;
        wait_for(
            what,
            secs,
            || async move { engine.count(INDEX).await >= want },
        )
        .await;
        // Give late duplicates a moment to show up before judging.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let docs = self.engine.docs(INDEX).await;
        assert_eq!(docs.len() as u64, want, "{what}: document count");
        let mut seen = BTreeSet::new();
        let agent_ids: BTreeMap<String, String> = self
            .nodes
            .keys()
            .filter_map(|n| self.sim.agent_id(n).map(|a| (n.clone(), a.value)))
            .collect();
        for (id, d) in &docs {
            let msg = d["message"].as_str().unwrap_or_default();
            assert!(
                seen.insert(msg.to_string()),
                "{what}: line {msg:?} twice (id {id})"
            );
            let cname = d["container"]["name"].as_str().unwrap_or_default();
            let node = cname.rsplit_once("-c").map_or("", |x| x.0);
            assert_eq!(
                d["mesos"]["agent"]["id"].as_str(),
                agent_ids.get(node).map(String::as_str),
                "{what}: [mesos][agent][id] of {d}"
            );
            assert_eq!(
                d["container"]["image"]["name"],
                dockerd::IMAGE,
                "{what}: {d}"
            );
            // grok and date ran.
            assert_eq!(
                d["app"]["tag"].as_str(),
                Some(tag(cname).as_str()),
                "{what}: {d}"
            );
            assert!(d["app"]["seq"].as_i64().is_some(), "{what}: {d}");
            assert!(
                d["@timestamp"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("20")),
                "{what}: {d}"
            );
            match d["app"]["via"].as_str() {
                Some("file") => assert_eq!(
                    d["log"]["file"]["path"], "/var/log/app/app.log",
                    "{what}: {d}"
                ),
                Some("stdout") => assert_eq!(d["stream"], "stdout", "{what}: {d}"),
                other => panic!("{what}: unexpected via {other:?} in {d}"),
            }
        }
        // Every written line is there.
        for (c, n) in &self.written {
            for seq in 1..=*n {
                for via in ["file", "stdout"] {
                    let needle = format!(" INFO {} {via} seq={seq}", tag(c));
                    assert!(
                        seen.iter().any(|m| m.ends_with(&needle)),
                        "{what}: missing {needle:?}"
                    );
                }
            }
        }
        docs
    }

    /// Task processes running per node.
    pub fn running(&self) -> BTreeMap<String, String> {
        self.exec.running().into_iter().collect()
    }
}

/// A grok WORD naming a container's lines.
pub fn tag(container: &str) -> String {
    container.replace('-', "_")
}

/// The operator's config: a docker input selecting the test image by glob, a file
/// inside the containers and stdout, grok + date, the elasticsearch output.
pub fn config(engine_url: &str, extra_filter: &str) -> String {
    format!(
        r#"input {{
  docker {{
    image => ["logstash-mesos-test:*"]
    path => ["/var/log/app/*.log"]
    stdout => true
    stderr => false
    poll_interval => 0.2
    glob_interval => 1
  }}
}}
filter {{
  grok {{ match => {{ "message" => "^%{{TIMESTAMP_ISO8601:[app][ts]}} %{{LOGLEVEL:[app][level]}} %{{WORD:[app][tag]}} %{{WORD:[app][via]}} seq=%{{INT:[app][seq]:int}}$" }} }}
  date {{ match => ["[app][ts]", "ISO8601"] }}
  {extra_filter}
}}
output {{
  elasticsearch {{ hosts => ["{engine_url}"] index => "{INDEX}" }}
}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn journey_config_to_agents_to_search_engine() {
    let Some(mut w) = World::start().await else {
        return;
    };
    wait_for("three agent processes", 90, || {
        let n = w.running().len();
        async move { n == 3 }
    })
    .await;

    // 1. The operator PUTs a config through the REST API.
    let v1 = w.put_config("apps", &config(&w.engine.url, "")).await;
    w.assert_exact("step 1: every line of every container", 120)
        .await;

    // 2. A fourth node registers with a running container: its lines arrive fast.
    w.start_node("node-d", 1);
    let registered = Instant::now();
    w.register("node-d");
    let engine = &w.engine;
    let first_line = wait_for("node-d's first line", 30, || async move {
        engine
            .docs(INDEX)
            .await
            .iter()
            .any(|(_, d)| d["container"]["name"] == "node-d-c1")
    })
    .await;
    eprintln!(
        "JOURNEY: node registration -> first shipped line: {:.1} s",
        first_line.as_secs_f64()
    );
    w.assert_exact("step 2: node-d's lines", 30).await;
    assert!(registered.elapsed() < Duration::from_secs(60));
    assert_eq!(w.running().len(), 4, "{:?}", w.running());

    // 3. The config is edited: every agent swaps its pipeline; the count stays exact.
    let v2 = w
        .put_config(
            "apps",
            &config(
                &w.engine.url,
                r#"mutate { add_field => { "[journey][config]" => "v2" } }"#,
            ),
        )
        .await;
    assert!(v2 > v1);
    let wr = &w;
    wait_for("every agent on the new config", 60, || async move {
        let a = wr.agents().await;
        a.len() == 4 && a.iter().all(|x| x["config_version"].as_u64() == Some(v2))
    })
    .await;
    let before: BTreeMap<String, u32> = w.written.clone();
    for n in ["node-a", "node-b", "node-c", "node-d"] {
        w.write_more(n, 10);
    }
    let docs = w.assert_exact("step 3: after the config edit", 60).await;
    for (_, d) in &docs {
        let c = d["container"]["name"].as_str().unwrap_or_default();
        let seq = d["app"]["seq"].as_u64().unwrap_or_default();
        if seq > u64::from(before[c]) {
            assert_eq!(d["journey"]["config"], "v2", "line after the swap: {d}");
        }
    }

    // 4. One agent process is SIGKILLed: the task fails, is relaunched, nothing is
    //    lost or doubled, including what was written while it was down.
    let killed = w.exec.sigkill_on("node-b").expect("node-b's agent runs");
    w.write_more("node-b", 10);
    let wr = &w;
    let killed2 = killed.clone();
    wait_for("node-b's agent relaunched", 60, || {
        let r = wr.running();
        let k = killed2.clone();
        async move { r.get("node-b").is_some_and(|t| *t != k) }
    })
    .await;
    assert!(
        w.sim
            .live_tasks()
            .iter()
            .all(|(_, id, _)| id.value != killed),
        "the killed task is terminal"
    );
    w.assert_exact("step 4: after the agent was SIGKILLed", 90)
        .await;

    // 5. The scheduler is SIGKILLed and restarted: same framework, no second agent.
    let fid = w.health().await["framework_id"].clone();
    assert!(fid.is_string());
    let started = executor::lock(&w.exec.started).len();
    let tasks_before = w.running();
    w.sched.restart();
    let wr = &w;
    let fid2 = fid.clone();
    wait_for("the restarted scheduler to resubscribe", 60, || {
        let f = fid2.clone();
        async move {
            let h = wr.health().await;
            h["connected"] == true && h["framework_id"] == f
        }
    })
    .await;
    assert_eq!(w.sim.framework_ids().len(), 1);
    // Reconciliation settles; offers are regenerated for the new subscription and
    // declined: nothing is launched.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        executor::lock(&w.exec.started).len(),
        started,
        "a second agent was launched"
    );
    assert_eq!(w.running(), tasks_before);
    assert_eq!(w.sim.live_tasks().len(), 4, "{:?}", w.sim.live_tasks());
    for n in ["node-a", "node-c"] {
        w.write_more(n, 5);
    }
    w.assert_exact("step 5: after the scheduler restart", 60)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn journey_first_step_through_the_web_ui() {
    let Some(ui) = ui::Browser::start("journey UI test").await else {
        return;
    };
    let Some(w) = World::start().await else {
        return;
    };
    wait_for("three agent processes", 90, || {
        let n = w.running().len();
        async move { n == 3 }
    })
    .await;
    ui.save_config(&w.base, "apps", &config(&w.engine.url, ""))
        .await;
    w.assert_exact("UI step 1: every line of every container", 120)
        .await;
    ui.close().await;
}
