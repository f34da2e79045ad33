//! A [`SchemaLog`] over memory for unit tests of the registry's rules; the real store is [`super::kafka`], which
//! the integration tests run against a real broker.

use std::sync::Arc;

use futures::future::BoxFuture;
use parking_lot::{Mutex, RwLock};

use super::{Leadership, Record, SchemaLog};
use crate::error::StoreError;
use crate::state::State;

/// Every appended record, applied at once.
#[derive(Debug, Default)]
pub(crate) struct MemoryLog {
    state: Arc<RwLock<State>>,
    pub(crate) records: Mutex<Vec<Record>>,
}

impl SchemaLog for MemoryLog {
    fn state(&self) -> &Arc<RwLock<State>> {
        &self.state
    }

    fn append(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let mut state = self.state.write();
            for record in &records {
                state.apply(record);
            }
            self.records.lock().extend(records);
            Ok(())
        })
    }

    fn sync(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn leadership(&self) -> Leadership {
        Leadership::Leader
    }
}
