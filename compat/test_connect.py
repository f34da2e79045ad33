"""`sluice connect standalone` as a user runs it: the real binary, a worker
.properties file, connectors from files and from the REST API (Kafka
Connect's API, driven with plain urllib), against a real broker.

- datagen -> topic -> FileStreamSink: every generated order reaches the file
  exactly once, and the REST API answers as Kafka Connect's does.
- a record the sink's converter cannot read goes to the dead-letter queue
  with its original bytes and the `__connect.errors.*` context headers,
  while the records around it reach the file.
"""

import json
from collections import Counter

from confluent_kafka import Producer

from helpers import create_topic, read_all, unique_topic, wait_until

DATAGEN_CLASS = "io.sluice.connect.datagen.DatagenConnector"
FILE_SINK_CLASS = "org.apache.kafka.connect.file.FileStreamSinkConnector"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"

# Values as schemaless JSON, so the sink's file holds one JSON object per line.
JSON_WORKER = {
    "key.converter": STRING_CONVERTER,
    "value.converter": JSON_CONVERTER,
    "value.converter.schemas.enable": "false",
}

RECORDS = 500
# Generating, producing, consuming and flushing 500 records takes a second or two; this is the backstop.
DELIVERY_TIMEOUT_S = 60
STATE_TIMEOUT_S = 20


