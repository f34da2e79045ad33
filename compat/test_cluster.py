"""A replicated three-node cluster (compat/cluster.py) under crashes and network
partitions, driven by real clients: no acknowledged record is lost, duplicated
or reordered; acks=all refuses writes it cannot replicate; a leader cut off
from the others loses the records only it had; consumer groups and
transactions survive their coordinator's death; `sluice cluster describe`
shows what happens."""

import random
import socket
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from cluster import (NODES, Cluster, Faults, SequenceProducer, assert_clean, audit, deliver, error_name,
                     java_partition_for, produce_acked)
from conftest import sluice_binary
from helpers import committed_offsets, read_all, unique_topic, wait_until
from proxy import CuttingProxy

CHAOS_SECONDS = 40


@pytest.fixture
def cluster(request, tmp_path):
    c = Cluster(sluice_binary(), tmp_path)
    try:
        c.start()
    except BaseException:
        c.dump_logs()
        c.close()
        raise
    yield c
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        c.dump_logs()
    errors = c.close()
    if errors and not failed:
        pytest.fail("cluster shutdown at teardown was not clean:\n" + "\n".join(errors), pytrace=False)


# --- (1) kill -9 under load ----------------------------------------------------------------------------------

def test_kill9_chaos_loses_no_acknowledged_record(cluster):
    topic = cluster.create_topic(unique_topic("chaos"), partitions=3, config={"min.insync.replicas": "2"})
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    kills = []
    with SequenceProducer(cluster.bootstrap, topic, 3) as producer:
        producer.wait_acked(1000, 60, "before the first kill")
        deadline = time.monotonic() + CHAOS_SECONDS
        while time.monotonic() < deadline:
            # Each crash must be survivable: every partition has its three replicas in sync first.
            cluster.wait_fully_replicated([topic])
            victim = cluster.quorum_leader() if len(kills) % 2 == 0 else rng.choice(NODES)
            cluster.kill9(victim)
            kills.append(victim)
            # Two replicas remain, enough for min.insync.replicas=2: acks=all must go on before the restart.
            producer.wait_acked(200, 60, f"with node {victim} killed")
            cluster.restart(victim)
        cluster.wait_fully_replicated([topic])
        producer.wait_acked(200, 60, "after the last restart")
    print(f"seed {seed}: killed nodes {kills} (even rounds: the quorum leader)")
    assert len(kills) >= 3, f"only {len(kills)} kills in {CHAOS_SECONDS}s"
    assert_clean(audit(producer, cluster.bootstrap))


# --- (2) acks=all with two of three brokers down --------------------------------------------------------------

