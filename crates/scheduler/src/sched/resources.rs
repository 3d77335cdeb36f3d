//! Choosing the resources for one agent task out of an offer.

use crate::proto::{Offer, Range, Resource, ValueType};

/// Mesos keeps scalars to 3 decimal places; compare with that tolerance.
const EPSILON: f64 = 0.0005;

/// What one agent task needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Needs {
    pub cpus: f64,
    pub mem: f64,
    /// Number of host ports (0 = none).
    pub ports: u32,
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

fn take_ports(
    offer: &Offer,
    role: &str,
    count: u32,
    out: &mut Vec<Resource>,
) -> Result<(), Shortfall> {
    if count == 0 {
        return Ok(());
    }
    let mut left = u64::from(count);
    for res in offer
        .resources
        .iter()
        .filter(|r| r.name == "ports" && r.kind == ValueType::Ranges)
    {
        if !usable(offer, res, role) {
            continue;
        }
        let mut picked = Vec::new();
        for r in res.ranges.iter().flat_map(|r| &r.range) {
            if left == 0 || r.end < r.begin {
                continue;
            }
            let n = (r.end - r.begin + 1).min(left);
            picked.push(Range {
                begin: r.begin,
                end: r.begin + n - 1,
            });
            left -= n;
        }
        if !picked.is_empty() {
            let mut piece = res.clone();
            piece.ranges = Some(crate::proto::Ranges { range: picked });
            out.push(piece);
        }
        if left == 0 {
            return Ok(());
        }
    }
    Err(Shortfall::Ports {
        need: count,
        offered: u64::from(count) - left,
    })
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The resources to put in the task, or every shortfall (all of them, so the log
/// says at once why a node gets no agent).
pub fn pick(offer: &Offer, role: &str, needs: &Needs) -> Result<Vec<Resource>, Vec<Shortfall>> {
    let mut out = Vec::new();
    let errors: Vec<Shortfall> = [
        take_scalar(offer, role, "cpus", needs.cpus, &mut out),
        take_scalar(offer, role, "mem", needs.mem, &mut out),
        take_ports(offer, role, needs.ports, &mut out),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect();
    if errors.is_empty() {
        Ok(out)
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
            },
        )
        .expect("fits");
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
            },
        )
        .expect_err("wrong role");
        assert_eq!(err.len(), 2, "{err:?}");
    }
}
