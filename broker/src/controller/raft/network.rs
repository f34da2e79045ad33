//! openraft's outbound RPCs (AppendEntries, Vote, InstallSnapshot chunks) over the controller transport.
//! Connection failures are reported as "unreachable" (openraft backs off), broken exchanges and timeouts as
//! network errors, and the remote Raft's own errors as remote errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::BasicNode;

use super::TypeConfig;
use crate::controller::rpc::{CallError, PeerPool, Request, Response};

/// Makes one [`Peer`] per target node; all share the connection pool.
pub(crate) struct Network {
    pool: Arc<PeerPool>,
    /// The voter addresses of this node's `controller_quorum`: they win over the addresses the membership
    /// recorded at bootstrap, so a voter that moved only needs the setting changed.
    configured: Arc<BTreeMap<u64, String>>,
}

impl Network {
    pub(crate) fn new(pool: Arc<PeerPool>, configured: Arc<BTreeMap<u64, String>>) -> Self {
        Self { pool, configured }
    }
}

/// The RPC client openraft uses for one target node.
pub(crate) struct Peer {
    target: u64,
    addr: String,
    pool: Arc<PeerPool>,
}

type RpcResult<T, E = openraft::error::Infallible> = Result<T, RPCError<u64, BasicNode, RaftError<u64, E>>>;

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Peer {
        let addr = self.configured.get(&target).cloned().unwrap_or_else(|| node.addr.clone());
        Peer { target, addr, pool: self.pool.clone() }
    }
}

impl Peer {
    async fn call<E: std::error::Error>(
        &self,
        request: Request,
        option: &RPCOption,
    ) -> Result<Response, RPCError<u64, BasicNode, RaftError<u64, E>>> {
        self.pool.call(&self.addr, &request, option.hard_ttl()).await.map_err(|e| match &e {
            CallError::Connect { .. } => RPCError::Unreachable(Unreachable::new(&e)),
            CallError::Exchange { .. } | CallError::Timeout { .. } => RPCError::Network(NetworkError::new(&e)),
        })
    }

    fn remote<E: std::error::Error>(&self, error: RaftError<u64, E>) -> RPCError<u64, BasicNode, RaftError<u64, E>> {
        RPCError::RemoteError(RemoteError::new(self.target, error))
    }
}

fn unexpected<E: std::error::Error>(response: &Response) -> RPCError<u64, BasicNode, RaftError<u64, E>> {
    let e = std::io::Error::other(format!("unexpected answer {response:?}"));
    RPCError::Network(NetworkError::new(&e))
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<u64>> {
        match self.call(Request::AppendEntries(rpc), &option).await? {
            Response::AppendEntries(result) => result.map_err(|e| self.remote(e)),
            other => Err(unexpected(&other)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<u64>, InstallSnapshotError> {
        match self.call(Request::InstallSnapshot(rpc), &option).await? {
            Response::InstallSnapshot(result) => result.map_err(|e| self.remote(e)),
            other => Err(unexpected(&other)),
        }
    }

    async fn vote(&mut self, rpc: VoteRequest<u64>, option: RPCOption) -> RpcResult<VoteResponse<u64>> {
        match self.call(Request::Vote(rpc), &option).await? {
            Response::Vote(result) => result.map_err(|e| self.remote(e)),
            other => Err(unexpected(&other)),
        }
    }
}
