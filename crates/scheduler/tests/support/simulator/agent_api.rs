//! The agent side of the Mesos simulator (agent-api/PROTOCOL.md §8): one simulated node's
//! HTTP API — `GET /state` (and `/slave(1)/state`), `GET /files/read`, `GET /files/browse`,
//! `GET /health` — over real sandboxes on disk under a work_dir laid out as the agent
//! does (`slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>/stdout`, nested
//! `containers/<child>/` and `tasks/<id>` links for task groups, `runs/latest`), with
//! writers reproducing the logrotate container logger (≤ 4096-byte chunks, rename or
//! copytruncate rotation, `rotate N`), task completion, GC removal (404 afterwards),
//! a recovery window (503), basic authentication and HTTPS.
//!
//! Test-only and standalone: include it with `#[path = ".../agent_api.rs"] mod agent_api;`.
#![allow(dead_code)]

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How a container's stdout/stderr are written (§5).
#[derive(Clone, Copy, Debug)]
pub enum Logger {
    /// Append-only, never rotated.
    Sandbox,
    /// logrotate container logger: rotate when `written + chunk > max_size`.
    Logrotate {
        max_size: u64,
        /// `rotate N`: keep `stdout.1 … stdout.N` (0 deletes rotated data).
        keep: usize,
        copytruncate: bool,
    },
}

/// One stream's writer, as `mesos-logrotate-logger` writes it.
pub struct StreamWriter {
    path: PathBuf,
    logger: Logger,
    written: u64,
    file: Option<std::fs::File>,
    pub rotations: usize,
}

impl StreamWriter {
    pub fn new(path: PathBuf, logger: Logger) -> StreamWriter {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .ok();
        StreamWriter {
            path,
            logger,
            written: 0,
            file,
            rotations: 0,
        }
    }

    /// Writes `data` in chunks of at most one page, rotating before a chunk that would
    /// pass the limit (not at line boundaries).
    pub fn write(&mut self, data: &[u8]) {
        for chunk in data.chunks(4096) {
            if let Logger::Logrotate {
                max_size,
                keep,
                copytruncate,
            } = self.logger
            {
                if self.written + chunk.len() as u64 > max_size {
                    self.rotate(keep, copytruncate);
                }
            }
            if self.file.is_none() {
                self.file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .ok();
            }
            if let Some(f) = self.file.as_mut() {
                let _ = f.write_all(chunk);
            }
            self.written += chunk.len() as u64;
        }
    }

    fn gen(&self, k: usize) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(format!(".{k}"));
        PathBuf::from(s)
    }

    fn rotate(&mut self, keep: usize, copytruncate: bool) {
        self.file = None;
        self.rotations += 1;
        let state = {
            let mut s = self.path.clone().into_os_string();
            s.push(".logrotate.state");
            PathBuf::from(s)
        };
        let _ = std::fs::write(state, b"logrotate state -- version 2\n");
        if keep == 0 {
            if copytruncate {
                let _ = std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&self.path);
            } else {
                let _ = std::fs::remove_file(&self.path);
            }
        } else {
            let _ = std::fs::remove_file(self.gen(keep));
            for k in (1..keep).rev() {
                let _ = std::fs::rename(self.gen(k), self.gen(k + 1));
            }
            if copytruncate {
                let _ = std::fs::copy(&self.path, self.gen(1));
                let _ = std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&self.path);
            } else {
                let _ = std::fs::rename(&self.path, self.gen(1));
            }
        }
        self.written = 0;
    }
}

/// A task as the agent lists it.
#[derive(Clone, Debug)]
pub struct SimTask {
    pub id: String,
    pub name: String,
    pub state: String,
    pub labels: Vec<(String, String)>,
    /// `DOCKER`, `MESOS` or none.
    pub container_type: Option<String>,
    /// The nested container of a task-group task.
    pub child: Option<String>,
    /// Host directory holding the task's stdout/stderr.
    pub dir: PathBuf,
}

