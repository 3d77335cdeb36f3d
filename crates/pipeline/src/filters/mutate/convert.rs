//! `mutate { convert => ... }`: Logstash 8.14+'s strict conversion table.
//!
//! Strings are stripped and `,` group separators removed first; `integer` accepts
//! decimal strings (truncated), hex (`0x7b`, `0x1.edcdp6`) and exponents
//! (`1.2345e+02`, evaluated exactly); `float` uses Ruby's strict `Float()` grammar.
//! Integers beyond 64 bits cannot be held by [`Value`] and are reported as errors.

use crate::ruby::split_sign;
use logstash_mesos_core::Value;

/// Why a value does not convert; mutate tags the event and logs the message.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConvertError {
    /// A string that Ruby's `Integer()`, `Float()` or `BigDecimal()` rejects.
    #[error("invalid value for {parser}(): {raw:?}")]
    InvalidString { parser: &'static str, raw: String },
    /// A value of a type the conversion does not take.
    #[error("can't convert {type_name} into {target}")]
    WrongType {
        type_name: &'static str,
        target: &'static str,
    },
    #[error("{0} cannot be converted to an integer")]
    NotFinite(f64),
    #[error("{0} does not fit a 64-bit integer")]
    OutOfRange(f64),
}

fn invalid(parser: &'static str, raw: &str) -> ConvertError {
    ConvertError::InvalidString {
        parser,
        raw: raw.to_string(),
    }
}

/// A conversion target of `convert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    String,
    Integer,
    Float,
    Boolean,
    IntegerEu,
    FloatEu,
}

impl Conversion {
    pub const NAMES: &'static [&'static str] = &[
        "string",
        "integer",
        "float",
        "boolean",
        "integer_eu",
        "float_eu",
    ];

    pub fn parse(s: &str) -> Option<Conversion> {
        Some(match s {
            "string" => Conversion::String,
            "integer" => Conversion::Integer,
            "float" => Conversion::Float,
            "boolean" => Conversion::Boolean,
            "integer_eu" => Conversion::IntegerEu,
            "float_eu" => Conversion::FloatEu,
            _ => return None,
        })
    }

    /// Converts one value (not an array, not a hash). `Err` carries the reason; mutate
    /// then tags the event.
    pub fn convert(self, v: &Value) -> Result<Value, ConvertError> {
        match self {
            Conversion::String => Ok(Value::String(crate::ruby::to_s(v))),
            Conversion::Integer => to_integer(v),
            Conversion::Float => to_float(v),
            Conversion::Boolean => Ok(to_boolean(v)),
            Conversion::IntegerEu => to_integer(&eu_to_us(v)),
            Conversion::FloatEu => to_float(&eu_to_us(v)),
        }
    }
}

