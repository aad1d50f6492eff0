// Package compress decompresses and compresses the records of a Kafka record batch by
// the batch's codec id (the low three bits of its attributes): 0 none, 1 gzip, 2 snappy,
// 3 lz4, 4 zstd. The log cleaner uses it to look inside batches and to re-compress the
// batches it rewrites; produce validation and other readers that must see records use
// it too.
//
// Framing is what Kafka clients and brokers exchange:
//
//   - gzip: an RFC 1952 stream (one or more members).
//   - snappy: the Java client (xerial snappy-java) writes its own framing: the 8-byte
//     magic 0x82 "SNAPPY" 0x00, a version and a minimum compatible version (int32
//     big-endian, both 1), then chunks of int32 big-endian length + one raw snappy
//     block. librdkafka and franz-go may write one raw snappy block instead. Decompress
//     accepts both; Compress writes xerial framing with 32 KiB chunks, as the Java
//     producer and broker do, which every client reads.
//   - lz4: the LZ4 frame format. Compress writes 64 KiB independent blocks without
//     block or content checksums, as Kafka's KafkaLZ4BlockOutputStream does.
//   - zstd: one or more zstd frames.
//
// Decompression is bounded: the caller passes a limit on the decompressed size, so a
// small hostile batch cannot make the broker allocate without bound.
//
// Everything here is safe for concurrent use; codec state is pooled.
package compress
