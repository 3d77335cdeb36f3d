//! The `mesos` input: ships every selected task's sandbox `stdout`/`stderr` on this node
//! with its Mesos metadata, with no Docker needed (UCR tasks, task groups and Docker
//! tasks alike write there; DC/OS rotates the files by default).
//!
//! It polls the local Mesos agent's `GET /state` (agent-api/PROTOCOL.md §2; the one
//! response naming each sandbox), selects tasks by framework, task name, labels, role and
//! container type, and runs one reader per stream ([`tail`]): from the host path when the
//! agent's work dir is visible here, else through `GET /files/read` with offsets. Readers
//! follow the container loggers' rotations, read a terminal task to its last line and then
//! end; a sandbox removed by GC ends its readers quietly. Checkpoints (the docker input's
//! [`Store`]/[`Acker`]) advance only past delivered lines, so no line is lost across
//! restarts; `[@metadata][_id]` is deterministic, so a replay overwrites in Elasticsearch.
//!
//! ```text
//! input { mesos { framework => ["marathon"] labels => { "app" => "shop*" } } }
//! ```
//!
//! The agent address: `agent_url`, else the agent's `--mesos-agent` flag
//! (`LOGSTASH_MESOS_MESOS_AGENT`), else `MESOS_AGENT_ENDPOINT` (set by Mesos for command
//! tasks), else `LIBPROCESS_IP:5051`, else `<hostname>:5051`.

pub mod api;
pub mod select;
pub mod senders;
pub mod tail;

use crate::checkpoint::{Checkpoints, Lag, Store};
use crate::config::DockerConfig;
use crate::status::Status;
use crate::stream::Multiline;
use api::{AgentClient, ApiError, ClientConfig};
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use logstash_mesos_pipeline::plugin::{BoxFuture, BuildContext, Input};
use select::{Matcher, Sandbox, Selector, TaskMeta};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tail::{Backend, Emitter, Flags, Outcome, Tail, TailSettings};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The plugin name users write.
pub const NAME: &str = "mesos";
/// One line for the registry.
pub const DOC: &str =
    "reads Mesos task sandboxes' stdout/stderr with Mesos metadata and checkpoints";

/// Options of the `mesos` input (besides the common input options).
pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "agent_url",
        OptKind::String,
        "the local Mesos agent, http(s)://host:port (default: --mesos-agent, $MESOS_AGENT_ENDPOINT)",
    ),
    OptSpec::new("user", OptKind::String, "basic-auth principal for the agent API"),
    OptSpec::new("password", OptKind::Password, "basic-auth secret for the agent API"),
    OptSpec::new(
        "ssl_certificate_authorities",
        OptKind::Array,
        "PEM files of CAs trusted for an https agent",
    ),
    OptSpec::new(
        "ssl_verification_mode",
        OptKind::Enum(&["full", "none"]),
        "none: accept any agent certificate",
    )
    .default("full"),
    OptSpec::new(
        "framework",
        OptKind::Array,
        "framework name or id globs; any matches",
    ),
    OptSpec::new(
        "framework_regex",
        OptKind::Array,
        "framework name or id regular expressions; any matches",
    ),
    OptSpec::new("task_name", OptKind::Array, "task name globs; any matches"),
    OptSpec::new(
        "task_name_regex",
        OptKind::Array,
        "task name regular expressions; any matches",
    ),
    OptSpec::new(
        "labels",
        OptKind::Hash,
        "task labels that must all match (values are globs)",
    ),
    OptSpec::new("role", OptKind::Array, "role globs; any matches"),
    OptSpec::new(
        "container_type",
        OptKind::Array,
        "docker, mesos or none (no ContainerInfo); any matches",
    ),
    OptSpec::new("stdout", OptKind::Boolean, "read the sandbox's stdout").default("true"),
    OptSpec::new("stderr", OptKind::Boolean, "read the sandbox's stderr").default("true"),
    OptSpec::new(
        "read_mode",
        OptKind::Enum(&["auto", "host", "api"]),
        "host files, the agent's /files/read, or host when the sandbox is visible",
    )
    .default("auto"),
    OptSpec::new(
        "work_dir_mount",
        OptKind::Path,
        "where the agent's work_dir is mounted in this process (default: the same path)",
    ),
    OptSpec::new(
        "poll_interval",
        OptKind::Number,
        "seconds between reads of an idle stream",
    )
    .default("1"),
    OptSpec::new(
        "state_interval",
        OptKind::Number,
        "seconds between polls of the agent's /state",
    )
    .default("2"),
    OptSpec::new(
        "completed_grace",
        OptKind::Number,
        "seconds a terminal task's stream must stay unchanged before it is released",
    )
    .default("5"),
    crate::config::MAX_LINE_BYTES,
    crate::config::MULTILINE,
];

