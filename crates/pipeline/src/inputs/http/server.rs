//! The http input's connections: accept (TLS when configured), serve HTTP/1.x with hyper,
//! and per request: 429 when too many are in flight, 413 when the body is too large, 401
//! without the right basic auth, else decode, queue, wait until the events are safe and
//! answer `response_code` (503 when they were given up on).

use super::{decode, Config};
use crate::input_context::InputContext;
use crate::net::receipt::Receipt;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE,
    WWW_AUTHENTICATE,
};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// How long requests in flight at shutdown may take to finish (Logstash gives its
/// executor 5 s); those still waiting are dropped unanswered, so their clients resend.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Bodies this large are decoded on a blocking thread, not on the runtime's.
const BLOCKING_DECODE: usize = 256 * 1024;

/// Logstash 3.10's `ExecutionObserver`: when some request has been blocked on the full
/// queue for longer than the threshold, new requests are refused with 429 at once.
#[derive(Default)]
struct Observer {
    next: AtomicU64,
    active: Mutex<BTreeMap<u64, Instant>>,
}

struct Observed<'a>(&'a Observer, u64);

impl Drop for Observed<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.0.active.lock() {
            m.remove(&self.1);
        }
    }
}

impl Observer {
    fn start(&self) -> Observed<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.active.lock() {
            m.insert(id, Instant::now());
        }
        Observed(self, id)
    }

    /// Ids grow with time, so the first entry is the oldest.
    fn any_longer_than(&self, d: Duration) -> bool {
        self.active
            .lock()
            .map(|m| m.first_key_value().is_some_and(|(_, t)| t.elapsed() > d))
            .unwrap_or(false)
    }
}

struct Shared {
    config: Arc<Config>,
    ctx: InputContext,
    /// `threads + max_pending_requests`: a request holds one from its head until its
    /// response, so bodies in memory are bounded; none left → 429.
    slots: Arc<Semaphore>,
    /// `threads`: requests decoding and queueing at the same time.
    workers: Semaphore,
    observer: Observer,
}

pub(super) async fn run(config: Arc<Config>, ctx: InputContext) -> anyhow::Result<()> {
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "http input: could not bind to {}:{}; {e}",
                config.host,
                config.port
            )
        })?;
    tracing::info!(
        address = %format!("{}:{}", config.host, config.port),
        ssl_enabled = config.tls.is_some(),
        "Starting http input listener"
    );
    let shared = Arc::new(Shared {
        slots: Arc::new(Semaphore::new(config.threads + config.max_pending_requests)),
        workers: Semaphore::new(config.threads.max(1)),
        observer: Observer::default(),
        config,
        ctx: ctx.clone(),
    });
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = ctx.shutdown_requested() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    conns.spawn(connection(shared.clone(), stream, peer));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "http input: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    let deadline = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            r = conns.join_next() => if r.is_none() { break },
            _ = &mut deadline => {
                tracing::warn!(
                    open = conns.len(),
                    "http input: requests still waiting at shutdown are dropped unanswered (their clients resend)"
                );
                conns.abort_all();
                break;
            }
        }
    }
    Ok(())
}

async fn connection(shared: Arc<Shared>, stream: TcpStream, peer: std::net::SocketAddr) {
    let _ = stream.set_nodelay(true);
    let remote = peer.ip().to_canonical().to_string();
    match shared.config.tls.clone() {
        None => serve(shared, stream, remote).await,
        Some(tls) => {
            let timeout = shared.config.handshake_timeout;
            match tokio::time::timeout(timeout, tls.acceptor.accept(stream)).await {
                Ok(Ok(s)) => serve(shared, s, remote).await,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "http input: TLS handshake failed")
                }
                Err(_) => tracing::debug!(%remote, "http input: TLS handshake timed out"),
            }
        }
    }
}

async fn serve<I>(shared: Arc<Shared>, io: I, remote: String)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shutdown = shared.ctx.shutdown.clone();
    let remote = Arc::<str>::from(remote);
    let svc = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let remote = remote.clone();
        async move { Ok::<_, Infallible>(handle(&shared, &remote, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "http input: connection ended");
            }
        }
        _ = shutdown.cancelled() => {
            // Finish the request in flight, take no new one on this connection.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn empty(status: StatusCode, close: bool) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    if close {
        // The body was not read: the connection cannot carry another request.
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

fn success(c: &Config) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(c.response_code).unwrap_or(StatusCode::OK);
    let no_content = status == StatusCode::NO_CONTENT;
    let mut r = Response::new(Full::new(if no_content {
        Bytes::new()
    } else {
        Bytes::from_static(b"ok")
    }));
    *r.status_mut() = status;
    for (k, v) in &c.response_headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().insert(name, value);
        }
    }
    if !no_content {
        // As Logstash's `generateResponse`: the "ok" body is text/plain whatever
        // response_headers say.
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    }
    r
}

