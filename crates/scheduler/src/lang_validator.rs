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

impl ConfigValidator for LangValidator {
    fn validate(&self, name: &str, text: &str) -> Result<(), Vec<ValidationError>> {
        let sources = Sources::from_string(name, text);
        // `${VAR}` is resolved on the agent's node, not here: any name is accepted.
        let opts = ParseOptions::with_env(|_| Some(String::new()));
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
        Err(diags
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
            .collect())
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
}
