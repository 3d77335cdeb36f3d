//! Command-line flags, named as Logstash names them (`-f`, `-e`, `-t`, `-w`, `-b`,
//! `--path.data`, ...), plus the `agent` and `scheduler` subcommands.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "logstash-mesos",
    version,
    about = "A Logstash-compatible log shipper in Rust, and a Mesos framework running it on every node",
    long_about = "Runs Logstash pipelines (.conf files: input { } filter { } output { }) natively.\n\n\
                  Examples:\n  logstash-mesos -f pipeline.conf\n  logstash-mesos -e 'input { stdin {} } output { stdout {} }'\n  \
                  logstash-mesos -t -f /etc/logstash/conf.d/\n  logstash-mesos agent --help\n  logstash-mesos scheduler --help",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a pipeline (the default when no subcommand is given).
    Run(RunArgs),
    /// Check the configuration and exit (same as -t).
    Check(CheckArgs),
    /// Run the per-node agent: the pipeline with the docker input, `GET /status`, configs
    /// from -f files or from the scheduler.
    Agent(crate::agent_cmd::AgentArgs),
    /// Run the Mesos framework scheduler: one agent per node, configs over REST and a web UI.
    Scheduler(logstash_mesos_scheduler::SchedulerOptions),
}

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Load the config from a file, a directory (every file in it, in lexical order) or a glob.
    #[arg(short = 'f', long = "path.config", value_name = "PATH")]
    pub path_config: Vec<String>,
    /// Use the given string as the config.
    #[arg(short = 'e', long = "config.string", value_name = "CONFIG")]
    pub config_string: Option<String>,
    /// Check the configuration, then exit with 0 (valid) or 1 (invalid).
    #[arg(short = 't', long = "config.test_and_exit")]
    pub test_and_exit: bool,
    /// With -t/check: problems with files plugins read when they start (grok patterns_dir,
    /// templates, dictionaries, scripts, CA files) are errors, not warnings.
    #[arg(long = "strict")]
    pub strict: bool,
    /// Number of workers running filters and outputs in parallel [default: number of cores].
    #[arg(short = 'w', long = "pipeline.workers", value_name = "COUNT")]
    pub workers: Option<usize>,
    /// Maximum events a worker takes from the queue at once.
    #[arg(
        short = 'b',
        long = "pipeline.batch.size",
        value_name = "SIZE",
        default_value_t = 125
    )]
    pub batch_size: usize,
    /// How long a worker, once it holds an event, waits for its batch to fill before
    /// dispatching an undersized batch, in milliseconds.
    #[arg(
        short = 'u',
        long = "pipeline.batch.delay",
        value_name = "MS",
        default_value_t = 50
    )]
    pub batch_delay: u64,
    /// Reload the config when its files change.
    #[arg(short = 'r', long = "config.reload.automatic")]
    pub reload: bool,
    /// How often to look for config changes with -r, in seconds.
    #[arg(
        long = "config.reload.interval",
        value_name = "SECONDS",
        default_value_t = 3
    )]
    pub reload_interval: u64,
    /// Where persistent state lives: checkpoints, dead letters.
    #[arg(long = "path.data", value_name = "DIR", default_value = "data")]
    pub path_data: PathBuf,
    /// The pipeline's id (names its state under --path.data).
    #[arg(long = "pipeline.id", value_name = "ID", default_value = "main")]
    pub pipeline_id: String,
    /// ECS compatibility of plugins: disabled, v1 or v8.
    #[arg(
        long = "pipeline.ecs_compatibility",
        value_name = "MODE",
        default_value = "v8"
    )]
    pub ecs: String,
    /// Process escape sequences (\n, \t, \", ...) in quoted config strings.
    #[arg(long = "config.support_escapes")]
    pub support_escapes: bool,
    /// Keep events Elasticsearch rejects (400/404, dlq_custom_codes) in the dead letter
    /// queue under --path.data (true or false).
    #[arg(long = "dead_letter_queue.enable", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub dlq_enable: bool,
    /// Maximum size of one pipeline's dead letter queue, in bytes.
    #[arg(long = "dead_letter_queue.max_bytes", value_name = "BYTES", default_value_t = 1 << 30)]
    pub dlq_max_bytes: u64,
    /// When the dead letter queue is full: drop_newer or drop_older.
    #[arg(
        long = "dead_letter_queue.storage_policy",
        value_name = "POLICY",
        default_value = "drop_newer"
    )]
    pub dlq_storage_policy: String,
    /// `queue.*`: the memory queue or the persisted one.
    #[command(flatten)]
    pub queue: QueueArgs,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info")]
    pub log_level: String,
    /// Directory holding logstash.yml (defaults for every setting above) and
    /// pipelines.yml (several pipelines in one process, used when neither -f nor -e is given).
    #[arg(long = "path.settings", value_name = "DIR")]
    pub path_settings: Option<PathBuf>,
    /// The flags given on the command line (clap ids): they win over logstash.yml.
    #[arg(skip)]
    pub explicit: Vec<String>,
}

