//! The `kafka` input (logstash-integration-kafka): reads topics (or a topic regex) as a
//! member of a consumer group, with Logstash 8's options and defaults.
//!
//! Logstash's behaviour kept: `consumer_threads` consumers (each its own group member,
//! client id `<client_id>-<n>`), one event per record through the codec (`plain` by
//! default, the record value as `message`), `decorate_events` writing
//! `[@metadata][kafka][topic|consumer_group|partition|offset|key|timestamp]` (`basic`) and
//! `[@metadata][kafka][headers][<name>]` for UTF-8 header values (`extended`).
//!
//! Where we are stricter than Logstash: an offset is committed only after every event
//! decoded from that record and all records before it in the partition were delivered
//! downstream (the acknowledgements of `crates/core/src/ack.rs`), not when the record was
//! polled. With `enable_auto_commit => true` (the default) delivered offsets are *stored*
//! and librdkafka commits them every `auto_commit_interval_ms`; with `false` they are
//! committed as soon as they advance. Either way a crash re-reads, never skips: delivery
//! is at-least-once, and the duplicates after a crash are at most the events delivered
//! since the last commit plus those still in the pipeline. On a rebalance, the consumer
//! losing a partition first lets its in-flight events finish (up to
//! `session_timeout_ms / 2`) and commits them, so a clean hand-over re-delivers nothing.
//!
//! Each event gets a deterministic `[@metadata][_id]` (topic, partition, offset, index in
//! the record) unless it has one, so a replay into Elasticsearch overwrites instead of
//! duplicating, as for the file input.

use crate::input_context::InputContext;
use crate::kafka_config::{common_config, kafka_options, non_negative};
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Codec, Input};
use logstash_mesos_core::{Ack, AckSink, Acks, Event, FieldRef, Value};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub static OPTIONS: &[OptSpec] = kafka_options!(
    OptSpec::new(
        "codec",
        OptKind::Codec,
        "the codec that decodes each record"
    )
    .default("\"plain\""),
    OptSpec::new("topics", OptKind::Array, "topics to subscribe to").default("[\"logstash\"]"),
    OptSpec::new(
        "topics_pattern",
        OptKind::String,
        "a regex of topics to subscribe to (replaces topics)"
    ),
    OptSpec::new("group_id", OptKind::String, "the consumer group").default("\"logstash\""),
    OptSpec::new(
        "group_instance_id",
        OptKind::String,
        "static group membership id (suffixed -<n> per thread)"
    ),
    OptSpec::new(
        "group_protocol",
        OptKind::Enum(&["classic", "consumer"]),
        "the group protocol (consumer: KIP-848)"
    )
    .default("\"classic\""),
    OptSpec::new(
        "auto_offset_reset",
        OptKind::String,
        "where to start without a committed offset: earliest, latest or none"
    ),
    OptSpec::new(
        "enable_auto_commit",
        OptKind::Boolean,
        "commit delivered offsets periodically (false: at once); never past undelivered events"
    )
    .default("true"),
    OptSpec::new(
        "auto_commit_interval_ms",
        OptKind::Number,
        "how often delivered offsets are committed (ms)"
    )
    .default("5000"),
    OptSpec::new(
        "consumer_threads",
        OptKind::Number,
        "consumers (group members) run by this input"
    )
    .default("1"),
    OptSpec::new(
        "decorate_events",
        OptKind::Enum(&["none", "basic", "extended", "false", "true"]),
        "add [@metadata][kafka] record fields (basic) and headers (extended)"
    )
    .default("\"none\""),
    OptSpec::new(
        "poll_timeout_ms",
        OptKind::Number,
        "how long one poll waits for records (ms)"
    )
    .default("100"),
    OptSpec::new(
        "max_poll_records",
        OptKind::Number,
        "the most records handed to the pipeline at once"
    )
    .default("500"),
    OptSpec::new(
        "max_poll_interval_ms",
        OptKind::Number,
        "the longest gap between polls before the consumer leaves the group (ms)"
    )
    .default("300000"),
    OptSpec::new(
        "session_timeout_ms",
        OptKind::Number,
        "the group session timeout (ms)"
    )
    .default("10000"),
    OptSpec::new(
        "heartbeat_interval_ms",
        OptKind::Number,
        "how often heartbeats are sent (ms)"
    )
    .default("3000"),
    OptSpec::new(
        "fetch_max_bytes",
        OptKind::Number,
        "the most data one fetch returns (bytes)"
    )
    .default("52428800"),
    OptSpec::new(
        "fetch_max_wait_ms",
        OptKind::Number,
        "how long the broker may wait to fill fetch_min_bytes (ms)"
    )
    .default("500"),
    OptSpec::new(
        "fetch_min_bytes",
        OptKind::Number,
        "the least data a fetch waits for (bytes)"
    ),
    OptSpec::new(
        "max_partition_fetch_bytes",
        OptKind::Number,
        "the most data per partition per fetch (bytes)"
    )
    .default("1048576"),
    OptSpec::new(
        "isolation_level",
        OptKind::Enum(&["read_uncommitted", "read_committed"]),
        "whether records of open transactions are read"
    )
    .default("\"read_uncommitted\""),
    OptSpec::new(
        "partition_assignment_strategy",
        OptKind::Enum(&["range", "round_robin", "sticky", "cooperative_sticky"]),
        "how partitions are spread over the group (librdkafka: range,roundrobin)"
    ),
    OptSpec::new("check_crcs", OptKind::Boolean, "verify record checksums").default("true"),
    OptSpec::new(
        "client_rack",
        OptKind::String,
        "rack id for fetching from the closest replica"
    ),
    OptSpec::new(
        "auto_create_topics",
        OptKind::Boolean,
        "let the broker create subscribed topics that do not exist"
    )
    .default("true"),
    OptSpec::new(
        "exclude_internal_topics",
        OptKind::String,
        "accepted for compatibility (internal topics never match topics_pattern)"
    ),
    OptSpec::new(
        "key_deserializer_class",
        OptKind::String,
        "StringDeserializer or ByteArrayDeserializer"
    )
    .default("\"org.apache.kafka.common.serialization.StringDeserializer\""),
    OptSpec::new(
        "value_deserializer_class",
        OptKind::String,
        "StringDeserializer or ByteArrayDeserializer"
    )
    .default("\"org.apache.kafka.common.serialization.StringDeserializer\""),
);

