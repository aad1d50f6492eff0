package main

import (
	"strings"
	"testing"

	"github.com/nagare-dev/nagare/internal/brokertest"
)

// TestPartitionElectLeaders: against a broker whose preferred replicas lead already,
// every election is "not needed"; an unknown partition fails the command.
func TestPartitionElectLeaders(t *testing.T) {
	b := brokertest.Start(t)
	boot := []string{"--bootstrap", b.Addr()}
	mustRun(t, "", append([]string{"topic", "create", "orders", "--partitions", "2"}, boot...)...)
	r := mustRun(t, "", append([]string{"partition", "elect-leaders"}, boot...)...)
	if got := strings.TrimSpace(r.stdout); got != "No partition needed an election." {
		t.Errorf("elect-leaders (all) printed %q", got)
	}
	r = mustRun(t, "", append([]string{"partition", "elect-leaders", "--topic", "orders"}, boot...)...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[1]), " ") != "orders 0 not needed" {
		t.Errorf("elect-leaders --topic orders:\n%s", r.stdout)
	}
	r = nagare(t, "", append([]string{"partition", "elect-leaders", "--topic", "orders", "--partition", "7"}, boot...)...)
	if r.code != exitFailure || !strings.Contains(r.stdout, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("unknown partition: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
