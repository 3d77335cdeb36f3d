//! The grok engine: the pattern library, `%{...}` expansion, translation of Oniguruma
//! syntax for faster engines, and the compiled multi-pattern matcher the `grok` filter uses.

pub mod engine;
pub mod expand;
pub mod library;
pub mod matcher;
pub mod stock;
pub mod translate;
