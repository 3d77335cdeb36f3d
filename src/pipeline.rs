//! `run` and `check`: load, parse, compile and run one pipeline.

use crate::cli::RunArgs;
use logstash_mesos_pipeline::lang::ParseOptions;
use logstash_mesos_pipeline::load::{self, Loaded};
use logstash_mesos_pipeline::plugin::{BuildContext, DlqSettings, DlqStoragePolicy, Ecs};
use logstash_mesos_pipeline::registry::Registry;
use logstash_mesos_pipeline::runner::{RunSettings, RunningPipeline};

pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Logs go to stderr: stdout belongs to the stdout output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub(crate) fn build_context(args: &RunArgs) -> Result<BuildContext, String> {
    let ecs = Ecs::parse(&args.ecs).ok_or_else(|| {
        format!(
            "--pipeline.ecs_compatibility: expected disabled, v1 or v8, got {:?}",
            args.ecs
        )
    })?;
    let storage_policy = match args.dlq_storage_policy.as_str() {
        "drop_newer" => DlqStoragePolicy::DropNewer,
        "drop_older" => DlqStoragePolicy::DropOlder,
        other => {
            return Err(format!(
            "--dead_letter_queue.storage_policy: expected drop_newer or drop_older, got {other:?}"
        ))
        }
    };
    args.queue.settings()?;
    Ok(BuildContext {
        dead_letter_queue: DlqSettings {
            enable: args.dlq_enable,
            max_bytes: args.dlq_max_bytes,
            storage_policy,
        },
        pipeline_id: args.pipeline_id.clone(),
        path_data: args.path_data.clone(),
        ecs,
        workers: args.workers.unwrap_or_else(default_workers),
        batch_size: args.batch_size,
        support_escapes: args.support_escapes,
        ..BuildContext::default()
    })
}

fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Reads the config sources once, parses and checks them; prints every error and returns
/// `None` on failure.
pub(crate) fn load_and_parse(args: &RunArgs) -> Option<Loaded> {
    load_and_parse_with(args, ParseOptions::default())
}

