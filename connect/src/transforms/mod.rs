//! Single message transforms and predicates, equivalent to Kafka's built-ins, configured with
//! `transforms=a,b` / `transforms.a.type=...` and `predicates=p` / `predicates.p.type=...`.

use crate::connector::Config;
use crate::error::ConnectError;
use crate::record::ConnectRecord;

/// Changes one record, or drops it (`Ok(None)`).
pub trait Transform: Send + Sync {
    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError>;
}

/// Decides whether a transform applies to a record.
pub trait Predicate: Send + Sync {
    fn test(&self, record: &ConnectRecord) -> bool;
}

/// Unused until built: keeps the config type in scope for the chain builder.
#[allow(dead_code)]
type TransformConfig = Config;
