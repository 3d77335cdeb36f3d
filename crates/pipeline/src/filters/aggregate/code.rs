//! The `code` / `timeout_code` step of aggregate.
//!
//! Logstash runs them as Ruby. This build has no Ruby interpreter yet (the ruby filter is
//! separate work), so the options accept a small, fixed subset of Ruby statements that
//! covers the common aggregation idioms, compiled once at load; anything else is a
//! config error naming the statement. The runtime only sees the [`MapCode`] /
//! [`EventCode`] traits, so a real Ruby implementation can replace [`compile_map_code`]
//! without touching the filter.
//!
//! The subset (statements separated by `;` or newlines):
//! - `map['k'] = X`, `map['k'] ||= X`, `map['k'] += X`, `map['k'] -= X`, `map['k'] << X`
//! - `event.set('field', X)`, `event.remove('field')`, `event.tag('t')`, `event.cancel()`
//!
//! where `X` is a string (`'..'` or `".."` without `#{}`), a number, `true`, `false`,
//! `nil`, `[]`, `{}`, a hash `{'k' => X, ...}`, `event.get('field')` or `map['k']`,
//! optionally followed by `.to_i`,
//! `.to_f` or `.to_s`. `+=` adds numbers (integer + integer stays integer), joins strings
//! and arrays; on `nil` it fails as Ruby does (the event is tagged `_aggregateexception`).

use crate::ruby::{ruby_to_f, ruby_to_i};
use logstash_mesos_core::event::SetError;
use logstash_mesos_core::{Event, FieldRef, FieldRefError, Map, Value};

/// Per-map settings the code may change (Logstash's `map_meta`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapMeta {
    /// Seconds after creation (0: expire now).
    pub timeout: Option<i64>,
    /// Seconds after the last event (0: expire now).
    pub inactivity_timeout: Option<i64>,
}

/// What the code asks of the pipeline besides the map changes.
#[derive(Debug, Default)]
pub struct CodeEffects {
    /// `event.cancel`: the event is dropped.
    pub cancel: bool,
    /// Events the code created (Ruby's `new_event_block`).
    pub new_events: Vec<Event>,
}

/// Why a statement is outside the supported subset.
#[derive(Debug, thiserror::Error)]
pub enum SyntaxError {
    #[error("unterminated string")]
    UnterminatedString,
    #[error("string interpolation #{{...}} needs Ruby")]
    Interpolation,
    #[error("bad number {0}")]
    BadNumber(String),
    #[error("unexpected {0:?}")]
    UnexpectedChar(char),
    /// `found` is the token met, as written in messages.
    #[error("expected {expected:?}, found {found}")]
    ExpectedPunct { expected: String, found: String },
    #[error("expected a string, found {found}")]
    ExpectedString { found: String },
    #[error(transparent)]
    FieldRef(#[from] FieldRefError),
    #[error("only event.get('field') reads the event")]
    EventGetOnly,
    #[error("unsupported expression starting at {found}")]
    UnsupportedExpression { found: String },
    #[error("unsupported method {found}")]
    UnsupportedMethod { found: String },
    #[error("unsupported operator {found}")]
    UnsupportedOperator { found: String },
    #[error("expected an event method")]
    ExpectedEventMethod,
    #[error("unsupported event method {0:?}")]
    UnsupportedEventMethod(String),
    #[error("unsupported statement starting at {found}")]
    UnsupportedStatement { found: String },
    #[error("unexpected {found} after a statement")]
    AfterStatement { found: String },
    /// `timeout_code` reads or writes `map`.
    #[error("timeout_code has no map")]
    NoMapInTimeoutCode,
}

/// A `code` / `timeout_code` this build cannot run (a config error).
#[derive(Debug, thiserror::Error)]
#[error("{src:?} needs Ruby, which this build does not embed ({reason}); without it the aggregate code may use: {subset}", subset = SUBSET)]
pub struct UnsupportedCode {
    pub src: String,
    pub reason: SyntaxError,
}

/// Why compiled code failed on an event (it is tagged `_aggregateexception`).
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("no map in timeout_code")]
    NoMap,
    #[error("integer overflow")]
    IntegerOverflow,
    /// An operator Ruby does not define for these operand types.
    #[error("undefined method for {left} and {right}")]
    UndefinedMethod {
        left: &'static str,
        right: &'static str,
    },
    #[error("{}", .0.reason)]
    Set(SetError),
}

