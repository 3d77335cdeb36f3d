//! `csv`: parses one CSV line from `source` (default `message`) into fields.
//!
//! Logstash's behaviour (Ruby's `CSV.parse_line`, strict quoting), followed here:
//! - fields are separated by `separator` (any string, default `,`); a field that starts
//!   with `quote_char` (default `"`, `"\x00"` as text means NUL) runs to the matching quote,
//!   `""` inside it is one quote, and it may hold separators and newlines; a quote inside
//!   an unquoted field, text after a closing quote or an unclosed quote is malformed and
//!   tags the event `_csvparsefailure`; the row ends at the first unquoted newline;
//! - an empty unquoted field is `null`, a quoted empty field `""`;
//! - names come from `columns`, then `column<N>` (1-based) unless
//!   `autogenerate_column_names => false` drops the extra values; a name may be a field
//!   reference (`[a][b]`), and everything goes under `target` when set;
//! - `skip_empty_columns` leaves out empty and null values; `skip_empty_rows` tags an empty
//!   line `_csvskippedemptyfield` (without it, an empty line is `_csvparsefailure`);
//! - `skip_header` drops the event whose values equal `columns`;
//!   `autodetect_column_names` takes the names from the first line and drops that event
//!   (run with one worker so "first" means the first line);
//! - `convert` (per column): `integer` and `float` as Ruby's `Integer()`/`Float()`,
//!   `boolean` (`true`/`false`, any case and spacing), `date` (`YYYY-MM-DD`, local
//!   midnight) and `date_time` (`YYYY-MM-DD[ T]HH:MM[:SS[.frac]][Z|±HH:MM]`, UTC when no
//!   zone is given) into timestamps; a value that does not convert stays a string.
//!
//! A missing source does nothing. The common options run when the line was parsed.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, FieldRefError, Key, Map, Timestamp, Value};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("source", OptKind::Field, "the field holding the CSV line").default("\"message\""),
    OptSpec::new("columns", OptKind::Array, "the column names, in order").default("[]"),
    OptSpec::new("separator", OptKind::String, "the column separator").default("\",\""),
    OptSpec::new(
        "quote_char",
        OptKind::String,
        "the quote character (\"\\x00\" means NUL)",
    )
    .default("'\"'"),
    OptSpec::new(
        "target",
        OptKind::Field,
        "where to put the columns (default: the event root)",
    ),
    OptSpec::new(
        "autogenerate_column_names",
        OptKind::Boolean,
        "name extra values column<N>; false drops them",
    )
    .default("true"),
    OptSpec::new(
        "skip_header",
        OptKind::Boolean,
        "drop the event whose values equal columns",
    )
    .default("false"),
    OptSpec::new(
        "skip_empty_columns",
        OptKind::Boolean,
        "leave out empty values",
    )
    .default("false"),
    OptSpec::new(
        "skip_empty_rows",
        OptKind::Boolean,
        "tag empty lines _csvskippedemptyfield instead of failing",
    )
    .default("false"),
    OptSpec::new(
        "convert",
        OptKind::Hash,
        "column => integer, float, boolean, date or date_time",
    )
    .default("{}"),
    OptSpec::new(
        "autodetect_column_names",
        OptKind::Boolean,
        "take the column names from the first line (that event is dropped)",
    )
    .default("false"),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "accepted; the field layout does not depend on it",
    ),
];

pub const PARSE_FAILURE_TAG: &str = "_csvparsefailure";
pub const SKIPPED_EMPTY_TAG: &str = "_csvskippedemptyfield";

/// Column-name references cached for the generated names (`column1`..).
const CACHED_GENERATED: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Conversion {
    Integer,
    Float,
    Boolean,
    Date,
    DateTime,
}

impl Conversion {
    fn parse(s: &str) -> Option<Conversion> {
        Some(match s {
            "integer" => Conversion::Integer,
            "float" => Conversion::Float,
            "boolean" => Conversion::Boolean,
            "date" => Conversion::Date,
            "date_time" => Conversion::DateTime,
            _ => return None,
        })
    }
}

/// One named column: where its value goes and how it is converted.
struct Column {
    name: String,
    field: FieldRef,
    convert: Option<Conversion>,
    /// The key in the destination map (the event root, or `target`) when the name is one
    /// plain key (not a `[a][b]` reference); `None` otherwise.
    key: Option<Key>,
}

/// The column names in use, and whether a row can take the direct path.
struct Columns {
    cols: Vec<Column>,
    /// Every name is a plain key, no two are equal and none looks like a generated
    /// `column<N>`: a row's values all go into one map under distinct keys, so each key
    /// is looked up once, before anything is added (see [`Csv::insert_direct`]).
    direct: bool,
}

