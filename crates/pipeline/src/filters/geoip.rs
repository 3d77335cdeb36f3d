//! `geoip`: adds location and network data for an IP address from a MaxMind DB (`.mmdb`).
//!
//! Follows logstash-filter-geoip 7.x/8.x (its Java `GeoIPFilter`): the database type
//! (City, Country, ASN, ISP, Domain, Anonymous-IP, Enterprise; GeoIP2, GeoLite2 and
//! compatible DB-IP files) is read from the file's metadata and picks the default
//! `fields`; field names follow `ecs_compatibility` (`disabled`: `city_name`,
//! `country_code2`, `country_code3` (the two-letter code, a Logstash quirk), `asn`,
//! `as_org`, `region_code`...; `v1`/`v8`: `[geo][city_name]`, `[geo][country_iso_code]`,
//! `[as][number]`, `[as][organization][name]`, `[geo][region_iso_code]`...). `target`
//! defaults to `geoip` in legacy mode; in ECS mode to the parent of a `source` ending in
//! `[ip]` (e.g. `[client][ip]` -> `client`), and is required otherwise.
//!
//! Failures, as Logstash has them: a missing or blank source adds `tag_on_failure`
//! (`_geoip_lookup_failure`) and no target; an address that does not parse, that the
//! database does not hold (private ranges, `0.0.0.0`, `::1`) or a City record without
//! coordinates sets the target to `{}` and adds the tag. IPv6 addresses are written in
//! Java's full form (`2607:f0d0:1002:51:0:0:0:4`); IPv4-mapped IPv6 addresses are looked up
//! as IPv4. Unlike Java's `InetAddress.getByName`, a host name is never resolved (no DNS
//! lookups on the worker threads): it counts as an invalid address.
//!
//! Databases: Logstash downloads GeoLite2 itself; GeoLite2's licence does not let us ship
//! it inside the binary, so `database` is required and a config without it is rejected
//! with an error naming the option (`scripts/setup/geoip.sh` installs GeoLite2 files from a
//! registry package for the tests). A file is loaded into memory once and shared by every
//! filter that names the same path. Results are kept in an LRU cache of `cache_size`
//! addresses (default 1000, as Logstash's `CHMCache`; 0 disables it): one exact LRU per
//! filter, shared by the workers behind one lock that is held only to find an entry and
//! take a reference to it (`Arc`); its values are copied into the event after the lock
//! is released. A lookup writes its values into presized maps following a layout worked
//! out from `fields` at startup (no key searches), and decodes only the parts of the
//! record it reads (English names; of `subdivisions`, only the last is decoded).

use crate::options::{Args, BuildError, BuildResult, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, FilterContext, Outcome};
use logstash_mesos_core::{Event, FieldRef, Key, Map, Value};
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

pub static OPTIONS: &[OptSpec] = &[
    OptSpec::new(
        "source",
        OptKind::Field,
        "the field holding the IP address (string, or an array: its first element)",
    )
    .required(),
    OptSpec::new(
        "database",
        OptKind::Path,
        "the .mmdb file (GeoLite2/GeoIP2 City, Country, ASN, ISP, ...); required here",
    ),
    OptSpec::new(
        "default_database_type",
        OptKind::Enum(&["City", "ASN"]),
        "the database Logstash would download; only named in the error without database",
    )
    .default("City"),
    OptSpec::new(
        "fields",
        OptKind::Array,
        "which fields to add (names as in Logstash: city_name, country_code2, location, ...)",
    ),
    OptSpec::new(
        "target",
        OptKind::Field,
        "where the data goes (legacy: geoip; ECS: the parent of a source ending in [ip])",
    ),
    OptSpec::new(
        "cache_size",
        OptKind::Number,
        "how many addresses' results to keep (LRU; 0 disables)",
    )
    .default("1000"),
    OptSpec::new(
        "tag_on_failure",
        OptKind::Array,
        "tags added when the lookup finds nothing",
    )
    .default("[\"_geoip_lookup_failure\"]"),
    OptSpec::new(
        "ecs_compatibility",
        OptKind::Enum(&["disabled", "v1", "v8"]),
        "field names: legacy (disabled) or ECS (v1, v8)",
    ),
];