const DESERIALIZERS: &[&str] = &[
    "org.apache.kafka.common.serialization.StringDeserializer",
    "org.apache.kafka.common.serialization.ByteArrayDeserializer",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decorate {
    None,
    Basic,
    Extended,
}

struct Settings {
    subscription: Vec<String>,
    group_id: String,
    client_id: String,
    group_instance_id: Option<String>,
    threads: usize,
    decorate: Decorate,
    poll_timeout: Duration,
    max_poll_records: usize,
    /// `enable_auto_commit => false`: commit as soon as delivered offsets advance.
    commit_at_once: bool,
    /// How long a revoked partition's in-flight events may take before it is handed over.
    revoke_wait: Duration,
    config: ClientConfig,
}

pub struct KafkaInput {
    settings: Arc<Settings>,
    codec: Box<dyn Codec>,
}

fn positive(args: &Args, name: &str, default: i64) -> BuildResult<i64> {
    match args.i64(name) {
        None if !args.contains(name) => Ok(default),
        Some(n) if n > 0 => Ok(n),
        _ => Err(BuildError::option(name, "expected a positive number")),
    }
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    let mut config = common_config(args)?;
    let subscription = match args.string("topics_pattern") {
        // librdkafka subscribes by regex when a name starts with ^; Logstash's pattern
        // must match the whole topic name.
        Some(p) => {
            regex::Regex::new(&p)
                .map_err(|e| BuildError::option("topics_pattern", format!("invalid regex: {e}")))?;
            vec![format!("^({p})$")]
        }
        None => {
            let topics: Vec<String> = if args.contains("topics") {
                args.strings("topics")
            } else {
                vec!["logstash".into()]
            };
            if topics.is_empty() || topics.iter().any(|t| t.is_empty()) {
                return Err(BuildError::option(
                    "topics",
                    "expected one or more non-empty topic names",
                ));
            }
            topics
        }
    };
    let group_id = args.string("group_id").unwrap_or_default();
    if group_id.is_empty() {
        return Err(BuildError::option("group_id", "must not be empty"));
    }
    config.set("group.id", &group_id);
    config.set(
        "group.protocol",
        args.string("group_protocol").unwrap_or_default(),
    );
    if let Some(r) = args.string("auto_offset_reset") {
        let v = match r.as_str() {
            "earliest" | "latest" => r.clone(),
            "none" => "error".into(),
            _ => {
                return Err(BuildError::option(
                    "auto_offset_reset",
                    format!("expected earliest, latest or none, got {r:?}"),
                ))
            }
        };
        config.set("auto.offset.reset", v);
    }
    let auto_commit = args.flag("enable_auto_commit");
    // Offsets are stored by us, after delivery; librdkafka's auto commit only commits
    // what was stored.
    config.set("enable.auto.offset.store", "false");
    config.set("enable.auto.commit", auto_commit.to_string());
    config.set(
        "auto.commit.interval.ms",
        positive(args, "auto_commit_interval_ms", 5000)?.to_string(),
    );
    let classic = args.string("group_protocol").unwrap_or_default() == "classic";
    let session_timeout = positive(args, "session_timeout_ms", 10_000)?;
    if classic {
        config.set("session.timeout.ms", session_timeout.to_string());
        config.set(
            "heartbeat.interval.ms",
            positive(args, "heartbeat_interval_ms", 3000)?.to_string(),
        );
    } else if args.contains("session_timeout_ms")
        || args.contains("heartbeat_interval_ms")
        || args.contains("partition_assignment_strategy")
    {
        return Err(BuildError::option(
            "group_protocol",
            "group_protocol cannot be set to 'consumer' when any of partition_assignment_strategy, heartbeat_interval_ms or session_timeout_ms is set",
        ));
    }
    config.set(
        "max.poll.interval.ms",
        positive(args, "max_poll_interval_ms", 300_000)?.to_string(),
    );
    for (opt, key) in [
        ("fetch_max_bytes", "fetch.max.bytes"),
        ("fetch_max_wait_ms", "fetch.wait.max.ms"),
        ("fetch_min_bytes", "fetch.min.bytes"),
        ("max_partition_fetch_bytes", "max.partition.fetch.bytes"),
        ("request_timeout_ms", "socket.timeout.ms"),
    ] {
        if let Some(n) = non_negative(args, opt)? {
            config.set(key, n.to_string());
        }
    }
    config.set(
        "isolation.level",
        args.string("isolation_level").unwrap_or_default(),
    );
    if let Some(s) = args.string("partition_assignment_strategy") {
        let v = match s.as_str() {
            "range" => "range",
            "round_robin" => "roundrobin",
            "cooperative_sticky" => "cooperative-sticky",
            _ => {
                return Err(BuildError::option(
                    "partition_assignment_strategy",
                    "sticky is not available in librdkafka; use cooperative_sticky, range or round_robin",
                ))
            }
        };
        config.set("partition.assignment.strategy", v);
    }
    config.set("check.crcs", args.flag("check_crcs").to_string());
    if let Some(r) = args.string("client_rack") {
        config.set("client.rack", r);
    }
    config.set(
        "allow.auto.create.topics",
        args.flag("auto_create_topics").to_string(),
    );
    for opt in ["key_deserializer_class", "value_deserializer_class"] {
        if let Some(c) = args.string(opt) {
            if !DESERIALIZERS.contains(&c.as_str()) {
                return Err(BuildError::option(
                    opt,
                    format!("only {} are supported", DESERIALIZERS.join(" and ")),
                ));
            }
        }
    }
    let decorate = match args.string("decorate_events").unwrap_or_default().as_str() {
        "basic" | "true" => Decorate::Basic,
        "extended" => Decorate::Extended,
        _ => Decorate::None,
    };
    let threads = positive(args, "consumer_threads", 1)? as usize;
    let settings = Settings {
        subscription,
        group_id,
        client_id: args.string("client_id").unwrap_or_default(),
        group_instance_id: args.string("group_instance_id"),
        threads,
        decorate,
        poll_timeout: Duration::from_millis(positive(args, "poll_timeout_ms", 100)? as u64),
        max_poll_records: positive(args, "max_poll_records", 500)? as usize,
        commit_at_once: !auto_commit,
        revoke_wait: Duration::from_millis(session_timeout as u64 / 2),
        config,
    };
    // Check the whole client configuration now, so a bad value is a config error.
    settings
        .config
        .create::<BaseConsumer>()
        .map_err(|e| BuildError::general(format!("kafka consumer configuration: {e}")))?;
    Ok(Box::new(KafkaInput {
        settings: Arc::new(settings),
        codec: args.codec("codec")?,
    }))
}

impl Input for KafkaInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            let handle = tokio::runtime::Handle::current();
            let mut joins = Vec::new();
            // Blocking consumers on their own threads, as Logstash's consumer threads:
            // rebalance callbacks may then wait for in-flight events without stalling
            // the runtime.
            for n in 0..self.settings.threads {
                let (settings, codec, ctx, handle) = (
                    self.settings.clone(),
                    self.codec.clone_box(),
                    ctx.clone(),
                    handle.clone(),
                );
                joins.push(tokio::task::spawn_blocking(move || {
                    consume(n, &settings, codec, &ctx, &handle)
                }));
            }
            let mut first_err = None;
            for j in joins {
                match j.await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        first_err.get_or_insert(e);
                    }
                    Err(e) => {
                        first_err.get_or_insert(anyhow::anyhow!("kafka consumer thread: {e}"));
                    }
                }
            }
            match first_err {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
    }
}

