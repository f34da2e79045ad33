"""`sluice group list|describe|delete|reset-offsets` against the Sluice broker:
the lag it shows matches what a client consumed and committed; resets are dry
runs unless --execute and refused while the group has members; only empty
groups can be deleted."""

import json
import subprocess

from confluent_kafka import Consumer, TopicPartition

from conftest import sluice_binary
from helpers import (GroupMember, committed_offsets, consumer_config, create_topic, produce_values,
                     unique_topic, wait_for_assignment, wait_until)

PARTITIONS = 3


def sluice(broker, *args, check=True):
    res = subprocess.run([str(sluice_binary()), "group", "-b", broker.bootstrap, *args],
                         capture_output=True, text=True, timeout=60)
    if check:
        assert res.returncode == 0, f"sluice group {' '.join(args)} exited {res.returncode}:\n{res.stderr}"
    return res


def describe(broker, group):
    return json.loads(sluice(broker, "describe", group, "--format", "json").stdout)


def commit_first(bootstrap, group, topic, take):
    """Consumes `take[p]` records of each partition p as a group member would, then commits them."""
    c = Consumer(consumer_config(bootstrap, **{"group.id": group}))
    try:
        offsets = [TopicPartition(topic, p, n) for p, n in take.items()]
        c.commit(offsets=offsets, asynchronous=False)
    finally:
        c.close()