/// The registry entry the binary adds to its input table.
pub static MESOS_INPUT: logstash_mesos_pipeline::registry::Entry<
    logstash_mesos_pipeline::plugin::InputBuilder,
> = logstash_mesos_pipeline::registry::Entry {
    name: NAME,
    options: OPTIONS,
    build,
    doc: DOC,
    example: r#"framework => ["marathon"] task_name => ["nginx*"]"#,
};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

/// Where the agent is when neither `agent_url` nor `--mesos-agent` is set.
pub fn default_agent() -> String {
    if let Some(u) = env("LOGSTASH_MESOS_MESOS_AGENT").or_else(|| env("MESOS_AGENT_ENDPOINT")) {
        return u;
    }
    // A DC/OS agent listens on the node's IP, not loopback (PROTOCOL.md §1.1).
    if let Some(ip) = env("LIBPROCESS_IP") {
        return format!("{ip}:5051");
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:5051")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    Auto,
    Host,
    Api,
}

/// The validated options.
#[derive(Clone, Debug)]
pub struct MesosConfig {
    /// `None`: resolved when the input starts ([`default_agent`]).
    pub agent_url: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub ca_files: Vec<String>,
    pub insecure: bool,
    pub matcher: Matcher,
    pub stdout: bool,
    pub stderr: bool,
    pub read_mode: ReadMode,
    pub work_dir_mount: Option<PathBuf>,
    pub poll_interval: Duration,
    pub state_interval: Duration,
    pub completed_grace: Duration,
    pub max_line_bytes: usize,
    pub multiline: Option<Arc<logstash_mesos_pipeline::codecs::multiline::MultilineOptions>>,
}

impl MesosConfig {
    /// Validates every option, returning all errors at once.
    pub fn from_args(args: &Args) -> Result<MesosConfig, Vec<BuildError>> {
        // The options shared with the docker input (stdout, stderr, labels, poll_interval,
        // max_line_bytes, multiline) validate as they do there.
        let (shared, mut errs) = match DockerConfig::from_args(args) {
            Ok(c) => (Some(c), Vec::new()),
            Err(e) => (None, e),
        };
        let mut selector = |glob_opt: &str, re_opt: Option<&str>| -> Selector {
            let mut s = Selector::default();
            for g in args.strings(glob_opt) {
                match glob::Pattern::new(&g) {
                    Ok(p) => s.globs.push(p),
                    Err(e) => errs.push(BuildError::option(
                        glob_opt,
                        format!("invalid glob {g:?}: {e}"),
                    )),
                }
            }
            if let Some(re_opt) = re_opt {
                for r in args.strings(re_opt) {
                    match regex::Regex::new(&r) {
                        Ok(p) => s.regexes.push(p),
                        Err(e) => errs.push(BuildError::option(
                            re_opt,
                            format!("invalid regex {r:?}: {e}"),
                        )),
                    }
                }
            }
            s
        };
        let framework = selector("framework", Some("framework_regex"));
        let task_name = selector("task_name", Some("task_name_regex"));
        let role = selector("role", None);
        let mut container_types = Vec::new();
        for t in args.strings("container_type") {
            let l = t.to_ascii_lowercase();
            if matches!(l.as_str(), "docker" | "mesos" | "none") {
                container_types.push(l);
            } else {
                errs.push(BuildError::option(
                    "container_type",
                    format!("expected docker, mesos or none, got {t:?}"),
                ));
            }
        }
        let agent_url = match args.string("agent_url") {
            Some(u) => match api::normalize_base(&u) {
                Ok(u) => Some(u),
                Err(e) => {
                    errs.push(BuildError::option("agent_url", e));
                    None
                }
            },
            None => None,
        };
        let mut secs = |name: &str, default: f64, min: f64| -> Duration {
            let v = args.f64(name).unwrap_or(default);
            if !(min..=3600.0).contains(&v) {
                errs.push(BuildError::option(
                    name,
                    format!("expected seconds between {min} and 3600, got {v}"),
                ));
                return Duration::from_secs_f64(default);
            }
            Duration::from_secs_f64(v)
        };
        let state_interval = secs("state_interval", 2.0, 0.05);
        let completed_grace = secs("completed_grace", 5.0, 0.0);
        let read_mode = match args
            .string("read_mode")
            .unwrap_or_else(|| "auto".to_string())
            .as_str()
        {
            "host" => ReadMode::Host,
            "api" => ReadMode::Api,
            _ => ReadMode::Auto,
        };
        let work_dir_mount = args.string("work_dir_mount").map(PathBuf::from);
        if let Some(p) = &work_dir_mount {
            if !p.is_absolute() {
                errs.push(BuildError::option(
                    "work_dir_mount",
                    format!("expected an absolute path, got {}", p.display()),
                ));
            }
        }
        let user = args.string("user");
        let password = args.string("password");
        if password.is_some() && user.is_none() {
            errs.push(BuildError::option("password", "a password needs a user"));
        }
        let ca_files = args.strings("ssl_certificate_authorities");
        for f in &ca_files {
            if !std::path::Path::new(f).is_file() {
                errs.push(BuildError::option(
                    "ssl_certificate_authorities",
                    format!("no such file: {f}"),
                ));
            }
        }
        let Some(shared) = shared.filter(|_| errs.is_empty()) else {
            return Err(errs);
        };
        Ok(MesosConfig {
            agent_url,
            user,
            password,
            ca_files,
            insecure: args
                .string("ssl_verification_mode")
                .unwrap_or_else(|| "full".to_string())
                == "none",
            matcher: Matcher {
                framework,
                task_name,
                labels: shared.matcher.labels,
                role,
                container_types,
            },
            stdout: shared.stdout,
            stderr: shared.stderr,
            read_mode,
            work_dir_mount,
            poll_interval: shared.poll_interval,
            state_interval,
            completed_grace,
            max_line_bytes: shared.max_line_bytes,
            multiline: shared.multiline,
        })
    }
}

/// Builds the input from validated options (registry entry `mesos`).
pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    match MesosConfig::from_args(args) {
        Ok(mut cfg) => {
            // `--mesos-agent` (the scheduler passes the offer's agent address) comes
            // before the environment's guesses.
            if cfg.agent_url.is_none() {
                if let Some(u) = ctx.node.mesos_agent.as_deref().filter(|u| !u.is_empty()) {
                    cfg.agent_url =
                        Some(api::normalize_base(u).map_err(|e| {
                            BuildError::general(format!("--mesos-agent {u:?}: {e}"))
                        })?);
                }
            }
            Ok(Box::new(MesosInput::new(cfg)))
        }
        // Every bad option keeps its own name (and so its position in the config).
        Err(errs) => Err(BuildError::many(errs)),
    }
}

