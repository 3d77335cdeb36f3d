//! The pure part of the syslog input: TCP framing (RFC 6587 octet counting and newline
//! framing, told apart per frame), the RFC 5424 parser, and [`SyslogParser::relay`], which
//! turns a message event into a syslog event the way `logstash-input-syslog` does.
//!
//! Logstash's relay, followed here: in ECS mode `[event][original]` gets the message and
//! `[service][type]` is `system`; the stock grok filter runs
//! `<%{POSINT:priority}>%{SYSLOGLINE}` (ECS: `<%{POSINT:[log][syslog][priority]:int}>…`)
//! on `syslog_field`, overwriting it, tagging `_grokparsefailure_sysloginput` on failure;
//! on success the priority gives severity (`pri & 7`) and facility (`pri >> 3`) and the
//! date filter parses `timestamp` ("MMM dd HH:mm:ss", "MMM  d HH:mm:ss",
//! "MMM d HH:mm:ss", ISO8601) into `@timestamp` (ECS then removes `timestamp`; legacy
//! first copies `timestamp8601` to `timestamp`); on failure the priority is 13. With
//! `use_labels` the facility and severity names are looked up in the input's own tables
//! (which differ from the `syslog_pri` filter's: "system", "Notice", ...).
//!
//! Beyond Logstash: a message in RFC 5424 form (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID
//! SD MSG`), which the stock pattern cannot parse, is parsed by [`parse_rfc5424`] when no
//! `grok_pattern` is configured; its fields are listed on [`SyslogParser::relay`].

use crate::filters::date::DateFilter;
use crate::filters::grok::GrokFilter;
use crate::grok::engine::EnginePref;
use crate::options::{Args, BuildError, BuildResult};
use crate::plugin::{BuildContext, Filter, FilterContext};
use crate::registry::Kind;
use logstash_mesos_core::{Event, FieldRef, Map, Timestamp, Value};
use std::sync::Arc;

/// The tag of a message the grok pattern does not match.
pub const FAILURE_TAG: &str = "_grokparsefailure_sysloginput";

/// The input's default facility labels (RFC 3164), indexed by code.
pub const FACILITY_LABELS: &[&str] = &[
    "kernel",
    "user-level",
    "mail",
    "system",
    "security/authorization",
    "syslogd",
    "line printer",
    "network news",
    "UUCP",
    "clock",
    "security/authorization",
    "FTP",
    "NTP",
    "log audit",
    "log alert",
    "clock",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

/// The input's default severity labels (RFC 3164), indexed by code.
pub const SEVERITY_LABELS: &[&str] = &[
    "Emergency",
    "Alert",
    "Critical",
    "Error",
    "Warning",
    "Notice",
    "Informational",
    "Debug",
];

/// The longest frame (line or octet-counted message) kept whole; longer lines are cut
/// into pieces of this size and longer octet-counted frames are skipped, both counted.
pub const MAX_FRAME: usize = 1024 * 1024;

/// What the framer found.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// One message (without its line ending or octet count).
    Message(Vec<u8>),
    /// Garbage, skipped: why.
    Rejected(String),
}

/// Splits a TCP syslog stream into messages: a frame starting with `DIGITS SP` is
/// octet-counted (RFC 6587 3.4.1: `LEN SP MSG`), any other ends at LF (3.4.2; a CR
/// before it is dropped). A conforming message starts with `<`, so the two cannot be
/// confused; senders mixing them on one connection work.
#[derive(Debug, Default)]
pub struct SyslogFramer {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed (compacted after each push).
    pos: usize,
    /// How far the current line was searched for LF.
    scanned: usize,
    /// Bytes of a refused octet-counted frame still to skip.
    skip: usize,
}

impl SyslogFramer {
    pub fn new() -> SyslogFramer {
        SyslogFramer::default()
    }

