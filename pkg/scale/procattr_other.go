//go:build !linux

package scale

import "syscall"

// childAttr: only Linux can tie the child's life to the harness's.
func childAttr() *syscall.SysProcAttr { return nil }
