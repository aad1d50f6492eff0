// Package metadata keeps the cluster metadata (the cluster ID; brokers; topics with their
// IDs, partitions, replica assignments and config overrides; dynamic broker configs; how far
// producer IDs have been handed out) as a state machine applied from a replicated log of
// records: the raft.FSM of the metadata quorum, run by hashicorp/raft. Every broker reads the
// same Image; the quorum's leader is Kafka's active controller, where every record is
// proposed (other nodes forward theirs to it).
//
// A node started without cluster settings bootstraps a quorum with itself as the only voter,
// so a single broker runs the same code as a cluster: growing it adds voters. The package
// imports no other internal package and no kmsg; it speaks plain Go types in Kafka's words,
// and internal/api maps its errors to Kafka error codes.
//
// # Files
//
//	records.go      the record types, their encoding, TopicID
//	image.go        Image: the immutable state and its read accessors; copy-on-write helpers
//	apply.go        how each record changes an Image, and the invariants it checks
//	fsm.go          FSM: raft.FSM over Images; halting on records it cannot read
//	snapshot.go     the snapshot format
//	store.go        Store: opening the quorum, bootstrap, Propose, WaitReady,
//	                EnsureClusterID, ControllerID, Watch, Close
//	forward.go      the forwarding protocol: Propose, join, read-index, broker requests and
//	                DescribeQuorum sent to the leader
//	transport.go    muxStream: raft's stream layer, sharing its port with forwarding; at most
//	                maxPendingConns accepted connections in their handshake or first byte
//	transport_tls.go TransportTLS: the CONTROLLER listener as SSL (mutual with client auth)
//	quorum.go       QuorumNodes, DescribeQuorum: the voters and observers in the raft
//	                configuration and their progress (ProgressReporter: the controller's
//	                heartbeats), the leader's view forwarded to any other node
//	producerids.go  ProducerIDAllocator: producer IDs served from blocks taken through the log
//	logging.go      hclog (raft's logger) to slog
//	errors.go       the sentinel errors
//
// # Concurrency
//
// An Image never changes once published. Applying a record builds the next Image, copying
// only what the record touches (topics live in sharded maps, so a change copies one shard of
// about 1/256 of the topics, never all of them) and publishing it with an atomic store;
// readers call Store.Image (an atomic load) and never lock. Raft calls FSM.Apply, Snapshot and Restore on one goroutine,
// so the FSM itself needs no lock; snapshot persistence reads an Image, so it runs alongside
// Apply. Store's and ProducerIDAllocator's methods are safe for concurrent use; Watch
// subscribers are signalled without blocking the FSM.
//
// # Records
//
// A record as stored in a raft log entry:
//
//	+--------+---------+-------------------------------+
//	| type   | version | payload: one JSON object      |
//	| 1 byte | 1 byte  | (the record struct's fields)  |
//	+--------+---------+-------------------------------+
//
// JSON because metadata records are few and small, and a dumped log should be readable; the
// version byte lets any record move to another payload (JSON or binary) later. Decoding is
// strict: unknown fields and trailing bytes are errors. A type or version this code does not
// know halts the FSM instead of being skipped (see FSM), so an older binary can never serve
// metadata that silently differs from its peers'. Topic IDs appear in Kafka's text form.
//
// The record types, by their type byte (never renumbered or reused):
//
//	1 RegisterBroker       a broker incarnation: listeners, epoch (v1); replaces an earlier one
//	2 CreateTopic          a topic with its ID, partitions and config overrides
//	3 DeleteTopic          a topic, named by ID
//	4 CreatePartitions     more partitions for a topic, continuing its numbering
//	5 AlterTopicConfigs    topic config overrides set and removed
//	6 AlterBrokerConfigs   dynamic configs of one broker or of all (ClusterDefault)
//	7 AllocateProducerIDs  a block of producer IDs for a node (Kafka's ProducerIdsRecord)
//	8 SetClusterID         the cluster ID, once
//
// The FSM validates what must always hold (topic names and IDs unique; partitions numbered
// densely and only growing; replicas are registered brokers, leader in ISR, ISR among the
// replicas; producer ID blocks contiguous, never overlapping; the cluster ID set once) and
// returns a rejected record's error to the proposer; the Image stays as it was. Two records
// are compare-and-set operations on purpose: AllocateProducerIDs must start at the Image's
// NextProducerID and SetClusterID needs an Image without an ID, so that of two proposers that
// read the same Image only the first applied wins, and the other re-reads and retries (the
// allocator) or takes the winner's value (EnsureClusterID). Config names and values are
// internal/config's to check before proposing.
//
// # On disk
//
//	<data-dir>/__cluster_metadata/
//	    raft.db                         bbolt: raft's log and stable store (term, vote)
//	    snapshots/<term>-<index>-<ms>/  raft's FileSnapshotStore; the newest two kept
//	        meta.json                   index, term, configuration, size, CRC-64
//	        state.bin                   the Image, see snapshot.go
//
// bbolt fsyncs every log append before raft counts it towards commit, so a record Propose
// acknowledged survives a crash. Snapshots are written to a temporary folder, fsynced and
// renamed. Open takes bbolt's file lock: a second process on the same directory fails.
//
// # Start-up and transport
//
// Open opens the log, restores the newest snapshot into the FSM, and starts raft with its
// NetworkTransport over muxStream (transport.go): one TCP listener shared by raft's RPCs and
// the forwarding protocol (forward.go), told apart by each connection's first byte. A lone
// voter costs one idle listener on 127.0.0.1 and, by default, an ephemeral port. If the
// configuration stored in the log lists a voter at another address than configured (the
// port changed), the leader updates it once it leads.
//
// A directory with no quorum state is bootstrapped: with Config.Voters when this node is one
// of them (every voter bootstraps the same configuration, so the quorum forms from any start
// order), else, without cluster settings, with this node as the only voter. A broker-only
// node (not among Voters) bootstraps nothing and asks the leader to add it as a non-voter.
// Stored voters that differ from the configured ones are refused (ErrVotersMismatch).
//
// The leader becomes ready once a barrier commits (its log is replayed); any other node once
// it knows a leader and its Image reaches the leader's applied index, read over the
// forwarding protocol. The broker then calls EnsureClusterID, which gives a new cluster its
// ID. Propose on a node that does not lead forwards the record to the leader and waits until
// this node has applied it.
//
// Not yet: removing voters, TLS on the quorum's port.
package metadata
