"""Drives kafka-python consumer groups against a broker for tests/interop
(python_group_test.go).

Usage: kafka_python_group.py BOOTSTRAP TOPIC GROUP N K

TOPIC already holds N records. A KafkaConsumer joins GROUP and reads them; a second
one joins, so the group rebalances and the two split the partitions. The script then
produces K more records to each partition (values py2-<partition>-<i>), which the two
members read between them. Each member runs in its own thread (kafka-python's join
blocks its caller until the rebalance completes, which needs every member polling) and
commits after every poll. Both leave; a third consumer joins the group later and must
find nothing left to read. Prints one JSON object for the Go test to check; any
failure raises, so the exit code is non-zero and the traceback is on stderr.
"""

import json
import logging
import os
import sys
import threading
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def text(b):
    return None if b is None else b.decode("utf-8")


class Member(threading.Thread):
    """Polls one consumer, recording what it reads, until told to stop."""

    def __init__(self, name, consumer, out, lock):
        super().__init__(daemon=True)
        self.name, self.consumer, self.out, self.lock = name, consumer, out, lock
        self.assigned = []
        self.stopping = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stopping.is_set():
                for tp, msgs in self.consumer.poll(timeout_ms=100).items():
                    with self.lock:
                        for m in msgs:
                            self.out.append({"member": self.name, "partition": m.partition,
                                             "offset": m.offset, "value": text(m.value)})
                self.consumer.commit()
                self.assigned = sorted(tp.partition for tp in self.consumer.assignment())
        except Exception as e:  # reported by the main thread
            self.error = e


def wait(cond, seconds, what):
    deadline = time.time() + seconds
    while not cond():
        if time.time() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def main():
    if os.environ.get("NAGARE_TEST_LOG"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
    n, k = int(sys.argv[4]), int(sys.argv[5])
    common = dict(bootstrap_servers=bootstrap, request_timeout_ms=30000,
                  api_version_auto_timeout_ms=10000)
    consumer_config = dict(group_id=group, client_id="py-" + group,
                           auto_offset_reset="earliest", enable_auto_commit=False,
                           session_timeout_ms=6000, heartbeat_interval_ms=200,
                           max_poll_interval_ms=20000, fetch_max_wait_ms=100, **common)
    consumed, lock = [], threading.Lock()
    members = [Member("first", KafkaConsumer(topic, **consumer_config), consumed, lock)]
    members[0].start()

    def count():
        with lock:
            return len(consumed)

    def check():
        for m in members:
            if m.error is not None:
                raise m.error

    wait(lambda: check() or count() >= n, 30, "first member read %d of %d" % (count(), n))
    members.append(Member("second", KafkaConsumer(topic, **consumer_config), consumed, lock))
    members[1].start()

    def split():
        check()
        a, b = (set(m.assigned) for m in members)
        return a and b and not (a & b)

    wait(split, 30, "members never split the partitions: %s" % [m.assigned for m in members])
    assignments = {m.name: list(m.assigned) for m in members}

    producer = KafkaProducer(acks="all", **common)
    partitions = sorted(members[0].consumer.partitions_for_topic(topic))
    for p in partitions:
        for i in range(k):
            producer.send(topic, partition=p, value=("py2-%d-%d" % (p, i)).encode())
    producer.flush(timeout=10)
    producer.close(timeout=10)
    total = n + k * len(partitions)
    wait(lambda: check() or count() >= total, 30, "members read %d of %d" % (count(), total))
    time.sleep(0.5)  # a duplicate would arrive by now

    for m in members:
        m.stopping.set()
    for m in members:
        m.join(timeout=30)
    check()
    tps = [TopicPartition(topic, p) for p in partitions]
    committed = {str(tp.partition): members[0].consumer.committed(tp) for tp in tps}
    for m in members:
        m.consumer.close(autocommit=False)

    late = KafkaConsumer(topic, consumer_timeout_ms=3000, **consumer_config)
    late_values = [text(m.value) for m in late]
    late.close(autocommit=False)

    json.dump({"consumed": consumed, "assignments": assignments, "committed": committed,
               "late": late_values}, sys.stdout)


if __name__ == "__main__":
    main()
