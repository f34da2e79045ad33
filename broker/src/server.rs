//! Starting and stopping a broker: opens the data dir, binds the listener, runs maintenance tasks.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::fetch::session::FetchSessions;
use crate::controller::Controller;
use crate::coordinator::group::GroupCoordinator;
use crate::coordinator::txn::TxnCoordinator;
use crate::replica::ReplicaManager;
use crate::topics::TopicRegistry;
use crate::{BrokerConfig, BrokerError};

/// What every request handler can see.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: BrokerConfig,
    pub(crate) cluster_id: String,
    pub(crate) advertised_host: String,
    pub(crate) advertised_port: i32,
    pub(crate) topics: Arc<TopicRegistry>,
    pub(crate) groups: Arc<GroupCoordinator>,
    pub(crate) txns: TxnCoordinator,
    /// Cluster mode only (`controller_quorum` set): the metadata quorum handle.
    pub(crate) controller: Option<Arc<Controller>>,
    /// Cluster mode only: leader/follower roles, ISR and high watermarks of this broker's partitions.
    pub(crate) replicas: Option<Arc<ReplicaManager>>,
    /// Followers' incremental fetch sessions (KIP-227), kept by the leader between their fetches.
    pub(crate) fetch_sessions: FetchSessions,
}

/// A Kafka-protocol broker.
#[derive(Debug)]
pub struct Broker;

/// A running broker; dropping it does not stop it, call [`BrokerHandle::shutdown`].
#[derive(Debug)]
pub struct BrokerHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    _lock: nix::fcntl::Flock<std::fs::File>,
}

/// `<data_dir>/meta.json`: the identity of the data dir, fixed at its first start.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataDirMeta {
    cluster_id: String,
    node_id: i32,
}

impl Broker {
    /// Opens the data dir (recovering every log), binds the listener and starts serving.
    pub async fn start(config: BrokerConfig) -> Result<BrokerHandle, BrokerError> {
        config.validate()?;
        raise_open_file_limit();
        let data_dir = config.data_dir.clone();
        std::fs::create_dir_all(&data_dir).map_err(|source| BrokerError::DataDir { path: data_dir.clone(), source })?;
        let lock = lock_data_dir(&data_dir)?;
        let cluster_id = load_or_create_meta(&data_dir, &config)?;

        let defaults = config.topic_defaults.clone();
        let dir = data_dir.clone();
        let topics = tokio::task::spawn_blocking(move || TopicRegistry::open(&dir, defaults))
            .await
            .map_err(|e| BrokerError::Io(std::io::Error::other(format!("recovery task failed: {e}"))))??;

        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|source| BrokerError::Bind { addr: config.listen.clone(), source })?;
        let local_addr = listener.local_addr()?;
        let (advertised_host, advertised_port) = match &config.advertised_listener {
            Some(adv) => {
                let (host, port) = adv.rsplit_once(':').unwrap_or((adv.as_str(), "9092"));
                (host.to_string(), port.parse().unwrap_or(9092))
            }
            None => (local_addr.ip().to_string(), i32::from(local_addr.port())),
        };
        let topics = Arc::new(topics);
        let (shutdown, shutdown_rx) = watch::channel(false);
        // Cluster mode: join the quorum (as a voter, or as a learner when broker-only), reconcile local logs with
        // the metadata image, register this broker unless the node is controller-only.
        let (controller, replicas) = if config.controller_quorum.is_some() {
            let controller = Controller::start(&config, &data_dir, shutdown_rx.clone()).await?;
            let replicas = ReplicaManager::start(&config, controller.clone(), topics.clone(), shutdown_rx.clone());
            // A controller-only node is no broker of the image, so no partition is ever placed on it: its replica
            // manager never takes a role, and its Kafka listener only answers from the image (Metadata,
            // DescribeCluster, DescribeQuorum).
            if config.is_broker() {
                controller.register_broker(advertised_host.clone(), advertised_port, config.rack.clone()).await?;
            }
            (Some(controller), Some(replicas))
        } else {
            (None, None)
        };
        let groups = Arc::new(
            GroupCoordinator::open_with_cluster(
                &topics,
                &config,
                controller.clone(),
                replicas.clone(),
                shutdown_rx.clone(),
            )
            .await?,
        );
        let txns = TxnCoordinator::open_with_cluster(
            &topics,
            &config,
            groups.clone(),
            controller.clone(),
            replicas.clone(),
            shutdown_rx.clone(),
        )
        .await?;
        let shared = Arc::new(Shared {
            config,
            cluster_id,
            advertised_host,
            advertised_port,
            topics,
            groups,
            txns,
            controller,
            replicas,
            fetch_sessions: FetchSessions::default(),
        });
        let mut tasks = vec![tokio::spawn(crate::net::serve(listener, shared.clone(), shutdown_rx.clone()))];
        tasks.extend(crate::maintenance::spawn_all(shared.clone(), shutdown_rx));
        tracing::info!(
            %local_addr,
            advertised = %format!("{}:{}", shared.advertised_host, shared.advertised_port),
            data_dir = %data_dir.display(),
            cluster_id = %shared.cluster_id,
            "broker started"
        );
        Ok(BrokerHandle { local_addr, shared, shutdown, tasks, _lock: lock })
    }
}

