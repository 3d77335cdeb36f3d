pub mod grok;
