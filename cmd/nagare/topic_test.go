package main

import (
	"strings"
	"testing"
)

func TestTopicLifecycle(t *testing.T) {
	boot := startKfake(t)
	b := []string{"--bootstrap", boot}
	topic := func(args ...string) []string { return append(append([]string{"topic"}, args...), b...) }

	r := mustRun(t, "", topic("create", "orders", "--partitions", "3", "--config", "retention.ms=60000")...)
	if want := `Created topic "orders": 3 partitions, replication factor 1.`; strings.TrimSpace(r.stdout) != want {
		t.Errorf("create printed %q, want %q", r.stdout, want)
	}
	wantOneLineError(t, nagare(t, "", topic("create", "orders")...), exitFailure, `topic "orders" already exists`)
	mustRun(t, "", topic("create", "orders", "--if-not-exists")...)
	mustRun(t, "", topic("create", "users", "-p", "1")...)

	// list: a table by default, JSON on request.
	r = mustRun(t, "", topic("list")...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TOPIC") ||
		strings.Join(strings.Fields(lines[1]), " ") != "orders 3 1" ||
		strings.Join(strings.Fields(lines[2]), " ") != "users 1 1" {
		t.Errorf("topic list:\n%s", r.stdout)
	}
	var listed []topicSummary
	decodeJSON(t, mustRun(t, "", topic("list", "--output", "json")...).stdout, &listed)
	if len(listed) != 2 || listed[0].Name != "orders" || listed[0].Partitions != 3 || listed[0].ID == "-" {
		t.Errorf("topic list --output json: %+v", listed)
	}

	// describe shows partitions and the configs that are not default.
	r = mustRun(t, "", topic("describe", "orders")...)
	for _, want := range []string{"Topic:", "orders", "retention.ms", "60000", "(topic)", "PARTITION", "HIGH-WATERMARK"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("describe output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "segment.bytes") {
		t.Errorf("describe shows default configs:\n%s", r.stdout)
	}

	// alter-config: set one, delete another, and see both in describe.
	r = mustRun(t, "", topic("alter-config", "orders", "--set", "cleanup.policy=compact", "--delete", "retention.ms")...)
	if !strings.Contains(r.stdout, "set cleanup.policy=compact; deleted retention.ms") {
		t.Errorf("alter-config printed %q", r.stdout)
	}
	d := describeJSON(t, topic("describe", "orders", "-o", "json")...)
	if len(d) != 1 || len(d[0].Partitions) != 3 || d[0].ReplicationFactor != 1 {
		t.Fatalf("describe --output json: %+v", d)
	}
	for _, p := range d[0].Partitions {
		if p.Leader != 0 || len(p.Replicas) != 1 || len(p.ISR) != 1 || p.HighWatermark != 0 {
			t.Errorf("partition %+v", p)
		}
	}
	if got := configMap(d[0].Configs); got["cleanup.policy"] != "compact" || got["retention.ms"] != "" {
		t.Errorf("configs after alter-config: %v", got)
	}

	// describe of a missing topic is a one-line error; with a present one,
	// the present one is still printed.
	wantOneLineError(t, nagare(t, "", topic("describe", "missing")...), exitFailure, `topic "missing" does not exist`)
	r = nagare(t, "", topic("describe", "users", "missing", "-o", "json")...)
	wantOneLineError(t, r, exitFailure, `topic "missing" does not exist`)
	var partial []topicDescription
	decodeJSON(t, r.stdout, &partial)
	if len(partial) != 1 || partial[0].Name != "users" {
		t.Errorf("describe users missing: %+v", partial)
	}

	r = mustRun(t, "", topic("delete", "orders", "users")...)
	if strings.Count(r.stdout, "Deleted topic") != 2 {
		t.Errorf("delete printed %q", r.stdout)
	}
	wantOneLineError(t, nagare(t, "", topic("delete", "orders")...), exitFailure, `topic "orders" does not exist`)
	mustRun(t, "", topic("delete", "orders", "--if-exists")...)
	r = mustRun(t, "", topic("list", "-o", "json")...)
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("topics left after delete: %s", r.stdout)
	}
}

func describeJSON(t *testing.T, args ...string) []topicDescription {
	t.Helper()
	var d []topicDescription
	decodeJSON(t, mustRun(t, "", args...).stdout, &d)
	return d
}

func configMap(entries []configEntry) map[string]string {
	m := make(map[string]string)
	for _, c := range entries {
		if c.Value != nil {
			m[c.Name] = *c.Value
		}
	}
	return m
}
