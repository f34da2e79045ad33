//! A minimal Kafka-protocol client for broker-to-broker requests (follower fetches, OffsetForLeaderEpoch,
//! transaction markers): one connection, one request at a time, every call bounded by a timeout.
//!
//! Brokers talk to each other over the same protocol clients use, so a follower could fetch from any
//! Kafka-compatible leader and the wire format has one definition.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Why a broker-to-broker request failed. Every case means: drop the connection and retry later.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting, writing or reading failed.
    #[error("connection to {addr} failed: {source}")]
    Io { addr: String, source: std::io::Error },
    /// No answer within the timeout.
    #[error("{addr} did not answer within {ms} ms")]
    Timeout { addr: String, ms: u64 },
    /// The answer could not be encoded or decoded.
    #[error("bad exchange with {addr}: {message}")]
    Protocol { addr: String, message: String },
}

/// One connection to one broker.
#[derive(Debug)]
pub struct KafkaClient {
    addr: String,
    stream: TcpStream,
    client_id: String,
    correlation_id: i32,
    timeout: Duration,
}

impl KafkaClient {
    /// Connects to `addr` (`HOST:PORT`), from local address `bind` when given (so fault-injecting test proxies
    /// and firewalls can tell nodes apart), within `timeout`; `timeout` also bounds every later request.
    pub async fn connect(addr: &str, bind: Option<IpAddr>, client_id: &str, timeout: Duration) -> Result<Self, ClientError> {
        let io = |source| ClientError::Io { addr: addr.to_string(), source };
        let connect = async {
            let target: SocketAddr = tokio::net::lookup_host(addr)
                .await?
                .next()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address for host"))?;
            let socket = if target.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
            if let Some(ip) = bind {
                socket.bind(SocketAddr::new(ip, 0))?;
            }
            let stream = socket.connect(target).await?;
            stream.set_nodelay(true)?;
            Ok::<_, std::io::Error>(stream)
        };
        let stream = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| ClientError::Timeout { addr: addr.to_string(), ms: timeout.as_millis() as u64 })?
            .map_err(io)?;
        Ok(Self { addr: addr.to_string(), stream, client_id: client_id.to_string(), correlation_id: 0, timeout })
    }

    /// The address this client is connected to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends `request` at `version` and waits for its response, within the connection's timeout (plus `extra`,
    /// for requests that wait at the server on purpose, like a fetch with `max_wait_ms`).
    pub async fn send<R: Request>(&mut self, version: i16, request: &R, extra: Duration) -> Result<R::Response, ClientError> {
        let limit = self.timeout + extra;
        let addr = self.addr.clone();
        tokio::time::timeout(limit, self.exchange(version, request))
            .await
            .map_err(|_| ClientError::Timeout { addr, ms: limit.as_millis() as u64 })?
    }

    async fn exchange<R: Request>(&mut self, version: i16, request: &R) -> Result<R::Response, ClientError> {
        let protocol = |message: String| ClientError::Protocol { addr: self.addr.clone(), message };
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_string(self.client_id.clone())));
        let mut body = BytesMut::with_capacity(256);
        body.put_i32(0);
        header
            .encode(&mut body, R::header_version(version))
            .and_then(|()| request.encode(&mut body, version))
            .map_err(|e| protocol(format!("cannot encode request: {e}")))?;
        let size = (body.len() - 4) as i32;
        body[..4].copy_from_slice(&size.to_be_bytes());
        let io = |source| ClientError::Io { addr: self.addr.clone(), source };
        self.stream.write_all(&body).await.map_err(io)?;

        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).await.map_err(io)?;
        let size = i32::from_be_bytes(size);
        if !(4..=256 * 1024 * 1024).contains(&size) {
            return Err(protocol(format!("response frame of {size} bytes")));
        }
        let mut frame = BytesMut::zeroed(size as usize);
        self.stream.read_exact(&mut frame).await.map_err(io)?;
        let mut frame = frame.freeze();
        let header_version = <R::Response as HeaderVersion>::header_version(version);
        let header = ResponseHeader::decode(&mut frame, header_version)
            .map_err(|e| protocol(format!("cannot decode response header: {e}")))?;
        if header.correlation_id != self.correlation_id {
            return Err(protocol(format!(
                "answer to request {}, expected {}",
                header.correlation_id, self.correlation_id
            )));
        }
        R::Response::decode(&mut frame, version).map_err(|e| protocol(format!("cannot decode response: {e}")))
    }
}
