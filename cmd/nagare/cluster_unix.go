//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts a node of cluster up in its own process group, so that the
// terminal's Ctrl-C reaches cluster up alone, which then stops the nodes one by one.
func ownProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }
