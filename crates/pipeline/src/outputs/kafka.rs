//! The `kafka` output (logstash-integration-kafka): writes each event, encoded by its
//! codec (`plain` by default, as Logstash), to the topic `topic_id` (sprintf), with an
//! optional `message_key` and `message_headers` (sprintf), through librdkafka's producer.
//!
//! Delivery: `send` returns only when Kafka acknowledged every event of the batch as
//! `acks` asks (`"1"`: the leader wrote it, `"all"`: every in-sync replica; `"0"` asks for
//! no acknowledgement, so an event counts as delivered once written to the socket).
//! librdkafka retries each record internally until `message.timeout.ms`; a record that
//! still fails with a retriable error (broker down, leader moving, queue full, timeout) is
//! sent again after `retry_backoff_ms` (doubling, at most 10 s), forever, as Logstash does
//! when `retries` is not set. A record Kafka can never take (larger than
//! `max_request_size`, invalid topic name) goes to the dead letter queue instead of being
//! dropped as Logstash drops it; with `retries => N` a record still failing after N
//! retries goes there too. At shutdown an output still retrying fails the
//! acknowledgements of what it holds, so no input checkpoints past it.
//!
//! With `acks => "all"` the producer is idempotent (as the Java client makes it then): the
//! broker discards the copies librdkafka's internal retries send, even across a broker
//! restart. With `"1"`/`"0"`, or when our own retry re-sends a record after
//! `message.timeout.ms`, a record may be written twice: at-least-once, as with Logstash.

use crate::dlq::{self, DlqWriter, Entry};
use crate::kafka_config::{common_config, kafka_options, non_negative};
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Codec, DlqSettings, HealthEntry, Output};
use logstash_mesos_core::{Event, Template};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub static OPTIONS: &[OptSpec] = kafka_options!(
    OptSpec::new(
        "codec",
        OptKind::Codec,
        "the codec that encodes each event into a record"
    )
    .default("\"plain\""),
    OptSpec::new(
        "topic_id",
        OptKind::String,
        "the topic to write to (sprintf)"
    )
    .required(),
    OptSpec::new(
        "message_key",
        OptKind::String,
        "the record key (sprintf); records with one key go to one partition"
    ),
    OptSpec::new(
        "message_headers",
        OptKind::Hash,
        "record headers: name => value (sprintf)"
    ),
    OptSpec::new(
        "acks",
        OptKind::Enum(&["0", "1", "all"]),
        "acknowledgements the leader must have before a record counts as written"
    )
    .default("1"),
    OptSpec::new(
        "batch_size",
        OptKind::Number,
        "the most bytes batched per partition"
    )
    .default("16384"),
    OptSpec::new(
        "linger_ms",
        OptKind::Number,
        "how long to wait for more records before sending a batch (ms)"
    )
    .default("5"),
    OptSpec::new(
        "buffer_memory",
        OptKind::Number,
        "the most bytes waiting to be sent"
    )
    .default("33554432"),
    OptSpec::new(
        "compression_type",
        OptKind::Enum(&["none", "gzip", "snappy", "lz4", "zstd"]),
        "compression of record batches"
    )
    .default("\"none\""),
    OptSpec::new(
        "max_request_size",
        OptKind::Number,
        "the largest record accepted (bytes)"
    )
    .default("1048576"),
    OptSpec::new(
        "partitioner",
        OptKind::String,
        "default (murmur2 of the key, as the Java client), uniform_sticky or round_robin"
    ),
    OptSpec::new(
        "retries",
        OptKind::Number,
        "retries before a record goes to the dead letter queue (unset: retry forever)"
    ),
    OptSpec::new(
        "metadata_fetch_timeout_ms",
        OptKind::Number,
        "accepted for compatibility"
    )
    .default("60000"),
    OptSpec::new(
        "key_serializer",
        OptKind::String,
        "StringSerializer or ByteArraySerializer"
    )
    .default("\"org.apache.kafka.common.serialization.StringSerializer\""),
    OptSpec::new(
        "value_serializer",
        OptKind::String,
        "StringSerializer or ByteArraySerializer"
    )
    .default("\"org.apache.kafka.common.serialization.StringSerializer\""),
);

const SERIALIZERS: &[&str] = &[
    "org.apache.kafka.common.serialization.StringSerializer",
    "org.apache.kafka.common.serialization.ByteArraySerializer",
];

/// Counters, for tests and the agent's status.
#[derive(Debug, Default)]
pub struct Stats {
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub dropped: AtomicU64,
}

