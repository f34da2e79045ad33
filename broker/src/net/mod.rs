//! Networking: listener, framing, connections.
