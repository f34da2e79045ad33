"""kcat (librdkafka's command-line client) against Sluice: metadata listing, a
100,000-record round trip per compression codec, and a check that kcat really
compresses (old librdkafka silently falls back to uncompressed batches when it
dislikes the broker's ApiVersions)."""

import json
import random
import shutil
import string
import struct
import subprocess

import pytest

from helpers import create_topic, unique_topic

KCAT = shutil.which("kcat") or "kcat"
RECORDS = 100_000
PARTITIONS = 3
HEADERS = [("h1", "v1"), ("trace", "abc-123")]
# No ':' (the key delimiter) and no newline (the record delimiter).
VALUE_ALPHABET = string.ascii_letters + string.digits + " !\"#$%&'()*+,-./;<=>?@[\\]^_`{|}~"


def kcat(*args, timeout=180, stdin=None):
    cmd = [KCAT, *args]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=stdin)
    assert p.returncode == 0, (
        f"{' '.join(cmd)} exited with {p.returncode}\nstderr:\n{p.stderr.decode(errors='replace')[-4000:]}")
    return p


def test_kcat_lists_broker_and_topics(broker):
    topic = unique_topic("kcat-meta")
    create_topic(broker.bootstrap, topic, partitions=PARTITIONS)

    md = json.loads(kcat("-L", "-J", "-b", broker.bootstrap, "-m", "10").stdout)
    brokers = md["brokers"]
    assert len(brokers) == 1, md
    assert brokers[0]["name"] == broker.bootstrap, f"advertised address differs from the listener: {md}"
    topics = {t["topic"]: t for t in md["topics"]}
    assert topic in topics, f"{topic} missing from kcat -L: {sorted(topics)}"
    parts = topics[topic]["partitions"]
    assert sorted(p["partition"] for p in parts) == list(range(PARTITIONS))
    for p in parts:
        assert p["leader"] == brokers[0]["id"], p

    text = kcat("-L", "-b", broker.bootstrap, "-t", topic, "-m", "10").stdout.decode()
    assert "1 brokers:" in text, text
    assert f'topic "{topic}" with {PARTITIONS} partitions' in text, text


CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def batch_codecs(data):
    """Compression codecs (attributes & 7) of the record batches in a segment."""
    out, pos = set(), 0
    while pos + 23 <= len(data):
        (length,) = struct.unpack_from(">i", data, pos + 8)
        (attributes,) = struct.unpack_from(">h", data, pos + 21)
        out.add(attributes & 7)
        pos += 12 + length
    return out


def make_input(seed):
    rnd = random.Random(seed)
    rows = []
    for i in range(RECORDS):
        key = f"key-{rnd.randrange(2000):04d}"
        value = f"{i:06d}|" + "".join(rnd.choices(VALUE_ALPHABET, k=rnd.randrange(0, 120)))
        rows.append((key, value))
    return rows


def flat_headers(h):
    """kcat -J prints headers as a flat [k1, v1, k2, v2] list."""
    if h is None:
        return []
    if h and isinstance(h[0], list):
        return [tuple(x) for x in h]
    return list(zip(h[0::2], h[1::2]))


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_kcat_round_trip_100k(broker, tmp_path, codec):
    topic = unique_topic(f"kcat-{codec}")
    create_topic(broker.bootstrap, topic, partitions=PARTITIONS)
    rows = make_input(seed=codec)
    src = tmp_path / "input.txt"
    src.write_text("".join(f"{k}:{v}\n" for k, v in rows))

    produce = ["-P", "-b", broker.bootstrap, "-t", topic, "-K", ":", "-l", str(src)]
    for hk, hv in HEADERS:
        produce += ["-H", f"{hk}={hv}"]
    if codec != "none":
        produce += ["-z", codec]
    kcat(*produce)

    out = kcat("-C", "-b", broker.bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-q").stdout
    lines = out.decode().splitlines()
    assert len(lines) == RECORDS, f"produced {RECORDS} records, kcat read back {len(lines)}"

    by_partition = {}
    partition_of_key = {}
    seen = {}
    for line in lines:
        m = json.loads(line)
        p, key, value = m["partition"], m["key"], m["payload"]
        by_partition.setdefault(p, []).append(m)
        assert partition_of_key.setdefault(key, p) == p, f"key {key!r} is in two partitions"
        index = int(value.split("|", 1)[0])
        assert index not in seen, f"record {index} read twice"
        seen[index] = m
        assert (key, value) == rows[index], f"record {index} differs: {(key, value)!r} != {rows[index]!r}"
        assert flat_headers(m.get("headers")) == HEADERS, f"record {index} headers: {m.get('headers')!r}"
    assert len(seen) == RECORDS

    assert set(by_partition) <= set(range(PARTITIONS))
    for p, msgs in by_partition.items():
        offsets = [m["offset"] for m in msgs]
        assert offsets == list(range(len(msgs))), f"partition {p}: offsets not 0..{len(msgs) - 1}"
        indices = [int(m["payload"].split("|", 1)[0]) for m in msgs]
        assert indices == sorted(indices), f"partition {p}: records out of produce order"


def stored_codecs(broker, topic):
    codecs = set()
    for seg in sorted(broker.data_dir.glob(f"{topic}-*/*.log")):
        codecs |= batch_codecs(seg.read_bytes())
    return codecs


def kcat_enables_feature(bootstrap, feature):
    """Whether kcat's librdkafka turns on a protocol feature for this broker,
    from its own debug log ('Enabling feature X' / 'Disabling feature X')."""
    log = kcat("-L", "-b", bootstrap, "-m", "10", "-d", "feature").stderr.decode(errors="replace")
    if f"Enabling feature {feature}" in log:
        return True
    assert f"Disabling feature {feature}" in log, f"kcat -d feature says nothing about {feature}"
    return False


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_kcat_sends_compressed_batches(broker, tmp_path, codec):
    """The round trip above passes even when librdkafka silently sends a codec
    uncompressed; this checks the batches on disk carry the codec asked for."""
    expected = CODEC_IDS[codec]
    if codec == "lz4" and not kcat_enables_feature(broker.bootstrap, "LZ4"):
        # librdkafka ties its LZ4 feature to FindCoordinator v0 being listed in
        # ApiVersions (a relic of 0.8-era brokers). Sluice has no coordinator
        # yet, so the client sends lz4 uncompressed; once FindCoordinator is
        # listed this test requires real lz4 batches.
        expected = CODEC_IDS["none"]
    topic = unique_topic(f"kcat-z-{codec}")
    create_topic(broker.bootstrap, topic, partitions=1)
    src = tmp_path / "input.txt"
    src.write_text("".join(f"k{i % 10}:compressible value compressible value {i}\n"
                           for i in range(10_000)))
    kcat("-P", "-b", broker.bootstrap, "-t", topic, "-K", ":", "-z", codec, "-l", str(src))
    codecs = stored_codecs(broker, topic)
    assert codecs == {expected}, (
        f"kcat -z {codec}: batches on disk have codec ids {codecs}, expected {{{expected}}}. "
        "librdkafka <= 2.11.0 (Debian 12's kcat has 2.0.2) sends gzip, snappy and lz4 "
        "uncompressed unless the broker's ApiVersions lists Produce from version 0 "
        "(it asks whether Produce is supported in [0, 0]); it logs 'Broker does not support "
        "compression type' under -d msg.")
