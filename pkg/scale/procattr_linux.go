package scale

import "syscall"

// childAttr makes the kernel kill the gateway when the harness dies, so
// that no measured gateway outlives a killed harness.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
