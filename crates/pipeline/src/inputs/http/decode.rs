//! The pure part of the http input: a request body (its `Content-Type` and
//! `Content-Encoding`) into events, the request headers into the map Logstash stores on
//! each event, and the ECS fields. No I/O here, so it is unit-tested and fuzzed
//! (`fuzz/fuzz_targets/http_body.rs`).

use crate::plugin::Codec;
use logstash_mesos_core::{Event, FieldRef, Map, Value};
use std::io::Read;
use std::sync::Mutex;

/// Why a body gave no events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than `max_content_length` (after decompression, as Netty's aggregator sits
    /// behind its decompressor): 413.
    TooLarge,
    /// A `Content-Encoding` (gzip, deflate) whose data does not decompress: 400, as
    /// Netty's `DecompressionException`.
    BadEncoding(String),
}

/// Picks the codec for a request's content type and decodes its body. Shared by every
/// connection: each request decodes with a fresh copy of its codec (Logstash clones the
/// codecs per connection; a fresh copy per request also keeps a partial line of one
/// request out of the next).
pub struct BodyDecoder {
    default: Mutex<Box<dyn Codec>>,
    /// `additional_codecs`: lower-cased MIME type → codec.
    by_type: Vec<(String, Mutex<Box<dyn Codec>>)>,
    max_content_length: usize,
}

impl BodyDecoder {
    pub fn new(
        default: Box<dyn Codec>,
        additional: Vec<(String, Box<dyn Codec>)>,
        max_content_length: usize,
    ) -> BodyDecoder {
        BodyDecoder {
            default: Mutex::new(default),
            by_type: additional
                .into_iter()
                .map(|(t, c)| (t.trim().to_ascii_lowercase(), Mutex::new(c)))
                .collect(),
            max_content_length,
        }
    }

    /// Logstash's defaults: `plain`, `application/json` → `json`, plus
    /// `application/x-ndjson` → `json_lines` (what a user adds to `additional_codecs` for
    /// NDJSON); for the fuzz target and tests.
    pub fn with_default_codecs(max_content_length: usize) -> BodyDecoder {
        let ctx = crate::plugin::BuildContext::default();
        let build = |name: &str| {
            build_codec(name, &ctx).unwrap_or_else(|_| {
                // The built-in codecs build with their defaults; never panic for it.
                Box::new(crate::codecs::json_lines::JsonLinesCodec::from_json(None))
            })
        };
        BodyDecoder::new(
            build("plain"),
            vec![
                ("application/json".into(), build("json")),
                ("application/x-ndjson".into(), build("json_lines")),
            ],
            max_content_length,
        )
    }

    pub fn max_content_length(&self) -> usize {
        self.max_content_length
    }

    fn codec_for(&self, content_type: Option<&str>) -> Box<dyn Codec> {
        let mime = content_type.map(mime_type).unwrap_or_default();
        let slot = self
            .by_type
            .iter()
            .find(|(t, _)| *t == mime)
            .map(|(_, c)| c)
            .unwrap_or(&self.default);
        // A poisoned lock only means another request panicked while cloning; the template
        // itself is intact.
        let guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        guard.clone_box()
    }

    /// Decodes one request body: undoes `Content-Encoding`, converts the `charset` of
    /// `Content-Type` to UTF-8, then runs the codec chosen by the MIME type (the default
    /// codec when `additional_codecs` has none for it), flushing it at the end.
    pub fn decode(
        &self,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<Event>, BodyError> {
        self.decode_with_len(content_type, content_encoding, body)
            .map(|(events, _)| events)
    }

    /// [`BodyDecoder::decode`], also giving the body's length after decompression (the
    /// `content_length` Logstash records).
    pub fn decode_with_len(
        &self,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        body: &[u8],
    ) -> Result<(Vec<Event>, usize), BodyError> {
        let body = decompress(content_encoding, body, self.max_content_length)?;
        let len = body.len();
        let text = to_utf8(content_type.and_then(charset), body);
        let mut codec = self.codec_for(content_type);
        let mut out = Vec::new();
        codec.decode(&text, &mut out);
        codec.flush(&mut out);
        Ok((out, len))
    }
}

/// A codec of this crate's registry by name, with its default options (what Logstash's
/// `initialize_codec` does for `additional_codecs`).
pub fn build_codec(
    name: &str,
    ctx: &crate::plugin::BuildContext,
) -> Result<Box<dyn Codec>, String> {
    let registry = crate::registry::Registry::builtin();
    let entry = registry
        .codec(name)
        .ok_or_else(|| format!("unknown codec {name:?}"))?;
    let args = crate::options::Args::for_plugin(crate::registry::Kind::Codec, entry.options);
    (entry.build)(&args, ctx).map_err(|e| e.to_string())
}

/// Netty's `HttpUtil.getMimeType`: the part before `;`, trimmed (lower-cased here so
/// `Application/JSON` finds the json codec too).
pub fn mime_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The `charset` parameter of a `Content-Type`, lower-cased, without quotes.
pub fn charset(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
    })
}

