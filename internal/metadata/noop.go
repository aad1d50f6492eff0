package metadata

// NoOp changes nothing but the metadata index, as Kafka's NoOpRecord (KIP-835): the
// active controller writes one when the log has been idle for
// metadata.max.idle.interval.ms, so that the log always moves on and a broker that has
// stopped receiving it falls measurably behind. The controller renews a broker's session
// only while the broker keeps up (controller/liveness.go); without NoOps a broker cut off
// from the quorum would look current on an idle cluster until the next real change, which
// may be its own ISR shrink. Image.ContentIndex does not move for it, so watchers that
// act on content skip it.
type NoOp struct{}

// Type implements Record.
func (NoOp) Type() RecordType { return RecordNoOp }

func (NoOp) isRecord() {}
