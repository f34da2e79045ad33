//! Broker-only nodes (`process_roles = ["broker"]`) as Raft learners: they receive and apply the metadata log
//! like voters but never vote nor count towards a quorum. A learner is not in `controller_quorum`, so the
//! leader learns its controller address from its request to be added; the address is kept in the Raft
//! membership, where the leader's network finds it to replicate to it.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};
use tokio::sync::watch;

use super::raft::MetadataRaft;
use super::rpc::{PeerPool, Request, Response};
use crate::BrokerError;

/// How long one request to be added may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);
/// The pause before asking again when no leader accepted.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Leader side: makes node `id` a learner reached at `addr`. Idempotent, so a restarted learner may ask again;
/// a changed address replaces the recorded one. A voter is never demoted to a learner.
pub(crate) async fn admit(raft: &MetadataRaft, id: u64, addr: String) -> Response {
    let (leader, is_voter, known) = {
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        let membership = metrics.membership_config.membership();
        let is_voter = membership.voter_ids().any(|voter| voter == id);
        let known = membership.get_node(&id).map(|node| node.addr.clone());
        (metrics.current_leader.filter(|leader| *leader == metrics.id), is_voter, known)
    };
    if leader.is_none() {
        return Response::NotLeader { leader: raft.metrics().borrow().current_leader };
    }
    if is_voter {
        return Response::Failed(format!("node {id} is a voter of the quorum, it cannot join as a learner"));
    }
    let node = BasicNode { addr: addr.clone() };
    let changed = match known {
        Some(known) if known == addr => return Response::LearnerAdded,
        Some(_) => raft.change_membership(ChangeMembers::SetNodes(BTreeMap::from([(id, node)])), true).await,
        // Not blocking: the learner catches up on its own; waiting here would hold the request for as long.
        None => raft.add_learner(id, node, false).await,
    };
    match changed {
        Ok(_) => {
            tracing::info!(node = id, %addr, "learner added to the metadata quorum");
            Response::LearnerAdded
        }
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
            Response::NotLeader { leader: forward.leader_id }
        }
        Err(e) => Response::Failed(format!("adding learner {id}: {e}")),
    }
}

/// Learner side: asks the voters (following leader hints) until the leader has added node `id` at `addr`.
pub(crate) async fn join(
    pool: &PeerPool,
    voters: &BTreeMap<i32, String>,
    id: u64,
    addr: &str,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), BrokerError> {
    let request = Request::AddLearner { id, addr: addr.to_string() };
    let mut targets = voters.values().cycle();
    let mut hint: Option<String> = None;
    let mut attempt = 0u64;
    loop {
        attempt += 1;
        if *shutdown.borrow() {
            return Err(BrokerError::Io(std::io::Error::other("shut down before joining the quorum as a learner")));
        }
        let Some(target) = hint.take().or_else(|| targets.next().cloned()) else {
            return Err(BrokerError::Io(std::io::Error::other("the controller quorum lists no voter")));
        };
        let problem = match pool.call(&target, &request, ASK_TIMEOUT).await {
            Ok(Response::LearnerAdded) => {
                tracing::info!(node = id, %addr, "joined the metadata quorum as a learner");
                return Ok(());
            }
            Ok(Response::NotLeader { leader: Some(leader) }) => {
                let known = i32::try_from(leader).ok().and_then(|leader| voters.get(&leader));
                if let Some(leader_addr) = known.filter(|a| **a != target) {
                    hint = Some(leader_addr.clone());
                    continue;
                }
                format!("{target} names node {leader} as leader, which is not reachable yet")
            }
            Ok(Response::NotLeader { leader: None }) => format!("{target} knows no leader"),
            Ok(other) => format!("{target} answered {other:?}"),
            Err(e) => e.to_string(),
        };
        // Every 25th attempt (about 5 s) is worth a warning; the others are the normal wait for a leader.
        if attempt % 25 == 0 {
            tracing::warn!(node = id, "not a learner of the quorum yet, retrying: {problem}");
        } else {
            tracing::debug!(node = id, "not a learner of the quorum yet: {problem}");
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}