/// The per-consumer rdkafka context: hands revoked partitions over cleanly.
struct GroupContext {
    tracker: Arc<Tracker>,
    revoke_wait: Duration,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(tpl) = rebalance else {
            return;
        };
        let parts: Vec<(String, i32)> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        if consumer.assignment_lost() {
            // Someone else may own them already: committing could move their offsets back.
            self.tracker.forget(&parts);
            return;
        }
        // Let what is in the pipeline finish, so the next owner starts after it.
        let deadline = Instant::now() + self.revoke_wait;
        while self.tracker.in_flight(Some(&parts)) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Everything delivered, including offsets only stored so far: auto commit may not
        // have run since.
        let delivered = self.tracker.positions(Some(&parts));
        if let Some(tpl) = offsets_list(&delivered) {
            // Stored too: with auto commit, librdkafka commits the stored offsets of
            // revoked partitions after this callback, and an older stored offset would
            // move the commit back.
            let _ = consumer.store_offsets(&tpl);
            if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
                tracing::warn!(error = %e, "kafka: commit of revoked partitions failed; they will be re-read from the last commit");
            }
        }
        let left = self.tracker.in_flight(Some(&parts));
        if left > 0 {
            tracing::info!(
                in_flight = left,
                "kafka: partitions revoked with events still in the pipeline; the next owner re-reads them"
            );
        }
        self.tracker.forget(&parts);
    }
}

