package config

import (
	"cmp"
	"slices"
	"strings"
)

// Kind says which resource a config belongs to. A few names (min.insync.replicas,
// compression.type, unclean.leader.election.enable, compression.*.level) are both a topic
// config and a broker config, with the broker value as the topic's default.
type Kind uint8

// Config kinds; a Definition's Kinds is a set of them.
const (
	KindTopic  Kind = 1 << iota // settable per topic (CreateTopics, AlterConfigs on TOPIC)
	KindBroker                  // settable on the broker (properties, AlterConfigs on BROKER)
)

// UpdateMode says whether and where a broker config may change at run time, as Kafka's docs
// list it ("Update Mode").
type UpdateMode uint8

// Update modes.
const (
	// ReadOnly: only the properties file sets it; a change needs a restart.
	ReadOnly UpdateMode = iota
	// PerBroker: settable at run time for one broker only.
	PerBroker
	// ClusterWide: settable at run time for every broker (cluster default) or, as Kafka
	// allows for testing, for one broker.
	ClusterWide
)

// String is the mode as Kafka's docs print it.
func (m UpdateMode) String() string {
	switch m {
	case PerBroker:
		return "per-broker"
	case ClusterWide:
		return "cluster-wide"
	}
	return "read-only"
}

// Definition is one row of the table: everything Nagare knows about a config name.
type Definition struct {
	Name  string // Kafka's name, the key in properties files and on the wire
	Kinds Kind   // topic config, broker config, or both
	Type  Type
	// Default is the value as Kafka prints it in DescribeConfigs and its docs.
	Default string
	// NoDefault means Kafka's default is null: the config is unset unless configured, and
	// readers fall back to its synonyms (log.retention.ms falls back to .minutes, .hours).
	NoDefault bool
	Doc       string // one line, returned by DescribeConfigs v3+
	// Sensitive configs are never echoed: DescribeConfigs returns a null value.
	Sensitive bool
	// Update is the broker side's run-time update mode; topic configs can always change.
	Update UpdateMode
	// Synonyms, for topic configs, are the broker configs that supply the topic's value when
	// it has no override, in Kafka's precedence order (ServerTopicConfigSynonyms). Names
	// ending in .minutes or .hours are converted to milliseconds.
	Synonyms []string
	// Fallback, for broker configs, is the config the typed getters read when this one is
	// unset (log.dirs reads log.dir). Kafka does not list these as DescribeConfigs synonyms.
	Fallback string

	valid validator // nil: any value of the type
}

// Values Kafka prints for Long.MAX_VALUE and Double.MAX_VALUE defaults.
const (
	maxLong   = "9223372036854775807"
	maxInt    = "2147483647"
	maxDouble = "1.7976931348623157E308"
)

