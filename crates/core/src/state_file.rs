//! Durable state files: versioned JSON written atomically.
//!
//! Every piece of durable state (the agent's checkpoints, the file input's sincedb, the
//! dead letter queue input's position, the scheduler's state) is one JSON document with a
//! top-level `version`, written so that a crash at any moment leaves either the old or the
//! new file:
//!
//! 1. write a temp file in the same directory (`.<name>.<random>.tmp`, so a reader never
//!    mistakes it for the state and two writers never share one),
//! 2. fsync it, 3. rename it over the file, 4. fsync the directory (the rename itself).
//!
//! Reading tells apart a missing file (`Ok(None)`), an unreadable one ([`StateFileError::Io`]),
//! one that is not the expected JSON ([`StateFileError::Corrupt`]) and one written by a
//! different format version ([`StateFileError::Version`]): callers decide what each means
//! (the scheduler stops; a checkpoint sets the file aside with [`set_aside`] and replays).
//! The version may be written as a number (`1`) or a string (`"1"`, serde's internally
//! tagged enums); the rest of the document is the caller's type.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("{path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is corrupt: {source}", path = path.display())]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} has version {found}, this build reads version {expected}", path = path.display())]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
}

/// Why a document could not be decoded (no path: the bytes may come from ZooKeeper).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("version {found}, this build reads version {expected}")]
    Version { found: u32, expected: u32 },
}

impl DecodeError {
    fn at(self, path: &Path) -> StateFileError {
        let path = path.to_path_buf();
        match self {
            DecodeError::Corrupt(source) => StateFileError::Corrupt { path, source },
            DecodeError::Version { found, expected } => StateFileError::Version {
                path,
                found,
                expected,
            },
        }
    }
}

/// Decodes a document whose top-level `version` must be `expected`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], expected: u32) -> Result<T, DecodeError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        Num(u32),
        Str(String),
    }
    #[derive(Deserialize)]
    struct VersionOnly {
        version: V,
    }
    let v: VersionOnly = serde_json::from_slice(bytes)?;
    let found = match v.version {
        V::Num(n) => n,
        V::Str(s) => s.parse().map_err(|_| {
            <serde_json::Error as serde::de::Error>::custom(format!(
                "version {s:?} is not a number"
            ))
        })?,
    };
    if found != expected {
        return Err(DecodeError::Version { found, expected });
    }
    Ok(serde_json::from_slice(bytes)?)
}

/// Reads the document at `path`: `Ok(None)` when there is no file.
pub fn load<T: DeserializeOwned>(path: &Path, expected: u32) -> Result<Option<T>, StateFileError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateFileError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    decode(&bytes, expected).map(Some).map_err(|e| e.at(path))
}

/// Serializes `doc` (which carries its own `version`) as pretty JSON and writes it with
/// [`write_atomic`].
pub fn save<T: Serialize>(path: &Path, doc: &T) -> Result<(), StateFileError> {
    // Serializing plain data cannot fail; a map with non-string keys would.
    serde_json::to_vec_pretty(doc)
        .map_err(std::io::Error::other)
        .and_then(|bytes| write_atomic(path, &bytes))
        .map_err(|source| StateFileError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Replaces `path` with `data` atomically: temp file in the same directory, fsync,
/// rename, fsync of the directory. Creates the directory if needed.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename is durable only once the directory entry is.
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all()?;
    }
    Ok(())
}

/// Moves a file that could not be read out of the way (`<name>.corrupt`), so it can be
/// inspected and the next save does not destroy the evidence. Returns the new path.
pub fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".corrupt");
    let aside = path.with_file_name(name);
    std::fs::rename(path, &aside)?;
    Ok(aside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Doc {
        version: u32,
        n: u64,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "version")]
    enum Tagged {
        #[serde(rename = "1")]
        V1 { n: u64 },
    }

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("sub/state.json");
        assert!(load::<Doc>(&p, 1).expect("missing is fine").is_none());
        save(&p, &Doc { version: 1, n: 7 }).expect("save");
        assert_eq!(
            load::<Doc>(&p, 1).expect("load"),
            Some(Doc { version: 1, n: 7 })
        );
        // String versions (internally tagged enums) are checked the same way.
        let t = dir.path().join("tagged.json");
        save(&t, &Tagged::V1 { n: 3 }).expect("save");
        assert!(std::fs::read_to_string(&t)
            .expect("read")
            .contains("\"version\": \"1\""));
        assert_eq!(
            load::<Tagged>(&t, 1).expect("load"),
            Some(Tagged::V1 { n: 3 })
        );
        // Nothing but the state file is left in the directory.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }

    #[test]
    fn a_leftover_temp_file_is_ignored_and_does_not_block_saves() {
        // A crash between writing the temp file and the rename leaves it behind.
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("state.json");
        save(&p, &Doc { version: 1, n: 1 }).expect("save");
        let leftover = dir.path().join(".state.json.abc123.tmp");
        std::fs::write(&leftover, b"{\"version\":1,\"n\":").expect("write");
        assert_eq!(
            load::<Doc>(&p, 1).expect("load"),
            Some(Doc { version: 1, n: 1 }),
            "the old file is intact"
        );
        save(&p, &Doc { version: 1, n: 2 }).expect("save");
        assert_eq!(
            load::<Doc>(&p, 1).expect("load"),
            Some(Doc { version: 1, n: 2 })
        );
    }

    #[test]
    fn corrupt_files_are_reported_and_can_be_set_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("ck.json");
        for bad in [
            &b"{\"version\":1,\"n\":"[..],
            b"",
            b"1234 5 6\n",
            b"{\"n\":1}",
        ] {
            std::fs::write(&p, bad).expect("write");
            let err = load::<Doc>(&p, 1).expect_err("corrupt");
            assert!(matches!(err, StateFileError::Corrupt { .. }), "{err}");
            assert!(err.to_string().contains("ck.json"), "{err}");
        }
        std::fs::write(&p, b"{\"version\":\"one\",\"n\":1}").expect("write");
        assert!(matches!(
            load::<Doc>(&p, 1),
            Err(StateFileError::Corrupt { .. })
        ));
        let aside = set_aside(&p).expect("rename");
        assert_eq!(aside, dir.path().join("ck.json.corrupt"));
        assert!(aside.exists() && !p.exists());
    }

    #[test]
    fn another_version_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("state.json");
        std::fs::write(&p, b"{\"version\":99,\"n\":1}").expect("write");
        let err = load::<Doc>(&p, 1).expect_err("future version");
        assert!(
            matches!(
                err,
                StateFileError::Version {
                    found: 99,
                    expected: 1,
                    ..
                }
            ),
            "{err}"
        );
        std::fs::write(&p, b"{\"version\":\"2\",\"n\":1}").expect("write");
        assert!(matches!(
            load::<Tagged>(&p, 1),
            Err(StateFileError::Version { found: 2, .. })
        ));
    }

    #[test]
    fn unreadable_path_is_an_io_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory where the file should be.
        let err = load::<Doc>(dir.path(), 1).expect_err("a directory");
        assert!(matches!(err, StateFileError::Io { .. }), "{err}");
        assert!(save(dir.path(), &Doc { version: 1, n: 1 }).is_err());
    }
}