/// The `code` option, compiled.
pub trait MapCode: Send + Sync {
    fn run(
        &self,
        event: &mut Event,
        map: &mut Map,
        meta: &mut MapMeta,
        effects: &mut CodeEffects,
    ) -> Result<(), CodeError>;
}

/// The `timeout_code` option, compiled: runs on the event pushed at timeout.
pub trait EventCode: Send + Sync {
    fn run(&self, event: &mut Event, effects: &mut CodeEffects) -> Result<(), CodeError>;
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Str(String),
    Num(Value),
    Ident(String),
    P(&'static str),
    End,
}

#[derive(Clone, Debug)]
enum Conv {
    I,
    F,
    S,
}

#[derive(Clone, Debug)]
enum Expr {
    Lit(Value),
    /// `{'k' => X, ...}`.
    Hash(Vec<(String, Expr)>),
    EventGet(FieldRef),
    MapGet(String),
    Conv(Box<Expr>, Conv),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Set,
    OrSet,
    Add,
    Sub,
    Push,
}

#[derive(Clone, Debug)]
enum Stmt {
    Map(String, Op, Expr),
    EventSet(FieldRef, Expr),
    EventRemove(FieldRef),
    Tag(String),
    Cancel,
}

fn lex(src: &str) -> Result<Vec<Tok>, SyntaxError> {
    let cs: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < cs.len() {
        let c = cs[i];
        match c {
            ' ' | '\t' | '\r' => i += 1,
            '\n' | ';' => {
                out.push(Tok::End);
                i += 1;
            }
            '#' => {
                while i < cs.len() && cs[i] != '\n' {
                    i += 1;
                }
            }
            '\'' | '"' => {
                let q = c;
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&ch) = cs.get(i) else {
                        return Err(SyntaxError::UnterminatedString);
                    };
                    i += 1;
                    if ch == q {
                        break;
                    }
                    if ch == '\\' {
                        let Some(&n) = cs.get(i) else {
                            return Err(SyntaxError::UnterminatedString);
                        };
                        i += 1;
                        match (q, n) {
                            (_, '\\') => s.push('\\'),
                            (_, n) if n == q => s.push(n),
                            ('"', 'n') => s.push('\n'),
                            ('"', 't') => s.push('\t'),
                            ('"', 'r') => s.push('\r'),
                            (_, n) => {
                                s.push('\\');
                                s.push(n);
                            }
                        }
                        continue;
                    }
                    if q == '"' && ch == '#' && cs.get(i) == Some(&'{') {
                        return Err(SyntaxError::Interpolation);
                    }
                    s.push(ch);
                }
                out.push(Tok::Str(s));
            }
            c if c.is_ascii_digit()
                || (c == '-'
                    && cs.get(i + 1).is_some_and(char::is_ascii_digit)
                    && !matches!(out.last(), Some(Tok::Num(_) | Tok::Str(_) | Tok::Ident(_)))) =>
            {
                let start = i;
                i += 1;
                while i < cs.len() && (cs[i].is_ascii_digit() || cs[i] == '_') {
                    i += 1;
                }
                let mut float = false;
                if cs.get(i) == Some(&'.') && cs.get(i + 1).is_some_and(char::is_ascii_digit) {
                    float = true;
                    i += 1;
                    while i < cs.len() && cs[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                let text: String = cs[start..i].iter().filter(|c| **c != '_').collect();
                let v = if float {
                    Value::Float(
                        text.parse()
                            .map_err(|_| SyntaxError::BadNumber(text.clone()))?,
                    )
                } else {
                    Value::Integer(
                        text.parse()
                            .map_err(|_| SyntaxError::BadNumber(text.clone()))?,
                    )
                };
                out.push(Tok::Num(v));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < cs.len() && (cs[i].is_ascii_alphanumeric() || cs[i] == '_') {
                    i += 1;
                }
                if i < cs.len() && (cs[i] == '!' || cs[i] == '?') {
                    i += 1;
                }
                out.push(Tok::Ident(cs[start..i].iter().collect()));
            }
            _ => {
                let rest: String = cs[i..cs.len().min(i + 3)].iter().collect();
                let p = [
                    "||=", "+=", "-=", "<<", "=>", "=", "(", ")", "[", "]", ",", ".", "{", "}",
                ]
                .into_iter()
                .find(|p| rest.starts_with(p))
                .ok_or(SyntaxError::UnexpectedChar(c))?;
                out.push(Tok::P(p));
                i += p.chars().count();
            }
        }
    }
    out.push(Tok::End);
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).unwrap_or(&Tok::End)
    }
    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        self.i += 1;
        t
    }
    fn punct(&mut self, p: &str) -> Result<(), SyntaxError> {
        match self.next() {
            Tok::P(q) if q == p => Ok(()),
            other => Err(SyntaxError::ExpectedPunct {
                expected: p.to_string(),
                found: format!("{other:?}"),
            }),
        }
    }
    fn ident(&mut self, name: &str) -> bool {
        if matches!(self.peek(), Tok::Ident(n) if n == name) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn string(&mut self) -> Result<String, SyntaxError> {
        match self.next() {
            Tok::Str(s) => Ok(s),
            other => Err(SyntaxError::ExpectedString {
                found: format!("{other:?}"),
            }),
        }
    }
    fn field(&mut self) -> Result<FieldRef, SyntaxError> {
        let s = self.string()?;
        Ok(FieldRef::parse(&s)?)
    }
    /// `map['k']` after `map`.
    fn map_key(&mut self) -> Result<String, SyntaxError> {
        self.punct("[")?;
        let k = self.string()?;
        self.punct("]")?;
        Ok(k)
    }
    fn empty_call(&mut self) {
        if self.peek() == &Tok::P("(") && self.toks.get(self.i + 1) == Some(&Tok::P(")")) {
            self.i += 2;
        }
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        let mut e = match self.next() {
            Tok::Str(s) => Expr::Lit(Value::String(s)),
            Tok::Num(n) => Expr::Lit(n),
            Tok::Ident(n) if n == "true" => Expr::Lit(Value::Bool(true)),
            Tok::Ident(n) if n == "false" => Expr::Lit(Value::Bool(false)),
            Tok::Ident(n) if n == "nil" => Expr::Lit(Value::Null),
            Tok::P("[") => {
                self.punct("]")?;
                Expr::Lit(Value::Array(Vec::new()))
            }
            Tok::P("{") => {
                let mut entries = Vec::new();
                while self.peek() != &Tok::P("}") {
                    let k = self.string()?;
                    self.punct("=>")?;
                    entries.push((k, self.expr()?));
                    if self.peek() == &Tok::P(",") {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                self.punct("}")?;
                Expr::Hash(entries)
            }
            Tok::Ident(n) if n == "map" => Expr::MapGet(self.map_key()?),
            Tok::Ident(n) if n == "event" => {
                self.punct(".")?;
                if !self.ident("get") {
                    return Err(SyntaxError::EventGetOnly);
                }
                self.punct("(")?;
                let f = self.field()?;
                self.punct(")")?;
                Expr::EventGet(f)
            }
            other => {
                return Err(SyntaxError::UnsupportedExpression {
                    found: format!("{other:?}"),
                })
            }
        };
        while self.peek() == &Tok::P(".") {
            self.i += 1;
            let conv = match self.next() {
                Tok::Ident(n) if n == "to_i" => Conv::I,
                Tok::Ident(n) if n == "to_f" => Conv::F,
                Tok::Ident(n) if n == "to_s" => Conv::S,
                other => {
                    return Err(SyntaxError::UnsupportedMethod {
                        found: format!("{other:?}"),
                    })
                }
            };
            self.empty_call();
            e = Expr::Conv(Box::new(e), conv);
        }
        Ok(e)
    }

    fn stmt(&mut self) -> Result<Stmt, SyntaxError> {
        if self.ident("map") {
            let k = self.map_key()?;
            let op = match self.next() {
                Tok::P("=") => Op::Set,
                Tok::P("||=") => Op::OrSet,
                Tok::P("+=") => Op::Add,
                Tok::P("-=") => Op::Sub,
                Tok::P("<<") => Op::Push,
                other => {
                    return Err(SyntaxError::UnsupportedOperator {
                        found: format!("{other:?}"),
                    })
                }
            };
            return Ok(Stmt::Map(k, op, self.expr()?));
        }
        if self.ident("event") {
            self.punct(".")?;
            let Tok::Ident(m) = self.next() else {
                return Err(SyntaxError::ExpectedEventMethod);
            };
            return match m.as_str() {
                "set" => {
                    self.punct("(")?;
                    let f = self.field()?;
                    self.punct(",")?;
                    let e = self.expr()?;
                    self.punct(")")?;
                    Ok(Stmt::EventSet(f, e))
                }
                "remove" => {
                    self.punct("(")?;
                    let f = self.field()?;
                    self.punct(")")?;
                    Ok(Stmt::EventRemove(f))
                }
                "tag" => {
                    self.punct("(")?;
                    let t = self.string()?;
                    self.punct(")")?;
                    Ok(Stmt::Tag(t))
                }
                "cancel" => {
                    self.empty_call();
                    Ok(Stmt::Cancel)
                }
                other => Err(SyntaxError::UnsupportedEventMethod(other.to_string())),
            };
        }
        Err(SyntaxError::UnsupportedStatement {
            found: format!("{:?}", self.peek()),
        })
    }
}

/// The supported subset, for error messages.
pub const SUBSET: &str = "map['k'] = / ||= / += / -= / << X; event.set('f', X); event.remove('f'); event.tag('t'); event.cancel() — X: a literal, {'k' => X}, event.get('f'), map['k'], optionally .to_i/.to_f/.to_s";

fn parse(src: &str) -> Result<Vec<Stmt>, SyntaxError> {
    let toks = lex(src)?;
    let mut p = Parser { toks, i: 0 };
    let mut out = Vec::new();
    loop {
        while p.peek() == &Tok::End && p.i < p.toks.len() {
            p.i += 1;
        }
        if p.i >= p.toks.len() {
            return Ok(out);
        }
        out.push(p.stmt()?);
        match p.next() {
            Tok::End => {}
            other => {
                return Err(SyntaxError::AfterStatement {
                    found: format!("{other:?}"),
                })
            }
        }
    }
}

struct Subset(Vec<Stmt>);

fn eval(e: &Expr, event: &Event, map: Option<&Map>) -> Value {
    match e {
        Expr::Lit(v) => v.clone(),
        Expr::Hash(entries) => {
            let mut m = Map::new();
            for (k, e) in entries {
                m.insert(k.as_str(), eval(e, event, map));
            }
            Value::Object(Box::new(m))
        }
        Expr::EventGet(f) => event.get(f).cloned().unwrap_or(Value::Null),
        Expr::MapGet(k) => map.and_then(|m| m.get(k)).cloned().unwrap_or(Value::Null),
        Expr::Conv(inner, c) => {
            let v = eval(inner, event, map);
            match c {
                Conv::I => match v {
                    Value::Null => Value::Integer(0),
                    Value::Integer(_) | Value::BigInteger(_) => v,
                    Value::Float(f) => Value::Integer(f.trunc() as i64),
                    Value::String(s) => ruby_to_i(&s),
                    other => ruby_to_i(&other.to_logstash_string()),
                },
                Conv::F => match v {
                    Value::Null => Value::Float(0.0),
                    Value::Integer(i) => Value::Float(i as f64),
                    Value::Float(_) => v,
                    other => Value::Float(ruby_to_f(&other.to_logstash_string())),
                },
                Conv::S => match v {
                    Value::Null => Value::String(String::new()),
                    other => Value::String(other.to_logstash_string()),
                },
            }
        }
    }
}

fn arith(op: Op, old: Value, v: Value) -> Result<Value, CodeError> {
    let num = |x: &Value| match x {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    match (op, old, v) {
        (Op::Add, Value::Integer(a), Value::Integer(b)) => a
            .checked_add(b)
            .map(Value::Integer)
            .ok_or(CodeError::IntegerOverflow),
        (Op::Sub, Value::Integer(a), Value::Integer(b)) => a
            .checked_sub(b)
            .map(Value::Integer)
            .ok_or(CodeError::IntegerOverflow),
        (Op::Add, Value::String(a), Value::String(b)) => Ok(Value::String(a + &b)),
        (Op::Add, Value::Array(mut a), Value::Array(b)) => {
            a.extend(b);
            Ok(Value::Array(a))
        }
        (Op::Push, Value::Array(mut a), v) => {
            a.push(v);
            Ok(Value::Array(a))
        }
        (Op::Push, Value::String(a), Value::String(b)) => Ok(Value::String(a + &b)),
        (op, a, b) => match (num(&a), num(&b)) {
            (Some(x), Some(y)) if op == Op::Add => Ok(Value::Float(x + y)),
            (Some(x), Some(y)) if op == Op::Sub => Ok(Value::Float(x - y)),
            _ => Err(CodeError::UndefinedMethod {
                left: a.type_name(),
                right: b.type_name(),
            }),
        },
    }
}

fn run_stmts(
    stmts: &[Stmt],
    event: &mut Event,
    mut map: Option<&mut Map>,
    effects: &mut CodeEffects,
) -> Result<(), CodeError> {
    for s in stmts {
        match s {
            Stmt::Map(k, op, e) => {
                let m = map.as_deref_mut().ok_or(CodeError::NoMap)?;
                let v = eval(e, event, Some(m));
                let old = m.get(k).cloned().unwrap_or(Value::Null);
                let new = match op {
                    Op::Set => v,
                    Op::OrSet => match old {
                        Value::Null | Value::Bool(false) => v,
                        keep => keep,
                    },
                    Op::Add | Op::Sub | Op::Push => arith(*op, old, v)?,
                };
                m.insert(k.as_str(), new);
            }
            Stmt::EventSet(f, e) => {
                let v = eval(e, event, map.as_deref());
                event.set(f, v).map_err(CodeError::Set)?;
            }
            Stmt::EventRemove(f) => {
                event.remove(f);
            }
            Stmt::Tag(t) => event.add_tag(t),
            Stmt::Cancel => effects.cancel = true,
        }
    }
    Ok(())
}

impl MapCode for Subset {
    fn run(
        &self,
        event: &mut Event,
        map: &mut Map,
        _meta: &mut MapMeta,
        effects: &mut CodeEffects,
    ) -> Result<(), CodeError> {
        run_stmts(&self.0, event, Some(map), effects)
    }
}

impl EventCode for Subset {
    fn run(&self, event: &mut Event, effects: &mut CodeEffects) -> Result<(), CodeError> {
        run_stmts(&self.0, event, None, effects)
    }
}

fn unsupported(src: &str, reason: SyntaxError) -> UnsupportedCode {
    UnsupportedCode {
        src: src.to_string(),
        reason,
    }
}

/// Compiles the `code` option.
pub fn compile_map_code(src: &str) -> Result<Box<dyn MapCode>, UnsupportedCode> {
    parse(src)
        .map(|s| Box::new(Subset(s)) as Box<dyn MapCode>)
        .map_err(|e| unsupported(src, e))
}

/// Compiles the `timeout_code` option (no `map` there: the map is the event).
pub fn compile_event_code(src: &str) -> Result<Box<dyn EventCode>, UnsupportedCode> {
    let stmts = parse(src).map_err(|e| unsupported(src, e))?;
    if stmts.iter().any(|s| matches!(s, Stmt::Map(..))) {
        return Err(unsupported(src, SyntaxError::NoMapInTimeoutCode));
    }
    if stmts
        .iter()
        .any(|s| matches!(s, Stmt::EventSet(_, e) if uses_map(e)))
    {
        return Err(unsupported(src, SyntaxError::NoMapInTimeoutCode));
    }
    Ok(Box::new(Subset(stmts)))
}

fn uses_map(e: &Expr) -> bool {
    match e {
        Expr::MapGet(_) => true,
        Expr::Conv(i, _) => uses_map(i),
        Expr::Hash(entries) => entries.iter().any(|(_, e)| uses_map(e)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        code: &str,
        event: &mut Event,
        map: &mut Map,
    ) -> Result<CodeEffects, Box<dyn std::error::Error>> {
        let c = compile_map_code(code)?;
        let mut fx = CodeEffects::default();
        c.run(event, map, &mut MapMeta::default(), &mut fx)?;
        Ok(fx)
    }

    #[test]
    fn the_sql_duration_example() {
        let mut map = Map::new();
        let mut e = Event::new();
        let _ = e.set(&FieldRef::top("duration"), Value::Integer(12));
        run("map['sql_duration'] = 0", &mut e, &mut map).unwrap();
        run(
            "map['sql_duration'] += event.get('duration')",
            &mut e,
            &mut map,
        )
        .unwrap();
        let _ = e.set(&FieldRef::top("duration"), "1.5".into());
        run(
            "map['sql_duration'] += event.get('duration').to_f",
            &mut e,
            &mut map,
        )
        .unwrap();
        run(
            "event.set('sql_duration', map['sql_duration'])",
            &mut e,
            &mut map,
        )
        .unwrap();
        assert_eq!(e.get_top("sql_duration"), Some(&Value::Float(13.5)));
    }

    #[test]
    fn several_statements_and_effects() {
        let mut map = Map::new();
        let mut e = Event::new();
        let _ = e.set(&FieldRef::parse("[a][b]").unwrap(), "x".into());
        let fx = run(
            "map['n'] ||= 0 ; map['n'] += 1\nmap['n'] ||= 5; map['l'] ||= []; map['l'] << event.get('[a][b]')\n event.tag('t'); event.remove('[a]'); event.cancel()",
            &mut e,
            &mut map,
        )
        .unwrap();
        assert_eq!(map.get("n"), Some(&Value::Integer(1)));
        assert_eq!(map.get("l"), Some(&Value::Array(vec!["x".into()])));
        assert!(e.has_tag("t"));
        assert!(e.get_top("a").is_none());
        assert!(fx.cancel);
    }

    #[test]
    fn hash_literals() {
        let mut map = Map::new();
        let mut e = Event::new();
        let _ = e.set(&FieldRef::top("town_name"), "Paris".into());
        run(
            "map['towns'] ||= []\n map['towns'] << {'town_name' => event.get('town_name'), 'n' => 1}",
            &mut e,
            &mut map,
        )
        .unwrap();
        let want: Value = serde_json::from_str(r#"[{"town_name":"Paris","n":1}]"#).unwrap();
        assert_eq!(map.get("towns"), Some(&want));
        assert!(compile_map_code("map['a'] = {'k' 1}").is_err());
    }

    #[test]
    fn runtime_errors_are_errors() {
        let mut map = Map::new();
        let mut e = Event::new();
        assert!(run("map['x'] += 1", &mut e, &mut map).is_err());
    }

    #[test]
    fn real_ruby_is_a_clear_compile_error() {
        for src in [
            "map['a'] = event.get('x') * 2",
            "puts 'hi'",
            "event.set('x', \"#{map['a']}\")",
            "map['a'] = ",
            "if x then y end",
            "'unterminated",
        ] {
            let err = compile_map_code(src).err().unwrap().to_string();
            assert!(err.contains("needs Ruby"), "{src}: {err}");
        }
        assert!(compile_event_code("map['a'] = 1").is_err());
        assert!(compile_event_code("event.set('x', map['a'])").is_err());
        assert!(compile_event_code("event.set('x', 1); event.tag('t')").is_ok());
    }
}