fn offsets_list(ready: &[(String, i32, i64)]) -> Option<TopicPartitionList> {
    if ready.is_empty() {
        return None;
    }
    let mut tpl = TopicPartitionList::new();
    for (t, p, o) in ready {
        let _ = tpl.add_partition_offset(t, *p, Offset::Offset(*o));
    }
    Some(tpl)
}

fn consume(
    n: usize,
    settings: &Settings,
    mut codec: Box<dyn Codec>,
    ctx: &InputContext,
    handle: &tokio::runtime::Handle,
) -> anyhow::Result<()> {
    let tracker = Arc::new(Tracker::default());
    let mut config = settings.config.clone();
    config.set("client.id", format!("{}-{n}", settings.client_id));
    if let Some(g) = &settings.group_instance_id {
        let id = if settings.threads > 1 {
            format!("{g}-{n}")
        } else {
            g.clone()
        };
        config.set("group.instance.id", id);
    }
    let consumer: BaseConsumer<GroupContext> = config.create_with_context(GroupContext {
        tracker: tracker.clone(),
        revoke_wait: settings.revoke_wait,
    })?;
    let topics: Vec<&str> = settings.subscription.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    let sink: Arc<dyn AckSink> = tracker.clone();
    let fields = MetaFields::new();
    let mut last_error: Option<(String, Instant)> = None;
    while !ctx.is_shutdown() {
        let mut events = Vec::new();
        let mut timeout = settings.poll_timeout;
        let mut records = 0;
        while records < settings.max_poll_records {
            match consumer.poll(timeout) {
                None => break,
                Some(Err(e)) => {
                    // Broker outages surface here (and are retried by librdkafka): log
                    // each distinct error once a minute, not once per poll.
                    let msg = e.to_string();
                    let repeat = last_error
                        .as_ref()
                        .is_some_and(|(m, at)| *m == msg && at.elapsed() < Duration::from_secs(60));
                    if !repeat {
                        tracing::warn!(group = %settings.group_id, error = %msg, "kafka consumer error");
                        last_error = Some((msg, Instant::now()));
                    }
                    break;
                }
                Some(Ok(m)) => {
                    records += 1;
                    timeout = Duration::ZERO;
                    let token = tracker.register(m.topic(), m.partition(), m.offset());
                    let ack = Ack::new(sink.clone(), token);
                    let start = events.len();
                    codec.decode_acked(m.payload().unwrap_or(&[]), Acks::One(ack), &mut events);
                    for (i, e) in events[start..].iter_mut().enumerate() {
                        decorate(e, &m, i, settings, &fields);
                    }
                }
            }
        }
        // A rebalance inside the polls above may have revoked partitions whose records
        // are in `events`: the next owner reads them from the commit, so drop them here
        // (their acknowledgements then change nothing).
        events.retain(|e| tracker.is_live(e.acks()));
        if !events.is_empty() && emit(ctx, handle, events).is_err() {
            break;
        }
        tracker.mark_emitted();
        flush_offsets(&consumer, &tracker, settings.commit_at_once);
    }
    // Shutdown: the pipeline drains what it holds; commit what it delivers, then leave the
    // group (closing triggers the revoke above, which waits for the rest).
    let deadline = Instant::now() + Duration::from_secs(30);
    while tracker.in_flight(None) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(tpl) = offsets_list(&tracker.positions(None)) {
        if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
            tracing::warn!(error = %e, "kafka: final commit failed; the last events will be read again");
        }
    }
    consumer.unsubscribe();
    Ok(())
}

