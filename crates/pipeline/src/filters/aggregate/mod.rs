//! `aggregate`: gathers information from several events of one task (same `task_id`) into
//! a map, and puts the result into an event, as Logstash's aggregate filter.
//!
//! Each event resolves `task_id` (sprintf; an event where it does not resolve is left
//! alone). `map_action` decides whether a missing map is created (`create`,
//! `create_or_update`) and whether an existing one is used (`update`,
//! `create_or_update`); then `code` runs with the event and the map (see `code.rs`: this
//! build runs a fixed subset of Ruby, anything else is a config error). `end_of_task`
//! deletes the map afterwards. Maps are shared by every aggregate filter of the pipeline
//! with the same `task_id` pattern, so a start, an update and an end filter in different
//! branches work on one map.
//!
//! Timeouts (`timeout`, default 1800 s, and `inactivity_timeout`) are checked at every
//! periodic flush (5 s) by the one filter of the pattern that sets timeout options (or the
//! first one when none does). An expired map is removed and, with
//! `push_map_as_event_on_timeout` or `push_previous_map_as_event`, becomes an event (its
//! keys as fields) with `timeout_task_id_field`, `timeout_tags` and `timeout_code`
//! applied. `push_previous_map_as_event` also pushes the current map when a new task id
//! shows up, and at shutdown pushes the last map (tagged `_aggregatefinalflush`, like
//! everything flushed at shutdown). With `timeout_timestamp_field` timeouts are measured
//! on that event field rather than the clock. `aggregate_maps_path` stores the maps still
//! open at shutdown (versioned JSON, written atomically) and loads them back (and deletes
//! the file) at the next start.
//!
//! As in Logstash, this filter **needs one worker** (`-w 1`, `pipeline.workers: 1`):
//! with several, events of one task can be processed out of order.

mod code;
mod store;

pub use code::{compile_event_code, compile_map_code, CodeEffects, EventCode, MapCode, MapMeta};

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use indexmap::IndexMap;
use logstash_mesos_core::{Event, FieldRef, Map, Template, Timestamp, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, Weak};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "task_id",
        OptKind::String,
        "the task's id, a sprintf pattern such as %{request_id}",
    )
    .required(),
    OptSpec::new(
        "code",
        OptKind::String,
        "the map update (a Ruby subset without the ruby filter, see README)",
    )
    .required(),
    OptSpec::new(
        "map_action",
        OptKind::Enum(&["create", "update", "create_or_update"]),
        "create the map, update an existing one, or both",
    )
    .default("create_or_update"),
    OptSpec::new(
        "end_of_task",
        OptKind::Boolean,
        "delete the map after this event",
    )
    .default("false"),
    OptSpec::new(
        "aggregate_maps_path",
        OptKind::Path,
        "file where open maps are stored at shutdown and loaded at start",
    ),
    OptSpec::new(
        "timeout",
        OptKind::Number,
        "seconds after its creation when a map expires",
    )
    .default("1800"),
    OptSpec::new(
        "inactivity_timeout",
        OptKind::Number,
        "seconds after its last event when a map expires (at most timeout)",
    ),
    OptSpec::new(
        "timeout_code",
        OptKind::String,
        "runs on the event made from an expired map (Ruby subset)",
    ),
    OptSpec::new(
        "push_map_as_event_on_timeout",
        OptKind::Boolean,
        "an expired map becomes an event",
    )
    .default("false"),
    OptSpec::new(
        "push_previous_map_as_event",
        OptKind::Boolean,
        "a new task id pushes the previous map as an event",
    )
    .default("false"),
    OptSpec::new(
        "timeout_timestamp_field",
        OptKind::String,
        "measure timeouts on this event timestamp field instead of the clock",
    ),
    OptSpec::new(
        "timeout_task_id_field",
        OptKind::String,
        "field of the timeout event that gets the task id",
    ),
    OptSpec::new(
        "timeout_tags",
        OptKind::Array,
        "tags added to timeout events",
    )
    .default("[]"),
    OptSpec::new(
        "map_count_warning_threshold",
        OptKind::Number,
        "warn when this many maps are open (0: never)",
    )
    .default("5000"),
];

const DEFAULT_TIMEOUT: i64 = 1800;
const EXCEPTION_TAG: &str = "_aggregateexception";
const FINAL_FLUSH_TAG: &str = "_aggregatefinalflush";

/// One open task.
#[derive(Clone, Debug)]
pub(crate) struct Element {
    /// Reference times (the event field with `timeout_timestamp_field`, else the clock).
    pub creation: Timestamp,
    pub last_event: Timestamp,
    /// The clock at creation / at the last event (periodic timeouts).
    pub wall_creation: Timestamp,
    pub wall_last: Timestamp,
    pub meta: MapMeta,
    pub map: Map,
}

