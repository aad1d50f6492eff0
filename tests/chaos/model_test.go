//go:build unix

package chaos

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// The log model checked with porcupine.
//
// What a Kafka partition promises producers and consumers, reduced to what two clients can
// observe: each offset of a partition's log holds at most one value, ever. An acks=all
// acknowledgment of a record at offset o says the record is committed there (on every
// member of the ISR, at least min.insync.replicas of them); a consumer is only given
// records below the high watermark, so every read of offset o is an observation of a
// committed record there too. Committed records are never truncated or replaced (that is
// what leader epochs, the ISR and unclean.leader.election.enable=false are for), so every
// acknowledgment and every read of offset o, whoever answered it and whenever, must name
// the same value. Two leaders acknowledging different records at one offset (the split
// brain the fencing exists to prevent), a follower that became leader without an
// acknowledged record and wrote another in its place, or a consumer shown a record that a
// failover later replaced: each makes two operations on one offset disagree.
//
// The model is therefore a write-once register per (partition, offset): the state is the
// value, "" before any operation; any operation is legal when the state is "" or equal to
// its value, and leaves its value. Operations on different offsets are independent, so
// the history is partitioned by (partition, offset) (porcupine's Partition), which keeps
// the search trivial for the hundred thousand operations of a run.
//
// Honest limits. A write-once register is linearizable exactly when all its operations
// agree, whatever their order, so the call and return times matter little here; they are
// recorded truthfully (a tailing read's call is when the reader started, since franz-go
// fetches ahead of the polls) for porcupine's visualisation. What the model does not see:
//   - an acknowledged record that nobody read at all (lost, not replaced): the suite's
//     direct check (checkAcks) reads every partition back from its start and requires each
//     acknowledged record at its offset;
//   - a read finding nothing at an offset: not an operation, because after a failover the
//     new leader's high watermark may lag the old one's for a moment, as in Kafka, so an
//     empty read proves nothing;
//   - one value at two offsets (a retried produce written twice): legal in this model and
//     caught as a duplicate by checkAcks instead (the producers are idempotent, so it
//     fails the run);
//   - records never acknowledged and never read: they constrain nothing.
type opKind uint8

const (
	opAck  opKind = iota + 1 // a produce acknowledged at offset
	opRead                   // a consumer given value at offset
)

// logOp is one operation: input and output in one, since the model only compares values.
type logOp struct {
	kind      opKind
	partition int32
	offset    int64
	value     string
}

func (o logOp) String() string {
	verb := "ack"
	if o.kind == opRead {
		verb = "read"
	}
	return fmt.Sprintf("%s p%d@%d=%s", verb, o.partition, o.offset, o.value)
}

// logEvent is one operation with its client and its call and return times.
type logEvent struct {
	op        logOp
	client    int
	call, ret int64
}

type offsetKey struct {
	partition int32
	offset    int64
}

var logModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byOffset := map[offsetKey][]porcupine.Operation{}
		for _, op := range history {
			in := op.Input.(logOp)
			k := offsetKey{in.partition, in.offset}
			byOffset[k] = append(byOffset[k], op)
		}
		keys := slices.SortedFunc(maps.Keys(byOffset), func(a, b offsetKey) int {
			return cmp.Or(cmp.Compare(a.partition, b.partition), cmp.Compare(a.offset, b.offset))
		})
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byOffset[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, _ any) (bool, any) {
		in := input.(logOp)
		if s := state.(string); s != "" && s != in.value {
			return false, state
		}
		return true, in.value
	},
	DescribeOperation: func(input, _ any) string { return input.(logOp).String() },
	DescribeState: func(state any) string {
		if state.(string) == "" {
			return "(nothing committed)"
		}
		return state.(string)
	},
}

// checkLinearizable runs porcupine over the events; on a violation it names the offsets
// whose operations disagree (for this model, exactly the non-linearizable partitions).
func checkLinearizable(events []logEvent, timeout time.Duration) (porcupine.CheckResult, []string) {
	ops := make([]porcupine.Operation, len(events))
	for i, e := range events {
		ops[i] = porcupine.Operation{ClientId: e.client, Input: e.op, Call: e.call, Output: nil, Return: e.ret}
	}
	res := porcupine.CheckOperationsTimeout(logModel, ops, timeout)
	if res != porcupine.Illegal {
		return res, nil
	}
	byOffset := map[offsetKey][]logEvent{}
	for _, e := range events {
		k := offsetKey{e.op.partition, e.op.offset}
		byOffset[k] = append(byOffset[k], e)
	}
	var conflicts []string
	for k, es := range byOffset {
		values := map[string]bool{}
		for _, e := range es {
			values[e.op.value] = true
		}
		if len(values) > 1 {
			var b strings.Builder
			fmt.Fprintf(&b, "p%d@%d:", k.partition, k.offset)
			for _, e := range es {
				fmt.Fprintf(&b, " [client %d %s, %.3fs..%.3fs]", e.client, e.op, float64(e.call)/1e9, float64(e.ret)/1e9)
			}
			conflicts = append(conflicts, b.String())
		}
	}
	slices.Sort(conflicts)
	return res, conflicts
}

// ackVerdict is what the final read-back says about the acknowledged records.
type ackVerdict struct {
	produced, acked, failed int
	lost                    []string // acknowledged, found nowhere
	misplaced               []string // acknowledged, found at other offsets only
	duplicates              []string // found at more than one offset
	duplicated              int
}

