//! One client connection: read a frame, answer it, repeat. Requests on a connection are processed and answered
//! in order, as Kafka does (clients pipeline, and rely on that order), with one overlap Kafka does not have: once
//! an acks=all Produce's records are in the log, the next Produce on the connection is appended while the first
//! waits for the in-sync replicas. Appends still happen in request order and answers still go out in request
//! order; any other request waits until every earlier answer is written. Without the overlap a producer's
//! connection carries one acks=all request per replication round trip, which capped a 3-broker cluster below
//! 10k records/s with `linger.ms=0` (bench/RESULTS.md).
//!
//! A reader and a writer share the connection's task: the reader parses and processes requests, the writer
//! awaits answers in order from a bounded queue and writes them.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use kafka_protocol::messages::ApiKey;
use tokio::io::BufReader;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::frame::{read_frame, FrameError};
use crate::api::{self, Outcome};
use crate::server::Shared;

/// Answers queued for the writer, at most: Produce requests whose acks=all waits overlap, per connection.
/// librdkafka's default `max.in.flight` is far higher; a full queue only stops the reader for a while.
const MAX_QUEUED: usize = 64;

tokio::task_local! {
    /// The peer of the connection whose request is being answered, for the few answers that report it.
    static PEER: SocketAddr;
}

/// The requesting client's host as Kafka reports it (`/127.0.0.1`), or empty outside a connection.
pub(crate) fn client_host() -> String {
    PEER.try_with(|peer| format!("/{}", peer.ip())).unwrap_or_default()
}

/// Why the reader stopped.
enum ReadEnd {
    /// The client closed, the socket failed, or a request closes the connection (after earlier answers).
    Done,
    /// The broker is shutting down: stop at once.
    Shutdown,
}

pub(crate) async fn run(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let (read_half, write_half) = stream.into_split();
    let (queue_tx, queue_rx) = mpsc::channel(MAX_QUEUED);
    let (written_tx, written_rx) = watch::channel(0u64);
    tracing::debug!(%peer, "connection opened");
    let writing = write_answers(write_half, queue_rx, written_tx, peer);
    tokio::pin!(writing);
    let reading = read_requests(read_half, peer, &shared, shutdown.clone(), queue_tx, written_rx);
    tokio::select! {
        end = reading => {
            if let ReadEnd::Done = end {
                // The queue's sender is gone: the writer writes what is queued, then stops.
                tokio::select! {
                    () = &mut writing => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        // The writer stopped first (a write failed, or an answer closes the connection): stop reading too.
        () = &mut writing => {}
    }
    tracing::debug!(%peer, "connection closed");
}

/// Reads and processes requests in order, queueing their answers for the writer.
async fn read_requests(
    read_half: OwnedReadHalf,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    queue: mpsc::Sender<Outcome>,
    mut written: watch::Receiver<u64>,
) -> ReadEnd {
    let mut reader = BufReader::with_capacity(64 * 1024, read_half);
    let mut buf = BytesMut::new();
    let limit = shared.config.max_request_bytes;
    let mut queued = 0u64;
    loop {
        let frame = tokio::select! {
            frame = read_frame(&mut reader, &mut buf, limit) => frame,
            _ = shutdown.changed() => return ReadEnd::Shutdown,
        };
        let frame = match frame {
            Ok(frame) => frame.freeze(),
            Err(FrameError::Closed) => return ReadEnd::Done,
            Err(FrameError::Io(e)) => {
                tracing::debug!(%peer, error = %e, "connection read failed");
                return ReadEnd::Done;
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection");
                return ReadEnd::Done;
            }
        };
        if !is_produce(&frame) {
            // Only Produce overlaps an earlier answer's wait: anything else sees every earlier request finished.
            if written.wait_for(|&w| w >= queued).await.is_err() {
                return ReadEnd::Done;
            }
        }
        let outcome = PEER.scope(peer, api::handle_frame(shared, frame)).await;
        let closing = matches!(outcome, Outcome::Close(_));
        let outcome = match outcome {
            Outcome::Deferred(later) => Outcome::Deferred(Box::pin(PEER.scope(peer, later)) as BoxFuture<_>),
            other => other,
        };
        queued += 1;
        if queue.send(outcome).await.is_err() || closing {
            return ReadEnd::Done;
        }
    }
}

/// Whether a request frame is a Produce (api key 0), read from its header's first two bytes.
fn is_produce(frame: &Bytes) -> bool {
    frame.len() >= 2 && i16::from_be_bytes([frame[0], frame[1]]) == ApiKey::Produce as i16
}

/// Writes answers in the order their requests came, waiting for deferred ones; counts them in `written`.
async fn write_answers(
    mut write_half: OwnedWriteHalf,
    mut queue: mpsc::Receiver<Outcome>,
    written: watch::Sender<u64>,
    peer: SocketAddr,
) {
    let mut count = 0u64;
    while let Some(outcome) = queue.recv().await {
        let outcome = match outcome {
            Outcome::Deferred(later) => later.await,
            other => other,
        };
        match outcome {
            Outcome::Respond(response) => {
                if let Err(e) = response.write_to(&mut write_half).await {
                    tracing::debug!(%peer, error = %e, "connection write failed");
                    return;
                }
            }
            Outcome::NoResponse => {}
            Outcome::Close(reason) => {
                tracing::warn!(%peer, "closing connection: {reason}");
                return;
            }
            Outcome::Deferred(_) => {
                tracing::error!(%peer, "closing connection: an answer deferred twice (a bug in this broker)");
                return;
            }
        }
        count += 1;
        written.send_replace(count);
    }
}
