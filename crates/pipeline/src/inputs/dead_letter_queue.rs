//! `dead_letter_queue` input: replays the events an output dead-lettered, with
//! `[@metadata][dead_letter_queue]` (`entry_time`, `reason`, `plugin_id`, `plugin_type`),
//! so users can fix them in filters and send them again. Follows the queue as it grows.
//! With `commit_offsets`, the position after the last delivered entry is saved (versioned,
//! atomically) and reading resumes there after a restart.

use crate::dlq::{DlqReader, Position};
use crate::input_context::InputContext;
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Input};
use logstash_mesos_core::state_file::{self, StateFileError};
use logstash_mesos_core::{Ack, AckSink, SharedDelivery, Timestamp};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Every option of the `dead_letter_queue` input.
pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "path",
        OptKind::Path,
        "the dead letter queue root (<path.data>/dead_letter_queue)",
    )
    .required(),
    OptSpec::new(
        "pipeline_id",
        OptKind::String,
        "the pipeline whose queue is read",
    )
    .default("main"),
    OptSpec::new(
        "commit_offsets",
        OptKind::Boolean,
        "save the position of delivered entries and resume there",
    )
    .default("true"),
    OptSpec::new(
        "start_timestamp",
        OptKind::String,
        "skip entries written before this ISO-8601 time",
    ),
    OptSpec::new("sincedb_path", OptKind::Path, "where the position is saved")
        .computed("<path.data>/plugins/inputs/dead_letter_queue/<pipeline_id>/<id>.json"),
];

/// How often the queue is polled for new entries once read to the end.
const POLL: Duration = Duration::from_millis(500);

pub struct DeadLetterQueueInput {
    dir: PathBuf,
    commit_offsets: bool,
    start_timestamp: Option<Timestamp>,
    sincedb: Option<PathBuf>,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    let root = args
        .string("path")
        .ok_or_else(|| BuildError::option("path", "required: the dead letter queue directory"))?;
    let pipeline_id = args.string("pipeline_id").unwrap_or_default();
    let start_timestamp = match args.string("start_timestamp") {
        None => None,
        Some(s) => Some(Timestamp::parse_iso8601(&s).ok_or_else(|| {
            BuildError::option(
                "start_timestamp",
                format!("expected an ISO-8601 time such as 2024-01-31T12:00:00Z, got {s:?}"),
            )
        })?),
    };
    Ok(Box::new(DeadLetterQueueInput {
        dir: Path::new(&root).join(&pipeline_id),
        commit_offsets: args.flag("commit_offsets"),
        start_timestamp,
        sincedb: args.string("sincedb_path").map(PathBuf::from),
    }))
}

/// The saved position.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(tag = "version")]
enum Checkpoint {
    #[serde(rename = "1")]
    V1 { segment: u64, offset: u64 },
}

fn load_checkpoint(path: &Path) -> Position {
    match state_file::load::<Checkpoint>(path, 1) {
        Ok(Some(Checkpoint::V1 { segment, offset })) => Position { segment, offset },
        Ok(None) => Position::default(),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable dead letter queue checkpoint, reading from the start");
            Position::default()
        }
    }
}

fn save_checkpoint(path: &Path, pos: Position) -> Result<(), StateFileError> {
    state_file::save(
        path,
        &Checkpoint::V1 {
            segment: pos.segment,
            offset: pos.offset,
        },
    )
}

