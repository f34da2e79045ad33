"""Idempotent producer (confluent-kafka, enable.idempotence=true) against Sluice
through a proxy that cuts the connections mid-stream: every record must be
written exactly once and in order per partition, although the client retries
requests whose responses were lost."""

from confluent_kafka import Producer

from conftest import GROUP_ENV
from helpers import create_topic, read_all, unique_topic
from proxy import CuttingProxy

PARTITIONS = 3
ROUNDS = 8
PER_ROUND = 3000
PAD = b"x" * 200  # Large enough records that a round spans many produce requests.


def test_idempotent_producer_survives_cut_connections(broker_factory):
    holder = {}
    proxy = CuttingProxy(lambda: (holder["broker"].host, holder["broker"].port))
    try:
        broker = broker_factory(env=GROUP_ENV, args=["--advertised-listener", proxy.address])
        holder["broker"] = broker
        topic = unique_topic("idem")
        create_topic(proxy.address, topic, PARTITIONS)

        p = Producer({
            "bootstrap.servers": proxy.address,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "batch.size": 16384,
            "max.in.flight.requests.per.connection": 5,
            "reconnect.backoff.ms": 10,
            "reconnect.backoff.max.ms": 200,
            "message.timeout.ms": 120000,
        })
        errors = []
        acked = {part: [] for part in range(PARTITIONS)}

        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)
            else:
                acked[msg.partition()].append((msg.offset(), msg.value()))

        seq = {part: 0 for part in range(PARTITIONS)}
        sent = {part: [] for part in range(PARTITIONS)}
        for round_ in range(ROUNDS):
            for i in range(PER_ROUND):
                part = i % PARTITIONS
                value = b"%d:%d:" % (part, seq[part]) + PAD
                seq[part] += 1
                sent[part].append(value)
                while True:
                    try:
                        p.produce(topic, value=value, partition=part, on_delivery=on_delivery)
                        break
                    except BufferError:
                        p.poll(0.05)
                p.poll(0)
            # The round's records are in flight now: cut them off, alternating between dropping the
            # response of one produce request and closing every connection at once.
            if round_ % 2 == 0:
                proxy.cut_after_next_request(4096)
            else:
                proxy.cut_all()
            assert p.flush(120) == 0, f"round {round_}: not everything delivered within 120s"
            proxy.cut_after_next_request(0)  # Disarm if no request was big enough.

        assert not errors, f"delivery errors: {errors[:5]}"
        assert proxy.cuts >= ROUNDS // 2, f"the proxy cut only {proxy.cuts} connections"
        assert proxy.connections > 1, "the client never reconnected through the proxy"

        got = read_all(proxy.address, topic, PARTITIONS, timeout=120)
        for part in range(PARTITIONS):
            values = [r.value for r in got[part]]
            if values != sent[part]:
                dupes = len(values) - len(set(values))
                first_bad = next((i for i, (a, b) in enumerate(zip(values, sent[part])) if a != b),
                                 min(len(values), len(sent[part])))
                raise AssertionError(
                    f"partition {part}: {len(values)} records in the log, {len(sent[part])} sent, "
                    f"{dupes} duplicates; first difference at index {first_bad}: "
                    f"log {values[first_bad:first_bad + 2]!r} vs sent {sent[part][first_bad:first_bad + 2]!r}")
            offsets = [r.offset for r in got[part]]
            assert offsets == list(range(len(offsets))), f"partition {part}: offsets not dense"
            assert sorted(acked[part]) == [(r.offset, r.value) for r in got[part]], (
                f"partition {part}: acknowledged offsets differ from the log")
    finally:
        proxy.close()
