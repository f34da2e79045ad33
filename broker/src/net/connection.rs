//! One client connection: read a frame, answer it, repeat. Requests on a connection are answered in
//! order, one at a time, as Kafka does (clients pipeline, and rely on that order).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::frame::{read_frame, FrameError};
use crate::api::{self, Outcome};
use crate::server::Shared;

tokio::task_local! {
    /// The peer of the connection whose request is being answered, for the few answers that report it.
    static PEER: SocketAddr;
}

/// The requesting client's host as Kafka reports it (`/127.0.0.1`), or empty outside a connection.
pub(crate) fn client_host() -> String {
    PEER.try_with(|peer| format!("/{}", peer.ip())).unwrap_or_default()
}

pub(crate) async fn run(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut buf = BytesMut::new();
    let limit = shared.config.max_request_bytes;
    tracing::debug!(%peer, "connection opened");
    loop {
        let frame = tokio::select! {
            frame = read_frame(&mut reader, &mut buf, limit) => frame,
            _ = shutdown.changed() => break,
        };
        let frame = match frame {
            Ok(frame) => frame.freeze(),
            Err(FrameError::Closed) => break,
            Err(FrameError::Io(e)) => {
                tracing::debug!(%peer, error = %e, "connection read failed");
                break;
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection");
                break;
            }
        };
        match PEER.scope(peer, api::handle_frame(&shared, frame)).await {
            Outcome::Respond(response) => {
                if let Err(e) = response.write_to(reader.get_mut()).await {
                    tracing::debug!(%peer, error = %e, "connection write failed");
                    break;
                }
            }
            Outcome::NoResponse => {}
            Outcome::Close(reason) => {
                tracing::warn!(%peer, "closing connection: {reason}");
                break;
            }
        }
    }
    tracing::debug!(%peer, "connection closed");
}
