"""Shared helpers for the compat tests: names, waits, topic admin, reading
everything back, and Java's murmur2 partitioner as the oracle."""

import threading
import time
import uuid
from collections import namedtuple

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

Record = namedtuple("Record", "partition offset key value headers timestamp")


def unique_topic(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls `predicate` until it returns a truthy value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # Retried: the condition may not hold yet.
            last_error = e
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}"
                + (f" (last error: {last_error!r})" if last_error else ""))
        time.sleep(interval)


def create_topic(bootstrap, name, partitions=1, config=None, timeout=30):
    """Creates a topic with confluent-kafka's AdminClient and waits until its
    metadata shows every partition with a leader."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=timeout, request_timeout=timeout)
    futures[name].result(timeout=timeout)

    def ready():
        md = admin.list_topics(topic=name, timeout=5)
        t = md.topics.get(name)
        return (t is not None and t.error is None and len(t.partitions) == partitions
                and all(p.leader >= 0 and p.error is None for p in t.partitions.values()))

    wait_until(ready, timeout, f"metadata of topic {name} with {partitions} leader-owned partitions")
    return admin


def consumer_config(bootstrap, **extra):
    """A confluent-kafka consumer for assign()-based reads. Sluice has no group
    coordinator yet; librdkafka insists on a group.id but we never subscribe
    or commit."""
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": "sluice-compat-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "error",
    }
    conf.update(extra)
    return conf


def read_all(bootstrap, topic, partitions, timeout=120, start=OFFSET_BEGINNING, conf=None):
    """Reads every partition of `topic` from `start` to its end (until librdkafka
    reports partition EOF for each) and returns the records per partition.
    `conf` adds consumer settings, e.g. {"isolation.level": "read_uncommitted"}."""
    c = Consumer(consumer_config(bootstrap, **(conf or {})))
    try:
        c.assign([TopicPartition(topic, p, start) for p in range(partitions)])
        out = {p: [] for p in range(partitions)}
        at_eof = set()
        deadline = time.monotonic() + timeout
        while len(at_eof) < partitions:
            if time.monotonic() > deadline:
                counts = {p: len(v) for p, v in out.items()}
                raise AssertionError(
                    f"timed out after {timeout}s reading {topic}: partitions at end "
                    f"{sorted(at_eof)}, records read per partition {counts}")
            batch = c.consume(num_messages=10000, timeout=0.5)
            for m in batch:
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        at_eof.add(m.partition())
                        continue
                    raise KafkaException(err)
                at_eof.discard(m.partition())
                out[m.partition()].append(Record(
                    m.partition(), m.offset(), m.key(), m.value(),
                    tuple(m.headers() or ()), m.timestamp()[1]))
        return out
    finally:
        c.close()


# --- Java's partitioner (org.apache.kafka.common.utils.Utils.murmur2) --------

def produce_values(bootstrap, topic, values, partitions=None, timeout=60, **conf):
    """Produces `values` (bytes), round-robin over `partitions` when given,
    without idempotence; waits for every delivery and returns the reports as
    (partition, offset, value)."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": False, "acks": "all",
                  "linger.ms": 5, **conf})
    delivered, errors = [], []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered.append((msg.partition(), msg.offset(), msg.value()))

    for i, v in enumerate(values):
        kwargs = {} if partitions is None else {"partition": i % partitions}
        p.produce(topic, value=v, on_delivery=on_delivery, **kwargs)
        p.poll(0)
    assert p.flush(timeout) == 0, f"producer did not deliver everything within {timeout}s"
    assert not errors, f"delivery errors: {errors[:5]}"
    return delivered


def committed_offsets(bootstrap, group, topic, partitions, timeout=30):
    """The group's committed offset per partition (-1001, librdkafka's
    OFFSET_INVALID, where it has committed nothing), read with OffsetFetch by a
    consumer that does not join the group."""
    c = Consumer(consumer_config(bootstrap, **{"group.id": group}))
    try:
        res = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=timeout)
        for tp in res:
            assert tp.error is None, f"OffsetFetch {topic}-{tp.partition}: {tp.error}"
        return {tp.partition: tp.offset for tp in res}
    finally:
        c.close()


