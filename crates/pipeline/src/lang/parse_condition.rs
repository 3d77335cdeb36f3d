//! Conditions: pest pairs → [`Expr`], with `and`/`or`/`xor`/`nand` grouped exactly as
//! Logstash's `lscl.rb` (`Condition#join_conditions`) groups them.

use crate::lang::ast::{BoolOp, CmpOp, Expr, Rvalue, RvalueKind, Value, ValueKind};
use crate::lang::parse::{span_of, unquote, Builder, Rule};
use crate::lang::source::Diagnostic;
use pest::iterators::Pair;

/// Logstash gives `and` precedence 2 and `or` 1. It has none for `xor` and `nand` (mixing
/// them with another operator raises an internal error there); here `nand` binds like
/// `and` and `xor` like `or`.
fn precedence(op: BoolOp) -> u8 {
    match op {
        BoolOp::And | BoolOp::Nand => 2,
        BoolOp::Or | BoolOp::Xor => 1,
    }
}

enum Item {
    Operand(Expr),
    Op(BoolOp),
}

/// Logstash's shunting yard, quirk included: on an operator of lower precedence it pops
/// only one operator from the stack (an `if`, not a `while`), so `a or b and c and d or e`
/// groups as `a or (b and ((c and d) or e))`.
fn join(elements: Vec<Item>) -> Option<Expr> {
    let mut out: Vec<Item> = Vec::new();
    let mut ops: Vec<BoolOp> = Vec::new();
    for e in elements {
        match e {
            Item::Op(op) => {
                if let Some(&top) = ops.last() {
                    if precedence(top) > precedence(op) {
                        ops.pop();
                        out.push(Item::Op(top));
                    }
                }
                ops.push(op);
            }
            operand => out.push(operand),
        }
    }
    out.extend(ops.into_iter().rev().map(Item::Op));
    let mut stack: Vec<Expr> = Vec::new();
    for item in out {
        match item {
            Item::Operand(e) => stack.push(e),
            Item::Op(op) => {
                let right = stack.pop()?;
                let left = stack.pop()?;
                stack.push(Expr::Bool {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                });
            }
        }
    }
    if stack.len() == 1 {
        stack.pop()
    } else {
        None
    }
}

