//! DescribeCluster (key 60): the cluster id, the controller and the brokers.

use std::sync::Arc;

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeClusterRequest, DescribeClusterResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

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
        let mut response = DescribeClusterResponse::default();
        let node = BrokerId(shared.config.node_id);
        if header.request_api_version >= 1 {
            response.endpoint_type = request.endpoint_type;
            if request.endpoint_type != ENDPOINT_BROKERS {
                response.error_code = util::code(ResponseError::UnsupportedEndpointType);
                response.error_message = Some(util::str_bytes("only broker endpoints (type 1) are served"));
                return Reply::Message(ResponseKind::DescribeCluster(response));
            }
        }
        response.cluster_id = util::str_bytes(shared.cluster_id.clone());
        response.controller_id = node;
        let mut broker = DescribeClusterBroker::default();
        broker.broker_id = node;
        broker.host = util::str_bytes(shared.advertised_host.clone());
        broker.port = shared.advertised_port;
        response.brokers = vec![broker];
        Reply::Message(ResponseKind::DescribeCluster(response))
    }
}
