//! The index template installed with `manage_template`: Logstash's default (a `message`
//! text field, strings as text + keyword) or the user's `template` file, as a composable
//! `_index_template` body, or turned back into the legacy `_template` form with
//! `template_api => legacy` (the opensearch output's default, `legacy_template => true`).

use std::path::Path;

/// Which template API installs the template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `_index_template` (Elasticsearch 7.8+, OpenSearch 1+).
    Composable,
    /// `_template`.
    Legacy,
}

impl Api {
    pub fn path(self) -> &'static str {
        match self {
            Api::Composable => "_index_template",
            Api::Legacy => "_template",
        }
    }
}

/// A composable body as a legacy one: `settings`/`mappings`/`aliases` at the top, and
/// `order` 0 instead of `priority` (legacy templates have no priority).
pub fn to_legacy(body: serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Object(mut m) = body else {
        return body;
    };
    if let Some(serde_json::Value::Object(t)) = m.remove("template") {
        for (k, v) in t {
            m.entry(k).or_insert(v);
        }
    }
    // The legacy form knows neither; `order` 0 is Logstash's for its legacy template.
    m.remove("priority");
    m.remove("composed_of");
    m.remove("data_stream");
    m.entry("order").or_insert(serde_json::json!(0));
    serde_json::Value::Object(m)
}

/// Default `template_name`.
pub fn default_name(ecs: bool) -> &'static str {
    if ecs {
        "ecs-logstash"
    } else {
        "logstash"
    }
}

/// The index pattern a template for `index` should cover: the text up to the first
/// sprintf reference, followed by `*` (`logstash-%{+yyyy.MM.dd}` → `logstash-*`).
pub fn pattern_for(index: &str) -> String {
    let prefix = index.split("%{").next().unwrap_or("");
    format!("{prefix}*")
}

/// Logstash's default template for `pattern`.
pub fn default_body(pattern: &str) -> serde_json::Value {
    serde_json::json!({
        "index_patterns": [pattern],
        "priority": 200,
        "template": {
            "settings": { "index.refresh_interval": "5s", "number_of_shards": 1 },
            "mappings": {
                "dynamic_templates": [
                    { "message_field": { "path_match": "message", "match_mapping_type": "string",
                        "mapping": { "type": "text", "norms": false } } },
                    { "string_fields": { "match": "*", "match_mapping_type": "string",
                        "mapping": { "type": "text", "norms": false,
                            "fields": { "keyword": { "type": "keyword", "ignore_above": 256 } } } } }
                ],
                "properties": {
                    "@timestamp": { "type": "date" },
                    "@version": { "type": "keyword" },
                    "geoip": { "dynamic": true, "properties": {
                        "ip": { "type": "ip" }, "location": { "type": "geo_point" },
                        "latitude": { "type": "half_float" }, "longitude": { "type": "half_float" } } }
                }
            }
        }
    })
}

/// A `template` file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateFileError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not JSON: {source}", path.display())]
    Json {
        path: std::path::PathBuf,
        source: serde_json::Error,
    },
    #[error("{} must hold a JSON object", .0.display())]
    NotAnObject(std::path::PathBuf),
}

/// Reads a user's template file. A legacy template (top-level `settings` / `mappings` /
/// `aliases`, or `template` as a pattern string) is converted to the composable form;
/// `index_patterns` defaults to `pattern`.
pub fn load(path: &Path, pattern: &str) -> Result<serde_json::Value, TemplateFileError> {
    let text = std::fs::read(path).map_err(|source| TemplateFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let v: serde_json::Value =
        serde_json::from_slice(&text).map_err(|source| TemplateFileError::Json {
            path: path.to_path_buf(),
            source,
        })?;
    let serde_json::Value::Object(mut m) = v else {
        return Err(TemplateFileError::NotAnObject(path.to_path_buf()));
    };
    if let Some(serde_json::Value::String(p)) = m.get("template").cloned() {
        // Pre-6 legacy form: `template` is the pattern.
        m.remove("template");
        m.entry("index_patterns").or_insert(serde_json::json!([p]));
    }
    let mut inner = serde_json::Map::new();
    for k in ["settings", "mappings", "aliases"] {
        if let Some(v) = m.remove(k) {
            inner.insert(k.to_string(), v);
        }
    }
    if !inner.is_empty() {
        let t = m.entry("template").or_insert(serde_json::json!({}));
        if let serde_json::Value::Object(t) = t {
            for (k, v) in inner {
                t.entry(k).or_insert(v);
            }
        }
    }
    m.remove("order");
    m.entry("index_patterns")
        .or_insert(serde_json::json!([pattern]));
    Ok(serde_json::Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(pattern_for("logstash-%{+yyyy.MM.dd}"), "logstash-*");
        assert_eq!(pattern_for("app-%{[service]}-%{+YYYY}"), "app-*");
        assert_eq!(pattern_for("fixed"), "fixed*");
        assert_eq!(default_body("x-*")["index_patterns"][0], "x-*");
    }

    #[test]
    fn legacy_template_is_converted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        std::fs::write(&p, r#"{"template":"web-*","order":0,"settings":{"number_of_shards":2},"mappings":{"properties":{"a":{"type":"keyword"}}}}"#).unwrap();
        let v = load(&p, "ignored-*").unwrap();
        assert_eq!(v["index_patterns"], serde_json::json!(["web-*"]));
        assert_eq!(v["template"]["settings"]["number_of_shards"], 2);
        assert_eq!(
            v["template"]["mappings"]["properties"]["a"]["type"],
            "keyword"
        );
        assert!(v.get("order").is_none());
        let legacy = to_legacy(v);
        assert_eq!(legacy["index_patterns"], serde_json::json!(["web-*"]));
        assert_eq!(legacy["settings"]["number_of_shards"], 2);
        assert_eq!(legacy["order"], 0);
        assert!(legacy.get("template").is_none() && legacy.get("priority").is_none());
        std::fs::write(&p, "nope").unwrap();
        assert!(load(&p, "x").unwrap_err().to_string().contains("not JSON"));
    }
}
