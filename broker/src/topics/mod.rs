//! The topic registry: which topics exist, their ids, partition logs and config overrides.
//!
//! Each topic is described by `<data_dir>/topics/<name>.json` (id, partition count, overrides), written
//! atomically; its partitions live in `<data_dir>/<name>-<partition>/`, as in Kafka. In cluster mode the registry
//! follows the controller's metadata image (`reconcile`).

mod clean_shutdown;
mod metadata_file;
mod names;
mod reconcile;
mod registry;

pub use names::validate_topic_name;
pub use reconcile::ReconcileOutcome;
pub use registry::{Topic, TopicError, TopicRegistry};
