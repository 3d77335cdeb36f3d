//! `dns`: resolves host names to addresses (`resolve`) and addresses to names (`reverse`).
//!
//! Follows logstash-filter-dns 3.x: each listed field must hold one string (a one-element
//! array counts; several values or a non-string stop the filter, logged); a missing field is
//! skipped. `action => append` (default) turns the field into `[original, result]` (or
//! appends to the array), `replace` overwrites it. Names go through `hostsfile` files, then
//! `/etc/hosts`, then DNS: `nameserver => { address => [...] search => [...] ndots => n }`, or
//! the system's `/etc/resolv.conf` when neither `nameserver` nor `hostsfile` is set. Each
//! query waits `timeout` seconds per server and is retried `max_retries` times; when every
//! try times out the event gets `tag_on_timeout` (`_dnstimeout`). A name that does not
//! resolve (NXDOMAIN, no record) leaves the event as it was and untagged. Results are kept
//! in `hit_cache_size` entries for `hit_cache_ttl` s, failures in `failed_cache_size` for
//! `failed_cache_ttl` s (both off by default). International names are sent in their ASCII
//! (punycode) form and reverse results turned back into Unicode, as Logstash's `IDN` calls do.
//! The common options (`add_tag`, ...) run only when every listed field was handled.
//!
//! Lookups block the worker thread for at most `timeout × (max_retries + 1)` per server and
//! field, as they do in Logstash; the wire format is `hickory-proto`, the transport plain UDP.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use logstash_mesos_core::{Event, FieldRef, Value};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "resolve",
        OptKind::Array,
        "fields whose host names are resolved",
    ),
    OptSpec::new(
        "reverse",
        OptKind::Array,
        "fields whose IP addresses are reversed",
    ),
    OptSpec::new(
        "action",
        OptKind::Enum(&["append", "replace"]),
        "append the result to the field or replace it",
    )
    .default("append"),
    OptSpec::new(
        "nameserver",
        OptKind::Any,
        "DNS servers: { address => [...] search => [...] ndots => 1 } or an array of addresses",
    ),
    OptSpec::new(
        "timeout",
        OptKind::Number,
        "seconds to wait for a server's answer",
    )
    .default("0.5"),
    OptSpec::new("max_retries", OptKind::Number, "retries after a timeout").default("2"),
    OptSpec::new(
        "hit_cache_size",
        OptKind::Number,
        "cached successful lookups (0: none)",
    )
    .default("0"),
    OptSpec::new(
        "hit_cache_ttl",
        OptKind::Number,
        "seconds a success is cached",
    )
    .default("60"),
    OptSpec::new(
        "failed_cache_size",
        OptKind::Number,
        "cached failed lookups (0: none)",
    )
    .default("0"),
    OptSpec::new(
        "failed_cache_ttl",
        OptKind::Number,
        "seconds a failure is cached",
    )
    .default("5"),
    OptSpec::new(
        "hostsfile",
        OptKind::Array,
        "hosts files consulted before DNS",
    ),
    OptSpec::new(
        "tag_on_timeout",
        OptKind::Array,
        "tags added when a lookup times out",
    )
    .default("[\"_dnstimeout\"]"),
];

/// One hosts file: name -> first address, address -> first name.
#[derive(Default, Debug)]
struct Hosts {
    by_name: HashMap<String, IpAddr>,
    by_addr: HashMap<IpAddr, String>,
}

impl Hosts {
    fn parse(text: &str) -> Hosts {
        let mut h = Hosts::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut parts = line.split_whitespace();
            let Some(addr) = parts.next().and_then(|a| a.parse::<IpAddr>().ok()) else {
                continue;
            };
            for (i, name) in parts.enumerate() {
                let lower = name.to_ascii_lowercase();
                h.by_name.entry(lower).or_insert(addr);
                if i == 0 {
                    h.by_addr.entry(addr).or_insert_with(|| name.to_string());
                }
            }
        }
        h
    }

    fn load(path: &str) -> Result<Hosts, HostsfileError> {
        std::fs::read_to_string(path)
            .map(|t| Hosts::parse(&t))
            .map_err(|source| HostsfileError {
                path: path.to_string(),
                source,
            })
    }
}

/// A `hostsfile` that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
struct HostsfileError {
    path: String,
    source: std::io::Error,
}

/// A `nameserver` entry that is no address.
#[derive(Debug, thiserror::Error)]
#[error("invalid nameserver address {0:?} (expected an IP, IP:port or [IPv6]:port)")]
struct InvalidNameserver(String);

/// A DNS client configuration (`Resolv::DNS`'s nameserver, search, ndots).
#[derive(Clone, Debug, Default)]
struct DnsConfig {
    servers: Vec<SocketAddr>,
    search: Vec<String>,
    ndots: usize,
}