/// Logstash's `Field` enum, in its declaration order (which is the order fields are set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    AutonomousSystemNumber,
    AutonomousSystemOrganization,
    CityName,
    CountryName,
    ContinentCode,
    ContinentName,
    CountryCode2,
    CountryCode3,
    Domain,
    Ip,
    Isp,
    PostalCode,
    DmaCode,
    RegionName,
    RegionCode,
    RegionIsoCode,
    Timezone,
    Location,
    Latitude,
    Longitude,
    Organization,
    Network,
    HostingProvider,
    TorExitNode,
    AnonymousVpn,
    Anonymous,
    PublicProxy,
    ResidentialProxy,
}

const ALL_FIELDS: &[(Field, &str, &str)] = &[
    // (field, option name / legacy name, ECS path; "" = not written in ECS mode)
    (Field::AutonomousSystemNumber, "asn", "as.number"),
    (
        Field::AutonomousSystemOrganization,
        "as_org",
        "as.organization.name",
    ),
    (Field::CityName, "city_name", "geo.city_name"),
    (Field::CountryName, "country_name", "geo.country_name"),
    (Field::ContinentCode, "continent_code", "geo.continent_code"),
    (Field::ContinentName, "continent_name", "geo.continent_name"),
    (Field::CountryCode2, "country_code2", "geo.country_iso_code"),
    (Field::CountryCode3, "country_code3", ""),
    (Field::Domain, "domain", "domain"),
    (Field::Ip, "ip", "ip"),
    (Field::Isp, "isp", "mmdb.isp"),
    (Field::PostalCode, "postal_code", "geo.postal_code"),
    (Field::DmaCode, "dma_code", "mmdb.dma_code"),
    (Field::RegionName, "region_name", "geo.region_name"),
    (Field::RegionCode, "region_code", "geo.region_code"),
    (
        Field::RegionIsoCode,
        "region_iso_code",
        "geo.region_iso_code",
    ),
    (Field::Timezone, "timezone", "geo.timezone"),
    (Field::Location, "location", "geo.location"),
    (Field::Latitude, "latitude", "geo.location.lat"),
    (Field::Longitude, "longitude", "geo.location.lon"),
    (Field::Organization, "organization", "mmdb.organization"),
    (Field::Network, "network", "ip_traits.network"),
    (
        Field::HostingProvider,
        "hosting_provider",
        "ip_traits.hosting_provider",
    ),
    (
        Field::TorExitNode,
        "tor_exit_node",
        "ip_traits.tor_exit_node",
    ),
    (
        Field::AnonymousVpn,
        "anonymous_vpn",
        "ip_traits.anonymous_vpn",
    ),
    (Field::Anonymous, "anonymous", "ip_traits.anonymous"),
    (Field::PublicProxy, "public_proxy", "ip_traits.public_proxy"),
    (
        Field::ResidentialProxy,
        "residential_proxy",
        "ip_traits.residential_proxy",
    ),
];

/// Also accepted in `fields`: Logstash parses the enum constant names case-insensitively
/// (`AUTONOMOUS_SYSTEM_NUMBER`), which differ from the legacy names for these two.
fn parse_field(name: &str) -> Option<Field> {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "autonomous_system_number" => return Some(Field::AutonomousSystemNumber),
        "autonomous_system_organization" => return Some(Field::AutonomousSystemOrganization),
        _ => {}
    }
    ALL_FIELDS
        .iter()
        .find(|(_, n, _)| *n == lower)
        .map(|(f, _, _)| *f)
}

