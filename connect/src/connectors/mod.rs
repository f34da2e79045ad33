//! Built-in connectors, one folder each, and the one place they are registered: [`plugins`] lists them and
//! [`find`] resolves a `connector.class` value (full class name or alias) to its plugin.
//!
//! - [`datagen`]: a source that generates records (orders, users, pageviews or a custom schema).
//! - [`file`]: Kafka's file stream source and sink (lines of a file into a topic, records into a file).

use std::sync::Arc;

use crate::connector::Plugin;

pub mod datagen;
pub mod file;

/// Every built-in connector plugin.
pub fn plugins() -> Vec<Arc<dyn Plugin>> {
    vec![Arc::new(datagen::DatagenPlugin), Arc::new(file::FileStreamSinkPlugin), Arc::new(file::FileStreamSourcePlugin)]
}

/// The plugin whose class name or one of whose aliases is `class_or_alias` (exact match, as Kafka matches).
pub fn find(class_or_alias: &str) -> Option<Arc<dyn Plugin>> {
    plugins().into_iter().find(|p| p.class() == class_or_alias || p.aliases().iter().any(|a| a == class_or_alias))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_plugins_by_class_and_alias() {
        for name in ["io.sluice.connect.datagen.DatagenConnector", "DatagenConnector", "datagen"] {
            assert_eq!(find(name).map(|p| p.class().to_string()).as_deref(), Some(datagen::CLASS), "{name}");
        }
        for name in ["org.apache.kafka.connect.file.FileStreamSinkConnector", "FileStreamSink", "file"] {
            assert_eq!(find(name).map(|p| p.class().to_string()).as_deref(), Some(file::SINK_CLASS), "{name}");
        }
        assert!(find("FileStreamSource").is_some());
        assert!(find("nope").is_none());
    }
}
