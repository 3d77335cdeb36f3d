//! `gelf`: Graylog Extended Log Format messages over UDP (chunked, zlib, gzip or plain)
//! and, with `use_tcp`, TCP (null-byte delimited JSON), as Logstash's
//! `logstash-input-gelf` 3.3 reads them:
//! - the JSON object becomes the event; `source_host` is the sender's address; a numeric
//!   `timestamp` becomes `@timestamp` (and is removed);
//! - `remap` (default true): `full_message` (else `short_message`) becomes `message`;
//! - `strip_leading_underscore` (default true): GELF's additional fields `_foo` become
//!   `foo` (a `_@timestamp` is coerced to a timestamp; a failed move is tagged
//!   `_gelf_move_field_failure`);
//! - bytes that are not JSON become an event whose `message` is the text (quoted, as Ruby's
//!   `inspect` prints it), tagged `_jsonparsefailure`; bytes that are not GELF at all (a
//!   bad chunk, a failed decompression) are counted and logged, never a crash.
//!
//! GELF has no acknowledgement: use `queue.type: persisted` so what arrived survives a
//! restart. Docker's `gelf` log driver and the Graylog client libraries are senders.

pub mod decode;

use crate::input_context::InputContext;
use crate::net::listener::{self, NetStats, TcpServer};
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Input};
use logstash_mesos_core::{Event, FieldRef, Timestamp, Value};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::AsyncReadExt;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("host", OptKind::String, "the address to listen on").default("\"0.0.0.0\""),
    OptSpec::new("port", OptKind::Number, "the port for both protocols").default("12201"),
    OptSpec::new("port_tcp", OptKind::Number, "the TCP port (default: port)"),
    OptSpec::new("port_udp", OptKind::Number, "the UDP port (default: port)"),
    OptSpec::new("use_udp", OptKind::Boolean, "listen on UDP").default("true"),
    OptSpec::new("use_tcp", OptKind::Boolean, "listen on TCP").default("false"),
    OptSpec::new(
        "remap",
        OptKind::Boolean,
        "full_message or short_message becomes message",
    )
    .default("true"),
    OptSpec::new(
        "strip_leading_underscore",
        OptKind::Boolean,
        "additional fields lose their leading underscore",
    )
    .default("true"),
];

#[derive(Clone, Copy)]
struct Shape {
    remap: bool,
    strip: bool,
}

pub struct GelfInput {
    host: String,
    tcp: Option<u16>,
    udp: Option<u16>,
    shape: Shape,
    stats: Arc<NetStats>,
}

fn port(args: &Args, name: &str, fallback: i64, errors: &mut Vec<BuildError>) -> u16 {
    let p = args.i64(name).unwrap_or(fallback);
    u16::try_from(p).unwrap_or_else(|_| {
        errors.push(BuildError::option(name, format!("{p} is not a port")));
        0
    })
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    let mut errors = Vec::new();
    let base = args.i64("port").unwrap_or(12201);
    let tcp = port(args, "port_tcp", base, &mut errors);
    let udp = port(args, "port_udp", base, &mut errors);
    let (use_tcp, use_udp) = (args.flag("use_tcp"), args.flag("use_udp"));
    if !use_tcp && !use_udp {
        errors.push(BuildError::option(
            "use_udp",
            "use_udp and use_tcp are both false: nothing to listen on",
        ));
    }
    if !errors.is_empty() {
        return Err(BuildError::many(errors));
    }
    Ok(Box::new(GelfInput {
        host: args.string("host").unwrap_or_else(|| "0.0.0.0".into()),
        tcp: use_tcp.then_some(tcp),
        udp: use_udp.then_some(udp),
        shape: Shape {
            remap: args.flag("remap"),
            strip: args.flag("strip_leading_underscore"),
        },
        stats: Arc::new(NetStats::default()),
    }))
}

/// Logstash's `coerce_timestamp`: seconds, with a fraction, since the epoch.
fn seconds_to_timestamp(secs: f64) -> Option<Timestamp> {
    if !secs.is_finite() {
        return None;
    }
    // Microseconds, as the Ruby plugin's rational conversion keeps them.
    let micros = (secs * 1e6).round();
    Timestamp::from_unix_nanos(micros as i128 * 1000)
}

fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn non_empty_string(e: &Event, k: &str) -> Option<Value> {
    match e.get_top(k) {
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::Null) | None => None,
        Some(v) => Some(v.clone()),
    }
}

