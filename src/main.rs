//! The `logstash-mesos` binary: `run` (default) / `check` a pipeline, `agent`, `scheduler`.
//!
//! Exit codes: 0 success, 1 invalid configuration or runtime failure, 2 usage error.

mod agent_cmd;
mod cli;
mod pipeline;
mod pipelines;
#[cfg(test)]
mod reference;
mod reload;
mod runtime;
mod settings;

use clap::{CommandFactory, FromArgMatches};

// glibc's allocator was a third of the CPU time of a grok pipeline (events are many small
// strings and maps); mimalloc's thread-local free lists cut that sharply.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use cli::{Cli, Command};

fn main() {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let code = match cli.command {
        None => {
            let mut args = cli.run;
            args.note_explicit(&matches);
            pipeline::run(args)
        }
        Some(Command::Run(mut args)) => {
            if let Some(m) = matches.subcommand_matches("run") {
                args.note_explicit(m);
            }
            pipeline::run(args)
        }
        Some(Command::Check(mut c)) => {
            if let Some(m) = matches.subcommand_matches("check") {
                c.run.note_explicit(m);
            }
            pipeline::check(c.run, c.syntax_only)
        }
        Some(Command::Agent(a)) => agent_cmd::run(a),
        Some(Command::Scheduler(opts)) => runtime_then(
            || logstash_mesos_scheduler::run(opts, logstash_mesos_agent::plugins::registry()),
            "info",
        ),
    };
    std::process::exit(code);
}

fn runtime_then<F, Fut>(f: F, level: &str) -> i32
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    pipeline::init_logging(level);
    runtime::exit_code(runtime::block_on(runtime::Threads::PerCore, async {
        f().await.map(|()| 0)
    }))
}
