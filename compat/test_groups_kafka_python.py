"""kafka-python consumer groups against Sluice: subscribe, commit offsets with
metadata (OffsetAndMetadata) and fetch them back, and a new consumer in the
group resuming from the commit."""

import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from helpers import create_topic, unique_topic

PARTITIONS = 3
RECORDS = 90


def consumer(bootstrap, group, **extra):
    return KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=500,
        request_timeout_ms=30000, **extra)


def poll_values(c, want, timeout=60):
    """Polls until `want` records arrived; returns {TopicPartition: [(offset, value)]}."""
    got, n = {}, 0
    deadline = time.monotonic() + timeout
    while n < want:
        assert time.monotonic() < deadline, f"only {n} of {want} records within {timeout}s"
        for tp, records in c.poll(timeout_ms=200).items():
            got.setdefault(tp, []).extend((r.offset, r.value) for r in records)
            n += len(records)
    return got


def test_subscribe_commit_with_metadata_and_resume(group_broker):
    topic = unique_topic("kp-grp")
    group = unique_topic("kp-g")
    create_topic(group_broker.bootstrap, topic, PARTITIONS)
    producer = KafkaProducer(bootstrap_servers=group_broker.bootstrap, enable_idempotence=False, acks="all")
    for i in range(RECORDS):
        producer.send(topic, value=f"v{i}".encode(), partition=i % PARTITIONS)
    producer.flush(30)
    producer.close()

    c = consumer(group_broker.bootstrap, group)
    try:
        c.subscribe([topic])
        got = poll_values(c, RECORDS)
        assert set(got) == {TopicPartition(topic, p) for p in range(PARTITIONS)}
        assert c.assignment() == set(got)
        # Commit part-way through each partition, with metadata.
        commits = {tp: OffsetAndMetadata(10 + tp.partition, f"checkpoint-{tp.partition}", -1) for tp in got}
        c.commit(commits)
        for tp, om in commits.items():
            fetched = c.committed(tp, metadata=True)
            assert fetched is not None, f"no committed offset for {tp}"
            assert (fetched.offset, fetched.metadata) == (om.offset, om.metadata), fetched
            assert c.committed(tp) == om.offset
    finally:
        c.close(autocommit=False)

    # A fresh consumer in the same group starts from the commits, not from the beginning.
    c2 = consumer(group_broker.bootstrap, group)
    try:
        c2.subscribe([topic])
        per_partition = RECORDS // PARTITIONS
        expected = sum(per_partition - (10 + p) for p in range(PARTITIONS))
        got = poll_values(c2, expected)
        for tp, records in got.items():
            assert records[0][0] == 10 + tp.partition, f"{tp} resumed at {records[0][0]}"
        assert c2.committed(TopicPartition(topic, 0), metadata=True).metadata == "checkpoint-0"
        c2.commit()  # Plain commit of the positions: now every record is consumed.
        for p in range(PARTITIONS):
            assert c2.committed(TopicPartition(topic, p)) == per_partition
    finally:
        c2.close(autocommit=False)
