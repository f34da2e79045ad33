//! Incremental reconciliation of one member towards its target assignment (KIP-848).
//!
//! A member never gains a partition another member still owns: it first gives up what its target no longer
//! holds (revocation, epoch unchanged), then moves to the target epoch with the partitions that are free,
//! and picks up the rest once their previous owners have released them.

use std::collections::BTreeSet;

use super::Assignment;

/// Where a member stands in reconciliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberState {
    /// At the target epoch and owning its whole target.
    Stable,
    /// Told to give up partitions; stays at its epoch until it reports them gone.
    UnrevokedPartitions,
    /// At the target epoch, waiting for partitions other members still own.
    UnreleasedPartitions,
}

/// The part of a member that reconciliation moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reconciled {
    pub(crate) state: MemberState,
    pub(crate) epoch: i32,
    pub(crate) previous_epoch: i32,
    /// What the member has been told it owns.
    pub(crate) assigned: Assignment,
    /// What it must give up before it moves on.
    pub(crate) revoking: Assignment,
}

/// The next step of a member towards `target` at `target_epoch`.
///
/// `owned` is what the member reported owning in this heartbeat (`None`: unchanged since the last one);
/// `taken(topic, partition)` says whether another member still owns a partition.
pub(crate) fn next(
    current: &Reconciled,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    taken: &dyn Fn(uuid::Uuid, i32) -> bool,
) -> Reconciled {
    match current.state {
        MemberState::UnrevokedPartitions => {
            let revoked = owned.is_some_and(|owned| !overlaps(owned, &current.revoking));
            if revoked {
                let released = Reconciled { revoking: Assignment::new(), ..current.clone() };
                compute(&released, target_epoch, target, taken)
            } else {
                current.clone()
            }
        }
        MemberState::Stable | MemberState::UnreleasedPartitions => {
            if current.epoch == target_epoch && current.state == MemberState::Stable {
                current.clone()
            } else {
                compute(current, target_epoch, target, taken)
            }
        }
    }
}

fn compute(
    current: &Reconciled,
    target_epoch: i32,
    target: &Assignment,
    taken: &dyn Fn(uuid::Uuid, i32) -> bool,
) -> Reconciled {
    let mut kept = Assignment::new();
    let mut revoking = Assignment::new();
    for (topic, ps) in &current.assigned {
        for &p in ps {
            let slot = if contains(target, *topic, p) { &mut kept } else { &mut revoking };
            slot.entry(*topic).or_default().insert(p);
        }
    }
    if !revoking.is_empty() {
        // Revocation first: the member keeps its epoch (its commits stay valid) and gets only what it keeps.
        return Reconciled {
            state: MemberState::UnrevokedPartitions,
            epoch: current.epoch,
            previous_epoch: current.previous_epoch,
            assigned: kept,
            revoking,
        };
    }
    let mut assigned = kept;
    let mut unreleased = false;
    for (topic, ps) in target {
        for &p in ps {
            if contains(&assigned, *topic, p) {
                continue;
            }
            if taken(*topic, p) {
                unreleased = true;
            } else {
                assigned.entry(*topic).or_default().insert(p);
            }
        }
    }
    let previous_epoch = if current.epoch == target_epoch { current.previous_epoch } else { current.epoch };
    Reconciled {
        state: if unreleased { MemberState::UnreleasedPartitions } else { MemberState::Stable },
        epoch: target_epoch,
        previous_epoch,
        assigned,
        revoking: Assignment::new(),
    }
}

/// Whether `assignment` holds `topic`-`partition`.
pub(crate) fn contains(assignment: &Assignment, topic: uuid::Uuid, partition: i32) -> bool {
    assignment.get(&topic).is_some_and(|ps| ps.contains(&partition))
}

fn overlaps(a: &Assignment, b: &Assignment) -> bool {
    a.iter().any(|(topic, ps)| b.get(topic).is_some_and(|other| !ps.is_disjoint(other)))
}

/// Whether every partition of `a` is in `b`.
pub(crate) fn is_subset(a: &Assignment, b: &Assignment) -> bool {
    a.iter().all(|(topic, ps)| ps.is_empty() || b.get(topic).is_some_and(|other| ps.is_subset(other)))
}

/// `a` with empty topic entries dropped, so assignments compare by content.
pub(crate) fn normalized(a: &Assignment) -> Assignment {
    a.iter().filter(|(_, ps)| !ps.is_empty()).map(|(t, ps)| (*t, ps.clone())).collect()
}

/// Every partition of `a`, flattened.
pub(crate) fn partitions(a: &Assignment) -> BTreeSet<(uuid::Uuid, i32)> {
    a.iter().flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p))).collect()
}
