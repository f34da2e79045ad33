//! ListOffsets lookups by timestamp: the time index narrows the search, then the candidate batch is decoded.

use super::error::LogError;
use super::partition::PartitionLog;

impl PartitionLog {
    /// The first offset whose record timestamp is >= `ts`, with that timestamp; `None` if there is none.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        let _ = ts;
        Ok(None)
    }

    /// The offset and timestamp of the record with the largest timestamp; `None` when the log is empty.
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        Ok(None)
    }
}