#[derive(Clone, Debug)]
pub struct SimExecutor {
    pub id: String,
    pub container: String,
    pub directory: PathBuf,
    pub kind: Option<String>,
    pub tasks: Vec<SimTask>,
    pub completed: bool,
}

#[derive(Clone, Debug)]
pub struct SimFramework {
    pub id: String,
    pub name: String,
    pub role: String,
    pub executors: Vec<SimExecutor>,
}

pub struct Node {
    pub agent_id: String,
    pub hostname: String,
    pub work_dir: PathBuf,
    pub frameworks: Vec<SimFramework>,
    /// Run directories the `/files` endpoints serve (removed by GC).
    pub attached: Vec<PathBuf>,
    pub recovering: bool,
    pub credentials: Option<(String, String)>,
    /// Requests seen, by path (for assertions).
    pub requests: BTreeMap<String, u64>,
    seq: u64,
}

#[derive(Clone)]
pub struct AgentSim(pub Arc<Mutex<Node>>);

/// TLS material for an https agent: certificate and key PEM.
pub struct Tls {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Tls {
    /// A self-signed certificate for `localhost` and 127.0.0.1.
    pub fn self_signed() -> Tls {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("certificate");
        Tls {
            cert_pem: ck.cert.pem(),
            key_pem: ck.key_pair.serialize_pem(),
        }
    }
}

struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((s, a)) = self.tcp.accept().await else {
                continue;
            };
            // A client refusing the certificate fails its handshake: keep serving others.
            if let Ok(t) = self.acceptor.accept(s).await {
                return (t, a);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

impl AgentSim {
    /// Starts a node's API on loopback; sandboxes live under `work_dir`.
    pub async fn start(
        work_dir: &Path,
        tls: Option<&Tls>,
        credentials: Option<(&str, &str)>,
    ) -> (AgentSim, String) {
        let sim = AgentSim(Arc::new(Mutex::new(Node {
            agent_id: "b3c5e0a2-7d41-4f9e-8a6c-2e9f1d0b7c44-S3".into(),
            hostname: "127.0.0.1".into(),
            work_dir: work_dir.to_path_buf(),
            frameworks: Vec::new(),
            attached: Vec::new(),
            recovering: false,
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
            requests: BTreeMap::new(),
            seq: 0,
        })));
        let app = axum::Router::new()
            .route("/state", axum::routing::get(state))
            .route("/slave(1)/state", axum::routing::get(state))
            .route("/files/read", axum::routing::get(files_read))
            .route("/files/browse", axum::routing::get(files_browse))
            .route("/health", axum::routing::get(|| async { StatusCode::OK }))
            .fallback(|| async { (StatusCode::NOT_FOUND, "404 Not Found.") })
            .with_state(sim.clone());
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let url = match tls {
            None => {
                tokio::spawn(async move {
                    let _ = axum::serve(tcp, app).await;
                });
                format!("http://127.0.0.1:{}", addr.port())
            }
            Some(t) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let certs = rustls_pemfile_certs(&t.cert_pem);
                let key = rustls::pki_types::PrivateKeyDer::try_from(base64_pem_body(
                    &t.key_pem,
                    "PRIVATE KEY",
                ))
                .expect("key");
                let cfg = rustls::ServerConfig::builder()
                    .with_no_client_auth()
                    .with_single_cert(certs, key)
                    .expect("tls config");
                let listener = TlsListener {
                    tcp,
                    acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(cfg)),
                };
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                });
                format!("https://localhost:{}", addr.port())
            }
        };
        {
            let n = sim.lock();
            let _ = std::fs::create_dir_all(n.work_dir.join("slaves").join(&n.agent_id));
            let _ = std::os::unix::fs::symlink(
                n.work_dir.join("slaves").join(&n.agent_id),
                n.work_dir.join("slaves/latest"),
            );
        }
        (sim, url)
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Node> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add_framework(&self, id: &str, name: &str, role: &str) {
        self.lock().frameworks.push(SimFramework {
            id: id.into(),
            name: name.into(),
            role: role.into(),
            executors: Vec::new(),
        });
    }

    fn uuid(n: &mut Node) -> String {
        n.seq += 1;
        format!("{:08x}-0000-4000-8000-{:012x}", n.seq, n.seq * 7919)
    }

    fn run_dir(n: &Node, fw: &str, ex: &str, cid: &str) -> PathBuf {
        n.work_dir
            .join("slaves")
            .join(&n.agent_id)
            .join("frameworks")
            .join(fw)
            .join("executors")
            .join(ex)
            .join("runs")
            .join(cid)
    }

    fn make_run(n: &mut Node, fw: &str, ex: &str) -> (String, PathBuf) {
        let cid = Self::uuid(n);
        let dir = Self::run_dir(n, fw, ex, &cid);
        std::fs::create_dir_all(&dir).expect("sandbox");
        let latest = dir.parent().expect("runs").join("latest");
        let _ = std::fs::remove_file(&latest);
        let _ = std::os::unix::fs::symlink(&dir, latest);
        n.attached.push(dir.clone());
        (cid, dir)
    }

    /// A command (or Docker-containerizer) task: executor id = task id, files in the
    /// executor sandbox. Returns the sandbox directory.
    pub fn launch_task(
        &self,
        fw: &str,
        task_id: &str,
        name: &str,
        labels: &[(&str, &str)],
        container_type: Option<&str>,
    ) -> PathBuf {
        let mut n = self.lock();
        let (cid, dir) = Self::make_run(&mut n, fw, task_id);
        let task = SimTask {
            id: task_id.into(),
            name: name.into(),
            state: "TASK_RUNNING".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            container_type: container_type.map(str::to_string),
            child: None,
            dir: dir.clone(),
        };
        let ex = SimExecutor {
            id: task_id.into(),
            container: cid,
            directory: dir.clone(),
            kind: None,
            tasks: vec![task],
            completed: false,
        };
        if let Some(f) = n.frameworks.iter_mut().find(|f| f.id == fw) {
            f.executors.push(ex);
        }
        dir
    }

    /// A task some executor already started in `dir`, a run directory under this node's
    /// work dir (the master simulator's command executor makes them): listed in `/state`
    /// and served by `/files`, its framework added when new. This is how the tasks the
    /// scheduler launches through the master simulator become tasks of this node.
    pub fn attach_task(&self, fw_id: &str, fw_name: &str, task_id: &str, name: &str, dir: &Path) {
        let mut n = self.lock();
        if !n.frameworks.iter().any(|f| f.id == fw_id) {
            n.frameworks.push(SimFramework {
                id: fw_id.into(),
                name: fw_name.into(),
                role: "*".into(),
                executors: Vec::new(),
            });
        }
        let container = dir
            .file_name()
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default();
        let task = SimTask {
            id: task_id.into(),
            name: name.into(),
            state: "TASK_RUNNING".into(),
            labels: Vec::new(),
            container_type: Some("MESOS".into()),
            child: None,
            dir: dir.to_path_buf(),
        };
        let ex = SimExecutor {
            id: task_id.into(),
            container,
            directory: dir.to_path_buf(),
            kind: None,
            tasks: vec![task],
            completed: false,
        };
        n.attached.push(dir.to_path_buf());
        if let Some(f) = n.frameworks.iter_mut().find(|f| f.id == fw_id) {
            f.executors.push(ex);
        }
    }

    /// A task group on the default executor: each task in `containers/<child>/`, linked
    /// as `tasks/<task id>`. Returns the tasks' directories.
    pub fn launch_group(
        &self,
        fw: &str,
        executor_id: &str,
        tasks: &[(&str, &str)],
    ) -> Vec<PathBuf> {
        let mut n = self.lock();
        let (cid, dir) = Self::make_run(&mut n, fw, executor_id);
        let mut out = Vec::new();
        let mut sim_tasks = Vec::new();
        for (id, name) in tasks {
            let child = Self::uuid(&mut n);
            let tdir = dir.join("containers").join(&child);
            std::fs::create_dir_all(&tdir).expect("nested sandbox");
            let _ = std::fs::create_dir_all(dir.join("tasks"));
            let _ = std::os::unix::fs::symlink(&tdir, dir.join("tasks").join(id));
            out.push(tdir.clone());
            sim_tasks.push(SimTask {
                id: id.to_string(),
                name: name.to_string(),
                state: "TASK_RUNNING".into(),
                labels: Vec::new(),
                container_type: Some("MESOS".into()),
                child: Some(child),
                dir: tdir,
            });
        }
        let ex = SimExecutor {
            id: executor_id.into(),
            container: cid,
            directory: dir,
            kind: Some("DEFAULT".into()),
            tasks: sim_tasks,
            completed: false,
        };
        if let Some(f) = n.frameworks.iter_mut().find(|f| f.id == fw) {
            f.executors.push(ex);
        }
        out
    }

    /// The task reaches a terminal state; its executor (once all its tasks are terminal)
    /// moves to `completed_executors` (the scheduler acknowledged at once).
    pub fn finish_task(&self, task_id: &str, state: &str) {
        let mut n = self.lock();
        for f in &mut n.frameworks {
            for ex in &mut f.executors {
                for t in &mut ex.tasks {
                    if t.id == task_id {
                        t.state = state.into();
                    }
                }
                if ex.tasks.iter().all(|t| t.state != "TASK_RUNNING") {
                    ex.completed = true;
                }
            }
        }
    }

    /// GC: the run directory of the executor holding `task_id` is deleted and detached;
    /// the completed executor stays listed.
    pub fn gc(&self, task_id: &str) {
        let mut n = self.lock();
        let mut dirs = Vec::new();
        for f in &n.frameworks {
            for ex in &f.executors {
                if ex.tasks.iter().any(|t| t.id == task_id) {
                    dirs.push(ex.directory.clone());
                }
            }
        }
        for d in dirs {
            let _ = std::fs::remove_dir_all(&d);
            n.attached.retain(|a| a != &d);
        }
    }

    pub fn set_recovering(&self, on: bool) {
        self.lock().recovering = on;
    }

    pub fn requests(&self, path: &str) -> u64 {
        self.lock().requests.get(path).copied().unwrap_or(0)
    }
}

