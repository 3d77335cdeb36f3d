//! Choosing the resources for one agent task out of an offer.

use std::collections::BTreeSet;

use crate::proto::{Offer, Range, Resource, ValueType};

/// Mesos keeps scalars to 3 decimal places; compare with that tolerance.
const EPSILON: f64 = 0.0005;

/// What one agent task needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    pub cpus: f64,
    pub mem: f64,
    /// Number of host ports from anywhere in the offer (the agent's status port).
    pub ports: u32,
    /// Host ports the inputs bind as configured: each needed exactly.
    pub fixed_ports: Vec<u64>,
    /// Ports assigned to the inputs' `${LSM_PORT_*}` variables...
    pub dynamic_ports: u32,
    /// ...from this range of the offered ports (inclusive; `None`: any offered port).
    pub dynamic_range: Option<(u64, u64)>,
}

/// The resources for one task and the ports chosen in them.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    pub resources: Vec<Resource>,
    /// One per `Needs::dynamic_ports`, in order.
    pub dynamic: Vec<u64>,
    /// One per `Needs::ports` (the first is the agent's status port).
    pub any: Vec<u64>,
}

/// A resource this framework may use under `role`: allocated to the role, unreserved
/// or reserved for it, and not a persistent volume or revocable capacity.
fn usable(offer: &Offer, res: &Resource, role: &str) -> bool {
    let allocated = res
        .allocation_info
        .as_ref()
        .or(offer.allocation_info.as_ref())
        .and_then(|a| a.role.as_deref());
    if allocated.is_some_and(|r| r != role) {
        return false;
    }
    if res.reserved_role().is_some_and(|r| r != role) {
        return false;
    }
    res.disk.is_none() && res.revocable.is_none() && res.shared.is_none()
}

/// A resource an offer has too little of for an agent.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Shortfall {
    /// `cpus` or `mem`.
    #[error("{name}: need {need}, offered {offered:.3}")]
    Scalar {
        name: String,
        need: f64,
        offered: f64,
    },
    #[error("ports: need {need}, offered {offered}")]
    Ports { need: u32, offered: u64 },
    /// Inputs' fixed ports the offer lacks (not in its `ports`, or used by another task).
    #[error("ports: the inputs' port(s) {} not offered", join(missing))]
    FixedPorts { missing: Vec<u64> },
    #[error("ports: need {need} for the inputs' ${{LSM_PORT_*}} variables{}, offered {offered}", range.map(|(a, b)| format!(" in {a}-{b}")).unwrap_or_default())]
    DynamicPorts {
        need: u32,
        offered: usize,
        range: Option<(u64, u64)>,
    },
}

fn join(ports: &[u64]) -> String {
    ports
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Takes `need` of scalar `name` from the offer, possibly from several resources
/// (e.g. part reserved, part unreserved); each piece keeps its reservation fields,
/// which the master requires in TaskInfo.
fn take_scalar(
    offer: &Offer,
    role: &str,
    name: &str,
    need: f64,
    out: &mut Vec<Resource>,
) -> Result<(), Shortfall> {
    let mut left = need;
    for res in offer
        .resources
        .iter()
        .filter(|r| r.name == name && r.kind == ValueType::Scalar)
    {
        if left <= EPSILON {
            break;
        }
        if !usable(offer, res, role) {
            continue;
        }
        let have = res.scalar.as_ref().map_or(0.0, |s| s.value);
        if have <= EPSILON {
            continue;
        }
        let take = round3(have.min(left));
        let mut piece = res.clone();
        piece.scalar = Some(crate::proto::Scalar { value: take });
        out.push(piece);
        left -= take;
    }
    if left > EPSILON {
        Err(Shortfall::Scalar {
            name: name.to_string(),
            need,
            offered: need - left,
        })
    } else {
        Ok(())
    }
}

/// Every usable `ports` resource of the offer, in offer order.
fn port_pieces<'a>(offer: &'a Offer, role: &str) -> Vec<&'a Resource> {
    offer
        .resources
        .iter()
        .filter(|r| r.name == "ports" && r.kind == ValueType::Ranges && usable(offer, r, role))
        .collect()
}

