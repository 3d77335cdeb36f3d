//! Conversion between event values ([`Value`]) and Ruby objects, on the Ruby thread.
//!
//! As in Logstash, `event.get` hands Ruby a copy (a new String, Hash or Array): changing it
//! changes the event only once written back with `event.set`. Every [`Value`] kind has a
//! Ruby counterpart and converts back to itself: strings, integers (`BigInteger` as a
//! Bignum), floats, booleans, nil, arrays, hashes and timestamps (`LogStash::Timestamp`).
//! From Ruby, symbols become strings, `Time` becomes a timestamp, other numerics (Rational,
//! BigDecimal) become floats; any other object is a `TypeError`, as Logstash's converter
//! refuses classes it has no mapping for.

use super::event_api::RbTimestamp;
use logstash_mesos_core::{Map, Timestamp, Value};
use magnus::value::{Qfalse, Qtrue, ReprValue};
use magnus::{
    Error, Fixnum, Float, IntoValue, RArray, RBignum, RHash, RString, Ruby, Symbol, Time,
    TryConvert, Value as RValue,
};

/// A Rust value as a new Ruby object.
pub fn to_ruby(ruby: &Ruby, v: &Value) -> RValue {
    match v {
        Value::Null => ruby.qnil().as_value(),
        Value::Bool(b) => b.into_value_with(ruby),
        Value::Integer(i) => ruby.integer_from_i64(*i).as_value(),
        Value::BigInteger(digits) => big_to_ruby(ruby, digits),
        Value::Float(f) => ruby.float_from_f64(*f).as_value(),
        Value::String(s) => ruby.str_new(s).as_value(),
        Value::Timestamp(t) => ruby.obj_wrap(RbTimestamp(*t)).as_value(),
        Value::Array(a) => {
            let out = ruby.ary_new_capa(a.len());
            for item in a {
                // Pushing onto a fresh array cannot fail (it is not frozen).
                let _ = out.push(to_ruby(ruby, item));
            }
            out.as_value()
        }
        Value::Object(m) => map_to_ruby(ruby, m).as_value(),
    }
}

/// A map as a new Ruby Hash with String keys, in the map's order.
pub fn map_to_ruby(ruby: &Ruby, m: &Map) -> RHash {
    let out = ruby.hash_new();
    for (k, v) in m.iter() {
        let _ = out.aset(ruby.str_new(k.as_ref()), to_ruby(ruby, v));
    }
    out
}

fn big_to_ruby(ruby: &Ruby, digits: &str) -> RValue {
    // `Integer("123...")` parses any size; the digits are ours (never invalid).
    let s = ruby.str_new(digits);
    s.funcall::<_, _, RValue>("to_i", ())
        .unwrap_or_else(|_| ruby.qnil().as_value())
}

/// A Ruby object as a [`Value`]; `TypeError` for objects with no event counterpart.
pub fn from_ruby(ruby: &Ruby, v: RValue) -> Result<Value, Error> {
    from_ruby_depth(ruby, v, 0)
}

/// Deeper than this is a cycle (`a = []; a << a`) or a mistake.
const MAX_DEPTH: usize = 512;

