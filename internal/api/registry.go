package api

import "context"

// apiEntry is one served API: its key, the versions implemented, and the handler.
// ApiVersions advertises exactly this table.
type apiEntry struct {
	key      int16
	min, max int16
	handle   func(d *Dispatcher, ctx context.Context, r *request)
}

const (
	apiVersionsKey = 18
	maxAPIKey      = 92
)

// registry is the one table of what Nagare serves; dispatch and ApiVersions read it.
var registry = []apiEntry{
	{key: 0, min: 0, max: 13, handle: (*Dispatcher).handleProduce},
	{key: 1, min: 4, max: 17, handle: (*Dispatcher).handleFetch},
	{key: 2, min: 1, max: 10, handle: (*Dispatcher).handleListOffsets},
	{key: 3, min: 0, max: 13, handle: (*Dispatcher).handleMetadata},
	{key: 8, min: 0, max: 10, handle: (*Dispatcher).handleOffsetCommit},
	{key: 9, min: 0, max: 10, handle: (*Dispatcher).handleOffsetFetch},
	{key: 10, min: 0, max: 6, handle: (*Dispatcher).handleFindCoordinator},
	{key: 11, min: 0, max: 9, handle: (*Dispatcher).handleJoinGroup},
	{key: 12, min: 0, max: 4, handle: (*Dispatcher).handleHeartbeat},
	{key: 13, min: 0, max: 5, handle: (*Dispatcher).handleLeaveGroup},
	{key: 14, min: 0, max: 5, handle: (*Dispatcher).handleSyncGroup},
	{key: 15, min: 0, max: 6, handle: (*Dispatcher).handleDescribeGroups},
	{key: 16, min: 0, max: 5, handle: (*Dispatcher).handleListGroups},
	{key: 17, min: 0, max: 1, handle: (*Dispatcher).handleSASLHandshake},
	{key: 18, min: 0, max: 4, handle: (*Dispatcher).handleAPIVersions},
	{key: 19, min: 0, max: 7, handle: (*Dispatcher).handleCreateTopics},
	{key: 20, min: 0, max: 6, handle: (*Dispatcher).handleDeleteTopics},
	{key: 21, min: 0, max: 2, handle: (*Dispatcher).handleDeleteRecords},
	{key: 22, min: 0, max: 5, handle: (*Dispatcher).handleInitProducerID},
	{key: 23, min: 0, max: 4, handle: (*Dispatcher).handleOffsetForLeaderEpoch},
	{key: 24, min: 0, max: 4, handle: (*Dispatcher).handleAddPartitionsToTxn},
	{key: 25, min: 0, max: 3, handle: (*Dispatcher).handleAddOffsetsToTxn},
	{key: 26, min: 0, max: 4, handle: (*Dispatcher).handleEndTxn},
	{key: 27, min: 0, max: 1, handle: (*Dispatcher).handleWriteTxnMarkers},
	{key: 28, min: 0, max: 4, handle: (*Dispatcher).handleTxnOffsetCommit},
	{key: 29, min: 0, max: 3, handle: (*Dispatcher).handleDescribeACLs},
	{key: 30, min: 0, max: 3, handle: (*Dispatcher).handleCreateACLs},
	{key: 31, min: 0, max: 3, handle: (*Dispatcher).handleDeleteACLs},
	{key: 32, min: 0, max: 4, handle: (*Dispatcher).handleDescribeConfigs},
	{key: 33, min: 0, max: 2, handle: (*Dispatcher).handleAlterConfigs},
	{key: 35, min: 0, max: 4, handle: (*Dispatcher).handleDescribeLogDirs},
	{key: 36, min: 0, max: 2, handle: (*Dispatcher).handleSASLAuthenticate},
	{key: 37, min: 0, max: 3, handle: (*Dispatcher).handleCreatePartitions},
	{key: 42, min: 0, max: 3, handle: (*Dispatcher).handleDeleteGroups},
	{key: 43, min: 0, max: 2, handle: (*Dispatcher).handleElectLeaders},
	{key: 44, min: 0, max: 1, handle: (*Dispatcher).handleIncrementalAlterConfigs},
	{key: 45, min: 0, max: 0, handle: (*Dispatcher).handleAlterPartitionReassignments},
	{key: 46, min: 0, max: 0, handle: (*Dispatcher).handleListPartitionReassignments},
	{key: 47, min: 0, max: 0, handle: (*Dispatcher).handleOffsetDelete},
	{key: 48, min: 0, max: 1, handle: (*Dispatcher).handleDescribeClientQuotas},
	{key: 49, min: 0, max: 1, handle: (*Dispatcher).handleAlterClientQuotas},
	{key: 50, min: 0, max: 0, handle: (*Dispatcher).handleDescribeUserScramCredentials},
	{key: 51, min: 0, max: 0, handle: (*Dispatcher).handleAlterUserScramCredentials},
	{key: 55, min: 0, max: 2, handle: (*Dispatcher).handleDescribeQuorum},
	{key: 60, min: 0, max: 2, handle: (*Dispatcher).handleDescribeCluster},
	{key: 61, min: 0, max: 0, handle: (*Dispatcher).handleDescribeProducers},
	{key: 65, min: 0, max: 0, handle: (*Dispatcher).handleDescribeTransactions},
	{key: 66, min: 0, max: 2, handle: (*Dispatcher).handleListTransactions},
	{key: 68, min: 0, max: 1, handle: (*Dispatcher).handleConsumerGroupHeartbeat},
	{key: 69, min: 0, max: 1, handle: (*Dispatcher).handleConsumerGroupDescribe},
	{key: 76, min: 0, max: 1, handle: (*Dispatcher).handleShareGroupHeartbeat},
	{key: 77, min: 0, max: 1, handle: (*Dispatcher).handleShareGroupDescribe},
	{key: 78, min: 0, max: 1, handle: (*Dispatcher).handleShareFetch},
	{key: 79, min: 0, max: 1, handle: (*Dispatcher).handleShareAcknowledge},
	{key: 83, min: 0, max: 0, handle: (*Dispatcher).handleInitializeShareGroupState},
	{key: 84, min: 0, max: 0, handle: (*Dispatcher).handleReadShareGroupState},
	{key: 85, min: 0, max: 1, handle: (*Dispatcher).handleWriteShareGroupState},
	{key: 86, min: 0, max: 0, handle: (*Dispatcher).handleDeleteShareGroupState},
	{key: 90, min: 0, max: 1, handle: (*Dispatcher).handleDescribeShareGroupOffsets},
	{key: 91, min: 0, max: 0, handle: (*Dispatcher).handleAlterShareGroupOffsets},
	{key: 92, min: 0, max: 0, handle: (*Dispatcher).handleDeleteShareGroupOffsets},
}
