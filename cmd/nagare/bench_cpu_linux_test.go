package main

import (
	"os"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// A command name with a space and a parenthesis; utime 250, stime 50.
	line := "4242 (my (app) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 9 0 100 1000 10"
	got, err := parseProcStat(line)
	if err != nil || got != 3 {
		t.Errorf("parseProcStat = %v, %v; want 3s", got, err)
	}
	if _, err := parseProcStat("4242 (x) S 1 2"); err == nil {
		t.Errorf("a short stat line parsed")
	}
	m, err := newProcMeter(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := m.cpuSeconds(); err != nil || v < 0 {
		t.Errorf("own CPU time: %v, %v", v, err)
	}
	if loadAverage() == nil {
		t.Errorf("no load average from /proc/loadavg")
	}
}
