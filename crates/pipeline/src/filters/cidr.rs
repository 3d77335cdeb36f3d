//! `cidr`: checks IP addresses against a list of networks; on a match the common options
//! (`add_tag`, `add_field`, ...) run.
//!
//! Follows logstash-filter-cidr: `address` (sprintf templates) or `address_field` (a
//! field holding a string or an array of strings) give the addresses; `network` (sprintf
//! templates, each possibly a comma-separated list, as `%{field}` of an array renders) or
//! `network_path` (a file split on `separator`, re-read every `refresh_interval` seconds)
//! give the networks. Invalid addresses and networks are skipped (logged at debug), values
//! of other shapes (numbers, hashes) never match, and an address only matches a network
//! of its own family, as Ruby's `IPAddr#include?` has it.

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Template, Value};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, Instant};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "address",
        OptKind::Array,
        "IP addresses to check (sprintf templates)",
    )
    .default("[]"),
    OptSpec::new(
        "address_field",
        OptKind::Field,
        "a field holding the address(es) to check (string or array)",
    ),
    OptSpec::new(
        "network",
        OptKind::Array,
        "networks to check against (sprintf; comma-separated lists allowed)",
    )
    .default("[]"),
    OptSpec::new(
        "network_path",
        OptKind::Path,
        "a file listing the networks (exclusive with network)",
    ),
    OptSpec::new(
        "refresh_interval",
        OptKind::Number,
        "seconds between re-reads of network_path",
    )
    .default("600"),
    OptSpec::new(
        "separator",
        OptKind::String,
        "what separates the networks in network_path",
    )
    .default("\"\n\""),
];

/// An IP network: the masked address and the prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// Parses `a.b.c.d`, `a.b.c.d/n`, `a.b.c.d/m.m.m.m`, `v6`, `v6/n` (as Ruby's
    /// `IPAddr.new` accepts them); a bare address is a host network.
    pub fn parse(s: &str) -> Option<Net> {
        let s = s.trim();
        let (ip, mask) = match s.split_once('/') {
            Some((ip, m)) => (ip, Some(m)),
            None => (s, None),
        };
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        let addr: IpAddr = ip.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match mask {
            None => max,
            Some(m) => match m.parse::<u8>() {
                Ok(p) if p <= max => p,
                Ok(_) => return None,
                Err(_) => match (addr, m.parse::<IpAddr>().ok()?) {
                    (IpAddr::V4(_), IpAddr::V4(mv)) => {
                        let bits = u32::from(mv);
                        // A netmask must be contiguous ones.
                        if bits.leading_ones() + bits.trailing_zeros() != 32 {
                            return None;
                        }
                        bits.leading_ones() as u8
                    }
                    _ => return None,
                },
            },
        };
        Some(Net {
            addr: mask_addr(addr, prefix),
            prefix,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask_addr(ip, self.prefix) == self.addr
            }
            _ => false,
        }
    }
}

fn mask_addr(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            IpAddr::V4((u32::from(v4) & m).into())
        }
        IpAddr::V6(v6) => {
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}

enum Addresses {
    Templates(Vec<Template>),
    Field(FieldRef),
}

enum Networks {
    /// Pre-parsed when every template is constant (the common case).
    Fixed(Vec<Net>),
    Templates(Vec<Template>),
    File(NetFile),
}

struct NetFile {
    path: PathBuf,
    separator: String,
    refresh: Duration,
    state: RwLock<(Vec<Net>, Instant)>,
}

/// A `network_path` file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
struct NetFileError {
    path: PathBuf,
    source: std::io::Error,
}

impl NetFile {
    fn read(path: &PathBuf, separator: &str) -> Result<Vec<Net>, NetFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| NetFileError {
            path: path.clone(),
            source,
        })?;
        let nets: Vec<Net> = split_sep(&text, separator)
            .filter(|s| !s.trim().is_empty())
            .filter_map(|s| {
                let n = Net::parse(s);
                if n.is_none() {
                    tracing::debug!(network = s, "cidr: invalid network in file, skipped");
                }
                n
            })
            .collect();
        Ok(nets)
    }

    fn networks(&self) -> Vec<Net> {
        let due = match self.state.read() {
            Ok(g) => g.1.elapsed() >= self.refresh,
            Err(_) => false,
        };
        if due {
            if let Ok(mut g) = self.state.write() {
                if g.1.elapsed() >= self.refresh {
                    match Self::read(&self.path, &self.separator) {
                        // Logstash keeps the old list when the new read is empty or fails.
                        Ok(n) if !n.is_empty() => g.0 = n,
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "cidr: cannot re-read network_path"),
                    }
                    g.1 = Instant::now();
                }
            }
        }
        self.state.read().map(|g| g.0.clone()).unwrap_or_default()
    }
}

