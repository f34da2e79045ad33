//! The controller quorum in-process: three `Controller`s on OS-chosen ports with their own data dirs, proving
//! that proposals made anywhere are applied everywhere, that the quorum survives its leader stopping, that a
//! restarted node recovers its image from disk (and a lagging one from a snapshot), and that a broker that
//! stops heartbeating is fenced and loses its leaderships; and dedicated roles: controller-only voters with
//! broker-only learners that follow the log.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sluice_broker::controller::{
    CommandResult, Controller, ControllerOptions, MetadataCommand, MetadataImage, NO_LEADER,
};
use sluice_broker::BrokerConfig;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::watch;
use uuid::Uuid;

use crate::support::{init_tracing, wait_until};

/// Generous bound for elections and replication on a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(20);

/// One quorum member: its controller, data dir and shutdown switch.
struct Node {
    id: i32,
    addr: SocketAddr,
    dir: TempDir,
    controller: Option<Arc<Controller>>,
    shutdown: watch::Sender<bool>,
    /// The bound listener of a node not started yet.
    listener: Option<TcpListener>,
}

struct Cluster {
    nodes: Vec<Node>,
    quorum: String,
    snapshot_interval: u64,
}

fn config(id: i32, quorum: &str, dir: &Path) -> BrokerConfig {
    BrokerConfig {
        node_id: id,
        data_dir: dir.to_path_buf(),
        controller_quorum: Some(quorum.to_string()),
        bind_outbound: Some("127.0.0.1".into()),
        controller_election_timeout_ms: 500,
        controller_heartbeat_interval_ms: 100,
        broker_heartbeat_interval_ms: 200,
        broker_session_timeout_ms: 3_000,
        ..BrokerConfig::default()
    }
}

impl Cluster {
    /// Three voters, started at once.
    async fn start(snapshot_interval: u64) -> Self {
        Self::start_some(&[1, 2, 3], snapshot_interval).await
    }

    /// Three voters, of which those in `ids` are started at once; the others wait for [`Cluster::restart`].
    async fn start_some(ids: &[i32], snapshot_interval: u64) -> Self {
        init_tracing();
        let mut listeners = Vec::new();
        for _ in 0..3 {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind a controller listener"));
        }
        let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        let quorum = addrs.iter().enumerate().map(|(i, a)| format!("{}@{a}", i + 1)).collect::<Vec<_>>().join(",");
        let mut cluster = Cluster { nodes: Vec::new(), quorum, snapshot_interval };
        for (i, listener) in listeners.into_iter().enumerate() {
            let (shutdown, _) = watch::channel(false);
            let dir = tempfile::tempdir().unwrap();
            let id = i as i32 + 1;
            cluster.nodes.push(Node { id, addr: addrs[i], dir, controller: None, shutdown, listener: Some(listener) });
        }
        // Concurrently: whichever node starts first, they form one cluster.
        let starting: Vec<_> = ids.iter().map(|&id| cluster.starting(id)).collect();
        for (&id, started) in ids.iter().zip(starting) {
            let (controller, shutdown) = started.await.unwrap();
            let node = &mut cluster.nodes[(id - 1) as usize];
            node.controller = Some(controller);
            node.shutdown = shutdown;
        }
        cluster
    }

    /// Spawns the start of node `id` on its listener (kept or bound again) and data dir.
    fn starting(&mut self, id: i32) -> tokio::task::JoinHandle<(Arc<Controller>, watch::Sender<bool>)> {
        let node = &mut self.nodes[(id - 1) as usize];
        let (listener, addr) = (node.listener.take(), node.addr);
        let config = config(id, &self.quorum, node.dir.path());
        let snapshot_interval = self.snapshot_interval;
        tokio::spawn(async move {
            let listener = match listener {
                Some(listener) => listener,
                None => TcpListener::bind(addr).await.expect("rebind the controller listener"),
            };
            let (shutdown, rx) = watch::channel(false);
            let options = ControllerOptions { listener: Some(listener), snapshot_interval };
            let controller = Controller::start_with(&config, &config.data_dir, options, rx).await.expect("starts");
            (controller, shutdown)
        })
    }

    fn node(&self, id: i32) -> &Arc<Controller> {
        self.nodes[(id - 1) as usize].controller.as_ref().expect("node is running")
    }

    fn running(&self) -> impl Iterator<Item = &Arc<Controller>> {
        self.nodes.iter().filter_map(|n| n.controller.as_ref())
    }

