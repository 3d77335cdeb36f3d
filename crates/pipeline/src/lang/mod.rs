//! The Logstash config language: `parse` (text → [`ast`]), `check_syntax` (the rules
//! that need no plugin registry) and `compile` (AST → pipeline).

pub(crate) mod args;
pub mod ast;
mod check;
pub mod compile;
pub mod env;
pub mod escapes;
mod parse;
mod parse_condition;
pub mod source;
mod syntax_error;

pub use check::check_syntax;
pub use parse::{parse, EnvLookup, ParseOptions};
pub use source::{Diagnostic, Sources};
