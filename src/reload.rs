//! `-r` / `--config.reload.automatic`: poll the config files; when their text changes and
//! the new text is valid, hand it back so the running pipeline can be drained and replaced.
//! An invalid change is reported and the running pipeline keeps going.

use crate::cli::RunArgs;
use logstash_mesos_pipeline::load::{self, Loaded};
use std::time::Duration;

/// How often `-r` polls `args`' files; `None` when nothing is watched (no `-r`, or the
/// config came from `-e`).
pub fn watching(args: &RunArgs) -> Option<Duration> {
    (args.reload && !args.path_config.is_empty())
        .then(|| Duration::from_secs(args.reload_interval.max(1)))
}

/// The next config `supervise` swaps in for a pipeline run from `args`: the next valid
/// change of its files under `-r`, never otherwise.
pub async fn next_config(args: RunArgs, current: String) -> Loaded {
    match watching(&args) {
        Some(interval) => wait_for_change(&args, &current, interval).await,
        None => std::future::pending().await,
    }
}

/// Waits until the files behind `args` hold a valid config different from `current`. Each
/// poll reads the files once; the text read is the text parsed.
pub async fn wait_for_change(args: &RunArgs, current: &str, interval: Duration) -> Loaded {
    let mut last_bad = String::new();
    loop {
        tokio::time::sleep(interval).await;
        let Ok(sources) = load::read(&args.path_config, args.config_string.as_deref()) else {
            continue;
        };
        if sources.text() == current || sources.text() == last_bad {
            continue;
        }
        let text = sources.text().to_string();
        match crate::pipeline::parse_sources(sources, args) {
            Some(next) => return next,
            None => {
                tracing::error!("configuration changed but is invalid (errors above): keeping the running pipeline");
                last_bad = text;
            }
        }
    }
}
