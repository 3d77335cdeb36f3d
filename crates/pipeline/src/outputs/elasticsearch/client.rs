//! HTTP to Elasticsearch with the official crate: one transport per host, round-robin over
//! the hosts that are up, a dead host probed in the background (`GET /` every
//! `RESURRECT_DELAY`) and skipped meanwhile. Credentials never appear in URLs we print.

use bytes::Bytes;
use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::headers::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{Method, Url};
use elasticsearch::Elasticsearch;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often a dead host is probed (Logstash's `resurrect_delay`).
pub const RESURRECT_DELAY: Duration = Duration::from_secs(5);

/// Connection settings shared by every host.
#[derive(Clone, Debug, Default)]
pub struct ClientSettings {
    pub credentials: Option<Secret>,
    /// PEM files of trusted CAs.
    pub ca_files: Vec<PathBuf>,
    /// `ssl_verification_mode => none`.
    pub verify_none: bool,
    pub compression: bool,
    pub timeout: Duration,
}

/// Credentials, kept out of `Debug` output.
#[derive(Clone)]
pub struct Secret(pub Credentials);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// Why a host could not be used; messages are safe to log.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read certificate authority {path}: {msg}")]
    Ca { path: String, msg: String },
    #[error("cannot build http client: {0}")]
    Build(String),
}

/// A whole-request failure (the request is retried).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{host}: {msg}")]
    Transport { host: String, msg: String },
    #[error("{host}: http status {status}: {body}")]
    Status {
        host: String,
        status: u16,
        body: String,
    },
}

/// Why an index template is not in place.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The output has no host.
    #[error("no host")]
    NoHost,
    /// The last host tried could not be reached.
    #[error("{host}: {msg}")]
    Transport { host: String, msg: String },
    /// A host answered the `PUT` with an error status.
    #[error("{host}: http status {status}: {body}")]
    Rejected {
        host: String,
        status: u16,
        body: String,
    },
}

impl TemplateError {
    /// A 4xx answer: the template itself is refused, retrying will not help.
    pub fn is_client_error(&self) -> bool {
        matches!(self, TemplateError::Rejected { status, .. } if (400..500).contains(status))
    }
}

/// One host.
pub struct Host {
    /// The URL without credentials (for logs and health).
    pub display: String,
    client: Elasticsearch,
    pub up: Arc<AtomicBool>,
}

/// Every host of one output.
pub struct Pool {
    pub hosts: Vec<Host>,
    next: AtomicUsize,
    compression: bool,
    timeout: Duration,
    resurrector_started: AtomicBool,
}

impl Pool {
    pub fn new(urls: Vec<Url>, s: &ClientSettings) -> Result<Pool, ClientError> {
        let mut hosts = Vec::with_capacity(urls.len());
        for url in urls {
            let display = url.to_string();
            let mut b = TransportBuilder::new(SingleNodeConnectionPool::new(url))
                .timeout(s.timeout)
                .disable_proxy();
            if let Some(c) = &s.credentials {
                b = b.auth(c.0.clone());
            }
            if s.verify_none {
                // (tracing's macros import a `display` of their own: pass the URL by another name.)
                let url_shown = display.as_str();
                tracing::warn!(
                    host = url_shown,
                    "ssl_verification_mode => none: the server's certificate is not verified"
                );
                b = b.cert_validation(CertificateValidation::None);
            } else if !s.ca_files.is_empty() {
                let mut chain: Option<Certificate> = None;
                for p in &s.ca_files {
                    let pem = std::fs::read(p).map_err(|e| ClientError::Ca {
                        path: p.display().to_string(),
                        msg: e.to_string(),
                    })?;
                    let c = Certificate::from_pem(&pem).map_err(|e| ClientError::Ca {
                        path: p.display().to_string(),
                        msg: e.to_string(),
                    })?;
                    match &mut chain {
                        Some(ch) => ch.append(c),
                        None => chain = Some(c),
                    }
                }
                if let Some(ch) = chain {
                    b = b.cert_validation(CertificateValidation::Full(ch));
                }
            }
            let transport = b.build().map_err(|e| ClientError::Build(e.to_string()))?;
            // Optimistic: a host is up until a request to it fails.
            hosts.push(Host {
                display,
                client: Elasticsearch::new(transport),
                up: Arc::new(AtomicBool::new(true)),
            });
        }
        Ok(Pool {
            hosts,
            next: AtomicUsize::new(0),
            compression: s.compression,
            timeout: s.timeout,
            resurrector_started: AtomicBool::new(false),
        })
    }

