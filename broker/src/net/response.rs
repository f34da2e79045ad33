//! A response frame as a list of chunks, and writing it to a socket with `sendfile` for log ranges.
//!
//! Fetch answers are mostly record batches already sitting in segment files; sending them as file ranges
//! lets the kernel copy from the page cache straight to the socket, so record bytes never enter user space.

use std::os::fd::AsFd;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use crate::log::FileSlice;

/// A piece of a response: bytes we encoded, or a range of a segment file.
#[derive(Debug)]
pub enum Chunk {
    /// Encoded protocol bytes.
    Bytes(Bytes),
    /// Record batches to send straight from the file.
    File(FileSlice),
}

/// A whole response, not counting the 4-byte size prefix.
#[derive(Debug, Default)]
pub struct ResponseFrame {
    chunks: Vec<Chunk>,
    len: usize,
}

impl ResponseFrame {
    /// A frame of one encoded buffer.
    pub fn from_bytes(bytes: Bytes) -> Self {
        let len = bytes.len();
        Self { chunks: vec![Chunk::Bytes(bytes)], len }
    }

    /// Appends encoded bytes.
    pub fn push_bytes(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        self.len += bytes.len();
        self.chunks.push(Chunk::Bytes(bytes));
    }

    /// Appends a range of a segment file.
    pub fn push_file(&mut self, slice: FileSlice) {
        self.len += slice.len as usize;
        self.chunks.push(Chunk::File(slice));
    }

    /// Appends every chunk of `other`.
    pub fn append(&mut self, other: ResponseFrame) {
        self.len += other.len;
        self.chunks.extend(other.chunks);
    }

    /// The frame's length in bytes, without the size prefix.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the frame holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies every chunk into one buffer (tests, and transports that cannot `sendfile`).
    pub fn to_bytes(&self) -> std::io::Result<Bytes> {
        let mut out = BytesMut::with_capacity(self.len);
        for chunk in &self.chunks {
            match chunk {
                Chunk::Bytes(b) => out.extend_from_slice(b),
                Chunk::File(slice) => out.extend_from_slice(&slice.read_to_bytes()?),
            }
        }
        Ok(out.freeze())
    }

    /// Writes the size prefix and every chunk; encoded bytes between file ranges go out in one write.
    pub(crate) async fn write_to(&self, stream: &mut OwnedWriteHalf) -> std::io::Result<()> {
        let size = i32::try_from(self.len).map_err(|_| std::io::Error::other("response frame over 2 GiB"))?;
        let mut pending = BytesMut::with_capacity(64);
        pending.extend_from_slice(&size.to_be_bytes());
        for chunk in &self.chunks {
            match chunk {
                Chunk::Bytes(b) if pending.len() + b.len() <= 64 * 1024 => pending.extend_from_slice(b),
                Chunk::Bytes(b) => {
                    stream.write_all(&pending).await?;
                    pending.clear();
                    stream.write_all(b).await?;
                }
                Chunk::File(slice) => {
                    if !pending.is_empty() {
                        stream.write_all(&pending).await?;
                        pending.clear();
                    }
                    send_file(stream.as_ref(), slice).await?;
                }
            }
        }
        if !pending.is_empty() {
            stream.write_all(&pending).await?;
        }
        Ok(())
    }
}

/// Sends a file range with `sendfile(2)`, waiting for socket space between partial sends.
async fn send_file(stream: &TcpStream, slice: &FileSlice) -> std::io::Result<()> {
    let mut offset = i64::try_from(slice.position).map_err(std::io::Error::other)?;
    let end = offset + i64::from(slice.len);
    while offset < end {
        stream.writable().await?;
        let count = (end - offset) as usize;
        let sent = stream.try_io(Interest::WRITABLE, || {
            nix::sys::sendfile::sendfile64(stream.as_fd(), slice.file.as_fd(), Some(&mut offset), count)
                .map_err(std::io::Error::from)
        });
        match sent {
            // The file is shorter than the range we promised: the frame is now unusable, so close.
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "segment file ended before the range being sent",
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
