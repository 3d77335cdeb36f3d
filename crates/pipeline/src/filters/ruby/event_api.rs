//! The Event API as Ruby sees it: `LogStash::Event` and `LogStash::Timestamp` are Rust
//! objects wrapped as Ruby classes (magnus `TypedData`), so a snippet that reads two
//! fields converts two values, not the whole event. The rest of the API that is plain Ruby
//! (the logger, the path-script machinery) is in `prelude.rb`.
//!
//! Methods follow Logstash 8's JavaEvent / JavaTimestamp (logstash-core `event.rb`,
//! `org.logstash.ext.JrubyEventExtLibrary`): `get`, `set`, `remove`, `include?`,
//! `to_hash`, `to_hash_with_metadata`, `tag`, `cancel`, `uncancel`, `cancelled?`,
//! `clone`, `timestamp`, `timestamp=`, `append`, `overwrite`, `sprintf`, `to_json`,
//! `to_s`, `LogStash::Event.new(hash)`.

use super::convert::{
    from_ruby, hash_to_map, map_to_ruby, rstring, time_to_timestamp, timestamp_to_time, to_ruby,
};
use logstash_mesos_core::{Event, FieldRef, Map, Template, Timestamp, Value};
use magnus::value::ReprValue;
use magnus::{
    function, method, prelude::*, Error, Float, Integer, RArray, RHash, RModule, RString, Ruby,
    Time, Value as RValue,
};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// A `LogStash::Event`: the Rust event while Ruby holds it. The pipeline takes the event
/// back when the filter call returns; a Ruby reference kept past that (in an instance
/// variable) then sees an empty shell and raises on use.
#[magnus::wrap(class = "LogStash::Event", free_immediately, size)]
pub struct RbEvent {
    inner: RefCell<Option<Event>>,
    cancelled: Cell<bool>,
}

/// A `LogStash::Timestamp` (nanosecond precision, UTC).
#[magnus::wrap(class = "LogStash::Timestamp", free_immediately, size)]
pub struct RbTimestamp(pub Timestamp);

impl RbEvent {
    pub fn new(event: Event) -> RbEvent {
        RbEvent {
            inner: RefCell::new(Some(event)),
            cancelled: Cell::new(false),
        }
    }

    /// Takes the event back for the pipeline (with its cancelled flag).
    pub fn take(&self) -> Option<(Event, bool)> {
        self.inner
            .borrow_mut()
            .take()
            .map(|e| (e, self.cancelled.get()))
    }

    fn with<T>(&self, ruby: &Ruby, f: impl FnOnce(&Event) -> T) -> Result<T, Error> {
        match self.inner.borrow().as_ref() {
            Some(e) => Ok(f(e)),
            None => Err(gone(ruby)),
        }
    }

    fn with_mut<T>(&self, ruby: &Ruby, f: impl FnOnce(&mut Event) -> T) -> Result<T, Error> {
        match self.inner.borrow_mut().as_mut() {
            Some(e) => Ok(f(e)),
            None => Err(gone(ruby)),
        }
    }

    // --- Ruby methods ---------------------------------------------------------------

    fn rb_new(ruby: &Ruby, args: &[RValue]) -> Result<RbEvent, Error> {
        let map = match args {
            [] => Map::new(),
            [h] if h.is_nil() => Map::new(),
            [h] => match RHash::from_value(*h) {
                Some(h) => hash_to_map(ruby, h)?,
                None => {
                    return Err(Error::new(
                        ruby.exception_type_error(),
                        "LogStash::Event.new takes a Hash",
                    ))
                }
            },
            _ => {
                return Err(Error::new(
                    ruby.exception_arg_error(),
                    format!(
                        "wrong number of arguments (given {}, expected 0..1)",
                        args.len()
                    ),
                ))
            }
        };
        Ok(RbEvent::new(Event::from_map(map)))
    }

    fn get(ruby: &Ruby, rb_self: &Self, field: String) -> Result<RValue, Error> {
        let r = field_ref(ruby, &field)?;
        rb_self.with(ruby, |e| {
            if is_metadata_root(&r) {
                return map_to_ruby(ruby, e.metadata()).as_value();
            }
            match e.get(&r) {
                Some(v) => to_ruby(ruby, v),
                None => ruby.qnil().as_value(),
            }
        })
    }

