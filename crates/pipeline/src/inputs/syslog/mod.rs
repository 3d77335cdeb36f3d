//! `syslog`: syslog messages over TCP and UDP on the same `host:port` (default 514), as
//! Logstash 8's `logstash-input-syslog` (3.x), plus proper RFC 5424 parsing.
//!
//! UDP: one message per datagram. TCP: newline-framed or octet-counted (RFC 6587) frames,
//! told apart per frame ([`parse::SyslogFramer`]), so rsyslog's `TCP_Framing =
//! "octet-counted"` and plain `logger --tcp` both work. Each message goes through the
//! codec (default `plain`), gets the sender's address (`[host][ip]` in ECS mode, `host`
//! without; with `proxy_protocol`, the address from the PROXY header) and is parsed by
//! [`parse::SyslogParser::relay`]. A message that does not parse keeps its text in
//! `message` and is tagged `_grokparsefailure_sysloginput`; octet-counted frames that
//! cannot be (a zero or absurd count) are counted and logged.

pub mod parse;

use crate::input_context::InputContext;
use crate::net::listener::{self, Connection, NetStats, TcpServer};
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Codec, Input};
use logstash_mesos_core::{Event, FieldRef, Value};
use parse::{Frame, ParserSettings, SyslogFramer, SyslogParser};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncReadExt;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("host", OptKind::String, "the address to listen on (TCP and UDP)")
        .default("\"0.0.0.0\""),
    OptSpec::new("port", OptKind::Number, "the port to listen on (TCP and UDP)").default("514"),
    OptSpec::new("codec", OptKind::Codec, "the codec each message is decoded with")
        .default("\"plain\""),
    OptSpec::new(
        "syslog_field",
        OptKind::String,
        "the field holding the syslog text after the codec (e.g. with a cef codec)",
    )
    .default("\"message\""),
    OptSpec::new(
        "grok_pattern",
        OptKind::String,
        "a custom pattern for the message (default: <%{POSINT:priority}>%{SYSLOGLINE}, and RFC 5424 parsing)",
    )
    .computed("<%{POSINT:priority}>%{SYSLOGLINE} (ECS: <%{POSINT:[log][syslog][priority]:int}>%{SYSLOGLINE})"),
    OptSpec::new(
        "proxy_protocol",
        OptKind::Boolean,
        "TCP connections start with a PROXY protocol v1 header; others are refused",
    )
    .default("false"),
    OptSpec::new(
        "use_labels",
        OptKind::Boolean,
        "also set the facility and severity names",
    )
    .default("true"),
    OptSpec::new("facility_labels", OptKind::Array, "facility names, indexed by code")
        .default("[\"kernel\", \"user-level\", \"mail\", \"system\", \"security/authorization\", \"syslogd\", \"line printer\", \"network news\", \"UUCP\", \"clock\", \"security/authorization\", \"FTP\", \"NTP\", \"log audit\", \"log alert\", \"clock\", \"local0\", \"local1\", \"local2\", \"local3\", \"local4\", \"local5\", \"local6\", \"local7\"]"),
    OptSpec::new("severity_labels", OptKind::Array, "severity names, indexed by code")
        .default("[\"Emergency\", \"Alert\", \"Critical\", \"Error\", \"Warning\", \"Notice\", \"Informational\", \"Debug\"]"),
    OptSpec::new(
        "timezone",
        OptKind::String,
        "zone of timestamps without an offset (IANA id; default: the system's)",
    ),
    OptSpec::new(
        "locale",
        OptKind::String,
        "language of month names (BCP 47 or POSIX tag; default English)",
    ),
    OptSpec::new(
        "service_type",
        OptKind::String,
        "ECS mode: the [service][type] of events",
    )
    .default("\"system\""),
];

/// Decoder tasks behind the UDP socket.
const UDP_WORKERS: usize = 2;
/// Datagrams held between the UDP socket and the decoders (the reader then waits and the
/// kernel's buffer absorbs bursts, as with Logstash's blocking reader).
const UDP_QUEUE: usize = 4096;

pub struct SyslogInput {
    host: String,
    port: u16,
    codec: Box<dyn Codec>,
    proxy_protocol: bool,
    host_key: FieldRef,
    parser: Arc<SyslogParser>,
    stats: Arc<NetStats>,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    SyslogInput::from_args(args, ctx).map(|i| Box::new(i) as Box<dyn Input>)
}