/// Queues the events; on a closed pipeline the events not queued are failed so their
/// offsets are never committed.
fn emit(
    ctx: &InputContext,
    handle: &tokio::runtime::Handle,
    mut events: Vec<Event>,
) -> Result<(), crate::input_context::Closed> {
    if !ctx.decorator.is_empty() {
        events.iter_mut().for_each(|e| ctx.decorator.apply(e));
    }
    let chunk = (ctx.sender.max_capacity() / 2).max(1);
    let mut it = events.into_iter().peekable();
    while it.peek().is_some() {
        let want = it.len().min(chunk);
        match handle.block_on(ctx.sender.reserve_many(want)) {
            Ok(permits) => {
                for (permit, e) in permits.zip(it.by_ref()) {
                    permit.send(e);
                }
            }
            Err(_) => {
                it.for_each(|e| e.fail_acks());
                return Err(crate::input_context::Closed);
            }
        }
    }
    Ok(())
}

fn flush_offsets(consumer: &BaseConsumer<GroupContext>, tracker: &Tracker, at_once: bool) {
    let ready = tracker.take_ready(None);
    let Some(tpl) = offsets_list(&ready) else {
        return;
    };
    let res = if at_once {
        consumer.commit(&tpl, CommitMode::Async)
    } else {
        consumer.store_offsets(&tpl)
    };
    if let Err(e) = res {
        // A partition revoked meanwhile refuses the store: its next owner re-reads.
        tracing::debug!(error = %e, "kafka: storing offsets failed");
    }
}

struct MetaFields {
    topic: FieldRef,
    group: FieldRef,
    partition: FieldRef,
    offset: FieldRef,
    key: FieldRef,
    timestamp: FieldRef,
}

impl MetaFields {
    fn new() -> Self {
        let f = |k: &str| FieldRef::from_path(["@metadata", "kafka", k]);
        MetaFields {
            topic: f("topic"),
            group: f("consumer_group"),
            partition: f("partition"),
            offset: f("offset"),
            key: f("key"),
            timestamp: f("timestamp"),
        }
    }
}