pub struct KafkaOutput {
    id: String,
    producer: FutureProducer,
    topic: Template,
    key: Option<Template>,
    headers: Vec<(String, Template)>,
    codec: Mutex<Box<dyn Codec>>,
    retries: Option<u64>,
    retry_backoff: Duration,
    shutdown: CancellationToken,
    up: Arc<AtomicBool>,
    dlq_dir: PathBuf,
    dlq_settings: DlqSettings,
    dlq: OnceLock<Arc<DlqWriter>>,
    pub stats: Stats,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Output>> {
    Ok(Box::new(build_output(args, ctx)?))
}

/// Builds the output with its concrete type (tests and benches read its stats).
pub fn build_output(args: &Args, ctx: &BuildContext) -> BuildResult<KafkaOutput> {
    let topic = args
        .string("topic_id")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| BuildError::option("topic_id", "is required"))?;
    let mut config = common_config(args)?;
    let acks = args.string("acks").unwrap_or_default();
    config.set("acks", &acks);
    // As the Java client (3.x+) does when acks is "all": the broker drops the copies its
    // own retries would write, so a broker failover duplicates nothing.
    if acks == "all" {
        config.set("enable.idempotence", "true");
    }
    config.set(
        "compression.type",
        args.string("compression_type").unwrap_or_default(),
    );
    for (opt, key) in [
        ("batch_size", "batch.size"),
        ("linger_ms", "linger.ms"),
        ("max_request_size", "message.max.bytes"),
        ("request_timeout_ms", "request.timeout.ms"),
    ] {
        if let Some(n) = non_negative(args, opt)? {
            config.set(key, n.to_string());
        }
    }
    if let Some(n) = non_negative(args, "buffer_memory")? {
        config.set("queue.buffering.max.kbytes", (n / 1024).max(1).to_string());
    }
    // The Java client's default partitioner hashes keys with murmur2; librdkafka's
    // murmur2_random does the same (random partition for keyless records), so a key lands
    // on the partition Logstash would have chosen.
    let partitioner = match args.string("partitioner").as_deref() {
        None | Some("default") | Some("uniform_sticky") => "murmur2_random",
        Some("round_robin") => "random",
        Some(other) => {
            return Err(BuildError::option(
                "partitioner",
                format!("{other:?} is not supported; use default, uniform_sticky or round_robin"),
            ))
        }
    };
    config.set("partitioner", partitioner);
    let retries = match args.i64("retries") {
        None if !args.contains("retries") => None,
        Some(n) if n >= 0 => {
            config.set("message.send.max.retries", n.to_string());
            Some(n as u64)
        }
        _ => {
            return Err(BuildError::option(
                "retries",
                "a negative retry count is not valid; must be >= 0",
            ))
        }
    };
    for opt in ["key_serializer", "value_serializer"] {
        if let Some(c) = args.string(opt) {
            if !SERIALIZERS.contains(&c.as_str()) {
                return Err(BuildError::option(
                    opt,
                    format!("only {} are supported", SERIALIZERS.join(" and ")),
                ));
            }
        }
    }
    let headers = args
        .hash("message_headers")
        .into_iter()
        .map(|(k, v)| (k, Template::compile(&v.to_logstash_string())))
        .collect();
    let producer: FutureProducer = config
        .create()
        .map_err(|e| BuildError::general(format!("kafka producer configuration: {e}")))?;
    let id = args.string("id").unwrap_or_else(|| "kafka".into());
    let up = Arc::new(AtomicBool::new(true));
    ctx.health.register(HealthEntry {
        plugin: id.clone(),
        target: args.string("bootstrap_servers").unwrap_or_default(),
        up: up.clone(),
    });
    let retry_ms = non_negative(args, "retry_backoff_ms")?
        .unwrap_or(100)
        .max(1);
    Ok(KafkaOutput {
        id,
        producer,
        topic: Template::compile(&topic),
        key: args.string("message_key").map(|k| Template::compile(&k)),
        headers,
        codec: Mutex::new(args.codec("codec")?),
        retries,
        retry_backoff: Duration::from_millis(retry_ms as u64),
        shutdown: ctx.shutdown.clone(),
        up,
        dlq_dir: dlq::queue_dir(&ctx.path_data, &ctx.pipeline_id),
        dlq_settings: ctx.dead_letter_queue.clone(),
        dlq: OnceLock::new(),
        stats: Stats::default(),
    })
}

/// One event, ready to be produced.
struct Record {
    topic: String,
    key: Option<String>,
    headers: Vec<(String, String)>,
    payload: Vec<u8>,
}

/// What became of one attempt to produce a record.
enum Verdict {
    Delivered,
    Retry(String),
    /// Kafka will never take it.
    Dead(String),
}

/// Errors no retry can fix: the record itself is unacceptable.
fn permanent(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::InvalidTopic
                | RDKafkaErrorCode::MessageBatchTooLarge
        )
    )
}

fn classify(e: &KafkaError) -> Verdict {
    if permanent(e) {
        Verdict::Dead(e.to_string())
    } else {
        Verdict::Retry(e.to_string())
    }
}

