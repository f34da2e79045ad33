//! Starting and stopping this node's quorum member: open the Raft storage under
//! `<data_dir>/__cluster_metadata/`, start openraft, bind the controller listener, bootstrap the voters (or,
//! on a broker-only node, get added as a learner by the leader), start the fencing loop, and stop it all when
//! the shutdown signal flips.
//!
//! Bootstrap: every voter of `controller_quorum` whose Raft state is pristine (empty log, no vote) initializes
//! the cluster with the full voter set. The same membership written by several voters is the same log entry
//! (index 0, term 0), so it does not matter which start first; a restarted voter is never pristine. A pristine
//! voter first listens for one election period: if the cluster already runs, its leader replicates the log to
//! it and it joins without campaigning (a late pristine voter campaigning would disturb the leader, once).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InitializeError, RaftError};
use openraft::BasicNode;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::heartbeat::HeartbeatTracker;
use super::learner;
use super::raft::log_store::LogStore;
use super::raft::network::Network;
use super::raft::state_machine::StateMachine;
use super::raft::{raft_config, MetadataRaft, Timing, METADATA_DIR};
use super::rpc::PeerPool;
use super::server::{self, Context};
use super::{Controller, ControllerOptions};
use crate::config::broker::parse_quorum;
use crate::config::ConfigError;
use crate::{BrokerConfig, BrokerError};

fn invalid(setting: &str, message: String) -> BrokerError {
    BrokerError::Config(ConfigError::Invalid { setting: setting.to_string(), message })
}

pub(super) async fn start(
    config: &BrokerConfig,
    data_dir: &Path,
    options: ControllerOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<Arc<Controller>, BrokerError> {
    let quorum = config
        .controller_quorum
        .as_deref()
        .ok_or_else(|| invalid("controller_quorum", "cluster mode needs the controller quorum voters".into()))?;
    let voters = parse_quorum(quorum).map_err(|e| invalid("controller_quorum", e))?;
    let me = config.node_id;
    // A broker-only node is a learner: it listens on `controller_listen` instead of a quorum entry.
    let learner = !config.is_controller();
    let my_address = match (learner, voters.get(&me)) {
        (false, Some(address)) => address.clone(),
        (false, None) => {
            return Err(invalid(
                "controller_quorum",
                format!("node {me} is not a voter of {quorum:?}; a node with the controller role must be listed"),
            ))
        }
        (true, Some(_)) => {
            return Err(invalid("process_roles", format!("broker-only node {me} must not be a voter of {quorum:?}")))
        }
        (true, None) => config.controller_listen.clone().ok_or_else(|| {
            invalid("controller_listen", format!("broker-only node {me} needs the address of its controller listener"))
        })?,
    };
    let mut members = BTreeMap::new();
    for (id, addr) in &voters {
        let id = u64::try_from(*id).map_err(|_| invalid("controller_quorum", format!("node id {id} is negative")))?;
        members.insert(id, BasicNode { addr: addr.clone() });
    }
    let raft_id = u64::try_from(me).map_err(|_| invalid("node_id", format!("node id {me} is negative")))?;
    let bind = match config.bind_outbound.as_deref() {
        Some(ip) => Some(ip.parse::<IpAddr>().map_err(|e| invalid("bind_outbound", format!("{ip:?}: {e}")))?),
        None => None,
    };
    let timing = Timing {
        election_timeout: Duration::from_millis(config.controller_election_timeout_ms),
        heartbeat_interval: Duration::from_millis(config.controller_heartbeat_interval_ms),
        snapshot_interval: options.snapshot_interval,
    };
    let raft_config = raft_config(timing).map_err(|e| invalid("controller_election_timeout_ms", e))?;

    let listener = match options.listener {
        Some(listener) => listener,
        None => {
            let addr = config.controller_listen.clone().unwrap_or_else(|| my_address.clone());
            TcpListener::bind(&addr).await.map_err(|source| BrokerError::Bind { addr, source })?
        }
    };

    let dir = data_dir.join(METADATA_DIR);
    let data_error = |source| BrokerError::DataDir { path: dir.clone(), source };
    let log_store = LogStore::open(&dir).map_err(data_error)?;
    let committed = log_store.committed_gauge();
    let (state_machine, image) = StateMachine::open(&dir).map_err(data_error)?;

    let pool = Arc::new(PeerPool::new(bind));
    let addresses = Arc::new(members.iter().map(|(id, node)| (*id, node.addr.clone())).collect());
    let network = Network::new(pool.clone(), addresses);
    let raft = MetadataRaft::new(raft_id, raft_config, network, log_store, state_machine)
        .await
        .map_err(|e| BrokerError::Io(std::io::Error::other(format!("the metadata Raft did not start: {e}"))))?;
    let heartbeats = Arc::new(HeartbeatTracker::default());
    let context = Arc::new(Context { node_id: raft_id, raft: raft.clone(), heartbeats: heartbeats.clone() });
    let listener_task = server::spawn(listener, context, shutdown.clone());
    let joined = if learner {
        learner::join(&pool, &voters, raft_id, &my_address, &shutdown).await
    } else {
        bootstrap(&raft, members, timing.election_timeout * 2).await
    };
    if let Err(e) = joined {
        let _ = raft.shutdown().await;
        listener_task.abort();
        return Err(e);
    }
    let (stopped_tx, stopped) = watch::channel(false);

    let controller = Arc::new(Controller {
        node_id: me,
        raft: raft.clone(),
        image,
        voters,
        pool,
        heartbeats,
        committed,
        broker_heartbeat_interval: Duration::from_millis(config.broker_heartbeat_interval_ms.max(1)),
        broker_session_timeout: Duration::from_millis(config.broker_session_timeout_ms.max(1)),
        incarnation: Mutex::new(None),
        shutdown: shutdown.clone(),
        stopped,
    });
    tokio::spawn(controller.clone().fencing_loop());
    tokio::spawn(async move {
        let mut shutdown = shutdown;
        // A dropped sender means nobody can ask for a shutdown any more: the process is going away.
        let _ = shutdown.wait_for(|stop| *stop).await;
        if let Err(e) = raft.shutdown().await {
            tracing::warn!("the metadata Raft did not stop cleanly: {e}");
        }
        let _ = listener_task.await;
        let _ = stopped_tx.send(true);
        tracing::info!(node = me, "controller stopped");
    });
    tracing::info!(node = me, "controller started");
    Ok(controller)
}

/// Initializes the cluster with every voter when this node's Raft state is still pristine after listening for
/// `listen` (see the module doc).
async fn bootstrap(
    raft: &MetadataRaft,
    members: BTreeMap<u64, BasicNode>,
    listen: Duration,
) -> Result<(), BrokerError> {
    let fatal = |e: &dyn std::fmt::Display| BrokerError::Io(std::io::Error::other(format!("metadata Raft: {e}")));
    if raft.is_initialized().await.map_err(|e| fatal(&e))? {
        return Ok(());
    }
    let mut metrics = raft.metrics();
    // Only a bool may live across the next await: the metrics guard is not Send.
    let joined = tokio::time::timeout(listen, metrics.wait_for(|m| m.last_log_index.is_some()))
        .await
        .is_ok_and(|waited| waited.is_ok());
    if joined {
        return Ok(());
    }
    match raft.initialize(members).await {
        Ok(()) => Ok(()),
        Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
        Err(e) => Err(fatal(&e)),
    }
}
