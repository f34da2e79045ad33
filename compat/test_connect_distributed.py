"""`sluice connect distributed` as a user runs it: three worker processes of the real binary sharing one
group against a real broker, connectors created through one worker's REST API (plain urllib), and one
worker SIGKILLed while records flow.

- the datagen source's and FileStreamSink's tasks spread over the workers;
- after `kill -9` of the worker running the most datagen tasks, its tasks move to the survivors once its
  session times out, and the sink's file ends up holding every generated order (at-least-once: duplicates
  are allowed, gaps are not);
- the survivors stop cleanly on SIGTERM.
"""

import json
import time
from collections import Counter

from helpers import unique_topic, wait_until

RECORDS = 3000
GEN_TASKS = 3
SINK_TASKS = 2
SESSION_TIMEOUT_MS = 3000

WORKER = {
    "session.timeout.ms": str(SESSION_TIMEOUT_MS),
    "heartbeat.interval.ms": "500",
    "offset.flush.interval.ms": "500",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
}

# max.interval is a fixed gap between one task's records: 1000 records per task at 5 ms is ~5 s of flow,
# enough that the kill lands while records are still being generated (at 2 ms it often lands after).
MAX_INTERVAL_MS = 5
# Records that must be in the file before the kill: the pipeline is flowing end to end.
FLOWING_RECORDS = 300

START_TIMEOUT_S = 60
SPREAD_TIMEOUT_S = 60
FLOW_TIMEOUT_S = 60
# A dead worker's tasks wait for its session to time out, then a rebalance or two.
FAILOVER_TIMEOUT_S = 60
DELIVERY_TIMEOUT_S = 120


