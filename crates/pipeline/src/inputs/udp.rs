//! `udp`: events from UDP datagrams, as Logstash 8's `logstash-input-udp` (3.x).
//!
//! One reader takes datagrams of up to `buffer_size` bytes off the socket (whose kernel
//! buffer is `receive_buffer_bytes`, when set) into a queue of `queue_size` datagrams;
//! `workers` decoders drain it, each with its own copy of the codec (default `plain`),
//! decoding and flushing it per datagram. A datagram that finds the queue full is dropped,
//! counted and logged (Logstash's reader blocks instead and the kernel drops, uncounted).
//! The sender's address goes to `source_ip_fieldname`, by default `[host][ip]` in ECS
//! mode and `host` without, unless the event already has that field.
//!
//! A datagram longer than `buffer_size` is cut there by the kernel, as in Logstash.

use crate::input_context::InputContext;
use crate::net::listener::{self, Datagram, NetStats};
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Codec, Input};
use logstash_mesos_core::{FieldRef, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("host", OptKind::String, "the address to listen on").default("\"0.0.0.0\""),
    OptSpec::new("port", OptKind::Number, "the port to listen on").required(),
    OptSpec::new(
        "codec",
        OptKind::Codec,
        "the codec each datagram is decoded with",
    )
    .default("\"plain\""),
    OptSpec::new(
        "buffer_size",
        OptKind::Number,
        "the largest datagram read (bytes); longer ones are cut",
    )
    .default("65536"),
    OptSpec::new(
        "receive_buffer_bytes",
        OptKind::Number,
        "the socket's receive buffer (SO_RCVBUF); default: the OS's",
    ),
    OptSpec::new("workers", OptKind::Number, "decoder tasks").default("2"),
    OptSpec::new(
        "queue_size",
        OptKind::Number,
        "datagrams held between the socket and the decoders; more are dropped (counted)",
    )
    .default("2000"),
    OptSpec::new(
        "source_ip_fieldname",
        OptKind::String,
        "the field for the sender's address (default: [host][ip] in ECS mode, host without)",
    )
    .computed("[host][ip] in ECS mode, host otherwise"),
];

pub struct UdpInput {
    host: String,
    port: u16,
    codec: Box<dyn Codec>,
    buffer_size: usize,
    receive_buffer: Option<usize>,
    workers: usize,
    queue_size: usize,
    source_ip: FieldRef,
    stats: Arc<NetStats>,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    UdpInput::from_args(args, ctx).map(|i| Box::new(i) as Box<dyn Input>)
}

/// A positive count option.
fn positive(args: &Args, name: &str, errors: &mut Vec<BuildError>) -> usize {
    match args.i64(name) {
        Some(n) if n >= 1 => n as usize,
        other => {
            errors.push(BuildError::option(
                name,
                format!("must be a positive number, got {other:?}"),
            ));
            1
        }
    }
}

impl UdpInput {
    pub fn from_args(args: &Args, ctx: &BuildContext) -> BuildResult<UdpInput> {
        let mut errors = Vec::new();
        let ecs = match args.ecs(ctx) {
            Ok(e) => e.enabled(),
            Err(e) => {
                errors.push(e);
                false
            }
        };
        let port = super::tcp::port_option(args, "port", &mut errors);
        let buffer_size = positive(args, "buffer_size", &mut errors);
        let workers = positive(args, "workers", &mut errors);
        let queue_size = positive(args, "queue_size", &mut errors);
        let receive_buffer = if args.contains("receive_buffer_bytes") {
            Some(positive(args, "receive_buffer_bytes", &mut errors))
        } else {
            None
        };
        let source_ip = match args.string("source_ip_fieldname") {
            Some(f) => {
                if ecs {
                    tracing::warn!(plugin = "udp", field = %f, "source_ip_fieldname is user customized: check it has an ECS compatible name");
                }
                match FieldRef::parse(&f) {
                    Ok(r) => r,
                    Err(e) => {
                        errors.push(BuildError::option("source_ip_fieldname", e));
                        FieldRef::top("host")
                    }
                }
            }
            None if ecs => FieldRef::from_path(["host", "ip"]),
            None => FieldRef::top("host"),
        };
        let codec = args.codec("codec");
        if let Err(e) = &codec {
            errors.push(e.clone());
        }
        if !errors.is_empty() {
            return Err(BuildError::many(errors));
        }
        Ok(UdpInput {
            host: args.string("host").unwrap_or_else(|| "0.0.0.0".into()),
            port,
            codec: codec?,
            buffer_size,
            receive_buffer,
            workers,
            queue_size,
            source_ip,
            stats: Arc::new(NetStats::default()),
        })
    }