    /// Adds a chunk, appending every complete frame to `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Frame>) {
        let mut data = data;
        if self.skip > 0 {
            let n = self.skip.min(data.len());
            self.skip -= n;
            data = &data[n..];
        }
        self.buf.extend_from_slice(data);
        self.frames(out);
        // Compact: keep only the unconsumed tail.
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.scanned = self.scanned.saturating_sub(self.pos);
            self.pos = 0;
        }
    }

    /// End of stream: a last frame without its terminator is kept.
    pub fn finish(&mut self, out: &mut Vec<Frame>) {
        let rest = &self.buf[self.pos.min(self.buf.len())..];
        let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
        if !rest.is_empty() {
            // A truncated octet-counted frame is still the sender's data: keep it.
            let body = match octet_count(rest) {
                Count::Yes(_, header) => &rest[header..],
                _ => rest,
            };
            out.push(Frame::Message(body.to_vec()));
        }
        self.buf.clear();
        self.pos = 0;
        self.scanned = 0;
        self.skip = 0;
    }

    fn frames(&mut self, out: &mut Vec<Frame>) {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(self.buf.len() - self.pos);
                self.pos += n;
                self.skip -= n;
                if self.skip > 0 {
                    return;
                }
            }
            let rest = &self.buf[self.pos..];
            if rest.is_empty() {
                return;
            }
            match octet_count(rest) {
                Count::Undecided => return,
                Count::Yes(len, header) => {
                    if len > MAX_FRAME {
                        self.pos += header;
                        self.skip = len;
                        self.scanned = self.pos;
                        out.push(Frame::Rejected(format!(
                            "octet-counted frame of {len} bytes is over the {MAX_FRAME} byte limit: skipped"
                        )));
                        continue;
                    }
                    if rest.len() < header + len {
                        return;
                    }
                    let msg = &rest[header..header + len];
                    // Some senders end counted frames with LF too: not part of the message.
                    let msg = msg.strip_suffix(b"\n").unwrap_or(msg);
                    if !msg.is_empty() {
                        out.push(Frame::Message(msg.to_vec()));
                    }
                    self.pos += header + len;
                    self.scanned = self.pos;
                }
                Count::Bad(reason) => {
                    out.push(Frame::Rejected(reason));
                    // Resynchronise on the next line.
                    if !self.line(out, true) {
                        return;
                    }
                }
                Count::No => {
                    if !self.line(out, false) {
                        return;
                    }
                }
            }
        }
    }

    /// Takes one LF-terminated line; false when none is complete yet.
    fn line(&mut self, out: &mut Vec<Frame>, discard: bool) -> bool {
        let from = self.scanned.max(self.pos);
        match memchr::memchr(b'\n', &self.buf[from..]) {
            Some(i) => {
                let end = from + i;
                let line = &self.buf[self.pos..end];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if !discard && !line.is_empty() {
                    out.push(Frame::Message(line.to_vec()));
                }
                self.pos = end + 1;
                self.scanned = self.pos;
                true
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() - self.pos >= MAX_FRAME {
                    // An endless line: emit it in pieces rather than grow without bound.
                    let piece = self.buf[self.pos..self.pos + MAX_FRAME].to_vec();
                    if !discard {
                        out.push(Frame::Message(piece));
                    }
                    out.push(Frame::Rejected(format!(
                        "line longer than {MAX_FRAME} bytes: cut"
                    )));
                    self.pos += MAX_FRAME;
                    self.scanned = self.pos;
                    return true;
                }
                false
            }
        }
    }
}

/// What the start of a frame says about its framing.
#[derive(Debug, PartialEq, Eq)]
enum Count {
    /// Not `DIGITS SP <`: a newline-framed line.
    No,
    /// Too few bytes yet to tell.
    Undecided,
    /// Octet-counted: the message length and the header's length (`LEN SP`).
    Yes(usize, usize),
    /// `DIGITS SP <` whose count cannot be one (zero, more than 10 digits).
    Bad(String),
}

/// Is `b` an octet-counted frame? `DIGITS SP <`: RFC 6587's `MSG-LEN SP SYSLOG-MSG`,
/// and a syslog message starts with `<PRI>` (so a text line like "2024 was…" is not).
fn octet_count(b: &[u8]) -> Count {
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == b.len() {
        return if digits < 12 {
            Count::Undecided
        } else {
            Count::No
        };
    }
    if digits == 0 || b[digits] != b' ' {
        return Count::No;
    }
    match b.get(digits + 1) {
        None => return Count::Undecided,
        Some(b'<') => {}
        Some(_) => return Count::No,
    }
    if digits > 10 {
        return Count::Bad(format!(
            "octet count of {digits} digits: not a syslog frame"
        ));
    }
    let text = String::from_utf8_lossy(&b[..digits]);
    match text.parse::<usize>() {
        Ok(0) => Count::Bad("octet count 0: not a syslog frame".into()),
        Ok(n) => Count::Yes(n, digits + 1),
        Err(_) => Count::Bad(format!("invalid octet count {text:?}")),
    }
}

/// One SD-ELEMENT of RFC 5424 structured data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdElement<'a> {
    pub id: &'a str,
    /// PARAM-NAME, PARAM-VALUE (unescaped), in order.
    pub params: Vec<(&'a str, String)>,
}

