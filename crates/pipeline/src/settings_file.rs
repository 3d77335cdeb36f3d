//! `logstash.yml` and `pipelines.yml` as Logstash reads them from `--path.settings`: YAML
//! whose nested keys and dotted keys mean the same (`pipeline: {workers: 2}` is
//! `pipeline.workers: 2`), scalar values taken as text, `${VAR}` and `${VAR:default}`
//! resolved from the environment.
//!
//! This module only reads the files into flat key → value lists; which keys exist and
//! what they mean is decided where the settings are applied (the binary's `settings.rs`).

use std::fmt;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

/// One flat settings map, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flat(pub Vec<(String, String)>);

impl Flat {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A settings file that cannot be used: the file, where (when known) and why.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingsError {
    pub file: PathBuf,
    /// 1-based line and column, when the YAML parser gave one.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((l, c)) => write!(f, "{}:{l}:{c}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for SettingsError {}

fn parse_yaml(file: &Path, text: &str) -> Result<Option<Yaml>, SettingsError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| {
        let m = e.marker();
        SettingsError {
            file: file.to_path_buf(),
            position: Some((m.line(), m.col() + 1)),
            message: format!("invalid YAML: {}", e.info()),
        }
    })?;
    Ok(docs.into_iter().next())
}

/// A scalar as text (`true`, `3`, `"x"` → `"true"`, `"3"`, `"x"`); lists of scalars are
/// joined with commas (as `path.config` globs are).
fn scalar(y: &Yaml) -> Option<String> {
    Some(match y {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Array(items) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<_>>>()?
            .join(","),
        _ => return None,
    })
}

fn flatten(
    file: &Path,
    prefix: &str,
    y: &Yaml,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut Vec<(String, String)>,
) -> Result<(), SettingsError> {
    let Yaml::Hash(h) = y else {
        return Err(SettingsError {
            file: file.to_path_buf(),
            position: None,
            message: format!("expected a mapping of settings, got {}", kind(y)),
        });
    };
    for (k, v) in h {
        let Some(key) = scalar(k) else {
            return Err(SettingsError {
                file: file.to_path_buf(),
                position: None,
                message: format!("a setting name must be text, got {}", kind(k)),
            });
        };
        let key = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match v {
            Yaml::Hash(_) => flatten(file, &key, v, env, out)?,
            Yaml::Null => {}
            other => {
                let Some(text) = scalar(other) else {
                    return Err(SettingsError {
                        file: file.to_path_buf(),
                        position: None,
                        message: format!("{key}: expected a value, got {}", kind(other)),
                    });
                };
                let text = substitute(&text, env).map_err(|name| SettingsError {
                    file: file.to_path_buf(),
                    position: None,
                    message: format!(
                        "{key}: cannot evaluate `${{{name}}}`: the environment variable {name} is not set and no default is given"
                    ),
                })?;
                out.push((key, text));
            }
        }
    }
    Ok(())
}

fn kind(y: &Yaml) -> &'static str {
    match y {
        Yaml::Hash(_) => "a mapping",
        Yaml::Array(_) => "a list",
        Yaml::Null => "nothing",
        _ => "a value",
    }
}

