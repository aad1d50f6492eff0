//go:build !linux

package main

import "errors"

// procMeter would read a local process's CPU time; only Linux has /proc.
type procMeter struct{ pid int }

func newProcMeter(int) (*procMeter, error) {
	return nil, errors.New("bench: reading a process's CPU time needs Linux's /proc")
}

func (m *procMeter) cpuSeconds() (float64, error) {
	return 0, errors.New("bench: reading a process's CPU time needs Linux's /proc")
}

// loadAverage is unknown off Linux.
func loadAverage() *float64 { return nil }
