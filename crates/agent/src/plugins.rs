//! The product's one plugin set: every plugin of the pipeline crate plus the agent's own
//! inputs. `run`, `check`/`-t`, `-r` reload, the agent and the scheduler's config
//! validation all use [`registry`], so a config valid for one is valid for all.

use logstash_mesos_pipeline::registry::Registry;

/// Every plugin the product ships.
pub fn registry() -> Registry {
    let mut r = Registry::builtin();
    r.add_input(&crate::DOCKER_INPUT);
    r.add_input(&crate::MESOS_INPUT);
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
        assert!(r.input("mesos").is_some());
        // Outside CI, a machine without the GeoIP test files (scripts/setup/geoip.sh)
        // skips the geoip example, which names its database through ${GEOIP_CITY_DB}.
        let ci = std::env::var("CI").as_deref() == Ok("true");
        let mut failures = r.check_examples();
        if !ci && std::env::var_os("GEOIP_CITY_DB").is_none() {
            failures.retain(|f| !f.contains("GEOIP_CITY_DB"));
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// `docs/plugins.md` is the option reference generated from the schemas;
    /// `LSM_UPDATE_DOCS=1` rewrites it after a schema change.
    #[test]
    fn reference_docs_match_the_schemas() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/plugins.md");
        let want = registry().reference_markdown();
        if std::env::var_os("LSM_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &want).expect("write docs/plugins.md");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/plugins.md differs from the plugin schemas: run \
             LSM_UPDATE_DOCS=1 cargo test -p logstash-mesos-agent reference"
        );
    }
}