/// `${VAR}` / `${VAR:default}`; `Err(name)` for an unset variable without a default.
fn substitute(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..start + len];
        let (name, default) = match inner.split_once(':') {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match env(name).or_else(|| default.map(String::from)) {
            Some(v) => out.push_str(&v),
            None => return Err(name.to_string()),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads `logstash.yml` text: one flat map (an empty file is an empty map).
pub fn parse_logstash_yml(file: &Path, text: &str) -> Result<Flat, SettingsError> {
    parse_logstash_yml_with(file, text, &process_env)
}

pub fn parse_logstash_yml_with(
    file: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Flat, SettingsError> {
    let mut out = Vec::new();
    if let Some(doc) = parse_yaml(file, text)? {
        if !matches!(doc, Yaml::Null) {
            flatten(file, "", &doc, env, &mut out)?;
        }
    }
    Ok(Flat(out))
}

/// Reads `pipelines.yml` text: one flat map per pipeline, in file order. Every entry needs
/// a `pipeline.id`, unique in the file.
pub fn parse_pipelines_yml(file: &Path, text: &str) -> Result<Vec<Flat>, SettingsError> {
    parse_pipelines_yml_with(file, text, &process_env)
}

pub fn parse_pipelines_yml_with(
    file: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Flat>, SettingsError> {
    let err = |message: String| SettingsError {
        file: file.to_path_buf(),
        position: None,
        message,
    };
    let items = match parse_yaml(file, text)? {
        Some(Yaml::Array(items)) => items,
        None | Some(Yaml::Null) => {
            return Err(err(
                "no pipeline defined: expected a list of pipelines (- pipeline.id: ...)".into(),
            ))
        }
        Some(other) => {
            return Err(err(format!(
                "expected a list of pipelines (- pipeline.id: ...), got {}",
                kind(&other)
            )))
        }
    };
    let mut pipelines: Vec<Flat> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut out = Vec::new();
        flatten(file, "", item, env, &mut out).map_err(|mut e| {
            e.message = format!("pipeline #{}: {}", i + 1, e.message);
            e
        })?;
        let flat = Flat(out);
        let Some(id) = flat.get("pipeline.id").filter(|s| !s.trim().is_empty()) else {
            return Err(err(format!("pipeline #{}: pipeline.id is missing", i + 1)));
        };
        if pipelines.iter().any(|p| p.get("pipeline.id") == Some(id)) {
            return Err(err(format!(
                "pipeline #{}: pipeline.id {id:?} is used twice; ids must be unique",
                i + 1
            )));
        }
        pipelines.push(flat);
    }
    Ok(pipelines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "WORKERS").then(|| "3".to_string())
    }

    #[test]
    fn nested_and_dotted_keys_are_one_namespace() {
        let f = parse_logstash_yml_with(
            Path::new("logstash.yml"),
            "pipeline:\n  workers: ${WORKERS}\n  batch.size: 250\npath.data: /var/lib/ls\nqueue.type: memory\nconfig.reload.automatic: true\n",
            &env,
        )
        .expect("valid");
        assert_eq!(f.get("pipeline.workers"), Some("3"));
        assert_eq!(f.get("pipeline.batch.size"), Some("250"));
        assert_eq!(f.get("path.data"), Some("/var/lib/ls"));
        assert_eq!(f.get("config.reload.automatic"), Some("true"));
    }

    #[test]
    fn the_docs_pipelines_example_reads() {
        let text = "- pipeline.id: my-pipeline_1\n  path.config: \"/etc/path/to/p1.config\"\n  pipeline.workers: 3\n- pipeline.id: my-other-pipeline\n  path.config: \"/etc/different/path/p2.cfg\"\n  queue.type: persisted\n";
        let p = parse_pipelines_yml_with(Path::new("pipelines.yml"), text, &env).expect("valid");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].get("pipeline.id"), Some("my-pipeline_1"));
        assert_eq!(p[0].get("pipeline.workers"), Some("3"));
        assert_eq!(p[1].get("queue.type"), Some("persisted"));
    }

    #[test]
    fn errors_name_the_file_and_what_is_wrong() {
        let e = parse_pipelines_yml_with(
            Path::new("p.yml"),
            "- pipeline.id: a\n  path.config: [x\n",
            &env,
        )
        .expect_err("bad yaml");
        assert!(e.position.is_some(), "{e}");
        assert!(e.to_string().starts_with("p.yml:"), "{e}");
        let e = parse_pipelines_yml_with(Path::new("p.yml"), "- path.config: x\n", &env)
            .expect_err("no id");
        assert_eq!(e.to_string(), "p.yml: pipeline #1: pipeline.id is missing");
        let e = parse_pipelines_yml_with(
            Path::new("p.yml"),
            "- pipeline.id: a\n  config.string: x\n- pipeline.id: a\n  config.string: y\n",
            &env,
        )
        .expect_err("duplicate");
        assert!(e.message.contains("used twice"), "{e}");
        let e = parse_logstash_yml_with(Path::new("l.yml"), "path.data: ${NOPE}\n", &env)
            .expect_err("unset");
        assert!(e.message.contains("NOPE is not set"), "{e}");
        assert_eq!(
            parse_logstash_yml_with(Path::new("l.yml"), "path.data: ${NOPE:/tmp/d}\n", &env)
                .expect("default")
                .get("path.data"),
            Some("/tmp/d")
        );
    }
}