fn field_path(f: Field, ecs: bool) -> Option<Vec<&'static str>> {
    let (_, legacy, ecs_path) = ALL_FIELDS.iter().find(|(g, _, _)| *g == f)?;
    if ecs {
        if ecs_path.is_empty() {
            None
        } else {
            Some(ecs_path.split('.').collect())
        }
    } else {
        Some(vec![legacy])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DbKind {
    City,
    Country,
    Domain,
    Asn,
    Isp,
    Enterprise,
    AnonymousIp,
}

impl DbKind {
    /// `Database.fromDatabaseType`: substring tests, in this order.
    fn from_type(t: &str) -> Option<DbKind> {
        [
            ("City", DbKind::City),
            ("Country", DbKind::Country),
            ("GeoIP2-Domain", DbKind::Domain),
            ("GeoLite2-ASN", DbKind::Asn),
            ("GeoIP2-ISP", DbKind::Isp),
            ("Enterprise", DbKind::Enterprise),
            ("GeoIP2-Anonymous-IP", DbKind::AnonymousIp),
        ]
        .into_iter()
        .find(|(s, _)| t.contains(s))
        .map(|(_, k)| k)
    }

    fn default_fields(self, ecs: bool) -> Vec<Field> {
        use Field::*;
        let mut v = match self {
            DbKind::City => vec![
                Ip,
                CityName,
                ContinentCode,
                CountryName,
                CountryCode2,
                CountryCode3,
                PostalCode,
                DmaCode,
                RegionName,
                if ecs { RegionIsoCode } else { RegionCode },
                Timezone,
                Location,
                Latitude,
                Longitude,
            ],
            DbKind::Country => vec![Ip, CountryCode2, CountryName, ContinentName],
            DbKind::Domain => vec![Domain],
            DbKind::Asn => vec![Ip, AutonomousSystemNumber, AutonomousSystemOrganization],
            DbKind::Isp => vec![
                Ip,
                AutonomousSystemNumber,
                AutonomousSystemOrganization,
                Isp,
                Organization,
            ],
            DbKind::AnonymousIp => vec![
                HostingProvider,
                TorExitNode,
                AnonymousVpn,
                Anonymous,
                PublicProxy,
                ResidentialProxy,
            ],
            DbKind::Enterprise => vec![
                Ip,
                CountryCode2,
                CountryName,
                ContinentName,
                RegionIsoCode,
                RegionName,
                CityName,
                Location,
            ],
        };
        v.sort();
        v
    }
}

// The parts of a record Logstash reads, for every database type at once (absent parts
// stay empty). Borrowed from the database buffer: decoding allocates nothing.
#[derive(Deserialize, Default)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct Named<'a> {
    #[serde(borrow, default)]
    names: Names<'a>,
    #[serde(default)]
    code: Option<&'a str>,
    #[serde(default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct Location<'a> {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
    #[serde(default)]
    metro_code: Option<u16>,
    #[serde(borrow, default)]
    time_zone: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct Traits<'a> {
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(default)]
    is_hosting_provider: Option<bool>,
    #[serde(default)]
    is_tor_exit_node: Option<bool>,
    #[serde(default)]
    is_anonymous_vpn: Option<bool>,
    #[serde(default)]
    is_anonymous: Option<bool>,
    #[serde(default)]
    is_public_proxy: Option<bool>,
    #[serde(default)]
    is_residential_proxy: Option<bool>,
}

#[derive(Deserialize, Default)]
struct Record<'a> {
    #[serde(borrow, default)]
    city: Named<'a>,
    #[serde(borrow, default)]
    continent: Named<'a>,
    #[serde(borrow, default)]
    country: Named<'a>,
    #[serde(borrow, default)]
    location: Location<'a>,
    #[serde(borrow, default)]
    postal: Named<'a>,
    #[serde(borrow, default, rename = "subdivisions")]
    subdivision: LastSubdivision<'a>,
    #[serde(borrow, default)]
    traits: Traits<'a>,
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow, default)]
    isp: Option<&'a str>,
    #[serde(borrow, default)]
    organization: Option<&'a str>,
    #[serde(borrow, default)]
    domain: Option<&'a str>,
    #[serde(default)]
    is_hosting_provider: Option<bool>,
    #[serde(default)]
    is_tor_exit_node: Option<bool>,
    #[serde(default)]
    is_anonymous_vpn: Option<bool>,
    #[serde(default)]
    is_anonymous: Option<bool>,
    #[serde(default)]
    is_public_proxy: Option<bool>,
    #[serde(default)]
    is_residential_proxy: Option<bool>,
}

/// The last of a record's `subdivisions` (the most specific, the one Logstash reads); the
/// others are skipped without being decoded, and no `Vec` is built.
#[derive(Default)]
struct LastSubdivision<'a>(Option<Named<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for LastSubdivision<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Last<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Last<'a> {
            type Value = LastSubdivision<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of subdivisions")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // The hint is a lower bound of what is left (the decoder's own count,
                // capped by the bytes left): skip all but one, then keep the last decoded.
                for _ in 1..seq.size_hint().unwrap_or(0) {
                    if seq.next_element::<IgnoredAny>()?.is_none() {
                        return Ok(LastSubdivision(None));
                    }
                }
                let mut last = None;
                while let Some(n) = seq.next_element::<Named<'a>>()? {
                    last = Some(n);
                }
                Ok(LastSubdivision(last))
            }
        }
        d.deserialize_seq(Last(PhantomData))
    }
}

