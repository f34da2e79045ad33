//! Sluice mirror: reserved crate, built in a later issue (see ARCHITECTURE.md).
