// Package api turns Kafka request frames into responses. It owns the wire protocol above
// framing: request headers, the table of served API keys and versions (registry.go), and
// one file per API named by its key. It is the only package that imports kmsg and kerr;
// below it, packages speak Go types in Kafka's words.
//
// Concurrency: the server calls Handler.Handle from each connection's reader goroutine;
// a handler may complete its Reply later from another goroutine.
package api
