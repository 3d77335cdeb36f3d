//! `tcp`: events from TCP connections, as Logstash 8's `logstash-input-tcp` (6.x).
//!
//! `mode => server` (default) listens on `host:port` and decodes each connection with its
//! own copy of the codec (default `line`; `plain` becomes `line` and `json` becomes
//! `json_lines`, Logstash's `fix_streaming_codecs`); `mode => client` connects to
//! `host:port`, reads, and reconnects when the connection ends or fails. When a
//! connection closes its codec is flushed, so a last line without a newline is kept.
//!
//! Every event gets the connection's source, unless it already has the field (a JSON
//! document may bring its own): ECS `[@metadata][input][tcp][source][name|ip|port]`,
//! legacy `host`, `[@metadata][ip_address]`, `port`; with `proxy_protocol` the proxy's
//! address `[@metadata][input][tcp][proxy][ip|port]` (legacy `proxy_host`, `proxy_port`);
//! with TLS client authentication the client certificate's subject
//! `[@metadata][input][tcp][tls][client][subject]` (legacy `sslsubject`) — the field the
//! plugin's code sets (its docs say `[ssl][subject]`).
//!
//! TLS: `ssl_enabled`, `ssl_certificate`, `ssl_key`, `ssl_certificate_authorities`,
//! `ssl_client_authentication` (default `required`, as Logstash: without
//! `ssl_certificate_authorities` clients must then present a certificate signed by a
//! system CA, read from the system bundle), `ssl_supported_protocols`; in client mode
//! `ssl_verification_mode` (`full`, `none`) and an optional client certificate. The
//! pre-8 names `ssl_enable`, `ssl_cert` and `ssl_verify` are accepted with a deprecation
//! warning. TCP has no acknowledgements: back-pressure (the sender's writes block while
//! the pipeline's queue is full) is all the flow control there is, as in Logstash.

use crate::input_context::InputContext;
use crate::net::listener::{self, Connection, NetStats, Peer, TcpServer};
use crate::net::tls::{self, ServerTls};
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Codec, Input};
use logstash_mesos_core::{Backoff, Event, FieldRef, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Where Debian (and most Linux systems) keep the system's CA bundle.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The read buffer of one connection.
const READ_BUFFER: usize = 64 * 1024;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "host",
        OptKind::String,
        "server mode: the address to listen on; client mode: the address to connect to",
    )
    .default("\"0.0.0.0\""),
    OptSpec::new(
        "port",
        OptKind::Number,
        "server mode: the port to listen on; client mode: the port to connect to",
    )
    .required(),
    OptSpec::new(
        "mode",
        OptKind::Enum(&["server", "client"]),
        "server accepts connections, client connects to host:port (and reconnects)",
    )
    .default("\"server\""),
    OptSpec::new(
        "codec",
        OptKind::Codec,
        "the codec each connection is decoded with",
    )
    .default("\"line\""),
    OptSpec::new(
        "proxy_protocol",
        OptKind::Boolean,
        "connections start with a PROXY protocol v1 header (HAProxy); others are refused",
    )
    .default("false"),
    OptSpec::new(
        "tcp_keep_alive",
        OptKind::Boolean,
        "set SO_KEEPALIVE on connections (the OS's keepalive timings)",
    )
    .default("false"),
    OptSpec::new(
        "dns_reverse_lookup_enabled",
        OptKind::Boolean,
        "name the sender by reverse DNS (false: by its address)",
    )
    .default("true"),
    tls::SSL_ENABLED,
    tls::SSL_CERTIFICATE,
    tls::SSL_KEY,
    tls::SSL_KEY_PASSPHRASE,
    tls::SSL_CERTIFICATE_AUTHORITIES,
    tls::SSL_SUPPORTED_PROTOCOLS,
    tls::SSL_CIPHER_SUITES,
    tls::client_authentication("required"),
    OptSpec::new(
        "ssl_verification_mode",
        OptKind::Enum(&["full", "none"]),
        "client mode: verify the server's certificate and name (full) or nothing (none)",
    )
    .default("\"full\""),
    OptSpec::new(
        "ssl_extra_chain_certs",
        OptKind::Array,
        "refused: put the intermediate certificates in the ssl_certificate file after the server's",
    ),
    OptSpec::new(
        "ssl_enable",
        OptKind::Boolean,
        "deprecated name of ssl_enabled",
    ),
    OptSpec::new(
        "ssl_cert",
        OptKind::Path,
        "deprecated name of ssl_certificate",
    ),
    OptSpec::new(
        "ssl_verify",
        OptKind::Boolean,
        "deprecated: true is ssl_client_authentication => required, false is none",
    ),
];

