"""A consume-transform-produce worker for test_transactions.py, run as its own
process so the test can kill -9 it: reads `input` in group `group`
(read_committed), writes `out:<value>` to `output`, and commits each batch's
outputs and input offsets in one transaction (send_offsets_to_transaction).

Prints `committed <total>` after each transaction. With `--hold-after N`, once
N inputs are committed it produces one more batch inside a transaction, flushes
it to the broker, prints `holding` and waits to be killed with the transaction
open."""

import argparse
import sys
import threading

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("group")
    ap.add_argument("transactional_id")
    ap.add_argument("--hold-after", type=int, default=None)
    args = ap.parse_args()

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "partition.assignment.strategy": "range",
    })
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "transactional.id": args.transactional_id,
        "transaction.timeout.ms": 60000,
        "linger.ms": 5,
    })
    producer.init_transactions(30)
    consumer.subscribe([args.input])
    committed = 0
    while True:
        msgs = consumer.consume(num_messages=100, timeout=0.5)
        records = []
        for m in msgs:
            if m.error() is not None:
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(m.error())
            records.append(m)
        if not records:
            continue
        producer.begin_transaction()
        for m in records:
            producer.produce(args.output, key=m.key(), value=b"out:" + m.value(), partition=m.partition())
        positions = {}
        for m in records:
            positions[m.partition()] = m.offset() + 1
        offsets = [TopicPartition(args.input, p, o) for p, o in positions.items()]
        if args.hold_after is not None and committed >= args.hold_after:
            producer.flush(30)
            print("holding", flush=True)
            threading.Event().wait()  # Killed here, transaction open.
        producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 30)
        producer.commit_transaction(30)
        committed += len(records)
        print(f"committed {committed}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
