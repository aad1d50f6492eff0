package main

// The report of `bench failover`: each kill's figures, their p50, p90 and max, the
// records read back, and issue 12's target.

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

type failoverReport struct {
	Settings    failoverSettings `json:"settings"`
	Kills       []failoverKill   `json:"kills"`
	FailoverMs  failoverSummary  `json:"failover_ms"`  // longest wait of a record after the stop
	FirstAckMs  failoverSummary  `json:"first_ack_ms"` // stop to the first ack of a record sent after it
	ElectedMs   failoverSummary  `json:"elected_ms"`   // stop until the metadata names a new leader
	RejoinMs    failoverSummary  `json:"rejoin_ms"`    // restart to back in the ISR
	RejoinStall failoverSummary  `json:"rejoin_stall_ms"`
	Records     failoverRecords  `json:"records"`
	Target      failoverTarget   `json:"target"`
}

type failoverSettings struct {
	Mode             string  `json:"mode"`
	Kills            int     `json:"kills"`
	SessionTimeoutMs float64 `json:"session_timeout_ms"`
	HeartbeatMs      float64 `json:"heartbeat_interval_ms"`
	IntervalMs       float64 `json:"producer_interval_ms"`
	SettleMs         float64 `json:"settle_ms"`
	Brokers          int     `json:"brokers"`
}

func (o *failoverOptions) settings() failoverSettings {
	return failoverSettings{Mode: o.mode, Kills: o.kills, SessionTimeoutMs: ms(o.session), HeartbeatMs: ms(max(o.session/4, time.Millisecond)),
		IntervalMs: ms(o.interval), SettleMs: ms(o.settle), Brokers: failoverNodes}
}

// failoverKill is one stop of a leader.
type failoverKill struct {
	Kill           int     `json:"kill"`
	Node           int32   `json:"node"`
	WasController  bool    `json:"was_active_controller"`
	LeaderEpoch    int32   `json:"leader_epoch"`
	StopCallMs     float64 `json:"stop_call_ms"` // how long Halt or Shutdown took to return
	FirstAckMs     float64 `json:"first_ack_ms"`
	ElectedMs      float64 `json:"elected_ms"` // stop until a survivor's Metadata names a new leader
	FailoverMs     float64 `json:"failover_ms"`
	NewLeader      int32   `json:"new_leader"`
	NewLeaderEpoch int32   `json:"new_leader_epoch"`
	ISRAfter       []int32 `json:"isr_after"`
	RestartMs      float64 `json:"restart_ms"` // broker.Start on the old data dir
	RejoinMs       float64 `json:"rejoin_ms"`  // restart until back in the ISR
	RejoinStallMs  float64 `json:"rejoin_stall_ms"`
	Failed         int     `json:"failed_records"`
}

type failoverSummary struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	Max float64 `json:"max"`
}

// failoverRecords is what the producer sent and what the partition holds at the end.
type failoverRecords struct {
	Sent             int                 `json:"sent"`
	Acked            int                 `json:"acked"`
	Failed           int                 `json:"failed"`
	Unanswered       int                 `json:"unanswered"`
	Consumed         int                 `json:"consumed"`
	HighWatermark    int64               `json:"high_watermark"`
	Lost             int                 `json:"lost"`         // acknowledged, not in the partition
	Duplicated       int                 `json:"duplicated"`   // in the partition more than once
	OffsetMoved      int                 `json:"offset_moved"` // acknowledged at an offset that holds something else
	FailedButWritten int                 `json:"failed_but_written"`
	Foreign          int                 `json:"foreign"` // records the producer did not send
	LostSeqs         []int               `json:"lost_seqs,omitempty"`
	Duplicates       []failoverDuplicate `json:"duplicates,omitempty"` // the first 20
	ReplicaLogEnds   []int64             `json:"replica_log_ends"`
}

// failoverDuplicate is a record found more than once.
type failoverDuplicate struct {
	Seq         int     `json:"seq"`
	Offsets     []int64 `json:"offsets"`
	Acked       bool    `json:"acked"`
	AckedOffset int64   `json:"acked_offset"`
}

