//! Test support for the Kafka plugins: a real Apache Kafka 4.x broker (KRaft, one node on
//! loopback) started per test from the jars scripts/setup/kafka.sh installs, with a fresh
//! log dir and free ports, stoppable and restartable on the same ports and data; plus
//! helpers to create topics, count what a topic holds, and run our input and output.
//! Also used by the root-level `tests/kafka_kill.rs` and `benches/kafka.rs` (`#[path]`).
#![allow(dead_code)]

use logstash_mesos_core::{Event, FieldRef, Value};
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::options::Args;
use logstash_mesos_pipeline::plugin::{BuildContext, Output};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One JVM broker at a time: two cores do not run several quickly.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// Serializes broker tests (a failed test must not poison the others).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn env_file_value(key: &str) -> Option<String> {
    let dir = std::env::var("LSM_ENV_DIR")
        .ok()
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var("HOME")
                .ok()
                .map(|h| PathBuf::from(h).join(".cache/logstash-mesos/env"))
        })?;
    let text = std::fs::read_to_string(dir.join("kafka.env")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
}

fn setting(key: &str) -> Option<String> {
    std::env::var(key).ok().or_else(|| env_file_value(key))
}

/// A running single-node KRaft broker; killed when dropped.
pub struct Broker {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
    controller_port: u16,
    libs: String,
    java: String,
    /// Faster JVM start, slower steady state: tests, not benchmarks.
    quick_jit: bool,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on loopback")
}

impl Broker {
    /// Starts a broker. `None` (with a loud notice) when the jars are not installed,
    /// except under CI (`CI=true`), where that fails the test.
    pub fn start() -> Option<Broker> {
        Self::start_with(true)
    }

    pub fn start_for_bench() -> Option<Broker> {
        Self::start_with(false)
    }

