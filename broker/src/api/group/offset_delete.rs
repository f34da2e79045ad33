//! OffsetDelete (key 47): removes committed offsets of partitions the group no longer consumes.

use std::sync::Arc;

use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
use kafka_protocol::messages::{ApiKey, OffsetDeleteRequest, OffsetDeleteResponse, RequestHeader, ResponseKind};

use crate::api::{Handler, Reply};
use crate::server::Shared;

pub(crate) struct OffsetDelete;

impl Handler for OffsetDelete {
    type Request = OffsetDeleteRequest;
    const KEY: ApiKey = ApiKey::OffsetDelete;
    const VERSIONS: (i16, i16) = (0, 0);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: OffsetDeleteRequest) -> Reply {
        let group = request.group_id.0.to_string();
        let asked: Vec<(String, i32)> = request
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.name.0.to_string(), p.partition_index)))
            .collect();
        let mut response = OffsetDeleteResponse::default();
        let mark = shared.groups.mark(&group);
        let result = match shared.groups.delete_offsets(&group, &asked) {
            Ok(results) => shared.groups.replicated(mark).await.map(|()| results),
            Err(error) => Err(error),
        };
        match result {
            Err(error) => response.error_code = error.code(),
            Ok(results) => {
                let mut results = results.into_iter();
                response.topics = request
                    .topics
                    .into_iter()
                    .map(|t| {
                        OffsetDeleteResponseTopic::default().with_name(t.name).with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    let code = results.next().and_then(Result::err).map_or(0, |e| e.code());
                                    OffsetDeleteResponsePartition::default()
                                        .with_partition_index(p.partition_index)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                    })
                    .collect();
            }
        }
        Reply::Message(ResponseKind::OffsetDelete(response))
    }
}
