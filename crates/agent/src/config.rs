//! The `docker` input's options and the container matcher.

use logstash_mesos_core::Map;
use logstash_mesos_pipeline::codecs::multiline::{self, MultilineOptions};
use logstash_mesos_pipeline::options::{Args, BuildError, OptKind, OptSpec};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Options of the `docker` input (besides the common input options).
pub static OPTIONS: &[OptSpec] = &[
    // image: array of globs, default none (any image)
    OptSpec::new(
        "image",
        OptKind::Array,
        "image name globs (`nginx:*`); any matches",
    ),
    // image_regex: array of regexes, default none
    OptSpec::new(
        "image_regex",
        OptKind::Array,
        "image name regular expressions; any matches",
    ),
    // labels: hash label => glob, default none; all must match
    OptSpec::new(
        "labels",
        OptKind::Hash,
        "container labels that must all match (values are globs)",
    ),
    // name: array of globs, default none
    OptSpec::new(
        "name",
        OptKind::Array,
        "container name globs (without the leading /)",
    ),
    // mesos_framework: string, default none
    OptSpec::new(
        "mesos_framework",
        OptKind::String,
        "only containers of this Mesos framework (name or id)",
    ),
    // path: array of globs, default none
    OptSpec::new(
        "path",
        OptKind::Array,
        "files inside the container to tail (globs allowed)",
    ),
    // stdout / stderr: boolean, default true
    OptSpec::new(
        "stdout",
        OptKind::Boolean,
        "read the container's stdout through the logs API",
    )
    .default("true"),
    OptSpec::new(
        "stderr",
        OptKind::Boolean,
        "read the container's stderr through the logs API",
    )
    .default("true"),
    // docker_host: string, default $DOCKER_HOST or the unix socket
    OptSpec::new(
        "docker_host",
        OptKind::String,
        "unix:///path, tcp://host:port (default: $DOCKER_HOST)",
    ),
    OptSpec::new(
        "tls_verify",
        OptKind::Boolean,
        "use TLS with the certificates in tls_cert_path",
    )
    .default("false"),
    OptSpec::new(
        "tls_cert_path",
        OptKind::Path,
        "directory with ca.pem, cert.pem, key.pem (default: $DOCKER_CERT_PATH)",
    ),
    // poll_interval: seconds between checks of a file inside the container, default 1
    OptSpec::new(
        "poll_interval",
        OptKind::Number,
        "seconds between reads of a file inside the container",
    )
    .default("1"),
    OptSpec::new(
        "glob_interval",
        OptKind::Number,
        "seconds between re-expansions of path globs",
    )
    .default("10"),
    MAX_LINE_BYTES,
    MULTILINE,
];

/// `max_line_bytes`, shared by the docker and mesos inputs.
pub const MAX_LINE_BYTES: OptSpec = OptSpec::new(
    "max_line_bytes",
    OptKind::Number,
    "longer lines are cut and tagged _linetoolong",
)
.default("16777216");

/// `multiline`: the multiline codec's options as a hash (docker and mesos inputs).
pub const MULTILINE: OptSpec = OptSpec::new(
    "multiline",
    OptKind::Hash,
    "join lines: { pattern => .. negate => .. what => previous|next }",
);

/// Matches containers against the input's selection.
#[derive(Clone, Debug, Default)]
pub struct Matcher {
    pub images: Vec<glob::Pattern>,
    pub image_regex: Vec<regex::Regex>,
    pub labels: Vec<(String, glob::Pattern)>,
    pub names: Vec<glob::Pattern>,
    pub mesos_framework: Option<String>,
}

/// The facts about a container the matcher and the events need.
#[derive(Clone, Debug, Default)]
pub struct ContainerMeta {
    pub id: String,
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub mesos_task_id: Option<String>,
    pub mesos_framework_id: Option<String>,
    pub mesos_framework_name: Option<String>,
}