// checkAcks compares every produce's fate with the partitions as read back from their
// start (final: partition -> offset -> value).
func checkAcks(produced []produceResult, final map[int32]map[int64]string) ackVerdict {
	where := map[string][]offsetKey{}
	for p, offsets := range final {
		for o, v := range offsets {
			where[v] = append(where[v], offsetKey{p, o})
		}
	}
	v := ackVerdict{produced: len(produced)}
	for _, r := range produced {
		if r.err != nil {
			v.failed++
			continue
		}
		v.acked++
		if final[r.partition][r.offset] == r.value {
			continue
		}
		if len(where[r.value]) == 0 {
			v.lost = append(v.lost, fmt.Sprintf("%s acked at p%d@%d (%.3fs..%.3fs), read nowhere; p%d@%d holds %q",
				r.value, r.partition, r.offset, float64(r.call)/1e9, float64(r.ret)/1e9, r.partition, r.offset, final[r.partition][r.offset]))
		} else {
			v.misplaced = append(v.misplaced, fmt.Sprintf("%s acked at p%d@%d, read at %v; p%d@%d holds %q",
				r.value, r.partition, r.offset, where[r.value], r.partition, r.offset, final[r.partition][r.offset]))
		}
	}
	for value, at := range where {
		if len(at) > 1 {
			v.duplicated++
			if len(v.duplicates) < 10 {
				v.duplicates = append(v.duplicates, fmt.Sprintf("%s at %v", value, at))
			}
		}
	}
	slices.Sort(v.duplicates)
	return v
}

// TestLogModelRejectsBadHistories feeds porcupine histories that break the log's promise
// and one that keeps it, so that a model that accepted everything could not pass for a
// check.
func TestLogModelRejectsBadHistories(t *testing.T) {
	ack := func(client int, call, ret int64, p int32, o int64, v string) logEvent {
		return logEvent{client: client, call: call, ret: ret, op: logOp{kind: opAck, partition: p, offset: o, value: v}}
	}
	read := func(client int, call, ret int64, p int32, o int64, v string) logEvent {
		return logEvent{client: client, call: call, ret: ret, op: logOp{kind: opRead, partition: p, offset: o, value: v}}
	}
	good := []logEvent{
		ack(0, 0, 10, 0, 0, "a"),
		ack(1, 1, 12, 0, 1, "b"),
		read(2, 5, 20, 0, 0, "a"),
		ack(0, 11, 30, 1, 0, "c"),
		read(2, 25, 40, 0, 1, "b"),
		read(2, 25, 40, 1, 0, "c"),
		ack(1, 13, 50, 0, 2, "a"), // a at another offset: the model allows it, checkAcks does not
		read(3, 60, 70, 0, 0, "a"),
	}
	tests := []struct {
		name     string
		events   []logEvent
		want     porcupine.CheckResult
		conflict string
	}{
		{"consistent", good, porcupine.Ok, ""},
		{"two leaders acknowledge one offset", append(slices.Clone(good), ack(1, 2, 9, 0, 1, "x")), porcupine.Illegal, "p0@1"},
		{"acknowledged record replaced", append(slices.Clone(good), read(3, 80, 90, 1, 0, "y")), porcupine.Illegal, "p1@0"},
		{"read record replaced after", []logEvent{read(2, 0, 5, 2, 7, "r"), read(3, 10, 20, 2, 7, "s")}, porcupine.Illegal, "p2@7"},
		{"same value on two partitions", []logEvent{ack(0, 0, 5, 0, 3, "v"), ack(0, 0, 5, 1, 3, "v")}, porcupine.Ok, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, conflicts := checkLinearizable(tt.events, 10*time.Second)
			if res != tt.want {
				t.Fatalf("porcupine says %v, want %v", res, tt.want)
			}
			if tt.conflict != "" && (len(conflicts) != 1 || !strings.HasPrefix(conflicts[0], tt.conflict+":")) {
				t.Fatalf("conflicts %q, want one at %s", conflicts, tt.conflict)
			}
		})
	}
}

// TestCheckAcks checks the read-back verdict on a hand-made outcome.
func TestCheckAcks(t *testing.T) {
	produced := []produceResult{
		{value: "a", partition: 0, offset: 0},
		{value: "b", partition: 0, offset: 1},                 // lost: offset 1 holds x
		{value: "c", partition: 0, offset: 2},                 // misplaced: found at 3 only
		{value: "d", partition: 1, offset: 0},                 // fine, and duplicated at 1
		{value: "e", partition: 1, err: fmt.Errorf("failed")}, // failed: not checked
	}
	final := map[int32]map[int64]string{
		0: {0: "a", 1: "x", 3: "c"},
		1: {0: "d", 1: "d"},
	}
	v := checkAcks(produced, final)
	if v.acked != 4 || v.failed != 1 || len(v.lost) != 1 || len(v.misplaced) != 1 || v.duplicated != 1 {
		t.Fatalf("verdict %+v", v)
	}
	if !strings.HasPrefix(v.lost[0], "b ") || !strings.HasPrefix(v.misplaced[0], "c ") {
		t.Fatalf("lost %q, misplaced %q", v.lost, v.misplaced)
	}
}
