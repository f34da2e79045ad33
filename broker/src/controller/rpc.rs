//! The controller transport: request/response over TCP, each frame a big-endian `u32` length followed by a
//! JSON body. One request at a time per connection; a client keeps idle connections per peer for reuse and
//! drops any connection whose exchange failed or timed out (its state is unknown), dialling afresh next time.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use uuid::Uuid;

use super::command::{CommandResult, MetadataCommand};
use super::raft::TypeConfig;

/// Largest frame accepted (a snapshot chunk of 256 KiB is about 1 MiB of JSON).
const MAX_FRAME: usize = 64 * 1024 * 1024;
/// Idle connections kept per peer.
const MAX_IDLE: usize = 4;

/// What one node asks another.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Raft log replication and leader heartbeats.
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// A Raft election vote.
    Vote(VoteRequest<u64>),
    /// One chunk of a Raft snapshot.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A metadata command for the leader to append (forwarded by a non-leader).
    Propose(MetadataCommand),
    /// A broker is alive with this incarnation (sent to the leader).
    BrokerHeartbeat { id: i32, incarnation: Uuid },
    /// A broker-only node asks the leader to replicate the log to it as a Raft learner at `addr`.
    AddLearner { id: u64, addr: String },
}

/// The answer to a [`Request`].
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Response {
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    InstallSnapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    /// The proposal was committed at `index` and applied on the leader with `result`.
    Proposed {
        index: u64,
        result: CommandResult,
    },
    /// This node is not the leader; the one it knows of, if any.
    NotLeader {
        leader: Option<u64>,
    },
    /// The heartbeat was recorded.
    HeartbeatAck,
    /// The node is a learner of the quorum (added now, or already).
    LearnerAdded,
    /// The request could not be served (e.g. the proposal timed out at the leader).
    Failed(String),
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    /// The peer could not be reached: nothing was sent.
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    /// The exchange broke after connecting: the request may or may not have been served.
    #[error("exchange with {addr} failed: {source}")]
    Exchange { addr: String, source: io::Error },
    /// No answer in time: the request may or may not have been served.
    #[error("{addr} did not answer within {ms} ms")]
    Timeout { addr: String, ms: u64 },
}

/// Writes one frame holding `value`.
pub(crate) async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(writer: &mut W, value: &T) -> io::Result<()> {
    let body = serde_json::to_vec(value).map_err(io::Error::other)?;
    if body.len() > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("frame of {} bytes is too large", body.len())));
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    writer.write_all(&frame).await?;
    writer.flush().await
}

/// Reads one frame; `None` when the peer closed the connection between frames.
pub(crate) async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(reader: &mut R) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame of {len} bytes is too large")));
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await?;
    serde_json::from_slice(&body).map(Some).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Outbound connections to the other controllers, reused between calls.
#[derive(Debug)]
pub(crate) struct PeerPool {
    bind: Option<IpAddr>,
    idle: Mutex<HashMap<String, Vec<TcpStream>>>,
}

impl PeerPool {
    /// A pool whose connections leave from `bind` when given.
    pub(crate) fn new(bind: Option<IpAddr>) -> Self {
        Self { bind, idle: Mutex::new(HashMap::new()) }
    }

    /// Sends `request` to `addr` and waits for the answer, all within `timeout`.
    pub(crate) async fn call(&self, addr: &str, request: &Request, timeout: Duration) -> Result<Response, CallError> {
        let ms = timeout.as_millis() as u64;
        tokio::time::timeout(timeout, self.exchange(addr, request))
            .await
            .map_err(|_| CallError::Timeout { addr: addr.to_string(), ms })?
    }

    async fn exchange(&self, addr: &str, request: &Request) -> Result<Response, CallError> {
        let reused = self.idle.lock().get_mut(addr).and_then(Vec::pop);
        if let Some(mut stream) = reused {
            // An idle connection may have been closed by the peer (say, it restarted): then dial afresh.
            if let Ok(response) = exchange_on(&mut stream, request).await {
                self.give_back(addr, stream);
                return Ok(response);
            }
        }
        let mut stream =
            self.dial(addr).await.map_err(|source| CallError::Connect { addr: addr.to_string(), source })?;
        let response = exchange_on(&mut stream, request)
            .await
            .map_err(|source| CallError::Exchange { addr: addr.to_string(), source })?;
        self.give_back(addr, stream);
        Ok(response)
    }

    fn give_back(&self, addr: &str, stream: TcpStream) {
        let mut idle = self.idle.lock();
        let streams = idle.entry(addr.to_string()).or_default();
        if streams.len() < MAX_IDLE {
            streams.push(stream);
        }
    }

    async fn dial(&self, addr: &str) -> io::Result<TcpStream> {
        let target: SocketAddr = tokio::net::lookup_host(addr)
            .await?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no address for {addr}")))?;
        let socket = if target.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        if let Some(ip) = self.bind {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let stream = socket.connect(target).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

async fn exchange_on(stream: &mut TcpStream, request: &Request) -> io::Result<Response> {
    write_frame(stream, request).await?;
    read_frame(stream)
        .await?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before the answer"))
}
