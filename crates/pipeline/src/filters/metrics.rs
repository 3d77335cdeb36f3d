//! `metrics`: counts and times events and emits the figures as a new event at every
//! `flush_interval`, as Logstash's metrics filter (which uses the Metriks library).
//!
//! `meter => ["events", "%{status}"]` counts events per (sprintf'd) name; `timer =>
//! { "rt" => "%{request_time}" }` records the value per name. Every `flush_interval`
//! seconds (counted in the pipeline's 5-second flush ticks, as Logstash counts them) one
//! event is emitted with `message` = this host and, per meter, `[name][count]`,
//! `[name][rate_1m]`, `[name][rate_5m]`, `[name][rate_15m]` (per-second exponentially
//! weighted moving averages over 1, 5 and 15 minutes, ticking every 5 s; `rates` picks
//! which), and per timer the same plus `[name][min]`, `[name][max]`, `[name][stddev]`,
//! `[name][mean]` and `[name][pN]` for each of `percentiles`. Only the flush event gets the
//! common options (`add_tag => "metric"` is the usual way to route it); the counted
//! events pass unchanged. With `clear_interval` the figures restart from zero every that
//! many seconds. `ignore_older_than` skips events whose `@timestamp` is older than that
//! many seconds.
//!
//! Faithful details: `stddev` is the square root of the standard deviation, exactly as
//! the Logstash plugin computes it (`metric.stddev ** 0.5`); percentiles come from a
//! 1028-value sample that holds every value until it is full (Metriks' exponentially
//! decaying sample; beyond 1028 values this one samples uniformly). Nothing is emitted
//! while no meter or timer has seen an event. The figures are per filter instance and
//! shared by all workers.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use indexmap::IndexMap;
use logstash_mesos_core::{Event, FieldRef, Template, Value};
use std::sync::Mutex;
use std::time::Instant;

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "meter",
        OptKind::Array,
        "names (sprintf) of meters to mark per event",
    )
    .default("[]"),
    OptSpec::new(
        "timer",
        OptKind::Hash,
        "name (sprintf) => value (sprintf, a number) of timers to update per event",
    )
    .default("{}"),
    OptSpec::new(
        "ignore_older_than",
        OptKind::Number,
        "skip events whose @timestamp is older than this many seconds (0: never)",
    )
    .default("0"),
    OptSpec::new(
        "flush_interval",
        OptKind::Number,
        "seconds between metric events",
    )
    .default("5"),
    OptSpec::new(
        "clear_interval",
        OptKind::Number,
        "seconds after which the metrics restart from zero (-1: never)",
    )
    .default("-1"),
    OptSpec::new(
        "rates",
        OptKind::Array,
        "which moving-average rates to emit: 1, 5 and/or 15 (minutes)",
    )
    .default("[1, 5, 15]"),
    OptSpec::new(
        "percentiles",
        OptKind::Array,
        "the percentiles emitted for timers",
    )
    .default("[1, 5, 10, 90, 95, 99, 100]"),
];

/// Metriks' tick: every rate moves in 5-second steps.
const TICK_SECS: f64 = 5.0;
/// What one pipeline flush adds to the flush and clear clocks.
const FLUSH_TICK: i64 = 5;
const SAMPLE_SIZE: usize = 1028;

/// An exponentially weighted moving average of a per-second rate (Metriks::EWMA).
#[derive(Clone, Debug)]
struct Ewma {
    alpha: f64,
    rate: f64,
    uncounted: u64,
    initialized: bool,
}

impl Ewma {
    fn new(minutes: f64) -> Ewma {
        Ewma {
            alpha: 1.0 - (-TICK_SECS / 60.0 / minutes).exp(),
            rate: 0.0,
            uncounted: 0,
            initialized: false,
        }
    }

    fn tick(&mut self) {
        let instant = self.uncounted as f64 / TICK_SECS;
        self.uncounted = 0;
        if self.initialized {
            self.rate += self.alpha * (instant - self.rate);
        } else {
            self.rate = instant;
            self.initialized = true;
        }
    }
}

/// A meter: a count and three moving rates that tick lazily (Metriks::Meter).
#[derive(Clone, Debug)]
struct Meter {
    count: u64,
    rates: [Ewma; 3],
    /// Seconds (on the filter's clock) of the last tick.
    last_tick: f64,
}

impl Meter {
    fn new(now: f64) -> Meter {
        Meter {
            count: 0,
            rates: [Ewma::new(1.0), Ewma::new(5.0), Ewma::new(15.0)],
            last_tick: now,
        }
    }

    fn tick_if_necessary(&mut self, now: f64) {
        let age = now - self.last_tick;
        if age > TICK_SECS {
            self.last_tick = now;
            for _ in 0..(age / TICK_SECS) as u64 {
                self.rates.iter_mut().for_each(Ewma::tick);
            }
        }
    }

