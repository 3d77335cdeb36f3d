//! Reads the dead letter queue in order from a position, following the writer.

use super::{segments, Entry};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Where reading continues: a segment and a byte offset in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

struct Current {
    seq: u64,
    reader: BufReader<File>,
    offset: u64,
}

/// A reader of one queue directory.
pub struct DlqReader {
    dir: PathBuf,
    cur: Option<Current>,
    /// Where to start when nothing is open yet.
    start: Position,
    line: Vec<u8>,
    /// Lines that were not valid entries (skipped).
    pub corrupt: u64,
}

impl DlqReader {
    pub fn new(dir: &Path, start: Position) -> DlqReader {
        DlqReader {
            dir: dir.to_path_buf(),
            cur: None,
            start,
            line: Vec::new(),
            corrupt: 0,
        }
    }

    /// The position after the last entry returned.
    pub fn position(&self) -> Position {
        match &self.cur {
            Some(c) => Position {
                segment: c.seq,
                offset: c.offset,
            },
            None => self.start,
        }
    }

    /// The next entry and the position just after it, or `None` when there is nothing
    /// more for now (call again later: the writer may add more).
    pub fn next_entry(&mut self) -> io::Result<Option<(Entry, Position)>> {
        loop {
            if self.cur.is_none() && !self.open_from(self.start)? {
                return Ok(None);
            }
            let Some(c) = self.cur.as_mut() else {
                return Ok(None);
            };
            self.line.clear();
            let n = c.reader.read_until(b'\n', &mut self.line)?;
            if n > 0 && self.line.last() == Some(&b'\n') {
                c.offset += n as u64;
                let pos = Position {
                    segment: c.seq,
                    offset: c.offset,
                };
                match serde_json::from_slice::<Entry>(&self.line) {
                    Ok(e) => return Ok(Some((e, pos))),
                    Err(e) => {
                        self.corrupt += 1;
                        tracing::warn!(segment = c.seq, offset = c.offset, error = %e, "skipping unreadable dead letter queue entry");
                        continue;
                    }
                }
            }
            // End of what is written (or a partial line): go back to the line start.
            if n > 0 {
                c.reader.seek(SeekFrom::Start(c.offset))?;
            }
            // A later segment means this one is complete (or was torn by a crash).
            let later = segments(&self.dir)?.into_iter().find(|(s, _)| *s > c.seq);
            match later {
                Some((seq, _)) => {
                    self.start = Position {
                        segment: seq,
                        offset: 0,
                    };
                    self.cur = None;
                }
                None => return Ok(None),
            }
        }
    }

    /// Opens the first segment at or after `pos`; false when there is none.
    fn open_from(&mut self, pos: Position) -> io::Result<bool> {
        for (seq, path) in segments(&self.dir)? {
            if seq < pos.segment {
                continue;
            }
            let offset = if seq == pos.segment { pos.offset } else { 0 };
            let mut f = match File::open(&path) {
                Ok(f) => f,
                // Renamed from .tmp to .log meanwhile: try the sealed name.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    match File::open(self.dir.join(format!("{seq}.log"))) {
                        Ok(f) => f,
                        Err(_) => continue,
                    }
                }
                Err(e) => return Err(e),
            };
            f.seek(SeekFrom::Start(offset))?;
            self.cur = Some(Current {
                seq,
                reader: BufReader::new(f),
                offset,
            });
            return Ok(true);
        }
        Ok(false)
    }
}