    fn set(ruby: &Ruby, rb_self: &Self, field: String, value: RValue) -> Result<RValue, Error> {
        let r = field_ref(ruby, &field)?;
        let mut v = from_ruby(ruby, value)?;
        if r.path().len() == 1 && r.path()[0] == logstash_mesos_core::event::TIMESTAMP {
            v = match v {
                Value::Timestamp(t) => Value::Timestamp(t),
                Value::String(s) => match Timestamp::parse_iso8601(&s) {
                    Some(t) => Value::Timestamp(t),
                    None => {
                        return Err(Error::new(
                            ruby.exception_type_error(),
                            format!("wrong argument type String {s:?} for @timestamp (expected LogStash::Timestamp)"),
                        ))
                    }
                },
                other => {
                    return Err(Error::new(
                        ruby.exception_type_error(),
                        format!(
                            "wrong argument type {} for @timestamp (expected LogStash::Timestamp)",
                            other.type_name()
                        ),
                    ))
                }
            };
        }
        rb_self
            .with_mut(ruby, |e| e.set(&r, v))?
            .map_err(|err| Error::new(ruby.exception_runtime_error(), err.to_string()))?;
        Ok(value)
    }

    fn remove(ruby: &Ruby, rb_self: &Self, field: String) -> Result<RValue, Error> {
        let r = field_ref(ruby, &field)?;
        rb_self.with_mut(ruby, |e| {
            if is_metadata_root(&r) {
                let m = std::mem::take(e.metadata_mut());
                return map_to_ruby(ruby, &m).as_value();
            }
            match e.remove(&r) {
                Some(v) => to_ruby(ruby, &v),
                None => ruby.qnil().as_value(),
            }
        })
    }

    fn include(ruby: &Ruby, rb_self: &Self, field: String) -> Result<bool, Error> {
        let r = field_ref(ruby, &field)?;
        rb_self.with(ruby, |e| is_metadata_root(&r) || e.contains(&r))
    }

    fn to_hash(ruby: &Ruby, rb_self: &Self) -> Result<RHash, Error> {
        rb_self.with(ruby, |e| map_to_ruby(ruby, e.fields()))
    }

    fn to_hash_with_metadata(ruby: &Ruby, rb_self: &Self) -> Result<RHash, Error> {
        rb_self.with(ruby, |e| {
            let h = map_to_ruby(ruby, e.fields());
            if !e.metadata().is_empty() {
                let _ = h.aset(ruby.str_new("@metadata"), map_to_ruby(ruby, e.metadata()));
            }
            h
        })
    }

    fn tag(ruby: &Ruby, rb_self: &Self, tag: RValue) -> Result<(), Error> {
        let tag = match RString::from_value(tag) {
            Some(s) => rstring(s)?,
            None => rstring(tag.to_r_string()?)?,
        };
        rb_self.with_mut(ruby, |e| e.add_tag(&tag))
    }

    fn cancel(ruby: &Ruby, rb_self: &Self) -> Result<bool, Error> {
        rb_self.with(ruby, |_| ())?;
        rb_self.cancelled.set(true);
        Ok(true)
    }

    fn uncancel(ruby: &Ruby, rb_self: &Self) -> Result<bool, Error> {
        rb_self.with(ruby, |_| ())?;
        rb_self.cancelled.set(false);
        Ok(false)
    }

    fn is_cancelled(rb_self: &Self) -> bool {
        rb_self.cancelled.get()
    }

    fn clone_event(ruby: &Ruby, rb_self: &Self) -> Result<RbEvent, Error> {
        rb_self.with(ruby, |e| RbEvent::new(e.clone()))
    }

    fn timestamp(ruby: &Ruby, rb_self: &Self) -> Result<RValue, Error> {
        rb_self.with(ruby, |e| match e.timestamp() {
            Some(t) => ruby.obj_wrap(RbTimestamp(t)).as_value(),
            None => ruby.qnil().as_value(),
        })
    }

    fn set_timestamp(ruby: &Ruby, rb_self: &Self, ts: RValue) -> Result<RValue, Error> {
        let t = any_to_timestamp(ruby, ts)?;
        rb_self.with_mut(ruby, |e| e.set_timestamp(t))?;
        Ok(ts)
    }

