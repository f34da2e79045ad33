//! The optional connector file (`config.storage.file.filename`): every connector's config and target state as
//! JSON, rewritten atomically after each change, so a restarted standalone worker brings its connectors back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::connector::Config;
use crate::error::ConnectError;
use crate::runtime::herder::TargetState;

/// One saved connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Saved {
    pub(crate) config: Config,
    pub(crate) target_state: TargetState,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBody {
    connectors: BTreeMap<String, Saved>,
}

/// Where connectors are saved.
#[derive(Debug, Clone)]
pub(crate) struct ConnectorFile {
    path: PathBuf,
}

impl ConnectorFile {
    pub(crate) fn new(path: &Path) -> Self {
        Self { path: path.to_path_buf() }
    }

    /// The saved connectors; none when the file does not exist yet.
    pub(crate) fn load(&self) -> Result<BTreeMap<String, Saved>, ConnectError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(ConnectError::Io(format!("cannot read connector file {}: {e}", self.path.display()))),
        };
        let body: FileBody = serde_json::from_slice(&bytes).map_err(|e| {
            ConnectError::config(
                "config.storage.file.filename",
                format!("{} is not a connector file ({e}); fix or remove it", self.path.display()),
            )
        })?;
        Ok(body.connectors)
    }

    /// Replaces the file's contents: written to a temporary file, synced, then renamed over the old one, so a
    /// crash leaves either the old or the new contents.
    pub(crate) fn save(&self, connectors: BTreeMap<String, Saved>) -> Result<(), ConnectError> {
        let text = serde_json::to_vec_pretty(&FileBody { connectors }).expect("connector configs always serialize");
        let tmp = self.path.with_extension("tmp");
        let io =
            |e: std::io::Error| ConnectError::Io(format!("cannot write connector file {}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp).map_err(io)?;
            file.write_all(&text).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_connectors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = ConnectorFile::new(&dir.path().join("sub/connectors.json"));
        assert!(file.load().expect("missing is empty").is_empty());
        let saved = Saved {
            config: Config::from([("connector.class".to_string(), "datagen".to_string())]),
            target_state: TargetState::Paused,
        };
        file.save(BTreeMap::from([("a".to_string(), saved.clone())])).expect("save");
        assert_eq!(file.load().expect("load"), BTreeMap::from([("a".to_string(), saved)]));
        let text = std::fs::read_to_string(dir.path().join("sub/connectors.json")).expect("read");
        assert!(text.contains("\"target_state\": \"PAUSED\""), "{text}");

        std::fs::write(dir.path().join("sub/connectors.json"), "{\"connectorz\": {}}").expect("write");
        let err = file.load().expect_err("bad file").to_string();
        assert!(err.contains("connectors.json") && err.contains("fix or remove"), "{err}");
    }
}
