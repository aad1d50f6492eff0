// Package controller is Kafka's active controller on top of the metadata quorum: it runs
// on every node but acts only on the node that leads the quorum (metadata.Store), and only
// once that node has applied the log of earlier terms.
//
// What it does:
//   - Broker registration (registration.go, KIP-631). Each broker process registers a new
//     incarnation, written fenced; its index is the broker epoch. Before answering, an
//     election pass moves the previous process's leaderships away. Heartbeats and
//     controlled shutdowns carry the epoch; another epoch is refused
//     (metadata.ErrStaleBrokerEpoch), and a fenced broker is unfenced once its metadata
//     has caught up with its registration.
//   - Broker liveness. Brokers heartbeat every broker.heartbeat.interval.ms over the
//     forwarding protocol (metadata.Store.Heartbeat). The controller keeps the time of each
//     broker's last heartbeat in memory, never in the log: sessions are the controller's
//     view of the network, worthless to a successor. A broker silent for longer than
//     broker.session.timeout.ms is fenced (a FenceBroker record); a fenced broker that
//     heartbeats again is unfenced (UnfenceBroker). A newly active controller gives every
//     broker a fresh session before it fences anyone, since it heard nobody yet.
//   - Quorum progress (quorum.go). Each heartbeat's applied metadata index and time are
//     kept for DescribeQuorum (metadata.ProgressReporter), with the last time the broker
//     was caught up; cleared, like sessions, when a term starts.
//   - Leader election (election.go). After every metadata change it looks for partitions
//     whose leader is fenced (or shutting down) and elects the first live in-sync replica in
//     replica order, with the leader epoch raised; none live leaves the partition offline
//     with its ISR kept, unless unclean.leader.election.enable allows any live replica. It
//     drops fenced brokers from the ISRs they are in, and a broker that returns leads again
//     the offline partitions whose ISR holds it. Each change is a ChangePartition record.
//   - Controlled shutdown. A stopping broker asks (ShutdownBegin) to have its leaderships
//     moved: the controller marks it shutting down (in memory), so that elections skip it,
//     and moves each partition it leads to another live ISR member; a partition with no
//     other keeps its leader until the broker is gone. When the broker then says it is
//     stopping (ShutdownDone) it is fenced at once.
//
// Concurrency: one goroutine (run) watches leadership, sessions and the Image and makes
// every election; heartbeats and shutdown requests arrive on the Store's connection
// goroutines and share the session maps under mu. Elections are serialised by electMu, so
// the shutdown request that runs one itself and the loop never propose the same change
// twice. Proposals go through Store.ProposeAsLeader only, so a controller that lost
// leadership cannot push a decision made from its stale view onto its successor; the
// partition epoch refuses any change computed from an older Image.
package controller