impl Columns {
    fn new(cols: Vec<Column>) -> Columns {
        let mut seen = HashSet::with_capacity(cols.len());
        let direct = cols.iter().all(|c| {
            let Some(key) = &c.key else { return false };
            let generated_like = key
                .strip_prefix("column")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            !generated_like && seen.insert(key.as_str())
        });
        Columns { cols, direct }
    }
}

/// Per-thread buffers reused from row to row: the parsed values and, on the direct path,
/// where each one goes. Taken out of the cell while in use, so nothing is borrowed across
/// calls.
#[derive(Default)]
struct Scratch {
    /// `Value::Null` for an empty unquoted field, else `Value::String`.
    values: Vec<Value>,
    slots: Vec<u32>,
}

thread_local! {
    static SCRATCH: Cell<Scratch> = Cell::new(Scratch::default());
}

/// A slot: the value is not written.
const SKIP: u32 = u32::MAX;
/// A slot: the key is absent from the destination and is appended.
const APPEND: u32 = u32::MAX - 1;

/// The CSV dialect.
#[derive(Clone, Debug)]
pub struct Dialect {
    pub separator: String,
    pub quote: char,
}

/// Why a line is malformed (Ruby's `CSV::MalformedCSVError`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("unclosed quoted field")]
    Unclosed,
    #[error("illegal quoting")]
    IllegalQuoting,
    #[error("any value after quoted field isn't allowed")]
    AfterQuote,
}

impl Dialect {
    /// Parses the first row of `line`; `Ok(None)` for an empty line (Ruby's `nil`).
    pub fn parse_line(&self, line: &str) -> Result<Option<Vec<Option<String>>>, CsvError> {
        if line.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(16);
        self.parse_into(line, |v| out.push(v))?;
        Ok(Some(out))
    }

    /// Parses one row into `out`; returns where the row ended (its newline, or the end).
    /// Each field goes to `out` (`None`: an empty unquoted one) as it is parsed.
    #[inline]
    fn parse_into(
        &self,
        line: &str,
        mut out: impl FnMut(Option<String>),
    ) -> Result<usize, CsvError> {
        let b = line.as_bytes();
        let sep = self.separator.as_bytes();
        let mut quote_buf = [0u8; 4];
        let quote = self.quote.encode_utf8(&mut quote_buf).as_bytes();
        let mut pos = 0;
        if matches!(b.first(), Some(b'\n' | b'\r')) {
            // A row with nothing on it: Ruby gives an empty array.
            return Ok(0);
        }
        loop {
            if pos >= b.len() || b[pos] == b'\n' || b[pos] == b'\r' {
                // After a separator: one more, empty, field.
                out(None);
                return Ok(pos);
            }
            if b[pos..].starts_with(quote) {
                pos += quote.len();
                let mut value = String::new();
                loop {
                    let Some(q) = find(&b[pos..], quote) else {
                        return Err(CsvError::Unclosed);
                    };
                    value.push_str(&line[pos..pos + q]);
                    pos += q + quote.len();
                    if b[pos..].starts_with(quote) {
                        value.push(self.quote);
                        pos += quote.len();
                    } else {
                        break;
                    }
                }
                out(Some(value));
                if pos >= b.len() || b[pos] == b'\n' || b[pos] == b'\r' {
                    return Ok(pos);
                }
                if !b[pos..].starts_with(sep) {
                    return Err(CsvError::AfterQuote);
                }
                pos += sep.len();
                continue;
            }
            let rest = &b[pos..];
            let (end, at_sep) = next_boundary(rest, sep);
            let field = &line[pos..pos + end];
            if find(field.as_bytes(), quote).is_some() {
                return Err(CsvError::IllegalQuoting);
            }
            out((!field.is_empty()).then(|| field.to_string()));
            if !at_sep {
                return Ok(pos + end);
            }
            pos += end + sep.len();
        }
    }

    /// Parses every row of `text` (a whole file); blank lines give empty rows.
    pub fn parse_rows(&self, text: &str) -> Result<Vec<Vec<Option<String>>>, CsvError> {
        let mut rows = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let mut row = Vec::new();
            let end = self.parse_into(rest, |v| row.push(v))?;
            rows.push(row);
            let tail = &rest[end..];
            rest = tail
                .strip_prefix("\r\n")
                .or_else(|| tail.strip_prefix('\n'))
                .or_else(|| tail.strip_prefix('\r'))
                .unwrap_or(tail);
        }
        Ok(rows)
    }
}

