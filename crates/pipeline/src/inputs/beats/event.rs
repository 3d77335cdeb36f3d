//! From a Beats document to events, as logstash-input-beats 6.x does it
//! (`message_listener.rb`, `decoded_event_transform.rb`, `raw_event_transform.rb`):
//! - source metadata: the sender's IP in `[@metadata][ip_address]`, or
//!   `[@metadata][input][beats][host][ip]` in ECS mode;
//! - TLS peer metadata (`enrich => ssl_peer_metadata`): `[@metadata][tls_peer][status]` and
//!   the protocol, subject and cipher;
//! - a document with `message` (Filebeat) or `line` (lumberjack) runs that field through
//!   the codec; the document's other fields are merged into the decoded event (one level
//!   of hashes merged), `@timestamp` taken from the document, the event tagged
//!   `beats_input_codec_<codec>_applied`;
//! - any other document becomes the event as it is (`@timestamp` parsed, `@metadata` kept),
//!   tagged `beats_input_raw_event`;
//! - `add_hostname`: `[beat][hostname]` copied into `host` (ECS:
//!   `[@metadata][input][beats][host][name]`) when that is unset.
//!
//! The input's own tags come before the codec tag, as in Logstash (`decorate` runs first).

use crate::input_context::Decorator;
use crate::plugin::Codec;
use logstash_mesos_core::{Event, FieldRef, Map, Timestamp, Value};

/// What is known about the connection an event came on.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    pub ip: Option<String>,
    pub tls: Option<TlsPeer>,
}

/// The TLS session of a connection, for `ssl_peer_metadata`.
#[derive(Clone, Debug)]
pub struct TlsPeer {
    /// A client certificate was presented and verified.
    pub verified: bool,
    /// As Java names it: `TLSv1.3`.
    pub protocol: String,
    /// The client certificate's subject, RFC 2253 (`CN=client,O=Example`).
    pub subject: String,
    /// IANA name: `TLS_AES_256_GCM_SHA384`.
    pub cipher: String,
}

/// The settings that shape events (see the module documentation).
#[derive(Clone, Debug)]
pub struct Transform {
    pub ecs: bool,
    pub source_metadata: bool,
    pub ssl_peer_metadata: bool,
    pub include_codec_tag: bool,
    pub add_hostname: bool,
    /// The codec's name, for the tag.
    pub codec_name: String,
    pub decorator: Decorator,
}