/// One GELF document (JSON text) from `source_host` into an event. Pure, for the fuzz
/// target and the tests.
pub fn to_event(json: &[u8], source_host: &str, remap: bool, strip: bool) -> Event {
    let mut e = match serde_json::from_slice::<Value>(json) {
        Ok(Value::Object(m)) => Event::from_map(*m),
        _ => {
            let text = String::from_utf8_lossy(json);
            let mut e = Event::from_message(format!("{text:?}"));
            e.add_tag("_jsonparsefailure");
            e
        }
    };
    let _ = e.set(&FieldRef::top("source_host"), Value::from(source_host));
    if let Some(ts) = e.get_top("timestamp").and_then(|v| match v {
        Value::Integer(_) | Value::Float(_) => numeric(v),
        _ => None,
    }) {
        if let Some(t) = seconds_to_timestamp(ts) {
            e.set_timestamp(t);
            e.remove(&FieldRef::top("timestamp"));
        }
    }
    if remap {
        if let Some(full) = non_empty_string(&e, "full_message") {
            e.remove(&FieldRef::top("full_message"));
            if e.get_top("short_message") == Some(&full) {
                e.remove(&FieldRef::top("short_message"));
            }
            let _ = e.set(&FieldRef::top("message"), full);
        } else if let Some(short) = non_empty_string(&e, "short_message") {
            e.remove(&FieldRef::top("short_message"));
            let _ = e.set(&FieldRef::top("message"), short);
        }
    }
    if strip {
        let keys: Vec<String> = e
            .fields()
            .keys()
            .filter(|k| k.starts_with('_') && k.len() > 1)
            .map(|k| k.to_string())
            .collect();
        for k in keys {
            let dest = &k[1..];
            let Some(v) = e.remove(&FieldRef::top(&k)) else {
                continue;
            };
            if dest == "@timestamp" {
                match numeric(&v).and_then(seconds_to_timestamp) {
                    Some(t) => e.set_timestamp(t),
                    None => {
                        let _ = e.set(&FieldRef::top(&k), v);
                        e.add_tag("_gelf_move_field_failure");
                    }
                }
            } else if e.set(&FieldRef::top(dest), v).is_err() {
                e.add_tag("_gelf_move_field_failure");
            }
        }
    }
    e
}

impl GelfInput {
    async fn run_udp(&self, ctx: &InputContext, port: u16) -> anyhow::Result<()> {
        let socket = listener::bind_udp("gelf", &self.host, port, None)?;
        self.stats.set_listening();
        tracing::info!(address = %format!("{}:{port}", self.host), "gelf listener (udp) started");
        let (reader, queue) = listener::spawn_udp_reader(
            "gelf",
            socket,
            65536,
            2000,
            false,
            self.stats.clone(),
            ctx.shutdown.clone(),
        );
        let mut reassembler = decode::Reassembler::default();
        let mut batch = Vec::new();
        let mut events = Vec::new();
        let senders = ctx.build.node.senders.clone();
        while queue.next_batch(256, &mut batch).await {
            let now = Instant::now();
            for d in batch.drain(..) {
                match reassembler.push(&d.data, now) {
                    Ok(Some(doc)) => {
                        let ip = d.from.ip().to_canonical();
                        let mut e =
                            to_event(&doc, &ip.to_string(), self.shape.remap, self.shape.strip);
                        senders.annotate(&mut e, ip);
                        events.push(e);
                    }
                    Ok(None) => {}
                    Err(why) => {
                        if self.stats.reject() {
                            tracing::warn!(client = %d.from, error = %why, rejected = self.stats.rejected(), "gelf: datagram refused");
                        }
                    }
                }
            }
            if !events.is_empty() && ctx.emit_batch(std::mem::take(&mut events)).await.is_err() {
                break;
            }
        }
        reader.abort();
        Ok(())
    }

    async fn run_tcp(&self, ctx: &InputContext, port: u16) -> anyhow::Result<()> {
        let l = listener::bind_tcp("gelf", &self.host, port).await?;
        self.stats.set_listening();
        tracing::info!(address = %format!("{}:{port}", self.host), "gelf listener (tcp) started");
        let server = Arc::new(TcpServer {
            plugin: "gelf",
            tls: None,
            keep_alive: false,
            proxy_protocol: false,
            reverse_dns: false,
            stats: self.stats.clone(),
        });
        let shape = self.shape;
        let ctx2 = ctx.clone();
        let stats = self.stats.clone();
        server
            .serve(l, ctx.shutdown.clone(), move |mut conn| {
                let ctx = ctx2.clone();
                let stats = stats.clone();
                async move {
                    let ip: std::net::IpAddr = conn.peer.ip.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
                    let mut pending = std::mem::take(&mut conn.initial);
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let mut events = Vec::new();
                        while let Some(end) = memchr::memchr(0, &pending) {
                            let frame: Vec<u8> = pending.drain(..=end).take(end).collect();
                            if frame.iter().all(u8::is_ascii_whitespace) {
                                continue;
                            }
                            stats.messages.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let mut e = to_event(&frame, &conn.peer.ip, shape.remap, shape.strip);
                            ctx.build.node.senders.annotate(&mut e, ip);
                            events.push(e);
                        }
                        if !events.is_empty() && ctx.emit_batch(events).await.is_err() {
                            return;
                        }
                        if pending.len() > decode::MAX_MESSAGE {
                            if stats.reject() {
                                tracing::warn!(client = %conn.peer.ip, "gelf: frame without a null byte within {} bytes; connection closed", decode::MAX_MESSAGE);
                            }
                            return;
                        }
                        let n = tokio::select! {
                            r = conn.reader.read(&mut buf) => match r { Ok(n) => n, Err(_) => 0 },
                            _ = ctx.shutdown.cancelled() => 0,
                        };
                        if n == 0 {
                            // A last frame without its null byte is still a message.
                            if !pending.iter().all(u8::is_ascii_whitespace) {
                                let e = to_event(&pending, &conn.peer.ip, shape.remap, shape.strip);
                                let _ = ctx.emit(e).await;
                            }
                            return;
                        }
                        pending.extend_from_slice(&buf[..n]);
                    }
                }
            })
            .await;
        Ok(())
    }
}

