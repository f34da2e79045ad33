"""Shared helpers for the compat tests: names, waits, topic admin, reading
everything back, and Java's murmur2 partitioner as the oracle."""

import time
import uuid
from collections import namedtuple

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
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


def read_all(bootstrap, topic, partitions, timeout=120, start=OFFSET_BEGINNING):
    """Reads every partition of `topic` from `start` to its end (until librdkafka
    reports partition EOF for each) and returns the records per partition."""
    c = Consumer(consumer_config(bootstrap))
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