fn ranges_of(r: &Resource) -> impl Iterator<Item = &Range> {
    r.ranges
        .iter()
        .flat_map(|r| &r.range)
        .filter(|r| r.end >= r.begin)
}

/// The first port of the pieces (in offer order) inside `lo..=hi` that nothing took yet.
fn next_free(
    pieces: &[&Resource],
    taken: &[BTreeSet<u64>],
    lo: u64,
    hi: u64,
) -> Option<(usize, u64)> {
    for (i, piece) in pieces.iter().enumerate() {
        for r in ranges_of(piece) {
            let (from, to) = (r.begin.max(lo), r.end.min(hi));
            if from > to {
                continue;
            }
            let mut p = from;
            loop {
                if !taken.iter().any(|t| t.contains(&p)) {
                    return Some((i, p));
                }
                if p == to {
                    break;
                }
                p += 1;
            }
        }
    }
    None
}

/// Every port of `ports` resources (a task's: a few).
pub fn port_list(resources: &[Resource]) -> Vec<u64> {
    resources
        .iter()
        .filter(|r| r.name == "ports")
        .flat_map(ranges_of)
        .flat_map(|r| r.begin..=r.end.min(r.begin.saturating_add(65_535)))
        .collect()
}

/// The offer's usable `ports` ranges.
pub fn offered_ports(offer: &Offer, role: &str) -> Vec<Range> {
    port_pieces(offer, role)
        .into_iter()
        .flat_map(|r| ranges_of(r).cloned().collect::<Vec<_>>())
        .collect()
}

/// Consecutive ports as ranges.
fn compress(ports: &BTreeSet<u64>) -> Vec<Range> {
    let mut out: Vec<Range> = Vec::new();
    for &p in ports {
        match out.last_mut() {
            Some(r) if r.end + 1 == p => r.end = p,
            _ => out.push(Range { begin: p, end: p }),
        }
    }
    out
}

