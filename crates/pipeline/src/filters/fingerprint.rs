//! `fingerprint`: a consistent hash of one or more fields (document ids, de-duplication).
//!
//! Methods: SHA1 (default), SHA256, SHA384, SHA512, MD5 (HMAC when `key` is set; hex, or
//! base64 with `base64encode`), MURMUR3 (32-bit, an integer), MURMUR3_128 (hex or base64),
//! IPV4_NETWORK (the address masked to `key` bits), UUID (random) and PUNCTUATION (only
//! the punctuation and symbol characters kept). Values are hashed in Ruby's string form;
//! with `concatenate_sources` / `concatenate_all_fields` the input is `|name|value|...|`
//! over the sorted field names, hashes deep-sorted, as Logstash builds it.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use crate::ruby;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use logstash_mesos_core::event::SetError;
use logstash_mesos_core::{Event, FieldRef, Key, Map, Value};
use sha1::Digest;

const METHODS: &[&str] = &[
    "SHA1",
    "SHA256",
    "SHA384",
    "SHA512",
    "MD5",
    "MURMUR3",
    "MURMUR3_128",
    "IPV4_NETWORK",
    "UUID",
    "PUNCTUATION",
];

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new("source", OptKind::Array, "the field(s) to fingerprint").default("message"),
    OptSpec::new(
        "target",
        OptKind::Field,
        "where to store the fingerprint (ECS: [event][hash], else fingerprint)",
    ),
    OptSpec::new(
        "key",
        OptKind::Password,
        "HMAC key (SHA*/MD5) or prefix length (IPV4_NETWORK)",
    ),
    OptSpec::new(
        "base64encode",
        OptKind::Boolean,
        "base64 instead of hex output",
    )
    .default("false"),
    OptSpec::new("method", OptKind::Enum(METHODS), "the hash method").default("SHA1"),
    OptSpec::new(
        "concatenate_sources",
        OptKind::Boolean,
        "hash all source fields together",
    )
    .default("false"),
    OptSpec::new(
        "concatenate_all_fields",
        OptKind::Boolean,
        "hash every field of the event together",
    )
    .default("false"),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "selects the default target",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Md5,
    Murmur3,
    Murmur3_128,
    Ipv4Network(u32),
    Uuid,
    Punctuation,
}

/// The compiled fingerprint filter.
pub struct Fingerprint {
    sources: Vec<(String, FieldRef)>,
    target: FieldRef,
    key: Option<Vec<u8>>,
    base64: bool,
    method: Method,
    concatenate_sources: bool,
    concatenate_all_fields: bool,
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let key = args.string("key");
    let method = match args.string("method").unwrap_or_default().as_str() {
        "SHA1" => Method::Sha1,
        "SHA256" => Method::Sha256,
        "SHA384" => Method::Sha384,
        "SHA512" => Method::Sha512,
        "MD5" => Method::Md5,
        "MURMUR3" => Method::Murmur3,
        "MURMUR3_128" => Method::Murmur3_128,
        "UUID" => Method::Uuid,
        "PUNCTUATION" => Method::Punctuation,
        "IPV4_NETWORK" => {
            let bits = key
                .as_deref()
                .and_then(|k| k.trim().parse::<u32>().ok())
                .filter(|b| *b <= 32)
                .ok_or_else(|| {
                    BuildError::option(
                        "key",
                        "IPV4_NETWORK needs key => the subnet prefix length (0-32)",
                    )
                })?;
            Method::Ipv4Network(bits)
        }
        other => {
            return Err(BuildError::option(
                "method",
                format!(
                    "unknown method {other:?}, expected one of {}",
                    METHODS.join(", ")
                ),
            ))
        }
    };
    let ecs = args.ecs(ctx)?;
    let target = match args.field("target")? {
        Some(t) => t,
        None if ecs.enabled() => FieldRef::from_path(["event", "hash"]),
        None => FieldRef::top("fingerprint"),
    };
    let names = if args.contains("source") {
        args.strings("source")
    } else {
        vec!["message".to_string()]
    };
    let sources = names
        .into_iter()
        .map(|n| {
            FieldRef::parse(&n)
                .map(|r| (n, r))
                .map_err(|e| BuildError::option("source", e.to_string()))
        })
        .collect::<BuildResult<_>>()?;
    Ok(Box::new(Fingerprint {
        sources,
        target,
        key: if matches!(method, Method::Ipv4Network(_)) {
            None
        } else {
            key.map(String::into_bytes)
        },
        base64: args.flag("base64encode"),
        method,
        concatenate_sources: args.flag("concatenate_sources"),
        concatenate_all_fields: args.flag("concatenate_all_fields"),
    }))
}

