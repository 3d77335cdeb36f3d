//! `--path.settings`: `logstash.yml` (the process's defaults) and `pipelines.yml` (several
//! pipelines in one process), applied to the same [`RunArgs`] the flags fill.
//!
//! Precedence, as Logstash's: a pipeline's entry in `pipelines.yml` over the flags given on
//! the command line over `logstash.yml` over the built-in defaults. `-f`/`-e` run one
//! pipeline and `pipelines.yml` is then ignored (with Logstash's warning).

use crate::cli::RunArgs;
use logstash_mesos_pipeline::settings_file::{self, Flat, SettingsError};
use std::path::{Path, PathBuf};

/// Settings Logstash knows that do not change what this process does (monitoring, its
/// HTTP API, log files, class loaders); accepted with a warning so existing files load.
const IGNORED: &[&str] = &[
    "xpack.",
    "monitoring.",
    "api.",
    "http.",
    "cloud.",
    "modules",
    "node.name",
    "path.logs",
    "path.plugins",
    "path.dead_letter_queue",
    "log.format",
    "config.debug",
    "pipeline.ordered",
    "pipeline.unsafe_shutdown",
    "pipeline.separate_logs",
    "pipeline.plugin_classloaders",
    "pipeline.system",
    "pipeline.buffer.type",
    // Windows only in Logstash (retrying a checkpoint rename).
    "queue.checkpoint.retry",
    "dead_letter_queue.flush_interval",
    "dead_letter_queue.retain.",
    "allow_superuser",
];

/// Why a setting cannot be applied.
fn bad(file: &Path, key: &str, message: impl std::fmt::Display) -> SettingsError {
    SettingsError {
        file: file.to_path_buf(),
        position: None,
        message: format!("{key}: {message}"),
    }
}

fn parse<T: std::str::FromStr>(
    file: &Path,
    key: &str,
    v: &str,
    what: &str,
) -> Result<T, SettingsError> {
    v.trim()
        .parse()
        .map_err(|_| bad(file, key, format!("expected {what}, got {v:?}")))
}

fn boolean(file: &Path, key: &str, v: &str) -> Result<bool, SettingsError> {
    match v.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(file, key, format!("expected true or false, got {v:?}"))),
    }
}

/// A Logstash time value (`3s`, `500ms`, `1m`; a bare number is seconds) in whole
/// seconds, at least one.
fn seconds(file: &Path, key: &str, v: &str) -> Result<u64, SettingsError> {
    logstash_mesos_pipeline::units::parse_duration(v, 1.0)
        .map(|d| d.as_secs_f64().ceil().max(1.0) as u64)
        .ok_or_else(|| {
            bad(
                file,
                key,
                format!("expected a time value such as 3s, got {v:?}"),
            )
        })
}

/// A Logstash setting size (`1024mb`): its `ByteValue` counts kb, mb, gb, tb in powers of
/// 1024 (unlike plugin options, whose `kB` is 1000).
fn setting_bytes(file: &Path, key: &str, v: &str) -> Result<u64, SettingsError> {
    logstash_mesos_pipeline::units::parse_setting_bytes(v).ok_or_else(|| {
        bad(
            file,
            key,
            format!("expected a size such as 1024mb, got {v:?}"),
        )
    })
}

