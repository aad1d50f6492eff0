// Package config is Nagare's single table of broker and topic configs under Kafka's names:
// their types, defaults, valid values, update modes and the broker synonyms that supply a
// topic's values. Operators bring Kafka properties and Kafka admin tools call
// DescribeConfigs and (Incremental)AlterConfigs; everything else reads typed values from
// here, so a name, default or range is written down once.
//
// Files:
//   - table.go: the definitions (one slice literal) and lookups.
//   - value.go: types, sources, parsing to Kafka's canonical text, validators, errors.
//   - properties.go: ParseProperties, Java .properties syntax.
//   - broker.go: Broker (static properties plus dynamic overrides) and its typed getters.
//   - topic.go: ValidateTopic, and ResolveTopic into the typed Topic the log reads.
//   - describe.go: DescribeConfigs entries with sources and synonyms.
//   - alter.go: IncrementalAlterConfigs semantics (SET, DELETE, APPEND, SUBTRACT).
//   - listener.go: listeners and listener.security.protocol.map parsing.
//
// Precedence, highest first, as in Kafka: a topic override (DYNAMIC_TOPIC_CONFIG), then for
// each broker synonym in order the per-broker dynamic value (DYNAMIC_BROKER_CONFIG), the
// cluster-default dynamic value (DYNAMIC_DEFAULT_BROKER_CONFIG), the properties file
// (STATIC_BROKER_CONFIG), and last the default (DEFAULT_CONFIG). Within a synonym family
// the first name that is set in any layer wins (log.retention.ms over .minutes over .hours);
// .minutes and .hours values are converted to milliseconds.
//
// The package imports no other internal package and not kmsg: Source, Type and AlterOpType
// use Kafka's wire numbers so internal/api maps them one to one. Errors are *ConfigError
// (naming the key; Is one of the Err sentinels) or *SyntaxError (naming the line).
//
// Concurrency: a Broker is safe for concurrent use. Readers load one immutable snapshot
// (atomic.Pointer) and never block; SetDynamic validates, builds a new snapshot and
// publishes it whole, serialised by a mutex. ResolveTopic and DescribeTopic read the
// snapshot current when called, so callers re-resolve after a change.
//
// Differs from Kafka (each also noted where it is implemented):
//   - Defaults chosen for a broker started with no settings: node.id=1, log.dir=./data,
//     listeners=PLAINTEXT://127.0.0.1:9092, sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,
//     ssl.keystore.type and ssl.truststore.type PEM (the only TLS format Nagare reads).
//   - Values Nagare cannot serve are rejected rather than ignored: SASL mechanisms other
//     than PLAIN and SCRAM, keystore types other than PEM.
//   - Topic describe lists every broker synonym that is set (see DescribeTopic).
//   - Configs Nagare does not implement (tiered storage, replication throttles, message
//     format version, JVM and plugin classes) are not in the table: as topic configs they
//     are rejected as unknown; as static broker configs they are kept with a warning.
//   - Properties files are read as UTF-8 rather than ISO-8859-1.
package config
