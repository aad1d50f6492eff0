package metadata

import "errors"

// Errors returned by this package. Propose wraps them with detail (topic name, node ID), so
// match with errors.Is; internal/api maps each to its Kafka error code.
var (
	// ErrUnknownRecord is a record type or version this code cannot read: a newer version
	// of Nagare wrote it. Applying it stops the FSM (see FSM.Apply).
	ErrUnknownRecord = errors.New("metadata: unknown record type or version")
	// ErrCorruptRecord is a record whose payload does not parse. It also stops the FSM.
	ErrCorruptRecord = errors.New("metadata: corrupt record")
	// ErrCorruptSnapshot is a snapshot that does not parse or breaks an invariant.
	ErrCorruptSnapshot = errors.New("metadata: corrupt snapshot")

	// ErrInvalidRecord is a record that breaks a rule no state could satisfy (an empty
	// replica list, a key both set and deleted). Kafka: INVALID_REQUEST and kin.
	ErrInvalidRecord = errors.New("metadata: invalid record")
	// ErrInvalidTopicName is a name Kafka would refuse. Kafka: INVALID_TOPIC_EXCEPTION.
	ErrInvalidTopicName = errors.New("metadata: invalid topic name")
	// ErrTopicExists is a CreateTopic whose name or ID is taken. Kafka: TOPIC_ALREADY_EXISTS.
	ErrTopicExists = errors.New("metadata: topic already exists")
	// ErrUnknownTopic is a record naming a topic ID that is not in the image.
	// Kafka: UNKNOWN_TOPIC_ID (or UNKNOWN_TOPIC_OR_PARTITION for requests by name).
	ErrUnknownTopic = errors.New("metadata: unknown topic")
	// ErrInvalidPartitions is a partition list that does not start at, or continue, the
	// topic's numbering, including one that would shrink it. Kafka: INVALID_PARTITIONS.
	ErrInvalidPartitions = errors.New("metadata: invalid partitions")
	// ErrInvalidPartitionChange is a ChangePartition computed from a stale view (its
	// partition epoch is not the next) or breaking the leader and ISR rules. Kafka's
	// AlterPartition answers INVALID_UPDATE_VERSION or FENCED_LEADER_EPOCH for these.
	ErrInvalidPartitionChange = errors.New("metadata: invalid partition change")
	// ErrInvalidReplicas is an assignment naming an unregistered broker, a repeated
	// replica, or a leader or ISR member outside the replicas.
	// Kafka: INVALID_REPLICA_ASSIGNMENT.
	ErrInvalidReplicas = errors.New("metadata: invalid replica assignment")
	// ErrProducerIDsUnavailable is a ProducerIDAllocator that could not get a new block of
	// producer IDs because other proposers kept taking the block it proposed. It is
	// retriable. Kafka: COORDINATOR_LOAD_IN_PROGRESS, which Kafka's brokers answer
	// InitProducerId with while they wait for a block (older clients retry it, where they
	// would take REQUEST_TIMED_OUT as fatal).
	ErrProducerIDsUnavailable = errors.New("metadata: no producer ID block available yet")

	// ErrNotController is a proposal made on a node that is not the quorum's leader, or that
	// lost leadership before its proposal committed (then the outcome is unknown, as for a
	// Kafka request that times out). Kafka: NOT_CONTROLLER.
	ErrNotController = errors.New("metadata: this node is not the controller")
	// ErrClosed is any call on a Store after Close.
	ErrClosed = errors.New("metadata: store closed")
	// ErrNodeIDMismatch is a data directory whose quorum does not include this node ID:
	// it was made by another node, or this node was removed from the quorum.
	ErrNodeIDMismatch = errors.New("metadata: data directory belongs to another node")
	// ErrVotersMismatch is a data directory whose quorum has other voters than
	// controller.quorum.voters lists (for example a one-node directory started as a member
	// of a three-voter quorum): starting would let it elect a leader of a different quorum.
	ErrVotersMismatch = errors.New("metadata: data directory belongs to another quorum")
	// ErrStaleBrokerEpoch is a heartbeat, controlled shutdown or replica fetch carrying a
	// broker epoch that is not the broker's current registration: it comes from a process
	// that has since restarted (or from before a re-registration). Kafka:
	// STALE_BROKER_EPOCH.
	ErrStaleBrokerEpoch = errors.New("metadata: stale broker epoch")
	// ErrBrokerIDNotRegistered is a heartbeat or controlled shutdown from a broker that
	// has no registration. Kafka: BROKER_ID_NOT_REGISTERED.
	ErrBrokerIDNotRegistered = errors.New("metadata: broker is not registered")
)
