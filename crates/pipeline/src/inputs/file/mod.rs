//! The `file` input (logstash-input-file): in tail mode follows files matching globs,
//! survives rename rotation and copytruncate, and checkpoints per file in a sincedb only
//! past delivered lines (at-least-once). In read mode it reads each file whole (its last
//! line needs no delimiter) and completes it (`file_completed_action`: delete, log or both)
//! only once every line of it was delivered, so a deleted file lost nothing.
//!
//! Events carry `message`, `[host][name]`/`[log][file][path]` (ECS) or `host`/`path`
//! (ECS disabled), `[@metadata][path]`, `[@metadata][host]` and a deterministic
//! `[@metadata][_id]` (host + the file's first bytes + offset: content, not inode) so
//! replays overwrite in Elasticsearch instead of duplicating, also when a line is read
//! again from a copytruncate copy (see `identity`).

mod discover;
mod identity;
mod reader;
mod sincedb;
#[cfg(test)]
mod tests;

use crate::input_context::InputContext;
use crate::options::{Args, BuildError, BuildResult, DurationUnit, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Codec, Input};
use discover::Globs;
use reader::{Settings, Watcher};
use sincedb::SinceDb;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("codec", OptKind::Codec, "the codec that decodes each line").default("\"plain\""),
    OptSpec::new(
        "path",
        OptKind::Array,
        "absolute paths or globs of the files to read",
    )
    .required(),
    OptSpec::new(
        "exclude",
        OptKind::Array,
        "glob patterns matched against file names to skip",
    ),
    OptSpec::new(
        "start_position",
        OptKind::Enum(&["beginning", "end"]),
        "where to start reading files seen for the first time",
    )
    .default("end"),
    OptSpec::new(
        "sincedb_path",
        OptKind::String,
        "where read positions are stored (/dev/null: nowhere)",
    ),
    OptSpec::new(
        "sincedb_write_interval",
        OptKind::Duration(DurationUnit::Seconds),
        "how often read positions are written (seconds or \"15 s\")",
    )
    .default("15"),
    OptSpec::new(
        "sincedb_clean_after",
        OptKind::Duration(DurationUnit::Days),
        "forget positions of files inactive this long (days or \"2 weeks\")",
    )
    .default("14"),
    OptSpec::new(
        "stat_interval",
        OptKind::Duration(DurationUnit::Seconds),
        "how often files are checked for new data (seconds or \"500 ms\")",
    )
    .default("1"),
    OptSpec::new(
        "discover_interval",
        OptKind::Number,
        "how many stat_intervals between searches for new files",
    )
    .default("15"),
    OptSpec::new(
        "close_older",
        OptKind::Duration(DurationUnit::Seconds),
        "close files not read for this long (seconds or \"1 hour\")",
    )
    .default("3600"),
    OptSpec::new(
        "ignore_older",
        OptKind::Duration(DurationUnit::Seconds),
        "files last modified longer ago than this are read from their end",
    ),
    OptSpec::new("delimiter", OptKind::String, "the line delimiter").default("\"\n\""),
    OptSpec::new(
        "max_open_files",
        OptKind::Number,
        "the most files open at once",
    )
    .default("4095"),
    OptSpec::new(
        "file_chunk_size",
        OptKind::Number,
        "bytes read from a file at a time",
    )
    .default("32768"),
    OptSpec::new(
        "file_chunk_count",
        OptKind::Number,
        "accepted for compatibility",
    ),
    OptSpec::new(
        "mode",
        OptKind::Enum(&["tail", "read"]),
        "tail (follow files as they grow) or read (read whole files, then complete them)",
    )
    .default("tail"),
    OptSpec::new(
        "file_completed_action",
        OptKind::Enum(&["delete", "log", "log_and_delete"]),
        "read mode: what to do with a file once every line of it was delivered",
    )
    .default("delete"),
    OptSpec::new(
        "file_completed_log_path",
        OptKind::String,
        "read mode: the file completed paths are appended to (log, log_and_delete)",
    ),
    OptSpec::new(
        "exit_after_read",
        OptKind::Boolean,
        "read mode: end the input once every file found is completed",
    )
    .default("false"),
    OptSpec::new(
        "file_sort_by",
        OptKind::Enum(&["last_modified", "path"]),
        "accepted for compatibility (files are read in path order)",
    ),
    OptSpec::new(
        "file_sort_direction",
        OptKind::Enum(&["asc", "desc"]),
        "accepted for compatibility",
    ),
];

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    let paths = args.strings("path");
    if paths.is_empty() {
        return Err(BuildError::option(
            "path",
            "expected at least one absolute path or glob",
        ));
    }
    if let Some(rel) = paths.iter().find(|p| !Path::new(p).is_absolute()) {
        return Err(BuildError::option(
            "path",
            format!("file paths must be absolute, relative path specified: {rel:?}"),
        ));
    }
    for p in &paths {
        glob::Pattern::new(p)
            .map_err(|e| BuildError::option("path", format!("invalid glob {p:?}: {e}")))?;
    }
    let exclude = args
        .strings("exclude")
        .iter()
        .map(|p| {
            glob::Pattern::new(p)
                .map_err(|e| BuildError::option("exclude", format!("invalid pattern {p:?}: {e}")))
        })
        .collect::<BuildResult<Vec<_>>>()?;
    let read = if args.string("mode").as_deref() == Some("read") {
        let action = args.string("file_completed_action").unwrap_or_default();
        let log_path = args.string("file_completed_log_path").map(PathBuf::from);
        if action.starts_with("log") && log_path.is_none() {
            return Err(BuildError::option(
                "file_completed_log_path",
                format!("file_completed_action => {action:?} needs file_completed_log_path"),
            ));
        }
        if let Some(p) = log_path.as_ref().filter(|p| !p.is_absolute()) {
            return Err(BuildError::option(
                "file_completed_log_path",
                format!("must be an absolute path, got {:?}", p.display()),
            ));
        }
        Some(reader::ReadMode {
            delete: action != "log",
            log_path: if action.starts_with("log") {
                log_path
            } else {
                None
            },
            exit_after_read: args.flag("exit_after_read"),
        })
    } else {
        for o in [
            "file_completed_action",
            "file_completed_log_path",
            "exit_after_read",
        ] {
            if args.contains(o) {
                tracing::warn!(
                    "file input: {o} applies to mode => read only; ignored in tail mode"
                );
            }
        }
        None
    };
    let stat_interval = duration(args, "stat_interval")?;
    let discover_every = positive(args, "discover_interval")?;
    let delimiter = args.string("delimiter").unwrap_or_default().into_bytes();
    if delimiter.is_empty() {
        return Err(BuildError::option("delimiter", "must not be empty"));
    }
    let ecs = args.ecs(ctx)?;
    let sincedb_path = match args.string("sincedb_path") {
        Some(p) => PathBuf::from(p),
        None => ctx.path_data.join("plugins/inputs/file").join(format!(
            ".sincedb_{:032x}",
            xxhash_rust::xxh3::xxh3_128(paths.join(",").as_bytes())
        )),
    };
    if sincedb_path.is_dir() {
        return Err(BuildError::option(
            "sincedb_path",
            format!(
                "must point to a file, received a directory: {}",
                sincedb_path.display()
            ),
        ));
    }
    let settings = Settings {
        globs: Globs { paths, exclude },
        start_at_end: args.string("start_position").unwrap_or_default() == "end",
        stat_interval,
        discover_interval: stat_interval * discover_every as u32,
        close_older: Some(duration(args, "close_older")?),
        ignore_older: if args.contains("ignore_older") {
            Some(duration(args, "ignore_older")?)
        } else {
            None
        },
        delimiter,
        max_open_files: positive(args, "max_open_files")? as usize,
        chunk_size: positive(args, "file_chunk_size")? as usize,
        sincedb_write_interval: duration(args, "sincedb_write_interval")?,
        sincedb_clean_after: duration(args, "sincedb_clean_after")?,
        host: crate::inputs::hostname(),
        ecs: ecs.enabled(),
        // Only codecs that make exactly one event per line can say where it started.
        line_offsets: args
            .codec_spec("codec")
            .is_none_or(|c| c.name == "plain" || c.name == "line"),
        read,
    };
    // Plain by default, as Logstash; each line is decoded as one complete record.
    let codec = args.codec("codec")?;
    Ok(Box::new(FileInput {
        settings: Arc::new(settings),
        sincedb_path,
        codec,
    }))
}