/// Applies `flat` to `args`, except the settings in `keep` (given on the command line).
pub fn apply(
    file: &Path,
    flat: &Flat,
    args: &mut RunArgs,
    keep: &[String],
    warnings: &mut Vec<String>,
) -> Result<(), SettingsError> {
    for (key, v) in &flat.0 {
        let field = field_of(key);
        if field.is_some_and(|f| keep.iter().any(|k| k == f)) {
            continue;
        }
        match key.as_str() {
            "path.data" => args.path_data = PathBuf::from(v),
            "pipeline.id" => args.pipeline_id = v.clone(),
            "pipeline.workers" => args.workers = Some(parse(file, key, v, "a number of workers")?),
            "pipeline.batch.size" => args.batch_size = parse(file, key, v, "a batch size")?,
            "pipeline.batch.delay" => args.batch_delay = parse(file, key, v, "milliseconds")?,
            "pipeline.ecs_compatibility" => args.ecs = v.clone(),
            "config.reload.automatic" => args.reload = boolean(file, key, v)?,
            "config.reload.interval" => args.reload_interval = seconds(file, key, v)?,
            "config.support_escapes" => args.support_escapes = boolean(file, key, v)?,
            "dead_letter_queue.enable" => args.dlq_enable = boolean(file, key, v)?,
            "dead_letter_queue.max_bytes" => args.dlq_max_bytes = setting_bytes(file, key, v)?,
            "dead_letter_queue.storage_policy" => args.dlq_storage_policy = v.clone(),
            "log.level" => args.log_level = v.clone(),
            "path.config" => {
                args.path_config = vec![v.clone()];
                args.config_string = None;
            }
            "config.string" => {
                args.config_string = Some(v.clone());
                args.path_config.clear();
            }
            "queue.type" => match v.trim() {
                t @ ("memory" | "persisted") => args.queue.queue_type = t.to_string(),
                other => {
                    return Err(bad(
                        file,
                        key,
                        format!("expected memory or persisted, got {other:?}"),
                    ))
                }
            },
            "path.queue" => args.queue.path_queue = Some(PathBuf::from(v)),
            "queue.page_capacity" => args.queue.queue_page_capacity = setting_bytes(file, key, v)?,
            "queue.max_bytes" => args.queue.queue_max_bytes = setting_bytes(file, key, v)?,
            "queue.max_events" => {
                args.queue.queue_max_events = parse(file, key, v, "a number of events")?
            }
            "queue.checkpoint.acks" => {
                args.queue.queue_checkpoint_acks = parse(file, key, v, "a number of events")?
            }
            "queue.checkpoint.writes" => {
                args.queue.queue_checkpoint_writes = parse(file, key, v, "a number of events")?
            }
            "queue.checkpoint.interval" => {
                args.queue.queue_checkpoint_interval = parse(file, key, v, "milliseconds")?
            }
            "queue.drain" => args.queue.queue_drain = boolean(file, key, v)?,
            _ if IGNORED.iter().any(|p| key.starts_with(p)) => {
                warnings.push(format!(
                    "{}: {key}: accepted and ignored (it does not apply to logstash-mesos)",
                    file.display()
                ));
            }
            _ => return Err(bad(file, key, "unknown setting")),
        }
    }
    Ok(())
}

/// The [`RunArgs`] field a setting fills (the clap id of its flag).
fn field_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "path.data" => "path_data",
        "pipeline.id" => "pipeline_id",
        "pipeline.workers" => "workers",
        "pipeline.batch.size" => "batch_size",
        "pipeline.batch.delay" => "batch_delay",
        "pipeline.ecs_compatibility" => "ecs",
        "config.reload.automatic" => "reload",
        "config.reload.interval" => "reload_interval",
        "config.support_escapes" => "support_escapes",
        "dead_letter_queue.enable" => "dlq_enable",
        "dead_letter_queue.max_bytes" => "dlq_max_bytes",
        "dead_letter_queue.storage_policy" => "dlq_storage_policy",
        "log.level" => "log_level",
        "path.config" => "path_config",
        "config.string" => "config_string",
        "queue.type" => "queue_type",
        "path.queue" => "path_queue",
        "queue.page_capacity" => "queue_page_capacity",
        "queue.max_bytes" => "queue_max_bytes",
        "queue.max_events" => "queue_max_events",
        "queue.checkpoint.acks" => "queue_checkpoint_acks",
        "queue.checkpoint.writes" => "queue_checkpoint_writes",
        "queue.checkpoint.interval" => "queue_checkpoint_interval",
        "queue.drain" => "queue_drain",
        _ => return None,
    })
}

/// What `--path.settings` asks for.
pub enum Plan {
    /// One pipeline (`-f`/`-e`, or the config named in logstash.yml).
    One(RunArgs),
    /// The pipelines of `pipelines.yml`, each with its settings.
    Many(Vec<RunArgs>),
}

fn read(path: &Path) -> Result<Option<String>, SettingsError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SettingsError {
            file: path.to_path_buf(),
            position: None,
            message: format!("cannot read: {e}"),
        }),
    }
}