/// The input; [`Input::run`] does the work.
pub struct MesosInput {
    cfg: MesosConfig,
    status: Arc<Status>,
}

impl MesosInput {
    pub fn new(cfg: MesosConfig) -> Self {
        MesosInput {
            cfg,
            status: crate::status::global(),
        }
    }

    /// Reports into `status` instead of the process-wide one (tests).
    pub fn with_status(mut self, status: Arc<Status>) -> Self {
        self.status = status;
        self
    }
}

impl Input for MesosInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move { Runner::new(*self, ctx)?.run().await })
    }
}

struct Reader {
    handle: JoinHandle<Outcome>,
    flags: Arc<Flags>,
    cancel: CancellationToken,
}

struct Runner {
    cfg: MesosConfig,
    client: AgentClient,
    status: Arc<Status>,
    ctx: InputContext,
    checkpoints: Checkpoints,
    running: HashMap<String, Reader>,
    /// Streams read to their end (or gone): not started again while listed.
    finished: HashSet<String>,
}

impl Runner {
    fn new(input: MesosInput, ctx: InputContext) -> anyhow::Result<Self> {
        let base = match &input.cfg.agent_url {
            Some(u) => u.clone(),
            None => api::normalize_base(&default_agent())?,
        };
        let client = AgentClient::new(ClientConfig {
            base,
            user: input.cfg.user.clone(),
            password: input.cfg.password.clone(),
            ca_files: input.cfg.ca_files.clone(),
            insecure: input.cfg.insecure,
            timeout: Duration::from_secs(30),
        })?;
        let dir = ctx.build.path_data.join("agent");
        let checkpoints = Checkpoints::open(&dir, &ctx.id, &input.status);
        Ok(Runner {
            cfg: input.cfg,
            client,
            status: input.status,
            ctx,
            checkpoints,
            running: HashMap::new(),
            finished: HashSet::new(),
        })
    }

