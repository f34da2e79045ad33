"""confluent-kafka (librdkafka) consumer groups against Sluice: partitions
shared out and taken over when a member leaves, no record lost with
synchronous commits after processing, committed offsets kept across a broker
restart; with the eager (range) and cooperative-sticky assignors and the
KIP-848 `consumer` protocol; and static membership (KIP-345)."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupType
from confluent_kafka.admin import AdminClient

from conftest import _die_with_parent
from helpers import (GroupMember, committed_offsets, create_topic, high_watermarks, produce_values,
                     unique_topic, wait_for_assignment, wait_until)

PARTITIONS = 6
SESSION_TIMEOUT_MS = 6000
# A member that leaves is replaced within the session timeout; the margin covers a rebalance round.
TAKEOVER_TIMEOUT_S = SESSION_TIMEOUT_MS / 1000 + 10
SETTLE_TIMEOUT_S = 30

CLASSIC = {"session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": 500}
VARIANTS = {
    "classic-range": {**CLASSIC, "partition.assignment.strategy": "range"},
    "classic-cooperative-sticky": {**CLASSIC, "partition.assignment.strategy": "cooperative-sticky"},
    # KIP-848: the broker assigns; session timeout and assignor are broker-side settings.
    "consumer-protocol": {"group.protocol": "consumer"},
}


def all_values(members):
    return [v for m in members for v in m.values()]


def wait_consumed(members, expected, timeout=60):
    """Waits until the members together have seen every value in `expected`."""
    expected = set(expected)

    def done():
        for m in members:
            m.check()
        return expected <= set(all_values(members))

    try:
        wait_until(done, timeout, f"{len(expected)} records to be consumed")
    except AssertionError as e:
        missing = expected - set(all_values(members))
        raise AssertionError(f"{e}; {len(missing)} not consumed, e.g. {sorted(missing)[:5]}") from None


def check_group_type(bootstrap, group, variant, members):
    """The admin API's view of the group (DescribeGroups, or ConsumerGroupDescribe for a KIP-848
    group) agrees with the protocol the members speak and lists each member with its partitions."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    desc = admin.describe_consumer_groups([group], request_timeout=30)[group].result(timeout=30)
    want = ConsumerGroupType.CONSUMER if variant == "consumer-protocol" else ConsumerGroupType.CLASSIC
    assert desc.type == want, f"group type {desc.type}, expected {want}"
    assigned = {m.client_id: sorted(tp.partition for tp in m.assignment.topic_partitions)
                for m in desc.members}
    assert assigned == {m.name: sorted(m.owned()) for m in members}, assigned


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_group_shares_partitions_takes_over_and_keeps_offsets(group_broker, variant):
    conf = VARIANTS[variant]
    topic = unique_topic(f"grp-{variant}")
    group = unique_topic(f"g-{variant}")
    create_topic(group_broker.bootstrap, topic, PARTITIONS)

    members = [GroupMember(group_broker.bootstrap, group, topic, f"m{i}", conf) for i in range(3)]
    try:
        owned = wait_for_assignment(members, PARTITIONS, SETTLE_TIMEOUT_S, "three members to own two partitions each")
        assert sorted(len(ps) for ps in owned.values()) == [2, 2, 2], owned
        check_group_type(group_broker.bootstrap, group, variant, members)

        first = [f"first-{i}".encode() for i in range(600)]
        produce_values(group_broker.bootstrap, topic, first, partitions=PARTITIONS)
        wait_consumed(members, first)
        for m in members:
            assert {p for p, _, _ in m.seen} <= set(owned[m.name]), (
                f"{m.name} read partitions it was not assigned: {owned[m.name]}")

        # One member leaves: the other two take over its partitions, three each.
        leaver = members.pop()
        leaver.close()
        owned = wait_for_assignment(members, PARTITIONS, TAKEOVER_TIMEOUT_S,
                                    f"the two remaining members to take over {leaver.name}'s partitions")
        assert sorted(len(ps) for ps in owned.values()) == [3, 3], owned

        second = [f"second-{i}".encode() for i in range(600)]
        produce_values(group_broker.bootstrap, topic, second, partitions=PARTITIONS)
        wait_consumed(members, second)
        everyone = members + [leaver]
        assert set(first + second) <= set(all_values(everyone)), "records lost"
    finally:
        for m in members:
            m.close()

    # Every record was committed after processing: the committed offsets are the log ends ...
    ends = high_watermarks(group_broker.bootstrap, topic, PARTITIONS)
    assert committed_offsets(group_broker.bootstrap, group, topic, PARTITIONS) == ends
    # ... and they survive a broker restart.
    group_broker.restart()
    assert committed_offsets(group_broker.bootstrap, group, topic, PARTITIONS) == ends

    # A new member resumes from the commits: it reads only what was produced after them.
    third = [f"third-{i}".encode() for i in range(60)]
    produce_values(group_broker.bootstrap, topic, third, partitions=PARTITIONS)
    late = GroupMember(group_broker.bootstrap, group, topic, "late", conf)
    try:
        wait_consumed([late], third)
        stale = [v for v in late.values() if not v.startswith(b"third-")]
        assert not stale, f"a new member re-read {len(stale)} committed records, e.g. {stale[:3]}"
    finally:
        late.close()


def test_static_member_rejoins_without_rebalancing_the_others(group_broker):
    topic = unique_topic("static")
    group = unique_topic("g-static")
    create_topic(group_broker.bootstrap, topic, PARTITIONS)

    def member(name):
        return GroupMember(group_broker.bootstrap, group, topic, name,
                           {**CLASSIC, "partition.assignment.strategy": "range",
                            "group.instance.id": f"instance-{name}"})

    a, b, c = member("a"), member("b"), member("c")
    others = [a, b]
    try:
        owned = wait_for_assignment([a, b, c], PARTITIONS, SETTLE_TIMEOUT_S, "three static members to settle")
        # Callbacks seen so far belong to forming the group; from here on the others must see none.
        events_before = {m.name: len(m.events) for m in others}

        # A static member does not send LeaveGroup on close; its twin, with the same
        # group.instance.id, comes back within the session timeout.
        c.close()
        c = member("c")
        wait_until(lambda: c.owned() == owned["c"], TAKEOVER_TIMEOUT_S,
                   f"the restarted static member to get its partitions {sorted(owned['c'])} back")

        # The others are still consuming (they poll, so a pending rebalance would have reached them) ...
        after = [f"after-{i}".encode() for i in range(120)]
        produce_values(group_broker.bootstrap, topic, after, partitions=PARTITIONS)
        wait_consumed([a, b, c], after)
        # ... and kept their partitions without any rebalance callback.
        for m in others:
            assert m.owned() == owned[m.name], f"{m.name} now owns {sorted(m.owned())}, had {sorted(owned[m.name])}"
            assert m.events[events_before[m.name]:] == [], (
                f"{m.name} saw rebalance callbacks after the static member restarted: "
                f"{m.events[events_before[m.name]:]}")
    finally:
        for m in (a, b, c):
            m.close()


@pytest.mark.parametrize("variant", ["classic-range", "classic-cooperative-sticky"])
def test_member_killed_without_leaving_is_replaced_after_the_session_timeout(group_broker, variant):
    conf = VARIANTS[variant]
    topic = unique_topic(f"crash-{variant}")
    group = unique_topic(f"g-crash-{variant}")
    create_topic(group_broker.bootstrap, topic, PARTITIONS)

    lines = []
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve().parent / "group_member.py"),
         group_broker.bootstrap, group, topic, "doomed", json.dumps(conf)],
        stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
    threading.Thread(target=lambda: lines.extend(ln.strip() for ln in proc.stdout), daemon=True).start()
    members = [GroupMember(group_broker.bootstrap, group, topic, f"m{i}", conf) for i in range(2)]
    try:
        def doomed_owns_two():
            owned = [ln for ln in list(lines) if ln.startswith("owned")]
            return bool(owned) and len([x for x in owned[-1][len("owned"):].strip().split(",") if x]) == 2
        wait_until(lambda: doomed_owns_two() and sum(len(m.owned()) for m in members) == 4, SETTLE_TIMEOUT_S,
                   "three members (one in its own process) to own two partitions each")
        proc.kill()  # No LeaveGroup: the coordinator must notice the missed heartbeats.
        proc.wait(10)
        killed_at = time.monotonic()
        owned = wait_for_assignment(members, PARTITIONS, TAKEOVER_TIMEOUT_S,
                                    "the survivors to take over the dead member's partitions")
        assert sorted(len(ps) for ps in owned.values()) == [3, 3], owned
        elapsed = time.monotonic() - killed_at
        assert elapsed >= SESSION_TIMEOUT_MS / 1000 * 0.5, (
            f"partitions moved {elapsed:.1f}s after the kill, before the session timeout could expire")
        data = [f"after-crash-{i}".encode() for i in range(120)]
        produce_values(group_broker.bootstrap, topic, data, partitions=PARTITIONS)
        wait_consumed(members, data)
    finally:
        if proc.poll() is None:
            proc.kill()
        for m in members:
            m.close()
