//! Discovery: expands the `path` globs and drops `exclude`d names.

use glob::{MatchOptions, Pattern};
use std::fs::Metadata;
use std::path::PathBuf;

/// The compiled `path` and `exclude` options.
#[derive(Clone, Debug)]
pub struct Globs {
    pub paths: Vec<String>,
    /// Matched against the file name only, as Logstash does.
    pub exclude: Vec<Pattern>,
}

/// A regular file found by discovery.
#[derive(Debug)]
pub struct Found {
    pub path: PathBuf,
    pub meta: Metadata,
}

impl Globs {
    /// Every regular file matching a `path` glob and no `exclude` pattern, in path order.
    pub fn discover(&self) -> Vec<Found> {
        let opts = MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        let mut found: Vec<Found> = Vec::new();
        for g in &self.paths {
            let entries = match glob::glob_with(g, opts) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(path = %g, error = %e, "invalid glob");
                    continue;
                }
            };
            for entry in entries.flatten() {
                let excluded = entry
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .is_some_and(|n| self.exclude.iter().any(|p| p.matches(&n)));
                if excluded || found.iter().any(|f| f.path == entry) {
                    continue;
                }
                // Follows symlinks, as Logstash does; directories and vanished files are skipped.
                match std::fs::metadata(&entry) {
                    Ok(meta) if meta.is_file() => found.push(Found { path: entry, meta }),
                    _ => {}
                }
            }
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_excludes_by_file_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        for n in ["a.log", "b.log", "c.log.gz", "d.txt"] {
            std::fs::write(dir.path().join(n), b"x\n").expect("write");
        }
        std::fs::create_dir(dir.path().join("sub.log")).expect("mkdir");
        let globs = Globs {
            paths: vec![
                format!("{}/*.log*", dir.path().display()),
                format!("{}/a.log", dir.path().display()),
            ],
            exclude: vec![Pattern::new("*.gz").expect("pattern")],
        };
        let names: Vec<String> = globs
            .discover()
            .iter()
            .map(|f| {
                f.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(names, vec!["a.log", "b.log"]);
    }
}
