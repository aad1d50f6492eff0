// Package broker wires Nagare's packages into one running broker: broker config, the
// data dir's logs, the metadata quorum, the partition registry kept in step with it, the
// API dispatcher, the Kafka listener and the HTTP endpoint (/metrics, /healthz, /readyz).
// It is the in-process entry point both for `nagare serve` and for tests.
//
// Start order: config, logs (recovered), metadata quorum (ready, cluster id), Kafka
// listener, broker registration (a new incarnation and broker epoch, registration.go),
// heartbeats until unfenced, partitions synced, ready. A controller-only node stops after
// the quorum and the controller (controller_only.go). Shutdown runs it backwards:
// stop accepting and drain in-flight requests, stop following metadata, close the
// quorum, then flush and close the logs and write the clean-shutdown marker.
//
// Goroutines: Start launches the metadata follower and the HTTP server; Shutdown stops
// both and waits for them.
package broker