fn decorate<M: Message>(e: &mut Event, m: &M, index: usize, s: &Settings, f: &MetaFields) {
    if !e.metadata().contains_key("_id") {
        let mut key = Vec::with_capacity(m.topic().len() + 24);
        key.extend_from_slice(b"kafka\0");
        key.extend_from_slice(m.topic().as_bytes());
        key.push(0);
        key.extend_from_slice(&m.partition().to_le_bytes());
        key.extend_from_slice(&m.offset().to_le_bytes());
        key.extend_from_slice(&(index as u64).to_le_bytes());
        let id = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&key));
        e.metadata_mut().insert("_id", Value::String(id));
    }
    if s.decorate == Decorate::None {
        return;
    }
    let _ = e.set(&f.topic, Value::from(m.topic()));
    let _ = e.set(&f.group, Value::from(s.group_id.as_str()));
    let _ = e.set(&f.partition, Value::Integer(i64::from(m.partition())));
    let _ = e.set(&f.offset, Value::Integer(m.offset()));
    let key = match m.key() {
        Some(k) => Value::String(String::from_utf8_lossy(k).into_owned()),
        None => Value::Null,
    };
    let _ = e.set(&f.key, key);
    let ts = m
        .timestamp()
        .to_millis()
        .map_or(Value::Null, Value::Integer);
    let _ = e.set(&f.timestamp, ts);
    if s.decorate == Decorate::Extended {
        if let Some(headers) = m.headers() {
            for h in headers.iter() {
                // Logstash keeps only headers whose value is valid UTF-8.
                if let Some(Ok(v)) = h.value.map(std::str::from_utf8) {
                    let r = FieldRef::from_path(["@metadata", "kafka", "headers", h.key]);
                    let _ = e.set(&r, Value::from(v));
                }
            }
        }
    }
}

/// Delivery state of the records of the partitions one consumer owns; yields, per
/// partition, the offset after the last contiguous delivered record.
#[derive(Default)]
pub(crate) struct Tracker {
    inner: Mutex<TrackerInner>,
}

#[derive(Default)]
struct TrackerInner {
    /// Each assignment of a partition gets a fresh slot, so acknowledgements of events
    /// read before a revoke cannot move the offsets of a later assignment.
    slots: HashMap<u32, PartTrack>,
    by_partition: HashMap<(String, i32), u32>,
    next_slot: u32,
}

struct PartTrack {
    topic: String,
    partition: i32,
    /// Sequence number of `pending[0]`.
    base_seq: u64,
    /// Offsets read and not yet contiguous-delivered, in partition order.
    pending: VecDeque<(i64, Status)>,
    /// `pending[..emitted]` are in the pipeline; the rest are still being polled.
    emitted: usize,
    /// The next offset to commit, not yet taken.
    ready: Option<i64>,
    /// The offset after the last contiguous delivered record (taken or not).
    position: Option<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Delivered,
    Failed,
}

const SEQ_BITS: u32 = 40;

impl Tracker {
    fn lock(&self) -> MutexGuard<'_, TrackerInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a polled record; returns the token for its acknowledgement.
    pub(crate) fn register(&self, topic: &str, partition: i32, offset: i64) -> u64 {
        let mut g = self.lock();
        let inner = &mut *g;
        let slot = match inner.by_partition.get(&(topic.to_string(), partition)) {
            Some(s) => *s,
            None => {
                let s = inner.next_slot;
                inner.next_slot = (inner.next_slot + 1) & 0xff_ffff;
                inner.by_partition.insert((topic.to_string(), partition), s);
                inner.slots.insert(
                    s,
                    PartTrack {
                        topic: topic.to_string(),
                        partition,
                        base_seq: 0,
                        pending: VecDeque::new(),
                        emitted: 0,
                        ready: None,
                        position: None,
                    },
                );
                s
            }
        };
        let Some(t) = inner.slots.get_mut(&slot) else {
            return u64::MAX;
        };
        let seq = t.base_seq + t.pending.len() as u64;
        t.pending.push_back((offset, Status::Pending));
        (u64::from(slot) << SEQ_BITS) | (seq & ((1 << SEQ_BITS) - 1))
    }