// table is every config Nagare knows, topic and broker, in one place. Names, types,
// defaults, ranges and update modes follow Kafka 4.0's generated docs, except where a row
// says "Nagare:". Keep rows grouped by concern; lookups go through the indexes below.
var table = []Definition{
	// ---- Topic configs (and their broker synonyms' topic-side rows). ----
	{Name: "cleanup.policy", Kinds: KindTopic, Type: TypeList, Default: "delete",
		Doc:      "Retention policy for old segments: delete, compact, or both (compact,delete).",
		Synonyms: []string{"log.cleanup.policy"}, valid: listOf("compact", "delete")},
	{Name: "compression.type", Kinds: KindTopic | KindBroker, Type: TypeString, Default: "producer", Update: ClusterWide,
		Doc:      "Final compression of stored batches; producer keeps the producer's codec.",
		Synonyms: []string{"compression.type"}, valid: oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")},
	{Name: "compression.gzip.level", Kinds: KindTopic | KindBroker, Type: TypeInt, Default: "-1", Update: ClusterWide,
		Doc:      "Compression level when compression.type is gzip.",
		Synonyms: []string{"compression.gzip.level"}, valid: gzipLevel},
	{Name: "compression.lz4.level", Kinds: KindTopic | KindBroker, Type: TypeInt, Default: "9", Update: ClusterWide,
		Doc:      "Compression level when compression.type is lz4.",
		Synonyms: []string{"compression.lz4.level"}, valid: between(1, 17)},
	{Name: "compression.zstd.level", Kinds: KindTopic | KindBroker, Type: TypeInt, Default: "3", Update: ClusterWide,
		Doc:      "Compression level when compression.type is zstd.",
		Synonyms: []string{"compression.zstd.level"}, valid: between(-131072, 22)},
	{Name: "delete.retention.ms", Kinds: KindTopic, Type: TypeLong, Default: "86400000",
		Doc:      "How long delete tombstones are kept in compacted topics.",
		Synonyms: []string{"log.cleaner.delete.retention.ms"}, valid: atLeast(0)},
	{Name: "file.delete.delay.ms", Kinds: KindTopic, Type: TypeLong, Default: "60000",
		Doc:      "Time to wait before deleting a removed segment's files.",
		Synonyms: []string{"log.segment.delete.delay.ms"}, valid: atLeast(0)},
	{Name: "flush.messages", Kinds: KindTopic, Type: TypeLong, Default: maxLong,
		Doc:      "Force an fsync after this many messages.",
		Synonyms: []string{"log.flush.interval.messages"}, valid: atLeast(1)},
	{Name: "flush.ms", Kinds: KindTopic, Type: TypeLong, Default: maxLong,
		Doc:      "Force an fsync when unflushed data is this old.",
		Synonyms: []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}, valid: atLeast(0)},
	// Nagare: the two throttled-replicas lists have no broker synonym, as in Kafka (the only
	// topic configs without one); throttle.go parses them.
	{Name: "follower.replication.throttled.replicas", Kinds: KindTopic, Type: TypeList, Default: "",
		Doc: "Replicas whose replication the follower throttles: partition:broker pairs, or * for all.", valid: throttledReplicas},
	{Name: "index.interval.bytes", Kinds: KindTopic, Type: TypeInt, Default: "4096",
		Doc:      "Bytes of log between offset index entries.",
		Synonyms: []string{"log.index.interval.bytes"}, valid: atLeast(0)},
	{Name: "leader.replication.throttled.replicas", Kinds: KindTopic, Type: TypeList, Default: "",
		Doc: "Replicas whose replication the leader throttles: partition:broker pairs, or * for all.", valid: throttledReplicas},
	{Name: "max.compaction.lag.ms", Kinds: KindTopic, Type: TypeLong, Default: maxLong,
		Doc:      "Longest time a record stays ineligible for compaction.",
		Synonyms: []string{"log.cleaner.max.compaction.lag.ms"}, valid: atLeast(1)},
	{Name: "max.message.bytes", Kinds: KindTopic, Type: TypeInt, Default: "1048588",
		Doc:      "Largest record batch accepted, after compression.",
		Synonyms: []string{"message.max.bytes"}, valid: atLeast(0)},
	{Name: "message.timestamp.after.max.ms", Kinds: KindTopic, Type: TypeLong, Default: "3600000",
		Doc:      "How far in the future a CreateTime timestamp may be.",
		Synonyms: []string{"log.message.timestamp.after.max.ms"}, valid: atLeast(0)},
	{Name: "message.timestamp.before.max.ms", Kinds: KindTopic, Type: TypeLong, Default: maxLong,
		Doc:      "How far in the past a CreateTime timestamp may be.",
		Synonyms: []string{"log.message.timestamp.before.max.ms"}, valid: atLeast(0)},
	{Name: "message.timestamp.type", Kinds: KindTopic, Type: TypeString, Default: "CreateTime",
		Doc:      "Whether record timestamps are the producer's (CreateTime) or the broker's (LogAppendTime).",
		Synonyms: []string{"log.message.timestamp.type"}, valid: oneOf("CreateTime", "LogAppendTime")},
	{Name: "min.cleanable.dirty.ratio", Kinds: KindTopic, Type: TypeDouble, Default: "0.5",
		Doc:      "Dirty fraction of the log that makes it eligible for compaction.",
		Synonyms: []string{"log.cleaner.min.cleanable.ratio"}, valid: betweenDouble(0, 1)},
	{Name: "min.compaction.lag.ms", Kinds: KindTopic, Type: TypeLong, Default: "0",
		Doc:      "Shortest time a record stays uncompacted.",
		Synonyms: []string{"log.cleaner.min.compaction.lag.ms"}, valid: atLeast(0)},
	{Name: "min.insync.replicas", Kinds: KindTopic | KindBroker, Type: TypeInt, Default: "1", Update: ClusterWide,
		Doc:      "In-sync replicas that must have a write before an acks=all produce succeeds.",
		Synonyms: []string{"min.insync.replicas"}, valid: atLeast(1)},
	{Name: "preallocate", Kinds: KindTopic, Type: TypeBoolean, Default: "false",
		Doc:      "Preallocate segment files on disk when a segment is created.",
		Synonyms: []string{"log.preallocate"}},
	{Name: "retention.bytes", Kinds: KindTopic, Type: TypeLong, Default: "-1",
		Doc:      "Largest a partition grows before old segments are deleted; -1 is no limit.",
		Synonyms: []string{"log.retention.bytes"}},
	{Name: "retention.ms", Kinds: KindTopic, Type: TypeLong, Default: "604800000",
		Doc:      "Age after which old segments are deleted; -1 is no limit.",
		Synonyms: []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}, valid: atLeast(-1)},
	{Name: "segment.bytes", Kinds: KindTopic, Type: TypeInt, Default: "1073741824",
		Doc:      "Size at which the active segment is rolled.",
		Synonyms: []string{"log.segment.bytes"}, valid: atLeast(14)},
	{Name: "segment.index.bytes", Kinds: KindTopic, Type: TypeInt, Default: "10485760",
		Doc:      "Preallocated size of each segment's offset index.",
		Synonyms: []string{"log.index.size.max.bytes"}, valid: atLeast(4)},
	{Name: "segment.jitter.ms", Kinds: KindTopic, Type: TypeLong, Default: "0",
		Doc:      "Largest random jitter subtracted from segment.ms to spread rolls.",
		Synonyms: []string{"log.roll.jitter.ms", "log.roll.jitter.hours"}, valid: atLeast(0)},
	{Name: "segment.ms", Kinds: KindTopic, Type: TypeLong, Default: "604800000",
		Doc:      "Age at which the active segment is rolled even if not full.",
		Synonyms: []string{"log.roll.ms", "log.roll.hours"}, valid: atLeast(1)},
	{Name: "unclean.leader.election.enable", Kinds: KindTopic | KindBroker, Type: TypeBoolean, Default: "false", Update: ClusterWide,
		Doc:      "Allow an out-of-sync replica to become leader as a last resort, losing data.",
		Synonyms: []string{"unclean.leader.election.enable"}},

	// ---- Broker: identity, listeners, requests. ----
	// Nagare: node.id defaults to 1 so a broker started without settings is a one-node
	// cluster; Kafka requires it in KRaft mode.
	{Name: "node.id", Kinds: KindBroker, Type: TypeInt, Default: "1", Fallback: "broker.id",
		Doc: "This node's id in the cluster.", valid: atLeast(0)},
	{Name: "broker.id", Kinds: KindBroker, Type: TypeInt, Default: "-1",
		Doc: "Older name for node.id; must match it when both are set."},
	{Name: "log.dirs", Kinds: KindBroker, Type: TypeList, NoDefault: true, Fallback: "log.dir",
		Doc: "Directories where partition logs are stored; if unset, log.dir is used.", valid: nonEmptyList},
	// Nagare: log.dirs and log.dir are LIST, as in Kafka 4.1+ (4.0 documents STRING).
	// Nagare: ./data, where `nagare serve` keeps data by default (Kafka: /tmp/kafka-logs).
	{Name: "log.dir", Kinds: KindBroker, Type: TypeList, Default: "./data",
		Doc: "Directory where partition logs are stored, when log.dirs is unset.", valid: nonEmptyList},
	// Nagare: 127.0.0.1, so a broker started without settings is not reachable from other
	// hosts (Kafka: PLAINTEXT://:9092).
	{Name: "listeners", Kinds: KindBroker, Type: TypeString, Default: "PLAINTEXT://127.0.0.1:9092", Update: PerBroker,
		Doc: "Comma-separated NAME://host:port addresses to listen on.", valid: listenerList},
	{Name: "advertised.listeners", Kinds: KindBroker, Type: TypeString, NoDefault: true,
		Doc: "Addresses given to clients in metadata; if unset, listeners is used.", valid: advertisedListenerList},
	{Name: "listener.security.protocol.map", Kinds: KindBroker, Type: TypeString, Update: PerBroker,
		Default: "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT",
		Doc:     "Security protocol of each listener name, as NAME:PROTOCOL pairs.", valid: protocolMap},
	// ---- Broker: clustering (KRaft). ----
	// Nagare: process.roles may be empty (Kafka requires it): a node without cluster
	// settings is a one-node cluster, its own only voter.
	{Name: "process.roles", Kinds: KindBroker, Type: TypeList, Default: "",
		Doc: "The roles of this node: broker, controller, or both; empty for a one-node cluster.", valid: roleList},
	{Name: "controller.quorum.voters", Kinds: KindBroker, Type: TypeList, Default: "",
		Doc: "The metadata quorum's voters as id@host:port entries (the CONTROLLER listeners).", valid: voterList},
	{Name: "controller.listener.names", Kinds: KindBroker, Type: TypeString, NoDefault: true,
		Doc: "Listener names used by the metadata quorum; Kafka clients are not served on them.", valid: nameList},
	{Name: "inter.broker.listener.name", Kinds: KindBroker, Type: TypeString, NoDefault: true,
		Doc: "Listener brokers use to reach each other; if unset, the first listener."},
	{Name: "broker.rack", Kinds: KindBroker, Type: TypeString, NoDefault: true,
		Doc: "Rack of this broker, for rack-aware replica placement."},
	{Name: "broker.heartbeat.interval.ms", Kinds: KindBroker, Type: TypeInt, Default: "2000",
		Doc: "How often the broker heartbeats the active controller.", valid: atLeast(1)},
	{Name: "broker.session.timeout.ms", Kinds: KindBroker, Type: TypeInt, Default: "9000",
		Doc: "A broker that sends the active controller no heartbeat for this long is fenced and its leaderships move.", valid: atLeast(1)},
	{Name: "metadata.max.idle.interval.ms", Kinds: KindBroker, Type: TypeInt, Default: "500",
		Doc: "The active controller appends a NoOp record to the metadata log when it has been idle this long, so that a broker that stopped receiving the log falls behind and loses its session; 0 turns it off.", valid: atLeast(0)},
	{Name: "auto.leader.rebalance.enable", Kinds: KindBroker, Type: TypeBoolean, Default: "true",
		Doc: "The active controller moves leadership back to preferred replicas when a broker's imbalance passes leader.imbalance.per.broker.percentage."},
	{Name: "leader.imbalance.check.interval.seconds", Kinds: KindBroker, Type: TypeLong, Default: "300",
		Doc: "How often the active controller checks leader imbalance.", valid: atLeast(1)},
	{Name: "leader.imbalance.per.broker.percentage", Kinds: KindBroker, Type: TypeInt, Default: "10",
		Doc: "Share of a broker's preferred partitions it may not lead before leadership is moved back to it.", valid: atLeast(0)},
	{Name: "replica.selector.class", Kinds: KindBroker, Type: TypeClass, NoDefault: true,
		Doc:   "Empty: consumers fetch from leaders only. org.apache.kafka.common.replica.RackAwareReplicaSelector: a consumer is sent to an in-sync replica in its rack (KIP-392).",
		valid: replicaSelector},
	{Name: "socket.request.max.bytes", Kinds: KindBroker, Type: TypeInt, Default: "104857600",
		Doc: "Largest request frame accepted.", valid: atLeast(1)},
	{Name: "connections.max.idle.ms", Kinds: KindBroker, Type: TypeLong, Default: "600000",
		Doc: "Idle connections are closed after this long."},
	{Name: "connections.max.reauth.ms", Kinds: KindBroker, Type: TypeLong, Default: "0",
		Doc: "When positive, SASL sessions must re-authenticate within this time."},
	{Name: "max.connections", Kinds: KindBroker, Type: TypeInt, Default: maxInt, Update: ClusterWide,
		Doc: "Most connections the broker accepts at once.", valid: atLeast(0)},
	{Name: "max.connections.per.ip", Kinds: KindBroker, Type: TypeInt, Default: maxInt, Update: ClusterWide,
		Doc: "Most connections accepted from one IP address.", valid: atLeast(0)},
	{Name: "fetch.max.bytes", Kinds: KindBroker, Type: TypeInt, Default: "57671680",
		Doc: "Most bytes returned for one fetch request.", valid: atLeast(1024)},
	{Name: "message.max.bytes", Kinds: KindBroker, Type: TypeInt, Default: "1048588", Update: ClusterWide,
		Doc: "Largest record batch accepted (topic override: max.message.bytes).", valid: atLeast(0)},

	// ---- Broker: topics and the log. ----
	{Name: "auto.create.topics.enable", Kinds: KindBroker, Type: TypeBoolean, Default: "true",
		Doc: "Create a topic when a client asks for metadata or produces to one that does not exist."},
	{Name: "num.partitions", Kinds: KindBroker, Type: TypeInt, Default: "1",
		Doc: "Partitions of an auto-created topic or one created with -1 partitions.", valid: atLeast(1)},
	{Name: "default.replication.factor", Kinds: KindBroker, Type: TypeInt, Default: "1",
		Doc: "Replication factor of an auto-created topic or one created with -1."},
	{Name: "delete.topic.enable", Kinds: KindBroker, Type: TypeBoolean, Default: "true",
		Doc: "Whether DeleteTopics is allowed."},
	{Name: "log.segment.bytes", Kinds: KindBroker, Type: TypeInt, Default: "1073741824", Update: ClusterWide,
		Doc: "Default segment.bytes: size at which a segment is rolled.", valid: atLeast(1048576)},
	{Name: "log.roll.ms", Kinds: KindBroker, Type: TypeLong, NoDefault: true, Update: ClusterWide,
		Doc: "Default segment.ms; if unset, log.roll.hours is used."},
	{Name: "log.roll.hours", Kinds: KindBroker, Type: TypeInt, Default: "168",
		Doc: "Default segment.ms in hours, when log.roll.ms is unset.", valid: atLeast(1)},
	{Name: "log.roll.jitter.ms", Kinds: KindBroker, Type: TypeLong, NoDefault: true, Update: ClusterWide,
		Doc: "Default segment.jitter.ms; if unset, log.roll.jitter.hours is used."},
	{Name: "log.roll.jitter.hours", Kinds: KindBroker, Type: TypeInt, Default: "0",
		Doc: "Default segment.jitter.ms in hours, when log.roll.jitter.ms is unset.", valid: atLeast(0)},
	{Name: "log.retention.ms", Kinds: KindBroker, Type: TypeLong, NoDefault: true, Update: ClusterWide,
		Doc: "Default retention.ms; if unset, log.retention.minutes is used; -1 is no limit."},
	{Name: "log.retention.minutes", Kinds: KindBroker, Type: TypeInt, NoDefault: true,
		Doc: "Default retention.ms in minutes, when log.retention.ms is unset."},
	{Name: "log.retention.hours", Kinds: KindBroker, Type: TypeInt, Default: "168",
		Doc: "Default retention.ms in hours, when log.retention.ms and .minutes are unset."},
	{Name: "log.retention.bytes", Kinds: KindBroker, Type: TypeLong, Default: "-1", Update: ClusterWide,
		Doc: "Default retention.bytes; -1 is no limit."},
	{Name: "log.retention.check.interval.ms", Kinds: KindBroker, Type: TypeLong, Default: "300000",
		Doc: "How often logs are checked for segments to delete.", valid: atLeast(1)},
	{Name: "log.cleanup.policy", Kinds: KindBroker, Type: TypeList, Default: "delete", Update: ClusterWide,
		Doc: "Default cleanup.policy.", valid: listOf("compact", "delete")},
	{Name: "log.index.size.max.bytes", Kinds: KindBroker, Type: TypeInt, Default: "10485760", Update: ClusterWide,
		Doc: "Default segment.index.bytes.", valid: atLeast(4)},
	{Name: "log.index.interval.bytes", Kinds: KindBroker, Type: TypeInt, Default: "4096", Update: ClusterWide,
		Doc: "Default index.interval.bytes.", valid: atLeast(0)},
	{Name: "log.flush.interval.messages", Kinds: KindBroker, Type: TypeLong, Default: maxLong, Update: ClusterWide,
		Doc: "Default flush.messages.", valid: atLeast(1)},
	{Name: "log.flush.interval.ms", Kinds: KindBroker, Type: TypeLong, NoDefault: true, Update: ClusterWide,
		Doc: "Default flush.ms; if unset, log.flush.scheduler.interval.ms is used."},
	{Name: "log.flush.scheduler.interval.ms", Kinds: KindBroker, Type: TypeLong, Default: maxLong,
		Doc: "How often logs are checked for data to flush."},
	{Name: "log.flush.offset.checkpoint.interval.ms", Kinds: KindBroker, Type: TypeInt, Default: "60000",
		Doc: "How often the recovery point checkpoint is written.", valid: atLeast(0)},
	// ---- Broker: partition replication (internal/replica, partition/replication.go). ----
	{Name: "replica.lag.time.max.ms", Kinds: KindBroker, Type: TypeLong, Default: "30000",
		Doc: "A follower that has not caught up with the leader for this long leaves the ISR.", valid: atLeast(1)},
	{Name: "replica.fetch.wait.max.ms", Kinds: KindBroker, Type: TypeInt, Default: "500",
		Doc: "Longest a follower's fetch waits at the leader for data.", valid: atLeast(0)},
	{Name: "replica.fetch.min.bytes", Kinds: KindBroker, Type: TypeInt, Default: "1",
		Doc: "Bytes a follower's fetch waits for before the leader answers.", valid: atLeast(1)},
	{Name: "replica.fetch.max.bytes", Kinds: KindBroker, Type: TypeInt, Default: "1048576",
		Doc: "Bytes a follower fetches per partition (at least one batch).", valid: atLeast(0)},
	{Name: "replica.fetch.response.max.bytes", Kinds: KindBroker, Type: TypeInt, Default: "10485760",
		Doc: "Bytes a follower fetches per request (at least one batch).", valid: atLeast(0)},
	{Name: "replica.fetch.backoff.ms", Kinds: KindBroker, Type: TypeInt, Default: "1000",
		Doc: "Pause of a follower's fetcher after a failed fetch.", valid: atLeast(0)},
	{Name: "replica.high.watermark.checkpoint.interval.ms", Kinds: KindBroker, Type: TypeLong, Default: "5000",
		Doc: "How often the high watermarks are written to replication-offset-checkpoint.", valid: atLeast(1)},
	{Name: "log.segment.delete.delay.ms", Kinds: KindBroker, Type: TypeLong, Default: "60000", Update: ClusterWide,
		Doc: "Default file.delete.delay.ms.", valid: atLeast(0)},
	{Name: "log.preallocate", Kinds: KindBroker, Type: TypeBoolean, Default: "false", Update: ClusterWide,
		Doc: "Default preallocate."},
	// Nagare: the active segment keeps this much disk allocated past its end (fallocate,
	// size unchanged), so appends never wait for ext4's delayed allocation at writeback.
	{Name: "nagare.log.preallocate.ahead.bytes", Kinds: KindBroker, Type: TypeLong, Default: "4194304",
		Doc: "Disk each partition's active segment keeps allocated past its end, taken in steps of this size; 0 turns it off.", valid: atLeast(0)},
	{Name: "log.message.timestamp.type", Kinds: KindBroker, Type: TypeString, Default: "CreateTime", Update: ClusterWide,
		Doc: "Default message.timestamp.type.", valid: oneOf("CreateTime", "LogAppendTime")},
	{Name: "log.message.timestamp.before.max.ms", Kinds: KindBroker, Type: TypeLong, Default: maxLong, Update: ClusterWide,
		Doc: "Default message.timestamp.before.max.ms.", valid: atLeast(0)},
	{Name: "log.message.timestamp.after.max.ms", Kinds: KindBroker, Type: TypeLong, Default: "3600000", Update: ClusterWide,
		Doc: "Default message.timestamp.after.max.ms.", valid: atLeast(0)},

	// ---- Broker: the log cleaner (compaction). ----
	{Name: "log.cleaner.enable", Kinds: KindBroker, Type: TypeBoolean, Default: "true",
		Doc: "Run the log cleaner; compacted topics (and __consumer_offsets) grow without it."},
	{Name: "log.cleaner.threads", Kinds: KindBroker, Type: TypeInt, Default: "1", Update: ClusterWide,
		Doc: "Background threads that compact logs.", valid: atLeast(0)},
	{Name: "log.cleaner.io.max.bytes.per.second", Kinds: KindBroker, Type: TypeDouble, Default: maxDouble, Update: ClusterWide,
		Doc: "Throttle on the cleaner's combined read and write rate."},
	{Name: "log.cleaner.dedupe.buffer.size", Kinds: KindBroker, Type: TypeLong, Default: "134217728", Update: ClusterWide,
		Doc: "Memory for key deduplication across all cleaner threads."},
	{Name: "log.cleaner.delete.retention.ms", Kinds: KindBroker, Type: TypeLong, Default: "86400000", Update: ClusterWide,
		Doc: "Default delete.retention.ms.", valid: atLeast(0)},
	{Name: "log.cleaner.min.cleanable.ratio", Kinds: KindBroker, Type: TypeDouble, Default: "0.5", Update: ClusterWide,
		Doc: "Default min.cleanable.dirty.ratio.", valid: betweenDouble(0, 1)},
	{Name: "log.cleaner.min.compaction.lag.ms", Kinds: KindBroker, Type: TypeLong, Default: "0", Update: ClusterWide,
		Doc: "Default min.compaction.lag.ms.", valid: atLeast(0)},
	{Name: "log.cleaner.max.compaction.lag.ms", Kinds: KindBroker, Type: TypeLong, Default: maxLong, Update: ClusterWide,
		Doc: "Default max.compaction.lag.ms.", valid: atLeast(1)},
	{Name: "log.cleaner.backoff.ms", Kinds: KindBroker, Type: TypeLong, Default: "15000", Update: ClusterWide,
		Doc: "Sleep when there are no logs to clean.", valid: atLeast(0)},

	// ---- Broker: groups, offsets, transactions, producer ids. ----
	{Name: "offsets.topic.num.partitions", Kinds: KindBroker, Type: TypeInt, Default: "50",
		Doc: "Partitions of __consumer_offsets; do not change after deployment.", valid: atLeast(1)},
	{Name: "offsets.topic.replication.factor", Kinds: KindBroker, Type: TypeShort, Default: "3",
		Doc: "Replication factor of __consumer_offsets.", valid: atLeast(1)},
	{Name: "offsets.retention.minutes", Kinds: KindBroker, Type: TypeInt, Default: "10080",
		Doc: "How long committed offsets of an empty group are kept.", valid: atLeast(1)},
	{Name: "offsets.retention.check.interval.ms", Kinds: KindBroker, Type: TypeLong, Default: "600000",
		Doc: "How often expired offsets are looked for.", valid: atLeast(1)},
	{Name: "offset.metadata.max.bytes", Kinds: KindBroker, Type: TypeInt, Default: "4096",
		Doc: "Largest metadata string accepted with an offset commit."},
	{Name: "group.initial.rebalance.delay.ms", Kinds: KindBroker, Type: TypeInt, Default: "3000",
		Doc: "Wait for more members before a new group's first rebalance."},
	{Name: "group.min.session.timeout.ms", Kinds: KindBroker, Type: TypeInt, Default: "6000",
		Doc: "Shortest session timeout a consumer may ask for."},
	{Name: "group.max.session.timeout.ms", Kinds: KindBroker, Type: TypeInt, Default: "1800000",
		Doc: "Longest session timeout a consumer may ask for."},
	{Name: "group.consumer.session.timeout.ms", Kinds: KindBroker, Type: TypeInt, Default: "45000",
		Doc: "Session timeout of KIP-848 consumer group members.", valid: atLeast(1)},
	{Name: "group.consumer.heartbeat.interval.ms", Kinds: KindBroker, Type: TypeInt, Default: "5000",
		Doc: "Heartbeat interval given to KIP-848 consumer group members.", valid: atLeast(1)},
	{Name: "group.max.size", Kinds: KindBroker, Type: TypeInt, Default: maxInt,
		Doc: "Most members one classic consumer group may have.", valid: atLeast(1)},
	{Name: "group.share.session.timeout.ms", Kinds: KindBroker, Type: TypeInt, Default: "45000",
		Doc: "Session timeout of share group members (KIP-932).", valid: atLeast(1)},
	{Name: "group.share.heartbeat.interval.ms", Kinds: KindBroker, Type: TypeInt, Default: "5000",
		Doc: "Heartbeat interval given to share group members.", valid: atLeast(1)},
	{Name: "group.share.max.size", Kinds: KindBroker, Type: TypeInt, Default: "200",
		Doc: "Most members one share group may have.", valid: atLeast(1)},
	{Name: "group.share.record.lock.duration.ms", Kinds: KindBroker, Type: TypeInt, Default: "30000",
		Doc: "How long a share consumer holds acquired records before they are available again.", valid: atLeast(1)},
	{Name: "group.share.delivery.count.limit", Kinds: KindBroker, Type: TypeInt, Default: "5",
		Doc: "Deliveries of a share group record after which it is archived.", valid: atLeast(1)},
	{Name: "group.share.partition.max.record.locks", Kinds: KindBroker, Type: TypeInt, Default: "2000",
		Doc: "Most in-flight records of one share-partition.", valid: atLeast(1)},
	{Name: "share.auto.offset.reset", Kinds: KindBroker, Type: TypeString, Default: "latest",
		Doc: "Where a new share-partition starts: latest or earliest (a group config in Kafka; a broker-wide default here)."},
	{Name: "share.coordinator.state.topic.num.partitions", Kinds: KindBroker, Type: TypeInt, Default: "50",
		Doc: "Partitions of __share_group_state; do not change after deployment.", valid: atLeast(1)},
	{Name: "share.coordinator.state.topic.replication.factor", Kinds: KindBroker, Type: TypeShort, Default: "3",
		Doc: "Replication factor of __share_group_state.", valid: atLeast(1)},
	{Name: "share.coordinator.state.topic.min.isr", Kinds: KindBroker, Type: TypeInt, Default: "2",
		Doc: "min.insync.replicas of __share_group_state.", valid: atLeast(1)},
	{Name: "transaction.state.log.num.partitions", Kinds: KindBroker, Type: TypeInt, Default: "50",
		Doc: "Partitions of __transaction_state; do not change after deployment.", valid: atLeast(1)},
	{Name: "transaction.state.log.replication.factor", Kinds: KindBroker, Type: TypeShort, Default: "3",
		Doc: "Replication factor of __transaction_state.", valid: atLeast(1)},
	{Name: "transaction.state.log.min.isr", Kinds: KindBroker, Type: TypeInt, Default: "2",
		Doc: "min.insync.replicas of __transaction_state.", valid: atLeast(1)},
	{Name: "transactional.id.expiration.ms", Kinds: KindBroker, Type: TypeInt, Default: "604800000",
		Doc: "A transactional id with no activity for this long expires.", valid: atLeast(1)},
	{Name: "transaction.max.timeout.ms", Kinds: KindBroker, Type: TypeInt, Default: "900000",
		Doc: "Longest transaction timeout a producer may ask for.", valid: atLeast(1)},
	{Name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", Kinds: KindBroker, Type: TypeInt, Default: "10000",
		Doc: "How often transactions past their timeout are looked for and aborted.", valid: atLeast(1)},
	{Name: "transaction.remove.expired.transaction.cleanup.interval.ms", Kinds: KindBroker, Type: TypeInt, Default: "3600000",
		Doc: "How often transactional ids past transactional.id.expiration.ms are removed.", valid: atLeast(1)},
	{Name: "producer.id.expiration.ms", Kinds: KindBroker, Type: TypeInt, Default: "86400000", Update: ClusterWide,
		Doc: "A producer id with no writes for this long is forgotten by partition leaders.", valid: atLeast(1)},
	{Name: "producer.id.expiration.check.interval.ms", Kinds: KindBroker, Type: TypeInt, Default: "600000",
		Doc: "How often partitions look for producer ids past producer.id.expiration.ms.", valid: atLeast(1)},

	// ---- Broker: the read path (Nagare only; internal/readpath). ----
	// Nagare: fetched file ranges are checked for page cache residency and cold ones are
	// loaded by a bounded, per-client-fair warm-up pool before a connection writer sends
	// them, so no writer blocks on the disk (the seed's incident; KAFKA-7504 in Kafka).
	{Name: "nagare.readpath.warmup.enable", Kinds: KindBroker, Type: TypeBoolean, Default: "true",
		Doc: "Check fetched ranges for page cache residency and warm cold ones before sendfile; false sends them as read."},
	// Nagare: 0 is 4 per CPU, at least 4 and at most 64 (readpath.DefaultWorkers).
	{Name: "nagare.readpath.warmup.threads", Kinds: KindBroker, Type: TypeInt, Default: "0",
		Doc: "Warm-up workers, each blocking at most one OS thread on the disk; 0 is 4 per CPU (4 to 64).", valid: atLeast(0)},

	// ---- Broker: request metrics (Nagare only; internal/stats). ----
	// Nagare: every request is attributed to its client (principal, client id) and timed by
	// stage, for /metrics, /v1/clients and `nagare top`; the cap bounds label cardinality.
	{Name: "nagare.metrics.enable", Kinds: KindBroker, Type: TypeBoolean, Default: "true",
		Doc: "Per-request and per-client accounting (request metrics, /v1/clients, nagare top); false turns it off."},
	{Name: "nagare.metrics.max.clients", Kinds: KindBroker, Type: TypeInt, Default: "1000",
		Doc: "Clients tracked one by one in metrics; the rest are counted as client_id=\"other\".", valid: atLeast(1)},
	// Nagare: group ids are the clients' choice too; lag is exported per group and topic for
	// at most this many groups per scrape (the first by id), the rest counted as omitted.
	{Name: "nagare.metrics.max.groups", Kinds: KindBroker, Type: TypeInt, Default: "1000",
		Doc: "Consumer groups whose lag is exported in metrics (the first by group id); the rest are counted in nagare_group_lag_omitted_groups.", valid: atLeast(0)},

	// ---- Broker: quotas. ----
	{Name: "quota.window.num", Kinds: KindBroker, Type: TypeInt, Default: "11",
		Doc: "Samples kept per client quota.", valid: atLeast(1)},
	{Name: "quota.window.size.seconds", Kinds: KindBroker, Type: TypeInt, Default: "1",
		Doc: "Span of each client quota sample.", valid: atLeast(1)},
	// Replication quotas (KIP-73): bytes per second of throttled replication, leader side
	// (replica fetch responses) and follower side (replica fetch requests); throttle.go.
	{Name: "leader.replication.throttled.rate", Kinds: KindBroker, Type: TypeLong, Default: maxLong, Update: ClusterWide,
		Doc: "Bytes per second a leader sends to throttled replicas (leader.replication.throttled.replicas).", valid: atLeast(0)},
	{Name: "follower.replication.throttled.rate", Kinds: KindBroker, Type: TypeLong, Default: maxLong, Update: ClusterWide,
		Doc: "Bytes per second a follower fetches for throttled replicas (follower.replication.throttled.replicas).", valid: atLeast(0)},
	{Name: "replication.quota.window.num", Kinds: KindBroker, Type: TypeInt, Default: "11",
		Doc: "Samples kept per replication quota.", valid: atLeast(1)},
	{Name: "replication.quota.window.size.seconds", Kinds: KindBroker, Type: TypeInt, Default: "1",
		Doc: "Span of each replication quota sample.", valid: atLeast(1)},
	// Nagare: static defaults for every client, applied below Kafka's eight levels of
	// client quota entities (as a /clients/<default> quota would be), so that each client-id
	// is held to a share of broker time as shipped. Kafka removed its static defaults
	// (quota.producer.default, quota.consumer.default) in 4.0; AlterClientQuotas entries,
	// <default> ones included, override these. 0 means no default quota of that type.
	{Name: "nagare.quota.default.request.percentage", Kinds: KindBroker, Type: TypeDouble, Default: "100.0", Update: ClusterWide,
		Doc: "Broker time each client-id may use by default, in percent of one thread; 0 disables the default.", valid: betweenDouble(0, 1e9)},
	{Name: "nagare.quota.default.producer.byte.rate", Kinds: KindBroker, Type: TypeLong, Default: "0", Update: ClusterWide,
		Doc: "Produce request bytes per second each client-id may send by default; 0 disables the default.", valid: atLeast(0)},
	{Name: "nagare.quota.default.consumer.byte.rate", Kinds: KindBroker, Type: TypeLong, Default: "0", Update: ClusterWide,
		Doc: "Fetch response bytes per second each client-id may receive by default; 0 disables the default.", valid: atLeast(0)},

	// ---- Broker: security. ----
	// Nagare: SCRAM by default, and only the mechanisms it implements (Kafka: GSSAPI).
	{Name: "sasl.enabled.mechanisms", Kinds: KindBroker, Type: TypeList, Default: "SCRAM-SHA-256,SCRAM-SHA-512", Update: PerBroker,
		Doc: "SASL mechanisms offered on SASL listeners.", valid: subsetOf("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")},
	// Nagare: SCRAM-SHA-512 by default, the strongest mechanism enabled by default (Kafka:
	// GSSAPI, which Nagare does not implement).
	{Name: "sasl.mechanism.inter.broker.protocol", Kinds: KindBroker, Type: TypeString, Default: "SCRAM-SHA-512",
		Doc:   "SASL mechanism brokers authenticate with on a SASL inter-broker listener.",
		valid: oneOf("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")},
	{Name: "sasl.server.max.receive.size", Kinds: KindBroker, Type: TypeInt, Default: "524288",
		Doc: "Largest frame accepted before and during SASL authentication."},
	// Nagare: only the user_<name>="password" options of PlainLoginModule are read (PLAIN
	// users); listener.name.<listener>.plain.sasl.jaas.config overrides it per listener.
	{Name: "sasl.jaas.config", Kinds: KindBroker, Type: TypePassword, NoDefault: true, Update: PerBroker, Sensitive: true,
		Doc: "JAAS login module options; PLAIN users as user_<name>=\"password\"."},
	{Name: "connection.failed.authentication.delay.ms", Kinds: KindBroker, Type: TypeInt, Default: "100",
		Doc: "Delay before answering a failed authentication and closing its connection.", valid: atLeast(0)},
	{Name: "ssl.principal.mapping.rules", Kinds: KindBroker, Type: TypeString, Default: "DEFAULT",
		Doc: "Rules mapping a client certificate's distinguished name to a user name (RULE:pattern/replacement/[LU], DEFAULT)."},
	{Name: "ssl.enabled.protocols", Kinds: KindBroker, Type: TypeList, Default: "TLSv1.2,TLSv1.3", Update: PerBroker,
		Doc: "TLS versions accepted.", valid: subsetOf("TLSv1.2", "TLSv1.3")},
	// Nagare: empty enforces ACLs exactly when a listener authenticates clients; Kafka's
	// authorizer class names enforce them always (Kafka: empty means no authorizer).
	{Name: "authorizer.class.name", Kinds: KindBroker, Type: TypeString, Default: "",
		Doc:   "Set to Kafka's StandardAuthorizer to enforce ACLs on every listener; empty enforces them when a listener authenticates clients.",
		valid: oneOf("", "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "kafka.security.authorizer.AclAuthorizer")},
	// super.users and allow.everyone.if.no.acl.found are the authorizer's configs in Kafka.
	{Name: "super.users", Kinds: KindBroker, Type: TypeString, NoDefault: true,
		Doc: "Principals allowed everything, separated by ';' (User:admin;User:ops).", valid: principals},
	{Name: "allow.everyone.if.no.acl.found", Kinds: KindBroker, Type: TypeBoolean, Default: "false",
		Doc: "Allow an operation on a resource that has no ACLs at all."},
	// Nagare: TLS material is PEM files only, so PEM is the default and the only type (Kafka: JKS).
	{Name: "ssl.keystore.type", Kinds: KindBroker, Type: TypeString, Default: "PEM", Update: PerBroker,
		Doc: "Format of ssl.keystore.location; only PEM is supported.", valid: oneOf("PEM")},
	{Name: "ssl.keystore.location", Kinds: KindBroker, Type: TypeString, NoDefault: true, Update: PerBroker,
		Doc: "PEM file with the private key and certificate chain."},
	{Name: "ssl.key.password", Kinds: KindBroker, Type: TypePassword, NoDefault: true, Update: PerBroker, Sensitive: true,
		Doc: "Password of an encrypted private key in ssl.keystore.location."},
	{Name: "ssl.truststore.type", Kinds: KindBroker, Type: TypeString, Default: "PEM", Update: PerBroker,
		Doc: "Format of ssl.truststore.location; only PEM is supported.", valid: oneOf("PEM")},
	{Name: "ssl.truststore.location", Kinds: KindBroker, Type: TypeString, NoDefault: true, Update: PerBroker,
		Doc: "PEM bundle of CA certificates that client certificates are checked against."},
	{Name: "ssl.client.auth", Kinds: KindBroker, Type: TypeString, Default: "none", Update: PerBroker,
		Doc:   "Whether TLS clients must (required), may (requested) or need not (none) present a certificate.",
		valid: oneOf("required", "requested", "none")},
}

// index maps each kind to its definitions by name; built once from table.
type index struct {
	topic    map[string]*Definition
	broker   map[string]*Definition
	defaults map[string]value // parsed Default of every definition that has one
	// families are the broker synonym groups Kafka describes together and resolves by
	// precedence (log.retention.ms, .minutes, .hours), keyed by every member.
	families map[string][]string
	// chains are what the typed getters read for a broker name, in order: the whole family
	// for its first member, the name and its Fallback, or the name alone (so
	// Int("log.retention.hours") is that config's own value, as in Kafka).
	chains map[string][]string
}

var defs = buildIndex(table)

func buildIndex(rows []Definition) *index {
	ix := &index{
		topic:    make(map[string]*Definition),
		broker:   make(map[string]*Definition),
		defaults: make(map[string]value),
		families: make(map[string][]string),
		chains:   make(map[string][]string),
	}
	for i := range rows {
		d := &rows[i]
		if d.Kinds&KindTopic != 0 {
			ix.topic[d.Name] = d
		}
		if d.Kinds&KindBroker != 0 {
			ix.broker[d.Name] = d
		}
		if !d.NoDefault {
			v, _ := parseValue(d.Type, d.Default) // table_test checks every default parses
			ix.defaults[d.Name] = v
		}
		if d.Kinds&KindTopic != 0 && len(d.Synonyms) > 1 {
			for _, n := range d.Synonyms {
				ix.families[n] = d.Synonyms
			}
		}
	}
	for name, d := range ix.broker {
		switch {
		case ix.families[name] != nil && ix.families[name][0] == name:
			ix.chains[name] = ix.families[name]
		case d.Fallback != "":
			ix.chains[name] = []string{name, d.Fallback}
		default:
			ix.chains[name] = []string{name}
		}
	}
	return ix
}

// Lookup returns the definition of name for the given kind (KindTopic or KindBroker).
func Lookup(kind Kind, name string) (Definition, bool) {
	var d *Definition
	switch kind {
	case KindTopic:
		d = defs.topic[name]
	case KindBroker:
		d = defs.broker[name]
	}
	if d == nil {
		return Definition{}, false
	}
	return *d, true
}

// Definitions returns every definition of the given kind sorted by name, for listing
// configs (DescribeConfigs, the CLI, docs).
func Definitions(kind Kind) []Definition {
	m := defs.broker
	if kind == KindTopic {
		m = defs.topic
	}
	out := make([]Definition, 0, len(m))
	for _, d := range m {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b Definition) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// lookupAny finds a definition of name in either kind; the names shared by both kinds have
// one row, so the answer is unambiguous.
func lookupAny(name string) *Definition {
	if d := defs.topic[name]; d != nil {
		return d
	}
	return defs.broker[name]
}

// parse validates raw for d, returning the canonical value or a *ConfigError.
func (d *Definition) parse(raw string) (value, error) {
	v, reason := parseValue(d.Type, raw)
	if reason == "" && d.valid != nil {
		reason = d.valid(v)
	}
	if reason != "" {
		shown := strings.TrimSpace(raw)
		if d.Sensitive || d.Type == TypePassword {
			shown = ""
		}
		return value{}, &ConfigError{Name: d.Name, Value: shown, Reason: reason, Err: ErrInvalidValue}
	}
	return v, nil
}

// millisPer converts a synonym's unit to milliseconds: Kafka's ConfigSynonym converters
// (HOURS_TO_MILLISECONDS, MINUTES_TO_MILLISECONDS) apply to exactly these suffixes.
func millisPer(name string) int64 {
	switch {
	case strings.HasSuffix(name, ".hours"):
		return 60 * 60 * 1000
	case strings.HasSuffix(name, ".minutes"):
		return 60 * 1000
	}
	return 1
}
