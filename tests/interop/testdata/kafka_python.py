"""Drives kafka-python against a broker for tests/interop (python_test.go).

Usage: kafka_python.py BOOTSTRAP TOPIC N

Creates TOPIC with two partitions, produces N records three times (acks=all to
partition 0, acks=all with gzip to partition 1, acks=1 to partition 0), reads them all
back without a consumer group, seeks to an offset, looks up offsets, and prints one
JSON object for the Go test to check. Any failure raises, so the exit code is non-zero
and the traceback is on stderr.
"""

import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic


def text(b):
    return None if b is None else b.decode("utf-8")


def main():
    bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    common = dict(bootstrap_servers=bootstrap, request_timeout_ms=10000,
                  api_version_auto_timeout_ms=10000)
    out = {}

    admin = KafkaAdminClient(**common)
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)],
                        timeout_ms=10000)
    out["topics"] = sorted(admin.list_topics())
    admin.close()

    produced = []
    runs = (("plain", 0, "all", None), ("gzip", 1, "all", "gzip"), ("acks1", 0, 1, None))
    for label, partition, acks, compression in runs:
        producer = KafkaProducer(acks=acks, compression_type=compression, linger_ms=20,
                                 max_block_ms=10000, **common)
        out["api_version"] = producer.config["api_version"]
        futures = [producer.send(topic, partition=partition, key=b"k%d" % i,
                                 value=("%s-%d" % (label, i)).encode(),
                                 headers=[("src", label.encode()), ("i", str(i).encode())])
                   for i in range(n)]
        producer.flush(timeout=10)
        for f in futures:
            md = f.get(timeout=10)
            produced.append({"label": label, "partition": md.partition, "offset": md.offset})
        producer.close(timeout=10)
        time.sleep(0.02)  # later runs get later timestamps, for offsets_for_times
    out["produced"] = produced

    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    consumer = KafkaConsumer(group_id=None, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=5000,
                             fetch_max_wait_ms=100, **common)
    consumer.assign(tps)
    consumed = []
    deadline = time.time() + 20
    while len(consumed) < 3 * n and time.time() < deadline:
        for tp, msgs in consumer.poll(timeout_ms=500).items():
            for m in msgs:
                consumed.append({"partition": m.partition, "offset": m.offset,
                                 "key": text(m.key), "value": text(m.value),
                                 "headers": [[k, text(v)] for k, v in m.headers],
                                 "timestamp": m.timestamp})
    consumed.sort(key=lambda r: (r["partition"], r["offset"]))
    out["consumed"] = consumed

    out["beginning"] = {str(tp.partition): o for tp, o in consumer.beginning_offsets(tps).items()}
    out["end"] = {str(tp.partition): o for tp, o in consumer.end_offsets(tps).items()}
    # The first acks=1 record: offsets_for_times at its timestamp must find it.
    first_acks1 = next(r for r in consumed if r["value"] == "acks1-0")
    found = consumer.offsets_for_times({tps[0]: first_acks1["timestamp"]})[tps[0]]
    out["for_time"] = {"timestamp": first_acks1["timestamp"],
                       "offset": None if found is None else found.offset}

    consumer.seek(tps[1], 5)
    seeked = None
    deadline = time.time() + 10
    while seeked is None and time.time() < deadline:
        for tp, msgs in consumer.poll(timeout_ms=500, max_records=1).items():
            if msgs and tp.partition == 1:
                seeked = {"offset": msgs[0].offset, "value": text(msgs[0].value)}
    out["seeked"] = seeked
    consumer.close()

    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