impl ContainerMeta {
    /// Fills the Mesos ids from the environment Mesos and Marathon set, or labels.
    pub fn with_env(mut self, env: &[String]) -> Self {
        let get = |k: &str| {
            env.iter().find_map(|e| {
                e.strip_prefix(k)
                    .and_then(|r| r.strip_prefix('='))
                    .map(str::to_string)
            })
        };
        let label = |k: &str| self.labels.get(k).cloned();
        self.mesos_task_id = get("MESOS_TASK_ID")
            .or_else(|| label("MESOS_TASK_ID"))
            .or_else(|| label("mesos.task_id"));
        self.mesos_framework_id = get("MESOS_FRAMEWORK_ID")
            .or_else(|| label("MESOS_FRAMEWORK_ID"))
            .or_else(|| label("mesos.framework_id"));
        self.mesos_framework_name = get("MESOS_FRAMEWORK_NAME")
            .or_else(|| label("mesos.framework_name"))
            .or_else(|| get("MARATHON_APP_ID").map(|_| "marathon".to_string()))
            .or_else(|| get("CHRONOS_JOB_NAME").map(|_| "chronos".to_string()));
        self
    }
}

impl Matcher {
    pub fn matches(&self, c: &ContainerMeta) -> bool {
        let image_ok = (self.images.is_empty() && self.image_regex.is_empty())
            || self.images.iter().any(|p| p.matches(&c.image))
            || self.image_regex.iter().any(|r| r.is_match(&c.image));
        let name_ok = self.names.is_empty() || self.names.iter().any(|p| p.matches(&c.name));
        let labels_ok = self
            .labels
            .iter()
            .all(|(k, p)| c.labels.get(k).is_some_and(|v| p.matches(v)));
        let fw_ok = match &self.mesos_framework {
            None => true,
            Some(f) => {
                c.mesos_framework_name.as_deref() == Some(f)
                    || c.mesos_framework_id.as_deref() == Some(f)
            }
        };
        image_ok && name_ok && labels_ok && fw_ok
    }
}

/// Compiles the `multiline` hash with the `multiline` codec's own option rules (the same
/// names, defaults and checks), reporting errors under `multiline`.
fn multiline_options(hash: &Map) -> Result<MultilineOptions, BuildError> {
    let mut args = Args::for_plugin(
        logstash_mesos_pipeline::registry::Kind::Codec,
        multiline::OPTIONS,
    );
    for (k, v) in hash.iter() {
        let k: &str = k;
        if !multiline::OPTIONS.iter().any(|o| o.name == k) {
            return Err(BuildError::option(
                "multiline",
                format!("unknown key {k:?}; expected pattern, what, negate, max_lines, ..."),
            ));
        }
        args = args.with(k, v.clone());
    }
    multiline::options(&args).map_err(|e| {
        let what = match &e.option {
            Some(o) => format!("{o}: {}", e.message),
            None => e.message,
        };
        BuildError::option("multiline", what)
    })
}

/// The validated options.
#[derive(Clone, Debug)]
pub struct DockerConfig {
    pub matcher: Matcher,
    pub paths: Vec<String>,
    pub stdout: bool,
    pub stderr: bool,
    pub docker_host: Option<String>,
    pub tls_cert_path: Option<String>,
    pub tls_verify: bool,
    pub poll_interval: Duration,
    pub glob_interval: Duration,
    pub max_line_bytes: usize,
    /// The `multiline` hash: the multiline codec's options, compiled by the codec.
    pub multiline: Option<Arc<MultilineOptions>>,
}

