//! The product's config validator: the real Logstash grammar and plugin option
//! checks from `logstash_mesos_pipeline`, the same ones `logstash-mesos check` runs.

use logstash_mesos_pipeline::lang::{self, parse, ParseOptions, Sources};
use logstash_mesos_pipeline::plugin::BuildContext;
use logstash_mesos_pipeline::registry::Registry;

use crate::configs::{ConfigValidator, ValidationError};

pub struct LangValidator {
    registry: Registry,
    ctx: BuildContext,
}

impl LangValidator {
    /// Validates with `registry`: the product's one plugin set in production.
    pub fn new(registry: Registry) -> Self {
        Self {
            registry,
            ctx: BuildContext::default(),
        }
    }
}

/// Events "Try it" runs at most, so a pasted file cannot hold the scheduler.
pub const TRY_MAX_LINES: usize = 1000;

fn to_errors(sources: &Sources, diags: Vec<lang::Diagnostic>) -> Vec<ValidationError> {
    diags
        .into_iter()
        .map(|d| {
            let loc = sources.locate(d.span.start);
            let message = match d.help {
                Some(h) => format!("{}; {h}", d.message),
                None => d.message,
            };
            ValidationError {
                line: loc.line,
                column: loc.column,
                message,
            }
        })
        .collect()
}

impl ConfigValidator for LangValidator {
    fn plugins(&self) -> Option<&Registry> {
        Some(&self.registry)
    }