/// An RFC 5424 message; `None` fields were NILVALUE (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rfc5424<'a> {
    pub priority: u8,
    pub version: &'a str,
    pub timestamp: Option<&'a str>,
    pub hostname: Option<&'a str>,
    pub appname: Option<&'a str>,
    pub procid: Option<&'a str>,
    pub msgid: Option<&'a str>,
    pub structured_data: Vec<SdElement<'a>>,
    /// MSG, without a leading UTF-8 BOM; empty when absent.
    pub message: &'a str,
}

/// One header field: printable US-ASCII up to a single SP.
fn header_field(s: &str) -> Option<(Option<&str>, &str)> {
    let i = s.find(' ')?;
    let (tok, rest) = (&s[..i], &s[i + 1..]);
    if tok.is_empty() || !tok.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return None;
    }
    Some(((tok != "-").then_some(tok), rest))
}

/// Parses `line` as RFC 5424; `None` when it is not one.
pub fn parse_rfc5424(line: &str) -> Option<Rfc5424<'_>> {
    let rest = line.strip_prefix('<')?;
    let close = rest.find('>')?;
    let pri = &rest[..close];
    if pri.is_empty() || pri.len() > 3 || !pri.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let priority: u8 = pri.parse().ok().filter(|p| *p <= 191)?;
    let rest = &rest[close + 1..];
    let sp = rest.find(' ')?;
    let version = &rest[..sp];
    if version.is_empty()
        || version.len() > 2
        || version.starts_with('0')
        || !version.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let rest = &rest[sp + 1..];
    let (timestamp, rest) = header_field(rest)?;
    let (hostname, rest) = header_field(rest)?;
    let (appname, rest) = header_field(rest)?;
    let (procid, rest) = header_field(rest)?;
    let (msgid, rest) = header_field(rest)?;
    let (structured_data, rest) = parse_sd(rest)?;
    let message = match rest.strip_prefix(' ') {
        Some(m) => m.strip_prefix('\u{feff}').unwrap_or(m),
        None if rest.is_empty() => "",
        None => return None,
    };
    Some(Rfc5424 {
        priority,
        version,
        timestamp,
        hostname,
        appname,
        procid,
        msgid,
        structured_data,
        message,
    })
}

/// STRUCTURED-DATA: `-` or one or more `[ID PARAM="VALUE" ...]`.
fn parse_sd(s: &str) -> Option<(Vec<SdElement<'_>>, &str)> {
    if let Some(rest) = s.strip_prefix('-') {
        return Some((Vec::new(), rest));
    }
    let name_end = |t: &str| {
        t.find(|c: char| c == ' ' || c == '=' || c == ']' || c == '"' || !c.is_ascii_graphic())
            .unwrap_or(t.len())
    };
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(r) = rest.strip_prefix('[') {
        let n = name_end(r);
        if n == 0 {
            return None;
        }
        let id = &r[..n];
        let mut r = &r[n..];
        let mut params = Vec::new();
        while let Some(p) = r.strip_prefix(' ') {
            let n = name_end(p);
            if n == 0 {
                return None;
            }
            let name = &p[..n];
            let p = p[n..].strip_prefix("=\"")?;
            // The value ends at the first '"' not escaped by '\'.
            let mut value = String::new();
            let mut chars = p.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, e @ ('"' | '\\' | ']'))) => value.push(e),
                        // RFC 5424: any other backslash is kept as it is.
                        Some((_, e)) => {
                            value.push('\\');
                            value.push(e);
                        }
                        None => return None,
                    },
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => value.push(c),
                }
            }
            r = &p[end? + 1..];
            params.push((name, value));
        }
        rest = r.strip_prefix(']')?;
        out.push(SdElement { id, params });
    }
    if out.is_empty() {
        return None;
    }
    Some((out, rest))
}

/// Field names of one ECS mode.
#[derive(Clone, Debug)]
struct Keys {
    priority: FieldRef,
    facility: FieldRef,
    severity: FieldRef,
    facility_label: FieldRef,
    severity_label: FieldRef,
}

fn field(name: &str) -> FieldRef {
    FieldRef::parse(name).unwrap_or_else(|_| FieldRef::top(name))
}

impl Keys {
    fn new(ecs: bool) -> Keys {
        let pick = |legacy: &str, e: &str| field(if ecs { e } else { legacy });
        Keys {
            priority: pick("priority", "[log][syslog][priority]"),
            facility: pick("facility", "[log][syslog][facility][code]"),
            severity: pick("severity", "[log][syslog][severity][code]"),
            facility_label: pick("facility_label", "[log][syslog][facility][name]"),
            severity_label: pick("severity_label", "[log][syslog][severity][name]"),
        }
    }
}

