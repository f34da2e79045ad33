//! The leader's cache of incremental fetch sessions (KIP-227), for follower fetches.
//!
//! A follower's full fetch with epoch 0 creates a session holding every partition it named; its later fetches
//! (epoch 1, 2, ...) name only what changed (added, updated, `forgotten_topics_data`), and the answers carry only
//! partitions with something to say: records, an error, or a high watermark, last stable offset or log start
//! offset other than the one last sent. Every session partition is still fetched every round at its cached
//! offset, so the leader's follower bookkeeping (ISR, high watermark) sees the follower exactly as before.
//!
//! Consumers are declined (session id 0 in the answer), which KIP-227 allows: they keep sending full fetches.
//! The cache holds one session per follower id (a new one replaces the old) and at most [`MAX_SESSIONS`].

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use tokio::time::Instant;
use uuid::Uuid;

use super::response::{PartitionAnswer, TopicAnswer};

/// A partition of a session: topic name and index.
pub(crate) type Key = (String, i32);

/// Kafka's max.incremental.fetch.session.cache.slots default. Followers need one each; the cap only matters
/// against clients posing as many replica ids.
const MAX_SESSIONS: usize = 1000;
/// A full cache may drop a session unused this long (Kafka's min.incremental.fetch.session.eviction.ms).
const IDLE_EVICTION: Duration = Duration::from_secs(120);

/// What a fetch request asks of a partition; in a session, the cached copy of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub(crate) topic_id: Uuid,
    pub(crate) fetch_offset: i64,
    pub(crate) max_bytes: i32,
    pub(crate) log_start_offset: i64,
    pub(crate) leader_epoch: i32,
}

/// The offsets last sent for a partition of a session: an incremental answer leaves it out while they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LastSent {
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
}

#[derive(Debug)]
struct Cached {
    wanted: Wanted,
    /// None until a first answer for the partition went out in this session.
    sent: Option<LastSent>,
}

#[derive(Debug)]
struct Session {
    replica_id: i32,
    /// The epoch the next incremental fetch must carry.
    next_epoch: i32,
    /// Ordered, so a fetch reads them in a stable order (rotated per round, see [`FetchSessions::begin`]).
    partitions: BTreeMap<Key, Cached>,
    last_used: Instant,
}

/// How a fetch is to be served, decided by [`FetchSessions::begin`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// A full fetch of the request's partitions, answered with this session id: 0 (no session, a sessionless
    /// fetch or a declined one) or a session just created from the request's partitions.
    Full { session_id: i32 },
    /// An incremental fetch of session `session_id`: every partition of the session, at its cached offsets.
    Incremental { session_id: i32, epoch: i32, partitions: Vec<(Key, Wanted)> },
    /// A top-level refusal (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH), with no partitions.
    Refused(ResponseError),
}

/// The sessions of this broker, shared by every connection.
#[derive(Debug)]
pub(crate) struct FetchSessions {
    inner: Mutex<Cache>,
}

#[derive(Debug)]
struct Cache {
    sessions: HashMap<i32, Session>,
    /// The live session of each follower id.
    by_replica: HashMap<i32, i32>,
    next_id: i32,
}