/// The host ports: the inputs' fixed ports exactly, then the dynamic ones (within their
/// range), then `any` more from anywhere; each piece of the result keeps its resource's
/// reservation fields. Returns (dynamic ports, any ports).
fn take_ports(
    offer: &Offer,
    role: &str,
    needs: &Needs,
    out: &mut Vec<Resource>,
    errors: &mut Vec<Shortfall>,
) -> (Vec<u64>, Vec<u64>) {
    let pieces = port_pieces(offer, role);
    let mut taken: Vec<BTreeSet<u64>> = vec![BTreeSet::new(); pieces.len()];
    let fixed: BTreeSet<u64> = needs.fixed_ports.iter().copied().collect();
    let missing: Vec<u64> = fixed
        .iter()
        .copied()
        .filter(|&p| {
            let at = pieces
                .iter()
                .position(|piece| ranges_of(piece).any(|r| r.begin <= p && p <= r.end));
            match at.and_then(|i| taken.get_mut(i)) {
                Some(t) => {
                    t.insert(p);
                    false
                }
                None => true,
            }
        })
        .collect();
    if !missing.is_empty() {
        errors.push(Shortfall::FixedPorts { missing });
    }
    let (lo, hi) = needs.dynamic_range.unwrap_or((0, u64::MAX));
    let mut dynamic = Vec::new();
    for _ in 0..needs.dynamic_ports {
        match next_free(&pieces, &taken, lo, hi) {
            Some((i, p)) => {
                if let Some(t) = taken.get_mut(i) {
                    t.insert(p);
                }
                dynamic.push(p);
            }
            None => break,
        }
    }
    if dynamic.len() < needs.dynamic_ports as usize {
        errors.push(Shortfall::DynamicPorts {
            need: needs.dynamic_ports,
            offered: dynamic.len(),
            range: needs.dynamic_range,
        });
    }
    let mut any = Vec::new();
    for _ in 0..needs.ports {
        // Not a privileged port when another is offered: those are the well-known ports
        // an agent offers for services like syslog (514), which an input may want later.
        let free = next_free(&pieces, &taken, 1024, u64::MAX)
            .or_else(|| next_free(&pieces, &taken, 0, 1023));
        match free {
            Some((i, p)) => {
                if let Some(t) = taken.get_mut(i) {
                    t.insert(p);
                }
                any.push(p);
            }
            None => break,
        }
    }
    if any.len() < needs.ports as usize {
        errors.push(Shortfall::Ports {
            need: needs.ports,
            offered: any.len() as u64,
        });
    }
    for (piece, t) in pieces.iter().zip(&taken) {
        if !t.is_empty() {
            let mut piece = (*piece).clone();
            piece.ranges = Some(crate::proto::Ranges { range: compress(t) });
            out.push(piece);
        }
    }
    (dynamic, any)
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The resources to put in the task, or every shortfall (all of them, so the log
/// says at once why a node gets no agent).
pub fn pick(offer: &Offer, role: &str, needs: &Needs) -> Result<Picked, Vec<Shortfall>> {
    let mut out = Vec::new();
    let mut errors: Vec<Shortfall> = [
        take_scalar(offer, role, "cpus", needs.cpus, &mut out),
        take_scalar(offer, role, "mem", needs.mem, &mut out),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect();
    let (dynamic, any) = take_ports(offer, role, needs, &mut out, &mut errors);
    if errors.is_empty() {
        Ok(Picked {
            resources: out,
            dynamic,
            any,
        })
    } else {
        Err(errors)
    }
}

/// The first port in the picked resources, passed to the agent.
pub fn first_port(resources: &[Resource]) -> Option<u64> {
    resources
        .iter()
        .filter(|r| r.name == "ports")
        .flat_map(|r| r.ranges.iter().flat_map(|r| &r.range))
        .map(|r| r.begin)
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Event;

    fn shapes() -> Offer {
        let path = crate::testutil::api_dir().join("examples/offers-resource-shapes.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("json");
        let e: Event = serde_json::from_value(v["body"].clone()).expect("event");
        e.offers.expect("offers").offers.remove(0)
    }

    #[test]
    fn takes_from_unreserved_and_own_reservation_but_not_volumes() {
        let offer = shapes();
        // 3.5 cpus unreserved; 6939 unreserved mem + 1024 reserved for debug_role.
        let got = pick(
            &offer,
            "debug_role",
            &Needs {
                cpus: 0.5,
                mem: 7000.0,
                ports: 2,
                ..Needs::default()
            },
        )
        .expect("fits")
        .resources;
        let mem: f64 = got
            .iter()
            .filter(|r| r.name == "mem")
            .map(|r| r.scalar.as_ref().map_or(0.0, |s| s.value))
            .sum();
        assert!((mem - 7000.0).abs() < EPSILON);
        // The reserved piece keeps its reservation.
        assert!(got
            .iter()
            .any(|r| r.name == "mem" && r.reservation.is_some()));
        assert!(got.iter().all(|r| r.disk.is_none()));
        assert_eq!(first_port(&got), Some(21000));
        let ports: Vec<_> = got
            .iter()
            .filter(|r| r.name == "ports")
            .flat_map(|r| r.ranges.clone().unwrap_or_default().range)
            .collect();
        assert_eq!(
            ports,
            vec![Range {
                begin: 21000,
                end: 21001
            }]
        );
    }

    #[test]
    fn shortfalls_are_all_reported() {
        let offer = shapes();
        let err = pick(
            &offer,
            "debug_role",
            &Needs {
                cpus: 4.0,
                mem: 9000.0,
                ports: 0,
                ..Needs::default()
            },
        )
        .expect_err("too big");
        assert_eq!(err.len(), 2, "{err:?}");
        assert!(err[0].to_string().starts_with("cpus"), "{err:?}");
        assert!(err[1].to_string().starts_with("mem"), "{err:?}");
    }

    #[test]
    fn other_roles_resources_are_not_used() {
        let offer = shapes();
        let err = pick(
            &offer,
            "other",
            &Needs {
                cpus: 0.1,
                mem: 1.0,
                ports: 0,
                ..Needs::default()
            },
        )
        .expect_err("wrong role");
        assert_eq!(err.len(), 2, "{err:?}");
    }

    fn port_ranges(res: &[Resource]) -> Vec<(u64, u64)> {
        res.iter()
            .filter(|r| r.name == "ports")
            .flat_map(|r| r.ranges.clone().unwrap_or_default().range)
            .map(|r| (r.begin, r.end))
            .collect()
    }

    /// Offered: 21000-24000 and 30000-34000. Fixed ports exactly, dynamic ones from the
    /// range, the status port from what is left; one `ports` piece (the offered
    /// resource's fields kept) holding them all.
    #[test]
    fn fixed_then_dynamic_then_status_ports() {
        let offer = shapes();
        let got = pick(
            &offer,
            "debug_role",
            &Needs {
                cpus: 0.1,
                mem: 1.0,
                ports: 1,
                fixed_ports: vec![21000, 30514, 21000],
                dynamic_ports: 2,
                dynamic_range: Some((30500, 30600)),
            },
        )
        .expect("fits");
        assert_eq!(got.dynamic, vec![30500, 30501]);
        assert_eq!(got.any, vec![21001], "status port: the first port left");
        assert_eq!(
            port_ranges(&got.resources),
            vec![(21000, 21001), (30500, 30501), (30514, 30514)]
        );
        let piece = got
            .resources
            .iter()
            .find(|r| r.name == "ports")
            .expect("ports");
        assert_eq!(piece.role.as_deref(), Some("*"));
    }

    /// The status port is not taken from the privileged ports while others are offered
    /// (an agent offering 514 does so for syslog), but is when nothing else is.
    #[test]
    fn the_status_port_avoids_privileged_ports() {
        let mut offer = shapes();
        for r in offer.resources.iter_mut().filter(|r| r.name == "ports") {
            r.ranges = Some(crate::proto::Ranges {
                range: vec![
                    Range {
                        begin: 514,
                        end: 514,
                    },
                    Range {
                        begin: 31000,
                        end: 31001,
                    },
                ],
            });
        }
        let needs = Needs {
            cpus: 0.1,
            mem: 1.0,
            ports: 1,
            ..Needs::default()
        };
        let got = pick(&offer, "debug_role", &needs).expect("fits");
        assert_eq!(got.any, vec![31000]);
        let got = pick(&offer, "debug_role", &Needs { ports: 3, ..needs }).expect("fits");
        assert_eq!(got.any, vec![31000, 31001, 514]);
    }

    #[test]
    fn missing_fixed_ports_and_a_full_range_are_shortfalls() {
        let offer = shapes();
        let err = pick(
            &offer,
            "debug_role",
            &Needs {
                cpus: 0.1,
                mem: 1.0,
                ports: 1,
                fixed_ports: vec![514, 5044, 21000],
                dynamic_ports: 3,
                dynamic_range: Some((24000, 29999)),
            },
        )
        .expect_err("514 and 5044 are not offered");
        let text: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "ports: the inputs' port(s) 514, 5044 not offered".to_string(),
                "ports: need 3 for the inputs' ${LSM_PORT_*} variables in 24000-29999, offered 1"
                    .to_string(),
            ]
        );
        // Without a range a dynamic port is any offered port.
        let got = pick(
            &offer,
            "debug_role",
            &Needs {
                cpus: 0.1,
                mem: 1.0,
                dynamic_ports: 1,
                ..Needs::default()
            },
        )
        .expect("fits");
        assert_eq!(got.dynamic, vec![21000]);
        assert!(got.any.is_empty());
    }
}
