//! Reading config text: `-f` files, directories (every file, lexical order) and globs,
//! concatenated as Logstash does; or `-e`.

use anyhow::{bail, Context, Result};
use logstash_mesos_pipeline::lang::source::Sources;
use std::path::PathBuf;

/// The files `-f PATH` names, in the order Logstash reads them.
pub fn expand(path: &str) -> Result<Vec<PathBuf>> {
    let p = PathBuf::from(path);
    if p.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&p)
            .with_context(|| format!("cannot read config directory {path}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.is_file())
            .collect();
        files.sort();
        return Ok(files);
    }
    if p.is_file() {
        return Ok(vec![p]);
    }
    let mut files: Vec<PathBuf> = glob::glob(path)
        .with_context(|| format!("invalid config path pattern {path}"))?
        .filter_map(|r| r.ok())
        .filter(|f| f.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no config files found at {path}");
    }
    Ok(files)
}

/// Loads the config sources from `-f` paths or the `-e` string.
pub fn load(paths: &[String], string: Option<&str>) -> Result<Sources> {
    let mut sources = Sources::default();
    for path in paths {
        for f in expand(path)? {
            let text = std::fs::read(&f)
                .with_context(|| format!("cannot read config file {}", f.display()))?;
            sources.push(&f.display().to_string(), &String::from_utf8_lossy(&text));
        }
    }
    if let Some(s) = string {
        sources.push("config string", s);
    }
    if sources.is_empty() {
        bail!("no configuration given: use -f PATH or -e 'CONFIG' (see --help)");
    }
    Ok(sources)
}