/// The maps of one pipeline: task_id pattern → task id → element (in creation order).
#[derive(Default)]
pub(crate) struct Inner {
    pub patterns: HashMap<String, IndexMap<String, Element>>,
    /// Per pattern, the filter that handles timeouts (and whether it set timeout options).
    owners: HashMap<String, (Weak<()>, bool)>,
    pub maps_path: Option<PathBuf>,
}

/// Shared by the aggregate filters of one pipeline; stores the maps on drop when
/// `aggregate_maps_path` is set.
pub(crate) struct PipelineMaps {
    pub inner: Mutex<Inner>,
}

impl Drop for PipelineMaps {
    fn drop(&mut self) {
        let Ok(inner) = self.inner.get_mut() else {
            return;
        };
        if let Some(path) = inner.maps_path.clone() {
            if let Err(e) = store::save(&path, &inner.patterns) {
                tracing::error!(path = %path.display(), error = %e, "cannot store aggregate maps");
            }
        }
    }
}

/// Pipeline id → its maps, alive while one of its aggregate filters is.
static PIPELINES: LazyLock<Mutex<HashMap<String, Weak<PipelineMaps>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn pipeline_maps(id: &str) -> Arc<PipelineMaps> {
    let mut all = PIPELINES.lock().unwrap_or_else(|p| p.into_inner());
    all.retain(|_, w| w.strong_count() > 0);
    if let Some(m) = all.get(id).and_then(Weak::upgrade) {
        return m;
    }
    let m = Arc::new(PipelineMaps {
        inner: Mutex::new(Inner::default()),
    });
    all.insert(id.to_string(), Arc::downgrade(&m));
    m
}

#[derive(Clone, Copy, PartialEq)]
enum Action {
    Create,
    Update,
    CreateOrUpdate,
}

pub struct Aggregate {
    pattern: String,
    task_id: Template,
    code: Box<dyn MapCode>,
    action: Action,
    end_of_task: bool,
    timeout: Option<i64>,
    inactivity_timeout: Option<i64>,
    timeout_code: Option<Box<dyn EventCode>>,
    push_on_timeout: bool,
    push_previous: bool,
    timeout_timestamp_field: Option<FieldRef>,
    timeout_task_id_field: Option<FieldRef>,
    timeout_tags: Vec<Template>,
    has_timeout_options: bool,
    map_count_warning_threshold: usize,
    maps: Arc<PipelineMaps>,
    /// Identifies this instance as the timeout owner of its pattern.
    token: Arc<()>,
}

fn opt_i64(args: &Args, name: &str) -> BuildResult<Option<i64>> {
    match args.value(name) {
        None => Ok(None),
        Some(_) => args
            .i64(name)
            .map(Some)
            .ok_or_else(|| BuildError::option(name, "expected a number of seconds")),
    }
}