    /// Merges the other event's fields into this one (Logstash's `Util.mapMerge`):
    /// new keys are added, hashes merge recursively, other values become arrays.
    /// The other's `@timestamp` is left out: merged, it would turn this event's into an
    /// array.
    fn append(ruby: &Ruby, rb_self: &Self, other: &RbEvent) -> Result<(), Error> {
        let mut theirs = other.with(ruby, |e| e.fields().clone())?;
        theirs.shift_remove(logstash_mesos_core::event::TIMESTAMP);
        rb_self.with_mut(ruby, |e| merge_maps(e.fields_mut(), theirs))
    }

    /// Replaces this event's fields with the other's.
    fn overwrite(ruby: &Ruby, rb_self: &Self, other: &RbEvent) -> Result<(), Error> {
        let theirs = other.with(ruby, |e| e.fields().clone())?;
        rb_self.with_mut(ruby, |e| *e.fields_mut() = theirs)
    }

    fn sprintf(ruby: &Ruby, rb_self: &Self, format: String) -> Result<String, Error> {
        let t = TEMPLATES.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() > CACHE_LIMIT {
                c.clear();
            }
            c.entry(format.clone())
                .or_insert_with(|| std::rc::Rc::new(Template::compile(&format)))
                .clone()
        });
        rb_self.with(ruby, |e| t.render(e))
    }

    fn to_json(ruby: &Ruby, rb_self: &Self, _args: &[RValue]) -> Result<String, Error> {
        rb_self.with(ruby, |e| e.to_json_string())
    }

    /// `"<timestamp> <host> <message>"`, as Logstash prints an event.
    fn to_s(ruby: &Ruby, rb_self: &Self) -> Result<String, Error> {
        rb_self.with(ruby, |e| {
            let ts = e.timestamp().map(|t| t.to_string()).unwrap_or_default();
            let host = e
                .get_top("host")
                .map(Value::to_logstash_string)
                .unwrap_or_else(|| "%{host}".into());
            let msg = e
                .get_top("message")
                .map(Value::to_logstash_string)
                .unwrap_or_else(|| "%{message}".into());
            format!("{ts} {host} {msg}")
        })
    }

    fn inspect(ruby: &Ruby, rb_self: &Self) -> Result<String, Error> {
        match rb_self.inner.borrow().as_ref() {
            Some(e) => Ok(format!("#<LogStash::Event {}>", e.to_json_string())),
            None => {
                let _ = ruby;
                Ok("#<LogStash::Event (handed back to the pipeline)>".to_string())
            }
        }
    }
}

fn gone(ruby: &Ruby) -> Error {
    Error::new(
        ruby.exception_runtime_error(),
        "this event was already handed back to the pipeline (do not keep events across filter calls; clone them)",
    )
}

fn is_metadata_root(r: &FieldRef) -> bool {
    r.is_metadata() && r.path().len() == 1
}

const CACHE_LIMIT: usize = 4096;

thread_local! {
    // Field references and sprintf templates seen by `get`/`set`/`sprintf`, parsed once
    // (snippets use a handful of constant names). Only the Ruby thread uses them.
    static FIELD_REFS: RefCell<HashMap<String, FieldRef>> = RefCell::new(HashMap::new());
    static TEMPLATES: RefCell<HashMap<String, std::rc::Rc<Template>>> = RefCell::new(HashMap::new());
}

fn field_ref(ruby: &Ruby, s: &str) -> Result<FieldRef, Error> {
    FIELD_REFS.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(r) = c.get(s) {
            return Ok(r.clone());
        }
        let r = FieldRef::parse(s)
            .map_err(|e| Error::new(ruby.exception_arg_error(), e.to_string()))?;
        if c.len() > CACHE_LIMIT {
            c.clear();
        }
        c.insert(s.to_string(), r.clone());
        Ok(r)
    })
}

