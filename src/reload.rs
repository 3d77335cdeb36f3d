//! `-r` / `--config.reload.automatic`: poll the config files; when their text changes and
//! the new text is valid, hand it back so the running pipeline can be drained and replaced.
//! An invalid change is reported and the running pipeline keeps going.

use crate::cli::RunArgs;
use logstash_mesos_pipeline::load::{self, Loaded};
use std::time::Duration;

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