    /// The next host that is up, round-robin; when none is, the next host anyway (the
    /// request doubles as a probe, and the caller backs off between attempts).
    pub fn pick(&self) -> &Host {
        let n = self.hosts.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for k in 0..n {
            let h = &self.hosts[(start + k) % n];
            if h.up.load(Ordering::Relaxed) {
                return h;
            }
        }
        &self.hosts[start % n]
    }

    /// `true` when at least one host is up.
    pub fn any_up(&self) -> bool {
        self.hosts.iter().any(|h| h.up.load(Ordering::Relaxed))
    }

    /// Compresses a request body when `http_compression` is on (level 1, as Logstash).
    pub fn prepare_body(&self, body: Bytes) -> Bytes {
        if !self.compression {
            return body;
        }
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(&body);
        enc.finish().map(Bytes::from).unwrap_or(body)
    }

    /// Sends one bulk request (body from `prepare_body`). `Ok` carries a 2xx response body.
    pub async fn bulk(self: &Arc<Self>, body: Bytes) -> Result<Bytes, SendError> {
        let host = self.pick();
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        if self.compression {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let query = [("filter_path", super::response::FILTER_PATH)];
        let res = host
            .client
            .transport()
            .send(
                Method::Post,
                "_bulk",
                headers,
                Some(&query),
                Some(body),
                Some(self.timeout),
            )
            .await;
        let res = match res {
            Ok(r) => r,
            Err(e) => {
                self.mark_down(host);
                return Err(SendError::Transport {
                    host: host.display.clone(),
                    msg: e.to_string(),
                });
            }
        };
        let status = res.status_code().as_u16();
        if !host.up.swap(true, Ordering::Relaxed) {
            tracing::info!(host = %host.display, "elasticsearch host is reachable again");
        }
        let bytes = match res.bytes().await {
            Ok(b) => b,
            Err(e) => {
                self.mark_down(host);
                return Err(SendError::Transport {
                    host: host.display.clone(),
                    msg: format!("reading response: {e}"),
                });
            }
        };
        if !(200..300).contains(&status) {
            // The host answered: it is up, just busy or unhappy.
            let body = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned();
            return Err(SendError::Status {
                host: host.display.clone(),
                status,
                body,
            });
        }
        Ok(bytes)
    }

    fn mark_down(self: &Arc<Self>, host: &Host) {
        if host.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(host = %host.display, "elasticsearch host unreachable, will retry it in the background");
        }
        self.start_resurrector();
    }

    /// Starts the background prober once; it ends when the pool is dropped.
    pub fn start_resurrector(self: &Arc<Self>) {
        if self.resurrector_started.swap(true, Ordering::Relaxed) {
            return;
        }
        let weak: Weak<Pool> = Arc::downgrade(self);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                loop {
                    tokio::time::sleep(RESURRECT_DELAY).await;
                    let Some(pool) = weak.upgrade() else { return };
                    for h in &pool.hosts {
                        if !h.up.load(Ordering::Relaxed) && pool.probe(h).await {
                            tracing::info!(host = %h.display, "elasticsearch host is reachable again");
                            h.up.store(true, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    }

    /// `GET /`: is the host answering at all?
    pub async fn probe(&self, h: &Host) -> bool {
        let t = self.timeout.min(Duration::from_secs(10));
        h.client
            .transport()
            .send(
                Method::Get,
                "",
                HeaderMap::new(),
                None::<&()>,
                None::<()>,
                Some(t),
            )
            .await
            .map(|r| r.status_code().as_u16() < 500)
            .unwrap_or(false)
    }

    /// Installs an index template (`PUT <api>/<name>`, api `_index_template` or
    /// `_template`) unless it exists and `overwrite` is false. Tries the hosts in turn.
    pub async fn install_template(
        &self,
        api: &str,
        name: &str,
        body: &Bytes,
        overwrite: bool,
    ) -> Result<(), TemplateError> {
        let path = format!("{api}/{name}");
        let mut last = TemplateError::NoHost;
        for h in &self.hosts {
            let t = |e: elasticsearch::Error| TemplateError::Transport {
                host: h.display.clone(),
                msg: e.to_string(),
            };
            if !overwrite {
                match h
                    .client
                    .transport()
                    .send(
                        Method::Head,
                        &path,
                        HeaderMap::new(),
                        None::<&()>,
                        None::<()>,
                        Some(self.timeout),
                    )
                    .await
                {
                    Ok(r) if r.status_code().as_u16() == 200 => return Ok(()),
                    Ok(_) => {}
                    Err(e) => {
                        last = t(e);
                        continue;
                    }
                }
            }
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            match h
                .client
                .transport()
                .send(
                    Method::Put,
                    &path,
                    headers,
                    None::<&()>,
                    Some(body.clone()),
                    Some(self.timeout),
                )
                .await
            {
                Ok(r) if r.status_code().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status_code().as_u16();
                    let b = r.bytes().await.unwrap_or_default();
                    // A rejected template will not get better by retrying.
                    return Err(TemplateError::Rejected {
                        host: h.display.clone(),
                        status,
                        body: String::from_utf8_lossy(&b[..b.len().min(512)]).into_owned(),
                    });
                }
                Err(e) => last = t(e),
            }
        }
        Err(last)
    }
}

/// A `hosts` entry that is no usable URL; `host` is the entry with its password redacted.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("empty host")]
    Empty,
    /// The URL parser's message.
    #[error("invalid URL {host:?}: {message}")]
    Parse { host: String, message: String },
    #[error("invalid URL {host:?}: scheme must be http or https")]
    Scheme { host: String },
    #[error("invalid URL {host:?}: no host")]
    NoHost { host: String },
    #[error("invalid URL {host:?}: no query or fragment allowed")]
    QueryOrFragment { host: String },
}

/// Parses one `hosts` entry as Logstash does: `host`, `host:port`, `scheme://host:port/prefix`;
/// no scheme means http (https with `ssl_enabled`), no port means 9200. User info in the
/// URL is moved out into credentials. Errors never echo a password.
pub fn parse_host(raw: &str, ssl: bool) -> Result<(Url, Option<(String, String)>), HostError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(HostError::Empty);
    }
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("{}://{raw}", if ssl { "https" } else { "http" })
    };
    let mut url = Url::parse(&with_scheme).map_err(|e| HostError::Parse {
        host: redact(raw),
        message: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(HostError::Scheme { host: redact(raw) });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(HostError::NoHost { host: redact(raw) });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(HostError::QueryOrFragment { host: redact(raw) });
    }
    if !has_explicit_port(raw) {
        let _ = url.set_port(Some(9200));
    }
    let creds = if !url.username().is_empty() {
        let u = percent_decode(url.username());
        let p = url.password().map(percent_decode).unwrap_or_default();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Some((u, p))
    } else {
        None
    };
    // A path prefix must end with '/' or joining "_bulk" would replace its last segment.
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    Ok((url, creds))
}