/// Swaps `,` and `.` in strings (`1.234,5` becomes `1,234.5`).
fn eu_to_us(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(
            s.chars()
                .map(|c| match c {
                    ',' => '.',
                    '.' => ',',
                    c => c,
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Ruby's `String#strip` followed by `delete(',')`.
fn clean(s: &str) -> String {
    s.trim_matches(|c| matches!(c, '\0' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' '))
        .chars()
        .filter(|&c| c != ',')
        .collect()
}

fn is_hex(s: &str) -> bool {
    let u = s.strip_prefix(['+', '-']).unwrap_or(s);
    u.len() >= 2 && u[..2].eq_ignore_ascii_case("0x")
}

fn to_integer(v: &Value) -> Result<Value, ConvertError> {
    match v {
        Value::Bool(b) => Ok(Value::Integer(i64::from(*b))),
        Value::Integer(i) => Ok(Value::Integer(*i)),
        Value::Float(f) => float_to_int(*f),
        Value::String(raw) => {
            let s = clean(raw);
            if is_hex(&s) {
                if !s.contains('.') {
                    return parse_hex_int(&s).ok_or_else(|| invalid("Integer", raw));
                }
                let f = parse_hex_float(&s).ok_or_else(|| invalid("Float", raw))?;
                return float_to_int(f);
            }
            if s.contains('e') {
                return decimal_to_int(&s).ok_or_else(|| invalid("BigDecimal", raw));
            }
            // Ruby's `String#to_i`: leading digits, anything after ignored.
            Ok(crate::ruby::ruby_to_i(&s))
        }
        other => Err(ConvertError::WrongType {
            type_name: other.type_name(),
            target: "Integer",
        }),
    }
}

fn float_to_int(f: f64) -> Result<Value, ConvertError> {
    if !f.is_finite() {
        return Err(ConvertError::NotFinite(f));
    }
    let t = f.trunc();
    // i64::MAX as f64 rounds up to 2^63, which is out of range.
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&t) {
        Ok(Value::Integer(t as i64))
    } else {
        Err(ConvertError::OutOfRange(f))
    }
}

/// `BigDecimal(s).to_i`, exactly: `[+-]digits[.digits]e[+-]digits`.
fn decimal_to_int(s: &str) -> Option<Value> {
    let (neg, rest) = split_sign(s);
    let (mant, exp) = rest.split_once(['e', 'E'])?;
    let exp: i64 = exp.parse().ok()?;
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .chars()
        .chain(frac_part.chars())
        .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    // The decimal point sits after `int_part.len() + exp` digits.
    let point = int_part.len() as i64 + exp;
    let whole: &str = if point <= 0 {
        ""
    } else if point as usize >= digits.len() {
        if point - digits.len() as i64 > 40 {
            return None;
        }
        let zeros = "0".repeat(point as usize - digits.len());
        return assemble(neg, &format!("{digits}{zeros}"));
    } else {
        &digits[..point as usize]
    };
    assemble(neg, whole)
}

fn assemble(neg: bool, digits: &str) -> Option<Value> {
    if digits.is_empty() {
        return Some(Value::Integer(0));
    }
    Some(Value::integer_from_decimal(neg, digits))
}

fn parse_hex_int(s: &str) -> Option<Value> {
    let (neg, rest) = split_sign(s);
    let digits = rest.get(2..)?.replace('_', "");
    if digits.is_empty() {
        return None;
    }
    let v = i128::from_str_radix(&digits, 16).ok()?;
    let v = if neg { -v } else { v };
    i64::try_from(v).ok().map(Value::Integer)
}

/// A C99 hex float: `[+-]0x<hex>[.<hex>][p[+-]<dec>]`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (neg, rest) = split_sign(s);
    let body = rest.get(2..)?.to_ascii_lowercase();
    let (mant, exp) = match body.split_once('p') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().ok()?),
        None => (body.clone(), 0),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((&mant, ""));
    if ip.is_empty() && fp.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in ip.chars() {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in fp.chars() {
        value += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let v = value * 2f64.powi(exp);
    Some(if neg { -v } else { v })
}

fn to_float(v: &Value) -> Result<Value, ConvertError> {
    match v {
        Value::Bool(b) => Ok(Value::Float(if *b { 1.0 } else { 0.0 })),
        Value::Integer(i) => Ok(Value::Float(*i as f64)),
        Value::Float(f) => Ok(Value::Float(*f)),
        Value::String(raw) => {
            let s = clean(raw);
            if is_hex(&s) {
                return parse_hex_float(&s)
                    .map(Value::Float)
                    .ok_or_else(|| invalid("Float", raw));
            }
            ruby_float(&s)
                .map(Value::Float)
                .ok_or_else(|| invalid("Float", raw))
        }
        other => Err(ConvertError::WrongType {
            type_name: other.type_name(),
            target: "Float",
        }),
    }
}

/// Ruby's strict `Float(string)`: digits with single underscores between them, an
/// optional fraction with digits on both sides of the point, an optional exponent.
fn ruby_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| -> bool {
        let start = *i;
        while *i < b.len()
            && (b[*i].is_ascii_digit()
                || (b[*i] == b'_' && *i > start && b.get(*i + 1).is_some_and(u8::is_ascii_digit)))
        {
            *i += 1;
        }
        *i > start
    };
    let had_int = digits(&mut i);
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !had_int || !digits(&mut i) {
            return None;
        }
    } else if !had_int {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.replace('_', "").parse().ok()
}

/// `true`, `t`, `yes`, `y`, `1`, `1.0` (any case) → true; the false words, `0`, `0.0` and
/// the empty string → false; anything else is returned unchanged.
fn to_boolean(v: &Value) -> Value {
    let s = crate::ruby::to_s(v);
    // Ruby's /^(true|...|1.0)$/i: `.` is any character and the anchors are line anchors.
    let line_matches = |words: &[&str]| {
        s.split('\n').any(|line| {
            let l = line.to_ascii_lowercase();
            words.iter().any(|w| match *w {
                // `1.0` and `0.0` are regexes: the middle character is any character.
                "1.0" | "0.0" => {
                    let c: Vec<char> = l.chars().collect();
                    c.len() == 3 && c[0] == w.as_bytes()[0] as char && c[2] == '0'
                }
                _ => l == *w,
            })
        })
    };
    if line_matches(&["true", "t", "yes", "y", "1", "1.0"]) {
        Value::Bool(true)
    } else if s.is_empty() || line_matches(&["false", "f", "no", "n", "0", "0.0"]) {
        Value::Bool(false)
    } else {
        v.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &str) -> Result<Value, ConvertError> {
        Conversion::Integer.convert(&Value::from(s))
    }
    fn float(s: &str) -> Result<Value, ConvertError> {
        Conversion::Float.convert(&Value::from(s))
    }

    #[test]
    fn integer_table() {
        assert_eq!(int("123"), Ok(Value::Integer(123)));
        assert_eq!(int(" 1,234,567.8 "), Ok(Value::Integer(1_234_567)));
        assert_eq!(int("0x7b"), Ok(Value::Integer(123)));
        assert_eq!(int("-0x1.edcdp6"), Ok(Value::Integer(-123)));
        assert_eq!(int("1.234500e+02"), Ok(Value::Integer(123)));
        assert_eq!(int("-1.234500e+02"), Ok(Value::Integer(-123)));
        assert_eq!(
            int("9.007199254740993e+15"),
            Ok(Value::Integer(9_007_199_254_740_993))
        );
        assert_eq!(int("abc"), Ok(Value::Integer(0)), "Ruby's to_i");
        // Ruby's Bignum: kept exactly beyond 64 bits.
        assert_eq!(
            int("9223372036854775808"),
            Ok(Value::BigInteger("9223372036854775808".into()))
        );
        assert_eq!(
            int("-1.5e25"),
            Ok(Value::BigInteger("-15000000000000000000000000".into()))
        );
        assert!(int("1xe5").is_err());
        assert_eq!(
            Conversion::Integer.convert(&Value::Float(-123.45)),
            Ok(Value::Integer(-123))
        );
        assert!(Conversion::Integer
            .convert(&Value::Float(f64::NAN))
            .is_err());
        assert_eq!(
            Conversion::IntegerEu.convert(&Value::from("1.234.567,8")),
            Ok(Value::Integer(1_234_567))
        );
    }

    #[test]
    fn float_table() {
        assert_eq!(float("3,141.5926"), Ok(Value::Float(3141.5926)));
        assert_eq!(float("0x1.edcdp6"), Ok(Value::Float(123.4501953125)));
        assert_eq!(float("-0x1.edcdp6"), Ok(Value::Float(-123.4501953125)));
        assert_eq!(
            float("9007199254740993"),
            Ok(Value::Float(9_007_199_254_740_992.0))
        );
        assert_eq!(
            float("680564693277057720000000000000000000000.0"),
            Ok(Value::Float(6.805646932770577e38))
        );
        assert_eq!(float("1_000.5"), Ok(Value::Float(1000.5)));
        for bad in ["abc", "", "1.", "1e", "1__0", "12abc"] {
            assert!(float(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Conversion::FloatEu.convert(&Value::from("3.141,5926")),
            Ok(Value::Float(3141.5926))
        );
        assert!(Conversion::Float
            .convert(&Value::Object(Default::default()))
            .is_err());
    }

    #[test]
    fn boolean_and_string() {
        let b = |v: Value| Conversion::Boolean.convert(&v).expect("test");
        assert_eq!(b(Value::from("Y")), Value::Bool(true));
        assert_eq!(b(Value::from("")), Value::Bool(false));
        assert_eq!(b(Value::Float(1.0)), Value::Bool(true));
        assert_eq!(b(Value::Float(0.01)), Value::Float(0.01));
        assert_eq!(b(Value::Integer(-1)), Value::Integer(-1));
        assert_eq!(
            b(Value::from("none of the above")),
            Value::from("none of the above")
        );
        let s = |v: Value| Conversion::String.convert(&v).expect("test");
        assert_eq!(s(Value::Float(16_777_217.0)), Value::from("16777217.0"));
        assert_eq!(s(Value::Bool(false)), Value::from("false"));
    }
}
