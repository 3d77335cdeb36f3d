//! Test support for the elasticsearch/opensearch outputs: the search server the tests talk
//! to, a fault proxy between the output and the server, and acknowledgement counting.
//!
//! The server is a real OpenSearch 2.19 node by default (`opensearch.rs`, installed by
//! scripts/setup/opensearch.sh); `LSM_SEARCH=osmem` selects osmem-server (an in-memory
//! compatible server, scripts/setup/osmem.sh) for quick runs. Tests of engine behaviour
//! (real mapping conflicts, 429 rejections, templates, data streams) always use OpenSearch.
#![allow(dead_code)]

pub mod opensearch;

use elasticsearch::http::transport::Transport;
use elasticsearch::indices::IndicesRefreshParts;
use elasticsearch::{CountParts, Elasticsearch};
use logstash_mesos_core::{Ack, AckSink, Event};
pub use opensearch::{NodeOptions, OpenSearch};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Which server the generic tests use (`LSM_SEARCH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    OpenSearch,
    Osmem,
}

pub fn engine() -> Engine {
    match std::env::var("LSM_SEARCH").as_deref() {
        Ok("osmem") => Engine::Osmem,
        Ok("opensearch") | Ok("") | Err(_) => Engine::OpenSearch,
        Ok(other) => panic!("LSM_SEARCH={other:?}: expected opensearch or osmem"),
    }
}

enum Proc {
    Node(OpenSearch),
    Osmem(Child),
    /// `OPENSEARCH_URL`: a node someone else runs.
    External,
}

/// A running search server; stopped when dropped.
pub struct Server {
    pub url: String,
    pub engine: Engine,
    proc: Proc,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Proc::Osmem(c) = &mut self.proc {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn osmem_binary() -> String {
    std::env::var("OSMEM_SERVER_BIN").unwrap_or_else(|_| "osmem-server".to_string())
}

fn missing(msg: String) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("\n!!!!!!!! SKIPPING search server integration test: {msg} !!!!!!!!\n");
    false
}

impl Server {
    /// Can the selected server be started? A loud notice and `false` when not (a panic
    /// under `CI=true`).
    pub fn check() -> bool {
        match engine() {
            Engine::OpenSearch => OpenSearch::check(),
            Engine::Osmem => match Command::new(osmem_binary()).arg("-version").output() {
                Ok(_) => true,
                Err(e) => missing(format!(
                    "osmem-server not available ({e}): run scripts/setup/osmem.sh or set OSMEM_SERVER_BIN"
                )),
            },
        }
    }

    /// A fresh server of the selected engine on any free port.
    pub fn start() -> Option<Server> {
        Self::start_on(None)
    }

    /// A fresh server on `port` (reserved earlier by the test).
    pub fn start_at_port(port: u16) -> Option<Server> {
        Self::start_on(Some(port))
    }

    fn start_on(port: Option<u16>) -> Option<Server> {
        match engine() {
            Engine::OpenSearch => Self::opensearch_with(&NodeOptions {
                http_port: port,
                ..NodeOptions::default()
            }),
            Engine::Osmem => {
                let addr = format!("127.0.0.1:{}", port.unwrap_or(0));
                Self::osmem_at(&addr)
            }
        }
    }

    /// A fresh real OpenSearch node, whatever `LSM_SEARCH` says.
    pub fn opensearch_with(opts: &NodeOptions) -> Option<Server> {
        let node = OpenSearch::start_with(opts)?;
        Some(Server {
            url: node.url.clone(),
            engine: Engine::OpenSearch,
            proc: Proc::Node(node),
        })
    }

    /// The real OpenSearch node this test binary shares (default settings; tests use their
    /// own index names), whatever `LSM_SEARCH` says. `OPENSEARCH_URL` selects an external one.
    pub fn opensearch() -> Option<&'static Server> {
        static NODE: OnceLock<Option<Server>> = OnceLock::new();
        NODE.get_or_init(|| match std::env::var("OPENSEARCH_URL") {
            Ok(u) if !u.is_empty() => Some(Server {
                url: u.trim_end_matches('/').to_string(),
                engine: Engine::OpenSearch,
                proc: Proc::External,
            }),
            _ => Self::opensearch_with(&NodeOptions::default()),
        })
        .as_ref()
    }

    /// The server of the selected engine this test binary shares: one node per binary
    /// rather than one per test keeps the suite's time down.
    pub fn shared() -> Option<&'static Server> {
        match engine() {
            Engine::OpenSearch => Self::opensearch(),
            Engine::Osmem => {
                static OSMEM: OnceLock<Option<Server>> = OnceLock::new();
                OSMEM.get_or_init(|| Self::osmem_at("127.0.0.1:0")).as_ref()
            }
        }
    }

    fn osmem_at(addr: &str) -> Option<Server> {
        let spawned = Command::new(osmem_binary())
            .args([
                "-addr",
                addr,
                "-no-stdin-watch",
                "-parent-pid",
                &std::process::id().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                missing(format!("osmem-server not available ({e}): run scripts/setup/osmem.sh or set OSMEM_SERVER_BIN"));
                return None;
            }
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read osmem-server ready line");
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("osmem-server said {line:?}: {e}"));
        let url = v["url"].as_str().expect("url in ready line").to_string();
        Some(Server {
            url: url.trim_end_matches('/').to_string(),
            engine: Engine::Osmem,
            proc: Proc::Osmem(child),
        })
    }

    pub fn client(&self) -> Elasticsearch {
        Elasticsearch::new(Transport::single_node(&self.url).expect("transport"))
    }

    /// Documents in indices matching `pattern`, after a refresh.
    pub async fn count(&self, pattern: &str) -> u64 {
        let c = self.client();
        let _ = c
            .indices()
            .refresh(IndicesRefreshParts::Index(&[pattern]))
            .send()
            .await;
        let r = c
            .count(CountParts::Index(&[pattern]))
            .send()
            .await
            .expect("count request");
        let v: serde_json::Value = r.json().await.expect("count json");
        v["count"]
            .as_u64()
            .unwrap_or_else(|| panic!("no count in {v}"))
    }

    /// Documents in `index` as they are searchable now (no refresh first).
    pub async fn count_no_refresh(&self, index: &str) -> u64 {
        let v = self.get_json(&format!("{index}/_count")).await;
        v["count"]
            .as_u64()
            .unwrap_or_else(|| panic!("no count in {v}"))
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.send_json(elasticsearch::http::Method::Get, path, None)
            .await
            .1
    }

    /// Sends `body` (JSON) with `method`; returns (status, JSON body).
    pub async fn send_json(
        &self,
        method: elasticsearch::http::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let c = self.client();
        let r = c
            .transport()
            .send(
                method,
                path,
                Default::default(),
                None::<&()>,
                body.map(elasticsearch::http::request::JsonBody::new),
                None,
            )
            .await
            .expect("request");
        let status = r.status_code().as_u16();
        let v = r.json().await.unwrap_or(serde_json::Value::Null);
        (status, v)
    }
}

/// A free local port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Counts what sources hear about their events.
#[derive(Default)]
pub struct AckCounter {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
}

impl AckSink for AckCounter {
    fn finished(&self, _token: u64, delivered: bool) {
        if delivered {
            self.delivered.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub fn with_ack(mut e: Event, sink: &Arc<AckCounter>, token: u64) -> Event {
    let s: Arc<dyn AckSink> = sink.clone();
    e.attach_ack(Ack::new(s, token));
    e
}

/// What the proxy does to one `_bulk` request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status without forwarding.
    Status(u16),
    /// Forward (the server indexes), then close the connection without answering.
    CloseAfterForward,
    /// Forward, then wait before answering (past the client's timeout).
    Slow(Duration),
    /// Forward, then rewrite these items of the response to status 429.
    ItemRejected(Vec<usize>),
}

/// A TCP/HTTP proxy in front of a server that injects faults into `_bulk` requests.
pub struct FaultProxy {
    pub url: String,
    pub faults: Arc<Mutex<VecDeque<Fault>>>,
    /// While set, connections are accepted and closed at once (server down).
    pub down: Arc<AtomicBool>,
    pub bulk_requests: Arc<AtomicUsize>,
    pub injected: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let faults: Arc<Mutex<VecDeque<Fault>>> = Arc::default();
        let down: Arc<AtomicBool> = Arc::default();
        let bulk_requests: Arc<AtomicUsize> = Arc::default();
        let injected: Arc<AtomicUsize> = Arc::default();
        let (f, d, b, i) = (
            faults.clone(),
            down.clone(),
            bulk_requests.clone(),
            injected.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                if d.load(Ordering::Relaxed) {
                    drop(sock);
                    continue;
                }
                let (up, f, d, b, i) =
                    (upstream.clone(), f.clone(), d.clone(), b.clone(), i.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve(sock, &up, &f, &d, &b, &i).await {
                        eprintln!("fault proxy: connection ended: {e}");
                    }
                });
            }
        });
        FaultProxy {
            url,
            faults,
            down,
            bulk_requests,
            injected,
            task,
        }
    }

    pub fn push(&self, fault: Fault) {
        self.faults.lock().expect("faults").push_back(fault);
    }
}

/// Reads one HTTP/1.1 message head and its Content-Length body.
async fn read_message(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<(String, Vec<u8>)>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .map(|(_, v)| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let mut tmp = [0u8; 65536];
                let n = s.read(&mut tmp).await?;
                if n == 0 {
                    return Ok(None);
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            let body = buf[end + 4..end + 4 + len].to_vec();
            buf.drain(..end + 4 + len);
            return Ok(Some((head, body)));
        }
        let mut tmp = [0u8; 65536];
        let n = s.read(&mut tmp).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

/// Sends one request upstream on a fresh connection; returns (head, body).
async fn forward(upstream: &str, head: &str, body: &[u8]) -> std::io::Result<(String, Vec<u8>)> {
    let mut up = TcpStream::connect(upstream).await?;
    let mut req = String::new();
    for (n, line) in head.split("\r\n").enumerate() {
        // Plain responses (the proxy rewrites some); one request per upstream connection.
        if n > 0
            && line.split_once(':').is_some_and(|(k, _)| {
                k.eq_ignore_ascii_case("connection") || k.eq_ignore_ascii_case("accept-encoding")
            })
        {
            continue;
        }
        req.push_str(line);
        req.push_str("\r\n");
    }
    req.push_str("Connection: close\r\n\r\n");
    up.write_all(req.as_bytes()).await?;
    up.write_all(body).await?;
    let mut buf = Vec::new();
    if head.starts_with("HEAD ") {
        // No body follows whatever Content-Length says.
        let mut tmp = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = up.read(&mut tmp).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(buf.len());
        return Ok((String::from_utf8_lossy(&buf[..end]).to_string(), Vec::new()));
    }
    match read_message(&mut up, &mut buf).await? {
        Some(m) => Ok(m),
        None => Err(std::io::Error::other("upstream closed")),
    }
}

fn response(status: u16, head_from: Option<&str>, body: &[u8]) -> Vec<u8> {
    let ctype = head_from
        .and_then(|h| {
            h.lines().find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.trim().to_string())
            })
        })
        .unwrap_or_else(|| "application/json".into());
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

async fn serve(
    mut sock: TcpStream,
    upstream: &str,
    faults: &Mutex<VecDeque<Fault>>,
    down: &AtomicBool,
    bulks: &AtomicUsize,
    injected: &AtomicUsize,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while let Some((head, body)) = read_message(&mut sock, &mut buf).await? {
        if down.load(Ordering::Relaxed) {
            return Ok(());
        }
        let is_bulk = head
            .split_whitespace()
            .nth(1)
            .is_some_and(|p| p.contains("_bulk"));
        let fault = if is_bulk {
            bulks.fetch_add(1, Ordering::Relaxed);
            faults.lock().expect("faults").pop_front()
        } else {
            None
        };
        if fault.is_some() {
            injected.fetch_add(1, Ordering::Relaxed);
        }
        match fault {
            Some(Fault::Status(s)) => {
                let b = format!("{{\"error\":{{\"type\":\"injected\",\"reason\":\"fault proxy {s}\"}},\"status\":{s}}}");
                sock.write_all(&response(s, None, b.as_bytes())).await?;
            }
            Some(Fault::CloseAfterForward) => {
                let _ = forward(upstream, &head, &body).await?;
                return Ok(());
            }
            Some(Fault::Slow(d)) => {
                let (h, b) = forward(upstream, &head, &body).await?;
                tokio::time::sleep(d).await;
                sock.write_all(&response(status_of(&h), Some(&h), &b))
                    .await?;
            }
            Some(Fault::ItemRejected(which)) => {
                let (h, b) = forward(upstream, &head, &body).await?;
                let mut v: serde_json::Value =
                    serde_json::from_slice(&b).map_err(std::io::Error::other)?;
                if let Some(items) = v["items"].as_array_mut() {
                    for &k in &which {
                        if let Some(obj) = items
                            .get_mut(k)
                            .and_then(|i| i.as_object_mut())
                            .and_then(|o| o.values_mut().next())
                        {
                            obj["status"] = 429.into();
                            obj["error"] = serde_json::json!({"type":"es_rejected_execution_exception","reason":"injected rejection"});
                        }
                    }
                }
                v["errors"] = true.into();
                let b = serde_json::to_vec(&v).map_err(std::io::Error::other)?;
                sock.write_all(&response(status_of(&h), Some(&h), &b))
                    .await?;
            }
            None if head.starts_with("HEAD ") => {
                let (h, _) = forward(upstream, &head, &body).await?;
                sock.write_all(
                    format!("HTTP/1.1 {} X\r\nContent-Length: 0\r\n\r\n", status_of(&h)).as_bytes(),
                )
                .await?;
            }
            None => {
                let (h, b) = forward(upstream, &head, &body).await?;
                sock.write_all(&response(status_of(&h), Some(&h), &b))
                    .await?;
            }
        }
    }
    Ok(())
}

fn status_of(head: &str) -> u16 {
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(502)
}

/// Resident memory of this process in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
