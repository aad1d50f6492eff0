package chaos

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill a node when the test process dies (a timeout's panic,
// a Ctrl-C), so that no broker outlives its test and holds its ports.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
