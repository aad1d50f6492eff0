package config

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidateTopic(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		is        error  // nil: valid
		key       string // the key the error must name
	}{
		{"empty", nil, nil, ""},
		{"typical", map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "-1", "segment.bytes": "1048576",
			"compression.type": "zstd", "message.timestamp.type": "LogAppendTime", "min.insync.replicas": "2"}, nil, ""},
		{"unknown", map[string]string{"retention.msec": "1"}, ErrUnknownName, "retention.msec"},
		{"broker name", map[string]string{"log.retention.ms": "1"}, ErrUnknownName, "log.retention.ms"},
		{"bad number", map[string]string{"retention.ms": "7d"}, ErrInvalidValue, "retention.ms"},
		{"out of range", map[string]string{"min.insync.replicas": "0"}, ErrInvalidValue, "min.insync.replicas"},
		{"bad enum", map[string]string{"cleanup.policy": "compact,archive"}, ErrInvalidValue, "cleanup.policy"},
		{"first bad key by name", map[string]string{"segment.ms": "0", "flush.ms": "-1"}, ErrInvalidValue, "flush.ms"},
		{"lag order", map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"}, ErrInvalidValue, "min.compaction.lag.ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateTopic(tt.overrides)
			if tt.is == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *ConfigError
			if !errors.Is(err, tt.is) || !errors.As(err, &ce) || ce.Name != tt.key {
				t.Fatalf("error %v, want %v naming %s", err, tt.is, tt.key)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("message %q does not name %s", err, tt.key)
			}
		})
	}
}

func TestResolveTopicDefaults(t *testing.T) {
	got := ResolveTopic(mustBroker(t, nil), nil)
	want := Topic{
		CleanupPolicy:               CleanupPolicy{Delete: true},
		CompressionType:             CompressionProducer,
		CompressionGzipLevel:        -1,
		CompressionLz4Level:         9,
		CompressionZstdLevel:        3,
		DeleteRetentionMs:           86400000,
		FileDeleteDelayMs:           60000,
		FlushMessages:               math.MaxInt64,
		FlushMs:                     math.MaxInt64,
		IndexIntervalBytes:          4096,
		MaxCompactionLagMs:          math.MaxInt64,
		MaxMessageBytes:             1048588,
		MessageTimestampType:        CreateTime,
		MessageTimestampBeforeMaxMs: math.MaxInt64,
		MessageTimestampAfterMaxMs:  3600000,
		MinCleanableDirtyRatio:      0.5,
		MinCompactionLagMs:          0,
		MinInsyncReplicas:           1,
		Preallocate:                 false,
		RetentionBytes:              -1,
		RetentionMs:                 604800000,
		SegmentBytes:                1 << 30,
		SegmentIndexBytes:           10 << 20,
		SegmentJitterMs:             0,
		SegmentMs:                   604800000,
		UncleanLeaderElectionEnable: false,
	}
	if got != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestResolveTopicPrecedence(t *testing.T) {
	b := mustBroker(t, map[string]string{
		"log.retention.hours":             "1",
		"log.cleanup.policy":              "compact",
		"compression.type":                "lz4",
		"log.message.timestamp.type":      "LogAppendTime",
		"log.flush.scheduler.interval.ms": "5000",
		"log.preallocate":                 "true",
		"min.insync.replicas":             "2",
	})
	if err := b.SetDynamic(ScopeClusterDefault, map[string]string{"log.segment.bytes": "2097152", "min.insync.replicas": "3"}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetDynamic(ScopeBroker, map[string]string{"log.segment.bytes": "4194304"}); err != nil {
		t.Fatal(err)
	}
	base := ResolveTopic(b, nil)
	if base.RetentionMs != 3600000 {
		t.Errorf("log.retention.hours=1 gives retention.ms %d, want 3600000", base.RetentionMs)
	}
	if base.CleanupPolicy != (CleanupPolicy{Compact: true}) || base.CompressionType != CompressionLz4 ||
		base.MessageTimestampType != LogAppendTime || !base.Preallocate {
		t.Errorf("static synonyms not applied: %+v", base)
	}
	if base.FlushMs != 5000 {
		t.Errorf("flush.ms from log.flush.scheduler.interval.ms = %d", base.FlushMs)
	}
	if base.SegmentBytes != 4194304 {
		t.Errorf("per-broker dynamic wins: segment.bytes %d", base.SegmentBytes)
	}
	if base.MinInsyncReplicas != 3 {
		t.Errorf("cluster default beats static: min.insync.replicas %d", base.MinInsyncReplicas)
	}

	over := ResolveTopic(b, map[string]string{
		"retention.ms":              "1000",
		"cleanup.policy":            "delete,compact",
		"segment.bytes":             "100",
		"min.cleanable.dirty.ratio": "0.1",
		"compression.type":          "uncompressed",
		"bogus":                     "ignored",
		"segment.ms":                "not a number, ignored",
	})
	if over.RetentionMs != 1000 || over.CleanupPolicy != (CleanupPolicy{Delete: true, Compact: true}) ||
		over.SegmentBytes != 100 || over.MinCleanableDirtyRatio != 0.1 || over.CompressionType != CompressionNone {
		t.Errorf("overrides not applied: %+v", over)
	}
	if over.SegmentMs != base.SegmentMs {
		t.Errorf("an invalid override must fall back to the broker's value: %d", over.SegmentMs)
	}
}

func TestTopicEnums(t *testing.T) {
	for name, c := range compressionNames {
		if c.String() != name {
			t.Errorf("%v.String() = %q, want %q", c, c.String(), name)
		}
	}
	if LogAppendTime.String() != "LogAppendTime" || CreateTime.String() != "CreateTime" {
		t.Error("TimestampType names")
	}
	if Millis(-1) >= 0 || Millis(math.MaxInt64) != math.MaxInt64 || Millis(1500).Seconds() != 1.5 {
		t.Error("Millis conversion")
	}
}
