//! One Beats connection: read frames, turn windows into events, ACK each window once its
//! events are safe, keep the sender waiting patiently while they are not.
//!
//! Two tasks per connection. The reader decodes frames and emits each window's events
//! (in chunks, so a huge window never sits in memory: the queue's back-pressure bounds
//! it), each carrying a clone of the window's [`Receipt`]; a completed window goes to the
//! acker in order. The acker waits for each receipt in turn: delivered → `ACK <highest
//! sequence>`; given up on → the connection is closed without ACK and the sender resends
//! the window on a new one. While it waits it writes `ACK 0` every `keepalive` (what
//! Logstash's ConnectionHandler does on writer-idle), which restarts the sender's read
//! timeout without acknowledging anything. Senders that pipeline windows (libbeat's
//! `pipelining`) are served in order, a few windows ahead.
//!
//! A connection idle for `client_inactivity_timeout` (nothing read, no window waiting)
//! is closed. A protocol error is logged, counted and closes only its connection.

use super::event::{Peer, TlsPeer, Transform};
use super::protocol::{self, Decoder, Frame};
use super::Config;
use crate::input_context::{Decorator, InputContext};
use crate::net::receipt::Receipt;
use logstash_mesos_core::{Event, Map, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Windows a connection may have waiting for their ACK before it stops reading.
const MAX_PENDING_WINDOWS: usize = 4;
/// Events of a window emitted together (also the most held before emitting).
const CHUNK_EVENTS: usize = 1024;
const CHUNK_BYTES: usize = 8 * 1024 * 1024;
const READ_BUF: usize = 64 * 1024;

/// Accepts connections until shutdown; then waits for the connections to finish the
/// windows they already emitted (their ACKs), at most `client_inactivity_timeout`.
pub async fn serve(listener: TcpListener, config: Arc<Config>, ctx: InputContext) {
    if let Ok(a) = listener.local_addr() {
        tracing::info!(address = %a, tls = config.tls.is_some(), "beats: starting input listener");
    }
    // The input's decorations run before the codec tag is added (Logstash's order), so
    // the transform applies them and the context emits as is.
    let mut transform = config.transform.clone();
    transform.decorator = ctx.decorator.clone();
    let transform = Arc::new(transform);
    let mut ctx = ctx;
    ctx.decorator = Decorator::default();
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = ctx.shutdown_requested() => break,
            r = listener.accept() => match r {
                Ok((sock, addr)) => {
                    let _ = sock.set_nodelay(true);
                    config.stats.connections.fetch_add(1, Ordering::Relaxed);
                    conns.spawn(accept(sock, addr, config.clone(), transform.clone(), ctx.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "beats: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    drop(ctx);
    let grace = config.inactivity;
    if tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tracing::warn!(
            connections = conns.len(),
            "beats: closing connections whose windows are still not delivered; their senders will resend"
        );
    }
}

async fn accept(
    sock: tokio::net::TcpStream,
    addr: SocketAddr,
    config: Arc<Config>,
    transform: Arc<Transform>,
    ctx: InputContext,
) {
    let ip = Some(addr.ip().to_canonical().to_string());
    match &config.tls {
        None => {
            let peer = Peer { ip, tls: None };
            run_connection(sock, addr, peer, config, transform, ctx).await
        }
        Some(tls) => {
            let hs =
                tokio::time::timeout(config.handshake_timeout, tls.acceptor.accept(sock)).await;
            let stream = match hs {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    if config.stats.reject() {
                        tracing::warn!(peer = %addr, error = %e, "beats: TLS handshake failed");
                    }
                    return;
                }
                Err(_) => {
                    if config.stats.reject() {
                        tracing::warn!(peer = %addr, "beats: TLS handshake timed out");
                    }
                    return;
                }
            };
            let tls_peer = tls_peer(stream.get_ref().1);
            let peer = Peer {
                ip,
                tls: Some(tls_peer),
            };
            run_connection(stream, addr, peer, config, transform, ctx).await
        }
    }
}

/// What `enrich => ssl_peer_metadata` reports of a TLS session, with Java's names.
fn tls_peer(conn: &rustls::ServerConnection) -> TlsPeer {
    let protocol = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => String::new(),
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|s| {
            let name = s
                .suite()
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{:?}", s.suite()));
            // rustls names TLS 1.3 suites TLS13_*, Java (and IANA) TLS_*.
            match name.strip_prefix("TLS13_") {
                Some(rest) => format!("TLS_{rest}"),
                None => name,
            }
        })
        .unwrap_or_default();
    let subject = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| crate::net::listener::certificate_subject(c.as_ref()));
    TlsPeer {
        verified: subject.is_some(),
        protocol,
        subject: subject.unwrap_or_default(),
        cipher,
    }
}

/// A completed window on its way to the acker.
struct Pending {
    receipt: Receipt,
    seq: u32,
    version: u8,
}

/// The window being received.
struct Window {
    version: u8,
    expected: u32,
    got: u32,
    highest: u32,
    receipt: Receipt,
    chunk: Vec<Event>,
    chunk_bytes: usize,
}

enum End {
    /// The sender closed, or went idle.
    Closed,
    /// Shutdown requested, or the pipeline is gone.
    Stopped,
    /// Garbage: close now, nothing more for this sender.
    Broken,
}

async fn run_connection<S>(
    stream: S,
    addr: SocketAddr,
    peer: Peer,
    config: Arc<Config>,
    transform: Arc<Transform>,
    ctx: InputContext,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (rd, wr) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel::<Pending>(MAX_PENDING_WINDOWS);
    let pending = Arc::new(AtomicUsize::new(0));
    let dead = CancellationToken::new();
    let acker = tokio::spawn(ack_loop(
        wr,
        rx,
        config.keepalive,
        dead.clone(),
        pending.clone(),
        addr,
    ));
    let mut reader = Reader {
        rd,
        addr,
        peer,
        config: &config,
        transform: &transform,
        ctx: &ctx,
        tx,
        pending,
        dead: dead.clone(),
        codec: config.codec(),
    };
    let end = reader.run().await;
    drop(reader);
    // Only the acker still needs the connection; the pipeline must not wait on us.
    drop(ctx);
    match end {
        End::Broken => dead.cancel(),
        End::Closed | End::Stopped => {}
    }
    let _ = acker.await;
    tracing::debug!(peer = %addr, "beats: connection closed");
}

struct Reader<'a, R> {
    rd: R,
    addr: SocketAddr,
    peer: Peer,
    config: &'a Config,
    transform: &'a Transform,
    ctx: &'a InputContext,
    tx: mpsc::Sender<Pending>,
    pending: Arc<AtomicUsize>,
    dead: CancellationToken,
    codec: Box<dyn crate::plugin::Codec>,
}

