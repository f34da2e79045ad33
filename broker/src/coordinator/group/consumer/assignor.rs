//! Server-side assignors of the consumer protocol: "uniform" (sticky, balanced) and "range" (per topic).
//!
//! Both are pure functions of the members' subscriptions, the subscribed topics' partition counts and, for
//! "uniform", the previous target assignment; the same input always gives the same output, so the target of
//! a group epoch is reproducible and testable without a broker.

use std::collections::{BTreeMap, BTreeSet};

use super::{Assignment, TopicMeta};

/// A server-side assignor a member may name in `server_assignor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Assignor {
    /// Spreads every subscribed partition evenly over the members, moving as few as it can.
    Uniform,
    /// Gives each member a contiguous range of every topic it subscribes to (co-partitioned topics line up).
    Range,
}

impl Assignor {
    /// The assignor named `name`, as clients spell it.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "uniform" => Some(Self::Uniform),
            "range" => Some(Self::Range),
            _ => None,
        }
    }

    /// The name clients use and ConsumerGroupDescribe reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Uniform => "uniform",
            Self::Range => "range",
        }
    }
}

/// What an assignor sees of one member.
#[derive(Debug)]
pub(crate) struct MemberSpec<'a> {
    /// Subscribed topic names.
    pub(crate) subscribed: &'a BTreeSet<String>,
    /// The member's previous target assignment (stickiness input).
    pub(crate) previous: Option<&'a Assignment>,
}

/// Computes the target assignment of every member. Topics missing from `topics` (not created yet, deleted)
/// are skipped; every member gets an entry, possibly empty.
pub(crate) fn assign(
    assignor: Assignor,
    members: &BTreeMap<&str, MemberSpec<'_>>,
    topics: &BTreeMap<String, TopicMeta>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members.keys().map(|m| (m.to_string(), Assignment::new())).collect();
    match assignor {
        Assignor::Range => range(members, topics, &mut out),
        Assignor::Uniform => uniform(members, topics, &mut out),
    }
    out
}

fn subscribers<'m>(members: &'m BTreeMap<&str, MemberSpec<'_>>, topic: &str) -> Vec<&'m str> {
    members.iter().filter(|(_, spec)| spec.subscribed.contains(topic)).map(|(m, _)| *m).collect()
}

fn range(
    members: &BTreeMap<&str, MemberSpec<'_>>,
    topics: &BTreeMap<String, TopicMeta>,
    out: &mut BTreeMap<String, Assignment>,
) {
    for (name, meta) in topics {
        let subs = subscribers(members, name);
        if subs.is_empty() || meta.partitions <= 0 {
            continue;
        }
        let (count, n) = (subs.len() as i32, meta.partitions);
        let (per, extra) = (n / count, n % count);
        for (i, member) in subs.iter().enumerate() {
            let i = i as i32;
            let start = i * per + i.min(extra);
            let len = per + i32::from(i < extra);
            if len > 0 {
                let slot = out.entry(member.to_string()).or_default().entry(meta.id).or_default();
                slot.extend(start..start + len);
            }
        }
    }
}

fn uniform(
    members: &BTreeMap<&str, MemberSpec<'_>>,
    topics: &BTreeMap<String, TopicMeta>,
    out: &mut BTreeMap<String, Assignment>,
) {
    // Every assignable partition with the members allowed to own it.
    let mut partitions: Vec<((uuid::Uuid, i32), Vec<&str>)> = Vec::new();
    for (name, meta) in topics {
        let subs = subscribers(members, name);
        if subs.is_empty() {
            continue;
        }
        for p in 0..meta.partitions.max(0) {
            partitions.push(((meta.id, p), subs.clone()));
        }
    }
    let active = members.values().filter(|s| s.subscribed.iter().any(|t| topics.contains_key(t))).count();
    if partitions.is_empty() || active == 0 {
        return;
    }
    let cap = partitions.len().div_ceil(active);
    let eligible: BTreeMap<(uuid::Uuid, i32), &Vec<&str>> = partitions.iter().map(|(tp, subs)| (*tp, subs)).collect();
    let mut owner: BTreeMap<(uuid::Uuid, i32), &str> = BTreeMap::new();
    let mut counts: BTreeMap<&str, usize> = members.keys().map(|m| (*m, 0)).collect();

    // Stickiness: a member keeps what it had, up to the cap, so a rebalance moves only what it must.
    for (member, spec) in members {
        let Some(previous) = spec.previous else { continue };
        for (topic, ps) in previous {
            for &p in ps {
                let tp = (*topic, p);
                let allowed = eligible.get(&tp).is_some_and(|subs| subs.contains(member));
                if allowed && !owner.contains_key(&tp) && counts[member] < cap {
                    owner.insert(tp, member);
                    *counts.entry(member).or_default() += 1;
                }
            }
        }
    }

    // The rest go to the least loaded eligible member, most constrained partitions first.
    let mut free: Vec<&((uuid::Uuid, i32), Vec<&str>)> =
        partitions.iter().filter(|(tp, _)| !owner.contains_key(tp)).collect();
    free.sort_by_key(|(tp, subs)| (subs.len(), *tp));
    for (tp, subs) in free {
        if let Some(best) = least_loaded(subs, &counts) {
            owner.insert(*tp, best);
            *counts.entry(best).or_default() += 1;
        }
    }

    // Even out what stickiness and mixed subscriptions left uneven. Each move lowers the sum of squared
    // counts, so the loop ends.
    loop {
        let mut moved = false;
        let tps: Vec<(uuid::Uuid, i32)> = owner.keys().copied().collect();
        for tp in tps {
            let from = owner[&tp];
            let Some(to) = least_loaded(eligible[&tp], &counts) else { continue };
            if counts[to] + 1 < counts[from] {
                owner.insert(tp, to);
                *counts.entry(from).or_default() -= 1;
                *counts.entry(to).or_default() += 1;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }

    for ((topic, p), member) in owner {
        out.entry(member.to_string()).or_default().entry(topic).or_default().insert(p);
    }
}

fn least_loaded<'a>(candidates: &[&'a str], counts: &BTreeMap<&str, usize>) -> Option<&'a str> {
    candidates.iter().copied().min_by_key(|m| (counts.get(m).copied().unwrap_or(0), *m))
}
