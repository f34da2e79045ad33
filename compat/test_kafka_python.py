"""kafka-python (a pure-Python client with its own protocol code) against
Sluice: admin, Java-compatible keyed partitioning, assign-based reads (exact
offset, by time, from beginning), and topic configs."""

import struct
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from helpers import java_partition, read_all, unique_topic

PARTITIONS = 6
KEYS = [f"order-{i}".encode() for i in range(40)]
PER_KEY = 5
RETENTION_MS = "987654321"


def consumer(bootstrap):
    # No group_id: kafka-python then needs no coordinator (Sluice has none yet).
    return KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", request_timeout_ms=30000)


def poll_records(c, want, timeout):
    """Polls until `want` records arrived (in order of arrival); bounded."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < want:
        if time.monotonic() > deadline:
            raise AssertionError(f"got {len(out)} of {want} records within {timeout}s")
        for records in c.poll(timeout_ms=500).values():
            out.extend(records)
    return out


@pytest.fixture
def keyed_topic(broker):
    """A 6-partition topic created with retention.ms, holding keyed records
    with explicit timestamps. Returns (topic, admin, metadata of each send)."""
    topic = unique_topic("kp")
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=30000)
    admin.create_topics({topic: {"num_partitions": PARTITIONS, "replication_factor": 1,
                                 "configs": {"retention.ms": RETENTION_MS}}},
                        timeout_ms=30000, wait_for_metadata=True)

    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5,
                             # Idempotence needs InitProducerId, which Sluice lacks yet.
                             enable_idempotence=False)
    base_ts = int(time.time() * 1000) - 3_600_000
    sent = []
    n = 0
    for round_ in range(PER_KEY):
        for key in KEYS:
            value = f"{key.decode()}#{round_}".encode()
            fut = producer.send(topic, key=key, value=value, timestamp_ms=base_ts + n * 1000,
                                headers=[("round", str(round_).encode())])
            sent.append((key, value, base_ts + n * 1000, fut))
            n += 1
    producer.flush(timeout=30)
    delivered = []
    for key, value, ts, fut in sent:
        md = fut.get(timeout=30)
        delivered.append((key, value, md.partition, md.offset, ts))
    producer.close(timeout=10)
    yield topic, admin, delivered
    admin.close()


def in_partition(delivered, part):
    return sorted((d for d in delivered if d[2] == part), key=lambda d: d[3])


def test_keyed_records_land_where_java_puts_them(keyed_topic):
    _, _, delivered = keyed_topic
    for key in KEYS:
        parts = {d[2] for d in delivered if d[0] == key}
        assert parts == {java_partition(key, PARTITIONS)}, (
            f"key {key!r} went to {parts}, Java's murmur2 partitioner says "
            f"{java_partition(key, PARTITIONS)}")
    for part in range(PARTITIONS):
        offs = [d[3] for d in in_partition(delivered, part)]
        assert offs == list(range(len(offs))), f"partition {part}: acked offsets {offs}"


def test_read_from_beginning(broker, keyed_topic):
    topic, _, delivered = keyed_topic
    c = consumer(broker.bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        got = poll_records(c, len(delivered), 60)
        assert len(got) == len(delivered), "more records than were produced"
        for part in range(PARTITIONS):
            have = [r for r in got if r.partition == part]
            want = in_partition(delivered, part)
            assert [(r.offset, r.key, r.value, r.timestamp) for r in have] == \
                   [(d[3], d[0], d[1], d[4]) for d in want], f"partition {part} differs"
            for r in have:
                assert [(h[0], h[1]) for h in r.headers] == [("round", r.value.split(b"#")[1])]
        end = c.end_offsets(tps)
        assert {tp.partition: off for tp, off in end.items()} == \
               {p: len(in_partition(delivered, p)) for p in range(PARTITIONS)}
    finally:
        c.close()


def test_assign_and_seek_to_exact_offset(broker, keyed_topic):
    topic, _, delivered = keyed_topic
    part = java_partition(KEYS[0], PARTITIONS)
    want = in_partition(delivered, part)
    tp = TopicPartition(topic, part)
    c = consumer(broker.bootstrap)
    try:
        c.assign([tp])
        c.seek(tp, want[3][3])
        r = poll_records(c, 1, 30)[0]
        assert (r.offset, r.key, r.value) == (want[3][3], want[3][0], want[3][1])
        c.seek(tp, want[1][3])
        rs = poll_records(c, 2, 30)
        assert [r.offset for r in rs[:2]] == [want[1][3], want[2][3]]
    finally:
        c.close()


def test_offsets_for_times(broker, keyed_topic):
    topic, _, delivered = keyed_topic
    part = java_partition(KEYS[0], PARTITIONS)
    want = in_partition(delivered, part)
    probe = want[len(want) // 2]
    tp = TopicPartition(topic, part)
    c = consumer(broker.bootstrap)
    try:
        res = c.offsets_for_times({tp: probe[4] - 1}, timeout_ms=30000)
        assert res[tp] is not None, "offsets_for_times found nothing"
        assert (res[tp].offset, res[tp].timestamp) == (probe[3], probe[4])
        after = c.offsets_for_times({tp: want[-1][4] + 1}, timeout_ms=30000)
        assert after[tp] is None, f"a timestamp after the last record gave {after[tp]}"
        c.assign([tp])
        c.seek(tp, res[tp].offset)
        r = poll_records(c, 1, 30)[0]
        assert (r.offset, r.value, r.timestamp) == (probe[3], probe[1], probe[4])
    finally:
        c.close()


def test_topic_config_reads_back_as_topic_level(keyed_topic):
    topic, admin, _ = keyed_topic
    res = ConfigResource(ConfigResourceType.TOPIC, topic)
    configs = admin.describe_configs([res], config_filter="all")["topic"][topic]
    assert "retention.ms" in configs, f"describe_configs lacks retention.ms: {sorted(configs)}"
    entry = configs["retention.ms"]
    assert entry["value"] == RETENTION_MS, entry
    assert entry["config_source"] == "DYNAMIC_TOPIC_CONFIG", entry
    # The default filter keeps only non-default settings.
    modified = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    assert modified["topic"][topic]["retention.ms"]["value"] == RETENTION_MS, modified


CODEC_IDS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_round_trip(broker, codec):
    """kafka-python compresses every codec (librdkafka gates some on broker
    features), so this is where the broker sees real lz4 batches."""
    topic = unique_topic(f"kp-{codec}")
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=30000)
    admin.create_topics({topic: {"num_partitions": 2, "replication_factor": 1}},
                        timeout_ms=30000, wait_for_metadata=True)
    admin.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=20,
                             compression_type=codec, enable_idempotence=False)
    records = [(f"k{i % 13}".encode(), f"{codec} value {i} ".encode() * (1 + i % 5))
               for i in range(5000)]
    futures = [producer.send(topic, key=k, value=v, headers=[("i", str(i).encode())])
               for i, (k, v) in enumerate(records)]
    producer.flush(timeout=30)
    meta = [f.get(timeout=30) for f in futures]
    producer.close(timeout=10)

    codecs = set()
    for seg in sorted(broker.data_dir.glob(f"{topic}-*/*.log")):
        data, pos = seg.read_bytes(), 0
        while pos + 23 <= len(data):
            length, = struct.unpack_from(">i", data, pos + 8)
            attributes, = struct.unpack_from(">h", data, pos + 21)
            codecs.add(attributes & 7)
            pos += 12 + length
    assert codecs == {CODEC_IDS[codec]}, f"batches on disk have codec ids {codecs}"

    c = consumer(broker.bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in range(2)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        got = poll_records(c, len(records), 60)
    finally:
        c.close()
    by_index = {int(dict(r.headers)["i"]): r for r in got}
    assert len(got) == len(records) == len(by_index)
    for i, (k, v) in enumerate(records):
        r = by_index[i]
        assert (r.key, r.value, r.partition, r.offset) == (k, v, meta[i].partition, meta[i].offset)

    # librdkafka must decompress what kafka-python compressed.
    got_ck = read_all(broker.bootstrap, topic, 2)
    assert sorted((r.key, r.value) for rs in got_ck.values() for r in rs) == sorted(records)
