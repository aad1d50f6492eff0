#!/usr/bin/env bash
# Replication bench (issue 12, docs/BENCHMARKS.md): RF 3 acks=all against RF 1 acks=1 on
# a three-broker cluster on this machine, for one or more nagare binaries, interleaved.
#
#   scripts/bench-replication.sh peak ROUNDS BIN...         # peak records/s, ratio, broker CPU
#   scripts/bench-replication.sh sustained ROUNDS BIN...    # the same over 10 s runs (no burst into the page cache)
#   scripts/bench-replication.sh steady ROUNDS BIN...       # RF 3 acks=all after WARM (10s) of the same, over DURATION (15s)
#   scripts/bench-replication.sh latency RATE ROUNDS BIN... # p50/p99 at RATE over DURATION (5s), each linger of LINGERS (10ms 1ms)
#
# Each round of each binary starts a fresh cluster (three `nagare serve` processes, as
# `nagare cluster up` starts them, plus --http with --pprof for profiles) in $DIR
# (default /var/tmp/nagare-bench-repl), creates rf1 (RF 1) and rf3 (RF 3,
# min.insync.replicas=2), runs the bench and deletes the data again, so every round
# starts with the same free page cache. Broker CPU is utime+stime from /proc, in ticks
# (1/100 s), over each bench run. Ports: $BASE_PORT+1..3 (Kafka), +11..13 (controller),
# +21..23 (HTTP). EXTRA (more --set flags) passes through to the brokers, and GOMAXPROCS,
# which defaults to each broker's share of the machine (at least 2), as `nagare cluster up`
# gives its nodes.
set -uo pipefail

DIR=${DIR:-/var/tmp/nagare-bench-repl}
BP=${BASE_PORT:-31000}
PIDS=()

up() {
	local bin=$1
	rm -rf "$DIR" && mkdir -p "$DIR"
	# A steady round writes tens of GB; a full disk takes the machine's other work with it.
	local free
	free=$(df --output=avail -BG "$DIR" | tail -n1 | tr -dc 0-9)
	if [ "$free" -lt "${MIN_FREE_GB:-30}" ]; then
		echo "only ${free} GB free under $DIR (MIN_FREE_GB ${MIN_FREE_GB:-30}); not starting" >&2
		exit 1
	fi
	PIDS=()
	local voters="1@127.0.0.1:$((BP + 11)),2@127.0.0.1:$((BP + 12)),3@127.0.0.1:$((BP + 13))"
	local share=$(($(nproc) / 3))
	for i in 1 2 3; do
		# shellcheck disable=SC2086 # EXTRA is a list of flags
		GOMAXPROCS=${GOMAXPROCS:-$((share > 2 ? share : 2))} "$bin" serve --data-dir "$DIR/node-$i" --http "127.0.0.1:$((BP + 20 + i))" --pprof \
			--set node.id=$i --set process.roles=broker,controller \
			--set "listeners=PLAINTEXT://127.0.0.1:$((BP + i)),CONTROLLER://127.0.0.1:$((BP + 10 + i))" \
			--set controller.listener.names=CONTROLLER --set "controller.quorum.voters=$voters" ${EXTRA:-} \
			>"$DIR/node-$i.log" 2>&1 &
		PIDS+=($!)
	done
	B="127.0.0.1:$((BP + 1)),127.0.0.1:$((BP + 2)),127.0.0.1:$((BP + 3))"
	for t in "rf1 1" "rf3 3"; do
		set -- $t
		local ok=0
		for _ in $(seq 1 60); do
			if "$bin" topic create "$1" --bootstrap "$B" --partitions 3 --replication-factor "$2" \
				--config min.insync.replicas=$(($2 > 1 ? 2 : 1)) >/dev/null 2>&1; then
				ok=1 && break
			fi
			sleep 0.5
		done
		[ $ok = 1 ] || { echo "creating $1 failed; see $DIR/node-*.log" >&2; down; exit 1; }
	done
	sleep 1
}

down() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$DIR"
}
trap down EXIT

ticks() {
	local t=0
	for p in "${PIDS[@]}"; do
		read -r u s < <(cut -d' ' -f14,15 "/proc/$p/stat")
		t=$((t + u + s))
	done
	echo $t
}

# run BIN ARGS...: one bench produce, printed as "records/s p50 p99 p99.9 cpuTICKS".
run() {
	local bin=$1
	shift
	local c0 c1 out
	c0=$(ticks)
	out=$("$bin" bench produce --bootstrap "$B" --record-size 1024 --clients 4 "$@" 2>&1 | tail -n1 | awk '{print $5, $7, $8, $9}')
	c1=$(ticks)
	echo "$out cpu$((c1 - c0))"
}

# each ROUNDS FN BIN...: for every round and binary in turn, a fresh cluster, FN ROUND BIN,
# and the cluster gone again.
each() {
	local rounds=$1 fn=$2
	shift 2
	for r in $(seq 1 "$rounds"); do
		for bin in "$@"; do
			up "$bin"
			"$fn" "$r" "$bin"
			down
		done
	done
}

# ratio A B: B's records/s over A's.
ratio() { awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN { printf "%.2f", b / a }'; }

load() { cut -d' ' -f1 /proc/loadavg; }

peak_round() {
	local a b
	a=$(run "$2" --topic rf1 --acks 1 --records 300000)
	b=$(run "$2" --topic rf3 --acks all --records 300000)
	echo "round $1 $2: rf1 acks=1 [$a] rf3 acks=all [$b] ratio $(ratio "$a" "$b") load $(load)"
}

sustained_round() {
	local a b
	a=$(run "$2" --topic rf1 --acks 1 --duration 10s)
	b=$(run "$2" --topic rf3 --acks all --duration 10s)
	echo "round $1 $2 sustained: rf1 acks=1 [$a] rf3 acks=all [$b] ratio $(ratio "$a" "$b") load $(load)"
}

# The peak the cluster holds once the page cache is full of dirty pages: the first WARM
# (10 s at 300k+ records/s is 9 GB over three replicas, past the dirty thresholds)
# of writing fills it at memory speed, the measured run meets the writeback.
steady_round() {
	local w b
	w=$(run "$2" --topic rf3 --acks all --duration "${WARM:-10s}")
	b=$(run "$2" --topic rf3 --acks all --duration "${DURATION:-15s}")
	echo "round $1 $2 steady: rf3 acks=all warm-up [$w] measured [$b] dirty $(awk '/^Dirty:/ {print $2 / 1024 " MB"}' /proc/meminfo) load $(load)"
}

latency_round() {
	local a b
	for lg in ${LINGERS:-10ms 1ms}; do
		a=$(run "$2" --topic rf3 --acks all --duration "${DURATION:-5s}" --rate "$RATE" --linger "$lg")
		b=$(run "$2" --topic rf1 --acks 1 --duration "${DURATION:-5s}" --rate "$RATE" --linger "$lg")
		echo "round $1 $2 @$RATE linger $lg: rf3 acks=all [$a] rf1 acks=1 [$b] load $(load)"
	done
}

mode=${1:-}
shift || true
case $mode in
peak | sustained | steady)
	each "$1" "${mode}_round" "${@:2}"
	;;
latency)
	RATE=$1
	each "$2" latency_round "${@:3}"
	;;
*)
	sed -n 2,18p "$0"
	exit 2
	;;
esac
