//! Making sure the benchmark topic exists with the requested partitions before any record is sent, through the
//! Kafka admin API so it works on any cluster.

use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::options::TopicOpts;
use crate::cli::client::{self, ClientArgs};

/// How long the cluster may take to create the topic and elect its leaders.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);

/// Checks the topic exists (creating it when `--partitions` is given) and returns its partition count.
pub(crate) async fn ensure(client_args: &ClientArgs, opts: &TopicOpts) -> anyhow::Result<usize> {
    let admin: AdminClient<DefaultClientContext> = client_args
        .client_config(&[])
        .create()
        .context("cannot create the Kafka admin client; check the -X properties")?;
    let existing = partitions_of(&admin, client_args, &opts.topic)?;
    let Some(wanted) = opts.partitions else {
        return existing.ok_or_else(|| {
            anyhow::anyhow!(
                "topic {:?} does not exist; add --partitions N to create it, or name another with --topic",
                opts.topic
            )
        });
    };
    if let Some(found) = existing {
        if found != wanted as usize {
            anyhow::bail!(
                "topic {:?} has {found} partitions, not {wanted}; delete it (`sluice topic delete {}`) or pick \
                 another name with --topic",
                opts.topic,
                opts.topic
            );
        }
        return Ok(found);
    }
    let topic = NewTopic::new(&opts.topic, wanted, TopicReplication::Fixed(opts.replication_factor));
    let options = AdminOptions::new().operation_timeout(Some(CREATE_TIMEOUT)).request_timeout(Some(CREATE_TIMEOUT));
    let results = admin
        .create_topics([&topic], &options)
        .await
        .with_context(|| format!("cannot create topic {:?} ({})", opts.topic, client_args.reachability_hint()))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("cannot create topic {name:?}: {code}"),
        }
    }
    // Creation is acknowledged before every broker's metadata shows the leaders; producing earlier would
    // only measure retries.
    let deadline = Instant::now() + CREATE_TIMEOUT;
    loop {
        if partitions_of(&admin, client_args, &opts.topic)? == Some(wanted as usize) {
            return Ok(wanted as usize);
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "topic {:?} was created but its partitions did not appear in the metadata within {}s",
                opts.topic,
                CREATE_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Partitions of `topic` that have a leader, or `None` if the topic does not exist.
fn partitions_of(
    admin: &AdminClient<DefaultClientContext>,
    client_args: &ClientArgs,
    topic: &str,
) -> anyhow::Result<Option<usize>> {
    let metadata = client::fetch_all_metadata(admin.inner(), client_args)?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().iter().filter(|p| p.leader() >= 0).count()))
}
