//! Kafka API handlers, one file per API key.
