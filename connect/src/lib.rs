//! Sluice connect: reserved crate, built in a later issue (see ARCHITECTURE.md).
