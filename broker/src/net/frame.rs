//! Reading one size-prefixed Kafka request frame, refusing frames over the configured limit.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Why a connection stops reading.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    /// The peer closed the connection between frames, the normal end.
    #[error("connection closed")]
    Closed,
    /// A frame claims a negative or too-large size: garbage, or a client that needs a bigger `max_request_bytes`.
    #[error("request frame of {size} bytes refused (limit {limit}; raise max_request_bytes if this is a real client)")]
    TooLarge { size: i64, limit: u32 },
    /// A frame too short to hold a request header.
    #[error("request frame of {0} bytes is too short to be a Kafka request")]
    TooShort(usize),
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads the next frame body (without its 4-byte size) into `buf`.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    limit: u32,
) -> Result<BytesMut, FrameError> {
    let mut size = [0u8; 4];
    match reader.read_exact(&mut size).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let size = i32::from_be_bytes(size);
    if size < 0 || size as u32 > limit {
        return Err(FrameError::TooLarge { size: size.into(), limit });
    }
    let size = size as usize;
    // api key, api version and correlation id are the least a request header holds.
    if size < 8 {
        return Err(FrameError::TooShort(size));
    }
    buf.clear();
    buf.resize(size, 0);
    reader.read_exact(&mut buf[..]).await?;
    Ok(buf.split())
}