impl KafkaOutput {
    fn encode(&self, batch: &[Event]) -> Vec<Record> {
        let mut codec = self.codec.lock().unwrap_or_else(|p| p.into_inner());
        batch
            .iter()
            .map(|e| {
                let mut payload = Vec::new();
                codec.encode(e, &mut payload);
                Record {
                    topic: self.topic.render(e),
                    key: self.key.as_ref().map(|k| k.render(e)),
                    headers: self
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.render(e)))
                        .collect(),
                    payload,
                }
            })
            .collect()
    }

    /// Produces the records at `pending` once; returns each one's verdict.
    async fn attempt(&self, records: &[Record], pending: &[usize]) -> Vec<Verdict> {
        let mut futures = Vec::with_capacity(pending.len());
        for &i in pending {
            let r = &records[i];
            let headers = if r.headers.is_empty() {
                None
            } else {
                let mut h = OwnedHeaders::new_with_capacity(r.headers.len());
                for (k, v) in &r.headers {
                    h = h.insert(Header {
                        key: k,
                        value: Some(v.as_bytes()),
                    });
                }
                Some(h)
            };
            let mut rec: FutureRecord<'_, str, [u8]> =
                FutureRecord::to(&r.topic).payload(&r.payload[..]);
            if let Some(k) = &r.key {
                rec = rec.key(k.as_str());
            }
            if let Some(h) = headers {
                rec = rec.headers(h);
            }
            // A full local queue: wait for earlier records to drain (back-pressure).
            let fut = loop {
                match self.producer.send_result(rec) {
                    Ok(f) => break Ok(f),
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        rec = back;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => break Err(e),
                }
            };
            futures.push(fut);
        }
        let mut out = Vec::with_capacity(futures.len());
        for f in futures {
            out.push(match f {
                Err(e) => classify(&e),
                Ok(f) => match f.await {
                    Ok(Ok(_)) => Verdict::Delivered,
                    Ok(Err((e, _))) => classify(&e),
                    Err(_) => Verdict::Retry("delivery report lost".into()),
                },
            });
        }
        out
    }

    async fn send_batch(&self, batch: Vec<Event>) {
        let records = self.encode(&batch);
        let mut pending: Vec<usize> = (0..records.len()).collect();
        let mut dead: Vec<(usize, String)> = Vec::new();
        let mut wait = self.retry_backoff;
        let mut attempts: u64 = 0;
        while !pending.is_empty() {
            let verdicts = self.attempt(&records, &pending).await;
            let mut still = Vec::new();
            let mut last_reason = String::new();
            for (k, v) in verdicts.into_iter().enumerate() {
                match v {
                    Verdict::Delivered => {
                        self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    Verdict::Dead(reason) => dead.push((pending[k], reason)),
                    Verdict::Retry(reason) => {
                        last_reason = reason;
                        still.push(pending[k]);
                    }
                }
            }
            self.up.store(still.is_empty(), Ordering::Relaxed);
            if still.is_empty() {
                break;
            }
            attempts += 1;
            if self.retries.is_some_and(|r| attempts > r) {
                dead.extend(still.drain(..).map(|i| {
                    (
                        i,
                        format!("gave up after {attempts} attempts: {last_reason}"),
                    )
                }));
                break;
            }
            self.stats
                .retried
                .fetch_add(still.len() as u64, Ordering::Relaxed);
            tracing::warn!(plugin = %self.id, failed = still.len(), reason = %last_reason, retry_in = ?wait, "kafka: records not acknowledged, retrying");
            pending = still;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.shutdown.cancelled() => {
                    // Not delivered: the sources must not checkpoint past these.
                    for &i in &pending {
                        batch[i].fail_acks();
                    }
                    tracing::warn!(plugin = %self.id, undelivered = pending.len(), "kafka: shutdown while retrying; events will be re-read");
                    return;
                }
            }
            wait = (wait * 2).min(Duration::from_secs(10));
        }
        if !dead.is_empty() {
            self.dead_letter(&batch, dead).await;
        }
    }

    /// Writes records Kafka refused for good to the dead letter queue (retrying a failing
    /// disk until shutdown); without a DLQ they are logged and counted as dropped.
    async fn dead_letter(&self, batch: &[Event], dead: Vec<(usize, String)>) {
        if !self.dlq_settings.enable {
            for (i, reason) in &dead {
                tracing::error!(plugin = %self.id, %reason, "kafka: event dropped (dead letter queue disabled)");
                let _ = i;
            }
            self.stats
                .dropped
                .fetch_add(dead.len() as u64, Ordering::Relaxed);
            return;
        }
        let entries: Vec<Entry> = dead
            .iter()
            .map(|(i, reason)| Entry::new(&batch[*i], reason, "kafka", &self.id))
            .collect();
        let mut wait = self.retry_backoff;
        loop {
            let writer = match self.dlq.get() {
                Some(w) => Ok(w.clone()),
                None => DlqWriter::shared(&self.dlq_dir, &self.dlq_settings)
                    .map(|w| self.dlq.get_or_init(|| w).clone()),
            };
            let res = match writer {
                Ok(w) => {
                    let entries = entries.clone();
                    tokio::task::spawn_blocking(move || w.write(&entries))
                        .await
                        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
                }
                Err(e) => Err(e),
            };
            match res {
                Ok(out) => {
                    self.stats
                        .dead_lettered
                        .fetch_add(out.written as u64, Ordering::Relaxed);
                    self.stats
                        .dropped
                        .fetch_add(out.dropped as u64, Ordering::Relaxed);
                    for (_, reason) in &dead {
                        tracing::warn!(plugin = %self.id, %reason, "kafka: event sent to the dead letter queue");
                    }
                    return;
                }
                Err(e) => {
                    tracing::error!(plugin = %self.id, error = %e, "kafka: cannot write to the dead letter queue, retrying");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.shutdown.cancelled() => {
                    for (i, _) in &dead {
                        batch[*i].fail_acks();
                    }
                    return;
                }
            }
            wait = (wait * 2).min(Duration::from_secs(10));
        }
    }
}

