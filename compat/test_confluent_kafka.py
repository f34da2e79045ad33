"""confluent-kafka (librdkafka) against Sluice: admin, Java-compatible keyed
partitioning, assign-based reads (exact offset, by time, from beginning), and
topic configs."""

import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic, ResourceType

from helpers import (MURMUR2_VECTORS, consumer_config, java_partition, murmur2, read_all,
                     to_signed32, unique_topic, wait_until)

PARTITIONS = 6
KEYS = [f"user-{i}".encode() for i in range(40)]
PER_KEY = 5
RETENTION_MS = "123456789"


def test_murmur2_oracle_matches_java_vectors():
    for data, expected in MURMUR2_VECTORS.items():
        assert to_signed32(murmur2(data)) == expected, data


def produce_keyed(bootstrap, topic, base_ts):
    """Produces PER_KEY records per key with explicit, increasing timestamps.
    Returns the delivery reports as (key, value, partition, offset, timestamp)."""
    p = Producer({
        "bootstrap.servers": bootstrap,
        # Java's DefaultPartitioner for keyed records; librdkafka's default differs.
        "partitioner": "murmur2_random",
        "enable.idempotence": False,
        "acks": "all",
        "linger.ms": 5,
    })
    delivered, errors = [], []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered.append((msg.key(), msg.value(), msg.partition(), msg.offset(),
                              msg.timestamp()[1]))

    n = 0
    for round_ in range(PER_KEY):
        for key in KEYS:
            p.produce(topic, key=key, value=f"{key.decode()}#{round_}".encode(),
                      timestamp=base_ts + n * 1000, headers=[("round", str(round_).encode())],
                      on_delivery=on_delivery)
            n += 1
    assert p.flush(30) == 0, "producer did not deliver everything within 30s"
    assert not errors, f"delivery errors: {errors[:5]}"
    assert len(delivered) == n
    return delivered


@pytest.fixture
def keyed_topic(broker):
    """A 6-partition topic created with retention.ms, holding keyed records
    with explicit timestamps. Yields (topic, admin, delivery reports)."""
    topic = unique_topic("ck")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fs = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1,
                                       config={"retention.ms": RETENTION_MS})],
                             operation_timeout=30, request_timeout=30)
    fs[topic].result(timeout=30)

    def topic_ready():
        t = admin.list_topics(topic=topic, timeout=5).topics.get(topic)
        return t is not None and t.error is None and len(t.partitions) == PARTITIONS
    wait_until(topic_ready, 30, f"{topic} to show {PARTITIONS} partitions in metadata")

    base_ts = int(time.time() * 1000) - 3_600_000
    delivered = produce_keyed(broker.bootstrap, topic, base_ts)
    return topic, admin, delivered


def in_partition(delivered, part):
    return sorted((d for d in delivered if d[2] == part), key=lambda d: d[3])


def test_keyed_records_land_where_java_puts_them(keyed_topic):
    topic, _, delivered = keyed_topic
    for key in KEYS:
        parts = {d[2] for d in delivered if d[0] == key}
        assert parts == {java_partition(key, PARTITIONS)}, (
            f"key {key!r} went to {parts}, Java's murmur2 partitioner says "
            f"{java_partition(key, PARTITIONS)}")
    # Acked offsets per partition are dense from 0.
    for part in range(PARTITIONS):
        offs = [d[3] for d in in_partition(delivered, part)]
        assert offs == list(range(len(offs))), f"partition {part}: acked offsets {offs}"


def test_read_from_beginning(broker, keyed_topic):
    topic, _, delivered = keyed_topic
    got = read_all(broker.bootstrap, topic, PARTITIONS, timeout=60)
    for part in range(PARTITIONS):
        want = in_partition(delivered, part)
        have = got[part]
        assert [(r.offset, r.key, r.value, r.timestamp) for r in have] == \
               [(d[3], d[0], d[1], d[4]) for d in want], f"partition {part} differs"
        for r in have:
            round_ = r.value.split(b"#")[1]
            assert r.headers == (("round", round_),), r


def test_assign_and_seek_to_exact_offset(broker, keyed_topic):
    topic, _, delivered = keyed_topic
    part = java_partition(KEYS[0], PARTITIONS)
    want = in_partition(delivered, part)
    assert len(want) >= 4
    target = want[3]
    c = Consumer(consumer_config(broker.bootstrap))
    try:
        c.assign([TopicPartition(topic, part, OFFSET_BEGINNING)])
        assert poll_one(c, 30).offset() == 0
        c.seek(TopicPartition(topic, part, target[3]))
        m = poll_one(c, 30)
        assert (m.offset(), m.key(), m.value()) == (target[3], target[0], target[1])
        assert poll_one(c, 30).offset() == target[3] + 1
        # assign() straight at an offset, no seek.
        c.assign([TopicPartition(topic, part, want[2][3])])
        m = poll_one(c, 30)
        assert (m.offset(), m.value()) == (want[2][3], want[2][1])
    finally:
        c.close()


def test_offsets_for_times(broker, keyed_topic):
    topic, _, delivered = keyed_topic
    part = java_partition(KEYS[0], PARTITIONS)
    want = in_partition(delivered, part)
    probe = want[len(want) // 2]
    c = Consumer(consumer_config(broker.bootstrap))
    try:
        # First offset whose timestamp is >= the query; here: between two records.
        res = c.offsets_for_times([TopicPartition(topic, part, probe[4] - 1)], timeout=30)
        assert res[0].error is None, res[0].error
        assert res[0].offset == probe[3], (
            f"offsets_for_times({probe[4] - 1}) gave {res[0].offset}, expected {probe[3]}")
        exact = c.offsets_for_times([TopicPartition(topic, part, probe[4])], timeout=30)
        assert exact[0].offset == probe[3]
        after = c.offsets_for_times([TopicPartition(topic, part, want[-1][4] + 1)], timeout=30)
        assert after[0].offset == -1, (
            f"a timestamp after the last record gave {after[0].offset}, expected -1 (none)")
        c.assign([TopicPartition(topic, part, res[0].offset)])
        m = poll_one(c, 30)
        assert (m.offset(), m.value(), m.timestamp()[1]) == (probe[3], probe[1], probe[4])
    finally:
        c.close()


def test_topic_config_reads_back_as_topic_level(keyed_topic):
    topic, admin, _ = keyed_topic
    res = ConfigResource(ResourceType.TOPIC, topic)
    configs = admin.describe_configs([res], request_timeout=30)[res].result(timeout=30)
    assert "retention.ms" in configs, f"describe_configs lacks retention.ms: {sorted(configs)}"
    entry = configs["retention.ms"]
    assert entry.value == RETENTION_MS
    assert not entry.is_default, entry
    source = getattr(entry.source, "value", entry.source)  # enum or raw int, by version
    assert source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value, (
        f"retention.ms source is {entry.source}, expected DYNAMIC_TOPIC_CONFIG")


def poll_one(consumer, timeout):
    """The next record, skipping partition-EOF events; bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is None:
            continue
        if m.error() is not None:
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise AssertionError(f"consumer error: {m.error()}")
        return m
    raise AssertionError(f"no record within {timeout}s")