fn merge_maps(target: &mut Map, source: Map) {
    for (k, v) in source {
        match target.get_mut(k.as_ref()) {
            None => {
                target.insert(k, v);
            }
            Some(Value::Object(t)) if matches!(v, Value::Object(_)) => {
                if let Value::Object(s) = v {
                    merge_maps(t, *s);
                }
            }
            Some(Value::Array(t)) => {
                let items = match v {
                    Value::Array(a) => a,
                    other => vec![other],
                };
                for item in items {
                    if !t.contains(&item) {
                        t.push(item);
                    }
                }
            }
            Some(t) => {
                if let Value::Array(items) = v {
                    let mut merged = vec![std::mem::take(t)];
                    for item in items {
                        if !merged.contains(&item) {
                            merged.push(item);
                        }
                    }
                    *t = Value::Array(merged);
                } else if *t != v {
                    let old = std::mem::take(t);
                    *t = Value::Array(vec![old, v]);
                }
            }
        }
    }
}

/// A `LogStash::Timestamp`, a `Time`, an ISO8601 string or epoch seconds as a timestamp.
fn any_to_timestamp(ruby: &Ruby, v: RValue) -> Result<Timestamp, Error> {
    if let Ok(ts) = <&RbTimestamp>::try_convert(v) {
        return Ok(ts.0);
    }
    if v.is_kind_of(ruby.class_time()) {
        return time_to_timestamp(ruby, v);
    }
    if let Some(s) = RString::from_value(v) {
        let s = rstring(s)?;
        return Timestamp::parse_iso8601(&s).ok_or_else(|| {
            Error::new(
                ruby.exception_arg_error(),
                format!("invalid timestamp string {s:?} (expected ISO8601)"),
            )
        });
    }
    if v.is_kind_of(ruby.class_numeric()) {
        let f: f64 = v.funcall("to_f", ())?;
        let secs = f.floor();
        let nanos = ((f - secs) * 1e9).round() as i32;
        return Timestamp::from_unix(secs as i64, nanos.min(999_999_999))
            .ok_or_else(|| Error::new(ruby.exception_range_error(), "time out of range"));
    }
    Err(Error::new(
        ruby.exception_type_error(),
        "expected a LogStash::Timestamp, Time, ISO8601 String or Numeric",
    ))
}

impl RbTimestamp {
    fn rb_new(ruby: &Ruby, args: &[RValue]) -> Result<RbTimestamp, Error> {
        match args {
            [] => Ok(RbTimestamp(Timestamp::now())),
            [v] if v.is_nil() => Ok(RbTimestamp(Timestamp::now())),
            [v] => Ok(RbTimestamp(any_to_timestamp(ruby, *v)?)),
            _ => Err(Error::new(
                ruby.exception_arg_error(),
                format!(
                    "wrong number of arguments (given {}, expected 0..1)",
                    args.len()
                ),
            )),
        }
    }

    fn now() -> RbTimestamp {
        RbTimestamp(Timestamp::now())
    }

    fn at(ruby: &Ruby, args: &[RValue]) -> Result<RbTimestamp, Error> {
        let time: RValue = ruby.class_time().funcall("at", args)?;
        Ok(RbTimestamp(time_to_timestamp(ruby, time)?))
    }

    fn parse_iso8601(ruby: &Ruby, s: String) -> Result<RbTimestamp, Error> {
        Timestamp::parse_iso8601(&s)
            .map(RbTimestamp)
            .ok_or_else(|| {
                Error::new(
                    ruby.exception_arg_error(),
                    format!("invalid timestamp string {s:?}"),
                )
            })
    }

    fn time(ruby: &Ruby, rb_self: &Self) -> Result<Time, Error> {
        timestamp_to_time(ruby, &rb_self.0)
    }

    fn to_i(rb_self: &Self) -> i64 {
        rb_self.0.unix_seconds()
    }

    fn to_f(rb_self: &Self) -> f64 {
        rb_self.0.unix_seconds() as f64 + f64::from(rb_self.0.subsec_nanos()) / 1e9
    }

    fn usec(rb_self: &Self) -> u32 {
        rb_self.0.subsec_nanos() / 1000
    }

    fn nsec(rb_self: &Self) -> u32 {
        rb_self.0.subsec_nanos()
    }

    fn year(rb_self: &Self) -> i16 {
        rb_self.0.to_utc_datetime().year()
    }

    fn to_s(rb_self: &Self) -> String {
        rb_self.0.to_string()
    }

    fn to_json(rb_self: &Self, _args: &[RValue]) -> String {
        format!("\"{}\"", rb_self.0)
    }

    fn inspect(rb_self: &Self) -> String {
        format!("#<LogStash::Timestamp {}>", rb_self.0)
    }

