#!/usr/bin/env bash
# Installs what the test suite needs beyond Go, idempotently: kcat (librdkafka) and
# kafka-python for the interop tests, and node with KafkaJS at the version
# tests/interop/testdata/kafkajs/package-lock.json pins (npm ci into its node_modules).
# Does nothing when they are already present.
set -euo pipefail

need=()
command -v kcat >/dev/null 2>&1 || need+=(kcat)
/usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || need+=(python3-kafka)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	echo "installing test dependencies: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# KafkaJS: npm ci installs exactly what package-lock.json records, and only when the
# installed version is not the pinned one.
kafkajs="$(cd "$(dirname "$0")/.." && pwd)/tests/interop/testdata/kafkajs"
version() { node -e 'try { const j = JSON.parse(require("fs").readFileSync(process.argv[1])); console.log(process.argv[2] ? j.packages[process.argv[2]].version : j.version) } catch (e) {}' "$@"; }
want="$(version "$kafkajs/package-lock.json" node_modules/kafkajs)"
have="$(version "$kafkajs/node_modules/kafkajs/package.json")"
if [ "$have" != "$want" ]; then
	echo "installing kafkajs $want into $kafkajs/node_modules"
	(cd "$kafkajs" && npm ci --no-audit --no-fund --loglevel=error)
fi