impl<R: AsyncRead + Unpin> Reader<'_, R> {
    async fn run(&mut self) -> End {
        let mut dec = Decoder::new(self.config.limits);
        let mut buf = vec![0u8; READ_BUF];
        let mut win: Option<Window> = None;
        loop {
            loop {
                match dec.next_frame() {
                    Ok(Some(frame)) => {
                        if let Err(end) = self.frame(frame, &mut win).await {
                            return end;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return self.broken(&e.to_string()),
                }
            }
            let read = tokio::select! {
                r = tokio::time::timeout(self.config.inactivity, self.rd.read(&mut buf)) => r,
                _ = self.ctx.shutdown_requested() => return End::Stopped,
                _ = self.dead.cancelled() => return End::Stopped,
            };
            match read {
                Err(_) => {
                    // Keep-alive ACKs are being written while windows wait: not idle.
                    if self.pending.load(Ordering::Relaxed) == 0 {
                        tracing::debug!(peer = %self.addr, "beats: reader and writer are idle, closing remote connection");
                        return End::Closed;
                    }
                }
                Ok(Ok(0)) => return End::Closed,
                Ok(Ok(n)) => dec.feed(buf.get(..n).unwrap_or_default()),
                Ok(Err(e)) => {
                    tracing::debug!(peer = %self.addr, error = %e, "beats: read failed");
                    return End::Closed;
                }
            }
        }
    }

    fn broken(&self, why: &str) -> End {
        if self.config.stats.reject() {
            tracing::warn!(peer = %self.addr, error = %why, "beats: invalid frame; closing the connection (its unacknowledged window will be resent)");
        }
        End::Broken
    }

    async fn frame(&mut self, frame: Frame, win: &mut Option<Window>) -> Result<(), End> {
        match frame {
            Frame::Window { version, size } => {
                if let Some(w) = win.take() {
                    if w.got > 0 {
                        tracing::warn!(peer = %self.addr, "beats: new window size received but the current window was not complete, acknowledging what was received");
                        self.complete(w).await?;
                    }
                }
                let w = Window {
                    version,
                    expected: size,
                    got: 0,
                    highest: 0,
                    receipt: Receipt::new(),
                    chunk: Vec::new(),
                    chunk_bytes: 0,
                };
                if size == 0 {
                    // Logstash answers an empty window with ACK 0.
                    self.complete(w).await?;
                } else {
                    *win = Some(w);
                }
                Ok(())
            }
            Frame::Json { seq, payload, .. } => {
                let doc = match serde_json::from_slice::<Value>(&payload) {
                    Ok(Value::Object(m)) => Ok(*m),
                    _ => Err(payload),
                };
                let len = match &doc {
                    Ok(_) => 0,
                    Err(p) => p.len(),
                };
                self.data(win, seq, doc, len).await
            }
            Frame::Data { seq, pairs, .. } => {
                let mut m = Map::with_capacity(pairs.len());
                let mut len = 0;
                for (k, v) in pairs {
                    len += k.len() + v.len();
                    m.insert(k, Value::String(v));
                }
                self.data(win, seq, Ok(m), len).await
            }
        }
    }

    async fn data(
        &mut self,
        win: &mut Option<Window>,
        seq: u32,
        doc: Result<Map, bytes::Bytes>,
        len: usize,
    ) -> Result<(), End> {
        let Some(w) = win.as_mut() else {
            return Err(self.broken("data frame before any window size frame"));
        };
        let start = w.chunk.len();
        match doc {
            Ok(doc) => self
                .transform
                .events(doc, &self.peer, self.codec.as_mut(), &mut w.chunk),
            Err(raw) => {
                // Logstash closes the connection on a document it cannot parse, so the
                // sender resends it forever; keeping it as a tagged event ends that.
                if self.config.stats.reject() {
                    tracing::warn!(peer = %self.addr, seq, "beats: a JSON frame is not a JSON object; kept as a message tagged _jsonparsefailure");
                }
                let mut e = Event::from_message(String::from_utf8_lossy(&raw).into_owned());
                self.transform.decorator.apply(&mut e);
                e.add_tag("_jsonparsefailure");
                w.chunk.push(e);
            }
        }
        for e in &mut w.chunk[start..] {
            e.attach_ack(w.receipt.ack());
        }
        self.config.stats.messages.fetch_add(1, Ordering::Relaxed);
        w.got += 1;
        w.highest = w.highest.max(seq);
        w.chunk_bytes += len;
        if w.got >= w.expected {
            if let Some(w) = win.take() {
                self.complete(w).await?;
            }
        } else if w.chunk.len() >= CHUNK_EVENTS || w.chunk_bytes >= CHUNK_BYTES {
            let chunk = std::mem::take(&mut w.chunk);
            w.chunk_bytes = 0;
            self.ctx.emit_batch(chunk).await.map_err(|_| End::Stopped)?;
        }
        Ok(())
    }

    async fn complete(&mut self, mut w: Window) -> Result<(), End> {
        let chunk = std::mem::take(&mut w.chunk);
        if !chunk.is_empty() {
            self.ctx.emit_batch(chunk).await.map_err(|_| End::Stopped)?;
        }
        self.pending.fetch_add(1, Ordering::Relaxed);
        let p = Pending {
            receipt: w.receipt,
            seq: w.highest,
            version: w.version,
        };
        tokio::select! {
            r = self.tx.send(p) => r.map_err(|_| End::Stopped),
            _ = self.dead.cancelled() => Err(End::Stopped),
        }
    }
}

async fn ack_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<Pending>,
    keepalive: std::time::Duration,
    dead: CancellationToken,
    pending: Arc<AtomicUsize>,
    addr: SocketAddr,
) {
    loop {
        let p = tokio::select! {
            p = rx.recv() => match p {
                Some(p) => p,
                None => break,
            },
            _ = dead.cancelled() => break,
        };
        let wait = p.receipt.wait();
        tokio::pin!(wait);
        let delivered = loop {
            tokio::select! {
                ok = &mut wait => break Some(ok),
                _ = tokio::time::sleep(keepalive) => {
                    tracing::trace!(peer = %addr, "beats: sending keep alive ack");
                    if wr.write_all(&protocol::encode_ack(p.version, 0)).await.is_err() || wr.flush().await.is_err() {
                        break None;
                    }
                }
                _ = dead.cancelled() => break None,
            }
        };
        pending.fetch_sub(1, Ordering::Relaxed);
        match delivered {
            Some(true) => {
                if wr
                    .write_all(&protocol::encode_ack(p.version, p.seq))
                    .await
                    .is_err()
                    || wr.flush().await.is_err()
                {
                    break;
                }
            }
            Some(false) => {
                tracing::warn!(peer = %addr, "beats: a window's events were not delivered; closing the connection without ACK so the sender resends them");
                break;
            }
            None => break,
        }
    }
    // The reader must stop too: without ACKs the connection is useless.
    dead.cancel();
    let _ = wr.shutdown().await;
}