    /// Waits until every running node names the same leader, and returns it.
    async fn leader(&self) -> i32 {
        wait_until(WAIT, "the running nodes agree on a leader", || async {
            let seen: Vec<Option<i32>> = self.running().map(|c| c.status().leader).collect();
            match seen[0] {
                Some(leader) if seen.iter().all(|l| *l == Some(leader)) && self.is_running(leader) => Ok(leader),
                _ => Err(format!("leaders seen: {seen:?}")),
            }
        })
        .await
    }

    fn is_running(&self, id: i32) -> bool {
        self.nodes.iter().any(|n| n.id == id && n.controller.is_some())
    }

    /// Stops node `id` and waits until it has released its port and data dir.
    async fn stop(&mut self, id: i32) {
        let node = &mut self.nodes[(id - 1) as usize];
        node.shutdown.send(true).unwrap();
        let controller = node.controller.take().expect("node was running");
        tokio::time::timeout(WAIT, controller.closed()).await.expect("the controller stops in time");
    }

    /// Starts node `id` (again) on its address and data dir.
    async fn restart(&mut self, id: i32) {
        let (controller, shutdown) = self.starting(id).await.unwrap();
        let node = &mut self.nodes[(id - 1) as usize];
        node.controller = Some(controller);
        node.shutdown = shutdown;
    }

    async fn stop_all(mut self) {
        for id in 1..=3 {
            if self.is_running(id) {
                self.stop(id).await;
            }
        }
    }

    /// Waits until every running node's image satisfies `check`.
    async fn wait_all(&self, what: &str, check: impl Fn(&MetadataImage) -> bool) {
        wait_until(WAIT, what, || async {
            let images: Vec<Arc<MetadataImage>> = self.running().map(|c| c.image()).collect();
            if images.iter().all(|i| check(i)) {
                Ok(())
            } else {
                Err(format!("applied indexes {:?}", images.iter().map(|i| i.applied_index).collect::<Vec<_>>()))
            }
        })
        .await
    }

    /// Registers every running node's broker.
    async fn register_brokers(&self) {
        for controller in self.running() {
            let port = 9000 + controller.node_id();
            let registered = controller.register_broker("127.0.0.1".into(), port, None);
            tokio::time::timeout(WAIT, registered).await.expect("registration in time").expect("registered");
        }
    }
}

fn create_topic(
    name: &str,
    partitions: i32,
    replication_factor: i16,
    assignments: Option<Vec<Vec<i32>>>,
) -> MetadataCommand {
    MetadataCommand::CreateTopic {
        name: name.into(),
        id: Uuid::new_v4(),
        partitions,
        replication_factor,
        assignments,
        configs: BTreeMap::new(),
    }
}

