// Package stats attributes every request to the client that sent it and aggregates what
// the operator needs to find a noisy client during an incident: per API key and version,
// request counts, error codes and latency by stage (Kafka's RequestQueueTime, LocalTime,
// RemoteTime, ThrottleTime, ResponseQueueTime, ResponseSendTime) and request and response
// sizes; per client (principal, client id, client software), requests by API, bytes in and
// out, broker time, throttle time and open connections.
//
// Main types: Stats (the aggregate, one per broker), Conn (one connection's handle, which
// caches the client entry its requests are counted against), Request (one answered
// request's figures, filled by the server's writer from the api.Reply's stage stamps),
// ClientView (the per-client rates served as JSON by /v1/clients).
//
// The hot path is a Conn.Record per answered request: atomic adds to fixed arrays and a
// few log2 histogram buckets, with no map lookup, lock, allocation or clock read. An
// API's counters are striped: each connection records into one stripe, and Collect adds
// the stripes up, so connections on different CPUs seldom contend. The client entry is
// looked up (under Stats' mutex) only when a connection's client id or principal changes.
//
// Cardinality is bounded: at most Config.MaxClients client entries exist; requests of
// clients beyond the cap are counted against one shared entry labelled "other". Entries
// with no open connection for Config.IdleExpiry are removed, so the cap frees up; a
// connection counted as "other" moves to its own entry at its next request after a
// removal. Client-chosen strings become label values only through LabelValue.
//
// Concurrency: every method is safe for concurrent use. Counters are atomics; the client
// table and the rate samples are guarded by Stats.mu, which the hot path never takes.
// There is no background goroutine: rates are sampled when read (Clients), and idle
// entries are swept then, at every scrape (Collect) and when a full table needs room (at
// most once a second).
package stats
