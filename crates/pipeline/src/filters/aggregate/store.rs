//! `aggregate_maps_path`: the open maps, stored at shutdown and loaded at start.
//!
//! ## Design constraints
//! - Versioned JSON (`{"version":1,"maps":{pattern:{task_id:{...}}}}`): readable, and a
//!   future format can still read this one. (Logstash writes Ruby `Marshal`, which no other
//!   program reads; files are not exchangeable with Logstash.)
//! - Written atomically (temp file, fsync, rename): a crash while storing leaves the
//!   previous file or none, never half of one.
//! - Nothing is written when no map is open (as Logstash).

use super::{Element, MapMeta};
use indexmap::IndexMap;
use logstash_mesos_core::{Map, Timestamp, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

type Patterns = HashMap<String, IndexMap<String, Element>>;

fn ts(v: Option<&Value>) -> Option<Timestamp> {
    match v? {
        Value::Timestamp(t) => Some(*t),
        Value::String(s) => Timestamp::parse_iso8601(s),
        _ => None,
    }
}

pub(super) fn save(path: &Path, patterns: &Patterns) -> std::io::Result<()> {
    let mut maps = Map::new();
    for (pattern, tasks) in patterns {
        if tasks.is_empty() {
            continue;
        }
        let mut t = Map::new();
        for (id, el) in tasks {
            let mut m = Map::new();
            m.insert("creation", Value::Timestamp(el.creation));
            m.insert("last_event", Value::Timestamp(el.last_event));
            m.insert("wall_creation", Value::Timestamp(el.wall_creation));
            m.insert("wall_last", Value::Timestamp(el.wall_last));
            if let Some(x) = el.meta.timeout {
                m.insert("timeout", Value::Integer(x));
            }
            if let Some(x) = el.meta.inactivity_timeout {
                m.insert("inactivity_timeout", Value::Integer(x));
            }
            m.insert("map", Value::Object(Box::new(el.map.clone())));
            t.insert(id.as_str(), Value::Object(Box::new(m)));
        }
        maps.insert(pattern.as_str(), Value::Object(Box::new(t)));
    }
    if maps.is_empty() {
        return Ok(());
    }
    let mut doc = Map::new();
    doc.insert("version", Value::Integer(1));
    doc.insert("maps", Value::Object(Box::new(maps)));
    let text = serde_json::to_vec(&Value::Object(Box::new(doc)))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    tracing::info!(path = %path.display(), "aggregate maps stored");
    Ok(())
}

/// An `aggregate_maps_path` file that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub(super) enum LoadError {
    #[error("{0}")]
    Read(std::io::Error),
    #[error("not JSON: {0}")]
    Json(serde_json::Error),
    #[error("unknown version {0:?}")]
    Version(Option<Value>),
    /// The document is not shaped as `store` writes it (what is wrong is said).
    #[error("{0}")]
    Shape(&'static str),
}

pub(super) fn load(path: &Path) -> Result<Patterns, LoadError> {
    let bytes = std::fs::read(path).map_err(LoadError::Read)?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(LoadError::Json)?;
    let doc = doc
        .as_object()
        .ok_or(LoadError::Shape("not a JSON object"))?;
    match doc.get("version") {
        Some(Value::Integer(1)) => {}
        other => return Err(LoadError::Version(other.cloned())),
    }
    let maps = doc
        .get("maps")
        .and_then(Value::as_object)
        .ok_or(LoadError::Shape("no maps"))?;
    let mut out = Patterns::new();
    for (pattern, tasks) in maps.iter() {
        let tasks = tasks
            .as_object()
            .ok_or(LoadError::Shape("a pattern is not an object"))?;
        let mut t = IndexMap::new();
        for (id, el) in tasks.iter() {
            let el = el
                .as_object()
                .ok_or(LoadError::Shape("a task is not an object"))?;
            let now = Timestamp::now();
            let creation = ts(el.get("creation")).unwrap_or(now);
            let last_event = ts(el.get("last_event")).unwrap_or(creation);
            t.insert(
                id.to_string(),
                Element {
                    creation,
                    last_event,
                    wall_creation: ts(el.get("wall_creation")).unwrap_or(creation),
                    wall_last: ts(el.get("wall_last")).unwrap_or(last_event),
                    meta: MapMeta {
                        timeout: el.get("timeout").and_then(Value::as_i64),
                        inactivity_timeout: el.get("inactivity_timeout").and_then(Value::as_i64),
                    },
                    map: el
                        .get("map")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                },
            );
        }
        out.insert(pattern.to_string(), t);
    }
    Ok(out)
}
