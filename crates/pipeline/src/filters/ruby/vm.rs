//! The Ruby thread: the one thread of the process that owns the CRuby VM.
//!
//! CRuby may only be called from the thread that initialised it (or from threads Ruby
//! created), and only one thread runs Ruby at a time anyway (the GVL). So the VM lives on
//! a dedicated thread, started the first time a ruby filter is built ([`vm`]); filter
//! workers hand it [`Job`]s through a channel and wait for the answer. A job carries the
//! whole event (moved, not copied); Ruby sees it wrapped as a `LogStash::Event`, and the
//! event (changed, cancelled, plus any new events) comes back in a [`Reply`].
//!
//! The hand-off is the cost of this design (see docs/design/ruby.md): two thread wake-ups
//! per event. Both sides spin briefly before sleeping, so a busy pipeline pays a cache
//! line transfer rather than a futex round trip; an idle one sleeps.

use super::event_api::{self, RbEvent};
use logstash_mesos_core::{Event, Map};
use magnus::value::{BoxValue, ReprValue};
use magnus::{prelude::*, Error, RArray, RClass, Ruby, Value as RValue};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// What a filter instance runs.
pub enum Source {
    /// `code` (and `init`).
    Inline { init: Option<String>, code: String },
    /// `path` and `script_params`.
    Script { path: PathBuf, params: Map },
}

/// Why a filter instance could not be created.
#[derive(Debug)]
pub enum CompileError {
    /// A `SyntaxError` in `init` / `code` (`option`), at `line`/`column` of the snippet.
    Syntax {
        option: &'static str,
        line: usize,
        column: Option<usize>,
        message: String,
    },
    /// Anything else (the script's file, its tests, its `register`).
    Other {
        option: &'static str,
        message: String,
    },
}

/// A Ruby exception raised while filtering one event.
#[derive(Debug, Clone)]
pub struct RubyException {
    pub class: String,
    pub message: String,
    pub backtrace: Vec<String>,
    /// Raised after the script's `filter` returned (a bad result): Logstash has applied
    /// `filter_matched` already.
    pub after_filter: bool,
}

/// The answer to a [`Job::Run`].
pub struct Reply {
    /// The event, as Ruby left it (`None` only if the VM lost it, which is a bug).
    pub event: Option<Event>,
    pub cancelled: bool,
    /// Events passed to `new_event_block` or returned by a script besides the original,
    /// with their cancelled flag.
    pub new_events: Vec<(Event, bool)>,
    /// A script's `filter` did not return the original event: it is dropped.
    pub original_dropped: bool,
    pub exception: Option<RubyException>,
}

enum Job {
    Compile {
        name: String,
        source: Source,
        reply: Sender<Result<u64, CompileError>>,
    },
    Run {
        filter: u64,
        event: Event,
        reply: Arc<Slot>,
    },
    Drop {
        filter: u64,
    },
    /// Runs a snippet outside any filter (tests of the VM itself).
    #[cfg_attr(not(test), allow(dead_code))]
    Eval {
        code: String,
        reply: Sender<Result<String, String>>,
    },
}

/// Where a worker waits for its reply; one per worker thread, reused.
struct Slot {
    ready: AtomicBool,
    value: Mutex<Option<Reply>>,
    thread: Thread,
}

thread_local! {
    static SLOT: Arc<Slot> = Arc::new(Slot {
        ready: AtomicBool::new(false),
        value: Mutex::new(None),
        thread: std::thread::current(),
    });
}

/// Spins before sleeping: a reply usually comes within a few microseconds.
const SPIN: Duration = Duration::from_micros(50);

/// The process's Ruby VM (a handle to its thread).
pub struct Vm {
    jobs: Sender<Job>,
}

static VM: OnceLock<Result<Vm, String>> = OnceLock::new();
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// True while the Ruby thread runs (false again if it ends, even by a panic).
static RUBY_ALIVE: AtomicBool = AtomicBool::new(false);
/// Run jobs sent and not yet answered.
static PENDING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
// `Ruby::init` takes a plain `fn`, so the thread's end of the channel and its start-up
// report reach it through these.
static JOBS_RX: Mutex<Option<Receiver<Job>>> = Mutex::new(None);
static STARTED: Mutex<Option<Sender<Result<(), String>>>> = Mutex::new(None);

