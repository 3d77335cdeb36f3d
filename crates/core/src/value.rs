//! Field values, and Logstash's rules for truthiness, comparison and string conversion.
//!
//! Filters use the methods here (`as_str`, `to_logstash_string`, `is_truthy`, ...) rather
//! than matching on the variants where they can, so the representation can be optimised
//! later without touching every filter.

use crate::timestamp::Timestamp;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

pub use crate::map::{Key, Map};

/// One field value.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Integer(i64),
    /// An integer beyond 64 bits (Ruby's Bignum, e.g. from mutate `convert`): its decimal
    /// digits, `-` first when negative, no leading zeros; never a value that fits `i64`
    /// (build it with [`Value::integer_from_decimal`]). Written to JSON as a bare number.
    BigInteger(Box<str>),
    Float(f64),
    String(String),
    Timestamp(Timestamp),
    Array(Vec<Value>),
    /// Boxed: a map is much larger than the other variants, and every hash slot
    /// holds a `Value` (32 bytes instead of 64 keeps events compact).
    Object(Box<Map>),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Integer(i) => Some(*i as f64),
            Value::BigInteger(d) => d.parse().ok(),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The integer written by `digits` (ASCII digits, at least one) with a sign: an
    /// `Integer` when it fits 64 bits, else a `BigInteger`.
    pub fn integer_from_decimal(negative: bool, digits: &str) -> Value {
        let trimmed = digits.trim_start_matches('0');
        if trimmed.is_empty() {
            return Value::Integer(0);
        }
        let signed = if negative {
            format!("-{trimmed}")
        } else {
            trimmed.to_string()
        };
        match signed.parse::<i64>() {
            Ok(i) => Value::Integer(i),
            Err(_) => Value::BigInteger(signed.into_boxed_str()),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A short type name for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Integer(_) | Value::BigInteger(_) => "integer",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Timestamp(_) => "timestamp",
            Value::Array(_) => "array",
            Value::Object(_) => "hash",
        }
    }

    /// Truthiness in a conditional (`if [field]`): a missing field, `null`, `false`,
    /// the string `"false"` and the empty string are false; everything else is true.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) => !(s.is_empty() || s == "false"),
            _ => true,
        }
    }

    /// The string Logstash produces for this value in sprintf and string conversion:
    /// strings as they are, numbers in Ruby's notation, arrays joined with `,`, hashes as JSON.
    pub fn to_logstash_string(&self) -> String {
        let mut out = String::new();
        self.write_logstash_string(&mut out);
        out
    }

    /// Appends [`Value::to_logstash_string`] to `out` without an intermediate allocation.
    pub fn write_logstash_string(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Value::Null => {}
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Integer(i) => {
                let _ = write!(out, "{i}");
            }
            Value::BigInteger(d) => out.push_str(d),
            Value::Float(f) => out.push_str(&format_float(*f)),
            Value::String(s) => out.push_str(s),
            Value::Timestamp(t) => {
                let _ = write!(out, "{t}");
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_logstash_string(out);
                }
            }
            Value::Object(_) => {
                if let Ok(s) = serde_json::to_string(self) {
                    out.push_str(&s);
                }
            }
        }
    }

    /// Logstash's `==` in conditionals: numbers compare by value across integer/float,
    /// everything else structurally.
    pub fn loose_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::BigInteger(a), Value::BigInteger(b)) => a == b,
            // Canonical big integers never equal a 64-bit one.
            (Value::BigInteger(_), Value::Integer(_))
            | (Value::Integer(_), Value::BigInteger(_)) => false,
            (
                Value::Integer(_) | Value::Float(_) | Value::BigInteger(_),
                Value::Integer(_) | Value::Float(_) | Value::BigInteger(_),
            ) => self.as_f64() == other.as_f64(),
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.loose_eq(y))
            }
            _ => self == other,
        }
    }

    /// Logstash's ordering for `<`, `>`, `<=`, `>=`: numbers with numbers, strings with
    /// strings, timestamps with timestamps; anything else is not comparable (`None`).
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Integer(a), Value::Integer(b)) => Some(a.cmp(b)),
            (
                Value::Integer(_) | Value::Float(_) | Value::BigInteger(_),
                Value::Integer(_) | Value::Float(_) | Value::BigInteger(_),
            ) => self.as_f64()?.partial_cmp(&other.as_f64()?),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// Logstash's `in`: substring when both sides are strings, membership when the right
    /// side is an array, key presence for a hash.
    pub fn contained_in(&self, container: &Value) -> bool {
        match container {
            Value::Array(items) => items.iter().any(|item| item.loose_eq(self)),
            Value::String(hay) => match self {
                Value::String(needle) => hay.contains(needle.as_str()),
                Value::Null => false,
                other => hay.contains(other.to_logstash_string().as_str()),
            },
            Value::Object(m) => self.as_str().is_some_and(|k| m.contains_key(k)),
            _ => false,
        }
    }

    /// Converts from a `serde_json::Value` (JSON input, config hashes).
    pub fn from_json(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Integer(i)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => {
                Value::Array(a.into_iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(m) => Value::Object(Box::new(
                m.into_iter()
                    .map(|(k, v)| (k, Value::from_json(v)))
                    .collect(),
            )),
        }
    }

    /// Converts to a `serde_json::Value`; timestamps become their ISO-8601 string.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Integer(i) => serde_json::Value::from(*i),
            // `serde_json::Value` has no exact form for it: the nearest float.
            Value::BigInteger(d) => d
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Timestamp(t) => serde_json::Value::String(t.to_string()),
            Value::Array(a) => serde_json::Value::Array(a.iter().map(Value::to_json).collect()),
            Value::Object(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Formats a float as Ruby's `Float#to_s` does for ordinary magnitudes: always with a
/// fractional part (`1.0`), shortest round-trip digits.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Ruby switches to exponent notation: 1.0e+20
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = if mant.contains('.') {
            mant.to_string()
        } else {
            format!("{mant}.0")
        };
        let exp: i32 = exp.parse().unwrap_or(0);
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let s = format!("{f}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_logstash_string())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Integer(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<Timestamp> for Value {
    fn from(t: Timestamp) -> Self {
        Value::Timestamp(t)
    }
}
impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Value::Array(a)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Object(Box::new(m))
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Integer(i) => s.serialize_i64(*i),
            // Within 128 bits serde has a native form; beyond, serde_json's raw value writes
            // the digits as a bare JSON number (other formats get a string).
            Value::BigInteger(d) => match d.parse::<i128>() {
                Ok(i) => s.serialize_i128(i),
                Err(_) => match serde_json::value::RawValue::from_string(d.to_string()) {
                    Ok(raw) => raw.serialize(s),
                    Err(_) => s.serialize_str(d),
                },
            },
            Value::Float(f) => {
                if f.is_finite() {
                    s.serialize_f64(*f)
                } else {
                    s.serialize_unit()
                }
            }
            Value::String(v) => s.serialize_str(v),
            Value::Timestamp(t) => s.collect_str(t),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m.iter() {
                    map.serialize_entry(k.as_str(), v)?;
                }
                map.end()
            }
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Integer(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Integer)
            .unwrap_or_else(|_| Value::BigInteger(v.to_string().into_boxed_str())))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Integer)
            .unwrap_or_else(|_| Value::BigInteger(v.to_string().into_boxed_str())))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Integer)
            .unwrap_or_else(|_| Value::BigInteger(v.to_string().into_boxed_str())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((k, v)) = map.next_entry::<Key, Value>()? {
            out.insert(k, v);
        }
        Ok(Value::Object(Box::new(out)))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_stays_compact() {
        // Every hash slot holds a Value: growing it costs memory bandwidth on every event.
        assert!(std::mem::size_of::<Value>() <= 32);
    }

    #[test]
    fn integers_beyond_64_bits_stay_exact() {
        let i128_range = Value::integer_from_decimal(false, "0009223372036854775808");
        assert_eq!(i128_range, Value::BigInteger("9223372036854775808".into()));
        let beyond = Value::integer_from_decimal(true, "680564693277057720000000000000000000000");
        assert_eq!(beyond.type_name(), "integer");
        assert_eq!(Value::integer_from_decimal(true, "42"), Value::Integer(-42));
        assert_eq!(Value::integer_from_decimal(false, "000"), Value::Integer(0));
        // JSON output writes the digits as a bare number, inside and beyond 128 bits.
        assert_eq!(
            serde_json::to_string(&Value::Array(vec![i128_range.clone(), beyond.clone()])).unwrap(),
            "[9223372036854775808,-680564693277057720000000000000000000000]"
        );
        assert_eq!(
            beyond.to_logstash_string(),
            "-680564693277057720000000000000000000000"
        );
        // Read back: above i64 within u64 stays exact.
        let back: Value = serde_json::from_str("18446744073709551615").unwrap();
        assert_eq!(back, Value::BigInteger("18446744073709551615".into()));
        // Comparisons as numbers.
        assert_eq!(
            i128_range.compare(&Value::Integer(1)),
            Some(Ordering::Greater)
        );
        assert_eq!(beyond.compare(&Value::Float(0.0)), Some(Ordering::Less));
        assert!(!i128_range.loose_eq(&Value::Integer(i64::MAX)));
        assert!(i128_range.loose_eq(&Value::BigInteger("9223372036854775808".into())));
    }

    #[test]
    fn truthiness_as_logstash() {
        assert!(!Value::Null.is_truthy());
        assert!(!Value::Bool(false).is_truthy());
        assert!(!Value::from("false").is_truthy());
        assert!(!Value::from("").is_truthy());
        assert!(Value::from("0").is_truthy());
        assert!(Value::Integer(0).is_truthy());
        assert!(Value::Array(vec![]).is_truthy());
    }

    #[test]
    fn in_operator() {
        assert!(Value::from("foo").contained_in(&Value::from("foobar")));
        assert!(!Value::from("baz").contained_in(&Value::from("foobar")));
        let list = Value::Array(vec![Value::from("one"), Value::from("two")]);
        assert!(Value::from("one").contained_in(&list));
        assert!(!Value::from("on").contained_in(&list));
        assert!(!Value::from("x").contained_in(&Value::Null));
    }

    #[test]
    fn numbers_compare_across_types() {
        assert!(Value::Integer(5).loose_eq(&Value::Float(5.0)));
        assert_eq!(
            Value::Integer(3).compare(&Value::Float(5.5)),
            Some(Ordering::Less)
        );
        assert_eq!(
            Value::from("apple").compare(&Value::from("sample")),
            Some(Ordering::Less)
        );
        assert_eq!(Value::from("1").compare(&Value::Integer(1)), None);
    }

    #[test]
    fn strings_as_ruby() {
        assert_eq!(Value::Float(1.0).to_logstash_string(), "1.0");
        assert_eq!(Value::Float(0.5).to_logstash_string(), "0.5");
        assert_eq!(Value::Float(1e20).to_logstash_string(), "1.0e+20");
        let a = Value::Array(vec![Value::from("a"), Value::Integer(1)]);
        assert_eq!(a.to_logstash_string(), "a,1");
    }

    #[test]
    fn json_round_trip_keeps_order_and_types() {
        let v: Value =
            serde_json::from_str(r#"{"b":1,"a":[1.5,"x",null,true],"big":18446744073709551615}"#)
                .unwrap();
        let out = serde_json::to_string(&v).unwrap();
        assert!(
            out.starts_with(r#"{"b":1,"a":[1.5,"x",null,true]"#),
            "{out}"
        );
    }
}
