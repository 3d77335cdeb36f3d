//! The common filter options (`add_field`, `remove_field`, `add_tag`, `remove_tag`), run
//! after a filter succeeded, in Logstash's order, everything sprintf'd.

use logstash_mesos_core::{Event, FieldRef, Template, Value};

/// Sets `r` to `v`, or appends to it as Logstash's `add_field` does when it exists
/// (the field becomes an array).
pub fn append_field(event: &mut Event, r: &FieldRef, v: Value) {
    match event.get_mut(r) {
        None => {
            let _ = event.set(r, v);
        }
        Some(Value::Array(a)) => match v {
            Value::Array(more) => a.extend(more),
            one => a.push(one),
        },
        Some(existing) => {
            let old = std::mem::take(existing);
            let mut arr = vec![old];
            match v {
                Value::Array(more) => arr.extend(more),
                one => arr.push(one),
            }
            *existing = Value::Array(arr);
        }
    }
}

/// The compiled common options of one filter.
#[derive(Clone, Debug, Default)]
pub struct CommonFilterOptions {
    /// `add_field`: key and value are both templates.
    pub add_field: Vec<(Template, Template)>,
    pub remove_field: Vec<Template>,
    pub add_tag: Vec<Template>,
    pub remove_tag: Vec<Template>,
}

impl CommonFilterOptions {
    pub fn is_empty(&self) -> bool {
        self.add_field.is_empty()
            && self.remove_field.is_empty()
            && self.add_tag.is_empty()
            && self.remove_tag.is_empty()
    }

    /// Applies the options to an event the filter succeeded on.
    pub fn apply(&self, event: &mut Event) {
        for (k, v) in &self.add_field {
            let key = k.render(event);
            let Ok(r) = FieldRef::parse(&key) else {
                continue;
            };
            let value = Value::String(v.render(event));
            append_field(event, &r, value);
        }
        for f in &self.remove_field {
            let key = f.render(event);
            if let Ok(r) = FieldRef::parse(&key) {
                event.remove(&r);
            }
        }
        for t in &self.add_tag {
            let tag = t.render(event);
            event.add_tag(&tag);
        }
        for t in &self.remove_tag {
            let tag = t.render(event);
            event.remove_tag(&tag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_sprintf() {
        let mut e = Event::from_message("m");
        e.set(&FieldRef::top("who"), Value::from("bob")).unwrap();
        let c = CommonFilterOptions {
            add_field: vec![(
                Template::compile("hello_%{who}"),
                Template::compile("hi %{who}"),
            )],
            remove_field: vec![Template::compile("who")],
            add_tag: vec![Template::compile("t_%{who}"), Template::compile("x")],
            remove_tag: vec![Template::compile("x")],
        };
        c.apply(&mut e);
        assert_eq!(
            e.get(&FieldRef::top("hello_bob")),
            Some(&Value::from("hi bob"))
        );
        assert!(e.get(&FieldRef::top("who")).is_none());
        // remove_field ran before add_tag (Logstash's order), so the tag's %{who} stays literal.
        assert_eq!(e.tags(), ["t_%{who}"]);
    }

    #[test]
    fn add_field_to_existing_makes_array() {
        let mut e = Event::from_message("a");
        append_field(&mut e, &FieldRef::top("message"), Value::from("b"));
        assert_eq!(
            e.get(&FieldRef::top("message")),
            Some(&Value::Array(vec![Value::from("a"), Value::from("b")]))
        );
    }
}