/// The VM, started on first use; an error if Ruby could not start.
pub fn vm() -> Result<&'static Vm, String> {
    VM.get_or_init(start).as_ref().map_err(Clone::clone)
}

/// Signals whose handler was already set (caught or ignored) before Ruby started.
static SIGNALS_TAKEN: Mutex<u64> = Mutex::new(0);

/// The caught and ignored signals of this process (`SigCgt | SigIgn` of /proc/self/status,
/// bit n-1 for signal n); 0 where there is no /proc.
fn signals_taken() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter_map(|l| {
            l.strip_prefix("SigCgt:")
                .or_else(|| l.strip_prefix("SigIgn:"))
        })
        .filter_map(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .fold(0, |a, b| a | b)
}

fn start() -> Result<Vm, String> {
    let (tx, rx) = mpsc::channel();
    *SIGNALS_TAKEN.lock().map_err(|e| e.to_string())? = signals_taken();
    let (started_tx, started_rx) = mpsc::channel();
    *JOBS_RX.lock().map_err(|e| e.to_string())? = Some(rx);
    *STARTED.lock().map_err(|e| e.to_string())? = Some(started_tx);
    std::thread::Builder::new()
        .name("ruby".into())
        // Ruby code recurses on the machine stack; Logstash's JRuby threads get 2 MiB+.
        .stack_size(16 << 20)
        .spawn(|| {
            struct Alive;
            impl Drop for Alive {
                fn drop(&mut self) {
                    RUBY_ALIVE.store(false, Ordering::Release);
                }
            }
            RUBY_ALIVE.store(true, Ordering::Release);
            let _alive = Alive;
            if let Err(e) = Ruby::init(ruby_main) {
                tracing::error!(error = %e, "the ruby VM stopped");
                if let Ok(mut s) = STARTED.lock() {
                    if let Some(s) = s.take() {
                        let _ = s.send(Err(e));
                    }
                }
            }
        })
        .map_err(|e| format!("cannot start the ruby thread: {e}"))?;
    match started_rx.recv() {
        Ok(Ok(())) => Ok(Vm { jobs: tx }),
        Ok(Err(e)) => Err(format!("ruby failed to start: {e}")),
        Err(_) => Err("ruby failed to start (the ruby thread died; is libruby installed? scripts/setup/ruby.sh)".into()),
    }
}

impl Vm {
    /// Creates a filter instance (runs `init`, compiles `code`, loads and tests a script).
    pub fn compile(&self, name: &str, source: Source) -> Result<u64, CompileError> {
        let (tx, rx) = mpsc::channel();
        let dead = || CompileError::Other {
            option: "code",
            message: "the ruby thread is gone".into(),
        };
        self.jobs
            .send(Job::Compile {
                name: name.to_string(),
                source,
                reply: tx,
            })
            .map_err(|_| dead())?;
        rx.recv().map_err(|_| dead())?
    }

    /// Runs filter `filter` on `event`; blocks until Ruby is done with it.
    pub fn run(&self, filter: u64, event: Event) -> Reply {
        SLOT.with(|slot| {
            slot.ready.store(false, Ordering::Relaxed);
            if let Err(mpsc::SendError(job)) = self.jobs.send(Job::Run {
                filter,
                event,
                reply: slot.clone(),
            }) {
                let mut r = lost_reply("the ruby thread is gone");
                if let Job::Run { event, .. } = job {
                    r.event = Some(event);
                }
                return r;
            }
            // Spin while this job is next in line: the reply comes within microseconds.
            // With other workers' jobs queued ahead, sleep at once: spinning (or yielding)
            // waiters would take the core Ruby's thread needs, which on a loaded machine
            // cuts throughput by 5x (benches/ruby.rs, four_workers).
            let ahead = PENDING.fetch_add(1, Ordering::AcqRel);
            let start = Instant::now();
            while !slot.ready.load(Ordering::Acquire) {
                if ahead == 0 && start.elapsed() < SPIN {
                    std::hint::spin_loop();
                } else if !RUBY_ALIVE.load(Ordering::Acquire) {
                    // The Ruby thread died (a bug) with this event: give up on it.
                    PENDING.fetch_sub(1, Ordering::AcqRel);
                    return lost_reply("the ruby thread died");
                } else {
                    // Woken by `Slot::put`'s unpark (or spuriously: loop).
                    std::thread::park_timeout(Duration::from_millis(100));
                }
            }
            PENDING.fetch_sub(1, Ordering::AcqRel);
            match slot.value.lock() {
                Ok(mut v) => v.take().unwrap_or_else(|| lost_reply("no reply")),
                Err(_) => lost_reply("reply slot poisoned"),
            }
        })
    }