impl Input for DeadLetterQueueInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            let sincedb = self.sincedb.clone().unwrap_or_else(|| {
                ctx.build
                    .path_data
                    .join("plugins/inputs/dead_letter_queue")
                    .join(&ctx.build.pipeline_id)
                    .join(format!("{}.json", ctx.id))
            });
            let start = if self.commit_offsets {
                load_checkpoint(&sincedb)
            } else {
                Position::default()
            };
            let mut reader = DlqReader::new(&self.dir, start);
            // Acknowledgements: the committed position advances over delivered entries
            // only, and stops for good at a failed one (read again after a restart).
            let acks = SharedDelivery::<Position>::new(None);
            let sink: Arc<dyn AckSink> = acks.clone();
            let mut token = 0u64;
            let mut saved = start;
            let save = |saved: &mut Position| {
                if !self.commit_offsets {
                    return;
                }
                let c = acks.lock().committed().copied();
                if let Some(pos) = c.filter(|p| p != saved) {
                    match save_checkpoint(&sincedb, pos) {
                        Ok(()) => *saved = pos,
                        Err(e) => {
                            tracing::warn!(path = %sincedb.display(), error = %e, "cannot save dead letter queue checkpoint")
                        }
                    }
                }
            };
            loop {
                if ctx.is_shutdown() {
                    break;
                }
                let next = reader.next_entry();
                match next {
                    Ok(Some((entry, pos))) => {
                        if let (Some(min), Some(t)) = (self.start_timestamp, entry.time()) {
                            if t < min {
                                // Skipped entries count as delivered for the checkpoint.
                                let mut t = acks.lock();
                                t.register(token, pos);
                                t.finish(token, true);
                                token += 1;
                                continue;
                            }
                        }
                        let mut event = entry.into_event();
                        acks.lock().register(token, pos);
                        event.attach_ack(Ack::new(sink.clone(), token));
                        token += 1;
                        if ctx.emit(event).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => {
                        save(&mut saved);
                        tokio::select! {
                            _ = tokio::time::sleep(POLL) => {}
                            _ = ctx.shutdown_requested() => break,
                        }
                    }
                    Err(e) => {
                        tracing::error!(dir = %self.dir.display(), error = %e, "cannot read the dead letter queue, retrying");
                        tokio::select! {
                            _ = tokio::time::sleep(POLL * 4) => {}
                            _ = ctx.shutdown_requested() => break,
                        }
                    }
                }
            }
            save(&mut saved);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlq::{self, DlqWriter, Entry};
    use crate::plugin::DlqSettings;
    use logstash_mesos_core::{Event, FieldRef, Value};

    fn write(dir: &Path, msgs: &[&str]) {
        let w = DlqWriter::open(
            &dlq::queue_dir(dir, "main"),
            DlqSettings::default(),
            1 << 20,
        )
        .unwrap();
        let entries: Vec<Entry> = msgs
            .iter()
            .map(|m| {
                Entry::new(
                    &Event::from_message(*m),
                    "status 400",
                    "elasticsearch",
                    "es",
                )
            })
            .collect();
        w.write(&entries).unwrap();
    }

    async fn run_once(data: &Path, expect: usize, deliver: usize) -> Vec<String> {
        let args = Args::for_plugin(crate::registry::Kind::Input, OPTIONS).with(
            "path",
            Value::from(data.join("dead_letter_queue").to_string_lossy().to_string()),
        );
        let input = build(&args, &BuildContext::default()).unwrap();
        let (mut ctx, mut rx) = InputContext::for_test(100);
        ctx.build.path_data = data.to_path_buf();
        let shutdown = ctx.shutdown.clone();
        let task = tokio::spawn(input.run(ctx));
        let mut got = Vec::new();
        for i in 0..expect {
            let e = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                e.get(&FieldRef::parse("[@metadata][dead_letter_queue][reason]").unwrap()),
                Some(&Value::from("status 400"))
            );
            got.push(
                e.get(&FieldRef::top("message"))
                    .unwrap()
                    .to_logstash_string(),
            );
            if i >= deliver {
                e.fail_acks();
            }
            drop(e);
        }
        tokio::time::sleep(POLL * 2).await;
        shutdown.cancel();
        task.await.unwrap().unwrap();
        got
    }

    #[tokio::test]
    async fn replays_and_resumes_after_last_delivered() {
        let data = tempfile::tempdir().unwrap();
        write(data.path(), &["a", "b", "c"]);
        // b is not delivered: the checkpoint stays after a.
        assert_eq!(run_once(data.path(), 3, 1).await, vec!["a", "b", "c"]);
        write(data.path(), &["d"]);
        assert_eq!(run_once(data.path(), 3, 3).await, vec!["b", "c", "d"]);
        // Everything delivered: nothing is replayed.
        write(data.path(), &["e"]);
        assert_eq!(run_once(data.path(), 1, 1).await, vec!["e"]);
    }

    #[test]
    fn bad_start_timestamp_is_a_config_error() {
        let args = Args::for_plugin(crate::registry::Kind::Input, OPTIONS)
            .with("path", Value::from("/x"))
            .with("start_timestamp", Value::from("yesterday"));
        assert_eq!(
            build(&args, &BuildContext::default())
                .err()
                .unwrap()
                .option
                .as_deref(),
            Some("start_timestamp")
        );
    }

    #[test]
    fn corrupt_checkpoint_reads_from_start() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, b"{garbage").unwrap();
        assert_eq!(load_checkpoint(&p), Position::default());
        save_checkpoint(
            &p,
            Position {
                segment: 3,
                offset: 9,
            },
        )
        .unwrap();
        assert_eq!(
            load_checkpoint(&p),
            Position {
                segment: 3,
                offset: 9
            }
        );
    }
}