/// The DER of the first PEM block with `label`.
fn base64_pem_body(pem: &str, label: &str) -> Vec<u8> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).expect("pem begin") + begin.len();
    let stop = pem[start..].find(&end).expect("pem end") + start;
    let b64: String = pem[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("pem base64")
}

fn rustls_pemfile_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    vec![rustls::pki_types::CertificateDer::from(base64_pem_body(
        pem,
        "CERTIFICATE",
    ))]
}

/// Basic auth per realm (§1.4): 401 with the realm's challenge.
fn check_auth(n: &Node, headers: &HeaderMap, realm: &str) -> Option<Response> {
    let (u, p) = n.credentials.as_ref()?;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
    );
    let got = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if got == want {
        return None;
    }
    Some(
        (
            StatusCode::UNAUTHORIZED,
            [("WWW-Authenticate", format!("Basic realm=\"{realm}\""))],
            "401 Unauthorized.",
        )
            .into_response(),
    )
}

fn labels_json(l: &[(String, String)]) -> Value {
    Value::Array(
        l.iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

fn render_state(n: &Node) -> Value {
    let mut frameworks = Vec::new();
    for f in &n.frameworks {
        let mut executors = Vec::new();
        let mut completed = Vec::new();
        for ex in &f.executors {
            let tasks: Vec<Value> = ex
                .tasks
                .iter()
                .map(|t| {
                    let container_id = match &t.child {
                        Some(c) => json!({"value": c, "parent": {"value": ex.container}}),
                        None => json!({"value": ex.container}),
                    };
                    let mut v = json!({
                        "id": t.id,
                        "name": t.name,
                        "framework_id": f.id,
                        "executor_id": if t.child.is_some() { ex.id.as_str() } else { "" },
                        "slave_id": n.agent_id,
                        "state": t.state,
                        "resources": {"cpus": 0.1, "gpus": 0.0, "mem": 32.0, "disk": 0.0},
                        "role": f.role,
                        "statuses": [
                            {"state": "TASK_STARTING", "timestamp": 1735689602.5,
                             "container_status": {"container_id": container_id}},
                            {"state": t.state, "timestamp": 1735689605.5,
                             "container_status": {"container_id": container_id}}
                        ],
                    });
                    if !t.labels.is_empty() {
                        v["labels"] = labels_json(&t.labels);
                    }
                    if let Some(ct) = &t.container_type {
                        v["container"] = json!({"type": ct});
                    }
                    v
                })
                .collect();
            let (live, done): (Vec<Value>, Vec<Value>) = tasks
                .into_iter()
                .partition(|t| t["state"] == "TASK_RUNNING");
            let mut e = json!({
                "id": ex.id,
                "name": format!("Command Executor (Task: {})", ex.id),
                "source": ex.id,
                "container": ex.container,
                "directory": ex.directory.to_string_lossy(),
                "resources": {"cpus": 0.1, "gpus": 0.0, "mem": 32.0, "disk": 0.0},
                "role": f.role,
                "tasks": live,
                "queued_tasks": [],
                "completed_tasks": done,
            });
            if let Some(k) = &ex.kind {
                e["type"] = json!(k);
            }
            if ex.completed {
                completed.push(e);
            } else {
                executors.push(e);
            }
        }
        frameworks.push(json!({
            "id": f.id,
            "name": f.name,
            "user": "root",
            "failover_timeout": 604800.0,
            "checkpoint": true,
            "hostname": "10.0.0.10",
            "role": f.role,
            "executors": executors,
            "completed_executors": completed,
        }));
    }
    json!({
        "version": "1.12.0",
        "id": n.agent_id,
        "pid": format!("slave(1)@{}:5051", n.hostname),
        "hostname": n.hostname,
        "flags": {"work_dir": n.work_dir.to_string_lossy(), "port": "5051"},
        "frameworks": frameworks,
        "completed_frameworks": [],
    })
}

async fn state(State(sim): State<AgentSim>, headers: HeaderMap, uri: Uri) -> Response {
    let mut n = sim.lock();
    *n.requests.entry(uri.path().to_string()).or_default() += 1;
    if let Some(r) = check_auth(&n, &headers, "mesos-agent-readonly") {
        return r;
    }
    if n.recovering {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Agent has not finished recovery",
        )
            .into_response();
    }
    (
        [("Content-Type", "application/json")],
        render_state(&n).to_string(),
    )
        .into_response()
}

/// Resolves a `/files` path by the attached run directories (§4.2): 404 when not
/// attached, 400 when it escapes the sandbox.
fn resolve(n: &Node, path: &str) -> Result<PathBuf, Response> {
    let p = Path::new(path);
    let Some(root) = n
        .attached
        .iter()
        .filter(|a| p.starts_with(a))
        .max_by_key(|a| a.as_os_str().len())
    else {
        return Err(StatusCode::NOT_FOUND.into_response());
    };
    let real = match std::fs::canonicalize(p) {
        Ok(r) => r,
        Err(_) => return Err(StatusCode::NOT_FOUND.into_response()),
    };
    let real_root =
        std::fs::canonicalize(root).map_err(|_| StatusCode::NOT_FOUND.into_response())?;
    if !real.starts_with(&real_root) {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("'{path}' is inaccessible."),
        )
            .into_response());
    }
    Ok(real)
}

