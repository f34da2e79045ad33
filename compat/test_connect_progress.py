"""The progress line of `sluice connect standalone`, as a user sees it in a CI log
(stderr is a file here, not a terminal): a datagen connector with `iterations`
makes stderr show plain progress lines, at most one per task every 5 s, then
one line when the task is done naming the full count; stdout keeps carrying
only the ready line; `/metrics` shows the same count; `--no-progress` turns the
lines off.
"""

import re

from helpers import unique_topic, wait_until

JSON_WORKER = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
}

# One record per millisecond at most: 2,000 records take at least 2 s, so the line is seen under way.
RECORDS = 2000
DONE_TIMEOUT_S = 60
# Plain lines come at most this often per task.
PLAIN_EVERY_S = 5


def datagen(name, topic, records, interval_ms):
    return {
        "name": name,
        "connector.class": "DatagenConnector",
        "kafka.topic": topic,
        "quickstart": "orders",
        "max.interval": str(interval_ms),
        "iterations": str(records),
        "tasks.max": "1",
    }


def metrics_done(worker, connector, count):
    line = f'connect_task_progress_done{{connector="{connector}",task="0",unit="records"}} {count}'
    return line in worker.call("GET", "/metrics").body.splitlines()


def test_stderr_shows_progress_lines_then_a_done_line_with_the_full_count(connect_worker_factory):
    topic = unique_topic("progress")
    worker = connect_worker_factory(worker=JSON_WORKER, connectors=[datagen("gen", topic, RECORDS, 1)])
    what = f"gen-0: generating orders into {topic}"
    done_re = re.compile(rf"^{re.escape(what)} done: {RECORDS:,} records in (\d+(?:\.\d+)?)s$", re.M)
    try:
        wait_until(lambda: done_re.search(worker.stderr_text()), DONE_TIMEOUT_S, "the done line on stderr")
    except AssertionError as e:
        raise AssertionError(f"{e}\nconnect stderr tail:\n{worker.stderr_tail()}") from None
    assert metrics_done(worker, "gen", RECORDS), worker.call("GET", "/metrics").body
    worker.stop()

    stderr = worker.stderr_text()
    assert "\r" not in stderr, "a log file gets plain lines, not a line redrawn in place"
    progress = re.findall(rf"^{re.escape(what)}: ([\d,]+)/{RECORDS:,} records \((\d+)%\)(.*)$", stderr, re.M)
    assert progress, f"no progress line before the done line:\n{worker.stderr_tail()}"
    counts = [int(done.replace(",", "")) for done, _, _ in progress]
    assert counts == sorted(counts) and counts[-1] < RECORDS, f"progress goes forward to the end: {progress}"
    assert all(int(pct) == counts[i] * 100 // RECORDS for i, (_, pct, _) in enumerate(progress)), progress
    assert all(rest == "" or rest.startswith(", ") for _, _, rest in progress), progress

    done = done_re.findall(stderr)
    assert len(done) == 1, f"one done line per finished task: {done}"
    took = float(done[0])
    assert took >= RECORDS / 1000 * 0.9, f"{RECORDS:,} records at most one per ms cannot take {took}s"
    assert len(progress) <= took // PLAIN_EVERY_S + 2, (
        f"{len(progress)} plain lines in {took}s: more than one every {PLAIN_EVERY_S}s\n{progress}")

    stdout = (worker.log_dir / "connect-1.stdout").read_text()
    assert len(stdout.splitlines()) == 1 and stdout.startswith("sluice connect listening on "), (
        f"stdout carries only the ready line: {stdout!r}")


def test_no_progress_turns_the_lines_off(connect_worker_factory):
    topic = unique_topic("quiet")
    worker = connect_worker_factory(worker=JSON_WORKER, connectors=[datagen("quiet", topic, 1000, 0)],
                                    args=["--no-progress"])
    # The work is tracked (metrics) even when stderr does not show it.
    wait_until(lambda: metrics_done(worker, "quiet", 1000), DONE_TIMEOUT_S, "1000 records done in /metrics")
    worker.stop()
    stderr = worker.stderr_text()
    assert "generating orders" not in stderr, f"--no-progress printed progress:\n{worker.stderr_tail()}"
