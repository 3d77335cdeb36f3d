//! Re-splits a byte stream into lines with byte offsets.
//!
//! Docker delivers exec and logs output in chunks that hold several lines or part of one;
//! the shared [`LineSplitter`] (`crates/pipeline/src/framing.rs`) carries a partial line
//! over to the next chunk and tells, for every complete line, the byte offsets it covers
//! in its file; [`splitter`] sets it up for container output. The file-tail script also writes
//! in-band markers (`\0LSM<nonce> <words>\n`) between file contents, so the reader knows
//! exactly which bytes belonged to which file across rotations; [`Demux`] separates them.

pub use logstash_mesos_pipeline::framing::Line;
use logstash_mesos_pipeline::framing::LineSplitter;

/// The splitter for container output: newline-delimited, CRLF tolerated (the `\r` is
/// dropped), lines longer than `max_bytes` cut; offsets start at `offset`.
pub fn splitter(offset: u64, max_bytes: usize) -> LineSplitter {
    LineSplitter::new(b"\n", offset)
        .max_bytes(max_bytes)
        .strip_cr(true)
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|b| *b == needle)
}

/// A piece of the tail script's stdout: file contents or a marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Data(Vec<u8>),
    /// The words of a marker line, without the prefix.
    Marker(Vec<String>),
}

/// Separates in-band markers from file contents, across chunk boundaries.
#[derive(Debug)]
pub struct Demux {
    prefix: Vec<u8>,
    buf: Vec<u8>,
}

impl Demux {
    pub fn new(nonce: &str) -> Self {
        let mut prefix = b"\0LSM".to_vec();
        prefix.extend_from_slice(nonce.as_bytes());
        prefix.push(b' ');
        Demux {
            prefix,
            buf: Vec::new(),
        }
    }

    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Piece>) {
        self.buf.extend_from_slice(chunk);
        loop {
            match find(&self.buf, &self.prefix) {
                Some(i) => {
                    let after = i + self.prefix.len();
                    let Some(nl) = memchr(b'\n', &self.buf[after..]) else {
                        // The marker's end has not arrived: hand out what precedes it.
                        if i > 0 {
                            out.push(Piece::Data(self.buf.drain(..i).collect()));
                        }
                        return;
                    };
                    if i > 0 {
                        out.push(Piece::Data(self.buf[..i].to_vec()));
                    }
                    let words = String::from_utf8_lossy(&self.buf[after..after + nl])
                        .split_whitespace()
                        .map(str::to_string)
                        .collect();
                    out.push(Piece::Marker(words));
                    self.buf.drain(..after + nl + 1);
                }
                None => {
                    // Keep back a tail that could be the start of a marker.
                    let keep = partial_prefix_len(&self.buf, &self.prefix);
                    let cut = self.buf.len() - keep;
                    if cut > 0 {
                        out.push(Piece::Data(self.buf.drain(..cut).collect()));
                    }
                    return;
                }
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut from = 0;
    while let Some(p) = memchr(first, &hay[from..]) {
        let i = from + p;
        if hay.len() - i < needle.len() {
            return None;
        }
        if &hay[i..i + needle.len()] == needle {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// The length of the longest suffix of `hay` that is a proper prefix of `needle`.
fn partial_prefix_len(hay: &[u8], needle: &[u8]) -> usize {
    let max = needle.len().saturating_sub(1).min(hay.len());
    (1..=max)
        .rev()
        .find(|&k| hay[hay.len() - k..] == needle[..k])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(chunks: &[&[u8]], max: usize) -> Vec<Line> {
        let mut s = splitter(10, max);
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        out
    }

    #[test]
    fn carries_partial_lines_and_offsets() {
        let out = split_all(&[b"ab", b"c\nde\nf", b"g\r\n"], 100);
        let texts: Vec<_> = out
            .iter()
            .map(|l| String::from_utf8_lossy(&l.bytes).into_owned())
            .collect();
        assert_eq!(texts, ["abc", "de", "fg"]);
        assert_eq!(
            out.iter().map(|l| (l.start, l.end)).collect::<Vec<_>>(),
            [(10, 14), (14, 17), (17, 21)]
        );
    }

    #[test]
    fn long_lines_are_cut() {
        let out = split_all(&[b"abcdefg\n"], 3);
        assert_eq!(
            out.iter().map(|l| l.bytes.clone()).collect::<Vec<_>>(),
            [b"abc".to_vec(), b"def".to_vec(), b"g".to_vec()]
        );
        assert!(out[0].truncated && out[1].truncated && !out[2].truncated);
        assert_eq!(out[2].end, 18);
    }

    #[test]
    fn flush_emits_partial() {
        let mut s = splitter(0, 100);
        let mut out = Vec::new();
        s.push(b"x\ny", &mut out);
        s.flush(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!((out[1].start, out[1].end), (2, 3));
    }

    #[test]
    fn demux_across_chunk_boundaries() {
        let stream = b"line1\nhalf\0LSMab12 O 5 0\nnew\n\0LSMab12 E x y\n".to_vec();
        for cut in 0..stream.len() {
            let mut d = Demux::new("ab12");
            let mut out = Vec::new();
            d.push(&stream[..cut], &mut out);
            d.push(&stream[cut..], &mut out);
            let mut data = Vec::new();
            let mut markers = Vec::new();
            for p in out {
                match p {
                    Piece::Data(b) => data.push(b),
                    Piece::Marker(w) => {
                        markers.push(w);
                        data.push(b"|".to_vec());
                    }
                }
            }
            assert_eq!(
                data.concat(),
                b"line1\nhalf|new\n|".to_vec(),
                "cut at {cut}"
            );
            assert_eq!(markers, vec![vec!["O", "5", "0"], vec!["E", "x", "y"]]);
        }
    }

    #[test]
    fn demux_passes_nul_bytes_of_binary_data() {
        let mut d = Demux::new("n");
        let mut out = Vec::new();
        d.push(b"\0\0LS\0", &mut out);
        d.push(b"x\n", &mut out);
        let data: Vec<u8> = out
            .into_iter()
            .flat_map(|p| match p {
                Piece::Data(b) => b,
                Piece::Marker(_) => panic!("no marker"),
            })
            .collect();
        assert_eq!(data, b"\0\0LS\0x\n");
    }
}
