#!/usr/bin/env python3
"""The workloads of bench/connect, run against the real `sluice connect standalone` binary.

Subcommands (bench/connect calls them in order; each is usable alone for a one-off measurement):

- `prefill`: writes N records of exactly --record-size bytes to a topic through `sluice produce`, for the sink
  runs. Each value is a compact JSON object, `{"id":N,"pad":"xxxx"}`, so the StringConverter writes it to the
  file unchanged and the JsonConverter (schemas off) parses it and writes back the same bytes: every line of
  the sink's file is record-size + 1 bytes, whatever the converter.
- `run`: one connector in a fresh worker process. It writes the worker's and the connector's .properties,
  starts the worker, then samples the worker's `GET /metrics` (records written: delivered to Kafka by a source
  task, put to a sink task) and `/proc` (CPU of the worker and of the broker) every --sample-ms until every
  record is through; afterwards it checks the result (the topic's records and bytes for a source, the group's
  committed offsets and the file's lines for a sink), reads the worker's peak RSS (VmHWM) and stops it with
  SIGTERM. Writes one JSON object.
- `summarize`: gathers the runs' JSON into one document and prints a table.

Throughput is measured from the first sample that shows a record written to the first that shows all of
them, counting only the records written in between, so worker start-up, the consumer group's join and the
offset commit interval are not in it (the commit is timed separately for sinks). Every wait has a deadline
and says what it was waiting for when it runs out.
"""

import argparse
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

READY_RE = re.compile(r"^sluice connect listening on (http://\S+?)/?\s*$")
METRIC_RE = re.compile(r"^(connect_task_records_written_total|connect_task_status)\{([^}]*)\}\s+(\S+)\s*$")
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

CLK_TCK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 5.0
# A run with no new record written for this long is reported as stalled rather than waited out.
STALL_TIMEOUT_S = 30.0
COMMIT_TIMEOUT_S = 60.0

CONVERTERS = {
    "json": "org.apache.kafka.connect.json.JsonConverter",
    "string": "org.apache.kafka.connect.storage.StringConverter",
    "avro": "io.confluent.connect.avro.AvroConverter",
}


class BenchError(Exception):
    pass


def log(msg):
    print(f"connect: {msg}", file=sys.stderr, flush=True)


def die_with_parent():
    """Runs in a child before exec: SIGKILL it if this script dies first, so no worker outlives a run."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far; None once it is gone (or for no pid)."""
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, as in proc(5)).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kib(pid, key):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def write_properties(path, settings):
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return path


def sluice(binary, *args, timeout=120.0, stdin=None):
    """Runs one `sluice` CLI command; its stdout, or BenchError with its stderr."""
    try:
        r = subprocess.run([binary, *args], input=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"`sluice {' '.join(args)}` did not finish within {timeout:.0f}s")
    if r.returncode != 0:
        raise BenchError(f"`sluice {' '.join(args)}` exited with {r.returncode}: "
                         f"{r.stderr.decode(errors='replace').strip()[-2000:]}")
    return r.stdout.decode(errors="replace")


# --- prefill --------------------------------------------------------------------------------------------------

def record_line(i, size):
    """A compact JSON object of exactly `size` bytes: {"id":i,"pad":"xxx..."}."""
    head = '{"id":%d,"pad":"' % i
    pad = size - len(head) - 2
    if pad < 0:
        raise BenchError(f"--record-size {size} is too small for a JSON record; use 32 or more")
    return head + "x" * pad + '"}'