def high_watermarks(bootstrap, topic, partitions, timeout=30):
    c = Consumer(consumer_config(bootstrap))
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
                for p in range(partitions)}
    finally:
        c.close()


class GroupMember:
    """A confluent-kafka consumer subscribed in a group, run in its own thread
    (the client is used only from that thread). Each record it reads is kept in
    `seen` before its offset is committed synchronously, so a record whose
    offset is committed has been processed (at-least-once). The current
    assignment and every rebalance callback are published for the test."""

    def __init__(self, bootstrap, group, topic, name, conf=None):
        self.name = name
        self.topic = topic
        self.conf = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": name,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            **(conf or {}),
        }
        self.lock = threading.Lock()
        self.seen = []              # (partition, offset, value)
        self.events = []            # ("assign" | "revoke" | "lost", sorted partitions)
        self.assignment = frozenset()
        self.commit_errors = []
        self.error = None
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._started = time.monotonic()
        self.thread = threading.Thread(target=self._run, name=f"member-{name}", daemon=True)
        self.thread.start()

    def _on(self, kind):
        def cb(consumer, partitions):
            with self.lock:
                self.events.append((kind, sorted(p.partition for p in partitions)))
        return cb

    def _run(self):
        try:
            c = Consumer(self.conf)
            c.subscribe([self.topic], on_assign=self._on("assign"), on_revoke=self._on("revoke"),
                        on_lost=self._on("lost"))
            try:
                while not self._stop.is_set():
                    msgs = c.consume(num_messages=500, timeout=0.1)
                    latest = {}
                    with self.lock:
                        for m in msgs:
                            if m.error() is not None:
                                if m.error().code() == KafkaError._PARTITION_EOF:
                                    continue
                                raise KafkaException(m.error())
                            self.seen.append((m.partition(), m.offset(), m.value()))
                            latest[m.partition()] = m.offset()
                    if latest:
                        try:
                            c.commit(offsets=[TopicPartition(self.topic, p, o + 1)
                                              for p, o in latest.items()], asynchronous=False)
                        except KafkaException as e:
                            # A commit lost to a rebalance means re-delivery, never loss.
                            self.commit_errors.append(e.args[0])
                    assignment = frozenset(tp.partition for tp in c.assignment())
                    with self.lock:
                        self.assignment = assignment
            finally:
                c.close()
        except Exception as e:  # Reported to the test through `error`.
            self.error = e
        finally:
            with self.lock:
                self.assignment = frozenset()
            self._closed.set()

    def values(self):
        with self.lock:
            return [v for _, _, v in self.seen]

    def owned(self):
        with self.lock:
            return self.assignment

    def check(self):
        if self.error is not None:
            raise AssertionError(f"member {self.name} failed: {self.error!r}") from self.error

    def close(self, timeout=30):
        """Closes the consumer (commits nothing more; leaves the group) and waits."""
        self._stop.set()
        assert self._closed.wait(timeout), f"member {self.name} did not close within {timeout}s"
        self.thread.join(timeout)
        self.check()


def wait_for_assignment(members, partitions, timeout, what="the group to settle"):
    """Waits until `members` together own every one of `partitions` partitions,
    each exactly once and each member the same share (+-1). Returns the
    assignment per member name."""
    def settled():
        for m in members:
            m.check()
        owned = {m.name: m.owned() for m in members}
        flat = [p for ps in owned.values() for p in ps]
        sizes = [len(ps) for ps in owned.values()]
        if sorted(flat) == list(range(partitions)) and max(sizes) - min(sizes) <= 1:
            return owned
        return None

    try:
        return wait_until(settled, timeout, what)
    except AssertionError as e:
        raise AssertionError(f"{e}; assignments now: "
                             f"{ {m.name: sorted(m.owned()) for m in members} }") from None


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash as an unsigned 32-bit integer."""
    m = 0x5BD1E995
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length - length % 4
    rest = length % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def java_partition(key: bytes, partitions: int) -> int:
    """What Java's DefaultPartitioner picks for a non-null key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


# Vectors from Apache Kafka's UtilsTest.testMurmur2 (signed Java ints).
MURMUR2_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def to_signed32(x):
    return x - (1 << 32) if x & 0x80000000 else x
