//! Line framing shared by every reader of byte streams: the file input, the docker input's
//! exec and logs readers, and the line-oriented codecs (`line`, `json_lines`, `multiline`).
//!
//! [`LineSplitter`] cuts chunks that hold several lines or part of one into complete lines
//! on a delimiter (any byte string, found even when it straddles two chunks), carries the
//! partial last line over to the next chunk, and tells for every line the byte range it
//! covered in its stream, so a reader can checkpoint "just past this line". A line longer
//! than `max_bytes` is cut into pieces marked `truncated` so memory stays bounded.
//!
//! ```
//! use logstash_mesos_pipeline::framing::LineSplitter;
//! let mut s = LineSplitter::new(b"\n", 100);
//! let mut lines = Vec::new();
//! s.push(b"ab", &mut lines);
//! s.push(b"c\nde\nf", &mut lines);
//! assert_eq!(lines.iter().map(|l| (&l.bytes[..], l.start, l.end)).collect::<Vec<_>>(),
//!            [(&b"abc"[..], 100, 104), (&b"de"[..], 104, 107)]);
//! assert_eq!(s.position(), 108);
//! ```

/// One line and the byte range it covered (the delimiter included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line without its delimiter.
    pub bytes: Vec<u8>,
    /// Offset of the first byte in the stream.
    pub start: u64,
    /// Offset just past the line's delimiter: where reading resumes.
    pub end: u64,
    /// The line was cut at `max_bytes`; the rest follows as further lines.
    pub truncated: bool,
}

/// A borrowed [`Line`], for callers that do not keep the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRef<'a> {
    pub bytes: &'a [u8],
    pub start: u64,
    pub end: u64,
    pub truncated: bool,
}

impl LineRef<'_> {
    pub fn to_line(&self) -> Line {
        Line {
            bytes: self.bytes.to_vec(),
            start: self.start,
            end: self.end,
            truncated: self.truncated,
        }
    }
}

/// Splits chunks into lines, tracking the stream offset.
#[derive(Debug, Clone)]
pub struct LineSplitter {
    delimiter: Vec<u8>,
    max_bytes: usize,
    strip_cr: bool,
    /// Bytes after the last delimiter.
    partial: Vec<u8>,
    /// How much of `partial` was already searched for the delimiter.
    scanned: usize,
    /// Stream offset of `partial[0]`.
    start: u64,
}

impl LineSplitter {
    /// Splits on `delimiter` (an empty one means `\n`), starting at stream `offset`, with
    /// no line length limit.
    pub fn new(delimiter: &[u8], offset: u64) -> Self {
        LineSplitter {
            delimiter: if delimiter.is_empty() {
                b"\n".to_vec()
            } else {
                delimiter.to_vec()
            },
            max_bytes: usize::MAX,
            strip_cr: false,
            partial: Vec::new(),
            scanned: 0,
            start: offset,
        }
    }

