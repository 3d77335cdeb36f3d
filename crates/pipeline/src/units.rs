//! Logstash's friendly units for option values: durations (`"500 ms"`, `"2 weeks"`, or
//! a bare number in the option's unit) and byte sizes (`"10 MiB"`, `"2kB"`). Options of
//! kind `Duration`/`Bytes` are parsed once by `compile`, errors at the option's position.

use std::time::Duration;

/// Parses Logstash's friendly durations: a number (in `bare_unit` seconds) or
/// `<number> <unit>` with us/ms/s/m/h/d/w and their long forms.
pub fn parse_duration(s: &str, bare_unit: f64) -> Option<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim().to_ascii_lowercase().as_str() {
        "" => bare_unit,
        "us" | "usec" | "usecs" | "microsecond" | "microseconds" => 1e-6,
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1e-3,
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        "w" | "week" | "weeks" => 604800.0,
        _ => return None,
    };
    let total = n * secs;
    (0.0..1e12)
        .contains(&total)
        .then(|| Duration::from_secs_f64(total))
}

/// Parses a Logstash `:bytes` value: a number of bytes or `<n> <unit>` (kB = 1000,
/// KiB = 1024, up to TB/TiB), as the `Filesize` helper Logstash uses.
pub fn parse_bytes(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024.0f64.powi(4),
        _ => return None,
    };
    let bytes = n * mult;
    (bytes.is_finite() && bytes >= 0.0 && bytes < usize::MAX as f64).then_some(bytes as usize)
}

/// Parses a Logstash *setting* size (`queue.max_bytes: 1024mb`): its `ByteValue` counts
/// kb, mb, gb, tb in powers of 1024 (unlike plugin options, whose `kB` is 1000).
pub fn parse_setting_bytes(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let shift = match unit.trim() {
        "" | "b" => 0,
        "kb" => 10,
        "mb" => 20,
        "gb" => 30,
        "tb" => 40,
        _ => return None,
    };
    n.parse::<u64>().ok()?.checked_mul(1u64 << shift)
}
