package broker_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestDescribeLogDirs: the one data dir, with each partition's size in bytes (the
// written one larger than the empty one) and the volume's total and usable bytes (v4).
func TestDescribeLogDirs(t *testing.T) {
	b := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	adm := b.Admin()
	createClusterTopic(ctx, t, adm, "dirs", 2, 1)
	cl := b.Client(kgo.DefaultProduceTopic("dirs"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: make([]byte, 1000)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	dirs, err := adm.DescribeBrokerLogDirs(ctx, 1, kadm.TopicsSet{"dirs": {0: {}, 1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs(b.DataDir())
	d, ok := dirs[want]
	if !ok || len(dirs) != 1 || d.Err != nil {
		t.Fatalf("dirs %+v, want only %s", dirs, want)
	}
	parts := d.Topics["dirs"]
	if len(parts) != 2 || parts[0].Size <= parts[1].Size || parts[0].Size < 1000 {
		t.Errorf("partition sizes %+v: want partition 0 (1000 bytes written) larger than empty partition 1", parts)
	}
	if d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes {
		t.Errorf("total %d usable %d bytes", d.TotalBytes, d.UsableBytes)
	}
	all, err := adm.DescribeBrokerLogDirs(ctx, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all[want].Topics["dirs"]) != 2 {
		t.Errorf("all topics: %+v", all[want].Topics)
	}
}