/// The end of an unquoted field: the next separator or newline; true if a separator.
fn next_boundary(rest: &[u8], sep: &[u8]) -> (usize, bool) {
    if let [s] = sep {
        match memchr::memchr3(*s, b'\n', b'\r', rest) {
            Some(i) => (i, rest[i] == *s),
            None => (rest.len(), false),
        }
    } else {
        let nl = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
        match find(&rest[..nl], sep) {
            Some(i) => (i, true),
            None => (nl, false),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [one] => memchr::memchr(*one, hay),
        _ => memchr::memmem::find(hay, needle),
    }
}

/// The compiled csv filter.
pub struct Csv {
    source: FieldRef,
    dialect: Dialect,
    target: Option<FieldRef>,
    /// `columns`, or the detected ones (`autodetect_column_names`).
    columns: OnceLock<Columns>,
    autodetect: bool,
    autogenerate: bool,
    skip_header: bool,
    skip_empty_columns: bool,
    skip_empty_rows: bool,
    convert: HashMap<String, Conversion>,
    /// `column1`.. with their references, built once.
    generated: Vec<Column>,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    Ok(Box::new(build_csv(args)?))
}

fn build_csv(args: &Args) -> BuildResult<Csv> {
    let separator = args.string("separator").unwrap_or_else(|| ",".to_string());
    if separator.is_empty() {
        return Err(BuildError::option("separator", "cannot be empty"));
    }
    let mut quote = args
        .string("quote_char")
        .unwrap_or_else(|| "\"".to_string());
    if quote == "\\x00" {
        quote = "\0".into();
    }
    let mut chars = quote.chars();
    let (Some(q), None) = (chars.next(), chars.next()) else {
        return Err(BuildError::option(
            "quote_char",
            format!("must be a single character, got {quote:?}"),
        ));
    };
    if separator.contains(q) {
        return Err(BuildError::option(
            "separator",
            "cannot contain the quote character",
        ));
    }
    let mut convert = HashMap::new();
    let mut bad = Vec::new();
    for (col, ty) in args.hash("convert") {
        let ty = ty.to_logstash_string();
        match Conversion::parse(&ty) {
            Some(c) => {
                convert.insert(col, c);
            }
            None => bad.push(ty),
        }
    }
    if !bad.is_empty() {
        return Err(BuildError::option(
            "convert",
            format!(
                "invalid conversion types: {} (expected integer, float, boolean, date or date_time)",
                bad.join(", ")
            ),
        ));
    }
    let target = args.field("target")?;
    let mut csv = Csv {
        source: args
            .field("source")?
            .unwrap_or_else(|| FieldRef::top("message")),
        dialect: Dialect {
            separator,
            quote: q,
        },
        target,
        columns: OnceLock::new(),
        autodetect: args.flag("autodetect_column_names"),
        autogenerate: args.flag("autogenerate_column_names"),
        skip_header: args.flag("skip_header"),
        skip_empty_columns: args.flag("skip_empty_columns"),
        skip_empty_rows: args.flag("skip_empty_rows"),
        convert,
        generated: Vec::new(),
    };
    let names = args.strings("columns");
    let mut cols = Vec::with_capacity(names.len());
    for n in &names {
        cols.push(
            csv.column(n)
                .map_err(|e| BuildError::option("columns", e))?,
        );
    }
    csv.generated = (1..=CACHED_GENERATED)
        .map(|i| csv.column(&format!("column{i}")))
        .collect::<Result<_, _>>()
        .map_err(BuildError::general)?;
    if !cols.is_empty() || !csv.autodetect {
        let _ = csv.columns.set(Columns::new(cols));
    }
    Ok(csv)
}

impl Csv {
    /// A column's reference: a name starting with `[` is a field reference, anything else
    /// one key; both go under `target`.
    fn column(&self, name: &str) -> Result<Column, FieldRefError> {
        let r = if name.starts_with('[') {
            FieldRef::parse(name)?
        } else {
            FieldRef::top(name)
        };
        // One plain key, but not `@metadata` itself (setting that replaces the metadata).
        let key = match r.path() {
            [k] if !r.is_metadata() => Some(Key::from(k.as_str())),
            _ => None,
        };
        let field = match &self.target {
            Some(t) => r.under(t),
            None => r,
        };
        Ok(Column {
            name: name.to_string(),
            field,
            convert: self.convert.get(name).copied(),
            key,
        })
    }

    fn fail(&self, event: &mut Event, err: &dyn std::fmt::Display) -> Outcome {
        tracing::warn!(field = %self.source, error = %err, "error parsing csv");
        event.add_tag(PARSE_FAILURE_TAG);
        Outcome::Failure
    }
}

impl Filter for Csv {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let mut scratch = SCRATCH.take();
        let outcome = self.apply_with(event, &mut scratch);
        scratch.values.clear();
        scratch.slots.clear();
        // Keep the buffers for the next row unless a freak line made them huge.
        if scratch.values.capacity() <= 1024 {
            SCRATCH.set(scratch);
        }
        outcome
    }
}