    fn try_filters(
        &self,
        text: &str,
        lines: &[String],
    ) -> Option<Result<Vec<serde_json::Value>, Vec<ValidationError>>> {
        let sources = Sources::from_string("try", text);
        let opts = ParseOptions::with_env(|_| Some(String::new()));
        let mut ast = match parse(&sources, &opts) {
            Ok(ast) => ast,
            Err(d) => return Some(Err(to_errors(&sources, d))),
        };
        // Only the filters run: inputs and outputs would open files, sockets, clients.
        ast.sections
            .retain(|s| s.kind == logstash_mesos_pipeline::lang::ast::SectionKind::Filter);
        let d = lang::check_syntax(&ast);
        if !d.is_empty() {
            return Some(Err(to_errors(&sources, d)));
        }
        let compiled = match lang::compile::compile(&ast, &self.registry, &self.ctx) {
            Ok(p) => p,
            Err(d) => return Some(Err(to_errors(&sources, d))),
        };
        let events: Vec<logstash_mesos_core::Event> = lines
            .iter()
            .take(TRY_MAX_LINES)
            .map(|l| logstash_mesos_core::Event::from_message(l.as_str()))
            .collect();
        let out = logstash_mesos_pipeline::runner::run_steps(&compiled.filters, events);
        Some(Ok(out
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e.to_value()).unwrap_or_default();
                if !e.metadata().is_empty() {
                    if let (Some(obj), Ok(meta)) =
                        (v.as_object_mut(), serde_json::to_value(e.metadata()))
                    {
                        obj.insert("@metadata".into(), meta);
                    }
                }
                v
            })
            .collect()))
    }

    fn validate(&self, name: &str, text: &str) -> Result<(), Vec<ValidationError>> {
        let sources = Sources::from_string(name, text);
        // `${VAR}` is resolved on the agent's node, not here: any name is accepted. A
        // `${LSM_PORT_*}` is a port the scheduler assigns per node: read as a port number,
        // so `port => "${LSM_PORT_SYSLOG}"` passes a numeric option's check.
        let opts = ParseOptions::with_env(|name| {
            Some(if name.starts_with(crate::sched::ports::ENV_PORT_PREFIX) {
                "31000".to_string()
            } else {
                String::new()
            })
        });
        let diags = match parse(&sources, &opts) {
            Ok(ast) => {
                let d = lang::check_syntax(&ast);
                if d.is_empty() {
                    lang::compile::validate(&ast, &self.registry, &self.ctx)
                } else {
                    d
                }
            }
            Err(d) => d,
        };
        if diags.is_empty() {
            return Ok(());
        }
        Err(to_errors(&sources, diags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_logstash_and_reports_positions() {
        let v = LangValidator::new(Registry::builtin());
        v.validate(
            "main",
            "input { stdin {} }\nfilter { mutate { add_tag => [\"x\"] } }\noutput { stdout {} }\n",
        )
        .expect("valid");
        let e = v
            .validate(
                "main",
                "input { stdin {} }\noutput {\n  stdout { nosuch => 1 }\n}\n",
            )
            .expect_err("bad option");
        assert_eq!(e[0].line, 3, "{e:?}");
        assert!(e[0].message.contains("nosuch"), "{e:?}");
        let e = v
            .validate("main", "input { stdin { }\n")
            .expect_err("syntax");
        assert!(!e.is_empty());
    }
}

#[cfg(test)]
mod product_plugins {
    use super::*;

    /// The config agents exist to run: the scheduler must accept the docker input (and
    /// reject its bad options with positions), since it validates with the one plugin set.
    #[test]
    fn accepts_docker_input_configs() {
        let v = LangValidator::new(logstash_mesos_agent::plugins::registry());
        v.validate(
            "nginx",
            "input { docker { image => \"nginx*\" path => [\"/var/log/nginx/access.log\"] } }\n\
             filter { grok { match => { \"message\" => \"%{COMBINEDAPACHELOG}\" } } }\n\
             output { elasticsearch { hosts => [\"http://es:9200\"] } }\n",
        )
        .expect("docker input accepted");
        let e = v
            .validate(
                "nginx",
                "input {\n  docker { image => \"nginx*\" pathh => [\"/x\"] }\n}\noutput { stdout {} }\n",
            )
            .expect_err("unknown option");
        assert_eq!((e[0].line, e[0].column), (2, 30), "{e:?}");
        assert!(e[0].message.contains("pathh"), "{e:?}");
    }

    /// "Try it": sample lines through the real filters; inputs and outputs are not built
    /// (the unreachable Elasticsearch and the docker input play no part); conditionals,
    /// drops and failure tags behave as in a running pipeline.
    #[test]
    fn try_runs_sample_lines_through_the_filters() {
        let v = LangValidator::new(logstash_mesos_agent::plugins::registry());
        let config = "input { docker { image => \"nginx*\" } }\n\
             filter {\n  grok { match => { \"message\" => \"%{IP:client} %{WORD:verb} %{URIPATH:path}\" } }\n\
               if [verb] == \"HEAD\" { drop {} }\n\
               mutate { add_field => { \"[@metadata][seen]\" => \"yes\" } }\n}\n\
             output { elasticsearch { hosts => [\"http://192.0.2.1:9200\"] } }\n";
        let lines = [
            "10.0.0.1 GET /index.html",
            "10.0.0.2 HEAD /ping",
            "not a log line",
        ]
        .map(String::from);
        let events = v
            .try_filters(config, &lines)
            .expect("the product validator runs filters")
            .expect("valid config");
        assert_eq!(events.len(), 2, "the HEAD line is dropped: {events:?}");
        assert_eq!(events[0]["client"], "10.0.0.1");
        assert_eq!(events[0]["path"], "/index.html");
        assert_eq!(events[0]["@metadata"]["seen"], "yes");
        assert_eq!(events[1]["message"], "not a log line");
        assert_eq!(events[1]["tags"], serde_json::json!(["_grokparsefailure"]));
        // Errors carry positions, as validation's.
        let e = v
            .try_filters("filter {\n  mutate { bogus => 1 }\n}\n", &lines)
            .expect("runs")
            .expect_err("unknown option");
        assert_eq!((e[0].line, e[0].column), (2, 12), "{e:?}");
        // At most TRY_MAX_LINES events.
        let many = vec!["x".to_string(); TRY_MAX_LINES + 10];
        let out = v
            .try_filters("filter { }", &many)
            .expect("runs")
            .expect("valid");
        assert_eq!(out.len(), TRY_MAX_LINES);
    }
}