fn load_and_parse_with(args: &RunArgs, opts: ParseOptions) -> Option<Loaded> {
    let sources = match load::read(&args.path_config, args.config_string.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    parse_sources_with(sources, args, opts)
}

/// Parses and checks sources already read; prints every error and returns `None`.
pub(crate) fn parse_sources(
    sources: logstash_mesos_pipeline::lang::Sources,
    args: &RunArgs,
) -> Option<Loaded> {
    parse_sources_with(sources, args, ParseOptions::default())
}

fn parse_sources_with(
    sources: logstash_mesos_pipeline::lang::Sources,
    args: &RunArgs,
    opts: ParseOptions,
) -> Option<Loaded> {
    let opts = ParseOptions {
        support_escapes: args.support_escapes,
        ..opts
    };
    match load::parse_checked(sources, &opts) {
        Ok(loaded) => Some(loaded),
        Err(rejected) => {
            eprint!("{}", rejected.render());
            None
        }
    }
}

/// Reads `--path.settings`; prints the error and returns `None` when it cannot be used.
fn plan(args: RunArgs) -> Option<crate::settings::Plan> {
    match crate::settings::plan(args) {
        Ok((plan, warnings)) => {
            let level = match &plan {
                crate::settings::Plan::One(a) => a.log_level.clone(),
                crate::settings::Plan::Many(v) => v
                    .first()
                    .map_or_else(|| "info".to_string(), |a| a.log_level.clone()),
            };
            init_logging(&level);
            for w in warnings {
                tracing::warn!("{w}");
            }
            Some(plan)
        }
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

/// `check` / `-t`: exit 0 when the config is valid (every pipeline of pipelines.yml), 1
/// otherwise.
pub fn check(args: RunArgs, syntax_only: bool) -> i32 {
    match plan(args) {
        None => 1,
        Some(crate::settings::Plan::One(args)) => check_one(args, syntax_only),
        Some(crate::settings::Plan::Many(list)) => {
            let mut code = 0;
            for args in list {
                eprintln!("== pipeline {}", args.pipeline_id);
                if check_one(args, syntax_only) != 0 {
                    code = 1;
                }
            }
            code
        }
    }
}

fn check_one(args: RunArgs, syntax_only: bool) -> i32 {
    // Syntax only means syntax: `${VAR}` is not resolved, so an unset variable (set only
    // where the pipeline runs) is no error here. A placeholder reads as its own text.
    if syntax_only {
        let opts = ParseOptions::with_env(|name| Some(format!("${{{name}}}")));
        if load_and_parse_with(&args, opts).is_none() {
            return 1;
        }
        println!("Configuration OK");
        return 0;
    }
    let sources = match load::read(&args.path_config, args.config_string.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let opts = ParseOptions {
        support_escapes: args.support_escapes,
        ..ParseOptions::default()
    };
    // An unset `${VAR}` must not hide the config's other errors: when it is the only kind
    // of error, the config is checked again with the placeholders as written, and every
    // error is reported together (those on the option holding the placeholder excepted).
    let (loaded, mut diags) = match load::parse_checked(sources, &opts) {
        Ok(l) => (l, Vec::new()),
        Err(rejected) if rejected.diagnostics.iter().all(is_unset_variable) => {
            let lenient = ParseOptions {
                support_escapes: args.support_escapes,
                ..ParseOptions::with_env(|name| {
                    std::env::var(name)
                        .ok()
                        .or_else(|| Some(format!("${{{name}}}")))
                })
            };
            match load::parse_checked(rejected.sources.clone(), &lenient) {
                Ok(l) => (l, rejected.diagnostics),
                Err(_) => {
                    eprint!("{}", rejected.render());
                    return 1;
                }
            }
        }
        Err(rejected) => {
            eprint!("{}", rejected.render());
            return 1;
        }
    };
    let plugins = logstash_mesos_agent::plugins::registry();
    let ctx = match build_context(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let unset: Vec<_> = diags.iter().map(|d| d.span).collect();
    let beside_unset = |d: &logstash_mesos_pipeline::lang::Diagnostic| {
        !unset
            .iter()
            .any(|u| d.span.start <= u.start && u.end <= d.span.end.max(d.span.start + 1))
    };
    let invalid = loaded.validate(&plugins, &ctx);
    let invalid_count = invalid.len();
    diags.extend(invalid.into_iter().filter(|d| beside_unset(d)));
    if invalid_count == 0 {
        // Building runs each plugin's own checks (absolute paths, regexes, URLs); nothing
        // is started. Some builders expect a runtime (clients), so give them one.
        let built = crate::runtime::block_on(crate::runtime::Threads::One, async {
            loaded.compile(&plugins, &ctx).map(drop)
        });
        match built {
            None => return 1,
            Some(Err(more)) => diags.extend(more.into_iter().filter(|d| beside_unset(d))),
            Some(Ok(())) => {}
        }
    }
    diags.sort_by_key(|d| d.span.start);
    // Files plugins read when they start may exist only where the pipeline runs (Logstash
    // opens them then, not at `-t`): warnings, unless --strict.
    let (warnings, errors): (Vec<_>, Vec<_>) =
        diags.into_iter().partition(|d| d.at_start && !args.strict);
    if !warnings.is_empty() {
        eprintln!(
            "warning: {} problem(s) with files read when the plugins start (checked again then; --strict makes them errors):",
            warnings.len()
        );
        eprint!("{}", loaded.sources.render_all(&warnings));
    }
    if !errors.is_empty() {
        eprint!("{}", loaded.sources.render_all(&errors));
        return 1;
    }
    println!("Configuration OK");
    0
}

/// The parser's error for an unset `${VAR}` without a default.
fn is_unset_variable(d: &logstash_mesos_pipeline::lang::Diagnostic) -> bool {
    d.message.starts_with("cannot evaluate `${")
}

/// `run`: run the pipeline until its inputs end or a signal asks it to stop.
pub fn run(args: RunArgs) -> i32 {
    if args.test_and_exit {
        return check(args, false);
    }
    match plan(args) {
        None => 1,
        Some(crate::settings::Plan::One(args)) => run_one(args),
        Some(crate::settings::Plan::Many(list)) => crate::pipelines::run_many(list),
    }
}

/// Runs one pipeline (`-f`/`-e`).
fn run_one(args: RunArgs) -> i32 {
    let Some(loaded) = load_and_parse(&args) else {
        return 1;
    };
    let ctx = match build_context(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let ended = crate::runtime::block_on(crate::runtime::Threads::PerCore, async move {
        let settings = run_settings(&ctx, &args);
        let stop = stop_on_signals();
        let next = |text: String| crate::reload::next_config(args.clone(), text);
        let plugins = logstash_mesos_agent::plugins::registry();
        supervise(loaded, &plugins, &ctx, &settings, stop, next)
            .await
            .exit_code()
    });
    ended.unwrap_or(1)
}

/// Why [`supervise`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every input reached its end and everything was delivered.
    InputsDone,
    /// A signal asked for shutdown; what was read has been delivered.
    Stopped,
    /// The config could not be built (errors printed).
    InvalidConfig,
}

impl Ended {
    pub fn exit_code(self) -> i32 {
        match self {
            Ended::InputsDone | Ended::Stopped => 0,
            Ended::InvalidConfig => 1,
        }
    }
}

pub(crate) fn run_settings(ctx: &BuildContext, args: &RunArgs) -> RunSettings {
    RunSettings {
        workers: ctx.workers,
        batch_size: ctx.batch_size,
        batch_delay: std::time::Duration::from_millis(args.batch_delay),
        // Checked by `build_context` before anything runs.
        queue: args.queue.settings().unwrap_or_default(),
    }
}

/// A token cancelled by the first SIGINT/SIGTERM (graceful: flush what was read); a second
/// signal exits at once.
pub(crate) fn stop_on_signals() -> tokio_util::sync::CancellationToken {
    let stop = tokio_util::sync::CancellationToken::new();
    let stop_signal = stop.clone();
    tokio::spawn(async move {
        let mut signals = Signals::new();
        signals.next().await;
        tracing::info!("shutdown requested: flushing events already read");
        stop_signal.cancel();
        signals.next().await;
        eprintln!("second signal: exiting without flushing");
        std::process::exit(1);
    });
    stop
}

/// Runs a pipeline until it ends (every input at EOF), `stop` is cancelled, or `next`
/// yields a new config; in the last case the running pipeline is drained (inputs stop,
/// queued events reach the outputs, checkpoints record them) and the new one starts from
/// those checkpoints. Returns the process exit code.
pub async fn supervise<F, Fut>(
    mut current: Loaded,
    plugins: &Registry,
    ctx: &BuildContext,
    settings: &RunSettings,
    stop: tokio_util::sync::CancellationToken,
    mut next: F,
) -> Ended
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Loaded>,
{
    loop {
        // Plugins are built inside the runtime: some start tasks or open clients.
        let compiled = match current.compile(plugins, ctx) {
            Ok(p) => p,
            Err(diags) => {
                eprint!("{}", current.sources.render_all(&diags));
                return Ended::InvalidConfig;
            }
        };
        let running = match RunningPipeline::start(compiled, ctx, settings) {
            Ok(r) => r,
            Err(e) => {
                // The persisted queue could not be opened: nothing was read.
                eprintln!("error: pipeline {}: {e:#}", ctx.pipeline_id);
                return Ended::InvalidConfig;
            }
        };
        let token = running.shutdown_token();
        let mut done = Box::pin(running.wait());
        let change = next(current.text().to_string());
        let replacement = tokio::select! {
            // Every input ended (EOF) and everything was delivered.
            _ = &mut done => return Ended::InputsDone,
            _ = stop.cancelled() => None,
            n = change => Some(n),
        };
        token.cancel();
        done.await;
        match replacement {
            Some(n) => {
                tracing::info!("configuration changed: pipeline reloaded");
                current = n;
            }
            None => return Ended::Stopped,
        }
    }
}

/// SIGINT and SIGTERM, registered once so a second signal is told apart from the first.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = recv(&mut self.term) => {}
                _ = recv(&mut self.int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