    fn finish(&self, token: u64, delivered: bool) {
        let mut g = self.lock();
        let slot = (token >> SEQ_BITS) as u32;
        let seq = token & ((1 << SEQ_BITS) - 1);
        let Some(t) = g.slots.get_mut(&slot) else {
            return;
        };
        let Some(idx) = seq
            .checked_sub(t.base_seq & ((1 << SEQ_BITS) - 1))
            .map(|i| i as usize)
            .filter(|i| *i < t.pending.len())
        else {
            return;
        };
        t.pending[idx].1 = if delivered {
            Status::Delivered
        } else {
            Status::Failed
        };
        // A failed record blocks its partition's offset until the partition is
        // re-assigned or the input restarts, which re-reads it.
        while let Some(&(off, Status::Delivered)) = t.pending.front() {
            t.ready = Some(off + 1);
            t.position = Some(off + 1);
            t.pending.pop_front();
            t.base_seq += 1;
            t.emitted = t.emitted.saturating_sub(1);
        }
    }

    /// Every registered record was handed to the pipeline.
    pub(crate) fn mark_emitted(&self) {
        for t in self.lock().slots.values_mut() {
            t.emitted = t.pending.len();
        }
    }

    /// False when an acknowledgement belongs to a partition revoked since it was read.
    fn is_live(&self, acks: &Acks) -> bool {
        let g = self.lock();
        let live = |a: &Ack| g.slots.contains_key(&((a.token() >> SEQ_BITS) as u32));
        match acks {
            Acks::None => true,
            Acks::One(a) => live(a),
            Acks::Many(v) => v.iter().all(live),
        }
    }

    /// Records whose fate is unknown, in `only` (or all) partitions.
    pub(crate) fn in_flight(&self, only: Option<&[(String, i32)]>) -> usize {
        let g = self.lock();
        g.slots
            .values()
            .filter(|t| {
                only.is_none_or(|o| o.iter().any(|(n, p)| *n == t.topic && *p == t.partition))
            })
            // Only records handed to the pipeline are in flight; the rest are still ours.
            .map(|t| {
                t.pending
                    .iter()
                    .take(t.emitted)
                    .filter(|(_, s)| *s == Status::Pending)
                    .count()
            })
            .sum()
    }

    /// Takes the offsets to commit: (topic, partition, next offset).
    pub(crate) fn take_ready(&self, only: Option<&[(String, i32)]>) -> Vec<(String, i32, i64)> {
        let mut g = self.lock();
        g.slots
            .values_mut()
            .filter(|t| {
                only.is_none_or(|o| o.iter().any(|(n, p)| *n == t.topic && *p == t.partition))
            })
            .filter_map(|t| t.ready.take().map(|o| (t.topic.clone(), t.partition, o)))
            .collect()
    }

    /// The delivered position of each partition in `only` (or all), whether taken by
    /// [`Tracker::take_ready`] already or not: what to commit before a hand-over.
    pub(crate) fn positions(&self, only: Option<&[(String, i32)]>) -> Vec<(String, i32, i64)> {
        let mut g = self.lock();
        g.slots
            .values_mut()
            .filter(|t| {
                only.is_none_or(|o| o.iter().any(|(n, p)| *n == t.topic && *p == t.partition))
            })
            .filter_map(|t| {
                t.ready = None;
                t.position.map(|o| (t.topic.clone(), t.partition, o))
            })
            .collect()
    }

    /// Drops revoked partitions: later acknowledgements of their events change nothing.
    pub(crate) fn forget(&self, parts: &[(String, i32)]) {
        let mut g = self.lock();
        for key in parts {
            if let Some(slot) = g.by_partition.remove(key) {
                g.slots.remove(&slot);
            }
        }
    }
}

