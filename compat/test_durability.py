"""Durability: clean restarts keep every record, `kill -9` under load keeps
every acknowledged record, and a torn or corrupt segment tail is truncated at
the last valid batch on start."""

import random
import struct
import threading
import time
import zlib

import pytest
from confluent_kafka import Producer

from helpers import create_topic, read_all, unique_topic, wait_until

BATCH_HEADER_LEN = 61
LOG_OVERHEAD = 12  # baseOffset i64 + batchLength i32: bytes before batchLength counts
RECORDS_COUNT_AT = 57  # the last i32 of the batch header


def producer(bootstrap, acks, **extra):
    conf = {
        "bootstrap.servers": bootstrap,
        "acks": acks,
        "enable.idempotence": False,
        "linger.ms": 2,
        # Fail undelivered records quickly once the broker is gone.
        "message.timeout.ms": 8000,
        "reconnect.backoff.max.ms": 500,
    }
    conf.update(extra)
    return Producer(conf)


def produce_and_ack(bootstrap, topic, records, acks="all", batches=1):
    """Produces (key, value) records in `batches` flushes and requires every
    one to be acknowledged. The long linger makes each flush one batch per
    partition (flush sends at once, whatever the linger)."""
    p = producer(bootstrap, acks, **{"linger.ms": 1000})
    errors = []
    per = -(-len(records) // batches)
    for i in range(0, len(records), per):
        for k, v in records[i:i + per]:
            p.produce(topic, key=k, value=v,
                      on_delivery=lambda err, msg: err is not None and errors.append(err))
        assert p.flush(30) == 0, "records not delivered within 30s"
    assert not errors, f"delivery errors: {errors[:5]}"


def flat(read):
    return [(r.key, r.value) for part in sorted(read) for r in read[part]]


def test_restart_keeps_every_record(broker):
    topic = unique_topic("restart")
    create_topic(broker.bootstrap, topic, partitions=3)
    records = [(f"k{i % 50}".encode(), f"value-{i}".encode() * (1 + i % 7)) for i in range(20_000)]
    produce_and_ack(broker.bootstrap, topic, records, batches=4)
    before = read_all(broker.bootstrap, topic, 3)
    assert sorted(flat(before)) == sorted(records)

    broker.restart()  # SIGTERM, clean exit required, then start on the same data dir
    after = read_all(broker.bootstrap, topic, 3)
    assert after == before, "records changed across a clean restart"

    # The log continues where it ended: new records get the next offsets.
    produce_and_ack(broker.bootstrap, topic, [(b"k0", b"after-restart")])
    again = read_all(broker.bootstrap, topic, 3)
    part = next(p for p, rs in again.items() if rs and rs[-1].value == b"after-restart")
    assert again[part][-1].offset == len(before[part])


@pytest.mark.parametrize("acks", ["1", "all"])
def test_kill9_under_load_keeps_acknowledged_records(broker, acks):
    partitions = 3
    topic = unique_topic(f"kill9-acks{acks}")
    create_topic(broker.bootstrap, topic, partitions=partitions)

    acked = []
    failed = []
    stop = threading.Event()
    produced = [0]
    thread_error = []

    def on_delivery(err, msg):
        if err is None:
            acked.append((msg.key(), msg.value()))
        else:
            failed.append(err)

    def load():
        try:
            p = producer(broker.bootstrap, acks, **{"batch.num.messages": 500})
            i = 0
            while not stop.is_set():
                try:
                    p.produce(topic, key=f"k{i % 97}".encode(), value=f"v{i}-{'x' * (i % 50)}".encode(),
                              on_delivery=on_delivery)
                    i += 1
                except BufferError:
                    p.poll(0.05)
                p.poll(0)
            produced[0] = i
            # Undelivered records fail after message.timeout.ms; bounded either way.
            p.flush(30)
            produced.append(len(p))  # still queued after flush: should be 0
        except Exception as e:  # Surfaced by the main thread.
            thread_error.append(e)

    t = threading.Thread(target=load, name="produce-load", daemon=True)
    t.start()
    wait_until(lambda: len(acked) >= 20_000 or thread_error, 90,
               "20,000 acknowledged records before the kill")
    assert not thread_error, thread_error
    broker.kill9()
    acked_at_kill = len(acked)
    # Keep the load going until records fail: the producer then provably had traffic in flight when the
    # broker died, however the kill happened to fall between its batches (message.timeout.ms bounds this).
    wait_until(lambda: failed or thread_error, 60, "a delivery failure after the kill")
    stop.set()
    t.join(60)
    assert not t.is_alive(), "producer thread did not finish within 60s of the kill"
    assert not thread_error, thread_error
    assert produced[1] == 0, f"{produced[1]} records still queued after flush"
    assert acked_at_kill >= 20_000

    print(f"acks={acks}: {len(acked)} acknowledged ({acked_at_kill} at the kill), "
          f"{len(failed)} failed, {produced[0]} produced")
    assert failed, "no record failed: the kill did not land mid-load"

    broker.restart()
    got = read_all(broker.bootstrap, topic, partitions, timeout=120)
    present = set(flat(got))
    missing = [kv for kv in acked if kv not in present]
    assert not missing, (
        f"{len(missing)} of {len(acked)} acknowledged records (acks={acks}) are missing after "
        f"kill -9 and restart, e.g. {missing[:3]}")
    # Per partition, offsets stay dense from 0 after recovery.
    for part, rs in got.items():
        assert [r.offset for r in rs] == list(range(len(rs))), f"partition {part}: offset gap"


# --- corrupt tail ------------------------------------------------------------

def batches_in(path):
    """(start, length, record count) of each complete batch in a segment file,
    by walking baseOffset/batchLength headers."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos + LOG_OVERHEAD <= len(data):
        (batch_len,) = struct.unpack_from(">i", data, pos + 8)
        end = pos + LOG_OVERHEAD + batch_len
        if batch_len < BATCH_HEADER_LEN - LOG_OVERHEAD or end > len(data):
            break
        (count,) = struct.unpack_from(">i", data, pos + RECORDS_COUNT_AT)
        out.append((pos, end - pos, count))
        pos = end
    assert pos == len(data), f"{path}: {len(data) - pos} trailing bytes before corrupting it"
    return out


def corrupt(path, how):
    batches = batches_in(path)
    assert len(batches) >= 2, f"need at least two batches in {path}, found {len(batches)}"
    last_start, last_len, _ = batches[-1]
    with open(path, "r+b") as f:
        if how == "garbage":
            f.seek(0, 2)
            f.write(bytes(range(7, 7 + 45)))  # not a batch: lengths and CRC are nonsense
        elif how == "half_batch":
            f.truncate(last_start + last_len // 2)
        elif how == "half_batch_and_garbage":
            f.truncate(last_start + last_len // 2)
            f.seek(0, 2)
            f.write(b"\xff" * 29)
        elif how == "fake_batch":
            # A plausible header (length fits the file, magic 2) over random
            # bytes: only the CRC-32C gives it away.
            body = random.Random(7).randbytes(200)
            f.seek(0, 2)
            f.write(struct.pack(">qiibI", 10_000, 4 + 1 + 4 + len(body), 0, 2, 0x12345678) + body)
        elif how == "bad_crc":
            # Flip a byte in the records area (after the 61-byte header): the
            # length still fits, only the CRC-32C disagrees.
            pos = last_start + BATCH_HEADER_LEN + (last_len - BATCH_HEADER_LEN) // 2
            f.seek(pos)
            b = f.read(1)
            f.seek(pos)
            f.write(bytes([b[0] ^ 0x5A]))
        else:
            raise ValueError(how)
    # Records surviving: appended junk keeps every batch; the others lose the last one.
    kept = batches if how in ("garbage", "fake_batch") else batches[:-1]
    return sum(count for _, _, count in kept)


@pytest.mark.parametrize("how", ["garbage", "fake_batch", "half_batch", "half_batch_and_garbage",
                                 "bad_crc"])
def test_corrupt_segment_tail_is_truncated_on_start(broker, how):
    topic = unique_topic(f"torn-{how.replace('_', '-')}")
    create_topic(broker.bootstrap, topic, partitions=1)
    batches, per_batch = 5, 100
    records = [(f"k{i}".encode(), f"value-{i:05d}-{zlib.crc32(str(i).encode()):08x}".encode())
               for i in range(batches * per_batch)]
    produce_and_ack(broker.bootstrap, topic, records, batches=batches)
    # A crash is what tears a tail; it also rules out any clean-shutdown shortcut.
    broker.kill9()

    part_dir = broker.data_dir / f"{topic}-0"
    segments = sorted(part_dir.glob("*.log"))
    assert segments, f"no segment files in {part_dir}: {sorted(p.name for p in part_dir.iterdir())}"
    active = segments[-1]
    assert len(segments) == 1 and active.name == "00000000000000000000.log", segments
    found = batches_in(active)
    assert sum(c for _, _, c in found) == len(records), f"{active} holds {found}"
    kept = records[:corrupt(active, how)]

    started = time.monotonic()
    broker.restart()
    stderr = broker.stderr_text(current=True)
    lines = [l for l in stderr.splitlines() if "truncat" in l.lower()]
    assert lines, f"no truncation line on stderr after restart; stderr:\n{stderr}"
    names = {str(active), str(active.resolve())}
    assert any(n in l for l in lines for n in names), (
        f"truncation line does not name {active}:\n" + "\n".join(lines))
    assert time.monotonic() - started < 30

    got = read_all(broker.bootstrap, topic, 1)[0]
    assert [(r.key, r.value) for r in got] == kept, (
        f"after truncation expected the {len(kept)} records of the intact batches, read {len(got)}")
    assert [r.offset for r in got] == list(range(len(kept)))

    # The repaired log accepts appends at the next offset.
    produce_and_ack(broker.bootstrap, topic, [(b"new", b"after-repair")])
    got = read_all(broker.bootstrap, topic, 1)[0]
    assert (got[-1].offset, got[-1].value) == (len(kept), b"after-repair")
