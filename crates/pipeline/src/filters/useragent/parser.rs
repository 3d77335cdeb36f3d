//! The ua-parser rules engine, with the semantics of Logstash's Java parser
//! (`org.logstash.uaparser`): three ordered rule lists (`user_agent_parsers`,
//! `os_parsers`, `device_parsers`), the first rule whose regex matches anywhere wins.
//!
//! Replacement rules, as the Java classes apply them:
//! - user agent: `family_replacement` with `$1` replaced by group 1 (literal when group 1
//!   is absent), else group 1; `v1_replacement`/`v2_replacement` literal, else groups
//!   2..5, blank ones counted as absent; a rule without family is skipped.
//! - os: `os_replacement` with every `$1` replaced by group 1, else group 1;
//!   `os_vN_replacement` is group N when it is `$N`, else literal; else groups 2..5 as they
//!   matched (an empty group stays empty).
//! - device: `device_replacement` with each `$N` replaced by group N (or nothing), trimmed,
//!   else group 1; `regex_flag: 'i'` makes the match case-insensitive (devices only).
//!
//! Speed: each rule's regex is reduced to the literals every match must start (or end)
//! with; one Aho-Corasick scan over the string finds which rules' literals occur, and only
//! those rules (plus the few without a usable literal) run their regex, in order.

use aho_corasick::AhoCorasick;
use regex::bytes::{Captures, Regex, RegexBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use std::collections::HashMap;
use std::fmt;
use yaml_rust2::{Yaml, YamlLoader};

/// A parsed user agent (family and version parts).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UserAgent {
    pub family: String,
    pub major: Option<String>,
    pub minor: Option<String>,
    pub patch: Option<String>,
    pub patch_minor: Option<String>,
}

/// A parsed operating system.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Os {
    pub family: String,
    pub major: Option<String>,
    pub minor: Option<String>,
    pub patch: Option<String>,
    pub patch_minor: Option<String>,
}

/// What Logstash's `Client` holds: user agent, OS and device family.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Client {
    pub user_agent: UserAgent,
    pub os: Os,
    pub device: String,
}

/// Embedded or user rules that do not compile (the message says which and why).
#[derive(Clone, Debug)]
pub struct RulesError(pub String);

impl std::error::Error for RulesError {}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

struct Rule {
    re: Regex,
    /// Replacements by key (`family_replacement`, `v1_replacement`, ...).
    repl: [Option<String>; 4],
}

/// One ordered rule list with its prefilter.
struct List {
    rules: Vec<Rule>,
    /// Literal scan: every pattern is one literal, case-insensitively (a superset of
    /// what the rules need, so it never hides a match).
    scan: AhoCorasick,
    /// Literal id -> the rules needing it.
    owners: Vec<Vec<u32>>,
    /// Rules with no usable literal: always tried.
    always: Vec<bool>,
}

/// The literals one of which every match of `src` must start or end with, truncated to
/// at most 8 bytes, or `None` when there is no such finite set of non-trivial literals.
fn required_literals(src: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(src)
        .ok()?;
    let pick = |prefix: bool| -> Option<Seq> {
        let kind = if prefix {
            ExtractKind::Prefix
        } else {
            ExtractKind::Suffix
        };
        let mut seq = Extractor::new().kind(kind).extract(&hir);
        if prefix {
            seq.keep_first_bytes(8);
        } else {
            seq.keep_last_bytes(8);
        }
        seq.dedup();
        (seq.is_finite() && seq.min_literal_len()? >= 2 && seq.len()? <= 64).then_some(seq)
    };
    let best = match (pick(true), pick(false)) {
        (Some(p), Some(s)) => {
            if s.min_literal_len() > p.min_literal_len() {
                s
            } else {
                p
            }
        }
        (Some(p), None) => p,
        (None, Some(s)) => s,
        (None, None) => return None,
    };
    Some(
        best.literals()?
            .iter()
            .map(|l| l.as_bytes().to_vec())
            .collect(),
    )
}

