package config

import (
	"maps"
	"slices"
)

// Topic is a topic's effective configuration: each field is the topic's override if it has
// one, else the broker's synonym (dynamic, then static), else Kafka's default.
//
// Times are int64 milliseconds, not time.Duration, because Kafka's sentinels live in that
// space: -1 means unlimited (RetentionMs) and Long.MAX_VALUE means never (FlushMs,
// MaxCompactionLagMs), which a time.Duration cannot hold. Use Millis to convert.
type Topic struct {
	CleanupPolicy               CleanupPolicy // cleanup.policy
	CompressionType             Compression   // compression.type
	CompressionGzipLevel        int           // compression.gzip.level (-1: library default)
	CompressionLz4Level         int           // compression.lz4.level
	CompressionZstdLevel        int           // compression.zstd.level
	DeleteRetentionMs           int64         // delete.retention.ms: tombstones kept this long
	FileDeleteDelayMs           int64         // file.delete.delay.ms
	FlushMessages               int64         // flush.messages: fsync every N records (Long.MAX: never)
	FlushMs                     int64         // flush.ms: fsync data this old (Long.MAX: never)
	IndexIntervalBytes          int           // index.interval.bytes
	MaxCompactionLagMs          int64         // max.compaction.lag.ms
	MaxMessageBytes             int           // max.message.bytes: largest batch accepted
	MessageTimestampType        TimestampType // message.timestamp.type
	MessageTimestampBeforeMaxMs int64         // message.timestamp.before.max.ms
	MessageTimestampAfterMaxMs  int64         // message.timestamp.after.max.ms
	MinCleanableDirtyRatio      float64       // min.cleanable.dirty.ratio
	MinCompactionLagMs          int64         // min.compaction.lag.ms
	MinInsyncReplicas           int           // min.insync.replicas
	Preallocate                 bool          // preallocate
	RetentionBytes              int64         // retention.bytes (-1: unlimited)
	RetentionMs                 int64         // retention.ms (-1: unlimited)
	SegmentBytes                int           // segment.bytes
	SegmentIndexBytes           int           // segment.index.bytes
	SegmentJitterMs             int64         // segment.jitter.ms
	SegmentMs                   int64         // segment.ms
	UncleanLeaderElectionEnable bool          // unclean.leader.election.enable
}

// CleanupPolicy is cleanup.policy as the log reads it: which of the two policies apply.
type CleanupPolicy struct {
	Delete  bool // segments past retention.ms or retention.bytes are deleted
	Compact bool // the log keeps the latest record per key
}

// TimestampType is message.timestamp.type, numbered as Kafka's TimestampType id, which is
// also the batch attribute bit the log sets for LogAppendTime.
type TimestampType int8

// Timestamp types.
const (
	CreateTime    TimestampType = 0 // the producer's timestamp is kept
	LogAppendTime TimestampType = 1 // the broker stamps each batch when appending it
)

// String is the config value Kafka uses for the type.
func (t TimestampType) String() string {
	if t == LogAppendTime {
		return "LogAppendTime"
	}
	return "CreateTime"
}

// Compression is compression.type, numbered as the record batch's codec attribute so the
// log can compare it with a batch's codec directly; CompressionProducer keeps whatever the
// producer used.
type Compression int8

// Compression types.
const (
	CompressionProducer Compression = -1
	CompressionNone     Compression = 0 // "uncompressed"
	CompressionGzip     Compression = 1
	CompressionSnappy   Compression = 2
	CompressionLz4      Compression = 3
	CompressionZstd     Compression = 4
)

var compressionNames = map[string]Compression{
	"producer": CompressionProducer, "uncompressed": CompressionNone, "gzip": CompressionGzip,
	"snappy": CompressionSnappy, "lz4": CompressionLz4, "zstd": CompressionZstd,
}

// String is the config value Kafka uses for the codec.
func (c Compression) String() string {
	for name, v := range compressionNames {
		if v == c {
			return name
		}
	}
	return "unknown"
}

