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
