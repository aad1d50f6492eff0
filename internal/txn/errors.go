package txn

import "errors"

// Errors the coordinator returns. internal/api maps each to the Kafka error code named
// beside it; failures wrap them with detail, so match with errors.Is.
var (
	// ErrNotCoordinator: this broker does not lead the transactional id's
	// __transaction_state partition (NOT_COORDINATOR); the client looks it up again.
	ErrNotCoordinator = errors.New("txn: not the coordinator for this transactional id")
	// ErrLoadInProgress: the partition is being replayed from its log
	// (COORDINATOR_LOAD_IN_PROGRESS); the client retries.
	ErrLoadInProgress = errors.New("txn: coordinator is loading the transactional id's partition")
	// ErrCoordinatorNotAvailable: the partition failed to load or refused a write
	// (COORDINATOR_NOT_AVAILABLE).
	ErrCoordinatorNotAvailable = errors.New("txn: coordinator not available")
	// ErrConcurrentTransactions: the previous transaction of this id is still being
	// completed (CONCURRENT_TRANSACTIONS); the client retries.
	ErrConcurrentTransactions = errors.New("txn: a transaction of this id is being completed")
	// ErrProducerFenced: a newer producer with the same transactional id has
	// initialised (PRODUCER_FENCED; INVALID_PRODUCER_EPOCH for versions before KIP-588).
	ErrProducerFenced = errors.New("txn: producer fenced by a newer epoch")
	// ErrInvalidProducerIDMapping: the producer id is not the one this transactional id
	// has (INVALID_PRODUCER_ID_MAPPING).
	ErrInvalidProducerIDMapping = errors.New("txn: producer id does not match the transactional id")
	// ErrInvalidTxnState: the request does not fit the transaction's state, e.g. EndTxn
	// with no transaction or commit after abort (INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("txn: invalid transaction state")
	// ErrInvalidTransactionTimeout: the timeout is not positive or exceeds
	// transaction.max.timeout.ms (INVALID_TRANSACTION_TIMEOUT).
	ErrInvalidTransactionTimeout = errors.New("txn: invalid transaction timeout")
	// ErrInvalidRequest: an empty transactional id (INVALID_REQUEST).
	ErrInvalidRequest = errors.New("txn: invalid request")
	// ErrTransactionalIDNotFound: DescribeTransactions of an id this coordinator does
	// not have (TRANSACTIONAL_ID_NOT_FOUND).
	ErrTransactionalIDNotFound = errors.New("txn: transactional id not found")
	// ErrCorruptRecord: a __transaction_state record does not decode; loading fails
	// rather than serving transactions that silently lost state.
	ErrCorruptRecord = errors.New("txn: corrupt __transaction_state record")
)