impl DnsConfig {
    /// `/etc/resolv.conf`'s `nameserver`, `search`/`domain` and `options ndots:`.
    fn from_resolv_conf(text: &str) -> DnsConfig {
        let mut c = DnsConfig {
            ndots: 1,
            ..DnsConfig::default()
        };
        for line in text.lines() {
            let mut w = line.split_whitespace();
            match w.next() {
                Some("nameserver") => {
                    if let Some(a) = w.next().and_then(|a| parse_server(a).ok()) {
                        c.servers.push(a);
                    }
                }
                Some("search") | Some("domain") => c.search = w.map(String::from).collect(),
                Some("options") => {
                    for o in w {
                        if let Some(n) = o.strip_prefix("ndots:").and_then(|n| n.parse().ok()) {
                            c.ndots = n;
                        }
                    }
                }
                _ => {}
            }
        }
        c
    }

    /// `generate_candidates`: the name itself first when it has at least `ndots` dots,
    /// then the name under each search domain, then the name as absolute.
    fn candidates(&self, name: &str) -> Vec<String> {
        if let Some(abs) = name.strip_suffix('.') {
            return vec![abs.to_string()];
        }
        let mut out = Vec::new();
        if name.matches('.').count() >= self.ndots {
            out.push(name.to_string());
        }
        for d in &self.search {
            out.push(format!("{name}.{}", d.trim_end_matches('.')));
        }
        if !out.iter().any(|c| c == name) {
            out.push(name.to_string());
        }
        out
    }
}

fn parse_server(s: &str) -> Result<SocketAddr, InvalidNameserver> {
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| InvalidNameserver(s.to_string()))
}

/// Why a lookup gave nothing.
#[derive(Debug, PartialEq, Eq)]
enum LookupError {
    /// Every server timed out on every try.
    Timeout,
    /// Malformed name or address; logged.
    Invalid(String),
}

struct TtlCache {
    ttl: Duration,
    map: Mutex<lru::LruCache<String, (Option<String>, Instant)>>,
}

impl TtlCache {
    fn new(size: i64, ttl: f64) -> Option<TtlCache> {
        let n = NonZeroUsize::new(usize::try_from(size).ok()?)?;
        Some(TtlCache {
            ttl: Duration::from_secs_f64(ttl.max(0.0)),
            map: Mutex::new(lru::LruCache::new(n)),
        })
    }

    fn get(&self, k: &str) -> Option<Option<String>> {
        let mut m = self.map.lock().ok()?;
        match m.get(k) {
            Some((v, at)) if at.elapsed() < self.ttl => Some(v.clone()),
            Some(_) => {
                m.pop(k);
                None
            }
            None => None,
        }
    }

    fn put(&self, k: &str, v: Option<String>) {
        if let Ok(mut m) = self.map.lock() {
            m.put(k.to_string(), (v, Instant::now()));
        }
    }
}

/// The compiled dns filter.
pub struct Dns {
    resolve: Vec<FieldRef>,
    reverse: Vec<FieldRef>,
    replace: bool,
    hosts: Vec<Hosts>,
    dns: DnsConfig,
    timeout: Duration,
    max_retries: u32,
    hit_cache: Option<TtlCache>,
    failed_cache: Option<TtlCache>,
    tag_on_timeout: Vec<String>,
}

fn fields(args: &Args, name: &str) -> BuildResult<Vec<FieldRef>> {
    args.strings(name)
        .iter()
        .map(|f| FieldRef::parse(f).map_err(|e| BuildError::option(name, e.to_string())))
        .collect()
}

