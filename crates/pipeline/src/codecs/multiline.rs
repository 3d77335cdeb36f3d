//! The `multiline` codec (logstash-codec-multiline): joins consecutive lines into one
//! event when they match (or, with `negate`, don't match) `pattern`, attaching them to the
//! `previous` or the `next` line.
//!
//! Lines decoded through [`Codec::decode_acked`] keep their source acknowledgements: the
//! merged event carries the acks of every line in it, so a source never checkpoints past a
//! line that is still held in the buffer. Acks still held when the codec is dropped are
//! failed (those lines were never delivered).

use crate::framing::LineSplitter;
use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Codec};
use logstash_mesos_core::{Ack, Acks, Event, Timestamp};
use regex::Regex;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "pattern",
        OptKind::String,
        "the regular expression a line is matched against",
    )
    .required(),
    OptSpec::new(
        "what",
        OptKind::Enum(&["previous", "next"]),
        "whether a matching line belongs to the previous or the next line",
    )
    .required(),
    OptSpec::new(
        "negate",
        OptKind::Boolean,
        "join the lines that do NOT match the pattern",
    )
    .default("false"),
    OptSpec::new(
        "multiline_tag",
        OptKind::String,
        "tag added to events made of more than one line",
    )
    .default("multiline"),
    OptSpec::new(
        "max_lines",
        OptKind::Number,
        "flush the event once it holds more lines than this",
    )
    .default("500"),
    OptSpec::new(
        "max_bytes",
        OptKind::Bytes,
        "flush the event once it holds this many bytes (\"10 MiB\")",
    )
    .default("\"10 MiB\""),
    OptSpec::new(
        "auto_flush_interval",
        OptKind::Number,
        "seconds without new data after which a pending event is flushed",
    ),
    OptSpec::new(
        "delimiter",
        OptKind::String,
        "the line delimiter of streamed data",
    )
    .default("\"\n\""),
    OptSpec::new(
        "streaming_input",
        OptKind::Boolean,
        "accepted for compatibility: streamed data is always split on the delimiter",
    )
    .default("false"),
    OptSpec::new(
        "patterns_dir",
        OptKind::Array,
        "directories of grok pattern files for %{NAME} in pattern (besides the stock ones)",
    ),
    crate::registry::CHARSET,
];

/// Which neighbour a matching line is joined to (`what`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    Previous,
    Next,
}

/// `pattern`: a Ruby regular expression, or, when it holds `%{NAME}` references, a grok
/// expression expanded with the stock (legacy) library and the `patterns_dir` files, as
/// logstash-codec-multiline does (`^%{TIMESTAMP_ISO8601} ` is the common case).
pub enum LinePattern {
    Regex(Regex),
    Grok(Box<crate::grok::matcher::Grok>),
}

impl LinePattern {
    pub fn is_match(&self, text: &str) -> bool {
        match self {
            LinePattern::Regex(r) => r.is_match(text),
            // A pattern that runs out of backtracking budget counts as no match.
            LinePattern::Grok(g) => {
                g.captures(text, |_, _, _| {}) == crate::grok::engine::MatchResult::Match
            }
        }
    }
}

impl std::fmt::Debug for LinePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinePattern::Regex(r) => write!(f, "Regex({:?})", r.as_str()),
            LinePattern::Grok(_) => f.write_str("Grok"),
        }
    }
}

fn compile_pattern(src: &str, args: &Args) -> BuildResult<LinePattern> {
    use crate::grok::library::{PatternLibrary, PatternSet};
    if !src.contains("%{") {
        return crate::ruby::compile_linear(src)
            .map(LinePattern::Regex)
            .map_err(|e| {
                BuildError::option("pattern", format!("invalid regular expression: {e}"))
            });
    }
    let mut lib = PatternLibrary::stock(PatternSet::Legacy);
    for dir in args.strings("patterns_dir") {
        lib.add_path(std::path::Path::new(&dir), "*")
            .map_err(|e| BuildError::option("patterns_dir", e))?;
    }
    crate::grok::matcher::Grok::compile(src, &lib, true, Default::default())
        .map(|g| LinePattern::Grok(Box::new(g)))
        .map_err(|e| BuildError::option("pattern", format!("{e} in {src:?}")))
}