impl BrokerHandle {
    /// The address the listener is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The fetch sessions this broker keeps as a leader (tests look at them).
    #[cfg(test)]
    pub(crate) fn fetch_sessions(&self) -> &FetchSessions {
        &self.shared.fetch_sessions
    }

    /// Stops accepting, lets in-flight requests finish, flushes and closes every log.
    pub async fn shutdown(self) -> Result<(), BrokerError> {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        // Raft must be fully stopped before the data dir lock goes: a restart in the same process would
        // otherwise run two Raft members on one log.
        if let Some(controller) = &self.shared.controller {
            controller.closed().await;
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.topics.close_all())
            .await
            .map_err(|e| BrokerError::Io(std::io::Error::other(format!("close task failed: {e}"))))?;
        tracing::info!("broker stopped");
        Ok(())
    }
}

/// Raises the soft limit on open files to the hard limit, as Kafka's docs ask operators to do: every segment of
/// every partition keeps its log file open, so the common default soft limit of 1,024 is exhausted by about
/// 900 partitions (the data dir then fails with EMFILE). Raising the soft limit up to the hard one needs no
/// privilege; failure only leaves the old limit and a warning.
fn raise_open_file_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => tracing::info!(from = soft, to = hard, "raised the soft limit on open files to the hard limit"),
            Err(e) => tracing::warn!(soft, hard, error = %e, "could not raise the soft limit on open files"),
        },
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not read the limit on open files"),
    }
}

/// Two brokers writing one data dir would corrupt it; an exclusive lock refuses the second.
fn lock_data_dir(data_dir: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, BrokerError> {
    let path = data_dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| BrokerError::DataDir { path: path.clone(), source })?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        BrokerError::DataDir {
            path: data_dir.to_path_buf(),
            source: std::io::Error::other(format!(
                "is locked by another running broker ({errno}); stop it or use another --data-dir"
            )),
        }
    })
}

fn load_or_create_meta(data_dir: &Path, config: &BrokerConfig) -> Result<String, BrokerError> {
    let path = data_dir.join("meta.json");
    let bad = |message: String| BrokerError::TopicMetadata { path: path.clone(), message };
    match std::fs::read(&path) {
        Ok(bytes) => {
            let meta: DataDirMeta = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
            if !config.cluster_id.is_empty() && config.cluster_id != meta.cluster_id {
                return Err(bad(format!(
                    "this data dir belongs to cluster {:?}, but cluster_id is set to {:?}",
                    meta.cluster_id, config.cluster_id
                )));
            }
            Ok(meta.cluster_id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cluster_id = if config.cluster_id.is_empty() && config.controller_quorum.is_some() {
                // Every node of a cluster must report the same id without being told one: derive it from the
                // voter ids, which every node's quorum setting names alike.
                let voters = crate::config::broker::parse_quorum(config.controller_quorum.as_deref().unwrap_or(""))
                    .map_err(&bad)?;
                let ids: Vec<String> = voters.keys().map(|id| id.to_string()).collect();
                let digest = crc32c::crc32c(ids.join(",").as_bytes());
                format!("sluice-cluster-{digest:08x}")
            } else if config.cluster_id.is_empty() {
                // Kafka cluster ids are 22-character URL-safe base64 of a UUID; a simple form will do.
                uuid::Uuid::new_v4().simple().to_string()[..22].to_string()
            } else {
                config.cluster_id.clone()
            };
            let meta = DataDirMeta { cluster_id: cluster_id.clone(), node_id: config.node_id };
            let tmp = data_dir.join(".meta.json.tmp");
            std::fs::write(&tmp, serde_json::to_vec_pretty(&meta).map_err(|e| bad(e.to_string()))?)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            Ok(cluster_id)
        }
        Err(source) => Err(BrokerError::DataDir { path, source }),
    }
}