/// The body as UTF-8: Logstash decodes the body with the request's charset (UTF-8 when
/// none). Single-byte Latin charsets are converted; UTF-8 and anything else are passed
/// through (invalid bytes become U+FFFD in the codec).
fn to_utf8(charset: Option<String>, body: Vec<u8>) -> Vec<u8> {
    match charset.as_deref() {
        Some("iso-8859-1" | "latin1" | "iso8859-1" | "l1" | "windows-1252" | "cp1252") => {
            if body.is_ascii() {
                body
            } else {
                body.iter()
                    .map(|&b| b as char)
                    .collect::<String>()
                    .into_bytes()
            }
        }
        _ => body,
    }
}

/// Undoes `Content-Encoding` as Netty's `HttpContentDecompressor` does: gzip, x-gzip,
/// deflate, x-deflate (zlib-wrapped or raw); identity and unknown encodings pass through.
/// The result is capped at `max` bytes (a small gzip bomb must not fill memory).
pub fn decompress(encoding: Option<&str>, body: &[u8], max: usize) -> Result<Vec<u8>, BodyError> {
    let enc = encoding
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let out = match enc.as_str() {
        "gzip" | "x-gzip" => read_capped(flate2::read::MultiGzDecoder::new(body), max)?,
        "deflate" | "x-deflate" => {
            // RFC 9110 says zlib-wrapped, some clients send raw deflate: Netty accepts both.
            let zlib = match body {
                [cmf, flg, ..] => {
                    cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
                }
                _ => false,
            };
            if zlib {
                read_capped(flate2::read::ZlibDecoder::new(body), max)?
            } else {
                read_capped(flate2::read::DeflateDecoder::new(body), max)?
            }
        }
        _ => {
            if body.len() > max {
                return Err(BodyError::TooLarge);
            }
            body.to_vec()
        }
    };
    Ok(out)
}

fn read_capped(r: impl Read, max: usize) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    r.take(limit)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::BadEncoding(e.to_string()))?;
    if out.len() > max {
        return Err(BodyError::TooLarge);
    }
    Ok(out)
}

/// What Logstash records about one request.
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    /// Header names lower-cased with `-` → `_`, plus `http_accept`, `http_host`,
    /// `http_user_agent`, `request_method`, `request_path`, `http_version`.
    pub headers: Map,
    /// The client's IP address.
    pub remote: String,
}

/// Builds Logstash's header map (`MessageProcessor.formatHeaders`) from the request's
/// method, target (path and query as sent), version (`HTTP/1.1`) and headers (name,
/// value). `Authorization` is left out, as Logstash removes it before decoding.
/// `decoded_len` is the body's length after decompression: Netty's aggregator sets
/// `Content-Length` to it and drops `Transfer-Encoding: chunked`, and its decompressor
/// drops the `Content-Encoding` it undid.
pub fn format_headers<'a>(
    method: &str,
    target: &str,
    version: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    decoded_len: usize,
) -> Map {
    let mut m = Map::new();
    let mut accept = Value::Null;
    let mut host = Value::Null;
    let mut agent = Value::Null;
    for (name, value) in headers {
        let key = name.to_ascii_lowercase().replace('-', "_");
        let v = Value::from(String::from_utf8_lossy(value).into_owned());
        match key.as_str() {
            "authorization" | "transfer_encoding" | "content_length" => {}
            "content_encoding" => {
                let enc = String::from_utf8_lossy(value).trim().to_ascii_lowercase();
                if !matches!(
                    enc.as_str(),
                    "gzip" | "x-gzip" | "deflate" | "x-deflate" | "identity"
                ) {
                    m.insert(key, v);
                }
            }
            "accept" => accept = v,
            "host" => host = v,
            "user_agent" => agent = v,
            _ => {
                m.insert(key, v);
            }
        }
    }
    m.insert("content_length", Value::from(decoded_len.to_string()));
    m.insert("http_accept", accept);
    m.insert("http_host", host);
    m.insert("http_user_agent", agent);
    m.insert("request_method", Value::from(method));
    m.insert("request_path", Value::from(target));
    m.insert("http_version", Value::from(version));
    m
}