fn opt_field(args: &Args, name: &str) -> BuildResult<Option<FieldRef>> {
    args.string(name)
        .map(|s| FieldRef::parse(&s).map_err(|e| BuildError::option(name, e.to_string())))
        .transpose()
}

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let pattern = args.string("task_id").unwrap_or_else(|| "".to_string());
    let has_ref = pattern
        .find("%{")
        .is_some_and(|i| pattern[i + 2..].find('}').is_some_and(|j| j > 0));
    if !has_ref {
        return Err(BuildError::option(
            "task_id",
            format!(
                "task_id pattern {pattern:?} must contain a dynamic expression like '%{{field}}'"
            ),
        ));
    }
    let code = compile_map_code(&args.string("code").unwrap_or_else(|| "".to_string()))
        .map_err(|e| BuildError::option("code", e))?;
    let timeout_code = args
        .string("timeout_code")
        .map(|c| compile_event_code(&c).map_err(|e| BuildError::option("timeout_code", e)))
        .transpose()?;
    let action = match args
        .string("map_action")
        .unwrap_or_else(|| "create_or_update".to_string())
        .as_str()
    {
        "create" => Action::Create,
        "update" => Action::Update,
        "create_or_update" => Action::CreateOrUpdate,
        other => {
            return Err(BuildError::option(
                "map_action",
                format!("expected create, update or create_or_update, got {other:?}"),
            ))
        }
    };
    let timeout = opt_i64(args, "timeout")?;
    let inactivity_timeout = opt_i64(args, "inactivity_timeout")?;
    if let Some(i) = inactivity_timeout {
        let t = timeout.unwrap_or(DEFAULT_TIMEOUT);
        if i > t {
            return Err(BuildError::option(
                "inactivity_timeout",
                format!("inactivity_timeout ({i}) must be lower than timeout ({t})"),
            ));
        }
    }
    let timeout_tags: Vec<String> = args.strings("timeout_tags");
    let has_timeout_options = args.contains("timeout")
        || inactivity_timeout.is_some()
        || timeout_code.is_some()
        || args.flag("push_map_as_event_on_timeout")
        || args.flag("push_previous_map_as_event")
        || args.contains("timeout_timestamp_field")
        || args.contains("timeout_task_id_field")
        || !timeout_tags.is_empty();
    let maps = pipeline_maps(&ctx.pipeline_id);
    let token = Arc::new(());
    {
        let mut inner = maps.inner.lock().unwrap_or_else(|p| p.into_inner());
        if has_timeout_options {
            match inner.owners.get(&pattern) {
                Some((w, true)) if w.strong_count() > 0 => tracing::warn!(
                    task_id = %pattern,
                    "timeout options are set on more than one aggregate filter with this task_id; only the first one's are used"
                ),
                _ => {
                    inner
                        .owners
                        .insert(pattern.clone(), (Arc::downgrade(&token), true));
                }
            }
        }
        if let Some(p) = args.string("aggregate_maps_path") {
            let path = PathBuf::from(p);
            if path.exists() {
                let loaded = store::load(&path).map_err(|e| {
                    BuildError::option(
                        "aggregate_maps_path",
                        format!("cannot load {}: {e}", path.display()),
                    )
                })?;
                for (pat, tasks) in loaded {
                    inner.patterns.entry(pat).or_default().extend(tasks);
                }
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot delete loaded aggregate maps file");
                }
                tracing::info!(path = %path.display(), "aggregate maps loaded");
            }
            inner.maps_path = Some(path);
        }
        inner.patterns.entry(pattern.clone()).or_default();
    }
    Ok(Box::new(Aggregate {
        task_id: Template::compile(&pattern),
        pattern,
        code,
        action,
        end_of_task: args.flag("end_of_task"),
        timeout,
        inactivity_timeout,
        timeout_code,
        push_on_timeout: args.flag("push_map_as_event_on_timeout"),
        push_previous: args.flag("push_previous_map_as_event"),
        timeout_timestamp_field: opt_field(args, "timeout_timestamp_field")?,
        timeout_task_id_field: opt_field(args, "timeout_task_id_field")?,
        timeout_tags: timeout_tags.iter().map(|t| Template::compile(t)).collect(),
        has_timeout_options,
        map_count_warning_threshold: opt_i64(args, "map_count_warning_threshold")?
            .unwrap_or(5000)
            .max(0) as usize,
        maps,
        token,
    }))
}

impl Aggregate {
    fn reference_time(&self, event: &Event) -> Timestamp {
        match &self.timeout_timestamp_field {
            Some(f) => match event.get(f) {
                Some(Value::Timestamp(t)) => *t,
                Some(Value::String(s)) => {
                    Timestamp::parse_iso8601(s).unwrap_or_else(Timestamp::now)
                }
                _ => Timestamp::now(),
            },
            None => Timestamp::now(),
        }
    }

    fn timeouts(&self, meta: &MapMeta) -> (i64, i64) {
        let t = meta.timeout.or(self.timeout).unwrap_or(DEFAULT_TIMEOUT);
        let i = meta
            .inactivity_timeout
            .or(self.inactivity_timeout)
            .unwrap_or(self.timeout.unwrap_or(DEFAULT_TIMEOUT));
        (t, i)
    }

    /// The event an expired (or pushed) map becomes.
    fn timeout_event(&self, map: Map, task_id: &str) -> Event {
        let mut e = Event::from_map(map);
        if let Some(f) = &self.timeout_task_id_field {
            let _ = e.set(f, Value::from(task_id));
        }
        for t in &self.timeout_tags {
            let tag = t.render(&e);
            e.add_tag(&tag);
        }
        if let Some(code) = &self.timeout_code {
            let mut fx = CodeEffects::default();
            if let Err(err) = code.run(&mut e, &mut fx) {
                tracing::error!(error = %err, "aggregate timeout_code failed");
                e.add_tag(EXCEPTION_TAG);
            }
        }
        e
    }

    fn pushes(&self) -> bool {
        self.push_previous || self.push_on_timeout
    }

    /// Whether this instance checks the pattern's timeouts: the one with timeout options,
    /// else the first to ask (Logstash's `flush_instance_map`).
    fn is_owner(&self, inner: &mut Inner) -> bool {
        match inner.owners.get(&self.pattern) {
            Some((w, _)) if w.strong_count() > 0 => {
                std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.token))
            }
            _ => {
                inner.owners.insert(
                    self.pattern.clone(),
                    (Arc::downgrade(&self.token), self.has_timeout_options),
                );
                true
            }
        }
    }
}