    fn cmp(ruby: &Ruby, rb_self: &Self, other: RValue) -> Result<Option<i8>, Error> {
        let theirs = match any_to_timestamp(ruby, other) {
            Ok(t) => t,
            Err(_) => return Ok(None),
        };
        Ok(Some(rb_self.0.unix_nanos().cmp(&theirs.unix_nanos()) as i8))
    }

    fn eq(ruby: &Ruby, rb_self: &Self, other: RValue) -> Result<bool, Error> {
        match <&RbTimestamp>::try_convert(other) {
            Ok(t) => Ok(t.0 == rb_self.0),
            Err(_) => {
                Ok(Self::cmp(ruby, rb_self, other)? == Some(0)
                    && other.is_kind_of(ruby.class_time()))
            }
        }
    }

    fn hash(rb_self: &Self) -> i64 {
        rb_self.0.unix_nanos() as i64
    }

    /// `ts - other`: seconds (Float) between two times; `ts - n`: a timestamp n seconds
    /// earlier.
    fn minus(ruby: &Ruby, rb_self: &Self, other: RValue) -> Result<RValue, Error> {
        if let Some(n) = numeric(ruby, other)? {
            return shift(ruby, &rb_self.0, -n);
        }
        let theirs = any_to_timestamp(ruby, other)?;
        let d = (rb_self.0.unix_nanos() - theirs.unix_nanos()) as f64 / 1e9;
        Ok(ruby.float_from_f64(d).as_value())
    }

    fn plus(ruby: &Ruby, rb_self: &Self, other: RValue) -> Result<RValue, Error> {
        match numeric(ruby, other)? {
            Some(n) => shift(ruby, &rb_self.0, n),
            None => Err(Error::new(
                ruby.exception_type_error(),
                "LogStash::Timestamp + takes a Numeric (seconds)",
            )),
        }
    }
}

fn numeric(ruby: &Ruby, v: RValue) -> Result<Option<f64>, Error> {
    if Integer::from_value(v).is_some()
        || Float::from_value(v).is_some()
        || v.is_kind_of(ruby.class_numeric())
    {
        return Ok(Some(v.funcall("to_f", ())?));
    }
    Ok(None)
}

fn shift(ruby: &Ruby, t: &Timestamp, secs: f64) -> Result<RValue, Error> {
    let ns = t.unix_nanos() + (secs * 1e9).round() as i128;
    match Timestamp::from_unix_nanos(ns) {
        Some(t) => Ok(ruby.obj_wrap(RbTimestamp(t)).as_value()),
        None => Err(Error::new(
            ruby.exception_range_error(),
            "time out of range",
        )),
    }
}

/// `LogStashMesos.__log(level, plugin, message, data)`: Ruby's `logger.info(...)` and
/// friends (prelude.rb) end here, in our `tracing` logs.
fn log(level: i64, plugin: String, message: String, data: String) {
    macro_rules! emit {
        ($lvl:ident) => {
            if data.is_empty() {
                tracing::$lvl!(target: "logstash_mesos::ruby", plugin = %plugin, "{message}")
            } else {
                tracing::$lvl!(target: "logstash_mesos::ruby", plugin = %plugin, data = %data, "{message}")
            }
        };
    }
    match level {
        0 => emit!(trace),
        1 => emit!(debug),
        2 => emit!(info),
        3 => emit!(warn),
        _ => emit!(error),
    }
}

fn log_enabled(level: i64) -> bool {
    match level {
        0 => tracing::enabled!(target: "logstash_mesos::ruby", tracing::Level::TRACE),
        1 => tracing::enabled!(target: "logstash_mesos::ruby", tracing::Level::DEBUG),
        2 => tracing::enabled!(target: "logstash_mesos::ruby", tracing::Level::INFO),
        3 => tracing::enabled!(target: "logstash_mesos::ruby", tracing::Level::WARN),
        _ => tracing::enabled!(target: "logstash_mesos::ruby", tracing::Level::ERROR),
    }
}

