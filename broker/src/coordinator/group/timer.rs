//! One tokio task per group with something that can time out (member sessions, pending member ids, the
//! rebalance deadline). It sleeps until the group's earliest deadline, applies what expired, and ends when
//! nothing is left to expire; the next join starts a new one. Heartbeats only push deadlines later, so they
//! never wake it: it wakes at the old deadline, finds it moved, and sleeps again.

use std::sync::Arc;

use tokio::time::Instant;

use super::classic::{ClassicGroup, Effects};
use super::Inner;

/// Starts the group's timer task if it is not running, or wakes it to look at its deadlines again.
pub(crate) fn ensure(inner: &Arc<Inner>, group: &mut ClassicGroup) {
    if group.timer_running {
        group.notify.notify_one();
        return;
    }
    if group.next_deadline().is_none() {
        return;
    }
    group.timer_running = true;
    tokio::spawn(run(inner.clone(), group.id.clone()));
}

async fn run(inner: Arc<Inner>, group_id: String) {
    let mut shutdown = inner.shutdown.clone();
    loop {
        let (deadline, notify) = {
            let mut groups = inner.groups.lock();
            let Some(group) = groups.get_mut(&group_id) else { return };
            match group.next_deadline() {
                Some(deadline) => (deadline, group.notify.clone()),
                None => {
                    group.timer_running = false;
                    return;
                }
            }
        };
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {}
            () = notify.notified() => continue,
            _ = shutdown.changed() => return,
        }
        let mut groups = inner.groups.lock();
        let Some(group) = groups.get_mut(&group_id) else { return };
        let mut fx = Effects::default();
        group.on_timer(Instant::now(), &inner.settings, &mut fx);
        // A group that never had a generation (only expired KIP-394 member ids) wrote nothing: forget it.
        let ghost = group.generation == 0 && group.is_forgettable();
        inner.settle(&group_id, fx);
        if ghost {
            groups.remove(&group_id);
            return;
        }
    }
}
