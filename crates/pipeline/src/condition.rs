//! Compiled conditionals (`if [a] == "b" and [c] =~ /d/`), evaluated per event with
//! Logstash's semantics: a missing field is nil, `in` is substring/membership, a
//! comparison between incomparable types is false.

use crate::lang::ast::{BoolOp, CmpOp};
use logstash_mesos_core::{Event, FieldRef, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

/// A value in a condition.
#[derive(Clone, Debug)]
pub enum Operand {
    Const(Value),
    Field(FieldRef),
    List(Vec<Operand>),
}

impl Operand {
    fn eval<'a>(&'a self, event: &'a Event) -> Cow<'a, Value> {
        match self {
            Operand::Const(v) => Cow::Borrowed(v),
            Operand::Field(r) => match event.get(r) {
                Some(v) => Cow::Borrowed(v),
                None => Cow::Owned(Value::Null),
            },
            Operand::List(items) => Cow::Owned(Value::Array(
                items.iter().map(|o| o.eval(event).into_owned()).collect(),
            )),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Condition {
    Bool(BoolOp, Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    Compare(CmpOp, Operand, Operand),
    Match {
        negate: bool,
        left: Operand,
        regex: regex::Regex,
    },
    In {
        negate: bool,
        left: Operand,
        right: Operand,
    },
    Truthy(Operand),
}

impl Condition {
    pub fn eval(&self, event: &Event) -> bool {
        match self {
            Condition::Bool(op, l, r) => match op {
                BoolOp::And => l.eval(event) && r.eval(event),
                BoolOp::Or => l.eval(event) || r.eval(event),
                BoolOp::Xor => l.eval(event) ^ r.eval(event),
                BoolOp::Nand => !(l.eval(event) && r.eval(event)),
            },
            Condition::Not(c) => !c.eval(event),
            Condition::Compare(op, l, r) => {
                let (a, b) = (l.eval(event), r.eval(event));
                match op {
                    CmpOp::Eq => a.loose_eq(&b),
                    CmpOp::Ne => !a.loose_eq(&b),
                    CmpOp::Lt => a.compare(&b) == Some(Ordering::Less),
                    CmpOp::Gt => a.compare(&b) == Some(Ordering::Greater),
                    CmpOp::Le => matches!(a.compare(&b), Some(Ordering::Less | Ordering::Equal)),
                    CmpOp::Ge => matches!(a.compare(&b), Some(Ordering::Greater | Ordering::Equal)),
                }
            }
            Condition::Match {
                negate,
                left,
                regex,
            } => {
                let v = left.eval(event);
                let m = match v.as_ref() {
                    Value::String(s) => regex.is_match(s),
                    Value::Null => false,
                    other => regex.is_match(&other.to_logstash_string()),
                };
                m != *negate
            }
            Condition::In {
                negate,
                left,
                right,
            } => {
                let (a, b) = (left.eval(event), right.eval(event));
                a.contained_in(&b) != *negate
            }
            Condition::Truthy(o) => o.eval(event).is_truthy(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(s: &str) -> Operand {
        Operand::Field(FieldRef::parse(s).unwrap())
    }

    #[test]
    fn missing_fields_are_nil() {
        let e = Event::from_message("x");
        assert!(!Condition::Truthy(field("missing")).eval(&e));
        assert!(Condition::Compare(CmpOp::Eq, field("a"), field("b")).eval(&e));
        assert!(!Condition::In {
            negate: false,
            left: field("a"),
            right: field("b")
        }
        .eval(&e));
        assert!(Condition::In {
            negate: true,
            left: Operand::Const(Value::from("foo")),
            right: field("b")
        }
        .eval(&e));
        assert!(
            !Condition::Compare(CmpOp::Lt, field("a"), Operand::Const(Value::Integer(1))).eval(&e)
        );
    }

    #[test]
    fn regex_and_bool_ops() {
        let e = Event::from_message("some sample");
        let m = Condition::Match {
            negate: false,
            left: field("message"),
            regex: regex::Regex::new("sample").unwrap(),
        };
        assert!(m.eval(&e));
        let t = Condition::Truthy(field("message"));
        let nand = Condition::Bool(BoolOp::Nand, Box::new(m.clone()), Box::new(t.clone()));
        assert!(!nand.eval(&e));
        let xor = Condition::Bool(
            BoolOp::Xor,
            Box::new(m),
            Box::new(Condition::Not(Box::new(t))),
        );
        assert!(xor.eval(&e));
    }
}