impl List {
    fn build(items: &[Yaml], keys: [&str; 4], what: &str, flags: bool) -> Result<List, RulesError> {
        let mut rules = Vec::with_capacity(items.len());
        let mut lits: Vec<Vec<u8>> = Vec::new();
        let mut lit_ids: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut owners: Vec<Vec<u32>> = Vec::new();
        let mut always = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let get = |k: &str| match &item[k] {
                Yaml::String(s) => Some(s.clone()),
                Yaml::Integer(n) => Some(n.to_string()),
                Yaml::Real(r) => Some(r.clone()),
                _ => None,
            };
            let src = get("regex")
                .ok_or_else(|| RulesError(format!("{what} rule {} has no regex", i + 1)))?;
            let ci = flags && get("regex_flag").as_deref() == Some("i");
            let re = compile(&src, ci)
                .map_err(|e| RulesError(format!("{what} rule {} ({src:?}): {e}", i + 1)))?;
            match required_literals(&src) {
                Some(ls) => {
                    always.push(false);
                    for l in ls {
                        let id = *lit_ids.entry(l.clone()).or_insert_with(|| {
                            lits.push(l);
                            owners.push(Vec::new());
                            lits.len() - 1
                        });
                        owners[id].push(i as u32);
                    }
                }
                None => always.push(true),
            }
            rules.push(Rule {
                re,
                repl: keys.map(|k| if k.is_empty() { None } else { get(k) }),
            });
        }
        let scan = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&lits)
            .map_err(|e| RulesError(format!("{what} rules: {e}")))?;
        Ok(List {
            rules,
            scan,
            owners,
            always,
        })
    }

    /// How many rules have no literal and always run (for tests and tuning).
    #[cfg(test)]
    fn always_count(&self) -> usize {
        self.always.iter().filter(|a| **a).count()
    }

    /// The first rule (in order) whose `apply` gives a result.
    fn first<T>(
        &self,
        s: &[u8],
        mut apply: impl FnMut(&Rule, &Captures) -> Option<T>,
    ) -> Option<T> {
        let mut candidate = self.always.clone();
        for m in self.scan.find_overlapping_iter(s) {
            for r in &self.owners[m.pattern().as_usize()] {
                candidate[*r as usize] = true;
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            if !candidate[i] {
                continue;
            }
            if let Some(c) = r.re.captures(s) {
                if let Some(t) = apply(r, &c) {
                    return Some(t);
                }
            }
        }
        None
    }
}

/// Java's regex classes are ASCII (`\d`, `\w`, `\s`, case folding) unless asked
/// otherwise, so Unicode is off; matching runs on bytes.
fn compile(src: &str, case_insensitive: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(src)
        .unicode(false)
        .case_insensitive(case_insensitive)
        .size_limit(16 << 20)
        .build()
}

fn group(c: &Captures, i: usize) -> Option<String> {
    c.get(i)
        .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
}

