//go:build !linux

package testenv

import "syscall"

// s3ProcAttr puts versitygw in its own process group, so Close can signal
// everything it started.
func s3ProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