impl DockerConfig {
    /// Validates every option, returning all errors at once.
    pub fn from_args(args: &Args) -> Result<DockerConfig, Vec<BuildError>> {
        let mut errs = Vec::new();
        // Lines are framed (and joined by `multiline`) per stream by the input itself, and
        // events always carry ECS names ([container], [log][file][path]): say so rather
        // than accept settings that would be ignored.
        if let Some(c) = args.codec_spec("codec") {
            if args.contains("codec") && c.name != "plain" && c.name != "line" {
                errs.push(BuildError::option(
                    "codec",
                    format!(
                        "the docker input reads plain lines; codec {:?} is not supported here \
                         (join lines with the input's `multiline` option, parse JSON with the json filter)",
                        c.name
                    ),
                ));
            }
        }
        if args.string("ecs_compatibility").as_deref() == Some("disabled") {
            errs.push(BuildError::option(
                "ecs_compatibility",
                "the docker input writes ECS field names only ([container][...], [log][file][path])",
            ));
        }
        let mut globs = |name: &str| -> Vec<glob::Pattern> {
            args.strings(name)
                .iter()
                .filter_map(|s| match glob::Pattern::new(s) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        errs.push(BuildError::option(name, format!("invalid glob {s:?}: {e}")));
                        None
                    }
                })
                .collect()
        };
        let images = globs("image");
        let names = globs("name");
        let mut image_regex = Vec::new();
        for s in args.strings("image_regex") {
            match regex::Regex::new(&s) {
                Ok(r) => image_regex.push(r),
                Err(e) => errs.push(BuildError::option(
                    "image_regex",
                    format!("invalid regex {s:?}: {e}"),
                )),
            }
        }
        let mut labels = Vec::new();
        for (k, v) in args.hash("labels") {
            let v = v.to_logstash_string();
            match glob::Pattern::new(&v) {
                Ok(p) => labels.push((k, p)),
                Err(e) => errs.push(BuildError::option(
                    "labels",
                    format!("invalid glob {v:?} for label {k:?}: {e}"),
                )),
            }
        }
        let paths = args.strings("path");
        for p in &paths {
            if !p.starts_with('/') {
                errs.push(BuildError::option(
                    "path",
                    format!("expected an absolute path inside the container, got {p:?}"),
                ));
            }
            if p.contains(['\'', '\n', '\0']) {
                errs.push(BuildError::option(
                    "path",
                    format!("path {p:?} contains a quote or control character"),
                ));
            }
        }
        let secs = |name: &str, default: f64, errs: &mut Vec<BuildError>| -> Duration {
            let v = args.f64(name).unwrap_or(default);
            if !(0.05..=3600.0).contains(&v) {
                errs.push(BuildError::option(
                    name,
                    format!("expected seconds between 0.05 and 3600, got {v}"),
                ));
                return Duration::from_secs_f64(default);
            }
            Duration::from_secs_f64(v)
        };
        let poll_interval = secs("poll_interval", 1.0, &mut errs);
        let glob_interval = secs("glob_interval", 10.0, &mut errs);
        let max_line_bytes = args.i64("max_line_bytes").unwrap_or_default();
        if max_line_bytes < 1 {
            errs.push(BuildError::option(
                "max_line_bytes",
                "expected a positive number of bytes",
            ));
        }
        let multiline = match args.hash_map("multiline") {
            None => None,
            Some(m) => match multiline_options(m) {
                Ok(o) => Some(Arc::new(o)),
                Err(e) => {
                    errs.push(e);
                    None
                }
            },
        };
        let cfg = DockerConfig {
            matcher: Matcher {
                images,
                image_regex,
                labels,
                names,
                mesos_framework: args.string("mesos_framework"),
            },
            paths,
            stdout: args.flag("stdout"),
            stderr: args.flag("stderr"),
            docker_host: args.string("docker_host"),
            tls_cert_path: args.string("tls_cert_path"),
            tls_verify: args.flag("tls_verify"),
            poll_interval,
            glob_interval,
            max_line_bytes: max_line_bytes.max(1) as usize,
            multiline,
        };
        if errs.is_empty() {
            Ok(cfg)
        } else {
            Err(errs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::Value;

    fn meta() -> ContainerMeta {
        ContainerMeta {
            id: "abc".into(),
            name: "web-1".into(),
            image: "nginx:1.25".into(),
            labels: [("app".to_string(), "shop".to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        }
        .with_env(&[
            "MARATHON_APP_ID=/shop".into(),
            "MESOS_TASK_ID=shop.1".into(),
        ])
    }

    #[test]
    fn matches_all_criteria() {
        let args = Args::for_plugin(logstash_mesos_pipeline::registry::Kind::Input, OPTIONS)
            .with(
                "image",
                Value::Array(vec!["nginx:*".into(), "registry.example.com/shop/*".into()]),
            )
            .with(
                "labels",
                Value::from(
                    [("app".to_string(), Value::from("shop"))]
                        .into_iter()
                        .collect::<logstash_mesos_core::Map>(),
                ),
            )
            .with("name", Value::from("web-*"))
            .with("mesos_framework", Value::from("marathon"));
        let cfg = DockerConfig::from_args(&args).unwrap();
        let m = meta();
        assert_eq!(m.mesos_task_id.as_deref(), Some("shop.1"));
        assert!(cfg.matcher.matches(&m));
        let mut other = m.clone();
        other.labels.insert("app".into(), "blog".into());
        assert!(!cfg.matcher.matches(&other));
        let mut other = m.clone();
        other.image = "redis:7".into();
        assert!(!cfg.matcher.matches(&other));
        let mut other = m;
        other.mesos_framework_name = None;
        assert!(!cfg.matcher.matches(&other));
    }

    #[test]
    fn reports_every_error() {
        let args = Args::for_plugin(logstash_mesos_pipeline::registry::Kind::Input, OPTIONS)
            .with("image", Value::from("[oops"))
            .with("image_regex", Value::from("("))
            .with("path", Value::from("relative.log"))
            .with("poll_interval", Value::Integer(0));
        let errs = DockerConfig::from_args(&args).unwrap_err();
        let opts: Vec<_> = errs.iter().filter_map(|e| e.option.clone()).collect();
        assert_eq!(opts, ["image", "image_regex", "path", "poll_interval"]);
    }
}

#[cfg(test)]
mod multiline_tests {
    use super::*;
    use logstash_mesos_core::Value;

    fn with_multiline(pairs: &[(&str, Value)]) -> Result<DockerConfig, Vec<BuildError>> {
        let hash: Map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        DockerConfig::from_args(
            &Args::for_plugin(logstash_mesos_pipeline::registry::Kind::Input, OPTIONS)
                .with("multiline", Value::from(hash)),
        )
    }

    #[test]
    fn multiline_hash_takes_the_codec_options_and_defaults() {
        let cfg = with_multiline(&[
            ("pattern", "^\\s".into()),
            ("what", "next".into()),
            ("negate", "true".into()),
            ("max_lines", Value::Integer(7)),
            ("max_bytes", "1 KiB".into()),
        ])
        .expect("valid");
        let m = cfg.multiline.expect("multiline set");
        assert_eq!(m.what, multiline::What::Next);
        assert!(m.negate);
        assert_eq!((m.max_lines, m.max_bytes), (7, 1024));
        assert_eq!(m.multiline_tag, "multiline", "the codec's default");
    }

    #[test]
    fn multiline_errors_name_the_option_and_the_key() {
        let msg = |pairs: &[(&str, Value)]| {
            let errs = with_multiline(pairs).err().expect("invalid");
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert_eq!(errs[0].option.as_deref(), Some("multiline"));
            errs[0].message.clone()
        };
        assert!(msg(&[("what", "previous".into())]).starts_with("pattern:"));
        assert!(msg(&[("pattern", "(".into()), ("what", "previous".into())])
            .contains("invalid regular expression"));
        assert!(msg(&[("pattern", "x".into())]).starts_with("what:"));
        assert!(msg(&[
            ("pattern", "x".into()),
            ("what", "next".into()),
            ("max_line", Value::Integer(3))
        ])
        .contains("unknown key \"max_line\""));
    }
}
