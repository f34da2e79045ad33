"""A three-node Sluice cluster for the compat tests, with network faults.

Topology: node N runs `sluice broker --node-id N` in combined mode (broker and
controller-quorum voter) on its own loopback address 127.0.1.N, with a private
data dir and short failure-detection timeouts. Every address another party
uses goes through a proxy (proxy.CuttingProxy) bound on 127.0.1.N:

    clients (127.0.0.1) --+
                          +--> [Kafka proxy of N] --> N's Kafka listener
    node M (127.0.1.M) ---+
    node M (127.0.1.M) ------> [controller proxy of N] --> N's controller listener

The node advertises its Kafka proxy (`--advertised-listener`), the quorum lists
the controller proxies (`--controller-quorum`) while the real controller binds
elsewhere (`--controller-listen`), and `--bind-outbound 127.0.1.N` makes every
connection a node opens leave from its own address. So a proxy can tell who is
calling: `isolate(N)` refuses and cuts every connection between node N and the
other nodes, both ways, while clients (127.0.0.1) still reach every node.

Every wait is a bounded poll with a message saying what did not happen.
"""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from collections import Counter, namedtuple

from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import GROUP_ENV, LISTENING_RE, Broker, BrokerStartError, _die_with_parent
from helpers import read_all, wait_until
from proxy import CuttingProxy

NODES = (1, 2, 3)
CLIENT_IP = "127.0.0.1"

START_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.05

# Failure detection in seconds rather than Kafka's tens of seconds, so a test sees several failovers. The group
# and transaction settings of the single-broker tests apply too (instant rebalances, 3 partitions per internal
# topic); TRANSACTION_STATE_NUM_PARTITIONS is what `txn_coordinator` assumes.
TRANSACTION_STATE_PARTITIONS = 3
CLUSTER_ENV = {
    **GROUP_ENV,
    "SLUICE_TRANSACTION_STATE_NUM_PARTITIONS": str(TRANSACTION_STATE_PARTITIONS),
    "SLUICE_BROKER_SESSION_TIMEOUT_MS": "3000",
    "SLUICE_BROKER_HEARTBEAT_INTERVAL_MS": "500",
    "SLUICE_REPLICA_LAG_TIME_MAX_MS": "3000",
    "SLUICE_CONTROLLER_ELECTION_TIMEOUT_MS": "1000",
}


def node_ip(node):
    return f"127.0.1.{node}"


NODE_BY_IP = {node_ip(n): n for n in NODES}


def reserve_port(ip):
    """A port the OS says is free on `ip`, released again for the broker to bind.
    Another process could take it in between; on loopback that race is rare."""
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


# --- network faults ------------------------------------------------------------------------------------------

class Faults:
    """Which nodes are cut off from the others. A connection is allowed unless it
    links two different nodes and one of them is isolated; clients always pass."""

    def __init__(self):
        self.lock = threading.Lock()
        self.isolated = set()

    def allows(self, source_ip, destination):
        source = NODE_BY_IP.get(source_ip)
        if source is None or source == destination:
            return True
        with self.lock:
            return source not in self.isolated and destination not in self.isolated


# --- one node ------------------------------------------------------------------------------------------------