/// The settings of [`SyslogParser`] (the input's options).
#[derive(Clone, Debug)]
pub struct ParserSettings {
    pub ecs: bool,
    pub syslog_field: String,
    /// `None`: the stock pattern, and RFC 5424 messages parsed by [`parse_rfc5424`].
    pub grok_pattern: Option<String>,
    pub use_labels: bool,
    pub facility_labels: Vec<String>,
    pub severity_labels: Vec<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub service_type: Option<String>,
}

impl ParserSettings {
    /// The input's defaults in the given ECS mode.
    pub fn defaults(ecs: bool) -> ParserSettings {
        ParserSettings {
            ecs,
            syslog_field: "message".into(),
            grok_pattern: None,
            use_labels: true,
            facility_labels: FACILITY_LABELS.iter().map(|s| s.to_string()).collect(),
            severity_labels: SEVERITY_LABELS.iter().map(|s| s.to_string()).collect(),
            timezone: None,
            locale: None,
            service_type: Some("system".into()),
        }
    }
}

/// Turns message events into syslog events (Logstash's `syslog_relay`).
pub struct SyslogParser {
    ecs: bool,
    syslog_field: FieldRef,
    grok: GrokFilter,
    date: DateFilter,
    rfc5424: bool,
    use_labels: bool,
    facility_labels: Vec<String>,
    severity_labels: Vec<String>,
    service_type: Option<String>,
    keys: Keys,
}

impl SyslogParser {
    /// Builds the grok and date filters the relay runs; errors name the input's options.
    pub fn new(s: &ParserSettings) -> BuildResult<SyslogParser> {
        let keys = Keys::new(s.ecs);
        let ecs_name = if s.ecs { "v8" } else { "disabled" };
        let pattern = s.grok_pattern.clone().unwrap_or_else(|| {
            if s.ecs {
                "<%{POSINT:[log][syslog][priority]:int}>%{SYSLOGLINE}".into()
            } else {
                "<%{POSINT:priority}>%{SYSLOGLINE}".into()
            }
        });
        let mut m = Map::new();
        m.insert(s.syslog_field.as_str(), Value::from(pattern.as_str()));
        let grok_args = Args::for_plugin(Kind::Filter, crate::filters::grok::OPTIONS)
            .with("match", Value::from(m))
            .with(
                "overwrite",
                Value::Array(vec![Value::from(s.syslog_field.as_str())]),
            )
            .with(
                "tag_on_failure",
                Value::Array(vec![Value::from(FAILURE_TAG)]),
            )
            .with("ecs_compatibility", Value::from(ecs_name));
        let grok = crate::filters::grok::build_with(
            &grok_args,
            &BuildContext::default(),
            EnginePref::Auto,
        )
        .map_err(|e| BuildError::option("grok_pattern", e.message))?;
        let mut date_args = Args::for_plugin(Kind::Filter, crate::filters::date::OPTIONS).with(
            "match",
            Value::Array(
                [
                    "timestamp",
                    "MMM dd HH:mm:ss",
                    "MMM  d HH:mm:ss",
                    "MMM d HH:mm:ss",
                    "ISO8601",
                ]
                .iter()
                .map(|f| Value::from(*f))
                .collect(),
            ),
        );
        if let Some(tz) = &s.timezone {
            date_args = date_args.with("timezone", Value::from(tz.as_str()));
        }
        if let Some(l) = &s.locale {
            date_args = date_args.with("locale", Value::from(l.as_str()));
        }
        let date = DateFilter::new(&date_args, Arc::new(Timestamp::now)).map_err(|e| {
            let opt = e.option.as_deref().unwrap_or("timezone");
            BuildError::option(
                if opt == "locale" {
                    "locale"
                } else {
                    "timezone"
                },
                e.message,
            )
        })?;
        let syslog_field =
            FieldRef::parse(&s.syslog_field).map_err(|e| BuildError::option("syslog_field", e))?;
        Ok(SyslogParser {
            ecs: s.ecs,
            syslog_field,
            grok,
            date,
            rfc5424: s.grok_pattern.is_none(),
            use_labels: s.use_labels,
            facility_labels: s.facility_labels.clone(),
            severity_labels: s.severity_labels.clone(),
            service_type: s.service_type.clone().filter(|t| !t.is_empty()),
            keys,
        })
    }