/// The compiled options, shared by every clone of the codec.
#[derive(Debug)]
pub struct MultilineOptions {
    /// `pattern` (required).
    pub pattern: LinePattern,
    /// `what` (required): `previous` or `next`.
    pub what: What,
    /// `negate` (boolean, false).
    pub negate: bool,
    /// `multiline_tag` (string, "multiline"); empty disables tagging.
    pub multiline_tag: String,
    /// `max_lines` (number, 500).
    pub max_lines: usize,
    /// `max_bytes` (bytes, "10 MiB").
    pub max_bytes: usize,
    /// `auto_flush_interval` (seconds, unset).
    pub auto_flush_interval: Option<Duration>,
    /// `delimiter` (string, "\n"): splits streamed data into lines.
    pub delimiter: Vec<u8>,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Codec>> {
    Ok(Box::new(Multiline::new(Arc::new(options(args)?))))
}

/// Validates the options; every error names its option.
pub fn options(args: &Args) -> BuildResult<MultilineOptions> {
    let pattern_src = args
        .string("pattern")
        .ok_or_else(|| BuildError::option("pattern", "is required"))?;
    let pattern = compile_pattern(&pattern_src, args)?;
    let what = match args.string("what").as_deref() {
        Some("previous") => What::Previous,
        Some("next") => What::Next,
        Some(other) => {
            return Err(BuildError::option(
                "what",
                format!("expected previous or next, got {other:?}"),
            ))
        }
        None => return Err(BuildError::option("what", "is required (previous or next)")),
    };
    let max_lines = match args.i64("max_lines") {
        None if !args.contains("max_lines") => 500,
        Some(n) if n > 0 => n as usize,
        _ => {
            return Err(BuildError::option(
                "max_lines",
                "expected a positive number",
            ))
        }
    };
    let max_bytes = args
        .bytes("max_bytes")
        .filter(|n| *n > 0)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            BuildError::option(
                "max_bytes",
                "expected a positive size such as 10 MiB or 1048576",
            )
        })?;
    let auto_flush_interval = match args.f64("auto_flush_interval") {
        None if !args.contains("auto_flush_interval") => None,
        Some(s) if s > 0.0 && s.is_finite() => Some(Duration::from_secs_f64(s)),
        _ => {
            return Err(BuildError::option(
                "auto_flush_interval",
                "expected a positive number of seconds",
            ))
        }
    };
    let delimiter = args.string("delimiter").unwrap_or_default().into_bytes();
    if delimiter.is_empty() {
        return Err(BuildError::option("delimiter", "must not be empty"));
    }
    Ok(MultilineOptions {
        pattern,
        what,
        negate: args.flag("negate"),
        multiline_tag: args.string("multiline_tag").unwrap_or_default(),
        max_lines,
        max_bytes,
        auto_flush_interval,
        delimiter,
    })
}

/// A line as the [`Joiner`] sees it: the text the pattern is matched against and that
/// counts for `max_bytes` (invalid UTF-8 replaced, as the codec decodes it).
pub trait JoinLine {
    fn join_text(&self) -> Cow<'_, str>;
}

/// The multiline joining rule on its own, whatever a line carries (`T`): the codec joins
/// text with acknowledgements, the docker input joins records with their checkpoint
/// positions. Both honour the same options the same way (Logstash's `do_previous` /
/// `do_next`, `max_lines`, `max_bytes`).
#[derive(Debug)]
pub struct Joiner<T> {
    opts: Arc<MultilineOptions>,
    items: Vec<T>,
    /// Bytes of text buffered (for `max_bytes`).
    bytes: usize,
}

/// Consecutive lines that make one event, in order.
#[derive(Debug)]
pub struct Group<T> {
    pub items: Vec<T>,
    /// The group was cut because it held more than `max_lines` lines.
    pub max_lines_reached: bool,
    /// The group was cut because it held `max_bytes` bytes or more.
    pub max_bytes_reached: bool,
}

