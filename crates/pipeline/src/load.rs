//! The one way a config becomes a pipeline, used by `run`, `check`/`-t`, `-r` reload, the
//! agent (local files or the scheduler's config set) and the scheduler's validation:
//!
//! sources (`-f` files, directories, globs; `-e`; named texts) → [`Sources`] (read once)
//! → [`parse_checked`] (grammar + plugin-independent rules) → [`Loaded::validate`] (options
//! against the schemas, nothing built) or [`Loaded::compile`] (plugins built).

use crate::graph::CompiledPipeline;
use crate::lang::ast::Config;
use crate::lang::{check_syntax, compile, parse, Diagnostic, ParseOptions, Sources};
use crate::plugin::BuildContext;
use crate::registry::Registry;
use std::path::{Path, PathBuf};

/// Why config sources could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read config directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read config file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config path pattern {path}: {source}")]
    Pattern {
        path: String,
        source: glob::PatternError,
    },
    #[error("no config files found at {0}")]
    NotFound(String),
    #[error("no configuration given: use -f PATH or -e 'CONFIG' (see --help)")]
    Empty,
}

/// The files `-f PATH` names, in the order Logstash reads them: a file; every file of a
/// directory; or a glob's matches, each in lexical order.
pub fn expand(path: &str) -> Result<Vec<PathBuf>, LoadError> {
    let p = Path::new(path);
    if p.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|source| LoadError::Dir {
                path: path.to_string(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.is_file())
            .collect();
        files.sort();
        return Ok(files);
    }
    if p.is_file() {
        return Ok(vec![p.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = glob::glob(path)
        .map_err(|source| LoadError::Pattern {
            path: path.to_string(),
            source,
        })?
        .filter_map(|r| r.ok())
        .filter(|f| f.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(LoadError::NotFound(path.to_string()));
    }
    Ok(files)
}

/// Reads the sources `-f` paths and a `-e` string name, concatenated as Logstash does.
pub fn read(paths: &[String], string: Option<&str>) -> Result<Sources, LoadError> {
    let mut sources = Sources::default();
    for path in paths {
        for f in expand(path)? {
            let text = std::fs::read(&f).map_err(|source| LoadError::File {
                path: f.display().to_string(),
                source,
            })?;
            sources.push(&f.display().to_string(), &String::from_utf8_lossy(&text));
        }
    }
    if let Some(s) = string {
        sources.push("config string", s);
    }
    if sources.is_empty() {
        return Err(LoadError::Empty);
    }
    Ok(sources)
}

/// Named config texts (the scheduler's config set), in the given order.
pub fn from_texts<'a>(texts: impl IntoIterator<Item = (&'a str, &'a str)>) -> Sources {
    let mut sources = Sources::default();
    for (name, text) in texts {
        sources.push(name, text);
    }
    sources
}

/// A config that parsed and passed the plugin-independent checks.
#[derive(Debug)]
pub struct Loaded {
    pub sources: Sources,
    pub config: Config,
}

/// A config that did not get through a stage: its sources (to render positions) and every
/// error found.
#[derive(Debug)]
pub struct Rejected {
    pub sources: Sources,
    pub diagnostics: Vec<Diagnostic>,
}

impl Rejected {
    /// Every error as `file:line:col: message` with the line and a caret.
    pub fn render(&self) -> String {
        self.sources.render_all(&self.diagnostics)
    }
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Rejected {}

/// Parses and runs the rules that need no plugin registry.
pub fn parse_checked(sources: Sources, opts: &ParseOptions) -> Result<Loaded, Box<Rejected>> {
    match parse(&sources, opts) {
        Ok(config) => {
            let diagnostics = check_syntax(&config);
            if diagnostics.is_empty() {
                Ok(Loaded { sources, config })
            } else {
                Err(Box::new(Rejected {
                    sources,
                    diagnostics,
                }))
            }
        }
        Err(diagnostics) => Err(Box::new(Rejected {
            sources,
            diagnostics,
        })),
    }
}

impl Loaded {
    /// Checks every plugin and option against `registry`'s schemas; nothing is built.
    pub fn validate(&self, registry: &Registry, ctx: &BuildContext) -> Vec<Diagnostic> {
        compile::validate(&self.config, registry, ctx)
    }

    /// Builds the pipeline (plugins open clients and compile patterns here, so call it
    /// inside a tokio runtime).
    pub fn compile(
        &self,
        registry: &Registry,
        ctx: &BuildContext,
    ) -> Result<CompiledPipeline, Vec<Diagnostic>> {
        compile::compile(&self.config, registry, ctx)
    }

    /// The whole text, for change detection.
    pub fn text(&self) -> &str {
        self.sources.text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_files_in_lexical_order_and_globs() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("b.conf"), "output { stdout {} }\n").expect("write");
        std::fs::write(dir.path().join("a.conf"), "input { stdin {} }\n").expect("write");
        let d = dir.path().display().to_string();
        let s = read(std::slice::from_ref(&d), None).expect("read");
        let text = s.text();
        let (a, b) = (
            text.find("input").expect("a.conf"),
            text.find("output").expect("b.conf"),
        );
        assert!(a < b, "lexical order: {text:?}");
        let g = read(&[format!("{d}/b*")], None).expect("glob");
        assert!(!g.text().contains("input") && g.text().contains("output"));
        assert!(matches!(
            read(&[format!("{d}/none*")], None),
            Err(LoadError::NotFound(_))
        ));
        assert!(matches!(read(&[], None), Err(LoadError::Empty)));
    }

    #[test]
    fn rejected_configs_keep_positions() {
        let s = Sources::from_string("x.conf", "input {\n  stdin { \n");
        let r = parse_checked(s, &ParseOptions::default()).expect_err("syntax error");
        assert!(r.render().contains("x.conf:"), "{}", r.render());
        let ok = parse_checked(
            Sources::from_string("ok.conf", "input { stdin {} } output { nosuch {} }"),
            &ParseOptions::default(),
        )
        .expect("parses");
        let d = ok.validate(&Registry::builtin(), &BuildContext::default());
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("nosuch"));
    }
}
