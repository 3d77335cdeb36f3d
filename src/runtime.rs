//! Runtime bootstrap: every command (`run`, `check`, `agent`, `scheduler`) starts its tokio
//! runtime here, so they all get the same settings and the same failure report.

use std::future::Future;

/// How many worker threads the runtime gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// The calling thread only (`check`: plugin builders may need a runtime, nothing runs).
    One,
    /// One worker per core (tokio's default): pipelines, the agent, the scheduler.
    PerCore,
}

/// Runs `fut` to completion on a new runtime with every driver (I/O, time) enabled.
/// `None` when the runtime cannot start; the reason is already printed on stderr.
pub fn block_on<F: Future>(threads: Threads, fut: F) -> Option<F::Output> {
    let mut builder = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread(),
        Threads::PerCore => tokio::runtime::Builder::new_multi_thread(),
    };
    match builder.enable_all().build() {
        Ok(rt) => Some(rt.block_on(fut)),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            None
        }
    }
}

/// The exit code of a command's result: its own code, or 1 with the error (and its causes)
/// on stderr; 1 too when the runtime could not start.
pub fn exit_code(result: Option<anyhow::Result<i32>>) -> i32 {
    match result {
        None => 1,
        Some(Ok(code)) => code,
        Some(Err(e)) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_flavours_run_async_code_with_timers() {
        for threads in [Threads::One, Threads::PerCore] {
            let got = block_on(threads, async {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                tokio::task::spawn(async { 41 + 1 }).await.ok()
            });
            assert_eq!(got, Some(Some(42)), "{threads:?}");
        }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(Some(Ok(3))), 3);
        assert_eq!(exit_code(Some(Err(anyhow::anyhow!("boom")))), 1);
        assert_eq!(exit_code(None), 1);
    }
}
