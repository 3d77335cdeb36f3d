//! `tld`: splits a domain name into its public suffix parts with the Public Suffix List.
//!
//! Follows logstash-filter-tld (Ruby's `public_suffix` gem): when `source` holds a name
//! that is valid under a listed rule (ICANN or private section; the catch-all `*` rule
//! does not count) and has a label before its suffix, `target` becomes a hash with `tld`
//! and `top_level_domain` (the suffix, e.g. `co.uk`), `sld` (the label before it), `trd`
//! (everything before that, or absent), `domain` (`sld.tld`) and `subdomain` (`trd.sld.tld`,
//! or absent). The name is trimmed, a final dot dropped and lower-cased first, as the gem
//! normalizes it. Anything else (IPs, bare suffixes, unknown TLDs, names with a scheme)
//! leaves the event alone and untagged, as Logstash does.
//!
//! The list is the one compiled into the `psl` crate (Mozilla Public License 2.0 data,
//! <https://publicsuffix.org/>); it is never fetched at run time.

use crate::options::{Args, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Map, Value};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "source",
        OptKind::Field,
        "the field holding the domain name",
    )
    .default("\"message\""),
    OptSpec::new("target", OptKind::Field, "where the parts are written").default("\"tld\""),
];

/// The compiled tld filter.
pub struct Tld {
    source: FieldRef,
    target: FieldRef,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    Ok(Box::new(Tld {
        source: args
            .field("source")?
            .unwrap_or_else(|| FieldRef::top("message")),
        target: args
            .field("target")?
            .unwrap_or_else(|| FieldRef::top("tld")),
    }))
}

/// The parts of a domain name, as `PublicSuffix.parse` gives them.
#[derive(Debug, PartialEq, Eq)]
pub struct Parts {
    pub tld: String,
    pub sld: String,
    pub trd: Option<String>,
}

/// Splits `name`, or `None` when `PublicSuffix.valid?(name, default_rule: nil)` is false.
pub fn split(name: &str) -> Option<Parts> {
    let mut n = name.trim();
    n = n.strip_suffix('.').unwrap_or(n);
    if n.is_empty() || n.starts_with('.') || n.contains("://") || n.contains("..") {
        return None;
    }
    let lower = n.to_lowercase();
    let suffix = psl::suffix(lower.as_bytes())?;
    if !suffix.is_known() {
        return None;
    }
    let tld = std::str::from_utf8(suffix.as_bytes()).ok()?;
    let rest = lower.strip_suffix(tld)?.strip_suffix('.')?;
    if rest.is_empty() {
        return None;
    }
    let (trd, sld) = match rest.rsplit_once('.') {
        Some((t, s)) => (Some(t.to_string()), s),
        None => (None, rest),
    };
    if sld.is_empty() {
        return None;
    }
    Some(Parts {
        tld: tld.to_string(),
        sld: sld.to_string(),
        trd,
    })
}

impl Filter for Tld {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let Some(name) = event.get(&self.source).map(Value::to_logstash_string) else {
            return Outcome::Failure;
        };
        let Some(p) = split(&name) else {
            return Outcome::Failure;
        };
        let domain = format!("{}.{}", p.sld, p.tld);
        let mut h = Map::with_capacity(6);
        h.insert("tld", Value::String(p.tld.clone()));
        h.insert("sld", Value::String(p.sld));
        h.insert(
            "trd",
            p.trd
                .as_ref()
                .map_or(Value::Null, |t| Value::String(t.clone())),
        );
        h.insert(
            "subdomain",
            p.trd
                .as_ref()
                .map_or(Value::Null, |t| Value::String(format!("{t}.{domain}"))),
        );
        h.insert("domain", Value::String(domain));
        h.insert("top_level_domain", Value::String(p.tld));
        match event.set(&self.target, Value::from(h)) {
            Ok(()) => Outcome::Success,
            Err(e) => {
                tracing::warn!(error = %e, "tld: cannot set target");
                Outcome::Failure
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_public_suffix() {
        let p = split("www.Google.co.uk.").expect("parts");
        assert_eq!(p.tld, "co.uk");
        assert_eq!(p.sld, "google");
        assert_eq!(p.trd.as_deref(), Some("www"));
        let p = split("a.b.example.com").expect("parts");
        assert_eq!(p.trd.as_deref(), Some("a.b"));
        // Private section rules count, as the gem's default list includes them.
        assert_eq!(split("foo.github.io").expect("private").tld, "github.io");
    }

    #[test]
    fn rejects_what_the_gem_rejects() {
        for bad in [
            "",
            "   ",
            "com",
            "co.uk",
            ".example.com",
            "http://example.com",
            "example.notatld",
            "1.2.3.4",
            "a..b.com",
        ] {
            assert_eq!(split(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn event_fields_and_bad_values() {
        let f = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            &BuildContext::default(),
        )
        .expect("build");
        let mut e = Event::from_message("shop.example.com");
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Success
        );
        let get = |e: &Event, k: &str| {
            e.get(&FieldRef::parse(k).expect("ref"))
                .and_then(Value::as_str)
                .map(String::from)
        };
        assert_eq!(get(&e, "[tld][domain]").as_deref(), Some("example.com"));
        assert_eq!(
            get(&e, "[tld][subdomain]").as_deref(),
            Some("shop.example.com")
        );
        assert_eq!(get(&e, "[tld][top_level_domain]").as_deref(), Some("com"));
        let mut e = Event::from_message("not a domain");
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Failure
        );
        assert!(e.get(&FieldRef::top("tld")).is_none());
        let mut e = Event::new();
        e.set(&FieldRef::top("message"), Value::Integer(7))
            .expect("set");
        assert_eq!(
            f.apply(&mut e, &mut FilterContext::default()),
            Outcome::Failure
        );
    }
}