def complete_lines(path):
    """The file's newline-terminated lines; a line still being written is left for the next look."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    return text.split("\n")[:-1]


def order_counts(path):
    """How often each orderid appears in the file's complete lines, and the complete lines that are not
    orders (a torn line: the part of a crashed sink task's buffer that reached the file, glued to the next)."""
    counts = Counter()
    torn = []
    for line in complete_lines(path):
        try:
            counts[int(json.loads(line)["orderid"])] += 1
        except (ValueError, KeyError, TypeError):
            torn.append(line)
    return counts, torn


def stderr_tails(workers, lines=40):
    return "\n".join(
        f"----- worker {i} ({w.url}, {'running' if w.running else 'not running'}) stderr tail -----\n"
        f"{w.stderr_tail(lines)}"
        for i, w in enumerate(workers))


def wait_or_explain(predicate, timeout, what, workers, last):
    """wait_until, failing with the last observation and every worker's stderr tail."""
    try:
        return wait_until(predicate, timeout, what, interval=0.1)
    except AssertionError as e:
        raise AssertionError(f"{e}\nlast observed: {last.get('seen')!r}\n{stderr_tails(workers)}") from None


def wait_every_order(out, records, workers, last):
    """Waits until the file holds every orderid 0..records-1 (in complete lines)."""
    def delivered():
        counts, torn = order_counts(out)
        missing = [i for i in range(records) if i not in counts]
        last["seen"] = (f"{len(counts)} distinct orderids, {len(torn)} torn lines, "
                        f"first missing {missing[:10]} ({len(missing)} in all)")
        return not missing

    wait_or_explain(delivered, DELIVERY_TIMEOUT_S, f"every orderid 0..{records - 1} in {out}", workers, last)


def file_summary(out, records):
    """(counts, torn lines, orderids out of range, duplicates, a one-line summary) of the file."""
    counts, torn = order_counts(out)
    unexpected = sorted(i for i in counts if not 0 <= i < records)
    duplicates = sum(n - 1 for n in counts.values())
    summary = (f"{len(complete_lines(out))} lines: {len(counts)} distinct orderids, {duplicates} duplicates, "
               f"{len(torn)} torn lines; out of range {unexpected[:20]}")
    return counts, torn, unexpected, duplicates, summary


def task_workers(worker, name, tasks, last):
    """The worker_id of each task of `name` when the connector and all `tasks` tasks are RUNNING, else None."""
    r = worker.request("GET", f"/connectors/{name}/status")
    last["seen"] = r
    if r.status != 200 or r.json is None:
        return None
    status = r.json
    listed = status.get("tasks") or []
    if status.get("connector", {}).get("state") != "RUNNING" or len(listed) != tasks:
        return None
    if not all(t.get("state") == "RUNNING" for t in listed):
        return None
    return [t["worker_id"] for t in sorted(listed, key=lambda t: t["id"])]


def test_three_workers_survive_a_kill_9(distributed_connect_factory, tmp_path):
    t0 = time.monotonic()
    timings = {}

    def mark(what):
        timings[what] = time.monotonic() - t0

    topic = unique_topic("orders")
    out = tmp_path / "orders.jsonl"
    workers = [distributed_connect_factory(worker=WORKER) for _ in range(3)]
    by_id = {w.worker_id: w for w in workers}
    assert len(by_id) == 3, f"three distinct worker ids: {list(by_id)}"
    mark("3 workers ready")

    a = workers[0]
    created = a.call("POST", "/connectors", {"name": "sink", "config": {
        "connector.class": "FileStreamSink",
        "topics": topic,
        "file": str(out),
        "tasks.max": str(SINK_TASKS),
    }}, expect=201).json
    assert created["name"] == "sink" and created["type"] == "sink", created
    created = a.call("POST", "/connectors", {"name": "gen", "config": {
        "connector.class": "DatagenConnector",
        "kafka.topic": topic,
        "quickstart": "orders",
        "iterations": str(RECORDS),
        "max.interval": str(MAX_INTERVAL_MS),
        "tasks.max": str(GEN_TASKS),
    }}, expect=201).json
    assert created["name"] == "gen" and created["type"] == "source", created

    # Every task RUNNING, on known workers, over more than one of them (workers join one after another;
    # the rebalance spreads the tasks once all are in). Asked of worker 3: the connectors are cluster-wide.
    last = {}
    placed = {}

    def spread():
        gen = task_workers(workers[2], "gen", GEN_TASKS, last)
        sink = task_workers(workers[2], "sink", SINK_TASKS, last)
        if gen is None or sink is None:
            return False
        unknown = set(gen + sink) - by_id.keys()
        assert not unknown, f"status names workers {unknown} that are none of {list(by_id)}"
        placed.update(gen=gen, sink=sink)
        return len(set(gen + sink)) > 1

    wait_or_explain(spread, SPREAD_TIMEOUT_S,
                    f"all {GEN_TASKS} gen and {SINK_TASKS} sink tasks RUNNING over more than one worker",
                    workers, last)
    mark("tasks spread")

    def flowing():
        counts, _ = order_counts(out)
        last["seen"] = f"{len(counts)} distinct orderids in {out}"
        return len(counts) >= FLOWING_RECORDS

    wait_or_explain(flowing, FLOW_TIMEOUT_S, f"{FLOWING_RECORDS} orders in the sink's file", workers, last)
    mark("records flowing")

    # The victim: the worker running the most datagen tasks now (the placement may have moved since).
    last = {}
    wait_or_explain(spread, FAILOVER_TIMEOUT_S, "a settled task placement before the kill", workers, last)
    gen_per_worker = Counter(placed["gen"])
    victim_id, victim_gen = gen_per_worker.most_common(1)[0]
    victim_sink = placed["sink"].count(victim_id)
    victim = by_id[victim_id]
    survivors = [w for w in workers if w is not victim]
    survivor_ids = {w.worker_id for w in survivors}
    at_kill = len(order_counts(out)[0])
    victim.kill9()
    killed_at = time.monotonic()
    mark("kill -9")
    print(f"\nplacement before the kill: gen {placed['gen']}, sink {placed['sink']}; "
          f"SIGKILLed {victim_id} (gen tasks {victim_gen}, sink tasks {victim_sink}) "
          f"with {at_kill}/{RECORDS} distinct orders in the file")

    # Every task RUNNING again, on the survivors only; asked of each survivor in turn.
    last = {}

    def moved():
        for w in survivors:
            gen = task_workers(w, "gen", GEN_TASKS, last)
            sink = task_workers(w, "sink", SINK_TASKS, last)
            if gen is None or sink is None or not set(gen + sink) <= survivor_ids:
                return False
            placed.update(gen=gen, sink=sink)
        return True

    wait_or_explain(moved, FAILOVER_TIMEOUT_S,
                    f"every task RUNNING on the survivors {sorted(survivor_ids)} after SIGKILL of {victim_id}",
                    workers, last)
    mark("tasks moved")
    failover_s = time.monotonic() - killed_at

    wait_every_order(out, RECORDS, workers, last)
    mark("all delivered")

    counts, torn, unexpected, duplicates, summary = file_summary(out, RECORDS)
    print(f"{summary}; tasks moved {failover_s:.1f}s after the kill "
          f"(session timeout {SESSION_TIMEOUT_MS / 1000:.0f}s); gen now on {placed['gen']}, sink on {placed['sink']}")
    assert not unexpected, f"orderids outside 0..{RECORDS - 1} in the file: {summary}"
    # Only a sink task that died mid-write can tear a line.
    assert len(torn) <= victim_sink, (
        f"{len(torn)} torn lines but the killed worker ran {victim_sink} sink tasks: {torn[:5]!r}; {summary}")

    for i, w in enumerate(survivors):
        w.stop()  # SIGTERM, a bounded wait, and exit code 0 required.
    mark("survivors stopped")
    print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))


# Exactly-once from datagen to the file: transactional source batches, a read_committed sink that keeps its
# own record of what is durable (`<file>.offsets`) and cuts what a killed task wrote after its last flush.
EOS_RECORDS = 2000
EOS_WORKER = dict(WORKER, **{"exactly.once.source.support": "enabled"})
# The sink task's consumer: a SIGKILLed member leaves the sink's group after this, not librdkafka's 45 s.
EOS_SINK_SESSION_TIMEOUT_MS = 3000


def sidecar_settled(out):
    """Whether the sink's offsets record covers the whole file (nothing written since its last flush)."""
    try:
        record = json.loads((out.parent / (out.name + ".offsets")).read_text())
        return record.get("length") == out.stat().st_size
    except (FileNotFoundError, ValueError):
        return False


