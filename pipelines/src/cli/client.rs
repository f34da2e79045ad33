//! What the Kafka client commands share: the bootstrap address, `-X` passthrough to librdkafka, metadata
//! look-ups, and the `KEY=VALUE` parsing used by `-X`, `--config` and `--header`.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use rdkafka::metadata::Metadata;
use rdkafka::ClientConfig;

/// How long a metadata request may take before we blame the connection.
pub(crate) const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Args)]
pub(crate) struct ClientArgs {
    /// Broker to bootstrap from; more can be given comma-separated.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        env = "SLUICE_BOOTSTRAP",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT",
        global = true
    )]
    pub(crate) bootstrap_server: String,
    /// librdkafka client property, e.g. `-X security.protocol=ssl`; repeatable; applied last, so it
    /// overrides what sluice sets itself.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_key_value, global = true)]
    pub(crate) extra: Vec<(String, String)>,
}

impl ClientArgs {
    /// A client config with the bootstrap address, then `defaults`, then every `-X` property.
    pub(crate) fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_server);
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        config
    }

    /// The hint appended to errors that most likely mean the broker is unreachable.
    pub(crate) fn reachability_hint(&self) -> String {
        format!(
            "is a broker running at {}? Set it with -b/--bootstrap-server or SLUICE_BOOTSTRAP",
            self.bootstrap_server
        )
    }
}

/// Splits `KEY=VALUE` at the first `=`; the value may be empty or contain more `=`, the key may not be empty.
pub(crate) fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.to_string())),
        Some(_) => Err(format!("{s:?} has an empty key; write KEY=VALUE")),
        None => Err(format!("{s:?} has no '='; write KEY=VALUE")),
    }
}

/// Cluster metadata for every topic. Asking for one topic by name could make a broker auto-create it,
/// which a read-only command must never do.
pub(crate) fn fetch_all_metadata(
    client: &rdkafka::client::Client<impl rdkafka::ClientContext>,
    args: &ClientArgs,
) -> anyhow::Result<Metadata> {
    // librdkafka blocks this thread; tell tokio so other tasks move to another worker.
    tokio::task::block_in_place(|| client.fetch_metadata(None, METADATA_TIMEOUT))
        .with_context(|| format!("cannot fetch cluster metadata ({})", args.reachability_hint()))
}

/// The partition ids of `topic`, sorted, or an error saying how to find the right name.
pub(crate) fn topic_partitions(metadata: &Metadata, topic: &str) -> anyhow::Result<Vec<i32>> {
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        anyhow::bail!("topic {topic:?} does not exist; list topics with `sluice topic list`");
    };
    if let Some(err) = found.error() {
        anyhow::bail!("topic {topic:?}: {}", rdkafka::types::RDKafkaErrorCode::from(err));
    }
    let mut ids: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
    ids.sort_unstable();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_splits_at_first_equals() {
        assert_eq!(parse_key_value("a=b"), Ok(("a".into(), "b".into())));
        assert_eq!(parse_key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_key_value("a="), Ok(("a".into(), String::new())));
    }

    #[test]
    fn key_value_rejects_missing_key_or_equals() {
        assert!(parse_key_value("=b").unwrap_err().contains("empty key"));
        assert!(parse_key_value("ab").unwrap_err().contains("no '='"));
    }

    #[test]
    fn extra_properties_override_defaults() {
        let args = ClientArgs { bootstrap_server: "h:1".into(), extra: vec![("acks".into(), "0".into())] };
        let config = args.client_config(&[("acks", "all"), ("linger.ms", "5")]);
        assert_eq!(config.get("bootstrap.servers"), Some("h:1"));
        assert_eq!(config.get("acks"), Some("0"));
        assert_eq!(config.get("linger.ms"), Some("5"));
    }
}
