//! The product's one plugin set: every plugin of the pipeline crate plus the agent's own
//! inputs. `run`, `check`/`-t`, `-r` reload, the agent and the scheduler's config
//! validation all use [`registry`], so a config valid for one is valid for all.

use logstash_mesos_pipeline::registry::Registry;

/// Every plugin the product ships.
pub fn registry() -> Registry {
    let mut r = Registry::builtin();
    r.add_input(&crate::DOCKER_INPUT);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_documented() {
        let failures = registry().check_schemas();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Every registered plugin, the agent's inputs included, builds from its schema.
    #[tokio::test]
    async fn every_plugin_builds() {
        let r = registry();
        assert!(r.input("docker").is_some());
        let failures = r.check_examples();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