impl Output for KafkaOutput {
    fn send<'a>(&'a self, batch: Vec<Event>) -> BoxFuture<'a, ()> {
        Box::pin(self.send_batch(batch))
    }

    fn close<'a>(&'a self) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // Every send already waited for its acknowledgements; this only flushes
            // librdkafka's own bookkeeping.
            let p = self.producer.clone();
            let _ = tokio::task::spawn_blocking(move || p.flush(Duration::from_secs(10))).await;
            if let Some(w) = self.dlq.get() {
                let _ = w.close();
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::{FieldRef, Value};

    fn err(args: Args) -> BuildError {
        match build_output(&args, &BuildContext::default()) {
            Err(e) => e,
            Ok(_) => panic!("expected a build error"),
        }
    }

    #[test]
    fn bad_options_are_config_errors() {
        assert_eq!(
            err(Args::for_plugin(crate::registry::Kind::Output, OPTIONS))
                .option
                .as_deref(),
            Some("topic_id")
        );
        let t = || {
            Args::for_plugin(crate::registry::Kind::Output, OPTIONS)
                .with("topic_id", Value::from("t"))
        };
        assert_eq!(
            err(t().with("retries", Value::from(-1))).option.as_deref(),
            Some("retries")
        );
        assert_eq!(
            err(t().with("partitioner", Value::from("com.acme.P")))
                .option
                .as_deref(),
            Some("partitioner")
        );
        assert_eq!(
            err(t().with("value_serializer", Value::from("io.confluent.Avro")))
                .option
                .as_deref(),
            Some("value_serializer")
        );
        assert_eq!(
            err(t().with("linger_ms", Value::from("soon")))
                .option
                .as_deref(),
            Some("linger_ms")
        );
    }

    #[test]
    fn records_render_topic_key_and_headers_per_event() {
        let mut headers = logstash_mesos_core::Map::default();
        headers.insert("origin", Value::from("%{host}"));
        let args = Args::for_plugin(crate::registry::Kind::Output, OPTIONS)
            .with("topic_id", Value::from("logs-%{app}"))
            .with("message_key", Value::from("%{user}"))
            .with("message_headers", Value::Object(Box::new(headers)));
        let out = build_output(&args, &BuildContext::default()).unwrap();
        let mut e = Event::from_message("hi");
        e.set(&FieldRef::top("app"), Value::from("web")).unwrap();
        e.set(&FieldRef::top("user"), Value::from("ann")).unwrap();
        e.set(&FieldRef::top("host"), Value::from("h1")).unwrap();
        let r = out.encode(&[e]);
        assert_eq!(r[0].topic, "logs-web");
        assert_eq!(r[0].key.as_deref(), Some("ann"));
        assert_eq!(r[0].headers, vec![("origin".to_string(), "h1".to_string())]);
        // plain codec by default: Logstash's "timestamp host message" text.
        let text = String::from_utf8(r[0].payload.clone()).unwrap();
        assert!(text.ends_with(" h1 hi"), "{text}");
    }

    #[test]
    fn record_errors_are_classified() {
        let too_big = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
        assert!(matches!(classify(&too_big), Verdict::Dead(_)));
        let timeout = KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut);
        assert!(matches!(classify(&timeout), Verdict::Retry(_)));
        let down = KafkaError::MessageProduction(RDKafkaErrorCode::AllBrokersDown);
        assert!(matches!(classify(&down), Verdict::Retry(_)));
    }
}
