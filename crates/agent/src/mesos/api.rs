//! The Mesos agent's HTTP API as the `mesos` input uses it (agent-api/PROTOCOL.md):
//! `GET /state` (the one response naming each executor's sandbox `directory`),
//! `GET /files/read` (size probe with `offset=-1`, reads capped at 64 KiB) and
//! `GET /files/browse`. Basic authentication and HTTPS (with a custom CA) are options.

use serde::Deserialize;
use std::time::Duration;

/// A failed request, classified by what the tailer does about it (PROTOCOL.md §9).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404: the sandbox path is not (yet, or any longer) attached.
    #[error("not found")]
    NotFound,
    /// 401: credentials missing or wrong.
    #[error("unauthorized (401): check user and password")]
    Unauthorized,
    /// 403: not allowed to read this sandbox.
    #[error("forbidden (403)")]
    Forbidden,
    /// 503: the agent is recovering after a restart.
    #[error("agent has not finished recovery (503)")]
    Recovering,
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("{0}")]
    Transport(String),
    #[error("unexpected response: {0}")]
    Decode(String),
}

/// `GET /state`, only the fields the input needs; everything else is ignored, and every
/// field may be missing (older agents, authorization filtering).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct State {
    pub id: String,
    /// `slave(1)@<ip>:<port>`: the agent's own address.
    pub pid: String,
    pub hostname: String,
    pub flags: Flags,
    pub frameworks: Vec<Framework>,
    pub completed_frameworks: Vec<Framework>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Flags {
    pub work_dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Framework {
    pub id: String,
    pub name: String,
    /// Non-MULTI_ROLE frameworks.
    pub role: Option<String>,
    /// MULTI_ROLE frameworks.
    pub roles: Vec<String>,
    pub executors: Vec<Executor>,
    pub completed_executors: Vec<Executor>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Executor {
    pub id: String,
    pub name: String,
    /// The executor's top-level container id.
    pub container: String,
    /// The host sandbox of this run.
    pub directory: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub role: Option<String>,
    pub labels: Vec<Label>,
    pub tasks: Vec<Task>,
    pub queued_tasks: Vec<Task>,
    pub completed_tasks: Vec<Task>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Task {
    pub id: String,
    pub name: String,
    pub framework_id: String,
    /// `""` for command and Docker tasks (the executor id equals the task id).
    pub executor_id: String,
    pub state: String,
    pub role: Option<String>,
    pub labels: Vec<Label>,
    pub container: Option<Container>,
    pub statuses: Vec<Status>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Label {
    pub key: String,
    pub value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Container {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Status {
    pub state: String,
    pub container_status: Option<ContainerStatus>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContainerStatus {
    pub container_id: Option<ContainerId>,
    /// The container's addresses (bridge and user networks; the agent's IP otherwise).
    pub network_infos: Vec<NetworkInfo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NetworkInfo {
    pub ip_addresses: Vec<IpAddress>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IpAddress {
    pub ip_address: Option<String>,
}

/// A container id; nested containers (task-group tasks) carry their parent chain.
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ContainerId {
    pub value: String,
    pub parent: Option<Box<ContainerId>>,
}

impl Task {
    /// Terminal states (TASK_FINISHED, _FAILED, _KILLED, _ERROR, _LOST, _DROPPED, _GONE...).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.state.as_str(),
            "TASK_FINISHED"
                | "TASK_FAILED"
                | "TASK_KILLED"
                | "TASK_ERROR"
                | "TASK_LOST"
                | "TASK_DROPPED"
                | "TASK_GONE"
                | "TASK_GONE_BY_OPERATOR"
        )
    }

    /// The container of the task's last status that names one.
    pub fn container_id(&self) -> Option<&ContainerId> {
        self.statuses
            .iter()
            .rev()
            .find_map(|s| s.container_status.as_ref()?.container_id.as_ref())
    }
}

/// One `GET /files/read` answer: the bytes and the offset the agent echoed.
#[derive(Debug, PartialEq, Eq)]
pub struct FileRead {
    pub data: Vec<u8>,
    pub offset: u64,
}

/// How to reach the agent.
#[derive(Clone, Debug, Default)]
pub struct ClientConfig {
    /// `http(s)://host:port`, no trailing slash.
    pub base: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// PEM files with extra CA certificates for HTTPS.
    pub ca_files: Vec<String>,
    /// `ssl_verification_mode => none`: accept any certificate.
    pub insecure: bool,
    pub timeout: Duration,
}

/// An agent address that names no agent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("empty agent address")]
    Empty,
    #[error("unsupported scheme {0:?} (use http or https)")]
    Scheme(String),
    #[error("no host in {0:?}")]
    NoHost(String),
    #[error("invalid port in {0:?}")]
    Port(String),
}

/// Why the HTTP client for an agent cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    #[error("reading CA file {file}: {source}")]
    ReadCa {
        file: String,
        source: std::io::Error,
    },
    #[error("CA file {file}: {source}")]
    Ca {
        file: String,
        source: reqwest::Error,
    },
    #[error("CA file {file}: no certificate found")]
    NoCertificate { file: String },
    #[error("HTTP client: {0}")]
    Http(reqwest::Error),
}

/// A `/files/read` body that is not `{"data":"…","offset":N}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadBodyError {
    /// What is malformed, in a few words.
    #[error("{0}")]
    Malformed(&'static str),
    #[error("unexpected key {0:?}")]
    UnexpectedKey(String),
}

/// Normalises an agent address: `host:port` (as in `MESOS_AGENT_ENDPOINT`) becomes
/// `http://host:port`; a bare host gets the default port 5051; a trailing `/` or a
/// `/slave(1)` prefix is dropped (the routes used all work without it, `/files` only so).
pub fn normalize_base(addr: &str) -> Result<String, AddressError> {
    let a = addr.trim();
    if a.is_empty() {
        return Err(AddressError::Empty);
    }
    let (scheme, rest) = match a.split_once("://") {
        Some((s, r)) if s == "http" || s == "https" => (s, r),
        Some((s, _)) => return Err(AddressError::Scheme(s.to_string())),
        None => ("http", a),
    };
    let hostport = rest
        .split('/')
        .next()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| AddressError::NoHost(addr.to_string()))?;
    let has_port = match hostport.rfind(':') {
        Some(i) => !hostport[..i].ends_with(':') && !hostport.ends_with(']'),
        None => false,
    };
    if has_port {
        let port = &hostport[hostport.rfind(':').unwrap_or(0) + 1..];
        if port.parse::<u16>().is_err() {
            return Err(AddressError::Port(addr.to_string()));
        }
        Ok(format!("{scheme}://{hostport}"))
    } else {
        Ok(format!("{scheme}://{hostport}:5051"))
    }
}

/// The HTTP client for one agent.
#[derive(Clone)]
pub struct AgentClient {
    cfg: ClientConfig,
    http: reqwest::Client,
}

impl AgentClient {
    pub fn new(cfg: ClientConfig) -> Result<AgentClient, ClientBuildError> {
        let mut b = reqwest::Client::builder()
            .timeout(if cfg.timeout.is_zero() {
                Duration::from_secs(30)
            } else {
                cfg.timeout
            })
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(8);
        for f in &cfg.ca_files {
            let pem = std::fs::read(f).map_err(|source| ClientBuildError::ReadCa {
                file: f.clone(),
                source,
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
                ClientBuildError::Ca {
                    file: f.clone(),
                    source,
                }
            })?;
            if certs.is_empty() {
                return Err(ClientBuildError::NoCertificate { file: f.clone() });
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        if cfg.insecure {
            b = b.danger_accept_invalid_certs(true);
        }
        let http = b.build().map_err(ClientBuildError::Http)?;
        Ok(AgentClient { cfg, http })
    }

    pub fn base(&self) -> &str {
        &self.cfg.base
    }

    async fn get(&self, path_and_query: &str) -> Result<Vec<u8>, ApiError> {
        let mut req = self
            .http
            .get(format!("{}{}", self.cfg.base, path_and_query));
        if let Some(u) = &self.cfg.user {
            req = req.basic_auth(u, self.cfg.password.as_deref());
        }
        let resp = req.send().await.map_err(|e| {
            // reqwest's Display hides the cause (refused, certificate...): show the chain.
            let mut s = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(c) = src {
                s.push_str(": ");
                s.push_str(&c.to_string());
                src = c.source();
            }
            ApiError::Transport(s)
        })?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| ApiError::Transport(e.to_string()))?;
        match status {
            200 => Ok(body.to_vec()),
            401 => Err(ApiError::Unauthorized),
            403 => Err(ApiError::Forbidden),
            404 => Err(ApiError::NotFound),
            503 => Err(ApiError::Recovering),
            s => Err(ApiError::Status {
                status: s,
                body: String::from_utf8_lossy(&body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect(),
            }),
        }
    }

    /// `GET /state`.
    pub async fn state(&self) -> Result<State, ApiError> {
        let body = self.get("/state").await?;
        serde_json::from_slice(&body).map_err(|e| ApiError::Decode(format!("/state: {e}")))
    }

    /// `GET /files/read?path=&offset=&length=`; `offset = None` is the size probe.
    pub async fn read(
        &self,
        path: &str,
        offset: Option<u64>,
        length: usize,
    ) -> Result<FileRead, ApiError> {
        let q = match offset {
            None => format!("/files/read?path={}&offset=-1", encode(path)),
            Some(o) => format!(
                "/files/read?path={}&offset={o}&length={length}",
                encode(path)
            ),
        };
        let body = self.get(&q).await?;
        parse_read(&body).map_err(|e| ApiError::Decode(e.to_string()))
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters and `/` pass).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses `{"data":"…","offset":N}` leniently: the agent copies bytes ≥ 0x80 into the JSON
/// string unchanged, so non-UTF-8 task output makes the body invalid JSON
/// (PROTOCOL.md §4.3). Bytes are taken as they are; escapes are decoded.
pub fn parse_read(body: &[u8]) -> Result<FileRead, ReadBodyError> {
    let mut data = None;
    let mut offset = None;
    let mut i = skip_ws(body, 0);
    if body.get(i) != Some(&b'{') {
        return Err(ReadBodyError::Malformed("expected a JSON object"));
    }
    i += 1;
    loop {
        i = skip_ws(body, i);
        match body.get(i) {
            Some(b'}') => break,
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'"') => {}
            _ => return Err(ReadBodyError::Malformed("malformed object")),
        }
        let (key, next) = json_string(body, i)?;
        i = skip_ws(body, next);
        if body.get(i) != Some(&b':') {
            return Err(ReadBodyError::Malformed("expected ':'"));
        }
        i = skip_ws(body, i + 1);
        match key.as_slice() {
            b"data" => {
                let (v, next) = json_string(body, i)?;
                data = Some(v);
                i = next;
            }
            b"offset" => {
                let start = i;
                while body
                    .get(i)
                    .is_some_and(|b| b.is_ascii_digit() || *b == b'-')
                {
                    i += 1;
                }
                let n = std::str::from_utf8(&body[start..i])
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or(ReadBodyError::Malformed("offset is not an integer"))?;
                offset = Some(n.max(0) as u64);
            }
            _ => {
                return Err(ReadBodyError::UnexpectedKey(
                    String::from_utf8_lossy(&key).into_owned(),
                ))
            }
        }
    }
    match (data, offset) {
        (Some(data), Some(offset)) => Ok(FileRead { data, offset }),
        _ => Err(ReadBodyError::Malformed("expected data and offset")),
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// Decodes the JSON string starting at `b[i] == '"'`; returns the bytes and the index
/// after the closing quote.
fn json_string(b: &[u8], mut i: usize) -> Result<(Vec<u8>, usize), ReadBodyError> {
    i += 1;
    let mut out = Vec::new();
    loop {
        let c = *b
            .get(i)
            .ok_or(ReadBodyError::Malformed("unterminated string"))?;
        i += 1;
        match c {
            b'"' => return Ok((out, i)),
            b'\\' => {
                let e = *b
                    .get(i)
                    .ok_or(ReadBodyError::Malformed("unterminated escape"))?;
                i += 1;
                match e {
                    b'"' | b'\\' | b'/' => out.push(e),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'u' => {
                        let mut cp = hex4(b, i)?;
                        i += 4;
                        if (0xD800..0xDC00).contains(&cp) && b.get(i) == Some(&b'\\') {
                            if b.get(i + 1) == Some(&b'u') {
                                let lo = hex4(b, i + 2)?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                    i += 6;
                                }
                            }
                        }
                        let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return Err(ReadBodyError::Malformed("bad escape")),
                }
            }
            c => out.push(c),
        }
    }
}

fn hex4(b: &[u8], i: usize) -> Result<u32, ReadBodyError> {
    let bad = ReadBodyError::Malformed("bad \\u escape");
    let s = b
        .get(i..i + 4)
        .ok_or(ReadBodyError::Malformed("short \\u escape"))?;
    let s = std::str::from_utf8(s).map_err(|_| bad.clone())?;
    u32::from_str_radix(s, 16).map_err(|_| bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(name: &str) -> serde_json::Value {
        let p = format!(
            "{}/../../../shared/mesos/agent-api/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        serde_json::from_str(&text).expect("json")
    }

    /// The shared `/state` body: every executor kind, completed ones, nested containers.
    #[test]
    fn state_body_parses() {
        let v = shared("state.json");
        let s: State = serde_json::from_value(v["body"].clone()).expect("state");
        assert_eq!(s.id, "b3c5e0a2-7d41-4f9e-8a6c-2e9f1d0b7c44-S3");
        assert_eq!(s.flags.work_dir.as_deref(), Some("/var/lib/mesos/slave"));
        assert_eq!(s.frameworks.len(), 1);
        let m = &s.frameworks[0];
        assert_eq!(m.name, "marathon");
        assert_eq!(m.roles, ["*", "slave_public"]);
        assert_eq!(m.executors.len(), 3);
        assert_eq!(m.completed_executors.len(), 1);
        let pod = m
            .executors
            .iter()
            .find(|e| e.kind.as_deref() == Some("DEFAULT"))
            .expect("pod executor");
        assert_eq!(pod.tasks.len(), 2);
        let c = pod.tasks[0].container_id().expect("nested container");
        assert_eq!(
            c.parent.as_ref().map(|p| p.value.as_str()),
            Some(pod.container.as_str())
        );
        let docker = &m.executors[0];
        assert_eq!(
            docker.tasks[0]
                .container
                .as_ref()
                .and_then(|c| c.kind.as_deref()),
            Some("DOCKER")
        );
        assert_eq!(docker.tasks[0].executor_id, "");
        assert!(docker.directory.ends_with(&docker.container));
        let done = &s.completed_frameworks[0];
        assert_eq!(done.name, "metronome");
        assert_eq!(done.role.as_deref(), Some("*"));
        assert!(done.completed_executors[0].completed_tasks[0].is_terminal());
    }

    #[test]
    fn files_read_bodies_parse() {
        let v = shared("files-read.json");
        let body = serde_json::to_vec(&v["body"]).expect("ser");
        let r = parse_read(&body).expect("read");
        assert_eq!(r.offset, 0);
        assert_eq!(r.data.len(), 172);
        for var in v["variants"].as_array().expect("variants") {
            let body = serde_json::to_vec(&var["body"]).expect("ser");
            let r = parse_read(&body).expect("variant");
            assert_eq!(r.offset, var["body"]["offset"].as_u64().expect("offset"));
        }
    }

    #[test]
    fn files_read_tolerates_raw_non_utf8_bytes() {
        let body = b"{\"data\":\"a\xff\\n\\u00e9\\ud83d\\ude00\\\"\",\"offset\":7}";
        let r = parse_read(body).expect("lenient");
        assert_eq!(r.data, b"a\xff\n\xc3\xa9\xf0\x9f\x98\x80\"".to_vec());
        assert_eq!(r.offset, 7);
        assert!(parse_read(b"{\"data\":\"abc").is_err());
        assert!(parse_read(b"[]").is_err());
        assert!(parse_read(b"{\"data\":\"\"}").is_err());
    }

    #[test]
    fn agent_addresses_normalise() {
        assert_eq!(
            normalize_base("10.0.1.23:5051").as_deref(),
            Ok("http://10.0.1.23:5051")
        );
        assert_eq!(
            normalize_base("https://agent.example/slave(1)").as_deref(),
            Ok("https://agent.example:5051")
        );
        assert_eq!(normalize_base("http://h:1/").as_deref(), Ok("http://h:1"));
        assert!(normalize_base("ftp://x").is_err());
        assert!(normalize_base("h:notaport").is_err());
        assert!(normalize_base("").is_err());
    }
}
