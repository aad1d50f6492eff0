//go:build unix

package chaos

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	nlog "github.com/nagare-dev/nagare/internal/log"
)

// batchSummary is what two replicas of a batch must agree on: its offsets, its CRC (which
// covers its records, attributes, timestamps and producer fields) and the leader epoch
// it was written in.
type batchSummary struct {
	base, last  int64
	crc         uint32
	leaderEpoch int32
}

func (b batchSummary) String() string {
	return fmt.Sprintf("[%d..%d crc %08x epoch %d]", b.base, b.last, b.crc, b.leaderEpoch)
}

// readReplica reads the batches of one partition directory (<data-dir>/<topic>-<n>) with
// base offset below hw, straight from its segment files, without opening the log (which
// would recover and could truncate it): the files are read in base-offset order, each
// batch's framing and CRC checked (internal/log's exported ValidateBatch). A stored batch
// below hw that fails the check is an error; past hw, reading stops at the first
// incomplete batch, which is a torn tail a restart would cut.
func readReplica(dir string, hw int64) ([]batchSummary, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var bases []int64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || len(name) != 20 {
			continue
		}
		base, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			continue
		}
		bases = append(bases, base)
	}
	slices.Sort(bases)
	var out []batchSummary
	for _, base := range bases {
		path := filepath.Join(dir, fmt.Sprintf("%020d.log", base))
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		for pos := 0; pos < len(data); {
			rest := data[pos:]
			if len(rest) < nlog.BatchHeaderSize {
				break // preallocated zeros or a torn header
			}
			size := int(int32(binary.BigEndian.Uint32(rest[8:12]))) + 12
			h := nlog.ParseBatchHeader(rest)
			if size < nlog.BatchHeaderSize || size > len(rest) || h.Magic != 2 {
				if h.BaseOffset < hw && size > 12 {
					return out, fmt.Errorf("%s: batch at position %d (offset %d) is cut short below the high watermark %d", path, pos, h.BaseOffset, hw)
				}
				break
			}
			if h.BaseOffset >= hw {
				break
			}
			if err := nlog.ValidateBatch(rest[:size], 0); err != nil {
				return out, fmt.Errorf("%s: batch at position %d (offset %d): %w", path, pos, h.BaseOffset, err)
			}
			out = append(out, batchSummary{base: h.BaseOffset, last: h.LastOffset(), crc: h.CRC, leaderEpoch: h.LeaderEpoch})
			pos += size
		}
	}
	return out, nil
}

// compareReplicas checks that the reference replica's batches cover [0, hw) without a gap
// (the topic is neither compacted nor trimmed by retention in these tests) and that every
// other replica holds exactly the same batches up to hw. It returns the differences.
func compareReplicas(partition int32, ref int32, logs map[int32][]batchSummary, hw int64) []string {
	var diffs []string
	want := logs[ref]
	next := int64(0)
	for _, b := range want {
		if b.base != next {
			diffs = append(diffs, fmt.Sprintf("p%d: leader %d's log jumps from offset %d to batch %s", partition, ref, next, b))
		}
		next = b.last + 1
	}
	if next != hw {
		diffs = append(diffs, fmt.Sprintf("p%d: leader %d's log ends at %d below the high watermark %d", partition, ref, next, hw))
	}
	for _, id := range slices.Sorted(func(yield func(int32) bool) {
		for id := range logs {
			if !yield(id) {
				return
			}
		}
	}) {
		if id == ref {
			continue
		}
		got := logs[id]
		for i := 0; i < max(len(want), len(got)); i++ {
			switch {
			case i >= len(got):
				diffs = append(diffs, fmt.Sprintf("p%d: replica %d ends after %d batches, leader %d has %s next", partition, id, len(got), ref, want[i]))
			case i >= len(want):
				diffs = append(diffs, fmt.Sprintf("p%d: replica %d has %s past leader %d's last batch below the high watermark", partition, id, got[i], ref))
			case got[i] != want[i]:
				diffs = append(diffs, fmt.Sprintf("p%d: replica %d diverges at batch %d: %s, leader %d has %s", partition, id, i, got[i], ref, want[i]))
			default:
				continue
			}
			break
		}
	}
	return diffs
}

// TestCompareReplicas checks that the on-disk comparison notices a diverging, a short and
// a gapped replica, and accepts equal ones.
func TestCompareReplicas(t *testing.T) {
	leader := []batchSummary{{0, 4, 0xa, 0}, {5, 9, 0xb, 0}, {10, 10, 0xc, 1}}
	tests := []struct {
		name  string
		logs  map[int32][]batchSummary
		diffs int
		want  string
	}{
		{"equal", map[int32][]batchSummary{1: leader, 2: slices.Clone(leader), 3: slices.Clone(leader)}, 0, ""},
		{"other epoch", map[int32][]batchSummary{1: leader, 2: {{0, 4, 0xa, 0}, {5, 9, 0xb, 0}, {10, 10, 0xc, 2}}}, 1, "replica 2 diverges at batch 2"},
		{"other crc", map[int32][]batchSummary{1: leader, 3: {{0, 4, 0xa, 0}, {5, 9, 0xd, 0}, {10, 10, 0xc, 1}}}, 1, "replica 3 diverges at batch 1"},
		{"short", map[int32][]batchSummary{1: leader, 2: leader[:2]}, 1, "replica 2 ends after 2 batches"},
		{"leader gap", map[int32][]batchSummary{1: {{0, 4, 0xa, 0}, {6, 10, 0xb, 0}}}, 1, "jumps from offset 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diffs := compareReplicas(0, 1, tt.logs, 11)
			if len(diffs) != tt.diffs || (tt.want != "" && !strings.Contains(diffs[0], tt.want)) {
				t.Fatalf("diffs %q, want %d mentioning %q", diffs, tt.diffs, tt.want)
			}
		})
	}
}
