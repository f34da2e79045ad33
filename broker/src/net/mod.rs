//! Networking: the listener, request framing, one task per connection and zero-copy response writing.
//!
//! The protocol layer ([`crate::api`]) does no I/O: it turns a decoded request into a [`ResponseFrame`],
//! and this layer puts frames on the wire.

pub mod client;
mod connection;
mod frame;
mod listener;
mod response;

pub(crate) use connection::client_host;
pub(crate) use listener::serve;
pub use response::{Chunk, ResponseFrame};
