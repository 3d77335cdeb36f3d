//! Logstash's sprintf: `%{[field][ref]}`, `%{+JODA}` and `%{{java.time}}` on `@timestamp`
//! (UTC), `%{+%s}` for epoch seconds. A missing field stays literal, as in Logstash.
//!
//! Templates are compiled once at config load.

use crate::event::Event;
use crate::fieldref::FieldRef;
use crate::joda::{Dialect, JodaFormat};
use crate::value::Value;

#[derive(Clone, Debug)]
enum Part {
    Literal(String),
    Field {
        r: FieldRef,
        raw: String,
    },
    Time {
        fmt: JodaFormat,
        raw: String,
    },
    EpochSeconds,
    /// A `%{...}` whose content is not a valid reference: kept literally.
    Raw(String),
}

/// A compiled sprintf template.
#[derive(Clone, Debug)]
pub struct Template {
    parts: Vec<Part>,
    source: String,
}

impl Template {
    /// Compiles `s`. Never fails: anything that is not a valid reference is literal text.
    pub fn compile(s: &str) -> Template {
        let mut parts = Vec::new();
        let mut rest = s;
        let mut lit = String::new();
        while let Some(pos) = rest.find("%{") {
            lit.push_str(&rest[..pos]);
            let after = &rest[pos + 2..];
            // `%{{format}}` for java.time.
            if let Some(inner) = after.strip_prefix('{') {
                if let Some(end) = inner.find("}}") {
                    let pat = &inner[..end];
                    let raw = format!("%{{{{{pat}}}}}");
                    flush(&mut lit, &mut parts);
                    match JodaFormat::compile(pat, Dialect::JavaTime) {
                        Ok(fmt) => parts.push(Part::Time { fmt, raw }),
                        Err(_) => parts.push(Part::Raw(raw)),
                    }
                    rest = &inner[end + 2..];
                    continue;
                }
            }
            let Some(end) = after.find('}') else {
                lit.push_str(&rest[pos..]);
                rest = "";
                break;
            };
            let inner = &after[..end];
            let raw = format!("%{{{inner}}}");
            flush(&mut lit, &mut parts);
            if inner == "+%s" {
                parts.push(Part::EpochSeconds);
            } else if let Some(pat) = inner.strip_prefix('+') {
                match JodaFormat::compile(pat, Dialect::Joda) {
                    Ok(fmt) => parts.push(Part::Time { fmt, raw }),
                    Err(_) => parts.push(Part::Raw(raw)),
                }
            } else {
                match FieldRef::parse(inner) {
                    Ok(r) => parts.push(Part::Field { r, raw }),
                    Err(_) => parts.push(Part::Raw(raw)),
                }
            }
            rest = &after[end + 1..];
        }
        lit.push_str(rest);
        flush(&mut lit, &mut parts);
        Template {
            parts,
            source: s.to_string(),
        }
    }

    /// True when the template has no `%{...}` (rendering returns the text unchanged).
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders the template against `event`.
    pub fn render(&self, event: &Event) -> String {
        if let [Part::Literal(s)] = self.parts.as_slice() {
            return s.clone();
        }
        let mut out = String::with_capacity(self.source.len() + 16);
        self.render_into(event, &mut out);
        out
    }

    /// Renders into `out` (no allocation when `out` has room).
    pub fn render_into(&self, event: &Event, out: &mut String) {
        for p in &self.parts {
            match p {
                Part::Literal(s) | Part::Raw(s) => out.push_str(s),
                Part::Field { r, raw } => match event.get(r) {
                    Some(Value::Null) | None => out.push_str(raw),
                    Some(v) => v.write_logstash_string(out),
                },
                Part::Time { fmt, raw } => match event.timestamp() {
                    Some(ts) => out.push_str(&fmt.format_utc(ts)),
                    None => out.push_str(raw),
                },
                Part::EpochSeconds => match event.timestamp() {
                    Some(ts) => out.push_str(&ts.unix_seconds().to_string()),
                    None => out.push_str("%{+%s}"),
                },
            }
        }
    }

    /// Renders to a [`Value`]: a template that is exactly one field reference keeps the
    /// field's type (as Logstash's `add_field` does for `"%{[a]}"`).
    pub fn render_value(&self, event: &Event) -> Value {
        if let [Part::Field { r, .. }] = self.parts.as_slice() {
            if let Some(v) = event.get(r) {
                if !v.is_null() {
                    return Value::String(v.to_logstash_string());
                }
            }
        }
        Value::String(self.render(event))
    }
}

fn flush(lit: &mut String, parts: &mut Vec<Part>) {
    if !lit.is_empty() {
        parts.push(Part::Literal(std::mem::take(lit)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::Timestamp;

    fn event() -> Event {
        let mut e = Event::from_message("hello");
        e.set_timestamp(Timestamp::from_unix(1_356_998_400, 0).unwrap());
        e.set(&FieldRef::parse("[a][b]").unwrap(), Value::Integer(5))
            .unwrap();
        e.set(
            &FieldRef::parse("list").unwrap(),
            Value::Array(vec![Value::from("x"), Value::from("y")]),
        )
        .unwrap();
        e
    }

    #[test]
    fn renders_fields_and_dates() {
        let e = event();
        assert_eq!(
            Template::compile("%{message} %{[a][b]}").render(&e),
            "hello 5"
        );
        assert_eq!(
            Template::compile("logs-%{+YYYY.MM.dd}").render(&e),
            "logs-2013.01.01"
        );
        assert_eq!(
            Template::compile("%{{yyyy-MM-dd}}").render(&e),
            "2013-01-01"
        );
        assert_eq!(Template::compile("%{+%s}").render(&e), "1356998400");
        assert_eq!(Template::compile("%{list}").render(&e), "x,y");
    }

    #[test]
    fn missing_fields_stay_literal() {
        let e = event();
        assert_eq!(
            Template::compile("a-%{missing}-b").render(&e),
            "a-%{missing}-b"
        );
        assert_eq!(Template::compile("100%{").render(&e), "100%{");
        assert_eq!(Template::compile("%{[bad}").render(&e), "%{[bad}");
    }
}
