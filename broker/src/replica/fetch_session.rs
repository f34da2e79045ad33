//! The follower's half of an incremental fetch session (KIP-227) with one leader: what the leader already holds
//! for each partition, so a fetch names only the partitions whose fetch changed.
//!
//! Without a session a fetch is full (session id 0, epoch 0: it asks for one). A leader that declines answers
//! session id 0 and the next fetch asks again, which costs nothing more than the full fetch it is anyway. With a
//! session a fetch carries the partitions that are new or whose fetch offset, log start, leader epoch or max
//! bytes changed since the leader last heard them, forgets the ones no longer due (paused, truncating, moved),
//! and the next epoch. The leader then fetches every session partition, named or not. A refused session
//! (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH), any other top-level error or a lost connection
//! drops it: the next fetch is full.

use std::collections::HashMap;

use kafka_protocol::ResponseError;

use super::fetcher::Key;
use crate::api::fetch::session::next_epoch;

/// What a fetch says of one partition, and the leader keeps in the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PartitionFetch {
    pub(super) fetch_offset: i64,
    pub(super) log_start_offset: i64,
    pub(super) leader_epoch: i32,
    pub(super) max_bytes: i32,
}

/// The session with one leader.
#[derive(Debug, Default)]
pub(super) struct FetchSession {
    /// 0: none.
    id: i32,
    next_epoch: i32,
    /// The leader's copy of each session partition.
    known: HashMap<Key, PartitionFetch>,
}

/// One fetch request's session part.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) session_id: i32,
    pub(super) epoch: i32,
    /// The partitions to name in the request.
    pub(super) send: Vec<(Key, PartitionFetch)>,
    /// Session partitions no longer fetched.
    pub(super) forget: Vec<Key>,
    /// Every partition the leader will fetch: the session's partitions once the request is applied.
    due: HashMap<Key, PartitionFetch>,
}

/// What the fetcher does after an answer's top-level fields.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Apply the partitions of the answer.
    Apply,
    /// The leader refused the session (or answered for another one): fetch again at once, in full, applying
    /// nothing of this answer.
    Retry,
    /// The leader refused the whole fetch for another reason.
    Refused(i16),
}

impl FetchSession {
    /// The request for the partitions now `due`.
    pub(super) fn plan(&self, due: Vec<(Key, PartitionFetch)>) -> Plan {
        if self.id == 0 {
            let send = due.clone();
            return Plan { session_id: 0, epoch: 0, send, forget: Vec::new(), due: due.into_iter().collect() };
        }
        let send = due.iter().filter(|(key, p)| self.known.get(key) != Some(p)).cloned().collect();
        let due: HashMap<Key, PartitionFetch> = due.into_iter().collect();
        let forget = self.known.keys().filter(|key| !due.contains_key(*key)).cloned().collect();
        Plan { session_id: self.id, epoch: self.next_epoch, send, forget, due }
    }

    /// Takes the answer's top-level `error_code` and `session_id` to `plan`.
    pub(super) fn answered(&mut self, plan: Plan, error_code: i16, session_id: i32) -> Outcome {
        match ResponseError::try_from_code(error_code) {
            None => {}
            Some(ResponseError::FetchSessionIdNotFound | ResponseError::InvalidFetchSessionEpoch) => {
                self.reset();
                return Outcome::Retry;
            }
            Some(_) => {
                self.reset();
                return Outcome::Refused(error_code);
            }
        }
        if plan.session_id != 0 && session_id != plan.session_id {
            // An incremental answer for another session than the one asked about: its partitions were not read
            // at the offsets this follower expects. Start over with a full fetch.
            self.reset();
            return Outcome::Retry;
        }
        if session_id == 0 {
            // Declined (or closed): the next fetch asks again.
            self.reset();
        } else {
            self.id = session_id;
            self.next_epoch = next_epoch(plan.epoch);
            self.known = plan.due;
        }
        Outcome::Apply
    }

    /// Makes the next fetch name `key` again, whatever the leader holds for it: a partition answered with an
    /// error is paused here, and whether the leader kept it in the session (it may not have known the topic)
    /// is not worth guessing.
    pub(super) fn resend(&mut self, key: &Key) {
        self.known.remove(key);
    }

    /// Forgets the session (a new connection, an error): the next fetch is full.
    pub(super) fn reset(&mut self) {
        *self = Self::default();
    }