/// The epoch after `epoch`: 1 follows `i32::MAX`, as in Kafka (0 and -1 mean full fetches).
pub(crate) fn next_epoch(epoch: i32) -> i32 {
    if epoch < 0 {
        0
    } else if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

impl Default for FetchSessions {
    fn default() -> Self {
        // A random start: ids of a previous run of this broker are unlikely to name a live session.
        let next_id = (rand::random::<u32>() >> 1) as i32;
        Self { inner: Mutex::new(Cache { sessions: HashMap::new(), by_replica: HashMap::new(), next_id }) }
    }
}

impl FetchSessions {
    /// Decides how a fetch from `replica_id` (negative: a consumer) carrying `session_id` and `epoch` is served.
    /// `requested` are the request's partitions whose topic is known; `forgotten` the partitions it removes.
    pub(crate) fn begin(
        &self,
        replica_id: i32,
        session_id: i32,
        epoch: i32,
        requested: &[(Key, Wanted)],
        forgotten: &[Key],
    ) -> Plan {
        let mut cache = self.inner.lock();
        let now = Instant::now();
        if epoch == 0 || epoch == -1 {
            // A full fetch closes the session it names (only the owner may).
            if session_id != 0 && cache.sessions.get(&session_id).is_some_and(|s| s.replica_id == replica_id) {
                cache.remove(session_id);
            }
            if epoch == -1 || replica_id < 0 {
                return Plan::Full { session_id: 0 };
            }
            let partitions = requested
                .iter()
                .map(|(key, wanted)| (key.clone(), Cached { wanted: wanted.clone(), sent: None }))
                .collect();
            let session_id = cache.create(replica_id, partitions, now);
            return Plan::Full { session_id };
        }
        let Some(session) = cache.sessions.get_mut(&session_id).filter(|s| s.replica_id == replica_id) else {
            // Another follower's session is not this one's to use: as good as unknown.
            return Plan::Refused(ResponseError::FetchSessionIdNotFound);
        };
        if epoch != session.next_epoch {
            return Plan::Refused(ResponseError::InvalidFetchSessionEpoch);
        }
        session.next_epoch = next_epoch(epoch);
        session.last_used = now;
        for key in forgotten {
            session.partitions.remove(key);
        }
        for (key, wanted) in requested {
            match session.partitions.get_mut(key) {
                Some(cached) => cached.wanted = wanted.clone(),
                None => {
                    session.partitions.insert(key.clone(), Cached { wanted: wanted.clone(), sent: None });
                }
            }
        }
        let mut partitions: Vec<(Key, Wanted)> =
            session.partitions.iter().map(|(key, c)| (key.clone(), c.wanted.clone())).collect();
        // Each round starts at another partition, so a full answer (max_bytes) does not starve the last ones.
        if !partitions.is_empty() {
            let start = epoch as usize % partitions.len();
            partitions.rotate_left(start);
        }
        Plan::Incremental { session_id, epoch, partitions }
    }

    /// Records what a session's answer carries and, for an incremental one, keeps only the partitions that must
    /// respond. A full answer seeds the offsets last sent. Should the session have gone or moved on meanwhile,
    /// the answer stays whole: more partitions than needed are harmless, fewer would not be.
    pub(crate) fn finish(&self, plan: &Plan, answers: &mut Vec<TopicAnswer>) {
        let (session_id, incremental) = match plan {
            Plan::Full { session_id: 0 } | Plan::Refused(_) => return,
            Plan::Full { session_id } => (*session_id, false),
            Plan::Incremental { session_id, .. } => (*session_id, true),
        };
        let mut cache = self.inner.lock();
        let Some(session) = cache.sessions.get_mut(&session_id) else { return };
        if let Plan::Incremental { epoch, .. } = plan {
            if session.next_epoch != next_epoch(*epoch) {
                return;
            }
        }
        for topic in answers.iter_mut() {
            // One key per topic, its partition set in turn: no name copied per partition on this per-round path.
            let mut key: Key = (topic.name.clone(), 0);
            topic.partitions.retain(|answer| {
                key.1 = answer.partition;
                let Some(cached) = session.partitions.get_mut(&key) else {
                    // Not cached (an unknown topic answered with its error): always said.
                    return true;
                };
                let now = LastSent {
                    high_watermark: answer.high_watermark,
                    last_stable_offset: answer.last_stable_offset,
                    log_start_offset: answer.log_start_offset,
                };
                let respond = !incremental || must_respond(cached.sent, now, answer);
                if respond {
                    cached.sent = Some(now);
                }
                respond
            });
        }
        answers.retain(|t| !t.partitions.is_empty());
    }

    /// The number of live sessions and the next epoch of `replica_id`'s session, if it has one (tests).
    #[cfg(test)]
    pub(crate) fn session_of(&self, replica_id: i32) -> Option<(i32, i32, usize)> {
        let cache = self.inner.lock();
        let id = *cache.by_replica.get(&replica_id)?;
        cache.sessions.get(&id).map(|s| (id, s.next_epoch, s.partitions.len()))
    }
}

/// Whether an incremental answer must carry this partition: it has records or an error, or an offset the
/// follower was not told yet.
fn must_respond(sent: Option<LastSent>, now: LastSent, answer: &PartitionAnswer) -> bool {
    !answer.records.is_empty() || answer.error_code != 0 || sent != Some(now)
}

impl Cache {
    fn remove(&mut self, session_id: i32) {
        if let Some(session) = self.sessions.remove(&session_id) {
            if self.by_replica.get(&session.replica_id) == Some(&session_id) {
                self.by_replica.remove(&session.replica_id);
            }
        }
    }

    /// A new session for `replica_id`, replacing its previous one; 0 when the cache is full of live sessions.
    fn create(&mut self, replica_id: i32, partitions: BTreeMap<Key, Cached>, now: Instant) -> i32 {
        if let Some(old) = self.by_replica.get(&replica_id).copied() {
            self.remove(old);
        }
        if self.sessions.len() >= MAX_SESSIONS {
            let idle = self
                .sessions
                .iter()
                .filter(|(_, s)| now.duration_since(s.last_used) >= IDLE_EVICTION)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(&id, _)| id);
            match idle {
                Some(id) => self.remove(id),
                None => return 0,
            }
        }
        let mut id = self.next_id;
        while id <= 0 || self.sessions.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_id = id.wrapping_add(1);
        self.sessions.insert(id, Session { replica_id, next_epoch: 1, partitions, last_used: now });
        self.by_replica.insert(replica_id, id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(offset: i64) -> Wanted {
        Wanted { topic_id: Uuid::nil(), fetch_offset: offset, max_bytes: 1024, log_start_offset: 0, leader_epoch: 3 }
    }

    fn key(topic: &str, partition: i32) -> Key {
        (topic.to_string(), partition)
    }

    fn answer(partition: i32, high_watermark: i64) -> PartitionAnswer {
        PartitionAnswer {
            partition,
            error_code: 0,
            high_watermark,
            last_stable_offset: high_watermark,
            log_start_offset: 0,
            aborted_transactions: None,
            records: Vec::new(),
            current_leader: None,
        }
    }

    fn topic(name: &str, partitions: Vec<PartitionAnswer>) -> TopicAnswer {
        TopicAnswer { name: name.into(), id: Uuid::nil(), partitions }
    }

    /// The (topic, partition) pairs of an answer.
    fn named(answers: &[TopicAnswer]) -> Vec<Key> {
        answers.iter().flat_map(|t| t.partitions.iter().map(|p| key(&t.name, p.partition))).collect()
    }

    /// A session of follower 2 over t-0 and t-1, with its full answer sent; its id.
    fn session(cache: &FetchSessions) -> i32 {
        let requested = [(key("t", 0), wanted(5)), (key("t", 1), wanted(7))];
        let plan = cache.begin(2, 0, 0, &requested, &[]);
        let Plan::Full { session_id } = plan else { panic!("a full fetch: {plan:?}") };
        assert!(session_id > 0);
        let mut answers = vec![topic("t", vec![answer(0, 10), answer(1, 10)])];
        cache.finish(&plan, &mut answers);
        assert_eq!(named(&answers), vec![key("t", 0), key("t", 1)], "a full answer carries everything");
        session_id
    }

    #[test]
    fn sessionless_and_consumer_fetches_get_no_session() {
        let cache = FetchSessions::default();
        assert_eq!(cache.begin(2, 0, -1, &[(key("t", 0), wanted(0))], &[]), Plan::Full { session_id: 0 });
        assert_eq!(cache.begin(-1, 0, 0, &[(key("t", 0), wanted(0))], &[]), Plan::Full { session_id: 0 });
        assert_eq!(cache.session_of(2), None);
        assert_eq!(cache.session_of(-1), None);
    }

    #[test]
    fn incremental_fetches_cover_every_session_partition_and_advance_the_epoch() {
        let cache = FetchSessions::default();
        let id = session(&cache);
        assert_eq!(cache.session_of(2), Some((id, 1, 2)));
        // Epoch 1 updates t-0 and adds u-0; t-1 stays at its cached offset.
        let plan = cache.begin(2, id, 1, &[(key("t", 0), wanted(6)), (key("u", 0), wanted(0))], &[]);
        let Plan::Incremental { session_id, epoch: 1, mut partitions } = plan else { panic!("{plan:?}") };
        assert_eq!(session_id, id);
        partitions.sort_by(|a, b| a.0.cmp(&b.0));
        let offsets: Vec<(Key, i64)> = partitions.into_iter().map(|(k, w)| (k, w.fetch_offset)).collect();
        assert_eq!(offsets, vec![(key("t", 0), 6), (key("t", 1), 7), (key("u", 0), 0)]);
        assert_eq!(cache.session_of(2), Some((id, 2, 3)));
        // Forgotten partitions leave the session.
        let Plan::Incremental { partitions, .. } = cache.begin(2, id, 2, &[], &[key("t", 1)]) else { panic!() };
        let mut keys: Vec<Key> = partitions.into_iter().map(|(k, _)| k).collect();
        keys.sort();
        assert_eq!(keys, vec![key("t", 0), key("u", 0)]);
    }

    #[test]
    fn unknown_ids_wrong_epochs_and_other_owners_are_refused() {
        let cache = FetchSessions::default();
        let id = session(&cache);
        assert_eq!(
            cache.begin(2, id.wrapping_add(1), 1, &[], &[]),
            Plan::Refused(ResponseError::FetchSessionIdNotFound)
        );
        assert_eq!(cache.begin(2, 0, 1, &[], &[]), Plan::Refused(ResponseError::FetchSessionIdNotFound));
        assert_eq!(cache.begin(3, id, 1, &[], &[]), Plan::Refused(ResponseError::FetchSessionIdNotFound), "owner");
        assert_eq!(cache.begin(2, id, 2, &[], &[]), Plan::Refused(ResponseError::InvalidFetchSessionEpoch));
        assert_eq!(cache.begin(-1, id, 1, &[], &[]), Plan::Refused(ResponseError::FetchSessionIdNotFound));
        // Refusals leave the session as it was.
        assert!(matches!(cache.begin(2, id, 1, &[], &[]), Plan::Incremental { epoch: 1, .. }));
        // Another follower cannot close it either.
        assert_eq!(cache.begin(3, id, -1, &[], &[]), Plan::Full { session_id: 0 });
        assert!(matches!(cache.begin(2, id, 2, &[], &[]), Plan::Incremental { epoch: 2, .. }));
    }

    #[test]
    fn full_fetches_close_the_named_session() {
        let cache = FetchSessions::default();
        let id = session(&cache);
        // Epoch -1: closed, sessionless.
        assert_eq!(cache.begin(2, id, -1, &[], &[]), Plan::Full { session_id: 0 });
        assert_eq!(cache.session_of(2), None);
        assert_eq!(cache.begin(2, id, 1, &[], &[]), Plan::Refused(ResponseError::FetchSessionIdNotFound));
        // Epoch 0 with an id: closed and replaced.
        let id = session(&cache);
        let Plan::Full { session_id: new } = cache.begin(2, id, 0, &[(key("t", 0), wanted(0))], &[]) else { panic!() };
        assert!(new > 0 && new != id);
        assert_eq!(cache.session_of(2), Some((new, 1, 1)));
        assert_eq!(cache.begin(2, id, 1, &[], &[]), Plan::Refused(ResponseError::FetchSessionIdNotFound));
    }

    #[test]
    fn a_follower_has_one_session_and_the_cache_is_bounded() {
        let cache = FetchSessions::default();
        let first = session(&cache);
        let second = session(&cache);
        assert_ne!(first, second);
        assert_eq!(cache.begin(2, first, 1, &[], &[]), Plan::Refused(ResponseError::FetchSessionIdNotFound), "evicted");
        assert!(matches!(cache.begin(2, second, 1, &[], &[]), Plan::Incremental { .. }));
        assert_eq!(cache.session_of(2).map(|s| s.0), Some(second));
        // Other followers have their own.
        for replica in 3..(MAX_SESSIONS as i32 + 2) {
            let plan = cache.begin(replica, 0, 0, &[], &[]);
            assert!(matches!(plan, Plan::Full { session_id } if session_id > 0), "replica {replica}: {plan:?}");
        }
        // Full of sessions in use: declined, and nobody lost theirs.
        assert_eq!(cache.begin(MAX_SESSIONS as i32 + 5, 0, 0, &[], &[]), Plan::Full { session_id: 0 });
        assert!(matches!(cache.begin(2, second, 2, &[], &[]), Plan::Incremental { .. }));
    }

    #[test]
    fn incremental_answers_carry_only_partitions_that_must_respond() {
        let cache = FetchSessions::default();
        let id = session(&cache);
        let plan = cache.begin(2, id, 1, &[], &[]);
        // t-0: unchanged; t-1: the high watermark moved.
        let mut answers = vec![topic("t", vec![answer(0, 10), answer(1, 11)])];
        cache.finish(&plan, &mut answers);
        assert_eq!(named(&answers), vec![key("t", 1)]);

        let plan = cache.begin(2, id, 2, &[], &[]);
        let mut answers = vec![topic("t", vec![answer(0, 10), answer(1, 11)])];
        cache.finish(&plan, &mut answers);
        assert!(answers.is_empty(), "nothing new: {:?}", named(&answers));

        // Errors, records, log start and last stable offset changes always respond.
        let plan = cache.begin(2, id, 3, &[], &[]);
        let mut refused = answer(0, 10);
        refused.error_code = 6;
        let mut moved = answer(1, 11);
        moved.log_start_offset = 4;
        let mut answers = vec![topic("t", vec![refused, moved])];
        cache.finish(&plan, &mut answers);
        assert_eq!(named(&answers), vec![key("t", 0), key("t", 1)]);

        let plan = cache.begin(2, id, 4, &[], &[]);
        let mut stable = answer(0, 10);
        stable.last_stable_offset = 9;
        let mut same = answer(1, 11);
        same.log_start_offset = 4;
        let mut answers = vec![topic("t", vec![stable, same])];
        cache.finish(&plan, &mut answers);
        assert_eq!(named(&answers), vec![key("t", 0)], "t-1's log start 4 was sent already");

        // A partition added to the session answers once whatever its offsets.
        let plan = cache.begin(2, id, 5, &[(key("u", 0), wanted(0))], &[]);
        let mut answers = vec![topic("t", vec![answer(0, 10)]), topic("u", vec![answer(0, -1)])];
        cache.finish(&plan, &mut answers);
        assert_eq!(named(&answers), vec![key("t", 0), key("u", 0)]);
    }

    #[test]
    fn epochs_wrap_past_the_largest() {
        assert_eq!(next_epoch(-1), 0);
        assert_eq!(next_epoch(0), 1);
        assert_eq!(next_epoch(41), 42);
        assert_eq!(next_epoch(i32::MAX), 1);
    }
}
