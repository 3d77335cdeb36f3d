//! The structure Ruby's `XmlSimple.xml_in` builds, which `store_xml` stores: the root
//! element is dropped; attributes become keys (namespace declarations included, values
//! always strings); child elements are merged under their local names (always arrays with
//! `ForceArray`, otherwise arrays only when repeated); an element with only text becomes
//! that text (or `{"content" => text}` with `ForceContent`); text next to attributes or
//! elements goes under `content`; `SuppressEmpty` leaves out empty elements instead of
//! storing `{}`.

use super::tree::{Element, Node};
use logstash_mesos_core::{Map, Value};

const CONTENT: &str = "content";

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub force_array: bool,
    pub force_content: bool,
    pub suppress_empty: bool,
}

/// `xml_in` of a parsed document: `None` is Ruby's `nil` (an empty root suppressed).
pub fn xml_in(root: &Element, o: Options) -> Option<Value> {
    collapse(root, o)
}

fn is_empty(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::String(s)) => s.trim().is_empty(),
        _ => false,
    }
}

fn attributes(el: &Element) -> Map {
    let mut m = Map::with_capacity(el.attrs.len() + 2);
    for (k, v) in &el.attrs {
        m.insert(k.as_str(), Value::String(v.clone()));
    }
    m
}

fn merge(hash: &mut Map, key: &str, value: Option<Value>, o: Options) {
    let value = value.unwrap_or(Value::Null);
    if let Some(existing) = hash.get_mut(key) {
        match existing {
            Value::Array(a) => a.push(value),
            other => {
                let old = std::mem::take(other);
                *other = Value::Array(vec![old, value]);
            }
        }
        return;
    }
    let wrap = matches!(value, Value::Array(_)) || (o.force_array && key != CONTENT);
    hash.insert(
        key,
        if wrap {
            Value::Array(vec![value])
        } else {
            value
        },
    );
}

fn collapse(el: &Element, o: Options) -> Option<Value> {
    let mut result = attributes(el);
    let has_text = el.children.iter().any(|c| matches!(c, Node::Text(_)));
    if el.has_elements() {
        for child in &el.children {
            let Node::Element(c) = child else { continue };
            let value = collapse(c, o);
            if is_empty(&value) && el.attrs.is_empty() && o.suppress_empty {
                continue;
            }
            merge(&mut result, c.local_name(), value, o);
        }
        if has_text && !el.texts().collect::<String>().trim().is_empty() {
            let mut texts: Vec<Value> = el.texts().map(|t| Value::String(t.to_string())).collect();
            let content = if texts.len() == 1 {
                texts.pop().unwrap_or_default()
            } else {
                Value::Array(texts)
            };
            result.insert(CONTENT, content);
        }
    } else if has_text {
        let text: String = el.texts().collect();
        if text.trim().is_empty() && el.attrs.is_empty() {
            return Some(Value::Object(Box::default()));
        }
        if !el.attrs.is_empty() || o.force_content {
            merge(&mut result, CONTENT, Some(Value::String(text)), o);
        } else {
            return Some(Value::String(text));
        }
    }
    if result.is_empty() && o.suppress_empty {
        return None;
    }
    Some(Value::Object(Box::new(result)))
}

#[cfg(test)]
mod tests {
    use super::super::tree::parse;
    use super::*;

    fn xml(s: &str, o: Options) -> serde_json::Value {
        let root = parse(s, true).unwrap().unwrap();
        xml_in(&root, o).map_or(serde_json::Value::Null, |v| v.to_json())
    }

    const DEF: Options = Options {
        force_array: true,
        force_content: false,
        suppress_empty: true,
    };

    #[test]
    fn shapes() {
        use serde_json::json;
        assert_eq!(xml("<a k='v'/>", DEF), json!({"k": "v"}));
        assert_eq!(
            xml("<a><b>1</b><b>2</b></a>", DEF),
            json!({"b": ["1", "2"]})
        );
        assert_eq!(
            xml("<a><b><c>x</c></b></a>", DEF),
            json!({"b": [{"c": ["x"]}]})
        );
        assert_eq!(
            xml("<a>t<b>1</b></a>", DEF),
            json!({"b": ["1"], "content": "t"})
        );
        assert_eq!(xml("<a>just text</a>", DEF), json!("just text"));
        let no_array = Options {
            force_array: false,
            ..DEF
        };
        assert_eq!(
            xml("<a><b>1</b><b>2</b><c>3</c></a>", no_array),
            json!({"b": ["1", "2"], "c": "3"})
        );
        let keep_empty = Options {
            suppress_empty: false,
            ..DEF
        };
        assert_eq!(
            xml("<a><b/><b>x</b></a>", keep_empty),
            json!({"b": [{}, "x"]})
        );
        assert_eq!(xml("<a><b/><b>x</b></a>", DEF), json!({"b": ["x"]}));
        assert_eq!(xml("<a/>", DEF), serde_json::Value::Null);
    }
}
