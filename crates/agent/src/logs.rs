//! stdout/stderr through the logs API: follow + timestamps, resumed with `since` from the
//! last acknowledged timestamp, lines re-seen after a resume skipped by their nanosecond
//! timestamp, Docker's 16 KB partial messages joined back into one line.

use crate::checkpoint::Position;
use crate::stream::{Record, StreamCtx};
use bollard::query_parameters::LogsOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use logstash_mesos_core::Timestamp;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Splits Docker's `<RFC3339Nano> <payload>` frame.
pub fn split_timestamp(frame: &[u8]) -> Option<(Timestamp, &[u8])> {
    let sp = frame.iter().position(|b| *b == b' ')?;
    let ts = std::str::from_utf8(&frame[..sp]).ok()?;
    let ts = Timestamp::parse_iso8601(ts)?;
    Some((ts, &frame[sp + 1..]))
}

/// Joins partial frames (no trailing newline) into lines; pure so it can be tested.
#[derive(Default)]
pub struct Joiner {
    buf: Vec<u8>,
    first_ts: Option<Timestamp>,
}

impl Joiner {
    /// Returns a complete line (first frame's timestamp, last frame's timestamp, bytes).
    pub fn push(
        &mut self,
        ts: Timestamp,
        payload: &[u8],
        max: usize,
    ) -> Option<(Timestamp, Timestamp, Vec<u8>, bool)> {
        if self.first_ts.is_none() {
            self.first_ts = Some(ts);
        }
        let (complete, body) = match payload.strip_suffix(b"\n") {
            Some(b) => (true, b),
            None => (false, payload),
        };
        self.buf.extend_from_slice(body);
        let over = self.buf.len() >= max;
        if complete || over {
            let first = self.first_ts.take().unwrap_or(ts);
            let mut line = std::mem::take(&mut self.buf);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Some((first, ts, line, over && !complete));
        }
        None
    }
}

/// Follows one of stdout/stderr until cancelled or the container stops.
pub async fn run(
    docker: Docker,
    mut sc: StreamCtx,
    stderr: bool,
    max_line: usize,
    cancel: CancellationToken,
) {
    let cid = sc.meta.id.clone();
    let key = sc.key.clone();
    let mut last: Option<Timestamp> = match crate::input::checkpoint_of(&sc) {
        Some(Position::Logs { timestamp }) => Timestamp::parse_iso8601(&timestamp),
        _ => None,
    };
    sc.status.stream(&cid, &key, |s| {
        s.kind = key.clone();
        s.state = "running".into();
    });
    let mut backoff = StreamCtx::reader_backoff();
    loop {
        // `since` has whole seconds: resume at the last second and skip what was seen.
        let since = last.map(|t| t.unix_seconds()).unwrap_or(0);
        let opts = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(!stderr)
            .stderr(stderr)
            .timestamps(true)
            .since(i32::try_from(since).unwrap_or(0))
            .build();
        let mut stream = docker.logs(&cid, Some(opts));
        let mut joiner = Joiner::default();
        let mut failed = None;
        loop {
            let item = tokio::select! {
                _ = cancel.cancelled() => break,
                i = tokio::time::timeout(Duration::from_secs(2), stream.next()) => match i {
                    Err(_) => { if sc.flush().await.is_err() { return; } continue; }
                    Ok(None) => break,
                    Ok(Some(i)) => i,
                }
            };
            let frame = match item {
                Ok(f) => f.into_bytes(),
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            };
            let Some((ts, payload)) = split_timestamp(&frame) else {
                failed = Some(format!(
                    "frame without timestamp: {:?}",
                    String::from_utf8_lossy(&frame[..frame.len().min(80)])
                ));
                continue;
            };
            let Some((_first, end_ts, line, truncated)) = joiner.push(ts, payload, max_line) else {
                continue;
            };
            if last.is_some_and(|l| end_ts <= l) {
                sc.status.stream(&cid, &key, |s| s.duplicates += 1);
                continue;
            }
            last = Some(end_ts);
            let stamp = end_ts.0.to_string();
            sc.status
                .stream(&cid, &key, |s| s.read_position = stamp.clone());
            let rec = Record {
                message: line,
                offset: None,
                id_suffix: end_ts.unix_nanos().to_string(),
                after: Position::Logs { timestamp: stamp },
                truncated,
                lines: 1,
                tags: Vec::new(),
            };
            if sc.line(rec).await.is_err() {
                return;
            }
        }
        let _ = sc.flush().await;
        if cancel.is_cancelled() {
            break;
        }
        if let Some(e) = failed {
            sc.status
                .stream_error(&cid, &key, format!("logs stream: {e}"));
        }
        if !sc.retry_after_end(&docker, &cancel, &mut backoff).await {
            break;
        }
    }
    sc.mark_stopped();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_iso8601(s).unwrap()
    }

    #[test]
    fn splits_rfc3339nano_prefix() {
        let (t, p) = split_timestamp(b"2024-05-01T10:00:00.123456789Z hello\n").unwrap();
        assert_eq!(t.subsec_nanos(), 123_456_789);
        assert_eq!(p, b"hello\n");
        assert!(split_timestamp(b"garbage").is_none());
    }

    #[test]
    fn joins_16k_partials() {
        let mut j = Joiner::default();
        let a = vec![b'a'; 16384];
        assert!(j.push(ts("2024-05-01T10:00:00.1Z"), &a, 1 << 20).is_none());
        let (first, last, line, cut) = j
            .push(ts("2024-05-01T10:00:00.2Z"), b"bc\n", 1 << 20)
            .unwrap();
        assert_eq!(line.len(), 16386);
        assert!(!cut);
        assert!(first < last);
    }
}
