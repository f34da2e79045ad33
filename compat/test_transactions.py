"""Transactional producers (confluent-kafka) against Sluice: read_committed
sees committed records only, read_uncommitted sees aborted ones too; a
consume-transform-produce worker killed with an open transaction and restarted
writes each output exactly once; a second producer with the same
transactional.id fences the first."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer

from conftest import _die_with_parent
from helpers import create_topic, produce_values, read_all, unique_topic, wait_until

HERE = Path(__file__).resolve().parent
COMMITTED = {"isolation.level": "read_committed"}
UNCOMMITTED = {"isolation.level": "read_uncommitted"}


def txn_producer(bootstrap, txn_id, **extra):
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                  "transaction.timeout.ms": 60000, "linger.ms": 5, **extra})
    p.init_transactions(30)
    return p


def values(records_by_partition):
    return [r.value for part in sorted(records_by_partition) for r in records_by_partition[part]]


def test_read_committed_sees_committed_records_only(group_broker):
    bootstrap = group_broker.bootstrap
    topic = unique_topic("txn-vis")
    create_topic(bootstrap, topic, 2)
    p = txn_producer(bootstrap, unique_topic("tid"))

    def txn(prefix, n, commit):
        p.begin_transaction()
        for i in range(n):
            p.produce(topic, value=f"{prefix}-{i}".encode(), partition=i % 2)
        if commit:
            p.commit_transaction(30)
        else:
            p.flush(30)  # The records are in the log before the abort.
            p.abort_transaction(30)

    txn("c1", 20, commit=True)
    txn("a1", 20, commit=False)
    txn("c2", 20, commit=True)
    committed = {f"{pre}-{i}".encode() for pre in ("c1", "c2") for i in range(20)}
    aborted = {f"a1-{i}".encode() for i in range(20)}

    got = values(read_all(bootstrap, topic, 2, timeout=60, conf=COMMITTED))
    assert sorted(got) == sorted(committed), (
        f"read_committed saw {len(got)} records; aborted among them: {sorted(set(got) & aborted)[:5]}")
    got = values(read_all(bootstrap, topic, 2, timeout=60, conf=UNCOMMITTED))
    assert sorted(got) == sorted(committed | aborted), f"read_uncommitted saw {len(got)} records"

    # An open transaction's records are withheld from read_committed (the last stable
    # offset stops before them) until it commits.
    p.begin_transaction()
    for i in range(10):
        p.produce(topic, value=f"open-{i}".encode(), partition=i % 2)
    p.flush(30)
    got = values(read_all(bootstrap, topic, 2, timeout=60, conf=COMMITTED))
    assert not [v for v in got if v.startswith(b"open-")], "read_committed saw an open transaction's records"
    got = values(read_all(bootstrap, topic, 2, timeout=60, conf=UNCOMMITTED))
    assert len([v for v in got if v.startswith(b"open-")]) == 10
    p.commit_transaction(30)
    got = values(read_all(bootstrap, topic, 2, timeout=60, conf=COMMITTED))
    assert len([v for v in got if v.startswith(b"open-")]) == 10


class Worker:
    """txn_worker.py in its own process; its stdout lines are collected by a thread."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "txn_worker.py"), *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
        self.lines = []
        self.stderr = []
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True).start()

    @staticmethod
    def _read(stream, sink):
        for line in stream:
            sink.append(line.rstrip("\n"))

    def committed(self):
        nums = [int(line.split()[1]) for line in list(self.lines) if line.startswith("committed ")]
        return nums[-1] if nums else 0

    def alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}; stderr:\n"
                                 + "\n".join(self.stderr[-30:]))
        return True

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def test_consume_transform_produce_is_exactly_once_across_a_kill(group_broker):
    bootstrap = group_broker.bootstrap
    src, dst = unique_topic("ctp-in"), unique_topic("ctp-out")
    group, txn_id = unique_topic("ctp-g"), unique_topic("ctp-tid")
    create_topic(bootstrap, src, 3)
    create_topic(bootstrap, dst, 3)
    n = 3000
    inputs = [f"in-{i}".encode() for i in range(n)]
    produce_values(bootstrap, src, inputs, partitions=3)

    first = Worker(bootstrap, src, dst, group, txn_id, "--hold-after", n // 3)
    try:
        wait_until(lambda: first.alive() and "holding" in first.lines, 90,
                   "the first worker to commit a third of the input and hold a transaction open")
        first.kill9()
        # The open transaction's outputs are in the log, but read_committed must not show them.
        uncommitted = values(read_all(bootstrap, dst, 3, timeout=60, conf=UNCOMMITTED))
        assert len(uncommitted) > first.committed(), "the held transaction wrote nothing"
    finally:
        first.stop()

    second = Worker(bootstrap, src, dst, group, txn_id)
    try:
        def all_out():
            second.alive()
            return len(values(read_all(bootstrap, dst, 3, timeout=60, conf=COMMITTED))) >= n
        wait_until(all_out, 120, f"{n} committed outputs after the restart", interval=0.5)
    finally:
        second.stop()

    out = values(read_all(bootstrap, dst, 3, timeout=60, conf=COMMITTED))
    expected = [b"out:" + v for v in inputs]
    dupes = len(out) - len(set(out))
    assert sorted(out) == sorted(expected), (
        f"{len(out)} committed outputs for {n} inputs: {dupes} duplicates, "
        f"{len(set(expected) - set(out))} missing")


def test_second_producer_with_same_transactional_id_fences_the_first(group_broker):
    bootstrap = group_broker.bootstrap
    topic = unique_topic("fence")
    create_topic(bootstrap, topic, 1)
    txn_id = unique_topic("tid-fence")

    old = txn_producer(bootstrap, txn_id)
    old.begin_transaction()
    old.produce(topic, value=b"zombie")
    old.flush(30)

    new = txn_producer(bootstrap, txn_id)  # Bumps the epoch and aborts the old open transaction.

    with pytest.raises(KafkaException) as info:
        old.produce(topic, value=b"zombie-2")
        old.commit_transaction(30)
    err = info.value.args[0]
    assert err.fatal(), f"expected a fatal fencing error, got {err}"
    assert err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH), err

    new.begin_transaction()
    new.produce(topic, value=b"live")
    new.commit_transaction(30)
    got = values(read_all(bootstrap, topic, 1, timeout=60, conf=COMMITTED))
    assert got == [b"live"], f"read_committed saw {got}"
