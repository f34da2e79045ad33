//! Coordinators: consumer groups (with offsets in `__consumer_offsets`) and transactions (state in
//! `__transaction_state`), both persisted in compacted internal topics as Kafka does.

pub mod group;
pub mod txn;