    async fn run(mut self) -> anyhow::Result<()> {
        tracing::info!(agent = self.client.base(), "mesos input polling the agent");
        let mut backoff = self.cfg.state_interval;
        let mut last_ok: Option<Instant> = None;
        while !self.ctx.is_shutdown() {
            let wait = match self.client.state().await {
                Ok(state) => {
                    if last_ok.is_none() {
                        tracing::info!(agent_id = %state.id, "connected to the Mesos agent");
                    }
                    last_ok = Some(Instant::now());
                    self.status.set_mesos_agent("connected");
                    self.reconcile(&state);
                    backoff = self.cfg.state_interval;
                    self.cfg.state_interval
                }
                Err(e) => {
                    // 503 while the agent recovers: readers go on, nothing is forgotten.
                    if !matches!(e, ApiError::Recovering) {
                        self.status
                            .error(format!("mesos agent {}: {e}", self.client.base()));
                    }
                    self.status.set_mesos_agent(&e.to_string());
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    backoff
                }
            };
            self.reap().await;
            self.commit();
            tokio::select! {
                _ = self.ctx.shutdown_requested() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.stop_all().await;
        Ok(())
    }

    /// Starts readers for new streams, marks terminal ones, forgets unlisted ones.
    fn reconcile(&mut self, state: &api::State) {
        let work_dir = state.flags.work_dir.clone();
        let mut listed = HashSet::new();
        for sb in select::sandboxes(state) {
            if !self.cfg.matcher.matches(&sb.meta) {
                continue;
            }
            for (on, stream) in [(self.cfg.stdout, "stdout"), (self.cfg.stderr, "stderr")] {
                if !on {
                    continue;
                }
                let key = format!("{}:{stream}", sb.meta.container_id);
                listed.insert(key.clone());
                if let Some(r) = self.running.get(&key) {
                    r.flags.terminal.store(sb.terminal, Ordering::Relaxed);
                    continue;
                }
                if self.finished.contains(&key) {
                    continue;
                }
                self.start(&sb, stream, &key, work_dir.as_deref());
            }
        }
        // Executors that left /state (completed-executor limits, a forgotten framework after
        // an agent restart): their readers finish what is there and end.
        for (key, r) in &self.running {
            if !listed.contains(key) {
                r.flags.terminal.store(true, Ordering::Relaxed);
            }
        }
        self.finished.retain(|k| listed.contains(k));
        if let Ok(mut store) = self.checkpoints.store.lock() {
            let stale: Vec<String> = store
                .streams()
                .keys()
                .filter(|k| !listed.contains(*k) && !self.running.contains_key(*k))
                .cloned()
                .collect();
            for k in stale {
                store.remove_prefix(&k);
            }
        }
    }

    /// The host path of a sandbox directory, with `work_dir_mount` applied.
    fn host_dir(&self, dir: &str, work_dir: Option<&str>) -> PathBuf {
        if let (Some(mount), Some(wd)) = (&self.cfg.work_dir_mount, work_dir) {
            if let Some(rest) = dir.strip_prefix(wd.trim_end_matches('/')) {
                return mount.join(rest.trim_start_matches('/'));
            }
        }
        PathBuf::from(dir)
    }

    fn start(&mut self, sb: &Sandbox, stream: &str, key: &str, work_dir: Option<&str>) {
        let host = self.host_dir(&sb.dir, work_dir);
        let use_host = match self.cfg.read_mode {
            ReadMode::Host => true,
            ReadMode::Api => false,
            ReadMode::Auto => std::fs::read_dir(&host).is_ok(),
        };
        let backend = if use_host {
            Backend::Host {
                dir: host,
                held: None,
                probed: Vec::new(),
            }
        } else {
            Backend::Remote {
                client: self.client.clone(),
                dir: sb.dir.clone(),
            }
        };
        let slot = self.checkpoints.slot(key, &sb.meta.container_id, stream);
        let meta: Arc<TaskMeta> = Arc::new(sb.meta.clone());
        self.status.container(
            &meta.container_id,
            &meta.task_name,
            &format!("mesos:{}", meta.framework_name),
        );
        let from = self
            .checkpoints
            .store
            .lock()
            .ok()
            .and_then(|s| s.get(key).cloned());
        let emitter = Emitter::new(
            self.ctx.clone(),
            meta,
            stream,
            slot,
            self.checkpoints.acker.clone(),
            self.status.clone(),
            self.cfg.multiline.clone().map(Multiline::new),
        );
        let settings = TailSettings {
            poll_interval: self.cfg.poll_interval,
            completed_grace: self.cfg.completed_grace,
            max_line_bytes: self.cfg.max_line_bytes,
        };
        let tail = Tail::new(backend, emitter, settings, from.as_ref());
        let flags = Arc::new(Flags::default());
        flags.terminal.store(sb.terminal, Ordering::Relaxed);
        let cancel = self.ctx.shutdown.child_token();
        tracing::debug!(stream = key, host = use_host, "reading sandbox stream");
        let handle = tokio::spawn(tail.run(flags.clone(), cancel.clone()));
        self.running.insert(
            key.to_string(),
            Reader {
                handle,
                flags,
                cancel,
            },
        );
    }

    /// Collects readers that ended.
    async fn reap(&mut self) {
        let done: Vec<String> = self
            .running
            .iter()
            .filter(|(_, r)| r.handle.is_finished())
            .map(|(k, _)| k.clone())
            .collect();
        for key in done {
            let Some(r) = self.running.remove(&key) else {
                continue;
            };
            match r.handle.await {
                Ok(Outcome::Cancelled) | Err(_) => {}
                Ok(Outcome::Completed) => {
                    self.finished.insert(key);
                }
                Ok(Outcome::Gone) => {
                    // Nothing left to resume from.
                    if let Ok(mut s) = self.checkpoints.store.lock() {
                        s.remove_prefix(&key);
                    }
                    self.finished.insert(key);
                }
            }
        }
    }

    /// Moves delivered positions into the checkpoint file.
    fn commit(&mut self) {
        let finished = &self.finished;
        self.checkpoints
            .commit(&self.status, Lag::InFlight, |ck, store| {
                gone(finished, ck, store)
            });
    }

    async fn stop_all(&mut self) {
        for r in self.running.values() {
            r.cancel.cancel();
        }
        for (_, r) in self.running.drain() {
            let _ = tokio::time::timeout(Duration::from_secs(10), r.handle).await;
        }
        let finished = &self.finished;
        self.checkpoints
            .drain(&self.status, Lag::InFlight, |ck, store| {
                gone(finished, ck, store)
            })
            .await;
    }
}

/// A stream read to its end whose entry was collected: its late acknowledgements must not
/// bring the entry back.
fn gone(finished: &HashSet<String>, ck: &str, store: &Store) -> bool {
    finished.contains(ck) && store.get(ck).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::Value;

    #[test]
    fn registry_entry_builds_and_rejects_bad_options() {
        let e = &MESOS_INPUT;
        assert_eq!(e.name, "mesos");
        assert!(e.options.iter().all(|o| !o.doc.is_empty()));
        assert!((e.build)(
            &Args::for_plugin(logstash_mesos_pipeline::registry::Kind::Input, OPTIONS),
            &BuildContext::default()
        )
        .is_ok());
        let bad = Args::for_plugin(logstash_mesos_pipeline::registry::Kind::Input, OPTIONS)
            .with("container_type", Value::from("lxc"));
        let err = (e.build)(&bad, &BuildContext::default())
            .err()
            .expect("error");
        assert_eq!(err.option.as_deref(), Some("container_type"));
        let bad = Args::for_plugin(logstash_mesos_pipeline::registry::Kind::Input, OPTIONS)
            .with("agent_url", Value::from("ftp://x"));
        let err = (e.build)(&bad, &BuildContext::default())
            .err()
            .expect("error");
        assert_eq!(err.option.as_deref(), Some("agent_url"));
    }

    #[test]
    fn reports_every_error() {
        let args = Args::for_plugin(logstash_mesos_pipeline::registry::Kind::Input, OPTIONS)
            .with("framework", Value::from("[oops"))
            .with("task_name_regex", Value::from("("))
            .with("poll_interval", Value::Integer(0))
            .with("password", Value::from("s"))
            .with("work_dir_mount", Value::from("rel"));
        let errs = MesosConfig::from_args(&args).err().expect("errors");
        let mut opts: Vec<_> = errs.iter().filter_map(|e| e.option.clone()).collect();
        opts.sort();
        assert_eq!(
            opts,
            [
                "framework",
                "password",
                "poll_interval",
                "task_name_regex",
                "work_dir_mount"
            ]
        );
    }

    #[test]
    fn options_configure_selection_and_transport() {
        let args = Args::for_plugin(logstash_mesos_pipeline::registry::Kind::Input, OPTIONS)
            .with("agent_url", Value::from("10.0.1.23:5051"))
            .with("framework", Value::from("marathon"))
            .with("container_type", Value::from("DOCKER"))
            .with("stderr", Value::Bool(false))
            .with("read_mode", Value::from("api"))
            .with("user", Value::from("ops"))
            .with("ssl_verification_mode", Value::from("none"));
        let c = MesosConfig::from_args(&args).expect("config");
        assert_eq!(c.agent_url.as_deref(), Some("http://10.0.1.23:5051"));
        assert_eq!(c.matcher.container_types, ["docker"]);
        assert!(c.stdout && !c.stderr);
        assert_eq!(c.read_mode, ReadMode::Api);
        assert!(c.insecure);
        assert_eq!(c.user.as_deref(), Some("ops"));
    }
}