impl Filter for Aggregate {
    fn apply(&self, event: &mut Event, ctx: &mut FilterContext) -> Outcome {
        let task_id = self.task_id.render(event);
        if task_id == self.pattern {
            return Outcome::Failure;
        }
        let mut inner = self.maps.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut to_push: Option<Event> = None;
        let reference = self.reference_time(event);
        let Some(tasks) = inner.patterns.get_mut(&self.pattern) else {
            return Outcome::Failure;
        };
        if self.map_count_warning_threshold > 0 && tasks.len() >= self.map_count_warning_threshold {
            tracing::warn!(task_id = %self.pattern, maps = tasks.len(), "aggregate filter memory warning: many maps are open");
        }
        if self.timeout_timestamp_field.is_some() {
            if let Some(el) = tasks.get(&task_id) {
                let (t, i) = self.timeouts(&el.meta);
                let secs = reference.unix_seconds();
                if el.creation.unix_seconds() < secs - t || el.last_event.unix_seconds() < secs - i
                {
                    if let Some(el) = tasks.shift_remove(&task_id) {
                        if self.pushes() {
                            to_push = Some(self.timeout_event(el.map, &task_id));
                        }
                    }
                }
            }
        }
        if !tasks.contains_key(&task_id) {
            if self.action == Action::Update {
                return Outcome::Failure;
            }
            if self.push_previous && !tasks.is_empty() {
                if let Some((prev_id, prev)) = tasks.shift_remove_index(0) {
                    to_push = Some(self.timeout_event(prev.map, &prev_id));
                }
            }
            let now = Timestamp::now();
            tasks.insert(
                task_id.clone(),
                Element {
                    creation: reference,
                    last_event: reference,
                    wall_creation: now,
                    wall_last: now,
                    meta: MapMeta::default(),
                    map: Map::new(),
                },
            );
        } else if self.action == Action::Create {
            return Outcome::Failure;
        }
        let Some(el) = tasks.get_mut(&task_id) else {
            return Outcome::Failure;
        };
        el.last_event = reference;
        el.wall_last = Timestamp::now();
        let mut fx = CodeEffects::default();
        let ok = match self.code.run(event, &mut el.map, &mut el.meta, &mut fx) {
            Ok(()) => true,
            Err(err) => {
                tracing::error!(error = %err, task_id = %task_id, "aggregate code failed");
                event.add_tag(EXCEPTION_TAG);
                false
            }
        };
        let zero_timeout = el.meta.timeout == Some(0) || el.meta.inactivity_timeout == Some(0);
        if self.end_of_task {
            tasks.shift_remove(&task_id);
        } else if zero_timeout {
            if let Some(el) = tasks.shift_remove(&task_id) {
                if self.push_on_timeout {
                    to_push = Some(self.timeout_event(el.map, &task_id));
                }
            }
        }
        drop(inner);
        ctx.new_events.extend(fx.new_events);
        ctx.new_events.extend(to_push);
        if fx.cancel {
            Outcome::Drop
        } else if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }

    fn wants_flush(&self) -> bool {
        true
    }

    fn flush(&self, final_flush: bool) -> Vec<(Event, Outcome)> {
        let mut inner = self.maps.inner.lock().unwrap_or_else(|p| p.into_inner());
        if !self.is_owner(&mut inner) {
            return Vec::new();
        }
        let now = Timestamp::now().unix_seconds();
        let Some(tasks) = inner.patterns.get_mut(&self.pattern) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut expired = Vec::new();
        tasks.retain(|id, el| {
            let (t, i) = self.timeouts(&el.meta);
            let gone =
                el.wall_creation.unix_seconds() < now - t || el.wall_last.unix_seconds() < now - i;
            if gone {
                expired.push((id.clone(), std::mem::take(&mut el.map)));
            }
            !gone
        });
        if self.pushes() {
            for (id, map) in expired {
                out.push(self.timeout_event(map, &id));
            }
        }
        if final_flush && self.push_previous {
            if let Some((id, el)) = tasks.shift_remove_index(0) {
                out.push(self.timeout_event(el.map, &id));
            }
        }
        drop(inner);
        if final_flush {
            out.iter_mut().for_each(|e| e.add_tag(FINAL_FLUSH_TAG));
        }
        // Logstash does not call filter_matched on pushed maps: no common options.
        out.into_iter().map(|e| (e, Outcome::Failure)).collect()
    }
}

#[cfg(test)]
mod tests;