def complete_lines(path):
    """The file's complete (newline-terminated) lines; a line still being written is left out."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    return lines[:-1]  # What follows the last newline is empty or not yet complete.


def wait_for_lines(path, count, worker, what):
    def enough():
        return len(complete_lines(path)) >= count

    try:
        wait_until(enough, DELIVERY_TIMEOUT_S, f"{count} lines in {path} ({what})", interval=0.1)
    except AssertionError as e:
        lines = complete_lines(path)
        raise AssertionError(
            f"{e}: the file holds {len(lines)} lines, last ones {lines[-3:]!r}\n"
            f"connect stderr tail:\n{worker.stderr_tail()}") from None
    return complete_lines(path)


def wait_for_state(worker, name, connector_state, task_state=None):
    """Polls `/connectors/{name}/status` until the connector (and, if given, every task) is in that state."""
    last = {}

    def reached():
        r = worker.request("GET", f"/connectors/{name}/status")
        last["answer"] = r
        if r.status != 200:
            return False
        status = r.json
        if status["connector"]["state"] != connector_state:
            return False
        if task_state is not None:
            return bool(status["tasks"]) and all(t["state"] == task_state for t in status["tasks"])
        return True

    try:
        wait_until(reached, STATE_TIMEOUT_S, f"connector {name} {connector_state}, tasks {task_state}")
    except AssertionError as e:
        raise AssertionError(f"{e}; last answer: {last.get('answer')!r}\n"
                             f"connect stderr tail:\n{worker.stderr_tail()}") from None
    return last["answer"].json


def orderids(lines):
    ids = []
    for i, line in enumerate(lines):
        try:
            ids.append(json.loads(line)["orderid"])
        except (ValueError, KeyError, TypeError) as e:
            raise AssertionError(f"line {i + 1} of the sink's file is not a JSON order ({e}): {line!r}") from None
    return ids


def check_exactly_once(ids, what):
    counts = Counter(ids)
    missing = sorted(set(range(RECORDS)) - counts.keys())
    duplicates = sorted(i for i, n in counts.items() if n > 1)
    unexpected = sorted(i for i in counts if not 0 <= i < RECORDS)
    assert not missing and not duplicates and not unexpected, (
        f"{what}: {len(ids)} orders; missing orderids {missing[:20]} ({len(missing)} in all), "
        f"duplicated {duplicates[:20]} ({len(duplicates)} in all), out of range {unexpected[:20]}")


def test_datagen_to_file_through_the_cli_and_rest(connect_worker_factory, tmp_path):
    topic = unique_topic("orders")
    source = "datagen-orders"
    sink = "orders-file"
    out = tmp_path / "orders.jsonl"

    worker = connect_worker_factory(worker=JSON_WORKER, connectors=[{
        "name": source,
        "connector.class": "DatagenConnector",
        "kafka.topic": topic,
        "quickstart": "orders",
        "max.interval": "0",
        "iterations": str(RECORDS),
        "tasks.max": "2",
    }])

    # The connector of the command-line file exists once the listening line is out.
    assert worker.call("GET", "/connectors").json == [source]

    created = worker.call("POST", "/connectors", {"name": sink, "config": {
        "connector.class": "FileStreamSink",
        "file": str(out),
        "topics": topic,
        "tasks.max": "1",
    }}, expect=201).json
    assert created["name"] == sink and created["config"]["file"] == str(out), created
    assert created["type"] == "sink", created

    lines = wait_for_lines(out, RECORDS, worker, f"datagen {topic} -> FileStreamSink")
    check_exactly_once(orderids(lines), "the sink's file once it held 500 lines")

    # -- listing, status, tasks ---------------------------------------------
    assert sorted(worker.call("GET", "/connectors").json) == sorted([source, sink])
    expanded = worker.call("GET", "/connectors?expand=status&expand=info").json
    assert set(expanded) == {source, sink}, expanded
    assert expanded[source]["info"]["config"]["connector.class"] == "DatagenConnector", expanded[source]
    assert expanded[sink]["status"]["type"] == "sink", expanded[sink]

    for name, kind, tasks in [(source, "source", 2), (sink, "sink", 1)]:
        status = wait_for_state(worker, name, "RUNNING", "RUNNING")
        assert status["name"] == name and status["type"] == kind, status
        worker_id = status["connector"]["worker_id"]
        assert worker_id and worker_id.startswith("127.0.0.1:"), status
        assert [t["id"] for t in status["tasks"]] == list(range(tasks)), status
        assert all(t["worker_id"] == worker_id for t in status["tasks"]), status

        task_list = worker.call("GET", f"/connectors/{name}/tasks").json
        assert [t["id"] for t in task_list] == [{"connector": name, "task": i} for i in range(tasks)], task_list
        assert all("config" in t for t in task_list), task_list
        task0 = worker.call("GET", f"/connectors/{name}/tasks/0/status").json
        assert task0["id"] == 0 and task0["state"] == "RUNNING", task0

    # -- plugins and validation -----------------------------------------------
    plugins = worker.call("GET", "/connector-plugins").json
    classes = {p["class"]: p["type"] for p in plugins}
    assert classes.get(DATAGEN_CLASS) == "source", plugins
    assert classes.get(FILE_SINK_CLASS) == "sink", plugins

    validation = worker.call("PUT", "/connector-plugins/DatagenConnector/config/validate", {
        "connector.class": "DatagenConnector",
        "kafka.topic": topic,
        "quickstart": "orders",
        "max.interval": "soon",
    }).json
    assert validation["error_count"] >= 1, validation
    bad = [c["value"] for c in validation["configs"] if c["value"]["name"] == "max.interval"]
    assert bad and bad[0]["errors"], f"no error reported on max.interval: {validation}"

    # -- lifecycle --------------------------------------------------------------
    worker.call("PUT", f"/connectors/{sink}/pause", expect=202)
    wait_for_state(worker, sink, "PAUSED", "PAUSED")
    worker.call("PUT", f"/connectors/{sink}/resume", expect=202)
    wait_for_state(worker, sink, "RUNNING", "RUNNING")
    worker.call("PUT", f"/connectors/{sink}/stop", expect=204)
    wait_for_state(worker, sink, "STOPPED")
    worker.call("DELETE", f"/connectors/{sink}", expect=204)
    missing = worker.call("GET", f"/connectors/{sink}/status", expect=404).json
    assert missing["error_code"] == 404 and sink in missing["message"], missing
    assert worker.call("GET", "/connectors").json == [source]

    # Stopping and deleting flushed the sink; the file still holds each order exactly once.
    check_exactly_once(orderids(complete_lines(out)), "the sink's file after the sink was deleted")

    assert worker.stop() == 0, "the worker did not exit cleanly on SIGTERM"


def test_poison_record_goes_to_dlq(group_broker, connect_worker_factory, tmp_path):
    topic = unique_topic("payments")
    dlq = unique_topic("dlq")
    out = tmp_path / "payments.jsonl"
    create_topic(group_broker.bootstrap, topic, partitions=1)

    poison = b"not json {\x00\xff"
    records = [(b"k0", b'{"id": 0, "ok": true}'), (b"k1", poison), (b"k2", b'{"id": 2, "ok": true}')]
    producer = Producer({"bootstrap.servers": group_broker.bootstrap, "enable.idempotence": True})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0, "records not delivered within 30s"

    worker = connect_worker_factory(worker={"key.converter": STRING_CONVERTER})
    worker.call("POST", "/connectors", {"name": "payments-file", "config": {
        "connector.class": "FileStreamSink",
        "file": str(out),
        "topics": topic,
        "value.converter": JSON_CONVERTER,
        "value.converter.schemas.enable": "false",
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.context.headers.enable": "true",
        "errors.deadletterqueue.topic.replication.factor": "1",
    }}, expect=201)

    lines = wait_for_lines(out, 2, worker, "the two valid records")
    assert [json.loads(line) for line in lines] == [{"id": 0, "ok": True}, {"id": 2, "ok": True}], lines

    def dead_letters():
        return read_all(group_broker.bootstrap, dlq, 1, timeout=10)[0]

    try:
        letters = wait_until(dead_letters, DELIVERY_TIMEOUT_S, f"a record in the dead-letter queue {dlq}")
    except AssertionError as e:
        raise AssertionError(f"{e}\nconnect stderr tail:\n{worker.stderr_tail()}") from None
    assert len(letters) == 1, f"expected only the poison record in {dlq}, got {letters}"
    letter = letters[0]
    assert (letter.key, letter.value) == (b"k1", poison), letter

    headers = {}
    for name, value in letter.headers:
        headers.setdefault(name, value)
    assert headers.get("__connect.errors.topic") == topic.encode(), headers
    assert headers.get("__connect.errors.partition") == b"0", headers
    assert headers.get("__connect.errors.offset") == b"1", headers
    assert headers.get("__connect.errors.stage") == b"VALUE_CONVERTER", headers
    assert headers.get("__connect.errors.exception.message"), f"no exception message: {headers}"

    # errors.tolerance=all: the task carried on past the poison record.
    wait_for_state(worker, "payments-file", "RUNNING", "RUNNING")