impl Csv {
    fn apply_with(&self, event: &mut Event, scratch: &mut Scratch) -> Outcome {
        let values = &mut scratch.values;
        let empty_line = {
            let line = match event.get(&self.source) {
                None | Some(Value::Null) | Some(Value::Bool(false)) => return Outcome::Failure,
                Some(Value::String(s)) => s,
                Some(other) => {
                    let kind = other.type_name();
                    return self.fail(event, &format_args!("source is a {kind}, not a string"));
                }
            };
            // An empty line is Ruby's `nil` row.
            if !line.is_empty() {
                let push = |v: Option<String>| values.push(v.map_or(Value::Null, Value::String));
                if let Err(e) = self.dialect.parse_into(line, push) {
                    return self.fail(event, &e);
                }
            }
            line.is_empty()
        };
        if self.autodetect && self.columns.get().is_none() {
            let names: Vec<String> = values
                .drain(..)
                .map(|v| match v {
                    Value::String(s) => s,
                    _ => String::new(),
                })
                .collect();
            let cols: Result<Vec<Column>, FieldRefError> =
                names.iter().map(|n| self.column(n)).collect();
            match cols {
                Ok(cols) => {
                    let _ = self.columns.set(Columns::new(cols));
                }
                Err(e) => return self.fail(event, &e),
            }
            return Outcome::Drop;
        }
        let (columns, direct) = match self.columns.get() {
            Some(c) => (c.cols.as_slice(), c.direct),
            None => (&[][..], true),
        };
        if empty_line {
            if self.skip_empty_rows {
                event.add_tag(SKIPPED_EMPTY_TAG);
                return Outcome::Failure;
            }
            // Ruby calls a method on nil here: the event is tagged as a parse failure.
            return self.fail(event, &"empty line");
        }
        if self.skip_header
            && !columns.is_empty()
            && columns.len() == values.len()
            && columns
                .iter()
                .zip(values.iter())
                .all(|(c, v)| v.as_str() == Some(c.name.as_str()))
        {
            return Outcome::Drop;
        }
        if direct {
            if let Some(outcome) = self.insert_direct(event, columns, scratch) {
                return outcome;
            }
        }
        self.insert_each(event, columns, &mut scratch.values)
    }

    /// Whether the value at `i` is left out.
    fn skipped(&self, columns: &[Column], i: usize, v: &Value) -> bool {
        (self.skip_empty_columns && v.as_str().is_none_or(str::is_empty))
            || (i >= columns.len() && !self.autogenerate)
    }

    /// The general path: each value set on its own, as Logstash does.
    fn insert_each(
        &self,
        event: &mut Event,
        columns: &[Column],
        values: &mut Vec<Value>,
    ) -> Outcome {
        let mut extra: Option<Column> = None;
        for (i, v) in values.drain(..).enumerate() {
            if self.skipped(columns, i, &v) {
                continue;
            }
            // Ruby: `@columns[i] || "column#{i + 1}"`, numbered by the value's position.
            let col = match columns.get(i) {
                Some(c) => c,
                None => match self.generated.get(i) {
                    Some(c) => c,
                    None => match self.column(&format!("column{}", i + 1)) {
                        Ok(c) => extra.insert(c),
                        Err(_) => continue,
                    },
                },
            };
            let value = col_value(col, v);
            match (&col.key, &self.target) {
                // One top-level key: what `set` does, without its key copy.
                (Some(key), None) => {
                    event.fields_mut().insert(key.clone(), value);
                }
                _ => {
                    if event.set(&col.field, value).is_err() {
                        return self.fail(event, &format_args!("cannot set {}", col.field));
                    }
                }
            }
        }
        Outcome::Success
    }

