//! The pattern library: `NAME regex` definitions from the stock set, `patterns_dir`
//! files and `pattern_definitions`, later definitions replacing earlier ones.

use super::stock;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A `patterns_dir` entry whose pattern files cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PatternPathError {
    #[error("invalid glob {glob:?}: {source}")]
    Glob {
        glob: String,
        source: glob::PatternError,
    },
    #[error("pattern path {} does not exist", .0.display())]
    Missing(PathBuf),
    #[error("cannot read pattern file {}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
}

/// Which stock set to load (`ecs_compatibility`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternSet {
    Legacy,
    EcsV1,
}

/// Named grok patterns.
#[derive(Clone, Debug, Default)]
pub struct PatternLibrary {
    patterns: HashMap<String, String>,
}

impl PatternLibrary {
    /// An empty library.
    pub fn new() -> Self {
        PatternLibrary::default()
    }

    /// The stock library of `set`.
    pub fn stock(set: PatternSet) -> Self {
        let mut lib = PatternLibrary::new();
        let files = match set {
            PatternSet::Legacy => stock::LEGACY,
            PatternSet::EcsV1 => stock::ECS_V1,
        };
        for (_, text) in files {
            lib.add_text(text);
        }
        lib
    }

    /// Adds every definition of a pattern file's text.
    pub fn add_text(&mut self, text: &str) {
        for line in text.lines() {
            // Logstash chomps the line and splits on the first whitespace run.
            let line = line.trim_end_matches('\r');
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (name, pattern) = match trimmed.find(char::is_whitespace) {
                Some(i) => (&trimmed[..i], trimmed[i..].trim_start()),
                None => (trimmed, ""),
            };
            self.add(name, pattern);
        }
    }

    /// Adds the pattern files at `path` (a file, or a directory filtered by `glob`).
    pub fn add_path(&mut self, path: &Path, glob: &str) -> Result<(), PatternPathError> {
        let mut files = Vec::new();
        if path.is_dir() {
            let pat = path.join(glob);
            let pat = pat.to_string_lossy();
            let entries = glob::glob(&pat).map_err(|source| PatternPathError::Glob {
                glob: pat.to_string(),
                source,
            })?;
            for entry in entries.flatten() {
                if entry.is_file() {
                    files.push(entry);
                }
            }
            files.sort();
        } else if path.is_file() {
            files.push(path.to_path_buf());
        } else {
            return Err(PatternPathError::Missing(path.to_path_buf()));
        }
        for f in files {
            let bytes = std::fs::read(&f).map_err(|source| PatternPathError::Read {
                file: f.clone(),
                source,
            })?;
            self.add_text(&String::from_utf8_lossy(&bytes));
        }
        Ok(())
    }

    pub fn add(&mut self, name: &str, pattern: &str) {
        self.patterns.insert(name.to_string(), pattern.to_string());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.patterns.get(name).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_sets_load() {
        let legacy = PatternLibrary::stock(PatternSet::Legacy);
        let ecs = PatternLibrary::stock(PatternSet::EcsV1);
        assert!(legacy.len() > 300, "{}", legacy.len());
        assert!(ecs
            .get("HTTPD_COMMONLOG")
            .is_some_and(|p| p.contains("[source][address]")));
        assert!(legacy
            .get("HTTPD_COMMONLOG")
            .is_some_and(|p| p.contains("clientip")));
    }

    #[test]
    fn parses_lines_and_comments() {
        let mut lib = PatternLibrary::new();
        lib.add_text("# comment\n\nFOO \\d+ x\r\n  BAR   [a-z]+\n");
        assert_eq!(lib.get("FOO"), Some("\\d+ x"));
        assert_eq!(lib.get("BAR"), Some("[a-z]+"));
    }
}
