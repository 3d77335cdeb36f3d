//! The page files of one queue directory: `page.<first seq, 20 digits>.lsmq`, each a magic
//! header followed by records (`record.rs`) with consecutive sequence numbers. Pages are
//! append-only; the newest is the head the writer appends to. Synchronous I/O, small and
//! explicit, so the recovery rules can be tested on real files.
//!
//! Recovery ([`recover`]) runs before anything reads or writes:
//! - a torn record at the end of the newest page (a crash mid-write: its events were never
//!   acknowledged to their source) is cut off;
//! - a page with damage (checksum mismatch, impossible length, a gap in the sequence, a
//!   short record before a later page) is moved to `quarantine/` and replaced by its
//!   intact prefix; the records after the damage are reported lost. A bad page never stops
//!   the queue from opening.

use super::record::{self, Frame};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"LSMQPG1\n";

pub fn page_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("page.{first_seq:020}.lsmq"))
}

/// Page files by first sequence number, ascending.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for ent in fs::read_dir(dir)? {
        let ent = ent?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq) = name
            .strip_prefix("page.")
            .and_then(|s| s.strip_suffix(".lsmq"))
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.push((seq, ent.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// What recovery found in one page.
#[derive(Debug)]
pub struct PageInfo {
    pub first_seq: u64,
    /// One past the last intact record's sequence number.
    pub next_seq: u64,
    /// Bytes of the intact part (header included).
    pub len: u64,
}

/// A page set aside: where it went and why.
#[derive(Debug)]
pub struct Quarantined {
    pub page: PathBuf,
    pub moved_to: PathBuf,
    pub reason: String,
    /// The first sequence number that was lost.
    pub lost_from: u64,
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates an empty page (the magic header, synced with its directory entry).
pub fn create(dir: &Path, first_seq: u64) -> io::Result<File> {
    let path = page_path(dir, first_seq);
    let mut f = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)?;
    f.write_all(MAGIC)?;
    f.sync_all()?;
    fsync_dir(dir)?;
    Ok(f)
}

/// Scans a page: its intact prefix, and why it stopped if not at the end.
fn scan(path: &Path, first_seq: u64) -> io::Result<(PageInfo, Option<(&'static str, bool)>)> {
    let bytes = fs::read(path)?;
    let mut info = PageInfo {
        first_seq,
        next_seq: first_seq,
        len: 0,
    };
    if bytes.len() < MAGIC.len() {
        // A page created by a crash before its header was synced: empty.
        return Ok((info, (!bytes.is_empty()).then_some(("short header", true))));
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Ok((info, Some(("not a queue page (bad header)", false))));
    }
    let mut pos = MAGIC.len();
    info.len = pos as u64;
    while pos < bytes.len() {
        match record::frame(&bytes[pos..]) {
            Frame::Record { seq, size } => {
                if seq != info.next_seq {
                    return Ok((info, Some(("sequence gap", false))));
                }
                pos += size;
                info.next_seq += 1;
                info.len = pos as u64;
            }
            // Torn: only harmless at the very end of the newest page.
            Frame::Incomplete => return Ok((info, Some(("torn record", true)))),
            Frame::Damaged(why) => return Ok((info, Some((why, false)))),
        }
    }
    Ok((info, None))
}

/// Intact records in the pages of `dir`, without changing anything (tests and tools
/// watching a queue from outside the process).
pub fn count_records(dir: &Path) -> io::Result<u64> {
    let mut n = 0;
    for (first, path) in list(dir)? {
        let (info, _) = scan(&path, first)?;
        n += info.next_seq - info.first_seq;
    }
    Ok(n)
}

/// Checks every page (see the module docs). Returns the intact pages and what was set aside.
pub fn recover(dir: &Path) -> io::Result<(Vec<PageInfo>, Vec<Quarantined>)> {
    let pages = list(dir)?;
    let mut infos = Vec::new();
    let mut quarantined = Vec::new();
    for (i, (first, path)) in pages.iter().enumerate() {
        let newest = i + 1 == pages.len();
        let (info, problem) = scan(path, *first)?;
        match problem {
            None => infos.push(info),
            Some((_, true)) if newest => {
                // A torn tail: cut it off, the page stays the head.
                let f = OpenOptions::new().write(true).open(path)?;
                if info.len < MAGIC.len() as u64 {
                    drop(f);
                    fs::remove_file(path)?;
                    fsync_dir(dir)?;
                    continue;
                }
                f.set_len(info.len)?;
                f.sync_all()?;
                tracing::warn!(page = %path.display(), at = info.len, "queue: cut a torn record off the newest page (a crash mid-write; its events were never acknowledged to their sources)");
                infos.push(info);
            }
            Some((why, _)) => {
                let qdir = dir.join("quarantine");
                fs::create_dir_all(&qdir)?;
                let name = path
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                let moved_to = qdir.join(name);
                fs::rename(path, &moved_to)?;
                // Keep the intact prefix readable under the page's name.
                if info.next_seq > info.first_seq {
                    let mut src = File::open(&moved_to)?;
                    let mut f = OpenOptions::new().create_new(true).write(true).open(path)?;
                    io::copy(&mut (&mut src).take(info.len), &mut f)?;
                    f.sync_all()?;
                    infos.push(PageInfo { ..info });
                }
                fsync_dir(dir)?;
                tracing::error!(page = %path.display(), quarantined = %moved_to.display(), reason = why, lost_from_seq = info.next_seq, "queue: damaged page set aside; the events after the damage are lost, the rest of the queue continues");
                quarantined.push(Quarantined {
                    page: path.clone(),
                    moved_to,
                    reason: why.to_string(),
                    lost_from: info.next_seq,
                });
            }
        }
    }
    Ok((infos, quarantined))
}

/// The head page, appended to by the writer.
pub struct Head {
    pub file: File,
    pub first_seq: u64,
    pub len: u64,
}

impl Head {
    pub fn open_existing(dir: &Path, info: &PageInfo) -> io::Result<Head> {
        let file = OpenOptions::new()
            .append(true)
            .open(page_path(dir, info.first_seq))?;
        Ok(Head {
            file,
            first_seq: info.first_seq,
            len: info.len,
        })
    }

    pub fn create(dir: &Path, first_seq: u64) -> io::Result<Head> {
        Ok(Head {
            file: create(dir, first_seq)?,
            first_seq,
            len: MAGIC.len() as u64,
        })
    }

    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }
}

/// Reads records in sequence order across pages.
pub struct PageReader {
    dir: PathBuf,
    cur: Option<(u64, io::BufReader<File>)>,
    buf: Vec<u8>,
}

impl PageReader {
    pub fn new(dir: &Path) -> PageReader {
        PageReader {
            dir: dir.to_path_buf(),
            cur: None,
            buf: Vec::new(),
        }
    }

    /// Opens the page holding `seq` (the last page starting at or before it) and skips to
    /// it. `pages` are the first sequence numbers of the pages, ascending.
    fn open_at(&mut self, seq: u64, pages: &[u64]) -> io::Result<()> {
        let Some(&first) = pages.iter().rev().find(|&&f| f <= seq) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no queue page holds record {seq}"),
            ));
        };
        let mut r = io::BufReader::with_capacity(1 << 20, File::open(page_path(&self.dir, first))?);
        r.seek(SeekFrom::Start(MAGIC.len() as u64))?;
        self.cur = Some((first, r));
        let mut s = first;
        while s < seq {
            self.read_raw()?;
            s += 1;
        }
        Ok(())
    }

    fn read_raw(&mut self) -> io::Result<u64> {
        let Some((_, r)) = self.cur.as_mut() else {
            return Err(io::Error::other("no page open"));
        };
        self.buf.resize(record::HEADER, 0);
        r.read_exact(&mut self.buf)?;
        let len = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > record::MAX_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "impossible record length",
            ));
        }
        self.buf.resize(record::HEADER + len, 0);
        r.read_exact(&mut self.buf[record::HEADER..])?;
        match record::frame(&self.buf) {
            Frame::Record { seq, .. } => Ok(seq),
            Frame::Incomplete => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short record")),
            Frame::Damaged(why) => Err(io::Error::new(io::ErrorKind::InvalidData, why)),
        }
    }

    /// Reads record `seq`, which the writer has completed. Records are read in order;
    /// asking for a later one than the next skips (re)opening as needed. Returns the
    /// record's bytes.
    pub fn read(&mut self, seq: u64, expected_next: &mut u64, pages: &[u64]) -> io::Result<&[u8]> {
        // A new page starts at `seq`, or we're not positioned at `seq`: (re)open.
        let starts_page = pages.binary_search(&seq).is_ok();
        if self.cur.is_none()
            || *expected_next != seq
            || (starts_page && self.cur.as_ref().map(|c| c.0) != Some(seq))
        {
            self.open_at(seq, pages)?;
        }
        let got = self.read_raw()?;
        if got != seq {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected record {seq}, found {got}"),
            ));
        }
        *expected_next = seq + 1;
        Ok(&self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::Event;

    fn write_page(dir: &Path, first: u64, n: u64) -> Vec<u8> {
        let mut h = Head::create(dir, first).unwrap();
        let mut buf = Vec::new();
        for s in first..first + n {
            record::encode(s, &Event::from_message(format!("line {s}")), &mut buf);
        }
        h.append(&buf).unwrap();
        buf
    }

    #[test]
    fn a_torn_tail_is_cut_and_the_page_stays() {
        let d = tempfile::tempdir().unwrap();
        write_page(d.path(), 0, 3);
        let p = page_path(d.path(), 0);
        let full = fs::metadata(&p).unwrap().len();
        let f = OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(full - 5).unwrap();
        let (infos, q) = recover(d.path()).unwrap();
        assert!(q.is_empty());
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].next_seq, 2);
        assert_eq!(fs::metadata(&p).unwrap().len(), infos[0].len);
    }

    #[test]
    fn a_damaged_page_is_quarantined_keeping_its_intact_prefix() {
        let d = tempfile::tempdir().unwrap();
        write_page(d.path(), 0, 4);
        write_page(d.path(), 4, 2);
        let p = page_path(d.path(), 0);
        let mut bytes = fs::read(&p).unwrap();
        // Flip a byte inside the third record's payload.
        let one = (bytes.len() - MAGIC.len()) / 4;
        let at = MAGIC.len() + 2 * one + record::HEADER + 3;
        bytes[at] ^= 0xff;
        fs::write(&p, &bytes).unwrap();
        let (infos, q) = recover(d.path()).unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].lost_from, 2);
        assert!(q[0].moved_to.exists());
        assert_eq!(
            infos
                .iter()
                .map(|i| (i.first_seq, i.next_seq))
                .collect::<Vec<_>>(),
            vec![(0, 2), (4, 6)]
        );
        // The intact prefix is still readable.
        let mut r = PageReader::new(d.path());
        let mut next = 0;
        for s in 0..2 {
            let rec = r.read(s, &mut next, &[0, 4]).unwrap();
            let e = record::decode(rec).unwrap();
            assert_eq!(
                e.get_top("message").unwrap().to_logstash_string(),
                format!("line {s}")
            );
        }
        let rec = r.read(4, &mut next, &[0, 4]).unwrap().to_vec();
        assert_eq!(
            record::decode(&rec)
                .unwrap()
                .get_top("message")
                .unwrap()
                .to_logstash_string(),
            "line 4"
        );
    }

    #[test]
    fn a_foreign_file_never_blocks_opening() {
        let d = tempfile::tempdir().unwrap();
        fs::write(page_path(d.path(), 0), b"garbage garbage garbage").unwrap();
        write_page(d.path(), 10, 1);
        let (infos, q) = recover(d.path()).unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].first_seq, 10);
    }
}
