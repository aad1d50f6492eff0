// Package auth decides who a client is: the server side of the SASL mechanisms Nagare
// offers (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), SCRAM credential derivation, the JAAS
// option syntax Kafka operators use to list PLAIN users, the ssl.principal.mapping.rules
// language that turns a TLS client certificate's subject into a user name, and the TLS
// server configuration built from PEM files. It imports no other internal package and no
// kmsg: internal/api runs the Kafka framing (SaslHandshake, SaslAuthenticate) around the
// exchanges made here, and internal/metadata stores the credentials.
//
// Files:
//
//	mechanism.go          Exchange (one authentication), Mechanisms (what a listener offers)
//	plain.go              PLAIN (RFC 4616) against a user list from config
//	jaas.go               Kafka's JAAS syntax, for PLAIN's user_<name>="password" options
//	scram_credential.go   SCRAM mechanisms, credentials (RFC 5802 keys), PBKDF2
//	scram_message.go      parsing of the client's SCRAM messages (the fuzzed parser)
//	scram.go              the SCRAM server exchange (RFC 5802, RFC 7677)
//	scram_spec.go         --add-scram 'SCRAM-SHA-256=[name=...,password=...]' specs
//	principal_rules.go    ssl.principal.mapping.rules: RULE:pattern/replacement/[LU], DEFAULT
//	tls.go                tls.Config from ssl.keystore / ssl.truststore PEM files
//
// Concurrency: an Exchange is one authentication on one connection, driven by that
// connection's reader one token at a time, and is not safe for concurrent use. Mechanisms
// and PrincipalMapper are immutable once built and shared.
//
// Security notes: secrets are compared in constant time. A SCRAM exchange for a user
// without credentials runs to the end with a salt derived from the user name and a
// per-process key, and fails only at the proof, so the first answer does not reveal which
// users exist. Errors never say whether the user or the password was wrong.
package auth