// ValidateTopic checks a topic's overrides (CreateTopics configs, AlterConfigs on a topic,
// or the result of ApplyIncremental): every name must be a topic config and every value
// must parse and be in range. The error is a *ConfigError naming the first bad key in name
// order; the api layer maps it to INVALID_CONFIG.
func ValidateTopic(overrides map[string]string) error {
	parsed := make(map[string]value, len(overrides))
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		d := defs.topic[name]
		if d == nil {
			reason := "unknown topic config"
			if b := defs.broker[name]; b != nil {
				reason = "a broker config, not a topic config"
			}
			return &ConfigError{Name: name, Reason: reason, Err: ErrUnknownName}
		}
		v, err := d.parse(overrides[name])
		if err != nil {
			return err
		}
		parsed[name] = v
	}
	// LogConfig.validateValues: the compaction lag bounds must be ordered.
	lo, hasLo := parsed["min.compaction.lag.ms"]
	hi, hasHi := parsed["max.compaction.lag.ms"]
	if hasLo && hasHi && lo.num > hi.num {
		return &ConfigError{Name: "min.compaction.lag.ms", Value: lo.text, Err: ErrInvalidValue,
			Reason: "must not exceed max.compaction.lag.ms (" + hi.text + ")"}
	}
	return nil
}

// ResolveTopic returns the effective configuration of a topic with the given overrides on
// broker b, as of b's current dynamic configs. Overrides should have passed ValidateTopic;
// an unknown name or unparsable value is ignored and the broker's value used instead.
// Call it again after SetDynamic or an override change: the result is a copy.
func ResolveTopic(b *Broker, overrides map[string]string) Topic {
	s := b.snap.Load()
	get := func(name string) value {
		if raw, ok := overrides[name]; ok {
			if v, err := defs.topic[name].parse(raw); err == nil {
				return v
			}
		}
		return s.topicBase[name]
	}
	policy := get("cleanup.policy").list
	return Topic{
		CleanupPolicy: CleanupPolicy{
			Delete:  slices.Contains(policy, "delete"),
			Compact: slices.Contains(policy, "compact"),
		},
		CompressionType:             compressionNames[get("compression.type").text],
		CompressionGzipLevel:        int(get("compression.gzip.level").num),
		CompressionLz4Level:         int(get("compression.lz4.level").num),
		CompressionZstdLevel:        int(get("compression.zstd.level").num),
		DeleteRetentionMs:           get("delete.retention.ms").num,
		FileDeleteDelayMs:           get("file.delete.delay.ms").num,
		FlushMessages:               get("flush.messages").num,
		FlushMs:                     get("flush.ms").num,
		IndexIntervalBytes:          int(get("index.interval.bytes").num),
		MaxCompactionLagMs:          get("max.compaction.lag.ms").num,
		MaxMessageBytes:             int(get("max.message.bytes").num),
		MessageTimestampType:        timestampType(get("message.timestamp.type").text),
		MessageTimestampBeforeMaxMs: get("message.timestamp.before.max.ms").num,
		MessageTimestampAfterMaxMs:  get("message.timestamp.after.max.ms").num,
		MinCleanableDirtyRatio:      get("min.cleanable.dirty.ratio").f,
		MinCompactionLagMs:          get("min.compaction.lag.ms").num,
		MinInsyncReplicas:           int(get("min.insync.replicas").num),
		Preallocate:                 get("preallocate").num != 0,
		RetentionBytes:              get("retention.bytes").num,
		RetentionMs:                 get("retention.ms").num,
		SegmentBytes:                int(get("segment.bytes").num),
		SegmentIndexBytes:           int(get("segment.index.bytes").num),
		SegmentJitterMs:             get("segment.jitter.ms").num,
		SegmentMs:                   get("segment.ms").num,
		UncleanLeaderElectionEnable: get("unclean.leader.election.enable").num != 0,
	}
}

func timestampType(s string) TimestampType {
	if s == "LogAppendTime" {
		return LogAppendTime
	}
	return CreateTime
}