impl Transform {
    fn host_ip_path(&self) -> &'static [&'static str] {
        if self.ecs {
            &["@metadata", "input", "beats", "host", "ip"]
        } else {
            &["@metadata", "ip_address"]
        }
    }

    fn hostname_field(&self) -> FieldRef {
        if self.ecs {
            FieldRef::from_path(["@metadata", "input", "beats", "host", "name"])
        } else {
            FieldRef::top("host")
        }
    }

    /// The event(s) of one document; `codec` decodes `message`/`line`.
    pub fn events(&self, mut doc: Map, peer: &Peer, codec: &mut dyn Codec, out: &mut Vec<Event>) {
        if self.source_metadata {
            if let Some(ip) = &peer.ip {
                set_path(&mut doc, self.host_ip_path(), Value::from(ip.as_str()));
            }
        }
        let target = take_text(&mut doc, "message").or_else(|| take_text(&mut doc, "line"));
        if self.ssl_peer_metadata {
            if let Some(tls) = &peer.tls {
                self.tls_metadata(&mut doc, tls);
            }
        }
        match target {
            None => {
                let mut e = Event::from_map(doc);
                self.finish(&mut e, "beats_input_raw_event");
                out.push(e);
            }
            Some(text) => {
                let start = out.len();
                codec.decode(text.as_bytes(), out);
                let ts = match doc.shift_remove("@timestamp") {
                    None => None,
                    Some(Value::Timestamp(t)) => Some(t),
                    Some(Value::String(s)) => {
                        let t = Timestamp::parse_iso8601(&s);
                        if t.is_none() {
                            tracing::warn!(value = %s, "beats: unrecognized @timestamp value, setting current time to @timestamp");
                        }
                        t
                    }
                    Some(Value::Integer(ms)) => Timestamp::from_unix_millis(ms),
                    Some(other) => {
                        tracing::warn!(value = %other.to_logstash_string(), "beats: unrecognized @timestamp value, setting current time to @timestamp");
                        None
                    }
                };
                let tag = self.codec_tag();
                let n = out.len() - start;
                let mut doc = Some(doc);
                for (k, e) in out[start..].iter_mut().enumerate() {
                    if let Some(t) = ts {
                        e.set_timestamp(t);
                    }
                    // The last (usually the only) event takes the document's values; the
                    // others get copies.
                    let d = if k + 1 == n { doc.take() } else { doc.clone() };
                    if let Some(d) = d {
                        merge_into(e, d);
                    }
                    self.finish(e, &tag);
                }
            }
        }
    }

    /// `beats_input_codec_<codec>_applied`.
    fn codec_tag(&self) -> std::borrow::Cow<'_, str> {
        if self.codec_name == "plain" {
            "beats_input_codec_plain_applied".into()
        } else {
            format!("beats_input_codec_{}_applied", self.codec_name).into()
        }
    }

    fn finish(&self, e: &mut Event, tag: &str) {
        if self.add_hostname {
            let name = e.get(&FieldRef::from_path(["beat", "hostname"])).cloned();
            let field = self.hostname_field();
            if let Some(name) = name.filter(|v| !v.is_null()) {
                if e.get(&field).is_none_or(Value::is_null) {
                    let _ = e.set(&field, name);
                }
            }
        }
        self.decorator.apply(e);
        if self.include_codec_tag {
            e.add_tag(tag);
        }
    }

    fn tls_metadata(&self, doc: &mut Map, tls: &TlsPeer) {
        let status = if tls.verified {
            "verified"
        } else {
            "unverified"
        };
        // `meta_data['tls_peer'] = { :status => ... }` replaces the whole hash first.
        let mut peer = Map::new();
        peer.insert("status", Value::from(status));
        set_path(
            doc,
            &["@metadata", "tls_peer"],
            Value::Object(Box::new(peer)),
        );
        if !tls.verified {
            return;
        }
        let (proto, subject, cipher): (&[&str], &[&str], &[&str]) = if self.ecs {
            (
                &["@metadata", "input", "beats", "tls", "version_protocol"],
                &["@metadata", "input", "beats", "tls", "client", "subject"],
                &["@metadata", "input", "beats", "tls", "cipher"],
            )
        } else {
            (
                &["@metadata", "tls_peer", "protocol"],
                &["@metadata", "tls_peer", "subject"],
                &["@metadata", "tls_peer", "cipher_suite"],
            )
        };
        set_path(doc, proto, Value::from(tls.protocol.as_str()));
        set_path(doc, subject, Value::from(tls.subject.as_str()));
        set_path(doc, cipher, Value::from(tls.cipher.as_str()));
    }
}

/// `hash.delete(field).to_s` when the field is there and not null.
fn take_text(doc: &mut Map, key: &str) -> Option<String> {
    match doc.get(key) {
        None | Some(Value::Null) => None,
        Some(_) => doc.shift_remove(key).map(|v| match v {
            Value::String(s) => s,
            other => other.to_logstash_string(),
        }),
    }
}

/// Sets `path` in `doc`, creating (or replacing non-hash) intermediate hashes.
fn set_path(doc: &mut Map, path: &[&str], v: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = doc;
    for p in parents {
        if !matches!(cur.get(p), Some(Value::Object(_))) {
            cur.insert(*p, Value::Object(Box::new(Map::new())));
        }
        match cur.get_mut(p) {
            Some(Value::Object(m)) => cur = m,
            _ => return,
        }
    }
    cur.insert(*last, v);
}