    /// The input's counters: datagrams received (`messages`) and dropped (`dropped`).
    pub fn stats(&self) -> Arc<NetStats> {
        self.stats.clone()
    }
}

/// Decodes one worker's batch of datagrams into events.
fn decode_datagrams(
    codec: &mut dyn Codec,
    batch: &mut Vec<Datagram>,
    source_ip: &FieldRef,
    senders: &crate::net::sender::Senders,
    out: &mut Vec<logstash_mesos_core::Event>,
) {
    for d in batch.drain(..) {
        let start = out.len();
        codec.decode(&d.data, out);
        codec.flush(out);
        let addr = d.from.ip().to_canonical();
        let ip = Value::from(addr.to_string());
        for e in &mut out[start..] {
            if e.get(source_ip).is_none_or(Value::is_null) {
                let _ = e.set(source_ip, ip.clone());
            }
            // On a Mesos node: the task behind the sender's address.
            senders.annotate(e, addr);
        }
    }
}

impl Input for UdpInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            let socket = listener::bind_udp("udp", &self.host, self.port, self.receive_buffer)?;
            self.stats.set_listening();
            tracing::info!(plugin = "udp", address = %socket.local_addr().map(|a| a.to_string()).unwrap_or_default(), queue_size = self.queue_size, workers = self.workers, "udp input listening");
            let (reader, queue) = listener::spawn_udp_reader(
                "udp",
                socket,
                self.buffer_size,
                self.queue_size,
                true,
                self.stats.clone(),
                ctx.shutdown.clone(),
            );
            let mut workers = tokio::task::JoinSet::new();
            for _ in 0..self.workers {
                let queue = queue.clone();
                let mut codec = self.codec.clone_box();
                let ctx = ctx.clone();
                let source_ip = self.source_ip.clone();
                workers.spawn(async move {
                    let mut batch = Vec::new();
                    // Drains what the reader queued, also after shutdown: those datagrams
                    // were already taken off the socket.
                    while queue.next_batch(256, &mut batch).await {
                        let mut events = Vec::with_capacity(batch.len());
                        decode_datagrams(
                            codec.as_mut(),
                            &mut batch,
                            &source_ip,
                            &ctx.build.node.senders,
                            &mut events,
                        );
                        if ctx.emit_batch(events).await.is_err() {
                            break;
                        }
                    }
                });
            }
            let _ = reader.await;
            drop(queue);
            while workers.join_next().await.is_some() {}
            let stats = &self.stats;
            tracing::info!(
                plugin = "udp",
                received = stats.messages.load(Ordering::Relaxed),
                dropped = stats.dropped(),
                "udp input stopped"
            );
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Kind;

    #[test]
    fn decodes_each_datagram_and_sets_the_source_unless_present() {
        let args = Args::for_plugin(Kind::Input, OPTIONS).with("port", Value::from(1));
        let input = UdpInput::from_args(&args, &BuildContext::default()).unwrap();
        assert_eq!(input.source_ip, FieldRef::from_path(["host", "ip"]));
        let mut codec = input.codec.clone_box();
        let from = "127.0.0.1:9".parse().unwrap();
        let mut batch = vec![
            Datagram {
                data: b"one".to_vec(),
                from,
            },
            Datagram {
                data: b"two\nlines".to_vec(),
                from,
            },
        ];
        let mut out = Vec::new();
        decode_datagrams(
            codec.as_mut(),
            &mut batch,
            &input.source_ip,
            &Default::default(),
            &mut out,
        );
        let msgs: Vec<String> = out
            .iter()
            .map(|e| e.get_top("message").unwrap().to_string())
            .collect();
        assert_eq!(msgs, ["one", "two\nlines"]);
        assert_eq!(
            out[0].get(&input.source_ip).unwrap().to_string(),
            "127.0.0.1"
        );

        let legacy = Args::for_plugin(Kind::Input, OPTIONS)
            .with("port", Value::from(1))
            .with("ecs_compatibility", Value::from("disabled"));
        let input = UdpInput::from_args(&legacy, &BuildContext::default()).unwrap();
        assert_eq!(input.source_ip, FieldRef::top("host"));
    }

    #[test]
    fn bad_counts_are_reported_together() {
        let args = Args::for_plugin(Kind::Input, OPTIONS)
            .with("port", Value::from(-1))
            .with("workers", Value::from(0))
            .with("queue_size", Value::from(0));
        let err = UdpInput::from_args(&args, &BuildContext::default())
            .err()
            .unwrap();
        let opts: Vec<_> = err.all().iter().filter_map(|e| e.option.clone()).collect();
        assert_eq!(opts, ["port", "workers", "queue_size"]);
    }
}
