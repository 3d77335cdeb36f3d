//! The socket plumbing the `tcp`, `udp` and `syslog` inputs share: a TCP accept loop (TLS
//! handshake, PROXY protocol v1 header, keepalive, reverse DNS of the peer, one task per
//! connection, all of them awaited at shutdown), a UDP reader feeding a bounded queue that
//! decoder workers drain, and the counters that make every rejection visible.
//!
//! Nothing here decodes events: an input gets a [`Connection`] (its peer and a byte
//! stream) or batches of [`Datagram`]s and does its own framing and decoding.

use crate::net::tls::{ClientAuth, ServerTls};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A connection's byte stream (plain TCP or TLS).
pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;

/// How long a client may take for the TLS handshake or the PROXY header: a stalled client
/// must not hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a reverse lookup may take before the peer is named by its address.
const REVERSE_DNS_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest PROXY v1 header, CRLF included (the spec's limit).
const PROXY_V1_MAX: usize = 107;

/// Counters of one network input. Every rejected frame, refused connection and dropped
/// datagram is counted here and logged (the first few, then every 1000th).
#[derive(Debug, Default)]
pub struct NetStats {
    /// Connections accepted (or, in client mode, made).
    pub connections: AtomicU64,
    /// Frames (tcp lines, syslog messages) or datagrams received.
    pub messages: AtomicU64,
    /// Garbage: unparseable frames, bad PROXY headers, failed TLS handshakes.
    pub rejected: AtomicU64,
    /// Datagrams dropped because the decoder queue was full.
    pub dropped: AtomicU64,
    /// Set once the input's sockets are bound (tests and benches wait for it).
    pub listening: std::sync::atomic::AtomicBool,
}

impl NetStats {
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
    pub fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }
    pub fn set_listening(&self) {
        self.listening.store(true, Ordering::Release);
    }

    /// Counts a rejection; true when this one should be logged.
    pub fn reject(&self) -> bool {
        should_log(self.rejected.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

/// Logs the first ten occurrences, then every thousandth: loud without flooding the log
/// when a sender sends nothing but garbage.
pub fn should_log(count: u64) -> bool {
    count <= 10 || count.is_multiple_of(1000)
}

/// Who sent a connection's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The sender's address (from the PROXY header when there is one).
    pub ip: String,
    pub port: u16,
    /// Its reverse-DNS name, or the address when lookups are off or find nothing.
    pub name: String,
    /// The verified client certificate's subject (RFC 2253, as Java prints it), when the
    /// server asks for client certificates.
    pub tls_subject: Option<String>,
    /// The proxy's receiving address and port, from a PROXY header.
    pub proxy: Option<(String, u16)>,
}

/// An accepted connection, ready to read.
pub struct Connection {
    pub peer: Peer,
    /// Bytes already read past the PROXY header: the start of the data.
    pub initial: Vec<u8>,
    pub reader: BoxRead,
}

/// A parsed PROXY protocol v1 header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `PROXY UNKNOWN`: the proxy does not know the source; the socket's peer is kept.
    Unknown,
    Tcp {
        src: IpAddr,
        dst: IpAddr,
        src_port: u16,
        dst_port: u16,
    },
}

/// Parses a PROXY v1 header line (without its CRLF): `PROXY TCP4 src dst sport dport`.
pub fn parse_proxy_v1(line: &[u8]) -> Result<ProxyHeader, String> {
    let shown = || String::from_utf8_lossy(&line[..line.len().min(PROXY_V1_MAX)]).into_owned();
    let text = std::str::from_utf8(line)
        .map_err(|_| format!("invalid PROXY protocol header {:?}: not ASCII", shown()))?;
    let parts: Vec<&str> = text.split(' ').collect();
    if parts.first() != Some(&"PROXY") {
        return Err(format!(
            "invalid PROXY protocol header label in {:?}",
            shown()
        ));
    }
    match parts.get(1).copied() {
        Some("UNKNOWN") => Ok(ProxyHeader::Unknown),
        Some(proto @ ("TCP4" | "TCP6")) => {
            let [_, _, src, dst, sport, dport] = parts[..] else {
                return Err(format!(
                    "invalid PROXY protocol header {:?}: expected PROXY {proto} src dst sport dport",
                    shown()
                ));
            };
            let ip = |s: &str| -> Result<IpAddr, String> {
                let ip: IpAddr = s
                    .parse()
                    .map_err(|_| format!("invalid PROXY protocol address {s:?}"))?;
                if ip.is_ipv4() != (proto == "TCP4") {
                    return Err(format!("PROXY protocol address {s:?} is not {proto}"));
                }
                Ok(ip)
            };
            let port = |s: &str| -> Result<u16, String> {
                s.parse()
                    .map_err(|_| format!("invalid PROXY protocol port {s:?}"))
            };
            Ok(ProxyHeader::Tcp {
                src: ip(src)?,
                dst: ip(dst)?,
                src_port: port(sport)?,
                dst_port: port(dport)?,
            })
        }
        _ => Err(format!(
            "invalid PROXY protocol header {:?}: expected TCP4, TCP6 or UNKNOWN",
            shown()
        )),
    }
}

/// Reads a PROXY v1 header line; returns it (without CRLF) and the bytes read after it.
async fn read_proxy_header(reader: &mut BoxRead) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut buf = Vec::with_capacity(PROXY_V1_MAX);
    let mut chunk = [0u8; PROXY_V1_MAX];
    loop {
        if let Some(i) = memchr::memmem::find(&buf, b"\r\n") {
            let rest = buf.split_off(i + 2);
            buf.truncate(i);
            return Ok((buf, rest));
        }
        if buf.len() >= PROXY_V1_MAX {
            return Err(format!(
                "no PROXY protocol header: no CRLF in the first {PROXY_V1_MAX} bytes ({:?})",
                String::from_utf8_lossy(&buf)
            ));
        }
        let n = reader
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the PROXY protocol header: {e}"))?;
        if n == 0 {
            return Err("connection closed before the PROXY protocol header ended".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The subject of a DER certificate as Java's `X500Principal.getName()` prints it (what
/// Logstash puts in `sslsubject`): RDNs last-first, `CN=a,O=b`.
pub fn certificate_subject(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    let registry = x509_parser::objects::oid_registry();
    let mut rdns: Vec<String> = Vec::new();
    for rdn in cert.subject().iter() {
        let attrs: Vec<String> = rdn
            .iter()
            .map(|a| {
                let oid = a.attr_type();
                let key = x509_parser::objects::oid2abbrev(oid, registry)
                    .ok()
                    .map(str::to_ascii_uppercase)
                    .filter(|k| {
                        ["CN", "C", "L", "ST", "O", "OU", "STREET", "DC", "UID"]
                            .contains(&k.as_str())
                    })
                    .unwrap_or_else(|| oid.to_id_string());
                let value = a.as_str().unwrap_or_default();
                format!("{key}={}", escape_rfc2253(value))
            })
            .collect();
        rdns.push(attrs.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

fn escape_rfc2253(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        let edge = (i == 0 && (c == ' ' || c == '#')) || (i + 1 == n && c == ' ');
        if edge || matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The peer's name by reverse DNS (`getnameinfo`, which reads /etc/hosts first, as Java's
/// `getHostName`), or its address when nothing answers in time.
pub async fn reverse_lookup(ip: IpAddr) -> String {
    let lookup = tokio::task::spawn_blocking(move || dns_lookup::lookup_addr(&ip));
    match tokio::time::timeout(REVERSE_DNS_TIMEOUT, lookup).await {
        Ok(Ok(Ok(name))) if !name.is_empty() => name,
        _ => ip.to_string(),
    }
}

/// Binds a TCP listener on `host:port` (a name, an IPv4 or an IPv6 address).
pub async fn bind_tcp(plugin: &str, host: &str, port: u16) -> anyhow::Result<TcpListener> {
    let addr = bind_host(host);
    TcpListener::bind((addr.as_str(), port))
        .await
        .map_err(|e| anyhow::anyhow!("{plugin}: could not bind to {host}:{port}: {e}"))
}

/// `[::1]` written with brackets is accepted too.
fn bind_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// The accept side of a TCP input.
pub struct TcpServer {
    /// The plugin name, for log messages.
    pub plugin: &'static str,
    pub tls: Option<ServerTls>,
    pub keep_alive: bool,
    pub proxy_protocol: bool,
    pub reverse_dns: bool,
    pub stats: Arc<NetStats>,
}

impl TcpServer {
    /// Accepts connections until `shutdown`, running `handler` on each in its own task;
    /// returns when every handler has returned (handlers watch `shutdown` too).
    pub async fn serve<F, Fut>(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
        handler: F,
    ) where
        F: Fn(Connection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let tracker = TaskTracker::new();
        let handler = Arc::new(handler);
        loop {
            let accepted = tokio::select! {
                r = listener.accept() => r,
                _ = shutdown.cancelled() => break,
            };
            let (stream, addr) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: wait a moment rather than spin.
                    tracing::warn!(plugin = self.plugin, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let this = self.clone();
            let handler = handler.clone();
            tracker.spawn(async move {
                match this.open(stream, addr).await {
                    Ok(conn) => handler(conn).await,
                    Err(e) => {
                        if this.stats.reject() {
                            tracing::warn!(plugin = this.plugin, client = %addr, error = %e, rejected = this.stats.rejected(), "connection refused");
                        }
                    }
                }
            });
        }
        drop(listener);
        tracker.close();
        tracker.wait().await;
    }

    /// The TLS handshake, the PROXY header and the peer's name.
    async fn open(&self, stream: TcpStream, addr: SocketAddr) -> Result<Connection, String> {
        self.stats.connections.fetch_add(1, Ordering::Relaxed);
        if self.keep_alive {
            if let Err(e) = socket2::SockRef::from(&stream).set_keepalive(true) {
                tracing::warn!(plugin = self.plugin, error = %e, "could not set SO_KEEPALIVE");
            }
        }
        let (mut reader, tls_subject): (BoxRead, Option<String>) = match &self.tls {
            None => (Box::new(stream), None),
            Some(tls) => {
                let s = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor.accept(stream))
                    .await
                    .map_err(|_| "TLS handshake timed out".to_string())?
                    .map_err(|e| format!("TLS handshake failed: {e}"))?;
                // As Logstash: the subject only when client certificates are asked for.
                let subject = (tls.client_auth != ClientAuth::None)
                    .then(|| s.get_ref().1.peer_certificates())
                    .flatten()
                    .and_then(|c| c.first())
                    .and_then(|c| certificate_subject(c.as_ref()));
                (Box::new(s), subject)
            }
        };
        let mut ip = addr.ip().to_canonical();
        let mut port = addr.port();
        let mut proxy = None;
        let mut initial = Vec::new();
        if self.proxy_protocol {
            let (header, rest) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, read_proxy_header(&mut reader))
                    .await
                    .map_err(|_| "timed out waiting for the PROXY protocol header".to_string())??;
            if let ProxyHeader::Tcp {
                src,
                dst,
                src_port,
                dst_port,
            } = parse_proxy_v1(&header)?
            {
                ip = src;
                port = src_port;
                proxy = Some((dst.to_string(), dst_port));
            }
            initial = rest;
        }
        let name = if self.reverse_dns {
            reverse_lookup(ip).await
        } else {
            ip.to_string()
        };
        Ok(Connection {
            peer: Peer {
                ip: ip.to_string(),
                port,
                name,
                tls_subject,
                proxy,
            },
            initial,
            reader,
        })
    }
}

/// One received datagram.
#[derive(Clone, Debug)]
pub struct Datagram {
    pub data: Vec<u8>,
    pub from: SocketAddr,
}

/// Binds a UDP socket on `host:port`, with `SO_RCVBUF` set to `receive_buffer` when given
/// (the kernel may grant less: that is logged, as Logstash does).
pub fn bind_udp(
    plugin: &str,
    host: &str,
    port: u16,
    receive_buffer: Option<usize>,
) -> anyhow::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::ToSocketAddrs;
    let host = bind_host(host);
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("{plugin}: cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{plugin}: {host} resolves to no address"))?;
    // No SO_REUSEADDR: for UDP it would let a second input bind the same port and
    // silently take the datagrams.
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(want) = receive_buffer {
        if let Err(e) = socket.set_recv_buffer_size(want) {
            tracing::warn!(plugin, error = %e, "could not set receive_buffer_bytes");
        }
        // Linux reports twice what it grants (bookkeeping overhead).
        let got = socket.recv_buffer_size().unwrap_or(0);
        if got < want {
            tracing::warn!(
                plugin,
                requested = want,
                obtained = got,
                "unable to set receive_buffer_bytes to the desired size (see net.core.rmem_max)"
            );
        }
    }
    socket
        .bind(&addr.into())
        .map_err(|e| anyhow::anyhow!("{plugin}: could not bind to {host}:{port} (udp): {e}"))?;
    socket.set_nonblocking(true)?;
    Ok(UdpSocket::from_std(socket.into())?)
}

/// The decoder side of a UDP reader: workers take batches of datagrams from it.
#[derive(Clone)]
pub struct DatagramQueue {
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Datagram>>>,
}

impl DatagramQueue {
    /// Waits for at least one datagram and takes up to `max` into `out`; false once the
    /// reader has stopped and the queue is empty.
    pub async fn next_batch(&self, max: usize, out: &mut Vec<Datagram>) -> bool {
        let mut rx = self.rx.lock().await;
        match rx.recv().await {
            None => return false,
            Some(d) => out.push(d),
        }
        while out.len() < max {
            match rx.try_recv() {
                Ok(d) => out.push(d),
                Err(_) => break,
            }
        }
        true
    }
}

/// Reads datagrams of up to `buffer_size` bytes into a queue of `queue_size` until
/// `shutdown`. With `drop_when_full` a datagram that finds the queue full is dropped and
/// counted (the udp input's `queue_size`); otherwise the reader waits and the kernel's
/// receive buffer absorbs the burst (syslog).
pub fn spawn_udp_reader(
    plugin: &'static str,
    socket: UdpSocket,
    buffer_size: usize,
    queue_size: usize,
    drop_when_full: bool,
    stats: Arc<NetStats>,
    shutdown: CancellationToken,
) -> (tokio::task::JoinHandle<()>, DatagramQueue) {
    let (tx, rx) = mpsc::channel(queue_size.max(1));
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; buffer_size.max(1)];
        loop {
            let received = tokio::select! {
                r = socket.recv_from(&mut buf) => r,
                _ = shutdown.cancelled() => break,
            };
            let (n, from) = match received {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(plugin, error = %e, "udp receive failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            stats.messages.fetch_add(1, Ordering::Relaxed);
            let d = Datagram {
                data: buf[..n].to_vec(),
                from,
            };
            if drop_when_full {
                match tx.try_send(d) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        let dropped = stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                        if should_log(dropped) {
                            tracing::warn!(plugin, dropped, queue_size, "decoder queue full: datagram dropped (raise queue_size or workers)");
                        }
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            } else if tx.send(d).await.is_err() {
                break;
            }
        }
    });
    (
        task,
        DatagramQueue {
            rx: Arc::new(tokio::sync::Mutex::new(rx)),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_v1_headers() {
        assert_eq!(
            parse_proxy_v1(b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443"),
            Ok(ProxyHeader::Tcp {
                src: "192.168.0.1".parse().unwrap(),
                dst: "192.168.0.11".parse().unwrap(),
                src_port: 56324,
                dst_port: 443
            })
        );
        assert_eq!(
            parse_proxy_v1(b"PROXY TCP6 ::1 ::2 1 2").map(|_| ()),
            Ok(())
        );
        assert_eq!(parse_proxy_v1(b"PROXY UNKNOWN"), Ok(ProxyHeader::Unknown));
        for bad in [
            &b"GET / HTTP/1.1"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1",
            b"PROXY TCP4 ::1 ::2 1 2",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999",
            b"PROXY TCP9 1.2.3.4 5.6.7.8 1 2",
            b"\xff\xfe",
            b"",
        ] {
            assert!(
                parse_proxy_v1(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn garbage_never_panics_the_proxy_parser() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let len = rng.usize(0..120);
            let mut v: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            if rng.bool() {
                v.splice(0..0, b"PROXY TCP4 ".iter().copied());
            }
            let _ = parse_proxy_v1(&v);
        }
    }

    #[tokio::test]
    async fn udp_receive_buffer_is_set() {
        let sock = bind_udp("udp", "127.0.0.1", 0, Some(100_000)).unwrap();
        // Linux grants twice the request (bookkeeping), capped by net.core.rmem_max.
        let got = socket2::SockRef::from(&sock).recv_buffer_size().unwrap();
        assert!(got >= 100_000, "SO_RCVBUF {got}");
        assert!(bind_udp("udp", "no.such.host.invalid", 0, None).is_err());
        // Taken by the first socket without SO_REUSEPORT: a clear error naming the port.
        let port = sock.local_addr().unwrap().port();
        let err = bind_udp("udp", "127.0.0.1", port, None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(&port.to_string()), "{err}");
    }

    #[test]
    fn rfc2253_escaping() {
        assert_eq!(escape_rfc2253("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_rfc2253(" x "), "\\ x\\ ");
        assert_eq!(escape_rfc2253("plain"), "plain");
    }

    #[test]
    fn subject_of_a_generated_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["client".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Acme, Inc");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "client1");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            certificate_subject(cert.der()).as_deref(),
            Some("CN=client1,O=Acme\\, Inc")
        );
        assert_eq!(certificate_subject(b"not a certificate"), None);
    }
}
