//! The local demo behind `scripts/quickstart.sh`: a whole logstash-mesos cluster on this
//! machine. The Mesos master simulator (the test fixture, never the product) plays the
//! master, its command executor starts agent tasks as real processes; one node with its own
//! Docker daemon runs a container writing NGINX access logs; the real `logstash-mesos
//! scheduler` registers as the framework, the NGINX config is PUT through its REST API,
//! the agent it launches on the node reads the container's log file and indexes the parsed
//! lines into osmem-server (or, without it, prints them to the agent's stdout).
//!
//!   quickstart             runs until Ctrl-C, printing where to look
//!   quickstart --check N   exits 0 once N parsed lines arrived (the CI test), 1 after 180 s
//!
//! `LOGSTASH_MESOS_BIN` names the binary (default: `../logstash-mesos` next to this one).

#[path = "../crates/scheduler/tests/support/simulator/mod.rs"]
mod simulator;

// The journey test's node pieces, shared rather than copied; the demo uses a part of each.
#[allow(dead_code)]
#[path = "../tests/journey/dockerd.rs"]
mod dockerd;
#[allow(dead_code)]
#[path = "../tests/journey/executor.rs"]
mod executor;
#[allow(dead_code)]
#[path = "../tests/journey/search.rs"]
mod search;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const CONTAINER: &str = "web-1";
const IMAGE: &str = "nginx-demo:1.27";
const INDEX: &str = "nginx";

/// An NGINX container as far as its logs go: the `combined` access log format, a
/// request every 200 ms, written to /var/log/nginx/access.log like the stock config.
const NGINX_SCRIPT: &str = r#"mkdir -p /var/log/nginx; i=0
paths="/ /index.html /api/v1/items /static/app.js /login /missing"
codes="200 200 200 304 302 404"
while true; do
  i=$((i+1)); n=$((i % 6 + 1))
  p=$(echo $paths | cut -d' ' -f$n); c=$(echo $codes | cut -d' ' -f$n)
  echo "10.0.0.$((i % 250 + 1)) - - [$(date -u '+%d/%b/%Y:%H:%M:%S +0000')] \"GET $p HTTP/1.1\" $c $((i * 37 % 5000)) \"-\" \"curl/8.5.0\"" >> /var/log/nginx/access.log
  sleep 0.2
done"#;

fn config(search: Option<&str>) -> String {
    let output = match search {
        Some(url) => format!(
            "elasticsearch {{ hosts => [\"{url}\"] index => \"{INDEX}-%{{+YYYY.MM.dd}}\" }}"
        ),
        None => "stdout { codec => json_lines }".to_string(),
    };
    format!(
        r#"# NGINX access logs of every container whose image matches nginx-demo*.
input {{
  docker {{
    image => ["nginx-demo*"]
    path => ["/var/log/nginx/access.log"]
    stdout => false
    stderr => false
  }}
}}
filter {{
  grok {{ match => {{ "message" => "%{{COMBINEDAPACHELOG}}" }} }}
  date {{ match => ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"] remove_field => ["timestamp"] }}
}}
output {{
  {output}
}}
"#
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("LOGSTASH_MESOS_BIN") {
        return PathBuf::from(p);
    }
    let me = std::env::current_exe().expect("own path");
    let dir = me.parent().and_then(Path::parent).expect("target dir");
    dir.join("logstash-mesos")
}

/// Everything the demo started; stopped in reverse on drop.
struct Demo {
    scheduler: Child,
    exec: executor::Executors,
    node: dockerd::Dockerd,
    _sim: simulator::Simulator,
    engine: Option<search::Engine>,
    root: PathBuf,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.scheduler.kill();
        let _ = self.scheduler.wait();
        self.exec.kill_all();
    }
}

impl Demo {
    /// Parsed documents so far and one of them.
    async fn parsed(&self, http: &reqwest::Client) -> (u64, Option<Value>) {
        match &self.engine {
            Some(e) => {
                let n = e.count(&format!("{INDEX}-*")).await;
                let sample = http
                    .get(format!("{}/{INDEX}-*/_search?size=1", e.url))
                    .send()
                    .await
                    .ok();
                let sample = match sample {
                    Some(r) => r.json::<Value>().await.ok(),
                    None => None,
                };
                let doc = sample.and_then(|v| v["hits"]["hits"][0]["_source"].as_object().cloned());
                (n, doc.map(Value::Object))
            }
            None => {
                let mut n = 0;
                let mut sample = None;
                for f in sandbox_files(&self.root, "stdout") {
                    let text = std::fs::read_to_string(&f).unwrap_or_default();
                    for line in text.lines() {
                        if let Ok(v) = serde_json::from_str::<Value>(line) {
                            if v.get("http").is_some() {
                                n += 1;
                                sample = Some(v);
                            }
                        }
                    }
                }
                (n, sample)
            }
        }
    }
}

fn sandbox_files(root: &Path, name: &str) -> Vec<PathBuf> {
    let out = Command::new("find")
        .arg(root.join("work"))
        .args(["-name", name, "-type", "f"])
        .output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(PathBuf::from)
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn is_parsed(doc: &Value) -> bool {
    doc["http"]["response"]["status_code"].is_number()
        && doc["url"]["original"].is_string()
        && doc["container"]["name"] == CONTAINER
        && doc["@timestamp"].is_string()
}

#[tokio::main]
async fn main() {
    let mut check: Option<u64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--check" => {
                check = args.next().and_then(|n| n.parse().ok());
                if check.is_none() {
                    eprintln!("--check needs a number of documents");
                    std::process::exit(2);
                }
            }
            _ => {
                eprintln!("usage: quickstart [--check N]");
                std::process::exit(2);
            }
        }
    }
    std::process::exit(run(check).await);
}