    /// Cuts lines longer than `max_bytes` (at least 1) into `truncated` pieces.
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes.max(1);
        self
    }

    /// Also drops a `\r` before the delimiter (CRLF text); the offsets still cover it.
    #[must_use]
    pub fn strip_cr(mut self, yes: bool) -> Self {
        self.strip_cr = yes;
        self
    }

    /// Restarts at `offset` of a (possibly new) stream, dropping a carried partial line
    /// (flush it first to keep it).
    pub fn reset(&mut self, offset: u64) {
        self.partial.clear();
        self.scanned = 0;
        self.start = offset;
    }

    /// The offset after the last byte seen.
    pub fn position(&self) -> u64 {
        self.start + self.partial.len() as u64
    }

    /// Takes the carried partial line (its bytes and start offset) without emitting it:
    /// the line continues in another file (a rotation that split a line).
    pub fn take_partial(&mut self) -> (Vec<u8>, u64) {
        let start = self.start;
        let bytes = std::mem::take(&mut self.partial);
        self.start += bytes.len() as u64;
        self.scanned = 0;
        (bytes, start)
    }

    /// Bytes of the partial line carried over.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Appends the complete lines of `data` to `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Line>) {
        self.push_each(data, |l| out.push(l.to_line()));
    }

    /// Hands every complete line of `data` to `each`.
    pub fn push_each(&mut self, data: &[u8], mut each: impl FnMut(LineRef<'_>)) {
        self.partial.extend_from_slice(data);
        let d = self.delimiter.len();
        let mut line_start = 0;
        // Resume the search where the last one stopped, minus a delimiter's overlap.
        let mut from = self.scanned.saturating_sub(d - 1);
        while let Some(i) = find(&self.partial[from..], &self.delimiter) {
            let end = from + i;
            line_start = self.cut_long(line_start, end, &mut each);
            let mut content = &self.partial[line_start..end];
            if self.strip_cr && content.last() == Some(&b'\r') {
                content = &content[..content.len() - 1];
            }
            each(LineRef {
                bytes: content,
                start: self.start + line_start as u64,
                end: self.start + (end + d) as u64,
                truncated: false,
            });
            line_start = end + d;
            from = line_start;
        }
        // No delimiter in the rest: cut it if it is already too long, keeping back what
        // could be the start of a delimiter.
        let limit = self.partial.len().saturating_sub(d - 1);
        line_start = self.cut_long(line_start, limit, &mut each);
        self.partial.drain(..line_start);
        self.start += line_start as u64;
        self.scanned = self.partial.len();
    }

    /// Emits pieces of `max_bytes` from `partial[from..upto]` while it is longer than
    /// that; returns where the remainder starts.
    fn cut_long(&self, mut from: usize, upto: usize, each: &mut impl FnMut(LineRef<'_>)) -> usize {
        while upto.saturating_sub(from) > self.max_bytes {
            let to = from + self.max_bytes;
            each(LineRef {
                bytes: &self.partial[from..to],
                start: self.start + from as u64,
                end: self.start + to as u64,
                truncated: true,
            });
            from = to;
        }
        from
    }

    /// Emits the carried partial line (end of stream, file switch), if any.
    pub fn flush(&mut self, out: &mut Vec<Line>) {
        self.flush_each(|l| out.push(l.to_line()));
    }

    /// Hands the carried partial line, if any, to `each`.
    pub fn flush_each(&mut self, mut each: impl FnMut(LineRef<'_>)) {
        if self.partial.is_empty() {
            return;
        }
        let end = self.position();
        each(LineRef {
            bytes: &self.partial,
            start: self.start,
            end,
            truncated: false,
        });
        self.partial.clear();
        self.scanned = 0;
        self.start = end;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [b] => memchr::memchr(*b, hay),
        _ => memchr::memmem::find(hay, needle),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(s: &mut LineSplitter, chunks: &[&[u8]]) -> Vec<Line> {
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        out
    }

    fn texts(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| String::from_utf8_lossy(&l.bytes).into_owned())
            .collect()
    }

    #[test]
    fn multi_byte_delimiter_split_across_every_chunk_boundary() {
        let data = b"one||two|||three||";
        for cut in 0..data.len() {
            let mut s = LineSplitter::new(b"||", 0);
            let out = split_all(&mut s, &[&data[..cut], &data[cut..]]);
            assert_eq!(texts(&out), ["one", "two", "|three"], "cut at {cut}");
            assert_eq!(
                out.iter().map(|l| (l.start, l.end)).collect::<Vec<_>>(),
                [(0, 5), (5, 10), (10, 18)],
                "cut at {cut}"
            );
            assert_eq!(s.pending(), 0);
        }
        // A remainder shorter than a partial delimiter is carried, not cut.
        let mut s = LineSplitter::new(b"<=>", 0).max_bytes(1);
        let mut out = split_all(&mut s, &[b"x<", b"=>"]);
        s.flush(&mut out);
        assert_eq!(texts(&out), ["x"]);
    }

    #[test]
    fn cr_is_kept_unless_asked_and_offsets_cover_it() {
        let mut keep = LineSplitter::new(b"\n", 0);
        assert_eq!(texts(&split_all(&mut keep, &[b"a\r\n"])), ["a\r"]);
        let mut strip = LineSplitter::new(b"\n", 0).strip_cr(true);
        let out = split_all(&mut strip, &[b"a\r\n\r\n"]);
        assert_eq!(texts(&out), ["a", ""]);
        assert_eq!((out[1].start, out[1].end), (3, 5));
    }

    #[test]
    fn long_partial_lines_are_cut_before_their_delimiter_arrives() {
        let mut s = LineSplitter::new(b"\r\n", 0).max_bytes(4);
        let mut out = split_all(&mut s, &[b"abcdefghij\r"]);
        // 10 bytes + a possible half delimiter: two full pieces now, the rest waits.
        assert_eq!(texts(&out), ["abcd", "efgh"]);
        assert!(out.iter().all(|l| l.truncated));
        s.push(b"\nxy", &mut out);
        assert_eq!(texts(&out), ["abcd", "efgh", "ij"]);
        assert!(!out[2].truncated);
        assert_eq!((out[2].start, out[2].end), (8, 12));
        s.flush(&mut out);
        assert_eq!(
            (texts(&out)[3].as_str(), out[3].start, out[3].end),
            ("xy", 12, 14)
        );
        assert_eq!(s.position(), 14);
    }

    #[test]
    fn empty_delimiter_means_newline_and_reset_drops_the_partial() {
        let mut s = LineSplitter::new(b"", 5);
        let mut out = split_all(&mut s, &[b"a\nb"]);
        assert_eq!(texts(&out), ["a"]);
        s.reset(0);
        s.flush(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(s.position(), 0);
    }
}
