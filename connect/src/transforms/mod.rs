//! Single message transforms and predicates, equivalent to Kafka's built-ins, configured with
//! `transforms=a,b` / `transforms.a.type=...` and `predicates=p` / `predicates.p.type=...`.
//!
//! One file per transform and predicate, named after Kafka's class; [`Chain`] (in `chain.rs`) reads the
//! connector config and runs them in order. Each transform works on the key or the value (`$Key` / `$Value`
//! classes, [`Side`]), with schemas (structs, rebuilding the schema as Kafka does) and without (maps), and fails
//! with [`ConnectError::Transform`] naming itself and what is wrong.

use crate::error::ConnectError;
use crate::record::ConnectRecord;

mod cast;
mod chain;
mod date_format;
mod drop_headers;
mod extract_field;
mod filter;
mod flatten;
mod header_from;
mod hoist_field;
mod insert_field;
mod insert_header;
mod mask_field;
mod predicates;
mod regex_router;
mod replace_field;
mod set_schema_metadata;
mod settings;
mod timestamp_converter;
mod timestamp_router;
mod util;
mod value_to_key;

#[cfg(test)]
mod tests;

pub use chain::{Chain, PREDICATE_CLASSES, TRANSFORM_CLASSES};
pub use util::Side;

/// Changes one record, or drops it (`Ok(None)`).
pub trait Transform: Send + Sync {
    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError>;

    /// Like [`Transform::apply`] for a record a sink task read from Kafka at `kafka_offset`; only transforms
    /// that use the offset (InsertField's `offset.field`) need to override it, since [`ConnectRecord`] carries
    /// no offset.
    fn apply_with_offset(
        &self,
        record: ConnectRecord,
        kafka_offset: Option<i64>,
    ) -> Result<Option<ConnectRecord>, ConnectError> {
        let _ = kafka_offset;
        self.apply(record)
    }
}

/// Decides whether a transform applies to a record.
pub trait Predicate: Send + Sync {
    fn test(&self, record: &ConnectRecord) -> bool;
}