fn from_ruby_depth(ruby: &Ruby, v: RValue, depth: usize) -> Result<Value, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::new(
            ruby.exception_arg_error(),
            "value nested too deeply (a recursive Array or Hash?)",
        ));
    }
    if v.is_nil() {
        return Ok(Value::Null);
    }
    if Qtrue::from_value(v).is_some() {
        return Ok(Value::Bool(true));
    }
    if Qfalse::from_value(v).is_some() {
        return Ok(Value::Bool(false));
    }
    if let Some(s) = RString::from_value(v) {
        return Ok(Value::String(rstring(s)?));
    }
    if let Some(i) = Fixnum::from_value(v) {
        return Ok(Value::Integer(i.to_i64()));
    }
    if let Some(f) = Float::from_value(v) {
        return Ok(Value::Float(f.to_f64()));
    }
    if let Some(a) = RArray::from_value(v) {
        let mut out = Vec::with_capacity(a.len());
        for item in a.into_iter() {
            out.push(from_ruby_depth(ruby, item, depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    if let Some(h) = RHash::from_value(v) {
        return Ok(Value::Object(Box::new(hash_to_map_depth(ruby, h, depth)?)));
    }
    if let Ok(ts) = <&RbTimestamp>::try_convert(v) {
        return Ok(Value::Timestamp(ts.0));
    }
    if let Some(b) = RBignum::from_value(v) {
        return Ok(match b.to_i64() {
            Ok(i) => Value::Integer(i),
            Err(_) => {
                let digits: String = b.funcall("to_s", ())?;
                match digits.strip_prefix('-') {
                    Some(d) => Value::integer_from_decimal(true, d),
                    None => Value::integer_from_decimal(false, &digits),
                }
            }
        });
    }
    if let Some(s) = Symbol::from_value(v) {
        return Ok(Value::String(s.name()?.into_owned()));
    }
    if v.is_kind_of(ruby.class_time()) {
        return Ok(Value::Timestamp(time_to_timestamp(ruby, v)?));
    }
    if v.is_kind_of(ruby.class_numeric()) {
        let f: f64 = v.funcall("to_f", ())?;
        return Ok(Value::Float(f));
    }
    Err(Error::new(
        ruby.exception_type_error(),
        format!(
            "cannot store a {} in an event (use a String, Integer, Float, true/false, nil, Array, Hash or LogStash::Timestamp)",
            class_name(v)
        ),
    ))
}

/// A Ruby Hash as a map; keys become strings (`to_s`).
pub fn hash_to_map(ruby: &Ruby, h: RHash) -> Result<Map, Error> {
    hash_to_map_depth(ruby, h, 0)
}

fn hash_to_map_depth(ruby: &Ruby, h: RHash, depth: usize) -> Result<Map, Error> {
    let mut out = Map::with_capacity(h.len());
    let mut err = None;
    h.foreach(|k: RValue, val: RValue| {
        let key = match RString::from_value(k) {
            Some(s) => rstring(s)?,
            None => k.to_r_string().and_then(rstring)?,
        };
        match from_ruby_depth(ruby, val, depth + 1) {
            Ok(v) => {
                out.insert(key, v);
                Ok(magnus::r_hash::ForEach::Continue)
            }
            Err(e) => {
                err = Some(e);
                Ok(magnus::r_hash::ForEach::Stop)
            }
        }
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// A Ruby String as UTF-8 (invalid bytes replaced, as Logstash's outputs would).
pub fn rstring(s: RString) -> Result<String, Error> {
    match s.to_string() {
        Ok(s) => Ok(s),
        Err(_) => {
            let scrubbed: RString = s
                .funcall::<_, _, RString>("dup", ())?
                .funcall("force_encoding", ("UTF-8",))?;
            let clean: RString = scrubbed.funcall("scrub", ())?;
            clean.to_string()
        }
    }
}

/// A Ruby `Time` as a timestamp (nanosecond precision).
pub fn time_to_timestamp(ruby: &Ruby, t: RValue) -> Result<Timestamp, Error> {
    let secs: i64 = t.funcall("to_i", ())?;
    let nanos: i64 = t.funcall("nsec", ())?;
    Timestamp::from_unix(secs, nanos as i32)
        .ok_or_else(|| Error::new(ruby.exception_range_error(), "time out of range"))
}

/// A timestamp as a UTC Ruby `Time`.
pub fn timestamp_to_time(ruby: &Ruby, t: &Timestamp) -> Result<Time, Error> {
    let time = ruby.time_nano_new(t.unix_seconds(), i64::from(t.subsec_nanos()))?;
    time.funcall("utc", ())
}

fn class_name(v: RValue) -> String {
    // `class.name` through Ruby (safe API); anonymous classes have none.
    v.class()
        .funcall::<_, _, Option<String>>("name", ())
        .ok()
        .flatten()
        .unwrap_or_else(|| "object of an anonymous class".to_string())
}
