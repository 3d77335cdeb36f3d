//! `ruby`: runs Ruby code on every event, as Logstash's logstash-filter-ruby, on a real
//! CRuby interpreter embedded in the binary (cargo feature `ruby`, on by default for the
//! `logstash-mesos` binary; design in docs/design/ruby.md).
//!
//! - `code` is a snippet run with `event` (the Event API of `event_api.rs`) and
//!   `new_event_block` (`new_event_block.call(e)` adds an event after this one); `init`
//!   runs once, in the same object, so its instance variables are the filter's state,
//!   shared by every pipeline worker as in Logstash.
//! - `path` names a script defining `register(params)` (called with `script_params`) and
//!   `filter(event)`, which returns the events to pass on: the original only if it is in
//!   the array (else it is dropped), every other one as a new event. The script's `test`
//!   blocks run at load; a failing one is a config error.
//! - An exception tags the event with `tag_on_exception` (and, with
//!   `tag_with_exception_message`, `"<tag>: <message>"`), is logged, and the event goes on;
//!   the common options (`add_tag`, ...) then do not apply. `event.cancel` drops the event.
//! - A syntax error in `code` or `init` is a config error at the option's position, with
//!   the line and column inside the snippet.
//!
//! All Ruby runs on one thread (`vm.rs`): workers send it the event and wait.

#[cfg(feature = "ruby")]
mod convert;
#[cfg(feature = "ruby")]
mod event_api;
#[cfg(feature = "ruby")]
mod vm;

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "code",
        OptKind::String,
        "Ruby run for every event, with `event` and `new_event_block` (exclusive with path)",
    ),
    OptSpec::new(
        "init",
        OptKind::String,
        "Ruby run once when the filter starts (with code); its instance variables are shared by all workers",
    ),
    OptSpec::new(
        "path",
        OptKind::Path,
        "a Ruby script defining register(params) and filter(event) -> [events] (exclusive with code)",
    ),
    OptSpec::new(
        "script_params",
        OptKind::Hash,
        "the hash passed to the script's register",
    )
    .default("{}"),
    OptSpec::new(
        "tag_on_exception",
        OptKind::String,
        "tag added to events whose Ruby code raised",
    )
    .default(r#""_rubyexception""#),
    OptSpec::new(
        "tag_with_exception_message",
        OptKind::Boolean,
        "also add the tag \"<tag_on_exception>: <exception message>\"",
    )
    .default("false"),
];

/// The error of a build without the `ruby` feature.
pub const NO_RUBY: &str =
    "this build of logstash-mesos has no ruby support (built without the `ruby` feature)";

/// What the options ask for, checked before any Ruby runs.
#[cfg_attr(not(feature = "ruby"), allow(dead_code))]
struct Settings {
    code: Option<String>,
    init: Option<String>,
    path: Option<String>,
    tag_on_exception: String,
    tag_with_exception_message: bool,
}

fn settings(args: &Args) -> BuildResult<Settings> {
    let code = args.string("code");
    let path = args.string("path");
    let init = args.string("init");
    match (&code, &path) {
        (Some(_), Some(_)) => {
            return Err(BuildError::option(
                "path",
                "`code` and `path` are exclusive: use an inline script with `code` or a script file with `path`",
            ))
        }
        (None, None) => {
            return Err(BuildError::general(
                "you must either use an inline script with the `code` option or a script file using `path`",
            ))
        }
        _ => {}
    }
    if path.is_some() && init.is_some() {
        return Err(BuildError::option(
            "init",
            "`init` only goes with `code`; a `path` script does its set-up in `register(params)`",
        ));
    }
    Ok(Settings {
        code,
        init,
        path,
        tag_on_exception: args
            .string("tag_on_exception")
            .unwrap_or_else(|| "_rubyexception".into()),
        tag_with_exception_message: args.flag("tag_with_exception_message"),
    })
}

#[cfg(not(feature = "ruby"))]
pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    settings(args)?;
    Err(BuildError::general(NO_RUBY))
}