fn nameserver_config(v: &Value) -> BuildResult<DnsConfig> {
    let err = |m: String| BuildError::option("nameserver", m);
    let strings = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::Array(a)) => a.iter().map(Value::to_logstash_string).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(x) => vec![x.to_logstash_string()],
        }
    };
    let (addresses, search, ndots) = match v {
        Value::Object(m) => {
            if let Some(k) = m
                .keys()
                .find(|k| !matches!(k.as_str(), "address" | "search" | "ndots"))
            {
                return Err(err(format!(
                    "unknown nameserver argument {k:?} (allowed: address, search, ndots)"
                )));
            }
            let addr = m
                .get("address")
                .ok_or_else(|| err("the nameserver hash must include address".into()))?;
            let ndots = match m.get("ndots") {
                None => 1,
                Some(n) => match n {
                    Value::Integer(i) => *i,
                    other => other
                        .to_logstash_string()
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| {
                            err(format!(
                                "ndots must be an integer, got {}",
                                other.to_logstash_string()
                            ))
                        })?,
                },
            };
            (strings(Some(addr)), strings(m.get("search")), ndots)
        }
        other => (strings(Some(other)), Vec::new(), 1),
    };
    if addresses.is_empty() {
        return Err(err(
            "nameserver addresses, when given, cannot be empty".into()
        ));
    }
    if search.len() > 6 {
        return Err(err(format!(
            "at most 6 search domains are accepted, got {}",
            search.len()
        )));
    }
    if ndots <= 0 {
        return Err(err(format!("ndots must be positive, got {ndots}")));
    }
    Ok(DnsConfig {
        servers: addresses
            .iter()
            .map(|a| parse_server(a))
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?,
        search,
        ndots: usize::try_from(ndots).unwrap_or(1),
    })
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let resolve = fields(args, "resolve")?;
    let reverse = fields(args, "reverse")?;
    let replace = match args
        .string("action")
        .unwrap_or_else(|| "append".to_string())
        .as_str()
    {
        "append" => false,
        "replace" => true,
        other => {
            return Err(BuildError::option(
                "action",
                format!("expected append or replace, got {other:?}"),
            ))
        }
    };
    let timeout = args.f64("timeout").unwrap_or(0.5);
    if !(timeout.is_finite() && timeout > 0.0) {
        return Err(BuildError::option(
            "timeout",
            "expected a number of seconds > 0",
        ));
    }
    let max_retries = args.i64("max_retries").unwrap_or(2);
    if max_retries < 0 {
        return Err(BuildError::option("max_retries", "expected a number >= 0"));
    }
    let hostsfiles = args.strings("hostsfile");
    let mut hosts = hostsfiles
        .iter()
        .map(|p| Hosts::load(p).map_err(|e| BuildError::option("hostsfile", e)))
        .collect::<BuildResult<Vec<_>>>()?;
    // The system's hosts file always comes after the user's; a missing one is empty.
    hosts.push(Hosts::load("/etc/hosts").unwrap_or_default());
    let dns = match args.value("nameserver") {
        Some(v) => nameserver_config(v)?,
        None if hostsfiles.is_empty() => DnsConfig::from_resolv_conf(
            &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        ),
        // With only hostsfile, Logstash queries no DNS server.
        None => DnsConfig {
            ndots: 1,
            ..DnsConfig::default()
        },
    };
    let tag_on_timeout = if args.contains("tag_on_timeout") {
        args.strings("tag_on_timeout")
    } else {
        vec!["_dnstimeout".to_string()]
    };
    Ok(Box::new(Dns {
        resolve,
        reverse,
        replace,
        hosts,
        dns,
        timeout: Duration::from_secs_f64(timeout),
        max_retries: u32::try_from(max_retries).unwrap_or(u32::MAX),
        hit_cache: TtlCache::new(
            args.i64("hit_cache_size").unwrap_or(0),
            args.f64("hit_cache_ttl").unwrap_or(60.0),
        ),
        failed_cache: TtlCache::new(
            args.i64("failed_cache_size").unwrap_or(0),
            args.f64("failed_cache_ttl").unwrap_or(5.0),
        ),
        tag_on_timeout,
    }))
}

/// One UDP exchange with one server: `Ok(None)` for NXDOMAIN or no usable answer.
fn exchange(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message, LookupError> {
    let bind: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let sock = UdpSocket::bind(bind).map_err(|e| LookupError::Invalid(e.to_string()))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| LookupError::Invalid(e.to_string()))?;
    let id = fastrand::u16(..);
    let mut q = Message::new();
    q.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name.clone(), rtype));
    let bytes = q
        .to_vec()
        .map_err(|e| LookupError::Invalid(e.to_string()))?;
    sock.send_to(&bytes, server)
        .map_err(|e| LookupError::Invalid(e.to_string()))?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(LookupError::Timeout);
        }
        sock.set_read_timeout(Some(left))
            .map_err(|e| LookupError::Invalid(e.to_string()))?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) if from == server => match Message::from_vec(&buf[..n]) {
                // Answers to other queries (late replies) are ignored.
                Ok(m) if m.id() == id && m.message_type() == MessageType::Response => return Ok(m),
                _ => continue,
            },
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(LookupError::Timeout)
            }
            // ICMP port unreachable and the like: this server is no use.
            Err(_) => return Err(LookupError::Timeout),
        }
    }
}