fn digest<D: Digest>(data: &[u8]) -> Vec<u8> {
    D::digest(data).to_vec()
}

fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    match <M as hmac::digest::KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        // HMAC accepts keys of any length; unreachable in practice.
        Err(_) => Vec::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Hashes in `deep_sort_hashes` order: object keys sorted at every level.
fn deep_sort(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&Key> = m.keys().collect();
            keys.sort();
            Value::from(
                keys.into_iter()
                    .map(|k| (k.clone(), deep_sort(&m[k.as_str()])))
                    .collect::<Map>(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(deep_sort).collect()),
        other => other.clone(),
    }
}

/// Why an event got no fingerprint (logged; the event goes on untouched).
#[derive(Debug, thiserror::Error)]
enum FingerprintError {
    #[error(transparent)]
    Set(#[from] SetError),
    /// MurmurHash3 failed to read its input.
    #[error("{0}")]
    Murmur(std::io::Error),
    #[error("invalid IPv4 address {0:?}")]
    InvalidIpv4(String),
    /// `UUID` and `PUNCTUATION` are handled before hashing.
    #[error("not a hash method")]
    NotAHash,
}

impl Fingerprint {
    fn hash(&self, v: &Value) -> Result<Value, FingerprintError> {
        let text = ruby::to_s(v);
        let data = text.as_bytes();
        let bytes = match (self.method, &self.key) {
            (Method::Sha1, None) => digest::<sha1::Sha1>(data),
            (Method::Sha256, None) => digest::<sha2::Sha256>(data),
            (Method::Sha384, None) => digest::<sha2::Sha384>(data),
            (Method::Sha512, None) => digest::<sha2::Sha512>(data),
            (Method::Md5, None) => digest::<md5::Md5>(data),
            (Method::Sha1, Some(k)) => hmac::<Hmac<sha1::Sha1>>(k, data),
            (Method::Sha256, Some(k)) => hmac::<Hmac<sha2::Sha256>>(k, data),
            (Method::Sha384, Some(k)) => hmac::<Hmac<sha2::Sha384>>(k, data),
            (Method::Sha512, Some(k)) => hmac::<Hmac<sha2::Sha512>>(k, data),
            (Method::Md5, Some(k)) => hmac::<Hmac<md5::Md5>>(k, data),
            (Method::Murmur3, _) => {
                let h = match v {
                    Value::Integer(i) => murmur3::murmur3_32(&mut &i.to_le_bytes()[..], 0),
                    _ => murmur3::murmur3_32(&mut &data[..], 0),
                }
                .map_err(FingerprintError::Murmur)?;
                return Ok(Value::Integer(i64::from(h)));
            }
            (Method::Murmur3_128, _) => {
                let h = match v {
                    Value::Integer(i) if i32::try_from(*i).is_ok() => {
                        murmur3::murmur3_x64_128(&mut &(*i as i32).to_le_bytes()[..], 2)
                    }
                    Value::Integer(i) => murmur3::murmur3_x64_128(&mut &i.to_le_bytes()[..], 2),
                    _ => murmur3::murmur3_x64_128(&mut &data[..], 2),
                }
                .map_err(FingerprintError::Murmur)?;
                h.to_le_bytes().to_vec()
            }
            (Method::Ipv4Network(bits), _) => {
                let ip: std::net::Ipv4Addr = text
                    .trim()
                    .parse()
                    .map_err(|_| FingerprintError::InvalidIpv4(text.clone()))?;
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                return Ok(Value::String(
                    std::net::Ipv4Addr::from(u32::from(ip) & mask).to_string(),
                ));
            }
            (Method::Uuid | Method::Punctuation, _) => return Err(FingerprintError::NotAHash),
        };
        Ok(Value::String(if self.base64 {
            base64::engine::general_purpose::STANDARD.encode(bytes)
        } else {
            hex(&bytes)
        }))
    }

