//! The on-disk description of one topic, `<data_dir>/topics/<name>.json`, written atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What survives a restart about a topic besides its logs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopicFile {
    pub(crate) name: String,
    pub(crate) id: Uuid,
    pub(crate) partitions: i32,
    #[serde(default)]
    pub(crate) configs: BTreeMap<String, String>,
}

pub(crate) fn topics_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("topics")
}

pub(crate) fn topic_file_path(data_dir: &Path, name: &str) -> PathBuf {
    topics_dir(data_dir).join(format!("{name}.json"))
}

impl TopicFile {
    /// Writes to a temporary file, fsyncs it, then renames it over the old one, so a crash leaves
    /// either the old or the new description, never half of one.
    pub(crate) fn store(&self, data_dir: &Path) -> std::io::Result<()> {
        let dir = topics_dir(data_dir);
        std::fs::create_dir_all(&dir)?;
        let path = topic_file_path(data_dir, &self.name);
        // A short temporary name: `<249-char topic>.json.tmp` would pass the 255-byte file name limit.
        let tmp = dir.join(format!(".tmp-{}", self.id.simple()));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&dir)?.sync_all()
    }

    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }

    pub(crate) fn remove(data_dir: &Path, name: &str) -> std::io::Result<()> {
        match std::fs::remove_file(topic_file_path(data_dir, name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