fn positive(args: &Args, name: &str) -> BuildResult<u64> {
    match args.i64(name) {
        Some(n) if n > 0 => Ok(n as u64),
        _ => Err(BuildError::option(name, "expected a positive number")),
    }
}

/// A duration option; `compile` parsed it (and applied the schema default).
fn duration(args: &Args, name: &str) -> BuildResult<Duration> {
    args.duration(name)
        .ok_or_else(|| BuildError::option(name, "expected a duration"))
}

/// The built input.
pub struct FileInput {
    settings: Arc<Settings>,
    sincedb_path: PathBuf,
    codec: Box<dyn Codec>,
}

/// Events read per polling round: bounds memory and keeps shutdown prompt.
const MAX_EVENTS_PER_POLL: usize = 4096;

impl Input for FileInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            let FileInput {
                settings,
                sincedb_path,
                codec,
            } = *self;
            let stat_interval = settings.stat_interval;
            let mut watcher = tokio::task::spawn_blocking(move || {
                let db = SinceDb::open(&sincedb_path);
                Watcher::new(settings, codec, db)
            })
            .await?;
            loop {
                let (w, events, more) = tokio::task::spawn_blocking(move || {
                    let mut out = Vec::new();
                    let more = watcher.poll(&mut out, MAX_EVENTS_PER_POLL);
                    (watcher, out, more)
                })
                .await?;
                watcher = w;
                let stop = emit_all(&ctx, events).await;
                if stop || watcher.all_read() {
                    break;
                }
                if !more {
                    tokio::select! {
                        _ = ctx.shutdown.cancelled() => break,
                        _ = tokio::time::sleep(stat_interval) => {}
                    }
                }
            }
            // Let the queue close once every input is done, then give the lines already
            // queued a moment to reach the outputs (the pipeline drains them) so the final
            // positions include them: otherwise they are read and delivered again after a
            // restart. The wait is bounded: an output that cannot deliver (Elasticsearch
            // down) must not hold the checkpoint back, and a replay is safe anyway
            // (at-least-once; the deterministic `_id` makes Elasticsearch overwrite).
            drop(ctx);
            let started = std::time::Instant::now();
            let mut last_save = started;
            while watcher.in_flight() > 0 && started.elapsed() < SHUTDOWN_GRACE {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if last_save.elapsed() >= Duration::from_secs(1) {
                    watcher = tokio::task::spawn_blocking(move || {
                        watcher.checkpoint();
                        watcher
                    })
                    .await?;
                    last_save = std::time::Instant::now();
                }
            }
            tokio::task::spawn_blocking(move || {
                watcher.checkpoint();
                drop(watcher);
            })
            .await?;
            Ok(())
        })
    }
}

/// How long a stopping input waits for its queued lines to be delivered before the final
/// checkpoint.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Queues events with back-pressure. On shutdown (or a closed pipeline) the events not
/// queued are failed so their lines are not checkpointed; returns true to stop.
async fn emit_all(ctx: &InputContext, events: Vec<logstash_mesos_core::Event>) -> bool {
    // Slots are reserved in chunks (one wake-up of the workers per chunk, not per line),
    // and reserved before the events leave `iter`, so a shutdown never drops an event
    // inside a cancelled send (which would report it as delivered).
    let chunk = (ctx.sender.max_capacity() / 2).max(1);
    let mut iter = events.into_iter().peekable();
    while iter.peek().is_some() {
        let want = iter.len().min(chunk);
        let permits = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => None,
            p = ctx.sender.reserve_many(want) => p.ok(),
        };
        let Some(permits) = permits else {
            iter.for_each(|e| e.fail_acks());
            return true;
        };
        for (permit, mut event) in permits.zip(iter.by_ref()) {
            // What `InputContext::emit` does, on a reserved slot.
            if !ctx.decorator.is_empty() {
                ctx.decorator.apply(&mut event);
            }
            permit.send(event);
        }
    }
    ctx.is_shutdown()
}