impl AckSink for Tracker {
    fn finished(&self, token: u64, delivered: bool) {
        self.finish(token, delivered);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build_err(args: Args) -> BuildError {
        match build(&args, &BuildContext::default()) {
            Err(e) => e,
            Ok(_) => panic!("expected a build error"),
        }
    }

    #[test]
    fn offsets_advance_only_past_contiguous_deliveries() {
        let t = Tracker::default();
        let a = t.register("t", 0, 10);
        let b = t.register("t", 0, 11);
        let c = t.register("t", 0, 13); // offsets may have gaps (compaction, markers)
        let other = t.register("t", 1, 5);
        assert_eq!(t.in_flight(None), 0, "not emitted yet");
        t.mark_emitted();
        assert_eq!(t.in_flight(None), 4);
        t.finish(b, true);
        assert!(t.take_ready(None).is_empty(), "10 is not delivered yet");
        t.finish(a, true);
        assert_eq!(t.take_ready(None), vec![("t".to_string(), 0, 12)]);
        assert!(t.take_ready(None).is_empty(), "taken once");
        t.finish(other, false);
        t.finish(c, true);
        let ready = t.take_ready(None);
        assert_eq!(ready, vec![("t".to_string(), 0, 14)]);
        assert_eq!(t.in_flight(None), 0);
        // Before a hand-over, every delivered position, taken or not.
        let mut pos = t.positions(None);
        pos.sort();
        assert_eq!(pos, vec![("t".to_string(), 0, 14)]);
    }

    #[test]
    fn a_failed_record_blocks_its_partition() {
        let t = Tracker::default();
        let a = t.register("t", 0, 0);
        let b = t.register("t", 0, 1);
        t.finish(a, false);
        t.finish(b, true);
        assert!(t.take_ready(None).is_empty());
    }

    #[test]
    fn forgotten_partitions_ignore_late_acks() {
        let t = Tracker::default();
        let a = t.register("t", 0, 7);
        t.mark_emitted();
        assert_eq!(t.in_flight(Some(&[("t".into(), 0)])), 1);
        assert_eq!(t.in_flight(Some(&[("t".into(), 1)])), 0);
        let sink: Arc<dyn AckSink> = Arc::new(Tracker::default());
        assert!(t.is_live(&Acks::One(Ack::new(sink.clone(), a))));
        t.forget(&[("t".into(), 0)]);
        assert!(!t.is_live(&Acks::One(Ack::new(sink, a))));
        let again = t.register("t", 0, 3); // re-assigned later, re-read from 3
        t.finish(a, true);
        assert!(
            t.take_ready(None).is_empty(),
            "an old ack moved a new assignment"
        );
        t.finish(again, true);
        assert_eq!(t.take_ready(None), vec![("t".to_string(), 0, 4)]);
    }

    #[test]
    fn acks_from_events_report_to_the_tracker() {
        let t = Arc::new(Tracker::default());
        let sink: Arc<dyn AckSink> = t.clone();
        let mut e = Event::from_message("x");
        e.attach_ack(Ack::new(sink, t.register("t", 2, 40)));
        let copy = e.clone();
        drop(e);
        assert!(t.take_ready(None).is_empty(), "a clone is still in flight");
        drop(copy);
        assert_eq!(t.take_ready(None), vec![("t".to_string(), 2, 41)]);
    }

    #[test]
    fn bad_options_are_config_errors() {
        let e = build_err(
            Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
                .with("topics", Value::Array(vec![])),
        );
        assert_eq!(e.option.as_deref(), Some("topics"));
        let e = build_err(
            Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
                .with("topics_pattern", Value::from("(")),
        );
        assert_eq!(e.option.as_deref(), Some("topics_pattern"));
        let e = build_err(
            Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
                .with("auto_offset_reset", Value::from("smallest")),
        );
        assert_eq!(e.option.as_deref(), Some("auto_offset_reset"));
        let e = build_err(
            Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
                .with("consumer_threads", Value::from(0)),
        );
        assert_eq!(e.option.as_deref(), Some("consumer_threads"));
        let e = build_err(
            Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
                .with("value_deserializer_class", Value::from("io.confluent.Avro")),
        );
        assert_eq!(e.option.as_deref(), Some("value_deserializer_class"));
        let e = build_err(
            Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
                .with("group_protocol", Value::from("consumer"))
                .with("session_timeout_ms", Value::from(5000)),
        );
        assert_eq!(e.option.as_deref(), Some("group_protocol"));
        let e = build_err(
            Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
                .with("partition_assignment_strategy", Value::from("sticky")),
        );
        assert_eq!(e.option.as_deref(), Some("partition_assignment_strategy"));
    }

    #[test]
    fn defaults_follow_logstash() {
        let input = build(
            &Args::for_plugin(crate::registry::Kind::Input, OPTIONS),
            &BuildContext::default(),
        );
        assert!(input.is_ok());
        let mut c =
            common_config(&Args::for_plugin(crate::registry::Kind::Input, OPTIONS)).unwrap();
        c.set("group.id", "logstash");
        assert_eq!(c.get("bootstrap.servers"), Some("localhost:9092"));
        assert_eq!(c.get("client.id"), Some("logstash"));
    }
}
