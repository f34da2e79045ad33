//! The topic registry.