    fn start_with(quick_jit: bool) -> Option<Broker> {
        let libs = setting("KAFKA_LIBS");
        let ok = libs
            .as_ref()
            .and_then(|l| std::fs::read_dir(l).ok())
            .is_some_and(|mut d| {
                d.any(|e| {
                    e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("kafka_2.13-"))
                })
            });
        if !ok {
            let msg = "Kafka broker jars not found (KAFKA_LIBS): run scripts/setup/kafka.sh";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg}");
            }
            eprintln!("\n!!!!!!!! SKIPPING kafka integration test: {msg} !!!!!!!!\n");
            return None;
        }
        let mut b = Broker {
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
            controller_port: free_port(),
            libs: libs.unwrap_or_default(),
            java: setting("KAFKA_JAVA").unwrap_or_else(|| "java".into()),
            quick_jit,
        };
        b.write_config();
        let cp = format!("{}/*", b.libs);
        let status = Command::new(&b.java)
            .args(["-cp", &cp, "kafka.tools.StorageTool", "format", "-t"])
            .arg("q1Sh-9_ISia_zwGINzRvyQ")
            .arg("-c")
            .arg(b.dir.path().join("server.properties"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run the Kafka storage tool");
        assert!(status.success(), "kafka-storage format failed");
        b.launch();
        Some(b)
    }

    fn write_config(&self) {
        let d = self.dir.path();
        let props = format!(
            "process.roles=broker,controller\n\
             node.id=1\n\
             controller.quorum.voters=1@127.0.0.1:{c}\n\
             listeners=PLAINTEXT://127.0.0.1:{p},CONTROLLER://127.0.0.1:{c}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{p}\n\
             controller.listener.names=CONTROLLER\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
             inter.broker.listener.name=PLAINTEXT\n\
             log.dirs={logs}\n\
             num.partitions=1\n\
             offsets.topic.replication.factor=1\n\
             offsets.topic.num.partitions=3\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             group.initial.rebalance.delay.ms=0\n\
             auto.create.topics.enable=true\n\
             log.flush.interval.messages=1000000\n",
            p = self.port,
            c = self.controller_port,
            logs = d.join("data").display(),
        );
        std::fs::write(d.join("server.properties"), props).expect("write server.properties");
    }

    fn launch(&mut self) {
        let cp = format!("{}/*", self.libs);
        let log = std::fs::File::create(self.dir.path().join("broker.log")).expect("broker log");
        let mut cmd = Command::new(&self.java);
        cmd.args(["-Xms256m", "-Xmx768m", "-XX:+UseSerialGC"]);
        if self.quick_jit {
            cmd.arg("-XX:TieredStopAtLevel=1");
        }
        cmd.args(["-cp", &cp, "kafka.Kafka"])
            .arg(self.dir.path().join("server.properties"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        self.child = Some(cmd.spawn().expect("start the Kafka broker"));
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let log = self.dir.path().join("broker.log");
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("Kafka Server started") {
                return;
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("kafka broker exited ({st}):\n{}", tail(&text));
            }
            assert!(
                Instant::now() < deadline,
                "kafka broker did not start:\n{}",
                tail(&text)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the broker (SIGKILL: nothing is flushed on purpose; the page cache keeps
    /// what it wrote, as after a process crash).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the stopped broker again on the same ports and data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("broker.log")).unwrap_or_default()
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Creates a topic with `partitions` partitions and waits until it is usable.
pub async fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let res = admin
        .create_topics(
            [&topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .expect("create topic");
    for r in res {
        r.expect("topic created");
    }
    // Metadata reaches every listener shortly after: wait until all partitions have a leader.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .create()
            .expect("consumer");
        if let Ok(md) = c.fetch_metadata(Some(name), Duration::from_secs(5)) {
            if md.topics().first().is_some_and(|t| {
                t.partitions().len() == partitions as usize
                    && t.partitions().iter().all(|p| p.leader() >= 0)
                    && t.error().is_none()
            }) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "topic {name} not ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads a whole topic from the beginning with a plain assigned consumer (no group) and
/// returns each value, in partition order.
pub fn read_topic(bootstrap: &str, topic: &str) -> Vec<Vec<u8>> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut tpl = TopicPartitionList::new();
    let mut ends: HashMap<i32, i64> = HashMap::new();
    for p in md.topics()[0].partitions() {
        let (_, high) = c
            .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
            .expect("watermarks");
        ends.insert(p.id(), high);
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .expect("partition");
    }
    c.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let total: i64 = ends.values().sum();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pos: HashMap<i32, i64> = HashMap::new();
    while ends
        .iter()
        .any(|(p, h)| pos.get(p).copied().unwrap_or(0) < *h)
    {
        assert!(
            Instant::now() < deadline,
            "read {} of {total} records of {topic}",
            out.len()
        );
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            pos.insert(m.partition(), m.offset() + 1);
            out.push(m.payload().unwrap_or(&[]).to_vec());
        }
    }
    out
}

/// The plugin's schema defaults plus (name, value) pairs.
pub fn args(
    schema: &'static [logstash_mesos_pipeline::options::OptSpec],
    pairs: &[(&str, Value)],
) -> Args {
    pairs.iter().fold(
        Args::for_plugin(logstash_mesos_pipeline::registry::Kind::Input, schema),
        |a, (k, v)| a.with(k, v.clone()),
    )
}

/// Events `from..to` with a numeric `seq` field and the message `event <seq>`.
pub fn events(from: u64, to: u64) -> Vec<Event> {
    (from..to)
        .map(|i| {
            let mut e = Event::from_message(format!("event {i}"));
            e.set(&FieldRef::top("seq"), Value::Integer(i as i64))
                .expect("set seq");
            e
        })
        .collect()
}

/// Produces `events` through our output in batches.
pub async fn produce(out: &dyn Output, from: u64, to: u64, batch: u64) {
    let mut i = from;
    while i < to {
        let end = (i + batch).min(to);
        out.send(events(i, end)).await;
        i = end;
    }
}

/// The `seq` of a JSON value written by the json codec.
pub fn seq_of(payload: &[u8]) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(payload).expect("json payload");
    v["seq"].as_u64().expect("seq field")
}

/// Our input running on the current runtime; events arrive on `rx`.
pub struct RunningInput {
    pub rx: mpsc::Receiver<Event>,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// Cancels the input when this is dropped without `stop` (a failing test): the
    /// consumer's blocking loop then ends, so the test's runtime can shut down and the
    /// failure is reported instead of hanging.
    _cancel_on_drop: tokio_util::sync::DropGuard,
}

pub fn start_input(a: &Args) -> RunningInput {
    let input = match logstash_mesos_pipeline::inputs::kafka::build(a, &BuildContext::default()) {
        Ok(i) => i,
        Err(e) => panic!("kafka input: {e}"),
    };
    let (ctx, rx): (InputContext, _) = InputContext::for_test(1000);
    let shutdown = ctx.shutdown.clone();
    let task = tokio::spawn(input.run(ctx));
    RunningInput {
        rx,
        _cancel_on_drop: shutdown.clone().drop_guard(),
        shutdown,
        task,
    }
}

impl RunningInput {
    /// Receives events until `want` arrived or nothing came for `idle`.
    pub async fn take(&mut self, want: usize, idle: Duration) -> Vec<Event> {
        let mut got = Vec::new();
        while got.len() < want {
            match tokio::time::timeout(idle, self.rx.recv()).await {
                Ok(Some(e)) => got.push(e),
                _ => break,
            }
        }
        got
    }

    /// Stops the input; whatever is still queued is dropped as delivered.
    pub async fn stop(self) {
        let RunningInput {
            mut rx,
            shutdown,
            task,
            ..
        } = self;
        shutdown.cancel();
        // Keep the queue flowing while the consumer drains and commits.
        let drain = async move { while rx.recv().await.is_some() {} };
        let both = async move { tokio::join!(drain, task) };
        let (_, res) = tokio::time::timeout(Duration::from_secs(60), both)
            .await
            .expect("kafka input did not stop within 60 s");
        res.expect("input task").expect("input result");
    }
}

pub fn seq_field(e: &Event) -> u64 {
    match e.get(&FieldRef::top("seq")) {
        Some(Value::Integer(i)) => *i as u64,
        other => panic!("event without seq: {other:?} {}", e.to_json_string()),
    }
}

/// Counts of each seq: (distinct, duplicates).
pub fn tally(seqs: impl IntoIterator<Item = u64>) -> (usize, usize) {
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let mut total = 0;
    for s in seqs {
        *seen.entry(s).or_default() += 1;
        total += 1;
    }
    (seen.len(), total - seen.len())
}

/// Sets the `codec` option to a codec with default settings.
pub fn with_codec(mut a: Args, name: &str) -> Args {
    use logstash_mesos_pipeline::lang::ast::Span;
    use logstash_mesos_pipeline::options::{ArgValue, BuiltCodec, CodecSpec};
    use logstash_mesos_pipeline::registry::{Kind, Registry};
    let entry = Registry::builtin().codec(name).expect("known codec");
    let codec_args = Args::for_plugin(Kind::Codec, entry.options);
    let codec = (entry.build)(&codec_args, &BuildContext::default()).expect("codec");
    a.insert(
        "codec",
        ArgValue::Codec(CodecSpec {
            name: name.to_string(),
            args: Box::new(codec_args),
            built: Some(BuiltCodec(codec)),
        }),
        Span::default(),
    );
    a
}

/// The kafka output, built from `pairs` plus the json codec.
pub fn output(pairs: &[(&str, Value)]) -> logstash_mesos_pipeline::outputs::kafka::KafkaOutput {
    match logstash_mesos_pipeline::outputs::kafka::build_output(
        &with_codec(
            args(logstash_mesos_pipeline::outputs::kafka::OPTIONS, pairs),
            "json",
        ),
        &BuildContext::default(),
    ) {
        Ok(o) => o,
        Err(e) => panic!("kafka output: {e}"),
    }
}