/// The `queue.*` settings (also taken by `agent`), with Logstash's defaults. Each is also
/// an environment variable (`LOGSTASH_MESOS_QUEUE_TYPE=persisted`), so the scheduler's
/// `--agent-env` turns the persisted queue on for every agent.
#[derive(Args, Debug, Clone)]
pub struct QueueArgs {
    /// The queue between inputs and workers: memory, or persisted (page files under
    /// --path.queue; events survive a crash and outages of the outputs).
    #[arg(long = "queue.type", env = "LOGSTASH_MESOS_QUEUE_TYPE", value_name = "TYPE", default_value = "memory", value_parser = ["memory", "persisted"])]
    pub queue_type: String,
    /// Where persisted queues live [default: <path.data>/queue].
    #[arg(
        long = "path.queue",
        env = "LOGSTASH_MESOS_PATH_QUEUE",
        value_name = "DIR"
    )]
    pub path_queue: Option<PathBuf>,
    /// Size of one page file of the persisted queue (1024 based: 64mb).
    #[arg(long = "queue.page_capacity", env = "LOGSTASH_MESOS_QUEUE_PAGE_CAPACITY", value_name = "SIZE", default_value = "64mb", value_parser = setting_size)]
    pub queue_page_capacity: u64,
    /// The persisted queue holds at most this much; inputs then wait.
    #[arg(long = "queue.max_bytes", env = "LOGSTASH_MESOS_QUEUE_MAX_BYTES", value_name = "SIZE", default_value = "1024mb", value_parser = setting_size)]
    pub queue_max_bytes: u64,
    /// The persisted queue holds at most this many events (0: no limit).
    #[arg(
        long = "queue.max_events",
        env = "LOGSTASH_MESOS_QUEUE_MAX_EVENTS",
        value_name = "COUNT",
        default_value_t = 0
    )]
    pub queue_max_events: u64,
    /// Save the delivered position after this many acknowledgements (0: only by time).
    #[arg(
        long = "queue.checkpoint.acks",
        env = "LOGSTASH_MESOS_QUEUE_CHECKPOINT_ACKS",
        value_name = "COUNT",
        default_value_t = 1024
    )]
    pub queue_checkpoint_acks: u64,
    /// fsync the page after this many written events (0: leave it to the OS).
    #[arg(
        long = "queue.checkpoint.writes",
        env = "LOGSTASH_MESOS_QUEUE_CHECKPOINT_WRITES",
        value_name = "COUNT",
        default_value_t = 1024
    )]
    pub queue_checkpoint_writes: u64,
    /// Save the delivered position at least this often, in milliseconds.
    #[arg(
        long = "queue.checkpoint.interval",
        env = "LOGSTASH_MESOS_QUEUE_CHECKPOINT_INTERVAL",
        value_name = "MS",
        default_value_t = 1000
    )]
    pub queue_checkpoint_interval: u64,
    /// On shutdown, deliver everything in the persisted queue before exiting.
    #[arg(long = "queue.drain", env = "LOGSTASH_MESOS_QUEUE_DRAIN", value_name = "BOOL", default_value_t = false, action = clap::ArgAction::Set)]
    pub queue_drain: bool,
}

impl Default for QueueArgs {
    fn default() -> Self {
        let d = logstash_mesos_pipeline::queue::QueueSettings::default();
        QueueArgs {
            queue_type: "memory".into(),
            path_queue: None,
            queue_page_capacity: d.page_capacity,
            queue_max_bytes: d.max_bytes,
            queue_max_events: d.max_events,
            queue_checkpoint_acks: d.checkpoint_acks,
            queue_checkpoint_writes: d.checkpoint_writes,
            queue_checkpoint_interval: d.checkpoint_interval.as_millis() as u64,
            queue_drain: d.drain,
        }
    }
}

impl QueueArgs {
    /// The runner's settings; errors name the setting.
    pub fn settings(&self) -> Result<logstash_mesos_pipeline::queue::QueueSettings, String> {
        use logstash_mesos_pipeline::queue::{QueueSettings, QueueType};
        let kind = match self.queue_type.as_str() {
            "memory" => QueueType::Memory,
            "persisted" => QueueType::Persisted,
            other => {
                return Err(format!(
                    "queue.type: expected memory or persisted, got {other:?}"
                ))
            }
        };
        let q = QueueSettings {
            kind,
            path: self.path_queue.clone(),
            page_capacity: self.queue_page_capacity,
            max_events: self.queue_max_events,
            max_bytes: self.queue_max_bytes,
            checkpoint_acks: self.queue_checkpoint_acks,
            checkpoint_writes: self.queue_checkpoint_writes,
            checkpoint_interval: std::time::Duration::from_millis(self.queue_checkpoint_interval),
            drain: self.queue_drain,
        };
        if kind == QueueType::Persisted {
            q.validate()?;
        }
        Ok(q)
    }
}

/// A setting size as Logstash reads one (`64mb`, powers of 1024).
fn setting_size(v: &str) -> Result<u64, String> {
    logstash_mesos_pipeline::units::parse_setting_bytes(v)
        .ok_or_else(|| format!("expected a size such as 1024mb, got {v:?}"))
}

impl RunArgs {
    /// Records which of these flags `matches` got from the command line.
    pub fn note_explicit(&mut self, matches: &clap::ArgMatches) {
        self.explicit = matches
            .ids()
            .filter(|id| {
                matches.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|id| id.as_str().to_string())
            .collect();
    }
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Check only the grammar and the rules that need no plugin (unknown plugin names pass).
    #[arg(long = "syntax-only")]
    pub syntax_only: bool,
}
