//! Golden pipelines: `testdata/pipelines/<case>/{pipeline.conf,input.log,expected.ndjson}`
//! (and optionally `args`: extra command-line flags).
//! The binary runs each pipeline with `input.log` on stdin; the events printed must be, in
//! order, the expected ones. Each expected object lists the fields that matter (hash values
//! compared exactly), so the host name and the clock-dependent @timestamp of events without
//! a date filter do not make the test machine-dependent.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn run_case(dir: &Path) -> Result<(), String> {
    let input = std::fs::read(dir.join("input.log")).map_err(|e| e.to_string())?;
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Optional extra flags, e.g. `-w 1` for the filters that need one worker (aggregate).
    let extra: Vec<String> = std::fs::read_to_string(dir.join("args"))
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let mut child = Command::new(env!("CARGO_BIN_EXE_logstash-mesos"))
        .args(&extra)
        .arg("-f")
        .arg(dir.join("pipeline.conf"))
        .arg("--path.data")
        .arg(data.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(&input)
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "exit {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let got: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("bad output line {l:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let want: Vec<Value> = std::fs::read_to_string(dir.join("expected.ndjson"))
        .map_err(|e| e.to_string())?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("bad expected line {l:?}: {e}")))
        .collect::<Result<_, _>>()?;
    if got.len() != want.len() {
        return Err(format!(
            "expected {} events, got {}: {got:#?}",
            want.len(),
            got.len()
        ));
    }
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        let (Value::Object(w), Value::Object(g)) = (w, g) else {
            return Err("events must be objects".into());
        };
        for (k, v) in w {
            if g.get(k) != Some(v) {
                return Err(format!(
                    "event {i}: field {k}: expected {v}, got {:?}\nevent: {}",
                    g.get(k),
                    Value::Object(g.clone())
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn golden_pipelines() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/pipelines");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("testdata/pipelines")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    cases.sort();
    assert!(cases.len() >= 3, "golden cases missing");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| run_case(c).err().map(|e| format!("{}: {e}", c.display())))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