/// The event fields a connection's source is written to.
#[derive(Clone, Debug)]
pub struct SourceFields {
    host: FieldRef,
    ip: FieldRef,
    port: FieldRef,
    proxy_host: FieldRef,
    proxy_port: FieldRef,
    subject: FieldRef,
}

impl SourceFields {
    pub fn new(ecs: bool) -> SourceFields {
        let f = |legacy: &str, ecs_name: &str| {
            let name = if ecs { ecs_name } else { legacy };
            FieldRef::parse(name).unwrap_or_else(|_| FieldRef::top(name))
        };
        SourceFields {
            host: f("host", "[@metadata][input][tcp][source][name]"),
            ip: f(
                "[@metadata][ip_address]",
                "[@metadata][input][tcp][source][ip]",
            ),
            port: f("port", "[@metadata][input][tcp][source][port]"),
            proxy_host: f("proxy_host", "[@metadata][input][tcp][proxy][ip]"),
            proxy_port: f("proxy_port", "[@metadata][input][tcp][proxy][port]"),
            subject: f(
                "sslsubject",
                "[@metadata][input][tcp][tls][client][subject]",
            ),
        }
    }

    /// Writes the peer into `event`, leaving fields the event already has.
    pub fn apply(&self, event: &mut Event, peer: &Peer) {
        let mut set = |r: &FieldRef, v: Value| {
            if !event.contains(r) {
                let _ = event.set(r, v);
            }
        };
        if let Some((ip, port)) = &peer.proxy {
            set(&self.proxy_host, Value::from(ip.as_str()));
            set(&self.proxy_port, Value::from(i64::from(*port)));
        }
        set(&self.host, Value::from(peer.name.as_str()));
        set(&self.ip, Value::from(peer.ip.as_str()));
        set(&self.port, Value::from(i64::from(peer.port)));
        if let Some(s) = &peer.tls_subject {
            set(&self.subject, Value::from(s.as_str()));
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Server,
    Client,
}

pub struct TcpInput {
    host: String,
    port: u16,
    mode: Mode,
    codec: Box<dyn Codec>,
    fields: SourceFields,
    server_tls: Option<ServerTls>,
    client_tls: Option<Arc<rustls::ClientConfig>>,
    keep_alive: bool,
    proxy_protocol: bool,
    reverse_dns: bool,
    stats: Arc<NetStats>,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    TcpInput::from_args(args, ctx).map(|i| Box::new(i) as Box<dyn Input>)
}

/// Reads a `port` option: 0..=65535 (0 only where `allow_zero`: tests bind any port).
pub(crate) fn port_option(args: &Args, name: &str, errors: &mut Vec<BuildError>) -> u16 {
    match args.i64(name) {
        Some(p) if (0..=65535).contains(&p) => p as u16,
        Some(p) => {
            errors.push(BuildError::option(
                name,
                format!("{p} is not a port (0-65535)"),
            ));
            0
        }
        None => {
            errors.push(BuildError::option(name, "is required"));
            0
        }
    }
}

impl TcpInput {
    pub fn from_args(args: &Args, ctx: &BuildContext) -> BuildResult<TcpInput> {
        let mut args = args.clone();
        let mut errors = Vec::new();
        for r in [
            args.rename_deprecated("ssl_enable", "ssl_enabled", |v| v),
            args.rename_deprecated("ssl_cert", "ssl_certificate", |v| v),
            args.rename_deprecated("ssl_verify", "ssl_client_authentication", |v| {
                Value::from(if v.is_truthy() && v.to_logstash_string() != "false" {
                    "required"
                } else {
                    "none"
                })
            }),
        ] {
            if let Err(e) = r {
                errors.push(e);
            }
        }
        let ecs = match args.ecs(ctx) {
            Ok(e) => e.enabled(),
            Err(e) => {
                errors.push(e);
                false
            }
        };
        let port = port_option(&args, "port", &mut errors);
        let mode = if args.string("mode").as_deref() == Some("client") {
            Mode::Client
        } else {
            Mode::Server
        };
        let host = args.string("host").unwrap_or_else(|| "0.0.0.0".into());
        if mode == Mode::Client && port == 0 {
            errors.push(BuildError::option(
                "port",
                "client mode needs the server's port",
            ));
        }
        if args.contains("ssl_extra_chain_certs") {
            errors.push(BuildError::option(
                "ssl_extra_chain_certs",
                "not supported: append the intermediate certificates to the ssl_certificate file (server certificate first)",
            ));
        }
        let mut codec = match args.codec("codec") {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        // Logstash's fix_streaming_codecs: a stream is lines.
        if let Some(streaming) = codec.as_ref().and_then(|c| c.for_streams()) {
            tracing::info!(
                plugin = "tcp",
                "switching to the line-oriented codec, as Logstash does"
            );
            codec = Some(streaming);
        }
        let ssl = args.flag("ssl_enabled");
        if !ssl {
            let ignored: Vec<&str> = args
                .names()
                .filter(|n| n.starts_with("ssl_") && *n != "ssl_enabled")
                .collect();
            if !ignored.is_empty() {
                tracing::warn!(
                    plugin = "tcp",
                    ?ignored,
                    "SSL settings are not used when ssl_enabled is false"
                );
            }
        }
        let mut server_tls = None;
        let mut client_tls = None;
        if ssl && mode == Mode::Server {
            if args.contains("ssl_verification_mode") {
                errors.push(BuildError::option(
                    "ssl_verification_mode",
                    "must not be set when mode is server: use ssl_client_authentication",
                ));
            }
            // Logstash's default `required` without CAs trusts the JVM's CAs: here the
            // system bundle.
            if !args.contains("ssl_client_authentication")
                && args.strings("ssl_certificate_authorities").is_empty()
                && Path::new(SYSTEM_CA_BUNDLE).exists()
            {
                tracing::warn!(plugin = "tcp", bundle = SYSTEM_CA_BUNDLE, "ssl_client_authentication defaults to required: clients must present a certificate signed by a system CA (set ssl_client_authentication => none or ssl_certificate_authorities)");
                args = args.with(
                    "ssl_certificate_authorities",
                    Value::Array(vec![Value::from(SYSTEM_CA_BUNDLE)]),
                );
                // Not "given" by the user, but ServerTls must see the default.
            }
            match ServerTls::from_args(&args) {
                Ok(t) => server_tls = t,
                Err(e) => errors.push(e),
            }
        } else if ssl {
            if args.contains("ssl_client_authentication") {
                errors.push(BuildError::option(
                    "ssl_client_authentication",
                    "must not be set when mode is client: use ssl_verification_mode",
                ));
            }
            match client_config(&args) {
                Ok(c) => client_tls = Some(Arc::new(c)),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(BuildError::many(errors));
        }
        let Some(codec) = codec else {
            return Err(BuildError::option("codec", "no codec"));
        };
        Ok(TcpInput {
            host,
            port,
            mode,
            codec,
            fields: SourceFields::new(ecs),
            server_tls,
            client_tls,
            keep_alive: args.flag("tcp_keep_alive"),
            proxy_protocol: args.flag("proxy_protocol"),
            reverse_dns: args.flag("dns_reverse_lookup_enabled"),
            stats: Arc::new(NetStats::default()),
        })
    }

    /// The input's counters (connections, events, refused connections).
    pub fn stats(&self) -> Arc<NetStats> {
        self.stats.clone()
    }
}

/// The TLS client configuration of client mode.
fn client_config(args: &Args) -> BuildResult<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(BuildError::general)?;
    let builder = if args.string("ssl_verification_mode").as_deref() == Some("none") {
        tracing::warn!(
            plugin = "tcp",
            "ssl_verification_mode => none: the server's certificate is not verified"
        );
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let mut cas: Vec<PathBuf> = args
            .strings("ssl_certificate_authorities")
            .into_iter()
            .map(PathBuf::from)
            .collect();
        if cas.is_empty() {
            cas.push(PathBuf::from(SYSTEM_CA_BUNDLE));
        }
        let mut roots = rustls::RootCertStore::empty();
        for ca in &cas {
            let certs = read_pem_certs(ca)
                .map_err(|e| BuildError::file("ssl_certificate_authorities", e))?;
            for c in certs {
                // A system bundle holds a few certificates rustls cannot use: skip them.
                let _ = roots.add(c);
            }
        }
        if roots.is_empty() {
            return Err(BuildError::file(
                "ssl_certificate_authorities",
                "no usable CA certificate",
            ));
        }
        builder.with_root_certificates(roots)
    };
    match (args.string("ssl_certificate"), args.string("ssl_key")) {
        (Some(cert), Some(key)) => {
            use rustls::pki_types::pem::PemObject;
            let chain = read_pem_certs(Path::new(&cert))
                .map_err(|e| BuildError::file("ssl_certificate", e))?;
            let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&key)
                .map_err(|e| BuildError::file("ssl_key", format!("{key}: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| BuildError::file("ssl_certificate", e))
        }
        (Some(_), None) => Err(BuildError::option(
            "ssl_key",
            "using an ssl_certificate requires an ssl_key",
        )),
        (None, Some(_)) => Err(BuildError::option(
            "ssl_certificate",
            "an ssl_certificate is required when using an ssl_key",
        )),
        (None, None) => Ok(builder.with_no_client_auth()),
    }
}

fn read_pem_certs(path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `ssl_verification_mode => none`: any server certificate is accepted (signatures are
/// still checked, so the handshake is a real one).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Reads one connection to its end (or shutdown), decoding with `codec` and emitting in
/// chunks; the codec is flushed at the end so a last unterminated line is kept.
pub(crate) async fn read_connection(
    conn: Connection,
    mut codec: Box<dyn Codec>,
    fields: &SourceFields,
    ctx: &InputContext,
    stats: &NetStats,
) {
    let Connection {
        peer,
        initial,
        mut reader,
    } = conn;
    tracing::debug!(plugin = "tcp", client = %format!("{}:{}", peer.ip, peer.port), "connection opened");
    let mut events = Vec::new();
    if !initial.is_empty() {
        codec.decode(&initial, &mut events);
    }
    let mut buf = vec![0u8; READ_BUFFER];
    // On a Mesos node: the task behind the sender's address.
    let sender_ip = peer.ip.parse::<std::net::IpAddr>().ok();
    loop {
        if !events.is_empty() {
            for e in events.iter_mut() {
                fields.apply(e, &peer);
                if let Some(ip) = sender_ip {
                    ctx.build.node.senders.annotate(e, ip);
                }
            }
            stats
                .messages
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            if ctx.emit_batch(std::mem::take(&mut events)).await.is_err() {
                return;
            }
        }
        let read = tokio::select! {
            r = reader.read(&mut buf) => r,
            _ = ctx.shutdown_requested() => Ok(0),
        };
        match read {
            Ok(0) => break,
            Ok(n) => codec.decode(&buf[..n], &mut events),
            Err(e) => {
                tracing::info!(plugin = "tcp", client = %format!("{}:{}", peer.ip, peer.port), error = %e, "closing connection");
                break;
            }
        }
    }
    codec.flush(&mut events);
    for e in events.iter_mut() {
        fields.apply(e, &peer);
    }
    stats
        .messages
        .fetch_add(events.len() as u64, Ordering::Relaxed);
    let _ = ctx.emit_batch(events).await;
    tracing::debug!(plugin = "tcp", client = %format!("{}:{}", peer.ip, peer.port), "connection closed");
}

impl TcpInput {
    async fn run_server(self, ctx: InputContext) -> anyhow::Result<()> {
        let listener = listener::bind_tcp("tcp", &self.host, self.port).await?;
        self.stats.set_listening();
        tracing::info!(plugin = "tcp", address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), ssl_enabled = self.server_tls.is_some(), "tcp input listening");
        let server = Arc::new(TcpServer {
            plugin: "tcp",
            tls: self.server_tls,
            keep_alive: self.keep_alive,
            proxy_protocol: self.proxy_protocol,
            reverse_dns: self.reverse_dns,
            stats: self.stats.clone(),
        });
        let codec = self.codec;
        let fields = Arc::new(self.fields);
        let stats = self.stats;
        let shutdown = ctx.shutdown.clone();
        let proto = BuiltCodec(codec);
        let proto = Arc::new(std::sync::Mutex::new(proto));
        server
            .serve(listener, shutdown, move |conn| {
                let codec = proto.lock().ok().map(|c| c.0.clone_box());
                let fields = fields.clone();
                let ctx = ctx.clone();
                let stats = stats.clone();
                async move {
                    if let Some(codec) = codec {
                        read_connection(conn, codec, &fields, &ctx, &stats).await;
                    }
                }
            })
            .await;
        Ok(())
    }

    async fn run_client(self, ctx: InputContext) -> anyhow::Result<()> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        let addr = format!("{}:{}", self.host, self.port);
        let mut failures = 0u64;
        let TcpInput {
            host,
            codec,
            fields,
            client_tls,
            keep_alive,
            stats,
            ..
        } = self;
        let client = Client {
            host,
            client_tls,
            keep_alive,
        };
        while !ctx.is_shutdown() {
            match client.connect(&addr).await {
                Ok(conn) => {
                    stats.connections.fetch_add(1, Ordering::Relaxed);
                    backoff.reset();
                    failures = 0;
                    tracing::info!(plugin = "tcp", server = %addr, "connected");
                    read_connection(conn, codec.clone_box(), &fields, &ctx, &stats).await;
                }
                Err(e) => {
                    failures += 1;
                    if listener::should_log(failures) {
                        tracing::warn!(plugin = "tcp", server = %addr, error = %e, failures, "could not connect; retrying");
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = ctx.shutdown_requested() => break,
            }
        }
        Ok(())
    }
}

/// What client mode needs to connect (apart from the codec, which is not `Sync`).
struct Client {
    host: String,
    client_tls: Option<Arc<rustls::ClientConfig>>,
    keep_alive: bool,
}

impl Client {
    async fn connect(&self, addr: &str) -> anyhow::Result<Connection> {
        let stream = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        .map_err(|_| anyhow::anyhow!("connect timed out"))??;
        if self.keep_alive {
            socket2::SockRef::from(&stream).set_keepalive(true)?;
        }
        let remote = stream.peer_addr()?;
        let ip = remote.ip().to_canonical().to_string();
        let mut peer = Peer {
            name: ip.clone(),
            ip,
            port: remote.port(),
            tls_subject: None,
            proxy: None,
        };
        let reader: listener::BoxRead = match &self.client_tls {
            None => Box::new(stream),
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(
                    self.host
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string(),
                )
                .map_err(|e| anyhow::anyhow!("{}: not a TLS server name: {e}", self.host))?;
                let s = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, stream)
                    .await?;
                peer.tls_subject = s
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| listener::certificate_subject(c.as_ref()));
                Box::new(s)
            }
        };
        Ok(Connection {
            peer,
            initial: Vec::new(),
            reader,
        })
    }
}

/// A codec to clone per connection (a `Box<dyn Codec>` is `Send` but not `Sync`).
struct BuiltCodec(Box<dyn Codec>);

impl Input for TcpInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            match self.mode {
                Mode::Server => self.run_server(ctx).await,
                Mode::Client => self.run_client(ctx).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Kind;

    fn args() -> Args {
        Args::for_plugin(Kind::Input, OPTIONS)
    }

    #[test]
    fn source_fields_legacy_and_ecs_keep_existing_values() {
        let peer = Peer {
            ip: "10.0.0.1".into(),
            port: 4242,
            name: "box".into(),
            tls_subject: Some("CN=c".into()),
            proxy: Some(("10.0.0.2".into(), 443)),
        };
        let mut e = Event::from_message("m");
        e.set(&FieldRef::top("host"), Value::from("mine")).unwrap();
        SourceFields::new(false).apply(&mut e, &peer);
        assert_eq!(e.get_top("host").unwrap().to_string(), "mine");
        assert_eq!(e.get_top("port").unwrap().as_i64(), Some(4242));
        assert_eq!(e.get_top("sslsubject").unwrap().to_string(), "CN=c");
        assert_eq!(e.get_top("proxy_host").unwrap().to_string(), "10.0.0.2");
        assert_eq!(
            e.get(&FieldRef::parse("[@metadata][ip_address]").unwrap())
                .unwrap()
                .to_string(),
            "10.0.0.1"
        );
        let mut e = Event::from_message("m");
        SourceFields::new(true).apply(&mut e, &peer);
        let get = |p: &str| e.get(&FieldRef::parse(p).unwrap()).map(|v| v.to_string());
        assert_eq!(
            get("[@metadata][input][tcp][source][name]").as_deref(),
            Some("box")
        );
        assert_eq!(
            get("[@metadata][input][tcp][source][ip]").as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            get("[@metadata][input][tcp][source][port]").as_deref(),
            Some("4242")
        );
        assert_eq!(
            get("[@metadata][input][tcp][proxy][port]").as_deref(),
            Some("443")
        );
        assert_eq!(
            get("[@metadata][input][tcp][tls][client][subject]").as_deref(),
            Some("CN=c")
        );
        assert!(e.get_top("host").is_none());
    }

    #[test]
    fn option_errors_are_reported_together() {
        let a = args().with("port", Value::from(70000)).with(
            "ssl_extra_chain_certs",
            Value::Array(vec![Value::from("/x")]),
        );
        let err = TcpInput::from_args(&a, &BuildContext::default())
            .err()
            .unwrap();
        let opts: Vec<_> = err.all().iter().filter_map(|e| e.option.clone()).collect();
        assert_eq!(opts, ["port", "ssl_extra_chain_certs"]);
    }

    #[test]
    fn deprecated_names_and_conflicts() {
        let a = args()
            .with("port", Value::from(5000))
            .with("ssl_enable", Value::from(true))
            .with("ssl_enabled", Value::from(true));
        let err = TcpInput::from_args(&a, &BuildContext::default())
            .err()
            .unwrap();
        assert_eq!(err.option.as_deref(), Some("ssl_enable"));
        // ssl_enable alone means ssl_enabled: the certificate is then required.
        let a = args()
            .with("port", Value::from(5000))
            .with("ssl_enable", Value::from(true))
            .with("ssl_verify", Value::from(false));
        let err = TcpInput::from_args(&a, &BuildContext::default())
            .err()
            .unwrap();
        let opts: Vec<_> = err.all().iter().filter_map(|e| e.option.clone()).collect();
        assert!(opts.contains(&"ssl_certificate".to_string()), "{opts:?}");
    }

    #[test]
    fn client_mode_refuses_server_tls_options() {
        let a = args()
            .with("port", Value::from(5000))
            .with("mode", Value::from("client"))
            .with("ssl_enabled", Value::from(true))
            .with("ssl_client_authentication", Value::from("none"));
        let err = TcpInput::from_args(&a, &BuildContext::default())
            .err()
            .unwrap();
        assert_eq!(err.option.as_deref(), Some("ssl_client_authentication"));
    }
}