/// Where the input puts its data on each event.
#[derive(Clone, Debug)]
pub struct Targets {
    pub ecs: bool,
    pub remote_host: FieldRef,
    pub request_headers: FieldRef,
}

/// Logstash's `get_domain_port`: `host:port` or `[v6]:port` → (domain, port); anything
/// else is all domain.
pub fn domain_port(http_host: &str) -> (String, Option<i64>) {
    if let Some((left, port)) = http_host.rsplit_once(':') {
        if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            let domain =
                if let Some(inner) = left.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                    Some(inner)
                } else if !left.is_empty() && !left.contains(':') && !left.contains('[') {
                    Some(left)
                } else {
                    None
                };
            if let (Some(d), Ok(p)) = (domain, port.parse::<i64>()) {
                return (d.to_string(), Some(p));
            }
        }
    }
    (http_host.to_string(), None)
}

/// Logstash's `push_decoded_event`: the ECS fields (`add_ecs_fields`, only with ECS on),
/// then the headers and the client address at their targets (both overwrite what the
/// body brought, as `event.set` does).
pub fn annotate(event: &mut Event, info: &RequestInfo, t: &Targets) {
    if t.ecs {
        let h = &info.headers;
        let s = |k: &str| h.get(k).and_then(Value::as_str).map(str::to_string);
        let set = |e: &mut Event, path: &[&str], v: Value| {
            let _ = e.set(&FieldRef::from_path(path.iter().copied()), v);
        };
        if let Some(v) = s("http_version") {
            set(event, &["http", "version"], Value::from(v));
        }
        if let Some(v) = s("http_user_agent") {
            set(event, &["user_agent", "original"], Value::from(v));
        }
        if let Some(v) = s("http_host") {
            let (domain, port) = domain_port(&v);
            set(event, &["url", "domain"], Value::from(domain));
            if let Some(p) = port {
                set(event, &["url", "port"], Value::Integer(p));
            }
        }
        if let Some(v) = s("request_method") {
            set(event, &["http", "method"], Value::from(v));
        }
        if let Some(v) = s("request_path") {
            set(event, &["url", "path"], Value::from(v));
        }
        if let Some(v) = s("content_length") {
            set(event, &["http", "request", "body", "bytes"], Value::from(v));
        }
        if let Some(v) = s("content_type") {
            set(event, &["http", "request", "mime_type"], Value::from(v));
        }
    }
    let _ = event.set(
        &t.request_headers,
        Value::Object(Box::new(info.headers.clone())),
    );
    let _ = event.set(&t.remote_host, Value::from(info.remote.as_str()));
}