    fn run(&self, event: &mut Event) -> Result<(), FingerprintError> {
        match self.method {
            Method::Uuid => {
                let id = uuid::Uuid::new_v4().to_string();
                return Ok(event.set(&self.target, Value::String(id))?);
            }
            Method::Punctuation => {
                let mut sorted: Vec<_> = self.sources.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                for (_, r) in sorted {
                    let Some(v) = event.get(r) else { continue };
                    let kept: String = ruby::to_s(v)
                        .chars()
                        .filter(|c| is_punct_or_symbol(*c))
                        .collect();
                    event.set(&self.target, Value::String(kept))?;
                }
                return Ok(());
            }
            _ => {}
        }
        if self.concatenate_sources || self.concatenate_all_fields {
            let mut s = String::new();
            if self.concatenate_all_fields {
                if let Value::Object(m) = deep_sort(&Value::from(event.fields().clone())) {
                    for (k, v) in m.iter() {
                        s.push('|');
                        s.push_str(k);
                        s.push('|');
                        s.push_str(&ruby::to_s(v));
                    }
                }
            } else {
                let mut sorted: Vec<_> = self.sources.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                for (name, r) in sorted {
                    s.push('|');
                    s.push_str(name);
                    s.push('|');
                    if let Some(v) = event.get(r) {
                        s.push_str(&ruby::to_s(&deep_sort(v)));
                    }
                }
            }
            s.push('|');
            let h = self.hash(&Value::String(s))?;
            return Ok(event.set(&self.target, h)?);
        }
        for (_, r) in &self.sources {
            let h = match event.get(r) {
                None => continue,
                Some(Value::Array(a)) => Value::Array(
                    a.iter()
                        .map(|v| self.hash(&deep_sort(v)))
                        .collect::<Result<_, _>>()?,
                ),
                Some(v) => self.hash(&deep_sort(v))?,
            };
            event.set(&self.target, h)?;
        }
        Ok(())
    }
}

/// Unicode punctuation (P*) or symbol (S*), approximated for the categories `char` knows.
fn is_punct_or_symbol(c: char) -> bool {
    c.is_ascii_punctuation()
        || (!c.is_alphanumeric() && !c.is_whitespace() && !c.is_control() && !c.is_ascii())
}

impl Filter for Fingerprint {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        match self.run(event) {
            Ok(()) => Outcome::Success,
            Err(e) => {
                // Logstash raises here; the event goes on untouched and untagged.
                tracing::warn!(error = %e, "fingerprint failed");
                Outcome::Failure
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(config: &[(&str, Value)], msg: Value) -> Event {
        let mut args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS);
        for (k, v) in config {
            args = args.with(k, v.clone());
        }
        let ctx = BuildContext {
            ecs: crate::plugin::Ecs::Disabled,
            ..BuildContext::default()
        };
        let f = build(&args, &ctx).expect("build");
        let mut e = Event::new();
        e.set(&FieldRef::top("message"), msg).expect("set");
        f.apply(&mut e, &mut FilterContext::default());
        e
    }

    fn out(e: &Event) -> Option<&Value> {
        e.get(&FieldRef::top("fingerprint"))
    }