/// rapidjson's escaping: `"`, `\` and control characters; bytes ≥ 0x80 copied as they are.
fn json_bytes(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    for &b in data {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04X}").as_bytes()),
            _ => out.push(b),
        }
    }
    out
}

async fn files_read(
    State(sim): State<AgentSim>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let n = {
        let mut n = sim.lock();
        *n.requests.entry("/files/read".into()).or_default() += 1;
        if let Some(r) = check_auth(&n, &headers, "mesos-agent-readonly") {
            return r;
        }
        let Some(path) = q.get("path") else {
            return (
                StatusCode::BAD_REQUEST,
                "Expecting 'path=value' in query.\n",
            )
                .into_response();
        };
        match resolve(&n, path) {
            Ok(p) => p,
            Err(r) => return r,
        }
    };
    let offset: i64 = match q.get("offset").map(|s| s.parse::<i64>()) {
        None => -1,
        Some(Ok(o)) => o,
        Some(Err(e)) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("Failed to parse offset: {e}\n"),
            )
                .into_response()
        }
    };
    let length: i64 = match q.get("length").map(|s| s.parse::<i64>()) {
        None => -1,
        Some(Ok(l)) => l,
        Some(Err(e)) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("Failed to parse length: {e}\n"),
            )
                .into_response()
        }
    };
    if offset < -1 {
        return (
            StatusCode::BAD_REQUEST,
            format!("Negative offset provided: {offset}.\n"),
        )
            .into_response();
    }
    if length < -1 {
        return (
            StatusCode::BAD_REQUEST,
            format!("Negative length provided: {length}.\n"),
        )
            .into_response();
    }
    if n.is_dir() {
        return (StatusCode::BAD_REQUEST, "Cannot read a directory.\n").into_response();
    }
    let data = match std::fs::read(&n) {
        Ok(d) => d,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Failed to open file at '{}': {e}", n.display()),
            )
                .into_response()
        }
    };
    let size = data.len() as u64;
    let (chunk, echoed): (&[u8], u64) = if offset == -1 {
        (&[], size)
    } else {
        let o = offset as u64;
        if o >= size {
            (&[], o)
        } else {
            let cap = if length == -1 {
                65536
            } else {
                (length as u64).min(65536)
            };
            let end = (o + cap).min(size);
            (&data[o as usize..end as usize], o)
        }
    };
    let mut body = b"{\"data\":\"".to_vec();
    body.extend_from_slice(&json_bytes(chunk));
    body.extend_from_slice(format!("\",\"offset\":{echoed}}}").as_bytes());
    ([("Content-Type", "application/json")], body).into_response()
}

async fn files_browse(
    State(sim): State<AgentSim>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let n = sim.lock();
    if let Some(r) = check_auth(&n, &headers, "mesos-agent-readonly") {
        return r;
    }
    let Some(path) = q.get("path") else {
        return (
            StatusCode::BAD_REQUEST,
            "Expecting 'path=value' in query.\n",
        )
            .into_response();
    };
    let dir = match resolve(&n, path) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut entries: Vec<(PathBuf, Value)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            // stat(), not lstat(): symlinks show as their targets.
            let Ok(m) = std::fs::metadata(e.path()) else {
                continue;
            };
            use std::os::unix::fs::MetadataExt;
            let mode = if m.is_dir() {
                "drwxr-x---"
            } else {
                "-rw-r--r--"
            };
            entries.push((
                e.path(),
                json!({
                    "gid": "root", "mode": mode,
                    "mtime": m.mtime() as f64, "nlink": m.nlink(),
                    "path": format!("{path}/{}", e.file_name().to_string_lossy()),
                    "size": m.len(), "uid": "root"
                }),
            ));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    axum::Json(Value::Array(entries.into_iter().map(|e| e.1).collect())).into_response()
}
