package api

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/log"
)

// TestFetchResponseAbortedTransactions checks the read_committed aborted list against
// kmsg's decoder for every served version.
func TestFetchResponseAbortedTransactions(t *testing.T) {
	aborted := []log.AbortedTxn{{ProducerID: 7, FirstOffset: 3, LastOffset: 9}, {ProducerID: 8, FirstOffset: 5, LastOffset: 12}}
	for v := int16(4); v <= 17; v++ {
		resp := &fetchResponse{version: v, topics: []fetchTopic{{name: "t", partitions: []fetchPartition{
			{partition: 0, highWatermark: 20, lastStableOffset: 13, readCommitted: true, aborted: aborted},
		}}}}
		r := kbin.Reader{Src: assemble(t, resp.encode(1))}
		r.Int32()
		if v >= 12 {
			skipTags(&r)
		}
		got := kmsg.NewPtrFetchResponse()
		got.Version = v
		if err := got.ReadFrom(r.Src); err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		p := got.Topics[0].Partitions[0]
		if p.LastStableOffset != 13 || len(p.AbortedTransactions) != 2 ||
			p.AbortedTransactions[1].ProducerID != 8 || p.AbortedTransactions[1].FirstOffset != 5 {
			t.Fatalf("v%d: decoded %+v", v, p)
		}
	}
}
