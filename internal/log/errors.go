package log

import (
	"errors"
	"fmt"
)

// Errors the log returns; internal/api maps each to its Kafka error code.
var (
	// ErrCorruptBatch: framing or CRC of a batch is wrong (CORRUPT_MESSAGE).
	ErrCorruptBatch = errors.New("log: corrupt record batch")
	// ErrInvalidRecord: the batch is well framed but breaks a rule (INVALID_RECORD).
	ErrInvalidRecord = errors.New("log: invalid record batch")
	// ErrBatchTooLarge: a batch exceeds max.message.bytes (MESSAGE_TOO_LARGE).
	ErrBatchTooLarge = errors.New("log: record batch larger than max.message.bytes")
	// ErrOffsetOutOfRange: the offset is below the log start or above the log end
	// (OFFSET_OUT_OF_RANGE).
	ErrOffsetOutOfRange = errors.New("log: offset out of range")
	// ErrClosed: the log was closed or deleted (NOT_LEADER_OR_FOLLOWER to clients, who
	// then refresh metadata).
	ErrClosed = errors.New("log: closed")

	// ErrOutOfOrderSequence: an idempotent producer's batch does not follow its last
	// sequence number (OUT_OF_ORDER_SEQUENCE_NUMBER).
	ErrOutOfOrderSequence = errors.New("log: out of order sequence number")
	// ErrInvalidProducerEpoch: a batch or marker carries an epoch older than the
	// producer's current one (INVALID_PRODUCER_EPOCH).
	ErrInvalidProducerEpoch = errors.New("log: producer epoch is older than the current one")
	// ErrInvalidTxnState: a producer inside a transaction wrote a non-transactional
	// batch (INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("log: batch does not match the producer's transaction state")
	// ErrTxnCoordinatorFenced: a marker comes from an older transaction coordinator
	// epoch than one already seen (TRANSACTION_COORDINATOR_FENCED).
	ErrTxnCoordinatorFenced = errors.New("log: transaction coordinator epoch is stale")
)

// CorruptionError locates damage found on disk: which segment file and where.
type CorruptionError struct {
	Path     string
	Position int64
	Reason   string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("log: corruption in %s at position %d: %s", e.Path, e.Position, e.Reason)
}

func (e *CorruptionError) Unwrap() error { return ErrCorruptBatch }