    fn mark(&mut self, now: f64) {
        self.tick_if_necessary(now);
        self.count += 1;
        self.rates.iter_mut().for_each(|r| r.uncounted += 1);
    }
}

/// A timer: a meter plus a histogram of the values (Metriks::Timer).
#[derive(Clone, Debug)]
struct Timer {
    meter: Meter,
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
    /// Welford's running mean and sum of squared differences.
    mean: f64,
    m2: f64,
    sample: Vec<f64>,
    seen: u64,
}

impl Timer {
    fn new(now: f64) -> Timer {
        Timer {
            meter: Meter::new(now),
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            mean: 0.0,
            m2: 0.0,
            sample: Vec::new(),
            seen: 0,
        }
    }

    fn update(&mut self, v: f64, now: f64) {
        // Metriks ignores negative durations.
        if v.is_nan() || v < 0.0 {
            return;
        }
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
        let delta = v - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (v - self.mean);
        self.seen += 1;
        if self.sample.len() < SAMPLE_SIZE {
            self.sample.push(v);
        } else {
            let i = fastrand::u64(0..self.seen) as usize;
            if i < SAMPLE_SIZE {
                self.sample[i] = v;
            }
        }
        self.meter.mark(now);
    }

    fn stddev(&self) -> f64 {
        if self.count <= 1 {
            0.0
        } else {
            (self.m2 / (self.count - 1) as f64).sqrt()
        }
    }

    /// Metriks' `Snapshot#value`: interpolated between the sorted sample's neighbours.
    fn quantile(sorted: &[f64], q: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let pos = q * (sorted.len() + 1) as f64;
        if pos < 1.0 {
            return sorted[0];
        }
        if pos >= sorted.len() as f64 {
            return sorted[sorted.len() - 1];
        }
        let lower = sorted[pos as usize - 1];
        let upper = sorted[pos as usize];
        lower + (pos - pos.floor()) * (upper - lower)
    }
}

#[derive(Default)]
struct State {
    meters: IndexMap<String, Meter>,
    timers: IndexMap<String, Timer>,
    /// Seconds since the last flush / clear, in flush ticks.
    since_flush: i64,
    since_clear: i64,
}

pub struct Metrics {
    meters: Vec<Template>,
    timers: Vec<(Template, Template)>,
    ignore_older_than: f64,
    flush_interval: i64,
    clear_interval: i64,
    rates: [bool; 3],
    /// (the percentile as written, for the field name; the quantile 0..1).
    percentiles: Vec<(String, f64)>,
    host: String,
    started: Instant,
    state: Mutex<State>,
}

fn number(args: &Args, name: &str, default: f64) -> BuildResult<f64> {
    match args.value(name) {
        None => Ok(default),
        Some(_) => args
            .f64(name)
            .ok_or_else(|| BuildError::option(name, "expected a number")),
    }
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    Ok(Box::new(build_metrics(args)?))
}

fn build_metrics(args: &Args) -> BuildResult<Metrics> {
    let mut rates = [false; 3];
    match args.value("rates") {
        None => rates = [true; 3],
        Some(_) => {
            for r in args.strings("rates") {
                match r.trim() {
                    "1" => rates[0] = true,
                    "5" => rates[1] = true,
                    "15" => rates[2] = true,
                    other => {
                        return Err(BuildError::option(
                            "rates",
                            format!("invalid rate {other:?}: possible rates are 1, 5, 15"),
                        ))
                    }
                }
            }
        }
    }
    let percentiles = match args.value("percentiles") {
        None => ["1", "5", "10", "90", "95", "99", "100"]
            .iter()
            .map(|p| (p.to_string(), p.parse::<f64>().unwrap_or(0.0) / 100.0))
            .collect(),
        Some(_) => {
            let mut v = Vec::new();
            for p in args.strings("percentiles") {
                let q = p
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|q| (0.0..=100.0).contains(q))
                    .ok_or_else(|| {
                        BuildError::option(
                            "percentiles",
                            format!("{p:?} is not a number between 0 and 100"),
                        )
                    })?;
                v.push((p.trim().to_string(), q / 100.0));
            }
            v
        }
    };
    Ok(Metrics {
        meters: args
            .strings("meter")
            .iter()
            .map(|m| Template::compile(m))
            .collect(),
        timers: args
            .hash("timer")
            .into_iter()
            .map(|(k, v)| {
                (
                    Template::compile(&k),
                    Template::compile(&v.to_logstash_string()),
                )
            })
            .collect(),
        ignore_older_than: number(args, "ignore_older_than", 0.0)?,
        flush_interval: number(args, "flush_interval", 5.0)? as i64,
        clear_interval: number(args, "clear_interval", -1.0)? as i64,
        rates,
        percentiles,
        host: crate::inputs::hostname(),
        started: Instant::now(),
        state: Mutex::new(State::default()),
    })
}

