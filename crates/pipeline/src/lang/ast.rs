//! The parsed config: plain data, no plugin code. `parse.rs` builds it from text,
//! `compile.rs` turns it into a runnable pipeline.

use serde::Serialize;

/// A byte range in the concatenated config text; [`crate::lang::source::Sources`] maps it
/// back to file, line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A whole config: the sections in source order (several `filter` sections compose in order).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Config {
    pub sections: Vec<Section>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SectionKind {
    Input,
    Filter,
    Output,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Section {
    pub kind: SectionKind,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Stmt {
    Plugin(Plugin),
    If(IfChain),
}

/// `name { attr => value ... }`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plugin {
    pub name: String,
    pub name_span: Span,
    pub attributes: Vec<Attribute>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attribute {
    /// The attribute name, unquoted (names may be barewords or quoted strings).
    pub name: String,
    pub name_span: Span,
    pub value: Value,
}

/// A config value with its position.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ValueKind {
    /// A quoted string, after `${VAR}` substitution and (when enabled) escape processing.
    String(String),
    /// A number as written (`-1.5`), so integer and float options can tell them apart.
    Number(String),
    Bareword(String),
    Array(Vec<Value>),
    Hash(Vec<HashEntry>),
    /// A plugin as a value: `codec => json { charset => "UTF-8" }`.
    Plugin(Box<Plugin>),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HashEntry {
    /// The key, unquoted (string, number or bareword).
    pub key: String,
    pub key_span: Span,
    pub value: Value,
}

/// `if cond { } else if cond { } else { }`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IfChain {
    /// `if` and each `else if`, in order.
    pub branches: Vec<Branch>,
    pub else_body: Option<Vec<Stmt>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Branch {
    pub condition: Expr,
    pub body: Vec<Stmt>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BoolOp {
    And,
    Or,
    Xor,
    Nand,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// A condition. The parser resolves operator precedence as Logstash does, so
/// `compile.rs` only walks the tree.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Expr {
    Bool {
        op: BoolOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Not(Box<Expr>),
    Compare {
        op: CmpOp,
        left: Rvalue,
        right: Rvalue,
    },
    /// `=~` (negated: `!~`); `right` is a regex literal, or a string/selector used as one.
    Match {
        negate: bool,
        left: Rvalue,
        right: Rvalue,
    },
    /// `in` (negated: `not in`)
    In {
        negate: bool,
        left: Rvalue,
        right: Rvalue,
    },
    /// A bare value: truthiness.
    Value(Rvalue),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rvalue {
    pub kind: RvalueKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum RvalueKind {
    String(String),
    Number(String),
    /// A field reference as written: `[a][b]`.
    Selector(String),
    Array(Vec<Rvalue>),
    /// A regex literal's pattern, without the slashes (`\/` already unescaped to `/`).
    Regex(String),
    /// `name(args)`: a method call as the grammar allows it.
    MethodCall {
        name: String,
        args: Vec<Rvalue>,
    },
}
