//! DescribeCluster (key 60): the cluster id, the controller and the brokers (in cluster mode the registered
//! brokers of the metadata image and the quorum leader; on a single broker, itself).

use std::sync::Arc;

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeClusterRequest, DescribeClusterResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use super::cluster::view::ClusterView;
use super::{util, Handler, Reply};
use crate::server::Shared;

pub(crate) struct DescribeCluster;

/// DescribeCluster's endpoint type for ordinary broker listeners (v1+; 2 would be controllers).
const ENDPOINT_BROKERS: i8 = 1;

impl Handler for DescribeCluster {
    type Request = DescribeClusterRequest;
    const KEY: ApiKey = ApiKey::DescribeCluster;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: DescribeClusterRequest) -> Reply {
        let version = header.request_api_version;
        let mut response = DescribeClusterResponse::default();
        if version >= 1 {
            response.endpoint_type = request.endpoint_type;
            if request.endpoint_type != ENDPOINT_BROKERS {
                response.error_code = util::code(ResponseError::UnsupportedEndpointType);
                response.error_message = Some(util::str_bytes("only broker endpoints (type 1) are served"));
                return Reply::Message(ResponseKind::DescribeCluster(response));
            }
        }
        let view = ClusterView::of(shared);
        response.cluster_id = util::str_bytes(shared.cluster_id.clone());
        response.controller_id = BrokerId(view.controller_id());
        // Fenced brokers are listed only to v2 clients that ask, flagged as such (the field exists from v2).
        let include_fenced = version >= 2 && request.include_fenced_brokers;
        response.brokers = view
            .brokers(include_fenced)
            .into_iter()
            .map(|b| {
                let mut broker = DescribeClusterBroker::default();
                broker.broker_id = BrokerId(b.id);
                broker.host = util::str_bytes(b.host);
                broker.port = b.port;
                broker.rack = b.rack.map(util::str_bytes);
                broker.is_fenced = b.fenced;
                broker
            })
            .collect();
        Reply::Message(ResponseKind::DescribeCluster(response))
    }
}
