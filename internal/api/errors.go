package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/nagare-dev/nagare/internal/config"
	"github.com/nagare-dev/nagare/internal/group"
	"github.com/nagare-dev/nagare/internal/log"
	"github.com/nagare-dev/nagare/internal/metadata"
	"github.com/nagare-dev/nagare/internal/partition"
	"github.com/nagare-dev/nagare/internal/txn"
)

// errorCode maps an internal error to the Kafka error code a client expects. It is the
// one place where Go errors become protocol errors.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return m.code.Code
		}
	}
	return kerr.UnknownServerError.Code
}

var errorCodes = []struct {
	err  error
	code *kerr.Error
}{
	{log.ErrCorruptBatch, kerr.CorruptMessage},
	{log.ErrInvalidRecord, kerr.InvalidRecord},
	{log.ErrBatchTooLarge, kerr.MessageTooLarge},
	{log.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
	{log.ErrClosed, kerr.NotLeaderForPartition},
	{log.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
	{log.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
	{log.ErrInvalidTxnState, kerr.InvalidTxnState},
	{log.ErrTxnCoordinatorFenced, kerr.TransactionCoordinatorFenced},
	{partition.ErrNotEnoughReplicas, kerr.NotEnoughReplicas},
	{partition.ErrNotLeader, kerr.NotLeaderForPartition},
	{partition.ErrInvalidTimestamp, kerr.InvalidTimestamp},
	{config.ErrUnknownName, kerr.InvalidConfig},
	{config.ErrInvalidValue, kerr.InvalidConfig},
	{config.ErrReadOnly, kerr.InvalidConfig},
	{config.ErrNotList, kerr.InvalidConfig},
	{config.ErrInvalidOp, kerr.InvalidConfig},
	{metadata.ErrTopicExists, kerr.TopicAlreadyExists},
	{metadata.ErrUnknownTopic, kerr.UnknownTopicOrPartition},
	{metadata.ErrInvalidPartitions, kerr.InvalidPartitions},
	{metadata.ErrInvalidReplicas, kerr.InvalidReplicaAssignment},
	{metadata.ErrNotController, kerr.NotController},
	{group.ErrNotCoordinator, kerr.NotCoordinator},
	{group.ErrLoadInProgress, kerr.CoordinatorLoadInProgress},
	{group.ErrCoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
	{group.ErrInvalidGroupID, kerr.InvalidGroupID},
	{group.ErrUnknownMemberID, kerr.UnknownMemberID},
	{group.ErrMemberIDRequired, kerr.MemberIDRequired},
	{group.ErrIllegalGeneration, kerr.IllegalGeneration},
	{group.ErrRebalanceInProgress, kerr.RebalanceInProgress},
	{group.ErrInconsistentProtocol, kerr.InconsistentGroupProtocol},
	{group.ErrInvalidSessionTimeout, kerr.InvalidSessionTimeout},
	{group.ErrFencedInstanceID, kerr.FencedInstanceID},
	{group.ErrGroupMaxSizeReached, kerr.GroupMaxSizeReached},
	{group.ErrGroupIDNotFound, kerr.GroupIDNotFound},
	{group.ErrNonEmptyGroup, kerr.NonEmptyGroup},
	{group.ErrGroupSubscribedToTopic, kerr.GroupSubscribedToTopic},
	{group.ErrOffsetMetadataTooLarge, kerr.OffsetMetadataTooLarge},
	{group.ErrCommitTooLarge, kerr.InvalidCommitOffsetSize},
	{group.ErrInvalidRequest, kerr.InvalidRequest},
	{group.ErrFencedMemberEpoch, kerr.FencedMemberEpoch},
	{group.ErrStaleMemberEpoch, kerr.StaleMemberEpoch},
	{group.ErrUnreleasedInstanceID, kerr.UnreleasedInstanceID},
	{group.ErrUnsupportedAssignor, kerr.UnsupportedAssignor},
	{group.ErrInvalidRegularExpression, kerr.InvalidRegularExpression},
	{group.ErrUnsupportedVersion, kerr.UnsupportedVersion},
	{txn.ErrNotCoordinator, kerr.NotCoordinator},
	{txn.ErrLoadInProgress, kerr.CoordinatorLoadInProgress},
	{txn.ErrCoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
	{txn.ErrConcurrentTransactions, kerr.ConcurrentTransactions},
	{txn.ErrProducerFenced, kerr.ProducerFenced},
	{txn.ErrInvalidProducerIDMapping, kerr.InvalidProducerIDMapping},
	{txn.ErrInvalidTxnState, kerr.InvalidTxnState},
	{txn.ErrInvalidTransactionTimeout, kerr.InvalidTransactionTimeout},
	{txn.ErrInvalidRequest, kerr.InvalidRequest},
	{txn.ErrTransactionalIDNotFound, kerr.TransactionalIDNotFound},
	{context.DeadlineExceeded, kerr.RequestTimedOut},
}

// protocolError is an error decided in this package: a Kafka code with the message sent
// beside it, worded as Kafka words it where clients or operators may match on the text.
type protocolError struct {
	code    *kerr.Error
	message string
}

func (e *protocolError) Error() string { return e.message }

// Unwrap lets errorCode find the code.
func (e *protocolError) Unwrap() error { return e.code }

// newError returns a protocolError with a formatted message.
func newError(code *kerr.Error, format string, args ...any) error {
	return &protocolError{code: code, message: fmt.Sprintf(format, args...)}
}

// errorMessage is the text sent beside an error code where the protocol has a message
// field: the error itself, which names what was wrong.
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