def cmd_prefill(a):
    sluice(a.bin, "topic", "create", "-b", a.bootstrap, "--partitions", str(a.partitions), a.topic)
    log(f"pre-filling {a.topic}: {a.records} records of {a.record_size} bytes, {a.partitions} partitions")
    t0 = time.monotonic()
    err_path = Path(a.work) / "prefill.log"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([a.bin, "produce", "-b", a.bootstrap, "--acks", "1", a.topic],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=die_with_parent)
    chunk = []
    try:
        for i in range(a.records):
            chunk.append(record_line(i, a.record_size))
            if len(chunk) == 4096:
                proc.stdin.write(("\n".join(chunk) + "\n").encode())
                chunk = []
        if chunk:
            proc.stdin.write(("\n".join(chunk) + "\n").encode())
        proc.stdin.close()
        code = proc.wait(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise BenchError("`sluice produce` did not deliver the pre-fill within 300s")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if code != 0:
        raise BenchError(f"`sluice produce` exited with {code}: {err_path.read_text(errors='replace')[-2000:]}")
    log(f"pre-filled in {time.monotonic() - t0:.1f}s")


# --- run ------------------------------------------------------------------------------------------------------

class Worker:
    """One `sluice connect standalone` process with one connector file."""

    def __init__(self, binary, work, name, worker_props, connector_props):
        self.binary = binary
        self.name = name
        self.worker_file = write_properties(work / f"{name}.worker.properties", worker_props)
        self.connector_file = write_properties(work / f"{name}.connector.properties", connector_props)
        self.stdout_path = work / f"{name}.worker.out"
        self.stderr_path = work / f"{name}.worker.log"
        self.proc = None
        self.url = None

    def start(self):
        cmd = [self.binary, "connect", "standalone", str(self.worker_file), str(self.connector_file),
               "--listen", "127.0.0.1:0"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_") or k == "SLUICE_LOG"}
        env.setdefault("SLUICE_LOG", "warn")
        env["NO_COLOR"] = "1"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                         preexec_fn=die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for line in self.stdout_path.read_text(errors="replace").splitlines(keepends=True):
                m = READY_RE.match(line)
                if m and line.endswith("\n"):
                    self.url = m.group(1)
                    return
            if self.proc.poll() is not None:
                raise BenchError(f"the connect worker exited with {self.proc.returncode} at start; "
                                 f"its log:\n{self.log_tail()}")
            time.sleep(0.05)
        raise BenchError(f"the connect worker did not print its listening line within {START_TIMEOUT_S:.0f}s; "
                         f"its log:\n{self.log_tail()}")

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=HTTP_TIMEOUT_S) as resp:
            return resp.read().decode(errors="replace")

    def written_and_failed(self):
        """Records written by the connector's tasks (summed), and whether any of its tasks is FAILED."""
        written, failed = 0, False
        for line in self.get("/metrics").splitlines():
            m = METRIC_RE.match(line)
            if not m:
                continue
            labels = dict(LABEL_RE.findall(m.group(2)))
            if labels.get("connector") != self.name:
                continue
            if m.group(1) == "connect_task_records_written_total":
                written += int(float(m.group(3)))
            elif labels.get("state") == "FAILED" and float(m.group(3)) > 0:
                failed = True
        return written, failed

    def status(self):
        try:
            return self.get(f"/connectors/{self.name}/status")
        except (OSError, urllib.error.URLError) as e:
            return f"(status unavailable: {e})"

    def stop(self):
        """SIGTERM and a bounded wait (then SIGKILL); seconds it took, and the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None, None if self.proc is None else self.proc.returncode
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise BenchError(f"the connect worker did not exit within {STOP_TIMEOUT_S:.0f}s of SIGTERM "
                             f"(killed it); its log:\n{self.log_tail()}")
        return time.monotonic() - t0, code

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def measure(worker, records, broker_pid, sample_s, timeout_s):
    """Samples until `records` are written; answers the first and last samples with records, time and CPU."""
    pid = worker.proc.pid
    first = None
    last_progress_at, last_written = time.monotonic(), -1
    deadline = time.monotonic() + timeout_s
    samples = 0
    while True:
        if worker.proc.poll() is not None:
            raise BenchError(f"the connect worker exited with {worker.proc.returncode} mid-run; "
                             f"its log:\n{worker.log_tail()}")
        written, failed = worker.written_and_failed()
        now = time.monotonic()
        samples += 1
        sample = {"t": now, "written": written, "worker_cpu": cpu_seconds(pid), "broker_cpu": cpu_seconds(broker_pid)}
        if failed:
            raise BenchError(f"a task of {worker.name} FAILED: {worker.status()}\nworker log:\n{worker.log_tail()}")
        if written > 0 and first is None:
            first = sample
        if written >= records:
            if first is sample:
                raise BenchError(f"all {records} records were written between two samples ({sample_s * 1000:.0f} "
                                 f"ms apart): too few to time; raise the record count")
            return first, sample, samples
        if written != last_written:
            last_written, last_progress_at = written, now
        elif now - last_progress_at > STALL_TIMEOUT_S:
            raise BenchError(f"{worker.name}: no record written for {STALL_TIMEOUT_S:.0f}s, stuck at {written} of "
                             f"{records}; status: {worker.status()}\nworker log:\n{worker.log_tail()}")
        if now > deadline:
            raise BenchError(f"{worker.name}: {written} of {records} records written after {timeout_s:.0f}s "
                             f"(--timeout); status: {worker.status()}")
        time.sleep(sample_s)


def topic_totals(binary, bootstrap, topic, work, name):
    """Records and key + value bytes in a topic, read to its end by `sluice bench consume`."""
    out = work / f"{name}.consume.json"
    sluice(binary, "bench", "-b", bootstrap, "consume", "--topic", topic, "--json", str(out), timeout=300)
    r = json.loads(out.read_text())
    return r["records"], r["bytes"]


def wait_committed(binary, bootstrap, group, records, flush_ms):
    """Polls the group's committed offsets until they cover `records` with no lag; seconds waited. The
    commit comes with the next offset flush, so the deadline is one flush interval on top of the timeout."""
    t0 = time.monotonic()
    limit = COMMIT_TIMEOUT_S + flush_ms / 1000
    last = None
    while time.monotonic() - t0 < limit:
        try:
            d = json.loads(sluice(binary, "group", "-b", bootstrap, "describe", group, "--format", "json", timeout=30))
            committed = sum(p.get("committed_offset") or 0 for p in d["partitions"])
            last = f"committed {committed}, total lag {d['total_lag']}"
            if committed >= records and d["total_lag"] == 0:
                return time.monotonic() - t0
        except BenchError as e:
            last = str(e)
        time.sleep(0.2)
    raise BenchError(f"group {group} did not commit every record within {limit:.0f}s; last: {last}")


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                return n
            n += block.count(b"\n")


def cmd_run(a):
    work = Path(a.work)
    name = a.name
    worker_props = {
        "bootstrap.servers": a.bootstrap,
        "listeners": "http://127.0.0.1:0",
        "offset.storage.file.filename": str(work / f"{name}.offsets"),
        "offset.flush.interval.ms": str(a.flush_ms),
        "key.converter": CONVERTERS["string"],
        "value.converter": CONVERTERS[a.converter],
    }
    if a.converter == "json":
        worker_props["value.converter.schemas.enable"] = "false"
    if a.converter == "avro":
        if not a.registry:
            raise BenchError("--converter avro needs --registry URL")
        worker_props["value.converter.schema.registry.url"] = a.registry
    out_file = work / f"{name}.out.txt"
    if a.kind == "source":
        sluice(a.bin, "topic", "create", "-b", a.bootstrap, "--partitions", str(a.partitions), a.topic)
        connector = {
            "name": name,
            "connector.class": "DatagenConnector",
            "tasks.max": str(a.tasks),
            "kafka.topic": a.topic,
            "quickstart": a.quickstart,
            "max.interval": "0",
            "iterations": str(a.records),
            "random.seed": "1",
        }
    else:
        connector = {
            "name": name,
            "connector.class": "FileStreamSink",
            "tasks.max": str(a.tasks),
            "topics": a.topic,
            "file": str(out_file),
        }

    for kv in a.connector_set or []:
        key, sep, value = kv.partition("=")
        if not sep or not key:
            raise BenchError(f"--set takes KEY=VALUE, got {kv!r}")
        connector[key] = value
    worker = Worker(a.bin, work, name, worker_props, connector)
    try:
        worker.start()
        cpu_at_ready = cpu_seconds(worker.proc.pid)
        first, last, samples = measure(worker, a.records, a.broker_pid, a.sample_ms / 1000, a.timeout)
        result = {
            "name": name, "kind": a.kind, "connector": connector["connector.class"], "tasks_max": a.tasks,
            "value_converter": CONVERTERS[a.converter], "key_converter": CONVERTERS["string"],
            "topic": a.topic, "partitions": a.partitions, "records_total": a.records,
            "connector_config": connector,
            "offset_flush_interval_ms": a.flush_ms, "sample_ms": a.sample_ms, "samples": samples,
            # The table's order, kept in the file so summarize does not depend on file names.
            "order": a.order,
        }
        if a.kind == "source":
            result["quickstart"] = a.quickstart
            topic_records, topic_bytes = topic_totals(a.bin, a.bootstrap, a.topic, work, name)
            if topic_records != a.records:
                raise BenchError(f"the topic {a.topic} holds {topic_records} records, expected {a.records}")
            bytes_per_record = topic_bytes / topic_records
        else:
            group = f"connect-{name}"
            result["commit_wait_s"] = round(wait_committed(a.bin, a.bootstrap, group, a.records, a.flush_ms), 3)
            bytes_per_record = a.record_size
        # Taken after the checks too, so the peak includes everything the worker did.
        result["worker_vm_hwm_mib"] = round((proc_status_kib(worker.proc.pid, "VmHWM") or 0) / 1024, 1)
        result["worker_vm_rss_end_mib"] = round((proc_status_kib(worker.proc.pid, "VmRSS") or 0) / 1024, 1)
        stop_s, code = worker.stop()
        if code != 0:
            raise BenchError(f"the connect worker exited with {code} after SIGTERM; its log:\n{worker.log_tail()}")
        result["worker_stop_s"] = round(stop_s, 3)
        if a.kind == "sink":
            lines = count_lines(out_file)
            size = out_file.stat().st_size
            if lines != a.records or size != a.records * (a.record_size + 1):
                raise BenchError(f"{out_file} has {lines} lines and {size} bytes; expected {a.records} lines of "
                                 f"{a.record_size + 1} bytes")
            out_file.unlink()
    finally:
        worker.kill()

    counted = a.records - first["written"]
    seconds = last["t"] - first["t"]
    mb = counted * bytes_per_record / 1e6
    worker_cpu = last["worker_cpu"] - first["worker_cpu"]
    result.update({
        "records": counted,
        "seconds": round(seconds, 3),
        "bytes_per_record": round(bytes_per_record, 1),
        "mb": round(mb, 3),
        "records_per_sec": round(counted / seconds, 1),
        "mb_per_sec": round(mb / seconds, 3),
        "worker_cpu_seconds": round(worker_cpu, 3),
        "worker_cpu_seconds_per_mb": round(worker_cpu / mb, 4) if mb else None,
        "worker_cpu_cores": round(worker_cpu / seconds, 2),
        "worker_cpu_before_first_record_s": round(first["worker_cpu"] - cpu_at_ready, 3),
    })
    if first["broker_cpu"] is not None and last["broker_cpu"] is not None:
        broker_cpu = last["broker_cpu"] - first["broker_cpu"]
        result["broker_cpu_seconds"] = round(broker_cpu, 3)
        result["broker_cpu_seconds_per_mb"] = round(broker_cpu / mb, 4) if mb else None
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    log(f"{name}: {counted} records in {seconds:.2f}s: {counted / seconds:,.0f} records/s, {mb / seconds:.1f} MB/s; "
        f"worker {worker_cpu:.2f} CPU s ({worker_cpu / mb if mb else 0:.4f} s/MB), "
        f"VmHWM {result['worker_vm_hwm_mib']} MiB")


# --- summarize ------------------------------------------------------------------------------------------------

def cmd_summarize(a):
    rows = [json.loads(p.read_text()) for p in sorted(Path(a.results).glob("*.json"))]
    rows.sort(key=lambda r: r.get("order", 0))
    doc = {
        "machine": a.machine, "cpu": a.cpu, "load_at_end": a.load, "sluice_version": a.version, "git": a.git,
        "quick": a.quick, "skipped": a.skipped or [], "results": rows,
    }
    Path(a.out).write_text(json.dumps(doc, indent=2) + "\n")

    def f(v, fmt):
        return "-" if v is None else fmt % v

    print(f"\n{a.machine}; {a.cpu}; load {a.load}; {a.version}; git {a.git}" + ("; --quick" if a.quick else ""))
    print("\n| workload | tasks | value converter | records | bytes/record | s | records/s | MB/s "
          "| worker CPU s | worker CPU s/MB | worker cores | broker CPU s/MB | worker VmHWM MiB | commit wait s |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        workload = "datagen source" if r["kind"] == "source" else "file sink"
        print("| %s | %d | %s | %d | %.0f | %.2f | %.0f | %.1f | %.2f | %s | %.2f | %s | %.1f | %s |" % (
            workload, r["tasks_max"], r["value_converter"].rsplit(".", 1)[1], r["records"], r["bytes_per_record"],
            r["seconds"], r["records_per_sec"], r["mb_per_sec"], r["worker_cpu_seconds"],
            f(r["worker_cpu_seconds_per_mb"], "%.3f"), r["worker_cpu_cores"],
            f(r.get("broker_cpu_seconds_per_mb"), "%.3f"), r["worker_vm_hwm_mib"],
            f(r.get("commit_wait_s"), "%.2f")))
    for s in a.skipped or []:
        print(f"\nskipped: {s}")
    print("\nwritten to", a.out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    pf = sub.add_parser("prefill", help="write the sink runs' input topic")
    pf.add_argument("--bin", required=True)
    pf.add_argument("--bootstrap", required=True)
    pf.add_argument("--work", required=True, help="directory for the producer's log")
    pf.add_argument("--topic", required=True)
    pf.add_argument("--partitions", type=int, default=6)
    pf.add_argument("--records", type=int, required=True)
    pf.add_argument("--record-size", type=int, default=1024)

    r = sub.add_parser("run", help="one connector in a fresh worker")
    r.add_argument("--bin", required=True)
    r.add_argument("--bootstrap", required=True)
    r.add_argument("--work", required=True, help="directory for the worker's files")
    r.add_argument("--name", required=True, help="connector name (also the file prefix)")
    r.add_argument("--kind", choices=["source", "sink"], required=True)
    r.add_argument("--tasks", type=int, default=1)
    r.add_argument("--converter", choices=sorted(CONVERTERS), default="json", help="value converter")
    r.add_argument("--registry", help="schema registry URL, for --converter avro")
    r.add_argument("--topic", required=True)
    r.add_argument("--partitions", type=int, default=6, help="source: partitions of the topic it creates")
    r.add_argument("--records", type=int, required=True, help="source: records to generate; sink: in the topic")
    r.add_argument("--record-size", type=int, default=1024, help="sink: bytes per record, as pre-filled")
    r.add_argument("--quickstart", default="orders", help="source: the datagen quickstart")
    r.add_argument("--flush-ms", type=int, default=1000, help="offset.flush.interval.ms")
    r.add_argument("--sample-ms", type=int, default=25)
    r.add_argument("--timeout", type=float, default=300, help="seconds the records may take in all")
    r.add_argument("--broker-pid", type=int)
    r.add_argument("--set", dest="connector_set", action="append", metavar="KEY=VALUE",
                   help="extra connector setting, e.g. producer.override.linger.ms=0; repeatable")
    r.add_argument("--order", type=int, default=0, help="position in the summary table")
    r.add_argument("--out", required=True)

    s = sub.add_parser("summarize", help="gather the runs into one JSON document and print a table")
    s.add_argument("results")
    s.add_argument("out")
    for opt in ("--machine", "--cpu", "--load", "--version", "--git"):
        s.add_argument(opt, default="")
    s.add_argument("--quick", action="store_true")
    s.add_argument("--skipped", action="append")

    a = p.parse_args()
    try:
        if a.cmd == "prefill":
            cmd_prefill(a)
        elif a.cmd == "run":
            cmd_run(a)
        else:
            cmd_summarize(a)
    except BenchError as e:
        print(f"connect: ERROR: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