def probe(bootstrap, topic, value):
    """One record with acks=all and no retries: the delivery error is the broker's answer."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False, "retries": 0,
                  "request.timeout.ms": 5000, "message.timeout.ms": 15000})
    return deliver(p, topic, [value])[0]


def test_acks_all_is_refused_with_two_brokers_down_and_resumes(cluster):
    topic = cluster.create_topic(unique_topic("min-isr"), partitions=1, config={"min.insync.replicas": "2"})
    produce_acked(cluster.bootstrap, topic, [b"before"])
    leader = cluster.leader(topic, 0)
    down = [n for n in NODES if n != leader]
    for n in down:
        cluster.kill9(n)

    outcomes = []
    deadline = time.monotonic() + 60
    while True:
        err, offset = probe(cluster.nodes[leader].bootstrap, topic, b"probe-%d" % len(outcomes))
        outcomes.append(error_name(err.code()) if err else f"acknowledged at offset {offset}")
        assert err is not None, (
            f"acks=all was acknowledged with nodes {down} down and min.insync.replicas=2: {outcomes}")
        if err.code() == KafkaError.NOT_ENOUGH_REPLICAS:
            break
        assert time.monotonic() < deadline, f"no NOT_ENOUGH_REPLICAS within 60s; answers: {outcomes}"
    print(f"answers with nodes {down} down: {outcomes}")

    cluster.restart(down[0])
    produce_acked(cluster.bootstrap, topic, [b"after"])
    values = [r.value for r in read_all(cluster.bootstrap, topic, 1)[0]]
    assert b"before" in values and b"after" in values, f"read back {values}"


# --- (3) divergent tail of an isolated leader -----------------------------------------------------------------

def test_isolated_leader_truncates_its_divergent_tail(cluster):
    """Consumers read only from a leader, so each replica is checked in its own
    segment files: once healed, all three must hold exactly the same records."""
    topic = cluster.create_topic(unique_topic("diverge"), partitions=1)
    base = [b"base-%d" % i for i in range(10)]
    produce_acked(cluster.bootstrap, topic, base)
    cluster.wait_fully_replicated([topic])
    old = cluster.leader(topic, 0)

    # Connected with fresh metadata before the cut: this client keeps writing to the old leader.
    lone = Producer({"bootstrap.servers": cluster.nodes[old].bootstrap, "acks": "1", "enable.idempotence": False,
                     "retries": 0, "compression.type": "none", "message.timeout.ms": 10000})
    lone.list_topics(topic, timeout=10)
    cluster.isolate(old)
    divergent = [b"divergent-%d" % i for i in range(10)]
    results = deliver(lone, topic, divergent)
    assert all(err is None for err, _ in results), (
        f"the isolated leader (node {old}) refused acks=1 writes, so there is no divergent tail to test: {results}")
    on_old = [v for _, v in cluster.records_on_disk(old, topic, 0)]
    assert on_old == base + divergent, f"node {old}'s log before healing: {on_old}"

    new = cluster.wait_leader_moved(topic, 0, away_from=old)
    after = [b"after-%d" % i for i in range(10)]
    produce_acked(cluster.bootstrap_of([n for n in NODES if n != old]), topic, after)
    print(f"old leader {old} took {len(divergent)} divergent records; new leader {new} took {len(after)}")
    cluster.heal()

    expected = list(enumerate(base + after))
    copies = {}

    def converged():
        copies.update({n: cluster.records_on_disk(n, topic, 0) for n in NODES})
        return all(copy == expected for copy in copies.values())

    try:
        wait_until(converged, 60, "every replica to hold the same records")
    except AssertionError as e:
        shown = {n: [f"{o}:{v.decode()}" for o, v in c] for n, c in copies.items()}
        raise AssertionError(f"{e}; expected {len(expected)} records base-* then after-*, replicas hold {shown}")
    cluster.wait_fully_replicated([topic])
    assert [(r.offset, r.value) for r in read_all(cluster.bootstrap, topic, 1)[0]] == expected


# --- (4) coordinators fail over -------------------------------------------------------------------------------

def consume_and_commit(bootstrap, group, topic, count, timeout=90):
    """A group member reads at least `count` records, commits what it read, and leaves.
    Returns the records read as (partition, offset, value) and the committed offsets."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    try:
        c.subscribe([topic])
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            assert time.monotonic() < deadline, f"group {group} read {len(got)} of {count} records in {timeout}s"
            for m in c.consume(num_messages=100, timeout=0.5):
                if m.error() is not None:
                    raise KafkaException(m.error())
                got.append((m.partition(), m.offset(), m.value()))
        positions = {}
        for part, offset, _ in got:
            positions[part] = max(positions.get(part, 0), offset + 1)
        c.commit(offsets=[TopicPartition(topic, p, o) for p, o in positions.items()], asynchronous=False)
        return got, positions
    finally:
        c.close()


def test_committed_offsets_survive_the_group_coordinator_kill(cluster):
    topic = cluster.create_topic(unique_topic("group"), partitions=3)
    values = [b"v-%d" % i for i in range(300)]
    for part in range(3):
        produce_acked(cluster.bootstrap, topic, values[part::3], partition=part)

    group = unique_topic("group")
    first, positions = consume_and_commit(cluster.bootstrap, group, topic, 150)
    committed = committed_offsets(cluster.bootstrap, group, topic, 3)
    assert {p: o for p, o in committed.items() if o >= 0} == positions

    coordinator = cluster.group_coordinator(group)
    cluster.wait_fully_replicated(["__consumer_offsets", topic])
    cluster.kill9(coordinator)
    survivors = cluster.bootstrap_of([n for n in NODES if n != coordinator])
    wait_until(lambda: committed_offsets(survivors, group, topic, 3, timeout=5) == committed, 60,
               f"the committed offsets {committed} to be served again after killing coordinator node {coordinator}")
    assert cluster.group_coordinator(group) != coordinator

    # The group goes on from its committed offsets, and its new commits stick.
    rest, _ = consume_and_commit(survivors, group, topic, len(values) - len(first))
    for part, offset, _ in rest:
        assert offset >= positions.get(part, 0), f"partition {part}: re-read offset {offset} below the commit"
    assert sorted(v for _, _, v in first + rest) == sorted(values)
    assert committed_offsets(survivors, group, topic, 3) == {0: 100, 1: 100, 2: 100}
    cluster.restart(coordinator)