    /// Parses the syslog message in `syslog_field` of `event`, as described in the
    /// module docs. An RFC 5424 message (stock pattern only) gives, in ECS mode:
    /// `[log][syslog][priority]`, `[log][syslog][version]`, `@timestamp` from TIMESTAMP,
    /// `[host][hostname]`, `[log][syslog][appname]`, `[log][syslog][procid]`,
    /// `[log][syslog][msgid]`, `[log][syslog][structured_data][SD-ID][PARAM]` (an array
    /// when a parameter repeats) and `message` = MSG; without ECS: `priority`,
    /// `version`, `timestamp`, `logsource`, `program`, `pid`, `msgid`,
    /// `structured_data`, `message`. NILVALUE fields are left out.
    pub fn relay(&self, event: &mut Event) {
        if self.ecs {
            if let Some(orig) = event.get(&self.syslog_field).cloned() {
                let _ = event.set(&FieldRef::from_path(["event", "original"]), orig);
            }
        }
        let matched = (self.rfc5424 && self.rfc5424_fields(event)) || {
            self.grok.apply(event, &mut FilterContext::default());
            !event.has_tag(FAILURE_TAG)
        };
        if self.ecs {
            if let Some(t) = &self.service_type {
                let r = FieldRef::from_path(["service", "type"]);
                if !event.contains(&r) {
                    let _ = event.set(&r, Value::from(t.as_str()));
                }
            }
        }
        if matched {
            // Ruby's `.to_i`: a missing priority (custom pattern) is 0.
            let priority = match event.get(&self.keys.priority) {
                Some(Value::Integer(i)) => *i,
                Some(Value::Float(f)) => *f as i64,
                Some(Value::String(s)) => crate::ruby::ruby_to_i(s).as_i64().unwrap_or(0),
                _ => 0,
            };
            self.set_priority(event, priority);
            let ts = FieldRef::top("timestamp");
            if self.ecs {
                self.date.apply(event, &mut FilterContext::default());
                event.remove(&ts);
            } else {
                if let Some(v) = event.get(&FieldRef::top("timestamp8601")).cloned() {
                    let _ = event.set(&ts, v);
                }
                self.date.apply(event, &mut FilterContext::default());
            }
        } else {
            // RFC 3164: an unrecognised message has priority 13 (user-level notice).
            self.set_priority(event, 13);
        }
        if self.use_labels {
            self.set_labels(event);
        }
    }

    fn set_priority(&self, event: &mut Event, priority: i64) {
        let _ = event.set(&self.keys.priority, Value::from(priority));
        let _ = event.set(&self.keys.severity, Value::from(priority & 7));
        let _ = event.set(&self.keys.facility, Value::from(priority >> 3));
    }

    fn set_labels(&self, event: &mut Event) {
        let label = |labels: &[String], v: Option<&Value>| {
            let n = v.and_then(Value::as_i64)?;
            usize::try_from(n).ok().and_then(|i| labels.get(i)).cloned()
        };
        if let Some(l) = label(&self.facility_labels, event.get(&self.keys.facility)) {
            let _ = event.set(&self.keys.facility_label, Value::from(l));
        }
        if let Some(l) = label(&self.severity_labels, event.get(&self.keys.severity)) {
            let _ = event.set(&self.keys.severity_label, Value::from(l));
        }
    }

    /// Sets the fields of an RFC 5424 message; false (event untouched) when the message
    /// is not one.
    fn rfc5424_fields(&self, event: &mut Event) -> bool {
        let Some(Value::String(text)) = event.get(&self.syslog_field) else {
            return false;
        };
        // Cheap test first: `<PRI>DIGIT`.
        let looks = text
            .find('>')
            .and_then(|i| text.as_bytes().get(i + 1))
            .is_some_and(u8::is_ascii_digit);
        if !looks {
            return false;
        }
        let text = text.clone();
        let Some(m) = parse_rfc5424(&text) else {
            return false;
        };
        let ecs = self.ecs;
        let mut set = |legacy: &str, ecs_name: &str, v: Value| {
            let _ = event.set(&field(if ecs { ecs_name } else { legacy }), v);
        };
        set(
            "priority",
            "[log][syslog][priority]",
            Value::from(i64::from(m.priority)),
        );
        set("version", "[log][syslog][version]", Value::from(m.version));
        if let Some(t) = m.timestamp {
            set("timestamp", "timestamp", Value::from(t));
        }
        if let Some(h) = m.hostname {
            set("logsource", "[host][hostname]", Value::from(h));
        }
        if let Some(a) = m.appname {
            set("program", "[log][syslog][appname]", Value::from(a));
        }
        if let Some(p) = m.procid {
            set("pid", "[log][syslog][procid]", Value::from(p));
        }
        if let Some(id) = m.msgid {
            set("msgid", "[log][syslog][msgid]", Value::from(id));
        }
        if !m.structured_data.is_empty() {
            let mut sd = Map::new();
            for el in &m.structured_data {
                let mut params = Map::new();
                for (k, v) in &el.params {
                    let v = Value::from(v.as_str());
                    match params.get_mut(k) {
                        Some(Value::Array(a)) => a.push(v),
                        Some(old) => {
                            let first = std::mem::replace(old, Value::Null);
                            *old = Value::Array(vec![first, v]);
                        }
                        None => {
                            params.insert(*k, v);
                        }
                    }
                }
                sd.insert(el.id, Value::from(params));
            }
            set(
                "structured_data",
                "[log][syslog][structured_data]",
                Value::from(sd),
            );
        }
        let _ = event.set(&self.syslog_field, Value::from(m.message));
        true
    }
}