/// The fuzz entry point: the first line of `data` is the `Content-Type`, the second the
/// `Content-Encoding`, the rest the body; decoded with the default codecs and a 1 MiB cap.
/// Never panics.
pub fn fuzz_decode(data: &[u8]) -> usize {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let ct = parts.next().map(String::from_utf8_lossy);
    let ce = parts.next().map(String::from_utf8_lossy);
    let body = parts.next().unwrap_or(b"");
    thread_local! {
        static DECODER: BodyDecoder = BodyDecoder::with_default_codecs(1 << 20);
    }
    DECODER.with(|d| match d.decode(ct.as_deref(), ce.as_deref(), body) {
        Ok(events) => {
            let info = RequestInfo {
                headers: format_headers(
                    "POST",
                    "/",
                    "HTTP/1.1",
                    [("content-type", ct.as_deref().unwrap_or("").as_bytes())],
                    body.len(),
                ),
                remote: "127.0.0.1".into(),
            };
            let t = Targets {
                ecs: true,
                remote_host: FieldRef::from_path(["host", "ip"]),
                request_headers: FieldRef::from_path([
                    "@metadata",
                    "input",
                    "http",
                    "request",
                    "headers",
                ]),
            };
            let n = events.len();
            for mut e in events {
                annotate(&mut e, &info, &t);
            }
            n
        }
        Err(_) => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn decoder() -> BodyDecoder {
        BodyDecoder::with_default_codecs(1024)
    }

    #[test]
    fn json_object_array_plain_ndjson_and_failures() {
        let d = decoder();
        let one = d
            .decode(Some("application/json"), None, br#"{"a":1}"#)
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].get_top("a"), Some(&Value::Integer(1)));
        let many = d
            .decode(
                Some("Application/JSON; charset=UTF-8"),
                None,
                br#"[{"a":1},{"a":2},{"a":3}]"#,
            )
            .unwrap();
        assert_eq!(many.len(), 3);
        let text = d.decode(Some("text/plain"), None, b"hello\nworld").unwrap();
        assert_eq!(text.len(), 1, "plain keeps the body as one message");
        assert_eq!(
            text[0].get_top("message"),
            Some(&Value::from("hello\nworld"))
        );
        let nd = d
            .decode(Some("application/x-ndjson"), None, b"{\"a\":1}\n{\"a\":2}")
            .unwrap();
        assert_eq!(nd.len(), 2, "the last line without a newline is flushed");
        let bad = d
            .decode(Some("application/json"), None, b"{not json")
            .unwrap();
        assert_eq!(bad.len(), 1);
        assert!(bad[0].has_tag("_jsonparsefailure"));
        assert_eq!(bad[0].get_top("message"), Some(&Value::from("{not json")));
        let none = d.decode(None, None, b"x").unwrap();
        assert_eq!(none[0].get_top("message"), Some(&Value::from("x")));
    }

    #[test]
    fn content_encoding_and_limits() {
        let d = decoder();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(br#"{"z":true}"#).unwrap();
        let gz = gz.finish().unwrap();
        let e = d
            .decode(Some("application/json"), Some("gzip"), &gz)
            .unwrap();
        assert_eq!(e[0].get_top("z"), Some(&Value::Bool(true)));
        for raw in [false, true] {
            let data = if raw {
                let mut w =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
                w.write_all(b"deflated").unwrap();
                w.finish().unwrap()
            } else {
                let mut w =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                w.write_all(b"deflated").unwrap();
                w.finish().unwrap()
            };
            let e = d.decode(None, Some("deflate"), &data).unwrap();
            assert_eq!(
                e[0].get_top("message"),
                Some(&Value::from("deflated")),
                "raw={raw}"
            );
        }
        assert!(matches!(
            d.decode(None, Some("gzip"), b"not gzip at all"),
            Err(BodyError::BadEncoding(_))
        ));
        // A small gzip of a large body is refused by its decompressed size.
        let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        bomb.write_all(&vec![b'a'; 1 << 20]).unwrap();
        let bomb = bomb.finish().unwrap();
        assert!(bomb.len() < 1024 * 4);
        assert_eq!(
            d.decode(None, Some("gzip"), &bomb).unwrap_err(),
            BodyError::TooLarge
        );
        assert_eq!(
            d.decode(None, None, &[b'x'; 1025]).unwrap_err(),
            BodyError::TooLarge
        );
        assert!(d.decode(None, None, &[b'x'; 1024]).is_ok());
    }

    #[test]
    fn latin1_charset_is_converted() {
        let d = decoder();
        let e = d
            .decode(Some("text/plain; charset=ISO-8859-1"), None, b"caf\xe9")
            .unwrap();
        assert_eq!(e[0].get_top("message"), Some(&Value::from("café")));
        assert_eq!(
            charset("text/plain; Charset=\"UTF-8\""),
            Some("utf-8".into())
        );
        assert_eq!(
            mime_type(" application/json ; charset=x"),
            "application/json"
        );
    }

    #[test]
    fn headers_and_ecs_fields_as_logstash() {
        let h = format_headers(
            "PUT",
            "/path?q=1",
            "HTTP/1.1",
            [
                ("Host", b"example.com:8080".as_slice()),
                ("User-Agent", b"curl/8".as_slice()),
                ("Authorization", b"Basic xyz".as_slice()),
                ("Content-Type", b"application/json".as_slice()),
                ("X-Custom-Header", b"v".as_slice()),
                ("Transfer-Encoding", b"chunked".as_slice()),
                ("Content-Encoding", b"gzip".as_slice()),
            ],
            42,
        );
        assert_eq!(h.get("x_custom_header"), Some(&Value::from("v")));
        assert_eq!(h.get("http_host"), Some(&Value::from("example.com:8080")));
        assert_eq!(h.get("http_accept"), Some(&Value::Null));
        assert_eq!(h.get("content_length"), Some(&Value::from("42")));
        assert_eq!(h.get("request_method"), Some(&Value::from("PUT")));
        assert_eq!(h.get("request_path"), Some(&Value::from("/path?q=1")));
        assert!(h.get("authorization").is_none());
        assert!(h.get("transfer_encoding").is_none() && h.get("content_encoding").is_none());
        let info = RequestInfo {
            headers: h,
            remote: "10.0.0.1".into(),
        };
        let mut e = Event::from_message("x");
        let ecs = Targets {
            ecs: true,
            remote_host: FieldRef::from_path(["host", "ip"]),
            request_headers: FieldRef::parse("[@metadata][input][http][request][headers]").unwrap(),
        };
        annotate(&mut e, &info, &ecs);
        let get = |e: &Event, r: &str| e.get(&FieldRef::parse(r).unwrap()).cloned();
        assert_eq!(get(&e, "[host][ip]"), Some(Value::from("10.0.0.1")));
        assert_eq!(get(&e, "[url][domain]"), Some(Value::from("example.com")));
        assert_eq!(get(&e, "[url][port]"), Some(Value::Integer(8080)));
        assert_eq!(get(&e, "[url][path]"), Some(Value::from("/path?q=1")));
        assert_eq!(get(&e, "[http][method]"), Some(Value::from("PUT")));
        assert_eq!(get(&e, "[http][version]"), Some(Value::from("HTTP/1.1")));
        assert_eq!(
            get(&e, "[user_agent][original]"),
            Some(Value::from("curl/8"))
        );
        assert_eq!(
            get(&e, "[http][request][body][bytes]"),
            Some(Value::from("42"))
        );
        assert_eq!(
            get(&e, "[http][request][mime_type]"),
            Some(Value::from("application/json"))
        );
        assert!(get(
            &e,
            "[@metadata][input][http][request][headers][x_custom_header]"
        )
        .is_some());
        assert!(e.get_top("headers").is_none());
        let mut legacy = Event::from_message("x");
        let t = Targets {
            ecs: false,
            remote_host: FieldRef::top("host"),
            request_headers: FieldRef::top("headers"),
        };
        annotate(&mut legacy, &info, &t);
        assert_eq!(legacy.get_top("host"), Some(&Value::from("10.0.0.1")));
        assert!(legacy
            .get(&FieldRef::parse("[headers][http_host]").unwrap())
            .is_some());
        assert!(legacy.get_top("url").is_none() && legacy.get_top("http").is_none());
    }

    #[test]
    fn domain_port_forms() {
        assert_eq!(
            domain_port("127.0.0.1:8080"),
            ("127.0.0.1".into(), Some(8080))
        );
        assert_eq!(
            domain_port("[2001:db8::1]:443"),
            ("2001:db8::1".into(), Some(443))
        );
        assert_eq!(domain_port("example.com"), ("example.com".into(), None));
        assert_eq!(domain_port("2001:db8::1"), ("2001:db8::1".into(), None));
        assert_eq!(
            domain_port("h:99999999999999999999"),
            ("h:99999999999999999999".into(), None)
        );
    }

    #[test]
    fn garbage_and_truncated_inputs_never_panic() {
        let mut rng = fastrand::Rng::with_seed(20);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(br#"[{"a":1},{"b":[1,2,{"c":"d"}]}]"#).unwrap();
        let gz = gz.finish().unwrap();
        let seeds: Vec<Vec<u8>> = vec![
            b"application/json\n\n[{\"a\":1},{\"b\":2}]".to_vec(),
            b"application/x-ndjson\n\n{\"a\":1}\n{\"b\":\n".to_vec(),
            [b"application/json\ngzip\n".as_slice(), &gz].concat(),
            b"text/plain; charset=latin1\ndeflate\n\xff\xfe\x00".to_vec(),
            b"application/json\n\n\"scalar\"".to_vec(),
        ];
        for seed in &seeds {
            for cut in 0..=seed.len() {
                fuzz_decode(&seed[..cut]);
            }
            for _ in 0..200 {
                let mut s = seed.clone();
                for _ in 0..rng.usize(1..4) {
                    if s.is_empty() {
                        break;
                    }
                    let i = rng.usize(..s.len());
                    s[i] = rng.u8(..);
                }
                fuzz_decode(&s);
            }
        }
        for _ in 0..500 {
            let n = rng.usize(..256);
            let junk: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            fuzz_decode(&junk);
        }
    }
}