impl<T> Group<T> {
    /// The tags Logstash's codec adds to the merged event: `multiline_tag` when it holds
    /// more than one line, and one per limit that cut it.
    pub fn tags<'a>(&self, opts: &'a MultilineOptions) -> Vec<&'a str> {
        let mut tags = Vec::new();
        if !opts.multiline_tag.is_empty() && self.items.len() > 1 {
            tags.push(opts.multiline_tag.as_str());
        }
        if self.max_bytes_reached {
            tags.push("multiline_codec_max_bytes_reached");
        }
        if self.max_lines_reached {
            tags.push("multiline_codec_max_lines_reached");
        }
        tags
    }
}

impl<T: JoinLine> Joiner<T> {
    pub fn new(opts: Arc<MultilineOptions>) -> Self {
        Joiner {
            opts,
            items: Vec::new(),
            bytes: 0,
        }
    }

    pub fn options(&self) -> &Arc<MultilineOptions> {
        &self.opts
    }

    /// The lines buffered, waiting for the rest of their group.
    pub fn buffered(&self) -> &[T] {
        &self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn over_max_lines(&self) -> bool {
        self.items.len() > self.opts.max_lines
    }

    fn over_max_bytes(&self) -> bool {
        self.bytes >= self.opts.max_bytes
    }

    fn over(&self) -> bool {
        self.over_max_lines() || self.over_max_bytes()
    }

    /// Adds one line; returns the group this line completed, if any.
    pub fn push(&mut self, item: T) -> Option<Group<T>> {
        let (matched, len) = {
            let text = item.join_text();
            (
                self.opts.pattern.is_match(&text) != self.opts.negate,
                text.len(),
            )
        };
        match self.opts.what {
            What::Previous => {
                // A matching line belongs to the one before: anything else starts anew.
                let done = if !matched || self.over() {
                    self.flush()
                } else {
                    None
                };
                self.add(len, item);
                done
            }
            What::Next => {
                // A matching line asks for the next one to be joined to it.
                self.add(len, item);
                if !matched || self.over() {
                    self.flush()
                } else {
                    None
                }
            }
        }
    }

    fn add(&mut self, len: usize, item: T) {
        self.bytes += len;
        self.items.push(item);
    }

    /// Hands out the buffered lines as a group (end of stream, idle timeout).
    pub fn flush(&mut self) -> Option<Group<T>> {
        if self.items.is_empty() {
            return None;
        }
        let group = Group {
            max_lines_reached: self.over_max_lines(),
            max_bytes_reached: self.over_max_bytes(),
            items: std::mem::take(&mut self.items),
        };
        self.bytes = 0;
        Some(group)
    }
}

/// A buffered line of the codec and its source acknowledgements.
struct Held {
    text: String,
    acks: Acks,
}

impl JoinLine for Held {
    fn join_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.text)
    }
}

/// One codec instance (one per input stream).
pub struct Multiline {
    joiner: Joiner<Held>,
    /// When the first buffered line arrived: the merged event's `@timestamp`.
    time: Option<Timestamp>,
    /// When data last arrived, for `auto_flush_interval`.
    last_data: Instant,
    /// Splits streamed data (`decode`) on the delimiter, carrying a partial line.
    lines: LineSplitter,
}

impl Multiline {
    pub fn new(opts: Arc<MultilineOptions>) -> Self {
        Multiline {
            lines: LineSplitter::new(&opts.delimiter, 0),
            joiner: Joiner::new(opts),
            time: None,
            last_data: Instant::now(),
        }
    }

    fn handle_line(&mut self, line: &[u8], acks: Acks, out: &mut Vec<Event>) {
        self.last_data = Instant::now();
        let text = String::from_utf8_lossy(line).into_owned();
        if let Some(g) = self.joiner.push(Held { text, acks }) {
            self.emit(g, out);
        }
        if self.time.is_none() && !self.joiner.is_empty() {
            self.time = Some(Timestamp::now());
        }
    }

    fn flush_buffer(&mut self, out: &mut Vec<Event>) {
        if let Some(g) = self.joiner.flush() {
            self.emit(g, out);
        }
    }