fn header_str(h: &hyper::HeaderMap, name: hyper::header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn handle(s: &Shared, remote: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let c = &s.config;
    let max = c.decoder.max_content_length();
    if s.observer.any_longer_than(c.blocked_threshold) {
        tracing::debug!("http input: the queue has been blocked for a while: 429");
        return empty(StatusCode::TOO_MANY_REQUESTS, true);
    }
    let Ok(slot) = s.slots.clone().try_acquire_owned() else {
        tracing::debug!("http input: max_pending_requests reached: 429");
        return empty(StatusCode::TOO_MANY_REQUESTS, true);
    };
    let declared =
        header_str(req.headers(), CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return empty(StatusCode::PAYLOAD_TOO_LARGE, true);
    }
    if let Some(token) = &c.auth_token {
        match req.headers().get(AUTHORIZATION) {
            None => {
                let mut r = empty(StatusCode::UNAUTHORIZED, true);
                r.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"Logstash HTTP Input\""),
                );
                return r;
            }
            Some(v) if v.as_bytes() != token.as_bytes() => {
                return empty(StatusCode::UNAUTHORIZED, true);
            }
            Some(_) => {}
        }
    }
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, max).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return empty(StatusCode::PAYLOAD_TOO_LARGE, true);
        }
        Err(e) => {
            tracing::debug!(error = %e, "http input: reading the body failed");
            return empty(StatusCode::BAD_REQUEST, true);
        }
    };
    let Ok(worker) = s.workers.acquire().await else {
        return empty(StatusCode::SERVICE_UNAVAILABLE, true);
    };
    let ct = header_str(&parts.headers, CONTENT_TYPE).map(str::to_string);
    let ce = header_str(&parts.headers, CONTENT_ENCODING).map(str::to_string);
    let decoded = if body.len() > BLOCKING_DECODE {
        let config = c.clone();
        match tokio::task::spawn_blocking(move || {
            config
                .decoder
                .decode_with_len(ct.as_deref(), ce.as_deref(), &body)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "http input: decoding failed");
                return empty(StatusCode::INTERNAL_SERVER_ERROR, true);
            }
        }
    } else {
        c.decoder
            .decode_with_len(ct.as_deref(), ce.as_deref(), &body)
    };
    let (mut events, decoded_len) = match decoded {
        Ok(d) => d,
        Err(decode::BodyError::TooLarge) => return empty(StatusCode::PAYLOAD_TOO_LARGE, false),
        Err(decode::BodyError::BadEncoding(e)) => {
            tracing::debug!(error = %e, "http input: the body does not decompress");
            return empty(StatusCode::BAD_REQUEST, false);
        }
    };
    let version = match parts.version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let target = parts.uri.to_string();
    let info = decode::RequestInfo {
        headers: decode::format_headers(
            parts.method.as_str(),
            &target,
            version,
            parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_bytes())),
            decoded_len,
        ),
        remote: remote.to_string(),
    };
    let receipt = Receipt::new();
    let sender_ip = remote.parse::<std::net::IpAddr>().ok();
    for e in &mut events {
        decode::annotate(e, &info, &c.targets);
        // On a Mesos node: the task behind the client's address.
        if let Some(ip) = sender_ip {
            s.ctx.build.node.senders.annotate(e, ip);
        }
        e.attach_ack(receipt.ack());
    }
    let emitted = {
        let _observed = s.observer.start();
        tokio::select! {
            biased;
            r = s.ctx.emit_batch(events) => r.is_ok(),
            _ = s.ctx.shutdown_requested() => false,
        }
    };
    drop(worker);
    // Not queued (pipeline closing): the events were dropped here, so the client must
    // resend, whatever the receipt would say.
    let safe = emitted && receipt.wait().await;
    drop(slot);
    if safe {
        success(c)
    } else {
        empty(StatusCode::SERVICE_UNAVAILABLE, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Args;
    use crate::registry::Kind;
    use logstash_mesos_core::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn config(port: u16) -> Config {
        let args = Args::for_plugin(Kind::Input, super::super::OPTIONS)
            .with("host", Value::from("127.0.0.1"))
            .with("port", Value::Integer(i64::from(port)))
            .with("threads", Value::Integer(4));
        match super::super::build_config(&args, &crate::plugin::BuildContext::default()) {
            Ok(c) => c,
            Err(e) => panic!("build failed: {e}"),
        }
    }

    /// Sends one request on a fresh connection; its status code.
    async fn status(port: u16, body: &str) -> u16 {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let req = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        let text = String::from_utf8_lossy(&buf);
        text.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queue_blocked_past_the_threshold_gets_429_at_once() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let mut c = config(port);
        c.blocked_threshold = Duration::from_millis(1000);
        let (ctx, mut rx) = InputContext::for_test(1);
        let task = tokio::spawn(run(Arc::new(c), ctx.clone()));
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The first fills the queue of one and waits for delivery; the second blocks on
        // the full queue.
        let first = tokio::spawn(status(port, "one"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let second = tokio::spawn(status(port, "two"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Blocked for less than the threshold: accepted (and waiting).
        let early = tokio::spawn(status(port, "early"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!early.is_finished(), "refused before the threshold");
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let late = tokio::time::timeout(Duration::from_secs(2), status(port, "late")).await;
        assert_eq!(late.ok(), Some(429), "refused at once");
        // The output catches up: everything waiting is delivered and answered.
        for _ in 0..3 {
            let e = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("event")
                .expect("open");
            drop(e);
        }
        assert_eq!(first.await.expect("first"), 200);
        assert_eq!(second.await.expect("second"), 200);
        assert_eq!(early.await.expect("early"), 200);
        ctx.shutdown.cancel();
        drop(rx);
        let _ = task.await;
    }
}
