//! DescribeConfigs (key 32): topic configs with their effective value and source (the overrides come from the
//! controller's image in cluster mode), and broker settings.

use std::sync::Arc;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{ApiKey, DescribeConfigsRequest, DescribeConfigsResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::cluster::topic_configs;
use super::{util, Handler, Reply};
use crate::config::{ConfigSource, TopicConfig};
use crate::server::Shared;

pub(crate) struct DescribeConfigs;

/// Kafka's ConfigResource types.
pub(crate) const RESOURCE_TOPIC: i8 = 2;
pub(crate) const RESOURCE_BROKER: i8 = 4;

impl Handler for DescribeConfigs {
    type Request = DescribeConfigsRequest;
    const KEY: ApiKey = ApiKey::DescribeConfigs;
    const VERSIONS: (i16, i16) = (1, 4);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: DescribeConfigsRequest) -> Reply {
        let mut response = DescribeConfigsResponse::default();
        for resource in request.resources {
            let mut result = DescribeConfigsResult::default();
            result.resource_type = resource.resource_type;
            result.resource_name = resource.resource_name.clone();
            let wanted = |name: &str| {
                resource.configuration_keys.as_ref().is_none_or(|keys| keys.iter().any(|k| k.as_str() == name))
            };
            match resource.resource_type {
                RESOURCE_TOPIC => match topic_configs::overrides(shared, resource.resource_name.as_str()) {
                    Err((code, message)) => {
                        result.error_code = util::code(code);
                        result.error_message = Some(util::str_bytes(message));
                    }
                    Ok(overrides) => {
                        let entries = TopicConfig::describe(shared.topics.broker_defaults(), &overrides);
                        for e in entries.into_iter().filter(|e| wanted(e.name)) {
                            let mut c = DescribeConfigsResourceResult::default();
                            c.name = util::str_bytes(e.name);
                            c.value = Some(util::str_bytes(e.value.clone()));
                            c.config_source = e.source.kafka_code();
                            c.config_type = e.config_type;
                            if request.include_documentation {
                                c.documentation = Some(util::str_bytes(e.doc));
                            }
                            if request.include_synonyms {
                                let mut s = DescribeConfigsSynonym::default();
                                s.name = util::str_bytes(e.name);
                                s.value = Some(util::str_bytes(e.value));
                                s.source = e.source.kafka_code();
                                c.synonyms = vec![s];
                            }
                            result.configs.push(c);
                        }
                    }
                },
                RESOURCE_BROKER => {
                    let c = &shared.config;
                    let mut settings = vec![
                        ("broker.id", c.node_id.to_string(), 3),
                        ("node.id", c.node_id.to_string(), 3),
                        ("num.partitions", c.num_partitions.to_string(), 3),
                        ("auto.create.topics.enable", c.auto_create_topics.to_string(), 1),
                        ("socket.request.max.bytes", c.max_request_bytes.to_string(), 3),
                        ("log.retention.check.interval.ms", c.retention_check_interval_ms.to_string(), 5),
                    ];
                    // The replication settings only mean something in a cluster; a single broker keeps its
                    // answer as it always was.
                    if shared.controller.is_some() {
                        settings.extend([
                            ("default.replication.factor", c.default_replication_factor.to_string(), 3),
                            ("offsets.topic.replication.factor", c.offsets_topic_replication_factor.to_string(), 4),
                            (
                                "transaction.state.log.replication.factor",
                                c.transaction_state_replication_factor.to_string(),
                                4,
                            ),
                            ("replica.lag.time.max.ms", c.replica_lag_time_max_ms.to_string(), 5),
                        ]);
                        if let Some(rack) = &c.rack {
                            settings.push(("broker.rack", rack.clone(), 2));
                        }
                    }
                    for (name, value, config_type) in settings.into_iter().filter(|(n, _, _)| wanted(n)) {
                        let mut entry = DescribeConfigsResourceResult::default();
                        entry.name = util::str_bytes(name);
                        entry.value = Some(util::str_bytes(value));
                        entry.read_only = true;
                        entry.config_source = ConfigSource::StaticBroker.kafka_code();
                        entry.config_type = config_type;
                        result.configs.push(entry);
                    }
                }
                other => {
                    result.error_code = util::code(ResponseError::InvalidRequest);
                    result.error_message = Some(util::str_bytes(format!(
                        "config resource type {other} is not supported; use 2 (topic) or 4 (broker)"
                    )));
                }
            }
            response.results.push(result);
        }
        Reply::Message(ResponseKind::DescribeConfigs(response))
    }
}