impl Builder<'_> {
    /// A config value inside a condition's array: strings, barewords (as strings),
    /// numbers and nested arrays; a hash or plugin is reported.
    fn value_to_rvalue(&mut self, v: Value) -> Option<Rvalue> {
        let kind = match v.kind {
            ValueKind::String(s) | ValueKind::Bareword(s) => RvalueKind::String(s),
            ValueKind::Number(n) => RvalueKind::Number(n),
            ValueKind::Array(items) => RvalueKind::Array(
                items
                    .into_iter()
                    .filter_map(|i| self.value_to_rvalue(i))
                    .collect(),
            ),
            ValueKind::Hash(_) | ValueKind::Plugin(_) => {
                self.diags.push(Diagnostic::new(
                    v.span,
                    "an array in a condition may hold only strings, numbers, barewords and arrays",
                ));
                return None;
            }
        };
        Some(Rvalue { kind, span: v.span })
    }

    pub(crate) fn condition(&mut self, p: Pair<'_, Rule>, depth: usize) -> Expr {
        let span = span_of(&p);
        if self.too_deep(&p, depth) {
            return Expr::Value(Rvalue {
                kind: RvalueKind::Array(Vec::new()),
                span,
            });
        }
        let mut items = Vec::new();
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::bool_op => items.push(Item::Op(match c.as_str() {
                    "and" => BoolOp::And,
                    "or" => BoolOp::Or,
                    "xor" => BoolOp::Xor,
                    _ => BoolOp::Nand,
                })),
                _ => items.push(Item::Operand(self.expression(c, depth + 1))),
            }
        }
        join(items).unwrap_or(Expr::Value(Rvalue {
            kind: RvalueKind::Array(Vec::new()),
            span,
        }))
    }

    fn expression(&mut self, p: Pair<'_, Rule>, depth: usize) -> Expr {
        let span = span_of(&p);
        match p.as_rule() {
            Rule::paren_condition => {
                match p.into_inner().find(|c| c.as_rule() == Rule::condition) {
                    Some(c) => self.condition(c, depth + 1),
                    None => Expr::Value(Rvalue {
                        kind: RvalueKind::Array(Vec::new()),
                        span,
                    }),
                }
            }
            Rule::negative => {
                let inner = p.into_inner().find(|c| c.as_rule() != Rule::bang);
                let e = match inner {
                    Some(c) if c.as_rule() == Rule::selector => {
                        Expr::Value(self.rvalue(c, depth + 1))
                    }
                    Some(c) => self.expression(c, depth + 1),
                    None => Expr::Value(Rvalue {
                        kind: RvalueKind::Array(Vec::new()),
                        span,
                    }),
                };
                Expr::Not(Box::new(e))
            }
            _ => self.binary(p, depth),
        }
    }

    fn binary(&mut self, p: Pair<'_, Rule>, depth: usize) -> Expr {
        let span = span_of(&p);
        let mut inner = p.into_inner();
        let Some(left) = inner.next() else {
            return Expr::Value(Rvalue {
                kind: RvalueKind::Array(Vec::new()),
                span,
            });
        };
        let left = self.rvalue(left, depth + 1);
        let Some(tail) = inner.next() else {
            return Expr::Value(left);
        };
        let tail_rule = tail.as_rule();
        let mut parts = tail.into_inner();
        let op = parts
            .next()
            .map(|o| o.as_str().to_string())
            .unwrap_or_default();
        let Some(right) = parts.next() else {
            return Expr::Value(left);
        };
        match tail_rule {
            Rule::in_tail => Expr::In {
                negate: false,
                left,
                right: self.rvalue(right, depth + 1),
            },
            Rule::not_in_tail => Expr::In {
                negate: true,
                left,
                right: self.rvalue(right, depth + 1),
            },
            Rule::regexp_tail => {
                // Logstash does not substitute `${VAR}` in the pattern of `=~`.
                let right = if right.as_rule() == Rule::string {
                    Rvalue {
                        kind: RvalueKind::String(self.string(&right, false)),
                        span: span_of(&right),
                    }
                } else {
                    self.rvalue(right, depth + 1)
                };
                Expr::Match {
                    negate: op == "!~",
                    left,
                    right,
                }
            }
            _ => {
                let op = match op.as_str() {
                    "==" => CmpOp::Eq,
                    "!=" => CmpOp::Ne,
                    "<=" => CmpOp::Le,
                    ">=" => CmpOp::Ge,
                    "<" => CmpOp::Lt,
                    _ => CmpOp::Gt,
                };
                Expr::Compare {
                    op,
                    left,
                    right: self.rvalue(right, depth + 1),
                }
            }
        }
    }

    fn rvalue(&mut self, p: Pair<'_, Rule>, depth: usize) -> Rvalue {
        let p = if p.as_rule() == Rule::rvalue {
            p.clone().into_inner().next().unwrap_or(p)
        } else {
            p
        };
        let span = span_of(&p);
        if self.too_deep(&p, depth) {
            return Rvalue {
                kind: RvalueKind::Array(Vec::new()),
                span,
            };
        }
        let kind = match p.as_rule() {
            Rule::string => RvalueKind::String(self.string(&p, true)),
            Rule::number => RvalueKind::Number(p.as_str().to_string()),
            Rule::selector => RvalueKind::Selector(p.as_str().to_string()),
            Rule::regexp => RvalueKind::Regex(unquote(p.as_str()).replace("\\/", "/")),
            Rule::method_call => {
                let mut inner = p.into_inner();
                let name = inner
                    .next()
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default();
                let args = inner
                    .filter(|c| c.as_rule() == Rule::rvalue)
                    .map(|c| self.rvalue(c, depth + 1))
                    .collect();
                RvalueKind::MethodCall { name, args }
            }
            Rule::array => {
                // An array in a condition holds config values; keep those a condition can use.
                let v = self.value(p, depth + 1);
                match self.value_to_rvalue(v) {
                    Some(r) => r.kind,
                    None => RvalueKind::Array(Vec::new()),
                }
            }
            _ => RvalueKind::String(p.as_str().to_string()),
        };
        Rvalue { kind, span }
    }
}
