// Package replica is the follower side of partition replication and the leader's ISR
// upkeep, after Kafka's ReplicaFetcherThread and Partition.maybeShrinkIsr/maybeExpandIsr.
//
// Manager keeps one fetcher goroutine per leader broker this broker follows partitions
// of (as the metadata image says: a replica, not the leader). A fetcher sends Fetch
// requests to the leader with this broker's replica id (ReplicaID before v15,
// ReplicaState from v15, KIP-903), each partition's log end offset as its fetch offset
// and its latest epoch as LastFetchedEpoch (KIP-320), long-polling like Kafka's
// replica.fetch.wait.max.ms / replica.fetch.min.bytes. What comes back is appended with
// the leader's offsets and epochs (partition.AppendAsFollower); the follower's high
// watermark is the smaller of the leader's and its own log end. A DivergingEpoch
// truncates the log there and the next fetch goes on from the new end;
// OFFSET_OUT_OF_RANGE truncates to the leader's high watermark (or restarts the log at
// the leader's log start); fencing errors pause the partition until the next metadata or
// replica.fetch.backoff.ms. Apply restarts the fetchers whose partitions, leader epochs
// or leader address changed, after the registry has applied the same image.
//
// The ISR keeper (isr.go) runs on the leader: every replica.lag.time.max.ms/2, and when
// a follower catches up, it proposes a ChangePartition (same leader and epoch, new ISR,
// partition epoch + 1) for partitions whose ISR should shrink or grow; a refused
// proposal (the partition moved on) waits for the next image.
//
// The fetcher reaches the leader over one TCP connection of its own (conn.go), dialed
// and authenticated with the inter-broker listener's TLS and SASL (internal/interbroker,
// Config.InterBroker): it negotiates versions with ApiVersions, authenticates (renewing
// the session on the connection before it expires), then writes each Fetch and reads its answer on
// the fetcher's goroutine into a reused buffer, which the appended batches point into
// until the next fetch. The request and response types are kmsg's, the one package
// besides internal/api and internal/group allowed to use them, since this is a Kafka
// client. (A franz-go client did this before; its request path cost three goroutine
// hand-offs and a fresh response-sized buffer per fetch.)
package replica