    /// The direct path, for plain distinct names (see [`Columns::direct`]): the destination
    /// map (the root or `target`; a new target is made with room for the row) is found
    /// once, every key is looked up among the entries it had before the row, then the
    /// values are written in order (replacing in place, or appended without a second
    /// search). The result equals setting each value on its own. (An existing map is not
    /// moved into a presized one: `Map` has no `reserve`, and the move was no faster
    /// than the Vec's own growth.) `None` (nothing done) when it does not apply: the
    /// target is not a hash, or a name beyond the cached `column<N>` is needed.
    fn insert_direct(
        &self,
        event: &mut Event,
        columns: &[Column],
        scratch: &mut Scratch,
    ) -> Option<Outcome> {
        let Scratch { values, slots } = scratch;
        if self.autogenerate && values.len() > columns.len().max(self.generated.len()) {
            return None;
        }
        let writes = values
            .iter()
            .enumerate()
            .filter(|(i, v)| !self.skipped(columns, *i, v))
            .count();
        if writes == 0 {
            return Some(Outcome::Success);
        }
        let dest = match &self.target {
            None => event.fields_mut(),
            Some(t) => {
                if object_at(event, t).is_none() {
                    if event.get(t).is_some() {
                        // Not a hash: the general path fails the event as Logstash does.
                        return None;
                    }
                    let room = Map::with_capacity(writes);
                    event.set(t, Value::Object(Box::new(room))).ok()?;
                }
                object_at(event, t)?
            }
        };
        let key_of = |i: usize| -> &Column {
            match columns.get(i) {
                Some(c) => c,
                None => &self.generated[i],
            }
        };
        slots.extend(values.iter().enumerate().map(|(i, v)| {
            if self.skipped(columns, i, v) {
                return SKIP;
            }
            let key = key_of(i).key.as_deref().unwrap_or_default();
            match dest.get_index_of(key) {
                Some(pos) => pos as u32,
                None => APPEND,
            }
        }));
        for (i, (v, &slot)) in values.drain(..).zip(slots.iter()).enumerate() {
            if slot == SKIP {
                continue;
            }
            let col = key_of(i);
            let value = col_value(col, v);
            if slot == APPEND {
                let key = col.key.clone().unwrap_or_default();
                dest.insert_absent(key, value);
            } else if let Some((_, old)) = dest.get_index_mut(slot as usize) {
                *old = value;
            }
        }
        Some(Outcome::Success)
    }
}

/// A column's value, converted as configured (`null` stays `null`).
#[inline(always)]
fn col_value(col: &Column, v: Value) -> Value {
    match (col.convert, v) {
        (Some(c), Value::String(s)) => convert(c, s),
        (_, v) => v,
    }
}

/// The hash at `r`, reached through hashes only (as [`Event::set`] walks); `None` when a
/// part is missing or is not a hash, or `r` is `[@metadata]` itself.
fn object_at<'a>(event: &'a mut Event, r: &FieldRef) -> Option<&'a mut Map> {
    let (mut map, path) = if r.is_metadata() {
        (event.metadata_mut(), &r.path()[1..])
    } else {
        (event.fields_mut(), r.path())
    };
    if path.is_empty() {
        return None;
    }
    for key in path {
        match map.get_mut(key.as_str()) {
            Some(Value::Object(m)) => map = m,
            _ => return None,
        }
    }
    Some(map)
}

/// Applies a `convert` type; a value that does not convert stays a string.
fn convert(c: Conversion, s: String) -> Value {
    let converted = match c {
        Conversion::Integer => ruby_integer(&s),
        Conversion::Float => ruby_float(&s).map(Value::Float),
        Conversion::Boolean => match s.trim().to_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            // Ruby returns the stripped, lowercased text.
            other => Some(Value::String(other.to_string())),
        },
        Conversion::Date => parse_date(&s).map(Value::Timestamp),
        Conversion::DateTime => parse_date_time(&s).map(Value::Timestamp),
    };
    converted.unwrap_or(Value::String(s))
}

/// Digits in `radix` with single underscores between them.
fn radix_digits(s: &str, radix: u32) -> Option<String> {
    if s.is_empty() || s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return None;
    }
    let digits: String = s.chars().filter(|c| *c != '_').collect();
    digits.chars().all(|c| c.is_digit(radix)).then_some(digits)
}