class ClusterNode(Broker):
    """One `sluice broker` of the cluster across restarts: its id, address,
    proxies, data dir and controller port stay; the Kafka listener port is
    chosen by the OS at each start and followed by the proxy."""

    def __init__(self, cluster, node, binary, root):
        data_dir, log_dir = root / f"node-{node}" / "data", root / f"node-{node}" / "logs"
        data_dir.mkdir(parents=True)
        log_dir.mkdir(parents=True)
        super().__init__(binary, data_dir, log_dir, env=cluster.env)
        self.cluster = cluster
        self.node = node
        self.ip = node_ip(node)
        self.controller_port = reserve_port(self.ip)
        allow = lambda source_ip: cluster.faults.allows(source_ip, node)  # noqa: E731
        self.kafka_proxy = CuttingProxy(lambda: (self.host, self.port), host=self.ip, allow=allow)
        self.controller_proxy = CuttingProxy(lambda: (self.ip, self.controller_port), host=self.ip, allow=allow)
        self._stdout_path = None
        self._cmd = None

    @property
    def bootstrap(self):
        """Where clients reach this node: its advertised Kafka proxy."""
        return self.kafka_proxy.address

    def command(self):
        return [
            str(self.binary), "broker",
            "--node-id", str(self.node),
            "--listen", f"{self.ip}:0",
            "--advertised-listener", self.kafka_proxy.address,
            "--controller-quorum", self.cluster.quorum,
            "--controller-listen", f"{self.ip}:{self.controller_port}",
            "--bind-outbound", self.ip,
            "--rack", f"r{self.node}",
            "--data-dir", str(self.data_dir),
        ]

    def launch(self):
        """Starts the process without waiting: a node of a new cluster cannot
        finish starting before a majority of the quorum runs."""
        assert not self.running, f"node {self.node} is already running"
        self.starts += 1
        self.host = self.port = None
        self._cmd = self.command()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_") or k == "SLUICE_LOG"}
        env.setdefault("RUST_BACKTRACE", "1")
        env["NO_COLOR"] = "1"
        env.update(self.extra_env)
        self._stdout_path = self.log_dir / f"broker-{self.starts}.stdout"
        with open(self.stderr_path, "ab") as err:
            err.write(f"----- start #{self.starts}: {' '.join(self._cmd)}\n".encode())
        self._stderr_mark = self.stderr_path.stat().st_size
        with open(self._stdout_path, "wb") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(self._cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                         preexec_fn=_die_with_parent)

    def wait_listening(self, timeout=START_TIMEOUT_S):
        """Waits for the one stdout line `sluice broker listening on HOST:PORT`."""
        deadline = time.monotonic() + timeout
        while True:
            text = self._stdout_path.read_text(errors="replace")
            for line in text.splitlines(keepends=True):
                m = LISTENING_RE.match(line)
                if m and line.endswith("\n"):
                    self.host, self.port = m.group(1), int(m.group(2))
                    return
            code = self.proc.poll()
            if code is not None:
                self.proc = None
                raise BrokerStartError(
                    f"node {self.node} exited with code {code} before printing its listening line\n"
                    f"cmd: {' '.join(self._cmd)}\nstderr:\n{self.stderr_text(current=True)[-8000:]}")
            if time.monotonic() > deadline:
                self.kill9()
                raise BrokerStartError(
                    f"node {self.node} did not print 'sluice broker listening on HOST:PORT' within {timeout}s "
                    f"(a majority of the quorum must run for a node to finish starting)\n"
                    f"cmd: {' '.join(self._cmd)}\nstderr:\n{self.stderr_text(current=True)[-8000:]}")
            time.sleep(POLL_INTERVAL_S)

    def start(self, port=0, timeout=START_TIMEOUT_S):
        self.launch()
        self.wait_listening(timeout)
        return self

    def restart(self, timeout=START_TIMEOUT_S):
        if self.running:
            self.stop()
        return self.start(timeout=timeout)

    def close_proxies(self):
        self.kafka_proxy.close()
        self.controller_proxy.close()


# --- the cluster ---------------------------------------------------------------------------------------------

