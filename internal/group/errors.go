package group

import "errors"

// Errors the coordinator returns. internal/api maps each to the Kafka error code named
// beside it; requests that fail wrap them with detail, so match with errors.Is.
var (
	// ErrNotCoordinator: this broker does not lead the group's __consumer_offsets
	// partition (NOT_COORDINATOR); the client looks the coordinator up again.
	ErrNotCoordinator = errors.New("group: not the coordinator for this group")
	// ErrLoadInProgress: the group's partition is being loaded from the log
	// (COORDINATOR_LOAD_IN_PROGRESS); the client retries.
	ErrLoadInProgress = errors.New("group: coordinator is loading the group's partition")
	// ErrCoordinatorNotAvailable: the partition failed to load, the group is being
	// removed, or the log refused a write for lack of replicas (COORDINATOR_NOT_AVAILABLE).
	ErrCoordinatorNotAvailable = errors.New("group: coordinator not available")
	// ErrInvalidGroupID: an empty group id where one is required (INVALID_GROUP_ID).
	ErrInvalidGroupID = errors.New("group: invalid group id")
	// ErrUnknownMemberID: the member id is not in the group (UNKNOWN_MEMBER_ID).
	ErrUnknownMemberID = errors.New("group: unknown member id")
	// ErrMemberIDRequired: a JoinGroup v4+ without a member id; the response carries the
	// id to rejoin with (MEMBER_ID_REQUIRED, KIP-394).
	ErrMemberIDRequired = errors.New("group: member id required")
	// ErrIllegalGeneration: the request's generation is not the group's (ILLEGAL_GENERATION).
	ErrIllegalGeneration = errors.New("group: illegal generation")
	// ErrRebalanceInProgress: the group is rebalancing; the member must rejoin
	// (REBALANCE_IN_PROGRESS).
	ErrRebalanceInProgress = errors.New("group: rebalance in progress")
	// ErrInconsistentProtocol: the member's protocol type or protocols do not fit the
	// group's (INCONSISTENT_GROUP_PROTOCOL).
	ErrInconsistentProtocol = errors.New("group: inconsistent group protocol")
	// ErrInvalidSessionTimeout: the session timeout is outside
	// group.min/max.session.timeout.ms (INVALID_SESSION_TIMEOUT).
	ErrInvalidSessionTimeout = errors.New("group: invalid session timeout")
	// ErrFencedInstanceID: another member id now holds this group.instance.id
	// (FENCED_INSTANCE_ID, KIP-345).
	ErrFencedInstanceID = errors.New("group: fenced instance id")
	// ErrGroupMaxSizeReached: the group has group.max.size members (GROUP_MAX_SIZE_REACHED).
	ErrGroupMaxSizeReached = errors.New("group: group max size reached")
	// ErrGroupIDNotFound: no such group (GROUP_ID_NOT_FOUND).
	ErrGroupIDNotFound = errors.New("group: group id not found")
	// ErrNonEmptyGroup: the group still has members (NON_EMPTY_GROUP).
	ErrNonEmptyGroup = errors.New("group: group is not empty")
	// ErrGroupSubscribedToTopic: offsets of a topic the group consumes cannot be deleted
	// (GROUP_SUBSCRIBED_TO_TOPIC).
	ErrGroupSubscribedToTopic = errors.New("group: group is subscribed to the topic")
	// ErrOffsetMetadataTooLarge: commit metadata longer than offset.metadata.max.bytes
	// (OFFSET_METADATA_TOO_LARGE).
	ErrOffsetMetadataTooLarge = errors.New("group: offset metadata too large")
	// ErrCommitTooLarge: the commit does not fit in a record batch of the offsets topic
	// (INVALID_COMMIT_OFFSET_SIZE).
	ErrCommitTooLarge = errors.New("group: offset commit too large")
	// ErrCorruptRecord: a record of __consumer_offsets does not decode; loading the
	// partition fails rather than serving groups that silently lost state.
	ErrCorruptRecord = errors.New("group: corrupt __consumer_offsets record")
)

// Errors of KIP-848 consumer groups.
var (
	// ErrInvalidRequest: a ConsumerGroupHeartbeat that breaks the protocol's rules
	// (INVALID_REQUEST).
	ErrInvalidRequest = errors.New("group: invalid request")
	// ErrFencedMemberEpoch: the member's epoch is not the coordinator's; it must drop
	// its partitions and rejoin (FENCED_MEMBER_EPOCH).
	ErrFencedMemberEpoch = errors.New("group: fenced member epoch")
	// ErrStaleMemberEpoch: an offset commit or fetch with an epoch that is not the
	// member's current one (STALE_MEMBER_EPOCH).
	ErrStaleMemberEpoch = errors.New("group: stale member epoch")
	// ErrUnreleasedInstanceID: a static member joins while its instance id is still in
	// use by a member that has not left (UNRELEASED_INSTANCE_ID).
	ErrUnreleasedInstanceID = errors.New("group: instance id still in use")
	// ErrUnsupportedAssignor: the member asks for an assignor this broker does not
	// have (UNSUPPORTED_ASSIGNOR).
	ErrUnsupportedAssignor = errors.New("group: unsupported assignor")
	// ErrInvalidRegularExpression: the subscription regex does not compile
	// (INVALID_REGULAR_EXPRESSION).
	ErrInvalidRegularExpression = errors.New("group: invalid regular expression")
	// ErrUnsupportedVersion: a classic-protocol request version used for a consumer
	// group member (UNSUPPORTED_VERSION).
	ErrUnsupportedVersion = errors.New("group: unsupported version")
)