/// Reads `--path.settings` (when given) and decides what runs; also returns the warnings
/// to log once logging is set up (logstash.yml may set `log.level`).
pub fn plan(args: RunArgs) -> Result<(Plan, Vec<String>), SettingsError> {
    let mut warnings = Vec::new();
    let Some(dir) = args.path_settings.clone() else {
        return Ok((Plan::One(args), warnings));
    };
    if !dir.is_dir() {
        return Err(SettingsError {
            file: dir,
            position: None,
            message: "--path.settings: not a directory".into(),
        });
    }
    let mut base = args.clone();
    let ls_yml = dir.join("logstash.yml");
    if let Some(text) = read(&ls_yml)? {
        let flat = settings_file::parse_logstash_yml(&ls_yml, &text)?;
        apply(&ls_yml, &flat, &mut base, &args.explicit, &mut warnings)?;
    }
    let from_cli = !args.path_config.is_empty() || args.config_string.is_some();
    let pl_yml = dir.join("pipelines.yml");
    let pipelines = read(&pl_yml)?;
    if from_cli || (pipelines.is_none()) {
        if from_cli && pipelines.is_some() {
            warnings.push(
                "Ignoring the 'pipelines.yml' file because modules or command line options are specified"
                    .to_string(),
            );
        }
        return Ok((Plan::One(base), warnings));
    }
    let text = pipelines.unwrap_or_default();
    let entries = settings_file::parse_pipelines_yml(&pl_yml, &text)?;
    let mut out = Vec::with_capacity(entries.len());
    for (i, flat) in entries.iter().enumerate() {
        let mut p = base.clone();
        // The config source comes from the entry only.
        p.path_config.clear();
        p.config_string = None;
        apply(&pl_yml, flat, &mut p, &[], &mut warnings).map_err(|mut e| {
            e.message = format!(
                "pipeline {:?}: {}",
                flat.get("pipeline.id").unwrap_or(&(i + 1).to_string()),
                e.message
            );
            e
        })?;
        if p.path_config.is_empty() && p.config_string.is_none() {
            return Err(bad(
                &pl_yml,
                &format!("pipeline {:?}", p.pipeline_id),
                "needs path.config or config.string",
            ));
        }
        out.push(p);
    }
    Ok((Plan::Many(out), warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        for (n, t) in files {
            std::fs::write(d.path().join(n), t).expect("write");
        }
        d
    }

    fn args(dir: &Path) -> RunArgs {
        RunArgs {
            path_settings: Some(dir.to_path_buf()),
            batch_size: 125,
            batch_delay: 50,
            reload_interval: 3,
            ..RunArgs::default()
        }
    }

    #[test]
    fn pipelines_inherit_logstash_yml_and_override_it() {
        let d = dir(&[
            ("logstash.yml", "pipeline.workers: 4\npipeline:\n  batch:\n    size: 500\npath.data: /tmp/x\nxpack.monitoring.enabled: false\n"),
            ("pipelines.yml", "- pipeline.id: a\n  config.string: \"input { stdin {} }\"\n  pipeline.workers: 1\n- pipeline.id: b\n  path.config: /etc/b/*.conf\n  config.reload.automatic: true\n  config.reload.interval: 10s\n"),
        ]);
        let (Plan::Many(p), warnings) = plan(args(d.path())).expect("valid") else {
            panic!("expected several pipelines")
        };
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].pipeline_id.as_str(), p[0].workers, p[0].batch_size),
            ("a", Some(1), 500)
        );
        assert_eq!(p[0].config_string.as_deref(), Some("input { stdin {} }"));
        assert_eq!(
            (p[1].workers, p[1].reload, p[1].reload_interval),
            (Some(4), true, 10)
        );
        assert_eq!(p[1].path_config, vec!["/etc/b/*.conf".to_string()]);
        assert_eq!(p[1].path_data, PathBuf::from("/tmp/x"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("xpack.monitoring.enabled: accepted and ignored"));
    }

    #[test]
    fn flags_given_win_over_logstash_yml() {
        let d = dir(&[(
            "logstash.yml",
            "pipeline.workers: 4\npipeline.batch.size: 7\n",
        )]);
        let mut a = args(d.path());
        a.workers = Some(2);
        a.explicit = vec!["workers".into()];
        a.config_string = Some("input { stdin {} }".into());
        let (Plan::One(one), _) = plan(a).expect("valid") else {
            panic!("expected one pipeline")
        };
        assert_eq!((one.workers, one.batch_size), (Some(2), 7));
    }

    #[test]
    fn unknown_and_bad_settings_are_errors_naming_file_and_key() {
        let d = dir(&[("logstash.yml", "pipeline.wrokers: 4\n")]);
        let e = plan(args(d.path())).err().expect("unknown");
        assert!(
            e.to_string()
                .ends_with("logstash.yml: pipeline.wrokers: unknown setting"),
            "{e}"
        );
        let d = dir(&[(
            "pipelines.yml",
            "- pipeline.id: a\n  config.string: x\n  pipeline.workers: many\n",
        )]);
        let e = plan(args(d.path())).err().expect("bad number");
        assert!(
            e.to_string().contains(
                "pipeline \"a\": pipeline.workers: expected a number of workers, got \"many\""
            ),
            "{e}"
        );
        let d = dir(&[("pipelines.yml", "- pipeline.id: a\n")]);
        let e = plan(args(d.path())).err().expect("no config");
        assert!(
            e.to_string().contains("needs path.config or config.string"),
            "{e}"
        );
    }
}