impl Input for GelfInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            let this = Arc::new(*self);
            let mut tasks = tokio::task::JoinSet::new();
            if let Some(p) = this.udp {
                let (t, c) = (this.clone(), ctx.clone());
                tasks.spawn(async move { t.run_udp(&c, p).await });
            }
            if let Some(p) = this.tcp {
                let (t, c) = (this.clone(), ctx.clone());
                tasks.spawn(async move { t.run_tcp(&c, p).await });
            }
            let mut result = Ok(());
            while let Some(r) = tasks.join_next().await {
                match r {
                    Ok(Err(e)) => {
                        // A listener that cannot bind stops the input (and the others).
                        ctx.shutdown.cancel();
                        result = Err(e);
                    }
                    Err(e) => result = Err(anyhow::anyhow!("gelf listener failed: {e}")),
                    Ok(Ok(())) => {}
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(e: &Event, k: &str) -> Option<Value> {
        e.get(&FieldRef::parse(k).unwrap()).cloned()
    }

    #[test]
    fn a_gelf_document_becomes_the_logstash_event() {
        let e = to_event(
            br#"{"version":"1.1","host":"web-1","short_message":"short","full_message":"full\ntrace","timestamp":1385053862.3072,"level":1,"_user_id":9001,"_some_info":"foo"}"#,
            "10.0.0.5",
            true,
            true,
        );
        assert_eq!(get(&e, "message"), Some(Value::from("full\ntrace")));
        assert_eq!(get(&e, "short_message"), Some(Value::from("short")));
        assert_eq!(get(&e, "full_message"), None);
        assert_eq!(get(&e, "source_host"), Some(Value::from("10.0.0.5")));
        assert_eq!(get(&e, "host"), Some(Value::from("web-1")));
        assert_eq!(get(&e, "user_id"), Some(Value::Integer(9001)));
        assert_eq!(get(&e, "some_info"), Some(Value::from("foo")));
        assert_eq!(get(&e, "_user_id"), None);
        assert_eq!(get(&e, "timestamp"), None);
        assert_eq!(
            e.timestamp().unwrap().to_string(),
            "2013-11-21T17:11:02.307200Z",
            "microseconds kept, as coerce_timestamp does"
        );
    }

    #[test]
    fn short_message_only_and_options_off() {
        let doc = br#"{"short_message":"hi","_x":1}"#;
        let e = to_event(doc, "h", true, true);
        assert_eq!(get(&e, "message"), Some(Value::from("hi")));
        assert_eq!(get(&e, "short_message"), None);
        let e = to_event(doc, "h", false, false);
        assert_eq!(get(&e, "message"), None);
        assert_eq!(get(&e, "short_message"), Some(Value::from("hi")));
        assert_eq!(get(&e, "_x"), Some(Value::Integer(1)));
        // Same full and short message: short is dropped.
        let e = to_event(
            br#"{"short_message":"a","full_message":"a"}"#,
            "h",
            true,
            true,
        );
        assert_eq!(
            (get(&e, "message"), get(&e, "short_message")),
            (Some(Value::from("a")), None)
        );
    }

    #[test]
    fn non_json_is_a_tagged_event() {
        let e = to_event(b"{not json", "h", true, true);
        assert!(e.has_tag("_jsonparsefailure"));
        assert_eq!(get(&e, "message"), Some(Value::from("\"{not json\"")));
        let e = to_event(br#"{"_@timestamp":"946702800.1"}"#, "h", true, true);
        assert_eq!(
            e.timestamp().unwrap().to_string(),
            "2000-01-01T05:00:00.100Z"
        );
        let e = to_event(br#"{"timestamp":946702800.123}"#, "h", true, true);
        assert_eq!(
            e.timestamp().unwrap().to_string(),
            "2000-01-01T05:00:00.123Z"
        );
        let e = to_event(br#"{"_@timestamp":"yesterday"}"#, "h", true, true);
        assert!(e.has_tag("_gelf_move_field_failure"));
    }
}
