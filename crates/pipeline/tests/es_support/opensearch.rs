//! A real OpenSearch 2.19 node for tests and benches, started from the jars that
//! `scripts/setup/opensearch.sh` installs, on loopback with a fresh home/data directory, a
//! small heap and any extra node settings; stopped when dropped.
//!
//! Standard library only, so any test or bench can include it with
//! `#[path = ".../es_support/opensearch.rs"] mod opensearch;`.
//!
//! Environment contract (written by the setup script to `$LSM_ENV_DIR/opensearch.env`,
//! which `scripts/test.sh` sources):
//! - `OPENSEARCH_CLASSPATH`: the JVM classpath (launcher jar + `lib/*`). Unset: the
//!   install at `$HOME/.cache/logstash-mesos/opensearch/current` is used when present.
//! - `OPENSEARCH_MAIN`: the launcher class (default `org.logstash_mesos.opensearch.OpenSearchNode`).
//! - `OPENSEARCH_JAVA`: the java binary (default `java`).
//! - `OPENSEARCH_HEAP`: the heap (`-Xms`/`-Xmx`), default `512m`.
//! - `OPENSEARCH_URL`: an already running node for [`OpenSearch::shared`] instead of
//!   starting one (its data is not cleaned).
//! - `CI=true`: a missing install fails the caller ([`OpenSearch::start`] panics) instead
//!   of returning `None` with a loud notice.
//!
//! The launcher writes `<home>/ready.json` (`{"url":...,"pid":...}`) once HTTP is bound and
//! stops when its standard input closes, so a node never outlives the process that started
//! it, even when that process is killed or the node is held in a `static`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const DEFAULT_MAIN: &str = "org.logstash_mesos.opensearch.OpenSearchNode";

/// How to start a node.
#[derive(Clone, Debug, Default)]
pub struct NodeOptions {
    /// The HTTP port; `None` for any free one (chosen by the node itself: no race).
    pub http_port: Option<u16>,
    /// Extra node settings, e.g. `("thread_pool.write.queue_size", "2")`.
    pub settings: Vec<(String, String)>,
    /// Overrides `OPENSEARCH_HEAP`.
    pub heap: Option<String>,
}

impl NodeOptions {
    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.settings.push((key.to_string(), value.to_string()));
        self
    }

    pub fn port(mut self, port: u16) -> Self {
        self.http_port = Some(port);
        self
    }
}

/// A running node; stopped (and its directory removed) when dropped.
pub struct OpenSearch {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    child: Option<Child>,
    home: Option<PathBuf>,
}

impl Drop for OpenSearch {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(h) = &self.home {
            let _ = std::fs::remove_dir_all(h);
        }
    }
}

/// The java command line pieces, from the environment contract.
struct Launch {
    java: String,
    classpath: String,
    main: String,
    heap: String,
}