type Reader = maxminddb::Reader<Vec<u8>>;
type Found<'a> = maxminddb::LookupResult<'a, Vec<u8>>;

/// A database that cannot be opened.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error("database table poisoned")]
    Poisoned,
    #[error(transparent)]
    Open(#[from] maxminddb::MaxMindDbError),
}

/// Loaded databases by path, shared by every filter naming the same file.
fn open_shared(path: &Path) -> Result<Arc<Reader>, OpenError> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<Reader>>>> = OnceLock::new();
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let table = OPEN.get_or_init(|| Mutex::new(HashMap::new()));
    let mut g = table.lock().map_err(|_| OpenError::Poisoned)?;
    if let Some(r) = g.get(&key).and_then(Weak::upgrade) {
        return Ok(r);
    }
    let r = Arc::new(Reader::open_readfile(path)?);
    g.retain(|_, w| w.strong_count() > 0);
    g.insert(key, Arc::downgrade(&r));
    Ok(r)
}

/// Java's `InetAddress.getHostAddress()`: IPv6 as eight hex groups, no `::` compression.
fn java_host_address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => dotted_quad(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!(
                "{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
                s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
            )
        }
    }
}

/// `a.b.c.d`, written without the formatting machinery (one per uncached lookup).
fn dotted_quad(v4: Ipv4Addr) -> String {
    let mut s = String::with_capacity(15);
    for (i, o) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if o >= 100 {
            s.push(char::from(b'0' + o / 100));
        }
        if o >= 10 {
            s.push(char::from(b'0' + o / 10 % 10));
        }
        s.push(char::from(b'0' + o % 10));
    }
    s
}

/// An IP literal as Java reads one (`[v6]` brackets allowed, a zone id dropped,
/// IPv4-mapped IPv6 becomes IPv4); host names are not resolved.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    let s = s.split_once('%').map_or(s, |(a, _)| a);
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }),
        v4 => Some(v4),
    }
}

/// The compiled geoip filter.
pub struct GeoIp {
    source: FieldRef,
    target: FieldRef,
    reader: Arc<Reader>,
    kind: DbKind,
    /// (field, path under the target), in Logstash's order: what [`Layout`] is made from
    /// (kept for the tests' field-by-field reference).
    #[cfg(test)]
    fields: Vec<(Field, Vec<&'static str>)>,
    layout: Layout,
    tag_on_failure: Vec<String>,
    /// Results by address, shared: a hit clones an `Arc` under the lock and copies the
    /// values into the event after releasing it.
    cache: Option<Mutex<lru::LruCache<IpAddr, Option<Arc<Map>>>>>,
}

/// Where a leaf's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    Field(Field),
    /// ECS `[geo][location][lat]`, standing for `location`, `latitude` and `longitude`
    /// together (see [`Layout::new`]): `own` when `latitude` is selected, `pair` when
    /// `location` is.
    EcsLat {
        own: bool,
        pair: bool,
    },
    EcsLon {
        own: bool,
        pair: bool,
    },
}

/// One value written under the target: into node `node`, at `key`.
#[derive(Debug)]
struct Leaf {
    src: Src,
    node: usize,
    key: Key,
}

/// An object under the target (node 0: the result map itself).
#[derive(Debug)]
struct Node {
    parent: usize,
    key: Key,
    /// How many entries it can get (its leaves and child objects).
    width: usize,
}

/// The most objects a layout has: the root, `as`, `[as][organization]`, `geo`,
/// `[geo][location]`, `mmdb`, `ip_traits`.
const MAX_NODES: usize = 8;

/// The shape of a lookup's result, worked out once from `fields`, so that a lookup fills
/// presized maps in order with no key searches. Writing the leaves in Logstash's field
/// order, each object placed in its parent when its first value arrives, gives the same
/// maps (and key order) as setting each field's path on its own.
#[derive(Debug)]
struct Layout {
    leaves: Vec<Leaf>,
    nodes: Vec<Node>,
}