impl Metrics {
    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn set(e: &mut Event, name: &str, key: &str, v: Value) {
        let r = FieldRef::from_path([name, key]);
        let _ = e.set(&r, v);
    }

    fn rates(&self, e: &mut Event, name: &str, m: &mut Meter, now: f64, count: u64) {
        m.tick_if_necessary(now);
        Self::set(e, name, "count", Value::Integer(count as i64));
        for (i, key) in ["rate_1m", "rate_5m", "rate_15m"].iter().enumerate() {
            if self.rates[i] {
                Self::set(e, name, key, Value::Float(m.rates[i].rate));
            }
        }
    }

    /// One flush tick (5 s of Logstash's clock); the metric event when one is due.
    fn tick(&self, now: f64) -> Option<Event> {
        let mut st = self.state.lock().ok()?;
        st.since_flush += FLUSH_TICK;
        st.since_clear += FLUSH_TICK;
        if st.since_flush < self.flush_interval || (st.meters.is_empty() && st.timers.is_empty()) {
            return None;
        }
        let clear = self.clear_interval > 0 && st.since_clear >= self.clear_interval;
        let mut e = Event::from_message(self.host.as_str());
        let State { meters, timers, .. } = &mut *st;
        for (name, m) in meters.iter_mut() {
            let count = m.count;
            self.rates(&mut e, name, m, now, count);
        }
        for (name, t) in timers.iter_mut() {
            let count = t.count;
            self.rates(&mut e, name, &mut t.meter, now, count);
            let (min, max) = if t.count > 0 {
                (t.min, t.max)
            } else {
                (0.0, 0.0)
            };
            Self::set(&mut e, name, "min", Value::Float(min));
            Self::set(&mut e, name, "max", Value::Float(max));
            // As the Logstash plugin: the square root of Metriks' standard deviation.
            Self::set(&mut e, name, "stddev", Value::Float(t.stddev().sqrt()));
            let mean = if t.count > 0 {
                t.sum / t.count as f64
            } else {
                0.0
            };
            Self::set(&mut e, name, "mean", Value::Float(mean));
            let mut sorted = t.sample.clone();
            sorted.sort_by(f64::total_cmp);
            for (label, q) in &self.percentiles {
                let v = Timer::quantile(&sorted, *q);
                Self::set(&mut e, name, &format!("p{label}"), Value::Float(v));
            }
        }
        st.since_flush = 0;
        if clear {
            st.since_clear = 0;
            st.meters.clear();
            st.timers.clear();
        }
        Some(e)
    }
}