fn split_sep<'a>(text: &'a str, sep: &'a str) -> Box<dyn Iterator<Item = &'a str> + 'a> {
    if sep.is_empty() {
        Box::new(std::iter::once(text))
    } else {
        Box::new(text.split(sep))
    }
}

/// The compiled cidr filter.
pub struct Cidr {
    addresses: Addresses,
    networks: Networks,
}

pub fn build(args: &Args, _ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    let address = args.strings("address");
    let network = args.strings("network");
    let addresses = match args.field("address_field")? {
        Some(_) if !address.is_empty() => {
            return Err(BuildError::option(
                "address_field",
                "address and address_field are mutually exclusive",
            ))
        }
        Some(f) => Addresses::Field(f),
        None => Addresses::Templates(address.iter().map(|a| Template::compile(a)).collect()),
    };
    let networks = match args.string("network_path") {
        Some(_) if !network.is_empty() => {
            return Err(BuildError::option(
                "network_path",
                "network and network_path are mutually exclusive",
            ))
        }
        Some(p) => {
            let path = PathBuf::from(p);
            // `separator => "\n"` reaches us as backslash-n without config.support_escapes.
            let separator = args
                .string("separator")
                .unwrap_or_else(|| "\n".to_string())
                .replace("\\n", "\n")
                .replace("\\r", "\r")
                .replace("\\t", "\t");
            let refresh = args.f64("refresh_interval").unwrap_or(600.0);
            if !(refresh.is_finite() && refresh >= 0.0) {
                return Err(BuildError::option(
                    "refresh_interval",
                    "expected a number of seconds >= 0",
                ));
            }
            let nets = NetFile::read(&path, &separator).map_err(|e| {
                BuildError::file("network_path", format!("cannot read the network list: {e}"))
            })?;
            if nets.is_empty() {
                return Err(BuildError::option(
                    "network_path",
                    "the file lists no valid network; check separator",
                ));
            }
            Networks::File(NetFile {
                path,
                separator,
                refresh: Duration::from_secs_f64(refresh),
                state: RwLock::new((nets, Instant::now())),
            })
        }
        None => {
            let templates: Vec<Template> = network.iter().map(|n| Template::compile(n)).collect();
            if templates.iter().all(Template::is_constant) {
                Networks::Fixed(parse_nets(network.iter().map(String::as_str)))
            } else {
                Networks::Templates(templates)
            }
        }
    };
    Ok(Box::new(Cidr {
        addresses,
        networks,
    }))
}

fn parse_nets<'a>(items: impl Iterator<Item = &'a str>) -> Vec<Net> {
    items
        .flat_map(|s| s.split(','))
        .filter_map(|n| {
            let net = Net::parse(n);
            if net.is_none() {
                tracing::debug!(network = n, "cidr: invalid network, skipped");
            }
            net
        })
        .collect()
}

/// An address as `IPAddr.new` reads it: a network's address counts as its first address.
fn parse_addr(s: &str) -> Option<IpAddr> {
    Net::parse(s).map(|n| n.addr)
}

impl Cidr {
    fn addresses(&self, event: &Event) -> Vec<IpAddr> {
        match &self.addresses {
            Addresses::Templates(ts) => ts
                .iter()
                .filter_map(|t| parse_addr(&t.render(event)))
                .collect(),
            Addresses::Field(f) => match event.get(f) {
                Some(Value::String(s)) => parse_addr(s).into_iter().collect(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().and_then(parse_addr))
                    .collect(),
                // Numbers, hashes, booleans: Ruby's IPAddr.new rejects them.
                _ => Vec::new(),
            },
        }
    }
}

