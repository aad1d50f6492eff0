package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat. The kernel
// reports them in USER_HZ, which is 100 on every Linux architecture Go
// supports; reading sysconf(_SC_CLK_TCK) would need cgo.
const userHZ = 100

// procMeter reads a local process's CPU time from /proc/<pid>/stat, which
// sums every thread of the process.
type procMeter struct{ pid int }

func newProcMeter(pid int) (*procMeter, error) {
	m := &procMeter{pid: pid}
	if _, err := m.cpuSeconds(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *procMeter) cpuSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.pid))
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

// parseProcStat returns utime+stime in seconds from a /proc/<pid>/stat
// line. The command name (field 2) is in parentheses and may hold spaces
// and parentheses itself, so fields are counted from the last ')'.
func parseProcStat(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("bench: /proc stat line has no command name")
	}
	fields := strings.Fields(stat[i+1:])
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("bench: /proc stat line has %d fields after the command name", len(fields))
	}
	utime, err1 := strconv.ParseUint(fields[11], 10, 64)
	stime, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("bench: /proc stat CPU times: %w", err)
	}
	return float64(utime+stime) / userHZ, nil
}

// loadAverage returns the one-minute load average, or nil if unknown. It
// goes with every run in the report, since the figures depend on it.
func loadAverage() *float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	first, _, _ := strings.Cut(string(b), " ")
	v, err := strconv.ParseFloat(first, 64)
	if err != nil {
		return nil
	}
	return &v
}
