//! Integration tests of sluice-connect: a real in-process broker, a standalone worker, and its REST API over
//! plain HTTP, as a user would drive them.

mod support;
mod worker;

mod converters;
mod distributed;
mod distributed_restart;
mod dlq;
mod exactly_once_sink;
mod file_roundtrip;
mod pipeline;
mod progress;
mod rest_lifecycle;
mod runtime;
mod topic_creation;
