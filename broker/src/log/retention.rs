//! DeleteRecords and retention: moving the log start offset forward and deleting whole segments below it.

use super::error::{LogError, ReadError};
use super::partition::PartitionLog;

impl PartitionLog {
    /// DeleteRecords: advances the log start offset to `offset` (-1 means the log end).
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, ReadError> {
        let _ = offset;
        Ok(self.log_start_offset())
    }

    /// Retention by time and size (only if cleanup.policy includes delete). Returns segments deleted.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize, LogError> {
        let _ = now_ms;
        Ok(0)
    }
}