type failoverTarget struct {
	Description string  `json:"description"`
	LimitMs     float64 `json:"limit_ms"`
	Met         bool    `json:"met"` // failover max under the limit
	// RecordsIntact: every acknowledged record read back once, at its offset.
	RecordsIntact bool `json:"records_intact"`
}

func (r *failoverReport) finish() {
	of := func(get func(failoverKill) float64) failoverSummary {
		values := make([]float64, len(r.Kills))
		for i, k := range r.Kills {
			values[i] = get(k)
		}
		return failoverSummary{P50: rankQuantile(values, 0.5), P90: rankQuantile(values, 0.9), Max: rankQuantile(values, 1)}
	}
	r.FailoverMs = of(func(k failoverKill) float64 { return k.FailoverMs })
	r.FirstAckMs = of(func(k failoverKill) float64 { return k.FirstAckMs })
	r.ElectedMs = of(func(k failoverKill) float64 { return k.ElectedMs })
	r.RejoinMs = of(func(k failoverKill) float64 { return k.RejoinMs })
	r.RejoinStall = of(func(k failoverKill) float64 { return k.RejoinStallMs })
	if r.Settings.Mode == failoverCrash {
		r.Target = failoverTarget{Description: "failover max under broker.session.timeout.ms + 1 s", LimitMs: r.Settings.SessionTimeoutMs + 1000}
	} else {
		r.Target = failoverTarget{Description: "failover max under 2 s", LimitMs: 2000}
	}
	r.Target.Met = r.FailoverMs.Max < r.Target.LimitMs
	r.Target.RecordsIntact = r.Records.Lost == 0 && r.Records.Duplicated == 0 && r.Records.OffsetMoved == 0
}

// rankQuantile is the nearest-rank q-quantile of values (sorted in place).
func rankQuantile(values []float64, q float64) float64 {
	if len(values) == 0 {
		return 0
	}
	slices.Sort(values)
	i := int(math.Ceil(q*float64(len(values)))) - 1
	return values[min(max(i, 0), len(values)-1)]
}

func (r *failoverReport) printTable(out io.Writer) error {
	s := r.Settings
	fmt.Fprintf(out, "failover, %s: %d brokers, session timeout %.0f ms (heartbeat %.0f ms), a record every %.0f ms, acks=all, min.insync.replicas=2\n\n",
		s.Mode, s.Brokers, s.SessionTimeoutMs, s.HeartbeatMs, s.IntervalMs)
	tw := newTable(out)
	fmt.Fprintln(tw, "KILL\tNODE\tCONTROLLER\tSTOP ms\tELECTED ms\tFAILOVER ms\tFIRST ACK ms\tNEW LEADER\tRESTART ms\tREJOIN ms\tREJOIN STALL ms\tFAILED")
	for _, k := range r.Kills {
		fmt.Fprintf(tw, "%d\t%d\t%t\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t%.0f\t%.0f\t%.0f\t%d\n", k.Kill, k.Node, k.WasController, k.StopCallMs, k.ElectedMs,
			k.FailoverMs, k.FirstAckMs, k.NewLeader, k.RestartMs, k.RejoinMs, k.RejoinStallMs, k.Failed)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	for _, row := range []struct {
		name string
		s    failoverSummary
	}{{"failover", r.FailoverMs}, {"first ack", r.FirstAckMs}, {"elected", r.ElectedMs}, {"rejoin", r.RejoinMs}, {"rejoin stall", r.RejoinStall}} {
		fmt.Fprintf(out, "%-13s p50 %6.0f ms  p90 %6.0f ms  max %6.0f ms\n", row.name, row.s.P50, row.s.P90, row.s.Max)
	}
	rec := r.Records
	fmt.Fprintf(out, "records: %d sent, %d acknowledged, %d failed; read back %d: %d lost, %d duplicated, %d at another offset\n",
		rec.Sent, rec.Acked, rec.Failed, rec.Consumed, rec.Lost, rec.Duplicated, rec.OffsetMoved)
	_, err := fmt.Fprintf(out, "target (%s, %.0f ms): %s; every acknowledged record read back once: %s\n",
		r.Target.Description, r.Target.LimitMs, passFail(r.Target.Met), yesNo(r.Target.RecordsIntact))
	return err
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
