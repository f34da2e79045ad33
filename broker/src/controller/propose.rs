//! Proposals: a command goes to the Raft leader (appended directly when this node leads, forwarded over the
//! controller transport otherwise), retried across leader changes for a bounded time, and answered only once
//! this node has applied it too.

use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use tokio::time::Instant;

use super::command::{CommandResult, MetadataCommand};
use super::raft::MetadataRaft;
use super::rpc::{CallError, Request, Response};
use super::{Controller, ControllerError};

/// How long a proposal keeps trying before giving up.
pub(crate) const PROPOSE_DEADLINE: Duration = Duration::from_secs(15);
/// The pause between attempts while no leader answers.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// The pause before following a "the leader is X" hint (two nodes with stale views must not ping-pong fast).
const HINT_PAUSE: Duration = Duration::from_millis(10);
/// Once committed, how long applying on this node may take at least, even past the deadline.
const APPLY_GRACE: Duration = Duration::from_secs(2);

/// One try at getting a command committed.
pub(crate) enum Attempt {
    /// Committed at `index` and applied on the leader.
    Done { index: u64, result: CommandResult },
    /// The node asked does not lead; the leader it knows of.
    NotLeader(Option<u64>),
    /// Something else went wrong; try again.
    Failed(String),
}

/// Appends `command` on this node's Raft (which should be the leader) and waits for it to be applied here.
pub(crate) async fn write_local(raft: &MetadataRaft, command: MetadataCommand, timeout: Duration) -> Attempt {
    match tokio::time::timeout(timeout, raft.client_write(command)).await {
        Ok(Ok(response)) => Attempt::Done { index: response.log_id.index, result: response.data },
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward)))) => {
            Attempt::NotLeader(forward.leader_id)
        }
        Ok(Err(e)) => Attempt::Failed(e.to_string()),
        Err(_) => Attempt::Failed(format!("not committed within {} ms", timeout.as_millis())),
    }
}

impl Controller {
    pub(super) async fn propose_routed(&self, command: MetadataCommand) -> Result<CommandResult, ControllerError> {
        let deadline = Instant::now() + PROPOSE_DEADLINE;
        let me = u64::try_from(self.node_id).ok();
        let mut hint = None;
        let mut last_problem = String::from("no leader is known yet");
        // Whether some attempt may have reached a leader without an answer coming back.
        let mut in_doubt = false;
        loop {
            if self.shutting_down() {
                return Err(ControllerError::NotAvailable("this node is shutting down".into()));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            let leader = hint.take().or_else(|| self.leader());
            let attempt = match leader {
                None => Attempt::NotLeader(None),
                Some(id) if Some(id) == me => {
                    let attempt = write_local(&self.raft, command.clone(), remaining).await;
                    in_doubt |= matches!(attempt, Attempt::Failed(_));
                    attempt
                }
                Some(id) => {
                    let (attempt, doubt) = self.forward(id, &command, remaining).await;
                    in_doubt |= doubt;
                    attempt
                }
            };
            match attempt {
                Attempt::Done { index, result } => {
                    self.wait_applied(index, deadline.max(Instant::now() + APPLY_GRACE)).await?;
                    return Ok(result);
                }
                Attempt::NotLeader(Some(next)) if Some(next) != leader => {
                    hint = Some(next);
                    last_problem = format!("node {next} was named leader but did not answer yet");
                    tokio::time::sleep(HINT_PAUSE).await;
                    continue;
                }
                Attempt::NotLeader(_) => last_problem = "no leader is elected".into(),
                Attempt::Failed(problem) => last_problem = problem,
            }
            tokio::time::sleep(RETRY_PAUSE.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
        if in_doubt {
            Err(ControllerError::Timeout(PROPOSE_DEADLINE.as_millis() as u64))
        } else {
            Err(ControllerError::NotAvailable(last_problem))
        }
    }

    /// Sends `command` to leader `id`; also says whether the request may have reached it unanswered.
    async fn forward(&self, id: u64, command: &MetadataCommand, timeout: Duration) -> (Attempt, bool) {
        let Some(addr) = self.address_of(id) else {
            return (Attempt::Failed(format!("no address is known for node {id}")), false);
        };
        match self.pool.call(&addr, &Request::Propose(command.clone()), timeout).await {
            Ok(Response::Proposed { index, result }) => (Attempt::Done { index, result }, false),
            Ok(Response::NotLeader { leader }) => (Attempt::NotLeader(leader), false),
            Ok(Response::Failed(problem)) => (Attempt::Failed(format!("node {id}: {problem}")), true),
            Ok(other) => (Attempt::Failed(format!("node {id} answered {other:?}")), false),
            Err(e @ CallError::Connect { .. }) => (Attempt::Failed(e.to_string()), false),
            Err(e) => (Attempt::Failed(e.to_string()), true),
        }
    }

    /// Waits until this node's image has applied log index `index`.
    async fn wait_applied(&self, index: u64, until: Instant) -> Result<(), ControllerError> {
        let mut image = self.image.clone();
        let applied = tokio::time::timeout_at(until, image.wait_for(|image| image.applied_index >= index))
            .await
            .map(|waited| waited.is_ok());
        match applied {
            Ok(true) => Ok(()),
            Ok(false) => Err(ControllerError::NotAvailable("this node's state machine stopped".into())),
            Err(_) => Err(ControllerError::Timeout(PROPOSE_DEADLINE.as_millis() as u64)),
        }
    }
}
