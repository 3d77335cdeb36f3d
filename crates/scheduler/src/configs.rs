//! The pipeline configs the agents run: named Logstash `.conf` texts, from
//! `--config-dir` (re-scanned, so added/changed/removed files take effect) and from
//! the REST API. Every change is validated first; the accepted set has a version
//! that grows by one per change, is persisted, and wakes long-polling agents.
//!
//! Each config belongs to a pipeline (`main` unless `PUT ...?pipeline=ID` or a
//! subdirectory of `--config-dir` names another): agents run the configs of one pipeline
//! concatenated, and each pipeline on its own, as Logstash runs `pipelines.yml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{watch, Mutex};

use crate::driver::Keeper;
use crate::store::{ConfigHistory, ConfigSet, Revision, StoreError, HISTORY_PER_CONFIG};
use logstash_mesos_core::agent_protocol::DEFAULT_PIPELINE;

/// One problem in a config text, 1-based position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Checks a config before it is accepted. The product wires the real Logstash
/// grammar (`logstash_mesos_pipeline::lang`); `BasicValidator` is the fallback.
pub trait ConfigValidator: Send + Sync {
    fn validate(&self, name: &str, text: &str) -> Result<(), Vec<ValidationError>>;

    /// "Try it": runs `lines` (one event each, as `message`) through the config's filters,
    /// here, with no input or output started; the resulting events as JSON. `None` when
    /// this validator cannot run filters.
    fn try_filters(
        &self,
        _text: &str,
        _lines: &[String],
    ) -> Option<Result<Vec<serde_json::Value>, Vec<ValidationError>>> {
        None
    }

    /// The plugin set configs are checked against (their option schemas tell which values
    /// are secrets, masked in API answers); `None` for a structural validator.
    fn plugins(&self) -> Option<&logstash_mesos_pipeline::registry::Registry> {
        None
    }
}

/// Structural checks only: balanced `{}`/`[]`, terminated strings, and top-level
/// sections named `input`, `filter` or `output`.
pub struct BasicValidator;

