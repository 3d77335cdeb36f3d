//! `-r` / `--config.reload.automatic`: poll the config files; when their text changes and
//! the new text is valid, hand it back so the running pipeline can be drained and replaced.
//! An invalid change is reported and the running pipeline keeps going.

use crate::cli::RunArgs;
use logstash_mesos_pipeline::lang::ast::Config;
use logstash_mesos_pipeline::lang::source::Sources;
use std::time::Duration;

/// Waits until the files behind `args` hold a valid config different from `current`.
pub async fn wait_for_change(
    args: &RunArgs,
    current: &str,
    interval: Duration,
) -> (Sources, Config) {
    let mut last_bad = String::new();
    loop {
        tokio::time::sleep(interval).await;
        let Ok(sources) =
            crate::config_load::load(&args.path_config, args.config_string.as_deref())
        else {
            continue;
        };
        if sources.text() == current || sources.text() == last_bad {
            continue;
        }
        match crate::pipeline::load_and_parse(args) {
            Some(next) => return next,
            None => {
                tracing::error!("configuration changed but is invalid (errors above): keeping the running pipeline");
                last_bad = sources.text().to_string();
            }
        }
    }
}