fn has_explicit_port(raw: &str) -> bool {
    let after = raw.split_once("://").map_or(raw, |(_, r)| r);
    let hostport = after.split('/').next().unwrap_or("");
    let hostport = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
    // IPv6 literals: the port follows the closing bracket.
    let tail = hostport.rsplit_once(']').map_or(hostport, |(_, t)| t);
    tail.contains(':')
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `user:pass@` → `user:xxxxxx@`.
pub fn redact(raw: &str) -> String {
    let (scheme, rest) = raw.split_once("://").map_or(("", raw), |(s, r)| (s, r));
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..auth_end].rfind('@') else {
        return raw.to_string();
    };
    let user = rest[..at].split(':').next().unwrap_or("");
    let pre = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    format!("{pre}{user}:xxxxxx@{}", &rest[at + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms() {
        let (u, c) = parse_host("localhost", false).unwrap();
        assert_eq!(u.as_str(), "http://localhost:9200/");
        assert!(c.is_none());
        assert_eq!(
            parse_host("es1:9201", false).unwrap().0.as_str(),
            "http://es1:9201/"
        );
        assert_eq!(
            parse_host("es1", true).unwrap().0.as_str(),
            "https://es1:9200/"
        );
        assert_eq!(
            parse_host("https://es1:443/prefix", false)
                .unwrap()
                .0
                .as_str(),
            "https://es1/prefix/"
        );
        assert_eq!(
            parse_host("http://[::1]:9300", false).unwrap().0.as_str(),
            "http://[::1]:9300/"
        );
        let (u, c) = parse_host("http://bob:s%40cret@es1:9200/p/", false).unwrap();
        assert_eq!(u.as_str(), "http://es1:9200/p/");
        assert_eq!(c, Some(("bob".into(), "s@cret".into())));
        // Joining keeps the prefix.
        assert_eq!(u.join("_bulk").unwrap().as_str(), "http://es1:9200/p/_bulk");
    }

    #[test]
    fn malformed_hosts_and_no_secret_in_errors() {
        for bad in [
            "http://",
            "ftp://es1",
            "http://es1:99999",
            "http://es 1",
            "",
            "http://es1/?q=1",
        ] {
            assert!(parse_host(bad, false).is_err(), "{bad:?}");
        }
        let e = parse_host("http://bob:hunter2@es 1:9200", false)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("bob:xxxxxx@"), "{e}");
    }
}
