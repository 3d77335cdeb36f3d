//! The `docker` input: discovers matching containers (initial list + the events stream,
//! reconnecting with backoff and re-listing when the daemon restarts), runs one task per
//! stream (file tails, stdout, stderr) and advances checkpoints as outputs acknowledge.

use crate::checkpoint::{Checkpoints, Lag, Position};
use crate::config::{ContainerMeta, DockerConfig};
use crate::status::Status;
use crate::stream::{Multiline, StreamCtx};
use crate::{filetail, logs};
use bollard::query_parameters::{EventsOptionsBuilder, ListContainersOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;
use logstash_mesos_pipeline::input_context::InputContext;
use logstash_mesos_pipeline::options::{Args, BuildError, BuildResult};
use logstash_mesos_pipeline::plugin::{BoxFuture, BuildContext, Input};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Builds the input from validated options (registry entry `docker`).
pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Input>> {
    match DockerConfig::from_args(args) {
        Ok(mut cfg) => {
            // The agent's `--docker-host` applies to inputs whose config names none.
            if cfg.docker_host.is_none() {
                cfg.docker_host = ctx.node.docker_host.clone();
            }
            Ok(Box::new(DockerInput::new(cfg)))
        }
        // Every error, each at its option.
        Err(errs) => Err(BuildError::many(errs)),
    }
}

/// The input; [`Input::run`] does the work.
pub struct DockerInput {
    cfg: DockerConfig,
    status: Arc<Status>,
}

impl DockerInput {
    pub fn new(cfg: DockerConfig) -> Self {
        DockerInput {
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

impl Input for DockerInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move { Runner::new(*self, ctx).run().await })
    }
}

/// The checkpointed position of a stream.
pub fn checkpoint_of(sc: &StreamCtx) -> Option<Position> {
    sc.store
        .lock()
        .ok()
        .and_then(|s| s.get(&sc.checkpoint_key()).cloned())
}

struct Running {
    meta: Arc<ContainerMeta>,
    cancel: CancellationToken,
    tasks: HashMap<String, JoinHandle<()>>,
    last_glob: Instant,
}

struct Runner {
    cfg: DockerConfig,
    status: Arc<Status>,
    ctx: InputContext,
    checkpoints: Checkpoints,
    running: HashMap<String, Running>,
    cleaned: HashSet<String>,
    agent_id: Option<String>,
    tag: String,
}

impl Runner {
    fn new(input: DockerInput, ctx: InputContext) -> Self {
        let dir = ctx.build.path_data.join("agent");
        let checkpoints = Checkpoints::open(&dir, &ctx.id, &input.status);
        let agent_id = ctx
            .build
            .node
            .mesos_agent_id
            .clone()
            .filter(|s| !s.is_empty());
        Runner {
            cfg: input.cfg,
            status: input.status,
            tag: format!("lsm-tail:{}", ctx.id),
            ctx,
            checkpoints,
            running: HashMap::new(),
            cleaned: HashSet::new(),
            agent_id,
        }
    }

    async fn run(mut self) -> anyhow::Result<()> {
        let mut backoff = StreamCtx::reader_backoff();
        while !self.ctx.is_shutdown() {
            let docker = match crate::client::connect_negotiated(
                self.cfg.docker_host.as_deref(),
                self.cfg.tls_verify,
                self.cfg.tls_cert_path.as_deref(),
            )
            .await
            {
                Ok(d) => d,
                Err(e) => {
                    self.status.set_docker(&format!("unreachable: {e}"));
                    self.status.error(format!("docker: {e:#}"));
                    tokio::select! {
                        _ = self.ctx.shutdown_requested() => break,
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                    continue;
                }
            };
            self.status.set_docker("connected");
            if let Err(e) = self.session(&docker).await {
                self.status.set_docker(&format!("disconnected: {e}"));
                self.status.error(format!("docker events: {e}"));
            } else {
                backoff.reset();
            }
            if !self.ctx.is_shutdown() {
                tokio::select! {
                    _ = self.ctx.shutdown_requested() => break,
                    _ = tokio::time::sleep(backoff.next_delay()) => {}
                }
            }
        }
        self.stop_all().await;
        Ok(())
    }

    /// One connection: subscribe to events, list, then follow events until the stream ends.
    async fn session(&mut self, docker: &Docker) -> anyhow::Result<()> {
        let filters: HashMap<&str, Vec<&str>> = [
            ("type", vec!["container"]),
            ("event", vec!["start", "die", "destroy", "rename"]),
        ]
        .into_iter()
        .collect();
        // Subscribing before listing: a container starting in between is seen twice, never missed.
        let mut events = docker.events(Some(EventsOptionsBuilder::new().filters(&filters).build()));
        let list = docker
            .list_containers(Some(ListContainersOptionsBuilder::new().all(false).build()))
            .await?;
        let ids: HashSet<String> = list.iter().filter_map(|c| c.id.clone()).collect();
        // Containers that went away while disconnected.
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|id| !ids.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            self.stop_container(&id).await;
        }
        for id in ids {
            self.consider(docker, &id).await;
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = self.ctx.shutdown_requested() => return Ok(()),
                _ = tick.tick() => {
                    self.commit();
                    self.rescan(docker).await;
                }
                ev = events.next() => match ev {
                    None => anyhow::bail!("events stream ended"),
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok(ev)) => {
                        let Some(id) = ev.actor.and_then(|a| a.id) else { continue };
                        match ev.action.as_deref().unwrap_or("") {
                            "start" => {
                                // A restart: old readers are dead with the old processes.
                                self.stop_container(&id).await;
                                self.consider(docker, &id).await;
                            }
                            "rename" => self.consider(docker, &id).await,
                            "destroy" => {
                                self.stop_container(&id).await;
                                self.status.remove_container(&id);
                                if let Ok(mut s) = self.checkpoints.store.lock() {
                                    s.remove_prefix(&format!("{id}:"));
                                }
                            }
                            // die: the streams end by themselves once they read everything.
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    /// Inspects a container and starts (or stops) its streams by the matcher.
    async fn consider(&mut self, docker: &Docker, id: &str) {
        let Ok(info) = docker.inspect_container(id, None).await else {
            return;
        };
        let running = info.state.as_ref().and_then(|s| s.running).unwrap_or(false);
        let config = info.config.unwrap_or_default();
        let meta = ContainerMeta {
            id: info.id.unwrap_or_else(|| id.to_string()),
            name: info
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: config.image.unwrap_or_default(),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            ..Default::default()
        }
        .with_env(&config.env.unwrap_or_default());
        let matches = running && self.cfg.matcher.matches(&meta);
        if let Some(r) = self.running.get_mut(&meta.id) {
            if matches {
                r.meta = Arc::new(meta);
                return;
            }
            self.stop_container(id).await;
            return;
        }
        if !matches {
            return;
        }
        self.status.container(&meta.id, &meta.name, &meta.image);
        let meta = Arc::new(meta);
        let cancel = self.ctx.shutdown.child_token();
        let mut r = Running {
            meta: meta.clone(),
            cancel,
            tasks: HashMap::new(),
            last_glob: Instant::now(),
        };
        if !self.cfg.paths.is_empty() && self.cleaned.insert(meta.id.clone()) {
            filetail::cleanup(docker, &meta.id, &self.tag).await;
        }
        for (on, key, is_err) in [
            (self.cfg.stdout, "stdout", false),
            (self.cfg.stderr, "stderr", true),
        ] {
            if on {
                let sc = self.stream_ctx(&meta, key, None);
                let (d, c, max) = (docker.clone(), r.cancel.clone(), self.cfg.max_line_bytes);
                r.tasks.insert(
                    key.to_string(),
                    tokio::spawn(logs::run(d, sc, is_err, max, c)),
                );
            }
        }
        self.start_files(docker, &mut r).await;
        self.running.insert(meta.id.clone(), r);
    }

    async fn start_files(&mut self, docker: &Docker, r: &mut Running) {
        if self.cfg.paths.is_empty() {
            return;
        }
        r.last_glob = Instant::now();
        let paths = match filetail::expand(docker, &r.meta.id, &self.cfg.paths).await {
            Ok(p) => p,
            Err(e) => {
                self.status
                    .error(format!("expanding paths in {}: {e}", r.meta.name));
                return;
            }
        };
        for p in paths {
            let key = format!("file:{p}");
            if r.tasks.contains_key(&key) {
                continue;
            }
            let sc = self.stream_ctx(&r.meta, &key, Some(p));
            let task = filetail::run(
                docker.clone(),
                sc,
                self.tag.clone(),
                self.cfg.poll_interval,
                self.cfg.max_line_bytes,
                r.cancel.clone(),
            );
            r.tasks.insert(key, tokio::spawn(task));
        }
    }

    async fn rescan(&mut self, docker: &Docker) {
        if !self.cfg.paths.iter().any(|p| p.contains(['*', '?', '['])) {
            return;
        }
        let due: Vec<String> = self
            .running
            .iter()
            .filter(|(_, r)| r.last_glob.elapsed() >= self.cfg.glob_interval)
            .map(|(k, _)| k.clone())
            .collect();
        for id in due {
            if let Some(mut r) = self.running.remove(&id) {
                self.start_files(docker, &mut r).await;
                self.running.insert(id, r);
            }
        }
    }

    fn stream_ctx(
        &mut self,
        meta: &Arc<ContainerMeta>,
        key: &str,
        path: Option<String>,
    ) -> StreamCtx {
        let slot = self
            .checkpoints
            .slot(&format!("{}:{key}", meta.id), &meta.id, key);
        StreamCtx {
            input: self.ctx.clone(),
            meta: meta.clone(),
            agent_id: self.agent_id.clone(),
            key: key.to_string(),
            slot,
            acker: self.checkpoints.acker.clone(),
            status: self.status.clone(),
            path,
            multiline: self.cfg.multiline.clone().map(Multiline::new),
            store: self.checkpoints.store.clone(),
            last_error: None,
        }
    }

    async fn stop_container(&mut self, id: &str) {
        if let Some(r) = self.running.remove(id) {
            r.cancel.cancel();
            for (_, t) in r.tasks {
                let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
            }
        }
    }

    /// Moves delivered positions into the checkpoint file.
    fn commit(&mut self) {
        self.checkpoints
            .commit(&self.status, Lag::Outstanding, |_, _| false);
    }

    async fn stop_all(&mut self) {
        let ids: Vec<String> = self.running.keys().cloned().collect();
        for id in ids {
            self.stop_container(&id).await;
        }
        self.checkpoints
            .drain(&self.status, Lag::Outstanding, |_, _| false)
            .await;
    }
}
