//! The Logstash config language: `parse` (text → [`ast`]), `compile` (AST → pipeline).

pub mod ast;
pub mod compile;
pub mod source;