fn allocate(count: i64) -> MetadataCommand {
    MetadataCommand::AllocateProducerIds { broker: 1, count }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_proposed_on_a_follower_is_applied_on_every_node() {
    let cluster = Cluster::start(1_000).await;
    let leader = cluster.leader().await;
    cluster.register_brokers().await;
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    // Proposals run from spawned tasks (the broker's request handlers): the future must be Send.
    let proposer = cluster.node(follower).clone();
    let proposal = tokio::spawn(async move { proposer.propose(create_topic("orders", 3, 3, None)).await });
    let result = proposal.await.unwrap().expect("proposal answered");
    assert_eq!(result, CommandResult::Ok);
    // Read-your-writes on the proposing node.
    let image = cluster.node(follower).image();
    let topic = image.topics.get("orders").expect("the proposer's image shows the topic at once");
    assert_eq!(topic.partitions.len(), 3);
    assert!(topic.partitions.iter().all(|p| p.replicas.len() == 3 && p.isr.len() == 3));
    let wanted = image.as_ref().clone();
    cluster.wait_all("every node applied the topic", |i| i.topics.get("orders") == wanted.topics.get("orders")).await;
    // A refusal travels back with its Kafka code.
    let again = cluster.node(follower).propose(create_topic("orders", 1, 1, None)).await.unwrap();
    assert!(matches!(again, CommandResult::Refused { code: 36, .. }), "{again:?}");
    let status = cluster.node(follower).status();
    assert_eq!((status.leader, status.voters.clone()), (Some(leader), vec![1, 2, 3]));
    assert!(status.applied >= 1 && status.committed.is_some_and(|c| c >= 1), "{status:?}");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voter_starting_late_joins_without_disturbing_the_leader() {
    let mut cluster = Cluster::start_some(&[1, 2], 1_000).await;
    let leader = cluster.leader().await;
    assert_eq!(
        cluster.node(leader).propose(allocate(7)).await.unwrap(),
        CommandResult::ProducerIds { first: 0, count: 7 }
    );
    let term = cluster.node(leader).status().term;
    cluster.restart(3).await;
    cluster.wait_all("the late voter caught up", |i| i.next_producer_id == 7).await;
    assert_eq!(cluster.leader().await, leader);
    assert_eq!(cluster.node(3).status().term, term, "the late voter did not start an election");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_stopping_elects_another_and_proposals_keep_working() {
    let mut cluster = Cluster::start(1_000).await;
    let old = cluster.leader().await;
    cluster.register_brokers().await;
    assert_eq!(
        cluster.node(old).propose(allocate(10)).await.unwrap(),
        CommandResult::ProducerIds { first: 0, count: 10 }
    );
    cluster.stop(old).await;
    let new = cluster.leader().await;
    assert_ne!(new, old);
    for controller in cluster.running() {
        let result = controller.propose(allocate(5)).await.expect("proposals work after the leader change");
        assert!(matches!(result, CommandResult::ProducerIds { first, .. } if first >= 10), "{result:?}");
    }
    cluster.wait_all("both survivors applied both blocks", |i| i.next_producer_id == 20).await;
    // The stopped node's broker stops heartbeating and is fenced; the others are not.
    cluster.wait_all("the stopped broker is fenced", |i| i.brokers[&old].fenced).await;
    let image = cluster.node(new).image();
    let live: Vec<i32> = (1..=3).filter(|id| *id != old).collect();
    assert_eq!(image.live_brokers(), live, "a new leader does not fence brokers that heartbeat");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_recovers_its_image() {
    // A small snapshot interval: the restart reads a snapshot plus the log after it.
    let mut cluster = Cluster::start(5).await;
    let leader = cluster.leader().await;
    cluster.register_brokers().await;
    for i in 0..12 {
        let result = cluster.node(leader).propose(create_topic(&format!("t{i}"), 1, 2, None)).await.unwrap();
        assert_eq!(result, CommandResult::Ok);
    }
    let before = cluster.node(leader).image();
    cluster.wait_all("every node applied everything", |i| i.applied_index >= before.applied_index).await;
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    cluster.stop(follower).await;
    let metadata_dir = cluster.nodes[(follower - 1) as usize].dir.path().join("__cluster_metadata");
    assert!(metadata_dir.join("snapshot.json").exists(), "a snapshot was built");
    cluster.restart(follower).await;
    wait_until(WAIT, "the restarted node recovered its topics", || async {
        let image = cluster.node(follower).image();
        if image.topics == before.topics && image.next_producer_id == before.next_producer_id {
            Ok(())
        } else {
            Err(format!("{} topics at index {}", image.topics.len(), image.applied_index))
        }
    })
    .await;
    // A node that misses entries the leader has purged catches up from the leader's snapshot.
    let lagging = (1..=3).find(|id| *id != leader && *id != follower).unwrap();
    cluster.stop(lagging).await;
    for i in 0..12 {
        cluster.node(leader).propose(allocate(i + 1)).await.unwrap();
    }
    let wanted = cluster.node(leader).image().next_producer_id;
    cluster.restart(lagging).await;
    cluster.wait_all("the lagging node caught up", |i| i.next_producer_id == wanted && i.topics == before.topics).await;
    // Everyone restarting at once comes back with the same image, from disk.
    let last = cluster.node(leader).image();
    cluster.wait_all("all applied", |i| i.applied_index >= last.applied_index).await;
    for id in 1..=3 {
        cluster.stop(id).await;
    }
    for id in 1..=3 {
        cluster.restart(id).await;
    }
    cluster
        .wait_all("every node recovered the image after a full restart", |i| {
            i.topics == last.topics && i.next_producer_id == last.next_producer_id
        })
        .await;
    cluster.leader().await;
    assert_eq!(
        cluster.node(1).propose(allocate(1)).await.unwrap(),
        CommandResult::ProducerIds { first: wanted, count: 1 }
    );
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_stops_heartbeating_is_fenced_and_its_leaderships_move() {
    let mut cluster = Cluster::start(1_000).await;
    let leader = cluster.leader().await;
    cluster.register_brokers().await;
    // Broker 4 registers but never heartbeats (no process behind it).
    let ghost = MetadataCommand::RegisterBroker {
        id: 4,
        incarnation: Uuid::new_v4(),
        host: "127.0.0.1".into(),
        port: 9004,
        rack: None,
    };
    assert_eq!(cluster.node(leader).propose(ghost).await.unwrap(), CommandResult::Ok);
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let assignments = vec![vec![4, 1, 2], vec![follower, 4, leader]];
    let result = cluster.node(follower).propose(create_topic("led", -1, -1, Some(assignments))).await.unwrap();
    assert_eq!(result, CommandResult::Ok);
    let result = cluster.node(follower).propose(create_topic("alone", -1, -1, Some(vec![vec![4]]))).await.unwrap();
    assert_eq!(result, CommandResult::Ok);
    cluster.wait_all("broker 4 is fenced", |i| i.brokers[&4].fenced).await;
    let image = cluster.node(follower).image();
    let p0 = image.partition("led", 0).unwrap();
    assert_eq!((p0.leader, p0.isr.clone(), p0.leader_epoch), (1, vec![1, 2], 1), "leadership moved in replica order");
    let p1 = image.partition("led", 1).unwrap();
    assert_eq!((p1.leader, p1.leader_epoch), (follower, 0), "a follower's fencing keeps the leader");
    assert!(!p1.isr.contains(&4));
    let p2 = image.partition("alone", 0).unwrap();
    assert_eq!((p2.leader, p2.isr.clone()), (NO_LEADER, vec![4]), "the last in-sync replica stays, leaderless");
    assert_eq!(image.live_brokers(), vec![1, 2, 3], "brokers that heartbeat stay unfenced");

    // A real broker going away: its node stops, its leadership moves; restarting re-registers it unfenced.
    let victim = (1..=3).find(|id| *id != leader).unwrap();
    let moved = create_topic("moves", -1, -1, Some(vec![vec![victim, leader]]));
    assert_eq!(cluster.node(leader).propose(moved).await.unwrap(), CommandResult::Ok);
    cluster.stop(victim).await;
    cluster.wait_all("the stopped broker is fenced", |i| i.brokers[&victim].fenced).await;
    let p = cluster.node(leader).image().partition("moves", 0).cloned().unwrap();
    assert_eq!((p.leader, p.isr.clone()), (leader, vec![leader]));
    cluster.restart(victim).await;
    cluster.register_brokers_of(victim).await;
    cluster.wait_all("the restarted broker is live again", |i| !i.brokers[&victim].fenced).await;
    cluster.stop_all().await;
}

impl Cluster {
    async fn register_brokers_of(&self, id: i32) {
        let registered = self.node(id).register_broker("127.0.0.1".into(), 9000 + id, None);
        tokio::time::timeout(WAIT, registered).await.expect("registration in time").expect("registered");
    }
}

/// A node of a cluster with dedicated roles: its controller, data dir and shutdown switch.
struct RoleNode {
    controller: Arc<Controller>,
    shutdown: watch::Sender<bool>,
    config: BrokerConfig,
    addr: SocketAddr,
    dir: TempDir,
}

impl RoleNode {
    /// Starts node `config.node_id` on `listener` and `dir`.
    async fn start(config: BrokerConfig, listener: TcpListener, dir: TempDir) -> Self {
        let (shutdown, rx) = watch::channel(false);
        let addr = listener.local_addr().unwrap();
        let options = ControllerOptions { listener: Some(listener), snapshot_interval: 1_000 };
        let started = Controller::start_with(&config, &config.data_dir, options, rx);
        let controller = tokio::time::timeout(WAIT, started).await.expect("starts in time").expect("starts");
        RoleNode { controller, shutdown, config, addr, dir }
    }

    /// Stops the node and waits until it has released its port and data dir.
    async fn stop(self) -> (BrokerConfig, SocketAddr, TempDir) {
        self.shutdown.send(true).unwrap();
        tokio::time::timeout(WAIT, self.controller.closed()).await.expect("stops in time");
        (self.config, self.addr, self.dir)
    }
}

/// Nodes 1-3 controller-only voters, 4-5 broker-only learners, all started at once.
async fn start_dedicated() -> BTreeMap<i32, RoleNode> {
    init_tracing();
    let mut listeners = Vec::new();
    for _ in 0..5 {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind a controller listener"));
    }
    let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let quorum = addrs[..3].iter().enumerate().map(|(i, a)| format!("{}@{a}", i + 1)).collect::<Vec<_>>().join(",");
    let starting: Vec<_> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            let id = i as i32 + 1;
            let dir = tempfile::tempdir().unwrap();
            let mut config = config(id, &quorum, dir.path());
            if id <= 3 {
                config.process_roles = vec!["controller".into()];
            } else {
                config.process_roles = vec!["broker".into()];
                config.controller_listen = Some(addrs[i].to_string());
            }
            config.validate().expect("valid dedicated-role config");
            tokio::spawn(async move { (id, RoleNode::start(config, listener, dir).await) })
        })
        .collect();
    let mut nodes = BTreeMap::new();
    for started in starting {
        let (id, node) = started.await.unwrap();
        nodes.insert(id, node);
    }
    nodes
}

/// Waits until every node's image satisfies `check`.
async fn wait_images(nodes: &BTreeMap<i32, RoleNode>, what: &str, check: impl Fn(&MetadataImage) -> bool) {
    wait_until(WAIT, what, || async {
        let images: Vec<(i32, u64)> = nodes.iter().map(|(id, n)| (*id, n.controller.image().applied_index)).collect();
        if nodes.values().all(|n| check(&n.controller.image())) {
            Ok(())
        } else {
            Err(format!("applied indexes {images:?}"))
        }
    })
    .await
}

/// Waits until every node names the same voter as leader, and returns it.
async fn voter_leader(nodes: &BTreeMap<i32, RoleNode>) -> i32 {
    wait_until(WAIT, "every node names the same voter as leader", || async {
        let seen: Vec<Option<i32>> = nodes.values().map(|n| n.controller.status().leader).collect();
        match seen[0] {
            Some(leader)
                if (1..=3).contains(&leader)
                    && nodes.contains_key(&leader)
                    && seen.iter().all(|l| *l == Some(leader)) =>
            {
                Ok(leader)
            }
            _ => Err(format!("leaders seen: {seen:?}")),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_only_learners_follow_dedicated_controllers() {
    let mut nodes = start_dedicated().await;
    for id in [4, 5] {
        let registered = nodes[&id].controller.register_broker("127.0.0.1".into(), 9000 + id, None);
        tokio::time::timeout(WAIT, registered).await.expect("registration in time").expect("registered");
    }
    let brokers: Vec<i32> = vec![4, 5];
    wait_images(&nodes, "every node sees exactly the two brokers", |i| i.live_brokers() == brokers).await;
    let leader = voter_leader(&nodes).await;
    for node in nodes.values() {
        assert_eq!(node.controller.status().voters, vec![1, 2, 3], "learners never count as voters");
    }

    // Placement only knows the registered brokers: the controllers hold no replica.
    let created = nodes[&1].controller.propose(create_topic("orders", 4, 2, None)).await.expect("committed");
    assert_eq!(created, CommandResult::Ok);
    wait_images(&nodes, "every node applied the topic", |i| i.topics.contains_key("orders")).await;
    let image = nodes[&5].controller.image();
    for partition in &image.topics["orders"].partitions {
        let mut replicas = partition.replicas.clone();
        replicas.sort_unstable();
        assert_eq!(replicas, brokers, "partition placed on the brokers only: {partition:?}");
    }

    // A learner's proposal is forwarded to the leader and applied everywhere.
    let before = image.next_producer_id;
    nodes[&4].controller.propose(allocate(1_000)).await.expect("a learner's proposal is committed");
    wait_images(&nodes, "every node applied the learner's proposal", |i| i.next_producer_id >= before + 1_000).await;

    // The quorum leader goes; the voters elect another and the learners keep following.
    nodes.remove(&leader).expect("the leader is a node").stop().await;
    let next = voter_leader(&nodes).await;
    assert_ne!(next, leader, "a new leader among the remaining voters");
    let before = nodes[&5].controller.image().next_producer_id;
    nodes[&5].controller.propose(allocate(1_000)).await.expect("committed under the new leader");
    wait_images(&nodes, "learners apply updates after the failover", |i| i.next_producer_id >= before + 1_000).await;

    // A restarted learner is a learner already: asking again is harmless, and it catches up.
    let (config, addr, dir) = nodes.remove(&4).expect("node 4 runs").stop().await;
    let listener = TcpListener::bind(addr).await.expect("rebind the learner's listener");
    nodes.insert(4, RoleNode::start(config, listener, dir).await);
    let before = nodes[&5].controller.image().next_producer_id;
    nodes[&5].controller.propose(allocate(1_000)).await.expect("committed with the learner back");
    wait_images(&nodes, "the restarted learner catches up", |i| i.next_producer_id >= before + 1_000).await;
    for node in nodes.into_values() {
        node.stop().await;
    }
}
