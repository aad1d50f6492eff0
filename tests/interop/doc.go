// Package interop holds tests that drive real non-Go Kafka clients against a Nagare
// broker started in process: kcat (librdkafka) and kafka-python, run as subprocesses
// with bounded time. The package has no code of its own; the tests are the point.
//
// The clients are system packages (scripts/install-test-deps.sh, run by `make test`,
// installs them), and KafkaJS, run by node from testdata/kafkajs at the version its
// package-lock.json pins (the same script runs npm ci there). A test skips, saying
// why, when its client is missing. Set NAGARE_TEST_LOG=1 to see the broker's log next
// to a failing client's output.
package interop
