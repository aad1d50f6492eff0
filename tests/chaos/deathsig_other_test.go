//go:build unix && !linux

package chaos

import "os/exec"

// dieWithParent does nothing here: only Linux has a parent-death signal, so a node left
// behind by a test process that was itself killed must be stopped by hand.
func dieWithParent(*exec.Cmd) {}
