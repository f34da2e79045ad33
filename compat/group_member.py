"""A confluent-kafka group member run as its own process, so a test can kill -9
it (a member that dies without leaving the group). Prints `owned <partitions>`
whenever its assignment changes; polls until killed."""

import json
import sys

from confluent_kafka import Consumer


def main():
    bootstrap, group, topic, name, conf = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest", **json.loads(conf)})
    c.subscribe([topic])
    last = None
    while True:
        c.poll(0.1)
        owned = sorted(tp.partition for tp in c.assignment())
        if owned != last:
            print("owned " + ",".join(map(str, owned)), flush=True)
            last = owned


if __name__ == "__main__":
    main()