def test_exactly_once_pipeline_survives_a_kill_9(distributed_connect_factory, tmp_path):
    t0 = time.monotonic()
    timings = {}

    def mark(what):
        timings[what] = time.monotonic() - t0

    topic = unique_topic("eos-orders")
    out = tmp_path / "eos-orders.jsonl"
    workers = [distributed_connect_factory(worker=EOS_WORKER) for _ in range(3)]
    by_id = {w.worker_id: w for w in workers}
    mark("3 workers ready")

    a = workers[0]
    a.call("POST", "/connectors", {"name": "sink", "config": {
        "connector.class": "FileStreamSink",
        "topics": topic,
        "file": str(out),
        # One writer per file in exactly-once mode, whatever tasks.max says.
        "tasks.max": "3",
        "exactly.once": "true",
        "consumer.override.isolation.level": "read_committed",
        "consumer.override.session.timeout.ms": str(EOS_SINK_SESSION_TIMEOUT_MS),
        "consumer.override.heartbeat.interval.ms": "500",
    }}, expect=201)
    a.call("POST", "/connectors", {"name": "gen", "config": {
        "connector.class": "DatagenConnector",
        "kafka.topic": topic,
        "quickstart": "orders",
        "iterations": str(EOS_RECORDS),
        "max.interval": str(MAX_INTERVAL_MS),
        "tasks.max": str(GEN_TASKS),
        "exactly.once.support": "required",
    }}, expect=201)

    last = {}
    placed = {}

    def settled_on(ws, allowed):
        for w in ws:
            gen = task_workers(w, "gen", GEN_TASKS, last)
            sink = task_workers(w, "sink", 1, last)
            if gen is None or sink is None or not set(gen + sink) <= allowed:
                return False
            placed.update(gen=gen, sink=sink)
        return True

    wait_or_explain(lambda: settled_on(workers[2:], set(by_id)) and len(set(placed["gen"] + placed["sink"])) > 1,
                    SPREAD_TIMEOUT_S, f"{GEN_TASKS} gen tasks and the single sink task RUNNING over the workers",
                    workers, last)
    mark("tasks spread")

    def flowing():
        counts, _ = order_counts(out)
        last["seen"] = f"{len(counts)} distinct orderids in {out}"
        return len(counts) >= FLOWING_RECORDS

    wait_or_explain(flowing, FLOW_TIMEOUT_S, f"{FLOWING_RECORDS} orders in the sink's file", workers, last)
    mark("records flowing")

    # The victim runs the sink task (and, with the gen tasks spread, most likely a gen task too).
    wait_or_explain(lambda: settled_on(workers[2:], set(by_id)), FAILOVER_TIMEOUT_S,
                    "a settled task placement before the kill", workers, last)
    victim_id = placed["sink"][0]
    victim_gen = placed["gen"].count(victim_id)
    victim = by_id[victim_id]
    survivors = [w for w in workers if w is not victim]
    survivor_ids = {w.worker_id for w in survivors}
    at_kill = len(order_counts(out)[0])
    victim.kill9()
    killed_at = time.monotonic()
    mark("kill -9")
    print(f"\nplacement before the kill: gen {placed['gen']}, sink {placed['sink']}; SIGKILLed {victim_id} "
          f"(the sink task and {victim_gen} gen tasks) with {at_kill}/{EOS_RECORDS} distinct orders in the file")

    wait_or_explain(lambda: settled_on(survivors, survivor_ids), FAILOVER_TIMEOUT_S,
                    f"every task RUNNING on the survivors {sorted(survivor_ids)} after SIGKILL of {victim_id}",
                    workers, last)
    mark("tasks moved")
    failover_s = time.monotonic() - killed_at

    wait_every_order(out, EOS_RECORDS, workers, last)
    # Everything in the file flushed and recorded: nothing is still on its way that could add a duplicate.
    last["seen"] = "the offsets record does not cover the file yet"
    wait_or_explain(lambda: sidecar_settled(out), FLOW_TIMEOUT_S, f"{out}.offsets covers the whole file",
                    workers, last)
    mark("all delivered")

    text = out.read_text(errors="replace")
    counts, torn, unexpected, duplicates, summary = file_summary(out, EOS_RECORDS)
    print(f"exactly-once mode: {summary}; tasks moved {failover_s:.1f}s after the kill; "
          f"gen now on {placed['gen']}, sink on {placed['sink']}")
    assert text.endswith("\n"), f"the file ends mid-line: {text[-80:]!r}"
    assert not unexpected, f"orderids outside 0..{EOS_RECORDS - 1} in the file: {summary}"
    assert not torn, f"no torn lines in exactly-once mode: {torn[:5]!r}; {summary}"
    repeated = sorted(i for i, n in counts.items() if n > 1)
    assert not repeated, f"each order once in exactly-once mode; repeated {repeated[:20]}; {summary}"

    for w in survivors:
        w.stop()  # SIGTERM, a bounded wait, and exit code 0 required.
    mark("survivors stopped")
    print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