def commit_transaction(producer, timeout):
    """commit_transaction, called again on retriable errors as librdkafka asks."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            producer.commit_transaction(max(1.0, deadline - time.monotonic()))
            return
        except KafkaException as e:
            err = e.args[0]
            if not err.retriable() or time.monotonic() > deadline:
                raise AssertionError(f"commit_transaction failed: {err} (retriable={err.retriable()}, "
                                     f"requires abort={err.txn_requires_abort()}, fatal={err.fatal()})") from e


def test_transaction_commits_across_a_coordinator_failover(cluster):
    topic = cluster.create_topic(unique_topic("txn"), partitions=3)
    txn_id = unique_topic("txn-id")
    p = Producer({"bootstrap.servers": cluster.bootstrap, "transactional.id": txn_id,
                  "transaction.timeout.ms": 60000, "message.timeout.ms": 60000})
    p.init_transactions(60)
    first = [b"a-%d" % i for i in range(100)]
    p.begin_transaction()
    for i, v in enumerate(first):
        p.produce(topic, value=v, partition=i % 3)
    commit_transaction(p, 60)

    cluster.wait_fully_replicated(["__transaction_state", topic])
    coordinator = cluster.txn_coordinator(txn_id)
    second = [b"b-%d" % i for i in range(100)]
    p.begin_transaction()
    for i, v in enumerate(second[:50]):
        p.produce(topic, value=v, partition=i % 3)
    assert p.flush(60) == 0, "first half of the transaction not written within 60s"
    cluster.kill9(coordinator)
    for i, v in enumerate(second[50:]):
        p.produce(topic, value=v, partition=i % 3)
    commit_transaction(p, 90)
    moved_to = cluster.txn_coordinator(txn_id)
    print(f"transaction coordinator moved from node {coordinator} to node {moved_to}")
    assert moved_to in NODES and moved_to != coordinator, f"__transaction_state leader now {moved_to}"

    got = read_all(cluster.bootstrap, topic, 3, conf={"isolation.level": "read_committed"})
    values = sorted(r.value for rs in got.values() for r in rs)
    assert values == sorted(first + second), (
        f"read_committed read {len(values)} records ({len(set(values))} distinct), expected {len(first + second)}")
    cluster.restart(coordinator)


# --- (5) a network partition heals ------------------------------------------------------------------------

def test_network_partition_heals_without_losing_acknowledged_records(cluster):
    topic = cluster.create_topic(unique_topic("partition"), partitions=3, config={"min.insync.replicas": "2"})
    with SequenceProducer(cluster.bootstrap, topic, 3) as producer:
        producer.wait_acked(1000, 60, "before the first partition")
        for role in ("leader of partition 0", "controller quorum leader"):
            cluster.wait_fully_replicated([topic])
            victim = cluster.leader(topic, 0) if role.startswith("leader") else cluster.quorum_leader()
            led = [p for p, info in cluster.partitions(topic).items() if info.leader == victim]
            cluster.isolate(victim)
            # The majority side moves on without the victim: new leaders, and acks=all keeps working.
            for part in led:
                cluster.wait_leader_moved(topic, part, away_from=victim)
            wait_until(lambda: cluster.quorum_leader() != victim, 60, f"a quorum leader other than node {victim}")
            producer.wait_acked(300, 60, f"while node {victim} ({role}) is isolated")
            cluster.heal()
            cluster.wait_fully_replicated([topic])
            producer.wait_acked(300, 60, f"after node {victim} rejoined")
    assert_clean(audit(producer, cluster.bootstrap))


# --- sluice cluster describe ----------------------------------------------------------------------------------

def test_cluster_describe_shows_brokers_quorum_and_under_replication(cluster):
    topic = cluster.create_topic(unique_topic("describe"), partitions=2)
    report = wait_until(lambda: (r := cluster.describe())["quorum"] and r["quorum"]["leader"] is not None and r,
                        30, "describe to report a quorum leader")
    brokers = [(b["id"], f"{b['host']}:{b['port']}", b["rack"], b["fenced"]) for b in report["brokers"]]
    assert brokers == [(n, cluster.nodes[n].bootstrap, f"r{n}", False) for n in NODES]
    quorum = report["quorum"]
    assert quorum is not None and quorum["error"] is None, f"quorum not described: {quorum}"
    assert sorted(v["id"] for v in quorum["voters"]) == list(NODES) and quorum["leader"] in NODES, quorum
    assert quorum["term"] >= 1, quorum
    assert not [p for p in report["under_replicated"] + report["offline"] if p["topic"] == topic], report

    text = cluster.describe(as_json=False)
    assert "Controller quorum: leader " in text and "Brokers: 3" in text, text
    for n in NODES:
        assert cluster.nodes[n].bootstrap in text, text

    # Killing a follower of the quorum keeps its leader, so the report is about the partitions.
    follower = next(n for n in NODES if n != quorum["leader"])
    cluster.kill9(follower)

    def degraded():
        r = cluster.describe()
        under = [p for p in r["under_replicated"] if p["topic"] == topic and follower not in p["isr"]]
        active = [b["id"] for b in r["brokers"] if not b["fenced"]]
        return len(under) == 2 and follower not in active and r

    report = wait_until(degraded, 30, f"describe to show both partitions of {topic} under-replicated without "
                                      f"node {follower}, and node {follower} fenced or gone")
    assert not [p for p in report["offline"] if p["topic"] == topic], report

    cluster.restart(follower)
    cluster.wait_fully_replicated([topic])
    report = cluster.describe()
    assert not [p for p in report["under_replicated"] + report["offline"] if p["topic"] == topic], report


# --- the harness itself ---------------------------------------------------------------------------------------

def test_isolation_cuts_links_between_nodes_but_not_clients():
    """No broker involved: an echo server behind a proxy bound like node 2's."""
    server = socket.create_server(("127.0.1.2", 0))
    stop = threading.Event()

    def serve(conn):
        with conn:
            try:
                for data in iter(lambda: conn.recv(1024), b""):
                    conn.sendall(data)
            except OSError:
                pass

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    faults = Faults()
    proxy = CuttingProxy(lambda: server.getsockname(), host="127.0.1.2",
                         allow=lambda ip: faults.allows(ip, 2))

    def roundtrip(source_ip):
        s = socket.socket()
        s.bind((source_ip, 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.1.2", proxy.port))
            s.sendall(b"ping")
            return s.recv(16) == b"ping"
        except OSError:
            return False
        finally:
            s.close()

    try:
        assert roundtrip("127.0.1.1") and roundtrip("127.0.0.1")
        open_link = socket.create_connection(("127.0.1.2", proxy.port), source_address=("127.0.1.3", 0))
        open_link.settimeout(5)
        open_link.sendall(b"ping")
        assert open_link.recv(16) == b"ping"  # The proxy has taken the connection in.
        faults.isolated.add(2)
        assert proxy.cut_where(lambda ip: not faults.allows(ip, 2)) >= 1
        assert open_link.recv(16) == b"", "an open link from node 3 survived the isolation of node 2"
        open_link.close()
        assert not roundtrip("127.0.1.1"), "node 1 reached isolated node 2"
        assert roundtrip("127.0.0.1"), "a client could not reach isolated node 2"
        assert roundtrip("127.0.1.2"), "node 2 could not reach itself"
        faults.isolated.clear()
        assert roundtrip("127.0.1.3")
    finally:
        stop.set()
        proxy.close()
        server.close()


def test_java_partition_placement():
    # Java: "hello".hashCode() == 99162322; "polygenelubricants".hashCode() == Integer.MIN_VALUE.
    assert java_partition_for("hello", 50) == 99162322 % 50
    assert java_partition_for("polygenelubricants", 7) == 0