    /// Emits a group as one event carrying all its lines' acks.
    fn emit(&mut self, group: Group<Held>, out: &mut Vec<Event>) {
        let opts = self.joiner.options().clone();
        let tags = group.tags(&opts);
        let mut message = String::new();
        let mut acks = Acks::None;
        for (i, held) in group.items.into_iter().enumerate() {
            if i > 0 {
                message.push('\n');
            }
            message.push_str(&held.text);
            acks.extend(held.acks);
        }
        let mut event = Event::from_message(message);
        if let Some(t) = self.time.take() {
            event.set_timestamp(t);
        }
        for t in tags {
            event.add_tag(t);
        }
        attach_all(&mut event, acks);
        out.push(event);
    }
}

fn attach_all(event: &mut Event, acks: Acks) {
    match acks {
        Acks::None => {}
        Acks::One(a) => event.attach_ack(a),
        Acks::Many(v) => v.into_iter().for_each(|a: Ack| event.attach_ack(a)),
    }
}

impl Codec for Multiline {
    fn decode(&mut self, data: &[u8], out: &mut Vec<Event>) {
        let mut lines = Vec::new();
        self.lines.push_each(data, |l| lines.push(l.bytes.to_vec()));
        for l in lines {
            self.handle_line(&l, Acks::None, out);
        }
    }

    fn decode_acked(&mut self, record: &[u8], acks: Acks, out: &mut Vec<Event>) {
        // A record is complete (Logstash appends the delimiter for non-streaming input);
        // when it holds several lines, its acks go with the last one.
        let delimiter = &self.joiner.options().delimiter;
        if memchr::memmem::find(record, delimiter).is_none() {
            // The usual case: the source already split lines.
            return self.handle_line(record, acks, out);
        }
        let mut lines = Vec::new();
        let mut last = Vec::new();
        let mut split = LineSplitter::new(delimiter, 0);
        split.push_each(record, |l| lines.push(l.bytes.to_vec()));
        split.flush_each(|l| last = l.bytes.to_vec());
        for l in lines {
            self.handle_line(&l, Acks::None, out);
        }
        self.handle_line(&last, acks, out);
    }

    fn flush(&mut self, out: &mut Vec<Event>) {
        let mut rest = Vec::new();
        self.lines.flush_each(|l| rest.push(l.bytes.to_vec()));
        for l in rest {
            self.handle_line(&l, Acks::None, out);
        }
        self.flush_buffer(out);
    }

    fn flush_expired(&mut self, out: &mut Vec<Event>) {
        if let Some(interval) = self.joiner.options().auto_flush_interval {
            if (!self.joiner.is_empty() || self.lines.pending() > 0)
                && self.last_data.elapsed() >= interval
            {
                self.flush(out);
            }
        }
    }

    fn encode(&mut self, event: &Event, out: &mut Vec<u8>) {
        // Logstash's multiline codec does not encode; writing the message is the useful
        // equivalent of the plain codec.
        if let Some(m) = event.get_top("message") {
            out.extend_from_slice(m.to_logstash_string().as_bytes());
        }
        out.extend_from_slice(&self.joiner.options().delimiter);
    }

    fn clone_box(&self) -> Box<dyn Codec> {
        Box::new(Multiline::new(self.joiner.options().clone()))
    }
}