    /// Forgets filter `filter` (its Ruby object is collected).
    pub fn drop_filter(&self, filter: u64) {
        let _ = self.jobs.send(Job::Drop { filter });
    }

    /// Evaluates `code` at the top level and returns `inspect` of the result.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn eval(&self, code: &str) -> Result<String, String> {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send(Job::Eval {
                code: code.to_string(),
                reply: tx,
            })
            .map_err(|_| "the ruby thread is gone".to_string())?;
        rx.recv()
            .map_err(|_| "the ruby thread is gone".to_string())?
    }
}

fn lost_reply(why: &str) -> Reply {
    Reply {
        event: None,
        cancelled: false,
        new_events: Vec::new(),
        original_dropped: false,
        exception: Some(RubyException {
            class: "LogStashMesos::Error".into(),
            message: why.into(),
            backtrace: Vec::new(),
            after_filter: false,
        }),
    }
}

impl Slot {
    fn put(&self, reply: Reply) {
        if let Ok(mut v) = self.value.lock() {
            *v = Some(reply);
        }
        self.ready.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

// --- on the Ruby thread -------------------------------------------------------------

struct Instance {
    object: BoxValue<RValue>,
    script: bool,
}

struct State {
    filters: HashMap<u64, Instance>,
    inline_class: RClass,
    script_class: RClass,
    exception_class: RClass,
    result_error_class: RClass,
}

fn ruby_main(ruby: &Ruby) -> Result<(), Error> {
    let started = STARTED.lock().ok().and_then(|mut s| s.take());
    let Some(jobs) = JOBS_RX.lock().ok().and_then(|mut r| r.take()) else {
        return Ok(());
    };
    let state = match setup(ruby) {
        Ok(s) => s,
        Err(e) => {
            if let Some(s) = started {
                let _ = s.send(Err(e.to_string()));
            }
            return Ok(());
        }
    };
    if let Some(s) = started {
        let _ = s.send(Ok(()));
    }
    serve(ruby, state, jobs);
    Ok(())
}

fn setup(ruby: &Ruby) -> Result<State, Error> {
    give_back_signals(ruby)?;
    ruby.script("logstash-mesos");
    event_api::define(ruby)?;
    // `json` and `time` are what snippets use most (`to_json`, `Time.parse`); Logstash
    // has both loaded.
    let _: RValue = ruby.eval(concat!(
        "require 'json'\nrequire 'time'\n",
        include_str!("prelude.rb")
    ))?;
    let lsm: magnus::RModule = ruby.eval("LogStashMesos")?;
    Ok(State {
        filters: HashMap::new(),
        inline_class: lsm.const_get("InlineFilter")?,
        script_class: lsm.const_get("ScriptFilter")?,
        exception_class: ruby.eval("Exception")?,
        result_error_class: lsm.const_get("ResultError")?,
    })
}

/// Ruby installs its own handlers for INT, TERM, HUP, QUIT, ALRM, USR1 and USR2 where the
/// process had none, turning those signals into exceptions raised in whatever Ruby code
/// runs next: a SIGHUP would tag an event instead of ending the process. Where Ruby put its
/// own handler for a signal the binary does not handle, the default is restored, so the
/// process behaves as if Ruby were not there. TERM and INT are left alone: the binary's
/// tokio handlers may be registered while Ruby starts (on another thread), and resetting
/// then would remove them; tokio calls a handler it finds installed, so a Ruby handler
/// there only adds an exception in the Ruby thread during shutdown.
fn give_back_signals(ruby: &Ruby) -> Result<(), Error> {
    let taken = SIGNALS_TAKEN.lock().map(|t| *t).unwrap_or(u64::MAX);
    for name in ["HUP", "QUIT", "ALRM", "USR1", "USR2"] {
        let number: Option<i64> = ruby.eval(&format!("Signal.list[{name:?}]"))?;
        let Some(n) = number.filter(|n| (1..=64).contains(n)) else {
            continue;
        };
        if taken & (1u64 << (n - 1)) != 0 {
            continue;
        }
        let old: Option<String> = ruby.eval(&format!("Signal.trap({name:?}, 'SYSTEM_DEFAULT')"))?;
        if old.as_deref() != Some("DEFAULT") {
            tracing::warn!(signal = name, previous = ?old, "reset a signal handler Ruby did not install");
        }
    }
    Ok(())
}

fn serve(ruby: &Ruby, mut state: State, jobs: Receiver<Job>) {
    loop {
        let job = match jobs.try_recv() {
            Ok(j) => j,
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {
                // Spin a little: under load the next event is already on its way.
                let start = Instant::now();
                let mut got = None;
                while start.elapsed() < SPIN {
                    match jobs.try_recv() {
                        Ok(j) => {
                            got = Some(j);
                            break;
                        }
                        Err(TryRecvError::Disconnected) => return,
                        Err(TryRecvError::Empty) => std::hint::spin_loop(),
                    }
                }
                match got {
                    Some(j) => j,
                    None => match jobs.recv() {
                        Ok(j) => j,
                        Err(_) => return,
                    },
                }
            }
        };
        match job {
            Job::Run {
                filter,
                event,
                reply,
            } => reply.put(run(ruby, &state, filter, event)),
            Job::Compile {
                name,
                source,
                reply,
            } => {
                let _ = reply.send(compile(ruby, &mut state, &name, source));
            }
            Job::Drop { filter } => {
                state.filters.remove(&filter);
            }
            Job::Eval { code, reply } => {
                let r = ruby
                    .eval::<RValue>(&code)
                    .map(|v| v.inspect().to_string())
                    .map_err(|e| e.to_string());
                let _ = reply.send(r);
            }
        }
    }
}

fn compile(
    ruby: &Ruby,
    state: &mut State,
    name: &str,
    source: Source,
) -> Result<u64, CompileError> {
    let (object, script, snippets) = match source {
        Source::Inline { init, code } => {
            let r = state
                .inline_class
                .new_instance((name, init.as_deref(), code.as_str()));
            (r, false, Some((init, code)))
        }
        Source::Script { path, params } => {
            let params = super::convert::map_to_ruby(ruby, &params);
            let r =
                state
                    .script_class
                    .new_instance((name, path.to_string_lossy().as_ref(), params));
            (r, true, None)
        }
    };
    match object {
        Ok(o) => {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            state.filters.insert(
                id,
                Instance {
                    object: BoxValue::new(o),
                    script,
                },
            );
            Ok(id)
        }
        Err(e) => Err(compile_error(ruby, e, snippets.as_ref())),
    }
}

/// A Ruby error at build time as a [`CompileError`]; a `SyntaxError` in a snippet gets
/// its line (and column, from the caret line Ruby prints) inside that snippet.
fn compile_error(
    ruby: &Ruby,
    e: Error,
    snippets: Option<&(Option<String>, String)>,
) -> CompileError {
    let (class, message) = describe(ruby, &e);
    if let (true, Some((init, code))) = (class == "SyntaxError", snippets) {
        for (file, opt, text) in [
            ("(ruby filter init):", "init", init.as_deref().unwrap_or("")),
            ("(ruby filter code):", "code", code.as_str()),
        ] {
            if let Some(rest) = message.find(file).map(|i| &message[i + file.len()..]) {
                let reported: usize = rest
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(1);
                let lines = text.lines().count().max(1);
                // Past the last line: Ruby hit our closing `end` (an unclosed construct).
                let (line, column, mut summary) = if reported > lines {
                    (lines, None, syntax_summary(&message))
                } else {
                    let src_line = text.lines().nth(reported.saturating_sub(1)).unwrap_or("");
                    (
                        reported.max(1),
                        caret_column(&message, src_line),
                        syntax_summary(&message),
                    )
                };
                if reported > lines {
                    summary.push_str(" (at the end of the snippet: something is not closed)");
                }
                return CompileError::Syntax {
                    option: opt,
                    line,
                    column,
                    message: summary,
                };
            }
        }
    }
    let option = if snippets.is_some() { "code" } else { "path" };
    CompileError::Other {
        option,
        message: if class == "SyntaxError" || class.ends_with("ScriptError") {
            message
        } else {
            format!("{class}: {message}")
        },
    }
}

/// The column (1-based, in characters) of Ruby's `^` marker in `src_line`. Ruby prints
/// an excerpt of the line (cut with `...` when long) and the marker under it.
fn caret_column(message: &str, src_line: &str) -> Option<usize> {
    let lines: Vec<&str> = message.lines().collect();
    let i = lines.iter().position(|l| {
        let t = l.trim_start_matches("...").trim();
        t.starts_with('^') && t.chars().all(|c| c == '^' || c == '~')
    })?;
    let caret = lines[i];
    let excerpt = *lines.get(i.checked_sub(1)?)?;
    let caret_at = caret.chars().position(|c| c == '^')?;
    let (cut, shown) = match excerpt.strip_prefix("...") {
        Some(rest) => (3, rest.strip_suffix("...").unwrap_or(rest)),
        None => (0, excerpt.strip_suffix("...").unwrap_or(excerpt)),
    };
    let byte_off = src_line.find(shown)?;
    let char_off = src_line[..byte_off].chars().count();
    Some(char_off + caret_at.checked_sub(cut)? + 1)
}

/// The first line of each error in a SyntaxError message, without the file prefix.
fn syntax_summary(message: &str) -> String {
    let mut out = Vec::new();
    for l in message.lines() {
        if let Some(i) = l.find("syntax error") {
            out.push(l[i..].to_string());
        } else if l.starts_with("(ruby filter") {
            if let Some((_, m)) = l.split_once(": ") {
                out.push(m.to_string());
            }
        }
    }
    if out.is_empty() {
        message.lines().next().unwrap_or(message).to_string()
    } else {
        out.join("; ")
    }
}

fn describe(ruby: &Ruby, e: &Error) -> (String, String) {
    match e.value() {
        Some(exc) => exception_parts(ruby, exc),
        None => ("Error".into(), e.to_string()),
    }
}

fn exception_parts(_ruby: &Ruby, exc: RValue) -> (String, String) {
    let class = exc
        .class()
        .funcall::<_, _, Option<String>>("name", ())
        .ok()
        .flatten()
        .unwrap_or_else(|| "Exception".into());
    let message = exc
        .funcall::<_, _, RValue>("message", ())
        .and_then(|m| m.to_r_string())
        .and_then(super::convert::rstring)
        .unwrap_or_default();
    (class, message)
}

fn run(ruby: &Ruby, state: &State, filter: u64, event: Event) -> Reply {
    let Some(inst) = state.filters.get(&filter) else {
        let mut r = lost_reply("unknown ruby filter instance");
        r.event = Some(event);
        return r;
    };
    let wrapped = ruby.obj_wrap(RbEvent::new(event));
    let result: Result<RValue, Error> = inst.object.funcall("__lsm_run", (wrapped,));
    let (event, cancelled) = match wrapped.take() {
        Some((e, c)) => (Some(e), c),
        None => (None, false),
    };
    let mut reply = Reply {
        event,
        cancelled,
        new_events: Vec::new(),
        original_dropped: false,
        exception: None,
    };
    let value = match result {
        Ok(v) => v,
        Err(e) => {
            let (class, message) = describe(ruby, &e);
            reply.exception = Some(RubyException {
                class,
                message,
                backtrace: Vec::new(),
                after_filter: false,
            });
            return reply;
        }
    };
    if value.is_nil() {
        return reply;
    }
    if value.is_kind_of(state.exception_class) {
        let (class, message) = exception_parts(ruby, value);
        let backtrace = value
            .funcall::<_, _, Option<Vec<String>>>("backtrace", ())
            .ok()
            .flatten()
            .unwrap_or_default();
        reply.exception = Some(RubyException {
            after_filter: value.is_kind_of(state.result_error_class),
            class,
            message,
            backtrace: backtrace.into_iter().take(5).collect(),
        });
        return reply;
    }
    if let Some(list) = RArray::from_value(value) {
        if inst.script {
            // Logstash's file_script: the original is passed on only if returned; every
            // other returned event is new.
            let mut returned_original = false;
            for item in list.into_iter() {
                if item.equal(wrapped).unwrap_or(false) {
                    returned_original = true;
                } else if let Ok(e) = <&RbEvent>::try_convert(item) {
                    reply.new_events.extend(e.take());
                }
            }
            reply.original_dropped = !returned_original;
        } else {
            reply.new_events = event_api::take_events(list);
        }
    }
    reply
}
