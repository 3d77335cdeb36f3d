//! The Logstash config language: `parse` (text → [`ast`]) and `compile` (AST → pipeline).

pub mod ast;
pub mod source;