impl SyslogInput {
    pub fn from_args(args: &Args, ctx: &BuildContext) -> BuildResult<SyslogInput> {
        let mut errors = Vec::new();
        let ecs = match args.ecs(ctx) {
            Ok(e) => e.enabled(),
            Err(e) => {
                errors.push(e);
                false
            }
        };
        let port = super::tcp::port_option(args, "port", &mut errors);
        let settings = ParserSettings {
            ecs,
            syslog_field: args
                .string("syslog_field")
                .unwrap_or_else(|| "message".into()),
            grok_pattern: args.string("grok_pattern"),
            use_labels: args.flag("use_labels"),
            facility_labels: args.strings("facility_labels"),
            severity_labels: args.strings("severity_labels"),
            timezone: args.string("timezone"),
            locale: args.string("locale"),
            service_type: args.string("service_type"),
        };
        let parser = match SyslogParser::new(&settings) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let codec = match args.codec("codec") {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        if !errors.is_empty() {
            return Err(BuildError::many(errors));
        }
        let (Some(parser), Some(codec)) = (parser, codec) else {
            return Err(BuildError::general("syslog: invalid options"));
        };
        Ok(SyslogInput {
            host: args.string("host").unwrap_or_else(|| "0.0.0.0".into()),
            port,
            codec,
            proxy_protocol: args.flag("proxy_protocol"),
            host_key: if ecs {
                FieldRef::from_path(["host", "ip"])
            } else {
                FieldRef::top("host")
            },
            parser: Arc::new(parser),
            stats: Arc::new(NetStats::default()),
        })
    }

    /// The input's counters: messages received, frames rejected, connections.
    pub fn stats(&self) -> Arc<NetStats> {
        self.stats.clone()
    }
}

/// Everything a TCP connection or a UDP worker needs to turn messages into events.
struct Relay {
    parser: Arc<SyslogParser>,
    host_key: FieldRef,
    stats: Arc<NetStats>,
}

impl Relay {
    /// Decodes one message and relays every event the codec made of it.
    fn message(&self, codec: &mut dyn Codec, bytes: &[u8], ip: &str, out: &mut Vec<Event>) {
        self.stats.messages.fetch_add(1, Ordering::Relaxed);
        let start = out.len();
        codec.decode(bytes, out);
        codec.flush(out);
        for e in &mut out[start..] {
            let _ = e.set(&self.host_key, Value::from(ip));
            self.parser.relay(e);
        }
    }

    fn rejected(&self, why: &str, peer: &str) {
        if self.stats.reject() {
            tracing::warn!(plugin = "syslog", client = %peer, rejected = self.stats.rejected(), "{why}");
        }
    }
}

/// Reads one TCP connection: frames, decodes and relays until it ends or shutdown.
async fn tcp_connection(
    conn: Connection,
    mut codec: Box<dyn Codec>,
    relay: &Relay,
    ctx: &InputContext,
) {
    let Connection {
        peer,
        initial,
        mut reader,
    } = conn;
    let who = format!("{}:{}", peer.ip, peer.port);
    tracing::debug!(plugin = "syslog", client = %who, "new connection");
    let mut framer = SyslogFramer::new();
    let mut frames = Vec::new();
    let mut events = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut chunk: Vec<u8> = initial;
    let mut done = false;
    loop {
        if done {
            framer.finish(&mut frames);
        } else {
            framer.push(&chunk, &mut frames);
        }
        for f in frames.drain(..) {
            match f {
                Frame::Message(m) => relay.message(codec.as_mut(), &m, &peer.ip, &mut events),
                Frame::Rejected(why) => relay.rejected(&why, &who),
            }
        }
        // On a Mesos node: the task behind the sender's address.
        if let Ok(ip) = peer.ip.parse::<std::net::IpAddr>() {
            events.iter_mut().for_each(|e| {
                ctx.build.node.senders.annotate(e, ip);
            });
        }
        if !events.is_empty() && ctx.emit_batch(std::mem::take(&mut events)).await.is_err() {
            return;
        }
        if done {
            break;
        }
        let read = tokio::select! {
            r = reader.read(&mut buf) => r,
            _ = ctx.shutdown_requested() => Ok(0),
        };
        chunk.clear();
        match read {
            Ok(0) => done = true,
            Ok(n) => chunk.extend_from_slice(&buf[..n]),
            Err(e) => {
                tracing::info!(plugin = "syslog", client = %who, error = %e, "connection error");
                done = true;
            }
        }
    }
    tracing::debug!(plugin = "syslog", client = %who, "connection closed");
}

/// A UDP datagram is one message; trailing line ends (and NULs some devices send) go.
fn datagram_message(data: &[u8]) -> &[u8] {
    let end = data
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | 0))
        .map_or(0, |i| i + 1);
    &data[..end]
}

