//! `cef`: ArcSight Common Event Format, decode and encode, as logstash-codec-cef 6.x.
//!
//! Decode: `[syslog header ]CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|ext`.
//! The seven header fields become `cefVersion`, `deviceVendor`, `deviceProduct`,
//! `deviceVersion`, `deviceEventClassId`, `name`, `severity` (legacy) or `[cef][version]`,
//! `[observer][vendor]`, `[observer][product]`, `[observer][version]`, `[event][code]`,
//! `[cef][name]`, `[event][severity]` (ECS); a syslog header before `CEF:` goes to `syslog` /
//! `[log][syslog][header]`. Header escapes `\|` and `\\` are undone. Extensions are
//! `key=value` pairs: abbreviated keys (`src`) and full names (`sourceAddress`) both map to
//! the full name (legacy) or the ECS field (`[source][ip]`); unknown keys are kept as they
//! are (`ad.field[0]` becomes `[ad.field][0]`). Values may hold unescaped spaces and `=`
//! (a space starts a new pair only when a `key=` follows); `\=`, `\n`, `\r`, `\\` are
//! undone. In ECS mode the timestamp fields (`rt` → `@timestamp`, `art`, `end`, `start`,
//! `mrt`, ...) are parsed, using `dtz` for values without a zone (see `timestamp.rs`).
//! Without `delimiter` each chunk of input is one message (and must not hold a newline);
//! with it the codec buffers and splits on it (`\r` and `\n` written as text are decoded).
//! Anything that is not valid CEF becomes an event with the payload in `message` and the
//! tag `_cefparsefailure`.
//!
//! Encode: `CEF:0|vendor|product|version|signature|name|severity|` (each sprintf; empty
//! falls back to the default; severity must be an integer 0..10, else 6) followed by the
//! `fields` as `key=value`, keys the full CEF names (or the abbreviated keys with
//! `reverse_mapping => true`) for fields that have one, values escaped; then `delimiter`.

mod fields;
mod timestamp;

use crate::framing::LineSplitter;
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Codec};
use jiff::tz::TimeZone;
use logstash_mesos_core::{Event, FieldRef, Template, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "vendor",
        OptKind::String,
        "encode: device vendor header (sprintf)",
    )
    .default("\"Elasticsearch\""),
    OptSpec::new(
        "product",
        OptKind::String,
        "encode: device product header (sprintf)",
    )
    .default("\"Logstash\""),
    OptSpec::new(
        "version",
        OptKind::String,
        "encode: device version header (sprintf)",
    )
    .default("\"1.0\""),
    OptSpec::new(
        "signature",
        OptKind::String,
        "encode: signature id header (sprintf)",
    )
    .default("\"Logstash\""),
    OptSpec::new("name", OptKind::String, "encode: name header (sprintf)").default("\"Logstash\""),
    OptSpec::new(
        "severity",
        OptKind::String,
        "encode: severity header (sprintf); not an integer 0..10 gives 6",
    )
    .default("\"6\""),
    OptSpec::new(
        "fields",
        OptKind::Array,
        "encode: fields written as extension key=value pairs",
    )
    .default("[]"),
    OptSpec::new(
        "reverse_mapping",
        OptKind::Boolean,
        "encode: use the abbreviated CEF keys (src) instead of the full names",
    )
    .default("false"),
    OptSpec::new(
        "delimiter",
        OptKind::String,
        "split input on it (and append it on encode); \\r and \\n are decoded",
    ),
    OptSpec::new(
        "default_timezone",
        OptKind::String,
        "zone for timestamps without one and without dtz (default: the process zone)",
    ),
    OptSpec::new(
        "locale",
        OptKind::String,
        "locale of month names in timestamps (English only)",
    ),
    OptSpec::new(
        "raw_data_field",
        OptKind::String,
        "decode: store the raw message in this field",
    ),
    OptSpec::new(
        "device",
        OptKind::Enum(&["observer", "host"]),
        "ECS: whether device* fields describe the observer or the host",
    )
    .default("observer"),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "ECS field names (v1/v8) or the CEF names (disabled)",
    ),
];

const FAILURE_TAG: &str = "_cefparsefailure";