    /// The session id, 0 for none.
    #[cfg(test)]
    pub(super) fn id(&self) -> i32 {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(topic: &str, partition: i32) -> Key {
        (topic.to_string(), partition)
    }

    fn at(fetch_offset: i64) -> PartitionFetch {
        PartitionFetch { fetch_offset, log_start_offset: 0, leader_epoch: 2, max_bytes: 1024 }
    }

    fn sent(plan: &Plan) -> Vec<(Key, i64)> {
        let mut sent: Vec<(Key, i64)> = plan.send.iter().map(|(k, p)| (k.clone(), p.fetch_offset)).collect();
        sent.sort();
        sent
    }

    /// A session (id 9) over t-0 at 5 and t-1 at 7, after a full fetch the leader accepted.
    fn established() -> FetchSession {
        let mut session = FetchSession::default();
        let plan = session.plan(vec![(key("t", 0), at(5)), (key("t", 1), at(7))]);
        assert_eq!((plan.session_id, plan.epoch), (0, 0), "no session: full, asking for one");
        assert_eq!(sent(&plan), vec![(key("t", 0), 5), (key("t", 1), 7)]);
        assert_eq!(session.answered(plan, 0, 9), Outcome::Apply);
        session
    }

    #[test]
    fn after_a_full_answer_unchanged_partitions_are_not_sent() {
        let session = established();
        let plan = session.plan(vec![(key("t", 0), at(5)), (key("t", 1), at(7))]);
        assert_eq!((plan.session_id, plan.epoch), (9, 1));
        assert!(plan.send.is_empty() && plan.forget.is_empty(), "{plan:?}");
    }

    #[test]
    fn partitions_whose_fetch_changed_are_sent_and_epochs_advance() {
        let mut session = established();
        // Records were applied to t-0; t-1's leader epoch changed; u-0 is new.
        let mut moved = at(7);
        moved.leader_epoch = 3;
        let plan = session.plan(vec![(key("t", 0), at(8)), (key("t", 1), moved), (key("u", 0), at(0))]);
        assert_eq!(sent(&plan), vec![(key("t", 0), 8), (key("t", 1), 7), (key("u", 0), 0)]);
        assert_eq!(session.answered(plan, 0, 9), Outcome::Apply);
        let plan = session.plan(vec![(key("t", 0), at(8)), (key("t", 1), moved), (key("u", 0), at(0))]);
        assert_eq!(plan.epoch, 2);
        assert!(plan.send.is_empty());
    }

    #[test]
    fn partitions_no_longer_due_are_forgotten_and_sent_again_when_back() {
        let mut session = established();
        let plan = session.plan(vec![(key("t", 0), at(5))]);
        assert_eq!(plan.forget, vec![key("t", 1)]);
        assert!(plan.send.is_empty());
        assert_eq!(session.answered(plan, 0, 9), Outcome::Apply);
        let plan = session.plan(vec![(key("t", 0), at(5)), (key("t", 1), at(7))]);
        assert!(plan.forget.is_empty());
        assert_eq!(sent(&plan), vec![(key("t", 1), 7)], "back in the session");
    }

    #[test]
    fn refused_sessions_are_dropped_and_the_next_fetch_is_full() {
        for code in [70, 71] {
            let mut session = established();
            let plan = session.plan(vec![(key("t", 0), at(6)), (key("t", 1), at(7))]);
            assert_eq!(session.answered(plan, code, 0), Outcome::Retry);
            let plan = session.plan(vec![(key("t", 0), at(6)), (key("t", 1), at(7))]);
            assert_eq!((plan.session_id, plan.epoch), (0, 0));
            assert_eq!(sent(&plan), vec![(key("t", 0), 6), (key("t", 1), 7)], "every partition again");
        }
        // Any other top-level error drops it too, but is the caller's to handle.
        let mut session = established();
        let plan = session.plan(vec![(key("t", 0), at(5))]);
        assert_eq!(session.answered(plan, 6, 0), Outcome::Refused(6));
        assert_eq!(session.id(), 0);
    }

    #[test]
    fn partitions_answered_with_an_error_are_named_again() {
        let mut session = established();
        // t-1 was refused (its leader did not know the topic yet); once due again it is named, even unchanged.
        session.resend(&key("t", 1));
        let plan = session.plan(vec![(key("t", 0), at(5)), (key("t", 1), at(7))]);
        assert_eq!(sent(&plan), vec![(key("t", 1), 7)]);
        assert!(plan.forget.is_empty());
    }

    #[test]
    fn a_declined_session_keeps_fetches_full() {
        let mut session = FetchSession::default();
        let plan = session.plan(vec![(key("t", 0), at(5))]);
        assert_eq!(session.answered(plan, 0, 0), Outcome::Apply);
        let plan = session.plan(vec![(key("t", 0), at(5))]);
        assert_eq!((plan.session_id, plan.epoch, plan.send.len()), (0, 0, 1));
        // An incremental answer for another session than the one asked about is not applied.
        let mut session = established();
        let plan = session.plan(vec![(key("t", 0), at(5))]);
        assert_eq!(session.answered(plan, 0, 10), Outcome::Retry);
        assert_eq!(session.id(), 0);
    }
}
