//! Integration tests of the Sluice broker: each test starts a real broker in-process on an OS-chosen port and
//! talks to it over TCP, through librdkafka (rdkafka) or a raw Kafka-protocol client (kafka-protocol).
//!
//! # Layout
//! - `support`: starting and stopping brokers, the raw client, rdkafka client builders, `wait_until`.
//! - `protocol`: ApiVersions, Metadata and DescribeCluster answers.
//! - `bad_input`: malformed and refused requests, and proof the broker keeps serving after each.
//! - `produce_fetch`: round trips through rdkafka, long-poll fetches, ListOffsets.
//! - `admin`: topic and config administration through rdkafka's AdminClient.
//! - `retention`: size- and time-based retention moving the log start offset.
//! - `compaction`: the log cleaner keeping the latest value per key and dropping tombstones.
//! - `consumer_protocol`: KIP-848 consumer groups (`group.protocol=consumer`) through librdkafka and raw requests.
//! - `groups`: classic consumer groups through librdkafka (rebalances, commits, static members) and the group
//!   APIs on the wire.
//! - `restart`: records, offsets and configs surviving a clean restart.
//! - `txn`: idempotent and transactional producers through librdkafka: dedup, fencing, read_committed, timeouts.
//! - `controller`: the Raft metadata quorum in-process: proposals from any node, leader failover, restart
//!   recovery, fencing of silent brokers.
//! - `replication`: a three-node cluster in-process: acks=all surviving leader loss, leader-only reads, ISR shrink
//!   and rejoin.
//! - `cluster_api`: the cluster APIs on one broker and on an in-process 3-node cluster.
//! - `fetch_sessions`: KIP-227 fetch sessions on the wire: declined for consumers, errors 70/71, incremental answers.

mod admin;
mod bad_input;
mod cluster_api;
mod compaction;
mod consumer_protocol;
mod controller;
mod fetch_sessions;
mod groups;
mod produce_fetch;
mod protocol;
mod replication;
mod restart;
mod retention;
mod support;
mod txn;