/// What every copy of the codec shares (built once).
struct Shared {
    ecs: bool,
    headers: [FieldRef; 7],
    syslog_header: FieldRef,
    /// Extension key (abbreviated, full or legacy) → the field name it is stored under.
    decode: HashMap<String, String>,
    /// ECS mode: field names whose values are timestamps.
    timestamp_fields: HashSet<String>,
    delimiter: Option<Vec<u8>>,
    raw_data_field: Option<FieldRef>,
    default_tz: TimeZone,
    // Encoding.
    vendor: Template,
    product: Template,
    version: Template,
    signature: Template,
    name: Template,
    severity: Template,
    /// `fields`: the field to read and the extension key written for it.
    fields: Vec<(FieldRef, String)>,
}

pub struct CefCodec {
    shared: Arc<Shared>,
    /// Splits on `delimiter` when one is set, carrying a partial message across reads.
    lines: LineSplitter,
}

fn splitter(shared: &Shared) -> LineSplitter {
    LineSplitter::new(shared.delimiter.as_deref().unwrap_or(b"\n"), 0)
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Codec>> {
    let shared = Arc::new(shared(args, ctx)?);
    Ok(Box::new(CefCodec {
        lines: splitter(&shared),
        shared,
    }))
}

fn field_ref(s: &str) -> FieldRef {
    if s.starts_with('[') {
        FieldRef::parse(s).unwrap_or_else(|_| FieldRef::top(s))
    } else {
        FieldRef::top(s)
    }
}

fn shared(args: &Args, ctx: &BuildContext) -> BuildResult<Shared> {
    let ecs = args.ecs(ctx)?.enabled();
    let reverse = args.flag("reverse_mapping");
    let device_is_host = match args
        .string("device")
        .unwrap_or_else(|| "observer".to_string())
        .as_str()
    {
        "observer" => false,
        "host" => true,
        other => {
            return Err(BuildError::option(
                "device",
                format!("expected observer or host, got {other:?}"),
            ))
        }
    };
    let header_names: [(&str, &str); 7] = [
        ("cefVersion", "[cef][version]"),
        ("deviceVendor", "[observer][vendor]"),
        ("deviceProduct", "[observer][product]"),
        ("deviceVersion", "[observer][version]"),
        ("deviceEventClassId", "[event][code]"),
        ("name", "[cef][name]"),
        ("severity", "[event][severity]"),
    ];
    let headers = header_names.map(|(l, e)| field_ref(if ecs { e } else { l }));
    let syslog_header = field_ref(if ecs {
        "[log][syslog][header]"
    } else {
        "syslog"
    });

    let mut decode = HashMap::new();
    let mut encode: HashMap<String, String> = HashMap::new();
    let mut timestamp_fields = HashSet::new();
    for c in fields::all(device_is_host) {
        let field_name = if ecs { c.ecs.clone() } else { c.name.clone() };
        decode.insert(c.key.clone(), field_name.clone());
        decode.insert(c.name.clone(), field_name.clone());
        let target = if reverse {
            c.key.clone()
        } else {
            c.name.clone()
        };
        encode.insert(field_name.clone(), target.clone());
        if c.name != field_name {
            encode.insert(c.name.clone(), target);
        }
        if let Some(l) = &c.legacy {
            decode.insert(l.clone(), if ecs { c.ecs.clone() } else { l.clone() });
            encode.insert(l.clone(), if reverse { c.key.clone() } else { l.clone() });
        }
        if ecs && c.timestamp {
            timestamp_fields.insert(field_name);
        }
    }

    let delimiter = args
        .string("delimiter")
        .map(|d| d.replace("\\r", "\r").replace("\\n", "\n").into_bytes());
    if delimiter.as_ref().is_some_and(|d| d.is_empty()) {
        return Err(BuildError::option("delimiter", "must not be empty"));
    }
    let default_tz = match args.string("default_timezone") {
        None => TimeZone::system(),
        Some(z) => timestamp::zone(&z).ok_or_else(|| {
            BuildError::option("default_timezone", format!("unknown time zone {z:?}"))
        })?,
    };
    if let Some(l) = args.string("locale") {
        let lang = l.split(['_', '-']).next().unwrap_or("");
        if !lang.eq_ignore_ascii_case("en") {
            return Err(BuildError::option(
                "locale",
                format!("{l:?}: only English month names are supported"),
            ));
        }
    }
    let raw_data_field = match args.string("raw_data_field") {
        None => None,
        Some(f) => Some(
            FieldRef::parse(&f).map_err(|e| BuildError::option("raw_data_field", e.to_string()))?,
        ),
    };
    let mut enc_fields = Vec::new();
    for f in args.strings("fields") {
        let r = FieldRef::parse(&f).map_err(|e| BuildError::option("fields", e.to_string()))?;
        let key: String = encode
            .get(&f)
            .cloned()
            .unwrap_or_else(|| f.clone())
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        enc_fields.push((r, key));
    }
    let t = |name: &str, default: &str| {
        Template::compile(&args.string(name).unwrap_or_else(|| default.to_string()))
    };
    Ok(Shared {
        ecs,
        headers,
        syslog_header,
        decode,
        timestamp_fields,
        delimiter,
        raw_data_field,
        default_tz,
        vendor: t("vendor", "Elasticsearch"),
        product: t("product", "Logstash"),
        version: t("version", "1.0"),
        signature: t("signature", "Logstash"),
        name: t("name", "Logstash"),
        severity: t("severity", "6"),
        fields: enc_fields,
    })
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A sub-key character: anything but `.`, `=`, whitespace, `|`, `\`, `[`, `]`.
fn is_subkey(b: u8) -> bool {
    !matches!(b, b'.' | b'=' | b'|' | b'\\' | b'[' | b']') && !is_space(b)
}

/// Where the `=` is when an extension key starts at `i`:
/// `\w+(\.[^.=\s|\\\[\]]+)*(\[[0-9]+\])?` directly followed by `=`. The pattern has only
/// one way to match, so a greedy scan decides it.
fn key_end(s: &[u8], i: usize) -> Option<usize> {
    let n = s.len();
    let mut j = i;
    while j < n && is_word(s[j]) {
        j += 1;
    }
    if j == i {
        return None;
    }
    while j < n && s[j] == b'.' {
        let mut m = j + 1;
        while m < n && is_subkey(s[m]) {
            m += 1;
        }
        if m == j + 1 {
            return None;
        }
        j = m;
    }
    if j < n && s[j] == b'[' {
        let mut m = j + 1;
        while m < n && s[m].is_ascii_digit() {
            m += 1;
        }
        if m == j + 1 || m >= n || s[m] != b']' {
            return None;
        }
        j = m + 1;
    }
    (j < n && s[j] == b'=').then_some(j)
}

/// The end of the value starting at `i`: non-space characters, and runs of spaces that are
/// not followed by a `key=`.
fn value_end(s: &[u8], mut i: usize) -> usize {
    let n = s.len();
    while i < n {
        if !is_space(s[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < n && is_space(s[j]) {
            j += 1;
        }
        if j < n && key_end(s, j).is_some() {
            return i;
        }
        i = j;
    }
    n
}

/// `\\` → `\`, `\=` → `=`, `\n` → newline, `\r` → carriage return.
fn unescape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            let rep = match it.peek() {
                Some('\\') => Some('\\'),
                Some('=') => Some('='),
                Some('n') => Some('\n'),
                Some('r') => Some('\r'),
                _ => None,
            };
            if let Some(r) = rep {
                it.next();
                out.push(r);
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// `\|` → `|`, `\\` → `\`.
fn unescape_header(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            if let Some(&n) = it.peek() {
                if n == '\\' || n == '|' {
                    it.next();
                    out.push(n);
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// One header field at the start of `s`: `((?:\\\||\\\\|[^|])*?)\|`. Returns the raw
/// field and the rest after its pipe. The lazy pattern prefers escapes; only when no
/// unescaped pipe is left does it end the field at the last escaped one (`a\|` + EOF).
fn header_field(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut last_escaped_pipe = None;
    while i < b.len() {
        match b[i] {
            b'|' => return Some((&s[..i], &s[i + 1..])),
            b'\\' if b.get(i + 1) == Some(&b'|') => {
                last_escaped_pipe = Some(i + 1);
                i += 2;
            }
            b'\\' if b.get(i + 1) == Some(&b'\\') => i += 2,
            _ => i += 1,
        }
    }
    last_escaped_pipe.map(|p| (&s[..p], &s[p + 1..]))
}

/// Turns `name[0]` into `[name][0]` (a field reference); other names stay literal.
fn extension_ref(key: &str) -> FieldRef {
    if key.starts_with('[') {
        return field_ref(key);
    }
    if key.ends_with(']') {
        if let Some(open) = key.find('[') {
            let (base, idx) = key.split_at(open);
            if !base.is_empty() && !base.contains(']') {
                if let Ok(r) = FieldRef::parse(&format!("[{base}]{idx}")) {
                    return r;
                }
            }
        }
    }
    FieldRef::top(key)
}

impl Shared {
    /// Decodes one message; `Err` carries the reason and the text for the failure event.
    fn parse(&self, raw: &[u8]) -> Result<Event, (String, String)> {
        let mut event = Event::new();
        let data = match std::str::from_utf8(raw) {
            Ok(s) => s,
            Err(_) => {
                return Err((
                    "invalid byte sequence in UTF-8".into(),
                    String::from_utf8_lossy(raw).into_owned(),
                ))
            }
        };
        if let Some(r) = &self.raw_data_field {
            let _ = event.set(r, Value::from(data));
        }
        // Flex connectors wrap the message in quotes: drop the first and last character.
        let data = match data.strip_prefix('"') {
            Some(rest) => {
                let mut cs = rest.chars();
                cs.next_back();
                cs.as_str()
            }
            None => data,
        };
        let fail = |m: String| (m, data.to_string());
        let chomped = data
            .strip_suffix("\r\n")
            .or_else(|| data.strip_suffix('\n'))
            .or_else(|| data.strip_suffix('\r'))
            .unwrap_or(data);
        if chomped.contains('\n') {
            return Err(fail("message is not valid CEF because it contains unescaped newline characters; use the `delimiter` setting to enable in-codec buffering and delimiter-splitting".into()));
        }
        let mut rest = chomped;
        let mut header_values: [String; 7] = Default::default();
        for (idx, slot) in header_values.iter_mut().enumerate() {
            let (field, after) = header_field(rest).ok_or_else(|| {
                fail(format!(
                    "message is not valid CEF; found {idx} of 7 required pipe-terminated header fields"
                ))
            })?;
            *slot = unescape_header(field);
            rest = after;
        }
        // A syslog header before "CEF:" is everything up to the last space of field one.
        let version = std::mem::take(&mut header_values[0]);
        let version = match version.rsplit_once(' ') {
            Some((syslog, v)) => {
                let _ = event.set(&self.syslog_header, Value::from(syslog));
                v.to_string()
            }
            None => version,
        };
        header_values[0] = version
            .strip_prefix("CEF:")
            .map(str::to_string)
            .unwrap_or(version);
        for (r, v) in self.headers.iter().zip(header_values) {
            let _ = event.set(r, Value::String(v));
        }

        let ext = rest.trim_matches(|c: char| c.is_ascii() && is_space(c as u8));
        if ext.is_empty() {
            return Ok(event);
        }
        let b = ext.as_bytes();
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let Some(eq) = key_end(b, i) else {
                return Err(fail(format!(
                    "invalid extensions; keyless value present `{}`",
                    &ext[i..]
                )));
            };
            let key = &ext[i..eq];
            let vend = value_end(b, eq + 1);
            let value = unescape_value(&ext[eq + 1..vend]);
            let name = self.decode.get(key).map(String::as_str).unwrap_or(key);
            match pairs.iter_mut().find(|(k, _)| k == name) {
                Some(slot) => slot.1 = value,
                None => pairs.push((name.to_string(), value)),
            }
            i = vend;
            while i < b.len() && is_space(b[i]) {
                i += 1;
            }
        }
        if self.ecs {
            let device_tz = pairs
                .iter()
                .find(|(k, _)| k == "[event][timezone]")
                .map(|(_, v)| v.clone());
            let now = jiff::Timestamp::now();
            let mut kept = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                if !self.timestamp_fields.contains(&k) {
                    kept.push((k, v));
                    continue;
                }
                let value = if v.trim().is_empty() {
                    Value::Null
                } else {
                    let ts = timestamp::normalize(&v, device_tz.as_deref(), &self.default_tz, now)
                        .map_err(|e| fail(e.to_string()))?;
                    Value::Timestamp(ts)
                };
                match (k.as_str(), value) {
                    ("@timestamp", Value::Timestamp(ts)) => event.set_timestamp(ts),
                    // An empty `rt` leaves the event's own @timestamp.
                    ("@timestamp", _) => {}
                    (_, value) => {
                        event
                            .set(&extension_ref(&k), value)
                            .map_err(|e| fail(format!("cannot set {k}: {}", e.reason)))?;
                    }
                }
            }
            pairs = kept;
        }
        for (k, v) in pairs {
            event
                .set(&extension_ref(&k), Value::String(v))
                .map_err(|e| fail(format!("cannot set {k}: {}", e.reason)))?;
        }
        Ok(event)
    }

    fn handle(&self, raw: &[u8], out: &mut Vec<Event>) {
        match self.parse(raw) {
            Ok(e) => out.push(e),
            Err((why, text)) => {
                tracing::warn!(error = %why, "failed to decode CEF payload; event tagged _cefparsefailure");
                let mut e = Event::from_message(text);
                e.add_tag(FAILURE_TAG);
                out.push(e);
            }
        }
    }

    fn encode(&self, event: &Event, out: &mut Vec<u8>) {
        let header = |t: &Template, default: &str| {
            let v = sanitize_header(&t.render(event));
            if v.is_empty() {
                default.to_string()
            } else {
                v
            }
        };
        let parts = [
            "CEF:0".to_string(),
            header(&self.vendor, "Elasticsearch"),
            header(&self.product, "Logstash"),
            header(&self.version, "1.0"),
            header(&self.signature, "Logstash"),
            header(&self.name, "Logstash"),
            severity(&self.severity.render(event)),
        ];
        out.extend_from_slice(parts.join("|").as_bytes());
        out.push(b'|');
        let mut first = true;
        for (r, key) in &self.fields {
            let Some(v) = event.get(r) else { continue };
            let text = match v {
                Value::Null => continue,
                Value::Array(_) | Value::Object(_) => sanitize_value(&v.to_json().to_string()),
                Value::Timestamp(t) => t.to_string(),
                other => sanitize_value(&other.to_logstash_string()),
            };
            if !first {
                out.push(b' ');
            }
            first = false;
            out.extend_from_slice(key.as_bytes());
            out.push(b'=');
            out.extend_from_slice(text.as_bytes());
        }
        if let Some(d) = &self.delimiter {
            out.extend_from_slice(d);
        }
    }
}

/// Header values: `\` and `|` escaped, newlines become spaces.
fn sanitize_header(v: &str) -> String {
    let v = v.replace("\r\n", "\n");
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Extension values: `\` and `=` escaped, newlines written as `\n`.
fn sanitize_value(v: &str) -> String {
    let v = v.replace("\r\n", "\n");
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' | '\r' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// An integer 0..10 (also written `10.0`), else the default 6; Ruby's `to_i` of the text.
fn severity(rendered: &str) -> String {
    let s = sanitize_header(rendered);
    let s = s.trim();
    let valid = !s.starts_with('.')
        && !s.ends_with('.')
        && s.parse::<f64>()
            .is_ok_and(|f| f.fract() == 0.0 && (0.0..=10.0).contains(&f));
    if valid {
        crate::ruby::ruby_to_i(s).to_logstash_string()
    } else {
        "6".into()
    }
}

impl Codec for CefCodec {
    fn decode(&mut self, data: &[u8], out: &mut Vec<Event>) {
        let shared = self.shared.clone();
        match &shared.delimiter {
            None => shared.handle(data, out),
            Some(_) => {
                self.lines.push_each(data, |l| shared.handle(l.bytes, out));
            }
        }
    }

    fn flush(&mut self, out: &mut Vec<Event>) {
        if self.shared.delimiter.is_some() {
            let shared = self.shared.clone();
            self.lines.flush_each(|l| shared.handle(l.bytes, out));
        }
    }

    fn encode(&mut self, event: &Event, out: &mut Vec<u8>) {
        self.shared.encode(event, out);
    }

    fn clone_box(&self) -> Box<dyn Codec> {
        Box::new(CefCodec {
            shared: self.shared.clone(),
            lines: splitter(&self.shared),
        })
    }
}

#[cfg(test)]
mod tests;