#[cfg(feature = "ruby")]
pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let s = settings(args)?;
    let vm = vm::vm().map_err(BuildError::general)?;
    let name = args.string("id").unwrap_or_else(|| "ruby".to_string());
    let source = match (&s.code, &s.path) {
        (Some(code), _) => vm::Source::Inline {
            init: s.init.clone(),
            code: code.clone(),
        },
        (None, Some(path)) => {
            let path = std::path::PathBuf::from(path);
            if let Err(e) = std::fs::metadata(&path) {
                return Err(BuildError::file(
                    "path",
                    format!("cannot read the script {}: {e}", path.display()),
                ));
            }
            vm::Source::Script {
                path,
                params: args.hash_map("script_params").cloned().unwrap_or_default(),
            }
        }
        (None, None) => unreachable!("settings() requires code or path"),
    };
    let id = vm.compile(&name, source).map_err(|e| match e {
        vm::CompileError::Syntax {
            option,
            line,
            column,
            message,
        } => {
            let at = match column {
                Some(c) => format!("line {line}, column {c}"),
                None => format!("line {line}"),
            };
            BuildError::option(
                option,
                format!("ruby syntax error at {at} of `{option}`: {message}"),
            )
        }
        vm::CompileError::Other { option, message } => BuildError::option(option, message),
    })?;
    Ok(Box::new(RubyFilter {
        vm,
        id,
        name,
        tag: s.tag_on_exception,
        tag_with_message: s.tag_with_exception_message,
        script: s.path.is_some(),
    }))
}

#[cfg(feature = "ruby")]
pub use runtime::RubyFilter;

#[cfg(feature = "ruby")]
mod runtime {
    use super::vm::{Reply, Vm};
    use crate::plugin::{Filter, FilterContext, Outcome};
    use logstash_mesos_core::Event;

    /// One `ruby { ... }`: a handle to its instance on the Ruby thread.
    pub struct RubyFilter {
        pub(super) vm: &'static Vm,
        pub(super) id: u64,
        pub(super) name: String,
        pub(super) tag: String,
        pub(super) tag_with_message: bool,
        pub(super) script: bool,
    }

    impl Filter for RubyFilter {
        fn apply(&self, event: &mut Event, ctx: &mut FilterContext) -> Outcome {
            let reply: Reply = self.vm.run(self.id, std::mem::take(event));
            if let Some(e) = reply.event {
                *event = e;
            }
            for (e, cancelled) in reply.new_events {
                if !cancelled {
                    ctx.new_events.push(e);
                }
            }
            if let Some(exc) = reply.exception {
                if self.tag_with_message {
                    event.add_tag(&format!("{}: {}", self.tag, exc.message));
                }
                event.add_tag(&self.tag);
                let what = if self.script {
                    "Could not process event"
                } else {
                    "Ruby exception occurred"
                };
                tracing::error!(
                    plugin = %self.name,
                    class = %exc.class,
                    backtrace = ?exc.backtrace,
                    "{what}: {}",
                    exc.message
                );
                // A script whose result was bad has had filter_matched applied already.
                return if exc.after_filter {
                    Outcome::Success
                } else {
                    Outcome::Failure
                };
            }
            if reply.cancelled || reply.original_dropped {
                return Outcome::Drop;
            }
            Outcome::Success
        }
    }

    impl Drop for RubyFilter {
        fn drop(&mut self) {
            self.vm.drop_filter(self.id);
        }
    }
}

#[cfg(all(test, feature = "ruby"))]
mod tests;

#[cfg(all(test, not(feature = "ruby")))]
mod tests_without_ruby {
    use super::*;
    use crate::registry::Kind;

    /// Without the feature the filter is registered (configs parse) but building it is a
    /// clear config error. In CI the workspace is built with the feature, so a run
    /// without it there means the Ruby tests did not run: fail loudly.
    #[test]
    fn ruby_build_without_the_feature_is_a_config_error() {
        let args = Args::for_plugin(Kind::Filter, OPTIONS).with("code", "event.set('a', 1)".into());
        let err = build(&args, &BuildContext::default())
            .err()
            .expect("no ruby: an error");
        assert_eq!(err.message, NO_RUBY);
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the pipeline crate was built without the `ruby` feature: the ruby filter's tests did not run"
        );
    }
}
