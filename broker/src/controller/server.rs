//! The controller listener: accepts connections from the other nodes and serves their requests one at a time
//! per connection: Raft RPCs go to the local Raft member, proposals are appended if this node leads (else the
//! answer names the leader), broker heartbeats are recorded and learners admitted if this node leads.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::heartbeat::HeartbeatTracker;
use super::propose::{write_local, Attempt, PROPOSE_DEADLINE};
use super::raft::MetadataRaft;
use super::rpc::{read_frame, write_frame, Request, Response};

/// What serving requests needs.
pub(crate) struct Context {
    pub(crate) node_id: u64,
    pub(crate) raft: MetadataRaft,
    pub(crate) heartbeats: Arc<HeartbeatTracker>,
}

/// Serves `listener` until `shutdown` turns true; the listener is closed when the returned task ends.
pub(crate) fn spawn(listener: TcpListener, context: Arc<Context>, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut stop = shutdown.clone();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.wait_for(|stop| *stop) => return,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tracing::debug!(%peer, "controller connection accepted");
                    tokio::spawn(serve(stream, context.clone(), shutdown.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!("controller listener: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    })
}

async fn serve(mut stream: TcpStream, context: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let request: Request = tokio::select! {
            read = read_frame(&mut stream) => match read {
                Ok(Some(request)) => request,
                Ok(None) => return,
                Err(e) => {
                    tracing::debug!("controller connection dropped: {e}");
                    return;
                }
            },
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let response = tokio::select! {
            response = handle(&context, request) => response,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        if let Err(e) = write_frame(&mut stream, &response).await {
            tracing::debug!("controller connection dropped while answering: {e}");
            return;
        }
    }
}

async fn handle(context: &Context, request: Request) -> Response {
    match request {
        Request::AppendEntries(rpc) => Response::AppendEntries(context.raft.append_entries(rpc).await),
        Request::Vote(rpc) => Response::Vote(context.raft.vote(rpc).await),
        Request::InstallSnapshot(rpc) => Response::InstallSnapshot(context.raft.install_snapshot(rpc).await),
        Request::Propose(command) => match write_local(&context.raft, command, PROPOSE_DEADLINE).await {
            Attempt::Done { index, result } => Response::Proposed { index, result },
            Attempt::NotLeader(leader) => Response::NotLeader { leader },
            Attempt::Failed(problem) => Response::Failed(problem),
        },
        Request::AddLearner { id, addr } => super::learner::admit(&context.raft, id, addr).await,
        Request::BrokerHeartbeat { id, incarnation } => {
            let leader = context.raft.metrics().borrow().current_leader;
            if leader == Some(context.node_id) {
                context.heartbeats.record(id, incarnation);
                Response::HeartbeatAck
            } else {
                Response::NotLeader { leader }
            }
        }
    }
}
