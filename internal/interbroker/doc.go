// Package interbroker is how a broker reaches the other brokers as a Kafka client: the
// replica fetchers (internal/replica), the transaction markers (internal/txn) and the
// share-group state RPCs (internal/share) all connect to another broker's registered
// inter-broker address, so they all need that listener's security protocol spoken from
// the client side.
//
// Settings are derived once from the broker config, as Kafka derives its inter-broker
// client config:
//
//   - the listener is inter.broker.listener.name (else PLAINTEXT, else the first);
//   - on SSL and SASL_SSL the TLS config comes from the listener's own PEM files,
//     listener.name.<listener>.ssl.* first, then ssl.*: servers are verified against
//     ssl.truststore.location (else the system roots) and the dialed host name, and the
//     ssl.keystore.location certificate is presented when the server asks for one;
//   - on SASL_PLAINTEXT and SASL_SSL the mechanism is sasl.mechanism.inter.broker.protocol
//     (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; default SCRAM-SHA-512, where Kafka's is
//     GSSAPI) and the credentials are the username and password options of
//     listener.name.<listener>.<mechanism>.sasl.jaas.config (else sasl.jaas.config).
//
// The franz-go users take KgoOpts (or a Clients pool, one client per broker); the replica
// fetcher, which frames its own requests on one connection, takes Dial and Authenticate.
// The client side of the SASL mechanisms is franz-go's (pkg/sasl/plain, pkg/sasl/scram),
// driven by hand over SaslHandshake v1 and SaslAuthenticate.
//
// The inter-broker principal must be allowed CLUSTER_ACTION on the cluster (replica
// fetches, WriteTxnMarkers, the share-group state RPCs): make it a super user
// (super.users=User:<name>), as Kafka deployments do.
package interbroker