impl Filter for Metrics {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        if self.ignore_older_than > 0.0 {
            if let Some(ts) = event.timestamp() {
                let age = (logstash_mesos_core::Timestamp::now().unix_nanos() - ts.unix_nanos())
                    as f64
                    / 1e9;
                if age > self.ignore_older_than {
                    return Outcome::Failure;
                }
            }
        }
        let now = self.now();
        let names: Vec<String> = self.meters.iter().map(|m| m.render(event)).collect();
        let values: Vec<(String, f64)> = self
            .timers
            .iter()
            .map(|(k, v)| (k.render(event), crate::ruby::ruby_to_f(&v.render(event))))
            .collect();
        if let Ok(mut st) = self.state.lock() {
            for n in names {
                st.meters
                    .entry(n)
                    .or_insert_with(|| Meter::new(now))
                    .mark(now);
            }
            for (n, v) in values {
                st.timers
                    .entry(n)
                    .or_insert_with(|| Timer::new(now))
                    .update(v, now);
            }
        }
        // Logstash's metrics never calls filter_matched on the events it counts: the
        // common options are for the metric event only.
        Outcome::Failure
    }

    fn wants_flush(&self) -> bool {
        true
    }

    fn flush(&self, _final_flush: bool) -> Vec<(Event, Outcome)> {
        self.tick(self.now())
            .map(|e| vec![(e, Outcome::Success)])
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(args: Args) -> Metrics {
        let mut m = build_metrics(&args).unwrap();
        m.host = "h".into();
        m.percentiles = vec![("50".into(), 0.5), ("100".into(), 1.0)];
        m
    }

    fn get(e: &Event, r: &str) -> Option<Value> {
        e.get(&FieldRef::parse(r).unwrap()).cloned()
    }

    #[test]
    fn meter_counts_and_rates() {
        let m = metrics(
            Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
                .with("meter", Value::Array(vec!["%{kind}".into()])),
        );
        let mut ctx = FilterContext::default();
        for kind in ["a", "a", "b"] {
            let mut e = Event::new();
            let _ = e.set(&FieldRef::top("kind"), kind.into());
            assert_eq!(m.apply(&mut e, &mut ctx), Outcome::Failure);
            assert!(e.tags().is_empty());
        }
        // 6 s later: one tick of 2 events over 5 s is 0.4 events/s.
        let e = m.tick(6.0).unwrap();
        assert_eq!(get(&e, "message"), Some("h".into()));
        assert_eq!(get(&e, "[a][count]"), Some(Value::Integer(2)));
        assert_eq!(get(&e, "[b][count]"), Some(Value::Integer(1)));
        assert_eq!(get(&e, "[a][rate_1m]"), Some(Value::Float(0.4)));
        assert_eq!(get(&e, "[a][rate_15m]"), Some(Value::Float(0.4)));
        // A second tick without events decays the 1-minute rate faster than the 15.
        let e = m.tick(11.5).unwrap();
        let r1 = get(&e, "[a][rate_1m]").and_then(|v| v.as_f64()).unwrap();
        let r15 = get(&e, "[a][rate_15m]").and_then(|v| v.as_f64()).unwrap();
        assert!(r1 < r15 && r15 < 0.4, "{r1} {r15}");
        assert_eq!(get(&e, "[a][count]"), Some(Value::Integer(2)));
    }

    #[test]
    fn timer_statistics() {
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with(
            "timer",
            Value::Object(Box::new(
                [("rt".to_string(), Value::from("%{t}"))]
                    .into_iter()
                    .collect(),
            )),
        );
        let m = metrics(args);
        let mut ctx = FilterContext::default();
        for t in ["1", "2", "3", "4", "not a number", "-5"] {
            let mut e = Event::new();
            let _ = e.set(&FieldRef::top("t"), t.into());
            m.apply(&mut e, &mut ctx);
        }
        let e = m.tick(1.0).unwrap();
        // "not a number" is 0.0 (Ruby to_f); -5 is ignored.
        assert_eq!(get(&e, "[rt][count]"), Some(Value::Integer(5)));
        assert_eq!(get(&e, "[rt][min]"), Some(Value::Float(0.0)));
        assert_eq!(get(&e, "[rt][max]"), Some(Value::Float(4.0)));
        assert_eq!(get(&e, "[rt][mean]"), Some(Value::Float(2.0)));
        // Sample stddev of 0..4 is sqrt(2.5); the plugin emits its square root.
        let sd = get(&e, "[rt][stddev]").and_then(|v| v.as_f64()).unwrap();
        assert!((sd - 2.5f64.sqrt().sqrt()).abs() < 1e-12);
        assert_eq!(get(&e, "[rt][p50]"), Some(Value::Float(2.0)));
        assert_eq!(get(&e, "[rt][p100]"), Some(Value::Float(4.0)));
    }

    #[test]
    fn flush_interval_and_clear() {
        let args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS)
            .with("meter", Value::Array(vec!["x".into()]))
            .with("flush_interval", Value::Integer(10))
            .with("clear_interval", Value::Integer(20));
        let m = metrics(args);
        let mut ctx = FilterContext::default();
        // The clocks run from the first tick, as Logstash's do, events or not.
        assert!(m.tick(1.0).is_none(), "nothing seen yet");
        m.apply(&mut Event::new(), &mut ctx);
        assert!(m.tick(2.0).is_some(), "10 s since start");
        assert!(m.tick(3.0).is_none(), "5 s since the last flush");
        m.apply(&mut Event::new(), &mut ctx);
        let e = m.tick(4.0).unwrap();
        assert_eq!(get(&e, "[x][count]"), Some(Value::Integer(2)));
        // Cleared after 20 s: nothing to report until a new event arrives.
        assert!(m.tick(5.0).is_none() && m.tick(6.0).is_none());
        m.apply(&mut Event::new(), &mut ctx);
        let e = m.tick(7.0).unwrap();
        assert_eq!(get(&e, "[x][count]"), Some(Value::Integer(1)));
    }

    #[test]
    fn bad_options() {
        let ctx = BuildContext::default();
        for (k, v) in [
            ("rates", Value::Array(vec![Value::Integer(2)])),
            ("percentiles", Value::Array(vec!["x".into()])),
            ("percentiles", Value::Array(vec![Value::Integer(101)])),
            ("flush_interval", "soon".into()),
        ] {
            let err = build(
                &Args::for_plugin(crate::registry::Kind::Filter, OPTIONS).with(k, v),
                &ctx,
            )
            .err()
            .unwrap();
            assert_eq!(err.option.as_deref(), Some(k));
        }
    }
}