/// Ruby's strict `Integer(string)`: surrounding whitespace, a sign, `0x`/`0b`/`0o`/`0d`
/// or a leading `0` (octal) prefix, underscores between digits.
pub fn ruby_integer(s: &str) -> Option<Value> {
    let t = s.trim();
    let (neg, body) = crate::ruby::split_sign(t);
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0d") {
        (10, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    let digits = radix_digits(digits, radix)?;
    if radix == 10 {
        let trimmed = digits.trim_start_matches('0');
        return Some(Value::integer_from_decimal(
            neg,
            if trimmed.is_empty() { "0" } else { trimmed },
        ));
    }
    let v = i128::from_str_radix(&digits, radix).ok()?;
    i64::try_from(if neg { -v } else { v })
        .ok()
        .map(Value::Integer)
}

/// Ruby's strict `Float(string)`: surrounding whitespace, a sign, digits with
/// underscores, an optional fraction (digits on both sides) and exponent.
pub fn ruby_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let (neg, body) = crate::ruby::split_sign(t);
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mant.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mant, None),
    };
    let mut text = radix_digits(int, 10)?;
    if let Some(f) = frac {
        text.push('.');
        text.push_str(&radix_digits(f, 10)?);
    }
    if let Some(e) = exp {
        let (eneg, edigits) = crate::ruby::split_sign(e);
        text.push('e');
        if eneg {
            text.push('-');
        }
        text.push_str(&radix_digits(edigits, 10)?);
    }
    let v: f64 = text.parse().ok()?;
    Some(if neg { -v } else { v })
}