/// The document's fields over the decoded event's: a hash already in the event is merged
/// with the document's (one level, the document winning), anything else replaced.
fn merge_into(e: &mut Event, doc: Map) {
    for (k, v) in doc {
        if k.as_str() == "@metadata" {
            if let Value::Object(m) = v {
                let meta = e.metadata_mut();
                if meta.is_empty() {
                    *meta = *m;
                } else {
                    for (mk, mv) in *m {
                        meta.insert(mk, mv);
                    }
                }
            }
            continue;
        }
        let fields = e.fields_mut();
        match (fields.get_mut(k.as_str()), v) {
            (Some(Value::Object(existing)), Value::Object(new)) => {
                for (nk, nv) in *new {
                    existing.insert(nk, nv);
                }
            }
            (_, v) => {
                fields.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> Map {
        match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(m)) => *m,
            other => panic!("not an object: {other:?}"),
        }
    }

    fn transform(ecs: bool) -> Transform {
        Transform {
            ecs,
            source_metadata: true,
            ssl_peer_metadata: false,
            include_codec_tag: true,
            add_hostname: false,
            codec_name: "plain".into(),
            decorator: Decorator {
                tags: vec!["mine".into()],
                ..Decorator::default()
            },
        }
    }

    fn plain(ecs: bool) -> Box<dyn Codec> {
        let args = crate::options::Args::for_plugin(
            crate::registry::Kind::Codec,
            crate::codecs::plain::OPTIONS,
        )
        .with(
            "ecs_compatibility",
            Value::from(if ecs { "v8" } else { "disabled" }),
        );
        match crate::codecs::plain::build(&args, &crate::plugin::BuildContext::default()) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    fn peer() -> Peer {
        Peer {
            ip: Some("10.1.2.3".into()),
            tls: None,
        }
    }

    const FILEBEAT: &str = r#"{"@timestamp":"2024-05-01T10:00:00.123Z","@metadata":{"beat":"filebeat","type":"_doc","version":"8.13.0"},"message":"hello","host":{"name":"web-1"},"event":{"dataset":"nginx.access"},"tags":["from_beat"],"log":{"offset":7}}"#;

    #[test]
    fn filebeat_document_in_ecs_mode() {
        let mut out = Vec::new();
        transform(true).events(doc(FILEBEAT), &peer(), plain(true).as_mut(), &mut out);
        assert_eq!(out.len(), 1);
        let e = &out[0];
        let get = |p: &str| e.get(&FieldRef::parse(p).expect("ref")).cloned();
        assert_eq!(get("message"), Some(Value::from("hello")));
        assert_eq!(get("[event][original]"), Some(Value::from("hello")));
        assert_eq!(get("[event][dataset]"), Some(Value::from("nginx.access")));
        assert_eq!(get("[host][name]"), Some(Value::from("web-1")));
        assert_eq!(get("[@metadata][beat]"), Some(Value::from("filebeat")));
        assert_eq!(get("[@metadata][version]"), Some(Value::from("8.13.0")));
        assert_eq!(get("[@metadata][type]"), Some(Value::from("_doc")));
        assert_eq!(
            get("[@metadata][input][beats][host][ip]"),
            Some(Value::from("10.1.2.3"))
        );
        assert_eq!(get("[@metadata][ip_address]"), None);
        assert_eq!(
            e.timestamp().map(|t| t.unix_millis()),
            Timestamp::parse_iso8601("2024-05-01T10:00:00.123Z").map(|t| t.unix_millis())
        );
        assert_eq!(
            e.tags(),
            vec!["from_beat", "mine", "beats_input_codec_plain_applied"]
        );
    }

    #[test]
    fn legacy_mode_and_raw_events() {
        let mut out = Vec::new();
        let t = transform(false);
        t.events(doc(FILEBEAT), &peer(), plain(false).as_mut(), &mut out);
        let e = &out[0];
        assert_eq!(
            e.get(&FieldRef::parse("[@metadata][ip_address]").expect("ref")),
            Some(&Value::from("10.1.2.3"))
        );
        assert_eq!(
            e.get(&FieldRef::parse("[event][original]").expect("ref")),
            None
        );
        // Metricbeat: no message.
        out.clear();
        t.events(
            doc(r#"{"@timestamp":"2024-05-01T10:00:00Z","metricset":{"name":"cpu"},"@metadata":{"beat":"metricbeat"}}"#),
            &peer(),
            plain(false).as_mut(),
            &mut out,
        );
        let e = &out[0];
        assert_eq!(e.tags(), vec!["mine", "beats_input_raw_event"]);
        assert_eq!(
            e.get(&FieldRef::parse("[@metadata][beat]").expect("ref")),
            Some(&Value::from("metricbeat"))
        );
        assert_eq!(
            e.get(&FieldRef::parse("[metricset][name]").expect("ref")),
            Some(&Value::from("cpu"))
        );
        assert!(e.get(&FieldRef::top("message")).is_none());
    }

    #[test]
    fn lumberjack_line_add_hostname_and_no_codec_tag() {
        let mut t = transform(false);
        t.add_hostname = true;
        t.include_codec_tag = false;
        t.source_metadata = false;
        let mut out = Vec::new();
        t.events(
            doc(r#"{"line":"old style","beat":{"hostname":"box"},"@timestamp":"nonsense"}"#),
            &peer(),
            plain(false).as_mut(),
            &mut out,
        );
        let e = &out[0];
        assert_eq!(
            e.get(&FieldRef::top("message")),
            Some(&Value::from("old style"))
        );
        assert_eq!(e.get(&FieldRef::top("host")), Some(&Value::from("box")));
        assert_eq!(e.tags(), vec!["mine"]);
        assert!(e.metadata().is_empty());
        // A bad @timestamp leaves the decoded event's own (now).
        assert!(e.timestamp().is_some());
    }

    #[test]
    fn tls_peer_metadata() {
        let mut t = transform(false);
        t.ssl_peer_metadata = true;
        let tls = TlsPeer {
            verified: true,
            protocol: "TLSv1.3".into(),
            subject: "CN=client".into(),
            cipher: "TLS_AES_256_GCM_SHA384".into(),
        };
        let p = Peer {
            ip: None,
            tls: Some(tls.clone()),
        };
        let mut out = Vec::new();
        t.events(
            doc(r#"{"message":"m"}"#),
            &p,
            plain(false).as_mut(),
            &mut out,
        );
        let get = |e: &Event, p: &str| e.get(&FieldRef::parse(p).expect("ref")).cloned();
        assert_eq!(
            get(&out[0], "[@metadata][tls_peer][status]"),
            Some(Value::from("verified"))
        );
        assert_eq!(
            get(&out[0], "[@metadata][tls_peer][subject]"),
            Some(Value::from("CN=client"))
        );
        assert_eq!(
            get(&out[0], "[@metadata][tls_peer][protocol]"),
            Some(Value::from("TLSv1.3"))
        );
        t.ecs = true;
        out.clear();
        t.events(
            doc(r#"{"message":"m"}"#),
            &p,
            plain(true).as_mut(),
            &mut out,
        );
        assert_eq!(
            get(&out[0], "[@metadata][input][beats][tls][client][subject]"),
            Some(Value::from("CN=client"))
        );
        assert_eq!(
            get(&out[0], "[@metadata][input][beats][tls][cipher]"),
            Some(Value::from("TLS_AES_256_GCM_SHA384"))
        );
        let p = Peer {
            ip: None,
            tls: Some(TlsPeer {
                verified: false,
                ..tls
            }),
        };
        out.clear();
        t.events(
            doc(r#"{"message":"m"}"#),
            &p,
            plain(true).as_mut(),
            &mut out,
        );
        assert_eq!(
            get(&out[0], "[@metadata][tls_peer][status]"),
            Some(Value::from("unverified"))
        );
        assert_eq!(get(&out[0], "[@metadata][input][beats][tls][cipher]"), None);
    }
}
