//! Tailing a file inside a container through `docker exec`.
//!
//! One exec per file runs [`SCRIPT`] (busybox/POSIX `sh`, `stat`, `tail`, `od`), so the
//! reading costs the container's CPU, not the agent's. The script holds the file open on
//! fd 3 and polls: new bytes are copied with `tail -c +1 <&3`; when the path points to a
//! new inode (rename rotation) it first drains the old descriptor, then switches; when the
//! file shrank under the read position (copytruncate) it reads the missed part from the
//! rotated copy (found by its first bytes) and restarts at 0. Every switch is announced by
//! an in-band marker `\0LSM<nonce> O <inode> <offset>` so the agent knows which bytes
//! belong to which file and checkpoints exact offsets. The first stdout line is the
//! script's pid, used to kill it through another exec (no orphaned readers).

use crate::checkpoint::Position;
use crate::lines::{Demux, Piece};
use crate::stream::{Record, StreamCtx};
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Bytes of a file's start kept as its fingerprint (hex in checkpoints).
pub const FINGERPRINT_BYTES: usize = 64;

/// Positional parameters: $0 tag, $1 nonce, $2 path, $3 offset, $4 inode, $5 fingerprint
/// (hex), $6 poll seconds.
pub const SCRIPT: &str = r#"
N=$1; F=$2; OFF=$3; INO=$4; FP=$5; P=$6
echo "$$"
mark() { printf '\0LSM%s %s\n' "$N" "$*"; }
hexfp() { head -c "$2" "$1" 2>/dev/null | od -An -v -tx1 | tr -d ' \n'; }
command -v tail >/dev/null 2>&1 || { mark E tail-not-found; echo "tail: not found in the container" >&2; exit 127; }
said=
while ! { [ -f "$F" ] && [ -r "$F" ]; }; do
  if [ -e "$F" ] && [ -z "$said" ]; then mark E not-a-readable-file; said=1; fi
  sleep "$P"
done
set -- $(stat -L -c '%i %s' "$F")
cur=$1; size=$2; start=0
if [ "$OFF" -gt 0 ]; then
  if [ "$cur" = "$INO" ] && [ "$size" -ge "$OFF" ] && [ "$(hexfp "$F" $((${#FP} / 2)))" = "$FP" ]; then
    start=$OFF
  else
    for c in "$F"?*; do
      [ -f "$c" ] || continue
      set -- $(stat -L -c '%i %s' "$c")
      if [ "$(hexfp "$c" $((${#FP} / 2)))" = "$FP" ]; then
        if [ "$2" -gt "$OFF" ]; then mark O "$INO" "$OFF"; tail -c +$((OFF + 1)) "$c"; fi
        break
      fi
    done
  fi
fi
exec 3<"$F"
[ "$start" -gt 0 ] && dd bs=1 skip="$start" count=0 <&3 2>/dev/null
mark O "$cur" "$start"
myfp=
while :; do
  read -r _ pos < /proc/$$/fdinfo/3
  set -- $(stat -L -c '%i %s' "$F" 2>/dev/null)
  if [ "$1" != "$cur" ]; then
    tail -c +1 <&3
    if [ -n "$1" ] && [ -f "$F" ]; then exec 3<"$F"; cur=$1; myfp=; mark O "$cur" 0; continue; fi
  elif [ "$2" -lt "$pos" ]; then
    for c in "$F"?*; do
      [ -f "$c" ] || continue
      set -- $(stat -L -c '%s' "$c")
      if [ "$1" -gt "$pos" ] && [ -n "$myfp" ] && [ "$(hexfp "$c" $((${#myfp} / 2)))" = "$myfp" ]; then
        tail -c +$((pos + 1)) "$c"; break
      fi
    done
    exec 3<"$F"; myfp=; mark O "$cur" 0; continue
  elif [ "$2" -gt "$pos" ]; then
    tail -c +1 <&3
    [ ${#myfp} -lt 128 ] && myfp=$(hexfp "$F" 64)
  fi
  sleep "$P"
done
"#;

/// Kills this input's readers left behind in a container by an agent that died.
pub const CLEANUP: &str = r#"
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  [ "$p" = "$$" ] && continue
  case "$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)" in
    "sh -c "*" $1 "*) kill "$p" 2>/dev/null ;;
  esac
done
"#;

/// A unique-enough token: the marker must not collide with log contents.
pub fn nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let c = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut x =
        (t as u64) ^ (u64::from(std::process::id()) << 32) ^ c.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64 to spread the bits.
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{:016x}{:04x}", x ^ (x >> 31), c & 0xffff)
}

