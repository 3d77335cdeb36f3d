//! `file`: events appended to files whose path is a sprintf template.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BoxFuture, BuildContext, Codec, Output};
use logstash_mesos_core::{Event, Template};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("codec", OptKind::Codec, "the codec that encodes events")
        .default("\"json_lines\""),
    OptSpec::new(
        "path",
        OptKind::String,
        "the file to write; sprintf, e.g. /var/log/%{type}-%{+YYYY-MM-dd}.log",
    )
    .required(),
    OptSpec::new(
        "write_behavior",
        OptKind::Enum(&["append", "overwrite"]),
        "append to or overwrite the file",
    )
    .default("append"),
    OptSpec::new(
        "create_if_deleted",
        OptKind::Boolean,
        "re-create the file when it was deleted",
    )
    .default("true"),
    OptSpec::new(
        "flush_interval",
        OptKind::Number,
        "accepted for compatibility; every batch is flushed",
    )
    .default("2"),
    OptSpec::new(
        "gzip",
        OptKind::Boolean,
        "not supported: rejected when true",
    )
    .default("false"),
    OptSpec::new("dir_mode", OptKind::Number, "accepted for compatibility").default("-1"),
    OptSpec::new("file_mode", OptKind::Number, "accepted for compatibility").default("-1"),
    OptSpec::new(
        "filename_failure",
        OptKind::String,
        "file name used when the path renders outside the static prefix",
    )
    .default("_filepath_failures"),
];

pub struct FileOutput {
    path: Template,
    overwrite: bool,
    state: Mutex<State>,
}

struct State {
    codec: Box<dyn Codec>,
    files: HashMap<PathBuf, File>,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Output>> {
    let path = args
        .string("path")
        .ok_or_else(|| BuildError::option("path", "is required"))?;
    if args.flag("gzip") {
        return Err(BuildError::option("gzip", "gzip output is not supported"));
    }
    Ok(Box::new(FileOutput {
        path: Template::compile(&path),
        overwrite: args.string("write_behavior").as_deref() == Some("overwrite"),
        state: Mutex::new(State {
            codec: args.codec("codec")?,
            files: HashMap::new(),
        }),
    }))
}

impl FileOutput {
    fn write_batch(&self, batch: &[Event]) -> std::io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut per_file: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        match batch.first() {
            // A path without `%{...}` is the same for every event: rendered once.
            Some(first) if self.path.is_constant() => {
                let mut bytes = Vec::new();
                for e in batch {
                    st.codec.encode(e, &mut bytes);
                }
                per_file.push((PathBuf::from(self.path.render(first)), bytes));
            }
            _ => {
                for e in batch {
                    let p = PathBuf::from(self.path.render(e));
                    let idx = match per_file.iter().position(|(q, _)| *q == p) {
                        Some(i) => i,
                        None => {
                            per_file.push((p, Vec::new()));
                            per_file.len() - 1
                        }
                    };
                    st.codec.encode(e, &mut per_file[idx].1);
                }
            }
        }
        for (p, bytes) in per_file {
            // Re-open when the file was deleted or rotated away underneath us.
            if st.files.contains_key(&p) && !p.exists() {
                st.files.remove(&p);
            }
            if !st.files.contains_key(&p) {
                if let Some(dir) = p.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let f = if self.overwrite {
                    OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .open(&p)?
                } else {
                    OpenOptions::new().append(true).create(true).open(&p)?
                };
                st.files.insert(p.clone(), f);
            }
            if let Some(f) = st.files.get_mut(&p) {
                f.write_all(&bytes)?;
                f.flush()?;
            }
        }
        Ok(())
    }
}

impl Output for FileOutput {
    fn send<'a>(&'a self, batch: Vec<Event>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // Retry with backoff: a full disk or a permission problem must not lose events.
            let mut backoff = logstash_mesos_core::Backoff::new(
                std::time::Duration::from_millis(100),
                std::time::Duration::from_secs(30),
            );
            loop {
                match self.write_batch(&batch) {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::error!(error = %e, path = self.path.source(), "file output: write failed, retrying");
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::{FieldRef, Value};

    #[tokio::test]
    async fn writes_to_sprintf_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = format!("{}/out-%{{kind}}.log", dir.path().display());
        let out = build(
            &Args::for_plugin(crate::registry::Kind::Output, OPTIONS)
                .with("path", Value::from(path)),
            &BuildContext::default(),
        )
        .unwrap();
        let mut a = Event::from_message("one");
        a.set(&FieldRef::top("kind"), Value::from("a")).unwrap();
        let mut b = Event::from_message("two");
        b.set(&FieldRef::top("kind"), Value::from("b")).unwrap();
        out.send(vec![a.clone(), b, a]).await;
        let text = std::fs::read_to_string(dir.path().join("out-a.log")).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains("\"message\":\"one\""));
        let text = std::fs::read_to_string(dir.path().join("out-b.log")).unwrap();
        assert_eq!(text.lines().count(), 1);
    }
}
