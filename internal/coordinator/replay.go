package coordinator

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/partition"
)

// replayReadBytes bounds one read of the log while replaying.
const replayReadBytes = 4 << 20

// Replay reads p's log from its log start up to end (exclusive), calling fn with every
// batch in order, and stops early when ctx ends. A coordinator picks end: all three
// read to the log end, which the new leader's followers will match (its high watermark
// may still lag what its predecessor committed). Errors name the partition;
// a log that does not advance, or batches that do not decode, wrap corrupt, the
// coordinator's own error for a corrupt record.
func Replay(ctx context.Context, p *partition.Partition, end int64, corrupt error, fn func(b kmsg.RecordBatch) error) error {
	l := p.Log()
	for offset := l.LogStartOffset(); offset < end; {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf, _, err := l.ReadBytes(offset, log.ReadOptions{MaxBytes: replayReadBytes, MinOneBatch: true, MaxOffset: end})
		if err != nil {
			return fmt.Errorf("read %s-%d at %d: %w", p.Topic(), p.Index(), offset, err)
		}
		if len(buf) == 0 {
			return nil
		}
		next, err := DecodeBatches(buf, corrupt, fn)
		if err != nil {
			return fmt.Errorf("%s-%d: %w", p.Topic(), p.Index(), err)
		}
		if next <= offset {
			return fmt.Errorf("%w: %s-%d does not advance at offset %d", corrupt, p.Topic(), p.Index(), offset)
		}
		offset = next
	}
	return nil
}