/// Parses one syslog message (a frame's bytes) into an event with the input's defaults:
/// what the fuzz target and the benches call. Never panics, whatever the bytes.
pub fn parse(parser: &SyslogParser, bytes: &[u8]) -> Event {
    let text = String::from_utf8_lossy(bytes);
    let mut e = Event::from_message(text.as_ref());
    parser.relay(&mut e);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&[u8]]) -> Vec<Frame> {
        let mut f = SyslogFramer::new();
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out);
        }
        f.finish(&mut out);
        out
    }

    fn msg(s: &str) -> Frame {
        Frame::Message(s.as_bytes().to_vec())
    }

    #[test]
    fn newline_and_octet_counted_frames_mix_and_split_anywhere() {
        let stream = b"<13>a line\r\n11 <14>counted<15>x\n\n5 <1>ab\nlast";
        let whole = frames(&[stream]);
        assert_eq!(
            whole,
            [
                msg("<13>a line"),
                msg("<14>counted"),
                msg("<15>x"),
                msg("<1>ab"),
                msg("last")
            ]
        );
        // Byte by byte gives the same frames.
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(frames(&bytes), whole);
    }

    #[test]
    fn counted_frames_keep_newlines_inside() {
        assert_eq!(frames(&[b"9 <1>a\nb\nc"]), [msg("<1>a\nb\nc")]);
    }

    #[test]
    fn garbage_counts_are_rejected_and_resynchronised() {
        let out = frames(&[b"0 <junk\n<13>ok\n99999999999 <x\n<14>ok2\n"]);
        assert!(matches!(out[0], Frame::Rejected(_)));
        assert_eq!(out[1], msg("<13>ok"));
        assert!(matches!(out[2], Frame::Rejected(_)));
        assert_eq!(out[3], msg("<14>ok2"));
        // A digit-led line that is no count is a plain line.
        assert_eq!(frames(&[b"2024 was a year\n"]), [msg("2024 was a year")]);
    }

    #[test]
    fn oversized_counted_frame_is_skipped_whole() {
        let mut stream = format!("{} <", MAX_FRAME + 1).into_bytes();
        stream.extend(std::iter::repeat_n(b'x', MAX_FRAME));
        stream.extend_from_slice(b"<13>after\n");
        let out = frames(&[&stream[..1000], &stream[1000..]]);
        assert!(matches!(out[0], Frame::Rejected(_)));
        assert_eq!(out[1..], [msg("<13>after")]);
    }

    #[test]
    fn rfc5424_full_message() {
        let m = parse_rfc5424(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"] \u{feff}An application event log entry...",
        )
        .unwrap();
        assert_eq!(m.priority, 165);
        assert_eq!(m.version, "1");
        assert_eq!(m.timestamp, Some("2003-10-11T22:14:15.003Z"));
        assert_eq!(m.hostname, Some("mymachine.example.com"));
        assert_eq!(m.appname, Some("evntslog"));
        assert_eq!(m.procid, None);
        assert_eq!(m.msgid, Some("ID47"));
        assert_eq!(m.structured_data.len(), 2);
        assert_eq!(m.structured_data[0].id, "exampleSDID@32473");
        assert_eq!(
            m.structured_data[0].params[1],
            ("eventSource", "Application".to_string())
        );
        assert_eq!(m.structured_data[1].params, [("class", "high".to_string())]);
        assert_eq!(m.message, "An application event log entry...");
    }

    #[test]
    fn rfc5424_escapes_nil_values_and_refusals() {
        let m = parse_rfc5424(r#"<34>1 - - - - - [a b="x\"y\]z\\w\q"]"#).unwrap();
        assert_eq!(m.timestamp, None);
        assert_eq!(m.structured_data[0].params[0].1, r#"x"y]z\w\q"#);
        assert_eq!(m.message, "");
        let m = parse_rfc5424("<0>1 - - - - - - msg").unwrap();
        assert_eq!((m.priority, m.message), (0, "msg"));
        for bad in [
            "<192>1 - - - - - -",
            "<13>0 - - - - - -",
            "<13>1 - - - - -",
            "<13>1  - - - - -",
            "<13>1 - - - - - [",
            "<13>1 - - - - - [id",
            "<13>1 - - - - - [id a=\"x]",
            "<13>1 - - - - - [id a=x]",
            "<13>1 - - - - - -x",
            "<13>Oct 11 22:14:15 host app: msg",
            "13>1 - - - - - -",
            "",
        ] {
            assert_eq!(parse_rfc5424(bad), None, "{bad:?}");
        }
    }

    fn parser(ecs: bool) -> SyslogParser {
        let mut s = ParserSettings::defaults(ecs);
        s.timezone = Some("UTC".into());
        SyslogParser::new(&s).unwrap()
    }

    fn get(e: &Event, path: &str) -> Option<String> {
        e.get(&FieldRef::parse(path).unwrap())
            .map(|v| v.to_string())
    }

    #[test]
    fn rfc3164_ecs_fields() {
        let e = parse(
            &parser(true),
            b"<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick on /dev/pts/8",
        );
        assert_eq!(
            get(&e, "message").as_deref(),
            Some("'su root' failed for lonvick on /dev/pts/8")
        );
        assert_eq!(get(&e, "[log][syslog][priority]").as_deref(), Some("34"));
        assert_eq!(
            get(&e, "[log][syslog][facility][code]").as_deref(),
            Some("4")
        );
        assert_eq!(
            get(&e, "[log][syslog][facility][name]").as_deref(),
            Some("security/authorization")
        );
        assert_eq!(
            get(&e, "[log][syslog][severity][code]").as_deref(),
            Some("2")
        );
        assert_eq!(
            get(&e, "[log][syslog][severity][name]").as_deref(),
            Some("Critical")
        );
        assert_eq!(get(&e, "[host][hostname]").as_deref(), Some("mymachine"));
        assert_eq!(get(&e, "[process][name]").as_deref(), Some("su"));
        assert_eq!(get(&e, "[process][pid]").as_deref(), Some("123"));
        assert_eq!(get(&e, "[service][type]").as_deref(), Some("system"));
        assert!(get(&e, "[event][original]")
            .unwrap()
            .starts_with("<34>Oct 11"));
        assert_eq!(get(&e, "timestamp"), None);
        let ts = e.timestamp().unwrap().to_string();
        assert!(ts.ends_with("-10-11T22:14:15.000Z"), "{ts}");
        assert!(e.tags().is_empty(), "{:?}", e.tags());
    }

    #[test]
    fn rfc3164_legacy_fields() {
        let e = parse(
            &parser(false),
            b"<13>2024-03-01T10:00:00Z web01 nginx: GET /",
        );
        assert_eq!(get(&e, "message").as_deref(), Some("GET /"));
        assert_eq!(get(&e, "priority").as_deref(), Some("13"));
        assert_eq!(get(&e, "severity").as_deref(), Some("5"));
        assert_eq!(get(&e, "facility").as_deref(), Some("1"));
        assert_eq!(get(&e, "facility_label").as_deref(), Some("user-level"));
        assert_eq!(get(&e, "severity_label").as_deref(), Some("Notice"));
        assert_eq!(get(&e, "logsource").as_deref(), Some("web01"));
        assert_eq!(get(&e, "program").as_deref(), Some("nginx"));
        assert_eq!(
            get(&e, "timestamp").as_deref(),
            Some("2024-03-01T10:00:00Z")
        );
        assert_eq!(
            e.timestamp().unwrap().to_string(),
            "2024-03-01T10:00:00.000Z"
        );
        assert!(e.get_top("event").is_none());
    }

    #[test]
    fn unparsed_messages_keep_the_message_and_are_tagged() {
        for ecs in [true, false] {
            let e = parse(&parser(ecs), b"hello, not syslog");
            assert_eq!(get(&e, "message").as_deref(), Some("hello, not syslog"));
            assert_eq!(e.tags(), [FAILURE_TAG]);
            let (pri, sev) = if ecs {
                ("[log][syslog][priority]", "[log][syslog][severity][name]")
            } else {
                ("priority", "severity_label")
            };
            assert_eq!(get(&e, pri).as_deref(), Some("13"));
            assert_eq!(get(&e, sev).as_deref(), Some("Notice"));
        }
    }

    #[test]
    fn rfc5424_event_fields() {
        let line = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 42 ID47 [exampleSDID@32473 iut=\"3\" iut=\"4\"] An application event";
        let e = parse(&parser(true), line.as_bytes());
        assert_eq!(get(&e, "message").as_deref(), Some("An application event"));
        assert_eq!(get(&e, "[log][syslog][priority]").as_deref(), Some("165"));
        assert_eq!(
            get(&e, "[log][syslog][facility][name]").as_deref(),
            Some("local4")
        );
        assert_eq!(
            get(&e, "[log][syslog][severity][name]").as_deref(),
            Some("Notice")
        );
        assert_eq!(get(&e, "[log][syslog][version]").as_deref(), Some("1"));
        assert_eq!(
            get(&e, "[log][syslog][appname]").as_deref(),
            Some("evntslog")
        );
        assert_eq!(get(&e, "[log][syslog][procid]").as_deref(), Some("42"));
        assert_eq!(get(&e, "[log][syslog][msgid]").as_deref(), Some("ID47"));
        assert_eq!(
            get(&e, "[host][hostname]").as_deref(),
            Some("mymachine.example.com")
        );
        let sd = e.get(
            &FieldRef::parse("[log][syslog][structured_data][exampleSDID@32473][iut]").unwrap(),
        );
        assert_eq!(
            sd.map(|v| v.to_json().to_string()).as_deref(),
            Some(r#"["3","4"]"#)
        );
        assert_eq!(
            e.timestamp().unwrap().to_string(),
            "2003-10-11T22:14:15.003Z"
        );
        assert_eq!(get(&e, "[event][original]").as_deref(), Some(line));
        assert!(e.tags().is_empty(), "{:?}", e.tags());

        let e = parse(&parser(false), line.as_bytes());
        assert_eq!(get(&e, "program").as_deref(), Some("evntslog"));
        assert_eq!(get(&e, "pid").as_deref(), Some("42"));
        assert_eq!(
            get(&e, "logsource").as_deref(),
            Some("mymachine.example.com")
        );
        assert_eq!(get(&e, "priority").as_deref(), Some("165"));
    }

    #[test]
    fn a_custom_grok_pattern_replaces_the_stock_one_and_rfc5424_parsing() {
        let mut s = ParserSettings::defaults(false);
        s.grok_pattern = Some("<%{POSINT:priority}>%{GREEDYDATA:message}".into());
        let p = SyslogParser::new(&s).unwrap();
        let e = parse(&p, b"<165>1 - - - - - - x");
        assert_eq!(get(&e, "message").as_deref(), Some("1 - - - - - - x"));
        assert_eq!(get(&e, "facility").as_deref(), Some("20"));
        s.grok_pattern = Some("%{NOSUCHPATTERN}".into());
        assert_eq!(
            SyslogParser::new(&s).err().unwrap().option.as_deref(),
            Some("grok_pattern")
        );
    }

    #[test]
    fn random_and_truncated_bytes_never_panic() {
        let p = parser(true);
        let seeds: &[&[u8]] = &[
            b"<165>1 2003-10-11T22:14:15.003Z host app 1 ID [a b=\"c\"] msg",
            b"<34>Oct 11 22:14:15 mymachine su: x",
            b"12 <13>abcdefgh\n",
        ];
        let mut rng = fastrand::Rng::with_seed(42);
        for _ in 0..3000 {
            let seed = seeds[rng.usize(..seeds.len())];
            let mut v = seed[..rng.usize(0..=seed.len())].to_vec();
            for _ in 0..rng.usize(0..4) {
                if v.is_empty() {
                    break;
                }
                let i = rng.usize(..v.len());
                v[i] = rng.u8(..);
            }
            let _ = parse(&p, &v);
            if let Ok(s) = std::str::from_utf8(&v) {
                let _ = parse_rfc5424(s);
            }
            let mut f = SyslogFramer::new();
            let mut out = Vec::new();
            for c in v.chunks(rng.usize(1..8)) {
                f.push(c, &mut out);
            }
            f.finish(&mut out);
        }
    }
}