impl Dns {
    /// Asks each server in turn; a timeout of all of them on every try is a timeout.
    fn query(&self, name: &Name, rtype: RecordType) -> Result<Option<Message>, LookupError> {
        if self.dns.servers.is_empty() {
            return Ok(None);
        }
        for _try in 0..=self.max_retries {
            for s in &self.dns.servers {
                match exchange(*s, name, rtype, self.timeout) {
                    Ok(m) => return Ok(Some(m)),
                    Err(LookupError::Timeout) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        Err(LookupError::Timeout)
    }

    fn getaddress(&self, name: &str) -> Result<Option<String>, LookupError> {
        let lower = name.to_lowercase();
        for h in &self.hosts {
            if let Some(a) = h.by_name.get(lower.trim_end_matches('.')) {
                return Ok(Some(a.to_string()));
            }
        }
        for cand in self.dns.candidates(name) {
            let n = Name::from_utf8(&cand)
                .map(|mut n| {
                    n.set_fqdn(true);
                    n
                })
                .map_err(|e| LookupError::Invalid(format!("{cand:?}: {e}")))?;
            for rtype in [RecordType::A, RecordType::AAAA] {
                let Some(m) = self.query(&n, rtype)? else {
                    continue;
                };
                if m.response_code() == ResponseCode::NXDomain {
                    break;
                }
                let found = m.answers().iter().find_map(|r| match r.data() {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                    _ => None,
                });
                if let Some(ip) = found {
                    return Ok(Some(ip.to_string()));
                }
            }
        }
        Ok(None)
    }

    fn getname(&self, addr: IpAddr) -> Result<Option<String>, LookupError> {
        for h in &self.hosts {
            if let Some(n) = h.by_addr.get(&addr) {
                return Ok(Some(n.clone()));
            }
        }
        let Some(m) = self.query(&Name::from(addr), RecordType::PTR)? else {
            return Ok(None);
        };
        Ok(m.answers().iter().find_map(|r| match r.data() {
            RData::PTR(p) => {
                let s = p.0.to_utf8();
                Some(s.strip_suffix('.').unwrap_or(&s).to_string())
            }
            _ => None,
        }))
    }

    /// Handles one field; `false` stops the filter (Logstash's early `return`).
    fn one(&self, event: &mut Event, field: &FieldRef, reverse: bool) -> bool {
        let (raw, is_array) = match event.get(field) {
            None | Some(Value::Null) => {
                tracing::warn!(field = ?field.path(), "dns: missing field");
                return true;
            }
            Some(Value::Array(a)) if a.len() > 1 => {
                tracing::warn!(field = ?field.path(), "dns: skipping, can't deal with multiple values");
                return false;
            }
            Some(Value::Array(a)) => match a.first() {
                Some(Value::String(s)) => (s.clone(), true),
                _ => {
                    tracing::warn!(field = ?field.path(), "dns: skipping, can't deal with non-string values");
                    return false;
                }
            },
            Some(Value::String(s)) => (s.clone(), false),
            Some(_) => {
                tracing::warn!(field = ?field.path(), "dns: skipping, can't deal with non-string values");
                return false;
            }
        };
        let addr = if reverse {
            match raw.parse::<IpAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    tracing::debug!(value = %raw, "dns: not an address");
                    return false;
                }
            }
        } else {
            None
        };
        if let Some(fc) = &self.failed_cache {
            if fc.get(&raw).is_some() {
                return false;
            }
        }
        let cached = self.hit_cache.as_ref().and_then(|c| c.get(&raw)).flatten();
        let result = match cached {
            Some(v) => Ok(Some(v)),
            None => {
                let r = match addr {
                    Some(a) => self.getname(a),
                    None => self.getaddress(&raw),
                };
                if let (Ok(Some(v)), Some(c)) = (&r, &self.hit_cache) {
                    c.put(&raw, Some(v.clone()));
                }
                r
            }
        };
        let found = match result {
            Ok(Some(v)) => v,
            Ok(None) => {
                if let Some(fc) = &self.failed_cache {
                    fc.put(&raw, None);
                }
                tracing::debug!(value = %raw, "dns: no result");
                return false;
            }
            Err(LookupError::Timeout) => {
                if let Some(fc) = &self.failed_cache {
                    fc.put(&raw, None);
                }
                for t in &self.tag_on_timeout {
                    event.add_tag(t);
                }
                return false;
            }
            Err(LookupError::Invalid(e)) => {
                tracing::error!(value = %raw, error = %e, "dns: lookup error");
                return false;
            }
        };
        let new = match (self.replace, is_array) {
            (true, true) => Value::Array(vec![Value::String(found)]),
            (true, false) => Value::String(found),
            (false, true) => Value::Array(vec![Value::String(raw), Value::String(found)]),
            (false, false) => Value::Array(vec![Value::String(raw), Value::String(found)]),
        };
        if let Err(e) = event.set(field, new) {
            tracing::warn!(error = %e, "dns: cannot set the field");
            return false;
        }
        true
    }
}

impl Filter for Dns {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        for f in &self.resolve {
            if !self.one(event, f, false) {
                return Outcome::Failure;
            }
        }
        for f in &self.reverse {
            if !self.one(event, f, true) {
                return Outcome::Failure;
            }
        }
        Outcome::Success
    }
}

#[cfg(test)]
mod tests;
