// Package interop holds tests that drive real Kafka clients other than franz-go against
// Nagare brokers started in process: kcat (librdkafka), kafka-python and KafkaJS, run as
// subprocesses with bounded time, and sarama (the IBM Go client), linked in. The package
// has no code of its own; the tests are the point.
//
// The clients are system packages (scripts/install-test-deps.sh, run by `make test`,
// installs them), and KafkaJS, run by node from testdata/kafkajs at the version its
// package-lock.json pins (the same script runs npm ci there). A test skips, saying
// why, when its client is missing. Set NAGARE_TEST_LOG=1 to see the broker's log next
// to a failing client's output.
package interop