/// The demo; its exit code. Everything it started is stopped when it returns.
async fn run(check: Option<u64>) -> i32 {
    let bin = binary();
    if !bin.is_file() {
        eprintln!(
            "no logstash-mesos binary at {} (set LOGSTASH_MESOS_BIN)",
            bin.display()
        );
        return 1;
    }
    if !dockerd::available() {
        eprintln!("Docker is needed: run scripts/setup/docker.sh");
        return 1;
    }
    let root = tempfile::Builder::new()
        .prefix("lsmq")
        .tempdir_in("/tmp")
        .expect("a directory under /tmp");
    let root_path = root.path().to_path_buf();
    say("starting the search engine (osmem-server)");
    let engine = search::start();
    if engine.is_none() {
        say("no osmem-server: the agent prints events to its stdout instead");
    }
    say("starting the Mesos master simulator and node-1's Docker daemon");
    let sim = simulator::Simulator::start(1).await;
    let exec = executor::Executors::new(&root_path.join("work"));
    exec.install(&sim);
    let node = dockerd::Dockerd::start(&root_path, "node-1");
    node.docker(&["tag", dockerd::IMAGE, IMAGE]);
    node.docker(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        CONTAINER,
        IMAGE,
        "/bin/sh",
        "-c",
        NGINX_SCRIPT,
    ]);

    say("starting the scheduler");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(root_path.join("scheduler.log")).expect("scheduler log");
    let scheduler = Command::new(&bin)
        .arg("scheduler")
        .args(["--master", &sim.url(0)])
        .args(["--framework-name", "logstash-mesos-quickstart"])
        .args(["--agent-command", "./logstash-mesos agent"])
        .arg("--state")
        .arg(format!("file://{}", root_path.join("state").display()))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--advertise-url", &base])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("the scheduler starts");
    let demo = Demo {
        scheduler,
        exec,
        node,
        _sim: sim.clone(),
        engine,
        root: root_path.clone(),
    };
    // The node's Mesos agent registers; its executors see node-1's Docker daemon.
    sim.add_agent_with_env(
        "node-1",
        4.0,
        4096.0,
        vec![("DOCKER_HOST".into(), demo.node.host())],
    );

    let http = reqwest::Client::new();
    let t0 = Instant::now();
    let conf = config(demo.engine.as_ref().map(|e| e.url.as_str()));
    let put = loop {
        let r = http
            .put(format!("{base}/v1/configs/nginx"))
            .body(conf.clone())
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => break r.text().await.unwrap_or_default(),
            Ok(r) => {
                let status = r.status();
                eprintln!(
                    "PUT /v1/configs/nginx: {status} {}",
                    r.text().await.unwrap_or_default()
                );
                return 1;
            }
            Err(_) if t0.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                eprintln!("the scheduler does not answer on {base}: {e}");
                return 1;
            }
        }
    };
    say(&format!("PUT /v1/configs/nginx → {put}"));

    println!();
    println!("logstash-mesos quickstart is up ({})", root_path.display());
    println!("  web UI and REST API   {base}/");
    println!("  the NGINX config      curl {base}/v1/configs/nginx");
    println!("  agents                curl {base}/v1/agents");
    match &demo.engine {
        Some(e) => println!(
            "  parsed lines          curl '{}/{INDEX}-*/_search?size=3&pretty'",
            e.url
        ),
        None => println!(
            "  parsed lines          the agent's stdout under {}/work",
            root_path.display()
        ),
    }
    println!(
        "  the container's log   docker -H {} exec {CONTAINER} tail -f /var/log/nginx/access.log",
        demo.node.host()
    );
    println!(
        "  scheduler log         {}",
        root_path.join("scheduler.log").display()
    );
    println!();

    let deadline = Instant::now() + Duration::from_secs(180);
    let mut last = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                say("stopping");
                break;
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let (n, sample) = demo.parsed(&http).await;
        if n != last {
            say(&format!("{n} NGINX lines parsed and shipped"));
            last = n;
        }
        if let Some(want) = check {
            if n >= want {
                let doc = sample.unwrap_or_default();
                if !is_parsed(&doc) {
                    eprintln!("a document lacks the parsed fields: {doc}");
                    dump(&root_path);
                    return 1;
                }
                println!("quickstart check passed: {n} documents, e.g. {doc}");
                return 0;
            }
            if Instant::now() > deadline {
                eprintln!("quickstart check failed: {n} of {want} documents after 180 s");
                dump(&root_path);
                return 1;
            }
        }
    }
    0
}

fn say(what: &str) {
    println!("[quickstart] {what}");
}

/// What the scheduler and the agent said, for a failed check.
fn dump(root: &Path) {
    let tail = |p: &Path| {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    eprintln!(
        "--- scheduler.log ---\n{}",
        tail(&root.join("scheduler.log"))
    );
    for f in sandbox_files(root, "stderr") {
        eprintln!("--- {} ---\n{}", f.display(), tail(&f));
    }
}