class Cluster:
    """Three nodes, their proxies and the fault switch. Nodes are addressed by id (1, 2, 3)."""

    def __init__(self, binary, root, env=None):
        self.binary = binary
        self.env = {**CLUSTER_ENV, **(env or {})}
        self.faults = Faults()
        self.nodes = {}
        for n in NODES:
            self.nodes[n] = ClusterNode(self, n, binary, root)
        self.quorum = ",".join(f"{n}@{node.controller_proxy.address}" for n, node in self.nodes.items())

    # -- addresses ----------------------------------------------------------------------------------------

    @property
    def bootstrap(self):
        """Every node's advertised address: for clients that should survive any one node being down."""
        return ",".join(node.bootstrap for node in self.nodes.values())

    def bootstrap_of(self, nodes):
        return ",".join(self.nodes[n].bootstrap for n in nodes)

    def running(self):
        return [n for n, node in self.nodes.items() if node.running]

    def reachable(self):
        """Running nodes that are not isolated: what the majority side sees."""
        with self.faults.lock:
            isolated = set(self.faults.isolated)
        return [n for n in self.running() if n not in isolated]

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self):
        for node in self.nodes.values():
            node.launch()
        for node in self.nodes.values():
            node.wait_listening()
        for n in NODES:
            self.wait_sees_brokers(n, NODES)
        return self

    def kill9(self, n):
        """SIGKILL node `n` and wait until its process is gone."""
        self.nodes[n].kill9()

    def stop(self, n):
        """SIGTERM node `n`; requires a clean exit."""
        self.nodes[n].stop()

    def restart(self, n):
        """Starts node `n` again on its data dir and waits until every reachable
        node (itself included) lists every reachable broker in its metadata."""
        self.nodes[n].start()
        reachable = self.reachable()
        for m in reachable:
            self.wait_sees_brokers(m, reachable)

    def close(self):
        """Heals the network, stops every node (SIGTERM, clean exit required), closes the proxies.
        Returns the shutdown problems instead of raising, so each node still gets stopped."""
        self.heal()
        # All at once, as a cluster is stopped: one by one, the last nodes would lose their quorum first.
        for node in self.nodes.values():
            if node.running:
                node.proc.send_signal(signal.SIGTERM)
        errors = []
        for node in self.nodes.values():
            try:
                node.stop()
            except AssertionError as e:
                errors.append(f"node {node.node}: {e}")
        for node in self.nodes.values():
            node.close_proxies()
        return errors

    def dump_logs(self, lines=150):
        """Prints the end of each node's stderr, runs of similar lines (a retry loop) shown once."""
        for node in self.nodes.values():
            text = "\n".join(collapse_repeats(node.stderr_text().splitlines())[-lines:])
            print(f"\n===== node {node.node} stderr ({node.stderr_path}) =====\n{text}")

    # -- faults -------------------------------------------------------------------------------------------

    def isolate(self, n):
        """Cuts node `n` off from the other nodes, both ways, until `heal()`:
        open connections are closed and new ones reset. Clients still reach it."""
        with self.faults.lock:
            self.faults.isolated.add(n)
        for m, node in self.nodes.items():
            for proxy in (node.kafka_proxy, node.controller_proxy):
                proxy.cut_where(lambda source_ip, m=m: not self.faults.allows(source_ip, m))

    def heal(self):
        with self.faults.lock:
            self.faults.isolated.clear()

    # -- metadata -----------------------------------------------------------------------------------------

    def metadata(self, n, timeout=10):
        """Metadata (all topics) as node `n` itself answers it: a raw request, so it
        is never answered by another broker the client happened to pick."""
        node = self.nodes[n]
        return fetch_metadata(node.ip, node.kafka_proxy.port, timeout)

    def wait_sees_brokers(self, n, brokers, timeout=READY_TIMEOUT_S):
        want = set(brokers)
        wait_until(lambda: set(self.metadata(n).brokers) >= want, timeout,
                   f"node {n}'s metadata to list brokers {sorted(want)}")

    def partitions(self, topic, via=None):
        """{partition: PartitionInfo} of `topic` as node `via` (default: any reachable node) sees it."""
        via = via or self.reachable()[0]
        md = self.metadata(via)
        assert topic in md.topics, f"node {via} does not know topic {topic}; topics: {sorted(md.topics)}"
        return md.topics[topic]

    def leader(self, topic, partition, via=None):
        return self.partitions(topic, via)[partition].leader

    def wait_fully_replicated(self, topics, timeout=60):
        """Waits until every reachable node reports every partition of `topics` with a leader and a
        full ISR. Asking them all matters: a node just back from isolation still shows its old view."""
        state = {}

        def healthy():
            state.clear()
            for n in self.reachable():
                md = self.metadata(n)
                for topic in topics:
                    parts = md.topics.get(topic)
                    state[(n, topic)] = parts
                    if not parts or any(p.leader < 0 or set(p.isr) != set(p.replicas) for p in parts.values()):
                        return False
            return True

        try:
            wait_until(healthy, timeout, f"every partition of {topics} to have a leader and a full ISR")
        except AssertionError as e:
            raise AssertionError(f"{e}; last seen (node, topic): {state}") from None

    def wait_leader_moved(self, topic, partition, away_from, timeout=60):
        """Waits until the reachable nodes report a leader for the partition other than `away_from`."""
        def moved():
            leaders = {n: self.leader(topic, partition, via=n) for n in self.reachable()}
            if all(l >= 0 and l != away_from for l in leaders.values()):
                return next(iter(leaders.values()))
            return None
        return wait_until(moved, timeout, f"{topic}-{partition} to get a leader other than node {away_from}")

    def create_topic(self, name, partitions=1, replication_factor=3, config=None, timeout=60):
        admin = AdminClient({"bootstrap.servers": self.bootstrap_of(self.reachable())})
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=replication_factor, config=config or {})],
            operation_timeout=timeout, request_timeout=timeout)
        futures[name].result(timeout=timeout)
        self.wait_fully_replicated([name], timeout)
        return name

    # -- the controller quorum and coordinators -----------------------------------------------------------

    def describe(self, n=None, as_json=True, timeout=30):
        """Runs `sluice cluster describe` against node `n` (default: any reachable node)."""
        n = n or self.reachable()[0]
        cmd = [str(self.binary), "cluster", "describe", "--bootstrap-servers", self.nodes[n].bootstrap]
        if as_json:
            cmd.append("--json")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_") or k == "SLUICE_LOG"}
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        assert done.returncode == 0, (
            f"`{' '.join(cmd)}` exited with {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
        return json.loads(done.stdout) if as_json else done.stdout

    def quorum_leader(self, timeout=30):
        """The controller quorum's leader, as a reachable node reports it (DescribeQuorum)."""
        def leader():
            quorum = self.describe()["quorum"]
            assert quorum is not None, "the broker does not serve DescribeQuorum"
            return quorum["leader"]
        return wait_until(leader, timeout, "the controller quorum to report a leader")

    def group_coordinator(self, group, timeout=30):
        """The node coordinating `group` (FindCoordinator, through DescribeGroups)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap_of(self.reachable())})
        return admin.describe_consumer_groups([group], request_timeout=timeout)[group].result(timeout).coordinator.id

    def txn_coordinator(self, transactional_id):
        """The node coordinating `transactional_id`: the leader of its __transaction_state
        partition, placed as Kafka does (abs(String.hashCode) % partitions)."""
        return self.leader("__transaction_state", java_partition_for(transactional_id, TRANSACTION_STATE_PARTITIONS))

    # -- what each replica stores ---------------------------------------------------------------------------

    def records_on_disk(self, n, topic, partition):
        """(offset, value) of every data record in node `n`'s own copy of the partition,
        read from its segment files: the only way to see a follower's replica, since
        consumers read from leaders."""
        return records_in_partition_dir(self.nodes[n].data_dir / f"{topic}-{partition}")


def collapse_repeats(lines):
    """Log lines with runs of lines that differ only in numbers (timestamps, ids) shown once, with a count."""
    out, previous, count = [], None, 0
    for line in lines:
        shape = re.sub(r"\d+", "#", line)
        if shape == previous:
            count += 1
            continue
        if count:
            out.append(f"    ... {count} more like the line above")
        out.append(line)
        previous, count = shape, 0
    if count:
        out.append(f"    ... {count} more like the line above")
    return out


# --- Metadata over the wire (v1) ----------------------------------------------------------------------------

PartitionInfo = namedtuple("PartitionInfo", "error leader replicas isr")
ClusterMetadata = namedtuple("ClusterMetadata", "brokers controller topics")


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values[0] if len(values) == 1 else values

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def ints(self):
        return [self.take(">i") for _ in range(self.take(">i"))]


def fetch_metadata(host, port, timeout):
    """One Metadata v1 request for every topic, answered by the broker at host:port."""
    client_id = b"sluice-compat-cluster"
    body = struct.pack(">hhih", 3, 1, 1, len(client_id)) + client_id + struct.pack(">i", -1)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _recv_exactly(s, 4))[0]
        r = _Reader(_recv_exactly(s, size))
    assert r.take(">i") == 1, "answer to another request"
    brokers = {}
    for _ in range(r.take(">i")):
        node, host_, port_, _rack = r.take(">i"), r.string(), r.take(">i"), r.string()
        brokers[node] = f"{host_}:{port_}"
    controller = r.take(">i")
    topics = {}
    for _ in range(r.take(">i")):
        error, name, _internal = r.take(">h"), r.string(), r.take(">b")
        partitions = {}
        for _ in range(r.take(">i")):
            p_error, index, leader = r.take(">hii")
            partitions[index] = PartitionInfo(p_error, leader, r.ints(), r.ints())
        if error == 0:
            topics[name] = partitions
    return ClusterMetadata(brokers, controller, topics)


def _recv_exactly(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        data += chunk
    return bytes(data)


# --- segment files ---------------------------------------------------------------------------------------

BATCH_HEADER_LEN = 61
CONTROL_BATCH = 0x20
COMPRESSION_MASK = 0x07


def _varint(data, pos):
    """A zigzag varint (Kafka record fields) at `pos`: (value, next position)."""
    shift = raw = 0
    while True:
        b = data[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if not b & 0x80:
            return (raw >> 1) ^ -(raw & 1), pos
        shift += 7


def records_in_partition_dir(path):
    """(offset, value) of the data records in a partition directory's segments,
    in offset order. Expects uncompressed batches; stops at a torn tail (a batch
    still being written)."""
    assert path.is_dir(), f"no partition directory {path}"
    out = []
    for segment in sorted(path.glob("*.log")):
        data = segment.read_bytes()
        pos = 0
        while pos + BATCH_HEADER_LEN <= len(data):
            base_offset, batch_len = struct.unpack_from(">qi", data, pos)
            end = pos + 12 + batch_len
            if batch_len < BATCH_HEADER_LEN - 12 or end > len(data):
                break
            attributes = struct.unpack_from(">h", data, pos + 21)[0]
            count = struct.unpack_from(">i", data, pos + 57)[0]
            if not attributes & CONTROL_BATCH:
                assert not attributes & COMPRESSION_MASK, f"{segment}: compressed batch at offset {base_offset}"
                at = pos + BATCH_HEADER_LEN
                for _ in range(count):
                    length, at = _varint(data, at)
                    record_end = at + length
                    at += 1  # attributes
                    _, at = _varint(data, at)  # timestamp delta
                    offset_delta, at = _varint(data, at)
                    key_len, at = _varint(data, at)
                    at += max(key_len, 0)
                    value_len, at = _varint(data, at)
                    value = data[at:at + value_len] if value_len >= 0 else None
                    out.append((base_offset + offset_delta, value))
                    at = record_end
            pos = end
    return out


# --- Kafka's placement of transactional ids --------------------------------------------------------------

def java_string_hash(s):
    h = 0
    units = s.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + (units[i] << 8 | units[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition_for(key, partitions):
    """Kafka's `Utils.abs(key.hashCode()) % partitions`, where abs(MIN_VALUE) is 0."""
    h = java_string_hash(key)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


# --- producing numbered records and auditing them ----------------------------------------------------------

class SequenceProducer:
    """An idempotent acks=all producer in its own thread, writing b"<partition>:<seq>"
    round-robin to explicit partitions as fast as the cluster acknowledges (at most
    `max_unacked` records in flight). Acknowledgements come from delivery callbacks."""

    def __init__(self, bootstrap, topic, partitions, conf=None, max_unacked=2000):
        self.topic = topic
        self.partitions = partitions
        self.max_unacked = max_unacked
        self.conf = {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            # Long enough to ride out every failover of a test: a record fails only if the cluster is stuck.
            "message.timeout.ms": 180000,
            "request.timeout.ms": 10000,
            "reconnect.backoff.max.ms": 500,
            "topic.metadata.refresh.interval.ms": 1000,
            "error_cb": self._on_error,
            **(conf or {}),
        }
        self.lock = threading.Lock()
        self.acked = {p: {} for p in range(partitions)}  # value -> offset
        self.acked_count = 0
        self.failed = []                                  # (value, error)
        self.fatal = []
        self.sent = 0
        self.flush_timeout = 120
        self.unflushed = None
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sequence-producer", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _on_error(self, err):
        if err.fatal():
            self.fatal.append(err)

    def _on_delivery(self, err, msg):
        with self.lock:
            if err is None:
                self.acked[msg.partition()][msg.value()] = msg.offset()
                self.acked_count += 1
            else:
                self.failed.append((msg.value(), err))

    def _run(self):
        try:
            p = Producer(self.conf)
            seq = [0] * self.partitions
            i = 0
            while not self._stop.is_set():
                with self.lock:
                    in_flight = self.sent - self.acked_count - len(self.failed)
                if in_flight >= self.max_unacked:
                    p.poll(0.05)
                    continue
                part = i % self.partitions
                try:
                    p.produce(self.topic, value=b"%d:%d" % (part, seq[part]), partition=part,
                              on_delivery=self._on_delivery)
                except BufferError:
                    p.poll(0.05)
                    continue
                seq[part] += 1
                i += 1
                with self.lock:
                    self.sent += 1
                p.poll(0)
            self.unflushed = p.flush(self.flush_timeout)
        except Exception as e:  # Reported to the test through check().
            self.error = e

    def wait_acked(self, more, timeout, what):
        """Waits until `more` records produced from now on are acknowledged: acknowledgements
        of records already in flight do not count, so this proves the cluster takes new writes."""
        with self.lock:
            target = self.sent + more
        wait_until(lambda: self.check() or self.acked_count >= target, timeout,
                   f"{more} acknowledged records produced {what} (acknowledged so far: {self.acked_count}, "
                   f"failed: {len(self.failed)})")

    def check(self):
        if self.error is not None:
            raise AssertionError(f"the producer thread failed: {self.error!r}") from self.error
        assert not self.fatal, f"the idempotent producer hit a fatal error: {self.fatal}"
        return False

    def stop(self, flush_timeout=120):
        """Stops producing and waits (bounded) for every record in flight to be acknowledged or fail."""
        if self._stop.is_set():
            return
        self.flush_timeout = flush_timeout
        self._stop.set()
        self._thread.join(flush_timeout + 30)
        assert not self._thread.is_alive(), f"the producer did not finish within {flush_timeout + 30}s"
        self.check()
        assert self.unflushed == 0, f"{self.unflushed} records neither acknowledged nor failed after flush"


Audit = namedtuple("Audit", "acknowledged read lost duplicated moved out_of_order failed")


def audit(producer, bootstrap, timeout=120):
    """Reads every partition back and compares it with what `producer` had acknowledged."""
    got = read_all(bootstrap, producer.topic, producer.partitions, timeout=timeout)
    lost, duplicated, moved, out_of_order = [], [], [], []
    read = 0
    for part in range(producer.partitions):
        records = [(r.offset, r.value) for r in got[part]]
        read += len(records)
        at = {value: offset for offset, value in records}
        counts = Counter(value for _, value in records)
        duplicated += [(part, v, n) for v, n in counts.items() if n > 1]
        for value, offset in producer.acked[part].items():
            if value not in at:
                lost.append((part, offset, value))
            elif at[value] != offset:
                moved.append((part, value, offset, at[value]))
        # One idempotent producer per partition: the log keeps its order, whatever was retried or failed.
        seqs = [int(value.split(b":")[1]) for _, value in records]
        out_of_order += [(part, a, b) for a, b in zip(seqs, seqs[1:]) if b <= a]
    result = Audit(sum(len(a) for a in producer.acked.values()), read, lost, duplicated, moved, out_of_order,
                   len(producer.failed))
    print(f"acknowledged={result.acknowledged} read={result.read} lost={len(lost)} "
          f"duplicated={len(duplicated)} moved={len(moved)} out-of-order={len(out_of_order)} "
          f"failed-deliveries={result.failed}")
    return result


def assert_clean(result):
    problems = []
    if result.lost:
        problems.append(f"{len(result.lost)} acknowledged records lost, e.g. (partition, offset, value) "
                        f"{sorted(result.lost)[:5]}")
    if result.duplicated:
        problems.append(f"{len(result.duplicated)} records written more than once, e.g. {result.duplicated[:5]}")
    if result.moved:
        problems.append(f"{len(result.moved)} acknowledged records at another offset than acknowledged, e.g. "
                        f"(partition, value, acked offset, log offset) {result.moved[:5]}")
    if result.out_of_order:
        problems.append(f"{len(result.out_of_order)} records out of produce order, e.g. "
                        f"(partition, seq, next seq) {result.out_of_order[:5]}")
    assert not problems, "; ".join(problems)



def error_name(code):
    """KafkaError's name for an error code, for failure messages."""
    for name in dir(KafkaError):
        if name.lstrip("_").isupper() and getattr(KafkaError, name) == code:
            return name
    return str(code)


# --- small produce helpers ---------------------------------------------------------------------------------

def deliver(producer, topic, values, partition=0, timeout=30):
    """Produces `values` to one partition and returns each delivery as (error or None, offset)."""
    results = [None] * len(values)

    def on_delivery(i):
        return lambda err, msg: results.__setitem__(i, (err, msg.offset() if err is None else None))

    for i, value in enumerate(values):
        producer.produce(topic, value=value, partition=partition, on_delivery=on_delivery(i))
    remaining = producer.flush(timeout)
    assert remaining == 0, f"{remaining} of {len(values)} records neither delivered nor failed within {timeout}s"
    return results


def produce_acked(bootstrap, topic, values, partition=0, timeout=90, **conf):
    """Produces with acks=all (idempotent) to one partition until every record is acknowledged or
    `timeout` passes; requires every one acknowledged and returns their offsets."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "compression.type": "none",
                  "message.timeout.ms": int(timeout * 1000), **conf})
    results = deliver(p, topic, values, partition=partition, timeout=timeout + 10)
    failed = [(v, err) for v, (err, _) in zip(values, results) if err is not None]
    assert not failed, f"records not acknowledged within {timeout}s: {failed[:3]}"
    return [offset for _, offset in results]