def test_describe_shows_the_lag_the_client_left(group_broker):
    topic, group = unique_topic("cli-lag"), unique_topic("cli-g")
    create_topic(group_broker.bootstrap, topic, PARTITIONS)
    n = 300
    produce_values(group_broker.bootstrap, topic, [b"v%d" % i for i in range(n)], partitions=PARTITIONS)

    # A real group member consumes everything and commits; then the group rewinds on two partitions
    # to leave a known lag.
    member = GroupMember(group_broker.bootstrap, group, topic, "m0",
                         {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    try:
        wait_for_assignment([member], PARTITIONS, 30)
        wait_until(lambda: len(member.values()) >= n, 60, f"{n} records consumed")

        # While the member is active: describe shows it with its assignment; delete and reset are refused.
        d = describe(group_broker, group)
        assert d["state"] == "Stable", d
        assert len(d["members"]) == 1 and d["members"][0]["client_id"] == "m0", d["members"]
        assert d["members"][0]["assignment"] == {topic: list(range(PARTITIONS))}, d["members"]
        member_host = d["members"][0]["host"]
        res = sluice(group_broker, "delete", group, check=False)
        assert res.returncode != 0 and "member" in res.stderr, res.stderr
        res = sluice(group_broker, "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute",
                     check=False)
        assert res.returncode != 0 and "member" in res.stderr, res.stderr
    finally:
        member.close()

    consumed = {0: 100, 1: 40, 2: 7}
    commit_first(group_broker.bootstrap, group, topic, consumed)
    d = describe(group_broker, group)
    assert d["state"] in ("Empty",), d
    rows = {r["partition"]: r for r in d["partitions"] if r["topic"] == topic}
    assert sorted(rows) == list(range(PARTITIONS)), d["partitions"]
    for p in range(PARTITIONS):
        assert rows[p]["committed_offset"] == consumed[p], rows[p]
        assert rows[p]["log_end_offset"] == n // PARTITIONS, rows[p]
        assert rows[p]["lag"] == n // PARTITIONS - consumed[p], rows[p]
    assert d["total_lag"] == n - sum(consumed.values())

    text = sluice(group_broker, "describe", group).stdout
    assert f"Total lag: {n - sum(consumed.values())}" in text, text

    listed = sluice(group_broker, "list").stdout
    line = next((ln for ln in listed.splitlines() if ln.split()[:1] == [group]), None)
    assert line is not None, listed
    assert line.split()[1:] == ["Empty", "consumer"], line

    # Kafka reports the member's address as "/127.0.0.1" (checked last so that a gap here does not
    # hide the lag checks above).
    assert member_host.endswith("127.0.0.1"), f"DescribeGroups gave the member host {member_host!r}"


def test_reset_offsets_plans_then_executes(group_broker):
    topic, group = unique_topic("cli-reset"), unique_topic("cli-rg")
    create_topic(group_broker.bootstrap, topic, PARTITIONS)
    produce_values(group_broker.bootstrap, topic, [b"v%d" % i for i in range(90)], partitions=PARTITIONS)
    commit_first(group_broker.bootstrap, group, topic, {0: 5, 1: 6, 2: 7})

    plan = sluice(group_broker, "reset-offsets", group, "--topic", topic, "--to-earliest").stdout
    assert "dry run" in plan, plan
    assert committed_offsets(group_broker.bootstrap, group, topic, PARTITIONS) == {0: 5, 1: 6, 2: 7}

    sluice(group_broker, "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute")
    assert committed_offsets(group_broker.bootstrap, group, topic, PARTITIONS) == {0: 0, 1: 0, 2: 0}
    sluice(group_broker, "reset-offsets", group, "--topic", topic, "--to-latest", "--execute")
    assert committed_offsets(group_broker.bootstrap, group, topic, PARTITIONS) == {0: 30, 1: 30, 2: 30}
    sluice(group_broker, "reset-offsets", group, "--topic", topic, "--to-offset", "12", "--execute")
    assert committed_offsets(group_broker.bootstrap, group, topic, PARTITIONS) == {0: 12, 1: 12, 2: 12}
    sluice(group_broker, "reset-offsets", group, "--topic", topic, "--to-offset", "1000", "--execute")
    assert committed_offsets(group_broker.bootstrap, group, topic, PARTITIONS) == {0: 30, 1: 30, 2: 30}
    sluice(group_broker, "reset-offsets", group, "--topic", topic, "--to-datetime", "0", "--execute")
    assert committed_offsets(group_broker.bootstrap, group, topic, PARTITIONS) == {0: 0, 1: 0, 2: 0}

    sluice(group_broker, "delete", group)
    listed = sluice(group_broker, "list").stdout
    assert group not in listed.split(), listed
    assert committed_offsets(group_broker.bootstrap, group, topic, PARTITIONS) == {p: -1001 for p in range(PARTITIONS)}



def test_describe_and_reset_of_a_kip848_group(group_broker):
    """A `consumer`-protocol (KIP-848) group: describe shows its offsets and lag (DescribeGroups,
    being the classic API, need not list KIP-848 members: Kafka answers it as if the group did not
    exist), and a reset is refused while members are active (by the tool, or by the broker
    rejecting a commit from outside the group)."""
    topic, group = unique_topic("cli-848"), unique_topic("cli-848g")
    create_topic(group_broker.bootstrap, topic, PARTITIONS)
    n = 60
    produce_values(group_broker.bootstrap, topic, [b"v%d" % i for i in range(n)], partitions=PARTITIONS)
    members = [GroupMember(group_broker.bootstrap, group, topic, f"k{i}", {"group.protocol": "consumer"})
               for i in range(2)]
    try:
        wait_for_assignment(members, PARTITIONS, 30)
        wait_until(lambda: sum(len(m.values()) for m in members) >= n, 60, f"{n} records consumed")
        wait_until(lambda: describe(group_broker, group)["total_lag"] == 0, 30, "the group's lag to reach 0")
        d = describe(group_broker, group)
        rows = {r["partition"]: r for r in d["partitions"] if r["topic"] == topic}
        assert {p: (r["committed_offset"], r["log_end_offset"]) for p, r in rows.items()} == {
            p: (n // PARTITIONS, n // PARTITIONS) for p in range(PARTITIONS)}, d
        res = sluice(group_broker, "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute",
                     check=False)
        assert res.returncode != 0, f"reset of an active KIP-848 group went through:\n{res.stdout}"
        assert committed_offsets(group_broker.bootstrap, group, topic, PARTITIONS) == {
            p: n // PARTITIONS for p in range(PARTITIONS)}
    finally:
        for m in members:
            m.close()