    #[test]
    fn known_digests() {
        // Reference values computed with OpenSSL / RFC test vectors.
        let e = fp(&[], Value::from("abc"));
        assert_eq!(
            out(&e),
            Some(&Value::from("a9993e364706816aba3e25717850c26c9cd0d89d"))
        );
        let e = fp(&[("method", Value::from("MD5"))], Value::from("abc"));
        assert_eq!(
            out(&e),
            Some(&Value::from("900150983cd24fb0d6963f7d28e17f72"))
        );
        let e = fp(
            &[
                ("method", Value::from("SHA256")),
                ("base64encode", Value::Bool(true)),
            ],
            Value::from("abc"),
        );
        assert_eq!(
            out(&e),
            Some(&Value::from("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="))
        );
        // RFC 2202 test case 2.
        let e = fp(
            &[("key", Value::from("Jefe"))],
            Value::from("what do ya want for nothing?"),
        );
        assert_eq!(
            out(&e),
            Some(&Value::from("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"))
        );
        let e = fp(&[("method", Value::from("MURMUR3"))], Value::from("hello"));
        assert_eq!(out(&e), Some(&Value::Integer(613_153_351)));
    }

    #[test]
    fn concatenation_and_methods() {
        let e = fp(
            &[("method", Value::from("PUNCTUATION"))],
            Value::from("Hello, world! :-) €"),
        );
        assert_eq!(out(&e), Some(&Value::from(",!:-)€")));
        let e = fp(
            &[
                ("method", Value::from("IPV4_NETWORK")),
                ("key", Value::from("16")),
            ],
            Value::from("10.1.2.3"),
        );
        assert_eq!(out(&e), Some(&Value::from("10.1.0.0")));
        let e = fp(&[("method", Value::from("UUID"))], Value::from("x"));
        assert_eq!(out(&e).and_then(Value::as_str).map(str::len), Some(36));
        // |message|abc| hashed with SHA1.
        let e = fp(
            &[("concatenate_sources", Value::Bool(true))],
            Value::from("abc"),
        );
        let want = hex(&digest::<sha1::Sha1>(b"|message|abc|"));
        assert_eq!(out(&e), Some(&Value::String(want)));
        let e = fp(
            &[("method", Value::from("MURMUR3_128"))],
            Value::from("abc"),
        );
        assert_eq!(out(&e).and_then(Value::as_str).map(str::len), Some(32));
    }

    #[test]
    fn arrays_missing_and_bad_config() {
        let e = fp(
            &[("method", Value::from("MD5"))],
            Value::Array(vec!["abc".into(), "abc".into()]),
        );
        assert_eq!(out(&e).and_then(Value::as_array).map(Vec::len), Some(2));
        let e = fp(&[("source", Value::from("missing"))], Value::from("x"));
        assert!(out(&e).is_none());
        let e = fp(
            &[
                ("method", Value::from("IPV4_NETWORK")),
                ("key", Value::from("8")),
            ],
            Value::from("not an ip"),
        );
        assert!(out(&e).is_none());
        let err = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("method", Value::from("IPV4_NETWORK")),
            &BuildContext::default(),
        )
        .err();
        assert_eq!(err.and_then(|e| e.option).as_deref(), Some("key"));
        let err = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("method", Value::from("CRC")),
            &BuildContext::default(),
        )
        .err();
        assert_eq!(err.and_then(|e| e.option).as_deref(), Some("method"));
        // ECS default target.
        let f = build(
            &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS),
            &BuildContext::default(),
        )
        .expect("build");
        let mut ev = Event::from_message("m");
        f.apply(&mut ev, &mut FilterContext::default());
        assert!(ev
            .get(&FieldRef::parse("[event][hash]").expect("ref"))
            .is_some());
    }

    #[test]
    fn huge_value() {
        let e = fp(
            &[("method", Value::from("SHA512"))],
            Value::String("é".repeat(1 << 19)),
        );
        assert_eq!(out(&e).and_then(Value::as_str).map(str::len), Some(128));
    }
}