impl Filter for Cidr {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        let addrs = self.addresses(event);
        if addrs.is_empty() {
            return Outcome::Failure;
        }
        let owned;
        let nets: &[Net] = match &self.networks {
            Networks::Fixed(n) => n,
            Networks::Templates(ts) => {
                let rendered: Vec<String> = ts.iter().map(|t| t.render(event)).collect();
                owned = parse_nets(rendered.iter().map(String::as_str));
                &owned
            }
            Networks::File(f) => {
                owned = f.networks();
                &owned
            }
        };
        if addrs.iter().any(|a| nets.iter().any(|n| n.contains(*a))) {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::Map;

    fn build_with(pairs: &[(&str, Value)]) -> BuildResult<Box<dyn Filter>> {
        let mut args = Args::for_plugin(crate::registry::Kind::Filter, OPTIONS);
        for (k, v) in pairs {
            args = args.with(k, v.clone());
        }
        build(&args, &BuildContext::default())
    }

    fn matches(f: &dyn Filter, fields: serde_json::Value) -> bool {
        let map: Map = serde_json::from_value(fields).expect("map");
        let mut e = Event::from_map(map);
        f.apply(&mut e, &mut FilterContext::default()) == Outcome::Success
    }

    fn arr(v: &[&str]) -> Value {
        Value::Array(v.iter().map(|s| Value::from(*s)).collect())
    }

    #[test]
    fn parses_networks_like_ipaddr() {
        let n = Net::parse("192.168.0.0/16").expect("net");
        assert!(n.contains("192.168.4.5".parse().expect("ip")));
        assert!(!n.contains("192.169.0.1".parse().expect("ip")));
        let m = Net::parse("10.0.0.0/255.0.0.0").expect("mask");
        assert_eq!(m, Net::parse("10.1.2.3/8").expect("prefix"));
        assert!(Net::parse("10.0.0.0/255.0.255.0").is_none());
        assert!(Net::parse("10.0.0.0/33").is_none());
        assert!(Net::parse("fe80::/129").is_none());
        assert!(Net::parse("not an ip").is_none());
        assert!(Net::parse("").is_none());
        let v6 = Net::parse("fe80::/64").expect("v6");
        assert!(v6.contains("fe80::1".parse().expect("ip")));
        // Families never mix.
        assert!(!Net::parse("0.0.0.0/0")
            .expect("all")
            .contains("::1".parse().expect("ip")));
        assert!(Net::parse("::/0")
            .expect("all6")
            .contains("::1".parse().expect("ip")));
    }

    #[test]
    fn address_templates_and_lists() {
        let f = build_with(&[
            ("address", arr(&["%{clientip}"])),
            ("network", arr(&["10.0.0.0/8, 192.168.0.0/16", "bogus"])),
        ])
        .expect("build");
        assert!(matches(&*f, serde_json::json!({"clientip": "192.168.1.1"})));
        assert!(!matches(&*f, serde_json::json!({"clientip": "8.8.8.8"})));
        // Missing field: the template stays literal and is no address.
        assert!(!matches(&*f, serde_json::json!({})));
        let f = build_with(&[("address", arr(&["%{ip}"])), ("network", arr(&["%{nets}"]))])
            .expect("build");
        assert!(matches(
            &*f,
            serde_json::json!({"ip": "172.16.0.9", "nets": ["10.0.0.0/8", "172.16.0.0/12"]})
        ));
        assert!(!matches(&*f, serde_json::json!({"ip": "172.16.0.9"})));
    }

    #[test]
    fn address_field_shapes() {
        let f = build_with(&[
            ("address_field", Value::from("[host][ip]")),
            ("network", arr(&["192.168.0.0/24"])),
        ])
        .expect("build");
        assert!(matches(
            &*f,
            serde_json::json!({"host": {"ip": ["x", "192.168.0.7"]}})
        ));
        assert!(!matches(&*f, serde_json::json!({"host": {"ip": 377}})));
        assert!(!matches(
            &*f,
            serde_json::json!({"host": {"ip": {"a": "192.168.0.7"}}})
        ));
        assert!(!matches(
            &*f,
            serde_json::json!({"host": {"ip": [1, null]}})
        ));
    }

    #[test]
    fn network_path_and_bad_config() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("nets.txt");
        std::fs::write(&p, "10.0.0.0/8;bad;192.168.0.0/16").expect("write");
        let f = build_with(&[
            ("address", arr(&["%{ip}"])),
            ("network_path", Value::from(p.to_string_lossy().as_ref())),
            ("separator", Value::from(";")),
            ("refresh_interval", Value::Integer(0)),
        ])
        .expect("build");
        assert!(matches(&*f, serde_json::json!({"ip": "192.168.3.3"})));
        std::fs::write(&p, "8.8.8.0/24").expect("rewrite");
        assert!(matches(&*f, serde_json::json!({"ip": "8.8.8.8"})));
        assert!(!matches(&*f, serde_json::json!({"ip": "192.168.3.3"})));

        let err = build_with(&[
            ("network_path", Value::from("/nonexistent/nets")),
            ("address", arr(&["%{ip}"])),
        ])
        .err()
        .expect("missing file");
        assert_eq!(err.option.as_deref(), Some("network_path"));
        let err = build_with(&[
            ("network_path", Value::from(p.to_string_lossy().as_ref())),
            ("network", arr(&["10.0.0.0/8"])),
        ])
        .err()
        .expect("exclusive");
        assert_eq!(err.option.as_deref(), Some("network_path"));
        let err = build_with(&[
            ("address_field", Value::from("ip")),
            ("address", arr(&["%{ip}"])),
        ])
        .err()
        .expect("exclusive");
        assert_eq!(err.option.as_deref(), Some("address_field"));
    }
}