fn launch() -> Result<Launch, String> {
    let classpath = match std::env::var("OPENSEARCH_CLASSPATH") {
        Ok(cp) if !cp.is_empty() => cp,
        _ => {
            let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
            let dir = Path::new(&home).join(".cache/logstash-mesos/opensearch/current");
            if !dir.join("launcher.jar").is_file() {
                return Err(format!(
                    "OpenSearch is not installed (OPENSEARCH_CLASSPATH unset, no {}): run scripts/setup/opensearch.sh",
                    dir.display()
                ));
            }
            format!("{0}/launcher.jar:{0}/lib/*", dir.display())
        }
    };
    let first = classpath.split(':').next().unwrap_or("");
    if !Path::new(first).exists() {
        return Err(format!(
            "OPENSEARCH_CLASSPATH names {first}, which does not exist: run scripts/setup/opensearch.sh"
        ));
    }
    Ok(Launch {
        java: std::env::var("OPENSEARCH_JAVA").unwrap_or_else(|_| "java".into()),
        classpath,
        main: std::env::var("OPENSEARCH_MAIN").unwrap_or_else(|_| DEFAULT_MAIN.into()),
        heap: std::env::var("OPENSEARCH_HEAP").unwrap_or_else(|_| "512m".into()),
    })
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Homes live under one directory; each is named after the process that owns it, so
/// leftovers of killed runs (whose node stopped with them) are removed on the next start.
fn homes_root() -> PathBuf {
    std::env::temp_dir().join("lsm-opensearch")
}

fn clean_stale_homes() {
    let Ok(rd) = std::fs::read_dir(homes_root()) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

impl OpenSearch {
    /// Is a node installed? `Err` says how to install one.
    pub fn installed() -> Result<(), String> {
        launch().map(|_| ())
    }

    /// `true` when a node can be started; otherwise a loud notice and `false`, or a panic
    /// under `CI=true` (a missing service must fail there, never skip).
    pub fn check() -> bool {
        match Self::installed() {
            Ok(()) => true,
            Err(msg) if ci() => panic!("{msg}"),
            Err(msg) => {
                eprintln!("\n!!!!!!!! SKIPPING OpenSearch test: {msg} !!!!!!!!\n");
                false
            }
        }
    }

    /// A fresh node with default settings (see [`OpenSearch::start_with`]).
    pub fn start() -> Option<OpenSearch> {
        Self::start_with(&NodeOptions::default())
    }

    /// A fresh node: `None` (after [`OpenSearch::check`]'s notice) when not installed.
    /// Panics when an installed node fails to start (with the tail of its log).
    pub fn start_with(opts: &NodeOptions) -> Option<OpenSearch> {
        if !Self::check() {
            return None;
        }
        let l = launch().ok()?;
        clean_stale_homes();
        let home = homes_root().join(format!(
            "{}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&home).unwrap_or_else(|e| panic!("{}: {e}", home.display()));
        let log_path = home.join("node.log");
        let log = std::fs::File::create(&log_path).expect("node log");
        let heap = opts.heap.as_deref().unwrap_or(&l.heap);
        let mut cmd = Command::new(&l.java);
        cmd.arg(format!("-Xms{heap}"))
            .arg(format!("-Xmx{heap}"))
            // Small footprint on a shared machine; the server's own jvm.options defaults.
            .args([
                "-XX:+UseG1GC",
                "-XX:TieredStopAtLevel=1",
                "-Djava.awt.headless=true",
                "-Dfile.encoding=UTF-8",
                "-Dio.netty.allocator.numDirectArenas=0",
                "-Dlog4j2.disable.jmx=true",
            ])
            .arg(format!("-Djava.io.tmpdir={}", home.display()))
            .arg("-cp")
            .arg(&l.classpath)
            .arg(&l.main)
            .arg(format!("path.home={}", home.display()))
            .arg(format!("path.data={}", home.join("data").display()))
            .arg(format!("path.logs={}", home.join("logs").display()));
        if let Some(p) = opts.http_port {
            cmd.arg(format!("http.port={p}"));
        }
        for (k, v) in &opts.settings {
            cmd.arg(format!("{k}={v}"));
        }
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", l.java));
        let mut node = OpenSearch {
            url: String::new(),
            child: Some(child),
            home: Some(home.clone()),
        };
        let deadline = Instant::now() + Duration::from_secs(180);
        let ready = home.join("ready.json");
        loop {
            if let Ok(s) = std::fs::read_to_string(&ready) {
                if let Some(url) = json_str(&s, "url") {
                    node.url = url;
                    break;
                }
            }
            if let Some(Ok(Some(status))) = node.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "OpenSearch exited ({status}) before it was ready:\n{}",
                    tail(&log_path)
                );
            }
            if Instant::now() > deadline {
                panic!("OpenSearch not ready after 180 s:\n{}", tail(&log_path));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        node.wait_green(Duration::from_secs(60));
        Some(node)
    }

    /// The node shared by every test of this process (started on first use, default
    /// settings; `OPENSEARCH_URL` selects an external one). Tests sharing it use their own
    /// index names. `None` as for [`OpenSearch::start`].
    pub fn shared() -> Option<&'static OpenSearch> {
        static NODE: OnceLock<Option<OpenSearch>> = OnceLock::new();
        NODE.get_or_init(|| match std::env::var("OPENSEARCH_URL") {
            Ok(u) if !u.is_empty() => Some(OpenSearch {
                url: u.trim_end_matches('/').to_string(),
                child: None,
                home: None,
            }),
            _ => Self::start(),
        })
        .as_ref()
    }

    /// The JVM's process id (`None` for an external node): benches read its CPU time.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The node's log so far (its last lines).
    pub fn log_tail(&self) -> String {
        self.home
            .as_ref()
            .map(|h| tail(&h.join("node.log")))
            .unwrap_or_default()
    }

    /// Waits until `/_cluster/health` reports green; panics after `max`.
    pub fn wait_green(&self, max: Duration) {
        let deadline = Instant::now() + max;
        loop {
            match self.request(
                "GET",
                "/_cluster/health?wait_for_status=green&timeout=5s",
                None,
            ) {
                Ok((200, body)) if body.contains("\"status\":\"green\"") => return,
                r => {
                    if Instant::now() > deadline {
                        panic!(
                            "OpenSearch at {} not green after {max:?}: {r:?}\n{}",
                            self.url,
                            self.log_tail()
                        );
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// One blocking HTTP/1.1 request (JSON body); returns (status, body). Enough for
    /// setup and assertions without an HTTP client dependency.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        let hostport = self
            .url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        let mut s = std::net::TcpStream::connect(hostport)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let body = body.unwrap_or("");
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut out = Vec::new();
        s.read_to_end(&mut out)?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let chunked = head.lines().any(|l| {
            l.to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked")
        });
        Ok((
            status,
            if chunked {
                dechunk(rest)
            } else {
                rest.to_string()
            },
        ))
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The string value of `"key":"..."` in a flat JSON object (no escapes in our values).
fn json_str(s: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":\"");
    let start = s.find(&pat)? + pat.len();
    let end = s[start..].find('"')? + start;
    Some(s[start..end].to_string())
}

fn tail(p: &Path) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}