impl Layout {
    /// `fields` (unique, in Logstash's order) as leaves. No path may be a prefix of
    /// another, so that every key is written once; the one overlap of the ECS names,
    /// `location` at `[geo][location]` (a `{lat, lon}` object) with `latitude` and
    /// `longitude` inside it, becomes two leaves with the same result: `lat` when
    /// latitude is selected, or location is and both coordinates are known (likewise `lon`).
    fn new(fields: &[Field], ecs: bool) -> Result<Layout, String> {
        let mut paths: Vec<(Src, Vec<&'static str>)> = Vec::with_capacity(fields.len());
        let has = |f: Field| fields.contains(&f);
        let (pair, lat, lon) = (
            has(Field::Location),
            has(Field::Latitude),
            has(Field::Longitude),
        );
        let mut coords_done = false;
        for &f in fields {
            match f {
                Field::Location | Field::Latitude | Field::Longitude if ecs => {
                    // Adjacent in the field order: the two leaves take the first one's place.
                    if !coords_done {
                        coords_done = true;
                        paths.push((
                            Src::EcsLat { own: lat, pair },
                            vec!["geo", "location", "lat"],
                        ));
                        paths.push((
                            Src::EcsLon { own: lon, pair },
                            vec!["geo", "location", "lon"],
                        ));
                    }
                }
                _ => {
                    if let Some(p) = field_path(f, ecs) {
                        paths.push((Src::Field(f), p));
                    }
                }
            }
        }
        let mut layout = Layout {
            leaves: Vec::with_capacity(paths.len()),
            nodes: vec![Node {
                parent: 0,
                key: Key::default(),
                width: 0,
            }],
        };
        for (src, path) in paths {
            let Some((last, parents)) = path.split_last() else {
                continue;
            };
            let mut node = 0;
            for part in parents {
                let found = (1..layout.nodes.len())
                    .find(|&n| layout.nodes[n].parent == node && layout.nodes[n].key == *part);
                node = match found {
                    Some(n) => n,
                    None => {
                        layout.nodes[node].width += 1;
                        layout.nodes.push(Node {
                            parent: node,
                            key: Key::from(*part),
                            width: 0,
                        });
                        layout.nodes.len() - 1
                    }
                };
            }
            let clash = layout
                .leaves
                .iter()
                .any(|l| l.node == node && l.key == *last)
                || layout.nodes[1..]
                    .iter()
                    .any(|n| n.parent == node && n.key == *last);
            if clash {
                return Err(format!("field paths overlap at {last:?}"));
            }
            layout.nodes[node].width += 1;
            layout.leaves.push(Leaf {
                src,
                node,
                key: Key::from(*last),
            });
        }
        // A leaf written before an object of the same name would also clash.
        for n in &layout.nodes[1..] {
            if layout
                .leaves
                .iter()
                .any(|l| l.node == n.parent && l.key == n.key)
            {
                return Err(format!("field paths overlap at {:?}", n.key));
            }
        }
        if layout.nodes.len() > MAX_NODES {
            return Err("too many nested objects".into());
        }
        Ok(layout)
    }

    /// Makes node `n` (and its parents) exist: a presized map, its place in the parent
    /// taken by a placeholder filled in by [`Layout::finish`].
    fn open(&self, n: usize, maps: &mut [Map; MAX_NODES], slot: &mut [u32; MAX_NODES]) {
        if slot[n] != u32::MAX {
            return;
        }
        let node = &self.nodes[n];
        maps[n] = Map::with_capacity(node.width);
        slot[n] = if n == 0 {
            0
        } else {
            self.open(node.parent, maps, slot);
            maps[node.parent].insert_absent(node.key.clone(), Value::Null) as u32
        };
    }

    /// Moves every opened object into its place, children first (a child's number is
    /// larger than its parent's); the result map, or `None` when nothing was written.
    fn finish(&self, maps: &mut [Map; MAX_NODES], slot: &[u32; MAX_NODES]) -> Option<Map> {
        if slot[0] == u32::MAX {
            return None;
        }
        for n in (1..self.nodes.len()).rev() {
            if slot[n] == u32::MAX {
                continue;
            }
            let m = std::mem::take(&mut maps[n]);
            if let Some((_, v)) = maps[self.nodes[n].parent].get_index_mut(slot[n] as usize) {
                *v = Value::Object(Box::new(m));
            }
        }
        Some(std::mem::take(&mut maps[0]))
    }
}

const ECS_TARGETS: &[&str] = &[
    "client",
    "destination",
    "host",
    "observer",
    "server",
    "source",
];

pub fn build(args: &Args, ctx: &BuildContext) -> BuildResult<Box<dyn Filter>> {
    Ok(Box::new(build_geoip(args, ctx)?))
}

fn build_geoip(args: &Args, ctx: &BuildContext) -> BuildResult<GeoIp> {
    let source_s = args
        .string("source")
        .ok_or_else(|| BuildError::option("source", "geoip needs source => the IP field"))?;
    let source =
        FieldRef::parse(&source_s).map_err(|e| BuildError::option("source", e.to_string()))?;
    let ecs = args.ecs(ctx)?.enabled();
    let target = match args.field("target")? {
        Some(t) => {
            if ecs && !(t.path().len() == 1 && ECS_TARGETS.contains(&t.path()[0].as_str())) {
                tracing::warn!(target = %source_s, "geoip: ECS expects target to be one of {ECS_TARGETS:?}");
            }
            t
        }
        None if !ecs => FieldRef::top("geoip"),
        None => match source.path().split_last() {
            Some((last, parent)) if last == "ip" && !parent.is_empty() => {
                FieldRef::from_path(parent.iter().cloned())
            }
            _ => {
                return Err(BuildError::option(
                    "target",
                    "in ECS mode geoip needs a target when source is not an [ip] sub-field, e.g. source => \"[client][ip]\"",
                ))
            }
        },
    };
    let default_type = args
        .string("default_database_type")
        .unwrap_or_else(|| "City".to_string());
    if default_type != "City" && default_type != "ASN" {
        return Err(BuildError::option(
            "default_database_type",
            format!("expected City or ASN, got {default_type:?}"),
        ));
    }
    let path = args.string("database").ok_or_else(|| {
        BuildError::option(
            "database",
            format!(
                "geoip needs database => the path of a GeoLite2-{default_type}.mmdb (or GeoIP2/DB-IP) file: \
                 this build ships no database because GeoLite2's licence forbids bundling it \
                 (scripts/setup/geoip.sh installs one for tests)"
            ),
        )
    })?;
    let reader = open_shared(Path::new(&path)).map_err(|e| {
        BuildError::option(
            "database",
            format!("cannot open the database {path:?}: {e}"),
        )
    })?;
    let db_type = reader.metadata().database_type.clone();
    let kind = DbKind::from_type(&db_type).ok_or_else(|| {
        BuildError::option(
            "database",
            format!("unsupported database type {db_type:?} in {path:?}"),
        )
    })?;
    let mut wanted: Vec<Field> = if args.contains("fields") && !args.strings("fields").is_empty() {
        args.strings("fields")
            .iter()
            .map(|n| {
                parse_field(n).ok_or_else(|| {
                    BuildError::option(
                        "fields",
                        format!(
                            "illegal field value {n:?}; valid values are {}",
                            ALL_FIELDS
                                .iter()
                                .map(|(_, n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })
            })
            .collect::<BuildResult<_>>()?
    } else {
        kind.default_fields(ecs)
    };
    // An EnumSet: unique, in declaration order.
    wanted.sort();
    wanted.dedup();
    let layout = Layout::new(&wanted, ecs).map_err(BuildError::general)?;
    #[cfg(test)]
    let fields = wanted
        .into_iter()
        .filter_map(|f| field_path(f, ecs).map(|p| (f, p)))
        .collect();
    let cache_size = args.i64("cache_size").unwrap_or(1000);
    if cache_size < 0 {
        return Err(BuildError::option("cache_size", "expected a number >= 0"));
    }
    let cache = usize::try_from(cache_size)
        .ok()
        .and_then(NonZeroUsize::new)
        .map(|n| Mutex::new(lru::LruCache::new(n)));
    let tag_on_failure = if args.contains("tag_on_failure") {
        args.strings("tag_on_failure")
    } else {
        vec!["_geoip_lookup_failure".to_string()]
    };
    Ok(GeoIp {
        source,
        target,
        reader,
        kind,
        #[cfg(test)]
        fields,
        layout,
        tag_on_failure,
        cache,
    })
}

fn s(v: Option<&str>) -> Option<Value> {
    v.map(|x| Value::String(x.to_string()))
}

/// A lookup's result: built for this event, or shared with the cache.
enum Data {
    Owned(Map),
    Shared(Arc<Map>),
}

impl GeoIp {
    /// The data for one address, as the map written under the target (`None`: nothing).
    fn lookup(&self, ip: IpAddr) -> Option<Map> {
        let found = match self.reader.lookup(ip) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, %ip, "geoip: lookup failed");
                return None;
            }
        };
        let rec: Record = match found.decode() {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(error = %e, %ip, "geoip: error from the database");
                return None;
            }
        };
        // City responses without coordinates count as not found (Logstash's check).
        if self.kind == DbKind::City
            && rec.location.latitude.is_none()
            && rec.location.longitude.is_none()
        {
            return None;
        }
        self.result_map(&rec, ip, &found)
    }

    /// A record's values laid out as the map written under the target.
    fn result_map(&self, rec: &Record, ip: IpAddr, found: &Found) -> Option<Map> {
        let mut maps: [Map; MAX_NODES] = Default::default();
        let mut slot = [u32::MAX; MAX_NODES];
        for leaf in &self.layout.leaves {
            let (lat, lon) = (rec.location.latitude, rec.location.longitude);
            let v = match leaf.src {
                Src::Field(f) => self.field_value(f, rec, ip, found),
                Src::EcsLat { own, pair } => lat
                    .filter(|_| own || (pair && lon.is_some()))
                    .map(Value::Float),
                Src::EcsLon { own, pair } => lon
                    .filter(|_| own || (pair && lat.is_some()))
                    .map(Value::Float),
            };
            if let Some(v) = v {
                self.layout.open(leaf.node, &mut maps, &mut slot);
                maps[leaf.node].insert_absent(leaf.key.clone(), v);
            }
        }
        self.layout.finish(&mut maps, &slot)
    }

    /// One field's value from a decoded record.
    fn field_value(&self, f: Field, rec: &Record, ip: IpAddr, found: &Found) -> Option<Value> {
        let sub = rec.subdivision.0.as_ref();
        let traits_or = |own: Option<bool>, t: Option<bool>| own.or(t).unwrap_or(false);
        match f {
            Field::Ip => Some(Value::String(java_host_address(ip))),
            Field::CityName => s(rec.city.names.en),
            Field::ContinentCode => s(rec.continent.code),
            Field::ContinentName => s(rec.continent.names.en),
            Field::CountryName => s(rec.country.names.en),
            Field::CountryCode2 | Field::CountryCode3 => s(rec.country.iso_code),
            Field::PostalCode => s(rec.postal.code),
            Field::DmaCode => rec
                .location
                .metro_code
                .map(|m| Value::Integer(i64::from(m))),
            Field::RegionName => s(sub.and_then(|x| x.names.en)),
            Field::RegionCode => s(sub.and_then(|x| x.iso_code)),
            Field::RegionIsoCode => match (rec.country.iso_code, sub.and_then(|x| x.iso_code)) {
                (Some(c), Some(r)) => Some(Value::String(format!("{c}-{r}"))),
                _ => None,
            },
            Field::Timezone => s(rec.location.time_zone),
            Field::Location => match (rec.location.latitude, rec.location.longitude) {
                (Some(lat), Some(lon)) => {
                    let mut m = Map::with_capacity(2);
                    m.insert("lat", Value::Float(lat));
                    m.insert("lon", Value::Float(lon));
                    Some(Value::from(m))
                }
                _ => None,
            },
            Field::Latitude => rec.location.latitude.map(Value::Float),
            Field::Longitude => rec.location.longitude.map(Value::Float),
            Field::AutonomousSystemNumber => rec
                .autonomous_system_number
                .or(rec.traits.autonomous_system_number)
                .map(|n| Value::Integer(i64::from(n))),
            Field::AutonomousSystemOrganization => s(rec
                .autonomous_system_organization
                .or(rec.traits.autonomous_system_organization)),
            Field::Isp => s(rec.isp),
            Field::Organization => s(rec.organization),
            Field::Domain => s(rec.domain),
            Field::Network => match self.kind {
                DbKind::Asn | DbKind::Enterprise => {
                    found.network().ok().map(|n| Value::String(n.to_string()))
                }
                _ => None,
            },
            Field::HostingProvider
            | Field::TorExitNode
            | Field::AnonymousVpn
            | Field::Anonymous
            | Field::PublicProxy
            | Field::ResidentialProxy
                if matches!(self.kind, DbKind::AnonymousIp | DbKind::Enterprise) =>
            {
                let t = &rec.traits;
                Some(Value::Bool(match f {
                    Field::HostingProvider => {
                        traits_or(rec.is_hosting_provider, t.is_hosting_provider)
                    }
                    Field::TorExitNode => traits_or(rec.is_tor_exit_node, t.is_tor_exit_node),
                    Field::AnonymousVpn => traits_or(rec.is_anonymous_vpn, t.is_anonymous_vpn),
                    Field::Anonymous => traits_or(rec.is_anonymous, t.is_anonymous),
                    Field::PublicProxy => traits_or(rec.is_public_proxy, t.is_public_proxy),
                    _ => traits_or(rec.is_residential_proxy, t.is_residential_proxy),
                }))
            }
            _ => None,
        }
    }

    fn cached_lookup(&self, ip: IpAddr) -> Option<Data> {
        let Some(cache) = &self.cache else {
            return self.lookup(ip).map(Data::Owned);
        };
        if let Ok(mut c) = cache.lock() {
            if let Some(hit) = c.get(&ip) {
                return hit.clone().map(Data::Shared);
            }
        }
        let res = self.lookup(ip).map(Arc::new);
        if let Ok(mut c) = cache.lock() {
            c.put(ip, res.clone());
        }
        res.map(Data::Shared)
    }

    fn fail(&self, event: &mut Event) -> Outcome {
        for t in &self.tag_on_failure {
            event.add_tag(t);
        }
        Outcome::Failure
    }
}

/// Sets every leaf of `src` into `dst`, keeping what `dst` already has elsewhere (Logstash
/// sets each field on its own).
/// `src` is consumed: its values move into `dst`.
fn merge_into(dst: &mut Map, src: Map) {
    for (k, v) in src {
        match (dst.get_mut(k.as_str()), v) {
            (Some(Value::Object(d)), Value::Object(s)) => merge_into(d, *s),
            (Some(slot), v) => *slot = v,
            (None, v) => {
                dst.insert_absent(k, v);
            }
        }
    }
}

/// [`merge_into`] from a shared (cached) result: each value is copied once, straight
/// into its place, and not at all where the event already holds it (the address itself,
/// usually).
fn merge_from(dst: &mut Map, src: &Map) {
    for (k, v) in src {
        match (dst.get_mut(k.as_str()), v) {
            (Some(Value::Object(d)), Value::Object(s)) => merge_from(d, s),
            (Some(slot), v) => {
                if slot != v {
                    *slot = v.clone();
                }
            }
            (None, v) => {
                dst.insert_absent(k.clone(), v.clone());
            }
        }
    }
}

impl Filter for GeoIp {
    fn apply(&self, event: &mut Event, _ctx: &mut FilterContext) -> Outcome {
        // The address is parsed from the borrowed string: no copy per event.
        let parsed = {
            let text = match event.get(&self.source) {
                Some(Value::String(s)) => s.as_str(),
                Some(Value::Array(a)) => match a.first() {
                    Some(Value::String(s)) => s.as_str(),
                    _ => return self.fail(event),
                },
                // Missing, null, or another type (Logstash raises on those; a bad event is
                // tagged here instead).
                _ => return self.fail(event),
            };
            if text.trim().is_empty() {
                return self.fail(event);
            }
            parse_ip(text)
        };
        let data = parsed.and_then(|ip| self.cached_lookup(ip));
        let existing = event.get_mut(&self.target);
        match (existing, data) {
            (Some(Value::Object(m)), Some(d)) => {
                match d {
                    Data::Owned(d) => merge_into(m, d),
                    Data::Shared(d) => merge_from(m, &d),
                }
                Outcome::Success
            }
            (Some(Value::Object(_)), None) => self.fail(event),
            (_, d) => {
                let ok = d.is_some();
                let map = match d {
                    None => Map::new(),
                    Some(Data::Owned(m)) => m,
                    Some(Data::Shared(m)) => Map::clone(&m),
                };
                if let Err(e) = event.set(&self.target, Value::from(map)) {
                    tracing::warn!(error = %e, "geoip: cannot set target");
                    return self.fail(event);
                }
                if ok {
                    Outcome::Success
                } else {
                    self.fail(event)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