impl ConfigValidator for BasicValidator {
    fn validate(&self, _name: &str, text: &str) -> Result<(), Vec<ValidationError>> {
        let mut errors = Vec::new();
        let mut stack: Vec<(char, usize, usize)> = Vec::new();
        let (mut line, mut col) = (1usize, 0usize);
        let mut in_str: Option<(char, usize, usize)> = None;
        let mut in_comment = false;
        // The top-level token being read and the one before it (a section name).
        let (mut word, mut last) = (String::new(), String::new());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            col += 1;
            if c == '\n' {
                line += 1;
                col = 0;
                in_comment = false;
            }
            if in_comment {
                continue;
            }
            if let Some((q, _, _)) = in_str {
                if c == '\\' {
                    chars.next();
                    col += 1;
                } else if c == q {
                    in_str = None;
                }
                continue;
            }
            match c {
                '#' => in_comment = true,
                '"' | '\'' => in_str = Some((c, line, col)),
                '{' | '[' => {
                    if c == '{' && stack.is_empty() {
                        let w = if word.is_empty() {
                            last.as_str()
                        } else {
                            word.as_str()
                        };
                        if !matches!(w, "input" | "filter" | "output") {
                            errors.push(ValidationError {
                                line,
                                column: col,
                                message: format!(
                                    "expected a section named input, filter or output, found {w:?}"
                                ),
                            });
                        }
                    }
                    stack.push((c, line, col));
                }
                '}' | ']' => {
                    let open = if c == '}' { '{' } else { '[' };
                    match stack.pop() {
                        Some((o, _, _)) if o == open => {}
                        Some((o, l, cl)) => errors.push(ValidationError {
                            line,
                            column: col,
                            message: format!("{c:?} does not close {o:?} opened at {l}:{cl}"),
                        }),
                        None => errors.push(ValidationError {
                            line,
                            column: col,
                            message: format!("unmatched {c:?}"),
                        }),
                    }
                }
                _ => {}
            }
            if stack.is_empty() && !matches!(c, '{' | '}' | '#') {
                if c.is_whitespace() {
                    if !word.is_empty() {
                        last = std::mem::take(&mut word);
                    }
                } else {
                    word.push(c);
                }
            } else if c != '#' {
                word.clear();
                last.clear();
            }
        }
        if let Some((_, l, c)) = in_str {
            errors.push(ValidationError {
                line: l,
                column: c,
                message: "unterminated string".into(),
            });
        }
        for (o, l, c) in stack {
            errors.push(ValidationError {
                line: l,
                column: c,
                message: format!("{o:?} is never closed"),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid config name {0:?}: use letters, digits, '.', '_' or '-' (at most 128)")]
    BadName(String),
    #[error("config {name} is invalid")]
    Invalid {
        name: String,
        errors: Vec<ValidationError>,
    },
    #[error("no config named {0:?}")]
    NotFound(String),
    #[error("invalid pipeline id {0:?}: use letters, digits, '.', '_' or '-' (at most 128)")]
    BadPipeline(String),
    #[error("config {name:?} has no revision made at version {version}")]
    NoRevision { name: String, version: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

pub struct ConfigService {
    validator: Arc<dyn ConfigValidator>,
    keeper: Arc<Keeper>,
    tx: watch::Sender<ConfigSet>,
    /// Serialises changes so versions never interleave; holds the revisions.
    write: Mutex<ConfigHistory>,
    dir: Option<PathBuf>,
    /// The directory's contents at the last scan (name → text, pipeline); only
    /// differences from it apply, so configs added over the API survive a rescan.
    seen: Mutex<BTreeMap<String, (String, String)>>,
}

impl ConfigService {
    pub fn new(
        validator: Arc<dyn ConfigValidator>,
        keeper: Arc<Keeper>,
        initial: ConfigSet,
        dir: Option<PathBuf>,
    ) -> Self {
        let (tx, _) = watch::channel(initial);
        Self {
            validator,
            keeper,
            tx,
            write: Mutex::new(ConfigHistory::new()),
            dir,
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// Starts from the revisions a restarted scheduler kept.
    pub fn with_history(self, history: ConfigHistory) -> Self {
        Self {
            write: Mutex::new(history),
            ..self
        }
    }

    /// The revisions of `name`, newest first.
    pub async fn history(&self, name: &str) -> Vec<Revision> {
        let h = self.write.lock().await;
        h.get(name)
            .map(|v| v.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// Makes the revision of `name` accepted at set version `version` current again (its
    /// text and pipeline; a deleted revision deletes the config). Validated like any change.
    pub async fn rollback(&self, name: &str, version: u64) -> Result<u64, ConfigError> {
        let rev = self
            .history(name)
            .await
            .into_iter()
            .find(|r| r.version == version)
            .ok_or_else(|| ConfigError::NoRevision {
                name: name.into(),
                version,
            })?;
        match rev.text {
            Some(text) => self.put_in(name, &text, Some(&rev.pipeline)).await,
            None => self.delete(name).await,
        }
    }

    pub fn current(&self) -> ConfigSet {
        self.tx.borrow().clone()
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.tx.borrow().configs.get(name).cloned()
    }

    /// See [`ConfigValidator::try_filters`].
    pub fn try_filters(
        &self,
        text: &str,
        lines: &[String],
    ) -> Option<Result<Vec<serde_json::Value>, Vec<ValidationError>>> {
        self.validator.try_filters(text, lines)
    }

    /// See [`ConfigValidator::plugins`].
    pub fn plugins(&self) -> Option<&logstash_mesos_pipeline::registry::Registry> {
        self.validator.plugins()
    }

    pub fn validate(&self, name: &str, text: &str) -> Result<(), ConfigError> {
        if !valid_name(name) {
            return Err(ConfigError::BadName(name.into()));
        }
        self.validator
            .validate(name, text)
            .map_err(|errors| ConfigError::Invalid {
                name: name.into(),
                errors,
            })
    }

    /// Validates and stores in the config's pipeline (a new one goes to `main`); returns
    /// the new version (unchanged if the text is).
    pub async fn put(&self, name: &str, text: &str) -> Result<u64, ConfigError> {
        self.put_in(name, text, None).await
    }

    /// [`ConfigService::put`] into `pipeline` (`None`: the config's current one).
    pub async fn put_in(
        &self,
        name: &str,
        text: &str,
        pipeline: Option<&str>,
    ) -> Result<u64, ConfigError> {
        if let Some(p) = pipeline.filter(|p| !valid_name(p)) {
            return Err(ConfigError::BadPipeline(p.into()));
        }
        self.validate(name, text)?;
        self.apply(|c| {
            let moved = pipeline.is_some_and(|p| p != c.pipeline_of(name));
            if c.configs.get(name).map(String::as_str) == Some(text) && !moved {
                return false;
            }
            c.configs.insert(name.into(), text.into());
            match pipeline {
                Some(DEFAULT_PIPELINE) => {
                    c.pipelines.remove(name);
                }
                Some(p) => {
                    c.pipelines.insert(name.into(), p.into());
                }
                None => {}
            }
            true
        })
        .await
    }

    pub async fn delete(&self, name: &str) -> Result<u64, ConfigError> {
        if self.get(name).is_none() {
            return Err(ConfigError::NotFound(name.into()));
        }
        self.apply(|c| {
            c.pipelines.remove(name);
            c.configs.remove(name).is_some()
        })
        .await
    }

    async fn apply(&self, change: impl FnOnce(&mut ConfigSet) -> bool) -> Result<u64, ConfigError> {
        let mut history = self.write.lock().await;
        let before = self.current();
        let mut next = before.clone();
        if !change(&mut next) {
            return Ok(next.version);
        }
        next.version += 1;
        let mut new_history = history.clone();
        record_revisions(&before, &next, &mut new_history);
        // Durable before visible: an agent never runs a version a restart forgets.
        self.keeper
            .save_configs(next.clone(), new_history.clone())
            .await?;
        *history = new_history;
        let v = next.version;
        self.tx.send_replace(next);
        Ok(v)
    }

    /// The set once its version exceeds `since`, or the current one after `timeout`.
    pub async fn wait_newer(&self, since: u64, timeout: Duration) -> ConfigSet {
        let mut rx = self.tx.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|c| c.version > since)).await;
        self.current()
    }

    /// Applies what changed in `--config-dir` since the last scan. Invalid files are
    /// reported and skipped (the previous text stays in force).
    pub async fn scan_dir(&self) -> Vec<(String, ConfigError)> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let now = read_dir(dir);
        let mut seen = self.seen.lock().await;
        let mut problems = Vec::new();
        for (name, entry) in &now {
            if seen.get(name) == Some(entry) {
                continue;
            }
            let (text, pipeline) = entry;
            match self.put_in(name, text, Some(pipeline)).await {
                Ok(v) => {
                    tracing::info!(config = %name, version = v, "config from directory applied")
                }
                Err(e) => problems.push((name.clone(), e)),
            }
        }
        for name in seen.keys().filter(|n| !now.contains_key(*n)) {
            match self.delete(name).await {
                Ok(v) => {
                    tracing::info!(config = %name, version = v, "config removed from directory")
                }
                Err(ConfigError::NotFound(_)) => {}
                Err(e) => problems.push((name.clone(), e)),
            }
        }
        for (name, e) in &problems {
            if let ConfigError::Invalid { errors, .. } = e {
                for err in errors {
                    tracing::error!(
                        "{}/{name}.conf:{}:{}: {}",
                        dir.display(),
                        err.line,
                        err.column,
                        err.message
                    );
                }
            } else {
                tracing::error!(config = %name, error = %e, "config from directory not applied");
            }
        }
        *seen = now;
        problems
    }

    /// Re-scans the directory every `every` until the task is dropped.
    pub async fn watch_dir(self: Arc<Self>, every: Duration) {
        loop {
            self.scan_dir().await;
            tokio::time::sleep(every).await;
        }
    }
}

/// Appends a revision for every config `next` changed against `before` (text, pipeline,
/// or deleted), dropping the oldest beyond [`HISTORY_PER_CONFIG`].
fn record_revisions(before: &ConfigSet, next: &ConfigSet, history: &mut ConfigHistory) {
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let names: std::collections::BTreeSet<&String> =
        before.configs.keys().chain(next.configs.keys()).collect();
    for name in names {
        let old = (before.configs.get(name), before.pipeline_of(name));
        let new = (next.configs.get(name), next.pipeline_of(name));
        if old.0 == new.0 && (new.0.is_none() || old.1 == new.1) {
            continue;
        }
        let revs = history.entry(name.clone()).or_default();
        revs.push(Revision {
            version: next.version,
            text: new.0.cloned(),
            pipeline: new.1.to_string(),
            at_ms,
        });
        if revs.len() > HISTORY_PER_CONFIG {
            let extra = revs.len() - HISTORY_PER_CONFIG;
            revs.drain(..extra);
        }
    }
}

/// `name.conf` → name in pipeline `main`, `<pipeline>/name.conf` → name in that pipeline;
/// unreadable files and other names are skipped, and a name already taken by another
/// pipeline's file is reported and skipped.
fn read_dir(dir: &Path) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!(dir = %dir.display(), "config directory unreadable");
        return out;
    };
    let mut subdirs = Vec::new();
    read_confs(dir, DEFAULT_PIPELINE, entries, &mut out, &mut subdirs);
    subdirs.sort();
    for (pipeline, sub) in subdirs {
        if let Ok(entries) = std::fs::read_dir(&sub) {
            read_confs(&sub, &pipeline, entries, &mut out, &mut Vec::new());
        }
    }
    out
}

fn read_confs(
    dir: &Path,
    pipeline: &str,
    entries: std::fs::ReadDir,
    out: &mut BTreeMap<String, (String, String)>,
    subdirs: &mut Vec<(String, PathBuf)>,
) {
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            if let Some(name) = path.file_name().and_then(|s| s.to_str()) {
                if valid_name(name) {
                    subdirs.push((name.to_string(), path.clone()));
                }
            }
            continue;
        }
        if path.extension().is_some_and(|x| x == "conf") {
            if let (Some(stem), Ok(text)) = (
                path.file_stem().and_then(|s| s.to_str()),
                std::fs::read_to_string(&path),
            ) {
                if !valid_name(stem) {
                    continue;
                }
                if let Some((_, other)) = out.get(stem) {
                    tracing::error!(dir = %dir.display(), config = %stem, pipeline = %other,
                        "config name already used by another pipeline's file: skipped");
                    continue;
                }
                out.insert(stem.to_string(), (text, pipeline.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FileStore;

    #[test]
    fn basic_validator_positions() {
        let v = BasicValidator;
        assert!(v
            .validate(
                "m",
                "input { stdin {} }\n# c { \noutput { stdout { codec => \"}\" } }\n"
            )
            .is_ok());
        let e = v
            .validate("m", "input {\n  stdin {\n}\n")
            .expect_err("unclosed");
        assert_eq!(
            e,
            vec![ValidationError {
                line: 1,
                column: 7,
                message: "'{' is never closed".into()
            }]
        );
        let e = v.validate("m", "inptu { }").expect_err("bad section");
        assert_eq!((e[0].line, e[0].column), (1, 7));
        assert!(e[0].message.contains("inptu"), "{e:?}");
        let e = v
            .validate("m", "filter { mutate { add_tag => [\"x } }")
            .expect_err("string");
        assert!(
            e.iter()
                .any(|e| e.message == "unterminated string" && e.column == 31),
            "{e:?}"
        );
    }

    async fn service(dir: Option<PathBuf>) -> (tempfile::TempDir, Arc<ConfigService>, Arc<Keeper>) {
        let state = tempfile::tempdir().expect("tempdir");
        let keeper = Arc::new(
            Keeper::open(Arc::new(FileStore::new(state.path())))
                .await
                .expect("keeper"),
        );
        let svc = Arc::new(ConfigService::new(
            Arc::new(BasicValidator),
            keeper.clone(),
            ConfigSet::default(),
            dir,
        ));
        (state, svc, keeper)
    }

    #[tokio::test]
    async fn put_delete_version_and_persist() {
        let (_d, svc, keeper) = service(None).await;
        assert_eq!(svc.put("main", "input {}").await.expect("put"), 1);
        assert_eq!(svc.put("main", "input {}").await.expect("same"), 1);
        assert!(matches!(
            svc.put("bad", "input {").await,
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            svc.put("../x", "input {}").await,
            Err(ConfigError::BadName(_))
        ));
        assert_eq!(svc.delete("main").await.expect("delete"), 2);
        assert!(matches!(
            svc.delete("main").await,
            Err(ConfigError::NotFound(_))
        ));
        let saved = keeper.snapshot().await.configs;
        assert_eq!(saved.version, 2);
        assert!(saved.configs.is_empty());
    }

    #[tokio::test]
    async fn long_poll_wakes_on_change() {
        let (_d, svc, _k) = service(None).await;
        let waiter = {
            let svc = svc.clone();
            tokio::spawn(async move { svc.wait_newer(0, Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        svc.put("a", "output {}").await.expect("put");
        let got = waiter.await.expect("join");
        assert_eq!(got.version, 1);
        let timed_out = svc.wait_newer(1, Duration::from_millis(50)).await;
        assert_eq!(timed_out.version, 1);
    }

    #[tokio::test]
    async fn directory_changes_apply_and_invalid_files_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.conf"), "input {}").expect("write");
        std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
        let (_d, svc, _k) = service(Some(dir.path().to_path_buf())).await;
        assert!(svc.scan_dir().await.is_empty());
        assert_eq!(svc.current().configs.keys().collect::<Vec<_>>(), vec!["a"]);
        svc.put("api", "output {}").await.expect("api put");
        std::fs::write(dir.path().join("a.conf"), "input { x").expect("write");
        std::fs::write(dir.path().join("b.conf"), "filter {}").expect("write");
        let problems = svc.scan_dir().await;
        assert_eq!(problems.len(), 1);
        assert_eq!(
            svc.get("a").as_deref(),
            Some("input {}"),
            "invalid change keeps the old text"
        );
        assert_eq!(svc.get("b").as_deref(), Some("filter {}"));
        std::fs::remove_file(dir.path().join("b.conf")).expect("rm");
        svc.scan_dir().await;
        assert!(svc.get("b").is_none());
        assert!(svc.get("api").is_some(), "API configs survive rescans");
    }

    #[tokio::test]
    async fn configs_belong_to_pipelines() {
        let (_d, svc, keeper) = service(None).await;
        assert_eq!(
            svc.put_in("web", "input {}", Some("web"))
                .await
                .expect("put"),
            1
        );
        // Without a pipeline an existing config stays where it is; a move is a change.
        assert_eq!(svc.put("web", "input {}").await.expect("same"), 1);
        assert_eq!(svc.current().pipeline_of("web"), "web");
        assert_eq!(
            svc.put_in("web", "input {}", Some("main"))
                .await
                .expect("move"),
            2
        );
        assert_eq!(svc.current().pipeline_of("web"), "main");
        assert!(svc.current().pipelines.is_empty());
        svc.put_in("web", "input {}", Some("edge"))
            .await
            .expect("move");
        svc.put("other", "filter {}").await.expect("put");
        let set = svc.current();
        let groups = set.grouped();
        assert_eq!(groups["edge"], vec![("web", "input {}")]);
        assert_eq!(groups["main"], vec![("other", "filter {}")]);
        assert!(matches!(
            svc.put_in("x", "input {}", Some("a/b")).await,
            Err(ConfigError::BadPipeline(_))
        ));
        svc.delete("web").await.expect("delete");
        let saved = keeper.snapshot().await.configs;
        assert!(saved.pipelines.is_empty(), "{saved:?}");
    }

    #[tokio::test]
    async fn revisions_are_kept_persisted_and_rolled_back() {
        let (_d, svc, keeper) = service(None).await;
        svc.put("web", "input {}").await.expect("v1");
        svc.put("other", "filter {}").await.expect("v2");
        svc.put_in("web", "output {}", Some("edge"))
            .await
            .expect("v3");
        svc.delete("web").await.expect("v4");
        let h = svc.history("web").await;
        let seen: Vec<(u64, Option<&str>, &str)> = h
            .iter()
            .map(|r| (r.version, r.text.as_deref(), r.pipeline.as_str()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (4, None, "main"),
                (3, Some("output {}"), "edge"),
                (1, Some("input {}"), "main")
            ],
            "newest first; the change to `other` is not in web's history"
        );
        assert!(h.iter().all(|r| r.at_ms > 0));
        assert_eq!(
            keeper.snapshot().await.config_history["web"].len(),
            3,
            "persisted with the set"
        );
        // Roll back to version 3: text and pipeline come back, as a new version.
        assert_eq!(svc.rollback("web", 3).await.expect("rollback"), 5);
        assert_eq!(svc.get("web").as_deref(), Some("output {}"));
        assert_eq!(svc.current().pipeline_of("web"), "edge");
        assert!(matches!(
            svc.rollback("web", 2).await,
            Err(ConfigError::NoRevision { .. })
        ));
        // A restarted service starts from the persisted revisions.
        let restarted = ConfigService::new(
            Arc::new(BasicValidator),
            keeper.clone(),
            keeper.snapshot().await.configs,
            None,
        )
        .with_history(keeper.snapshot().await.config_history);
        assert_eq!(restarted.history("web").await.len(), 4);
        // At most HISTORY_PER_CONFIG revisions are kept.
        for i in 0..(HISTORY_PER_CONFIG + 5) {
            svc.put("other", &format!("filter {{}} # {i}"))
                .await
                .expect("put");
        }
        assert_eq!(svc.history("other").await.len(), HISTORY_PER_CONFIG);
    }

    /// `--config-dir`: top-level files are `main`, a subdirectory is a pipeline.
    #[tokio::test]
    async fn config_dir_subdirectories_are_pipelines() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.conf"), "input {}").expect("write");
        std::fs::create_dir(dir.path().join("edge")).expect("mkdir");
        std::fs::write(dir.path().join("edge/b.conf"), "output {}").expect("write");
        std::fs::write(dir.path().join("edge/a.conf"), "filter {}").expect("write");
        let (_d, svc, _k) = service(Some(dir.path().to_path_buf())).await;
        assert!(svc.scan_dir().await.is_empty());
        let set = svc.current();
        assert_eq!(set.pipeline_of("a"), "main");
        assert_eq!(set.pipeline_of("b"), "edge");
        assert_eq!(
            set.configs.get("a").map(String::as_str),
            Some("input {}"),
            "a name taken by main is not overwritten by another pipeline's file"
        );
    }
}
