use super::*;
use logstash_mesos_core::FieldRef;
use std::sync::atomic::{AtomicU64, Ordering};

fn settings(page: u64, max: u64) -> QueueSettings {
    QueueSettings {
        kind: QueueType::Persisted,
        page_capacity: page,
        max_bytes: max,
        checkpoint_interval: Duration::from_millis(20),
        ..QueueSettings::default()
    }
}

/// Counts source acknowledgements.
#[derive(Default)]
struct Source(AtomicU64, AtomicU64);
impl AckSink for Source {
    fn finished(&self, _t: u64, delivered: bool) {
        if delivered { &self.0 } else { &self.1 }.fetch_add(1, Ordering::SeqCst);
    }
}

fn event(n: u64, src: &Arc<Source>) -> Event {
    let mut e = Event::from_message(format!("line {n}"));
    e.set(
        &FieldRef::top("n"),
        logstash_mesos_core::Value::Integer(n as i64),
    )
    .unwrap();
    e.attach_ack(Ack::new(src.clone(), n));
    e
}

fn n_of(e: &Event) -> u64 {
    match e.get(&FieldRef::top("n")) {
        Some(logstash_mesos_core::Value::Integer(n)) => *n as u64,
        other => panic!("no n: {other:?}"),
    }
}

struct Harness {
    input: mpsc::Sender<Event>,
    out: mpsc::Receiver<Event>,
    queue: RunningQueue,
    shutdown: CancellationToken,
}

fn start(dir: &Path, s: &QueueSettings) -> (Harness, OpenReport) {
    let mut q = PersistedQueue::open(dir, s).unwrap();
    let report = std::mem::take(&mut q.report);
    let (to_workers, out) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let (input, queue) = q.start(to_workers, shutdown.clone(), 64);
    (
        Harness {
            input,
            out,
            queue,
            shutdown,
        },
        report,
    )
}

#[tokio::test]
async fn sources_are_acknowledged_once_written_and_pages_go_once_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(4096, 1 << 20);
    let (mut h, _) = start(dir.path(), &s);
    let src = Arc::new(Source::default());
    for n in 0..500 {
        h.input.send(event(n, &src)).await.unwrap();
    }
    // Written, not yet delivered: the source already knows its events are safe.
    tokio::time::timeout(Duration::from_secs(5), async {
        while src.0.load(Ordering::SeqCst) < 500 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("source acknowledged after the write");
    assert!(
        pages::list(dir.path()).unwrap().len() > 3,
        "small pages roll over"
    );
    let mut got = Vec::new();
    while got.len() < 500 {
        let e = h.out.recv().await.unwrap();
        got.push(n_of(&e));
        drop(e); // delivered
    }
    assert_eq!(got, (0..500).collect::<Vec<_>>());
    drop(h.input);
    h.queue.wait_io().await;
    assert!(h.out.recv().await.is_none());
    assert_eq!(h.queue.pending(), 0);
    h.queue.close().await;
    assert_eq!(
        pages::list(dir.path()).unwrap().len(),
        1,
        "only the head page is left"
    );
    // Reopened: nothing to deliver again.
    let (_h, report) = start(dir.path(), &s);
    assert_eq!(report.pending, 0);
}

#[tokio::test]
async fn inputs_block_while_the_queue_is_full() {
    let dir = tempfile::tempdir().unwrap();
    // Pages of 2 KiB, at most 4 KiB queued.
    let s = settings(2048, 4096);
    let (mut h, _) = start(dir.path(), &s);
    let src = Arc::new(Source::default());
    let input = h.input.clone();
    let feeder = tokio::spawn({
        let src = src.clone();
        async move {
            for n in 0..2000 {
                input.send(event(n, &src)).await.unwrap();
            }
        }
    });
    // Nobody delivers: the writer stops at max_bytes, so the source is acknowledged for
    // far fewer than all events.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = src.0.load(Ordering::SeqCst);
    assert!(written < 400, "queue bounded: {written} written");
    assert!(!feeder.is_finished());
    let bytes: u64 = pages::list(dir.path())
        .unwrap()
        .iter()
        .map(|(_, p)| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(bytes <= 4096 + 2048, "{bytes} bytes on disk");
    // Delivering frees pages and the rest flows.
    let mut got = 0;
    while got < 2000 {
        drop(h.out.recv().await.unwrap());
        got += 1;
    }
    feeder.await.unwrap();
    h.shutdown.cancel();
}

#[tokio::test]
async fn without_drain_a_shutdown_leaves_events_for_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(1 << 20, 1 << 24);
    let src = Arc::new(Source::default());
    {
        let (h, _) = start(dir.path(), &s);
        for n in 0..50 {
            h.input.send(event(n, &src)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        h.shutdown.cancel();
        let Harness {
            input,
            mut out,
            mut queue,
            ..
        } = h;
        drop(input);
        queue.wait_io().await;
        // Whatever the reader had handed over before the shutdown is delivered.
        let mut handed = 0;
        while let Some(e) = out.recv().await {
            handed += 1;
            drop(e);
        }
        queue.close().await;
        let (mut h2, report) = start(dir.path(), &s);
        assert_eq!(report.pending, 50 - handed);
        drop(h2.input);
        let mut again = 0;
        while h2.out.recv().await.is_some() {
            again += 1;
        }
        assert_eq!(again, 50 - handed);
    }
}

#[tokio::test]
async fn a_damaged_page_is_reported_and_the_rest_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(2048, 1 << 20);
    let src = Arc::new(Source::default());
    {
        let (h, _) = start(dir.path(), &s);
        for n in 0..100 {
            h.input.send(event(n, &src)).await.unwrap();
        }
        h.shutdown.cancel();
        let Harness {
            input,
            mut out,
            mut queue,
            ..
        } = h;
        drop(input);
        queue.wait_io().await;
        // Hand-overs are failed (not delivered), so everything stays queued.
        while let Some(e) = out.recv().await {
            e.fail_acks();
        }
        queue.close().await;
    }
    let list = pages::list(dir.path()).unwrap();
    assert!(list.len() >= 3);
    let (first_of_second, second) = &list[1];
    let mut bytes = std::fs::read(second).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(second, &bytes).unwrap();
    let (mut h, report) = start(dir.path(), &s);
    assert_eq!(report.quarantined.len(), 1);
    assert!(report.lost > 0);
    assert!(dir.path().join("quarantine").read_dir().unwrap().count() == 1);
    drop(h.input);
    let mut got = Vec::new();
    while let Some(e) = h.out.recv().await {
        got.push(n_of(&e));
    }
    // Everything outside the damaged part arrives, in order.
    assert_eq!(got.len() as u64 + report.lost, 100);
    assert!(got.contains(&0) && got.contains(&99));
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    assert!(got.iter().any(|&n| n >= *first_of_second));
}

#[test]
fn a_logstash_queue_directory_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checkpoint.head"), b"x").unwrap();
    let err = PersistedQueue::open(dir.path(), &settings(4096, 8192))
        .err()
        .unwrap();
    assert!(err.to_string().contains("Logstash"), "{err}");
}

#[test]
fn max_bytes_below_a_page_is_a_settings_error() {
    let err = settings(8192, 4096).validate().unwrap_err();
    assert!(err.contains("queue.max_bytes"), "{err}");
}