/// A codec to clone per connection (a `Box<dyn Codec>` is `Send` but not `Sync`).
struct CodecProto(Mutex<Box<dyn Codec>>);

impl CodecProto {
    fn fresh(&self) -> Option<Box<dyn Codec>> {
        self.0.lock().ok().map(|c| c.clone_box())
    }
}

impl Input for SyslogInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            let tcp = listener::bind_tcp("syslog", &self.host, self.port).await?;
            let udp = listener::bind_udp("syslog", &self.host, self.port, None)?;
            self.stats.set_listening();
            tracing::info!(plugin = "syslog", address = %format!("{}:{}", self.host, self.port), "syslog input listening (tcp and udp)");
            let relay = Arc::new(Relay {
                parser: self.parser.clone(),
                host_key: self.host_key.clone(),
                stats: self.stats.clone(),
            });
            let proto = Arc::new(CodecProto(Mutex::new(self.codec)));

            // UDP: a reader and decoder workers.
            let (reader, queue) = listener::spawn_udp_reader(
                "syslog",
                udp,
                65536,
                UDP_QUEUE,
                false,
                Arc::new(NetStats::default()),
                ctx.shutdown.clone(),
            );
            let mut workers = tokio::task::JoinSet::new();
            for _ in 0..UDP_WORKERS {
                let queue = queue.clone();
                let Some(mut codec) = proto.fresh() else {
                    break;
                };
                let relay = relay.clone();
                let ctx = ctx.clone();
                workers.spawn(async move {
                    let mut batch = Vec::new();
                    while queue.next_batch(256, &mut batch).await {
                        let mut events = Vec::with_capacity(batch.len());
                        for d in batch.drain(..) {
                            let addr = d.from.ip().to_canonical();
                            let ip = addr.to_string();
                            let m = datagram_message(&d.data);
                            if m.is_empty() {
                                continue;
                            }
                            let start = events.len();
                            relay.message(codec.as_mut(), m, &ip, &mut events);
                            for e in &mut events[start..] {
                                ctx.build.node.senders.annotate(e, addr);
                            }
                        }
                        if ctx.emit_batch(events).await.is_err() {
                            break;
                        }
                    }
                });
            }
            drop(queue);

            // TCP: one task per connection.
            let server = Arc::new(TcpServer {
                plugin: "syslog",
                tls: None,
                keep_alive: false,
                proxy_protocol: self.proxy_protocol,
                reverse_dns: false,
                stats: self.stats.clone(),
            });
            let tcp_ctx = ctx.clone();
            server
                .serve(tcp, ctx.shutdown.clone(), move |conn| {
                    let relay = relay.clone();
                    let ctx = tcp_ctx.clone();
                    let codec = proto.fresh();
                    async move {
                        if let Some(codec) = codec {
                            tcp_connection(conn, codec, &relay, &ctx).await;
                        }
                    }
                })
                .await;
            let _ = reader.await;
            while workers.join_next().await.is_some() {}
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Kind;

    #[test]
    fn datagram_line_ends_are_dropped() {
        assert_eq!(datagram_message(b"<13>x\r\n\0"), b"<13>x");
        assert_eq!(datagram_message(b"\n\n"), b"");
        assert_eq!(datagram_message(b"a\nb"), b"a\nb");
    }

    #[test]
    fn builds_with_defaults_and_reports_bad_options() {
        let args = Args::for_plugin(Kind::Input, OPTIONS);
        let input = SyslogInput::from_args(&args, &BuildContext::default()).unwrap();
        assert_eq!(input.port, 514);
        let bad = Args::for_plugin(Kind::Input, OPTIONS)
            .with("port", Value::from(99999))
            .with("grok_pattern", Value::from("%{NOPE}"))
            .with("timezone", Value::from("Mars/Olympus"));
        let err = SyslogInput::from_args(&bad, &BuildContext::default())
            .err()
            .unwrap();
        let opts: Vec<_> = err.all().iter().filter_map(|e| e.option.clone()).collect();
        assert_eq!(opts[0], "port");
        assert!(opts.contains(&"grok_pattern".to_string()), "{opts:?}");
    }
}