fn non_blank(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// The three rule lists, compiled.
pub struct Rules {
    ua: List,
    os: List,
    device: List,
}

impl Rules {
    /// Compiles a `regexes.yaml` text.
    pub fn from_yaml(text: &str) -> Result<Rules, RulesError> {
        let docs = YamlLoader::load_from_str(text)
            .map_err(|e| RulesError(format!("invalid YAML: {e}")))?;
        let doc = docs
            .first()
            .ok_or_else(|| RulesError("empty YAML".into()))?;
        let list = |k: &str| match &doc[k] {
            Yaml::Array(a) => Ok(a.clone()),
            _ => Err(RulesError(format!("{k} is missing from the YAML"))),
        };
        Ok(Rules {
            ua: List::build(
                &list("user_agent_parsers")?,
                ["family_replacement", "v1_replacement", "v2_replacement", ""],
                "user_agent_parsers",
                false,
            )?,
            os: List::build(
                &list("os_parsers")?,
                [
                    "os_replacement",
                    "os_v1_replacement",
                    "os_v2_replacement",
                    "os_v3_replacement",
                ],
                "os_parsers",
                false,
            )?,
            device: List::build(
                &list("device_parsers")?,
                ["device_replacement", "", "", ""],
                "device_parsers",
                true,
            )?,
        })
    }

    /// Rules without a prefilter literal, per list (user agent, os, device).
    #[cfg(test)]
    pub fn unfiltered(&self) -> (usize, usize, usize) {
        (
            self.ua.always_count(),
            self.os.always_count(),
            self.device.always_count(),
        )
    }

    pub fn parse(&self, s: &str) -> Client {
        Client {
            user_agent: self.parse_user_agent(s),
            os: self.parse_os(s),
            device: self.parse_device(s),
        }
    }

    pub fn parse_user_agent(&self, s: &str) -> UserAgent {
        let n = |c: &Captures| c.len() - 1;
        self.ua
            .first(s.as_bytes(), |r, c| {
                let family = match &r.repl[0] {
                    Some(fr) if fr.contains("$1") && n(c) >= 1 => match group(c, 1) {
                        Some(g1) => fr.replacen("$1", &g1, 1),
                        None => fr.clone(),
                    },
                    Some(fr) => fr.clone(),
                    None if n(c) >= 1 => group(c, 1)?,
                    None => return None,
                };
                let major = match &r.repl[1] {
                    Some(v) => Some(v.clone()),
                    None if n(c) >= 2 => non_blank(group(c, 2)),
                    None => None,
                };
                let (minor, patch, patch_minor) = match &r.repl[2] {
                    Some(v) => (Some(v.clone()), None, None),
                    None => (
                        if n(c) >= 3 {
                            non_blank(group(c, 3))
                        } else {
                            None
                        },
                        if n(c) >= 4 {
                            non_blank(group(c, 4))
                        } else {
                            None
                        },
                        if n(c) >= 5 {
                            non_blank(group(c, 5))
                        } else {
                            None
                        },
                    ),
                };
                Some(UserAgent {
                    family,
                    major,
                    minor,
                    patch,
                    patch_minor,
                })
            })
            .unwrap_or_else(|| UserAgent {
                family: "Other".into(),
                ..UserAgent::default()
            })
    }

    pub fn parse_os(&self, s: &str) -> Os {
        self.os
            .first(s.as_bytes(), |r, c| {
                let n = c.len() - 1;
                let family = match &r.repl[0] {
                    // Java's replaceAll with a null group throws; an empty group 1 is
                    // the closest thing that does not.
                    Some(fr) if n >= 1 => fr.replace("$1", &group(c, 1).unwrap_or_default()),
                    Some(fr) => fr.clone(),
                    None if n >= 1 => group(c, 1)?,
                    None => return None,
                };
                let part = |k: usize| match &r.repl[k] {
                    Some(v) if v.starts_with('$') => {
                        v[1..].parse::<usize>().ok().and_then(|g| group(c, g))
                    }
                    Some(v) => Some(v.clone()),
                    None if n > k => group(c, k + 1),
                    None => None,
                };
                Some(Os {
                    family,
                    major: part(1),
                    minor: part(2),
                    patch: part(3),
                    patch_minor: if n >= 5 { group(c, 5) } else { None },
                })
            })
            .unwrap_or_else(|| Os {
                family: "Other".into(),
                ..Os::default()
            })
    }

    pub fn parse_device(&self, s: &str) -> String {
        self.device
            .first(s.as_bytes(), |r, c| match &r.repl[0] {
                Some(dr) if dr.contains('$') => Some(substitute(dr, c).trim().to_string()),
                Some(dr) => Some(dr.clone()),
                None if c.len() > 1 => group(c, 1),
                None => None,
            })
            .unwrap_or_else(|| "Other".into())
    }
}

/// Replaces each `$N` (one digit) in `template` by group N, or nothing when it is absent.
fn substitute(template: &str, c: &Captures) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let b = template.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() && b[i + 1].is_ascii_digit() {
            let g = usize::from(b[i + 1] - b'0');
            if let Some(v) = group(c, g) {
                out.push_str(&v);
            }
            i += 2;
        } else {
            let ch_len = template[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&template[i..i + ch_len]);
            i += ch_len;
        }
    }
    out
}