impl Drop for Multiline {
    fn drop(&mut self) {
        // Lines still buffered were never delivered: the source must not checkpoint past them.
        for held in self.joiner.buffered() {
            held.acks.fail();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::{AckSink, Value};
    use std::sync::Mutex;

    fn codec(pairs: &[(&str, Value)]) -> Multiline {
        let mut args = Args::for_plugin(crate::registry::Kind::Codec, OPTIONS);
        for (k, v) in pairs {
            args = args.with(k, v.clone());
        }
        Multiline::new(Arc::new(options(&args).expect("valid options")))
    }

    fn messages(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| {
                e.get_top("message")
                    .map(|v| v.to_logstash_string())
                    .unwrap_or_default()
            })
            .collect()
    }

    fn feed(c: &mut Multiline, lines: &[&str]) -> Vec<Event> {
        let mut out = Vec::new();
        for l in lines {
            c.decode_acked(l.as_bytes(), Acks::None, &mut out);
        }
        out
    }

    #[test]
    fn previous_joins_indented_lines_to_the_line_before() {
        let mut c = codec(&[("pattern", "^\\s".into()), ("what", "previous".into())]);
        let mut out = feed(
            &mut c,
            &[
                "Exception: boom",
                "  at a()",
                "  at b()",
                "next event",
                "another",
            ],
        );
        assert_eq!(
            messages(&out),
            vec!["Exception: boom\n  at a()\n  at b()", "next event"]
        );
        assert!(out[0].has_tag("multiline"));
        assert!(
            !out[1].has_tag("multiline"),
            "single-line events are not tagged"
        );
        c.flush(&mut out);
        assert_eq!(messages(&out)[2], "another");
    }

    #[test]
    fn negate_previous_joins_lines_not_starting_with_a_timestamp() {
        let mut c = codec(&[
            ("pattern", "^\\d{4}-".into()),
            ("what", "previous".into()),
            ("negate", true.into()),
        ]);
        let out = feed(
            &mut c,
            &[
                "2024-01-01 a",
                "cont 1",
                "cont 2",
                "2024-01-02 b",
                "2024-01-03 c",
            ],
        );
        assert_eq!(
            messages(&out),
            vec!["2024-01-01 a\ncont 1\ncont 2", "2024-01-02 b"]
        );
    }

    #[test]
    fn next_joins_lines_ending_with_backslash_to_the_following_line() {
        let mut c = codec(&[("pattern", "\\\\$".into()), ("what", "next".into())]);
        let out = feed(&mut c, &["one \\", "two \\", "three", "four"]);
        assert_eq!(messages(&out), vec!["one \\\ntwo \\\nthree", "four"]);
        assert!(out[0].has_tag("multiline"));
    }

    #[test]
    fn streamed_decode_carries_partial_lines() {
        let mut c = codec(&[("pattern", "^ ".into()), ("what", "previous".into())]);
        let mut out = Vec::new();
        c.decode(b"a\n b", &mut out);
        c.decode(b"c\nd\n", &mut out);
        assert_eq!(messages(&out), vec!["a\n bc"]);
        c.flush(&mut out);
        assert_eq!(messages(&out), vec!["a\n bc", "d"]);
    }

    #[test]
    fn max_lines_flushes_and_tags() {
        let mut c = codec(&[
            ("pattern", "^ ".into()),
            ("what", "previous".into()),
            ("max_lines", 2.into()),
        ]);
        let out = feed(&mut c, &["a", " 1", " 2", " 3", " 4"]);
        assert_eq!(messages(&out), vec!["a\n 1\n 2"]);
        assert!(out[0].has_tag("multiline_codec_max_lines_reached"));
    }

    #[test]
    fn max_bytes_flushes_and_tags() {
        let mut c = codec(&[
            ("pattern", "^ ".into()),
            ("what", "previous".into()),
            ("max_bytes", "6".into()),
        ]);
        let out = feed(&mut c, &["abc", " de", " f"]);
        assert_eq!(messages(&out), vec!["abc\n de"]);
        assert!(out[0].has_tag("multiline_codec_max_bytes_reached"));
    }

    #[test]
    fn auto_flush_emits_pending_event_after_idle_interval() {
        let mut c = codec(&[
            ("pattern", "^ ".into()),
            ("what", "previous".into()),
            ("auto_flush_interval", 0.05.into()),
        ]);
        let mut out = feed(&mut c, &["a", " b"]);
        c.flush_expired(&mut out);
        assert!(out.is_empty(), "not yet idle long enough");
        std::thread::sleep(Duration::from_millis(80));
        c.flush_expired(&mut out);
        assert_eq!(messages(&out), vec!["a\n b"]);
    }

    #[derive(Default)]
    struct Record(Mutex<Vec<(u64, bool)>>);
    impl AckSink for Record {
        fn finished(&self, token: u64, delivered: bool) {
            self.0.lock().expect("lock").push((token, delivered));
        }
    }

    #[test]
    fn merged_event_carries_every_line_ack_and_held_acks_fail_on_drop() {
        let rec = Arc::new(Record::default());
        let mut c = codec(&[("pattern", "^ ".into()), ("what", "previous".into())]);
        let mut out = Vec::new();
        for (i, l) in ["a", " b", "c"].iter().enumerate() {
            c.decode_acked(
                l.as_bytes(),
                Acks::One(Ack::new(rec.clone(), i as u64 + 1)),
                &mut out,
            );
        }
        assert_eq!(out.len(), 1);
        assert!(
            rec.0.lock().expect("lock").is_empty(),
            "acks are held by the merged event and the buffer"
        );
        drop(out);
        let mut got = rec.0.lock().expect("lock").clone();
        got.sort();
        assert_eq!(got, vec![(1, true), (2, true)]);
        drop(c);
        assert_eq!(
            rec.0.lock().expect("lock").last(),
            Some(&(3, false)),
            "the buffered line was not delivered"
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let mut c = codec(&[("pattern", "^ ".into()), ("what", "previous".into())]);
        let mut out = Vec::new();
        c.decode_acked(b"bad \xff byte", Acks::None, &mut out);
        c.flush(&mut out);
        assert_eq!(messages(&out), vec!["bad \u{fffd} byte"]);
    }

    /// The common Java-log setup: a line starting with a timestamp starts an event.
    #[test]
    fn grok_references_in_the_pattern_are_expanded() {
        let mut c = codec(&[
            ("pattern", "^%{TIMESTAMP_ISO8601} ".into()),
            ("negate", true.into()),
            ("what", "previous".into()),
        ]);
        let out = feed(
            &mut c,
            &[
                "2024-05-01 10:00:00,123 ERROR boom",
                "java.lang.IllegalStateException: x",
                "\tat a.b(C.java:1)",
                "2024-05-01T10:00:01Z INFO fine",
                "2024-05-01 10:00:02 INFO last",
            ],
        );
        assert_eq!(
            messages(&out),
            vec![
                "2024-05-01 10:00:00,123 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.b(C.java:1)",
                "2024-05-01T10:00:01Z INFO fine"
            ]
        );
        // patterns_dir adds the user's own names; an unknown one is an error on `pattern`.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("mine"), "MYSTART >>>\n").expect("write");
        let mut c = codec(&[
            ("pattern", "^%{MYSTART}".into()),
            ("negate", true.into()),
            ("what", "previous".into()),
            (
                "patterns_dir",
                Value::Array(vec![dir.path().display().to_string().into()]),
            ),
        ]);
        let out = feed(&mut c, &[">>> one", "more", ">>> two"]);
        assert_eq!(messages(&out), vec![">>> one\nmore"]);
        let mut args = Args::for_plugin(crate::registry::Kind::Codec, OPTIONS);
        args = args
            .with("pattern", "^%{NOPE}".into())
            .with("what", "next".into());
        let e = options(&args).expect_err("unknown pattern");
        assert_eq!(e.option.as_deref(), Some("pattern"));
        assert!(e.message.contains("unknown pattern %{NOPE}"), "{e}");
    }

    #[test]
    fn config_errors_name_the_option() {
        let bad = |pairs: &[(&str, Value)]| {
            let mut args = Args::for_plugin(crate::registry::Kind::Codec, OPTIONS);
            for (k, v) in pairs {
                args = args.with(k, v.clone());
            }
            options(&args).err().and_then(|e| e.option)
        };
        assert_eq!(
            bad(&[("pattern", "(".into()), ("what", "next".into())]).as_deref(),
            Some("pattern")
        );
        assert_eq!(
            bad(&[("pattern", "x".into()), ("what", "sideways".into())]).as_deref(),
            Some("what")
        );
        assert_eq!(
            bad(&[
                ("pattern", "x".into()),
                ("what", "next".into()),
                ("max_bytes", "lots".into())
            ])
            .as_deref(),
            Some("max_bytes")
        );
        assert_eq!(crate::units::parse_bytes("10 MiB"), Some(10 * 1024 * 1024));
        assert_eq!(crate::units::parse_bytes("2kB"), Some(2000));
    }
}
