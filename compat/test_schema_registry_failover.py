"""Two `sluice schema-registry` processes sharing one `_schemas` topic: the
elected writer is killed with SIGKILL (no clean group leave), the survivor is
elected after the group session timeout and takes writes, and every schema
acknowledged before the kill keeps its id. Registrations go through
confluent-kafka's SchemaRegistryClient, as an application would send them.
"""

import json
import time
import urllib.request

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError

# Short enough that the survivor takes over quickly; the broker's GROUP_ENV allows it.
SESSION_TIMEOUT_MS = 3000
TAKEOVER_TIMEOUT_S = 60.0
POLL_S = 0.2


def record_schema(i):
    return Schema(json.dumps({
        "type": "record", "name": f"Event{i}", "namespace": "com.example.failover",
        "fields": [{"name": "id", "type": "long"}, {"name": f"f{i}", "type": "string"}],
    }), "AVRO")


def is_leader(registry):
    with urllib.request.urlopen(f"{registry.url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return any(line.split() == ["schema_registry_is_leader", "1"] for line in text.splitlines())


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(POLL_S)


def test_killed_leader_is_replaced_and_ids_survive(schema_registry_factory, tmp_path):
    config = tmp_path / "registry.toml"
    config.write_text(f"session_timeout_ms = {SESSION_TIMEOUT_MS}\n")
    first = schema_registry_factory(args=["--config", config])
    second = schema_registry_factory(args=["--config", config])
    registries = [first, second]
    wait_for("exactly one elected writer", lambda: sum(is_leader(r) for r in registries) == 1, TAKEOVER_TIMEOUT_S)
    leader = next(r for r in registries if is_leader(r))
    survivor = next(r for r in registries if r is not leader)

    # Written through both instances: the follower forwards to the leader.
    ids = {}
    for i in range(10):
        via = registries[i % 2]
        ids[i] = SchemaRegistryClient({"url": via.url}).register_schema(f"failover-{i}-value", record_schema(i))
    assert len(set(ids.values())) == 10, f"distinct schemas got shared ids: {ids}"

    leader.proc.kill()
    leader.proc.wait(10)
    leader.proc = None

    # The survivor is elected once the dead member's session expires; until then
    # writes are refused with a 5xx, which a client retries.
    client = SchemaRegistryClient({"url": survivor.url})
    new_id = None
    deadline = time.monotonic() + TAKEOVER_TIMEOUT_S
    while new_id is None:
        try:
            new_id = client.register_schema("failover-after-value", record_schema(100))
        except SchemaRegistryError as e:
            assert e.http_status_code >= 500, f"a write during the take-over failed with {e}"
            if time.monotonic() > deadline:
                raise AssertionError(f"no write succeeded within {TAKEOVER_TIMEOUT_S}s of killing the leader: {e}")
            time.sleep(POLL_S)
    assert is_leader(survivor), "the survivor took a write but does not report itself the leader"
    assert new_id > max(ids.values()), f"the new leader reused an id: {new_id} after {sorted(ids.values())}"

    # Everything acknowledged before the kill is still there, under the same ids.
    fresh = SchemaRegistryClient({"url": survivor.url})
    for i, schema_id in ids.items():
        registered = fresh.lookup_schema(f"failover-{i}-value", record_schema(i))
        assert registered.schema_id == schema_id, f"subject failover-{i}-value: id {registered.schema_id} != {schema_id}"
        assert json.loads(fresh.get_schema(schema_id).schema_str)["name"] == f"Event{i}"