fn num(s: &str, len: usize) -> Option<i32> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn civil_date(s: &str) -> Option<jiff::civil::Date> {
    let mut it = s.splitn(3, '-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    jiff::civil::Date::new(num(y, 4)? as i16, num(m, 2)? as i8, num(d, 2)? as i8).ok()
}

/// CSV's `date` converter for ISO dates: `Date.parse(...).to_time`, local midnight.
fn parse_date(s: &str) -> Option<Timestamp> {
    let date = civil_date(s)?;
    let dt = date.to_datetime(jiff::civil::Time::midnight());
    jiff::tz::TimeZone::system()
        .to_timestamp(dt)
        .ok()
        .map(Timestamp)
}

/// CSV's `date_time` converter for ISO forms: `DateTime.parse(...)`, UTC unless a zone
/// is given.
fn parse_date_time(s: &str) -> Option<Timestamp> {
    if s.len() == 10 {
        let date = civil_date(s)?;
        let dt = date.to_datetime(jiff::civil::Time::midnight());
        return jiff::tz::TimeZone::UTC.to_timestamp(dt).ok().map(Timestamp);
    }
    let (date, rest) = (s.get(..10)?, s.get(10..)?);
    let date = civil_date(date)?;
    let rest = rest.strip_prefix(['T', ' '])?;
    // Split off a zone: `Z` or `±HH:MM`.
    let (time, offset_secs) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0)
    } else if rest.len() > 6 && matches!(rest.as_bytes()[rest.len() - 6], b'+' | b'-') {
        let (t, z) = rest.split_at(rest.len() - 6);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, m) = z[1..].split_once(':')?;
        (t, sign * (num(h, 2)? * 3600 + num(m, 2)? * 60))
    } else {
        (rest, 0)
    };
    let mut parts = time.splitn(3, ':');
    let h = num(parts.next()?, 2)?;
    let mi = num(parts.next()?, 2)?;
    let (sec, nanos) = match parts.next() {
        None => (0, 0),
        Some(sec) => match sec.split_once('.') {
            None => (num(sec, 2)?, 0),
            Some((whole, frac)) => {
                if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let mut digits: String = frac.chars().take(9).collect();
                while digits.len() < 9 {
                    digits.push('0');
                }
                (num(whole, 2)?, digits.parse().ok()?)
            }
        },
    };
    let t = jiff::civil::Time::new(h as i8, mi as i8, sec as i8, nanos).ok()?;
    let offset = jiff::tz::Offset::from_seconds(offset_secs).ok()?;
    offset
        .to_time_zone()
        .to_timestamp(date.to_datetime(t))
        .ok()
        .map(Timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(sep: &str, q: char) -> Dialect {
        Dialect {
            separator: sep.into(),
            quote: q,
        }
    }

    fn row(line: &str) -> Result<Option<Vec<Option<String>>>, CsvError> {
        d(",", '"').parse_line(line)
    }

    fn some(v: &[Option<&str>]) -> Option<Vec<Option<String>>> {
        Some(v.iter().map(|x| x.map(String::from)).collect())
    }

    #[test]
    fn quoting_rules() {
        assert_eq!(
            row("a,\"b,c\",d"),
            Ok(some(&[Some("a"), Some("b,c"), Some("d")]))
        );
        assert_eq!(row("\"x\"\"y\""), Ok(some(&[Some("x\"y")])));
        assert_eq!(row(",\"\","), Ok(some(&[None, Some(""), None])));
        assert_eq!(
            row("\"multi\nline\",z"),
            Ok(some(&[Some("multi\nline"), Some("z")]))
        );
        assert_eq!(row("a,b\nc,d"), Ok(some(&[Some("a"), Some("b")])));
        assert_eq!(row("a,b\r\n"), Ok(some(&[Some("a"), Some("b")])));
        assert_eq!(row(""), Ok(None));
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(row("a,\"b"), Err(CsvError::Unclosed));
        assert_eq!(row("a,b\"c"), Err(CsvError::IllegalQuoting));
        assert_eq!(row("\"a\"b,c"), Err(CsvError::AfterQuote));
    }

    #[test]
    fn multi_char_separator() {
        let r = d("||", '\'').parse_line("a||'b||c'||");
        assert_eq!(r, Ok(some(&[Some("a"), Some("b||c"), None])));
    }

    #[test]
    fn conversions() {
        assert_eq!(ruby_integer(" 12_3 "), Some(Value::Integer(123)));
        assert_eq!(ruby_integer("0x1f"), Some(Value::Integer(31)));
        assert_eq!(ruby_integer("010"), Some(Value::Integer(8)));
        assert_eq!(ruby_integer("1.5"), None);
        assert_eq!(ruby_integer("12a"), None);
        assert_eq!(ruby_float("3.25"), Some(3.25));
        assert_eq!(ruby_float("-1e3"), Some(-1000.0));
        assert_eq!(ruby_float("1."), None);
        assert_eq!(ruby_float("abc"), None);
        assert_eq!(
            convert(Conversion::DateTime, "2001-02-03T04:05:06+01:00".into()),
            Value::Timestamp(Timestamp::parse_iso8601("2001-02-03T03:05:06Z").unwrap())
        );
        assert_eq!(
            convert(Conversion::Date, "2017-02-30".into()),
            Value::from("2017-02-30")
        );
        assert_eq!(
            convert(Conversion::Boolean, " TRUE ".into()),
            Value::Bool(true)
        );
    }

    fn run(args: Args, line: Value) -> (Outcome, Event) {
        let f = build(&args, &BuildContext::default()).unwrap();
        let mut e = Event::new();
        e.set(&FieldRef::top("message"), line).unwrap();
        let o = f.apply(&mut e, &mut FilterContext::default());
        (o, e)
    }

    #[test]
    fn bad_input_is_tagged() {
        let (o, e) = run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            "a,\"b".into(),
        );
        assert_eq!(o, Outcome::Failure);
        assert!(e.has_tag(PARSE_FAILURE_TAG));
        let (_, e) = run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            Value::Integer(3),
        );
        assert!(e.has_tag(PARSE_FAILURE_TAG));
        let (_, e) = run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            "".into(),
        );
        assert!(e.has_tag(PARSE_FAILURE_TAG));
        // A column that cannot be set (its parent is a string) fails the event.
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("columns", Value::Array(vec!["[message][x]".into()]));
        let (o, e) = run(args, "v".into());
        assert_eq!(o, Outcome::Failure);
        assert!(e.has_tag(PARSE_FAILURE_TAG));
    }

    #[test]
    fn bad_config() {
        let ctx = BuildContext::default();
        let mut conv = logstash_mesos_core::Map::new();
        conv.insert("a", Value::from("intger"));
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("convert", Value::Object(Box::new(conv)));
        let err = build(&args, &ctx).err().unwrap();
        assert!(err.message.contains("intger"), "{}", err.message);
        assert!(build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("quote_char", "ab".into()),
            &ctx
        )
        .is_err());
        assert!(build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with("separator", "".into()),
            &ctx
        )
        .is_err());
    }

    #[test]
    fn autodetect_takes_first_line() {
        let f = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("autodetect_column_names", true.into()),
            &BuildContext::default(),
        )
        .unwrap();
        let mut h = Event::from_message("x,y");
        assert_eq!(
            f.apply(&mut h, &mut FilterContext::default()),
            Outcome::Drop
        );
        let mut e = Event::from_message("1,2,3");
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Success
        );
        assert_eq!(e.get(&FieldRef::top("x")), Some(&"1".into()));
        assert_eq!(e.get(&FieldRef::top("y")), Some(&"2".into()));
        assert_eq!(e.get(&FieldRef::top("column3")), Some(&"3".into()));
    }

    /// The per-value algorithm (`event.set` for each value in order), as the reference
    /// for the direct path.
    fn reference(f: &Csv, event: &mut Event) -> Outcome {
        let line = event
            .get(&f.source)
            .and_then(Value::as_str)
            .unwrap()
            .to_string();
        let values = f.dialect.parse_line(&line).unwrap().unwrap();
        let columns = &f.columns.get().unwrap().cols;
        for (i, v) in values.into_iter().enumerate() {
            if f.skip_empty_columns && v.as_deref().is_none_or(str::is_empty) {
                continue;
            }
            let col = match columns.get(i) {
                Some(c) => c,
                None if !f.autogenerate => continue,
                None => &f.column(&format!("column{}", i + 1)).unwrap(),
            };
            let value = col_value(col, v.map_or(Value::Null, Value::String));
            if event.set(&col.field, value).is_err() {
                return f.fail(event, &"cannot set");
            }
        }
        Outcome::Success
    }

    #[test]
    fn direct_path_matches_setting_each_value() {
        let configs: Vec<Vec<(&str, Value)>> = vec![
            vec![(
                "columns",
                Value::from_json(serde_json::json!(["a", "message", "b"])),
            )],
            vec![(
                "columns",
                Value::from_json(serde_json::json!(["a", "a", "b"])),
            )],
            vec![(
                "columns",
                Value::from_json(serde_json::json!(["a", "column3"])),
            )],
            vec![("columns", Value::from_json(serde_json::json!(["[a]", "a"])))],
            vec![(
                "columns",
                Value::from_json(serde_json::json!(["[x][y]", "x", "z"])),
            )],
            vec![(
                "columns",
                Value::from_json(serde_json::json!(["@metadata", "b"])),
            )],
            vec![
                ("columns", Value::from_json(serde_json::json!(["a", "b"]))),
                ("target", "t".into()),
            ],
            vec![
                ("columns", Value::from_json(serde_json::json!(["a", "b"]))),
                ("target", "[@metadata][t]".into()),
            ],
            vec![
                ("columns", Value::from_json(serde_json::json!(["a", "b"]))),
                ("target", "[x][t]".into()),
                ("skip_empty_columns", true.into()),
            ],
            vec![
                ("columns", Value::from_json(serde_json::json!(["a", "b"]))),
                ("autogenerate_column_names", false.into()),
            ],
            vec![
                ("columns", Value::from_json(serde_json::json!(["a", "n"]))),
                (
                    "convert",
                    Value::from_json(serde_json::json!({"n": "integer", "column3": "float"})),
                ),
                ("skip_empty_columns", true.into()),
            ],
            vec![],
        ];
        let lines = ["1,2,3,4", "x,,\"\",7", ",,", "only", "1,2.5,3.5"];
        let starts = [
            serde_json::json!({}),
            serde_json::json!({"a": "old", "b": 1, "column3": "old"}),
            serde_json::json!({"t": {"a": "old", "keep": 1}, "x": {"t": "str"}}),
            serde_json::json!({"t": "str", "x": "str"}),
            serde_json::json!({"t": [1], "x": {"t": {}}}),
        ];
        let mut big = serde_json::Map::new();
        for i in 0..20 {
            big.insert(format!("k{i}"), serde_json::json!(i));
        }
        big.insert("b".into(), serde_json::json!("old"));
        let starts: Vec<_> = starts
            .into_iter()
            .chain([serde_json::Value::Object(big)])
            .collect();
        for cfg in &configs {
            let args = cfg.iter().fold(
                Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
                |a, (k, v)| a.with(k, v.clone()),
            );
            let f = build_csv(&args).unwrap();
            for start in &starts {
                for line in lines {
                    let map: logstash_mesos_core::Map =
                        serde_json::from_value(start.clone()).unwrap();
                    let mut e = Event::from_map(map);
                    e.set(&FieldRef::top("message"), line.into()).unwrap();
                    let _ = e.set(&FieldRef::parse("[@metadata][m]").unwrap(), 1.into());
                    let mut want = e.clone();
                    let o = f.apply(&mut e, &mut FilterContext::default());
                    let wo = reference(&f, &mut want);
                    let ctx = format!("{cfg:?} {start} {line:?}");
                    assert_eq!(o, wo, "{ctx}");
                    assert_eq!(e.to_json_string(), want.to_json_string(), "{ctx}");
                    assert_eq!(e.metadata(), want.metadata(), "{ctx}");
                }
            }
        }
    }

    #[test]
    fn many_generated_columns() {
        let line = (1..=70)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let (_, e) = run(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            line.into(),
        );
        assert_eq!(e.get(&FieldRef::top("column70")), Some(&"70".into()));
        assert_eq!(e.get(&FieldRef::top("column64")), Some(&"64".into()));
    }
}