/// Defines `LogStash::Event`, `LogStash::Timestamp` and `LogStashMesos.__log`; then
/// `prelude.rb` adds the Ruby-level parts.
pub fn define(ruby: &Ruby) -> Result<(), Error> {
    let logstash: RModule = ruby.define_module("LogStash")?;

    let ev = logstash.define_class("Event", ruby.class_object())?;
    ev.undef_default_alloc_func();
    ev.define_singleton_method("new", function!(RbEvent::rb_new, -1))?;
    ev.define_method("get", method!(RbEvent::get, 1))?;
    ev.define_method("set", method!(RbEvent::set, 2))?;
    ev.define_method("remove", method!(RbEvent::remove, 1))?;
    ev.define_method("include?", method!(RbEvent::include, 1))?;
    ev.define_method("to_hash", method!(RbEvent::to_hash, 0))?;
    ev.define_method(
        "to_hash_with_metadata",
        method!(RbEvent::to_hash_with_metadata, 0),
    )?;
    ev.define_method("tag", method!(RbEvent::tag, 1))?;
    ev.define_method("cancel", method!(RbEvent::cancel, 0))?;
    ev.define_method("uncancel", method!(RbEvent::uncancel, 0))?;
    ev.define_method("cancelled?", method!(RbEvent::is_cancelled, 0))?;
    ev.define_method("clone", method!(RbEvent::clone_event, 0))?;
    ev.define_method("dup", method!(RbEvent::clone_event, 0))?;
    ev.define_method("timestamp", method!(RbEvent::timestamp, 0))?;
    ev.define_method("timestamp=", method!(RbEvent::set_timestamp, 1))?;
    ev.define_method("append", method!(RbEvent::append, 1))?;
    ev.define_method("overwrite", method!(RbEvent::overwrite, 1))?;
    ev.define_method("sprintf", method!(RbEvent::sprintf, 1))?;
    ev.define_method("to_json", method!(RbEvent::to_json, -1))?;
    ev.define_method("to_s", method!(RbEvent::to_s, 0))?;
    ev.define_method("inspect", method!(RbEvent::inspect, 0))?;

    let ts = logstash.define_class("Timestamp", ruby.class_object())?;
    ts.undef_default_alloc_func();
    ts.define_singleton_method("new", function!(RbTimestamp::rb_new, -1))?;
    ts.define_singleton_method("now", function!(RbTimestamp::now, 0))?;
    ts.define_singleton_method("at", function!(RbTimestamp::at, -1))?;
    ts.define_singleton_method("parse_iso8601", function!(RbTimestamp::parse_iso8601, 1))?;
    ts.define_method("time", method!(RbTimestamp::time, 0))?;
    ts.define_method("to_i", method!(RbTimestamp::to_i, 0))?;
    ts.define_method("to_f", method!(RbTimestamp::to_f, 0))?;
    ts.define_method("usec", method!(RbTimestamp::usec, 0))?;
    ts.define_method("tv_usec", method!(RbTimestamp::usec, 0))?;
    ts.define_method("nsec", method!(RbTimestamp::nsec, 0))?;
    ts.define_method("year", method!(RbTimestamp::year, 0))?;
    ts.define_method("to_s", method!(RbTimestamp::to_s, 0))?;
    ts.define_method("to_iso8601", method!(RbTimestamp::to_s, 0))?;
    ts.define_method("to_json", method!(RbTimestamp::to_json, -1))?;
    ts.define_method("inspect", method!(RbTimestamp::inspect, 0))?;
    ts.define_method("<=>", method!(RbTimestamp::cmp, 1))?;
    ts.define_method("==", method!(RbTimestamp::eq, 1))?;
    ts.define_method("eql?", method!(RbTimestamp::eq, 1))?;
    ts.define_method("hash", method!(RbTimestamp::hash, 0))?;
    ts.define_method("-", method!(RbTimestamp::minus, 1))?;
    ts.define_method("+", method!(RbTimestamp::plus, 1))?;

    let lsm = ruby.define_module("LogStashMesos")?;
    lsm.define_module_function("__log", function!(log, 4))?;
    lsm.define_module_function("__log_enabled", function!(log_enabled, 1))?;
    Ok(())
}

/// The Ruby array of events in `v` (an Array of `LogStash::Event`), taken back.
pub fn take_events(v: RArray) -> Vec<(Event, bool)> {
    v.into_iter()
        .filter_map(|e| <&RbEvent>::try_convert(e).ok().and_then(RbEvent::take))
        .collect()
}