/// Runs a command in the container and returns its stdout (short helper commands).
pub async fn exec_output(
    docker: &Docker,
    container: &str,
    cmd: Vec<String>,
) -> anyhow::Result<(String, String)> {
    let ex = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let mut out = String::new();
    let mut err = String::new();
    if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&ex.id, None).await? {
        while let Some(chunk) = output.next().await {
            match chunk? {
                bollard::container::LogOutput::StdErr { message } => {
                    err.push_str(&String::from_utf8_lossy(&message))
                }
                other => out.push_str(&String::from_utf8_lossy(&other.into_bytes())),
            }
        }
    }
    Ok((out, err))
}

/// Kills the readers a previous agent run (same input id `tag`) left in the container.
pub async fn cleanup(docker: &Docker, container: &str, tag: &str) {
    let cmd = vec![
        "sh".into(),
        "-c".into(),
        CLEANUP.into(),
        "lsm-cleanup".into(),
        tag.into(),
    ];
    if let Err(e) = exec_output(docker, container, cmd).await {
        tracing::debug!(container, "cleanup of old readers failed: {e}");
    }
}

/// Expands path globs inside the container; literal paths pass through.
pub async fn expand(
    docker: &Docker,
    container: &str,
    patterns: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = patterns
        .iter()
        .filter(|p| !p.contains(['*', '?', '[']))
        .cloned()
        .collect();
    let globs: Vec<String> = patterns
        .iter()
        .filter(|p| p.contains(['*', '?', '[']))
        .cloned()
        .collect();
    if !globs.is_empty() {
        let script = "IFS='\n'; for p in \"$@\"; do for f in $p; do [ -f \"$f\" ] && echo \"$f\"; done; done";
        let mut cmd = vec![
            "sh".to_string(),
            "-c".into(),
            script.into(),
            "lsm-glob".into(),
        ];
        cmd.extend(globs);
        let (stdout, _) = exec_output(docker, container, cmd).await?;
        // Rotated siblings (`a.log.1`) match `*.log*`-style globs; skipping nothing here
        // keeps user intent: they asked for those files.
        out.extend(stdout.lines().map(str::to_string));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Where a file stream stands in memory (ahead of the checkpoint).
#[derive(Clone, Debug, Default)]
struct Cursor {
    inode: u64,
    fingerprint: String,
    offset: u64,
}

/// Tails one file until cancelled or the container stops.
pub async fn run(
    docker: Docker,
    mut sc: StreamCtx,
    tag: String,
    poll: Duration,
    max_line: usize,
    cancel: CancellationToken,
) {
    let path = sc.path.clone().unwrap_or_default();
    let cid = sc.meta.id.clone();
    let key = sc.key.clone();
    let mut cursor = Cursor::default();
    if let Some(Position::File {
        inode,
        fingerprint,
        offset,
    }) = crate::input::checkpoint_of(&sc)
    {
        cursor = Cursor {
            inode,
            fingerprint,
            offset,
        };
    }
    sc.status.stream(&cid, &key, |s| {
        s.kind = "file".into();
        s.path = Some(path.clone());
        s.state = "running".into();
    });
    let mut backoff = StreamCtx::reader_backoff();
    loop {
        let nonce = nonce();
        let cmd = vec![
            "sh".to_string(),
            "-c".into(),
            SCRIPT.into(),
            tag.clone(),
            nonce.clone(),
            path.clone(),
            cursor.offset.to_string(),
            cursor.inode.to_string(),
            cursor.fingerprint.clone(),
            format!("{}", poll.as_secs_f64()),
        ];
        let result = tail_once(
            &docker,
            &mut sc,
            &cmd,
            &nonce,
            &mut cursor,
            max_line,
            &cancel,
        )
        .await;
        let _ = sc.flush().await;
        if cancel.is_cancelled() {
            break;
        }
        match result {
            Ok(()) => {}
            Err(e) => {
                let _ = sc
                    .emit_error(&format!(
                        "reading {path} in container {}: {e}",
                        sc.meta.name
                    ))
                    .await;
            }
        }
        // The exec ended: the container stopped, or the reader failed. Retry while the
        // container runs; the input stops this task when it is gone.
        if !sc.retry_after_end(&docker, &cancel, &mut backoff).await {
            break;
        }
    }
    sc.mark_stopped();
}

/// Kills the reader, checking first that the pid is still ours (after a container
/// restart the number may belong to another process).
async fn kill(docker: &Docker, container: &str, pid: u32, nonce: &str) {
    let script = r#"grep -q "$2" "/proc/$1/cmdline" 2>/dev/null && kill "$1""#;
    let cmd = vec![
        "sh".to_string(),
        "-c".into(),
        script.into(),
        "lsm-kill".into(),
        pid.to_string(),
        nonce.to_string(),
    ];
    if let Err(e) = exec_output(docker, container, cmd).await {
        tracing::debug!(container, pid, "killing reader: {e}");
    }
}

async fn tail_once(
    docker: &Docker,
    sc: &mut StreamCtx,
    cmd: &[String],
    nonce: &str,
    cursor: &mut Cursor,
    max_line: usize,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let cid = sc.meta.id.clone();
    let ex = docker
        .create_exec(
            &cid,
            CreateExecOptions {
                cmd: Some(cmd.to_vec()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let StartExecResults::Attached { mut output, .. } = docker.start_exec(&ex.id, None).await?
    else {
        anyhow::bail!("exec started detached");
    };
    let mut pid: Option<u32> = None;
    let mut pid_line = Vec::new();
    let mut demux = Demux::new(nonce);
    let mut splitter = crate::lines::splitter(cursor.offset, max_line);
    let mut pieces = Vec::new();
    let mut lines = Vec::new();
    let mut stderr = String::new();
    // The file's first bytes as they stream by (for its fingerprint).
    let mut head: Vec<u8> = Vec::new();
    let mut head_from_zero = false;
    let idle = Duration::from_secs(2);
    loop {
        let chunk = tokio::select! {
            _ = cancel.cancelled() => {
                // Cancelled before the pid arrived: wait for it so the reader is not orphaned.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
                while pid.is_none() {
                    match tokio::time::timeout_at(deadline, output.next()).await {
                        Ok(Some(Ok(bollard::container::LogOutput::StdOut { message }))) => {
                            pid_line.extend_from_slice(&message);
                            if let Some(i) = pid_line.iter().position(|b| *b == b'\n') {
                                pid = String::from_utf8_lossy(&pid_line[..i]).trim().parse().ok();
                                break;
                            }
                        }
                        Ok(Some(Ok(_))) => {}
                        _ => break,
                    }
                }
                if let Some(p) = pid { kill(docker, &cid, p, nonce).await; }
                return Ok(());
            }
            c = tokio::time::timeout(idle, output.next()) => match c {
                Err(_) => { sc.flush().await?; continue; }
                Ok(None) => break,
                Ok(Some(c)) => c?,
            }
        };
        let data = match chunk {
            bollard::container::LogOutput::StdErr { message } => {
                stderr.push_str(&String::from_utf8_lossy(&message));
                while let Some(i) = stderr.find('\n') {
                    let l: String = stderr.drain(..=i).collect();
                    sc.emit_error(&format!(
                        "{}: {}",
                        cmd.get(5).map(String::as_str).unwrap_or(""),
                        l.trim_end()
                    ))
                    .await?;
                }
                continue;
            }
            other => other.into_bytes(),
        };
        let mut data = &data[..];
        if pid.is_none() {
            match data.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    pid_line.extend_from_slice(&data[..i]);
                    pid = String::from_utf8_lossy(&pid_line).trim().parse().ok();
                    if pid.is_none() {
                        anyhow::bail!(
                            "unexpected reader output {:?}",
                            String::from_utf8_lossy(&pid_line)
                        );
                    }
                    data = &data[i + 1..];
                }
                None => {
                    pid_line.extend_from_slice(data);
                    continue;
                }
            }
        }
        demux.push(data, &mut pieces);
        for piece in pieces.drain(..) {
            match piece {
                Piece::Marker(words) => match words.first().map(String::as_str) {
                    Some("O") => {
                        splitter.flush(&mut lines);
                        emit_lines(sc, cursor, &mut lines).await?;
                        sc.flush().await?;
                        let ino = words.get(1).and_then(|w| w.parse().ok()).unwrap_or(0);
                        let off: u64 = words.get(2).and_then(|w| w.parse().ok()).unwrap_or(0);
                        // off > 0 only when resuming the checkpointed file (or its
                        // rotated remainder): its fingerprint is the checkpointed one.
                        if off == 0 {
                            cursor.fingerprint.clear();
                        }
                        cursor.inode = ino;
                        cursor.offset = off;
                        head.clear();
                        head_from_zero = off == 0;
                        splitter.reset(off);
                    }
                    Some("E") => {
                        let what = words[1..].join(" ").replace('-', " ");
                        sc.emit_error(&format!("{}: {what}", sc.path.as_deref().unwrap_or("")))
                            .await?;
                    }
                    _ => {}
                },
                Piece::Data(bytes) => {
                    if head_from_zero && head.len() < FINGERPRINT_BYTES {
                        let take = (FINGERPRINT_BYTES - head.len()).min(bytes.len());
                        head.extend_from_slice(&bytes[..take]);
                    }
                    splitter.push(&bytes, &mut lines);
                    if head_from_zero {
                        let fp: String = head.iter().map(|b| format!("{b:02x}")).collect();
                        if fp.len() > cursor.fingerprint.len() {
                            cursor.fingerprint = fp;
                        }
                    }
                    emit_lines(sc, cursor, &mut lines).await?;
                }
            }
        }
    }
    let info = docker.inspect_exec(&ex.id).await.ok();
    match info.and_then(|i| i.exit_code) {
        Some(0) | None => Ok(()),
        Some(code) => anyhow::bail!("reader exited with code {code}"),
    }
}

async fn emit_lines(
    sc: &mut StreamCtx,
    cursor: &mut Cursor,
    lines: &mut Vec<crate::lines::Line>,
) -> anyhow::Result<()> {
    for l in lines.drain(..) {
        cursor.offset = l.end;
        let fp16: String = cursor.fingerprint.chars().take(16).collect();
        let rec = Record {
            message: l.bytes,
            offset: Some(l.start),
            id_suffix: format!("{}-{}/{}", cursor.inode, fp16, l.start),
            after: Position::File {
                inode: cursor.inode,
                fingerprint: cursor.fingerprint.clone(),
                offset: l.end,
            },
            truncated: l.truncated,
            lines: 1,
            tags: Vec::new(),
        };
        let read = l.end;
        sc.status
            .stream(&sc.meta.id, &sc.key, |s| s.read_position = read.to_string());
        sc.line(rec).await?;
    }
    Ok(())
}
