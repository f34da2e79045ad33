//! Connect's data model: schemas and values as Kafka Connect defines them, so converters and transforms agree
//! with Kafka's on what a record is. Logical types (Decimal, Date, Time, Timestamp) are named schemas.

mod schema;
mod value;

pub use schema::{Field, Schema, SchemaType, DATE, DECIMAL, TIME, TIMESTAMP};
pub use value::{Struct, Value};
